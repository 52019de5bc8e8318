//! search by _id and identifier, with paging and totals (search.html)

use crate::fixtures::{patient, NHS};
use crate::storage_test;

storage_test!(search_by_identifier_finds_exact_matches, |srv| {
    let a = srv.create(&patient("9991000011")).await;
    srv.create(&patient("9991000037")).await;
    let b = srv
        .get(&format!("Patient?identifier={NHS}|9991000011"))
        .await
        .json();
    assert_eq!(b["type"], "searchset");
    assert_eq!(b["total"], 1);
    assert_eq!(b["entry"][0]["resource"]["id"], a.as_str());
    assert_eq!(b["entry"][0]["search"]["mode"], "match");
    let none = srv
        .get("Patient?identifier=http://other|9991000011")
        .await
        .json();
    assert_eq!(none["total"], 0);
    let any_system = srv
        .get("Patient?identifier=9991000011,9991000037")
        .await
        .json();
    assert_eq!(any_system["total"], 2);
});

storage_test!(search_by_id_finds_the_named_resources, |srv| {
    let a = srv.create(&patient("9991000011")).await;
    let b = srv.create(&patient("9991000037")).await;
    srv.create(&patient("9991000045")).await;
    let r = srv.get(&format!("Patient?_id={a},{b}")).await.json();
    assert_eq!(r["total"], 2);
});

storage_test!(search_pages_through_all_results, |srv| {
    for i in 0..5 {
        srv.create(&patient(&format!("99910000{i:02}"))).await;
    }
    let first = srv.get("Patient?_count=2").await.json();
    assert_eq!(first["total"], 5);
    let mut ids = Vec::new();
    let mut page = first;
    loop {
        for e in page["entry"].as_array().into_iter().flatten() {
            ids.push(e["resource"]["id"].as_str().unwrap_or_default().to_string());
        }
        let next = page["link"]
            .as_array()
            .and_then(|l| l.iter().find(|l| l["relation"] == "next"))
            .and_then(|l| l["url"].as_str())
            .map(str::to_string);
        let Some(next) = next else { break };
        page = srv.get(next.trim_start_matches(&srv.base)).await.json();
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
});

storage_test!(summary_count_answers_only_the_total, |srv| {
    srv.create(&patient("9991000011")).await;
    let b = srv.get("Patient?_summary=count").await.json();
    assert_eq!(b["total"], 1);
    assert!(b.get("entry").is_none());
});

storage_test!(
    unknown_parameters_are_ignored_unless_handling_is_strict,
    |srv| {
        srv.create(&patient("9991000011")).await;
        let b = srv.get("Patient?colour=blue").await.json();
        assert_eq!(b["total"], 1);
        let self_link = b["link"][0]["url"].as_str().unwrap_or_default().to_string();
        assert!(!self_link.contains("colour"), "{self_link}");
        let r = srv
            .send(
                "GET",
                "Patient?colour=blue",
                &[("Prefer", "handling=strict")],
                None,
            )
            .await;
        assert_eq!(r.status, 400);
        assert_eq!(r.issue().1.as_deref(), Some("colour"));
    }
);

storage_test!(search_by_post_reads_the_form_body, |srv| {
    let a = srv.create(&patient("9991000011")).await;
    srv.create(&patient("9991000037")).await;
    let r = srv
        .send(
            "POST",
            "Patient/_search",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            Some(format!("_id={a}").into_bytes()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["total"], 1);
});

storage_test!(
    invalid_search_values_answer_400_naming_the_parameter,
    |srv| {
        let r = srv.get("Patient?_count=lots").await;
        assert_eq!(r.status, 400);
        assert_eq!(r.issue().1.as_deref(), Some("_count"));
        let r = srv.get("Patient?identifier=|").await;
        assert_eq!(r.status, 400);
        assert_eq!(r.issue().1.as_deref(), Some("identifier"));
    }
);
