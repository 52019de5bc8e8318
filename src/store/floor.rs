//! The floor under an import's speed: SQLite's own cost of writing rows that are already
//! made. `bench-import` copies what its new pass wrote into an empty database, table by
//! table, so that its figure can be read against what this machine's SQLite can do at all
//! with this storage (machines of one kind have differed threefold here).

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::sql_types::Text;
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};

use super::backend::{prepare_sqlite, sqlite_path, SQLITE_WRITER_PRAGMAS};
use super::StoreError;

/// What [`copy_sqlite_rows`] wrote, and how long its transaction took.
#[derive(Debug, Clone, Copy)]
pub struct Copied {
    pub rows: u64,
    pub took: Duration,
}

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Copies every row of the SQLite database `from` into a new SQLite database `into` (both
/// URLs or paths; `into` gets the same migrations), every table in one transaction on a
/// connection with the writer's settings: the b-tree inserts of the rows and their
/// indexes, the WAL writes and the commit, with nothing to build, bind or check.
pub fn copy_sqlite_rows(from: &str, into: &str) -> Result<Copied, StoreError> {
    let (from, into) = (sqlite_path(from)?, sqlite_path(into)?);
    prepare_sqlite(into)?;
    let mut conn = SqliteConnection::establish(into)
        .map_err(|e| StoreError::Internal(format!("opening {into}: {e}")))?;
    conn.batch_execute(SQLITE_WRITER_PRAGMAS)?;
    conn.batch_execute(&format!(
        "ATTACH DATABASE '{}' AS source",
        from.replace('\'', "''")
    ))?;
    // The new database has its own migration rows; SQLite keeps its own tables.
    let tables = diesel::sql_query(
        "SELECT name FROM source.sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations' ORDER BY name",
    )
    .load::<Table>(&mut conn)?;
    let start = Instant::now();
    let rows = conn.transaction(|c| {
        tables.iter().try_fold(0u64, |rows, t| {
            let name = t.name.replace('"', "\"\"");
            diesel::sql_query(format!(
                "INSERT INTO main.\"{name}\" SELECT * FROM source.\"{name}\""
            ))
            .execute(c)
            .map(|n| rows + n as u64)
        })
    })?;
    Ok(Copied {
        rows,
        took: start.elapsed(),
    })
}
