//! `_summary` and `_elements` (hl7.org/fhir/R4/search.html#summary, #elements): views of a
//! resource that leave elements out, marked with the SUBSETTED tag.

use serde_json::{json, Map, Value};

use super::elements::{ElementKind, ElementModel};

/// Which view of a resource the client asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Full,
    /// `_summary=true`: elements marked as summary in the specification.
    Summary,
    /// `_summary=text`: text, id, meta and mandatory top-level elements.
    Text,
    /// `_summary=data`: everything but the narrative.
    Data,
    /// `_elements=a,b`: the named top-level elements and the mandatory ones.
    Elements(Vec<String>),
}

impl View {
    pub fn is_full(&self) -> bool {
        *self == View::Full
    }
}

/// Applies a view to a resource.
pub fn apply(resource: &Value, view: &View) -> Value {
    let Value::Object(obj) = resource else {
        return resource.clone();
    };
    let rt = obj
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let model = ElementModel::r4();
    let mut out = match view {
        View::Full => return resource.clone(),
        View::Data => {
            let mut o = obj.clone();
            o.shift_remove("text");
            o
        }
        View::Summary => summary_object(obj, &rt, model),
        View::Text => keep_top(obj, &rt, model, |name| {
            matches!(name, "text" | "id" | "meta")
        }),
        View::Elements(names) => keep_top(obj, &rt, model, |name| {
            name == "id" || name == "meta" || names.iter().any(|n| n == name)
        }),
    };
    out.shift_remove("resourceType");
    let mut result = Map::new();
    result.insert("resourceType".into(), Value::String(rt));
    result.extend(out);
    mark_subsetted(&mut result);
    Value::Object(result)
}

/// Top-level elements for which `keep` says yes, plus the mandatory ones.
fn keep_top(
    obj: &Map<String, Value>,
    rt: &str,
    model: &ElementModel,
    keep: impl Fn(&str) -> bool,
) -> Map<String, Value> {
    obj.iter()
        .filter(|(k, _)| {
            let name = k.strip_prefix('_').unwrap_or(k);
            keep(name)
                || model
                    .child(rt, name)
                    .is_some_and(|c| c.def.min > 0 || keep(&c.def.name))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn summary_object(
    obj: &Map<String, Value>,
    context: &str,
    model: &ElementModel,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in obj {
        let name = k.strip_prefix('_').unwrap_or(k);
        if k == "resourceType" {
            continue;
        }
        let Some(child) = model.child(context, name) else {
            continue;
        };
        if !child.def.summary && child.def.min == 0 {
            continue;
        }
        let v = match (&child.kind, v) {
            (ElementKind::Complex(ctx), Value::Object(o)) if !k.starts_with('_') => {
                Value::Object(summary_object(o, ctx, model))
            }
            (ElementKind::Complex(ctx), Value::Array(items)) if !k.starts_with('_') => {
                Value::Array(
                    items
                        .iter()
                        .map(|i| match i {
                            Value::Object(o) => Value::Object(summary_object(o, ctx, model)),
                            other => other.clone(),
                        })
                        .collect(),
                )
            }
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    out
}

fn mark_subsetted(obj: &mut Map<String, Value>) {
    let meta = obj.entry("meta").or_insert_with(|| json!({}));
    if let Value::Object(meta) = meta {
        let tags = meta.entry("tag").or_insert_with(|| json!([]));
        if let Value::Array(tags) = tags {
            tags.push(json!({
                "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
                "code": "SUBSETTED",
                "display": "Resource encoded in summary mode"
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patient() -> Value {
        json!({"resourceType": "Patient", "id": "p", "meta": {"versionId": "1"},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">x</div>"},
            "name": [{"family": "Smith"}], "birthDate": "1970-01-01",
            "photo": [{"contentType": "image/png"}],
            "contact": [{"name": {"text": "Sue"}, "gender": "female"}]})
    }

    #[test]
    fn summary_keeps_only_summary_elements() {
        let s = apply(&patient(), &View::Summary);
        assert!(s.get("name").is_some() && s.get("birthDate").is_some());
        assert!(s.get("text").is_none() && s.get("photo").is_none() && s.get("contact").is_none());
        assert_eq!(s["meta"]["tag"][0]["code"], "SUBSETTED");
    }

    #[test]
    fn elements_keeps_named_elements_and_id() {
        let s = apply(&patient(), &View::Elements(vec!["birthDate".into()]));
        let keys: Vec<&String> = s
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, vec!["resourceType", "id", "meta", "birthDate"]);
    }

    #[test]
    fn data_drops_the_narrative() {
        let s = apply(&patient(), &View::Data);
        assert!(s.get("text").is_none() && s.get("contact").is_some());
    }
}
