//! A generic multi-sheet XLSX writer for the platform's table exports (dashboards,
//! worklists, decision lists...): one sheet per table, a bold and frozen header row with an
//! autofilter, amounts in euros as real numbers shown the French way, dates as real Excel
//! dates, percentages as real percentages.
//!
//! ```
//! use quartiers_io::xlsx_table::{write_xlsx, Cell, Sheet};
//!
//! let bytes = write_xlsx(&[Sheet {
//!     name: "Décisions 2025".into(),
//!     headers: vec!["Dossier".into(), "Montant".into(), "Date".into()],
//!     rows: vec![vec![
//!         Cell::Text("Ateliers numériques".into()),
//!         Cell::Euros(1_250_050), // 12 500,50 €
//!         Cell::Date("2025-03-14".into()),
//!     ]],
//! }])
//! .unwrap();
//! assert_eq!(&bytes[..2], b"PK");
//! ```

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use std::collections::HashSet;

/// Number format of amounts in euros. Number formats are stored in the file in the
/// locale-neutral syntax (`,` groups thousands, `.` separates decimals); a French
/// spreadsheet shows this one as `# ##0,00 €` (`12 500,50 €`).
pub const EUROS_FORMAT: &str = "#,##0.00\\ \"€\"";
/// Number format of whole numbers (`12 500` in a French spreadsheet).
pub const INT_FORMAT: &str = "#,##0";
/// Number format of percentages (`12,5 %` in a French spreadsheet).
pub const PERCENT_FORMAT: &str = "0.0\\ %";
/// Number format of dates.
pub const DATE_FORMAT: &str = "dd/mm/yyyy";

/// Longest text Excel keeps in a cell.
const MAX_CELL_CHARS: usize = 32_767;
/// Most rows of an Excel sheet (header included).
const MAX_ROWS: usize = 1_048_576;
/// Most columns of an Excel sheet.
const MAX_COLUMNS: usize = 16_384;
/// Widest a column is made by the automatic fit, in pixels.
const MAX_COLUMN_PIXELS: u16 = 400;

/// One cell of a table.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text, written as text (never interpreted as a formula or a number).
    Text(String),
    /// A whole number.
    Int(i64),
    /// An amount in euro cents, written as a number of euros with the French euro format.
    Euros(i64),
    /// An ISO date (`AAAA-MM-JJ`, optionally followed by a time, which is ignored), written
    /// as a real Excel date; anything else is written as text.
    Date(String),
    /// A ratio (`0.25` is 25 %), written as a number with a percent format.
    Percent(f64),
    /// Nothing.
    Empty,
}

/// One sheet: its name, column headers, and rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sheet {
    /// Sheet name; made valid for Excel by [`sheet_name`].
    pub name: String,
    /// Column headers (the first row, bold and frozen, with an autofilter).
    pub headers: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<Cell>>,
}

/// Makes `wanted` a valid Excel sheet name, different from `taken` (compared without
/// case, as Excel does): the characters `[ ] : * ? / \` become `-`, apostrophes at either end
/// are removed, the name is cut to 31 characters, `History` (reserved by Excel) and blank
/// names are replaced, and a duplicate gets a suffix ` (2)`, ` (3)`...
pub fn sheet_name(wanted: &str, index: usize, taken: &HashSet<String>) -> String {
    let cleaned: String = wanted
        .chars()
        .map(|c| match c {
            '[' | ']' | ':' | '*' | '?' | '/' | '\\' => '-',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    let cut = |s: &str, n: usize| -> String {
        s.chars()
            .take(n)
            .collect::<String>()
            .trim()
            .trim_matches('\'')
            .trim()
            .to_string()
    };
    let mut base = cut(cleaned.trim().trim_matches('\''), 31);
    if base.is_empty() || base.eq_ignore_ascii_case("history") {
        base = format!("Feuille {}", index + 1);
    }
    let free = |s: &str| !taken.contains(&s.to_lowercase());
    if free(&base) {
        return base;
    }
    for n in 2.. {
        let suffix = format!(" ({n})");
        let candidate = format!("{}{suffix}", cut(&base, 31 - suffix.chars().count()));
        if free(&candidate) {
            return candidate;
        }
    }
    unreachable!("some suffix is free")
}

/// Parses the date part of an ISO date or date-time (`2025-03-14`, `2025-03-14T10:00:00Z`).
fn iso_date(text: &str) -> Option<ExcelDateTime> {
    let t = text.trim();
    let date = t.get(..10)?;
    let rest = &t[10..];
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
        return None;
    }
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let digits = |s: &str| -> Option<u16> {
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    let (y, m, d) = (
        digits(&date[..4])?,
        digits(&date[5..7])?,
        digits(&date[8..10])?,
    );
    ExcelDateTime::from_ymd(y, u8::try_from(m).ok()?, u8::try_from(d).ok()?).ok()
}

fn fr(e: XlsxError) -> String {
    format!("Le classeur XLSX n'a pas pu être écrit : {e}")
}

struct Formats {
    bold: Format,
    euros: Format,
    int: Format,
    percent: Format,
    date: Format,
}

fn write_cell(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    col: u16,
    cell: &Cell,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Empty => {}
        Cell::Text(s) if s.is_empty() => {}
        Cell::Text(s) => {
            if s.chars().count() > MAX_CELL_CHARS {
                let cut: String = s.chars().take(MAX_CELL_CHARS - 1).collect();
                ws.write_string(row, col, format!("{cut}…"))?;
            } else {
                ws.write_string(row, col, s)?;
            }
        }
        Cell::Int(n) => {
            ws.write_number_with_format(row, col, *n as f64, &f.int)?;
        }
        Cell::Euros(cents) => {
            ws.write_number_with_format(row, col, *cents as f64 / 100.0, &f.euros)?;
        }
        Cell::Date(text) => match iso_date(text) {
            Some(d) => {
                ws.write_datetime_with_format(row, col, &d, &f.date)?;
            }
            None if text.trim().is_empty() => {}
            None => {
                ws.write_string(row, col, text)?;
            }
        },
        Cell::Percent(p) if !p.is_finite() => {}
        Cell::Percent(p) => {
            ws.write_number_with_format(row, col, *p, &f.percent)?;
        }
    }
    Ok(())
}

/// Writes the sheets as one XLSX workbook (in memory). A workbook without sheets gets one
/// empty sheet (Excel refuses a workbook with none). Errors are French messages.
pub fn write_xlsx(sheets: &[Sheet]) -> Result<Vec<u8>, String> {
    let f = Formats {
        bold: Format::new().set_bold(),
        euros: Format::new().set_num_format(EUROS_FORMAT),
        int: Format::new().set_num_format(INT_FORMAT),
        percent: Format::new().set_num_format(PERCENT_FORMAT),
        date: Format::new().set_num_format(DATE_FORMAT),
    };
    let mut wb = Workbook::new();
    let mut taken = HashSet::new();
    let empty = [Sheet {
        name: "Feuille 1".into(),
        ..Sheet::default()
    }];
    let sheets = if sheets.is_empty() {
        &empty[..]
    } else {
        sheets
    };
    for (i, sheet) in sheets.iter().enumerate() {
        let name = sheet_name(&sheet.name, i, &taken);
        taken.insert(name.to_lowercase());
        if sheet.rows.len() + 1 > MAX_ROWS {
            return Err(format!(
                "La feuille « {name} » a {} lignes : un classeur XLSX en accepte {} au plus par feuille.",
                sheet.rows.len(),
                MAX_ROWS - 1
            ));
        }
        let width = sheet
            .rows
            .iter()
            .map(Vec::len)
            .chain([sheet.headers.len()])
            .max()
            .unwrap_or(0);
        if width > MAX_COLUMNS {
            return Err(format!(
                "La feuille « {name} » a {width} colonnes : un classeur XLSX en accepte {MAX_COLUMNS} au plus."
            ));
        }
        let ws = wb.add_worksheet();
        ws.set_name(&name).map_err(fr)?;
        for (c, h) in sheet.headers.iter().enumerate() {
            ws.write_string_with_format(0, c as u16, h, &f.bold)
                .map_err(fr)?;
        }
        for (r, row) in sheet.rows.iter().enumerate() {
            for (c, cell) in row.iter().enumerate() {
                write_cell(ws, &f, r as u32 + 1, c as u16, cell).map_err(fr)?;
            }
        }
        if !sheet.headers.is_empty() {
            ws.set_freeze_panes(1, 0).map_err(fr)?;
            ws.autofilter(
                0,
                0,
                sheet.rows.len() as u32,
                (sheet.headers.len().max(1) - 1) as u16,
            )
            .map_err(fr)?;
        }
        ws.autofit_to_max_width(MAX_COLUMN_PIXELS);
    }
    wb.save_to_buffer().map_err(fr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use calamine::{Data, Reader, Xlsx};
    use std::io::{Cursor, Read};

    fn read_back(bytes: &[u8]) -> Xlsx<Cursor<Vec<u8>>> {
        Xlsx::new(Cursor::new(bytes.to_vec())).expect("a readable workbook")
    }

    fn part(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut s = String::new();
        zip.by_name(name).unwrap().read_to_string(&mut s).unwrap();
        s
    }

    fn sample() -> Vec<Sheet> {
        vec![
            Sheet {
                name: "Décisions 2025".into(),
                headers: vec![
                    "Dossier".into(),
                    "Actions".into(),
                    "Montant".into(),
                    "Décidé le".into(),
                    "Part QPV".into(),
                    "Note".into(),
                ],
                rows: vec![
                    vec![
                        Cell::Text("Ateliers numériques".into()),
                        Cell::Int(12),
                        Cell::Euros(1_250_050),
                        Cell::Date("2025-03-14".into()),
                        Cell::Percent(0.625),
                        Cell::Text("=1+1".into()),
                    ],
                    vec![
                        Cell::Text("Jardins partagés".into()),
                        Cell::Int(-3),
                        Cell::Euros(-99),
                        Cell::Date("2025-12-01T10:30:00Z".into()),
                        Cell::Empty,
                        Cell::Date("bientôt".into()),
                    ],
                ],
            },
            Sheet {
                name: "Par financeur".into(),
                headers: vec!["Financeur".into(), "Total".into()],
                rows: vec![vec![Cell::Text("État".into()), Cell::Euros(10_000_000)]],
            },
        ]
    }

    #[test]
    fn cells_keep_their_types() {
        let bytes = write_xlsx(&sample()).unwrap();
        let mut wb = read_back(&bytes);
        assert_eq!(wb.sheet_names(), vec!["Décisions 2025", "Par financeur"]);
        let r = wb.worksheet_range("Décisions 2025").unwrap();
        assert_eq!(r.get_size(), (3, 6));
        assert_eq!(r.get((0, 0)), Some(&Data::String("Dossier".into())));
        assert_eq!(r.get((0, 3)), Some(&Data::String("Décidé le".into())));
        assert_eq!(
            r.get((1, 0)),
            Some(&Data::String("Ateliers numériques".into()))
        );
        assert_eq!(r.get((1, 1)), Some(&Data::Float(12.0)));
        assert_eq!(r.get((1, 2)), Some(&Data::Float(12_500.5)));
        match r.get((1, 3)) {
            Some(Data::DateTime(d)) => {
                assert!(d.is_datetime());
                assert_eq!(d.as_f64(), 45_730.0); // 2025-03-14 in Excel's 1900 system
            }
            other => panic!("a real date expected, got {other:?}"),
        }
        assert_eq!(r.get((1, 4)), Some(&Data::Float(0.625)));
        // Text that looks like a formula stays text.
        assert_eq!(r.get((1, 5)), Some(&Data::String("=1+1".into())));
        assert_eq!(r.get((2, 1)), Some(&Data::Float(-3.0)));
        assert_eq!(r.get((2, 2)), Some(&Data::Float(-0.99)));
        match r.get((2, 3)) {
            Some(Data::DateTime(d)) => assert_eq!(d.as_f64(), 45_992.0),
            other => panic!("a real date expected, got {other:?}"),
        }
        assert_eq!(r.get((2, 4)), Some(&Data::Empty));
        // Not a date: kept as text, nothing lost.
        assert_eq!(r.get((2, 5)), Some(&Data::String("bientôt".into())));
        let r = wb.worksheet_range("Par financeur").unwrap();
        assert_eq!(r.get((1, 1)), Some(&Data::Float(100_000.0)));
    }

    #[test]
    fn header_is_bold_frozen_and_filtered_and_formats_are_french() {
        let bytes = write_xlsx(&sample()).unwrap();
        let sheet1 = part(&bytes, "xl/worksheets/sheet1.xml");
        assert!(
            sheet1.contains(
                r#"<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>"#
            ),
            "{sheet1}"
        );
        assert!(sheet1.contains(r#"<autoFilter ref="A1:F3"/>"#), "{sheet1}");
        let sheet2 = part(&bytes, "xl/worksheets/sheet2.xml");
        assert!(sheet2.contains(r#"<autoFilter ref="A1:B2"/>"#), "{sheet2}");
        let styles = part(&bytes, "xl/styles.xml");
        assert!(styles.contains("<b/>"), "{styles}");
        for code in [
            r##"formatCode="#,##0.00\ &quot;€&quot;""##,
            r#"formatCode="dd/mm/yyyy""#,
            r#"formatCode="0.0\ %""#,
        ] {
            assert!(styles.contains(code), "{code} in {styles}");
        }
        // The defined name of the autofilter is there too (Excel needs it).
        let workbook = part(&bytes, "xl/workbook.xml");
        assert!(workbook.contains("_xlnm._FilterDatabase"), "{workbook}");
    }

    #[test]
    fn sheet_names_follow_excel_rules() {
        let mut taken = HashSet::new();
        let mut name = |w: &str, i: usize| {
            let n = sheet_name(w, i, &taken);
            taken.insert(n.to_lowercase());
            n
        };
        assert_eq!(name("Budget [2025]: a/b\\c*?", 0), "Budget -2025-- a-b-c--");
        assert_eq!(
            name("Tableau de bord du pilote par financeur et par QPV", 1),
            "Tableau de bord du pilote par f"
        );
        assert_eq!(name("", 2), "Feuille 3");
        assert_eq!(name("History", 3), "Feuille 4");
        assert_eq!(name("'Cité'", 4), "Cité");
        assert_eq!(name("CITÉ", 5), "CITÉ (2)");
        assert_eq!(
            name("Tableau de bord du pilote par financeur", 6),
            "Tableau de bord du pilote p (2)"
        );
        for n in &taken {
            assert!(n.chars().count() <= 31, "{n}");
        }
        // The same wanted names give a workbook Excel accepts.
        let sheets: Vec<Sheet> = [
            "Budget [2025]: a/b\\c*?",
            "Tableau de bord du pilote par financeur et par QPV",
            "",
            "History",
            "'Cité'",
            "CITÉ",
            "Tableau de bord du pilote par financeur",
        ]
        .iter()
        .map(|n| Sheet {
            name: n.to_string(),
            headers: vec!["A".into()],
            rows: vec![],
        })
        .collect();
        let bytes = write_xlsx(&sheets).unwrap();
        let wb = read_back(&bytes);
        assert_eq!(
            wb.sheet_names(),
            vec![
                "Budget -2025-- a-b-c--",
                "Tableau de bord du pilote par f",
                "Feuille 3",
                "Feuille 4",
                "Cité",
                "CITÉ (2)",
                "Tableau de bord du pilote p (2)",
            ]
        );
    }

    #[test]
    fn edge_cases() {
        // No sheet at all: still a valid workbook.
        let bytes = write_xlsx(&[]).unwrap();
        assert_eq!(read_back(&bytes).sheet_names(), vec!["Feuille 1"]);
        // Headers only, ragged rows, huge text.
        let long = "é".repeat(40_000);
        let bytes = write_xlsx(&[Sheet {
            name: "Vide".into(),
            headers: vec!["A".into(), "B".into()],
            rows: vec![
                vec![Cell::Text(long)],
                vec![],
                vec![Cell::Empty, Cell::Int(1)],
            ],
        }])
        .unwrap();
        let mut wb = read_back(&bytes);
        let r = wb.worksheet_range("Vide").unwrap();
        match r.get((1, 0)) {
            Some(Data::String(s)) => {
                assert_eq!(s.chars().count(), MAX_CELL_CHARS);
                assert!(s.ends_with('…'));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(r.get((3, 1)), Some(&Data::Float(1.0)));
        assert!(iso_date("2025-02-30").is_none());
        assert!(iso_date("14/03/2025").is_none());
        assert!(iso_date("2025-03-14x").is_none());
    }
}
