//! Priority geography API: locate a point or an address, locate a whole file (streamed),
//! and read the QPV registry.

use crate::error::{ApiError, ApiResult, Error};
use crate::geo::{self, LocateAnswer, Snapshot};
use crate::pages::geo::{result_mime, run_batch, BatchFields};
use crate::upload::UploadError;
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::json::Json;

/// Where to locate: `lon` and `lat` (WGS84), `x` and `y` (Lambert-93), or `address`.
#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct LocateParams {
    /// WGS84 longitude, in degrees.
    pub lon: Option<String>,
    /// WGS84 latitude, in degrees.
    pub lat: Option<String>,
    /// Lambert-93 (EPSG:2154) easting, in metres.
    pub x: Option<String>,
    /// Lambert-93 (EPSG:2154) northing, in metres.
    pub y: Option<String>,
    /// Free-text French address, geocoded offline against the loaded BAN extract.
    pub address: Option<String>,
}

fn bad(field: &str, message: &str) -> ApiError {
    ApiError(Error::Validation(
        quartiers_domain::ValidationErrors::single(field, message),
    ))
}

fn num(field: &str, v: &Option<String>) -> ApiResult<Option<f64>> {
    match v.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => quartiers_io::text::parse_decimal(s)
            .filter(|x| x.is_finite())
            .map(Some)
            .ok_or_else(|| bad(field, &format!("« {s} » n'est pas un nombre."))),
    }
}

/// Locate a point or an address.
#[utoipa::path(
    get,
    path = "/api/v1/locate",
    operation_id = "locate",
    tag = "geography",
    params(LocateParams),
    responses(
        (status = 200, description = "The QPV and perimeters containing the place, its status and the nearest QPV", body = LocateAnswer),
        (status = 422, description = "Missing, unreadable, out-of-range or swapped coordinates", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn locate(
    State(state): State<AppState>,
    Query(p): Query<LocateParams>,
) -> ApiResult<Json<LocateAnswer>> {
    let snap = state.geo.snapshot().await?;
    if let Some(a) = p.address.as_deref().filter(|a| !a.trim().is_empty()) {
        return Ok(Json(snap.answer_address(a)));
    }
    let (lon, lat, x, y) = (
        num("lon", &p.lon)?,
        num("lat", &p.lat)?,
        num("x", &p.x)?,
        num("y", &p.y)?,
    );
    let (lon, lat) = match (lon, lat, x, y) {
        (Some(lon), Some(lat), _, _) => {
            geo::check_wgs84(lon, lat).map_err(|m| bad("lon", &crate::layout::capitalize(&m)))?;
            (lon, lat)
        }
        (None, None, Some(x), Some(y)) => {
            geo::lambert93_to_wgs84(x, y).map_err(|m| bad("x", &crate::layout::capitalize(&m)))?
        }
        _ => {
            return Err(bad(
                "lon",
                "Donnez lon et lat (WGS84), x et y (Lambert-93), ou address.",
            ))
        }
    };
    Ok(Json(snap.answer(lon, lat, None)))
}

/// Column names of a batch (all optional: detected otherwise).
#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct BatchParams {
    /// Longitude column.
    pub lon: Option<String>,
    /// Latitude column.
    pub lat: Option<String>,
    /// Lambert-93 X column.
    pub x: Option<String>,
    /// Lambert-93 Y column.
    pub y: Option<String>,
    /// Address column(s), comma-separated.
    pub address: Option<String>,
    /// File name, to tell CSV from XLSX when the content does not (optional).
    pub filename: Option<String>,
    /// XLSX: the sheet to read (default: the first one; the sheet read is named in the
    /// `Quartiers-Feuille` header).
    pub sheet: Option<String>,
}

/// Locate every row of a CSV or XLSX file.
///
/// The body is the file itself, streamed to a temporary file and deleted after the job. A
/// file over the platform's upload limit (1 Gio by default, `serve --max-upload-mb`) is
/// refused with 413 and nothing of it is kept; a client that sends `Expect: 100-continue`
/// with a larger `Content-Length` is refused before sending it. The response is the same
/// file with the columns `qpv_code`, `qpv_nom`, `autres_perimetres`, `statut`,
/// `distance_qpv_m`, `score_geocodage`, `message` added, same rows in the same order,
/// streamed; the counts are in the `Quartiers-*` headers. For an XLSX workbook, the sheet
/// read (the first one unless `sheet` names another) is in `Quartiers-Feuille`
/// (percent-encoded UTF-8) and `Quartiers-Feuilles` counts the sheets of the workbook.
#[utoipa::path(
    post,
    path = "/api/v1/locate/batch",
    operation_id = "locateBatch",
    tag = "geography",
    params(BatchParams),
    request_body(content = Vec<u8>, description = "CSV (`,` `;` or tab; UTF-8 or Windows-1252) or XLSX file", content_type = "text/csv"),
    responses(
        (status = 200, description = "The input with the added columns, in the input's format; headers Quartiers-Lignes, Quartiers-Dans-Qpv, Quartiers-Hors-Qpv, Quartiers-A-Verifier, Quartiers-Non-Localisees, and for XLSX Quartiers-Feuille, Quartiers-Feuilles"),
        (status = 413, description = "File over the upload limit (1 GiB by default): nothing kept", body = crate::error::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unreadable file (binary, empty, no location column, unknown sheet…)", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn locate_batch(
    State(state): State<AppState>,
    Query(p): Query<BatchParams>,
    request: Request,
) -> Result<Response, Response> {
    let problem = |status: StatusCode, kind: &str, title: &str, detail: String| {
        super::problem(status, kind, title, &detail)
    };
    let too_large = || {
        problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Fichier trop volumineux",
            crate::upload::too_large_message(
                &state.config,
                p.filename.as_deref(),
                Some("quartiers locate"),
            ),
        )
    };
    let fields = BatchFields::from_params(&p);
    let spec = fields.spec().map_err(|m| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-request",
            "Requête invalide",
            m,
        )
    })?;
    if crate::upload::refuse_before_body(request.headers(), state.config.max_upload_bytes, 0) {
        return Err(too_large());
    }
    let tmp =
        match crate::upload::stream_to_temp(&state.config, request.into_body().into_data_stream())
            .await
        {
            Ok(t) => t,
            Err(UploadError::TooLarge) => return Err(too_large()),
            Err(UploadError::Interrupted(m)) => {
                return Err(problem(
                    StatusCode::BAD_REQUEST,
                    "bad-request",
                    "Envoi interrompu",
                    m,
                ))
            }
            Err(UploadError::Io(e)) => {
                return Err(ApiError(Error::Internal(e.into())).into_response())
            }
        };
    if tmp.as_file().metadata().map(|m| m.len()).unwrap_or(0) == 0 {
        return Err(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad-request",
            "Fichier vide",
            "Le corps de la requête est vide : envoyez le fichier CSV ou XLSX.".into(),
        ));
    }
    let snap = state
        .geo
        .snapshot()
        .await
        .map_err(|e| ApiError::from(e).into_response())?;
    let input = tmp
        .reopen()
        .map_err(|e| ApiError(Error::Internal(e.into())).into_response())?;
    let name = p.filename.clone();
    let sheet = p.sheet.clone().filter(|s| !s.trim().is_empty());
    let config = state.config.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let r = run_batch(&snap, &config, input, name.as_deref(), sheet, spec);
        drop(tmp);
        r
    })
    .await
    .map_err(|e| ApiError(Error::Internal(e.into())).into_response())?
    .map_err(|m| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unreadable-file",
            "Fichier illisible",
            m,
        )
    })?;
    let s = &outcome.summary;
    let file = tokio::fs::File::open(outcome.file.path())
        .await
        .map_err(|e| ApiError(Error::Internal(e.into())).into_response())?;
    // The result file is unlinked now; the open handle streams it.
    let format = outcome.format;
    let headers = [
        ("quartiers-lignes", s.rows),
        ("quartiers-dans-qpv", s.in_qpv),
        ("quartiers-hors-qpv", s.outside_qpv),
        ("quartiers-a-verifier", s.to_check),
        ("quartiers-non-localisees", s.not_located),
    ];
    let sheet = s.sheet.clone();
    drop(outcome.file);
    let mut resp = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(result_mime(format)),
    );
    for (k, v) in headers {
        h.insert(k, HeaderValue::from(v));
    }
    if let Some(sheet) = sheet {
        if let Ok(v) = HeaderValue::from_str(&percent_encode(&sheet.name)) {
            h.insert("quartiers-feuille", v);
        }
        h.insert("quartiers-feuilles", HeaderValue::from(sheet.count as u64));
    }
    Ok(resp)
}

/// Percent-encodes everything but unreserved ASCII (RFC 3986), for a header value.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl BatchFields {
    fn from_params(p: &BatchParams) -> BatchFields {
        let mut f = BatchFields::default();
        f.set(
            p.lon.clone().unwrap_or_default(),
            p.lat.clone().unwrap_or_default(),
            p.x.clone().unwrap_or_default(),
            p.y.clone().unwrap_or_default(),
            p.address.clone().unwrap_or_default(),
        );
        f
    }
}

/// A QPV or perimeter of the registry.
#[derive(Debug, Serialize, ToSchema)]
pub struct QpvSummary {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Generation.
    pub generation: String,
    /// INSEE codes of its communes.
    pub communes: Vec<String>,
    /// SIREN of its EPCI.
    pub epci_siren: Option<String>,
    /// Contract.
    pub contract: Option<geo::ContractRef>,
    /// Area in square metres.
    pub area_m2: i64,
    /// Criteria (perimeters other than QPV).
    pub criteria: Option<String>,
}

/// Filters of the QPV list.
#[derive(Debug, Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct QpvListParams {
    /// Only this generation (default: the newest loaded).
    pub generation: Option<String>,
    /// Kind (default `qpv`; `all` for every perimeter).
    pub kind: Option<String>,
    /// Only QPV of this commune (INSEE code).
    pub commune: Option<String>,
}

fn summary_of(snap: &Snapshot, r: &quartiers_store::geography::PerimeterRow) -> QpvSummary {
    let links = snap.links();
    QpvSummary {
        code: r.code.clone(),
        name: r.name.clone(),
        kind: r.kind.clone(),
        generation: r.generation.clone(),
        communes: r.communes.clone(),
        epci_siren: r.epci_siren.clone(),
        contract: snap
            .entries
            .iter()
            .find(|e| e.row_id == r.id)
            .and_then(|e| geo::contract_of(&links, e))
            .map(|c| geo::ContractRef {
                slug: c.slug.clone(),
                name: c.name.clone(),
            }),
        area_m2: r.area_m2,
        criteria: r.criteria.clone(),
    }
}

/// List the QPV (or every perimeter) of the registry.
#[utoipa::path(
    get,
    path = "/api/v1/qpv",
    operation_id = "listQpv",
    tag = "geography",
    params(QpvListParams),
    responses(
        (status = 200, description = "QPV of the registry, by code", body = Vec<QpvSummary>),
        (status = 422, description = "Unknown kind, or a commune that is not an INSEE code", body = crate::error::Problem, content_type = "application/problem+json")
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Query(p): Query<QpvListParams>,
) -> ApiResult<Json<Vec<QpvSummary>>> {
    let mut errors = quartiers_domain::ValidationErrors::new();
    if let Some(k) = p.kind.as_deref().filter(|k| *k != "all") {
        if quartiers_geo::PerimeterKind::parse(k).is_none() {
            errors.add(
                "kind",
                format!(
                    "type de périmètre inconnu « {k} » : qpv, attention_perimeter, \
                     renewal_site, watch_neighbourhood, other ou all"
                ),
            );
        }
    }
    if let Some(c) = p.commune.as_deref() {
        if !quartiers_geo::perimeter::is_insee_code(c) {
            errors.add(
                "commune",
                format!(
                    "« {c} » n'est pas un code INSEE de commune (5 caractères, par exemple 59350)"
                ),
            );
        }
    }
    if !errors.is_empty() {
        return Err(ApiError(Error::Validation(errors)));
    }
    let snap = state.geo.snapshot().await?;
    let rows = state.store.list_perimeters().await?;
    let kind = p.kind.clone().unwrap_or_else(|| "qpv".into());
    let generation = p.generation.clone().or_else(|| {
        if kind == "qpv" {
            snap.current_generation.clone()
        } else {
            None
        }
    });
    let mut out: Vec<QpvSummary> = rows
        .iter()
        .filter(|r| kind == "all" || r.kind == kind)
        .filter(|r| generation.as_ref().is_none_or(|g| &r.generation == g))
        .filter(|r| p.commune.as_ref().is_none_or(|c| r.communes.contains(c)))
        .map(|r| summary_of(&snap, r))
        .collect();
    out.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Json(out))
}

/// A QPV with its geometry.
#[derive(Debug, Serialize, ToSchema)]
pub struct QpvDetail {
    /// Summary.
    #[serde(flatten)]
    pub summary: QpvSummary,
    /// EPCI name.
    pub epci_name: Option<String>,
    /// GeoJSON geometry (WGS84 MultiPolygon).
    #[schema(value_type = Object)]
    pub geometry: serde_json::Value,
    /// Other generations or kinds with the same code.
    pub others: Vec<QpvSummary>,
    /// 2015 ↔ 2024 correspondence by overlap.
    pub correspondence: Vec<CorrespondenceLine>,
}

/// One line of the correspondence.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrespondenceLine {
    /// 2015 code.
    pub code_2015: String,
    /// 2024 code.
    pub code_2024: String,
    /// Share of the 2015 QPV's area in the 2024 one.
    pub share_of_2015: f64,
    /// Share of the 2024 QPV's area in the 2015 one.
    pub share_of_2024: f64,
}

/// One QPV (or perimeter) by code.
#[utoipa::path(
    get,
    path = "/api/v1/qpv/{code}",
    operation_id = "getQpv",
    tag = "geography",
    params(("code" = String, Path, description = "QPV code, e.g. QN05971M")),
    responses(
        (status = 200, description = "The QPV, newest generation", body = QpvDetail),
        (status = 404, description = "No such code", body = crate::error::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Path(code): Path<String>,
) -> ApiResult<Json<QpvDetail>> {
    let rows = state.store.perimeters_by_code(code.trim()).await?;
    let Some(first) = rows.first() else {
        return Err(ApiError(Error::NotFound));
    };
    let snap = state.geo.snapshot().await?;
    let correspondence = state
        .store
        .correspondence_of(&first.row.code)
        .await?
        .into_iter()
        .map(|c| CorrespondenceLine {
            code_2015: c.code_2015,
            code_2024: c.code_2024,
            share_of_2015: c.share_of_2015,
            share_of_2024: c.share_of_2024,
        })
        .collect();
    Ok(Json(QpvDetail {
        summary: summary_of(&snap, &first.row),
        epci_name: first.row.epci_name.clone(),
        geometry: serde_json::from_str(&first.geometry).unwrap_or_default(),
        others: rows[1..]
            .iter()
            .map(|r| summary_of(&snap, &r.row))
            .collect(),
        correspondence,
    }))
}
