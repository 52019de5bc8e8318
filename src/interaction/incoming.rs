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
    /// For an update compared before the write lock with the version its criteria found:
    /// what that showed, which `update` trusts while that version is still current.
    pub compared: Option<Compared>,
}

#[derive(Debug, Clone)]
pub enum Compared {
    /// Equal to this version. Its index rows were not worked out; `update` works them out
    /// should that version no longer be current.
    Unchanged(StoredVersion),
    /// Different from this version (resource id, version id).
    Changed(String, i64),
}

impl Compared {
    /// Whether the comparison was with the version `head` of `res_id`.
    pub fn with(&self, res_id: &str, head: i64) -> bool {
        match self {
            Compared::Unchanged(v) => v.res_id == res_id && v.version_id == head,
            Compared::Changed(id, vid) => id == res_id && *vid == head,
        }
    }
}

impl Incoming {
    pub fn new(res_type: &str, resource: Value) -> Incoming {
        let rows = index_rows(res_type, &resource);
        Incoming {
            resource,
            rows,
            draft: None,
            compared: None,
        }
    }

    /// An update whose content equals `current`: nothing to index unless `current` moves.
    pub fn unchanged(resource: Value, current: StoredVersion) -> Incoming {
        Incoming {
            resource,
            rows: IndexRows::default(),
            draft: None,
            compared: Some(Compared::Unchanged(current)),
        }
    }

    /// An update already found to differ from `current`: no second comparison with it.
    pub fn changed_from(mut self, current: &StoredVersion) -> Incoming {
        self.compared = Some(Compared::Changed(
            current.res_id.clone(),
            current.version_id,
        ));
        self
    }

    /// Renders version 1 under `id` now, for a create whose id is already chosen.
    pub fn drafted(mut self, id: &str) -> Result<Incoming, serde_json::Error> {
        self.draft = Some(Draft::new(&self.resource, id)?);
        Ok(self)
    }
}
