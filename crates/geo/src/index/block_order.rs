//! Block order of a chunk of points: the points of empty cells set apart, the others
//! put together by 16×16 block with one counting pass.

use super::batch::PIPELINE_PAD;
use super::memory::huge_capacity;
use super::PerimeterIndex;

/// A point of a batch: coordinates, position in its chunk, and entry of its cell in
/// `blocks` (`block * 256 + slot`).
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Rec {
    pub(super) x: f64,
    pub(super) y: f64,
    pub(super) id: u32,
    pub(super) cell: u32,
}

/// Block order of one chunk of points (buffers reused between chunks): a counting sort
/// on the number of the point's stored block, whose numbers follow the grid row by row.
///
/// Hand-written rather than taken from a sorting crate: the ordering needs the points of
/// one block together, not a total order, and one counting pass on a key that the
/// empty-cell test computes anyway costs a few nanoseconds per point; comparison sorts
/// cost several times more.
pub(super) struct BlockOrder {
    /// Key of the points whose cell is empty (one past the last block).
    empty: u32,
    /// Points per block, then start of each block's run.
    counts: Vec<u32>,
    /// Cell entry of each point of the chunk, in input order.
    keys: Vec<u32>,
    /// Positions of the points of empty cells, then (from the end) of the others.
    split: Vec<u32>,
    /// The chunk's points of occupied cells, by block.
    recs: Vec<Rec>,
}

impl BlockOrder {
    /// Buffers for chunks of up to `chunk_len` points, on 2 MB pages when the OS
    /// allows: the scatter writes records at random over several megabytes.
    pub(super) fn new(blocks: usize, chunk_len: usize) -> Self {
        BlockOrder {
            empty: (blocks as u32) << 8,
            counts: vec![0; blocks + 1],
            keys: huge_capacity(chunk_len),
            split: huge_capacity(chunk_len),
            recs: huge_capacity(chunk_len + PIPELINE_PAD),
        }
    }

    /// Orders `chunk` by block: returns the points of occupied cells in block order
    /// followed by [`PIPELINE_PAD`] records in the empty cell, and the positions of the
    /// points of empty cells (or invalid coordinates). No branch depends on the points.
    pub(super) fn sort(
        &mut self,
        index: &PerimeterIndex,
        chunk: &[(f64, f64)],
    ) -> (&[Rec], &[u32]) {
        assert!(chunk.len() <= u32::MAX as usize);
        let n = chunk.len();
        let (empty, counts) = (self.empty, &mut self.counts);
        self.keys.resize(n, 0);
        index.cell_entries(chunk, empty, &mut self.keys[..n]);
        // Partition without a branch: each position is written in the next free slot at
        // both ends (`e < o` before each point) and only one of the two cursors moves.
        // The points of empty cells then skip the counting sort (they would all
        // increment the same counter, one after the other).
        self.split.resize(n, 0);
        let (mut e, mut o) = (0usize, n);
        for (i, &key) in self.keys[..n].iter().enumerate() {
            let is_empty = (key == empty) as usize;
            self.split[e] = i as u32;
            self.split[o - 1] = i as u32;
            e += is_empty;
            o -= 1 - is_empty;
        }
        counts.fill(0);
        for &i in &self.split[o..n] {
            counts[(self.keys[i as usize] >> 8) as usize + 1] += 1;
        }
        for k in 1..counts.len() {
            counts[k] += counts[k - 1];
        }
        // Only grown (`resize` writes the new records before the scatter does, so
        // resizing every chunk would write them all twice).
        let occupied = n - o;
        if self.recs.len() < occupied + PIPELINE_PAD {
            self.recs.resize(occupied + PIPELINE_PAD, Rec::default());
        }
        for &i in &self.split[o..n] {
            let cell = self.keys[i as usize];
            let (x, y) = chunk[i as usize];
            let b = &mut counts[(cell >> 8) as usize];
            self.recs[*b as usize] = Rec { x, y, id: i, cell };
            *b += 1;
        }
        // The padding, in the empty cell (entry 0 of the empty block 0): records of an
        // earlier chunk may be there.
        self.recs[occupied..occupied + PIPELINE_PAD].fill(Rec::default());
        (&self.recs[..occupied + PIPELINE_PAD], &self.split[..e])
    }
}
