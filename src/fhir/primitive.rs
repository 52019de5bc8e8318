//! R4 primitive syntax (hl7.org/fhir/R4/datatypes.html): the regular expressions of the
//! specification, plus the calendar check a regex cannot make (no 30 February).

use std::sync::OnceLock;

use regex::Regex;
use serde_json::Value;

const YEAR: &str = r"([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)";
const TZ: &str = r"(Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00))";
const TIME: &str = r"([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?";

struct Patterns {
    date: Regex,
    date_time: Regex,
    instant: Regex,
    time: Regex,
    code: Regex,
    id: Regex,
    oid: Regex,
    uuid: Regex,
    uri: Regex,
    base64: Regex,
    integer: Regex,
    decimal: Regex,
    unsigned: Regex,
    positive: Regex,
}

fn anchored(p: &str) -> Regex {
    Regex::new(&format!("^(?:{p})$")).expect("primitive patterns compile")
}

fn patterns() -> &'static Patterns {
    static P: OnceLock<Patterns> = OnceLock::new();
    P.get_or_init(|| Patterns {
        date: anchored(&format!(
            r"{YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?"
        )),
        date_time: anchored(&format!(
            r"{YEAR}(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1])(T{TIME}{TZ})?)?)?"
        )),
        instant: anchored(&format!(
            r"{YEAR}-(0[1-9]|1[0-2])-(0[1-9]|[1-2][0-9]|3[0-1])T{TIME}{TZ}"
        )),
        time: anchored(TIME),
        code: anchored(r"[^\s]+( [^\s]+)*"),
        id: anchored(r"[A-Za-z0-9\-\.]{1,64}"),
        oid: anchored(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+"),
        uuid: anchored(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
        uri: anchored(r"\S*"),
        // The specification's pattern leaves out '/', which base64 uses.
        base64: anchored(r"(\s*([0-9a-zA-Z+/=]){4}\s*)+"),
        integer: anchored(r"-?(0|[1-9][0-9]*)"),
        decimal: anchored(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?"),
        unsigned: anchored(r"0|[1-9][0-9]*"),
        positive: anchored(r"\+?[1-9][0-9]*"),
    })
}

/// Checks one primitive value (as it stands in FHIR JSON) against its R4 type. The error says
/// what was expected, for the OperationOutcome's diagnostics.
pub fn check(type_name: &str, value: &Value) -> Result<(), String> {
    let p = patterns();
    match type_name {
        "boolean" => value
            .as_bool()
            .map(|_| ())
            .ok_or_else(|| "expected a JSON boolean".to_string()),
        "integer" | "unsignedInt" | "positiveInt" => {
            let Value::Number(n) = value else {
                return Err(format!("expected a JSON number ({type_name})"));
            };
            let text = n.to_string();
            let ok = match type_name {
                "integer" => p.integer.is_match(&text),
                "unsignedInt" => p.unsigned.is_match(&text),
                _ => p.positive.is_match(&text),
            };
            if !ok || text.parse::<i32>().is_err() {
                return Err(format!("'{text}' is not a valid {type_name}"));
            }
            Ok(())
        }
        "decimal" => match value {
            Value::Number(n) if p.decimal.is_match(&n.to_string()) => Ok(()),
            Value::Number(n) => Err(format!("'{n}' is not a valid decimal")),
            _ => Err("expected a JSON number (decimal)".to_string()),
        },
        _ => {
            let Value::String(s) = value else {
                return Err(format!("expected a JSON string ({type_name})"));
            };
            check_text(type_name, s)
        }
    }
}

/// Checks a primitive that FHIR JSON writes as a string.
pub fn check_text(type_name: &str, s: &str) -> Result<(), String> {
    let p = patterns();
    if s.is_empty() {
        return Err("empty strings are not allowed; leave the element out".to_string());
    }
    let ok = match type_name {
        "date" => p.date.is_match(s) && calendar_ok(s),
        "dateTime" => p.date_time.is_match(s) && calendar_ok(s),
        "instant" => p.instant.is_match(s) && calendar_ok(s),
        "time" => p.time.is_match(s),
        "code" => p.code.is_match(s),
        "id" => p.id.is_match(s),
        "oid" => p.oid.is_match(s),
        "uuid" => p.uuid.is_match(s),
        "uri" | "url" | "canonical" => p.uri.is_match(s),
        "base64Binary" => p.base64.is_match(s),
        "xhtml" => s.trim_start().starts_with("<div"),
        // string, markdown, System.String: any non-empty text
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("'{s}' is not a valid {type_name}"))
    }
}

/// A date that matches the pattern may still not exist (1974-02-30).
fn calendar_ok(s: &str) -> bool {
    if s.len() < 10 {
        return true;
    }
    chrono::NaiveDate::parse_from_str(&s[..10], "%Y-%m-%d").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_follow_the_r4_pattern_and_the_calendar() {
        for ok in ["1974", "1974-12", "1974-12-25"] {
            assert!(check_text("date", ok).is_ok(), "{ok}");
        }
        for bad in [
            "1974-13-45",
            "1974-02-30",
            "74-12-25",
            "1974-12-25T10:00:00Z",
            "",
        ] {
            assert!(check_text("date", bad).is_err(), "{bad}");
        }
        assert!(check_text("dateTime", "2024-05-01T10:00:00+01:00").is_ok());
        assert!(check_text("dateTime", "2024-05-01T10:00").is_err());
        assert!(check_text("instant", "2024-05-01").is_err());
    }

    #[test]
    fn numbers_keep_their_type_rules() {
        assert!(check("integer", &json!(3)).is_ok());
        assert!(check("integer", &json!("3")).is_err());
        assert!(check("positiveInt", &json!(0)).is_err());
        assert!(check("unsignedInt", &json!(-1)).is_err());
        assert!(check("integer", &json!(1.5)).is_err());
        assert!(check("decimal", &json!(1.5)).is_ok());
        assert!(check("boolean", &json!("true")).is_err());
    }

    #[test]
    fn ids_and_codes_are_checked() {
        assert!(check_text("id", "abc-1.2").is_ok());
        assert!(check_text("id", "a_b").is_err());
        assert!(check_text("id", &"a".repeat(65)).is_err());
        assert!(check_text("code", "male").is_ok());
        assert!(check_text("code", " male").is_err());
    }
}
