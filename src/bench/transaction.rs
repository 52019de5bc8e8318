//! `carebridge bench-transaction`: transaction ingest and `$everything`, the speed goals of
//! issue #4, over HTTP against a server process on a fresh database.
//!
//! - ingest: each request is a transaction Bundle of `--entries` resources (a Patient and
//!   Observations that reference it by `urn:uuid:`), from `--clients` connections; the
//!   figure that matters is resources/s;
//! - the same with conditional upserts (`PUT Patient?identifier=…`, the importers' form);
//! - `$everything` for one patient with `--record` resources: one page of up to 1,000, and
//!   the whole record walked page by page.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::client::Connection;
use super::{print_table, summarise, wait_ready, workload, ServerProcess, Summary};

#[derive(clap::Args, Debug)]
pub struct TransactionBenchArgs {
    /// Database (default: a new SQLite file in a temp folder).
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Entries per transaction Bundle.
    #[arg(long, default_value_t = 100)]
    entries: usize,
    /// Resources in the record `$everything` reads.
    #[arg(long, default_value_t = 2_000)]
    record: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long)]
    workers: Option<usize>,
}

fn observation(subject: &str, j: usize) -> Value {
    json!({"resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}],
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "720433000", "display": "PHQ-9 total score"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": format!("2024-{:02}-{:02}T09:00:00Z", 1 + j % 12, 1 + j % 28),
        "valueInteger": j % 27})
}

/// A transaction of one patient and `entries - 1` observations of theirs.
fn ingest_bundle(n: usize, entries: usize, upsert: bool) -> Vec<u8> {
    let nhs = format!("999{n:07}");
    let patient = json!({"resourceType": "Patient",
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs}],
        "name": [{"family": "Bench", "given": [format!("P{n}")]}], "gender": "female", "birthDate": "1980-01-01"});
    let full_url = format!("urn:uuid:{}", uuid::Uuid::new_v4());
    let request = if upsert {
        json!({"method": "PUT", "url": format!("Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{nhs}")})
    } else {
        json!({"method": "POST", "url": "Patient"})
    };
    let mut list = vec![json!({"fullUrl": full_url, "resource": patient, "request": request})];
    list.extend((1..entries).map(|j| {
        json!({"fullUrl": format!("urn:uuid:{}", uuid::Uuid::new_v4()), "resource": observation(&full_url, j),
            "request": {"method": "POST", "url": "Observation"}})
    }));
    json!({"resourceType": "Bundle", "type": "transaction", "entry": list})
        .to_string()
        .into_bytes()
}

pub fn run(args: TransactionBenchArgs) -> Result<(), String> {
    let db = super::BenchDatabase::new(args.database.as_deref(), "bench-tx")?;
    let database = &db.url;
    let server = ServerProcess::start(database, args.workers)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime.block_on(drive(&server.addr, &args, database));
    let memory = server.peak_memory_mib();
    drop(server);
    let summaries = result?;
    println!(
        "carebridge bench-transaction: {} clients, {} entries per Bundle, {} s per workload, database {}",
        args.clients, args.entries, args.seconds, database
    );
    print_table(&summaries);
    for s in summaries.iter().take(2) {
        println!(
            "{}: {:.0} resources/s",
            s.name,
            s.per_second * args.entries as f64
        );
    }
    if let Some(m) = memory {
        println!("server peak memory (VmHWM): {m:.0} MiB");
    }
    Ok(())
}

async fn drive(
    addr: &str,
    args: &TransactionBenchArgs,
    database: &str,
) -> Result<Vec<Summary>, String> {
    wait_ready(addr).await?;
    let duration = Duration::from_secs(args.seconds);
    let entries = args.entries;
    let counter = Arc::new(AtomicUsize::new(0));
    // Bodies are built ahead so the generator's JSON work stays out of the measurement.
    let bodies = |upsert: bool, from: usize| -> Arc<Vec<Vec<u8>>> {
        Arc::new(
            (0..256)
                .map(|n| ingest_bundle(from + n, entries, upsert))
                .collect(),
        )
    };
    let plain = bodies(false, 0);
    let c = counter.clone();
    let ingest = workload(
        addr,
        "transaction ingest (POST, urn:uuid references)",
        args.clients,
        duration,
        move |_| {
            let n = c.fetch_add(1, Ordering::Relaxed);
            (
                "POST",
                "/fhir".to_string(),
                Some(plain[n % plain.len()].clone()),
            )
        },
        |_| {},
    )
    .await?;
    let upserts = bodies(true, 1_000_000);
    let c = counter.clone();
    let upsert = workload(
        addr,
        "transaction ingest (conditional upserts)",
        args.clients,
        duration,
        move |_| {
            let n = c.fetch_add(1, Ordering::Relaxed);
            (
                "POST",
                "/fhir".to_string(),
                Some(upserts[n % upserts.len()].clone()),
            )
        },
        |_| {},
    )
    .await?;

    let patient = make_record(addr, args.record).await?;
    // Fresh statistics after the bulk load, as autovacuum would give PostgreSQL in time.
    let store = crate::store::Store::open(database, Some(1)).map_err(|e| e.to_string())?;
    store
        .write(crate::store::Isolation::Plain, |tx| {
            tx.execute(&crate::store::Query::new("ANALYZE")).map(|_| ())
        })
        .map_err(|e| e.to_string())?;
    drop(store);
    let page_path = format!("/fhir/Patient/{patient}/$everything?_count=1000");
    let page = workload(
        addr,
        &format!(
            "$everything, first page of 1,000 ({} resources)",
            args.record
        ),
        args.clients,
        duration,
        move |_| ("GET", page_path.clone(), None),
        |_| {},
    )
    .await?;
    let walk = walk_record(addr, &patient, args.clients, duration).await?;
    Ok(vec![ingest, upsert, page, walk])
}

/// One patient with `size` resources (the patient and observations), written by transaction.
async fn make_record(addr: &str, size: usize) -> Result<String, String> {
    let mut c = Connection::open(addr).await.map_err(|e| e.to_string())?;
    let r = c
        .send(
            "POST",
            "/fhir/Patient",
            Some(br#"{"resourceType":"Patient","name":[{"family":"Everything"}]}"#),
        )
        .await
        .map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
    let id = v["id"].as_str().ok_or("no patient id")?.to_string();
    let subject = format!("Patient/{id}");
    let mut left = size.saturating_sub(1);
    while left > 0 {
        let n = left.min(500);
        let list: Vec<Value> = (0..n)
            .map(|j| json!({"resource": observation(&subject, j), "request": {"method": "POST", "url": "Observation"}}))
            .collect();
        let body =
            json!({"resourceType": "Bundle", "type": "transaction", "entry": list}).to_string();
        let r = c
            .send("POST", "/fhir", Some(body.as_bytes()))
            .await
            .map_err(|e| e.to_string())?;
        if r.status != 200 {
            return Err(format!(
                "loading the record: {}",
                String::from_utf8_lossy(&r.body)
            ));
        }
        left -= n;
    }
    Ok(id)
}

/// The whole record, following next links; each walk counts as one request.
async fn walk_record(
    addr: &str,
    patient: &str,
    clients: usize,
    duration: Duration,
) -> Result<Summary, String> {
    let start = Instant::now();
    let deadline = start + duration;
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (addr, first) = (
            addr.to_string(),
            format!("/fhir/Patient/{patient}/$everything?_count=1000"),
        );
        handles.push(local.spawn_local(async move {
            let mut conn = Connection::open(&addr).await.map_err(|e| e.to_string())?;
            let mut lat = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let mut path = Some(first.clone());
                while let Some(p) = path.take() {
                    let r = conn
                        .send("GET", &p, None)
                        .await
                        .map_err(|e| e.to_string())?;
                    if r.status != 200 {
                        return Err(format!("$everything answered {}", r.status));
                    }
                    path = next_link(&r.body);
                }
                lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
            Ok::<_, String>(lat)
        }));
    }
    let results = local
        .run_until(futures_util::future::join_all(handles))
        .await;
    let mut all = Vec::new();
    for r in results {
        all.extend(r.map_err(|e| e.to_string())??);
    }
    Ok(summarise(
        "$everything, whole record walked by next links",
        all,
        0,
        start.elapsed(),
    ))
}

/// The next link of a searchset, found without parsing the page (the client's JSON work
/// would otherwise count as the server's latency).
fn next_link(body: &[u8]) -> Option<String> {
    const MARK: &[u8] = br#"{"relation":"next","url":""#;
    let at = body.windows(MARK.len()).position(|w| w == MARK)? + MARK.len();
    let end = body[at..].iter().position(|b| *b == b'"')? + at;
    let url = std::str::from_utf8(&body[at..end]).ok()?;
    url.find("/fhir/").map(|i| url[i..].to_string())
}
