//! Reading a request body into a checked resource: size limit, format, JSON syntax, the R4
//! structural pass and fhirbolt's parse. Nothing reaches storage unless all of them pass.

use actix_web::{web, HttpRequest};
use futures_util::StreamExt;
use serde_json::Value;

use super::error::RestError;
use super::negotiate::request_format;
use crate::fhir::format::{xml_to_json_bytes, Format};
use crate::fhir::json::parse_strict;
use crate::fhir::validate::validate_resource;
use crate::fhir::{Issue, IssueType};

/// Reads the whole body, refusing more than `limit` bytes with 413.
pub async fn read_limited(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, RestError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(RestError::PayloadTooLarge(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| RestError::BadRequest(format!("reading the body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(RestError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Reads and checks a resource body. `expected_type` is the type the URL names.
pub async fn read_resource(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    expected_type: &str,
) -> Result<Value, RestError> {
    let format = request_format(req)?;
    let bytes = read_limited(req, payload, limit).await?;
    parse_resource(&bytes, format, expected_type)
}

/// Parses and checks a resource in either format.
pub fn parse_resource(
    bytes: &[u8],
    format: Format,
    expected_type: &str,
) -> Result<Value, RestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RestError::BadRequest("the request body is empty".into()));
    }
    let json = match format {
        Format::Json => std::borrow::Cow::Borrowed(bytes),
        Format::Xml => std::borrow::Cow::Owned(xml_to_json_bytes(bytes).map_err(|e| {
            RestError::BadValue(Issue::error(
                IssueType::Structure,
                format!("the XML body is not a valid R4 resource: {e}"),
            ))
        })?),
    };
    let value = parse_strict(&json).map_err(RestError::BadValue)?;
    let rt = value.get("resourceType").and_then(Value::as_str);
    if rt.is_some_and(|rt| rt != expected_type) {
        return Err(RestError::BadValue(
            Issue::error(
                IssueType::Invalid,
                format!(
                    "the body is a {} but the URL names {expected_type}",
                    rt.unwrap_or_default()
                ),
            )
            .at("resourceType"),
        ));
    }
    // The validator refuses whatever fhirbolt's strict parse refuses (`fhir::model_agreement`
    // keeps it so), so a JSON body is not parsed by fhirbolt as well; an XML one was, on its
    // way to JSON.
    let issues = validate_resource(&value);
    if !issues.is_empty() {
        return Err(RestError::Invalid(issues));
    }
    Ok(value)
}
