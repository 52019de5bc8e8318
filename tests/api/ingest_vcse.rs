//! The voluntary-sector CRM adapter: every mapped object through `$ingest` (zip and JSON),
//! deletes, bad input, `carebridge sync` against a stand-in REST endpoint on 127.0.0.1, one
//! person across all three sources, and the demo's samples.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

use crate::adapters::{address, count, ingest, one, report, Batch};
use crate::storage_test;

const VCSE: &str = "https://fhir.carebridge.example/Id/vcse";
const NHS: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn sample() -> Batch {
    Batch::sample("vcse")
}

/// The sample with one object's records changed by `f`.
fn edit_records(b: Batch, file: &str, f: impl Fn(&mut Vec<Value>)) -> Batch {
    b.edit(file, |t| {
        let mut v: Value = serde_json::from_str(t).expect("sample JSON");
        let records = v["records"].as_array_mut().expect("records");
        f(records);
        serde_json::to_string_pretty(&v).expect("JSON")
    })
}

storage_test!(sample_maps_every_object, |srv| {
    let r = report(&ingest(&srv, "vcse", &sample()).await);
    assert_eq!((r.created, r.rejected.len(), r.rows), (10, 0, 10), "{r:?}");
    assert_eq!(r.unlinked, [format!("{VCSE}-contact|003A000003RobinK")]);

    let p = one(&srv, &format!("Patient?identifier={NHS}|9990000018")).await;
    assert_eq!(p["name"][0]["family"], "Morgan");
    assert_eq!(p["birthDate"], "1988-02-14");
    assert_eq!(p["address"][0]["postalCode"], "LS1 4AB");
    assert_eq!(p["telecom"][0]["system"], "email");
    assert_eq!(p["telecom"][1]["value"], "07700 900001");
    assert_eq!(
        p["meta"]["source"],
        "urn:carebridge:adapter:vcse#Salesforce"
    );
    let alex = format!("Patient/{}", p["id"].as_str().expect("id"));

    let plan = one(&srv, &format!("CarePlan?subject={alex}")).await;
    assert_eq!(plan["title"], "Recovery and wellbeing plan");
    assert_eq!(
        plan["description"],
        "Weekly peer support and a return-to-work goal"
    );
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["period"]["start"], "2024-04-02T09:15:00.000+00:00");
    assert_eq!(plan["author"]["identifier"]["value"], "8XX00");
    let goals = plan["goal"].as_array().expect("goals");
    assert_eq!(goals.len(), 2);
    let goal = one(
        &srv,
        &format!("Goal?identifier={VCSE}-care-plan-goal|a0GA000001Goal1"),
    )
    .await;
    assert_eq!(
        goals[0]["reference"],
        format!("Goal/{}", goal["id"].as_str().expect("id"))
    );
    assert_eq!(goal["priority"]["coding"][0]["code"], "high-priority");
    assert_eq!(goal["achievementStatus"]["coding"][0]["code"], "improving");
    assert_eq!(goal["lifecycleStatus"], "active");
    assert_eq!(
        goal["description"]["text"],
        "Attend peer support group every week"
    );
    assert_eq!(goal["subject"]["reference"], alex.as_str());
    let later = one(
        &srv,
        &format!("Goal?identifier={VCSE}-care-plan-goal|a0GA000002Goal2"),
    )
    .await;
    assert_eq!(later["lifecycleStatus"], "proposed");

    let attended = one(
        &srv,
        &format!("Encounter?identifier={VCSE}-service-delivery|a0SA000001Sess1"),
    )
    .await;
    assert_eq!(attended["status"], "finished");
    assert_eq!(attended["period"]["start"], "2024-04-09");
    assert_eq!(attended["serviceType"]["text"], "Peer support group");
    let missed = one(
        &srv,
        &format!("Encounter?identifier={VCSE}-service-delivery|a0SA000002Sess2"),
    )
    .await;
    assert_eq!(missed["status"], "cancelled");
    assert_eq!(missed["type"][0]["text"], "Missed");

    let wemwbs = one(
        &srv,
        &format!("Observation?subject={alex}&code=http://snomed.info/sct|718426000"),
    )
    .await;
    assert_eq!(wemwbs["valueInteger"], 45);
    assert_eq!(wemwbs["category"][0]["coding"][0]["code"], "survey");
    assert_eq!(wemwbs["effectiveDateTime"], "2024-04-02");
    let swemwbs = one(&srv, "Observation?code=http://snomed.info/sct|718466001").await;
    assert_eq!(swemwbs["valueQuantity"]["value"].to_string(), "23.21");

    let prov = one(&srv, &format!("Provenance?patient={alex}")).await;
    assert_eq!(
        prov["agent"][0]["who"]["identifier"]["system"],
        "https://fhir.nhs.uk/Id/ods-organization-code"
    );
});

storage_test!(a_query_result_posted_as_json_is_a_batch, |srv| {
    let contacts = sample().text("Contact.json").to_string();
    let r = srv
        .send(
            "POST",
            "$ingest?adapter=vcse",
            &[("Content-Type", "application/json")],
            Some(contacts.into_bytes()),
        )
        .await;
    let r = report(&r);
    assert_eq!(r.created, 3, "{r:?}");
    let again = srv
        .send(
            "POST",
            "$ingest?adapter=vcse",
            &[("Content-Type", "application/json")],
            Some(sample().text("Contact.json").as_bytes().to_vec()),
        )
        .await;
    assert_eq!(report(&again).unchanged, 3);
});

storage_test!(is_deleted_removes_and_rebuilds_the_plan, |srv| {
    report(&ingest(&srv, "vcse", &sample()).await);
    let goal = address(
        &srv,
        &format!("Goal?identifier={VCSE}-care-plan-goal|a0GA000002Goal2"),
    )
    .await;
    let session = address(
        &srv,
        &format!("Encounter?identifier={VCSE}-service-delivery|a0SA000002Sess2"),
    )
    .await;
    let delta = Batch { files: vec![] }
        .with(
            "HealthCloudGA__CarePlanGoal__c.json",
            sample().text("HealthCloudGA__CarePlanGoal__c.json"),
        )
        .with(
            "pmdm__ServiceDelivery__c.json",
            sample().text("pmdm__ServiceDelivery__c.json"),
        );
    let delta = edit_records(delta, "HealthCloudGA__CarePlanGoal__c.json", |rs| {
        rs.retain(|r| r["Id"] == "a0GA000002Goal2");
        rs[0]["IsDeleted"] = json!(true);
    });
    let delta = edit_records(delta, "pmdm__ServiceDelivery__c.json", |rs| {
        rs.retain(|r| r["Id"] == "a0SA000002Sess2");
        rs[0]["IsDeleted"] = json!(true);
    });
    let r = report(&ingest(&srv, "vcse", &delta).await);
    assert_eq!((r.deleted, r.updated), (2, 1), "{r:?}");
    assert_eq!(srv.get(&goal).await.status, 410);
    assert_eq!(srv.get(&session).await.status, 410);
    let plan = one(
        &srv,
        &format!("CarePlan?identifier={VCSE}-case|500A000001Plan"),
    )
    .await;
    assert_eq!(plan["goal"].as_array().map(Vec::len), Some(1), "{plan}");
});

storage_test!(
    bad_records_are_rejected_and_bad_files_refuse_the_batch,
    |srv| {
        let bad = edit_records(sample(), "Contact.json", |rs| {
            rs[1]["NHS_Number__c"] = json!("9990000043");
            rs[2]["Birthdate"] = json!("03/10/1995");
        });
        let bad = edit_records(bad, "Wellbeing_Assessment__c.json", |rs| {
            rs[0]["Tool__c"] = json!("GHQ-12")
        });
        let bad = edit_records(bad, "Case.json", |rs| {
            let mut other = rs[0].clone();
            other["Id"] = json!("500A000009Cmpl");
            other["RecordType"]["Name"] = json!("Complaint");
            rs.push(other);
        });
        let r = report(&ingest(&srv, "vcse", &bad).await);
        let at = |file: &str, column: &str| {
            r.rejected
                .iter()
                .find(|x| x.0 == file && x.2.as_deref() == Some(column))
                .cloned()
                .unwrap_or_else(|| panic!("no rejection at {file} {column}: {r:?}"))
        };
        let nhs = at("Contact.json", "NHS_Number__c");
        assert!(nhs.3.contains("9990000043"), "{nhs:?}");
        // The line is where the record's Id is written in the file.
        let text = bad.text("Contact.json");
        let line = text
            .lines()
            .position(|l| l.contains("\"003A000002JamieF\""))
            .expect("id line") as u64
            + 1;
        assert_eq!(nhs.1, Some(line));
        assert!(at("Contact.json", "Birthdate").3.contains("03/10/1995"));
        assert!(at("Wellbeing_Assessment__c.json", "Tool__c")
            .3
            .contains("GHQ-12"));
        assert!(at("Case.json", "RecordType.Name").3.contains("Complaint"));
        // Jamie's SWEMWBS refers to the rejected contact: rejected too.
        assert!(
            r.rejected
                .iter()
                .any(|x| x.0 == "Wellbeing_Assessment__c.json" && x.3.contains("003A000002JamieF")),
            "{r:?}"
        );
        assert_eq!(
            count(&srv, &format!("Patient?identifier={NHS}|9990000018")).await,
            1
        );

        let broken = sample().with("Case.json", "{\"records\": [ {\"Id\": }\n]}");
        let refused = ingest(&srv, "vcse", &broken).await;
        assert_eq!(refused.status, 400, "{}", refused.text());
        assert!(
            refused.text().contains("Case.json, line 1, column"),
            "{}",
            refused.text()
        );
        let not_result = sample().with("Case.json", "[1, 2]");
        let refused = ingest(&srv, "vcse", &not_result).await;
        assert_eq!(refused.status, 400, "{}", refused.text());
        assert!(
            refused.text().contains("is not a query result"),
            "{}",
            refused.text()
        );
    }
);

storage_test!(one_person_in_all_three_sources_is_one_patient, |srv| {
    for adapter in ["emis", "rio", "vcse"] {
        let r = report(&ingest(&srv, adapter, &Batch::sample(adapter)).await);
        assert!(r.rejected.is_empty(), "{adapter}: {r:?}");
    }
    let p = one(&srv, &format!("Patient?identifier={NHS}|9990000018")).await;
    let alex = format!("Patient/{}", p["id"].as_str().expect("id"));
    for (system, value) in [
        (
            "https://fhir.carebridge.example/Id/emis-patient",
            "{A1B2C3D4-0001-4000-8000-000000000001}",
        ),
        ("https://fhir.carebridge.example/Id/rio-client", "RIO1001"),
        (
            "https://fhir.carebridge.example/Id/vcse-contact",
            "003A000001AlexM",
        ),
    ] {
        assert_eq!(
            address(&srv, &format!("Patient?identifier={system}|{value}")).await,
            alex
        );
    }
    // GP, trust and voluntary-sector care plans, all in one record.
    assert_eq!(count(&srv, &format!("CarePlan?subject={alex}")).await, 2);
    assert_eq!(count(&srv, &format!("Provenance?patient={alex}")).await, 3);
    let everything = srv.get(&format!("{alex}/$everything?_count=200")).await;
    assert_eq!(everything.status, 200, "{}", everything.text());
    let types: Vec<String> = everything.json()["entry"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|e| e["resource"]["resourceType"].as_str().map(str::to_string))
        .collect();
    for t in [
        "MedicationStatement",
        "EpisodeOfCare",
        "Goal",
        "AllergyIntolerance",
        "CareTeam",
    ] {
        assert!(types.iter().any(|x| x == t), "{t} missing from {types:?}");
    }
    // People: Alex, Sam, Jo (GP); Chris (trust); Jamie, Robin (voluntary sector).
    assert_eq!(count(&srv, "Patient").await, 6);
});

storage_test!(the_demo_loads_every_sample_once, |srv| {
    let store = carebridge::store::Store::open(&srv.database_url, Some(2)).expect("store");
    let first = carebridge::adapters::demo::load(&store, &srv.base).expect("loads");
    assert_eq!(first.iter().map(|r| r.created).sum::<u64>(), 37);
    let again = carebridge::adapters::demo::load(&store, &srv.base).expect("loads again");
    assert_eq!(again.iter().map(|r| r.created + r.updated).sum::<u64>(), 0);
    assert_eq!(
        count(&srv, &format!("Patient?identifier={NHS}|9990000018")).await,
        1
    );
});

/// A stand-in for a Salesforce-style REST endpoint: `queryAll` answers from `records` (by
/// object), newer than the query's SystemModstamp, two records a page.
struct StandIn {
    records: Arc<Mutex<HashMap<String, Vec<Value>>>>,
    queries: Arc<Mutex<Vec<String>>>,
    base: String,
}

fn stand_in(records: HashMap<String, Vec<Value>>) -> StandIn {
    let records = Arc::new(Mutex::new(records));
    let queries = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = std::sync::mpsc::channel();
    let (r, q) = (records.clone(), queries.clone());
    std::thread::spawn(move || {
        actix_rt::System::new().block_on(async move {
            let server = HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new((r.clone(), q.clone())))
                    .route("/services/data/v59.0/queryAll", web::get().to(query_all))
                    .route(
                        "/services/data/v59.0/query/{cursor}",
                        web::get().to(next_page),
                    )
            })
            .workers(1)
            .bind("127.0.0.1:0")
            .expect("binds");
            let addr = server.addrs()[0];
            tx.send(addr).expect("sends");
            server.run().await.expect("runs");
        });
    });
    let addr = rx.recv().expect("address");
    StandIn {
        records,
        queries,
        base: format!("http://{addr}/services/data/v59.0"),
    }
}

type State = web::Data<(
    Arc<Mutex<HashMap<String, Vec<Value>>>>,
    Arc<Mutex<Vec<String>>>,
)>;

fn page(records: &[Value], from: usize, object: &str, since: &str) -> Value {
    let end = (from + 2).min(records.len());
    let mut v = json!({"totalSize": records.len(), "done": end >= records.len(), "records": records[from..end]});
    if end < records.len() {
        v["nextRecordsUrl"] = json!(format!("/services/data/v59.0/query/{object}~{end}~{since}"));
    }
    v
}

fn matching(state: &State, object: &str, since: &str) -> Vec<Value> {
    let all = state.0.lock().expect("lock");
    all.get(object)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| {
            let stamp = r["SystemModstamp"].as_str().unwrap_or_default();
            let t =
                chrono::DateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%S%.f%z").expect("stamp");
            since.is_empty() || t > chrono::DateTime::parse_from_rfc3339(since).expect("since")
        })
        .collect()
}

async fn query_all(req: HttpRequest, state: State) -> HttpResponse {
    if req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        != Some("Bearer t0k3n")
    {
        return HttpResponse::Unauthorized().json(json!([{"errorCode": "INVALID_SESSION_ID"}]));
    }
    let q: String = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    state.1.lock().expect("lock").push(q.clone());
    let object = q
        .split(" FROM ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    let since = q
        .split("SystemModstamp > ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_default()
        .to_string();
    let records = matching(&state, &object, &since);
    HttpResponse::Ok().json(page(&records, 0, &object, &since))
}

async fn next_page(path: web::Path<String>, state: State) -> HttpResponse {
    let parts: Vec<&str> = path.split('~').collect();
    let (object, from, since) = (
        parts[0],
        parts[1].parse::<usize>().expect("offset"),
        parts.get(2).copied().unwrap_or(""),
    );
    let records = matching(&state, object, since);
    HttpResponse::Ok().json(page(&records, from, object, since))
}

fn sync(srv: &crate::helpers::TestServer, endpoint: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_carebridge"))
        .args([
            "sync",
            "--adapter",
            "vcse",
            "--endpoint",
            endpoint,
            "--token",
            "t0k3n",
            "--database",
            &srv.database_url,
        ])
        .env("RUST_LOG", "error")
        .output()
        .expect("runs")
}

storage_test!(sync_pulls_pages_and_then_only_changes, |srv| {
    let mut records = HashMap::new();
    for (file, text) in &sample().files {
        let v: Value = serde_json::from_str(text).expect("sample");
        records.insert(
            file.trim_end_matches(".json").to_string(),
            v["records"].as_array().cloned().unwrap_or_default(),
        );
    }
    let endpoint = stand_in(records);
    let out = sync(&srv, &endpoint.base);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Three contacts came in two pages.
    assert!(stdout.contains("10 rows; 10 created"), "{stdout}");
    assert_eq!(count(&srv, "Patient").await, 3);

    // A newer change: one contact's postcode, one session deleted.
    {
        let mut all = endpoint.records.lock().expect("lock");
        let contacts = all.get_mut("Contact").expect("contacts");
        contacts[0]["MailingPostalCode"] = json!("LS2 9JT");
        contacts[0]["SystemModstamp"] = json!("2024-06-01T08:00:00.000+0000");
        let sessions = all.get_mut("pmdm__ServiceDelivery__c").expect("sessions");
        sessions[1]["IsDeleted"] = json!(true);
        sessions[1]["SystemModstamp"] = json!("2024-06-01T08:05:00.000+0000");
    }
    endpoint.queries.lock().expect("lock").clear();
    let out = sync(&srv, &endpoint.base);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 rows; 0 created, 1 updated, 1 deleted"),
        "{stdout}"
    );
    let queries = endpoint.queries.lock().expect("lock").clone();
    assert!(
        queries
            .iter()
            .any(|q| q.contains("FROM Contact WHERE SystemModstamp > 2024-05-02T11:00:00.000Z")),
        "{queries:?}"
    );
    let p = one(&srv, &format!("Patient?identifier={NHS}|9990000018")).await;
    assert_eq!(p["address"][0]["postalCode"], "LS2 9JT");

    // A wrong token is a clear failure, and nothing moves.
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_carebridge"))
        .args([
            "sync",
            "--adapter",
            "vcse",
            "--endpoint",
            &endpoint.base,
            "--token",
            "wrong",
            "--database",
            &srv.database_url,
        ])
        .env("RUST_LOG", "error")
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("401"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
});

storage_test!(
    a_source_deleting_a_linked_person_withdraws_only_its_word,
    |srv| {
        for adapter in ["emis", "rio", "vcse"] {
            report(&ingest(&srv, adapter, &Batch::sample(adapter)).await);
        }
        let alex = address(&srv, &format!("Patient?identifier={NHS}|9990000018")).await;
        let jamie = address(&srv, &format!("Patient?identifier={NHS}|9990000042")).await;
        let delta = Batch { files: vec![] }.with("Contact.json", sample().text("Contact.json"));
        let delta = edit_records(delta, "Contact.json", |rs| {
            rs.retain(|r| r["Id"] != "003A000003RobinK");
            for r in rs.iter_mut() {
                r["IsDeleted"] = json!(true);
            }
        });
        let r = report(&ingest(&srv, "vcse", &delta).await);
        // Alex is still the GP's and the trust's: only the CRM's identifier goes.
        assert_eq!((r.updated, r.deleted), (1, 1), "{r:?}");
        let p = srv.get(&alex).await.json();
        let systems: Vec<&str> = p["identifier"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(|i| i["system"].as_str())
            .collect();
        assert!(
            !systems.iter().any(|s| s.ends_with("vcse-contact")),
            "{systems:?}"
        );
        assert!(
            systems.iter().any(|s| s.ends_with("rio-client")),
            "{systems:?}"
        );
        assert_eq!(p["contact"][0]["name"]["text"], "Ruth Morgan");
        // Jamie was only the CRM's: gone.
        assert_eq!(srv.get(&jamie).await.status, 410);
        // Importing the GP batch again still changes nothing.
        let again = report(&ingest(&srv, "emis", &Batch::sample("emis")).await);
        assert_eq!((again.updated, again.created), (0, 0), "{again:?}");
    }
);
