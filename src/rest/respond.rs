//! Writing responses: a resource with its ETag, Last-Modified and Location, an
//! OperationOutcome, a Bundle. JSON asked for in full is served from the stored bytes as they
//! are, without parsing them again.

use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::RestError;
use super::negotiate::{Prefer, ResponseFormat, Return};
use crate::fhir::format::{json_bytes_to_xml, render, Format};
use crate::fhir::outcome::operation_outcome;
use crate::fhir::summary::{apply, View};
use crate::fhir::{Issue, IssueType, Severity};
use crate::store::StoredVersion;

pub fn etag(version_id: i64) -> String {
    format!("W/\"{version_id}\"")
}

/// An HTTP date (RFC 7231) from µs since the epoch.
pub fn http_date(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

/// The body of a stored resource in the asked format and view.
pub fn resource_body(
    content: &str,
    fmt: &ResponseFormat,
    view: &View,
) -> Result<Vec<u8>, RestError> {
    if view.is_full() && !fmt.pretty {
        return match fmt.format {
            Format::Json => Ok(content.as_bytes().to_vec()),
            Format::Xml => json_bytes_to_xml(content.as_bytes()).map_err(RestError::Internal),
        };
    }
    let value: Value = serde_json::from_str(content)
        .map_err(|e| RestError::Internal(format!("stored JSON does not parse: {e}")))?;
    render(&apply(&value, view), fmt.format, fmt.pretty).map_err(RestError::Internal)
}

/// A stored version as the response to a read, vread or write.
pub fn resource(
    v: &StoredVersion,
    status: StatusCode,
    fmt: &ResponseFormat,
    view: &View,
) -> Result<HttpResponse, RestError> {
    let content = v
        .content
        .as_deref()
        .ok_or_else(|| RestError::Gone(format!("{}/{} is deleted", v.res_type, v.res_id)))?;
    let body = resource_body(content, fmt, view)?;
    Ok(version_headers(HttpResponse::build(status), v)
        .content_type(fmt.format.content_type())
        .body(body))
}

fn version_headers(
    mut b: actix_web::HttpResponseBuilder,
    v: &StoredVersion,
) -> actix_web::HttpResponseBuilder {
    b.insert_header((header::ETAG, etag(v.version_id)))
        .insert_header((header::LAST_MODIFIED, http_date(v.last_updated)));
    b
}

/// The answer to create or update: Location, ETag, Last-Modified, and the body `Prefer` asks
/// for (http.html#ops).
pub fn written(
    v: &StoredVersion,
    status: StatusCode,
    base: &str,
    prefer: &Prefer,
    fmt: &ResponseFormat,
) -> Result<HttpResponse, RestError> {
    let location = format!(
        "{base}/{}/{}/_history/{}",
        v.res_type, v.res_id, v.version_id
    );
    match prefer.return_ {
        Return::Representation => {
            let mut r = resource(v, status, fmt, &View::Full)?;
            r.headers_mut().insert(
                header::LOCATION,
                header::HeaderValue::from_str(&location)
                    .map_err(|e| RestError::Internal(e.to_string()))?,
            );
            Ok(r)
        }
        Return::Minimal => Ok(version_headers(HttpResponse::build(status), v)
            .insert_header((header::LOCATION, location))
            .finish()),
        Return::OperationOutcome => {
            let issue = Issue {
                severity: Severity::Information,
                code: IssueType::Informational,
                diagnostics: format!("{}/{} is at version {}", v.res_type, v.res_id, v.version_id),
                expression: None,
            };
            let body = render(&operation_outcome(&[issue]), fmt.format, fmt.pretty)
                .map_err(RestError::Internal)?;
            Ok(version_headers(HttpResponse::build(status), v)
                .insert_header((header::LOCATION, location))
                .content_type(fmt.format.content_type())
                .body(body))
        }
    }
}

/// An informational OperationOutcome with a status.
pub fn information(
    status: StatusCode,
    message: String,
    fmt: &ResponseFormat,
) -> Result<HttpResponse, RestError> {
    let issue = Issue {
        severity: Severity::Information,
        code: IssueType::Informational,
        diagnostics: message,
        expression: None,
    };
    let body = render(&operation_outcome(&[issue]), fmt.format, fmt.pretty)
        .map_err(RestError::Internal)?;
    Ok(HttpResponse::build(status)
        .content_type(fmt.format.content_type())
        .body(body))
}

/// Any resource value (a Bundle, the CapabilityStatement) in the asked format.
pub fn value(v: &Value, fmt: &ResponseFormat) -> Result<HttpResponse, RestError> {
    let body = render(v, fmt.format, fmt.pretty).map_err(RestError::Internal)?;
    Ok(HttpResponse::Ok()
        .content_type(fmt.format.content_type())
        .body(body))
}

/// The stored JSON of a version as a Value, for Bundle entries.
pub fn parsed(v: &StoredVersion) -> Result<Option<Value>, RestError> {
    v.content
        .as_deref()
        .map(serde_json::from_str)
        .transpose()
        .map_err(|e| RestError::Internal(format!("stored JSON does not parse: {e}")))
}
