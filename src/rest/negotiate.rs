//! Content negotiation (http.html#mime-type): the body's format from Content-Type, the
//! response format from `_format` or Accept, `_pretty`, `_summary`/`_elements`, and Prefer.

use actix_web::http::header;
use actix_web::HttpRequest;

use super::error::RestError;
use super::query::QueryParams;
use crate::fhir::format::Format;
use crate::fhir::summary::View;

/// How the response is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFormat {
    pub format: Format,
    pub pretty: bool,
}

/// Splits `type/subtype; a=b` into the media type and a `fhirVersion` parameter, if any.
fn media_type(s: &str) -> (&str, Option<&str>) {
    let mut parts = s.split(';');
    let mt = parts.next().unwrap_or("").trim();
    let version = parts
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("fhirVersion"))
        .map(|(_, v)| v.trim().trim_matches('"'));
    (mt, version)
}

fn version_ok(v: Option<&str>) -> bool {
    v.is_none_or(|v| v == "4.0" || v == "4.0.1")
}

/// The format to answer in: `_format` wins over Accept; no preference means JSON.
pub fn response_format(req: &HttpRequest, q: &QueryParams) -> Result<ResponseFormat, RestError> {
    let pretty = q.get("_pretty") == Some("true");
    if let Some(f) = q.get("_format") {
        let (mt, v) = media_type(f);
        return match Format::from_media_type(mt) {
            Some(format) if version_ok(v) => Ok(ResponseFormat { format, pretty }),
            _ => Err(RestError::NotAcceptable(format!(
                "_format '{f}' is not supported; use json or xml"
            ))),
        };
    }
    let Some(accept) = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|h| h.to_str().ok())
    else {
        return Ok(ResponseFormat {
            format: Format::Json,
            pretty,
        });
    };
    // Ranges in order of q-value, then as written.
    let mut ranges: Vec<(f32, usize, &str)> = accept
        .split(',')
        .enumerate()
        .map(|(i, r)| {
            let q = r
                .split(';')
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            (q, i, r.trim())
        })
        .filter(|(q, _, _)| *q > 0.0)
        .collect();
    ranges.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, _, range) in ranges {
        let (mt, v) = media_type(range);
        if !version_ok(v) {
            continue;
        }
        if let Some(format) = Format::from_media_type(mt) {
            return Ok(ResponseFormat { format, pretty });
        }
        if mt == "*/*" || mt == "application/*" || mt.is_empty() {
            return Ok(ResponseFormat {
                format: Format::Json,
                pretty,
            });
        }
    }
    Err(RestError::NotAcceptable(format!(
        "none of the accepted types '{accept}' can be produced; use application/fhir+json or application/fhir+xml"
    )))
}

/// The format of a request body, from Content-Type. No Content-Type is taken as JSON.
pub fn request_format(req: &HttpRequest) -> Result<Format, RestError> {
    let Some(ct) = req.headers().get(header::CONTENT_TYPE) else {
        return Ok(Format::Json);
    };
    let ct = ct.to_str().unwrap_or("");
    let (mt, v) = media_type(ct);
    match Format::from_media_type(mt) {
        Some(f) if version_ok(v) => Ok(f),
        _ => Err(RestError::UnsupportedMediaType(format!(
            "Content-Type '{ct}' is not supported; send application/fhir+json or application/fhir+xml"
        ))),
    }
}

/// `_summary` and `_elements` as a view of a resource.
pub fn view(q: &QueryParams) -> Result<View, RestError> {
    if let Some(s) = q.get("_summary") {
        return match s {
            "true" => Ok(View::Summary),
            "text" => Ok(View::Text),
            "data" => Ok(View::Data),
            "false" => Ok(View::Full),
            "count" => Ok(View::Full), // meaningful for searches only; they read it themselves
            other => Err(bad_param(
                "_summary",
                &format!("'{other}' is not one of true, text, data, count, false"),
            )),
        };
    }
    if let Some(e) = q.get("_elements") {
        let names: Vec<String> = e
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
        return Ok(View::Elements(names));
    }
    Ok(View::Full)
}

pub fn bad_param(name: &str, why: &str) -> RestError {
    RestError::BadValue(
        crate::fhir::Issue::error(
            crate::fhir::IssueType::Value,
            format!("invalid value for parameter '{name}': {why}"),
        )
        .at(name),
    )
}

/// `Prefer: return=…` (http.html#ops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Return {
    Minimal,
    Representation,
    OperationOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefer {
    pub return_: Return,
    /// `handling=strict`: unknown search parameters are errors.
    pub strict: bool,
}

pub fn prefer(req: &HttpRequest) -> Prefer {
    let mut p = Prefer {
        return_: Return::Representation,
        strict: false,
    };
    for value in req.headers().get_all("prefer") {
        for token in value.to_str().unwrap_or("").split([',', ';']) {
            match token
                .trim()
                .split_once('=')
                .map(|(k, v)| (k.trim(), v.trim().trim_matches('"')))
            {
                Some(("return", "minimal")) => p.return_ = Return::Minimal,
                Some(("return", "representation")) => p.return_ = Return::Representation,
                Some(("return", "OperationOutcome")) => p.return_ = Return::OperationOutcome,
                Some(("handling", "strict")) => p.strict = true,
                Some(("handling", "lenient")) => p.strict = false,
                _ => {}
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn fmt(accept: Option<&str>, query: &str) -> Result<Format, RestError> {
        let mut r = TestRequest::default().uri(&format!("/x?{query}"));
        if let Some(a) = accept {
            r = r.insert_header((header::ACCEPT, a));
        }
        let req = r.to_http_request();
        response_format(&req, &QueryParams::from_request(&req)).map(|f| f.format)
    }

    #[test]
    fn format_follows_format_parameter_then_accept() {
        assert_eq!(fmt(None, "").ok(), Some(Format::Json));
        assert_eq!(
            fmt(Some("application/fhir+xml"), "").ok(),
            Some(Format::Xml)
        );
        assert_eq!(
            fmt(Some("application/fhir+xml"), "_format=json").ok(),
            Some(Format::Json)
        );
        assert_eq!(
            fmt(Some("text/html, application/xml;q=0.9"), "").ok(),
            Some(Format::Xml)
        );
        assert_eq!(
            fmt(Some("text/html, */*;q=0.8"), "").ok(),
            Some(Format::Json)
        );
        assert!(fmt(Some("text/html"), "").is_err());
        assert!(fmt(None, "_format=html").is_err());
        assert!(fmt(Some("application/fhir+json; fhirVersion=3.0"), "").is_err());
    }

    #[test]
    fn prefer_reads_return_and_handling() {
        let req = TestRequest::default()
            .insert_header(("Prefer", "return=minimal, handling=strict"))
            .to_http_request();
        assert_eq!(
            prefer(&req),
            Prefer {
                return_: Return::Minimal,
                strict: true
            }
        );
    }
}
