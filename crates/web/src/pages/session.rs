//! Sign-in and sign-out.

use crate::auth::{self, Password, Visitor, PRE_CSRF_COOKIE};
use crate::error::{Error, Result};
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use maud::html;
use std::net::SocketAddr;

/// The login form's fields.
#[derive(serde::Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    next: String,
}

fn render(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    email: &str,
    next: &str,
    error: Option<&str>,
) -> Html<String> {
    let frame = Frame::new(state, visitor);
    Html(
        layout::page(
            &frame,
            "Se connecter",
            &[("Connexion", "/connexion".into())],
            html! {
                div.fr-grid-row.fr-grid-row--center {
                    div.fr-col-12.fr-col-md-6 {
                        h1 { "Se connecter à Quartiers" }
                        @if let Some(e) = error { (layout::notice("error", e)) }
                        form method="post" action="/connexion" {
                            input type="hidden" name="csrf" value=(token);
                            input type="hidden" name="next" value=(next);
                            fieldset.fr-fieldset {
                                div.fr-input-group {
                                    label.fr-label for="email" { "Adresse électronique" }
                                    input.fr-input #email name="email" type="email" autocomplete="username" required value=(email);
                                }
                                div.fr-input-group {
                                    label.fr-label for="password" { "Mot de passe" }
                                    input.fr-input #password name="password" type="password" autocomplete="current-password" required;
                                }
                            }
                            button.fr-btn type="submit" { "Se connecter" }
                        }
                        hr.fr-mt-4w;
                        h2.fr-h5 { "Vous n'avez pas de compte ?" }
                        p { "Une association ou une autre structure qui souhaite déposer une demande de subvention crée son compte, puis sa structure." }
                        a.fr-btn.fr-btn--secondary href="/inscription" { "Créer un compte" }
                    }
                }
            },
        )
        .into_string(),
    )
}

fn pre_csrf_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((PRE_CSRF_COOKIE, token))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .path("/connexion")
        .build()
}

/// Query of the login page.
#[derive(Debug, serde::Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    suivant: String,
}

/// GET /connexion
#[tracing::instrument(skip_all)]
pub async fn login_form(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    axum::extract::Query(q): axum::extract::Query<NextQuery>,
) -> Response {
    let token = auth::random_token();
    let jar = jar.add(pre_csrf_cookie(token.clone(), state.config.secure_cookies));
    (jar, render(&state, &visitor, &token, "", &q.suivant, None)).into_response()
}

/// Only local paths are followed after sign-in (no open redirect).
fn safe_next(next: &str) -> &str {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next
    } else {
        "/"
    }
}

/// POST /connexion
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<LoginForm>,
) -> Result<Response> {
    let expected = jar
        .get(PRE_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if expected.is_empty() || !auth::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return Err(Error::Csrf);
    }
    let address = client_address(&headers, connect.map(|c| c.0));
    let password = Password(form.password);
    let user = match auth::authenticate(&state, &form.email, &password, &address).await {
        Ok(u) => u,
        Err(Error::TooManyRequests(m)) => {
            return Ok((
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                render(
                    &state,
                    &visitor,
                    &expected,
                    &form.email,
                    &form.next,
                    Some(&m),
                ),
            )
                .into_response())
        }
        Err(e) => return Err(e),
    };
    let Some(user_id) = user else {
        return Ok((
            axum::http::StatusCode::UNAUTHORIZED,
            render(
                &state,
                &visitor,
                &expected,
                &form.email,
                &form.next,
                Some("Adresse électronique ou mot de passe incorrect."),
            ),
        )
            .into_response());
    };
    if let Some(old) = visitor.token() {
        state.store.delete_session(old).await?;
    }
    let session = state
        .store
        .create_session(user_id, auth::SESSION_TTL)
        .await?;
    let jar = jar
        .remove(Cookie::build(PRE_CSRF_COOKIE).path("/connexion"))
        .add(auth::session_cookie(
            session.token,
            state.config.secure_cookies,
        ));
    Ok((jar, Redirect::to(safe_next(&form.next))).into_response())
}

/// The client's address: the first `X-Forwarded-For` hop behind a load balancer, or the socket's.
fn client_address(headers: &HeaderMap, connect: Option<ConnectInfo<SocketAddr>>) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_string())
        .or_else(|| connect.map(|c| c.0.ip().to_string()))
        .unwrap_or_else(|| "inconnue".into())
}

/// The logout form.
#[derive(serde::Deserialize)]
pub struct CsrfOnly {
    #[serde(default)]
    csrf: String,
}

/// POST /deconnexion
#[tracing::instrument(skip_all)]
pub async fn logout(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    Form(form): Form<CsrfOnly>,
) -> Result<Response> {
    visitor.check_csrf(&form.csrf)?;
    if let Some(t) = visitor.token() {
        state.store.delete_session(t).await?;
    }
    Ok((
        jar.remove(Cookie::build(auth::SESSION_COOKIE).path("/")),
        Redirect::to("/"),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_local_only() {
        assert_eq!(safe_next("/contrats/mel-2024"), "/contrats/mel-2024");
        assert_eq!(safe_next("//evil.example"), "/");
        assert_eq!(safe_next("https://evil.example"), "/");
    }
}
