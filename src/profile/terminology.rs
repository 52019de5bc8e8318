//! The value sets the profiles bind to with strength required, from
//! `profiles/terminology.json`: for each, the code systems and codes it includes.

use std::collections::HashMap;

use serde_json::Value;

pub struct Terminology {
    value_sets: HashMap<String, Vec<(String, Vec<String>)>>,
}

impl Terminology {
    pub fn parse(doc: &Value) -> Result<Terminology, String> {
        let sets = doc["valueSets"].as_object().ok_or("no valueSets")?;
        let mut value_sets = HashMap::new();
        for (url, includes) in sets {
            let parts = includes
                .as_array()
                .ok_or(format!("{url}: expected a list"))?
                .iter()
                .map(|inc| {
                    let system = inc["system"]
                        .as_str()
                        .ok_or(format!("{url}: an include without a system"))?;
                    let codes = inc["codes"]
                        .as_array()
                        .ok_or(format!("{url}: an include without codes"))?
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect();
                    Ok((system.to_string(), codes))
                })
                .collect::<Result<Vec<_>, String>>()?;
            value_sets.insert(url.clone(), parts);
        }
        Ok(Terminology { value_sets })
    }

    pub fn knows(&self, value_set: &str) -> bool {
        self.value_sets.contains_key(value_set)
    }

    fn has(&self, value_set: &str, system: Option<&str>, code: &str) -> bool {
        self.value_sets.get(value_set).is_some_and(|parts| {
            parts.iter().any(|(s, codes)| {
                system.is_none_or(|sys| sys == s) && codes.iter().any(|c| c == code)
            })
        })
    }

    /// Whether a code, Coding or CodeableConcept is in the value set: a bare code by its
    /// value, a Coding by system and code, a CodeableConcept when one of its codings is.
    pub fn contains(&self, value_set: &str, v: &Value) -> bool {
        let coding = |c: &Value| {
            c.get("code").and_then(Value::as_str).is_some_and(|code| {
                self.has(
                    value_set,
                    Some(c.get("system").and_then(Value::as_str).unwrap_or("")),
                    code,
                )
            })
        };
        match v {
            Value::String(code) => self.has(value_set, None, code),
            Value::Object(o) if o.contains_key("coding") => {
                o["coding"].as_array().into_iter().flatten().any(coding)
            }
            Value::Object(_) => coding(v),
            _ => false,
        }
    }
}
