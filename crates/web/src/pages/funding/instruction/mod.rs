//! Funding pages: instruction side. The pilots set up the contract's financers and its calls
//! for projects; each financer works from its worklist; the application page shows the whole
//! file with the financer lines, the opinion form on the visitor's own line, the workflow
//! buttons, messages and audit trail; the programming committee decides in bulk against the
//! envelopes and prints its minutes.

mod application;
mod calls;
mod committee;
mod worklist;

use crate::AppState;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use quartiers_domain::funding::Status;
use quartiers_domain::ValidationErrors;

/// Routes of this side.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/contrats/{slug}/financeurs",
            get(calls::funders_page).post(calls::funder_create),
        )
        .route(
            "/contrats/{slug}/financeurs/{code}/modifier",
            get(calls::funder_edit_form).post(calls::funder_save),
        )
        .route("/contrats/{slug}/appels", get(calls::calls_page))
        .route(
            "/contrats/{slug}/appels/nouveau",
            get(calls::call_new_form).post(calls::call_create),
        )
        .route("/appels/{call_id}", get(calls::call_show))
        .route(
            "/appels/{call_id}/modifier",
            get(calls::call_edit_form).post(calls::call_save),
        )
        .route("/contrats/{slug}/instruction", get(worklist::worklist))
        .route("/dossiers/{id}", get(application::show))
        .route("/dossiers/{id}/avis/{funder}", post(application::opinion))
        .route(
            "/dossiers/{id}/evenements/{event}",
            post(application::event),
        )
        .route("/dossiers/{id}/messages", post(application::message))
        .route(
            "/appels/{call_id}/comites",
            get(committee::list).post(committee::create),
        )
        .route("/comites/{id}", get(committee::show))
        .route("/comites/{id}/decisions", post(committee::decide))
        .route("/comites/{id}/proces-verbal", get(committee::minutes))
}

/// Submitted form fields, in order (repeated names for checkboxes and table rows).
type Pairs = axum::Form<Vec<(String, String)>>;

/// The first value of a field (empty when absent).
fn field(pairs: &[(String, String)], name: &str) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// Every value of a repeated field, in order.
fn fields(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

/// The DSFR class of an input group, in error when `field` failed.
fn group_class(errors: &ValidationErrors, field: &str) -> &'static str {
    if errors.for_field(field).is_some() {
        "fr-input-group fr-input-group--error"
    } else {
        "fr-input-group"
    }
}

/// The message of a failed field, under it.
fn field_error(errors: &ValidationErrors, field: &str) -> Markup {
    html! { @if let Some(e) = errors.for_field(field) { p.fr-error-text { (e) } } }
}

/// The coloured badge of an application status.
fn status_badge(status: Status) -> Markup {
    let kind = match status {
        Status::Brouillon => "fr-badge--new",
        Status::Depose | Status::EnInstruction | Status::AvisRendus => "fr-badge--info",
        Status::ComplementDemande => "fr-badge--warning",
        Status::Decide | Status::Conventionne | Status::Paye | Status::Clos => "fr-badge--success",
        Status::BilanAttendu | Status::BilanDepose => "fr-badge--info",
        Status::Retire => "fr-badge--error",
    };
    html! { p class=(format!("fr-badge fr-badge--sm {kind}")) { (status.label()) } }
}

/// The French label of a stored status code (the code itself when unknown).
fn status_label(code: &str) -> String {
    Status::parse(code)
        .map(|s| s.label().to_string())
        .unwrap_or_else(|_| code.to_string())
}

/// `12 mai 2025 à 14:03 UTC` for a stored UTC timestamp.
fn when(ts: &str) -> String {
    match ts.get(11..16) {
        Some(hm) if ts.len() >= 16 => {
            format!("{} à {hm} UTC", crate::layout::french_date(ts))
        }
        _ => crate::layout::french_date(ts),
    }
}

/// Cents typed back into a form (`1500,50`), empty for `None`.
fn euros_input(cents: Option<i64>) -> String {
    match cents {
        None => String::new(),
        Some(c) if c % 100 == 0 => (c / 100).to_string(),
        Some(c) => format!("{},{:02}", c / 100, c % 100),
    }
}

/// `—` for an absent amount, the French amount otherwise.
fn amount_or_dash(cents: Option<i64>) -> String {
    cents
        .map(crate::funding::euros)
        .unwrap_or_else(|| "—".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_typed_back() {
        assert_eq!(euros_input(Some(150_050)), "1500,50");
        assert_eq!(euros_input(Some(2_000_000)), "20000");
        assert_eq!(euros_input(None), "");
        assert_eq!(amount_or_dash(None), "—");
    }

    #[test]
    fn repeated_fields_keep_their_order() {
        let p = vec![
            ("a".to_string(), "1".to_string()),
            ("b".to_string(), "x".to_string()),
            ("a".to_string(), "2".to_string()),
        ];
        assert_eq!(fields(&p, "a"), vec!["1", "2"]);
        assert_eq!(field(&p, "b"), "x");
        assert_eq!(field(&p, "c"), "");
        assert_eq!(status_label("avis_rendus"), "avis rendus");
    }
}
