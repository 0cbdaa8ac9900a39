//! The funding cycle in the JSON API: organisations and their standing documents, financers
//! and calls for projects, applications and their workflow, programming committees,
//! agreements and payments, end-of-action reports and the dashboards that follow the money.
//!
//! Every handler starts with its authorization check — 401 when anonymous, 403 when the
//! signed-in user has no right on what the URL names (another organisation's id included) —,
//! then checks the CSRF header of writes made with a session cookie, and only then reads its
//! input. It calls the same store operations as the pages, so the same rules, transactions
//! and notifications apply. Errors are French `application/problem+json` documents whose
//! `errors` name the failing field by its path in the request body.

mod agreements;
mod applications;
mod calls;
mod committees;
mod dashboards;
mod organisations;
mod reports;

use super::json::parse_json;
use crate::auth::Visitor;
use crate::error::{ApiError, ApiResult, Error};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap};
use axum::routing::{get, post};
use axum::Router;
use quartiers_domain::funding::access::ApplicationScope;
use quartiers_domain::{Principal, ValidationErrors};
use quartiers_store::contracts::StoredContract;
use quartiers_store::funding::applications::StoredApplication;
use quartiers_store::StoreError;
use serde::de::DeserializeOwned;
use utoipa::OpenApi;

/// Routes under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/organisations",
            get(organisations::list).post(organisations::create),
        )
        .route("/organisations/{id}", get(organisations::show))
        .route(
            "/organisations/{id}/members",
            post(organisations::add_member),
        )
        .route(
            "/organisations/{id}/documents",
            get(organisations::documents)
                .post(organisations::upload)
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/organisations/{id}/documents/{doc_id}",
            get(organisations::document),
        )
        .route(
            "/organisations/{id}/applications",
            get(applications::of_organisation),
        )
        .route("/contracts/{slug}/funders", get(calls::funders))
        .route(
            "/contracts/{slug}/funders/{code}",
            get(calls::funder).put(calls::put_funder),
        )
        .route(
            "/contracts/{slug}/calls",
            get(calls::list).post(calls::create),
        )
        .route("/contracts/{slug}/worklist", get(applications::worklist))
        .route("/contracts/{slug}/funding/totals", get(dashboards::totals))
        .route(
            "/contracts/{slug}/funding/overdue-reports",
            get(dashboards::overdue_reports),
        )
        .route("/calls/{id}", get(calls::show).put(calls::update))
        .route("/calls/{id}/envelopes", get(calls::envelopes))
        .route("/calls/{id}/publication", post(calls::publish))
        .route(
            "/calls/{id}/applications",
            get(applications::of_call).post(applications::create),
        )
        .route(
            "/calls/{id}/committees",
            get(committees::list).post(committees::create),
        )
        .route("/committees/{id}", get(committees::show))
        .route("/committees/{id}/decisions", post(committees::decide))
        .route(
            "/applications/{id}",
            get(applications::show).put(applications::save),
        )
        .route("/applications/{id}/missing", get(applications::missing))
        .route("/applications/{id}/events", get(applications::events))
        .route(
            "/applications/{id}/events/{event}",
            post(applications::fire),
        )
        .route(
            "/applications/{id}/opinions/{funder}",
            post(applications::opinion),
        )
        .route(
            "/applications/{id}/messages",
            get(applications::messages).post(applications::post_message),
        )
        .route(
            "/applications/{id}/agreements",
            get(agreements::of_application).post(agreements::create),
        )
        .route(
            "/applications/{id}/report",
            get(reports::show).put(reports::save),
        )
        .route("/agreements/{id}", get(agreements::show))
        .route(
            "/agreements/{id}/payments",
            get(agreements::payments).post(agreements::pay),
        )
        .route("/agreements/{id}/amendments", post(agreements::amend))
}

/// The OpenAPI description of the funding routes, merged into the API's document.
#[derive(OpenApi)]
#[openapi(
    paths(
        organisations::create,
        organisations::list,
        organisations::show,
        organisations::add_member,
        organisations::documents,
        organisations::upload,
        organisations::document,
        applications::of_organisation,
        calls::funders,
        calls::funder,
        calls::put_funder,
        calls::list,
        calls::create,
        calls::show,
        calls::update,
        calls::envelopes,
        calls::publish,
        applications::of_call,
        applications::create,
        applications::show,
        applications::save,
        applications::missing,
        applications::fire,
        applications::opinion,
        applications::events,
        applications::messages,
        applications::post_message,
        applications::worklist,
        committees::list,
        committees::create,
        committees::show,
        committees::decide,
        agreements::create,
        agreements::of_application,
        agreements::show,
        agreements::pay,
        agreements::payments,
        agreements::amend,
        reports::show,
        reports::save,
        dashboards::totals,
        dashboards::overdue_reports,
    ),
    components(schemas(
        quartiers_domain::funding::ApplicationBody,
        quartiers_domain::funding::ReportBody,
        quartiers_domain::funding::Status,
        quartiers_domain::funding::Event,
        quartiers_domain::funding::Opinion,
        quartiers_domain::funding::Decision,
        quartiers_store::funding::dashboards::Dimension,
    )),
    tags((
        name = "funding",
        description = "The funding cycle: organisations and their standing documents, financers and calls for projects with their envelopes, applications (CERFA 12156) and their workflow with French event codes, opinions per financer line, programming committees, agreements and payments, end-of-action reports (CERFA 15059) and the dashboards. Applicants see only their organisations' applications; a financer's instructors see the applications soliciting their institution and act on its line only; pilots steer the whole call."
    ))
)]
pub struct FundingApi;

/// The description of the CSRF header parameter of writes.
const CSRF_DOC: &str =
    "The session's CSRF token (session cookie only; not needed with a bearer token)";

/// A request body read before the authorization check and parsed after it, so that an
/// anonymous or unauthorized caller is told so (401/403) whatever it sent.
#[derive(Debug)]
pub(crate) struct JsonBody {
    bytes: Bytes,
    is_json: bool,
}

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = is_json(req.headers());
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
        Ok(Self { bytes, is_json })
    }
}

impl JsonBody {
    /// Parses the JSON body, with French field errors.
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> ApiResult<T> {
        if !self.is_json {
            return Err(Error::BadRequest(
                "Le corps de la requête doit être du JSON, envoyé avec l'en-tête « Content-Type: application/json »."
                    .into(),
            )
            .into());
        }
        parse_json(&self.bytes)
    }

    /// Like [`JsonBody::parse`], the default value when the body is empty.
    pub(crate) fn parse_or_default<T: DeserializeOwned + Default>(&self) -> ApiResult<T> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        self.parse()
    }
}

fn is_json(headers: &HeaderMap) -> bool {
    let essence = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| ct.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The signed-in principal, or 401.
fn signed_in(visitor: &Visitor) -> ApiResult<&Principal> {
    Ok(crate::funding::signed_in(visitor)?)
}

/// An application the visitor may read, with its scope (401, 403, 404).
async fn readable(
    state: &AppState,
    visitor: &Visitor,
    id: i64,
) -> ApiResult<(StoredApplication, ApplicationScope)> {
    Ok(crate::funding::readable_application(state, visitor, id).await?)
}

/// A contract by slug, for any signed-in user (401, then 404).
async fn contract_for<'v>(
    state: &AppState,
    visitor: &'v Visitor,
    slug: &str,
) -> ApiResult<(&'v Principal, StoredContract)> {
    let principal = signed_in(visitor)?;
    let contract = state.store.contract(slug).await?;
    Ok((principal, contract))
}

/// A 403.
fn forbidden() -> ApiError {
    ApiError(Error::Forbidden)
}

/// A store error whose field errors are renamed to their path in the request body
/// (`end_on` → `body.end_on`); fields for which `keep` is true stay as they are.
fn prefixed(e: StoreError, prefix: &str, keep: impl Fn(&str) -> bool) -> ApiError {
    match e {
        StoreError::Invalid(v) => ApiError(Error::Validation(prefix_errors(v, prefix, keep))),
        e => e.into(),
    }
}

/// A store error whose field `from` is renamed `to` (its name in the request body).
fn renamed(e: StoreError, from: &str, to: &str) -> ApiError {
    match e {
        StoreError::Invalid(v) => {
            let mut out = ValidationErrors::new();
            for e in v.0 {
                out.add(
                    if e.field == from {
                        to.to_string()
                    } else {
                        e.field
                    },
                    e.message,
                );
            }
            ApiError(Error::Validation(out))
        }
        e => e.into(),
    }
}

/// Renames field errors to their path under `prefix`.
fn prefix_errors(
    v: ValidationErrors,
    prefix: &str,
    keep: impl Fn(&str) -> bool,
) -> ValidationErrors {
    let mut out = ValidationErrors::new();
    for e in v.0 {
        if keep(&e.field) {
            out.add(e.field, e.message);
        } else {
            out.add(format!("{prefix}.{}", e.field), e.message);
        }
    }
    out
}

/// Checks an amount in cents given in a request.
fn cents(field: &str, value: i64) -> ApiResult<quartiers_domain::Cents> {
    quartiers_domain::Cents::new(value).map_err(|m| super::field_error(field, &m))
}

/// A text a user wrote, trimmed, `None` when empty.
fn text(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}
