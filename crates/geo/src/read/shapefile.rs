//! Esri shapefile reader: `.shp` shapes, `.dbf` attributes (encoding from the `.cpg`),
//! coordinate system from the `.prj`, and outer/inner rings grouped into polygons.

use super::feature::{Ctx, RawPolygons};
use super::{file_label, io_err, ReadError, ReadOptions, ReadOutput};
use crate::crs::Crs;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

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
