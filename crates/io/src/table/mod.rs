//! Reading tabular input files (CSV and XLSX) for batch location.
//!
//! * [`sniff_csv`] guesses the separator (`,` `;` tab), the encoding
//!   (UTF-8 with or without BOM, otherwise Windows-1252) and rejects binary
//!   files renamed `.csv` with a French message.
//! * [`CsvRecords`] streams records one at a time (never the whole file),
//!   reports unclosed quotes per line and keeps going.
//! * [`detect_columns`] finds the location columns (lon/lat, Lambert-93 x/y,
//!   address parts, or the national geocoder's CSV output); a
//!   [`ColumnSpec`] given by the user overrides detection.
//! * [`ColumnMapping::interpret`] turns one row into a [`RowInput`].
//! * [`XlsxTable`] reads one sheet of an XLSX workbook through `calamine`.

mod columns;
mod csv_reader;
mod dialect;
mod error;
mod header_names;
mod record;
mod row_input;
#[cfg(test)]
mod tests;
mod xlsx;

pub use columns::{
    detect_columns, AddressPart, ColumnMapping, ColumnSpec, GeocoderColumns, PointColumns,
};
pub use csv_reader::CsvRecords;
pub use dialect::{check_text, read_sample, separator_label, sniff_csv, CsvDialect, TextEncoding};
pub use error::TableError;
pub use record::{Record, RecordChunk, RecordProblem};
pub use row_input::{Fields, Geocoded, RowInput, RowScratch};
pub use xlsx::{cell_to_string, XlsxTable};

/// Input/output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Delimited text.
    Csv,
    /// Office Open XML workbook.
    Xlsx,
}

impl TableFormat {
    /// Guesses the format from the first bytes of a file (`PK\x03\x04`, the
    /// ZIP signature of XLSX → XLSX); when no byte is available, from the
    /// file name's extension. Anything else is CSV (and [`sniff_csv`] will
    /// reject non-text content with a French message).
    pub fn detect(first_bytes: &[u8], file_name: Option<&str>) -> TableFormat {
        if first_bytes.starts_with(b"PK\x03\x04") {
            return TableFormat::Xlsx;
        }
        let xlsx_name = file_name.is_some_and(|n| n.to_ascii_lowercase().ends_with(".xlsx"));
        if first_bytes.is_empty() && xlsx_name {
            TableFormat::Xlsx
        } else {
            TableFormat::Csv
        }
    }
}
