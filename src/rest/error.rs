//! Every error of the REST layer, and the one mapping from an error to an HTTP status and an
//! OperationOutcome. Errors from below arrive through `From`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};

use crate::fhir::outcome::operation_outcome;
use crate::fhir::{Issue, IssueType};
use crate::interaction::InteractionError;
use crate::search::SearchError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("resource type '{0}' is not supported")]
    UnknownType(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    BadRequest(String),
    /// A parameter or element is wrong; the issue names it.
    #[error("{}", .0.diagnostics)]
    BadValue(Issue),
    #[error("the resource is not valid")]
    Invalid(Vec<Issue>),
    /// Well-formed but not processable: a patch that does not apply, a profile not met.
    #[error("the request cannot be processed")]
    Unprocessable(Vec<Issue>),
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    #[error("{0}")]
    NotAcceptable(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("the request body is larger than the limit of {0} bytes")]
    PayloadTooLarge(usize),
    /// Concurrent writers kept colliding on the same resource, even after retries.
    #[error("the resource was changed by another request at the same time; try again")]
    Conflict(String),
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    MultipleMatches(String),
    #[error("the server is busy, try again")]
    Busy(String),
    #[error("internal error")]
    Internal(String),
    /// An entry of a transaction Bundle failed; the whole transaction was rolled back.
    #[error("Bundle.entry[{index}]: {inner}")]
    InEntry { index: usize, inner: Box<RestError> },
}

impl RestError {
    /// Status and issues: the single table from error to response.
    pub fn outcome(&self) -> (StatusCode, Vec<Issue>) {
        use IssueType as T;
        if let RestError::InEntry { index, inner } = self {
            let (status, issues) = inner.outcome();
            let issues = issues
                .into_iter()
                .map(|mut i| {
                    i.diagnostics = format!("Bundle.entry[{index}]: {}", i.diagnostics);
                    // `Patient.birthDate` in entry 3 is `Bundle.entry[3].resource.birthDate`.
                    i.expression = Some(match i.expression {
                        Some(e) if e.starts_with(|c: char| c.is_ascii_uppercase()) => {
                            let rest = e.find('.').map_or("", |d| &e[d..]);
                            format!("Bundle.entry[{index}].resource{rest}")
                        }
                        Some(e) => e,
                        None => format!("Bundle.entry[{index}]"),
                    });
                    i
                })
                .collect();
            return (status, issues);
        }
        let msg = self.to_string();
        let (status, code) = match self {
            RestError::UnknownType(_) => (StatusCode::NOT_FOUND, T::NotSupported),
            RestError::NotFound(_) => (StatusCode::NOT_FOUND, T::NotFound),
            RestError::Gone(_) => (StatusCode::GONE, T::Deleted),
            RestError::BadRequest(_) => (StatusCode::BAD_REQUEST, T::Invalid),
            RestError::BadValue(issue) => return (StatusCode::BAD_REQUEST, vec![issue.clone()]),
            RestError::Invalid(issues) => return (StatusCode::BAD_REQUEST, issues.clone()),
            RestError::Unprocessable(issues) => {
                return (StatusCode::UNPROCESSABLE_ENTITY, issues.clone())
            }
            RestError::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, T::NotSupported),
            RestError::NotAcceptable(_) => (StatusCode::NOT_ACCEPTABLE, T::NotSupported),
            RestError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, T::NotSupported)
            }
            RestError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, T::TooLong),
            RestError::Conflict(_) => (StatusCode::CONFLICT, T::Conflict),
            RestError::PreconditionFailed(_) => (StatusCode::PRECONDITION_FAILED, T::Conflict),
            RestError::MultipleMatches(_) => (StatusCode::PRECONDITION_FAILED, T::MultipleMatches),
            RestError::Busy(_) => (StatusCode::SERVICE_UNAVAILABLE, T::Transient),
            RestError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, T::Exception),
            // Answered above, with the entry's own status.
            RestError::InEntry { .. } => (StatusCode::BAD_REQUEST, T::Processing),
        };
        (status, vec![Issue::error(code, msg)])
    }
}

impl ResponseError for RestError {
    fn status_code(&self) -> StatusCode {
        self.outcome().0
    }

    /// Always JSON here; the format middleware turns it into XML when the client asked for XML.
    fn error_response(&self) -> HttpResponse {
        match self {
            RestError::Internal(detail) | RestError::Busy(detail) | RestError::Conflict(detail) => {
                log::error!("{self}: {detail}")
            }
            _ => {}
        }
        let (status, issues) = self.outcome();
        HttpResponse::build(status)
            .content_type(crate::fhir::format::Format::Json.content_type())
            .body(operation_outcome(&issues).to_string())
    }
}

impl From<StoreError> for RestError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy(d) => RestError::Busy(d),
            // A race that lost every retry: the client may try again.
            StoreError::Conflict(d) => RestError::Conflict(d),
            StoreError::Internal(d) => RestError::Internal(d),
        }
    }
}

impl From<SearchError> for RestError {
    fn from(e: SearchError) -> Self {
        let issue = Issue::error(
            match e {
                SearchError::UnknownParameter(_) => IssueType::NotSupported,
                SearchError::InvalidValue { .. } => IssueType::Value,
            },
            e.to_string(),
        );
        match e.parameter() {
            "" => RestError::BadValue(issue),
            p => RestError::BadValue(issue.at(p.to_string())),
        }
    }
}

impl From<InteractionError> for RestError {
    fn from(e: InteractionError) -> Self {
        match e {
            InteractionError::Invalid(issues) => RestError::Invalid(issues),
            InteractionError::Unprocessable(issues) => RestError::Unprocessable(issues),
            InteractionError::BadRequest(m) => RestError::BadRequest(m),
            InteractionError::NotFound(m) => {
                RestError::NotFound(format!("resource {m} is not known"))
            }
            InteractionError::Gone(m) => RestError::Gone(format!("resource {m} has been deleted")),
            InteractionError::PreconditionFailed(m) => RestError::PreconditionFailed(m),
            InteractionError::MultipleMatches(m) => RestError::MultipleMatches(m),
            InteractionError::Search(e) => e.into(),
            InteractionError::Store(e) => e.into(),
        }
    }
}

impl From<actix_web::error::BlockingError> for RestError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        RestError::Internal(format!("blocking task failed: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_maps_to_its_status_and_issue_code() {
        let cases: Vec<(RestError, u16, &str)> = vec![
            (RestError::UnknownType("Foo".into()), 404, "not-supported"),
            (RestError::NotFound("x".into()), 404, "not-found"),
            (RestError::Gone("x".into()), 410, "deleted"),
            (RestError::BadRequest("x".into()), 400, "invalid"),
            (
                RestError::MethodNotAllowed("PATCH".into()),
                405,
                "not-supported",
            ),
            (RestError::NotAcceptable("x".into()), 406, "not-supported"),
            (
                RestError::UnsupportedMediaType("x".into()),
                415,
                "not-supported",
            ),
            (RestError::PayloadTooLarge(10), 413, "too-long"),
            (RestError::PreconditionFailed("x".into()), 412, "conflict"),
            (
                RestError::MultipleMatches("x".into()),
                412,
                "multiple-matches",
            ),
            (StoreError::Busy("locked".into()).into(), 503, "transient"),
            (
                StoreError::Conflict("serialization".into()).into(),
                409,
                "conflict",
            ),
            (StoreError::Internal("boom".into()).into(), 500, "exception"),
        ];
        for (err, status, code) in cases {
            let (s, issues) = err.outcome();
            assert_eq!(
                (s.as_u16(), issues[0].code.code()),
                (status, code),
                "{err:?}"
            );
        }
    }

    #[test]
    fn internal_detail_does_not_reach_the_client() {
        let (_, issues) = RestError::Internal("password=secret".into()).outcome();
        assert!(!issues[0].diagnostics.contains("secret"));
    }

    #[test]
    fn search_errors_name_their_parameter() {
        let e: RestError = SearchError::InvalidValue {
            param: "_count".into(),
            reason: "bad".into(),
        }
        .into();
        let (s, issues) = e.outcome();
        assert_eq!(s.as_u16(), 400);
        assert_eq!(issues[0].expression.as_deref(), Some("_count"));
    }
}
