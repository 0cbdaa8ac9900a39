//! Programming committees (pilots): a session with its date and members, its agenda (the
//! applications whose every financer has given its opinion) and the decisions, entered in
//! bulk, all or nothing, checked against each financer's envelope.

use super::super::json::{check_csrf, ApiVisitor, Json, Path};
use super::super::{created, PREFIX};
use super::{forbidden, signed_in, text, JsonBody, CSRF_DOC};
use crate::error::{ApiResult, Problem};
use crate::funding::steered_call;
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use quartiers_domain::funding::{Decision, Status};
use quartiers_domain::ValidationErrors;
use quartiers_store::funding::applications::{ApplicationRow, FundingLine};
use quartiers_store::funding::committee::{Committee, EnvelopeUse, LineDecision};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A new committee session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommittee {
    /// Date (AAAA-MM-JJ).
    pub held_on: String,
    /// Title (« Comité de programmation du 12 mars »).
    pub title: String,
    /// Members, one per line.
    #[serde(default)]
    pub members: String,
}

/// An application on the agenda, with its financer lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgendaItem {
    /// The application.
    pub application: ApplicationRow,
    /// Its component (the envelope it draws on).
    pub component: String,
    /// Its financer lines, with opinions and proposed amounts.
    pub lines: Vec<FundingLine>,
}

/// A committee with its agenda and the envelopes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommitteeView {
    /// The session.
    pub committee: Committee,
    /// The applications ready for decision.
    pub agenda: Vec<AgendaItem>,
    /// Where each envelope stands.
    pub envelopes: Vec<EnvelopeUse>,
}

/// The decision on one financer line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionInput {
    /// Application.
    pub application_id: i64,
    /// Financer code.
    pub funder: String,
    /// `accorde`, `refuse` or `ajourne`.
    pub decision: Decision,
    /// Amount granted (cents), for `accorde`.
    #[serde(default)]
    pub amount_cents: i64,
}

/// Decisions entered in bulk.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionsRequest {
    /// One decision per financer line.
    pub decisions: Vec<DecisionInput>,
    /// Reason for granting over a financer's envelope; without it, such a grant is refused.
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// An application whose status changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Moved {
    /// Application.
    pub application_id: i64,
    /// Its status now (`decide` once every line is decided).
    pub status: Status,
}

/// What the decisions did.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionsOutcome {
    /// Number of lines decided.
    pub decided: usize,
    /// The applications whose every line is now decided.
    pub moved: Vec<Moved>,
    /// Where each envelope stands now.
    pub envelopes: Vec<EnvelopeUse>,
}

/// A committee of a call the visitor steers (401, 404, 403).
async fn steered_committee(
    state: &AppState,
    visitor: &crate::auth::Visitor,
    id: i64,
) -> ApiResult<Committee> {
    let p = signed_in(visitor)?;
    let committee = state.store.committee(id).await?;
    let call = state.store.call(committee.call_id).await?;
    if !p.steers(call.contract_id) {
        return Err(forbidden());
    }
    Ok(committee)
}

/// The committee sessions of a call (pilots).
#[utoipa::path(
    get,
    path = "/api/v1/calls/{id}/committees",
    operation_id = "listCommittees",
    tag = "funding",
    params(("id" = i64, Path, description = "Call id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The sessions, by date", body = [Committee]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the call's contract", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn list(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Committee>>> {
    steered_call(&state, &visitor, id).await?;
    Ok(Json(state.store.committees(id).await?))
}

/// Creates a committee session for a call (pilots).
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/committees",
    operation_id = "createCommittee",
    tag = "funding",
    request_body = NewCommittee,
    params(
        ("id" = i64, Path, description = "Call id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = Committee, headers(("Location" = String, description = "The committee's URL"))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the call's contract, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid date or missing title", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn create(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Response> {
    steered_call(&state, &visitor, id).await?;
    check_csrf(&visitor, &headers)?;
    let input: NewCommittee = body.parse()?;
    let committee_id = state
        .store
        .create_committee(id, &input.held_on, &input.title, &input.members)
        .await?;
    Ok(created(
        format!("{PREFIX}/committees/{committee_id}"),
        state.store.committee(committee_id).await?,
    ))
}

/// A committee with its agenda (the call's applications whose every opinion is given) and
/// the envelopes (pilots).
#[utoipa::path(
    get,
    path = "/api/v1/committees/{id}",
    operation_id = "getCommittee",
    tag = "funding",
    params(("id" = i64, Path, description = "Committee id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The committee", body = CommitteeView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the contract", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such committee", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<CommitteeView>> {
    let committee = steered_committee(&state, &visitor, id).await?;
    let mut rows: std::collections::HashMap<i64, _> = state
        .store
        .applications_of_call(committee.call_id)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let agenda = state
        .store
        .committee_agenda(committee.call_id)
        .await?
        .into_iter()
        .filter_map(|item| {
            rows.remove(&item.id).map(|row| AgendaItem {
                lines: item.lines,
                component: item.component,
                application: row,
            })
        })
        .collect();
    Ok(Json(CommitteeView {
        envelopes: state.store.envelope_use(committee.call_id).await?,
        agenda,
        committee,
    }))
}

/// Records the committee's decisions, all or none (pilots). A grant over its financer's
/// envelope is refused — each such line named — unless `override_reason` is given.
#[utoipa::path(
    post,
    path = "/api/v1/committees/{id}/decisions",
    operation_id = "decide",
    tag = "funding",
    request_body = DecisionsRequest,
    params(
        ("id" = i64, Path, description = "Committee id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Recorded", body = DecisionsOutcome),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the contract, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such committee", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Nothing recorded: each failing decision by its path (`decisions[2]`): over the envelope, application not ready, financer not solicited, amount missing or negative", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn decide(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Json<DecisionsOutcome>> {
    let committee = steered_committee(&state, &visitor, id).await?;
    check_csrf(&visitor, &headers)?;
    let input: DecisionsRequest = body.parse()?;
    let mut e = ValidationErrors::new();
    if input.decisions.is_empty() {
        e.add("decisions", "Indiquez au moins une décision.");
    }
    let mut seen: Vec<(i64, &str)> = Vec::new();
    for (i, d) in input.decisions.iter().enumerate() {
        if d.amount_cents < 0 {
            e.add(
                format!("decisions[{i}].amount_cents"),
                "Le montant accordé ne peut pas être négatif.",
            );
        }
        if seen.contains(&(d.application_id, d.funder.as_str())) {
            e.add(
                format!("decisions[{i}]"),
                format!(
                    "La ligne « {} » du dossier n° {} est décidée deux fois.",
                    d.funder, d.application_id
                ),
            );
        }
        seen.push((d.application_id, d.funder.as_str()));
        match state.store.application(d.application_id).await {
            Ok(a) if a.call_id == committee.call_id => {}
            Ok(a) => e.add(
                format!("decisions[{i}].application_id"),
                format!(
                    "Le dossier {} n'appartient pas à l'appel à projets de cette séance.",
                    a.reference
                ),
            ),
            Err(quartiers_store::StoreError::NotFound) => e.add(
                format!("decisions[{i}].application_id"),
                format!("Le dossier n° {} n'existe pas.", d.application_id),
            ),
            Err(err) => return Err(err.into()),
        }
    }
    e.into_result()?;
    let decisions: Vec<LineDecision> = input
        .decisions
        .iter()
        .map(|d| LineDecision {
            application_id: d.application_id,
            funder: d.funder.trim().to_string(),
            decision: d.decision,
            amount_cents: d.amount_cents,
        })
        .collect();
    let moved = state
        .store
        .decide(
            id,
            &decisions,
            text(&input.override_reason),
            &visitor.author(),
        )
        .await?;
    tracing::info!(
        committee = id,
        lines = decisions.len(),
        "decisions recorded"
    );
    Ok(Json(DecisionsOutcome {
        decided: decisions.len(),
        moved: moved
            .into_iter()
            .map(|(application_id, status)| Moved {
                application_id,
                status,
            })
            .collect(),
        envelopes: state.store.envelope_use(committee.call_id).await?,
    }))
}
