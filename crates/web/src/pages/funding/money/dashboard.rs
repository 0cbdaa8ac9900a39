//! Following the money: the dashboard of a contract for its pilots (everything) and its
//! financers (their own lines only), its XLSX export, and the granted subsidies as open data
//! (SCDL « subventions »), public for the years whose programme the pilot published.

use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::funding::export::{funding_xlsx, scdl_bytes, scdl_subsidies, Labels};
use crate::funding::{euros, signed_in};
use crate::layout::{self, french_date, Frame};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup};
use quartiers_store::contracts::StoredContract;
use quartiers_store::funding::committee::EnvelopeUse;
use quartiers_store::funding::dashboards::{DashboardFilter, Dimension, Totals};

/// `?annee=&financeur=&par=` of the dashboard and its exports.
#[derive(Debug, Default, serde::Deserialize)]
pub struct DashboardQuery {
    /// Programme year (empty: every year).
    #[serde(default)]
    pub annee: Option<String>,
    /// Financer code (empty: every financer the visitor may see).
    #[serde(default)]
    pub financeur: Option<String>,
    /// Dimension code (`annee`, `composante`, `financeur`, `structure`, `cadre`, `qpv`, `commune`, `statut`).
    #[serde(default)]
    pub par: Option<String>,
}

fn non_empty(s: &Option<String>) -> Option<String> {
    s.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn parse_year(q: &DashboardQuery) -> Result<Option<i64>> {
    match non_empty(&q.annee) {
        None => Ok(None),
        Some(y) => match y.parse::<i64>() {
            Ok(v) if (2000..=2100).contains(&v) => Ok(Some(v)),
            _ => Err(Error::BadRequest(format!(
                "« {y} » n'est pas une année (exemple : 2026)."
            ))),
        },
    }
}

fn parse_dimension(q: &DashboardQuery) -> Result<Dimension> {
    match non_empty(&q.par) {
        None => Ok(Dimension::Financeur),
        Some(d) => Dimension::parse(&d).ok_or_else(|| {
            Error::BadRequest(format!(
                "« {d} » n'est pas un regroupement du tableau de bord : {}.",
                Dimension::ALL
                    .iter()
                    .map(|d| d.code())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }),
    }
}

/// Who looks at the dashboard, and what they may see of it.
struct Access {
    contract: StoredContract,
    pilot: bool,
    /// The financer codes the visitor acts for on the contract.
    own: Vec<String>,
    filter: DashboardFilter,
}

/// The dashboard's access rule: 401 anonymous; pilots see every line (filtered as asked);
/// financers see their own lines only (403 when they ask for another financer's); others 403.
async fn access(
    state: &AppState,
    visitor: &Visitor,
    slug: &str,
    q: &DashboardQuery,
) -> Result<Access> {
    let principal = signed_in(visitor)?;
    let contract = state.store.contract(slug).await?;
    let pilot = principal.steers(contract.id);
    let own: Vec<String> = principal
        .funder_codes(contract.id)
        .into_iter()
        .map(str::to_string)
        .collect();
    if !pilot && own.is_empty() {
        return Err(Error::Forbidden);
    }
    let asked = non_empty(&q.financeur);
    let funder = if pilot {
        asked
    } else {
        match asked {
            Some(f) if own.contains(&f) => Some(f),
            Some(_) => return Err(Error::Forbidden),
            None => own.first().cloned(),
        }
    };
    let filter = DashboardFilter {
        year: parse_year(q)?,
        funder,
    };
    Ok(Access {
        contract,
        pilot,
        own,
        filter,
    })
}

fn query_string(f: &DashboardFilter, dim: Option<Dimension>) -> String {
    let mut parts = Vec::new();
    if let Some(y) = f.year {
        parts.push(format!("annee={y}"));
    }
    if let Some(x) = &f.funder {
        parts.push(format!(
            "financeur={}",
            x.replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-'), "")
        ));
    }
    if let Some(d) = dim {
        parts.push(format!("par={}", d.code()));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

fn amount_cells(t: &Totals) -> Markup {
    html! {
        td { (t.actions) }
        td { (euros(t.requested)) }
        td { (euros(t.proposed)) }
        td { (euros(t.decided)) }
        td { (euros(t.agreed)) }
        td { (euros(t.paid)) }
    }
}

fn envelope_table(uses: &[(i64, String, Vec<EnvelopeUse>)], labels: &Labels) -> Markup {
    html! {
        @if uses.iter().all(|(_, _, u)| u.is_empty()) {
            p { "Aucune enveloppe n'est définie pour les appels à projets affichés." }
        } @else {
            div.fr-table { table {
                caption { "Consommation des enveloppes" }
                thead { tr {
                    th scope="col" { "Année" } th scope="col" { "Financeur" } th scope="col" { "Composante" }
                    th scope="col" { "Enveloppe" } th scope="col" { "Accordé" } th scope="col" { "Reste" } th scope="col" { "Consommé" }
                } }
                tbody {
                    @for (year, _, list) in uses { @for u in list { tr {
                        td { (year) }
                        td { (labels.funder(&u.funder)) }
                        td { (u.component) }
                        td { (euros(u.envelope)) }
                        td { (euros(u.granted)) }
                        td { (euros(u.remaining)) }
                        td {
                            @if u.envelope > 0 {
                                @let pct = u.granted * 100 / u.envelope;
                                @if u.granted > u.envelope { span.fr-badge.fr-badge--error.fr-badge--sm { (pct) " % — dépassée" } }
                                @else { (pct) " %" }
                            } @else { "—" }
                        }
                    } } }
                }
            } }
        }
    }
}

/// GET /contrats/{slug}/financements — amounts requested, proposed, decided, agreed and paid,
/// grouped by the chosen dimension, with the grand total, envelope consumption per call and
/// the overdue reports.
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> Result<Html<String>> {
    let Access {
        contract,
        pilot,
        own,
        filter,
    } = access(&state, &visitor, &slug, &q).await?;
    let dim = parse_dimension(&q)?;
    let store = &state.store;
    let funders = store.funders(contract.id).await?;
    let labels = Labels::new(&contract.document, &funders);
    let totals = store.totals(contract.id, dim, &filter).await?;
    let grand = store.grand_total(contract.id, &filter).await?;
    let calls = store.calls(contract.id).await?;
    let mut uses = Vec::new();
    for c in calls
        .iter()
        .filter(|c| filter.year.is_none_or(|y| y == i64::from(c.settings.year)))
    {
        let mut u = store.envelope_use(c.id).await?;
        if let Some(f) = &filter.funder {
            u.retain(|e| &e.funder == f);
        }
        uses.push((i64::from(c.settings.year), c.settings.title.clone(), u));
    }
    let mut overdue = store.overdue_reports(Some(contract.id)).await?;
    if !pilot {
        let mut mine = Vec::new();
        for o in overdue.into_iter().take(500) {
            let scope = store.application_scope(o.application_id).await?;
            if scope.funders.iter().any(|f| own.contains(f)) {
                mine.push(o);
            }
        }
        overdue = mine;
    }
    let no_siret: Vec<&str> = funders
        .iter()
        .filter(|f| f.siret.as_deref().is_none_or(|s| s.trim().is_empty()))
        .map(|f| f.name.as_str())
        .collect();
    let name = &contract.document.contract.name;
    let years: Vec<i32> = calls.iter().map(|c| c.settings.year).collect();
    let funder_choices: Vec<(String, String)> = funders
        .iter()
        .filter(|f| pilot || own.contains(&f.code))
        .map(|f| (f.code.clone(), f.name.clone()))
        .collect();
    let named = Labels::named(dim);
    let title = "Suivi des financements";
    let body = html! {
        h1 { (title) }
        p.fr-text--lead { (name) @if let Some(f) = &filter.funder { " — " (labels.funder(f)) } @if let Some(y) = filter.year { " — " (y) } }
        form.fr-mb-3w method="get" action=(format!("/contrats/{slug}/financements")) {
            input type="hidden" name="par" value=(dim.code());
            div.fr-grid-row.fr-grid-row--gutters {
                div.fr-col-12.fr-col-md-4 { div.fr-select-group {
                    label.fr-label for="f-annee" { "Année" }
                    select.fr-select #f-annee name="annee" {
                        option value="" { "Toutes les années" }
                        @for y in &years { option value=(y) selected[filter.year == Some(i64::from(*y))] { (y) } }
                    }
                } }
                div.fr-col-12.fr-col-md-4 { div.fr-select-group {
                    label.fr-label for="f-financeur" { "Financeur" }
                    select.fr-select #f-financeur name="financeur" {
                        @if pilot { option value="" { "Tous les financeurs" } }
                        @for (code, n) in &funder_choices { option value=(code) selected[filter.funder.as_deref() == Some(code.as_str())] { (n) } }
                    }
                } }
                div.fr-col-12.fr-col-md-4 { button.fr-btn.fr-mt-4w type="submit" { "Afficher" } }
            }
        }
        nav aria-label="Regroupement" {
            ul.fr-tags-group {
                @for d in Dimension::ALL {
                    li {
                        @if d == dim { a.fr-tag aria-current="page" href=(format!("/contrats/{slug}/financements{}", query_string(&filter, Some(d)))) { strong { (d.label()) } } }
                        @else { a.fr-tag href=(format!("/contrats/{slug}/financements{}", query_string(&filter, Some(d)))) { (d.label()) } }
                    }
                }
            }
        }
        div.fr-table #totaux { table {
            caption { "Montants par " (dim.label().to_lowercase()) }
            thead { tr {
                th scope="col" { (dim.label()) }
                @if named { th scope="col" { "Libellé" } }
                th scope="col" { "Actions" } th scope="col" { "Demandé" } th scope="col" { "Proposé" }
                th scope="col" { "Accordé" } th scope="col" { "Conventionné" } th scope="col" { "Payé" }
            } }
            tbody {
                @for t in &totals { tr {
                    td { (if t.key.is_empty() { "—".to_string() } else { t.key.clone() }) }
                    @if named { td { (labels.of(dim, &t.key)) } }
                    (amount_cells(t))
                } }
                tr.q-total {
                    th scope="row" { "Total général" }
                    @if named { td {} }
                    (amount_cells(&grand))
                }
            }
        } }
        @if matches!(dim, Dimension::Cadre | Dimension::Qpv | Dimension::Commune) {
            p.fr-text--sm { "Une action qui sert plusieurs orientations ou quartiers compte dans chacun : le total général la compte une seule fois." }
        }
        h2 { "Exports" }
        ul {
            li { a href=(format!("/contrats/{slug}/financements.xlsx{}", query_string(&filter, None))) { "Tableau de bord complet (XLSX)" } " : lignes de financement, totaux par regroupement, enveloppes." }
            li { a href=(format!("/contrats/{slug}/subventions.csv{}", query_string(&filter, None))) { "Subventions accordées en données ouvertes (CSV, schéma SCDL « subventions »)" } }
        }
        @if pilot && !no_siret.is_empty() {
            (layout::notice("warning", &format!("Sans SIRET, les subventions de ces financeurs ne peuvent pas figurer dans les données ouvertes : {}.", no_siret.join(", "))))
        }
        h2 { "Enveloppes" }
        (envelope_table(&uses, &labels))
        h2 { "Bilans en retard" }
        @if overdue.is_empty() {
            p { "Aucun bilan en retard." }
        } @else {
            div.fr-table { table {
                caption { (overdue.len()) " bilan(s) en retard" }
                thead { tr { th scope="col" { "Dossier" } th scope="col" { "Structure" } th scope="col" { "Attendu le" } } }
                tbody { @for o in &overdue { tr {
                    td { a href=(format!("/dossiers/{}", o.application_id)) { (o.reference) } }
                    td { (o.organisation) }
                    td { (french_date(&o.due_on)) }
                } } }
            } }
        }
        h2 { "Programmes" }
        @if calls.is_empty() { p { "Aucun appel à projets." } }
        ul { @for c in &calls {
            li {
                a href=(format!("/contrats/{slug}/programme/{}", c.settings.year)) { "Programme " (c.settings.year) }
                @match &c.published_at {
                    Some(at) => { " — " span.fr-badge.fr-badge--success.fr-badge--sm { "publié le " (french_date(at.get(..10).unwrap_or(at))) } }
                    None => { " — " span.fr-badge.fr-badge--sm { "non publié" } }
                }
            }
        } }
    };
    let frame = Frame::new(&state, &visitor);
    Ok(Html(
        layout::page(
            &frame,
            title,
            &[
                (name.as_str(), format!("/contrats/{slug}")),
                (title, String::new()),
            ],
            body,
        )
        .into_string(),
    ))
}

fn attachment(content_type: &str, file_name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

fn file_suffix(f: &DashboardFilter) -> String {
    let mut s = String::new();
    if let Some(y) = f.year {
        s.push_str(&format!("-{y}"));
    }
    if let Some(x) = &f.funder {
        s.push('-');
        s.push_str(&x.replace(|c: char| !(c.is_ascii_alphanumeric() || c == '-'), ""));
    }
    s
}

/// GET /contrats/{slug}/financements.xlsx — the dashboard as a workbook (same access).
#[tracing::instrument(skip(state, visitor))]
pub async fn xlsx(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> Result<Response> {
    let Access {
        contract, filter, ..
    } = access(&state, &visitor, &slug, &q).await?;
    let bytes = funding_xlsx(&state.store, contract.id, &filter).await?;
    Ok(attachment(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        &format!(
            "financements-{}{}.xlsx",
            contract.document.contract.slug,
            file_suffix(&filter)
        ),
        bytes,
    ))
}

/// GET /contrats/{slug}/subventions.csv — the granted subsidies in the SCDL « subventions »
/// schema. Pilots get every year; a financer its own lines; everyone else (anonymous
/// included) the years whose programme is published, and 404 while none is.
#[tracing::instrument(skip(state, visitor))]
pub async fn scdl(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
    Query(q): Query<DashboardQuery>,
) -> Result<Response> {
    let contract = state.store.contract(&slug).await?;
    let year = parse_year(&q)?;
    let asked = non_empty(&q.financeur);
    let principal = visitor.principal();
    let pilot = principal.is_some_and(|p| p.steers(contract.id));
    let own: Vec<String> = principal
        .map(|p| {
            p.funder_codes(contract.id)
                .into_iter()
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let mut filters = Vec::new();
    if pilot {
        filters.push(DashboardFilter {
            year,
            funder: asked.clone(),
        });
    } else if !own.is_empty() && asked.as_ref().is_none_or(|a| own.contains(a)) {
        filters.push(DashboardFilter {
            year,
            funder: asked.clone().or_else(|| own.first().cloned()),
        });
    } else {
        let published: Vec<i64> = state
            .store
            .calls(contract.id)
            .await?
            .iter()
            .filter(|c| c.published_at.is_some())
            .map(|c| i64::from(c.settings.year))
            .filter(|y| year.is_none_or(|x| x == *y))
            .collect();
        if published.is_empty() {
            return Err(Error::NotFound);
        }
        let mut sorted = published;
        sorted.sort_unstable();
        for y in sorted {
            filters.push(DashboardFilter {
                year: Some(y),
                funder: asked.clone(),
            });
        }
    }
    let mut rows = Vec::new();
    for f in &filters {
        rows.extend(scdl_subsidies(&state.store, contract.id, f).await?.0);
    }
    let bytes = scdl_bytes(&rows)?;
    let suffix = if filters.len() == 1 {
        file_suffix(&filters[0])
    } else {
        String::new()
    };
    Ok(attachment(
        "text/csv; charset=utf-8",
        &format!(
            "subventions-{}{suffix}.csv",
            contract.document.contract.slug
        ),
        bytes,
    ))
}
