//! Parsing a JSON body into a `Value` with the checks serde_json leaves out: a repeated key in
//! one object is an error (serde_json would keep the last silently).

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::outcome::{Issue, IssueType};

/// Parses JSON bytes, refusing malformed JSON and duplicate keys with an issue that says where.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, Issue> {
    let invalid =
        |e: serde_json::Error| Issue::error(IssueType::Structure, format!("invalid JSON: {e}"));
    let value: Value = serde_json::from_slice(bytes).map_err(invalid)?;
    // The walk that finds a repeated key builds no paths; only when it finds one does a
    // second walk work out where it is, for the message.
    let walk = |path| {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        KeyCheck { path }.deserialize(&mut de)
    };
    if walk(None).is_err() {
        if let Err(e) = walk(Some(String::new())) {
            return Err(invalid(e));
        }
    }
    Ok(value)
}

/// Walks the document without building it. `path` is kept only when it is asked for.
struct KeyCheck {
    path: Option<String>,
}

impl KeyCheck {
    fn child(&self, part: impl FnOnce(&str) -> String) -> KeyCheck {
        KeyCheck {
            path: self.path.as_deref().map(part),
        }
    }
}

/// An object key, borrowed from the input unless it holds escapes.
#[derive(PartialEq, Eq, Hash)]
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Objects with up to this many keys are checked for repeats by a scan, not a hash set.
const SCAN: usize = 32;

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
            .next_element_seed(self.child(|p| format!("{p}[{i}]")))?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<Key<'de>> = Vec::new();
        let mut many: HashSet<Key<'de>> = HashSet::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let child = self.child(|p| match p {
                "" => key.0.to_string(),
                p => format!("{p}.{}", key.0),
            });
            if seen.len() == SCAN {
                many.extend(seen.drain(..));
            }
            let repeated = if many.is_empty() {
                seen.contains(&key)
            } else {
                many.contains(&key)
            };
            if repeated {
                let at = child.path.as_deref().unwrap_or(&key.0);
                return Err(serde::de::Error::custom(format!("duplicate key '{at}'")));
            }
            if many.is_empty() {
                seen.push(key);
            } else {
                many.insert(key);
            }
            map.next_value_seed(child)?;
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
    fn repeats_are_found_in_big_objects_and_through_escapes() {
        let keys: Vec<String> = (0..100).map(|i| format!("\"k{i}\": {i}")).collect();
        let big = format!("{{{}, \"k7\": 0}}", keys.join(", "));
        let err = super::parse_strict(big.as_bytes()).unwrap_err();
        assert!(
            err.diagnostics.contains("duplicate key 'k7'"),
            "{}",
            err.diagnostics
        );
        let ok = format!("{{{}}}", keys.join(", "));
        assert!(super::parse_strict(ok.as_bytes()).is_ok());
        let escaped = super::parse_strict(br#"{"x": [{"a\u0062": 1, "ab": 2}]}"#).unwrap_err();
        assert!(
            escaped.diagnostics.contains("duplicate key 'x[0].ab'"),
            "{}",
            escaped.diagnostics
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
