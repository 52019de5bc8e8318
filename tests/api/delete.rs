//! delete (http.html#delete)

use crate::fixtures::patient;
use crate::storage_test;

storage_test!(delete_answers_200_and_writes_a_delete_version, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv.delete(&format!("Patient/{id}")).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["resourceType"], "OperationOutcome");
    assert_eq!(r.header("etag").as_deref(), Some("W/\"2\""));
    let h = srv.get(&format!("Patient/{id}/_history")).await.json();
    assert_eq!(h["entry"][0]["request"]["method"], "DELETE");
    assert!(h["entry"][0].get("resource").is_none());
});

storage_test!(
    delete_of_what_does_not_exist_succeeds_and_writes_nothing,
    |srv| {
        let r = srv.delete("Patient/never").await;
        assert_eq!(r.status, 200);
        let id = srv.create(&patient("9991000011")).await;
        srv.delete(&format!("Patient/{id}")).await;
        assert_eq!(srv.delete(&format!("Patient/{id}")).await.status, 200);
        assert_eq!(srv.version_count().await, 2);
    }
);

storage_test!(delete_with_prefer_minimal_answers_204, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let r = srv
        .send(
            "DELETE",
            &format!("Patient/{id}"),
            &[("Prefer", "return=minimal")],
            None,
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
});

storage_test!(deleted_resources_leave_search_results, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    srv.delete(&format!("Patient/{id}")).await;
    let b = srv.get("Patient?identifier=9991000011").await.json();
    assert_eq!(b["total"], 0);
});
