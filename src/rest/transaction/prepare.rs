//! Everything a transaction can work out before it writes, once its conditions are
//! resolved: the id each entry writes, the overlap check, the rewritten references and the
//! search index rows of each resource.

use foldhash::{HashMap, HashMapExt, HashSet};

use serde_json::Value;

use super::super::error::RestError;
use super::entry::{Entry, Method, Target};
use super::failure::EntryError;
use super::references::{rewrite, ReferenceMap};
use super::resolve::Resolution;
use crate::fhir::ResourceId;
use crate::interaction::Incoming;
use crate::profile::Policy;

#[derive(Debug, Default)]
pub struct Prepared {
    /// Entry index → the id it creates, updates, patches or deletes.
    pub ids: HashMap<usize, String>,
    /// Entry index → the resource it writes, references rewritten and index rows worked out.
    pub incoming: HashMap<usize, Incoming>,
    /// Conditional updates whose criteria matched nothing: they create under a new id, so
    /// they go in with the creates.
    pub creates: HashSet<usize>,
    /// A big transaction's creates, left to prepare while the first of them are written.
    pub later: Option<Later>,
}

/// Creates whose resources are prepared on one core while the writer writes those already
/// prepared on another: SQLite writes on one core, and an import's batch of 11,000
/// creates otherwise waited for all of them to be prepared before the first was written.
#[derive(Debug)]
pub struct Later {
    /// The entries' positions, in bundle order.
    pub positions: Vec<usize>,
    bodies: Vec<Option<Value>>,
    map: ReferenceMap,
}

/// How many creates the writer takes at a time from the preparation running beside it.
const LATER_CHUNK: usize = 250;

/// A chunk of prepared creates: (entry position, its resource ready to write).
pub type Chunk = Vec<(usize, Result<Incoming, EntryError>)>;

impl Later {
    /// Prepares the creates in bundle order, a chunk at a time, handing each to `send`;
    /// stops when `send` refuses one (the writer is gone).
    pub fn prepare(
        self,
        entries: &[Entry],
        prepared: &Prepared,
        res: &Resolution,
        policy: &Policy,
        send: impl Fn(Chunk) -> bool,
    ) {
        let Later {
            positions,
            bodies,
            map,
        } = self;
        let mut items = positions.into_iter().zip(bodies).peekable();
        while items.peek().is_some() {
            let chunk: Chunk = items
                .by_ref()
                .take(LATER_CHUNK)
                .map(|(i, body)| {
                    let e = &entries[i];
                    let ready = prepare_one(e, body, &map, res, prepared, policy).and_then(|r| {
                        r.ok_or_else(|| {
                            EntryError::new(
                                e.index,
                                RestError::Internal("a create prepared to nothing".into()),
                            )
                        })
                    });
                    // Version 1 is rendered and indexed: the writer needs no more of the
                    // tree, which is freed here, beside it, instead of after the commit.
                    let ready = ready.map(|mut incoming| {
                        if incoming.draft.is_some() {
                            incoming.resource = Value::Null;
                        }
                        incoming
                    });
                    (i, ready)
                })
                .collect();
            if !send(chunk) {
                return;
            }
        }
    }
}

/// Ids chosen up front for entries that may create a resource under a server id.
pub fn fresh_ids(entries: &[Entry]) -> HashMap<usize, ResourceId> {
    entries
        .iter()
        .filter(|e| matches!(e.method, Method::Post | Method::Put))
        .map(|e| (e.index, ResourceId::generate()))
        .collect()
}

/// Works out what each entry writes. `moved` holds the entries' resources taken out of them
/// (one per entry, in order), for a transaction that will not prepare again; without it each
/// resource is copied from its entry, which stays whole for a second preparation.
pub fn prepare(
    entries: &[Entry],
    moved: Option<Vec<Option<Value>>>,
    fresh: &HashMap<usize, ResourceId>,
    res: &Resolution,
    policy: &Policy,
) -> Result<Prepared, EntryError> {
    // Sized for every entry up front: an import's 11,000 entries otherwise grew each map
    // through a dozen rehashes on the thread that then writes (perf).
    let n = entries.len();
    let mut out = Prepared {
        ids: HashMap::with_capacity(n),
        incoming: HashMap::with_capacity(n),
        ..Prepared::default()
    };
    let mut map = ReferenceMap::with_capacity(res.references.len() + n);
    map.extend(res.references.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut touched: HashMap<String, usize> = HashMap::with_capacity(n);
    for (i, e) in entries.iter().enumerate() {
        let body = match &moved {
            Some(bodies) => bodies.get(i).and_then(Option::as_ref),
            None => e.resource.as_ref(),
        };
        let Some(id) = target_id(e, body, fresh, res)? else {
            continue;
        };
        let Some(rt) = e.res_type() else { continue };
        let address = [rt.as_str(), "/", &id].concat();
        if let Some(first) = touched.insert(address.clone(), e.index) {
            return Err(EntryError::new(
                e.index,
                RestError::BadRequest(format!(
                    "entries {first} and {} both change {address}; a transaction may touch a resource once",
                    e.index
                )),
            ));
        }
        if let Some(u) = &e.full_url {
            map.insert(u.clone(), address.clone());
        }
        if let Some(c) = e.condition() {
            map.insert(c.key.clone(), address.clone());
        }
        if e.method == Method::Put
            && matches!(e.target, Target::Conditional(..))
            && res.matched.get(&e.index).is_some_and(Option::is_none)
            && fresh.get(&e.index).is_some_and(|f| f.as_str() == id)
        {
            out.creates.insert(e.index);
        }
        out.ids.insert(e.index, id);
    }
    // A big transaction whose resources moved out of their entries (it will not prepare
    // again) leaves its creates for the writer's side (`Later`).
    let defer = moved.is_some() && entries.len() >= crate::parallel::MANY;
    let is_later = |e: &Entry| {
        let found = res.matched.get(&e.index).is_some_and(Option::is_some);
        defer
            && e.res_type().is_some()
            && out.ids.contains_key(&e.index)
            && ((e.method == Method::Post && !found) || out.creates.contains(&e.index))
    };
    let mut now: Vec<(&Entry, Option<Value>)> = Vec::with_capacity(entries.len());
    let mut later = Later {
        positions: Vec::new(),
        bodies: Vec::new(),
        map: ReferenceMap::default(),
    };
    match moved {
        Some(bodies) => {
            for (i, (e, body)) in entries.iter().zip(bodies).enumerate() {
                if is_later(e) {
                    later.positions.push(i);
                    later.bodies.push(body);
                } else {
                    now.push((e, body));
                }
            }
        }
        None => now.extend(entries.iter().map(|e| (e, None))),
    }
    // Of the entries prepared now, the first failing in bundle order is the one reported,
    // as when run in order; a create left for later reports its fault when it is written.
    let results = crate::parallel::map(now, crate::parallel::MANY, |(e, body)| {
        (e, prepare_one(e, body, &map, res, &out, policy))
    });
    for (e, result) in results {
        if let Some(incoming) = result? {
            out.incoming.insert(e.index, incoming);
        }
    }
    if !later.positions.is_empty() {
        later.map = map;
        out.later = Some(later);
    }
    Ok(out)
}

/// What one entry writes: its resource with references rewritten, checked against the
/// enforced profiles, and its index rows (and, for a create, version 1 rendered); `None`
/// for an entry that writes no resource.
fn prepare_one(
    e: &Entry,
    body: Option<Value>,
    map: &ReferenceMap,
    res: &Resolution,
    out: &Prepared,
    policy: &Policy,
) -> Result<Option<Incoming>, EntryError> {
    let Some(rt) = e.res_type() else {
        return Ok(None);
    };
    // A conditional create that found its resource writes nothing.
    if e.method == Method::Post && res.matched.get(&e.index).is_some_and(Option::is_some) {
        return Ok(None);
    }
    let Some(mut r) = body.or_else(|| e.resource.clone()) else {
        return Ok(None);
    };
    rewrite(&mut r, map).map_err(|m| EntryError::new(e.index, RestError::BadRequest(m)))?;
    policy
        .enforce(&r)
        .map_err(|issues| EntryError::new(e.index, RestError::Unprocessable(issues)))?;
    let current = res
        .current
        .get(&e.index)
        .filter(|_| e.method == Method::Put);
    let mut incoming = match current {
        // An upsert of what is already stored writes nothing: it needs no index rows.
        Some(v) if crate::interaction::unchanged(v, &r) => Incoming::unchanged(r, v.clone()),
        // Nor, changed, a second comparison under the write lock.
        Some(v) => Incoming::new(rt.as_str(), r).changed_from(v),
        None => Incoming::new(rt.as_str(), r),
    };
    // A create's version 1 is rendered here, outside the write lock.
    let creates = e.method == Method::Post || out.creates.contains(&e.index);
    if let (true, Some(id)) = (creates, out.ids.get(&e.index)) {
        incoming = incoming.drafted(id).map_err(|err| {
            EntryError::new(
                e.index,
                RestError::BadRequest(format!("cannot render: {err}")),
            )
        })?;
    }
    Ok(Some(incoming))
}

/// The id an entry writes, given its resource and what its condition found.
fn target_id(
    e: &Entry,
    body: Option<&Value>,
    fresh: &HashMap<usize, ResourceId>,
    res: &Resolution,
) -> Result<Option<String>, EntryError> {
    let matched = res.matched.get(&e.index).cloned().flatten();
    let fresh_id = || fresh.get(&e.index).map(|i| i.as_str().to_string());
    let body_id = || {
        body.and_then(|r| r.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(match (e.method, &e.target) {
        (Method::Get | Method::Head, _) => None,
        (_, Target::Instance(_, id)) => Some(id.to_string()),
        (Method::Post, _) => matched.or_else(fresh_id),
        (Method::Put, Target::Conditional(rt, _)) => match (matched, body_id()) {
            (Some(found), Some(body)) if found != body => {
                return Err(EntryError::new(
                    e.index,
                    RestError::BadRequest(format!(
                        "the resource id '{body}' does not match the resource the criteria found ({rt}/{found})"
                    )),
                ))
            }
            (Some(found), _) => Some(found),
            (None, Some(body)) => Some(body),
            (None, None) => fresh_id(),
        },
        (Method::Patch, Target::Conditional(rt, c)) => Some(matched.ok_or_else(|| {
            EntryError::new(
                e.index,
                RestError::NotFound(format!("no {rt} matches {}", c.key)),
            )
        })?),
        (Method::Delete, Target::Conditional(..)) => matched,
        _ => None,
    })
}
