//! Profiles (profiling.html): the server's StructureDefinitions in
//! `profiles/structure-definitions/`, based on UK Core R4, and the value sets they bind to.
//! `$validate` checks a resource against them; with enforcement on, create and update
//! refuse a resource that breaks a profile it claims in `meta.profile` or the default
//! profile of its type (422).

mod invariant;
pub mod nhs_number;
mod structure;
mod terminology;

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

use crate::fhir::{Issue, IssueType};
pub use structure::{Structure, NHS_NUMBER};
use terminology::Terminology;

const DEFINITIONS: &[&str] = &[
    include_str!("../../profiles/structure-definitions/Carebridge-Patient.json"),
    include_str!("../../profiles/structure-definitions/Carebridge-Observation.json"),
    include_str!("../../profiles/structure-definitions/Carebridge-CarePlan.json"),
    include_str!("../../profiles/structure-definitions/Carebridge-Consent.json"),
    include_str!("../../profiles/structure-definitions/Carebridge-RelatedPerson.json"),
];
const TERMINOLOGY: &str = include_str!("../../profiles/terminology.json");

pub struct Profiles {
    structures: Vec<Structure>,
    terminology: Terminology,
}

static BUILTIN: LazyLock<Result<Profiles, String>> = LazyLock::new(Profiles::load);

impl Profiles {
    /// The profiles compiled into the binary; an error names what could not be loaded.
    pub fn builtin() -> Result<&'static Profiles, String> {
        BUILTIN.as_ref().map_err(Clone::clone)
    }

    fn load() -> Result<Profiles, String> {
        let json = |s: &str| serde_json::from_str::<Value>(s).map_err(|e| e.to_string());
        let terminology = Terminology::parse(&json(TERMINOLOGY)?)?;
        let structures = DEFINITIONS
            .iter()
            .map(|d| Structure::parse(&json(d)?, &terminology))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Profiles {
            structures,
            terminology,
        })
    }

    pub fn get(&self, url: &str) -> Option<&Structure> {
        self.structures.iter().find(|s| s.url == url)
    }

    pub fn urls(&self) -> impl Iterator<Item = (&str, &str)> {
        self.structures
            .iter()
            .map(|s| (s.res_type.as_str(), s.url.as_str()))
    }

    /// The issues of `resource` against profile `url`; an unknown profile or one for another
    /// type is itself an issue.
    pub fn check(&self, resource: &Value, url: &str) -> Vec<Issue> {
        let rt = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if base_profile(url) == Some(rt) {
            return Vec::new();
        }
        match self.get(url) {
            None => vec![Issue::error(
                IssueType::NotSupported,
                format!("this server does not hold the profile {url}"),
            )],
            Some(s) if s.res_type != rt => vec![Issue::error(
                IssueType::Invalid,
                format!("{url} profiles {}, not {rt}", s.res_type),
            )],
            Some(s) => s.check(resource, &self.terminology),
        }
    }
}

/// `http://hl7.org/fhir/StructureDefinition/Patient` names the base type, which the
/// structural check already covers.
fn base_profile(url: &str) -> Option<&str> {
    url.strip_prefix("http://hl7.org/fhir/StructureDefinition/")
}

/// What create and update enforce: off by default.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub enforce: bool,
    /// Resource type → a profile every resource of the type must meet.
    pub defaults: HashMap<String, String>,
}

impl Policy {
    /// The profiles `resource` must meet: those it claims and its type's default.
    pub fn required<'a>(&'a self, resource: &'a Value) -> Vec<&'a str> {
        if !self.enforce {
            return Vec::new();
        }
        let mut urls: Vec<&str> = resource["meta"]["profile"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some(d) = resource
            .get("resourceType")
            .and_then(Value::as_str)
            .and_then(|rt| self.defaults.get(rt))
        {
            urls.push(d);
        }
        urls.dedup();
        urls
    }

    /// `Err` with the issues when `resource` breaks a profile it must meet.
    pub fn enforce(&self, resource: &Value) -> Result<(), Vec<Issue>> {
        let urls = self.required(resource);
        if urls.is_empty() {
            return Ok(());
        }
        let issues: Vec<Issue> = match Profiles::builtin() {
            Ok(p) => urls.iter().flat_map(|u| p.check(resource, u)).collect(),
            Err(e) => vec![Issue::error(IssueType::Exception, e)],
        };
        if issues.is_empty() {
            Ok(())
        } else {
            Err(issues)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PATIENT: &str = "https://fhir.carebridge.example/StructureDefinition/Carebridge-Patient";

    fn codes(issues: &[Issue]) -> Vec<(&str, Option<&str>)> {
        issues
            .iter()
            .map(|i| (i.code.code(), i.expression.as_deref()))
            .collect()
    }

    #[test]
    fn builtin_profiles_load() {
        let p = Profiles::builtin().expect("profiles load");
        assert_eq!(p.urls().count(), 5);
    }

    #[test]
    fn patient_profile_checks_nhs_number_slice_and_bindings() {
        let p = Profiles::builtin().expect("profiles load");
        let good = json!({"resourceType": "Patient", "gender": "female",
            "identifier": [{"system": NHS_NUMBER, "value": "9000000009",
                "extension": [{"url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                    "valueCodeableConcept": {"coding": [{"system": "https://fhir.hl7.org.uk/CodeSystem/UKCore-NHSNumberVerificationStatusEngland", "code": "01"}]}}]},
                {"system": "https://example.org/mrn", "value": "M1"}]});
        assert!(
            p.check(&good, PATIENT).is_empty(),
            "{:?}",
            p.check(&good, PATIENT)
        );
        let mut bad = good.clone();
        bad["identifier"][0]["value"] = json!("9000000008");
        bad["identifier"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] =
            json!("99");
        bad["gender"] = json!("f");
        assert_eq!(
            codes(&p.check(&bad, PATIENT)),
            vec![
                ("invariant", Some("Patient")),
                (
                    "code-invalid",
                    Some("Patient.identifier[0].extension[0].valueCodeableConcept")
                ),
                ("code-invalid", Some("Patient.gender")),
            ]
        );
        let mut two = good.clone();
        two["identifier"] = json!([{"system": NHS_NUMBER, "value": "9000000009"}, {"system": NHS_NUMBER, "value": "9434765919"}]);
        assert_eq!(
            codes(&p.check(&two, PATIENT)),
            vec![("structure", Some("Patient.identifier:nhsNumber"))]
        );
    }

    #[test]
    fn observation_profile_checks_cardinality_fixed_values_and_invariants() {
        let p = Profiles::builtin().expect("profiles load");
        let url = "https://fhir.carebridge.example/StructureDefinition/Carebridge-Observation";
        let o = json!({"resourceType": "Observation", "status": "final", "code": {"text": "PHQ-9"},
            "category": [{"coding": [{"system": "http://example.org/other", "code": "survey"}]}],
            "valueInteger": 3, "dataAbsentReason": {"text": "asked"}});
        assert_eq!(
            codes(&p.check(&o, url)),
            vec![
                ("invariant", Some("Observation")),
                ("value", Some("Observation.category[0].coding[0].system")),
                ("required", Some("Observation.subject")),
                ("required", Some("Observation.effective[x]")),
            ]
        );
        assert_eq!(
            codes(&p.check(&json!({"resourceType": "Patient"}), url)),
            vec![("invalid", None)]
        );
        assert_eq!(
            codes(&p.check(&o, "http://x/nope")),
            vec![("not-supported", None)]
        );
    }
}
