//! End-of-action reports (bilans, after CERFA 15059): saved as drafts by the applicant, filed
//! when complete (which moves the application to `bilan_depose`); read by whoever may read
//! the application.

use super::super::json::{check_csrf, ApiVisitor, Json, Path};
use super::{forbidden, prefixed, readable, signed_in, JsonBody, CSRF_DOC};
use crate::error::{ApiResult, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use quartiers_domain::funding::{ReportBody, Status};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The report of an application.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    /// Content (empty when not started).
    pub body: ReportBody,
    /// Version, to send with the next save (0 when not started).
    pub version: i64,
    /// When it was filed.
    pub filed_at: Option<String>,
    /// The application's status.
    pub status: Status,
}

/// A report save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportSave {
    /// The version read (0 for a new report).
    pub version: i64,
    /// The whole content.
    pub body: ReportBody,
    /// File the report: it is then checked against the forecast (every year reported and
    /// balanced, every indicator, each large gap explained).
    #[serde(default)]
    pub file: bool,
}

/// The outcome of a report save.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSaved {
    /// Version, to send with the next save.
    pub version: i64,
    /// Whether it was filed.
    pub filed: bool,
    /// The application's status now.
    pub status: Status,
}

/// The report of an application (empty, version 0, when not started).
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/report",
    operation_id = "getReport",
    tag = "funding",
    params(("id" = i64, Path, description = "Application id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The report", body = ReportView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "May not read the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<ReportView>> {
    let (app, _) = readable(&state, &visitor, id).await?;
    Ok(Json(match state.store.report(id).await? {
        Some(r) => ReportView {
            body: r.body,
            version: r.version,
            filed_at: r.filed_at,
            status: app.status,
        },
        None => ReportView {
            body: ReportBody::default(),
            version: 0,
            filed_at: None,
            status: app.status,
        },
    }))
}

/// Saves the report at the version read (the applicant); with `file`, files it.
#[utoipa::path(
    put,
    path = "/api/v1/applications/{id}/report",
    operation_id = "saveReport",
    tag = "funding",
    request_body = ReportSave,
    params(
        ("id" = i64, Path, description = "Application id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Saved (and filed when asked)", body = ReportSaved),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the applying organisation, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed since the version read, or the application is not at the report stage", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or incomplete report (field errors under `body`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn save(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Json<ReportSaved>> {
    let (_, scope) = readable(&state, &visitor, id).await?;
    let p = signed_in(&visitor)?;
    if !(p.is_admin || p.member_of(scope.organisation_id)) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: ReportSave = body.parse()?;
    let version = state
        .store
        .save_report(
            id,
            &input.body,
            input.version,
            input.file,
            &visitor.author(),
        )
        .await
        .map_err(|e| prefixed(e, "body", |_| false))?;
    let status = state.store.application(id).await?.status;
    Ok(Json(ReportSaved {
        version,
        filed: input.file,
        status,
    }))
}
