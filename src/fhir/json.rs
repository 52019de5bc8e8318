//! Parsing a JSON body into a `Value` with the checks serde_json leaves out: a repeated key in
//! one object is an error (serde_json would keep the last silently).

use std::collections::HashSet;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::outcome::{Issue, IssueType};

/// Parses JSON bytes, refusing malformed JSON and duplicate keys with an issue that says where.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, Issue> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    KeyCheck {
        path: String::new(),
    }
    .deserialize(&mut de)
    .map_err(|e| Issue::error(IssueType::Structure, format!("invalid JSON: {e}")))?;
    serde_json::from_slice(bytes)
        .map_err(|e| Issue::error(IssueType::Structure, format!("invalid JSON: {e}")))
}

/// Walks the document without building it, keeping the path for the error message.
struct KeyCheck {
    path: String,
}

impl<'de> DeserializeSeed<'de> for KeyCheck {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyCheck {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(KeyCheck {
                path: format!("{}[{i}]", self.path),
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if !seen.insert(key) {
                return Err(serde::de::Error::custom(format!("duplicate key '{path}'")));
            }
            map.next_value_seed(KeyCheck { path })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let err = super::parse_strict(br#"{"a": {"b": 1, "b": 2}}"#).unwrap_err();
        assert!(
            err.diagnostics.contains("duplicate key 'a.b'"),
            "{}",
            err.diagnostics
        );
    }

    #[test]
    fn decimals_keep_their_text() {
        let v = super::parse_strict(br#"{"v": 1.50}"#).expect("parses");
        assert_eq!(
            serde_json::to_string(&v).expect("serialises"),
            r#"{"v":1.50}"#
        );
    }
}
