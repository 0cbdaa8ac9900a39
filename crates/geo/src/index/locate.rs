//! Location of one point in its (non-empty) cell: containment from the descriptor's
//! perimeters, parts and far masks, the near-boundary test, and the nearest QPV from the
//! candidate chains of the point's sub-cell.

use super::cell_view::{CellView, PART_WORDS};
use super::chain::{chain_d2, max_no_nan};
use super::covers::covers_with;
use super::far_masks::FAR_SUB;
use super::geometry::near_any_with;
use super::grid::{floor_to_i64, sub_cell};
use super::nearest_masks::{first_two, has_masks, MASK_MAX_CAND, SUB};
use super::{Location, PerimeterId, PerimeterIndex};
use smallvec::SmallVec;

/// What the batch pipeline learns of a point a few places before its turn (and what the
/// single-point path computes first): its cell descriptor, and the chains of its
/// sub-cell mask that are computed without a branch.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Ahead {
    /// Offset of the cell descriptor in `blob`.
    pub(super) off: u32,
    /// The sub-cell's first two chains (its one chain twice when it has one; chain 0
    /// when the cell has no candidates, never read then).
    pub(super) c0: u32,
    pub(super) c1: u32,
    /// The sub-cell's other chains, as bits of the cell's candidate list.
    rest: u32,
}

/// A point whose nearest QPV is to be computed from the chains of its sub-cell mask:
/// what [`PerimeterIndex::locate_start`] leaves to its caller, the rest of the answer
/// being already known.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct NearestJob {
    /// Position of the point in its batch.
    pub(super) id: u32,
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

impl PerimeterIndex {
    /// [`PerimeterIndex::locate_in_cell`] compiled for AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn locate_in_cell_avx2(&self, off: u32, lon: f64, lat: f64) -> Location {
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
    pub(super) fn containing_at<const AVX2: bool>(
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
    pub(super) fn locate_in_cell<const AVX2: bool>(
        &self,
        off: u32,
        lon: f64,
        lat: f64,
    ) -> Location {
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
    pub(super) fn ahead<const AVX2: bool>(
        &self,
        v: &CellView,
        off: u32,
        lon: f64,
        lat: f64,
    ) -> Ahead {
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
    pub(super) fn locate_start<const AVX2: bool>(
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
    pub(super) fn first_distances<const AVX2: bool>(&self, job: &NearestJob) -> [f64; 2] {
        let (c0, c1) = (&self.chains[job.c0 as usize], &self.chains[job.c1 as usize]);
        [
            chain_d2::<AVX2>(c0, job.x, job.y, job.kx, job.ky),
            chain_d2::<AVX2>(c1, job.x, job.y, job.kx, job.ky),
        ]
    }

    /// Nearest QPV of a job whose first two chains are at squared distances `d0` and
    /// `d1`. Ties keep the first chain in the cell's list, as the list order says.
    #[inline(always)]
    pub(super) fn nearest_of<const AVX2: bool>(
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
}
