//! Batch processing: reads a CSV or XLSX table, asks the caller's
//! [`RowLocator`] (a closure, or a locator that answers batches of rows)
//! where each row is, and writes the same table (same row order,
//! exactly one output row per input row, same format) with the columns
//! [`ADDED_COLUMNS`] appended, plus a [`Summary`].
//!
//! ```
//! use std::borrow::Cow;
//! use quartiers_io::output::{process_csv, ProcessOptions, RowResult, Status};
//! use quartiers_io::table::RowInput;
//!
//! let input = "id;lon;lat\n1;3,0573;50,6292\n2;;\n";
//! let mut out = Vec::new();
//! let summary = process_csv(
//!     input.as_bytes(),
//!     &mut out,
//!     &ProcessOptions::default(),
//!     |row: &RowInput<'_>| match row {
//!         RowInput::Wgs84 { lon, .. } if *lon > 3.0 => RowResult::in_qpv("QN05971M", "Secteur Ouest"),
//!         _ => RowResult::new(Status::OutsideQpv),
//!     },
//!     |_rows| {},
//! )
//! .unwrap();
//! assert_eq!(summary.rows, 2);
//! assert_eq!(summary.in_qpv, 1);
//! assert_eq!(summary.not_located, 1);
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.contains("1;3,0573;50,6292;QN05971M;Secteur Ouest;;dans un QPV;"));
//! ```

mod added_columns;
mod csv_pipeline;
mod csv_writer;
mod dispatch;
mod locate;
mod options;
mod preview;
mod summary;
#[cfg(test)]
mod tests;
mod xlsx;

pub use added_columns::{RowResult, Status, ADDED_COLUMNS};
pub use csv_pipeline::process_csv;
pub use dispatch::{process_path, process_table};
pub use locate::{RowLocator, LOCATE_BATCH};
pub use options::ProcessOptions;
pub use preview::{inspect_table, TablePreview};
pub use summary::{SheetInfo, Summary};
pub use xlsx::process_xlsx;
