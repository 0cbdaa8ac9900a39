//! Following the money: totals requested, proposed, decided, agreed and paid, grouped by one
//! dimension (pilots; a financer sees only its own lines), and the overdue reports (pilots).

use super::super::field_error;
use super::super::json::{ApiVisitor, Json, Path, Query};
use super::{contract_for, forbidden};
use crate::error::{ApiResult, Problem};
use crate::funding::steered_contract;
use crate::AppState;
use axum::extract::State;
use quartiers_store::funding::agreements::OverdueReport;
use quartiers_store::funding::dashboards::{DashboardFilter, Dimension, Totals};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// What the totals are grouped and filtered by.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TotalsParams {
    /// Grouping: `annee`, `composante`, `financeur` (default), `structure`, `cadre`, `qpv`,
    /// `commune` or `statut`.
    pub by: Option<String>,
    /// Only this programme year.
    pub year: Option<String>,
    /// Only this financer (a financer's instructors: their own, the default).
    pub funder: Option<String>,
}

/// Totals by group, with the grand total.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotalsView {
    /// The grouping.
    pub by: Dimension,
    /// The financer the totals are restricted to, if any.
    pub funder: Option<String>,
    /// One row per group (amounts in cents).
    pub rows: Vec<Totals>,
    /// The grand total (an application counted once even when in several groups).
    pub total: Totals,
}

/// Totals of a contract's financer lines (drafts and withdrawn applications excepted).
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/funding/totals",
    operation_id = "getFundingTotals",
    tag = "funding",
    params(("slug" = String, Path, description = "Contract slug"), TotalsParams),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The totals", body = TotalsView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a pilot nor a financer of the contract, or another financer's totals", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown grouping or invalid year", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn totals(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(slug): Path<String>,
    Query(params): Query<TotalsParams>,
) -> ApiResult<Json<TotalsView>> {
    let (p, contract) = contract_for(&state, &visitor, &slug).await?;
    let asked = params
        .funder
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string);
    let funder = if p.steers(contract.id) {
        asked
    } else {
        let mine = p.funder_codes(contract.id);
        match asked {
            _ if mine.is_empty() => return Err(forbidden()),
            Some(f) if !mine.contains(&f.as_str()) => return Err(forbidden()),
            Some(f) => Some(f),
            None if mine.len() == 1 => Some(mine[0].to_string()),
            None => {
                return Err(field_error(
                    "funder",
                    "Indiquez le financeur dont vous voulez les totaux (paramètre funder).",
                ))
            }
        }
    };
    let by = match params
        .by
        .as_deref()
        .map(str::trim)
        .filter(|b| !b.is_empty())
    {
        None => Dimension::Financeur,
        Some(b) => Dimension::parse(b).ok_or_else(|| {
            let codes: Vec<&str> = Dimension::ALL.iter().map(|d| d.code()).collect();
            field_error(
                "by",
                &format!(
                    "Regroupement inconnu « {b} » ; valeurs possibles : {}.",
                    codes.join(", ")
                ),
            )
        })?,
    };
    let year = match params
        .year
        .as_deref()
        .map(str::trim)
        .filter(|y| !y.is_empty())
    {
        None => None,
        Some(y) => Some(
            y.parse::<i64>()
                .ok()
                .filter(|y| (2000..=2100).contains(y))
                .ok_or_else(|| {
                    field_error(
                        "year",
                        &format!("« {y} » n'est pas une année (exemple : 2026)."),
                    )
                })?,
        ),
    };
    let filter = DashboardFilter {
        year,
        funder: funder.clone(),
    };
    Ok(Json(TotalsView {
        rows: state.store.totals(contract.id, by, &filter).await?,
        total: state.store.grand_total(contract.id, &filter).await?,
        by,
        funder,
    }))
}

/// The reports past their due date and not filed, on a contract (pilots).
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/funding/overdue-reports",
    operation_id = "listOverdueReports",
    tag = "funding",
    params(("slug" = String, Path, description = "Contract slug")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The overdue reports, oldest due first", body = [OverdueReport]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the contract", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn overdue_reports(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(slug): Path<String>,
) -> ApiResult<Json<Vec<OverdueReport>>> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    Ok(Json(state.store.overdue_reports(Some(contract.id)).await?))
}
