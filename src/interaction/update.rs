//! update (http.html#update), update-as-create with a client-chosen id, and version-aware
//! update (If-Match).

use serde_json::Value;

use super::incoming::Incoming;
use super::stamp::content_key;
use super::version::write_version;
use super::{InteractionError, Written};
use crate::store::{StoredVersion, Tx};

pub type Updated = Written;

/// Stores `resource` as the next version of `res_type/res_id`, creating it if it does not
/// exist. A resource identical to the current version writes nothing (imports stay idempotent).
pub fn update(
    tx: &mut dyn Tx,
    res_type: &str,
    res_id: &str,
    incoming: &Incoming,
    if_match: Option<i64>,
) -> Result<Updated, InteractionError> {
    let head = tx.head(res_type, res_id)?;
    if let Some(expected) = if_match {
        let current = head.as_ref().filter(|h| !h.deleted).map(|h| h.version_id);
        if current != Some(expected) {
            return Err(InteractionError::PreconditionFailed(format!(
                "If-Match names version {expected} but the current version of {res_type}/{res_id} is {}",
                current.map_or("none".to_string(), |v| v.to_string())
            )));
        }
    }
    let live = head.as_ref().filter(|h| !h.deleted);
    let indexed;
    let incoming = match &incoming.unchanged_from {
        Some(v) if live.is_some_and(|h| h.version_id == v.version_id) => {
            return Ok(Written {
                version: v.clone(),
                created: false,
                changed: false,
            })
        }
        // Found unchanged against a version no longer current: index it after all.
        Some(_) => {
            indexed = Incoming::new(res_type, incoming.resource.clone());
            &indexed
        }
        None => incoming,
    };
    if let Some(h) = live {
        if let Some(current) = tx.version(res_type, res_id, Some(h.version_id))? {
            if unchanged(&current, &incoming.resource) {
                return Ok(Written {
                    version: current,
                    created: false,
                    changed: false,
                });
            }
        }
    }
    write_version(tx, res_type, res_id, head.as_ref(), Some(incoming), "PUT")
}

/// Whether `incoming` has the content of `current` (server-set id and meta aside).
pub fn unchanged(current: &StoredVersion, incoming: &Value) -> bool {
    let Some(stored) = current
        .content
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
    else {
        return false;
    };
    content_key(&stored) == content_key(incoming)
}
