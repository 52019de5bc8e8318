//! update (http.html#update): by id (update-as-create when the id is new, If-Match for
//! version-aware updates) and conditional update by search criteria.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::body::read_resource;
use super::error::RestError;
use super::negotiate::{prefer, response_format};
use super::query::{criteria, QueryParams};
use super::respond::written;
use super::{address, blocking, resource_type, AppState};
use crate::fhir::{Issue, IssueType, VersionId};
use crate::interaction::{self, Incoming, Written};
use crate::search::parse_conditional;
use crate::store::Isolation;

pub async fn update(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (rt, id) = address(&path.0, &path.1)?;
    let fmt = response_format(&req, &QueryParams::from_request(&req))?;
    let prefer = prefer(&req);
    let if_match = if_match(&req)?;
    let resource = read_resource(&req, payload, state.body_limit, rt.as_str()).await?;
    state
        .profiles
        .enforce(&resource)
        .map_err(RestError::Unprocessable)?;
    match resource.get("id").and_then(Value::as_str) {
        Some(body_id) if body_id == id.as_str() => {}
        Some(body_id) => {
            return Err(RestError::BadValue(
                Issue::error(
                    IssueType::Invalid,
                    format!("the body's id '{body_id}' does not match the URL's id '{id}'"),
                )
                .at(format!("{rt}.id")),
            ))
        }
        None => {
            return Err(RestError::BadValue(
                Issue::error(
                    IssueType::Required,
                    "an update needs the resource's id in the body",
                )
                .at(format!("{rt}.id")),
            ))
        }
    }
    let store = state.store.clone();
    let w = blocking(move || {
        let incoming = Incoming::new(rt.as_str(), resource);
        store
            .write(Isolation::Plain, |tx| {
                interaction::update(tx, rt.as_str(), id.as_str(), &incoming, if_match)
            })
            .map_err(RestError::from)
    })
    .await?;
    respond(&w, &state, &prefer, &fmt)
}

pub async fn conditional_update(
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
    let resource = read_resource(&req, payload, state.body_limit, rt.as_str()).await?;
    state
        .profiles
        .enforce(&resource)
        .map_err(RestError::Unprocessable)?;
    let store = state.store.clone();
    let w = blocking(move || {
        let incoming = Incoming::new(rt.as_str(), resource);
        store
            .write(Isolation::Conditional, |tx| {
                interaction::conditional_update(tx, rt.as_str(), &plan, &incoming)
            })
            .map_err(RestError::from)
    })
    .await?;
    respond(&w, &state, &prefer, &fmt)
}

pub fn respond(
    w: &Written,
    state: &AppState,
    prefer: &super::negotiate::Prefer,
    fmt: &super::negotiate::ResponseFormat,
) -> Result<HttpResponse, RestError> {
    let status = if w.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    written(&w.version, status, &state.base_url, prefer, fmt)
}

/// `If-Match: W/"3"` as version 3.
pub fn if_match(req: &HttpRequest) -> Result<Option<i64>, RestError> {
    req.headers()
        .get(header::IF_MATCH)
        .map(|h| parse_if_match(h.to_str().unwrap_or("")))
        .transpose()
}

/// An If-Match ETag (`W/"3"`) as a version number.
pub fn parse_if_match(raw: &str) -> Result<i64, RestError> {
    let v = raw.trim().trim_start_matches("W/").trim_matches('"');
    VersionId::parse(v).map(|v| v.0).ok_or_else(|| {
        RestError::BadRequest(format!(
            "If-Match '{raw}' is not a version ETag such as W/\"3\""
        ))
    })
}
