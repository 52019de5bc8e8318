//! A voluntary-sector CRM (Salesforce-style REST JSON): query results of Contact, Case (care
//! plans), care plan goals, service deliveries and wellbeing assessments, read from a
//! batch's JSON files or pulled page by page by `carebridge sync`. `IsDeleted` removes;
//! the newest `SystemModstamp` of each object is kept so the next sync asks only for what
//! changed since.

mod objects;
pub mod records;
pub mod sync;

use std::path::Path;

use serde::Deserialize;

use super::memory::Memory;
use super::model::{BatchError, Key, Mapping, Remember, Sender, SYSTEM_BASE};
use super::source::SourceBatch;
use super::SourceAdapter;

const DEFAULT_CONFIG: &str = r#"{"sender": {"ods": "8XX00", "name": "Voluntary sector organisation (set sender in the adapter configuration)"}}"#;

/// The objects read, with the fields a sync asks for.
pub const OBJECTS: &[(&str, &[&str])] = &[
    (
        "Contact",
        &[
            "Id",
            "FirstName",
            "LastName",
            "Birthdate",
            "Email",
            "MobilePhone",
            "MailingPostalCode",
            "NHS_Number__c",
            "IsDeleted",
            "SystemModstamp",
        ],
    ),
    (
        "Case",
        &[
            "Id",
            "ContactId",
            "Subject",
            "Description",
            "Status",
            "RecordType.Name",
            "CreatedDate",
            "ClosedDate",
            "IsDeleted",
            "SystemModstamp",
        ],
    ),
    (
        "HealthCloudGA__CarePlanGoal__c",
        &[
            "Id",
            "HealthCloudGA__CarePlan__c",
            "HealthCloudGA__Description__c",
            "HealthCloudGA__Priority__c",
            "HealthCloudGA__Progress__c",
            "IsDeleted",
            "SystemModstamp",
        ],
    ),
    (
        "pmdm__ServiceDelivery__c",
        &[
            "Id",
            "pmdm__Contact__c",
            "pmdm__DeliveryDate__c",
            "pmdm__AttendanceStatus__c",
            "pmdm__Service__c",
            "IsDeleted",
            "SystemModstamp",
        ],
    ),
    (
        "Wellbeing_Assessment__c",
        &[
            "Id",
            "Contact__c",
            "Assessment_Date__c",
            "Tool__c",
            "Total_Score__c",
            "IsDeleted",
            "SystemModstamp",
        ],
    ),
];

/// What the sync keeps: each object's newest SystemModstamp imported.
pub const WATERMARK: &str = "sync-watermark";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    sender: SenderConfig,
}

#[derive(Debug, Deserialize)]
struct SenderConfig {
    ods: String,
    name: Option<String>,
}

pub struct Vcse {
    config: Config,
}

impl Vcse {
    pub fn boxed(config: Option<&Path>) -> Result<Box<dyn SourceAdapter>, String> {
        Ok(Box::new(Vcse {
            config: super::config(config, DEFAULT_CONFIG)?,
        }))
    }
}

pub fn system(kind: &str) -> String {
    format!("{SYSTEM_BASE}/vcse-{kind}")
}

pub fn contact_key(id: &str) -> Key {
    Key::new("Patient", system("contact"), id)
}

impl SourceAdapter for Vcse {
    fn name(&self) -> &'static str {
        "vcse"
    }

    fn map(&self, batch: &SourceBatch, memory: &Memory) -> Result<Mapping, BatchError> {
        let mut m = Mapping::new(
            Sender {
                ods: self.config.sender.ods.clone(),
                name: self.config.sender.name.clone(),
            },
            "urn:carebridge:adapter:vcse#Salesforce",
        );
        let files = records::read(batch)?;
        let all = records::records(&files);
        m.rows = all.len() as u64;
        objects::map(&all, &self.config.sender.ods, memory, &mut m);
        // The newest change seen of each object, for the next incremental sync.
        let mut newest: std::collections::BTreeMap<
            &str,
            (chrono::DateTime<chrono::FixedOffset>, String),
        > = Default::default();
        for r in &all {
            let (Some(object), Some(stamp)) = (r.object(), r.str("SystemModstamp")) else {
                continue;
            };
            let Ok(parsed) = chrono::DateTime::parse_from_str(&stamp, "%Y-%m-%dT%H:%M:%S%.f%z")
            else {
                continue;
            };
            let newer = newest.get(object).is_none_or(|(t, _)| parsed > *t);
            if newer {
                newest.insert(object, (parsed, stamp));
            }
        }
        let earlier = |object: &str| {
            memory
                .get(WATERMARK, object)
                .and_then(|s| chrono::DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z").ok())
        };
        for (object, (t, stamp)) in newest {
            if earlier(object).is_none_or(|e| t > e) {
                m.remember.push(Remember {
                    kind: WATERMARK.into(),
                    key: object.into(),
                    value: stamp,
                });
            }
        }
        Ok(m)
    }
}
