//! The nearest-QPV chain (a run of up to four connected edges of a QPV polygon, in one
//! 128-byte record) and its distance kernels, scalar and AVX2.

use super::PerimeterId;

/// Consecutive edges of one QPV polygon grouped for the nearest-QPV search: the cell
/// lists candidate chains (ordered by increasing lower-bound distance to the cell), and
/// the query skips a chain whose bounding box is farther than the best distance so far.
/// The edges of a chain are contiguous in `edges` (a few adjacent cache lines).
///
/// The chain's vertices are also stored inline (a chain is a run of connected edges;
/// lanes past `len` are the last vertex repeated, a degenerate edge that cannot beat
/// the real ones), so that the distances to the whole chain are computed with vector
/// instructions from one contiguous 128-byte record (two cache lines).
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Chain {
    pub(super) x0: f64,
    pub(super) y0: f64,
    pub(super) x1: f64,
    pub(super) y1: f64,
    pub(super) start: u32,
    pub(super) len: u32,
    pub(super) owner: PerimeterId,
    /// Vertices: edge `i` goes from vertex `i` to vertex `i + 1`.
    pub(super) vx: [f64; CHAIN_LANES + 1],
    pub(super) vy: [f64; CHAIN_LANES + 1],
}

/// Edges per chain (4: measured faster than 8 on the national urban benchmark, fewer
/// cache lines per point).
pub(super) const CHAIN: u32 = CHAIN_LANES as u32;
pub(super) const CHAIN_LANES: usize = 4;

/// Smallest squared metric distance from `(px, py)` to the edges of the chain, and the
/// lane that reaches it. Same geometry as [`edge_d2`], written without a data-dependent
/// branch so that it vectorises: `|a|²` before the segment, `|b|²` after it,
/// `cross(a, d)² / |d|²` along it (the three agree at the junctions; the difference
/// with [`edge_d2`] is a few ulps of the coordinates in metres).
///
/// [`edge_d2`]: super::geometry::edge_d2
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lanes, written for the vectoriser
pub(super) fn chain_min(ch: &Chain, px: f64, py: f64, kx: f64, ky: f64) -> (f64, usize) {
    let mut d = [0f64; CHAIN_LANES];
    for i in 0..CHAIN_LANES {
        let ax = (ch.vx[i] - px) * kx;
        let ay = (ch.vy[i] - py) * ky;
        let bx = (ch.vx[i + 1] - px) * kx;
        let by = (ch.vy[i + 1] - py) * ky;
        let (dx, dy) = (bx - ax, by - ay);
        let l2 = dx * dx + dy * dy;
        let ad = ax * dx + ay * dy;
        let bd = bx * dx + by * dy;
        let cr = ax * dy - ay * dx;
        let da = ax * ax + ay * ay;
        let db = bx * bx + by * by;
        let dp = cr * cr / l2;
        d[i] = if ad >= 0.0 {
            da
        } else if bd <= 0.0 {
            db
        } else {
            dp
        };
    }
    let mut m = d[0];
    for &x in &d[1..] {
        m = if x < m { x } else { m };
    }
    let lane = d.iter().position(|&x| x == m).unwrap_or(0);
    (m, lane)
}

/// [`chain_min`]'s distance with explicit AVX2 vectors: the compiler does not vectorise
/// the lanes of `chain_min` (it keeps one data-dependent branch per lane, which
/// mispredicts). Same IEEE operations lane by lane, in the same order, and the same
/// selection, hence the same result.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn chain_min_avx2(ch: &Chain, px: f64, py: f64, kx: f64, ky: f64) -> f64 {
    use std::arch::x86_64::*;
    const _: () = assert!(CHAIN_LANES == 4);
    // SAFETY: `vx` and `vy` have CHAIN_LANES + 1 = 5 elements: lanes 0..4 and 1..5 are
    // in bounds (unaligned loads).
    let (vx0, vx1, vy0, vy1) = unsafe {
        (
            _mm256_loadu_pd(ch.vx.as_ptr()),
            _mm256_loadu_pd(ch.vx.as_ptr().add(1)),
            _mm256_loadu_pd(ch.vy.as_ptr()),
            _mm256_loadu_pd(ch.vy.as_ptr().add(1)),
        )
    };
    let (pxv, pyv) = (_mm256_set1_pd(px), _mm256_set1_pd(py));
    let (kxv, kyv) = (_mm256_set1_pd(kx), _mm256_set1_pd(ky));
    let ax = _mm256_mul_pd(_mm256_sub_pd(vx0, pxv), kxv);
    let ay = _mm256_mul_pd(_mm256_sub_pd(vy0, pyv), kyv);
    let bx = _mm256_mul_pd(_mm256_sub_pd(vx1, pxv), kxv);
    let by = _mm256_mul_pd(_mm256_sub_pd(vy1, pyv), kyv);
    let dx = _mm256_sub_pd(bx, ax);
    let dy = _mm256_sub_pd(by, ay);
    let l2 = _mm256_add_pd(_mm256_mul_pd(dx, dx), _mm256_mul_pd(dy, dy));
    let ad = _mm256_add_pd(_mm256_mul_pd(ax, dx), _mm256_mul_pd(ay, dy));
    let bd = _mm256_add_pd(_mm256_mul_pd(bx, dx), _mm256_mul_pd(by, dy));
    let cr = _mm256_sub_pd(_mm256_mul_pd(ax, dy), _mm256_mul_pd(ay, dx));
    let da = _mm256_add_pd(_mm256_mul_pd(ax, ax), _mm256_mul_pd(ay, ay));
    let db = _mm256_add_pd(_mm256_mul_pd(bx, bx), _mm256_mul_pd(by, by));
    let dp = _mm256_div_pd(_mm256_mul_pd(cr, cr), l2);
    let zero = _mm256_setzero_pd();
    let r = _mm256_blendv_pd(dp, db, _mm256_cmp_pd::<_CMP_LE_OQ>(bd, zero));
    let r = _mm256_blendv_pd(r, da, _mm256_cmp_pd::<_CMP_GE_OQ>(ad, zero));
    // Minimum of the four lanes in registers. No lane is NaN (a degenerate edge has
    // `ad = 0` and takes `da`), so the order of the comparisons does not matter.
    let m = _mm256_min_pd(r, _mm256_permute2f128_pd::<1>(r, r));
    let m = _mm256_min_pd(m, _mm256_permute_pd::<0b0101>(m));
    _mm256_cvtsd_f64(m)
}

/// Squared metric distance from the point to the chain: [`chain_min_avx2`] when
/// `AVX2`, [`chain_min`] otherwise (the same IEEE operations, hence the same result).
/// `AVX2` is true only in code compiled for AVX2 and reached after the CPU feature
/// check (`locate_records_avx2`, `locate_in_cell_avx2`), or right after that check.
#[inline(always)]
pub(super) fn chain_d2<const AVX2: bool>(ch: &Chain, px: f64, py: f64, kx: f64, ky: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: see above: the CPU supports AVX2.
        return unsafe { chain_min_avx2(ch, px, py, kx, ky) };
    }
    chain_min(ch, px, py, kx, ky).0
}

/// [`chain_d2`] with the AVX2 kernel when the CPU has it, for code that is not compiled
/// for AVX2 itself (the index build): the same result without the scalar kernel's
/// mispredicted branches.
pub(super) fn chain_d2_any_cpu(ch: &Chain, px: f64, py: f64, kx: f64, ky: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        return chain_d2::<true>(ch, px, py, kx, ky);
    }
    chain_d2::<false>(ch, px, py, kx, ky)
}

/// `max(a, b)` for operands that are never NaN: one `maxsd`, where `f64::max` adds the
/// NaN handling (a compare and a blend) on the hot path of the nearest-chain search.
#[inline(always)]
pub(super) fn max_no_nan(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::metric_scale;

    /// The AVX2 chain distance is the scalar one, bit for bit.
    #[test]
    fn chain_min_avx2_matches_chain_min() {
        #[cfg(target_arch = "x86_64")]
        {
            if !std::is_x86_feature_detected!("avx2") {
                return;
            }
            let mut rng = crate::bench::SplitMix64::new(9);
            for _ in 0..20_000 {
                let (x0, y0) = (rng.range(2.9, 3.1), rng.range(49.9, 50.1));
                let mut ch = Chain {
                    x0: 0.0,
                    y0: 0.0,
                    x1: 0.0,
                    y1: 0.0,
                    start: 0,
                    len: 4,
                    owner: 0,
                    vx: [0.0; CHAIN_LANES + 1],
                    vy: [0.0; CHAIN_LANES + 1],
                };
                for k in 0..=CHAIN_LANES {
                    // Some repeated vertices: degenerate edges, as in padded chains.
                    let same = k > 0 && rng.below(4) == 0;
                    ch.vx[k] = if same {
                        ch.vx[k - 1]
                    } else {
                        x0 + rng.range(-0.002, 0.002)
                    };
                    ch.vy[k] = if same {
                        ch.vy[k - 1]
                    } else {
                        y0 + rng.range(-0.002, 0.002)
                    };
                }
                let (px, py) = (x0 + rng.range(-0.01, 0.01), y0 + rng.range(-0.01, 0.01));
                let (kx, ky) = metric_scale(py);
                // SAFETY: the CPU supports AVX2 (checked above).
                let v = unsafe { chain_min_avx2(&ch, px, py, kx, ky) };
                assert_eq!(v.to_bits(), chain_min(&ch, px, py, kx, ky).0.to_bits());
            }
        }
    }
}
