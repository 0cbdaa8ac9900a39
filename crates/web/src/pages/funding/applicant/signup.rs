//! The public sign-up of project carriers (an account and its organisation in one go, then
//! signed in), and the creation of another organisation by a signed-in user.

use super::widgets::{input, textarea};
use super::{client_address, page_principal};
use crate::accounts::PasswordField;
use crate::auth::{self, Password, Visitor, PRE_CSRF_COOKIE};
use crate::error::{Error, Result};
use crate::funding::signed_in;
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use maud::{html, Markup};
use quartiers_domain::validation::required_text;
use quartiers_domain::{Rna, Siret, ValidationErrors};
use quartiers_store::funding::organisations::NewOrganisation;
use quartiers_store::users::normalize_email;
use quartiers_store::StoreError;
use std::net::SocketAddr;

/// Accounts created from one client address within [`auth::LOGIN_WINDOW`], beyond which
/// sign-ups are refused for a while (mass sign-ups).
pub const MAX_SIGNUPS_PER_ADDRESS: i64 = 10;

/// The organisation's fields, as typed.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct OrganisationFields {
    #[serde(default)]
    name: String,
    #[serde(default)]
    siret: String,
    #[serde(default)]
    rna: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    legal_representative: String,
    #[serde(default)]
    contact_email: String,
}

/// The sign-up form, as typed.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SignupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: PasswordField,
    #[serde(flatten)]
    organisation: OrganisationFields,
}

/// The new-organisation form, as typed.
#[derive(Debug, Default, serde::Deserialize)]
pub struct OrganisationForm {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    organisation: OrganisationFields,
}

/// Checks the organisation's fields; the contact email defaults to `default_email`.
fn parse_organisation(
    f: &OrganisationFields,
    default_email: &str,
    errors: &mut ValidationErrors,
) -> Option<NewOrganisation> {
    let name = required_text(errors, "name", &f.name, 300);
    let siret = if f.siret.trim().is_empty() {
        errors.add("siret", "Indiquez le SIRET de la structure (14 chiffres).");
        None
    } else {
        errors.check("siret", Siret::parse(&f.siret))
    };
    let rna = if f.rna.trim().is_empty() {
        Some(None)
    } else {
        errors.check("rna", Rna::parse(&f.rna)).map(Some)
    };
    let address = required_text(errors, "address", &f.address, 500);
    let legal_representative =
        required_text(errors, "legal_representative", &f.legal_representative, 300);
    let email = if f.contact_email.trim().is_empty() {
        Some(default_email.to_string())
    } else {
        errors.check("contact_email", normalize_email(&f.contact_email))
    };
    Some(NewOrganisation {
        name,
        siret: siret?,
        rna: rna?,
        address,
        legal_representative,
        email: email?,
    })
}

fn organisation_fields(f: &OrganisationFields, errors: &ValidationErrors) -> Markup {
    html! {
        (input("name", "Nom de la structure", "Tel qu'il figure dans les statuts.", &f.name, errors, "text", true))
        (input("siret", "SIRET", "14 chiffres, sur l'avis de situation au répertoire Sirene.", &f.siret, errors, "text", true))
        (input("rna", "Numéro RNA", "Pour une association : la lettre W suivie de 9 chiffres (facultatif).", &f.rna, errors, "text", false))
        (textarea("address", "Adresse *", "Adresse du siège.", &f.address, errors, 3))
        (input("legal_representative", "Représentant légal", "Nom et qualité (par exemple : Marie Dupont, présidente).", &f.legal_representative, errors, "text", true))
        (input("contact_email", "Adresse électronique de contact", "Où la plateforme envoie les accusés de réception et décisions. Par défaut : votre adresse.", &f.contact_email, errors, "email", false))
    }
}

fn pre_csrf_cookie(token: String, secure: bool) -> Cookie<'static> {
    Cookie::build((PRE_CSRF_COOKIE, token))
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .path("/inscription")
        .build()
}

fn render_signup(
    state: &AppState,
    visitor: &Visitor,
    token: &str,
    form: &SignupForm,
    errors: &ValidationErrors,
    notice: Option<&str>,
) -> Html<String> {
    let frame = Frame::new(state, visitor);
    Html(
        layout::page(
            &frame,
            "Créer un compte porteur de projet",
            &[("Inscription", String::new())],
            html! {
                div.fr-grid-row { div.fr-col-12.fr-col-md-8 {
                    h1 { "Créer un compte porteur de projet" }
                    p.fr-text--lead { "Un compte et votre structure en une fois : vous pourrez ensuite déposer vos demandes de subvention aux appels à projets des contrats de ville, et y ajouter vos collègues." }
                    p { "Votre structure existe déjà sur la plateforme ? Demandez à son administrateur de vous y ajouter. Vous avez déjà un compte ? " a href="/connexion?suivant=/structures/nouvelle" { "Connectez-vous" } " pour ajouter une autre structure." }
                    @if let Some(n) = notice { (layout::notice("error", n)) }
                    (layout::error_summary(errors))
                    form method="post" action="/inscription" novalidate {
                        input type="hidden" name="csrf" value=(token);
                        fieldset.fr-fieldset {
                            legend.fr-fieldset__legend { "Votre compte" }
                            div.fr-fieldset__element {
                                (input("email", "Adresse électronique", "Elle sert d'identifiant.", &form.email, errors, "email", true))
                                (input("password", "Mot de passe", "12 caractères au moins ; une phrase de passe est idéale.", "", errors, "password", true))
                            }
                        }
                        fieldset.fr-fieldset {
                            legend.fr-fieldset__legend { "Votre structure" }
                            div.fr-fieldset__element { (organisation_fields(&form.organisation, errors)) }
                        }
                        button.fr-btn type="submit" { "Créer mon compte et ma structure" }
                    }
                } }
            },
        )
        .into_string(),
    )
}

/// GET /inscription
#[tracing::instrument(skip(state, visitor, jar))]
pub async fn signup_form(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
) -> Response {
    if visitor.principal().is_some() {
        return Redirect::to("/structures/nouvelle").into_response();
    }
    let token = auth::random_token();
    let jar = jar.add(pre_csrf_cookie(token.clone(), state.config.secure_cookies));
    (
        jar,
        render_signup(
            &state,
            &visitor,
            &token,
            &SignupForm::default(),
            &ValidationErrors::new(),
            None,
        ),
    )
        .into_response()
}

/// POST /inscription
#[tracing::instrument(skip(state, visitor, jar, headers, connect, form))]
pub async fn signup(
    State(state): State<AppState>,
    visitor: Visitor,
    jar: CookieJar,
    headers: HeaderMap,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    Form(form): Form<SignupForm>,
) -> Result<Response> {
    // Public route: a signed-in visitor adds organisations from their own space instead.
    if visitor.principal().is_some() {
        return Ok(Redirect::to("/structures/nouvelle").into_response());
    }
    let expected = jar
        .get(PRE_CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .unwrap_or_default();
    if expected.is_empty() || !auth::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return Err(Error::Csrf);
    }
    let address = client_address(&headers, connect.map(|c| c.0));
    let email = form.email.trim().to_lowercase();
    let signup_key = format!("signup:{address}");
    let limited = match auth::check_rate_limit(&state, &email, &address).await {
        Err(Error::TooManyRequests(m)) => Some(m),
        Err(e) => return Err(e),
        Ok(()) => {
            let recent = state
                .store
                .recent_login_failures(&signup_key, auth::LOGIN_WINDOW)
                .await?;
            (recent >= MAX_SIGNUPS_PER_ADDRESS).then(|| {
                "Trop de comptes ont été créés depuis votre adresse réseau : réessayez dans 15 minutes.".to_string()
            })
        }
    };
    if let Some(m) = limited {
        return Ok((
            StatusCode::TOO_MANY_REQUESTS,
            render_signup(
                &state,
                &visitor,
                &expected,
                &form,
                &ValidationErrors::new(),
                Some(&m),
            ),
        )
            .into_response());
    }
    let mut errors = ValidationErrors::new();
    let normalized = errors.check("email", normalize_email(&form.email));
    errors.check("password", auth::check_new_password(&form.password.0));
    let org = parse_organisation(
        &form.organisation,
        normalized.as_deref().unwrap_or(""),
        &mut errors,
    );
    let invalid = |errors: &ValidationErrors| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            render_signup(&state, &visitor, &expected, &form, errors, None),
        )
            .into_response()
    };
    let (Some(org), true) = (org, errors.is_empty()) else {
        return Ok(invalid(&errors));
    };
    state.store.record_login_failure(&signup_key).await?;
    let hash = auth::hash_password(&Password(form.password.0.clone()))?;
    let (user_id, org_id) = match state.store.sign_up(&email, &hash, &org).await {
        Ok(ids) => ids,
        Err(StoreError::Invalid(e)) => return Ok(invalid(&e)),
        Err(e) => return Err(e.into()),
    };
    let session = state
        .store
        .create_session(user_id, auth::SESSION_TTL)
        .await?;
    let jar = jar
        .remove(Cookie::build(PRE_CSRF_COOKIE).path("/inscription"))
        .add(auth::session_cookie(
            session.token,
            state.config.secure_cookies,
        ));
    Ok((jar, Redirect::to(&format!("/structures/{org_id}"))).into_response())
}

fn render_new_organisation(
    state: &AppState,
    visitor: &Visitor,
    form: &OrganisationForm,
    errors: &ValidationErrors,
) -> Html<String> {
    let frame = Frame::new(state, visitor);
    Html(
        layout::page(
            &frame,
            "Ajouter une structure",
            &[
                ("Mes dossiers", "/mes-dossiers".into()),
                ("Ajouter une structure", String::new()),
            ],
            html! {
                div.fr-grid-row { div.fr-col-12.fr-col-md-8 {
                    h1 { "Ajouter une structure" }
                    p { "Vous en serez l'administrateur et le signataire ; vous pourrez y ajouter d'autres comptes." }
                    (layout::error_summary(errors))
                    form method="post" action="/structures/nouvelle" novalidate {
                        input type="hidden" name="csrf" value=(visitor.csrf());
                        (organisation_fields(&form.organisation, errors))
                        ul.fr-btns-group.fr-btns-group--inline-md {
                            li { button.fr-btn type="submit" { "Créer la structure" } }
                            li { a.fr-btn.fr-btn--secondary href="/mes-dossiers" { "Annuler" } }
                        }
                    }
                } }
            },
        )
        .into_string(),
    )
}

/// GET /structures/nouvelle
#[tracing::instrument(skip(state, visitor))]
pub async fn new_organisation_form(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
) -> Response {
    if let Err(r) = page_principal(&visitor, &uri) {
        return r.into_response();
    }
    render_new_organisation(
        &state,
        &visitor,
        &OrganisationForm::default(),
        &ValidationErrors::new(),
    )
    .into_response()
}

/// POST /structures/nouvelle
#[tracing::instrument(skip(state, visitor, form))]
pub async fn create_organisation(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<OrganisationForm>,
) -> Result<Response> {
    let principal = signed_in(&visitor)?;
    visitor.check_csrf(&form.csrf)?;
    let mut errors = ValidationErrors::new();
    let org = parse_organisation(&form.organisation, &principal.email, &mut errors);
    let result = match (org, errors.is_empty()) {
        (Some(org), true) => {
            state
                .store
                .create_organisation(&org, principal.user_id)
                .await
        }
        _ => Err(StoreError::Invalid(errors)),
    };
    match result {
        Ok(id) => Ok(Redirect::to(&format!("/structures/{id}")).into_response()),
        Err(StoreError::Invalid(e)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_new_organisation(&state, &visitor, &form, &e),
        )
            .into_response()),
        Err(StoreError::Conflict(m)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render_new_organisation(
                &state,
                &visitor,
                &form,
                &ValidationErrors::single("siret", m),
            ),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}
