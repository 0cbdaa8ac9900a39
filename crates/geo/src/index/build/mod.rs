//! Build of the index, stage by stage: the perimeters' edges and QPV chains; per cell, the
//! perimeters that cover it, the polygon parts that cross it and the edges near it; the
//! candidate chains of the nearest QPV; then, per block, the far and sub-cell masks and
//! the cell descriptors, interned and laid out on the grid.

mod blocks;
mod containment;
mod layout;
mod nearest;
mod shapes;

use super::geometry::Edge;
use super::grid::{band_scale, BANDS};
use super::memory::huge_pages;
use super::nearest_masks::MASK_WORDS;
use super::{IndexOptions, PerimeterIndex};
use crate::perimeter::{Perimeter, PerimeterKind};
use blocks::Builder;
use shapes::{polygon_edges, qpv_chains, Unit};

/// What the stages of the build read: the perimeters' edges and polygons, which
/// perimeters are QPVs, the metric scale of each latitude band, and the options' tolerance
/// and nearest-QPV reach (never negative).
struct Input<'a> {
    edges: &'a [Edge],
    units: &'a [Unit],
    is_qpv: &'a [bool],
    scales: &'a [(f64, f64)],
    tol: f64,
    rmax: f64,
}

impl Input<'_> {
    /// Metric scale of the cells of grid row `gj` (their latitude band's).
    fn scale_of_gj(&self, gj: i64) -> (f64, f64) {
        self.scales[((gj >> 4) as usize).min(BANDS - 1)]
    }
}

/// The first edge of each perimeter in the edge list, then the number of edges (see
/// `PerimeterIndex::first_edge`). A perimeter without edges starts where the next one does,
/// so that the binary search gives an edge to the perimeter that has it.
fn first_edges(perimeters: usize, units: &[Unit]) -> Vec<u32> {
    let mut first = vec![0u32; perimeters + 1];
    for u in units {
        first[u.perimeter as usize + 1] = u.edges.end;
    }
    for i in 1..first.len() {
        first[i] = first[i].max(first[i - 1]);
    }
    first
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

        let (edges, units) = polygon_edges(&perimeters);
        let (chains, unit_chains) = qpv_chains(&edges, &units, &is_qpv);

        let mut b = Builder::new();
        let mut edge_lists: Vec<u32> = Vec::new();
        let input = Input {
            edges: &edges,
            units: &units,
            is_qpv: &is_qpv,
            scales: &scales,
            tol,
            rmax,
        };

        // 1. Containment and near-boundary lists, polygon by polygon.
        for u in &units {
            b.add_polygon(&input, u, &mut edge_lists);
        }

        // 2. Nearest-QPV candidates.
        //    Pass A: upper bound U of the nearest distance over each cell, from the QPV
        //    vertices: U = min over vertices v of the distance from v to the farthest
        //    corner of the cell (the distance to a vertex bounds the distance to its edges).
        //    Pass B: keep the edges whose distance to the cell does not exceed min(U, rmax).
        if rmax > 0.0 {
            let ry = rmax / 110_000.0 + 1e-9;
            b.bound_nearest_distances(&input, ry);
            b.add_nearest_candidates(&input, &chains, &unit_chains, ry);
        }

        // 3. Intern cell descriptors and lay out the grid.
        let first_edge = first_edges(perimeters.len(), &units);
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
            first_edge,
            edges,
            scales,
        };
        b.finish_blocks(&index, tol);
        b.lay_out(&mut index);
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
}
