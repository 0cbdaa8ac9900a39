//! The programming committee: its sessions for a call, the agenda (applications whose every
//! financer gave its opinion) with a bulk decision form and a running total against each
//! financer's envelope, and the minutes as a printable document or a CSV file.
//!
//! Pilots decide every line and alone may confirm a decision over an envelope, with a reason;
//! a financer's instructors see the agenda items that solicit their institution and decide
//! their own lines.

use super::{amount_or_dash, euros_input, field, field_error, group_class, Pairs};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::{contract_slug, euros, signed_in, steered_call};
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, DOCTYPE};
use quartiers_domain::funding::{Decision, Opinion};
use quartiers_domain::Role;
use quartiers_domain::{Cents, ValidationErrors};
use quartiers_store::funding::applications::FundingLine;
use quartiers_store::funding::calls::{Call, Funder};
use quartiers_store::funding::committee::{AgendaItem as Item, Committee, LineDecision};
use quartiers_store::StoreError;
use std::collections::HashMap;

/// Who looks at a committee and what they may decide.
struct Seat {
    committee: Committee,
    call: Call,
    slug: String,
    steers: bool,
    /// Financer codes the visitor acts for on the contract.
    mine: Vec<String>,
}

impl Seat {
    fn may_decide(&self, funder: &str) -> bool {
        self.steers || self.mine.iter().any(|m| m == funder)
    }
}

/// The committee with the visitor's seat: 401 anonymous, 403 unless pilot of the contract or
/// instructor of one of its financers.
async fn seat(state: &AppState, visitor: &Visitor, committee_id: i64) -> Result<Seat> {
    let principal = signed_in(visitor)?;
    let committee = state.store.committee(committee_id).await?;
    let call = state.store.call(committee.call_id).await?;
    let steers = principal.steers(call.contract_id);
    let mine: Vec<String> = principal
        .funder_codes(call.contract_id)
        .into_iter()
        .map(str::to_string)
        .collect();
    if !steers && mine.is_empty() {
        return Err(Error::Forbidden);
    }
    let slug = contract_slug(state, call.contract_id).await?;
    Ok(Seat {
        committee,
        call,
        slug,
        steers,
        mine,
    })
}

fn funder_name(funders: &[Funder], code: &str) -> String {
    funders
        .iter()
        .find(|f| f.code == code)
        .map(|f| f.name.clone())
        .unwrap_or_else(|| code.to_string())
}

// ---- Sessions of a call ----

/// The committee form, as typed.
#[derive(Debug, Default)]
struct CommitteeForm {
    held_on: String,
    title: String,
    members: String,
}

async fn list_render(
    state: &AppState,
    visitor: &Visitor,
    call: &Call,
    slug: &str,
    steers: bool,
    form: &CommitteeForm,
    errors: &ValidationErrors,
) -> Result<Html<String>> {
    let committees = state.store.committees(call.id).await?;
    let contract = state.store.contract(slug).await?;
    let frame = Frame::new(state, visitor);
    Ok(Html(
        layout::page(
            &frame,
            "Comités de programmation",
            &[
                (contract.document.contract.name.as_str(), format!("/contrats/{slug}")),
                (call.settings.title.as_str(), format!("/appels/{}", call.id)),
                ("Comités", String::new()),
            ],
            html! {
                h1 { "Comités de programmation — " (call.settings.title) }
                @if committees.is_empty() { p { "Aucune séance n'est encore prévue." } } @else {
                    div.fr-table { table {
                        caption { "Séances" }
                        thead { tr { th scope="col" { "Date" } th scope="col" { "Intitulé" } th scope="col" { "Procès-verbal" } } }
                        tbody { @for c in &committees { tr {
                            td { (layout::french_date(&c.held_on)) }
                            td { a href=(format!("/comites/{}", c.id)) { (c.title) } }
                            td { a.fr-link href=(format!("/comites/{}/proces-verbal", c.id)) { "Procès-verbal" } }
                        } } }
                    } }
                }
                @if steers {
                    h2 { "Nouvelle séance" }
                    (layout::error_summary(errors))
                    form method="post" action=(format!("/appels/{}/comites", call.id)) novalidate {
                        input type="hidden" name="csrf" value=(visitor.csrf());
                        div class=(group_class(errors, "held_on")) {
                            label.fr-label for="held_on" { "Date *" span.fr-hint-text { "Format AAAA-MM-JJ." } }
                            input.fr-input #held_on type="date" name="held_on" value=(form.held_on);
                            (field_error(errors, "held_on"))
                        }
                        div class=(group_class(errors, "title")) {
                            label.fr-label for="title" { "Intitulé *" }
                            input.fr-input #title type="text" name="title" value=(form.title);
                            (field_error(errors, "title"))
                        }
                        div class=(group_class(errors, "members")) {
                            label.fr-label for="members" { "Membres" span.fr-hint-text { "Une personne par ligne, avec son institution." } }
                            textarea.fr-input #members name="members" rows="5" { (form.members) }
                            (field_error(errors, "members"))
                        }
                        button.fr-btn type="submit" { "Créer la séance" }
                    }
                }
            },
        )
        .into_string(),
    ))
}

/// GET /appels/{call_id}/comites
#[tracing::instrument(skip(state, visitor))]
pub async fn list(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(call_id): Path<i64>,
) -> Result<Html<String>> {
    let principal = signed_in(&visitor)?;
    let call = state.store.call(call_id).await?;
    let steers = principal.steers(call.contract_id);
    if !steers && principal.funder_codes(call.contract_id).is_empty() {
        return Err(Error::Forbidden);
    }
    let slug = contract_slug(&state, call.contract_id).await?;
    let form = CommitteeForm::default();
    list_render(
        &state,
        &visitor,
        &call,
        &slug,
        steers,
        &form,
        &ValidationErrors::new(),
    )
    .await
}

/// POST /appels/{call_id}/comites (pilots)
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(call_id): Path<i64>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    let (call, slug) = steered_call(&state, &visitor, call_id).await?;
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    let form = CommitteeForm {
        held_on: field(&pairs, "held_on").trim().to_string(),
        title: field(&pairs, "title"),
        members: field(&pairs, "members"),
    };
    match state
        .store
        .create_committee(call.id, &form.held_on, &form.title, &form.members)
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/comites/{id}")).into_response()),
        Err(StoreError::Invalid(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            list_render(&state, &visitor, &call, &slug, true, &form, &errors).await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

// ---- A session: agenda and bulk decisions ----

/// The agenda: applications of the call whose opinions are all given, restricted to those
/// soliciting the visitor's financers when the visitor is not a pilot.
async fn agenda(state: &AppState, seat: &Seat) -> Result<Vec<Item>> {
    let mut items = state.store.committee_agenda(seat.call.id).await?;
    items.retain(|it| seat.steers || it.lines.iter().any(|l| seat.may_decide(&l.funder)));
    Ok(items)
}

/// The decision form, as typed: per (application, financer), the decision code and amount.
#[derive(Debug, Default)]
struct DecisionForm {
    typed: HashMap<(i64, String), (String, String)>,
    /// Faults per line.
    line_errors: HashMap<(i64, String), String>,
    /// Faults of the whole form.
    errors: Vec<String>,
    override_reason: String,
    /// A decision exceeds an envelope: the override field is shown.
    overrun: bool,
}

impl DecisionForm {
    fn read(pairs: &[(String, String)]) -> Self {
        let mut typed: HashMap<(i64, String), (String, String)> = HashMap::new();
        for (k, v) in pairs {
            let (kind, rest) = if let Some(r) = k.strip_prefix("decision-") {
                (0, r)
            } else if let Some(r) = k.strip_prefix("amount-") {
                (1, r)
            } else {
                continue;
            };
            let Some((id, funder)) = rest.split_once('-') else {
                continue;
            };
            let Ok(id) = id.parse::<i64>() else { continue };
            let e = typed.entry((id, funder.to_string())).or_default();
            if kind == 0 {
                e.0 = v.trim().to_string();
            } else {
                e.1 = v.trim().to_string();
            }
        }
        Self {
            typed,
            override_reason: field(pairs, "override_reason").trim().to_string(),
            ..Default::default()
        }
    }

    /// The decisions typed (lines left on « à décider » are skipped), in a stable order.
    fn decisions(&mut self) -> Vec<LineDecision> {
        let mut keys: Vec<_> = self.typed.keys().cloned().collect();
        keys.sort();
        let mut out = Vec::new();
        for key in keys {
            let (d, amount) = self.typed[&key].clone();
            if d.is_empty() {
                continue;
            }
            let decision = match Decision::parse(&d) {
                Ok(x) => x,
                Err(m) => {
                    self.line_errors.insert(key, m);
                    continue;
                }
            };
            let amount_cents = if decision == Decision::Accorde {
                match Cents::parse_euros(&amount) {
                    Ok(c) => c.get(),
                    Err(m) => {
                        self.line_errors.insert(key, m);
                        continue;
                    }
                }
            } else {
                0
            };
            out.push(LineDecision {
                application_id: key.0,
                funder: key.1,
                decision,
                amount_cents,
            });
        }
        out
    }
}

/// The default decision of a line, from its opinion.
fn default_decision(line: &FundingLine) -> &'static str {
    match line.opinion {
        Some(Opinion::Favorable | Opinion::Reserve) => "accorde",
        Some(Opinion::Defavorable) => "refuse",
        None => "",
    }
}

/// `?note=`
#[derive(Debug, Default, serde::Deserialize)]
pub struct CommitteeQuery {
    #[serde(default)]
    note: String,
    #[serde(default)]
    format: String,
}

async fn show_render(
    state: &AppState,
    visitor: &Visitor,
    seat: &Seat,
    form: &DecisionForm,
    notice: Option<&str>,
) -> Result<Html<String>> {
    let items = agenda(state, seat).await?;
    let funders = state.store.funders(seat.call.contract_id).await?;
    let uses = state.store.envelope_use(seat.call.id).await?;
    let contract = state.store.contract(&seat.slug).await?;
    let c = &seat.committee;
    // What the form holds for each line: typed, or pre-filled from the opinion and proposal.
    let value = |item: &Item, l: &FundingLine| -> (String, String) {
        form.typed
            .get(&(item.id, l.funder.clone()))
            .cloned()
            .unwrap_or_else(|| {
                (
                    default_decision(l).to_string(),
                    euros_input(Some(l.proposed.unwrap_or(l.requested))),
                )
            })
    };
    // The running total of this form per (financer, component).
    let mut in_form: HashMap<(String, String), i64> = HashMap::new();
    for item in &items {
        for l in item
            .lines
            .iter()
            .filter(|l| l.decision.is_none() && seat.may_decide(&l.funder))
        {
            let (d, amount) = value(item, l);
            if d == "accorde" {
                if let Ok(a) = Cents::parse_euros(&amount) {
                    *in_form
                        .entry((l.funder.clone(), item.component.clone()))
                        .or_default() += a.get();
                }
            }
        }
    }
    let decidable = items
        .iter()
        .flat_map(|i| i.lines.iter())
        .any(|l| l.decision.is_none() && seat.may_decide(&l.funder));
    let frame = Frame::new(state, visitor);
    Ok(Html(
        layout::page(
            &frame,
            &c.title,
            &[
                (contract.document.contract.name.as_str(), format!("/contrats/{}", seat.slug)),
                (seat.call.settings.title.as_str(), format!("/appels/{}", seat.call.id)),
                ("Comités", format!("/appels/{}/comites", seat.call.id)),
                (c.title.as_str(), String::new()),
            ],
            html! {
                h1 { (c.title) }
                p.fr-text--lead { "Séance du " (layout::french_date(&c.held_on)) }
                @if !c.members.trim().is_empty() {
                    h2.fr-h5 { "Membres" }
                    ul { @for m in c.members.lines().filter(|m| !m.trim().is_empty()) { li { (m.trim()) } } }
                }
                p { a.fr-link href=(format!("/comites/{}/proces-verbal", c.id)) { "Procès-verbal (décisions de la séance)" } }
                @if let Some(n) = notice { (layout::notice("success", n)) }
                @if !form.errors.is_empty() || !form.line_errors.is_empty() {
                    div.fr-alert.fr-alert--error.fr-mb-3w role="alert" {
                        h2.fr-alert__title { "Aucune décision n'a été enregistrée" }
                        ul {
                            @for e in &form.errors { li { (e) } }
                            @for e in form.line_errors.values() { li { (e) } }
                        }
                    }
                }

                h2 { "Enveloppes" }
                div.fr-table { table {
                    caption { "Total en cours par financeur et composante" }
                    thead { tr {
                        th scope="col" { "Financeur" } th scope="col" { "Composante" } th scope="col" { "Enveloppe" }
                        th scope="col" { "Déjà accordé" } th scope="col" { "Ce formulaire" } th scope="col" { "Reste après" }
                    } }
                    tbody { @for u in &uses {
                        @let here = in_form.get(&(u.funder.clone(), u.component.clone())).copied().unwrap_or(0);
                        @let left = u.remaining - here;
                        tr {
                            td { (funder_name(&funders, &u.funder)) } td { (u.component) } td { (euros(u.envelope)) }
                            td { (euros(u.granted)) } td { (euros(here)) }
                            td { @if left < 0 { span.fr-badge.fr-badge--error.fr-badge--sm { "dépassement de " (euros(-left)) } } @else { (euros(left)) } }
                        }
                    } }
                } }

                h2 { "Ordre du jour" }
                @if items.is_empty() {
                    p { "Aucun dossier n'attend de décision : les dossiers passent en comité quand tous les financeurs sollicités ont rendu leur avis." }
                } @else {
                    form method="post" action=(format!("/comites/{}/decisions", c.id)) novalidate {
                        input type="hidden" name="csrf" value=(visitor.csrf());
                        div.fr-table { table {
                            caption { (items.len()) " dossier(s) aux avis rendus" }
                            thead { tr {
                                th scope="col" { "Dossier" } th scope="col" { "Financeur" } th scope="col" { "Demandé" }
                                th scope="col" { "Proposé" } th scope="col" { "Avis" } th scope="col" { "Décision" } th scope="col" { "Montant accordé (€)" }
                            } }
                            tbody { @for item in &items { @for (i, l) in item.lines.iter().enumerate() {
                                @let key = format!("{}-{}", item.id, l.funder);
                                @let (d, amount) = value(item, l);
                                tr {
                                    @if i == 0 {
                                        td rowspan=(item.lines.len()) {
                                            a href=(format!("/dossiers/{}", item.id)) { (item.reference) } br;
                                            (item.title) br;
                                            span.fr-text--xs { (item.organisation) " — " (item.component) }
                                        }
                                    }
                                    th scope="row" { (funder_name(&funders, &l.funder)) }
                                    td { (euros(l.requested)) }
                                    td { (amount_or_dash(l.proposed)) }
                                    td {
                                        @match l.opinion { Some(o) => { (o.label()) } None => { "—" } }
                                        @if let Some(cm) = &l.opinion_comment { br; span.fr-text--xs { (cm) } }
                                    }
                                    @if let Some(done) = l.decision {
                                        td { (done.label()) }
                                        td { (euros(l.decided)) }
                                    } @else if seat.may_decide(&l.funder) {
                                        td {
                                            select.fr-select name=(format!("decision-{key}")) aria-label=(format!("Décision {} {}", item.reference, l.funder)) {
                                                option value="" selected[d.is_empty()] { "— à décider —" }
                                                @for x in [Decision::Accorde, Decision::Refuse, Decision::Ajourne] {
                                                    option value=(x.code()) selected[d == x.code()] { (x.label()) }
                                                }
                                            }
                                            @if let Some(e) = form.line_errors.get(&(item.id, l.funder.clone())) { p.fr-error-text { (e) } }
                                        }
                                        td { input.fr-input type="text" name=(format!("amount-{key}")) value=(amount) inputmode="decimal" aria-label=(format!("Montant {} {}", item.reference, l.funder)); }
                                    } @else {
                                        td colspan="2" { span.q-unknown { "décidé par ce financeur" } }
                                    }
                                }
                            } } }
                        } }
                        @if form.overrun {
                            @if seat.steers {
                                div.fr-alert.fr-alert--warning.fr-mb-3w {
                                    h3.fr-alert__title { "Dépassement d'enveloppe" }
                                    p { "Une ou plusieurs décisions dépassent l'enveloppe de leur financeur. Pour les enregistrer malgré tout, indiquez le motif du dépassement ; il figurera au procès-verbal." }
                                }
                                div.fr-input-group {
                                    label.fr-label for="override_reason" { "Motif du dépassement d'enveloppe" }
                                    textarea.fr-input #override_reason name="override_reason" rows="3" { (form.override_reason) }
                                }
                            } @else {
                                (layout::notice("warning", "Une ou plusieurs décisions dépassent l'enveloppe de leur financeur : seul un pilote du contrat peut confirmer un dépassement, avec un motif."))
                            }
                        }
                        @if decidable {
                            button.fr-btn type="submit" { "Enregistrer les décisions" }
                            p.fr-hint-text { "Toutes les décisions du formulaire sont enregistrées ensemble, ou aucune." }
                        }
                    }
                }
            },
        )
        .into_string(),
    ))
}

/// GET /comites/{id}
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Query(q): Query<CommitteeQuery>,
) -> Result<Html<String>> {
    let seat = seat(&state, &visitor, id).await?;
    let notice = (q.note == "decide").then_some("Les décisions sont enregistrées.");
    show_render(&state, &visitor, &seat, &DecisionForm::default(), notice).await
}

/// POST /comites/{id}/decisions: all the decisions of the form, or none.
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn decide(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    let seat = seat(&state, &visitor, id).await?;
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    let mut form = DecisionForm::read(&pairs);
    if form.typed.keys().any(|(_, f)| !seat.may_decide(f)) {
        return Err(Error::Forbidden);
    }
    let page = |status: StatusCode, html: Html<String>| Ok((status, html).into_response());
    if !form.override_reason.is_empty() && !seat.steers {
        form.overrun = true;
        form.errors.push(
            "Seul un pilote du contrat peut confirmer un dépassement d'enveloppe : vos décisions n'ont pas été enregistrées."
                .into(),
        );
        let html = show_render(&state, &visitor, &seat, &form, None).await?;
        return page(StatusCode::FORBIDDEN, html);
    }
    let decisions = form.decisions();
    if !form.line_errors.is_empty() {
        let html = show_render(&state, &visitor, &seat, &form, None).await?;
        return page(StatusCode::UNPROCESSABLE_ENTITY, html);
    }
    if decisions.is_empty() {
        form.errors
            .push("Choisissez au moins une décision avant d'enregistrer.".into());
        let html = show_render(&state, &visitor, &seat, &form, None).await?;
        return page(StatusCode::UNPROCESSABLE_ENTITY, html);
    }
    let reason = (!form.override_reason.is_empty()).then_some(form.override_reason.clone());
    match state
        .store
        .decide(
            seat.committee.id,
            &decisions,
            reason.as_deref(),
            &visitor.author(),
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("/comites/{id}?note=decide")).into_response()),
        Err(StoreError::Invalid(v)) => {
            for e in v.0 {
                let index = e
                    .field
                    .strip_prefix("decisions[")
                    .and_then(|r| r.strip_suffix(']'))
                    .and_then(|i| i.parse::<usize>().ok());
                if e.message.contains("dépasse l'enveloppe") {
                    form.overrun = true;
                }
                match index.and_then(|i| decisions.get(i)) {
                    Some(d) => {
                        form.line_errors
                            .insert((d.application_id, d.funder.clone()), e.message);
                    }
                    None => form.errors.push(e.message),
                }
            }
            let html = show_render(&state, &visitor, &seat, &form, None).await?;
            page(StatusCode::UNPROCESSABLE_ENTITY, html)
        }
        Err(StoreError::Conflict(m)) => {
            form.errors.push(m);
            let html = show_render(&state, &visitor, &seat, &form, None).await?;
            page(StatusCode::CONFLICT, html)
        }
        Err(e) => Err(e.into()),
    }
}

// ---- Minutes ----

/// A field of the minutes' CSV (`;`-separated, quoted when needed).
fn csv_field(s: &str) -> String {
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// GET /comites/{id}/proces-verbal[?format=csv]: the decisions of the session, as a printable
/// document or a CSV file. Pilots, the financers' instructors and the readers of the contract.
#[tracing::instrument(skip(state, visitor))]
pub async fn minutes(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Query(q): Query<CommitteeQuery>,
) -> Result<Response> {
    let principal = signed_in(&visitor)?;
    let committee = state.store.committee(id).await?;
    let call = state.store.call(committee.call_id).await?;
    let cid = call.contract_id;
    if !principal.steers(cid)
        && principal.funder_codes(cid).is_empty()
        && principal.role_on(cid) != Some(Role::Lecteur)
    {
        return Err(Error::Forbidden);
    }
    let decisions = state.store.committee_decisions(id).await?;
    let funders = state.store.funders(cid).await?;
    let label = |d: &str| {
        Decision::parse(d)
            .map(|x| x.label().to_string())
            .unwrap_or_else(|_| d.to_string())
    };
    match q.format.as_str() {
        "csv" => {
            let mut out = String::from("\u{feff}reference;action;structure;composante;financeur;demande_euros;propose_euros;decision;accorde_euros;motif_depassement\r\n");
            for d in &decisions {
                let row = [
                    d.reference.clone(),
                    d.title.clone(),
                    d.organisation.clone(),
                    d.component.clone(),
                    funder_name(&funders, &d.funder),
                    euros_input(Some(d.requested)),
                    euros_input(d.proposed),
                    label(&d.decision),
                    euros_input(Some(d.decided)),
                    // The store keeps the reason on every line of the confirmed batch: it
                    // concerns the grants only.
                    d.override_reason
                        .clone()
                        .filter(|_| d.decision == "accorde")
                        .unwrap_or_default(),
                ];
                let row: Vec<String> = row.iter().map(|f| csv_field(f)).collect();
                out.push_str(&row.join(";"));
                out.push_str("\r\n");
            }
            Ok((
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"proces-verbal-comite-{id}.csv\""),
                    ),
                ],
                out,
            )
                .into_response())
        }
        "" | "html" => {
            let mut by_funder: Vec<(String, Vec<_>)> = Vec::new();
            for d in &decisions {
                match by_funder.iter_mut().find(|(f, _)| *f == d.funder) {
                    Some((_, v)) => v.push(d),
                    None => by_funder.push((d.funder.clone(), vec![d])),
                }
            }
            let slug = contract_slug(&state, cid).await?;
            let contract = state.store.contract(&slug).await?;
            let doc = html! {
                (DOCTYPE)
                html lang="fr" {
                    head {
                        meta charset="utf-8";
                        title { "Procès-verbal — " (committee.title) }
                        style { "body{font-family:Marianne,Arial,sans-serif;margin:2cm;color:#161616}table{border-collapse:collapse;width:100%;margin-bottom:1.5em}th,td{border:1px solid #999;padding:4px 6px;text-align:left;vertical-align:top}td.n,th.n{text-align:right;white-space:nowrap}@media print{a{color:inherit;text-decoration:none}.no-print{display:none}}" }
                    }
                    body {
                        p.no-print { a href=(format!("/comites/{id}")) { "← Retour à la séance" } " · " a href=(format!("/comites/{id}/proces-verbal?format=csv")) { "Télécharger en CSV" } }
                        h1 { "Procès-verbal du comité de programmation" }
                        p { strong { (contract.document.contract.name) } br; (call.settings.title) br; (committee.title) " — séance du " (layout::french_date(&committee.held_on)) }
                        @if !committee.members.trim().is_empty() {
                            h2 { "Membres" }
                            ul { @for m in committee.members.lines().filter(|m| !m.trim().is_empty()) { li { (m.trim()) } } }
                        }
                        h2 { "Décisions" }
                        @if decisions.is_empty() { p { "Aucune décision n'a été prise lors de cette séance." } }
                        @for (funder, rows) in &by_funder {
                            h3 { (funder_name(&funders, funder)) }
                            table {
                                thead { tr { th { "Dossier" } th { "Action" } th { "Structure" } th { "Composante" } th.n { "Demandé" } th.n { "Proposé" } th { "Décision" } th.n { "Accordé" } } }
                                tbody { @for d in rows { tr {
                                    td { (d.reference) } td { (d.title) } td { (d.organisation) } td { (d.component) }
                                    td.n { (euros(d.requested)) } td.n { (amount_or_dash(d.proposed)) }
                                    td { (label(&d.decision)) @if let Some(r) = d.override_reason.as_ref().filter(|_| d.decision == "accorde") { br; em { "Dépassement d'enveloppe confirmé : " (r) } } }
                                    td.n { (euros(d.decided)) }
                                } } }
                                tfoot { tr { th colspan="7" { "Total accordé" } td.n { (euros(rows.iter().map(|d| d.decided).sum())) } } }
                            }
                        }
                        @if !decisions.is_empty() {
                            p { strong { "Total accordé par la séance : " (euros(decisions.iter().map(|d| d.decided).sum())) } }
                        }
                    }
                }
            };
            Ok(Html(doc.into_string()).into_response())
        }
        other => Err(Error::BadRequest(format!(
            "Format « {other} » inconnu : le procès-verbal s'obtient en page imprimable ou avec ?format=csv."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn bulk_form_is_read_line_by_line() {
        let mut f = DecisionForm::read(&pairs(&[
            ("decision-3-etat", "accorde"),
            ("amount-3-etat", "10 000"),
            ("decision-3-ville-roubaix", "refuse"),
            ("amount-3-ville-roubaix", "n'importe quoi"),
            ("decision-4-mel", ""),
            ("amount-4-mel", "5"),
            ("decision-5-mel", "accorde"),
            ("amount-5-mel", "-3"),
        ]));
        let d = f.decisions();
        assert_eq!(d.len(), 2);
        assert_eq!(
            (d[0].application_id, d[0].funder.as_str(), d[0].amount_cents),
            (3, "etat", 1_000_000)
        );
        assert_eq!(
            (d[1].funder.as_str(), d[1].decision, d[1].amount_cents),
            ("ville-roubaix", Decision::Refuse, 0)
        );
        assert!(f.line_errors.contains_key(&(5, "mel".to_string())));
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("a;b"), "\"a;b\"");
        assert_eq!(csv_field("dit \"oui\""), "\"dit \"\"oui\"\"\"");
        assert_eq!(csv_field("simple"), "simple");
    }
}
