//! Field-level validation errors, shared by forms, the API and file imports.

use serde::Serialize;

/// One failing field: a path (`name`, `framework[2].title`...) and a French message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field in the submitted form or document.
    pub field: String,
    /// Message for the user, in French.
    pub message: String,
}

/// A non-empty list of field errors.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ValidationErrors(pub Vec<FieldError>);

impl ValidationErrors {
    /// An empty list.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// Adds an error on `field`.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }
    /// A single-error list.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut e = Self::new();
        e.add(field, message);
        e
    }
    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `Ok(())` when empty, `Err(self)` otherwise.
    pub fn into_result(self) -> Result<(), Self> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
    /// The message for `field`, if any (used by forms to show it beside the input).
    pub fn for_field(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
    /// Records the result of a parse under `field`, returning the value when it succeeded.
    pub fn check<T, E: std::fmt::Display>(&mut self, field: &str, r: Result<T, E>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.to_string());
                None
            }
        }
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|e| format!("{} : {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join(" ; "))
    }
}

impl std::error::Error for ValidationErrors {}

/// Checks that a required text is present and at most `max` characters; returns it trimmed.
pub fn required_text(
    errors: &mut ValidationErrors,
    field: &str,
    value: &str,
    max: usize,
) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.add(field, "Ce champ est obligatoire.");
    } else if v.chars().count() > max {
        errors.add(
            field,
            format!("Ce champ ne doit pas dépasser {max} caractères."),
        );
    }
    v.to_string()
}

/// Checks an optional text's length; returns `None` when blank.
pub fn optional_text(
    errors: &mut ValidationErrors,
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Option<String> {
    let v = value.map(str::trim).filter(|v| !v.is_empty())?;
    if v.chars().count() > max {
        errors.add(
            field,
            format!("Ce champ ne doit pas dépasser {max} caractères."),
        );
    }
    Some(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_text_reports_blank_and_too_long() {
        let mut e = ValidationErrors::new();
        required_text(&mut e, "a", "   ", 10);
        required_text(&mut e, "b", "abcdefghijk", 10);
        assert_eq!(e.for_field("a"), Some("Ce champ est obligatoire."));
        assert!(e.for_field("b").unwrap().contains("10 caractères"));
        assert_eq!(
            required_text(&mut ValidationErrors::new(), "c", " ok ", 10),
            "ok"
        );
    }

    #[test]
    fn optional_text_blank_is_none() {
        let mut e = ValidationErrors::new();
        assert_eq!(optional_text(&mut e, "a", Some("  "), 5), None);
        assert_eq!(optional_text(&mut e, "a", None, 5), None);
        assert_eq!(
            optional_text(&mut e, "a", Some("abcdef"), 5).as_deref(),
            Some("abcdef")
        );
        assert!(!e.is_empty());
    }
}
