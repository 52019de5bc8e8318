//! capabilities (http.html#capabilities): `GET /metadata` serves capability-statement.json,
//! the declaration a test holds to what the routes really do.

use std::sync::OnceLock;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use super::error::RestError;
use super::negotiate::response_format;
use super::query::QueryParams;
use super::respond::value;
use super::AppState;

const STATEMENT: &str = include_str!("../../capability-statement.json");

/// The CapabilityStatement as shipped.
pub fn capability_statement() -> &'static Value {
    static CS: OnceLock<Value> = OnceLock::new();
    CS.get_or_init(|| {
        serde_json::from_str(STATEMENT).expect("capability-statement.json is valid JSON")
    })
}

pub async fn metadata(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let fmt = response_format(&req, &QueryParams::from_request(&req))?;
    let mut cs = capability_statement().clone();
    cs["implementation"] = json!({
        "description": "Carebridge FHIR R4 server",
        "url": state.base_url,
    });
    cs["software"] = json!({"name": "Carebridge", "version": env!("CARGO_PKG_VERSION")});
    value(&cs, &fmt)
}
