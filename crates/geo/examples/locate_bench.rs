//! Run the locate benchmark outside the CLI:
//!
//! ```text
//! cargo run --release -p quartiers-geo --example locate_bench -- QPV_FILE [POINTS] [EXPORT_DIR]
//! ```
//!
//! With `EXPORT_DIR`, the two point sets are also written there (`uniform.bin`,
//! `urban.bin`) for `crates/geo/bench/shapely_reference.py`.

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(file) = args.next().map(PathBuf::from) else {
        eprintln!("usage: locate_bench QPV_FILE [POINTS] [EXPORT_DIR]");
        std::process::exit(2);
    };
    let points: usize = args
        .next()
        .map(|s| s.parse().expect("POINTS must be an integer"))
        .unwrap_or(10_000_000);
    if let Some(dir) = args.next() {
        let (u, b) = quartiers_geo::bench::export_points(&file, points, &PathBuf::from(dir))
            .expect("export failed");
        eprintln!("points written to {} and {}", u.display(), b.display());
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = quartiers_geo::bench::run_locate_bench(&file, points, &mut out) {
        eprintln!("erreur : {e}");
        std::process::exit(1);
    }
}
