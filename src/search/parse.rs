//! A query string, taken in order with its repeats, parsed into a [`SearchPlan`].

use super::hash::param_hash;
use super::SearchError;
use crate::fhir::elements::ElementModel;
use crate::fhir::primitive;

/// Default and largest page size.
pub const DEFAULT_COUNT: i64 = 50;
pub const MAX_COUNT: i64 = 1000;

/// One token alternative (hl7.org/fhir/R4/search.html#token).
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

/// One search criterion; the alternatives inside it are ORed, the clauses are ANDed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    Id(Vec<String>),
    Token {
        param_hash: i64,
        values: Vec<TokenValue>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPlan {
    pub res_type: String,
    pub clauses: Vec<Clause>,
    pub count: i64,
    /// Resources after this key (the paging cursor).
    pub after: Option<i64>,
    /// The parameters that took effect, in order, for the self link.
    pub applied: Vec<(String, String)>,
}

/// Parameters handled by the REST layer, not by the search itself.
const FORMAT_PARAMS: &[&str] = &["_format", "_pretty", "_summary", "_elements"];

/// Parses a search. Unknown parameters are left out of the plan (and of the self link), or
/// refused when `strict` (`Prefer: handling=strict`).
pub fn parse_search(
    res_type: &str,
    pairs: &[(String, String)],
    strict: bool,
) -> Result<SearchPlan, SearchError> {
    let mut plan = SearchPlan {
        res_type: res_type.to_string(),
        clauses: Vec::new(),
        count: DEFAULT_COUNT,
        after: None,
        applied: Vec::new(),
    };
    for (name, value) in pairs {
        match name.as_str() {
            n if FORMAT_PARAMS.contains(&n) => continue,
            "_count" => {
                plan.count = value
                    .parse::<i64>()
                    .ok()
                    .filter(|c| *c >= 0)
                    .ok_or_else(|| invalid(name, "expected a non-negative integer"))?
                    .min(MAX_COUNT);
            }
            "_cursor" => {
                plan.after = Some(
                    value
                        .parse::<i64>()
                        .map_err(|_| invalid(name, "not a paging cursor of this server"))?,
                );
                continue; // paging state, not part of the query's identity
            }
            _ => match parse_criterion(res_type, name, value)? {
                Some(clause) => plan.clauses.push(clause),
                None if strict => return Err(SearchError::UnknownParameter(name.clone())),
                None => continue,
            },
        }
        plan.applied.push((name.clone(), value.clone()));
    }
    Ok(plan)
}

/// Parses the criteria of a conditional create, update or delete. Every parameter must be
/// understood: ignoring one would widen the match and touch the wrong resource.
pub fn parse_conditional(
    res_type: &str,
    pairs: &[(String, String)],
) -> Result<SearchPlan, SearchError> {
    let plan = parse_search(res_type, pairs, true)?;
    if plan.clauses.is_empty() {
        return Err(invalid(
            "",
            "a conditional interaction needs search criteria",
        ));
    }
    Ok(SearchPlan {
        count: 2, // enough to tell one match from many
        ..plan
    })
}

fn parse_criterion(res_type: &str, name: &str, value: &str) -> Result<Option<Clause>, SearchError> {
    match name {
        "_id" => {
            let ids = split_or(value);
            for id in &ids {
                primitive::check_text("id", id).map_err(|e| invalid(name, &e))?;
            }
            Ok(Some(Clause::Id(ids)))
        }
        "identifier"
            if ElementModel::r4()
                .element(&format!("{res_type}.identifier"))
                .is_some() =>
        {
            let values = split_or(value)
                .iter()
                .map(|v| token_value(v))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid(name, "expected [system]|[code] or code"))?;
            Ok(Some(Clause::Token {
                param_hash: param_hash(res_type, "identifier"),
                values,
            }))
        }
        _ => Ok(None),
    }
}

fn invalid(param: &str, reason: &str) -> SearchError {
    SearchError::InvalidValue {
        param: param.to_string(),
        reason: reason.to_string(),
    }
}

/// Splits on unescaped commas and removes the `\` escapes (search.html#escaping). An escaped
/// `|` is kept as NUL so token parsing does not split on it; `token_value` restores it.
fn split_or(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('|') => current.push('\u{0}'),
                Some(n @ (',' | '$' | '\\')) => current.push(n),
                Some(n) => {
                    current.push('\\');
                    current.push(n);
                }
                None => current.push('\\'),
            },
            ',' => out.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    out.push(current);
    out
}

fn token_value(v: &str) -> Option<TokenValue> {
    let unescape = |s: &str| s.replace('\u{0}', "|");
    let t = match v.split_once('|') {
        None if v.is_empty() => return None,
        None => TokenValue::Code(unescape(v)),
        Some(("", "")) => return None,
        Some(("", code)) => TokenValue::NoSystemCode(unescape(code)),
        Some((system, "")) => TokenValue::System(unescape(system)),
        Some((system, code)) => TokenValue::SystemCode(unescape(system), unescape(code)),
    };
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn identifier_forms_parse() {
        let plan = parse_search(
            "Patient",
            &pairs(&[(
                "identifier",
                "https://fhir.nhs.uk/Id/nhs-number|9991000011,x|,|y,z",
            )]),
            true,
        )
        .expect("parses");
        let Clause::Token { values, .. } = &plan.clauses[0] else {
            panic!("token clause expected")
        };
        assert_eq!(
            values,
            &vec![
                TokenValue::SystemCode(
                    "https://fhir.nhs.uk/Id/nhs-number".into(),
                    "9991000011".into()
                ),
                TokenValue::System("x".into()),
                TokenValue::NoSystemCode("y".into()),
                TokenValue::Code("z".into()),
            ]
        );
    }

    #[test]
    fn escaped_commas_and_bars_stay_in_the_value() {
        let plan =
            parse_search("Patient", &pairs(&[("identifier", r"a\|b|c\,d")]), true).expect("parses");
        let Clause::Token { values, .. } = &plan.clauses[0] else {
            panic!("token clause expected")
        };
        assert_eq!(
            values,
            &vec![TokenValue::SystemCode("a|b".into(), "c,d".into())]
        );
    }

    #[test]
    fn unknown_parameters_are_ignored_unless_strict() {
        let q = pairs(&[("colour", "blue"), ("_id", "a")]);
        let plan = parse_search("Patient", &q, false).expect("lenient");
        assert_eq!(plan.applied, pairs(&[("_id", "a")]));
        assert_eq!(
            parse_search("Patient", &q, true),
            Err(SearchError::UnknownParameter("colour".into()))
        );
    }

    #[test]
    fn conditional_criteria_must_be_understood() {
        assert!(parse_conditional("Patient", &pairs(&[("name", "x")])).is_err());
        assert!(parse_conditional("Patient", &pairs(&[])).is_err());
        assert!(parse_conditional("Patient", &pairs(&[("_id", "bad_id")])).is_err());
    }
}
