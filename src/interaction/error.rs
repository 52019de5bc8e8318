//! What can go wrong in a write interaction, by meaning.

use crate::fhir::Issue;
use crate::search::SearchError;
use crate::store::{Retryable, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum InteractionError {
    #[error("the resource is not valid")]
    Invalid(Vec<Issue>),
    /// Well-formed, but the server cannot process it here: a patch that does not apply or
    /// yields an invalid resource, a resource that breaks a profile it must meet (422).
    #[error("the request cannot be processed")]
    Unprocessable(Vec<Issue>),
    #[error("{0}")]
    BadRequest(String),
    #[error("resource {0} is not known")]
    NotFound(String),
    #[error("resource {0} has been deleted")]
    Gone(String),
    /// If-Match named another version than the current one.
    #[error("version conflict: {0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    MultipleMatches(String),
    #[error(transparent)]
    Search(#[from] SearchError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Retryable for InteractionError {
    fn is_retryable(&self) -> bool {
        matches!(self, InteractionError::Store(e) if e.is_retryable())
    }
}
