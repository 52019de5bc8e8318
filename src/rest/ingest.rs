//! `POST [base]/$ingest?adapter=emis|rio|vcse`: a source batch over HTTP, as a zip of the
//! extract's files or as JSON (a CRM query result), imported as `carebridge import` would and
//! answered with the same report, as Parameters. A batch that cannot be read at all is a 400
//! naming each problem; with `strict=true`, any rejected row refuses the batch with a 422.

use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::body::read_limited;
use super::error::RestError;
use super::negotiate::response_format;
use super::query::QueryParams;
use super::{blocking, AppState};
use crate::adapters::model::Rejection;
use crate::adapters::{adapter, ImportError, Importer, SourceBatch, SourceFile};
use crate::fhir::format::render;
use crate::fhir::{Issue, IssueType};

pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, RestError> {
    let q = QueryParams::from_request(&req);
    let fmt = response_format(&req, &q)?;
    let name = q.get("adapter").ok_or_else(|| {
        RestError::BadValue(
            Issue::error(
                IssueType::Required,
                "$ingest needs ?adapter= (emis, rio or vcse)",
            )
            .at("adapter"),
        )
    })?;
    let chosen = adapter(name, state.adapter_configs.get(name).map(|p| p.as_path()))
        .map_err(|e| RestError::BadValue(Issue::error(IssueType::NotSupported, e).at("adapter")))?;
    let strict = match q.get("strict") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(RestError::BadValue(
                Issue::error(
                    IssueType::Value,
                    format!("strict is true or false, not '{other}'"),
                )
                .at("strict"),
            ))
        }
    };
    let body = read_limited(&req, payload, state.ingest_limit).await?;
    let batch = batch(&req, &body)?;
    let st = state.clone();
    let report = blocking(move || {
        let importer = Importer {
            store: &st.store,
            base: &st.base_url,
            policy: &st.profiles,
            strict,
        };
        importer
            .import(chosen.as_ref(), &batch, &|_| {})
            .map_err(into_rest)
    })
    .await?;
    let body = render(&report.parameters(), fmt.format, fmt.pretty).map_err(RestError::Internal)?;
    Ok(HttpResponse::Ok()
        .content_type(fmt.format.content_type())
        .body(body))
}

/// The body as a batch, by its content type.
fn batch(req: &HttpRequest, body: &[u8]) -> Result<SourceBatch, RestError> {
    let mime = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match mime.as_str() {
        "application/zip" | "application/x-zip-compressed" => {
            SourceBatch::from_zip(body).map_err(|e| refused(&e.0))
        }
        "application/json" | "application/fhir+json" => Ok(SourceBatch {
            files: vec![SourceFile {
                name: "body.json".into(),
                bytes: body.to_vec(),
            }],
        }),
        other => Err(RestError::UnsupportedMediaType(format!(
            "$ingest takes application/zip (an extract's files) or application/json, not '{other}'"
        ))),
    }
}

fn issue(r: &Rejection) -> Issue {
    Issue::error(IssueType::Invalid, r.to_string())
}

fn refused(problems: &[Rejection]) -> RestError {
    RestError::Invalid(problems.iter().map(issue).collect())
}

fn into_rest(e: ImportError) -> RestError {
    match e {
        ImportError::Batch(b) => refused(&b.0),
        ImportError::Strict(report) => {
            RestError::Unprocessable(report.rejected.iter().map(issue).collect())
        }
        ImportError::Store(s) => s.into(),
        // The server's own failure (5xx) stays one, whichever row's record it met: the row
        // goes to the log, not the blame.
        ImportError::Write { at: Some(o), error } if error.status_code().is_server_error() => {
            log::error!(
                "import: writing the record of {}, line {}: {error}",
                o.file,
                o.line
            );
            error
        }
        // The row whose record the write refused is named, not the bundle entry.
        ImportError::Write { at: Some(o), error } => RestError::Unprocessable(vec![Issue::error(
            IssueType::Invalid,
            format!("{}, line {}: {error}", o.file, o.line),
        )]),
        ImportError::Write { at: None, error } => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::model::Origin;

    fn at_row(error: RestError) -> RestError {
        into_rest(ImportError::Write {
            at: Some(Origin {
                file: "CareRecord_Observation.csv".into(),
                line: 7,
            }),
            error,
        })
    }

    #[test]
    fn a_row_is_blamed_only_for_what_its_record_did() {
        // A record the write refused: 422, naming the row.
        match at_row(RestError::BadRequest("no such code".into())) {
            RestError::Unprocessable(issues) => {
                assert!(issues[0]
                    .diagnostics
                    .contains("CareRecord_Observation.csv, line 7"))
            }
            other => panic!("{other:?}"),
        }
        // The server failing while writing that row's record: still the server's 500, and
        // a busy database still a 503, whatever row it met.
        assert!(matches!(
            at_row(RestError::Internal("no resource has the key 9".into())),
            RestError::Internal(_)
        ));
        assert!(matches!(
            at_row(RestError::Busy("locked".into())),
            RestError::Busy(_)
        ));
    }
}
