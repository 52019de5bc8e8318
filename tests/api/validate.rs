//! $validate against the UK Core-based profiles, and profile enforcement on write.

use serde_json::{json, Value};

use carebridge::profile::Policy;

use crate::fixtures::NHS;
use crate::helpers::Resp;
use crate::storage_test;

const PATIENT: &str = "https://fhir.carebridge.example/StructureDefinition/Carebridge-Patient";
const OBSERVATION: &str =
    "https://fhir.carebridge.example/StructureDefinition/Carebridge-Observation";

fn uk_patient(nhs: &str) -> Value {
    json!({"resourceType": "Patient", "meta": {"profile": [PATIENT]},
        "identifier": [{"system": NHS, "value": nhs,
            "extension": [{"url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                "valueCodeableConcept": {"coding": [{"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland", "code": "01"}]}}]}],
        "name": [{"family": "Smith", "given": ["Richard"]}], "gender": "male", "birthDate": "1974-12-25"})
}

fn survey(subject: Option<&str>) -> Value {
    let mut o = json!({"resourceType": "Observation", "meta": {"profile": [OBSERVATION]}, "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "720433000"}]},
        "effectiveDateTime": "2024-05-01", "valueInteger": 12});
    if let Some(s) = subject {
        o["subject"] = json!({"reference": s});
    }
    o
}

/// (code, expression) of every issue.
fn issues(r: &Resp) -> Vec<(String, String)> {
    assert_eq!(r.status, 200, "{}", r.text());
    let oo = r.json();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    oo["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|i| i["severity"] == "error")
        .map(|i| {
            (
                i["code"].as_str().unwrap_or("").to_string(),
                i["expression"][0].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

storage_test!(valid_resources_validate_clean, |srv| {
    let r = srv
        .post("Patient/$validate", &uk_patient("9434765919"))
        .await;
    assert_eq!(issues(&r), vec![]);
    assert_eq!(r.json()["issue"][0]["severity"], "information");
    let r = srv
        .post("Observation/$validate", &survey(Some("Patient/p1")))
        .await;
    assert_eq!(issues(&r), vec![]);
});

storage_test!(wrong_nhs_number_check_digit_is_reported, |srv| {
    let r = srv
        .post("Patient/$validate", &uk_patient("9434765918"))
        .await;
    let found = issues(&r);
    assert_eq!(
        found,
        vec![("invariant".to_string(), "Patient".to_string())]
    );
    assert!(r.text().contains("Modulus 11"), "{}", r.text());
});

storage_test!(missing_required_element_is_reported, |srv| {
    let r = srv.post("Observation/$validate", &survey(None)).await;
    assert_eq!(
        issues(&r),
        vec![("required".to_string(), "Observation.subject".to_string())]
    );
});

storage_test!(code_outside_a_required_binding_is_reported, |srv| {
    let mut p = uk_patient("9434765919");
    p["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] = json!("42");
    p["gender"] = json!("M");
    let r = srv.post("Patient/$validate", &p).await;
    assert_eq!(
        issues(&r),
        vec![
            (
                "code-invalid".to_string(),
                "Patient.identifier[0].extension[0].valueCodeableConcept".to_string()
            ),
            ("code-invalid".to_string(), "Patient.gender".to_string()),
        ]
    );
});

storage_test!(
    profile_comes_from_parameters_query_or_stored_resource,
    |srv| {
        let mut bare = uk_patient("9434765918");
        bare["meta"] = json!({"source": "test"});
        // No profile claimed or asked for: R4 alone, which it meets.
        assert_eq!(issues(&srv.post("Patient/$validate", &bare).await), vec![]);
        let params = json!({"resourceType": "Parameters", "parameter": [
        {"name": "resource", "resource": bare}, {"name": "profile", "valueUri": PATIENT}]});
        assert_eq!(
            issues(&srv.post("Patient/$validate", &params).await).len(),
            1
        );
        assert_eq!(
            issues(
                &srv.post(&format!("Patient/$validate?profile={PATIENT}"), &bare)
                    .await
            )
            .len(),
            1
        );
        let id = srv.create(&bare).await;
        assert_eq!(
            issues(&srv.get(&format!("Patient/{id}/$validate")).await),
            vec![]
        );
        assert_eq!(
            issues(
                &srv.get(&format!("Patient/{id}/$validate?profile={PATIENT}"))
                    .await
            )
            .len(),
            1
        );
        let unknown = issues(
            &srv.post("Patient/$validate?profile=http://example.org/nope", &bare)
                .await,
        );
        assert_eq!(unknown[0].0, "not-supported");
        let mut broken = bare.clone();
        broken["birthDate"] = json!("1974-02-30");
        assert_eq!(
            issues(&srv.post("Patient/$validate", &broken).await)[0].1,
            "Patient.birthDate"
        );
        assert_eq!(srv.get("Patient/nobody/$validate").await.status, 404);
        assert_eq!(
            srv.send(
                "POST",
                "Patient/$validate",
                &[("Content-Type", "application/fhir+json")],
                Some(b"{".to_vec())
            )
            .await
            .status,
            400
        );
    }
);

storage_test!(
    enforcement_refuses_writes_that_break_claimed_and_default_profiles,
    profiles = Policy {
        enforce: true,
        defaults: [("Observation".to_string(), OBSERVATION.to_string())].into(),
    },
    |srv| {
        let r = srv.post("Patient", &uk_patient("9434765918")).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert_eq!(r.issue().0, "invariant");
        let id = srv.create(&uk_patient("9434765919")).await;
        // An update, a patch and a transaction entry are held to the same profiles.
        let mut bad = uk_patient("9434765918");
        bad["id"] = json!(id);
        assert_eq!(srv.put(&format!("Patient/{id}"), &bad).await.status, 422);
        let doc = json!([{"op": "replace", "path": "/identifier/0/value", "value": "9434765918"}])
            .to_string();
        let r = srv
            .send(
                "PATCH",
                &format!("Patient/{id}"),
                &[("Content-Type", "application/json-patch+json")],
                Some(doc.into_bytes()),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text());
        // The type's default applies without a claim.
        let mut plain = survey(None);
        plain["meta"] = json!({"source": "test"});
        assert_eq!(srv.post("Observation", &plain).await.status, 422);
        let b = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"request": {"method": "POST", "url": "Observation"}, "resource": survey(Some(&format!("Patient/{id}")))},
            {"request": {"method": "POST", "url": "Observation"}, "resource": plain}]});
        let r = srv.post("", &b).await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert!(r.text().contains("Bundle.entry[1]"), "{}", r.text());
        assert_eq!(
            srv.post("Observation", &survey(Some(&format!("Patient/{id}"))))
                .await
                .status,
            201
        );
        assert_eq!(srv.version_count().await, 2);
    }
);
