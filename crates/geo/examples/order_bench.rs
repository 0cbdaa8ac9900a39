//! Diagnostic for tuning the locator: how much of `locate_batch`'s time on the urban set
//! depends on the order of the input. The same 10 million urban points are located in
//! their generated (random) order, ordered by 1/64° block beforehand, and ordered by
//! block then by 1/1024° cell beforehand (the ordering is done outside the timing). The
//! last figure is about what the batch mode could reach if its own ordering were free
//! and brought every point of a cell together.
//!
//! ```text
//! order_bench QPV_FILE [POINTS] [ROUNDS]
//! ```
use quartiers_geo::bench::{checksum, urban_points, SEED, URBAN_RADIUS_M};
use quartiers_geo::{read_path, PerimeterIndex, ReadOptions};

/// `(block row, block column, cell row, cell column)` of a point: 1/64° blocks of
/// 1/1024° cells, as the index's grid.
fn block_then_cell(&(x, y): &(f64, f64)) -> (i64, i64, i64, i64) {
    let (i, j) = ((x * 1024.0).floor() as i64, (y * 1024.0).floor() as i64);
    (j >> 4, i >> 4, j, i)
}

fn main() {
    let mut a = std::env::args().skip(1);
    let f = a.next().expect("QPV_FILE");
    let n: usize = a.next().map(|s| s.parse().unwrap()).unwrap_or(10_000_000);
    let rounds: usize = a.next().map(|s| s.parse().unwrap()).unwrap_or(4);
    let p = read_path(std::path::Path::new(&f), &ReadOptions::default())
        .unwrap()
        .perimeters;
    let random = urban_points(&p, n, URBAN_RADIUS_M, SEED ^ 1);
    let index = PerimeterIndex::build(p);
    let mut by_block = random.clone();
    by_block.sort_by_key(|q| {
        let k = block_then_cell(q);
        (k.0, k.1)
    });
    let mut by_cell = random.clone();
    by_cell.sort_by_key(block_then_cell);
    for round in 0..rounds {
        for (name, set) in [
            ("random", &random),
            ("by block", &by_block),
            ("by cell", &by_cell),
        ] {
            let mut acc = 0u64;
            let t = std::time::Instant::now();
            index.locate_batch(set, |_, l| acc = acc.wrapping_add(checksum(&l)));
            let s = t.elapsed().as_secs_f64();
            println!(
                "round {round} {name:>8}: {:.2} M points/s (checksum {acc})",
                n as f64 / s / 1e6
            );
        }
    }
}
