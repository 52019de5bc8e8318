//! Search: a FHIR query string parsed into a typed plan, compiled to one SQL statement with the
//! access predicate ANDed in, and the index rows that make it an index seek.
//! (hl7.org/fhir/R4/search.html)
//!
//! Parameters come from HL7's R4 SearchParameter definitions (`params`), values are
//! extracted by a FHIRPath subset (`fhirpath`, `extract`), and queries are parsed (`parse`,
//! `value`) and compiled to SQL (`compile`).

mod access;
mod compile;
mod everything;
mod execute;
mod extract;
pub mod fhirpath;
mod hash;
mod normalize;
pub mod params;
mod parse;
mod reindex;
mod token_lookup;
mod value;

pub use access::Access;
pub use compile::{
    compile_by_ids, compile_by_keys, compile_count, compile_keys, compile_page,
    compile_referencing, compile_snapshot_page, compile_targets, in_list,
};
pub use everything::{everything, Everything, Page, Record};
pub use execute::{run, run_in, NextPage, SearchResult};
pub use extract::index_rows;
pub use hash::param_hash;
pub use parse::{
    parse_conditional, parse_search, Clause, Include, SearchPlan, Total, DEFAULT_COUNT, MAX_COUNT,
    MAX_ITERATE, SYSTEM,
};
pub use reindex::{load_custom_parameters, reindex};
pub use token_lookup::{current_versions, single_token, token_matches};

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
