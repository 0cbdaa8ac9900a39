//! Diagnostic for tuning the locator: time of `locate_batch` per class of urban point
//! (empty cell, inside only, nearest QPV only, near a boundary), each class on its own.
//!
//! ```text
//! class_bench QPV_FILE
//! ```
use quartiers_geo::bench::{urban_points, SEED, URBAN_RADIUS_M};
use quartiers_geo::{read_path, PerimeterIndex, ReadOptions};
fn main() {
    let f = std::env::args().nth(1).unwrap();
    let n = 4_000_000;
    let p = read_path(std::path::Path::new(&f), &ReadOptions::default())
        .unwrap()
        .perimeters;
    let urb = urban_points(&p, n, URBAN_RADIUS_M, SEED ^ 1);
    let idx = PerimeterIndex::build(p);
    let mut classes: Vec<Vec<(f64, f64)>> = vec![Vec::new(); 4];
    for &(x, y) in &urb {
        let (ins, parts, near, cand) = idx.cell_profile(x, y);
        let c = if parts > 0 || near > 0 {
            3
        } else if cand > 0 {
            2
        } else if ins > 0 {
            1
        } else {
            0
        };
        classes[c].push((x, y));
    }
    let names = ["empty", "inside", "nearest", "boundary"];
    for _ in 0..2 {
        let mut total = 0.0;
        for (c, set) in classes.iter().enumerate() {
            let t = std::time::Instant::now();
            let mut acc = 0u64;
            idx.locate_batch(set, |_, l| {
                acc += l.containing.len() as u64 + l.near_boundary as u64
            });
            let w = t.elapsed().as_secs_f64();
            total += w;
            println!(
                "{}: {:.1}% of points, {:.1} ns/pt, {:.1} ns/pt of the whole ({acc})",
                names[c],
                100.0 * set.len() as f64 / n as f64,
                w / set.len().max(1) as f64 * 1e9,
                w / n as f64 * 1e9
            );
        }
        println!(
            "sum {:.1} ns/pt = {:.1} M/s",
            total / n as f64 * 1e9,
            n as f64 / total / 1e6
        );
    }
}
