//! Exact point-in-polygon test ("covers": the boundary is inside) by ray casting over a
//! cell's row edges, scalar and AVX2.

use super::geometry::Edge;

/// Exact even-odd / on-boundary test of `(x, y)` against a list of edges that contains
/// every edge of the polygon that can intersect the horizontal ray from the point to
/// +∞ (and every edge through the point). Returns true when covered.
///
/// Most edges are decided by comparisons alone (crossing the ray's line strictly right
/// of the point, or not at all): they update the parity without a branch, and only the
/// few edges that need an orientation test or touch the ray's line take the exact path.
#[inline]
pub(super) fn covers(edges: &[Edge], x: f64, y: f64) -> bool {
    covers_from(edges, x, y, false)
}

/// [`covers`] over `edges`, starting from the parity `inside`.
#[inline(always)]
fn covers_from(edges: &[Edge], x: f64, y: f64, mut inside: bool) -> bool {
    for e in edges {
        let up_a = e.ay > y;
        let up_b = e.by > y;
        let cross = up_a != up_b;
        let (minx, maxx) = if e.ax < e.bx {
            (e.ax, e.bx)
        } else {
            (e.bx, e.ax)
        };
        inside ^= cross & (minx > x);
        let hard = (cross & (minx <= x) & (maxx >= x)) | (!cross & ((e.ay == y) | (e.by == y)));
        if !hard {
            continue;
        }
        match hard_edge(e, x, y) {
            HardEdge::OnBoundary => return true,
            HardEdge::Crosses => inside = !inside,
            HardEdge::Misses => {}
        }
    }
    inside
}

/// Outcome of the exact test of an edge that the comparisons of [`covers`] leave open.
enum HardEdge {
    /// The point is on the edge.
    OnBoundary,
    /// The edge crosses the ray from the point to +∞.
    Crosses,
    /// Neither.
    Misses,
}

/// Exact test of an edge that crosses the ray's line with the point within its
/// longitude span, or that touches the ray's line without crossing it.
#[inline(never)]
fn hard_edge(e: &Edge, x: f64, y: f64) -> HardEdge {
    let (up_a, up_b) = (e.ay > y, e.by > y);
    if up_a != up_b {
        let o = robust::orient2d(
            robust::Coord { x: e.ax, y: e.ay },
            robust::Coord { x: e.bx, y: e.by },
            robust::Coord { x, y },
        );
        if o == 0.0 {
            return HardEdge::OnBoundary;
        }
        // b above: upward edge, crossing iff the point is on its left.
        if (o > 0.0) == up_b {
            HardEdge::Crosses
        } else {
            HardEdge::Misses
        }
    } else if e.ay == y && e.by == y {
        if (e.ax <= x && x <= e.bx) || (e.bx <= x && x <= e.ax) {
            HardEdge::OnBoundary
        } else {
            HardEdge::Misses
        }
    } else if (e.ax == x && e.ay == y) || (e.bx == x && e.by == y) {
        HardEdge::OnBoundary
    } else {
        HardEdge::Misses
    }
}

/// [`covers`] four edges at a time with AVX2: the same comparisons on four edges per
/// instruction, the parity from a population count, and the few edges left open by
/// the comparisons tested exactly one by one ([`hard_edge`]). The edges are independent
/// (the result is the parity of the crossings, or true as soon as one edge carries the
/// point), so their order does not matter.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn covers_avx2(edges: &[Edge], x: f64, y: f64) -> bool {
    use std::arch::x86_64::*;
    const _: () = assert!(std::mem::size_of::<Edge>() == 32);
    let (xv, yv) = (_mm256_set1_pd(x), _mm256_set1_pd(y));
    let mut parity = 0u32;
    let quads = edges.chunks_exact(4);
    let rest = quads.remainder();
    for q in quads {
        // SAFETY: `q` holds four `repr(C)` edges of four f64 each (checked size), i.e.
        // 16 consecutive f64: each load reads one whole edge.
        let p = q.as_ptr() as *const f64;
        let (e0, e1, e2, e3) = unsafe {
            (
                _mm256_loadu_pd(p),
                _mm256_loadu_pd(p.add(4)),
                _mm256_loadu_pd(p.add(8)),
                _mm256_loadu_pd(p.add(12)),
            )
        };
        // Transpose: lane k of `ax` is edge k's `ax`, and so on.
        let t0 = _mm256_unpacklo_pd(e0, e1); // ax0 ax1 bx0 bx1
        let t1 = _mm256_unpackhi_pd(e0, e1); // ay0 ay1 by0 by1
        let t2 = _mm256_unpacklo_pd(e2, e3);
        let t3 = _mm256_unpackhi_pd(e2, e3);
        let ax = _mm256_permute2f128_pd::<0x20>(t0, t2);
        let bx = _mm256_permute2f128_pd::<0x31>(t0, t2);
        let ay = _mm256_permute2f128_pd::<0x20>(t1, t3);
        let by = _mm256_permute2f128_pd::<0x31>(t1, t3);
        let up_a = _mm256_cmp_pd::<_CMP_GT_OQ>(ay, yv);
        let up_b = _mm256_cmp_pd::<_CMP_GT_OQ>(by, yv);
        let cross = _mm256_xor_pd(up_a, up_b);
        let (minx, maxx) = (_mm256_min_pd(ax, bx), _mm256_max_pd(ax, bx));
        let right = _mm256_cmp_pd::<_CMP_GT_OQ>(minx, xv);
        parity ^= (_mm256_movemask_pd(_mm256_and_pd(cross, right)) as u32).count_ones();
        let spans = _mm256_andnot_pd(right, _mm256_cmp_pd::<_CMP_GE_OQ>(maxx, xv));
        let touches = _mm256_or_pd(
            _mm256_cmp_pd::<_CMP_EQ_OQ>(ay, yv),
            _mm256_cmp_pd::<_CMP_EQ_OQ>(by, yv),
        );
        let hard = _mm256_or_pd(
            _mm256_and_pd(cross, spans),
            _mm256_andnot_pd(cross, touches),
        );
        let mut h = _mm256_movemask_pd(hard) as u32;
        while h != 0 {
            match hard_edge(&q[h.trailing_zeros() as usize], x, y) {
                HardEdge::OnBoundary => return true,
                HardEdge::Crosses => parity ^= 1,
                HardEdge::Misses => {}
            }
            h &= h - 1;
        }
    }
    covers_from(rest, x, y, parity & 1 == 1)
}

/// [`covers_avx2`] when `AVX2`, [`covers`] otherwise (the same answer); `AVX2` as for
/// [`chain_d2`].
///
/// [`chain_d2`]: super::chain::chain_d2
#[inline(always)]
pub(super) fn covers_with<const AVX2: bool>(edges: &[Edge], x: f64, y: f64) -> bool {
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: see `chain_d2`: the CPU supports AVX2.
        return unsafe { covers_avx2(edges, x, y) };
    }
    covers(edges, x, y)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The four-at-a-time containment test gives the scalar test's answer, on grids of
    /// points where every hard case occurs: points on vertices, on edges, on horizontal
    /// edges, and rays through vertices.
    #[test]
    fn covers_avx2_matches_covers() {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::is_x86_feature_detected!("avx2") {
                return;
            }
            let mut rng = crate::bench::SplitMix64::new(5);
            for n in [3usize, 4, 5, 7, 8, 13, 30] {
                // A closed ring on a coarse lattice: many collinear, horizontal and
                // shared-coordinate edges.
                let mut pts: Vec<(f64, f64)> = (0..n)
                    .map(|_| (rng.below(6) as f64 * 0.5, rng.below(6) as f64 * 0.5))
                    .collect();
                pts.push(pts[0]);
                let edges: Vec<Edge> = pts
                    .windows(2)
                    .map(|w| Edge {
                        ax: w[0].0,
                        ay: w[0].1,
                        bx: w[1].0,
                        by: w[1].1,
                    })
                    .collect();
                for i in 0..=12 {
                    for j in 0..=12 {
                        let (x, y) = (i as f64 * 0.25, j as f64 * 0.25);
                        // SAFETY: the CPU supports AVX2 (checked above).
                        let v = unsafe { covers_avx2(&edges, x, y) };
                        assert_eq!(v, covers(&edges, x, y), "ring {pts:?}, point ({x}, {y})");
                    }
                }
            }
        }
    }
}
