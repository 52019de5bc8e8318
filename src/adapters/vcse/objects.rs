//! The CRM's objects as FHIR: Contact → Patient, Case (record type CarePlan) → CarePlan
//! authored by the voluntary-sector organisation, care plan goals → Goal (linked from
//! CarePlan.goal), service deliveries → Encounter, wellbeing assessments → Observation.
//! A case and its goals may arrive in different syncs, so both are kept and the CarePlan is
//! rebuilt whenever either changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::super::memory::Memory;
use super::super::model::{
    coding, concept, put, Key, Mapping, Origin, Rejection, Removal, Upsert, NHS_NUMBER,
    OBSERVATION_CATEGORY, ODS_CODE, SNOMED, UCUM,
};
use super::super::person::person_keys;
use super::records::Record;
use super::{contact_key, system};
use crate::profile::nhs_number;

pub fn map(records: &[Record<'_>], ods: &str, memory: &Memory, m: &mut Mapping) {
    let mut cases: BTreeMap<String, Case> = memory.kept(CASES);
    let mut goals: BTreeMap<String, Goal> = memory.kept(GOALS);
    let mut touched: BTreeMap<String, Origin> = BTreeMap::new();
    for r in records {
        let result = match r.object() {
            Some("Contact") => contact(r, m),
            Some("Case") => case(r, m, &mut cases, &mut touched),
            Some("HealthCloudGA__CarePlanGoal__c") => goal(r, m, &cases, &mut goals, &mut touched),
            Some("pmdm__ServiceDelivery__c") => delivery(r, ods, m),
            Some("Wellbeing_Assessment__c") => wellbeing(r, m),
            Some(other) => Err(r.reject(
                "attributes.type",
                format!("object {other} is not one this adapter maps; the record was not imported"),
            )),
            None => Err(r.reject("attributes.type", "the record has no attributes.type")),
        };
        if let Err(e) = result {
            m.rejected.push(e);
        }
    }
    for (id, origin) in touched {
        let Some(c) = cases.get(&id) else { continue };
        let patient = contact_key(&c.contact);
        let mine: Vec<(&String, &Goal)> = goals.iter().filter(|(_, g)| g.case == id).collect();
        for (gid, g) in &mine {
            if g.fresh {
                let goal = goal_resource(gid, g, &patient);
                m.upserts.push(Upsert::new(
                    goal_key(gid),
                    Some(patient.clone()),
                    goal,
                    origin.clone(),
                ));
            }
        }
        let mut cp = json!({"resourceType": "CarePlan", "identifier": [case_key(&id).identifier()],
            "status": c.status, "intent": "plan", "subject": patient.reference(),
            "author": {"identifier": {"system": ODS_CODE, "value": ods}}});
        put(&mut cp, "title", c.subject.clone().map(Value::from));
        put(
            &mut cp,
            "description",
            c.description.clone().map(Value::from),
        );
        let mut period = json!({});
        put(&mut period, "start", c.created.clone().map(Value::from));
        put(&mut period, "end", c.closed.clone().map(Value::from));
        put(&mut cp, "period", Some(period));
        put(&mut cp, "created", c.created.clone().map(Value::from));
        let refs: Vec<Value> = mine
            .iter()
            .map(|(gid, _)| goal_key(gid).reference())
            .collect();
        put(&mut cp, "goal", Some(json!(refs)));
        m.upserts
            .push(Upsert::new(case_key(&id), Some(patient), cp, origin));
    }
}

const CASES: &str = "case";
const GOALS: &str = "goal";

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Case {
    contact: String,
    status: String,
    subject: Option<String>,
    description: Option<String>,
    created: Option<String>,
    closed: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Goal {
    case: String,
    description: Option<String>,
    priority: Option<String>,
    progress: Option<String>,
    /// Delivered in this batch (kept goals are only listed on their plan).
    #[serde(skip)]
    fresh: bool,
}

fn case_key(id: &str) -> Key {
    Key::new("CarePlan", system("case"), id)
}

fn goal_key(id: &str) -> Key {
    Key::new("Goal", system("care-plan-goal"), id)
}

/// A deleted record removes what it keyed; `true` when it was.
fn deleted(r: &Record<'_>, m: &mut Mapping, key: Key) -> Result<bool, Rejection> {
    if r.flag("IsDeleted")? {
        m.removals.push(Removal {
            key,
            origin: r.origin(),
        });
        return Ok(true);
    }
    Ok(false)
}

fn contact(r: &Record<'_>, m: &mut Mapping) -> Result<(), Rejection> {
    let id = r.required("Id")?;
    let source = contact_key(&id);
    if deleted(r, m, source.clone())? {
        return Ok(());
    }
    let nhs = match r.str("NHS_Number__c") {
        Some(n) => {
            let digits: String = n.chars().filter(|c| !c.is_whitespace()).collect();
            if !nhs_number::is_valid(&digits) {
                return Err(r.reject("NHS_Number__c", format!("'{n}' is not a valid NHS number (ten digits with a Modulus 11 check digit)")));
            }
            Some(digits)
        }
        None => None,
    };
    let (key, aliases) = person_keys(nhs.as_deref(), source.clone());
    let mut ids = vec![source.identifier()];
    if let Some(n) = &nhs {
        ids.insert(0, json!({"system": NHS_NUMBER, "value": n}));
    }
    let mut p = json!({"resourceType": "Patient", "identifier": ids});
    let mut name = json!({"use": "official"});
    put(&mut name, "family", r.str("LastName").map(Value::from));
    put(&mut name, "given", r.str("FirstName").map(|f| json!([f])));
    if name.as_object().is_some_and(|n| n.len() > 1) {
        p["name"] = json!([name]);
    }
    put(&mut p, "birthDate", r.date("Birthdate")?.map(Value::from));
    let mut telecom = Vec::new();
    if let Some(e) = r.str("Email") {
        telecom.push(json!({"system": "email", "value": e, "use": "home"}));
    }
    if let Some(mo) = r.str("MobilePhone") {
        telecom.push(json!({"system": "phone", "value": mo, "use": "mobile"}));
    }
    put(&mut p, "telecom", Some(json!(telecom)));
    put(
        &mut p,
        "address",
        r.str("MailingPostalCode")
            .map(|pc| json!([{"use": "home", "postalCode": pc}])),
    );
    r.datetime("SystemModstamp")?;
    m.upserts.push(Upsert {
        key: key.clone(),
        aliases,
        merge: true,
        patient: Some(key),
        resource: p,
        origin: r.origin(),
    });
    Ok(())
}

fn case(
    r: &Record<'_>,
    m: &mut Mapping,
    cases: &mut BTreeMap<String, Case>,
    touched: &mut BTreeMap<String, Origin>,
) -> Result<(), Rejection> {
    let id = r.required("Id")?;
    if deleted(r, m, case_key(&id))? {
        return Ok(());
    }
    let kind = r.related("RecordType", "Name");
    if kind.as_deref() != Some("CarePlan") {
        return Err(r.reject(
            "RecordType.Name",
            format!(
                "a Case of record type {} is not a care plan; it was not imported",
                kind.unwrap_or_else(|| "(none)".into())
            ),
        ));
    }
    let status = r.required("Status")?;
    let fhir_status = match status.to_ascii_lowercase().as_str() {
        "new" | "working" | "in progress" | "escalated" | "open" => "active",
        "on hold" => "on-hold",
        "closed" | "completed" => "completed",
        "cancelled" => "revoked",
        other => return Err(r.reject("Status", format!("'{other}' is not a case status this adapter knows (New, Working, Escalated, On Hold, Closed, Cancelled)"))),
    };
    let c = Case {
        contact: r.required("ContactId")?,
        status: fhir_status.to_string(),
        subject: r.str("Subject"),
        description: r.str("Description"),
        created: r.datetime("CreatedDate")?,
        closed: r.datetime("ClosedDate")?,
    };
    m.remember(CASES, &id, &c);
    cases.insert(id.clone(), c);
    touched.entry(id).or_insert_with(|| r.origin());
    Ok(())
}

fn goal(
    r: &Record<'_>,
    m: &mut Mapping,
    cases: &BTreeMap<String, Case>,
    goals: &mut BTreeMap<String, Goal>,
    touched: &mut BTreeMap<String, Origin>,
) -> Result<(), Rejection> {
    let id = r.required("Id")?;
    if deleted(r, m, goal_key(&id))? {
        // Forgotten (an empty value reads as nothing), so later rebuilds leave it out.
        m.remember(GOALS, &id, &());
        if let Some(g) = goals.remove(&id) {
            touched.entry(g.case).or_insert_with(|| r.origin());
        }
        return Ok(());
    }
    let case = r.required("HealthCloudGA__CarePlan__c")?;
    if !cases.contains_key(&case) {
        return Err(r.reject(
            "HealthCloudGA__CarePlan__c",
            format!("care plan case {case} is in no batch so far"),
        ));
    }
    let g = Goal {
        case: case.clone(),
        description: r.str("HealthCloudGA__Description__c"),
        priority: r.str("HealthCloudGA__Priority__c"),
        progress: r.str("HealthCloudGA__Progress__c"),
        fresh: true,
    };
    if let Some(p) = &g.priority {
        priority(p).ok_or_else(|| {
            r.reject(
                "HealthCloudGA__Priority__c",
                format!("'{p}' is not a priority this adapter knows (High, Medium, Low)"),
            )
        })?;
    }
    if let Some(p) = &g.progress {
        progress(p).ok_or_else(|| r.reject("HealthCloudGA__Progress__c", format!("'{p}' is not a progress this adapter knows (Not Started, In Progress, On Track, Off Track, Achieved, Not Achieved, Cancelled)")))?;
    }
    m.remember(GOALS, &id, &g);
    goals.insert(id, g);
    touched.entry(case).or_insert_with(|| r.origin());
    Ok(())
}

fn priority(p: &str) -> Option<&'static str> {
    Some(match p.to_ascii_lowercase().as_str() {
        "high" => "high-priority",
        "medium" => "medium-priority",
        "low" => "low-priority",
        _ => return None,
    })
}

/// Progress as (lifecycle status, achievement status).
fn progress(p: &str) -> Option<(&'static str, &'static str)> {
    Some(match p.to_ascii_lowercase().as_str() {
        "not started" => ("proposed", "no-progress"),
        "in progress" => ("active", "in-progress"),
        "on track" => ("active", "improving"),
        "off track" => ("active", "worsening"),
        "achieved" | "completed" => ("completed", "achieved"),
        "not achieved" => ("completed", "not-achieved"),
        "cancelled" => ("cancelled", "not-attainable"),
        _ => return None,
    })
}

fn goal_resource(id: &str, g: &Goal, patient: &Key) -> Value {
    let (lifecycle, achievement) = g
        .progress
        .as_deref()
        .and_then(progress)
        .unwrap_or(("active", "in-progress"));
    let mut goal = json!({"resourceType": "Goal", "identifier": [goal_key(id).identifier()],
        "lifecycleStatus": lifecycle,
        "achievementStatus": concept(vec![coding("http://terminology.hl7.org/CodeSystem/goal-achievement", achievement, None)], g.progress.as_deref()),
        "description": {"text": g.description.clone().unwrap_or_else(|| "Care plan goal".into())},
        "subject": patient.reference()});
    if let Some(p) = g
        .priority
        .as_deref()
        .and_then(|p| priority(p).map(|c| (c, p)))
    {
        goal["priority"] = concept(
            vec![coding(
                "http://terminology.hl7.org/CodeSystem/goal-priority",
                p.0,
                None,
            )],
            Some(p.1),
        );
    }
    goal
}

fn delivery(r: &Record<'_>, ods: &str, m: &mut Mapping) -> Result<(), Rejection> {
    let id = r.required("Id")?;
    let key = Key::new("Encounter", system("service-delivery"), &id);
    if deleted(r, m, key.clone())? {
        return Ok(());
    }
    let patient = contact_key(&r.required("pmdm__Contact__c")?);
    let attendance = r.required("pmdm__AttendanceStatus__c")?;
    let status = match attendance.to_ascii_lowercase().as_str() {
        "attended" | "present" | "complete" | "completed" => "finished",
        "absent" | "missed" | "no show" | "did not attend" | "unexcused absence" | "excused absence" => "cancelled",
        "scheduled" | "booked" => "planned",
        other => return Err(r.reject("pmdm__AttendanceStatus__c", format!("'{other}' is not an attendance status this adapter knows (Attended, Present, Absent, Missed, No Show, Scheduled)"))),
    };
    let mut e = json!({"resourceType": "Encounter", "identifier": [key.identifier()], "status": status,
        "class": coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", Some("ambulatory")),
        "subject": patient.reference(),
        "serviceProvider": {"identifier": {"system": ODS_CODE, "value": ods}}});
    // The attendance as the CRM recorded it: a missed session is a cancelled encounter.
    e["type"] = json!([concept(
        vec![coding(
            &format!("{}/vcse-attendance", super::super::model::CODE_SYSTEM_BASE),
            &attendance,
            Some(&attendance)
        )],
        Some(&attendance)
    )]);
    let service = r
        .related("pmdm__Service__r", "Name")
        .or_else(|| r.str("pmdm__Service__c"));
    put(
        &mut e,
        "serviceType",
        service.map(|s| concept(vec![], Some(&s))),
    );
    put(
        &mut e,
        "period",
        r.date("pmdm__DeliveryDate__c")?
            .map(|d| json!({"start": d})),
    );
    m.upserts
        .push(Upsert::new(key, Some(patient), e, r.origin()));
    Ok(())
}

fn wellbeing(r: &Record<'_>, m: &mut Mapping) -> Result<(), Rejection> {
    let id = r.required("Id")?;
    let key = Key::new("Observation", system("wellbeing-assessment"), &id);
    if deleted(r, m, key.clone())? {
        return Ok(());
    }
    let patient = contact_key(&r.required("Contact__c")?);
    let tool = r.required("Tool__c")?;
    let (code, display) = match tool.to_ascii_uppercase().as_str() {
        "WEMWBS" => (
            "718426000",
            "Warwick-Edinburgh Mental Well-being Scale score",
        ),
        "SWEMWBS" => (
            "718466001",
            "Short Warwick-Edinburgh Mental Well-being Scale score",
        ),
        other => {
            return Err(r.reject(
                "Tool__c",
                format!("'{other}' is not a wellbeing tool this adapter knows (WEMWBS, SWEMWBS)"),
            ))
        }
    };
    let score = r.required("Total_Score__c")?;
    let number: f64 = score
        .parse()
        .map_err(|_| r.reject("Total_Score__c", format!("'{score}' is not a number")))?;
    let mut o = json!({"resourceType": "Observation", "identifier": [key.identifier()], "status": "final",
        "category": [concept(vec![coding(OBSERVATION_CATEGORY, "survey", Some("Survey"))], None)],
        "code": concept(vec![coding(SNOMED, code, Some(display))], Some(display)),
        "subject": patient.reference()});
    // Salesforce writes numbers as decimals; a whole score is an integer, a metric one not.
    if number.fract() == 0.0 && number.abs() < 1e9 {
        o["valueInteger"] = json!(number as i64);
    } else {
        o["valueQuantity"] = json!({"value": serde_json::from_str::<Value>(&score).unwrap_or(json!(number)), "system": UCUM, "code": "{score}", "unit": "score"});
    }
    put(
        &mut o,
        "effectiveDateTime",
        r.date("Assessment_Date__c")?.map(Value::from),
    );
    m.upserts
        .push(Upsert::new(key, Some(patient), o, r.origin()));
    Ok(())
}
