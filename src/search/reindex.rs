//! Custom search parameters: SearchParameter resources stored on the server are loaded into
//! the registry at start-up, and `carebridge reindex` rebuilds every resource's index rows so
//! that a new parameter finds resources written before it existed.

use serde_json::Value;

use super::compile::CURRENT_COLUMNS;
use super::extract::index_rows;
use super::params::Registry;
use crate::store::{Bind, Isolation, Query, Store, StoreError, StoredVersion};

const BATCH: i64 = 500;

/// Current, undeleted resources after a key, in key order (of one type, if given).
fn batch_after(res_type: Option<&str>, after: i64) -> Query {
    let mut q = Query::new(format!(
        "SELECT {CURRENT_COLUMNS} FROM resource r JOIN resource_version v ON v.res_pk = r.pk AND v.version_id = r.version_id WHERE r.deleted = ? AND r.pk > ?"
    ));
    q.bind(Bind::Bool(false)).bind(Bind::Int(after));
    if let Some(t) = res_type {
        q.push(" AND r.res_type = ?")
            .bind(Bind::Text(t.to_string()));
    }
    q.push(" ORDER BY r.pk LIMIT ?").bind(Bind::Int(BATCH));
    q
}

fn each_batch(
    store: &Store,
    res_type: Option<&str>,
    mut f: impl FnMut(&[StoredVersion]) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    let mut after = 0;
    let mut seen = 0;
    loop {
        let batch = store.read(|tx| tx.search(&batch_after(res_type, after)))?;
        let Some(last) = batch.last() else {
            return Ok(seen);
        };
        after = last.seq;
        seen += batch.len();
        f(&batch)?;
    }
}

fn parsed(v: &StoredVersion) -> Option<Value> {
    v.content
        .as_deref()
        .and_then(|c| serde_json::from_str(c).ok())
}

/// Puts the stored SearchParameter resources in force; returns how many there are.
pub fn load_custom_parameters(store: &Store) -> Result<usize, StoreError> {
    let mut custom = Vec::new();
    each_batch(store, Some("SearchParameter"), |batch| {
        custom.extend(batch.iter().filter_map(parsed));
        Ok(())
    })?;
    if !custom.is_empty() {
        Registry::install_custom(&custom);
    }
    Ok(custom.len())
}

/// Rebuilds the index rows of every resource under the parameters in force (custom ones
/// loaded first), a batch per transaction. `progress` hears the running count.
pub fn reindex(store: &Store, progress: impl Fn(usize)) -> Result<usize, StoreError> {
    load_custom_parameters(store)?;
    let mut done = 0;
    each_batch(store, None, |batch| {
        store.write(Isolation::Plain, |tx| {
            for v in batch {
                if let Some(value) = parsed(v) {
                    tx.replace_index(v.seq, &index_rows(&v.res_type, &value), false)?;
                }
            }
            Ok::<_, StoreError>(())
        })?;
        done += batch.len();
        progress(done);
        Ok(())
    })
}
