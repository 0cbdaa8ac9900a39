//! The pilots' edit forms: general information, framework nodes, every list of the contract,
//! contract import and deletion. Each handler checks the visitor's right first, then the CSRF
//! token; invalid input re-renders the form with the typed values and French messages.

use super::forms::{self, Meta};
use crate::auth::Visitor;
use crate::changes::{self, load_for_edit};
use crate::error::{Error, Result};
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form as AxumForm;
use maud::{html, Markup};
use quartiers_domain::edit::{self, Collection, Form, CONTRACT_FIELDS, NODE_FIELDS};
use quartiers_domain::permissions::Action;
use quartiers_domain::{ContractDocument, ValidationErrors};
use quartiers_store::contracts::StoredContract;

type Pairs = AxumForm<Vec<(String, String)>>;

fn fresh_meta(visitor: &Visitor, stored: &StoredContract) -> Meta {
    Meta {
        csrf: visitor.csrf().to_string(),
        version: stored.version.to_string(),
        ..Default::default()
    }
}

#[allow(clippy::too_many_arguments)]
fn form_page(
    state: &AppState,
    visitor: &Visitor,
    stored: &StoredContract,
    title: &str,
    action: &str,
    specs: &[edit::FieldSpec],
    form: &Form,
    meta: &Meta,
    errors: &ValidationErrors,
    notice: Option<&str>,
) -> Html<String> {
    let doc = &stored.document;
    let frame = Frame::new(state, visitor);
    let slug = &doc.contract.slug;
    Html(
        layout::page(
            &frame,
            title,
            &[
                (doc.contract.name.as_str(), format!("/contrats/{slug}")),
                (title, String::new()),
            ],
            html! {
                div.fr-grid-row { div.fr-col-12.fr-col-md-8 {
                    h1 { (title) }
                    @if let Some(n) = notice { (layout::notice("warning", n)) }
                    (forms::edit_form(action, specs, form, meta, errors, doc, "Enregistrer"))
                } }
            },
        )
        .into_string(),
    )
}

/// What to do with the result of a change submitted from a form.
#[allow(clippy::too_many_arguments)]
fn outcome(
    result: Result<i64>,
    state: &AppState,
    visitor: &Visitor,
    stored: &StoredContract,
    title: &str,
    action: &str,
    specs: &[edit::FieldSpec],
    form: &Form,
    meta: &Meta,
    success: String,
) -> Result<Response> {
    match result {
        Ok(_) => Ok(Redirect::to(&success).into_response()),
        Err(Error::Validation(errors)) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(
                state, visitor, stored, title, action, specs, form, meta, &errors, None,
            ),
        )
            .into_response()),
        Err(Error::Conflict(message)) => Ok((
            StatusCode::CONFLICT,
            form_page(
                state,
                visitor,
                stored,
                title,
                action,
                specs,
                form,
                meta,
                &ValidationErrors::new(),
                Some(&message),
            ),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

async fn submit(
    state: &AppState,
    visitor: &Visitor,
    stored: &StoredContract,
    meta: &Meta,
    summary: String,
    op: impl FnOnce(&ContractDocument) -> Result<ContractDocument, ValidationErrors>,
) -> Result<i64> {
    let change = meta.to_change()?;
    changes::apply(state, visitor, stored, &change, summary, op).await
}

// ---- General information ----

/// GET /contrats/{slug}/modifier
#[tracing::instrument(skip(state, visitor))]
pub async fn info_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> Result<Html<String>> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let form = edit::to_form(
        CONTRACT_FIELDS,
        &serde_json::to_value(&stored.document.contract).map_err(anyhow::Error::from)?,
    );
    Ok(form_page(
        &state,
        &visitor,
        &stored,
        "Informations générales",
        &format!("/contrats/{slug}/modifier"),
        CONTRACT_FIELDS,
        &form,
        &fresh_meta(&visitor, &stored),
        &ValidationErrors::new(),
        None,
    ))
}

/// POST /contrats/{slug}/modifier
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn info_save(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let (form, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    let r = submit(
        &state,
        &visitor,
        &stored,
        &meta,
        "Modification des informations générales".into(),
        |d| edit::update_contract_info(d, &form),
    )
    .await;
    outcome(
        r,
        &state,
        &visitor,
        &stored,
        "Informations générales",
        &format!("/contrats/{slug}/modifier"),
        CONTRACT_FIELDS,
        &form,
        &meta,
        format!("/contrats/{slug}"),
    )
}

// ---- Framework nodes ----

/// `?parent=KEY` of the new-node form.
#[derive(Debug, serde::Deserialize, Default)]
pub struct ParentQuery {
    #[serde(default)]
    parent: String,
}

fn level_of_new(doc: &ContractDocument, parent: Option<&str>) -> Result<String> {
    let depth = match parent {
        None => 0,
        Some(p) => doc.find_node(p).ok_or(Error::NotFound)?.1 + 1,
    };
    Ok(doc.contract.level_label(depth).singular.clone())
}

/// GET /contrats/{slug}/cadre/nouveau
#[tracing::instrument(skip(state, visitor))]
pub async fn node_new_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(q): Query<ParentQuery>,
) -> Result<Html<String>> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let parent = Some(q.parent.as_str()).filter(|p| !p.is_empty());
    let level = level_of_new(&stored.document, parent)?;
    let action = format!("/contrats/{slug}/cadre/nouveau?parent={}", q.parent);
    Ok(form_page(
        &state,
        &visitor,
        &stored,
        &format!("Ajouter : {level}"),
        &action,
        NODE_FIELDS,
        &Form::new(),
        &fresh_meta(&visitor, &stored),
        &ValidationErrors::new(),
        None,
    ))
}

/// POST /contrats/{slug}/cadre/nouveau
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn node_create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(q): Query<ParentQuery>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let (form, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    let parent = Some(q.parent.as_str()).filter(|p| !p.is_empty());
    let level = level_of_new(&stored.document, parent)?;
    let title = form.get("title").cloned().unwrap_or_default();
    let r = submit(
        &state,
        &visitor,
        &stored,
        &meta,
        format!("Ajout — {level} « {} »", title.trim()),
        |d| edit::add_node(d, parent, &form).map(|(d, _)| d),
    )
    .await;
    let action = format!("/contrats/{slug}/cadre/nouveau?parent={}", q.parent);
    outcome(
        r,
        &state,
        &visitor,
        &stored,
        &format!("Ajouter : {level}"),
        &action,
        NODE_FIELDS,
        &form,
        &meta,
        format!("/contrats/{slug}#cadre"),
    )
}

fn node_level(doc: &ContractDocument, key: &str) -> Result<(String, String)> {
    let (n, depth) = doc.find_node(key).ok_or(Error::NotFound)?;
    Ok((
        doc.contract.level_label(depth).singular.clone(),
        n.title.clone(),
    ))
}

/// GET /contrats/{slug}/cadre/{key}/modifier
#[tracing::instrument(skip(state, visitor))]
pub async fn node_edit_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Html<String>> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let (n, _) = stored.document.find_node(&key).ok_or(Error::NotFound)?;
    let (level, title) = node_level(&stored.document, &key)?;
    let form = edit::to_form(NODE_FIELDS, &edit::node_value(n));
    Ok(form_page(
        &state,
        &visitor,
        &stored,
        &format!("Modifier : {level} « {title} »"),
        &format!("/contrats/{slug}/cadre/{key}/modifier"),
        NODE_FIELDS,
        &form,
        &fresh_meta(&visitor, &stored),
        &ValidationErrors::new(),
        None,
    ))
}

/// POST /contrats/{slug}/cadre/{key}/modifier
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn node_save(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, key)): Path<(String, String)>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let (form, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    let (level, title) = node_level(&stored.document, &key)?;
    let new_title = form
        .get("title")
        .map(|t| t.trim().to_string())
        .unwrap_or_default();
    let r = submit(
        &state,
        &visitor,
        &stored,
        &meta,
        format!("Modification — {level} « {new_title} »"),
        |d| edit::update_node(d, &key, &form),
    )
    .await;
    outcome(
        r,
        &state,
        &visitor,
        &stored,
        &format!("Modifier : {level} « {title} »"),
        &format!("/contrats/{slug}/cadre/{key}/modifier"),
        NODE_FIELDS,
        &form,
        &meta,
        format!("/contrats/{slug}/cadre/{key}"),
    )
}

fn direction(form: &Form) -> Result<bool> {
    match form.get("direction").map(String::as_str) {
        Some("up") => Ok(true),
        Some("down") => Ok(false),
        _ => Err(Error::BadRequest(
            "Indiquez le sens du déplacement (monter ou descendre).".into(),
        )),
    }
}

/// POST /contrats/{slug}/cadre/{key}/deplacer
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn node_move(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, key)): Path<(String, String)>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let (form, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    let up = direction(&form)?;
    let (level, title) = node_level(&stored.document, &key)?;
    submit(
        &state,
        &visitor,
        &stored,
        &meta,
        format!("Déplacement — {level} « {title} »"),
        |d| edit::move_node(d, &key, up),
    )
    .await?;
    Ok(Redirect::to(&format!("/contrats/{slug}#cadre")).into_response())
}

fn confirm_page(
    state: &AppState,
    visitor: &Visitor,
    stored: &StoredContract,
    what: &str,
    action: &str,
    consequence: Option<&str>,
) -> Html<String> {
    let frame = Frame::new(state, visitor);
    let doc = &stored.document;
    let meta = fresh_meta(visitor, stored);
    Html(
        layout::page(
            &frame,
            "Confirmer la suppression",
            &[(doc.contract.name.as_str(), format!("/contrats/{}", doc.contract.slug)), ("Suppression", String::new())],
            html! {
                h1 { "Supprimer " (what) " ?" }
                @if let Some(c) = consequence { (layout::notice("warning", c)) }
                p { "La suppression est enregistrée comme un avenant : l'historique garde la version antérieure." }
                form method="post" action=(action) {
                    input type="hidden" name="csrf" value=(meta.csrf);
                    input type="hidden" name="version" value=(meta.version);
                    (forms::meta_fields(&meta, &ValidationErrors::new()))
                    ul.fr-btns-group.fr-btns-group--inline-md {
                        li { button.fr-btn.fr-icon-delete-line.fr-btn--icon-left type="submit" { "Confirmer la suppression" } }
                        li { a.fr-btn.fr-btn--secondary href=(format!("/contrats/{}", doc.contract.slug)) { "Annuler" } }
                    }
                }
            },
        )
        .into_string(),
    )
}

/// GET /contrats/{slug}/cadre/{key}/supprimer
#[tracing::instrument(skip(state, visitor))]
pub async fn node_delete_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Html<String>> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let (n, _) = stored.document.find_node(&key).ok_or(Error::NotFound)?;
    let (level, title) = node_level(&stored.document, &key)?;
    let consequence = (!n.children.is_empty()).then(|| {
        format!(
            "Ses {} éléments rattachés seront supprimés avec lui.",
            n.children.len()
        )
    });
    Ok(confirm_page(
        &state,
        &visitor,
        &stored,
        &format!("{level} « {title} »"),
        &format!("/contrats/{slug}/cadre/{key}/supprimer"),
        consequence.as_deref(),
    ))
}

/// POST /contrats/{slug}/cadre/{key}/supprimer
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn node_delete(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, key)): Path<(String, String)>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let (_, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    let (level, title) = node_level(&stored.document, &key)?;
    submit(
        &state,
        &visitor,
        &stored,
        &meta,
        format!("Suppression — {level} « {title} »"),
        |d| edit::remove_node(d, &key),
    )
    .await?;
    Ok(Redirect::to(&format!("/contrats/{slug}#cadre")).into_response())
}

// ---- Lists of the contract ----

fn collection(name: &str) -> Result<Collection> {
    Collection::parse(name).ok_or(Error::NotFound)
}

/// Pages number items from 1.
fn index(raw: &str, doc: &ContractDocument, c: Collection) -> Result<(usize, serde_json::Value)> {
    let n: usize = raw.parse().map_err(|_| Error::NotFound)?;
    let i = n.checked_sub(1).ok_or(Error::NotFound)?;
    let item = edit::items(doc, c)
        .into_iter()
        .nth(i)
        .ok_or(Error::NotFound)?;
    Ok((i, item))
}

/// GET /contrats/{slug}/{collection}/nouveau
#[tracing::instrument(skip(state, visitor))]
pub async fn item_new_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, coll)): Path<(String, String)>,
) -> Result<Html<String>> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let c = collection(&coll)?;
    Ok(form_page(
        &state,
        &visitor,
        &stored,
        &format!("Ajouter : {}", c.singular()),
        &format!("/contrats/{slug}/{}/nouveau", c.slug()),
        c.fields(),
        &Form::new(),
        &fresh_meta(&visitor, &stored),
        &ValidationErrors::new(),
        None,
    ))
}

/// POST /contrats/{slug}/{collection}/nouveau
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn item_create(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, coll)): Path<(String, String)>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let c = collection(&coll)?;
    let (form, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    let r = match edit::from_form(c.fields(), &form, None) {
        Err(e) => Err(Error::Validation(e)),
        Ok(item) => {
            let summary = format!("Ajout — {} « {} »", c.singular(), c.item_label(&item));
            submit(&state, &visitor, &stored, &meta, summary, |d| {
                edit::insert_item(d, c, item)
            })
            .await
        }
    };
    outcome(
        r,
        &state,
        &visitor,
        &stored,
        &format!("Ajouter : {}", c.singular()),
        &format!("/contrats/{slug}/{}/nouveau", c.slug()),
        c.fields(),
        &form,
        &meta,
        format!("/contrats/{slug}#{}", c.slug()),
    )
}

/// GET /contrats/{slug}/{collection}/{index}/modifier
#[tracing::instrument(skip(state, visitor))]
pub async fn item_edit_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, coll, idx)): Path<(String, String, String)>,
) -> Result<Html<String>> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let c = collection(&coll)?;
    let (_, item) = index(&idx, &stored.document, c)?;
    let form = edit::to_form(c.fields(), &item);
    let title = format!("Modifier : {} « {} »", c.singular(), c.item_label(&item));
    Ok(form_page(
        &state,
        &visitor,
        &stored,
        &title,
        &format!("/contrats/{slug}/{}/{idx}/modifier", c.slug()),
        c.fields(),
        &form,
        &fresh_meta(&visitor, &stored),
        &ValidationErrors::new(),
        None,
    ))
}

/// POST /contrats/{slug}/{collection}/{index}/modifier
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn item_save(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, coll, idx)): Path<(String, String, String)>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let c = collection(&coll)?;
    let (i, current) = index(&idx, &stored.document, c)?;
    let (form, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    let title = format!("Modifier : {} « {} »", c.singular(), c.item_label(&current));
    let r = match edit::from_form(c.fields(), &form, Some(&current)) {
        Err(e) => Err(Error::Validation(e)),
        Ok(item) => {
            let summary = format!(
                "Modification — {} « {} »",
                c.singular(),
                c.item_label(&item)
            );
            submit(&state, &visitor, &stored, &meta, summary, |d| {
                edit::replace_item(d, c, i, item)
            })
            .await
        }
    };
    outcome(
        r,
        &state,
        &visitor,
        &stored,
        &title,
        &format!("/contrats/{slug}/{}/{idx}/modifier", c.slug()),
        c.fields(),
        &form,
        &meta,
        format!("/contrats/{slug}#{}", c.slug()),
    )
}

/// POST /contrats/{slug}/{collection}/{index}/deplacer
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn item_move(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, coll, idx)): Path<(String, String, String)>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let c = collection(&coll)?;
    let (i, item) = index(&idx, &stored.document, c)?;
    let (form, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    let up = direction(&form)?;
    submit(
        &state,
        &visitor,
        &stored,
        &meta,
        format!("Déplacement — {} « {} »", c.singular(), c.item_label(&item)),
        |d| edit::move_item(d, c, i, up),
    )
    .await?;
    Ok(Redirect::to(&format!("/contrats/{slug}#{}", c.slug())).into_response())
}

/// GET /contrats/{slug}/{collection}/{index}/supprimer
#[tracing::instrument(skip(state, visitor))]
pub async fn item_delete_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, coll, idx)): Path<(String, String, String)>,
) -> Result<Html<String>> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let c = collection(&coll)?;
    let (_, item) = index(&idx, &stored.document, c)?;
    Ok(confirm_page(
        &state,
        &visitor,
        &stored,
        &format!("{} « {} »", c.singular(), c.item_label(&item)),
        &format!("/contrats/{slug}/{}/{idx}/supprimer", c.slug()),
        None,
    ))
}

/// POST /contrats/{slug}/{collection}/{index}/supprimer
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn item_delete(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, coll, idx)): Path<(String, String, String)>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    let stored = load_for_edit(&state, &visitor, &slug).await?;
    let c = collection(&coll)?;
    let (i, item) = index(&idx, &stored.document, c)?;
    let (_, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    submit(
        &state,
        &visitor,
        &stored,
        &meta,
        format!(
            "Suppression — {} « {} »",
            crate::layout::capitalize(c.singular()),
            c.item_label(&item)
        ),
        |d| edit::remove_item(d, c, i),
    )
    .await?;
    Ok(Redirect::to(&format!("/contrats/{slug}#{}", c.slug())).into_response())
}

// ---- Whole contracts ----

fn import_page(
    state: &AppState,
    visitor: &Visitor,
    errors: &ValidationErrors,
    message: Option<&str>,
) -> Html<String> {
    let frame = Frame::new(state, visitor);
    Html(
        layout::page(
            &frame,
            "Importer un contrat",
            &[("Importer un contrat", String::new())],
            html! {
                h1 { "Importer un contrat" }
                p { "Déposez un fichier au format " a href="https://github.com/" { "quartiers-contrat" } " (JSON, version 1). Un fichier mal formé est refusé en entier, avec la ligne ou le chemin de chaque erreur." }
                @if let Some(m) = message { (layout::notice("error", m)) }
                (layout::file_errors(errors))
                form method="post" action="/contrats/nouveau" enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(visitor.csrf());
                    div.fr-upload-group {
                        label.fr-label for="fichier" { "Fichier du contrat" span.fr-hint-text { "Format JSON, 5 Mo au plus." } }
                        input.fr-upload #fichier type="file" name="fichier" accept=".json,application/json" required;
                    }
                    button.fr-btn.fr-mt-3w type="submit" { "Importer" }
                }
            },
        )
        .into_string(),
    )
}

/// GET /contrats/nouveau
#[tracing::instrument(skip_all)]
pub async fn import_form(State(state): State<AppState>, visitor: Visitor) -> Result<Html<String>> {
    visitor.require(Action::CreateContract)?;
    Ok(import_page(
        &state,
        &visitor,
        &ValidationErrors::new(),
        None,
    ))
}

/// POST /contrats/nouveau (multipart: csrf, fichier)
#[tracing::instrument(skip_all)]
pub async fn import(
    State(state): State<AppState>,
    visitor: Visitor,
    mut multipart: Multipart,
) -> Result<Response> {
    visitor.require(Action::CreateContract)?;
    let mut csrf = String::new();
    let mut content: Option<Vec<u8>> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|e| Error::BadRequest(format!("Envoi interrompu ou mal formé : {e}")))?
    {
        match field.name() {
            Some("csrf") => {
                csrf = field
                    .text()
                    .await
                    .map_err(|e| Error::BadRequest(e.to_string()))?
            }
            Some("fichier") => {
                content = Some(
                    field
                        .bytes()
                        .await
                        .map_err(|e| Error::BadRequest(format!("Fichier illisible : {e}")))?
                        .to_vec(),
                )
            }
            _ => {}
        }
    }
    visitor.check_csrf(&csrf)?;
    let bad = |m: &str| {
        Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            import_page(&state, &visitor, &ValidationErrors::new(), Some(m)),
        )
            .into_response())
    };
    let Some(bytes) = content.filter(|b| !b.is_empty()) else {
        return bad("Choisissez un fichier à importer.");
    };
    let Ok(text) = String::from_utf8(bytes) else {
        return bad("Le fichier n'est pas un texte UTF-8 : est-ce bien un fichier JSON ?");
    };
    let doc = match ContractDocument::from_json(&text) {
        Ok(d) => d,
        Err(errors) => {
            return Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                import_page(
                    &state,
                    &visitor,
                    &errors,
                    Some("Le fichier a été refusé en entier : rien n'a été importé."),
                ),
            )
                .into_response())
        }
    };
    match changes::import(&state, &visitor, &doc).await {
        Ok(_) => Ok(Redirect::to(&format!("/contrats/{}", doc.contract.slug)).into_response()),
        Err(Error::Conflict(m)) => Ok((
            StatusCode::CONFLICT,
            import_page(&state, &visitor, &ValidationErrors::new(), Some(&m)),
        )
            .into_response()),
        Err(e) => Err(e),
    }
}

/// GET /contrats/{slug}/supprimer
#[tracing::instrument(skip(state, visitor))]
pub async fn contract_delete_form(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> Result<Html<String>> {
    if visitor.principal().is_none() {
        return Err(Error::Unauthorized);
    }
    let stored = state.store.contract(&slug).await?;
    visitor.require(Action::DeleteContract(stored.id))?;
    let frame = Frame::new(&state, &visitor);
    let body: Markup = html! {
        h1 { "Supprimer le contrat « " (stored.document.contract.name) " » ?" }
        (layout::notice("warning", "Le contrat et tout son historique d'avenants seront effacés définitivement. Exportez-le d'abord si vous voulez le garder."))
        form method="post" action=(format!("/contrats/{slug}/supprimer")) {
            input type="hidden" name="csrf" value=(visitor.csrf());
            ul.fr-btns-group.fr-btns-group--inline-md {
                li { button.fr-btn type="submit" { "Supprimer définitivement" } }
                li { a.fr-btn.fr-btn--secondary href=(format!("/contrats/{slug}")) { "Annuler" } }
            }
        }
    };
    Ok(Html(
        layout::page(
            &frame,
            "Supprimer un contrat",
            &[(
                stored.document.contract.name.as_str(),
                format!("/contrats/{slug}"),
            )],
            body,
        )
        .into_string(),
    ))
}

/// POST /contrats/{slug}/supprimer
#[tracing::instrument(skip(state, visitor, pairs))]
pub async fn contract_delete(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    AxumForm(pairs): Pairs,
) -> Result<Response> {
    if visitor.principal().is_none() {
        return Err(Error::Unauthorized);
    }
    let stored = state.store.contract(&slug).await?;
    visitor.require(Action::DeleteContract(stored.id))?;
    let (_, meta) = forms::read(pairs);
    visitor.check_csrf(&meta.csrf)?;
    state.store.delete_contract(stored.id).await?;
    Ok(Redirect::to("/").into_response())
}
