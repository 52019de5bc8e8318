//! Patient/$everything (patient-operation-everything.html): completeness, the referenced
//! resources, start/end, _since, _type, and paging with no gaps or repeats.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::fixtures::patient;
use crate::helpers::TestServer;
use crate::storage_test;

/// Every resource of every page, following next links from `path`.
async fn walk(srv: &TestServer, path: &str) -> Vec<String> {
    pages(srv, path).await.concat()
}

/// The resources of each page, following next links from `path`.
async fn pages(srv: &TestServer, path: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut url = srv.url(path);
    loop {
        let r = srv.get(url.trim_start_matches(&srv.base)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let b = r.json();
        assert_eq!(b["type"], "searchset");
        let mut page = Vec::new();
        for e in b["entry"].as_array().into_iter().flatten() {
            page.push(format!(
                "{}/{}",
                e["resource"]["resourceType"].as_str().unwrap_or(""),
                e["resource"]["id"].as_str().unwrap_or("")
            ));
        }
        out.push(page);
        let next = b["link"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|l| l["relation"] == "next");
        match next.and_then(|l| l["url"].as_str()) {
            Some(n) => url = n.to_string(),
            None => return out,
        }
    }
}

/// The first resource of a type in the first page of a patient's record.
async fn first_of(srv: &TestServer, patient: &str, res_type: &str) -> Value {
    let b = srv
        .get(&format!("Patient/{patient}/$everything"))
        .await
        .json();
    b["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["resource"]["resourceType"] == res_type)
        .map(|e| e["resource"].clone())
        .unwrap_or_else(|| panic!("the record holds a {res_type}"))
}

fn set(v: &[String]) -> BTreeSet<String> {
    v.iter().cloned().collect()
}

struct Record {
    patient: String,
    expected: BTreeSet<String>,
    old_obs: String,
    new_obs: String,
    condition: String,
}

async fn record(srv: &TestServer) -> Record {
    let org = srv
        .create(&json!({"resourceType": "Organization", "name": "Riverside GP"}))
        .await;
    let pr = srv
        .create(&json!({"resourceType": "Practitioner", "name": [{"family": "Okafor"}]}))
        .await;
    let med = srv
        .create(&json!({"resourceType": "Medication", "code": {"text": "Sertraline 50mg"}}))
        .await;
    let mut p = patient("9991000011");
    p["managingOrganization"] = json!({"reference": format!("Organization/{org}")});
    p["generalPractitioner"] = json!([{"reference": format!("Practitioner/{pr}")}]);
    let pid = srv.create(&p).await;
    let obs = |date: &str| {
        json!({"resourceType": "Observation", "status": "final", "code": {"text": "PHQ-9"},
        "subject": {"reference": format!("Patient/{pid}")}, "performer": [{"reference": format!("Practitioner/{pr}")}],
        // A reference to nothing stored adds nothing, and takes nothing away.
        "basedOn": [{"reference": "ServiceRequest/not-stored"}],
        "effectiveDateTime": date, "valueInteger": 12})
    };
    let old_obs = srv.create(&obs("2020-03-01")).await;
    let new_obs = srv.create(&obs("2023-06-01")).await;
    let condition = srv
        .create(
            &json!({"resourceType": "Condition", "subject": {"reference": format!("Patient/{pid}")},
        "code": {"text": "Depression"}, "onsetDateTime": "2021-01-01"}),
        )
        .await;
    let plan = srv
        .create(
            &json!({"resourceType": "CarePlan", "status": "active", "intent": "plan",
        "subject": {"reference": format!("Patient/{pid}")}}),
        )
        .await;
    let ms = srv.create(&json!({"resourceType": "MedicationStatement", "status": "active",
        "medicationReference": {"reference": format!("Medication/{med}")}, "subject": {"reference": format!("Patient/{pid}")}})).await;
    // Someone else's record stays out.
    let other = srv.create(&patient("9991000022")).await;
    srv.create(
        &json!({"resourceType": "Observation", "status": "final", "code": {"text": "x"},
        "subject": {"reference": format!("Patient/{other}")}}),
    )
    .await;
    let expected = [
        format!("Patient/{pid}"),
        format!("Organization/{org}"),
        format!("Practitioner/{pr}"),
        format!("Medication/{med}"),
        format!("Observation/{old_obs}"),
        format!("Observation/{new_obs}"),
        format!("Condition/{condition}"),
        format!("CarePlan/{plan}"),
        format!("MedicationStatement/{ms}"),
    ]
    .into_iter()
    .collect();
    Record {
        patient: pid,
        expected,
        old_obs,
        new_obs,
        condition,
    }
}

storage_test!(everything_holds_the_record_and_what_it_references, |srv| {
    let rec = record(&srv).await;
    let all = walk(&srv, &format!("Patient/{}/$everything", rec.patient)).await;
    assert_eq!(all.len(), rec.expected.len(), "{all:?}");
    assert_eq!(set(&all), rec.expected);
    let first = srv
        .get(&format!("Patient/{}/$everything", rec.patient))
        .await
        .json();
    assert_eq!(first["total"], rec.expected.len());
});

storage_test!(everything_pages_without_gaps_or_repeats, |srv| {
    let rec = record(&srv).await;
    let paged = walk(
        &srv,
        &format!("Patient/{}/$everything?_count=2", rec.patient),
    )
    .await;
    assert_eq!(paged.len(), rec.expected.len(), "{paged:?}");
    assert_eq!(set(&paged), rec.expected);
    let first = srv
        .get(&format!("Patient/{}/$everything?_count=2", rec.patient))
        .await
        .json();
    assert_eq!(first["entry"].as_array().map(Vec::len), Some(2));

    // A resource stored after a member that references it lies past that member's cursor:
    // the pages after the member still find it, with care dates given or not.
    let late = srv
        .create(&json!({"resourceType": "Practitioner", "name": [{"family": "Late"}]}))
        .await;
    let mut obs: Value = srv
        .get(&format!("Observation/{}", rec.new_obs))
        .await
        .json();
    obs["performer"] = json!([{"reference": format!("Practitioner/{late}")}]);
    let put = srv.put(&format!("Observation/{}", rec.new_obs), &obs).await;
    assert_eq!(put.status, 200);
    for filter in ["", "&start=2022-01-01"] {
        let paged = walk(
            &srv,
            &format!("Patient/{}/$everything?_count=1{filter}", rec.patient),
        )
        .await;
        assert!(
            paged.contains(&format!("Practitioner/{late}")),
            "{filter}: {paged:?}"
        );
    }
});

storage_test!(everything_filters_by_care_dates_type_and_since, |srv| {
    let rec = record(&srv).await;
    let from_2022 = set(&walk(
        &srv,
        &format!("Patient/{}/$everything?start=2022-01-01", rec.patient),
    )
    .await);
    assert!(!from_2022.contains(&format!("Observation/{}", rec.old_obs)));
    assert!(!from_2022.contains(&format!("Condition/{}", rec.condition)));
    assert!(from_2022.contains(&format!("Observation/{}", rec.new_obs)));
    assert!(from_2022.contains(&format!("Patient/{}", rec.patient)));
    let to_2020 = set(&walk(
        &srv,
        &format!("Patient/{}/$everything?end=2020-12-31", rec.patient),
    )
    .await);
    assert!(to_2020.contains(&format!("Observation/{}", rec.old_obs)));
    assert!(!to_2020.contains(&format!("Observation/{}", rec.new_obs)));
    let typed = walk(
        &srv,
        &format!(
            "Patient/{}/$everything?_type=Observation,Patient",
            rec.patient
        ),
    )
    .await;
    assert_eq!(typed.len(), 3, "{typed:?}");
    std::thread::sleep(std::time::Duration::from_millis(5));
    let mark = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let mut changed: Value = srv
        .get(&format!("Observation/{}", rec.new_obs))
        .await
        .json();
    changed["valueInteger"] = json!(4);
    assert_eq!(
        srv.put(&format!("Observation/{}", rec.new_obs), &changed)
            .await
            .status,
        200
    );
    let since = walk(
        &srv,
        &format!(
            "Patient/{}/$everything?_since={}",
            rec.patient,
            mark.replace('+', "%2B")
        ),
    )
    .await;
    assert_eq!(since, vec![format!("Observation/{}", rec.new_obs)]);
});

storage_test!(everything_for_all_patients_and_errors, |srv| {
    let rec = record(&srv).await;
    let all = walk(&srv, "Patient/$everything?_type=Patient").await;
    assert_eq!(all.len(), 2);
    assert_eq!(srv.get("Patient/nobody/$everything").await.status, 404);
    assert_eq!(srv.get("Observation/$everything").await.status, 404);
    assert_eq!(
        srv.get(&format!("Patient/{}/$everything?start=soon", rec.patient))
            .await
            .status,
        400
    );
    srv.delete(&format!("Patient/{}", rec.patient)).await;
    assert_eq!(
        srv.get(&format!("Patient/{}/$everything", rec.patient))
            .await
            .status,
        410
    );
});

storage_test!(
    everything_holds_current_versions_and_no_deleted_resources,
    |srv| {
        let rec = record(&srv).await;
        // The condition changes twice: the record holds it once, as it is now.
        for text in ["Depression, moderate", "Depression, in remission"] {
            let c = json!({"resourceType": "Condition", "id": rec.condition,
            "subject": {"reference": format!("Patient/{}", rec.patient)}, "code": {"text": text}});
            let r = srv.put(&format!("Condition/{}", rec.condition), &c).await;
            assert_eq!(r.status, 200, "{}", r.text());
        }
        // A deleted member, and a deleted resource the record refers to, are not in it.
        let deleted = srv.delete(&format!("Observation/{}", rec.old_obs)).await;
        assert!(matches!(deleted.status, 200 | 204), "{}", deleted.text());
        let med = first_of(&srv, &rec.patient, "Medication").await["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let deleted = srv.delete(&format!("Medication/{med}")).await;
        assert!(matches!(deleted.status, 200 | 204), "{}", deleted.text());
        for path in [
            format!("Patient/{}/$everything", rec.patient),
            format!("Patient/{}/$everything?_count=1", rec.patient),
        ] {
            let all = walk(&srv, &path).await;
            let mut expected = rec.expected.clone();
            expected.remove(&format!("Observation/{}", rec.old_obs));
            expected.remove(&format!("Medication/{med}"));
            assert_eq!(set(&all), expected, "{path}");
            assert_eq!(all.len(), expected.len(), "no resource twice: {path}");
        }
        // Deleted resources take no place in a page either: one a page, every page.
        let path = format!("Patient/{}/$everything?_count=1", rec.patient);
        let one_each = pages(&srv, &path).await;
        assert!(one_each.iter().all(|p| p.len() == 1), "{one_each:?}");
        let condition = first_of(&srv, &rec.patient, "Condition").await;
        assert_eq!(condition["code"]["text"], "Depression, in remission");
        assert_eq!(condition["meta"]["versionId"], "3");
    }
);
