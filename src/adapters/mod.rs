//! Source adapters: records from a GP system (EMIS-style CSV extracts), a mental-health trust
//! (RiO-style CSV) and a voluntary-sector CRM (Salesforce-style JSON) mapped into FHIR and
//! written as one transaction of conditional upserts keyed by source identifiers.
//!
//! An adapter only maps: [`SourceAdapter::map`] turns a batch's files into a [`Mapping`].
//! Linking people by NHS number, checking references, Provenance, writing and the report are
//! [`import`]'s, the same for every adapter. Adding an adapter is one module implementing the
//! trait and one line in [`ADAPTERS`].

pub mod command;
pub mod csv_table;
pub mod dates;
pub mod demo;
pub mod emis;
pub mod import;
pub mod memory;
pub mod model;
pub mod person;
pub mod report;
pub mod rio;
pub mod source;
pub mod tables;
pub mod vcse;

use std::path::Path;

pub use import::{ImportError, Importer, Step};
pub use memory::Memory;
pub use model::{BatchError, Mapping};
pub use report::Report;
pub use source::{SourceBatch, SourceFile};

/// Maps one source batch into FHIR resources.
pub trait SourceAdapter: Send + Sync {
    /// The name `--adapter` and `$ingest?adapter=` take.
    fn name(&self) -> &'static str;
    /// Maps the batch; `memory` holds what earlier batches left (see [`model::Remember`]).
    /// Rows it cannot take go in [`Mapping::rejected`]; a batch it cannot read at all is an
    /// error.
    fn map(&self, batch: &SourceBatch, memory: &Memory) -> Result<Mapping, BatchError>;
}

/// Makes an adapter from its configuration file (JSON), or from its built-in default.
type Constructor = fn(Option<&Path>) -> Result<Box<dyn SourceAdapter>, String>;

/// Every adapter the server knows, by name.
pub const ADAPTERS: &[(&str, Constructor)] = &[
    ("emis", emis::Emis::boxed),
    ("rio", rio::Rio::boxed),
    ("vcse", vcse::Vcse::boxed),
];

/// The adapter called `name`, configured from `config` if given.
pub fn adapter(name: &str, config: Option<&Path>) -> Result<Box<dyn SourceAdapter>, String> {
    let (_, make) = ADAPTERS.iter().find(|(n, _)| *n == name).ok_or_else(|| {
        format!(
            "there is no adapter '{name}'; the adapters are {}",
            ADAPTERS
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    make(config)
}

/// Reads an adapter's configuration: the file if given, else the built-in default.
pub fn config<T: serde::de::DeserializeOwned>(
    path: Option<&Path>,
    default: &str,
) -> Result<T, String> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| format!("cannot read the adapter configuration {}: {e}", p.display()))?,
        None => default.to_string(),
    };
    serde_json::from_str(&text).map_err(|e| format!("the adapter configuration is not valid: {e}"))
}
