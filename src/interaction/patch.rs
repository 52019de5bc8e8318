//! patch (http.html#patch): the current version, patched, stored as the next version through
//! the same path as an update; conditional patch by search criteria.

use serde_json::Value;

use super::conditional::{resolve_one, Matches};
use super::incoming::Incoming;
use super::update::update;
use super::{InteractionError, Written};
use crate::fhir::{Issue, IssueType};
use crate::patch::{Patch, PatchError};
use crate::profile::Policy;
use crate::search::{Access, SearchPlan};
use crate::store::Tx;

pub fn patch(
    tx: &mut dyn Tx,
    res_type: &str,
    res_id: &str,
    patch: &Patch,
    if_match: Option<i64>,
    policy: &Policy,
) -> Result<Written, InteractionError> {
    let address = format!("{res_type}/{res_id}");
    let current = tx
        .version(res_type, res_id, None)?
        .ok_or_else(|| InteractionError::NotFound(address.clone()))?;
    let content = current
        .content
        .as_deref()
        .ok_or_else(|| InteractionError::Gone(address.clone()))?;
    let value: Value = serde_json::from_str(content)
        .map_err(|e| InteractionError::Store(crate::store::StoreError::Internal(e.to_string())))?;
    let patched = patch.apply(&value)?;
    policy
        .enforce(&patched)
        .map_err(InteractionError::Unprocessable)?;
    let incoming = Incoming::new(res_type, patched);
    update(tx, res_type, res_id, &incoming, if_match)
}

/// `PATCH [type]?criteria`: patches the one match.
pub fn conditional_patch(
    tx: &mut dyn Tx,
    res_type: &str,
    plan: &SearchPlan,
    p: &Patch,
    policy: &Policy,
) -> Result<Written, InteractionError> {
    match resolve_one(tx, plan, &Access::Unrestricted)? {
        Matches::One(found) => patch(tx, res_type, &found.res_id, p, None, policy),
        Matches::None => Err(InteractionError::NotFound(format!(
            "{res_type} matching the criteria"
        ))),
        Matches::Many => Err(InteractionError::MultipleMatches(
            "the criteria of the conditional patch matched more than one resource".into(),
        )),
    }
}

impl From<PatchError> for InteractionError {
    fn from(e: PatchError) -> Self {
        match e {
            PatchError::Malformed(_) => InteractionError::BadRequest(e.to_string()),
            PatchError::NotApplicable(_) => InteractionError::Unprocessable(vec![Issue::error(
                IssueType::Processing,
                e.to_string(),
            )]),
            PatchError::Invalid(issues) => InteractionError::Unprocessable(issues),
        }
    }
}
