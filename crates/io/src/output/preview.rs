//! The preview shown before processing: format, header, detected columns and the
//! first rows.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use super::ProcessOptions;
use crate::table::{
    cell_to_string, detect_columns, read_sample, sniff_csv, CsvRecords, TableError, TableFormat,
    TextEncoding, XlsxTable,
};

/// What the UI shows before processing: format, dialect, sheets, header,
/// detected columns and the first rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TablePreview {
    /// Detected or forced format.
    pub format: TableFormat,
    /// CSV: separator.
    pub separator: Option<char>,
    /// CSV: encoding.
    pub encoding: Option<TextEncoding>,
    /// XLSX: all sheet names.
    pub sheets: Vec<String>,
    /// XLSX: the sheet read.
    pub sheet: Option<String>,
    /// Header cells.
    pub headers: Vec<String>,
    /// French description of the columns that will be used
    /// ([`ColumnMapping::describe`](crate::table::ColumnMapping::describe)), when detection
    /// succeeded.
    pub columns: Option<String>,
    /// French reason why no location column was found, otherwise.
    pub column_error: Option<String>,
    /// French notes (other sheets...).
    pub notes: Vec<String>,
    /// First data rows, as text.
    pub rows: Vec<Vec<String>>,
}

/// Reads the beginning of a table without processing it, for a preview
/// screen where the user can check or choose the location columns. Only
/// fatal problems (not a table, unreadable workbook) are errors; a failed
/// column detection is reported in [`TablePreview::column_error`].
pub fn inspect_table<R: Read + Seek>(
    mut input: R,
    opts: &ProcessOptions,
    max_rows: usize,
) -> Result<TablePreview, TableError> {
    let format = match opts.format {
        Some(f) => f,
        None => {
            let head = read_sample(&mut input, 4)?;
            input.seek(SeekFrom::Start(0))?;
            TableFormat::detect(&head, None)
        }
    };
    let mut preview = TablePreview {
        format,
        separator: None,
        encoding: None,
        sheets: Vec::new(),
        sheet: None,
        headers: Vec::new(),
        columns: None,
        column_error: None,
        notes: Vec::new(),
        rows: Vec::new(),
    };
    match format {
        TableFormat::Csv => {
            let sample = read_sample(&mut input, 1 << 16)?;
            let mut dialect = sniff_csv(&sample)?;
            if let Some(sep) = opts.separator {
                dialect.separator = sep;
            }
            if let Some(enc) = opts.encoding {
                dialect.encoding = enc;
            }
            preview.separator = Some(dialect.separator as char);
            preview.encoding = Some(dialect.encoding);
            let reader = BufReader::new(io::Cursor::new(sample).chain(input));
            let mut records = CsvRecords::new(reader, dialect);
            match records.next_record() {
                None => return Err(TableError::Empty),
                Some(rec) => preview.headers = rec?.iter().map(|s| s.trim().to_string()).collect(),
            }
            records.set_expected_fields(preview.headers.len());
            while preview.rows.len() < max_rows {
                match records.next_record() {
                    Some(rec) => preview.rows.push(rec?.iter().map(str::to_string).collect()),
                    None => break,
                }
            }
        }
        TableFormat::Xlsx => {
            let table = XlsxTable::open_usable(input, opts.sheet.as_deref(), |h| {
                detect_columns(h, &opts.columns).is_ok()
            })?;
            preview.headers = table.headers();
            preview.sheets = table.sheets.clone();
            preview.sheet = Some(table.sheet.clone());
            preview.notes.extend(table.note());
            for (_, row) in table.rows().take(max_rows) {
                preview.rows.push(
                    row.iter()
                        .map(|c| {
                            let mut s = String::new();
                            cell_to_string(c, &mut s);
                            s
                        })
                        .collect(),
                );
            }
        }
    }
    match detect_columns(&preview.headers, &opts.columns) {
        Ok(m) => preview.columns = Some(m.describe()),
        Err(e) => preview.column_error = Some(e.to_string()),
    }
    Ok(preview)
}
