//! Extractors of the API. They wrap axum's so that every malformed request (bad JSON, wrong
//! content type, unparsable path or query) is answered with a French `application/problem+json`
//! document instead of axum's plain-text rejection.

use crate::auth::Visitor;
use crate::error::{ApiError, Error};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use quartiers_domain::ValidationErrors;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::net::SocketAddr;

/// Name of the header carrying the CSRF token of cookie sessions.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// A JSON body (request) or JSON response.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(Error::BadRequest(
                "Le corps de la requête doit être du JSON, envoyé avec l'en-tête « Content-Type: application/json »."
                    .into(),
            )
            .into());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|r| {
            Error::BadRequest(format!(
                "Le corps de la requête n'a pas pu être lu{}.",
                if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    " : il est trop volumineux"
                } else {
                    ""
                }
            ))
        })?;
        parse_json(&bytes).map(Json)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(ct) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a JSON body, turning serde's messages into French field errors where possible.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let at = format!("ligne {}, colonne {}", e.line(), e.column());
        match e.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                ApiError(Error::BadRequest(format!(
                    "Le corps de la requête n'est pas du JSON valide ({at})."
                )))
            }
            serde_json::error::Category::Io => ApiError(Error::BadRequest(
                "Le corps de la requête n'a pas pu être lu.".into(),
            )),
            serde_json::error::Category::Data => {
                let full = e.to_string();
                let message = full
                    .rsplit_once(" at line ")
                    .map_or(full.as_str(), |(m, _)| m);
                ApiError(with_path(
                    translate_serde(message, Some(&at)),
                    path_of::<T>(bytes),
                ))
            }
        }
    })
}

/// The path (`document.contract.territory.pilot_siren`) of the value a body fails on.
fn path_of<T: DeserializeOwned>(bytes: &[u8]) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize::<_, T>(&mut de)
        .err()
        .map(|e| e.path().to_string())
        .filter(|p| !p.is_empty() && p != ".")
}

/// Names the failing field of an error that serde's message does not name.
pub(super) fn with_path(e: Error, path: Option<String>) -> Error {
    match (e, path) {
        (Error::BadRequest(m), Some(field)) => ValidationErrors::single(field, m).into(),
        (e, _) => e,
    }
}

/// Turns a serde data error message into an [`Error`], with a field when serde names one.
pub(super) fn translate_serde(message: &str, at: Option<&str>) -> Error {
    let suffix = at.map(|a| format!(" ({a})")).unwrap_or_default();
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_string);
    if let Some(rest) = message.strip_prefix("missing field ") {
        if let Some(f) = quoted(rest) {
            return ValidationErrors::single(f, format!("Ce champ est obligatoire{suffix}."))
                .into();
        }
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        if let Some(f) = quoted(rest) {
            let expected = expected_values(rest);
            return ValidationErrors::single(
                f.clone(),
                format!("Champ inconnu « {f} »{suffix}{expected}."),
            )
            .into();
        }
    }
    if let Some(rest) = message.strip_prefix("duplicate field ") {
        if let Some(f) = quoted(rest) {
            return ValidationErrors::single(f, format!("Ce champ figure deux fois{suffix}."))
                .into();
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let v = quoted(rest).unwrap_or_default();
        return Error::BadRequest(format!(
            "Valeur « {v} » non reconnue{suffix}{}.",
            expected_values(rest)
        ));
    }
    if let Some(rest) = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))
    {
        let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let expected = match french_kind(expected) {
            "" => String::new(),
            k => format!(" ; attendu : {k}"),
        };
        let found = match french_kind(found) {
            "" => found.to_string(),
            k => k.to_string(),
        };
        return Error::BadRequest(format!(
            "Valeur de type inattendu{suffix} : {found}{expected}."
        ));
    }
    if let Some(rest) = message.strip_prefix("invalid length ") {
        return Error::BadRequest(format!("Nombre d'éléments inattendu{suffix} : {rest}."));
    }
    // Other messages come from the domain's own parsers (identifiers, dates...) and are French.
    Error::BadRequest(format!("Valeur invalide{suffix} : {message}"))
}

/// Names in French the JSON kinds serde mentions ("string \"x\"", "i64", "a sequence"...).
fn french_kind(kind: &str) -> &'static str {
    let k = kind
        .trim()
        .trim_start_matches("a ")
        .trim_start_matches("an ");
    let first = k.split([' ', '`']).next().unwrap_or("");
    match first {
        "string" | "str" | "char" => "un texte",
        "integer" | "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" | "usize"
        | "isize" => "un nombre entier",
        "floating" | "f32" | "f64" => "un nombre décimal",
        "boolean" | "bool" => "un booléen (true ou false)",
        "sequence" => "une liste",
        "map" | "struct" => "un objet",
        "null" | "unit" => "null",
        _ => "",
    }
}

fn expected_values(rest: &str) -> String {
    let Some((_, expected)) = rest.split_once("expected ") else {
        return String::new();
    };
    let values: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    if values.is_empty() {
        String::new()
    } else {
        format!(" ; valeurs possibles : {}", values.join(", "))
    }
}

/// Path parameters, with French problem documents on failure.
#[derive(Debug, Clone)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|r| {
                ApiError(Error::BadRequest(format!(
                    "Chemin de requête invalide : {}.",
                    r.body_text()
                )))
            })
    }
}

/// Query-string parameters, with French problem documents on failure.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        serde_urlencoded::from_str(query).map(Query).map_err(|e| {
            ApiError(translate_serde(
                &e.to_string(),
                Some("paramètres de la requête"),
            ))
        })
    }
}

/// The visitor (session cookie or bearer token), refusing with a problem document.
#[derive(Debug, Clone)]
pub struct ApiVisitor(pub Visitor);

impl std::ops::Deref for ApiVisitor {
    type Target = Visitor;
    fn deref(&self) -> &Visitor {
        &self.0
    }
}

impl FromRequestParts<AppState> for ApiVisitor {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Visitor::from_request_parts(parts, state)
            .await
            .map(ApiVisitor)
            .map_err(ApiError)
    }
}

/// The client's address, for login rate limiting; `inconnue` when the server was started
/// without connection info (tests calling the router directly).
#[derive(Debug, Clone)]
pub struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string())
                .unwrap_or_else(|| "inconnue".into()),
        ))
    }
}

/// Checks the `X-CSRF-Token` header of a write (bearer-token clients are exempt).
pub fn check_csrf(visitor: &Visitor, headers: &HeaderMap) -> Result<(), ApiError> {
    let submitted = headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    visitor.check_csrf(submitted).map_err(ApiError)
}
