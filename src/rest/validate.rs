//! `$validate` (resource-operation-validate.html): `POST [type]/$validate` with a resource
//! (or a Parameters holding `resource` and `profile`), and `[type]/[id]/$validate` for the
//! stored resource. The answer is 200 with an OperationOutcome of every issue found, against
//! R4 and against the profile asked for, or else the profiles the resource claims and its
//! type's default; a resource that cannot be read at all is a 400.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::body::read_limited;
use super::error::RestError;
use super::negotiate::{request_format, response_format};
use super::query::QueryParams;
use super::respond::information;
use super::{address, blocking, resource_type, AppState};
use crate::fhir::format::{render, xml_to_json_bytes, Format};
use crate::fhir::json::parse_strict;
use crate::fhir::outcome::operation_outcome;
use crate::fhir::validate::validate_resource;
use crate::fhir::{Issue, IssueType};
use crate::profile::Profiles;

pub async fn type_level(
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let rt = resource_type(&path)?;
    let body = read_limited(&req, payload, state.body_limit).await?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::BadRequest(
            "$validate needs a resource in the body".into(),
        ));
    }
    let (resource, profile) = input(&req, &body, rt.as_str())?;
    respond(&req, &state, rt.as_str(), &resource, profile)
}

pub async fn instance(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let (rt, id) = address(&path.0, &path.1)?;
    let body = read_limited(&req, payload, state.body_limit).await?;
    if !body.iter().all(u8::is_ascii_whitespace) {
        let (resource, profile) = input(&req, &body, rt.as_str())?;
        return respond(&req, &state, rt.as_str(), &resource, profile);
    }
    let store = state.store.clone();
    let (t, i) = (rt.to_string(), id.to_string());
    let found = blocking(move || Ok(store.read(|tx| tx.version(&t, &i, None))?)).await?;
    let stored = match found {
        None => return Err(RestError::NotFound(format!("{rt}/{id} is not known"))),
        Some(v) => v
            .content
            .ok_or_else(|| RestError::Gone(format!("{rt}/{id} has been deleted")))?,
    };
    let resource: Value =
        serde_json::from_str(&stored).map_err(|e| RestError::Internal(e.to_string()))?;
    let profile = QueryParams::from_request(&req)
        .get("profile")
        .map(str::to_string);
    respond(&req, &state, rt.as_str(), &resource, profile)
}

/// The resource to check and the profile asked for, from the body and the query.
fn input(req: &HttpRequest, body: &[u8], rt: &str) -> Result<(Value, Option<String>), RestError> {
    let json = match request_format(req)? {
        Format::Json => body.to_vec(),
        Format::Xml => xml_to_json_bytes(body).map_err(|e| {
            RestError::BadValue(Issue::error(
                IssueType::Structure,
                format!("the XML body cannot be read: {e}"),
            ))
        })?,
    };
    let v = parse_strict(&json).map_err(RestError::BadValue)?;
    let mut profile = QueryParams::from_request(req)
        .get("profile")
        .map(str::to_string);
    if v["resourceType"] == "Parameters" && rt != "Parameters" {
        let params = v["parameter"].as_array().map_or(&[][..], Vec::as_slice);
        let named = |n: &str| params.iter().find(|p| p["name"] == n);
        if let Some(p) = named("profile") {
            profile = ["valueUri", "valueCanonical", "valueString"]
                .iter()
                .find_map(|k| p[*k].as_str())
                .map(str::to_string);
        }
        let resource = named("resource")
            .and_then(|p| p.get("resource"))
            .cloned()
            .ok_or_else(|| RestError::BadRequest("the Parameters hold no 'resource'".into()))?;
        return Ok((resource, profile));
    }
    Ok((v, profile))
}

fn respond(
    req: &HttpRequest,
    state: &AppState,
    rt: &str,
    resource: &Value,
    profile: Option<String>,
) -> Result<HttpResponse, RestError> {
    let fmt = response_format(req, &QueryParams::from_request(req))?;
    let issues = check(state, rt, resource, profile.as_deref())?;
    if issues.is_empty() {
        return information(StatusCode::OK, "no issues found".into(), &fmt);
    }
    let body =
        render(&operation_outcome(&issues), fmt.format, fmt.pretty).map_err(RestError::Internal)?;
    Ok(HttpResponse::Ok()
        .content_type(fmt.format.content_type())
        .body(body))
}

/// Every issue: the type, R4's rules, then the profiles.
fn check(
    state: &AppState,
    rt: &str,
    resource: &Value,
    profile: Option<&str>,
) -> Result<Vec<Issue>, RestError> {
    let body_type = resource["resourceType"].as_str().unwrap_or_default();
    if body_type != rt {
        return Ok(vec![Issue::error(
            IssueType::Invalid,
            format!("the resource is a {body_type} but the URL names {rt}"),
        )
        .at("resourceType")]);
    }
    let mut issues = validate_resource(resource);
    if issues.is_empty() {
        let bytes = serde_json::to_vec(resource).map_err(|e| RestError::Internal(e.to_string()))?;
        if let Err(e) = fhir_model::check_json(&bytes) {
            issues.push(Issue::error(
                IssueType::Structure,
                format!("the resource does not fit the R4 model: {e}"),
            ));
        }
    }
    let profiles = Profiles::builtin().map_err(RestError::Internal)?;
    let urls: Vec<String> = match profile {
        Some(p) => vec![p.to_string()],
        None => {
            let mut claimed: Vec<String> = resource["meta"]["profile"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect();
            claimed.extend(state.profiles.defaults.get(rt).cloned());
            claimed
        }
    };
    for url in urls {
        issues.extend(profiles.check(resource, &url));
    }
    Ok(issues)
}
