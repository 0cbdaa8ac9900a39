//! What the applicants' pages need from the store beyond single reads: the submission
//! context of an application (to name the pieces still missing before it is submitted),
//! and the public sign-up, which creates an account and its organisation in one transaction.

use super::organisations::NewOrganisation;
use super::transitions::{current, submission_context};
use crate::users::normalize_email;
use crate::{now_text, Store, StoreError, StoreResult};
use quartiers_domain::funding::SubmissionContext;
use quartiers_domain::ValidationErrors;

impl Store {
    /// What the submission check of an application needs: the contract's framework keys and
    /// components, the financers of its call, and the standing documents its organisation
    /// still lacks (the same context the `deposer` transition checks against).
    pub async fn submission_context(&self, application_id: i64) -> StoreResult<SubmissionContext> {
        let mut conn = self.pool.acquire().await?;
        let cur = current(&mut conn, application_id).await?;
        submission_context(&mut conn, &cur).await
    }

    /// Creates an account (`password_hash`: argon2 PHC string) and its organisation, with the
    /// account as administrator and signatory, in one transaction: either both exist
    /// afterwards or neither. A taken email or SIRET is refused field by field
    /// ([`StoreError::Invalid`] on `email` or `siret`). Returns (user id, organisation id).
    pub async fn sign_up(
        &self,
        email: &str,
        password_hash: &str,
        org: &NewOrganisation,
    ) -> StoreResult<(i64, i64)> {
        let email = normalize_email(email).map_err(|m| ValidationErrors::single("email", m))?;
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        let user_id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (email, display_name, password_hash, is_admin, created_at) VALUES ($1, NULL, $2, 0, $3) RETURNING id",
        )
        .bind(&email)
        .bind(password_hash)
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Invalid(ValidationErrors::single(
                    "email",
                    format!("Un compte existe déjà pour {email} : connectez-vous, puis créez la structure depuis votre espace."),
                ))
            } else {
                e.into()
            }
        })?;
        let org_id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO organisations (name, siret, rna, address, legal_representative, email, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(org.name.trim())
        .bind(org.siret.as_str())
        .bind(org.rna.as_ref().map(|r| r.as_str().to_string()))
        .bind(org.address.trim())
        .bind(org.legal_representative.trim())
        .bind(org.email.trim())
        .bind(&now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Invalid(ValidationErrors::single(
                    "siret",
                    format!(
                        "Une structure de SIRET {} existe déjà sur la plateforme : demandez à son administrateur de vous y ajouter.",
                        org.siret
                    ),
                ))
            } else {
                e.into()
            }
        })?;
        sqlx::query("INSERT INTO organisation_members (organisation_id, user_id, is_admin, is_signatory) VALUES ($1, $2, 1, 1)")
            .bind(org_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((user_id, org_id))
    }
}
