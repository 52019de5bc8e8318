//! `carebridge demo`: the three adapters' synthetic sample batches (NHS numbers from the
//! never-issued 999 range), built into the binary and loaded into the database before the
//! server starts, so a first run has one person's GP, trust and voluntary-sector records
//! joined up to look at.

use super::{adapter, Importer, Report, SourceBatch, SourceFile};
use crate::profile::Policy;
use crate::store::Store;

macro_rules! sample {
    ($adapter:literal: $($file:literal),+ $(,)?) => {
        ($adapter, &[$(($file, include_bytes!(concat!($adapter, "/sample/", $file)) as &[u8])),+])
    };
}

type Sample = (&'static str, &'static [(&'static str, &'static [u8])]);

/// Each adapter's sample batch, in the order the demo loads them.
pub const SAMPLES: &[Sample] = &[
    sample!("emis": "Admin_Organisation.csv", "Admin_UserInRole.csv", "Admin_Patient.csv",
        "Coding_ClinicalCode.csv", "Coding_DrugCode.csv", "CareRecord_Consultation.csv",
        "CareRecord_Problem.csv", "CareRecord_Observation.csv", "Prescribing_DrugRecord.csv"),
    sample!("rio": "ClientIndex.csv", "ClientName.csv", "ClientAddress.csv", "ClientTelecom.csv",
        "CPAClientCPA.csv", "CPACareCoordinator.csv", "CarePlanIndex.csv", "CarePlanProblems.csv",
        "CarePlanInterventions.csv", "DiagnosisClient.csv", "CodedScoreAssessment.csv"),
    sample!("vcse": "Contact.json", "Case.json", "HealthCloudGA__CarePlanGoal__c.json",
        "pmdm__ServiceDelivery__c.json", "Wellbeing_Assessment__c.json"),
];

pub fn sample_batch(files: &[(&str, &[u8])]) -> SourceBatch {
    // In name order, as a folder is read: the same files, the same batch digest.
    let mut files = files.to_vec();
    files.sort_by_key(|(name, _)| *name);
    SourceBatch {
        files: files
            .iter()
            .map(|(name, bytes)| SourceFile {
                name: name.to_string(),
                bytes: bytes.to_vec(),
            })
            .collect(),
    }
}

/// Imports every sample; loading them again changes nothing.
pub fn load(store: &Store, base: &str) -> Result<Vec<Report>, String> {
    let policy = Policy::default();
    let importer = Importer {
        store,
        base,
        policy: &policy,
        strict: true,
    };
    SAMPLES
        .iter()
        .map(|(name, files)| {
            let a = adapter(name, None)?;
            importer
                .import(a.as_ref(), &sample_batch(files), &|_| {})
                .map_err(|e| format!("the {name} sample did not load: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::SAMPLES;

    #[test]
    fn every_sample_file_is_built_in() {
        for (adapter, files) in SAMPLES {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("src/adapters")
                .join(adapter)
                .join("sample");
            let on_disk = std::fs::read_dir(&dir).map(|d| d.count()).unwrap_or(0);
            assert_eq!(
                files.len(),
                on_disk,
                "{adapter}: a sample file is missing from SAMPLES"
            );
        }
    }
}
