//! Cell descriptors: their layout in `blob`, and the reading of a descriptor's header,
//! far mask and sub-cell masks.

use super::nearest_masks::mask_width_log2;
use super::PerimeterIndex;

/// Words of a cell's far mask.
pub(super) const FAR_WORDS: usize = 2;
/// Words per part of a cell: perimeter, start and length of its row-edge list, and its
/// containment mask over the far sub-cells (two words).
pub(super) const PART_WORDS: usize = 5;

/// Decoded header of a cell descriptor in `blob`.
///
/// Layout at offset `o` (offset 0 is the empty cell, its header words are zero):
/// - `blob[o]`: number of perimeters covering the whole cell (bits 0-15), number of
///   polygons needing an exact test (bits 16-30), a QPV covers the whole cell (bit 31);
/// - `blob[o + 1]`: words of the near-boundary section (bits 0-15), number of
///   candidate chains for the nearest QPV (bits 16-31);
/// - then, inline: the covering perimeter ids; the parts as [`PART_WORDS`] words
///   `(perimeter, start, len, inside mask low, high)` (a prefix of a row list in
///   `row_edges`, and the part's containment in each far sub-cell); when edges lie
///   within the tolerance of the cell, the near-boundary section: the far mask on
///   [`FAR_WORDS`] words (bit `s`: every point of the cell's [`FAR_SUB`]-grid
///   [`sub_cell`] `s` is farther than the tolerance from every edge), then the ids of
///   those edges; the chain ids; when [`has_masks`] holds for the number of chains,
///   [`mask_words`] words of sub-cell masks: four 8-bit masks per word up to
///   `NARROW_MASK_CAND` chains (sub-cell `s` in word `s / 4`), else two 16-bit masks
///   per word (sub-cell `s` in word `s / 2`), the lowest sub-cell in the lowest bits.
///
/// [`FAR_SUB`]: super::far_masks::FAR_SUB
/// [`sub_cell`]: super::grid::sub_cell
/// [`has_masks`]: super::nearest_masks::has_masks
/// [`mask_words`]: super::nearest_masks::mask_words
#[derive(Debug, Clone, Copy)]
pub(super) struct CellView {
    pub(super) n_inside: usize,
    pub(super) n_parts: usize,
    pub(super) qpv_inside: bool,
    /// Words of the near-boundary section: the [`FAR_WORDS`] words of the far mask, then
    /// the ids of the edges within the tolerance of the cell (0: no such edge).
    pub(super) near_words: usize,
    pub(super) n_cand: usize,
    /// Offset of the first inline word.
    pub(super) body: usize,
}

impl CellView {
    #[inline(always)]
    pub(super) fn parts_at(&self) -> usize {
        self.body + self.n_inside
    }
    #[inline(always)]
    fn near_at(&self) -> usize {
        self.body + self.n_inside + PART_WORDS * self.n_parts
    }
    #[inline(always)]
    pub(super) fn cand_at(&self) -> usize {
        self.near_at() + self.near_words
    }
    /// Positions in `blob` of the ids of the edges within the tolerance (empty when there
    /// are none).
    #[inline(always)]
    pub(super) fn near_ids(&self) -> std::ops::Range<usize> {
        let start = self.near_at() + FAR_WORDS;
        start..self.cand_at().max(start)
    }
}

impl PerimeterIndex {
    #[inline(always)]
    pub(super) fn view(&self, off: u32) -> CellView {
        let o = off as usize;
        let (w0, w1) = (self.blob[o], self.blob[o + 1]);
        CellView {
            n_inside: (w0 & 0xFFFF) as usize,
            n_parts: ((w0 >> 16) & 0x7FFF) as usize,
            qpv_inside: w0 >> 31 != 0,
            near_words: (w1 & 0xFFFF) as usize,
            n_cand: (w1 >> 16) as usize,
            body: o + 2,
        }
    }

    /// Mask of the candidates (bit `i`: `i`-th chain id of the cell) that can be the
    /// nearest in sub-cell `s` of the cell `v`, which must carry masks
    /// ([`has_masks`]); past the last descriptor, `blob`'s padding is read.
    ///
    /// [`has_masks`]: super::nearest_masks::has_masks
    #[inline(always)]
    pub(super) fn sub_cell_mask(&self, v: &CellView, s: usize) -> u32 {
        // No branch: the width is selected from the number of candidates.
        let w = mask_width_log2(v.n_cand);
        let per_word_log2 = 5 - w;
        let word = self.blob[v.cand_at() + v.n_cand + (s >> per_word_log2)];
        let low = (s & ((1 << per_word_log2) - 1)) << w;
        word >> low & ((1u32 << (1 << w)) - 1)
    }

    /// Far mask of the cell `v`, which must have a near-boundary section.
    #[inline(always)]
    pub(super) fn far_mask_of(&self, v: &CellView) -> u64 {
        let at = v.near_at();
        (self.blob[at + 1] as u64) << 32 | self.blob[at] as u64
    }
}
