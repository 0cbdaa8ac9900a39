//! Reading a contract: its page (current or as of a date), a framework node, a local volet,
//! the amendment history and what changed between two dates.

use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::layout::{self, or_unknown, paragraphs, Frame};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use quartiers_domain::diff::diff;
use quartiers_domain::edit::Collection;
use quartiers_domain::permissions::{allowed, Action};
use quartiers_domain::{parse_date, Contract, ContractDocument, FrameworkNode, InseeCode};

/// `?date=AAAA-MM-JJ`: show the contract as it stood then.
#[derive(Debug, serde::Deserialize, Default)]
pub struct AsOf {
    #[serde(default)]
    date: String,
}

/// Edit controls shown to those who may edit.
pub(crate) struct Controls<'a> {
    pub slug: &'a str,
    pub csrf: &'a str,
    pub version: i64,
}

pub(crate) fn move_buttons(action: &str, c: &Controls, label: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(c.csrf);
            input type="hidden" name="version" value=(c.version);
            button.fr-btn.fr-btn--tertiary-no-outline.fr-btn--sm.fr-icon-arrow-up-line name="direction" value="up" title=(format!("Monter « {label} »")) { "Monter" }
            button.fr-btn.fr-btn--tertiary-no-outline.fr-btn--sm.fr-icon-arrow-down-line name="direction" value="down" title=(format!("Descendre « {label} »")) { "Descendre" }
        }
    }
}

fn node_tree(
    contract: &Contract,
    nodes: &[FrameworkNode],
    depth: usize,
    slug: &str,
    controls: Option<&Controls>,
) -> Markup {
    html! {
        ul.q-tree {
            @for n in nodes {
                li {
                    span.fr-badge.fr-badge--sm.fr-badge--info.fr-mr-1w { (contract.level_label(depth).singular) }
                    a href=(format!("/contrats/{slug}/cadre/{}", n.key)) { (n.title) }
                    @if let Some(s) = &n.scope { " " span.q-muted.fr-text--sm { "(" (s) ")" } }
                    @if let Some(c) = controls {
                        span.q-actions {
                            a.fr-btn.fr-btn--tertiary-no-outline.fr-btn--sm.fr-icon-edit-line href=(format!("/contrats/{slug}/cadre/{}/modifier", n.key)) title=(format!("Modifier « {} »", n.title)) { "Modifier" }
                            (move_buttons(&format!("/contrats/{slug}/cadre/{}/deplacer", n.key), c, &n.title))
                            a.fr-btn.fr-btn--tertiary-no-outline.fr-btn--sm.fr-icon-add-line href=(format!("/contrats/{slug}/cadre/nouveau?parent={}", n.key)) { "Ajouter " (contract.level_label(depth + 1).singular) }
                            a.fr-btn.fr-btn--tertiary-no-outline.fr-btn--sm.fr-icon-delete-line href=(format!("/contrats/{slug}/cadre/{}/supprimer", n.key)) title=(format!("Supprimer « {} »", n.title)) { "Supprimer" }
                        }
                    }
                    @if !n.partners.is_empty() { p.fr-text--sm.fr-mb-0 { strong { "Partenaires : " } (n.partners.join(", ")) } }
                    @if !n.children.is_empty() { (node_tree(contract, &n.children, depth + 1, slug, controls)) }
                }
            }
        }
    }
}

fn collection_block(
    doc: &ContractDocument,
    coll: Collection,
    controls: Option<&Controls>,
    body: Markup,
) -> Markup {
    let slug = &doc.contract.slug;
    let items = quartiers_domain::edit::items(doc, coll);
    html! {
        section.fr-mb-6w id=(coll.slug()) {
            h2 { (coll.plural()) }
            (body)
            @if let Some(c) = controls {
                @if !items.is_empty() {
                    details.fr-mb-2w {
                        summary { "Modifier la liste « " (coll.plural()) " »" }
                        ul {
                            @for (i, item) in items.iter().enumerate() {
                                @let label = coll.item_label(item);
                                li {
                                    (label)
                                    span.q-actions {
                                        a.fr-btn.fr-btn--tertiary-no-outline.fr-btn--sm.fr-icon-edit-line href=(format!("/contrats/{slug}/{}/{}/modifier", coll.slug(), i + 1)) title=(format!("Modifier « {label} »")) { "Modifier" }
                                        (move_buttons(&format!("/contrats/{slug}/{}/{}/deplacer", coll.slug(), i + 1), c, &label))
                                        a.fr-btn.fr-btn--tertiary-no-outline.fr-btn--sm.fr-icon-delete-line href=(format!("/contrats/{slug}/{}/{}/supprimer", coll.slug(), i + 1)) title=(format!("Supprimer « {label} »")) { "Supprimer" }
                                    }
                                }
                            }
                        }
                    }
                }
                a.fr-btn.fr-btn--secondary.fr-btn--sm.fr-icon-add-line.fr-btn--icon-left href=(format!("/contrats/{slug}/{}/nouveau", coll.slug())) { "Ajouter : " (coll.singular()) }
            }
        }
    }
}

fn commune_name(c: &Contract, insee: &InseeCode) -> String {
    c.territory
        .communes
        .iter()
        .find(|x| &x.insee == insee)
        .map(|x| x.name.clone())
        .unwrap_or_else(|| insee.to_string())
}

/// Renders a whole contract document.
pub(crate) fn contract_body(doc: &ContractDocument, controls: Option<&Controls>) -> Markup {
    let c = &doc.contract;
    let slug = &c.slug;
    let counts = c.nodes_per_level();
    html! {
        div.fr-grid-row.fr-grid-row--gutters.fr-mb-4w {
            div.fr-col-12.fr-col-md-8 {
                @if let Some(s) = &c.summary { (paragraphs(s)) }
                dl {
                    dt { strong { "Pilote" } } dd { (c.territory.pilot_name) @if let Some(s) = &c.territory.pilot_siren { " (SIREN " (s) ")" } }
                    dt { strong { "Période" } } dd { (c.period) }
                    dt { strong { "Signature" } } dd { (or_unknown(c.signed_on.map(|d| layout::french_date(&d.to_string())).as_deref())) }
                    dt { strong { "Communes" } } dd {
                        @if c.territory.communes.is_empty() { (or_unknown(None)) }
                        @else { (c.territory.communes.iter().map(|x| x.name.as_str()).collect::<Vec<_>>().join(", ")) " (" (c.territory.communes.len()) ")" }
                    }
                }
                @if let Some(ctl) = controls {
                    a.fr-btn.fr-btn--secondary.fr-btn--sm.fr-icon-edit-line.fr-btn--icon-left href=(format!("/contrats/{}/modifier", ctl.slug)) { "Modifier les informations générales" }
                }
            }
        }
        @let components_body = html! {
            @if c.components.is_empty() { p { (or_unknown(None)) } }
            div.fr-grid-row.fr-grid-row--gutters {
                @for comp in &c.components {
                    div.fr-col-12.fr-col-md-6 {
                        div.fr-tile {
                            div.fr-tile__body {
                                h3.fr-tile__title { (comp.name) }
                                p.fr-tile__desc { (comp.period) " · budget annuel : " (or_unknown(comp.annual_budget_cents.map(|b| b.to_string()).as_deref())) }
                                @if let Some(d) = &comp.description { p.fr-text--sm { (d) } }
                            }
                        }
                    }
                }
            }
        };
        (collection_block(doc, Collection::Components, controls, components_body))
        @let figures_body = html! {
            div.fr-grid-row.fr-grid-row--gutters {
                @for k in &c.key_figures {
                    div.fr-col-6.fr-col-md-3 {
                        p.fr-h3.fr-mb-0 { (k.value) }
                        p.fr-text--sm { (k.label) @if let Some(y) = k.year { " (" (y) ")" } }
                    }
                }
            }
        };
        (collection_block(doc, Collection::KeyFigures, controls, figures_body))
        section.fr-mb-6w #cadre {
            h2 { "Cadre stratégique" }
            p {
                @for (depth, level) in c.levels.iter().enumerate() {
                    span.fr-tag.fr-mr-1w {
                        (counts.get(depth).copied().unwrap_or(0)) " " (level.plural)
                        @if let Some(n) = level.declared_count { " (le contrat en annonce " (n) ")" }
                    }
                }
            }
            @if c.framework.is_empty() { p.q-unknown { "Les intitulés du cadre stratégique ne sont pas renseignés." } }
            (node_tree(c, &c.framework, 0, slug, controls))
            @if controls.is_some() {
                a.fr-btn.fr-btn--secondary.fr-btn--sm.fr-icon-add-line.fr-btn--icon-left href=(format!("/contrats/{slug}/cadre/nouveau")) { "Ajouter : " (c.level_label(0).singular) }
            }
        }
        @let axes_body = html! {
            @for a in &c.cross_cutting_axes {
                h3.fr-h6 { (or_unknown(a.title.as_deref())) }
                @if let Some(d) = &a.description { (paragraphs(d)) }
                @if !a.nodes.is_empty() {
                    p.fr-text--sm { "Traverse : " (a.nodes.iter().filter_map(|k| doc.find_node(k).map(|(n, _)| n.title.clone())).collect::<Vec<_>>().join(" ; ")) }
                }
            }
        };
        (collection_block(doc, Collection::Axes, controls, axes_body))
        @let actions_body = html! {
            div.fr-grid-row.fr-grid-row--gutters {
                @for f in &c.flagship_actions {
                    div.fr-col-12.fr-col-md-6 {
                        div.fr-callout {
                            h3.fr-callout__title { (f.title) }
                            p.fr-text--sm { "Porteur : " (or_unknown(f.carrier.as_deref())) }
                            @if let Some(d) = &f.description { p.fr-callout__text.fr-text--sm { (d) } }
                            @if let Some((n, depth)) = f.node.as_deref().and_then(|k| doc.find_node(k)) {
                                p.fr-text--sm { (crate::layout::capitalize(&c.level_label(depth).singular)) " : " a href=(format!("/contrats/{slug}/cadre/{}", n.key)) { (n.title) } }
                            }
                        }
                    }
                }
            }
        };
        (collection_block(doc, Collection::FlagshipActions, controls, actions_body))
        @let signatories_body = html! {
            ul { @for s in &c.signatories { li { (s.institution) @if let Some(r) = &s.represented_by { ", représenté par " (r) } } } }
        };
        (collection_block(doc, Collection::Signatories, controls, signatories_body))
        @let qpv_body = html! {
            @if !c.qpvs.is_empty() {
                div.fr-table { table {
                    thead { tr { th scope="col" { "Code" } th scope="col" { "Quartier" } th scope="col" { "Communes" } } }
                    tbody { @for q in &c.qpvs { tr {
                        td { (or_unknown(q.code.as_ref().map(|x| x.as_str()))) }
                        td { (or_unknown(q.name.as_deref())) }
                        td { (q.communes.iter().map(|i| commune_name(c, i)).collect::<Vec<_>>().join(", ")) }
                    } } }
                } }
            }
        };
        (collection_block(doc, Collection::Qpvs, controls, qpv_body))
        @let sites_body = html! {
            ul { @for s in &c.renewal_sites { li { (or_unknown(s.name.as_deref())) " — " (s.communes.iter().map(|i| commune_name(c, i)).collect::<Vec<_>>().join(", ")) } } }
        };
        (collection_block(doc, Collection::RenewalSites, controls, sites_body))
        @let volets_body = html! {
            @if c.local_volets.is_empty() { p.q-muted { "Aucun volet local n'est encore annexé." } }
            ul { @for v in &c.local_volets { li { a href=(format!("/contrats/{slug}/volet-local/{}", v.commune)) { (commune_name(c, &v.commune)) " — " (v.title) } } } }
        };
        (collection_block(doc, Collection::LocalVolets, controls, volets_body))
        @let sections_body = html! {
            @for s in &c.sections {
                div.fr-mb-3w {
                    p.fr-badge.fr-badge--sm { (s.kind.label()) }
                    h3.fr-h5 { (s.title) }
                    @if let Some(b) = &s.body { (paragraphs(b)) }
                    @if !s.items.is_empty() { ul { @for it in &s.items { li { (it) } } } }
                    @if !s.figures.is_empty() { ul { @for f in &s.figures { li { strong { (f.value) } " " (f.label) } } } }
                }
            }
        };
        (collection_block(doc, Collection::Sections, controls, sections_body))
        @if !c.sources.is_empty() {
            section.fr-mb-4w { h2.fr-h6 { "Sources" } ul.fr-text--sm { @for s in &c.sources { li { (s) } } } }
        }
    }
}

/// GET /contrats/{slug}
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(q): Query<AsOf>,
) -> Result<Html<String>> {
    let stored = state.store.contract(&slug).await?;
    let frame = Frame::new(&state, &visitor);
    let as_of = if q.date.trim().is_empty() {
        None
    } else {
        Some(parse_date(&q.date).map_err(Error::BadRequest)?)
    };
    let (doc, banner) = match as_of {
        None => (stored.document.clone(), None),
        Some(d) => match state.store.contract_as_of(stored.id, d).await? {
            Some(doc) => (
                doc,
                Some(format!(
                    "Version du contrat telle qu'elle s'appliquait le {}.",
                    layout::french_date(&d.to_string())
                )),
            ),
            None => {
                return Err(Error::BadRequest(format!(
                    "Le contrat n'existait pas encore sur la plateforme le {}.",
                    layout::french_date(&d.to_string())
                )))
            }
        },
    };
    let can_edit = as_of.is_none() && allowed(visitor.principal(), Action::EditContract(stored.id));
    let controls = can_edit.then(|| Controls {
        slug: &slug,
        csrf: visitor.csrf(),
        version: stored.version,
    });
    let title = doc.contract.name.clone();
    Ok(Html(
        layout::page(
            &frame,
            &title,
            &[(title.as_str(), format!("/contrats/{slug}"))],
            html! {
                h1 { (title) }
                @if let Some(b) = &banner { (layout::notice("info", b)) }
                form.fr-mb-4w method="get" action=(format!("/contrats/{slug}")) {
                    div.fr-grid-row.fr-grid-row--gutters {
                        div.fr-col-12.fr-col-md-4 { div.fr-input-group {
                            label.fr-label for="date" { "Afficher le contrat tel qu'il était le" }
                            input.fr-input #date type="date" name="date" value=(q.date);
                        } }
                        div.fr-col-12.fr-col-md-8 {
                            ul.fr-btns-group.fr-btns-group--inline-md.fr-mt-4w {
                                li { button.fr-btn.fr-btn--secondary type="submit" { "Afficher" } }
                                li { a.fr-btn.fr-btn--tertiary href=(format!("/contrats/{slug}/avenants")) { "Historique des avenants" } }
                                li { a.fr-btn.fr-btn--tertiary href=(format!("/contrats/{slug}/export.json")) { "Exporter (JSON)" } }
                                li { a.fr-btn.fr-btn--tertiary href=(format!("/contrats/{slug}/carte")) { "Carte des quartiers" } }
                            }
                        }
                    }
                }
                (contract_body(&doc, controls.as_ref()))
                @if allowed(visitor.principal(), Action::DeleteContract(stored.id)) {
                    a.fr-btn.fr-btn--tertiary.fr-icon-delete-line.fr-btn--icon-left href=(format!("/contrats/{slug}/supprimer")) { "Supprimer ce contrat" }
                }
            },
        )
        .into_string(),
    ))
}

/// GET /contrats/{slug}/export.json
#[tracing::instrument(skip(state))]
pub async fn export(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Response> {
    let stored = state.store.contract(&slug).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/json; charset=utf-8".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{slug}.json\""),
            ),
        ],
        stored.document.to_json(),
    )
        .into_response())
}

/// GET /contrats/{slug}/cadre/{key}
#[tracing::instrument(skip(state, visitor))]
pub async fn node(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, key)): Path<(String, String)>,
) -> Result<Html<String>> {
    let stored = state.store.contract(&slug).await?;
    let doc = &stored.document;
    let (n, depth) = doc.find_node(&key).ok_or(Error::NotFound)?;
    let c = &doc.contract;
    let level = crate::layout::capitalize(&c.level_label(depth).singular);
    let frame = Frame::new(&state, &visitor);
    let can_edit = allowed(visitor.principal(), Action::EditContract(stored.id));
    let actions: Vec<_> = c
        .flagship_actions
        .iter()
        .filter(|f| f.node.as_deref() == Some(key.as_str()))
        .collect();
    let axes: Vec<_> = c
        .cross_cutting_axes
        .iter()
        .filter(|a| a.nodes.contains(&key))
        .collect();
    Ok(Html(
        layout::page(
            &frame,
            &n.title,
            &[(c.name.as_str(), format!("/contrats/{slug}")), (n.title.as_str(), String::new())],
            html! {
                p.fr-badge.fr-badge--info { (level) }
                h1 { (n.title) }
                @if let Some(s) = &n.scope { p.fr-text--lead { (s) } }
                @if let Some(d) = &n.description { (paragraphs(d)) }
                h2.fr-h5 { "Partenaires" }
                @if n.partners.is_empty() { p { (or_unknown(None)) } } @else { ul { @for p in &n.partners { li { (p) } } } }
                @if !n.children.is_empty() {
                    h2.fr-h5 { (crate::layout::capitalize(&c.level_label(depth + 1).plural)) }
                    ol { @for ch in &n.children { li { a href=(format!("/contrats/{slug}/cadre/{}", ch.key)) { (ch.title) } @if let Some(s) = &ch.scope { " " span.q-muted { "(" (s) ")" } } } } }
                }
                @if !actions.is_empty() {
                    h2.fr-h5 { "Zoom sur l'action" }
                    @for f in &actions { div.fr-callout { h3.fr-callout__title { (f.title) } @if let Some(d) = &f.description { p.fr-callout__text { (d) } } } }
                }
                @if !axes.is_empty() {
                    h2.fr-h5 { "Axes transversaux" }
                    ul { @for a in &axes { li { (or_unknown(a.title.as_deref())) } } }
                }
                @if can_edit {
                    ul.fr-btns-group.fr-btns-group--inline-md {
                        li { a.fr-btn.fr-icon-edit-line.fr-btn--icon-left href=(format!("/contrats/{slug}/cadre/{key}/modifier")) { "Modifier" } }
                        li { a.fr-btn.fr-btn--secondary href=(format!("/contrats/{slug}/cadre/nouveau?parent={key}")) { "Ajouter : " (c.level_label(depth + 1).singular) } }
                    }
                }
            },
        )
        .into_string(),
    ))
}

/// GET /contrats/{slug}/volets-locaux/{insee}
#[tracing::instrument(skip(state, visitor))]
pub async fn local_volet(
    State(state): State<AppState>,
    visitor: Visitor,
    Path((slug, insee)): Path<(String, String)>,
) -> Result<Html<String>> {
    let stored = state.store.contract(&slug).await?;
    let c = &stored.document.contract;
    let code = InseeCode::parse(&insee).map_err(|_| Error::NotFound)?;
    let v = c
        .local_volets
        .iter()
        .find(|v| v.commune == code)
        .ok_or(Error::NotFound)?;
    let commune = commune_name(c, &code);
    let frame = Frame::new(&state, &visitor);
    Ok(Html(
        layout::page(
            &frame,
            &v.title,
            &[(c.name.as_str(), format!("/contrats/{slug}")), (commune.as_str(), String::new())],
            html! {
                p.fr-badge { "Volet local — " (commune) " (" (code) ")" }
                h1 { (v.title) }
                p { "Délibération : " (or_unknown(v.adopted_on.map(|d| layout::french_date(&d.to_string())).as_deref())) }
                @match &v.body { Some(b) => (paragraphs(b)), None => p { (or_unknown(None)) } }
            },
        )
        .into_string(),
    ))
}

/// `?du=&au=` on the history page.
#[derive(Debug, serde::Deserialize, Default)]
pub struct Range {
    #[serde(default)]
    du: String,
    #[serde(default)]
    au: String,
}

fn change_table(changes: &[quartiers_domain::diff::Change]) -> Markup {
    html! {
        div.fr-table.fr-table--sm { table {
            caption.fr-sr-only { "Modifications" }
            thead { tr { th scope="col" { "Élément" } th scope="col" { "Champ" } th scope="col" { "Avant" } th scope="col" { "Après" } } }
            tbody { @for ch in changes { tr {
                td { (ch.element) } td { (ch.field) }
                td { @if let Some(b) = &ch.before { span.q-change-before { (b) } } @else { span.q-muted { "—" } } }
                td { @if let Some(a) = &ch.after { span.q-change-after { (a) } } @else { span.q-muted { "(supprimé)" } } }
            } } }
        } }
    }
}

/// GET /contrats/{slug}/avenants
#[tracing::instrument(skip(state, visitor))]
pub async fn amendments(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(r): Query<Range>,
) -> Result<Html<String>> {
    let stored = state.store.contract(&slug).await?;
    let c = &stored.document.contract;
    let frame = Frame::new(&state, &visitor);
    let mut errors = quartiers_domain::ValidationErrors::new();
    let from = (!r.du.trim().is_empty())
        .then(|| errors.check("du", parse_date(&r.du)))
        .flatten();
    let to = (!r.au.trim().is_empty())
        .then(|| errors.check("au", parse_date(&r.au)))
        .flatten();
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            errors.add("au", "La date de fin précède la date de début.");
        }
    }
    let comparison = match (from, to) {
        (Some(f), Some(t)) if errors.is_empty() => {
            let before = state.store.contract_as_of(stored.id, f).await?;
            let after = state.store.contract_as_of(stored.id, t).await?;
            Some((
                state.store.amendments_between(stored.id, f, t).await?,
                diff(before.as_ref(), after.as_ref()),
            ))
        }
        _ => None,
    };
    let all = state.store.amendments(stored.id).await?;
    Ok(Html(
        layout::page(
            &frame,
            "Historique des avenants",
            &[(c.name.as_str(), format!("/contrats/{slug}")), ("Avenants", String::new())],
            html! {
                h1 { "Historique des avenants" }
                p { "Chaque modification du contrat est conservée avec sa date d'effet. Le contrat peut être affiché tel qu'il était à n'importe quelle date." }
                (layout::error_summary(&errors))
                form.fr-mb-4w method="get" {
                    fieldset.fr-fieldset {
                        legend.fr-fieldset__legend { "Ce qui a changé entre deux dates" }
                        div.fr-fieldset__element.fr-fieldset__element--inline { div.fr-input-group {
                            label.fr-label for="du" { "Du" } input.fr-input #du type="date" name="du" value=(r.du);
                        } }
                        div.fr-fieldset__element.fr-fieldset__element--inline { div.fr-input-group {
                            label.fr-label for="au" { "Au" } input.fr-input #au type="date" name="au" value=(r.au);
                        } }
                        div.fr-fieldset__element.fr-fieldset__element--inline { button.fr-btn.fr-btn--secondary type="submit" { "Comparer" } }
                    }
                }
                @if let Some((list, changes)) = &comparison {
                    h2 { (list.len()) " avenant(s) entre le " (layout::french_date(&r.du)) " et le " (layout::french_date(&r.au)) }
                    @if changes.is_empty() { p { "Aucune différence entre ces deux dates." } } @else { (change_table(changes)) }
                }
                h2 { "Tous les avenants" }
                @for a in &all {
                    div.fr-card.fr-mb-2w { div.fr-card__body { div.fr-card__content {
                        h3.fr-card__title { (a.summary) }
                        p.fr-card__desc {
                            "Effet le " (layout::french_date(&a.effective_on)) " · enregistré par " (crate::changes::shown_author(&a.author_label, &visitor)) " le " (layout::french_date(&a.recorded_at))
                            @if let Some(reason) = &a.reason { " · motif : " (reason) }
                        }
                        p.fr-card__detail {
                            a href=(format!("/contrats/{slug}?date={}", a.effective_on)) { "Voir le contrat à cette date" }
                        }
                        @if a.changes.len() <= 40 { details { summary { (a.changes.len()) " modification(s)" } (change_table(&a.changes)) } }
                        @else { p.fr-text--sm { (a.changes.len()) " éléments" } }
                    } } }
                }
            },
        )
        .into_string(),
    ))
}
