//! Storage: the current head of every resource, its immutable versions, and the search index
//! rows, on SQLite (embedded default) or PostgreSQL (production), chosen by the database URL.
//!
//! Everything above this module works through [`Store`] and the [`Tx`] trait and never knows
//! which database runs. Every write is one database transaction: the head, the new version and
//! the index rows commit together or not at all.

mod backend;
mod checkpoint;
mod error;
mod floor;
mod group_commit;
mod sql;
mod statistics;
mod tx;

pub use backend::Store;
pub use error::{Retryable, StoreError};
pub use floor::{copy_sqlite_rows, Copied};
pub use sql::{pieces, Bind, Query};
pub use tx::Tx;

/// How a write transaction isolates itself. SQLite runs one writer at a time anyway. On
/// PostgreSQL, writes decided by a search (conditional create, update, patch, delete, and
/// transactions with conditions) first take one transaction-scoped advisory lock, so they
/// run one at a time and two concurrent conditional creates cannot both see "no match".
/// (SERIALIZABLE did the same by failing one of them, which under steady concurrent
/// upserts failed requests even after retries.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    Plain,
    Conditional,
}

/// The head row of a resource: which version is current and whether it is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub pk: i64,
    pub version_id: i64,
    pub last_updated: i64,
    pub deleted: bool,
}

/// One stored version. `content` is the resource JSON exactly as served; `None` for a delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredVersion {
    pub seq: i64,
    pub res_type: String,
    pub res_id: String,
    pub version_id: i64,
    pub last_updated: i64,
    pub method: String,
    pub content: Option<String>,
}

/// A version to append.
#[derive(Debug, Clone)]
pub struct NewVersion<'a> {
    pub res_pk: i64,
    pub res_type: &'a str,
    pub res_id: &'a str,
    pub version_id: i64,
    pub last_updated: i64,
    pub method: &'a str,
    pub content: Option<&'a str>,
}

/// The first version of a new resource, written with others in one batch.
#[derive(Debug, Clone)]
pub struct NewResource<'a> {
    pub res_type: &'a str,
    pub res_id: &'a str,
    pub last_updated: i64,
    pub method: &'a str,
    pub content: &'a str,
    pub rows: &'a IndexRows,
}

/// Everything the index tables hold for one resource. Each row is written once for every
/// patient compartment the resource is in (once with no compartment when it is in none), so
/// patient-scoped searches are index seeks on (param, compartment, value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexRows {
    pub compartments: Vec<String>,
    pub strings: Vec<StringRow>,
    pub tokens: Vec<TokenRow>,
    pub dates: Vec<DateRow>,
    pub numbers: Vec<NumberRow>,
    pub quantities: Vec<QuantityRow>,
    pub references: Vec<ReferenceRow>,
    pub uris: Vec<UriRow>,
    pub composites: Vec<CompositeRow>,
}

/// `param` in every row is the 64-bit hash of (resource type, parameter code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringRow {
    pub param: i64,
    /// Lower case without accents, for the default starts-with and `:contains` matches.
    pub value_norm: String,
    pub value_exact: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub param: i64,
    pub system: Option<String>,
    pub code: Option<String>,
    /// Display or text, normalised, for `:text`.
    pub text_norm: Option<String>,
}

/// The instants a value covers, [low, high) in µs since the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateRow {
    pub param: i64,
    pub low: i64,
    pub high: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NumberRow {
    pub param: i64,
    pub value: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuantityRow {
    pub param: i64,
    pub system: Option<String>,
    pub code: Option<String>,
    pub unit: Option<String>,
    pub value: f64,
}

/// A reference: `target_type`/`target_id` for a resolvable reference, `url` for an absolute
/// or canonical one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReferenceRow {
    pub param: i64,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UriRow {
    pub param: i64,
    pub value: String,
}

/// A composite's first component (a code) with its second (a code, quantity, date or string).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompositeRow {
    pub param: i64,
    pub code_system: Option<String>,
    pub code: Option<String>,
    pub value_system: Option<String>,
    pub value_code: Option<String>,
    pub number: Option<f64>,
    pub date_low: Option<i64>,
    pub date_high: Option<i64>,
    pub text_norm: Option<String>,
}

/// Which history to list (hl7.org/fhir/R4/http.html#history).
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub res_type: Option<String>,
    pub res_id: Option<String>,
    /// Only versions created at or after this time (µs).
    pub since: Option<i64>,
    /// Only versions current at some point in [start, end) (µs).
    pub at: Option<(i64, i64)>,
    /// Only versions older than this position (the paging cursor).
    pub before_seq: Option<i64>,
    pub limit: i64,
}
