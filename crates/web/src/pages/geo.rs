//! Priority geography pages: "Suis-je dans un quartier prioritaire ?", the QPV list with
//! its downloads, the QPV page, the contract map, the batch page and the perimeter import.
//! Every page works without JavaScript; the Leaflet map is an enhancement drawn on a blank
//! background unless a tile URL is configured.

use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::geo::import::{code_prefix, report_lines, store_read_output};
use crate::geo::{self, LocateAnswer, Snapshot, PRECISION_NOTE};
use crate::layout::{self, Frame};
use crate::upload::{self, UploadError};
use crate::AppState;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use maud::{html, Markup, PreEscaped};
use quartiers_domain::french::french_decimal;
use quartiers_domain::permissions::Action;
use quartiers_geo::{PerimeterKind, ReadOptions};
use quartiers_io::output::{process_table, ProcessOptions, Summary};
use quartiers_io::table::{ColumnSpec, TableFormat};
use serde::Deserialize;
use std::io::{Seek, SeekFrom, Write};

/// Largest result embedded in the result page (larger ones are sent as a download).
const MAX_INLINE_RESULT: u64 = 25 * 1024 * 1024;

const MAP_JS: &str = r#"(function(){var el=document.getElementById('carte');if(!el||!window.L)return;
var data=JSON.parse(document.getElementById('carte-donnees').textContent);
var map=L.map(el);if(el.dataset.tiles){L.tileLayer(el.dataset.tiles,{maxZoom:19}).addTo(map);}
var colors={qpv:'#000091',attention_perimeter:'#c9191e',renewal_site:'#18753c',watch_neighbourhood:'#b34000',other:'#6a6af4'};
var layer=L.geoJSON(data.features||[],{style:function(f){var k=f.properties.kind;var old=f.properties.current===false;return {color:colors[k]||'#000091',weight:2,dashArray:old?'4 4':null,fillOpacity:old?0.05:0.2};},
onEachFeature:function(f,l){var s=document.createElement('span');s.textContent=f.properties.code+' — '+f.properties.name+(f.properties.kind_label?' ('+f.properties.kind_label+')':'');l.bindPopup(s);}});
var b=null;if((data.features||[]).length){b=layer.getBounds();}
var m=null;if(data.point){var p=L.latLng(data.point[1],data.point[0]);m=L.circleMarker(p,{radius:7,color:'#e1000f',fillOpacity:0.9});b=b?b.extend(p):L.latLngBounds([p,p]);}
if(b&&b.isValid()){map.fitBounds(b.pad(0.3),{maxZoom:17});}else{map.fitBounds([[41.3,-5.2],[51.1,9.6]]);}
layer.addTo(map);if(m){m.addTo(map);}
if(el.dataset.click){map.on('click',function(e){window.location=el.dataset.click+'?lon='+e.latlng.lng.toFixed(6)+'&lat='+e.latlng.lat.toFixed(6);});}
el.setAttribute('data-ready','1');})();"#;

/// Upload progress for the batch form (without JavaScript the form posts normally).
const UPLOAD_JS: &str = r#"(function(){var f=document.getElementById('form-fichier');if(!f||!window.FormData||!window.XMLHttpRequest)return;
f.addEventListener('submit',function(ev){ev.preventDefault();var x=new XMLHttpRequest();var box=document.getElementById('progression');var bar=document.getElementById('progression-barre');var t=document.getElementById('progression-texte');box.hidden=false;
x.upload.onprogress=function(e){if(e.lengthComputable){var p=Math.round(100*e.loaded/e.total);bar.value=p;t.textContent=p+' %';}};
x.upload.onload=function(){t.textContent='fichier envoyé, traitement en cours…';};
x.onload=function(){document.open();document.write(x.responseText);document.close();};
x.onerror=function(){t.textContent='envoi interrompu';};
x.open('POST',f.action);x.send(new FormData(f));});})();"#;

/// A Leaflet map of `features` (a GeoJSON FeatureCollection) and an optional point.
/// `click`: page to send the clicked point to (`?lon=…&lat=…`).
pub fn map(
    state: &AppState,
    features: &serde_json::Value,
    point: Option<(f64, f64)>,
    click: Option<&str>,
    caption: &str,
) -> Markup {
    let data = serde_json::json!({
        "features": features.get("features").cloned().unwrap_or(serde_json::json!([])),
        "point": point.map(|(x, y)| vec![x, y]),
    })
    .to_string()
    .replace("</", "<\\/");
    html! {
        link rel="stylesheet" href="/static/leaflet/leaflet.css";
        figure.fr-content-media role="group" aria-label=(caption) {
            div #carte .q-carte
                data-tiles=[state.config.tile_url.as_deref()]
                data-click=[click] {
                noscript { p.fr-p-2w { "La carte nécessite JavaScript ; la réponse ci-dessus n'en dépend pas." } }
            }
            figcaption.fr-content-media__caption { (caption) }
        }
        script type="application/json" #carte-donnees { (PreEscaped(data)) }
        script src="/static/leaflet/leaflet.js" {}
        script { (PreEscaped(MAP_JS)) }
    }
}

fn precision_note() -> Markup {
    html! {
        div.fr-callout.fr-mt-4w {
            h2.fr-callout__title.fr-h6 { "Précision des contours" }
            p.fr-callout__text.fr-text--sm { (PRECISION_NOTE) }
        }
    }
}

fn feature(e: &geo::Entry, p: &quartiers_geo::Perimeter) -> serde_json::Value {
    let mut fc = quartiers_geo::read::to_geojson(std::slice::from_ref(p));
    let mut f = fc["features"][0].take();
    f["properties"] = serde_json::json!({
        "code": e.code, "name": e.name, "kind": e.kind.as_str(),
        "kind_label": e.kind_label(), "current": e.current_qpv || e.kind != PerimeterKind::Qpv,
    });
    f
}

fn collection(features: Vec<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({"type": "FeatureCollection", "features": features})
}

fn status_badge(a: &LocateAnswer) -> Markup {
    let class = match a.status.as_str() {
        "in_qpv" => "fr-badge fr-badge--success",
        "outside_qpv" => "fr-badge fr-badge--info",
        "to_check" => "fr-badge fr-badge--warning",
        _ => "fr-badge fr-badge--error",
    };
    html! { p class=(class) #statut data-status=(a.status) { (a.status_label) } }
}

/// Renders a locate answer (shared by the page).
fn answer_block(a: &LocateAnswer) -> Markup {
    html! {
        section.fr-mb-4w #reponse aria-live="polite" {
            h2 { "Réponse" }
            (status_badge(a))
            @if let Some(g) = &a.geocoding {
                p { "Adresse trouvée : " strong { (g.label) } " (score " (french_decimal(g.score, Some(2))) ", "
                    (if g.precision == "voie" { "position de la voie" } else { "position du numéro" }) ")" }
            }
            @if let (Some(lon), Some(lat)) = (a.lon, a.lat) {
                p.fr-text--sm { "Point : longitude " (french_decimal(lon, Some(6))) ", latitude " (french_decimal(lat, Some(6))) " (WGS84)" }
            }
            @if let Some(m) = &a.message { p { (m) } }
            @for q in &a.qpv {
                div.fr-card.fr-card--horizontal.fr-mb-2w { div.fr-card__body { div.fr-card__content {
                    h3.fr-card__title { a href=(format!("/quartiers-prioritaires/{}", q.code)) { (q.name) " (" (q.code) ")" } }
                    p.fr-card__desc { (q.kind_label)
                        @if let Some(c) = &q.contract { " — contrat : " a href=(format!("/contrats/{}", c.slug)) { (c.name) } " · " a href=(format!("/contrats/{}/carte", c.slug)) { "carte du contrat" } }
                    }
                } } }
            }
            @if !a.perimeters.is_empty() {
                h3.fr-h6 { "Autres périmètres contenant ce point" }
                ul { @for p in &a.perimeters { li { (p.name) " (" (p.code) ") — " (p.kind_label)
                    @if let Some(c) = &p.contract { " — " a href=(format!("/contrats/{}", c.slug)) { (c.name) } } } } }
            }
            @if let Some(n) = &a.nearest_qpv {
                @if n.distance_m > 0.0 {
                    p #qpv-proche { "QPV le plus proche : " a href=(format!("/quartiers-prioritaires/{}", n.code)) { (n.name) " (" (n.code) ")" } ", à " (format!("{:.0}", n.distance_m)) " m." }
                }
            } @else {
                @if a.status == "outside_qpv" { p { "Aucun QPV à moins de 500 m." } }
            }
        }
    }
}

/// Query of "Suis-je dans un QPV ?".
#[derive(Debug, Deserialize, Default)]
pub struct LocateQuery {
    #[serde(default)]
    adresse: String,
    #[serde(default)]
    lon: String,
    #[serde(default)]
    lat: String,
}

fn parse_coord(s: &str) -> Option<f64> {
    quartiers_io::text::parse_decimal(s.trim())
}

/// GET /quartiers-prioritaires/suis-je-dans-un-qpv
pub async fn am_i_in_a_qpv(
    State(state): State<AppState>,
    visitor: Visitor,
    Query(q): Query<LocateQuery>,
) -> Result<Response> {
    let snap = state.geo.snapshot().await?;
    let frame = Frame::new(&state, &visitor);
    let mut status = StatusCode::OK;
    let answer: Option<LocateAnswer> = if !q.adresse.trim().is_empty() {
        Some(snap.answer_address(&q.adresse))
    } else if !q.lon.trim().is_empty() || !q.lat.trim().is_empty() {
        match (parse_coord(&q.lon), parse_coord(&q.lat)) {
            (Some(lon), Some(lat)) => match geo::check_wgs84(lon, lat) {
                Ok(()) => Some(snap.answer(lon, lat, None)),
                Err(m) => {
                    status = StatusCode::UNPROCESSABLE_ENTITY;
                    Some(Snapshot::not_located(
                        crate::layout::capitalize(&m) + ".",
                        None,
                    ))
                }
            },
            _ => {
                status = StatusCode::UNPROCESSABLE_ENTITY;
                Some(Snapshot::not_located(
                    "Longitude et latitude doivent être des nombres (par exemple 3,0573 et 50,6292).".into(),
                    None,
                ))
            }
        }
    } else {
        None
    };
    let mut features = Vec::new();
    let mut point = None;
    if let Some(a) = &answer {
        if let (Some(lon), Some(lat)) = (a.lon, a.lat) {
            point = Some((lon, lat));
            let loc = snap.index.locate(lon, lat);
            let mut ids: Vec<u32> = loc.containing.to_vec();
            if let Some((id, _)) = loc.nearest_qpv {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            for id in ids {
                features.push(feature(
                    &snap.entries[id as usize],
                    snap.index.perimeter(id),
                ));
            }
        }
    }
    let title = "Suis-je dans un quartier prioritaire ?";
    let body = html! {
        h1 { (title) }
        p.fr-text--lead { "Saisissez une adresse, des coordonnées, ou cliquez sur la carte." }
        @if snap.current_generation.is_none() {
            (layout::notice("warning", "Aucun contour de QPV n'est encore chargé sur cette plateforme."))
        }
        div.fr-grid-row.fr-grid-row--gutters {
            div.fr-col-12.fr-col-md-6 {
                form method="get" action="/quartiers-prioritaires/suis-je-dans-un-qpv" #form-adresse {
                    div.fr-input-group {
                        label.fr-label for="adresse" { "Adresse" span.fr-hint-text { "Par exemple : 1 rue des Tisserands 59000 Lille" } }
                        input.fr-input type="text" #adresse name="adresse" value=(q.adresse) autocomplete="street-address";
                    }
                    button.fr-btn type="submit" { "Chercher l'adresse" }
                }
            }
            div.fr-col-12.fr-col-md-6 {
                form method="get" action="/quartiers-prioritaires/suis-je-dans-un-qpv" #form-point {
                    div.fr-input-group {
                        label.fr-label for="lon" { "Longitude (WGS84)" span.fr-hint-text { "Par exemple : 3,0573" } }
                        input.fr-input type="text" #lon name="lon" value=(q.lon) inputmode="decimal";
                    }
                    div.fr-input-group {
                        label.fr-label for="lat" { "Latitude (WGS84)" span.fr-hint-text { "Par exemple : 50,6292" } }
                        input.fr-input type="text" #lat name="lat" value=(q.lat) inputmode="decimal";
                    }
                    button.fr-btn.fr-btn--secondary type="submit" { "Localiser le point" }
                }
            }
        }
        @if let Some(a) = &answer { (answer_block(a)) }
        (map(&state, &collection(features), point, Some("/quartiers-prioritaires/suis-je-dans-un-qpv"), "Carte : cliquez pour savoir si un point est dans un QPV."))
        p.fr-mt-2w { a.fr-link href="/quartiers-prioritaires/localiser-un-fichier" { "Localiser tout un fichier d'adresses ou de coordonnées" } }
        (precision_note())
    };
    Ok((
        status,
        Html(
            layout::page(
                &frame,
                title,
                &[
                    ("Quartiers prioritaires", "/quartiers-prioritaires".into()),
                    (title, String::new()),
                ],
                body,
            )
            .into_string(),
        ),
    )
        .into_response())
}

fn fr_area(m2: i64) -> String {
    let ha = m2 as f64 / 10_000.0;
    format!("{} ha", french_decimal(ha, Some(1)))
}

/// GET /quartiers-prioritaires
pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Result<Html<String>> {
    let snap = state.geo.snapshot().await?;
    let rows = state.store.list_perimeters().await?;
    let generations = state.store.generations().await?;
    let links = snap.links();
    let frame = Frame::new(&state, &visitor);
    let current = snap.current_generation.clone().unwrap_or_default();
    let contract_of_row = |r: &quartiers_store::geography::PerimeterRow| {
        snap.entries
            .iter()
            .find(|e| e.row_id == r.id)
            .and_then(|e| geo::contract_of(&links, e))
    };
    let title = "Quartiers prioritaires et périmètres";
    let body = html! {
        h1 { (title) }
        ul.fr-btns-group.fr-btns-group--inline-md {
            li { a.fr-btn href="/quartiers-prioritaires/suis-je-dans-un-qpv" { "Suis-je dans un QPV ?" } }
            li { a.fr-btn.fr-btn--secondary href="/quartiers-prioritaires/localiser-un-fichier" { "Localiser un fichier" } }
            li { a.fr-btn.fr-btn--tertiary href="/quartiers-prioritaires/registre.geojson" download { "Télécharger le registre (GeoJSON)" } }
            li { a.fr-btn.fr-btn--tertiary href="/quartiers-prioritaires/registre.csv" download { "Télécharger le registre (CSV)" } }
            @if may_import(&visitor).is_ok() {
                li { a.fr-btn.fr-btn--tertiary href="/quartiers-prioritaires/perimetres/importer" { "Importer un périmètre" } }
            }
        }
        h2 { "Générations chargées" }
        @if generations.is_empty() { p { "Aucune." } }
        ul { @for g in &generations { li { (g.label) " : " (g.count) " QPV (" (g.source) ", importé le " (layout::french_date(&g.imported_at)) ")" } } }
        h2 { "QPV de la génération " (current) }
        div.fr-table { table #liste-qpv {
            thead { tr { th { "Code" } th { "Nom" } th { "Communes" } th { "Contrat" } th { "Surface" } } }
            tbody { @for r in rows.iter().filter(|r| r.kind == "qpv" && r.generation == current) {
                tr { td { a href=(format!("/quartiers-prioritaires/{}", r.code)) { (r.code) } } td { (r.name) } td { (r.communes.join(", ")) }
                     td { @if let Some(c) = contract_of_row(r) { a href=(format!("/contrats/{}", c.slug)) { (c.name) } } }
                     td { (fr_area(r.area_m2)) } }
            } }
        } }
        @let others: Vec<_> = rows.iter().filter(|r| !(r.kind == "qpv" && r.generation == current)).collect();
        @if !others.is_empty() {
            h2 { "Autres périmètres et générations" }
            div.fr-table { table #liste-perimetres {
                thead { tr { th { "Code" } th { "Nom" } th { "Type" } th { "Contrat" } th { "Critères" } th { "Surface" } } }
                tbody { @for r in others {
                    tr { td { a href=(format!("/quartiers-prioritaires/{}", r.code)) { (r.code) } } td { (r.name) }
                         td { (PerimeterKind::parse(&r.kind).map(|k| k.label_fr()).unwrap_or("Autre")) @if !r.generation.is_empty() { " " (r.generation) } }
                         td { @if let Some(c) = contract_of_row(r) { a href=(format!("/contrats/{}", c.slug)) { (c.name) } } }
                         td { (r.criteria.as_deref().unwrap_or("")) }
                         td { (fr_area(r.area_m2)) } }
                } }
            } }
        }
        (precision_note())
    };
    Ok(Html(
        layout::page(&frame, title, &[(title, String::new())], body).into_string(),
    ))
}

/// GET /quartiers-prioritaires/registre.geojson
pub async fn download_geojson(State(state): State<AppState>) -> Result<Response> {
    let rows = state.store.perimeters_with_geometry().await?;
    let mut out = String::from("{\"type\":\"FeatureCollection\",\"features\":[");
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let props = serde_json::json!({
            "code": r.row.code, "name": r.row.name, "kind": r.row.kind, "generation": r.row.generation,
            "insee_communes": r.row.communes, "siren_epci": r.row.epci_siren, "lib_epci": r.row.epci_name,
            "criteria": r.row.criteria, "contract": r.row.contract_slug, "area_m2": r.row.area_m2,
        });
        out.push_str(&format!(
            "{{\"type\":\"Feature\",\"properties\":{props},\"geometry\":{}}}",
            r.geometry
        ));
    }
    out.push_str("]}");
    Ok((
        [
            (header::CONTENT_TYPE, "application/geo+json"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"quartiers-registre.geojson\"",
            ),
        ],
        out,
    )
        .into_response())
}

fn csv_field(s: &str) -> String {
    if s.contains([';', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// GET /quartiers-prioritaires/registre.csv
pub async fn download_csv(State(state): State<AppState>) -> Result<Response> {
    let snap = state.geo.snapshot().await?;
    let links = snap.links();
    let rows = state.store.list_perimeters().await?;
    let mut out = String::from("\u{feff}code;nom;type;generation;communes_insee;siren_epci;epci;contrat;surface_m2;criteres\r\n");
    for r in &rows {
        let contract = snap
            .entries
            .iter()
            .find(|e| e.row_id == r.id)
            .and_then(|e| geo::contract_of(&links, e))
            .map(|c| c.slug.clone())
            .unwrap_or_default();
        let fields = [
            r.code.clone(),
            r.name.clone(),
            r.kind.clone(),
            r.generation.clone(),
            r.communes.join(","),
            r.epci_siren.clone().unwrap_or_default(),
            r.epci_name.clone().unwrap_or_default(),
            contract,
            r.area_m2.to_string(),
            r.criteria.clone().unwrap_or_default(),
        ];
        out.push_str(
            &fields
                .iter()
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(";"),
        );
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"quartiers-registre.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// GET /quartiers-prioritaires/{code}
pub async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(code): Path<String>,
) -> Result<Html<String>> {
    let rows = state.store.perimeters_by_code(code.trim()).await?;
    let Some(main) = rows.first() else {
        return Err(Error::NotFound);
    };
    let snap = state.geo.snapshot().await?;
    let links = snap.links();
    let entry = snap.entries.iter().find(|e| e.row_id == main.row.id);
    let contract = entry.and_then(|e| geo::contract_of(&links, e));
    let correspondence = state.store.correspondence_of(&main.row.code).await?;
    let frame = Frame::new(&state, &visitor);
    let r = &main.row;
    let kind = PerimeterKind::parse(&r.kind).unwrap_or(PerimeterKind::Other);
    let features: Vec<serde_json::Value> = rows
        .iter()
        .map(|x| {
            serde_json::json!({"type": "Feature", "properties": {
                "code": x.row.code, "name": x.row.name, "kind": x.row.kind,
                "kind_label": format!("{} {}", PerimeterKind::parse(&x.row.kind).map(|k| k.label_fr()).unwrap_or(""), x.row.generation).trim().to_string(),
                "current": x.row.id == r.id,
            }, "geometry": serde_json::from_str::<serde_json::Value>(&x.geometry).unwrap_or_default()})
        })
        .collect();
    let title = format!("{} ({})", r.name, r.code);
    let body = html! {
        h1 { (r.name) }
        dl.q-fiche #fiche-qpv {
            dt { "Code" } dd #code { (r.code) }
            dt { "Type" } dd { (kind.label_fr()) }
            dt { "Génération" } dd { (layout::or_unknown(Some(r.generation.as_str()))) }
            dt { "Communes (INSEE)" } dd { (layout::or_unknown(Some(r.communes.join(", ").as_str()))) }
            dt { "EPCI" } dd { (layout::or_unknown(r.epci_name.as_deref())) @if let Some(s) = &r.epci_siren { " (SIREN " (s) ")" } }
            dt { "Contrat de ville" } dd #contrat { @if let Some(c) = contract { a href=(format!("/contrats/{}", c.slug)) { (c.name) } " · " a href=(format!("/contrats/{}/carte", c.slug)) { "carte" } } @else { span.q-unknown { "aucun contrat de la plateforme" } } }
            dt { "Surface" } dd { (fr_area(r.area_m2)) }
            @if let Some(c) = &r.criteria { dt { "Critères" } dd { (c) } }
            dt { "Source" } dd { (r.source) ", importé le " (layout::french_date(&r.imported_at)) }
        }
        @if rows.len() > 1 {
            p { "Ce code existe aussi : " @for x in &rows[1..] { (x.row.kind) " " (x.row.generation) " ; " } }
        }
        @if !correspondence.is_empty() {
            h2 { "Correspondance 2015 ↔ 2024" }
            div.fr-table { table {
                thead { tr { th { "QPV 2015" } th { "QPV 2024" } th { "Part du QPV 2015" } th { "Part du QPV 2024" } } }
                tbody { @for c in &correspondence { tr {
                    td { a href=(format!("/quartiers-prioritaires/{}", c.code_2015)) { (c.code_2015) } }
                    td { a href=(format!("/quartiers-prioritaires/{}", c.code_2024)) { (c.code_2024) } }
                    td { (format!("{:.0} %", c.share_of_2015 * 100.0)) } td { (format!("{:.0} %", c.share_of_2024 * 100.0)) } } } }
            } }
        }
        (map(&state, &collection(features), None, None, &format!("Contour de {}", r.name)))
        (precision_note())
    };
    Ok(Html(
        layout::page(
            &frame,
            &title,
            &[
                ("Quartiers prioritaires", "/quartiers-prioritaires".into()),
                (title.as_str(), String::new()),
            ],
            body,
        )
        .into_string(),
    ))
}

/// GET /contrats/{slug}/carte
pub async fn contract_map(
    State(state): State<AppState>,
    visitor: Visitor,
    Path(slug): Path<String>,
) -> Result<Html<String>> {
    let stored = state.store.contract(&slug).await?;
    let snap = state.geo.snapshot().await?;
    let links = snap.links();
    let frame = Frame::new(&state, &visitor);
    let mine: Vec<(u32, &geo::Entry)> = snap
        .entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.current_qpv || e.kind != PerimeterKind::Qpv)
        .filter(|(_, e)| geo::contract_of(&links, e).is_some_and(|c| c.slug == slug))
        .map(|(i, e)| (i as u32, e))
        .collect();
    let features = mine
        .iter()
        .map(|(id, e)| feature(e, snap.index.perimeter(*id)))
        .collect();
    let name = stored.document.contract.name.clone();
    let title = "Carte du contrat";
    let body = html! {
        h1 { "Carte — " (name) }
        p { (mine.iter().filter(|(_, e)| e.kind == PerimeterKind::Qpv).count()) " QPV et "
            (mine.iter().filter(|(_, e)| e.kind != PerimeterKind::Qpv).count()) " autre(s) périmètre(s)." }
        (map(&state, &collection(features), None, None, &format!("QPV et périmètres — {name}")))
        div.fr-table { table #perimetres-contrat {
            thead { tr { th { "Code" } th { "Nom" } th { "Type" } } }
            tbody { @for (_, e) in &mine { tr { td { a href=(format!("/quartiers-prioritaires/{}", e.code)) { (e.code) } } td { (e.name) } td { (e.kind_label()) } } } }
        } }
        (precision_note())
    };
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

// ---- Batch ----

fn batch_form(q: &BatchFields, limit: &str) -> Markup {
    html! {
        form method="post" action="/quartiers-prioritaires/localiser-un-fichier" enctype="multipart/form-data" #form-fichier {
            div.fr-upload-group.fr-mb-3w {
                label.fr-label for="fichier" { "Fichier CSV ou XLSX" span.fr-hint-text { "Colonnes lon/lat, latitude/longitude, x/y (Lambert-93) ou adresse ; séparateur , ; ou tabulation ; UTF-8 ou Windows-1252. " (limit) " au plus." } }
                input.fr-upload type="file" #fichier name="fichier" accept=".csv,.txt,.tsv,.xlsx" required;
            }
            details.fr-mb-3w {
                summary { "Nommer les colonnes (facultatif)" }
                div.fr-input-group { label.fr-label for="col-lon" { "Colonne de longitude" } input.fr-input #col-lon name="lon" value=(q.lon); }
                div.fr-input-group { label.fr-label for="col-lat" { "Colonne de latitude" } input.fr-input #col-lat name="lat" value=(q.lat); }
                div.fr-input-group { label.fr-label for="col-x" { "Colonne X (Lambert-93)" } input.fr-input #col-x name="x" value=(q.x); }
                div.fr-input-group { label.fr-label for="col-y" { "Colonne Y (Lambert-93)" } input.fr-input #col-y name="y" value=(q.y); }
                div.fr-input-group { label.fr-label for="col-adresse" { "Colonne(s) d'adresse, séparées par des virgules" } input.fr-input #col-adresse name="adresse" value=(q.address); }
                div.fr-input-group { label.fr-label for="feuille" { "Feuille du classeur XLSX" span.fr-hint-text { "Par défaut la première ; la feuille traitée est indiquée dans le résumé." } } input.fr-input #feuille name="feuille" value=(q.sheet); }
            }
            button.fr-btn type="submit" { "Localiser le fichier" }
            p.fr-text--sm.fr-mt-2w { "Le fichier est traité puis effacé : rien de son contenu n'est conservé sur la plateforme. Le résultat vous est rendu en téléchargement." }
            p #progression hidden { "Envoi : " progress #progression-barre max="100" value="0" {} " " span #progression-texte {} }
        }
        script { (PreEscaped(UPLOAD_JS)) }
    }
}

/// Column choices of a batch.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct BatchFields {
    #[serde(default)]
    lon: String,
    #[serde(default)]
    lat: String,
    #[serde(default)]
    x: String,
    #[serde(default)]
    y: String,
    #[serde(default, alias = "adresse")]
    address: String,
    #[serde(default, alias = "feuille")]
    sheet: String,
}

impl BatchFields {
    /// Sets every column name.
    pub fn set(&mut self, lon: String, lat: String, x: String, y: String, address: String) {
        *self = BatchFields {
            lon,
            lat,
            x,
            y,
            address,
            sheet: std::mem::take(&mut self.sheet),
        };
    }

    /// The column specification, or a French error.
    pub fn spec(&self) -> std::result::Result<ColumnSpec, String> {
        let t = |s: &str| s.trim().to_string();
        match (
            t(&self.lon),
            t(&self.lat),
            t(&self.x),
            t(&self.y),
            t(&self.address),
        ) {
            (lon, lat, _, _, _) if !lon.is_empty() || !lat.is_empty() => {
                if lon.is_empty() || lat.is_empty() {
                    Err("Nommez à la fois la colonne de longitude et celle de latitude.".into())
                } else {
                    Ok(ColumnSpec::LonLat { lon, lat })
                }
            }
            (_, _, x, y, _) if !x.is_empty() || !y.is_empty() => {
                if x.is_empty() || y.is_empty() {
                    Err("Nommez à la fois la colonne X et la colonne Y.".into())
                } else {
                    Ok(ColumnSpec::Lambert93 { x, y })
                }
            }
            (_, _, _, _, a) if !a.is_empty() => Ok(ColumnSpec::Address(
                a.split(',')
                    .map(|c| c.trim().to_string())
                    .filter(|c| !c.is_empty())
                    .collect(),
            )),
            _ => Ok(ColumnSpec::Auto),
        }
    }
}

/// Result of a batch job.
pub struct BatchOutcome {
    /// Counts and per-line problems.
    pub summary: Summary,
    /// The result file (deleted when dropped).
    pub file: tempfile::NamedTempFile,
    /// Format of input and output.
    pub format: TableFormat,
}

/// Runs a batch on a file already on disk (blocking: call from `spawn_blocking`).
pub fn run_batch(
    snap: &Snapshot,
    config: &crate::Config,
    mut input: std::fs::File,
    file_name: Option<&str>,
    sheet: Option<String>,
    spec: ColumnSpec,
) -> std::result::Result<BatchOutcome, String> {
    let mut head = [0u8; 4];
    let n = std::io::Read::read(&mut input, &mut head).map_err(|e| e.to_string())?;
    input.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    let format = TableFormat::detect(&head[..n], file_name);
    let opts = ProcessOptions {
        columns: spec,
        format: Some(format),
        sheet,
        ..ProcessOptions::default()
    };
    let mut out = config.temp_file().map_err(|e| e.to_string())?;
    let summary = process_table(
        std::io::BufReader::new(input),
        std::io::BufWriter::new(out.as_file_mut()),
        &opts,
        snap.rows(),
        |_| {},
    )
    .map_err(|e| crate::layout::capitalize(&e.to_string()))?;
    out.as_file_mut().flush().map_err(|e| e.to_string())?;
    Ok(BatchOutcome {
        summary,
        file: out,
        format,
    })
}

/// Name of the result file for an input name.
pub fn result_name(input: &str, format: TableFormat) -> String {
    let stem = std::path::Path::new(input)
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty())
        .unwrap_or("fichier");
    let stem: String = stem
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    match format {
        TableFormat::Xlsx => format!("{stem}_qpv.xlsx"),
        TableFormat::Csv => format!("{stem}_qpv.csv"),
    }
}

/// MIME type of a result.
pub fn result_mime(format: TableFormat) -> &'static str {
    match format {
        TableFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        TableFormat::Csv => "text/csv; charset=utf-8",
    }
}

/// GET /quartiers-prioritaires/localiser-un-fichier
pub async fn batch_form_page(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Html<String>> {
    Ok(batch_page(
        &state,
        &visitor,
        &BatchFields::default(),
        None,
        html! {},
    ))
}

fn batch_page(
    state: &AppState,
    visitor: &Visitor,
    q: &BatchFields,
    error: Option<&str>,
    result: Markup,
) -> Html<String> {
    let frame = Frame::new(state, visitor);
    let title = "Localiser un fichier";
    Html(
        layout::page(
            &frame,
            title,
            &[("Quartiers prioritaires", "/quartiers-prioritaires".into()), (title, String::new())],
            html! {
                h1 { (title) }
                p.fr-text--lead { "Ajoutez à chaque ligne d'un fichier CSV ou XLSX son QPV, les autres périmètres, le statut (dans un QPV, hors QPV, à vérifier, non localisé), la distance au QPV le plus proche et le score de géocodage." }
                @if let Some(e) = error { div.fr-alert.fr-alert--error.fr-mb-3w role="alert" #erreur { h2.fr-alert__title { "Le fichier n'a pas pu être traité" } p { (e) } } }
                (result)
                (batch_form(q, &state.config.max_upload_fr()))
                (precision_note())
            },
        )
        .into_string(),
    )
}

/// The French answer to a form that is not a well-formed `multipart/form-data` upload
/// (axum's own rejection is an English `text/plain` page).
fn multipart_form(m: std::result::Result<Multipart, MultipartRejection>) -> Result<Multipart> {
    m.map_err(|_| {
        Error::BadRequest(
            "Envoi mal formé : ce formulaire s'envoie depuis sa page, avec son fichier joint \
             (multipart/form-data)."
                .into(),
        )
    })
}

/// An upload that broke off or whose parts could not be read.
const INTERRUPTED: &str =
    "Envoi interrompu ou mal formé : renvoyez le fichier depuis le formulaire.";

/// POST /quartiers-prioritaires/localiser-un-fichier
pub async fn batch_submit(
    State(state): State<AppState>,
    visitor: Visitor,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let mut multipart = multipart_form(multipart)?;
    let mut q = BatchFields::default();
    let mut upload: Option<(tempfile::NamedTempFile, String)> = None;
    let mut refused: Option<(StatusCode, String)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| Error::BadRequest(INTERRUPTED.into()))?
    {
        let name = field.name().unwrap_or("").to_string();
        match name.as_str() {
            "fichier" => {
                let file_name = field.file_name().unwrap_or("fichier.csv").to_string();
                match upload::field_to_temp(&state.config, field).await {
                    Ok(t) => upload = Some((t, file_name)),
                    Err(UploadError::TooLarge) => {
                        refused = Some((
                            StatusCode::PAYLOAD_TOO_LARGE,
                            upload::too_large_message(
                                &state.config,
                                Some(&file_name),
                                Some("quartiers locate"),
                            ),
                        ))
                    }
                    Err(UploadError::Interrupted(m)) => {
                        refused = Some((StatusCode::BAD_REQUEST, m))
                    }
                    Err(UploadError::Io(e)) => return Err(anyhow::Error::from(e).into()),
                }
            }
            "lon" | "lat" | "x" | "y" | "adresse" | "feuille" => {
                let v = field
                    .text()
                    .await
                    .map_err(|_| Error::BadRequest(INTERRUPTED.into()))?;
                match name.as_str() {
                    "lon" => q.lon = v,
                    "lat" => q.lat = v,
                    "x" => q.x = v,
                    "y" => q.y = v,
                    "feuille" => q.sheet = v,
                    _ => q.address = v,
                }
            }
            _ => {}
        }
    }
    let fail_with = |status: StatusCode, m: &str| {
        Ok((status, batch_page(&state, &visitor, &q, Some(m), html! {})).into_response())
    };
    let fail = |m: &str| fail_with(StatusCode::UNPROCESSABLE_ENTITY, m);
    if let Some((status, m)) = refused {
        return fail_with(status, &m);
    }
    let Some((tmp, file_name)) = upload else {
        return fail("Choisissez un fichier CSV ou XLSX.");
    };
    if tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return fail("Le fichier est vide.");
    }
    let spec = match q.spec() {
        Ok(s) => s,
        Err(m) => return fail(&m),
    };
    let snap = state.geo.snapshot().await?;
    let input = tmp.reopen().map_err(anyhow::Error::from)?;
    let fname = file_name.clone();
    let sheet = Some(q.sheet.trim().to_string()).filter(|s| !s.is_empty());
    let config = state.config.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let r = run_batch(&snap, &config, input, Some(&fname), sheet, spec);
        drop(tmp); // the upload is deleted as soon as it is read
        r
    })
    .await
    .map_err(anyhow::Error::from)?;
    let outcome = match outcome {
        Ok(o) => o,
        Err(m) => return fail(&m),
    };
    let out_name = result_name(&file_name, outcome.format);
    let len = outcome
        .file
        .as_file()
        .metadata()
        .map(|m| m.len())
        .unwrap_or(0);
    let bytes = std::fs::read(outcome.file.path()).map_err(anyhow::Error::from)?;
    drop(outcome.file);
    if len > MAX_INLINE_RESULT {
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    result_mime(outcome.format).to_string(),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{out_name}\""),
                ),
            ],
            bytes,
        )
            .into_response());
    }
    use base64::Engine as _;
    let href = format!(
        "data:{};base64,{}",
        result_mime(outcome.format).split(';').next().unwrap_or(""),
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    );
    let s = &outcome.summary;
    let pct = |n: u64| {
        if s.rows == 0 {
            0.0
        } else {
            100.0 * n as f64 / s.rows as f64
        }
    };
    let result = html! {
        section.fr-mb-4w #resultat {
            h2 { "Résultat" }
            p { a.fr-btn.fr-icon-download-line.fr-btn--icon-left #telecharger href=(href) download=(out_name) { "Télécharger " (out_name) } }
            div.fr-table { table #resume {
                tbody {
                    tr { th { "Lignes" } td #nb-lignes { (s.rows) } }
                    tr { th { "Dans un QPV" } td #nb-dans { (s.in_qpv) " (" (french_decimal(pct(s.in_qpv), Some(1))) " %)" } }
                    tr { th { "Hors QPV" } td #nb-hors { (s.outside_qpv) } }
                    tr { th { "À vérifier" } td #nb-verifier { (s.to_check) } }
                    tr { th { "Non localisées" } td #nb-non-localisees { (s.not_located) } }
                    @if let Some(sh) = &s.sheet { tr { th { "Feuille traitée" } td #feuille-traitee { "« " (sh.name) " »" @if sh.count > 1 { " (sur " (sh.count) " feuilles du classeur)" } } } }
                }
            } }
            pre.q-resume #resume-texte { (s.to_french_text()) }
        }
    };
    Ok(batch_page(&state, &visitor, &q, None, result).into_response())
}

// ---- Perimeter import ----

const KINDS: [(&str, &str); 5] = [
    ("attention_perimeter", "Périmètre d'attention"),
    ("renewal_site", "Site de renouvellement urbain (NPRU)"),
    ("watch_neighbourhood", "Quartier de veille"),
    ("other", "Autre périmètre"),
    ("qpv", "Quartier prioritaire (QPV) — administrateurs"),
];

#[derive(Debug, Default, Clone)]
struct PerimeterForm {
    kind: String,
    name: String,
    criteria: String,
    contract: String,
    generation: String,
}

async fn import_page(
    state: &AppState,
    visitor: &Visitor,
    f: &PerimeterForm,
    error: Option<&str>,
    report: Option<Vec<String>>,
) -> Result<Html<String>> {
    let frame = Frame::new(state, visitor);
    let contracts = state.store.list_contracts().await?;
    let p = visitor.principal();
    let editable: Vec<_> = contracts
        .iter()
        .filter(|c| p.is_some_and(|p| p.can(Action::EditContract(c.id))))
        .collect();
    // Without a contract, and QPV, are for administrators: others are not offered them,
    // and their first contract is chosen unless they picked another.
    let is_admin = p.is_some_and(|p| p.is_admin);
    let contract = if is_admin || editable.iter().any(|c| c.slug == f.contract) {
        f.contract.as_str()
    } else {
        editable.first().map_or("", |c| c.slug.as_str())
    };
    let kinds = KINDS.iter().filter(|(k, _)| is_admin || *k != "qpv");
    let title = "Importer un périmètre";
    Ok(Html(
        layout::page(
            &frame,
            title,
            &[("Quartiers prioritaires", "/quartiers-prioritaires".into()), (title, String::new())],
            html! {
                h1 { (title) }
                p { "Périmètres d'attention, sites de renouvellement urbain, quartiers de veille : importez un fichier GeoJSON, GeoPackage ou shapefile (avec ses fichiers .shp, .shx, .dbf et .prj), nommez-le, décrivez ses critères et rattachez-le à un contrat." }
                @if let Some(e) = error { div.fr-alert.fr-alert--error.fr-mb-3w role="alert" #erreur { h2.fr-alert__title { "Import impossible" } p { (e) } } }
                @if let Some(lines) = &report { div.fr-alert.fr-alert--success.fr-mb-3w role="status" #rapport { h2.fr-alert__title { "Import terminé" } ul { @for l in lines { li { (l) } } } } }
                form method="post" action="/quartiers-prioritaires/perimetres/importer" enctype="multipart/form-data" {
                    input type="hidden" name="csrf" value=(visitor.csrf());
                    div.fr-upload-group.fr-mb-3w {
                        label.fr-label for="fichier" { "Fichier(s)" span.fr-hint-text { ".geojson, .json, .geojson.gz, .gpkg, ou les fichiers d'un shapefile ; " (state.config.max_upload_fr()) " au plus par fichier" } }
                        input.fr-upload type="file" #fichier name="fichier" multiple required;
                    }
                    div.fr-select-group { label.fr-label for="type" { "Type" }
                        select.fr-select #type name="type" { @for (k, l) in kinds { option value=(k) selected[f.kind == *k] { (l) } } } }
                    div.fr-input-group { label.fr-label for="nom" { "Nom" span.fr-hint-text { "Utilisé quand le fichier ne nomme pas ses entités ; sans code dans le fichier, chaque entité reçoit ce nom en capitales suivi de son numéro (PERIMETRE-FIVES-1…)" } } input.fr-input #nom name="nom" value=(f.name); }
                    div.fr-input-group { label.fr-label for="criteres" { "Critères" } textarea.fr-input #criteres name="criteres" { (f.criteria) } }
                    div.fr-select-group { label.fr-label for="contrat" { "Contrat" }
                        select.fr-select #contrat name="contrat" {
                            @if is_admin { option value="" selected[contract.is_empty()] { "— aucun (administrateurs) —" } }
                            @for c in &editable { option value=(c.slug) selected[contract == c.slug] { (c.name) } }
                        } }
                    div.fr-input-group { label.fr-label for="generation" { "Génération (QPV)" } input.fr-input #generation name="generation" value=(f.generation); }
                    button.fr-btn type="submit" { "Importer" }
                }
            },
        )
        .into_string(),
    ))
}

async fn fail_page(
    state: &AppState,
    visitor: &Visitor,
    f: &PerimeterForm,
    m: String,
) -> Result<Response> {
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        import_page(state, visitor, f, Some(&m), None).await?,
    )
        .into_response())
}

fn may_import(visitor: &Visitor) -> Result<()> {
    let p = visitor.principal().ok_or(Error::Unauthorized)?;
    if p.is_admin
        || p.roles
            .iter()
            .any(|(id, _)| p.can(Action::EditContract(*id)))
    {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// GET /quartiers-prioritaires/perimetres/importer
pub async fn perimeter_import_form(
    State(state): State<AppState>,
    visitor: Visitor,
) -> Result<Html<String>> {
    may_import(&visitor)?;
    import_page(
        &state,
        &visitor,
        &PerimeterForm {
            kind: "attention_perimeter".into(),
            ..Default::default()
        },
        None,
        None,
    )
    .await
}

fn safe_name(s: &str) -> String {
    let base = std::path::Path::new(s)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("fichier");
    base.chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// POST /quartiers-prioritaires/perimetres/importer
pub async fn perimeter_import(
    State(state): State<AppState>,
    visitor: Visitor,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    may_import(&visitor)?;
    let mut multipart = multipart_form(multipart)?;
    let dir = state.config.temp_dir().map_err(anyhow::Error::from)?;
    let mut f = PerimeterForm::default();
    let mut csrf = String::new();
    let mut files: Vec<std::path::PathBuf> = Vec::new();
    let mut refused: Option<(StatusCode, String)> = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| Error::BadRequest(INTERRUPTED.into()))?
    {
        let name = field.name().unwrap_or("").to_string();
        if name == "fichier" {
            let fname = safe_name(field.file_name().unwrap_or("fichier.geojson"));
            if refused.is_some() {
                continue; // the next field skips (drains) this one
            }
            let tmp = match upload::field_to_temp(&state.config, field).await {
                Ok(t) => t,
                Err(UploadError::TooLarge) => {
                    // The other files of the form are dropped too: nothing is kept.
                    files.clear();
                    refused = Some((
                        StatusCode::PAYLOAD_TOO_LARGE,
                        upload::too_large_message(
                            &state.config,
                            Some(&fname),
                            Some("quartiers perimeter import"),
                        ),
                    ));
                    continue;
                }
                Err(UploadError::Interrupted(m)) => {
                    refused = Some((StatusCode::BAD_REQUEST, m));
                    continue;
                }
                Err(UploadError::Io(e)) => return Err(anyhow::Error::from(e).into()),
            };
            if tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0) > 0 {
                let path = dir.path().join(&fname);
                tmp.persist(&path)
                    .map_err(|e| anyhow::Error::from(e.error))?;
                files.push(path);
            }
            continue;
        }
        let v = field
            .text()
            .await
            .map_err(|_| Error::BadRequest(INTERRUPTED.into()))?;
        match name.as_str() {
            "csrf" => csrf = v,
            "type" => f.kind = v,
            "nom" => f.name = v,
            "criteres" => f.criteria = v,
            "contrat" => f.contract = v,
            "generation" => f.generation = v,
            _ => {}
        }
    }
    visitor.check_csrf(&csrf)?;
    if let Some((status, m)) = refused {
        drop(dir); // deletes the files already received
        return Ok((
            status,
            import_page(&state, &visitor, &f, Some(&m), None).await?,
        )
            .into_response());
    }
    let p = visitor.principal().ok_or(Error::Unauthorized)?;
    let contract_id = if f.contract.trim().is_empty() {
        if !p.is_admin {
            return Err(Error::Forbidden);
        }
        None
    } else {
        let c = state.store.contract(f.contract.trim()).await?;
        visitor.require(Action::EditContract(c.id))?;
        Some(c.id)
    };
    let kind = PerimeterKind::parse(f.kind.trim()).unwrap_or(PerimeterKind::Other);
    if kind == PerimeterKind::Qpv && !p.is_admin {
        return Err(Error::Forbidden);
    }
    let _ = contract_id;
    let main = files
        .iter()
        .find(|p| p.extension().is_some_and(|e| e.eq_ignore_ascii_case("shp")))
        .or_else(|| {
            files.iter().find(|p| {
                p.extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("gpkg"))
            })
        })
        .or_else(|| files.first())
        .cloned();
    let Some(main) = main else {
        return fail_page(
            &state,
            &visitor,
            &f,
            "Choisissez un fichier à importer.".into(),
        )
        .await;
    };
    let opts = ReadOptions {
        kind,
        generation: Some(f.generation.trim().to_string()).filter(|g| !g.is_empty()),
        official_qpv_codes: true,
        code_prefix: Some(code_prefix(&f.name, kind)),
        ..ReadOptions::default()
    };
    let read = tokio::task::spawn_blocking(move || quartiers_geo::read_path(&main, &opts))
        .await
        .map_err(anyhow::Error::from)?;
    let mut out = match read {
        Ok(o) => o,
        Err(e) => {
            return fail_page(
                &state,
                &visitor,
                &f,
                crate::layout::capitalize(&e.to_string()),
            )
            .await
        }
    };
    if out.perimeters.is_empty() {
        let mut lines = vec![out.report.summary_fr()];
        lines.extend(report_lines(&out.report));
        return fail_page(
            &state,
            &visitor,
            &f,
            format!("Aucune entité utilisable. {}", lines.join(" ")),
        )
        .await;
    }
    let given_name = f.name.trim().to_string();
    if !given_name.is_empty() {
        let single = out.perimeters.len() == 1;
        for (i, per) in out.perimeters.iter_mut().enumerate() {
            if per.name == per.code || single {
                per.name = if single {
                    given_name.clone()
                } else {
                    format!("{given_name} {}", i + 1)
                };
            }
        }
    }
    let source = files
        .iter()
        .filter_map(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_string))
        .collect::<Vec<_>>()
        .join(", ");
    let outcome = store_read_output(
        &state.store,
        out,
        &source,
        Some(f.criteria.as_str()),
        Some(f.contract.trim()).filter(|c| !c.is_empty()),
    )
    .await?;
    state.geo.invalidate();
    drop(dir);
    Ok(
        import_page(&state, &visitor, &f, None, Some(outcome.lines_fr()))
            .await?
            .into_response(),
    )
}
