//! Organisations (project carriers), their members and their standing documents.

use crate::{get_i64, get_opt_str, get_str, now_text, Store, StoreError, StoreResult};
use quartiers_domain::{Rna, Siret};
use sqlx::any::AnyRow;

/// An organisation as typed: parsed identifiers only.
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    /// Name.
    pub name: String,
    /// SIRET (Luhn-checked).
    pub siret: Siret,
    /// RNA number, for associations that have one.
    pub rna: Option<Rna>,
    /// Postal address.
    pub address: String,
    /// Legal representative (name, role).
    pub legal_representative: String,
    /// Contact email, where notifications go.
    pub email: String,
}

/// A stored organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Organisation {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// SIRET.
    pub siret: String,
    /// RNA number.
    pub rna: Option<String>,
    /// Address.
    pub address: String,
    /// Legal representative.
    pub legal_representative: String,
    /// Contact email.
    pub email: String,
}

/// A member of an organisation.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Member {
    /// User id.
    pub user_id: i64,
    /// Email.
    pub email: String,
    /// Administrator of the organisation's account.
    pub is_admin: bool,
    /// May sign on behalf of the organisation.
    pub is_signatory: bool,
}

/// A standing document's metadata (its content is read separately).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OrganisationDocument {
    /// Id.
    pub id: i64,
    /// Kind (`statuts`, `rib`...).
    pub kind: String,
    /// File name as uploaded.
    pub file_name: String,
    /// MIME type, checked against the content.
    pub content_type: String,
    /// Size.
    pub size_bytes: i64,
    /// Valid from (upload date).
    pub valid_from: String,
    /// When a newer one replaced it.
    pub replaced_at: Option<String>,
}

fn read_org(r: &AnyRow) -> StoreResult<Organisation> {
    Ok(Organisation {
        id: get_i64(r, "id")?,
        name: get_str(r, "name")?,
        siret: get_str(r, "siret")?,
        rna: get_opt_str(r, "rna")?,
        address: get_str(r, "address")?,
        legal_representative: get_str(r, "legal_representative")?,
        email: get_str(r, "email")?,
    })
}

fn read_doc(r: &AnyRow) -> StoreResult<OrganisationDocument> {
    Ok(OrganisationDocument {
        id: get_i64(r, "id")?,
        kind: get_str(r, "kind")?,
        file_name: get_str(r, "file_name")?,
        content_type: get_str(r, "content_type")?,
        size_bytes: get_i64(r, "size_bytes")?,
        valid_from: get_str(r, "valid_from")?,
        replaced_at: get_opt_str(r, "replaced_at")?,
    })
}

impl Store {
    /// Creates an organisation with `creator` as its administrator and signatory.
    pub async fn create_organisation(
        &self,
        org: &NewOrganisation,
        creator: i64,
    ) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO organisations (name, siret, rna, address, legal_representative, email, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(org.name.trim())
        .bind(org.siret.as_str())
        .bind(org.rna.as_ref().map(|r| r.as_str().to_string()))
        .bind(org.address.trim())
        .bind(org.legal_representative.trim())
        .bind(org.email.trim())
        .bind(now_text())
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict(format!(
                    "Une structure de SIRET {} existe déjà : demandez à son administrateur de vous y ajouter.",
                    org.siret
                ))
            } else {
                e.into()
            }
        })?;
        sqlx::query("INSERT INTO organisation_members (organisation_id, user_id, is_admin, is_signatory) VALUES ($1, $2, 1, 1)")
            .bind(id)
            .bind(creator)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// One organisation.
    pub async fn organisation(&self, id: i64) -> StoreResult<Organisation> {
        let r = sqlx::query("SELECT * FROM organisations WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        read_org(&r)
    }

    /// The organisations a user belongs to.
    pub async fn organisations_of(&self, user_id: i64) -> StoreResult<Vec<Organisation>> {
        sqlx::query("SELECT o.* FROM organisations o JOIN organisation_members m ON m.organisation_id = o.id WHERE m.user_id = $1 ORDER BY o.name")
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(read_org)
            .collect()
    }

    /// The members of an organisation.
    pub async fn members(&self, organisation_id: i64) -> StoreResult<Vec<Member>> {
        sqlx::query("SELECT m.user_id, u.email, m.is_admin, m.is_signatory FROM organisation_members m JOIN users u ON u.id = m.user_id WHERE m.organisation_id = $1 ORDER BY u.email")
            .bind(organisation_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Member {
                    user_id: get_i64(r, "user_id")?,
                    email: get_str(r, "email")?,
                    is_admin: get_i64(r, "is_admin")? != 0,
                    is_signatory: get_i64(r, "is_signatory")? != 0,
                })
            })
            .collect()
    }

    /// Adds an existing account to an organisation (one email may belong to several).
    pub async fn add_member(
        &self,
        organisation_id: i64,
        email: &str,
        is_admin: bool,
        is_signatory: bool,
    ) -> StoreResult<()> {
        let user = self.user_by_email(email).await?.ok_or_else(|| {
            StoreError::Conflict(format!(
                "Aucun compte n'existe pour « {email} » : créez-le d'abord."
            ))
        })?;
        sqlx::query(
            "INSERT INTO organisation_members (organisation_id, user_id, is_admin, is_signatory) VALUES ($1, $2, $3, $4)
             ON CONFLICT (organisation_id, user_id) DO UPDATE SET is_admin = excluded.is_admin, is_signatory = excluded.is_signatory",
        )
        .bind(organisation_id)
        .bind(user.id)
        .bind(i64::from(is_admin))
        .bind(i64::from(is_signatory))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Whether the user administers the organisation.
    pub async fn is_organisation_admin(
        &self,
        organisation_id: i64,
        user_id: i64,
    ) -> StoreResult<bool> {
        let v: Option<i64> = sqlx::query_scalar(
            "SELECT is_admin FROM organisation_members WHERE organisation_id = $1 AND user_id = $2",
        )
        .bind(organisation_id)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(v == Some(1))
    }

    /// Stores a standing document; the previous one of the same kind is marked replaced.
    pub async fn add_document(
        &self,
        organisation_id: i64,
        kind: &str,
        file_name: &str,
        content_type: &str,
        content: &[u8],
        uploaded_by: i64,
    ) -> StoreResult<i64> {
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE organisation_documents SET replaced_at = $1 WHERE organisation_id = $2 AND kind = $3 AND replaced_at IS NULL")
            .bind(&now)
            .bind(organisation_id)
            .bind(kind)
            .execute(&mut *tx)
            .await?;
        let id = sqlx::query_scalar::<_, i64>(
            "INSERT INTO organisation_documents (organisation_id, kind, file_name, content_type, size_bytes, content, valid_from, uploaded_by, uploaded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7) RETURNING id",
        )
        .bind(organisation_id)
        .bind(kind)
        .bind(file_name)
        .bind(content_type)
        .bind(content.len() as i64)
        .bind(content.to_vec())
        .bind(&now)
        .bind(uploaded_by)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The organisation's documents, current ones first, then replaced ones.
    pub async fn documents(&self, organisation_id: i64) -> StoreResult<Vec<OrganisationDocument>> {
        sqlx::query("SELECT id, kind, file_name, content_type, size_bytes, valid_from, replaced_at FROM organisation_documents WHERE organisation_id = $1 ORDER BY replaced_at IS NOT NULL, kind, id DESC")
            .bind(organisation_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(read_doc)
            .collect()
    }

    /// A document's metadata, organisation and content.
    pub async fn document_content(
        &self,
        id: i64,
    ) -> StoreResult<(i64, OrganisationDocument, Vec<u8>)> {
        let r = sqlx::query("SELECT * FROM organisation_documents WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        use sqlx::Row;
        Ok((
            get_i64(&r, "organisation_id")?,
            read_doc(&r)?,
            r.try_get::<Vec<u8>, _>("content")?,
        ))
    }
}
