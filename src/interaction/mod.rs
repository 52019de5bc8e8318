//! The write interactions' semantics, as hl7.org/fhir/R4/http.html defines them: create,
//! update (with update-as-create), delete, and their conditional forms. Each runs inside a
//! store transaction handed in by the caller, so the REST handlers and (later) transaction
//! bundles share one implementation.

mod conditional;
mod create;
mod delete;
mod error;
mod incoming;
mod patch;
mod stamp;
mod update;
mod version;

pub use conditional::{
    conditional_delete, conditional_update, resolve_one, token_finds, update_matched, Matches,
};
pub use create::{create, insert, insert_many, Created};
pub use delete::{delete, Deleted};
pub use error::InteractionError;
pub use incoming::Incoming;
pub use patch::{conditional_patch, patch};
pub use stamp::{format_instant, now_micros, parse_instant_range};
pub use update::{decide, unchanged, update, Next, Updated};
pub use version::{as_new, next_version, write_version};

use crate::store::StoredVersion;

/// What a write left as the current version.
#[derive(Debug, Clone)]
pub struct Written {
    pub version: StoredVersion,
    /// `true` when the interaction made the resource exist (201 Created).
    pub created: bool,
    /// `false` when the content was identical and no new version was written.
    pub changed: bool,
}
