//! Bundles of type history and searchset (bundle.html), with self and next links.

use serde_json::{json, Map, Value};

use super::error::RestError;
use super::respond::{etag, parsed};
use crate::fhir::summary::{apply, View};
use crate::interaction::{format_instant, now_micros};
use crate::store::StoredVersion;

pub struct Links {
    pub self_url: String,
    pub next_url: Option<String>,
}

pub fn bundle(kind: &str, links: Links, total: Option<i64>, entries: Vec<Value>) -> Value {
    let mut b = Map::new();
    b.insert("resourceType".into(), json!("Bundle"));
    b.insert("id".into(), json!(uuid::Uuid::new_v4().to_string()));
    b.insert(
        "meta".into(),
        json!({"lastUpdated": format_instant(now_micros())}),
    );
    b.insert("type".into(), json!(kind));
    if let Some(t) = total {
        b.insert("total".into(), json!(t));
    }
    let mut link = vec![json!({"relation": "self", "url": links.self_url})];
    if let Some(next) = links.next_url {
        link.push(json!({"relation": "next", "url": next}));
    }
    b.insert("link".into(), Value::Array(link));
    if !entries.is_empty() {
        b.insert("entry".into(), Value::Array(entries));
    }
    Value::Object(b)
}

/// A history entry: the version (absent for a delete), the request that made it, and its
/// response.
pub fn history_entry(v: &StoredVersion, base: &str) -> Result<Value, RestError> {
    let (method, url, status) = match v.method.as_str() {
        "POST" => ("POST", v.res_type.clone(), "201 Created"),
        "DELETE" => (
            "DELETE",
            format!("{}/{}", v.res_type, v.res_id),
            "204 No Content",
        ),
        _ => ("PUT", format!("{}/{}", v.res_type, v.res_id), "200 OK"),
    };
    let mut e = Map::new();
    e.insert(
        "fullUrl".into(),
        json!(format!("{base}/{}/{}", v.res_type, v.res_id)),
    );
    if let Some(r) = parsed(v)? {
        e.insert("resource".into(), r);
    }
    e.insert("request".into(), json!({"method": method, "url": url}));
    e.insert(
        "response".into(),
        json!({"status": status, "etag": etag(v.version_id), "lastModified": format_instant(v.last_updated)}),
    );
    Ok(Value::Object(e))
}

/// A searchset entry with `search.mode`.
pub fn search_entry(
    v: &StoredVersion,
    base: &str,
    view: &View,
    mode: &str,
) -> Result<Value, RestError> {
    let resource = parsed(v)?.map(|r| apply(&r, view)).unwrap_or(Value::Null);
    Ok(json!({
        "fullUrl": format!("{base}/{}/{}", v.res_type, v.res_id),
        "resource": resource,
        "search": {"mode": mode},
    }))
}
