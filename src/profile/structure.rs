//! One profile's differential as rules, and the check of a resource against them:
//! cardinality, fixed and pattern values, required bindings, and invariants. Slices are
//! told apart as UK Core does: extensions by url, other repeating elements by a fixed
//! `system`.

use std::collections::HashMap;

use serde_json::Value;

use super::invariant::{self, Invariant};
use super::nhs_number;
use super::terminology::Terminology;
use crate::fhir::{Issue, IssueType};

/// Invariants whose FHIRPath uses functions outside the evaluated subset, checked by code.
const NATIVE: &[(&str, NativeCheck)] = &[("cb-pat-1", nhs_numbers_valid)];

type NativeCheck = fn(&Value) -> bool;

fn nhs_numbers_valid(patient: &Value) -> bool {
    patient
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| i.get("system").and_then(Value::as_str) == Some(NHS_NUMBER))
        .all(|i| {
            i.get("value")
                .and_then(Value::as_str)
                .is_some_and(nhs_number::is_valid)
        })
}

pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";

#[derive(Debug, Clone)]
struct Step {
    name: String,
    slice: Option<String>,
}

enum Check {
    Native(NativeCheck),
    Path(Invariant),
}

struct Constraint {
    key: String,
    human: String,
    check: Check,
}

struct Rule {
    id: String,
    steps: Vec<Step>,
    min: u32,
    max: Option<u32>,
    fixed: Option<Value>,
    pattern: Option<Value>,
    binding: Option<String>,
    constraints: Vec<Constraint>,
}

/// Which items of a repeating element belong to a slice.
#[derive(Debug, Clone)]
enum Discriminator {
    Url(String),
    System(String),
}

pub struct Structure {
    pub url: String,
    pub res_type: String,
    rules: Vec<Rule>,
    /// Slice id (`Patient.identifier:nhsNumber`) → how its items are recognised.
    slices: HashMap<String, Discriminator>,
}

impl Structure {
    pub fn parse(sd: &Value, terminology: &Terminology) -> Result<Structure, String> {
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        let url = text(sd, "url").ok_or("a profile without a url")?;
        let res_type = text(sd, "type").ok_or("a profile without a type")?;
        let elements = sd["differential"]["element"]
            .as_array()
            .ok_or(format!("{url}: no differential"))?;
        let mut rules = Vec::new();
        let mut slices = HashMap::new();
        for e in elements {
            let id = text(e, "id").ok_or(format!("{url}: an element without an id"))?;
            let steps = steps(&id, &res_type).ok_or(format!("{url}: element id '{id}'"))?;
            let pick = |prefix: &str| {
                e.as_object().and_then(|o| {
                    o.iter()
                        .find(|(k, _)| k.starts_with(prefix) && k.len() > prefix.len())
                        .map(|(_, v)| v.clone())
                })
            };
            let binding = match e.get("binding") {
                Some(b) if b["strength"] == "required" => {
                    let vs =
                        text(b, "valueSet").ok_or(format!("{id}: a binding without a valueSet"))?;
                    if !terminology.knows(&vs) {
                        return Err(format!("{id}: value set {vs} is not shipped"));
                    }
                    Some(vs)
                }
                _ => None,
            };
            let mut constraints = Vec::new();
            for c in e
                .get("constraint")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let key = text(c, "key").unwrap_or_default();
                let check = match NATIVE.iter().find(|(k, _)| *k == key) {
                    Some((_, f)) => Check::Native(*f),
                    None => Check::Path(
                        invariant::parse(&text(c, "expression").unwrap_or_default())
                            .map_err(|e| format!("{url} invariant {key}: {e}"))?,
                    ),
                };
                constraints.push(Constraint {
                    key,
                    human: text(c, "human").unwrap_or_default(),
                    check,
                });
            }
            if e.get("sliceName").is_some() {
                let profile = e["type"][0]["profile"][0].as_str();
                if let Some(p) =
                    profile.filter(|_| steps.last().is_some_and(|s| s.name == "extension"))
                {
                    slices.insert(id.clone(), Discriminator::Url(p.to_string()));
                }
            }
            if let (Some(parent), Some(Value::String(system))) = (
                id.strip_suffix(".system"),
                pick("fixed").or_else(|| pick("pattern")),
            ) {
                if parent.rsplit('.').next().is_some_and(|s| s.contains(':')) {
                    slices.insert(parent.to_string(), Discriminator::System(system.clone()));
                }
            }
            rules.push(Rule {
                id,
                steps,
                min: e.get("min").and_then(Value::as_u64).unwrap_or(0) as u32,
                max: text(e, "max").and_then(|m| m.parse().ok()),
                fixed: pick("fixed"),
                pattern: pick("pattern"),
                binding,
                constraints,
            });
        }
        Ok(Structure {
            url,
            res_type,
            rules,
            slices,
        })
    }

    /// Every way `resource` departs from this profile.
    pub fn check(&self, resource: &Value, terminology: &Terminology) -> Vec<Issue> {
        let mut issues = Vec::new();
        for rule in &self.rules {
            let (parent_steps, last) = match rule.steps.split_last() {
                Some((last, parent)) => (parent, Some(last)),
                None => (&rule.steps[..], None),
            };
            let parents = self.select(resource, &self.res_type, parent_steps, &rule.id);
            let nodes: Vec<(String, &Value)> = match last {
                None => parents.clone(),
                Some(step) => {
                    let mut all = Vec::new();
                    for (path, parent) in &parents {
                        let found = self.children(parent, path, step, &rule.id);
                        let n = found.len() as u32;
                        let name = display(step);
                        if n < rule.min {
                            issues.push(
                                Issue::error(
                                    IssueType::Required,
                                    format!(
                                        "{path}.{name}: at least {} required by {}",
                                        rule.min, self.url
                                    ),
                                )
                                .at(format!("{path}.{name}")),
                            );
                        }
                        if rule.max.is_some_and(|m| n > m) {
                            issues.push(
                                Issue::error(
                                    IssueType::Structure,
                                    format!(
                                        "{path}.{name}: at most {} allowed by {}, found {n}",
                                        rule.max.unwrap_or(0),
                                        self.url
                                    ),
                                )
                                .at(format!("{path}.{name}")),
                            );
                        }
                        all.extend(found);
                    }
                    all
                }
            };
            for (path, v) in &nodes {
                if let Some(f) = rule.fixed.as_ref().filter(|f| *f != *v) {
                    issues.push(
                        Issue::error(IssueType::Value, format!("{path} must be {f}, not {v}"))
                            .at(path.clone()),
                    );
                }
                if let Some(p) = rule.pattern.as_ref().filter(|p| !contains(v, p)) {
                    issues.push(
                        Issue::error(
                            IssueType::Value,
                            format!("{path} must match the pattern {p}"),
                        )
                        .at(path.clone()),
                    );
                }
                if let Some(vs) = &rule.binding {
                    if !terminology.contains(vs, v) {
                        issues.push(
                            Issue::error(
                                IssueType::CodeInvalid,
                                format!("{path}: the code is not in the required value set {vs}"),
                            )
                            .at(path.clone()),
                        );
                    }
                }
                for c in &rule.constraints {
                    let ok = match &c.check {
                        Check::Native(f) => f(v),
                        Check::Path(inv) => inv.holds(v),
                    };
                    if !ok {
                        issues.push(
                            Issue::error(
                                IssueType::Invariant,
                                format!("{} ({}): {}", c.key, self.url, c.human),
                            )
                            .at(path.clone()),
                        );
                    }
                }
            }
        }
        issues
    }

    fn select<'v>(
        &self,
        root: &'v Value,
        root_path: &str,
        steps: &[Step],
        rule_id: &str,
    ) -> Vec<(String, &'v Value)> {
        let mut current = vec![(root_path.to_string(), root)];
        for step in steps {
            current = current
                .iter()
                .flat_map(|(p, v)| self.children(v, p, step, rule_id))
                .collect();
        }
        current
    }

    /// The items of `step` under `node`, with their paths, kept to its slice if it names one.
    fn children<'v>(
        &self,
        node: &'v Value,
        path: &str,
        step: &Step,
        rule_id: &str,
    ) -> Vec<(String, &'v Value)> {
        let Value::Object(obj) = node else {
            return Vec::new();
        };
        let stem = step.name.strip_suffix("[x]");
        let mut out = Vec::new();
        for (k, v) in obj {
            let hit = match stem {
                Some(s) => {
                    k.len() > s.len()
                        && k.starts_with(s)
                        && k[s.len()..].starts_with(|c: char| c.is_ascii_uppercase())
                }
                None => *k == step.name,
            };
            if !hit {
                continue;
            }
            match v {
                Value::Array(items) => out.extend(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| (format!("{path}.{k}[{i}]"), item)),
                ),
                v => out.push((format!("{path}.{k}"), v)),
            }
        }
        if let Some(slice) = &step.slice {
            let slice_id = slice_id(rule_id, &step.name, slice);
            match self.slices.get(&slice_id) {
                Some(Discriminator::Url(u)) => {
                    out.retain(|(_, v)| v.get("url").and_then(Value::as_str) == Some(u))
                }
                Some(Discriminator::System(s)) => {
                    out.retain(|(_, v)| v.get("system").and_then(Value::as_str) == Some(s))
                }
                None => out.clear(),
            }
        }
        out
    }
}

/// `Patient.identifier:nhsNumber.system` → steps identifier:nhsNumber, system.
fn steps(id: &str, res_type: &str) -> Option<Vec<Step>> {
    let rest = id.strip_prefix(res_type)?;
    Some(
        rest.split('.')
            .filter(|s| !s.is_empty())
            .map(|s| match s.split_once(':') {
                Some((n, sl)) => Step {
                    name: n.to_string(),
                    slice: Some(sl.to_string()),
                },
                None => Step {
                    name: s.to_string(),
                    slice: None,
                },
            })
            .collect(),
    )
}

/// The id of the slice `name:slice` within `rule_id`.
fn slice_id(rule_id: &str, name: &str, slice: &str) -> String {
    let marker = format!("{name}:{slice}");
    match rule_id.find(&marker) {
        Some(at) => rule_id[..at + marker.len()].to_string(),
        None => marker,
    }
}

fn display(step: &Step) -> String {
    match &step.slice {
        Some(s) => format!("{}:{s}", step.name),
        None => step.name.clone(),
    }
}

/// Pattern matching (profiling.html#pattern): every property of the pattern is in the value;
/// a list in the pattern matches when each of its items matches some item of the value.
fn contains(value: &Value, pattern: &Value) -> bool {
    match (value, pattern) {
        (Value::Object(v), Value::Object(p)) => p
            .iter()
            .all(|(k, pv)| v.get(k).is_some_and(|vv| contains(vv, pv))),
        (Value::Array(v), Value::Array(p)) => {
            p.iter().all(|pi| v.iter().any(|vi| contains(vi, pi)))
        }
        (v, p) => v == p,
    }
}
