//! Small builders for the resources tests write.

use serde_json::{json, Value};

pub const NHS: &str = "https://fhir.nhs.uk/Id/nhs-number";

pub fn patient(nhs_number: &str) -> Value {
    json!({
        "resourceType": "Patient",
        "identifier": [{"system": NHS, "value": nhs_number}],
        "name": [{"family": "Smith", "given": ["Richard"]}],
        "gender": "male",
        "birthDate": "1974-12-25"
    })
}

pub fn observation(value: &str) -> Value {
    let v: Value = serde_json::from_str(value).expect("decimal literal");
    json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "27113001", "display": "Body weight"}]},
        "valueQuantity": {"value": v, "unit": "kg", "system": "http://unitsofmeasure.org", "code": "kg"}
    })
}

pub fn with_id(mut resource: Value, id: &str) -> Value {
    resource["id"] = json!(id);
    resource
}
