//! Diagnostic for tuning the locator: throughput of `locate_batch` on the benchmark sets,
//! per wall-clock and per CPU-second, with explicit options.
//!
//! ```text
//! urban_bench QPV_FILE [POINTS] [TOL_M] [NEAREST_MAX_M] [REPEAT] [FIRST_QPVS]
//! ```
//!
//! `FIRST_QPVS`: urban points around the first N perimeters only (small working set).
//! Environment: `NOUNI=1` skips the uniform set; `WINDOW=N` repeats the first N urban
//! points (cache-resident, branch-predictable: an upper bound of the compute speed).
use quartiers_geo::bench::{
    checksum, thread_cpu_seconds, uniform_points, urban_points, SEED, URBAN_RADIUS_M,
};
use quartiers_geo::{read_path, IndexOptions, PerimeterIndex, ReadOptions};
fn main() {
    let mut a = std::env::args().skip(1);
    let f = a.next().expect("file");
    let n: usize = a.next().map(|s| s.parse().unwrap()).unwrap_or(2_000_000);
    let tol: f64 = a.next().map(|s| s.parse().unwrap()).unwrap_or(15.0);
    let rmax: f64 = a.next().map(|s| s.parse().unwrap()).unwrap_or(500.0);
    let rep: usize = a.next().map(|s| s.parse().unwrap()).unwrap_or(3);
    let nq: usize = a.next().map(|s| s.parse().unwrap()).unwrap_or(usize::MAX);
    let p = read_path(std::path::Path::new(&f), &ReadOptions::default())
        .unwrap()
        .perimeters;
    let mut pts = urban_points(&p[..nq.min(p.len())], n, URBAN_RADIUS_M, SEED ^ 1);
    if let Some(w) = std::env::var("WINDOW")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
    {
        for i in w..pts.len() {
            pts[i] = pts[i % w];
        }
    }
    let uni = uniform_points(n, SEED);
    let t = std::time::Instant::now();
    let idx = PerimeterIndex::build_with(
        p,
        IndexOptions {
            boundary_tolerance_m: tol,
            nearest_max_m: rmax,
        },
    );
    println!("build {:.3}s {:?}", t.elapsed().as_secs_f64(), idx.stats());
    let sets: Vec<(&str, &Vec<(f64, f64)>)> = if std::env::var("NOUNI").is_ok() {
        vec![("urban", &pts)]
    } else {
        vec![("urban", &pts), ("uniform", &uni)]
    };
    for (name, set) in sets {
        for _ in 0..rep {
            let mut acc = 0u64;
            let c0 = thread_cpu_seconds().unwrap();
            let t = std::time::Instant::now();
            idx.locate_batch(set, |_, l| acc = acc.wrapping_add(checksum(&l)));
            let w = t.elapsed().as_secs_f64();
            let c = thread_cpu_seconds().unwrap() - c0;
            println!(
                "{name}: {:.2} M/s wall, {:.2} M/CPU-s  (acc {acc})",
                n as f64 / w / 1e6,
                n as f64 / c / 1e6
            );
        }
    }
}
