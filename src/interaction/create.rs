//! create (http.html#create) and conditional create (If-None-Exist).

use super::conditional::{resolve_one, Matches};
use super::incoming::Incoming;
use super::version::write_version;
use super::{InteractionError, Written};
use crate::fhir::ResourceId;
use crate::search::{Access, SearchPlan};
use crate::store::{StoredVersion, Tx};

pub enum Created {
    New(Written),
    /// If-None-Exist matched one resource: nothing was written.
    Existing(StoredVersion),
}

/// Creates a resource with a new server-assigned id. The client's id, if any, is ignored.
pub fn create(
    tx: &mut dyn Tx,
    res_type: &str,
    incoming: &Incoming,
    if_none_exist: Option<&SearchPlan>,
) -> Result<Created, InteractionError> {
    if let Some(plan) = if_none_exist {
        match resolve_one(tx, plan, &Access::Unrestricted)? {
            Matches::None => {}
            Matches::One(existing) => return Ok(Created::Existing(existing)),
            Matches::Many => {
                return Err(InteractionError::MultipleMatches(
                    "If-None-Exist matched more than one resource".into(),
                ))
            }
        }
    }
    insert(tx, res_type, &ResourceId::generate(), incoming).map(Created::New)
}

/// Writes the first version of a resource under an id the server chose (a transaction bundle
/// chooses ids before it runs, so its references can be rewritten first).
pub fn insert(
    tx: &mut dyn Tx,
    res_type: &str,
    id: &ResourceId,
    incoming: &Incoming,
) -> Result<Written, InteractionError> {
    write_version(tx, res_type, id.as_str(), None, Some(incoming), "POST")
}
