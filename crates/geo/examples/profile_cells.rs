//! Diagnostic: average work per point of the urban benchmark set.
use quartiers_geo::bench::{urban_points, SEED, URBAN_RADIUS_M};
use quartiers_geo::{read_path, PerimeterIndex, ReadOptions};
fn main() {
    let f = std::env::args().nth(1).expect("file");
    let p = read_path(std::path::Path::new(&f), &ReadOptions::default())
        .unwrap()
        .perimeters;
    let pts = urban_points(&p, 1_000_000, URBAN_RADIUS_M, SEED ^ 1);
    let idx = PerimeterIndex::build(p);
    println!("{:?}", idx.stats());
    let mut s = [0usize; 4];
    let mut hist = vec![0usize; 12];
    for &(x, y) in &pts {
        let c = idx.cell_profile(x, y);
        s[0] += c.0;
        s[1] += c.1;
        s[2] += c.2;
        s[3] += c.3;
        let b = (usize::BITS - c.3.leading_zeros()) as usize;
        hist[b.min(11)] += 1;
    }
    let n = pts.len() as f64;
    println!(
        "avg inside {:.2} parts_edges {:.2} near {:.2} cand {:.2}",
        s[0] as f64 / n,
        s[1] as f64 / n,
        s[2] as f64 / n,
        s[3] as f64 / n
    );
    println!("cand hist (log2 buckets): {hist:?}");
}
