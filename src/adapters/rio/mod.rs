//! RiO-style mental-health extracts: a folder of CSV files named after RiO tables, ClientID
//! the patient key. What trusts configure differently (column names, gender and name-use
//! codes, care plan types, assessment codes) lives in a configuration file, with a built-in
//! default. Everything but the Patient is labelled PSY (mental-health information) at ingest,
//! so consent can act on it.

mod care;
mod client;
mod clinical;

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde_json::{json, Value};

use super::memory::Memory;
use super::model::{coding, BatchError, Key, Mapping, Sender, ACT_CODE, SYSTEM_BASE};
use super::source::SourceBatch;
use super::tables::{Renames, Tables};
use super::SourceAdapter;

const DEFAULT_CONFIG: &str = include_str!("default-config.json");

const TABLES: &[(&str, &[&str])] = &[
    ("ClientIndex", client::INDEX),
    ("ClientName", client::NAME),
    ("ClientAddress", client::ADDRESS),
    ("ClientTelecom", client::TELECOM),
    ("CPAClientCPA", care::CPA),
    ("CPACareCoordinator", care::COORDINATOR),
    ("CarePlanIndex", care::PLAN),
    ("CarePlanProblems", care::PROBLEM),
    ("CarePlanInterventions", care::INTERVENTION),
    ("DiagnosisClient", clinical::DIAGNOSIS),
    ("CodedScoreAssessment", clinical::ASSESSMENT),
];

#[derive(Debug, Deserialize)]
pub struct SenderConfig {
    pub ods: String,
    pub name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Telecom {
    pub system: String,
    #[serde(rename = "use")]
    pub use_: String,
}

#[derive(Debug, Deserialize)]
pub struct Display {
    pub display: String,
}

#[derive(Debug, Deserialize)]
pub struct Tool {
    pub display: String,
    /// The code of the tool's total score, under which item scores are grouped.
    pub total: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct AssessmentCode {
    pub tool: String,
    pub display: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(rename = "_comment", default)]
    _comment: Option<String>,
    pub sender: SenderConfig,
    #[serde(default)]
    pub columns: Renames,
    pub gender: HashMap<String, String>,
    pub name_use: HashMap<String, String>,
    pub telecom: HashMap<String, Telecom>,
    pub ethnic_categories: Vec<String>,
    pub cpa_levels: HashMap<String, String>,
    pub care_plan_types: HashMap<String, Display>,
    pub coding_schemes: HashMap<String, String>,
    pub tools: HashMap<String, Tool>,
    pub assessment_codes: HashMap<String, AssessmentCode>,
}

pub struct Rio {
    config: Config,
}

impl Rio {
    pub fn boxed(config: Option<&Path>) -> Result<Box<dyn SourceAdapter>, String> {
        let config: Config = super::config(config, DEFAULT_CONFIG)?;
        for (code, c) in &config.assessment_codes {
            if !config.tools.contains_key(&c.tool) {
                return Err(format!(
                    "the adapter configuration's assessment code {code} names tool '{}', which tools does not list",
                    c.tool
                ));
            }
        }
        Ok(Box::new(Rio { config }))
    }
}

pub fn system(kind: &str) -> String {
    format!("{SYSTEM_BASE}/rio-{kind}")
}

pub fn client_key(id: &str) -> Key {
    Key::new("Patient", system("client"), id)
}

/// A reference to a member of staff by their RiO id: staff are not in the extract, so it
/// names them by identifier rather than pointing at a resource.
pub fn staff(id: &str) -> Value {
    json!({"identifier": {"system": system("staff"), "value": id}})
}

/// `meta.security` PSY: psychiatry disorder information sensitivity.
pub fn label(resource: &mut Value) {
    resource["meta"]["security"] = json!([coding(
        ACT_CODE,
        "PSY",
        Some("psychiatry disorder information sensitivity")
    )]);
}

fn table_of(file: &str) -> Option<&'static str> {
    let stem = file
        .strip_suffix(".csv")
        .or_else(|| file.strip_suffix(".CSV"))?;
    TABLES
        .iter()
        .map(|(t, _)| *t)
        .find(|t| t.eq_ignore_ascii_case(stem))
}

impl SourceAdapter for Rio {
    fn name(&self) -> &'static str {
        "rio"
    }

    fn map(&self, batch: &SourceBatch, memory: &Memory) -> Result<Mapping, BatchError> {
        let c = &self.config;
        let mut m = Mapping::new(
            Sender {
                ods: c.sender.ods.clone(),
                name: c.sender.name.clone(),
            },
            "urn:carebridge:adapter:rio#RiO",
        );
        let tables = Tables::read(batch, &mut m, TABLES, table_of, &c.columns, "RiO")?;
        client::map(&tables, c, &mut m);
        care::map(&tables, c, memory, &mut m);
        clinical::map(&tables, c, &mut m);
        Ok(m)
    }
}
