//! conditional create, update and delete: the 0/1/many rules of http.html

use serde_json::json;

use crate::fixtures::{patient, with_id, NHS};
use crate::storage_test;

fn by_nhs(n: &str) -> String {
    format!("identifier={NHS}|{n}")
}

storage_test!(conditional_create_with_no_match_creates, |srv| {
    let r = srv
        .send_json(
            "POST",
            "Patient",
            &[("If-None-Exist", &by_nhs("9991000011"))],
            &patient("9991000011"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
});

storage_test!(
    conditional_create_with_one_match_answers_200_and_creates_nothing,
    |srv| {
        let id = srv.create(&patient("9991000011")).await;
        let r = srv
            .send_json(
                "POST",
                "Patient",
                &[(
                    "If-None-Exist",
                    &format!("Patient?{}", by_nhs("9991000011")),
                )],
                &patient("9991000011"),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["id"], id.as_str());
        assert_eq!(srv.version_count().await, 1);
    }
);

storage_test!(conditional_create_with_many_matches_answers_412, |srv| {
    srv.create(&patient("9991000011")).await;
    srv.create(&patient("9991000011")).await;
    let r = srv
        .send_json(
            "POST",
            "Patient",
            &[("If-None-Exist", &by_nhs("9991000011"))],
            &patient("9991000011"),
        )
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(r.issue().0, "multiple-matches");
    assert_eq!(srv.version_count().await, 2);
});

storage_test!(concurrent_conditional_creates_make_one_resource, |srv| {
    let body = patient("9991000029");
    let header = by_nhs("9991000029");
    let headers = [("If-None-Exist", header.as_str())];
    let requests = (0..8).map(|_| srv.send_json("POST", "Patient", &headers, &body));
    let results = futures_util::future::join_all(requests).await;
    let created = results.iter().filter(|r| r.status == 201).count();
    for r in &results {
        assert!(
            r.status == 201 || r.status == 200,
            "{} {}",
            r.status,
            r.text()
        );
    }
    assert_eq!(created, 1);
    let b = srv.get("Patient?identifier=9991000029").await.json();
    assert_eq!(b["total"], 1);
});

storage_test!(
    conditional_create_with_unsupported_criteria_answers_400,
    |srv| {
        let r = srv
            .send_json(
                "POST",
                "Patient",
                &[("If-None-Exist", "colour=blue")],
                &patient("9991000011"),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.issue().1.as_deref(), Some("colour"));
        assert_eq!(srv.version_count().await, 0);
    }
);

storage_test!(conditional_update_with_no_match_creates, |srv| {
    let r = srv
        .put(
            &format!("Patient?{}", by_nhs("9991000011")),
            &patient("9991000011"),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = srv
        .put(
            &format!("Patient?{}", by_nhs("9991000037")),
            &with_id(patient("9991000037"), "chosen"),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["id"], "chosen");
});

storage_test!(conditional_update_with_one_match_updates_it, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let mut p = patient("9991000011");
    p["gender"] = json!("female");
    let r = srv
        .put(&format!("Patient?{}", by_nhs("9991000011")), &p)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["id"], id.as_str());
    assert_eq!(r.json()["meta"]["versionId"], "2");
});

storage_test!(
    conditional_update_with_other_id_than_the_match_answers_400,
    |srv| {
        srv.create(&patient("9991000011")).await;
        let r = srv
            .put(
                &format!("Patient?{}", by_nhs("9991000011")),
                &with_id(patient("9991000011"), "other"),
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(srv.version_count().await, 1);
    }
);

storage_test!(conditional_update_with_many_matches_answers_412, |srv| {
    srv.create(&patient("9991000011")).await;
    srv.create(&patient("9991000011")).await;
    let r = srv
        .put(
            &format!("Patient?{}", by_nhs("9991000011")),
            &patient("9991000011"),
        )
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(srv.version_count().await, 2);
});

storage_test!(conditional_delete_deletes_the_one_match, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let keep = srv.create(&patient("9991000037")).await;
    let r = srv
        .delete(&format!("Patient?{}", by_nhs("9991000011")))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(srv.get(&format!("Patient/{id}")).await.status, 410);
    assert_eq!(srv.get(&format!("Patient/{keep}")).await.status, 200);
});

storage_test!(conditional_delete_with_many_matches_answers_412, |srv| {
    srv.create(&patient("9991000011")).await;
    srv.create(&patient("9991000011")).await;
    let r = srv
        .delete(&format!("Patient?{}", by_nhs("9991000011")))
        .await;
    assert_eq!(r.status, 412);
    assert_eq!(
        srv.get("Patient?identifier=9991000011").await.json()["total"],
        2
    );
});

storage_test!(conditional_delete_without_criteria_answers_400, |srv| {
    srv.create(&patient("9991000011")).await;
    let r = srv.delete("Patient").await;
    assert_eq!(r.status, 400);
    assert_eq!(srv.get("Patient").await.json()["total"], 1);
});
