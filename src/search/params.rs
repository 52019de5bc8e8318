//! The search parameters the server offers: HL7's R4 definitions (profiles/search-parameters.json),
//! each expression parsed once at start-up. A parameter whose expression uses FHIRPath the
//! evaluator does not cover is refused, with a warning naming it, and is not offered.

use foldhash::{HashMap, HashMapExt};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use serde::Deserialize;

use super::fhirpath::{Expression, Path, Step};
use super::hash::param_hash;
use crate::fhir::elements::ElementModel;

const DEFINITIONS: &str = include_str!("../../profiles/search-parameters.json");
const COMPARTMENT: &str = include_str!("../../profiles/compartment-patient.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ParamType {
    Number,
    Date,
    String,
    Token,
    Reference,
    Composite,
    Quantity,
    Uri,
    Special,
}

impl ParamType {
    fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "number" => ParamType::Number,
            "date" => ParamType::Date,
            "string" => ParamType::String,
            "token" => ParamType::Token,
            "reference" => ParamType::Reference,
            "composite" => ParamType::Composite,
            "quantity" => ParamType::Quantity,
            "uri" => ParamType::Uri,
            "special" => ParamType::Special,
            _ => return None,
        })
    }
}

/// One component of a composite parameter: the parameter it refers to, and its expression
/// relative to the composite's element.
#[derive(Debug, Clone, PartialEq)]
pub struct Component {
    pub param_type: ParamType,
    pub expression: Expression,
}

/// A search parameter as it applies to one resource type.
#[derive(Debug, Clone)]
pub struct SearchParam {
    pub code: String,
    pub url: String,
    pub param_type: ParamType,
    pub expression: Expression,
    pub targets: Vec<String>,
    pub components: Vec<Component>,
    /// The key of this (type, parameter) in the index tables.
    pub hash: i64,
    /// Where the index tables keep this parameter's rows.
    pub stored: Stored,
}

/// The rows that answer a parameter: its own, or, for a parameter whose values are those of
/// others of its type, theirs. `patient` (`Observation.subject.where(resolve() is Patient)`)
/// is `subject`'s rows with Patient targets; `combo-code` (`Observation.code |
/// Observation.component.code`) is the rows of `code` and `component-code`. A derived
/// parameter's rows are not written again: for an Observation that is two rows of seven.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub params: Vec<i64>,
    /// A derived reference parameter: only the rows of its base with this target type.
    pub target_type: Option<String>,
    /// Composites answered by joining their components' rows (see [`Joined`]), ORed with
    /// the rows of `params`.
    pub joined: Vec<Joined>,
}

/// A composite whose element is the resource itself (`Observation.code-value-quantity`,
/// `Observation` with components `code` and `value.ofType(Quantity)`): one element per
/// resource, so a resource matches when a row of the first component's parameter and a row
/// of the second's match together. Those rows, joined by resource, answer it, and it keeps
/// none of its own (two of the fourteen index rows of an imported Observation with two
/// codings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// Each component's parameter type and the key of the parameter whose rows it reads.
    pub parts: [(ParamType, i64); 2],
}

impl Stored {
    fn own(hash: i64) -> Stored {
        Stored {
            params: vec![hash],
            target_type: None,
            joined: Vec::new(),
        }
    }
}

impl SearchParam {
    /// Whether this parameter's rows are other parameters' (see [`Stored`]).
    pub fn derived(&self) -> bool {
        self.stored != Stored::own(self.hash)
    }
}

/// The parameter types whose rows depend on nothing but the values selected and the
/// parameter's key (and a composite's components, compared too), so a union of parameters
/// has the union of their rows.
fn plain_rows(t: ParamType) -> bool {
    matches!(
        t,
        ParamType::Token
            | ParamType::String
            | ParamType::Date
            | ParamType::Number
            | ParamType::Quantity
            | ParamType::Uri
            | ParamType::Composite
    )
}

/// Finds the derived parameters of one resource type (see [`Stored`]): a reference
/// parameter narrowed to one target type is its base's rows with that target; a parameter of
/// several paths whose paths are exactly those of other parameters of its type, taken
/// together without overlap, is their rows. `combo-value-quantity` (four paths) is
/// `value-quantity`'s two and `component-value-quantity`'s two. Parameters are settled in
/// order of how many paths they have, fewest first, and only a parameter with fewer paths and
/// rows of its own is a base, so no base is itself derived. Common parameters (`_tag`, …),
/// keyed as `Resource`, are neither.
fn derive(res_type: &str, params: &mut HashMap<String, SearchParam>, model: &ElementModel) {
    // Each parameter's paths, where every one starts at this type and resolves nothing.
    let paths_of = |p: &SearchParam| -> Option<Vec<Path>> {
        let paths: Vec<Path> = p.expression.paths_for(res_type).cloned().collect();
        let own = |x: &Path| {
            x.root == res_type && !x.steps.iter().any(|s| matches!(s, Step::ResolvesTo(_)))
        };
        (!paths.is_empty() && paths.iter().all(own)).then_some(paths)
    };
    // Fewest paths first, then by code: the same bases on every start of the server.
    let mut order: Vec<(&String, Option<Vec<Path>>)> =
        params.iter().map(|(c, p)| (c, paths_of(p))).collect();
    order.sort_by_key(|(c, paths)| (paths.as_ref().map_or(0, Vec::len), (*c).clone()));
    let mut stored: HashMap<&String, Stored> = HashMap::new();
    for (i, (code, paths)) in order.iter().enumerate() {
        let p = &params[*code];
        let same_kind = |b: &SearchParam| {
            b.param_type == p.param_type && b.components == p.components && b.hash != p.hash
        };
        let found = match (p.param_type, paths.as_deref()) {
            (ParamType::Reference, None) => {
                let all: Vec<&Path> = p.expression.paths_for(res_type).collect();
                let [only] = all.as_slice() else { continue };
                let Some((Step::ResolvesTo(target), rest)) = only.steps.split_last() else {
                    continue;
                };
                let base = Path {
                    root: only.root.clone(),
                    steps: rest.to_vec(),
                };
                // A canonical or uri value gives a reference row too, but never passes
                // `resolve() is T`: only a Reference element's rows are the same.
                if only.root != res_type
                    || base.element_types(model) != Some(&["Reference".to_string()][..])
                {
                    continue;
                }
                let base_hash = order.iter().find_map(|(c, ps)| {
                    let b = &params[*c];
                    (ps.as_deref() == Some(std::slice::from_ref(&base))
                        && same_kind(b)
                        && !stored.contains_key(c))
                    .then_some(b.hash)
                });
                base_hash.map(|h| Stored {
                    params: vec![h],
                    target_type: Some(target.clone()),
                    joined: Vec::new(),
                })
            }
            (t, Some(mine)) if plain_rows(t) && mine.len() > 1 => {
                // The largest bases first, each only where it overlaps none taken.
                let mut candidates: Vec<(&Vec<Path>, i64)> = order[..i]
                    .iter()
                    .filter(|(c, _)| !stored.contains_key(c))
                    .filter_map(|(c, ps)| {
                        let b = &params[*c];
                        let ps = ps.as_ref()?;
                        (same_kind(b)
                            && ps.len() < mine.len()
                            && ps.iter().all(|x| mine.contains(x)))
                        .then_some((ps, b.hash))
                    })
                    .collect();
                candidates.sort_by_key(|(ps, _)| std::cmp::Reverse(ps.len()));
                let mut covered: Vec<&Path> = Vec::new();
                let mut hashes = Vec::new();
                for (ps, h) in candidates {
                    if ps.iter().all(|x| !covered.contains(&x)) {
                        covered.extend(ps.iter());
                        hashes.push(h);
                    }
                }
                (covered.len() == mine.len()).then(|| {
                    hashes.sort_unstable();
                    Stored {
                        params: hashes,
                        target_type: None,
                        joined: Vec::new(),
                    }
                })
            }
            _ => None,
        };
        if let Some(s) = found {
            stored.insert(code, s);
        }
    }
    // Composites of the resource itself, whose components read parameters with rows of their
    // own (see [`Joined`]); a parameter derived from one reads its join instead of its rows.
    let mut joins: Vec<(&String, i64, Joined)> = Vec::new();
    let whole = [Path {
        root: res_type.to_string(),
        steps: Vec::new(),
    }];
    for (code, paths) in &order {
        let p = &params[*code];
        if p.param_type != ParamType::Composite
            || stored.contains_key(code)
            || paths.as_deref() != Some(&whole[..])
        {
            continue;
        }
        let base_of = |c: &Component| {
            let mine: Vec<Path> = c
                .expression
                .0
                .iter()
                .map(|x| Path {
                    root: res_type.to_string(),
                    steps: std::iter::once(Step::Child(x.root.clone()))
                        .chain(x.steps.iter().cloned())
                        .collect(),
                })
                .collect();
            order.iter().find_map(|(b, ps)| {
                let base = &params[*b];
                let ps = ps.as_ref()?;
                // Its paths are the component's, and any other gives no rows of its type.
                let same = base.param_type == c.param_type
                    && base.components.is_empty()
                    && !stored.contains_key(b)
                    && mine.iter().all(|x| ps.contains(x))
                    && ps.iter().filter(|x| !mine.contains(x)).all(|x| {
                        matches!(x.steps.last(), Some(Step::OfType(t))
                            if !super::extract::may_give_rows(base.param_type, t, model))
                    });
                same.then_some((base.param_type, base.hash))
            })
        };
        // A composite's value is searched as a token then another part (`parse::Alt`).
        if let [first, second] = p.components.as_slice() {
            if first.param_type != ParamType::Token {
                continue;
            }
            if let (Some(a), Some(b)) = (base_of(first), base_of(second)) {
                joins.push((code, p.hash, Joined { parts: [a, b] }));
            }
        }
    }
    for s in stored.values_mut() {
        for (_, hash, join) in &joins {
            if s.params.contains(hash) {
                s.params.retain(|h| h != hash);
                s.joined.push(join.clone());
            }
        }
    }
    for (code, _, join) in joins {
        stored.insert(
            code,
            Stored {
                params: Vec::new(),
                target_type: None,
                joined: vec![join],
            },
        );
    }
    let derived: Vec<(String, Stored)> = stored.into_iter().map(|(c, s)| (c.clone(), s)).collect();
    for (code, s) in derived {
        if let Some(p) = params.get_mut(&code) {
            p.stored = s;
        }
    }
}

#[derive(Deserialize)]
struct RawFile {
    parameter: Vec<RawParam>,
}

#[derive(Deserialize)]
struct RawParam {
    url: String,
    code: String,
    base: Vec<String>,
    #[serde(rename = "type")]
    param_type: String,
    expression: Option<String>,
    #[serde(default)]
    target: Vec<String>,
    #[serde(default)]
    component: Vec<RawComponent>,
}

#[derive(Deserialize)]
struct RawComponent {
    definition: String,
    expression: String,
}

#[derive(Deserialize)]
struct RawCompartment {
    resource: HashMap<String, Vec<String>>,
}

/// Every offered parameter by (resource type, code), and the patient compartment.
pub struct Registry {
    by_type: HashMap<String, HashMap<String, SearchParam>>,
    compartment: HashMap<String, Vec<String>>,
    /// Parameters refused at start-up, with the reason (the shipped ones first).
    pub refused: Vec<(String, String)>,
    shipped_refusals: usize,
}

/// The registry in force, replaced whole when custom parameters are installed.
fn current() -> &'static RwLock<Arc<Registry>> {
    static R: OnceLock<RwLock<Arc<Registry>>> = OnceLock::new();
    R.get_or_init(|| {
        let r = Registry::build(DEFINITIONS, COMPARTMENT, Vec::new());
        for (url, why) in &r.refused {
            log::warn!("search parameter {url} is not offered: {why}");
        }
        RwLock::new(Arc::new(r))
    })
}

impl Registry {
    /// The registry built from the shipped definitions.
    /// The registry in force: the shipped definitions plus the custom SearchParameter
    /// resources installed by [`Registry::install_custom`].
    pub fn r4() -> Arc<Registry> {
        let lock = current();
        let guard = lock.read().unwrap_or_else(|p| p.into_inner());
        guard.clone()
    }

    /// Adds custom SearchParameter resources (JSON) to the parameters in force, keyed by
    /// url (a later version replaces an earlier one; a removed one stays until restart), and
    /// rebuilds the registry. Returns the custom parameters refused, with why.
    pub fn install_custom(custom: &[serde_json::Value]) -> Vec<(String, String)> {
        static INSTALLED: OnceLock<Mutex<HashMap<String, serde_json::Value>>> = OnceLock::new();
        let installed = INSTALLED.get_or_init(|| Mutex::new(HashMap::new()));
        let mut installed = installed.lock().unwrap_or_else(|p| p.into_inner());
        for c in custom {
            let url = c
                .get("url")
                .and_then(|u| u.as_str())
                .unwrap_or("")
                .to_string();
            installed.insert(url, c.clone());
        }
        let mut extra = Vec::new();
        let mut refused = Vec::new();
        for c in installed.values() {
            match serde_json::from_value::<RawParam>(c.clone()) {
                Ok(p) => extra.push(p),
                Err(e) => refused.push((
                    c.get("url")
                        .and_then(|u| u.as_str())
                        .unwrap_or("?")
                        .to_string(),
                    format!("not a usable SearchParameter: {e}"),
                )),
            }
        }
        let registry = Registry::build(DEFINITIONS, COMPARTMENT, extra);
        let shipped = Registry::r4().shipped_refusals;
        refused.extend(registry.refused.iter().skip(shipped).cloned());
        for (url, why) in &refused {
            log::warn!("custom search parameter {url} is not offered: {why}");
        }
        let lock = current();
        *lock.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(registry);
        refused
    }

    fn build(definitions: &str, compartment: &str, custom: Vec<RawParam>) -> Registry {
        let mut raw: RawFile =
            serde_json::from_str(definitions).expect("search-parameters.json is valid");
        let shipped = raw.parameter.len();
        raw.parameter.extend(custom);
        let compartment: RawCompartment =
            serde_json::from_str(compartment).expect("compartment-patient.json is valid");
        let types_by_url: HashMap<&str, &str> = raw
            .parameter
            .iter()
            .map(|p| (p.url.as_str(), p.param_type.as_str()))
            .collect();
        let model = ElementModel::r4();
        let mut by_type: HashMap<String, HashMap<String, SearchParam>> = HashMap::new();
        let mut refused = Vec::new();
        for p in &raw.parameter {
            let Some(param_type) = ParamType::parse(&p.param_type) else {
                refused.push((p.url.clone(), format!("unknown type {}", p.param_type)));
                continue;
            };
            let Some(expr) = &p.expression else {
                // _text, _content, _query and the like: no expression to index.
                continue;
            };
            if param_type == ParamType::Special {
                refused.push((p.url.clone(), "special parameters are not supported".into()));
                continue;
            }
            let expression = match Expression::parse(expr) {
                Ok(e) => e,
                Err(why) => {
                    refused.push((p.url.clone(), why));
                    continue;
                }
            };
            let mut components = Vec::new();
            let mut ok = true;
            for c in &p.component {
                let t = types_by_url
                    .get(c.definition.as_str())
                    .and_then(|t| ParamType::parse(t));
                match (t, Expression::parse(&c.expression)) {
                    (Some(param_type), Ok(expression)) => components.push(Component {
                        param_type,
                        expression,
                    }),
                    _ => ok = false,
                }
            }
            if !ok {
                refused.push((p.url.clone(), "a component cannot be evaluated".into()));
                continue;
            }
            if param_type == ParamType::Composite && components.len() != 2 {
                refused.push((
                    p.url.clone(),
                    "composites of other than two components are not supported".into(),
                ));
                continue;
            }
            // Parameters of every resource (`_id`, `_lastUpdated`, `_tag`, …) are keyed as
            // `Resource` whatever the type, so a system-wide search seeks one key.
            let common = p
                .base
                .iter()
                .any(|b| b == "Resource" || b == "DomainResource");
            let bases: Vec<String> = if common {
                std::iter::once("Resource")
                    .chain(model.resource_types())
                    .map(str::to_string)
                    .collect()
            } else {
                p.base.clone()
            };
            for base in bases {
                let key_type = if common { "Resource" } else { base.as_str() };
                let sp = SearchParam {
                    code: p.code.clone(),
                    url: p.url.clone(),
                    param_type,
                    expression: expression.narrowed_to(&base),
                    targets: p.target.clone(),
                    components: components.clone(),
                    hash: param_hash(key_type, &p.code),
                    stored: Stored::own(param_hash(key_type, &p.code)),
                };
                by_type.entry(base).or_default().insert(p.code.clone(), sp);
            }
        }
        for (res_type, params) in by_type.iter_mut() {
            derive(res_type, params, model);
        }
        let shipped_refusals = refused
            .iter()
            .filter(|(url, _)| raw.parameter[..shipped].iter().any(|p| &p.url == url))
            .count();
        Registry {
            by_type,
            compartment: compartment.resource,
            refused,
            shipped_refusals,
        }
    }

    pub fn get(&self, res_type: &str, code: &str) -> Option<&SearchParam> {
        self.by_type.get(res_type).and_then(|m| m.get(code))
    }

    /// Every parameter of a resource type.
    pub fn of_type<'a>(&'a self, res_type: &str) -> impl Iterator<Item = &'a SearchParam> + 'a {
        self.by_type
            .get(res_type)
            .into_iter()
            .flat_map(|m| m.values())
    }

    /// The parameters whose Patient references put a resource of this type in a patient's
    /// compartment (`link` for Patient itself, which is also in its own compartment).
    pub fn compartment_params(&self, res_type: &str) -> &[String] {
        self.compartment
            .get(res_type)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_that_repeat_others_read_their_rows() {
        let r = Registry::r4();
        let h = |t: &str, c: &str| param_hash(t, c);
        let stored = |t: &str, c: &str| r.get(t, c).map(|p| p.stored.clone());
        assert_eq!(
            stored("Observation", "patient"),
            Some(Stored {
                params: vec![h("Observation", "subject")],
                target_type: Some("Patient".into()),
                joined: Vec::new(),
            })
        );
        let mut codes = vec![h("Observation", "code"), h("Observation", "component-code")];
        codes.sort_unstable();
        assert_eq!(
            stored("Observation", "combo-code"),
            Some(Stored {
                params: codes,
                target_type: None,
                joined: Vec::new(),
            })
        );
        for (t, c) in [
            ("Observation", "subject"),
            ("Observation", "code"),
            ("Observation", "component-code"),
            ("Observation", "component-code-value-quantity"),
            // `value-string` also selects a CodeableConcept's text; `value-date`'s
            // component says `DateTime` where the element's type is `dateTime`.
            ("Observation", "code-value-string"),
            ("Observation", "code-value-date"),
            // A base of several paths keeps its own rows.
            ("Observation", "value-quantity"),
            ("Observation", "_tag"),
            // AllergyIntolerance.patient has no other parameter on its path.
            ("AllergyIntolerance", "patient"),
        ] {
            assert_eq!(
                r.get(t, c).map(SearchParam::derived),
                Some(false),
                "{t}.{c}"
            );
        }
        assert_eq!(
            stored("Encounter", "patient").and_then(|s| s.target_type),
            Some("Patient".into())
        );
        // Bases of several paths each: `value-quantity` is `value as Quantity | value as
        // SampledData`.
        let mut hashes = vec![
            h("Observation", "value-quantity"),
            h("Observation", "component-value-quantity"),
        ];
        hashes.sort_unstable();
        assert_eq!(
            stored("Observation", "combo-value-quantity").map(|s| s.params),
            Some(hashes)
        );
        // Composites of the Observation itself are their components' rows joined, where
        // each component's path is a parameter's: a SampledData gives no quantity rows.
        let join = |value: (ParamType, &str)| Joined {
            parts: [
                (ParamType::Token, h("Observation", "code")),
                (value.0, h("Observation", value.1)),
            ],
        };
        let quantity = join((ParamType::Quantity, "value-quantity"));
        assert_eq!(
            stored("Observation", "code-value-quantity"),
            Some(Stored {
                params: Vec::new(),
                target_type: None,
                joined: vec![quantity.clone()],
            })
        );
        assert_eq!(
            stored("Observation", "code-value-concept").map(|s| s.joined),
            Some(vec![join((ParamType::Token, "value-concept"))])
        );
        // A composite derived from one reads its join, and its other base's rows.
        assert_eq!(
            stored("Observation", "combo-code-value-quantity"),
            Some(Stored {
                params: vec![h("Observation", "component-code-value-quantity")],
                target_type: None,
                joined: vec![quantity],
            })
        );
    }

    #[test]
    fn hl7_parameters_load_with_few_refusals() {
        let r = Registry::r4();
        let obs = r.get("Observation", "code").expect("Observation.code");
        assert_eq!(obs.param_type, ParamType::Token);
        assert!(r.get("Observation", "_lastUpdated").is_some());
        assert!(r.get("Patient", "birthdate").is_some());
        assert_eq!(
            r.get("Observation", "code-value-quantity")
                .map(|p| p.components.len()),
            Some(2)
        );
        // Patient-deceased (exists(), `and`, `!=`), Location-near (special) and the
        // MolecularSequence composites (of composites, or of four parts) are the expected ones.
        let mut refused: Vec<&str> = r
            .refused
            .iter()
            .map(|(u, _)| u.rsplit('/').next().unwrap_or(""))
            .collect();
        refused.sort();
        assert_eq!(
            refused,
            vec![
                "Location-near",
                "MolecularSequence-chromosome-variant-coordinate",
                "MolecularSequence-chromosome-window-coordinate",
                "MolecularSequence-referenceseqid-variant-coordinate",
                "MolecularSequence-referenceseqid-window-coordinate",
                "Patient-deceased"
            ]
        );
        assert_eq!(
            r.compartment_params("Observation"),
            ["subject", "performer"]
        );
    }
}
