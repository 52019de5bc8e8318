//! References between the entries of a transaction (bundle.html#references): `urn:uuid:`
//! and other fullUrls, and conditional references (`Patient?identifier=…`), rewritten to the
//! `Type/id` each came to name.

use serde_json::Value;

use crate::fhir::ResourceType;

/// Where each fullUrl and condition key of a transaction points (`Type/id`). Hashed with
/// foldhash: an import looks up every reference of 11,000 resources, each key a hundred
/// bytes that SipHash took 3% of the import to hash.
pub type ReferenceMap = foldhash::HashMap<String, String>;

/// `Patient?identifier=a%7Cb` and `Patient?identifier=a|b` name the same criteria: both
/// become the same key, the query decoded as a form and encoded again
/// (`encode(QueryParams::parse(..))`), written straight from the bytes: an import asks for
/// a key for every reference of every resource, a dozen a resource.
pub fn condition_key(rt: &str, query: &str) -> String {
    if already_a_key(query) {
        return [rt, "?", query].concat();
    }
    reencoded(rt, query)
}

/// `rt?query` with each name and value of the query decoded and encoded again.
fn reencoded(rt: &str, query: &str) -> String {
    let mut out = Vec::with_capacity(rt.len() + 1 + query.len() * 3 / 2);
    out.extend_from_slice(rt.as_bytes());
    out.push(b'?');
    let mut first = true;
    for pair in query.as_bytes().split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &[][..]),
        };
        if !first {
            out.push(b'&');
        }
        first = false;
        form_again(name, &mut out);
        out.push(b'=');
        form_again(value, &mut out);
    }
    encoded(out)
}

/// Whether decoding and encoding `query` again gives it back: the keys Carebridge writes
/// itself (an importer's references) are, and a transaction reads each many times.
/// Conservative: `false` for anything it is unsure of (`%` escapes of non-ASCII bytes).
/// In one pass over the bytes: every pair has one `=`, and its name and value hold only
/// what `form_encode` writes.
fn already_a_key(query: &str) -> bool {
    let upper_hex = |b: Option<&u8>| match b {
        Some(b @ b'0'..=b'9') => Some(b - b'0'),
        Some(b @ b'A'..=b'F') => Some(b - b'A' + 10),
        _ => None,
    };
    let bytes = query.as_bytes();
    // Whether the pair read so far has its `=`.
    let mut equals = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'&' if equals => equals = false,
            b'=' if !equals => equals = true,
            b if is_plain(b) || b == b'+' => {}
            b'%' => match (upper_hex(bytes.get(i + 1)), upper_hex(bytes.get(i + 2))) {
                (Some(h @ 0..=7), Some(l)) if !is_plain(h << 4 | l) && (h << 4 | l) != b' ' => {
                    i += 2
                }
                _ => return false,
            },
            _ => return false,
        }
        i += 1;
    }
    query.is_empty() || equals
}

/// One name or value of a form, decoded (`+` a space, `%XX` a byte; bytes that are not
/// UTF-8 become U+FFFD) and encoded as `form_urlencoded` does.
fn form_again(raw: &[u8], out: &mut Vec<u8>) {
    if !raw.iter().any(|b| matches!(b, b'%' | b'+')) {
        // Nothing to decode; a piece of a `&str` cut at ASCII bytes is UTF-8.
        return form_encode(raw, out);
    }
    let hex = |b: Option<&u8>| b.and_then(|b| (*b as char).to_digit(16)).map(|d| d as u8);
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let b = match raw[i] {
            b'+' => b' ',
            b'%' => match (hex(raw.get(i + 1)), hex(raw.get(i + 2))) {
                (Some(h), Some(l)) => {
                    i += 2;
                    h << 4 | l
                }
                _ => b'%',
            },
            b => b,
        };
        decoded.push(b);
        i += 1;
    }
    form_encode(String::from_utf8_lossy(&decoded).as_bytes(), out);
}

/// The bytes `application/x-www-form-urlencoded` keeps as they are: letters, digits, `*-._`.
const PLAIN: [bool; 256] = {
    let mut plain = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        plain[b] = c.is_ascii_alphanumeric() || matches!(c, b'*' | b'-' | b'.' | b'_');
        b += 1;
    }
    plain
};

fn is_plain(b: u8) -> bool {
    PLAIN[usize::from(b)]
}

/// `application/x-www-form-urlencoded` bytes: letters, digits and `*-._` as they are, a
/// space as `+`, anything else `%XX`. Into bytes, plain bytes found by a table: an import
/// encodes a quarter of a million identifier systems and values a batch, and pushing runs
/// of `&str` onto a `String` cost about a thousand instructions a value (callgrind).
pub fn form_encode(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(bytes.len());
    // Runs of plain bytes are copied whole.
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if is_plain(b) {
            continue;
        }
        out.extend_from_slice(&bytes[run..i]);
        run = i + 1;
        if b == b' ' {
            out.push(b'+');
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
    out.extend_from_slice(&bytes[run..]);
}

/// Text built by [`form_encode`] and from `&str` pieces, which is UTF-8 by construction.
pub fn encoded(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
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
pub fn rewrite(resource: &mut Value, map: &ReferenceMap) -> Result<(), String> {
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
                        // Written as its own key (an importer's references are), a
                        // conditional reference is found without working the key out.
                        if let Some(to) = map.get(s.as_str()) {
                            *s = to.clone();
                            continue;
                        }
                        let key = if k == "reference" {
                            as_condition(s)
                        } else {
                            None
                        };
                        if let Some(to) = key.as_ref().and_then(|k| map.get(k)) {
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
        let map: ReferenceMap = [
            ("urn:uuid:1".to_string(), "Patient/abc".to_string()),
            (
                condition_key("Practitioner", "identifier=a|b"),
                "Practitioner/p".to_string(),
            ),
        ]
        .into_iter()
        .collect();
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
    fn condition_keys_are_the_form_decoded_and_encoded_again() {
        use super::super::super::query::{encode, QueryParams};
        for q in [
            "identifier=https://fhir.nhs.uk/Id/nhs-number|9990000001",
            "identifier=https%3A%2F%2Ffhir.nhs.uk%2FId%2Fnhs-number%7C9990000001",
            "name=Zo%C3%AB+Smith&birthdate=ge2000-01-01",
            "name=Zoë Smith&&_count=1&flag",
            "a=%zz%4&b=%e9%&c=%C3%28&d=100%25+sure",
            "",
            "=x&y=",
            "code:not=a,b&subject.name=o'brien*~",
        ] {
            let key = format!("Patient?{}", encode(&QueryParams::parse(q.as_bytes()).0));
            assert_eq!(condition_key("Patient", q), key, "{q}");
            // A key is its own key (the shortcut for keys already written as keys).
            let query = &key["Patient?".len()..];
            let non_ascii = query.split('%').skip(1).any(|e| e.as_bytes()[0] >= b'8');
            assert!(already_a_key(query) || non_ascii, "{key}");
            assert_eq!(condition_key("Patient", query), key, "{key}");
        }
        // Near misses take the long way, and give what it gives.
        for q in [
            "a=%7c", "a=%41", "a=%20", "a=b=c", "a", "a=1&", "&a=1", "a=%7", "a=%C3%AB", "a=%",
        ] {
            assert!(!already_a_key(q), "{q}");
            assert_eq!(
                condition_key("Patient", q),
                format!("Patient?{}", encode(&QueryParams::parse(q.as_bytes()).0)),
                "{q}"
            );
        }
    }

    #[test]
    fn unresolved_placeholders_are_errors() {
        let mut o = json!({"subject": {"reference": "urn:uuid:missing"}});
        assert!(rewrite(&mut o, &ReferenceMap::default()).is_err());
        let mut c = json!({"subject": {"reference": "Patient?identifier=x"}});
        assert!(rewrite(&mut c, &ReferenceMap::default()).is_err());
    }
}
