//! GeoJSON reader: FeatureCollection files, plain or gzipped, and their geometries
//! (Polygon, MultiPolygon, GeometryCollection). Files that do not parse as a whole go to
//! [`super::damaged_geojson`].

use super::damaged_geojson::{non_finite_to_null, salvage_feature_collection};
use super::feature::{Ctx, RawPolygons};
use super::{io_err, ReadError, ReadOptions, ReadOutput};
use crate::crs::Crs;
use serde_json::{Map, Value};
use std::io::Read;
use std::path::Path;

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
pub(super) fn json_error_fr(e: &serde_json::Error) -> String {
    format!(
        "JSON mal formé à la ligne {}, colonne {} : {}",
        e.line(),
        e.column(),
        json_problem_fr(e)
    )
}

/// The kind of a JSON error, in French (serde_json's own message is English).
pub(super) fn json_problem_fr(e: &serde_json::Error) -> &'static str {
    use serde_json::error::Category;
    match e.classify() {
        Category::Eof => "le fichier s'arrête avant la fin du document (fichier tronqué ?)",
        Category::Syntax => {
            "syntaxe invalide (virgule, guillemet, accolade ou crochet manquant ou en trop ?)"
        }
        Category::Data => "valeur inattendue",
        Category::Io => "lecture impossible",
    }
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

/// Process feature number `n` of a GeoJSON file: its properties and its geometry.
pub(super) fn geojson_feature(ctx: &mut Ctx<'_>, n: usize, f: Value) {
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
