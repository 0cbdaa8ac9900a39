//! Stage 1 of the build, polygon by polygon: the cells the polygon covers whole, the
//! cells its boundary crosses (with the prefix of their row's edge list that their exact
//! test reads), and the edges within the tolerance of each cell.

use super::blocks::Builder;
use super::{Input, Unit};
use crate::index::geometry::seg_hits_rect;
use crate::index::grid::{cell_rect, cell_slot, gi_of, gj_of, min_kx, GI_MAX, GJ_MAX};

/// The cells a polygon can reach: its bounding box grown by the tolerance, which of those
/// cells are within the tolerance of an edge, and the edges that cross each row.
struct PolygonCells {
    gi0: i64,
    gi1: i64,
    gj0: i64,
    gj1: i64,
    /// The tolerance in degrees of longitude (at the box's worst latitude) and of latitude.
    tol_x: f64,
    tol_y: f64,
    ncols: usize,
    nrows: usize,
    /// Cells within the tolerance of an edge (boundary cells), row by row.
    boundary: Vec<bool>,
    /// Edges crossing each row (ids in `edges`), for the ray-casting lists.
    rows: Vec<Vec<u32>>,
}

impl PolygonCells {
    /// The cells polygon `u` can reach within the tolerance `tol` (metres), none marked
    /// yet; `None` when the polygon lies outside the grid.
    fn new(u: &Unit, tol: f64) -> Option<Self> {
        let (bx0, by0, bx1, by1) = u.bbox;
        // 110,000 m is below the metres per degree of latitude anywhere (110,574 at the equator).
        let tol_y = tol / 110_000.0 + 1e-9;
        let tol_x = tol / min_kx(by0 - tol_y, by1 + tol_y) + 1e-9;
        let gi0 = gi_of(bx0 - tol_x).max(0);
        let gi1 = gi_of(bx1 + tol_x).min(GI_MAX - 1);
        let gj0 = gj_of(by0 - tol_y).max(0);
        let gj1 = gj_of(by1 + tol_y).min(GJ_MAX - 1);
        if gi0 > gi1 || gj0 > gj1 {
            return None;
        }
        let ncols = (gi1 - gi0 + 1) as usize;
        let nrows = (gj1 - gj0 + 1) as usize;
        let boundary = vec![false; ncols * nrows];
        let rows: Vec<Vec<u32>> = vec![Vec::new(); nrows];
        Some(PolygonCells {
            gi0,
            gi1,
            gj0,
            gj1,
            tol_x,
            tol_y,
            ncols,
            nrows,
            boundary,
            rows,
        })
    }
}

impl Builder {
    /// Containment and near-boundary lists of polygon `u`; the edge lists of its rows are
    /// appended to `edge_lists` (the future `row_edges`).
    pub(super) fn add_polygon(&mut self, input: &Input, u: &Unit, edge_lists: &mut Vec<u32>) {
        let Some(mut cells) = PolygonCells::new(u, input.tol) else {
            return;
        };
        self.add_edges(input, u, &mut cells);
        self.add_rows(input, u, &mut cells, edge_lists);
    }

    /// The edges of polygon `u`: the rows each one crosses, and the cells within the
    /// tolerance of each one (boundary cells, near lists).
    fn add_edges(&mut self, input: &Input, u: &Unit, cells: &mut PolygonCells) {
        let (edges, tol) = (input.edges, input.tol);
        let PolygonCells {
            gi0,
            gi1,
            gj0,
            gj1,
            tol_x,
            tol_y,
            ncols,
            nrows,
            ..
        } = *cells;
        let (boundary, rows) = (&mut cells.boundary, &mut cells.rows);
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
                let (kx, ky) = input.scale_of_gj(gj);
                let (tx, ty) = (tol / kx * 1.000_001 + 1e-12, tol / ky * 1.000_001 + 1e-12);
                for gi in ci0..=ci1 {
                    let (x0, y0, x1, y1) = cell_rect(gi, gj);
                    if seg_hits_rect(e.ax, e.ay, e.bx, e.by, x0 - tx, y0 - ty, x1 + tx, y1 + ty) {
                        let k = (gj - gj0) as usize * ncols + (gi - gi0) as usize;
                        boundary[k] = true;
                        self.block(gi >> 4, gj >> 4)
                            .near
                            .push((cell_slot(gi, gj), eid));
                    }
                }
            }
        }
    }

    /// Each row of polygon `u`'s cells: its edge list, appended to `edge_lists`; a part
    /// in each of its boundary cells; the polygon in each other cell whose centre it
    /// covers (a scanline at the row's centre).
    fn add_rows(
        &mut self,
        input: &Input,
        u: &Unit,
        cells: &mut PolygonCells,
        edge_lists: &mut Vec<u32>,
    ) {
        let (edges, is_qpv) = (input.edges, input.is_qpv);
        let PolygonCells {
            gi0, gj0, ncols, ..
        } = *cells;
        let (boundary, rows) = (&cells.boundary, &mut cells.rows);
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
                        self.block(gi >> 4, gj >> 4).parts.push((
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
                    let blk = self.block(gi >> 4, gj >> 4);
                    let slot = cell_slot(gi, gj);
                    blk.inside.push((slot, u.perimeter));
                    if qpv {
                        blk.qpv_inside[slot as usize] = true;
                    }
                }
            }
        }
    }
}
