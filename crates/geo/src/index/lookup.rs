//! From a point to its cell: the three array reads of the grid (tile, block, cell), one
//! point at a time or four at a time with AVX2 gathers.

use super::grid::{gi_of, gj_of, grid_address, GI_MAX, GJ_MAX};
#[cfg(target_arch = "x86_64")]
use super::grid::{GI_OFFSET, GJ_OFFSET, LEAF_PER_DEG_F};
use super::PerimeterIndex;

impl PerimeterIndex {
    /// Entry of the point's cell in `blocks` (`block * 256 + slot`), or `empty` when the
    /// cell holds no perimeter, edge or candidate (the answer is then empty) or the
    /// coordinates are invalid. Reads `top`, `tiles` and `occupied_cells` (together about
    /// 2 MB for France, mostly in the CPU caches), never the descriptors. No branch:
    /// invalid points read the empty tile, whose blocks are all the empty block 0.
    #[inline(always)]
    fn cell_entry(&self, lon: f64, lat: f64, empty: u32) -> u32 {
        let (i, j) = (gi_of(lon), gj_of(lat));
        let valid = lon.is_finite()
            & lat.is_finite()
            & ((i as u64) < GI_MAX as u64)
            & ((j as u64) < GJ_MAX as u64);
        let (tile, b, slot) = grid_address(if valid { i } else { 0 }, if valid { j } else { 0 });
        let t = if valid { self.top[tile] } else { 0 };
        let bl = self.tiles[t as usize * 4096 + b];
        let occupied =
            (self.occupied_cells[bl as usize * 4 + (slot >> 6)] >> (slot & 63) & 1) as u32;
        // Selected with a mask: a branch would be mispredicted for about half the points.
        let mask = 0u32.wrapping_sub(occupied);
        (bl << 8 | slot as u32) & mask | empty & !mask
    }

    /// [`PerimeterIndex::cell_entry`] of each point of `points`, into `out` (same length).
    pub(super) fn cell_entries(&self, points: &[(f64, f64)], empty: u32, out: &mut [u32]) {
        assert_eq!(points.len(), out.len());
        let mut done = 0;
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2.
                done = unsafe { self.cell_entries_avx2(points, empty, out) };
            }
        }
        for (o, &(x, y)) in out[done..].iter_mut().zip(&points[done..]) {
            *o = self.cell_entry(x, y, empty);
        }
    }

    /// [`PerimeterIndex::cell_entry`] four points at a time with AVX2 gathers; returns the
    /// number of points done (a multiple of 4). Same integer results as the scalar code:
    /// `floor` then truncation to 32 bits is exact on the grid's range, and anything
    /// outside it (NaN, infinities, huge values: `i32::MIN` after conversion) falls out
    /// of the grid's bounds, as it does in the scalar code.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn cell_entries_avx2(
        &self,
        points: &[(f64, f64)],
        empty: u32,
        out: &mut [u32],
    ) -> usize {
        use std::arch::x86_64::*;
        // The points are read as a flat array of f64: the tuple's layout is not specified
        // by the language, so check it here (compilation fails if it ever changes).
        const _: () = assert!(std::mem::size_of::<(f64, f64)>() == 16);
        const _: () = assert!(std::mem::offset_of!((f64, f64), 0) == 0);
        const _: () = assert!(std::mem::offset_of!((f64, f64), 1) == 8);
        // Grid indices fit in 32-bit lanes (GJ_MAX is smaller).
        const _: () = assert!(GI_MAX < i32::MAX as i64);
        const _: () = assert!(GJ_MAX < GI_MAX);
        let n4 = points.len() / 4 * 4;
        let scale = _mm256_set1_pd(LEAF_PER_DEG_F);
        let (gi_off, gj_off) = (
            _mm_set1_epi32(GI_OFFSET as i32),
            _mm_set1_epi32(GJ_OFFSET as i32),
        );
        let (gi_max, gj_max) = (_mm_set1_epi32(GI_MAX as i32), _mm_set1_epi32(GJ_MAX as i32));
        let minus_one = _mm_set1_epi32(-1);
        let (m15, m63) = (_mm_set1_epi32(15), _mm_set1_epi32(63));
        let (c360, empty_v) = (_mm_set1_epi32(360), _mm_set1_epi32(empty as i32));
        let low_dwords = _mm256_setr_epi32(0, 2, 4, 6, 0, 0, 0, 0);
        let one64 = _mm256_set1_epi64x(1);
        let p = points.as_ptr() as *const f64;
        let (top, tiles) = (
            self.top.as_ptr() as *const i32,
            self.tiles.as_ptr() as *const i32,
        );
        let occupied = self.occupied_cells.as_ptr() as *const i64;
        for k in (0..n4).step_by(4) {
            // SAFETY: points k..k + 4 are in bounds (k + 4 <= n4): 8 f64.
            let (a, b) = unsafe {
                (
                    _mm256_loadu_pd(p.add(2 * k)),
                    _mm256_loadu_pd(p.add(2 * k + 4)),
                )
            };
            // a = x0 y0 x1 y1, b = x2 y2 x3 y3 -> x0 x2 x1 x3 -> x0 x1 x2 x3.
            let xs = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpacklo_pd(a, b));
            let ys = _mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_unpackhi_pd(a, b));
            let gi = _mm_add_epi32(
                _mm256_cvttpd_epi32(_mm256_floor_pd(_mm256_mul_pd(xs, scale))),
                gi_off,
            );
            let gj = _mm_add_epi32(
                _mm256_cvttpd_epi32(_mm256_floor_pd(_mm256_mul_pd(ys, scale))),
                gj_off,
            );
            let valid = _mm_and_si128(
                _mm_and_si128(_mm_cmpgt_epi32(gi, minus_one), _mm_cmpgt_epi32(gi_max, gi)),
                _mm_and_si128(_mm_cmpgt_epi32(gj, minus_one), _mm_cmpgt_epi32(gj_max, gj)),
            );
            let (gi, gj) = (_mm_and_si128(gi, valid), _mm_and_si128(gj, valid));
            let tile = _mm_add_epi32(
                _mm_mullo_epi32(_mm_srli_epi32::<10>(gj), c360),
                _mm_srli_epi32::<10>(gi),
            );
            let block = _mm_or_si128(
                _mm_slli_epi32::<6>(_mm_and_si128(_mm_srli_epi32::<4>(gj), m63)),
                _mm_and_si128(_mm_srli_epi32::<4>(gi), m63),
            );
            let slot = _mm_or_si128(
                _mm_slli_epi32::<4>(_mm_and_si128(gj, m15)),
                _mm_and_si128(gi, m15),
            );
            // SAFETY: the indices are those of the scalar `cell_entry`, in bounds of `top`,
            // `tiles` and `occupied_cells` (invalid lanes read tile 0 and block 0).
            let (bl, words) = unsafe {
                let t = _mm_mask_i32gather_epi32::<4>(_mm_setzero_si128(), top, tile, valid);
                let bl =
                    _mm_i32gather_epi32::<4>(tiles, _mm_add_epi32(_mm_slli_epi32::<12>(t), block));
                let word = _mm_add_epi32(_mm_slli_epi32::<2>(bl), _mm_srli_epi32::<6>(slot));
                (bl, _mm256_i32gather_epi64::<8>(occupied, word))
            };
            let shift = _mm256_cvtepu32_epi64(_mm_and_si128(slot, m63));
            let bits = _mm256_and_si256(_mm256_srlv_epi64(words, shift), one64);
            let bits = _mm256_castsi256_si128(_mm256_permutevar8x32_epi32(bits, low_dwords));
            let mask = _mm_sub_epi32(_mm_setzero_si128(), bits);
            let entry = _mm_or_si128(_mm_slli_epi32::<8>(bl), slot);
            let r = _mm_or_si128(_mm_and_si128(entry, mask), _mm_andnot_si128(mask, empty_v));
            // SAFETY: out has the length of points, and k + 4 <= n4.
            unsafe { _mm_storeu_si128(out.as_mut_ptr().add(k) as *mut __m128i, r) };
        }
        n4
    }

    /// Offset of the point's cell descriptor (0: empty, or invalid coordinates). Same
    /// lookup as the batches: an empty cell's entry is the empty block's.
    #[inline]
    pub(super) fn cell_id(&self, lon: f64, lat: f64) -> u32 {
        self.blocks[self.cell_entry(lon, lat, 0) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::test_shapes::square;
    use crate::perimeter::PerimeterKind;

    #[test]
    fn cell_entries_match_the_scalar_entry() {
        // The vector path (AVX2 gathers) and the scalar one give the same key for every
        // point, invalid and out-of-range ones included.
        let a = square("A", PerimeterKind::Qpv, 3.0, 50.0, 3.02, 50.01, true);
        let c = square("C", PerimeterKind::Qpv, -61.5, 16.2, -61.4, 16.3, false);
        let idx = PerimeterIndex::build(vec![a, c]);
        let mut r = crate::bench::SplitMix64::new(11);
        let mut pts: Vec<(f64, f64)> = (0..4001)
            .map(|i| match i % 4 {
                0 => (r.range(2.98, 3.04), r.range(49.99, 50.02)),
                1 => (r.range(-61.6, -61.3), r.range(16.1, 16.4)),
                2 => (r.range(-180.0, 180.0), r.range(-90.0, 90.0)),
                _ => (r.range(-1e12, 1e12), r.range(-400.0, 400.0)),
            })
            .collect();
        pts.extend([
            (f64::NAN, 50.0),
            (3.01, f64::NAN),
            (f64::INFINITY, 50.0),
            (3.01, f64::NEG_INFINITY),
            (-180.0, -90.0),
            (180.0, 90.0),
            (179.999_999, 89.999_999),
            (-180.000_001, 0.0),
            (3.0, 50.0),
            (2_147_483_648.0 / 1024.0, 50.0),
            (-2_147_483_649.0 / 1024.0, 50.0),
        ]);
        let empty = 12_345 << 8;
        let mut out = vec![0; pts.len()];
        idx.cell_entries(&pts, empty, &mut out);
        let mut occupied = 0;
        for (p, &e) in pts.iter().zip(&out) {
            assert_eq!(e, idx.cell_entry(p.0, p.1, empty), "{p:?}");
            occupied += (e != empty) as usize;
        }
        assert!(occupied > 300, "{occupied}");
    }
}
