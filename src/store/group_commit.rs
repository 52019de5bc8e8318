//! Group commit for SQLite: writers that arrive while another is writing join its transaction,
//! each in a SAVEPOINT of its own (a failing one rolls back alone), and the last writer of the
//! burst commits for all. No writer returns before the COMMIT that holds its work, so a
//! response never reports what is not yet stored. SQLite admits one writer at a time; this
//! makes that writer's commit serve many requests.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
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
        }
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
            // No writer waits on a batch that has not begun, so a failure here is ours alone.
            b.conn
                .as_mut()
                .ok_or_else(|| other("no writer connection"))?
                .batch_execute("BEGIN IMMEDIATE")?;
            b.open = true;
            b.size = 0;
        }
        let my_epoch = b.epoch;
        let result = match Self::in_savepoint(b.conn.as_mut(), body) {
            Ok(result) => result,
            Err(e) => {
                // The savepoint machinery itself failed: the batch cannot be trusted.
                self.end(&mut b, Some(e.to_string()));
                return Err(e);
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
