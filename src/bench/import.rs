//! `carebridge bench-import`: a synthetic EMIS-style extract (the source-rows/s goal)
//! imported in process, batch by batch, into a fresh database: every batch new, the same
//! batches again (nothing to write), and a delta changing one observation in ten.
//!
//! Each patient brings one Admin_Patient row, one consultation and `--observations`
//! observation rows; the first batch also carries the practice, its GP and the code tables.

use std::fmt::Write as _;
use std::time::Instant;

use crate::adapters::{adapter, Importer, SourceBatch, SourceFile};
use crate::profile::Policy;

#[derive(clap::Args, Debug)]
pub struct ImportBenchArgs {
    /// Database (default: a new SQLite file in a temp folder).
    #[arg(long)]
    database: Option<String>,
    #[arg(long, default_value_t = 2_000)]
    patients: usize,
    /// Observation rows per patient.
    #[arg(long, default_value_t = 20)]
    observations: usize,
    /// Patients per batch (one transaction each).
    #[arg(long, default_value_t = 500)]
    batch: usize,
}

const ORG: &str = "{5F1A0C52-0B6E-4C1D-9E7B-1A2B3C4D5E01}";
const GP: &str = "{7C2D1E63-1C7F-4D2E-8F8C-2B3C4D5E6F02}";

/// The header line of a CSV file of `columns`.
pub(crate) fn header(columns: &[&str]) -> String {
    columns.join(",") + "\n"
}

/// One CSV line of `columns`, each from `values` by name, empty where not given.
pub(crate) fn row(columns: &[&str], values: &[(&str, String)]) -> String {
    let cells: Vec<String> = columns
        .iter()
        .map(|c| {
            values
                .iter()
                .find(|(k, _)| k == c)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    cells.join(",") + "\n"
}

/// Rows of one batch: patients `from..to`, the changed value in one observation in ten
/// when `delta`.
fn batch(
    from: usize,
    to: usize,
    per_patient: usize,
    first: bool,
    delta: bool,
) -> (SourceBatch, u64) {
    use crate::adapters::emis::columns as c;
    let mut files = Vec::new();
    let mut rows = 0u64;
    let mut file = |name: &str, text: String, n: u64| {
        rows += n;
        files.push(SourceFile {
            name: name.into(),
            bytes: text.into_bytes(),
        });
    };
    if first {
        file(
            "Admin_Organisation.csv",
            header(c::ORGANISATION)
                + &row(
                    c::ORGANISATION,
                    &[
                        ("OrganisationGuid", ORG.into()),
                        ("OrganisationName", "Bench Surgery".into()),
                        ("ODSCode", "Y09999".into()),
                    ],
                ),
            1,
        );
        file(
            "Admin_UserInRole.csv",
            header(c::USER_IN_ROLE)
                + &row(
                    c::USER_IN_ROLE,
                    &[
                        ("UserInRoleGuid", GP.into()),
                        ("OrganisationGuid", ORG.into()),
                        ("Surname", "Bench".into()),
                    ],
                ),
            1,
        );
        let codes = [
            ("1001", "72313002", "Systolic arterial pressure"),
            ("1003", "27113001", "Body weight"),
            ("1008", "720433000", "PHQ-9 score"),
        ];
        let mut text = header(c::CLINICAL_CODE);
        for (id, sct, term) in codes {
            text += &row(
                c::CLINICAL_CODE,
                &[
                    ("CodeId", id.into()),
                    ("Term", term.into()),
                    ("SnomedCTConceptId", sct.into()),
                ],
            );
        }
        file("Coding_ClinicalCode.csv", text, codes.len() as u64);
    }
    let mut patients = header(c::PATIENT);
    let mut consultations = header(c::CONSULTATION);
    let mut observations = header(c::OBSERVATION);
    let (mut np, mut no) = (0u64, 0u64);
    for p in from..to {
        let guid = format!("{{B0000000-0000-4000-8000-{p:012}}}");
        let consultation = format!("{{C0000000-0000-4000-8000-{p:012}}}");
        let _ = write!(
            patients,
            "{}",
            row(
                c::PATIENT,
                &[
                    ("PatientGuid", guid.clone()),
                    ("OrganisationGuid", ORG.into()),
                    ("UsualGpUserInRoleGuid", GP.into()),
                    ("Sex", "F".into()),
                    ("DateOfBirth", "1980-01-01".into()),
                    ("GivenName", format!("P{p}")),
                    ("Surname", "Bench".into()),
                    ("NhsNumber", nhs_number(p)),
                    ("Deleted", "false".into())
                ]
            )
        );
        let _ = write!(
            consultations,
            "{}",
            row(
                c::CONSULTATION,
                &[
                    ("ConsultationGuid", consultation.clone()),
                    ("PatientGuid", guid.clone()),
                    ("OrganisationGuid", ORG.into()),
                    ("EffectiveDate", "2024-03-05".into()),
                    ("EffectiveDatePrecision", "YMD".into()),
                    ("ClinicianUserInRoleGuid", GP.into()),
                    ("Complete", "true".into())
                ]
            )
        );
        np += 1;
        for j in 0..per_patient {
            let value = if delta && j % 10 == 0 {
                50 + (j % 27)
            } else {
                j % 27
            };
            let code = ["1003", "1008"][j % 2];
            let _ = write!(
                observations,
                "{}",
                row(
                    c::OBSERVATION,
                    &[
                        (
                            "ObservationGuid",
                            format!("{{0B000000-{j:04}-4000-8000-{p:012}}}")
                        ),
                        ("PatientGuid", guid.clone()),
                        ("OrganisationGuid", ORG.into()),
                        (
                            "EffectiveDate",
                            format!("2024-{:02}-{:02}", 1 + j % 12, 1 + j % 28)
                        ),
                        ("EffectiveDatePrecision", "YMD".into()),
                        ("CodeId", code.into()),
                        ("ConsultationGuid", consultation.clone()),
                        ("Value", value.to_string()),
                        ("NumericUnit", "kg".into()),
                        ("ObservationType", "Value".into())
                    ]
                )
            );
            no += 1;
        }
    }
    file("Admin_Patient.csv", patients, np);
    file("CareRecord_Consultation.csv", consultations, np);
    file("CareRecord_Observation.csv", observations, no);
    (SourceBatch { files }, rows)
}

/// A valid NHS number in the 999 range for patient `n`, or none where no check digit works
/// (about one number in eleven): that patient is imported unlinked, as in a real extract.
fn nhs_number(n: usize) -> String {
    (0..10)
        .map(|check| format!("999{:06}{check}", n % 1_000_000))
        .find(|s| crate::profile::nhs_number::is_valid(s))
        .unwrap_or_default()
}

pub fn run(args: ImportBenchArgs) -> Result<(), String> {
    let db = super::BenchDatabase::new(args.database.as_deref(), "bench-import")?;
    // Opened as `carebridge import` opens it, custom search parameters loaded.
    let store = crate::adapters::command::open_store(&db.url, 4)?;
    let emis = adapter("emis", None)?;
    let policy = Policy::default();
    let importer = Importer {
        store: &store,
        base: "http://bench/fhir",
        policy: &policy,
        strict: false,
    };
    // Patients whose numbers would repeat (the 999 range has a million) are left out.
    let patients = args.patients.min(1_000_000);
    let batches: Vec<(usize, usize)> = (0..patients)
        .step_by(args.batch.max(1))
        .map(|f| (f, (f + args.batch).min(patients)))
        .collect();
    println!("| pass | rows | seconds | rows/s | created | updated | unchanged | rejected |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    // Source rows of the new pass, and what SQLite alone takes to write its table rows.
    let mut floor = None;
    for (pass, delta) in [
        ("new", false),
        ("again, unchanged", false),
        ("delta, 1 in 10 changed", true),
    ] {
        let (mut rows, mut created, mut updated, mut unchanged, mut rejected) = (0u64, 0, 0, 0, 0);
        let mut elapsed = 0.0;
        for (i, (from, to)) in batches.iter().enumerate() {
            let (b, n) = batch(*from, *to, args.observations, i == 0, delta);
            let start = Instant::now();
            let report = importer
                .import(emis.as_ref(), &b, &|_| {})
                .map_err(|e| e.to_string())?;
            elapsed += start.elapsed().as_secs_f64();
            rows += n;
            created += report.created;
            updated += report.updated;
            unchanged += report.unchanged;
            rejected += report.rejected.len();
        }
        println!("| {pass} | {rows} | {elapsed:.2} | {:.0} | {created} | {updated} | {unchanged} | {rejected} |", rows as f64 / elapsed.max(1e-9));
        if floor.is_none() && store.backend_name() == "sqlite" {
            floor = Some((rows, copy_floor(&db.url)?));
        }
    }
    if let Some((rows, copied)) = floor {
        let took = copied.took.as_secs_f64();
        println!(
            "\nSQLite's floor: the {} table rows the new pass wrote, copied into an empty database \
             in one transaction, took {took:.2} s, as if {:.0} source rows/s",
            copied.rows,
            rows as f64 / took.max(1e-9)
        );
    }
    Ok(())
}

/// SQLite's own time to write again what the new pass wrote (`store::copy_sqlite_rows`),
/// into a database of its own that is gone again before the next pass.
fn copy_floor(url: &str) -> Result<crate::store::Copied, String> {
    let dir = std::env::temp_dir().join(format!(
        "carebridge-bench-import-floor-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let into = dir.join("floor.db");
    let copied = crate::store::copy_sqlite_rows(url, &into.to_string_lossy());
    let _ = std::fs::remove_dir_all(&dir);
    copied.map_err(|e| e.to_string())
}
