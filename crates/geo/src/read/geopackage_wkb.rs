//! GeoPackage geometry blobs: the `GP` binary header followed by (ISO or extended) WKB,
//! decoded into polygons.

use super::feature::RawPolygons;

/// Decode a GeoPackage geometry blob (header + WKB) into polygons.
pub(super) fn gpkg_blob_polygons(b: &[u8]) -> Result<RawPolygons, String> {
    if b.len() < 8 || &b[0..2] != b"GP" {
        return Err("en-tête GeoPackage absent (octets « GP »)".into());
    }
    let flags = b[3];
    if flags & 0b0010_0000 != 0 {
        return Err("géométrie GeoPackage étendue non prise en charge".into());
    }
    if flags & 0b0001_0000 != 0 {
        return Err("géométrie vide".into());
    }
    let env = match (flags >> 1) & 0b111 {
        0 => 0,
        1 => 32,
        2 | 3 => 48,
        4 => 64,
        _ => return Err("indicateur d'emprise GeoPackage invalide".into()),
    };
    let start = 8 + env;
    if b.len() < start {
        return Err("géométrie GeoPackage tronquée".into());
    }
    let mut r = Wkb {
        b: &b[start..],
        pos: 0,
    };
    let mut out = Vec::new();
    r.geometry(&mut out, 0)?;
    Ok(out)
}

/// Minimal WKB reader for polygonal geometries (ISO and EWKB Z/M flags).
struct Wkb<'a> {
    b: &'a [u8],
    pos: usize,
}

impl Wkb<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let s = self.b.get(self.pos..self.pos + N).ok_or("WKB tronqué")?;
        self.pos += N;
        Ok(s.try_into().expect("length checked"))
    }
    fn u32(&mut self, le: bool) -> Result<u32, String> {
        let a = self.take::<4>()?;
        Ok(if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    }
    fn f64(&mut self, le: bool) -> Result<f64, String> {
        let a = self.take::<8>()?;
        Ok(if le {
            f64::from_le_bytes(a)
        } else {
            f64::from_be_bytes(a)
        })
    }
    fn geometry(&mut self, out: &mut RawPolygons, depth: usize) -> Result<(), String> {
        if depth > 8 {
            return Err("WKB trop imbriqué".into());
        }
        let le = match self.take::<1>()?[0] {
            0 => false,
            1 => true,
            _ => return Err("ordre des octets WKB invalide".into()),
        };
        let raw = self.u32(le)?;
        let mut dims = 2usize;
        if raw & 0x8000_0000 != 0 {
            dims += 1;
        }
        if raw & 0x4000_0000 != 0 {
            dims += 1;
        }
        if raw & 0x2000_0000 != 0 {
            self.u32(le)?; // EWKB srid
        }
        let t = raw & 0x0FFF_FFFF;
        let (base, iso_dims) = (t % 1000, t / 1000);
        dims += match iso_dims {
            0 => 0,
            1 | 2 => 1,
            3 => 2,
            _ => return Err(format!("type WKB {t} inconnu")),
        };
        match base {
            3 => {
                let p = self.polygon(le, dims)?;
                out.push(p);
                Ok(())
            }
            6 | 7 => {
                let n = self.u32(le)? as usize;
                for _ in 0..n {
                    if base == 7 {
                        // Collections: keep the polygonal members only.
                        let mut sub = Vec::new();
                        match self.geometry(&mut sub, depth + 1) {
                            Ok(()) => out.append(&mut sub),
                            Err(e) if e.starts_with("géométrie de type") => {}
                            Err(e) => return Err(e),
                        }
                    } else {
                        self.geometry(out, depth + 1)?;
                    }
                }
                if base == 7 && out.is_empty() {
                    return Err("collection sans polygone".into());
                }
                Ok(())
            }
            1 | 2 | 4 | 5 => Err(format!(
                "géométrie de type {} : un polygone est attendu",
                [
                    "",
                    "Point",
                    "LineString",
                    "",
                    "MultiPoint",
                    "MultiLineString"
                ][base as usize]
            )),
            10 | 12 => {
                Err("géométrie courbe (CurvePolygon/MultiSurface) non prise en charge".into())
            }
            other => Err(format!("type WKB {other} non pris en charge")),
        }
    }
    fn polygon(&mut self, le: bool, dims: usize) -> Result<Vec<Vec<(f64, f64)>>, String> {
        let nrings = self.u32(le)? as usize;
        let mut rings = Vec::with_capacity(nrings.min(1024));
        for _ in 0..nrings {
            let n = self.u32(le)? as usize;
            if n.saturating_mul(dims * 8) > self.b.len() - self.pos.min(self.b.len()) {
                return Err("WKB tronqué".into());
            }
            let mut pts = Vec::with_capacity(n);
            for _ in 0..n {
                let x = self.f64(le)?;
                let y = self.f64(le)?;
                for _ in 2..dims {
                    self.f64(le)?;
                }
                pts.push((x, y));
            }
            rings.push(pts);
        }
        Ok(rings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wkb_decoding() {
        // GP header (LE, no envelope) + LE ISO MultiPolygonZ with one triangle.
        let mut b = vec![b'G', b'P', 0, 1];
        b.extend(2154i32.to_le_bytes());
        b.push(1);
        b.extend(1006u32.to_le_bytes());
        b.extend(1u32.to_le_bytes());
        b.push(0); // inner polygon big-endian
        b.extend(1003u32.to_be_bytes());
        b.extend(1u32.to_be_bytes());
        b.extend(4u32.to_be_bytes());
        for (x, y) in [(0.0f64, 0.0f64), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)] {
            b.extend(x.to_be_bytes());
            b.extend(y.to_be_bytes());
            b.extend(9.0f64.to_be_bytes());
        }
        let p = gpkg_blob_polygons(&b).unwrap();
        assert_eq!(
            p,
            vec![vec![vec![(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)]]]
        );
        assert!(gpkg_blob_polygons(&b[..b.len() - 3])
            .unwrap_err()
            .contains("tronqué"));
        assert!(gpkg_blob_polygons(b"XX000000").is_err());
    }
}
