//! Field-level validation errors shared by every input the engine accepts.
//!
//! Errors are collected rather than returned on the first failure, so a form can show every
//! problem next to its field at once.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One rejected input field: which one, and why, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// The input field's name as the caller sent it (e.g. `quantity`).
    pub field: String,
    /// Why the value was refused (e.g. `must be at least 1`).
    pub reason: String,
}

impl FieldError {
    /// A refusal of `field` for `reason`.
    pub fn new(field: &str, reason: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// Every field error found in one input; never empty when returned as an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// The error for `field`, if that field was refused.
    pub fn for_field(&self, field: &str) -> Option<&FieldError> {
        self.0.iter().find(|e| e.field == field)
    }

    /// Records the error of a parse result and hands back its value, if any.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    /// Whether no field was refused.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// Whether `text` holds a control character (newline, tab, NUL, …), which no name or id may.
pub(crate) fn has_control_chars(text: &str) -> bool {
    text.chars().any(char::is_control)
}

/// The rules every identifier from the shop shares (member ids, order ids): 1 to `max_chars`
/// characters, no surrounding whitespace, no control characters, no invisible formatting.
pub(crate) fn check_identifier(field: &str, raw: &str, max_chars: usize) -> Result<(), FieldError> {
    if raw.trim().is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if raw.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if raw.trim() != raw {
        return Err(FieldError::new(
            field,
            "must not start or end with whitespace",
        ));
    }
    if has_control_chars(raw) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    crate::text::refuse_invisible(field, raw)
}
