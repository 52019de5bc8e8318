//! delete (http.html#delete) by id and by search criteria.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use super::error::RestError;
use super::negotiate::{prefer, response_format, Return};
use super::query::{criteria, QueryParams};
use super::respond::{etag, information};
use super::{address, blocking, resource_type, AppState};
use crate::interaction::{self, Deleted};
use crate::search::parse_conditional;
use crate::store::Isolation;

pub async fn delete(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (rt, id) = address(&path.0, &path.1)?;
    let store = state.store.clone();
    let d = blocking(move || {
        store
            .write(Isolation::Plain, |tx| {
                interaction::delete(tx, rt.as_str(), id.as_str())
            })
            .map_err(RestError::from)
    })
    .await?;
    respond(&req, d, &format!("{}/{}", path.0, path.1))
}

pub async fn conditional_delete(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let rt = resource_type(&path)?;
    let q = QueryParams::from_request(&req);
    let plan = parse_conditional(rt.as_str(), &criteria(&q), &state.base_url)?;
    let store = state.store.clone();
    let d = blocking(move || {
        store
            .write(Isolation::Conditional, |tx| {
                interaction::conditional_delete(tx, rt.as_str(), &plan)
            })
            .map_err(RestError::from)
    })
    .await?;
    let what = d
        .tombstone
        .as_ref()
        .map(|t| format!("{}/{}", t.res_type, t.res_id))
        .unwrap_or_else(|| format!("{} matching the criteria", path.as_str()));
    respond(&req, d, &what)
}

/// 200 with an OperationOutcome (204 under `Prefer: return=minimal`); the ETag names the
/// delete version when one was written.
fn respond(req: &HttpRequest, d: Deleted, what: &str) -> Result<HttpResponse, RestError> {
    let fmt = response_format(req, &QueryParams::from_request(req))?;
    let message = match &d.tombstone {
        Some(_) => format!("deleted {what}"),
        None => format!("nothing to delete: {what} does not exist"),
    };
    let mut res = if prefer(req).return_ == Return::Minimal {
        HttpResponse::NoContent().finish()
    } else {
        information(StatusCode::OK, message, &fmt)?
    };
    if let Some(t) = &d.tombstone {
        if let Ok(v) = header::HeaderValue::from_str(&etag(t.version_id)) {
            res.headers_mut().insert(header::ETAG, v);
        }
    }
    Ok(res)
}
