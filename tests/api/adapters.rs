//! Helpers for the adapter tests: a sample batch read from the repository, edited per test,
//! zipped and sent to `$ingest`; the report read back.

use std::io::Write;
use std::path::PathBuf;

use serde_json::Value;

use crate::helpers::{Resp, TestServer};

pub fn sample_dir(adapter: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/adapters")
        .join(adapter)
        .join("sample")
}

#[derive(Clone)]
pub struct Batch {
    pub files: Vec<(String, String)>,
}

impl Batch {
    pub fn sample(adapter: &str) -> Batch {
        let mut files: Vec<(String, String)> = std::fs::read_dir(sample_dir(adapter))
            .expect("sample folder")
            .map(|e| {
                let p = e.expect("entry").path();
                let name = p.file_name().expect("name").to_string_lossy().into_owned();
                (name, std::fs::read_to_string(&p).expect("sample file"))
            })
            .collect();
        files.sort();
        Batch { files }
    }

    /// The file's text changed by `f`; the change must happen.
    pub fn edit(mut self, file: &str, f: impl Fn(&str) -> String) -> Batch {
        let entry = self
            .files
            .iter_mut()
            .find(|(n, _)| n == file)
            .unwrap_or_else(|| panic!("no file {file} in the batch"));
        let changed = f(&entry.1);
        assert_ne!(changed, entry.1, "the edit of {file} changed nothing");
        entry.1 = changed;
        self
    }

    /// A file set to `text`, added if the batch lacks it.
    pub fn with(mut self, file: &str, text: &str) -> Batch {
        self.files.retain(|(n, _)| n != file);
        self.files.push((file.to_string(), text.to_string()));
        self
    }

    pub fn text(&self, file: &str) -> &str {
        &self
            .files
            .iter()
            .find(|(n, _)| n == file)
            .unwrap_or_else(|| panic!("no file {file}"))
            .1
    }

    pub fn zip(&self) -> Vec<u8> {
        let mut buf = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut buf);
            let opts = zip::write::SimpleFileOptions::default();
            for (name, text) in &self.files {
                z.start_file(name.as_str(), opts).expect("zip entry");
                z.write_all(text.as_bytes()).expect("zip write");
            }
            z.finish().expect("zip");
        }
        buf.into_inner()
    }

    /// Writes the batch into a folder, for the command line.
    pub fn write_to(&self, dir: &std::path::Path) {
        for (name, text) in &self.files {
            std::fs::write(dir.join(name), text).expect("write batch file");
        }
    }
}

/// The file's text with `column` set to `value` on the rows that start with `marker`.
pub fn set_column(text: &str, marker: &str, column: &str, value: &str) -> String {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let at = header
        .iter()
        .position(|h| *h == column)
        .unwrap_or_else(|| panic!("no column {column}"));
    let mut out = vec![header.join(",")];
    for l in lines {
        if l.starts_with(marker) {
            let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
            cells[at] = value.to_string();
            out.push(cells.join(","));
        } else {
            out.push(l.to_string());
        }
    }
    out.join("\r\n") + "\r\n"
}

pub async fn ingest(srv: &TestServer, adapter: &str, batch: &Batch) -> Resp {
    ingest_with(srv, &format!("$ingest?adapter={adapter}"), batch).await
}

pub async fn ingest_with(srv: &TestServer, path: &str, batch: &Batch) -> Resp {
    srv.send(
        "POST",
        path,
        &[("Content-Type", "application/zip")],
        Some(batch.zip()),
    )
    .await
}

/// The import report, read from `$ingest`'s Parameters.
#[derive(Debug)]
pub struct Report {
    pub created: u64,
    pub updated: u64,
    pub deleted: u64,
    pub unchanged: u64,
    pub rows: u64,
    /// (file, line, column, reason)
    pub rejected: Vec<(String, Option<u64>, Option<String>, String)>,
    pub unlinked: Vec<String>,
}

pub fn report(r: &Resp) -> Report {
    assert_eq!(r.status, 200, "$ingest: {}", r.text());
    let p = r.json();
    let params = p["parameter"].as_array().expect("parameters");
    let n = |name: &str| {
        params
            .iter()
            .find(|x| x["name"] == name)
            .and_then(|x| x["valueUnsignedInt"].as_u64())
            .unwrap_or_else(|| panic!("no {name} in {p}"))
    };
    let part = |x: &Value, name: &str| -> Option<Value> {
        x["part"]
            .as_array()?
            .iter()
            .find(|q| q["name"] == name)
            .cloned()
    };
    Report {
        created: n("created"),
        updated: n("updated"),
        deleted: n("deleted"),
        unchanged: n("unchanged"),
        rows: n("rows"),
        rejected: params
            .iter()
            .filter(|x| x["name"] == "rejected")
            .map(|x| {
                (
                    part(x, "file")
                        .and_then(|v| v["valueString"].as_str().map(str::to_string))
                        .unwrap_or_default(),
                    part(x, "line").and_then(|v| v["valueUnsignedInt"].as_u64()),
                    part(x, "column").and_then(|v| v["valueString"].as_str().map(str::to_string)),
                    part(x, "reason")
                        .and_then(|v| v["valueString"].as_str().map(str::to_string))
                        .unwrap_or_default(),
                )
            })
            .collect(),
        unlinked: params
            .iter()
            .filter(|x| x["name"] == "unlinked")
            .filter_map(|x| x["valueString"].as_str().map(str::to_string))
            .collect(),
    }
}

/// The one resource a search finds. Strict handling, so a parameter the server does not
/// know fails the test instead of being ignored and widening the match.
pub async fn one(srv: &TestServer, query: &str) -> Value {
    let r = srv
        .send("GET", query, &[("Prefer", "handling=strict")], None)
        .await;
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    let b = r.json();
    let entries = b["entry"].as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 1, "{query} should find one: {b}");
    entries[0]["resource"].clone()
}

/// How many resources a search matches (strict, as `one`).
pub async fn count(srv: &TestServer, query: &str) -> usize {
    crate::search_data::ordered_ids(srv, query).await.len()
}

/// The `Type/id` a search's one match has.
pub async fn address(srv: &TestServer, query: &str) -> String {
    let r = one(srv, query).await;
    format!(
        "{}/{}",
        r["resourceType"].as_str().expect("type"),
        r["id"].as_str().expect("id")
    )
}
