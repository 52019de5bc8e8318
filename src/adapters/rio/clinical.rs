//! Diagnoses (ICD-10 Conditions) and coded score assessments (survey Observations; a tool's
//! item scores grouped under its total, or under a panel when the total is not recorded).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::csv_table::Row;
use super::super::dates;
use super::super::model::{
    coding, concept, put, Key, Mapping, Rejection, Removal, Upsert, CODE_SYSTEM_BASE,
    OBSERVATION_CATEGORY, SNOMED,
};
use super::super::tables::{each, Tables};
use super::{client_key, label, staff, system, Config};

pub const DIAGNOSIS: &[&str] = &[
    "ClientID",
    "CodingScheme",
    "Diagnosis",
    "DiagnosisStartDate",
    "DiagnosisEndDate",
    "RemovalDate",
];
pub const ASSESSMENT: &[&str] = &[
    "ClientID",
    "AssessmentID",
    "CodedAssToolType",
    "PersScore",
    "AssToolCompTimestamp",
    "CareProfLocalID",
];

pub fn map(tables: &Tables, c: &Config, m: &mut Mapping) {
    each(m, tables.rows("DiagnosisClient"), |m, r| diagnosis(m, c, r));
    assessments(tables, c, m);
}

/// An ICD-10 code as FHIR writes it (`F32.1`); RiO may leave out the dot.
fn icd10(code: &str) -> Result<String, String> {
    let c = code.trim().to_ascii_uppercase().replace('.', "");
    let ok = c.len() >= 3
        && c.len() <= 7
        && c.as_bytes()[0].is_ascii_uppercase()
        && c.as_bytes()[1..3].iter().all(u8::is_ascii_digit)
        && c.bytes().skip(3).all(|b| b.is_ascii_alphanumeric());
    if !ok {
        return Err("is not an ICD-10 code".to_string());
    }
    Ok(if c.len() > 3 {
        format!("{}.{}", &c[..3], &c[3..])
    } else {
        c
    })
}

fn diagnosis(m: &mut Mapping, c: &Config, r: &Row<'_>) -> Result<(), Rejection> {
    let client = r.required("ClientID")?;
    let scheme = r.required("CodingScheme")?;
    let raw = r.required("Diagnosis")?;
    let start = r.date("DiagnosisStartDate")?;
    let k = Key::new(
        "Condition",
        system("diagnosis"),
        format!(
            "{client}/{scheme}/{raw}/{}",
            start.clone().unwrap_or_default()
        ),
    );
    // A removed diagnosis was recorded in error: it leaves the record.
    if r.date("RemovalDate")?.is_some() {
        m.removals.push(Removal {
            key: k,
            origin: r.origin(),
        });
        return Ok(());
    }
    let system_url = c.coding_schemes.get(scheme).ok_or_else(|| {
        r.reject(
            "CodingScheme",
            format!("'{scheme}' is not a coding scheme the adapter configuration lists"),
        )
    })?;
    let code = r.parsed("Diagnosis", icd10)?.unwrap_or_default();
    let end = r.date("DiagnosisEndDate")?;
    let patient = client_key(client);
    let mut codings = vec![coding(system_url, &code, None)];
    if code != raw {
        // The code as RiO wrote it stays beside the normalised one.
        codings.push(coding(
            &format!("{CODE_SYSTEM_BASE}/rio-diagnosis"),
            raw,
            None,
        ));
    }
    let status = if end.is_some() { "resolved" } else { "active" };
    let mut cond = json!({"resourceType": "Condition", "identifier": [k.identifier()],
        "clinicalStatus": concept(vec![coding("http://terminology.hl7.org/CodeSystem/condition-clinical", status, None)], None),
        "verificationStatus": concept(vec![coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", None)], None),
        "category": [concept(vec![coding("http://terminology.hl7.org/CodeSystem/condition-category", "encounter-diagnosis", Some("Encounter Diagnosis"))], None)],
        "code": concept(codings, None), "subject": patient.reference()});
    put(&mut cond, "onsetDateTime", start.map(Value::from));
    put(&mut cond, "abatementDateTime", end.map(Value::from));
    label(&mut cond);
    m.upserts
        .push(Upsert::new(k, Some(patient), cond, r.origin()));
    Ok(())
}

struct Score {
    key: Key,
    tool: String,
    code: String,
    when: Option<String>,
    patient: Key,
    resource: Value,
    origin: super::super::model::Origin,
}

fn score(c: &Config, r: &Row<'_>) -> Result<Score, Rejection> {
    let client = r.required("ClientID")?;
    let assessment = r.required("AssessmentID")?;
    let code = r.required("CodedAssToolType")?;
    let known = c.assessment_codes.get(code).ok_or_else(|| {
        r.reject(
            "CodedAssToolType",
            format!("'{code}' is not an assessment code the adapter configuration lists"),
        )
    })?;
    let value = r
        .parsed("PersScore", |v| {
            v.parse::<i64>()
                .map_err(|_| "is not a whole number".to_string())
        })?
        .ok_or_else(|| r.reject("PersScore", "PersScore is empty"))?;
    let when = r.parsed("AssToolCompTimestamp", |v| {
        if v.len() == 10 {
            dates::date(v).map(|d| d.format("%Y-%m-%d").to_string())
        } else {
            dates::local_datetime(v)
        }
    })?;
    let key = Key::new(
        "Observation",
        system("assessment"),
        format!("{assessment}/{code}"),
    );
    let patient = client_key(client);
    let mut o = json!({"resourceType": "Observation", "identifier": [key.identifier()], "status": "final",
        "category": [concept(vec![coding(OBSERVATION_CATEGORY, "survey", Some("Survey"))], None)],
        "code": concept(vec![coding(SNOMED, code, Some(&known.display))], Some(&known.display)),
        "subject": patient.reference(), "valueInteger": value});
    put(&mut o, "effectiveDateTime", when.clone().map(Value::from));
    put(
        &mut o,
        "performer",
        r.get("CareProfLocalID").map(|s| json!([staff(s)])),
    );
    Ok(Score {
        key,
        tool: known.tool.clone(),
        code: code.to_string(),
        when,
        patient,
        resource: o,
        origin: r.origin(),
    })
}

fn assessments(tables: &Tables, c: &Config, m: &mut Mapping) {
    // (assessment, tool) → its scores
    let mut groups: BTreeMap<(String, String), Vec<Score>> = BTreeMap::new();
    for r in tables.rows("CodedScoreAssessment") {
        match score(c, &r) {
            Ok(s) => {
                let assessment = r.get("AssessmentID").unwrap_or_default().to_string();
                groups
                    .entry((assessment, s.tool.clone()))
                    .or_default()
                    .push(s);
            }
            Err(e) => m.rejected.push(e),
        }
    }
    for ((assessment, tool), scores) in groups {
        let total_code = c.tools.get(&tool).and_then(|t| t.total.clone());
        let (totals, items): (Vec<Score>, Vec<Score>) = scores
            .into_iter()
            .partition(|s| Some(&s.code) == total_code.as_ref());
        let members: Vec<Value> = items.iter().map(|s| s.key.reference()).collect();
        let first = items
            .first()
            .map(|s| (s.patient.clone(), s.when.clone(), s.origin.clone()));
        for mut s in items {
            label(&mut s.resource);
            m.upserts
                .push(Upsert::new(s.key, Some(s.patient), s.resource, s.origin));
        }
        let mut totals = totals.into_iter();
        let group = match (totals.next(), first) {
            (Some(total), _) => Some((total.key, total.patient, total.resource, total.origin)),
            // Items without their total: a panel of the tool holds them together.
            (None, Some((patient, when, origin))) if !members.is_empty() => {
                let display = c
                    .tools
                    .get(&tool)
                    .map_or(tool.as_str(), |t| t.display.as_str());
                let key = Key::new(
                    "Observation",
                    system("assessment"),
                    format!("{assessment}/{tool}"),
                );
                let mut panel = json!({"resourceType": "Observation", "identifier": [key.identifier()], "status": "final",
                    "category": [concept(vec![coding(OBSERVATION_CATEGORY, "survey", Some("Survey"))], None)],
                    "code": concept(vec![coding(&format!("{CODE_SYSTEM_BASE}/rio-assessment-tool"), &tool, Some(display))], Some(display)),
                    "subject": patient.reference()});
                put(&mut panel, "effectiveDateTime", when.map(Value::from));
                Some((key, patient, panel, origin))
            }
            _ => None,
        };
        if let Some((key, patient, mut resource, origin)) = group {
            put(&mut resource, "hasMember", Some(json!(members)));
            label(&mut resource);
            m.upserts
                .push(Upsert::new(key, Some(patient), resource, origin));
        }
        // A second total in one assessment is the same score twice: the later supersedes.
        for extra in totals {
            let mut resource = extra.resource;
            label(&mut resource);
            m.upserts.push(Upsert::new(
                extra.key,
                Some(extra.patient),
                resource,
                extra.origin,
            ));
        }
    }
}
