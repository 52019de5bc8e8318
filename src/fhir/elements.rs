//! The R4 element table (profiles/r4-elements.json, built from HL7's StructureDefinitions by
//! tools/gen_r4_elements.py): which elements each resource and data type has, their types,
//! cardinality and summary flag. Loaded once; validation and `_summary` read it.

use foldhash::{HashMap, HashMapExt, HashSet, HashSetExt};
use std::sync::OnceLock;

use serde::Deserialize;

const TABLE: &str = include_str!("../../profiles/r4-elements.json");

#[derive(Deserialize)]
struct RawTable {
    resources: Vec<String>,
    types: Vec<String>,
    primitives: Vec<String>,
    elements: serde_json::Map<String, serde_json::Value>,
}

#[derive(Deserialize)]
struct RawElement {
    min: u32,
    max: String,
    #[serde(default, rename = "type")]
    types: Vec<String>,
    #[serde(default, rename = "ref")]
    content_ref: Option<String>,
    #[serde(default)]
    summary: bool,
}

/// One element definition of the base R4 specification.
#[derive(Debug)]
pub struct ElementDef {
    /// Full path, e.g. `Patient.contact.name` or `Observation.value[x]`.
    pub path: String,
    /// JSON name without `[x]`, e.g. `value`.
    pub name: String,
    pub types: Vec<String>,
    pub min: u32,
    pub repeats: bool,
    pub summary: bool,
    pub content_ref: Option<String>,
    pub choice: bool,
}

/// What the value of an element is, for walking into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElementKind<'a> {
    /// A primitive type (`date`, `string`, …, or `System.String` for ids and urls).
    Primitive(&'a str),
    /// A complex value whose children are looked up under this context path.
    Complex(&'a str),
    /// A whole resource (contained, Bundle.entry.resource, Parameters.parameter.resource).
    Resource,
}

/// The element a JSON property names within a context.
#[derive(Debug)]
pub struct Child<'a> {
    pub def: &'a ElementDef,
    pub kind: ElementKind<'a>,
}

pub struct ElementModel {
    resources: HashSet<String>,
    primitives: HashSet<String>,
    defs: Vec<ElementDef>,
    /// path → index in `defs`.
    elements: HashMap<String, usize>,
    children: HashMap<String, Vec<usize>>,
    /// context path → JSON name (without `[x]`) → index in `defs`; lookups need no
    /// allocation. Validation and indexing ask this for every element of every resource.
    by_name: HashMap<String, HashMap<String, usize>>,
}

impl ElementModel {
    /// The table compiled into the binary.
    pub fn r4() -> &'static ElementModel {
        static MODEL: OnceLock<ElementModel> = OnceLock::new();
        MODEL.get_or_init(|| {
            let raw: RawTable =
                serde_json::from_str(TABLE).expect("profiles/r4-elements.json is valid");
            ElementModel::from_raw(raw)
        })
    }

    fn from_raw(raw: RawTable) -> ElementModel {
        let mut defs = Vec::new();
        let mut elements = HashMap::new();
        let mut children: HashMap<String, Vec<usize>> = HashMap::new();
        for (path, value) in raw.elements {
            let e: RawElement =
                serde_json::from_value(value).expect("element entries have min and max");
            let (parent, last) = path.rsplit_once('.').expect("element paths are dotted");
            let choice = last.ends_with("[x]");
            let name = last.trim_end_matches("[x]").to_string();
            children
                .entry(parent.to_string())
                .or_default()
                .push(defs.len());
            elements.insert(path.clone(), defs.len());
            defs.push(ElementDef {
                path,
                name,
                types: e.types,
                min: e.min,
                repeats: e.max != "1" && e.max != "0",
                summary: e.summary,
                content_ref: e.content_ref,
                choice,
            });
        }
        let _ = raw.types;
        let mut by_name: HashMap<String, HashMap<String, usize>> = HashMap::new();
        for (i, def) in defs.iter().enumerate() {
            if let Some((parent, _)) = def.path.rsplit_once('.') {
                by_name
                    .entry(parent.to_string())
                    .or_default()
                    .insert(def.name.clone(), i);
            }
        }
        let mut resources = HashSet::new();
        resources.extend(raw.resources);
        let mut primitives = HashSet::new();
        primitives.extend(raw.primitives);
        ElementModel {
            by_name,
            resources,
            primitives,
            defs,
            elements,
            children,
        }
    }

    pub fn is_resource_type(&self, name: &str) -> bool {
        self.resources.contains(name)
    }

    pub fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resources.iter().map(String::as_str)
    }

    pub fn element(&self, path: &str) -> Option<&ElementDef> {
        self.elements.get(path).map(|&i| &self.defs[i])
    }

    /// The elements defined directly under a context path.
    pub fn children_of<'a>(&'a self, context: &str) -> impl Iterator<Item = &'a ElementDef> + 'a {
        self.children
            .get(context)
            .into_iter()
            .flatten()
            .map(|&i| &self.defs[i])
    }

    /// Resolves a JSON property name within a context, including choice names such as
    /// `valueQuantity` for `value[x]`.
    pub fn child<'a>(&'a self, context: &str, key: &str) -> Option<Child<'a>> {
        let names = self.by_name.get(context)?;
        let named = |name: &str| names.get(name).map(|&i| &self.defs[i]);
        if let Some(def) = named(key).filter(|d| !d.choice) {
            let type_name = def.types.first().map(String::as_str).unwrap_or("");
            return Some(Child {
                def,
                kind: self.kind_of(def, type_name),
            });
        }
        for (i, c) in key.char_indices().skip(1) {
            if !c.is_ascii_uppercase() {
                continue;
            }
            let Some(def) = named(&key[..i]).filter(|d| d.choice) else {
                continue;
            };
            let suffix = &key[i..];
            let type_name = def.types.iter().find(|t| type_suffix_matches(t, suffix))?;
            return Some(Child {
                def,
                kind: self.kind_of(def, type_name),
            });
        }
        None
    }

    fn kind_of<'a>(&'a self, def: &'a ElementDef, type_name: &'a str) -> ElementKind<'a> {
        if let Some(r) = &def.content_ref {
            return ElementKind::Complex(r);
        }
        match type_name {
            "BackboneElement" | "Element" => ElementKind::Complex(&def.path),
            "Resource" => ElementKind::Resource,
            t if t.starts_with("System.") || self.primitives.contains(t) => {
                ElementKind::Primitive(t)
            }
            t => ElementKind::Complex(t),
        }
    }
}

/// `Quantity` names type `Quantity`, `DateTime` names `dateTime`, `String` names `string`.
fn type_suffix_matches(type_name: &str, suffix: &str) -> bool {
    let mut t = type_name.chars();
    let mut s = suffix.chars();
    match (t.next(), s.next()) {
        (Some(a), Some(b)) if a.to_ascii_uppercase() == b => t.eq(s),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_names_resolve_to_their_type() {
        let m = ElementModel::r4();
        let c = m
            .child("Observation", "valueQuantity")
            .expect("valueQuantity");
        assert_eq!(c.kind, ElementKind::Complex("Quantity"));
        let c = m
            .child("Observation", "effectiveDateTime")
            .expect("effectiveDateTime");
        assert_eq!(c.kind, ElementKind::Primitive("dateTime"));
        assert!(m.child("Observation", "valueFoo").is_none());
    }

    #[test]
    fn backbone_and_content_reference_children_resolve() {
        let m = ElementModel::r4();
        let c = m.child("Patient", "contact").expect("contact");
        assert_eq!(c.kind, ElementKind::Complex("Patient.contact"));
        assert!(c.def.repeats);
        let c = m.child("Questionnaire.item", "item").expect("nested item");
        assert_eq!(c.kind, ElementKind::Complex("Questionnaire.item"));
    }
}
