//! Salesforce-style query results (`{"totalSize", "done", "nextRecordsUrl", "records"}`) read
//! from a batch's JSON files, each record with where it sits in its file for error reports.

use serde_json::Value;

use super::super::dates;
use super::super::model::{BatchError, Origin, Rejection};
use super::super::source::SourceBatch;

pub struct Record<'a> {
    pub file: &'a str,
    /// The record's line in its file (where its Id is written), or its place in `records`.
    pub line: u64,
    pub value: &'a Value,
}

impl Record<'_> {
    pub fn object(&self) -> Option<&str> {
        self.value.get("attributes")?.get("type")?.as_str()
    }

    pub fn origin(&self) -> Origin {
        Origin {
            file: self.file.to_string(),
            line: self.line,
        }
    }

    pub fn reject(&self, field: &str, reason: impl Into<String>) -> Rejection {
        Rejection::at(&self.origin(), Some(field), reason)
    }

    /// A text field; `null`, absent and empty are all `None`. Numbers are given as text.
    pub fn str(&self, field: &str) -> Option<String> {
        match self.value.get(field)? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    pub fn required(&self, field: &str) -> Result<String, Rejection> {
        self.str(field)
            .ok_or_else(|| self.reject(field, format!("{field} is empty")))
    }

    /// A nested relationship's field, e.g. `RecordType.Name`.
    pub fn related(&self, relation: &str, field: &str) -> Option<String> {
        self.value
            .get(relation)?
            .get(field)?
            .as_str()
            .map(str::to_string)
    }

    pub fn flag(&self, field: &str) -> Result<bool, Rejection> {
        match self.value.get(field) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => Err(self.reject(field, format!("{other} is not true or false"))),
        }
    }

    pub fn date(&self, field: &str) -> Result<Option<String>, Rejection> {
        self.str(field)
            .map(|v| {
                dates::date(&v)
                    .map(|d| d.format("%Y-%m-%d").to_string())
                    .map_err(|why| self.reject(field, format!("'{v}' {why}")))
            })
            .transpose()
    }

    pub fn datetime(&self, field: &str) -> Result<Option<String>, Rejection> {
        self.str(field)
            .map(|v| {
                dates::salesforce_datetime(&v)
                    .map_err(|why| self.reject(field, format!("'{v}' {why}")))
            })
            .transpose()
    }
}

/// Every JSON file of the batch, parsed; a file that is not JSON, or not a query result,
/// refuses the batch, naming the file, line and column.
pub fn read(batch: &SourceBatch) -> Result<Vec<(String, String, Value)>, BatchError> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for f in &batch.files {
        let text = match std::str::from_utf8(&f.bytes) {
            Ok(t) => t.to_string(),
            Err(_) => {
                problems.push(Rejection::file(&f.name, "is not UTF-8 text"));
                continue;
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(v) if v.get("records").is_some_and(Value::is_array) => {
                out.push((f.name.clone(), text, v))
            }
            Ok(_) => problems.push(Rejection::file(
                &f.name,
                "is not a query result: it has no records array (totalSize, done, records)",
            )),
            Err(e) => problems.push(Rejection {
                file: f.name.clone(),
                line: Some(e.line() as u64),
                column: Some(format!("{}", e.column())),
                reason: format!("is not valid JSON: {e}"),
            }),
        }
    }
    if !problems.is_empty() {
        return Err(BatchError(problems));
    }
    if out.is_empty() {
        return Err(BatchError::one(Rejection::file(
            "(batch)",
            "holds no query result file (Contact.json, Case.json, …)",
        )));
    }
    Ok(out)
}

/// The records of every file, in file order.
pub fn records(files: &[(String, String, Value)]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    for (name, text, v) in files {
        let mut from = 0;
        for (i, r) in v["records"].as_array().into_iter().flatten().enumerate() {
            // The line where the record's Id is written; ids are unique within a result.
            let line = r
                .get("Id")
                .and_then(Value::as_str)
                .and_then(|id| text[from..].find(&format!("\"{id}\"")).map(|at| from + at))
                .map(|at| {
                    from = at;
                    text[..at].bytes().filter(|b| *b == b'\n').count() as u64 + 1
                })
                .unwrap_or(i as u64 + 1);
            out.push(Record {
                file: name,
                line,
                value: r,
            });
        }
    }
    out
}
