//! Location of many points: chunks put in block order, the points of empty cells answered
//! at once, and the others computed through a prefetching pipeline.

use super::block_order::{BlockOrder, Rec};
use super::chain::Chain;
use super::locate::{Ahead, NearestJob};
use super::memory::prefetch;
use super::{Location, PerimeterIndex};
use rayon::prelude::*;

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

/// Jobs gathered by the batches before their chain distances are computed together.
const JOBS: usize = 4;

/// Records after the last point of a sorted chunk, in the empty cell: the batch pipeline
/// looks that far ahead without a bounds test.
pub(super) const PIPELINE_PAD: usize = 32;

impl PerimeterIndex {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::test_shapes::square;
    use crate::perimeter::PerimeterKind;

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
}
