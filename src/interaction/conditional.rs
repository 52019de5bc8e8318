//! The conditional interactions' 0/1/many match rules (http.html#cond-update, #3.1.0.7.1).

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt};

use serde_json::Value;

use super::create::insert;
use super::delete::{delete, Deleted};
use super::incoming::Incoming;
use super::update::update;
use super::{InteractionError, Written};
use crate::fhir::ResourceId;
use crate::search::{
    compile_page, current_versions, single_token, token_matches, Access, SearchPlan,
};
use crate::store::{StoreError, StoredVersion, Tx};

pub enum Matches {
    None,
    One(StoredVersion),
    Many,
}

/// Runs a conditional's search and tells none, one or many.
pub fn resolve_one(
    tx: &mut dyn Tx,
    plan: &SearchPlan,
    access: &Access,
) -> Result<Matches, InteractionError> {
    let plan = SearchPlan {
        count: 1,
        after: None,
        ..plan.clone()
    };
    let mut found = tx.search(&compile_page(&plan, access))?;
    Ok(match found.len() {
        0 => Matches::None,
        1 => Matches::One(found.remove(0)),
        _ => Matches::Many,
    })
}

/// (type, parameter, system) → (number, code) asked.
type TokensAsked<'a> = BTreeMap<(&'a str, i64, &'a str), Vec<(usize, &'a str)>>;

/// What the one-token conditions among `asked` (`Patient?identifier=system|value`, the
/// importers' keys) find, by their numbers, a few statements for them all; a condition of
/// another form, or whose match changed between the two statements, is left out for its own
/// search ([`resolve_one`]) to tell.
pub fn token_finds(
    tx: &mut dyn Tx,
    asked: &[(usize, &SearchPlan)],
) -> Result<HashMap<usize, Matches>, StoreError> {
    let mut groups: TokensAsked<'_> = BTreeMap::new();
    for (n, plan) in asked {
        if let Some((param, system, code)) = single_token(plan) {
            let key = (plan.res_type.as_str(), param, system);
            groups.entry(key).or_default().push((*n, code));
        }
    }
    let mut out = HashMap::new();
    for ((res_type, param, system), asked) in groups {
        let mut codes: Vec<&str> = asked.iter().map(|(_, code)| *code).collect();
        codes.sort_unstable();
        codes.dedup();
        let mut ids: HashMap<String, Vec<String>> = HashMap::new();
        for (code, id) in token_matches(tx, res_type, param, system, &codes, &Access::Unrestricted)?
        {
            ids.entry(code).or_default().push(id);
        }
        let mut single: Vec<&str> = ids
            .values()
            .filter_map(|found| match found.as_slice() {
                [id] => Some(id.as_str()),
                _ => None,
            })
            .collect();
        single.sort_unstable();
        single.dedup();
        let versions: HashMap<String, StoredVersion> =
            current_versions(tx, res_type, &single, &Access::Unrestricted)?
                .into_iter()
                .map(|v| (v.res_id.clone(), v))
                .collect();
        for (n, code) in asked {
            let matches = match ids.get(code).map(Vec::as_slice) {
                None | Some([]) => Matches::None,
                Some([id]) => match versions.get(id) {
                    Some(v) => Matches::One(v.clone()),
                    // Changed between the two statements: its own search will tell.
                    None => continue,
                },
                Some(_) => Matches::Many,
            };
            out.insert(n, matches);
        }
    }
    Ok(out)
}

/// `PUT [type]?criteria`.
pub fn conditional_update(
    tx: &mut dyn Tx,
    res_type: &str,
    plan: &SearchPlan,
    incoming: &Incoming,
) -> Result<Written, InteractionError> {
    let found = match resolve_one(tx, plan, &Access::Unrestricted)? {
        Matches::None => None,
        Matches::One(v) => Some(v.res_id),
        Matches::Many => {
            return Err(InteractionError::MultipleMatches(
                "the criteria of the conditional update matched more than one resource".into(),
            ))
        }
    };
    update_matched(
        tx,
        res_type,
        found.as_deref(),
        incoming,
        &ResourceId::generate(),
    )
}

/// The write a conditional update makes once its criteria found `found` (one id, or none):
/// update that resource, or create one under the body's id or else `new_id`.
pub fn update_matched(
    tx: &mut dyn Tx,
    res_type: &str,
    found: Option<&str>,
    incoming: &Incoming,
    new_id: &ResourceId,
) -> Result<Written, InteractionError> {
    let body_id = incoming.resource.get("id").and_then(Value::as_str);
    match (found, body_id) {
        (None, Some(id)) => update(tx, res_type, id, incoming, None),
        (None, None) => insert(tx, res_type, new_id, incoming),
        (Some(found), Some(id)) if id != found => Err(InteractionError::BadRequest(format!(
            "the resource id does not match the resource the criteria found ({res_type}/{found})"
        ))),
        (Some(found), _) => update(tx, res_type, found, incoming, None),
    }
}

/// `DELETE [type]?criteria`: deletes the one match; many matches are refused.
pub fn conditional_delete(
    tx: &mut dyn Tx,
    res_type: &str,
    plan: &SearchPlan,
) -> Result<Deleted, InteractionError> {
    match resolve_one(tx, plan, &Access::Unrestricted)? {
        Matches::None => Ok(Deleted { tombstone: None }),
        Matches::One(found) => delete(tx, res_type, &found.res_id),
        Matches::Many => Err(InteractionError::MultipleMatches(
            "the criteria of the conditional delete matched more than one resource".into(),
        )),
    }
}
