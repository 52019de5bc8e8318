//! Index rows for a resource: every offered search parameter of its type evaluated on the
//! stored JSON, each value turned into rows of its parameter type's table, plus the patient
//! compartments the resource belongs to.

use serde_json::Value;

use super::fhirpath::{reference_type, Node, Present};
use super::normalize::normalize;
use super::params::{ParamType, Registry, SearchParam};
use crate::fhir::elements::ElementModel;
use crate::interaction::parse_instant_range;
use crate::store::{
    CompositeRow, DateRow, IndexRows, NumberRow, QuantityRow, ReferenceRow, StringRow, TokenRow,
    UriRow,
};

/// Everything the index tables hold for one resource.
pub fn index_rows(res_type: &str, resource: &Value) -> IndexRows {
    let registry = Registry::r4();
    let mut rows = IndexRows::default();
    let Some(present) = Present::of(resource) else {
        return rows;
    };
    // `_id` and `_lastUpdated` are answered from the resource table: the server sets them
    // inside the write transaction, and everything here is worked out before it.
    for param in registry
        .of_type(res_type)
        .filter(|p| p.code != "_id" && p.code != "_lastUpdated")
    {
        // A derived parameter's rows are its bases' (`params::Stored`), but for a reference
        // parameter's `:identifier` rows, which are keyed by the parameter itself.
        let derived = param.derived();
        if derived && param.param_type != ParamType::Reference {
            continue;
        }
        let nodes = param.expression.evaluate_on(&present);
        for node in &nodes {
            if derived {
                identifier_row(param, node, &mut rows);
            } else {
                add_rows(param, node, &mut rows);
            }
        }
    }
    rows.compartments = compartments(&registry, res_type, &present);
    rows
}

/// The ids of the patients whose compartment holds this resource.
fn compartments(registry: &Registry, res_type: &str, present: &Present<'_>) -> Vec<String> {
    let mut ids = Vec::new();
    if res_type == "Patient" {
        if let Some(id) = present.resource().get("id").and_then(Value::as_str) {
            ids.push(id.to_string());
        }
    }
    for code in registry.compartment_params(res_type) {
        let Some(param) = registry.get(res_type, code) else {
            continue;
        };
        for node in param.expression.evaluate_on(present) {
            if let Some((t, id)) = node
                .value
                .get("reference")
                .and_then(Value::as_str)
                .and_then(split_reference)
            {
                if t == "Patient" && !ids.iter().any(|i| i == id) {
                    ids.push(id.to_string());
                }
            }
        }
    }
    ids
}

/// `Patient/1`, `http://host/fhir/Patient/1`, `Patient/1/_history/2` as (type, id).
pub fn split_reference(reference: &str) -> Option<(&str, &str)> {
    let t = reference_type(reference)?;
    // The last `{t}/` in it, found without building that string for every reference.
    let slash = reference
        .rmatch_indices('/')
        .map(|(i, _)| i)
        .find(|&i| reference[..i].ends_with(t))?;
    let after = &reference[slash + 1..];
    let id = after.split('/').next()?;
    (!id.is_empty()).then_some((t, id))
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn strings_of<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    match v.get(key) {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.to_string().parse().ok(),
        _ => None,
    }
}

fn add_rows(param: &SearchParam, node: &Node<'_>, rows: &mut IndexRows) {
    let p = param.hash;
    match param.param_type {
        ParamType::String => {
            for s in string_values(node) {
                rows.strings.push(StringRow {
                    param: p,
                    value_norm: normalize(s),
                    value_exact: s.to_string(),
                });
            }
        }
        ParamType::Token => rows.tokens.extend(token_values(p, node)),
        ParamType::Date => {
            if let Some((low, high)) = date_range(node) {
                rows.dates.push(DateRow {
                    param: p,
                    low,
                    high,
                });
            }
        }
        ParamType::Number => {
            if let Some(v) = number_of(node.value) {
                rows.numbers.push(NumberRow { param: p, value: v });
            }
        }
        ParamType::Quantity => rows.quantities.extend(quantity_values(p, node)),
        ParamType::Reference => {
            if let Some(r) = reference_value(p, node) {
                rows.references.push(r);
            }
            identifier_row(param, node, rows);
        }
        ParamType::Uri => {
            if let Some(s) = node.value.as_str() {
                rows.uris.push(UriRow {
                    param: p,
                    value: s.to_string(),
                });
            }
        }
        ParamType::Composite => rows.composites.extend(composite_values(param, node)),
        ParamType::Special => {}
    }
}

/// Reference.identifier, for the `:identifier` modifier.
fn identifier_row(param: &SearchParam, node: &Node<'_>, rows: &mut IndexRows) {
    if let Some(ident) = node.value.get("identifier") {
        rows.tokens.push(TokenRow {
            param: identifier_hash(param),
            system: str_of(ident, "system").map(str::to_string),
            code: str_of(ident, "value").map(str::to_string),
            text_norm: None,
        });
    }
}

/// The index key of a reference parameter's `:identifier` rows.
pub fn identifier_hash(param: &SearchParam) -> i64 {
    param.hash ^ 0x5bd1_e995_1234_5678
}

fn string_values<'v>(node: &Node<'v>) -> Vec<&'v str> {
    let v = node.value;
    match node.type_name {
        "HumanName" => {
            let mut out: Vec<&str> = ["family", "text"]
                .iter()
                .filter_map(|k| str_of(v, k))
                .collect();
            for k in ["given", "prefix", "suffix"] {
                out.extend(strings_of(v, k));
            }
            out
        }
        "Address" => {
            let mut out: Vec<&str> = ["city", "district", "state", "postalCode", "country", "text"]
                .iter()
                .filter_map(|k| str_of(v, k))
                .collect();
            out.extend(strings_of(v, "line"));
            out
        }
        _ => v.as_str().into_iter().collect(),
    }
}

fn token_values(p: i64, node: &Node<'_>) -> Vec<TokenRow> {
    let v = node.value;
    let row = |system: Option<&str>, code: Option<&str>, text: Option<&str>| TokenRow {
        param: p,
        system: system.map(str::to_string),
        code: code.map(str::to_string),
        text_norm: text.map(normalize),
    };
    match node.type_name {
        "Coding" => vec![row(
            str_of(v, "system"),
            str_of(v, "code"),
            str_of(v, "display"),
        )],
        "CodeableConcept" => {
            let text = str_of(v, "text");
            let mut out: Vec<TokenRow> = v
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| {
                    row(
                        str_of(c, "system"),
                        str_of(c, "code"),
                        text.or(str_of(c, "display")),
                    )
                })
                .collect();
            if out.is_empty() && text.is_some() {
                out.push(row(None, None, text));
            }
            out
        }
        "Identifier" => vec![row(
            str_of(v, "system"),
            str_of(v, "value"),
            v.get("type").and_then(|t| str_of(t, "text")),
        )],
        "ContactPoint" => vec![row(str_of(v, "system"), str_of(v, "value"), None)],
        "boolean" => vec![row(
            None,
            v.as_bool().map(|b| if b { "true" } else { "false" }),
            None,
        )],
        _ => match v.as_str() {
            Some(s) => vec![row(None, Some(s), None)],
            None => Vec::new(),
        },
    }
}

/// The instants a date-like value covers: [low, high) in µs.
pub fn date_range(node: &Node<'_>) -> Option<(i64, i64)> {
    let v = node.value;
    match node.type_name {
        "Period" => {
            let low = str_of(v, "start")
                .and_then(parse_instant_range)
                .map_or(i64::MIN, |r| r.0);
            let high = str_of(v, "end")
                .and_then(parse_instant_range)
                .map_or(i64::MAX, |r| r.1);
            (str_of(v, "start").is_some() || str_of(v, "end").is_some()).then_some((low, high))
        }
        "Timing" => {
            let events: Vec<(i64, i64)> = strings_of(v, "event")
                .into_iter()
                .filter_map(parse_instant_range)
                .collect();
            let low = events.iter().map(|e| e.0).min()?;
            let high = events.iter().map(|e| e.1).max()?;
            Some((low, high))
        }
        _ => v.as_str().and_then(parse_instant_range),
    }
}

fn quantity_values(p: i64, node: &Node<'_>) -> Vec<QuantityRow> {
    let v = node.value;
    let row = |q: &Value| {
        number_of(q.get("value")?).map(|value| QuantityRow {
            param: p,
            system: str_of(q, "system").map(str::to_string),
            code: str_of(q, "code")
                .or(str_of(q, "currency"))
                .map(str::to_string),
            unit: str_of(q, "unit").map(str::to_string),
            value,
        })
    };
    match node.type_name {
        "Range" => ["low", "high"]
            .iter()
            .filter_map(|k| v.get(*k).and_then(row))
            .collect(),
        _ => row(v).into_iter().collect(),
    }
}

/// Whether a value of FHIR type `t` can give rows of a parameter type. A quantity row is
/// read from a value's own `value` (a Range's from its low and high), so a SampledData,
/// which `Observation.value-quantity` also selects, gives none.
pub fn may_give_rows(param_type: ParamType, t: &str, model: &ElementModel) -> bool {
    match param_type {
        ParamType::Quantity => t == "Range" || model.child(t, "value").is_some(),
        _ => true,
    }
}

fn reference_value(p: i64, node: &Node<'_>) -> Option<ReferenceRow> {
    let v = node.value;
    let raw = match v {
        Value::String(s) => s.as_str(), // canonical or uri
        _ => str_of(v, "reference")?,
    };
    if raw.starts_with('#') {
        return None;
    }
    let (t, id) = split_reference(raw).unzip();
    Some(ReferenceRow {
        param: p,
        target_type: t.map(str::to_string),
        target_id: id.map(str::to_string),
        url: (t.is_none() || raw.contains("://")).then(|| raw.to_string()),
    })
}

fn composite_values(param: &SearchParam, node: &Node<'_>) -> Vec<CompositeRow> {
    let [first, second] = param.components.as_slice() else {
        return Vec::new();
    };
    // The second part first: most composites of a resource (a value of another type, or
    // none) end there.
    let seconds = second.expression.evaluate_from(node);
    if seconds.is_empty() {
        return Vec::new();
    }
    let codes: Vec<TokenRow> = first
        .expression
        .evaluate_from(node)
        .iter()
        .flat_map(|n| token_values(param.hash, n))
        .collect();
    let mut out = Vec::new();
    for n in seconds {
        let mut value = CompositeRow {
            param: param.hash,
            ..CompositeRow::default()
        };
        match second.param_type {
            ParamType::Token => {
                for t in token_values(param.hash, &n) {
                    value.value_system = t.system;
                    value.value_code = t.code;
                    out.extend(with_codes(&codes, &value));
                }
                continue;
            }
            ParamType::Quantity => {
                for q in quantity_values(param.hash, &n) {
                    value.value_system = q.system;
                    value.value_code = q.code;
                    value.number = Some(q.value);
                    out.extend(with_codes(&codes, &value));
                }
                continue;
            }
            ParamType::Date => {
                let Some((low, high)) = date_range(&n) else {
                    continue;
                };
                value.date_low = Some(low);
                value.date_high = Some(high);
            }
            ParamType::String => {
                let Some(s) = n.value.as_str() else { continue };
                value.text_norm = Some(normalize(s));
            }
            _ => continue,
        }
        out.extend(with_codes(&codes, &value));
    }
    out
}

fn with_codes(codes: &[TokenRow], value: &CompositeRow) -> Vec<CompositeRow> {
    codes
        .iter()
        .map(|c| CompositeRow {
            code_system: c.system.clone(),
            code: c.code.clone(),
            ..value.clone()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::param_hash;
    use serde_json::json;

    #[test]
    fn an_observation_is_indexed_under_its_parameters() {
        let o = json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2024-05-01",
            "valueQuantity": {"value": 120, "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}});
        let rows = index_rows("Observation", &o);
        assert_eq!(rows.compartments, vec!["p1"]);
        let code = param_hash("Observation", "code");
        assert!(rows
            .tokens
            .iter()
            .any(|t| t.param == code && t.code.as_deref() == Some("8480-6")));
        let subject = param_hash("Observation", "subject");
        assert!(rows
            .references
            .iter()
            .any(|r| r.param == subject && r.target_id.as_deref() == Some("p1")));
        // `patient` and `combo-code` are read from `subject`'s and `code`'s rows.
        for derived in ["patient", "combo-code"] {
            let h = param_hash("Observation", derived);
            assert!(!rows.tokens.iter().any(|t| t.param == h), "{derived}");
            assert!(!rows.references.iter().any(|r| r.param == h), "{derived}");
        }
        let date = param_hash("Observation", "date");
        let d = rows
            .dates
            .iter()
            .find(|d| d.param == date)
            .expect("date row");
        assert_eq!(d.high - d.low, 86_400_000_000);
        // `code-value-quantity` is answered by joining `code`'s and `value-quantity`'s rows.
        let vq = param_hash("Observation", "value-quantity");
        assert!(rows
            .quantities
            .iter()
            .any(|q| q.param == vq && q.value == 120.0));
        assert!(rows.composites.is_empty(), "{:?}", rows.composites);
    }

    #[test]
    fn quantity_rows_come_from_values_with_a_value() {
        let model = ElementModel::r4();
        for (t, gives) in [
            ("Quantity", true),
            ("Age", true),
            ("Money", true),
            ("Range", true),
            ("SampledData", false),
            ("Period", false),
        ] {
            assert_eq!(may_give_rows(ParamType::Quantity, t, model), gives, "{t}");
        }
        assert!(may_give_rows(ParamType::Token, "SampledData", model));
    }

    #[test]
    fn names_are_indexed_normalised_and_exact() {
        let p = json!({"resourceType": "Patient", "id": "p1", "name": [{"family": "Zoë", "given": ["Anne", "Marie"]}]});
        let rows = index_rows("Patient", &p);
        let name = param_hash("Patient", "name");
        let values: Vec<(&str, &str)> = rows
            .strings
            .iter()
            .filter(|s| s.param == name)
            .map(|s| (s.value_norm.as_str(), s.value_exact.as_str()))
            .collect();
        assert!(values.contains(&("zoe", "Zoë")), "{values:?}");
        assert!(values.contains(&("marie", "Marie")));
        assert_eq!(rows.compartments, vec!["p1"]);
    }

    #[test]
    fn references_split_into_type_and_id() {
        assert_eq!(split_reference("Patient/1"), Some(("Patient", "1")));
        assert_eq!(
            split_reference("http://x/fhir/Patient/1/_history/2"),
            Some(("Patient", "1"))
        );
        assert_eq!(split_reference("urn:uuid:1234"), None);
    }
}
