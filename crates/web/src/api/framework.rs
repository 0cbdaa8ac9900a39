//! The strategic framework: the tree of a contract's enjeux, ambitions, actions…, edited node
//! by node through the same domain operations as the pages' forms.

use super::json::{check_csrf, ApiVisitor, Json, Path, Query};
use super::{
    created, field_error, meta, node_summary, ChangeParams, Direction, VersionResponse, PREFIX,
};
use crate::changes;
use crate::error::{ApiResult, Error, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use quartiers_domain::edit::{self, Form};
use quartiers_domain::{ContractDocument, FrameworkNode};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// One node with its place in the tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    /// Contract version, to send back with a change.
    pub version: i64,
    /// The node, with its children.
    pub node: FrameworkNode,
    /// Depth in the tree (0 = top level).
    pub depth: usize,
    /// How the contract names this level (singular: enjeu, ambition…).
    pub level: String,
    /// Key of the parent node, absent at the top level.
    pub parent: Option<String>,
}

/// A new node.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNode {
    /// The contract version the client read.
    pub version: i64,
    /// Effective date of the change (YYYY-MM-DD); today when absent.
    #[serde(default)]
    pub effective_on: Option<String>,
    /// Reason or avenant reference.
    #[serde(default)]
    pub reason: Option<String>,
    /// Key of the parent node; absent for a top-level node.
    #[serde(default)]
    pub parent: Option<String>,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Geographic scope and horizon.
    #[serde(default)]
    pub scope: Option<String>,
    /// Partner institutions.
    #[serde(default)]
    pub partners: Vec<String>,
}

/// New content of a node (its children and key are kept).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeUpdate {
    /// The contract version the client read.
    pub version: i64,
    /// Effective date of the change (YYYY-MM-DD); today when absent.
    #[serde(default)]
    pub effective_on: Option<String>,
    /// Reason or avenant reference.
    #[serde(default)]
    pub reason: Option<String>,
    /// Title.
    pub title: String,
    /// Description (removed when absent).
    #[serde(default)]
    pub description: Option<String>,
    /// Geographic scope and horizon (removed when absent).
    #[serde(default)]
    pub scope: Option<String>,
    /// Partner institutions.
    #[serde(default)]
    pub partners: Vec<String>,
}

/// Moving an element among its siblings.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    /// The contract version the client read.
    pub version: i64,
    /// Effective date of the change (YYYY-MM-DD); today when absent.
    #[serde(default)]
    pub effective_on: Option<String>,
    /// Reason or avenant reference.
    #[serde(default)]
    pub reason: Option<String>,
    /// `up` or `down`.
    pub direction: Direction,
}

/// A created node.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedNode {
    /// Key given to the node.
    pub key: String,
    /// The new version of the contract.
    pub version: i64,
}

/// Builds the node form the pages would submit, so that the same rules apply.
fn node_form(
    title: &str,
    description: &Option<String>,
    scope: &Option<String>,
    partners: &[String],
) -> ApiResult<Form> {
    if let Some(i) = partners.iter().position(|p| p.contains(['\n', '\r'])) {
        return Err(field_error(
            &format!("partners[{i}]"),
            "Un partenaire s'écrit sur une seule ligne.",
        ));
    }
    let mut v = Map::new();
    v.insert("title".into(), Value::String(title.into()));
    if let Some(d) = description {
        v.insert("description".into(), Value::String(d.clone()));
    }
    if let Some(s) = scope {
        v.insert("scope".into(), Value::String(s.clone()));
    }
    v.insert("partners".into(), Value::from(partners.to_vec()));
    Ok(edit::to_form(edit::NODE_FIELDS, &Value::Object(v)))
}

fn parent_of(doc: &ContractDocument, key: &str) -> Option<String> {
    fn go(nodes: &[FrameworkNode], key: &str, parent: Option<&str>) -> Option<Option<String>> {
        for n in nodes {
            if n.key == key {
                return Some(parent.map(str::to_string));
            }
            if let Some(found) = go(&n.children, key, Some(&n.key)) {
                return Some(found);
            }
        }
        None
    }
    go(&doc.contract.framework, key, None).flatten()
}

/// The node `key`, its depth and level name, or 404.
fn find<'a>(doc: &'a ContractDocument, key: &str) -> ApiResult<(&'a FrameworkNode, usize, String)> {
    let (node, depth) = doc.find_node(key).ok_or(Error::NotFound)?;
    Ok((
        node,
        depth,
        doc.contract.level_label(depth).singular.clone(),
    ))
}

/// The framework tree of a contract.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/framework",
    operation_id = "getFramework",
    tag = "framework",
    params(("slug" = String, Path, description = "Contract slug")),
    responses(
        (status = 200, description = "The top-level nodes, with their descendants", body = [FrameworkNode]),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn tree(
    State(state): State<AppState>,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<FrameworkNode>>> {
    let c = state.store.contract(&slug).await?;
    Ok(Json(c.document.contract.framework))
}

/// One node of the framework, with its depth and level name.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/framework/{key}",
    operation_id = "getNode",
    tag = "framework",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("key" = String, Path, description = "Key of the framework node"),
    ),
    responses(
        (status = 200, description = "The item", body = NodeView),
        (status = 404, description = "No such contract or node", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn show(
    State(state): State<AppState>,
    Path((slug, key)): Path<(String, String)>,
) -> ApiResult<Json<NodeView>> {
    let c = state.store.contract(&slug).await?;
    let (node, depth, level) = find(&c.document, &key)?;
    Ok(Json(NodeView {
        version: c.version,
        node: node.clone(),
        depth,
        level,
        parent: parent_of(&c.document, &key),
    }))
}

/// Adds a node at the top of the framework or under `parent` (pilot).
#[utoipa::path(
    post,
    path = "/api/v1/contracts/{slug}/framework",
    operation_id = "addNode",
    tag = "framework",
    request_body = NewNode,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Added", body = CreatedNode),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid data (field errors)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn create(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(slug): Path<String>,
    Json(body): Json<NewNode>,
) -> ApiResult<Response> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let parent = body
        .parent
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let depth = match parent {
        None => 0,
        Some(p) => {
            let (_, d) = stored.document.find_node(p).ok_or_else(|| {
                field_error(
                    "parent",
                    &format!("Aucun élément du cadre n'a la clé « {p} »."),
                )
            })?;
            d + 1
        }
    };
    let form = node_form(&body.title, &body.description, &body.scope, &body.partners)?;
    let level = stored.document.contract.level_label(depth).singular.clone();
    let summary = node_summary(&level, &body.title, "ajouté");
    let mut key = None;
    let version = changes::apply(
        &state,
        &visitor,
        &stored,
        &meta(body.version, &body.effective_on, &body.reason),
        summary,
        |doc| {
            let (new, k) = edit::add_node(doc, parent, &form)?;
            key = Some(k);
            Ok(new)
        },
    )
    .await?;
    let key = key.ok_or_else(|| Error::Internal(anyhow::anyhow!("node added without a key")))?;
    Ok(created(
        format!("{PREFIX}/contracts/{slug}/framework/{key}"),
        CreatedNode { key, version },
    ))
}

/// Replaces a node's title, description, scope and partners (pilot); its children are kept.
#[utoipa::path(
    put,
    path = "/api/v1/contracts/{slug}/framework/{key}",
    operation_id = "updateNode",
    tag = "framework",
    request_body = NodeUpdate,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("key" = String, Path, description = "Key of the framework node"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Updated", body = VersionResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract or node", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid data (field errors)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn update(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((slug, key)): Path<(String, String)>,
    Json(body): Json<NodeUpdate>,
) -> ApiResult<Json<VersionResponse>> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let (_, _, level) = find(&stored.document, &key)?;
    let form = node_form(&body.title, &body.description, &body.scope, &body.partners)?;
    let summary = node_summary(&level, &body.title, "modifié");
    let version = changes::apply(
        &state,
        &visitor,
        &stored,
        &meta(body.version, &body.effective_on, &body.reason),
        summary,
        |doc| edit::update_node(doc, &key, &form),
    )
    .await?;
    Ok(Json(VersionResponse { version }))
}

/// Removes a node with its descendants (pilot); references from axes and flagship actions are cleared.
#[utoipa::path(
    delete,
    path = "/api/v1/contracts/{slug}/framework/{key}",
    operation_id = "removeNode",
    tag = "framework",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("key" = String, Path, description = "Key of the framework node"),
        ChangeParams,
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Removed", body = VersionResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract or node", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing version, or invalid data", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers))]
pub async fn remove(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((slug, key)): Path<(String, String)>,
    Query(params): Query<ChangeParams>,
) -> ApiResult<Json<VersionResponse>> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let m = params.meta()?;
    let (node, _, level) = find(&stored.document, &key)?;
    let summary = node_summary(&level, &node.title, "supprimé");
    let version = changes::apply(&state, &visitor, &stored, &m, summary, |doc| {
        edit::remove_node(doc, &key)
    })
    .await?;
    Ok(Json(VersionResponse { version }))
}

/// Moves a node one place up or down among its siblings (pilot).
#[utoipa::path(
    post,
    path = "/api/v1/contracts/{slug}/framework/{key}/move",
    operation_id = "moveNode",
    tag = "framework",
    request_body = MoveRequest,
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("key" = String, Path, description = "Key of the framework node"),
        ("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Moved", body = VersionResponse),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the contract's pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract or node", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The contract changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Already first (up) or last (down)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn move_node(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((slug, key)): Path<(String, String)>,
    Json(body): Json<MoveRequest>,
) -> ApiResult<Json<VersionResponse>> {
    let stored = changes::load_for_edit(&state, &visitor, &slug).await?;
    check_csrf(&visitor, &headers)?;
    let (node, _, level) = find(&stored.document, &key)?;
    let up = body.direction.is_up();
    if edit::move_node(&stored.document, &key, up)? == stored.document {
        return Err(field_error("direction", edge_message(up)));
    }
    let summary = format!(
        "{} {}",
        node_summary(&level, &node.title, "déplacé"),
        body.direction.label()
    );
    let version = changes::apply(
        &state,
        &visitor,
        &stored,
        &meta(body.version, &body.effective_on, &body.reason),
        summary,
        |doc| edit::move_node(doc, &key, up),
    )
    .await?;
    Ok(Json(VersionResponse { version }))
}

/// Why a move changes nothing.
pub(super) fn edge_message(up: bool) -> &'static str {
    if up {
        "L'élément est déjà en tête de liste."
    } else {
        "L'élément est déjà en fin de liste."
    }
}
