//! Starting an application in a call for one of the user's organisations: a blank draft,
//! or the renewal of the organisation's application in an earlier call of the same
//! contract (its content one year on).

use super::widgets::input;
use super::{page_principal, require_member, Fields};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::{contract_slug, signed_in};
use crate::layout::{self, french_date, Frame};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use quartiers_domain::funding::ApplicationBody;
use quartiers_domain::ValidationErrors;
use quartiers_store::funding::applications::StoredApplication;
use quartiers_store::funding::calls::Call;
use quartiers_store::StoreError;

/// `?structure=` of the page.
#[derive(Debug, Default, serde::Deserialize)]
pub struct StructureQuery {
    #[serde(default)]
    structure: Option<String>,
}

/// Why the call no longer takes applications, if it is closed.
fn closed(call: &Call) -> Option<String> {
    let today = quartiers_store::today();
    (today > call.closes_on).then(|| {
        format!(
            "L'appel à projets « {} » est clos depuis le {} : il n'est plus possible d'y commencer un dossier.",
            call.settings.title,
            french_date(&call.closes_on.to_string())
        )
    })
}

/// The organisation's application in an earlier call of the same contract, to renew.
async fn renewable(
    state: &AppState,
    organisation_id: i64,
    call: &Call,
) -> Result<Option<StoredApplication>> {
    Ok(state
        .store
        .latest_application_of(organisation_id, call.contract_id)
        .await?
        .filter(|a| a.call_id != call.id && a.year < i64::from(call.settings.year)))
}

#[allow(clippy::too_many_arguments)]
async fn render(
    state: &AppState,
    visitor: &Visitor,
    call: &Call,
    organisation_id: i64,
    title: &str,
    errors: &ValidationErrors,
    status: StatusCode,
) -> Result<Response> {
    let org = state.store.organisation(organisation_id).await?;
    let slug = contract_slug(state, call.contract_id).await?;
    let previous = renewable(state, organisation_id, call).await?;
    let overdue = state.store.has_overdue_report(organisation_id).await?;
    let closed = closed(call);
    let frame = Frame::new(state, visitor);
    let action = format!(
        "/appels/{}/dossiers/nouveau?structure={organisation_id}",
        call.id
    );
    let page = layout::page(
        &frame,
        "Nouvelle demande",
        &[
            ("Mes dossiers", "/mes-dossiers".into()),
            ("Nouvelle demande", String::new()),
        ],
        html! {
            div.fr-grid-row { div.fr-col-12.fr-col-md-8 {
                h1 { "Nouvelle demande" }
                p.fr-text--lead { (call.settings.title) " — contrat " a href=(format!("/contrats/{slug}")) { (slug) } }
                p { "Structure : " a href=(format!("/structures/{organisation_id}")) { (org.name) } ". Dépôts jusqu'au " (french_date(&call.closes_on.to_string())) " inclus." }
                @if overdue {
                    (layout::notice("warning", "Un bilan de fin d'action de votre structure est en retard : votre demande sera signalée aux financeurs tant qu'il n'est pas déposé."))
                }
                @if let Some(m) = &closed {
                    (layout::notice("error", m))
                } @else {
                    (layout::error_summary(errors))
                    @if let Some(prev) = &previous {
                        div.fr-callout.fr-mb-4w {
                            h2.fr-callout__title { "Reprendre votre dossier de " (prev.year) }
                            p.fr-callout__text { "Le dossier " strong { (prev.reference) } " « " (prev.body.title) " » est recopié : projet, territoires, public, indicateurs et budget décalés d'un an. Vous n'aurez qu'à mettre à jour ce qui change." }
                            form method="post" action=(action) {
                                input type="hidden" name="csrf" value=(visitor.csrf());
                                input type="hidden" name="renouveler" value=(prev.id);
                                button.fr-btn type="submit" { "Renouveler le dossier " (prev.reference) }
                            }
                        }
                    }
                    h2 { @if previous.is_some() { "Ou commencer un nouveau dossier" } @else { "Commencer le dossier" } }
                    form method="post" action=(action) novalidate {
                        input type="hidden" name="csrf" value=(visitor.csrf());
                        (input("title", "Intitulé de l'action", "Vous pourrez le modifier ; le dossier est enregistré en brouillon.", title, errors, "text", false))
                        button.fr-btn type="submit" { "Commencer le dossier" }
                    }
                }
            } }
        },
    );
    Ok((status, Html(page.into_string())).into_response())
}

fn organisation_of(q: &StructureQuery) -> Result<i64> {
    q.structure
        .as_deref()
        .and_then(|s| s.trim().parse().ok())
        .ok_or_else(|| {
            Error::BadRequest(
                "Choisissez la structure qui dépose la demande depuis la page « Mes dossiers »."
                    .into(),
            )
        })
}

/// GET /appels/{call_id}/dossiers/nouveau?structure={org_id}
#[tracing::instrument(skip(state, visitor))]
pub async fn form(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(call_id): Path<i64>,
    Query(q): Query<StructureQuery>,
) -> Result<Response> {
    let principal = match page_principal(&visitor, &uri) {
        Ok(p) => p,
        Err(r) => return Ok(r.into_response()),
    };
    let organisation_id = organisation_of(&q)?;
    require_member(principal, organisation_id)?;
    let call = state.store.call(call_id).await?;
    render(
        &state,
        &visitor,
        &call,
        organisation_id,
        "",
        &ValidationErrors::new(),
        StatusCode::OK,
    )
    .await
}

/// POST /appels/{call_id}/dossiers/nouveau?structure={org_id} (title, or renouveler={id})
#[tracing::instrument(skip(state, visitor, form))]
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(call_id): Path<i64>,
    Query(q): Query<StructureQuery>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let principal = signed_in(&visitor)?;
    let organisation_id = organisation_of(&q)?;
    require_member(principal, organisation_id)?;
    let form = Fields(form);
    visitor.check_csrf(form.get("csrf"))?;
    let call = state.store.call(call_id).await?;
    if let Some(m) = closed(&call) {
        return Err(Error::Conflict(m));
    }
    let (body, renewed_from) = match form.get("renouveler").trim() {
        "" => (
            ApplicationBody {
                title: form.get("title").trim().to_string(),
                ..Default::default()
            },
            None,
        ),
        id => {
            let previous = renewable(&state, organisation_id, &call).await?;
            match previous.filter(|p| p.id.to_string() == id) {
                Some(p) => (p.body.renewed(), Some(p.id)),
                None => {
                    return Err(Error::Conflict(
                        "Ce dossier ne peut pas être renouvelé dans cet appel à projets : rechargez la page.".into(),
                    ))
                }
            }
        }
    };
    match state
        .store
        .create_application(
            call_id,
            organisation_id,
            &body,
            renewed_from,
            &visitor.author(),
        )
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/dossiers/{id}/modifier")).into_response()),
        Err(StoreError::Invalid(errors)) => {
            render(
                &state,
                &visitor,
                &call,
                organisation_id,
                form.get("title"),
                &errors,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}
