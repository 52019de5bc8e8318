//! FHIR model glue over stored JSON: the R4 element table, structural validation,
//! OperationOutcome, JSON/XML formats and the `_summary`/`_elements` views.
//!
//! Everything past the HTTP edge works on `serde_json::Value` (numbers kept as written, keys in
//! order); fhirbolt is used only through the `fhir-model` crate, to check and convert at the edge.

pub mod elements;
pub mod format;
pub mod json;
#[cfg(test)]
mod model_agreement;
pub mod outcome;
pub mod primitive;
pub mod resource_id;
pub mod summary;
pub mod validate;

pub use outcome::{Issue, IssueType, Severity};
pub use resource_id::{ResourceId, ResourceType, VersionId};
