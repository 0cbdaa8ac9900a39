//! XLSX processing: the chosen sheet rewritten with its cells' types, plus the added
//! columns.

use std::io::{Read, Seek, Write};

use super::added_columns::added_names;
use super::locate::{chunk_outcomes, Outcome, ROW_CHUNK};
use super::{ProcessOptions, RowLocator, SheetInfo, Summary};
use crate::table::{cell_to_string, detect_columns, RowScratch, TableError, XlsxTable};

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> TableError {
    TableError::XlsxWrite(e.to_string())
}

/// Processes an XLSX workbook: reads the chosen (or first) sheet and writes
/// a workbook with one sheet of the same name, cells keeping their type,
/// followed by the added columns. A note lists the sheets not processed.
pub fn process_xlsx<'r, R, W, F, P>(
    input: R,
    output: W,
    opts: &ProcessOptions,
    locate: F,
    mut progress: P,
) -> Result<Summary, TableError>
where
    R: Read + Seek,
    W: Write + Seek + Send,
    F: RowLocator<'r>,
    P: FnMut(u64),
{
    use calamine::Data;
    use rust_xlsxwriter::{Format, Workbook};

    let table = XlsxTable::open_usable(input, opts.sheet.as_deref(), |h| {
        detect_columns(h, &opts.columns).is_ok()
    })?;
    let headers = table.headers();
    let mapping = detect_columns(&headers, &opts.columns).map_err(|e| table.with_sheets(e))?;
    let mut summary = Summary {
        sheet: Some(SheetInfo {
            name: table.sheet.clone(),
            count: table.sheets.len(),
        }),
        ..Summary::default()
    };
    summary.notes.push(mapping.describe());
    if let Some(n) = table.note() {
        summary.notes.push(n);
    }

    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let datetime = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let ws = wb.add_worksheet_with_constant_memory();
    let mut sheet_name: String = table
        .sheet
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if sheet_name.trim().is_empty() {
        sheet_name = "Résultat".to_string();
    }
    ws.set_name(&sheet_name).map_err(xlsx_err)?;

    let width = table.width().max(headers.len());
    let col0 = table.first_column() as u16;
    for (i, h) in headers.iter().enumerate() {
        if !h.is_empty() {
            ws.write_string_with_format(0, col0 + i as u16, h, &bold)
                .map_err(xlsx_err)?;
        }
    }
    let added_col = col0 + width as u16;
    for (j, n) in added_names(&headers).iter().enumerate() {
        ws.write_string_with_format(0, added_col + j as u16, n, &bold)
            .map_err(xlsx_err)?;
    }

    // As for CSV: the rows of a chunk are interpreted and located on all cores, then
    // written in order on this thread.
    let rows: Vec<(u64, &[Data])> = table.rows().collect();
    let mut outcomes: Vec<Outcome<'r>> = Vec::new();
    // Per row: the interpretation buffer, and the row's cells as text.
    let mut scratches: Vec<(RowScratch, Vec<String>)> = Vec::new();
    let mut error_text = String::new();
    let every = opts.progress_every.max(1);
    let mut out_row: u32 = 0;
    for chunk in rows.chunks(ROW_CHUNK) {
        chunk_outcomes(
            chunk,
            chunk.len(),
            &locate,
            &mut scratches,
            &mut outcomes,
            |chunk, k, (scratch, cells): &mut (RowScratch, Vec<String>)| {
                let row = chunk[k].1;
                cells.resize(row.len(), String::new());
                for (cell, c) in cells.iter_mut().zip(row) {
                    cell_to_string(c, cell);
                }
                let fields: &[String] = cells;
                Ok(mapping.interpret(&fields, scratch))
            },
        );
        for (&(line, row), (result, error)) in chunk.iter().zip(outcomes.drain(..)) {
            out_row += 1;
            summary.rows += 1;
            for (i, c) in row.iter().enumerate() {
                let col = col0 + i as u16;
                match c {
                    Data::Empty => {}
                    Data::String(s) => {
                        ws.write_string(out_row, col, s).map_err(xlsx_err)?;
                    }
                    Data::Float(f) => {
                        ws.write_number(out_row, col, *f).map_err(xlsx_err)?;
                    }
                    Data::Int(n) => {
                        ws.write_number(out_row, col, *n as f64).map_err(xlsx_err)?;
                    }
                    Data::Bool(b) => {
                        ws.write_boolean(out_row, col, *b).map_err(xlsx_err)?;
                    }
                    Data::DateTime(d) => {
                        let v = d.as_f64();
                        let f = if v.fract() == 0.0 { &date } else { &datetime };
                        ws.write_number_with_format(out_row, col, v, f)
                            .map_err(xlsx_err)?;
                    }
                    Data::DateTimeIso(s) | Data::DurationIso(s) => {
                        ws.write_string(out_row, col, s).map_err(xlsx_err)?;
                    }
                    Data::Error(_) => {
                        cell_to_string(c, &mut error_text);
                        ws.write_string(out_row, col, &error_text)
                            .map_err(xlsx_err)?;
                    }
                }
            }
            match error {
                Some(m) => summary.error(line, m, opts.max_errors),
                None => summary.located_error(line, &result, opts.max_errors),
            }
            summary.record(&result);
            let c = added_col;
            let strings = [
                (0u16, result.qpv_code.as_ref()),
                (1, result.qpv_nom.as_ref()),
                (2, result.autres_perimetres.as_ref()),
                (3, result.status.label()),
                (6, result.message.as_ref()),
            ];
            for (j, s) in strings {
                if !s.is_empty() {
                    ws.write_string(out_row, c + j, s).map_err(xlsx_err)?;
                }
            }
            if let Some(d) = result.distance_qpv_m.filter(|d| d.is_finite()) {
                ws.write_number(out_row, c + 4, d.round())
                    .map_err(xlsx_err)?;
            }
            if let Some(s) = result.score_geocodage.filter(|s| s.is_finite()) {
                ws.write_number(out_row, c + 5, (s * 100.0).round() / 100.0)
                    .map_err(xlsx_err)?;
            }
            if summary.rows.is_multiple_of(every) {
                progress(summary.rows);
            }
        }
    }
    wb.save_to_writer(output).map_err(xlsx_err)?;
    progress(summary.rows);
    Ok(summary)
}
