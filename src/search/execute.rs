//! Running a search plan: the page of matches (by cursor, or from a snapshot when sorted),
//! the total, and the `_include`/`_revinclude` resources, every statement with the access
//! predicate in it.

use std::collections::HashSet;

use super::access::Access;
use super::compile::{
    compile_by_ids, compile_by_keys, compile_count, compile_keys, compile_page,
    compile_referencing, compile_snapshot_page, compile_targets,
};
use super::params::Stored;
use super::parse::{Include, SearchPlan, Total, MAX_ITERATE};
use crate::interaction::now_micros;
use crate::store::{Bind, Isolation, Query, Store, StoreError, StoredVersion, Tx};

/// The most results a sorted search keeps in its snapshot, and the most resources one page
/// may revinclude.
pub const SNAPSHOT_LIMIT: i64 = 10_000;
pub const REVINCLUDE_LIMIT: i64 = 1_000;
/// Snapshots older than this are dropped (µs).
const SNAPSHOT_AGE: i64 = 3_600_000_000;

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NextPage {
    /// After this resource key (unsorted searches).
    After(i64),
    /// At this position of a stored snapshot.
    Snapshot(String, i64),
}

pub struct SearchResult {
    pub total: Option<i64>,
    pub matches: Vec<StoredVersion>,
    pub included: Vec<StoredVersion>,
    pub next: Option<NextPage>,
}

/// Runs a search. `count_only` skips the page (`_summary=count`).
pub fn run(
    store: &Store,
    plan: &SearchPlan,
    access: &Access,
    count_only: bool,
) -> Result<SearchResult, StoreError> {
    if sorted_first_page(plan, count_only) {
        // Read connections do not write: the snapshot is saved in a write of its own.
        let keys = store.read(|tx| tx.keys(&compile_keys(plan, access, SNAPSHOT_LIMIT)))?;
        let next = match snapshot_needed(plan, &keys) {
            Some(id) => {
                store.write(Isolation::Plain, |tx| save_snapshot(tx, &id, &keys))?;
                Some(NextPage::Snapshot(id, plan.count))
            }
            None => None,
        };
        return store.read(|tx| sorted_page(tx, plan, access, &keys, next));
    }
    store.read(|tx| run_in(tx, plan, access, count_only))
}

/// Runs a search on a connection the caller holds, such as a transaction bundle's; a sorted
/// search's snapshot is written through it too.
pub fn run_in(
    tx: &mut dyn Tx,
    plan: &SearchPlan,
    access: &Access,
    count_only: bool,
) -> Result<SearchResult, StoreError> {
    if sorted_first_page(plan, count_only) {
        let keys = tx.keys(&compile_keys(plan, access, SNAPSHOT_LIMIT))?;
        let next = match snapshot_needed(plan, &keys) {
            Some(id) => {
                save_snapshot(tx, &id, &keys)?;
                Some(NextPage::Snapshot(id, plan.count))
            }
            None => None,
        };
        return sorted_page(tx, plan, access, &keys, next);
    }
    if count_only || plan.count == 0 {
        return Ok(SearchResult {
            total: total(tx, plan, access)?,
            matches: Vec::new(),
            included: Vec::new(),
            next: None,
        });
    }
    let (matches, next) = match &plan.snapshot {
        Some((id, offset)) => {
            let keys = tx.keys(&compile_snapshot_page(id, *offset, plan.count + 1))?;
            let more = keys.len() as i64 > plan.count;
            let keys = &keys[..keys.len().min(plan.count as usize)];
            let matches = in_order(tx.search(&compile_by_keys(keys, access))?, keys);
            (
                matches,
                more.then(|| NextPage::Snapshot(id.clone(), offset + plan.count)),
            )
        }
        None => {
            let mut page = tx.search(&compile_page(plan, access))?;
            let more = page.len() as i64 > plan.count;
            page.truncate(plan.count as usize);
            let next = page.last().filter(|_| more).map(|v| NextPage::After(v.seq));
            (page, next)
        }
    };
    // A first page that holds every match is its own count.
    let whole = plan.snapshot.is_none() && plan.after.is_none() && next.is_none();
    let total = match plan.total {
        Total::Accurate if whole => Some(matches.len() as i64),
        _ => total(tx, plan, access)?,
    };
    let included = includes(tx, plan, access, &matches)?;
    Ok(SearchResult {
        total,
        matches,
        included,
        next,
    })
}

/// A sorted search's first page: every matching key, in order, is stored as a snapshot that
/// later pages read, so they do not shift while others write.
fn sorted_first_page(plan: &SearchPlan, count_only: bool) -> bool {
    plan.snapshot.is_none() && !plan.sort.is_empty() && !count_only && plan.count > 0
}

/// A new snapshot id when the sorted keys run past the first page.
fn snapshot_needed(plan: &SearchPlan, keys: &[i64]) -> Option<String> {
    (keys.len() as i64 > plan.count).then(|| uuid::Uuid::new_v4().simple().to_string())
}

fn sorted_page(
    tx: &mut dyn Tx,
    plan: &SearchPlan,
    access: &Access,
    keys: &[i64],
    next: Option<NextPage>,
) -> Result<SearchResult, StoreError> {
    let first: Vec<i64> = keys.iter().take(plan.count as usize).copied().collect();
    let total = total(tx, plan, access)?;
    let matches = in_order(tx.search(&compile_by_keys(&first, access))?, &first);
    let included = includes(tx, plan, access, &matches)?;
    Ok(SearchResult {
        total,
        matches,
        included,
        next,
    })
}

/// The total, unless `_total=none`.
fn total(tx: &mut dyn Tx, plan: &SearchPlan, access: &Access) -> Result<Option<i64>, StoreError> {
    Ok(match plan.total {
        Total::Accurate => Some(tx.count(&compile_count(plan, access))?),
        Total::None => None,
    })
}

fn save_snapshot(tx: &mut dyn Tx, id: &str, keys: &[i64]) -> Result<(), StoreError> {
    let now = now_micros();
    let mut old = Query::new("DELETE FROM search_snapshot WHERE created < ?");
    old.bind(Bind::Int(now - SNAPSHOT_AGE));
    tx.execute(&old)?;
    for (chunk_no, chunk) in keys.chunks(200).enumerate() {
        let mut q = Query::new("INSERT INTO search_snapshot (id, pos, res_pk, created) VALUES ");
        for (i, k) in chunk.iter().enumerate() {
            q.push(if i == 0 {
                "(?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?)"
            })
            .bind(Bind::Text(id.to_string()))
            .bind(Bind::Int((chunk_no * 200 + i) as i64))
            .bind(Bind::Int(*k))
            .bind(Bind::Int(now));
        }
        tx.execute(&q)?;
    }
    Ok(())
}

/// Puts versions fetched by key back into the order of `keys`.
fn in_order(mut found: Vec<StoredVersion>, keys: &[i64]) -> Vec<StoredVersion> {
    found.sort_by_key(|v| keys.iter().position(|k| *k == v.seq).unwrap_or(usize::MAX));
    found
}

/// `_include` (with `:iterate`) and `_revinclude` for a page; each resource appears once.
fn includes(
    tx: &mut dyn Tx,
    plan: &SearchPlan,
    access: &Access,
    matches: &[StoredVersion],
) -> Result<Vec<StoredVersion>, StoreError> {
    let mut seen: HashSet<i64> = matches.iter().map(|v| v.seq).collect();
    let mut out = Vec::new();
    let mut frontier: Vec<StoredVersion> = matches.to_vec();
    for round in 0..=MAX_ITERATE {
        let mut found = Vec::new();
        for inc in plan.includes.iter().filter(|i| round == 0 || i.iterate) {
            found.extend(include_targets(tx, inc, access, &frontier)?);
        }
        for inc in plan.revincludes.iter().filter(|i| round == 0 || i.iterate) {
            found.extend(referencing(tx, inc, access, &frontier)?);
        }
        let fresh: Vec<StoredVersion> = found.into_iter().filter(|v| seen.insert(v.seq)).collect();
        if fresh.is_empty() {
            break;
        }
        out.extend(fresh.iter().cloned());
        frontier = fresh;
    }
    Ok(out)
}

fn include_targets(
    tx: &mut dyn Tx,
    inc: &Include,
    access: &Access,
    from: &[StoredVersion],
) -> Result<Vec<StoredVersion>, StoreError> {
    let keys: Vec<i64> = from
        .iter()
        .filter(|v| v.res_type == inc.source_type)
        .map(|v| v.seq)
        .collect();
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let stored: Vec<&Stored> = inc.params.iter().map(|p| &p.stored).collect();
    let mut targets = tx.addresses(&compile_targets(&keys, &stored))?;
    if let Some(t) = &inc.target_type {
        targets.retain(|(rt, _)| rt == t);
    }
    targets.sort();
    let mut out = Vec::new();
    for chunk in targets.chunk_by(|a, b| a.0 == b.0) {
        let ids: Vec<String> = chunk.iter().map(|(_, id)| id.clone()).collect();
        out.extend(tx.search(&compile_by_ids(&chunk[0].0, &ids, access))?);
    }
    Ok(out)
}

fn referencing(
    tx: &mut dyn Tx,
    inc: &Include,
    access: &Access,
    to: &[StoredVersion],
) -> Result<Vec<StoredVersion>, StoreError> {
    let mut types: Vec<&str> = to.iter().map(|v| v.res_type.as_str()).collect();
    types.sort();
    types.dedup();
    let stored: Vec<&Stored> = inc.params.iter().map(|p| &p.stored).collect();
    let mut out = Vec::new();
    for t in types {
        if inc.target_type.as_deref().is_some_and(|tt| tt != t) {
            continue;
        }
        let ids: Vec<String> = to
            .iter()
            .filter(|v| v.res_type == t)
            .map(|v| v.res_id.clone())
            .collect();
        out.extend(tx.search(&compile_referencing(
            &inc.source_type,
            &stored,
            t,
            &ids,
            access,
            REVINCLUDE_LIMIT,
        ))?);
    }
    Ok(out)
}
