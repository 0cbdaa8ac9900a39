//! Sub-cell masks of the nearest-QPV search: for each 4×4 sub-cell of a leaf cell, the
//! candidate chains that can be the nearest there, and how they are stored and read.

use super::chain::{chain_d2_any_cpu, Chain};
use super::grid::{cell_rect, LEAF_PER_DEG_F};

/// Sub-cells per leaf-cell side for the nearest-QPV candidate masks (power of two, so
/// that `floor(lon * LEAF_PER_DEG * SUB)` gives the sub-cell exactly).
pub(super) const SUB: i64 = 4;
const SUB_F: f64 = SUB as f64;
/// Most candidate chains a cell can have and still carry sub-cell masks (up to 16 bits per
/// sub-cell: bit `i` is the cell's candidate `i`). Cells with more candidates (rare)
/// test them all.
pub(super) const MASK_MAX_CAND: usize = 16;
/// Most words of sub-cell masks after a cell's candidate ids (16-bit masks).
pub(super) const MASK_WORDS: usize = (SUB * SUB) as usize / 2;
/// Most candidates whose masks fit 8 bits: such cells store 4 words of masks, not 8
/// (most cells with masks: their descriptors shrink by 16 of about 70 bytes).
const NARROW_MASK_CAND: usize = 8;

/// log2 of the width in bits of each sub-cell mask of a cell with `n` candidates: 3
/// (8-bit masks, four per word) up to [`NARROW_MASK_CAND`] candidates, else 4 (16-bit
/// masks, two per word).
#[inline(always)]
pub(super) fn mask_width_log2(n: usize) -> u32 {
    if n <= NARROW_MASK_CAND {
        3
    } else {
        4
    }
}

/// Words of sub-cell masks stored after the ids of a cell with `n` candidates, when it
/// has masks ([`has_masks`]).
pub(super) fn mask_words(n: usize) -> usize {
    ((SUB * SUB) as usize) << mask_width_log2(n) >> 5
}

/// Positions of the first two bits of a sub-cell mask (the first one twice when the mask
/// has one bit), and the mask without them: the chains computed without a branch, and
/// the rest. Without a branch either: the positions are those of the mask word, masked
/// to stay below [`MASK_MAX_CAND`] (an empty mask gives 0 and 0).
#[inline(always)]
pub(super) fn first_two(m: u32) -> (usize, usize, u32) {
    let rest = m & m.wrapping_sub(1);
    // `rest` when it has a bit, `m` again when it has none.
    let second = rest | (m & 0u32.wrapping_sub((rest == 0) as u32));
    (
        (m.trailing_zeros() & 15) as usize,
        (second.trailing_zeros() & 15) as usize,
        rest & rest.wrapping_sub(1),
    )
}

/// Whether a cell with `n` candidate chains carries sub-cell masks.
#[inline(always)]
pub(super) fn has_masks(n: usize) -> bool {
    (2..=MASK_MAX_CAND).contains(&n)
}

/// For each sub-cell of leaf cell `(gi, gj)`, the candidate chains (positions in `cand`)
/// that can be the nearest for some point of the sub-cell, as the [`mask_words`] words
/// stored after the cell's chain ids (bit `i` of sub-cell `s`'s mask is `cand[i]`; see
/// [`PerimeterIndex::sub_cell_mask`]); the array's words past those are zero. Distances
/// are in the metric frame `(kx, ky)` of the cell's band, the one the queries use. With
/// `c` the sub-cell's centre and `h` its half-diagonal, every point `p` of the sub-cell
/// is within `h` of `c`, so its nearest distance is at most
/// `min_k d(c, k) + h`, and its distance to chain `k` at least `d(c, k) - h`: a chain
/// with `d(c, k) > min_k d(c, k) + 2h` is farther than the nearest everywhere in the
/// sub-cell and is left out. The nearest chain of any point is kept, and so is any
/// chain at the same distance (ties keep the list order).
///
/// Testing the exact distance from the chain's edges to the sub-cell's rectangle instead
/// of `d(c, k) - h` removes almost nothing more (2.26 instead of 2.31 chains per
/// sub-cell for France) at twice the build time.
///
/// [`PerimeterIndex::sub_cell_mask`]: super::PerimeterIndex::sub_cell_mask
pub(super) fn sub_cell_masks(
    chains: &[Chain],
    cand: &[u32],
    gi: i64,
    gj: i64,
    kx: f64,
    ky: f64,
) -> [u32; MASK_WORDS] {
    let (x0, y0, _, _) = cell_rect(gi, gj);
    let step = 1.0 / (LEAF_PER_DEG_F * SUB_F);
    let h = 0.5 * ((step * kx).powi(2) + (step * ky).powi(2)).sqrt();
    let mut words = [0u32; MASK_WORDS];
    let mut dc = [0f64; MASK_MAX_CAND];
    for s in 0..(SUB * SUB) as usize {
        let (sx, sy) = ((s as i64 % SUB) as f64, (s as i64 / SUB) as f64);
        let (cx, cy) = (x0 + (sx + 0.5) * step, y0 + (sy + 0.5) * step);
        for (d, &c) in dc.iter_mut().zip(cand) {
            *d = chain_d2_any_cpu(&chains[c as usize], cx, cy, kx, ky).sqrt();
        }
        let dc = &dc[..cand.len()];
        let best = dc.iter().copied().fold(f64::INFINITY, f64::min);
        // Relative and absolute margins cover the rounding of both computations.
        let keep = (best + 2.0 * h) * (1.0 + 1e-9) + 1e-6;
        let mask = dc
            .iter()
            .enumerate()
            .fold(0u32, |m, (k, &d)| m | ((d <= keep) as u32) << k);
        // Four 8-bit or two 16-bit masks per word, the lowest sub-cell in the lowest
        // bits (see `sub_cell_mask`).
        let w = mask_width_log2(cand.len());
        let per_word = 32 >> w;
        words[s / per_word] |= mask << ((s % per_word) << w);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::chain::chain_min;
    use crate::index::grid::sub_cell;
    use crate::index::test_shapes::saw_tooth_ring;
    use crate::index::{metric_scale, PerimeterIndex};
    use crate::perimeter::{Perimeter, PerimeterKind};
    use geo::{LineString, MultiPolygon, Polygon};

    /// Every point's nearest chain (by brute force over all its cell's candidates) is
    /// in its sub-cell's mask, on a jagged QPV whose many short edges give cells with
    /// many candidates; and the masked answer is the brute-force one.
    #[test]
    fn sub_cell_masks_keep_the_nearest_chain() {
        let ring = saw_tooth_ring();
        let p = Perimeter {
            code: "QP059999".into(),
            name: "Dents".into(),
            kind: PerimeterKind::Qpv,
            insee_communes: vec![],
            generation: None,
            geometry: MultiPolygon(vec![Polygon::new(LineString::from(ring), vec![])]),
            properties: Default::default(),
        };
        let idx = PerimeterIndex::build(vec![p]);
        let mut rng = crate::bench::SplitMix64::new(11);
        let mut masked_cells = 0;
        // Points in cells with 8-bit and with 16-bit masks.
        let mut widths = [0; 2];
        for _ in 0..20_000 {
            let (x, y) = (rng.range(2.995, 3.035), rng.range(50.0015, 50.006));
            let v = idx.view(idx.cell_id(x, y));
            let (kx, ky) = metric_scale(y);
            let cand = &idx.blob[v.cand_at()..v.cand_at() + v.n_cand];
            if !has_masks(v.n_cand) {
                continue;
            }
            masked_cells += 1;
            let d: Vec<f64> = cand
                .iter()
                .map(|&c| chain_min(&idx.chains[c as usize], x, y, kx, ky).0)
                .collect();
            let best = d.iter().copied().fold(f64::INFINITY, f64::min);
            let s = sub_cell::<false, SUB>(x, y);
            let m = idx.sub_cell_mask(&v, s);
            // Read with the width the cell was written with: no bit past its candidates.
            assert_eq!(m >> v.n_cand, 0, "mask {m:#x} of {} candidates", v.n_cand);
            widths[(mask_width_log2(v.n_cand) - 3) as usize] += 1;
            for (k, &dk) in d.iter().enumerate() {
                if dk == best {
                    assert!(m >> k & 1 == 1, "nearest chain {k} left out at ({x}, {y})");
                }
            }
            let l = idx.locate(x, y);
            if l.containing.is_empty() && best.sqrt() <= 500.0 {
                assert_eq!(l.nearest_qpv.unwrap().1, best.sqrt(), "at ({x}, {y})");
            }
        }
        assert!(
            masked_cells > 5_000,
            "{masked_cells} points in cells with masks"
        );
        assert!(widths.iter().all(|&n| n > 500), "{widths:?}");
    }
}
