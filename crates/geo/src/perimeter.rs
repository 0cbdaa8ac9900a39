//! The perimeter model: a named zone (QPV, perimeter, renewal site…) with a WGS84
//! multipolygon geometry.

use geo::MultiPolygon;
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

    /// Number of vertices of the geometry (all rings).
    pub fn vertex_count(&self) -> usize {
        self.geometry
            .0
            .iter()
            .map(|p| p.exterior().0.len() + p.interiors().iter().map(|r| r.0.len()).sum::<usize>())
            .sum()
    }
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
