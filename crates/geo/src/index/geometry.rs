//! Planar geometry of the index: edges, exact segment-point and segment-rectangle
//! distances (metric coordinates), and the near-boundary test over a cell's edges,
//! scalar and AVX2.

/// An edge in degrees. `repr(C)`: `covers_avx2` reads an edge as four consecutive f64.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(super) struct Edge {
    pub(super) ax: f64,
    pub(super) ay: f64,
    pub(super) bx: f64,
    pub(super) by: f64,
}

#[inline]
pub(super) fn pt_seg_d2(px: f64, py: f64, ax: f64, ay: f64, bx: f64, by: f64) -> f64 {
    let (ax, ay, bx, by) = (ax - px, ay - py, bx - px, by - py);
    let (dx, dy) = (bx - ax, by - ay);
    let l2 = dx * dx + dy * dy;
    let t = if l2 > 0.0 {
        (-(ax * dx + ay * dy) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (cx, cy) = (ax + t * dx, ay + t * dy);
    cx * cx + cy * cy
}

/// Squared metric distance from `(px, py)` (degrees) to the edge, with scale `(kx, ky)`.
/// This is the one distance function of the index.
#[inline]
pub(super) fn edge_d2(e: &Edge, px: f64, py: f64, kx: f64, ky: f64) -> f64 {
    let ax = (e.ax - px) * kx;
    let ay = (e.ay - py) * ky;
    let bx = (e.bx - px) * kx;
    let by = (e.by - py) * ky;
    pt_seg_d2(0.0, 0.0, ax, ay, bx, by)
}

/// Does segment a-b intersect the closed rectangle? (Liang–Barsky clipping.)
pub(super) fn seg_hits_rect(
    ax: f64,
    ay: f64,
    bx: f64,
    by: f64,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
) -> bool {
    let (dx, dy) = (bx - ax, by - ay);
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [(-dx, ax - x0), (dx, x1 - ax), (-dy, ay - y0), (dy, y1 - ay)] {
        if p == 0.0 {
            if q < 0.0 {
                return false;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                if r > t1 {
                    return false;
                }
                if r > t0 {
                    t0 = r;
                }
            } else {
                if r < t0 {
                    return false;
                }
                if r < t1 {
                    t1 = r;
                }
            }
        }
    }
    t0 <= t1
}

fn pt_rect_d2(px: f64, py: f64, x0: f64, y0: f64, x1: f64, y1: f64) -> f64 {
    let dx = if px < x0 {
        x0 - px
    } else if px > x1 {
        px - x1
    } else {
        0.0
    };
    let dy = if py < y0 {
        y0 - py
    } else if py > y1 {
        py - y1
    } else {
        0.0
    };
    dx * dx + dy * dy
}

/// Squared distance between a segment and a rectangle (all metric).
pub(super) fn seg_rect_d2(
    ax: f64,
    ay: f64,
    bx: f64,
    by: f64,
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
) -> f64 {
    if seg_hits_rect(ax, ay, bx, by, x0, y0, x1, y1) {
        return 0.0;
    }
    let mut d = pt_rect_d2(ax, ay, x0, y0, x1, y1).min(pt_rect_d2(bx, by, x0, y0, x1, y1));
    for (cx, cy) in [(x0, y0), (x1, y0), (x0, y1), (x1, y1)] {
        d = d.min(pt_seg_d2(cx, cy, ax, ay, bx, by));
    }
    d
}

/// Whether some edge of `ids` (positions in `edges`) is within `sqrt(t2)` metres of the
/// point: [`edge_d2`] of each edge, all of them (no early exit, whose outcome the CPU
/// could not predict).
#[inline(always)]
fn near_any(edges: &[Edge], ids: &[u32], px: f64, py: f64, kx: f64, ky: f64, t2: f64) -> bool {
    ids.iter().fold(false, |n, &e| {
        n | (edge_d2(&edges[e as usize], px, py, kx, ky) <= t2)
    })
}

/// [`near_any`] four edges at a time with AVX2: the same IEEE operations as [`edge_d2`]
/// lane by lane, hence the same answer. The clamp of the projection is a `max` then a
/// `min`: they differ from `f64::clamp` only on the sign of a zero, which the square
/// that follows removes; a degenerate edge (`l2 = 0`) takes `t = 0`, as in the scalar
/// code. A last group of fewer than four edges repeats its last edge.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn near_any_avx2(edges: &[Edge], ids: &[u32], px: f64, py: f64, kx: f64, ky: f64, t2: f64) -> bool {
    use std::arch::x86_64::*;
    let (pxv, pyv) = (_mm256_set1_pd(px), _mm256_set1_pd(py));
    let (kxv, kyv) = (_mm256_set1_pd(kx), _mm256_set1_pd(ky));
    let (zero, one, t2v) = (_mm256_setzero_pd(), _mm256_set1_pd(1.0), _mm256_set1_pd(t2));
    let sign = _mm256_set1_pd(-0.0);
    let mut near = 0;
    let last = ids.len().wrapping_sub(1);
    for k in (0..ids.len()).step_by(4) {
        let e = |j: usize| &edges[ids[(k + j).min(last)] as usize] as *const Edge as *const f64;
        // SAFETY: each pointer is to an `Edge` of `edges` (bounds-checked above), a
        // `repr(C)` struct of four f64: one load reads it whole.
        let (e0, e1, e2, e3) = unsafe {
            (
                _mm256_loadu_pd(e(0)),
                _mm256_loadu_pd(e(1)),
                _mm256_loadu_pd(e(2)),
                _mm256_loadu_pd(e(3)),
            )
        };
        let t0 = _mm256_unpacklo_pd(e0, e1);
        let t1 = _mm256_unpackhi_pd(e0, e1);
        let t2_ = _mm256_unpacklo_pd(e2, e3);
        let t3 = _mm256_unpackhi_pd(e2, e3);
        let ax = _mm256_mul_pd(
            _mm256_sub_pd(_mm256_permute2f128_pd::<0x20>(t0, t2_), pxv),
            kxv,
        );
        let bx = _mm256_mul_pd(
            _mm256_sub_pd(_mm256_permute2f128_pd::<0x31>(t0, t2_), pxv),
            kxv,
        );
        let ay = _mm256_mul_pd(
            _mm256_sub_pd(_mm256_permute2f128_pd::<0x20>(t1, t3), pyv),
            kyv,
        );
        let by = _mm256_mul_pd(
            _mm256_sub_pd(_mm256_permute2f128_pd::<0x31>(t1, t3), pyv),
            kyv,
        );
        let dx = _mm256_sub_pd(bx, ax);
        let dy = _mm256_sub_pd(by, ay);
        let l2 = _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy));
        let dot = _mm256_add_pd(_mm256_mul_pd(ax, dx), _mm256_mul_pd(ay, dy));
        let q = _mm256_div_pd(_mm256_xor_pd(dot, sign), l2);
        let q = _mm256_min_pd(_mm256_max_pd(q, zero), one);
        let t = _mm256_and_pd(q, _mm256_cmp_pd::<_CMP_GT_OQ>(l2, zero));
        let cx = _mm256_add_pd(ax, _mm256_mul_pd(t, dx));
        let cy = _mm256_add_pd(ay, _mm256_mul_pd(t, dy));
        let d2 = _mm256_add_pd(_mm256_mul_pd(cx, cx), _mm256_mul_pd(cy, cy));
        near |= _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LE_OQ>(d2, t2v));
    }
    near != 0
}

/// [`near_any_avx2`] when `AVX2`, [`near_any`] otherwise (the same answer); `AVX2` as
/// for [`chain_d2`].
///
/// [`chain_d2`]: super::chain::chain_d2
#[inline(always)]
pub(super) fn near_any_with<const AVX2: bool>(
    edges: &[Edge],
    ids: &[u32],
    px: f64,
    py: f64,
    kx: f64,
    ky: f64,
    t2: f64,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: see `chain_d2`: the CPU supports AVX2.
        return unsafe { near_any_avx2(edges, ids, px, py, kx, ky, t2) };
    }
    near_any(edges, ids, px, py, kx, ky, t2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::metric_scale;

    #[test]
    fn near_any_avx2_matches_edge_d2() {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::is_x86_feature_detected!("avx2") {
                return;
            }
            let mut rng = crate::bench::SplitMix64::new(11);
            let mut edges = Vec::new();
            for _ in 0..4_000 {
                let (ax, ay) = (rng.range(2.999, 3.001), rng.range(49.999, 50.001));
                // A quarter of degenerate edges (l2 = 0), as rounding leaves some.
                let (bx, by) = if rng.below(4) == 0 {
                    (ax, ay)
                } else {
                    (ax + rng.range(-3e-4, 3e-4), ay + rng.range(-3e-4, 3e-4))
                };
                edges.push(Edge { ax, ay, bx, by });
            }
            for _ in 0..20_000 {
                let (px, py) = (rng.range(2.999, 3.001), rng.range(49.999, 50.001));
                let (kx, ky) = metric_scale(py);
                let n = 1 + rng.below(9);
                let ids: Vec<u32> = (0..n).map(|_| rng.below(edges.len()) as u32).collect();
                // Thresholds at the exact scalar distance of one of the edges and one ulp
                // under it: the vector distance must be the same to the last bit.
                let pick = &edges[ids[rng.below(n)] as usize];
                let d2 = edge_d2(pick, px, py, kx, ky);
                for t2 in [d2, f64::from_bits(d2.to_bits().saturating_sub(1)), 25.0] {
                    // SAFETY: the CPU supports AVX2 (checked above).
                    let v = unsafe { near_any_avx2(&edges, &ids, px, py, kx, ky, t2) };
                    assert_eq!(
                        v,
                        near_any(&edges, &ids, px, py, kx, ky, t2),
                        "{ids:?} {t2}"
                    );
                }
                // SAFETY: as above.
                assert!(unsafe { near_any_avx2(&edges, &ids, px, py, kx, ky, d2) });
            }
        }
    }

    #[test]
    fn geometry_helpers() {
        assert!(seg_hits_rect(-1.0, 0.5, 2.0, 0.5, 0.0, 0.0, 1.0, 1.0));
        assert!(!seg_hits_rect(-1.0, 2.0, 2.0, 2.0, 0.0, 0.0, 1.0, 1.0));
        assert!(seg_hits_rect(0.5, 0.5, 0.6, 0.6, 0.0, 0.0, 1.0, 1.0));
        assert_eq!(seg_rect_d2(2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 1.0, 1.0), 1.0);
        assert_eq!(pt_seg_d2(0.0, 1.0, -1.0, 0.0, 1.0, 0.0), 1.0);
    }
}
