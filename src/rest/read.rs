//! read and vread (http.html#read, #vread), with HEAD and conditional read
//! (If-None-Match, If-Modified-Since → 304).

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::RestError;
use super::negotiate::{response_format, view};
use super::query::QueryParams;
use super::respond::{etag, resource};
use super::{address, blocking, AppState};
use crate::fhir::VersionId;
use crate::store::StoredVersion;

pub async fn read(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (rt, id) = address(&path.0, &path.1)?;
    let q = QueryParams::from_request(&req);
    let fmt = response_format(&req, &q)?;
    let view = view(&q)?;
    let store = state.store.clone();
    let found = blocking(move || {
        store.read(|tx| {
            tx.version(rt.as_str(), id.as_str(), None)
                .map_err(RestError::from)
        })
    })
    .await?;
    let v = present(found, &path.0, &path.1)?;
    let h = req.headers();
    let text = |name| h.get(name).and_then(|v| v.to_str().ok());
    if not_modified(
        text(header::IF_NONE_MATCH),
        text(header::IF_MODIFIED_SINCE),
        &v,
    ) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag(v.version_id)))
            .finish());
    }
    resource(&v, StatusCode::OK, &fmt, &view)
}

pub async fn vread(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (rt, id) = address(&path.0, &path.1)?;
    let vid = VersionId::parse(&path.2)
        .ok_or_else(|| RestError::NotFound(format!("there is no version '{}'", path.2)))?;
    let q = QueryParams::from_request(&req);
    let fmt = response_format(&req, &q)?;
    let view = view(&q)?;
    let store = state.store.clone();
    let found = blocking(move || {
        store.read(|tx| {
            tx.version(rt.as_str(), id.as_str(), Some(vid.0))
                .map_err(RestError::from)
        })
    })
    .await?;
    let v = present(found, &path.0, &format!("{}/_history/{}", path.1, path.2))?;
    resource(&v, StatusCode::OK, &fmt, &view)
}

/// 404 for what never existed, 410 for a deleted resource or a delete version.
fn present(found: Option<StoredVersion>, rt: &str, id: &str) -> Result<StoredVersion, RestError> {
    match found {
        None => Err(RestError::NotFound(format!("{rt}/{id} is not known"))),
        Some(v) if v.content.is_none() => {
            Err(RestError::Gone(format!("{rt}/{id} has been deleted")))
        }
        Some(v) => Ok(v),
    }
}

/// If-None-Match (an ETag or `*`) or If-Modified-Since say the client's copy is current.
pub fn not_modified(
    if_none_match: Option<&str>,
    if_modified_since: Option<&str>,
    v: &StoredVersion,
) -> bool {
    if let Some(inm) = if_none_match {
        let current = v.version_id.to_string();
        return inm.split(',').any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/").trim_matches('"') == current
        });
    }
    if let Some(ims) = if_modified_since {
        if let Ok(since) = chrono::DateTime::parse_from_rfc2822(ims) {
            // HTTP dates have whole seconds.
            return v.last_updated / 1_000_000 <= since.timestamp();
        }
    }
    false
}
