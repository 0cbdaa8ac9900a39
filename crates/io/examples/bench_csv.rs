//! Throughput check: generates an N-row CSV (default 1,000,000) in the
//! system temp directory and runs `process_csv` with a trivial locate.
//!
//! `cargo run --release -p quartiers-io --example bench_csv -- 1000000`

use std::io::{BufWriter, Write};
use std::time::Instant;

use quartiers_io::output::{process_csv, ProcessOptions, RowResult, Status};
use quartiers_io::table::RowInput;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir();
    let input = dir.join("quartiers-bench-in.csv");
    let output = dir.join("quartiers-bench-out.csv");
    {
        let mut w = BufWriter::new(std::fs::File::create(&input).unwrap());
        writeln!(w, "id;nom;adresse;lon;lat").unwrap();
        for i in 0..n {
            let lon = 2.8 + (i % 10_000) as f64 * 0.0001;
            let lat = 50.3 + (i % 7_919) as f64 * 0.0001;
            writeln!(
                w,
                "{i};Établissement {i};{} rue de la Paix 59000 Lille;{lon:.6};{lat:.6}",
                i % 200
            )
            .unwrap();
        }
    }
    let size = std::fs::metadata(&input).unwrap().len();
    let start = Instant::now();
    let summary = process_csv(
        std::fs::File::open(&input).unwrap(),
        std::fs::File::create(&output).unwrap(),
        &ProcessOptions::default(),
        |row: &RowInput<'_>| match row {
            RowInput::Wgs84 { lon, lat, .. } if *lon > 3.0 && *lat > 50.6 => RowResult {
                distance_qpv_m: Some(12.0),
                ..RowResult::in_qpv("QN05971M", "Secteur Ouest")
            },
            _ => RowResult {
                distance_qpv_m: Some(1500.0),
                ..RowResult::new(Status::OutsideQpv)
            },
        },
        |_| {},
    )
    .unwrap();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{} rows ({:.0} MB) in {:.2} s: {:.0} rows/s, {:.0} MB/s; in QPV {}",
        summary.rows,
        size as f64 / 1e6,
        secs,
        summary.rows as f64 / secs,
        size as f64 / 1e6 / secs,
        summary.in_qpv
    );
    let _ = std::fs::remove_file(&input);
    let _ = std::fs::remove_file(&output);
}
