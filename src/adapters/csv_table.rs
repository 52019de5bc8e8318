//! CSV files with a header row, checked against the columns an adapter expects: a missing or
//! unknown column refuses the file, naming it; each row keeps its line for error reports.

use foldhash::{HashMap, HashMapExt};

use super::model::{BatchError, Origin, Rejection};
use super::source::SourceFile;

pub struct Table {
    pub file: String,
    columns: HashMap<String, usize>,
    rows: Vec<(u64, csv::StringRecord)>,
}

impl Table {
    /// Reads `file`, whose header must hold exactly `expected` (in any order).
    pub fn read(file: &SourceFile, expected: &[&str]) -> Result<Table, BatchError> {
        Table::read_renamed(file, expected, &HashMap::new())
    }

    /// Reads `file`, whose header must hold exactly `expected`, each under the name
    /// `renames` gives it if any; rows answer to the names in `expected`.
    pub fn read_renamed(
        file: &SourceFile,
        expected: &[&str],
        renames: &HashMap<String, String>,
    ) -> Result<Table, BatchError> {
        let name = file.name.as_str();
        let bytes = file
            .bytes
            .strip_prefix(b"\xEF\xBB\xBF")
            .unwrap_or(&file.bytes);
        // The reader counts a CRLF record's start on the line before; plain LF counts right.
        let bytes: Vec<u8> = if bytes.contains(&b'\r') {
            let mut out = Vec::with_capacity(bytes.len());
            let mut it = bytes.iter().peekable();
            while let Some(&b) = it.next() {
                if !(b == b'\r' && it.peek() == Some(&&b'\n')) {
                    out.push(b);
                }
            }
            out
        } else {
            bytes.to_vec()
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(bytes.as_slice());
        let malformed = |e: csv::Error| {
            let line = e.position().map(|p| p.line());
            BatchError::one(Rejection {
                file: name.to_string(),
                line,
                column: None,
                reason: format!("is not well-formed CSV: {}", csv_reason(&e)),
            })
        };
        let header = reader.headers().map_err(malformed)?.clone();
        let source_name = |ours: &str| {
            renames
                .get(ours)
                .cloned()
                .unwrap_or_else(|| ours.to_string())
        };
        let expected: Vec<String> = expected.iter().map(|e| source_name(e)).collect();
        let ours: HashMap<String, String> = renames
            .iter()
            .map(|(o, s)| (s.clone(), o.clone()))
            .collect();
        let columns: HashMap<String, usize> = header
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let h = h.trim();
                (ours.get(h).cloned().unwrap_or_else(|| h.to_string()), i)
            })
            .collect();
        let mut problems = Vec::new();
        for (i, h) in header.iter().enumerate() {
            if !expected.iter().any(|e| e == h.trim()) {
                problems.push(Rejection {
                    file: name.to_string(),
                    line: Some(1),
                    column: Some(h.trim().to_string()),
                    reason: format!(
                        "column {} is named '{}', which this file does not have",
                        i + 1,
                        h.trim()
                    ),
                });
            }
        }
        for e in &expected {
            if !header.iter().any(|h| h.trim() == e) {
                problems.push(Rejection {
                    file: name.to_string(),
                    line: Some(1),
                    column: Some(e.to_string()),
                    reason: format!("the header has no column '{e}'"),
                });
            }
        }
        if !problems.is_empty() {
            return Err(BatchError(problems));
        }
        let mut rows = Vec::new();
        for rec in reader.records() {
            let rec = rec.map_err(malformed)?;
            let line = rec.position().map_or(0, |p| p.line());
            rows.push((line, rec));
        }
        Ok(Table {
            file: name.to_string(),
            columns,
            rows,
        })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn rows(&self) -> impl Iterator<Item = Row<'_>> {
        self.rows.iter().map(move |(line, record)| Row {
            table: self,
            line: *line,
            record,
        })
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("a row has {len} fields where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "it is not UTF-8".to_string(),
        _ => e.to_string(),
    }
}

#[derive(Clone, Copy)]
pub struct Row<'a> {
    table: &'a Table,
    line: u64,
    record: &'a csv::StringRecord,
}

impl<'a> Row<'a> {
    /// The trimmed value of a column, `None` when empty.
    pub fn get(&self, column: &str) -> Option<&'a str> {
        let i = *self.table.columns.get(column)?;
        self.record.get(i).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A value the row must have.
    pub fn required(&self, column: &str) -> Result<&'a str, Rejection> {
        self.get(column)
            .ok_or_else(|| self.reject(column, format!("{column} is empty")))
    }

    pub fn origin(&self) -> Origin {
        Origin {
            file: self.table.file.clone(),
            line: self.line,
        }
    }

    pub fn reject(&self, column: &str, reason: impl Into<String>) -> Rejection {
        Rejection::at(&self.origin(), Some(column), reason)
    }

    /// `true`/`false` (any case; EMIS also writes 1/0); empty is false.
    pub fn flag(&self, column: &str) -> Result<bool, Rejection> {
        match self.get(column).map(str::to_ascii_lowercase).as_deref() {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") => Ok(true),
            Some(other) => Err(self.reject(column, format!("'{other}' is not true or false"))),
        }
    }

    /// A `yyyy-MM-dd` column as a FHIR date.
    pub fn date(&self, column: &str) -> Result<Option<String>, Rejection> {
        self.parsed(column, |v| {
            super::dates::date(v).map(|d| d.format("%Y-%m-%d").to_string())
        })
    }

    /// A value parsed by `parse`, whose error text names what was expected.
    pub fn parsed<T>(
        &self,
        column: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, Rejection> {
        self.get(column)
            .map(|v| parse(v).map_err(|why| self.reject(column, format!("'{v}' {why}"))))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> SourceFile {
        SourceFile {
            name: "T.csv".into(),
            bytes: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn names_missing_and_unknown_columns() {
        let err = Table::read(&file("A,Bee\n1,2\n"), &["A", "B"])
            .err()
            .expect("refused");
        let cols: Vec<_> = err.0.iter().filter_map(|r| r.column.clone()).collect();
        assert_eq!(cols, ["Bee", "B"]);
    }

    #[test]
    fn rows_keep_their_lines_and_ragged_rows_refuse_the_file() {
        let t = Table::read(&file("A,B\r\n1,\r\n\"x\r\ny\",2\r\n"), &["A", "B"]).expect("reads");
        let rows: Vec<_> = t
            .rows()
            .map(|r| (r.origin().line, r.get("A"), r.get("B")))
            .collect();
        assert_eq!(rows, [(2, Some("1"), None), (3, Some("x\ny"), Some("2"))]);
        let err = Table::read(&file("A,B\n1,2,3\n"), &["A", "B"])
            .err()
            .expect("refused");
        assert_eq!(err.0[0].line, Some(2));
    }
}
