//! Storage: the current head of every resource, its immutable versions, and the search index
//! rows, on SQLite (embedded default) or PostgreSQL (production), chosen by the database URL.
//!
//! Everything above this module works through [`Store`] and the [`Tx`] trait and never knows
//! which database runs. Every write is one database transaction: the head, the new version and
//! the index rows commit together or not at all.

mod backend;
mod error;
mod sql;
mod tx;

pub use backend::Store;
pub use error::{Retryable, StoreError};
pub use sql::{Bind, Query};
pub use tx::Tx;

/// How a write transaction isolates itself. SQLite always takes the write lock up front;
/// PostgreSQL runs `Serializable` for writes decided by a search (conditional create, update,
/// delete), so two concurrent conditional creates cannot both see "no match".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    Plain,
    Serializable,
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

/// One token index row (system|code) of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    pub param: i64,
    pub system: Option<String>,
    pub code: Option<String>,
    pub compartment: Option<String>,
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
