//! Property tests of the GeoJSON reader: arbitrary bytes, truncated documents (plain and
//! gzipped) and documents with mutated coordinates (NaN, Infinity, out of range, swapped,
//! not numbers…) never make it panic; every feature is either accepted or rejected with its
//! number, and a damaged file still yields its complete features. Failing cases are kept in
//! `proptest_geojson.proptest-regressions` beside this file, and hand-picked inputs in
//! `corpus/`.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use quartiers_geo::read::{read_geojson_bytes, ReadOutput};
use quartiers_geo::{ReadError, ReadOptions};
use std::io::Write;

/// Invariants of every successful read.
fn check_report(out: &ReadOutput) -> Result<(), TestCaseError> {
    let r = &out.report;
    prop_assert_eq!(r.features_read, r.accepted + r.rejected.len());
    prop_assert_eq!(out.perimeters.len(), r.accepted);
    let mut last = 0;
    for x in &r.rejected {
        prop_assert!(
            x.feature > last,
            "rejections numbered in file order: {:?}",
            r.rejected
        );
        prop_assert!(!x.message.trim().is_empty());
        last = x.feature;
    }
    prop_assert!(r.rejected.iter().all(|x| x.feature <= r.features_read));
    for p in &out.perimeters {
        for poly in &p.geometry.0 {
            for c in poly
                .exterior()
                .0
                .iter()
                .chain(poly.interiors().iter().flat_map(|r| r.0.iter()))
            {
                prop_assert!(c.x.is_finite() && c.y.is_finite());
                prop_assert!((-180.0..=180.0).contains(&c.x) && (-90.0..=90.0).contains(&c.y));
            }
        }
    }
    Ok(())
}

/// What is done to one feature's geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mutation {
    None,
    NaN,
    Infinity,
    MinusInfinity,
    HugeNumber,
    LonOutOfRange,
    LatOutOfRange,
    Swapped,
    NotANumber,
    Null,
    NoGeometry,
    Point,
    EmptyCoordinates,
}

const MUTATIONS: [Mutation; 13] = [
    Mutation::None,
    Mutation::NaN,
    Mutation::Infinity,
    Mutation::MinusInfinity,
    Mutation::HugeNumber,
    Mutation::LonOutOfRange,
    Mutation::LatOutOfRange,
    Mutation::Swapped,
    Mutation::NotANumber,
    Mutation::Null,
    Mutation::NoGeometry,
    Mutation::Point,
    Mutation::EmptyCoordinates,
];

#[derive(Debug, Clone)]
struct Feature {
    lon: f64,
    lat: f64,
    radius: f64,
    vertices: usize,
    mutation: Mutation,
    mutated_vertex: usize,
}

fn feature_strategy() -> impl Strategy<Value = Feature> {
    (
        -4.5..8.0f64,
        42.5..50.5f64,
        0.001..0.05f64,
        3usize..12,
        prop_oneof![3 => Just(Mutation::None), 2 => prop::sample::select(MUTATIONS.to_vec())],
        0usize..12,
    )
        .prop_map(|(lon, lat, radius, vertices, mutation, v)| Feature {
            lon,
            lat,
            radius,
            vertices,
            mutation,
            mutated_vertex: v % vertices,
        })
}

impl Feature {
    /// The feature as GeoJSON text (numbers written by hand, so that non-standard tokens can
    /// be injected).
    fn to_json(&self, code: &str) -> String {
        let mut pts: Vec<(String, String)> = (0..self.vertices)
            .map(|k| {
                let a = k as f64 / self.vertices as f64 * std::f64::consts::TAU;
                (
                    format!("{:.6}", self.lon + self.radius * a.cos()),
                    format!("{:.6}", self.lat + self.radius * 0.7 * a.sin()),
                )
            })
            .collect();
        let v = self.mutated_vertex;
        match self.mutation {
            Mutation::NaN => pts[v].0 = "NaN".into(),
            Mutation::Infinity => pts[v].1 = "Infinity".into(),
            Mutation::MinusInfinity => pts[v].0 = "-Infinity".into(),
            Mutation::HugeNumber => pts[v].1 = "1e400".into(),
            Mutation::LonOutOfRange => pts[v].0 = "200.5".into(),
            Mutation::LatOutOfRange => pts[v].1 = "-95".into(),
            Mutation::Swapped => {
                for p in pts.iter_mut() {
                    std::mem::swap(&mut p.0, &mut p.1);
                }
            }
            Mutation::NotANumber => pts[v].0 = "\"3,05\"".into(),
            Mutation::Null => pts[v].1 = "null".into(),
            _ => {}
        }
        let first = pts[0].clone();
        pts.push(first);
        let ring: Vec<String> = pts.iter().map(|(x, y)| format!("[{x}, {y}]")).collect();
        let geometry = match self.mutation {
            Mutation::NoGeometry => "null".to_string(),
            Mutation::Point => format!("{{\"type\": \"Point\", \"coordinates\": {}}}", ring[0]),
            Mutation::EmptyCoordinates => "{\"type\": \"Polygon\", \"coordinates\": []}".into(),
            _ => format!(
                "{{\"type\": \"Polygon\", \"coordinates\": [[{}]]}}",
                ring.join(", ")
            ),
        };
        format!(
            "{{\"type\": \"Feature\", \"properties\": {{\"code\": \"{code}\", \"nom\": \"Périmètre {code}\"}}, \"geometry\": {geometry}}}"
        )
    }

    fn accepted(&self) -> bool {
        self.mutation == Mutation::None
    }
}

/// A FeatureCollection of `features`, and the byte offsets where each feature starts and
/// ends.
fn collection(features: &[Feature], pretty: bool) -> (Vec<u8>, Vec<(usize, usize)>) {
    let sep = if pretty { ",\n  " } else { "," };
    let mut text = String::from(if pretty {
        "{\n \"type\": \"FeatureCollection\",\n \"features\": [\n  "
    } else {
        "{\"type\":\"FeatureCollection\",\"features\":["
    });
    let mut spans = Vec::new();
    for (i, f) in features.iter().enumerate() {
        if i > 0 {
            text.push_str(sep);
        }
        let start = text.len();
        text.push_str(&f.to_json(&format!("P{}", i + 1)));
        spans.push((start, text.len()));
    }
    text.push_str(if pretty { "\n ]\n}\n" } else { "]}" });
    (text.into_bytes(), spans)
}

fn codes(out: &ReadOutput) -> Vec<String> {
    out.perimeters.iter().map(|p| p.code.clone()).collect()
}

fn json_like_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\\",
        " ",
        "\n",
        "\"type\"",
        "\"Feature\"",
        "\"FeatureCollection\"",
        "\"features\"",
        "\"geometry\"",
        "\"Polygon\"",
        "\"MultiPolygon\"",
        "\"coordinates\"",
        "\"properties\"",
        "\"code\"",
        "\"crs\"",
        "3.05",
        "50.62",
        "-1e400",
        "NaN",
        "Infinity",
        "-Infinity",
        "null",
        "true",
        "0",
        "[[[3.0,50.0],[3.1,50.0],[3.1,50.1],[3.0,50.0]]]",
        "é",
        "\u{feff}",
    ]);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        prop::collection::vec(token.clone(), 0..120).prop_map(|t| t.concat().into_bytes()),
        prop::collection::vec(token, 0..120).prop_map(|t| {
            format!(
                "{{\"type\":\"FeatureCollection\",\"features\":[{}",
                t.concat()
            )
            .into_bytes()
        }),
    ]
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::SourceParallel(
            "proptest-regressions",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// Any bytes: an answer (a report or a file-level error), never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(data in json_like_bytes()) {
        if let Ok(out) = read_geojson_bytes(&data, &ReadOptions::default()) {
            check_report(&out)?;
        }
    }

    /// Mutated coordinates: each feature is judged alone, the bad ones rejected with their
    /// number, the others accepted, in file order.
    #[test]
    fn mutated_features_are_rejected_one_by_one(
        features in prop::collection::vec(feature_strategy(), 0..12),
        pretty in any::<bool>(),
    ) {
        let (doc, _) = collection(&features, pretty);
        let out = read_geojson_bytes(&doc, &ReadOptions::default())
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        check_report(&out)?;
        prop_assert_eq!(out.report.features_read, features.len());
        let expected: Vec<String> = features
            .iter()
            .enumerate()
            .filter(|(_, f)| f.accepted())
            .map(|(i, _)| format!("P{}", i + 1))
            .collect();
        prop_assert_eq!(codes(&out), expected);
        let rejected: Vec<usize> = out.report.rejected.iter().map(|r| r.feature).collect();
        let expected: Vec<usize> = features
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.accepted())
            .map(|(i, _)| i + 1)
            .collect();
        prop_assert_eq!(rejected, expected);
        for r in &out.report.rejected {
            let f = &features[r.feature - 1];
            if matches!(f.mutation, Mutation::NaN | Mutation::Infinity | Mutation::MinusInfinity | Mutation::Null | Mutation::NotANumber) {
                prop_assert!(r.message.contains("non numérique"), "{:?}: {}", f.mutation, r.message);
            }
        }
    }

    /// A document cut anywhere: the features complete before the cut are read exactly as in
    /// the whole document, the cut one is rejected, and only a file cut before its first
    /// feature is refused as a whole.
    #[test]
    fn truncated_documents_keep_their_complete_features(
        features in prop::collection::vec(feature_strategy(), 0..8),
        pretty in any::<bool>(),
        cut in 0.0..1.0f64,
    ) {
        let (doc, spans) = collection(&features, pretty);
        let full = read_geojson_bytes(&doc, &ReadOptions::default()).unwrap();
        let at = ((doc.len() as f64) * cut) as usize;
        let part = &doc[..at.min(doc.len() - 1)];
        match read_geojson_bytes(part, &ReadOptions::default()) {
            Ok(out) => {
                check_report(&out)?;
                let complete = spans.iter().filter(|(_, end)| *end <= part.len()).count();
                let kept: Vec<String> = full
                    .perimeters
                    .iter()
                    .filter(|p| p.code[1..].parse::<usize>().unwrap() <= complete)
                    .map(|p| p.code.clone())
                    .collect();
                prop_assert_eq!(codes(&out), kept);
                let full_rejected: Vec<usize> = full
                    .report
                    .rejected
                    .iter()
                    .map(|r| r.feature)
                    .filter(|&n| n <= complete)
                    .collect();
                let rejected: Vec<usize> = out.report.rejected.iter().map(|r| r.feature).filter(|&n| n <= complete).collect();
                prop_assert_eq!(rejected, full_rejected);
                prop_assert!(out.report.features_read <= complete + 1);
                // Any cut is reported, except one that only drops the trailing whitespace:
                // what is left is then the whole document (whose other warnings, such as
                // NaN coordinates, are those of the full read).
                let trimmed = |b: &[u8]| b.len() - b.iter().rev().take_while(|c| c.is_ascii_whitespace()).count();
                let whole = trimmed(part) == trimmed(&doc);
                if whole {
                    prop_assert_eq!(&out.report.warnings, &full.report.warnings);
                } else {
                    prop_assert!(!out.report.warnings.is_empty(), "the cut is reported");
                }
            }
            Err(e) => {
                prop_assert!(matches!(e, ReadError::GeoJson(_)), "{e}");
                prop_assert!(spans.first().is_none_or(|(start, _)| part.len() <= *start), "refused whole although cut at {} after a feature start: {e}", part.len());
            }
        }
    }

    /// A gzipped document cut anywhere: what is read is a prefix of the whole, in order.
    #[test]
    fn truncated_gzip_never_panics(
        features in prop::collection::vec(feature_strategy(), 1..6),
        cut in 0.0..1.0f64,
    ) {
        let (doc, _) = collection(&features, true);
        let full = read_geojson_bytes(&doc, &ReadOptions::default()).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&doc).unwrap();
        let gz = gz.finish().unwrap();
        let part = &gz[..((gz.len() as f64) * cut) as usize];
        if let Ok(out) = read_geojson_bytes(part, &ReadOptions::default()) {
            check_report(&out)?;
            let got = codes(&out);
            prop_assert_eq!(&codes(&full)[..got.len()], &got[..]);
        }
    }
}

/// Hand-picked damaged files (`corpus/`), with what must come out of each.
#[test]
fn regression_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    // file → Ok((accepted codes, rejected numbers, a word of a rejection or warning)) or
    // Err(a word of the file-level message).
    type Expect = Result<(&'static [&'static str], &'static [usize], &'static str), &'static str>;
    let cases: &[(&str, Expect)] = &[
        (
            "truncated.geojson",
            Ok((&["PA1", "PA2"], &[3], "coupée par la fin du fichier")),
        ),
        (
            "nan_coordinates.geojson",
            Ok((&["PA1", "PA3"], &[2], "non numérique")),
        ),
        (
            "bad_syntax_in_two_features.geojson",
            Ok((
                &["PA1", "PA4"],
                &[2, 3],
                "entité illisible, JSON mal formé à la ligne 3 : syntaxe invalide (virgule, \
                 guillemet, accolade ou crochet manquant ou en trop ?)",
            )),
        ),
        (
            "out_of_range.geojson",
            Ok((&["PA4"], &[1, 2, 3, 5], "hors limites")),
        ),
        (
            "lambert93_truncated.geojson",
            Ok((&["PL1"], &[2], "tronqué")),
        ),
        (
            "cut_after_features.geojson",
            Ok((&["PA1"], &[], "1 entité(s) complète(s)")),
        ),
        (
            "cut_before_first_feature.geojson",
            Err("JSON mal formé à la ligne 1"),
        ),
        // Once made the scanner loop forever.
        (
            "stray_close_in_features.geojson",
            Ok((&["PA1"], &[1], "entité illisible")),
        ),
        ("empty.geojson", Err("tronqué")),
        ("binary.geojson", Err("syntaxe invalide")),
    ];
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_string();
        let data = std::fs::read(&path).unwrap();
        let got = read_geojson_bytes(&data, &ReadOptions::default());
        let Some((_, expect)) = cases.iter().find(|(n, _)| *n == name) else {
            // Files added to the corpus without an expectation: no panic, sound report.
            if let Ok(out) = &got {
                check_report(out).unwrap();
            }
            continue;
        };
        seen += 1;
        match (expect, got) {
            (Ok((accepted, rejected, word)), Ok(out)) => {
                check_report(&out).unwrap();
                assert_eq!(codes(&out), *accepted, "{name}: {:#?}", out.report);
                let numbers: Vec<usize> = out.report.rejected.iter().map(|r| r.feature).collect();
                assert_eq!(numbers, *rejected, "{name}: {:#?}", out.report);
                let text = format!("{:?} {:?}", out.report.rejected, out.report.warnings);
                assert!(text.contains(word), "{name}: {text}");
                // serde_json's English messages stay out of what the user reads.
                assert!(!text.contains(" at line "), "{name}: {text}");
            }
            (Err(word), Err(e)) => {
                assert!(e.to_string().contains(word), "{name}: {e}");
                assert!(!e.to_string().contains(" at line "), "{name}: {e}");
            }
            (expect, got) => panic!("{name}: expected {expect:?}, got {got:?}"),
        }
    }
    assert_eq!(seen, cases.len(), "every corpus case was found");
}
