//! A small record to search: three patients, their GP organisations, a practitioner,
//! observations of every value kind, a care plan, a condition, risk assessments and
//! questionnaires. Ids are chosen so expected result sets read plainly.

use serde_json::{json, Value};

use crate::helpers::TestServer;

pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";

pub fn resources() -> Vec<Value> {
    vec![
        json!({"resourceType": "Organization", "id": "o1", "name": "Riverside Surgery",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "A81001"}]}),
        json!({"resourceType": "Organization", "id": "o2", "name": "Hilltop Practice"}),
        json!({"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Patel", "prefix": ["Dr"]}]}),
        json!({"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-01-15",
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9991000011"}],
            "name": [{"family": "Smith", "given": ["Anne"]}],
            "managingOrganization": {"reference": "Organization/o1"},
            "generalPractitioner": [{"reference": "Organization/o1"}]}),
        json!({"resourceType": "Patient", "id": "p2", "gender": "female", "birthDate": "1985-06-30",
            "name": [{"family": "Smyth", "given": ["Zoë"]}],
            "managingOrganization": {"reference": "Organization/o2"},
            "generalPractitioner": [{"reference": "Practitioner/pr1"}]}),
        json!({"resourceType": "Patient", "id": "p3", "gender": "male", "birthDate": "1990-12-01",
            "name": [{"family": "Jones", "given": ["Bob"]}]}),
        json!({"resourceType": "Observation", "id": "bp1", "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]},
        "subject": {"reference": "Patient/p1"}, "performer": [{"reference": "Practitioner/pr1"}],
        "effectiveDateTime": "2022-03-01",
        "component": [
            {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": {"value": 120, "system": UCUM, "code": "mm[Hg]"}},
            {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": {"value": 80, "system": UCUM, "code": "mm[Hg]"}}
        ]}),
        json!({"resourceType": "Observation", "id": "wt1", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2023-05-01T10:00:00Z",
            "valueQuantity": {"value": 70.5, "unit": "kg", "system": UCUM, "code": "kg"}}),
        json!({"resourceType": "Observation", "id": "wt2", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": "29463-7", "display": "Body weight"}]},
            "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2021-01-01",
            "valueQuantity": {"value": 82, "unit": "kg", "system": UCUM, "code": "kg"}}),
        json!({"resourceType": "Observation", "id": "phq", "status": "final",
            "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}]},
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
            "code": {"coding": [{"system": "http://snomed.info/sct", "code": "720433000", "display": "PHQ-9 total score"}]},
            "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2024-02-10", "valueInteger": 12}),
        json!({"resourceType": "Observation", "id": "mood", "status": "preliminary",
            "meta": {"tag": [{"system": "http://example.org/tags", "code": "diary"}], "source": "http://example.org/mood-app"},
            "code": {"text": "mood"}, "subject": {"reference": "Patient/p3"},
            "performer": [{"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "RV3"}}],
            "effectiveDateTime": "2024", "valueString": "Feeling better"}),
        json!({"resourceType": "CarePlan", "id": "cp1", "status": "active", "intent": "plan",
            "meta": {"profile": ["https://fhir.hl7.org.uk/StructureDefinition/UKCore-CarePlan"]},
            "subject": {"reference": "Patient/p1"}, "title": "Crisis plan"}),
        json!({"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
            "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "F20.0"}]},
            "onsetDateTime": "2010"}),
        json!({"resourceType": "RiskAssessment", "id": "ra1", "status": "final", "subject": {"reference": "Patient/p1"},
            "prediction": [{"probabilityDecimal": 0.8}]}),
        json!({"resourceType": "RiskAssessment", "id": "ra2", "status": "final", "subject": {"reference": "Patient/p2"},
            "prediction": [{"probabilityDecimal": 0.25}]}),
        json!({"resourceType": "Questionnaire", "id": "q1", "status": "active", "url": "http://example.org/q/phq9"}),
        json!({"resourceType": "Questionnaire", "id": "q2", "status": "active", "url": "http://example.org/q/gad7"}),
    ]
}

pub async fn seed(srv: &TestServer) {
    for r in resources() {
        let path = format!(
            "{}/{}",
            r["resourceType"].as_str().unwrap_or(""),
            r["id"].as_str().unwrap_or("")
        );
        let res = srv.put(&path, &r).await;
        assert_eq!(res.status, 201, "{path}: {}", res.text());
    }
}

/// Stores a custom string SearchParameter `id` on `base` with `expression`, under a code of
/// its own, which it returns: the registry is per process and tests share one.
pub async fn put_string_parameter(
    srv: &TestServer,
    id: &str,
    base: &str,
    expression: &str,
) -> String {
    let code = format!("{id}-{}", uuid::Uuid::new_v4().simple());
    let sp = json!({"resourceType": "SearchParameter", "id": id,
        "url": format!("http://example.org/SearchParameter/{code}"), "name": format!("Custom{base}"),
        "status": "active", "description": format!("{base} by {expression}"), "code": code,
        "base": [base], "type": "string", "expression": expression});
    let r = srv.put(&format!("SearchParameter/{id}"), &sp).await;
    assert_eq!(r.status, 201, "{}", r.text());
    code
}

/// The matches of a search, as sorted `id`s, after checking the answer is a searchset.
pub async fn ids(srv: &TestServer, query: &str) -> Vec<String> {
    let mut ids = ordered_ids(srv, query).await;
    ids.sort();
    ids
}

/// The matches in the order the server gave them. Strict handling, so a parameter the
/// server does not know fails the test instead of being ignored.
pub async fn ordered_ids(srv: &TestServer, query: &str) -> Vec<String> {
    let r = srv
        .send("GET", query, &[("Prefer", "handling=strict")], None)
        .await;
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    let b = r.json();
    assert_eq!(b["type"], "searchset");
    b["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["search"]["mode"] == "match")
        .filter_map(|e| e["resource"]["id"].as_str().map(str::to_string))
        .collect()
}

/// The `next` link of a Bundle, relative to the server's base.
pub fn next_link(srv: &TestServer, bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")?["url"]
        .as_str()
        .map(|u| {
            u.trim_start_matches(&srv.base)
                .trim_start_matches('/')
                .to_string()
        })
}
