//! Integration tests: the real server over HTTP, every storage case on SQLite and PostgreSQL.
//! Files follow the URL tree and the interactions of http.html.

mod fixtures;
mod helpers;

mod adapters;
mod capabilities;
mod conditional;
mod conformance;
mod create;
mod delete;
mod errors;
mod everything;
mod formats;
mod history;
mod ingest_emis;
mod ingest_rio;
mod ingest_vcse;
mod patch;
mod read;
mod search;
mod search_data;
mod search_params;
mod search_results;
mod store;
mod transaction;
mod update;
mod validate;
