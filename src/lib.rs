//! Carebridge: a FHIR R4 (4.0.1) server and facade for patient-held health records.
//!
//! # Layout
//! A request reads as a straight line: `rest` → `interaction` / `search` → `store` → `rest`.
//!
//! - [`rest`]: actix-web routes, content negotiation (JSON/XML), one file per interaction,
//!   errors mapped once to OperationOutcome.
//! - [`interaction`]: what create, update, delete and their conditional forms mean, run inside
//!   one store transaction.
//! - [`search`]: a FHIR query parsed into a plan and compiled to SQL with the access predicate
//!   ANDed in; the index rows a resource gets when written.
//! - [`store`]: SQLite or PostgreSQL behind one trait: heads, immutable versions, index rows.
//! - [`fhir`]: the R4 element table, structural validation, OperationOutcome, formats,
//!   `_summary`/`_elements`. fhirbolt is reached only through the `fhir-model` crate.
//! - [`server`]: configuration and start-up; [`bench`]: the load generator.

pub mod adapters;
pub mod bench;
pub mod fhir;
pub mod interaction;
pub mod parallel;
pub mod patch;
pub mod profile;
pub mod rest;
pub mod search;
pub mod server;
pub mod store;
