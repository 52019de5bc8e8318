//! One batch in: the adapter maps it, patients are linked by NHS number, references are
//! checked, and everything is written as one transaction of conditional upserts, with a
//! Provenance per patient of what changed and what the adapter keeps for later batches.
//! Re-importing the same batch changes nothing: identical content writes no version, and
//! where nothing changed no Provenance is written.

use std::collections::BTreeMap;

use foldhash::{HashMap, HashMapExt, HashSet};

use serde_json::{json, Value};

use super::memory::{self, Memory};
use super::model::{
    escape_token, BatchError, Key, Mapping, Origin, Rejection, Remember, Upsert, NHS_NUMBER,
    ODS_CODE, SYSTEM_BASE,
};
use super::report::Report;
use super::source::SourceBatch;
use super::{SourceAdapter, ADAPTERS};
use crate::fhir::ResourceId;
use crate::interaction::{format_instant, now_micros, resolve_one, token_finds, Incoming, Matches};
use crate::profile::Policy;
use crate::rest::transaction::{
    self, conditional_references, Entry, Method, Outcome, ReferenceMap,
};
use crate::rest::RestError;
use crate::search::{parse_conditional, Access, SearchPlan};
use crate::store::{Store, StoreError, StoredVersion, Tx};

/// Where an import is; `total` is 0 while it cannot be counted.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub stage: &'static str,
    pub done: u64,
    pub total: u64,
}

pub struct Importer<'a> {
    pub store: &'a Store,
    pub base: &'a str,
    pub policy: &'a Policy,
    /// Refuse the whole batch if any row is rejected.
    pub strict: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the batch was refused: {0}")]
    Batch(#[from] BatchError),
    #[error("the batch was refused: {} rows were rejected and a strict import takes all or nothing", .0.rejected.len())]
    Strict(Box<Report>),
    #[error("{0}")]
    Store(#[from] StoreError),
    /// The transaction refused the batch; `at` is the row whose record it refused.
    #[error("writing the batch failed{}: {error}", at.as_ref().map(|o| format!(" at {}, line {}", o.file, o.line)).unwrap_or_default())]
    Write {
        at: Option<Origin>,
        error: RestError,
    },
}

/// The identifier system of import batches, named as the Provenance's source entity.
fn batch_system() -> String {
    format!("{SYSTEM_BASE}/import-batch")
}

/// What each transaction entry was, to count its outcome.
enum Kind {
    /// Where the record came from, and whose it is.
    Upsert {
        origin: Origin,
        key: Key,
        patient: Option<Key>,
    },
    Removal(Origin),
}

/// How often a batch is mapped and written in all when, each time, another writer committed
/// something its conditions find between their resolution and the write.
const ATTEMPTS: usize = 3;

impl Importer<'_> {
    pub fn import(
        &self,
        adapter: &dyn SourceAdapter,
        batch: &SourceBatch,
        progress: &dyn Fn(Step),
    ) -> Result<Report, ImportError> {
        let mut attempt = 1;
        loop {
            match self.import_once(adapter, batch, progress) {
                // Nothing was written: map the batch again against what is there now.
                Err(ImportError::Write {
                    at: None,
                    error: RestError::Conflict(why),
                }) if attempt < ATTEMPTS => {
                    log::info!("import: {why}; mapping the batch again");
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    fn import_once(
        &self,
        adapter: &dyn SourceAdapter,
        batch: &SourceBatch,
        progress: &dyn Fn(Step),
    ) -> Result<Report, ImportError> {
        progress(Step {
            stage: "mapping",
            done: 0,
            total: 0,
        });
        let clock = std::time::Instant::now();
        let lap = |what: &str| log::debug!("import: {what} done at {:?}", clock.elapsed());
        let memory = Memory::load(self.store, adapter.name())?;
        let mut m = adapter.map(batch, &memory)?;
        lap("map");
        let mut report = Report {
            adapter: adapter.name().to_string(),
            batch: batch.digest(),
            rows: m.rows,
            rejected: std::mem::take(&mut m.rejected),
            ..Report::default()
        };
        let contributions = self.link(adapter.name(), &mut m, &mut report, progress)?;
        lap("link");
        let checked = self.check_references(&mut m, &mut report, progress)?;
        lap("check references");
        // A person is unlinked when their record holds no NHS number, whatever key found it.
        let has_nhs = |r: &Value| {
            r["identifier"]
                .as_array()
                .is_some_and(|ids| ids.iter().any(|i| i["system"] == NHS_NUMBER))
        };
        report.unlinked = m
            .upserts
            .iter()
            .filter(|u| u.merge && !has_nhs(&u.resource))
            .map(|u| format!("{}|{}", u.key.system, u.key.value))
            .collect();
        if self.strict && !report.rejected.is_empty() {
            return Err(ImportError::Strict(Box::new(report)));
        }
        let (entries, kinds) = entries(&mut m, checked, self.base)?;
        lap("entries");
        let count = entries.len() as u64;
        progress(Step {
            stage: "writing",
            done: 0,
            total: count,
        });
        let name = adapter.name();
        let digest = report.batch.clone();
        let also = |tx: &mut dyn Tx, outcomes: &[Outcome]| {
            memory::save(tx, name, &m.remember)?;
            memory::save(tx, memory::PATIENT_SOURCES, &contributions)?;
            provenances(tx, &m, &digest, &kinds, outcomes, self.base)
        };
        let outcomes = transaction::run_entries(self.store, self.base, entries, self.policy, &also)
            .map_err(|e| match e {
                RestError::InEntry { index, inner } => write_error(&kinds, index, *inner),
                other => ImportError::Write {
                    at: None,
                    error: other,
                },
            })?;
        lap("write");
        for (kind, o) in kinds.iter().zip(&outcomes) {
            match kind {
                Kind::Removal(_) if o.changed => report.deleted += 1,
                Kind::Upsert { .. } if o.status.as_u16() == 201 => report.created += 1,
                Kind::Upsert { .. } if o.changed => report.updated += 1,
                _ => report.unchanged += 1,
            }
        }
        progress(Step {
            stage: "done",
            done: count,
            total: count,
        });
        Ok(report)
    }

    /// Finds the resource a key names on the server, if exactly one.
    fn find(&self, key: &Key) -> Result<Option<StoredVersion>, StoreError> {
        self.store.read(|tx| find_in(tx, key, self.base))
    }

    /// [`Importer::find`] of many keys, those of the one-token form (all of an adapter's)
    /// in a few statements: a key found is in the map, with the one resource it names.
    fn find_all(&self, keys: &[&Key]) -> Result<HashMap<Key, StoredVersion>, StoreError> {
        let plans: Vec<Option<SearchPlan>> = keys.iter().map(|k| plan_of(k, self.base)).collect();
        let asked: Vec<(usize, &SearchPlan)> = plans
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.as_ref().map(|p| (i, p)))
            .collect();
        self.store.read(|tx| {
            let mut found = token_finds(tx, &asked)?;
            let mut out = HashMap::new();
            for (i, plan) in &asked {
                let matches = match found.remove(i) {
                    Some(m) => m,
                    None => resolve_one(tx, plan, &Access::Unrestricted)
                        .map_err(|e| StoreError::Internal(e.to_string()))?,
                };
                if let Matches::One(v) = matches {
                    out.insert(keys[*i].clone(), v);
                }
            }
            Ok(out)
        })
    }

    /// Links records of one person: resources that merge (Patients) are folded together
    /// within the batch and into the one already on the server that any of their keys
    /// finds. Every reference then names each resource by the key its entry is written under.
    fn link(
        &self,
        adapter: &str,
        m: &mut Mapping,
        report: &mut Report,
        progress: &dyn Fn(Step),
    ) -> Result<Vec<Remember>, StoreError> {
        let mut contributions = Vec::new();
        // The same person twice in one batch is one entry.
        let mut by_key: HashMap<Key, usize> = HashMap::new();
        let mut kept: Vec<Upsert> = Vec::with_capacity(m.upserts.len());
        for u in std::mem::take(&mut m.upserts) {
            match by_key.get(&u.key) {
                Some(&i) if u.merge => {
                    let first = &mut kept[i];
                    first.resource = merge(&first.resource, u.resource);
                    for a in u.aliases {
                        if !first.aliases.contains(&a) {
                            first.aliases.push(a);
                        }
                    }
                }
                // A later row about the same record supersedes an earlier one.
                Some(&i) => kept[i] = u,
                None => {
                    by_key.insert(u.key.clone(), kept.len());
                    kept.push(u);
                }
            }
        }
        // What the server holds under every key and alias of the people, and what each
        // source said of them, looked up together before the loop (which writes nothing).
        let asked: Vec<&Key> = kept
            .iter()
            .filter(|u| u.merge)
            .flat_map(|u| std::iter::once(&u.key).chain(&u.aliases))
            .collect();
        let on_server = self.find_all(&asked)?;
        let criteria: Vec<String> = asked.iter().map(|k| k.criteria()).collect();
        let said = memory::contributions_of(self.store, &criteria)?;
        let mut renamed: HashMap<Key, Key> = HashMap::new();
        let total = kept.iter().filter(|u| u.merge).count() as u64;
        let mut done = 0;
        let mut linked = Vec::with_capacity(kept.len());
        for mut u in kept {
            if u.merge {
                done += 1;
                if done % 500 == 0 {
                    progress(Step {
                        stage: "linking",
                        done,
                        total,
                    });
                }
                let by_key = on_server.get(&u.key).cloned();
                let by_alias = u
                    .aliases
                    .iter()
                    .find_map(|a| on_server.get(a).map(|found| (a.clone(), found.clone())));
                let found = match (by_key, by_alias) {
                    (Some(k), Some((a, f))) if k.res_id != f.res_id => {
                        report.rejected.push(Rejection::at(
                            &u.origin,
                            None,
                            format!(
                                "{}|{} is {}/{} on the server but {}|{} is {}/{}; merge the two by hand",
                                u.key.system, u.key.value, k.res_type, k.res_id, a.system, a.value, f.res_type, f.res_id
                            ),
                        ));
                        continue;
                    }
                    (Some(found), _) => Some(found),
                    (None, Some((alias, found))) => {
                        // Written under the key that finds it; the new one is in its identifiers.
                        let key = std::mem::replace(&mut u.key, alias);
                        u.aliases.retain(|a| *a != u.key);
                        u.aliases.push(key);
                        Some(found)
                    }
                    (None, None) => None,
                };
                // Each source's latest word on the person is kept; the record is all of them
                // merged in a fixed order, so importing any source again changes nothing.
                let criteria = u.key.criteria();
                u.resource["meta"]["source"] = json!(m.source);
                let mut sources = said.get(&criteria).cloned().unwrap_or_default();
                sources.insert(adapter.to_string(), u.resource.clone());
                contributions.push(Remember {
                    kind: criteria,
                    key: adapter.to_string(),
                    value: u.resource.to_string(),
                });
                u.resource = merge_sources(found.as_ref().and_then(content), &sources);
            }
            for a in &u.aliases {
                renamed.insert(a.clone(), u.key.clone());
            }
            linked.push(u);
        }
        let rename: ReferenceMap = renamed
            .iter()
            .map(|(from, to)| (from.condition(), to.condition()))
            .collect();
        let each: Vec<&mut Upsert> = linked.iter_mut().collect();
        crate::parallel::map(each, crate::parallel::MANY, |u| {
            rename_references(&mut u.resource, &rename);
            if let Some(to) = u.patient.as_ref().and_then(|p| renamed.get(p)) {
                u.patient = Some(to.clone());
            }
        });
        m.upserts = linked;
        self.withdraw(adapter, m, &mut contributions)?;
        Ok(contributions)
    }

    /// A person's record deleted by one source withdraws that source's word: the Patient
    /// is rebuilt from what the other sources said, without this source's identifiers, and
    /// deleted only when no other source holds it.
    fn withdraw(
        &self,
        adapter: &str,
        m: &mut Mapping,
        contributions: &mut Vec<Remember>,
    ) -> Result<(), StoreError> {
        let mut removals = Vec::with_capacity(m.removals.len());
        for r in std::mem::take(&mut m.removals) {
            let found = match r.key.res_type.as_str() {
                "Patient" => self.find(&r.key)?.as_ref().and_then(content),
                _ => None,
            };
            let Some(mut existing) = found else {
                removals.push(r);
                continue;
            };
            let nhs = existing["identifier"].as_array().and_then(|ids| {
                ids.iter()
                    .find(|i| i["system"] == NHS_NUMBER)
                    .and_then(|i| i["value"].as_str().map(str::to_string))
            });
            let key = nhs.map_or_else(|| r.key.clone(), |n| Key::new("Patient", NHS_NUMBER, n));
            let criteria = key.criteria();
            let mut sources = memory::contributions(self.store, &criteria)?;
            let mine = sources.remove(adapter);
            contributions.push(Remember {
                kind: criteria,
                key: adapter.to_string(),
                value: String::new(),
            });
            if sources.is_empty() {
                removals.push(r);
                continue;
            }
            let gone: HashSet<String> = mine
                .iter()
                .chain(std::iter::once(
                    &json!({"identifier": [r.key.identifier()]}),
                ))
                .flat_map(|c| c["identifier"].as_array().cloned().unwrap_or_default())
                .filter_map(|i| i["system"].as_str().map(str::to_string))
                .filter(|s| s != NHS_NUMBER)
                .collect();
            if let Some(ids) = existing["identifier"].as_array_mut() {
                ids.retain(|i| !i["system"].as_str().is_some_and(|s| gone.contains(s)));
            }
            let resource = merge_sources(Some(existing), &sources);
            m.upserts
                .push(Upsert::new(key.clone(), Some(key), resource, r.origin));
        }
        m.removals = removals;
        Ok(())
    }

    /// Rejects every upsert that refers to something neither the batch nor the server has,
    /// and then whatever referred to those, until what is left is whole. Returns what its
    /// transaction entry needs of each kept upsert, in order.
    fn check_references(
        &self,
        m: &mut Mapping,
        report: &mut Report,
        progress: &dyn Fn(Step),
    ) -> Result<Vec<Checked>, StoreError> {
        // Keys and references compared as the transaction will resolve them.
        let conditions: Vec<String> = m.upserts.iter().map(|u| u.key.condition()).collect();
        let mut available: HashSet<&str> = conditions.iter().map(String::as_str).collect();
        let each: Vec<&Upsert> = m.upserts.iter().collect();
        let refs: Vec<Vec<String>> = crate::parallel::map(each, crate::parallel::MANY, |u| {
            conditional_references(&u.resource)
        });
        let outside: HashSet<&String> = refs
            .iter()
            .flatten()
            .filter(|r| !available.contains(r.as_str()))
            .collect();
        progress(Step {
            stage: "checking references",
            done: 0,
            total: outside.len() as u64,
        });
        // Looked up together, as linking looks up people.
        let keys: Vec<(&String, Key)> = outside
            .into_iter()
            .filter_map(|r| Some((r, parse_key(r)?)))
            .collect();
        let asked: Vec<&Key> = keys.iter().map(|(_, k)| k).collect();
        let found = self.find_all(&asked)?;
        let on_server: HashSet<&String> = keys
            .iter()
            .filter(|(_, k)| found.contains_key(k))
            .map(|(r, _)| *r)
            .collect();
        let mut keep = vec![true; m.upserts.len()];
        // With profiles enforced, a record that breaks one is its row's fault, not the batch's.
        for (i, u) in m.upserts.iter().enumerate() {
            if let Err(issues) = self.policy.enforce(&u.resource) {
                let why: Vec<String> = issues
                    .iter()
                    .map(|i| match &i.expression {
                        Some(e) => format!("{e}: {}", i.diagnostics),
                        None => i.diagnostics.clone(),
                    })
                    .collect();
                report.rejected.push(Rejection::at(
                    &u.origin,
                    None,
                    format!(
                        "its {} breaks an enforced profile: {}",
                        u.key.res_type,
                        why.join("; ")
                    ),
                ));
                keep[i] = false;
                available.remove(conditions[i].as_str());
            }
        }
        loop {
            let mut changed = false;
            for (i, u) in m.upserts.iter().enumerate() {
                if !keep[i] {
                    continue;
                }
                let missing = refs[i]
                    .iter()
                    .find(|r| !available.contains(r.as_str()) && !on_server.contains(*r));
                if let Some(r) = missing {
                    report.rejected.push(Rejection::at(
                        &u.origin,
                        None,
                        format!(
                            "it refers to {}, which neither this batch nor the server holds",
                            parse_key(r).map_or_else(
                                || r.clone(),
                                |k| format!(
                                    "the {} with identifier {}|{}",
                                    k.res_type, k.system, k.value
                                )
                            )
                        ),
                    ));
                    keep[i] = false;
                    available.remove(conditions[i].as_str());
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut flags = keep.iter();
        m.upserts.retain(|_| flags.next().copied().unwrap_or(false));
        Ok(conditions
            .into_iter()
            .zip(refs)
            .zip(keep)
            .filter(|(_, kept)| *kept)
            .map(|((condition, references), _)| Checked {
                condition,
                references,
            })
            .collect())
    }
}

/// What the reference check found of an upsert that its transaction entry needs: the
/// condition it is written under and the conditional references its resource holds.
struct Checked {
    condition: String,
    references: Vec<String>,
}

/// The transaction's entries, deletes and then upserts, built on every core; `checked` is
/// what `check_references` found of each upsert, in order.
fn entries(
    m: &mut Mapping,
    checked: Vec<Checked>,
    base: &str,
) -> Result<(Vec<Entry>, Vec<Kind>), ImportError> {
    // One each, in order, by construction; were they not, a row would go unwritten unsaid.
    if checked.len() != m.upserts.len() {
        return Err(ImportError::Write {
            at: None,
            error: RestError::Internal(format!(
                "{} upserts but {} checked",
                m.upserts.len(),
                checked.len()
            )),
        });
    }
    let mut kinds = Vec::with_capacity(m.removals.len() + m.upserts.len());
    let mut work: Vec<(usize, String, Option<Value>, Vec<String>)> =
        Vec::with_capacity(kinds.capacity());
    for r in &m.removals {
        work.push((work.len(), r.key.condition(), None, Vec::new()));
        kinds.push(Kind::Removal(r.origin.clone()));
    }
    for (u, c) in m.upserts.iter_mut().zip(checked) {
        // The resources move into the entries; the mapping keeps their keys and origins.
        let mut resource = std::mem::take(&mut u.resource);
        // A linked person's record names the source that had the last word (set in `link`).
        if resource["meta"].get("source").is_none() {
            resource["meta"]["source"] = json!(m.source);
        }
        work.push((work.len(), c.condition, Some(resource), c.references));
        kinds.push(Kind::Upsert {
            origin: u.origin.clone(),
            key: u.key.clone(),
            patient: u.patient.clone(),
        });
    }
    let built = crate::parallel::map(work, crate::parallel::MANY, |(i, url, resource, refs)| {
        let method = match resource {
            Some(_) => Method::Put,
            None => Method::Delete,
        };
        transaction::conditional(i, method, &url, resource, refs, base).map_err(|e| (i, e))
    });
    let entries = built
        .into_iter()
        .collect::<Result<Vec<Entry>, _>>()
        .map_err(|(i, error)| write_error(&kinds, i, error))?;
    Ok((entries, kinds))
}

/// The transaction's refusal of entry `index`, at the row it came from.
fn write_error(kinds: &[Kind], index: usize, error: RestError) -> ImportError {
    ImportError::Write {
        at: match kinds.get(index) {
            Some(Kind::Upsert { origin: o, .. } | Kind::Removal(o)) => Some(o.clone()),
            None => None,
        },
        error,
    }
}

/// The search a key stands for; `None` for one no search can be made of (it finds nothing).
fn plan_of(key: &Key, base: &str) -> Option<SearchPlan> {
    let pairs = [(
        "identifier".to_string(),
        format!("{}|{}", key.system, escape_token(&key.value)),
    )];
    parse_conditional(&key.res_type, &pairs, base).ok()
}

/// The resource a key names, if exactly one.
fn find_in(tx: &mut dyn Tx, key: &Key, base: &str) -> Result<Option<StoredVersion>, StoreError> {
    let Some(plan) = plan_of(key, base) else {
        return Ok(None);
    };
    match resolve_one(tx, &plan, &Access::Unrestricted) {
        Ok(Matches::One(v)) => Ok(Some(v)),
        Ok(_) => Ok(None),
        Err(e) => Err(StoreError::Internal(e.to_string())),
    }
}

/// Provenances from which they are built on every core: each names a patient's records of
/// the batch (about 20 in an EMIS batch), so a few hundred are work of thousands of rows.
const PROVENANCES_ON_CORES: usize = 100;

/// After the entries ran, in the same database transaction: a Provenance per patient of what
/// the batch created or changed (each version named), authored by the sending organisation.
/// One per patient, so it sits in that patient's compartment, where the patient sees it, and
/// names no one else; none where nothing changed, so a batch sent again adds nothing.
fn provenances(
    tx: &mut dyn Tx,
    m: &Mapping,
    digest: &str,
    kinds: &[Kind],
    outcomes: &[Outcome],
    base: &str,
) -> Result<(), StoreError> {
    let mut groups: BTreeMap<Option<&Key>, Vec<String>> = BTreeMap::new();
    // The Patients this batch wrote, changed or not, are known without a search.
    let mut patient_ids: HashMap<&Key, &str> = HashMap::new();
    for (kind, o) in kinds.iter().zip(outcomes) {
        if let (Kind::Upsert { key, .. }, Some(v)) = (kind, &o.version) {
            if v.res_type == "Patient" {
                patient_ids.insert(key, &v.res_id);
            }
        }
    }
    for (kind, o) in kinds.iter().zip(outcomes) {
        let (Kind::Upsert { patient, .. }, true, Some(v)) = (kind, o.changed, &o.version) else {
            continue;
        };
        groups.entry(patient.as_ref()).or_default().push(format!(
            "{}/{}/_history/{}",
            v.res_type, v.res_id, v.version_id
        ));
    }
    let recorded = format_instant(now_micros());
    let mut each: Vec<Vec<String>> = Vec::with_capacity(groups.len());
    for (patient, mut targets) in groups {
        // The patient is named even when only their other records changed.
        if let Some(p) = patient {
            let id = match patient_ids.get(p) {
                Some(id) => Some(id.to_string()),
                None => find_in(tx, p, base)?.map(|v| v.res_id),
            };
            if let Some(id) = id {
                let current = format!("Patient/{id}/");
                if !targets.iter().any(|t| t.starts_with(&current)) {
                    targets.insert(0, format!("Patient/{id}"));
                }
            }
        }
        each.push(targets);
    }
    // Built, indexed and rendered on every core: a batch's Provenances name all its
    // resources, each with a reference row.
    let written = crate::parallel::map(each, PROVENANCES_ON_CORES, |targets| {
        let mut agent = json!({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type", "code": "author", "display": "Author"}]},
            "who": {"identifier": {"system": ODS_CODE, "value": m.sender.ods}}
        });
        if let Some(n) = &m.sender.name {
            agent["who"]["display"] = json!(n);
        }
        let provenance = json!({
            "resourceType": "Provenance",
            "target": targets.iter().map(|t| json!({"reference": t})).collect::<Vec<_>>(),
            "recorded": recorded,
            "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "UPDATE", "display": "revise"}]},
            "agent": [agent],
            "entity": [{"role": "source", "what": {"identifier": {"system": batch_system(), "value": format!("{}:{digest}", m.source)}, "display": format!("{} batch", m.source)}}]
        });
        let id = ResourceId::generate();
        let incoming = Incoming::new("Provenance", provenance).drafted(id.as_str());
        incoming.map(|i| (id, i))
    })
    .into_iter()
    .collect::<Result<Vec<(ResourceId, Incoming)>, _>>()
    .map_err(|e| StoreError::Internal(format!("cannot serialise a Provenance: {e}")))?;
    // All in a few multi-row statements, as the transaction writes its creates.
    let items: Vec<(&str, &ResourceId, &Incoming)> = written
        .iter()
        .map(|(id, incoming)| ("Provenance", id, incoming))
        .collect();
    crate::interaction::insert_many(tx, &items)
        .map(|_| ())
        .map_err(|e| StoreError::Internal(e.to_string()))
}

fn rename_references(v: &mut Value, rename: &ReferenceMap) {
    match v {
        Value::Object(o) => {
            for (k, c) in o.iter_mut() {
                match c {
                    Value::String(s) if k == "reference" => {
                        if let Some(to) = rename.get(s.as_str()) {
                            *s = to.clone();
                        }
                    }
                    other => rename_references(other, rename),
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|c| rename_references(c, rename)),
        _ => {}
    }
}

/// The key of a criteria string one of our keys wrote.
fn parse_key(criteria: &str) -> Option<Key> {
    let (t, q) = criteria.split_once("?identifier=")?;
    let rt = crate::fhir::ResourceType::parse(t)?;
    let decoded: String = form_urlencoded::parse(format!("v={q}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())?;
    let (system, value) = decoded.split_once('|')?;
    let mut unescaped = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            unescaped.extend(chars.next());
        } else {
            unescaped.push(c);
        }
    }
    Some(Key::new(rt.as_str(), system, unescaped))
}

/// A person's record from every source's contribution, over what the server holds: sources
/// later in [`ADAPTERS`]' reverse order win, so the GP record has the last word.
fn merge_sources(existing: Option<Value>, sources: &BTreeMap<String, Value>) -> Value {
    let mut merged = existing
        .clone()
        .unwrap_or_else(|| json!({"resourceType": "Patient"}));
    let rank = |name: &str| {
        ADAPTERS
            .iter()
            .rev()
            .position(|(n, _)| *n == name)
            .map_or(-1, |p| p as i64)
    };
    let mut names: Vec<&String> = sources.keys().collect();
    names.sort_by_key(|n| (rank(n), n.to_string()));
    for n in names {
        merged = merge(&merged, sources[n].clone());
    }
    if let Some(id) = existing.as_ref().and_then(|e| e.get("id")) {
        merged["id"] = id.clone();
    }
    merged
}

fn content(v: &StoredVersion) -> Option<Value> {
    v.content
        .as_deref()
        .and_then(|c| serde_json::from_str::<Value>(c).ok())
}

/// One person's record from two sources: the incoming source's elements win, elements only
/// the existing record has are kept, and identifiers are the union (the incoming one for a
/// system both have), in a stable order so the same inputs merge to the same content.
pub fn merge(existing: &Value, incoming: Value) -> Value {
    let (Some(old), Value::Object(mut new)) = (existing.as_object(), incoming) else {
        return existing.clone();
    };
    // Extensions are one element each, by url: another source's stay beside this one's.
    if let Some(theirs) = old.get("extension").and_then(Value::as_array) {
        let mut ours: Vec<Value> = new
            .get("extension")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for e in theirs {
            if !ours.iter().any(|o| o.get("url") == e.get("url")) {
                ours.push(e.clone());
            }
        }
        ours.sort_by(|a, b| {
            let url = |v: &Value| {
                v.get("url")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            url(a).cmp(&url(b))
        });
        new.insert("extension".into(), Value::Array(ours));
    }
    // Security labels of any source stay: one source's restriction binds the whole record.
    let mut labels: Vec<Value> = Vec::new();
    for m in [old.get("meta"), new.get("meta")].into_iter().flatten() {
        for l in m
            .get("security")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
    }
    let source = [new.get("meta"), old.get("meta")]
        .into_iter()
        .flatten()
        .find_map(|m| m.get("source").cloned());
    let mut meta = serde_json::Map::new();
    if let Some(s) = source {
        meta.insert("source".into(), s);
    }
    if !labels.is_empty() {
        meta.insert("security".into(), Value::Array(labels));
    }
    if meta.is_empty() {
        new.remove("meta");
    } else {
        new.insert("meta".into(), Value::Object(meta));
    }
    for (k, v) in old {
        if matches!(k.as_str(), "meta" | "text" | "id") {
            continue;
        }
        if !new.contains_key(k) {
            new.insert(k.clone(), v.clone());
        }
    }
    let mut ids: Vec<Value> = new
        .get("identifier")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let systems: HashSet<String> = ids
        .iter()
        .filter_map(|i| i.get("system").and_then(Value::as_str).map(str::to_string))
        .collect();
    for i in old
        .get("identifier")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = i.get("system").and_then(Value::as_str).unwrap_or("");
        if !systems.contains(s) {
            ids.push(i.clone());
        }
    }
    let rank = |i: &Value| {
        let s = i
            .get("system")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        (
            s != NHS_NUMBER,
            s,
            i.get("value")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
        )
    };
    ids.sort_by_key(rank);
    if !ids.is_empty() {
        new.insert("identifier".into(), Value::Array(ids));
    }
    Value::Object(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_other_sources_identifiers_and_elements() {
        let existing = json!({"resourceType": "Patient", "id": "p",
            "identifier": [{"system": NHS_NUMBER, "value": "9991000011"}, {"system": "emis", "value": "E"}],
            "address": [{"postalCode": "LS1 1AA"}], "gender": "male"});
        let incoming = json!({"resourceType": "Patient",
            "identifier": [{"system": "rio", "value": "R"}, {"system": NHS_NUMBER, "value": "9991000011"}],
            "gender": "female"});
        let merged = merge(&existing, incoming);
        assert_eq!(merged["gender"], "female");
        assert_eq!(merged["address"][0]["postalCode"], "LS1 1AA");
        let systems: Vec<&str> = merged["identifier"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(|i| i["system"].as_str())
            .collect();
        assert_eq!(systems, [NHS_NUMBER, "emis", "rio"]);
        assert_eq!(merge(&merged, merged.clone()), merged);
    }

    #[test]
    fn criteria_parse_back_to_their_keys() {
        let k = Key::new("Patient", "https://x.example/id", "{A|1,2}");
        assert_eq!(parse_key(&k.criteria()), Some(k.clone()));
        assert_eq!(parse_key(&k.condition()), Some(k));
    }

    #[test]
    fn a_keys_condition_is_the_key_a_transaction_makes_of_its_criteria() {
        use crate::rest::transaction::condition_key;
        for k in [
            Key::new("Patient", NHS_NUMBER, "9990000018"),
            Key::new("Observation", "https://x.example/id", "{A|1,2} \\ $x"),
            Key::new("Patient", "urn:oid:1.2.3", "Zoë Ärger"),
        ] {
            let criteria = k.criteria();
            let (t, q) = criteria.split_once('?').expect("criteria");
            assert_eq!(k.condition(), condition_key(t, q), "{k:?}");
            // Already in that form, it comes back as it is.
            let condition = k.condition();
            let (t, q) = condition.split_once('?').expect("condition");
            assert_eq!(condition_key(t, q), condition, "{k:?}");
        }
    }
}
