//! transaction and batch Bundles (http.html#transaction, bundle.html): all-or-nothing,
//! processing order, reference rewriting, conditional entries and references, conditional
//! headers, and batch independence.

use serde_json::{json, Value};

use crate::fixtures::{observation, patient, with_id, NHS};
use crate::helpers::{Resp, TestServer};
use crate::storage_test;

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

fn entry(method: &str, url: &str, resource: Option<Value>) -> Value {
    let mut e = json!({"request": {"method": method, "url": url}});
    if let Some(r) = resource {
        e["resource"] = r;
    }
    e
}

fn with_full_url(mut e: Value, full_url: &str) -> Value {
    e["fullUrl"] = json!(full_url);
    e
}

fn observation_of(subject: &str) -> Value {
    let mut o = observation("70");
    o["subject"] = json!({"reference": subject});
    o
}

async fn post_bundle(srv: &TestServer, b: &Value) -> Resp {
    srv.post("", b).await
}

fn statuses(r: &Resp) -> Vec<String> {
    r.json()["entry"]
        .as_array()
        .map(|es| {
            es.iter()
                .map(|e| e["response"]["status"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `Patient/abc/_history/1` → `abc`.
fn id_of(location: &Value) -> String {
    location
        .as_str()
        .unwrap_or("")
        .split('/')
        .nth(1)
        .unwrap_or("")
        .to_string()
}

storage_test!(
    transaction_creates_entries_and_rewrites_urn_references,
    |srv| {
        let b = bundle(
            "transaction",
            vec![
                with_full_url(
                    entry("POST", "Patient", Some(patient("9991000011"))),
                    "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000000001",
                ),
                with_full_url(
                    entry(
                        "POST",
                        "Observation",
                        Some(observation_of(
                            "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000000001",
                        )),
                    ),
                    "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000000002",
                ),
                entry(
                    "PUT",
                    "Practitioner/pr1",
                    Some(
                        json!({"resourceType": "Practitioner", "id": "pr1", "name": [{"family": "Jones"}]}),
                    ),
                ),
            ],
        );
        let r = post_bundle(&srv, &b).await;
        assert_eq!(r.status, 200, "{}", r.text());
        let body = r.json();
        assert_eq!(body["type"], "transaction-response");
        assert_eq!(
            statuses(&r),
            vec!["201 Created", "201 Created", "201 Created"]
        );
        let resp = &body["entry"][0]["response"];
        assert_eq!(resp["etag"], "W/\"1\"");
        assert!(resp["lastModified"].is_string());
        let patient_id = id_of(&resp["location"]);
        let obs_id = id_of(&body["entry"][1]["response"]["location"]);
        assert_eq!(
            body["entry"][2]["response"]["location"],
            "Practitioner/pr1/_history/1"
        );
        let obs = srv.get(&format!("Observation/{obs_id}")).await.json();
        assert_eq!(obs["subject"]["reference"], format!("Patient/{patient_id}"));
        // The index holds the rewritten reference.
        let found = srv
            .get(&format!("Observation?subject=Patient/{patient_id}"))
            .await
            .json();
        assert_eq!(found["total"], 1);
    }
);

storage_test!(transaction_whose_last_entry_fails_leaves_no_trace, |srv| {
    let existing = srv.create(&patient("9991000099")).await;
    let b = bundle(
        "transaction",
        vec![
            with_full_url(
                entry("POST", "Patient", Some(patient("9991000011"))),
                "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000000001",
            ),
            entry(
                "POST",
                "Observation",
                Some(observation_of(
                    "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000000001",
                )),
            ),
            entry("DELETE", &format!("Patient/{existing}"), None),
            // Runs last (PUT after POST and DELETE) and fails its If-Match.
            json!({"request": {"method": "PUT", "url": "Patient/late", "ifMatch": "W/\"4\""},
               "resource": with_id(patient("9991000022"), "late")}),
        ],
    );
    let r = post_bundle(&srv, &b).await;
    assert_eq!(r.status, 412, "{}", r.text());
    let oo = r.json();
    assert_eq!(oo["resourceType"], "OperationOutcome");
    let diagnostics = oo["issue"][0]["diagnostics"].as_str().unwrap_or("");
    assert!(diagnostics.starts_with("Bundle.entry[3]"), "{diagnostics}");
    // Nothing of the transaction is stored: one version (the setup's), the patient intact.
    assert_eq!(srv.version_count().await, 1);
    assert_eq!(srv.get(&format!("Patient/{existing}")).await.status, 200);
    assert_eq!(srv.get("Observation").await.json()["total"], 0);
    assert_eq!(srv.get("Patient").await.json()["total"], 1);
});

storage_test!(
    invalid_entry_resource_is_refused_whole_naming_the_entry,
    |srv| {
        let mut bad = patient("9991000022");
        bad["birthDate"] = json!("1970-13-01");
        let b = bundle(
            "transaction",
            vec![
                entry("POST", "Patient", Some(patient("9991000011"))),
                entry("POST", "Patient", Some(bad)),
            ],
        );
        let r = post_bundle(&srv, &b).await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert_eq!(
            r.issue().1.as_deref(),
            Some("Bundle.entry[1].resource.birthDate")
        );
        assert_eq!(srv.version_count().await, 0);
    }
);

storage_test!(entries_run_in_the_specified_order, |srv| {
    let old = srv.create(&patient("9991000011")).await;
    // Listed GET, POST, DELETE: run DELETE, POST, GET.
    let b = bundle(
        "transaction",
        vec![
            entry("GET", &format!("Patient?identifier={NHS}|9991000011"), None),
            entry("POST", "Patient", Some(patient("9991000011"))),
            entry("DELETE", &format!("Patient/{old}"), None),
        ],
    );
    let r = post_bundle(&srv, &b).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        statuses(&r),
        vec!["200 OK", "201 Created", "204 No Content"]
    );
    let search = &r.json()["entry"][0]["resource"];
    assert_eq!(search["type"], "searchset");
    assert_eq!(search["total"], 1);
    let new_id = id_of(&r.json()["entry"][1]["response"]["location"]);
    assert_eq!(search["entry"][0]["resource"]["id"], new_id.as_str());
});

storage_test!(conditional_entries_and_references_resolve, |srv| {
    let gp = srv.create(&json!({"resourceType": "Practitioner", "identifier": [{"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "G123"}]})).await;
    let existing = srv.create(&patient("9991000011")).await;
    let b = bundle(
        "transaction",
        vec![
            // Finds the existing patient: nothing written, references follow it.
            json!({"fullUrl": "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-00000000000a",
               "request": {"method": "POST", "url": "Patient", "ifNoneExist": format!("identifier={NHS}|9991000011")},
               "resource": patient("9991000011")}),
            entry(
                "POST",
                "Observation",
                Some(observation_of(
                    "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-00000000000a",
                )),
            ),
            // An upsert keyed by NHS number that creates, referenced by criteria.
            entry(
                "PUT",
                &format!("Patient?identifier={NHS}|9991000022"),
                Some(patient("9991000022")),
            ),
            entry(
                "POST",
                "Observation",
                Some({
                    let mut o = observation_of(&format!("Patient?identifier={NHS}|9991000022"));
                    o["performer"] = json!([{"reference": "Practitioner?identifier=https://fhir.nhs.uk/Id/sds-user-id|G123"}]);
                    o
                }),
            ),
        ],
    );
    let r = post_bundle(&srv, &b).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        statuses(&r),
        vec!["200 OK", "201 Created", "201 Created", "201 Created"]
    );
    let body = r.json();
    assert_eq!(id_of(&body["entry"][0]["response"]["location"]), existing);
    assert_eq!(body["entry"][0]["response"]["etag"], "W/\"1\"");
    let o1 = srv
        .get(&format!(
            "Observation/{}",
            id_of(&body["entry"][1]["response"]["location"])
        ))
        .await
        .json();
    assert_eq!(o1["subject"]["reference"], format!("Patient/{existing}"));
    let upserted = id_of(&body["entry"][2]["response"]["location"]);
    let o2 = srv
        .get(&format!(
            "Observation/{}",
            id_of(&body["entry"][3]["response"]["location"])
        ))
        .await
        .json();
    assert_eq!(o2["subject"]["reference"], format!("Patient/{upserted}"));
    assert_eq!(
        o2["performer"][0]["reference"],
        format!("Practitioner/{gp}")
    );
    // Run again: the upsert now updates the same patient, with no new version.
    let again = post_bundle(
        &srv,
        &bundle(
            "transaction",
            vec![entry(
                "PUT",
                &format!("Patient?identifier={NHS}|9991000022"),
                Some(patient("9991000022")),
            )],
        ),
    )
    .await;
    assert_eq!(statuses(&again), vec!["200 OK"]);
    assert_eq!(again.json()["entry"][0]["response"]["etag"], "W/\"1\"");
});

storage_test!(
    unresolvable_and_ambiguous_references_fail_the_transaction,
    |srv| {
        let r = post_bundle(
            &srv,
            &bundle(
                "transaction",
                vec![
                    entry("POST", "Patient", Some(patient("9991000011"))),
                    entry(
                        "POST",
                        "Observation",
                        Some(observation_of(&format!(
                            "Patient?identifier={NHS}|9990000000"
                        ))),
                    ),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text());
        assert!(r.text().contains("Bundle.entry[1]"));
        let r = post_bundle(
            &srv,
            &bundle(
                "transaction",
                vec![entry(
                    "POST",
                    "Observation",
                    Some(observation_of(
                        "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-0000000000ff",
                    )),
                )],
            ),
        )
        .await;
        assert_eq!(r.status, 400, "{}", r.text());
        srv.create(&patient("9991000033")).await;
        srv.create(&patient("9991000033")).await;
        let r = post_bundle(
            &srv,
            &bundle(
                "transaction",
                vec![entry(
                    "POST",
                    "Observation",
                    Some(observation_of(&format!(
                        "Patient?identifier={NHS}|9991000033"
                    ))),
                )],
            ),
        )
        .await;
        assert_eq!(r.status, 412, "{}", r.text());
        assert_eq!(srv.version_count().await, 2);
    }
);

storage_test!(entries_touching_one_resource_twice_are_refused, |srv| {
    let r = post_bundle(
        &srv,
        &bundle(
            "transaction",
            vec![
                entry(
                    "PUT",
                    "Patient/twice",
                    Some(with_id(patient("9991000011"), "twice")),
                ),
                entry("DELETE", "Patient/twice", None),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(conditional_read_headers_and_if_match_in_entries, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let b = bundle(
        "transaction",
        vec![
            json!({"request": {"method": "GET", "url": format!("Patient/{id}"), "ifNoneMatch": "W/\"1\""}}),
            json!({"request": {"method": "GET", "url": format!("Patient/{id}"), "ifModifiedSince": "2001-01-01T00:00:00Z"}}),
            json!({"request": {"method": "PUT", "url": format!("Patient/{id}"), "ifMatch": "W/\"1\""},
               "resource": {"resourceType": "Patient", "id": id, "active": true}}),
        ],
    );
    let r = post_bundle(&srv, &b).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Reads run after the update, so the If-None-Match names an older version.
    assert_eq!(statuses(&r), vec!["200 OK", "200 OK", "200 OK"]);
    let body = r.json();
    assert_eq!(body["entry"][0]["resource"]["active"], true);
    assert_eq!(body["entry"][2]["response"]["etag"], "W/\"2\"");
    let b = bundle(
        "batch",
        vec![
            json!({"request": {"method": "GET", "url": format!("Patient/{id}"), "ifNoneMatch": "W/\"2\""}}),
        ],
    );
    assert_eq!(
        statuses(&post_bundle(&srv, &b).await),
        vec!["304 Not Modified"]
    );
});

storage_test!(patch_entries_apply_inside_the_transaction, |srv| {
    let id = srv.create(&patient("9991000011")).await;
    let json_patch = json!([{"op": "add", "path": "/active", "value": true}]).to_string();
    let data = openssl::base64::encode_block(json_patch.as_bytes());
    let b = bundle(
        "transaction",
        vec![
            entry(
                "PATCH",
                &format!("Patient/{id}"),
                Some(
                    json!({"resourceType": "Binary", "contentType": "application/json-patch+json", "data": data}),
                ),
            ),
            entry(
                "PATCH",
                &format!("Patient?identifier={NHS}|9991000011"),
                Some(
                    json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"}, {"name": "value", "valueCode": "female"}]}]}),
                ),
            ),
        ],
    );
    let r = post_bundle(&srv, &b).await;
    // Both entries name the same patient: a transaction touches a resource once.
    assert_eq!(r.status, 400, "{}", r.text());
    let b = bundle("transaction", vec![b["entry"][0].clone()]);
    let r = post_bundle(&srv, &b).await;
    assert_eq!(statuses(&r), vec!["200 OK"], "{}", r.text());
    let b = bundle(
        "transaction",
        vec![entry(
            "PATCH",
            &format!("Patient?identifier={NHS}|9991000011"),
            Some(
                json!({"resourceType": "Parameters", "parameter": [{"name": "operation", "part": [
            {"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.gender"}, {"name": "value", "valueCode": "female"}]}]}),
            ),
        )],
    );
    let r = post_bundle(&srv, &b).await;
    assert_eq!(statuses(&r), vec!["200 OK"], "{}", r.text());
    let now = srv.get(&format!("Patient/{id}")).await.json();
    assert_eq!(
        (now["active"].as_bool(), now["gender"].as_str()),
        (Some(true), Some("female"))
    );
    assert_eq!(now["meta"]["versionId"], "3");
});

storage_test!(batch_entries_succeed_and_fail_independently, |srv| {
    let b = bundle(
        "batch",
        vec![
            entry("POST", "Patient", Some(patient("9991000011"))),
            entry("GET", "Patient/nobody", None),
            entry(
                "PUT",
                "Patient/x1",
                Some(with_id(patient("9991000022"), "other")),
            ),
            entry(
                "POST",
                "Observation",
                Some(observation_of(
                    "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000000001",
                )),
            ),
            entry("FETCH", "Patient", None),
            entry(
                "PUT",
                "Patient/x2",
                Some(with_id(patient("9991000033"), "x2")),
            ),
        ],
    );
    let r = post_bundle(&srv, &b).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["type"], "batch-response");
    assert_eq!(
        statuses(&r),
        vec![
            "201 Created",
            "404 Not Found",
            "400 Bad Request",
            "400 Bad Request",
            "400 Bad Request",
            "201 Created"
        ]
    );
    assert_eq!(
        body["entry"][1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(srv.get("Patient").await.json()["total"], 2);
});

storage_test!(bundles_of_other_types_and_xml_transactions, |srv| {
    let r = post_bundle(&srv, &bundle("collection", vec![])).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let xml = r#"<Bundle xmlns="http://hl7.org/fhir"><type value="transaction"/><entry><fullUrl value="urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000000001"/><resource><Patient><active value="true"/></Patient></resource><request><method value="POST"/><url value="Patient"/></request></entry></Bundle>"#;
    let r = srv
        .send(
            "POST",
            "",
            &[
                ("Content-Type", "application/fhir+xml"),
                ("Accept", "application/fhir+xml"),
            ],
            Some(xml.as_bytes().to_vec()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("transaction-response"), "{}", r.text());
    assert!(r.text().contains("201 Created"), "{}", r.text());
});

storage_test!(prefer_representation_returns_the_written_resources, |srv| {
    let b = bundle(
        "transaction",
        vec![entry("POST", "Patient", Some(patient("9991000011")))],
    );
    let r = srv
        .send_json("POST", "", &[("Prefer", "return=minimal")], &b)
        .await;
    assert!(r.json()["entry"][0].get("resource").is_none());
    let r = srv
        .send_json("POST", "", &[("Prefer", "return=representation")], &b)
        .await;
    assert_eq!(r.json()["entry"][0]["resource"]["meta"]["versionId"], "1");
});

storage_test!(
    concurrent_upsert_transactions_all_succeed_with_one_patient_each,
    |srv| {
        // Twelve importers at once: three people, four bundles each, keyed by NHS number.
        let bundles: Vec<Value> = (0..12)
            .map(|i| {
                let nhs = format!("999100{:04}", 11 * (i % 3 + 1));
                bundle(
                    "transaction",
                    vec![
                        with_full_url(
                            entry(
                                "PUT",
                                &format!("Patient?identifier={NHS}|{nhs}"),
                                Some(patient(&nhs)),
                            ),
                            "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-0000000000aa",
                        ),
                        entry(
                            "POST",
                            "Observation",
                            Some(observation_of(
                                "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-0000000000aa",
                            )),
                        ),
                    ],
                )
            })
            .collect();
        let results =
            futures_util::future::join_all(bundles.iter().map(|b| post_bundle(&srv, b))).await;
        for r in &results {
            assert_eq!(r.status, 200, "{}", r.text());
        }
        assert_eq!(srv.get("Patient").await.json()["total"], 3);
        assert_eq!(srv.get("Observation").await.json()["total"], 12);
    }
);

storage_test!(
    upserts_keyed_by_one_identifier_find_what_their_search_finds,
    |srv| {
        // A bundle's `Type?identifier=system|value` conditions are looked up together: each
        // must still find exactly what its own search would.
        let mrn = "http://example.org/mrn";
        let other = |v: &str| json!({"resourceType": "Patient", "identifier": [{"system": mrn, "value": v}]});
        let setup = [
            ("one", patient("9991000111")),
            ("twin-a", patient("9991000222")),
            ("twin-b", patient("9991000222")),
            ("gone", patient("9991000333")),
            ("mrn", other("9991000111")),
        ];
        for (id, p) in setup {
            let r = srv.put(&format!("Patient/{id}"), &with_id(p, id)).await;
            assert_eq!(r.status, 201, "{}", r.text());
        }
        assert_eq!(srv.delete("Patient/gone").await.status, 200);
        let upsert = |system: &str, value: &str, r: Value| {
            entry(
                "PUT",
                &format!("Patient?identifier={system}|{value}"),
                Some(r),
            )
        };
        let mut renamed = patient("9991000111");
        renamed["name"][0]["family"] = json!("Jones");
        let entries = vec![
            // One match: updated.
            upsert(NHS, "9991000111", renamed),
            // Its only match is deleted: created anew.
            upsert(NHS, "9991000333", patient("9991000333")),
            // No match: created.
            upsert(NHS, "9991000444", patient("9991000444")),
            // The same value under another system, sent unchanged: nothing written.
            upsert(mrn, "9991000111", other("9991000111")),
        ];
        let r = post_bundle(&srv, &bundle("transaction", entries)).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            statuses(&r),
            vec!["200 OK", "201 Created", "201 Created", "200 OK"]
        );
        let location = |i: usize| r.json()["entry"][i]["response"]["location"].clone();
        assert_eq!(location(0), json!("Patient/one/_history/2"));
        assert_ne!(id_of(&location(1)), "gone");
        assert_ne!(id_of(&location(1)), id_of(&location(2)));
        assert_eq!(location(3), json!("Patient/mrn/_history/1"));
        // Two resources hold the identifier: the upsert is refused and nothing is written.
        let before = srv.version_count().await;
        let twins = vec![upsert(NHS, "9991000222", patient("9991000222"))];
        let r = post_bundle(&srv, &bundle("transaction", twins)).await;
        assert_eq!(r.status, 412, "{}", r.text());
        assert_eq!(srv.version_count().await, before);
    }
);

// A bundle this big is prepared on every core (transaction::prepare): the failure reported
// is still the first in bundle order, and nothing is stored. In process, as an import
// sends its batches: the test server takes bodies of 64 KiB.
storage_test!(big_transaction_reports_its_first_failing_entry, |srv| {
    use carebridge::rest::{transaction, RestError};
    let store = carebridge::store::Store::open(&srv.database_url, Some(2)).expect("store opens");
    let patient_url = "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-00000000ffff";
    let mut entries = vec![with_full_url(
        entry("POST", "Patient", Some(patient("9991000011"))),
        patient_url,
    )];
    for i in 1..1200 {
        let subject = match i {
            700 => "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000000700",
            1100 => "urn:uuid:0c3b7a2e-1111-4b7e-9c1e-000000001100",
            _ => patient_url,
        };
        entries.push(entry("POST", "Observation", Some(observation_of(subject))));
    }
    let policy = carebridge::profile::Policy::default();
    let nothing_else = |_: &mut dyn carebridge::store::Tx, _: &[transaction::Outcome]| Ok(());
    match transaction::run(
        &store,
        "http://x/fhir",
        entries.clone(),
        &policy,
        &nothing_else,
    ) {
        Err(RestError::InEntry { index, inner }) => {
            assert_eq!(index, 700, "{inner:?}");
            assert!(matches!(*inner, RestError::BadRequest(_)), "{inner:?}");
        }
        other => panic!("{:?}", other.map(|o| o.len())),
    }
    assert_eq!(srv.version_count().await, 0);
    // Mended, the same bundle goes in whole.
    for i in [700, 1100] {
        entries[i] = entry("POST", "Observation", Some(observation_of(patient_url)));
    }
    let outcomes = transaction::run(&store, "http://x/fhir", entries, &policy, &nothing_else)
        .expect("the mended bundle");
    assert_eq!(outcomes.len(), 1200);
    let total = |q: &'static str| {
        let srv = &srv;
        async move { srv.get(q).await.json()["total"].clone() }
    };
    assert_eq!(total("Observation?_summary=count").await, 1199);
    assert_eq!(total("Patient?_summary=count").await, 1);
});

storage_test!(
    updates_are_written_before_the_reads_that_follow_them,
    |srv| {
        // Existing resources: a and b live, c deleted.
        for id in ["a", "b", "c"] {
            let r = srv
                .put(
                    &format!("Patient/{id}"),
                    &with_id(patient("9991000011"), id),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text());
        }
        assert!((200..300).contains(&srv.delete("Patient/c").await.status));
        let renamed = |id: &str, family: &str| {
            let mut p = with_id(patient("9991000011"), id);
            p["name"][0]["family"] = json!(family);
            p
        };
        // Reads listed first run last, and must see what the PUTs wrote.
        let b = bundle(
            "transaction",
            vec![
                entry("GET", "Patient?family=Jones", None),
                entry("GET", "Patient/a", None),
                entry("PUT", "Patient/a", Some(renamed("a", "Jones"))),
                entry(
                    "PUT",
                    "Patient/b",
                    Some(with_id(patient("9991000011"), "b")),
                ),
                entry("PUT", "Patient/c", Some(renamed("c", "Jones"))),
            ],
        );
        let r = post_bundle(&srv, &b).await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            statuses(&r),
            vec!["200 OK", "200 OK", "200 OK", "200 OK", "201 Created"],
            "b unchanged, c brought back"
        );
        let body = r.json();
        let search = &body["entry"][0]["resource"];
        assert_eq!(search["total"], 2, "{search}");
        assert_eq!(body["entry"][1]["resource"]["name"][0]["family"], "Jones");
        assert_eq!(body["entry"][1]["resource"]["meta"]["versionId"], "2");
        assert_eq!(body["entry"][3]["response"]["etag"], "W/\"1\"");
        assert_eq!(body["entry"][4]["response"]["etag"], "W/\"3\"");
        // The index was replaced, not added to: the old family no longer finds a or c.
        let smiths = srv.get("Patient?family=Smith").await.json();
        assert_eq!(smiths["total"], 1, "{smiths}");
        assert_eq!(smiths["entry"][0]["resource"]["id"], "b");
        assert_eq!(srv.get("Patient/c").await.json()["meta"]["versionId"], "3");
        let history = srv.get("Patient/a/_history").await.json();
        assert_eq!(
            history["entry"].as_array().map(Vec::len),
            Some(2),
            "{history}"
        );
    }
);

/// An upsert of `nhs` and an Observation that names the patient by the same criteria,
/// resolved and prepared; then another writer creates that patient. The id it got comes back.
async fn planned_then_matched<'a>(
    srv: &'a TestServer,
    store: &carebridge::store::Store,
    policy: &'a carebridge::profile::Policy,
    nhs: &str,
    redo: carebridge::rest::transaction::Redo,
) -> (carebridge::rest::transaction::Planned<'a>, String) {
    let criteria = format!("Patient?identifier={NHS}|{nhs}");
    let entries = vec![
        entry("PUT", &criteria, Some(patient(nhs))),
        entry("POST", "Observation", Some(observation_of(&criteria))),
    ];
    let planned =
        carebridge::rest::transaction::Planned::new(store, &srv.base, entries, policy, redo)
            .unwrap_or_else(|e| panic!("plan: {:?}", e.error));
    let other = srv.create(&patient(nhs)).await;
    (planned, other)
}

storage_test!(a_condition_that_finds_something_new_at_the_write, |srv| {
    use carebridge::profile::Policy;
    use carebridge::rest::transaction::Redo;
    use carebridge::rest::RestError;
    let store = carebridge::store::Store::open(&srv.database_url, Some(2)).expect("store");
    let policy = Policy::default();
    let none =
        |_: &mut dyn carebridge::store::Tx, _: &[carebridge::rest::transaction::Outcome]| Ok(());

    let (planned, other) =
        planned_then_matched(&srv, &store, &policy, "9991000033", Redo::Caller).await;
    let minimal = carebridge::rest::Prefer {
        return_: carebridge::rest::Return::Minimal,
        strict: true,
    };
    let Err(e) = planned.write(&store, minimal, &none) else {
        panic!("a conflict, not a write");
    };
    assert!(matches!(e.error, RestError::Conflict(_)), "{:?}", e.error);
    assert_eq!(e.index, None);
    let found = srv
        .get(&format!("Patient?identifier={NHS}|9991000033"))
        .await
        .json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["entry"][0]["resource"]["id"], other.as_str());
    assert_eq!(
        srv.get("Observation").await.json()["total"],
        0,
        "nothing written"
    );

    let (planned, other) =
        planned_then_matched(&srv, &store, &policy, "9991000044", Redo::Here).await;
    let outcomes = planned
        .write(&store, minimal, &none)
        .unwrap_or_else(|e| panic!("write: {:?}", e.error));
    assert_eq!(
        outcomes[0].status.as_u16(),
        200,
        "the PUT updates the new match"
    );
    let found = srv
        .get(&format!("Patient?identifier={NHS}|9991000044"))
        .await
        .json();
    assert_eq!(found["total"], 1);
    let observations = srv.get("Observation").await.json();
    assert_eq!(observations["total"], 1);
    assert_eq!(
        observations["entry"][0]["resource"]["subject"]["reference"],
        format!("Patient/{other}")
    );
});

/// Entries of `patients` Patients and `per` Observations each, referring to them by
/// `urn:uuid`; the last Observation's subject is `last_subject` when given.
fn big_transaction(patients: usize, per: usize, last_subject: Option<&str>) -> Vec<Value> {
    let urn = |p: usize| format!("urn:uuid:0c3b7a2e-2222-4b7e-9c1e-{p:012}");
    let mut entries = Vec::new();
    for p in 0..patients {
        entries.push(with_full_url(
            entry("POST", "Patient", Some(patient(&format!("999{p:07}")))),
            &urn(p),
        ));
        for _ in 0..per {
            entries.push(entry("POST", "Observation", Some(observation_of(&urn(p)))));
        }
    }
    if let (Some(subject), Some(last)) = (last_subject, entries.last_mut()) {
        last["resource"]["subject"]["reference"] = json!(subject);
    }
    entries
}

storage_test!(
    a_big_transaction_writes_creates_prepared_beside_the_writer,
    |srv| {
        use carebridge::rest::transaction::{run, Outcome};
        use carebridge::rest::RestError;
        // As an importer writes (the body limit keeps so big a bundle off the test server):
        // 1,100 entries, enough for the creates to be prepared while the first are written.
        let store = carebridge::store::Store::open(&srv.database_url, Some(2)).expect("store");
        let policy = carebridge::profile::Policy::default();
        let none = |_: &mut dyn carebridge::store::Tx, _: &[Outcome]| Ok(());
        let outcomes = run(
            &store,
            &srv.base,
            big_transaction(100, 10, None),
            &policy,
            &none,
        )
        .unwrap_or_else(|e| panic!("write: {e:?}"));
        assert_eq!(outcomes.len(), 1100);
        assert!(outcomes
            .iter()
            .all(|o| o.status.as_u16() == 201 && o.changed));
        // Each outcome is in its entry's place, and each reference names its Patient.
        for p in [0usize, 57, 99] {
            let at = p * 11;
            let version = |i: usize| outcomes[i].version.as_ref().expect("written");
            assert_eq!(version(at).res_type, "Patient");
            let observations = srv
                .get(&format!(
                    "Observation?subject=Patient/{}&_count=50",
                    version(at).res_id
                ))
                .await
                .json();
            assert_eq!(observations["total"], 10);
            let mine: Vec<&str> = (at + 1..at + 11)
                .map(|i| version(i).res_id.as_str())
                .collect();
            for found in observations["entry"].as_array().expect("found") {
                let id = found["resource"]["id"].as_str().unwrap_or_default();
                assert!(mine.contains(&id), "{id} is not one of {mine:?}");
            }
        }
        let count = |t: &'static str| {
            let srv = &srv;
            async move { srv.get(&format!("{t}?_summary=count")).await.json()["total"].clone() }
        };
        assert_eq!(count("Observation").await, 1000);

        // A fault in the last create, found only as the creates are written: nothing stays.
        let missing = "urn:uuid:0c3b7a2e-2222-4b7e-9c1e-999999999999";
        let failed = run(
            &store,
            &srv.base,
            big_transaction(100, 10, Some(missing)),
            &policy,
            &none,
        );
        let Err(RestError::InEntry { index, inner }) = failed else {
            panic!("the last entry fails the transaction: {failed:?}");
        };
        assert_eq!(index, 1099);
        assert!(
            matches!(*inner, RestError::BadRequest(ref m) if m.contains(missing)),
            "{inner:?}"
        );
        assert_eq!(count("Patient").await, 100);
        assert_eq!(count("Observation").await, 1000);
    }
);
