//! The lists of a contract (components, signatories, cross-cutting axes, flagship actions,
//! key figures, QPV, renewal sites, local volets, sections), edited item by item through the
//! generic operations of [`quartiers_domain::edit`]. Indexes are 0-based.

use super::framework::{edge_message, MoveRequest};
use super::json::{check_csrf, translate_serde, with_path, ApiVisitor, Json, Path, Query};
use super::{created, field_error, item_summary, meta, ChangeParams, VersionResponse, PREFIX};
use crate::changes;
use crate::error::{ApiError, ApiResult, Error, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use quartiers_domain::edit::{self, Collection};
use quartiers_domain::ContractDocument;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The API names of the lists (the document's field names).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // Only documents the path parameter.
pub enum CollectionName {
    /// Composantes ([`Component`](quartiers_domain::Component)).
    Components,
    /// Signataires ([`Signatory`](quartiers_domain::Signatory)).
    Signatories,
    /// Axes transversaux ([`CrossCuttingAxis`](quartiers_domain::CrossCuttingAxis)).
    CrossCuttingAxes,
    /// Actions phares ([`FlagshipAction`](quartiers_domain::FlagshipAction)).
    FlagshipActions,
    /// Chiffres clés ([`KeyFigure`](quartiers_domain::KeyFigure)).
    KeyFigures,
    /// Quartiers prioritaires ([`ContractQpv`](quartiers_domain::ContractQpv)).
    Qpvs,
    /// Sites de renouvellement urbain ([`RenewalSite`](quartiers_domain::RenewalSite)).
    RenewalSites,
    /// Volets locaux ([`LocalVolet`](quartiers_domain::LocalVolet)).
    LocalVolets,
    /// Sections ([`Section`](quartiers_domain::Section)).
    Sections,
}

/// An item to add or put in place of another.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRequest {
    /// The contract version the client read.
    pub version: i64,
    /// Effective date of the change (YYYY-MM-DD); today when absent.
    #[serde(default)]
    pub effective_on: Option<String>,
    /// Reason or avenant reference.
    #[serde(default)]
    pub reason: Option<String>,
    /// The item, in the contract format of the list (Component, Signatory, KeyFigure…).
    #[schema(value_type = Object)]
    pub item: Value,
}

/// A created item.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedItem {
    /// Position of the item in the list (0-based).
    pub index: usize,
    /// The new version of the contract.
    pub version: i64,
}

/// The list named by the path, or 404.
fn collection(name: &str) -> ApiResult<Collection> {
    Collection::ALL
        .into_iter()
        .find(|c| c.field() == name)
        .ok_or(ApiError(Error::NotFound))
}

/// The 0-based index of the path, or 404.
fn index(text: &str) -> ApiResult<usize> {
    text.parse().map_err(|_| ApiError(Error::NotFound))
}

fn typed<T: DeserializeOwned>(item: &Value) -> ApiResult<()> {
    serde_path_to_error::deserialize::<_, T>(item.clone())
        .map(|_| ())
        .map_err(|e| {
            let path = Some(e.path().to_string()).filter(|p| !p.is_empty() && p != ".");
            let full = e.inner().to_string();
            let message = full
                .rsplit_once(" at line ")
                .map_or(full.as_str(), |(m, _)| m);
            ApiError(with_path(translate_serde(message, None), path))
        })
}

/// Checks the item's shape against its list's type, for precise French messages.
fn check_shape(c: Collection, item: &Value) -> ApiResult<()> {
    use quartiers_domain as d;
    if !item.is_object() {
        return Err(field_error("item", "L'élément doit être un objet JSON."));
    }
    match c {
        Collection::Components => typed::<d::Component>(item),
        Collection::Signatories => typed::<d::Signatory>(item),
        Collection::Axes => typed::<d::CrossCuttingAxis>(item),
        Collection::FlagshipActions => typed::<d::FlagshipAction>(item),
        Collection::KeyFigures => typed::<d::KeyFigure>(item),
        Collection::Qpvs => typed::<d::ContractQpv>(item),
        Collection::RenewalSites => typed::<d::RenewalSite>(item),
        Collection::LocalVolets => typed::<d::LocalVolet>(item),
        Collection::Sections => typed::<d::Section>(item),
    }
}

/// The item at `i`, or 404.
fn item_at(doc: &ContractDocument, c: Collection, i: usize) -> ApiResult<Value> {
    edit::items(doc, c)
        .into_iter()
        .nth(i)
        .ok_or(ApiError(Error::NotFound))
}

/// The items of one list of a contract.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/{collection}",
    operation_id = "listItems",
    tag = "collections",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("collection" = CollectionName, Path, description = "Name of the list"),
    ),
    responses(
        (status = 200, description = "The items, in order (see the Component, Signatory, CrossCuttingAxis, FlagshipAction, KeyFigure, ContractQpv, RenewalSite, LocalVolet and Section schemas)", body = [Object]),
        (status = 404, description = "No such contract or list", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn list(
    State(state): State<AppState>,
    Path((slug, name)): Path<(String, String)>,
) -> ApiResult<Json<Vec<Value>>> {
    let c = collection(&name)?;
    let stored = state.store.contract(&slug).await?;
    Ok(Json(edit::items(&stored.document, c)))
}

/// One item of a list.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/{collection}/{index}",
    operation_id = "getItem",
    tag = "collections",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("collection" = CollectionName, Path, description = "Name of the list"),
        ("index" = usize, Path, description = "Position in the list (from 0)"),
    ),
    responses(
        (status = 200, description = "The item", body = Object),
        (status = 404, description = "No such contract, list or item", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn show(
    State(state): State<AppState>,
    Path((slug, name, position)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    let c = collection(&name)?;
    let i = index(&position)?;
    let stored = state.store.contract(&slug).await?;
    Ok(Json(item_at(&stored.document, c, i)?))
}

/// Appends an item to a list (pilot).
#[utoipa::path(
    post,
    path = "/api/v1/contracts/{slug}/{collection}",
    operation_id = "addItem",
    tag = "collections",
    request_body = ItemRequest,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("collection" = CollectionName, Path, description = "Name of the list"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Added", body = CreatedItem),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract or list", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid data (field errors)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn insert(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((slug, name)): Path<(String, String)>,
    Json(body): Json<ItemRequest>,
) -> ApiResult<Response> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let c = collection(&name)?;
    check_shape(c, &body.item)?;
    let index = edit::items(&stored.document, c).len();
    let summary = item_summary(c, &c.item_label(&body.item), "ajouté");
    let m = meta(body.version, &body.effective_on, &body.reason);
    let item = body.item;
    let version = changes::apply(&state, &visitor, &stored, &m, summary, |doc| {
        edit::insert_item(doc, c, item)
    })
    .await?;
    Ok(created(
        format!("{PREFIX}/contracts/{slug}/{}/{index}", c.field()),
        CreatedItem { index, version },
    ))
}

/// Replaces the item at `index` (pilot).
#[utoipa::path(
    put,
    path = "/api/v1/contracts/{slug}/{collection}/{index}",
    operation_id = "replaceItem",
    tag = "collections",
    request_body = ItemRequest,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("collection" = CollectionName, Path, description = "Name of the list"),
        ("index" = usize, Path, description = "Position in the list (from 0)"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Replaced", body = VersionResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract, list or item", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid data (field errors)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn replace(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((slug, name, position)): Path<(String, String, String)>,
    Json(body): Json<ItemRequest>,
) -> ApiResult<Json<VersionResponse>> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let c = collection(&name)?;
    let i = index(&position)?;
    item_at(&stored.document, c, i)?;
    check_shape(c, &body.item)?;
    let summary = item_summary(c, &c.item_label(&body.item), "modifié");
    let m = meta(body.version, &body.effective_on, &body.reason);
    let item = body.item;
    let version = changes::apply(&state, &visitor, &stored, &m, summary, |doc| {
        edit::replace_item(doc, c, i, item)
    })
    .await?;
    Ok(Json(VersionResponse { version }))
}

/// Removes the item at `index` (pilot).
#[utoipa::path(
    delete,
    path = "/api/v1/contracts/{slug}/{collection}/{index}",
    operation_id = "removeItem",
    tag = "collections",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("collection" = CollectionName, Path, description = "Name of the list"),
        ("index" = usize, Path, description = "Position in the list (from 0)"),
        ChangeParams,
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Removed", body = VersionResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract, list or item", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing version, or invalid data", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers))]
pub async fn remove(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((slug, name, position)): Path<(String, String, String)>,
    Query(params): Query<ChangeParams>,
) -> ApiResult<Json<VersionResponse>> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let c = collection(&name)?;
    let i = index(&position)?;
    let m = params.meta()?;
    let old = item_at(&stored.document, c, i)?;
    let summary = item_summary(c, &c.item_label(&old), "supprimé");
    let version = changes::apply(&state, &visitor, &stored, &m, summary, |doc| {
        edit::remove_item(doc, c, i)
    })
    .await?;
    Ok(Json(VersionResponse { version }))
}

/// Moves the item at `index` one place up or down (pilot).
#[utoipa::path(
    post,
    path = "/api/v1/contracts/{slug}/{collection}/{index}/move",
    operation_id = "moveItem",
    tag = "collections",
    request_body = MoveRequest,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("collection" = CollectionName, Path, description = "Name of the list"),
        ("index" = usize, Path, description = "Position in the list (from 0)"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Moved", body = VersionResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract, list or item", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Already first (up) or last (down)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn move_item(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((slug, name, position)): Path<(String, String, String)>,
    Json(body): Json<MoveRequest>,
) -> ApiResult<Json<VersionResponse>> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let c = collection(&name)?;
    let i = index(&position)?;
    let old = item_at(&stored.document, c, i)?;
    let up = body.direction.is_up();
    if edit::move_item(&stored.document, c, i, up)? == stored.document {
        return Err(field_error("direction", edge_message(up)));
    }
    let summary = format!(
        "{} {}",
        item_summary(c, &c.item_label(&old), "déplacé"),
        body.direction.label()
    );
    let m = meta(body.version, &body.effective_on, &body.reason);
    let version = changes::apply(&state, &visitor, &stored, &m, summary, |doc| {
        edit::move_item(doc, c, i, up)
    })
    .await?;
    Ok(Json(VersionResponse { version }))
}
