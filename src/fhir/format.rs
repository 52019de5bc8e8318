//! The two wire formats, and conversion between them through fhirbolt (`fhir-model`).

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/fhir+json; charset=utf-8",
            Format::Xml => "application/fhir+xml; charset=utf-8",
        }
    }

    /// A media type (without parameters) or a `_format` short name.
    pub fn from_media_type(s: &str) -> Option<Format> {
        match s.trim().to_ascii_lowercase().as_str() {
            "application/fhir+json"
            | "application/json"
            | "json"
            | "text/json"
            | "application/json+fhir" => Some(Format::Json),
            "application/fhir+xml"
            | "application/xml"
            | "xml"
            | "text/xml"
            | "application/xml+fhir" => Some(Format::Xml),
            _ => None,
        }
    }
}

/// Renders a JSON value in the requested format.
pub fn render(value: &Value, format: Format, pretty: bool) -> Result<Vec<u8>, String> {
    let json = if pretty {
        serde_json::to_vec_pretty(value)
    } else {
        serde_json::to_vec(value)
    }
    .map_err(|e| e.to_string())?;
    match format {
        Format::Json => Ok(json),
        Format::Xml => json_bytes_to_xml(&json),
    }
}

/// Stored JSON bytes to XML.
pub fn json_bytes_to_xml(json: &[u8]) -> Result<Vec<u8>, String> {
    fhir_model::json_to_xml(json)
        .map(String::into_bytes)
        .map_err(|e| e.0)
}

/// An XML body to JSON bytes, for the same checks as a JSON body.
pub fn xml_to_json_bytes(xml: &[u8]) -> Result<Vec<u8>, String> {
    fhir_model::xml_to_json(xml).map_err(|e| e.0)
}
