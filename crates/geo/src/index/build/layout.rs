//! Stage 3 of the build: each cell's lists encoded as its descriptor, identical
//! descriptors stored once in `blob`, and the blocks placed in their tiles (identical
//! uniform blocks stored once).

use super::blocks::{BlockBuild, Builder};
use crate::index::cell_view::FAR_WORDS;
use crate::index::nearest_masks::{has_masks, mask_words};
use crate::index::PerimeterIndex;
use smallvec::SmallVec;
use std::collections::HashMap;

/// What the layout keeps from one block to the next.
struct Layout {
    /// Offset in `blob` of each descriptor already stored.
    intern: HashMap<Vec<u32>, u32>,
    /// Stored tile of each 1° tile with a block (key `tj * 360 + ti`).
    tile_of: HashMap<usize, usize>,
    /// Stored block of the uniform blocks, by the descriptor of their cells.
    uniform_block: HashMap<u32, u32>,
    /// The descriptor being encoded.
    key: Vec<u32>,
}

impl Builder {
    /// Interns the descriptors of the cells of every block, block by block in key order,
    /// and places each block in its tile.
    pub(super) fn lay_out(&mut self, index: &mut PerimeterIndex) {
        let mut keys: Vec<(u64, usize)> = self.blocks.iter().map(|(k, v)| (*k, *v)).collect();
        keys.sort_unstable();
        let mut layout = Layout::new();
        for (bkey, bidx) in keys {
            let (bi, bj) = ((bkey & 0xFFFF_FFFF) as i64, (bkey >> 32) as i64);
            let blk = &mut self.data[bidx];
            let cell_ids = layout.intern_cells(index, blk);
            layout.place_block(index, bi, bj, cell_ids);
        }
    }
}

impl Layout {
    /// Nothing stored yet but the empty block (block 0, whose cells are all the empty
    /// cell).
    fn new() -> Self {
        let intern: HashMap<Vec<u32>, u32> = HashMap::new();
        let tile_of: HashMap<usize, usize> = HashMap::new();
        let mut uniform_block: HashMap<u32, u32> = HashMap::new();
        uniform_block.insert(0, 0);
        let key: Vec<u32> = Vec::new();
        Layout {
            intern,
            tile_of,
            uniform_block,
            key,
        }
    }

    /// The descriptor offset of each cell of the block `blk` (0: the empty cell), new
    /// descriptors appended to `blob`.
    fn intern_cells(&mut self, index: &mut PerimeterIndex, blk: &mut BlockBuild) -> [u32; 256] {
        let Layout { intern, key, .. } = self;
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
            key.push(inside.len() as u32 | (parts.len() as u32) << 16 | (qpv_inside as u32) << 31);
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
            if let Some(&off) = intern.get(key) {
                *cell_id = off;
                continue;
            }
            let off = index.blob.len() as u32;
            index.blob.extend_from_slice(key);
            index.ncells += 1;
            intern.insert(key.clone(), off);
            *cell_id = off;
        }
        cell_ids
    }

    /// Places block `(bi, bj)`, whose cells have the descriptors `cell_ids`, in its tile
    /// (a new tile when it is the first block of its tile); nothing for an empty block.
    fn place_block(&mut self, index: &mut PerimeterIndex, bi: i64, bj: i64, cell_ids: [u32; 256]) {
        let Layout {
            tile_of,
            uniform_block,
            ..
        } = self;
        // Place the block.
        let (ti, tj) = (bi >> 6, bj >> 6);
        let tkey = (tj * 360 + ti) as usize;
        let uniform = cell_ids.iter().all(|&c| c == cell_ids[0]);
        if uniform && cell_ids[0] == 0 {
            return;
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
                .or_insert_with(|| store_block(index))
        } else {
            store_block(index)
        };
        index.tiles[slot] = bidx;
    }
}
