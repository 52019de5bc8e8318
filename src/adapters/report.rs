//! What an import did: counts of resources created, updated, deleted and unchanged, the
//! rows it rejected (file, line, column, reason) and the people it could not link.

use serde_json::{json, Value};

use super::model::Rejection;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub adapter: String,
    /// The batch's digest: the same files give the same digest.
    pub batch: String,
    /// Source rows read.
    pub rows: u64,
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub rejected: Vec<Rejection>,
    /// People kept as a Patient of their own because they have no NHS number: the source
    /// identifier of each.
    pub unlinked: Vec<String>,
}

impl Report {
    /// The report for people: one line of counts, then a line per rejected row.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} batch {}: {} rows; {} created, {} updated, {} deleted, {} unchanged, {} rejected, {} unlinked\n",
            self.adapter,
            &self.batch[..self.batch.len().min(12)],
            self.rows,
            self.created,
            self.updated,
            self.deleted,
            self.unchanged,
            self.rejected.len(),
            self.unlinked.len()
        );
        for r in &self.rejected {
            out.push_str(&format!("rejected: {r}\n"));
        }
        for u in &self.unlinked {
            out.push_str(&format!("unlinked (no NHS number): {u}\n"));
        }
        out
    }

    /// The report as the `$ingest` operation's output Parameters.
    pub fn parameters(&self) -> Value {
        let mut params = vec![
            json!({"name": "adapter", "valueCode": self.adapter}),
            json!({"name": "batch", "valueString": self.batch}),
        ];
        for (name, n) in [
            ("rows", self.rows),
            ("created", self.created),
            ("updated", self.updated),
            ("deleted", self.deleted),
            ("unchanged", self.unchanged),
            ("rejectedCount", self.rejected.len() as u64),
        ] {
            params.push(json!({"name": name, "valueUnsignedInt": n}));
        }
        for r in &self.rejected {
            let mut part = vec![
                json!({"name": "file", "valueString": r.file}),
                json!({"name": "reason", "valueString": r.reason}),
            ];
            if let Some(l) = r.line {
                part.push(json!({"name": "line", "valueUnsignedInt": l}));
            }
            if let Some(c) = &r.column {
                part.push(json!({"name": "column", "valueString": c}));
            }
            params.push(json!({"name": "rejected", "part": part}));
        }
        for u in &self.unlinked {
            params.push(json!({"name": "unlinked", "valueString": u}));
        }
        json!({"resourceType": "Parameters", "parameter": params})
    }
}
