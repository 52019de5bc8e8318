//! Transaction and batch Bundles posted to the base (http.html#transaction, bundle.html).
//! A transaction is all or nothing: its entries run in one store transaction, and one
//! failing entry rolls everything back and answers with an OperationOutcome naming it. A
//! batch runs each entry on its own and answers each with its own status.
//!
//! `process` is the whole of it without HTTP, for the REST handler and for importers.

mod entry;
mod execute;
mod failure;
mod prepare;
mod references;
mod render;
mod resolve;

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::body::{parse_resource, read_limited};
use super::error::RestError;
use super::negotiate::{prefer, request_format, response_format, Prefer, Return};
use super::query::QueryParams;
use super::{blocking, AppState};
use crate::fhir::format::render as render_value;
use crate::fhir::format::Format;
use crate::profile::Policy;
use crate::store::{Isolation, Store, StoreError, Tx};
use entry::parse_entry;
pub use entry::{conditional, Entry, Method};
pub use execute::Outcome;
use execute::{execute, Context, Stream};
pub use failure::EntryError;
use prepare::{fresh_ids, prepare};
pub use references::{condition_key, conditional_references, encoded, form_encode, ReferenceMap};
use resolve::{has_conditions, resolve, Resolution};

/// `POST [base]` with a transaction or batch Bundle.
pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let fmt = response_format(&req, &QueryParams::from_request(&req))?;
    let prefer = prefer(&req);
    let format = request_format(&req)?;
    let bytes = read_limited(&req, payload, state.body_limit).await?;
    let store = state.store.clone();
    let base = state.base_url.clone();
    let policy = state.profiles.clone();
    // Checking a bundle of many resources is real work: it stays off the async workers.
    let json = blocking(move || {
        let bundle = parse_resource(&bytes, format, "Bundle")?;
        process(&store, &base, bundle, prefer, &policy)
    })
    .await?;
    let body = if fmt.format == Format::Json && !fmt.pretty {
        json
    } else {
        let v: Value =
            serde_json::from_slice(&json).map_err(|e| RestError::Internal(e.to_string()))?;
        render_value(&v, fmt.format, fmt.pretty).map_err(RestError::Internal)?
    };
    Ok(HttpResponse::Ok()
        .content_type(fmt.format.content_type())
        .body(body))
}

/// Processes a checked transaction or batch Bundle and returns the response Bundle as JSON.
pub fn process(
    store: &Store,
    base: &str,
    mut bundle: Value,
    prefer: Prefer,
    policy: &Policy,
) -> Result<Vec<u8>, RestError> {
    let raw: Vec<Value> = match bundle.get_mut("entry") {
        Some(Value::Array(entries)) => std::mem::take(entries),
        _ => Vec::new(),
    };
    match bundle.get("type").and_then(Value::as_str) {
        Some("transaction") => {
            let outcomes =
                transaction(store, base, raw, prefer, policy, Redo::Here, &|_, _| Ok(()))
                    .map_err(EntryError::into_rest)?;
            let items: Vec<Result<Outcome, RestError>> = outcomes.into_iter().map(Ok).collect();
            render::response_bundle("transaction-response", &items, base, prefer)
        }
        Some("batch") => {
            let items: Vec<Result<Outcome, RestError>> = raw
                .into_iter()
                .enumerate()
                .map(|(i, mut e)| batch_entry(store, base, i, &mut e, prefer, policy))
                .collect();
            render::response_bundle("batch-response", &items, base, prefer)
        }
        other => Err(RestError::BadRequest(format!(
            "POST to the base takes a Bundle of type transaction or batch, not {}",
            other.unwrap_or("one without a type")
        ))),
    }
}

/// Work run after a transaction's entries, in its database transaction, given their outcomes.
pub type Also<'a> = dyn Fn(&mut dyn Tx, &[Outcome]) -> Result<(), StoreError> + 'a;

/// Where a transaction is prepared again when one of its conditions resolves differently
/// under the write lock than before it (another writer committed a match in between).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redo {
    /// Here, from a copy of every resource kept for it: a client's bundle can be sent only
    /// once.
    Here,
    /// By the caller, from its source: the resources move into the preparation instead of
    /// being copied (the copy and its drop were a tenth of an import's work), and a changed
    /// resolution fails the transaction with `RestError::Conflict`, writing nothing.
    Caller,
}

/// Runs transaction entries (Bundle.entry values) all or nothing and, in the same database
/// transaction, `also` with the outcomes: how an importer writes what it keeps beside the
/// resources, and its Provenance of what changed. Each outcome is in its entry's place.
/// A `RestError::Conflict` means a condition found something else under the write lock
/// than before it: nothing was written, and the caller runs its batch again.
pub fn run(
    store: &Store,
    base: &str,
    entries: Vec<Value>,
    policy: &Policy,
    also: &Also<'_>,
) -> Result<Vec<Outcome>, RestError> {
    let entries = read(entries, base).map_err(EntryError::into_rest)?;
    run_entries(store, base, entries, policy, also)
}

/// [`run`] of entries built by the caller ([`conditional`], an importer's) instead of read
/// from JSON.
pub fn run_entries(
    store: &Store,
    base: &str,
    entries: Vec<Entry>,
    policy: &Policy,
    also: &Also<'_>,
) -> Result<Vec<Outcome>, RestError> {
    let prefer = Prefer {
        return_: Return::Minimal,
        strict: true,
    };
    let clock = std::time::Instant::now();
    Planned::of(store, base, entries, policy, Redo::Caller, clock)
        .and_then(|planned| planned.write(store, prefer, also))
        .map_err(EntryError::into_rest)
}

/// Reads a transaction's entries (Bundle.entry values), a big one on every core.
fn read(raw: Vec<Value>, base: &str) -> Result<Vec<Entry>, EntryError> {
    let numbered: Vec<(usize, Value)> = raw.into_iter().enumerate().collect();
    crate::parallel::map(numbered, crate::parallel::MANY, |(i, mut e)| {
        parse_entry(i, &mut e, base).map_err(|err| EntryError::new(i, err))
    })
    .into_iter()
    .collect()
}

fn transaction(
    store: &Store,
    base: &str,
    raw: Vec<Value>,
    prefer: Prefer,
    policy: &Policy,
    redo: Redo,
    also: &Also<'_>,
) -> Result<Vec<Outcome>, EntryError> {
    let planned = Planned::new(store, base, raw, policy, redo)?;
    planned.write(store, prefer, also)
}

/// A transaction read, resolved and prepared outside the write lock: the costly part, done
/// while other writers write.
pub struct Planned<'a> {
    base: &'a str,
    policy: &'a Policy,
    redo: Redo,
    entries: Vec<Entry>,
    fresh: foldhash::HashMap<usize, crate::fhir::ResourceId>,
    conditional: bool,
    /// What had committed when the conditions were resolved (see `Tx::change_mark`).
    mark: Option<String>,
    before: Resolution,
    prepared: prepare::Prepared,
    clock: std::time::Instant,
}

impl<'a> Planned<'a> {
    /// Reads the entries (Bundle.entry values), resolves their conditions and prepares what
    /// each writes.
    pub fn new(
        store: &Store,
        base: &'a str,
        raw: Vec<Value>,
        policy: &'a Policy,
        redo: Redo,
    ) -> Result<Planned<'a>, EntryError> {
        let clock = std::time::Instant::now();
        let entries = read(raw, base)?;
        Planned::of(store, base, entries, policy, redo, clock)
    }

    /// Resolves the conditions of entries already read and prepares what each writes.
    fn of(
        store: &Store,
        base: &'a str,
        mut entries: Vec<Entry>,
        policy: &'a Policy,
        redo: Redo,
        clock: std::time::Instant,
    ) -> Result<Planned<'a>, EntryError> {
        log::debug!("transaction: entries read at {:?}", clock.elapsed());
        let fresh = fresh_ids(&entries);
        let conditional = has_conditions(&entries);
        // Resolve and prepare outside the write lock; inside it, check nothing moved
        // meanwhile. The mark is taken first: whatever is written after it changes it.
        let (mark, before) = if conditional {
            store.read(|tx| {
                let mark = tx.change_mark()?;
                Ok::<_, EntryError>((Some(mark), resolve(tx, &entries, base)?))
            })?
        } else {
            (None, Resolution::default())
        };
        log::debug!("transaction: parsed and resolved at {:?}", clock.elapsed());
        // Without conditions nothing is resolved again under the lock, so nothing is
        // prepared again here; nor when the caller does it: the resources move out of their
        // entries instead of being copied (the copy and the drop of every resource's tree
        // were 3% of a transaction's instructions).
        let moved = (!conditional || redo == Redo::Caller)
            .then(|| entries.iter_mut().map(|e| e.resource.take()).collect());
        let prepared = prepare(&entries, moved, &fresh, &before, policy)?;
        log::debug!("transaction: prepared at {:?}", clock.elapsed());
        Ok(Planned {
            base,
            policy,
            redo,
            entries,
            fresh,
            conditional,
            mark,
            before,
            prepared,
            clock,
        })
    }

    /// Writes what was prepared, all or nothing, and then `also` with the outcomes, in one
    /// database transaction, as `prefer` asks. A big transaction's creates are prepared on
    /// a thread beside the writer, as it writes them.
    pub fn write(
        mut self,
        store: &Store,
        prefer: Prefer,
        also: &Also<'_>,
    ) -> Result<Vec<Outcome>, EntryError> {
        let later = self.prepared.later.take();
        let this = &self;
        let (written, chunks) = std::thread::scope(|s| {
            let mut stream = later.map(|later| {
                // Two chunks ahead at most: the writer is the slower side.
                let (send, take) = std::sync::mpsc::sync_channel(2);
                let positions = later.positions.clone();
                s.spawn(move || {
                    later.prepare(
                        &this.entries,
                        &this.prepared,
                        &this.before,
                        this.policy,
                        |chunk| send.send(chunk).is_ok(),
                    )
                });
                Stream {
                    positions,
                    take,
                    got: Vec::new(),
                }
            });
            let written = this.write_with(store, prefer, also, stream.as_mut());
            // The receiver goes here, so a preparer still sending stops before the scope
            // waits for it; the chunks received are kept to be freed with the rest.
            (written, stream.map(|s| s.got))
        });
        // Freeing a big transaction's entries, resources and index rows was 15% of an
        // import's samples on its own thread (perf), which the next batch waited for: a
        // thread of their own frees them, and the creates prepared beside the writer.
        if self.entries.len() >= crate::parallel::MANY {
            let Planned {
                entries,
                prepared,
                before,
                fresh,
                ..
            } = self;
            // Where no thread can be made, the closure and all it holds are freed here.
            let _ = std::thread::Builder::new()
                .name("transaction-free".into())
                .spawn(move || drop((entries, prepared, before, fresh, chunks)));
        }
        written
    }

    fn write_with(
        &self,
        store: &Store,
        prefer: Prefer,
        also: &Also<'_>,
        mut stream: Option<&mut Stream>,
    ) -> Result<Vec<Outcome>, EntryError> {
        let (entries, clock) = (&self.entries, self.clock);
        let cx = Context {
            base: self.base,
            strict: prefer.strict,
            policy: self.policy,
            keep_content: prefer.return_ == Return::Representation,
        };
        let isolation = if self.conditional {
            Isolation::Conditional
        } else {
            Isolation::Plain
        };
        let written = store.write(isolation, |tx| {
            log::debug!("transaction: write lock at {:?}", clock.elapsed());
            // Nothing written since the resolution (by the mark): it stands as it is.
            let standing = match &self.mark {
                Some(m) => tx.change_mark()? == *m,
                None => false,
            };
            let later = stream.as_deref_mut();
            let outcomes = if !self.conditional || standing {
                execute(tx, entries, &self.prepared, &cx, later)?
            } else {
                let now = resolve(tx, entries, self.base)?;
                log::debug!("transaction: resolved again at {:?}", clock.elapsed());
                if now == self.before {
                    execute(tx, entries, &self.prepared, &cx, later)?
                } else if self.redo == Redo::Caller {
                    return Err(EntryError::whole(RestError::Conflict(
                        "a condition of the transaction found something else once it could write; nothing was written".into(),
                    )));
                } else {
                    // Prepared again from the entries, which kept their resources: only a
                    // transaction that moved them leaves creates for later, and that one is
                    // unconditional or the caller's to redo.
                    let redone = prepare(entries, None, &self.fresh, &now, self.policy)?;
                    execute(tx, entries, &redone, &cx, None)?
                }
            };
            log::debug!("transaction: executed at {:?}", clock.elapsed());
            also(tx, &outcomes)?;
            log::debug!("transaction: also at {:?}", clock.elapsed());
            Ok(outcomes)
        });
        log::debug!("transaction: committed at {:?}", clock.elapsed());
        written
    }
}

/// One batch entry, on its own: its own transaction, its own outcome.
fn batch_entry(
    store: &Store,
    base: &str,
    index: usize,
    raw: &mut Value,
    prefer: Prefer,
    policy: &Policy,
) -> Result<Outcome, RestError> {
    let e = parse_entry(index, raw, base)?;
    let one = std::slice::from_ref(&e);
    let fresh = fresh_ids(one);
    let cx = Context {
        base,
        strict: prefer.strict,
        policy,
        keep_content: prefer.return_ == Return::Representation,
    };
    let run = |tx: &mut dyn crate::store::Tx| -> Result<Outcome, EntryError> {
        let res = resolve(tx, one, base)?;
        let prepared = prepare(one, None, &fresh, &res, policy)?;
        let mut out = execute(tx, one, &prepared, &cx, None)?;
        out.pop()
            .ok_or_else(|| EntryError::new(index, RestError::Internal("no outcome".into())))
    };
    let result = if e.method.writes() {
        let isolation = if has_conditions(one) {
            Isolation::Conditional
        } else {
            Isolation::Plain
        };
        store.write(isolation, run)
    } else {
        store.read(run)
    };
    result.map_err(|err| err.error)
}
