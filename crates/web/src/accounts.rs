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
    /// Institution of the member: for a financer's instructor, the financer's code on the
    /// contract (`etat`, `mel`), which lets it instruct that financer's lines.
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
    // A financer's instructor (or a pilot acting for a financer) acts for the financer whose
    // code is its institution: a financer's name typed instead is replaced by its code, and
    // an instructor naming no financer of the contract is refused.
    let institution: Option<String> = match (role, contract_id, institution) {
        (Some(r @ (Role::Financeur | Role::Pilote)), Some(cid), Some(i)) => {
            let funders = store.funders(cid).await?;
            match funders
                .iter()
                .find(|f| f.code == i || f.name.eq_ignore_ascii_case(i))
            {
                Some(f) => Some(f.code.clone()),
                None if r == Role::Financeur && !funders.is_empty() => {
                    let codes: Vec<&str> = funders.iter().map(|f| f.code.as_str()).collect();
                    errors.add(
                        "institution",
                        format!(
                            "« {i} » n'est pas un financeur du contrat : indiquez le code de l'un d'eux ({}).",
                            codes.join(", ")
                        ),
                    );
                    None
                }
                None => Some(i.to_string()),
            }
        }
        (_, _, i) => i.map(str::to_string),
    };
    errors.into_result()?;
    let hash = hash_password(&Password(input.password.0.clone()))?;
    let grant = role
        .zip(contract_id)
        .map(|(role, cid)| (cid, role, institution.as_deref()));
    store
        .create_account(&input.email, None, &hash, is_admin, grant)
        .await
        .map_err(|e| match e {
            StoreError::Conflict(m) => Error::Validation(ValidationErrors::single("email", m)),
            other => other.into(),
        })
}
