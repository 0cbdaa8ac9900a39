//! A financer's worklist on a contract: the applications that solicit it, by status, with
//! the amount asked of it, its proposal and its opinion.

use super::amount_or_dash;
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::{euros, signed_in};
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use maud::html;
use quartiers_domain::funding::{Opinion, Status};

/// The statuses a worklist shows, in this order.
const WORKLIST_STATUSES: [Status; 4] = [
    Status::Depose,
    Status::EnInstruction,
    Status::ComplementDemande,
    Status::AvisRendus,
];

/// `?financeur=CODE`
#[derive(Debug, Default, serde::Deserialize)]
pub struct WorklistQuery {
    #[serde(default)]
    financeur: String,
}

/// GET /contrats/{slug}/instruction?financeur={code}: for the users acting for that financer
/// on the contract, and for its pilots.
#[tracing::instrument(skip(state, visitor))]
pub async fn worklist(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(q): Query<WorklistQuery>,
) -> Result<Html<String>> {
    let principal = signed_in(&visitor)?;
    let contract = state.store.contract(&slug).await?;
    let steers = principal.steers(contract.id);
    let mine: Vec<String> = principal
        .funder_codes(contract.id)
        .into_iter()
        .map(str::to_string)
        .collect();
    if !steers && mine.is_empty() && !principal.is_admin {
        return Err(Error::Forbidden);
    }
    let funders = state.store.funders(contract.id).await?;
    let wanted = q.financeur.trim().to_string();
    let code = if wanted.is_empty() {
        match mine.first().or_else(|| funders.first().map(|f| &f.code)) {
            Some(c) => c.clone(),
            None => String::new(),
        }
    } else {
        wanted
    };
    if !code.is_empty() && !principal.acts_for(contract.id, &code) && !steers {
        return Err(Error::Forbidden);
    }
    let funder = funders.iter().find(|f| f.code == code);
    if !code.is_empty() && funder.is_none() {
        return Err(Error::NotFound);
    }
    let rows = match funder {
        Some(f) => {
            state
                .store
                .worklist(contract.id, &f.code, &WORKLIST_STATUSES)
                .await?
        }
        None => Vec::new(),
    };
    // The financers this visitor may switch to.
    let choices: Vec<_> = funders
        .iter()
        .filter(|f| steers || principal.acts_for(contract.id, &f.code))
        .collect();
    let c = &contract.document.contract;
    let frame = Frame::new(&state, &visitor);
    let title = match funder {
        Some(f) => format!("Dossiers à instruire — {}", f.name),
        None => "Dossiers à instruire".to_string(),
    };
    Ok(Html(
        layout::page(
            &frame,
            &title,
            &[
                (c.name.as_str(), format!("/contrats/{slug}")),
                ("Instruction", String::new()),
            ],
            html! {
                h1 { (title) }
                @if choices.len() > 1 {
                    form.fr-mb-4w method="get" action=(format!("/contrats/{slug}/instruction")) {
                        div.fr-select-group {
                            label.fr-label for="financeur" { "Financeur" }
                            select.fr-select #financeur name="financeur" {
                                @for f in &choices { option value=(f.code) selected[f.code == code] { (f.name) } }
                            }
                        }
                        button.fr-btn.fr-btn--secondary.fr-btn--sm type="submit" { "Afficher" }
                    }
                }
                @if funder.is_none() {
                    p { "Aucun financeur n'est déclaré pour ce contrat." }
                    @if steers { p { a.fr-link href=(format!("/contrats/{slug}/financeurs")) { "Déclarer les financeurs" } } }
                }
                @for status in WORKLIST_STATUSES {
                    @let group: Vec<_> = rows.iter().filter(|r| r.status == status.code()).collect();
                    h2.fr-h4 { (layout::capitalize(status.label())) " (" (group.len()) ")" }
                    @if group.is_empty() { p.fr-text--sm { "Aucun dossier." } } @else {
                        div.fr-table.fr-table--no-caption { table {
                            caption { "Dossiers « " (status.label()) " »" }
                            thead { tr {
                                th scope="col" { "Référence" } th scope="col" { "Action" } th scope="col" { "Structure" }
                                th scope="col" { "Année" } th scope="col" { "Demandé" } th scope="col" { "Proposé" } th scope="col" { "Avis" }
                            } }
                            tbody { @for r in &group { tr {
                                td { a href=(format!("/dossiers/{}", r.id)) { (r.reference) } }
                                td { (r.title) }
                                td { (r.organisation) }
                                td { (r.year) }
                                td { (euros(r.requested)) }
                                td { (amount_or_dash(r.proposed)) }
                                td { @match r.opinion.as_deref().map(Opinion::parse) {
                                    Some(Ok(o)) => { (o.label()) }
                                    _ => { span.q-unknown { "à donner" } }
                                } }
                            } } }
                            tfoot { tr {
                                th scope="row" colspan="4" { "Total" }
                                td { (euros(group.iter().map(|r| r.requested).sum())) }
                                td { (euros(group.iter().filter_map(|r| r.proposed).sum())) }
                                td {}
                            } }
                        } }
                    }
                }
            },
        )
        .into_string(),
    ))
}
