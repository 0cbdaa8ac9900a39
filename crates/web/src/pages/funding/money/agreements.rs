//! Agreements (conventions annuelles, CPO pluriannuelles) on the application page: the
//! pilot generates them once the committee decided, records amendments and follows the
//! action up to its closure; the pilot and the paying financer record payments; whoever may
//! read the application prints the agreement.

use super::{field, fields, other_errors, parse_amount, typed_euros, value, Control, Fields};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::{contract_slug, euros, readable_application, signed_in};
use crate::layout::{self, french_date, Frame};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup, PreEscaped};
use quartiers_domain::funding::report::gaps;
use quartiers_domain::funding::{Decision, Event, Status};
use quartiers_domain::ValidationErrors;
use quartiers_store::funding::agreements::{Agreement, AgreementTerms, Payment, PAYMENT_KINDS};
use quartiers_store::funding::applications::{FundingLine, StoredApplication};
use quartiers_store::funding::calls::Funder;
use quartiers_store::funding::reports::StoredReport;
use quartiers_store::{Store, StoreError};

type Pairs = Form<Vec<(String, String)>>;

/// The statuses in which payments are recorded.
fn payable(s: Status) -> bool {
    matches!(
        s,
        Status::Conventionne | Status::Paye | Status::BilanAttendu | Status::BilanDepose
    )
}

fn kind_label(kind: &str) -> &'static str {
    if kind == "pluriannuelle" {
        "pluriannuelle d'objectifs (CPO)"
    } else {
        "annuelle"
    }
}

fn payment_label(kind: &str) -> &str {
    PAYMENT_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, l)| *l)
        .unwrap_or(kind)
}

fn funder_name(funders: &[Funder], code: &str) -> String {
    funders
        .iter()
        .find(|f| f.code == code)
        .map(|f| f.name.clone())
        .unwrap_or_else(|| code.to_string())
}

/// The day part of a stored timestamp, in French.
fn day_fr(s: &str) -> String {
    french_date(s.get(..10).unwrap_or(s))
}

// ---- Access ----

/// An application the visitor steers (pilot of its contract, or administrator).
async fn steered_application(
    state: &AppState,
    visitor: &Visitor,
    id: i64,
) -> Result<StoredApplication> {
    let principal = signed_in(visitor)?;
    let scope = state.store.application_scope(id).await?;
    if !principal.steers(scope.contract_id) {
        return Err(Error::Forbidden);
    }
    Ok(state.store.application(id).await?)
}

/// An agreement the visitor may pay: a pilot of the contract, or the paying financer.
async fn payable_agreement(
    state: &AppState,
    visitor: &Visitor,
    id: i64,
) -> Result<(Agreement, StoredApplication)> {
    let principal = signed_in(visitor)?;
    let a = state.store.agreement(id).await?;
    let scope = state.store.application_scope(a.application_id).await?;
    if !principal.can_pay(scope.contract_id, &a.funder) {
        return Err(Error::Forbidden);
    }
    Ok((a.clone(), state.store.application(a.application_id).await?))
}

/// An agreement the visitor steers (amendments).
async fn steered_agreement(
    state: &AppState,
    visitor: &Visitor,
    id: i64,
) -> Result<(Agreement, StoredApplication)> {
    let principal = signed_in(visitor)?;
    let a = state.store.agreement(id).await?;
    let scope = state.store.application_scope(a.application_id).await?;
    if !principal.steers(scope.contract_id) {
        return Err(Error::Forbidden);
    }
    Ok((a.clone(), state.store.application(a.application_id).await?))
}

// ---- Forms ----

fn default_terms(app: &StoredApplication) -> Fields {
    let due = quartiers_domain::contract::parse_date(&app.body.end_on)
        .ok()
        .and_then(|d| d.checked_add(time::Duration::days(182)))
        .map(|d| d.to_string())
        .unwrap_or_default();
    Fields::from([
        ("advance_percent".to_string(), "50".to_string()),
        ("report_due_on".to_string(), due),
        ("obligations".to_string(), String::new()),
    ])
}

fn conventionner_block(
    app: &StoredApplication,
    csrf: &str,
    f: &Fields,
    errors: &ValidationErrors,
) -> Markup {
    let id = app.id;
    html! {
        form method="post" action=(format!("/dossiers/{id}/conventionner")) {
            input type="hidden" name="csrf" value=(csrf);
            (other_errors(errors, &["advance_percent", "report_due_on", "obligations"]))
            (field(&format!("conv-{id}-avance"), "advance_percent", "Avance versée à la signature (%)", Some("Le solde est versé après le bilan. Exemple : 50"), Control::Input("number"), value(f, "advance_percent"), errors))
            (field(&format!("conv-{id}-bilan"), "report_due_on", "Bilan attendu le", Some("Format AAAA-MM-JJ"), Control::Input("date"), value(f, "report_due_on"), errors))
            (field(&format!("conv-{id}-obligations"), "obligations", "Obligations du bénéficiaire", Some("Communication, évaluation, justificatifs…"), Control::Textarea, value(f, "obligations"), errors))
            button.fr-btn type="submit" { "Conventionner" }
        }
    }
}

fn payment_block(a: &Agreement, csrf: &str, f: &Fields, errors: &ValidationErrors) -> Markup {
    let kinds: Vec<(String, String)> = PAYMENT_KINDS
        .iter()
        .map(|(k, l)| (k.to_string(), l.to_string()))
        .collect();
    let id = a.id;
    html! {
        form method="post" action=(format!("/conventions/{id}/paiements")) {
            input type="hidden" name="csrf" value=(csrf);
            (other_errors(errors, &["kind", "amount", "paid_on"]))
            (field(&format!("pay-{id}-kind"), "kind", "Nature du versement", None, Control::Select(&kinds), value(f, "kind"), errors))
            (field(&format!("pay-{id}-amount"), "amount", "Montant (€)", Some(&format!("Reste à payer : {}", euros(a.amount - a.paid))), Control::Input("text"), value(f, "amount"), errors))
            (field(&format!("pay-{id}-date"), "paid_on", "Date du versement", Some("Format AAAA-MM-JJ"), Control::Input("date"), value(f, "paid_on"), errors))
            button.fr-btn.fr-btn--secondary type="submit" { "Enregistrer le paiement" }
        }
    }
}

fn amendment_block(a: &Agreement, csrf: &str, f: &Fields, errors: &ValidationErrors) -> Markup {
    let years: Vec<(String, String)> = a
        .years
        .iter()
        .map(|(y, v)| (y.to_string(), format!("{y} (actuellement {})", euros(*v))))
        .collect();
    let id = a.id;
    html! {
        form method="post" action=(format!("/conventions/{id}/avenants")) {
            input type="hidden" name="csrf" value=(csrf);
            (other_errors(errors, &["year", "amount", "reason"]))
            (field(&format!("av-{id}-year"), "year", "Année modifiée", None, Control::Select(&years), value(f, "year"), errors))
            (field(&format!("av-{id}-amount"), "amount", "Nouveau montant de l'année (€)", None, Control::Input("text"), value(f, "amount"), errors))
            (field(&format!("av-{id}-reason"), "reason", "Objet de l'avenant", None, Control::Textarea, value(f, "reason"), errors))
            button.fr-btn.fr-btn--secondary type="submit" { "Enregistrer l'avenant" }
        }
    }
}

fn default_payment(a: &Agreement, payments: &[Payment]) -> Fields {
    let (advance, _) = Store::agreement_schedule(a);
    let left = a.amount - a.paid;
    let (kind, amount) = if payments.is_empty() && advance > 0 && advance <= left {
        ("avance", advance)
    } else {
        ("solde", left)
    };
    Fields::from([
        ("kind".to_string(), kind.to_string()),
        ("amount".to_string(), typed_euros(amount.max(0))),
        ("paid_on".to_string(), quartiers_store::today().to_string()),
    ])
}

// ---- The section of the application page ----

fn agreement_card(
    a: &Agreement,
    payments: &[Payment],
    funder: &str,
    can_pay: bool,
    pilot: bool,
    csrf: &str,
) -> Markup {
    let (advance, balance) = Store::agreement_schedule(a);
    let left = a.amount - a.paid;
    html! {
        div.fr-p-3w.fr-mb-3w style="border:1px solid var(--border-default-grey)" {
            h3.fr-h5 {
                "Convention " a href=(format!("/conventions/{}", a.id)) { (a.reference) } " — " (funder)
            }
            p { "Convention " (kind_label(&a.kind)) " de " strong { (euros(a.amount)) } "." }
            div.fr-table.fr-table--no-caption { table {
                caption { "Montant par année" }
                thead { tr { th scope="col" { "Année" } th scope="col" { "Montant" } } }
                tbody {
                    @for (y, v) in &a.years { tr { td { (y) } td { (euros(*v)) } } }
                    tr { th scope="row" { "Total" } td { strong { (euros(a.amount)) } } }
                }
            } }
            ul {
                li { "Avance (" (a.advance_percent) " %) : " (euros(advance)) }
                li { "Solde après le bilan : " (euros(balance)) }
                li { "Payé : " strong { (euros(a.paid)) } }
                li { "Reste à payer : " strong { (euros(left)) } }
                li { "Bilan attendu le " (french_date(&a.report_due_on)) }
            }
            @if !a.amendments.is_empty() {
                h4.fr-h6 { "Avenants" }
                ul { @for (d, t) in &a.amendments { li { (french_date(d)) " — " (t) } } }
            }
            @if !payments.is_empty() {
                div.fr-table.fr-table--no-caption { table {
                    caption { "Paiements" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Nature" } th scope="col" { "Montant" } } }
                    tbody { @for p in payments { tr { td { (french_date(&p.paid_on)) } td { (payment_label(&p.kind)) } td { (euros(p.amount)) } } } }
                } }
            }
            @if can_pay && left > 0 {
                details.fr-mb-2w {
                    summary { "Enregistrer un paiement" }
                    (payment_block(a, csrf, &default_payment(a, payments), &ValidationErrors::new()))
                }
            }
            @if pilot {
                details {
                    summary { "Enregistrer un avenant" }
                    (amendment_block(a, csrf, &Fields::new(), &ValidationErrors::new()))
                }
            }
        }
    }
}

fn follow_up_buttons(app: &StoredApplication, lines: &[FundingLine], csrf: &str) -> Markup {
    let mut events = Vec::new();
    if matches!(app.status, Status::Conventionne | Status::Paye) {
        events.push((Event::AttendreBilan, "Attendre le bilan"));
    }
    let nothing_granted = lines
        .iter()
        .all(|l| !matches!(l.decision, Some(Decision::Accorde | Decision::Ajourne)));
    if app.status == Status::BilanDepose || (app.status == Status::Decide && nothing_granted) {
        events.push((Event::Clore, "Clore le dossier"));
    }
    html! {
        @if !events.is_empty() {
            ul.fr-btns-group.fr-btns-group--inline-md {
                @for (e, label) in events {
                    li {
                        form method="post" action=(format!("/dossiers/{}/suivi", app.id)) {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="version" value=(app.version);
                            input type="hidden" name="event" value=(e.code());
                            button.fr-btn.fr-btn--secondary type="submit" { (label) }
                        }
                    }
                }
            }
        }
    }
}

fn report_summary(app: &StoredApplication, r: &StoredReport) -> Markup {
    let years: Vec<i32> = {
        let mut y: Vec<i32> = app
            .body
            .budget
            .iter()
            .map(|b| b.year)
            .chain(r.body.actual.iter().map(|b| b.year))
            .collect();
        y.sort_unstable();
        y.dedup();
        y
    };
    let forecast = |y: i32| app.body.budget.iter().find(|b| b.year == y);
    let actual = |y: i32| r.body.actual.iter().find(|b| b.year == y);
    let gaps = gaps(&app.body.budget, &r.body.actual);
    html! {
        h3.fr-mt-3w { "Bilan de l'action" }
        p {
            @match &r.filed_at {
                Some(at) => { span.fr-badge.fr-badge--success { "Déposé le " (day_fr(at)) } }
                None => { span.fr-badge.fr-badge--info { "En cours de rédaction" } }
            }
        }
        div.fr-table { table {
            caption { "Compte rendu financier : réalisé et prévu" }
            thead { tr {
                th scope="col" { "Année" } th scope="col" { "Charges prévues" } th scope="col" { "Charges réalisées" }
                th scope="col" { "Produits prévus" } th scope="col" { "Produits réalisés" }
            } }
            tbody { @for y in &years { tr {
                td { (y) }
                td { (forecast(*y).map(|b| euros(b.total_charges())).unwrap_or_default()) }
                td { (actual(*y).map(|b| euros(b.total_charges())).unwrap_or_default()) }
                td { (forecast(*y).map(|b| euros(b.total_income())).unwrap_or_default()) }
                td { (actual(*y).map(|b| euros(b.total_income())).unwrap_or_default()) }
            } } }
        } }
        @if !gaps.is_empty() {
            p { "Écarts de plus de " (quartiers_domain::funding::report::GAP_THRESHOLD_PERCENT) " % :" }
            ul { @for g in &gaps {
                @let why = r.body.gap_explanations.iter().find(|x| x.year == g.year && x.account == g.account).map(|x| x.text.clone());
                li { "compte " (g.account) " en " (g.year) " : prévu " (euros(g.forecast)) ", réalisé " (euros(g.actual)) @if let Some(w) = why { " — " (w) } }
            } }
        }
        @if !r.body.indicators.is_empty() {
            div.fr-table { table {
                caption { "Indicateurs" }
                thead { tr { th scope="col" { "Indicateur" } th scope="col" { "Cible" } th scope="col" { "Atteint" } } }
                tbody { @for i in &r.body.indicators { tr { td { (i.name) } td { (i.target) } td { (i.achieved) } } } }
            } }
        }
        @if let Some(b) = &r.body.beneficiaries {
            p {
                "Bénéficiaires : " strong { (b.total) } " dont " (b.located) " localisés, " strong { (b.in_qpv) } " en quartier prioritaire"
                @if b.located > 0 { " (" (b.in_qpv * 100 / b.located) " %)" }
                @if b.to_check > 0 { ", " (b.to_check) " à vérifier" } "."
            }
            @if !b.per_qpv.is_empty() {
                ul { @for (q, n) in &b.per_qpv { li { (q) " : " (n) } } }
            }
        }
        @if !r.body.qualitative.trim().is_empty() {
            details { summary { "Bilan qualitatif" } (layout::paragraphs(&r.body.qualitative)) }
        }
    }
}

/// The money section of the application page: the agreements with their amounts per year,
/// schedule, payments, what is left to pay, report due date and amendments; the forms the
/// visitor may use (conventionner for pilots once decided, payments for pilots and the paying
/// financer, amendments for pilots), the pilot's follow-up buttons (attendre le bilan,
/// clore), and the summary of the report when one exists (counts only, never addresses).
pub async fn application_section(
    state: &AppState,
    visitor: &Visitor,
    app: &StoredApplication,
    lines: &[FundingLine],
) -> Result<Markup> {
    let principal = visitor.principal();
    let pilot = principal.is_some_and(|p| p.steers(app.contract_id));
    let agreements = state.store.agreements(app.id).await?;
    let funders = state.store.funders(app.contract_id).await?;
    let report = state.store.report(app.id).await?;
    let csrf = visitor.csrf();
    let mut payments = Vec::with_capacity(agreements.len());
    for a in &agreements {
        payments.push(state.store.payments(a.id).await?);
    }
    let granted: Vec<&FundingLine> = lines
        .iter()
        .filter(|l| l.decision == Some(Decision::Accorde))
        .collect();
    Ok(html! {
        section.fr-mt-4w #conventions {
            h2 { "Conventions et paiements" }
            @if agreements.is_empty() {
                @if app.status == Status::Decide && !granted.is_empty() {
                    p { "Lignes accordées à conventionner :" }
                    ul { @for l in &granted { li { (funder_name(&funders, &l.funder)) " : " (euros(l.decided)) } } }
                    @if pilot {
                        p.fr-text--sm { "Une convention est établie par financeur ; elle est pluriannuelle (CPO) quand la demande couvre plusieurs années, avec le montant de chaque année." }
                        (conventionner_block(app, csrf, &default_terms(app), &ValidationErrors::new()))
                    } @else {
                        p { "Les conventions seront établies par le pilote du contrat." }
                    }
                } @else {
                    p.fr-text--sm { "Aucune convention : elles sont établies après la décision du comité de programmation, pour les lignes accordées." }
                }
            }
            @for (a, pays) in agreements.iter().zip(&payments) {
                @let can_pay = principal.is_some_and(|p| p.can_pay(app.contract_id, &a.funder)) && payable(app.status);
                (agreement_card(a, pays, &funder_name(&funders, &a.funder), can_pay, pilot, csrf))
            }
            @if pilot { (follow_up_buttons(app, lines, csrf)) }
            @if let Some(r) = &report { (report_summary(app, r)) }
        }
    })
}

// ---- Standalone form pages (also where invalid input is shown again) ----

#[allow(clippy::too_many_arguments)]
fn form_page(
    state: &AppState,
    visitor: &Visitor,
    app: &StoredApplication,
    title: &str,
    intro: Markup,
    form: Markup,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let frame = Frame::new(state, visitor);
    let body = html! {
        div.fr-grid-row { div.fr-col-12.fr-col-md-8 {
            h1 { (title) }
            p.fr-text--lead { "Dossier " a href=(format!("/dossiers/{}", app.id)) { (app.reference) } " — " (app.body.title) " (" (app.organisation_name) ")" }
            @if let Some(n) = notice { (layout::notice("error", n)) }
            (intro)
            (form)
        } }
    };
    let crumb = format!("Dossier {}", app.reference);
    (
        status,
        Html(
            layout::page(
                &frame,
                title,
                &[
                    (crumb.as_str(), format!("/dossiers/{}", app.id)),
                    (title, String::new()),
                ],
                body,
            )
            .into_string(),
        ),
    )
        .into_response()
}

fn conventionner_page(
    state: &AppState,
    visitor: &Visitor,
    app: &StoredApplication,
    f: &Fields,
    errors: &ValidationErrors,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    let intro = html! {
        @if app.status != Status::Decide {
            (layout::notice("warning", &format!("Le dossier est « {} » : seules les décisions du comité (dossier « décidé ») se conventionnent.", app.status.label())))
        }
        p { "Une convention est générée pour chaque ligne accordée, pluriannuelle (CPO) quand la demande couvre plusieurs années." }
    };
    form_page(
        state,
        visitor,
        app,
        "Conventionner",
        intro,
        conventionner_block(app, visitor.csrf(), f, errors),
        notice,
        status,
    )
}

/// GET /dossiers/{id}/conventionner — the form generating the agreements (pilots).
#[tracing::instrument(skip(state, visitor))]
pub async fn conventionner_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
) -> Result<Response> {
    let app = steered_application(&state, &visitor, id).await?;
    Ok(conventionner_page(
        &state,
        &visitor,
        &app,
        &default_terms(&app),
        &ValidationErrors::new(),
        None,
        StatusCode::OK,
    ))
}

/// POST /dossiers/{id}/conventionner — generates one agreement per granted line.
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn conventionner(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(pairs): Pairs,
) -> Result<Response> {
    let app = steered_application(&state, &visitor, id).await?;
    let f = fields(pairs);
    visitor.check_csrf(value(&f, "csrf"))?;
    let mut errors = ValidationErrors::new();
    let advance = match value(&f, "advance_percent").trim().parse::<u8>() {
        Ok(p) if p <= 100 => p,
        _ => {
            errors.add(
                "advance_percent",
                "L'avance est un pourcentage entier entre 0 et 100 (exemple : 50).",
            );
            0
        }
    };
    if value(&f, "report_due_on").trim().is_empty() {
        errors.add(
            "report_due_on",
            "Indiquez la date à laquelle le bilan est attendu.",
        );
    }
    if value(&f, "obligations").chars().count() > 5000 {
        errors.add("obligations", "Les obligations dépassent 5 000 caractères.");
    }
    if !errors.is_empty() {
        return Ok(conventionner_page(
            &state,
            &visitor,
            &app,
            &f,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let terms = AgreementTerms {
        advance_percent: advance,
        report_due_on: value(&f, "report_due_on").trim().to_string(),
        obligations: value(&f, "obligations").trim().to_string(),
    };
    match state
        .store
        .conventionner(id, &terms, &visitor.author())
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/dossiers/{id}#conventions")).into_response()),
        Err(StoreError::Invalid(e)) => Ok(conventionner_page(
            &state,
            &visitor,
            &app,
            &f,
            &e,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(StoreError::Conflict(m)) => Ok(conventionner_page(
            &state,
            &visitor,
            &app,
            &f,
            &ValidationErrors::new(),
            Some(&m),
            StatusCode::CONFLICT,
        )),
        Err(e) => Err(e.into()),
    }
}

fn agreement_intro(a: &Agreement) -> Markup {
    html! {
        p {
            "Convention " a href=(format!("/conventions/{}", a.id)) { (a.reference) } " (" (a.funder) ") : "
            (euros(a.amount)) ", payé " (euros(a.paid)) ", reste à payer " strong { (euros(a.amount - a.paid)) } "."
        }
    }
}

fn payment_page(
    state: &AppState,
    visitor: &Visitor,
    app: &StoredApplication,
    a: &Agreement,
    f: &Fields,
    errors: &ValidationErrors,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    form_page(
        state,
        visitor,
        app,
        "Enregistrer un paiement",
        agreement_intro(a),
        payment_block(a, visitor.csrf(), f, errors),
        notice,
        status,
    )
}

/// GET /conventions/{id}/paiements — the payment form (pilots, the paying financer).
#[tracing::instrument(skip(state, visitor))]
pub async fn payment_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
) -> Result<Response> {
    let (a, app) = payable_agreement(&state, &visitor, id).await?;
    let payments = state.store.payments(a.id).await?;
    Ok(payment_page(
        &state,
        &visitor,
        &app,
        &a,
        &default_payment(&a, &payments),
        &ValidationErrors::new(),
        None,
        StatusCode::OK,
    ))
}

/// POST /conventions/{id}/paiements — records a payment (never more than is left to pay).
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn pay(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(pairs): Pairs,
) -> Result<Response> {
    let (a, app) = payable_agreement(&state, &visitor, id).await?;
    let f = fields(pairs);
    visitor.check_csrf(value(&f, "csrf"))?;
    let mut errors = ValidationErrors::new();
    let amount = parse_amount(&mut errors, "amount", value(&f, "amount"));
    if value(&f, "paid_on").trim().is_empty() {
        errors.add("paid_on", "Indiquez la date du versement.");
    }
    if !errors.is_empty() {
        return Ok(payment_page(
            &state,
            &visitor,
            &app,
            &a,
            &f,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    match state
        .store
        .record_payment(
            id,
            value(&f, "kind"),
            amount,
            value(&f, "paid_on").trim(),
            &visitor.author(),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/dossiers/{}#conventions", app.id)).into_response()),
        Err(StoreError::Invalid(e)) => Ok(payment_page(
            &state,
            &visitor,
            &app,
            &a,
            &f,
            &e,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(StoreError::Conflict(m)) => Ok(payment_page(
            &state,
            &visitor,
            &app,
            &a,
            &f,
            &ValidationErrors::new(),
            Some(&m),
            StatusCode::CONFLICT,
        )),
        Err(e) => Err(e.into()),
    }
}

fn amendment_page(
    state: &AppState,
    visitor: &Visitor,
    app: &StoredApplication,
    a: &Agreement,
    f: &Fields,
    errors: &ValidationErrors,
    notice: Option<&str>,
    status: StatusCode,
) -> Response {
    form_page(
        state,
        visitor,
        app,
        "Enregistrer un avenant",
        agreement_intro(a),
        amendment_block(a, visitor.csrf(), f, errors),
        notice,
        status,
    )
}

/// GET /conventions/{id}/avenants — the amendment form (pilots).
#[tracing::instrument(skip(state, visitor))]
pub async fn amendment_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
) -> Result<Response> {
    let (a, app) = steered_agreement(&state, &visitor, id).await?;
    let f = Fields::from([
        (
            "year".to_string(),
            a.years
                .first()
                .map(|(y, _)| y.to_string())
                .unwrap_or_default(),
        ),
        (
            "amount".to_string(),
            a.years
                .first()
                .map(|(_, v)| typed_euros(*v))
                .unwrap_or_default(),
        ),
    ]);
    Ok(amendment_page(
        &state,
        &visitor,
        &app,
        &a,
        &f,
        &ValidationErrors::new(),
        None,
        StatusCode::OK,
    ))
}

/// POST /conventions/{id}/avenants — a new amount for one year of the agreement, with its reason.
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn amend(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(pairs): Pairs,
) -> Result<Response> {
    let (a, app) = steered_agreement(&state, &visitor, id).await?;
    let f = fields(pairs);
    visitor.check_csrf(value(&f, "csrf"))?;
    let mut errors = ValidationErrors::new();
    let year = match value(&f, "year").trim().parse::<i32>() {
        Ok(y) if a.years.iter().any(|(x, _)| *x == y) => y,
        _ => {
            errors.add("year", "Choisissez une année couverte par la convention.");
            0
        }
    };
    let amount = parse_amount(&mut errors, "amount", value(&f, "amount"));
    if value(&f, "reason").trim().is_empty() {
        errors.add("reason", "Indiquez l'objet de l'avenant.");
    }
    if !errors.is_empty() {
        return Ok(amendment_page(
            &state,
            &visitor,
            &app,
            &a,
            &f,
            &errors,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    match state
        .store
        .amend_agreement(id, year, amount, value(&f, "reason"), &visitor.author())
        .await
    {
        Ok(()) => Ok(Redirect::to(&format!("/dossiers/{}#conventions", app.id)).into_response()),
        Err(StoreError::Invalid(e)) => Ok(amendment_page(
            &state,
            &visitor,
            &app,
            &a,
            &f,
            &e,
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )),
        Err(StoreError::Conflict(m)) => Ok(amendment_page(
            &state,
            &visitor,
            &app,
            &a,
            &f,
            &ValidationErrors::new(),
            Some(&m),
            StatusCode::CONFLICT,
        )),
        Err(e) => Err(e.into()),
    }
}

/// POST /dossiers/{id}/suivi — the pilot's follow-up: `attendre_bilan` or `clore`.
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn follow_up(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(pairs): Pairs,
) -> Result<Response> {
    steered_application(&state, &visitor, id).await?;
    let f = fields(pairs);
    visitor.check_csrf(value(&f, "csrf"))?;
    let event = match value(&f, "event") {
        "attendre_bilan" => Event::AttendreBilan,
        "clore" => Event::Clore,
        other => {
            return Err(Error::BadRequest(format!(
                "Action « {other} » inconnue ici : attendre le bilan ou clore le dossier."
            )))
        }
    };
    let version = value(&f, "version").trim().parse::<i64>().ok();
    state
        .store
        .fire(id, event, &visitor.author(), None, version)
        .await?;
    Ok(Redirect::to(&format!("/dossiers/{id}#conventions")).into_response())
}

// ---- The printable agreement ----

const PRINT_CSS: &str = "@media print { .fr-header, .fr-nav, .fr-footer, .fr-breadcrumb, .fr-skiplinks, .q-no-print { display: none !important; } \
main .fr-container { max-width: none; margin: 0; } .q-agreement { font-size: 11pt; } .q-agreement h2 { font-size: 13pt; margin-top: 1.2em; } \
.q-signatures { break-inside: avoid; page-break-inside: avoid; } } \
.q-signatures { display: grid; grid-template-columns: 1fr 1fr; gap: 2rem; margin-top: 2rem; } \
.q-signature { border: 1px solid #929292; padding: 1rem; min-height: 10rem; }";

/// GET /conventions/{id} — the agreement as a printable document, for whoever may read the application.
#[tracing::instrument(skip(state, visitor))]
pub async fn document(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
) -> Result<Html<String>> {
    signed_in(&visitor)?;
    let a = state.store.agreement(id).await?;
    let (app, _) = readable_application(&state, &visitor, a.application_id).await?;
    let org = state.store.organisation(app.organisation_id).await?;
    let funders = state.store.funders(app.contract_id).await?;
    let funder = funders.iter().find(|f| f.code == a.funder);
    let slug = contract_slug(&state, app.contract_id).await?;
    let contract = state.store.contract(&slug).await?.document.contract;
    let payments = state.store.payments(a.id).await?;
    let (advance, balance) = Store::agreement_schedule(&a);
    let node_title = |key: &str| -> String {
        fn find<'a>(nodes: &'a [quartiers_domain::FrameworkNode], key: &str) -> Option<&'a str> {
            nodes.iter().find_map(|n| {
                if n.key == key {
                    Some(n.title.as_str())
                } else {
                    find(&n.children, key)
                }
            })
        }
        find(&contract.framework, key).unwrap_or(key).to_string()
    };
    let qpv_name = |code: &str| -> String {
        contract
            .qpvs
            .iter()
            .find(|q| q.code.as_ref().is_some_and(|c| c.to_string() == code))
            .and_then(|q| q.name.clone())
            .map(|n| format!("{n} ({code})"))
            .unwrap_or_else(|| code.to_string())
    };
    let funder_label = funder
        .map(|f| f.name.clone())
        .unwrap_or_else(|| a.funder.clone());
    let title = format!("Convention {} n° {}", kind_label(&a.kind), a.reference);
    let b = &app.body;
    let body = html! {
        style { (PreEscaped(PRINT_CSS)) }
        div.q-agreement {
            h1 { (title) }
            p.fr-text--lead { "Attribution d'une subvention au titre de l'appel à projets " (app.year) " — " (contract.name) }
            p.q-no-print.fr-text--sm {
                "Pour l'imprimer ou l'enregistrer en PDF, utilisez la fonction d'impression de votre navigateur. "
                a href=(format!("/dossiers/{}#conventions", app.id)) { "Retour au dossier" }
            }
            h2 { "Entre les soussignés" }
            div.fr-grid-row.fr-grid-row--gutters {
                div.fr-col-12.fr-col-md-6 {
                    p {
                        strong { (funder_label) } br;
                        "SIRET : " (layout::or_unknown(funder.and_then(|f| f.siret.as_deref()))) br;
                        "ci-après « le financeur »,"
                    }
                }
                div.fr-col-12.fr-col-md-6 {
                    p {
                        strong { (org.name) } br;
                        "SIRET : " (org.siret) br;
                        "RNA : " (layout::or_unknown(org.rna.as_deref())) br;
                        (org.address) br;
                        "représentée par " (org.legal_representative) "," br;
                        "ci-après « le bénéficiaire »."
                    }
                }
            }
            h2 { "Article 1 — Objet" }
            p { "Le financeur soutient l'action « " strong { (b.title) } " » (dossier " (app.reference) ") portée par le bénéficiaire, au titre de la composante « " (b.component) " » du contrat." }
            (layout::paragraphs(&b.description))
            @if !b.objectives.trim().is_empty() { p { strong { "Objectifs : " } (b.objectives) } }
            ul {
                li { "Période de réalisation : du " (french_date(&b.start_on)) " au " (french_date(&b.end_on)) }
                @if !b.places.trim().is_empty() { li { "Lieux : " (b.places) } }
                @if !b.framework_keys.is_empty() { li { "Orientations du contrat servies : " (b.framework_keys.iter().map(|k| node_title(k)).collect::<Vec<_>>().join(" ; ")) } }
                @if !b.qpv_codes.is_empty() { li { "Quartiers prioritaires concernés : " (b.qpv_codes.iter().map(|q| qpv_name(&q.to_string())).collect::<Vec<_>>().join(", ")) } }
            }
            h2 { "Article 2 — Montant de la subvention" }
            p { "Le financeur attribue au bénéficiaire une subvention de " strong { (euros(a.amount)) } @if a.years.len() > 1 { ", répartie sur " (a.years.len()) " années" } "." }
            div.fr-table.fr-table--no-caption { table {
                caption { "Montant par année" }
                thead { tr { th scope="col" { "Année" } th scope="col" { "Montant" } } }
                tbody {
                    @for (y, v) in &a.years { tr { td { (y) } td { (euros(*v)) } } }
                    tr { th scope="row" { "Total" } td { strong { (euros(a.amount)) } } }
                }
            } }
            h2 { "Article 3 — Modalités de versement" }
            ul {
                li { "Une avance de " (a.advance_percent) " %, soit " (euros(advance)) ", à la signature de la présente convention ;" }
                li { "le solde, soit " (euros(balance)) ", après réception et examen du bilan de l'action." }
            }
            @if !payments.is_empty() {
                p { "Versements effectués à ce jour :" }
                ul { @for p in &payments { li { (payment_label(&p.kind)) " de " (euros(p.amount)) " le " (french_date(&p.paid_on)) } } }
                p { "Reste à verser : " (euros(a.amount - a.paid)) "." }
            }
            h2 { "Article 4 — Bilan de l'action" }
            p { "Le bénéficiaire remet le compte rendu de l'action (formulaire CERFA n° 15059) au plus tard le " strong { (french_date(&a.report_due_on)) } " : compte rendu financier, bilan qualitatif, valeur atteinte des indicateurs et nombre de bénéficiaires habitant en quartier prioritaire." }
            h2 { "Article 5 — Obligations du bénéficiaire" }
            @if a.obligations.trim().is_empty() {
                p { "Le bénéficiaire mentionne le soutien du financeur dans sa communication et se prête à l'évaluation de l'action." }
            } @else {
                (layout::paragraphs(&a.obligations))
            }
            @if !a.amendments.is_empty() {
                h2 { "Avenants" }
                ul { @for (d, t) in &a.amendments { li { (french_date(d)) " — " (t) } } }
            }
            div.q-signatures {
                div.q-signature {
                    p { "Pour " strong { (funder_label) } "," br; "Fait à …………………, le ……………………" }
                    p { "Signature :" }
                }
                div.q-signature {
                    p { "Pour " strong { (org.name) } "," br; (org.legal_representative) br; "Fait à …………………, le ……………………" }
                    p { "Signature :" }
                }
            }
        }
    };
    let frame = Frame::new(&state, &visitor);
    let crumb = format!("Dossier {}", app.reference);
    Ok(Html(
        layout::page(
            &frame,
            &title,
            &[
                (crumb.as_str(), format!("/dossiers/{}", app.id)),
                (a.reference.as_str(), String::new()),
            ],
            body,
        )
        .into_string(),
    ))
}
