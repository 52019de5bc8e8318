//! A query string, taken in order with its repeats, parsed into a [`SearchPlan`]
//! (search.html): criteria with modifiers and prefixes, chains, `_has`, and the result
//! parameters `_count`, `_sort`, `_include`, `_revinclude`, `_total`.

use super::params::{ParamType, Registry, SearchParam, Stored};
use super::value::{self, Prefix, QuantityValue, ReferenceValue, TokenValue};
use super::SearchError;
use crate::fhir::primitive;

/// The `res_type` of a system-wide search (`GET [base]?_type=…`): only the parameters of
/// every resource apply.
pub const SYSTEM: &str = "Resource";

/// Default and largest page size.
pub const DEFAULT_COUNT: i64 = 50;
pub const MAX_COUNT: i64 = 1000;
/// How deep `_include:iterate` goes.
pub const MAX_ITERATE: usize = 4;

/// The search modifiers (search.html#modifiers) the server supports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modifier {
    None,
    Exact,
    Contains,
    Text,
    Not,
    Identifier,
    Above,
    Below,
    /// `subject:Patient=…`
    Type(String),
}

/// One alternative of a criterion; the alternatives are ORed.
#[derive(Debug, Clone, PartialEq)]
pub enum Alt {
    String(String),
    Token(TokenValue),
    Date(Prefix, i64, i64),
    Number(Prefix, f64, f64, f64),
    Quantity(QuantityValue),
    Reference(ReferenceValue),
    Uri(String),
    /// A composite's code and its second component.
    Composite(TokenValue, Box<Alt>),
}

/// The parameter a criterion is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamRef {
    pub code: String,
    pub param_type: ParamType,
    pub hash: i64,
    /// Where its rows are.
    pub stored: Stored,
    /// The key of a reference parameter's `:identifier` rows.
    pub identifier_hash: i64,
}

impl ParamRef {
    fn of(p: &SearchParam) -> ParamRef {
        ParamRef {
            code: p.code.clone(),
            param_type: p.param_type,
            hash: p.hash,
            stored: p.stored.clone(),
            identifier_hash: super::extract::identifier_hash(p),
        }
    }
}

/// One criterion; criteria are ANDed.
#[derive(Debug, Clone, PartialEq)]
pub enum Clause {
    Id(Vec<String>),
    /// `_lastUpdated`, answered from the resource table: (prefix, low, high) alternatives.
    LastUpdated(Vec<(Prefix, i64, i64)>),
    Match {
        param: ParamRef,
        modifier: Modifier,
        alts: Vec<Alt>,
    },
    Missing {
        param: ParamRef,
        missing: bool,
    },
    /// `subject:Patient.name=x`: resources whose reference points at a resource matching
    /// `inner`, one alternative per possible target type.
    Chain {
        param: ParamRef,
        targets: Vec<(String, Box<Clause>)>,
    },
    /// `_has:Observation:patient:code=x`: resources that a matching resource references.
    Has {
        source_type: String,
        param: ParamRef,
        inner: Box<Clause>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SortKey {
    Id,
    LastUpdated,
    Param(ParamRef),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    pub key: SortKey,
    pub descending: bool,
}

/// `_include` / `_revinclude`: `Source:param[:Target]`, or `Source:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    pub source_type: String,
    /// The reference parameters followed (all of the source type's for `*`).
    pub params: Vec<ParamRef>,
    pub target_type: Option<String>,
    pub iterate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Total {
    None,
    Accurate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchPlan {
    /// The type searched, or [`SYSTEM`].
    pub res_type: String,
    /// `_type` of a system search: the types to search (all when empty).
    pub types: Vec<String>,
    pub clauses: Vec<Clause>,
    pub count: i64,
    /// Resources after this key (the paging cursor of unsorted searches).
    pub after: Option<i64>,
    pub sort: Vec<Sort>,
    pub includes: Vec<Include>,
    pub revincludes: Vec<Include>,
    pub total: Total,
    /// `Patient/[id]/[type]`: only resources in this patient's compartment.
    pub compartment: Option<String>,
    /// A page of a stored snapshot: (snapshot id, offset).
    pub snapshot: Option<(String, i64)>,
    /// The parameters that took effect, in order, for the self link.
    pub applied: Vec<(String, String)>,
}

/// Parameters handled by the REST layer, not by the search itself.
const FORMAT_PARAMS: &[&str] = &["_format", "_pretty", "_summary", "_elements"];

fn invalid(param: &str, reason: &str) -> SearchError {
    SearchError::InvalidValue {
        param: param.to_string(),
        reason: reason.to_string(),
    }
}

/// Parses a search. Unknown parameters are left out of the plan (and of the self link), or
/// refused when `strict` (`Prefer: handling=strict`). `base` is this server's FHIR base,
/// so references to it count as local.
pub fn parse_search(
    res_type: &str,
    pairs: &[(String, String)],
    strict: bool,
    base: &str,
) -> Result<SearchPlan, SearchError> {
    let mut plan = SearchPlan {
        res_type: res_type.to_string(),
        types: Vec::new(),
        clauses: Vec::new(),
        count: DEFAULT_COUNT,
        after: None,
        sort: Vec::new(),
        includes: Vec::new(),
        revincludes: Vec::new(),
        total: Total::Accurate,
        compartment: None,
        snapshot: None,
        applied: Vec::new(),
    };
    let mut snapshot_id = None;
    let mut offset = 0;
    for (name, value) in pairs {
        let key = name.split(':').next().unwrap_or("");
        match key {
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
                continue;
            }
            "_snapshot" => {
                snapshot_id = Some(value.clone());
                continue;
            }
            "_offset" => {
                offset = value
                    .parse::<i64>()
                    .ok()
                    .filter(|o| *o >= 0)
                    .ok_or_else(|| invalid(name, "expected a non-negative integer"))?;
                continue;
            }
            "_total" => {
                plan.total = match value.as_str() {
                    "none" => Total::None,
                    "estimate" | "accurate" => Total::Accurate,
                    _ => return Err(invalid(name, "expected none, estimate or accurate")),
                };
            }
            "_sort" => plan.sort = parse_sort(res_type, value)?,
            "_type" if res_type == SYSTEM => {
                for t in value.split(',') {
                    if crate::fhir::ResourceType::parse(t).is_none() {
                        return Err(invalid(name, &format!("unknown resource type '{t}'")));
                    }
                    plan.types.push(t.to_string());
                }
            }
            "_include" | "_revinclude" => {
                let iterate = name.ends_with(":iterate") || name.ends_with(":recurse");
                let inc = parse_include(name, value, iterate)?;
                if key == "_include" {
                    plan.includes.push(inc);
                } else {
                    plan.revincludes.push(inc);
                }
            }
            _ => match parse_criterion(res_type, name, value, base) {
                Ok(clause) => plan.clauses.push(clause),
                Err(SearchError::UnknownParameter(_)) if !strict => continue,
                Err(e) => return Err(e),
            },
        }
        plan.applied.push((name.clone(), value.clone()));
    }
    plan.snapshot = snapshot_id.map(|id| (id, offset));
    Ok(plan)
}

/// Parses the criteria of a conditional create, update or delete. Every parameter must be
/// understood: ignoring one would widen the match and touch the wrong resource.
pub fn parse_conditional(
    res_type: &str,
    pairs: &[(String, String)],
    base: &str,
) -> Result<SearchPlan, SearchError> {
    let plan = parse_search(res_type, pairs, true, base)?;
    if plan.clauses.is_empty() {
        return Err(invalid(
            "",
            "a conditional interaction needs search criteria",
        ));
    }
    Ok(SearchPlan { count: 2, ..plan })
}

fn parse_sort(res_type: &str, value: &str) -> Result<Vec<Sort>, SearchError> {
    value
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            let (descending, code) = match s.strip_prefix('-') {
                Some(c) => (true, c),
                None => (false, s),
            };
            let key = match code {
                "_id" => SortKey::Id,
                "_lastUpdated" => SortKey::LastUpdated,
                c => {
                    let registry = Registry::r4();
                    let p = registry
                        .get(res_type, c)
                        .filter(|p| p.param_type != ParamType::Composite)
                        .ok_or_else(|| invalid("_sort", &format!("cannot sort by '{c}'")))?;
                    SortKey::Param(ParamRef::of(p))
                }
            };
            Ok(Sort { key, descending })
        })
        .collect()
}

fn parse_include(name: &str, value: &str, iterate: bool) -> Result<Include, SearchError> {
    let mut parts = value.split(':');
    let source = parts.next().unwrap_or("");
    let code = parts
        .next()
        .ok_or_else(|| invalid(name, "expected Source:parameter[:Target]"))?;
    let target_type = parts.next().map(str::to_string);
    let registry = Registry::r4();
    if crate::fhir::ResourceType::parse(source).is_none() {
        return Err(invalid(name, &format!("unknown resource type '{source}'")));
    }
    let params: Vec<ParamRef> = if code == "*" {
        registry
            .of_type(source)
            .filter(|p| p.param_type == ParamType::Reference)
            .map(ParamRef::of)
            .collect()
    } else {
        let p = registry
            .get(source, code)
            .filter(|p| p.param_type == ParamType::Reference)
            .ok_or_else(|| {
                invalid(
                    name,
                    &format!("'{source}:{code}' is not a reference parameter"),
                )
            })?;
        vec![ParamRef::of(p)]
    };
    Ok(Include {
        source_type: source.to_string(),
        params,
        target_type,
        iterate,
    })
}

/// One criterion: `code[:modifier]`, a chain `ref[:Type].rest`, or `_has:Type:ref:rest`.
pub fn parse_criterion(
    res_type: &str,
    name: &str,
    value: &str,
    base: &str,
) -> Result<Clause, SearchError> {
    let registry = Registry::r4();
    if let Some(rest) = name.strip_prefix("_has:") {
        let mut parts = rest.splitn(3, ':');
        let (Some(source), Some(ref_code), Some(inner)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid(name, "expected _has:Type:reference:parameter"));
        };
        let param = registry
            .get(source, ref_code)
            .filter(|p| p.param_type == ParamType::Reference)
            .ok_or_else(|| SearchError::UnknownParameter(name.to_string()))?;
        let inner = parse_criterion(source, inner, value, base)?;
        return Ok(Clause::Has {
            source_type: source.to_string(),
            param: ParamRef::of(param),
            inner: Box::new(inner),
        });
    }
    if let Some((head, tail)) = name.split_once('.') {
        let (code, type_modifier) = match head.split_once(':') {
            Some((c, t)) => (c, Some(t)),
            None => (head, None),
        };
        let param = registry
            .get(res_type, code)
            .filter(|p| p.param_type == ParamType::Reference)
            .ok_or_else(|| SearchError::UnknownParameter(name.to_string()))?;
        let candidates: Vec<String> = match type_modifier {
            Some(t) => vec![t.to_string()],
            None => param.targets.clone(),
        };
        let next_code = tail.split(['.', ':']).next().unwrap_or("");
        let mut targets = Vec::new();
        for t in candidates {
            if next_code == "_has" || next_code == "_id" || registry.get(&t, next_code).is_some() {
                targets.push((t.clone(), Box::new(parse_criterion(&t, tail, value, base)?)));
            }
        }
        if targets.is_empty() {
            return Err(SearchError::UnknownParameter(name.to_string()));
        }
        return Ok(Clause::Chain {
            param: ParamRef::of(param),
            targets,
        });
    }
    let (code, modifier) = match name.split_once(':') {
        Some((c, m)) => (c, Some(m)),
        None => (name, None),
    };
    if code == "_id" {
        let ids = split_or(value);
        for id in &ids {
            primitive::check_text("id", id).map_err(|e| invalid(name, &e))?;
        }
        return Ok(Clause::Id(ids));
    }
    if code == "_lastUpdated" && modifier.is_none() {
        let alts = split_or(value)
            .iter()
            .map(|v| {
                value::date(v).ok_or_else(|| invalid(name, &format!("'{v}' is not a valid date")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Clause::LastUpdated(alts));
    }
    let param = registry
        .get(res_type, code)
        .ok_or_else(|| SearchError::UnknownParameter(name.to_string()))?;
    let pref = ParamRef::of(param);
    if modifier == Some("missing") {
        let missing = match value {
            "true" => true,
            "false" => false,
            _ => return Err(invalid(name, "expected true or false")),
        };
        return Ok(Clause::Missing {
            param: pref,
            missing,
        });
    }
    let modifier = parse_modifier(param, modifier).ok_or_else(|| {
        invalid(
            name,
            &format!(
                "the modifier is not supported on a {:?} parameter",
                param.param_type
            ),
        )
    })?;
    let alts = split_or(value)
        .iter()
        .map(|v| {
            parse_alt(param, &modifier, v, base).ok_or_else(|| {
                invalid(
                    name,
                    &format!(
                        "'{}' is not a valid {:?} value",
                        v.replace('\u{0}', "|"),
                        param.param_type
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Clause::Match {
        param: pref,
        modifier,
        alts,
    })
}

fn parse_modifier(param: &SearchParam, m: Option<&str>) -> Option<Modifier> {
    use ParamType as T;
    Some(match (param.param_type, m) {
        (_, None) => Modifier::None,
        (T::String, Some("exact")) => Modifier::Exact,
        (T::String, Some("contains")) => Modifier::Contains,
        (T::Token, Some("text")) => Modifier::Text,
        (T::Token, Some("not")) => Modifier::Not,
        (T::Reference, Some("identifier")) => Modifier::Identifier,
        (T::Uri, Some("above")) => Modifier::Above,
        (T::Uri, Some("below")) => Modifier::Below,
        (T::Reference, Some(t)) if crate::fhir::ResourceType::parse(t).is_some() => {
            Modifier::Type(t.to_string())
        }
        _ => return None,
    })
}

fn parse_alt(param: &SearchParam, modifier: &Modifier, v: &str, base: &str) -> Option<Alt> {
    use ParamType as T;
    let plain = || v.replace('\u{0}', "|");
    Some(match (param.param_type, modifier) {
        (T::String, _) | (T::Token, Modifier::Text) if !v.is_empty() => Alt::String(plain()),
        (T::Token, _) | (T::Reference, Modifier::Identifier) => Alt::Token(value::token(v)?),
        (T::Date, _) => {
            let (p, low, high) = value::date(v)?;
            Alt::Date(p, low, high)
        }
        (T::Number, _) => {
            let (p, n, low, high) = value::number(v)?;
            Alt::Number(p, n, low, high)
        }
        (T::Quantity, _) => Alt::Quantity(value::quantity(&plain())?),
        (T::Reference, m) => {
            // A bare id names the target type when the parameter has only one
            // (`patient=p1` is `Patient/p1`), which lets a patient pin the search.
            let t = match m {
                Modifier::Type(t) => Some(t.as_str()),
                _ if param.targets.len() == 1 => param.targets.first().map(String::as_str),
                _ => None,
            };
            Alt::Reference(value::reference(&plain(), t, base)?)
        }
        (T::Uri, _) if !v.is_empty() => Alt::Uri(plain()),
        (T::Composite, _) => {
            let (first, second) = v.split_once('$')?;
            let [_, c2] = param.components.as_slice() else {
                return None;
            };
            let second = match c2.param_type {
                T::Token => Alt::Token(value::token(second)?),
                T::Quantity => Alt::Quantity(value::quantity(&second.replace('\u{0}', "|"))?),
                T::Date => {
                    let (p, low, high) = value::date(second)?;
                    Alt::Date(p, low, high)
                }
                T::String => Alt::String(second.to_string()),
                _ => return None,
            };
            Alt::Composite(value::token(first)?, Box::new(second))
        }
        _ => return None,
    })
}

/// Splits on unescaped commas and removes the `\` escapes (search.html#escaping). An escaped
/// `|` is kept as NUL so token parsing does not split on it; `value::token` restores it.
pub fn split_or(value: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://localhost/fhir";

    fn pairs(q: &[(&str, &str)]) -> Vec<(String, String)> {
        q.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    fn alts(plan: &SearchPlan) -> &Vec<Alt> {
        match &plan.clauses[0] {
            Clause::Match { alts, .. } => alts,
            other => panic!("a match clause expected, not {other:?}"),
        }
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
            BASE,
        )
        .expect("parses");
        assert_eq!(
            alts(&plan),
            &vec![
                Alt::Token(TokenValue::SystemCode(
                    "https://fhir.nhs.uk/Id/nhs-number".into(),
                    "9991000011".into()
                )),
                Alt::Token(TokenValue::System("x".into())),
                Alt::Token(TokenValue::NoSystemCode("y".into())),
                Alt::Token(TokenValue::Code("z".into())),
            ]
        );
    }

    #[test]
    fn escaped_commas_and_bars_stay_in_the_value() {
        let plan = parse_search(
            "Patient",
            &pairs(&[("identifier", r"a\|b|c\,d")]),
            true,
            BASE,
        )
        .expect("parses");
        assert_eq!(
            alts(&plan),
            &vec![Alt::Token(TokenValue::SystemCode(
                "a|b".into(),
                "c,d".into()
            ))]
        );
    }

    #[test]
    fn unknown_parameters_are_ignored_unless_strict() {
        let q = pairs(&[("colour", "blue"), ("_id", "a")]);
        let plan = parse_search("Patient", &q, false, BASE).expect("lenient");
        assert_eq!(plan.applied, pairs(&[("_id", "a")]));
        assert_eq!(
            parse_search("Patient", &q, true, BASE),
            Err(SearchError::UnknownParameter("colour".into()))
        );
    }

    #[test]
    fn conditional_criteria_must_be_understood() {
        assert!(parse_conditional("Patient", &pairs(&[("colour", "x")]), BASE).is_err());
        assert!(parse_conditional("Patient", &pairs(&[]), BASE).is_err());
        assert!(parse_conditional("Patient", &pairs(&[("_id", "bad_id")]), BASE).is_err());
    }

    #[test]
    fn chains_and_has_nest() {
        let plan = parse_search(
            "Observation",
            &pairs(&[("subject:Patient.organization.name", "GP")]),
            true,
            BASE,
        )
        .expect("chain");
        let Clause::Chain { targets, .. } = &plan.clauses[0] else {
            panic!("chain expected")
        };
        assert_eq!(targets[0].0, "Patient");
        assert!(matches!(*targets[0].1, Clause::Chain { .. }));
        let has = parse_search(
            "Patient",
            &pairs(&[(
                "_has:Observation:patient:_has:Provenance:target:agent",
                "Practitioner/1",
            )]),
            true,
            BASE,
        )
        .expect("has");
        let Clause::Has { inner, .. } = &has.clauses[0] else {
            panic!("has expected")
        };
        assert!(matches!(**inner, Clause::Has { .. }));
    }

    #[test]
    fn bad_values_and_modifiers_name_the_parameter() {
        let e =
            parse_search("Observation", &pairs(&[("date", "2024-13")]), false, BASE).unwrap_err();
        assert_eq!(e.parameter(), "date");
        let e =
            parse_search("Observation", &pairs(&[("date", "xx2024")]), false, BASE).unwrap_err();
        assert_eq!(e.parameter(), "date");
        let e = parse_search("Patient", &pairs(&[("name:text", "x")]), false, BASE).unwrap_err();
        assert_eq!(e.parameter(), "name:text");
        let e = parse_search(
            "Observation",
            &pairs(&[("subject", "Patient/bad id")]),
            false,
            BASE,
        )
        .unwrap_err();
        assert_eq!(e.parameter(), "subject");
    }
}
