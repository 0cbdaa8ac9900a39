//! Small DSFR form fragments shared by the applicants' pages.

use maud::{html, Markup};
use quartiers_domain::ValidationErrors;

/// The class of an input group, marked when its field failed.
pub fn group_class(error: Option<&str>) -> &'static str {
    if error.is_some() {
        "fr-input-group fr-input-group--error"
    } else {
        "fr-input-group"
    }
}

/// The class of an input, marked when its field failed.
pub fn input_class(error: Option<&str>) -> &'static str {
    if error.is_some() {
        "fr-input fr-input--error"
    } else {
        "fr-input"
    }
}

/// The class of a select, marked when its field failed.
pub fn select_class(error: Option<&str>) -> &'static str {
    if error.is_some() {
        "fr-select fr-select--error"
    } else {
        "fr-select"
    }
}

/// Every message of a field (several rules may fail on one field), joined.
pub fn field_error(errors: &ValidationErrors, field: &str) -> Option<String> {
    let messages: Vec<&str> = errors
        .0
        .iter()
        .filter(|e| e.field == field)
        .map(|e| e.message.as_str())
        .collect();
    (!messages.is_empty()).then(|| messages.join(" "))
}

/// A labelled single-line input (`kind`: text, email, date, number, password).
pub fn input(
    name: &str,
    label: &str,
    hint: &str,
    value: &str,
    errors: &ValidationErrors,
    kind: &str,
    required: bool,
) -> Markup {
    let error = field_error(errors, name);
    let id = format!("f-{name}");
    html! {
        div class=(group_class(error.as_deref())) {
            label.fr-label for=(id) {
                (label) @if required { " *" }
                @if !hint.is_empty() { span.fr-hint-text { (hint) } }
            }
            @if kind == "password" {
                input class=(input_class(error.as_deref())) id=(id) name=(name) type="password" autocomplete="new-password";
            } @else {
                input class=(input_class(error.as_deref())) id=(id) name=(name) type=(kind) value=(value);
            }
            @if let Some(e) = &error { p.fr-error-text { (e) } }
        }
    }
}

/// A labelled multi-line input.
pub fn textarea(
    name: &str,
    label: &str,
    hint: &str,
    value: &str,
    errors: &ValidationErrors,
    rows: u32,
) -> Markup {
    let error = field_error(errors, name);
    let id = format!("f-{name}");
    html! {
        div class=(group_class(error.as_deref())) {
            label.fr-label for=(id) {
                (label)
                @if !hint.is_empty() { span.fr-hint-text { (hint) } }
            }
            textarea class=(input_class(error.as_deref())) id=(id) name=(name) rows=(rows) { (value) }
            @if let Some(e) = &error { p.fr-error-text { (e) } }
        }
    }
}

/// A warning or error alert with a title and a list.
pub fn alert_list(kind: &str, title: &str, items: &[String]) -> Markup {
    html! {
        div class=(format!("fr-alert fr-alert--{kind} fr-mb-3w")) role=(if kind == "error" { "alert" } else { "status" }) {
            h2.fr-alert__title { (title) }
            ul { @for i in items { li { (i) } } }
        }
    }
}
