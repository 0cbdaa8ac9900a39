//! Contracts: list, import, read, whole-document replacement, export and deletion.

use super::json::{check_csrf, ApiVisitor, Json, Path};
use super::{created, meta, VersionResponse, PREFIX};
use crate::changes;
use crate::error::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use quartiers_domain::permissions::Action;
use quartiers_domain::ContractDocument;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A contract in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractListItem {
    /// Identifier used in URLs.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Pilot intercommunality.
    pub pilot_name: String,
    /// First year.
    pub start_year: i64,
    /// Last year (included).
    pub end_year: i64,
}

/// A created contract.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedContract {
    /// Identifier used in URLs.
    pub slug: String,
    /// Internal id.
    pub id: i64,
}

/// A contract with its current document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContractView {
    /// Internal id.
    pub id: i64,
    /// Version, to send back with every change (optimistic concurrency).
    pub version: i64,
    /// Last change (UTC).
    pub updated_at: String,
    /// The whole document, in the file format.
    pub document: ContractDocument,
}

/// Replacement of a contract's whole document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplaceContract {
    /// The contract version the client read.
    pub version: i64,
    /// Effective date of the change (YYYY-MM-DD); today when absent.
    #[serde(default)]
    pub effective_on: Option<String>,
    /// Reason or avenant reference.
    #[serde(default)]
    pub reason: Option<String>,
    /// The new document (its slug cannot change).
    pub document: ContractDocument,
}

/// Lists the contracts of the platform, by name.
#[utoipa::path(
    get,
    path = "/api/v1/contracts",
    operation_id = "listContracts",
    tag = "contracts",
    responses((status = 200, description = "The contracts", body = [ContractListItem]))
)]
#[tracing::instrument(skip(state))]
pub async fn list(State(state): State<AppState>) -> ApiResult<Json<Vec<ContractListItem>>> {
    let contracts = state.store.list_contracts().await?;
    Ok(Json(
        contracts
            .into_iter()
            .map(|c| ContractListItem {
                slug: c.slug,
                name: c.name,
                pilot_name: c.pilot_name,
                start_year: c.start_year,
                end_year: c.end_year,
            })
            .collect(),
    ))
}

/// Imports a contract document (platform administrators).
///
/// The document is the file format (`quartiers-contrat`, version 1). Its creation is recorded
/// as the first amendment, effective on the signature date (today when unknown).
#[utoipa::path(
    post,
    path = "/api/v1/contracts",
    operation_id = "importContract",
    tag = "contracts",
    request_body = ContractDocument,
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = CreatedContract),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a platform administrator, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A contract already has this slug", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid document (field errors)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, doc))]
pub async fn create(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Json(doc): Json<ContractDocument>,
) -> ApiResult<Response> {
    visitor.require(Action::CreateContract)?;
    check_csrf(&visitor, &headers)?;
    let id = changes::import(&state, &visitor, &doc).await?;
    let slug = doc.contract.slug;
    Ok(created(
        format!("{PREFIX}/contracts/{slug}"),
        CreatedContract { slug, id },
    ))
}

/// A contract with its version and current document.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}",
    operation_id = "getContract",
    tag = "contracts",
    params(("slug" = String, Path, description = "Contract slug")),
    responses(
        (status = 200, description = "The contract", body = ContractView),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn show(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> ApiResult<Json<ContractView>> {
    let c = state.store.contract(&slug).await?;
    Ok(Json(ContractView {
        id: c.id,
        version: c.version,
        updated_at: c.updated_at,
        document: c.document,
    }))
}

/// Replaces a contract's whole document (pilot), recording an amendment.
#[utoipa::path(
    put,
    path = "/api/v1/contracts/{slug}",
    operation_id = "replaceContract",
    tag = "contracts",
    request_body = ReplaceContract,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Replaced", body = VersionResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid document (field errors)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn replace(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Json(body): Json<ReplaceContract>,
) -> ApiResult<Json<VersionResponse>> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let summary = format!(
        "Contrat « {} » remplacé par un document complet",
        body.document.contract.name.trim()
    );
    let m = meta(body.version, &body.effective_on, &body.reason);
    let document = body.document;
    let version = changes::apply(&state, &visitor, &stored, &m, summary, move |_| {
        document.validate()?;
        Ok(document)
    })
    .await?;
    Ok(Json(VersionResponse { version }))
}

/// Deletes a contract with its whole history (platform administrators).
#[utoipa::path(
    delete,
    path = "/api/v1/contracts/{slug}",
    operation_id = "deleteContract",
    tag = "contracts",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a platform administrator, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers))]
pub async fn delete(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(slug): Path<String>,
) -> ApiResult<StatusCode> {
    if visitor.principal().is_none() {
        return Err(crate::error::Error::Unauthorized.into());
    }
    let stored = state.store.contract(&slug).await?;
    visitor.require(Action::DeleteContract(stored.id))?;
    check_csrf(&visitor, &headers)?;
    state.store.delete_contract(stored.id).await?;
    tracing::info!(contract = %slug, "contract deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The contract's document as a file (`SLUG.json`), in the import format.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/export",
    operation_id = "exportContract",
    tag = "contracts",
    params(("slug" = String, Path, description = "Contract slug")),
    responses(
        (status = 200, description = "The contract document, as an attachment", body = ContractDocument,
         headers(("Content-Disposition" = String, description = "attachment; filename=\"SLUG.json\""))),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn export(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let c = state.store.contract(&slug).await?;
    let disposition = format!("attachment; filename=\"{}.json\"", c.document.contract.slug);
    let disposition =
        HeaderValue::from_str(&disposition).map_err(|e| crate::error::Error::Internal(e.into()))?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        c.document.to_json(),
    )
        .into_response())
}
