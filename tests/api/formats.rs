//! JSON and XML in and out, by Content-Type, Accept and _format (http.html#mime-type)

use crate::fixtures::{observation, patient};
use crate::storage_test;

const XML_PATIENT: &str = r#"<Patient xmlns="http://hl7.org/fhir">
  <identifier><system value="https://fhir.nhs.uk/Id/nhs-number"/><value value="9991000011"/></identifier>
  <gender value="female"/>
  <birthDate value="1980-02-29"/>
</Patient>"#;

storage_test!(xml_body_is_stored_and_read_back_as_json, |srv| {
    let r = srv
        .send(
            "POST",
            "Patient",
            &[("Content-Type", "application/fhir+xml")],
            Some(XML_PATIENT.into()),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().expect("id").to_string();
    let j = srv.get(&format!("Patient/{id}")).await.json();
    assert_eq!(j["birthDate"], "1980-02-29");
    assert_eq!(j["identifier"][0]["value"], "9991000011");
});

storage_test!(accept_xml_answers_xml_with_decimals_kept, |srv| {
    let id = srv.create(&observation("1.50")).await;
    let r = srv
        .send(
            "GET",
            &format!("Observation/{id}"),
            &[("Accept", "application/fhir+xml")],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/fhir+xml"));
    assert!(r.text().contains("<value value=\"1.50\"/>"), "{}", r.text());
});

storage_test!(format_parameter_overrides_accept, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv
        .send(
            "GET",
            &format!("Patient/{id}?_format=json"),
            &[("Accept", "application/fhir+xml")],
            None,
        )
        .await;
    assert_eq!(r.json()["id"], id.as_str());
    let r = srv.get(&format!("Patient/{id}?_format=xml")).await;
    assert!(
        r.text().starts_with("<?xml") || r.text().starts_with("<Patient"),
        "{}",
        r.text()
    );
});

storage_test!(pretty_json_is_indented, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv.get(&format!("Patient/{id}?_pretty=true")).await;
    assert!(r.text().contains("\n  \"id\""), "{}", r.text());
});

storage_test!(unsupported_accept_answers_406, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv
        .send(
            "GET",
            &format!("Patient/{id}"),
            &[("Accept", "text/html")],
            None,
        )
        .await;
    assert_eq!(r.status, 406);
    assert_eq!(r.issue().0, "not-supported");
});

storage_test!(
    unsupported_content_type_answers_415_and_stores_nothing,
    |srv| {
        let r = srv
            .send(
                "POST",
                "Patient",
                &[("Content-Type", "text/plain")],
                Some(b"hello".to_vec()),
            )
            .await;
        assert_eq!(r.status, 415);
        assert_eq!(srv.version_count().await, 0);
    }
);

storage_test!(errors_come_as_xml_when_xml_is_asked_for, |srv| {
    let r = srv
        .send(
            "GET",
            "Patient/nope",
            &[("Accept", "application/fhir+xml")],
            None,
        )
        .await;
    assert_eq!(r.status, 404);
    assert!(r.text().contains("<OperationOutcome"), "{}", r.text());
});

storage_test!(malformed_xml_answers_400, |srv| {
    let r = srv
        .send(
            "POST",
            "Patient",
            &[("Content-Type", "application/fhir+xml")],
            Some(b"<Patient xmlns=\"http://hl7.org/fhir\"><gender value=".to_vec()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(invalid_xml_content_names_the_element, |srv| {
    let xml = XML_PATIENT.replace("1980-02-29", "1980-02-30");
    let r = srv
        .send(
            "POST",
            "Patient",
            &[("Content-Type", "application/fhir+xml")],
            Some(xml.into_bytes()),
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue().1.as_deref(), Some("Patient.birthDate"));
});
