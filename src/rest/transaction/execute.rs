//! Runs a bundle's entries inside one store transaction, in the order http.html#trules sets
//! (DELETE, POST, PUT/PATCH, GET/HEAD), and keeps each entry's outcome in the entry's place.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::mpsc::Receiver;

use actix_web::http::StatusCode;
use foldhash::{HashMap, HashSet};
use serde_json::Value;

use super::super::error::RestError;
use super::super::query::QueryParams;
use super::super::read::not_modified;
use super::super::search::{links, searchset};
use super::entry::{Entry, Method, Target};
use super::failure::{at, EntryError};
use super::prepare::{Chunk, Prepared};
use crate::fhir::summary::View;
use crate::fhir::ResourceId;
use crate::interaction::{self, Incoming, InteractionError, Next};
use crate::search::{parse_search, run_in, Access, SYSTEM};
use crate::store::{Head, StoredVersion, Tx};

#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: StatusCode,
    /// The version written or read.
    pub version: Option<StoredVersion>,
    /// A GET search's searchset Bundle.
    pub bundle: Option<Value>,
    /// A read: its resource always goes in the response; a write's only when asked for.
    pub read: bool,
    /// Whether the entry wrote anything: an update to identical content, a conditional
    /// create that found its match or a delete of nothing did not.
    pub changed: bool,
}

impl Outcome {
    fn of(status: StatusCode, version: Option<StoredVersion>, changed: bool) -> Outcome {
        Outcome {
            status,
            version,
            bundle: None,
            read: false,
            changed,
        }
    }
}

pub struct Context<'a> {
    pub base: &'a str,
    pub strict: bool,
    pub policy: &'a crate::profile::Policy,
    /// Whether the response shows what was written (`Prefer: return=representation`): if
    /// not, a create's rendered content is dropped once written instead of held to the end
    /// (an import batch's 11,000 versions).
    pub keep_content: bool,
}

/// The creates that a preparation beside the writer hands over (`prepare::Later`), kept once
/// received, so that a write tried again (the database was busy) finds them.
pub struct Stream {
    /// The entries' positions, in bundle order.
    pub positions: Vec<usize>,
    pub take: Receiver<Chunk>,
    pub got: Vec<Vec<(usize, Incoming)>>,
}

impl Stream {
    /// Writes every create, chunk by chunk as each is prepared.
    fn write(
        &mut self,
        tx: &mut dyn Tx,
        entries: &[Entry],
        prepared: &Prepared,
        keep_content: bool,
        out: &mut [Option<Outcome>],
    ) -> Result<(), EntryError> {
        let mut next = 0;
        let mut written = 0;
        loop {
            if next == self.got.len() {
                // Closed once every chunk was sent (or the preparation failed: counted below).
                let Ok(chunk) = self.take.recv() else { break };
                let ready = chunk
                    .into_iter()
                    .map(|(i, r)| r.map(|inc| (i, inc)))
                    .collect::<Result<Vec<_>, EntryError>>()?;
                self.got.push(ready);
            }
            let chunk: Vec<(usize, &Incoming)> =
                self.got[next].iter().map(|(i, inc)| (*i, inc)).collect();
            next += 1;
            if let Some(&(first, _)) = chunk.first() {
                create_all(tx, entries, &chunk, prepared, keep_content, out)
                    .map_err(at(entries[first].index))?;
            }
            written += chunk.len();
        }
        if written != self.positions.len() {
            return Err(EntryError::whole(RestError::Internal(
                "the preparation of the transaction's creates stopped short".into(),
            )));
        }
        Ok(())
    }
}

pub fn execute(
    tx: &mut dyn Tx,
    entries: &[Entry],
    prepared: &Prepared,
    cx: &Context<'_>,
    mut later: Option<&mut Stream>,
) -> Result<Vec<Outcome>, EntryError> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by_key(|&i| entries[i].method.rank());
    let mut out: Vec<Option<Outcome>> = vec![None; entries.len()];
    // Creates of new resources (POSTs, and conditional PUTs that matched nothing) go in
    // together, in a few multi-row statements, when the first of them comes up.
    let creates: Vec<(usize, &Incoming)> = (0..entries.len())
        .filter_map(|i| {
            let e = &entries[i];
            if e.method == Method::Post || prepared.creates.contains(&e.index) {
                prepared.incoming.get(&e.index).map(|inc| (i, inc))
            } else {
                None
            }
        })
        .collect();
    let is_create: HashSet<usize> = creates
        .iter()
        .map(|c| c.0)
        .chain(later.iter().flat_map(|s| s.positions.iter().copied()))
        .collect();
    let mut updates = Updates::default();
    for i in order {
        if out[i].is_some() {
            continue;
        }
        let e = &entries[i];
        if is_create.contains(&i) {
            if !creates.is_empty() {
                create_all(tx, entries, &creates, prepared, cx.keep_content, &mut out)
                    .map_err(at(e.index))?;
            }
            if let Some(stream) = later.take() {
                stream.write(tx, entries, prepared, cx.keep_content, &mut out)?;
            }
            continue;
        }
        if e.method == Method::Put && updates.heads.is_none() {
            let heads = update_heads(tx, entries, &is_create, prepared).map_err(at(e.index))?;
            updates.heads = Some(heads);
        }
        if matches!(e.method, Method::Get | Method::Head) {
            updates.flush(tx)?;
        }
        out[i] = Some(run(tx, e, prepared, cx, &mut updates).map_err(at(e.index))?);
    }
    updates.flush(tx)?;
    Ok(out.into_iter().flatten().collect())
}

/// Heads by resource type and id.
type Heads<'e> = HashMap<&'e str, std::collections::HashMap<String, Head>>;

/// The PUTs' updates of existing resources: their heads, and the versions decided on, which
/// are written together (`Tx::update_many`) before the first read entry or at the end
/// instead of one by one, a dozen statements each.
#[derive(Default)]
struct Updates<'p> {
    heads: Option<Heads<'p>>,
    /// (entry index, the version, its content and index rows).
    pending: Vec<(usize, StoredVersion, Cow<'p, Incoming>)>,
}

impl Updates<'_> {
    fn flush(&mut self, tx: &mut dyn Tx) -> Result<(), EntryError> {
        let Some(first) = self.pending.first().map(|p| p.0) else {
            return Ok(());
        };
        let items: Vec<_> = self
            .pending
            .iter()
            .map(|(_, v, inc)| (interaction::as_new(v), &inc.rows))
            .collect();
        tx.update_many(&items)
            .map_err(|e| at(first)(InteractionError::from(e)))?;
        self.pending.clear();
        Ok(())
    }
}

/// The heads of the resources the PUTs update, read together when the first PUT comes up
/// rather than one statement each: the deletes and creates before it touch other resources
/// (a transaction may touch a resource once), so they are still current when each PUT runs.
fn update_heads<'e>(
    tx: &mut dyn Tx,
    entries: &'e [Entry],
    is_create: &HashSet<usize>,
    prepared: &'e Prepared,
) -> Result<Heads<'e>, InteractionError> {
    // By type, in a fixed order, so concurrent transactions lock heads in the same order.
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        if e.method != Method::Put || is_create.contains(&i) {
            continue;
        }
        if let (Some(rt), Some(id)) = (e.res_type(), prepared.ids.get(&e.index)) {
            by_type.entry(rt.as_str()).or_default().push(id);
        }
    }
    by_type
        .into_iter()
        .map(|(rt, ids)| Ok((rt, tx.heads(rt, &ids)?)))
        .collect()
}

/// Writes new resources, (entry position, its prepared resource) each, in a few multi-row
/// statements; their outcomes keep what was written only when `keep_content`.
fn create_all(
    tx: &mut dyn Tx,
    entries: &[Entry],
    creates: &[(usize, &Incoming)],
    prepared: &Prepared,
    keep_content: bool,
    out: &mut [Option<Outcome>],
) -> Result<(), InteractionError> {
    let missing = || InteractionError::BadRequest("the entry was not prepared".into());
    let ids = creates
        .iter()
        .map(|&(i, _)| {
            prepared
                .ids
                .get(&entries[i].index)
                .and_then(|id| ResourceId::parse(id))
                .ok_or_else(missing)
        })
        .collect::<Result<Vec<ResourceId>, _>>()?;
    let items: Vec<(&str, &ResourceId, &Incoming)> = creates
        .iter()
        .zip(&ids)
        .map(|(&(i, inc), id)| {
            (
                entries[i].res_type().map_or(SYSTEM, |t| t.as_str()),
                id,
                inc,
            )
        })
        .collect();
    let written = interaction::insert_many(tx, &items)?;
    for (&(i, _), mut w) in creates.iter().zip(written) {
        if !keep_content {
            w.version.content = None;
        }
        out[i] = Some(Outcome::of(StatusCode::CREATED, Some(w.version), true));
    }
    Ok(())
}

fn run<'p>(
    tx: &mut dyn Tx,
    e: &Entry,
    prepared: &'p Prepared,
    cx: &Context<'_>,
    updates: &mut Updates<'p>,
) -> Result<Outcome, InteractionError> {
    let rt = e.res_type().map_or(SYSTEM, |t| t.as_str());
    let id = prepared.ids.get(&e.index).map(String::as_str);
    let incoming = prepared.incoming.get(&e.index);
    let missing = || InteractionError::BadRequest("the entry was not prepared".into());
    match e.method {
        Method::Delete => match id {
            Some(id) => {
                let d = interaction::delete(tx, rt, id)?;
                let changed = d.tombstone.is_some();
                Ok(Outcome::of(StatusCode::NO_CONTENT, d.tombstone, changed))
            }
            None => Ok(Outcome::of(StatusCode::NO_CONTENT, None, false)),
        },
        // Creates are written by `create_all`; what is left is a conditional create whose
        // If-None-Exist found the resource: 200 with it.
        Method::Post => Ok(Outcome::of(
            StatusCode::OK,
            tx.version(rt, id.ok_or_else(missing)?, None)?,
            false,
        )),
        Method::Put => {
            let id = id.ok_or_else(missing)?;
            let head = match &updates.heads {
                Some(heads) => heads.get(rt).and_then(|h| h.get(id)).cloned(),
                None => tx.head(rt, id)?,
            };
            let incoming = incoming.ok_or_else(missing)?;
            let w = match interaction::decide(tx, rt, id, head, incoming, e.if_match)? {
                Next::Same(w) => w,
                Next::Write(Some(head), incoming) => {
                    let w = interaction::next_version(rt, id, &head, Some(&incoming), "PUT")?;
                    updates.pending.push((e.index, w.version.clone(), incoming));
                    w
                }
                Next::Write(None, incoming) => {
                    interaction::write_version(tx, rt, id, None, Some(&incoming), "PUT")?
                }
            };
            let status = if w.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(Outcome::of(status, Some(w.version), w.changed))
        }
        Method::Patch => {
            let p = e.patch.as_ref().ok_or_else(missing)?;
            let w = interaction::patch(tx, rt, id.ok_or_else(missing)?, p, e.if_match, cx.policy)?;
            Ok(Outcome::of(StatusCode::OK, Some(w.version), w.changed))
        }
        Method::Get | Method::Head => read(tx, e, rt, cx),
    }
}

fn read(
    tx: &mut dyn Tx,
    e: &Entry,
    rt: &str,
    cx: &Context<'_>,
) -> Result<Outcome, InteractionError> {
    let (id, vid) = match &e.target {
        Target::Instance(_, id) => (id, None),
        Target::Version(_, id, v) => (id, Some(*v)),
        Target::Search(_, pairs) => {
            let q = QueryParams(pairs.clone());
            let plan = parse_search(rt, pairs, cx.strict, cx.base)?;
            let result = run_in(
                tx,
                &plan,
                &Access::Unrestricted,
                q.get("_summary") == Some("count"),
            )?;
            let path = match e.res_type() {
                Some(t) => format!("{}/{t}", cx.base),
                None => cx.base.to_string(),
            };
            let links = links(&plan, &q, result.next.clone(), &path);
            let bundle = searchset(links, &result, cx.base, &View::Full)
                .map_err(|err| InteractionError::BadRequest(err.to_string()))?;
            return Ok(Outcome {
                status: StatusCode::OK,
                version: None,
                bundle: Some(bundle),
                read: true,
                changed: false,
            });
        }
        _ => return Err(InteractionError::BadRequest("not a read".into())),
    };
    let v = match tx.version(rt, id.as_str(), vid)? {
        None => return Err(InteractionError::NotFound(format!("{rt}/{id}"))),
        Some(v) if v.content.is_none() => return Err(InteractionError::Gone(format!("{rt}/{id}"))),
        Some(v) => v,
    };
    let unchanged = vid.is_none()
        && not_modified(
            e.if_none_match.as_deref(),
            e.if_modified_since.as_deref(),
            &v,
        );
    let (status, content) = match unchanged {
        true => (StatusCode::NOT_MODIFIED, None),
        // HEAD answers the headers only.
        false if e.method == Method::Head => (StatusCode::OK, None),
        false => (StatusCode::OK, v.content.clone()),
    };
    Ok(Outcome {
        status,
        version: Some(StoredVersion { content, ..v }),
        bundle: None,
        read: true,
        changed: false,
    })
}
