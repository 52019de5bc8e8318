//! A statement with bound values, written once with `?` placeholders for both databases.
//! Values are always bound, never spliced into the text.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query as DieselQuery, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Double, Nullable, Text, Untyped};
use diesel::sqlite::Sqlite;
use diesel::{QueryResult, RunQueryDsl};

#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    OptText(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    OptFloat(Option<f64>),
    Bool(bool),
}

/// A value bound by reference: the rows of the writer's multi-row INSERTs, bound straight
/// from the resources and index rows they come from. Bound as owned [`Bind`]s, an import
/// batch's 180,000 index rows cost a copy of every string in them, and the writer's
/// allocations for those copies were a tenth of its time (README, Performance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Float(f64),
    OptFloat(Option<f64>),
    Bool(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query<B = Bind> {
    pub sql: String,
    pub binds: Vec<B>,
    /// Cache the prepared statement however many values it binds: a multi-row INSERT cut
    /// into [`pieces`] has few distinct texts, and compiling one anew costs SQLite more than
    /// running it.
    pub reusable: bool,
    /// Set for a statement whose text is fixed by (kind, rows): see [`Shaped`].
    pub shape: Option<(u8, u8)>,
}

impl Query {
    pub fn new(sql: impl Into<String>) -> Query {
        Query {
            sql: sql.into(),
            binds: Vec::new(),
            reusable: false,
            shape: None,
        }
    }

    /// A statement whose text repeats, whatever it binds (see `reusable`).
    pub fn reusable(sql: impl Into<String>) -> Query {
        Query {
            reusable: true,
            ..Query::new(sql)
        }
    }

    /// A multi-row statement of one of the fixed texts [`Shaped`] keys: `kind` names the
    /// statement (its table and columns), `rows` how many rows it holds. Two statements of
    /// the same kind and rows must have the same text. Its values are bound by reference.
    pub fn shaped<'a>(sql: impl Into<String>, kind: u8, rows: usize) -> Query<Arg<'a>> {
        Query {
            sql: sql.into(),
            binds: Vec::new(),
            reusable: true,
            shape: u8::try_from(rows).ok().map(|r| (kind, r)),
        }
    }
}

impl<B> Query<B> {
    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn bind(&mut self, b: B) -> &mut Self {
        self.binds.push(b);
        self
    }
}

/// A [`Query`] as diesel runs it. diesel never caches the prepared statements of `sql_query`;
/// this wrapper lets it cache them by SQL text, which saves SQLite a statement compile on every
/// request. Each `?` in the text becomes the backend's placeholder (`?` or `$n`), so the
/// statements this crate builds hold no `?` except placeholders (every value is bound).
pub struct Statement<'q, B = Bind>(pub &'q Query<B>);

impl<B> QueryId for Statement<'_, B> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<B> DieselQuery for Statement<'_, B> {
    type SqlType = Untyped;
}

impl<Conn, B> RunQueryDsl<Conn> for Statement<'_, B> {}

/// A statement diesel caches by type rather than by text: for any other statement it builds
/// the text and hashes it with every bound value's type each time it runs, which for a
/// 100-row INSERT cost more than binding its values. `KIND` and `ROWS` come from
/// [`Query::shaped`]; [`Shaped::check`] holds them to one text each in debug builds.
pub struct Shaped<'q, B, const KIND: u8, const ROWS: u8>(pub &'q Query<B>);

/// The cache key of a [`Shaped`] statement.
pub struct Shape<const KIND: u8, const ROWS: u8>;

impl<B, const KIND: u8, const ROWS: u8> QueryId for Shaped<'_, B, KIND, ROWS> {
    type QueryId = Shape<KIND, ROWS>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<B, const KIND: u8, const ROWS: u8> DieselQuery for Shaped<'_, B, KIND, ROWS> {
    type SqlType = Untyped;
}

impl<Conn, B, const KIND: u8, const ROWS: u8> RunQueryDsl<Conn> for Shaped<'_, B, KIND, ROWS> {}

impl<B, const KIND: u8, const ROWS: u8> Shaped<'_, B, KIND, ROWS> {
    /// In debug builds (every test), that no two texts share a shape: one would run the
    /// other's prepared statement.
    pub fn check(&self) {
        #[cfg(debug_assertions)]
        {
            use std::collections::HashMap;
            use std::sync::Mutex;
            static SEEN: Mutex<Option<HashMap<(u8, u8), String>>> = Mutex::new(None);
            let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
            let text = seen
                .get_or_insert_with(HashMap::new)
                .entry((KIND, ROWS))
                .or_insert_with(|| self.0.sql.clone());
            assert_eq!(*text, self.0.sql, "two statements of shape {KIND}/{ROWS}");
        }
    }
}

/// Runs a statement: a [`Shaped`] one of its shape when it has one (the shapes are the
/// row counts `pieces` makes, for statement kinds 1 to 12), else a [`Statement`].
macro_rules! run_statement {
    ($q:expr, $conn:expr) => {
        $crate::store::sql::run_statement!(@kinds $q, $conn, 1 2 3 4 5 6 7 8 9 10 11 12)
    };
    (@kinds $q:expr, $conn:expr, $($k:literal)*) => {{
        use diesel::RunQueryDsl as _;
        use $crate::store::sql::{Shaped, Statement};
        match $q.shape {
            $(Some(($k, r)) => {
                $crate::store::sql::run_statement!(@rows $q, $conn, $k, r, 250 128 64 32 16 8 4 2 1)
            })*
            _ => Statement($q).execute($conn),
        }
    }};
    (@rows $q:expr, $conn:expr, $k:literal, $r:expr, $($n:literal)*) => {
        match $r {
            $($n => {
                let s = Shaped::<_, $k, $n>($q);
                s.check();
                s.execute($conn)
            })*
            _ => Statement($q).execute($conn),
        }
    };
}

pub(crate) use run_statement;

/// Statements with long IN lists vary too much to be worth a cache slot each.
const MAX_CACHED_BINDS: usize = 32;

/// Rows per multi-row statement: well under both databases' limits on bound values (at
/// most 2,750, for 250 composite index rows; SQLite takes 32,766 and PostgreSQL 65,535).
/// 250 rather than 100: a PostgreSQL import of new rows 3,697-3,795 -> 4,065-4,090 rows/s,
/// where each statement is a round trip (README, Imports).
pub const PIECE: usize = 250;

// `run_statement!` lists the lengths `pieces` makes (250, 128, …, 1) as the row counts of
// its cached statements, and a shape's row count is a u8: a length missing from that list
// would run uncached, unnoticed. Changing PIECE means changing the list with it.
const _: () = assert!(
    PIECE == 250,
    "PIECE changed: update run_statement!'s lengths"
);

/// Cuts rows for multi-row statements into runs of [`PIECE`] and then of falling powers of
/// two (128, 64, …, 1), so that one table's INSERTs come in at most nine lengths, and so at
/// most nine statement texts, each prepared once and cached.
pub fn pieces<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        if rows.is_empty() {
            return None;
        }
        let n = if rows.len() >= PIECE {
            PIECE
        } else {
            1 << rows.len().ilog2()
        };
        let (piece, rest) = rows.split_at(n);
        rows = rest;
        Some(piece)
    })
}

/// A bound value of either kind, pushed onto each backend's statement.
pub trait Bound {
    fn push_sqlite<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()>;
    fn push_pg<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

/// [`Bound`] for a bind enum: `$text` and `$opt` are the Rust types its text variants bind as.
macro_rules! bound_for {
    ($bind:ty, $text:ty, $opt:ty) => {
        impl Bound for $bind {
            fn push_sqlite<'b>(&'b self, out: &mut AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
                bound_for!(@push self, out, $text, $opt)
            }
            fn push_pg<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
                bound_for!(@push self, out, $text, $opt)
            }
        }
    };
    (@push $self:ident, $out:ident, $text:ty, $opt:ty) => {
        match $self {
            Self::Text(s) => $out.push_bind_param::<Text, $text>(s),
            Self::OptText(s) => $out.push_bind_param::<Nullable<Text>, $opt>(s),
            Self::Int(i) => $out.push_bind_param::<BigInt, i64>(i),
            Self::OptInt(i) => $out.push_bind_param::<Nullable<BigInt>, Option<i64>>(i),
            Self::Float(f) => $out.push_bind_param::<Double, f64>(f),
            Self::OptFloat(f) => $out.push_bind_param::<Nullable<Double>, Option<f64>>(f),
            Self::Bool(b) => $out.push_bind_param::<Bool, bool>(b),
        }
    };
}

bound_for!(Bind, String, Option<String>);
bound_for!(Arg<'_>, &str, Option<&str>);

macro_rules! statement_for {
    ($backend:ty, $insert:literal, $push:ident) => {
        impl<B: Bound, const KIND: u8, const ROWS: u8> QueryFragment<$backend>
            for Shaped<'_, B, KIND, ROWS>
        {
            fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                walk(self.0, out)
            }
        }

        impl<B: Bound> QueryFragment<$backend> for Statement<'_, B> {
            fn walk_ast<'b>(&'b self, out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                walk(self.0, out)
            }
        }

        fn walk<'b, B: Bound>(
            q: &'b Query<B>,
            mut out: AstPass<'_, 'b, $backend>,
        ) -> QueryResult<()> {
            if q.binds.len() > MAX_CACHED_BINDS && !q.reusable {
                out.unsafe_to_cache_prepared();
            }
            let sql = match q.sql.strip_prefix("INSERT INTO ") {
                Some(rest) => {
                    out.push_sql($insert);
                    rest
                }
                None => &q.sql,
            };
            // Text and binds interleave at each `?`. diesel walks a statement two or three
            // times each run; a byte loop finds the 400 placeholders of a 100-row INSERT in a
            // fraction of what `split('?')` took (a memchr call for every gap of three bytes).
            let mut binds = q.binds.iter();
            let mut start = 0;
            for (at, byte) in sql.bytes().enumerate() {
                if byte != b'?' {
                    continue;
                }
                out.push_sql(&sql[start..at]);
                start = at + 1;
                let Some(bind) = binds.next() else {
                    return Ok(());
                };
                bind.$push(&mut out)?;
            }
            out.push_sql(&sql[start..]);
            Ok(())
        }
    };
}

/// SQLite's INSERTs stop at a failing row and keep the rows before it (OR FAIL) rather than
/// undo themselves (ABORT): a write that fails is undone whole anyway, by its group-commit
/// SAVEPOINT or, first in its batch, by ROLLBACK, and
/// an ABORT statement that writes many rows keeps a statement journal to undo itself, a
/// temporary file as large as the pages it changes (the deferred foreign keys of migration
/// 2026-11-23-000005 are its other half).
mod sqlite_walk {
    use super::*;
    statement_for!(Sqlite, "INSERT OR FAIL INTO ", push_sqlite);
}

mod pg_walk {
    use super::*;
    statement_for!(Pg, "INSERT INTO ", push_pg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::debug_query;

    #[test]
    fn placeholders_become_the_backends_own() {
        let mut q = Query::new("a = ? AND b IN (?, ?)");
        q.bind(Bind::Int(1))
            .bind(Bind::Text("x".into()))
            .bind(Bind::Bool(true));
        let pg = debug_query::<Pg, _>(&Statement(&q)).to_string();
        assert!(pg.starts_with("a = $1 AND b IN ($2, $3)"), "{pg}");
        let lite = debug_query::<Sqlite, _>(&Statement(&q)).to_string();
        assert!(lite.starts_with("a = ? AND b IN (?, ?)"), "{lite}");
    }

    #[test]
    fn text_at_either_end_of_the_placeholders_is_kept() {
        let mut q = Query::new("? = a OR (b, c) = (?, ?)");
        q.bind(Bind::Int(1)).bind(Bind::Int(2)).bind(Bind::Int(3));
        let pg = debug_query::<Pg, _>(&Statement(&q)).to_string();
        assert!(pg.starts_with("$1 = a OR (b, c) = ($2, $3) --"), "{pg}");
        let plain = Query::new("SELECT 1");
        let lite = debug_query::<Sqlite, _>(&Statement(&plain)).to_string();
        assert!(lite.starts_with("SELECT 1 --"), "{lite}");
    }

    #[test]
    fn sqlite_inserts_fail_rather_than_abort() {
        let mut q = Query::new("INSERT INTO t (a) VALUES (?), (?)");
        q.bind(Bind::Int(1)).bind(Bind::Int(2));
        let lite = debug_query::<Sqlite, _>(&Statement(&q)).to_string();
        assert!(
            lite.starts_with("INSERT OR FAIL INTO t (a) VALUES (?), (?)"),
            "{lite}"
        );
        let pg = debug_query::<Pg, _>(&Statement(&q)).to_string();
        assert!(
            pg.starts_with("INSERT INTO t (a) VALUES ($1), ($2)"),
            "{pg}"
        );
    }

    #[test]
    fn borrowed_values_bind_as_owned_ones_do() {
        let (text, none) = ("x".to_string(), None::<&str>);
        let mut q = Query::shaped("INSERT INTO t (a, b, c) VALUES (?, ?, ?)", 251, 1);
        q.bind(Arg::Text(&text))
            .bind(Arg::OptText(none))
            .bind(Arg::Int(3));
        let lite = debug_query::<Sqlite, _>(&Statement(&q)).to_string();
        assert!(
            lite.starts_with(
                "INSERT OR FAIL INTO t (a, b, c) VALUES (?, ?, ?) -- binds: [\"x\", None, 3]"
            ),
            "{lite}"
        );
        let pg = debug_query::<Pg, _>(&Statement(&q)).to_string();
        assert!(
            pg.contains("VALUES ($1, $2, $3) -- binds: [\"x\", None, 3]"),
            "{pg}"
        );
    }

    #[test]
    #[should_panic(expected = "two statements of shape 250/3")]
    fn a_shape_holds_one_text() {
        let a = Query::shaped("INSERT INTO a (x) VALUES (?), (?), (?)", 250, 3);
        Shaped::<_, 250, 3>(&a).check();
        Shaped::<_, 250, 3>(&a).check();
        let b = Query::shaped("INSERT INTO b (x) VALUES (?), (?), (?)", 250, 3);
        Shaped::<_, 250, 3>(&b).check();
    }

    #[test]
    fn pieces_cover_every_row_once_in_few_lengths() {
        for n in [0, 1, 2, 3, 7, 99, 100, 101, 163, 250, 1000] {
            let rows: Vec<usize> = (0..n).collect();
            let cut: Vec<&[usize]> = pieces(&rows).collect();
            assert_eq!(cut.concat(), rows, "{n} rows");
            assert!(
                cut.iter()
                    .all(|p| p.len() == PIECE || p.len().is_power_of_two() && p.len() < PIECE),
                "{n} rows: {:?}",
                cut.iter().map(|p| p.len()).collect::<Vec<_>>()
            );
        }
        let lengths: std::collections::HashSet<usize> = (0..=PIECE)
            .flat_map(|n| pieces(&vec![0; n]).map(<[i32]>::len).collect::<Vec<_>>())
            .collect();
        assert_eq!(lengths.len(), 9, "{lengths:?}");
    }
}
