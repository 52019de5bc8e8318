//! EMIS CodeIds: Coding_ClinicalCode resolves a CodeId to SNOMED CT and Read v2, and
//! Coding_DrugCode to dm+d. Both are kept for later batches, whose coding files may hold just
//! a header. The original CodeId stays as a coding beside the national codes.

use std::sync::Mutex;

use foldhash::{HashMap, HashMapExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::memory::Memory;
use super::super::model::{coding, concept, Mapping, Remember, SNOMED};
use super::{code_system, Tables};
use crate::adapters::csv_table::Row;
use crate::adapters::model::Rejection;

pub const CLINICAL_CODE: &[&str] = &[
    "CodeId",
    "Term",
    "ReadTermId",
    "SnomedCTConceptId",
    "SnomedCTDescriptionId",
    "NationalCode",
    "NationalCodeCategory",
    "NationalDescription",
    "EmisCodeCategoryDescription",
    "ProcessingId",
    "ParentCodeId",
];

pub const DRUG_CODE: &[&str] = &["CodeId", "Term", "DmdProductCodeId", "ProcessingId"];

pub const READ_V2: &str = "http://read.info/readv2";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Clinical {
    term: Option<String>,
    read: Option<String>,
    snomed: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
struct Drug {
    term: Option<String>,
    dmd: Option<String>,
}

pub struct Codes {
    memory: Memory,
    /// The CodeableConcept of each CodeId already met in this batch: an extract names a few
    /// thousand codes over and over, and reading a code's record and building its concept
    /// for every row was a sixth of an observation row's mapping (callgrind). Rows are
    /// mapped on every core, hence the locks.
    clinical_seen: Mutex<HashMap<String, Value>>,
    drug_seen: Mutex<HashMap<String, Value>>,
}

const CLINICAL: &str = "clinical-code";
const DRUG: &str = "drug-code";

impl Codes {
    /// This batch's code tables on top of what earlier batches left.
    pub fn read(tables: &Tables, earlier: &Memory, m: &mut Mapping) -> Codes {
        let mut learned = Vec::new();
        for r in tables.rows("Coding_ClinicalCode") {
            let Some(id) = r.get("CodeId") else {
                m.rejected.push(r.reject("CodeId", "CodeId is empty"));
                continue;
            };
            let c = Clinical {
                term: r.get("Term").map(str::to_string),
                // A Read term id is the five-character code and a two-digit term number.
                read: r.get("ReadTermId").map(|t| t.chars().take(5).collect()),
                snomed: r.get("SnomedCTConceptId").map(str::to_string),
            };
            learned.push(remember(CLINICAL, id, &c));
        }
        for r in tables.rows("Coding_DrugCode") {
            let Some(id) = r.get("CodeId") else {
                m.rejected.push(r.reject("CodeId", "CodeId is empty"));
                continue;
            };
            let d = Drug {
                term: r.get("Term").map(str::to_string),
                dmd: r.get("DmdProductCodeId").map(str::to_string),
            };
            learned.push(remember(DRUG, id, &d));
        }
        let mut memory = earlier.clone();
        memory.learn(&learned);
        m.remember.extend(learned);
        Codes {
            memory,
            clinical_seen: Mutex::new(HashMap::new()),
            drug_seen: Mutex::new(HashMap::new()),
        }
    }

    /// The CodeableConcept of a clinical CodeId: SNOMED CT, Read v2 and the EMIS CodeId.
    /// An unknown CodeId rejects the row.
    pub fn clinical(&self, row: &Row<'_>, column: &str) -> Result<Value, Rejection> {
        self.concept(&self.clinical_seen, row, column, |row| {
            let (id, c): (&str, Clinical) =
                self.lookup(CLINICAL, "Coding_ClinicalCode", row, column)?;
            let term = c.term.as_deref();
            let mut codings = Vec::new();
            if let Some(s) = &c.snomed {
                codings.push(coding(SNOMED, s, term));
            }
            if let Some(r) = &c.read {
                codings.push(coding(READ_V2, r, term));
            }
            codings.push(coding(&code_system("code-id"), id, term));
            Ok(concept(codings, term))
        })
    }

    /// The concept of the CodeId in a row's `column`, built by `build` the first time the
    /// batch meets that CodeId. A CodeId that cannot be built is rejected in every row.
    fn concept(
        &self,
        seen: &Mutex<HashMap<String, Value>>,
        row: &Row<'_>,
        column: &str,
        build: impl FnOnce(&Row<'_>) -> Result<Value, Rejection>,
    ) -> Result<Value, Rejection> {
        let id = row.required(column)?;
        let lock = || seen.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(known) = lock().get(id) {
            return Ok(known.clone());
        }
        let built = build(row)?;
        lock().insert(id.to_string(), built.clone());
        Ok(built)
    }

    /// The code a row's CodeId column names, from this batch's `table` or an earlier one's;
    /// an unknown CodeId rejects the row.
    fn lookup<'r, T: serde::de::DeserializeOwned>(
        &self,
        kind: &str,
        table: &str,
        row: &Row<'r>,
        column: &str,
    ) -> Result<(&'r str, T), Rejection> {
        let id = row.required(column)?;
        let code = self
            .memory
            .get(kind, id)
            .and_then(|v| serde_json::from_str(v).ok())
            .ok_or_else(|| {
                row.reject(
                    column,
                    format!("CodeId {id} is in no {table} file of this or an earlier batch"),
                )
            })?;
        Ok((id, code))
    }

    /// Whether a clinical CodeId is known, and its SNOMED CT concept.
    pub fn snomed_of(&self, id: &str) -> Option<String> {
        self.memory
            .get(CLINICAL, id)
            .and_then(|v| serde_json::from_str::<Clinical>(v).ok())
            .and_then(|c| c.snomed)
    }

    /// The medication CodeableConcept of a drug CodeId: dm+d (a SNOMED CT concept) and the
    /// EMIS CodeId.
    pub fn drug(&self, row: &Row<'_>, column: &str) -> Result<Value, Rejection> {
        self.concept(&self.drug_seen, row, column, |row| {
            let (id, d): (&str, Drug) = self.lookup(DRUG, "Coding_DrugCode", row, column)?;
            let term = d.term.as_deref();
            let mut codings = Vec::new();
            if let Some(s) = &d.dmd {
                codings.push(coding(SNOMED, s, term));
            }
            codings.push(coding(&code_system("drug-code-id"), id, term));
            Ok(concept(codings, term))
        })
    }
}

fn remember<T: Serialize>(kind: &str, id: &str, value: &T) -> Remember {
    Remember {
        kind: kind.to_string(),
        key: id.to_string(),
        value: serde_json::to_string(value).unwrap_or_default(),
    }
}
