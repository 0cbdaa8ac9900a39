//! The perimeter model: a named zone (QPV, perimeter, renewal site…) with a WGS84
//! multipolygon geometry.

use geo::{GeodesicArea, LineString, MultiPolygon, Polygon};
use serde::{Deserialize, Serialize};

/// What kind of zone a perimeter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PerimeterKind {
    /// Quartier prioritaire de la politique de la ville.
    #[default]
    Qpv,
    /// Quartier / périmètre de veille active or other "attention" perimeter.
    AttentionPerimeter,
    /// Site of an urban renewal programme (NPNRU / ANRU).
    RenewalSite,
    /// Quartier de veille (former QPV under watch).
    WatchNeighbourhood,
    /// Any other perimeter (user-defined zone, "quartier vécu"…).
    Other,
}

impl PerimeterKind {
    /// French label for the UI.
    pub fn label_fr(self) -> &'static str {
        match self {
            PerimeterKind::Qpv => "Quartier prioritaire (QPV)",
            PerimeterKind::AttentionPerimeter => "Périmètre d'attention",
            PerimeterKind::RenewalSite => "Site de renouvellement urbain",
            PerimeterKind::WatchNeighbourhood => "Quartier de veille",
            PerimeterKind::Other => "Autre périmètre",
        }
    }

    /// Stable machine name (same as the serde representation).
    pub fn as_str(self) -> &'static str {
        match self {
            PerimeterKind::Qpv => "qpv",
            PerimeterKind::AttentionPerimeter => "attention_perimeter",
            PerimeterKind::RenewalSite => "renewal_site",
            PerimeterKind::WatchNeighbourhood => "watch_neighbourhood",
            PerimeterKind::Other => "other",
        }
    }

    /// Parse the machine name produced by [`PerimeterKind::as_str`].
    pub fn parse(s: &str) -> Option<PerimeterKind> {
        Some(match s {
            "qpv" => PerimeterKind::Qpv,
            "attention_perimeter" => PerimeterKind::AttentionPerimeter,
            "renewal_site" => PerimeterKind::RenewalSite,
            "watch_neighbourhood" => PerimeterKind::WatchNeighbourhood,
            "other" => PerimeterKind::Other,
            _ => return None,
        })
    }
}

/// A zone with its WGS84 geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Perimeter {
    /// Official code, e.g. `QN05971M` (QPV 2024) or `QP059074` (QPV 2015).
    pub code: String,
    /// Name, e.g. "Secteur Ouest".
    pub name: String,
    /// Kind of zone.
    pub kind: PerimeterKind,
    /// INSEE codes of the communes the zone lies in (may be empty when the source only
    /// gives commune names).
    pub insee_communes: Vec<String>,
    /// Generation of the zoning, e.g. `"2024"` or `"2015"` for QPVs.
    pub generation: Option<String>,
    /// Geometry in WGS84 lon/lat degrees, with closed rings of at least 4 points.
    pub geometry: MultiPolygon<f64>,
    /// All source attributes, as JSON values.
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl Perimeter {
    /// Bounding box `(min_lon, min_lat, max_lon, max_lat)`, or `None` for an empty geometry.
    pub fn bbox(&self) -> Option<(f64, f64, f64, f64)> {
        let mut b: Option<(f64, f64, f64, f64)> = None;
        for poly in &self.geometry.0 {
            for c in poly.exterior().0.iter() {
                b = Some(match b {
                    None => (c.x, c.y, c.x, c.y),
                    Some((a, bb, cc, d)) => (a.min(c.x), bb.min(c.y), cc.max(c.x), d.max(c.y)),
                });
            }
        }
        b
    }

    /// Area on the WGS84 ellipsoid, in square metres: [`geodesic_area_m2`] of its geometry.
    pub fn area_m2(&self) -> f64 {
        geodesic_area_m2(&self.geometry)
    }

    /// Number of vertices of the geometry (all rings).
    pub fn vertex_count(&self) -> usize {
        self.geometry
            .0
            .iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum()
    }
}

/// Area of a multipolygon on the WGS84 ellipsoid, in square metres (Karney's geodesic
/// method), whatever the winding of its rings: the exteriors' areas less their holes'.
///
/// geo's `geodesic_area_unsigned` reads a clockwise exterior ring as bounding the rest of
/// the Earth, and gives the Earth's area minus the polygon's: the national QPV file is
/// wound clockwise, so its QPVs measured 51 billion hectares. geo's `orient` does not
/// mend it: it leaves a ring as it is when its extreme vertex has a duplicate or collinear
/// neighbour (7 of the 1,584 national QPVs, once rounded). Each ring is measured on its
/// own instead, with the signed area, whose magnitude is the ring's area either way for
/// anything smaller than half the Earth.
pub fn geodesic_area_m2(geometry: &MultiPolygon) -> f64 {
    let ring = |r: &LineString<f64>| Polygon::new(r.clone(), vec![]).geodesic_area_signed().abs();
    geometry
        .0
        .iter()
        .map(|p| ring(p.exterior()) - p.interiors().iter().map(ring).sum::<f64>())
        .sum()
}

/// Guess the generation of a QPV from its code: `QN…` codes are the 2024 generation
/// (decree 2023-1314), `QP…` codes the 2015 generation (decree 2014-1750).
pub fn qpv_generation_from_code(code: &str) -> Option<&'static str> {
    let c = code.trim();
    if c.len() == 8 && c.starts_with("QN") {
        Some("2024")
    } else if c.len() == 8 && c.starts_with("QP") {
        Some("2015")
    } else {
        None
    }
}

/// True when `s` looks like an INSEE commune code (5 characters, digits, or 2A/2B for Corsica).
pub fn is_insee_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2..].iter().all(|c| c.is_ascii_digit())
        && ((b[0].is_ascii_digit() && b[1].is_ascii_digit())
            || (b[0] == b'2' && matches!(b[1], b'A' | b'B' | b'a' | b'b')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::polygon;

    /// Area of the WGS84 ellipsoid, m²: 2πa²(1 + (1 − e²)/e · atanh e).
    const WGS84_AREA_M2: f64 = 510_065_621_724_088.5;

    fn perimeter(geometry: MultiPolygon) -> Perimeter {
        Perimeter {
            code: "T".into(),
            name: "T".into(),
            kind: PerimeterKind::Qpv,
            generation: None,
            insee_communes: Vec::new(),
            properties: Default::default(),
            geometry,
        }
    }

    /// A square of 0.01° near Lille, with a square hole of 0.005°, wound either way.
    fn square_with_hole(clockwise: bool) -> Polygon {
        let mut outer: LineString = vec![
            (3.00, 50.60),
            (3.01, 50.60),
            (3.01, 50.61),
            (3.00, 50.61),
            (3.00, 50.60),
        ]
        .into();
        let mut hole: LineString = vec![
            (3.0025, 50.6025),
            (3.0025, 50.6075),
            (3.0075, 50.6075),
            (3.0075, 50.6025),
            (3.0025, 50.6025),
        ]
        .into();
        if clockwise {
            outer.0.reverse();
            hole.0.reverse();
        }
        Polygon::new(outer, vec![hole])
    }

    #[test]
    fn area_does_not_depend_on_the_winding() {
        let ccw = perimeter(MultiPolygon(vec![square_with_hole(false)]));
        let cw = perimeter(MultiPolygon(vec![square_with_hole(true)]));
        // 0.01° × 0.01° at 50.6°N: about 707 m × 1,113 m = 78.7 ha, less a quarter for the hole.
        let a = ccw.area_m2();
        assert!((a - 0.75 * 707.6 * 1113.0).abs() < 0.01 * a, "{a}");
        assert!((cw.area_m2() - a).abs() < 1e-6 * a, "{} {a}", cw.area_m2());
        // What geo's unsigned area alone gives for a clockwise exterior: the Earth minus the
        // polygon (what registries imported before the fix stored).
        let mut outer = square_with_hole(true).exterior().clone();
        let plain = Polygon::new(outer.clone(), vec![]).geodesic_area_unsigned();
        outer.0.reverse();
        let own = Polygon::new(outer, vec![]).geodesic_area_unsigned();
        assert!(own < 1e6, "{own}");
        assert!((plain + own - WGS84_AREA_M2).abs() < 1.0, "{plain}");
        // A clockwise ring whose corners have duplicate and collinear neighbours (what
        // rounding to 4 decimals makes, and where geo's `orient` gives up).
        let mut ragged: Vec<(f64, f64)> = Vec::new();
        for c in square_with_hole(true).exterior().0.windows(2) {
            let (a, b) = (c[0], c[1]);
            ragged.extend([
                (a.x, a.y),
                (a.x, a.y),
                ((a.x + b.x) / 2.0, (a.y + b.y) / 2.0),
            ]);
        }
        ragged.push(ragged[0]);
        let plain_square = Polygon::new(square_with_hole(false).exterior().clone(), vec![]);
        let ragged = perimeter(MultiPolygon(vec![Polygon::new(ragged.into(), vec![])]));
        let square = perimeter(MultiPolygon(vec![plain_square])).area_m2();
        assert!(
            (ragged.area_m2() - square).abs() < 1e-6 * square,
            "{}",
            ragged.area_m2()
        );
        // Two parts add up; an empty geometry measures nothing.
        let far = polygon![(x: 5.0, y: 45.0), (x: 5.0, y: 45.01), (x: 5.01, y: 45.01), (x: 5.01, y: 45.0), (x: 5.0, y: 45.0)];
        let far_area = perimeter(MultiPolygon(vec![far.clone()])).area_m2();
        let two = perimeter(MultiPolygon(vec![square_with_hole(true), far]));
        assert!((two.area_m2() - a - far_area).abs() < 1e-6 * a);
        assert_eq!(perimeter(MultiPolygon(vec![])).area_m2(), 0.0);
    }

    #[test]
    fn generation_and_insee() {
        assert_eq!(qpv_generation_from_code("QN05971M"), Some("2024"));
        assert_eq!(qpv_generation_from_code("QP059074"), Some("2015"));
        assert_eq!(qpv_generation_from_code("X"), None);
        assert!(is_insee_code("59350"));
        assert!(is_insee_code("2A004"));
        assert!(!is_insee_code("Lille"));
        assert!(!is_insee_code("5935"));
        for k in [
            PerimeterKind::Qpv,
            PerimeterKind::AttentionPerimeter,
            PerimeterKind::RenewalSite,
            PerimeterKind::WatchNeighbourhood,
            PerimeterKind::Other,
        ] {
            assert_eq!(PerimeterKind::parse(k.as_str()), Some(k));
            assert_eq!(
                serde_json::to_value(k).unwrap(),
                serde_json::Value::String(k.as_str().into())
            );
        }
    }
}
