use quartiers_geo::*;
fn main() {
    let file = std::env::args().nth(1).unwrap();
    let per = read_path(std::path::Path::new(&file), &ReadOptions::default())
        .unwrap()
        .perimeters;
    let urban = quartiers_geo::bench::urban_points(
        &per,
        1_000_000,
        quartiers_geo::bench::URBAN_RADIUS_M,
        quartiers_geo::bench::SEED ^ 1,
    );
    let idx = PerimeterIndex::build(per);
    println!("{:?}", idx);
    let mut n = [0usize; 8];
    let mut sum_cand = 0;
    let mut sum_ev = 0;
    let mut sum_parts = 0;
    let mut sum_near = 0;
    let mut hist = vec![0usize; 12];
    let mut evh = vec![0usize; 12];
    let mut cells = std::collections::HashSet::new();
    for &(x, y) in &urban {
        let (off, nc, ev, np, nn, ni, inq) = idx.tmp_diag(x, y);
        cells.insert(off);
        if off == 0 {
            n[0] += 1;
            continue;
        }
        if inq {
            n[1] += 1;
        }
        if nc > 0 && !inq {
            n[2] += 1;
            sum_cand += nc;
            sum_ev += ev;
            let b = (usize::BITS - nc.leading_zeros()) as usize;
            hist[b.min(11)] += 1;
            evh[ev.min(11)] += 1;
        }
        if np > 0 {
            n[3] += 1;
            sum_parts += np;
        }
        if nn > 0 {
            n[4] += 1;
            sum_near += nn;
        }
        if ni > 0 {
            n[5] += 1;
        }
    }
    println!(
        "empty {} inqpv {} cand {} parts {} near {} inside {}",
        n[0], n[1], n[2], n[3], n[4], n[5]
    );
    println!(
        "avg cand {:.2} avg eval {:.2} avg parts {:.2} avg near {:.2}",
        sum_cand as f64 / n[2] as f64,
        sum_ev as f64 / n[2] as f64,
        sum_parts as f64 / n[3] as f64,
        sum_near as f64 / n[4] as f64
    );
    println!("log2 hist of n_cand: {:?}", hist);
    println!("hist of evaluated: {:?}", evh);
    println!("distinct cells touched {}", cells.len());
    let mut classes: Vec<Vec<(f64, f64)>> = vec![Vec::new(); 5];
    for &(x, y) in &urban {
        let (off, nc, _ev, np, _nn, _ni, inq) = idx.tmp_diag(x, y);
        let c = if off == 0 {
            0
        } else if inq {
            1
        } else if nc > 0 {
            2
        } else if np > 0 {
            3
        } else {
            4
        };
        classes[c].push((x, y));
    }
    let time = |pts: &[(f64, f64)]| {
        let mut best = f64::INFINITY;
        for _ in 0..3 {
            let t = std::time::Instant::now();
            let mut acc = 0usize;
            idx.locate_batch(pts, |_, l| {
                acc += l.containing.len() + l.nearest_qpv.is_some() as usize
            });
            std::hint::black_box(acc);
            best = best.min(t.elapsed().as_secs_f64());
        }
        best / pts.len() as f64 * 1e9
    };
    if std::env::var("HOTLOOP").is_ok() {
        let small: Vec<(f64, f64)> = classes[2]
            .iter()
            .take(2000)
            .cycle()
            .take(200000)
            .copied()
            .collect();
        for _ in 0..100 {
            time(&small);
        }
        return;
    }
    println!("all: {:.1} ns/pt", time(&urban));
    for (i, name) in ["inqpv", "cand"].iter().enumerate() {
        let small: Vec<(f64, f64)> = classes[i + 1]
            .iter()
            .take(2000)
            .cycle()
            .take(200000)
            .copied()
            .collect();
        println!("hot {name}: {:.1} ns/pt", time(&small));
    }
    let inq_parts: Vec<(f64, f64)> = classes[1]
        .iter()
        .copied()
        .filter(|&(x, y)| idx.tmp_diag(x, y).3 > 0)
        .collect();
    let inq_near: Vec<(f64, f64)> = classes[1]
        .iter()
        .copied()
        .filter(|&(x, y)| idx.tmp_diag(x, y).4 > 0)
        .collect();
    let cand_near: Vec<(f64, f64)> = classes[2]
        .iter()
        .copied()
        .filter(|&(x, y)| idx.tmp_diag(x, y).4 > 0)
        .collect();
    let cand_nonear: Vec<(f64, f64)> = classes[2]
        .iter()
        .copied()
        .filter(|&(x, y)| idx.tmp_diag(x, y).4 == 0 && idx.tmp_diag(x, y).3 == 0)
        .collect();
    let pe: usize = inq_parts
        .iter()
        .map(|&(x, y)| idx.cell_profile(x, y).1)
        .sum();
    println!(
        "avg parts edges (inq_parts) {:.2}",
        pe as f64 / inq_parts.len() as f64
    );
    let cp: Vec<(f64, f64)> = classes[2]
        .iter()
        .copied()
        .filter(|&(x, y)| idx.tmp_diag(x, y).3 > 0)
        .collect();
    let pe: usize = cp.iter().map(|&(x, y)| idx.cell_profile(x, y).1).sum();
    println!(
        "cand with parts n={} avg parts edges {:.2}",
        cp.len(),
        pe as f64 / cp.len() as f64
    );
    let hot = |v: &Vec<(f64, f64)>| {
        let s: Vec<(f64, f64)> = v.iter().take(2000).cycle().take(200000).copied().collect();
        time(&s)
    };
    println!(
        "hot inq_parts {:.1} inq_near {:.1} cand_near {:.1} cand_nonear {:.1} empty {:.1}",
        hot(&inq_parts),
        hot(&inq_near),
        hot(&cand_near),
        hot(&cand_nonear),
        hot(&classes[0])
    );
    let inq_pure: Vec<(f64, f64)> = classes[1]
        .iter()
        .copied()
        .filter(|&(x, y)| idx.tmp_diag(x, y).3 == 0 && idx.tmp_diag(x, y).4 == 0)
        .collect();
    println!(
        "inq_pure n={} cold {:.1} hot {:.1}",
        inq_pure.len(),
        time(&inq_pure),
        hot(&inq_pure)
    );
    println!("inq_parts n={} {:.1}", inq_parts.len(), time(&inq_parts));
    println!("inq_near n={} {:.1}", inq_near.len(), time(&inq_near));
    println!("cand_near n={} {:.1}", cand_near.len(), time(&cand_near));
    println!(
        "cand_nonear_noparts n={} {:.1}",
        cand_nonear.len(),
        time(&cand_nonear)
    );
    for (i, name) in ["empty", "inqpv", "cand", "parts-nocand", "other"]
        .iter()
        .enumerate()
    {
        println!(
            "{name}: n={} {:.1} ns/pt",
            classes[i].len(),
            time(&classes[i])
        );
    }
}
