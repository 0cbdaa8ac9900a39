//! The grid: power-of-two leaf cells of 1/1024°, grouped in 16×16 blocks and 1° tiles;
//! from coordinates to cell, sub-cell and storage address, and the metres per degree of
//! each 1/64° latitude band.

/// Leaf cells per degree (power of two: exact cell assignment).
const LEAF_PER_DEG: i64 = 1024;
pub(super) const LEAF_PER_DEG_F: f64 = 1024.0;
/// Leaf cells per block side.
pub(super) const BLOCK: i64 = 16;
/// Blocks per tile side (a tile is one degree).
const TILE: i64 = 64;
pub(super) const GI_OFFSET: i64 = 180 * LEAF_PER_DEG;
pub(super) const GJ_OFFSET: i64 = 90 * LEAF_PER_DEG;
pub(super) const GI_MAX: i64 = 360 * LEAF_PER_DEG;
pub(super) const GJ_MAX: i64 = 180 * LEAF_PER_DEG;
/// Number of latitude bands (one per block row, 1/64°).
pub(super) const BANDS: usize = (180 * 64) as usize;

/// Metres per degree of longitude and of latitude at the centre of latitude band `band`
/// (1/64° bands numbered from the equator): GRS80 `N cos φ` and `M`.
pub(super) fn band_scale(band: i64) -> (f64, f64) {
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

/// Slot of cell `(gi, gj)` in its 16×16 block (row-major, 0..256).
#[inline]
pub(super) fn cell_slot(gi: i64, gj: i64) -> u8 {
    (((gj & 15) << 4) | (gi & 15)) as u8
}

/// Cell rectangle in degrees.
#[inline]
pub(super) fn cell_rect(gi: i64, gj: i64) -> (f64, f64, f64, f64) {
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
pub(super) fn floor_to_i64<const AVX2: bool>(v: f64) -> i64 {
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
/// Grid column of a longitude.
#[inline(always)]
pub(super) fn gi_of(lon: f64) -> i64 {
    ifloor(lon * LEAF_PER_DEG_F) + GI_OFFSET
}
/// Grid row of a latitude.
#[inline(always)]
pub(super) fn gj_of(lat: f64) -> i64 {
    ifloor(lat * LEAF_PER_DEG_F) + GJ_OFFSET
}

/// Where cell `(gi, gj)` of the grid is stored: its 1° tile in `top`, its block in the
/// tile (0..4096), and its slot in the block (0..256).
#[inline(always)]
pub(super) fn grid_address(gi: i64, gj: i64) -> (usize, usize, usize) {
    let tile = ((gj >> 10) * 360 + (gi >> 10)) as usize;
    let block = (((gj >> 4) & (TILE - 1)) << 6 | ((gi >> 4) & (TILE - 1))) as usize;
    let slot = ((gj & (BLOCK - 1)) << 4 | (gi & (BLOCK - 1))) as usize;
    (tile, block, slot)
}

/// Smallest metres-per-degree of longitude over a latitude range (conservative
/// conversion of metres to degrees).
pub(super) fn min_kx(lat0: f64, lat1: f64) -> f64 {
    let worst = if lat0.abs() > lat1.abs() { lat0 } else { lat1 };
    let worst = worst.clamp(-89.9, 89.9);
    let b = (worst * 64.0).floor() as i64;
    let k1 = band_scale(b).0;
    let k2 = band_scale(b + if worst >= 0.0 { 1 } else { -1 }).0;
    k1.min(k2) * 0.999
}

/// Sub-cell of a valid point in its leaf cell divided into `N × N` (`N` a power of two:
/// [`SUB`] for the nearest-chain masks, [`FAR_SUB`] for the far masks), `0..N * N`,
/// row-major from the south-west corner. `lon * 1024 * N` is exact (a power of two), so
/// the sub-cell's closed rectangle, computed at build time, contains the point.
///
/// [`SUB`]: super::nearest_masks::SUB
/// [`FAR_SUB`]: super::far_masks::FAR_SUB
#[inline(always)]
pub(super) fn sub_cell<const AVX2: bool, const N: i64>(lon: f64, lat: f64) -> usize {
    let scale = LEAF_PER_DEG_F * N as f64;
    let sx = floor_to_i64::<AVX2>(lon * scale) & (N - 1);
    let sy = floor_to_i64::<AVX2>(lat * scale) & (N - 1);
    (sy * N + sx) as usize
}
