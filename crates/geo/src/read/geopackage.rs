//! GeoPackage reader: feature layers of the SQLite file, coordinate system from
//! `gpkg_spatial_ref_sys`, attributes from the other columns of the layer's table.

use super::feature::{Ctx, RawPolygons};
use super::geopackage_wkb::gpkg_blob_polygons;
use super::{io_err, ReadError, ReadOptions, ReadOutput};
use crate::crs::Crs;
use serde_json::{Map, Value};
use std::path::Path;

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
