//! Care: CPA episodes (EpisodeOfCare), care coordinators (CareTeam), and care plans with
//! their problems (Conditions the plan addresses) and interventions (its activities).
//! A plan, its problems and its interventions come in three files and may arrive in
//! different batches, so the adapter keeps them and rebuilds a plan whenever any part of it
//! changes.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::super::csv_table::Row;
use super::super::memory::Memory;
use super::super::model::{
    coding, concept, put, Key, Mapping, Origin, Rejection, Upsert, CODE_SYSTEM_BASE, ODS_CODE,
    SNOMED,
};
use super::super::tables::{each, Tables};
use super::{client_key, label, staff, system, Config};

pub const CPA: &[&str] = &[
    "ClientID",
    "SequenceID",
    "StartDate",
    "EndDate",
    "CPALevel",
    "NextReviewDate",
];
pub const COORDINATOR: &[&str] = &[
    "ClientID",
    "CareCoordinatorID",
    "CareCoordinatorName",
    "TeamName",
    "StartDate",
    "EndDate",
];
pub const PLAN: &[&str] = &[
    "ClientID",
    "CarePlanID",
    "CarePlanType",
    "StartDate",
    "EndDate",
    "StartUserID",
];
pub const PROBLEM: &[&str] = &[
    "ProblemID",
    "CarePlanID",
    "Text",
    "StartDate",
    "EndDate",
    "OutCome",
];
pub const INTERVENTION: &[&str] = &[
    "ProblemID",
    "InterventionID",
    "Box1",
    "Box2",
    "InterventionType",
    "StartDate",
    "EndDate",
];

/// When the next CPA review is due.
pub const NEXT_REVIEW: &str = "https://fhir.carebridge.example/StructureDefinition/next-review";

pub fn map(tables: &Tables, c: &Config, memory: &Memory, m: &mut Mapping) {
    each(m, tables.rows("CPAClientCPA"), |m, r| cpa(m, c, r));
    each(m, tables.rows("CPACareCoordinator"), |m, r| {
        coordinator(m, c, r)
    });
    plans(tables, c, memory, m);
}

fn period(r: &Row<'_>) -> Result<(Option<String>, Option<String>, Value), Rejection> {
    let start = r.date("StartDate")?;
    let end = r.date("EndDate")?;
    let mut p = json!({});
    put(&mut p, "start", start.clone().map(Value::from));
    put(&mut p, "end", end.clone().map(Value::from));
    Ok((start, end, p))
}

fn trust(c: &Config) -> Value {
    json!({"identifier": {"system": ODS_CODE, "value": c.sender.ods}})
}

fn cpa(m: &mut Mapping, c: &Config, r: &Row<'_>) -> Result<(), Rejection> {
    let client = r.required("ClientID")?;
    let k = Key::new(
        "EpisodeOfCare",
        system("cpa"),
        format!("{client}/{}", r.required("SequenceID")?),
    );
    let level = r.required("CPALevel")?;
    let display = c.cpa_levels.get(level).ok_or_else(|| {
        r.reject(
            "CPALevel",
            format!("'{level}' is not a CPA level the adapter configuration lists"),
        )
    })?;
    let (_, end, period) = period(r)?;
    let patient = client_key(client);
    let mut e = json!({"resourceType": "EpisodeOfCare", "identifier": [k.identifier()],
        "status": if end.is_some() { "finished" } else { "active" },
        "type": [concept(vec![coding(&format!("{CODE_SYSTEM_BASE}/rio-cpa-level"), level, Some(display))], Some(display))],
        "patient": patient.reference(), "managingOrganization": trust(c)});
    put(&mut e, "period", Some(period));
    if let Some(next) = r.date("NextReviewDate")? {
        e["extension"] = json!([{"url": NEXT_REVIEW, "valueDate": next}]);
    }
    label(&mut e);
    m.upserts.push(Upsert::new(k, Some(patient), e, r.origin()));
    Ok(())
}

fn coordinator(m: &mut Mapping, c: &Config, r: &Row<'_>) -> Result<(), Rejection> {
    let client = r.required("ClientID")?;
    let who = r.required("CareCoordinatorID")?;
    let (start, end, period) = period(r)?;
    let k = Key::new(
        "CareTeam",
        system("care-coordinator"),
        format!("{client}/{who}/{}", start.unwrap_or_default()),
    );
    let practitioner = Key::new("Practitioner", system("staff"), who);
    let patient = client_key(client);
    let mut member = practitioner.reference();
    put(
        &mut member,
        "display",
        r.get("CareCoordinatorName").map(Value::from),
    );
    let mut participant = json!({"role": [concept(vec![coding(SNOMED, "768820003", Some("Care coordinator"))], None)], "member": member});
    put(&mut participant, "period", Some(period.clone()));
    let mut t = json!({"resourceType": "CareTeam", "identifier": [k.identifier()],
        "status": if end.is_some() { "inactive" } else { "active" },
        "subject": patient.reference(), "participant": [participant], "managingOrganization": [trust(c)]});
    put(&mut t, "name", r.get("TeamName").map(Value::from));
    put(&mut t, "period", Some(period));
    label(&mut t);
    let mut p = json!({"resourceType": "Practitioner", "identifier": [practitioner.identifier()]});
    put(
        &mut p,
        "name",
        r.get("CareCoordinatorName").map(|n| json!([{"text": n}])),
    );
    let origin = r.origin();
    m.upserts
        .push(Upsert::new(practitioner, None, p, origin.clone()));
    m.upserts.push(Upsert::new(k, Some(patient), t, origin));
    Ok(())
}

/// A care plan row, as kept between batches.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Plan {
    client: String,
    kind: String,
    start: Option<String>,
    end: Option<String>,
    author: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Problem {
    plan: String,
    text: Option<String>,
    start: Option<String>,
    end: Option<String>,
    outcome: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Intervention {
    problem: String,
    what: Option<String>,
    detail: Option<String>,
    kind: Option<String>,
    start: Option<String>,
    end: Option<String>,
}

const PLANS: &str = "care-plan";
const PROBLEMS: &str = "care-plan-problem";
const INTERVENTIONS: &str = "care-plan-intervention";

fn plans(tables: &Tables, c: &Config, memory: &Memory, m: &mut Mapping) {
    let mut plans: BTreeMap<String, Plan> = memory.kept(PLANS);
    let mut problems: BTreeMap<String, Problem> = memory.kept(PROBLEMS);
    let mut interventions: BTreeMap<String, Intervention> = memory.kept(INTERVENTIONS);
    // Plans this batch touches, with the first row that touched each.
    let mut touched: BTreeMap<String, Origin> = BTreeMap::new();
    let mut new_problems: BTreeSet<String> = BTreeSet::new();
    each(m, tables.rows("CarePlanIndex"), |m, r| {
        let id = r.required("CarePlanID")?;
        let kind = r.required("CarePlanType")?;
        if !c.care_plan_types.contains_key(kind) {
            return Err(r.reject(
                "CarePlanType",
                format!("'{kind}' is not a care plan type the adapter configuration lists"),
            ));
        }
        let p = Plan {
            client: r.required("ClientID")?.to_string(),
            kind: kind.to_string(),
            start: r.date("StartDate")?,
            end: r.date("EndDate")?,
            author: r.get("StartUserID").map(str::to_string),
        };
        m.remember(PLANS, id, &p);
        plans.insert(id.to_string(), p);
        touched.entry(id.to_string()).or_insert_with(|| r.origin());
        Ok(())
    });
    each(m, tables.rows("CarePlanProblems"), |m, r| {
        let id = r.required("ProblemID")?;
        let plan = r.required("CarePlanID")?;
        if !plans.contains_key(plan) {
            return Err(r.reject(
                "CarePlanID",
                format!("care plan {plan} is in no CarePlanIndex file of this or an earlier batch"),
            ));
        }
        let p = Problem {
            plan: plan.to_string(),
            text: r.get("Text").map(str::to_string),
            start: r.date("StartDate")?,
            end: r.date("EndDate")?,
            outcome: r.get("OutCome").map(str::to_string),
        };
        m.remember(PROBLEMS, id, &p);
        problems.insert(id.to_string(), p);
        new_problems.insert(id.to_string());
        touched
            .entry(plan.to_string())
            .or_insert_with(|| r.origin());
        Ok(())
    });
    each(m, tables.rows("CarePlanInterventions"), |m, r| {
        let id = r.required("InterventionID")?;
        let problem = r.required("ProblemID")?;
        let Some(plan) = problems.get(problem).map(|p| p.plan.clone()) else {
            return Err(r.reject(
                "ProblemID",
                format!(
                    "problem {problem} is in no CarePlanProblems file of this or an earlier batch"
                ),
            ));
        };
        let i = Intervention {
            problem: problem.to_string(),
            what: r.get("Box1").map(str::to_string),
            detail: r.get("Box2").map(str::to_string),
            kind: r.get("InterventionType").map(str::to_string),
            start: r.date("StartDate")?,
            end: r.date("EndDate")?,
        };
        m.remember(INTERVENTIONS, id, &i);
        interventions.insert(id.to_string(), i);
        touched.entry(plan).or_insert_with(|| r.origin());
        Ok(())
    });
    for (id, origin) in touched {
        let Some(plan) = plans.get(&id) else { continue };
        let patient = client_key(&plan.client);
        let mine: Vec<(&String, &Problem)> =
            problems.iter().filter(|(_, p)| p.plan == id).collect();
        for (pid, p) in &mine {
            if new_problems.contains(*pid) {
                let cond = condition(pid, p, &patient);
                m.upserts.push(Upsert::new(
                    problem_key(pid),
                    Some(patient.clone()),
                    cond,
                    origin.clone(),
                ));
            }
        }
        let resource = care_plan(&id, plan, &mine, &interventions, c, &patient);
        let key = Key::new("CarePlan", system("care-plan"), id.clone());
        m.upserts
            .push(Upsert::new(key, Some(patient), resource, origin));
    }
}

fn problem_key(id: &str) -> Key {
    Key::new("Condition", system("care-plan-problem"), id)
}

fn condition(id: &str, p: &Problem, patient: &Key) -> Value {
    let status = if p.end.is_some() {
        "resolved"
    } else {
        "active"
    };
    let mut cond = json!({"resourceType": "Condition", "identifier": [problem_key(id).identifier()],
        "clinicalStatus": concept(vec![coding("http://terminology.hl7.org/CodeSystem/condition-clinical", status, None)], None),
        "category": [concept(vec![coding("http://terminology.hl7.org/CodeSystem/condition-category", "problem-list-item", Some("Problem List Item"))], None)],
        "code": concept(vec![], Some(p.text.as_deref().unwrap_or("Care plan problem"))),
        "subject": patient.reference()});
    put(&mut cond, "onsetDateTime", p.start.clone().map(Value::from));
    put(
        &mut cond,
        "abatementDateTime",
        p.end.clone().map(Value::from),
    );
    put(
        &mut cond,
        "note",
        p.outcome
            .as_ref()
            .map(|o| json!([{"text": format!("Outcome: {o}")}])),
    );
    label(&mut cond);
    cond
}

fn care_plan(
    id: &str,
    plan: &Plan,
    problems: &[(&String, &Problem)],
    interventions: &BTreeMap<String, Intervention>,
    c: &Config,
    patient: &Key,
) -> Value {
    let display = c
        .care_plan_types
        .get(&plan.kind)
        .map(|d| d.display.as_str());
    let mut cp = json!({"resourceType": "CarePlan",
        "identifier": [Key::new("CarePlan", system("care-plan"), id).identifier()],
        "status": if plan.end.is_some() { "completed" } else { "active" },
        "intent": "plan",
        "category": [concept(vec![coding(&format!("{CODE_SYSTEM_BASE}/mhsds-care-plan-type"), &plan.kind, display)], display)],
        "subject": patient.reference()});
    let mut period = json!({});
    put(&mut period, "start", plan.start.clone().map(Value::from));
    put(&mut period, "end", plan.end.clone().map(Value::from));
    put(&mut cp, "period", Some(period));
    put(&mut cp, "author", plan.author.as_deref().map(staff));
    let addresses: Vec<Value> = problems
        .iter()
        .map(|(pid, _)| problem_key(pid).reference())
        .collect();
    put(&mut cp, "addresses", Some(json!(addresses)));
    let mut activities = Vec::new();
    for (_, i) in interventions
        .iter()
        .filter(|(_, i)| problems.iter().any(|(pid, _)| **pid == i.problem))
    {
        let mut d = json!({"status": if i.end.is_some() { "completed" } else { "in-progress" },
            "reasonReference": [problem_key(&i.problem).reference()]});
        put(
            &mut d,
            "code",
            i.kind.as_deref().map(|k| concept(vec![], Some(k))),
        );
        let description = match (&i.what, &i.detail) {
            (Some(a), Some(b)) => Some(format!("{a}\n\n{b}")),
            (a, b) => a.clone().or_else(|| b.clone()),
        };
        put(&mut d, "description", description.map(Value::from));
        let mut p = json!({});
        put(&mut p, "start", i.start.clone().map(Value::from));
        put(&mut p, "end", i.end.clone().map(Value::from));
        put(&mut d, "scheduledPeriod", Some(p));
        activities.push(json!({"detail": d}));
    }
    put(&mut cp, "activity", Some(json!(activities)));
    label(&mut cp);
    cp
}
