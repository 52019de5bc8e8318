//! What a bundle's conditions find: each conditional entry's match (If-None-Exist, a
//! conditional PUT, PATCH or DELETE) and each conditional reference the bundle itself does
//! not answer. Run once before the write transaction, so the costly work can be done outside
//! it, and again inside it; if the two differ, the work is redone inside.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet};

use super::super::error::RestError;
use super::entry::{Entry, Method};
use super::failure::{at, EntryError};
use crate::interaction::{resolve_one, token_finds, InteractionError, Matches};
use crate::search::{parse_conditional, Access, SearchPlan};
use crate::store::{StoreError, StoredVersion, Tx};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolution {
    /// Entry index → the id its condition matched (`None`: no match).
    pub matched: BTreeMap<usize, Option<String>>,
    /// Conditional reference key → `Type/id`.
    pub references: BTreeMap<String, String>,
    /// Conditional PUT entry index → the current version its criteria found, so that an
    /// upsert of unchanged content is known before the write lock and costs no index rows.
    pub current: BTreeMap<usize, StoredVersion>,
}

/// Whether a bundle needs resolving at all.
pub fn has_conditions(entries: &[Entry]) -> bool {
    entries
        .iter()
        .any(|e| e.condition().is_some() || !e.references.is_empty())
}

pub fn resolve(tx: &mut dyn Tx, entries: &[Entry], base: &str) -> Result<Resolution, EntryError> {
    let mut out = Resolution::default();
    // Conditional references to criteria an entry of this bundle carries name that entry.
    let own: HashSet<&str> = entries
        .iter()
        .filter_map(Entry::condition)
        .map(|c| c.key.as_str())
        .collect();
    let mut by_token = token_conditions(tx, entries)?;
    for e in entries {
        if let Some(c) = e.condition() {
            let matches = match by_token.remove(&e.index) {
                Some(m) => m,
                None => resolve_one(tx, &c.plan, &Access::Unrestricted).map_err(at(e.index))?,
            };
            let found = match matches {
                Matches::None => None,
                Matches::One(v) => {
                    let id = v.res_id.clone();
                    if e.method == Method::Put {
                        out.current.insert(e.index, v);
                    }
                    Some(id)
                }
                Matches::Many => {
                    return Err(at(e.index)(InteractionError::MultipleMatches(format!(
                        "the criteria {} matched more than one resource",
                        c.key
                    ))))
                }
            };
            out.matched.insert(e.index, found);
        }
        for key in &e.references {
            if own.contains(key.as_str()) || out.references.contains_key(key) {
                continue;
            }
            let (t, q) = key.split_once('?').unwrap_or((key, ""));
            let pairs = super::super::query::QueryParams::parse(q.as_bytes()).0;
            let plan = parse_conditional(t, &pairs, base)
                .map_err(|err| EntryError::new(e.index, RestError::from(err)))?;
            match resolve_one(tx, &plan, &Access::Unrestricted).map_err(at(e.index))? {
                Matches::One(v) => {
                    out.references
                        .insert(key.clone(), format!("{}/{}", v.res_type, v.res_id));
                }
                Matches::None => {
                    return Err(EntryError::new(
                        e.index,
                        RestError::BadRequest(format!(
                            "the conditional reference {key} matches no resource"
                        )),
                    ))
                }
                Matches::Many => {
                    return Err(at(e.index)(InteractionError::MultipleMatches(format!(
                        "the conditional reference {key} matches more than one resource"
                    ))))
                }
            }
        }
    }
    Ok(out)
}

/// What the bundle's conditions of the one-token form found, by entry index
/// ([`token_finds`]); an entry left out is resolved by its search.
fn token_conditions(
    tx: &mut dyn Tx,
    entries: &[Entry],
) -> Result<HashMap<usize, Matches>, StoreError> {
    let asked: Vec<(usize, &SearchPlan)> = entries
        .iter()
        .filter_map(|e| e.condition().map(|c| (e.index, &c.plan)))
        .collect();
    token_finds(tx, &asked)
}
