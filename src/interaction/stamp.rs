//! Server-owned parts of every stored version: id, meta.versionId, meta.lastUpdated.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use crate::fhir::primitive;

pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

/// An instant (µs since the epoch) as a FHIR instant.
pub fn format_instant(micros: i64) -> String {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a FHIR date, dateTime or instant into the range of instants it covers: a year covers
/// the whole year, a day the whole day (in UTC), an instant a single microsecond.
pub fn parse_instant_range(s: &str) -> Option<(i64, i64)> {
    primitive::check_text("dateTime", s).ok()?;
    if s.len() > 10 {
        let t = DateTime::parse_from_rfc3339(s).ok()?.timestamp_micros();
        let frac_digits = s
            .split_once('.')
            .map(|(_, f)| f.chars().take_while(char::is_ascii_digit).count());
        let width = match frac_digits {
            None => 1_000_000,
            Some(0..=5) => 10i64.pow(6 - frac_digits.unwrap_or(0) as u32),
            Some(_) => 1,
        };
        return Some((t, t + width));
    }
    let parts: Vec<i32> = s.split('-').filter_map(|p| p.parse().ok()).collect();
    let (start, end) = match parts.as_slice() {
        [y] => (
            NaiveDate::from_ymd_opt(*y, 1, 1)?,
            NaiveDate::from_ymd_opt(y + 1, 1, 1)?,
        ),
        [y, m] => {
            let start = NaiveDate::from_ymd_opt(*y, *m as u32, 1)?;
            let end = if *m == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(*y, *m as u32 + 1, 1)?
            };
            (start, end)
        }
        [y, m, d] => {
            let start = NaiveDate::from_ymd_opt(*y, *m as u32, *d as u32)?;
            (start, start.succ_opt()?)
        }
        _ => return None,
    };
    let micros = |d: NaiveDate| NaiveDateTime::from(d).and_utc().timestamp_micros();
    Some((micros(start), micros(end)))
}

/// Sets id and meta.versionId/lastUpdated, keeping the client's other meta elements, and
/// puts `resourceType`, `id`, `meta` first as the specification's examples do.
pub fn stamp(resource: Value, id: &str, version_id: i64, last_updated: i64) -> Value {
    let Value::Object(mut obj) = resource else {
        return resource;
    };
    let rt = obj.shift_remove("resourceType").unwrap_or(Value::Null);
    obj.shift_remove("id");
    let mut meta = match obj.shift_remove("meta") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.shift_remove("versionId");
    meta.shift_remove("lastUpdated");
    let mut new_meta = Map::new();
    new_meta.insert("versionId".into(), Value::String(version_id.to_string()));
    new_meta.insert(
        "lastUpdated".into(),
        Value::String(format_instant(last_updated)),
    );
    new_meta.extend(meta);
    let mut out = Map::new();
    out.insert("resourceType".into(), rt);
    out.insert("id".into(), Value::String(id.to_string()));
    out.insert("meta".into(), Value::Object(new_meta));
    out.extend(obj);
    Value::Object(out)
}

/// A first version rendered as JSON before the write lock, with its lastUpdated (which only
/// the writer may choose) left as a fixed-width blank at a known place. The writer fills it
/// in with one copy instead of cloning, stamping and serialising the resource under the lock.
#[derive(Debug, Clone)]
pub struct Draft {
    text: String,
    /// Byte offset of the blank instant.
    at: usize,
}

/// The blank: an instant of the same width as every instant of years 1000 to 9999.
const BLANK: i64 = 0;

/// What `stamp` makes of a resource, serialised from a borrow of it (no copy of the resource).
struct Stamped<'a> {
    resource: &'a Map<String, Value>,
    id: &'a str,
    version_id: i64,
    last_updated: i64,
}

/// The server-set meta elements first, then the client's others, as `stamp` orders them.
struct StampedMeta<'a>(&'a Stamped<'a>);

impl serde::Serialize for StampedMeta<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let st = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("versionId", &st.version_id.to_string())?;
        m.serialize_entry("lastUpdated", &format_instant(st.last_updated))?;
        if let Some(Value::Object(meta)) = st.resource.get("meta") {
            for (k, v) in meta {
                if k != "versionId" && k != "lastUpdated" {
                    m.serialize_entry(k, v)?;
                }
            }
        }
        m.end()
    }
}

impl serde::Serialize for Stamped<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(
            "resourceType",
            self.resource.get("resourceType").unwrap_or(&Value::Null),
        )?;
        m.serialize_entry("id", self.id)?;
        m.serialize_entry("meta", &StampedMeta(self))?;
        for (k, v) in self.resource {
            if !matches!(k.as_str(), "resourceType" | "id" | "meta") {
                m.serialize_entry(k, v)?;
            }
        }
        m.end()
    }
}

/// The stored JSON of `stamp(resource, …)`, written straight from the borrowed resource.
pub fn render(
    resource: &Value,
    id: &str,
    version_id: i64,
    last_updated: i64,
) -> Result<String, serde_json::Error> {
    match resource {
        Value::Object(obj) => serde_json::to_string(&Stamped {
            resource: obj,
            id,
            version_id,
            last_updated,
        }),
        other => serde_json::to_string(other),
    }
}

impl Draft {
    pub fn new(resource: &Value, id: &str) -> Result<Draft, serde_json::Error> {
        let text = render(resource, id, 1, BLANK)?;
        // `meta` comes right after `resourceType` and `id`, so the first match is its own.
        let key = format!("\"lastUpdated\":\"{}\"", format_instant(BLANK));
        let at = text
            .find(&key)
            .map_or(usize::MAX, |i| i + "\"lastUpdated\":\"".len());
        Ok(Draft { text, at })
    }

    /// The stored JSON of version 1, last updated at `last_updated`.
    pub fn finish(&self, last_updated: i64) -> Result<String, serde_json::Error> {
        let instant = format_instant(last_updated);
        let blank = format_instant(BLANK);
        let mut text = self.text.clone();
        match text.get(self.at..self.at.saturating_add(blank.len())) {
            Some(b) if b == blank && instant.len() == blank.len() => {
                text.replace_range(self.at..self.at + blank.len(), &instant);
                Ok(text)
            }
            // Not reached before the year 10000; correct all the same.
            _ => {
                let v: Value = serde_json::from_str(&self.text)?;
                let id = v
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                serde_json::to_string(&stamp(v, &id, 1, last_updated))
            }
        }
    }
}

/// The resource without what the server sets, to tell whether an update changes anything.
pub fn content_key(resource: &Value) -> Value {
    let mut v = resource.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.shift_remove("id");
        let empty_meta = match obj.get_mut("meta") {
            Some(Value::Object(meta)) => {
                meta.shift_remove("versionId");
                meta.shift_remove("lastUpdated");
                meta.is_empty()
            }
            _ => false,
        };
        if empty_meta {
            obj.shift_remove("meta");
        }
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_draft_finishes_as_the_stamp_would() {
        let resources = [
            serde_json::json!({"resourceType": "Observation", "status": "final",
            "meta": {"tag": [{"code": "x"}], "lastUpdated": "2001-01-01T00:00:00Z"},
            "note": [{"text": "\"lastUpdated\":\"1970-01-01T00:00:00.000000Z\""}]}),
            // Server-set elements out of place, and a client's id and versionId to replace.
            serde_json::json!({"status": "final", "id": "client", "resourceType": "Observation",
            "meta": {"source": "s", "versionId": "7"}}),
            serde_json::json!({"resourceType": "Basic"}),
        ];
        for r in resources {
            let draft = super::Draft::new(&r, "o1").expect("renders");
            for at in [1_700_000_000_123_456, -62_000_000_000_000_000] {
                let stamped = super::stamp(r.clone(), "o1", 1, at);
                let want = serde_json::to_string(&stamped).expect("json");
                assert_eq!(draft.finish(at).expect("finishes"), want);
                let rendered = super::render(&r, "o1", 3, at).expect("renders");
                let stamped = super::stamp(r.clone(), "o1", 3, at);
                assert_eq!(rendered, serde_json::to_string(&stamped).expect("json"));
            }
        }
    }

    use super::*;

    #[test]
    fn partial_dates_cover_their_whole_range() {
        let (s, e) = parse_instant_range("2024").expect("year");
        assert_eq!(format_instant(s), "2024-01-01T00:00:00.000000Z");
        assert_eq!(format_instant(e), "2025-01-01T00:00:00.000000Z");
        let (s, e) = parse_instant_range("2024-12").expect("month");
        assert_eq!(
            (format_instant(s).as_str(), format_instant(e).as_str()),
            ("2024-12-01T00:00:00.000000Z", "2025-01-01T00:00:00.000000Z")
        );
        let (s, e) = parse_instant_range("2024-05-01T10:00:00Z").expect("instant");
        assert_eq!(e - s, 1_000_000);
        assert!(parse_instant_range("2024-13").is_none());
    }

    #[test]
    fn stamp_replaces_server_fields_and_keeps_client_meta() {
        let r = serde_json::json!({"resourceType": "Patient", "id": "x", "active": true,
            "meta": {"versionId": "9", "profile": ["http://p"]}});
        let s = stamp(r, "abc", 2, 0);
        assert_eq!(s["id"], "abc");
        assert_eq!(s["meta"]["versionId"], "2");
        assert_eq!(s["meta"]["profile"][0], "http://p");
        let keys: Vec<&String> = s
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, vec!["resourceType", "id", "meta", "active"]);
        let r = serde_json::json!({"resourceType": "Patient", "gender": "male", "id": "x",
            "birthDate": "1970", "active": true});
        let s = stamp(r, "abc", 1, 0);
        let keys: Vec<&String> = s
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            vec![
                "resourceType",
                "id",
                "meta",
                "gender",
                "birthDate",
                "active"
            ]
        );
    }
}
