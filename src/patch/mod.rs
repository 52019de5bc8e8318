//! PATCH (http.html#patch): JSON Patch (RFC 6902) and FHIRPath Patch documents, applied to a
//! resource's current content. The result is checked like any incoming resource before it is
//! stored; a patch whose result is not a valid resource changes nothing.

mod fhirpath_patch;
mod locate;

use serde_json::Value;

use crate::fhir::validate::validate_resource;
use crate::fhir::Issue;

pub use locate::{locate, Location, Seg};

#[derive(Debug, Clone)]
pub enum Patch {
    /// `application/json-patch+json`.
    Json(json_patch::Patch),
    /// A Parameters resource of FHIRPath Patch operations.
    FhirPath(Vec<fhirpath_patch::Operation>),
}

#[derive(Debug, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (400).
    #[error("the patch document is not valid: {0}")]
    Malformed(String),
    /// The patch cannot be applied to this resource (422).
    #[error("the patch cannot be applied: {0}")]
    NotApplicable(String),
    /// The patched resource is not a valid R4 resource (422).
    #[error("the patched resource is not valid")]
    Invalid(Vec<Issue>),
}

impl Patch {
    pub fn json(doc: &Value) -> Result<Patch, PatchError> {
        serde_json::from_value(doc.clone())
            .map(Patch::Json)
            .map_err(|e| PatchError::Malformed(e.to_string()))
    }

    pub fn fhirpath(parameters: &Value) -> Result<Patch, PatchError> {
        fhirpath_patch::parse(parameters)
            .map(Patch::FhirPath)
            .map_err(PatchError::Malformed)
    }

    /// The patched copy of `current`, checked: same type and id, valid R4.
    pub fn apply(&self, current: &Value) -> Result<Value, PatchError> {
        let mut out = current.clone();
        match self {
            Patch::Json(p) => json_patch::patch(&mut out, p)
                .map_err(|e| PatchError::NotApplicable(e.to_string()))?,
            Patch::FhirPath(ops) => {
                fhirpath_patch::apply(&mut out, ops).map_err(PatchError::NotApplicable)?
            }
        }
        for key in ["resourceType", "id"] {
            if out.get(key) != current.get(key) {
                return Err(PatchError::NotApplicable(format!(
                    "a patch may not change the resource's {key}"
                )));
            }
        }
        // The validator refuses whatever fhirbolt would (`fhir::model_agreement`).
        let issues = validate_resource(&out);
        if !issues.is_empty() {
            return Err(PatchError::Invalid(issues));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patient() -> Value {
        json!({"resourceType": "Patient", "id": "p1", "active": true, "birthDate": "1970-01-01",
            "name": [{"family": "Smith", "given": ["Ann"]}],
            "telecom": [{"system": "email", "value": "a@example.org"}, {"system": "phone", "value": "0100"}]})
    }

    fn op(parts: Value) -> Value {
        json!({"name": "operation", "part": parts})
    }

    fn fhirpath(ops: Vec<Value>) -> Patch {
        Patch::fhirpath(&json!({"resourceType": "Parameters", "parameter": ops})).expect("parses")
    }

    #[test]
    fn json_patch_replaces_adds_and_removes() {
        let p = Patch::json(&json!([
            {"op": "replace", "path": "/birthDate", "value": "1971-02-03"},
            {"op": "add", "path": "/name/0/given/-", "value": "Beth"},
            {"op": "remove", "path": "/active"}
        ]))
        .expect("parses");
        let out = p.apply(&patient()).expect("applies");
        assert_eq!(out["birthDate"], "1971-02-03");
        assert_eq!(out["name"][0]["given"], json!(["Ann", "Beth"]));
        assert!(out.get("active").is_none());
    }

    #[test]
    fn json_patch_test_failure_and_invalid_results_are_refused() {
        let failing = Patch::json(&json!([{"op": "test", "path": "/active", "value": false}]))
            .expect("parses");
        assert!(matches!(
            failing.apply(&patient()),
            Err(PatchError::NotApplicable(_))
        ));
        let invalid =
            Patch::json(&json!([{"op": "replace", "path": "/birthDate", "value": "not a date"}]))
                .expect("parses");
        assert!(matches!(
            invalid.apply(&patient()),
            Err(PatchError::Invalid(_))
        ));
        let retype = Patch::json(&json!([{"op": "replace", "path": "/id", "value": "other"}]))
            .expect("parses");
        assert!(matches!(
            retype.apply(&patient()),
            Err(PatchError::NotApplicable(_))
        ));
        assert!(matches!(
            Patch::json(&json!({"op": "nope"})),
            Err(PatchError::Malformed(_))
        ));
    }

    #[test]
    fn fhirpath_patch_does_every_operation() {
        let p = fhirpath(vec![
            op(
                json!([{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.birthDate"}, {"name": "value", "valueDate": "1980-05-06"}]),
            ),
            op(
                json!([{"name": "type", "valueCode": "delete"}, {"name": "path", "valueString": "Patient.telecom.where(system='phone')"}]),
            ),
            op(
                json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "gender"}, {"name": "value", "valueCode": "female"}]),
            ),
            op(
                json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "deceased"}, {"name": "value", "valueBoolean": false}]),
            ),
            op(
                json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "identifier"},
                {"name": "value", "part": [{"name": "system", "valueUri": "https://fhir.nhs.uk/Id/nhs-number"}, {"name": "value", "valueString": "9000000009"}]}]),
            ),
            op(
                json!([{"name": "type", "valueCode": "insert"}, {"name": "path", "valueString": "Patient.name"}, {"name": "index", "valueInteger": 0},
                {"name": "value", "valueHumanName": {"family": "Jones", "given": ["A"]}}]),
            ),
            op(
                json!([{"name": "type", "valueCode": "move"}, {"name": "path", "valueString": "Patient.name"}, {"name": "source", "valueInteger": 0}, {"name": "destination", "valueInteger": 1}]),
            ),
            op(
                json!([{"name": "type", "valueCode": "delete"}, {"name": "path", "valueString": "Patient.multipleBirth"}]),
            ),
        ]);
        let out = p.apply(&patient()).expect("applies");
        assert_eq!(out["birthDate"], "1980-05-06");
        assert_eq!(
            out["telecom"],
            json!([{"system": "email", "value": "a@example.org"}])
        );
        assert_eq!(out["gender"], "female");
        assert_eq!(out["deceasedBoolean"], false);
        assert_eq!(out["identifier"][0]["value"], "9000000009");
        assert_eq!(out["name"][0]["family"], "Smith");
        assert_eq!(out["name"][1]["family"], "Jones");
    }

    #[test]
    fn fhirpath_patch_refuses_what_it_cannot_do() {
        let replace_missing = fhirpath(vec![op(
            json!([{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"}, {"name": "value", "valueCode": "male"}]),
        )]);
        assert!(matches!(
            replace_missing.apply(&patient()),
            Err(PatchError::NotApplicable(_))
        ));
        let add_twice = fhirpath(vec![op(
            json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "birthDate"}, {"name": "value", "valueDate": "1990"}]),
        )]);
        assert!(matches!(
            add_twice.apply(&patient()),
            Err(PatchError::NotApplicable(_))
        ));
        let bad_code = fhirpath(vec![op(
            json!([{"name": "type", "valueCode": "add"}, {"name": "path", "valueString": "Patient"}, {"name": "name", "valueString": "gender"}, {"name": "value", "valueCode": ""}]),
        )]);
        assert!(matches!(
            bad_code.apply(&patient()),
            Err(PatchError::Invalid(_))
        ));
        assert!(matches!(
            Patch::fhirpath(
                &json!({"resourceType": "Parameters", "parameter": [op(json!([{"name": "type", "valueCode": "frobnicate"}, {"name": "path", "valueString": "Patient"}]))]})
            ),
            Err(PatchError::Malformed(_))
        ));
    }
}
