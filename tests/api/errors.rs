//! Bad input answers a clear OperationOutcome with a 4xx and stores nothing.

use serde_json::json;

use crate::fixtures::patient;
use crate::storage_test;

storage_test!(malformed_json_answers_400, |srv| {
    let r = srv
        .send(
            "POST",
            "Patient",
            &[("Content-Type", "application/fhir+json")],
            Some(b"{\"resourceType\": \"Patient\",".to_vec()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue().0, "structure");
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(duplicate_json_keys_answer_400, |srv| {
    let body = br#"{"resourceType": "Patient", "gender": "male", "gender": "female"}"#.to_vec();
    let r = srv
        .send(
            "POST",
            "Patient",
            &[("Content-Type", "application/fhir+json")],
            Some(body),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("duplicate key 'gender'"), "{}", r.text());
});

storage_test!(empty_body_answers_400, |srv| {
    let r = srv
        .send(
            "POST",
            "Patient",
            &[("Content-Type", "application/fhir+json")],
            Some(Vec::new()),
        )
        .await;
    assert_eq!(r.status, 400);
});

storage_test!(unknown_element_answers_400_naming_it, |srv| {
    let mut p = patient("9991000011");
    p["colour"] = json!("blue");
    let r = srv.post("Patient", &p).await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.issue(),
        ("structure".into(), Some("Patient.colour".into()))
    );
});

storage_test!(every_problem_in_a_resource_is_reported, |srv| {
    let body = json!({"resourceType": "Observation", "code": {"text": "x"}, "effectiveDateTime": "2024-02-30", "valueQuantity": {"value": "heavy"}});
    let r = srv.post("Observation", &body).await;
    assert_eq!(r.status, 400);
    let oo = r.json();
    let mut exprs: Vec<&str> = oo["issue"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["expression"][0].as_str())
        .collect();
    exprs.sort();
    assert_eq!(
        exprs,
        vec![
            "Observation.effectiveDateTime",
            "Observation.status",
            "Observation.valueQuantity.value"
        ]
    );
});

storage_test!(unknown_resource_type_answers_404, |srv| {
    let r = srv.get("Spaceship/1").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.issue().0, "not-supported");
    let r = srv
        .post("Spaceship", &json!({"resourceType": "Spaceship"}))
        .await;
    assert_eq!(r.status, 404);
});

storage_test!(unsupported_method_answers_405, |srv| {
    let r = srv.send("POST", "Patient/p1", &[], None).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.issue().0, "not-supported");
    assert_eq!(srv.send("POST", "metadata", &[], None).await.status, 405);
});

storage_test!(oversized_body_answers_413_and_stores_nothing, |srv| {
    let mut p = patient("9991000011");
    p["name"][0]["family"] = json!("x".repeat(70 * 1024));
    let r = srv.post("Patient", &p).await;
    assert_eq!(r.status, 413);
    assert_eq!(r.issue().0, "too-long");
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(a_body_that_is_not_a_resource_answers_400, |srv| {
    for body in [json!([1, 2]), json!({"gender": "male"}), json!("Patient")] {
        let r = srv.post("Patient", &body).await;
        assert_eq!(r.status, 400, "{body}");
    }
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(unknown_paths_answer_404_with_an_outcome, |srv| {
    let r = srv.send("GET", "/../../etc/passwd", &[], None).await;
    assert!(r.status == 404 || r.status == 400, "{}", r.status);
    let r = srv.get("Patient/p1/_history/1/extra").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["resourceType"], "OperationOutcome");
});

storage_test!(many_concurrent_creates_all_succeed, |srv| {
    let bodies: Vec<_> = (0..40).map(|i| patient(&format!("99910{i:05}"))).collect();
    let results =
        futures_util::future::join_all(bodies.iter().map(|b| srv.post("Patient", b))).await;
    for r in &results {
        assert_eq!(r.status, 201, "{}", r.text());
    }
    assert_eq!(srv.get("Patient?_summary=count").await.json()["total"], 40);
});

storage_test!(hostile_bodies_never_cause_a_server_error, |srv| {
    let deep = format!("{}{}", "{\"a\":".repeat(300), "}".repeat(300));
    let bodies: Vec<String> = vec![
        deep,
        r#"{"resourceType": "Patient", "multipleBirthInteger": 99999999999}"#.into(),
        r#"{"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueQuantity": {"value": 1e400}}"#.into(),
        r#"{"resourceType": "Patient", "name": [{"given": [null]}]}"#.into(),
        r#"{"resourceType": "Patient", "name": [null]}"#.into(),
        r#"{"resourceType": "Patient", "_birthDate": "x"}"#.into(),
        r#"{"resourceType": "Patient", "contained": [{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient", "gender": 1}}]}]}"#.into(),
        r#"{"resourceType": "Patient", "text": {"status": "generated", "div": "not xhtml"}}"#.into(),
        r#"{"resourceType": "Patient", "birthDate": "１９７４-12-25"}"#.into(),
        "\u{feff}{\"resourceType\": \"Patient\"}".into(),
        r#"{"resourceType": "Patient", "id": "a/../../b"}"#.into(),
        r#"{"resourceType": 7}"#.into(),
        "null".into(),
        "\"\\ud800\"".into(),
    ];
    for b in bodies {
        let r = srv
            .send(
                "POST",
                "Patient",
                &[("Content-Type", "application/fhir+json")],
                Some(b.clone().into_bytes()),
            )
            .await;
        assert!(r.status < 500, "{} for {b:.80}: {}", r.status, r.text());
        if r.status >= 400 {
            assert_eq!(r.json()["resourceType"], "OperationOutcome", "{b:.80}");
        }
    }
    for b in ["<Patient xmlns=\"http://hl7.org/fhir\"><birthDate value=\"1974-13-45\"/></Patient>", "<Patient/>", "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><Patient xmlns=\"http://hl7.org/fhir\"><id value=\"&e;\"/></Patient>", "<Bundle xmlns=\"http://hl7.org/fhir\"></Bundle>"] {
        let r = srv
            .send("POST", "Patient", &[("Content-Type", "application/fhir+xml")], Some(b.as_bytes().to_vec()))
            .await;
        assert!(r.status < 500 && r.status >= 400, "{} for {b}: {}", r.status, r.text());
    }
});
