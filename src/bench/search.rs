//! `carebridge bench-search`: generates a record of many patients straight into a database
//! (observations over several years, a care plan and a consent each), then starts the
//! server on it and measures the search workloads of issue #3 over HTTP.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{print_table, pseudo_random, wait_ready, workload, ServerProcess, Summary};
use crate::fhir::ResourceId;
use crate::interaction;
use crate::store::{Isolation, Query, Store};

#[derive(clap::Args, Debug)]
pub struct SearchBenchArgs {
    /// Database (default: a new SQLite file in a temp folder). An existing one is reused
    /// without generating data when it already holds the patients.
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 1_000)]
    patients: usize,
    /// Observations per patient.
    #[arg(long, default_value_t = 100)]
    observations: usize,
    #[arg(long, default_value_t = 16)]
    clients: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long)]
    workers: Option<usize>,
}

const CODES: [(&str, &str, &str); 5] = [
    ("29463-7", "Body weight", "kg"),
    ("8867-4", "Heart rate", "/min"),
    ("8310-5", "Body temperature", "Cel"),
    ("39156-5", "Body mass index", "kg/m2"),
    ("2339-0", "Glucose", "mmol/L"),
];

fn patient(i: usize) -> Value {
    json!({"resourceType": "Patient", "id": format!("p{i}"),
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": format!("999{i:07}")}],
        "name": [{"family": format!("Family{}", i % 997), "given": [format!("Given{i}")]}],
        "gender": if i.is_multiple_of(2) { "female" } else { "male" }, "birthDate": format!("{}-01-01", 1940 + i % 60)})
}

fn observation(i: usize, j: usize) -> Value {
    let (code, display, unit) = CODES[j % CODES.len()];
    // Spread over 2019–2024, one every few days per patient.
    let day = (j * 2190 / 100) % 2190;
    let date = chrono::NaiveDate::from_ymd_opt(2019, 1, 1).unwrap_or_default()
        + chrono::Days::new(day as u64);
    json!({"resourceType": "Observation", "id": format!("o{i}-{j}"), "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": code, "display": display}]},
        "subject": {"reference": format!("Patient/p{i}")},
        "effectiveDateTime": format!("{date}T09:00:00Z"),
        "valueQuantity": {"value": 40 + (i + j) % 60, "unit": unit, "system": "http://unitsofmeasure.org", "code": unit}})
}

fn care_plan(i: usize) -> Value {
    json!({"resourceType": "CarePlan", "id": format!("cp{i}"), "status": "active", "intent": "plan",
        "subject": {"reference": format!("Patient/p{i}")}, "title": "Crisis plan"})
}

fn consent(i: usize) -> Value {
    json!({"resourceType": "Consent", "id": format!("consent{i}"), "status": "active",
        "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope", "code": "patient-privacy"}]},
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": format!("Patient/p{i}")}})
}

/// Writes the record a patient (about a hundred resources) per transaction; returns
/// resources/s.
fn generate(store: &Store, patients: usize, observations: usize) -> Result<f64, String> {
    let start = Instant::now();
    let mut written = 0usize;
    for i in 0..patients {
        let mut batch = vec![patient(i), care_plan(i), consent(i)];
        batch.extend((0..observations).map(|j| observation(i, j)));
        let batch: Vec<interaction::Incoming> = batch
            .into_iter()
            .map(|r| {
                let rt = r["resourceType"].as_str().unwrap_or("Basic").to_string();
                interaction::Incoming::new(&rt, r)
            })
            .collect();
        // Every resource is new: they go in by multi-row INSERTs, as a transaction's creates do.
        let ids: Vec<ResourceId> = batch
            .iter()
            .map(|r| {
                ResourceId::parse(r.resource["id"].as_str().unwrap_or_default())
                    .ok_or_else(|| "a generated id is not valid".to_string())
            })
            .collect::<Result<_, _>>()?;
        let items: Vec<(&str, &ResourceId, &interaction::Incoming)> = batch
            .iter()
            .zip(&ids)
            .map(|(r, id)| {
                (
                    r.resource["resourceType"].as_str().unwrap_or("Basic"),
                    id,
                    r,
                )
            })
            .collect();
        store
            .write(Isolation::Plain, |tx| interaction::insert_many(tx, &items))
            .map_err(|e| e.to_string())?;
        written += items.len();
        if (i + 1).is_multiple_of(500) {
            eprintln!("generated {} patients, {written} resources", i + 1);
        }
    }
    // Fresh statistics: PostgreSQL plans badly after a bulk load without them.
    store
        .write(Isolation::Plain, |tx| {
            tx.execute(&Query::new("ANALYZE")).map(|_| ())
        })
        .map_err(|e| e.to_string())?;
    Ok(written as f64 / start.elapsed().as_secs_f64())
}

pub fn run(args: SearchBenchArgs) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!("carebridge-bench-search-{}", std::process::id()));
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
    let store = Store::open(&database, Some(2)).map_err(|e| e.to_string())?;
    let existing = store
        .read(|tx| tx.version("Patient", &format!("p{}", args.patients - 1), None))
        .map_err(|e| e.to_string())?;
    let rate = match existing {
        Some(_) => None,
        None => Some(generate(&store, args.patients, args.observations)?),
    };
    drop(store);
    let server = ServerProcess::start(&database, args.workers)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime.block_on(drive(&server.addr, &args));
    drop(server);
    if args.database.is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let summaries = result?;
    println!(
        "carebridge bench-search: {} patients x {} observations ({} resources), {} clients, {} s per workload, database {database}",
        args.patients,
        args.observations,
        args.patients * (args.observations + 3),
        args.clients,
        args.seconds
    );
    if let Some(r) = rate {
        println!("generation (in-process, one transaction a patient): {r:.0} resources/s");
    }
    print_table(&summaries);
    Ok(())
}

async fn drive(addr: &str, args: &SearchBenchArgs) -> Result<Vec<Summary>, String> {
    wait_ready(addr).await?;
    let d = Duration::from_secs(args.seconds);
    let n = args.patients;
    let c = args.clients;
    let mut out = Vec::new();
    out.push(
        workload(
            addr,
            "Observation?patient=X&code=Y",
            c,
            d,
            move |i| {
                let p = pseudo_random(i) % n;
                (
                    "GET",
                    format!(
                        "/fhir/Observation?patient=p{p}&code=http://loinc.org|{}",
                        CODES[i % 5].0
                    ),
                    None,
                )
            },
            |_| {},
        )
        .await?,
    );
    out.push(
        workload(
            addr,
            "Observation?patient=X&date=ge2022-01-01&_count=50",
            c,
            d,
            move |i| {
                let p = pseudo_random(i) % n;
                (
                    "GET",
                    format!("/fhir/Observation?patient=p{p}&date=ge2022-01-01&_count=50"),
                    None,
                )
            },
            |_| {},
        )
        .await?,
    );
    out.push(
        workload(addr, "Observation?subject:Patient.identifier=system|value", c, d, move |i| {
            let p = pseudo_random(i) % n;
            ("GET", format!("/fhir/Observation?subject:Patient.identifier=https://fhir.nhs.uk/Id/nhs-number%7C999{p:07}&_count=10"), None)
        }, |_| {})
        .await?,
    );
    out.push(
        workload(addr, "Patient?_id=X&_revinclude=CarePlan:subject", c, d, move |i| {
            let p = pseudo_random(i) % n;
            ("GET", format!("/fhir/Patient?_id=p{p}&_revinclude=CarePlan:subject&_revinclude=Consent:patient"), None)
        }, |_| {})
        .await?,
    );
    Ok(out)
}
