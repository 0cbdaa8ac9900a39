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
    /// Sheets before this one that were passed over (no usable header).
    skipped: Vec<String>,
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
        Self::open_usable(reader, sheet, |_| true)
    }

    /// Opens `sheet` when it is named; otherwise the first sheet whose header `usable`
    /// accepts (the first with location columns, for a batch), or the first sheet when
    /// none does, so that its error is the one reported. A workbook that starts with a
    /// sheet of notes is read from the sheet that holds the data, and [`XlsxTable::note`]
    /// says so.
    pub fn open_usable<R: Read + io::Seek>(
        reader: R,
        sheet: Option<&str>,
        usable: impl Fn(&[String]) -> bool,
    ) -> Result<Self, TableError> {
        use calamine::Reader;
        let mut wb =
            calamine::Xlsx::new(reader).map_err(|e| TableError::Xlsx(xlsx_error_fr(&e)))?;
        let sheets = wb.sheet_names();
        if sheets.is_empty() {
            return Err(TableError::Empty);
        }
        let mut load = |name: &str| -> Result<XlsxTable, TableError> {
            let range = wb
                .worksheet_range(name)
                .map_err(|e| TableError::Xlsx(xlsx_error_fr(&e)))?;
            let header_row = range
                .rows()
                .position(|r| r.iter().any(|c| !matches!(c, calamine::Data::Empty)));
            Ok(XlsxTable {
                sheet: name.to_string(),
                sheets: sheets.clone(),
                range,
                header_row,
                skipped: Vec::new(),
            })
        };
        let table = match sheet {
            Some(s) => {
                let name = sheets
                    .iter()
                    .find(|n| n.as_str() == s)
                    .or_else(|| sheets.iter().find(|n| n.to_lowercase() == s.to_lowercase()))
                    .ok_or_else(|| TableError::SheetNotFound {
                        name: s.to_string(),
                        available: sheets
                            .iter()
                            .map(|n| format!("« {n} »"))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
                load(name)?
            }
            None => {
                let first = load(&sheets[0])?;
                if first.header_row.is_some() && usable(&first.headers()) {
                    first
                } else {
                    let mut chosen = None;
                    for name in &sheets[1..] {
                        let t = load(name)?;
                        if t.header_row.is_some() && usable(&t.headers()) {
                            chosen = Some(t);
                            break;
                        }
                    }
                    match chosen {
                        Some(mut t) => {
                            t.skipped = sheets
                                .iter()
                                .take_while(|n| **n != t.sheet)
                                .cloned()
                                .collect();
                            t
                        }
                        None => first,
                    }
                }
            }
        };
        if table.header_row.is_none() {
            return Err(TableError::Empty);
        }
        Ok(table)
    }

    /// The names of the sheets not read, quoted, comma-separated.
    fn other_sheets(&self) -> String {
        self.sheets
            .iter()
            .filter(|s| **s != self.sheet)
            .map(|s| format!("« {s} »"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `e`, naming the workbook's other sheets when no location column was found in this
    /// one (the data may be on another sheet).
    pub fn with_sheets(&self, e: TableError) -> TableError {
        match e {
            TableError::NoLocationColumns(m) if self.sheets.len() > 1 => {
                TableError::NoLocationColumns(format!(
                    "{m} (feuille « {} » ; autres feuilles du classeur : {} : choisissez la \
                 feuille qui contient les données)",
                    self.sheet,
                    self.other_sheets()
                ))
            }
            other => other,
        }
    }

    /// French note when the workbook has other sheets that were not read.
    pub fn note(&self) -> Option<String> {
        if self.sheets.len() <= 1 {
            return None;
        }
        let first = self.sheets.first().is_some_and(|s| *s == self.sheet);
        let skipped = if self.skipped.is_empty() {
            String::new()
        } else {
            format!(
                " Les feuilles précédentes ({}) n'ont pas de colonne de localisation reconnue : \
                 la première qui en a une a été choisie.",
                self.skipped
                    .iter()
                    .map(|s| format!("« {s} »"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Some(format!(
            "Le classeur contient {} feuilles ; seule la feuille « {} »{} a été traitée. Autres feuilles : {}.{skipped}",
            self.sheets.len(),
            self.sheet,
            if first { " (la première)" } else { "" },
            self.other_sheets()
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
