//! Build of the index: edges and chains of the perimeters, per-cell containment,
//! near-boundary and nearest-QPV lists, then interned cell descriptors laid out on the grid.

use super::cell_view::FAR_WORDS;
use super::chain::{Chain, CHAIN, CHAIN_LANES};
use super::far_masks::{far_mask, part_inside_mask};
use super::geometry::{seg_hits_rect, seg_rect_d2, Edge};
use super::grid::{
    band_scale, cell_rect, cell_slot, gi_of, gj_of, min_kx, BANDS, BLOCK, GI_MAX, GI_OFFSET,
    GJ_MAX, LEAF_PER_DEG_F,
};
use super::memory::huge_pages;
use super::nearest_masks::{has_masks, mask_words, sub_cell_masks, MASK_MAX_CAND, MASK_WORDS};
use super::{IndexOptions, PerimeterId, PerimeterIndex};
use crate::perimeter::{Perimeter, PerimeterKind};
use rayon::prelude::*;
use smallvec::SmallVec;
use std::collections::HashMap;

#[derive(Default)]
struct BlockBuild {
    inside: Vec<(u8, u32)>,
    parts: Vec<(u8, u32, u32, u32)>,
    near: Vec<(u8, u32)>,
    /// (slot, chain, lower bound of the squared distance to the cell)
    cand: Vec<(u8, u32, f32)>,
    ub: Vec<f64>,
    qpv_inside: Vec<bool>,
    /// (slot, sub-cell mask words) of the slots whose candidates carry masks.
    masks: Vec<(u8, [u32; MASK_WORDS])>,
    /// Far mask of each slot, when the block has edges within the tolerance of a cell
    /// (empty otherwise).
    far: Vec<u64>,
    /// Containment mask over the far sub-cells of each of `parts` (same order).
    part_masks: Vec<u64>,
}

struct Builder {
    blocks: HashMap<u64, usize>,
    data: Vec<BlockBuild>,
}

impl Builder {
    fn block_index(&mut self, bi: i64, bj: i64) -> usize {
        let key = ((bj as u64) << 32) | bi as u64;
        let n = self.data.len();
        let idx = *self.blocks.entry(key).or_insert(n);
        if idx == n {
            self.data.push(BlockBuild {
                ub: vec![f64::INFINITY; 256],
                qpv_inside: vec![false; 256],
                ..Default::default()
            });
        }
        idx
    }
    pub(super) fn block(&mut self, bi: i64, bj: i64) -> &mut BlockBuild {
        let idx = self.block_index(bi, bj);
        &mut self.data[idx]
    }
    fn existing(&self, bi: i64, bj: i64) -> Option<usize> {
        self.blocks.get(&(((bj as u64) << 32) | bi as u64)).copied()
    }
}

struct Unit {
    perimeter: PerimeterId,
    edges: std::ops::Range<u32>,
    bbox: (f64, f64, f64, f64),
}

impl PerimeterIndex {
    /// Build the index with default options (15 m tolerance, nearest QPV within 500 m).
    pub fn build(perimeters: Vec<Perimeter>) -> PerimeterIndex {
        Self::build_with(perimeters, IndexOptions::default())
    }

    /// Build the index with explicit options. Perimeters with coordinates outside
    /// ±180°/±90° are only partly indexed (the part beyond is ignored).
    pub fn build_with(perimeters: Vec<Perimeter>, options: IndexOptions) -> PerimeterIndex {
        let tol = options.boundary_tolerance_m.max(0.0);
        let rmax = options.nearest_max_m.max(0.0);
        let is_qpv: Vec<bool> = perimeters
            .iter()
            .map(|p| p.kind == PerimeterKind::Qpv)
            .collect();
        let scales: Vec<(f64, f64)> = (0..BANDS as i64).map(|b| band_scale(b - 90 * 64)).collect();
        let scale_of_gj = |gj: i64| scales[((gj >> 4) as usize).min(BANDS - 1)];

        // Edges and units (one unit per polygon).
        let mut edges = Vec::new();
        let mut units = Vec::new();
        for (pid, p) in perimeters.iter().enumerate() {
            for poly in &p.geometry.0 {
                let start = edges.len() as u32;
                let mut bb = (
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                );
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors().iter()) {
                    let pts = &ring.0;
                    for w in pts.windows(2) {
                        let (a, b) = (w[0], w[1]);
                        if !(a.x.is_finite()
                            && a.y.is_finite()
                            && b.x.is_finite()
                            && b.y.is_finite())
                        {
                            continue;
                        }
                        edges.push(Edge {
                            ax: a.x,
                            ay: a.y,
                            bx: b.x,
                            by: b.y,
                        });
                        bb = (
                            bb.0.min(a.x).min(b.x),
                            bb.1.min(a.y).min(b.y),
                            bb.2.max(a.x).max(b.x),
                            bb.3.max(a.y).max(b.y),
                        );
                    }
                    // Unclosed ring: close it implicitly.
                    if let (Some(f), Some(l)) = (pts.first(), pts.last()) {
                        if f != l && pts.len() > 2 {
                            edges.push(Edge {
                                ax: l.x,
                                ay: l.y,
                                bx: f.x,
                                by: f.y,
                            });
                        }
                    }
                }
                let end = edges.len() as u32;
                if end > start {
                    units.push(Unit {
                        perimeter: pid as u32,
                        edges: start..end,
                        bbox: bb,
                    });
                }
            }
        }

        // Chains of up to CHAIN consecutive edges of each QPV polygon.
        let mut chains: Vec<Chain> = Vec::new();
        let mut unit_chains: Vec<std::ops::Range<u32>> = Vec::with_capacity(units.len());
        for u in &units {
            let c0 = chains.len() as u32;
            if is_qpv[u.perimeter as usize] {
                let mut s = u.edges.start;
                while s < u.edges.end {
                    // A run of at most CHAIN connected edges.
                    let mut len = 1;
                    while len < CHAIN
                        && s + len < u.edges.end
                        && edges[(s + len) as usize].ax == edges[(s + len - 1) as usize].bx
                        && edges[(s + len) as usize].ay == edges[(s + len - 1) as usize].by
                    {
                        len += 1;
                    }
                    let mut ch = Chain {
                        x0: f64::INFINITY,
                        y0: f64::INFINITY,
                        x1: f64::NEG_INFINITY,
                        y1: f64::NEG_INFINITY,
                        start: s,
                        len,
                        owner: u.perimeter,
                        vx: [0.0; CHAIN_LANES + 1],
                        vy: [0.0; CHAIN_LANES + 1],
                    };
                    for i in 0..=CHAIN_LANES {
                        // Vertex 0 starts edge 0; vertex i ends edge i - 1.
                        let (x, y) = if i == 0 {
                            (edges[s as usize].ax, edges[s as usize].ay)
                        } else {
                            let e = &edges[(s + (i as u32).min(len) - 1) as usize];
                            (e.bx, e.by)
                        };
                        ch.x0 = ch.x0.min(x);
                        ch.y0 = ch.y0.min(y);
                        ch.x1 = ch.x1.max(x);
                        ch.y1 = ch.y1.max(y);
                        ch.vx[i] = x;
                        ch.vy[i] = y;
                    }
                    chains.push(ch);
                    s += len;
                }
            }
            unit_chains.push(c0..chains.len() as u32);
        }

        let mut b = Builder {
            blocks: HashMap::new(),
            data: Vec::new(),
        };
        let mut edge_lists: Vec<u32> = Vec::new();

        // 1. Containment and near-boundary lists, polygon by polygon.
        for u in &units {
            let (bx0, by0, bx1, by1) = u.bbox;
            // 110,000 m is below the metres per degree of latitude anywhere (110,574 at the equator).
            let tol_y = tol / 110_000.0 + 1e-9;
            let tol_x = tol / min_kx(by0 - tol_y, by1 + tol_y) + 1e-9;
            let gi0 = gi_of(bx0 - tol_x).max(0);
            let gi1 = gi_of(bx1 + tol_x).min(GI_MAX - 1);
            let gj0 = gj_of(by0 - tol_y).max(0);
            let gj1 = gj_of(by1 + tol_y).min(GJ_MAX - 1);
            if gi0 > gi1 || gj0 > gj1 {
                continue;
            }
            let ncols = (gi1 - gi0 + 1) as usize;
            let nrows = (gj1 - gj0 + 1) as usize;
            let mut boundary = vec![false; ncols * nrows];
            let mut rows: Vec<Vec<u32>> = vec![Vec::new(); nrows];
            for eid in u.edges.clone() {
                let e = edges[eid as usize];
                let (ex0, ex1) = (e.ax.min(e.bx), e.ax.max(e.bx));
                let (ey0, ey1) = (e.ay.min(e.by), e.ay.max(e.by));
                // Rows crossed by the edge (for the ray-casting lists).
                let r0 = (gj_of(ey0) - gj0).max(0) as usize;
                let r1 = ((gj_of(ey1) - gj0) as usize).min(nrows - 1);
                for row in rows.iter_mut().take(r1 + 1).skip(r0) {
                    row.push(eid);
                }
                // Cells within the tolerance (boundary cells, near lists).
                let ci0 = gi_of(ex0 - tol_x).max(gi0);
                let ci1 = gi_of(ex1 + tol_x).min(gi1);
                let cj0 = gj_of(ey0 - tol_y).max(gj0);
                let cj1 = gj_of(ey1 + tol_y).min(gj1);
                for gj in cj0..=cj1 {
                    let (kx, ky) = scale_of_gj(gj);
                    let (tx, ty) = (tol / kx * 1.000_001 + 1e-12, tol / ky * 1.000_001 + 1e-12);
                    for gi in ci0..=ci1 {
                        let (x0, y0, x1, y1) = cell_rect(gi, gj);
                        if seg_hits_rect(e.ax, e.ay, e.bx, e.by, x0 - tx, y0 - ty, x1 + tx, y1 + ty)
                        {
                            let k = (gj - gj0) as usize * ncols + (gi - gi0) as usize;
                            boundary[k] = true;
                            b.block(gi >> 4, gj >> 4)
                                .near
                                .push((cell_slot(gi, gj), eid));
                        }
                    }
                }
            }
            let mut xs: Vec<f64> = Vec::new();
            for (r, row_edges) in rows.iter_mut().enumerate() {
                let gj = gj0 + r as i64;
                let (_, y0, _, y1) = cell_rect(0, gj);
                // Edges of the row sorted by decreasing max x: the edges right of any x are a prefix.
                row_edges.sort_by(|&a, &c| {
                    let ea = &edges[a as usize];
                    let ec = &edges[c as usize];
                    ec.ax.max(ec.bx).total_cmp(&ea.ax.max(ea.bx))
                });
                let list_start = edge_lists.len() as u32;
                edge_lists.extend_from_slice(row_edges);
                let maxxs: Vec<f64> = row_edges
                    .iter()
                    .map(|&i| {
                        let e = &edges[i as usize];
                        e.ax.max(e.bx)
                    })
                    .collect();
                // Scanline at the row centre for the cells without boundary.
                let yc = (y0 + y1) * 0.5;
                xs.clear();
                for &i in row_edges.iter() {
                    let e = &edges[i as usize];
                    if (e.ay > yc) != (e.by > yc) {
                        xs.push(e.ax + (yc - e.ay) * (e.bx - e.ax) / (e.by - e.ay));
                    }
                }
                xs.sort_by(f64::total_cmp);
                let mut k = 0usize; // number of crossings left of the current cell centre
                for c in 0..ncols {
                    let gi = gi0 + c as i64;
                    let (x0, _, x1, _) = cell_rect(gi, gj);
                    if boundary[r * ncols + c] {
                        let prefix = maxxs.partition_point(|&m| m >= x0);
                        if prefix > 0 {
                            b.block(gi >> 4, gj >> 4).parts.push((
                                cell_slot(gi, gj),
                                u.perimeter,
                                list_start,
                                prefix as u32,
                            ));
                        }
                        continue;
                    }
                    let xc = (x0 + x1) * 0.5;
                    while k < xs.len() && xs[k] < xc {
                        k += 1;
                    }
                    if (xs.len() - k) % 2 == 1 {
                        let qpv = is_qpv[u.perimeter as usize];
                        let blk = b.block(gi >> 4, gj >> 4);
                        let slot = cell_slot(gi, gj);
                        blk.inside.push((slot, u.perimeter));
                        if qpv {
                            blk.qpv_inside[slot as usize] = true;
                        }
                    }
                }
            }
        }

        // 2. Nearest-QPV candidates.
        //    Pass A: upper bound U of the nearest distance over each cell, from the QPV
        //    vertices: U = min over vertices v of the distance from v to the farthest
        //    corner of the cell (the distance to a vertex bounds the distance to its edges).
        //    Pass B: keep the edges whose distance to the cell does not exceed min(U, rmax).
        if rmax > 0.0 {
            let ry = rmax / 110_000.0 + 1e-9;
            for u in units.iter().filter(|u| is_qpv[u.perimeter as usize]) {
                for eid in u.edges.clone() {
                    let e = edges[eid as usize];
                    let (vx, vy) = (e.ax, e.ay);
                    let rx = rmax / min_kx(vy - ry, vy + ry) + 1e-9;
                    let ci0 = gi_of(vx - rx).max(0);
                    let ci1 = gi_of(vx + rx).min(GI_MAX - 1);
                    let cj0 = gj_of(vy - ry).max(0);
                    let cj1 = gj_of(vy + ry).min(GJ_MAX - 1);
                    for gj in cj0..=cj1 {
                        let (kx, ky) = scale_of_gj(gj);
                        let (_, y0, _, y1) = cell_rect(0, gj);
                        let dy = ((y0 - vy).abs().max((y1 - vy).abs())) * ky;
                        let dy2 = dy * dy;
                        for bi in (ci0 >> 4)..=(ci1 >> 4) {
                            let bidx = b.block_index(bi, gj >> 4);
                            let blk = &mut b.data[bidx];
                            let row = ((gj & 15) << 4) as usize;
                            for gi in ci0.max(bi << 4)..=ci1.min((bi << 4) + 15) {
                                let x0 = (gi - GI_OFFSET) as f64 / LEAF_PER_DEG_F;
                                let x1 = x0 + 1.0 / LEAF_PER_DEG_F;
                                let dx = ((x0 - vx).abs().max((x1 - vx).abs())) * kx;
                                let u2 = dx * dx + dy2;
                                let slot = row | (gi & 15) as usize;
                                if u2 < blk.ub[slot] {
                                    blk.ub[slot] = u2;
                                }
                            }
                        }
                    }
                }
            }
            for (ui, u) in units.iter().enumerate() {
                if !is_qpv[u.perimeter as usize] {
                    continue;
                }
                for cid in unit_chains[ui].clone() {
                    let ch = chains[cid as usize];
                    let cedges = &edges[ch.start as usize..(ch.start + ch.len) as usize];
                    let (ex0, ex1, ey0, ey1) = (ch.x0, ch.x1, ch.y0, ch.y1);
                    let rx = rmax / min_kx(ey0 - ry, ey1 + ry) + 1e-9;
                    let ci0 = gi_of(ex0 - rx).max(0);
                    let ci1 = gi_of(ex1 + rx).min(GI_MAX - 1);
                    let cj0 = gj_of(ey0 - ry).max(0);
                    let cj1 = gj_of(ey1 + ry).min(GJ_MAX - 1);
                    for gj in cj0..=cj1 {
                        let (kx, ky) = scale_of_gj(gj);
                        let (_, y0, _, y1) = cell_rect(0, gj);
                        let (my0, my1) = (y0 * ky, y1 * ky);
                        let gap_y = if ey1 * ky < my0 {
                            my0 - ey1 * ky
                        } else if ey0 * ky > my1 {
                            ey0 * ky - my1
                        } else {
                            0.0
                        };
                        for bi in (ci0 >> 4)..=(ci1 >> 4) {
                            let Some(bidx) = b.existing(bi, gj >> 4) else {
                                continue;
                            };
                            let blk = &mut b.data[bidx];
                            let row = ((gj & 15) << 4) as usize;
                            for gi in ci0.max(bi << 4)..=ci1.min((bi << 4) + 15) {
                                let slot = row | (gi & 15) as usize;
                                if blk.qpv_inside[slot] {
                                    continue;
                                }
                                // Squared bound, with a relative margin for rounding.
                                let lim = blk.ub[slot].min(rmax * rmax) * 1.000_002 + 1e-9;
                                let x0 = (gi - GI_OFFSET) as f64 / LEAF_PER_DEG_F;
                                let (mx0, mx1) = (x0 * kx, (x0 + 1.0 / LEAF_PER_DEG_F) * kx);
                                let gap_x = if ex1 * kx < mx0 {
                                    mx0 - ex1 * kx
                                } else if ex0 * kx > mx1 {
                                    ex0 * kx - mx1
                                } else {
                                    0.0
                                };
                                if gap_x * gap_x + gap_y * gap_y > lim {
                                    continue; // cheap bounding-box rejection
                                }
                                let mut dmin = f64::INFINITY;
                                for e in cedges {
                                    let (ax, ay, bx, by) =
                                        (e.ax * kx, e.ay * ky, e.bx * kx, e.by * ky);
                                    let gx = (ax.min(bx) - mx1).max(mx0 - ax.max(bx)).max(0.0);
                                    let gy = (ay.min(by) - my1).max(my0 - ay.max(by)).max(0.0);
                                    if gx * gx + gy * gy > lim.min(dmin) {
                                        continue;
                                    }
                                    dmin =
                                        dmin.min(seg_rect_d2(ax, ay, bx, by, mx0, my0, mx1, my1));
                                }
                                if dmin <= lim {
                                    blk.cand.push((slot as u8, cid, dmin as f32));
                                }
                            }
                        }
                    }
                }
            }
        }

        // 3. Intern cell descriptors and lay out the grid.
        let mut index = PerimeterIndex {
            perimeters,
            is_qpv,
            options,
            top: vec![0; 360 * 180],
            tiles: vec![0; 4096],
            occupied_cells: vec![0; 4],
            blocks: vec![0; 256],
            blob: vec![0, 0],
            ncells: 1,
            chains,
            row_edges: edge_lists.iter().map(|&e| edges[e as usize]).collect(),
            edges,
            scales,
        };
        // Per block, in parallel: candidates per slot by increasing bound, and their
        // sub-cell masks (most of the build time).
        let mut coords = vec![(0i64, 0i64); b.data.len()];
        for (&k, &i) in &b.blocks {
            coords[i] = ((k & 0xFFFF_FFFF) as i64, (k >> 32) as i64);
        }
        b.data
            .par_iter_mut()
            .zip(coords.par_iter())
            .for_each(|(blk, &(bi, bj))| {
                // Far masks of the boundary cells, and the containment of their parts
                // in the far sub-cells.
                blk.near.sort_unstable();
                blk.near.dedup();
                blk.parts.sort_unstable();
                if !blk.near.is_empty() {
                    blk.far = vec![0; 256];
                }
                let mut near_ids: Vec<u32> = Vec::new();
                for run in blk.near.chunk_by(|x, y| x.0 == y.0) {
                    let slot = run[0].0 as i64;
                    let (gi, gj) = (bi * BLOCK + (slot & 15), bj * BLOCK + (slot >> 4));
                    let (kx, ky) = index.scales[(gj >> 4) as usize];
                    near_ids.clear();
                    near_ids.extend(run.iter().map(|x| x.1));
                    blk.far[slot as usize] = far_mask(&index.edges, &near_ids, gi, gj, kx, ky, tol);
                }
                for &(slot, _, st, len) in &blk.parts {
                    // A cell with parts has edges within the tolerance (an edge of each
                    // part touches it), hence a far mask.
                    let far = blk.far.get(slot as usize).copied().unwrap_or(0);
                    let s = slot as i64;
                    let (gi, gj) = (bi * BLOCK + (s & 15), bj * BLOCK + (s >> 4));
                    let rows = &index.row_edges[st as usize..(st + len) as usize];
                    blk.part_masks.push(part_inside_mask(rows, far, gi, gj));
                }
                // Per slot and chain, the smallest bound; then per slot by increasing bound.
                blk.cand
                    .sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
                blk.cand.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
                blk.cand.sort_unstable_by(|x, y| {
                    x.0.cmp(&y.0).then(x.2.total_cmp(&y.2)).then(x.1.cmp(&y.1))
                });
                let mut ids: SmallVec<[u32; MASK_MAX_CAND]> = SmallVec::new();
                for run in blk.cand.chunk_by(|x, y| x.0 == y.0) {
                    if !has_masks(run.len()) {
                        continue;
                    }
                    let slot = run[0].0 as i64;
                    let (gi, gj) = (bi * BLOCK + (slot & 15), bj * BLOCK + (slot >> 4));
                    let (kx, ky) = index.scales[(gj >> 4) as usize];
                    ids.clear();
                    ids.extend(run.iter().map(|x| x.1));
                    let words = sub_cell_masks(&index.chains, &ids, gi, gj, kx, ky);
                    blk.masks.push((run[0].0, words));
                }
            });
        let mut intern: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut keys: Vec<(u64, usize)> = b.blocks.iter().map(|(k, v)| (*k, *v)).collect();
        keys.sort_unstable();
        let mut tile_of: HashMap<usize, usize> = HashMap::new();
        let mut uniform_block: HashMap<u32, u32> = HashMap::new();
        uniform_block.insert(0, 0);
        let mut key: Vec<u32> = Vec::new();
        for (bkey, bidx) in keys {
            let (bi, bj) = ((bkey & 0xFFFF_FFFF) as i64, (bkey >> 32) as i64);
            let blk = &mut b.data[bidx];
            blk.inside.sort_unstable();
            blk.inside.dedup();
            let mut cell_ids = [0u32; 256];
            let (mut ia, mut pa, mut na, mut ca, mut ma) = (0usize, 0usize, 0usize, 0usize, 0usize);
            for (slot, cell_id) in cell_ids.iter_mut().enumerate() {
                let s = slot as u8;
                let mut inside: SmallVec<[u32; 4]> = SmallVec::new();
                while ia < blk.inside.len() && blk.inside[ia].0 == s {
                    inside.push(blk.inside[ia].1);
                    ia += 1;
                }
                let mut parts: SmallVec<[(u32, u32, u32, u64); 4]> = SmallVec::new();
                while pa < blk.parts.len() && blk.parts[pa].0 == s {
                    let (_, pid, st, len) = blk.parts[pa];
                    if !inside.contains(&pid) {
                        parts.push((pid, st, len, blk.part_masks[pa]));
                    }
                    pa += 1;
                }
                let n0 = na;
                while na < blk.near.len() && blk.near[na].0 == s {
                    na += 1;
                }
                // The near-boundary section: the far mask, then the edge ids.
                let far = (na > n0).then(|| blk.far[slot]);
                let near_words = far.map_or(0, |_| FAR_WORDS + na - n0);
                let c0 = ca;
                while ca < blk.cand.len() && blk.cand[ca].0 == s {
                    ca += 1;
                }
                let qpv_inside = inside.iter().any(|&p| index.is_qpv[p as usize]);
                assert!(
                    inside.len() < 1 << 16 && parts.len() < 1 << 15,
                    "too many perimeters in one cell"
                );
                assert!(
                    near_words < 1 << 16 && ca - c0 < 1 << 16,
                    "too many edges near one cell"
                );
                key.clear();
                key.push(
                    inside.len() as u32 | (parts.len() as u32) << 16 | (qpv_inside as u32) << 31,
                );
                key.push(near_words as u32 | ((ca - c0) as u32) << 16);
                key.extend_from_slice(&inside);
                for &(p, st, len, m) in &parts {
                    key.extend_from_slice(&[p, st, len, m as u32, (m >> 32) as u32]);
                }
                if let Some(m) = far {
                    key.extend_from_slice(&[m as u32, (m >> 32) as u32]);
                }
                key.extend(blk.near[n0..na].iter().map(|x| x.1));
                key.extend(blk.cand[c0..ca].iter().map(|x| x.1));
                if has_masks(ca - c0) {
                    debug_assert_eq!(blk.masks[ma].0, s);
                    key.extend_from_slice(&blk.masks[ma].1[..mask_words(ca - c0)]);
                    ma += 1;
                }
                if key.len() == 2 && key[0] == 0 && key[1] == 0 {
                    *cell_id = 0;
                    continue;
                }
                if let Some(&off) = intern.get(&key) {
                    *cell_id = off;
                    continue;
                }
                let off = index.blob.len() as u32;
                index.blob.extend_from_slice(&key);
                index.ncells += 1;
                intern.insert(key.clone(), off);
                *cell_id = off;
            }
            // Place the block.
            let (ti, tj) = (bi >> 6, bj >> 6);
            let tkey = (tj * 360 + ti) as usize;
            let uniform = cell_ids.iter().all(|&c| c == cell_ids[0]);
            if uniform && cell_ids[0] == 0 {
                continue;
            }
            let tile = *tile_of.entry(tkey).or_insert_with(|| {
                let t = index.tiles.len() / 4096;
                index.tiles.extend(std::iter::repeat_n(0, 4096));
                index.top[tkey] = t as u32;
                t
            });
            let slot = tile * 4096 + (((bj & 63) << 6) | (bi & 63)) as usize;
            // Identical uniform blocks share one stored block.
            let store_block = |index: &mut PerimeterIndex| {
                let bidx = index.blocks.len() / 256;
                index.blocks.extend_from_slice(&cell_ids);
                let mut bits = [0u64; 4];
                for (slot, &c) in cell_ids.iter().enumerate() {
                    bits[slot >> 6] |= ((c != 0) as u64) << (slot & 63);
                }
                index.occupied_cells.extend_from_slice(&bits);
                bidx as u32
            };
            let bidx = if uniform {
                *uniform_block
                    .entry(cell_ids[0])
                    .or_insert_with(|| store_block(&mut index))
            } else {
                store_block(&mut index)
            };
            index.tiles[slot] = bidx;
        }
        // Padding: the batch prefetcher reads a few words past a descriptor.
        // (the header, a candidate id, or a sub-cell mask word past the last descriptor).
        index.blob.extend_from_slice(&[0; 8 + MASK_WORDS]);
        index.shrink();
        index
    }

    fn shrink(&mut self) {
        self.tiles = huge_pages(std::mem::take(&mut self.tiles));
        self.blocks = huge_pages(std::mem::take(&mut self.blocks));
        self.blob = huge_pages(std::mem::take(&mut self.blob));
        self.chains = huge_pages(std::mem::take(&mut self.chains));
        self.row_edges = huge_pages(std::mem::take(&mut self.row_edges));
        self.edges = huge_pages(std::mem::take(&mut self.edges));
    }
}
