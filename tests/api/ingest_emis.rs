//! The EMIS-style GP adapter through `$ingest` (and once through `carebridge import`): every
//! mapped field, idempotence, deltas, code tables kept between batches and each bad input.

use serde_json::Value;

use crate::adapters::{address, count, ingest, one, report, set_column, Batch};
use crate::search_data::{ids, put_string_parameter};
use crate::storage_test;

const EMIS: &str = "https://fhir.carebridge.example/Id/emis";
const WEIGHT: &str = "{0B000000-0003-4000-8000-000000000000}";

fn sample() -> Batch {
    Batch::sample("emis")
}

fn codes(v: &Value) -> Vec<(String, String)> {
    v["coding"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            (
                c["system"].as_str().unwrap_or_default().to_string(),
                c["code"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn has(v: &Value, system: &str, code: &str) -> bool {
    codes(v).contains(&(system.to_string(), code.to_string()))
}

storage_test!(sample_maps_every_table, |srv| {
    let r = report(&ingest(&srv, "emis", &sample()).await);
    assert_eq!(
        (r.created, r.updated, r.rejected.len()),
        (14, 0, 0),
        "{r:?}"
    );
    assert_eq!(r.rows, 23);

    let org = one(
        &srv,
        "Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|Y01234",
    )
    .await;
    assert_eq!(org["name"], "Riverside Surgery");
    assert_eq!(org["active"], true);
    assert_eq!(org["type"][0]["text"], "General Practice");
    assert_eq!(org["extension"][0]["valuePeriod"]["start"], "1998-04-01");
    assert_eq!(org["identifier"][1]["value"], "123", "the CDB number");
    let org_ref = format!("Organization/{}", org["id"].as_str().expect("id"));

    let gp = one(
        &srv,
        &format!(
            "Practitioner?identifier={EMIS}-user-in-role|{{7C2D1E63-1C7F-4D2E-8F8C-2B3C4D5E6F02}}"
        ),
    )
    .await;
    assert_eq!(gp["name"][0]["family"], "Shah");
    assert_eq!(gp["name"][0]["prefix"][0], "Dr");
    let gp_ref = format!("Practitioner/{}", gp["id"].as_str().expect("id"));
    let role = one(&srv, "PractitionerRole?role=R0260").await;
    assert_eq!(role["practitioner"]["reference"], gp_ref.as_str());
    assert_eq!(role["organization"]["reference"], org_ref.as_str());
    assert_eq!(role["period"]["start"], "2015-09-01");

    let p = one(
        &srv,
        "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018",
    )
    .await;
    assert_eq!(p["name"][0]["family"], "Morgan");
    assert_eq!(p["name"][0]["given"], serde_json::json!(["Alex", "James"]));
    assert_eq!(p["name"][0]["prefix"][0], "Mr");
    assert_eq!(p["gender"], "male");
    assert_eq!(p["birthDate"], "1988-02-14");
    assert_eq!(
        p["address"][0]["line"],
        serde_json::json!(["Flat 2", "14 Mill Lane"])
    );
    assert_eq!(p["address"][0]["city"], "Leeds");
    assert_eq!(p["address"][0]["district"], "West Yorkshire");
    assert_eq!(p["address"][0]["postalCode"], "LS1 4AB");
    let telecom: Vec<(&str, &str)> = p["telecom"]
        .as_array()
        .expect("telecom")
        .iter()
        .map(|t| {
            (
                t["system"].as_str().unwrap_or(""),
                t["use"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        telecom,
        [("email", "home"), ("phone", "home"), ("phone", "mobile")]
    );
    assert_eq!(p["contact"][0]["name"]["text"], "Ruth Morgan");
    assert_eq!(p["contact"][0]["relationship"][1]["text"], "Mother");
    assert_eq!(p["generalPractitioner"][0]["reference"], gp_ref.as_str());
    assert_eq!(p["managingOrganization"]["reference"], org_ref.as_str());
    let nhs = &p["identifier"][0];
    assert_eq!(nhs["system"], "https://fhir.nhs.uk/Id/nhs-number");
    assert_eq!(
        nhs["extension"][0]["valueCodeableConcept"]["coding"][0]["code"],
        "01"
    );
    let systems: Vec<&str> = p["identifier"]
        .as_array()
        .expect("ids")
        .iter()
        .filter_map(|i| i["system"].as_str())
        .collect();
    assert!(
        systems.contains(&format!("{EMIS}-patient").as_str()),
        "{systems:?}"
    );
    assert!(
        systems.contains(&format!("{EMIS}-patient-number").as_str()),
        "{systems:?}"
    );
    assert_eq!(p["meta"]["source"], "urn:carebridge:adapter:emis#EMIS-Web");
    let registration = &p["extension"][0]["extension"];
    assert_eq!(registration[0]["valuePeriod"]["start"], "2010-05-01");
    assert_eq!(registration[1]["valueCodeableConcept"]["text"], "Regular");
    let alex = format!("Patient/{}", p["id"].as_str().expect("id"));

    let enc = one(&srv, &format!("Encounter?subject={alex}")).await;
    assert_eq!(enc["status"], "finished");
    assert_eq!(enc["period"]["start"], "2024-03-05");
    assert_eq!(enc["type"][0]["text"], "Surgery consultation");
    assert!(has(&enc["type"][0], "http://snomed.info/sct", "185317003"));
    assert_eq!(
        enc["participant"][0]["individual"]["reference"],
        gp_ref.as_str()
    );
    assert_eq!(enc["serviceProvider"]["reference"], org_ref.as_str());
    let enc_ref = format!("Encounter/{}", enc["id"].as_str().expect("id"));

    // Systolic and diastolic fold into one panel with two components.
    let bp = one(
        &srv,
        &format!("Observation?subject={alex}&code=http://loinc.org|85354-9"),
    )
    .await;
    assert_eq!(bp["component"][0]["valueQuantity"]["value"], 128);
    assert_eq!(bp["component"][0]["valueQuantity"]["code"], "mm[Hg]");
    assert!(has(
        &bp["component"][0]["code"],
        "http://loinc.org",
        "8480-6"
    ));
    assert!(has(
        &bp["component"][0]["code"],
        "http://snomed.info/sct",
        "72313002"
    ));
    assert!(has(
        &bp["component"][0]["code"],
        "http://read.info/readv2",
        "2469."
    ));
    assert!(has(
        &bp["component"][0]["code"],
        "https://fhir.carebridge.example/CodeSystem/emis-code-id",
        "1001"
    ));
    assert_eq!(bp["component"][1]["valueQuantity"]["value"], 82);
    assert!(has(
        &bp["component"][1]["code"],
        "http://loinc.org",
        "8462-4"
    ));
    assert_eq!(bp["encounter"]["reference"], enc_ref.as_str());
    assert_eq!(bp["issued"], "2024-03-05T10:25:00+00:00");
    assert_eq!(
        count(
            &srv,
            &format!("Observation?subject={alex}&code=http://snomed.info/sct|1091811000000102")
        )
        .await,
        0
    );

    let weight = one(
        &srv,
        &format!("Observation?identifier={EMIS}-observation|{WEIGHT}"),
    )
    .await;
    assert_eq!(weight["valueQuantity"]["value"].to_string(), "72.50");
    assert_eq!(
        weight["valueQuantity"]["system"],
        "http://unitsofmeasure.org"
    );
    assert_eq!(weight["valueQuantity"]["code"], "kg");
    assert_eq!(weight["category"][0]["text"], "Value");
    // The review lists the weight taken under it.
    let review = one(
        &srv,
        &format!("Observation?subject={alex}&code=http://snomed.info/sct|391320003"),
    )
    .await;
    assert_eq!(
        review["hasMember"][0]["reference"],
        format!("Observation/{}", weight["id"].as_str().expect("id"))
    );
    assert_eq!(review["note"][0]["text"], "Mood improving; sleeping better");

    // The problem's own observation row becomes the Condition, not an Observation too.
    let problem = one(&srv, &format!("Condition?subject={alex}")).await;
    assert!(has(&problem["code"], "http://snomed.info/sct", "35489007"));
    assert_eq!(problem["clinicalStatus"]["coding"][0]["code"], "active");
    assert_eq!(
        problem["category"][0]["coding"][0]["code"],
        "problem-list-item"
    );
    assert_eq!(problem["onsetDateTime"], "2023-11");
    assert_eq!(problem["note"][0]["text"], "Low mood since bereavement");
    assert_eq!(problem["extension"][0]["valueCode"], "major");
    assert_eq!(
        problem["extension"][1]["extension"][0]["valueDateTime"],
        "2024-03-05"
    );
    assert_eq!(
        count(
            &srv,
            &format!("Observation?subject={alex}&code=http://snomed.info/sct|35489007")
        )
        .await,
        0
    );

    let allergy = one(&srv, &format!("AllergyIntolerance?patient={alex}")).await;
    assert!(has(&allergy["code"], "http://snomed.info/sct", "91936005"));
    assert_eq!(allergy["onsetDateTime"], "2019");
    assert_eq!(allergy["note"][0]["text"], "Rash after amoxicillin");

    let med = one(&srv, &format!("MedicationStatement?subject={alex}")).await;
    assert_eq!(med["status"], "active");
    assert!(has(
        &med["medicationCodeableConcept"],
        "http://snomed.info/sct",
        "39695211000001102"
    ));
    assert_eq!(med["dosage"][0]["text"], "One tablet each morning");
    assert_eq!(med["note"][0]["text"], "Quantity: 28 tablet");
    assert_eq!(med["extension"][0]["valueCoding"]["code"], "repeat");
    assert_eq!(med["extension"][1]["extension"][0]["valueUnsignedInt"], 4);
    assert_eq!(
        med["reasonReference"][0]["reference"],
        format!("Condition/{}", problem["id"].as_str().expect("id"))
    );

    // A confidential row is labelled restricted.
    let sam = address(
        &srv,
        "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000026",
    )
    .await;
    let w = one(&srv, &format!("Observation?subject={sam}")).await;
    assert_eq!(w["meta"]["security"][0]["code"], "R");

    // One Provenance per patient names the practice by ODS code and targets that patient's
    // resources only.
    let prov = one(&srv, &format!("Provenance?patient={alex}")).await;
    assert_eq!(
        prov["agent"][0]["who"]["identifier"]["system"],
        "https://fhir.nhs.uk/Id/ods-organization-code"
    );
    assert_eq!(prov["agent"][0]["who"]["identifier"]["value"], "Y01234");
    let targets: Vec<&str> = prov["target"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(|t| t["reference"].as_str())
        .collect();
    // Each target names the version the batch wrote.
    assert!(
        targets.contains(&format!("{alex}/_history/1").as_str()),
        "{targets:?}"
    );
    assert!(
        targets.contains(&format!("{enc_ref}/_history/1").as_str()),
        "{targets:?}"
    );
    assert!(!targets.iter().any(|t| t.starts_with(&sam)), "{targets:?}");
    assert_eq!(targets.len(), 8, "{targets:?}");
});

storage_test!(importing_the_same_batch_twice_writes_nothing, |srv| {
    report(&ingest(&srv, "emis", &sample()).await);
    let before = srv.version_count().await;
    let r = report(&ingest(&srv, "emis", &sample()).await);
    assert_eq!(
        (r.created, r.updated, r.deleted, r.unchanged),
        (0, 0, 0, 14),
        "{r:?}"
    );
    assert_eq!(srv.version_count().await, before);
});

storage_test!(a_changed_row_makes_one_new_version, |srv| {
    report(&ingest(&srv, "emis", &sample()).await);
    let changed = sample().edit("CareRecord_Observation.csv", |t| {
        set_column(t, WEIGHT, "Value", "71.0")
    });
    let r = report(&ingest(&srv, "emis", &changed).await);
    assert_eq!((r.created, r.updated, r.unchanged), (0, 1, 13), "{r:?}");
    let w = one(
        &srv,
        &format!("Observation?identifier={EMIS}-observation|{WEIGHT}"),
    )
    .await;
    assert_eq!(w["meta"]["versionId"], "2");
    assert_eq!(w["valueQuantity"]["value"].to_string(), "71.0");
    // The delta's Provenance names the new version and the patient, nothing unchanged.
    let alex = address(
        &srv,
        "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018",
    )
    .await;
    let provs = srv
        .get(&format!("Provenance?patient={alex}&_sort=-_lastUpdated"))
        .await
        .json();
    let entries = provs["entry"].as_array().expect("provenances");
    assert_eq!(entries.len(), 2);
    let targets: Vec<&str> = entries[0]["resource"]["target"]
        .as_array()
        .expect("targets")
        .iter()
        .filter_map(|t| t["reference"].as_str())
        .collect();
    let weight = format!("Observation/{}/_history/2", w["id"].as_str().expect("id"));
    assert_eq!(targets, [alex.as_str(), weight.as_str()]);
});

storage_test!(
    a_delta_delete_deletes_and_later_batches_use_earlier_codes,
    |srv| {
        report(&ingest(&srv, "emis", &sample()).await);
        let weight = address(
            &srv,
            &format!("Observation?identifier={EMIS}-observation|{WEIGHT}"),
        )
        .await;
        // A later delta: the observation file alone, its coding file just a header.
        let obs = sample().text("CareRecord_Observation.csv").to_string();
        let header = obs.lines().next().expect("header").to_string();
        let weight_row = obs
            .lines()
            .find(|l| l.contains(WEIGHT))
            .expect("weight row");
        let deleted = set_column(
            &format!("{header}\r\n{weight_row}\r\n"),
            WEIGHT,
            "Deleted",
            "true",
        );
        let new_row = weight_row
            .replace("0B000000-0003", "0B000000-0099")
            .replace(",72.50,", ",70.25,")
            .replace("{0B000000-0006-4000-8000-000000000000}", "");
        let code_header = sample()
            .text("Coding_ClinicalCode.csv")
            .lines()
            .next()
            .expect("header")
            .to_string();
        let delta = Batch { files: vec![] }
            .with(
                "CareRecord_Observation.csv",
                &format!("{deleted}{new_row}\r\n"),
            )
            .with("Coding_ClinicalCode.csv", &format!("{code_header}\r\n"));
        let r = report(&ingest(&srv, "emis", &delta).await);
        assert_eq!((r.created, r.deleted, r.rejected.len()), (1, 1, 0), "{r:?}");
        assert_eq!(srv.get(&weight).await.status, 410);
        let new = one(&srv, &format!("Observation?identifier={EMIS}-observation|{{0B000000-0099-4000-8000-000000000000}}")).await;
        assert!(has(&new["code"], "http://snomed.info/sct", "27113001"));
        assert_eq!(new["valueQuantity"]["value"].to_string(), "70.25");
        // The delta names no practice, so the sender came from the earlier batch: Alex's
        // Provenance of the new observation names it.
        let alex = address(
            &srv,
            "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000018",
        )
        .await;
        let new_ref = format!("Observation/{}/_history/1", new["id"].as_str().expect("id"));
        let prov = one(
            &srv,
            &format!(
                "Provenance?target={}",
                new_ref.trim_end_matches("/_history/1")
            ),
        )
        .await;
        assert_eq!(prov["agent"][0]["who"]["identifier"]["value"], "Y01234");
        assert_eq!(prov["target"][0]["reference"], alex.as_str());
        assert_eq!(prov["target"][1]["reference"], new_ref.as_str());
    }
);

storage_test!(
    a_person_without_an_nhs_number_is_kept_apart_and_reported,
    |srv| {
        let r = report(&ingest(&srv, "emis", &sample()).await);
        assert_eq!(
            r.unlinked,
            [format!(
                "{EMIS}-patient|{{A1B2C3D4-0003-4000-8000-000000000003}}"
            )]
        );
        let jo = one(
            &srv,
            &format!("Patient?identifier={EMIS}-patient|{{A1B2C3D4-0003-4000-8000-000000000003}}"),
        )
        .await;
        assert_eq!(jo["identifier"].as_array().map(Vec::len), Some(2), "{jo}");
        assert_eq!(jo["generalPractitioner"][0]["display"], "Dr K Obi");
    }
);

storage_test!(bad_rows_are_rejected_with_file_line_and_column, |srv| {
    let bad = sample()
        .edit("CareRecord_Observation.csv", |t| {
            set_column(t, WEIGHT, "EffectiveDate", "2024-13-45")
        })
        .edit("CareRecord_Observation.csv", |t| {
            set_column(t, "{0B000000-0006-", "CodeId", "9999")
        })
        .edit("Admin_Patient.csv", |t| {
            set_column(t, "{A1B2C3D4-0002-", "NhsNumber", "9990000027")
        });
    let r = report(&ingest(&srv, "emis", &bad).await);
    let find = |column: &str| {
        r.rejected
            .iter()
            .find(|x| x.2.as_deref() == Some(column))
            .cloned()
            .unwrap_or_else(|| panic!("no rejection at {column}: {r:?}"))
    };
    let date = find("EffectiveDate");
    assert_eq!(
        (date.0.as_str(), date.1),
        ("CareRecord_Observation.csv", Some(4))
    );
    assert!(date.3.contains("2024-13-45"), "{date:?}");
    let code = find("CodeId");
    assert_eq!(code.1, Some(7));
    assert!(code.3.contains("9999"), "{code:?}");
    let nhs = find("NhsNumber");
    assert_eq!((nhs.0.as_str(), nhs.1), ("Admin_Patient.csv", Some(3)));
    // Sam's observation refers to a patient that was rejected: it is rejected too, named.
    assert!(
        r.rejected
            .iter()
            .any(|x| x.0 == "CareRecord_Observation.csv"
                && x.1 == Some(8)
                && x.3.contains("A1B2C3D4-0002")),
        "{r:?}"
    );
    assert_eq!(r.rejected.len(), 4, "{r:?}");
    // Everything else went in.
    assert_eq!(count(&srv, "Patient").await, 2);
    assert_eq!(
        count(
            &srv,
            "Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|9990000027"
        )
        .await,
        0
    );
});

storage_test!(a_strict_import_with_a_bad_row_stores_nothing, |srv| {
    let bad = sample().edit("CareRecord_Observation.csv", |t| {
        set_column(t, WEIGHT, "Value", "heavy")
    });
    let r = crate::adapters::ingest_with(&srv, "$ingest?adapter=emis&strict=true", &bad).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(
        r.text()
            .contains("CareRecord_Observation.csv, line 4, column Value"),
        "{}",
        r.text()
    );
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(a_missing_or_misnamed_column_refuses_the_batch, |srv| {
    let misnamed = sample().edit("Admin_Patient.csv", |t| t.replacen("Surname", "Surnme", 1));
    let r = ingest(&srv, "emis", &misnamed).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let text = r.text();
    assert!(
        text.contains("Admin_Patient.csv, line 1, column Surnme"),
        "{text}"
    );
    assert!(
        text.contains(
            "Admin_Patient.csv, line 1, column Surname: the header has no column 'Surname'"
        ),
        "{text}"
    );
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(a_malformed_file_refuses_the_batch, |srv| {
    let ragged = sample().edit("Admin_Organisation.csv", |t| format!("{t}extra,row\r\n"));
    let r = ingest(&srv, "emis", &ragged).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.text().contains("Admin_Organisation.csv, line 3"),
        "{}",
        r.text()
    );
    let not_zip = srv
        .send(
            "POST",
            "$ingest?adapter=emis",
            &[("Content-Type", "application/zip")],
            Some(b"PK\x03\x04 truncated".to_vec()),
        )
        .await;
    assert_eq!(not_zip.status, 400, "{}", not_zip.text());
    let unknown = srv
        .send(
            "POST",
            "$ingest?adapter=nope",
            &[("Content-Type", "application/zip")],
            Some(sample().zip()),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.text());
    assert_eq!(srv.version_count().await, 0);
});

storage_test!(an_unmapped_file_is_reported_not_passed_over, |srv| {
    let extra = sample().with(
        "Appointment_Slot.csv",
        "SlotGuid,Start\r\n{1},2024-01-01\r\n",
    );
    let r = report(&ingest(&srv, "emis", &extra).await);
    assert!(
        r.rejected
            .iter()
            .any(|x| x.0 == "Appointment_Slot.csv" && x.3.contains("1 rows were not imported")),
        "{r:?}"
    );
});

/// `carebridge import` of the sample folder into `database`, in a process of its own; what
/// it printed, once it has succeeded.
fn import_command(database: &str) -> String {
    let dir = tempfile::tempdir().expect("dir");
    sample().write_to(dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_carebridge"))
        .args(["import", "--adapter", "emis", "--database", database])
        .arg(dir.path())
        .env("RUST_LOG", "error")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

storage_test!(the_import_command_reads_a_folder, |srv| {
    let stdout = import_command(&srv.database_url);
    assert!(
        stdout.contains(
            "23 rows; 14 created, 0 updated, 0 deleted, 0 unchanged, 0 rejected, 1 unlinked"
        ),
        "{stdout}"
    );
    assert_eq!(count(&srv, "Patient").await, 3);
});

// The import command runs in a process of its own: it knows the custom search parameters
// only from the database, and must index what it writes under them as the server would.
storage_test!(
    the_import_command_indexes_under_the_custom_parameters_in_force,
    |srv| {
        let code = put_string_parameter(&srv, "town", "Patient", "Patient.address.city").await;
        // In force on the server, as after a reindex or a restart.
        let store =
            carebridge::store::Store::open(&srv.database_url, Some(1)).expect("store opens");
        carebridge::search::load_custom_parameters(&store).expect("parameters load");
        drop(store);
        import_command(&srv.database_url);
        let by_city = ids(&srv, "Patient?address-city=Leeds").await;
        assert!(!by_city.is_empty());
        assert_eq!(ids(&srv, &format!("Patient?{code}=Leeds")).await, by_city);
    }
);

storage_test!(
    a_record_breaking_an_enforced_profile_rejects_its_row,
    profiles = carebridge::profile::Policy {
        enforce: true,
        defaults: [(
            "Observation".to_string(),
            "https://fhir.carebridge.example/StructureDefinition/Carebridge-Observation"
                .to_string()
        )]
        .into(),
    },
    |srv| {
        // Sam's weight without its date: the profile wants a time.
        let bad = sample().edit("CareRecord_Observation.csv", |t| {
            set_column(t, "{0B000000-0007-", "EffectiveDate", "")
        });
        let r = report(&ingest(&srv, "emis", &bad).await);
        assert_eq!(r.rejected.len(), 1, "{r:?}");
        let (file, line, _, reason) = &r.rejected[0];
        assert_eq!(
            (file.as_str(), *line),
            ("CareRecord_Observation.csv", Some(8))
        );
        assert!(reason.contains("breaks an enforced profile"), "{reason}");
        assert_eq!(r.created, 13);
    }
);

storage_test!(an_extract_larger_than_the_body_limit_is_taken, |srv| {
    // The test server takes 64 KiB bodies; $ingest has its own, larger limit.
    // Random text does not compress: the zip stays over the limit.
    let big: String = (0..6000)
        .map(|_| uuid::Uuid::new_v4().simple().to_string())
        .collect();
    let batch = sample().with("Readme.txt", &format!("{big}\n"));
    assert!(batch.zip().len() > 64 * 1024, "{}", batch.zip().len());
    let r = report(&ingest(&srv, "emis", &batch).await);
    assert_eq!(r.created, 14, "{r:?}");
    assert!(r.rejected.iter().any(|x| x.0 == "Readme.txt"), "{r:?}");
    let too_big = srv.post("Patient", &serde_json::json!({"resourceType": "Patient", "text": {"status": "generated", "div": format!("<div xmlns=\"http://www.w3.org/1999/xhtml\">{big}</div>")}})).await;
    assert_eq!(too_big.status, 413);
});
