//! Where a FHIRPath expression points inside a resource, rather than what it selects: the
//! JSON location of each selected element, so FHIRPath Patch can change it in place.
//! Uses the same parsed subset as search (`search::fhirpath`).

use serde_json::Value;

use crate::fhir::elements::ElementModel;
pub use crate::search::fhirpath::context_of;
use crate::search::fhirpath::{Path, Step};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// One selected element: its JSON location, and the model context its children live under.
#[derive(Debug, Clone)]
pub struct Location {
    pub segs: Vec<Seg>,
    pub context: String,
    /// The FHIR type of the element (`string`, `Quantity`, …); the resource type at the root.
    pub type_name: String,
    /// For a choice element (`valueQuantity`), its name without the type (`value`).
    pub choice: Option<String>,
}

impl Location {
    pub fn get<'v>(&self, root: &'v Value) -> Option<&'v Value> {
        self.segs.iter().try_fold(root, |v, s| match s {
            Seg::Key(k) => v.get(k),
            Seg::Index(i) => v.get(i),
        })
    }

    pub fn get_mut<'v>(&self, root: &'v mut Value) -> Option<&'v mut Value> {
        self.segs.iter().try_fold(root, |v, s| match s {
            Seg::Key(k) => v.get_mut(k),
            Seg::Index(i) => v.get_mut(i),
        })
    }
}

/// The locations `path` selects in `resource`.
pub fn locate(path: &Path, resource: &Value) -> Result<Vec<Location>, String> {
    let rt = resource
        .get("resourceType")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if path.root != rt {
        return Err(format!(
            "the path starts at {} but the resource is a {rt}",
            path.root
        ));
    }
    let model = ElementModel::r4();
    let mut locs = vec![Location {
        segs: Vec::new(),
        context: rt.to_string(),
        type_name: rt.to_string(),
        choice: None,
    }];
    for step in &path.steps {
        locs = match step {
            Step::Child(name) => locs
                .iter()
                .flat_map(|l| children(model, resource, l, name))
                .collect(),
            Step::OfType(t) => locs
                .into_iter()
                .filter(|l| l.type_name.eq_ignore_ascii_case(t))
                .collect(),
            Step::FieldEquals(field, lit) => locs
                .into_iter()
                .filter(|l| {
                    l.get(resource)
                        .and_then(|v| v.get(field))
                        .and_then(Value::as_str)
                        == Some(lit.as_str())
                })
                .collect(),
            Step::Index(i) => locs.into_iter().nth(*i).into_iter().collect(),
            Step::ResolvesTo(_) => return Err("resolve() cannot be used in a patch path".into()),
        };
    }
    Ok(locs)
}

fn children(model: &ElementModel, root: &Value, at: &Location, name: &str) -> Vec<Location> {
    let Some(Value::Object(obj)) = at.get(root) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (key, v) in obj {
        let Some(child) = model.child(&at.context, key) else {
            continue;
        };
        let (type_name, choice) = if key == name && !child.def.choice {
            (child.def.types.first().cloned().unwrap_or_default(), None)
        } else if child.def.choice && child.def.name == name {
            (key[name.len()..].to_string(), Some(name.to_string()))
        } else {
            continue;
        };
        let context = context_of(&child.kind);
        let mut segs = at.segs.clone();
        segs.push(Seg::Key(key.clone()));
        match v {
            Value::Array(items) => out.extend((0..items.len()).map(|i| {
                let mut s = segs.clone();
                s.push(Seg::Index(i));
                Location {
                    segs: s,
                    context: context.clone(),
                    type_name: type_name.clone(),
                    choice: choice.clone(),
                }
            })),
            _ => out.push(Location {
                segs,
                context,
                type_name,
                choice,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::fhirpath::Expression;
    use serde_json::json;

    fn at(expr: &str, r: &Value) -> Vec<Vec<Seg>> {
        let e = Expression::parse(expr).expect("parses");
        locate(&e.0[0], r)
            .expect("locates")
            .into_iter()
            .map(|l| l.segs)
            .collect()
    }

    #[test]
    fn finds_elements_list_items_choices_and_filtered_items() {
        let p = json!({"resourceType": "Patient", "birthDate": "1970",
            "telecom": [{"system": "email", "value": "a@b"}, {"system": "phone", "value": "1"}],
            "deceasedBoolean": false});
        let k = |s: &str| Seg::Key(s.into());
        assert_eq!(at("Patient.birthDate", &p), vec![vec![k("birthDate")]]);
        assert_eq!(
            at("Patient.telecom.where(system='phone')", &p),
            vec![vec![k("telecom"), Seg::Index(1)]]
        );
        assert_eq!(
            at("Patient.telecom[0].value", &p),
            vec![vec![k("telecom"), Seg::Index(0), k("value")]]
        );
        assert_eq!(at("Patient.deceased", &p), vec![vec![k("deceasedBoolean")]]);
        assert!(at("Patient.gender", &p).is_empty());
    }
}
