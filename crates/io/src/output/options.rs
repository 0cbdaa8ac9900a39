//! The options of a batch run.

use crate::table::{ColumnSpec, TableFormat, TextEncoding};

/// Options of [`process_table`](super::process_table) and friends. `Default` detects everything.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProcessOptions {
    /// Location columns; `Auto` detects them.
    pub columns: ColumnSpec,
    /// XLSX: sheet to read (default: the first one).
    pub sheet: Option<String>,
    /// Force the input format (default: from the file's first bytes).
    pub format: Option<TableFormat>,
    /// CSV: force the separator (default: detected).
    pub separator: Option<u8>,
    /// CSV: force the encoding (default: detected).
    pub encoding: Option<TextEncoding>,
    /// CSV output: start with a UTF-8 byte order mark so that Excel reads
    /// accents correctly (default `true`).
    pub csv_bom: bool,
    /// CSV output: write added decimals with a comma. Default: `true` when
    /// the separator is `;` (French Excel convention), `false` otherwise.
    pub decimal_comma: Option<bool>,
    /// Call `progress` every this many rows (default 10 000).
    pub progress_every: u64,
    /// Keep at most this many per-line errors in the summary (default 1 000);
    /// the others are only counted.
    pub max_errors: usize,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            columns: ColumnSpec::Auto,
            sheet: None,
            format: None,
            separator: None,
            encoding: None,
            csv_bom: true,
            decimal_comma: None,
            progress_every: 10_000,
            max_errors: 1_000,
        }
    }
}
