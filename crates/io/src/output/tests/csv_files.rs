//! CSV processing: chunks and their order, failing input or output, batches, added
//! columns, ragged rows, encodings, errors and progress.

use std::io::{self, Cursor, Read, Write};

use super::{locate_simple, no_bom, run_csv, BatchOnly};
use crate::output::locate::ROW_CHUNK;
use crate::output::*;
use crate::table::RowInput;

#[test]
fn chunks_keep_row_order_and_errors_in_line_order() {
    // Three chunks and a bit, with ragged rows and unreadable coordinates spread
    // over them: one output row per input row, in order, and the errors by line.
    let n = 2 * ROW_CHUNK + ROW_CHUNK / 2 + 7;
    let mut input = String::from("id;lon;lat\n");
    let mut bad_lines = Vec::new();
    for i in 0..n {
        match i % 997 {
            5 => {
                input.push_str(&format!("{i};3,1\n"));
                bad_lines.push(i as u64 + 2);
            }
            9 => {
                input.push_str(&format!("{i};abc;50,6\n"));
                bad_lines.push(i as u64 + 2);
            }
            _ => input.push_str(&format!(
                "{i};{};50,6\n",
                if i % 2 == 0 { "3,1" } else { "2,9" }
            )),
        }
    }
    let mut out = Vec::new();
    let opts = ProcessOptions {
        max_errors: usize::MAX,
        ..ProcessOptions::default()
    };
    let summary = process_csv(input.as_bytes(), &mut out, &opts, locate_simple, |_| {}).unwrap();
    assert_eq!(summary.rows, n as u64);
    let text = String::from_utf8(out).unwrap();
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), n);
    for (i, row) in rows.iter().enumerate() {
        assert!(row.starts_with(&format!("{i};")), "row {i}: {row}");
        let in_qpv = row.contains("QN05971M");
        let expected = i % 2 == 0 && i % 997 != 5 && i % 997 != 9;
        assert_eq!(in_qpv, expected, "row {i}: {row}");
    }
    let lines: Vec<u64> = summary.errors.iter().map(|e| e.0).collect();
    assert_eq!(lines, bad_lines);
    assert_eq!(summary.not_located, bad_lines.len() as u64);
}

/// `n` rows `i;lon;lat` (`;`, decimal comma), every even row in the test QPV of
/// [`locate_simple`], after the header.
fn numbered_rows(n: usize) -> String {
    let mut input = String::from("id;lon;lat\n");
    for i in 0..n {
        let lon = if i % 2 == 0 { "3,1" } else { "2,9" };
        input.push_str(&format!("{i};{lon};50,6\n"));
    }
    input
}

/// Checks that `text` holds the header and rows `0..n` of [`numbered_rows`], in
/// order, each with its answer.
fn assert_numbered_output(text: &str, n: usize) {
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), n);
    for (i, row) in rows.iter().enumerate() {
        assert!(row.starts_with(&format!("{i};")), "row {i}: {row}");
        assert_eq!(row.contains("QN05971M"), i % 2 == 0, "row {i}: {row}");
    }
}

#[test]
fn a_whole_number_of_chunks_is_read_to_its_end() {
    // The reader's last full chunk is followed by an empty one: nothing is lost,
    // nothing written twice.
    for n in [ROW_CHUNK, 2 * ROW_CHUNK] {
        let mut out = Vec::new();
        let input = numbered_rows(n);
        let mut last_progress = 0;
        let summary = process_csv(input.as_bytes(), &mut out, &no_bom(), locate_simple, |k| {
            last_progress = k
        })
        .unwrap();
        assert_eq!(summary.rows, n as u64);
        assert_eq!(last_progress, n as u64);
        assert_numbered_output(&String::from_utf8(out).unwrap(), n);
    }
}

/// An input that breaks off with an I/O error after `limit` bytes (a dropped
/// connection, a damaged disk).
struct BreaksOff {
    data: Cursor<Vec<u8>>,
    limit: u64,
}

impl Read for BreaksOff {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.limit.saturating_sub(self.data.position());
        if left == 0 {
            return Err(io::Error::other("connexion interrompue"));
        }
        let k = buf.len().min(left as usize);
        self.data.read(&mut buf[..k])
    }
}

#[test]
fn an_input_breaking_off_in_its_second_chunk_keeps_every_row_read_before() {
    let n = 3 * ROW_CHUNK;
    let input = numbered_rows(n);
    // Cut after the header and ROW_CHUNK + ROW_CHUNK / 2 rows, past the sample read
    // to detect the dialect.
    let kept = ROW_CHUNK + ROW_CHUNK / 2;
    let limit = input
        .lines()
        .take(kept + 1)
        .map(|l| l.len() + 1)
        .sum::<usize>();
    assert!(limit > 1 << 16);
    let reader = BreaksOff {
        data: Cursor::new(input.into_bytes()),
        limit: limit as u64,
    };
    let mut out = Vec::new();
    let e = process_csv(reader, &mut out, &no_bom(), locate_simple, |_| {}).unwrap_err();
    assert_eq!(
        e.to_string(),
        "erreur de lecture ou d'écriture : connexion interrompue",
        "the French message names the cause"
    );
    assert_numbered_output(&String::from_utf8(out).unwrap(), kept);
}

/// An output that fails once `room` bytes are written (a full disk), counting the
/// writes it was asked for after that.
struct FillsUp<'a> {
    written: usize,
    room: usize,
    refused: &'a std::sync::atomic::AtomicUsize,
}

impl Write for FillsUp<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() > self.room {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Err(io::Error::new(io::ErrorKind::StorageFull, "disque plein"));
        }
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_failing_output_stops_every_stage_at_once() {
    // The output fails in the first chunk of a long input: the call returns the
    // write error (no stage waits for another forever), the locating stops within
    // the chunks already in flight, and no write is attempted after the failure.
    let n = 40 * ROW_CHUNK;
    let input = numbered_rows(n);
    let refused = std::sync::atomic::AtomicUsize::new(0);
    let located = std::sync::atomic::AtomicUsize::new(0);
    let out = FillsUp {
        written: 0,
        room: 100_000,
        refused: &refused,
    };
    let counting = |row: &RowInput<'_>| {
        located.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        locate_simple(row)
    };
    let e = process_csv(input.as_bytes(), out, &no_bom(), counting, |_| {}).unwrap_err();
    assert_eq!(
        e.to_string(),
        "erreur de lecture ou d'écriture : disque plein",
        "the French message names the cause"
    );
    // The failed write, and the one flush that `BufWriter` tries when it is dropped.
    assert_eq!(refused.load(std::sync::atomic::Ordering::Relaxed), 2);
    // At most the chunk being written, the one sent to the writer and the one being
    // located when the writer stopped.
    assert!(located.load(std::sync::atomic::Ordering::Relaxed) <= 3 * ROW_CHUNK);
}

#[test]
fn csv_rows_are_located_by_batches_in_order() {
    // Two chunks and a bit, with bad rows in between: every readable row gets the
    // answer computed for it in its batch, the bad rows their own errors.
    let n = 2 * ROW_CHUNK + 3 * LOCATE_BATCH / 2 + 11;
    let mut input = String::from("id,lon,lat\n");
    let mut bad = 0;
    for i in 0..n {
        if i % 1_000 == 3 {
            input.push_str(&format!("{i},abc,50.6\n"));
            bad += 1;
        } else {
            input.push_str(&format!("{i},{:.4},50.6\n", i as f64 / 1e4));
        }
    }
    let batches = std::sync::Mutex::new(Vec::new());
    let locator = BatchOnly { batches: &batches };
    let mut out = Vec::new();
    let opts = ProcessOptions {
        max_errors: usize::MAX,
        ..ProcessOptions::default()
    };
    let summary = process_csv(input.as_bytes(), &mut out, &opts, locator, |_| {}).unwrap();
    assert_eq!(summary.rows, n as u64);
    assert_eq!(summary.not_located, bad);
    let text = String::from_utf8(out).unwrap();
    for (i, row) in text.lines().skip(1).enumerate() {
        assert!(row.starts_with(&format!("{i},")), "row {i}: {row}");
        if i % 1_000 == 3 {
            assert!(row.contains("non localisé"), "row {i}: {row}");
        } else {
            assert!(
                row.ends_with(&format!(",n{:.4}", i as f64 / 1e4)),
                "row {i}: {row}"
            );
        }
    }
    let batches = batches.into_inner().unwrap();
    assert_eq!(batches.iter().sum::<usize>() as u64, n as u64 - bad);
    assert!(batches.iter().all(|&b| b <= LOCATE_BATCH));
    assert!(batches.iter().any(|&b| b > LOCATE_BATCH / 2));
}

#[test]
fn csv_adds_columns_in_order() {
    let (s, out) = run_csv(b"id;lon;lat\n1;3,0573;50,6292\n2;2,5;50\n3;;\n", &no_bom());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "id;lon;lat;qpv_code;qpv_nom;autres_perimetres;statut;distance_qpv_m;score_geocodage;message");
    assert_eq!(
        lines[1],
        "1;3,0573;50,6292;QN05971M;Secteur Ouest;;dans un QPV;120;;"
    );
    assert_eq!(lines[2], "2;2,5;50;;;;hors QPV;1530;;");
    assert_eq!(lines[3], "3;;;;;;non localisé;;;coordonnées vides");
    assert_eq!(lines.len(), 4);
    assert_eq!(
        (s.rows, s.located, s.in_qpv, s.outside_qpv, s.not_located),
        (3, 2, 1, 1, 1)
    );
    assert_eq!(s.per_qpv.get("QN05971M"), Some(&1));
    assert_eq!(s.errors, vec![(4, "coordonnées vides".to_string())]);
}

#[test]
fn csv_comma_separator_and_decimal_point() {
    let (_, out) = run_csv(b"adresse,ville\n\"12 rue X, bat B\",Lille\n", &no_bom());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[1],
        "\"12 rue X, bat B\",Lille,,,,à vérifier,,0.88,\"géocodé : 12 rue X, bat B Lille\""
    );
}

#[test]
fn csv_bom_written_by_default() {
    let (_, out) = run_csv(b"lon;lat\n3.1;50\n", &ProcessOptions::default());
    assert!(out.starts_with('\u{feff}'));
}

#[test]
fn csv_ragged_and_unclosed_quote_reported_per_line() {
    let input = b"id;lon;lat;nom;a;b;c\n1;3,1;50;x;;;\n2;3,1;50;x;y\n3;3,1;50;x;;;;;\n4;3,1;50;x;;;;9\n5;3,1;50;\"x;;;\n6;3,1;50;x;;;\n";
    let (s, out) = run_csv(input, &no_bom());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 7, "{out}");
    assert_eq!(s.rows, 6);
    assert_eq!(s.in_qpv, 3, "{s:?}");
    let rendered = s.to_french_text();
    assert!(
        rendered.contains("ligne 3 : 5 colonnes au lieu de 7"),
        "{rendered}"
    );
    assert!(
        rendered.contains("ligne 5 : 8 colonnes au lieu de 7 (colonnes en trop : « 9 »)"),
        "{rendered}"
    );
    assert!(
        rendered.contains("ligne 6 : guillemet non fermé"),
        "{rendered}"
    );
    // Short row padded so that the added columns stay aligned.
    assert_eq!(
        lines[2],
        "2;3,1;50;x;y;;;;;;non localisé;;;5 colonnes au lieu de 7"
    );
    // Trailing empty extra fields are tolerated (Excel exports).
    assert!(
        lines[3].starts_with("3;3,1;50;x;;;;QN05971M"),
        "{}",
        lines[3]
    );
    // The broken quote is re-quoted properly in the output.
    assert!(
        lines[5].starts_with("5;3,1;50;\"\"\"x\";;;;"),
        "{}",
        lines[5]
    );
    assert!(lines[6].starts_with("6;3,1;50;x;;;;QN05971M"));
}

#[test]
fn csv_windows_1252_converted_to_utf8() {
    let (s, out) = run_csv(
        b"adresse;ville\n3 rue de l'\xC9glise;Li\xE9vin\n",
        &no_bom(),
    );
    assert!(out.contains("3 rue de l'Église;Liévin;"), "{out}");
    assert!(s.notes.iter().any(|n| n.contains("Windows-1252")));
}

#[test]
fn csv_errors_are_french_and_stop_whole_file_only_when_fatal() {
    let mut out = Vec::new();
    let e = process_csv(
        &b"PK\x03\x04abc"[..],
        &mut out,
        &no_bom(),
        locate_simple,
        |_| {},
    )
    .unwrap_err();
    assert!(e
        .to_string()
        .starts_with("Ce fichier n'est pas un fichier CSV"));
    let e = process_csv(
        &b"nom;age\nx;3\n"[..],
        &mut out,
        &no_bom(),
        locate_simple,
        |_| {},
    )
    .unwrap_err();
    assert!(e
        .to_string()
        .starts_with("Aucune colonne de localisation reconnue"));
}

#[test]
fn csv_header_collision_renamed() {
    let (_, out) = run_csv(b"lon;lat;statut\n3.1;50;x\n", &no_bom());
    assert!(out
        .lines()
        .next()
        .unwrap()
        .contains(";statut;qpv_code;qpv_nom;autres_perimetres;statut_2;"));
}

#[test]
fn progress_is_reported() {
    let mut data = b"lon;lat\n".to_vec();
    for _ in 0..25 {
        data.extend_from_slice(b"3.1;50\n");
    }
    let mut calls = Vec::new();
    let opts = ProcessOptions {
        progress_every: 10,
        ..no_bom()
    };
    process_csv(&data[..], Vec::new(), &opts, locate_simple, |n| {
        calls.push(n)
    })
    .unwrap();
    assert_eq!(calls, vec![10, 20, 25]);
}

#[test]
fn rows_read_but_not_located_are_listed_with_their_reason() {
    let opts = ProcessOptions {
        columns: crate::table::ColumnSpec::Address(vec!["adresse".into()]),
        ..no_bom()
    };
    let (s, _) = run_csv(b"id;adresse\n1;1 rue X Lille\n2;2 rue Y Paris\n3;\n", &opts);
    assert_eq!(s.not_located, 2);
    assert_eq!(
        s.errors,
        vec![
            (3, "adresse introuvable".to_string()),
            (4, "adresse vide".to_string())
        ]
    );
    let text = s.to_french_text();
    assert!(
        text.contains(
            "2 lignes en erreur :\n  ligne 3 : adresse introuvable\n  ligne 4 : adresse vide\n"
        ),
        "{text}"
    );
}
