//! Appends one version of a resource: head row, version row and index rows, in the caller's
//! transaction.

use super::incoming::Incoming;
use super::stamp::{now_micros, render};
use super::{InteractionError, Written};
use crate::store::{Head, NewVersion, StoredVersion, Tx};

/// Writes `incoming` (or a delete when `None`) as the next version after `head`.
pub fn write_version(
    tx: &mut dyn Tx,
    res_type: &str,
    res_id: &str,
    head: Option<&Head>,
    incoming: Option<&Incoming>,
    method: &str,
) -> Result<Written, InteractionError> {
    let version_id = head.map_or(1, |h| h.version_id + 1);
    // Versions of one resource must be strictly ordered in time, whatever the clock does.
    let last_updated = head.map_or_else(now_micros, |h| now_micros().max(h.last_updated + 1));
    let deleted = incoming.is_none();
    let content = incoming
        .map(|i| render(&i.resource, res_id, version_id, last_updated))
        .transpose()
        .map_err(|e| InteractionError::BadRequest(format!("cannot serialise resource: {e}")))?;
    let pk = match head {
        Some(h) => {
            tx.update_head(&Head {
                pk: h.pk,
                version_id,
                last_updated,
                deleted,
            })?;
            h.pk
        }
        None => tx.insert_head(res_type, res_id, version_id, last_updated, deleted)?,
    };
    tx.append_version(&NewVersion {
        res_pk: pk,
        res_type,
        res_id,
        version_id,
        last_updated,
        method,
        content: content.as_deref(),
    })?;
    let no_rows = crate::store::IndexRows::default();
    tx.replace_index(pk, incoming.map_or(&no_rows, |i| &i.rows), head.is_none())?;
    let created = head.is_none_or(|h| h.deleted) && !deleted;
    Ok(Written {
        version: StoredVersion {
            seq: pk,
            res_type: res_type.to_string(),
            res_id: res_id.to_string(),
            version_id,
            last_updated,
            method: method.to_string(),
            content,
        },
        created,
        changed: true,
    })
}
