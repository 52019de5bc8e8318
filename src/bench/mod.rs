//! `carebridge bench`: starts `carebridge serve` as a child process on a fresh database, drives
//! it over HTTP from concurrent keep-alive clients, and reports requests/s, p50 and p99 for
//! create, read by id and update, and the server's peak memory.
//!
//! Numbers from a debug build mean little: run it from a release build
//! (`cargo run --release -- bench`).

mod client;
pub(crate) mod import;
mod search;
mod stats;
mod transaction;

pub use import::{run as run_import, ImportBenchArgs};
pub use search::{run as run_search, SearchBenchArgs};
pub use transaction::{run as run_transaction, TransactionBenchArgs};

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::Connection;
pub(crate) use stats::{summarise, Summary};

/// The database a bench runs on: a new SQLite file in a temporary folder, removed when this
/// is dropped, or the one given, which must hold no resources: a bench of creates or imports
/// on a database that already holds its data would measure updates instead, and silently.
pub(crate) struct BenchDatabase {
    pub url: String,
    temp: Option<std::path::PathBuf>,
}

impl BenchDatabase {
    pub(crate) fn new(given: Option<&str>, bench: &str) -> Result<BenchDatabase, String> {
        let Some(url) = given else {
            let dir =
                std::env::temp_dir().join(format!("carebridge-{bench}-{}", std::process::id()));
            return Ok(BenchDatabase {
                url: format!("sqlite://{}", dir.join("bench.db").display()),
                temp: Some(dir),
            });
        };
        let store = crate::store::Store::open(url, Some(1)).map_err(|e| e.to_string())?;
        let q = crate::store::Query::new("SELECT COUNT(*) AS n FROM resource");
        let held = store.read(|tx| tx.count(&q)).map_err(|e| e.to_string())?;
        if held > 0 {
            return Err(format!(
                "{url} holds {held} resources: a bench needs an empty database (drop and create it)"
            ));
        }
        Ok(BenchDatabase {
            url: url.to_string(),
            temp: None,
        })
    }
}

impl Drop for BenchDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.temp {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Database for the server under test (default: a new SQLite file in a temp folder).
    #[arg(long)]
    database: Option<String>,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds each workload runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// HTTP worker threads of the server (default: one per core).
    #[arg(long)]
    workers: Option<usize>,
}

pub(crate) struct ServerProcess {
    child: Child,
    addr: String,
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServerProcess {
    pub(crate) fn start(database: &str, workers: Option<usize>) -> Result<ServerProcess, String> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let addr = format!("127.0.0.1:{port}");
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let mut cmd = Command::new(exe);
        cmd.args(["serve", "--listen", &addr, "--database", database])
            // The server's own log level: quiet unless asked, so the table stays readable.
            .env(
                "RUST_LOG",
                std::env::var("CAREBRIDGE_BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(w) = workers {
            cmd.args(["--workers", &w.to_string()]);
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("starting the server: {e}"))?;
        Ok(ServerProcess { child, addr })
    }

    /// Peak resident memory of the server process, in MiB (Linux).
    pub(crate) fn peak_memory_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kb: f64 = status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()?;
        Some(kb / 1024.0)
    }
}

fn patient_body(n: usize) -> Vec<u8> {
    format!(
        r#"{{"resourceType":"Patient","identifier":[{{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"999{n:07}"}}],"name":[{{"family":"Bench","given":["Patient{n}"]}}],"gender":"female","birthDate":"1980-01-01"}}"#
    )
    .into_bytes()
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    let db = BenchDatabase::new(args.database.as_deref(), "bench")?;
    let database = &db.url;
    let server = ServerProcess::start(database, args.workers)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let result = runtime.block_on(drive(&server.addr, &args));
    let memory = server.peak_memory_mib();
    drop(server);
    let summaries = result?;
    println!(
        "carebridge bench: {} clients, {} s per workload, database {}",
        args.clients, args.seconds, database
    );
    print_table(&summaries);
    if let Some(m) = memory {
        println!("server peak memory (VmHWM): {m:.0} MiB");
    }
    Ok(())
}

async fn drive(addr: &str, args: &BenchArgs) -> Result<Vec<Summary>, String> {
    wait_ready(addr).await?;
    let duration = Duration::from_secs(args.seconds);
    let counter = Arc::new(AtomicUsize::new(0));
    let ids = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));

    let (ids_c, counter_c) = (ids.clone(), counter.clone());
    let create = workload(
        addr,
        "create (POST Patient)",
        args.clients,
        duration,
        move |_| {
            let n = counter_c.fetch_add(1, Ordering::Relaxed);
            ("POST", "/fhir/Patient".to_string(), Some(patient_body(n)))
        },
        move |body| {
            if let Some(id) = id_of(body) {
                if let Ok(mut v) = ids_c.lock() {
                    v.push(id);
                }
            }
        },
    )
    .await?;

    let ids: Arc<Vec<String>> = Arc::new(ids.lock().map(|v| v.clone()).unwrap_or_default());
    if ids.is_empty() {
        return Err("the create workload created nothing".into());
    }
    let ids_r = ids.clone();
    let read = workload(
        addr,
        "read (GET Patient/id)",
        args.clients,
        duration,
        move |i| {
            let id = &ids_r[pseudo_random(i) % ids_r.len()];
            ("GET", format!("/fhir/Patient/{id}"), None)
        },
        |_| {},
    )
    .await?;

    // The same reads in XML: each one parses the stored JSON and converts it, which the JSON
    // reads above skip by serving the stored bytes.
    let ids_x = ids.clone();
    let read_xml = workload(
        addr,
        "read as XML (GET Patient/id?_format=xml)",
        args.clients,
        duration,
        move |i| {
            let id = &ids_x[pseudo_random(i) % ids_x.len()];
            ("GET", format!("/fhir/Patient/{id}?_format=xml"), None)
        },
        |_| {},
    )
    .await?;

    let ids_u = ids.clone();
    let update = workload(addr, "update (PUT Patient/id)", args.clients, duration, move |i| {
        let id = &ids_u[pseudo_random(i) % ids_u.len()];
        let body = format!(
            r#"{{"resourceType":"Patient","id":"{id}","name":[{{"family":"Bench","given":["Update{i}"]}}],"gender":"female"}}"#
        );
        ("PUT", format!("/fhir/Patient/{id}"), Some(body.into_bytes()))
    }, |_| {})
    .await?;
    Ok(vec![create, read, read_xml, update])
}

fn id_of(body: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    v.get("id")?.as_str().map(str::to_string)
}

/// A cheap spread over the ids (xorshift of the request number).
pub(crate) fn pseudo_random(i: usize) -> usize {
    let mut x = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x as usize
}

pub(crate) async fn wait_ready(addr: &str) -> Result<(), String> {
    for _ in 0..200 {
        if let Ok(mut c) = Connection::open(addr).await {
            if let Ok(r) = c.send("GET", "/fhir/metadata", None).await {
                if r.status == 200 {
                    return Ok(());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("the server at {addr} did not become ready"))
}

pub(crate) type Request = (&'static str, String, Option<Vec<u8>>);

/// Runs `clients` connections for `duration`, each sending `next(i)` in a loop.
pub(crate) async fn workload(
    addr: &str,
    name: &str,
    clients: usize,
    duration: Duration,
    next: impl Fn(usize) -> Request + Clone + 'static,
    on_body: impl Fn(&[u8]) + Clone + 'static,
) -> Result<Summary, String> {
    let seq = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + duration;
    let local = tokio::task::LocalSet::new();
    let mut handles = Vec::new();
    for _ in 0..clients {
        let (next, on_body, seq, addr) =
            (next.clone(), on_body.clone(), seq.clone(), addr.to_string());
        handles.push(local.spawn_local(async move {
            let mut lat = Vec::new();
            let mut errors = 0usize;
            let mut conn = Connection::open(&addr).await.map_err(|e| e.to_string())?;
            while Instant::now() < deadline {
                let (method, path, body) = next(seq.fetch_add(1, Ordering::Relaxed));
                let t = Instant::now();
                match conn.send(method, &path, body.as_deref()).await {
                    Ok(r) if r.status < 300 => {
                        lat.push(t.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
                        on_body(&r.body);
                    }
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        conn = Connection::open(&addr).await.map_err(|e| e.to_string())?;
                    }
                }
            }
            Ok::<_, String>((lat, errors))
        }));
    }
    let results = local
        .run_until(futures_util::future::join_all(handles))
        .await;
    let elapsed = start.elapsed();
    let mut all = Vec::new();
    let mut errors = 0;
    for r in results {
        let (lat, e) = r.map_err(|e| e.to_string())??;
        all.extend(lat);
        errors += e;
    }
    Ok(summarise(name, all, errors, elapsed))
}

/// Prints workload figures as a Markdown table.
pub(crate) fn print_table(summaries: &[Summary]) {
    println!("| workload | requests/s | p50 ms | p99 ms | requests | errors |");
    println!("|---|---:|---:|---:|---:|---:|");
    for s in summaries {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {} | {} |",
            s.name, s.per_second, s.p50_ms, s.p99_ms, s.requests, s.errors
        );
    }
}

#[cfg(test)]
mod tests {
    use super::BenchDatabase;
    use crate::interaction::{self, Incoming};
    use crate::store::{Isolation, Store};

    #[test]
    fn a_bench_refuses_a_database_that_holds_resources() {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("b.db").display());
        assert!(BenchDatabase::new(Some(&url), "t").is_ok(), "empty: taken");
        let store = Store::open(&url, Some(1)).expect("store opens");
        let basic = Incoming::new("Basic", serde_json::json!({"resourceType": "Basic"}));
        store
            .write(Isolation::Plain, |tx| {
                interaction::update(tx, "Basic", "b", &basic, None)
            })
            .expect("writes");
        let refused = BenchDatabase::new(Some(&url), "t")
            .err()
            .unwrap_or_default();
        assert!(refused.contains("holds 1 resources"), "{refused}");
        // The default is a temporary file, gone with the bench.
        let temp = BenchDatabase::new(None, "t").expect("default");
        let folder = temp.temp.clone().expect("a temporary folder");
        std::fs::create_dir_all(&folder).expect("made");
        drop(temp);
        assert!(!folder.exists());
    }
}
