//! The JSON API under `/api/v1`, with its OpenAPI 3 document generated from the handlers
//! (`GET /api/v1/openapi.json`).
//!
//! Every change goes through [`crate::changes`], like the pages: authorization, the domain
//! operation, then the store's transactional save with its amendment. Errors are
//! `application/problem+json` documents with French messages ([`crate::error::ApiError`]).
//! Writes made with a session cookie carry the session's CSRF token in `X-CSRF-Token`;
//! clients using `Authorization: Bearer` are exempt.

mod collections;
mod contracts;
mod framework;
mod funding;
mod geo;
mod history;
mod json;
mod session;
#[cfg(test)]
mod tests;
mod users;

use crate::changes::ChangeMeta;
use crate::error::{ApiError, ApiResult, Error, Problem};
use crate::AppState;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use json::Json;
use quartiers_domain::parse_date;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use time::Date;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, OpenApi, ToSchema};

/// The prefix the API is nested under, for the OpenAPI paths and `Location` headers.
pub const PREFIX: &str = "/api/v1";

/// The API routes (nested under `/api/v1`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/openapi.json", get(openapi_json))
        .route("/locate", get(geo::locate))
        .route(
            "/locate/batch",
            post(geo::locate_batch).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/qpv", get(geo::list))
        .route("/qpv/{code}", get(geo::show))
        .route("/session", post(session::create).delete(session::delete))
        .route("/users", get(users::list).post(users::create))
        .route("/contracts", get(contracts::list).post(contracts::create))
        .route(
            "/contracts/{slug}",
            get(contracts::show)
                .put(contracts::replace)
                .delete(contracts::delete),
        )
        .route("/contracts/{slug}/export", get(contracts::export))
        .route("/contracts/{slug}/as-of/{date}", get(history::as_of))
        .route("/contracts/{slug}/amendments", get(history::amendments))
        .route("/contracts/{slug}/changes", get(history::changes))
        .route(
            "/contracts/{slug}/framework",
            get(framework::tree).post(framework::create),
        )
        .route(
            "/contracts/{slug}/framework/{key}",
            get(framework::show)
                .put(framework::update)
                .delete(framework::remove),
        )
        .route(
            "/contracts/{slug}/framework/{key}/move",
            post(framework::move_node),
        )
        .route(
            "/contracts/{slug}/{collection}",
            get(collections::list).post(collections::insert),
        )
        .route(
            "/contracts/{slug}/{collection}/{index}",
            get(collections::show)
                .put(collections::replace)
                .delete(collections::remove),
        )
        .route(
            "/contracts/{slug}/{collection}/{index}/move",
            post(collections::move_item),
        )
        .merge(funding::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

/// The OpenAPI document of the API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Quartiers API",
        description = "JSON API of the Quartiers platform: contrats de ville, their strategic framework, the contract's lists and the amendment history.\n\n\
Authentication: `POST /api/v1/session` returns a token to send as `Authorization: Bearer …`. \
With the pages' session cookie instead, every write must carry the session's CSRF token in `X-CSRF-Token`.\n\n\
Every change sends the contract `version` the client read (optimistic concurrency: 409 when it changed) \
and records an amendment (effective date `effective_on`, today by default; reason `reason`).\n\n\
Errors are `application/problem+json` documents (RFC 9457) with French messages and the failing fields."
    ),
    paths(
        session::create,
        session::delete,
        users::list,
        users::create,
        contracts::list,
        contracts::create,
        contracts::show,
        contracts::replace,
        contracts::delete,
        contracts::export,
        history::as_of,
        history::amendments,
        history::changes,
        framework::tree,
        framework::show,
        framework::create,
        framework::update,
        framework::remove,
        framework::move_node,
        collections::list,
        collections::show,
        collections::insert,
        collections::replace,
        collections::remove,
        collections::move_item,
        geo::locate,
        geo::locate_batch,
        geo::list,
        geo::show,
        openapi_json,
    ),
    components(schemas(
        Problem,
        collections::CollectionName,
        crate::geo::LocateAnswer,
        crate::geo::PerimeterRef,
        crate::geo::ContractRef,
        crate::geo::NearestQpv,
        crate::geo::GeocodingInfo,
        geo::QpvSummary,
        geo::QpvDetail,
        geo::CorrespondenceLine,
        quartiers_domain::Component,
        quartiers_domain::Signatory,
        quartiers_domain::CrossCuttingAxis,
        quartiers_domain::FlagshipAction,
        quartiers_domain::KeyFigure,
        quartiers_domain::ContractQpv,
        quartiers_domain::RenewalSite,
        quartiers_domain::LocalVolet,
        quartiers_domain::Section,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "session", description = "Signing in and out"),
        (name = "users", description = "Accounts and their roles (platform administrators)"),
        (name = "contracts", description = "Contracts: list, import, read, replace, export, delete"),
        (name = "framework", description = "The strategic framework: the tree of enjeux, ambitions, actions…"),
        (name = "collections", description = "The contract's lists: components, signatories, cross-cutting axes, flagship actions, key figures, QPV, renewal sites, local volets, sections"),
        (name = "history", description = "Amendments, the contract as of a date, changes between two dates"),
        (name = "geography", description = "Priority geography: is this point, address or file in a QPV? The QPV registry"),
        (name = "meta", description = "Description of the API"),
    )
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("Token returned by POST /api/v1/session."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "Session cookie of the pages; writes then need the X-CSRF-Token header.",
            ))),
        );
    }
}

/// The OpenAPI document, serialized once.
pub fn openapi_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.merge(funding::FundingApi::openapi());
        doc.to_pretty_json()
            .expect("the OpenAPI document serializes")
    })
}

/// The OpenAPI 3 document of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "getOpenApi",
    tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document", content_type = "application/json", body = Object))
)]
#[tracing::instrument]
async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], openapi_text()).into_response()
}

async fn not_found() -> ApiError {
    ApiError(Error::NotFound)
}

async fn method_not_allowed() -> Response {
    problem(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Méthode non autorisée",
        "Cette adresse de l'API n'accepte pas cette méthode HTTP.",
    )
}

/// A problem document for the few cases [`Error`] does not name.
fn problem(status: StatusCode, kind: &str, title: &str, detail: &str) -> Response {
    let p = Problem {
        kind: format!("{PREFIX}/problems/{kind}"),
        title: title.into(),
        status: status.as_u16(),
        detail: detail.into(),
        errors: vec![],
    };
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        serde_json::to_string(&p).unwrap_or_default(),
    )
        .into_response()
}

/// The contract version after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionResponse {
    /// The new version of the contract, to send with the next change.
    pub version: i64,
}

/// Metadata of a change given in the query string (deletions).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangeParams {
    /// The contract version the client read (optimistic concurrency).
    #[param(value_type = i64)]
    pub version: Option<String>,
    /// Effective date of the change (YYYY-MM-DD); today when absent.
    pub effective_on: Option<String>,
    /// Reason or avenant reference.
    pub reason: Option<String>,
}

impl ChangeParams {
    fn meta(&self) -> ApiResult<ChangeMeta> {
        let version = match self
            .version
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
        {
            None => {
                return Err(field_error(
                    "version",
                    "Ce paramètre est obligatoire : la version du contrat lue.",
                ))
            }
            Some(v) => v.parse::<i64>().map_err(|_| {
                field_error(
                    "version",
                    &format!("« {v} » n'est pas un numéro de version."),
                )
            })?,
        };
        Ok(ChangeMeta {
            version,
            effective_on: self.effective_on.clone(),
            reason: self.reason.clone(),
        })
    }
}

/// Builds the change metadata from a request body's fields.
fn meta(version: i64, effective_on: &Option<String>, reason: &Option<String>) -> ChangeMeta {
    ChangeMeta {
        version,
        effective_on: effective_on.clone(),
        reason: reason.clone(),
    }
}

/// A 422 problem on one field.
fn field_error(field: &str, message: &str) -> ApiError {
    ApiError(Error::Validation(
        quartiers_domain::ValidationErrors::single(field, message),
    ))
}

/// Parses a date of the API (YYYY-MM-DD), as a field error.
fn parse_api_date(field: &str, s: &str) -> ApiResult<Date> {
    let d = parse_date(s).map_err(|m| field_error(field, &m))?;
    if !(1000..=9999).contains(&d.year()) {
        return Err(field_error(field, "L'année doit compter quatre chiffres."));
    }
    Ok(d)
}

/// Moving an element up or down among its siblings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// One place up (towards the start of the list).
    Up,
    /// One place down.
    Down,
}

impl Direction {
    fn is_up(self) -> bool {
        self == Direction::Up
    }
    fn label(self) -> &'static str {
        match self {
            Direction::Up => "vers le haut",
            Direction::Down => "vers le bas",
        }
    }
}

/// Grammatical gender of a French noun, guessed for the labels a contract gives its levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Gender {
    Masculine,
    Feminine,
    Unknown,
}

impl Gender {
    /// Agreement suffix of a past participle: `` / `e` / `(e)`.
    fn suffix(self) -> &'static str {
        match self {
            Gender::Masculine => "",
            Gender::Feminine => "e",
            Gender::Unknown => "(e)",
        }
    }

    /// Guesses from the head noun's ending; `(e)` when unsure.
    fn guess(label: &str) -> Gender {
        let head = label.split_whitespace().next().unwrap_or("").to_lowercase();
        const FEMININE: [&str; 15] = [
            "tion", "sion", "ité", "té", "ure", "ence", "ance", "ique", "ie", "ée", "ade", "ude",
            "esse", "ette", "ise",
        ];
        const MASCULINE_WORDS: [&str; 12] = [
            "axe",
            "programme",
            "domaine",
            "thème",
            "principe",
            "volet",
            "objectif",
            "pilier",
            "enjeu",
            "défi",
            "chantier",
            "levier",
        ];
        const FEMININE_WORDS: [&str; 6] = [
            "fiche",
            "orientation",
            "mesure",
            "priorité",
            "ambition",
            "action",
        ];
        if FEMININE_WORDS.contains(&head.as_str()) {
            Gender::Feminine
        } else if MASCULINE_WORDS.contains(&head.as_str()) {
            Gender::Masculine
        } else if FEMININE.iter().any(|e| head.ends_with(e)) {
            Gender::Feminine
        } else if head.ends_with("ment")
            || head.ends_with("eu")
            || head.ends_with("if")
            || head.ends_with("er")
            || head.ends_with("et")
        {
            Gender::Masculine
        } else {
            Gender::Unknown
        }
    }
}

/// `« Mobilité » modifiée`-style summary of a change to a framework node.
fn node_summary(level_singular: &str, title: &str, verb: &str) -> String {
    format!(
        "{} « {} » {verb}{}",
        crate::layout::capitalize(level_singular),
        title.trim(),
        Gender::guess(level_singular).suffix()
    )
}

/// Summary of a change to an item of a contract list.
fn item_summary(c: quartiers_domain::edit::Collection, label: &str, verb: &str) -> String {
    use quartiers_domain::edit::Collection::*;
    let gender = match c {
        Components | FlagshipActions | Sections => Gender::Feminine,
        Signatories | Axes | KeyFigures | Qpvs | RenewalSites | LocalVolets => Gender::Masculine,
    };
    format!(
        "{} « {} » {verb}{}",
        crate::layout::capitalize(c.singular()),
        label.trim(),
        gender.suffix()
    )
}

/// 201 Created with a `Location` header and a JSON body.
fn created<T: Serialize>(location: String, body: T) -> Response {
    (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response()
}
