//! Care record tables: consultations (Encounter), problems (Condition), observations
//! (Observation; allergies as AllergyIntolerance). Systolic and diastolic readings taken
//! together fold into one blood-pressure Observation with two components; a parent
//! observation lists its children as hasMember.

use std::collections::{HashMap, HashSet};

use serde_json::{json, Value};

use super::super::csv_table::Row;
use super::super::dates;
use super::super::model::{
    coding, concept, object, put, Key, Mapping, Rejection, Upsert, OBSERVATION_CATEGORY, SNOMED,
    UCUM,
};
use super::admin::confidential;
use super::codes::Codes;
use super::{
    deleted, each, each_on_cores, guid, key, organisation_key, patient_key, practitioner_key,
    Tables,
};

pub const CONSULTATION: &[&str] = &[
    "ConsultationGuid",
    "PatientGuid",
    "OrganisationGuid",
    "EffectiveDate",
    "EffectiveDatePrecision",
    "EnteredDate",
    "EnteredTime",
    "ClinicianUserInRoleGuid",
    "EnteredByUserInRoleGuid",
    "AppointmentSlotGuid",
    "ConsultationSourceTerm",
    "Complete",
    "Deleted",
    "ConsultationSourceCodeId",
    "ProcessingId",
    "IsConfidential",
];

pub const PROBLEM: &[&str] = &[
    "ObservationGuid",
    "ParentProblemObservationGuid",
    "PatientGuid",
    "OrganisationGuid",
    "EndDate",
    "EndDatePrecision",
    "LastReviewDate",
    "LastReviewDatePrecision",
    "LastReviewUserInRoleGuid",
    "ExpectedDuration",
    "SignificanceDescription",
    "ProblemStatusDescription",
    "ParentProblemRelationship",
    "Deleted",
    "Comment",
    "ProcessingId",
];

pub const OBSERVATION: &[&str] = &[
    "ObservationGuid",
    "PatientGuid",
    "OrganisationGuid",
    "EffectiveDate",
    "EffectiveDatePrecision",
    "EnteredDate",
    "EnteredTime",
    "ClinicianUserInRoleGuid",
    "EnteredByUserInRoleGuid",
    "ParentObservationGuid",
    "CodeId",
    "ProblemGuid",
    "AssociatedText",
    "ConsultationGuid",
    "Value",
    "NumericUnit",
    "ObservationType",
    "NumericRangeLow",
    "NumericRangeHigh",
    "DocumentGuid",
    "Deleted",
    "IsConfidential",
    "ProcessingId",
];

/// A problem's significance (major or minor), as EMIS records it.
pub const PROBLEM_SIGNIFICANCE: &str =
    "https://fhir.carebridge.example/StructureDefinition/problem-significance";
/// When a problem was last reviewed, and by whom.
pub const PROBLEM_LAST_REVIEW: &str =
    "https://fhir.carebridge.example/StructureDefinition/problem-last-review";

const SYSTOLIC: &[&str] = &["72313002", "271649006", "163030003"];
const DIASTOLIC: &[&str] = &["1091811000000102", "271650006", "163031004"];
const LOINC: &str = "http://loinc.org";

pub fn map(tables: &Tables, codes: &Codes, m: &mut Mapping) {
    each(m, tables.rows("CareRecord_Consultation"), |m, r| {
        consultation(m, codes, r)
    });
    let observations: Vec<Row<'_>> = tables.rows("CareRecord_Observation").collect();
    let by_guid: HashMap<String, &Row<'_>> = observations
        .iter()
        .filter_map(|r| Some((guid(r.get("ObservationGuid")?), r)))
        .collect();
    let mut problems = HashSet::new();
    each(m, tables.rows("CareRecord_Problem"), |m, r| {
        let g = guid(r.required("ObservationGuid")?);
        problems.insert(g.clone());
        problem(m, codes, r, by_guid.get(&g).copied())
    });
    let mut children: HashMap<String, Vec<String>> = HashMap::new();
    for r in &observations {
        if let (Some(p), Some(c)) = (r.get("ParentObservationGuid"), r.get("ObservationGuid")) {
            if !matches!(r.flag("Deleted"), Ok(true)) {
                children.entry(guid(p)).or_default().push(guid(c));
            }
        }
    }
    let folded = blood_pressures(&observations, codes);
    // Each row maps on its own, reading only what the lines above worked out.
    each_on_cores(m, observations.clone(), |m, r| {
        let g = guid(r.required("ObservationGuid")?);
        if problems.contains(&g) {
            // The row holds the problem's code and dates; its Condition carries them.
            return Ok(());
        }
        match folded.get(&g) {
            Some(Fold::Diastolic) => Ok(()),
            Some(Fold::Systolic(d)) => observation(m, codes, r, &children, by_guid.get(d).copied()),
            None => observation(m, codes, r, &children, None),
        }
    });
}

/// The effective date of a row, cut to its precision column.
fn effective(row: &Row<'_>, column: &str, precision: &str) -> Result<Option<String>, Rejection> {
    match row.get(column) {
        None => Ok(None),
        Some(v) => dates::with_precision(v, row.get(precision))
            .map_err(|why| row.reject(column, format!("'{v}' {why}"))),
    }
}

/// When the row was entered, as an instant (only when a time was recorded).
fn entered(row: &Row<'_>) -> Result<Option<String>, Rejection> {
    match (row.get("EnteredDate"), row.get("EnteredTime")) {
        (Some(d), Some(t)) => dates::local_date_and_time(d, Some(t))
            .map(Some)
            .map_err(|why| row.reject("EnteredTime", format!("'{d} {t}' {why}"))),
        (Some(_), None) => row.date("EnteredDate").map(|_| None),
        _ => Ok(None),
    }
}

fn consultation(m: &mut Mapping, codes: &Codes, row: &Row<'_>) -> Result<(), Rejection> {
    let g = row.required("ConsultationGuid")?;
    let k = key("Encounter", "consultation", g);
    if deleted(m, row, k.clone())? {
        return Ok(());
    }
    let patient = patient_key(row.required("PatientGuid")?);
    let status = if row.flag("Complete")? {
        "finished"
    } else {
        "in-progress"
    };
    let mut e = object([
        ("resourceType", "Encounter".into()),
        ("identifier", Value::Array(vec![k.identifier()])),
        ("status", status.into()),
        (
            "class",
            coding(
                "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "AMB",
                Some("ambulatory"),
            ),
        ),
        ("subject", patient.reference()),
    ]);
    let mut t = match row.get("ConsultationSourceCodeId") {
        Some(_) => codes.clinical(row, "ConsultationSourceCodeId")?,
        None => json!({}),
    };
    if let Some(term) = row.get("ConsultationSourceTerm") {
        t["text"] = json!(term);
    }
    put(
        &mut e,
        "type",
        (t.as_object().is_some_and(|o| !o.is_empty())).then(|| Value::Array(vec![t])),
    );
    put(
        &mut e,
        "participant",
        row.get("ClinicianUserInRoleGuid").map(|c| {
            Value::Array(vec![object([(
                "individual",
                practitioner_key(c).reference(),
            )])])
        }),
    );
    put(
        &mut e,
        "period",
        effective(row, "EffectiveDate", "EffectiveDatePrecision")?.map(|s| json!({"start": s})),
    );
    put(
        &mut e,
        "serviceProvider",
        row.get("OrganisationGuid")
            .map(|o| organisation_key(o).reference()),
    );
    entered(row)?;
    confidential(row, &mut e)?;
    m.upserts
        .push(Upsert::new(k, Some(patient), e, row.origin()));
    Ok(())
}

fn problem(
    m: &mut Mapping,
    codes: &Codes,
    row: &Row<'_>,
    obs: Option<&Row<'_>>,
) -> Result<(), Rejection> {
    let g = row.required("ObservationGuid")?;
    let k = key("Condition", "problem", g);
    if deleted(m, row, k.clone())? {
        return Ok(());
    }
    let obs = obs.ok_or_else(|| {
        row.reject(
            "ObservationGuid",
            format!(
                "the observation {} that holds this problem's code is not in this batch",
                guid(g)
            ),
        )
    })?;
    let patient = patient_key(row.required("PatientGuid")?);
    let ended = effective(row, "EndDate", "EndDatePrecision")?;
    let status = match (
        row.get("ProblemStatusDescription")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        &ended,
    ) {
        (Some("active"), _) => "active",
        (Some("past") | Some("inactive") | Some("resolved"), _) => "resolved",
        (None, Some(_)) => "resolved",
        (None, None) => "active",
        (Some(other), _) => {
            return Err(row.reject(
                "ProblemStatusDescription",
                format!("'{other}' is not a problem status this adapter knows (Active, Past)"),
            ))
        }
    };
    let mut c = json!({"resourceType": "Condition", "identifier": [k.identifier()],
        "clinicalStatus": concept(vec![coding("http://terminology.hl7.org/CodeSystem/condition-clinical", status, None)], None),
        "category": [concept(vec![coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", Some("Problem List Item"))], None)],
        "code": codes.clinical(obs, "CodeId")?, "subject": patient.reference()});
    put(
        &mut c,
        "onsetDateTime",
        effective(obs, "EffectiveDate", "EffectiveDatePrecision")?.map(Value::from),
    );
    put(&mut c, "abatementDateTime", ended.map(Value::from));
    put(
        &mut c,
        "recordedDate",
        obs.date("EnteredDate")?.map(Value::from),
    );
    put(
        &mut c,
        "recorder",
        obs.get("ClinicianUserInRoleGuid")
            .map(|u| practitioner_key(u).reference()),
    );
    put(
        &mut c,
        "encounter",
        obs.get("ConsultationGuid")
            .map(|e| key("Encounter", "consultation", e).reference()),
    );
    put(
        &mut c,
        "note",
        row.get("Comment").map(|t| json!([{"text": t}])),
    );
    let mut ext = Vec::new();
    if let Some(s) = row.get("SignificanceDescription") {
        let code = match s.to_ascii_lowercase() {
            s if s.starts_with("significant") || s.starts_with("major") => "major",
            s if s.starts_with("minor") => "minor",
            _ => return Err(row.reject("SignificanceDescription", format!("'{s}' is not a significance this adapter knows (Significant Problem, Minor Problem)"))),
        };
        ext.push(json!({"url": PROBLEM_SIGNIFICANCE, "valueCode": code}));
    }
    if let Some(reviewed) = effective(row, "LastReviewDate", "LastReviewDatePrecision")? {
        let mut parts = vec![json!({"url": "date", "valueDateTime": reviewed})];
        if let Some(u) = row.get("LastReviewUserInRoleGuid") {
            parts.push(
                json!({"url": "reviewer", "valueReference": practitioner_key(u).reference()}),
            );
        }
        ext.push(json!({"url": PROBLEM_LAST_REVIEW, "extension": parts}));
    }
    put(&mut c, "extension", Some(json!(ext)));
    confidential(obs, &mut c)?;
    m.upserts
        .push(Upsert::new(k, Some(patient), c, row.origin()));
    Ok(())
}

enum Fold {
    /// The systolic row of a pair, with its diastolic partner's guid.
    Systolic(String),
    Diastolic,
}

/// Pairs of systolic and diastolic readings of one patient, date and consultation.
fn blood_pressures(rows: &[Row<'_>], codes: &Codes) -> HashMap<String, Fold> {
    // (patient, date, consultation) → (systolic guids, diastolic guids)
    type Readings = (Vec<String>, Vec<String>);
    let mut groups: HashMap<(String, String, String), Readings> = HashMap::new();
    for r in rows {
        let (Some(g), Some(code)) = (r.get("ObservationGuid"), r.get("CodeId")) else {
            continue;
        };
        if matches!(r.flag("Deleted"), Ok(true)) {
            continue;
        }
        let Some(snomed) = codes.snomed_of(code) else {
            continue;
        };
        let group = (
            r.get("PatientGuid").map(guid).unwrap_or_default(),
            r.get("EffectiveDate").unwrap_or_default().to_string(),
            r.get("ConsultationGuid").map(guid).unwrap_or_default(),
        );
        if SYSTOLIC.contains(&snomed.as_str()) {
            groups.entry(group).or_default().0.push(guid(g));
        } else if DIASTOLIC.contains(&snomed.as_str()) {
            groups.entry(group).or_default().1.push(guid(g));
        }
    }
    let mut out = HashMap::new();
    for (_, (s, d)) in groups {
        if let ([s], [d]) = (s.as_slice(), d.as_slice()) {
            out.insert(s.clone(), Fold::Systolic(d.clone()));
            out.insert(d.clone(), Fold::Diastolic);
        }
    }
    out
}

/// The UCUM code of a unit as GP systems write it, where it has one.
fn ucum(unit: &str) -> Option<&'static str> {
    Some(match unit.trim() {
        "mmHg" | "mm Hg" | "mm[Hg]" => "mm[Hg]",
        "kg" | "Kg" => "kg",
        "g" => "g",
        "cm" => "cm",
        "m" => "m",
        "kg/m2" | "kg/m^2" | "kg/m²" => "kg/m2",
        "mmol/L" | "mmol/l" => "mmol/L",
        "mmol/mol" => "mmol/mol",
        "umol/L" | "umol/l" | "µmol/L" => "umol/L",
        "g/L" | "g/l" => "g/L",
        "mg/L" | "mg/l" => "mg/L",
        "U/L" | "u/l" | "IU/L" | "iu/l" => "U/L",
        "%" => "%",
        "bpm" | "/min" | "beats/min" | "beats per minute" => "/min",
        "breaths/min" => "/min",
        "degC" | "°C" | "Cel" => "Cel",
        "mL/min/1.73m2" | "ml/min/1.73m2" => "mL/min/{1.73_m2}",
        "units/week" | "U/wk" => "{units}/wk",
        "score" | "{score}" => "{score}",
        _ => return None,
    })
}

/// A number column as a FHIR decimal, its written precision kept.
fn number(row: &Row<'_>, column: &str) -> Result<Option<Value>, Rejection> {
    row.parsed(column, |v| match serde_json::from_str::<Value>(v) {
        Ok(n @ Value::Number(_)) => Ok(n),
        _ => Err("is not a number".to_string()),
    })
}

fn quantity(value: Value, unit: Option<&str>) -> Value {
    let mut q = json!({"value": value});
    if let Some(u) = unit {
        q["unit"] = json!(u);
        if let Some(code) = ucum(u) {
            q["system"] = json!(UCUM);
            q["code"] = json!(code);
        }
    }
    q
}

fn observation(
    m: &mut Mapping,
    codes: &Codes,
    row: &Row<'_>,
    children: &HashMap<String, Vec<String>>,
    diastolic: Option<&Row<'_>>,
) -> Result<(), Rejection> {
    let g = guid(row.required("ObservationGuid")?);
    let allergy = row
        .get("ObservationType")
        .is_some_and(|t| t.eq_ignore_ascii_case("allergy"));
    let res_type = if allergy {
        "AllergyIntolerance"
    } else {
        "Observation"
    };
    let k = key(res_type, "observation", &g);
    if deleted(m, row, k.clone())? {
        return Ok(());
    }
    let patient = patient_key(row.required("PatientGuid")?);
    let code = codes.clinical(row, "CodeId")?;
    let when = effective(row, "EffectiveDate", "EffectiveDatePrecision")?;
    let issued = entered(row)?;
    let clinician = row
        .get("ClinicianUserInRoleGuid")
        .map(|c| practitioner_key(c).reference());
    let note = row.get("AssociatedText").map(|t| json!([{"text": t}]));
    let mut r = if allergy {
        let mut a = object([
            ("resourceType", "AllergyIntolerance".into()),
            ("identifier", Value::Array(vec![k.identifier()])),
            (
                "clinicalStatus",
                concept(
                    vec![coding(
                        "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                        "active",
                        None,
                    )],
                    None,
                ),
            ),
            (
                "verificationStatus",
                concept(
                    vec![coding(
                        "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification",
                        "confirmed",
                        None,
                    )],
                    None,
                ),
            ),
            ("code", code),
            ("patient", patient.reference()),
        ]);
        put(&mut a, "onsetDateTime", when.map(Value::from));
        put(
            &mut a,
            "recordedDate",
            row.date("EnteredDate")?.map(Value::from),
        );
        put(&mut a, "recorder", clinician);
        put(
            &mut a,
            "encounter",
            row.get("ConsultationGuid")
                .map(|e| key("Encounter", "consultation", e).reference()),
        );
        put(&mut a, "note", note);
        a
    } else {
        let mut o = object([
            ("resourceType", "Observation".into()),
            ("identifier", Value::Array(vec![k.identifier()])),
            ("status", "final".into()),
            ("code", code),
            ("subject", patient.reference()),
        ]);
        if let Some(t) = row.get("ObservationType") {
            o["category"] = Value::Array(vec![concept(vec![], Some(t))]);
        }
        put(
            &mut o,
            "encounter",
            row.get("ConsultationGuid")
                .map(|e| key("Encounter", "consultation", e).reference()),
        );
        put(&mut o, "effectiveDateTime", when.map(Value::from));
        put(&mut o, "issued", issued.map(Value::from));
        let mut performers: Vec<Value> = clinician.into_iter().collect();
        performers.extend(
            row.get("OrganisationGuid")
                .map(|o| organisation_key(o).reference()),
        );
        put(&mut o, "performer", Some(Value::Array(performers)));
        let unit = row.get("NumericUnit");
        if let Some(v) = number(row, "Value")? {
            o["valueQuantity"] = quantity(v, unit);
        }
        let mut range = json!({});
        put(
            &mut range,
            "low",
            number(row, "NumericRangeLow")?.map(|v| quantity(v, unit)),
        );
        put(
            &mut range,
            "high",
            number(row, "NumericRangeHigh")?.map(|v| quantity(v, unit)),
        );
        put(
            &mut o,
            "referenceRange",
            range
                .as_object()
                .is_some_and(|r| !r.is_empty())
                .then(|| Value::Array(vec![range])),
        );
        put(&mut o, "note", note);
        let members: Vec<Value> = children
            .get(&g)
            .into_iter()
            .flatten()
            .map(|c| key("Observation", "observation", c).reference())
            .collect();
        put(&mut o, "hasMember", Some(Value::Array(members)));
        o
    };
    confidential(row, &mut r)?;
    let mut aliases = Vec::new();
    if let Some(d) = diastolic {
        let dg = guid(d.required("ObservationGuid")?);
        let mut component = object([(
            "code",
            with_loinc(
                codes.clinical(d, "CodeId")?,
                "8462-4",
                "Diastolic blood pressure",
            ),
        )]);
        put(
            &mut component,
            "valueQuantity",
            number(d, "Value")?.map(|v| quantity(v, d.get("NumericUnit"))),
        );
        fold_blood_pressure(&mut r, component);
        r["identifier"]
            .as_array_mut()
            .into_iter()
            .for_each(|ids| ids.push(json!({"system": super::system("observation"), "value": dg})));
        aliases.push(Key::new("Observation", super::system("observation"), dg));
    }
    m.upserts.push(Upsert {
        key: k,
        aliases,
        merge: false,
        patient: Some(patient),
        resource: r,
        origin: row.origin(),
    });
    Ok(())
}

/// Turns a systolic Observation into a blood-pressure panel whose components are the
/// systolic reading and its diastolic partner.
fn fold_blood_pressure(o: &mut Value, diastolic: Value) {
    let systolic_code = o["code"].take();
    let value = o.get_mut("valueQuantity").map(Value::take);
    if let Some(obj) = o.as_object_mut() {
        obj.remove("valueQuantity");
        obj.remove("referenceRange");
    }
    o["code"] = concept(
        vec![
            coding(
                LOINC,
                "85354-9",
                Some("Blood pressure panel with all children optional"),
            ),
            coding(SNOMED, "75367002", Some("Blood pressure")),
        ],
        Some("Blood pressure"),
    );
    o["category"] = Value::Array(vec![concept(
        vec![coding(
            OBSERVATION_CATEGORY,
            "vital-signs",
            Some("Vital Signs"),
        )],
        None,
    )]);
    let mut systolic = object([(
        "code",
        with_loinc(systolic_code, "8480-6", "Systolic blood pressure"),
    )]);
    put(&mut systolic, "valueQuantity", value);
    o["component"] = Value::Array(vec![systolic, diastolic]);
}

fn with_loinc(mut code: Value, loinc: &str, display: &str) -> Value {
    if let Some(c) = code.get_mut("coding").and_then(Value::as_array_mut) {
        c.insert(0, coding(LOINC, loinc, Some(display)));
    }
    code
}
