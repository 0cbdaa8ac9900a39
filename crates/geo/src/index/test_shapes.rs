//! Perimeters that the tests of the index's modules build on.

use crate::perimeter::{Perimeter, PerimeterKind};
use geo::{LineString, MultiPolygon, Polygon};

/// A perimeter of one rectangle `(x0, y0)`–`(x1, y1)` in degrees, with a centred hole a
/// quarter of its width and height when `hole`.
pub(super) fn square(
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

/// A closed saw-tooth ring: 60 teeth of 0.0005° (≈ 36 m) of uneven heights on the
/// northern side of a 0.03° × 0.002° rectangle near Lille.
pub(super) fn saw_tooth_ring() -> Vec<(f64, f64)> {
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
