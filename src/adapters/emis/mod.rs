//! EMIS-style GP extracts: a folder of CSV deltas named `{Schema}_{Table}.csv` or in EMIS's
//! delivery form `{ProcessingId}_{Schema}_{Table}_{yyyyMMddHHmmss}_{SharingAgreementGuid}.csv`,
//! columns as EMIS's extract specification v5.3. `Deleted=true` removes a record. Code tables
//! are kept between batches: a later batch may use a CodeId delivered only in an earlier one.

mod admin;
mod care_record;
mod codes;
mod prescribing;

/// The columns of each table, for tools that write extracts (the import benchmark).
pub mod columns {
    pub use super::admin::{ORGANISATION, PATIENT, USER_IN_ROLE};
    pub use super::care_record::{CONSULTATION, OBSERVATION, PROBLEM};
    pub use super::codes::{CLINICAL_CODE, DRUG_CODE};
    pub use super::prescribing::DRUG_RECORD;
}

use std::path::Path;

use serde::Deserialize;

use super::memory::Memory;
use super::model::{
    BatchError, Key, Mapping, Rejection, Remember, Sender, CODE_SYSTEM_BASE, SYSTEM_BASE,
};
use super::source::SourceBatch;
pub(crate) use super::tables::{deleted, each, each_on_cores};
use super::tables::{Renames, Tables};
use super::SourceAdapter;
use codes::Codes;

/// The tables this adapter reads, with their columns.
const TABLES: &[(&str, &[&str])] = &[
    ("Admin_Organisation", admin::ORGANISATION),
    ("Admin_UserInRole", admin::USER_IN_ROLE),
    ("Admin_Patient", admin::PATIENT),
    ("Coding_ClinicalCode", codes::CLINICAL_CODE),
    ("Coding_DrugCode", codes::DRUG_CODE),
    ("CareRecord_Consultation", care_record::CONSULTATION),
    ("CareRecord_Problem", care_record::PROBLEM),
    ("CareRecord_Observation", care_record::OBSERVATION),
    ("Prescribing_DrugRecord", prescribing::DRUG_RECORD),
];

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// The sender when neither this batch nor an earlier one names an organisation.
    #[serde(default)]
    sender_ods: Option<String>,
}

pub struct Emis {
    config: Config,
}

impl Emis {
    pub fn boxed(config: Option<&Path>) -> Result<Box<dyn SourceAdapter>, String> {
        let config = match config {
            Some(_) => super::config(config, "{}")?,
            None => Config::default(),
        };
        Ok(Box::new(Emis { config }))
    }
}

/// The identifier system of one kind of EMIS record.
pub fn system(kind: &str) -> String {
    [SYSTEM_BASE, "/emis-", kind].concat()
}

/// The code system of one kind of EMIS-local code.
pub fn code_system(kind: &str) -> String {
    format!("{CODE_SYSTEM_BASE}/emis-{kind}")
}

/// EMIS GUIDs are upper-case in braces; the same GUID written otherwise is the same record.
pub fn guid(v: &str) -> String {
    // `concat` rather than `format!`, here and in `system`: one allocation of the right
    // size, without the formatting machinery, for the two to five GUIDs of every row.
    let mut out = ["{", v.trim_matches(['{', '}']), "}"].concat();
    out.make_ascii_uppercase();
    out
}

pub fn key(res_type: &str, kind: &str, g: &str) -> Key {
    Key::new(res_type, system(kind), guid(g))
}

pub fn patient_key(g: &str) -> Key {
    key("Patient", "patient", g)
}

pub fn organisation_key(g: &str) -> Key {
    key("Organization", "organisation", g)
}

pub fn practitioner_key(g: &str) -> Key {
    key("Practitioner", "user-in-role", g)
}

/// The name part of a file: `Admin_Patient` from either naming form.
fn table_of(file: &str) -> Option<&'static str> {
    let stem = file
        .strip_suffix(".csv")
        .or_else(|| file.strip_suffix(".CSV"))?;
    TABLES.iter().map(|(t, _)| *t).find(|t| {
        stem == *t
            || stem
                .find(&format!("_{t}_"))
                .is_some_and(|at| stem[..at].chars().all(|c| c.is_ascii_digit()))
    })
}

impl SourceAdapter for Emis {
    fn name(&self) -> &'static str {
        "emis"
    }

    fn map(&self, batch: &SourceBatch, memory: &Memory) -> Result<Mapping, BatchError> {
        let mut m = Mapping::new(
            Sender {
                ods: String::new(),
                name: None,
            },
            "urn:carebridge:adapter:emis#EMIS-Web",
        );
        let tables = Tables::read(batch, &mut m, TABLES, table_of, &Renames::default(), "EMIS")?;
        let sender = tables
            .rows("Admin_Organisation")
            .find_map(|r| {
                r.get("ODSCode").map(|ods| Sender {
                    ods: ods.to_string(),
                    name: r.get("OrganisationName").map(str::to_string),
                })
            })
            .or_else(|| {
                memory.get("sender", "ods").map(|ods| Sender {
                    ods: ods.to_string(),
                    name: memory.get("sender", "name").map(str::to_string),
                })
            })
            .or_else(|| {
                self.config.sender_ods.clone().map(|ods| Sender { ods, name: None })
            })
            .ok_or_else(|| {
                BatchError::one(Rejection::file(
                    "Admin_Organisation.csv",
                    "no organisation names the sender: this batch has no Admin_Organisation row with an ODSCode, no earlier batch had one, and no sender_ods is configured",
                ))
            })?;
        m.remember.push(Remember {
            kind: "sender".into(),
            key: "ods".into(),
            value: sender.ods.clone(),
        });
        if let Some(n) = &sender.name {
            m.remember.push(Remember {
                kind: "sender".into(),
                key: "name".into(),
                value: n.clone(),
            });
        }
        m.sender = sender;
        let codes = Codes::read(&tables, memory, &mut m);
        admin::map(&tables, &mut m);
        care_record::map(&tables, &codes, &mut m);
        prescribing::map(&tables, &codes, &mut m);
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_met_again_maps_alike_and_an_unknown_one_rejects_each_row() {
        use crate::bench::import::{header, row};
        let org = "{5F1A0C52-0B6E-4C1D-9E7B-1A2B3C4D5E01}";
        let patient = "{B0000000-0000-4000-8000-000000000001}";
        let file = |name: &str, columns: &[&str], rows: &[Vec<(&str, String)>]| {
            crate::adapters::SourceFile {
                name: name.into(),
                bytes: rows
                    .iter()
                    .fold(header(columns), |text, r| text + &row(columns, r))
                    .into_bytes(),
            }
        };
        let observation = |n: u32, code: &str| {
            vec![
                (
                    "ObservationGuid",
                    format!("{{0B000000-0000-4000-8000-{n:012}}}"),
                ),
                ("PatientGuid", patient.into()),
                ("OrganisationGuid", org.into()),
                ("EffectiveDate", "2024-01-02".into()),
                ("EffectiveDatePrecision", "YMD".into()),
                ("CodeId", code.into()),
                ("Value", "70".into()),
                ("NumericUnit", "kg".into()),
                ("ObservationType", "Value".into()),
            ]
        };
        let batch = SourceBatch {
            files: vec![
                file(
                    "Admin_Organisation.csv",
                    admin::ORGANISATION,
                    &[vec![
                        ("OrganisationGuid", org.into()),
                        ("ODSCode", "Y09999".into()),
                    ]],
                ),
                file(
                    "Admin_Patient.csv",
                    admin::PATIENT,
                    &[vec![
                        ("PatientGuid", patient.into()),
                        ("OrganisationGuid", org.into()),
                        ("Surname", "Code".into()),
                    ]],
                ),
                file(
                    "Coding_ClinicalCode.csv",
                    codes::CLINICAL_CODE,
                    &[vec![
                        ("CodeId", "1003".into()),
                        ("Term", "Body weight".into()),
                        ("SnomedCTConceptId", "27113001".into()),
                    ]],
                ),
                file(
                    "CareRecord_Observation.csv",
                    care_record::OBSERVATION,
                    &[
                        observation(1, "1003"),
                        observation(2, "1003"),
                        observation(3, "4040"),
                        observation(4, "4040"),
                    ],
                ),
            ],
        };
        let emis = Emis {
            config: Config::default(),
        };
        let m = emis.map(&batch, &Memory::default()).expect("maps");
        let codes: Vec<&serde_json::Value> = m
            .upserts
            .iter()
            .filter(|u| u.key.res_type == "Observation")
            .map(|u| &u.resource["code"])
            .collect();
        assert_eq!(codes.len(), 2, "{:?}", m.rejected);
        assert_eq!(codes[0], codes[1]);
        assert_eq!(codes[0]["coding"][0]["code"], "27113001");
        assert_eq!(codes[0]["coding"][1]["code"], "1003");
        // The unknown CodeId rejects both of its rows, each at its own line.
        let lines: Vec<Option<u64>> = m
            .rejected
            .iter()
            .filter(|r| r.column.as_deref() == Some("CodeId") && r.reason.contains("4040"))
            .map(|r| r.line)
            .collect();
        assert_eq!(lines, vec![Some(4), Some(5)], "{:?}", m.rejected);
    }

    #[test]
    fn both_file_name_forms_name_their_table() {
        assert_eq!(table_of("Admin_Patient.csv"), Some("Admin_Patient"));
        assert_eq!(
            table_of("2873_CareRecord_Observation_20240101120000_{8A1B}.csv"),
            Some("CareRecord_Observation")
        );
        assert_eq!(table_of("Appointment_Slot.csv"), None);
        assert_eq!(guid("{ab-1}"), "{AB-1}");
        assert_eq!(guid("ab-1"), "{AB-1}");
    }
}
