//! create (http.html#create)

use serde_json::json;

use crate::fixtures::{observation, patient, with_id};
use crate::storage_test;

storage_test!(create_assigns_id_version_and_location, |srv| {
    let r = srv
        .post("Patient", &with_id(patient("9991000011"), "client-chosen"))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let body = r.json();
    let id = body["id"].as_str().expect("id");
    assert_ne!(id, "client-chosen", "the server assigns the id of a create");
    assert_eq!(body["meta"]["versionId"], "1");
    assert!(body["meta"]["lastUpdated"].as_str().is_some());
    assert_eq!(r.header("etag").as_deref(), Some("W/\"1\""));
    assert!(r.header("last-modified").is_some());
    assert_eq!(
        r.header("location"),
        Some(srv.url(&format!("Patient/{id}/_history/1")))
    );
});

storage_test!(create_keeps_decimal_precision, |srv| {
    let id = srv.create(&observation("1.50")).await;
    let r = srv.get(&format!("Observation/{id}")).await;
    assert!(r.text().contains("\"value\":1.50"), "{}", r.text());
});

storage_test!(create_ignores_client_meta_version_and_time, |srv| {
    let mut p = patient("9991000011");
    p["meta"] = json!({"versionId": "7", "lastUpdated": "2001-01-01T00:00:00Z", "profile": ["http://example.org/p"]});
    let r = srv.post("Patient", &p).await;
    assert_eq!(r.status, 201);
    let body = r.json();
    assert_eq!(body["meta"]["versionId"], "1");
    assert_ne!(body["meta"]["lastUpdated"], "2001-01-01T00:00:00Z");
    assert_eq!(body["meta"]["profile"][0], "http://example.org/p");
});

storage_test!(create_with_prefer_minimal_answers_without_body, |srv| {
    let r = srv
        .send_json(
            "POST",
            "Patient",
            &[("Prefer", "return=minimal")],
            &patient("9991000011"),
        )
        .await;
    assert_eq!(r.status, 201);
    assert!(r.body.is_empty());
    assert!(r.header("location").is_some());
});

storage_test!(
    create_with_prefer_operation_outcome_answers_an_outcome,
    |srv| {
        let r = srv
            .send_json(
                "POST",
                "Patient",
                &[("Prefer", "return=OperationOutcome")],
                &patient("9991000011"),
            )
            .await;
        assert_eq!(r.status, 201);
        assert_eq!(r.json()["resourceType"], "OperationOutcome");
    }
);

storage_test!(create_accepts_resource_types_beyond_the_core_four, |srv| {
    let resources = [
        json!({"resourceType": "CarePlan", "status": "active", "intent": "plan", "subject": {"reference": "Patient/p"}}),
        json!({"resourceType": "Consent", "status": "active", "scope": {"text": "x"}, "category": [{"text": "x"}]}),
        json!({"resourceType": "Provenance", "target": [{"reference": "Patient/p"}], "recorded": "2024-05-01T10:00:00Z", "agent": [{"who": {"display": "GP"}}]}),
        json!({"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2024-05-01T10:00:00Z", "agent": [{"requestor": true}], "source": {"observer": {"display": "carebridge"}}}),
        json!({"resourceType": "Questionnaire", "status": "draft", "item": [{"linkId": "1", "type": "group", "item": [{"linkId": "1.1", "type": "string"}]}]}),
        json!({"resourceType": "Basic", "code": {"text": "x"}}),
    ];
    for r in resources {
        let rt = r["resourceType"].as_str().unwrap_or_default().to_string();
        let res = srv.post(&rt, &r).await;
        assert_eq!(res.status, 201, "{rt}: {}", res.text());
    }
});

storage_test!(
    create_of_invalid_resource_answers_400_and_stores_nothing,
    |srv| {
        let mut p = patient("9991000011");
        p["birthDate"] = json!("1974-13-45");
        let r = srv.post("Patient", &p).await;
        assert_eq!(r.status, 400);
        assert_eq!(
            r.issue(),
            ("value".into(), Some("Patient.birthDate".into()))
        );
        assert_eq!(srv.version_count().await, 0);
    }
);

storage_test!(create_with_body_of_another_type_answers_400, |srv| {
    let r = srv.post("Observation", &patient("9991000011")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue().1.as_deref(), Some("resourceType"));
    assert_eq!(srv.version_count().await, 0);
});
