//! Drug records as MedicationStatements: acute or repeat, active or stopped.

use serde_json::{json, Value};

use super::super::csv_table::Row;
use super::super::model::{coding, concept, put, Mapping, Rejection, Upsert, CODE_SYSTEM_BASE};
use super::admin::confidential;
use super::codes::Codes;
use super::{deleted, each, key, patient_key, practitioner_key, Tables};

pub const DRUG_RECORD: &[&str] = &[
    "DrugRecordGuid",
    "PatientGuid",
    "OrganisationGuid",
    "EffectiveDate",
    "EffectiveDatePrecision",
    "EnteredDate",
    "EnteredTime",
    "ClinicianUserInRoleGuid",
    "EnteredByUserInRoleGuid",
    "CodeId",
    "Dosage",
    "Quantity",
    "QuantityUnit",
    "ProblemObservationGuid",
    "PrescriptionType",
    "IsActive",
    "CancellationDate",
    "NumberOfIssues",
    "NumberOfIssuesAuthorised",
    "Deleted",
    "ProcessingId",
    "IsConfidential",
];

/// Acute, repeat and repeat-dispensing prescribing (the NHS's prescription types).
pub const PRESCRIPTION_TYPE: &str =
    "https://fhir.carebridge.example/StructureDefinition/prescription-type";
/// Issues made and authorised, for repeats.
pub const ISSUES: &str = "https://fhir.carebridge.example/StructureDefinition/medication-issues";

pub fn map(tables: &Tables, codes: &Codes, m: &mut Mapping) {
    each(m, tables.rows("Prescribing_DrugRecord"), |m, r| {
        drug_record(m, codes, r)
    });
}

fn whole(row: &Row<'_>, column: &str) -> Result<Option<u64>, Rejection> {
    row.parsed(column, |v| {
        v.parse::<u64>()
            .map_err(|_| "is not a whole number".to_string())
    })
}

fn drug_record(m: &mut Mapping, codes: &Codes, row: &Row<'_>) -> Result<(), Rejection> {
    let g = row.required("DrugRecordGuid")?;
    let k = key("MedicationStatement", "drug-record", g);
    if deleted(m, row, k.clone())? {
        return Ok(());
    }
    let patient = patient_key(row.required("PatientGuid")?);
    let cancelled = row.date("CancellationDate")?;
    let status = match (row.flag("IsActive")?, &cancelled) {
        (_, Some(_)) => "stopped",
        (true, None) => "active",
        (false, None) => "completed",
    };
    let mut s = json!({"resourceType": "MedicationStatement", "identifier": [k.identifier()],
        "status": status, "medicationCodeableConcept": codes.drug(row, "CodeId")?,
        "subject": patient.reference()});
    let start = match row.get("EffectiveDate") {
        Some(v) => super::super::dates::with_precision(v, row.get("EffectiveDatePrecision"))
            .map_err(|why| row.reject("EffectiveDate", format!("'{v}' {why}")))?,
        None => None,
    };
    let mut period = json!({});
    put(&mut period, "start", start.map(Value::from));
    put(&mut period, "end", cancelled.map(Value::from));
    put(
        &mut s,
        "effectivePeriod",
        period
            .as_object()
            .is_some_and(|p| !p.is_empty())
            .then_some(period),
    );
    put(
        &mut s,
        "dateAsserted",
        row.date("EnteredDate")?.map(Value::from),
    );
    put(
        &mut s,
        "informationSource",
        row.get("ClinicianUserInRoleGuid")
            .map(|c| practitioner_key(c).reference()),
    );
    put(
        &mut s,
        "reasonReference",
        row.get("ProblemObservationGuid")
            .map(|p| json!([key("Condition", "problem", p).reference()])),
    );
    let quantity = match (row.get("Quantity"), row.get("QuantityUnit")) {
        (Some(q), Some(u)) => Some(format!("{q} {u}")),
        (Some(q), None) => Some(q.to_string()),
        _ => None,
    };
    let mut dosage = json!({});
    put(&mut dosage, "text", row.get("Dosage").map(Value::from));
    put(&mut dosage, "patientInstruction", None);
    put(
        &mut s,
        "dosage",
        dosage
            .as_object()
            .is_some_and(|d| !d.is_empty())
            .then(|| json!([dosage])),
    );
    put(
        &mut s,
        "note",
        quantity.map(|q| json!([{"text": format!("Quantity: {q}")}])),
    );
    let mut ext = Vec::new();
    if let Some(t) = row.get("PrescriptionType") {
        let code = match t.to_ascii_lowercase().as_str() {
            "acute" => "acute",
            "repeat" => "repeat",
            "repeat dispensed" | "repeat dispensing" | "repeat-dispensing" => "repeat-dispensing",
            "automatic" => "automatic",
            other => return Err(row.reject("PrescriptionType", format!("'{other}' is not a prescription type this adapter knows (Acute, Repeat, Repeat dispensed, Automatic)"))),
        };
        ext.push(json!({"url": PRESCRIPTION_TYPE, "valueCoding": coding(&format!("{CODE_SYSTEM_BASE}/prescription-type"), code, Some(t))}));
        s["category"] = concept(
            vec![coding(
                "http://terminology.hl7.org/CodeSystem/medication-statement-category",
                "community",
                Some("Community"),
            )],
            None,
        );
    }
    let issued = whole(row, "NumberOfIssues")?;
    let authorised = whole(row, "NumberOfIssuesAuthorised")?;
    if issued.is_some() || authorised.is_some() {
        let mut parts = Vec::new();
        if let Some(n) = issued {
            parts.push(json!({"url": "issued", "valueUnsignedInt": n}));
        }
        if let Some(n) = authorised {
            parts.push(json!({"url": "authorised", "valueUnsignedInt": n}));
        }
        ext.push(json!({"url": ISSUES, "extension": parts}));
    }
    put(&mut s, "extension", Some(json!(ext)));
    confidential(row, &mut s)?;
    m.upserts
        .push(Upsert::new(k, Some(patient), s, row.origin()));
    Ok(())
}
