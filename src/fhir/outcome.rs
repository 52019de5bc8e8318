//! OperationOutcome (hl7.org/fhir/R4/operationoutcome.html): the issues a request raised.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Fatal,
    Error,
    Warning,
    Information,
}

impl Severity {
    pub fn code(self) -> &'static str {
        match self {
            Severity::Fatal => "fatal",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Information => "information",
        }
    }
}

/// The R4 issue-type codes this server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueType {
    Invalid,
    Structure,
    Required,
    Value,
    Processing,
    NotSupported,
    NotFound,
    Deleted,
    Conflict,
    Duplicate,
    MultipleMatches,
    TooLong,
    Exception,
    Transient,
    Informational,
    CodeInvalid,
    Invariant,
}

impl IssueType {
    pub fn code(self) -> &'static str {
        match self {
            IssueType::Invalid => "invalid",
            IssueType::Structure => "structure",
            IssueType::Required => "required",
            IssueType::Value => "value",
            IssueType::Processing => "processing",
            IssueType::NotSupported => "not-supported",
            IssueType::NotFound => "not-found",
            IssueType::Deleted => "deleted",
            IssueType::Conflict => "conflict",
            IssueType::Duplicate => "duplicate",
            IssueType::MultipleMatches => "multiple-matches",
            IssueType::TooLong => "too-long",
            IssueType::Exception => "exception",
            IssueType::Transient => "transient",
            IssueType::CodeInvalid => "code-invalid",
            IssueType::Invariant => "invariant",
            IssueType::Informational => "informational",
        }
    }
}

/// One OperationOutcome.issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub severity: Severity,
    pub code: IssueType,
    pub diagnostics: String,
    /// FHIRPath of the element concerned, e.g. `Patient.birthDate`.
    pub expression: Option<String>,
}

impl Issue {
    pub fn error(code: IssueType, diagnostics: impl Into<String>) -> Issue {
        Issue {
            severity: Severity::Error,
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub fn at(mut self, expression: impl Into<String>) -> Issue {
        self.expression = Some(expression.into());
        self
    }
}

/// Renders issues as an OperationOutcome resource.
pub fn operation_outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = issues
        .iter()
        .map(|i| {
            let mut v = json!({
                "severity": i.severity.code(),
                "code": i.code.code(),
                "diagnostics": i.diagnostics,
            });
            if let Some(e) = &i.expression {
                v["expression"] = json!([e]);
            }
            v
        })
        .collect();
    json!({"resourceType": "OperationOutcome", "issue": issues})
}
