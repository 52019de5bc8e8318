//! capability-statement.json tells the truth: every type and interaction it declares is served,
//! and what it does not declare is refused.

use serde_json::{json, Value};

use carebridge::fhir::elements::ElementModel;

use crate::helpers::{Resp, TestServer};
use crate::storage_test;

/// Answered by a handler of that interaction: not refused as an unsupported method or type.
fn routed(r: &Resp, what: &str) {
    assert_ne!(r.status, 405, "{what} answered 405: {}", r.text());
    assert!(r.status < 500, "{what} answered {}: {}", r.status, r.text());
    if r.status == 404 {
        assert_eq!(r.issue().0, "not-found", "{what}: {}", r.text());
    }
}

async fn probe(srv: &TestServer, rt: &str, interaction: &str) {
    let what = format!("{rt} {interaction}");
    let strict = [("Prefer", "handling=strict")];
    let r = match interaction {
        "read" => srv.get(&format!("{rt}/probe")).await,
        "vread" => srv.get(&format!("{rt}/probe/_history/1")).await,
        "update" => {
            srv.put(
                &format!("{rt}/probe"),
                &json!({"resourceType": rt, "id": "probe"}),
            )
            .await
        }
        "delete" => srv.delete(&format!("{rt}/probe")).await,
        "patch" => {
            srv.send(
                "PATCH",
                &format!("{rt}/probe"),
                &[("Content-Type", "application/json-patch+json")],
                Some(b"[]".to_vec()),
            )
            .await
        }
        "history-instance" => srv.get(&format!("{rt}/probe/_history")).await,
        "history-type" => srv.get(&format!("{rt}/_history")).await,
        "create" => srv.post(rt, &json!({"resourceType": rt})).await,
        "search-type" => {
            srv.send("GET", &format!("{rt}?_id=probe"), &strict, None)
                .await
        }
        other => {
            panic!("capability-statement.json declares {other}, which this test does not know")
        }
    };
    routed(&r, &what);
}

storage_test!(capability_statement_matches_the_server, |srv| {
    let cs = srv.get("metadata").await;
    assert_eq!(cs.status, 200);
    let cs = cs.json();
    assert_eq!(cs["resourceType"], "CapabilityStatement");
    assert_eq!(cs["fhirVersion"], "4.0.1");
    assert_eq!(cs["implementation"]["url"], srv.base.as_str());
    let rest = &cs["rest"][0];
    let declared: Vec<&Value> = rest["resource"]
        .as_array()
        .expect("resources")
        .iter()
        .collect();

    let mut declared_types: Vec<&str> =
        declared.iter().filter_map(|r| r["type"].as_str()).collect();
    declared_types.sort();
    let mut model_types: Vec<&str> = ElementModel::r4().resource_types().collect();
    model_types.sort();
    assert_eq!(
        declared_types, model_types,
        "every R4 resource type is declared"
    );

    for r in &declared {
        let rt = r["type"].as_str().unwrap_or_default();
        for i in r["interaction"].as_array().into_iter().flatten() {
            probe(&srv, rt, i["code"].as_str().unwrap_or_default()).await;
        }
        for p in r["searchParam"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default();
            // A value of the parameter's type, so the answer shows the parameter is served.
            let probe = match p["type"].as_str().unwrap_or_default() {
                "date" => "ge2024-01-01",
                "number" | "quantity" => "1",
                "uri" => "http://example.org/probe",
                "composite" => "probe$2024",
                _ => "probe",
            };
            let res = srv
                .send(
                    "GET",
                    &format!("{rt}?{name}={probe}"),
                    &[("Prefer", "handling=strict")],
                    None,
                )
                .await;
            assert_eq!(res.status, 200, "{rt}?{name}: {}", res.text());
        }
        for op in r["operation"].as_array().into_iter().flatten() {
            let r = match op["name"].as_str().unwrap_or_default() {
                "validate" => {
                    srv.post(&format!("{rt}/$validate"), &json!({"resourceType": rt}))
                        .await
                }
                "everything" => srv.get(&format!("{rt}/probe/$everything")).await,
                other => panic!("operation {other} is declared but not probed"),
            };
            routed(&r, &format!("{rt} ${}", op["name"]));
        }
        for p in r["supportedProfile"].as_array().into_iter().flatten() {
            let url = p.as_str().unwrap_or_default();
            let r = srv
                .post(
                    &format!("{rt}/$validate?profile={url}"),
                    &json!({"resourceType": rt}),
                )
                .await;
            assert_eq!(r.status, 200, "{url}: {}", r.text());
            assert!(!r.text().contains("not-supported"), "{url}: {}", r.text());
        }
        // Not declared, so refused.
        assert_eq!(
            srv.send("POST", &format!("{rt}/probe"), &[], None)
                .await
                .status,
            405
        );
    }
    for i in rest["interaction"].as_array().into_iter().flatten() {
        match i["code"].as_str().unwrap_or_default() {
            "history-system" => routed(&srv.get("_history").await, "history-system"),
            kind @ ("transaction" | "batch") => {
                let r = srv
                    .post("", &json!({"resourceType": "Bundle", "type": kind}))
                    .await;
                assert_eq!(r.status, 200, "{kind}: {}", r.text());
                assert_eq!(r.json()["type"], format!("{kind}-response"));
            }
            "search-system" => {
                for p in rest["searchParam"].as_array().into_iter().flatten() {
                    let name = p["name"].as_str().unwrap_or_default();
                    let probe = if p["type"] == "date" {
                        "ge2024"
                    } else {
                        "probe"
                    };
                    let r = srv
                        .send(
                            "GET",
                            &format!("?_type=Patient&{name}={probe}"),
                            &[("Prefer", "handling=strict")],
                            None,
                        )
                        .await;
                    assert_eq!(r.status, 200, "system search by {name}: {}", r.text());
                }
            }
            other => panic!("system interaction {other} is declared but not probed"),
        }
    }
    for op in rest["operation"].as_array().into_iter().flatten() {
        match op["name"].as_str().unwrap_or_default() {
            "ingest" => {
                // Answered with the import report: the empty CRM query result is a batch.
                let r = srv
                    .send(
                        "POST",
                        "$ingest?adapter=vcse",
                        &[("Content-Type", "application/json")],
                        Some(br#"{"totalSize": 0, "done": true, "records": []}"#.to_vec()),
                    )
                    .await;
                assert_eq!(r.status, 200, "$ingest: {}", r.text());
                assert_eq!(r.json()["resourceType"], "Parameters");
            }
            other => panic!("system operation {other} is declared but not probed"),
        }
    }
    // Search parameters not declared are refused under strict handling.
    let r = srv
        .send(
            "GET",
            "Patient?deceased=true",
            &[("Prefer", "handling=strict")],
            None,
        )
        .await;
    assert_eq!(r.status, 400);
});

storage_test!(metadata_is_served_as_xml_too, |srv| {
    let r = srv.get("metadata?_format=xml").await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<CapabilityStatement"));
});

// The per-type flags of the statement, checked by behaviour on Basic (a type with no required
// elements, so one body serves every check). Every type is routed the same way.
storage_test!(capability_flags_are_kept, |srv| {
    let cs = srv.get("metadata").await.json();
    let basic = cs["rest"][0]["resource"]
        .as_array()
        .and_then(|r| r.iter().find(|r| r["type"] == "Basic"))
        .cloned()
        .expect("Basic is declared");
    let body = |id: &str| json!({"resourceType": "Basic", "id": id, "code": {"text": "probe"}, "identifier": [{"system": "urn:probe", "value": "1"}]});

    assert_eq!(basic["updateCreate"], true);
    assert_eq!(srv.put("Basic/flag-1", &body("flag-1")).await.status, 201);

    assert_eq!(basic["versioning"], "versioned-update");
    let stale = srv
        .send_json(
            "PUT",
            "Basic/flag-1",
            &[("If-Match", "W/\"9\"")],
            &body("flag-1"),
        )
        .await;
    assert_eq!(stale.status, 412);

    assert_eq!(basic["readHistory"], true);
    assert_eq!(srv.get("Basic/flag-1/_history/1").await.status, 200);

    assert_eq!(basic["conditionalRead"], "full-support");
    let etag = srv
        .send("GET", "Basic/flag-1", &[("If-None-Match", "W/\"1\"")], None)
        .await;
    let lm = srv
        .get("Basic/flag-1")
        .await
        .header("last-modified")
        .unwrap_or_default();
    let since = srv
        .send(
            "GET",
            "Basic/flag-1",
            &[("If-Modified-Since", lm.as_str())],
            None,
        )
        .await;
    assert_eq!((etag.status, since.status), (304, 304));

    assert_eq!(basic["conditionalCreate"], true);
    let mut fresh = body("ignored");
    if let Some(o) = fresh.as_object_mut() {
        o.shift_remove("id");
    }
    let again = srv
        .send_json(
            "POST",
            "Basic",
            &[("If-None-Exist", "identifier=urn:probe|1")],
            &fresh,
        )
        .await;
    assert_eq!(again.status, 200);

    assert_eq!(basic["conditionalUpdate"], true);
    let cu = srv
        .put("Basic?identifier=urn:probe|1", &body("flag-1"))
        .await;
    assert_eq!(cu.status, 200, "{}", cu.text());

    assert_eq!(basic["conditionalDelete"], "single");
    assert_eq!(srv.put("Basic/flag-2", &body("flag-2")).await.status, 201);
    assert_eq!(srv.delete("Basic?identifier=urn:probe|1").await.status, 412);
    assert_eq!(srv.delete("Basic/flag-2").await.status, 200);
    assert_eq!(srv.delete("Basic?identifier=urn:probe|1").await.status, 200);
    assert_eq!(srv.get("Basic/flag-1").await.status, 410);
});
