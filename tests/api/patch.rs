//! patch (http.html#patch): JSON Patch and FHIRPath Patch, by id and by criteria, and a
//! patch that would make an invalid resource changing nothing.

use serde_json::{json, Value};

use crate::fixtures::{patient, NHS};
use crate::storage_test;

const JSON_PATCH: &str = "application/json-patch+json";

fn fhirpath_replace_birth_date(date: &str) -> Value {
    json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
        {"name": "type", "valueCode": "replace"},
        {"name": "path", "valueString": "Patient.birthDate"},
        {"name": "value", "valueDate": date}]}]})
}

storage_test!(json_patch_makes_a_new_version, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let doc = json!([{"op": "replace", "path": "/birthDate", "value": "1975-01-02"},
        {"op": "add", "path": "/name/0/given/-", "value": "James"}]);
    let r = srv
        .send(
            "PATCH",
            &format!("Patient/{id}"),
            &[("Content-Type", JSON_PATCH)],
            Some(doc.to_string().into_bytes()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("ETag").as_deref(), Some("W/\"2\""));
    let now = srv.get(&format!("Patient/{id}")).await.json();
    assert_eq!(now["birthDate"], "1975-01-02");
    assert_eq!(now["name"][0]["given"], json!(["Richard", "James"]));
    assert_eq!(now["meta"]["versionId"], "2");
    // The index follows the patch.
    let found = srv.get("Patient?birthdate=1975-01-02").await.json();
    assert_eq!(found["total"], 1);
});

storage_test!(fhirpath_patch_makes_a_new_version, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv
        .send_json(
            "PATCH",
            &format!("Patient/{id}"),
            &[],
            &fhirpath_replace_birth_date("1980-03-04"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["birthDate"], "1980-03-04");
    let xml = r#"<Parameters xmlns="http://hl7.org/fhir"><parameter><name value="operation"/><part><name value="type"/><valueCode value="add"/></part><part><name value="path"/><valueString value="Patient"/></part><part><name value="name"/><valueString value="active"/></part><part><name value="value"/><valueBoolean value="true"/></part></parameter></Parameters>"#.to_string();
    let r = srv
        .send(
            "PATCH",
            &format!("Patient/{id}"),
            &[("Content-Type", "application/fhir+xml")],
            Some(xml.into_bytes()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        srv.get(&format!("Patient/{id}")).await.json()["active"],
        true
    );
});

storage_test!(
    patch_that_makes_an_invalid_resource_changes_nothing,
    |srv| {
        let id = srv.create(&patient("9991000011")).await;
        let doc = json!([{"op": "add", "path": "/colour", "value": "blue"}]);
        let r = srv
            .send(
                "PATCH",
                &format!("Patient/{id}"),
                &[("Content-Type", JSON_PATCH)],
                Some(doc.to_string().into_bytes()),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert_eq!(r.issue().1.as_deref(), Some("Patient.colour"));
        let doc = json!([{"op": "replace", "path": "/birthDate", "value": "31/12/1970"}]);
        let r = srv
            .send(
                "PATCH",
                &format!("Patient/{id}"),
                &[("Content-Type", JSON_PATCH)],
                Some(doc.to_string().into_bytes()),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text());
        assert_eq!(r.issue().1.as_deref(), Some("Patient.birthDate"));
        // Valid as a Parameters value, not as a birth date.
        let mut doc = fhirpath_replace_birth_date("1970-02-03");
        doc["parameter"][0]["part"][2] = json!({"name": "value", "valueString": "yesterday"});
        let r = srv
            .send_json("PATCH", &format!("Patient/{id}"), &[], &doc)
            .await;
        assert_eq!(r.status, 422, "{}", r.text());
        // A malformed patch document is the client's error before any patching: 400.
        let r = srv
            .send_json(
                "PATCH",
                &format!("Patient/{id}"),
                &[],
                &fhirpath_replace_birth_date("1970-02-30"),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.text());
        let now = srv.get(&format!("Patient/{id}")).await.json();
        assert_eq!(
            (now["birthDate"].as_str(), now["meta"]["versionId"].as_str()),
            (Some("1974-12-25"), Some("1"))
        );
        assert_eq!(srv.version_count().await, 1);
    }
);

storage_test!(patch_honours_if_match_and_answers_404_and_410, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let doc = json!([{"op": "replace", "path": "/birthDate", "value": "1975-01-02"}]).to_string();
    let r = srv
        .send(
            "PATCH",
            &format!("Patient/{id}"),
            &[("Content-Type", JSON_PATCH), ("If-Match", "W/\"7\"")],
            Some(doc.clone().into_bytes()),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text());
    let r = srv
        .send(
            "PATCH",
            &format!("Patient/{id}"),
            &[("Content-Type", JSON_PATCH), ("If-Match", "W/\"1\"")],
            Some(doc.clone().into_bytes()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let r = srv
        .send(
            "PATCH",
            "Patient/nobody",
            &[("Content-Type", JSON_PATCH)],
            Some(doc.clone().into_bytes()),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    srv.delete(&format!("Patient/{id}")).await;
    let r = srv
        .send(
            "PATCH",
            &format!("Patient/{id}"),
            &[("Content-Type", JSON_PATCH)],
            Some(doc.into_bytes()),
        )
        .await;
    assert_eq!(r.status, 410, "{}", r.text());
});

storage_test!(conditional_patch_patches_the_one_match, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    srv.create(&patient("9991000022")).await;
    srv.create(&patient("9991000022")).await;
    let doc = json!([{"op": "add", "path": "/active", "value": false}]).to_string();
    let r = srv
        .send(
            "PATCH",
            &format!("Patient?identifier={NHS}|9991000011"),
            &[("Content-Type", JSON_PATCH)],
            Some(doc.clone().into_bytes()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(
        srv.get(&format!("Patient/{id}")).await.json()["active"],
        false
    );
    let r = srv
        .send(
            "PATCH",
            &format!("Patient?identifier={NHS}|9991000022"),
            &[("Content-Type", JSON_PATCH)],
            Some(doc.clone().into_bytes()),
        )
        .await;
    assert_eq!(r.status, 412, "{}", r.text());
    let r = srv
        .send(
            "PATCH",
            &format!("Patient?identifier={NHS}|9991000033"),
            &[("Content-Type", JSON_PATCH)],
            Some(doc.into_bytes()),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
});

storage_test!(malformed_patch_documents_answer_400, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv
        .send(
            "PATCH",
            &format!("Patient/{id}"),
            &[("Content-Type", JSON_PATCH)],
            Some(br#"{"op":"replace"}"#.to_vec()),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = srv
        .send_json(
            "PATCH",
            &format!("Patient/{id}"),
            &[],
            &patient("9991000011"),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(srv.version_count().await, 1);
});
