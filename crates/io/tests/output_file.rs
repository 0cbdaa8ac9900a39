//! `process_path` on files on disk: the result replaces the output file only when the
//! whole input was processed, and never the input itself.

use quartiers_io::output::{process_path, ProcessOptions, RowResult, Status};
use quartiers_io::table::{ColumnSpec, RowInput, TableError};
use std::path::Path;

fn outside(_row: &RowInput<'_>) -> RowResult<'static> {
    RowResult::new(Status::OutsideQpv)
}

fn run(input: &Path, output: &Path, columns: ColumnSpec) -> Result<String, TableError> {
    let opts = ProcessOptions {
        columns,
        csv_bom: false,
        ..ProcessOptions::default()
    };
    process_path(input, output, &opts, outside, |_| {}).map(|s| s.to_french_text())
}

/// The names in `dir` (temporary files included).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn output_is_replaced_only_after_a_whole_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("points.csv");
    let output = dir.path().join("points_qpv.csv");
    let data = "id;lon;lat\n1;3,02;50,62\n2;2,35;48,85\n";
    std::fs::write(&input, data).unwrap();

    let text = run(&input, &output, ColumnSpec::Auto).unwrap();
    assert!(text.contains("2 lignes traitées"), "{text}");
    let first = std::fs::read_to_string(&output).unwrap();
    assert_eq!(first.lines().count(), 3, "{first}");
    assert!(first.starts_with("id;lon;lat;qpv_code"), "{first}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&output).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644, "{mode:o}");
    }

    // A run that fails (unknown column) keeps the earlier result and leaves nothing behind.
    let e = run(
        &input,
        &output,
        ColumnSpec::LonLat {
            lon: "lon".into(),
            lat: "zz".into(),
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().starts_with("colonne « zz » introuvable"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), first);
    assert_eq!(names(dir.path()), ["points.csv", "points_qpv.csv"]);

    // An empty input neither creates an output nor leaves a temporary file.
    let empty = dir.path().join("vide.csv");
    std::fs::write(&empty, "").unwrap();
    let e = run(&empty, &dir.path().join("vide_qpv.csv"), ColumnSpec::Auto).unwrap_err();
    assert_eq!(e.to_string(), "le fichier est vide");
    assert_eq!(
        names(dir.path()),
        ["points.csv", "points_qpv.csv", "vide.csv"]
    );
}

#[test]
fn the_input_is_never_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("points.csv");
    let data = "id,lon,lat\n1,3.02,50.62\n";
    std::fs::write(&input, data).unwrap();
    // The same file, named another way.
    let same = dir.path().join(".").join("points.csv");
    let e = run(&input, &same, ColumnSpec::Auto).unwrap_err();
    assert!(matches!(e, TableError::OutputIsInput(_)), "{e:?}");
    assert!(
        e.to_string()
            .starts_with("le fichier de résultat serait le fichier d'entrée"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&input).unwrap(), data);
    assert_eq!(names(dir.path()), ["points.csv"]);
}

#[test]
fn a_missing_output_folder_is_named_in_french() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("points.csv");
    std::fs::write(&input, "id,lon,lat\n1,3.02,50.62\n").unwrap();
    let output = dir.path().join("absent").join("sortie.csv");
    let e = run(&input, &output, ColumnSpec::Auto).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "écriture de {} impossible : le dossier n'existe pas",
            output.display()
        )
    );
}

#[test]
fn a_damaged_workbook_is_explained_in_french() {
    let dir = tempfile::tempdir().unwrap();
    // A zip header and nothing else: what a truncated download of a workbook looks like.
    let input = dir.path().join("classeur.xlsx");
    std::fs::write(&input, b"PK\x03\x04 tronqu\xc3\xa9").unwrap();
    let e = run(&input, &dir.path().join("sortie.xlsx"), ColumnSpec::Auto).unwrap_err();
    assert_eq!(
        e.to_string(),
        "classeur Excel illisible : ce n'est pas un classeur XLSX lisible (archive ZIP \
         endommagée ou tronquée, ou autre fichier renommé en .xlsx) : enregistrez-le de nouveau \
         depuis votre tableur au format XLSX, ou en CSV"
    );
    assert_eq!(names(dir.path()), ["classeur.xlsx"]);
}
