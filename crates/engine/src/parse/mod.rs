//! Pure request parsers: a JSON body (or a row of a batch file turned into one) becomes a
//! [`crate::NewPayout`] or [`crate::NewBeneficiary`], or the list of every field that broke a rule.
//! The HTTP API, the batch engine and file ingestion (SFTP) all use these, so a row of a file is
//! checked by exactly the rules of a single API call. Rules that need stored data (beneficiary,
//! quote, files, balance) are checked in the writer.

pub mod beneficiary;
pub mod payout;

use outlay_core::money::MAX_MINOR;
use outlay_core::{Amount, Currency};
use serde::Serialize;

/// One field that broke one rule.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FieldIssue {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl FieldIssue {
    /// `message` is completed with the field name in front, as the API reports it.
    pub fn new(field: impl Into<String>, code: &'static str, message: impl std::fmt::Display) -> Self {
        let field = field.into();
        FieldIssue { message: format!("{field} {message}"), field, code }
    }
}

/// A single issue as the error of a parser.
pub fn invalid(field: impl Into<String>, code: &'static str, message: impl std::fmt::Display) -> Vec<FieldIssue> {
    vec![FieldIssue::new(field, code, message)]
}

/// Collects every field error of a request.
#[derive(Default, Debug)]
pub struct Issues(pub Vec<FieldIssue>);

impl Issues {
    pub fn add(&mut self, field: impl Into<String>, code: &'static str, message: impl std::fmt::Display) {
        self.0.push(FieldIssue::new(field, code, message));
    }

    /// Record the errors of `result`, keeping its value when there are none.
    pub fn check<T>(&mut self, result: Result<T, Vec<FieldIssue>>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(mut more) => {
                self.0.append(&mut more);
                None
            }
        }
    }

    pub fn finish(self) -> Result<(), Vec<FieldIssue>> {
        if self.0.is_empty() { Ok(()) } else { Err(self.0) }
    }
}

/// A money amount as JSON: a decimal string, or a number whose text is short enough to be exact.
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(untagged)]
pub enum DecimalInput {
    Text(String),
    Number(serde_json::Number),
}

impl DecimalInput {
    pub fn parse(&self, field: &str, currency: Currency) -> Result<Amount, Vec<FieldIssue>> {
        let text = match self {
            DecimalInput::Text(t) => t.clone(),
            DecimalInput::Number(n) => {
                let text = n.to_string();
                let digits = text.chars().filter(char::is_ascii_digit).count();
                // Beyond 15 significant digits a JSON number may already have been rounded.
                if digits > MAX_MINOR.to_string().len() || text.contains(['e', 'E']) {
                    return Err(invalid(field, "invalid_amount", "must be sent as a decimal string at this size"));
                }
                text
            }
        };
        Amount::parse_positive(&text, currency).map_err(|e| invalid(field, "invalid_amount", e))
    }
}

/// Check an uploaded or inline document: a known type by content, agreeing with its name.
pub fn check_document(field: &str, name: &str, bytes: &[u8]) -> Result<&'static str, Vec<FieldIssue>> {
    use outlay_core::files::{MAX_FILE_BYTES, extension_type, sniff_type};
    if bytes.is_empty() {
        return Err(invalid(field, "empty_file", "is empty"));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(invalid(field, "file_too_large", "is larger than 20 MB"));
    }
    let Some(kind) = sniff_type(bytes) else {
        return Err(invalid(field, "unsupported_file_type", "is not a jpeg, png, pdf, doc or docx file"));
    };
    if let Some(declared) = extension_type(name)
        && declared != kind
    {
        return Err(invalid(field, "file_type_mismatch", format!("is named .{declared} but its content is {kind}")));
    }
    Ok(kind)
}
