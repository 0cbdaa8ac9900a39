//! Accounts, contract roles, server-side sessions and login-failure counting.

use crate::{
    get_i64, get_opt_str, get_str, now_text, timestamp_text, Store, StoreError, StoreResult,
};
use quartiers_domain::{Principal, Role};
use rand::RngCore;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

/// A stored account.
#[derive(Clone)]
pub struct UserRecord {
    /// Id.
    pub id: i64,
    /// Email (lowercase).
    pub email: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Argon2 PHC hash.
    pub password_hash: String,
    /// Platform administrator.
    pub is_admin: bool,
}

impl std::fmt::Debug for UserRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("is_admin", &self.is_admin)
            .finish_non_exhaustive()
    }
}

/// A role held on a contract, for listings.
#[derive(Debug, Clone)]
pub struct RoleGrant {
    /// Contract slug.
    pub contract_slug: String,
    /// Contract name.
    pub contract_name: String,
    /// Role.
    pub role: Role,
    /// Institution or organisation of the member, if given.
    pub institution: Option<String>,
}

/// A new session's secrets: the cookie token (only its hash is stored) and the CSRF token.
pub struct NewSession {
    /// Cookie value.
    pub token: String,
    /// CSRF token bound to the session.
    pub csrf: String,
}

impl std::fmt::Debug for NewSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewSession(…)")
    }
}

/// A live session.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    /// Who.
    pub principal: Principal,
    /// The session's CSRF token.
    pub csrf: String,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn user_from_row(r: &sqlx::any::AnyRow) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: get_i64(r, "id")?,
        email: get_str(r, "email")?,
        display_name: get_opt_str(r, "display_name")?,
        password_hash: get_str(r, "password_hash")?,
        is_admin: get_i64(r, "is_admin")? != 0,
    })
}

/// Normalizes and checks an email address.
pub fn normalize_email(email: &str) -> Result<String, String> {
    let e = email.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !e.chars().any(char::is_whitespace);
    if valid {
        Ok(e)
    } else {
        Err(format!(
            "« {} » n'est pas une adresse électronique valide.",
            email.trim()
        ))
    }
}

impl Store {
    /// Creates an account. `password_hash` is an argon2 PHC string.
    pub async fn create_user(
        &self,
        email: &str,
        display_name: Option<&str>,
        password_hash: &str,
        is_admin: bool,
    ) -> StoreResult<i64> {
        self.create_account(email, display_name, password_hash, is_admin, None)
            .await
    }

    /// Creates an account and, in the same transaction, grants it a role on a contract
    /// (contract id, role, institution).
    pub async fn create_account(
        &self,
        email: &str,
        display_name: Option<&str>,
        password_hash: &str,
        is_admin: bool,
        grant: Option<(i64, Role, Option<&str>)>,
    ) -> StoreResult<i64> {
        let email = normalize_email(email)
            .map_err(|m| quartiers_domain::ValidationErrors::single("email", m))?;
        let mut tx = self.pool.begin().await?;
        let r = sqlx::query_scalar::<_, i64>("INSERT INTO users (email, display_name, password_hash, is_admin, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(&email)
            .bind(display_name)
            .bind(password_hash)
            .bind(i64::from(is_admin))
            .bind(now_text())
            .fetch_one(&mut *tx)
            .await;
        let id = match r {
            Ok(id) => id,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "Un compte existe déjà pour {email}."
                )))
            }
            Err(e) => return Err(e.into()),
        };
        if let Some((contract_id, role, institution)) = grant {
            sqlx::query("INSERT INTO user_roles (user_id, contract_id, role, institution) VALUES ($1, $2, $3, $4)")
                .bind(id)
                .bind(contract_id)
                .bind(role.code())
                .bind(institution)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// An account by email.
    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRecord>> {
        let email = email.trim().to_lowercase();
        let row = sqlx::query(
            "SELECT id, email, display_name, password_hash, is_admin FROM users WHERE email = $1",
        )
        .bind(email)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(user_from_row).transpose()
    }

    /// All accounts, by email.
    pub async fn users(&self) -> StoreResult<Vec<UserRecord>> {
        let rows = sqlx::query(
            "SELECT id, email, display_name, password_hash, is_admin FROM users ORDER BY email",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(user_from_row).collect()
    }

    /// Grants (or changes) a user's role on a contract.
    pub async fn grant_role(
        &self,
        user_id: i64,
        contract_id: i64,
        role: Role,
        institution: Option<&str>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO user_roles (user_id, contract_id, role, institution) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, contract_id) DO UPDATE SET role = excluded.role, institution = excluded.institution",
        )
        .bind(user_id)
        .bind(contract_id)
        .bind(role.code())
        .bind(institution)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A user's roles, with their contracts.
    pub async fn roles_of(&self, user_id: i64) -> StoreResult<Vec<RoleGrant>> {
        let rows = sqlx::query(
            "SELECT c.slug, c.name, r.role, r.institution FROM user_roles r JOIN contracts c ON c.id = r.contract_id WHERE r.user_id = $1 ORDER BY c.name",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RoleGrant {
                    contract_slug: get_str(r, "slug")?,
                    contract_name: get_str(r, "name")?,
                    role: Role::parse(&get_str(r, "role")?).map_err(StoreError::Conflict)?,
                    institution: get_opt_str(r, "institution")?,
                })
            })
            .collect()
    }

    async fn principal(&self, user: &UserRecord) -> StoreResult<Principal> {
        let rows =
            sqlx::query("SELECT contract_id, role, institution FROM user_roles WHERE user_id = $1")
                .bind(user.id)
                .fetch_all(&self.pool)
                .await?;
        let roles = rows
            .iter()
            .filter_map(|r| {
                Some((
                    get_i64(r, "contract_id").ok()?,
                    Role::parse(&get_str(r, "role").ok()?).ok()?,
                ))
            })
            .collect();
        let funders = rows
            .iter()
            .filter_map(|r| {
                Some((
                    get_i64(r, "contract_id").ok()?,
                    get_opt_str(r, "institution").ok()??,
                ))
            })
            .collect();
        let organisations =
            sqlx::query("SELECT organisation_id FROM organisation_members WHERE user_id = $1")
                .bind(user.id)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| get_i64(r, "organisation_id"))
                .collect::<StoreResult<Vec<_>>>()?;
        Ok(Principal {
            user_id: user.id,
            email: user.email.clone(),
            is_admin: user.is_admin,
            roles,
            funders,
            organisations,
        })
    }

    /// Opens a session for `user_id`, valid for `ttl`.
    pub async fn create_session(&self, user_id: i64, ttl: Duration) -> StoreResult<NewSession> {
        let token = random_token();
        let csrf = random_token();
        let now = OffsetDateTime::now_utc();
        sqlx::query("INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(hash_token(&token))
            .bind(user_id)
            .bind(&csrf)
            .bind(timestamp_text(now))
            .bind(timestamp_text(now + ttl))
            .execute(&self.pool)
            .await?;
        Ok(NewSession { token, csrf })
    }

    /// The live session behind a cookie token, if any.
    pub async fn session(&self, token: &str) -> StoreResult<Option<SessionInfo>> {
        let row = sqlx::query(
            "SELECT u.id, u.email, u.display_name, u.password_hash, u.is_admin, s.csrf_token FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2",
        )
        .bind(hash_token(token))
        .bind(now_text())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let user = user_from_row(&row)?;
        Ok(Some(SessionInfo {
            principal: self.principal(&user).await?,
            csrf: get_str(&row, "csrf_token")?,
        }))
    }

    /// Ends a session.
    pub async fn delete_session(&self, token: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(hash_token(token))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a failed login for a key (an email or an address).
    pub async fn record_login_failure(&self, key: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO login_failures (attempt_key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(now_text())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Failed logins for a key within the last `window`.
    pub async fn recent_login_failures(&self, key: &str, window: Duration) -> StoreResult<i64> {
        let since = timestamp_text(OffsetDateTime::now_utc() - window);
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM login_failures WHERE attempt_key = $1 AND at > $2",
        )
        .bind(key)
        .bind(since)
        .fetch_one(&self.pool)
        .await?)
    }

    /// Forgets a key's failures after a successful login.
    pub async fn clear_login_failures(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM login_failures WHERE attempt_key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email(" Pilote@MEL.fr ").unwrap(), "pilote@mel.fr");
        for bad in ["", "a", "a@b", "@b.fr", "a b@c.fr", "a@.fr"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_ne!(hash_token(&a), a);
    }
}
