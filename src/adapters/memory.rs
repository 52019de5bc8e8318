//! What an adapter keeps between batches (EMIS's code tables: a later batch may use a CodeId
//! delivered only in an earlier one). Read before mapping; written in the import's own
//! database transaction, so a refused batch teaches nothing.

use std::collections::HashMap;

use super::model::Remember;
use crate::search::in_list;
use crate::store::{pieces, Bind, Query, Store, StoreError, Tx};

#[derive(Debug, Default, Clone)]
pub struct Memory {
    items: HashMap<(String, String), String>,
}

impl Memory {
    pub fn load(store: &Store, adapter: &str) -> Result<Memory, StoreError> {
        let mut q = Query::new(
            "SELECT kind || '\u{1f}' || key AS a, value AS b FROM adapter_memory WHERE adapter = ?",
        );
        q.bind(Bind::Text(adapter.to_string()));
        let rows = store.read(|tx| tx.pairs(&q))?;
        let items = rows
            .into_iter()
            .filter_map(|(k, v)| {
                let (kind, key) = k.split_once('\u{1f}')?;
                Some(((kind.to_string(), key.to_string()), v))
            })
            .collect();
        Ok(Memory { items })
    }

    pub fn get(&self, kind: &str, key: &str) -> Option<&str> {
        self.items
            .get(&(kind.to_string(), key.to_string()))
            .map(String::as_str)
    }

    /// Every (key, value) of one kind.
    pub fn of_kind<'a>(&'a self, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.items
            .iter()
            .filter(move |((k, _), _)| k == kind)
            .map(|((_, key), v)| (key.as_str(), v.as_str()))
    }

    /// Every kept value of one kind, read back from JSON; what no longer reads (a
    /// forgotten value is kept empty) is left out.
    pub fn kept<T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
    ) -> std::collections::BTreeMap<String, T> {
        self.of_kind(kind)
            .filter_map(|(k, v)| Some((k.to_string(), serde_json::from_str(v).ok()?)))
            .collect()
    }

    /// Adds what a batch delivers, so the batch itself sees it too.
    pub fn learn(&mut self, items: &[Remember]) {
        for r in items {
            self.items
                .insert((r.kind.clone(), r.key.clone()), r.value.clone());
        }
    }
}

/// The namespace that keeps each source's latest word on each linked person.
pub const PATIENT_SOURCES: &str = "patient-source";

/// What each source last said of the person keyed `criteria`: adapter → its Patient.
pub fn contributions(store: &Store, criteria: &str) -> Result<Said, StoreError> {
    let mut all = contributions_of(store, &[criteria.to_string()])?;
    Ok(all.remove(criteria).unwrap_or_default())
}

/// Adapter → what it last said of a person (its Patient).
pub type Said = std::collections::BTreeMap<String, serde_json::Value>;

/// [`contributions`] of many people, [`pieces`] of them a statement: criteria → what each
/// source said of that person; a person no source spoke of is not in the map.
pub fn contributions_of(
    store: &Store,
    criteria: &[String],
) -> Result<HashMap<String, Said>, StoreError> {
    let mut out: HashMap<String, Said> = HashMap::new();
    store.read(|tx| {
        for chunk in pieces(criteria) {
            let mut q = Query::reusable(
                "SELECT kind || '\u{1f}' || key AS a, value AS b FROM adapter_memory WHERE adapter = ?",
            );
            q.bind(Bind::Text(PATIENT_SOURCES.to_string()));
            in_list(&mut q, "kind", chunk.iter().map(|c| Bind::Text(c.clone())));
            for (a, value) in tx.pairs(&q)? {
                let (Some((kind, key)), Ok(v)) = (a.split_once('\u{1f}'), serde_json::from_str(&value))
                else {
                    continue;
                };
                out.entry(kind.to_string()).or_default().insert(key.to_string(), v);
            }
        }
        Ok::<_, StoreError>(())
    })?;
    Ok(out)
}

/// Writes (or overwrites) what `adapter` keeps.
pub fn save(tx: &mut dyn Tx, adapter: &str, items: &[Remember]) -> Result<(), StoreError> {
    // One statement may not set a row twice (PostgreSQL refuses): the last word wins.
    let mut last: HashMap<(&str, &str), usize> = HashMap::new();
    for (i, r) in items.iter().enumerate() {
        last.insert((r.kind.as_str(), r.key.as_str()), i);
    }
    let mut keep: Vec<usize> = last.into_values().collect();
    keep.sort_unstable();
    let items: Vec<&Remember> = keep.into_iter().map(|i| &items[i]).collect();
    for chunk in pieces(&items) {
        let mut q =
            Query::reusable("INSERT INTO adapter_memory (adapter, kind, key, value) VALUES ");
        for (i, r) in chunk.iter().enumerate() {
            q.push(if i == 0 {
                "(?, ?, ?, ?)"
            } else {
                ", (?, ?, ?, ?)"
            });
            q.bind(Bind::Text(adapter.to_string()));
            q.bind(Bind::Text(r.kind.clone()));
            q.bind(Bind::Text(r.key.clone()));
            q.bind(Bind::Text(r.value.clone()));
        }
        q.push(" ON CONFLICT (adapter, kind, key) DO UPDATE SET value = excluded.value");
        tx.execute(&q)?;
    }
    Ok(())
}
