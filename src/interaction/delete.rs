//! delete (http.html#delete): writes a tombstone version; a later read answers 410 Gone.

use super::version::write_version;
use super::InteractionError;
use crate::store::{StoredVersion, Tx};

pub struct Deleted {
    /// The tombstone version, when something was deleted.
    pub tombstone: Option<StoredVersion>,
}

/// Deletes a resource. Deleting what does not exist, or is already deleted, succeeds and
/// writes nothing, as the specification allows.
pub fn delete(tx: &mut dyn Tx, res_type: &str, res_id: &str) -> Result<Deleted, InteractionError> {
    let Some(head) = tx.head(res_type, res_id)?.filter(|h| !h.deleted) else {
        return Ok(Deleted { tombstone: None });
    };
    let w = write_version(tx, res_type, res_id, Some(&head), None, "DELETE")?;
    Ok(Deleted {
        tombstone: Some(w.version),
    })
}
