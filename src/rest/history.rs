//! history for an instance, a type and the whole system (http.html#history), newest first,
//! with `_count`, `_since`, `_at` and cursor paging that new writes do not disturb.

use actix_web::{web, HttpRequest, HttpResponse};

use super::bundle::{bundle, history_entry, Links};
use super::error::RestError;
use super::negotiate::{bad_param, response_format};
use super::query::{encode, QueryParams};
use super::respond::value;
use super::{address, blocking, resource_type, AppState};
use crate::interaction::parse_instant_range;
use crate::store::HistoryQuery;

const DEFAULT_COUNT: i64 = 50;
const MAX_COUNT: i64 = 1000;

pub async fn system(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    list(req, state, None, None).await
}

pub async fn type_level(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let rt = resource_type(&path)?;
    list(req, state, Some(rt.to_string()), None).await
}

pub async fn instance(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (rt, id) = address(&path.0, &path.1)?;
    list(req, state, Some(rt.to_string()), Some(id.to_string())).await
}

async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    res_type: Option<String>,
    res_id: Option<String>,
) -> Result<HttpResponse, RestError> {
    let q = QueryParams::from_request(&req);
    let fmt = response_format(&req, &q)?;
    let mut hq = HistoryQuery {
        res_type: res_type.clone(),
        res_id: res_id.clone(),
        limit: DEFAULT_COUNT,
        ..HistoryQuery::default()
    };
    let mut kept = Vec::new();
    for (k, v) in q.pairs() {
        match k.as_str() {
            "_count" => hq.limit = page_size(v)?,
            "_since" => hq.since = Some(since(v)?),
            "_at" => {
                hq.at = Some(
                    parse_instant_range(v)
                        .ok_or_else(|| bad_param("_at", "expected a date or dateTime"))?,
                )
            }
            "_cursor" => {
                hq.before_seq = Some(cursor(v)?);
                continue;
            }
            _ => continue,
        }
        kept.push((k.clone(), v.clone()));
    }
    let store = state.store.clone();
    let query = HistoryQuery {
        limit: hq.limit + 1,
        ..hq.clone()
    };
    let mut versions = blocking(move || {
        store.read(|tx| {
            if let (Some(t), Some(i)) = (&query.res_type, &query.res_id) {
                if tx.head(t, i)?.is_none() {
                    return Err(RestError::NotFound(format!("{t}/{i} is not known")));
                }
            }
            tx.history(&query).map_err(RestError::from)
        })
    })
    .await?;
    let more = versions.len() as i64 > hq.limit;
    versions.truncate(hq.limit as usize);
    let path = match (&res_type, &res_id) {
        (Some(t), Some(i)) => format!("{}/{t}/{i}/_history", state.base_url),
        (Some(t), None) => format!("{}/{t}/_history", state.base_url),
        _ => format!("{}/_history", state.base_url),
    };
    let self_url = link(&path, &kept);
    let next_url = match versions.last() {
        Some(last) if more => {
            let mut p = kept.clone();
            p.push(("_cursor".into(), last.seq.to_string()));
            Some(link(&path, &p))
        }
        _ => None,
    };
    let entries = versions
        .iter()
        .map(|v| history_entry(v, &state.base_url))
        .collect::<Result<Vec<_>, _>>()?;
    value(
        &bundle("history", Links { self_url, next_url }, None, entries),
        &fmt,
    )
}

/// `_count`: a positive page size, capped at [`MAX_COUNT`].
pub fn page_size(v: &str) -> Result<i64, RestError> {
    v.parse::<i64>()
        .ok()
        .filter(|c| *c > 0)
        .map(|c| c.min(MAX_COUNT))
        .ok_or_else(|| bad_param("_count", "expected a positive integer"))
}

/// `_since`: an instant, as µs.
pub fn since(v: &str) -> Result<i64, RestError> {
    parse_instant_range(v)
        .filter(|_| v.len() > 10)
        .map(|r| r.0)
        .ok_or_else(|| bad_param("_since", "expected an instant such as 2024-05-01T10:00:00Z"))
}

/// `_cursor`: a paging cursor this server wrote.
pub fn cursor(v: &str) -> Result<i64, RestError> {
    v.parse::<i64>()
        .map_err(|_| bad_param("_cursor", "not a paging cursor of this server"))
}

pub fn link(path: &str, params: &[(String, String)]) -> String {
    if params.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", encode(params))
    }
}
