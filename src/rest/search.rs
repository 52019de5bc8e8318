//! search (search.html) by GET and by POST to `_search`, and compartment search
//! (`Patient/[id]/[type]`), answered with a searchset Bundle: matches, then `_include`d and
//! `_revinclude`d resources with `search.mode = include`, a total and paging links.

use actix_web::{web, HttpRequest, HttpResponse};

use super::body::read_limited;
use super::bundle::{bundle, search_entry, searchset_json, Links};
use super::error::RestError;
use super::history::link;
use super::negotiate::{prefer, response_format, view};
use super::query::QueryParams;
use super::respond::value;
use super::{address, blocking, resource_type, AppState};
use crate::fhir::format::Format;
use crate::fhir::summary::View;
use crate::fhir::ResourceType;
use crate::search::{parse_search, run, Access, NextPage, SearchPlan, SearchResult, SYSTEM};
use serde_json::Value;

pub async fn search_get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let rt = resource_type(&path)?;
    let q = QueryParams::from_request(&req);
    respond(req, Some(rt), None, q, state).await
}

/// `POST [type]/_search` with a form body; its parameters join the URL's.
pub async fn search_post(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let rt = resource_type(&path)?;
    let ct = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(RestError::UnsupportedMediaType(format!(
            "POST _search takes application/x-www-form-urlencoded, not '{ct}'"
        )));
    }
    let body = read_limited(&req, payload, state.body_limit).await?;
    let mut q = QueryParams::from_request(&req);
    q.0.extend(QueryParams::parse(&body).0);
    respond(req, Some(rt), None, q, state).await
}

/// `GET [base]?_type=…`: a search across types with the parameters of every resource.
pub async fn search_system(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let q = QueryParams::from_request(&req);
    respond(req, None, None, q, state).await
}

/// `GET Patient/[id]/[type]`: a search within one patient's compartment.
pub async fn compartment(
    req: HttpRequest,
    path: web::Path<(String, String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (ct, id) = address(&path.0, &path.1)?;
    if ct.as_str() != "Patient" {
        return Err(RestError::NotFound(format!(
            "{ct} compartments are not supported; Patient ones are"
        )));
    }
    let rt = resource_type(&path.2)?;
    let q = QueryParams::from_request(&req);
    respond(req, Some(rt), Some(id.to_string()), q, state).await
}

async fn respond(
    req: HttpRequest,
    rt: Option<ResourceType>,
    compartment: Option<String>,
    q: QueryParams,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let fmt = response_format(&req, &q)?;
    let count_only = q.get("_summary") == Some("count");
    let view = view(&q)?;
    let type_name = rt.as_ref().map_or(SYSTEM, ResourceType::as_str);
    let mut plan = parse_search(type_name, q.pairs(), prefer(&req).strict, &state.base_url)?;
    plan.compartment = compartment.clone();
    let store = state.store.clone();
    let p = plan.clone();
    let result = blocking(move || Ok(run(&store, &p, &Access::Unrestricted, count_only)?)).await?;

    let path = match (&compartment, &rt) {
        (Some(id), Some(rt)) => format!("{}/Patient/{id}/{rt}", state.base_url),
        (_, Some(rt)) => format!("{}/{rt}", state.base_url),
        (_, None) => state.base_url.clone(),
    };
    let links = links(&plan, &q, result.next.clone(), &path);
    let tagged = result
        .matches
        .iter()
        .map(|v| (v, "match"))
        .chain(result.included.iter().map(|v| (v, "include")));
    if fmt.format == Format::Json && view.is_full() && !fmt.pretty {
        // The common case: splice the stored JSON of each entry in as it is.
        let body = searchset_json(links, result.total, tagged, &state.base_url)?;
        return Ok(HttpResponse::Ok()
            .content_type(fmt.format.content_type())
            .body(body));
    }
    value(&searchset(links, &result, &state.base_url, &view)?, &fmt)
}

/// A searchset Bundle as a value.
pub fn searchset(
    links: Links,
    result: &SearchResult,
    base: &str,
    view: &View,
) -> Result<Value, RestError> {
    let entries = result
        .matches
        .iter()
        .map(|v| search_entry(v, base, view, "match"))
        .chain(
            result
                .included
                .iter()
                .map(|v| search_entry(v, base, view, "include")),
        )
        .collect::<Result<Vec<_>, _>>()?;
    Ok(bundle("searchset", links, result.total, entries))
}

/// A searchset's self link (the parameters that took effect) and next link.
pub fn links(plan: &SearchPlan, q: &QueryParams, next: Option<NextPage>, path: &str) -> Links {
    let mut applied = plan.applied.clone();
    for p in ["_summary", "_elements"] {
        if let Some(v) = q.get(p) {
            applied.push((p.to_string(), v.to_string()));
        }
    }
    let mut self_params = applied.clone();
    if let Some((id, offset)) = &plan.snapshot {
        self_params.push(("_snapshot".into(), id.clone()));
        self_params.push(("_offset".into(), offset.to_string()));
    }
    let self_url = link(path, &self_params);
    let next_url = next.map(|n| {
        let mut p = applied;
        match n {
            NextPage::After(k) => p.push(("_cursor".into(), k.to_string())),
            NextPage::Snapshot(id, offset) => {
                p.push(("_snapshot".into(), id));
                p.push(("_offset".into(), offset.to_string()));
            }
        }
        link(path, &p)
    });
    Links { self_url, next_url }
}
