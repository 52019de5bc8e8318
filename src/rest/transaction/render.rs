//! The transaction-response and batch-response Bundles: one entry per request entry, in the
//! same order, with status, location, etag and lastModified, and the resource when asked
//! for. Stored JSON is spliced in as it is, as searchsets are.

use actix_web::http::StatusCode;
use serde_json::{json, Value};

use super::super::error::RestError;
use super::super::negotiate::{Prefer, Return};
use super::super::respond::etag;
use super::execute::Outcome;
use crate::fhir::outcome::operation_outcome;
use crate::fhir::{Issue, IssueType, Severity};
use crate::interaction::{format_instant, now_micros};

/// Writes the members of one JSON object, a comma before each but the first.
#[derive(Default)]
struct Fields {
    any: bool,
}

impl Fields {
    fn key(&mut self, out: &mut Vec<u8>, key: &str) {
        if self.any {
            out.push(b',');
        }
        self.any = true;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
    }

    fn raw(&mut self, out: &mut Vec<u8>, key: &str, json: &[u8]) {
        self.key(out, key);
        out.extend_from_slice(json);
    }

    fn string(&mut self, out: &mut Vec<u8>, key: &str, value: &str) {
        self.key(out, key);
        // Escaping into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, value);
    }
}

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
    // Each entry is written straight into the body: a 100-entry response built as maps of
    // JSON values cost 5% of a transaction's instructions (callgrind).
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'{');
        let mut response = Fields::default();
        match item {
            Ok(o) => {
                let mut entry = Fields::default();
                if let Some(v) = &o.version {
                    entry.string(
                        &mut out,
                        "fullUrl",
                        &format!("{base}/{}/{}", v.res_type, v.res_id),
                    );
                    let wanted = o.read || prefer.return_ == Return::Representation;
                    if let Some(content) = v.content.as_deref().filter(|_| wanted) {
                        entry.raw(&mut out, "resource", content.as_bytes());
                    }
                }
                if let Some(b) = &o.bundle {
                    entry.raw(&mut out, "resource", &ser(b)?);
                }
                entry.key(&mut out, "response");
                out.push(b'{');
                response.string(&mut out, "status", &status_line(o.status));
                if let Some(v) = &o.version {
                    if !o.read {
                        let location =
                            format!("{}/{}/_history/{}", v.res_type, v.res_id, v.version_id);
                        response.string(&mut out, "location", &location);
                    }
                    response.string(&mut out, "etag", &etag(v.version_id));
                    response.string(&mut out, "lastModified", &format_instant(v.last_updated));
                }
                if prefer.return_ == Return::OperationOutcome && !o.read {
                    let issue = Issue {
                        severity: Severity::Information,
                        code: IssueType::Informational,
                        diagnostics: status_line(o.status),
                        expression: None,
                    };
                    response.raw(&mut out, "outcome", &ser(&operation_outcome(&[issue]))?);
                }
            }
            Err(e) => {
                let (status, issues) = e.outcome();
                out.extend_from_slice(b"\"response\":{");
                response.string(&mut out, "status", &status_line(status));
                response.raw(&mut out, "outcome", &ser(&operation_outcome(&issues))?);
            }
        }
        out.extend_from_slice(b"}}");
    }
    out.extend_from_slice(b"]}");
    Ok(out)
}
