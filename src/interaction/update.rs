//! update (http.html#update), update-as-create with a client-chosen id, and version-aware
//! update (If-Match).

use std::borrow::Cow;

use serde_json::Value;

use super::incoming::{Compared, Incoming};
use super::stamp::{content_key, render};
use super::version::write_version;
use super::{InteractionError, Written};
use crate::store::{Head, StoredVersion, Tx};

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
    match decide(tx, res_type, res_id, head, incoming, if_match)? {
        Next::Same(w) => Ok(w),
        Next::Write(head, incoming) => {
            write_version(tx, res_type, res_id, head.as_ref(), Some(&incoming), "PUT")
        }
    }
}

/// What an update comes to, decided before anything is written.
// One is made per update and taken apart at once: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Next<'a> {
    /// The content is the current version's: nothing to write.
    Same(Written),
    /// A version to write after the head (`None`: the resource is new), with its index rows.
    Write(Option<Head>, Cow<'a, Incoming>),
}

/// Decides an update given the resource's head, read (and in a write transaction locked)
/// already: If-Match, and whether the content differs from the current version. A
/// transaction reads its updates' heads together ([`Tx::heads`]) and writes them together.
pub fn decide<'a>(
    tx: &mut dyn Tx,
    res_type: &str,
    res_id: &str,
    head: Option<Head>,
    incoming: &'a Incoming,
    if_match: Option<i64>,
) -> Result<Next<'a>, InteractionError> {
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
    // Whether the comparison made before the write lock was with the current version.
    let still = |c: &Compared| live.is_some_and(|h| c.with(res_id, h.version_id));
    let incoming = match &incoming.compared {
        Some(c @ Compared::Unchanged(v)) if still(c) => {
            return Ok(Next::Same(Written {
                version: v.clone(),
                created: false,
                changed: false,
            }))
        }
        // Found unchanged against a version no longer current: index it after all.
        Some(Compared::Unchanged(_)) => {
            Cow::Owned(Incoming::new(res_type, incoming.resource.clone()))
        }
        _ => Cow::Borrowed(incoming),
    };
    // Already found to differ from the current version: no second comparison.
    let known_changed = incoming.compared.as_ref().is_some_and(still);
    if let Some(h) = live.filter(|_| !known_changed) {
        if let Some(current) = tx.version(res_type, res_id, Some(h.version_id))? {
            if unchanged(&current, &incoming.resource) {
                return Ok(Next::Same(Written {
                    version: current,
                    created: false,
                    changed: false,
                }));
            }
        }
    }
    Ok(Next::Write(head, incoming))
}

/// Whether `incoming` has the content of `current` (server-set id and meta aside).
pub fn unchanged(current: &StoredVersion, incoming: &Value) -> bool {
    let Some(text) = current.content.as_deref() else {
        return false;
    };
    // Rendered as the stored version was, the same content is the same text: no parse.
    // Other text may still be the same content (another key order), so compare values then.
    let (id, vid, at) = (&current.res_id, current.version_id, current.last_updated);
    if render(incoming, id, vid, at).is_ok_and(|r| r == text) {
        return true;
    }
    let Ok(stored) = serde_json::from_str::<Value>(text) else {
        return false;
    };
    content_key(&stored) == content_key(incoming)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{render, unchanged};
    use crate::store::StoredVersion;

    #[test]
    fn unchanged_content_is_told_whatever_its_key_order() {
        let stored = json!({"resourceType": "Basic", "code": {"text": "a"}, "subject": {"display": "x"},
            "meta": {"source": "s"}});
        let current = StoredVersion {
            seq: 1,
            res_type: "Basic".into(),
            res_id: "b1".into(),
            version_id: 2,
            last_updated: 1_700_000_000_000_000,
            method: "PUT".into(),
            content: render(&stored, "b1", 2, 1_700_000_000_000_000).ok(),
        };
        // The same text once rendered.
        assert!(unchanged(&current, &stored));
        // Other keys order, a client's id and versionId: other text, the same content.
        let reordered = json!({"subject": {"display": "x"}, "id": "b1", "resourceType": "Basic",
            "meta": {"versionId": "9", "source": "s"}, "code": {"text": "a"}});
        assert!(unchanged(&current, &reordered));
        let changed = json!({"resourceType": "Basic", "code": {"text": "b"},
            "subject": {"display": "x"}, "meta": {"source": "s"}});
        assert!(!unchanged(&current, &changed));
        let deleted = StoredVersion {
            content: None,
            ..current
        };
        assert!(!unchanged(&deleted, &stored));
    }
}
