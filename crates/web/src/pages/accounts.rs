//! Account administration (platform administrators): list accounts and their roles, create one.

use crate::accounts::{create_account, NewAccount, PasswordField};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use quartiers_domain::permissions::Action;
use quartiers_domain::{Role, ValidationErrors};

/// The account form, as typed.
#[derive(Debug, Default, serde::Deserialize)]
pub struct AccountForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: PasswordField,
    #[serde(default)]
    role: String,
    #[serde(default)]
    contract: String,
    #[serde(default)]
    institution: String,
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    form: &AccountForm,
    errors: &ValidationErrors,
    done: Option<&str>,
) -> Result<Html<String>> {
    let users = state.store.users().await?;
    let mut rows = Vec::new();
    for u in &users {
        rows.push((u, state.store.roles_of(u.id).await?));
    }
    let contracts = state.store.list_contracts().await?;
    let frame = Frame::new(state, visitor);
    let err = |f: &str| errors.for_field(f).map(str::to_string);
    let group = |f: &str| {
        if errors.for_field(f).is_some() {
            "fr-input-group fr-input-group--error"
        } else {
            "fr-input-group"
        }
    };
    Ok(Html(
        layout::page(
            &frame,
            "Comptes",
            &[("Comptes", String::new())],
            html! {
                h1 { "Comptes et rôles" }
                @if let Some(d) = done { (layout::notice("success", d)) }
                div.fr-table { table {
                    caption { "Comptes de la plateforme" }
                    thead { tr { th scope="col" { "Adresse" } th scope="col" { "Rôles" } } }
                    tbody { @for (u, roles) in &rows { tr {
                        td { (u.email) }
                        td {
                            @if u.is_admin { span.fr-badge.fr-badge--sm.fr-mr-1w { "Administrateur" } }
                            @for r in roles { span.fr-tag.fr-tag--sm.fr-mr-1w { (r.role.label()) " — " (r.contract_name) @if let Some(i) = &r.institution { " (" (i) ")" } } }
                        }
                    } } }
                } }
                h2 { "Créer un compte" }
                (layout::error_summary(errors))
                form method="post" action="/admin/comptes" novalidate {
                    input type="hidden" name="csrf" value=(visitor.csrf());
                    div class=(group("email")) {
                        label.fr-label for="email" { "Adresse électronique *" }
                        input.fr-input #email type="email" name="email" value=(form.email) required;
                        @if let Some(e) = err("email") { p.fr-error-text { (e) } }
                    }
                    div class=(group("password")) {
                        label.fr-label for="password" { "Mot de passe initial *" span.fr-hint-text { "12 caractères au moins ; à transmettre à la personne par un canal sûr." } }
                        input.fr-input #password type="password" name="password" autocomplete="new-password" required;
                        @if let Some(e) = err("password") { p.fr-error-text { (e) } }
                    }
                    div class=(group("role")) {
                        label.fr-label for="role" { "Rôle *" }
                        select.fr-select #role name="role" {
                            option value="admin" selected[form.role == "admin"] { "Administrateur de la plateforme" }
                            @for r in Role::ALL { option value=(r.code()) selected[form.role == r.code()] { (r.label()) } }
                        }
                        @if let Some(e) = err("role") { p.fr-error-text { (e) } }
                    }
                    div class=(group("contract")) {
                        label.fr-label for="contract" { "Contrat" span.fr-hint-text { "Obligatoire sauf pour un administrateur." } }
                        select.fr-select #contract name="contract" {
                            option value="" { "— aucun —" }
                            @for c in &contracts { option value=(c.slug) selected[form.contract == c.slug] { (c.name) } }
                        }
                        @if let Some(e) = err("contract") { p.fr-error-text { (e) } }
                    }
                    div class=(group("institution")) {
                        label.fr-label for="institution" { "Institution ou structure" span.fr-hint-text { "Pour un instructeur financeur : le code du financeur sur le contrat (etat, mel…), qui lui permet d'instruire les lignes de ce financeur. Pour un porteur de projet : sa structure." } }
                        input.fr-input #institution type="text" name="institution" value=(form.institution);
                        @if let Some(e) = err("institution") { p.fr-error-text { (e) } }
                    }
                    button.fr-btn type="submit" { "Créer le compte" }
                }
            },
        )
        .into_string(),
    ))
}

/// GET /admin/comptes
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Result<Html<String>> {
    visitor.require(Action::ManageUsers)?;
    render(
        &state,
        &visitor,
        &AccountForm::default(),
        &ValidationErrors::new(),
        None,
    )
    .await
}

/// POST /admin/comptes
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<AccountForm>,
) -> Result<Response> {
    visitor.require(Action::ManageUsers)?;
    visitor.check_csrf(&form.csrf)?;
    let input = NewAccount {
        email: form.email.clone(),
        password: PasswordField(form.password.0.clone()),
        role: form.role.clone(),
        contract: Some(form.contract.clone()),
        institution: Some(form.institution.clone()),
    };
    match create_account(&state.store, &input).await {
        Ok(_) => Ok(Redirect::to("/admin/comptes").into_response()),
        Err(Error::Validation(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(&state, &visitor, &form, &errors, None).await?,
        )
            .into_response()),
        Err(e) => Err(e),
    }
}
