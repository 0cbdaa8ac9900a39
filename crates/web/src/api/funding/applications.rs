//! Applications (dossiers): creation (or renewal), draft saves with optimistic concurrency,
//! what is missing for submission, the workflow's French events, the financers' opinions on
//! their own line, the audit trail, the messages, and the lists each kind of user works from.

use super::super::json::{check_csrf, ApiVisitor, Json, Path, Query};
use super::super::{created, field_error, PREFIX};
use super::{
    cents, contract_for, forbidden, prefix_errors, prefixed, readable, signed_in, text, JsonBody,
    CSRF_DOC,
};
use crate::error::{ApiResult, Error, Problem};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use quartiers_domain::funding::access::ApplicationScope;
use quartiers_domain::funding::call::closed_reason;
use quartiers_domain::funding::workflow::{events_from, TransitionError};
use quartiers_domain::funding::{ApplicationBody, Event, Opinion, Status};
use quartiers_domain::{FieldError, Principal, Role, ValidationErrors};
use quartiers_store::funding::applications::{
    ApplicationRow, AuditEntry, FundingLine, Message, StoredApplication,
};
use quartiers_store::funding::FireOutcome;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// A new application.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApplication {
    /// The applying organisation (the caller must be one of its members).
    pub organisation_id: i64,
    /// The content (a draft may be incomplete). When absent with `renewed_from`, last
    /// year's content moved one year on; otherwise empty.
    #[serde(default)]
    pub body: Option<ApplicationBody>,
    /// The application of a previous year this one renews.
    #[serde(default)]
    pub renewed_from: Option<i64>,
}

/// A created application.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedApplication {
    /// Id.
    pub id: i64,
    /// Reference (`MEL-2024-2027-0001`).
    pub reference: String,
    /// Status (`brouillon`).
    pub status: Status,
    /// Version, to send with the next save.
    pub version: i64,
}

/// An application with its financer lines.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    /// The application: content, status, version.
    pub application: StoredApplication,
    /// One line per financer solicited (created at submission): requested, opinion,
    /// proposed, decision, granted, agreed, paid.
    pub lines: Vec<FundingLine>,
    /// The organisation has an overdue report on another application.
    pub overdue_report: bool,
    /// The workflow events the caller may fire now (guards aside).
    pub events: Vec<Event>,
}

/// A draft save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationSave {
    /// The version read (optimistic concurrency).
    pub version: i64,
    /// The whole content.
    pub body: ApplicationBody,
}

/// The new version after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Saved {
    /// Version, to send with the next change.
    pub version: i64,
}

/// What is missing for submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct MissingPieces {
    /// Nothing is missing.
    pub complete: bool,
    /// Each missing piece, by its path in the request body (`body.budget`...; `documents`
    /// for the organisation's standing documents).
    pub missing: Vec<FieldError>,
    /// Why the call refuses submissions today, if it does.
    pub call_closed: Option<String>,
}

/// A workflow event.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventRequest {
    /// Comment; required to ask for more information (`demander_complement`) or to send a
    /// report back (`renvoyer_bilan`). It is added to the messages when it speaks to the other side.
    #[serde(default)]
    pub comment: Option<String>,
    /// The version of the application read. With it, repeating the same request (double
    /// click) is answered 200 with `already_done` and does nothing more.
    #[serde(default)]
    pub version: Option<i64>,
}

/// The outcome of an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventOutcome {
    /// The status now.
    pub status: Status,
    /// The version now.
    pub version: i64,
    /// The same event had just been applied from the same version: nothing more was done.
    pub already_done: bool,
}

/// A financer's opinion on its line.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpinionRequest {
    /// `favorable`, `reserve` or `defavorable`.
    pub opinion: Opinion,
    /// The amount the instructor proposes (cents, over every year).
    pub proposed_cents: i64,
    /// Comment.
    #[serde(default)]
    pub comment: Option<String>,
}

/// The status after an opinion.
#[derive(Debug, Serialize, ToSchema)]
pub struct OpinionOutcome {
    /// The status (`avis_rendus` once every financer has given its opinion).
    pub status: Status,
    /// The version now.
    pub version: i64,
}

/// A new message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMessage {
    /// Text.
    pub body: String,
}

/// Filters of a financer's worklist.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorklistParams {
    /// Financer code; defaults to the caller's when it acts for one financer only.
    pub funder: Option<String>,
    /// Status codes, comma-separated (`depose,en_instruction`); every status after
    /// submission by default.
    pub status: Option<String>,
}

/// The statuses of a worklist by default: every status after submission.
const WORKLIST_DEFAULT: &[Status] = &[
    Status::Depose,
    Status::EnInstruction,
    Status::ComplementDemande,
    Status::AvisRendus,
    Status::Decide,
    Status::Conventionne,
    Status::Paye,
    Status::BilanAttendu,
    Status::BilanDepose,
    Status::Clos,
];

/// Whether `p` is on the applicant's side of the application (or an administrator).
fn applicant(p: &Principal, scope: &ApplicationScope) -> bool {
    p.is_admin || p.member_of(scope.organisation_id)
}

/// The body's field errors, as paths of the request (`end_on` → `body.end_on`).
fn body_errors(e: ValidationErrors) -> ValidationErrors {
    prefix_errors(e, "body", |f| f == "documents")
}

/// Starts an application (draft) of an organisation in a call; with `renewed_from`, from a
/// previous year's application of the same organisation.
#[utoipa::path(
    post,
    path = "/api/v1/calls/{id}/applications",
    operation_id = "createApplication",
    tag = "funding",
    request_body = NewApplication,
    params(
        ("id" = i64, Path, description = "Call id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created (draft)", body = CreatedApplication, headers(("Location" = String, description = "The application's URL"))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the organisation, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid content (field errors under `body`) or application to renew", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn create(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(call_id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Response> {
    let p = signed_in(&visitor)?;
    check_csrf(&visitor, &headers)?;
    let input: NewApplication = body.parse()?;
    if !(p.is_admin || p.member_of(input.organisation_id)) {
        return Err(forbidden());
    }
    let call = state.store.call(call_id).await?;
    state.store.organisation(input.organisation_id).await?;
    let content = match input.renewed_from {
        None => input.body.unwrap_or_default(),
        Some(from) => {
            let source = match state.store.application(from).await {
                Ok(a) => a,
                Err(quartiers_store::StoreError::NotFound) => {
                    return Err(field_error(
                        "renewed_from",
                        &format!("Le dossier n° {from} n'existe pas."),
                    ))
                }
                Err(e) => return Err(e.into()),
            };
            if source.organisation_id != input.organisation_id {
                return Err(field_error(
                    "renewed_from",
                    &format!(
                        "Le dossier {} n'est pas un dossier de cette structure.",
                        source.reference
                    ),
                ));
            }
            if source.contract_id != call.contract_id {
                return Err(field_error(
                    "renewed_from",
                    &format!(
                        "Le dossier {} relève d'un autre contrat de ville.",
                        source.reference
                    ),
                ));
            }
            input.body.unwrap_or_else(|| source.body.renewed())
        }
    };
    let id = state
        .store
        .create_application(
            call_id,
            input.organisation_id,
            &content,
            input.renewed_from,
            &visitor.author(),
        )
        .await
        .map_err(|e| prefixed(e, "body", |_| false))?;
    let app = state.store.application(id).await?;
    tracing::info!(application = id, "application created");
    Ok(created(
        format!("{PREFIX}/applications/{id}"),
        CreatedApplication {
            id,
            reference: app.reference,
            status: app.status,
            version: app.version,
        },
    ))
}

/// An application: content, status, version, financer lines.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}",
    operation_id = "getApplication",
    tag = "funding",
    params(("id" = i64, Path, description = "Application id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The application", body = ApplicationView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither of its organisation, a solicited financer, a pilot nor a reader of its contract", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApplicationView>> {
    let (app, scope) = readable(&state, &visitor, id).await?;
    let p = signed_in(&visitor)?;
    let events = events_from(app.status)
        .into_iter()
        .filter(|e| p.can_fire(&scope, *e))
        .collect();
    Ok(Json(ApplicationView {
        lines: state.store.funding_lines(id).await?,
        overdue_report: state.store.has_overdue_report(app.organisation_id).await?,
        events,
        application: app,
    }))
}

/// Saves the content of a draft (or of an application whose complement was asked), at the
/// version read: a concurrent save is refused with 409 and nothing is overwritten.
#[utoipa::path(
    put,
    path = "/api/v1/applications/{id}",
    operation_id = "saveApplication",
    tag = "funding",
    request_body = ApplicationSave,
    params(
        ("id" = i64, Path, description = "Application id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Saved", body = Saved),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the applying organisation, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Changed since the version read, or no longer editable", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid content (field errors under `body`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn save(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Json<Saved>> {
    let (_, scope) = readable(&state, &visitor, id).await?;
    if !applicant(signed_in(&visitor)?, &scope) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: ApplicationSave = body.parse()?;
    let version = state
        .store
        .save_application(id, &input.body, input.version, &visitor.author())
        .await
        .map_err(|e| prefixed(e, "body", |_| false))?;
    Ok(Json(Saved { version }))
}

/// Every piece still missing to submit the application, by field.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/missing",
    operation_id = "getMissingPieces",
    tag = "funding",
    params(("id" = i64, Path, description = "Application id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "What is missing (empty when ready to submit)", body = MissingPieces),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "May not read the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn missing(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<MissingPieces>> {
    let (app, _) = readable(&state, &visitor, id).await?;
    let ctx = state.store.submission_context(app.id).await?;
    let missing = body_errors(app.body.missing(&ctx)).0;
    let call = state.store.call(app.call_id).await?;
    Ok(Json(MissingPieces {
        complete: missing.is_empty(),
        missing,
        call_closed: closed_reason(call.opens_on, call.closes_on, quartiers_store::today()),
    }))
}

/// Events that have their own route (they need more than a comment).
fn dedicated_route(event: Event) -> Option<&'static str> {
    match event {
        Event::Conventionner => {
            Some("POST /api/v1/applications/{id}/agreements, avec les conditions de la convention")
        }
        Event::Payer => Some("POST /api/v1/agreements/{id}/payments, avec le montant payé"),
        Event::DeposerBilan => {
            Some("PUT /api/v1/applications/{id}/report, avec le bilan et « file »: true")
        }
        _ => None,
    }
}

/// Fires a workflow event (French code: `deposer`, `instruire`, `demander_complement`,
/// `completer`, `rendre_avis`, `decider`, `reprogrammer`, `attendre_bilan`,
/// `renvoyer_bilan`, `clore`, `retirer`). The audit row and the notifications are written
/// in the same transaction. Applicants fire theirs, instructors of a solicited financer
/// theirs, pilots theirs and the instructors'.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/events/{event}",
    operation_id = "fireApplicationEvent",
    tag = "funding",
    request_body = EventRequest,
    params(
        ("id" = i64, Path, description = "Application id"),
        ("event" = String, Path, description = "Event code (`deposer`, `instruire`, `demander_complement`...)"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Done (or already done from the same version)", body = EventOutcome),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "May not fire this event on this application, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The workflow forbids it from the current status, the call is closed, or the application changed since the version read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown event, missing comment, or application incomplete (each missing piece by field)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn fire(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((id, code)): Path<(i64, String)>,
    body: JsonBody,
) -> ApiResult<Json<EventOutcome>> {
    let (app, scope) = readable(&state, &visitor, id).await?;
    let p = signed_in(&visitor)?;
    let event = Event::parse(&code).map_err(|m| {
        let codes: Vec<&str> = Event::ALL.iter().map(|e| e.code()).collect();
        field_error(
            "event",
            &format!("{m} Actions possibles : {}.", codes.join(", ")),
        )
    })?;
    if !p.can_fire(&scope, event) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: EventRequest = body.parse_or_default()?;
    if let Some(route) = dedicated_route(event) {
        return Err(field_error(
            "event",
            &format!(
                "L'action « {} » a sa propre adresse : {route}.",
                event.code()
            ),
        ));
    }
    let comment = text(&input.comment);
    // A request from an older version goes straight to the store, which recognises a
    // repeated request (double click) or refuses a stale one.
    if input.version.is_none_or(|v| v == app.version) {
        if !events_from(app.status).contains(&event) {
            return Err(Error::Conflict(
                TransitionError::NotFromHere {
                    action: event.label(),
                    status: app.status.label(),
                }
                .to_string(),
            )
            .into());
        }
        match event {
            Event::DemanderComplement if comment.is_none() => {
                return Err(field_error(
                    "comment",
                    "Écrivez ce qui est demandé au porteur de projet.",
                ))
            }
            Event::RenvoyerBilan if comment.is_none() => {
                return Err(field_error(
                    "comment",
                    "Écrivez ce qui doit être corrigé dans le bilan.",
                ))
            }
            Event::Deposer | Event::Completer => {
                if event == Event::Deposer {
                    let call = state.store.call(app.call_id).await?;
                    if let Some(reason) =
                        closed_reason(call.opens_on, call.closes_on, quartiers_store::today())
                    {
                        return Err(Error::Conflict(reason).into());
                    }
                }
                let ctx = state.store.submission_context(app.id).await?;
                let missing = app.body.missing(&ctx);
                if !missing.is_empty() {
                    return Err(Error::Validation(body_errors(missing)).into());
                }
            }
            _ => {}
        }
    }
    let outcome = state
        .store
        .fire(id, event, &visitor.author(), comment, input.version)
        .await?;
    let version = state.store.application(id).await?.version;
    let (status, already_done) = match outcome {
        FireOutcome::Moved(s) => (s, false),
        FireOutcome::AlreadyDone(s) => (s, true),
    };
    tracing::info!(
        application = id,
        event = event.code(),
        already_done,
        "event fired"
    );
    Ok(Json(EventOutcome {
        status,
        version,
        already_done,
    }))
}

/// A financer's opinion and proposed amount on its own line. When it is the last opinion
/// awaited, the application moves to `avis_rendus`.
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/opinions/{funder}",
    operation_id = "giveOpinion",
    tag = "funding",
    request_body = OpinionRequest,
    params(
        ("id" = i64, Path, description = "Application id"),
        ("funder" = String, Path, description = "Code of the financer whose line it is (the caller's institution)"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Recorded", body = OpinionOutcome),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Does not act for this financer (another financer's line), or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application, or the financer is not solicited", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The application is not being instructed", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid opinion or amount", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn opinion(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path((id, funder)): Path<(i64, String)>,
    body: JsonBody,
) -> ApiResult<Json<OpinionOutcome>> {
    let (_, scope) = readable(&state, &visitor, id).await?;
    if !signed_in(&visitor)?.can_instruct_line(scope.contract_id, &funder) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: OpinionRequest = body.parse()?;
    let proposed = cents("proposed_cents", input.proposed_cents)?;
    if !scope.funders.contains(&funder) {
        return Err(Error::NotFound.into());
    }
    let status = state
        .store
        .give_opinion(
            id,
            &funder,
            input.opinion,
            proposed,
            text(&input.comment),
            &visitor.author(),
        )
        .await?;
    let version = state.store.application(id).await?.version;
    Ok(Json(OpinionOutcome { status, version }))
}

/// The audit trail of an application, oldest first: every transition, opinion, decision,
/// amendment, with who, when, from, to and the comment.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/events",
    operation_id = "listApplicationEvents",
    tag = "funding",
    params(("id" = i64, Path, description = "Application id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The audit trail", body = [AuditEntry]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "May not read the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn events(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<AuditEntry>>> {
    readable(&state, &visitor, id).await?;
    Ok(Json(state.store.application_events(id).await?))
}

/// The messages attached to an application, oldest first.
#[utoipa::path(
    get,
    path = "/api/v1/applications/{id}/messages",
    operation_id = "listApplicationMessages",
    tag = "funding",
    params(("id" = i64, Path, description = "Application id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The messages", body = [Message]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "May not read the application", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn messages(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<Message>>> {
    readable(&state, &visitor, id).await?;
    Ok(Json(state.store.application_messages(id).await?))
}

/// Adds a message to an application (its organisation, its instructors, the pilots).
#[utoipa::path(
    post,
    path = "/api/v1/applications/{id}/messages",
    operation_id = "postApplicationMessage",
    tag = "funding",
    request_body = NewMessage,
    params(
        ("id" = i64, Path, description = "Application id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Added; the messages", body = [Message]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither of its organisation, a solicited financer nor a pilot (readers read only), or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such application", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or too long message", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn post_message(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Response> {
    let (_, scope) = readable(&state, &visitor, id).await?;
    let p = signed_in(&visitor)?;
    if !(applicant(p, &scope) || p.instructs(&scope) || p.steers(scope.contract_id)) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: NewMessage = body.parse()?;
    let message = input.body.trim();
    if message.is_empty() {
        return Err(field_error("body", "Écrivez le message."));
    }
    if message.chars().count() > 10_000 {
        return Err(field_error("body", "Le message dépasse 10 000 caractères."));
    }
    state
        .store
        .add_message(id, &visitor.author(), message)
        .await?;
    Ok(created(
        format!("{PREFIX}/applications/{id}/messages"),
        state.store.application_messages(id).await?,
    ))
}

/// The applications of an organisation (its members), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/organisations/{id}/applications",
    operation_id = "listOrganisationApplications",
    tag = "funding",
    params(("id" = i64, Path, description = "Organisation id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The applications", body = [ApplicationRow]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn of_organisation(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ApplicationRow>>> {
    let p = signed_in(&visitor)?;
    if !(p.is_admin || p.member_of(id)) {
        return Err(forbidden());
    }
    Ok(Json(
        state.store.applications_of_organisations(&[id]).await?,
    ))
}

/// The submitted applications of a call (pilots and readers of its contract).
#[utoipa::path(
    get,
    path = "/api/v1/calls/{id}/applications",
    operation_id = "listCallApplications",
    tag = "funding",
    params(("id" = i64, Path, description = "Call id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The applications, drafts excepted", body = [ApplicationRow]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a pilot nor a reader of the contract (financers use their worklist)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such call", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn of_call(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<ApplicationRow>>> {
    let p = signed_in(&visitor)?;
    let call = state.store.call(id).await?;
    if !(p.steers(call.contract_id) || p.role_on(call.contract_id) == Some(Role::Lecteur)) {
        return Err(forbidden());
    }
    Ok(Json(state.store.applications_of_call(id).await?))
}

/// A financer's worklist: the applications soliciting it, with its line's amounts and opinion.
#[utoipa::path(
    get,
    path = "/api/v1/contracts/{slug}/worklist",
    operation_id = "getWorklist",
    tag = "funding",
    params(
        ("slug" = String, Path, description = "Contract slug"),
        WorklistParams,
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The financer's applications (requested, proposed and opinion are its line's)", body = [ApplicationRow]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Does not act for this financer (pilots see every financer's)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such contract", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Financer not given (the caller acts for several) or unknown status", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn worklist(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(slug): Path<String>,
    Query(params): Query<WorklistParams>,
) -> ApiResult<Json<Vec<ApplicationRow>>> {
    let (p, contract) = contract_for(&state, &visitor, &slug).await?;
    let mine = p.funder_codes(contract.id);
    if !p.steers(contract.id) && mine.is_empty() {
        return Err(forbidden());
    }
    let funder = match params
        .funder
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
    {
        Some(f) => f.to_string(),
        None if mine.len() == 1 => mine[0].to_string(),
        None => {
            return Err(field_error(
                "funder",
                "Indiquez le financeur dont vous voulez la liste (paramètre funder).",
            ))
        }
    };
    if !(p.steers(contract.id) || p.acts_for(contract.id, &funder)) {
        return Err(forbidden());
    }
    let statuses = match params
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => WORKLIST_DEFAULT.to_vec(),
        Some(list) => list
            .split(',')
            .map(|s| Status::parse(s.trim()).map_err(|m| field_error("status", &m)))
            .collect::<ApiResult<Vec<_>>>()?,
    };
    Ok(Json(
        state
            .store
            .worklist(contract.id, &funder, &statuses)
            .await?,
    ))
}
