//! The statements of one unit of work, behind a trait both databases implement with the same
//! SQL. Where the two differ (row locks, foreign keys) the macro below takes it as input.

use std::collections::HashMap;

use diesel::pg::PgConnection;
use diesel::sql_types::{BigInt, Bool, Nullable, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{QueryableByName, RunQueryDsl};

use super::sql::{pieces, run_statement, Arg, Bind, Bound, Query, Statement};
use super::{
    CompositeRow, DateRow, Head, HistoryQuery, IndexRows, NewResource, NewVersion, NumberRow,
    QuantityRow, ReferenceRow, StoreError, StoredVersion, StringRow, TokenRow, UriRow,
};

/// One connection's worth of storage statements; inside `Store::write` all of them belong to
/// one database transaction.
pub trait Tx {
    /// The head of a resource; in a write transaction the row stays locked until commit.
    fn head(&mut self, res_type: &str, res_id: &str) -> Result<Option<Head>, StoreError>;
    /// The heads of resources of one type by id, as [`Tx::head`] reads them, 100 a
    /// statement; locked in id order, so two transactions locking the same heads this way
    /// queue rather than deadlock.
    fn heads(
        &mut self,
        res_type: &str,
        res_ids: &[&str],
    ) -> Result<HashMap<String, Head>, StoreError>;
    /// A version of a resource, the current one when `version_id` is `None`.
    fn version(
        &mut self,
        res_type: &str,
        res_id: &str,
        version_id: Option<i64>,
    ) -> Result<Option<StoredVersion>, StoreError>;
    fn insert_head(
        &mut self,
        res_type: &str,
        res_id: &str,
        version_id: i64,
        last_updated: i64,
        deleted: bool,
    ) -> Result<i64, StoreError>;
    fn update_head(&mut self, head: &Head) -> Result<(), StoreError>;
    fn append_version(&mut self, v: &NewVersion<'_>) -> Result<(), StoreError>;
    /// Replaces the search index rows of a resource; `fresh` when it has never had any.
    fn replace_index(
        &mut self,
        res_pk: i64,
        rows: &IndexRows,
        fresh: bool,
    ) -> Result<(), StoreError>;
    /// Writes next versions of existing resources (a delete when `content` is `None`):
    /// their heads, versions and index rows (none for a delete), the versions and index rows
    /// in a few multi-row statements.
    fn update_many(&mut self, items: &[(NewVersion<'_>, &IndexRows)]) -> Result<(), StoreError>;
    /// Writes new resources (version 1 each) with their index rows in a few multi-row
    /// statements; returns their keys in order. The ids must be new.
    fn insert_many(&mut self, items: &[NewResource<'_>]) -> Result<Vec<i64>, StoreError>;
    fn history(&mut self, q: &HistoryQuery) -> Result<Vec<StoredVersion>, StoreError>;
    /// Runs a compiled search that selects the columns of [`StoredVersion`].
    fn search(&mut self, q: &Query) -> Result<Vec<StoredVersion>, StoreError>;
    /// Runs a compiled `SELECT COUNT(*) AS n …`.
    fn count(&mut self, q: &Query) -> Result<i64, StoreError>;
    /// Runs a compiled `SELECT … AS n` of many rows.
    fn keys(&mut self, q: &Query) -> Result<Vec<i64>, StoreError>;
    /// Runs a compiled `SELECT … AS res_type, … AS res_id`.
    fn addresses(&mut self, q: &Query) -> Result<Vec<(String, String)>, StoreError>;
    /// Runs a `SELECT … AS a, … AS b` of two text columns.
    fn pairs(&mut self, q: &Query) -> Result<Vec<(String, String)>, StoreError>;
    /// Runs a statement that returns no rows.
    fn execute(&mut self, q: &Query) -> Result<usize, StoreError>;
    /// A mark of everything committed so far: the same mark twice means nothing was
    /// committed in between (a different one may still mean nothing was). SQLite: the newest
    /// version key, as writers commit one at a time in key order and AUTOINCREMENT keys are
    /// never reused. PostgreSQL, where sequence keys come before commit and say nothing of
    /// its order: the current snapshot (`pg_current_snapshot()`). A commit either ends a
    /// transaction the last mark listed as running or raises its xmax (one past the newest
    /// completed transaction), so it changes the text; transactions anywhere in the cluster
    /// do too, which only costs a second look.
    fn change_mark(&mut self) -> Result<String, StoreError>;
}

#[derive(QueryableByName)]
struct HeadRow {
    #[diesel(sql_type = Text)]
    res_id: String,
    #[diesel(sql_type = BigInt)]
    pk: i64,
    #[diesel(sql_type = BigInt)]
    version_id: i64,
    #[diesel(sql_type = BigInt)]
    last_updated: i64,
    #[diesel(sql_type = Bool)]
    deleted: bool,
}

#[derive(QueryableByName)]
struct VersionRow {
    #[diesel(sql_type = BigInt)]
    seq: i64,
    #[diesel(sql_type = Text)]
    res_type: String,
    #[diesel(sql_type = Text)]
    res_id: String,
    #[diesel(sql_type = BigInt)]
    version_id: i64,
    #[diesel(sql_type = BigInt)]
    last_updated: i64,
    #[diesel(sql_type = Text)]
    method: String,
    #[diesel(sql_type = Nullable<Text>)]
    content: Option<String>,
}

impl From<VersionRow> for StoredVersion {
    fn from(r: VersionRow) -> Self {
        StoredVersion {
            seq: r.seq,
            res_type: r.res_type,
            res_id: r.res_id,
            version_id: r.version_id,
            last_updated: r.last_updated,
            method: r.method,
            content: r.content,
        }
    }
}

#[derive(QueryableByName)]
struct PkRow {
    #[diesel(sql_type = BigInt)]
    pk: i64,
}

#[derive(QueryableByName)]
struct KeyedRow {
    #[diesel(sql_type = BigInt)]
    pk: i64,
    #[diesel(sql_type = Text)]
    res_type: String,
    #[diesel(sql_type = Text)]
    res_id: String,
}

#[derive(QueryableByName)]
struct AddressRow {
    #[diesel(sql_type = Text)]
    res_type: String,
    #[diesel(sql_type = Text)]
    res_id: String,
}

#[derive(QueryableByName)]
struct PairRow {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = Text)]
    b: String,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Columns of [`StoredVersion`], selected from `resource_version v`.
pub const VERSION_COLUMNS: &str =
    "v.seq, v.res_type, v.res_id, v.version_id, v.last_updated, v.method, v.content";

const INDEX_TABLES: [&str; 9] = [
    "compartment_member",
    "idx_string",
    "idx_token",
    "idx_date",
    "idx_number",
    "idx_quantity",
    "idx_reference",
    "idx_uri",
    "idx_composite",
];

/// The statement kind (`Query::shaped`) of an index table's multi-row INSERT: 1 to 9.
fn shape_of(table: &str) -> u8 {
    INDEX_TABLES
        .iter()
        .position(|t| *t == table)
        .map_or(0, |i| i as u8 + 1)
}

const INSERT_VERSIONS: &str = "INSERT INTO resource_version (res_pk, res_type, res_id, version_id, last_updated, method, content) VALUES ";

/// Adds one version's row to an INSERT that starts with [`INSERT_VERSIONS`].
fn push_version<'a>(q: &mut Query<Arg<'a>>, v: &NewVersion<'a>) {
    q.push("(?, ?, ?, ?, ?, ?, ?)")
        .bind(Arg::Int(v.res_pk))
        .bind(Arg::Text(v.res_type))
        .bind(Arg::Text(v.res_id))
        .bind(Arg::Int(v.version_id))
        .bind(Arg::Int(v.last_updated))
        .bind(Arg::Text(v.method))
        .bind(Arg::OptText(v.content));
}

/// The statement kind of the multi-row INSERT of new resources' versions.
const VERSIONS_SHAPE: u8 = 10;
/// The statement kind of the multi-row INSERT of existing resources' next versions.
const NEXT_VERSIONS_SHAPE: u8 = 11;

/// An index table's row: its table, its columns after `res_pk, param, compartment`, and how
/// it binds them.
trait IndexRow {
    const TABLE: &'static str;
    const COLUMNS: &'static str;
    fn param(&self) -> i64;
    fn bind_columns<'a>(&'a self, q: &mut Query<Arg<'a>>);
}

fn text(s: &Option<String>) -> Arg<'_> {
    Arg::OptText(s.as_deref())
}

macro_rules! index_row {
    ($row:ty, $table:literal, $columns:literal, |$r:ident, $q:ident| $bind:expr) => {
        impl IndexRow for $row {
            const TABLE: &'static str = $table;
            const COLUMNS: &'static str = $columns;
            fn param(&self) -> i64 {
                self.param
            }
            fn bind_columns<'a>(&'a self, $q: &mut Query<Arg<'a>>) {
                let $r = self;
                $bind;
            }
        }
    };
}

index_row!(
    StringRow,
    "idx_string",
    "value_norm, value_exact",
    |r, q| q
        .bind(Arg::Text(&r.value_norm))
        .bind(Arg::Text(&r.value_exact))
);
index_row!(TokenRow, "idx_token", "system, code, text_norm", |r, q| q
    .bind(text(&r.system))
    .bind(text(&r.code))
    .bind(text(&r.text_norm)));
index_row!(DateRow, "idx_date", "low, high", |r, q| q
    .bind(Arg::Int(r.low))
    .bind(Arg::Int(r.high)));
index_row!(NumberRow, "idx_number", "value", |r, q| q
    .bind(Arg::Float(r.value)));
index_row!(
    QuantityRow,
    "idx_quantity",
    "system, code, unit, value",
    |r, q| q
        .bind(text(&r.system))
        .bind(text(&r.code))
        .bind(text(&r.unit))
        .bind(Arg::Float(r.value))
);
index_row!(
    ReferenceRow,
    "idx_reference",
    "target_type, target_id, url",
    |r, q| q
        .bind(text(&r.target_type))
        .bind(text(&r.target_id))
        .bind(text(&r.url))
);
index_row!(UriRow, "idx_uri", "value", |r, q| q
    .bind(Arg::Text(&r.value)));
index_row!(
    CompositeRow,
    "idx_composite",
    "code_system, code, value_system, value_code, number, date_low, date_high, text_norm",
    |r, q| q
        .bind(text(&r.code_system))
        .bind(text(&r.code))
        .bind(text(&r.value_system))
        .bind(text(&r.value_code))
        .bind(Arg::OptFloat(r.number))
        .bind(Arg::OptInt(r.date_low))
        .bind(Arg::OptInt(r.date_high))
        .bind(text(&r.text_norm))
);

/// Runs the multi-row INSERTs of one index table's rows: each row once per compartment of
/// its resource, its values bound straight from the row.
fn index_table<R: IndexRow>(
    run: &mut Run<'_>,
    items: &[(i64, &IndexRows)],
    rows_of: fn(&IndexRows) -> &[R],
) -> Result<(), StoreError> {
    let width = R::COLUMNS.split(',').count() + 3;
    let placeholders = format!("({})", vec!["?"; width].join(", "));
    let mut all: Vec<(i64, Option<&String>, &R)> = Vec::new();
    for (pk, rows) in items {
        let own = rows_of(rows);
        if rows.compartments.is_empty() {
            all.extend(own.iter().map(|r| (*pk, None, r)));
        } else {
            for c in &rows.compartments {
                all.extend(own.iter().map(|r| (*pk, Some(c), r)));
            }
        }
    }
    for chunk in pieces(&all) {
        let mut q = Query::shaped(
            format!(
                "INSERT INTO {} (res_pk, param, compartment, {}) VALUES ",
                R::TABLE,
                R::COLUMNS
            ),
            shape_of(R::TABLE),
            chunk.len(),
        );
        for (i, (pk, c, r)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push(&placeholders);
            q.bind(Arg::Int(*pk))
                .bind(Arg::Int(r.param()))
                .bind(Arg::OptText(c.map(String::as_str)));
            r.bind_columns(&mut q);
        }
        run(&q)?;
    }
    Ok(())
}

/// Runs one statement.
type Run<'a> = dyn FnMut(&Query<Arg<'_>>) -> Result<usize, StoreError> + 'a;

/// Runs multi-row INSERTs for every index row of the given resources (key, rows), each row
/// once per compartment of its resource. Each statement runs as soon as it is built: built
/// all first, an import batch's 180,000 rows held every bound value at once, in memory
/// fresh from the system.
fn index_inserts(run: &mut Run<'_>, items: &[(i64, &IndexRows)]) -> Result<(), StoreError> {
    index_table(run, items, |r| &r.strings)?;
    index_table(run, items, |r| &r.tokens)?;
    index_table(run, items, |r| &r.dates)?;
    index_table(run, items, |r| &r.numbers)?;
    index_table(run, items, |r| &r.quantities)?;
    index_table(run, items, |r| &r.references)?;
    index_table(run, items, |r| &r.uris)?;
    index_table(run, items, |r| &r.composites)?;
    let members: Vec<(i64, &String)> = items
        .iter()
        .flat_map(|(pk, rows)| rows.compartments.iter().map(move |c| (*pk, c)))
        .collect();
    for chunk in pieces(&members) {
        let mut q = Query::shaped(
            "INSERT INTO compartment_member (res_pk, compartment) VALUES ",
            shape_of("compartment_member"),
            chunk.len(),
        );
        for (i, (pk, c)) in chunk.iter().enumerate() {
            q.push(if i > 0 { ", (?, ?)" } else { "(?, ?)" });
            q.bind(Arg::Int(*pk)).bind(Arg::Text(c));
        }
        run(&q)?;
    }
    Ok(())
}

/// A head, version or index rows written under a key that names no resource: the store's own
/// mistake, never the client's.
fn no_resource(pk: i64) -> StoreError {
    StoreError::Internal(format!("no resource has the key {pk}"))
}

fn history_query(q: &HistoryQuery) -> Query {
    let mut s = Query::new(format!(
        "SELECT {VERSION_COLUMNS} FROM resource_version v WHERE 1 = 1"
    ));
    match (&q.res_type, &q.res_id) {
        // An instance's versions by its key (UNIQUE (res_pk, version_id)): few rows to sort.
        (Some(t), Some(id)) => {
            s.push(" AND v.res_pk = (SELECT pk FROM resource WHERE res_type = ? AND res_id = ?)")
                .bind(Bind::Text(t.clone()))
                .bind(Bind::Text(id.clone()));
        }
        (Some(t), None) => {
            s.push(" AND v.res_type = ?").bind(Bind::Text(t.clone()));
        }
        (None, Some(id)) => {
            s.push(" AND v.res_id = ?").bind(Bind::Text(id.clone()));
        }
        (None, None) => {}
    }
    if let Some(since) = q.since {
        s.push(" AND v.last_updated >= ?").bind(Bind::Int(since));
    }
    if let Some((start, end)) = q.at {
        // Current at some point in [start, end): created before the end, and not replaced by
        // its successor at or before the start.
        s.push(" AND v.last_updated < ? AND NOT EXISTS (SELECT 1 FROM resource_version n WHERE n.res_pk = v.res_pk AND n.version_id = v.version_id + 1 AND n.last_updated <= ?)")
            .bind(Bind::Int(end))
            .bind(Bind::Int(start));
    }
    if let Some(before) = q.before_seq {
        s.push(" AND v.seq < ?").bind(Bind::Int(before));
    }
    s.push(" ORDER BY v.seq DESC LIMIT ?")
        .bind(Bind::Int(q.limit));
    s
}

macro_rules! impl_tx {
    ($tx:ident, $conn:ty, lock = $lock:expr, mark = $mark:expr, foreign_keys_enforced = $enforced:expr) => {
        /// A connection of this backend; `write` says whether heads are read for update.
        pub struct $tx<'c> {
            pub conn: &'c mut $conn,
            pub write: bool,
        }

        impl $tx<'_> {
            fn exec<B: Bound>(&mut self, q: &Query<B>) -> Result<usize, StoreError> {
                Ok(run_statement!(q, &mut *self.conn)?)
            }

            /// Refuses a caller's resource key that names no resource, where the database
            /// does not check its foreign keys itself: once for a call's rows, not per row.
            fn require_resource(&mut self, pk: i64) -> Result<(), StoreError> {
                if $enforced {
                    return Ok(());
                }
                let mut q = Query::new("SELECT pk AS n FROM resource WHERE pk = ?");
                q.bind(Bind::Int(pk));
                if self.keys(&q)?.is_empty() {
                    return Err(no_resource(pk));
                }
                Ok(())
            }
        }

        impl Tx for $tx<'_> {
            fn head(&mut self, res_type: &str, res_id: &str) -> Result<Option<Head>, StoreError> {
                Ok(self.heads(res_type, &[res_id])?.into_values().next())
            }

            fn heads(
                &mut self,
                res_type: &str,
                res_ids: &[&str],
            ) -> Result<HashMap<String, Head>, StoreError> {
                let mut out = HashMap::with_capacity(res_ids.len());
                for piece in pieces(res_ids) {
                    let mut q = Query::reusable(
                        "SELECT res_id, pk, version_id, last_updated, deleted FROM resource WHERE res_type = ? AND res_id IN (",
                    );
                    q.bind(Bind::Text(res_type.into()));
                    for (i, id) in piece.iter().enumerate() {
                        q.push(if i == 0 { "?" } else { ", ?" })
                            .bind(Bind::Text((*id).into()));
                    }
                    q.push(") ORDER BY res_id");
                    if self.write {
                        q.push($lock);
                    }
                    let rows: Vec<HeadRow> = Statement(&q).load(self.conn)?;
                    out.extend(rows.into_iter().map(|r| {
                        let head = Head {
                            pk: r.pk,
                            version_id: r.version_id,
                            last_updated: r.last_updated,
                            deleted: r.deleted,
                        };
                        (r.res_id, head)
                    }));
                }
                Ok(out)
            }

            fn version(
                &mut self,
                res_type: &str,
                res_id: &str,
                version_id: Option<i64>,
            ) -> Result<Option<StoredVersion>, StoreError> {
                let mut q = Query::new(format!(
                    "SELECT {VERSION_COLUMNS} FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version_id = "
                ));
                match version_id {
                    Some(vid) => q.push("?").bind(Bind::Int(vid)),
                    None => q.push("r.version_id"),
                };
                q.push(" WHERE r.res_type = ? AND r.res_id = ?")
                    .bind(Bind::Text(res_type.into()))
                    .bind(Bind::Text(res_id.into()));
                let rows: Vec<VersionRow> = Statement(&q).load(self.conn)?;
                Ok(rows.into_iter().next().map(StoredVersion::from))
            }

            fn insert_head(
                &mut self,
                res_type: &str,
                res_id: &str,
                version_id: i64,
                last_updated: i64,
                deleted: bool,
            ) -> Result<i64, StoreError> {
                let mut q = Query::new(
                    "INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted) VALUES (?, ?, ?, ?, ?) RETURNING pk",
                );
                q.bind(Bind::Text(res_type.into()))
                    .bind(Bind::Text(res_id.into()))
                    .bind(Bind::Int(version_id))
                    .bind(Bind::Int(last_updated))
                    .bind(Bind::Bool(deleted));
                let rows: Vec<PkRow> = Statement(&q).load(self.conn)?;
                rows.into_iter()
                    .next()
                    .map(|r| r.pk)
                    .ok_or_else(|| StoreError::Internal("insert returned no key".into()))
            }

            fn update_head(&mut self, head: &Head) -> Result<(), StoreError> {
                let mut q = Query::new(
                    "UPDATE resource SET version_id = ?, last_updated = ?, deleted = ? WHERE pk = ?",
                );
                q.bind(Bind::Int(head.version_id))
                    .bind(Bind::Int(head.last_updated))
                    .bind(Bind::Bool(head.deleted))
                    .bind(Bind::Int(head.pk));
                // Versions and index rows follow under this key: it must name a resource.
                match self.exec(&q)? {
                    1 => Ok(()),
                    _ => Err(no_resource(head.pk)),
                }
            }

            fn append_version(&mut self, v: &NewVersion<'_>) -> Result<(), StoreError> {
                self.require_resource(v.res_pk)?;
                let mut q = Query::shaped(INSERT_VERSIONS, NEXT_VERSIONS_SHAPE, 1);
                push_version(&mut q, v);
                self.exec(&q).map(|_| ())
            }

            fn replace_index(&mut self, res_pk: i64, rows: &IndexRows, fresh: bool) -> Result<(), StoreError> {
                self.require_resource(res_pk)?;
                // A resource written for the first time has no rows to remove.
                for table in INDEX_TABLES.iter().filter(|_| !fresh) {
                    let mut del = Query::new(format!("DELETE FROM {table} WHERE res_pk = ?"));
                    del.bind(Bind::Int(res_pk));
                    self.exec(&del)?;
                }
                index_inserts(&mut |q| self.exec(q), &[(res_pk, rows)])
            }

            fn update_many(&mut self, items: &[(NewVersion<'_>, &IndexRows)]) -> Result<(), StoreError> {
                for (v, _) in items {
                    self.update_head(&Head {
                        pk: v.res_pk,
                        version_id: v.version_id,
                        last_updated: v.last_updated,
                        deleted: v.content.is_none(),
                    })?;
                }
                for chunk in pieces(items) {
                    let mut q = Query::shaped(INSERT_VERSIONS, NEXT_VERSIONS_SHAPE, chunk.len());
                    for (i, (v, _)) in chunk.iter().enumerate() {
                        if i > 0 {
                            q.push(", ");
                        }
                        push_version(&mut q, v);
                    }
                    self.exec(&q)?;
                }
                for table in INDEX_TABLES {
                    for chunk in pieces(items) {
                        let mut del = Query::reusable(format!("DELETE FROM {table} WHERE res_pk IN ("));
                        for (i, (v, _)) in chunk.iter().enumerate() {
                            del.push(if i > 0 { ", ?" } else { "?" }).bind(Bind::Int(v.res_pk));
                        }
                        del.push(")");
                        self.exec(&del)?;
                    }
                }
                let pairs: Vec<(i64, &IndexRows)> = items.iter().map(|(v, r)| (v.res_pk, *r)).collect();
                index_inserts(&mut |q| self.exec(q), &pairs)
            }

            fn insert_many(&mut self, items: &[NewResource<'_>]) -> Result<Vec<i64>, StoreError> {
                let mut keys: std::collections::HashMap<(String, String), i64> =
                    std::collections::HashMap::with_capacity(items.len());
                for chunk in pieces(items) {
                    let mut q = Query::reusable(
                        "INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted) VALUES ",
                    );
                    for (i, r) in chunk.iter().enumerate() {
                        q.push(if i > 0 { ", (?, ?, 1, ?, ?)" } else { "(?, ?, 1, ?, ?)" });
                        q.bind(Bind::Text(r.res_type.into()))
                            .bind(Bind::Text(r.res_id.into()))
                            .bind(Bind::Int(r.last_updated))
                            .bind(Bind::Bool(false));
                    }
                    // RETURNING rows come in no promised order: match them by address.
                    q.push(" RETURNING pk, res_type, res_id");
                    let rows: Vec<KeyedRow> = Statement(&q).load(self.conn)?;
                    keys.extend(rows.into_iter().map(|r| ((r.res_type, r.res_id), r.pk)));
                }
                let pks = items
                    .iter()
                    .map(|r| {
                        keys.get(&(r.res_type.to_string(), r.res_id.to_string()))
                            .copied()
                            .ok_or_else(|| StoreError::Internal("insert returned no key".into()))
                    })
                    .collect::<Result<Vec<i64>, _>>()?;
                for (chunk, pk_chunk) in pieces(items).zip(pieces(&pks)) {
                    let mut q = Query::shaped(INSERT_VERSIONS, VERSIONS_SHAPE, chunk.len());
                    for (i, (r, pk)) in chunk.iter().zip(pk_chunk).enumerate() {
                        q.push(if i > 0 { ", (?, ?, ?, 1, ?, ?, ?)" } else { "(?, ?, ?, 1, ?, ?, ?)" });
                        q.bind(Arg::Int(*pk))
                            .bind(Arg::Text(r.res_type))
                            .bind(Arg::Text(r.res_id))
                            .bind(Arg::Int(r.last_updated))
                            .bind(Arg::Text(r.method))
                            .bind(Arg::Text(r.content));
                    }
                    self.exec(&q)?;
                }
                // Every key here came back from the INSERT above: it names a resource.
                let pairs: Vec<(i64, &IndexRows)> =
                    pks.iter().copied().zip(items.iter().map(|r| r.rows)).collect();
                index_inserts(&mut |q| self.exec(q), &pairs)?;
                Ok(pks)
            }

            fn history(&mut self, q: &HistoryQuery) -> Result<Vec<StoredVersion>, StoreError> {
                self.search(&history_query(q))
            }

            fn search(&mut self, q: &Query) -> Result<Vec<StoredVersion>, StoreError> {
                let rows: Vec<VersionRow> = Statement(q).load(self.conn)?;
                Ok(rows.into_iter().map(StoredVersion::from).collect())
            }

            fn keys(&mut self, q: &Query) -> Result<Vec<i64>, StoreError> {
                let rows: Vec<CountRow> = Statement(q).load(self.conn)?;
                Ok(rows.into_iter().map(|r| r.n).collect())
            }

            fn addresses(&mut self, q: &Query) -> Result<Vec<(String, String)>, StoreError> {
                let rows: Vec<AddressRow> = Statement(q).load(self.conn)?;
                Ok(rows.into_iter().map(|r| (r.res_type, r.res_id)).collect())
            }

            fn pairs(&mut self, q: &Query) -> Result<Vec<(String, String)>, StoreError> {
                let rows: Vec<PairRow> = Statement(q).load(self.conn)?;
                Ok(rows.into_iter().map(|r| (r.a, r.b)).collect())
            }

            fn execute(&mut self, q: &Query) -> Result<usize, StoreError> {
                self.exec(q)
            }

            fn count(&mut self, q: &Query) -> Result<i64, StoreError> {
                let rows: Vec<CountRow> = Statement(q).load(self.conn)?;
                Ok(rows.into_iter().next().map(|r| r.n).unwrap_or(0))
            }

            fn change_mark(&mut self) -> Result<String, StoreError> {
                let q = Query::new($mark);
                Ok(self.pairs(&q)?.into_iter().next().map_or_else(String::new, |p| p.0))
            }
        }
    };
}

impl_tx!(
    SqliteTx,
    SqliteConnection,
    // SQLite has no row locks; `Store::write` holds the database write lock instead.
    lock = "",
    // A seek to the last key (MAX() under COALESCE would scan the table).
    mark = "SELECT CAST(seq AS TEXT) AS a, '' AS b FROM resource_version ORDER BY seq DESC LIMIT 1",
    // Not by the writer (`backend.rs`): the statements that take a caller's key check it.
    foreign_keys_enforced = false
);
impl_tx!(
    PgTx,
    PgConnection,
    lock = " FOR UPDATE",
    mark = "SELECT pg_current_snapshot()::text AS a, '' AS b",
    foreign_keys_enforced = true
);
