//! Creating accounts and granting roles: one path for the pages, the API and the CLI.

use crate::auth::{check_new_password, hash_password, Password};
use crate::error::Error;
use quartiers_domain::{Role, ValidationErrors};
use quartiers_store::users::normalize_email;
use quartiers_store::{Store, StoreError};

/// A new account, as typed.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct NewAccount {
    /// Email address.
    pub email: String,
    /// Initial password (12 characters at least).
    #[schema(format = Password)]
    pub password: PasswordField,
    /// `admin`, `pilote`, `financeur`, `porteur` or `lecteur`.
    pub role: String,
    /// Contract slug (every role but admin).
    #[serde(default)]
    pub contract: Option<String>,
    /// Institution or organisation of the member.
    #[serde(default)]
    pub institution: Option<String>,
}

/// A password field that never prints.
#[derive(serde::Deserialize, utoipa::ToSchema, Default)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct PasswordField(pub String);

impl std::fmt::Debug for PasswordField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordField(…)")
    }
}

/// Validates and creates the account, then grants its role; returns the user id.
pub async fn create_account(store: &Store, input: &NewAccount) -> Result<i64, Error> {
    let mut errors = ValidationErrors::new();
    errors.check("email", normalize_email(&input.email));
    errors.check("password", check_new_password(&input.password.0));
    let is_admin = input.role.trim() == "admin";
    let role = if is_admin {
        None
    } else {
        errors.check("role", Role::parse(&input.role))
    };
    let slug = input
        .contract
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let institution = input
        .institution
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if institution.is_some_and(|i| i.chars().count() > 300) {
        errors.add(
            "institution",
            "Ce champ ne doit pas dépasser 300 caractères.",
        );
    }
    let contract_id = match (role, slug) {
        (Some(_), None) => {
            errors.add(
                "contract",
                "Ce rôle s'exerce sur un contrat : choisissez-le.",
            );
            None
        }
        (_, Some(slug)) => match store.contract(slug).await {
            Ok(c) => Some(c.id),
            Err(StoreError::NotFound) => {
                errors.add(
                    "contract",
                    format!("Aucun contrat n'a l'identifiant « {slug} »."),
                );
                None
            }
            Err(e) => return Err(e.into()),
        },
        (None, None) => None,
    };
    errors.into_result()?;
    let hash = hash_password(&Password(input.password.0.clone()))?;
    let grant = role
        .zip(contract_id)
        .map(|(role, cid)| (cid, role, institution));
    store
        .create_account(&input.email, None, &hash, is_admin, grant)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => Error::Validation(ValidationErrors::single("email", m)),
            other => other.into(),
        })
}
