//! # quartiers-geo
//!
//! The geometry engine of Quartiers: "is this place in a QPV?", for one point or ten
//! million. Pure Rust, no database, no HTTP.
//!
//! - [`crs`]: coordinate reference systems of mainland and overseas France, detection from
//!   EPSG codes, GeoJSON `crs` members and `.prj` WKT, and transformation to WGS84.
//! - [`perimeter`]: the [`Perimeter`] model (QPV, attention perimeter, renewal site…).
//! - [`read`]: GeoJSON (plain or gzipped), shapefile and GeoPackage readers producing
//!   perimeters and an [`ImportReport`] (accepted / repaired / rejected features).
//! - [`index`]: [`PerimeterIndex`], the fast point locator.
//! - [`bench`]: reproducible throughput benchmark of the locator.

pub mod bench;
pub mod crs;
pub mod index;
pub mod perimeter;
pub mod read;

pub use crs::{Crs, CrsError};
pub use index::{IndexOptions, Location, PerimeterId, PerimeterIndex};
pub use perimeter::{Perimeter, PerimeterKind};
pub use read::{read_path, ImportReport, ReadError, ReadOptions, ReadOutput};
