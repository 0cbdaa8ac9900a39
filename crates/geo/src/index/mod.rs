//! [`PerimeterIndex`]: which perimeters contain a point, how far is the nearest QPV, and
//! is the point close to a boundary — for millions of points per second.
//!
//! # Semantics
//!
//! - **Containment** is "covers": a point on a boundary (edge or vertex) is inside. Each
//!   polygon of a perimeter is tested with the even-odd rule over its rings (holes
//!   included), which is insensitive to the self-touching rings that coordinate rounding
//!   produces; a perimeter contains the point when any of its polygons does. All
//!   predicates are exact: orientation tests use Shewchuk's adaptive predicates
//!   ([`robust`]), cell assignment uses power-of-two cell sizes so that
//!   `floor(lon * 1024)` is computed without rounding.
//! - **Distances** are in metres in a local equirectangular frame: longitudes and
//!   latitudes are scaled by the GRS80 metres-per-degree at the centre of the point's
//!   1/64° latitude band (`N cos φ` and `M`). Over the distances involved (≤ a few km)
//!   the error against the geodesic distance is below 0.05 % (latitude band ±0.008°:
//!   ≤ 0.02 %; flat-earth approximation over 1 km: ≈ 0.01 %). [`metric_scale`] exposes
//!   the scale so that anybody can recompute the same numbers.
//! - **`near_boundary`** is true when some edge of some perimeter is within
//!   [`IndexOptions::boundary_tolerance_m`] (default 15 m) of the point.
//! - **`nearest_qpv`** is `(id, 0.0)` when a QPV contains the point, otherwise the QPV
//!   whose boundary is nearest, if it lies within [`IndexOptions::nearest_max_m`]
//!   (default 500 m), else `None`.
//!
//! # Design, and why not an R-tree
//!
//! The usual answer is an R-tree of polygons (rstar, or shapely's STRtree) followed by an
//! exact point-in-polygon test over all edges of each candidate polygon: a tree descent
//! (several dependent cache misses) and then O(edges) work, i.e. hundreds of nanoseconds
//! per point for QPV polygons of a few hundred vertices. Our workload is different: a
//! fixed, small set of polygons (1,584 QPVs, ~200k edges) queried by huge numbers of
//! points, and two extra questions (nearest QPV, distance to boundary). So the index
//! precomputes the answer space once:
//!
//! - a three-level grid aligned on powers of two of a degree: 1° tiles → 1/64° blocks
//!   (≈ 1.7 km × 1.1 km at 50°N) → 1/1024° leaf cells (≈ 109 m × 70 m). Tiles and blocks
//!   whose cells are all identical share one stored copy, so the lookup is always three
//!   array reads, without a branch.
//! - each leaf cell holds the offset of an interned descriptor in one `u32` array (no
//!   further indirection; see `CellView`): a two-word header, then inline
//!   - perimeters that cover the whole cell with no edge within the tolerance;
//!   - for cells crossed by a boundary ("parts"), the edges of the polygon that cross
//!     the cell's row to the right of the cell, sorted so that they are a prefix of the
//!     row's list: an exact ray-casting test then only looks at those few edges;
//!   - edges within the tolerance of the cell (for `near_boundary`), after a 64-bit
//!     *far mask*: bit `s` is set when every point of the cell's 8×8 sub-cell `s`
//!     (≈ 14 m × 9 m) is farther than the tolerance from all those edges. No edge
//!     crosses such a sub-cell, so each part also stores whether it covers it: a point
//!     there (two thirds of the points of such cells on the urban set) is answered
//!     from bits, without the exact tests;
//!   - candidate QPV *chains* (runs of up to 4 connected edges, stored as one 128-byte
//!     record with their vertices and bounding box) for the nearest distance: a chain
//!     is kept only if the lower bound of its distance to the cell does not exceed the
//!     upper bound `min_v max_corner d(corner, v)` of the nearest distance over the cell
//!     (and `nearest_max_m`); chains are ordered by increasing lower bound. A cell with 2
//!     to 16 candidates also stores, for each of its 4×4 sub-cells (≈ 27 m × 17 m), a
//!     mask of the candidates that can be the nearest somewhere in the sub-cell (8 bits
//!     up to 8 candidates, else 16; 2.3 of 4.7 candidates on average for France): a
//!     query computes exactly those, with no bounding-box test whose outcome the CPU
//!     could not predict. In other cells a
//!     chain whose bounding box is farther than the best distance so far is skipped.
//!     The distances to the edges of a chain are computed with vector instructions
//!     (AVX2 when the CPU has it).
//! - [`PerimeterIndex::locate_batch`] first finds the points whose cell is empty from
//!   small bitmaps (`top`, `tiles` and one bit per cell of each stored block; about 2 MB
//!   for France, mostly in the CPU caches), four points at a time with AVX2 gathers, and
//!   answers them at once. It puts the others in block order (one counting pass on the
//!   number of their 1/64° block, which the empty-cell test computes anyway; chunks of
//!   1 M points), so that the points of one neighbourhood follow each other and the
//!   descriptors and chains they read stay in the caches. It then computes them in that
//!   order through a pipeline that prefetches, for the points 32, 16 and 8 places
//!   ahead, the cell's entry in `blocks`, then its descriptor, then the first two chains
//!   of its sub-cell and the first edges of its boundary tests, and computes the chain
//!   distances of four points together (independent work that the CPU overlaps); the
//!   big arrays, and the batch's own buffers, are placed on 2 MB pages when the OS
//!   allows it (fewer TLB misses). On the national urban benchmark, the vector
//!   empty-cell test and the block order took one core from about 15 to about 22 M
//!   points/s (the 1/256° radix sort and five-stage software pipeline they replace spent
//!   about 30 ns per point before any exact test).
//!
//! Most points fall in cells that are empty or fully inside one perimeter, which are
//! answered after the three array reads.

mod batch;
mod block_order;
mod build;
mod cell_view;
mod chain;
mod covers;
mod far_masks;
mod geometry;
mod grid;
mod locate;
mod lookup;
mod memory;
mod nearest_masks;
#[cfg(test)]
mod test_shapes;
#[cfg(test)]
mod tests;

pub use batch::{parallel_chunk_len, SORT_CHUNK};

use crate::perimeter::Perimeter;
use cell_view::PART_WORDS;
use chain::Chain;
use geometry::{edge_d2, Edge};
use grid::band_scale;
use smallvec::SmallVec;

/// Identifier of a perimeter in an index: its position in the `Vec` given to
/// [`PerimeterIndex::build`].
pub type PerimeterId = u32;

/// Options of the index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexOptions {
    /// Distance to a boundary under which `near_boundary` is set, in metres.
    pub boundary_tolerance_m: f64,
    /// Largest distance at which a QPV is reported as `nearest_qpv`, in metres.
    pub nearest_max_m: f64,
}

impl Default for IndexOptions {
    fn default() -> Self {
        IndexOptions {
            boundary_tolerance_m: 15.0,
            nearest_max_m: 500.0,
        }
    }
}

/// Answer of [`PerimeterIndex::locate`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// All perimeters containing the point (boundary included), by increasing id.
    pub containing: SmallVec<[PerimeterId; 3]>,
    /// Nearest QPV and distance in metres (0 when inside), within `nearest_max_m`.
    pub nearest_qpv: Option<(PerimeterId, f64)>,
    /// True when the point is within `boundary_tolerance_m` of any perimeter boundary.
    pub near_boundary: bool,
}

/// Metres per degree of longitude and of latitude used for the point `lat`: GRS80 values
/// at the centre of its 1/64° latitude band. Distances reported by the index are
/// `hypot(dlon * kx, dlat * ky)` with `(kx, ky) = metric_scale(lat)`.
pub fn metric_scale(lat: f64) -> (f64, f64) {
    let band = ((lat * 64.0).floor() as i64).clamp(-90 * 64, 90 * 64 - 1);
    band_scale(band)
}

/// The point locator. Build once with [`PerimeterIndex::build`], query from any number
/// of threads (`&self` methods, `Send + Sync`).
pub struct PerimeterIndex {
    perimeters: Vec<Perimeter>,
    is_qpv: Vec<bool>,
    options: IndexOptions,
    /// 1° tiles: tile number (0: the empty tile).
    top: Vec<u32>,
    /// 64×64 blocks per tile: block number (0: the empty block; uniform blocks are
    /// shared).
    tiles: Vec<u32>,
    /// One bit per cell of each stored block (4 words per block): the cell is not empty.
    /// 32 bytes per block, small enough to stay in the CPU caches with `top` and
    /// `tiles`, so that [`PerimeterIndex::locate_batch`] answers the points of empty
    /// cells without reading the big arrays.
    occupied_cells: Vec<u64>,
    /// 16×16 cell offsets (in `blob`) per block.
    blocks: Vec<u32>,
    /// Interned cell descriptors, see [`CellView`].
    ///
    /// [`CellView`]: cell_view::CellView
    blob: Vec<u32>,
    /// Number of distinct cell descriptors.
    ncells: usize,
    chains: Vec<Chain>,
    /// Row lists of the containment tests: copies of the edges (contiguous reads).
    row_edges: Vec<Edge>,
    edges: Vec<Edge>,
    /// First edge (in `edges`) of each perimeter, then the number of edges: a perimeter's
    /// edges are contiguous, so an edge's owner is found by a binary search.
    first_edge: Vec<u32>,
    scales: Vec<(f64, f64)>,
}

impl std::fmt::Debug for PerimeterIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerimeterIndex")
            .field("perimeters", &self.perimeters.len())
            .field("edges", &self.edges.len())
            .field("cells", &self.ncells)
            .field("blocks", &(self.blocks.len() / 256))
            .field("tiles", &(self.tiles.len() / 4096))
            .field("memory_bytes", &self.memory_bytes())
            .finish()
    }
}

/// Sizes of the index structures, for diagnostics and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexStats {
    /// Perimeters indexed.
    pub perimeters: usize,
    /// Edges of all polygons.
    pub edges: usize,
    /// Distinct leaf-cell descriptors.
    pub cells: usize,
    /// Stored 16×16 blocks.
    pub blocks: usize,
    /// Stored 1° tiles.
    pub tiles: usize,
    /// Estimated heap memory of the index, excluding the perimeters themselves.
    pub memory_bytes: usize,
}

impl PerimeterIndex {
    /// Locate one WGS84 point. Non-finite or out-of-range coordinates give an empty
    /// [`Location`].
    /// With AVX2, the distances and the containment test use the vector kernels, as the
    /// batches do (the same answers; the scalar distance kernel mispredicts a branch per
    /// lane).
    #[inline]
    pub fn locate(&self, lon: f64, lat: f64) -> Location {
        let off = self.cell_id(lon, lat);
        // Empty cells (most points of a uniform set) are answered here, without the
        // feature check and the call into the AVX2 code, which cannot be inlined.
        if off == 0 {
            return Location::default();
        }
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            return unsafe { self.locate_in_cell_avx2(off, lon, lat) };
        }
        self.locate_in_cell::<false>(off, lon, lat)
    }

    /// Whether an edge of a QPV lies within [`IndexOptions::boundary_tolerance_m`] of the
    /// point. [`Location::near_boundary`] counts the edges of every perimeter of the index;
    /// a caller whose index also holds other perimeters (attention perimeters, renewal
    /// sites...) asks this for the QPV alone, for the few points `locate` flagged. Exact:
    /// the cell's list of near edges, filtered by owner, with the same distance as `locate`.
    pub fn near_qpv_boundary(&self, lon: f64, lat: f64) -> bool {
        let off = self.cell_id(lon, lat);
        if off == 0 {
            return false;
        }
        let v = self.view(off);
        // The point's 1/64° band: its cell is not empty, so `lat` is valid.
        let band = (lat * 64.0).floor() as i64 + 90 * 64;
        let (kx, ky) = self.scales[band as usize];
        let t2 = self.options.boundary_tolerance_m * self.options.boundary_tolerance_m;
        self.blob[v.near_ids()].iter().any(|&e| {
            let owner = self.first_edge.partition_point(|&first| first <= e) - 1;
            self.is_qpv[owner] && edge_d2(&self.edges[e as usize], lon, lat, kx, ky) <= t2
        })
    }

    /// Ids of the perimeters containing the point (boundary included), without computing
    /// distances. Cheaper than [`PerimeterIndex::locate`] when only membership matters.
    #[inline]
    pub fn containing(&self, lon: f64, lat: f64) -> SmallVec<[PerimeterId; 3]> {
        let off = self.cell_id(lon, lat);
        let mut out = SmallVec::new();
        if off == 0 {
            return out;
        }
        let v = self.view(off);
        self.containing_at::<false>(&v, lon, lat, &mut out);
        out.sort_unstable();
        out
    }

    /// Work needed for a point: `(perimeters inside, edges tested for containment,
    /// edges tested for near_boundary, candidate edges for the nearest QPV)`.
    /// Diagnostic helper for tuning.
    #[doc(hidden)]
    pub fn cell_profile(&self, lon: f64, lat: f64) -> (usize, usize, usize, usize) {
        let off = self.cell_id(lon, lat);
        let v = self.view(off);
        let parts: usize = (0..v.n_parts)
            .map(|k| self.blob[v.parts_at() + PART_WORDS * k + 2] as usize)
            .sum();
        let cand: usize = self.blob[v.cand_at()..v.cand_at() + v.n_cand]
            .iter()
            .map(|&c| self.chains[c as usize].len as usize)
            .sum();
        (v.n_inside, parts, v.near_ids().len(), cand)
    }

    /// The perimeter with this id.
    pub fn perimeter(&self, id: PerimeterId) -> &Perimeter {
        &self.perimeters[id as usize]
    }

    /// All indexed perimeters (ids are positions in this slice).
    pub fn perimeters(&self) -> &[Perimeter] {
        &self.perimeters
    }

    /// Id of the first perimeter with this code.
    pub fn id_of(&self, code: &str) -> Option<PerimeterId> {
        self.perimeters
            .iter()
            .position(|p| p.code == code)
            .map(|i| i as u32)
    }

    /// Options the index was built with.
    pub fn options(&self) -> IndexOptions {
        self.options
    }

    /// Estimated heap memory of the index structures (from capacities), excluding the
    /// perimeters' own geometries and properties.
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.top.capacity() * 4
            + self.tiles.capacity() * 4
            + self.occupied_cells.capacity() * 8
            + self.blocks.capacity() * 4
            + self.blob.capacity() * 4
            + self.chains.capacity() * size_of::<Chain>()
            + self.row_edges.capacity() * std::mem::size_of::<Edge>()
            + self.edges.capacity() * size_of::<Edge>()
            + self.first_edge.capacity() * 4
            + self.is_qpv.capacity()
            + self.scales.capacity() * 16
    }

    /// Sizes of the index structures.
    pub fn stats(&self) -> IndexStats {
        IndexStats {
            perimeters: self.perimeters.len(),
            edges: self.edges.len(),
            cells: self.ncells,
            blocks: self.blocks.len() / 256,
            tiles: self.tiles.len() / 4096,
            memory_bytes: self.memory_bytes(),
        }
    }
}
