//! Structural validation of a resource against the base R4 definitions: known elements only,
//! arrays exactly where an element repeats, required elements present, every primitive in its
//! R4 syntax. Each problem names its element by FHIRPath, for OperationOutcome.issue.expression.
//!
//! fhirbolt also parses every incoming resource, but it accepts bad dates, bad ids, empty strings
//! and an array for a 0..1 element, and its errors carry no path; this pass covers those.

use serde_json::{Map, Value};

use super::elements::{ElementKind, ElementModel};
use super::outcome::{Issue, IssueType};
use super::primitive;

/// Validates one resource (the JSON object with `resourceType`). Returns every problem found.
pub fn validate_resource(resource: &Value) -> Vec<Issue> {
    let mut v = Validator {
        model: ElementModel::r4(),
        issues: Vec::new(),
    };
    v.resource(resource, None);
    v.issues
}

/// Where a value sits. It becomes a FHIRPath string only when a problem is reported there:
/// a valid resource, the usual case, costs no path strings.
#[derive(Clone, Copy)]
enum At<'a> {
    Root(&'a str),
    Child(&'a At<'a>, &'a str),
    Item(&'a At<'a>, usize),
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(name) => f.write_str(name),
            At::Child(parent, name) => write!(f, "{parent}.{name}"),
            At::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

struct Validator {
    model: &'static ElementModel,
    issues: Vec<Issue>,
}

impl Validator {
    fn problem(&mut self, code: IssueType, at: &At<'_>, msg: impl Into<String>) {
        self.issues.push(Issue::error(code, msg).at(at.to_string()));
    }

    /// `at` is where the resource sits when nested (contained, Bundle entries).
    fn resource(&mut self, value: &Value, at: Option<&At<'_>>) {
        let Value::Object(obj) = value else {
            let at = at.copied().unwrap_or(At::Root("Resource"));
            self.problem(
                IssueType::Structure,
                &at,
                "a resource must be a JSON object",
            );
            return;
        };
        let rt = match obj.get("resourceType") {
            Some(Value::String(rt)) if self.model.is_resource_type(rt) => rt.as_str(),
            Some(Value::String(rt)) => {
                let at = at.copied().unwrap_or(At::Root("resourceType"));
                self.problem(
                    IssueType::Structure,
                    &at,
                    format!("unknown resource type '{rt}'"),
                );
                return;
            }
            _ => {
                let at = at.copied().unwrap_or(At::Root("resourceType"));
                self.problem(
                    IssueType::Required,
                    &at,
                    "resourceType is missing or not a string",
                );
                return;
            }
        };
        let at = at.copied().unwrap_or(At::Root(rt));
        if let Some(id) = obj.get("id") {
            if let Err(e) = primitive::check("id", id) {
                self.problem(IssueType::Value, &At::Child(&at, "id"), e);
            }
        }
        self.object(obj, rt, &at, true);
    }

    /// Checks the properties of one complex value whose definitions live under `context`.
    fn object(&mut self, obj: &Map<String, Value>, context: &str, at: &At<'_>, is_resource: bool) {
        if obj.is_empty() {
            self.problem(
                IssueType::Structure,
                at,
                "empty objects are not allowed; leave the element out",
            );
            return;
        }
        for (key, value) in obj {
            if is_resource && key == "resourceType" {
                continue;
            }
            if is_resource && key == "id" {
                continue; // checked as an id by `resource`
            }
            let (name, is_extension_part) = match key.strip_prefix('_') {
                Some(rest) => (rest, true),
                None => (key.as_str(), false),
            };
            let child_at = At::Child(at, name);
            let Some(child) = self.model.child(context, name) else {
                self.problem(
                    IssueType::Structure,
                    &child_at,
                    format!("unknown element '{key}'"),
                );
                continue;
            };
            let repeats = child.def.repeats;
            if is_extension_part {
                if !matches!(child.kind, ElementKind::Primitive(_)) {
                    self.problem(
                        IssueType::Structure,
                        &child_at,
                        format!("'{key}' is only allowed for primitive elements"),
                    );
                    continue;
                }
                self.each(value, repeats, &child_at, true, |v, item, a| {
                    v.primitive_element(item, a)
                });
                continue;
            }
            let kind = child.kind;
            // A repeating primitive may hold nulls where only its `_name` twin has content.
            let nulls_allowed = matches!(kind, ElementKind::Primitive(_))
                && value
                    .as_array()
                    .is_some_and(|a| a.iter().any(Value::is_null))
                && obj.contains_key(&format!("_{key}"));
            self.each(value, repeats, &child_at, nulls_allowed, |v, item, a| {
                v.value(&kind, item, a)
            });
        }
        self.required(obj, context, at);
    }

    /// Applies `check` to a single value or to each array item, after the cardinality check.
    fn each(
        &mut self,
        value: &Value,
        repeats: bool,
        at: &At<'_>,
        nulls_allowed: bool,
        mut check: impl FnMut(&mut Self, &Value, &At<'_>),
    ) {
        match (value, repeats) {
            (Value::Array(items), true) => {
                if items.is_empty() {
                    self.problem(
                        IssueType::Structure,
                        at,
                        "empty arrays are not allowed; leave the element out",
                    );
                }
                for (i, item) in items.iter().enumerate() {
                    let item_at = At::Item(at, i);
                    if item.is_null() {
                        if !nulls_allowed {
                            self.problem(
                                IssueType::Structure,
                                &item_at,
                                "null is not allowed here",
                            );
                        }
                        continue;
                    }
                    check(self, item, &item_at);
                }
            }
            (Value::Array(_), false) => self.problem(
                IssueType::Structure,
                at,
                "this element has cardinality 0..1 and must not be an array",
            ),
            (_, true) => self.problem(
                IssueType::Structure,
                at,
                "this element repeats and must be a JSON array",
            ),
            (Value::Null, false) => {
                self.problem(IssueType::Structure, at, "null is not allowed here")
            }
            (_, false) => check(self, value, at),
        }
    }

    fn value(&mut self, kind: &ElementKind<'_>, value: &Value, at: &At<'_>) {
        match kind {
            ElementKind::Primitive(t) => {
                if let Err(e) = primitive::check(t, value) {
                    self.problem(IssueType::Value, at, e);
                }
            }
            ElementKind::Complex(ctx) => match value {
                Value::Object(obj) => self.object(obj, ctx, at, false),
                _ => self.problem(IssueType::Structure, at, "expected a JSON object"),
            },
            ElementKind::Resource => self.resource(value, Some(at)),
        }
    }

    /// The `_name` part of a primitive: an id and extensions.
    fn primitive_element(&mut self, value: &Value, at: &At<'_>) {
        match value {
            Value::Object(obj) => self.object(obj, "Element", at, false),
            _ => self.problem(IssueType::Structure, at, "expected a JSON object"),
        }
    }

    fn required(&mut self, obj: &Map<String, Value>, context: &str, at: &At<'_>) {
        let model = self.model;
        for d in model
            .children_of(context)
            .filter(|d| d.min > 0 && !present(obj, &d.name, d.choice))
        {
            self.problem(
                IssueType::Required,
                &At::Child(at, &d.name),
                format!("element '{}' is required", d.name),
            );
        }
    }
}

fn present(obj: &Map<String, Value>, name: &str, choice: bool) -> bool {
    if choice {
        return obj.keys().any(|k| {
            let k = k.strip_prefix('_').unwrap_or(k);
            k.len() > name.len()
                && k.starts_with(name)
                && k[name.len()..].starts_with(|c: char| c.is_ascii_uppercase())
        });
    }
    obj.contains_key(name) || obj.contains_key(&format!("_{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn expressions(v: Value) -> Vec<String> {
        validate_resource(&v)
            .into_iter()
            .filter_map(|i| i.expression)
            .collect()
    }

    #[test]
    fn a_valid_patient_has_no_issues() {
        let p = json!({"resourceType": "Patient", "id": "p1",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9991000011"}],
            "name": [{"family": "Smith", "given": ["Richard", "J"]}],
            "birthDate": "1974-12-25",
            "_birthDate": {"extension": [{"url": "http://example.org/x", "valueString": "y"}]},
            "contact": [{"name": {"text": "Sue"}}]});
        assert_eq!(validate_resource(&p), vec![]);
    }

    #[test]
    fn each_problem_names_its_element() {
        let p = json!({"resourceType": "Patient", "birthDate": "1974-13-45",
            "gender": ["male"], "name": {"family": "x"}, "colour": "blue", "active": "yes"});
        let mut got = expressions(p);
        got.sort();
        assert_eq!(
            got,
            vec![
                "Patient.active",
                "Patient.birthDate",
                "Patient.colour",
                "Patient.gender",
                "Patient.name"
            ]
        );
    }

    #[test]
    fn missing_required_elements_are_reported() {
        let o = json!({"resourceType": "Observation", "code": {"text": "x"}});
        assert_eq!(expressions(o), vec!["Observation.status"]);
        let o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
            "valueQuantity": {"value": 1.50}, "component": [{"valueString": "x"}]});
        assert_eq!(expressions(o), vec!["Observation.component[0].code"]);
    }

    #[test]
    fn contained_resources_are_validated_too() {
        let p = json!({"resourceType": "Patient",
            "contained": [{"resourceType": "Practitioner", "id": "pr", "birthDate": "x"}]});
        assert_eq!(expressions(p), vec!["Patient.contained[0].birthDate"]);
    }

    #[test]
    fn empty_strings_and_arrays_are_refused() {
        let p = json!({"resourceType": "Patient", "name": [], "gender": ""});
        assert_eq!(expressions(p), vec!["Patient.name", "Patient.gender"]);
    }
}
