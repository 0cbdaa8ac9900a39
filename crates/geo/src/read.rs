//! Readers that turn perimeter files (GeoJSON, Esri shapefile, GeoPackage) into
//! [`Perimeter`]s in WGS84, with an [`ImportReport`].
//!
//! A reader never gives up on a whole file because of one bad feature: each feature is
//! either accepted, accepted after a documented repair, or rejected with its number
//! (1-based, in file order) and a French message. Only file-level problems (unreadable
//! file, unknown coordinate system, missing `.prj`…) are returned as [`ReadError`].
//!
//! # Repair rules
//!
//! Applied to every ring, in the source coordinates, before reprojection:
//! 1. consecutive duplicate vertices are dropped;
//! 2. an unclosed ring is closed by repeating its first vertex;
//! 3. a ring left with fewer than 4 points is dropped (if it is an exterior ring, its
//!    holes go with it);
//!
//! each of which is reported in [`ImportReport::repaired`]. Self-touching rings (frequent
//! after coordinate rounding) are kept as they are: the point-in-polygon semantics used by
//! [`crate::index`] (even-odd rule per polygon, boundary counts as inside) is unaffected.
//!
//! # Rejection rules
//!
//! A feature is rejected when its geometry is absent or empty, not polygonal, holds a
//! non-finite coordinate, lies outside the valid range (longitude ±180°, latitude ±90°,
//! or the area of use of a projected system), has lost all its polygons in the repair,
//! or lacks a code. Latitude/longitude (or X/Y) given in the wrong order are detected and
//! reported as such; with [`ReadOptions::fix_swapped_axes`] they are swapped back instead
//! (and reported as a repair).

use crate::crs::{Crs, CrsError, ToWgs84};
use crate::perimeter::{is_insee_code, qpv_generation_from_code, Perimeter, PerimeterKind};
use geo::{LineString, MultiPolygon, Polygon};
use serde_json::{Map, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Options of the readers. `Default` reads QPV files with automatic field detection.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Kind given to every perimeter read.
    pub kind: PerimeterKind,
    /// Property holding the code. `None`: first of `code_qp`, `CODE_QP`, `code`, `CODE`,
    /// `id`, `ID` present in the feature.
    pub code_field: Option<String>,
    /// Property holding the name. `None`: first of `lib_qp`, `NOM_QP`, `nom_qp`, `nom`,
    /// `NOM`, `name`, `libelle`, `LIBELLE`; the code when none is present.
    pub name_field: Option<String>,
    /// Property holding the INSEE commune codes (comma/semicolon-separated string or
    /// array). `None`: first of `insee_com`, `INSEE_COM`, `code_commune`, `CODE_COMMUNE`,
    /// `codes_insee`. Values that are not INSEE codes (e.g. commune names, as in the 2015
    /// `COMMUNE_QP` field) are ignored.
    pub communes_field: Option<String>,
    /// Generation to record (e.g. `"2024"`). `None`: deduced from QPV codes (`QN…` → 2024,
    /// `QP…` → 2015) for [`PerimeterKind::Qpv`].
    pub generation: Option<String>,
    /// Coordinate system to use when the file does not declare one (shapefile without
    /// `.prj`, GeoPackage with an undefined srs). A declared system always wins.
    pub crs: Option<Crs>,
    /// GeoPackage layer (table) to read; required when the file holds several layers.
    pub layer: Option<String>,
    /// Swap coordinates back when the axes are obviously inverted, instead of rejecting.
    pub fix_swapped_axes: bool,
}

/// A feature accepted after a repair.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Repair {
    /// Feature number, 1-based, in file order.
    pub feature: usize,
    /// Code of the perimeter.
    pub code: String,
    /// What was done, in French.
    pub action: String,
}

/// A rejected feature.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rejection {
    /// Feature number, 1-based, in file order.
    pub feature: usize,
    /// Why it was rejected, in French.
    pub message: String,
}

/// Outcome of reading one file.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ImportReport {
    /// Number of features read from the file (accepted + rejected).
    pub features_read: usize,
    /// Number of perimeters produced.
    pub accepted: usize,
    /// Features accepted after repair (one entry per feature, actions joined).
    pub repaired: Vec<Repair>,
    /// Features rejected.
    pub rejected: Vec<Rejection>,
    /// File-level remarks in French (duplicate codes, assumed coordinate system…).
    pub warnings: Vec<String>,
    /// Coordinate system of the source.
    pub source_crs: Option<Crs>,
}

impl ImportReport {
    /// A one-paragraph French summary.
    pub fn summary_fr(&self) -> String {
        let mut s = format!(
            "{} entité(s) lue(s) : {} acceptée(s) dont {} réparée(s), {} rejetée(s).",
            self.features_read,
            self.accepted,
            self.repaired.len(),
            self.rejected.len()
        );
        if let Some(c) = self.source_crs {
            s.push_str(&format!(" Système de coordonnées source : {c}."));
        }
        s
    }
}

/// Perimeters read from a file and the report.
#[derive(Debug, Clone, Default)]
pub struct ReadOutput {
    /// Accepted perimeters, in file order.
    pub perimeters: Vec<Perimeter>,
    /// What happened.
    pub report: ImportReport,
}

/// File-level error. Messages are in French.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("lecture impossible de « {path} » : {source}")]
    Io {
        /// File name (no directory).
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// The content is not a GeoJSON FeatureCollection.
    #[error("fichier GeoJSON invalide : {0}")]
    GeoJson(String),
    /// Shapefile without `.prj` and no system given by the caller.
    #[error("fichier .prj absent à côté de « {0} » : le système de coordonnées est inconnu. Joignez le fichier .prj du shapefile ou indiquez le système (par exemple EPSG:2154 pour Lambert-93).")]
    MissingPrj(String),
    /// The shapefile could not be read.
    #[error("shapefile illisible : {0}")]
    Shapefile(String),
    /// The GeoPackage could not be read.
    #[error("GeoPackage illisible : {0}")]
    GeoPackage(String),
    /// Unknown or unsupported coordinate system.
    #[error(transparent)]
    Crs(#[from] CrsError),
    /// The file type is not supported.
    #[error("format de fichier non pris en charge : « {0} » (acceptés : .geojson, .json, .geojson.gz, .shp, .gpkg)")]
    UnsupportedFormat(String),
}

fn file_label(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn io_err(path: &Path, e: std::io::Error) -> ReadError {
    ReadError::Io {
        path: file_label(path),
        source: e,
    }
}

/// Read any supported file, choosing the reader from the extension
/// (`.geojson`, `.json`, `.gz`, `.shp`, `.gpkg`).
pub fn read_path(path: &Path, opts: &ReadOptions) -> Result<ReadOutput, ReadError> {
    let name = file_label(path).to_ascii_lowercase();
    if name.ends_with(".shp") {
        read_shapefile(path, opts)
    } else if name.ends_with(".gpkg") {
        read_geopackage(path, opts)
    } else if name.ends_with(".geojson") || name.ends_with(".json") || name.ends_with(".gz") {
        read_geojson_path(path, opts)
    } else {
        Err(ReadError::UnsupportedFormat(file_label(path)))
    }
}

// ---------------------------------------------------------------------------------------
// Shared feature processing
// ---------------------------------------------------------------------------------------

/// Polygons as rings of `(x, y)` in source coordinates (exterior first).
type RawPolygons = Vec<Vec<Vec<(f64, f64)>>>;

struct Ctx<'a> {
    opts: &'a ReadOptions,
    crs: Crs,
    to_wgs84: ToWgs84,
    out: ReadOutput,
    seen_codes: std::collections::HashMap<String, usize>,
}

impl<'a> Ctx<'a> {
    fn new(opts: &'a ReadOptions, crs: Crs) -> Result<Self, ReadError> {
        let out = ReadOutput {
            report: ImportReport {
                source_crs: Some(crs),
                ..Default::default()
            },
            ..Default::default()
        };
        Ok(Ctx {
            opts,
            crs,
            to_wgs84: crs.to_wgs84()?,
            out,
            seen_codes: Default::default(),
        })
    }

    fn reject(&mut self, feature: usize, message: String) {
        self.out.report.features_read += 1;
        self.out
            .report
            .rejected
            .push(Rejection { feature, message });
    }

    /// Process one feature: properties and geometry (or a geometry error message).
    fn feature(
        &mut self,
        feature: usize,
        props: Map<String, Value>,
        geom: Result<RawPolygons, String>,
    ) {
        let code = match self.code(&props) {
            Ok(c) => c,
            Err(m) => return self.reject(feature, m),
        };
        let geom = match geom {
            Ok(g) => g,
            Err(m) => return self.reject(feature, format!("{code} : {m}")),
        };
        let mut actions = Vec::new();
        let geometry = match process_geometry(
            geom,
            self.crs,
            &self.to_wgs84,
            self.opts.fix_swapped_axes,
            &mut actions,
        ) {
            Ok(g) => g,
            Err(m) => return self.reject(feature, format!("{code} : {m}")),
        };
        let name = self.name(&props).unwrap_or_else(|| code.clone());
        let insee_communes = self.communes(&props);
        let generation = self.opts.generation.clone().or_else(|| {
            (self.opts.kind == PerimeterKind::Qpv)
                .then(|| qpv_generation_from_code(&code).map(str::to_string))
                .flatten()
        });
        if let Some(first) = self.seen_codes.get(&code) {
            self.out.report.warnings.push(format!(
                "code « {code} » en double : entités n°{first} et n°{feature} (les deux sont conservées)"
            ));
        } else {
            self.seen_codes.insert(code.clone(), feature);
        }
        if !actions.is_empty() {
            self.out.report.repaired.push(Repair {
                feature,
                code: code.clone(),
                action: actions.join(" ; "),
            });
        }
        self.out.report.features_read += 1;
        self.out.report.accepted += 1;
        self.out.perimeters.push(Perimeter {
            code,
            name,
            kind: self.opts.kind,
            insee_communes,
            generation,
            geometry,
            properties: props,
        });
    }

    fn code(&self, props: &Map<String, Value>) -> Result<String, String> {
        const AUTO: [&str; 7] = [
            "code_qp",
            "CODE_QP",
            "code_quartier",
            "code",
            "CODE",
            "id",
            "ID",
        ];
        let fields: Vec<&str> = match &self.opts.code_field {
            Some(f) => vec![f.as_str()],
            None => AUTO.to_vec(),
        };
        for f in &fields {
            if let Some(v) = props.get(*f).and_then(value_to_string) {
                return Ok(v);
            }
        }
        Err(format!(
            "code absent : aucune des propriétés {} n'est renseignée",
            fields
                .iter()
                .map(|f| format!("« {f} »"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    fn name(&self, props: &Map<String, Value>) -> Option<String> {
        const AUTO: [&str; 9] = [
            "lib_qp", "NOM_QP", "nom_qp", "LIB_QP", "nom", "NOM", "name", "libelle", "LIBELLE",
        ];
        match &self.opts.name_field {
            Some(f) => props.get(f).and_then(value_to_string),
            None => AUTO
                .iter()
                .find_map(|f| props.get(*f).and_then(value_to_string)),
        }
    }

    fn communes(&self, props: &Map<String, Value>) -> Vec<String> {
        const AUTO: [&str; 5] = [
            "insee_com",
            "INSEE_COM",
            "code_commune",
            "CODE_COMMUNE",
            "codes_insee",
        ];
        let v = match &self.opts.communes_field {
            Some(f) => props.get(f),
            None => AUTO.iter().find_map(|f| props.get(*f)),
        };
        let mut out: Vec<String> = Vec::new();
        let mut push = |s: &str| {
            for part in s.split([',', ';', '|']) {
                let p = part.trim();
                if is_insee_code(p) && !out.iter().any(|o| o == p) {
                    out.push(p.to_ascii_uppercase());
                }
            }
        };
        match v {
            Some(Value::String(s)) => push(s),
            Some(Value::Array(a)) => {
                for x in a {
                    if let Some(s) = value_to_string(x) {
                        push(&s)
                    }
                }
            }
            Some(Value::Number(n)) => push(&format!("{n:0>5}")),
            _ => {}
        }
        out
    }
}

fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Swap state of a feature's coordinates, judged on its bounding box.
fn looks_swapped(crs: Crs, b: (f64, f64, f64, f64)) -> bool {
    let (xmin, ymin, xmax, ymax) = b;
    if crs == Crs::Wgs84 {
        let out_of_range = xmin < -180.0 || xmax > 180.0 || ymin < -90.0 || ymax > 90.0;
        let fits_swapped = ymin >= -180.0 && ymax <= 180.0 && xmin >= -90.0 && xmax <= 90.0;
        if out_of_range {
            return fits_swapped;
        }
        // Metropolitan France given as (lat, lon): x in 41..51.6, y in -5.8..10. Such
        // (lon, lat) values would be in East Africa / the Indian Ocean, where no French
        // territory lies (Mayotte is at 12.8°S, La Réunion at 55°E).
        xmin >= 41.0 && xmax <= 51.6 && ymin >= -5.8 && ymax <= 10.0
    } else {
        let (axmin, aymin, axmax, aymax) = crs.area_of_use();
        let inside = |x0: f64, y0: f64, x1: f64, y1: f64| {
            x0 >= axmin && x1 <= axmax && y0 >= aymin && y1 <= aymax
        };
        !inside(xmin, ymin, xmax, ymax) && inside(ymin, xmin, ymax, xmax)
    }
}

fn process_geometry(
    polys: RawPolygons,
    crs: Crs,
    to_wgs84: &ToWgs84,
    fix_swapped: bool,
    actions: &mut Vec<String>,
) -> Result<MultiPolygon<f64>, String> {
    if polys.iter().all(|p| p.iter().all(|r| r.is_empty())) {
        return Err("géométrie absente ou vide".into());
    }
    // Finite coordinates and bbox.
    let mut b = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for (pi, p) in polys.iter().enumerate() {
        for (ri, r) in p.iter().enumerate() {
            for (vi, &(x, y)) in r.iter().enumerate() {
                if !x.is_finite() || !y.is_finite() {
                    return Err(format!(
                        "coordonnée non numérique (NaN ou infinie) au sommet {} de l'anneau {} du polygone {}",
                        vi + 1,
                        ri + 1,
                        pi + 1
                    ));
                }
                b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            }
        }
    }
    let mut polys = polys;
    if looks_swapped(crs, b) {
        let what = if crs == Crs::Wgs84 {
            "latitude et longitude"
        } else {
            "X et Y"
        };
        if fix_swapped {
            for p in polys.iter_mut() {
                for r in p.iter_mut() {
                    for c in r.iter_mut() {
                        *c = (c.1, c.0);
                    }
                }
            }
            b = (b.1, b.0, b.3, b.2);
            actions.push(format!("{what} inversées : coordonnées permutées"));
        } else {
            return Err(format!(
                "{what} semblent inversées (emprise x {:.4}…{:.4}, y {:.4}…{:.4}) : corrigez l'ordre des coordonnées ou importez avec l'option d'inversion des axes",
                b.0, b.2, b.1, b.3
            ));
        }
    }
    if crs == Crs::Wgs84 {
        if b.0 < -180.0 || b.2 > 180.0 || b.1 < -90.0 || b.3 > 90.0 {
            return Err(format!(
                "coordonnées hors limites (longitude {:.4}…{:.4}, latitude {:.4}…{:.4}) : attendu longitude entre -180 et 180, latitude entre -90 et 90 ; le fichier est-il bien en WGS84 ?",
                b.0, b.2, b.1, b.3
            ));
        }
    } else {
        let (axmin, aymin, axmax, aymax) = crs.area_of_use();
        if b.0 < axmin || b.2 > axmax || b.1 < aymin || b.3 > aymax {
            return Err(format!(
                "coordonnées hors de la zone de validité de {crs} (x {:.1}…{:.1}, y {:.1}…{:.1}) : le système de coordonnées déclaré est-il le bon ?",
                b.0, b.2, b.1, b.3
            ));
        }
    }
    // Ring repairs.
    let mut dup_total = 0usize;
    let mut closed = 0usize;
    let mut dropped_rings = Vec::new();
    let mut out_polys = Vec::with_capacity(polys.len());
    for (pi, p) in polys.into_iter().enumerate() {
        let mut rings_out: Vec<Vec<(f64, f64)>> = Vec::with_capacity(p.len());
        for (ri, mut r) in p.into_iter().enumerate() {
            let before = r.len();
            r.dedup();
            dup_total += before - r.len();
            if r.len() >= 2 && r.first() != r.last() {
                let f = r[0];
                r.push(f);
                closed += 1;
            }
            if r.len() < 4 {
                dropped_rings.push(format!("polygone {} anneau {}", pi + 1, ri + 1));
                if ri == 0 {
                    break; // exterior gone: the holes go with it
                }
                continue;
            }
            rings_out.push(r);
        }
        if !rings_out.is_empty() {
            out_polys.push(rings_out);
        }
    }
    if dup_total > 0 {
        actions.push(format!(
            "{dup_total} sommet(s) consécutif(s) en double supprimé(s)"
        ));
    }
    if closed > 0 {
        actions.push(format!("{closed} anneau(x) non fermé(s) refermé(s)"));
    }
    if !dropped_rings.is_empty() {
        actions.push(format!(
            "{} anneau(x) de moins de 4 points supprimé(s) ({})",
            dropped_rings.len(),
            dropped_rings.join(", ")
        ));
    }
    if out_polys.is_empty() {
        return Err(
            "aucun polygone exploitable après réparation (anneaux de moins de 4 points)".into(),
        );
    }
    // Reprojection.
    let mut result = Vec::with_capacity(out_polys.len());
    for p in out_polys {
        let mut rings = Vec::with_capacity(p.len());
        for mut r in p {
            to_wgs84
                .transform_in_place(&mut r)
                .map_err(|e| format!("reprojection impossible : {e}"))?;
            if r.iter()
                .any(|&(x, y)| !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y))
            {
                return Err("coordonnées hors limites après reprojection".into());
            }
            rings.push(LineString::from(r));
        }
        let ext = rings.remove(0);
        result.push(Polygon::new(ext, rings));
    }
    Ok(MultiPolygon(result))
}

// ---------------------------------------------------------------------------------------
// GeoJSON
// ---------------------------------------------------------------------------------------

/// Read a GeoJSON FeatureCollection file, gzipped or not (detected from the content).
pub fn read_geojson_path(path: &Path, opts: &ReadOptions) -> Result<ReadOutput, ReadError> {
    let bytes = std::fs::read(path).map_err(|e| io_err(path, e))?;
    read_geojson_bytes(&bytes, opts).map_err(|e| match e {
        ReadError::Io { source, .. } => io_err(path, source),
        other => other,
    })
}

/// Read a GeoJSON FeatureCollection from bytes, gzipped or not.
///
/// The `crs` member (GeoJSON 2008) is honoured; without it the data is WGS84 lon/lat.
/// Supported geometries: Polygon, MultiPolygon, and GeometryCollection of those.
///
/// Damaged files are read as far as they can be:
/// - the non-standard number tokens `NaN`, `Infinity` and `-Infinity` (written by some
///   tools) are read as missing values, so only the features holding them are rejected;
/// - in a truncated or malformed FeatureCollection (bad syntax in one feature, file cut
///   short, truncated gzip), every complete feature is still processed, each feature that
///   is not valid JSON is rejected with its number and the line of the fault, and the
///   report says where the file breaks off. A file in which no feature can be delimited is
///   a [`ReadError::GeoJson`] with the line and column of the fault.
pub fn read_geojson_bytes(bytes: &[u8], opts: &ReadOptions) -> Result<ReadOutput, ReadError> {
    let mut warnings = Vec::new();
    let owned;
    let text: &[u8] = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut s = Vec::new();
        if let Err(e) = flate2::read::MultiGzDecoder::new(bytes).read_to_end(&mut s) {
            if s.is_empty() {
                return Err(ReadError::GeoJson(format!(
                    "décompression gzip impossible : {e}"
                )));
            }
            warnings.push(format!(
                "archive gzip incomplète ou abîmée ({e}) : seule la partie décompressée ({} octets) a été lue",
                s.len()
            ));
        }
        owned = s;
        &owned
    } else {
        bytes
    };
    let text = text
        .strip_prefix(b"\xEF\xBB\xBF".as_slice())
        .unwrap_or(text);
    let err = match serde_json::from_slice::<Value>(text) {
        Ok(doc) => return read_geojson_doc(doc, opts, warnings),
        Err(e) => e,
    };
    let fixed = non_finite_to_null(text);
    if let Some(fixed) = &fixed {
        if let Ok(doc) = serde_json::from_slice::<Value>(fixed) {
            warnings.push(NON_FINITE_NOTE.into());
            return read_geojson_doc(doc, opts, warnings);
        }
    }
    let text = fixed.as_deref().unwrap_or(text);
    // The fault is looked for again in the text actually salvaged.
    let err = serde_json::from_slice::<Value>(text).err().unwrap_or(err);
    if fixed.is_some() {
        warnings.push(NON_FINITE_NOTE.into());
    }
    match salvage_feature_collection(text, opts, &err, warnings)? {
        Some(out) => Ok(out),
        None => Err(ReadError::GeoJson(json_error_fr(&err))),
    }
}

const NON_FINITE_NOTE: &str = "valeurs NaN ou Infinity (hors norme JSON) lues comme absentes : les entités qui en contiennent sont rejetées";

/// A serde_json error in French, with its line and column.
fn json_error_fr(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        Category::Eof => "le fichier s'arrête avant la fin du document (fichier tronqué ?)",
        Category::Syntax => "syntaxe invalide",
        Category::Data => "valeur inattendue",
        Category::Io => "lecture impossible",
    };
    format!(
        "JSON mal formé à la ligne {}, colonne {} : {what} (détail : {e})",
        e.line(),
        e.column()
    )
}

fn read_geojson_doc(
    doc: Value,
    opts: &ReadOptions,
    warnings: Vec<String>,
) -> Result<ReadOutput, ReadError> {
    let kind = doc
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let crs = match opts.crs {
        Some(c) if doc.get("crs").is_none() => c,
        _ => Crs::from_geojson_crs(doc.get("crs"))?,
    };
    let mut ctx = Ctx::new(opts, crs)?;
    ctx.out.report.warnings = warnings;
    let features: Vec<Value> = match (kind.as_str(), doc) {
        ("FeatureCollection", Value::Object(mut m)) => match m.remove("features") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(ReadError::GeoJson(
                    "membre « features » absent ou non tableau".into(),
                ))
            }
        },
        ("Feature", doc) => vec![doc],
        (other, _) => {
            return Err(ReadError::GeoJson(format!(
                "type « {other} » inattendu : une FeatureCollection est attendue"
            )))
        }
    };
    for (i, f) in features.into_iter().enumerate() {
        geojson_feature(&mut ctx, i + 1, f);
    }
    Ok(ctx.out)
}

fn geojson_feature(ctx: &mut Ctx<'_>, n: usize, f: Value) {
    let Value::Object(mut obj) = f else {
        ctx.reject(n, "entité qui n'est pas un objet JSON".into());
        return;
    };
    let props = match obj.remove("properties") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let geom = match obj.get("geometry") {
        None | Some(Value::Null) => Err("géométrie absente".to_string()),
        Some(g) => geojson_polygons(g),
    };
    ctx.feature(n, props, geom);
}

/// Replaces the bare tokens `NaN`, `Infinity`, `+Infinity` and `-Infinity` (outside
/// strings) by `null`; `None` when there are none.
fn non_finite_to_null(text: &[u8]) -> Option<Vec<u8>> {
    const TOKENS: [&[u8]; 4] = [b"NaN", b"Infinity", b"-Infinity", b"+Infinity"];
    let mut out: Option<Vec<u8>> = None;
    let mut in_string = false;
    let mut i = 0;
    let mut copied = 0;
    while i < text.len() {
        let c = text[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let boundary_before = i == 0
            || matches!(
                text[i - 1],
                b'[' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r'
            );
        if boundary_before && matches!(c, b'N' | b'I' | b'-' | b'+') {
            if let Some(t) = TOKENS.iter().find(|t| text[i..].starts_with(t)) {
                let end = i + t.len();
                let boundary_after = text.get(end).is_none_or(|&b| {
                    matches!(b, b']' | b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                });
                if boundary_after {
                    let o = out.get_or_insert_with(|| Vec::with_capacity(text.len() + 16));
                    o.extend_from_slice(&text[copied..i]);
                    o.extend_from_slice(b"null");
                    copied = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    let mut o = out?;
    o.extend_from_slice(&text[copied..]);
    Some(o)
}

/// What a tolerant scan of a damaged FeatureCollection finds: the complete top-level
/// members, and the byte ranges of the elements of its `features` array.
#[derive(Debug, Default)]
struct Scan {
    /// Complete top-level members other than `features`: (key, value range).
    members: Vec<(String, std::ops::Range<usize>)>,
    /// Complete elements of `features`.
    features: Vec<std::ops::Range<usize>>,
    /// Start of an element cut by the end of the file.
    cut_feature: Option<usize>,
    /// Whether the `features` array was found.
    has_features: bool,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i` (a `"`), `None` when cut.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// End (exclusive) of the value starting at `i`, following only strings and nesting (the
/// content is checked later by the parser); `None` when the file ends first.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            // A stray `]` or `}` is taken as a one-byte (malformed) value, so that the scan
            // always moves on.
            let j = j.max(i + 1);
            // A scalar running into the end of the file may have been cut.
            (j < b.len()).then_some(j)
        }
    }
}

fn scan_feature_collection(b: &[u8]) -> Scan {
    let mut scan = Scan::default();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return scan;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            None | Some(b'}') => return scan,
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            Some(_) => return scan,
        }
        let Some(key_end) = string_end(b, i) else {
            return scan;
        };
        let key: String = serde_json::from_slice(&b[i..key_end]).unwrap_or_default();
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return scan;
        }
        i = skip_ws(b, i + 1);
        if key == "features" && b.get(i) == Some(&b'[') {
            scan.has_features = true;
            i += 1;
            loop {
                i = skip_ws(b, i);
                match b.get(i) {
                    None => return scan,
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    Some(b',') => {
                        i += 1;
                        continue;
                    }
                    Some(_) => {}
                }
                match value_end(b, i) {
                    Some(end) => {
                        scan.features.push(i..end);
                        i = end;
                    }
                    None => {
                        scan.cut_feature = Some(i);
                        return scan;
                    }
                }
            }
        } else {
            match value_end(b, i) {
                Some(end) => {
                    scan.members.push((key, i..end));
                    i = end;
                }
                None => return scan,
            }
        }
    }
}

/// Line (1-based) of byte offset `at`.
fn line_of(b: &[u8], at: usize) -> usize {
    1 + b[..at.min(b.len())].iter().filter(|&&c| c == b'\n').count()
}

/// Reads what can be read of a FeatureCollection that does not parse as a whole; `None`
/// when not a single feature can be delimited.
fn salvage_feature_collection(
    text: &[u8],
    opts: &ReadOptions,
    err: &serde_json::Error,
    mut warnings: Vec<String>,
) -> Result<Option<ReadOutput>, ReadError> {
    let scan = scan_feature_collection(text);
    if !scan.has_features || (scan.features.is_empty() && scan.cut_feature.is_none()) {
        return Ok(None);
    }
    let member = |name: &str| -> Option<Value> {
        scan.members
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, r)| serde_json::from_slice(&text[r.clone()]).ok())
    };
    if let Some(t) = member("type") {
        let t = t.as_str().unwrap_or("");
        if t != "FeatureCollection" {
            return Err(ReadError::GeoJson(format!(
                "type « {t} » inattendu : une FeatureCollection est attendue"
            )));
        }
    }
    let crs_member = member("crs");
    let crs = match opts.crs {
        Some(c) if crs_member.is_none() => c,
        _ => Crs::from_geojson_crs(crs_member.as_ref())?,
    };
    let complete = scan.features.len();
    warnings.insert(
        0,
        format!(
            "{} : {} entité(s) complète(s) ont pu être délimitées et ont été traitées{}",
            json_error_fr(err),
            complete,
            if scan.cut_feature.is_some() {
                " ; la suivante, coupée par la fin du fichier, est rejetée"
            } else {
                ""
            }
        ),
    );
    let mut ctx = Ctx::new(opts, crs)?;
    ctx.out.report.warnings = warnings;
    for (i, r) in scan.features.iter().enumerate() {
        let n = i + 1;
        match serde_json::from_slice::<Value>(&text[r.clone()]) {
            Ok(v) => geojson_feature(&mut ctx, n, v),
            Err(e) => {
                let line = line_of(text, r.start) + e.line() - 1;
                ctx.reject(
                    n,
                    format!("entité illisible, JSON mal formé à la ligne {line} : {e}"),
                );
            }
        }
    }
    if let Some(start) = scan.cut_feature {
        ctx.reject(
            complete + 1,
            format!(
                "entité coupée par la fin du fichier (elle commence à la ligne {} ; le fichier s'arrête à la ligne {}) : fichier tronqué",
                line_of(text, start),
                line_of(text, text.len())
            ),
        );
    }
    Ok(Some(ctx.out))
}

fn geojson_polygons(g: &Value) -> Result<RawPolygons, String> {
    let t = g.get("type").and_then(Value::as_str).unwrap_or("");
    let coords = g.get("coordinates");
    match t {
        "Polygon" => Ok(vec![json_polygon(coords.ok_or("coordonnées absentes")?)?]),
        "MultiPolygon" => {
            let arr = coords
                .and_then(Value::as_array)
                .ok_or("coordonnées de MultiPolygon mal formées")?;
            arr.iter().map(json_polygon).collect()
        }
        "GeometryCollection" => {
            let mut out = Vec::new();
            for sub in g
                .get("geometries")
                .and_then(Value::as_array)
                .ok_or("GeometryCollection sans « geometries »")?
            {
                if let Ok(mut p) = geojson_polygons(sub) {
                    out.append(&mut p);
                }
            }
            if out.is_empty() {
                Err("GeometryCollection sans polygone".into())
            } else {
                Ok(out)
            }
        }
        "" => Err("géométrie sans type".into()),
        other => Err(format!(
            "géométrie de type {other} : un Polygon ou MultiPolygon est attendu"
        )),
    }
}

fn json_polygon(v: &Value) -> Result<Vec<Vec<(f64, f64)>>, String> {
    let rings = v.as_array().ok_or("coordonnées de polygone mal formées")?;
    rings
        .iter()
        .map(|r| {
            r.as_array()
                .ok_or_else(|| "anneau mal formé".to_string())?
                .iter()
                .enumerate()
                .map(|(k, pt)| {
                    let a = pt.as_array().ok_or("position mal formée")?;
                    if a.len() < 2 {
                        return Err("position de moins de 2 coordonnées".to_string());
                    }
                    let num = |v: &Value| {
                        v.as_f64().ok_or_else(|| {
                            let shown = if v.is_null() {
                                "valeur absente, NaN ou Infinity".to_string()
                            } else {
                                let t = v.to_string();
                                t.chars().take(40).collect()
                            };
                            format!("coordonnée non numérique ({shown}) au sommet {}", k + 1)
                        })
                    };
                    Ok((num(&a[0])?, num(&a[1])?))
                })
                .collect()
        })
        .collect()
}

/// Write perimeters as a GeoJSON FeatureCollection (WGS84), with `code`, `name`, `kind`,
/// `insee_communes` and `generation` members in `properties`, followed by the source
/// properties that do not clash with them.
pub fn to_geojson(perimeters: &[Perimeter]) -> Value {
    let features: Vec<Value> = perimeters
        .iter()
        .map(|p| {
            let mut props = Map::new();
            props.insert("code".into(), Value::String(p.code.clone()));
            props.insert("name".into(), Value::String(p.name.clone()));
            props.insert("kind".into(), Value::String(p.kind.as_str().into()));
            props.insert(
                "insee_communes".into(),
                Value::from(p.insee_communes.clone()),
            );
            props.insert(
                "generation".into(),
                p.generation
                    .clone()
                    .map(Value::String)
                    .unwrap_or(Value::Null),
            );
            for (k, v) in &p.properties {
                props.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let coords: Vec<Value> = p
                .geometry
                .0
                .iter()
                .map(|poly| {
                    std::iter::once(poly.exterior())
                        .chain(poly.interiors().iter())
                        .map(|r| {
                            Value::from(
                                r.0.iter()
                                    .map(|c| Value::from(vec![c.x, c.y]))
                                    .collect::<Vec<_>>(),
                            )
                        })
                        .collect::<Vec<_>>()
                        .into()
                })
                .collect();
            serde_json::json!({
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "MultiPolygon", "coordinates": coords},
            })
        })
        .collect();
    serde_json::json!({"type": "FeatureCollection", "features": features})
}

// ---------------------------------------------------------------------------------------
// Shapefile
// ---------------------------------------------------------------------------------------

fn sibling(path: &Path, ext: &str) -> Option<PathBuf> {
    [ext.to_ascii_lowercase(), ext.to_ascii_uppercase()]
        .into_iter()
        .map(|e| path.with_extension(e))
        .find(|p| p.exists())
}

/// Read an Esri shapefile (`.shp` with its `.dbf`, `.shx` and `.prj`; a `.cpg` sets the
/// attribute encoding). The coordinate system comes from the `.prj`; without one the
/// read fails with [`ReadError::MissingPrj`] unless [`ReadOptions::crs`] is set.
pub fn read_shapefile(path: &Path, opts: &ReadOptions) -> Result<ReadOutput, ReadError> {
    if !path.exists() {
        return Err(io_err(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "fichier introuvable"),
        ));
    }
    let (crs, assumed) = match sibling(path, "prj") {
        Some(prj) => {
            let wkt = std::fs::read(&prj).map_err(|e| io_err(&prj, e))?;
            (Crs::from_wkt(&String::from_utf8_lossy(&wkt))?, false)
        }
        None => match opts.crs {
            Some(c) => (c, true),
            None => return Err(ReadError::MissingPrj(file_label(path))),
        },
    };
    // Shapes and attributes are read separately so that a corrupt shape does not shift
    // the attributes of the following features: with a `.shx`, each shape is located by
    // its index entry.
    let mut shapes_reader =
        shapefile::ShapeReader::from_path(path).map_err(|e| ReadError::Shapefile(shp_err_fr(e)))?;
    let has_shx = shapes_reader.shape_count().is_ok();
    let dbf_path =
        sibling(path, "dbf").ok_or_else(|| ReadError::Shapefile("fichier .dbf absent".into()))?;
    let dbf_file = std::fs::File::open(&dbf_path).map_err(|e| io_err(&dbf_path, e))?;
    let encoding = sibling(path, "cpg")
        .and_then(|c| std::fs::read_to_string(c).ok())
        .and_then(|name| shapefile::dbase::encoding::DynEncoding::from_name(&name));
    let builder = match encoding {
        Some(enc) => shapefile::dbase::ReaderBuilder::new().with_encoding(enc),
        None => shapefile::dbase::ReaderBuilder::new(),
    };
    let mut dbf = builder
        .build(std::io::BufReader::new(dbf_file))
        .map_err(|e| ReadError::Shapefile(format!("fichier .dbf illisible : {e}")))?;
    let mut ctx = Ctx::new(opts, crs)?;
    if assumed {
        ctx.out.report.warnings.push(format!(
            "fichier .prj absent : système {crs} utilisé comme indiqué"
        ));
    }
    let mut records = dbf.iter_records();
    let mut n = 0usize;
    for shape in shapes_reader.iter_shapes() {
        n += 1;
        let mut props = Map::new();
        match records.next() {
            Some(Ok(record)) => {
                for (k, v) in record {
                    props.insert(k, dbf_value(v));
                }
            }
            Some(Err(e)) => ctx
                .out
                .report
                .warnings
                .push(format!("attributs de l'entité n°{n} illisibles : {e}")),
            None => ctx
                .out
                .report
                .warnings
                .push(format!("entité n°{n} sans ligne d'attributs dans le .dbf")),
        }
        match shape {
            Ok(shape) => ctx.feature(n, props, shape_polygons(shape)),
            Err(e) => {
                ctx.reject(n, format!("entité illisible : {}", shp_err_fr(e)));
                if !has_shx {
                    ctx.out.report.warnings.push(format!(
                        "lecture interrompue après l'entité n°{n} (pas de fichier .shx pour reprendre)"
                    ));
                    break;
                }
            }
        }
    }
    Ok(ctx.out)
}

fn shp_err_fr(e: shapefile::Error) -> String {
    match e {
        shapefile::Error::MissingDbf => "fichier .dbf absent".into(),
        shapefile::Error::MissingIndexFile => "fichier .shx absent".into(),
        other => other.to_string(),
    }
}

fn dbf_value(v: shapefile::dbase::FieldValue) -> Value {
    use shapefile::dbase::FieldValue as F;
    match v {
        F::Character(Some(s)) => Value::String(s.trim_end().to_string()),
        F::Memo(s) => Value::String(s),
        F::Numeric(Some(x)) | F::Double(x) | F::Currency(x) => num_value(x),
        F::Float(Some(x)) => num_value(x as f64),
        F::Integer(i) => Value::from(i),
        F::Logical(Some(b)) => Value::Bool(b),
        F::Date(Some(d)) => {
            Value::String(format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day()))
        }
        F::DateTime(dt) => Value::String(format!(
            "{:04}-{:02}-{:02}",
            dt.date().year(),
            dt.date().month(),
            dt.date().day()
        )),
        _ => Value::Null,
    }
}

fn num_value(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

fn shape_polygons(shape: shapefile::Shape) -> Result<RawPolygons, String> {
    use shapefile::record::traits::HasXY;
    use shapefile::{PolygonRing, Shape};
    fn group<P: HasXY>(rings: &[PolygonRing<P>]) -> RawPolygons {
        let mut outers: Vec<Vec<Vec<(f64, f64)>>> = Vec::new();
        let mut inners: Vec<Vec<(f64, f64)>> = Vec::new();
        for r in rings {
            let pts: Vec<(f64, f64)> = r.points().iter().map(|p| (p.x(), p.y())).collect();
            match r {
                PolygonRing::Outer(_) => outers.push(vec![pts]),
                PolygonRing::Inner(_) => inners.push(pts),
            }
        }
        for hole in inners {
            if outers.is_empty() {
                outers.push(vec![hole]);
                continue;
            }
            let probe = hole.first().copied().unwrap_or((f64::NAN, f64::NAN));
            let host = outers
                .iter()
                .position(|o| ring_contains(&o[0], probe))
                .unwrap_or(outers.len() - 1);
            outers[host].push(hole);
        }
        outers
    }
    match shape {
        Shape::Polygon(p) => Ok(group(p.rings())),
        Shape::PolygonM(p) => Ok(group(p.rings())),
        Shape::PolygonZ(p) => Ok(group(p.rings())),
        Shape::NullShape => Err("géométrie absente".into()),
        other => Err(format!(
            "géométrie de type {} : un polygone est attendu",
            other.shapetype()
        )),
    }
}

/// Even-odd test of a point against one ring (used only to attach holes to shells).
fn ring_contains(ring: &[(f64, f64)], p: (f64, f64)) -> bool {
    let mut inside = false;
    let n = ring.len();
    if n < 3 {
        return false;
    }
    let mut j = n - 1;
    for i in 0..n {
        let (xi, yi) = ring[i];
        let (xj, yj) = ring[j];
        if (yi > p.1) != (yj > p.1) && p.0 < (xj - xi) * (p.1 - yi) / (yj - yi) + xi {
            inside = !inside;
        }
        j = i;
    }
    inside
}

// ---------------------------------------------------------------------------------------
// GeoPackage
// ---------------------------------------------------------------------------------------

/// Feature layers (tables with a geometry column) of a GeoPackage:
/// `(table_name, geometry_column, srs_id)`.
pub fn list_geopackage_layers(path: &Path) -> Result<Vec<(String, String, i64)>, ReadError> {
    let conn = open_gpkg(path)?;
    gpkg_layers(&conn)
}

fn open_gpkg(path: &Path) -> Result<rusqlite::Connection, ReadError> {
    if !path.exists() {
        return Err(io_err(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "fichier introuvable"),
        ));
    }
    rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| ReadError::GeoPackage(e.to_string()))
}

fn gpkg_layers(conn: &rusqlite::Connection) -> Result<Vec<(String, String, i64)>, ReadError> {
    let gp = |e: rusqlite::Error| {
        ReadError::GeoPackage(format!(
            "table gpkg_geometry_columns illisible ({e}) : est-ce bien un GeoPackage ?"
        ))
    };
    let mut st = conn
        .prepare(
            "SELECT table_name, column_name, srs_id FROM gpkg_geometry_columns ORDER BY table_name",
        )
        .map_err(gp)?;
    let rows = st
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .map_err(gp)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(gp)
}

/// Read a layer of a GeoPackage (an SQLite file). The layer is [`ReadOptions::layer`], or
/// the only feature layer of the file. The coordinate system comes from
/// `gpkg_spatial_ref_sys` (EPSG code, else its WKT definition). Geometries are decoded from
/// the GeoPackage binary header followed by (ISO or extended) WKB.
pub fn read_geopackage(path: &Path, opts: &ReadOptions) -> Result<ReadOutput, ReadError> {
    let conn = open_gpkg(path)?;
    let layers = gpkg_layers(&conn)?;
    let names = || {
        layers
            .iter()
            .map(|l| format!("« {} »", l.0))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (table, column, srs_id) = match &opts.layer {
        Some(l) => layers.iter().find(|x| &x.0 == l).cloned().ok_or_else(|| {
            ReadError::GeoPackage(format!(
                "couche « {l} » introuvable (couches : {})",
                names()
            ))
        })?,
        None if layers.len() == 1 => layers[0].clone(),
        None if layers.is_empty() => {
            return Err(ReadError::GeoPackage("aucune couche géographique".into()))
        }
        None => {
            return Err(ReadError::GeoPackage(format!(
                "plusieurs couches, précisez laquelle lire : {}",
                names()
            )))
        }
    };
    let srs: Option<(String, i64, String)> = conn
        .query_row(
            "SELECT organization, organization_coordsys_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id = ?1",
            [srs_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .ok();
    let declared = match &srs {
        Some((org, id, _)) if org.eq_ignore_ascii_case("EPSG") && *id > 0 => {
            Some(Crs::from_epsg(*id as u32))
        }
        Some((_, _, def)) if !def.trim().is_empty() && def.trim() != "undefined" => {
            Some(Crs::from_wkt(def))
        }
        _ => None,
    };
    let crs = match (declared, opts.crs) {
        (Some(r), _) => r?,
        (None, Some(c)) => c,
        (None, None) => {
            return Err(ReadError::GeoPackage(format!(
                "système de coordonnées non défini pour la couche « {table} » (srs_id {srs_id}) : indiquez-le"
            )))
        }
    };
    let mut ctx = Ctx::new(opts, crs)?;
    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let sql = format!("SELECT * FROM {}", q(&table));
    let mut st = conn
        .prepare(&sql)
        .map_err(|e| ReadError::GeoPackage(e.to_string()))?;
    let cols: Vec<String> = st.column_names().into_iter().map(str::to_string).collect();
    let gcol = cols.iter().position(|c| c.eq_ignore_ascii_case(&column));
    let mut rows = st
        .query([])
        .map_err(|e| ReadError::GeoPackage(e.to_string()))?;
    let mut n = 0usize;
    loop {
        let row = match rows.next() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                ctx.out
                    .report
                    .warnings
                    .push(format!("lecture interrompue après l'entité n°{n} : {e}"));
                break;
            }
        };
        n += 1;
        let mut props = Map::new();
        let mut geom: Result<RawPolygons, String> = Err("géométrie absente".into());
        for (i, name) in cols.iter().enumerate() {
            use rusqlite::types::ValueRef;
            let v = match row.get_ref(i) {
                Ok(v) => v,
                Err(_) => continue,
            };
            if Some(i) == gcol {
                geom = match v {
                    ValueRef::Blob(b) => gpkg_blob_polygons(b),
                    ValueRef::Null => Err("géométrie absente".into()),
                    _ => Err("colonne géométrique qui n'est pas un BLOB".into()),
                };
                continue;
            }
            let jv = match v {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(i) => Value::from(i),
                ValueRef::Real(f) => serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => continue,
            };
            props.insert(name.clone(), jv);
        }
        ctx.feature(n, props, geom);
    }
    Ok(ctx.out)
}

/// Decode a GeoPackage geometry blob (header + WKB) into polygons.
pub(crate) fn gpkg_blob_polygons(b: &[u8]) -> Result<RawPolygons, String> {
    if b.len() < 8 || &b[0..2] != b"GP" {
        return Err("en-tête GeoPackage absent (octets « GP »)".into());
    }
    let flags = b[3];
    if flags & 0b0010_0000 != 0 {
        return Err("géométrie GeoPackage étendue non prise en charge".into());
    }
    if flags & 0b0001_0000 != 0 {
        return Err("géométrie vide".into());
    }
    let env = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return Err("indicateur d'emprise GeoPackage invalide".into()),
    };
    let start = 8 + env;
    if b.len() < start {
        return Err("géométrie GeoPackage tronquée".into());
    }
    let mut r = Wkb {
        b: &b[start..],
        pos: 0,
    };
    let mut out = Vec::new();
    r.geometry(&mut out, 0)?;
    Ok(out)
}

/// Minimal WKB reader for polygonal geometries (ISO and EWKB Z/M flags).
struct Wkb<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Wkb<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.b.get(self.pos..self.pos + N).ok_or("WKB tronqué")?;
        self.pos += N;
        Ok(s.try_into().expect("length checked"))
    }
    fn u32(&mut self, le: bool) -> Result<u32, String> {
        let a = self.take::<4>()?;
        Ok(if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
    fn f64(&mut self, le: bool) -> Result<f64, String> {
        let a = self.take::<8>()?;
        Ok(if le {
            f64::from_le_bytes(a)
        } else {
            f64::from_be_bytes(a)
        })
    }
    fn geometry(&mut self, out: &mut RawPolygons, depth: usize) -> Result<(), String> {
        if depth > 8 {
            return Err("WKB trop imbriqué".into());
        }
        let le = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            _ => return Err("ordre des octets WKB invalide".into()),
        };
        let raw = self.u32(le)?;
        let mut dims = 2usize;
        if raw & 0x8000_0000 != 0 {
            dims += 1;
        }
        if raw & 0x4000_0000 != 0 {
            dims += 1;
        }
        if raw & 0x2000_0000 != 0 {
            self.u32(le)?; // EWKB srid
        }
        let t = raw & 0x0FFF_FFFF;
        let (base, iso_dims) = (t % 1000, t / 1000);
        dims += match iso_dims {
            0 => 0,
            1 | 2 => 1,
            3 => 2,
            _ => return Err(format!("type WKB {t} inconnu")),
        };
        match base {
            3 => {
                let p = self.polygon(le, dims)?;
                out.push(p);
                Ok(())
            }
            6 | 7 => {
                let n = self.u32(le)? as usize;
                for _ in 0..n {
                    if base == 7 {
                        // Collections: keep the polygonal members only.
                        let mut sub = Vec::new();
                        match self.geometry(&mut sub, depth + 1) {
                            Ok(()) => out.append(&mut sub),
                            Err(e) if e.starts_with("géométrie de type") => {}
                            Err(e) => return Err(e),
                        }
                    } else {
                        self.geometry(out, depth + 1)?;
                    }
                }
                if base == 7 && out.is_empty() {
                    return Err("collection sans polygone".into());
                }
                Ok(())
            }
            1 | 2 | 4 | 5 => Err(format!(
                "géométrie de type {} : un polygone est attendu",
                [
                    "",
                    "Point",
                    "LineString",
                    "",
                    "MultiPoint",
                    "MultiLineString"
                ][base as usize]
            )),
            10 | 12 => {
                Err("géométrie courbe (CurvePolygon/MultiSurface) non prise en charge".into())
            }
            other => Err(format!("type WKB {other} non pris en charge")),
        }
    }
    fn polygon(&mut self, le: bool, dims: usize) -> Result<Vec<Vec<(f64, f64)>>, String> {
        let nrings = self.u32(le)? as usize;
        let mut rings = Vec::with_capacity(nrings.min(1024));
        for _ in 0..nrings {
            let n = self.u32(le)? as usize;
            if n.saturating_mul(dims * 8) > self.b.len() - self.pos.min(self.b.len()) {
                return Err("WKB tronqué".into());
            }
            let mut pts = Vec::with_capacity(n);
            for _ in 0..n {
                let x = self.f64(le)?;
                let y = self.f64(le)?;
                for _ in 2..dims {
                    self.f64(le)?;
                }
                pts.push((x, y));
            }
            rings.push(pts);
        }
        Ok(rings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fc(features: &str) -> Vec<u8> {
        format!(r#"{{"type":"FeatureCollection","features":[{features}]}}"#).into_bytes()
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[3.0,50.0],[3.01,50.0],[3.01,50.01],[3.0,50.01],[3.0,50.0]]]}"#;

    #[test]
    fn geojson_2024_fields_and_bad_features() {
        let feats = [
            format!(r#"{{"type":"Feature","properties":{{"code_qp":"QN05971M","lib_qp":"Secteur Ouest","insee_com":"59350, 59360"}},"geometry":{SQUARE}}}"#),
            r#"{"type":"Feature","properties":{"code_qp":"QN00000A"},"geometry":null}"#.to_string(),
            r#"{"type":"Feature","properties":{"code_qp":"QN00000B"},"geometry":{"type":"Point","coordinates":[3,50]}}"#.to_string(),
            r#"{"type":"Feature","properties":{"code_qp":"QN00000C"},"geometry":{"type":"Polygon","coordinates":[[[3.0,250.0],[3.01,250.0],[3.01,250.01],[3.0,250.0]]]}}"#.to_string(),
            r#"{"type":"Feature","properties":{"code_qp":"QN00000D"},"geometry":{"type":"Polygon","coordinates":[[[50.0,3.0],[50.0,3.01],[50.01,3.01],[50.0,3.0]]]}}"#.to_string(),
            // unclosed ring with a duplicate vertex, plus a degenerate second polygon
            r#"{"type":"Feature","properties":{"code_qp":"QN00000E","lib_qp":"Réparé"},"geometry":{"type":"MultiPolygon","coordinates":[[[[3.0,50.0],[3.01,50.0],[3.01,50.0],[3.01,50.01],[3.0,50.01]]],[[[3.1,50.1],[3.1,50.1],[3.2,50.2]]]]}}"#.to_string(),
            format!(r#"{{"type":"Feature","properties":{{"nom":"sans code"}},"geometry":{SQUARE}}}"#),
            r#"{"type":"Feature","properties":{"code_qp":"QN00000F"},"geometry":{"type":"Polygon","coordinates":[[[3.0,"x"]]]}}"#.to_string(),
        ];
        let out = read_geojson_bytes(&fc(&feats.join(",")), &ReadOptions::default()).unwrap();
        let r = &out.report;
        assert_eq!(r.features_read, 8);
        assert_eq!(r.accepted, 2, "{r:#?}");
        assert_eq!(out.perimeters[0].code, "QN05971M");
        assert_eq!(out.perimeters[0].insee_communes, vec!["59350", "59360"]);
        assert_eq!(out.perimeters[0].generation.as_deref(), Some("2024"));
        let rej: Vec<usize> = r.rejected.iter().map(|x| x.feature).collect();
        assert_eq!(rej, vec![2, 3, 4, 5, 7, 8]);
        assert!(r.rejected[0].message.contains("géométrie absente"));
        assert!(r.rejected[1].message.contains("Point"));
        assert!(
            r.rejected[2].message.contains("hors limites"),
            "{}",
            r.rejected[2].message
        );
        assert!(
            r.rejected[3].message.contains("semblent inversées"),
            "{}",
            r.rejected[3].message
        );
        assert!(r.rejected[4].message.contains("code absent"));
        assert_eq!(r.repaired.len(), 1);
        assert_eq!(r.repaired[0].feature, 6);
        let a = &r.repaired[0].action;
        assert!(
            a.contains("double") && a.contains("refermé") && a.contains("moins de 4 points"),
            "{a}"
        );
        let p = &out.perimeters[1];
        assert_eq!(p.geometry.0.len(), 1);
        assert_eq!(p.geometry.0[0].exterior().0.len(), 5);

        // Same file with the fix option: the swapped feature is repaired.
        let opts = ReadOptions {
            fix_swapped_axes: true,
            ..Default::default()
        };
        let out = read_geojson_bytes(&fc(&feats.join(",")), &opts).unwrap();
        assert_eq!(out.report.accepted, 3);
        let fixed = out
            .perimeters
            .iter()
            .find(|p| p.code == "QN00000D")
            .unwrap();
        assert_eq!(fixed.geometry.0[0].exterior().0[0].x, 3.0);
    }

    #[test]
    fn geojson_2015_fields_gzip_and_crs() {
        let f = format!(
            r#"{{"type":"Feature","properties":{{"CODE_QP":"QP059074","NOM_QP":"Secteur Sud","COMMUNE_QP":"Lille, Loos"}},"geometry":{SQUARE}}}"#
        );
        let bytes = fc(&f);
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::fast());
            e.write_all(&bytes).unwrap();
            e.finish().unwrap();
        }
        let out = read_geojson_bytes(&gz, &ReadOptions::default()).unwrap();
        let p = &out.perimeters[0];
        assert_eq!(
            (p.code.as_str(), p.name.as_str()),
            ("QP059074", "Secteur Sud")
        );
        assert!(p.insee_communes.is_empty());
        assert_eq!(p.generation.as_deref(), Some("2015"));
        assert_eq!(p.properties["COMMUNE_QP"], "Lille, Loos");

        // Lambert-93 with a crs member.
        let l93 = r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::2154"}},"features":[{"type":"Feature","properties":{"id":7,"nom":"Zone"},"geometry":{"type":"Polygon","coordinates":[[[704061.1459,7059136.5895],[704161,7059136],[704161,7059236],[704061.1459,7059136.5895]]]}}]}"#;
        let opts = ReadOptions {
            kind: PerimeterKind::Other,
            ..Default::default()
        };
        let out = read_geojson_bytes(l93.as_bytes(), &opts).unwrap();
        assert_eq!(out.report.source_crs, Some(Crs::Lambert93));
        let c = out.perimeters[0].geometry.0[0].exterior().0[0];
        assert!(
            (c.x - 3.0573).abs() < 1e-7 && (c.y - 50.6292).abs() < 1e-7,
            "{c:?}"
        );
        assert_eq!(out.perimeters[0].code, "7");
        assert_eq!(out.perimeters[0].generation, None);

        // Swapped Lambert-93 is detected.
        let swapped = l93
            .replace("704061.1459,7059136.5895", "7059136.5895,704061.1459")
            .replace("704161,7059136", "7059136,704161")
            .replace("704161,7059236", "7059236,704161");
        let out = read_geojson_bytes(swapped.as_bytes(), &opts).unwrap();
        assert!(
            out.report.rejected[0]
                .message
                .contains("X et Y semblent inversées"),
            "{:?}",
            out.report
        );

        // Unknown crs is a file-level error.
        let bad = l93.replace("EPSG::2154", "EPSG::27572");
        assert!(matches!(
            read_geojson_bytes(bad.as_bytes(), &opts),
            Err(ReadError::Crs(_))
        ));
        // Not JSON.
        assert!(matches!(
            read_geojson_bytes(b"nope", &opts),
            Err(ReadError::GeoJson(_))
        ));
    }

    #[test]
    fn custom_fields() {
        let f = format!(
            r#"{{"type":"Feature","properties":{{"num":"S1","titre":"Site NPNRU"}},"geometry":{SQUARE}}}"#
        );
        let opts = ReadOptions {
            kind: PerimeterKind::RenewalSite,
            code_field: Some("num".into()),
            name_field: Some("titre".into()),
            generation: Some("NPNRU".into()),
            ..Default::default()
        };
        let out = read_geojson_bytes(&fc(&f), &opts).unwrap();
        let p = &out.perimeters[0];
        assert_eq!(
            (p.code.as_str(), p.name.as_str(), p.kind),
            ("S1", "Site NPNRU", PerimeterKind::RenewalSite)
        );
        assert_eq!(p.generation.as_deref(), Some("NPNRU"));
        let back = to_geojson(&out.perimeters);
        let again = read_geojson_bytes(back.to_string().as_bytes(), &opts).unwrap();
        assert_eq!(again.perimeters[0].geometry, p.geometry);
    }

    #[test]
    fn wkb_decoding() {
        // GP header (LE, no envelope) + LE ISO MultiPolygonZ with one triangle.
        let mut b = vec![b'G', b'P', 0, 1];
        b.extend(2154i32.to_le_bytes());
        b.push(1);
        b.extend(1006u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.push(0); // inner polygon big-endian
        b.extend(1003u32.to_be_bytes());
        b.extend(1u32.to_be_bytes());
        b.extend(4u32.to_be_bytes());
        for (x, y) in [(0.0f64, 0.0f64), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)] {
            b.extend(x.to_be_bytes());
            b.extend(y.to_be_bytes());
            b.extend(9.0f64.to_be_bytes());
        }
        let p = gpkg_blob_polygons(&b).unwrap();
        assert_eq!(
            p,
            vec![vec![vec![(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]]]
        );
        assert!(gpkg_blob_polygons(&b[..b.len() - 3])
            .unwrap_err()
            .contains("tronqué"));
        assert!(gpkg_blob_polygons(b"XX000000").is_err());
    }
}
