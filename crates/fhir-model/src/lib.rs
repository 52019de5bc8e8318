//! The one crate that touches fhirbolt.
//!
//! fhirbolt's generic serde code is monomorphised in the crate that calls it, which makes that
//! crate slow to build (minutes in release). Keeping every call here, behind a few non-generic
//! functions over bytes, means the rest of Carebridge never rebuilds it.
//!
//! Parsing goes through the `Resource` enum because parsing straight into a concrete resource
//! type fails on decimals in fhirbolt 0.4.

use fhirbolt::model::r4::Resource;
use fhirbolt::serde::{DeserializationConfig, DeserializationMode, SerializationConfig};

/// Why fhirbolt refused a document. fhirbolt's messages carry no FHIR path; callers that need
/// one run their own element check first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError(pub String);

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

fn strict() -> Option<DeserializationConfig> {
    Some(DeserializationConfig {
        mode: DeserializationMode::Strict,
    })
}

/// Runs a fhirbolt call, turning a panic inside fhirbolt into an error: some inputs make
/// fhirbolt 0.4 unwrap a `None` rather than return an error, and one request must not take a
/// server thread down.
fn guarded<T>(f: impl FnOnce() -> Result<T, ModelError>) -> Result<T, ModelError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(ModelError(
            "the FHIR model library failed on this input".into(),
        ))
    })
}

fn parse_json(json: &[u8]) -> Result<Resource, ModelError> {
    guarded(|| {
        fhirbolt::json::from_slice::<Resource>(json, strict())
            .map_err(|e| ModelError(e.to_string()))
    })
}

/// Parses an R4 resource in JSON against the fhirbolt model (strict: unknown elements and wrong
/// JSON types are errors).
pub fn check_json(json: &[u8]) -> Result<(), ModelError> {
    parse_json(json).map(|_| ())
}

/// Converts an R4 resource from JSON to XML.
pub fn json_to_xml(json: &[u8]) -> Result<String, ModelError> {
    let resource = parse_json(json)?;
    guarded(|| {
        fhirbolt::xml::to_string(&resource, Some(SerializationConfig { always_sort: true }))
            .map_err(|e| ModelError(e.to_string()))
    })
}

/// Converts an R4 resource from XML to JSON, elements in the order of the FHIR model.
pub fn xml_to_json(xml: &[u8]) -> Result<Vec<u8>, ModelError> {
    guarded(|| {
        let resource = fhirbolt::xml::from_slice::<Resource>(xml, strict())
            .map_err(|e| ModelError(e.to_string()))?;
        fhirbolt::json::to_vec(&resource, Some(SerializationConfig { always_sort: true }))
            .map_err(|e| ModelError(e.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_xml_round_trip_keeps_decimal_precision() {
        let json = br#"{"resourceType":"Observation","status":"final","code":{"text":"t"},"valueQuantity":{"value":1.50,"unit":"kg"}}"#;
        let xml = json_to_xml(json).expect("to xml");
        assert!(xml.contains("value=\"1.50\""), "{xml}");
        let back = xml_to_json(xml.as_bytes()).expect("to json");
        let back = String::from_utf8(back).expect("utf8");
        assert!(back.contains("1.50"), "{back}");
    }

    #[test]
    fn a_panic_inside_fhirbolt_becomes_an_error() {
        // fhirbolt 0.4 unwraps a None on an empty array while writing XML.
        let json = br#"{"resourceType":"Patient","name":[{"given":[]}]}"#;
        assert!(json_to_xml(json).is_err());
    }

    #[test]
    fn unknown_element_is_refused() {
        let err = check_json(br#"{"resourceType":"Patient","colour":"blue"}"#).unwrap_err();
        assert!(err.0.contains("colour"), "{err}");
    }
}
