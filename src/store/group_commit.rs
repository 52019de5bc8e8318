//! Group commit for SQLite: writers that arrive while another is writing join its transaction,
//! each after the first in a SAVEPOINT of its own (a failing one rolls back alone; a failing
//! first writer rolls back the transaction, which holds only its work), and the last writer of the
//! burst commits for all. No writer returns before the COMMIT that holds its work, so a
//! response never reports what is not yet stored. SQLite admits one writer at a time; this
//! makes that writer's commit serve many requests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use diesel::connection::SimpleConnection;
use diesel::result::Error as DieselError;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

/// The most writes one transaction gathers before it commits.
const MAX_BATCH: usize = 64;
/// How many commit outcomes are kept for writers that wake late.
const OUTCOMES: usize = 4096;

pub struct GroupCommit {
    path: String,
    pragmas: &'static str,
    state: Mutex<Batch>,
    committed: Condvar,
    waiting: AtomicUsize,
    /// Batches ended so far; the checkpoint thread skips its turn when none ended since.
    batches: AtomicU64,
    /// Set by the checkpoint thread when the WAL has grown past its limit: the next batch
    /// first empties it (see [`GroupCommit::restart_wal`]).
    wal_restart: AtomicBool,
}

#[derive(Default)]
struct Batch {
    conn: Option<SqliteConnection>,
    open: bool,
    size: usize,
    epoch: u64,
    /// (epoch, error) of recent commits; `None` when the commit succeeded.
    outcomes: VecDeque<(u64, Option<String>)>,
}

fn other(e: impl std::fmt::Display) -> DieselError {
    DieselError::QueryBuilderError(e.to_string().into())
}

impl GroupCommit {
    pub fn new(path: &str, pragmas: &'static str) -> GroupCommit {
        GroupCommit {
            path: path.to_string(),
            pragmas,
            state: Mutex::new(Batch::default()),
            committed: Condvar::new(),
            waiting: AtomicUsize::new(0),
            batches: AtomicU64::new(0),
            wal_restart: AtomicBool::new(false),
        }
    }

    /// Asks the writer to empty the WAL before its next batch.
    pub fn want_wal_restart(&self) {
        self.wal_restart.store(true, Ordering::Relaxed);
    }

    /// How many batches have ended (committed or rolled back).
    pub fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Runs `body` in the current group transaction and returns once that transaction has
    /// committed (or failed). `Err(RollbackTransaction)` from `body` undoes only its own work.
    pub fn run(
        &self,
        body: impl FnOnce(&mut SqliteConnection) -> Result<(), DieselError>,
    ) -> Result<(), DieselError> {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut b = match self.state.lock() {
            Ok(b) => b,
            // A writer panicked mid-batch and may have left work half done: roll the whole
            // batch back, and tell the writers waiting on it that it failed.
            Err(poisoned) => {
                let mut b = poisoned.into_inner();
                if b.open {
                    self.end(&mut b, Some("another write in the batch failed".into()));
                }
                self.state.clear_poison();
                b
            }
        };
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        if b.conn.is_none() {
            let mut c = SqliteConnection::establish(&self.path).map_err(other)?;
            c.batch_execute(self.pragmas)?;
            b.conn = Some(c);
        }
        if !b.open {
            let conn = b
                .conn
                .as_mut()
                .ok_or_else(|| other("no writer connection"))?;
            if self.wal_restart.swap(false, Ordering::Relaxed) {
                Self::restart_wal(conn);
            }
            // No writer waits on a batch that has not begun, so a failure here is ours alone.
            conn.batch_execute("BEGIN IMMEDIATE")?;
            b.open = true;
            b.size = 0;
        }
        let my_epoch = b.epoch;
        let result = if b.size == 0 {
            // The first writer of a batch needs no savepoint: its work is all the transaction
            // holds, so undoing it is a ROLLBACK. A savepoint makes SQLite copy every page
            // the writer changes, as it was, into a journal file first.
            let conn = b
                .conn
                .as_mut()
                .ok_or_else(|| other("no writer connection"))?;
            if let Err(e) = body(conn) {
                if conn.batch_execute("ROLLBACK").is_err() {
                    // Closing the connection ends whatever transaction it still holds.
                    b.conn = None;
                }
                b.open = false;
                return Err(e);
            }
            Ok(())
        } else {
            match Self::in_savepoint(b.conn.as_mut(), body) {
                // A later writer's failure undid only its own savepoint: the batch goes on,
                // and this writer still ends it if no one waits.
                Ok(result) => result,
                Err(e) => {
                    // The savepoint machinery itself failed: the batch cannot be trusted.
                    self.end(&mut b, Some(e.to_string()));
                    return Err(e);
                }
            }
        };
        b.size += 1;
        if self.waiting.load(Ordering::SeqCst) == 0 || b.size >= MAX_BATCH {
            return match self.end(&mut b, None) {
                None => result,
                Some(err) => Err(other(format!("commit failed: {err}"))),
            };
        }
        // A writer is queued behind us: it continues this transaction and one of the
        // writers after it ends it.
        while b.epoch == my_epoch {
            b = self.committed.wait(b).unwrap_or_else(|p| p.into_inner());
        }
        match b.outcomes.iter().find(|(e, _)| *e == my_epoch) {
            Some((_, Some(err))) => Err(other(format!("group commit failed: {err}"))),
            Some((_, None)) => result,
            None => Err(other("the outcome of the group commit is no longer known")),
        }
    }

    /// Copies what is left of the WAL into the database and starts it over from its
    /// beginning, between batches, so no writer is in the way. Done by the checkpoint thread
    /// instead, a RESTART or TRUNCATE blocked every writer while it waited its turn, and both
    /// sides slept in busy-handler steps: stalls of 165-360 ms every two seconds of steady
    /// ingest. Restarting (not truncating) keeps the file's blocks for the next round of
    /// frames, so the file system allocates nothing. A reader that holds it up past the short
    /// timeout only defers it: the checkpoint thread asks again.
    fn restart_wal(conn: &mut SqliteConnection) {
        let result = conn.batch_execute(
            "PRAGMA busy_timeout = 250; PRAGMA wal_checkpoint(RESTART); PRAGMA busy_timeout = 10000;",
        );
        if let Err(e) = result {
            log::debug!("WAL restart deferred: {e}");
            let _ = conn.batch_execute("PRAGMA busy_timeout = 10000;");
        }
    }

    /// Runs `body` in a savepoint: its work is kept on `Ok`, undone on `Err`. The outer
    /// error is for the savepoint statements themselves failing.
    fn in_savepoint(
        conn: Option<&mut SqliteConnection>,
        body: impl FnOnce(&mut SqliteConnection) -> Result<(), DieselError>,
    ) -> Result<Result<(), DieselError>, DieselError> {
        let conn = conn.ok_or_else(|| other("no writer connection"))?;
        conn.batch_execute("SAVEPOINT write")?;
        let result = body(conn);
        match &result {
            Ok(()) => conn.batch_execute("RELEASE write")?,
            Err(_) => conn.batch_execute("ROLLBACK TO write; RELEASE write")?,
        }
        Ok(result)
    }

    /// Ends the open batch: commits it, or rolls it back when `failure` says why; records the
    /// outcome for its waiting writers and wakes them. Returns the failure, if any.
    fn end(&self, b: &mut Batch, failure: Option<String>) -> Option<String> {
        let failure = match (failure, b.conn.as_mut()) {
            (None, Some(c)) => c.batch_execute("COMMIT").err().map(|e| e.to_string()),
            (None, None) => Some("no writer connection".into()),
            (f, _) => f,
        };
        if failure.is_some() {
            if let Some(c) = b.conn.as_mut() {
                let _ = c.batch_execute("ROLLBACK");
            }
        }
        b.open = false;
        b.outcomes.push_back((b.epoch, failure.clone()));
        if b.outcomes.len() > OUTCOMES {
            b.outcomes.pop_front();
        }
        b.epoch += 1;
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.committed.notify_all();
        failure
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::RunQueryDsl;

    /// The WAL file's length and its checkpoint sequence (header bytes 12..16, big-endian),
    /// which goes up by one each time the WAL starts over.
    fn wal(path: &str) -> (u64, u32) {
        let bytes = std::fs::read(format!("{path}-wal")).expect("the WAL file");
        let seq = bytes
            .get(12..16)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_be_bytes);
        (bytes.len() as u64, seq)
    }

    #[test]
    fn a_wanted_wal_restart_starts_the_next_batch_at_the_head_of_the_wal() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("wal.db").to_string_lossy().into_owned();
        let writer = GroupCommit::new(
            &path,
            "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;",
        );
        let write = |rows: usize| {
            writer
                .run(|c| {
                    c.batch_execute("CREATE TABLE IF NOT EXISTS t (v BLOB)")?;
                    for _ in 0..rows {
                        c.batch_execute("INSERT INTO t VALUES (randomblob(4000))")?;
                    }
                    Ok(())
                })
                .expect("write")
        };
        write(200);
        let (grown, seq) = wal(&path);
        // Unasked, the WAL only grows: with frames not yet copied SQLite cannot start it over.
        write(1);
        let (longer, same_seq) = wal(&path);
        assert!(longer > grown);
        assert_eq!(same_seq, seq);
        writer.want_wal_restart();
        write(1);
        let (after, next_seq) = wal(&path);
        assert_eq!(next_seq, seq + 1, "the WAL started over");
        assert_eq!(after, longer, "its blocks are written again, not added to");
        assert_eq!(count(&path), 202, "every write is still there");
    }

    fn count(path: &str) -> i64 {
        let mut c = SqliteConnection::establish(path).expect("reader");
        let rows: Vec<Count> = diesel::sql_query("SELECT count(*) AS n FROM t")
            .load(&mut c)
            .expect("count");
        rows.first().map_or(-1, |r| r.n)
    }

    #[test]
    fn a_failing_writer_undoes_only_its_own_work_first_in_its_batch_or_later() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("group.db").to_string_lossy().into_owned();
        let writer = GroupCommit::new(&path, "PRAGMA journal_mode = WAL;");
        let insert = |c: &mut SqliteConnection| c.batch_execute("INSERT INTO t VALUES (1)");
        writer
            .run(|c| c.batch_execute("CREATE TABLE t (v INTEGER)"))
            .expect("table");
        // Alone in its batch: the first writer runs without a savepoint.
        let failed = writer.run(|c| {
            insert(c)?;
            Err(DieselError::RollbackTransaction)
        });
        assert!(failed.is_err());
        assert_eq!(count(&path), 0, "the first writer's rows are undone");
        writer.run(insert).expect("the next batch begins cleanly");
        assert_eq!(count(&path), 1);
        // Two in one batch: the first holds the transaction until the second waits on it.
        let inside = AtomicBool::new(false);
        std::thread::scope(|s| {
            let first = s.spawn(|| {
                writer.run(|c| {
                    insert(c)?;
                    inside.store(true, Ordering::SeqCst);
                    while writer.waiting.load(Ordering::SeqCst) == 0 {
                        std::thread::yield_now();
                    }
                    Ok(())
                })
            });
            // (A first writer that failed before holding would end the wait, not hang it.)
            while !inside.load(Ordering::SeqCst) && !first.is_finished() {
                std::thread::yield_now();
            }
            let second = writer.run(|c| {
                insert(c)?;
                Err(DieselError::RollbackTransaction)
            });
            assert!(
                second.is_err(),
                "the second writer's own failure is reported"
            );
            assert!(first.join().expect("first writer").is_ok());
        });
        assert_eq!(
            count(&path),
            2,
            "the first writer's row stays, the second's is undone"
        );
    }

    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
}
