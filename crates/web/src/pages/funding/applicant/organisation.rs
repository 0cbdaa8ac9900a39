//! The organisation page for its members: identity, members (its administrators add
//! existing accounts), and the standing documents stored once, dated, and reused by every
//! application until replaced.

use super::files::{check_document, read_multipart, too_large_message};
use super::widgets::{field_error, group_class, input_class, select_class};
use super::{page_principal, require_member, Fields};
use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::signed_in;
use crate::layout::{self, french_date, Frame};
use crate::AppState;
use axum::extract::{Multipart, Path, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use quartiers_domain::funding::call::{document_label, DOCUMENT_KINDS};
use quartiers_domain::funding::Status;
use quartiers_domain::{Principal, ValidationErrors};
use quartiers_store::users::normalize_email;
use quartiers_store::StoreError;

/// What a re-rendered organisation page shows besides the stored data.
#[derive(Debug, Default)]
struct PageState {
    member_email: String,
    member_admin: bool,
    member_signatory: bool,
    member_errors: ValidationErrors,
    upload_kind: String,
    upload_error: Option<String>,
}

async fn render(
    state: &AppState,
    visitor: &Visitor,
    principal: &Principal,
    id: i64,
    page: &PageState,
) -> Result<Html<String>> {
    let org = state.store.organisation(id).await?;
    let members = state.store.members(id).await?;
    let documents = state.store.documents(id).await?;
    let applications = state.store.applications_of_organisations(&[id]).await?;
    let overdue = state.store.has_overdue_report(id).await?;
    let manages = principal.is_admin
        || state
            .store
            .is_organisation_admin(id, principal.user_id)
            .await?;
    let (current, replaced): (Vec<_>, Vec<_>) =
        documents.iter().partition(|d| d.replaced_at.is_none());
    let frame = Frame::new(state, visitor);
    let email_err = field_error(&page.member_errors, "email");
    let kind_err = page.upload_error.as_deref();
    Ok(Html(
        layout::page(
            &frame,
            &org.name,
            &[
                ("Mes dossiers", "/mes-dossiers".into()),
                (org.name.as_str(), String::new()),
            ],
            html! {
                h1 { (org.name) }
                @if overdue {
                    (layout::notice("warning", "Un bilan de fin d'action de cette structure est en retard : déposez-le ; vos nouvelles demandes sont signalées aux financeurs tant qu'il manque."))
                }
                div.fr-grid-row.fr-grid-row--gutters {
                    div.fr-col-12.fr-col-md-6 {
                        h2 { "Identité" }
                        dl.q-facts {
                            dt { "SIRET" } dd { (org.siret) }
                            dt { "Numéro RNA" } dd { (layout::or_unknown(org.rna.as_deref())) }
                            dt { "Adresse" } dd { (org.address) }
                            dt { "Représentant légal" } dd { (org.legal_representative) }
                            dt { "Contact" } dd { (org.email) }
                        }
                    }
                    div.fr-col-12.fr-col-md-6 {
                        h2 { "Demandes" }
                        @if applications.is_empty() {
                            p { "Aucune demande pour l'instant. " a href="/mes-dossiers" { "Voir les appels à projets ouverts" } }
                        } @else {
                            ul { @for a in &applications {
                                li { a href=(format!("/dossiers/{}", a.id)) { (a.reference) } " — " (a.title) " (" (Status::parse(&a.status).map(|s| s.label()).unwrap_or(&a.status)) ")" }
                            } }
                        }
                    }
                }
                h2 #membres { "Membres" }
                div.fr-table { table {
                    caption { "Comptes de la structure" }
                    thead { tr { th scope="col" { "Adresse" } th scope="col" { "Administrateur" } th scope="col" { "Signataire" } } }
                    tbody { @for m in &members { tr {
                        td { (m.email) }
                        td { @if m.is_admin { "oui" } @else { "non" } }
                        td { @if m.is_signatory { "oui" } @else { "non" } }
                    } } }
                } }
                @if manages {
                    h3 { "Ajouter un membre" }
                    p.fr-text--sm { "La personne doit déjà avoir un compte sur la plateforme (elle peut en créer un depuis la page d'inscription). Une même adresse peut appartenir à plusieurs structures." }
                    form method="post" action=(format!("/structures/{id}/membres")) novalidate {
                        input type="hidden" name="csrf" value=(visitor.csrf());
                        div class=(group_class(email_err.as_deref())) {
                            label.fr-label for="member-email" { "Adresse électronique du compte *" }
                            input class=(input_class(email_err.as_deref())) #member-email type="email" name="email" value=(page.member_email);
                            @if let Some(e) = &email_err { p.fr-error-text { (e) } }
                        }
                        fieldset.fr-fieldset {
                            legend.fr-fieldset__legend { "Rôle dans la structure" span.fr-hint-text { "Sans case cochée : simple membre (prépare les dossiers)." } }
                            div.fr-fieldset__element { div.fr-checkbox-group {
                                input #member-admin type="checkbox" name="is_admin" value="on" checked[page.member_admin];
                                label.fr-label for="member-admin" { "Administrateur (gère les membres)" }
                            } }
                            div.fr-fieldset__element { div.fr-checkbox-group {
                                input #member-signatory type="checkbox" name="is_signatory" value="on" checked[page.member_signatory];
                                label.fr-label for="member-signatory" { "Signataire (engage la structure)" }
                            } }
                        }
                        button.fr-btn.fr-btn--secondary type="submit" { "Ajouter le membre" }
                    }
                }
                h2 #documents { "Pièces de la structure" }
                p { "Chaque pièce est conservée une fois, datée, et jointe à toutes vos demandes jusqu'à ce que vous la remplaciez." }
                div.fr-table { table {
                    caption { "Pièces en vigueur" }
                    thead { tr { th scope="col" { "Pièce" } th scope="col" { "Fichier" } th scope="col" { "Depuis le" } th scope="col" { "Taille" } } }
                    tbody {
                        @for (kind, label) in DOCUMENT_KINDS {
                            @let doc = current.iter().find(|d| d.kind == *kind);
                            tr {
                                td { (label) }
                                @if let Some(d) = doc {
                                    td { a href=(format!("/structures/{id}/documents/{}", d.id)) { (d.file_name) } }
                                    td { (french_date(&d.valid_from)) }
                                    td { (crate::size_fr(d.size_bytes.max(0) as u64)) }
                                } @else {
                                    td colspan="3" { span.q-unknown { "non fournie" } }
                                }
                            }
                        }
                    }
                } }
                @if !replaced.is_empty() {
                    div.fr-table { table {
                        caption { "Pièces remplacées" }
                        thead { tr { th scope="col" { "Pièce" } th scope="col" { "Fichier" } th scope="col" { "Du" } th scope="col" { "Remplacée le" } } }
                        tbody { @for d in &replaced { tr {
                            td { (document_label(&d.kind)) }
                            td { a href=(format!("/structures/{id}/documents/{}", d.id)) { (d.file_name) } }
                            td { (french_date(&d.valid_from)) }
                            td { (french_date(d.replaced_at.as_deref().unwrap_or(""))) }
                        } } }
                    } }
                }
                h3 { "Déposer ou remplacer une pièce" }
                form method="post" action=(format!("/structures/{id}/documents")) enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(visitor.csrf());
                    div class=(group_class(kind_err)) {
                        label.fr-label for="doc-kind" { "Pièce *" }
                        select class=(select_class(kind_err)) #doc-kind name="kind" {
                            @for (kind, label) in DOCUMENT_KINDS { option value=(kind) selected[page.upload_kind == *kind] { (label) } }
                        }
                    }
                    div class=(if kind_err.is_some() { "fr-upload-group fr-input-group--error" } else { "fr-upload-group" }) {
                        label.fr-label for="doc-file" { "Fichier *" span.fr-hint-text { "PDF, PNG, JPEG, ODT, ODS, DOCX ou XLSX ; 10 Mo au plus." } }
                        input.fr-upload #doc-file type="file" name="fichier" accept=".pdf,.png,.jpg,.jpeg,.odt,.ods,.docx,.xlsx";
                        @if let Some(e) = kind_err { p.fr-error-text { (e) } }
                    }
                    button.fr-btn.fr-mt-2w type="submit" { "Envoyer la pièce" }
                }
            },
        )
        .into_string(),
    ))
}

/// GET /structures/{id}
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path(id): Path<i64>,
) -> Result<Response> {
    let principal = match page_principal(&visitor, &uri) {
        Ok(p) => p,
        Err(r) => return Ok(r.into_response()),
    };
    require_member(principal, id)?;
    Ok(
        render(&state, &visitor, principal, id, &PageState::default())
            .await?
            .into_response(),
    )
}

/// POST /structures/{id}/membres
#[tracing::instrument(skip(state, visitor, form))]
pub async fn add_member(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response> {
    let principal = signed_in(&visitor)?;
    require_member(principal, id)?;
    if !principal.is_admin
        && !state
            .store
            .is_organisation_admin(id, principal.user_id)
            .await?
    {
        return Err(Error::Forbidden);
    }
    let form = Fields(form);
    visitor.check_csrf(form.get("csrf"))?;
    let page = PageState {
        member_email: form.get("email").to_string(),
        member_admin: form.get("is_admin") == "on",
        member_signatory: form.get("is_signatory") == "on",
        ..Default::default()
    };
    let result = match normalize_email(form.get("email")) {
        Ok(email) => state
            .store
            .add_member(id, &email, page.member_admin, page.member_signatory)
            .await
            .map_err(|e| match e {
                StoreError::Conflict(m) => {
                    StoreError::Invalid(ValidationErrors::single("email", m))
                }
                other => other,
            }),
        Err(m) => Err(StoreError::Invalid(ValidationErrors::single("email", m))),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/structures/{id}#membres")).into_response()),
        Err(StoreError::Invalid(errors)) => {
            let page = PageState {
                member_errors: errors,
                ..page
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                render(&state, &visitor, principal, id, &page).await?,
            )
                .into_response())
        }
        Err(e) => Err(e.into()),
    }
}

/// POST /structures/{id}/documents (multipart: csrf, kind, fichier)
#[tracing::instrument(skip(state, visitor, multipart))]
pub async fn upload_document(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(id): Path<i64>,
    multipart: Multipart,
) -> Result<Response> {
    let principal = signed_in(&visitor)?;
    require_member(principal, id)?;
    let received = read_multipart(multipart, "fichier").await?;
    let fields = Fields(received.fields);
    visitor.check_csrf(fields.get("csrf"))?;
    let kind = fields.get("kind").to_string();
    if let Some(name) = &received.too_large {
        return refuse(
            &state,
            &visitor,
            principal,
            id,
            &kind,
            StatusCode::PAYLOAD_TOO_LARGE,
            too_large_message(name),
        )
        .await;
    }
    if !DOCUMENT_KINDS.iter().any(|(k, _)| *k == kind) {
        return refuse(
            &state,
            &visitor,
            principal,
            id,
            &kind,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choisissez la nature de la pièce dans la liste.".into(),
        )
        .await;
    }
    let Some(file) = received.file.filter(|f| !f.file_name.is_empty()) else {
        return refuse(
            &state,
            &visitor,
            principal,
            id,
            &kind,
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choisissez le fichier à envoyer.".into(),
        )
        .await;
    };
    let mime = match check_document(&file.file_name, file.declared_type.as_deref(), &file.bytes) {
        Ok(m) => m,
        Err(m) => {
            return refuse(
                &state,
                &visitor,
                principal,
                id,
                &kind,
                StatusCode::UNPROCESSABLE_ENTITY,
                m,
            )
            .await
        }
    };
    state
        .store
        .add_document(
            id,
            &kind,
            &file.file_name,
            mime,
            &file.bytes,
            principal.user_id,
        )
        .await?;
    Ok(Redirect::to(&format!("/structures/{id}#documents")).into_response())
}

/// The organisation page again, with the upload refused for `message`.
async fn refuse(
    state: &AppState,
    visitor: &Visitor,
    principal: &Principal,
    id: i64,
    kind: &str,
    status: StatusCode,
    message: String,
) -> Result<Response> {
    let page = PageState {
        upload_kind: kind.to_string(),
        upload_error: Some(message),
        ..Default::default()
    };
    Ok((status, render(state, visitor, principal, id, &page).await?).into_response())
}

/// Whether the principal may read the organisation's documents: its members, and whoever
/// may view one of its submitted applications (its instructors, the contract's pilots).
async fn may_read_documents(state: &AppState, principal: &Principal, id: i64) -> Result<bool> {
    if principal.is_admin || principal.member_of(id) {
        return Ok(true);
    }
    for row in state.store.applications_of_organisations(&[id]).await? {
        if row.status == Status::Brouillon.code() {
            continue;
        }
        let scope = state.store.application_scope(row.id).await?;
        if principal.can_view_application(&scope) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `attachment` with the file's name, in ASCII and in UTF-8 (RFC 6266).
fn content_disposition(file_name: &str) -> String {
    let ascii: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._- ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = file_name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// GET /structures/{id}/documents/{doc_id}
#[tracing::instrument(skip(state, visitor))]
pub async fn download_document(
    State(state): State<AppState>,
    visitor: Visitor,
    uri: Uri,
    Path((id, doc_id)): Path<(i64, i64)>,
) -> Result<Response> {
    let principal = match page_principal(&visitor, &uri) {
        Ok(p) => p,
        Err(r) => return Ok(r.into_response()),
    };
    if !may_read_documents(&state, principal, id).await? {
        return Err(Error::Forbidden);
    }
    let (org_id, doc, content) = state.store.document_content(doc_id).await?;
    if org_id != id {
        return Err(Error::NotFound);
    }
    let mut response = content.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&doc.content_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Ok(v) = HeaderValue::from_str(&content_disposition(&doc.file_name)) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_keeps_accents_safely() {
        assert_eq!(
            content_disposition("relevé \"x\".pdf"),
            "attachment; filename=\"relev_ _x_.pdf\"; filename*=UTF-8''relev%C3%A9%20%22x%22.pdf"
        );
    }
}
