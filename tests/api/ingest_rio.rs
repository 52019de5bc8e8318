//! The RiO-style mental-health adapter: every mapped table, PSY labels, care plans rebuilt
//! across batches, configuration, linkage with the GP record and each bad input.

use serde_json::Value;

use crate::adapters::{address, count, ingest, one, report, set_column, Batch};
use crate::storage_test;

const RIO: &str = "https://fhir.carebridge.example/Id/rio";
const NHS: &str = "https://fhir.nhs.uk/Id/nhs-number";

fn sample() -> Batch {
    Batch::sample("rio")
}

fn psy(v: &Value) -> bool {
    v["meta"]["security"].as_array().is_some_and(|s| {
        s.iter().any(|c| {
            c["code"] == "PSY" && c["system"] == "http://terminology.hl7.org/CodeSystem/v3-ActCode"
        })
    })
}

storage_test!(sample_maps_every_table, |srv| {
    let r = report(&ingest(&srv, "rio", &sample()).await);
    assert_eq!((r.created, r.rejected.len(), r.rows), (15, 0, 23), "{r:?}");

    let p = one(&srv, &format!("Patient?identifier={NHS}|9990000018")).await;
    assert!(!psy(&p), "the Patient itself is not labelled");
    assert_eq!(p["gender"], "male");
    assert_eq!(p["birthDate"], "1988-02-14");
    assert_eq!(
        p["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "01"
    );
    assert_eq!(p["identifier"][1]["value"], "RIO1001");
    assert_eq!(
        p["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "A"
    );
    assert_eq!(p["name"][0]["use"], "official");
    assert_eq!(p["name"][0]["given"], serde_json::json!(["Alex", "James"]));
    assert_eq!(p["name"][1]["use"], "usual");
    assert_eq!(p["name"][1]["period"]["start"], "2021-01-01");
    assert_eq!(p["address"][0]["city"], "Leeds");
    assert_eq!(p["address"][0]["district"], "West Yorkshire");
    assert_eq!(p["address"][0]["postalCode"], "LS1 4AB");
    assert_eq!(p["telecom"][0]["use"], "mobile");
    let alex = format!("Patient/{}", p["id"].as_str().expect("id"));
    let chris = one(&srv, &format!("Patient?identifier={NHS}|9990000034")).await;
    assert_eq!(chris["gender"], "female");
    assert_eq!(chris["telecom"][0]["system"], "email");

    let episode = one(&srv, &format!("EpisodeOfCare?patient={alex}")).await;
    assert_eq!(episode["status"], "active");
    assert_eq!(episode["type"][0]["coding"][0]["code"], "2");
    assert_eq!(episode["type"][0]["text"], "CPA");
    assert_eq!(episode["extension"][0]["valueDate"], "2024-06-01");
    assert!(psy(&episode));

    let team = one(&srv, &format!("CareTeam?subject={alex}")).await;
    assert_eq!(team["name"], "Leeds North Community Mental Health Team");
    assert_eq!(
        team["participant"][0]["role"][0]["coding"][0]["code"],
        "768820003"
    );
    assert_eq!(team["participant"][0]["member"]["display"], "Jordan Blake");
    assert!(psy(&team));
    let coordinator = one(&srv, &format!("Practitioner?identifier={RIO}-staff|STF042")).await;
    assert_eq!(
        team["participant"][0]["member"]["reference"],
        format!("Practitioner/{}", coordinator["id"].as_str().expect("id"))
    );

    let plan = one(&srv, &format!("CarePlan?subject={alex}")).await;
    assert_eq!(plan["category"][0]["coding"][0]["code"], "12");
    assert_eq!(plan["category"][0]["text"], "Mental health crisis plan");
    assert_eq!(plan["status"], "active");
    assert_eq!(plan["author"]["identifier"]["value"], "STF042");
    assert_eq!(plan["addresses"].as_array().map(Vec::len), Some(2));
    let activities = plan["activity"].as_array().expect("activities");
    assert_eq!(activities.len(), 3);
    assert_eq!(
        activities[0]["detail"]["description"],
        "Call the crisis line\n\nCrisis team number on the fridge; sister Ruth to be contacted"
    );
    assert_eq!(activities[0]["detail"]["code"]["text"], "Crisis plan");
    assert_eq!(activities[2]["detail"]["status"], "completed");
    assert!(psy(&plan));
    let sleep = one(
        &srv,
        &format!("Condition?identifier={RIO}-care-plan-problem|PR602"),
    )
    .await;
    assert_eq!(sleep["clinicalStatus"]["coding"][0]["code"], "resolved");
    assert_eq!(
        sleep["note"][0]["text"],
        "Outcome: Sleeping 7 hours most nights"
    );
    assert_eq!(
        activities[2]["detail"]["reasonReference"][0]["reference"],
        format!("Condition/{}", sleep["id"].as_str().expect("id"))
    );

    // ICD-10 as FHIR writes it, RiO's own form beside it.
    let dx = one(
        &srv,
        &format!("Condition?subject={alex}&code=http://hl7.org/fhir/sid/icd-10|F32.1"),
    )
    .await;
    assert_eq!(dx["code"]["coding"][1]["code"], "F321");
    assert_eq!(dx["onsetDateTime"], "2023-11-20");
    assert!(psy(&dx));

    let phq = one(
        &srv,
        &format!("Observation?subject={alex}&code=http://snomed.info/sct|720433000"),
    )
    .await;
    assert_eq!(phq["valueInteger"], 14);
    assert_eq!(phq["category"][0]["coding"][0]["code"], "survey");
    assert_eq!(phq["effectiveDateTime"], "2024-03-05T11:00:00+00:00");
    assert_eq!(phq["performer"][0]["identifier"]["value"], "STF042");
    assert!(psy(&phq));
    // HoNOS items, recorded without a total, are held by a panel of the tool.
    let panel = one(&srv, &format!("Observation?subject={alex}&code=https://fhir.carebridge.example/CodeSystem/rio-assessment-tool|HoNOS")).await;
    let members = panel["hasMember"].as_array().expect("members");
    assert_eq!(members.len(), 2);
    let item = one(
        &srv,
        &format!("Observation?identifier={RIO}-assessment|AS802/979701000000108"),
    )
    .await;
    assert_eq!(item["valueInteger"], 3);
    assert!(members
        .iter()
        .any(|m| m["reference"] == format!("Observation/{}", item["id"].as_str().expect("id"))));

    let prov = one(&srv, &format!("Provenance?patient={alex}")).await;
    assert_eq!(prov["agent"][0]["who"]["identifier"]["value"], "RXX");
});

storage_test!(items_group_under_their_total, |srv| {
    // A trust whose PHQ-9 form records item scores beside the total (two item codes of
    // its own, configured), and a GAD-7 total on its own.
    let mut config: Value =
        serde_json::from_str(include_str!("../../src/adapters/rio/default-config.json"))
            .expect("config");
    for code in ["990001", "990002"] {
        config["assessment_codes"][code] =
            serde_json::json!({"tool": "PHQ-9", "display": format!("PHQ-9 item {code}")});
    }
    let header = sample()
        .text("CodedScoreAssessment.csv")
        .lines()
        .next()
        .expect("header")
        .to_string();
    let rows = [
        "RIO1001,AS900,720433000,9,2024-04-01 10:00:00,STF042",
        "RIO1001,AS900,990001,2,2024-04-01 10:00:00,STF042",
        "RIO1001,AS900,990002,3,2024-04-01 10:00:00,STF042",
        "RIO1001,AS901,445455005,7,2024-04-01 10:00:00,STF042",
    ];
    let batch = sample().with(
        "CodedScoreAssessment.csv",
        &format!("{header}\r\n{}\r\n", rows.join("\r\n")),
    );
    let dir = tempfile::tempdir().expect("dir");
    batch.write_to(dir.path());
    let config_path = dir.path().join("rio.json");
    std::fs::write(&config_path, config.to_string()).expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_carebridge"))
        .args([
            "import",
            "--adapter",
            "rio",
            "--database",
            &srv.database_url,
            "--config",
        ])
        .arg(&config_path)
        .arg(dir.path())
        .env("RUST_LOG", "error")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let total = one(
        &srv,
        &format!("Observation?identifier={RIO}-assessment|AS900/720433000"),
    )
    .await;
    assert_eq!(total["valueInteger"], 9);
    let mut members: Vec<String> = total["hasMember"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["reference"].as_str().map(str::to_string))
        .collect();
    members.sort();
    let mut items = Vec::new();
    for code in ["990001", "990002"] {
        items.push(
            address(
                &srv,
                &format!("Observation?identifier={RIO}-assessment|AS900/{code}"),
            )
            .await,
        );
    }
    items.sort();
    assert_eq!(members, items);
    // No panel where the total was recorded; a total alone holds no members.
    assert_eq!(
        count(
            &srv,
            "Observation?code=https://fhir.carebridge.example/CodeSystem/rio-assessment-tool|PHQ-9"
        )
        .await,
        0
    );
    let gad = one(
        &srv,
        &format!("Observation?identifier={RIO}-assessment|AS901/445455005"),
    )
    .await;
    assert!(gad.get("hasMember").is_none(), "{gad}");
});

storage_test!(importing_the_same_batch_twice_writes_nothing, |srv| {
    report(&ingest(&srv, "rio", &sample()).await);
    let before = srv.version_count().await;
    let r = report(&ingest(&srv, "rio", &sample()).await);
    assert_eq!((r.created, r.updated, r.unchanged), (0, 0, 15), "{r:?}");
    assert_eq!(srv.version_count().await, before);
});

storage_test!(a_later_intervention_rebuilds_its_care_plan, |srv| {
    report(&ingest(&srv, "rio", &sample()).await);
    let header = sample()
        .text("CarePlanInterventions.csv")
        .lines()
        .next()
        .expect("header")
        .to_string();
    let delta = Batch { files: vec![] }.with(
        "CarePlanInterventions.csv",
        &format!("{header}\r\nPR601,IN704,Peer support group,,Social,2024-03-10,\r\n"),
    );
    let r = report(&ingest(&srv, "rio", &delta).await);
    assert_eq!((r.updated, r.rejected.len()), (1, 0), "{r:?}");
    let plan = one(&srv, &format!("CarePlan?identifier={RIO}-care-plan|CP501")).await;
    assert_eq!(plan["meta"]["versionId"], "2");
    let activities = plan["activity"].as_array().expect("activities");
    assert_eq!(activities.len(), 4);
    assert_eq!(activities[3]["detail"]["description"], "Peer support group");
    // An intervention for a problem never delivered is rejected, naming it.
    let orphan = Batch { files: vec![] }.with(
        "CarePlanInterventions.csv",
        &format!("{header}\r\nPR999,IN705,Walk,,Social,2024-03-10,\r\n"),
    );
    let r = report(&ingest(&srv, "rio", &orphan).await);
    assert_eq!(r.rejected.len(), 1, "{r:?}");
    assert_eq!(
        (r.rejected[0].1, r.rejected[0].2.as_deref()),
        (Some(2), Some("ProblemID"))
    );
});

storage_test!(deletes_and_removed_diagnoses_leave_the_record, |srv| {
    report(&ingest(&srv, "rio", &sample()).await);
    let chris = address(&srv, &format!("Patient?identifier={NHS}|9990000034")).await;
    let dx = address(&srv, &format!("Condition?subject={chris}")).await;
    let delta = sample()
        .edit("ClientIndex.csv", |t| {
            set_column(t, "RIO1002", "Deleted", "true")
        })
        .edit("DiagnosisClient.csv", |t| {
            set_column(t, "RIO1002", "RemovalDate", "2024-05-01")
        });
    let r = report(&ingest(&srv, "rio", &delta).await);
    assert_eq!(r.deleted, 2, "{r:?}");
    assert_eq!(srv.get(&chris).await.status, 410);
    assert_eq!(srv.get(&dx).await.status, 410);
});

storage_test!(bad_rows_are_rejected_with_file_line_and_column, |srv| {
    let bad = sample()
        .edit("ClientIndex.csv", |t| {
            set_column(t, "RIO1002", "Gender", "7")
        })
        .edit("DiagnosisClient.csv", |t| {
            set_column(t, "RIO1001", "Diagnosis", "depression")
        })
        .edit("CodedScoreAssessment.csv", |t| {
            set_column(t, "RIO1002", "CodedAssToolType", "123456")
        })
        .edit("CodedScoreAssessment.csv", |t| {
            set_column(t, "RIO1001,AS801", "PersScore", "fourteen")
        })
        .edit("CarePlanIndex.csv", |t| {
            set_column(t, "RIO1001", "StartDate", "10/01/2024")
        });
    let r = report(&ingest(&srv, "rio", &bad).await);
    let at = |file: &str, column: &str| {
        r.rejected
            .iter()
            .find(|x| x.0 == file && x.2.as_deref() == Some(column))
            .cloned()
            .unwrap_or_else(|| panic!("no rejection at {file} {column}: {r:?}"))
    };
    assert_eq!(at("ClientIndex.csv", "Gender").1, Some(3));
    assert_eq!(at("DiagnosisClient.csv", "Diagnosis").1, Some(2));
    assert_eq!(
        at("CodedScoreAssessment.csv", "CodedAssToolType").1,
        Some(5)
    );
    assert_eq!(at("CodedScoreAssessment.csv", "PersScore").1, Some(2));
    assert!(at("CarePlanIndex.csv", "StartDate")
        .3
        .contains("10/01/2024"));
    // Chris's other rows could not go in without the client: each is named.
    assert!(
        r.rejected
            .iter()
            .any(|x| x.0 == "ClientName.csv" && x.1 == Some(4) && x.3.contains("RIO1002")),
        "{r:?}"
    );
    assert_eq!(
        count(&srv, &format!("Patient?identifier={NHS}|9990000034")).await,
        0
    );
    assert_eq!(
        count(&srv, &format!("Patient?identifier={NHS}|9990000018")).await,
        1
    );
});

storage_test!(an_invalid_nhs_number_rejects_the_client, |srv| {
    let bad = sample().edit("ClientIndex.csv", |t| {
        set_column(t, "RIO1001", "NNN", "9990000019")
    });
    let r = report(&ingest(&srv, "rio", &bad).await);
    let nnn = r
        .rejected
        .iter()
        .find(|x| x.2.as_deref() == Some("NNN"))
        .expect("NNN rejected");
    assert_eq!((nnn.0.as_str(), nnn.1), ("ClientIndex.csv", Some(2)));
    assert_eq!(
        count(&srv, &format!("Patient?identifier={RIO}-client|RIO1001")).await,
        0
    );
    // Everything of that client refers to a Patient that is not there: all rejected too.
    assert_eq!(
        count(&srv, &format!("CarePlan?identifier={RIO}-care-plan|CP501")).await,
        0
    );
});

storage_test!(
    the_gp_and_trust_records_of_one_person_are_one_patient,
    |srv| {
        report(&ingest(&srv, "emis", &Batch::sample("emis")).await);
        let r = report(&ingest(&srv, "rio", &sample()).await);
        assert_eq!((r.created, r.updated), (14, 1), "{r:?}");
        let p = one(&srv, &format!("Patient?identifier={NHS}|9990000018")).await;
        let systems: Vec<&str> = p["identifier"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(|i| i["system"].as_str())
            .collect();
        assert!(
            systems.contains(&"https://fhir.carebridge.example/Id/emis-patient"),
            "{systems:?}"
        );
        assert!(
            systems.contains(&"https://fhir.carebridge.example/Id/rio-client"),
            "{systems:?}"
        );
        // What only the GP record had stays.
        assert_eq!(p["contact"][0]["name"]["text"], "Ruth Morgan");
        let alex = format!("Patient/{}", p["id"].as_str().expect("id"));
        assert_eq!(
            count(
                &srv,
                &format!("Observation?subject={alex}&code=http://snomed.info/sct|720433000")
            )
            .await,
            1
        );
        assert_eq!(count(&srv, &format!("Encounter?subject={alex}")).await, 1);
        // Both sources found by their own identifiers name the same Patient.
        assert_eq!(
            address(&srv, &format!("Patient?identifier={RIO}-client|RIO1001")).await,
            alex
        );
        assert_eq!(count(&srv, "Patient").await, 4);
        // Each source's word is kept and merged in a fixed order (the GP's last):
        // importing either source again changes nothing.
        let again = report(&ingest(&srv, "emis", &Batch::sample("emis")).await);
        assert_eq!((again.updated, again.created), (0, 0), "{again:?}");
        let rio_again = report(&ingest(&srv, "rio", &sample()).await);
        assert_eq!(
            (rio_again.updated, rio_again.created),
            (0, 0),
            "{rio_again:?}"
        );
        // An element both give comes from the GP; one only the trust gives stays.
        let p = one(&srv, &format!("Patient?identifier={NHS}|9990000018")).await;
        assert_eq!(p["name"][0]["given"], serde_json::json!(["Alex", "James"]));
        let ethnicity = p["extension"]
            .as_array()
            .and_then(|e| {
                e.iter().find(|x| {
                    x["url"]
                        .as_str()
                        .is_some_and(|u| u.ends_with("EthnicCategory"))
                })
            })
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            ethnicity["valueCodeableConcept"]["coding"][0]["code"], "A",
            "{p}"
        );
        assert_eq!(
            p["extension"].as_array().map(Vec::len),
            Some(2),
            "the GP's registration too"
        );
    }
);

storage_test!(a_configuration_renames_columns, |srv| {
    let dir = tempfile::tempdir().expect("dir");
    let batch = sample().edit("ClientIndex.csv", |t| t.replacen("NNN,", "NHSNumber,", 1));
    batch.write_to(dir.path());
    let mut config: Value =
        serde_json::from_str(include_str!("../../src/adapters/rio/default-config.json"))
            .expect("config");
    config["columns"] = serde_json::json!({"ClientIndex": {"NNN": "NHSNumber"}});
    config["sender"] = serde_json::json!({"ods": "RT1", "name": "Test Trust"});
    let config_path = dir.path().join("rio.json");
    std::fs::write(&config_path, config.to_string()).expect("config");
    let run = |extra: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_carebridge"))
            .args([
                "import",
                "--adapter",
                "rio",
                "--database",
                &srv.database_url,
            ])
            .args(extra)
            .arg(dir.path())
            .env("RUST_LOG", "error")
            .output()
            .expect("runs")
    };
    // Without the configuration the renamed column is an error naming it.
    let refused = run(&[]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("column NHSNumber"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let ok = run(&["--config", config_path.to_str().expect("path")]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let p = one(&srv, &format!("Patient?identifier={NHS}|9990000018")).await;
    let alex = format!("Patient/{}", p["id"].as_str().expect("id"));
    let prov = one(&srv, &format!("Provenance?patient={alex}")).await;
    assert_eq!(prov["agent"][0]["who"]["identifier"]["value"], "RT1");
});
