//! `/mes-dossiers`: the signed-in user's organisations with their applications, and the
//! calls for projects open today with a « Déposer une demande » button per organisation.

use super::page_principal;
use crate::auth::Visitor;
use crate::error::Result;
use crate::funding::euros;
use crate::layout::{self, french_date, Frame};
use crate::AppState;
use axum::extract::State;
use axum::http::Uri;
use axum::response::{Html, IntoResponse, Response};
use maud::html;
use quartiers_domain::funding::Status;

/// GET /mes-dossiers
#[tracing::instrument(skip(state, visitor))]
pub async fn show(State(state): State<AppState>, visitor: Visitor, uri: Uri) -> Result<Response> {
    let principal = match page_principal(&visitor, &uri) {
        Ok(p) => p,
        Err(r) => return Ok(r.into_response()),
    };
    let organisations = state.store.organisations_of(principal.user_id).await?;
    let mut blocks = Vec::new();
    for org in &organisations {
        let overdue = state.store.has_overdue_report(org.id).await?;
        let mut rows = Vec::new();
        for row in state.store.applications_of_organisations(&[org.id]).await? {
            let status = Status::parse(&row.status).ok();
            // A draft has no financer lines yet: its budget says what it asks.
            let requested = if row.requested == 0 && status == Some(Status::Brouillon) {
                state
                    .store
                    .application(row.id)
                    .await?
                    .body
                    .requested_by_funder()
                    .iter()
                    .map(|(_, a)| a)
                    .sum()
            } else {
                row.requested
            };
            rows.push((row, status, requested));
        }
        blocks.push((org, overdue, rows));
    }
    let today = quartiers_store::today();
    let open: Vec<_> = state
        .store
        .all_calls()
        .await?
        .into_iter()
        .filter(|(_, c)| c.opens_on <= today && today <= c.closes_on)
        .collect();
    let frame = Frame::new(&state, &visitor);
    Ok(Html(layout::page(
        &frame,
        "Mes dossiers",
        &[("Mes dossiers", String::new())],
        html! {
            h1 { "Mes dossiers" }
            @if organisations.is_empty() {
                (layout::notice("info", "Votre compte n'est rattaché à aucune structure. Créez la vôtre, ou demandez à l'administrateur de votre structure de vous y ajouter."))
            }
            @for (org, overdue, rows) in &blocks {
                section.fr-mb-6w {
                    h2 { a href=(format!("/structures/{}", org.id)) { (org.name) } }
                    @if *overdue {
                        div.fr-alert.fr-alert--warning.fr-alert--sm.fr-mb-2w role="status" {
                            p { strong { "Bilan en retard. " } "Un bilan de fin d'action de cette structure n'a pas été déposé à temps : vos nouvelles demandes sont signalées aux financeurs tant qu'il manque." }
                        }
                    }
                    @if rows.is_empty() {
                        p { "Aucune demande pour l'instant." }
                    } @else {
                        div.fr-table { table {
                            caption { "Demandes de " (org.name) }
                            thead { tr {
                                th scope="col" { "Référence" } th scope="col" { "Intitulé" } th scope="col" { "Année" }
                                th scope="col" { "Statut" } th scope="col" { "Montant demandé" } th scope="col" { "Actions" }
                            } }
                            tbody { @for (row, status, requested) in rows { tr {
                                td { a href=(format!("/dossiers/{}", row.id)) { (row.reference) } }
                                td { @if row.title.trim().is_empty() { span.q-unknown { "sans titre" } } @else { (row.title) } }
                                td { (row.year) }
                                td { span.fr-badge.fr-badge--sm { (status.map(|s| s.label()).unwrap_or(row.status.as_str())) } }
                                td { (euros(*requested)) }
                                td {
                                    @if status.is_some_and(|s| s.editable_by_applicant()) {
                                        a.fr-link href=(format!("/dossiers/{}/modifier", row.id)) { "Modifier" }
                                    }
                                    @if matches!(status, Some(Status::Conventionne | Status::Paye | Status::BilanAttendu)) {
                                        a.fr-link href=(format!("/dossiers/{}/bilan", row.id)) { "Bilan" }
                                    }
                                }
                            } } }
                        } }
                    }
                }
            }
            h2 { "Appels à projets ouverts" }
            @if open.is_empty() {
                p { "Aucun appel à projets n'est ouvert aujourd'hui." }
            }
            @for (slug, call) in &open {
                div.fr-card.fr-mb-3w { div.fr-card__body { div.fr-card__content {
                    h3.fr-card__title { (call.settings.title) }
                    p.fr-card__desc {
                        "Contrat " a href=(format!("/contrats/{slug}")) { (slug) }
                        " — dépôts du " (french_date(&call.opens_on.to_string())) " au " (french_date(&call.closes_on.to_string())) " inclus."
                    }
                    @if !call.settings.framing_note.trim().is_empty() {
                        div.fr-text--sm { (layout::paragraphs(&call.settings.framing_note)) }
                    }
                    @if organisations.is_empty() {
                        p { a.fr-btn.fr-btn--secondary href="/structures/nouvelle" { "Créer ma structure pour déposer" } }
                    } @else {
                        ul.fr-btns-group.fr-btns-group--inline-md {
                            @for org in &organisations {
                                li { a.fr-btn href=(format!("/appels/{}/dossiers/nouveau?structure={}", call.id, org.id)) {
                                    "Déposer une demande"
                                    @if organisations.len() > 1 { " — " (org.name) }
                                } }
                            }
                        }
                    }
                } } }
            }
            p { a.fr-btn.fr-btn--tertiary href="/structures/nouvelle" { "Ajouter une structure" } }
        },
    )
    .into_string())
    .into_response())
}
