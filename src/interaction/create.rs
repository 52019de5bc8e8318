//! create (http.html#create) and conditional create (If-None-Exist).

use super::conditional::{resolve_one, Matches};
use super::incoming::Incoming;
use super::stamp::{now_micros, render};
use super::version::write_version;
use super::{InteractionError, Written};
use crate::fhir::ResourceId;
use crate::search::{Access, SearchPlan};
use crate::store::{NewResource, StoredVersion, Tx};

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

/// Writes many new resources, each under an id the server chose, in a few multi-row
/// statements (a transaction bundle's creates); one timestamp serves them all.
pub fn insert_many(
    tx: &mut dyn Tx,
    items: &[(&str, &ResourceId, &Incoming)],
) -> Result<Vec<Written>, InteractionError> {
    let now = now_micros();
    let contents = items
        .iter()
        .map(|(_, id, inc)| match &inc.draft {
            Some(draft) => draft.finish(now),
            None => render(&inc.resource, id.as_str(), 1, now),
        })
        .collect::<Result<Vec<String>, _>>()
        .map_err(|e| InteractionError::BadRequest(format!("cannot serialise resource: {e}")))?;
    let new: Vec<NewResource<'_>> = items
        .iter()
        .zip(&contents)
        .map(|((rt, id, inc), content)| NewResource {
            res_type: rt,
            res_id: id.as_str(),
            last_updated: now,
            method: "POST",
            content,
            rows: &inc.rows,
        })
        .collect();
    let pks = tx.insert_many(&new)?;
    Ok(items
        .iter()
        .zip(contents)
        .zip(pks)
        .map(|(((rt, id, _), content), pk)| Written {
            version: StoredVersion {
                seq: pk,
                res_type: rt.to_string(),
                res_id: id.as_str().to_string(),
                version_id: 1,
                last_updated: now,
                method: "POST".into(),
                content: Some(content),
            },
            created: true,
            changed: true,
        })
        .collect())
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
