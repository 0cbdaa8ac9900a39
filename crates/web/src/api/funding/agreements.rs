//! Agreements (annual, or multi-year CPO) for the granted lines, their amendments, and the
//! payments recorded against them.
//!
//! Pilots generate and amend agreements; the paying financer's instructors and the pilots
//! record payments; whoever may read the application reads its agreements.

use super::super::json::{check_csrf, ApiVisitor, Json, Path};
use super::super::{created, field_error, PREFIX};
use super::{cents, forbidden, readable, signed_in, JsonBody, CSRF_DOC};
use crate::auth::Visitor;
use crate::error::{ApiResult, Error, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use quartiers_domain::funding::access::ApplicationScope;
use quartiers_domain::Principal;
use quartiers_store::funding::agreements::{Agreement, AgreementTerms, Payment, PAYMENT_KINDS};
use quartiers_store::Store;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The terms of the agreements to generate.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementTermsInput {
    /// Share paid in advance, in percent (the balance follows the report).
    pub advance_percent: u8,
    /// When the end-of-action report is due (AAAA-MM-JJ).
    pub report_due_on: String,
    /// Obligations of the beneficiary (communication, evaluation...).
    #[serde(default)]
    pub obligations: String,
}

/// An agreement with its schedule.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementView {
    /// The agreement.
    pub agreement: Agreement,
    /// Advance of the schedule (cents).
    pub advance_cents: i64,
    /// Balance of the schedule, paid after the report (cents).
    pub balance_cents: i64,
    /// What is left to pay (cents).
    pub left_to_pay: i64,
}

/// An agreement with its payments.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementPayments {
    /// The agreement and its schedule.
    #[serde(flatten)]
    pub view: AgreementView,
    /// The payments recorded, by date.
    pub payments: Vec<Payment>,
}

/// A payment to record.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPayment {
    /// `avance`, `acompte` or `solde`.
    pub kind: String,
    /// Amount paid (cents).
    pub amount_cents: i64,
    /// Payment date (AAAA-MM-JJ).
    pub paid_on: String,
}

/// An amendment (avenant): a new amount for one year.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAmendment {
    /// The year amended.
    pub year: i32,
    /// The new amount for that year (cents).
    pub amount_cents: i64,
    /// Its object.
    pub reason: String,
}

fn view(a: Agreement) -> AgreementView {
    let (advance_cents, balance_cents) = Store::agreement_schedule(&a);
    AgreementView {
        left_to_pay: a.amount - a.paid,
        advance_cents,
        balance_cents,
        agreement: a,
    }
}

/// An agreement with the scope of its application and the principal (401, 404).
async fn agreement_in_scope<'v>(
    state: &AppState,
    visitor: &'v Visitor,
    id: i64,
) -> ApiResult<(&'v Principal, Agreement, ApplicationScope)> {
    let p = signed_in(visitor)?;
    let a = state.store.agreement(id).await?;
    let scope = state.store.application_scope(a.application_id).await?;
    Ok((p, a, scope))
}

/// Generates one agreement per granted line (multi-year when the request spans years) and
/// moves the application to `conventionne` (pilots).
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/agreements",
    operation_id = "createAgreements",
    tag = "funding",
    request_body = AgreementTermsInput,
    params(
        ("id" = i64, Path, description = "Application id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Generated", body = [AgreementView]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the contract, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not decided, nothing granted, or agreements already generated", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid terms", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn create(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Response> {
    let (_, scope) = readable(&state, &visitor, id).await?;
    if !signed_in(&visitor)?.steers(scope.contract_id) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: AgreementTermsInput = body.parse()?;
    let terms = AgreementTerms {
        advance_percent: input.advance_percent,
        report_due_on: input.report_due_on,
        obligations: input.obligations,
    };
    state
        .store
        .conventionner(id, &terms, &visitor.author())
        .await?;
    let list: Vec<AgreementView> = state
        .store
        .agreements(id)
        .await?
        .into_iter()
        .map(view)
        .collect();
    Ok(created(
        format!("{PREFIX}/applications/{id}/agreements"),
        list,
    ))
}

/// The agreements of an application, with their schedules.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/agreements",
    operation_id = "listAgreements",
    tag = "funding",
    params(("id" = i64, Path, description = "Application id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The agreements", body = [AgreementView]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "May not read the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn of_application(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<AgreementView>>> {
    readable(&state, &visitor, id).await?;
    Ok(Json(
        state
            .store
            .agreements(id)
            .await?
            .into_iter()
            .map(view)
            .collect(),
    ))
}

/// One agreement with its schedule.
#[utoipa::path(
    get,
    path = "/api/v1/agreements/{id}",
    operation_id = "getAgreement",
    tag = "funding",
    params(("id" = i64, Path, description = "Agreement id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The agreement", body = AgreementView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "May not read its application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<AgreementView>> {
    let (p, a, scope) = agreement_in_scope(&state, &visitor, id).await?;
    if !p.can_view_application(&scope) {
        return Err(forbidden());
    }
    Ok(Json(view(a)))
}

/// The payments of an agreement, with its schedule and what is left to pay.
#[utoipa::path(
    get,
    path = "/api/v1/agreements/{id}/payments",
    operation_id = "listPayments",
    tag = "funding",
    params(("id" = i64, Path, description = "Agreement id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The agreement and its payments", body = AgreementPayments),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "May not read its application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn payments(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<AgreementPayments>> {
    let (p, a, scope) = agreement_in_scope(&state, &visitor, id).await?;
    if !p.can_view_application(&scope) {
        return Err(forbidden());
    }
    Ok(Json(AgreementPayments {
        payments: state.store.payments(id).await?,
        view: view(a),
    }))
}

/// Records a payment (the paying financer's instructors, pilots); the application moves to
/// `paye` at the first one.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/payments",
    operation_id = "recordPayment",
    tag = "funding",
    request_body = NewPayment,
    params(
        ("id" = i64, Path, description = "Agreement id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Recorded", body = Payment),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither the paying financer nor a pilot, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application cannot be paid in its status", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown kind, invalid date, amount not positive or over what is left to pay", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn pay(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Response> {
    let (p, a, scope) = agreement_in_scope(&state, &visitor, id).await?;
    if !p.can_pay(scope.contract_id, &a.funder) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: NewPayment = body.parse()?;
    if !PAYMENT_KINDS.iter().any(|(k, _)| *k == input.kind) {
        return Err(field_error(
            "kind",
            &format!(
                "Type de paiement inconnu « {} » : avance, acompte ou solde.",
                input.kind
            ),
        ));
    }
    if input.amount_cents <= 0 {
        cents("amount_cents", input.amount_cents)?;
        return Err(field_error(
            "amount_cents",
            "Le montant d'un paiement est positif.",
        ));
    }
    let payment_id = state
        .store
        .record_payment(
            id,
            &input.kind,
            input.amount_cents,
            &input.paid_on,
            &visitor.author(),
        )
        .await
        .map_err(|e| super::renamed(e, "amount", "amount_cents"))?;
    let payment = state
        .store
        .payments(id)
        .await?
        .into_iter()
        .find(|x| x.id == payment_id)
        .ok_or(Error::NotFound)?;
    tracing::info!(agreement = id, payment = payment_id, "payment recorded");
    Ok(created(
        format!("{PREFIX}/agreements/{id}/payments"),
        payment,
    ))
}

/// Amends an agreement: a new amount for one year, with its object (pilots). The new total
/// may not fall below what was already paid.
#[utoipa::path(
    post,
    path = "/api/v1/agreements/{id}/amendments",
    operation_id = "amendAgreement",
    tag = "funding",
    request_body = NewAmendment,
    params(
        ("id" = i64, Path, description = "Agreement id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Amended; the agreement", body = AgreementView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a pilot of the contract, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such agreement", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Year not covered, missing object, negative amount or total below what was paid", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn amend(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Response> {
    let (p, _, scope) = agreement_in_scope(&state, &visitor, id).await?;
    if !p.steers(scope.contract_id) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: NewAmendment = body.parse()?;
    cents("amount_cents", input.amount_cents)?;
    state
        .store
        .amend_agreement(
            id,
            input.year,
            input.amount_cents,
            &input.reason,
            &visitor.author(),
        )
        .await
        .map_err(|e| super::renamed(e, "amount", "amount_cents"))?;
    Ok(created(
        format!("{PREFIX}/agreements/{id}"),
        view(state.store.agreement(id).await?),
    ))
}
