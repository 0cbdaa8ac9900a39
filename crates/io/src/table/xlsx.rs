//! XLSX input: one sheet of a workbook, its header and data rows, cells as text.

use std::io::{self, Read};

use super::TableError;

/// One sheet of an XLSX workbook, loaded through `calamine` (a sheet is read
/// whole: XLSX is limited to 1,048,576 rows anyway).
pub struct XlsxTable {
    /// Name of the sheet read.
    pub sheet: String,
    /// All sheet names of the workbook, in order.
    pub sheets: Vec<String>,
    range: calamine::Range<calamine::Data>,
    header_row: Option<usize>,
}

impl std::fmt::Debug for XlsxTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XlsxTable")
            .field("sheet", &self.sheet)
            .field("sheets", &self.sheets)
            .field("size", &self.range.get_size())
            .finish()
    }
}

/// What went wrong with a workbook, in French for the user (calamine's own messages, such
/// as "Zip error: invalid Zip archive: Could not find EOCD", are English and technical).
fn xlsx_error_fr(e: &calamine::XlsxError) -> String {
    use calamine::XlsxError as E;
    match e {
        E::Zip(_) => "ce n'est pas un classeur XLSX lisible (archive ZIP endommagée ou tronquée, \
                      ou autre fichier renommé en .xlsx) : enregistrez-le de nouveau depuis \
                      votre tableur au format XLSX, ou en CSV"
            .into(),
        E::Io(_) => "lecture du fichier impossible".into(),
        E::Xml(_) | E::XmlAttr(_) | E::XmlEof(_) | E::UnexpectedNode(_) => {
            "le contenu XML du classeur est endommagé : enregistrez-le de nouveau depuis votre \
             tableur"
                .into()
        }
        E::Password => "le classeur est protégé par un mot de passe : enregistrez-en une copie \
                        sans mot de passe"
            .into(),
        _ => "le contenu du classeur n'a pas pu être lu : enregistrez-le de nouveau depuis \
              votre tableur, ou en CSV"
            .into(),
    }
}

impl XlsxTable {
    /// Opens `sheet` (or the first sheet) of the workbook read from `reader`.
    pub fn open<R: Read + io::Seek>(reader: R, sheet: Option<&str>) -> Result<Self, TableError> {
        use calamine::Reader;
        let mut wb =
            calamine::Xlsx::new(reader).map_err(|e| TableError::Xlsx(xlsx_error_fr(&e)))?;
        let sheets = wb.sheet_names();
        if sheets.is_empty() {
            return Err(TableError::Empty);
        }
        let name = match sheet {
            Some(s) => sheets
                .iter()
                .find(|n| n.as_str() == s)
                .or_else(|| sheets.iter().find(|n| n.to_lowercase() == s.to_lowercase()))
                .cloned()
                .ok_or_else(|| TableError::SheetNotFound {
                    name: s.to_string(),
                    available: sheets
                        .iter()
                        .map(|n| format!("« {n} »"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })?,
            None => sheets[0].clone(),
        };
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| TableError::Xlsx(xlsx_error_fr(&e)))?;
        let header_row = range
            .rows()
            .position(|r| r.iter().any(|c| !matches!(c, calamine::Data::Empty)));
        if header_row.is_none() {
            return Err(TableError::Empty);
        }
        Ok(XlsxTable {
            sheet: name,
            sheets,
            range,
            header_row,
        })
    }

    /// French note when the workbook has other sheets that were not read.
    pub fn note(&self) -> Option<String> {
        if self.sheets.len() <= 1 {
            return None;
        }
        let others: Vec<String> = self
            .sheets
            .iter()
            .filter(|s| **s != self.sheet)
            .map(|s| format!("« {s} »"))
            .collect();
        let first = self.sheets.first().is_some_and(|s| *s == self.sheet);
        Some(format!(
            "Le classeur contient {} feuilles ; seule la feuille « {} »{} a été traitée. Autres feuilles : {}.",
            self.sheets.len(),
            self.sheet,
            if first { " (la première)" } else { "" },
            others.join(", ")
        ))
    }

    /// Header cells as text (first non-empty row).
    pub fn headers(&self) -> Vec<String> {
        let Some(h) = self.header_row else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(row) = self.range.rows().nth(h) {
            let mut s = String::new();
            for c in row {
                cell_to_string(c, &mut s);
                out.push(s.trim().to_string());
            }
        }
        while out.last().is_some_and(|s| s.is_empty()) {
            out.pop();
        }
        out
    }

    /// Data rows after the header, with their Excel row number (1-based, as shown by
    /// Excel). Empty rows between data rows are kept, so that the result has one row per
    /// row of the sheet and row N of the result is row N of the sheet; empty rows after the
    /// last data row are not rows of the table.
    pub fn rows(&self) -> impl Iterator<Item = (u64, &[calamine::Data])> + '_ {
        let start_row = self.range.start().map_or(0, |(r, _)| r as u64);
        let h = self.header_row.unwrap_or(0);
        let is_empty = |r: &[calamine::Data]| r.iter().all(|c| matches!(c, calamine::Data::Empty));
        let end = self
            .range
            .rows()
            .rposition(|r| !is_empty(r))
            .map_or(0, |last| last + 1);
        self.range
            .rows()
            .enumerate()
            .take(end)
            .skip(h + 1)
            .map(move |(i, r)| (start_row + i as u64 + 1, r))
    }

    /// Number of columns of the sheet's used range.
    pub fn width(&self) -> usize {
        self.range.width()
    }

    /// Column offset of the used range (cells left of it are empty).
    pub fn first_column(&self) -> u32 {
        self.range.start().map_or(0, |(_, c)| c)
    }
}

/// Writes a cell as text into `out` (cleared first): integers without a
/// decimal part, other numbers in their shortest exact form.
pub fn cell_to_string(cell: &calamine::Data, out: &mut String) {
    use calamine::Data;
    use std::fmt::Write;
    out.clear();
    match cell {
        Data::Empty => {}
        Data::String(s) => out.push_str(s),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                let _ = write!(out, "{}", *f as i64);
            } else {
                let _ = write!(out, "{f}");
            }
        }
        Data::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Data::Bool(b) => out.push_str(if *b { "VRAI" } else { "FAUX" }),
        Data::DateTime(d) => {
            let _ = write!(out, "{}", d.as_f64());
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => out.push_str(s),
        Data::Error(e) => {
            let _ = write!(out, "{e}");
        }
    }
}
