//! history for an instance, a type and the system (http.html#history)

use serde_json::{json, Value};

use crate::fixtures::{observation, patient, with_id};
use crate::helpers::TestServer;
use crate::storage_test;

async fn three_versions(srv: &TestServer) {
    let mut p = with_id(patient("9991000011"), "p1");
    srv.put("Patient/p1", &p).await;
    p["gender"] = json!("female");
    srv.put("Patient/p1", &p).await;
    srv.delete("Patient/p1").await;
}

fn methods(bundle: &Value) -> Vec<String> {
    bundle["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .map(|e| {
                    e["request"]["method"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string()
                })
                .collect()
        })
        .unwrap_or_default()
}

storage_test!(instance_history_lists_versions_newest_first, |srv| {
    three_versions(&srv).await;
    let b = srv.get("Patient/p1/_history").await.json();
    assert_eq!(b["type"], "history");
    assert_eq!(methods(&b), vec!["DELETE", "PUT", "PUT"]);
    let etags: Vec<&str> = b["entry"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["response"]["etag"].as_str())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(etags, vec!["W/\"3\"", "W/\"2\"", "W/\"1\""]);
    assert_eq!(b["entry"][1]["resource"]["gender"], "female");
});

storage_test!(history_of_an_unknown_resource_answers_404, |srv| {
    assert_eq!(srv.get("Patient/none/_history").await.status, 404);
});

storage_test!(type_and_system_history_cover_their_scope, |srv| {
    three_versions(&srv).await;
    srv.create(&observation("2.0")).await;
    let t = srv.get("Patient/_history").await.json();
    assert_eq!(t["entry"].as_array().map(Vec::len), Some(3));
    let s = srv.get("_history").await.json();
    assert_eq!(methods(&s), vec!["POST", "DELETE", "PUT", "PUT"]);
});

storage_test!(
    history_pages_visit_every_version_once_while_others_write,
    |srv| {
        for i in 0..7 {
            srv.create(&patient(&format!("99910000{i:02}"))).await;
        }
        let mut seen = Vec::new();
        let mut next = Some(srv.url("Patient/_history?_count=3"));
        let mut pages = 0;
        while let Some(url) = next {
            let path = url
                .trim_start_matches(&srv.base)
                .trim_start_matches('/')
                .to_string();
            let b = srv.get(&path).await.json();
            for e in b["entry"].as_array().into_iter().flatten() {
                seen.push(e["fullUrl"].as_str().unwrap_or_default().to_string());
            }
            // A write between pages must not shift what the next page holds.
            srv.create(&observation("1.0")).await;
            srv.create(&patient("9991000999")).await;
            next = b["link"].as_array().and_then(|l| {
                l.iter()
                    .find(|l| l["relation"] == "next")
                    .and_then(|l| l["url"].as_str())
                    .map(str::to_string)
            });
            pages += 1;
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen.len(), 7);
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 7);
    }
);

storage_test!(history_since_and_at_select_by_time, |srv| {
    let mut p = with_id(patient("9991000011"), "p1");
    srv.put("Patient/p1", &p).await;
    let v1_time = srv.get("Patient/p1").await.json()["meta"]["lastUpdated"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    actix_rt::time::sleep(std::time::Duration::from_millis(20)).await;
    p["gender"] = json!("female");
    let v2 = srv.put("Patient/p1", &p).await.json();
    let v2_time = v2["meta"]["lastUpdated"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let since = srv
        .get(&format!(
            "Patient/p1/_history?_since={}",
            v2_time.replace('+', "%2B")
        ))
        .await
        .json();
    assert_eq!(since["entry"].as_array().map(Vec::len), Some(1));
    let at = srv
        .get(&format!("Patient/p1/_history?_at={v1_time}"))
        .await
        .json();
    assert_eq!(at["entry"].as_array().map(Vec::len), Some(1));
    assert_eq!(at["entry"][0]["resource"]["meta"]["versionId"], "1");
    let year = &v1_time[..4];
    let at_year = srv
        .get(&format!("Patient/p1/_history?_at={year}"))
        .await
        .json();
    assert_eq!(at_year["entry"].as_array().map(Vec::len), Some(2));
});

storage_test!(history_with_bad_parameters_answers_400, |srv| {
    let r = srv.get("_history?_since=yesterday").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.issue().1.as_deref(), Some("_since"));
    assert_eq!(srv.get("_history?_count=-1").await.status, 400);
});
