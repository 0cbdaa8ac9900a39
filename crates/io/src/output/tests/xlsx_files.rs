//! XLSX processing: sheets, chunks and their order, batches, address columns.

use std::io::Cursor;

use super::{locate_simple, make_xlsx, read_xlsx, run_xlsx, BatchOnly};
use crate::output::locate::ROW_CHUNK;
use crate::output::*;

#[test]
fn xlsx_round_trip_with_several_sheets() {
    let input = make_xlsx(&[
        (
            "Adresses",
            vec![
                vec!["id", "lon", "lat", "nom"],
                vec!["1", "3.0573", "50.6292", "École"],
                vec!["2", "2.5", "50", ""],
                vec!["3", "", "", "vide"],
            ],
        ),
        ("Notes", vec![vec!["rien"]]),
        ("Brouillon", vec![vec!["x"]]),
    ]);
    let mut out = Cursor::new(Vec::new());
    let s = process_table(
        Cursor::new(input.clone()),
        &mut out,
        &ProcessOptions::default(),
        locate_simple,
        |_| {},
    )
    .unwrap();
    assert_eq!(
        (s.rows, s.in_qpv, s.outside_qpv, s.not_located),
        (3, 1, 1, 1)
    );
    let note = s.notes.iter().find(|n| n.contains("feuilles")).unwrap();
    assert_eq!(
        note,
        "Le classeur contient 3 feuilles ; seule la feuille « Adresses » (la première) a été traitée. Autres feuilles : « Notes », « Brouillon »."
    );
    let (sheets, rows) = read_xlsx(out.into_inner());
    assert_eq!(sheets, vec!["Adresses"]);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][..4], ["1", "3.0573", "50.6292", "École"]);
    assert_eq!(
        rows[0][4..11],
        [
            "QN05971M",
            "Secteur Ouest",
            "",
            "dans un QPV",
            "120",
            "",
            ""
        ]
    );
    assert_eq!(rows[1][7], "hors QPV");
    assert_eq!(rows[2][7], "non localisé");
    assert_eq!(rows[2][10], "coordonnées vides");

    // Chosen sheet.
    let opts = ProcessOptions {
        sheet: Some("Brouillon".into()),
        ..Default::default()
    };
    let mut out = Cursor::new(Vec::new());
    let e = process_table(
        Cursor::new(input.clone()),
        &mut out,
        &opts,
        locate_simple,
        |_| {},
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("Aucune colonne de localisation"),
        "{e}"
    );
    let opts = ProcessOptions {
        sheet: Some("Inconnue".into()),
        ..Default::default()
    };
    let e = process_table(Cursor::new(input), &mut out, &opts, locate_simple, |_| {}).unwrap_err();
    assert_eq!(e.to_string(), "la feuille « Inconnue » n'existe pas (feuilles du classeur : « Adresses », « Notes », « Brouillon »)");
}

#[test]
fn xlsx_chunks_keep_row_order_and_errors_in_line_order() {
    let n = ROW_CHUNK + ROW_CHUNK / 4;
    let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
    let mut sheet = vec![vec!["id", "lon", "lat"]];
    for (i, id) in ids.iter().enumerate() {
        let lon = match i % 997 {
            9 => "abc",
            _ if i % 2 == 0 => "3.1",
            _ => "2.9",
        };
        sheet.push(vec![id.as_str(), lon, "50.6"]);
    }
    let input = make_xlsx(&[("Lignes", sheet)]);
    let mut out = Cursor::new(Vec::new());
    let opts = ProcessOptions {
        max_errors: usize::MAX,
        ..ProcessOptions::default()
    };
    let s = process_table(Cursor::new(input), &mut out, &opts, locate_simple, |_| {}).unwrap();
    assert_eq!(s.rows, n as u64);
    let (_, rows) = read_xlsx(out.into_inner());
    assert_eq!(rows.len(), n);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        let want = match i % 997 {
            9 => "non localisé",
            _ if i % 2 == 0 => "dans un QPV",
            _ => "hors QPV",
        };
        assert_eq!(row[6], want, "row {i}");
    }
    let lines: Vec<u64> = s.errors.iter().map(|e| e.0).collect();
    let want: Vec<u64> = (0..n as u64)
        .filter(|i| i % 997 == 9)
        .map(|i| i + 2)
        .collect();
    assert_eq!(lines, want);
}

#[test]
fn xlsx_rows_are_located_by_batches_in_order() {
    // As for CSV: over a chunk and a bit, every readable row of the sheet gets the
    // answer its batch computed for it, the unreadable rows their own errors.
    let n = ROW_CHUNK + LOCATE_BATCH + 7;
    let cells: Vec<(String, String)> = (0..n)
        .map(|i| {
            let lon = if i % 1_000 == 3 {
                "abc".to_string()
            } else {
                format!("{:.4}", i as f64 / 1e4)
            };
            (i.to_string(), lon)
        })
        .collect();
    let mut sheet = vec![vec!["id", "lon", "lat"]];
    sheet.extend(
        cells
            .iter()
            .map(|(id, lon)| vec![id.as_str(), lon.as_str(), "50.6"]),
    );
    let batches = std::sync::Mutex::new(Vec::new());
    let locator = BatchOnly { batches: &batches };
    let mut out = Cursor::new(Vec::new());
    let opts = ProcessOptions {
        max_errors: usize::MAX,
        ..ProcessOptions::default()
    };
    let input = Cursor::new(make_xlsx(&[("Lignes", sheet)]));
    let s = process_table(input, &mut out, &opts, locator, |_| {}).unwrap();
    assert_eq!(s.rows, n as u64);
    let (_, rows) = read_xlsx(out.into_inner());
    assert_eq!(rows.len(), n);
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row[0], i.to_string());
        if i % 1_000 == 3 {
            assert_eq!(row[6], "non localisé", "row {i}");
        } else {
            assert_eq!(row[9], format!("n{:.4}", i as f64 / 1e4), "row {i}");
        }
    }
    let batches = batches.into_inner().unwrap();
    let bad = (0..n).filter(|i| i % 1_000 == 3).count();
    assert_eq!(batches.iter().sum::<usize>(), n - bad);
    assert!(batches.iter().all(|&b| b <= LOCATE_BATCH));
}

#[test]
fn xlsx_single_sheet_has_no_note_and_address_columns_work() {
    let input = make_xlsx(&[(
        "Feuil1",
        vec![
            vec!["Adresse", "Ville"],
            vec!["12 rue X", "Lille"],
            vec!["", ""],
            vec!["3 rue Y", "Arras"],
        ],
    )]);
    let (s, out) = run_xlsx(input).unwrap();
    // The empty row between two data rows stays a row: row N of the result is row N of
    // the sheet.
    assert_eq!(s.rows, 3);
    assert_eq!(s.to_check, 1);
    assert_eq!(s.not_located, 2);
    assert!(!s.notes.iter().any(|n| n.contains("feuilles")));
    let (_, rows) = read_xlsx(out);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0][5], "à vérifier");
    assert_eq!(rows[0][7], "0.88");
    assert_eq!(rows[1][0], "");
    assert_eq!(rows[1][5], "non localisé");
    assert_eq!(rows[1][8], "adresse vide");
    assert_eq!(rows[2][0], "3 rue Y");
    assert_eq!(rows[2][8], "adresse introuvable");
}

#[test]
fn xlsx_without_a_named_sheet_is_read_from_the_first_sheet_with_location_columns() {
    let input = make_xlsx(&[
        (
            "Notes",
            vec![vec!["Ceci est une feuille de notes"], vec!["rien"]],
        ),
        (
            "Bénéficiaires",
            vec![vec!["lon", "lat"], vec!["3.1", "50.6"], vec!["2.0", "48.0"]],
        ),
    ]);
    let (s, _) = run_xlsx(input).unwrap();
    assert_eq!(s.rows, 2);
    assert_eq!(s.sheet.as_ref().unwrap().name, "Bénéficiaires");
    assert!(
        s.notes.iter().any(|n| n.contains(
            "Les feuilles précédentes (« Notes ») n'ont pas de colonne de localisation reconnue"
        )),
        "{:?}",
        s.notes
    );

    // No sheet has location columns: the first sheet's error names the others.
    let input = make_xlsx(&[
        (
            "Notes",
            vec![vec!["Ceci est une feuille de notes"], vec!["rien"]],
        ),
        (
            "Budget",
            vec![vec!["poste", "montant"], vec!["loyer", "1200"]],
        ),
    ]);
    let e = run_xlsx(input).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "(feuille « Notes » ; autres feuilles du classeur : « Budget » : choisissez la \
             feuille qui contient les données)"
        ),
        "{e}"
    );
}
