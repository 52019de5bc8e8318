//! update, update-as-create and version-aware update (http.html#update)

use serde_json::json;

use crate::fixtures::{patient, with_id};
use crate::storage_test;

storage_test!(update_writes_a_new_version, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let mut p = srv.get(&format!("Patient/{id}")).await.json();
    p["gender"] = json!("female");
    let r = srv.put(&format!("Patient/{id}"), &p).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["meta"]["versionId"], "2");
    assert_eq!(r.header("etag").as_deref(), Some("W/\"2\""));
    assert_eq!(
        r.header("location"),
        Some(srv.url(&format!("Patient/{id}/_history/2")))
    );
});

storage_test!(update_of_a_new_id_creates_it_with_that_id, |srv| {
    let r = srv
        .put(
            "Patient/nhs-9991000011",
            &with_id(patient("9991000011"), "nhs-9991000011"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["id"], "nhs-9991000011");
    assert_eq!(srv.get("Patient/nhs-9991000011").await.status, 200);
});

storage_test!(update_with_the_same_content_writes_no_version, |srv| {
    let p = with_id(patient("9991000011"), "same");
    assert_eq!(srv.put("Patient/same", &p).await.status, 201);
    let again = srv.put("Patient/same", &p).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["meta"]["versionId"], "1");
    assert_eq!(srv.version_count().await, 1);
});

storage_test!(
    update_with_stale_if_match_answers_412_and_changes_nothing,
    |srv| {
        let p = with_id(patient("9991000011"), "p1");
        srv.put("Patient/p1", &p).await;
        let mut changed = p.clone();
        changed["gender"] = json!("female");
        let r = srv
            .send_json("PUT", "Patient/p1", &[("If-Match", "W/\"2\"")], &changed)
            .await;
        assert_eq!(r.status, 412);
        assert_eq!(r.issue().0, "conflict");
        assert_eq!(srv.get("Patient/p1").await.json()["gender"], "male");
        let r = srv
            .send_json("PUT", "Patient/p1", &[("If-Match", "W/\"1\"")], &changed)
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["meta"]["versionId"], "2");
    }
);

storage_test!(update_without_id_in_body_answers_400, |srv| {
    let r = srv.put("Patient/p1", &patient("9991000011")).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue(), ("required".into(), Some("Patient.id".into())));
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(update_with_id_other_than_the_url_answers_400, |srv| {
    let r = srv
        .put("Patient/p1", &with_id(patient("9991000011"), "p2"))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue().1.as_deref(), Some("Patient.id"));
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(update_after_delete_brings_the_resource_back, |srv| {
    let p = with_id(patient("9991000011"), "p1");
    srv.put("Patient/p1", &p).await;
    srv.delete("Patient/p1").await;
    let r = srv.put("Patient/p1", &p).await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["meta"]["versionId"], "3");
    assert_eq!(srv.get("Patient/p1").await.status, 200);
});

storage_test!(
    concurrent_updates_of_one_resource_each_get_their_own_version,
    |srv| {
        let p = with_id(patient("9991000011"), "busy");
        srv.put("Patient/busy", &p).await;
        let mut tasks = Vec::new();
        for i in 0..12 {
            let mut v = p.clone();
            v["name"][0]["given"] = json!([format!("Name{i}")]);
            tasks.push(async move { v });
        }
        let bodies = futures_util::future::join_all(tasks).await;
        let results =
            futures_util::future::join_all(bodies.iter().map(|b| srv.put("Patient/busy", b))).await;
        for r in &results {
            assert_eq!(r.status, 200, "{}", r.text());
        }
        let mut versions: Vec<String> = results
            .iter()
            .map(|r| {
                r.json()["meta"]["versionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        versions.sort_by_key(|v| v.parse::<i64>().unwrap_or(0));
        let expected: Vec<String> = (2..=13).map(|v| v.to_string()).collect();
        assert_eq!(versions, expected);
    }
);
