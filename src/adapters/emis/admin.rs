//! Admin tables: organisations, users in role (Practitioner + PractitionerRole) and
//! patients.

use serde_json::{json, Value};

use super::super::csv_table::Row;
use super::super::model::{coding, concept, put, Key, Mapping, Rejection, Upsert, ODS_CODE};
use super::super::person::{nhs, nhs_identifier, person_keys};
use super::{
    code_system, deleted, each, guid, key, organisation_key, patient_key, practitioner_key, system,
    Tables,
};

pub const ORGANISATION: &[&str] = &[
    "OrganisationGuid",
    "CDB",
    "OrganisationName",
    "ODSCode",
    "ParentOrganisationGuid",
    "CCGOrganisationGuid",
    "OrganisationType",
    "OpenDate",
    "CloseDate",
    "MainLocationGuid",
    "ProcessingId",
];

pub const USER_IN_ROLE: &[&str] = &[
    "UserInRoleGuid",
    "OrganisationGuid",
    "Title",
    "GivenName",
    "Surname",
    "JobCategoryCode",
    "JobCategoryName",
    "ContractStartDate",
    "ContractEndDate",
    "ProcessingId",
];

pub const PATIENT: &[&str] = &[
    "PatientGuid",
    "OrganisationGuid",
    "UsualGpUserInRoleGuid",
    "Sex",
    "DateOfBirth",
    "DateOfDeath",
    "Title",
    "GivenName",
    "MiddleNames",
    "Surname",
    "DateOfRegistration",
    "NhsNumber",
    "PatientNumber",
    "PatientTypeDescription",
    "DummyType",
    "HouseNameFlatNumber",
    "NumberAndStreet",
    "Village",
    "Town",
    "County",
    "Postcode",
    "ResidentialInstituteCode",
    "NHSNumberStatus",
    "CarerName",
    "CarerRelation",
    "PersonGuid",
    "DateOfDeactivation",
    "Deleted",
    "SpineSensitive",
    "IsConfidential",
    "EmailAddress",
    "HomePhone",
    "MobilePhone",
    "ExternalUsualGPGuid",
    "ExternalUsualGP",
    "ExternalUsualGPOrganisation",
    "ProcessingId",
];

/// A patient's registration at the practice.
pub const REGISTRATION: &str =
    "https://fhir.carebridge.example/StructureDefinition/registration-details";
/// When an organisation opened and closed: R4's Organization has no element for it.
pub const ORGANISATION_PERIOD: &str =
    "https://fhir.carebridge.example/StructureDefinition/organisation-period";
const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

pub fn map(tables: &Tables, m: &mut Mapping) {
    each(m, tables.rows("Admin_Organisation"), organisation);
    each(m, tables.rows("Admin_UserInRole"), user_in_role);
    each(m, tables.rows("Admin_Patient"), patient);
}

fn organisation(m: &mut Mapping, row: &Row<'_>) -> Result<(), Rejection> {
    let g = row.required("OrganisationGuid")?;
    let k = organisation_key(g);
    let mut identifiers = vec![k.identifier()];
    if let Some(cdb) = row.get("CDB") {
        identifiers.push(json!({"system": system("cdb"), "value": cdb}));
    }
    let mut aliases = Vec::new();
    if let Some(ods) = row.get("ODSCode") {
        identifiers.push(json!({"system": ODS_CODE, "value": ods}));
        aliases.push(Key::new("Organization", ODS_CODE, ods));
    }
    let close = row.date("CloseDate")?;
    let open = row.date("OpenDate")?;
    let mut o = json!({"resourceType": "Organization", "identifier": identifiers,
        "active": close.is_none()});
    put(
        &mut o,
        "name",
        row.get("OrganisationName").map(|n| json!(n)),
    );
    put(
        &mut o,
        "type",
        row.get("OrganisationType")
            .map(|t| json!([concept(vec![], Some(t))])),
    );
    // Opening and closing dates have no element of their own in R4's Organization.
    let mut period = json!({});
    put(&mut period, "start", open.map(Value::from));
    put(&mut period, "end", close.map(Value::from));
    if period.as_object().is_some_and(|p| !p.is_empty()) {
        o["extension"] = json!([{"url": ORGANISATION_PERIOD, "valuePeriod": period}]);
    }
    let parent = row
        .get("ParentOrganisationGuid")
        .or(row.get("CCGOrganisationGuid"));
    put(
        &mut o,
        "partOf",
        parent
            .filter(|p| guid(p) != guid(g))
            .map(|p| organisation_key(p).reference()),
    );
    m.upserts.push(Upsert {
        key: k,
        aliases,
        merge: false,
        patient: None,
        resource: o,
        origin: row.origin(),
    });
    Ok(())
}

fn human_name(row: &Row<'_>, given: &[&str], family: &str) -> Option<Value> {
    let mut n = json!({"use": "official"});
    let given: Vec<&str> = given
        .iter()
        .filter_map(|c| row.get(c))
        .flat_map(|g| g.split_whitespace())
        .collect();
    put(&mut n, "family", row.get(family).map(Value::from));
    put(&mut n, "given", Some(json!(given)));
    put(&mut n, "prefix", row.get("Title").map(|t| json!([t])));
    (n.as_object().map_or(0, |o| o.len()) > 1).then_some(n)
}

fn user_in_role(m: &mut Mapping, row: &Row<'_>) -> Result<(), Rejection> {
    let g = row.required("UserInRoleGuid")?;
    let pk = practitioner_key(g);
    let mut p = json!({"resourceType": "Practitioner", "identifier": [pk.identifier()]});
    put(
        &mut p,
        "name",
        human_name(row, &["GivenName"], "Surname").map(|n| json!([n])),
    );
    let rk = key("PractitionerRole", "user-in-role", g);
    let mut r = json!({"resourceType": "PractitionerRole", "identifier": [rk.identifier()],
        "practitioner": pk.reference()});
    put(
        &mut r,
        "organization",
        row.get("OrganisationGuid")
            .map(|o| organisation_key(o).reference()),
    );
    if let Some(code) = row.get("JobCategoryCode") {
        r["code"] = json!([concept(
            vec![coding(
                &code_system("job-category"),
                code,
                row.get("JobCategoryName")
            )],
            row.get("JobCategoryName")
        )]);
    } else if let Some(name) = row.get("JobCategoryName") {
        r["code"] = json!([concept(vec![], Some(name))]);
    }
    let start = row.date("ContractStartDate")?;
    let end = row.date("ContractEndDate")?;
    let mut period = json!({});
    put(&mut period, "start", start.map(Value::from));
    put(&mut period, "end", end.map(Value::from));
    put(&mut r, "period", Some(period));
    let origin = row.origin();
    m.upserts.push(Upsert::new(pk, None, p, origin.clone()));
    m.upserts.push(Upsert::new(rk, None, r, origin));
    Ok(())
}

fn gender(row: &Row<'_>, column: &str) -> Result<Option<&'static str>, Rejection> {
    row.parsed(column, |v| match v.to_ascii_uppercase().as_str() {
        "M" | "MALE" => Ok("male"),
        "F" | "FEMALE" => Ok("female"),
        "I" | "O" | "OTHER" | "INDETERMINATE" => Ok("other"),
        "U" | "UNKNOWN" => Ok("unknown"),
        _ => Err("is not a sex this adapter knows (M, F, I, U)".to_string()),
    })
}

fn patient(m: &mut Mapping, row: &Row<'_>) -> Result<(), Rejection> {
    let g = row.required("PatientGuid")?;
    let source = patient_key(g);
    if deleted(m, row, source.clone())? {
        return Ok(());
    }
    if row.flag("DummyType")? {
        return Err(row.reject("DummyType", "a dummy (test) patient is not imported"));
    }
    let number = nhs(row, "NhsNumber")?;
    let (k, aliases) = person_keys(number.as_deref(), source.clone());
    let mut identifiers = vec![source.identifier()];
    if let Some(n) = &number {
        identifiers.insert(0, nhs_identifier(n, row.get("NHSNumberStatus")));
    }
    if let Some(pn) = row.get("PatientNumber") {
        identifiers.push(json!({"system": system("patient-number"), "value": pn}));
    }
    if let Some(pg) = row.get("PersonGuid") {
        identifiers.push(json!({"system": system("person"), "value": guid(pg)}));
    }
    let mut p = json!({"resourceType": "Patient", "identifier": identifiers,
        "active": row.get("DateOfDeactivation").is_none()});
    put(
        &mut p,
        "name",
        human_name(row, &["GivenName", "MiddleNames"], "Surname").map(|n| json!([n])),
    );
    put(&mut p, "gender", gender(row, "Sex")?.map(Value::from));
    put(
        &mut p,
        "birthDate",
        row.date("DateOfBirth")?.map(Value::from),
    );
    put(
        &mut p,
        "deceasedDateTime",
        row.date("DateOfDeath")?.map(Value::from),
    );
    // The practice registration: when it began and ended, its type, and a residential
    // institute the patient lives in (R4's Patient has no element for any of them).
    let mut registration = Vec::new();
    let mut period = json!({});
    put(
        &mut period,
        "start",
        row.date("DateOfRegistration")?.map(Value::from),
    );
    put(
        &mut period,
        "end",
        row.date("DateOfDeactivation")?.map(Value::from),
    );
    if period.as_object().is_some_and(|o| !o.is_empty()) {
        registration.push(json!({"url": "registrationPeriod", "valuePeriod": period}));
    }
    if let Some(t) = row.get("PatientTypeDescription") {
        registration.push(json!({"url": "registrationType", "valueCodeableConcept": {"text": t}}));
    }
    if let Some(c) = row.get("ResidentialInstituteCode") {
        registration.push(json!({"url": "residentialInstituteCode", "valueString": c}));
    }
    if !registration.is_empty() {
        p["extension"] = json!([{"url": REGISTRATION, "extension": registration}]);
    }
    let mut telecom = Vec::new();
    if let Some(e) = row.get("EmailAddress") {
        telecom.push(json!({"system": "email", "value": e, "use": "home"}));
    }
    if let Some(h) = row.get("HomePhone") {
        telecom.push(json!({"system": "phone", "value": h, "use": "home"}));
    }
    if let Some(mo) = row.get("MobilePhone") {
        telecom.push(json!({"system": "phone", "value": mo, "use": "mobile"}));
    }
    put(&mut p, "telecom", Some(json!(telecom)));
    let lines: Vec<&str> = ["HouseNameFlatNumber", "NumberAndStreet", "Village"]
        .iter()
        .filter_map(|c| row.get(c))
        .collect();
    let mut address = json!({"use": "home"});
    put(&mut address, "line", Some(json!(lines)));
    put(&mut address, "city", row.get("Town").map(Value::from));
    put(&mut address, "district", row.get("County").map(Value::from));
    put(
        &mut address,
        "postalCode",
        row.get("Postcode").map(Value::from),
    );
    if address.as_object().is_some_and(|a| a.len() > 1) {
        p["address"] = json!([address]);
    }
    if let Some(name) = row.get("CarerName") {
        let mut contact = json!({"name": {"text": name}});
        let mut rel = vec![concept(
            vec![coding(
                "http://terminology.hl7.org/CodeSystem/v2-0131",
                "C",
                Some("Emergency Contact"),
            )],
            None,
        )];
        if let Some(r) = row.get("CarerRelation") {
            rel.push(concept(vec![], Some(r)));
        }
        contact["relationship"] = json!(rel);
        p["contact"] = json!([contact]);
    }
    let mut gps = Vec::new();
    if let Some(u) = row.get("UsualGpUserInRoleGuid") {
        gps.push(practitioner_key(u).reference());
    } else if let Some(name) = row.get("ExternalUsualGP") {
        let mut r = json!({"display": name});
        if let Some(ext) = row.get("ExternalUsualGPGuid") {
            r["identifier"] = json!({"system": system("external-usual-gp"), "value": guid(ext)});
        }
        gps.push(r);
        if let Some(org) = row.get("ExternalUsualGPOrganisation") {
            gps.push(json!({"display": org}));
        }
    }
    if let Some(o) = row.get("OrganisationGuid") {
        gps.push(organisation_key(o).reference());
        p["managingOrganization"] = organisation_key(o).reference();
    }
    put(&mut p, "generalPractitioner", Some(json!(gps)));
    // Sensitive on the Spine or confidential at the practice: restricted (v3 Confidentiality R).
    if row.flag("SpineSensitive")? || row.flag("IsConfidential")? {
        p["meta"] = json!({"security": [coding(CONFIDENTIALITY, "R", Some("restricted"))]});
    }
    let patient = Some(k.clone());
    m.upserts.push(Upsert {
        key: k,
        aliases,
        merge: true,
        patient,
        resource: p,
        origin: row.origin(),
    });
    Ok(())
}

/// `meta.security` restricted, for rows marked IsConfidential.
pub fn confidential(row: &Row<'_>, resource: &mut Value) -> Result<(), Rejection> {
    if row.flag("IsConfidential")? {
        resource["meta"]["security"] = json!([coding(CONFIDENTIALITY, "R", Some("restricted"))]);
    }
    Ok(())
}
