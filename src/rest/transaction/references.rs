//! References between the entries of a transaction (bundle.html#references): `urn:uuid:`
//! and other fullUrls, and conditional references (`Patient?identifier=…`), rewritten to the
//! `Type/id` each came to name.

use std::collections::HashMap;

use serde_json::Value;

use super::super::query::{encode, QueryParams};
use crate::fhir::ResourceType;

/// `Patient?identifier=a%7Cb` and `Patient?identifier=a|b` name the same criteria: both
/// become the same key.
pub fn condition_key(rt: &str, query: &str) -> String {
    format!("{rt}?{}", encode(&QueryParams::parse(query.as_bytes()).0))
}

/// A reference written as search criteria, as its key.
fn as_condition(reference: &str) -> Option<String> {
    let (t, q) = reference.split_once('?')?;
    ResourceType::parse(t).map(|_| condition_key(t, q))
}

/// The conditional references a resource holds, as keys.
pub fn conditional_references(resource: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(resource, &mut |key, v| {
        if key == "reference" {
            if let Some(k) = v.as_str().and_then(as_condition) {
                out.push(k);
            }
        }
    });
    out
}

fn walk(v: &Value, f: &mut impl FnMut(&str, &Value)) {
    match v {
        Value::Object(obj) => {
            for (k, child) in obj {
                f(k, child);
                walk(child, f);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| walk(i, f)),
        _ => {}
    }
}

/// Rewrites every reference that `map` knows (a fullUrl or a condition key → `Type/id`),
/// wherever it occurs: `reference` elements, other uri values, and the narrative. A
/// `urn:uuid:` or conditional reference the bundle does not resolve is an error.
pub fn rewrite(resource: &mut Value, map: &HashMap<String, String>) -> Result<(), String> {
    match resource {
        Value::Object(obj) => {
            for (k, v) in obj.iter_mut() {
                match v {
                    Value::String(s) if k == "div" => {
                        if s.contains("urn:") {
                            for (from, to) in map.iter().filter(|(f, _)| f.starts_with("urn:")) {
                                if s.contains(from.as_str()) {
                                    *s = s.replace(from.as_str(), to);
                                }
                            }
                        }
                    }
                    Value::String(s) => {
                        let key = if k == "reference" {
                            as_condition(s)
                        } else {
                            None
                        };
                        if let Some(to) = map
                            .get(s.as_str())
                            .or_else(|| key.as_ref().and_then(|k| map.get(k)))
                        {
                            *s = to.clone();
                        } else if k == "reference" && (key.is_some() || is_placeholder(s)) {
                            return Err(format!("the reference '{s}' names nothing in this bundle or on this server"));
                        }
                    }
                    other => rewrite(other, map)?,
                }
            }
        }
        Value::Array(items) => {
            for i in items.iter_mut() {
                match i {
                    Value::String(s) => {
                        if let Some(to) = map.get(s.as_str()) {
                            *s = to.clone();
                        }
                    }
                    other => rewrite(other, map)?,
                }
            }
        }
        _ => {}
    }
    Ok(())
}

fn is_placeholder(s: &str) -> bool {
    s.starts_with("urn:uuid:") || s.starts_with("urn:oid:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rewrites_full_urls_and_conditions_everywhere() {
        let map: HashMap<String, String> = [
            ("urn:uuid:1".to_string(), "Patient/abc".to_string()),
            (
                condition_key("Practitioner", "identifier=a|b"),
                "Practitioner/p".to_string(),
            ),
        ]
        .into();
        let mut o = json!({"resourceType": "Observation",
            "text": {"status": "generated", "div": "<div>see urn:uuid:1</div>"},
            "subject": {"reference": "urn:uuid:1"},
            "performer": [{"reference": "Practitioner?identifier=a%7Cb"}],
            "focus": [{"reference": "Group/g"}]});
        rewrite(&mut o, &map).expect("rewrites");
        assert_eq!(o["subject"]["reference"], "Patient/abc");
        assert_eq!(o["performer"][0]["reference"], "Practitioner/p");
        assert_eq!(o["focus"][0]["reference"], "Group/g");
        assert_eq!(o["text"]["div"], "<div>see Patient/abc</div>");
        assert_eq!(
            conditional_references(&json!({"subject": {"reference": "Patient?identifier=x"}})),
            vec![condition_key("Patient", "identifier=x")]
        );
    }

    #[test]
    fn unresolved_placeholders_are_errors() {
        let mut o = json!({"subject": {"reference": "urn:uuid:missing"}});
        assert!(rewrite(&mut o, &HashMap::new()).is_err());
        let mut c = json!({"subject": {"reference": "Patient?identifier=x"}});
        assert!(rewrite(&mut c, &HashMap::new()).is_err());
    }
}
