//! Far masks of boundary cells: the 8×8 sub-cells farther than the tolerance from every
//! edge, and the containment of each polygon part in them, so that most points of
//! boundary cells are answered from bits.

use super::covers::covers;
use super::geometry::{pt_seg_d2, seg_rect_d2, Edge};
use super::grid::cell_rect;

/// Sub-cells per leaf-cell side of the far masks of boundary cells (8: 64 sub-cells of
/// about 9 × 14 m in France, one bit each in a `u64`).
pub(super) const FAR_SUB: i64 = 8;
const FAR_SUB_F: f64 = FAR_SUB as f64;

/// Far mask of cell `(gi, gj)` (band scales `kx`, `ky`) whose edges within the
/// tolerance are `near`: bit `s` is set when the closed rectangle of far sub-cell `s`
/// is more than `tol` metres (plus a millimetre, for rounding) from each of them, so
/// that no point of it is near the boundary and no polygon edge crosses it (an edge
/// touching the cell is within the tolerance, hence in `near`).
pub(super) fn far_mask(
    edges: &[Edge],
    near: &[u32],
    gi: i64,
    gj: i64,
    kx: f64,
    ky: f64,
    tol: f64,
) -> u64 {
    let (x0, y0, x1, y1) = cell_rect(gi, gj);
    let (w, h) = ((x1 - x0) / FAR_SUB_F, (y1 - y0) / FAR_SUB_F);
    let reach = tol * 1.0001 + 1e-3;
    let lim = reach * reach;
    let (tx, ty) = (reach / kx, reach / ky);
    // Squared distance from a sub-cell's centre beyond which the whole sub-cell is out
    // of reach (the reach plus its half-diagonal, with a margin for rounding).
    let half_diagonal = ((w * kx).powi(2) + (h * ky).powi(2)).sqrt() * 0.5;
    let beyond = (reach + half_diagonal).powi(2) * 1.000_001;
    let span = |v: f64| (v.floor().clamp(0.0, FAR_SUB_F - 1.0)) as i64;
    let mut far = u64::MAX;
    for &id in near {
        let e = &edges[id as usize];
        let (ax, ay, bx, by) = (e.ax * kx, e.ay * ky, e.bx * kx, e.by * ky);
        // Only the sub-cells that meet the edge's box grown by the reach can be near it.
        let (sx0, sx1) = (
            span((e.ax.min(e.bx) - tx - x0) / w),
            span((e.ax.max(e.bx) + tx - x0) / w),
        );
        let (sy0, sy1) = (
            span((e.ay.min(e.by) - ty - y0) / h),
            span((e.ay.max(e.by) + ty - y0) / h),
        );
        for sy in sy0..=sy1 {
            let (ry0, ry1) = ((y0 + sy as f64 * h) * ky, (y0 + (sy + 1) as f64 * h) * ky);
            for sx in sx0..=sx1 {
                let bit = 1u64 << (sy * FAR_SUB + sx);
                if far & bit == 0 {
                    continue;
                }
                let (rx0, rx1) = ((x0 + sx as f64 * w) * kx, (x0 + (sx + 1) as f64 * w) * kx);
                // Most sub-cells are settled by the distance from their centre (within
                // the reach: near; beyond the reach plus the half-diagonal: far); the
                // others by the exact distance from the rectangle.
                let dc = pt_seg_d2((rx0 + rx1) * 0.5, (ry0 + ry1) * 0.5, ax, ay, bx, by);
                if dc > beyond {
                    continue;
                }
                if dc <= lim || seg_rect_d2(ax, ay, bx, by, rx0, ry0, rx1, ry1) <= lim {
                    far &= !bit;
                }
            }
        }
    }
    far
}

/// Containment of the polygon part whose row edges are `row_edges` in each far sub-cell
/// of `far` of cell `(gi, gj)` (bit `s` set: the sub-cell is covered). No edge touches a
/// far sub-cell, nor the side two of them share, so containment is the same over each
/// group of far sub-cells connected by their sides: it is tested once per group, at the
/// centre of one of its sub-cells (usually two groups, one on each side of the
/// boundary, instead of one exact test per sub-cell).
pub(super) fn part_inside_mask(row_edges: &[Edge], far: u64, gi: i64, gj: i64) -> u64 {
    let (x0, y0, x1, y1) = cell_rect(gi, gj);
    let (w, h) = ((x1 - x0) / FAR_SUB_F, (y1 - y0) / FAR_SUB_F);
    const NOT_WEST_COLUMN: u64 = !0x0101_0101_0101_0101;
    const NOT_EAST_COLUMN: u64 = !0x8080_8080_8080_8080;
    let mut inside = 0u64;
    let mut left = far;
    while left != 0 {
        let s = left.trailing_zeros() as i64;
        // The group of `s`: grown by one sub-cell in the four directions until stable.
        let mut group = 1u64 << s;
        loop {
            let grown = group
                | (group << 1 & NOT_WEST_COLUMN)
                | (group >> 1 & NOT_EAST_COLUMN)
                | group << FAR_SUB
                | group >> FAR_SUB;
            let grown = grown & far;
            if grown == group {
                break;
            }
            group = grown;
        }
        left &= !group;
        let (sx, sy) = (s % FAR_SUB, s / FAR_SUB);
        let (cx, cy) = (x0 + (sx as f64 + 0.5) * w, y0 + (sy as f64 + 0.5) * h);
        if covers(row_edges, cx, cy) {
            inside |= group;
        }
    }
    inside
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::cell_view::PART_WORDS;
    use crate::index::geometry::edge_d2;
    use crate::index::grid::{gi_of, gj_of};
    use crate::index::test_shapes::saw_tooth_ring;
    use crate::index::PerimeterIndex;
    use crate::perimeter::{Perimeter, PerimeterKind};
    use geo::{LineString, MultiPolygon, Polygon};

    /// Far sub-cells of boundary cells: every point of their closed rectangle is farther
    /// than the tolerance from every edge and has the containment their part masks say,
    /// and `locate` and `containing` (which read those masks there) answer as the exact
    /// tests do.
    #[test]
    fn far_sub_cells_hold_no_point_near_the_boundary() {
        let ring = |pts: &[(f64, f64)]| LineString::from(pts.to_vec());
        // A saw-tooth QPV and a perimeter with a hole across it.
        let teeth = saw_tooth_ring();
        let perimeter = |code: &str, kind, poly: Polygon| Perimeter {
            code: code.into(),
            name: code.into(),
            kind,
            insee_communes: vec![],
            generation: None,
            geometry: MultiPolygon(vec![poly]),
            properties: Default::default(),
        };
        let a = perimeter("A", PerimeterKind::Qpv, Polygon::new(ring(&teeth), vec![]));
        let b = perimeter(
            "B",
            PerimeterKind::AttentionPerimeter,
            Polygon::new(
                ring(&[
                    (3.01, 49.999),
                    (3.02, 49.999),
                    (3.02, 50.004),
                    (3.01, 50.004),
                    (3.01, 49.999),
                ]),
                vec![ring(&[
                    (3.013, 50.0005),
                    (3.016, 50.0005),
                    (3.016, 50.0015),
                    (3.013, 50.0005),
                ])],
            ),
        );
        let edges_of = |p: &Perimeter| -> Vec<Edge> {
            let poly = &p.geometry.0[0];
            std::iter::once(poly.exterior())
                .chain(poly.interiors())
                .flat_map(|r| {
                    r.0.windows(2)
                        .map(|w| Edge {
                            ax: w[0].x,
                            ay: w[0].y,
                            bx: w[1].x,
                            by: w[1].y,
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let polygons = [edges_of(&a), edges_of(&b)];
        let idx = PerimeterIndex::build(vec![a, b]);
        let t = idx.options.boundary_tolerance_m;
        let exact = |x: f64, y: f64| -> (Vec<u32>, bool) {
            let (kx, ky) = idx.scales[(gj_of(y) >> 4) as usize];
            let inside = (0..2u32)
                .filter(|&p| covers(&polygons[p as usize], x, y))
                .collect();
            let near = polygons
                .iter()
                .flatten()
                .any(|e| edge_d2(e, x, y, kx, ky) <= t * t);
            (inside, near)
        };
        let mut rng = crate::bench::SplitMix64::new(5);
        let mut seen = std::collections::HashSet::new();
        let (mut far_sub_cells, mut other_sub_cells) = (0, 0);
        for _ in 0..20_000 {
            let (x, y) = (rng.range(2.999, 3.031), rng.range(49.998, 50.006));
            let (gi, gj) = (gi_of(x), gj_of(y));
            if !seen.insert((gi, gj)) {
                continue;
            }
            let v = idx.view(idx.cell_id(x, y));
            if v.near_words == 0 {
                continue;
            }
            let far = idx.far_mask_of(&v);
            other_sub_cells += far.count_zeros();
            let parts = &idx.blob[v.parts_at()..v.parts_at() + PART_WORDS * v.n_parts];
            let (x0, y0, x1, y1) = cell_rect(gi, gj);
            let (w, h) = ((x1 - x0) / FAR_SUB_F, (y1 - y0) / FAR_SUB_F);
            for s in (0..64u32).filter(|&s| far >> s & 1 == 1) {
                far_sub_cells += 1;
                let (sx, sy) = ((s as i64 % FAR_SUB) as f64, (s as i64 / FAR_SUB) as f64);
                let (rx, ry) = (x0 + sx * w, y0 + sy * h);
                let mut stored: Vec<u32> = idx.blob[v.body..v.body + v.n_inside].to_vec();
                for p in parts.chunks_exact(PART_WORDS) {
                    if ((p[4] as u64) << 32 | p[3] as u64) >> s & 1 == 1 {
                        stored.push(p[0]);
                    }
                }
                stored.sort_unstable();
                stored.dedup();
                // The closed rectangle, corners included.
                for (fx, fy) in [
                    (0.0, 0.0),
                    (1.0, 0.0),
                    (0.0, 1.0),
                    (1.0, 1.0),
                    (0.5, 0.5),
                    (0.0, 0.5),
                    (1.0, 0.3),
                ] {
                    let (px, py) = (rx + fx * w, ry + fy * h);
                    let (inside, near) = exact(px, py);
                    assert!(!near, "({px}, {py}) near an edge in far sub-cell {s}");
                    assert_eq!(inside, stored, "({px}, {py}) in far sub-cell {s}");
                }
                // Points of the sub-cell, answered from the masks.
                for _ in 0..4 {
                    let (px, py) = (rx + rng.range(0.0, w), ry + rng.range(0.0, h));
                    let l = idx.locate(px, py);
                    assert_eq!(l.containing.as_slice(), stored.as_slice(), "({px}, {py})");
                    assert!(!l.near_boundary, "({px}, {py})");
                    assert_eq!(idx.containing(px, py).as_slice(), stored.as_slice());
                }
            }
        }
        assert!(
            far_sub_cells > 3_000 && other_sub_cells > 2_000,
            "{far_sub_cells} far, {other_sub_cells} other sub-cells"
        );
    }
}
