//! create (http.html#create) and conditional create (If-None-Exist).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::body::read_resource;
use super::error::RestError;
use super::negotiate::{prefer, response_format};
use super::query::QueryParams;
use super::respond::written;
use super::{blocking, resource_type, AppState};
use crate::interaction::{self, Created, Incoming};
use crate::search::parse_conditional;
use crate::store::Isolation;

pub async fn create(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let rt = resource_type(&path)?;
    let fmt = response_format(&req, &QueryParams::from_request(&req))?;
    let prefer = prefer(&req);
    let if_none_exist = match req.headers().get("If-None-Exist") {
        Some(h) => {
            let raw = h
                .to_str()
                .map_err(|_| RestError::BadRequest("If-None-Exist is not text".into()))?;
            // The header holds the query part of a search URL, with or without `Type?`.
            let query = raw.split_once('?').map_or(raw, |(_, q)| q);
            Some(parse_conditional(
                rt.as_str(),
                QueryParams::parse(query.as_bytes()).pairs(),
                &state.base_url,
            )?)
        }
        None => None,
    };
    let resource = read_resource(&req, payload, state.body_limit, rt.as_str()).await?;
    state
        .profiles
        .enforce(&resource)
        .map_err(RestError::Unprocessable)?;
    let store = state.store.clone();
    let isolation = if if_none_exist.is_some() {
        Isolation::Conditional
    } else {
        Isolation::Plain
    };
    let created = blocking(move || {
        let incoming = Incoming::new(rt.as_str(), resource);
        store
            .write(isolation, |tx| {
                interaction::create(tx, rt.as_str(), &incoming, if_none_exist.as_ref())
            })
            .map_err(RestError::from)
    })
    .await?;
    match created {
        Created::New(w) => written(
            &w.version,
            StatusCode::CREATED,
            &state.base_url,
            &prefer,
            &fmt,
        ),
        Created::Existing(v) => written(&v, StatusCode::OK, &state.base_url, &prefer, &fmt),
    }
}
