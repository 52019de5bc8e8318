//! Search values by parameter type (search.html#ptypes): prefixes, the range a date or a
//! decimal's precision implies, tokens, quantities, references.

use super::extract::split_reference;
use crate::interaction::parse_instant_range;

/// Comparison prefixes of number, date and quantity values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    Sa,
    Eb,
    Ap,
}

/// Splits a leading prefix off a value (`ge2020` → (Ge, "2020")); no prefix means `eq`.
pub fn prefix(value: &str) -> (Prefix, &str) {
    let table = [
        ("eq", Prefix::Eq),
        ("ne", Prefix::Ne),
        ("gt", Prefix::Gt),
        ("lt", Prefix::Lt),
        ("ge", Prefix::Ge),
        ("le", Prefix::Le),
        ("sa", Prefix::Sa),
        ("eb", Prefix::Eb),
        ("ap", Prefix::Ap),
    ];
    for (p, v) in table {
        if let Some(rest) = value.strip_prefix(p) {
            if rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.') {
                return (v, rest);
            }
        }
    }
    (Prefix::Eq, value)
}

/// A token alternative (search.html#token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenValue {
    /// `system|code`
    SystemCode(String, String),
    /// `code`: any system
    Code(String),
    /// `system|`: any code in the system
    System(String),
    /// `|code`: the code with no system
    NoSystemCode(String),
}

/// An escaped `|` travels as NUL from `split_or` to here.
pub fn token(v: &str) -> Option<TokenValue> {
    let unescape = |s: &str| s.replace('\u{0}', "|");
    Some(match v.split_once('|') {
        None if v.is_empty() => return None,
        None => TokenValue::Code(unescape(v)),
        Some(("", "")) => return None,
        Some(("", code)) => TokenValue::NoSystemCode(unescape(code)),
        Some((system, "")) => TokenValue::System(unescape(system)),
        Some((system, code)) => TokenValue::SystemCode(unescape(system), unescape(code)),
    })
}

/// A date value: the instants [low, high) it covers.
pub fn date(v: &str) -> Option<(Prefix, i64, i64)> {
    let (p, rest) = prefix(v);
    let (low, high) = parse_instant_range(rest)?;
    Some((p, low, high))
}

/// A number and the range its precision implies: `100` is [99.5, 100.5), `1.50` is
/// [1.495, 1.505) (search.html#number).
pub fn number(v: &str) -> Option<(Prefix, f64, f64, f64)> {
    let (p, rest) = prefix(v);
    let value: f64 = rest.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    let mantissa = rest.split(['e', 'E']).next().unwrap_or(rest);
    let exponent: i32 = rest
        .split_once(['e', 'E'])
        .and_then(|(_, e)| e.parse().ok())
        .unwrap_or(0);
    let decimals = mantissa.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
    let half = 0.5 * 10f64.powi(exponent - decimals);
    Some((p, value, value - half, value + half))
}

/// A quantity: `[prefix]number|system|code` or `[prefix]number||unit-or-code`.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantityValue {
    pub prefix: Prefix,
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub system: Option<String>,
    pub code: Option<String>,
}

pub fn quantity(v: &str) -> Option<QuantityValue> {
    let mut parts = v.splitn(3, '|');
    let (prefix, value, low, high) = number(parts.next()?)?;
    let system = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
    let code = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
    Some(QuantityValue {
        prefix,
        value,
        low,
        high,
        system,
        code,
    })
}

/// A reference value: `Type/id`, `id`, or an absolute URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReferenceValue {
    Local {
        target_type: Option<String>,
        id: String,
    },
    Url(String),
}

/// `base` is this server's FHIR base: references to it are local.
pub fn reference(v: &str, type_modifier: Option<&str>, base: &str) -> Option<ReferenceValue> {
    if v.is_empty() {
        return None;
    }
    let local = v
        .strip_prefix(base)
        .map(|r| r.trim_start_matches('/'))
        .unwrap_or(v);
    if let Some((t, id)) = split_reference(local).filter(|_| !local.contains("://")) {
        if type_modifier.is_some_and(|m| m != t) {
            return None;
        }
        crate::fhir::ResourceId::parse(id)?;
        return Some(ReferenceValue::Local {
            target_type: Some(t.to_string()),
            id: id.to_string(),
        });
    }
    if v.contains(':') {
        return Some(ReferenceValue::Url(v.to_string()));
    }
    crate::fhir::ResourceId::parse(v)?;
    Some(ReferenceValue::Local {
        target_type: type_modifier.map(str::to_string),
        id: v.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_split_off_only_before_a_value() {
        assert_eq!(prefix("ge2020"), (Prefix::Ge, "2020"));
        assert_eq!(prefix("2020"), (Prefix::Eq, "2020"));
        assert_eq!(prefix("ne-1"), (Prefix::Ne, "-1"));
        assert_eq!(prefix("sample"), (Prefix::Eq, "sample"));
    }

    #[test]
    fn a_decimal_precision_sets_its_range() {
        let (_, v, low, high) = number("100").expect("number");
        assert_eq!((v, low, high), (100.0, 99.5, 100.5));
        let (_, _, low, high) = number("1.50").expect("number");
        assert!((low - 1.495).abs() < 1e-12 && (high - 1.505).abs() < 1e-12);
        let (_, _, low, high) = number("1e2").expect("number");
        assert_eq!((low, high), (50.0, 150.0));
        assert!(number("abc").is_none());
    }

    #[test]
    fn quantities_and_references_parse() {
        let q = quantity("le5.4|http://unitsofmeasure.org|mg").expect("quantity");
        assert_eq!(
            (q.prefix, q.value, q.code.as_deref()),
            (Prefix::Le, 5.4, Some("mg"))
        );
        assert_eq!(
            quantity("5||mg").and_then(|q| q.code),
            Some("mg".to_string())
        );
        let base = "http://127.0.0.1:8080/fhir";
        assert_eq!(
            reference("http://127.0.0.1:8080/fhir/Patient/1", None, base),
            Some(ReferenceValue::Local {
                target_type: Some("Patient".into()),
                id: "1".into()
            })
        );
        assert_eq!(
            reference("1", Some("Patient"), base),
            Some(ReferenceValue::Local {
                target_type: Some("Patient".into()),
                id: "1".into()
            })
        );
        assert_eq!(reference("Group/1", Some("Patient"), base), None);
        assert!(matches!(
            reference("http://other/fhir/Patient/1", None, base),
            Some(ReferenceValue::Url(_))
        ));
    }
}
