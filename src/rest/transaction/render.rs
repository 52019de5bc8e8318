//! The transaction-response and batch-response Bundles: one entry per request entry, in the
//! same order, with status, location, etag and lastModified, and the resource when asked
//! for. Stored JSON is spliced in as it is, as searchsets are.

use actix_web::http::StatusCode;
use serde_json::{json, Map, Value};

use super::super::error::RestError;
use super::super::negotiate::{Prefer, Return};
use super::super::respond::etag;
use super::execute::Outcome;
use crate::fhir::outcome::operation_outcome;
use crate::fhir::{Issue, IssueType, Severity};
use crate::interaction::{format_instant, now_micros};

fn status_line(s: StatusCode) -> String {
    format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or(""))
}

pub fn response_bundle(
    kind: &str,
    items: &[Result<Outcome, RestError>],
    base: &str,
    prefer: Prefer,
) -> Result<Vec<u8>, RestError> {
    let head = json!({
        "resourceType": "Bundle",
        "id": uuid::Uuid::new_v4().to_string(),
        "meta": {"lastUpdated": format_instant(now_micros())},
        "type": kind,
    });
    let ser = |v: &Value| serde_json::to_vec(v).map_err(|e| RestError::Internal(e.to_string()));
    let mut out = ser(&head)?;
    if items.is_empty() {
        return Ok(out);
    }
    out.pop();
    out.extend_from_slice(b",\"entry\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        let mut response = Map::new();
        match item {
            Ok(o) => {
                response.insert("status".into(), json!(status_line(o.status)));
                let mut fields = Vec::new();
                if let Some(v) = &o.version {
                    fields.push((
                        "fullUrl",
                        ser(&json!(format!("{base}/{}/{}", v.res_type, v.res_id)))?,
                    ));
                    let wrote = !o.read;
                    let wanted = o.read || prefer.return_ == Return::Representation;
                    if let Some(content) = v.content.as_deref().filter(|_| wanted) {
                        fields.push(("resource", content.as_bytes().to_vec()));
                    }
                    if wrote {
                        response.insert(
                            "location".into(),
                            json!(format!(
                                "{}/{}/_history/{}",
                                v.res_type, v.res_id, v.version_id
                            )),
                        );
                    }
                    response.insert("etag".into(), json!(etag(v.version_id)));
                    response.insert("lastModified".into(), json!(format_instant(v.last_updated)));
                }
                if let Some(b) = &o.bundle {
                    fields.push(("resource", ser(b)?));
                }
                if prefer.return_ == Return::OperationOutcome && !o.read {
                    let issue = Issue {
                        severity: Severity::Information,
                        code: IssueType::Informational,
                        diagnostics: status_line(o.status),
                        expression: None,
                    };
                    response.insert("outcome".into(), operation_outcome(&[issue]));
                }
                for (k, bytes) in fields {
                    out.extend_from_slice(format!("\"{k}\":").as_bytes());
                    out.extend_from_slice(&bytes);
                    out.push(b',');
                }
            }
            Err(e) => {
                let (status, issues) = e.outcome();
                response.insert("status".into(), json!(status_line(status)));
                response.insert("outcome".into(), operation_outcome(&issues));
            }
        }
        out.extend_from_slice(b"\"response\":");
        out.extend_from_slice(&ser(&Value::Object(response))?);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}
