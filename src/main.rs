//! The `carebridge` command: serve, migrate, bench.

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use carebridge::server::{
    self, ServerConfig, DEFAULT_BODY_LIMIT, DEFAULT_DATABASE, DEFAULT_INGEST_LIMIT,
};
use carebridge::store::Store;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (v3's `mi_option_e`; libmimalloc-sys names no
/// constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Memory freed stays with the process for 10 s before it goes back to the system, not 1 s:
/// an import batch or a big transaction frees hundreds of MiB that the next one, a second
/// later, would otherwise fault in again page by page, each page zeroed by the kernel
/// (30,000–37,000 faults and 0.5–0.75 s of kernel time in a 22,000-row import, 6,400 and
/// 0.4 s this way; README, Imports).
fn keep_freed_memory_longer() {
    // SAFETY: sets one integer option of the allocator; any value is valid for it.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10_000) };
}

#[derive(Parser)]
#[command(
    name = "carebridge",
    version,
    about = "FHIR R4 server for patient-held health records"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the FHIR server (base path /fhir).
    Serve {
        #[arg(long, env = "CAREBRIDGE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// postgres://… or sqlite://PATH; the default is an embedded SQLite file.
        #[arg(long, env = "CAREBRIDGE_DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
        /// The FHIR base URL clients see (default http://LISTEN/fhir).
        #[arg(long, env = "CAREBRIDGE_BASE_URL")]
        base_url: Option<String>,
        /// Largest request body in bytes.
        #[arg(long, env = "CAREBRIDGE_BODY_LIMIT", default_value_t = DEFAULT_BODY_LIMIT)]
        body_limit: usize,
        /// Largest $ingest body (a source batch) in bytes.
        #[arg(long, env = "CAREBRIDGE_INGEST_LIMIT", default_value_t = DEFAULT_INGEST_LIMIT)]
        ingest_limit: usize,
        /// HTTP worker threads (default: one per core).
        #[arg(long, env = "CAREBRIDGE_WORKERS")]
        workers: Option<usize>,
        /// Database connections in the pool (default: 4 for SQLite, 16 for PostgreSQL).
        #[arg(long, env = "CAREBRIDGE_POOL_SIZE")]
        pool_size: Option<u32>,
        /// Refuse creates and updates that break a profile they claim in meta.profile.
        #[arg(long, env = "CAREBRIDGE_ENFORCE_PROFILES")]
        enforce_profiles: bool,
        /// A profile every resource of a type must meet when enforcing: TYPE=URL, repeatable.
        #[arg(long = "default-profile", value_name = "TYPE=URL")]
        default_profiles: Vec<String>,
        /// An adapter's configuration file for $ingest: NAME=PATH, repeatable.
        #[arg(long = "adapter-config", value_name = "NAME=PATH")]
        adapter_configs: Vec<String>,
    },
    /// Load the synthetic sample records of all three adapters, then serve them.
    Demo {
        #[arg(long, env = "CAREBRIDGE_LISTEN", default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        #[arg(long, env = "CAREBRIDGE_DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
    },
    /// Create the database if needed and apply pending migrations.
    Migrate {
        #[arg(long, env = "CAREBRIDGE_DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
    },
    /// Rebuild every resource's search index rows, with the stored SearchParameter resources
    /// in force (run it after adding one; the server loads them when it starts).
    Reindex {
        #[arg(long, env = "CAREBRIDGE_DATABASE_URL", default_value = DEFAULT_DATABASE)]
        database: String,
    },
    /// Import a source batch (EMIS, RiO or VCSE CRM) as conditional upserts, and report.
    Import(carebridge::adapters::command::ImportArgs),
    /// Pull changes from a CRM's REST endpoint (Salesforce-style) and import them.
    Sync(carebridge::adapters::vcse::sync::SyncArgs),
    /// Measure read, create and update throughput against a server it starts itself.
    Bench(carebridge::bench::BenchArgs),
    /// Generate patients with observations, then measure search workloads against them.
    BenchSearch(carebridge::bench::SearchBenchArgs),
    /// Measure source import (a synthetic EMIS extract) into a fresh database, in process.
    BenchImport(carebridge::bench::ImportBenchArgs),
    /// Measure transaction ingest and Patient/$everything against a server it starts itself.
    BenchTransaction(carebridge::bench::TransactionBenchArgs),
}

fn main() -> ExitCode {
    keep_freed_memory_longer();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve {
            listen,
            database,
            base_url,
            body_limit,
            ingest_limit,
            workers,
            pool_size,
            enforce_profiles,
            default_profiles,
            adapter_configs,
        } => pairs(&default_profiles, "--default-profile", "TYPE=URL")
            .and_then(|d| Ok((d, pairs(&adapter_configs, "--adapter-config", "NAME=PATH")?)))
            .and_then(|(defaults, configs)| {
                serve(ServerConfig {
                    base_url,
                    body_limit,
                    ingest_limit,
                    workers,
                    pool_size,
                    profiles: carebridge::profile::Policy {
                        enforce: enforce_profiles || !defaults.is_empty(),
                        defaults,
                    },
                    adapter_configs: configs
                        .into_iter()
                        .map(|(k, v)| (k, std::path::PathBuf::from(v)))
                        .collect(),
                    ..ServerConfig::new(listen, database)
                })
            }),
        Command::Demo { listen, database } => demo(ServerConfig::new(listen, database)),
        Command::Migrate { database } => Store::open(&database, Some(1))
            .map(|s| log::info!("{} database is migrated", s.backend_name()))
            .map_err(|e| e.to_string()),
        Command::Reindex { database } => Store::open(&database, Some(2))
            .map_err(|e| e.to_string())
            .and_then(|store| {
                carebridge::search::reindex(&store, |n| {
                    if n % 10_000 == 0 {
                        log::info!("reindexed {n} resources")
                    }
                })
                .map_err(|e| e.to_string())
            })
            .map(|n| log::info!("reindexed {n} resources")),
        Command::Import(args) => carebridge::adapters::command::run_import(args),
        Command::Sync(args) => carebridge::adapters::vcse::sync::run_sync(args),
        Command::Bench(args) => carebridge::bench::run(args),
        Command::BenchSearch(args) => carebridge::bench::run_search(args),
        Command::BenchTransaction(args) => carebridge::bench::run_transaction(args),
        Command::BenchImport(args) => carebridge::bench::run_import(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `KEY=VALUE` options as a map.
fn pairs(
    items: &[String],
    flag: &str,
    form: &str,
) -> Result<std::collections::HashMap<String, String>, String> {
    items
        .iter()
        .map(|d| {
            d.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("{flag} '{d}' is not {form}"))
        })
        .collect()
}

fn demo(cfg: ServerConfig) -> Result<(), String> {
    let store = carebridge::adapters::command::open_store(&cfg.database_url, 2)?;
    let base = format!("http://{}/fhir", cfg.listen);
    for report in carebridge::adapters::demo::load(&store, &base)? {
        print!("{}", report.text());
    }
    drop(store);
    serve(cfg)
}

fn serve(cfg: ServerConfig) -> Result<(), String> {
    let running = server::start(&cfg).map_err(|e| e.to_string())?;
    log::info!(
        "serving FHIR R4 at {} ({})",
        running.base_url,
        cfg.database_url
    );
    actix_web::rt::System::new()
        .block_on(running.server)
        .map_err(|e| e.to_string())
}
