//! Tests of the whole index through its public API.

use super::test_shapes::square;
use super::*;
use crate::perimeter::PerimeterKind;

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
    assert!(l.nearest_qpv.unwrap().0 == 2 && (l.nearest_qpv.unwrap().1 - 0.005 * kx).abs() < 1e-6);
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
fn metric_scale_is_grs80() {
    // 1° of latitude at 50°N ≈ 111,229 m; 1° of longitude ≈ 71,696 m.
    let (kx, ky) = metric_scale(50.0);
    assert!((ky - 111_229.0).abs() < 15.0, "{ky}");
    assert!((kx - 71_696.0).abs() < 60.0, "{kx}");
}

#[test]
fn near_qpv_boundary_counts_the_qpv_edges_alone() {
    // QPV A (with a hole), attention perimeter B overlapping it, an empty perimeter between
    // them (its edges are none), QPV C.
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
    let mut empty = square("E", PerimeterKind::Other, 0.0, 0.0, 0.0, 0.0, false);
    empty.geometry.0.clear();
    let c = square("C", PerimeterKind::Qpv, 3.05, 50.0, 3.06, 50.01, false);
    let qpv = [a.clone(), c.clone()];
    let idx = PerimeterIndex::build(vec![a, b, empty, c]);
    let tol = idx.options().boundary_tolerance_m;
    // Exact reference: the distance to every edge of the QPV, in the same metric frame.
    let near_a_qpv = |lon: f64, lat: f64| {
        let band = (lat * 64.0).floor() + 0.5;
        let (kx, ky) = metric_scale(band / 64.0);
        qpv.iter().flat_map(|p| &p.geometry.0).any(|poly| {
            std::iter::once(poly.exterior())
                .chain(poly.interiors())
                .flat_map(|r| r.0.windows(2))
                .any(|w| {
                    let (ax, ay) = ((w[0].x - lon) * kx, (w[0].y - lat) * ky);
                    let (bx, by) = ((w[1].x - lon) * kx, (w[1].y - lat) * ky);
                    let (dx, dy) = (bx - ax, by - ay);
                    let t = (-(ax * dx + ay * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
                    let (x, y) = (ax + t * dx, ay + t * dy);
                    x * x + y * y <= tol * tol
                })
        })
    };
    let (mut only_b, mut both) = (0, 0);
    for i in 0..=700 {
        for j in 0..=250 {
            let (lon, lat) = (2.999 + i as f64 * 0.0001, 49.999 + j as f64 * 0.0001);
            let flagged = idx.locate(lon, lat).near_boundary;
            let expected = near_a_qpv(lon, lat);
            assert_eq!(idx.near_qpv_boundary(lon, lat), expected, "{lon} {lat}");
            // `near_boundary` also counts B's edges; the QPV-only answer never adds any.
            assert!(!expected || flagged, "{lon} {lat}");
            only_b += (flagged && !expected) as u32;
            both += expected as u32;
        }
    }
    // The grid crosses B's edges inside A and A's own edges.
    assert!(only_b > 100 && both > 100, "{only_b} {both}");
}
