//! Index rows extracted from a resource when it is written.

use serde_json::Value;

use super::hash::param_hash;
use crate::store::TokenRow;

/// Token rows: `identifier` (system|value) of any resource that has identifiers.
pub fn token_rows(resource_type: &str, resource: &Value) -> Vec<TokenRow> {
    let param = param_hash(resource_type, "identifier");
    let identifiers: Vec<&Value> = match resource.get("identifier") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::Object(_)) => vec![v],
        _ => Vec::new(),
    };
    identifiers
        .into_iter()
        .filter(|i| i.get("value").is_some() || i.get("system").is_some())
        .map(|i| TokenRow {
            param,
            system: i.get("system").and_then(Value::as_str).map(str::to_string),
            code: i.get("value").and_then(Value::as_str).map(str::to_string),
            compartment: None,
        })
        .collect()
}
