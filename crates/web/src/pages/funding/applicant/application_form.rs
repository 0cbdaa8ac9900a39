//! `/dossiers/{id}/modifier`: the application form, structured after the national subsidy
//! request (CERFA 12156): the project, its place in the contract (component, framework
//! nodes), the territories (QPV, other perimeters), the public, the indicators and the
//! forecast budget year by year. Saved as a draft whatever its completeness; what is still
//! missing for submission is listed after each save, with the budget's totals.

use super::budget_form::{self, BudgetInput, RowMap};
use super::widgets::{alert_list, field_error, input, input_class, select_class, textarea};
use super::{page_principal, require_member, Fields};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::{contract_slug, signed_in};
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use quartiers_domain::edit::flat_nodes;
use quartiers_domain::funding::{ApplicationBody, ProposedIndicator};
use quartiers_domain::ids::QpvCode;
use quartiers_domain::{ContractDocument, ValidationErrors};
use quartiers_store::funding::applications::StoredApplication;
use quartiers_store::StoreError;

/// Blank indicator rows offered (on opening and per « Ajouter des lignes »).
const BLANK_INDICATORS: usize = 2;

/// An indicator row as typed.
#[derive(Debug, Clone, Default)]
struct IndicatorInput {
    name: String,
    target: String,
    unit: String,
}

/// The whole form as typed.
#[derive(Debug, Clone, Default)]
struct AppInput {
    version: String,
    title: String,
    description: String,
    objectives: String,
    start_on: String,
    end_on: String,
    places: String,
    component: String,
    framework_keys: Vec<String>,
    qpv_codes: Vec<String>,
    perimeters: String,
    public_description: String,
    expected_beneficiaries: String,
    qpv_share_percent: String,
    indicators: Vec<IndicatorInput>,
    budget: BudgetInput,
}

/// A number typed in French (`1 200,5`).
fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '\u{202f}')
        .collect();
    cleaned
        .replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string().replace('.', ",")
    }
}

impl AppInput {
    fn from_body(body: &ApplicationBody, version: i64, default_year: i32) -> Self {
        let mut indicators: Vec<IndicatorInput> = body
            .indicators
            .iter()
            .map(|i| IndicatorInput {
                name: i.name.clone(),
                target: number_text(i.target),
                unit: i.unit.clone(),
            })
            .collect();
        indicators.extend(std::iter::repeat_with(IndicatorInput::default).take(BLANK_INDICATORS));
        AppInput {
            version: version.to_string(),
            title: body.title.clone(),
            description: body.description.clone(),
            objectives: body.objectives.clone(),
            start_on: body.start_on.clone(),
            end_on: body.end_on.clone(),
            places: body.places.clone(),
            component: body.component.clone(),
            framework_keys: body.framework_keys.clone(),
            qpv_codes: body.qpv_codes.iter().map(|q| q.to_string()).collect(),
            perimeters: body.perimeters.join("\n"),
            public_description: body.public_description.clone(),
            expected_beneficiaries: body
                .expected_beneficiaries
                .map(|n| n.to_string())
                .unwrap_or_default(),
            qpv_share_percent: body
                .qpv_share_percent
                .map(|n| n.to_string())
                .unwrap_or_default(),
            indicators,
            budget: BudgetInput::from_years("b", &body.budget, default_year),
        }
    }

    fn read(form: &Fields) -> Self {
        let rows = form
            .get("ind_rows")
            .trim()
            .parse::<usize>()
            .unwrap_or(0)
            .min(200);
        AppInput {
            version: form.get("version").to_string(),
            title: form.get("title").to_string(),
            description: form.get("description").to_string(),
            objectives: form.get("objectives").to_string(),
            start_on: form.get("start_on").trim().to_string(),
            end_on: form.get("end_on").trim().to_string(),
            places: form.get("places").to_string(),
            component: form.get("component").to_string(),
            framework_keys: form.all("framework_keys"),
            qpv_codes: form.all("qpv_codes"),
            perimeters: form.get("perimeters").to_string(),
            public_description: form.get("public_description").to_string(),
            expected_beneficiaries: form.get("expected_beneficiaries").trim().to_string(),
            qpv_share_percent: form.get("qpv_share_percent").trim().to_string(),
            indicators: (0..rows)
                .map(|i| IndicatorInput {
                    name: form.get(&format!("ind_{i}_name")).to_string(),
                    target: form.get(&format!("ind_{i}_target")).trim().to_string(),
                    unit: form.get(&format!("ind_{i}_unit")).to_string(),
                })
                .collect(),
            budget: BudgetInput::read("b", form),
        }
    }

    fn add_rows(&mut self) {
        self.indicators
            .extend(std::iter::repeat_with(IndicatorInput::default).take(BLANK_INDICATORS));
        self.budget.add_rows();
    }

    /// The body the form describes, keeping the `previous` value of each field that cannot
    /// be read; errors are keyed by form name. Returns the row maps of the budget and of
    /// the indicators.
    fn parse(
        &self,
        previous: &ApplicationBody,
        fallback_year: i32,
    ) -> (ApplicationBody, ValidationErrors, RowMap, Vec<usize>) {
        let mut e = ValidationErrors::new();
        let mut qpv_codes = Vec::new();
        for q in &self.qpv_codes {
            if let Some(code) = e.check("qpv_codes", QpvCode::parse(q)) {
                if !qpv_codes.contains(&code) {
                    qpv_codes.push(code);
                }
            }
        }
        let mut framework_keys = self.framework_keys.clone();
        framework_keys.dedup();
        let expected_beneficiaries = match self
            .expected_beneficiaries
            .replace([' ', '\u{a0}', '\u{202f}'], "")
        {
            s if s.is_empty() => None,
            s => match s.parse::<u32>() {
                Ok(n) => Some(n),
                Err(_) => {
                    e.add("expected_beneficiaries", "Le nombre de bénéficiaires attendus est un nombre entier positif (exemple : 120).");
                    previous.expected_beneficiaries
                }
            },
        };
        let qpv_share_percent = match self.qpv_share_percent.trim_end_matches('%').trim() {
            "" => None,
            s => match s.parse::<u8>() {
                Ok(n) => Some(n),
                Err(_) => {
                    e.add("qpv_share_percent", "La part des bénéficiaires en QPV est un pourcentage entier entre 0 et 100.");
                    previous.qpv_share_percent
                }
            },
        };
        let mut indicators = Vec::new();
        let mut indicator_rows = Vec::new();
        for (i, ind) in self.indicators.iter().enumerate() {
            if ind.name.trim().is_empty() && ind.target.is_empty() && ind.unit.trim().is_empty() {
                continue;
            }
            let target = if ind.target.is_empty() {
                e.add(
                    format!("ind_{i}_target"),
                    "Indiquez la cible de l'indicateur.",
                );
                continue;
            } else {
                match parse_number(&ind.target) {
                    Some(t) => t,
                    None => {
                        e.add(
                            format!("ind_{i}_target"),
                            format!("« {} » n'est pas un nombre.", ind.target),
                        );
                        continue;
                    }
                }
            };
            indicators.push(ProposedIndicator {
                name: ind.name.trim().to_string(),
                target,
                unit: ind.unit.trim().to_string(),
            });
            indicator_rows.push(i);
        }
        let (budget, map) = self.budget.parse(fallback_year, &mut e);
        let body = ApplicationBody {
            title: self.title.trim().to_string(),
            description: self.description.trim().to_string(),
            objectives: self.objectives.trim().to_string(),
            start_on: self.start_on.clone(),
            end_on: self.end_on.clone(),
            places: self.places.trim().to_string(),
            component: self.component.trim().to_string(),
            framework_keys,
            qpv_codes,
            perimeters: self
                .perimeters
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect(),
            public_description: self.public_description.trim().to_string(),
            expected_beneficiaries,
            qpv_share_percent,
            indicators,
            budget,
        };
        (body, e, map, indicator_rows)
    }
}

/// The form name of a domain error of the body.
fn form_name(field: &str, map: &RowMap, indicator_rows: &[usize]) -> String {
    if let Some(rest) = field.strip_prefix("indicators[") {
        if let Some((i, sub)) = rest.split_once(']') {
            if let Some(row) = i.parse::<usize>().ok().and_then(|i| indicator_rows.get(i)) {
                return format!("ind_{row}_{}", sub.trim_start_matches('.'));
            }
        }
        return "indicators".into();
    }
    budget_form::form_field("b", field, "budget", map).unwrap_or_else(|| field.to_string())
}

/// Leaves out of `body` what the domain refuses, taking the stored value back for single
/// fields, so that the rest can be saved. `None` when it still cannot be saved.
fn well_formed_part(
    mut body: ApplicationBody,
    previous: &ApplicationBody,
    domain: &ValidationErrors,
) -> Option<ApplicationBody> {
    let mut lines = Vec::new();
    let mut indicators = Vec::new();
    for err in &domain.0 {
        let f = err.field.as_str();
        match f {
            "title" => body.title = previous.title.clone(),
            "start_on" => body.start_on = previous.start_on.clone(),
            "end_on" => body.end_on = previous.end_on.clone(),
            "qpv_share_percent" => body.qpv_share_percent = previous.qpv_share_percent,
            "expected_beneficiaries" => {
                body.expected_beneficiaries = previous.expected_beneficiaries
            }
            _ if f.starts_with("indicators[") => {
                if let Some(i) = f["indicators[".len()..]
                    .split(']')
                    .next()
                    .and_then(|i| i.parse::<usize>().ok())
                {
                    indicators.push(i);
                }
            }
            _ => match budget_form::line_of(f, "budget") {
                Some(l) => lines.push(l),
                None => body.budget = previous.budget.clone(),
            },
        }
    }
    budget_form::remove_lines(&mut body.budget, lines);
    indicators.sort_unstable();
    indicators.dedup();
    for i in indicators.into_iter().rev() {
        if i < body.indicators.len() {
            body.indicators.remove(i);
        }
    }
    for _ in 0..2 {
        match body.validate() {
            Ok(()) => return Some(body),
            // Dates refused together (end before start): both take their stored value back.
            Err(_) => {
                body.start_on = previous.start_on.clone();
                body.end_on = previous.end_on.clone();
                body.title = previous.title.clone();
                body.qpv_share_percent = previous.qpv_share_percent;
                body.expected_beneficiaries = previous.expected_beneficiaries;
            }
        }
    }
    None
}

/// What the form needs besides the application.
struct Context {
    app: StoredApplication,
    doc: ContractDocument,
    funders: Vec<(String, String)>,
    call_year: i32,
}

async fn load(state: &AppState, id: i64) -> Result<Context> {
    let app = state.store.application(id).await?;
    let slug = contract_slug(state, app.contract_id).await?;
    let doc = state.store.contract(&slug).await?.document;
    let call = state.store.call(app.call_id).await?;
    let names = state.store.funders(app.contract_id).await?;
    let mut funders: Vec<(String, String)> = Vec::new();
    for e in state.store.envelopes(app.call_id).await? {
        if !funders.iter().any(|(c, _)| *c == e.funder) {
            let name = names
                .iter()
                .find(|f| f.code == e.funder)
                .map_or(e.funder.clone(), |f| f.name.clone());
            funders.push((e.funder, name));
        }
    }
    Ok(Context {
        app,
        doc,
        funders,
        call_year: call.settings.year,
    })
}

fn not_editable(app: &StoredApplication) -> Error {
    Error::Conflict(format!(
        "Le dossier {} est « {} » : il ne peut plus être modifié. Retrouvez-le sur sa page, /dossiers/{}.",
        app.reference,
        app.status.label(),
        app.id
    ))
}

/// One of the form's notices: (DSFR alert kind, text).
type Notice = Option<(&'static str, String)>;

async fn render(
    state: &AppState,
    visitor: &Visitor,
    ctx: &Context,
    typed: &AppInput,
    errors: &ValidationErrors,
    notice: Notice,
    saved: &ApplicationBody,
) -> Result<Html<String>> {
    let app = &ctx.app;
    let submission = state.store.submission_context(app.id).await?;
    let missing = saved.missing(&submission);
    let frame = Frame::new(state, visitor);
    let title = format!("Modifier le dossier {}", app.reference);
    let components = &ctx.doc.contract.components;
    let component_err = field_error(errors, "component");
    let qpv_err = field_error(errors, "qpv_codes");
    Ok(Html(
        layout::page(
            &frame,
            &title,
            &[
                ("Mes dossiers", "/mes-dossiers".into()),
                (app.reference.as_str(), format!("/dossiers/{}", app.id)),
                ("Modifier", String::new()),
            ],
            html! {
                h1 { (title) }
                p.fr-text--lead { (app.organisation_name) " — statut : " span.fr-badge { (app.status.label()) } }
                @if let Some(prev) = app.renewed_from {
                    p.fr-text--sm { "Renouvellement du dossier n° " (prev) " : vérifiez les dates, le budget et les indicateurs." }
                }
                @if let Some((kind, text)) = &notice { (layout::notice(kind, text)) }
                (layout::error_summary(errors))
                (budget_form::totals(&saved.budget, "Totaux du budget enregistré"))
                @if missing.is_empty() {
                    (layout::notice("success", "Le dossier est complet : vous pouvez le déposer depuis sa page."))
                } @else {
                    (alert_list("info", "Pièces manquantes pour déposer le dossier", &missing.0.iter().map(|e| e.message.clone()).collect::<Vec<_>>()))
                }
                p { a.fr-link.fr-icon-arrow-right-line.fr-link--icon-right href=(format!("/dossiers/{}", app.id)) { "Voir le dossier et le déposer" } }
                form method="post" action=(format!("/dossiers/{}/modifier", app.id)) novalidate {
                    input type="hidden" name="csrf" value=(visitor.csrf());
                    input type="hidden" name="version" value=(typed.version);
                    ul.fr-btns-group.fr-btns-group--inline-md {
                        li { button.fr-btn type="submit" name="action" value="save" { "Enregistrer le brouillon" } }
                    }
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { h2 { "1. Le projet" } }
                        div.fr-fieldset__element {
                            (input("title", "Intitulé de l'action", "", &typed.title, errors, "text", true))
                            (textarea("description", "Description *", "Contenu de l'action, déroulement, partenaires.", &typed.description, errors, 6))
                            (textarea("objectives", "Objectifs *", "", &typed.objectives, errors, 4))
                            div.fr-grid-row.fr-grid-row--gutters {
                                div.fr-col-12.fr-col-md-6 { (input("start_on", "Date de début", "", &typed.start_on, errors, "date", true)) }
                                div.fr-col-12.fr-col-md-6 { (input("end_on", "Date de fin", "", &typed.end_on, errors, "date", true)) }
                            }
                            (textarea("places", "Lieux de réalisation *", "", &typed.places, errors, 2))
                        }
                    }
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { h2 { "2. Rattachement au contrat" } }
                        div.fr-fieldset__element {
                            div class=(if component_err.is_some() { "fr-select-group fr-select-group--error" } else { "fr-select-group" }) {
                                label.fr-label for="f-component" { "Composante du contrat *" }
                                select class=(select_class(component_err.as_deref())) #f-component name="component" {
                                    option value="" { "— choisir —" }
                                    @for c in components { option value=(c.name) selected[typed.component == c.name] { (c.name) } }
                                }
                                @if let Some(e) = &component_err { p.fr-error-text { (e) } }
                            }
                        }
                        div.fr-fieldset__element {
                            fieldset.fr-fieldset {
                                legend.fr-fieldset__legend--regular.fr-fieldset__legend { "Orientations du contrat servies par l'action *" }
                                @for (depth, node) in flat_nodes(&ctx.doc) {
                                    div.fr-fieldset__element style=(format!("margin-left: {}rem", depth * 2)) {
                                        div.fr-checkbox-group.fr-checkbox-group--sm {
                                            input type="checkbox" id=(format!("fk-{}", node.key)) name="framework_keys" value=(node.key) checked[typed.framework_keys.contains(&node.key)];
                                            label.fr-label for=(format!("fk-{}", node.key)) { (node.title) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { h2 { "3. Territoires" } }
                        div.fr-fieldset__element {
                            fieldset.fr-fieldset {
                                legend.fr-fieldset__legend--regular.fr-fieldset__legend { "Quartiers prioritaires concernés *" }
                                @for q in ctx.doc.contract.qpvs.iter().filter(|q| q.code.is_some()) {
                                    @let code = q.code.as_ref().map(|c| c.to_string()).unwrap_or_default();
                                    div.fr-fieldset__element {
                                        div.fr-checkbox-group.fr-checkbox-group--sm {
                                            input type="checkbox" id=(format!("qpv-{code}")) name="qpv_codes" value=(code) checked[typed.qpv_codes.contains(&code)];
                                            label.fr-label for=(format!("qpv-{code}")) { (q.name.as_deref().unwrap_or(&code)) " (" (code) ")" }
                                        }
                                    }
                                }
                                @if let Some(e) = &qpv_err { p.fr-error-text { (e) } }
                            }
                        }
                        div.fr-fieldset__element {
                            (textarea("perimeters", "Autres périmètres concernés", "Un par ligne (quartier de veille, commune entière…).", &typed.perimeters, errors, 3))
                        }
                    }
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { h2 { "4. Public" } }
                        div.fr-fieldset__element {
                            (textarea("public_description", "Public visé *", "Âge, situation, mode de repérage.", &typed.public_description, errors, 3))
                            div.fr-grid-row.fr-grid-row--gutters {
                                div.fr-col-12.fr-col-md-6 { (input("expected_beneficiaries", "Nombre de bénéficiaires attendus", "", &typed.expected_beneficiaries, errors, "text", true)) }
                                div.fr-col-12.fr-col-md-6 { (input("qpv_share_percent", "Part des bénéficiaires habitant en QPV (%)", "", &typed.qpv_share_percent, errors, "text", true)) }
                            }
                        }
                    }
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { h2 { "5. Indicateurs" } }
                        div.fr-fieldset__element {
                            (indicator_table(&typed.indicators, errors))
                            button.fr-btn.fr-btn--tertiary.fr-btn--sm type="submit" name="action" value="add_rows" { "Ajouter des lignes" }
                        }
                    }
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { h2 { "6. Budget prévisionnel" } }
                        div.fr-fieldset__element {
                            @if let Some(e) = field_error(errors, "budget") { p.fr-error-text { (e) } }
                            (budget_form::tables(&typed.budget, errors, &ctx.funders, "Budget"))
                            ul.fr-btns-group.fr-btns-group--inline-md.fr-btns-group--sm {
                                li { button.fr-btn.fr-btn--tertiary type="submit" name="action" value="add_rows" { "Ajouter des lignes" } }
                                @if typed.budget.years.len() < budget_form::MAX_YEARS {
                                    li { button.fr-btn.fr-btn--tertiary type="submit" name="action" value="add_year" { "Ajouter une année" } }
                                }
                                @if typed.budget.years.len() > 1 {
                                    li { button.fr-btn.fr-btn--tertiary type="submit" name="action" value="remove_year" { "Retirer la dernière année" } }
                                }
                            }
                        }
                    }
                    ul.fr-btns-group.fr-btns-group--inline-md {
                        li { button.fr-btn type="submit" name="action" value="save" { "Enregistrer le brouillon" } }
                        li { a.fr-btn.fr-btn--secondary href=(format!("/dossiers/{}", app.id)) { "Retour au dossier" } }
                    }
                }
            },
        )
        .into_string(),
    ))
}

fn indicator_table(rows: &[IndicatorInput], errors: &ValidationErrors) -> Markup {
    html! {
        input type="hidden" name="ind_rows" value=(rows.len());
        div.fr-table.fr-table--sm { table {
            caption { "Indicateurs proposés et leur cible" }
            thead { tr { th scope="col" { "Indicateur" } th scope="col" { "Cible" } th scope="col" { "Unité" } } }
            tbody { @for (i, row) in rows.iter().enumerate() {
                @let name_err = field_error(errors, &format!("ind_{i}_name"));
                @let target_err = field_error(errors, &format!("ind_{i}_target"));
                tr {
                    td {
                        input class=(input_class(name_err.as_deref())) type="text" name=(format!("ind_{i}_name")) value=(row.name) aria-label=(format!("Indicateur {} : nom", i + 1));
                        @if let Some(e) = &name_err { p.fr-error-text { (e) } }
                    }
                    td {
                        input class=(input_class(target_err.as_deref())) type="text" inputmode="decimal" name=(format!("ind_{i}_target")) value=(row.target) aria-label=(format!("Indicateur {} : cible", i + 1));
                        @if let Some(e) = &target_err { p.fr-error-text { (e) } }
                    }
                    td { input.fr-input type="text" name=(format!("ind_{i}_unit")) value=(row.unit) aria-label=(format!("Indicateur {} : unité", i + 1)); }
                }
            } }
        } }
    }
}

/// Loads the application for its organisation's members (403 for anyone else).
async fn editable(
    state: &AppState,
    principal: &quartiers_domain::Principal,
    id: i64,
) -> Result<Context> {
    let scope = state.store.application_scope(id).await?;
    require_member(principal, scope.organisation_id)?;
    let ctx = load(state, id).await?;
    if !ctx.app.status.editable_by_applicant() {
        return Err(not_editable(&ctx.app));
    }
    Ok(ctx)
}

/// `?enregistre=1` after a save.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    enregistre: Option<String>,
}

/// GET /dossiers/{id}/modifier
#[tracing::instrument(skip(state, visitor))]
pub async fn form(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> Result<Response> {
    let principal = match page_principal(&visitor, &uri) {
        Ok(p) => p,
        Err(r) => return Ok(r.into_response()),
    };
    let ctx = editable(&state, principal, id).await?;
    let input = AppInput::from_body(&ctx.app.body, ctx.app.version, ctx.call_year);
    let notice = q
        .enregistre
        .is_some()
        .then(|| ("success", "Brouillon enregistré.".to_string()));
    Ok(render(
        &state,
        &visitor,
        &ctx,
        &input,
        &ValidationErrors::new(),
        notice,
        &ctx.app.body,
    )
    .await?
    .into_response())
}

/// POST /dossiers/{id}/modifier (`action`: save, add_rows, add_year, remove_year)
#[tracing::instrument(skip(state, visitor, form))]
pub async fn save(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let principal = signed_in(&visitor)?;
    let scope = state.store.application_scope(id).await?;
    require_member(principal, scope.organisation_id)?;
    let form = Fields(form);
    visitor.check_csrf(form.get("csrf"))?;
    let ctx = load(&state, id).await?;
    if !ctx.app.status.editable_by_applicant() {
        return Err(not_editable(&ctx.app));
    }
    let mut input = AppInput::read(&form);
    let stored = ctx.app.body.clone();
    let show = |input: AppInput,
                errors: ValidationErrors,
                notice: Notice,
                saved: ApplicationBody,
                status: StatusCode| {
        let (state, visitor, ctx) = (&state, &visitor, &ctx);
        async move {
            Ok::<_, Error>(
                (
                    status,
                    render(state, visitor, ctx, &input, &errors, notice, &saved).await?,
                )
                    .into_response(),
            )
        }
    };
    match form.get("action") {
        "add_rows" => {
            input.add_rows();
            return show(input, ValidationErrors::new(), None, stored, StatusCode::OK).await;
        }
        "add_year" => {
            let notice = (!input.budget.add_year()).then(|| {
                (
                    "warning",
                    "Une demande pluriannuelle couvre au plus 4 ans.".to_string(),
                )
            });
            return show(
                input,
                ValidationErrors::new(),
                notice,
                stored,
                StatusCode::OK,
            )
            .await;
        }
        "remove_year" => {
            input.budget.remove_year();
            return show(input, ValidationErrors::new(), None, stored, StatusCode::OK).await;
        }
        _ => {}
    }
    let Ok(version) = input.version.trim().parse::<i64>() else {
        let errors = ValidationErrors::single("version", "Version du dossier manquante : rechargez la page (votre saisie est conservée ci-dessous).");
        return show(
            input,
            errors,
            None,
            stored,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (body, mut errors, map, indicator_rows) = input.parse(&stored, ctx.call_year);
    let domain = body.validate().err().unwrap_or_default();
    for e in &domain.0 {
        errors.add(
            form_name(&e.field, &map, &indicator_rows),
            e.message.clone(),
        );
    }
    let Some(body) = (if domain.is_empty() {
        Some(body)
    } else {
        well_formed_part(body, &stored, &domain)
    }) else {
        let notice = Some((
            "error",
            "Rien n'a été enregistré : corrigez les erreurs signalées.".to_string(),
        ));
        return show(
            input,
            errors,
            notice,
            stored,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    match state
        .store
        .save_application(id, &body, version, &visitor.author())
        .await
    {
        Ok(_) if errors.is_empty() => {
            Ok(Redirect::to(&format!("/dossiers/{id}/modifier?enregistre=1")).into_response())
        }
        Ok(new_version) => {
            input.version = new_version.to_string();
            let notice = Some((
                "warning",
                "Le reste de votre saisie a été enregistré ; les valeurs signalées ne l'ont pas été : corrigez-les puis enregistrez de nouveau.".to_string(),
            ));
            show(
                input,
                errors,
                notice,
                body,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(StoreError::Conflict(m)) => {
            show(
                input,
                errors,
                Some(("error", m)),
                stored,
                StatusCode::CONFLICT,
            )
            .await
        }
        Err(StoreError::Invalid(e)) => {
            let mut errors = errors;
            for err in e.0 {
                errors.add(form_name(&err.field, &map, &indicator_rows), err.message);
            }
            show(
                input,
                errors,
                None,
                stored,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_values_take_the_stored_ones_back() {
        let previous = ApplicationBody {
            start_on: "2026-01-01".into(),
            end_on: "2026-12-31".into(),
            qpv_share_percent: Some(50),
            ..Default::default()
        };
        let typed = ApplicationBody {
            title: "Nouveau titre".into(),
            start_on: "2026-06-01".into(),
            end_on: "2026-02-01".into(),
            qpv_share_percent: Some(150),
            ..Default::default()
        };
        let domain = typed.validate().unwrap_err();
        let kept = well_formed_part(typed, &previous, &domain).unwrap();
        assert_eq!(kept.title, "Nouveau titre");
        assert_eq!(kept.qpv_share_percent, Some(50));
        assert!(kept.validate().is_ok());
        assert_eq!(number_text(120.0), "120");
        assert_eq!(parse_number("1 200,5"), Some(1200.5));
    }
}
