//! Checks, repairs and reprojects the polygons of one feature: the repair and rejection
//! rules of the module documentation (finite coordinates, swapped axes, valid range, ring
//! repairs, reprojection to WGS84).

use super::feature::RawPolygons;
use crate::crs::{Crs, ToWgs84};
use geo::{LineString, MultiPolygon, Polygon};

/// Swap state of a feature's coordinates, judged on its bounding box.
fn looks_swapped(crs: Crs, b: (f64, f64, f64, f64)) -> bool {
    let (xmin, ymin, xmax, ymax) = b;
    if crs == Crs::Wgs84 {
        let out_of_range = xmin < -180.0 || xmax > 180.0 || ymin < -90.0 || ymax > 90.0;
        let fits_swapped = ymin >= -180.0 && ymax <= 180.0 && xmin >= -90.0 && xmax <= 90.0;
        if out_of_range {
            return fits_swapped;
        }
        // Metropolitan France given as (lat, lon): x in 41..51.6, y in -5.8..10. Such
        // (lon, lat) values would be in East Africa / the Indian Ocean, where no French
        // territory lies (Mayotte is at 12.8°S, La Réunion at 55°E).
        xmin >= 41.0 && xmax <= 51.6 && ymin >= -5.8 && ymax <= 10.0
    } else {
        let (axmin, aymin, axmax, aymax) = crs.area_of_use();
        let inside = |x0: f64, y0: f64, x1: f64, y1: f64| {
            x0 >= axmin && x1 <= axmax && y0 >= aymin && y1 <= aymax
        };
        !inside(xmin, ymin, xmax, ymax) && inside(ymin, xmin, ymax, xmax)
    }
}

/// Checks, repairs (each repair described in `actions`) and reprojects to WGS84 the polygons
/// of one feature; the French rejection message when the feature cannot be kept.
pub(super) fn process_geometry(
    polys: RawPolygons,
    crs: Crs,
    to_wgs84: &ToWgs84,
    fix_swapped: bool,
    actions: &mut Vec<String>,
) -> Result<MultiPolygon<f64>, String> {
    if polys.iter().all(|p| p.iter().all(|r| r.is_empty())) {
        return Err("géométrie absente ou vide".into());
    }
    // Finite coordinates and bbox.
    let mut b = (
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    );
    for (pi, p) in polys.iter().enumerate() {
        for (ri, r) in p.iter().enumerate() {
            for (vi, &(x, y)) in r.iter().enumerate() {
                if !x.is_finite() || !y.is_finite() {
                    return Err(format!(
                        "coordonnée non numérique (NaN ou infinie) au sommet {} de l'anneau {} du polygone {}",
                        vi + 1,
                        ri + 1,
                        pi + 1
                    ));
                }
                b = (b.0.min(x), b.1.min(y), b.2.max(x), b.3.max(y));
            }
        }
    }
    let mut polys = polys;
    if looks_swapped(crs, b) {
        let what = if crs == Crs::Wgs84 {
            "latitude et longitude"
        } else {
            "X et Y"
        };
        if fix_swapped {
            for p in polys.iter_mut() {
                for r in p.iter_mut() {
                    for c in r.iter_mut() {
                        *c = (c.1, c.0);
                    }
                }
            }
            b = (b.1, b.0, b.3, b.2);
            actions.push(format!("{what} inversées : coordonnées permutées"));
        } else {
            return Err(format!(
                "{what} semblent inversées (emprise x {:.4}…{:.4}, y {:.4}…{:.4}) : corrigez l'ordre des coordonnées ou importez avec l'option d'inversion des axes",
                b.0, b.2, b.1, b.3
            ));
        }
    }
    if crs == Crs::Wgs84 {
        if b.0 < -180.0 || b.2 > 180.0 || b.1 < -90.0 || b.3 > 90.0 {
            return Err(format!(
                "coordonnées hors limites (longitude {:.4}…{:.4}, latitude {:.4}…{:.4}) : attendu longitude entre -180 et 180, latitude entre -90 et 90 ; le fichier est-il bien en WGS84 ?",
                b.0, b.2, b.1, b.3
            ));
        }
    } else {
        let (axmin, aymin, axmax, aymax) = crs.area_of_use();
        if b.0 < axmin || b.2 > axmax || b.1 < aymin || b.3 > aymax {
            return Err(format!(
                "coordonnées hors de la zone de validité de {crs} (x {:.1}…{:.1}, y {:.1}…{:.1}) : le système de coordonnées déclaré est-il le bon ?",
                b.0, b.2, b.1, b.3
            ));
        }
    }
    // Ring repairs.
    let mut dup_total = 0usize;
    let mut closed = 0usize;
    let mut dropped_rings = Vec::new();
    let mut out_polys = Vec::with_capacity(polys.len());
    for (pi, p) in polys.into_iter().enumerate() {
        let mut rings_out: Vec<Vec<(f64, f64)>> = Vec::with_capacity(p.len());
        for (ri, mut r) in p.into_iter().enumerate() {
            let before = r.len();
            r.dedup();
            dup_total += before - r.len();
            if r.len() >= 2 && r.first() != r.last() {
                let f = r[0];
                r.push(f);
                closed += 1;
            }
            if r.len() < 4 {
                dropped_rings.push(format!("polygone {} anneau {}", pi + 1, ri + 1));
                if ri == 0 {
                    break; // exterior gone: the holes go with it
                }
                continue;
            }
            rings_out.push(r);
        }
        if !rings_out.is_empty() {
            out_polys.push(rings_out);
        }
    }
    if dup_total > 0 {
        actions.push(format!(
            "{dup_total} sommet(s) consécutif(s) en double supprimé(s)"
        ));
    }
    if closed > 0 {
        actions.push(format!("{closed} anneau(x) non fermé(s) refermé(s)"));
    }
    if !dropped_rings.is_empty() {
        actions.push(format!(
            "{} anneau(x) de moins de 4 points supprimé(s) ({})",
            dropped_rings.len(),
            dropped_rings.join(", ")
        ));
    }
    if out_polys.is_empty() {
        return Err(
            "aucun polygone exploitable après réparation (anneaux de moins de 4 points)".into(),
        );
    }
    // Reprojection.
    let mut result = Vec::with_capacity(out_polys.len());
    for p in out_polys {
        let mut rings = Vec::with_capacity(p.len());
        for mut r in p {
            to_wgs84
                .transform_in_place(&mut r)
                .map_err(|e| format!("reprojection impossible : {e}"))?;
            if r.iter()
                .any(|&(x, y)| !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y))
            {
                return Err("coordonnées hors limites après reprojection".into());
            }
            rings.push(LineString::from(r));
        }
        let ext = rings.remove(0);
        result.push(Polygon::new(ext, rings));
    }
    Ok(MultiPolygon(result))
}
