//! The application page (dossier): the whole CERFA content read-only, the financer lines with
//! the opinion form on the visitor's own line, the workflow buttons the visitor may press now,
//! the messages and the audit trail. The POST handlers re-render this page with what was typed
//! and a French message when an action is refused, so that nothing is lost.

use super::{amount_or_dash, euros_input, field, status_badge, status_label, when, Pairs};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::{contract_slug, euros, readable_application, signed_in};
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::{html, Markup};
use quartiers_domain::funding::access::ApplicationScope;
use quartiers_domain::funding::budget;
use quartiers_domain::funding::workflow::{events_from, transition, TransitionError};
use quartiers_domain::funding::{Event, Opinion};
use quartiers_domain::{Cents, ValidationErrors};
use quartiers_store::funding::applications::{FundingLine, StoredApplication};
use quartiers_store::funding::calls::Funder;
use quartiers_store::funding::FireOutcome;
use quartiers_store::StoreError;

/// Events that belong to other pages and are never offered as buttons here: the committee's
/// decision, the agreements, payments and follow-up of the money section (attendre le bilan,
/// clore), and the report form (déposer le bilan).
const ELSEWHERE: [Event; 6] = [
    Event::Decider,
    Event::Conventionner,
    Event::Payer,
    Event::AttendreBilan,
    Event::Clore,
    Event::DeposerBilan,
];

/// Whether an event must carry a comment, and the message when it is missing.
fn comment_required(event: Event) -> Option<&'static str> {
    match event {
        Event::DemanderComplement => Some("Écrivez ce qui est demandé au porteur de projet."),
        Event::Completer => {
            Some("Écrivez ce que vous transmettez en réponse à la demande de complément.")
        }
        Event::RenvoyerBilan => Some("Écrivez ce qui doit être corrigé dans le bilan."),
        _ => None,
    }
}

/// Whether an event's form offers an optional comment.
fn comment_optional(event: Event) -> bool {
    matches!(event, Event::Retirer | Event::Instruire)
}

/// The notices shown after a redirect (`?note=`): fixed texts, never the query itself.
fn note_text(code: &str) -> Option<&'static str> {
    match code {
        "evenement" => Some("L'action est enregistrée."),
        "deja" => Some(
            "Cette action était déjà enregistrée (double envoi) : elle n'a été faite qu'une fois.",
        ),
        "avis" => Some("Votre avis est enregistré."),
        "message" => Some("Votre message est ajouté au dossier."),
        _ => None,
    }
}

/// `?note=`
#[derive(Debug, Default, serde::Deserialize)]
pub struct NoteQuery {
    #[serde(default)]
    note: String,
}

/// A refused workflow action, with the comment typed.
#[derive(Debug, Default)]
struct EventRefusal {
    event: Option<Event>,
    message: String,
    missing: Vec<String>,
    comment: String,
}

/// The opinion form of one line, as typed, with its faults.
#[derive(Debug, Default)]
struct OpinionForm {
    funder: String,
    opinion: String,
    proposed: String,
    comment: String,
    errors: ValidationErrors,
    conflict: Option<String>,
}

/// What the page shows besides the stored state.
#[derive(Debug, Default)]
struct Extras {
    notice: Option<&'static str>,
    refusal: Option<EventRefusal>,
    opinion: Option<OpinionForm>,
    message: Option<(String, ValidationErrors)>,
}

fn funder_name(funders: &[Funder], code: &str) -> String {
    funders
        .iter()
        .find(|f| f.code == code)
        .map(|f| f.name.clone())
        .unwrap_or_else(|| code.to_string())
}

/// The label of an audit row's event.
fn audit_label(event: &str, funders: &[Funder]) -> String {
    if let Some(f) = event.strip_prefix("avis:") {
        return format!("avis de {}", funder_name(funders, f));
    }
    if let Some(f) = event.strip_prefix("decision:") {
        return format!("décision pour {}", funder_name(funders, f));
    }
    if event == "creer" {
        return "création du dossier".into();
    }
    Event::parse(event)
        .map(|e| e.label().to_string())
        .unwrap_or_else(|_| event.to_string())
}

/// A number typed by a person (`120`, `12,5`).
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}").replace('.', ",")
    }
}

fn budget_section(app: &StoredApplication, funders: &[Funder]) -> Markup {
    let account_label = |n: u16| budget::account(n).map(|(_, l)| l).unwrap_or("");
    html! {
        @if app.body.budget.is_empty() { p { (layout::or_unknown(None)) } }
        @for y in &app.body.budget {
            h3.fr-h5 { "Budget " (y.year) }
            div.fr-grid-row.fr-grid-row--gutters {
                div.fr-col-12.fr-col-md-6 { div.fr-table { table {
                    caption { "Charges " (y.year) }
                    thead { tr { th scope="col" { "Compte" } th scope="col" { "Libellé" } th scope="col" { "Montant" } } }
                    tbody { @for l in &y.charges { tr {
                        td { (l.account) " — " (account_label(l.account)) }
                        td { (l.label) }
                        td { (l.amount_cents) }
                    } } }
                    tfoot { tr { th scope="row" colspan="2" { "Total des charges" } td { (euros(y.total_charges())) } } }
                } } }
                div.fr-col-12.fr-col-md-6 { div.fr-table { table {
                    caption { "Produits " (y.year) }
                    thead { tr { th scope="col" { "Compte" } th scope="col" { "Libellé" } th scope="col" { "Montant" } } }
                    tbody { @for l in &y.income { tr {
                        td { (l.account) " — " (account_label(l.account)) }
                        td { (l.label) @if let Some(f) = &l.funder { " — " strong { (funder_name(funders, f)) } } }
                        td { (l.amount_cents) }
                    } } }
                    tfoot { tr { th scope="row" colspan="2" { "Total des produits" } td { (euros(y.total_income())) } } }
                } } }
            }
            @if y.total_charges() != y.total_income() {
                (layout::notice("warning", &format!("Le budget {} n'est pas équilibré : écart de {}.", y.year, euros((y.total_charges() - y.total_income()).abs()))))
            }
        }
        @if app.body.budget.len() > 1 {
            p.fr-text--bold {
                "Sur toute la durée : charges " (euros(app.body.budget.iter().map(|y| y.total_charges()).sum()))
                ", produits " (euros(app.body.budget.iter().map(|y| y.total_income()).sum())) "."
            }
        }
    }
}

fn opinion_form(
    visitor: &Visitor,
    app: &StoredApplication,
    line: &FundingLine,
    name: &str,
    typed: Option<&OpinionForm>,
) -> Markup {
    let empty = ValidationErrors::new();
    let errors = typed.map(|t| &t.errors).unwrap_or(&empty);
    let opinion = typed.map(|t| t.opinion.clone()).unwrap_or_else(|| {
        line.opinion
            .map(|o| o.code().to_string())
            .unwrap_or_default()
    });
    let proposed = typed
        .map(|t| t.proposed.clone())
        .unwrap_or_else(|| euros_input(Some(line.proposed.unwrap_or(line.requested))));
    let comment = typed
        .map(|t| t.comment.clone())
        .unwrap_or_else(|| line.opinion_comment.clone().unwrap_or_default());
    let id = |f: &str| format!("avis-{}-{f}", line.funder);
    html! {
        form.fr-mb-4w method="post" action=(format!("/dossiers/{}/avis/{}", app.id, line.funder)) novalidate {
            fieldset.fr-fieldset {
                legend.fr-fieldset__legend { "Avis de " (name) }
                @if let Some(c) = typed.and_then(|t| t.conflict.as_deref()) { (layout::notice("error", c)) }
                input type="hidden" name="csrf" value=(visitor.csrf());
                div.fr-fieldset__element { div class=(super::group_class(errors, "opinion")) {
                    label.fr-label for=(id("opinion")) { "Avis *" }
                    select.fr-select id=(id("opinion")) name="opinion" {
                        option value="" selected[opinion.is_empty()] { "— choisir —" }
                        @for o in [Opinion::Favorable, Opinion::Reserve, Opinion::Defavorable] {
                            option value=(o.code()) selected[opinion == o.code()] { (o.label()) }
                        }
                    }
                    (super::field_error(errors, "opinion"))
                } }
                div.fr-fieldset__element { div class=(super::group_class(errors, "proposed")) {
                    label.fr-label for=(id("proposed")) { "Montant proposé (€) *" span.fr-hint-text { "Demandé : " (euros(line.requested)) } }
                    input.fr-input id=(id("proposed")) type="text" name="proposed" value=(proposed) inputmode="decimal";
                    (super::field_error(errors, "proposed"))
                } }
                div.fr-fieldset__element { div class=(super::group_class(errors, "comment")) {
                    label.fr-label for=(id("comment")) { "Commentaire" }
                    textarea.fr-input id=(id("comment")) name="comment" rows="3" { (comment) }
                    (super::field_error(errors, "comment"))
                } }
                div.fr-fieldset__element { button.fr-btn type="submit" { "Enregistrer l'avis" } }
            }
        }
    }
}

/// Why the workflow would refuse `event` now (a guard on the financer lines or payments),
/// so that the button is shown disabled with its reason instead of failing when pressed.
/// Guards on what is typed (a required comment) or on submission are checked when posted.
fn blocked_reason(app: &StoredApplication, lines: &[FundingLine], event: Event) -> Option<String> {
    let mut guards = quartiers_store::funding::line_guards(lines);
    guards.has_message = true;
    match transition(app.status, event, &guards) {
        Err(TransitionError::Guard(reason)) => Some(reason),
        _ => None,
    }
}

fn event_form(
    visitor: &Visitor,
    app: &StoredApplication,
    event: Event,
    refusal: Option<&EventRefusal>,
    blocked: Option<String>,
) -> Markup {
    let typed = refusal
        .filter(|r| r.event == Some(event))
        .map(|r| r.comment.clone())
        .unwrap_or_default();
    let required = comment_required(event).is_some();
    let danger = matches!(event, Event::Retirer | Event::Clore);
    let id = format!("commentaire-{}", event.code());
    html! {
        form.fr-mb-2w method="post" action=(format!("/dossiers/{}/evenements/{}", app.id, event.code())) novalidate {
            input type="hidden" name="csrf" value=(visitor.csrf());
            input type="hidden" name="version" value=(app.version);
            @if required || comment_optional(event) {
                div.fr-input-group {
                    label.fr-label for=(id) {
                        "Commentaire pour « " (event.label()) " »" @if required { " *" } @else { span.fr-hint-text { "Facultatif." } }
                    }
                    textarea.fr-input id=(id) name="comment" rows="3" { (typed) }
                }
            }
            @if let Some(reason) = &blocked {
                button class=(if danger { "fr-btn fr-btn--secondary" } else { "fr-btn" }) type="submit" disabled aria-describedby=(format!("bloque-{}", event.code())) { (layout::capitalize(event.label())) }
                p.fr-hint-text id=(format!("bloque-{}", event.code())) { (reason) }
            } @else {
                button class=(if danger { "fr-btn fr-btn--secondary" } else { "fr-btn" }) type="submit" { (layout::capitalize(event.label())) }
            }
        }
    }
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    app: &StoredApplication,
    scope: &ApplicationScope,
    extras: &Extras,
) -> Result<Html<String>> {
    let principal = signed_in(visitor)?;
    let lines = state.store.funding_lines(app.id).await?;
    let funders = state.store.funders(app.contract_id).await?;
    let slug = contract_slug(state, app.contract_id).await?;
    let contract = state.store.contract(&slug).await?;
    let doc = &contract.document;
    let c = &doc.contract;
    let call = state.store.call(app.call_id).await?;
    let overdue = state.store.has_overdue_report(app.organisation_id).await?;
    let messages = state.store.application_messages(app.id).await?;
    let audit = state.store.application_events(app.id).await?;
    // The agreements, payments and report of the money side.
    let money =
        crate::pages::funding::money::application_section(state, visitor, app, &lines).await?;
    let events: Vec<Event> = events_from(app.status)
        .into_iter()
        .filter(|e| !ELSEWHERE.contains(e) && principal.can_fire(scope, *e))
        .collect();
    let body = &app.body;
    let qpv_name = |code: &str| {
        c.qpvs
            .iter()
            .find(|q| q.code.as_ref().is_some_and(|x| x.to_string() == code))
            .and_then(|q| q.name.clone())
    };
    let requested_total: i64 = lines.iter().map(|l| l.requested).sum();
    let frame = Frame::new(state, visitor);
    let title = format!("Dossier {}", app.reference);
    Ok(Html(
        layout::page(
            &frame,
            &title,
            &[
                (c.name.as_str(), format!("/contrats/{slug}")),
                (call.settings.title.as_str(), format!("/appels/{}", call.id)),
                (app.reference.as_str(), String::new()),
            ],
            html! {
                h1 { (title) }
                p.fr-text--lead { (layout::or_unknown(Some(&body.title))) }
                div.fr-mb-3w {
                    (status_badge(app.status))
                    @if overdue { p.fr-badge.fr-badge--warning.fr-badge--sm.fr-ml-1w { "bilan en retard" } }
                }
                @if let Some(n) = extras.notice { (layout::notice("success", n)) }
                @if let Some(r) = &extras.refusal {
                    div.fr-alert.fr-alert--error.fr-mb-3w role="alert" {
                        h2.fr-alert__title { "Action refusée" }
                        @if r.missing.is_empty() { p { (r.message) } } @else {
                            p { "Le dossier ne peut pas être déposé : il manque encore ces éléments." }
                            ul { @for m in &r.missing { li { (m) } } }
                        }
                        @if !r.comment.is_empty() && !r.event.is_some_and(|e| events.contains(&e)) {
                            // The button is gone (the file moved on): the text typed is kept here.
                            div.fr-input-group.fr-mt-2w {
                                label.fr-label for="commentaire-refuse" { "Votre texte, qui n'a pas été enregistré :" }
                                textarea.fr-input #commentaire-refuse rows="3" readonly { (r.comment) }
                            }
                        }
                    }
                }
                dl {
                    dt { "Structure" } dd { a href=(format!("/structures/{}", app.organisation_id)) { (app.organisation_name) } }
                    dt { "Appel à projets" } dd { a href=(format!("/appels/{}", call.id)) { (call.settings.title) } }
                    dt { "Programme" } dd { (app.year) }
                    @if let Some(s) = &app.submitted_at { dt { "Déposé le" } dd { (when(s)) } }
                    @if let Some(r) = app.renewed_from { dt { "Renouvelle" } dd { a href=(format!("/dossiers/{r}")) { "le dossier n° " (r) } } }
                    dt { "Dernière modification" } dd { (when(&app.updated_at)) }
                }

                h2 #financements { "Financements sollicités" }
                @if lines.is_empty() {
                    p { "Les lignes de financement sont créées au dépôt, d'après le budget (compte 74)." }
                    @let asked = body.requested_by_funder();
                    @if !asked.is_empty() { ul { @for (f, a) in &asked { li { (funder_name(&funders, f)) " : " (euros(*a)) } } } }
                } @else {
                    div.fr-table { table {
                        caption { "Lignes de financement par financeur" }
                        thead { tr {
                            th scope="col" { "Financeur" } th scope="col" { "Demandé" } th scope="col" { "Proposé" } th scope="col" { "Avis" }
                            th scope="col" { "Décision" } th scope="col" { "Accordé" } th scope="col" { "Conventionné" } th scope="col" { "Payé" }
                        } }
                        tbody { @for l in &lines { tr {
                            th scope="row" { (funder_name(&funders, &l.funder)) }
                            td { (euros(l.requested)) }
                            td { (amount_or_dash(l.proposed)) }
                            td {
                                @match l.opinion { Some(o) => { (o.label()) } None => { span.q-unknown { "en attente" } } }
                                @if let Some(cm) = &l.opinion_comment { br; span.fr-text--xs { (cm) } }
                            }
                            td {
                                @match l.decision { Some(d) => { (d.label()) } None => { "—" } }
                                @if let Some(r) = l.override_reason.as_ref().filter(|_| l.decision == Some(quartiers_domain::funding::Decision::Accorde)) { br; span.fr-text--xs { "Dépassement d'enveloppe confirmé : " (r) } }
                            }
                            td { (euros(l.decided)) }
                            td { (euros(l.agreed)) }
                            td { (euros(l.paid)) }
                        } } }
                        tfoot { tr {
                            th scope="row" { "Total" }
                            td { (euros(requested_total)) }
                            td { (euros(lines.iter().filter_map(|l| l.proposed).sum())) }
                            td {} td {}
                            td { (euros(lines.iter().map(|l| l.decided).sum())) }
                            td { (euros(lines.iter().map(|l| l.agreed).sum())) }
                            td { (euros(lines.iter().map(|l| l.paid).sum())) }
                        } }
                    } }
                    @if app.status.open_for_opinions() {
                        @for l in lines.iter().filter(|l| principal.can_instruct_line(app.contract_id, &l.funder)) {
                            (opinion_form(visitor, app, l, &funder_name(&funders, &l.funder), extras.opinion.as_ref().filter(|o| o.funder == l.funder)))
                        }
                    }
                }

                @if !events.is_empty() {
                    h2 #actions { "Actions" }
                    @for e in &events { (event_form(visitor, app, *e, extras.refusal.as_ref(), blocked_reason(app, &lines, *e))) }
                }

                h2 { "Le projet" }
                dl {
                    dt { "Intitulé" } dd { (layout::or_unknown(Some(&body.title))) }
                    dt { "Composante" } dd { (layout::or_unknown(Some(&body.component))) }
                    dt { "Dates" } dd {
                        @if body.start_on.is_empty() && body.end_on.is_empty() { (layout::or_unknown(None)) }
                        @else { "du " (layout::french_date(&body.start_on)) " au " (layout::french_date(&body.end_on)) }
                    }
                    dt { "Lieux de réalisation" } dd { (layout::or_unknown(Some(&body.places))) }
                }
                h3.fr-h5 { "Description" }
                @if body.description.trim().is_empty() { p { (layout::or_unknown(None)) } } @else { (layout::paragraphs(&body.description)) }
                h3.fr-h5 { "Objectifs" }
                @if body.objectives.trim().is_empty() { p { (layout::or_unknown(None)) } } @else { (layout::paragraphs(&body.objectives)) }

                h2 { "Cadre du contrat servi" }
                @if body.framework_keys.is_empty() { p { (layout::or_unknown(None)) } } @else {
                    ul { @for k in &body.framework_keys { li {
                        @if let Some((n, depth)) = doc.find_node(k) {
                            (layout::capitalize(&c.level_label(depth).singular)) " " a href=(format!("/contrats/{slug}/cadre/{k}")) { (k) } " — " (n.title)
                            @if call.settings.priority_nodes.contains(k) { " " span.fr-badge.fr-badge--sm.fr-badge--green-emeraude { "prioritaire" } }
                        } @else { (k) " " span.q-unknown { "(absent du cadre actuel)" } }
                    } } }
                }

                h2 { "Quartiers et public" }
                h3.fr-h5 { "Quartiers prioritaires concernés" }
                @if body.qpv_codes.is_empty() { p { (layout::or_unknown(None)) } } @else {
                    ul { @for q in &body.qpv_codes {
                        @let code = q.to_string();
                        li { a href=(format!("/quartiers-prioritaires/{code}")) { (code) } @if let Some(n) = qpv_name(&code) { " — " (n) } }
                    } }
                }
                @if !body.perimeters.is_empty() {
                    h3.fr-h5 { "Autres périmètres" }
                    ul { @for p in &body.perimeters { li { (p) } } }
                }
                dl {
                    dt { "Public visé" } dd { (layout::or_unknown(Some(&body.public_description))) }
                    dt { "Bénéficiaires attendus" } dd { (layout::or_unknown(body.expected_beneficiaries.map(|n| n.to_string()).as_deref())) }
                    dt { "Part habitant en QPV" } dd { (layout::or_unknown(body.qpv_share_percent.map(|p| format!("{p} %")).as_deref())) }
                }

                h2 { "Indicateurs proposés" }
                @if body.indicators.is_empty() { p { (layout::or_unknown(None)) } } @else {
                    div.fr-table { table {
                        caption { "Indicateurs et cibles" }
                        thead { tr { th scope="col" { "Indicateur" } th scope="col" { "Cible" } th scope="col" { "Unité" } } }
                        tbody { @for i in &body.indicators { tr { td { (i.name) } td { (number(i.target)) } td { (i.unit) } } } }
                    } }
                }

                h2 { "Budget prévisionnel" }
                (budget_section(app, &funders))

                (money)

                h2 #messages { "Messages" }
                @if messages.is_empty() { p { "Aucun message." } } @else {
                    @for m in &messages {
                        div.fr-callout.fr-mb-2w {
                            p.fr-callout__text { (m.body) }
                            p.fr-text--xs.fr-mb-0 { (m.author) " — " (when(&m.at)) }
                        }
                    }
                }
                @let (typed, errors) = extras.message.clone().unwrap_or_default();
                form method="post" action=(format!("/dossiers/{}/messages", app.id)) novalidate {
                    input type="hidden" name="csrf" value=(visitor.csrf());
                    div class=(super::group_class(&errors, "body")) {
                        label.fr-label for="message-body" { "Nouveau message" span.fr-hint-text { "Visible par la structure, les financeurs sollicités et les pilotes." } }
                        textarea.fr-input #message-body name="body" rows="4" { (typed) }
                        (super::field_error(&errors, "body"))
                    }
                    button.fr-btn.fr-btn--secondary type="submit" { "Envoyer le message" }
                }

                h2 #historique { "Historique" }
                div.fr-table { table {
                    caption { "Journal des actions sur le dossier" }
                    thead { tr { th scope="col" { "Date" } th scope="col" { "Par" } th scope="col" { "Action" } th scope="col" { "Statut" } th scope="col" { "Commentaire" } } }
                    tbody { @for a in &audit { tr {
                        td { (when(&a.at)) }
                        td { (a.actor) }
                        td { (audit_label(&a.event, &funders)) }
                        td {
                            @if let Some(f) = &a.from_status { @if *f != a.to_status { (status_label(f)) " → " } }
                            (status_label(&a.to_status))
                        }
                        td { (a.comment.clone().unwrap_or_default()) }
                    } } }
                } }
            },
        )
        .into_string(),
    ))
}

/// GET /dossiers/{id}
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Query(q): Query<NoteQuery>,
) -> Result<Html<String>> {
    let (app, scope) = readable_application(&state, &visitor, id).await?;
    let extras = Extras {
        notice: note_text(&q.note),
        ..Default::default()
    };
    render(&state, &visitor, &app, &scope, &extras).await
}

/// The page again, with `status`.
async fn again(
    state: &AppState,
    visitor: &Visitor,
    id: i64,
    status: StatusCode,
    extras: Extras,
) -> Result<Response> {
    let (app, scope) = readable_application(state, visitor, id).await?;
    Ok((status, render(state, visitor, &app, &scope, &extras).await?).into_response())
}

/// Every piece still missing for the application to be submitted (French), checked against
/// the same context as the `deposer` transition.
async fn missing_pieces(state: &AppState, app: &StoredApplication) -> Result<Vec<String>> {
    let ctx = state.store.submission_context(app.id).await?;
    Ok(app
        .body
        .missing(&ctx)
        .0
        .into_iter()
        .map(|e| e.message)
        .collect())
}

/// POST /dossiers/{id}/evenements/{event}
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn event(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, code)): Path<(i64, String)>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    let (app, scope) = readable_application(&state, &visitor, id).await?;
    let principal = signed_in(&visitor)?;
    let event = Event::parse(&code).map_err(|_| Error::NotFound)?;
    if ELSEWHERE.contains(&event) {
        // Fired from their own pages (committee, money section, report form).
        return Err(Error::NotFound);
    }
    if !principal.can_fire(&scope, event) {
        return Err(Error::Forbidden);
    }
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    let comment = field(&pairs, "comment").trim().to_string();
    let refuse = |message: String, missing: Vec<String>| EventRefusal {
        event: Some(event),
        message,
        missing,
        comment: comment.clone(),
    };
    let Ok(version) = field(&pairs, "version").trim().parse::<i64>() else {
        let r = refuse(
            "La version du dossier manque au formulaire : rechargez la page.".into(),
            vec![],
        );
        return again(
            &state,
            &visitor,
            id,
            StatusCode::CONFLICT,
            Extras {
                refusal: Some(r),
                ..Default::default()
            },
        )
        .await;
    };
    if comment.chars().count() > 10_000 {
        let r = refuse("Le commentaire dépasse 10 000 caractères.".into(), vec![]);
        let extras = Extras {
            refusal: Some(r),
            ..Default::default()
        };
        return again(
            &state,
            &visitor,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            extras,
        )
        .await;
    }
    if let Some(msg) = comment_required(event).filter(|_| comment.is_empty()) {
        // A repeated request for an event already applied is answered as a double click,
        // even without its comment.
        if !(version + 1 == app.version && last_event_is(&state, id, event).await?) {
            let extras = Extras {
                refusal: Some(refuse(msg.into(), vec![])),
                ..Default::default()
            };
            return again(
                &state,
                &visitor,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                extras,
            )
            .await;
        }
    }
    let author = visitor.author();
    let note = (!comment.is_empty()).then_some(comment.as_str());
    match state
        .store
        .fire(id, event, &author, note, Some(version))
        .await
    {
        Ok(FireOutcome::Moved(_)) => {
            Ok(Redirect::to(&format!("/dossiers/{id}?note=evenement")).into_response())
        }
        Ok(FireOutcome::AlreadyDone(_)) => {
            Ok(Redirect::to(&format!("/dossiers/{id}?note=deja")).into_response())
        }
        Err(StoreError::Conflict(message)) => {
            let incomplete = matches!(event, Event::Deposer | Event::Completer)
                && message.starts_with("Le dossier est incomplet");
            let (status, missing) = if incomplete {
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    missing_pieces(&state, &app).await?,
                )
            } else {
                (StatusCode::CONFLICT, vec![])
            };
            let extras = Extras {
                refusal: Some(refuse(message, missing)),
                ..Default::default()
            };
            again(&state, &visitor, id, status, extras).await
        }
        Err(StoreError::Invalid(v)) => {
            let messages = v.0.into_iter().map(|e| e.message).collect();
            let extras = Extras {
                refusal: Some(refuse("Le dossier n'est pas valide.".into(), messages)),
                ..Default::default()
            };
            again(
                &state,
                &visitor,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                extras,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

async fn last_event_is(state: &AppState, id: i64, event: Event) -> Result<bool> {
    Ok(state
        .store
        .application_events(id)
        .await?
        .last()
        .is_some_and(|a| a.event == event.code()))
}

/// POST /dossiers/{id}/avis/{funder}
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn opinion(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((id, funder)): Path<(i64, String)>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    let (app, _scope) = readable_application(&state, &visitor, id).await?;
    let principal = signed_in(&visitor)?;
    if !principal.can_instruct_line(app.contract_id, &funder) {
        return Err(Error::Forbidden);
    }
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    let lines = state.store.funding_lines(id).await?;
    if !lines.iter().any(|l| l.funder == funder) {
        return Err(Error::NotFound);
    }
    let mut form = OpinionForm {
        funder: funder.clone(),
        opinion: field(&pairs, "opinion"),
        proposed: field(&pairs, "proposed").trim().to_string(),
        comment: field(&pairs, "comment").trim().to_string(),
        ..Default::default()
    };
    let mut errors = ValidationErrors::new();
    let opinion = errors.check("opinion", Opinion::parse(&form.opinion));
    let proposed = errors.check("proposed", Cents::parse_euros(&form.proposed));
    if form.comment.chars().count() > 10_000 {
        errors.add("comment", "Le commentaire dépasse 10 000 caractères.");
    }
    let (Some(opinion), Some(proposed), true) = (opinion, proposed, errors.is_empty()) else {
        form.errors = errors;
        let extras = Extras {
            opinion: Some(form),
            ..Default::default()
        };
        return again(
            &state,
            &visitor,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            extras,
        )
        .await;
    };
    let comment = (!form.comment.is_empty()).then_some(form.comment.as_str());
    match state
        .store
        .give_opinion(id, &funder, opinion, proposed, comment, &visitor.author())
        .await
    {
        Ok(_) => {
            Ok(Redirect::to(&format!("/dossiers/{id}?note=avis#financements")).into_response())
        }
        Err(StoreError::Conflict(m)) => {
            let refusal = EventRefusal {
                message: m.clone(),
                ..Default::default()
            };
            form.conflict = Some(m);
            let extras = Extras {
                opinion: Some(form),
                refusal: Some(refusal),
                ..Default::default()
            };
            again(&state, &visitor, id, StatusCode::CONFLICT, extras).await
        }
        Err(StoreError::Invalid(v)) => {
            form.errors = v;
            let extras = Extras {
                opinion: Some(form),
                ..Default::default()
            };
            again(
                &state,
                &visitor,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                extras,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /dossiers/{id}/messages: anyone who may read the application may write to it.
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn message(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    readable_application(&state, &visitor, id).await?;
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    let body = field(&pairs, "body").trim().to_string();
    let fault = if body.is_empty() {
        Some("Écrivez le message avant de l'envoyer.")
    } else if body.chars().count() > 10_000 {
        Some("Le message dépasse 10 000 caractères.")
    } else {
        None
    };
    if let Some(f) = fault {
        let extras = Extras {
            message: Some((body, ValidationErrors::single("body", f))),
            ..Default::default()
        };
        return again(
            &state,
            &visitor,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            extras,
        )
        .await;
    }
    state
        .store
        .add_message(id, &visitor.author(), &body)
        .await?;
    Ok(Redirect::to(&format!("/dossiers/{id}?note=message#messages")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use quartiers_domain::funding::Status;

    #[test]
    fn audit_labels_are_french() {
        let f = vec![Funder {
            code: "etat".into(),
            name: "État".into(),
            email: None,
            siret: None,
        }];
        assert_eq!(audit_label("avis:etat", &f), "avis de État");
        assert_eq!(audit_label("decision:mel", &f), "décision pour mel");
        assert_eq!(audit_label("deposer", &f), "déposer");
        assert_eq!(audit_label("creer", &f), "création du dossier");
    }

    #[test]
    fn comments_where_the_workflow_needs_them() {
        assert!(comment_required(Event::DemanderComplement).is_some());
        assert!(comment_required(Event::Deposer).is_none());
        assert!(comment_optional(Event::Retirer));
        assert_eq!(number(120.0), "120");
        assert_eq!(number(12.5), "12,5");
        assert!(note_text("<script>").is_none());
    }

    #[test]
    fn statuses_offer_their_buttons_minus_the_other_pages() {
        let from_conventionne: Vec<Event> = events_from(Status::Conventionne)
            .into_iter()
            .filter(|e| !ELSEWHERE.contains(e))
            .collect();
        assert!(!from_conventionne.contains(&Event::Payer));
        assert!(!from_conventionne.contains(&Event::DeposerBilan));
    }
}
