//! Accounts (platform administrators): list them with their roles, create one.

use super::json::{check_csrf, ApiVisitor, Json};
use super::{created, PREFIX};
use crate::accounts::{create_account, NewAccount};
use crate::error::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use quartiers_domain::permissions::Action;
use serde::Serialize;
use utoipa::ToSchema;

/// A role held on a contract.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    /// Contract slug.
    pub contract: String,
    /// `pilote`, `financeur`, `porteur` or `lecteur`.
    pub role: String,
    /// Institution or organisation of the member.
    pub institution: Option<String>,
}

/// An account (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Id.
    pub id: i64,
    /// Email.
    pub email: String,
    /// Platform administrator.
    pub is_admin: bool,
    /// Roles on contracts.
    pub roles: Vec<RoleView>,
}

/// A created account.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    /// Id.
    pub id: i64,
}

/// Lists the accounts and their roles.
#[utoipa::path(
    get,
    path = "/api/v1/users",
    operation_id = "listUsers",
    tag = "users",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The accounts", body = [UserView]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a platform administrator", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    visitor: ApiVisitor,
) -> ApiResult<Json<Vec<UserView>>> {
    visitor.require(Action::ManageUsers)?;
    let mut out = Vec::new();
    for u in state.store.users().await? {
        let roles = state
            .store
            .roles_of(u.id)
            .await?
            .into_iter()
            .map(|r| RoleView {
                contract: r.contract_slug,
                role: r.role.code().into(),
                institution: r.institution,
            })
            .collect();
        out.push(UserView {
            id: u.id,
            email: u.email,
            is_admin: u.is_admin,
            roles,
        });
    }
    Ok(Json(out))
}

/// Creates an account with its role (and contract, for every role but admin).
#[utoipa::path(
    post,
    path = "/api/v1/users",
    operation_id = "createUser",
    tag = "users",
    request_body = NewAccount,
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a platform administrator, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid input (field errors), or the email is taken", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Json(input): Json<NewAccount>,
) -> ApiResult<Response> {
    visitor.require(Action::ManageUsers)?;
    check_csrf(&visitor, &headers)?;
    let id = create_account(&state.store, &input).await?;
    Ok(created(format!("{PREFIX}/users/{id}"), CreatedUser { id }))
}
