//! The counts of a processed table and their French report.

use std::collections::BTreeMap;

use super::{RowResult, Status};

/// Counts of a processed table.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Data rows read (= rows written).
    pub rows: u64,
    /// Rows with a position (in, outside, or to check).
    pub located: u64,
    /// `dans un QPV`.
    pub in_qpv: u64,
    /// `hors QPV`.
    pub outside_qpv: u64,
    /// `à vérifier`.
    pub to_check: u64,
    /// `non localisé`.
    pub not_located: u64,
    /// Rows `dans un QPV` per QPV code.
    pub per_qpv: BTreeMap<String, u64>,
    /// QPV names seen, per code (for rendering).
    pub qpv_names: BTreeMap<String, String>,
    /// Per-line problems: (line number, French message).
    pub errors: Vec<(u64, String)>,
    /// Problems not kept in `errors` because of `max_errors`.
    pub errors_omitted: u64,
    /// French notes about the file (encoding, sheets, columns used...).
    pub notes: Vec<String>,
    /// XLSX: the sheet read and how many the workbook has.
    pub sheet: Option<SheetInfo>,
}

/// The sheet of an XLSX workbook that was processed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SheetInfo {
    /// Its name.
    pub name: String,
    /// Number of sheets in the workbook.
    pub count: usize,
}

fn fr_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    let head = s.len() % 3;
    for (i, c) in s.chars().enumerate() {
        if i > 0 && i % 3 == head % 3 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl Summary {
    pub(super) fn record(&mut self, r: &RowResult<'_>) {
        match r.status {
            Status::InQpv => {
                self.in_qpv += 1;
                self.located += 1;
                if !r.qpv_code.is_empty() {
                    if let Some(c) = self.per_qpv.get_mut(r.qpv_code.as_ref()) {
                        *c += 1;
                    } else {
                        self.per_qpv.insert(r.qpv_code.to_string(), 1);
                        self.qpv_names
                            .insert(r.qpv_code.to_string(), r.qpv_nom.to_string());
                    }
                }
            }
            Status::OutsideQpv => {
                self.outside_qpv += 1;
                self.located += 1;
            }
            Status::ToCheck => {
                self.to_check += 1;
                self.located += 1;
            }
            Status::NotLocated => self.not_located += 1,
        }
    }

    /// Lists a row that was read but could not be located (coordinates that look swapped,
    /// an address not found...) with its reason, so that every « non localisée » row of the
    /// counts is in the list of lines in error.
    pub(super) fn located_error(&mut self, line: u64, r: &RowResult<'_>, max: usize) {
        if r.status == Status::NotLocated && !r.message.is_empty() {
            self.error(line, r.message.to_string(), max);
        }
    }

    pub(super) fn error(&mut self, line: u64, message: String, max: usize) {
        if self.errors.len() < max {
            self.errors.push((line, message));
        } else {
            self.errors_omitted += 1;
        }
    }

    /// French plain-text report.
    pub fn to_french_text(&self) -> String {
        let mut s = String::new();
        let plural = |n: u64, one: &str, many: &str| {
            if n > 1 {
                many.to_string()
            } else {
                one.to_string()
            }
        };
        s.push_str(&format!(
            "{} {} traitée{}\n",
            fr_int(self.rows),
            plural(self.rows, "ligne", "lignes"),
            if self.rows > 1 { "s" } else { "" }
        ));
        s.push_str(&format!("  dans un QPV : {}\n", fr_int(self.in_qpv)));
        s.push_str(&format!("  hors QPV : {}\n", fr_int(self.outside_qpv)));
        s.push_str(&format!("  à vérifier : {}\n", fr_int(self.to_check)));
        s.push_str(&format!(
            "  non localisées : {}\n",
            fr_int(self.not_located)
        ));
        if !self.per_qpv.is_empty() {
            s.push_str("Répartition par QPV :\n");
            for (code, n) in &self.per_qpv {
                let name = self.qpv_names.get(code).map(String::as_str).unwrap_or("");
                if name.is_empty() {
                    s.push_str(&format!("  {code} : {}\n", fr_int(*n)));
                } else {
                    s.push_str(&format!("  {code} {name} : {}\n", fr_int(*n)));
                }
            }
        }
        let total_errors = self.errors.len() as u64 + self.errors_omitted;
        if total_errors > 0 {
            s.push_str(&format!(
                "{} {} :\n",
                fr_int(total_errors),
                plural(total_errors, "ligne en erreur", "lignes en erreur")
            ));
            for (line, msg) in &self.errors {
                s.push_str(&format!("  ligne {line} : {msg}\n"));
            }
            if self.errors_omitted > 0 {
                s.push_str(&format!("  … et {} autres\n", fr_int(self.errors_omitted)));
            }
        }
        for n in &self.notes {
            s.push_str(n);
            s.push('\n');
        }
        s
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_text() {
        let mut s = Summary {
            rows: 12345,
            in_qpv: 2,
            ..Default::default()
        };
        s.per_qpv.insert("QN05971M".into(), 2);
        s.qpv_names
            .insert("QN05971M".into(), "Secteur Ouest".into());
        s.errors.push((12, "5 colonnes au lieu de 7".into()));
        let t = s.to_french_text();
        assert!(t.starts_with("12 345 lignes traitées\n"), "{t}");
        assert_eq!(
            (fr_int(1), fr_int(1234), fr_int(123456), fr_int(1234567)),
            (
                "1".into(),
                "1 234".into(),
                "123 456".into(),
                "1 234 567".into()
            )
        );
        assert!(t.contains("  QN05971M Secteur Ouest : 2\n"));
        assert!(t.contains("1 ligne en erreur :\n  ligne 12 : 5 colonnes au lieu de 7\n"));
    }
}
