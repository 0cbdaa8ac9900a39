//! Distance to the boundaries of the current QPV only.
//!
//! The index's `near_boundary` counts the edges of every perimeter it holds: QPV of an
//! older generation, attention perimeters, renewal sites... A point well inside a current
//! QPV but a few metres from a 2015 boundary or an attention perimeter must still be
//! answered « dans un QPV », not « à vérifier ». When the registry holds such other
//! perimeters, the snapshot keeps the edges of the current QPV apart and checks the
//! points the index flags against them alone. A registry of current QPV only (a fresh
//! platform, the benchmark) has nothing to check: the index's flag is already the answer.

use quartiers_geo::index::metric_scale;
use quartiers_geo::Perimeter;

/// One current QPV's bounding box and edges, in degrees.
#[derive(Debug)]
struct QpvEdges {
    bbox: (f64, f64, f64, f64),
    edges: Vec<[f64; 4]>,
}

/// The edges of the current QPV, for the points near some boundary.
#[derive(Debug)]
pub struct CurrentQpvBoundaries {
    qpv: Vec<QpvEdges>,
}

impl CurrentQpvBoundaries {
    /// Keeps the edges of `current` (the current QPV among the snapshot's perimeters).
    pub fn new<'a>(current: impl Iterator<Item = &'a Perimeter>) -> Self {
        let qpv = current
            .filter_map(|p| {
                let bbox = p.bbox()?;
                let mut edges = Vec::new();
                for polygon in &p.geometry.0 {
                    for ring in std::iter::once(polygon.exterior()).chain(polygon.interiors()) {
                        edges.extend(ring.0.windows(2).map(|w| [w[0].x, w[0].y, w[1].x, w[1].y]));
                    }
                }
                Some(QpvEdges { bbox, edges })
            })
            .collect();
        CurrentQpvBoundaries { qpv }
    }

    /// Whether an edge of a current QPV is within `tolerance_m` metres of the point, in the
    /// index's local equirectangular frame ([`metric_scale`]).
    pub fn near(&self, lon: f64, lat: f64, tolerance_m: f64) -> bool {
        let (kx, ky) = metric_scale(lat);
        let (dx, dy) = (tolerance_m / kx, tolerance_m / ky);
        let t2 = tolerance_m * tolerance_m;
        self.qpv
            .iter()
            .filter(|q| {
                let (x0, y0, x1, y1) = q.bbox;
                lon >= x0 - dx && lon <= x1 + dx && lat >= y0 - dy && lat <= y1 + dy
            })
            .any(|q| {
                q.edges.iter().any(|&[ax, ay, bx, by]| {
                    segment_distance2(
                        (lon - ax) * kx,
                        (lat - ay) * ky,
                        (bx - ax) * kx,
                        (by - ay) * ky,
                    ) <= t2
                })
            })
    }
}

/// Squared distance from point `p` to the segment from the origin to `b` (hand-written:
/// geo's distances work in degrees, and this must use the index's metric frame).
fn segment_distance2(px: f64, py: f64, bx: f64, by: f64) -> f64 {
    let len2 = bx * bx + by * by;
    let t = if len2 > 0.0 {
        ((px * bx + py * by) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (ex, ey) = (px - t * bx, py - t * by);
    ex * ex + ey * ey
}

#[cfg(test)]
mod tests {
    use super::*;
    use quartiers_geo::PerimeterKind;

    fn square(x0: f64, y0: f64, side: f64) -> Perimeter {
        let ring = vec![
            (x0, y0),
            (x0 + side, y0),
            (x0 + side, y0 + side),
            (x0, y0 + side),
            (x0, y0),
        ];
        Perimeter {
            code: "QN00000A".into(),
            name: "carré".into(),
            kind: PerimeterKind::Qpv,
            insee_communes: vec![],
            generation: Some("2024".into()),
            geometry: geo::MultiPolygon(vec![geo::Polygon::new(ring.into(), vec![])]),
            properties: Default::default(),
        }
    }

    #[test]
    fn only_the_current_qpv_edges_count() {
        let q = square(3.0, 50.0, 0.01);
        let b = CurrentQpvBoundaries::new(std::iter::once(&q));
        let (kx, _) = metric_scale(50.005);
        // 10 m inside the west edge: near; 20 m inside: not near; 10 m outside: near.
        assert!(b.near(3.0 + 10.0 / kx, 50.005, 15.0));
        assert!(!b.near(3.0 + 20.0 / kx, 50.005, 15.0));
        assert!(b.near(3.0 - 10.0 / kx, 50.005, 15.0));
        // Centre of the square, far from every edge; a point far outside the box.
        assert!(!b.near(3.005, 50.005, 15.0));
        assert!(!b.near(4.0, 50.005, 15.0));
        // No current QPV: nothing is near.
        assert!(!CurrentQpvBoundaries::new(std::iter::empty()).near(3.0, 50.005, 15.0));
    }

    #[test]
    fn segment_distance_is_exact_at_the_ends_and_along() {
        assert_eq!(segment_distance2(0.0, 3.0, 10.0, 0.0), 9.0);
        assert_eq!(segment_distance2(-3.0, 4.0, 10.0, 0.0), 25.0);
        assert_eq!(segment_distance2(13.0, 4.0, 10.0, 0.0), 25.0);
        assert_eq!(segment_distance2(1.0, 1.0, 0.0, 0.0), 2.0);
    }
}
