//! Tests of CSV reading (dialect, encodings, quotes, records), column detection and
//! row interpretation.

use super::*;

fn records(data: &[u8]) -> Vec<(u64, Option<RecordProblem>, Vec<String>)> {
    let d = sniff_csv(data).unwrap();
    let mut r = CsvRecords::new(data, d);
    let mut out = Vec::new();
    let mut first = true;
    while let Some(rec) = r.next_record() {
        let rec = rec.unwrap();
        let fields: Vec<String> = rec.iter().map(str::to_string).collect();
        let n = fields.len();
        out.push((rec.line, rec.problem, fields));
        if first {
            first = false;
            r.set_expected_fields(n);
        }
    }
    out
}

#[test]
fn record_chunk_keeps_copies_of_the_records() {
    let data = "id;adresse;lon\n1;\"12 rue X; Lille\";3,05\n\n2;\"ouvert;3,06\n3;é;3\n".as_bytes();
    let d = sniff_csv(data).unwrap();
    let mut r = CsvRecords::new(data, d);
    let mut chunk = RecordChunk::default();
    let mut want = Vec::new();
    while let Some(rec) = r.next_record() {
        let rec = rec.unwrap();
        let fields: Vec<String> = rec.iter().map(str::to_string).collect();
        want.push((
            rec.line,
            rec.problem,
            fields,
            rec.raw_utf8().map(<[u8]>::to_vec),
        ));
        chunk.push(&rec);
    }
    assert_eq!(chunk.len(), 4);
    for (i, w) in want.iter().enumerate() {
        let rec = chunk.get(i);
        let fields: Vec<String> = rec.iter().map(str::to_string).collect();
        assert_eq!(
            (
                rec.line,
                rec.problem,
                fields,
                rec.raw_utf8().map(<[u8]>::to_vec)
            ),
            *w
        );
    }
    assert_eq!(chunk.get(2).problem, Some(RecordProblem::UnclosedQuote));
    assert_eq!(chunk.get(3).line, 5);
    chunk.clear();
    assert!(chunk.is_empty());
}

#[test]
fn separator_detection() {
    assert_eq!(sniff_csv(b"a;b;c\n1;2;3\n").unwrap().separator, b';');
    assert_eq!(sniff_csv(b"a,b,c\n1,2,3\n").unwrap().separator, b',');
    assert_eq!(sniff_csv(b"a\tb\tc\n1\t2\t3\n").unwrap().separator, b'\t');
    // Decimal commas inside a ;-separated file.
    assert_eq!(
        sniff_csv(b"id;lon;lat\n1;3,05;50,62\n2;3,06;50,63\n")
            .unwrap()
            .separator,
        b';'
    );
    // Quoted commas in a ,-separated file.
    assert_eq!(
        sniff_csv(b"id,adresse\n1,\"12 rue X; Lille\"\n2,\"3 rue Y; Roubaix\"\n")
            .unwrap()
            .separator,
        b','
    );
    // Single column whose values contain commas: the separator must not split them.
    let d = sniff_csv(b"adresse\n12 rue X, Lille\n").unwrap();
    assert_ne!(d.separator, b',');
}

#[test]
fn encoding_detection() {
    assert_eq!(
        sniff_csv("a;b\né;è\n".as_bytes()).unwrap().encoding,
        TextEncoding::Utf8
    );
    assert_eq!(
        sniff_csv(b"\xEF\xBB\xBFa;b\n1;2\n").unwrap().encoding,
        TextEncoding::Utf8Bom
    );
    assert_eq!(
        sniff_csv(b"a;b\n\xE9;\xE8\n").unwrap().encoding,
        TextEncoding::Windows1252
    );
    // A sample cut in the middle of a UTF-8 character is still UTF-8.
    assert_eq!(
        sniff_csv(&"a;b\né".as_bytes()[..6]).unwrap().encoding,
        TextEncoding::Utf8
    );
}

#[test]
fn windows_1252_is_decoded() {
    let recs = records(b"commune;voie\nLi\xE9vin;rue de l'\xC9glise\n");
    assert_eq!(recs[1].2, vec!["Liévin", "rue de l'Église"]);
}

#[test]
fn bom_is_skipped() {
    let recs = records(b"\xEF\xBB\xBFlon;lat\n1;2\n");
    assert_eq!(recs[0].2, vec!["lon", "lat"]);
}

#[test]
fn binary_files_are_rejected_in_french() {
    let e = sniff_csv(b"PK\x03\x04\x14\x00\x06\x00")
        .unwrap_err()
        .to_string();
    assert!(e.contains("classeur Excel (.xlsx)"), "{e}");
    let e = sniff_csv(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
        .unwrap_err()
        .to_string();
    assert!(e.contains("97-2003"), "{e}");
    let e = sniff_csv(b"%PDF-1.7\n").unwrap_err().to_string();
    assert!(e.contains("PDF"), "{e}");
    let e = sniff_csv(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00")
        .unwrap_err()
        .to_string();
    assert!(e.contains("données binaires"), "{e}");
    assert!(matches!(sniff_csv(b"  \n\n"), Err(TableError::Empty)));
    assert!(matches!(sniff_csv(b""), Err(TableError::Empty)));
}

#[test]
fn crlf_and_blank_lines_and_quotes() {
    let recs = records(b"a;b\r\n1;\"x;y\"\r\n\r\n2;\"dit \"\"bis\"\"\"\r\n");
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1].2, vec!["1", "x;y"]);
    assert_eq!(recs[2].0, 4);
    assert_eq!(recs[2].2, vec!["2", "dit \"bis\""]);
}

#[test]
fn old_mac_line_endings() {
    let recs = records(b"a;b\r1;2\r3;4\r");
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[2].2, vec!["3", "4"]);
    assert_eq!(recs[2].0, 3);
}

#[test]
fn multiline_quoted_field_is_one_record() {
    let recs = records(b"id;adresse;cp\n1;\"12 rue X\nBat B\";59000\n2;a;59100\n");
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[1].2, vec!["1", "12 rue X\nBat B", "59000"]);
    assert_eq!(recs[1].1, None);
    assert_eq!(recs[2].0, 4);
}

#[test]
fn unclosed_quote_damages_one_line_only() {
    let recs = records(b"id;adresse;cp\n1;\"12 rue X;59000\n2;a;59100\n3;b;59200\n");
    assert_eq!(recs.len(), 4, "{recs:?}");
    assert_eq!(recs[1].1, Some(RecordProblem::UnclosedQuote));
    assert_eq!(recs[1].0, 2);
    assert_eq!(recs[1].2, vec!["1", "\"12 rue X", "59000"]);
    assert_eq!(recs[2].2, vec!["2", "a", "59100"]);
    assert_eq!(recs[3].0, 4);
    // Unclosed on the last line.
    let recs = records(b"id;v\n1;\"abc\n");
    assert_eq!(recs[1].1, Some(RecordProblem::UnclosedQuote));
    assert_eq!(recs[1].2, vec!["1", "\"abc"]);
}

#[test]
fn ragged_rows_are_kept() {
    let recs = records(b"a;b;c\n1;2\n1;2;3;4\n");
    assert_eq!(recs[1].2.len(), 2);
    assert_eq!(recs[2].2.len(), 4);
}

fn h(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn detects_lon_lat_variants() {
    for (lon, lat) in [
        ("lon", "lat"),
        ("lng", "lat"),
        ("Longitude", "Latitude"),
        ("X_WGS84", "Y_WGS84"),
        ("long", "lat"),
    ] {
        let m = detect_columns(&h(&["id", lon, lat]), &ColumnSpec::Auto).unwrap();
        assert_eq!(
            m.point,
            Some(PointColumns::LonLat { lon: 1, lat: 2 }),
            "{lon}/{lat}"
        );
    }
}

#[test]
fn detects_lambert_and_plain_xy() {
    let m = detect_columns(&h(&["x_l93", "y_l93"]), &ColumnSpec::Auto).unwrap();
    assert_eq!(m.point, Some(PointColumns::Lambert93 { x: 0, y: 1 }));
    let m = detect_columns(&h(&["X", "Y", "nom"]), &ColumnSpec::Auto).unwrap();
    assert_eq!(m.point, Some(PointColumns::XyAuto { x: 0, y: 1 }));
    let m = detect_columns(
        &h(&["id", "X Lambert 93", "Y Lambert 93"]),
        &ColumnSpec::Auto,
    )
    .unwrap();
    assert_eq!(m.point, Some(PointColumns::Lambert93 { x: 1, y: 2 }));
}

#[test]
fn detects_address_parts() {
    let m = detect_columns(
        &h(&["Nom", "N°", "Voie", "Code postal", "Commune", "Email"]),
        &ColumnSpec::Auto,
    )
    .unwrap();
    assert_eq!(m.point, None);
    assert_eq!(
        m.address,
        vec![
            (AddressPart::Numero, 1),
            (AddressPart::Voie, 2),
            (AddressPart::CodePostal, 3),
            (AddressPart::Commune, 4)
        ]
    );
    let m = detect_columns(&h(&["adresse", "adresse_mail", "ville"]), &ColumnSpec::Auto).unwrap();
    assert_eq!(
        m.address,
        vec![(AddressPart::Full, 0), (AddressPart::Commune, 2)]
    );
}

#[test]
fn detects_geocoder_output() {
    let m = detect_columns(
        &h(&[
            "adresse",
            "latitude",
            "longitude",
            "result_label",
            "result_score",
            "result_status",
        ]),
        &ColumnSpec::Auto,
    )
    .unwrap();
    assert_eq!(m.point, Some(PointColumns::LonLat { lon: 2, lat: 1 }));
    assert_eq!(
        m.geocoder,
        Some(GeocoderColumns {
            score: 4,
            label: Some(3),
            status: Some(5)
        })
    );
    assert!(m.address.is_empty());
    assert!(m.describe().contains("déjà géocodé"));
}

#[test]
fn explicit_columns_override_detection() {
    let headers = h(&["lon", "lat", "gx", "gy"]);
    let m = detect_columns(
        &headers,
        &ColumnSpec::Lambert93 {
            x: "GX".into(),
            y: "gy".into(),
        },
    )
    .unwrap();
    assert_eq!(m.point, Some(PointColumns::Lambert93 { x: 2, y: 3 }));
    let e = detect_columns(
        &headers,
        &ColumnSpec::LonLat {
            lon: "nope".into(),
            lat: "lat".into(),
        },
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "colonne « nope » introuvable (colonnes du fichier : lon, lat, gx, gy)"
    );
}

#[test]
fn no_location_columns_message() {
    let e = detect_columns(&h(&["nom", "age"]), &ColumnSpec::Auto)
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("Aucune colonne de localisation reconnue"),
        "{e}"
    );
    assert!(e.contains("« nom »"));
}

#[test]
fn interpret_rows() {
    let m = detect_columns(&h(&["lon", "lat", "adresse"]), &ColumnSpec::Auto).unwrap();
    let mut s = RowScratch::default();
    let row = h(&["3,0573", " 50.6292 ", ""]);
    let r: &[String] = &row;
    assert_eq!(
        m.interpret(&r, &mut s),
        RowInput::Wgs84 {
            lon: 3.0573,
            lat: 50.6292,
            geocoded: None
        }
    );
    let row = h(&["", "", "12 rue X Lille"]);
    let r: &[String] = &row;
    assert_eq!(m.interpret(&r, &mut s), RowInput::Address("12 rue X Lille"));
    let row = h(&["abc", "50", ""]);
    let r: &[String] = &row;
    assert_eq!(
        m.interpret(&r, &mut s),
        RowInput::Invalid("coordonnées illisibles : « abc » ; « 50 »")
    );
    let row = h(&["250", "50", ""]);
    let r: &[String] = &row;
    assert_eq!(
        m.interpret(&r, &mut s),
        RowInput::Invalid("coordonnées hors limites (longitude 250, latitude 50)")
    );
    let row = h(&["", "", ""]);
    let r: &[String] = &row;
    assert_eq!(m.interpret(&r, &mut s), RowInput::Invalid("adresse vide"));

    let m = detect_columns(&h(&["x", "y"]), &ColumnSpec::Auto).unwrap();
    let row = h(&["704123,5", "7059000"]);
    let r: &[String] = &row;
    assert_eq!(
        m.interpret(&r, &mut s),
        RowInput::Lambert93 {
            x: 704123.5,
            y: 7059000.0
        }
    );
    let row = h(&["3.06", "50.63"]);
    let r: &[String] = &row;
    assert!(matches!(m.interpret(&r, &mut s), RowInput::Wgs84 { .. }));
    let row = h(&["-500", "7059000"]);
    let r: &[String] = &row;
    assert!(matches!(m.interpret(&r, &mut s), RowInput::Invalid(m) if m.contains("Lambert-93")));

    let m = detect_columns(&h(&["n", "voie", "cp", "ville"]), &ColumnSpec::Auto).unwrap();
    let row = h(&["12 bis", "rue Nationale", "59000", "Lille"]);
    let r: &[String] = &row;
    assert_eq!(
        m.interpret(&r, &mut s),
        RowInput::Address("12 bis rue Nationale 59000 Lille")
    );
}

#[test]
fn interpret_geocoder_rows() {
    let m = detect_columns(
        &h(&[
            "latitude",
            "longitude",
            "result_label",
            "result_score",
            "result_status",
        ]),
        &ColumnSpec::Auto,
    )
    .unwrap();
    let mut s = RowScratch::default();
    let row = h(&["50.6", "3.05", "12 Rue X 59000 Lille", "0.93", "ok"]);
    let r: &[String] = &row;
    assert_eq!(
        m.interpret(&r, &mut s),
        RowInput::Wgs84 {
            lon: 3.05,
            lat: 50.6,
            geocoded: Some(Geocoded {
                score: Some(0.93),
                label: "12 Rue X 59000 Lille"
            })
        }
    );
    let row = h(&["", "", "", "", "not-found"]);
    let r: &[String] = &row;
    assert_eq!(
        m.interpret(&r, &mut s),
        RowInput::Invalid("adresse non trouvée par le géocodeur (statut « not-found »)")
    );
}
