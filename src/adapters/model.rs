//! What an adapter makes of a source batch: resources to upsert and delete, each keyed by a
//! source identifier, and the rows it could not take, with where they were and why.

use serde_json::{json, Value};

use crate::rest::transaction::{encoded, form_encode};

/// The NHS number's identifier system; a valid one links a person's records across sources.
pub const NHS_NUMBER: &str = "https://fhir.nhs.uk/Id/nhs-number";
/// ODS codes name organisations, the sender of every batch among them.
pub const ODS_CODE: &str = "https://fhir.nhs.uk/Id/ods-organization-code";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const UCUM: &str = "http://unitsofmeasure.org";
pub const ICD10: &str = "http://hl7.org/fhir/sid/icd-10";
pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
pub const OBSERVATION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/observation-category";
/// Where Carebridge's own identifier systems live.
pub const SYSTEM_BASE: &str = "https://fhir.carebridge.example/Id";
/// Where the code systems of source-local codes live.
pub const CODE_SYSTEM_BASE: &str = "https://fhir.carebridge.example/CodeSystem";

/// A resource named by one of its identifiers: how the batch upserts it, deletes it and
/// refers to it (`Type?identifier=system|value`), whether it is written now or was in an
/// earlier batch.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub res_type: String,
    pub system: String,
    pub value: String,
}

impl Key {
    pub fn new(res_type: &str, system: impl Into<String>, value: impl Into<String>) -> Key {
        Key {
            res_type: res_type.to_string(),
            system: system.into(),
            value: value.into(),
        }
    }

    /// The search criteria that find the resource (`Type?identifier=system|value`), as
    /// adapter memory keys what it keeps of a person.
    pub fn criteria(&self) -> String {
        self.query("|")
    }

    /// The same criteria as a transaction keys conditions (`condition_key`), the `|`
    /// encoded too: the form of the batch's conditional references and URLs, which the
    /// transaction then takes as they are instead of decoding and encoding each again.
    pub fn condition(&self) -> String {
        self.query("%7C")
    }

    /// `Type?identifier=` and the token, form-encoded, with `bar` between system and value.
    fn query(&self, bar: &str) -> String {
        let mut out = Vec::with_capacity(
            self.res_type.len() + 12 + (self.system.len() + self.value.len()) * 3 / 2 + bar.len(),
        );
        out.extend_from_slice(self.res_type.as_bytes());
        out.extend_from_slice(b"?identifier=");
        form_encode(self.system.as_bytes(), &mut out);
        out.extend_from_slice(bar.as_bytes());
        // Escaped first only where it must be: `escape_token`'s copy of every value was a
        // third of this function's instructions (callgrind).
        if self.value.contains(TOKEN_SPECIAL) {
            form_encode(escape_token(&self.value).as_bytes(), &mut out);
        } else {
            form_encode(self.value.as_bytes(), &mut out);
        }
        encoded(out)
    }

    pub fn reference(&self) -> Value {
        object([("reference", self.condition().into())])
    }

    pub fn identifier(&self) -> Value {
        json!({ "system": self.system, "value": self.value })
    }
}

/// The characters search gives meaning to in a token (search.html#escaping).
const TOKEN_SPECIAL: [char; 4] = ['\\', ',', '|', '$'];

/// Token values escape the characters search gives meaning to (search.html#escaping).
pub fn escape_token(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if TOKEN_SPECIAL.contains(&c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A place in a source batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub file: String,
    /// The line (CSV) or record number (JSON), from 1.
    pub line: u64,
}

/// A resource the batch writes: created, or replaced if one with `key` exists.
#[derive(Debug, Clone)]
pub struct Upsert {
    pub key: Key,
    /// Other identifiers the resource is known by; references may use any of them.
    pub aliases: Vec<Key>,
    /// Whether to merge into a resource another source wrote (a Patient linked by NHS
    /// number), rather than replace it.
    pub merge: bool,
    /// The patient whose record this belongs to, for the batch's Provenance.
    pub patient: Option<Key>,
    pub resource: Value,
    pub origin: Origin,
}

impl Upsert {
    /// A record of one source, written as it is (not merged with other sources').
    pub fn new(key: Key, patient: Option<Key>, resource: Value, origin: Origin) -> Upsert {
        Upsert {
            key,
            aliases: Vec::new(),
            merge: false,
            patient,
            resource,
            origin,
        }
    }
}

/// A resource the batch deletes (a delta's `Deleted=true`, a CRM's `IsDeleted`).
#[derive(Debug, Clone)]
pub struct Removal {
    pub key: Key,
    pub origin: Origin,
}

/// A row the adapter could not take, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub file: String,
    pub line: Option<u64>,
    pub column: Option<String>,
    pub reason: String,
}

impl Rejection {
    pub fn at(origin: &Origin, column: Option<&str>, reason: impl Into<String>) -> Rejection {
        Rejection {
            file: origin.file.clone(),
            line: Some(origin.line),
            column: column.map(str::to_string),
            reason: reason.into(),
        }
    }

    /// Where a rejection points, when it points at a row.
    pub fn origin_of(r: &Rejection) -> Option<Origin> {
        r.line.map(|line| Origin {
            file: r.file.clone(),
            line,
        })
    }

    pub fn file(file: &str, reason: impl Into<String>) -> Rejection {
        Rejection {
            file: file.to_string(),
            line: None,
            column: None,
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(l) = self.line {
            write!(f, ", line {l}")?;
        }
        if let Some(c) = &self.column {
            write!(f, ", column {c}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// The organisation that sent a batch, named by ODS code in its Provenance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sender {
    pub ods: String,
    pub name: Option<String>,
}

/// Something an adapter keeps from this batch for later ones (a code table, say).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remember {
    pub kind: String,
    pub key: String,
    pub value: String,
}

/// Everything an adapter made of one batch.
#[derive(Debug, Clone)]
pub struct Mapping {
    /// Source rows read (every data row of every file).
    pub rows: u64,
    pub upserts: Vec<Upsert>,
    pub removals: Vec<Removal>,
    pub rejected: Vec<Rejection>,
    pub sender: Sender,
    /// `meta.source`: the adapter and the source system.
    pub source: String,
    pub remember: Vec<Remember>,
}

impl Mapping {
    /// Keeps `value` for later batches, as JSON.
    pub fn remember<T: serde::Serialize>(&mut self, kind: &str, key: &str, value: &T) {
        self.remember.push(Remember {
            kind: kind.into(),
            key: key.into(),
            value: serde_json::to_string(value).unwrap_or_default(),
        });
    }

    /// An empty mapping of the same batch, for a part of it mapped on another thread.
    pub fn part(&self) -> Mapping {
        Mapping::new(self.sender.clone(), self.source.clone())
    }

    /// Adds what a part mapped after what this one holds.
    pub fn append(&mut self, part: Mapping) {
        self.upserts.extend(part.upserts);
        self.removals.extend(part.removals);
        self.rejected.extend(part.rejected);
        self.remember.extend(part.remember);
    }

    pub fn new(sender: Sender, source: impl Into<String>) -> Mapping {
        Mapping {
            rows: 0,
            upserts: Vec::new(),
            removals: Vec::new(),
            rejected: Vec::new(),
            sender,
            source: source.into(),
            remember: Vec::new(),
        }
    }
}

/// A batch that cannot be taken at all: a file that cannot be read, a missing column.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct BatchError(pub Vec<Rejection>);

impl BatchError {
    pub fn one(r: Rejection) -> BatchError {
        BatchError(vec![r])
    }
}

/// A JSON object of these members, in this order, each moved in: `json!` copies every
/// `Value` it is handed, a whole tree each, which was a good part of mapping a batch.
pub fn object<const N: usize>(members: [(&str, Value); N]) -> Value {
    Value::Object(
        members
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// A CodeableConcept of the given codings, with text.
pub fn concept(codings: Vec<Value>, text: Option<&str>) -> Value {
    let mut c = json!({});
    if !codings.is_empty() {
        c["coding"] = Value::Array(codings);
    }
    if let Some(t) = text.filter(|t| !t.is_empty()) {
        c["text"] = json!(t);
    }
    c
}

pub fn coding(system: &str, code: &str, display: Option<&str>) -> Value {
    let mut c = json!({ "system": system, "code": code });
    if let Some(d) = display.filter(|d| !d.is_empty()) {
        c["display"] = json!(d);
    }
    c
}

/// Sets `key` on a JSON object only when there is a value, so resources never carry empty
/// elements.
pub fn put(obj: &mut Value, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        let empty = match &v {
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
            Value::Null => true,
            _ => false,
        };
        if !empty {
            obj[key] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn criteria_escape_and_encode_the_value() {
        let k = Key::new("Patient", "https://x.example/id", "{AB|1,2}");
        assert_eq!(
            k.criteria(),
            "Patient?identifier=https%3A%2F%2Fx.example%2Fid|%7BAB%5C%7C1%5C%2C2%7D"
        );
    }

    #[test]
    fn put_leaves_out_empty_values() {
        let mut o = json!({});
        put(&mut o, "a", Some(json!("")));
        put(&mut o, "b", Some(json!([])));
        put(&mut o, "c", None);
        put(&mut o, "d", Some(json!("x")));
        assert_eq!(o, json!({"d": "x"}));
    }
}
