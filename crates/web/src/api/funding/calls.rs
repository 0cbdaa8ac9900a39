//! Financers of a contract and its calls for projects with their envelopes.
//!
//! Pilots (and administrators) write; anyone signed in reads the financers and the calls
//! (applicants need them to apply); the envelopes' use is for pilots, the contract's
//! financers and its readers.

use super::super::json::{check_csrf, ApiVisitor, Json, Path};
use super::super::{created, PREFIX};
use super::{contract_for, forbidden, prefix_errors, signed_in, JsonBody, CSRF_DOC};
use crate::error::{ApiError, ApiResult, Error, Problem};
use crate::funding::{steered_call, steered_contract};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use quartiers_domain::funding::call::closed_reason;
use quartiers_domain::funding::{CallSettings, Envelope};
use quartiers_domain::Role;
use quartiers_store::funding::calls::{Call, Funder};
use quartiers_store::funding::committee::EnvelopeUse;
use quartiers_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A financer's name and contacts (its code is in the URL).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FunderInput {
    /// Name (« État — programme 147 », « Métropole européenne de Lille »).
    pub name: String,
    /// Where its notifications go.
    #[serde(default)]
    pub email: Option<String>,
    /// SIRET of the institution (the granting body in open data).
    #[serde(default)]
    pub siret: Option<String>,
}

/// A new call for projects.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCall {
    /// Settings: year, title, dates, framing note, calendar, documents required.
    pub settings: CallSettings,
    /// The financers taking part, with their envelope per component.
    #[serde(default)]
    pub envelopes: Vec<Envelope>,
}

/// New settings and envelopes of a call.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallUpdate {
    /// The call version read (optimistic concurrency).
    pub version: i64,
    /// Settings.
    pub settings: CallSettings,
    /// Every envelope of the call: they replace the previous ones (an envelope not listed
    /// is removed).
    pub envelopes: Vec<Envelope>,
}

/// A created or updated call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallSaved {
    /// Id.
    pub id: i64,
    /// Version, to send with the next change.
    pub version: i64,
}

/// A call with its envelopes.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallView {
    /// The call.
    pub call: Call,
    /// Slug of its contract.
    pub contract: String,
    /// Envelopes.
    pub envelopes: Vec<Envelope>,
    /// The contract's financers.
    pub funders: Vec<Funder>,
    /// Why submissions are refused today (not open yet, or closed), absent while open.
    pub closed_reason: Option<String>,
}

/// Publishing (or withdrawing) the decided programme.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// `true` to publish, `false` to withdraw.
    pub published: bool,
}

/// Renames the store's errors on a call to their path in the request (`title` →
/// `settings.title`; `envelopes[0].funder` stays).
fn call_errors(e: StoreError) -> ApiError {
    match e {
        StoreError::Invalid(v) => ApiError(Error::Validation(prefix_errors(v, "settings", |f| {
            f.starts_with("envelopes")
        }))),
        e => e.into(),
    }
}

/// The financers of a contract.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/funders",
    operation_id = "listFunders",
    tag = "funding",
    params(("slug" = String, Path, description = "Contract slug")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The financers", body = [Funder]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn funders(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<Funder>>> {
    let (_, contract) = contract_for(&state, &visitor, &slug).await?;
    Ok(Json(state.store.funders(contract.id).await?))
}

/// One financer of a contract.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/funders/{code}",
    operation_id = "getFunder",
    tag = "funding",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("code" = String, Path, description = "Financer code (`etat`, `mel`...)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The financer", body = Funder),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract or financer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn funder(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path((slug, code)): Path<(String, String)>,
) -> ApiResult<Json<Funder>> {
    let (_, contract) = contract_for(&state, &visitor, &slug).await?;
    state
        .store
        .funders(contract.id)
        .await?
        .into_iter()
        .find(|f| f.code == code)
        .map(Json)
        .ok_or_else(|| Error::NotFound.into())
}

/// Adds or updates a financer of the contract (pilots).
#[utoipa::path(
    put,
    path = "/api/v1/contracts/{slug}/funders/{code}",
    operation_id = "putFunder",
    tag = "funding",
    request_body = FunderInput,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("code" = String, Path, description = "Financer code: lowercase letters, digits and dashes"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Saved", body = Funder),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the contract, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid code, name or SIRET", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn put_funder(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((slug, code)): Path<(String, String)>,
    body: JsonBody,
) -> ApiResult<Json<Funder>> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let input: FunderInput = body.parse()?;
    let clean = |s: Option<String>| s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let f = Funder {
        code,
        name: input.name.trim().to_string(),
        email: clean(input.email),
        siret: clean(input.siret),
    };
    state.store.upsert_funder(contract.id, &f).await?;
    Ok(Json(f))
}

/// The calls of a contract, newest year first.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/calls",
    operation_id = "listCalls",
    tag = "funding",
    params(("slug" = String, Path, description = "Contract slug")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The calls", body = [Call]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn list(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<Call>>> {
    let (_, contract) = contract_for(&state, &visitor, &slug).await?;
    Ok(Json(state.store.calls(contract.id).await?))
}

/// Creates the call for projects of a year, with its envelopes (pilots).
#[utoipa::path(
    post,
    path = "/api/v1/contracts/{slug}/calls",
    operation_id = "createCall",
    tag = "funding",
    request_body = NewCall,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = CallSaved, headers(("Location" = String, description = "The call's URL"))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the contract, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings (dates, year out of the contract, a call already exists for the year) or envelopes (unknown financer, negative amount)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn create(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(slug): Path<String>,
    body: JsonBody,
) -> ApiResult<Response> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let input: NewCall = body.parse()?;
    let period = &contract.document.contract.period;
    let id = state
        .store
        .save_call(
            contract.id,
            None,
            &input.settings,
            &input.envelopes,
            (period.start_year, period.end_year),
        )
        .await
        .map_err(call_errors)?;
    tracing::info!(call = id, contract = %slug, "call created");
    Ok(created(
        format!("{PREFIX}/calls/{id}"),
        CallSaved { id, version: 1 },
    ))
}

/// A call with its envelopes and financers.
#[utoipa::path(
    get,
    path = "/api/v1/calls/{id}",
    operation_id = "getCall",
    tag = "funding",
    params(("id" = i64, Path, description = "Call id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The call", body = CallView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<CallView>> {
    signed_in(&visitor)?;
    let call = state.store.call(id).await?;
    let contract = crate::funding::contract_slug(&state, call.contract_id).await?;
    Ok(Json(CallView {
        envelopes: state.store.envelopes(id).await?,
        funders: state.store.funders(call.contract_id).await?,
        closed_reason: closed_reason(call.opens_on, call.closes_on, quartiers_store::today()),
        contract,
        call,
    }))
}

/// Replaces a call's settings and envelopes (pilots), at the version read.
#[utoipa::path(
    put,
    path = "/api/v1/calls/{id}",
    operation_id = "updateCall",
    tag = "funding",
    request_body = CallUpdate,
    params(
        ("id" = i64, Path, description = "Call id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Saved", body = CallSaved),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the call's contract, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The call changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid settings or envelopes", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn update(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Json<CallSaved>> {
    let (call, slug) = steered_call(&state, &visitor, id).await?;
    check_csrf(&visitor, &headers)?;
    let input: CallUpdate = body.parse()?;
    let contract = state.store.contract(&slug).await?;
    let period = &contract.document.contract.period;
    state
        .store
        .save_call(
            call.contract_id,
            Some((id, input.version)),
            &input.settings,
            &input.envelopes,
            (period.start_year, period.end_year),
        )
        .await
        .map_err(call_errors)?;
    let version = state.store.call(id).await?.version;
    Ok(Json(CallSaved { id, version }))
}

/// How much of each envelope the committee has granted.
#[utoipa::path(
    get,
    path = "/api/v1/calls/{id}/envelopes",
    operation_id = "getEnvelopeUse",
    tag = "funding",
    params(("id" = i64, Path, description = "Call id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Each envelope with what is granted and what remains (negative when overrun)", body = [EnvelopeUse]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a pilot, a financer nor a reader of the contract", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn envelopes(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<EnvelopeUse>>> {
    let p = signed_in(&visitor)?;
    let call = state.store.call(id).await?;
    let c = call.contract_id;
    if !(p.steers(c) || !p.funder_codes(c).is_empty() || p.role_on(c) == Some(Role::Lecteur)) {
        return Err(forbidden());
    }
    Ok(Json(state.store.envelope_use(id).await?))
}

/// Publishes (or withdraws) the decided programme of a call for the public (pilots).
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/publication",
    operation_id = "publishCall",
    tag = "funding",
    request_body = Publication,
    params(
        ("id" = i64, Path, description = "Call id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The call, with its publication date (absent when withdrawn)", body = Call),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the call's contract, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn publish(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Json<Call>> {
    steered_call(&state, &visitor, id).await?;
    check_csrf(&visitor, &headers)?;
    let input: Publication = body.parse()?;
    state.store.publish_call(id, input.published).await?;
    Ok(Json(state.store.call(id).await?))
}
