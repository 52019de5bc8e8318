//! patch (http.html#patch) by id and by search criteria. The body is a JSON Patch
//! (`application/json-patch+json`) or a FHIRPath Patch Parameters resource (FHIR JSON or XML).

use actix_web::http::header;
use actix_web::HttpResponse;
use actix_web::{web, HttpRequest};

use super::body::{parse_resource, read_limited};
use super::error::RestError;
use super::negotiate::{prefer, request_format, response_format};
use super::query::{criteria, QueryParams};
use super::update::{if_match, respond};
use super::{address, blocking, resource_type, AppState};
use crate::fhir::json::parse_strict;
use crate::interaction;
use crate::patch::Patch;
use crate::search::parse_conditional;
use crate::store::Isolation;

pub const JSON_PATCH: &str = "application/json-patch+json";

pub async fn patch(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (rt, id) = address(&path.0, &path.1)?;
    let fmt = response_format(&req, &QueryParams::from_request(&req))?;
    let prefer = prefer(&req);
    let if_match = if_match(&req)?;
    let doc = read_patch(&req, payload, state.body_limit).await?;
    let store = state.store.clone();
    let policy = state.profiles.clone();
    let w = blocking(move || {
        store
            .write(Isolation::Plain, |tx| {
                interaction::patch(tx, rt.as_str(), id.as_str(), &doc, if_match, &policy)
            })
            .map_err(RestError::from)
    })
    .await?;
    respond(&w, &state, &prefer, &fmt)
}

pub async fn conditional_patch(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let rt = resource_type(&path)?;
    let q = QueryParams::from_request(&req);
    let fmt = response_format(&req, &q)?;
    let prefer = prefer(&req);
    let plan = parse_conditional(rt.as_str(), &criteria(&q), &state.base_url)?;
    let doc = read_patch(&req, payload, state.body_limit).await?;
    let store = state.store.clone();
    let policy = state.profiles.clone();
    let w = blocking(move || {
        store
            .write(Isolation::Conditional, |tx| {
                interaction::conditional_patch(tx, rt.as_str(), &plan, &doc, &policy)
            })
            .map_err(RestError::from)
    })
    .await?;
    respond(&w, &state, &prefer, &fmt)
}

async fn read_patch(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Patch, RestError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let is_json_patch = ct.split(';').next().is_some_and(|m| m.trim() == JSON_PATCH);
    let format = if is_json_patch {
        None
    } else {
        Some(request_format(req)?)
    };
    let bytes = read_limited(req, payload, limit).await?;
    match format {
        None => {
            let doc = parse_strict(&bytes).map_err(RestError::BadValue)?;
            Ok(Patch::json(&doc).map_err(interaction::InteractionError::from)?)
        }
        Some(f) => {
            let params = parse_resource(&bytes, f, "Parameters")?;
            Ok(Patch::fhirpath(&params).map_err(interaction::InteractionError::from)?)
        }
    }
}
