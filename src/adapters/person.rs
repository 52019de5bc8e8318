//! A person's identity across sources: a valid NHS number (ten digits, Modulus 11) keys the
//! Patient and links every source's records of them; without one, the source's own
//! identifier keys a Patient of their own.

use serde_json::{json, Value};

use super::csv_table::Row;
use super::model::{coding, concept, Key, Rejection, NHS_NUMBER};
use crate::profile::nhs_number;

pub const NHS_NUMBER_STATUS_EXTENSION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus";
pub const NHS_NUMBER_STATUS_SYSTEM: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland";
pub const ETHNIC_CATEGORY_EXTENSION: &str =
    "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-EthnicCategory";
pub const ETHNIC_CATEGORY_SYSTEM: &str =
    "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategoryEngland";

/// An NHS number column: checked (ten digits, Modulus 11); an invalid one rejects the row.
pub fn nhs(row: &Row<'_>, column: &str) -> Result<Option<String>, Rejection> {
    row.parsed(column, |v| {
        let digits: String = v.chars().filter(|c| !c.is_whitespace()).collect();
        if nhs_number::is_valid(&digits) {
            Ok(digits)
        } else {
            Err("is not a valid NHS number (ten digits with a Modulus 11 check digit)".to_string())
        }
    })
}

/// The Patient's key and aliases: a valid NHS number links the person across sources; the
/// source's own identifier is always an alias.
pub fn person_keys(nhs: Option<&str>, source: Key) -> (Key, Vec<Key>) {
    match nhs {
        Some(n) => (Key::new("Patient", NHS_NUMBER, n), vec![source]),
        None => (source, vec![]),
    }
}

/// An NHS number identifier with its verification status (UK Core) when the source has one.
pub fn nhs_identifier(number: &str, status: Option<&str>) -> Value {
    let mut id = json!({"system": NHS_NUMBER, "value": number});
    if let Some(code) = status.filter(|s| s.len() == 2 && s.chars().all(|c| c.is_ascii_digit())) {
        id["extension"] = json!([{"url": NHS_NUMBER_STATUS_EXTENSION,
            "valueCodeableConcept": concept(vec![coding(NHS_NUMBER_STATUS_SYSTEM, code, None)], None)}]);
    }
    id
}
