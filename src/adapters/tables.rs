//! A batch of CSV tables: each file matched to the table it holds and read against that
//! table's columns (renamed where a source names them its own way). A file no table claims
//! is reported with its row count, never silently passed over.

use foldhash::{HashMap, HashMapExt};

use super::csv_table::{Row, Table};
use super::model::{BatchError, Mapping, Rejection, Removal};
use super::source::{SourceBatch, SourceFile};

/// Table → (our column name → the source's), for sources configured with their own names.
pub type Renames = HashMap<String, HashMap<String, String>>;

/// A batch's tables, read and checked; several files of one table (several deliveries)
/// are read in name order.
pub struct Tables {
    by_name: Vec<(&'static str, Table)>,
}

impl Tables {
    /// Reads every file `table_of` names a table of `specs` (table, columns); `source` names
    /// the kind of extract in errors.
    pub fn read(
        batch: &SourceBatch,
        m: &mut Mapping,
        specs: &[(&'static str, &[&str])],
        table_of: impl Fn(&str) -> Option<&'static str>,
        renames: &Renames,
        source: &str,
    ) -> Result<Tables, BatchError> {
        let mut by_name = Vec::new();
        let mut problems = Vec::new();
        let none = HashMap::new();
        for f in &batch.files {
            let Some(t) = table_of(&f.name) else {
                m.rejected.push(unread(f));
                continue;
            };
            let columns = specs
                .iter()
                .find(|(n, _)| *n == t)
                .map_or(&[][..], |(_, c)| c);
            match Table::read_renamed(f, columns, renames.get(t).unwrap_or(&none)) {
                Ok(table) => by_name.push((t, table)),
                Err(e) => problems.extend(e.0),
            }
        }
        if !problems.is_empty() {
            return Err(BatchError(problems));
        }
        if by_name.is_empty() {
            let names: Vec<String> = specs
                .iter()
                .take(3)
                .map(|(n, _)| format!("{n}.csv"))
                .collect();
            return Err(BatchError::one(Rejection::file(
                "(batch)",
                format!("holds no {source} extract file ({}, …)", names.join(", ")),
            )));
        }
        m.rows = by_name.iter().map(|(_, t)| t.len() as u64).sum();
        Ok(Tables { by_name })
    }

    pub fn rows<'s>(&'s self, table: &'s str) -> impl Iterator<Item = Row<'s>> + 's {
        self.by_name
            .iter()
            .filter(move |(n, _)| *n == table)
            .flat_map(|(_, t)| t.rows())
    }
}

/// A file this adapter does not map is reported, never silently passed over.
fn unread(f: &SourceFile) -> Rejection {
    let lines = f
        .bytes
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        .saturating_sub(1);
    Rejection::file(
        &f.name,
        format!("is not an extract table this adapter maps; its {lines} rows were not imported"),
    )
}

/// Runs `map` over every row, putting a row's error among the rejected.
pub fn each<'a>(
    m: &mut Mapping,
    rows: impl Iterator<Item = Row<'a>>,
    mut map: impl FnMut(&mut Mapping, &Row<'a>) -> Result<(), Rejection>,
) {
    for row in rows {
        if let Err(r) = map(m, &row) {
            m.rejected.push(r);
        }
    }
}

/// [`each`] for a `map` that only adds to the mapping (no row depends on another's
/// outcome): the rows cut into one part per core, each mapped on a thread of its own, what
/// each part mapped added in row order.
pub fn each_on_cores<'a>(
    m: &mut Mapping,
    rows: Vec<Row<'a>>,
    map: impl Fn(&mut Mapping, &Row<'a>) -> Result<(), Rejection> + Sync,
) {
    let whole: &Mapping = m;
    let parts = crate::parallel::in_parts(rows, crate::parallel::MANY, |part| {
        let mut mapped = whole.part();
        each(&mut mapped, part.into_iter(), &map);
        mapped
    });
    for part in parts {
        m.append(part);
    }
}

/// A row whose `Deleted` column is true removes the record it keys; `true` when it did.
pub fn deleted(m: &mut Mapping, row: &Row<'_>, key: super::model::Key) -> Result<bool, Rejection> {
    if row.flag("Deleted")? {
        m.removals.push(Removal {
            key,
            origin: row.origin(),
        });
        return Ok(true);
    }
    Ok(false)
}
