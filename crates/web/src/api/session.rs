//! Sessions of API clients: sign in with email and password to get a bearer token (and the
//! session's CSRF token, for clients that use the cookie instead), sign out.

use super::json::{check_csrf, ApiVisitor, ClientAddr, Json};
use super::{field_error, problem};
use crate::auth::{self, Password};
use crate::error::{ApiResult, Error, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Credentials.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Email address of the account.
    pub email: String,
    /// Password.
    #[schema(format = Password)]
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// A new session.
#[derive(Serialize, ToSchema)]
pub struct NewSessionResponse {
    /// Token to send as `Authorization: Bearer TOKEN`.
    pub token: String,
    /// The session's CSRF token (`X-CSRF-Token`), needed only when the session cookie is used.
    pub csrf: String,
    /// Lifetime of the session, in seconds.
    pub expires_in: i64,
}

/// Signs in: returns a session token.
///
/// Failed attempts are counted per address and per account; too many within 15 minutes give 429.
#[utoipa::path(
    post,
    path = "/api/v1/session",
    operation_id = "createSession",
    tag = "session",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in", body = NewSessionResponse),
        (status = 401, description = "Wrong email or password", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, addr, body))]
pub async fn create(
    State(state): State<AppState>,
    addr: ClientAddr,
    Json(body): Json<Credentials>,
) -> ApiResult<Response> {
    if body.email.trim().is_empty() {
        return Err(field_error("email", "Ce champ est obligatoire."));
    }
    if body.password.is_empty() {
        return Err(field_error("password", "Ce champ est obligatoire."));
    }
    let password = Password(body.password);
    let Some(user_id) = auth::authenticate(&state, &body.email, &password, &addr.0).await? else {
        tracing::info!("failed API sign-in");
        return Ok(problem(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Connexion refusée",
            "Adresse ou mot de passe incorrect.",
        ));
    };
    let session = state
        .store
        .create_session(user_id, auth::SESSION_TTL)
        .await?;
    tracing::info!(user_id, "API sign-in");
    Ok(Json(NewSessionResponse {
        token: session.token,
        csrf: session.csrf,
        expires_in: auth::SESSION_TTL.whole_seconds(),
    })
    .into_response())
}

/// Signs out: ends the session of the bearer token (or of the session cookie).
#[utoipa::path(
    delete,
    path = "/api/v1/session",
    operation_id = "deleteSession",
    tag = "session",
    params(("X-CSRF-Token" = Option<String>, Header, description = "The session's CSRF token (session cookie only; not needed with a bearer token)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong CSRF token", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers))]
pub async fn delete(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (Some(_), Some(token)) = (visitor.principal(), visitor.token()) else {
        return Err(Error::Unauthorized.into());
    };
    check_csrf(&visitor, &headers)?;
    state.store.delete_session(token).await?;
    if visitor.bearer {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        let jar = CookieJar::new().remove(Cookie::build(auth::SESSION_COOKIE).path("/"));
        Ok((jar, StatusCode::NO_CONTENT).into_response())
    }
}
