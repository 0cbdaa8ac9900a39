//! The preview of CSV and XLSX tables.

use std::io::Cursor;

use super::make_xlsx;
use crate::output::*;
use crate::table::TableFormat;

#[test]
fn preview_of_csv_and_xlsx() {
    let p = inspect_table(
        Cursor::new(b"nom;age\nx;3\ny;4\nz;5\n".to_vec()),
        &ProcessOptions::default(),
        2,
    )
    .unwrap();
    assert_eq!(p.format, TableFormat::Csv);
    assert_eq!(p.separator, Some(';'));
    assert_eq!(p.headers, vec!["nom", "age"]);
    assert_eq!(p.rows.len(), 2);
    assert!(p.columns.is_none());
    assert!(p
        .column_error
        .unwrap()
        .starts_with("Aucune colonne de localisation"));
    let x = make_xlsx(&[
        ("A", vec![vec!["lon", "lat"], vec!["3.1", "50.6"]]),
        ("B", vec![]),
    ]);
    let p = inspect_table(Cursor::new(x), &ProcessOptions::default(), 10).unwrap();
    assert_eq!(p.format, TableFormat::Xlsx);
    assert_eq!(p.sheets, vec!["A", "B"]);
    assert_eq!(p.rows, vec![vec!["3.1".to_string(), "50.6".to_string()]]);
    assert_eq!(
        p.columns.as_deref(),
        Some("Colonnes utilisées : longitude « lon », latitude « lat » (WGS84)")
    );
}
