//! search (search.html) by GET and by POST to `_search`, answered with a searchset Bundle.
//! The parameters the server supports so far: `_id`, `identifier`, `_count`, `_summary=count`.

use actix_web::{web, HttpRequest, HttpResponse};

use super::body::read_limited;
use super::bundle::{bundle, search_entry, Links};
use super::error::RestError;
use super::history::link;
use super::negotiate::{prefer, response_format, view};
use super::query::QueryParams;
use super::respond::value;
use super::{blocking, resource_type, AppState};
use crate::search::{compile_count, compile_page, parse_search, Access};

pub async fn search_get(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let q = QueryParams::from_request(&req);
    run(req, &path, q, state).await
}

/// `POST [type]/_search` with a form body; its parameters join the URL's.
pub async fn search_post(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
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
    run(req, &path, q, state).await
}

async fn run(
    req: HttpRequest,
    type_name: &str,
    q: QueryParams,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let rt = resource_type(type_name)?;
    let fmt = response_format(&req, &q)?;
    let count_only = q.get("_summary") == Some("count");
    let view = view(&q)?;
    let plan = parse_search(rt.as_str(), q.pairs(), prefer(&req).strict)?;
    let store = state.store.clone();
    let access = Access::Unrestricted;
    let p = plan.clone();
    let (total, mut page) = blocking(move || {
        store.read(|tx| {
            let total = tx.count(&compile_count(&p, &access))?;
            let page = if count_only || p.count == 0 {
                Vec::new()
            } else {
                tx.search(&compile_page(&p, &access))?
            };
            Ok::<_, RestError>((total, page))
        })
    })
    .await?;
    let more = page.len() as i64 > plan.count;
    page.truncate(plan.count as usize);
    let path = format!("{}/{}", state.base_url, rt);
    let mut applied = plan.applied.clone();
    for p in ["_summary", "_elements"] {
        if let Some(v) = q.get(p) {
            applied.push((p.to_string(), v.to_string()));
        }
    }
    let self_url = link(&path, &applied);
    let next_url = match page.last() {
        Some(last) if more => {
            let mut p = applied.clone();
            p.push(("_cursor".into(), last.seq.to_string()));
            Some(link(&path, &p))
        }
        _ => None,
    };
    let entries = page
        .iter()
        .map(|v| search_entry(v, &state.base_url, &view, "match"))
        .collect::<Result<Vec<_>, _>>()?;
    value(
        &bundle(
            "searchset",
            Links { self_url, next_url },
            Some(total),
            entries,
        ),
        &fmt,
    )
}
