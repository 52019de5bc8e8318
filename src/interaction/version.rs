//! Appends one version of a resource: head row, version row and index rows, in the caller's
//! transaction.

use super::incoming::Incoming;
use super::stamp::{now_micros, render};
use super::{InteractionError, Written};
use crate::store::{Head, IndexRows, NewVersion, StoredVersion, Tx};

/// Writes `incoming` (or a delete when `None`) as the next version after `head`.
pub fn write_version(
    tx: &mut dyn Tx,
    res_type: &str,
    res_id: &str,
    head: Option<&Head>,
    incoming: Option<&Incoming>,
    method: &str,
) -> Result<Written, InteractionError> {
    let no_rows = IndexRows::default();
    let rows = incoming.map_or(&no_rows, |i| &i.rows);
    if let Some(head) = head {
        let w = next_version(res_type, res_id, head, incoming, method)?;
        tx.update_many(&[(as_new(&w.version), rows)])?;
        return Ok(w);
    }
    let last_updated = now_micros();
    let content = rendered(incoming, res_id, 1, last_updated)?;
    let deleted = content.is_none();
    let pk = tx.insert_head(res_type, res_id, 1, last_updated, deleted)?;
    let version = StoredVersion {
        seq: pk,
        res_type: res_type.to_string(),
        res_id: res_id.to_string(),
        version_id: 1,
        last_updated,
        method: method.to_string(),
        content,
    };
    tx.append_version(&as_new(&version))?;
    tx.replace_index(pk, rows, true)?;
    Ok(Written {
        version,
        created: !deleted,
        changed: true,
    })
}

/// The version that `incoming` (or a delete when `None`) makes after `head`, worked out but
/// not written: a transaction writes its updates together ([`Tx::update_many`]). Its `seq`
/// is the resource's key.
pub fn next_version(
    res_type: &str,
    res_id: &str,
    head: &Head,
    incoming: Option<&Incoming>,
    method: &str,
) -> Result<Written, InteractionError> {
    let version_id = head.version_id + 1;
    // Versions of one resource must be strictly ordered in time, whatever the clock does.
    let last_updated = now_micros().max(head.last_updated + 1);
    let content = rendered(incoming, res_id, version_id, last_updated)?;
    Ok(Written {
        created: head.deleted && content.is_some(),
        version: StoredVersion {
            seq: head.pk,
            res_type: res_type.to_string(),
            res_id: res_id.to_string(),
            version_id,
            last_updated,
            method: method.to_string(),
            content,
        },
        changed: true,
    })
}

/// A version worked out by [`next_version`] (or written), as the store takes it.
pub fn as_new(v: &StoredVersion) -> NewVersion<'_> {
    NewVersion {
        res_pk: v.seq,
        res_type: &v.res_type,
        res_id: &v.res_id,
        version_id: v.version_id,
        last_updated: v.last_updated,
        method: &v.method,
        content: v.content.as_deref(),
    }
}

fn rendered(
    incoming: Option<&Incoming>,
    res_id: &str,
    version_id: i64,
    last_updated: i64,
) -> Result<Option<String>, InteractionError> {
    incoming
        .map(|i| render(&i.resource, res_id, version_id, last_updated))
        .transpose()
        .map_err(|e| InteractionError::BadRequest(format!("cannot serialise resource: {e}")))
}
