//! The decided programme of a call: the actions granted, by whom and how much. Public once
//! the pilot publishes it (before that, 404 for everyone but the contract's pilots, who see
//! a preview and the publication button).

use super::{fields, value};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::export::Labels;
use crate::funding::{euros, steered_call};
use crate::layout::{self, french_date, Frame};
use crate::AppState;
use axum::extract::{Path, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use quartiers_store::funding::dashboards::DashboardFilter;

/// One action of the programme.
struct Action {
    title: String,
    organisation: String,
    component: String,
    /// Granted per financer code (cents).
    grants: Vec<(String, i64)>,
}

/// GET /contrats/{slug}/programme/{year} — the published programme (pilots see it before publication).
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, year)): Path<(String, String)>,
) -> Result<Html<String>> {
    let contract = state.store.contract(&slug).await?;
    let pilot = visitor.principal().is_some_and(|p| p.steers(contract.id));
    let year: i64 = year.trim().parse().map_err(|_| Error::NotFound)?;
    let call = state
        .store
        .calls(contract.id)
        .await?
        .into_iter()
        .find(|c| i64::from(c.settings.year) == year)
        .ok_or(Error::NotFound)?;
    if call.published_at.is_none() && !pilot {
        return Err(Error::NotFound);
    }
    let funders = state.store.funders(contract.id).await?;
    let labels = Labels::new(&contract.document, &funders);
    let rows = state
        .store
        .line_rows(
            contract.id,
            &DashboardFilter {
                year: Some(year),
                funder: None,
            },
            true,
        )
        .await?;
    let mut actions: Vec<(String, Action)> = Vec::new();
    for r in rows {
        match actions
            .iter_mut()
            .find(|(reference, _)| *reference == r.reference)
        {
            Some((_, a)) => a.grants.push((r.funder.clone(), r.decided)),
            None => actions.push((
                r.reference.clone(),
                Action {
                    title: r.title.clone(),
                    organisation: r.organisation.clone(),
                    component: r.component.clone(),
                    grants: vec![(r.funder.clone(), r.decided)],
                },
            )),
        }
    }
    let columns: Vec<&str> = funders
        .iter()
        .map(|f| f.code.as_str())
        .filter(|c| {
            actions
                .iter()
                .any(|(_, a)| a.grants.iter().any(|(g, _)| g == c))
        })
        .collect();
    let mut extra: Vec<String> = actions
        .iter()
        .flat_map(|(_, a)| a.grants.iter().map(|(g, _)| g.clone()))
        .filter(|g| !columns.contains(&g.as_str()))
        .collect();
    extra.sort();
    extra.dedup();
    let columns: Vec<String> = columns
        .into_iter()
        .map(str::to_string)
        .chain(extra)
        .collect();
    let granted = |a: &Action, code: &str| {
        a.grants
            .iter()
            .filter(|(g, _)| g == code)
            .map(|(_, v)| v)
            .sum::<i64>()
    };
    let column_total = |code: &str| actions.iter().map(|(_, a)| granted(a, code)).sum::<i64>();
    let total: i64 = actions
        .iter()
        .flat_map(|(_, a)| a.grants.iter().map(|(_, v)| v))
        .sum();
    let name = &contract.document.contract.name;
    let title = format!("Programme {year}");
    let body = html! {
        h1 { (title) }
        p.fr-text--lead { (name) " — " (call.settings.title) }
        @match &call.published_at {
            Some(at) => { p { "Programme publié le " (french_date(at.get(..10).unwrap_or(at))) "." } }
            None => { (layout::notice("warning", "Aperçu : ce programme n'est pas publié, seuls les pilotes du contrat le voient.")) }
        }
        @if pilot {
            form.fr-mb-3w method="post" action=(format!("/appels/{}/publication", call.id)) {
                input type="hidden" name="csrf" value=(visitor.csrf());
                @if call.published_at.is_some() {
                    input type="hidden" name="publier" value="0";
                    button.fr-btn.fr-btn--secondary type="submit" { "Retirer la publication" }
                } @else {
                    input type="hidden" name="publier" value="1";
                    button.fr-btn type="submit" { "Publier le programme" }
                }
            }
        }
        p { strong { (actions.len()) } " action(s) financée(s) pour un total de " strong { (euros(total)) } "." }
        @if !actions.is_empty() {
            div.fr-table { table {
                caption { "Actions financées" }
                thead { tr {
                    th scope="col" { "Action" } th scope="col" { "Structure" } th scope="col" { "Composante" }
                    @for c in &columns { th scope="col" { (labels.funder(c)) } }
                    th scope="col" { "Total" }
                } }
                tbody {
                    @for (_, a) in &actions { tr {
                        td { (a.title) } td { (a.organisation) } td { (a.component) }
                        @for c in &columns { td { @let v = granted(a, c); @if v > 0 { (euros(v)) } @else { "—" } } }
                        td { strong { (euros(a.grants.iter().map(|(_, v)| v).sum::<i64>())) } }
                    } }
                    tr {
                        th scope="row" colspan="3" { "Total" }
                        @for c in &columns { td { strong { (euros(column_total(c))) } } }
                        td { strong { (euros(total)) } }
                    }
                }
            } }
        }
        @if call.published_at.is_some() {
            p { a href=(format!("/contrats/{slug}/subventions.csv?annee={year}")) { "Les subventions accordées en données ouvertes (CSV, schéma SCDL « subventions »)" } }
        }
    };
    let frame = Frame::new(&state, &visitor);
    Ok(Html(
        layout::page(
            &frame,
            &title,
            &[
                (name.as_str(), format!("/contrats/{slug}")),
                (title.as_str(), String::new()),
            ],
            body,
        )
        .into_string(),
    ))
}

/// POST /appels/{call_id}/publication — publishes (`publier=1`) or withdraws (`publier=0`) the programme.
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn publish(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(call_id): Path<i64>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let (call, slug) = steered_call(&state, &visitor, call_id).await?;
    let f = fields(pairs);
    visitor.check_csrf(value(&f, "csrf"))?;
    let publish = match value(&f, "publier") {
        "1" | "oui" => true,
        "0" | "non" => false,
        other => return Err(Error::BadRequest(format!("« {other} » : indiquez publier=1 pour publier le programme, publier=0 pour retirer sa publication."))),
    };
    state.store.publish_call(call_id, publish).await?;
    Ok(Redirect::to(&format!(
        "/contrats/{slug}/programme/{}",
        call.settings.year
    ))
    .into_response())
}
