//! Server configuration and start-up: open the store (creating and migrating it), bind, and
//! run actix-web with request logging. actix-web stops gracefully on SIGINT/SIGTERM.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

use actix_web::middleware::{from_fn, Logger};
use actix_web::{web, App, HttpServer};

use crate::profile::{Policy, Profiles};
use crate::rest::{errors_in_requested_format, routes, AppState};
use crate::store::Store;

/// Where the embedded database lives when no URL is given.
pub const DEFAULT_DATABASE: &str = "sqlite://carebridge-data/carebridge.db";
/// Request bodies up to this size are accepted (16 MiB).
pub const DEFAULT_BODY_LIMIT: usize = 16 * 1024 * 1024;
/// `$ingest` takes a whole extract: up to 256 MiB.
pub const DEFAULT_INGEST_LIMIT: usize = 256 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    /// The FHIR base as clients see it; by default `http://{listen}/fhir`.
    pub base_url: Option<String>,
    pub body_limit: usize,
    /// Largest `$ingest` body (a source batch) in bytes.
    pub ingest_limit: usize,
    /// HTTP worker threads; by default one per core.
    pub workers: Option<usize>,
    /// Database connections; by default 4 for SQLite, 16 for PostgreSQL.
    pub pool_size: Option<u32>,
    /// Profiles that create and update enforce.
    pub profiles: Policy,
    /// Adapter name → its configuration file, for `$ingest`; others use their defaults.
    pub adapter_configs: HashMap<String, PathBuf>,
}

impl ServerConfig {
    pub fn new(listen: SocketAddr, database_url: impl Into<String>) -> ServerConfig {
        ServerConfig {
            listen,
            database_url: database_url.into(),
            base_url: None,
            body_limit: DEFAULT_BODY_LIMIT,
            ingest_limit: DEFAULT_INGEST_LIMIT,
            workers: None,
            pool_size: None,
            profiles: Policy::default(),
            adapter_configs: HashMap::new(),
        }
    }
}

/// A started server: where it listens, and the future that runs it.
pub struct Running {
    pub addr: SocketAddr,
    pub base_url: String,
    pub server: actix_web::dev::Server,
}

/// Opens the store and binds; the caller awaits `server` inside an actix/tokio runtime.
pub fn start(cfg: &ServerConfig) -> std::io::Result<Running> {
    // See `Store::open`: no OpenSSL clean-up racing threads at exit.
    openssl::init();
    // Refuse to start on profiles that do not load, rather than validate against fewer.
    Profiles::builtin().map_err(std::io::Error::other)?;
    for (rt, url) in &cfg.profiles.defaults {
        if Profiles::builtin()
            .ok()
            .and_then(|p| p.get(url))
            .is_none_or(|s| s.res_type != *rt)
        {
            return Err(std::io::Error::other(format!(
                "default profile {url} for {rt} is not a {rt} profile this server holds"
            )));
        }
    }
    // An adapter configuration that does not load is refused now, not at the first upload.
    for (name, path) in &cfg.adapter_configs {
        crate::adapters::adapter(name, Some(path)).map_err(std::io::Error::other)?;
    }
    let store = Store::open(&cfg.database_url, cfg.pool_size)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let custom = crate::search::load_custom_parameters(&store)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if custom > 0 {
        log::info!("{custom} custom search parameters loaded");
    }
    let listener = TcpListener::bind(cfg.listen)?;
    let addr = listener.local_addr()?;
    let base_url = cfg
        .base_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}/fhir"))
        .trim_end_matches('/')
        .to_string();
    let state = web::Data::new(AppState {
        store,
        base_url: base_url.clone(),
        body_limit: cfg.body_limit,
        ingest_limit: cfg.ingest_limit,
        profiles: cfg.profiles.clone(),
        adapter_configs: cfg.adapter_configs.clone(),
    });
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(from_fn(errors_in_requested_format))
            .wrap(Logger::new("%a \"%r\" %s %b %Dms"))
            .configure(routes)
    })
    .listen(listener)?;
    if let Some(w) = cfg.workers {
        server = server.workers(w);
    }
    Ok(Running {
        addr,
        base_url,
        server: server.run(),
    })
}
