//! What the build gathers for each 16×16 block of cells, and the work done per block
//! once everything is gathered: far masks and part masks of the boundary cells, candidate
//! chains in order and their sub-cell masks.

use crate::index::far_masks::{far_mask, part_inside_mask};
use crate::index::grid::BLOCK;
use crate::index::nearest_masks::{has_masks, sub_cell_masks, MASK_MAX_CAND, MASK_WORDS};
use crate::index::PerimeterIndex;
use rayon::prelude::*;
use smallvec::SmallVec;
use std::collections::HashMap;

/// The lists of the cells of one block, as `(slot, ...)` entries (slot: the cell in the
/// block, see `cell_slot`).
#[derive(Default)]
pub(super) struct BlockBuild {
    pub(super) inside: Vec<(u8, u32)>,
    pub(super) parts: Vec<(u8, u32, u32, u32)>,
    pub(super) near: Vec<(u8, u32)>,
    /// (slot, chain, lower bound of the squared distance to the cell)
    pub(super) cand: Vec<(u8, u32, f32)>,
    pub(super) ub: Vec<f64>,
    pub(super) qpv_inside: Vec<bool>,
    /// (slot, sub-cell mask words) of the slots whose candidates carry masks.
    pub(super) masks: Vec<(u8, [u32; MASK_WORDS])>,
    /// Far mask of each slot, when the block has edges within the tolerance of a cell
    /// (empty otherwise).
    pub(super) far: Vec<u64>,
    /// Containment mask over the far sub-cells of each of `parts` (same order).
    pub(super) part_masks: Vec<u64>,
}

/// The blocks the build has touched, by key `bj << 32 | bi`, and their lists.
pub(super) struct Builder {
    pub(super) blocks: HashMap<u64, usize>,
    pub(super) data: Vec<BlockBuild>,
}

impl Builder {
    /// No block yet.
    pub(super) fn new() -> Self {
        Builder {
            blocks: HashMap::new(),
            data: Vec::new(),
        }
    }

    /// Index in `data` of block `(bi, bj)`, created when new (no bound on the nearest
    /// distance yet, no QPV covering a cell).
    pub(super) fn block_index(&mut self, bi: i64, bj: i64) -> usize {
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

    /// The lists of block `(bi, bj)`, created when new.
    pub(super) fn block(&mut self, bi: i64, bj: i64) -> &mut BlockBuild {
        let idx = self.block_index(bi, bj);
        &mut self.data[idx]
    }

    /// Index in `data` of block `(bi, bj)`, when the build has touched it.
    pub(super) fn existing(&self, bi: i64, bj: i64) -> Option<usize> {
        self.blocks.get(&(((bj as u64) << 32) | bi as u64)).copied()
    }

    /// Per block, in parallel: the far masks and part masks of its boundary cells, then
    /// its candidates per slot by increasing bound, and their sub-cell masks (most of the
    /// build time).
    pub(super) fn finish_blocks(&mut self, index: &PerimeterIndex, tol: f64) {
        let mut coords = vec![(0i64, 0i64); self.data.len()];
        for (&k, &i) in &self.blocks {
            coords[i] = ((k & 0xFFFF_FFFF) as i64, (k >> 32) as i64);
        }
        self.data
            .par_iter_mut()
            .zip(coords.par_iter())
            .for_each(|(blk, &(bi, bj))| {
                blk.add_far_masks(bi, bj, index, tol);
                blk.add_candidate_masks(bi, bj, index);
            });
    }
}

impl BlockBuild {
    /// Far masks of the boundary cells of block `(bi, bj)`, and the containment of their
    /// parts in the far sub-cells.
    fn add_far_masks(&mut self, bi: i64, bj: i64, index: &PerimeterIndex, tol: f64) {
        self.near.sort_unstable();
        self.near.dedup();
        self.parts.sort_unstable();
        if !self.near.is_empty() {
            self.far = vec![0; 256];
        }
        let mut near_ids: Vec<u32> = Vec::new();
        for run in self.near.chunk_by(|x, y| x.0 == y.0) {
            let slot = run[0].0 as i64;
            let (gi, gj) = (bi * BLOCK + (slot & 15), bj * BLOCK + (slot >> 4));
            let (kx, ky) = index.scales[(gj >> 4) as usize];
            near_ids.clear();
            near_ids.extend(run.iter().map(|x| x.1));
            self.far[slot as usize] = far_mask(&index.edges, &near_ids, gi, gj, kx, ky, tol);
        }
        for &(slot, _, st, len) in &self.parts {
            // A cell with parts has edges within the tolerance (an edge of each
            // part touches it), hence a far mask.
            let far = self.far.get(slot as usize).copied().unwrap_or(0);
            let s = slot as i64;
            let (gi, gj) = (bi * BLOCK + (s & 15), bj * BLOCK + (s >> 4));
            let rows = &index.row_edges[st as usize..(st + len) as usize];
            self.part_masks.push(part_inside_mask(rows, far, gi, gj));
        }
    }

    /// The candidate chains of each cell of block `(bi, bj)` in order, and the sub-cell
    /// masks of the cells that carry them.
    fn add_candidate_masks(&mut self, bi: i64, bj: i64, index: &PerimeterIndex) {
        // Per slot and chain, the smallest bound; then per slot by increasing bound.
        self.cand
            .sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
        self.cand.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
        self.cand
            .sort_unstable_by(|x, y| x.0.cmp(&y.0).then(x.2.total_cmp(&y.2)).then(x.1.cmp(&y.1)));
        let mut ids: SmallVec<[u32; MASK_MAX_CAND]> = SmallVec::new();
        for run in self.cand.chunk_by(|x, y| x.0 == y.0) {
            if !has_masks(run.len()) {
                continue;
            }
            let slot = run[0].0 as i64;
            let (gi, gj) = (bi * BLOCK + (slot & 15), bj * BLOCK + (slot >> 4));
            let (kx, ky) = index.scales[(gj >> 4) as usize];
            ids.clear();
            ids.extend(run.iter().map(|x| x.1));
            let words = sub_cell_masks(&index.chains, &ids, gi, gj, kx, ky);
            self.masks.push((run[0].0, words));
        }
    }
}
