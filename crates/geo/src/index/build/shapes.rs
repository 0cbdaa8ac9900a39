//! The perimeters' geometry as the build reads it: their edges, polygon by polygon, and
//! the chains of the QPV polygons.

use crate::index::chain::{Chain, CHAIN, CHAIN_LANES};
use crate::index::geometry::Edge;
use crate::index::PerimeterId;
use crate::perimeter::Perimeter;
use std::ops::Range;

/// One polygon of a perimeter (with its holes): its edges in the build's edge list, and
/// its bounding box.
pub(super) struct Unit {
    pub(super) perimeter: PerimeterId,
    pub(super) edges: Range<u32>,
    pub(super) bbox: (f64, f64, f64, f64),
}

/// Edges and units (one unit per polygon): the edges of every ring of every polygon, in
/// order, without those with a non-finite end, each unclosed ring closed implicitly; a
/// polygon without edges has no unit.
pub(super) fn polygon_edges(perimeters: &[Perimeter]) -> (Vec<Edge>, Vec<Unit>) {
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
                    if !(a.x.is_finite() && a.y.is_finite() && b.x.is_finite() && b.y.is_finite()) {
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
    (edges, units)
}

/// Chains of up to CHAIN consecutive edges of each QPV polygon, and the range of each
/// unit's chains (empty for the polygons of other perimeters).
pub(super) fn qpv_chains(
    edges: &[Edge],
    units: &[Unit],
    is_qpv: &[bool],
) -> (Vec<Chain>, Vec<Range<u32>>) {
    let mut chains: Vec<Chain> = Vec::new();
    let mut unit_chains: Vec<Range<u32>> = Vec::with_capacity(units.len());
    for u in units {
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
    (chains, unit_chains)
}
