//! read, vread, HEAD, conditional read, _summary and _elements (http.html#read)

use crate::fixtures::patient;
use crate::storage_test;

storage_test!(read_returns_the_stored_resource_with_its_etag, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv.get(&format!("Patient/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["identifier"][0]["value"], "9991000011");
    assert_eq!(r.header("etag").as_deref(), Some("W/\"1\""));
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/fhir+json"));
});

storage_test!(read_of_unknown_id_answers_404, |srv| {
    let r = srv.get("Patient/nope").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.issue().0, "not-found");
});

storage_test!(read_of_malformed_id_answers_400, |srv| {
    let r = srv.get("Patient/bad_id!").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue().1.as_deref(), Some("id"));
});

storage_test!(read_of_deleted_resource_answers_410, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    assert_eq!(srv.delete(&format!("Patient/{id}")).await.status, 200);
    let r = srv.get(&format!("Patient/{id}")).await;
    assert_eq!(r.status, 410);
    assert_eq!(r.issue().0, "deleted");
});

storage_test!(vread_returns_each_version_as_it_was, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let mut p = srv.get(&format!("Patient/{id}")).await.json();
    p["gender"] = serde_json::json!("female");
    assert_eq!(srv.put(&format!("Patient/{id}"), &p).await.status, 200);
    let v1 = srv.get(&format!("Patient/{id}/_history/1")).await;
    assert_eq!(v1.status, 200);
    assert_eq!(v1.json()["gender"], "male");
    assert_eq!(v1.header("etag").as_deref(), Some("W/\"1\""));
    let v2 = srv.get(&format!("Patient/{id}/_history/2")).await;
    assert_eq!(v2.json()["gender"], "female");
    assert_eq!(
        srv.get(&format!("Patient/{id}/_history/3")).await.status,
        404
    );
    assert_eq!(
        srv.get(&format!("Patient/{id}/_history/x")).await.status,
        404
    );
});

storage_test!(vread_of_the_delete_version_answers_410, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    srv.delete(&format!("Patient/{id}")).await;
    assert_eq!(
        srv.get(&format!("Patient/{id}/_history/2")).await.status,
        410
    );
    assert_eq!(
        srv.get(&format!("Patient/{id}/_history/1")).await.status,
        200
    );
});

storage_test!(head_answers_headers_without_a_body, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv.send("HEAD", &format!("Patient/{id}"), &[], None).await;
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    assert_eq!(r.header("etag").as_deref(), Some("W/\"1\""));
});

storage_test!(
    conditional_read_answers_304_when_the_client_copy_is_current,
    |srv| {
        let id = srv.create(&patient("9991000011")).await;
        let path = format!("Patient/{id}");
        let r = srv
            .send("GET", &path, &[("If-None-Match", "W/\"1\"")], None)
            .await;
        assert_eq!(r.status, 304);
        let r = srv
            .send("GET", &path, &[("If-None-Match", "W/\"0\"")], None)
            .await;
        assert_eq!(r.status, 200);
        let last_modified = srv
            .get(&path)
            .await
            .header("last-modified")
            .expect("last-modified");
        let r = srv
            .send("GET", &path, &[("If-Modified-Since", &last_modified)], None)
            .await;
        assert_eq!(r.status, 304);
        let r = srv
            .send(
                "GET",
                &path,
                &[("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")],
                None,
            )
            .await;
        assert_eq!(r.status, 200);
    }
);

storage_test!(summary_and_elements_subset_the_resource, |srv| {
    let mut p = patient("9991000011");
    p["photo"] = serde_json::json!([{"contentType": "image/png"}]);
    let id = srv.create(&p).await;
    let s = srv.get(&format!("Patient/{id}?_summary=true")).await.json();
    assert!(s.get("photo").is_none() && s.get("birthDate").is_some());
    assert_eq!(s["meta"]["tag"][0]["code"], "SUBSETTED");
    let e = srv
        .get(&format!("Patient/{id}?_elements=gender"))
        .await
        .json();
    assert!(e.get("gender").is_some() && e.get("birthDate").is_none() && e.get("name").is_none());
    let bad = srv.get(&format!("Patient/{id}?_summary=maybe")).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.issue().1.as_deref(), Some("_summary"));
});
