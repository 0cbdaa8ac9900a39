//! The contract's financers and its calls for projects (pilots), and the call page that every
//! signed-in user may read.

use super::{euros_input, field, field_error, fields, group_class, status_badge, Pairs};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::{contract_slug, euros, signed_in, steered_call, steered_contract};
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use quartiers_domain::edit::flat_nodes;
use quartiers_domain::funding::call::{document_label, DOCUMENT_KINDS};
use quartiers_domain::funding::{CallSettings, Envelope, Status};
use quartiers_domain::{Cents, ContractDocument, ValidationErrors};
use quartiers_store::contracts::StoredContract;
use quartiers_store::funding::calls::{Call, Funder};
use quartiers_store::StoreError;

// ---- Financers ----

/// The financer form, as typed.
#[derive(Debug, Default, Clone)]
struct FunderForm {
    code: String,
    name: String,
    email: String,
    siret: String,
}

impl FunderForm {
    fn read(pairs: &[(String, String)]) -> Self {
        Self {
            code: field(pairs, "code").trim().to_string(),
            name: field(pairs, "name").trim().to_string(),
            email: field(pairs, "email").trim().to_string(),
            siret: field(pairs, "siret").trim().to_string(),
        }
    }

    fn from_funder(f: &Funder) -> Self {
        Self {
            code: f.code.clone(),
            name: f.name.clone(),
            email: f.email.clone().unwrap_or_default(),
            siret: f.siret.clone().unwrap_or_default(),
        }
    }

    /// The financer to store, or the faults the store does not check itself.
    fn to_funder(&self) -> std::result::Result<Funder, ValidationErrors> {
        let mut e = ValidationErrors::new();
        let email = if self.email.is_empty() {
            None
        } else {
            e.check(
                "email",
                quartiers_store::users::normalize_email(&self.email),
            )
        };
        e.into_result()?;
        Ok(Funder {
            code: self.code.clone(),
            name: self.name.clone(),
            email,
            siret: (!self.siret.is_empty()).then(|| self.siret.replace(' ', "")),
        })
    }
}

async fn funders_render(
    state: &AppState,
    visitor: &Visitor,
    contract: &StoredContract,
    form: &FunderForm,
    errors: &ValidationErrors,
    editing: Option<&str>,
    notice: Option<&str>,
) -> Result<Html<String>> {
    let funders = state.store.funders(contract.id).await?;
    let c = &contract.document.contract;
    let frame = Frame::new(state, visitor);
    let (title, action) = match editing {
        Some(code) => (
            format!("Modifier le financeur « {code} »"),
            format!("/contrats/{}/financeurs/{code}/modifier", c.slug),
        ),
        None => (
            "Ajouter un financeur".to_string(),
            format!("/contrats/{}/financeurs", c.slug),
        ),
    };
    Ok(Html(
        layout::page(
            &frame,
            "Financeurs",
            &[
                (c.name.as_str(), format!("/contrats/{}", c.slug)),
                ("Financeurs", String::new()),
            ],
            html! {
                h1 { "Financeurs du contrat" }
                p { "Les institutions qui financent les actions des appels à projets. Le code désigne le financeur dans les budgets des dossiers et dans les comptes de ses instructeurs (rôle « financeur », institution = code)." }
                @if let Some(n) = notice { (layout::notice("success", n)) }
                @if funders.is_empty() {
                    p { "Aucun financeur n'est encore déclaré." }
                } @else {
                    div.fr-table { table {
                        caption { "Financeurs" }
                        thead { tr { th scope="col" { "Code" } th scope="col" { "Nom" } th scope="col" { "Courriel des notifications" } th scope="col" { "SIRET" } th scope="col" { "Action" } } }
                        tbody { @for f in &funders { tr {
                            td { code { (f.code) } }
                            td { (f.name) }
                            td { (layout::or_unknown(f.email.as_deref())) }
                            td { (layout::or_unknown(f.siret.as_deref())) }
                            td { a.fr-link href=(format!("/contrats/{}/financeurs/{}/modifier", c.slug, f.code)) { "Modifier" } }
                        } } }
                    } }
                }
                p { a.fr-link href=(format!("/contrats/{}/appels", c.slug)) { "Appels à projets du contrat" } }
                h2 #formulaire { (title) }
                (layout::error_summary(errors))
                form method="post" action=(action) novalidate {
                    input type="hidden" name="csrf" value=(visitor.csrf());
                    div class=(group_class(errors, "code")) {
                        label.fr-label for="code" { "Code *" span.fr-hint-text { "Lettres minuscules, chiffres et tirets : etat, mel, ville-roubaix." } }
                        @if editing.is_some() {
                            input.fr-input #code type="text" name="code" value=(form.code) readonly;
                        } @else {
                            input.fr-input #code type="text" name="code" value=(form.code) required;
                        }
                        (field_error(errors, "code"))
                    }
                    div class=(group_class(errors, "name")) {
                        label.fr-label for="name" { "Nom *" }
                        input.fr-input #name type="text" name="name" value=(form.name) required;
                        (field_error(errors, "name"))
                    }
                    div class=(group_class(errors, "email")) {
                        label.fr-label for="email" { "Courriel des notifications" span.fr-hint-text { "Reçoit les accusés de dépôt et les compléments des dossiers qui sollicitent ce financeur." } }
                        input.fr-input #email type="email" name="email" value=(form.email);
                        (field_error(errors, "email"))
                    }
                    div class=(group_class(errors, "siret")) {
                        label.fr-label for="siret" { "SIRET" span.fr-hint-text { "14 chiffres ; l'attributaire des subventions dans les données ouvertes." } }
                        input.fr-input #siret type="text" name="siret" value=(form.siret) inputmode="numeric";
                        (field_error(errors, "siret"))
                    }
                    button.fr-btn type="submit" { "Enregistrer le financeur" }
                }
            },
        )
        .into_string(),
    ))
}

/// GET /contrats/{slug}/financeurs
#[tracing::instrument(skip(state, visitor))]
pub async fn funders_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> Result<Html<String>> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    funders_render(
        &state,
        &visitor,
        &contract,
        &FunderForm::default(),
        &ValidationErrors::new(),
        None,
        None,
    )
    .await
}

async fn save_funder(
    state: &AppState,
    visitor: &Visitor,
    contract: &StoredContract,
    form: FunderForm,
    editing: Option<&str>,
) -> Result<Response> {
    let slug = &contract.document.contract.slug;
    let existing = state.store.funders(contract.id).await?;
    let result = match form.to_funder() {
        Err(e) => Err(e),
        Ok(_) if editing.is_none() && existing.iter().any(|f| f.code == form.code) => {
            Err(ValidationErrors::single(
                "code",
                format!(
                    "Un financeur de code « {} » existe déjà : modifiez-le depuis la liste.",
                    form.code
                ),
            ))
        }
        Ok(f) => match state.store.upsert_funder(contract.id, &f).await {
            Ok(()) => Ok(()),
            Err(StoreError::Invalid(e)) => Err(e),
            Err(e) => return Err(e.into()),
        },
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/contrats/{slug}/financeurs")).into_response()),
        Err(errors) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            funders_render(state, visitor, contract, &form, &errors, editing, None).await?,
        )
            .into_response()),
    }
}

/// POST /contrats/{slug}/financeurs
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn funder_create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    save_funder(&state, &visitor, &contract, FunderForm::read(&pairs), None).await
}

/// GET /contrats/{slug}/financeurs/{code}/modifier
#[tracing::instrument(skip(state, visitor))]
pub async fn funder_edit_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, code)): Path<(String, String)>,
) -> Result<Html<String>> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    let funder = state
        .store
        .funders(contract.id)
        .await?
        .into_iter()
        .find(|f| f.code == code)
        .ok_or(Error::NotFound)?;
    funders_render(
        &state,
        &visitor,
        &contract,
        &FunderForm::from_funder(&funder),
        &ValidationErrors::new(),
        Some(&code),
        None,
    )
    .await
}

/// POST /contrats/{slug}/financeurs/{code}/modifier
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn funder_save(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, code)): Path<(String, String)>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    if !state
        .store
        .funders(contract.id)
        .await?
        .iter()
        .any(|f| f.code == code)
    {
        return Err(Error::NotFound);
    }
    let mut form = FunderForm::read(&pairs);
    form.code = code.clone();
    save_funder(&state, &visitor, &contract, form, Some(&code)).await
}

// ---- Calls ----

/// Where a call stands today (French).
fn call_state(call: &Call) -> (&'static str, &'static str) {
    let today = time::OffsetDateTime::now_utc().date();
    if today < call.opens_on {
        ("à venir", "fr-badge--new")
    } else if today > call.closes_on {
        ("clos", "fr-badge--warning")
    } else {
        ("ouvert", "fr-badge--success")
    }
}

/// GET /contrats/{slug}/appels
#[tracing::instrument(skip(state, visitor))]
pub async fn calls_page(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> Result<Html<String>> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    let calls = state.store.calls(contract.id).await?;
    let c = &contract.document.contract;
    let frame = Frame::new(&state, &visitor);
    Ok(Html(
        layout::page(
            &frame,
            "Appels à projets",
            &[
                (c.name.as_str(), format!("/contrats/{slug}")),
                ("Appels à projets", String::new()),
            ],
            html! {
                h1 { "Appels à projets" }
                ul.fr-btns-group.fr-btns-group--inline-md {
                    li { a.fr-btn href=(format!("/contrats/{slug}/appels/nouveau")) { "Nouvel appel à projets" } }
                    li { a.fr-btn.fr-btn--secondary href=(format!("/contrats/{slug}/financeurs")) { "Financeurs" } }
                    li { a.fr-btn.fr-btn--secondary href=(format!("/contrats/{slug}/instruction")) { "Instruction" } }
                }
                @if calls.is_empty() {
                    p { "Aucun appel à projets n'est encore créé pour ce contrat." }
                } @else {
                    div.fr-table { table {
                        caption { "Appels à projets du contrat" }
                        thead { tr { th scope="col" { "Année" } th scope="col" { "Titre" } th scope="col" { "Dépôts" } th scope="col" { "État" } th scope="col" { "Actions" } } }
                        tbody { @for call in &calls {
                            @let (label, badge) = call_state(call);
                            tr {
                                td { (call.settings.year) }
                                td { a href=(format!("/appels/{}", call.id)) { (call.settings.title) } }
                                td { "du " (layout::french_date(&call.opens_on.to_string())) " au " (layout::french_date(&call.closes_on.to_string())) }
                                td { p class=(format!("fr-badge fr-badge--sm {badge}")) { (label) } }
                                td {
                                    a.fr-link.fr-mr-2w href=(format!("/appels/{}/modifier", call.id)) { "Modifier" }
                                    a.fr-link href=(format!("/appels/{}/comites", call.id)) { "Comités" }
                                }
                            }
                        } }
                    } }
                }
            },
        )
        .into_string(),
    ))
}

/// One typed envelope row.
#[derive(Debug, Default, Clone)]
struct EnvelopeRow {
    funder: String,
    component: String,
    amount: String,
}

/// The call form, as typed.
#[derive(Debug, Default, Clone)]
struct CallForm {
    version: String,
    year: String,
    title: String,
    opens_on: String,
    closes_on: String,
    framing_note: String,
    calendar: String,
    required_documents: Vec<String>,
    priority_nodes: Vec<String>,
    /// Non-empty rows, in order.
    envelopes: Vec<EnvelopeRow>,
    /// Empty rows to show under them.
    blank_rows: usize,
}

impl CallForm {
    fn read(pairs: &[(String, String)]) -> Self {
        let funders = fields(pairs, "env_funder");
        let components = fields(pairs, "env_component");
        let amounts = fields(pairs, "env_amount");
        let n = funders.len().max(components.len()).max(amounts.len());
        let mut envelopes = Vec::new();
        let mut blank = 0;
        for i in 0..n {
            let row = EnvelopeRow {
                funder: funders
                    .get(i)
                    .cloned()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                component: components
                    .get(i)
                    .cloned()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
                amount: amounts
                    .get(i)
                    .cloned()
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            // A row is empty when nothing but a default select value was left (no amount and
            // no financer).
            if row.funder.is_empty() && row.amount.is_empty() {
                blank += 1;
            } else {
                envelopes.push(row);
            }
        }
        Self {
            version: field(pairs, "version"),
            year: field(pairs, "year").trim().to_string(),
            title: field(pairs, "title"),
            opens_on: field(pairs, "opens_on").trim().to_string(),
            closes_on: field(pairs, "closes_on").trim().to_string(),
            framing_note: field(pairs, "framing_note"),
            calendar: field(pairs, "calendar"),
            required_documents: fields(pairs, "required_documents"),
            priority_nodes: fields(pairs, "priority_nodes"),
            envelopes,
            blank_rows: blank.max(1),
        }
    }

    fn from_call(call: &Call, envelopes: &[Envelope]) -> Self {
        let s = &call.settings;
        Self {
            version: call.version.to_string(),
            year: s.year.to_string(),
            title: s.title.clone(),
            opens_on: s.opens_on.clone(),
            closes_on: s.closes_on.clone(),
            framing_note: s.framing_note.clone(),
            calendar: s.calendar.clone(),
            required_documents: s.required_documents.clone(),
            priority_nodes: s.priority_nodes.clone(),
            envelopes: envelopes
                .iter()
                .map(|e| EnvelopeRow {
                    funder: e.funder.clone(),
                    component: e.component.clone(),
                    amount: euros_input(Some(e.amount_cents.get())),
                })
                .collect(),
            blank_rows: 3,
        }
    }

    fn new_for(doc: &ContractDocument) -> Self {
        let year = time::OffsetDateTime::now_utc().year() + 1;
        let p = doc.contract.period;
        let year = year.clamp(p.start_year, p.end_year);
        Self {
            year: year.to_string(),
            title: format!("Appel à projets {year}"),
            blank_rows: 3,
            ..Default::default()
        }
    }

    /// The settings and envelopes, or every fault found (the settings' own rules included).
    fn to_settings(
        &self,
        doc: &ContractDocument,
    ) -> std::result::Result<(CallSettings, Vec<Envelope>), ValidationErrors> {
        let mut e = ValidationErrors::new();
        let year = match self.year.parse::<i32>() {
            Ok(y) => y,
            Err(_) => {
                e.add("year", "Indiquez l'année du programme (exemple : 2026).");
                0
            }
        };
        let settings = CallSettings {
            year,
            title: self.title.trim().to_string(),
            opens_on: self.opens_on.clone(),
            closes_on: self.closes_on.clone(),
            framing_note: self.framing_note.trim().to_string(),
            calendar: self.calendar.trim().to_string(),
            required_documents: self.required_documents.clone(),
            priority_nodes: self.priority_nodes.clone(),
        };
        let p = doc.contract.period;
        if let Err(v) = settings.validate((p.start_year, p.end_year)) {
            for f in v.0 {
                if !(f.field == "year" && year == 0) {
                    e.add(f.field, f.message);
                }
            }
        }
        for k in &settings.priority_nodes {
            if doc.find_node(k).is_none() {
                e.add(
                    "priority_nodes",
                    format!("« {k} » n'est pas un élément du cadre du contrat."),
                );
            }
        }
        let components: Vec<&str> = doc
            .contract
            .components
            .iter()
            .map(|c| c.name.as_str())
            .collect();
        let mut envelopes: Vec<Envelope> = Vec::new();
        for (i, row) in self.envelopes.iter().enumerate() {
            if row.funder.is_empty() {
                e.add(
                    format!("envelopes[{i}].funder"),
                    "Choisissez le financeur de cette enveloppe.",
                );
            }
            if !components.contains(&row.component.as_str()) {
                e.add(
                    format!("envelopes[{i}].component"),
                    "Choisissez une composante du contrat.",
                );
            }
            let amount = e.check(
                &format!("envelopes[{i}].amount"),
                Cents::parse_euros(&row.amount),
            );
            if envelopes
                .iter()
                .any(|x| x.funder == row.funder && x.component == row.component)
            {
                e.add(
                    format!("envelopes[{i}].component"),
                    "Ce financeur a déjà une enveloppe pour cette composante : une seule ligne par financeur et composante.",
                );
            }
            if let Some(amount_cents) = amount {
                envelopes.push(Envelope {
                    funder: row.funder.clone(),
                    component: row.component.clone(),
                    amount_cents,
                });
            }
        }
        e.into_result()?;
        Ok((settings, envelopes))
    }
}

#[allow(clippy::too_many_arguments)]
async fn call_form_render(
    state: &AppState,
    visitor: &Visitor,
    contract: &StoredContract,
    call: Option<&Call>,
    form: &CallForm,
    errors: &ValidationErrors,
    conflict: Option<&str>,
) -> Result<Html<String>> {
    let doc = &contract.document;
    let c = &doc.contract;
    let funders = state.store.funders(contract.id).await?;
    let frame = Frame::new(state, visitor);
    let (title, action) = match call {
        Some(call) => (
            format!("Modifier « {} »", call.settings.title),
            format!("/appels/{}/modifier", call.id),
        ),
        None => (
            "Nouvel appel à projets".to_string(),
            format!("/contrats/{}/appels/nouveau", c.slug),
        ),
    };
    let text = |name: &str, label: &str, value: &str, hint: &str, kind: &str| {
        html! {
            div class=(group_class(errors, name)) {
                label.fr-label for=(name) { (label) @if !hint.is_empty() { span.fr-hint-text { (hint) } } }
                input.fr-input id=(name) type=(kind) name=(name) value=(value);
                (field_error(errors, name))
            }
        }
    };
    let row = |i: Option<usize>, r: &EnvelopeRow| {
        let f = |part: &str| {
            i.map(|i| format!("envelopes[{i}].{part}"))
                .unwrap_or_default()
        };
        let err = |part: &str| errors.for_field(&f(part)).map(str::to_string);
        html! {
            tr {
                td {
                    select.fr-select name="env_funder" aria-label="Financeur" {
                        option value="" selected[r.funder.is_empty()] { "— financeur —" }
                        @for fu in &funders { option value=(fu.code) selected[r.funder == fu.code] { (fu.name) " (" (fu.code) ")" } }
                    }
                    @if let Some(e) = err("funder") { p.fr-error-text { (e) } }
                }
                td {
                    select.fr-select name="env_component" aria-label="Composante" {
                        @for comp in &c.components { option value=(comp.name) selected[r.component == comp.name] { (comp.name) } }
                    }
                    @if let Some(e) = err("component") { p.fr-error-text { (e) } }
                }
                td {
                    input.fr-input type="text" name="env_amount" value=(r.amount) inputmode="decimal" aria-label="Montant en euros";
                    @if let Some(e) = err("amount") { p.fr-error-text { (e) } }
                }
            }
        }
    };
    let mut breadcrumb = vec![
        (c.name.as_str(), format!("/contrats/{}", c.slug)),
        ("Appels à projets", format!("/contrats/{}/appels", c.slug)),
    ];
    breadcrumb.push((title.as_str(), String::new()));
    Ok(Html(
        layout::page(
            &frame,
            &title,
            &breadcrumb,
            html! {
                h1 { (title) }
                @if let Some(m) = conflict { (layout::notice("error", m)) }
                (layout::error_summary(errors))
                form method="post" action=(action) novalidate {
                    input type="hidden" name="csrf" value=(visitor.csrf());
                    @if call.is_some() { input type="hidden" name="version" value=(form.version); }
                    (text("year", "Année du programme *", &form.year, &format!("Entre {} et {}, la période du contrat.", c.period.start_year, c.period.end_year), "text"))
                    (text("title", "Titre *", &form.title, "", "text"))
                    (text("opens_on", "Ouverture des dépôts *", &form.opens_on, "Format AAAA-MM-JJ.", "date"))
                    (text("closes_on", "Clôture des dépôts *", &form.closes_on, "Dernier jour où un dossier peut être déposé (AAAA-MM-JJ).", "date"))
                    div class=(group_class(errors, "framing_note")) {
                        label.fr-label for="framing_note" { "Note de cadrage" span.fr-hint-text { "Priorités, quartiers éligibles, règles de financement." } }
                        textarea.fr-input #framing_note name="framing_note" rows="8" { (form.framing_note) }
                        (field_error(errors, "framing_note"))
                    }
                    div class=(group_class(errors, "calendar")) {
                        label.fr-label for="calendar" { "Calendrier d'instruction" span.fr-hint-text { "Dates des comités, des notifications…" } }
                        textarea.fr-input #calendar name="calendar" rows="4" { (form.calendar) }
                        (field_error(errors, "calendar"))
                    }
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { "Pièces exigées des structures" }
                        @for (kind, label) in DOCUMENT_KINDS {
                            div.fr-fieldset__element { div.fr-checkbox-group {
                                input type="checkbox" id=(format!("doc-{kind}")) name="required_documents" value=(kind) checked[form.required_documents.iter().any(|d| d == kind)];
                                label.fr-label for=(format!("doc-{kind}")) { (label) }
                            } }
                        }
                        (field_error(errors, "required_documents"))
                    }
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { "Éléments du cadre prioritaires" span.fr-hint-text { "Aucun coché : tout le cadre du contrat est éligible." } }
                        @for (depth, node) in flat_nodes(doc) {
                            div.fr-fieldset__element style=(format!("margin-left: {}rem", depth * 2)) { div.fr-checkbox-group {
                                input type="checkbox" id=(format!("node-{}", node.key)) name="priority_nodes" value=(node.key) checked[form.priority_nodes.contains(&node.key)];
                                label.fr-label for=(format!("node-{}", node.key)) { (layout::capitalize(&c.level_label(depth).singular)) " " (node.key) " — " (node.title) }
                            } }
                        }
                        (field_error(errors, "priority_nodes"))
                    }
                    h2.fr-h4 { "Enveloppes par financeur et composante" }
                    @if funders.is_empty() {
                        (layout::notice("warning", "Aucun financeur n'est déclaré pour ce contrat : ajoutez-les avant de saisir les enveloppes."))
                        p { a.fr-link href=(format!("/contrats/{}/financeurs", c.slug)) { "Déclarer les financeurs" } }
                    }
                    div.fr-table { table {
                        caption { "Enveloppes (montants en euros)" }
                        thead { tr { th scope="col" { "Financeur" } th scope="col" { "Composante" } th scope="col" { "Montant (€)" } } }
                        tbody {
                            @for (i, r) in form.envelopes.iter().enumerate() { (row(Some(i), r)) }
                            @for _ in 0..form.blank_rows { (row(None, &EnvelopeRow::default())) }
                        }
                    } }
                    ul.fr-btns-group.fr-btns-group--inline-md {
                        li { button.fr-btn type="submit" name="action" value="enregistrer" { "Enregistrer l'appel à projets" } }
                        li { button.fr-btn.fr-btn--secondary type="submit" name="action" value="lignes" { "Ajouter des lignes" } }
                    }
                }
            },
        )
        .into_string(),
    ))
}

/// GET /contrats/{slug}/appels/nouveau
#[tracing::instrument(skip(state, visitor))]
pub async fn call_new_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> Result<Html<String>> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    let form = CallForm::new_for(&contract.document);
    call_form_render(
        &state,
        &visitor,
        &contract,
        None,
        &form,
        &ValidationErrors::new(),
        None,
    )
    .await
}

async fn invalid(
    state: &AppState,
    visitor: &Visitor,
    contract: &StoredContract,
    call: Option<&Call>,
    form: &CallForm,
    errors: ValidationErrors,
) -> Result<Response> {
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        call_form_render(state, visitor, contract, call, form, &errors, None).await?,
    )
        .into_response())
}

async fn submit_call(
    state: &AppState,
    visitor: &Visitor,
    contract: &StoredContract,
    call: Option<&Call>,
    pairs: &[(String, String)],
) -> Result<Response> {
    let mut form = CallForm::read(pairs);
    if field(pairs, "action") == "lignes" {
        form.blank_rows += 3;
        return Ok(call_form_render(
            state,
            visitor,
            contract,
            call,
            &form,
            &ValidationErrors::new(),
            None,
        )
        .await?
        .into_response());
    }
    let (settings, envelopes) = match form.to_settings(&contract.document) {
        Ok(x) => x,
        Err(errors) => return invalid(state, visitor, contract, call, &form, errors).await,
    };
    let target = match call {
        None => None,
        Some(c) => match form.version.trim().parse::<i64>() {
            Ok(v) => Some((c.id, v)),
            Err(_) => {
                let e = ValidationErrors::single(
                    "version",
                    "Version de l'appel à projets manquante : rechargez la page.",
                );
                return invalid(state, visitor, contract, call, &form, e).await;
            }
        },
    };
    let p = contract.document.contract.period;
    match state
        .store
        .save_call(
            contract.id,
            target,
            &settings,
            &envelopes,
            (p.start_year, p.end_year),
        )
        .await
    {
        Ok(id) => Ok(Redirect::to(&format!("/appels/{id}")).into_response()),
        Err(StoreError::Invalid(errors)) => {
            invalid(state, visitor, contract, call, &form, errors).await
        }
        Err(StoreError::Conflict(m)) => Ok((
            StatusCode::CONFLICT,
            call_form_render(
                state,
                visitor,
                contract,
                call,
                &form,
                &ValidationErrors::new(),
                Some(&m),
            )
            .await?,
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// POST /contrats/{slug}/appels/nouveau
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn call_create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    let contract = steered_contract(&state, &visitor, &slug).await?;
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    submit_call(&state, &visitor, &contract, None, &pairs).await
}

/// GET /appels/{call_id}/modifier
#[tracing::instrument(skip(state, visitor))]
pub async fn call_edit_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(call_id): Path<i64>,
) -> Result<Html<String>> {
    let (call, slug) = steered_call(&state, &visitor, call_id).await?;
    let contract = state.store.contract(&slug).await?;
    let envelopes = state.store.envelopes(call.id).await?;
    let form = CallForm::from_call(&call, &envelopes);
    call_form_render(
        &state,
        &visitor,
        &contract,
        Some(&call),
        &form,
        &ValidationErrors::new(),
        None,
    )
    .await
}

/// POST /appels/{call_id}/modifier
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn call_save(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(call_id): Path<i64>,
    axum::Form(pairs): Pairs,
) -> Result<Response> {
    let (call, slug) = steered_call(&state, &visitor, call_id).await?;
    visitor.check_csrf(&field(&pairs, "csrf"))?;
    let contract = state.store.contract(&slug).await?;
    submit_call(&state, &visitor, &contract, Some(&call), &pairs).await
}

/// GET /appels/{call_id}: the call as every signed-in user reads it; its pilots also see its
/// applications and the use of its envelopes.
#[tracing::instrument(skip(state, visitor))]
pub async fn call_show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(call_id): Path<i64>,
) -> Result<Html<String>> {
    let principal = signed_in(&visitor)?;
    let call = state.store.call(call_id).await?;
    let slug = contract_slug(&state, call.contract_id).await?;
    let contract = state.store.contract(&slug).await?;
    let doc = &contract.document;
    let c = &doc.contract;
    let steers = principal.steers(call.contract_id);
    let funders = state.store.funders(call.contract_id).await?;
    let funder_name = |code: &str| {
        funders
            .iter()
            .find(|f| f.code == code)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| code.to_string())
    };
    let envelopes = state.store.envelopes(call.id).await?;
    let (applications, uses) = if steers {
        (
            state.store.applications_of_call(call.id).await?,
            state.store.envelope_use(call.id).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let my_funders = principal.funder_codes(call.contract_id);
    let s = &call.settings;
    let (state_label, badge) = call_state(&call);
    let frame = Frame::new(&state, &visitor);
    Ok(Html(
        layout::page(
            &frame,
            &s.title,
            &[
                (c.name.as_str(), format!("/contrats/{slug}")),
                (s.title.as_str(), String::new()),
            ],
            html! {
                h1 { (s.title) }
                p class=(format!("fr-badge {badge}")) { "Appel " (state_label) }
                p.fr-text--lead { "Dépôts du " (layout::french_date(&call.opens_on.to_string())) " au " (layout::french_date(&call.closes_on.to_string())) " inclus — programme " (s.year) "." }
                @if steers {
                    ul.fr-btns-group.fr-btns-group--inline-md {
                        li { a.fr-btn href=(format!("/appels/{}/modifier", call.id)) { "Modifier l'appel" } }
                        li { a.fr-btn.fr-btn--secondary href=(format!("/appels/{}/comites", call.id)) { "Comités de programmation" } }
                        li { a.fr-btn.fr-btn--secondary href=(format!("/contrats/{slug}/instruction")) { "Instruction" } }
                    }
                } @else if !my_funders.is_empty() {
                    p { a.fr-link href=(format!("/contrats/{slug}/instruction?financeur={}", my_funders[0])) { "Dossiers à instruire" } }
                }
                h2 { "Note de cadrage" }
                @if s.framing_note.trim().is_empty() { p { (layout::or_unknown(None)) } } @else { (layout::paragraphs(&s.framing_note)) }
                @if !s.priority_nodes.is_empty() {
                    h3.fr-h5 { "Éléments du cadre prioritaires" }
                    ul { @for k in &s.priority_nodes {
                        li {
                            @if let Some((n, depth)) = doc.find_node(k) {
                                (layout::capitalize(&c.level_label(depth).singular)) " " a href=(format!("/contrats/{slug}/cadre/{k}")) { (k) } " — " (n.title)
                            } @else { (k) }
                        }
                    } }
                }
                h2 { "Calendrier d'instruction" }
                @if s.calendar.trim().is_empty() { p { (layout::or_unknown(None)) } } @else { (layout::paragraphs(&s.calendar)) }
                h2 { "Pièces exigées" }
                @if s.required_documents.is_empty() { p { "Aucune pièce n'est exigée en plus du dossier." } }
                @else { ul { @for d in &s.required_documents { li { (document_label(d)) } } } }
                h2 { "Financeurs et enveloppes" }
                @if envelopes.is_empty() { p { "Aucune enveloppe n'est encore saisie." } } @else {
                    div.fr-table { table {
                        caption { "Enveloppes" }
                        thead { tr { th scope="col" { "Financeur" } th scope="col" { "Composante" } th scope="col" { "Enveloppe" } } }
                        tbody { @for e in &envelopes { tr { td { (funder_name(&e.funder)) } td { (e.component) } td { (euros(e.amount_cents.get())) } } } }
                        tfoot { tr { th scope="row" colspan="2" { "Total" } td { (euros(envelopes.iter().map(|e| e.amount_cents.get()).sum())) } } }
                    } }
                }
                @if steers {
                    h2 { "Consommation des enveloppes" }
                    div.fr-table { table {
                        caption { "Accordé par financeur et composante" }
                        thead { tr { th scope="col" { "Financeur" } th scope="col" { "Composante" } th scope="col" { "Enveloppe" } th scope="col" { "Accordé" } th scope="col" { "Reste" } } }
                        tbody { @for u in &uses { tr {
                            td { (funder_name(&u.funder)) } td { (u.component) } td { (euros(u.envelope)) } td { (euros(u.granted)) }
                            td { @if u.remaining < 0 { span.fr-badge.fr-badge--error.fr-badge--sm { "dépassement " (euros(-u.remaining)) } } @else { (euros(u.remaining)) } }
                        } } }
                    } }
                    h2 { "Dossiers déposés" }
                    @if applications.is_empty() { p { "Aucun dossier n'est encore déposé." } } @else {
                        div.fr-table { table {
                            caption { (applications.len()) " dossier(s)" }
                            thead { tr { th scope="col" { "Référence" } th scope="col" { "Action" } th scope="col" { "Structure" } th scope="col" { "Statut" } th scope="col" { "Demandé" } } }
                            tbody { @for a in &applications { tr {
                                td { a href=(format!("/dossiers/{}", a.id)) { (a.reference) } }
                                td { (a.title) }
                                td { (a.organisation) }
                                td { @if let Ok(st) = Status::parse(&a.status) { (status_badge(st)) } @else { (a.status) } }
                                td { (euros(a.requested)) }
                            } } }
                            tfoot { tr { th scope="row" colspan="4" { "Total demandé" } td { (euros(applications.iter().map(|a| a.requested).sum())) } } }
                        } }
                    }
                }
            },
        )
        .into_string(),
    ))
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
    fn empty_envelope_rows_are_dropped_and_counted() {
        let f = CallForm::read(&pairs(&[
            ("env_funder", "etat"),
            ("env_component", "Contrat de ville"),
            ("env_amount", "100 000"),
            ("env_funder", ""),
            ("env_component", "Contrat de ville"),
            ("env_amount", ""),
        ]));
        assert_eq!(f.envelopes.len(), 1);
        assert_eq!(f.blank_rows, 1);
        assert_eq!(f.envelopes[0].amount, "100 000");
    }
}
