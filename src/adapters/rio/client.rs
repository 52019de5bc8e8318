//! Clients: ClientIndex, with their names, addresses and telecoms, as one Patient each.
//! A client delivered without an index row (a name changed, say) still updates the Patient:
//! Patients merge, so what the batch does not carry is kept.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::super::csv_table::Row;
use super::super::model::{put, Mapping, Rejection, Removal, Upsert};
use super::super::person::{
    nhs, nhs_identifier, person_keys, ETHNIC_CATEGORY_EXTENSION, ETHNIC_CATEGORY_SYSTEM,
};
use super::super::tables::Tables;
use super::{client_key, Config};
use crate::adapters::model::{coding, concept};

pub const INDEX: &[&str] = &[
    "ClientID",
    "NNN",
    "NNNStatus",
    "DateOfBirth",
    "Gender",
    "Ethnicity",
    "DateOfDeath",
    "Deleted",
    "LastUpdated",
];
pub const NAME: &[&str] = &[
    "ClientID",
    "ClientNameID",
    "Surname",
    "GivenName1",
    "GivenName2",
    "Prefix",
    "AliasType",
    "EffectiveDate",
    "EndDate",
    "Deleted",
];
pub const ADDRESS: &[&str] = &[
    "ClientID",
    "AddressLine1",
    "AddressLine2",
    "AddressLine3",
    "AddressLine4",
    "AddressLine5",
    "PostCode",
    "FromDate",
    "ToDate",
    "Deleted",
];
pub const TELECOM: &[&str] = &["ClientID", "Type", "Detail", "Deleted"];

#[derive(Default)]
struct Client<'a> {
    index: Option<Row<'a>>,
    names: Vec<Row<'a>>,
    addresses: Vec<Row<'a>>,
    telecoms: Vec<Row<'a>>,
}

impl<'a> Client<'a> {
    fn rows(&self) -> impl Iterator<Item = &Row<'a>> {
        self.index
            .iter()
            .chain(&self.names)
            .chain(&self.addresses)
            .chain(&self.telecoms)
    }
}

pub fn map(tables: &Tables, c: &Config, m: &mut Mapping) {
    let mut clients: BTreeMap<String, Client<'_>> = BTreeMap::new();
    for table in [
        "ClientIndex",
        "ClientName",
        "ClientAddress",
        "ClientTelecom",
    ] {
        for r in tables.rows(table) {
            let Some(id) = r.get("ClientID") else {
                m.rejected.push(r.reject("ClientID", "ClientID is empty"));
                continue;
            };
            let client = clients.entry(id.to_string()).or_default();
            match table {
                "ClientIndex" => client.index = Some(r),
                "ClientName" => client.names.push(r),
                "ClientAddress" => client.addresses.push(r),
                _ => client.telecoms.push(r),
            }
        }
    }
    for (id, client) in &clients {
        if let Err(r) = patient(id, client, c, m) {
            // The client's other rows cannot go in without them: each is reported.
            for other in client
                .rows()
                .filter(|o| Some(o.origin()) != Rejection::origin_of(&r))
            {
                m.rejected.push(Rejection::at(
                    &other.origin(),
                    None,
                    format!("client {id} was rejected ({r})"),
                ));
            }
            m.rejected.push(r);
        }
    }
}

fn patient(id: &str, client: &Client<'_>, c: &Config, m: &mut Mapping) -> Result<(), Rejection> {
    let source = client_key(id);
    let mut p = json!({"resourceType": "Patient"});
    let mut number = None;
    if let Some(ix) = &client.index {
        if ix.flag("Deleted")? {
            m.removals.push(Removal {
                key: source,
                origin: ix.origin(),
            });
            return Ok(());
        }
        number = nhs(ix, "NNN")?;
        put(
            &mut p,
            "birthDate",
            ix.date("DateOfBirth")?.map(Value::from),
        );
        put(
            &mut p,
            "deceasedDateTime",
            ix.date("DateOfDeath")?.map(Value::from),
        );
        let _ = ix.date("LastUpdated")?;
        let gender = ix.parsed("Gender", |g| {
            c.gender
                .get(g)
                .cloned()
                .ok_or_else(|| "is not a gender code the adapter configuration lists".to_string())
        })?;
        put(&mut p, "gender", gender.map(Value::from));
        let ethnicity = ix.parsed("Ethnicity", |e| {
            c.ethnic_categories
                .iter()
                .any(|k| k == e)
                .then(|| e.to_string())
                .ok_or_else(|| "is not an NHS ethnic category code (A–Z)".to_string())
        })?;
        if let Some(e) = ethnicity {
            p["extension"] = json!([{"url": ETHNIC_CATEGORY_EXTENSION,
                "valueCodeableConcept": concept(vec![coding(ETHNIC_CATEGORY_SYSTEM, &e, None)], None)}]);
        }
    }
    let (key, aliases) = person_keys(number.as_deref(), source.clone());
    let mut identifiers = vec![source.identifier()];
    if let (Some(n), Some(ix)) = (&number, &client.index) {
        identifiers.insert(0, nhs_identifier(n, ix.get("NNNStatus")));
    }
    p["identifier"] = json!(identifiers);
    let mut each =
        |rows: &[Row<'_>], f: &dyn Fn(&Row<'_>) -> Result<Value, Rejection>| -> Vec<Value> {
            let mut out = Vec::new();
            for r in rows {
                match r
                    .flag("Deleted")
                    .and_then(|d| if d { Ok(None) } else { f(r).map(Some) })
                {
                    Ok(Some(v)) => out.push(v),
                    Ok(None) => {}
                    Err(e) => m.rejected.push(e),
                }
            }
            out
        };
    let names = each(&client.names, &|r| name(r, c));
    let addresses = each(&client.addresses, &address);
    let telecoms = each(&client.telecoms, &|r| telecom(r, c));
    put(&mut p, "name", Some(json!(names)));
    put(&mut p, "address", Some(json!(addresses)));
    put(&mut p, "telecom", Some(json!(telecoms)));
    let origin =
        client.rows().next().map(Row::origin).ok_or_else(|| {
            Rejection::file("ClientIndex.csv", format!("client {id} has no rows"))
        })?;
    m.upserts.push(Upsert {
        key: key.clone(),
        aliases,
        merge: true,
        patient: Some(key),
        resource: p,
        origin,
    });
    Ok(())
}

fn period(r: &Row<'_>, start: &str, end: &str) -> Result<Option<Value>, Rejection> {
    let mut p = json!({});
    put(&mut p, "start", r.date(start)?.map(Value::from));
    put(&mut p, "end", r.date(end)?.map(Value::from));
    Ok(p.as_object().is_some_and(|o| !o.is_empty()).then_some(p))
}

fn name(r: &Row<'_>, c: &Config) -> Result<Value, Rejection> {
    let alias = r.get("AliasType").unwrap_or("");
    let use_ = c.name_use.get(alias).ok_or_else(|| {
        r.reject(
            "AliasType",
            format!("'{alias}' is not a name type the adapter configuration lists"),
        )
    })?;
    let mut n = json!({"use": use_});
    put(&mut n, "family", r.get("Surname").map(Value::from));
    let given: Vec<&str> = ["GivenName1", "GivenName2"]
        .iter()
        .filter_map(|g| r.get(g))
        .collect();
    put(&mut n, "given", Some(json!(given)));
    put(&mut n, "prefix", r.get("Prefix").map(|p| json!([p])));
    put(&mut n, "period", period(r, "EffectiveDate", "EndDate")?);
    Ok(n)
}

fn address(r: &Row<'_>) -> Result<Value, Rejection> {
    let mut a = json!({"use": "home"});
    let lines: Vec<&str> = ["AddressLine1", "AddressLine2", "AddressLine3"]
        .iter()
        .filter_map(|l| r.get(l))
        .collect();
    put(&mut a, "line", Some(json!(lines)));
    put(&mut a, "city", r.get("AddressLine4").map(Value::from));
    put(&mut a, "district", r.get("AddressLine5").map(Value::from));
    put(&mut a, "postalCode", r.get("PostCode").map(Value::from));
    put(&mut a, "period", period(r, "FromDate", "ToDate")?);
    Ok(a)
}

fn telecom(r: &Row<'_>, c: &Config) -> Result<Value, Rejection> {
    let kind = r.required("Type")?;
    let t = c.telecom.get(kind).ok_or_else(|| {
        r.reject(
            "Type",
            format!("'{kind}' is not a telecom type the adapter configuration lists"),
        )
    })?;
    Ok(json!({"system": t.system, "value": r.required("Detail")?, "use": t.use_}))
}
