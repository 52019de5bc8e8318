//! PostgreSQL's planner statistics, kept current by the server. The planner sizes tables and
//! chooses index conditions from what ANALYZE last saw; on tables it has never analyzed it
//! takes every index for nearly empty, and the bulk identifier lookup of an import
//! (`code = ANY(…)` on the token index) then filters all of a parameter's rows instead of
//! seeking each code: 155 ms a statement against 0.8 ms, 20 s of a 500-patient import batch.
//! Autovacuum would analyze those tables, but it can be turned off (it is on this project's
//! CI machine) and wakes once a minute. So while writes go on, a thread of its own analyzes
//! the tables autovacuum's rule picks: changed in more than 50 rows plus a tenth of their
//! size since their last analysis, with pauses that keep it to a tenth of a core. ANALYZE
//! blocks neither reads nor writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Weak;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::Text;
use diesel::{Connection, QueryableByName, RunQueryDsl};

const INTERVAL: Duration = Duration::from_secs(1);
/// How long after the last write the tables are still looked at: a connection reports its
/// changes to the statistics a second or so after its commit, when it is idle.
const SETTLE: Duration = Duration::from_secs(15);

const STALE: &str = "SELECT s.relname AS name FROM pg_stat_user_tables s \
     JOIN pg_class c ON c.oid = s.relid \
     WHERE s.schemaname = current_schema() \
     AND s.n_mod_since_analyze > 50 + 0.1 * GREATEST(c.reltuples, 0)";

#[derive(QueryableByName)]
struct Stale {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Analyzes `url`'s stale tables after writes until the store is gone. `writes` counts the
/// store's commits; an idle store's thread only sleeps and holds no connection.
pub fn spawn(url: String, writes: Weak<AtomicU64>) {
    let run = move || {
        let mut seen = 0;
        let mut last_write: Option<Instant> = None;
        let mut conn: Option<PgConnection> = None;
        let mut pause = INTERVAL;
        loop {
            std::thread::sleep(pause);
            pause = INTERVAL;
            let Some(count) = writes.upgrade().map(|w| w.load(Ordering::Relaxed)) else {
                return;
            };
            if count != seen {
                seen = count;
                last_write = Some(Instant::now());
            }
            if last_write.is_none_or(|t| t.elapsed() > SETTLE) {
                conn = None;
                continue;
            }
            if conn.is_none() {
                conn = PgConnection::establish(&url)
                    .map_err(|e| log::warn!("planner statistics: cannot connect: {e}"))
                    .ok();
            }
            let Some(c) = conn.as_mut() else {
                continue;
            };
            let started = Instant::now();
            if let Err(e) = analyze_stale(c) {
                log::debug!("planner statistics: {e}");
                conn = None;
            }
            // Analyzing takes a tenth of a core at most: while a bulk load grows the tables
            // by a tenth every second, every turn would otherwise analyze all of them.
            pause = INTERVAL.max(started.elapsed() * 10);
        }
    };
    if let Err(e) = std::thread::Builder::new()
        .name("pg-statistics".into())
        .spawn(run)
    {
        log::warn!("planner statistics: cannot start the thread: {e}");
    }
}

fn analyze_stale(conn: &mut PgConnection) -> Result<(), diesel::result::Error> {
    let stale: Vec<Stale> = diesel::sql_query(STALE).load(conn)?;
    for table in stale {
        log::debug!("planner statistics: analyzing {}", table.name);
        conn.batch_execute(&format!("ANALYZE \"{}\"", table.name.replace('"', "\"\"")))?;
    }
    Ok(())
}
