//! The structural validator against fhirbolt's strict parse: whatever fhirbolt refuses, the
//! validator must refuse too. That is why a JSON body is checked by the validator alone on the
//! write path (fhirbolt's parse of a 100-entry Bundle cost more than the validator and the
//! JSON parse together). The seeds are resources of the kinds Carebridge stores; every
//! mutation is one of the mistakes clients make (a wrong JSON type, an array where one value
//! belongs or the reverse, an unknown or misspelt element, an empty or null value).

use serde_json::{json, Map, Value};

use super::validate::validate_resource;

fn seeds() -> Vec<Value> {
    vec![
        json!({"resourceType": "Patient", "id": "p1",
            "meta": {"profile": ["https://fhir.carebridge.example/StructureDefinition/Patient"],
                "security": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "PSY"}]},
            "extension": [{"url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory",
                "valueCodeableConcept": {"coding": [{"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland", "code": "A"}]}}],
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000018"}],
            "active": true,
            "name": [{"use": "official", "family": "Smith", "given": ["Ann", "B"], "prefix": ["Ms"]}],
            "telecom": [{"system": "phone", "value": "01234", "use": "home"}],
            "gender": "female", "birthDate": "1980-01-01",
            "_birthDate": {"extension": [{"url": "http://example.org/x", "valueDateTime": "1980-01-01T08:00:00Z"}]},
            "deceasedBoolean": false,
            "address": [{"line": ["1 Road"], "postalCode": "LS1 1AA", "period": {"start": "2020-01-01"}}],
            "contact": [{"relationship": [{"text": "carer"}], "name": {"text": "Sue"}}],
            "generalPractitioner": [{"reference": "Organization/o1", "display": "Surgery"}]}),
        json!({"resourceType": "Observation", "id": "o1", "status": "final",
            "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}], "text": "Blood pressure"},
            "subject": {"reference": "Patient/p1"},
            "effectiveDateTime": "2024-03-01T09:00:00+00:00",
            "issued": "2024-03-01T09:05:00.000Z",
            "performer": [{"reference": "Practitioner/pr1"}],
            "hasMember": [{"reference": "Observation/o2"}],
            "referenceRange": [{"low": {"value": 1, "unit": "mmol/L"}, "high": {"value": 2.5}}],
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                 "valueQuantity": {"value": 120, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                {"code": {"text": "note"}, "valueString": "seated", "interpretation": [{"text": "normal"}]}]}),
        json!({"resourceType": "CarePlan", "id": "c1", "status": "active", "intent": "plan",
            "subject": {"reference": "Patient/p1"}, "period": {"start": "2024-01-01", "end": "2024-12-31"},
            "addresses": [{"reference": "Condition/x1"}],
            "contained": [{"resourceType": "Goal", "id": "g1", "lifecycleStatus": "active",
                "description": {"text": "sleep better"}, "subject": {"reference": "Patient/p1"}}],
            "goal": [{"reference": "#g1"}],
            "activity": [{"detail": {"status": "scheduled", "description": "weekly call",
                "scheduledTiming": {"repeat": {"frequency": 1, "period": 1, "periodUnit": "wk"}}}}]}),
        json!({"resourceType": "Consent", "id": "k1", "status": "active",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": "Patient/p1"}, "dateTime": "2024-05-01",
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]},
            "provision": {"type": "permit", "period": {"start": "2024-05-01"},
                "actor": [{"role": {"text": "carer"}, "reference": {"reference": "RelatedPerson/r1"}}],
                "provision": [{"type": "deny", "class": [{"code": "Observation"}]}]}}),
        json!({"resourceType": "MedicationStatement", "id": "m1", "status": "active",
            "medicationCodeableConcept": {"coding": [{"system": "https://dmd.nhs.uk", "code": "39732311000001104"}]},
            "subject": {"reference": "Patient/p1"}, "effectivePeriod": {"start": "2024-01-01"},
            "dosage": [{"text": "one daily", "doseAndRate": [{"doseQuantity": {"value": 1}}]}]}),
        json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
             "resource": {"resourceType": "Patient", "name": [{"family": "Doe"}], "gender": "male"},
             "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=x|1"}},
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "mood"},
                "subject": {"reference": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"}, "valueInteger": 7},
             "request": {"method": "PUT", "url": "Observation?identifier=x|2", "ifMatch": "W/\"1\""}}]}),
    ]
}

/// Values a mistaken client puts where another belongs.
fn replacements(original: &Value) -> Vec<Value> {
    let mut out = vec![
        Value::Null,
        json!(true),
        json!(1),
        json!(-2.5),
        json!("x"),
        json!(""),
        json!([]),
        json!({}),
        json!({"x": 1}),
        json!([original.clone()]),
        json!(["a", "b"]),
    ];
    if let Value::Array(items) = original {
        out.extend(items.first().cloned());
    }
    out
}

/// Every document that differs from `v` by one mistake, by JSON pointer.
fn mutants(v: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    let mut pointers = Vec::new();
    collect_pointers(v, String::new(), &mut pointers);
    for p in &pointers {
        let Some(original) = v.pointer(p) else {
            continue;
        };
        // The resourceType of the root is not a mistake worth making here.
        if p == "/resourceType" {
            continue;
        }
        for r in replacements(original) {
            let mut m = v.clone();
            if let Some(slot) = m.pointer_mut(p) {
                *slot = r;
            }
            out.push(m);
        }
        if let Some(Value::Object(obj)) = v.pointer(p) {
            for (k, extra) in [("colour", json!("blue")), ("valueFoo", json!("x"))] {
                let mut m = v.clone();
                if let Some(Value::Object(o)) = m.pointer_mut(p) {
                    o.insert(k.into(), extra);
                }
                out.push(m);
            }
            for key in obj.keys() {
                let mut m = v.clone();
                if let Some(Value::Object(o)) = m.pointer_mut(p) {
                    rename(o, key, &format!("{key}s"));
                }
                out.push(m);
            }
        }
    }
    out
}

fn rename(o: &mut Map<String, Value>, from: &str, to: &str) {
    if let Some(v) = o.shift_remove(from) {
        o.insert(to.into(), v);
    }
}

fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, c) in o {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                collect_pointers(c, p, out);
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                collect_pointers(c, p, out);
            }
        }
        _ => {}
    }
}

#[test]
fn the_seeds_are_valid_to_both() {
    for s in seeds() {
        let bytes = serde_json::to_vec(&s).expect("serialises");
        assert_eq!(validate_resource(&s), vec![], "{s}");
        assert_eq!(fhir_model::check_json(&bytes), Ok(()), "{s}");
    }
}

#[test]
fn the_validator_refuses_whatever_fhirbolt_refuses() {
    let (mut checked, mut refused) = (0, 0);
    let mut missed = Vec::new();
    for seed in seeds() {
        for m in mutants(&seed) {
            let bytes = serde_json::to_vec(&m).expect("serialises");
            checked += 1;
            if fhir_model::check_json(&bytes).is_err() {
                refused += 1;
                if validate_resource(&m).is_empty() {
                    missed.push(m.to_string());
                }
            }
        }
    }
    eprintln!("{checked} mutants, {refused} refused by fhirbolt");
    assert!(
        checked > 2500 && refused > 1500,
        "{checked} mutants, {refused} refused"
    );
    assert!(
        missed.is_empty(),
        "{} of {checked} mutants fhirbolt refuses pass the validator, such as:\n{}",
        missed.len(),
        missed
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
