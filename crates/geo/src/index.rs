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

use crate::perimeter::{Perimeter, PerimeterKind};
use rayon::prelude::*;
use smallvec::SmallVec;
use std::collections::HashMap;

/// Identifier of a perimeter in an index: its position in the `Vec` given to
/// [`PerimeterIndex::build`].
pub type PerimeterId = u32;

/// Leaf cells per degree (power of two: exact cell assignment).
const LEAF_PER_DEG: i64 = 1024;
const LEAF_PER_DEG_F: f64 = 1024.0;
/// Leaf cells per block side.
const BLOCK: i64 = 16;
/// Blocks per tile side (a tile is one degree).
const TILE: i64 = 64;
const GI_OFFSET: i64 = 180 * LEAF_PER_DEG;
const GJ_OFFSET: i64 = 90 * LEAF_PER_DEG;
const GI_MAX: i64 = 360 * LEAF_PER_DEG;
const GJ_MAX: i64 = 180 * LEAF_PER_DEG;
/// Number of latitude bands (one per block row, 1/64°).
const BANDS: usize = (180 * 64) as usize;

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

fn band_scale(band: i64) -> (f64, f64) {
    let phi = ((band as f64 + 0.5) / 64.0).to_radians();
    let a = 6_378_137.0_f64;
    let f = 1.0 / 298.257_222_101;
    let e2 = f * (2.0 - f);
    let s = phi.sin();
    let w = (1.0 - e2 * s * s).sqrt();
    let n = a / w;
    let m = a * (1.0 - e2) / (w * w * w);
    let k = std::f64::consts::PI / 180.0;
    (k * n * phi.cos(), k * m)
}

/// Hint the CPU to load the cache line of `p` (no effect on other architectures).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address.
    #[allow(unused_unsafe)]
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

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
struct Chain {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
    start: u32,
    len: u32,
    owner: PerimeterId,
    /// Vertices: edge `i` goes from vertex `i` to vertex `i + 1`.
    vx: [f64; CHAIN_LANES + 1],
    vy: [f64; CHAIN_LANES + 1],
}

/// Edges per chain (4: measured faster than 8 on the national urban benchmark, fewer
/// cache lines per point).
const CHAIN: u32 = CHAIN_LANES as u32;
const CHAIN_LANES: usize = 4;

/// Sub-cells per leaf-cell side for the nearest-QPV candidate masks (power of two, so
/// that `floor(lon * LEAF_PER_DEG * SUB)` gives the sub-cell exactly).
const SUB: i64 = 4;
const SUB_F: f64 = SUB as f64;
/// Most candidate chains a cell can have and still carry sub-cell masks (up to 16 bits per
/// sub-cell: bit `i` is the cell's candidate `i`). Cells with more candidates (rare)
/// test them all.
const MASK_MAX_CAND: usize = 16;
/// Most words of sub-cell masks after a cell's candidate ids (16-bit masks).
const MASK_WORDS: usize = (SUB * SUB) as usize / 2;
/// Most candidates whose masks fit 8 bits: such cells store 4 words of masks, not 8
/// (most cells with masks: their descriptors shrink by 16 of about 70 bytes).
const NARROW_MASK_CAND: usize = 8;

/// Sub-cells per leaf-cell side of the far masks of boundary cells (8: 64 sub-cells of
/// about 9 × 14 m in France, one bit each in a `u64`).
const FAR_SUB: i64 = 8;
const FAR_SUB_F: f64 = FAR_SUB as f64;
/// Words of a cell's far mask.
const FAR_WORDS: usize = 2;
/// Words per part of a cell: perimeter, start and length of its row-edge list, and its
/// containment mask over the far sub-cells (two words).
const PART_WORDS: usize = 5;

/// Far mask of cell `(gi, gj)` (band scales `kx`, `ky`) whose edges within the
/// tolerance are `near`: bit `s` is set when the closed rectangle of far sub-cell `s`
/// is more than `tol` metres (plus a millimetre, for rounding) from each of them, so
/// that no point of it is near the boundary and no polygon edge crosses it (an edge
/// touching the cell is within the tolerance, hence in `near`).
fn far_mask(edges: &[Edge], near: &[u32], gi: i64, gj: i64, kx: f64, ky: f64, tol: f64) -> u64 {
    let (x0, y0, x1, y1) = cell_rect(gi, gj);
    let (w, h) = ((x1 - x0) / FAR_SUB_F, (y1 - y0) / FAR_SUB_F);
    let reach = tol * 1.0001 + 1e-3;
    let lim = reach * reach;
    let (tx, ty) = (reach / kx, reach / ky);
    // Squared distance from a sub-cell's centre beyond which the whole sub-cell is out
    // of reach (the reach plus its half-diagonal, with a margin for rounding).
    let half_diagonal = ((w * kx).powi(2) + (h * ky).powi(2)).sqrt() * 0.5;
    let beyond = (reach + half_diagonal).powi(2) * 1.000_001;
    let span = |v: f64| (v.floor().clamp(0.0, FAR_SUB_F - 1.0)) as i64;
    let mut far = u64::MAX;
    for &id in near {
        let e = &edges[id as usize];
        let (ax, ay, bx, by) = (e.ax * kx, e.ay * ky, e.bx * kx, e.by * ky);
        // Only the sub-cells that meet the edge's box grown by the reach can be near it.
        let (sx0, sx1) = (
            span((e.ax.min(e.bx) - tx - x0) / w),
            span((e.ax.max(e.bx) + tx - x0) / w),
        );
        let (sy0, sy1) = (
            span((e.ay.min(e.by) - ty - y0) / h),
            span((e.ay.max(e.by) + ty - y0) / h),
        );
        for sy in sy0..=sy1 {
            let (ry0, ry1) = ((y0 + sy as f64 * h) * ky, (y0 + (sy + 1) as f64 * h) * ky);
            for sx in sx0..=sx1 {
                let bit = 1u64 << (sy * FAR_SUB + sx);
                if far & bit == 0 {
                    continue;
                }
                let (rx0, rx1) = ((x0 + sx as f64 * w) * kx, (x0 + (sx + 1) as f64 * w) * kx);
                // Most sub-cells are settled by the distance from their centre (within
                // the reach: near; beyond the reach plus the half-diagonal: far); the
                // others by the exact distance from the rectangle.
                let dc = pt_seg_d2((rx0 + rx1) * 0.5, (ry0 + ry1) * 0.5, ax, ay, bx, by);
                if dc > beyond {
                    continue;
                }
                if dc <= lim || seg_rect_d2(ax, ay, bx, by, rx0, ry0, rx1, ry1) <= lim {
                    far &= !bit;
                }
            }
        }
    }
    far
}

/// Containment of the polygon part whose row edges are `row_edges` in each far sub-cell
/// of `far` of cell `(gi, gj)` (bit `s` set: the sub-cell is covered). No edge touches a
/// far sub-cell, nor the side two of them share, so containment is the same over each
/// group of far sub-cells connected by their sides: it is tested once per group, at the
/// centre of one of its sub-cells (usually two groups, one on each side of the
/// boundary, instead of one exact test per sub-cell).
fn part_inside_mask(row_edges: &[Edge], far: u64, gi: i64, gj: i64) -> u64 {
    let (x0, y0, x1, y1) = cell_rect(gi, gj);
    let (w, h) = ((x1 - x0) / FAR_SUB_F, (y1 - y0) / FAR_SUB_F);
    const NOT_WEST_COLUMN: u64 = !0x0101_0101_0101_0101;
    const NOT_EAST_COLUMN: u64 = !0x8080_8080_8080_8080;
    let mut inside = 0u64;
    let mut left = far;
    while left != 0 {
        let s = left.trailing_zeros() as i64;
        // The group of `s`: grown by one sub-cell in the four directions until stable.
        let mut group = 1u64 << s;
        loop {
            let grown = group
                | (group << 1 & NOT_WEST_COLUMN)
                | (group >> 1 & NOT_EAST_COLUMN)
                | group << FAR_SUB
                | group >> FAR_SUB;
            let grown = grown & far;
            if grown == group {
                break;
            }
            group = grown;
        }
        left &= !group;
        let (sx, sy) = (s % FAR_SUB, s / FAR_SUB);
        let (cx, cy) = (x0 + (sx as f64 + 0.5) * w, y0 + (sy as f64 + 0.5) * h);
        if covers(row_edges, cx, cy) {
            inside |= group;
        }
    }
    inside
}

/// log2 of the width in bits of each sub-cell mask of a cell with `n` candidates: 3
/// (8-bit masks, four per word) up to [`NARROW_MASK_CAND`] candidates, else 4 (16-bit
/// masks, two per word).
#[inline(always)]
fn mask_width_log2(n: usize) -> u32 {
    if n <= NARROW_MASK_CAND {
        3
    } else {
        4
    }
}

/// Words of sub-cell masks stored after the ids of a cell with `n` candidates, when it
/// has masks ([`has_masks`]).
fn mask_words(n: usize) -> usize {
    ((SUB * SUB) as usize) << mask_width_log2(n) >> 5
}

/// Sub-cell of a valid point in its leaf cell divided into `N × N` (`N` a power of two:
/// [`SUB`] for the nearest-chain masks, [`FAR_SUB`] for the far masks), `0..N * N`,
/// row-major from the south-west corner. `lon * 1024 * N` is exact (a power of two), so
/// the sub-cell's closed rectangle, computed at build time, contains the point.
#[inline(always)]
fn sub_cell<const AVX2: bool, const N: i64>(lon: f64, lat: f64) -> usize {
    let scale = LEAF_PER_DEG_F * N as f64;
    let sx = floor_to_i64::<AVX2>(lon * scale) & (N - 1);
    let sy = floor_to_i64::<AVX2>(lat * scale) & (N - 1);
    (sy * N + sx) as usize
}

/// Positions of the first two bits of a sub-cell mask (the first one twice when the mask
/// has one bit), and the mask without them: the chains computed without a branch, and
/// the rest. Without a branch either: the positions are those of the mask word, masked
/// to stay below [`MASK_MAX_CAND`] (an empty mask gives 0 and 0).
#[inline(always)]
fn first_two(m: u32) -> (usize, usize, u32) {
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
fn has_masks(n: usize) -> bool {
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
fn sub_cell_masks(
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

/// Smallest squared metric distance from `(px, py)` to the edges of the chain, and the
/// lane that reaches it. Same geometry as [`edge_d2`], written without a data-dependent
/// branch so that it vectorises: `|a|²` before the segment, `|b|²` after it,
/// `cross(a, d)² / |d|²` along it (the three agree at the junctions; the difference
/// with [`edge_d2`] is a few ulps of the coordinates in metres).
#[inline(always)]
#[allow(clippy::needless_range_loop)] // lanes, written for the vectoriser
fn chain_min(ch: &Chain, px: f64, py: f64, kx: f64, ky: f64) -> (f64, usize) {
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
fn chain_d2<const AVX2: bool>(ch: &Chain, px: f64, py: f64, kx: f64, ky: f64) -> f64 {
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
fn chain_d2_any_cpu(ch: &Chain, px: f64, py: f64, kx: f64, ky: f64) -> f64 {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        return chain_d2::<true>(ch, px, py, kx, ky);
    }
    chain_d2::<false>(ch, px, py, kx, ky)
}

/// `max(a, b)` for operands that are never NaN: one `maxsd`, where `f64::max` adds the
/// NaN handling (a compare and a blend) on the hot path of the nearest-chain search.
#[inline(always)]
fn max_no_nan(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}

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
///   [`NARROW_MASK_CAND`] chains (sub-cell `s` in word `s / 4`), else two 16-bit masks
///   per word (sub-cell `s` in word `s / 2`), the lowest sub-cell in the lowest bits.
#[derive(Debug, Clone, Copy)]
struct CellView {
    n_inside: usize,
    n_parts: usize,
    qpv_inside: bool,
    /// Words of the near-boundary section: the [`FAR_WORDS`] words of the far mask, then
    /// the ids of the edges within the tolerance of the cell (0: no such edge).
    near_words: usize,
    n_cand: usize,
    /// Offset of the first inline word.
    body: usize,
}

impl CellView {
    #[inline(always)]
    fn parts_at(&self) -> usize {
        self.body + self.n_inside
    }
    #[inline(always)]
    fn near_at(&self) -> usize {
        self.body + self.n_inside + PART_WORDS * self.n_parts
    }
    #[inline(always)]
    fn cand_at(&self) -> usize {
        self.near_at() + self.near_words
    }
    /// Positions in `blob` of the ids of the edges within the tolerance (empty when there
    /// are none).
    #[inline(always)]
    fn near_ids(&self) -> std::ops::Range<usize> {
        let start = self.near_at() + FAR_WORDS;
        start..self.cand_at().max(start)
    }
}

/// An edge in degrees. `repr(C)`: [`covers_avx2`] reads an edge as four consecutive f64.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
struct Edge {
    ax: f64,
    ay: f64,
    bx: f64,
    by: f64,
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
    blob: Vec<u32>,
    /// Number of distinct cell descriptors.
    ncells: usize,
    chains: Vec<Chain>,
    /// Row lists of the containment tests: copies of the edges (contiguous reads).
    row_edges: Vec<Edge>,
    edges: Vec<Edge>,
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

// ---------------------------------------------------------------------------------------
// Geometry helpers (metric coordinates)
// ---------------------------------------------------------------------------------------

#[inline]
fn pt_seg_d2(px: f64, py: f64, ax: f64, ay: f64, bx: f64, by: f64) -> f64 {
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
fn edge_d2(e: &Edge, px: f64, py: f64, kx: f64, ky: f64) -> f64 {
    let ax = (e.ax - px) * kx;
    let ay = (e.ay - py) * ky;
    let bx = (e.bx - px) * kx;
    let by = (e.by - py) * ky;
    pt_seg_d2(0.0, 0.0, ax, ay, bx, by)
}

/// Does segment a-b intersect the closed rectangle? (Liang–Barsky clipping.)
fn seg_hits_rect(ax: f64, ay: f64, bx: f64, by: f64, x0: f64, y0: f64, x1: f64, y1: f64) -> bool {
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
fn seg_rect_d2(ax: f64, ay: f64, bx: f64, by: f64, x0: f64, y0: f64, x1: f64, y1: f64) -> f64 {
    if seg_hits_rect(ax, ay, bx, by, x0, y0, x1, y1) {
        return 0.0;
    }
    let mut d = pt_rect_d2(ax, ay, x0, y0, x1, y1).min(pt_rect_d2(bx, by, x0, y0, x1, y1));
    for (cx, cy) in [(x0, y0), (x1, y0), (x0, y1), (x1, y1)] {
        d = d.min(pt_seg_d2(cx, cy, ax, ay, bx, by));
    }
    d
}

/// Exact even-odd / on-boundary test of `(x, y)` against a list of edges that contains
/// every edge of the polygon that can intersect the horizontal ray from the point to
/// +∞ (and every edge through the point). Returns true when covered.
///
/// Most edges are decided by comparisons alone (crossing the ray's line strictly right
/// of the point, or not at all): they update the parity without a branch, and only the
/// few edges that need an orientation test or touch the ray's line take the exact path.
#[inline]
fn covers(edges: &[Edge], x: f64, y: f64) -> bool {
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
#[inline(always)]
fn near_any_with<const AVX2: bool>(
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

/// [`covers_avx2`] when `AVX2`, [`covers`] otherwise (the same answer); `AVX2` as for
/// [`chain_d2`].
#[inline(always)]
fn covers_with<const AVX2: bool>(edges: &[Edge], x: f64, y: f64) -> bool {
    #[cfg(target_arch = "x86_64")]
    if AVX2 {
        // SAFETY: see `chain_d2`: the CPU supports AVX2.
        return unsafe { covers_avx2(edges, x, y) };
    }
    covers(edges, x, y)
}

// ---------------------------------------------------------------------------------------
// Build
// ---------------------------------------------------------------------------------------

#[derive(Default)]
struct BlockBuild {
    inside: Vec<(u8, u32)>,
    parts: Vec<(u8, u32, u32, u32)>,
    near: Vec<(u8, u32)>,
    /// (slot, chain, lower bound of the squared distance to the cell)
    cand: Vec<(u8, u32, f32)>,
    ub: Vec<f64>,
    qpv_inside: Vec<bool>,
    /// (slot, sub-cell mask words) of the slots whose candidates carry masks.
    masks: Vec<(u8, [u32; MASK_WORDS])>,
    /// Far mask of each slot, when the block has edges within the tolerance of a cell
    /// (empty otherwise).
    far: Vec<u64>,
    /// Containment mask over the far sub-cells of each of `parts` (same order).
    part_masks: Vec<u64>,
}

struct Builder {
    blocks: HashMap<u64, usize>,
    data: Vec<BlockBuild>,
}

impl Builder {
    fn block_index(&mut self, bi: i64, bj: i64) -> usize {
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
    fn block(&mut self, bi: i64, bj: i64) -> &mut BlockBuild {
        let idx = self.block_index(bi, bj);
        &mut self.data[idx]
    }
    fn existing(&self, bi: i64, bj: i64) -> Option<usize> {
        self.blocks.get(&(((bj as u64) << 32) | bi as u64)).copied()
    }
}

#[inline]
fn cell_slot(gi: i64, gj: i64) -> u8 {
    (((gj & 15) << 4) | (gi & 15)) as u8
}

/// Cell rectangle in degrees.
#[inline]
fn cell_rect(gi: i64, gj: i64) -> (f64, f64, f64, f64) {
    let x0 = (gi - GI_OFFSET) as f64 / LEAF_PER_DEG_F;
    let y0 = (gj - GJ_OFFSET) as f64 / LEAF_PER_DEG_F;
    (x0, y0, x0 + 1.0 / LEAF_PER_DEG_F, y0 + 1.0 / LEAF_PER_DEG_F)
}

/// `floor(v)` as an integer, without a libm call (the default x86-64 target has no
/// SSE4.1 `roundsd`). Exact for |v| < 2^53; clamped to ±2^50 beyond (then out of
/// the grid), infinities included; NaN gives 0.
#[inline(always)]
fn ifloor(v: f64) -> i64 {
    const LIM: f64 = (1u64 << 50) as f64;
    let t = v.clamp(-LIM, LIM) as i64;
    t - ((t as f64) > v) as i64
}
/// `floor(v)` of a finite `v` well inside the `i64` range: one `roundsd` in code compiled
/// for AVX2 (which implies SSE4.1), [`ifloor`] otherwise.
#[inline(always)]
fn floor_to_i64<const AVX2: bool>(v: f64) -> i64 {
    if AVX2 {
        debug_assert!(v.abs() < (1u64 << 62) as f64);
        // SAFETY: callers pass finite values well inside the `i64` range (the
        // coordinates of a valid point times at most 4096), so the conversion is exact
        // and the saturation checks of `as` are not needed.
        unsafe { v.floor().to_int_unchecked::<i64>() }
    } else {
        ifloor(v)
    }
}
#[inline(always)]
fn gi_of(lon: f64) -> i64 {
    ifloor(lon * LEAF_PER_DEG_F) + GI_OFFSET
}
#[inline(always)]
fn gj_of(lat: f64) -> i64 {
    ifloor(lat * LEAF_PER_DEG_F) + GJ_OFFSET
}

/// Where cell `(gi, gj)` of the grid is stored: its 1° tile in `top`, its block in the
/// tile (0..4096), and its slot in the block (0..256).
#[inline(always)]
fn grid_address(gi: i64, gj: i64) -> (usize, usize, usize) {
    let tile = ((gj >> 10) * 360 + (gi >> 10)) as usize;
    let block = (((gj >> 4) & (TILE - 1)) << 6 | ((gi >> 4) & (TILE - 1))) as usize;
    let slot = ((gj & (BLOCK - 1)) << 4 | (gi & (BLOCK - 1))) as usize;
    (tile, block, slot)
}

/// Smallest metres-per-degree of longitude over a latitude range (conservative
/// conversion of metres to degrees).
fn min_kx(lat0: f64, lat1: f64) -> f64 {
    let worst = if lat0.abs() > lat1.abs() { lat0 } else { lat1 };
    let worst = worst.clamp(-89.9, 89.9);
    let b = (worst * 64.0).floor() as i64;
    let k1 = band_scale(b).0;
    let k2 = band_scale(b + if worst >= 0.0 { 1 } else { -1 }).0;
    k1.min(k2) * 0.999
}

/// Copy of `v` with exact capacity, in memory the kernel is asked to back with 2 MB
/// pages (Linux transparent huge pages in `madvise` mode): the queries read these arrays
/// at random, and with 4 kB pages most reads would also miss the TLB.
fn huge_pages<T: Copy>(v: Vec<T>) -> Vec<T> {
    let mut w = huge_capacity(v.len());
    w.extend_from_slice(&v);
    w
}

/// An empty `Vec` with room for `len` elements, asked of the OS on 2 MB pages when it is
/// large enough (Linux transparent huge pages; elsewhere, or when refused, ordinary
/// pages): random accesses over a few megabytes then miss the TLB far less.
fn huge_capacity<T>(len: usize) -> Vec<T> {
    let w: Vec<T> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let bytes = len * std::mem::size_of::<T>();
        if bytes >= 2 * HUGE {
            let p = w.as_ptr() as usize;
            let start = (p + HUGE - 1) & !(HUGE - 1);
            let end = (p + bytes) & !(HUGE - 1);
            if end > start {
                // SAFETY: advice on memory owned by `w` and not yet touched; madvise
                // does not change its contents or validity.
                unsafe {
                    libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
                }
            }
        }
    }
    w
}

/// Points per chunk put in block order by [`PerimeterIndex::locate_batch`] (1 M: up to
/// 24 MB of records). Measured on the national urban set: with chunks of 256 k points,
/// fewer points share a block and the index lines are reused less (about 20 % slower);
/// 512 k and 2 M were each about 5 % slower than 1 M.
pub const SORT_CHUNK: usize = 1 << 20;
/// Points per parallel task when `len` points are located on all cores (rayon's pool):
/// one chunk per thread and [`SORT_CHUNK`] at most, so that each chunk is put in
/// block order as a whole.
pub fn parallel_chunk_len(len: usize) -> usize {
    len.div_ceil(rayon::current_num_threads().max(1))
        .clamp(16_384, SORT_CHUNK)
}

/// A point of a batch: coordinates, position in its chunk, and entry of its cell in
/// `blocks` (`block * 256 + slot`).
#[derive(Debug, Clone, Copy, Default)]
struct Rec {
    x: f64,
    y: f64,
    id: u32,
    cell: u32,
}

/// Block order of one chunk of points (buffers reused between chunks): a counting sort
/// on the number of the point's stored block, whose numbers follow the grid row by row.
///
/// Hand-written rather than taken from a sorting crate: the ordering needs the points of
/// one block together, not a total order, and one counting pass on a key that the
/// empty-cell test computes anyway costs a few nanoseconds per point; comparison sorts
/// cost several times more.
struct BlockOrder {
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
    fn new(blocks: usize, chunk_len: usize) -> Self {
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
    fn sort(&mut self, index: &PerimeterIndex, chunk: &[(f64, f64)]) -> (&[Rec], &[u32]) {
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

/// What the batch pipeline learns of a point a few places before its turn (and what the
/// single-point path computes first): its cell descriptor, and the chains of its
/// sub-cell mask that are computed without a branch.
#[derive(Debug, Clone, Copy, Default)]
struct Ahead {
    /// Offset of the cell descriptor in `blob`.
    off: u32,
    /// The sub-cell's first two chains (its one chain twice when it has one; chain 0
    /// when the cell has no candidates, never read then).
    c0: u32,
    c1: u32,
    /// The sub-cell's other chains, as bits of the cell's candidate list.
    rest: u32,
}

/// A point whose nearest QPV is to be computed from the chains of its sub-cell mask:
/// what [`PerimeterIndex::locate_start`] leaves to its caller, the rest of the answer
/// being already known.
#[derive(Debug, Clone, Copy, Default)]
struct NearestJob {
    /// Position of the point in its batch.
    id: u32,
    /// The sub-cell's first two chains, and the others as bits of the candidate list.
    c0: u32,
    c1: u32,
    rest: u32,
    /// Offset of the cell's candidate list in `blob`.
    cand_at: u32,
    x: f64,
    y: f64,
    kx: f64,
    ky: f64,
}

/// Jobs gathered by the batches before their chain distances are computed together.
const JOBS: usize = 4;

/// Records after the last point of a sorted chunk, in the empty cell: the batch pipeline
/// looks that far ahead without a bounds test.
const PIPELINE_PAD: usize = 32;

struct Unit {
    perimeter: PerimeterId,
    edges: std::ops::Range<u32>,
    bbox: (f64, f64, f64, f64),
}

impl PerimeterIndex {
    /// Build the index with default options (15 m tolerance, nearest QPV within 500 m).
    pub fn build(perimeters: Vec<Perimeter>) -> PerimeterIndex {
        Self::build_with(perimeters, IndexOptions::default())
    }

    /// Build the index with explicit options. Perimeters with coordinates outside
    /// ±180°/±90° are only partly indexed (the part beyond is ignored).
    pub fn build_with(perimeters: Vec<Perimeter>, options: IndexOptions) -> PerimeterIndex {
        let tol = options.boundary_tolerance_m.max(0.0);
        let rmax = options.nearest_max_m.max(0.0);
        let is_qpv: Vec<bool> = perimeters
            .iter()
            .map(|p| p.kind == PerimeterKind::Qpv)
            .collect();
        let scales: Vec<(f64, f64)> = (0..BANDS as i64).map(|b| band_scale(b - 90 * 64)).collect();
        let scale_of_gj = |gj: i64| scales[((gj >> 4) as usize).min(BANDS - 1)];

        // Edges and units (one unit per polygon).
        let mut edges = Vec::new();
        let mut units = Vec::new();
        for (pid, p) in perimeters.iter().enumerate() {
            for poly in &p.geometry.0 {
                let start = edges.len() as u32;
                let mut bb = (
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                );
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors().iter()) {
                    let pts = &ring.0;
                    for w in pts.windows(2) {
                        let (a, b) = (w[0], w[1]);
                        if !(a.x.is_finite()
                            && a.y.is_finite()
                            && b.x.is_finite()
                            && b.y.is_finite())
                        {
                            continue;
                        }
                        edges.push(Edge {
                            ax: a.x,
                            ay: a.y,
                            bx: b.x,
                            by: b.y,
                        });
                        bb = (
                            bb.0.min(a.x).min(b.x),
                            bb.1.min(a.y).min(b.y),
                            bb.2.max(a.x).max(b.x),
                            bb.3.max(a.y).max(b.y),
                        );
                    }
                    // Unclosed ring: close it implicitly.
                    if let (Some(f), Some(l)) = (pts.first(), pts.last()) {
                        if f != l && pts.len() > 2 {
                            edges.push(Edge {
                                ax: l.x,
                                ay: l.y,
                                bx: f.x,
                                by: f.y,
                            });
                        }
                    }
                }
                let end = edges.len() as u32;
                if end > start {
                    units.push(Unit {
                        perimeter: pid as u32,
                        edges: start..end,
                        bbox: bb,
                    });
                }
            }
        }

        // Chains of up to CHAIN consecutive edges of each QPV polygon.
        let mut chains: Vec<Chain> = Vec::new();
        let mut unit_chains: Vec<std::ops::Range<u32>> = Vec::with_capacity(units.len());
        for u in &units {
            let c0 = chains.len() as u32;
            if is_qpv[u.perimeter as usize] {
                let mut s = u.edges.start;
                while s < u.edges.end {
                    // A run of at most CHAIN connected edges.
                    let mut len = 1;
                    while len < CHAIN
                        && s + len < u.edges.end
                        && edges[(s + len) as usize].ax == edges[(s + len - 1) as usize].bx
                        && edges[(s + len) as usize].ay == edges[(s + len - 1) as usize].by
                    {
                        len += 1;
                    }
                    let mut ch = Chain {
                        x0: f64::INFINITY,
                        y0: f64::INFINITY,
                        x1: f64::NEG_INFINITY,
                        y1: f64::NEG_INFINITY,
                        start: s,
                        len,
                        owner: u.perimeter,
                        vx: [0.0; CHAIN_LANES + 1],
                        vy: [0.0; CHAIN_LANES + 1],
                    };
                    for i in 0..=CHAIN_LANES {
                        // Vertex 0 starts edge 0; vertex i ends edge i - 1.
                        let (x, y) = if i == 0 {
                            (edges[s as usize].ax, edges[s as usize].ay)
                        } else {
                            let e = &edges[(s + (i as u32).min(len) - 1) as usize];
                            (e.bx, e.by)
                        };
                        ch.x0 = ch.x0.min(x);
                        ch.y0 = ch.y0.min(y);
                        ch.x1 = ch.x1.max(x);
                        ch.y1 = ch.y1.max(y);
                        ch.vx[i] = x;
                        ch.vy[i] = y;
                    }
                    chains.push(ch);
                    s += len;
                }
            }
            unit_chains.push(c0..chains.len() as u32);
        }

        let mut b = Builder {
            blocks: HashMap::new(),
            data: Vec::new(),
        };
        let mut edge_lists: Vec<u32> = Vec::new();

        // 1. Containment and near-boundary lists, polygon by polygon.
        for u in &units {
            let (bx0, by0, bx1, by1) = u.bbox;
            // 110,000 m is below the metres per degree of latitude anywhere (110,574 at the equator).
            let tol_y = tol / 110_000.0 + 1e-9;
            let tol_x = tol / min_kx(by0 - tol_y, by1 + tol_y) + 1e-9;
            let gi0 = gi_of(bx0 - tol_x).max(0);
            let gi1 = gi_of(bx1 + tol_x).min(GI_MAX - 1);
            let gj0 = gj_of(by0 - tol_y).max(0);
            let gj1 = gj_of(by1 + tol_y).min(GJ_MAX - 1);
            if gi0 > gi1 || gj0 > gj1 {
                continue;
            }
            let ncols = (gi1 - gi0 + 1) as usize;
            let nrows = (gj1 - gj0 + 1) as usize;
            let mut boundary = vec![false; ncols * nrows];
            let mut rows: Vec<Vec<u32>> = vec![Vec::new(); nrows];
            for eid in u.edges.clone() {
                let e = edges[eid as usize];
                let (ex0, ex1) = (e.ax.min(e.bx), e.ax.max(e.bx));
                let (ey0, ey1) = (e.ay.min(e.by), e.ay.max(e.by));
                // Rows crossed by the edge (for the ray-casting lists).
                let r0 = (gj_of(ey0) - gj0).max(0) as usize;
                let r1 = ((gj_of(ey1) - gj0) as usize).min(nrows - 1);
                for row in rows.iter_mut().take(r1 + 1).skip(r0) {
                    row.push(eid);
                }
                // Cells within the tolerance (boundary cells, near lists).
                let ci0 = gi_of(ex0 - tol_x).max(gi0);
                let ci1 = gi_of(ex1 + tol_x).min(gi1);
                let cj0 = gj_of(ey0 - tol_y).max(gj0);
                let cj1 = gj_of(ey1 + tol_y).min(gj1);
                for gj in cj0..=cj1 {
                    let (kx, ky) = scale_of_gj(gj);
                    let (tx, ty) = (tol / kx * 1.000_001 + 1e-12, tol / ky * 1.000_001 + 1e-12);
                    for gi in ci0..=ci1 {
                        let (x0, y0, x1, y1) = cell_rect(gi, gj);
                        if seg_hits_rect(e.ax, e.ay, e.bx, e.by, x0 - tx, y0 - ty, x1 + tx, y1 + ty)
                        {
                            let k = (gj - gj0) as usize * ncols + (gi - gi0) as usize;
                            boundary[k] = true;
                            b.block(gi >> 4, gj >> 4)
                                .near
                                .push((cell_slot(gi, gj), eid));
                        }
                    }
                }
            }
            let mut xs: Vec<f64> = Vec::new();
            for (r, row_edges) in rows.iter_mut().enumerate() {
                let gj = gj0 + r as i64;
                let (_, y0, _, y1) = cell_rect(0, gj);
                // Edges of the row sorted by decreasing max x: the edges right of any x are a prefix.
                row_edges.sort_by(|&a, &c| {
                    let ea = &edges[a as usize];
                    let ec = &edges[c as usize];
                    ec.ax.max(ec.bx).total_cmp(&ea.ax.max(ea.bx))
                });
                let list_start = edge_lists.len() as u32;
                edge_lists.extend_from_slice(row_edges);
                let maxxs: Vec<f64> = row_edges
                    .iter()
                    .map(|&i| {
                        let e = &edges[i as usize];
                        e.ax.max(e.bx)
                    })
                    .collect();
                // Scanline at the row centre for the cells without boundary.
                let yc = (y0 + y1) * 0.5;
                xs.clear();
                for &i in row_edges.iter() {
                    let e = &edges[i as usize];
                    if (e.ay > yc) != (e.by > yc) {
                        xs.push(e.ax + (yc - e.ay) * (e.bx - e.ax) / (e.by - e.ay));
                    }
                }
                xs.sort_by(f64::total_cmp);
                let mut k = 0usize; // number of crossings left of the current cell centre
                for c in 0..ncols {
                    let gi = gi0 + c as i64;
                    let (x0, _, x1, _) = cell_rect(gi, gj);
                    if boundary[r * ncols + c] {
                        let prefix = maxxs.partition_point(|&m| m >= x0);
                        if prefix > 0 {
                            b.block(gi >> 4, gj >> 4).parts.push((
                                cell_slot(gi, gj),
                                u.perimeter,
                                list_start,
                                prefix as u32,
                            ));
                        }
                        continue;
                    }
                    let xc = (x0 + x1) * 0.5;
                    while k < xs.len() && xs[k] < xc {
                        k += 1;
                    }
                    if (xs.len() - k) % 2 == 1 {
                        let qpv = is_qpv[u.perimeter as usize];
                        let blk = b.block(gi >> 4, gj >> 4);
                        let slot = cell_slot(gi, gj);
                        blk.inside.push((slot, u.perimeter));
                        if qpv {
                            blk.qpv_inside[slot as usize] = true;
                        }
                    }
                }
            }
        }

        // 2. Nearest-QPV candidates.
        //    Pass A: upper bound U of the nearest distance over each cell, from the QPV
        //    vertices: U = min over vertices v of the distance from v to the farthest
        //    corner of the cell (the distance to a vertex bounds the distance to its edges).
        //    Pass B: keep the edges whose distance to the cell does not exceed min(U, rmax).
        if rmax > 0.0 {
            let ry = rmax / 110_000.0 + 1e-9;
            for u in units.iter().filter(|u| is_qpv[u.perimeter as usize]) {
                for eid in u.edges.clone() {
                    let e = edges[eid as usize];
                    let (vx, vy) = (e.ax, e.ay);
                    let rx = rmax / min_kx(vy - ry, vy + ry) + 1e-9;
                    let ci0 = gi_of(vx - rx).max(0);
                    let ci1 = gi_of(vx + rx).min(GI_MAX - 1);
                    let cj0 = gj_of(vy - ry).max(0);
                    let cj1 = gj_of(vy + ry).min(GJ_MAX - 1);
                    for gj in cj0..=cj1 {
                        let (kx, ky) = scale_of_gj(gj);
                        let (_, y0, _, y1) = cell_rect(0, gj);
                        let dy = ((y0 - vy).abs().max((y1 - vy).abs())) * ky;
                        let dy2 = dy * dy;
                        for bi in (ci0 >> 4)..=(ci1 >> 4) {
                            let bidx = b.block_index(bi, gj >> 4);
                            let blk = &mut b.data[bidx];
                            let row = ((gj & 15) << 4) as usize;
                            for gi in ci0.max(bi << 4)..=ci1.min((bi << 4) + 15) {
                                let x0 = (gi - GI_OFFSET) as f64 / LEAF_PER_DEG_F;
                                let x1 = x0 + 1.0 / LEAF_PER_DEG_F;
                                let dx = ((x0 - vx).abs().max((x1 - vx).abs())) * kx;
                                let u2 = dx * dx + dy2;
                                let slot = row | (gi & 15) as usize;
                                if u2 < blk.ub[slot] {
                                    blk.ub[slot] = u2;
                                }
                            }
                        }
                    }
                }
            }
            for (ui, u) in units.iter().enumerate() {
                if !is_qpv[u.perimeter as usize] {
                    continue;
                }
                for cid in unit_chains[ui].clone() {
                    let ch = chains[cid as usize];
                    let cedges = &edges[ch.start as usize..(ch.start + ch.len) as usize];
                    let (ex0, ex1, ey0, ey1) = (ch.x0, ch.x1, ch.y0, ch.y1);
                    let rx = rmax / min_kx(ey0 - ry, ey1 + ry) + 1e-9;
                    let ci0 = gi_of(ex0 - rx).max(0);
                    let ci1 = gi_of(ex1 + rx).min(GI_MAX - 1);
                    let cj0 = gj_of(ey0 - ry).max(0);
                    let cj1 = gj_of(ey1 + ry).min(GJ_MAX - 1);
                    for gj in cj0..=cj1 {
                        let (kx, ky) = scale_of_gj(gj);
                        let (_, y0, _, y1) = cell_rect(0, gj);
                        let (my0, my1) = (y0 * ky, y1 * ky);
                        let gap_y = if ey1 * ky < my0 {
                            my0 - ey1 * ky
                        } else if ey0 * ky > my1 {
                            ey0 * ky - my1
                        } else {
                            0.0
                        };
                        for bi in (ci0 >> 4)..=(ci1 >> 4) {
                            let Some(bidx) = b.existing(bi, gj >> 4) else {
                                continue;
                            };
                            let blk = &mut b.data[bidx];
                            let row = ((gj & 15) << 4) as usize;
                            for gi in ci0.max(bi << 4)..=ci1.min((bi << 4) + 15) {
                                let slot = row | (gi & 15) as usize;
                                if blk.qpv_inside[slot] {
                                    continue;
                                }
                                // Squared bound, with a relative margin for rounding.
                                let lim = blk.ub[slot].min(rmax * rmax) * 1.000_002 + 1e-9;
                                let x0 = (gi - GI_OFFSET) as f64 / LEAF_PER_DEG_F;
                                let (mx0, mx1) = (x0 * kx, (x0 + 1.0 / LEAF_PER_DEG_F) * kx);
                                let gap_x = if ex1 * kx < mx0 {
                                    mx0 - ex1 * kx
                                } else if ex0 * kx > mx1 {
                                    ex0 * kx - mx1
                                } else {
                                    0.0
                                };
                                if gap_x * gap_x + gap_y * gap_y > lim {
                                    continue; // cheap bounding-box rejection
                                }
                                let mut dmin = f64::INFINITY;
                                for e in cedges {
                                    let (ax, ay, bx, by) =
                                        (e.ax * kx, e.ay * ky, e.bx * kx, e.by * ky);
                                    let gx = (ax.min(bx) - mx1).max(mx0 - ax.max(bx)).max(0.0);
                                    let gy = (ay.min(by) - my1).max(my0 - ay.max(by)).max(0.0);
                                    if gx * gx + gy * gy > lim.min(dmin) {
                                        continue;
                                    }
                                    dmin =
                                        dmin.min(seg_rect_d2(ax, ay, bx, by, mx0, my0, mx1, my1));
                                }
                                if dmin <= lim {
                                    blk.cand.push((slot as u8, cid, dmin as f32));
                                }
                            }
                        }
                    }
                }
            }
        }

        // 3. Intern cell descriptors and lay out the grid.
        let mut index = PerimeterIndex {
            perimeters,
            is_qpv,
            options,
            top: vec![0; 360 * 180],
            tiles: vec![0; 4096],
            occupied_cells: vec![0; 4],
            blocks: vec![0; 256],
            blob: vec![0, 0],
            ncells: 1,
            chains,
            row_edges: edge_lists.iter().map(|&e| edges[e as usize]).collect(),
            edges,
            scales,
        };
        // Per block, in parallel: candidates per slot by increasing bound, and their
        // sub-cell masks (most of the build time).
        let mut coords = vec![(0i64, 0i64); b.data.len()];
        for (&k, &i) in &b.blocks {
            coords[i] = ((k & 0xFFFF_FFFF) as i64, (k >> 32) as i64);
        }
        b.data
            .par_iter_mut()
            .zip(coords.par_iter())
            .for_each(|(blk, &(bi, bj))| {
                // Far masks of the boundary cells, and the containment of their parts
                // in the far sub-cells.
                blk.near.sort_unstable();
                blk.near.dedup();
                blk.parts.sort_unstable();
                if !blk.near.is_empty() {
                    blk.far = vec![0; 256];
                }
                let mut near_ids: Vec<u32> = Vec::new();
                for run in blk.near.chunk_by(|x, y| x.0 == y.0) {
                    let slot = run[0].0 as i64;
                    let (gi, gj) = (bi * BLOCK + (slot & 15), bj * BLOCK + (slot >> 4));
                    let (kx, ky) = index.scales[(gj >> 4) as usize];
                    near_ids.clear();
                    near_ids.extend(run.iter().map(|x| x.1));
                    blk.far[slot as usize] = far_mask(&index.edges, &near_ids, gi, gj, kx, ky, tol);
                }
                for &(slot, _, st, len) in &blk.parts {
                    // A cell with parts has edges within the tolerance (an edge of each
                    // part touches it), hence a far mask.
                    let far = blk.far.get(slot as usize).copied().unwrap_or(0);
                    let s = slot as i64;
                    let (gi, gj) = (bi * BLOCK + (s & 15), bj * BLOCK + (s >> 4));
                    let rows = &index.row_edges[st as usize..(st + len) as usize];
                    blk.part_masks.push(part_inside_mask(rows, far, gi, gj));
                }
                // Per slot and chain, the smallest bound; then per slot by increasing bound.
                blk.cand
                    .sort_unstable_by(|x, y| (x.0, x.1).cmp(&(y.0, y.1)).then(x.2.total_cmp(&y.2)));
                blk.cand.dedup_by(|x, y| x.0 == y.0 && x.1 == y.1);
                blk.cand.sort_unstable_by(|x, y| {
                    x.0.cmp(&y.0).then(x.2.total_cmp(&y.2)).then(x.1.cmp(&y.1))
                });
                let mut ids: SmallVec<[u32; MASK_MAX_CAND]> = SmallVec::new();
                for run in blk.cand.chunk_by(|x, y| x.0 == y.0) {
                    if !has_masks(run.len()) {
                        continue;
                    }
                    let slot = run[0].0 as i64;
                    let (gi, gj) = (bi * BLOCK + (slot & 15), bj * BLOCK + (slot >> 4));
                    let (kx, ky) = index.scales[(gj >> 4) as usize];
                    ids.clear();
                    ids.extend(run.iter().map(|x| x.1));
                    let words = sub_cell_masks(&index.chains, &ids, gi, gj, kx, ky);
                    blk.masks.push((run[0].0, words));
                }
            });
        let mut intern: HashMap<Vec<u32>, u32> = HashMap::new();
        let mut keys: Vec<(u64, usize)> = b.blocks.iter().map(|(k, v)| (*k, *v)).collect();
        keys.sort_unstable();
        let mut tile_of: HashMap<usize, usize> = HashMap::new();
        let mut uniform_block: HashMap<u32, u32> = HashMap::new();
        uniform_block.insert(0, 0);
        let mut key: Vec<u32> = Vec::new();
        for (bkey, bidx) in keys {
            let (bi, bj) = ((bkey & 0xFFFF_FFFF) as i64, (bkey >> 32) as i64);
            let blk = &mut b.data[bidx];
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
                key.push(
                    inside.len() as u32 | (parts.len() as u32) << 16 | (qpv_inside as u32) << 31,
                );
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
                if let Some(&off) = intern.get(&key) {
                    *cell_id = off;
                    continue;
                }
                let off = index.blob.len() as u32;
                index.blob.extend_from_slice(&key);
                index.ncells += 1;
                intern.insert(key.clone(), off);
                *cell_id = off;
            }
            // Place the block.
            let (ti, tj) = (bi >> 6, bj >> 6);
            let tkey = (tj * 360 + ti) as usize;
            let uniform = cell_ids.iter().all(|&c| c == cell_ids[0]);
            if uniform && cell_ids[0] == 0 {
                continue;
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
                    .or_insert_with(|| store_block(&mut index))
            } else {
                store_block(&mut index)
            };
            index.tiles[slot] = bidx;
        }
        // Padding: the batch prefetcher reads a few words past a descriptor.
        // (the header, a candidate id, or a sub-cell mask word past the last descriptor).
        index.blob.extend_from_slice(&[0; 8 + MASK_WORDS]);
        index.shrink();
        index
    }

    fn shrink(&mut self) {
        self.tiles = huge_pages(std::mem::take(&mut self.tiles));
        self.blocks = huge_pages(std::mem::take(&mut self.blocks));
        self.blob = huge_pages(std::mem::take(&mut self.blob));
        self.chains = huge_pages(std::mem::take(&mut self.chains));
        self.row_edges = huge_pages(std::mem::take(&mut self.row_edges));
        self.edges = huge_pages(std::mem::take(&mut self.edges));
    }

    // -----------------------------------------------------------------------------------
    // Queries
    // -----------------------------------------------------------------------------------

    #[inline(always)]
    fn view(&self, off: u32) -> CellView {
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
    #[inline(always)]
    fn sub_cell_mask(&self, v: &CellView, s: usize) -> u32 {
        // No branch: the width is selected from the number of candidates.
        let w = mask_width_log2(v.n_cand);
        let per_word_log2 = 5 - w;
        let word = self.blob[v.cand_at() + v.n_cand + (s >> per_word_log2)];
        let low = (s & ((1 << per_word_log2) - 1)) << w;
        word >> low & ((1u32 << (1 << w)) - 1)
    }

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
    fn cell_entries(&self, points: &[(f64, f64)], empty: u32, out: &mut [u32]) {
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
    fn cell_id(&self, lon: f64, lat: f64) -> u32 {
        self.blocks[self.cell_entry(lon, lat, 0) as usize]
    }

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

    /// [`PerimeterIndex::locate_in_cell`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn locate_in_cell_avx2(&self, off: u32, lon: f64, lat: f64) -> Location {
        self.locate_in_cell::<true>(off, lon, lat)
    }

    /// Perimeters of the cell containing the point, sorted.
    #[inline(always)]
    fn containing_in<const AVX2: bool>(
        &self,
        v: &CellView,
        lon: f64,
        lat: f64,
        out: &mut SmallVec<[PerimeterId; 3]>,
    ) {
        // Most cells have no covering perimeter: `extend_from_slice` would still call
        // `memmove` for nothing (about 80 instructions per point).
        if v.n_inside > 0 {
            out.extend_from_slice(&self.blob[v.body..v.body + v.n_inside]);
        }
        if v.n_parts > 0 {
            let parts = &self.blob[v.parts_at()..v.parts_at() + PART_WORDS * v.n_parts];
            // Every part is tested, even of a perimeter already found (a second polygon
            // of it): looking it up in `out` first would save a test only for those rare
            // duplicates, which the sort and dedup below remove.
            for p in parts.chunks_exact(PART_WORDS) {
                let (pid, st, len) = (p[0], p[1] as usize, p[2] as usize);
                if covers_with::<AVX2>(&self.row_edges[st..st + len], lon, lat) {
                    out.push(pid);
                }
            }
            if out.len() > 1 {
                out.sort_unstable();
                out.dedup();
            }
        }
    }

    /// Perimeters of the cell `v` containing the point, sorted when there are parts; true
    /// when the point is in a far sub-cell of `v` (then it is not near the boundary
    /// either, and the parts' containment was read from their masks, not tested).
    #[inline(always)]
    fn containing_at<const AVX2: bool>(
        &self,
        v: &CellView,
        lon: f64,
        lat: f64,
        out: &mut SmallVec<[PerimeterId; 3]>,
    ) -> bool {
        if v.near_words > 0 {
            let s = sub_cell::<AVX2, FAR_SUB>(lon, lat);
            if self.far_mask_of(v) >> s & 1 != 0 {
                self.containing_far(v, s, out);
                return true;
            }
        }
        self.containing_in::<AVX2>(v, lon, lat, out);
        false
    }

    /// Far mask of the cell `v`, which must have a near-boundary section.
    #[inline(always)]
    fn far_mask_of(&self, v: &CellView) -> u64 {
        let at = v.near_at();
        (self.blob[at + 1] as u64) << 32 | self.blob[at] as u64
    }

    /// [`PerimeterIndex::containing_in`] for a point in far sub-cell `s` of the cell `v`
    /// (a bit of its far mask): the parts' containment is read from their masks.
    #[inline(always)]
    fn containing_far(&self, v: &CellView, s: usize, out: &mut SmallVec<[PerimeterId; 3]>) {
        if v.n_inside > 0 {
            out.extend_from_slice(&self.blob[v.body..v.body + v.n_inside]);
        }
        let parts = &self.blob[v.parts_at()..v.parts_at() + PART_WORDS * v.n_parts];
        for p in parts.chunks_exact(PART_WORDS) {
            let inside = (p[4] as u64) << 32 | p[3] as u64;
            if inside >> s & 1 != 0 {
                out.push(p[0]);
            }
        }
        if out.len() > 1 {
            out.sort_unstable();
            out.dedup();
        }
    }

    /// Answer for a point whose cell descriptor is at `off`. `AVX2`: use the AVX2
    /// distance kernel (only from code compiled for, and run on, AVX2).
    #[inline(always)]
    fn locate_in_cell<const AVX2: bool>(&self, off: u32, lon: f64, lat: f64) -> Location {
        let mut loc = Location::default();
        let ahead = self.ahead::<AVX2>(&self.view(off), off, lon, lat);
        if let Some(job) = self.locate_start::<AVX2>(&ahead, lon, lat, 0, &mut loc) {
            let [d0, d1] = self.first_distances::<AVX2>(&job);
            loc.nearest_qpv = self.nearest_of::<AVX2>(&job, d0, d1);
        }
        loc
    }

    /// The point's [`Ahead`] in the cell `v`, whose descriptor is at `off` (passed along
    /// rather than recomputed from the view: 2 instructions per point on the hot path):
    /// the first two chains and the rest of its sub-cell mask (the cell's first
    /// candidate when it has no masks). Reads the descriptor, never a chain. No branch: a
    /// cell without masks reads a word past its descriptor (`blob`'s padding after the
    /// last one) and ignores it.
    #[inline(always)]
    fn ahead<const AVX2: bool>(&self, v: &CellView, off: u32, lon: f64, lat: f64) -> Ahead {
        let m = self.sub_cell_mask(v, sub_cell::<AVX2, SUB>(lon, lat));
        let (first, second, rest) = first_two(if has_masks(v.n_cand) { m } else { 1 });
        // An absent chain reads as chain 0, which is never computed.
        let present = 0u32.wrapping_sub((v.n_cand > 0) as u32);
        Ahead {
            off,
            c0: self.blob[v.cand_at() + first] & present,
            c1: self.blob[v.cand_at() + second] & present,
            rest,
        }
    }

    /// Everything of [`PerimeterIndex::locate_in_cell`] but the distances to the chains of
    /// a sub-cell mask: fills `loc` (which must be empty) and returns the [`NearestJob`]
    /// left to the caller, if any (`id` is carried along for it).
    ///
    /// Most points of occupied cells only need their nearest QPV (no perimeter, no
    /// boundary in the cell, at most 16 candidate chains): they take one branch,
    /// predictable for runs of such cells, to the job.
    #[inline(always)]
    fn locate_start<const AVX2: bool>(
        &self,
        ahead: &Ahead,
        lon: f64,
        lat: f64,
        id: u32,
        loc: &mut Location,
    ) -> Option<NearestJob> {
        let v = self.view(ahead.off);
        // The point's 1/64° band (`gj >> 4`): its cell is not empty, so `lat` is valid.
        let band = floor_to_i64::<AVX2>(lat * 64.0) + 90 * 64;
        let (kx, ky) = self.scales[band as usize];
        if v.n_inside | v.n_parts | v.near_words != 0 {
            let far = self.containing_at::<AVX2>(&v, lon, lat, &mut loc.containing);
            if !far && v.near_words > 0 {
                let t2 = self.options.boundary_tolerance_m * self.options.boundary_tolerance_m;
                let ids = &self.blob[v.near_ids()];
                loc.near_boundary = near_any_with::<AVX2>(&self.edges, ids, lon, lat, kx, ky, t2);
            }
            if v.qpv_inside || v.n_parts > 0 {
                if let Some(&q) = loc.containing.iter().find(|&&p| self.is_qpv[p as usize]) {
                    loc.nearest_qpv = Some((q, 0.0));
                    return None;
                }
            }
        }
        if v.n_cand == 0 {
            return None;
        }
        if v.n_cand <= MASK_MAX_CAND {
            // Only the chains that can be the nearest in the point's sub-cell, all of
            // them: no bounding-box test, whose outcome the CPU cannot predict. The mask
            // is never empty (the nearest chain is in it). Its first two chains are
            // computed without a branch (the first one twice when it is alone: 70 % of
            // the points with candidates have one or two), so that neither the loop
            // count nor the comparison of the distances is mispredicted.
            return Some(NearestJob {
                id,
                c0: ahead.c0,
                c1: ahead.c1,
                rest: ahead.rest,
                cand_at: v.cand_at() as u32,
                x: lon,
                y: lat,
                kx,
                ky,
            });
        }
        let cand = &self.blob[v.cand_at()..v.cand_at() + v.n_cand];
        let mut best = f64::INFINITY;
        let mut owner = u32::MAX;
        for &c in cand {
            let ch = &self.chains[c as usize];
            // Lower bound: distance to the chain's bounding box.
            let dx = max_no_nan(max_no_nan(ch.x0 - lon, lon - ch.x1), 0.0) * kx;
            let dy = max_no_nan(max_no_nan(ch.y0 - lat, lat - ch.y1), 0.0) * ky;
            if dx * dx + dy * dy > best {
                continue;
            }
            let d = chain_d2::<AVX2>(ch, lon, lat, kx, ky);
            if d < best {
                best = d;
                owner = ch.owner;
            }
        }
        loc.nearest_qpv = self.within_reach(owner, best);
        None
    }

    /// Squared distances from the job's point to its first two chains.
    #[inline(always)]
    fn first_distances<const AVX2: bool>(&self, job: &NearestJob) -> [f64; 2] {
        let (c0, c1) = (&self.chains[job.c0 as usize], &self.chains[job.c1 as usize]);
        [
            chain_d2::<AVX2>(c0, job.x, job.y, job.kx, job.ky),
            chain_d2::<AVX2>(c1, job.x, job.y, job.kx, job.ky),
        ]
    }

    /// Nearest QPV of a job whose first two chains are at squared distances `d0` and
    /// `d1`. Ties keep the first chain in the cell's list, as the list order says.
    #[inline(always)]
    fn nearest_of<const AVX2: bool>(
        &self,
        job: &NearestJob,
        d0: f64,
        d1: f64,
    ) -> Option<(PerimeterId, f64)> {
        let (o0, o1) = (
            self.chains[job.c0 as usize].owner,
            self.chains[job.c1 as usize].owner,
        );
        let take1 = 0u32.wrapping_sub((d1 < d0) as u32);
        let mut owner = o0 ^ ((o0 ^ o1) & take1);
        let mut best = if d1 < d0 { d1 } else { d0 };
        let mut m = job.rest;
        while m != 0 {
            let c = self.blob[job.cand_at as usize + m.trailing_zeros() as usize];
            let ch = &self.chains[c as usize];
            m &= m - 1;
            let d = chain_d2::<AVX2>(ch, job.x, job.y, job.kx, job.ky);
            let take = 0u32.wrapping_sub((d < best) as u32);
            owner = owner ^ ((owner ^ ch.owner) & take);
            best = if d < best { d } else { best };
        }
        self.within_reach(owner, best)
    }

    /// `(owner, distance)` from the smallest squared distance, when within
    /// `nearest_max_m`.
    #[inline(always)]
    fn within_reach(&self, owner: PerimeterId, best_d2: f64) -> Option<(PerimeterId, f64)> {
        let d = best_d2.sqrt();
        (d <= self.options.nearest_max_m).then_some((owner, d))
    }

    /// Locate many points in parallel (rayon). `points` are `(lon, lat)`; the result has
    /// the same order. Each thread uses [`PerimeterIndex::locate_batch`].
    pub fn locate_many(&self, points: &[(f64, f64)]) -> Vec<Location> {
        let mut out = vec![Location::default(); points.len()];
        let chunk = parallel_chunk_len(points.len());
        out.par_chunks_mut(chunk)
            .zip(points.par_chunks(chunk))
            .for_each(|(o, p)| {
                self.locate_batch(p, |i, l| o[i] = l);
            });
        out
    }

    /// Locate a slice of points on the current thread, calling `f(i, location)` once for
    /// each point `i` (in no particular order). Same answers as [`PerimeterIndex::locate`],
    /// but much faster on large inputs:
    ///
    /// - large inputs are processed in chunks of [`SORT_CHUNK`] points; in each, the
    ///   points of empty cells are found from small bitmaps that stay in the CPU caches
    ///   and answered at once, and the others are put in block order (a counting sort on
    ///   the number of their 1/64° block): the points of one neighbourhood then follow
    ///   each other, so that the parts of the index they read stay in the CPU caches;
    /// - a pipeline prefetches, for the points 32, 16 and 8 places ahead, the cell's
    ///   entry, then (once it has landed) the cell's descriptor, then the first two
    ///   chains of the point's sub-cell and the first edges of its boundary tests, while
    ///   the current point is computed;
    /// - the chain distances of the points that need them are computed four points
    ///   at a time, so that the CPU overlaps them.
    ///
    /// Each call clears one counter per stored block (about 22 kB for France): for a
    /// handful of points, [`PerimeterIndex::locate`] is cheaper.
    pub fn locate_batch(&self, points: &[(f64, f64)], mut f: impl FnMut(usize, Location)) {
        let mut order = BlockOrder::new(self.blocks.len() / 256, points.len().min(SORT_CHUNK));
        for (c, chunk) in points.chunks(SORT_CHUNK).enumerate() {
            let base = c * SORT_CHUNK;
            let (occupied, empty) = order.sort(self, chunk);
            for &i in empty {
                f(base + i as usize, Location::default());
            }
            self.locate_records(occupied, &mut |id, l| f(base + id, l));
        }
    }

    /// Locates `recs` (followed by [`PIPELINE_PAD`] records of the empty cell, which
    /// are not reported) in their order; `f` receives their `id`.
    fn locate_records(&self, recs: &[Rec], f: &mut impl FnMut(usize, Location)) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2.
                return unsafe { self.locate_records_avx2(recs, f) };
            }
        }
        self.locate_records_impl::<false>(recs, f)
    }

    /// [`PerimeterIndex::locate_records`] compiled for AVX2 (4-lane vectors for the
    /// chain distances). Same IEEE operations, hence the same results: Rust never fuses
    /// multiplications and additions on its own.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn locate_records_avx2(&self, recs: &[Rec], f: &mut impl FnMut(usize, Location)) {
        self.locate_records_impl::<true>(recs, f)
    }

    #[inline(always)]
    fn locate_records_impl<const AVX2: bool>(
        &self,
        recs: &[Rec],
        f: &mut impl FnMut(usize, Location),
    ) {
        // Pipeline distances, in points ahead of the one computed. The entry of the
        // point's cell in `blocks` is prefetched first; once it has landed, the cell
        // descriptor it points to; once that has landed, the first two chains of the
        // point's sub-cell and the first edges of its boundary tests. Points in block
        // order share their block's lines, but most of them are the only point of their
        // cell in a chunk: these are the loads that miss, and a load that misses when it
        // is used stalls the point (its work fills the CPU's reorder window). Measured on
        // the national urban set, two threads side by side: the entry prefetch 7-10 %
        // faster, distances of 16 and 8 instead of 12 and 6 about 5 % more (within the
        // noise of those runs).
        const BLOCK_ENTRY_AHEAD: usize = 32;
        const DESCRIPTOR_AHEAD: usize = 16;
        const CHAIN_AHEAD: usize = 8;
        // The [`Ahead`] of each point in flight waits in a ring.
        const RING: usize = 32;
        const _: () = assert!(CHAIN_AHEAD < DESCRIPTOR_AHEAD && DESCRIPTOR_AHEAD < RING);
        const _: () = assert!(BLOCK_ENTRY_AHEAD <= PIPELINE_PAD && RING.is_power_of_two());
        let n = recs.len() - PIPELINE_PAD;
        let mut ring = [Ahead::default(); RING];
        // Stage 1: the descriptor of point `k`.
        #[inline(always)]
        fn descriptor(index: &PerimeterIndex, recs: &[Rec], ring: &mut [Ahead; RING], k: usize) {
            let o = index.blocks[recs[k].cell as usize];
            ring[k % RING].off = o;
            // The descriptor, and the next line when it straddles.
            let blob = index.blob.as_ptr();
            prefetch(blob.wrapping_add(o as usize));
            prefetch(blob.wrapping_add(o as usize + 15));
        }
        // Stage 2: the first two chains of point `k`'s sub-cell, the first edge within
        // the tolerance of its cell and the first edges of its first part. No branch:
        // what the cell lacks reads as 0 (the first element of the array).
        #[inline(always)]
        fn chains_of<const AVX2: bool>(
            index: &PerimeterIndex,
            recs: &[Rec],
            ring: &mut [Ahead; RING],
            k: usize,
        ) {
            const CHAIN_BYTES: usize = std::mem::size_of::<Chain>();
            let (r, a) = (&recs[k], &mut ring[k % RING]);
            let v = index.view(a.off);
            *a = index.ahead::<AVX2>(&v, a.off, r.x, r.y);
            let chains = index.chains.as_ptr() as *const u8;
            for c in [a.c0, a.c1] {
                let p = chains.wrapping_add(c as usize * CHAIN_BYTES);
                prefetch(p);
                prefetch(p.wrapping_add(64));
            }
            let near =
                index.blob[v.near_ids().start] & 0u32.wrapping_sub((v.near_words > 0) as u32);
            prefetch(index.edges.as_ptr().wrapping_add(near as usize));
            let start = index.blob[v.parts_at() + 1] & 0u32.wrapping_sub((v.n_parts > 0) as u32);
            let p = index.row_edges.as_ptr().wrapping_add(start as usize) as *const u8;
            prefetch(p);
            prefetch(p.wrapping_add(64));
        }
        for k in 0..DESCRIPTOR_AHEAD {
            descriptor(self, recs, &mut ring, k);
        }
        for k in 0..CHAIN_AHEAD {
            chains_of::<AVX2>(self, recs, &mut ring, k);
        }
        let mut jobs = [NearestJob::default(); JOBS];
        // The answers of the gathered jobs so far (perimeters, boundary flag); empty
        // again once reported.
        let mut locs: [Location; JOBS] = Default::default();
        let mut pending = 0;
        for k in 0..n {
            // Stage 0: the cell's entry in `blocks`.
            let e = recs[k + BLOCK_ENTRY_AHEAD].cell as usize;
            prefetch(self.blocks.as_ptr().wrapping_add(e));
            descriptor(self, recs, &mut ring, k + DESCRIPTOR_AHEAD);
            chains_of::<AVX2>(self, recs, &mut ring, k + CHAIN_AHEAD);
            let r = &recs[k];
            let loc = &mut locs[pending];
            match self.locate_start::<AVX2>(&ring[k % RING], r.x, r.y, r.id, loc) {
                None => f(r.id as usize, std::mem::take(loc)),
                Some(job) => {
                    jobs[pending] = job;
                    pending += 1;
                    if pending == JOBS {
                        self.finish_jobs::<AVX2>(&jobs, &mut locs, f);
                        pending = 0;
                    }
                }
            }
        }
        for (j, loc) in jobs[..pending].iter().zip(&mut locs) {
            self.report_job::<AVX2>(j, self.first_distances::<AVX2>(j), loc, f);
        }
    }

    /// Completes the [`JOBS`] gathered jobs and reports them with their answers in
    /// `locs`, which are left empty. The chain distances of all the jobs are computed
    /// first: they are independent, so the CPU overlaps their loads and their
    /// long-latency divisions (measured a few per cent faster on the urban set than one
    /// point at a time).
    #[inline(always)]
    fn finish_jobs<const AVX2: bool>(
        &self,
        jobs: &[NearestJob; JOBS],
        locs: &mut [Location; JOBS],
        f: &mut impl FnMut(usize, Location),
    ) {
        let mut d = [[0f64; 2]; JOBS];
        for (dj, j) in d.iter_mut().zip(jobs) {
            *dj = self.first_distances::<AVX2>(j);
        }
        for ((&dj, j), loc) in d.iter().zip(jobs).zip(locs.iter_mut()) {
            self.report_job::<AVX2>(j, dj, loc, f);
        }
    }

    /// Reports a job whose first two chain distances are `d`, with the rest of its
    /// answer in `loc` (left empty).
    #[inline(always)]
    fn report_job<const AVX2: bool>(
        &self,
        job: &NearestJob,
        d: [f64; 2],
        loc: &mut Location,
        f: &mut impl FnMut(usize, Location),
    ) {
        let mut loc = std::mem::take(loc);
        loc.nearest_qpv = self.nearest_of::<AVX2>(job, d[0], d[1]);
        f(job.id as usize, loc);
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

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, MultiPolygon, Polygon};

    fn square(
        code: &str,
        kind: PerimeterKind,
        x0: f64,
        y0: f64,
        x1: f64,
        y1: f64,
        hole: bool,
    ) -> Perimeter {
        let ring = |a: f64, b: f64, c: f64, d: f64| {
            LineString::from(vec![(a, b), (c, b), (c, d), (a, d), (a, b)])
        };
        let holes = if hole {
            let (mx, my) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
            let (w, h) = ((x1 - x0) / 8.0, (y1 - y0) / 8.0);
            vec![ring(mx - w, my - h, mx + w, my + h)]
        } else {
            vec![]
        };
        Perimeter {
            code: code.into(),
            name: code.into(),
            kind,
            insee_communes: vec![],
            generation: None,
            geometry: MultiPolygon(vec![Polygon::new(ring(x0, y0, x1, y1), holes)]),
            properties: Default::default(),
        }
    }

    #[test]
    fn squares_holes_boundaries_and_distances() {
        let a = square("A", PerimeterKind::Qpv, 3.0, 50.0, 3.02, 50.01, true);
        let b = square(
            "B",
            PerimeterKind::AttentionPerimeter,
            3.01,
            50.005,
            3.03,
            50.02,
            false,
        );
        let c = square("C", PerimeterKind::Qpv, 3.05, 50.0, 3.06, 50.01, false);
        let idx = PerimeterIndex::build(vec![a, b, c]);
        // Inside A only, far from edges.
        let l = idx.locate(3.003, 50.002);
        assert_eq!(l.containing.as_slice(), &[0]);
        assert_eq!(l.nearest_qpv, Some((0, 0.0)));
        assert!(!l.near_boundary);
        // In the overlap of A and B.
        assert_eq!(idx.locate(3.015, 50.008).containing.as_slice(), &[0, 1]);
        // In the hole of A (hole is 3.0075..3.0125 x 50.00375..50.00625).
        let l = idx.locate(3.01, 50.005);
        assert_eq!(l.containing.as_slice(), &[1], "{l:?}"); // in B (its corner), not in A
        let l = idx.locate(3.009, 50.0045);
        assert!(l.containing.is_empty(), "{l:?}");
        let (kx, ky) = metric_scale(50.0045);
        let d = l.nearest_qpv.unwrap();
        assert_eq!(d.0, 0);
        // Nearest hole edge is the southern one, 0.00075° of latitude away.
        assert!((d.1 - 0.00075 * ky).abs() < 1e-6, "{d:?}");
        // On a vertex, on an edge, on the hole's edge: covered.
        assert_eq!(idx.locate(3.0, 50.0).containing.as_slice(), &[0]);
        assert_eq!(idx.locate(3.0, 50.004).containing.as_slice(), &[0]);
        assert_eq!(idx.locate(3.0075, 50.005).containing.as_slice(), &[0]);
        assert!(idx.locate(3.0, 50.004).near_boundary);
        // Just outside A's west edge by ~10 m and ~20 m.
        let l = idx.locate(3.0 - 10.0 / kx, 50.004);
        assert!(l.containing.is_empty() && l.near_boundary);
        assert!((l.nearest_qpv.unwrap().1 - 10.0).abs() < 1e-6);
        let l = idx.locate(3.0 - 20.0 / kx, 50.004);
        assert!(!l.near_boundary);
        // Between A/B and C: nearest is C at 0.005° of longitude (≈ 358 m).
        let l = idx.locate(3.045, 50.001);
        assert!(l.containing.is_empty());
        let (kx, _) = metric_scale(50.001);
        assert!(
            l.nearest_qpv.unwrap().0 == 2 && (l.nearest_qpv.unwrap().1 - 0.005 * kx).abs() < 1e-6
        );
        // 0.01° (≈ 716 m) from C and farther from A: beyond the 500 m limit.
        assert_eq!(idx.locate(3.04, 50.001).nearest_qpv, None);
        // Far away and invalid.
        assert_eq!(idx.locate(2.0, 48.0), Location::default());
        assert_eq!(idx.locate(f64::NAN, 48.0), Location::default());
        assert_eq!(idx.locate(500.0, 48.0), Location::default());
        let many = idx.locate_many(&[(3.003, 50.002), (2.0, 48.0)]);
        assert_eq!(many.len(), 2);
        assert_eq!(many[0].containing.as_slice(), &[0]);
        // Batch path on valid, invalid and out-of-range points, over several groups.
        let mut pts = vec![
            (f64::NAN, 48.0),
            (500.0, 48.0),
            (3.0, f64::INFINITY),
            (-200.0, -95.0),
        ];
        for i in 0..300 {
            let t = i as f64 / 300.0;
            pts.push((
                2.99 + 0.08 * t,
                49.995 + 0.03 * ((i * 7) % 300) as f64 / 300.0,
            ));
        }
        let many = idx.locate_many(&pts);
        for (p, l) in pts.iter().zip(&many) {
            assert_eq!(l, &idx.locate(p.0, p.1), "{p:?}");
        }
        assert_eq!(many[0], Location::default());
        assert_eq!(many[1], Location::default());
        assert_eq!(idx.containing(3.015, 50.008).as_slice(), &[0, 1]);
        assert!(idx.memory_bytes() > 0);
    }

    #[test]
    fn large_batches_report_every_point_once_with_the_point_answer() {
        // `locate_batch` answers far points at once and puts the others in block order:
        // every position must still come back exactly once,
        // with the answer of `locate`.
        let a = square("A", PerimeterKind::Qpv, 3.0, 50.0, 3.02, 50.01, true);
        let c = square("C", PerimeterKind::Qpv, 3.05, 50.0, 3.06, 50.01, false);
        let idx = PerimeterIndex::build(vec![a, c]);
        let mut r = crate::bench::SplitMix64::new(9);
        let mut pts: Vec<(f64, f64)> = (0..12_288)
            .map(|_| (r.range(2.98, 3.08), r.range(49.99, 50.02)))
            .collect();
        // Far away, invalid, out of range, and repeated points among them.
        for k in 0..200 {
            let p = match k % 5 {
                0 => (f64::NAN, 50.0),
                1 => (3.01, f64::INFINITY),
                2 => (400.0, 50.0),
                3 => (-4.0, 43.0),
                _ => pts[k],
            };
            pts.insert(k * 37, p);
        }
        let mut seen = vec![0u32; pts.len()];
        idx.locate_batch(&pts, |i, l| {
            seen[i] += 1;
            assert_eq!(l, idx.locate(pts[i].0, pts[i].1), "{:?}", pts[i]);
        });
        assert!(seen.iter().all(|&n| n == 1));
        assert_eq!(
            idx.locate_many(&pts),
            pts.iter().map(|p| idx.locate(p.0, p.1)).collect::<Vec<_>>()
        );
    }

    /// A closed saw-tooth ring: 60 teeth of 0.0005° (≈ 36 m) of uneven heights on the
    /// northern side of a 0.03° × 0.002° rectangle near Lille.
    fn saw_tooth_ring() -> Vec<(f64, f64)> {
        let mut ring = vec![(3.0, 50.0), (3.03, 50.0)];
        for k in (0..60).rev() {
            let x = 3.0 + k as f64 * 0.0005;
            ring.push((x + 0.0005, 50.002));
            ring.push((x + 0.00025, 50.0024 + 0.0001 * (k % 3) as f64));
        }
        ring.push((3.0, 50.002));
        ring.push((3.0, 50.0));
        ring
    }

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

    /// Far sub-cells of boundary cells: every point of their closed rectangle is farther
    /// than the tolerance from every edge and has the containment their part masks say,
    /// and `locate` and `containing` (which read those masks there) answer as the exact
    /// tests do.
    #[test]
    fn far_sub_cells_hold_no_point_near_the_boundary() {
        let ring = |pts: &[(f64, f64)]| LineString::from(pts.to_vec());
        // A saw-tooth QPV and a perimeter with a hole across it.
        let teeth = saw_tooth_ring();
        let perimeter = |code: &str, kind, poly: Polygon| Perimeter {
            code: code.into(),
            name: code.into(),
            kind,
            insee_communes: vec![],
            generation: None,
            geometry: MultiPolygon(vec![poly]),
            properties: Default::default(),
        };
        let a = perimeter("A", PerimeterKind::Qpv, Polygon::new(ring(&teeth), vec![]));
        let b = perimeter(
            "B",
            PerimeterKind::AttentionPerimeter,
            Polygon::new(
                ring(&[
                    (3.01, 49.999),
                    (3.02, 49.999),
                    (3.02, 50.004),
                    (3.01, 50.004),
                    (3.01, 49.999),
                ]),
                vec![ring(&[
                    (3.013, 50.0005),
                    (3.016, 50.0005),
                    (3.016, 50.0015),
                    (3.013, 50.0005),
                ])],
            ),
        );
        let edges_of = |p: &Perimeter| -> Vec<Edge> {
            let poly = &p.geometry.0[0];
            std::iter::once(poly.exterior())
                .chain(poly.interiors())
                .flat_map(|r| {
                    r.0.windows(2)
                        .map(|w| Edge {
                            ax: w[0].x,
                            ay: w[0].y,
                            bx: w[1].x,
                            by: w[1].y,
                        })
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        let polygons = [edges_of(&a), edges_of(&b)];
        let idx = PerimeterIndex::build(vec![a, b]);
        let t = idx.options.boundary_tolerance_m;
        let exact = |x: f64, y: f64| -> (Vec<u32>, bool) {
            let (kx, ky) = idx.scales[(gj_of(y) >> 4) as usize];
            let inside = (0..2u32)
                .filter(|&p| covers(&polygons[p as usize], x, y))
                .collect();
            let near = polygons
                .iter()
                .flatten()
                .any(|e| edge_d2(e, x, y, kx, ky) <= t * t);
            (inside, near)
        };
        let mut rng = crate::bench::SplitMix64::new(5);
        let mut seen = std::collections::HashSet::new();
        let (mut far_sub_cells, mut other_sub_cells) = (0, 0);
        for _ in 0..20_000 {
            let (x, y) = (rng.range(2.999, 3.031), rng.range(49.998, 50.006));
            let (gi, gj) = (gi_of(x), gj_of(y));
            if !seen.insert((gi, gj)) {
                continue;
            }
            let v = idx.view(idx.cell_id(x, y));
            if v.near_words == 0 {
                continue;
            }
            let far = idx.far_mask_of(&v);
            other_sub_cells += far.count_zeros();
            let parts = &idx.blob[v.parts_at()..v.parts_at() + PART_WORDS * v.n_parts];
            let (x0, y0, x1, y1) = cell_rect(gi, gj);
            let (w, h) = ((x1 - x0) / FAR_SUB_F, (y1 - y0) / FAR_SUB_F);
            for s in (0..64u32).filter(|&s| far >> s & 1 == 1) {
                far_sub_cells += 1;
                let (sx, sy) = ((s as i64 % FAR_SUB) as f64, (s as i64 / FAR_SUB) as f64);
                let (rx, ry) = (x0 + sx * w, y0 + sy * h);
                let mut stored: Vec<u32> = idx.blob[v.body..v.body + v.n_inside].to_vec();
                for p in parts.chunks_exact(PART_WORDS) {
                    if ((p[4] as u64) << 32 | p[3] as u64) >> s & 1 == 1 {
                        stored.push(p[0]);
                    }
                }
                stored.sort_unstable();
                stored.dedup();
                // The closed rectangle, corners included.
                for (fx, fy) in [
                    (0.0, 0.0),
                    (1.0, 0.0),
                    (0.0, 1.0),
                    (1.0, 1.0),
                    (0.5, 0.5),
                    (0.0, 0.5),
                    (1.0, 0.3),
                ] {
                    let (px, py) = (rx + fx * w, ry + fy * h);
                    let (inside, near) = exact(px, py);
                    assert!(!near, "({px}, {py}) near an edge in far sub-cell {s}");
                    assert_eq!(inside, stored, "({px}, {py}) in far sub-cell {s}");
                }
                // Points of the sub-cell, answered from the masks.
                for _ in 0..4 {
                    let (px, py) = (rx + rng.range(0.0, w), ry + rng.range(0.0, h));
                    let l = idx.locate(px, py);
                    assert_eq!(l.containing.as_slice(), stored.as_slice(), "({px}, {py})");
                    assert!(!l.near_boundary, "({px}, {py})");
                    assert_eq!(idx.containing(px, py).as_slice(), stored.as_slice());
                }
            }
        }
        assert!(
            far_sub_cells > 3_000 && other_sub_cells > 2_000,
            "{far_sub_cells} far, {other_sub_cells} other sub-cells"
        );
    }

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

    #[test]
    fn batches_over_several_chunks_report_each_position_once() {
        // Positions of the second chunk are offset by SORT_CHUNK.
        let a = square("A", PerimeterKind::Qpv, 3.0, 50.0, 3.02, 50.01, false);
        let idx = PerimeterIndex::build(vec![a]);
        let mut r = crate::bench::SplitMix64::new(5);
        let pts: Vec<(f64, f64)> = (0..SORT_CHUNK + 3_000)
            .map(|_| (r.range(2.99, 3.03), r.range(49.995, 50.015)))
            .collect();
        let mut seen = vec![0u8; pts.len()];
        idx.locate_batch(&pts, |i, l| {
            seen[i] += 1;
            if i % 97 == 0 || i >= SORT_CHUNK {
                assert_eq!(l, idx.locate(pts[i].0, pts[i].1), "{:?}", pts[i]);
            }
        });
        assert!(seen.iter().all(|&n| n == 1));
    }

    #[test]
    fn metric_scale_is_grs80() {
        // 1° of latitude at 50°N ≈ 111,229 m; 1° of longitude ≈ 71,696 m.
        let (kx, ky) = metric_scale(50.0);
        assert!((ky - 111_229.0).abs() < 15.0, "{ky}");
        assert!((kx - 71_696.0).abs() < 60.0, "{kx}");
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
