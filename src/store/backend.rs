//! The one place that knows which database runs: connection setup, pragmas, migrations,
//! transaction modes and retries. Chosen from the URL scheme, as vaultwarden does.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use super::error::{Retryable, StoreError};
use super::group_commit::GroupCommit;
use super::tx::{PgTx, SqliteTx, Tx};
use super::Isolation;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Conditional writes on PostgreSQL queue on this advisory lock (see `Isolation`); read
/// committed, each statement after it sees every conditional write committed before.
const CONDITIONAL_LOCK: &str = "SELECT pg_advisory_xact_lock(7245031994)";

/// How many times a transaction that lost a race is run again before the error is returned.
const ATTEMPTS: u32 = 6;

/// A pool of connections to one database. Cheap to clone.
#[derive(Clone)]
pub enum Store {
    Sqlite {
        pool: Pool<ConnectionManager<SqliteConnection>>,
        /// SQLite admits one writer at a time. Writers queue here, in order, rather than in
        /// SQLite's busy handler (which polls with sleeps of up to 100 ms), and writers that
        /// queue behind each other share one commit.
        writer: Arc<GroupCommit>,
    },
    Postgres {
        pool: Pool<ConnectionManager<PgConnection>>,
        /// Commits so far, for the thread that keeps the planner's statistics current.
        writes: Arc<AtomicU64>,
    },
}

/// Pragmas every SQLite connection needs: a busy timeout so another process's writer is waited
/// for instead of failing, NORMAL sync (safe with WAL), and a page cache of 8 MiB per
/// connection (the server's memory grows with pool size × cache size).
#[derive(Debug)]
struct SqlitePragmas;

const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192;";

/// The writer connection: the same, without automatic checkpoints, which `checkpoint` runs
/// on a thread of its own. Its temporary store is memory too: what it journals there is the
/// page copies a group-commit SAVEPOINT keeps to undo its writer alone (the INSERTs keep no
/// statement journals; see `store/sql.rs`). In temporary files those copies were as many
/// write calls as the WAL's frames (25,000 in 4 s of ingest, 39 MB, a file per savepoint).
/// Statement journals in memory had once made a statement inside a savepoint walk the whole
/// journal (an 11,000-entry import ran for minutes), but these INSERTs keep none.
///
/// It does not enforce the schema's foreign keys: SQLite checks one by opening a cursor on
/// `resource` and seeking the key for every row written, a tenth of SQLite's instructions
/// for an import batch's 175,000 index rows. The store's statements see to it instead, once
/// a call rather than once a row (`store/tx.rs`, `foreign_keys_enforced`); a test counts
/// orphaned rows after every kind of write on both databases, and PostgreSQL enforces the
/// keys as well.
pub(super) const SQLITE_WRITER_PRAGMAS: &str =
    "PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192; \
     PRAGMA wal_autocheckpoint = 0;";

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(SQLITE_PRAGMAS)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Planner settings for every PostgreSQL connection. The default random_page_cost (4) models
/// spinning disks: with it PostgreSQL scans whole index tables rather than seek a few
/// thousand rows by key (`$everything` of a 2,000-resource patient: 42 ms against 25 ms).
/// 1.1 is the usual value for SSDs and cached data.
#[derive(Debug)]
struct PgSettings;

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for PgSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("SET random_page_cost = 1.1")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Prepares a SQLite file before the pool opens: WAL mode (a property of the file, so it is
/// set once, here, rather than by every connection racing for the lock) and migrations.
pub(super) fn prepare_sqlite(path: &str) -> Result<(), StoreError> {
    let mut conn = SqliteConnection::establish(path)
        .map_err(|e| StoreError::Internal(format!("opening {path}: {e}")))?;
    conn.batch_execute(SQLITE_PRAGMAS)?;
    conn.batch_execute("PRAGMA journal_mode = WAL;")?;
    conn.run_pending_migrations(SQLITE_MIGRATIONS)
        .map_err(|e| StoreError::Internal(format!("migrations: {e}")))?;
    Ok(())
}

/// The file a SQLite URL (`sqlite://PATH`, `sqlite:PATH` or a plain path) names.
pub(super) fn sqlite_path(url: &str) -> Result<&str, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Err(StoreError::Internal(format!(
            "{url} is not a SQLite database"
        )));
    }
    Ok(url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url))
}

impl Store {
    /// Opens a database by URL (`postgres://…`, `sqlite://PATH`, `sqlite:PATH` or a plain
    /// path), creating a SQLite file and its folder if needed, and applies pending migrations.
    /// Without a pool size, SQLite gets 4 connections (readers share two cores and each
    /// connection keeps its own page cache) and PostgreSQL 16.
    pub fn open(url: &str, pool_size: Option<u32>) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // OpenSSL is set up by us before libpq does it, without a clean-up at process
            // exit: that clean-up frees what threads still running at exit (pooled
            // connections, the sync client) may be using, and crashes the exit.
            openssl::init();
            let pool = Pool::builder()
                .max_size(pool_size.unwrap_or(16))
                .connection_timeout(Duration::from_secs(10))
                .connection_customizer(Box::new(PgSettings))
                .build(ConnectionManager::<PgConnection>::new(url))?;
            let mut conn = pool.get()?;
            conn.run_pending_migrations(POSTGRES_MIGRATIONS)
                .map_err(|e| StoreError::Internal(format!("migrations: {e}")))?;
            let writes = Arc::new(AtomicU64::new(0));
            super::statistics::spawn(url.to_string(), Arc::downgrade(&writes));
            return Ok(Store::Postgres { pool, writes });
        }
        let path = sqlite_path(url)?;
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Internal(format!("creating {}: {e}", dir.display())))?;
        }
        prepare_sqlite(path)?;
        let pool = Pool::builder()
            .max_size(pool_size.unwrap_or(4))
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(ConnectionManager::<SqliteConnection>::new(path))?;
        let writer = Arc::new(GroupCommit::new(path, SQLITE_WRITER_PRAGMAS));
        super::checkpoint::spawn(path.to_string(), Arc::downgrade(&writer));
        Ok(Store::Sqlite { pool, writer })
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Store::Sqlite { .. } => "sqlite",
            Store::Postgres { .. } => "postgres",
        }
    }

    /// Runs reads outside a transaction.
    pub fn read<R, E>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<R, E>) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        match self {
            Store::Sqlite { pool, .. } => {
                let mut conn = pool.get().map_err(StoreError::from)?;
                f(&mut SqliteTx {
                    conn: &mut conn,
                    write: false,
                })
            }
            Store::Postgres { pool, .. } => {
                let mut conn = pool.get().map_err(StoreError::from)?;
                f(&mut PgTx {
                    conn: &mut conn,
                    write: false,
                })
            }
        }
    }

    /// Runs `f` in one database transaction: everything it wrote commits, or nothing does.
    /// A transaction that lost a race (unique key, serialization failure, deadlock) runs again.
    pub fn write<R, E>(
        &self,
        isolation: Isolation,
        mut f: impl FnMut(&mut dyn Tx) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StoreError> + Retryable,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = self.write_once(isolation, &mut f);
            match result {
                Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(2 << attempt));
                }
                other => return other,
            }
        }
    }

    fn write_once<R, E>(
        &self,
        isolation: Isolation,
        f: &mut impl FnMut(&mut dyn Tx) -> Result<R, E>,
    ) -> Result<R, E>
    where
        E: From<StoreError>,
    {
        let mut outcome: Option<Result<R, E>> = None;
        let mut body = |tx: &mut dyn Tx| -> Result<(), diesel::result::Error> {
            let r = f(tx);
            let failed = r.is_err();
            outcome = Some(r);
            if failed {
                Err(diesel::result::Error::RollbackTransaction)
            } else {
                Ok(())
            }
        };
        let db_result = match self {
            Store::Sqlite { writer, .. } => writer.run(|c| {
                body(&mut SqliteTx {
                    conn: c,
                    write: true,
                })
            }),
            Store::Postgres { pool, writes } => {
                let mut conn = pool.get().map_err(StoreError::from)?;
                let done = conn.build_transaction().run(|c| {
                    if isolation == Isolation::Conditional {
                        c.batch_execute(CONDITIONAL_LOCK)?;
                    }
                    body(&mut PgTx {
                        conn: c,
                        write: true,
                    })
                });
                if done.is_ok() {
                    writes.fetch_add(1, Ordering::Relaxed);
                }
                done
            }
        };
        match (db_result, outcome) {
            (Ok(()), Some(r)) => r,
            (Err(diesel::result::Error::RollbackTransaction), Some(Err(e))) => Err(e),
            (Err(e), _) => Err(StoreError::from(e).into()),
            (Ok(()), None) => {
                Err(StoreError::Internal("transaction body did not run".into()).into())
            }
        }
    }
}
