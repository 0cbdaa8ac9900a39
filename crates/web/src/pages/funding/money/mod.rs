//! Funding pages, money side: agreements (conventions) and their payments and amendments on
//! the application page, the printable agreement, the dashboards that follow the money with
//! their XLSX and open-data exports, and the published programme of a call.

mod agreements;
mod dashboard;
mod programme;

pub use agreements::application_section;

use crate::AppState;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use quartiers_domain::ValidationErrors;
use std::collections::HashMap;

/// Routes of this side.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/dossiers/{id}/conventionner",
            get(agreements::conventionner_form).post(agreements::conventionner),
        )
        .route("/dossiers/{id}/suivi", post(agreements::follow_up))
        .route("/conventions/{id}", get(agreements::document))
        .route(
            "/conventions/{id}/paiements",
            get(agreements::payment_form).post(agreements::pay),
        )
        .route(
            "/conventions/{id}/avenants",
            get(agreements::amendment_form).post(agreements::amend),
        )
        .route("/contrats/{slug}/financements", get(dashboard::show))
        .route("/contrats/{slug}/financements.xlsx", get(dashboard::xlsx))
        .route("/contrats/{slug}/subventions.csv", get(dashboard::scdl))
        .route("/contrats/{slug}/programme/{year}", get(programme::show))
        .route("/appels/{call_id}/publication", post(programme::publish))
}

/// The fields of a submitted form (the last value wins for a repeated name).
pub(crate) type Fields = HashMap<String, String>;

/// Reads submitted pairs into fields.
pub(crate) fn fields(pairs: Vec<(String, String)>) -> Fields {
    pairs.into_iter().collect()
}

/// The value typed for `name`, or empty.
pub(crate) fn value<'a>(f: &'a Fields, name: &str) -> &'a str {
    f.get(name).map(String::as_str).unwrap_or("")
}

/// What kind of control a form field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control<'a> {
    /// A text input of this HTML type (`text`, `date`, `number`).
    Input(&'a str),
    /// A multi-line text.
    Textarea,
    /// A choice among (value, label).
    Select(&'a [(String, String)]),
}

/// A DSFR input group: label, optional hint, the control with what was typed, and the
/// French message of its error next to it.
pub(crate) fn field(
    id: &str,
    name: &str,
    label: &str,
    hint: Option<&str>,
    control: Control<'_>,
    value: &str,
    errors: &ValidationErrors,
) -> Markup {
    let error = errors.for_field(name);
    let err_id = format!("{id}-erreur");
    let described = error.map(|_| err_id.clone());
    let group = if error.is_some() {
        "fr-input-group fr-input-group--error"
    } else {
        "fr-input-group"
    };
    let input_class = if error.is_some() {
        "fr-input fr-input--error"
    } else {
        "fr-input"
    };
    let select_class = if error.is_some() {
        "fr-select fr-select--error"
    } else {
        "fr-select"
    };
    html! {
        div class=(group) {
            label.fr-label for=(id) {
                (label)
                @if let Some(h) = hint { span.fr-hint-text { (h) } }
            }
            @match control {
                Control::Input(kind) => {
                    input class=(input_class) id=(id) name=(name) type=(kind) value=(value) aria-describedby=[described.as_deref()];
                }
                Control::Textarea => {
                    textarea class=(input_class) id=(id) name=(name) rows="4" aria-describedby=[described.as_deref()] { (value) }
                }
                Control::Select(options) => {
                    select class=(select_class) id=(id) name=(name) aria-describedby=[described.as_deref()] {
                        @for (v, l) in options { option value=(v) selected[v == value] { (l) } }
                    }
                }
            }
            @if let Some(e) = error { p.fr-error-text id=(err_id) { (e) } }
        }
    }
}

/// Errors of fields without a control of their own, shown above the form.
pub(crate) fn other_errors(errors: &ValidationErrors, shown: &[&str]) -> Markup {
    let rest: Vec<&str> = errors
        .0
        .iter()
        .filter(|e| !shown.contains(&e.field.as_str()))
        .map(|e| e.message.as_str())
        .collect();
    html! {
        @if !rest.is_empty() {
            div.fr-alert.fr-alert--error.fr-alert--sm.fr-mb-2w role="alert" {
                @for m in rest { p { (m) } }
            }
        }
    }
}

/// Parses an amount typed in euros into cents, with the field's French message.
pub(crate) fn parse_amount(errors: &mut ValidationErrors, name: &str, typed: &str) -> i64 {
    match quartiers_domain::Cents::parse_euros(typed) {
        Ok(c) => c.get(),
        Err(m) => {
            errors.add(name, m);
            0
        }
    }
}

/// An amount in cents as typed back in a form (`1500,50`).
pub(crate) fn typed_euros(cents: i64) -> String {
    if cents % 100 == 0 {
        (cents / 100).to_string()
    } else {
        format!("{},{:02}", cents / 100, cents % 100)
    }
}
