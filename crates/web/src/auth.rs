//! Accounts and sessions on the web side: password hashing, the signed-in user extractor,
//! CSRF checks and login rate limiting.

use crate::error::Error;
use crate::AppState;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use quartiers_domain::permissions::{allowed, Action};
use quartiers_domain::Principal;
use quartiers_store::users::SessionInfo;
use rand::RngCore;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "quartiers_session";
/// Name of the cookie holding the CSRF token of anonymous forms (login).
pub const PRE_CSRF_COOKIE: &str = "quartiers_csrf";
/// Session lifetime.
pub const SESSION_TTL: time::Duration = time::Duration::hours(12);
/// Failed logins allowed per email within [`LOGIN_WINDOW`].
pub const MAX_FAILURES_PER_EMAIL: i64 = 5;
/// Failed logins allowed per client address within [`LOGIN_WINDOW`].
pub const MAX_FAILURES_PER_ADDRESS: i64 = 30;
/// Window of the login rate limit.
pub const LOGIN_WINDOW: time::Duration = time::Duration::minutes(15);

/// A password in memory: never printed.
pub struct Password(pub String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(…)")
    }
}

/// Checks a new password's strength (length only, as the ANSSI recommends long passphrases).
pub fn check_new_password(p: &str) -> Result<(), String> {
    if p.chars().count() < 12 {
        Err("Le mot de passe doit compter au moins 12 caractères.".into())
    } else if p.len() > 1024 {
        Err("Le mot de passe est trop long (1 024 caractères au plus).".into())
    } else {
        Ok(())
    }
}

/// Hashes a password with argon2id and a random salt.
pub fn hash_password(p: &Password) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default()
        .hash_password(p.0.as_bytes(), &salt)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string())
}

/// Verifies a password against a stored argon2 hash.
pub fn verify_password(p: &Password, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(p.0.as_bytes(), &h)
            .is_ok()
    })
}

/// A random token for anonymous forms' CSRF cookie.
pub fn random_token() -> String {
    let mut b = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Builds the session cookie.
pub fn session_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, token))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .path("/")
        .max_age(SESSION_TTL)
        .build()
}

/// The visitor: signed in (with session) or anonymous. Taken from the session cookie or
/// from an `Authorization: Bearer` token (API clients).
#[derive(Debug, Clone, Default)]
pub struct Visitor {
    /// The live session, if signed in.
    pub session: Option<SessionInfo>,
    /// Whether the session came from a bearer token (no CSRF needed: browsers never send it by themselves).
    pub bearer: bool,
    /// The raw token, to end the session.
    token: Option<String>,
}

impl Visitor {
    /// The principal, if signed in.
    pub fn principal(&self) -> Option<&Principal> {
        self.session.as_ref().map(|s| &s.principal)
    }

    /// Refuses the request unless the visitor may perform `action`:
    /// 401 when anonymous, 403 when signed in without the right.
    pub fn require(&self, action: Action) -> Result<&Principal, Error> {
        match self.principal() {
            None => Err(Error::Unauthorized),
            Some(p) if allowed(Some(p), action) => Ok(p),
            Some(_) => Err(Error::Forbidden),
        }
    }

    /// The CSRF token to put in forms (empty when anonymous).
    pub fn csrf(&self) -> &str {
        self.session.as_ref().map(|s| s.csrf.as_str()).unwrap_or("")
    }

    /// Checks a submitted CSRF token against the session's, in constant time.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), Error> {
        if self.bearer {
            return Ok(());
        }
        let expected = self
            .session
            .as_ref()
            .map(|s| s.csrf.as_bytes())
            .ok_or(Error::Csrf)?;
        if constant_time_eq(expected, submitted.as_bytes()) {
            Ok(())
        } else {
            Err(Error::Csrf)
        }
    }

    /// The session token, to end it.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Author label for the amendment history.
    pub fn author(&self) -> quartiers_store::contracts::Author {
        match self.principal() {
            Some(p) => quartiers_store::contracts::Author {
                user_id: Some(p.user_id),
                label: p.email.clone(),
            },
            None => quartiers_store::contracts::Author {
                user_id: None,
                label: "anonyme".into(),
            },
        }
    }
}

/// Compares two byte strings without leaking where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        let jar = CookieJar::from_headers(&parts.headers);
        let (token, is_bearer) = match bearer {
            Some(t) => (Some(t), true),
            None => (
                jar.get(SESSION_COOKIE).map(|c| c.value().to_string()),
                false,
            ),
        };
        let Some(token) = token else {
            return Ok(Visitor::default());
        };
        let session = state.store.session(&token).await?;
        if is_bearer && session.is_none() {
            return Err(Error::Unauthorized);
        }
        Ok(Visitor {
            session,
            bearer: is_bearer,
            token: Some(token),
        })
    }
}

/// Refuses a login attempt when the email or the address failed too often recently.
pub async fn check_rate_limit(state: &AppState, email: &str, address: &str) -> Result<(), Error> {
    let by_email = state
        .store
        .recent_login_failures(&format!("email:{email}"), LOGIN_WINDOW)
        .await?;
    let by_address = state
        .store
        .recent_login_failures(&format!("ip:{address}"), LOGIN_WINDOW)
        .await?;
    if by_email >= MAX_FAILURES_PER_EMAIL || by_address >= MAX_FAILURES_PER_ADDRESS {
        return Err(Error::TooManyRequests(
            "Trop de tentatives de connexion infructueuses. Réessayez dans 15 minutes.".into(),
        ));
    }
    Ok(())
}

/// Checks credentials, counting failures; returns the user id and admin flag.
pub async fn authenticate(
    state: &AppState,
    email: &str,
    password: &Password,
    address: &str,
) -> Result<Option<i64>, Error> {
    let email = email.trim().to_lowercase();
    check_rate_limit(state, &email, address).await?;
    let user = state.store.user_by_email(&email).await?;
    // Verify against a dummy hash when the account does not exist, so timing does not reveal it.
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wD0VqBJgqH7JgUYXbKX6u4b3z0cjQkWm0uQnYp2b0rA";
    let ok = match &user {
        Some(u) => verify_password(password, &u.password_hash),
        None => {
            verify_password(password, DUMMY);
            false
        }
    };
    if ok {
        state
            .store
            .clear_login_failures(&format!("email:{email}"))
            .await?;
        Ok(user.map(|u| u.id))
    } else {
        state
            .store
            .record_login_failure(&format!("email:{email}"))
            .await?;
        state
            .store
            .record_login_failure(&format!("ip:{address}"))
            .await?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies() {
        let p = Password("correct horse battery staple".into());
        let h = hash_password(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&p, &h));
        assert!(!verify_password(&Password("wrong".into()), &h));
        assert!(!verify_password(&p, "not a hash"));
    }

    #[test]
    fn password_rules() {
        assert!(check_new_password("court").is_err());
        assert!(check_new_password("une phrase de passe longue").is_ok());
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn password_debug_is_hidden() {
        assert_eq!(format!("{:?}", Password("secret".into())), "Password(…)");
    }
}
