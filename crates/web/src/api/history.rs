//! The amendment history: the list of amendments, the contract as it stood at a date and the
//! changes between two dates.

use super::json::{Json, Path, Query};
use super::{field_error, parse_api_date};
use crate::error::{ApiResult, Error, Problem};
use crate::AppState;
use axum::extract::State;
use quartiers_domain::diff::{diff, Change};
use quartiers_domain::ContractDocument;
use quartiers_store::amendments::Amendment;
use serde::{Deserialize, Serialize};
use time::Date;
use utoipa::{IntoParams, ToSchema};

/// One recorded amendment.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmendmentView {
    /// Id.
    pub id: i64,
    /// Date from which the change applies (YYYY-MM-DD).
    pub effective_on: String,
    /// When it was recorded (UTC).
    pub recorded_at: String,
    /// Who made it.
    pub author_label: String,
    /// One-line French summary.
    pub summary: String,
    /// Reason or avenant reference.
    pub reason: Option<String>,
    /// Field-level changes.
    pub changes: Vec<Change>,
}

impl From<Amendment> for AmendmentView {
    fn from(a: Amendment) -> Self {
        Self {
            id: a.id,
            effective_on: a.effective_on,
            recorded_at: a.recorded_at,
            author_label: a.author_label,
            summary: a.summary,
            reason: a.reason,
            changes: a.changes,
        }
    }
}

/// A range of effective dates.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DateRange {
    /// First effective date (YYYY-MM-DD), included.
    #[param(format = Date)]
    pub from: Option<String>,
    /// Last effective date (YYYY-MM-DD), included.
    #[param(format = Date)]
    pub to: Option<String>,
}

/// The two dates compared by `changes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesRange {
    /// The earlier date (YYYY-MM-DD): the contract as it stood at the end of that day.
    #[param(value_type = String, format = Date)]
    pub from: Option<String>,
    /// The later date (YYYY-MM-DD), on or after `from`.
    #[param(value_type = String, format = Date)]
    pub to: Option<String>,
}

fn optional_date(field: &str, value: &Option<String>) -> ApiResult<Option<Date>> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| parse_api_date(field, v))
        .transpose()
}

fn check_order(from: Date, to: Date) -> ApiResult<()> {
    if from > to {
        return Err(field_error(
            "to",
            "La date de fin doit être postérieure ou égale à la date de début.",
        ));
    }
    Ok(())
}

/// The contract as it stood at the end of `date` (its last amendment effective on or before it).
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/as-of/{date}",
    operation_id = "getContractAsOf",
    tag = "history",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        ("date" = String, Path, format = Date, description = "Date (YYYY-MM-DD)"),
    ),
    responses(
        (status = 200, description = "The contract document at that date", body = ContractDocument),
        (status = 404, description = "No such contract, or a date before its creation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid date", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn as_of(
    State(state): State<AppState>,
    Path((slug, date)): Path<(String, String)>,
) -> ApiResult<Json<ContractDocument>> {
    let date = parse_api_date("date", &date)?;
    let stored = state.store.contract(&slug).await?;
    let doc = state
        .store
        .contract_as_of(stored.id, date)
        .await?
        .ok_or(Error::NotFound)?;
    Ok(Json(doc))
}

/// The amendments of a contract, newest first.
///
/// Without dates, all of them. With `from` and/or `to`, those effective from `from` to `to`,
/// both included.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/amendments",
    operation_id = "listAmendments",
    tag = "history",
    params(("slug" = String, Path, description = "Contract slug"), DateRange),
    responses(
        (status = 200, description = "The amendments", body = [AmendmentView]),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid date", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn amendments(
    State(state): State<AppState>,
    visitor: super::json::ApiVisitor,
    Path(slug): Path<String>,
    Query(range): Query<DateRange>,
) -> ApiResult<Json<Vec<AmendmentView>>> {
    let from = optional_date("from", &range.from)?;
    let to = optional_date("to", &range.to)?;
    let stored = state.store.contract(&slug).await?;
    let list = if from.is_none() && to.is_none() {
        state.store.amendments(stored.id).await?
    } else {
        let from = from.unwrap_or(time::macros::date!(1000 - 01 - 01));
        let to = to.unwrap_or(time::macros::date!(9999 - 12 - 31));
        check_order(from, to)?;
        // The store's range excludes its start: start the day before to include `from`.
        let start = from.previous_day().unwrap_or(from);
        let mut list = state.store.amendments_between(stored.id, start, to).await?;
        list.reverse();
        list
    };
    Ok(Json(
        list.into_iter()
            .map(|mut a| {
                a.author_label = crate::changes::shown_author(&a.author_label, &visitor);
                AmendmentView::from(a)
            })
            .collect(),
    ))
}

/// What changed between the contract as it stood at the end of `from` and at the end of `to`.
///
/// Before the contract's creation, a date sees no contract: every field then shows as added.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/changes",
    operation_id = "listChanges",
    tag = "history",
    params(("slug" = String, Path, description = "Contract slug"), ChangesRange),
    responses(
        (status = 200, description = "The differences, field by field", body = [Change]),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid dates, or `from` after `to`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state))]
pub async fn changes(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    Query(range): Query<ChangesRange>,
) -> ApiResult<Json<Vec<Change>>> {
    let mut errors = quartiers_domain::ValidationErrors::new();
    let mut required = |field: &str, value: &Option<String>| match optional_date(field, value) {
        Ok(Some(d)) => Some(d),
        Ok(None) => {
            errors.add(
                field,
                "Ce paramètre est obligatoire (date au format AAAA-MM-JJ).",
            );
            None
        }
        Err(e) => {
            if let Error::Validation(v) = e.0 {
                errors.0.extend(v.0);
            }
            None
        }
    };
    let from = required("from", &range.from);
    let to = required("to", &range.to);
    errors.into_result()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Error::Internal(anyhow::anyhow!("dates checked above")).into());
    };
    check_order(from, to)?;
    let stored = state.store.contract(&slug).await?;
    let before = state.store.contract_as_of(stored.id, from).await?;
    let after = state.store.contract_as_of(stored.id, to).await?;
    Ok(Json(diff(before.as_ref(), after.as_ref())))
}
