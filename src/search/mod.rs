//! Search: a FHIR query string parsed into a typed plan, compiled to one SQL statement with the
//! access predicate ANDed in, and the index rows that make it an index seek.
//! (hl7.org/fhir/R4/search.html)
//!
//! So far the plan covers `_id` and `identifier` (enough for conditional interactions and
//! lookups by NHS number), with `_count` and cursor paging.

mod access;
mod compile;
mod extract;
pub mod fhirpath;
mod hash;
mod normalize;
pub mod params;
mod parse;

pub use access::Access;
pub use compile::{compile_count, compile_page};
pub use extract::index_rows;
pub use hash::param_hash;
pub use parse::{parse_conditional, parse_search, Clause, SearchPlan, TokenValue};

/// Why a query cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("unknown or unsupported search parameter '{0}'")]
    UnknownParameter(String),
    #[error("invalid value for search parameter '{param}': {reason}")]
    InvalidValue { param: String, reason: String },
}

impl SearchError {
    /// The parameter concerned, for OperationOutcome.issue.expression.
    pub fn parameter(&self) -> &str {
        match self {
            SearchError::UnknownParameter(p) => p,
            SearchError::InvalidValue { param, .. } => param,
        }
    }
}
