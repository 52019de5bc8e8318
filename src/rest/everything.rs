//! `GET Patient/[id]/$everything` and `GET Patient/$everything`
//! (patient-operation-everything.html): a searchset of the patient's record, a page at a
//! time, with `start`, `end`, `_since`, `_type`, `_count` and a `_cursor` next link.

use actix_web::{web, HttpRequest, HttpResponse};

use super::bundle::{bundle, search_entry, searchset_json, Links};
use super::error::RestError;
use super::history::{cursor, link, page_size, since};
use super::negotiate::{bad_param, prefer, response_format};
use super::query::QueryParams;
use super::respond::value;
use super::{address, blocking, resource_type, AppState};
use crate::fhir::format::Format;
use crate::fhir::summary::View;
use crate::fhir::ResourceType;
use crate::interaction::parse_instant_range;
use crate::search::{everything, Access, Everything, Record, DEFAULT_COUNT};

pub async fn instance(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (rt, id) = address(&path.0, &path.1)?;
    only_patient(&rt)?;
    respond(req, Some(id.to_string()), state).await
}

pub async fn type_level(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    only_patient(&resource_type(&path)?)?;
    respond(req, None, state).await
}

fn only_patient(rt: &ResourceType) -> Result<(), RestError> {
    if rt.as_str() == "Patient" {
        Ok(())
    } else {
        Err(RestError::NotFound(format!(
            "$everything is offered on Patient, not {rt}"
        )))
    }
}

async fn respond(
    req: HttpRequest,
    patient: Option<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let q = QueryParams::from_request(&req);
    let fmt = response_format(&req, &q)?;
    let (mut e, applied) = parse(&q, prefer(&req).strict)?;
    e.patient = patient.clone();
    let store = state.store.clone();
    let query = e.clone();
    let record = blocking(move || Ok(everything(&store, &query, &Access::Unrestricted)?)).await?;
    let id = patient.as_deref().unwrap_or_default();
    let page = match record {
        Record::Page(page) => page,
        Record::Unknown => return Err(RestError::NotFound(format!("Patient/{id} is not known"))),
        Record::Deleted => return Err(RestError::Gone(format!("Patient/{id} has been deleted"))),
    };

    let path = match &patient {
        Some(id) => format!("{}/Patient/{id}/$everything", state.base_url),
        None => format!("{}/Patient/$everything", state.base_url),
    };
    let next_url = page.next.map(|k| {
        let mut p = applied.clone();
        p.push(("_cursor".into(), k.to_string()));
        link(&path, &p)
    });
    let mut self_params = applied;
    if let Some(after) = e.after {
        self_params.push(("_cursor".into(), after.to_string()));
    }
    let links = Links {
        self_url: link(&path, &self_params),
        next_url,
    };
    // A first page that holds everything is its own total.
    let total = (e.after.is_none() && page.next.is_none()).then_some(page.resources.len() as i64);
    if fmt.format == Format::Json && !fmt.pretty {
        let tagged = page.resources.iter().map(|v| (v, "match"));
        let body = searchset_json(links, total, tagged, &state.base_url)?;
        return Ok(HttpResponse::Ok()
            .content_type(fmt.format.content_type())
            .body(body));
    }
    let entries = page
        .resources
        .iter()
        .map(|v| search_entry(v, &state.base_url, &View::Full, "match"))
        .collect::<Result<Vec<_>, _>>()?;
    value(&bundle("searchset", links, total, entries), &fmt)
}

/// The operation's parameters, and those that took effect (for the links).
fn parse(q: &QueryParams, strict: bool) -> Result<(Everything, Vec<(String, String)>), RestError> {
    let mut e = Everything {
        count: DEFAULT_COUNT,
        ..Everything::default()
    };
    let mut applied = Vec::new();
    for (k, v) in q.pairs() {
        let date = |why: &str| parse_instant_range(v).ok_or_else(|| bad_param(k, why));
        match k.as_str() {
            "start" => e.start = Some(date("expected a date such as 2024-05-01")?.0),
            "end" => e.end = Some(date("expected a date such as 2024-05-01")?.1),
            "_since" => e.since = Some(since(v)?),
            "_type" => {
                for t in v.split(',').filter(|t| !t.is_empty()) {
                    let rt = ResourceType::parse(t).ok_or_else(|| {
                        bad_param("_type", &format!("'{t}' is not a resource type"))
                    })?;
                    e.types.push(rt.as_str().to_string());
                }
            }
            "_count" => e.count = page_size(v)?,
            "_cursor" => {
                e.after = Some(cursor(v)?);
                continue;
            }
            "_format" | "_pretty" => continue,
            other if strict => return Err(bad_param(other, "is not a parameter of $everything")),
            _ => continue,
        }
        applied.push((k.clone(), v.clone()));
    }
    Ok((e, applied))
}
