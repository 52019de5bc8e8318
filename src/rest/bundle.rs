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

/// A searchset Bundle in JSON with each entry's stored resource spliced in unparsed: the
/// stored JSON is the server's own, already checked when it was written.
pub fn searchset_json<'a>(
    links: Links,
    total: Option<i64>,
    entries: impl Iterator<Item = (&'a StoredVersion, &'a str)>,
    base: &str,
) -> Result<Vec<u8>, RestError> {
    let head = bundle("searchset", links, total, Vec::new());
    let internal = |e: serde_json::Error| RestError::Internal(e.to_string());
    let entries: Vec<(&StoredVersion, &str)> = entries.collect();
    // Sized once: a page of 1,000 resources grew its buffer a dozen times, a quarter of the
    // instructions of writing the page (callgrind).
    let length: usize = entries
        .iter()
        .filter_map(|(v, _)| v.content.as_deref())
        .map(|c| c.len() + base.len() + 128)
        .sum();
    let mut out = Vec::with_capacity(length + 1024);
    serde_json::to_writer(&mut out, &head).map_err(internal)?;
    out.pop(); // the closing brace; entries follow
    out.extend_from_slice(b",\"entry\":[");
    // The base as a JSON string without its quotes, escaped once for every entry.
    let quoted_base = serde_json::to_string(base).map_err(internal)?;
    let base_text = quoted_base
        .strip_prefix('"')
        .and_then(|b| b.strip_suffix('"'))
        .unwrap_or_default();
    let plain = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    };
    let mut first = true;
    for (v, mode) in entries {
        let Some(content) = v.content.as_deref() else {
            continue;
        };
        if !first {
            out.push(b',');
        }
        first = false;
        out.extend_from_slice(b"{\"fullUrl\":");
        if plain(&v.res_type) && plain(&v.res_id) {
            // Types and ids need no escaping (`[A-Za-z0-9-.]`): no string is built for them.
            out.push(b'"');
            out.extend_from_slice(base_text.as_bytes());
            for part in [&v.res_type, &v.res_id] {
                out.push(b'/');
                out.extend_from_slice(part.as_bytes());
            }
            out.push(b'"');
        } else {
            let url = format!("{base}/{}/{}", v.res_type, v.res_id);
            serde_json::to_writer(&mut out, &url).map_err(internal)?;
        }
        out.extend_from_slice(b",\"resource\":");
        out.extend_from_slice(content.as_bytes());
        out.extend_from_slice(b",\"search\":{\"mode\":");
        serde_json::to_writer(&mut out, mode).map_err(internal)?;
        out.extend_from_slice(b"}}");
    }
    if first {
        // No entries: drop the empty array again (FHIR JSON has no empty arrays).
        out.truncate(out.len() - b",\"entry\":[".len());
        out.push(b'}');
    } else {
        out.extend_from_slice(b"]}");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(id: &str, content: &str) -> StoredVersion {
        StoredVersion {
            seq: 1,
            res_type: "Patient".into(),
            res_id: id.into(),
            version_id: 1,
            last_updated: 0,
            method: "POST".into(),
            content: Some(content.into()),
        }
    }

    #[test]
    fn spliced_searchset_is_the_bundle_the_values_would_make() {
        let links = || Links {
            self_url: "http://x/fhir/Patient".into(),
            next_url: None,
        };
        let a = version(
            "a",
            r#"{"resourceType":"Patient","id":"a","birthDate":"1970"}"#,
        );
        let b = version("b", r#"{"resourceType":"Patient","id":"b"}"#);
        let json = searchset_json(
            links(),
            Some(2),
            [(&a, "match"), (&b, "include")].into_iter(),
            "http://x/fhir",
        )
        .expect("renders");
        let v: Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(v["entry"][0]["resource"]["birthDate"], "1970");
        assert_eq!(v["entry"][1]["search"]["mode"], "include");
        assert_eq!(v["entry"][1]["fullUrl"], "http://x/fhir/Patient/b");
        let empty =
            searchset_json(links(), Some(0), std::iter::empty(), "http://x/fhir").expect("renders");
        let v: Value = serde_json::from_slice(&empty).expect("valid JSON");
        assert!(v.get("entry").is_none());
        assert_eq!(v["total"], 0);
    }

    #[test]
    fn full_urls_are_escaped_where_they_need_it() {
        let links = Links {
            self_url: "http://x/fhir/Patient".into(),
            next_url: None,
        };
        let plain = version("p-1.2", r#"{"resourceType":"Patient","id":"p-1.2"}"#);
        let odd = version("q\"r", r#"{"resourceType":"Patient"}"#);
        let base = "http://x/f\"h\\ir";
        let entries = [(&plain, "match"), (&odd, "match")].into_iter();
        let json = searchset_json(links, None, entries, base).expect("renders");
        let v: Value = serde_json::from_slice(&json).expect("valid JSON");
        assert_eq!(v["entry"][0]["fullUrl"], format!("{base}/Patient/p-1.2"));
        assert_eq!(v["entry"][1]["fullUrl"], format!("{base}/Patient/q\"r"));
    }
}
