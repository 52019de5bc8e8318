//! WAL checkpoints for SQLite on a thread of their own. Left to SQLite, the writer that
//! crosses the WAL size threshold copies the WAL into the database file and syncs it before
//! its commit returns, so every few transaction bundles one of them waits hundreds of
//! milliseconds. Here a PASSIVE checkpoint (it blocks neither readers nor the writer) runs
//! every interval instead, and the writer connection has automatic checkpoints turned off.
//! Under a steady stream of writes a passive checkpoint may never catch the WAL up (SQLite
//! starts the WAL over only when a write begins with every frame copied), so once the WAL
//! passes a size limit this thread asks the writer to start it over between two batches.

use std::sync::Weak;

use super::group_commit::GroupCommit;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};

const INTERVAL: Duration = Duration::from_millis(100);
/// WAL frames (pages of 4 KiB) past which the WAL is emptied: 64 MiB.
const LIMIT: i32 = 16_384;

#[derive(QueryableByName)]
struct Checkpointed {
    #[diesel(sql_type = Integer)]
    log: i32,
}

/// Checkpoints `path` after writes until the store's writer is gone. An idle store's thread
/// only sleeps: it holds no connection and makes no SQLite call.
pub fn spawn(path: String, writer: Weak<GroupCommit>) {
    let run = move || {
        let mut seen = 0;
        let mut conn: Option<SqliteConnection> = None;
        loop {
            std::thread::sleep(INTERVAL);
            let Some(batches) = writer.upgrade().map(|w| w.batches()) else {
                return;
            };
            if batches == seen {
                // Nothing written since the last turn: let the connection go.
                conn = None;
                continue;
            }
            seen = batches;
            if conn.is_none() {
                conn = SqliteConnection::establish(&path).ok();
                if let Some(c) = conn.as_mut() {
                    let _ = c
                        .batch_execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;");
                }
            }
            let Some(conn) = conn.as_mut() else {
                log::warn!("WAL checkpoints: cannot open {path}");
                continue;
            };
            let passive: Result<Vec<Checkpointed>, _> =
                diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").load(conn);
            match passive {
                Ok(rows) if rows.first().is_some_and(|r| r.log > LIMIT) => {
                    if let Some(w) = writer.upgrade() {
                        w.want_wal_restart();
                    }
                }
                Ok(_) => {}
                Err(e) => log::debug!("WAL checkpoint: {e}"),
            }
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("sqlite-checkpoint".into())
        .spawn(run)
    {
        log::warn!("WAL checkpoints: cannot start the thread: {e}");
    }
}
