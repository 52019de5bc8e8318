//! A resource on its way in, with its search index rows worked out before any transaction
//! begins: extraction is the costly part of a write, and SQLite admits one writer at a time,
//! so it must not happen while the write lock is held.

use serde_json::Value;

use super::stamp::Draft;
use crate::search::index_rows;
use crate::store::{IndexRows, StoredVersion};

#[derive(Debug, Clone)]
pub struct Incoming {
    pub resource: Value,
    /// Rows of every parameter but `_id` and `_lastUpdated`, which the server sets and which
    /// searches answer from the resource table instead.
    pub rows: IndexRows,
    /// For a create under an id chosen beforehand: version 1, rendered.
    pub draft: Option<Draft>,
    /// For an update found unchanged before the write lock: the version it equals. Its
    /// index rows were not worked out; `update` works them out should that version no
    /// longer be current.
    pub unchanged_from: Option<StoredVersion>,
}

impl Incoming {
    pub fn new(res_type: &str, resource: Value) -> Incoming {
        let rows = index_rows(res_type, &resource);
        Incoming {
            resource,
            rows,
            draft: None,
            unchanged_from: None,
        }
    }

    /// An update whose content equals `current`: nothing to index unless `current` moves.
    pub fn unchanged(resource: Value, current: StoredVersion) -> Incoming {
        Incoming {
            resource,
            rows: IndexRows::default(),
            draft: None,
            unchanged_from: Some(current),
        }
    }

    /// Renders version 1 under `id` now, for a create whose id is already chosen.
    pub fn drafted(mut self, id: &str) -> Result<Incoming, serde_json::Error> {
        self.draft = Some(Draft::new(&self.resource, id)?);
        Ok(self)
    }
}
