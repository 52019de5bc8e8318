//! WAL checkpoints for SQLite on a thread of their own. Left to SQLite, the writer that
//! crosses the WAL size threshold copies the WAL into the database file and syncs it before
//! its commit returns, so every few transaction bundles one of them waits hundreds of
//! milliseconds. Here a PASSIVE checkpoint (it blocks neither readers nor the writer) runs
//! every interval instead, and the writer connection has automatic checkpoints turned off.
//! Under a steady stream of writes a passive checkpoint may never catch the WAL up, so once
//! the WAL passes a size limit a TRUNCATE checkpoint waits its turn and empties it.

use std::sync::Weak;
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

/// Checkpoints `path` until `alive` can no longer be upgraded (the store is gone).
pub fn spawn<T: Send + Sync + 'static>(path: String, alive: Weak<T>) {
    let run = move || {
        let Ok(mut conn) = SqliteConnection::establish(&path) else {
            log::warn!("WAL checkpoints: cannot open {path}");
            return;
        };
        let _ = conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA synchronous = NORMAL;");
        while alive.strong_count() > 0 {
            std::thread::sleep(INTERVAL);
            let passive: Result<Vec<Checkpointed>, _> =
                diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").load(&mut conn);
            match passive {
                Ok(rows) if rows.first().is_some_and(|r| r.log > LIMIT) => {
                    if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);") {
                        log::debug!("WAL truncate: {e}");
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
