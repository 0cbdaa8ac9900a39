//! Stage 2 of the build: the candidate chains of the nearest QPV of each cell, those
//! whose distance to the cell can be the nearest one within the reach.

use super::blocks::Builder;
use super::Input;
use crate::index::chain::Chain;
use crate::index::geometry::seg_rect_d2;
use crate::index::grid::{
    cell_rect, gi_of, gj_of, min_kx, GI_MAX, GI_OFFSET, GJ_MAX, LEAF_PER_DEG_F,
};
use std::ops::Range;

impl Builder {
    /// Pass A: upper bound U of the nearest distance over each cell within the reach of
    /// a QPV vertex (`ry`: the reach in degrees of latitude), from the QPV vertices.
    pub(super) fn bound_nearest_distances(&mut self, input: &Input, ry: f64) {
        let (edges, is_qpv, rmax) = (input.edges, input.is_qpv, input.rmax);
        for u in input.units.iter().filter(|u| is_qpv[u.perimeter as usize]) {
            for eid in u.edges.clone() {
                let e = edges[eid as usize];
                let (vx, vy) = (e.ax, e.ay);
                let rx = rmax / min_kx(vy - ry, vy + ry) + 1e-9;
                let ci0 = gi_of(vx - rx).max(0);
                let ci1 = gi_of(vx + rx).min(GI_MAX - 1);
                let cj0 = gj_of(vy - ry).max(0);
                let cj1 = gj_of(vy + ry).min(GJ_MAX - 1);
                for gj in cj0..=cj1 {
                    let (kx, ky) = input.scale_of_gj(gj);
                    let (_, y0, _, y1) = cell_rect(0, gj);
                    let dy = ((y0 - vy).abs().max((y1 - vy).abs())) * ky;
                    let dy2 = dy * dy;
                    for bi in (ci0 >> 4)..=(ci1 >> 4) {
                        let bidx = self.block_index(bi, gj >> 4);
                        let blk = &mut self.data[bidx];
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
    }

    /// Pass B: the chains of the QPV polygons kept as candidates of the cells whose bound
    /// they do not exceed (see [`Builder::add_chain_candidates`]).
    pub(super) fn add_nearest_candidates(
        &mut self,
        input: &Input,
        chains: &[Chain],
        unit_chains: &[Range<u32>],
        ry: f64,
    ) {
        let is_qpv = input.is_qpv;
        for (ui, u) in input.units.iter().enumerate() {
            if !is_qpv[u.perimeter as usize] {
                continue;
            }
            for cid in unit_chains[ui].clone() {
                self.add_chain_candidates(input, chains, cid, ry);
            }
        }
    }

    /// Chain `cid` as a candidate of each cell (with a block already) whose distance to it
    /// does not exceed min(U, rmax), with that distance.
    fn add_chain_candidates(&mut self, input: &Input, chains: &[Chain], cid: u32, ry: f64) {
        let (edges, rmax) = (input.edges, input.rmax);
        let ch = chains[cid as usize];
        let cedges = &edges[ch.start as usize..(ch.start + ch.len) as usize];
        let (ex0, ex1, ey0, ey1) = (ch.x0, ch.x1, ch.y0, ch.y1);
        let rx = rmax / min_kx(ey0 - ry, ey1 + ry) + 1e-9;
        let ci0 = gi_of(ex0 - rx).max(0);
        let ci1 = gi_of(ex1 + rx).min(GI_MAX - 1);
        let cj0 = gj_of(ey0 - ry).max(0);
        let cj1 = gj_of(ey1 + ry).min(GJ_MAX - 1);
        for gj in cj0..=cj1 {
            let (kx, ky) = input.scale_of_gj(gj);
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
                let Some(bidx) = self.existing(bi, gj >> 4) else {
                    continue;
                };
                let blk = &mut self.data[bidx];
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
                        let (ax, ay, bx, by) = (e.ax * kx, e.ay * ky, e.bx * kx, e.by * ky);
                        let gx = (ax.min(bx) - mx1).max(mx0 - ax.max(bx)).max(0.0);
                        let gy = (ay.min(by) - my1).max(my0 - ay.max(by)).max(0.0);
                        if gx * gx + gy * gy > lim.min(dmin) {
                            continue;
                        }
                        dmin = dmin.min(seg_rect_d2(ax, ay, bx, by, mx0, my0, mx1, my1));
                    }
                    if dmin <= lim {
                        blk.cand.push((slot as u8, cid, dmin as f32));
                    }
                }
            }
        }
    }
}
