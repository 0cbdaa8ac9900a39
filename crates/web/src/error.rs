//! The HTTP error of the platform: one type, rendered as a French HTML page for the pages
//! and as `application/problem+json` (RFC 9457) for the API ([`ApiError`]).
//! Internal errors are logged with their detail and shown to the user without it.

use crate::layout;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use quartiers_domain::{FieldError, ValidationErrors};
use quartiers_store::StoreError;
use serde::Serialize;

/// What went wrong while handling a request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No such page or resource.
    #[error("Page introuvable")]
    NotFound,
    /// Sign-in needed.
    #[error("Connexion requise")]
    Unauthorized,
    /// Signed in, but not allowed.
    #[error("Accès refusé")]
    Forbidden,
    /// Missing or wrong CSRF token.
    #[error("Jeton de sécurité invalide")]
    Csrf,
    /// Too many attempts.
    #[error("{0}")]
    TooManyRequests(String),
    /// Bad input, field by field.
    #[error("Données invalides")]
    Validation(ValidationErrors),
    /// A conflict: duplicate, or concurrent edit.
    #[error("{0}")]
    Conflict(String),
    /// Malformed request body.
    #[error("{0}")]
    BadRequest(String),
    /// Anything else: logged, never shown.
    #[error("Erreur interne")]
    Internal(#[from] anyhow::Error),
}

/// Result of handlers.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Error::NotFound,
            StoreError::Conflict(m) => Error::Conflict(m),
            StoreError::Invalid(v) => Error::Validation(v),
            StoreError::Database(d) => Error::Internal(anyhow::Error::new(d)),
        }
    }
}

impl From<ValidationErrors> for Error {
    fn from(e: ValidationErrors) -> Self {
        Error::Validation(e)
    }
}

impl Error {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::Forbidden | Error::Csrf => StatusCode::FORBIDDEN,
            Error::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Validation(_) | Error::BadRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Conflict(_) => StatusCode::CONFLICT,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The French explanation given to the user.
    pub fn detail(&self) -> String {
        match self {
            Error::NotFound => "La page ou la ressource demandée n'existe pas ou plus.".into(),
            Error::Unauthorized => "Connectez-vous pour effectuer cette action.".into(),
            Error::Forbidden => "Votre compte n'a pas les droits nécessaires pour cette action.".into(),
            Error::Csrf => "Le formulaire a expiré ou ne provient pas de ce site. Rechargez la page et recommencez.".into(),
            Error::TooManyRequests(m) | Error::Conflict(m) | Error::BadRequest(m) => m.clone(),
            Error::Validation(v) => format!("Certaines valeurs sont invalides : {v}"),
            Error::Internal(_) => "Une erreur inattendue s'est produite. Elle a été enregistrée ; réessayez plus tard.".into(),
        }
    }

    fn log(&self) {
        if let Error::Internal(e) = self {
            tracing::error!(error = ?e, "internal error");
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        self.log();
        let status = self.status();
        let title = self.to_string();
        (
            status,
            axum::response::Html(
                layout::error_page(status.as_u16(), &title, &self.detail()).into_string(),
            ),
        )
            .into_response()
    }
}

/// The problem document of RFC 9457, with the failing fields.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short title.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// French explanation.
    pub detail: String,
    /// The failing fields, when the input was invalid.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The same error, rendered for the API.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = self.0;
        e.log();
        let status = e.status();
        let kind = match &e {
            Error::NotFound => "not-found",
            Error::Unauthorized => "unauthorized",
            Error::Forbidden => "forbidden",
            Error::Csrf => "csrf",
            Error::TooManyRequests(_) => "too-many-requests",
            Error::Validation(_) => "validation",
            Error::Conflict(_) => "conflict",
            Error::BadRequest(_) => "bad-request",
            Error::Internal(_) => "internal",
        };
        let problem = Problem {
            kind: format!("/api/v1/problems/{kind}"),
            title: e.to_string(),
            status: status.as_u16(),
            detail: e.detail(),
            errors: match &e {
                Error::Validation(v) => v.0.clone(),
                _ => vec![],
            },
        };
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            serde_json::to_string(&problem).unwrap_or_default(),
        )
            .into_response()
    }
}

/// Result of API handlers.
pub type ApiResult<T> = std::result::Result<T, ApiError>;
