//! Property tests of the CSV reader and writer: arbitrary bytes never make
//! them panic, and there is exactly one output row per input row.

use proptest::prelude::*;
use quartiers_io::output::{process_csv, ProcessOptions, RowResult, Status};
use quartiers_io::table::{sniff_csv, CsvDialect, CsvRecords, RowInput, TextEncoding};

fn locate(row: &RowInput<'_>) -> RowResult<'static> {
    match row {
        RowInput::Wgs84 { .. } | RowInput::Lambert93 { .. } => {
            RowResult::in_qpv("QN05971M", "Secteur Ouest")
        }
        RowInput::Address(_) => RowResult {
            score_geocodage: Some(0.5),
            ..RowResult::new(Status::ToCheck)
        },
        RowInput::Invalid(m) => RowResult::not_located(m.to_string()),
    }
}

/// Counts the records of `data` with our reader (blank lines are not records).
fn count_records(data: &[u8], dialect: CsvDialect) -> usize {
    let mut r = CsvRecords::new(data, dialect);
    let mut n = 0;
    let mut first = true;
    while let Some(rec) = r.next_record() {
        let rec = rec.unwrap();
        let len = rec.len();
        if first {
            r.set_expected_fields(len);
            first = false;
        }
        n += 1;
    }
    n
}

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    let interesting = prop::sample::select(vec![
        b'a', b'1', b',', b';', b'\t', b'"', b'\n', b'\r', b' ', b'.', 0xC3, 0xA9, 0xE9, 0xEF,
        0xBB, 0xBF, 0x00,
    ]);
    prop::collection::vec(prop_oneof![3 => interesting, 1 => any::<u8>()], 0..600)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in bytes_strategy(), header in prop::sample::select(vec!["", "lon;lat;adresse\n", "x,y\n", "adresse\tville\n"])) {
        let mut data = header.as_bytes().to_vec();
        data.extend_from_slice(&body);
        let mut out = Vec::new();
        let opts = ProcessOptions { csv_bom: false, ..Default::default() };
        if let Ok(summary) = process_csv(&data[..], &mut out, &opts, locate, |_| {}) {
            let d_in = sniff_csv(&data[..data.len().min(1 << 16)]).unwrap();
            // Row count in (records after the header) = rows processed.
            prop_assert_eq!(count_records(&data, d_in) as u64, summary.rows + 1);
            // Row count out = rows processed + header.
            let d_out = CsvDialect { separator: d_in.separator, encoding: TextEncoding::Utf8, line_terminator: b'\n' };
            prop_assert!(std::str::from_utf8(&out).is_ok());
            prop_assert_eq!(count_records(&out, d_out) as u64, summary.rows + 1);
            prop_assert_eq!(summary.rows, summary.in_qpv + summary.outside_qpv + summary.to_check + summary.not_located);
        }
    }

    #[test]
    fn well_formed_tables_round_trip(
        sep in prop::sample::select(vec![b';', b',', b'\t']),
        rows in prop::collection::vec(
            prop::collection::vec("[a-zA-Z0-9 éèàç;,\"'\\n.-]{0,12}", 3),
            1..40,
        ),
    ) {
        // Keep rows that are not entirely blank (blank lines are not records).
        let rows: Vec<Vec<String>> = rows.into_iter().filter(|r| r.iter().any(|f| !f.trim().is_empty())).collect();
        let quote = |f: &str| {
            if f.contains([sep as char, '"', '\n']) || f.starts_with(' ') {
                format!("\"{}\"", f.replace('"', "\"\""))
            } else {
                f.to_string()
            }
        };
        let s = sep as char;
        let mut data = format!("adresse{s}ville{s}note\n");
        for r in &rows {
            data.push_str(&r.iter().map(|f| quote(f)).collect::<Vec<_>>().join(&s.to_string()));
            data.push('\n');
        }
        let mut out = Vec::new();
        let opts = ProcessOptions { csv_bom: false, separator: Some(sep), ..Default::default() };
        let summary = process_csv(data.as_bytes(), &mut out, &opts, locate, |_| {}).unwrap();
        prop_assert_eq!(summary.rows, rows.len() as u64);
        prop_assert!(summary.errors.iter().all(|(_, m)| m == "adresse vide"), "{:?}", summary.errors);
        let d = CsvDialect { separator: sep, encoding: TextEncoding::Utf8, line_terminator: b'\n' };
        let mut r = CsvRecords::new(out.as_slice(), d);
        let header: Vec<String> = r.next_record().unwrap().unwrap().iter().map(str::to_string).collect();
        prop_assert_eq!(header.len(), 10);
        r.set_expected_fields(10);
        for expected in &rows {
            let rec = r.next_record().unwrap().unwrap();
            let got: Vec<&str> = rec.iter().take(3).collect();
            let want: Vec<&str> = expected.iter().map(String::as_str).collect();
            prop_assert_eq!(got, want);
        }
        prop_assert!(r.next_record().is_none());
    }
}

/// Hand-picked tricky inputs kept as a regression corpus (in addition to
/// the proptest-regressions seeds).
#[test]
fn regression_corpus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/corpus");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let mut out = Vec::new();
        let opts = ProcessOptions {
            csv_bom: false,
            ..Default::default()
        };
        if let Ok(summary) = process_csv(&data[..], &mut out, &opts, locate, |_| {}) {
            let d_in = sniff_csv(&data[..data.len().min(1 << 16)]).unwrap();
            assert_eq!(
                count_records(&data, d_in) as u64,
                summary.rows + 1,
                "{}",
                path.display()
            );
            let d_out = CsvDialect {
                separator: d_in.separator,
                encoding: TextEncoding::Utf8,
                line_terminator: b'\n',
            };
            assert_eq!(
                count_records(&out, d_out) as u64,
                summary.rows + 1,
                "{}",
                path.display()
            );
        }
        n += 1;
    }
    assert!(n >= 5);
}
