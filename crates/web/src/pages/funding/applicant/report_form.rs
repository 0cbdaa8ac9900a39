//! `/dossiers/{id}/bilan`: the end-of-action report, after the national form (CERFA
//! 15059): actual charges and income year by year (pre-filled from the forecast), the
//! qualitative report, the achieved value of each proposed indicator, an explanation of
//! each gap over the threshold, and the beneficiaries counted by QPV from an uploaded
//! address list — of which only the counts are kept.

use super::budget_form::{self, BudgetInput, RowMap};
use super::files::{read_multipart, too_large_message, Received};
use super::widgets::{field_error, group_class, input_class, textarea};
use super::{page_principal, require_member, Fields};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::{euros, signed_in};
use crate::geo::beneficiaries::count_beneficiaries;
use crate::layout::{self, french_date, Frame};
use crate::AppState;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use maud::html;
use quartiers_domain::funding::budget::{self as budget_rules};
use quartiers_domain::funding::report::{
    gaps, AchievedIndicator, GapExplanation, GAP_THRESHOLD_PERCENT,
};
use quartiers_domain::funding::{ReportBody, Status};
use quartiers_domain::ValidationErrors;
use quartiers_store::funding::applications::StoredApplication;
use quartiers_store::funding::reports::StoredReport;
use quartiers_store::StoreError;

/// The report as typed.
#[derive(Debug, Clone, Default)]
struct ReportInput {
    version: String,
    qualitative: String,
    achieved: Vec<String>,
    explanations: Vec<((i32, u16), String)>,
    budget: BudgetInput,
}

fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string().replace('.', ",")
    }
}

impl ReportInput {
    fn from_report(app: &StoredApplication, report: Option<&StoredReport>) -> Self {
        let body = report.map(|r| r.body.clone()).unwrap_or_default();
        let actual = if report.is_some() {
            &body.actual
        } else {
            &app.body.budget
        };
        ReportInput {
            version: report.map_or(0, |r| r.version).to_string(),
            qualitative: body.qualitative.clone(),
            achieved: app
                .body
                .indicators
                .iter()
                .map(|i| {
                    body.indicators
                        .iter()
                        .find(|a| a.name == i.name)
                        .map(|a| number_text(a.achieved))
                        .unwrap_or_default()
                })
                .collect(),
            explanations: body
                .gap_explanations
                .iter()
                .map(|g| ((g.year, g.account), g.text.clone()))
                .collect(),
            budget: BudgetInput::from_years("r", actual, i32::try_from(app.year).unwrap_or(2000)),
        }
    }

    fn read(app: &StoredApplication, form: &Fields) -> Self {
        ReportInput {
            version: form.get("version").to_string(),
            qualitative: form.get("qualitative").to_string(),
            achieved: (0..app.body.indicators.len())
                .map(|i| form.get(&format!("ach_{i}")).trim().to_string())
                .collect(),
            explanations: form
                .0
                .iter()
                .filter_map(|(k, v)| {
                    let rest = k.strip_prefix("gap_")?;
                    let (y, a) = rest.split_once('_')?;
                    Some(((y.parse().ok()?, a.parse().ok()?), v.clone()))
                })
                .collect(),
            budget: BudgetInput::read("r", form),
        }
    }

    /// The report the form describes (`stored`: what to keep of what the form does not
    /// carry — the beneficiaries' counts); errors keyed by form name.
    fn parse(
        &self,
        app: &StoredApplication,
        stored: Option<&ReportBody>,
    ) -> (ReportBody, ValidationErrors, RowMap) {
        let mut e = ValidationErrors::new();
        let mut indicators = Vec::new();
        for (i, proposed) in app.body.indicators.iter().enumerate() {
            let typed = self.achieved.get(i).map(String::as_str).unwrap_or("");
            if typed.is_empty() {
                continue;
            }
            let cleaned: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
            match cleaned.replace(',', ".").parse::<f64>() {
                Ok(v) if v.is_finite() && v >= 0.0 => indicators.push(AchievedIndicator {
                    name: proposed.name.clone(),
                    target: proposed.target,
                    achieved: v,
                }),
                _ => e.add(
                    format!("ach_{i}"),
                    format!("« {typed} » n'est pas un nombre positif."),
                ),
            }
        }
        let fallback = app
            .body
            .budget
            .first()
            .map_or(i32::try_from(app.year).unwrap_or(2000), |y| y.year);
        let (actual, map) = self.budget.parse(fallback, &mut e);
        let body = ReportBody {
            actual,
            qualitative: self.qualitative.trim().to_string(),
            indicators,
            gap_explanations: self
                .explanations
                .iter()
                .filter(|(_, t)| !t.trim().is_empty())
                .map(|((year, account), text)| GapExplanation {
                    year: *year,
                    account: *account,
                    text: text.trim().to_string(),
                })
                .collect(),
            beneficiaries: stored.and_then(|s| s.beneficiaries.clone()),
        };
        (body, e, map)
    }
}

/// The form name of a domain error of the report.
fn form_name(field: &str, map: &RowMap) -> String {
    if let Some(rest) = field.strip_prefix("gap_explanations.") {
        return format!("gap_{}", rest.replace('.', "_"));
    }
    budget_form::form_field("r", field, "budget", map).unwrap_or_else(|| field.to_string())
}

/// Whether the applicant may fill the report of an application in this status.
fn fillable(status: Status) -> bool {
    matches!(
        status,
        Status::Conventionne | Status::Paye | Status::BilanAttendu
    )
}

type Notice = Option<(&'static str, String)>;

#[allow(clippy::too_many_arguments)]
fn render(
    state: &AppState,
    visitor: &Visitor,
    app: &StoredApplication,
    report: Option<&StoredReport>,
    input: &ReportInput,
    errors: &ValidationErrors,
    notice: Notice,
    shown: &ReportBody,
    funders: &[(String, String)],
) -> Html<String> {
    let frame = Frame::new(state, visitor);
    let title = format!("Bilan du dossier {}", app.reference);
    let current_gaps = gaps(&app.body.budget, &shown.actual);
    let editable = fillable(app.status);
    let file_err = field_error(errors, "beneficiaires");
    Html(
        layout::page(
            &frame,
            &title,
            &[
                ("Mes dossiers", "/mes-dossiers".into()),
                (app.reference.as_str(), format!("/dossiers/{}", app.id)),
                ("Bilan", String::new()),
            ],
            html! {
                h1 { (title) }
                p.fr-text--lead { (app.body.title) " — " (app.organisation_name) " — statut : " span.fr-badge { (app.status.label()) } }
                @if let Some((kind, text)) = &notice { (layout::notice(kind, text)) }
                @if let Some(filed) = report.and_then(|r| r.filed_at.as_deref()) {
                    p { "Bilan déposé le " (french_date(filed)) "." }
                }
                (layout::error_summary(errors))
                (budget_form::totals(&shown.actual, "Totaux du compte rendu financier"))
                @if let Some(b) = &shown.beneficiaries {
                    div.fr-callout.fr-mb-3w {
                        h2.fr-callout__title { "Bénéficiaires" }
                        p.fr-callout__text {
                            (b.total) " adresses, " (b.located) " localisées, " (b.in_qpv) " en quartier prioritaire"
                            @if b.to_check > 0 { ", " (b.to_check) " à vérifier (près d'une limite)" } "."
                        }
                        @if !b.per_qpv.is_empty() {
                            ul { @for (code, n) in &b.per_qpv { li { (code) " : " (n) } } }
                        }
                        p.fr-text--xs { "Seuls ces comptes sont conservés ; les adresses ne sont pas enregistrées." }
                    }
                }
                p { a.fr-link href=(format!("/dossiers/{}", app.id)) { "Retour au dossier" } }
                @if editable {
                    form method="post" action=(format!("/dossiers/{}/bilan", app.id)) enctype="multipart/form-data" novalidate {
                        input type="hidden" name="csrf" value=(visitor.csrf());
                        input type="hidden" name="version" value=(input.version);
                        ul.fr-btns-group.fr-btns-group--inline-md {
                            li { button.fr-btn.fr-btn--secondary type="submit" name="action" value="save" { "Enregistrer" } }
                        }
                        fieldset.fr-fieldset {
                            legend.fr-fieldset__legend { h2 { "1. Compte rendu financier" } }
                            div.fr-fieldset__element {
                                p.fr-hint-text { "Pré-rempli avec le budget prévisionnel : indiquez les montants réalisés." }
                                @if let Some(e) = field_error(errors, "actual") { p.fr-error-text { (e) } }
                                (budget_form::tables(&input.budget, errors, funders, "Réalisé"))
                                button.fr-btn.fr-btn--tertiary.fr-btn--sm type="submit" name="action" value="add_rows" { "Ajouter des lignes" }
                            }
                        }
                        @if !current_gaps.is_empty() {
                            fieldset.fr-fieldset {
                                legend.fr-fieldset__legend { h2 { "2. Écarts de plus de " (GAP_THRESHOLD_PERCENT) " % à expliquer" } }
                                @for g in &current_gaps {
                                    @let name = format!("gap_{}_{}", g.year, g.account);
                                    @let typed = input.explanations.iter().find(|(k, _)| *k == (g.year, g.account)).map(|(_, t)| t.as_str()).unwrap_or("");
                                    div.fr-fieldset__element {
                                        (textarea(&name, &format!("Compte {} ({}) en {} : prévu {}, réalisé {}", g.account, budget_rules::account(g.account).map_or("", |a| a.1), g.year, euros(g.forecast), euros(g.actual)), "Expliquez l'écart.", typed, errors, 2))
                                    }
                                }
                            }
                        }
                        fieldset.fr-fieldset {
                            legend.fr-fieldset__legend { h2 { "3. Bilan qualitatif" } }
                            div.fr-fieldset__element {
                                (textarea("qualitative", "Ce qui a été réalisé, pour qui, ce qui a changé *", "", &input.qualitative, errors, 8))
                            }
                        }
                        fieldset.fr-fieldset {
                            legend.fr-fieldset__legend { h2 { "4. Indicateurs" } }
                            @if let Some(e) = field_error(errors, "indicators") { p.fr-error-text { (e) } }
                            @if app.body.indicators.is_empty() { p { "Le dossier ne proposait pas d'indicateur." } }
                            @for (i, ind) in app.body.indicators.iter().enumerate() {
                                @let name = format!("ach_{i}");
                                @let err = field_error(errors, &name);
                                div.fr-fieldset__element { div class=(group_class(err.as_deref())) {
                                    label.fr-label for=(format!("f-{name}")) { (ind.name) span.fr-hint-text { "Cible : " (number_text(ind.target)) " " (ind.unit) } }
                                    input class=(input_class(err.as_deref())) id=(format!("f-{name}")) type="text" inputmode="decimal" name=(name) value=(input.achieved.get(i).map(String::as_str).unwrap_or(""));
                                    @if let Some(e) = &err { p.fr-error-text { (e) } }
                                } }
                            }
                        }
                        fieldset.fr-fieldset {
                            legend.fr-fieldset__legend { h2 { "5. Bénéficiaires" } }
                            div.fr-fieldset__element {
                                div class=(if file_err.is_some() { "fr-upload-group fr-input-group--error" } else { "fr-upload-group" }) {
                                    label.fr-label for="f-beneficiaires" { "Liste des adresses des bénéficiaires (facultatif)"
                                        span.fr-hint-text { "CSV ou XLSX, une adresse par ligne, 10 Mo au plus. Les adresses sont localisées pour compter les bénéficiaires habitant en quartier prioritaire, puis oubliées : seuls les comptes sont conservés." } }
                                    input.fr-upload #f-beneficiaires type="file" name="beneficiaires" accept=".csv,.xlsx,.txt";
                                    @if let Some(e) = &file_err { p.fr-error-text { (e) } }
                                }
                            }
                        }
                        ul.fr-btns-group.fr-btns-group--inline-md {
                            li { button.fr-btn.fr-btn--secondary type="submit" name="action" value="save" { "Enregistrer" } }
                            li { button.fr-btn type="submit" name="action" value="file" { "Déposer le bilan" } }
                        }
                    }
                }
            },
        )
        .into_string(),
    )
}

/// The financers named in the forecast (code, name), offered on the actual's account-74 rows.
async fn funders_of(state: &AppState, app: &StoredApplication) -> Result<Vec<(String, String)>> {
    let names = state.store.funders(app.contract_id).await?;
    Ok(app
        .body
        .requested_by_funder()
        .into_iter()
        .map(|(code, _)| {
            let name = names
                .iter()
                .find(|f| f.code == code)
                .map_or_else(|| code.clone(), |f| f.name.clone());
            (code, name)
        })
        .collect())
}

/// `?enregistre=1` / `?depose=1` after a save.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    enregistre: Option<String>,
    #[serde(default)]
    depose: Option<String>,
}

/// GET /dossiers/{id}/bilan
#[tracing::instrument(skip(state, visitor))]
pub async fn form(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<i64>,
    Query(q): Query<ReportQuery>,
) -> Result<Response> {
    let principal = match page_principal(&visitor, &uri) {
        Ok(p) => p,
        Err(r) => return Ok(r.into_response()),
    };
    let scope = state.store.application_scope(id).await?;
    require_member(principal, scope.organisation_id)?;
    let app = state.store.application(id).await?;
    let report = state.store.report(id).await?;
    if !fillable(app.status) && report.is_none() {
        return Err(Error::Conflict(format!(
            "Le bilan ne peut pas être rempli sur un dossier « {} » : il s'ouvre une fois la convention signée.",
            app.status.label()
        )));
    }
    let input = ReportInput::from_report(&app, report.as_ref());
    let notice = if q.depose.is_some() {
        Some((
            "success",
            "Bilan déposé : les financeurs en sont informés.".to_string(),
        ))
    } else if q.enregistre.is_some() {
        Some(("success", "Bilan enregistré.".to_string()))
    } else if !fillable(app.status) {
        Some((
            "info",
            format!(
                "Le dossier est « {} » : le bilan ne peut plus être modifié.",
                app.status.label()
            ),
        ))
    } else {
        None
    };
    let shown = report
        .as_ref()
        .map(|r| r.body.clone())
        .unwrap_or_else(|| ReportBody {
            actual: app.body.budget.clone(),
            ..Default::default()
        });
    let funders = funders_of(&state, &app).await?;
    Ok(render(
        &state,
        &visitor,
        &app,
        report.as_ref(),
        &input,
        &ValidationErrors::new(),
        notice,
        &shown,
        &funders,
    )
    .into_response())
}

/// The lines the budget rules refuse, left out so that the rest can be saved.
fn without_refused_lines(mut body: ReportBody) -> (ReportBody, ValidationErrors) {
    let mut e = ValidationErrors::new();
    budget_rules::check_years(&body.actual, &mut e);
    let lines =
        e.0.iter()
            .filter_map(|f| budget_form::line_of(&f.field, "budget"))
            .collect();
    budget_form::remove_lines(&mut body.actual, lines);
    (body, e)
}

/// POST /dossiers/{id}/bilan (multipart; `action`: save, file, add_rows)
#[tracing::instrument(skip(state, visitor, multipart))]
pub async fn save(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response> {
    let principal = signed_in(&visitor)?;
    let scope = state.store.application_scope(id).await?;
    require_member(principal, scope.organisation_id)?;
    let Received {
        fields,
        file,
        too_large,
    } = read_multipart(multipart, "beneficiaires").await?;
    let form = Fields(fields);
    visitor.check_csrf(form.get("csrf"))?;
    let app = state.store.application(id).await?;
    if !fillable(app.status) {
        return Err(Error::Conflict(format!(
            "Le bilan ne peut pas être rempli sur un dossier « {} ».",
            app.status.label()
        )));
    }
    let report = state.store.report(id).await?;
    let stored_body = report.as_ref().map(|r| r.body.clone());
    let mut input = ReportInput::read(&app, &form);
    let funders = funders_of(&state, &app).await?;
    let shown_before = stored_body.clone().unwrap_or_else(|| ReportBody {
        actual: app.body.budget.clone(),
        ..Default::default()
    });
    let show = |input: &ReportInput,
                errors: &ValidationErrors,
                notice: Notice,
                shown: &ReportBody,
                status: StatusCode| {
        (
            status,
            render(
                &state,
                &visitor,
                &app,
                report.as_ref(),
                input,
                errors,
                notice,
                shown,
                &funders,
            ),
        )
            .into_response()
    };
    if form.get("action") == "add_rows" {
        input.budget.add_rows();
        return Ok(show(
            &input,
            &ValidationErrors::new(),
            None,
            &shown_before,
            StatusCode::OK,
        ));
    }
    let Ok(version) = input.version.trim().parse::<i64>() else {
        let errors = ValidationErrors::single("version", "Version du bilan manquante : rechargez la page (votre saisie est conservée ci-dessous).");
        return Ok(show(
            &input,
            &errors,
            None,
            &shown_before,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    let (mut body, mut errors, map) = input.parse(&app, stored_body.as_ref());
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if let Some(name) = too_large {
        errors.add("beneficiaires", too_large_message(&name));
        status = StatusCode::PAYLOAD_TOO_LARGE;
    } else if let Some(f) = file.filter(|f| !f.file_name.is_empty() || !f.bytes.is_empty()) {
        let ext = f
            .file_name
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if !matches!(ext.as_str(), "csv" | "xlsx" | "txt") {
            errors.add(
                "beneficiaires",
                format!(
                    "Le fichier « {} » n'est pas un tableau CSV ou XLSX.",
                    f.file_name
                ),
            );
        } else if ext == "xlsx" && !f.bytes.starts_with(b"PK\x03\x04") {
            errors.add(
                "beneficiaires",
                format!(
                    "Le contenu du fichier « {} » ne correspond pas à un classeur XLSX.",
                    f.file_name
                ),
            );
        } else {
            match count_beneficiaries(&state.geo, &f.file_name, &f.bytes).await {
                Ok(counts) => body.beneficiaries = Some(counts),
                Err(m) => errors.add("beneficiaires", m),
            }
        }
        // The addresses are dropped here: only the counts are kept.
    }
    let filing = form.get("action") == "file" && errors.is_empty();
    if filing {
        match state
            .store
            .save_report(id, &body, version, true, &visitor.author())
            .await
        {
            Ok(_) => {
                return Ok(Redirect::to(&format!("/dossiers/{id}/bilan?depose=1")).into_response())
            }
            Err(StoreError::Invalid(e)) => {
                for err in e.0 {
                    errors.add(form_name(&err.field, &map), err.message);
                }
            }
            Err(StoreError::Conflict(m)) => {
                return Ok(show(
                    &input,
                    &errors,
                    Some(("error", m)),
                    &shown_before,
                    StatusCode::CONFLICT,
                ))
            }
            Err(e) => return Err(e.into()),
        }
    }
    // A draft keeps whatever is well formed (the filing check above failed, or this is a
    // plain save): lines the budget rules refuse are left out.
    let (body, refused) = without_refused_lines(body);
    if !filing {
        for err in refused.0 {
            errors.add(form_name(&err.field, &map), err.message);
        }
    }
    match state
        .store
        .save_report(id, &body, version, false, &visitor.author())
        .await
    {
        Ok(_) if errors.is_empty() => {
            Ok(Redirect::to(&format!("/dossiers/{id}/bilan?enregistre=1")).into_response())
        }
        Ok(new_version) => {
            input.version = new_version.to_string();
            let notice = if form.get("action") == "file" {
                "Le bilan n'a pas été déposé : il manque les éléments signalés. Votre saisie a été enregistrée comme brouillon."
            } else {
                "Le reste de votre saisie a été enregistré ; les valeurs signalées ne l'ont pas été."
            };
            Ok(show(
                &input,
                &errors,
                Some(("warning", notice.to_string())),
                &body,
                status,
            ))
        }
        Err(StoreError::Conflict(m)) => Ok(show(
            &input,
            &errors,
            Some(("error", m)),
            &shown_before,
            StatusCode::CONFLICT,
        )),
        Err(StoreError::Invalid(e)) => {
            for err in e.0 {
                errors.add(form_name(&err.field, &map), err.message);
            }
            Ok(show(
                &input,
                &errors,
                None,
                &shown_before,
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_errors_point_at_their_textarea() {
        assert_eq!(
            form_name("gap_explanations.2026.64", &RowMap::default()),
            "gap_2026_64"
        );
        assert_eq!(form_name("qualitative", &RowMap::default()), "qualitative");
    }
}
