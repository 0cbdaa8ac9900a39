//! Tests of batch processing, and the locators and workbooks they share.

mod csv_files;
mod preview;
mod xlsx_files;

use std::borrow::Cow;
use std::io::Cursor;

use super::*;
use crate::table::{cell_to_string, RowInput, TableError, XlsxTable};

fn locate_simple(row: &RowInput<'_>) -> RowResult<'static> {
    match row {
        RowInput::Wgs84 { lon, .. } if *lon > 3.0 => RowResult {
            distance_qpv_m: Some(120.4),
            ..RowResult::in_qpv("QN05971M", "Secteur Ouest")
        },
        RowInput::Wgs84 { .. } | RowInput::Lambert93 { .. } => RowResult {
            distance_qpv_m: Some(1530.0),
            ..RowResult::new(Status::OutsideQpv)
        },
        RowInput::Address(a) if a.contains("Lille") => RowResult {
            score_geocodage: Some(0.876),
            message: Cow::Owned(format!("géocodé : {a}")),
            ..RowResult::new(Status::ToCheck)
        },
        _ => RowResult::not_located("adresse introuvable"),
    }
}

fn run_csv(input: &[u8], opts: &ProcessOptions) -> (Summary, String) {
    let mut out = Vec::new();
    let s = process_csv(input, &mut out, opts, locate_simple, |_| {}).unwrap();
    (s, String::from_utf8(out).unwrap())
}

/// Processes a workbook with the default options and [`locate_simple`]: the summary and
/// the output workbook, or the error.
fn run_xlsx(input: Vec<u8>) -> Result<(Summary, Vec<u8>), TableError> {
    let mut out = Cursor::new(Vec::new());
    let s = process_table(
        Cursor::new(input),
        &mut out,
        &ProcessOptions::default(),
        locate_simple,
        |_| {},
    )?;
    Ok((s, out.into_inner()))
}

fn no_bom() -> ProcessOptions {
    ProcessOptions {
        csv_bom: false,
        ..Default::default()
    }
}

/// A locator whose batches answer from the row's own longitude (the row number over
/// 10,000 was put there), and whose `locate` must not be called for files: it records the sizes
/// of the batches it was given.
struct BatchOnly<'a> {
    batches: &'a std::sync::Mutex<Vec<usize>>,
}

impl RowLocator<'static> for BatchOnly<'_> {
    fn locate(&self, _row: &RowInput<'_>) -> RowResult<'static> {
        panic!("file rows go through locate_all")
    }
    fn locate_all(&self, rows: &[RowInput<'_>]) -> Vec<RowResult<'static>> {
        self.batches.lock().unwrap().push(rows.len());
        rows.iter()
            .map(|r| match r {
                RowInput::Wgs84 { lon, .. } => {
                    let mut res = RowResult::new(Status::OutsideQpv);
                    res.message = Cow::Owned(format!("n{lon:.4}"));
                    res
                }
                _ => RowResult::not_located("pas un point"),
            })
            .collect()
    }
}

fn make_xlsx(sheets: &[(&str, Vec<Vec<&str>>)]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if v.is_empty() {
                    continue;
                }
                match v.parse::<f64>() {
                    Ok(n) => ws.write_number(r as u32, c as u16, n).unwrap(),
                    Err(_) => ws.write_string(r as u32, c as u16, *v).unwrap(),
                };
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

fn read_xlsx(bytes: Vec<u8>) -> (Vec<String>, Vec<Vec<String>>) {
    let t = XlsxTable::open(Cursor::new(bytes), None).unwrap();
    let rows = t
        .rows()
        .map(|(_, r)| {
            r.iter()
                .map(|c| {
                    let mut s = String::new();
                    cell_to_string(c, &mut s);
                    s
                })
                .collect()
        })
        .collect();
    (t.sheets.clone(), rows)
}
