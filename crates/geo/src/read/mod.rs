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

mod damaged_geojson;
mod feature;
mod fields;
mod geojson;
mod geojson_writer;
mod geopackage;
mod geopackage_wkb;
mod repair;
mod shapefile;
#[cfg(test)]
mod tests;

pub use geojson::{read_geojson_bytes, read_geojson_path};
pub use geojson_writer::to_geojson;
pub use geopackage::{list_geopackage_layers, read_geopackage};
pub use shapefile::read_shapefile;

use crate::crs::{Crs, CrsError};
use crate::perimeter::{Perimeter, PerimeterKind};
use std::path::Path;

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
    /// For [`PerimeterKind::Qpv`]: reject a feature whose code is not an official QPV code
    /// (`QN` + 6 characters for 2024, `QP` + 6 for 2015), or whose code's generation is not
    /// [`ReadOptions::generation`]. The registry imports (`quartiers qpv import`, the
    /// administrators' page) set it, so that a layer of communes or a mistyped generation
    /// does not become QPV.
    pub official_qpv_codes: bool,
    /// For perimeters other than QPV: the code of a feature that has none is this prefix,
    /// a dash and the feature's number (`PA-FIVES-1`), instead of a rejection. Perimeters
    /// drawn locally often carry only a name.
    pub code_prefix: Option<String>,
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
