//! Tests on real QPV data: readers (GeoJSON, gzipped GeoJSON, GeoPackage, shapefile) and
//! exactness of the index against an independent brute-force implementation.
//!
//! The large files come from the shared data folder (`QUARTIERS_SHARED_DATA`, or
//! `../shared/data` next to the repository); tests print a notice and fall back to the
//! small fixture, or skip, when it is absent.

use geo::{Intersects, Point};
use quartiers_geo::bench::{urban_points, SplitMix64};
use quartiers_geo::index::metric_scale;
use quartiers_geo::read::{list_geopackage_layers, read_geopackage, read_shapefile, ReadError};
use quartiers_geo::{
    read_path, Crs, IndexOptions, Perimeter, PerimeterIndex, PerimeterKind, ReadOptions,
};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

fn shared_data() -> Option<PathBuf> {
    let p = match std::env::var_os("QUARTIERS_SHARED_DATA") {
        Some(v) => PathBuf::from(v),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    if p.join("qpv").is_dir() {
        Some(p)
    } else {
        eprintln!(
            "NOTICE: shared data folder not found ({}), real-data test skipped or reduced",
            p.display()
        );
        None
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The Nord/Pas-de-Calais QPV 2024 file, or the MEL 2015 fixture without shared data.
fn nord_perimeters() -> Vec<Perimeter> {
    let path = match shared_data() {
        Some(d) => d.join("qpv/qpv2024_59_62_wgs84.geojson"),
        None => fixture("mel_qpv2015_wgs84.geojson"),
    };
    let out = read_path(&path, &ReadOptions::default()).unwrap();
    assert!(out.report.rejected.is_empty(), "{:?}", out.report.rejected);
    out.perimeters
}

// ---------------------------------------------------------------------------------------
// Independent reference: brute force over every edge, no grid.
// ---------------------------------------------------------------------------------------

struct Reference {
    polys: Vec<(u32, [f64; 4], Vec<[f64; 4]>)>,
    is_qpv: Vec<bool>,
}

impl Reference {
    fn new(perimeters: &[Perimeter]) -> Self {
        let mut polys = Vec::new();
        for (i, p) in perimeters.iter().enumerate() {
            for poly in &p.geometry.0 {
                let mut edges = Vec::new();
                let mut bb = [
                    f64::INFINITY,
                    f64::INFINITY,
                    f64::NEG_INFINITY,
                    f64::NEG_INFINITY,
                ];
                for ring in std::iter::once(poly.exterior()).chain(poly.interiors()) {
                    for w in ring.0.windows(2) {
                        edges.push([w[0].x, w[0].y, w[1].x, w[1].y]);
                        bb = [
                            bb[0].min(w[0].x),
                            bb[1].min(w[0].y),
                            bb[2].max(w[0].x),
                            bb[3].max(w[0].y),
                        ];
                    }
                }
                polys.push((i as u32, bb, edges));
            }
        }
        Reference {
            polys,
            is_qpv: perimeters
                .iter()
                .map(|p| p.kind == PerimeterKind::Qpv)
                .collect(),
        }
    }

    /// Covers: on an edge, or inside by the even-odd rule (polygon by polygon).
    fn covers(edges: &[[f64; 4]], x: f64, y: f64) -> bool {
        let mut inside = false;
        for e in edges {
            let [ax, ay, bx, by] = *e;
            let o = robust::orient2d(
                robust::Coord { x: ax, y: ay },
                robust::Coord { x: bx, y: by },
                robust::Coord { x, y },
            );
            if o == 0.0 && ax.min(bx) <= x && x <= ax.max(bx) && ay.min(by) <= y && y <= ay.max(by)
            {
                return true;
            }
            if (ay > y) != (by > y) {
                // Crossing to the right of the point: the point is left of the upward edge.
                let upward = by > ay;
                if (o > 0.0) == upward {
                    inside = !inside;
                }
            }
        }
        inside
    }

    fn d2(e: &[f64; 4], x: f64, y: f64, kx: f64, ky: f64) -> f64 {
        let (ax, ay, bx, by) = (
            (e[0] - x) * kx,
            (e[1] - y) * ky,
            (e[2] - x) * kx,
            (e[3] - y) * ky,
        );
        let (dx, dy) = (bx - ax, by - ay);
        let l2 = dx * dx + dy * dy;
        let t = if l2 > 0.0 {
            (-(ax * dx + ay * dy) / l2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let (cx, cy) = (ax + t * dx, ay + t * dy);
        cx * cx + cy * cy
    }

    /// (containing ids, min distance to any boundary, nearest QPV by boundary distance)
    /// Containment only.
    fn containing(&self, x: f64, y: f64) -> Vec<u32> {
        let mut containing = Vec::new();
        for (pid, bb, edges) in &self.polys {
            if x >= bb[0]
                && x <= bb[2]
                && y >= bb[1]
                && y <= bb[3]
                && !containing.contains(pid)
                && Self::covers(edges, x, y)
            {
                containing.push(*pid);
            }
        }
        containing.sort_unstable();
        containing
    }

    fn locate(&self, x: f64, y: f64, opts: IndexOptions) -> (Vec<u32>, f64, Option<(u32, f64)>) {
        let (kx, ky) = metric_scale(y);
        let mut containing = Vec::new();
        let mut min_any = f64::INFINITY;
        let mut best: Option<(u32, f64)> = None;
        let margin_y = (opts.nearest_max_m + 50.0) / 110_000.0;
        let margin_x = (opts.nearest_max_m + 50.0) / (kx * 0.9);
        for (pid, bb, edges) in &self.polys {
            if x < bb[0] - margin_x
                || x > bb[2] + margin_x
                || y < bb[1] - margin_y
                || y > bb[3] + margin_y
            {
                continue;
            }
            if x >= bb[0]
                && x <= bb[2]
                && y >= bb[1]
                && y <= bb[3]
                && Self::covers(edges, x, y)
                && !containing.contains(pid)
            {
                containing.push(*pid);
            }
            let mut m = f64::INFINITY;
            for e in edges {
                m = m.min(Self::d2(e, x, y, kx, ky));
            }
            let m = m.sqrt();
            min_any = min_any.min(m);
            if self.is_qpv[*pid as usize] && best.map(|b| m < b.1).unwrap_or(true) {
                best = Some((*pid, m));
            }
        }
        containing.sort_unstable();
        if let Some(&q) = containing.iter().find(|&&p| self.is_qpv[p as usize]) {
            best = Some((q, 0.0));
        } else if best.map(|b| b.1 > opts.nearest_max_m).unwrap_or(false) {
            best = None;
        }
        (containing, min_any, best)
    }
}

/// Compare index and reference on `points`; returns (points inside, near boundary).
fn compare(index: &PerimeterIndex, reference: &Reference, points: &[(f64, f64)]) -> (usize, usize) {
    let opts = index.options();
    points
        .par_iter()
        .with_min_len(1024)
        .map(|&(x, y)| {
            let got = index.locate(x, y);
            assert_eq!(index.containing(x, y), got.containing);
            let (containing, min_any, nearest) = reference.locate(x, y, opts);
            assert_eq!(
                got.containing.as_slice(),
                containing.as_slice(),
                "containment differs at ({x}, {y})"
            );
            let want_near = min_any <= opts.boundary_tolerance_m;
            if got.near_boundary != want_near {
                assert!(
                    (min_any - opts.boundary_tolerance_m).abs() < 1e-9,
                    "near_boundary differs at ({x}, {y}): {min_any} m"
                );
            }
            match (got.nearest_qpv, nearest) {
                (None, None) => {}
                (Some((gi, gd)), Some((wi, wd))) => {
                    assert!(
                        (gd - wd).abs() <= 1e-9 * wd.max(1.0),
                        "distance differs at ({x}, {y}): {gd} vs {wd}"
                    );
                    if gi != wi {
                        // Ties (shared boundaries) only.
                        let (_, _, alt) = reference.locate(x, y, opts);
                        assert!(
                            (alt.unwrap().1 - gd).abs() < 1e-9,
                            "nearest id differs at ({x}, {y}): {gi} vs {wi}"
                        );
                    }
                }
                (g, w) => {
                    let d = g.or(w).unwrap().1;
                    assert!(
                        (d - opts.nearest_max_m).abs() < 1e-9,
                        "nearest differs at ({x}, {y}): {g:?} vs {w:?}"
                    );
                }
            }
            (
                !got.containing.is_empty() as usize,
                got.near_boundary as usize,
            )
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
}

/// Points within `max_m` metres of boundaries, plus exact vertices and edge midpoints.
fn boundary_points(perimeters: &[Perimeter], n: usize, max_m: f64, seed: u64) -> Vec<(f64, f64)> {
    let edges: Vec<(f64, f64, f64, f64)> = perimeters
        .iter()
        .flat_map(|p| p.geometry.0.iter())
        .flat_map(|poly| std::iter::once(poly.exterior()).chain(poly.interiors()))
        .flat_map(|r| {
            r.0.windows(2)
                .map(|w| (w[0].x, w[0].y, w[1].x, w[1].y))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut r = SplitMix64::new(seed);
    (0..n)
        .map(|i| {
            let (ax, ay, bx, by) = edges[r.below(edges.len())];
            match i % 10 {
                0 => (ax, ay),                                // exactly on a vertex
                1 => ((ax + bx) / 2.0, (ay + by) / 2.0),      // on (or within 1 ulp of) an edge
                2 => (ax, ay + (r.next_f64() - 0.5) * 1e-12), // a hair from a vertex
                _ => {
                    let t = r.next_f64();
                    let (x, y) = (ax + t * (bx - ax), ay + t * (by - ay));
                    let (kx, ky) = metric_scale(y);
                    let rho = max_m * r.next_f64();
                    let th = r.range(0.0, std::f64::consts::TAU);
                    (x + rho * th.cos() / kx, y + rho * th.sin() / ky)
                }
            }
        })
        .collect()
}

#[test]
fn exact_on_one_million_urban_points() {
    let perimeters = nord_perimeters();
    let reference = Reference::new(&perimeters);
    let t = std::time::Instant::now();
    let index = PerimeterIndex::build(perimeters.clone());
    eprintln!("build {:?} {:?}", t.elapsed(), index.stats());
    let pts = urban_points(&perimeters, 1_000_000, 2_000.0, 42);
    let t = std::time::Instant::now();
    // Containment on the million points (the brute-force distances are too slow for a
    // debug build; they are checked on the first 100,000 points).
    let located = index.locate_many(&pts);
    let inside = pts
        .par_iter()
        .zip(located.par_iter())
        .filter(|((x, y), got)| {
            let want = reference.containing(*x, *y);
            assert_eq!(
                got.containing.as_slice(),
                want.as_slice(),
                "containment differs at ({x}, {y})"
            );
            !want.is_empty()
        })
        .count();
    let (_, near) = compare(&index, &reference, &pts[..100_000]);
    // The batch path (block order, vector code) gives exactly the point-by-point
    // answers, distances included.
    pts[..100_000]
        .par_iter()
        .zip(located[..100_000].par_iter())
        .for_each(|(&(x, y), got)| {
            assert_eq!(got, &index.locate(x, y), "batch differs at ({x}, {y})")
        });
    eprintln!(
        "1M urban points: {inside} inside, {near}/100000 near a boundary, checked in {:?}",
        t.elapsed()
    );
    assert!(inside > 50_000, "{inside}");
    assert!(near > 500, "{near}");
}

#[test]
fn exact_within_two_metres_of_boundaries() {
    let perimeters = nord_perimeters();
    let reference = Reference::new(&perimeters);
    let index = PerimeterIndex::build(perimeters.clone());
    let pts = boundary_points(&perimeters, 100_000, 2.0, 7);
    let (inside, near) = compare(&index, &reference, &pts);
    assert!(inside > 45_000 && near == pts.len(), "{inside} {near}");
    // Exact vertices are always inside (covers semantics).
    for &(x, y) in pts.iter().step_by(10) {
        assert!(
            !index.locate(x, y).containing.is_empty(),
            "vertex ({x}, {y}) not covered"
        );
    }
    // Other tolerances and radii, on a third of the perimeters to keep debug builds fast.
    let some: Vec<Perimeter> = perimeters.iter().step_by(3).cloned().collect();
    let reference = Reference::new(&some);
    let pts = boundary_points(&some, 10_000, 2.0, 8);
    for opts in [
        IndexOptions {
            boundary_tolerance_m: 0.0,
            nearest_max_m: 0.0,
        },
        IndexOptions {
            boundary_tolerance_m: 50.0,
            nearest_max_m: 1500.0,
        },
    ] {
        let index = PerimeterIndex::build_with(some.clone(), opts);
        compare(&index, &reference, &pts);
        compare(&index, &reference, &urban_points(&some, 10_000, 3_000.0, 9));
    }
}

#[test]
fn agrees_with_geo_intersects_on_valid_geometries() {
    let Some(d) = shared_data() else { return };
    let out = read_path(
        &d.join("qpv/qpv2024_59_62_wgs84_valid.geojson"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(out.report.accepted, 158);
    let perimeters = out.perimeters;
    let index = PerimeterIndex::build(perimeters.clone());
    let mut pts = urban_points(&perimeters, 20_000, 1_000.0, 3);
    pts.extend(boundary_points(&perimeters, 5_000, 1.0, 5));
    let bad: usize = pts
        .par_iter()
        .map(|&(x, y)| {
            let p = Point::new(x, y);
            let want: Vec<u32> = perimeters
                .iter()
                .enumerate()
                .filter(|(_, q)| q.geometry.intersects(&p))
                .map(|(i, _)| i as u32)
                .collect();
            (index.locate(x, y).containing.as_slice() != want.as_slice()) as usize
        })
        .sum();
    assert_eq!(bad, 0);
}

#[test]
fn lille_points() {
    let Some(d) = shared_data() else { return };
    let perimeters = read_path(
        &d.join("qpv/qpv2024_59_62_wgs84.geojson"),
        &ReadOptions::default(),
    )
    .unwrap()
    .perimeters;
    let index = PerimeterIndex::build(perimeters);
    let id = index.id_of("QN05971M").unwrap(); // Lille, Secteur Ouest
    let p = index.perimeter(id);
    assert_eq!(p.name, "Secteur Ouest");
    assert_eq!(p.insee_communes, vec!["59350"]);
    // A vertex of the QPV is covered; the Grand-Place of Lille is in no QPV.
    let v = p.geometry.0[0].exterior().0[3];
    let l = index.locate(v.x, v.y);
    assert!(l.containing.contains(&id) && l.near_boundary && l.nearest_qpv.unwrap().1 == 0.0);
    let l = index.locate(3.0632, 50.6369);
    assert!(l.containing.is_empty());
}

#[test]
fn national_file_gzip() {
    let Some(d) = shared_data() else { return };
    let out = read_path(
        &d.join("qpv/qpv2024_france_wgs84.geojson.gz"),
        &ReadOptions::default(),
    )
    .unwrap();
    assert_eq!(out.report.accepted, 1584, "{:?}", out.report.rejected);
    assert!(out.report.rejected.is_empty());
    assert!(out
        .perimeters
        .iter()
        .all(|p| p.generation.as_deref() == Some("2024")));
    let multi = out
        .perimeters
        .iter()
        .find(|p| p.insee_communes.len() > 1)
        .unwrap();
    assert!(multi.insee_communes.iter().all(|c| c.len() == 5));
}

#[test]
fn geopackage_mel_qpv_2015() {
    let Some(d) = shared_data() else { return };
    let gpkg = d.join("qpv/icu_mediapart_lille_mel.gpkg");
    let layers = list_geopackage_layers(&gpkg).unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l.0.as_str()).collect();
    assert!(
        names.contains(&"qpvs") && names.contains(&"cities"),
        "{names:?}"
    );
    // Several layers and none chosen: a clear error.
    match read_geopackage(&gpkg, &ReadOptions::default()) {
        Err(ReadError::GeoPackage(m)) => {
            assert!(m.contains("plusieurs couches") && m.contains("qpvs"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let opts = ReadOptions {
        layer: Some("qpvs".into()),
        ..Default::default()
    };
    let out = read_geopackage(&gpkg, &opts).unwrap();
    assert_eq!(out.report.source_crs, Some(Crs::Lambert93));
    assert_eq!(out.report.accepted, 26, "{:?}", out.report.rejected);
    // Same geometry as the ogr2ogr reprojection (7 decimals).
    let reference = read_path(
        &fixture("mel_qpv2015_wgs84.geojson"),
        &ReadOptions::default(),
    )
    .unwrap()
    .perimeters;
    for p in &out.perimeters {
        let r = reference.iter().find(|r| r.code == p.code).unwrap();
        assert_eq!(p.name, r.name);
        assert_eq!(p.generation.as_deref(), Some("2015"));
        let (a, b) = (&p.geometry.0[0].exterior().0, &r.geometry.0[0].exterior().0);
        assert_eq!(a.len(), b.len(), "{}", p.code);
        // ogr2ogr rewinds rings to the GeoJSON right-hand rule: compare both ways.
        let same = |rev: bool| {
            a.iter().zip(b.iter()).enumerate().all(|(i, (c, _))| {
                let e = if rev { b[b.len() - 1 - i] } else { b[i] };
                (c.x - e.x).abs() < 2e-7 && (c.y - e.y).abs() < 2e-7
            })
        };
        assert!(
            same(false) || same(true),
            "{}: {:?} vs {:?}",
            p.code,
            &a[..2],
            &b[..2]
        );
    }
    // The communes layer, as "other" perimeters with INSEE codes.
    let opts = ReadOptions {
        layer: Some("cities".into()),
        kind: PerimeterKind::Other,
        code_field: Some("INSEE_COM".into()),
        name_field: Some("NOM".into()),
        communes_field: Some("INSEE_COM".into()),
        ..Default::default()
    };
    let out = read_geopackage(&gpkg, &opts).unwrap();
    assert_eq!(out.report.accepted, 121);
    let lille = out.perimeters.iter().find(|p| p.code == "59350").unwrap();
    assert_eq!(lille.name, "Lille");
    assert_eq!(lille.insee_communes, vec!["59350"]);
    let index = PerimeterIndex::build(out.perimeters);
    let l = index.locate(3.0632, 50.6369); // Grand-Place
    assert_eq!(index.perimeter(l.containing[0]).code, "59350");
}

#[test]
fn shapefile_roundtrip_and_missing_prj() {
    use shapefile::dbase::{FieldValue, Record, TableWriterBuilder};
    use shapefile::{Point, Polygon, PolygonRing};
    let dir = std::env::temp_dir().join(format!("quartiers-geo-shp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let shp = dir.join("zones.shp");
    {
        let table = TableWriterBuilder::new()
            .add_character_field("CODE_QP".try_into().unwrap(), 10)
            .add_character_field("NOM_QP".try_into().unwrap(), 40);
        let mut w = shapefile::Writer::from_path(&shp, table).unwrap();
        // Lambert-93 square of 200 m around a Lille point, with a hole.
        let (x, y) = (704061.1459, 7059136.5895);
        let sq = |h: f64| {
            vec![
                Point::new(x - h, y - h),
                Point::new(x - h, y + h),
                Point::new(x + h, y + h),
                Point::new(x + h, y - h),
                Point::new(x - h, y - h),
            ]
        };
        let mut hole = sq(20.0);
        hole.reverse();
        let poly = Polygon::with_rings(vec![
            PolygonRing::Outer(sq(100.0)),
            PolygonRing::Inner(hole),
        ]);
        let mut rec = Record::default();
        rec.insert(
            "CODE_QP".into(),
            FieldValue::Character(Some("QP059999".into())),
        );
        rec.insert(
            "NOM_QP".into(),
            FieldValue::Character(Some("Quartier d'essai".into())),
        );
        w.write_shape_and_record(&poly, &rec).unwrap();
    }
    // No .prj: specific error, or the caller's system.
    match read_shapefile(&shp, &ReadOptions::default()) {
        Err(e @ ReadError::MissingPrj(_)) => {
            assert!(e.to_string().contains("fichier .prj absent"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let assumed = read_shapefile(
        &shp,
        &ReadOptions {
            crs: Some(Crs::Lambert93),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(assumed.report.accepted, 1);
    assert_eq!(assumed.report.warnings.len(), 1, "{:?}", assumed.report);
    std::fs::write(
        dir.join("zones.prj"),
        r#"PROJCS["RGF_1993_Lambert_93",GEOGCS["GCS_RGF_1993",DATUM["D_RGF_1993",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Lambert_Conformal_Conic"],PARAMETER["False_Easting",700000.0],PARAMETER["False_Northing",6600000.0],PARAMETER["Central_Meridian",3.0],PARAMETER["Standard_Parallel_1",49.0],PARAMETER["Standard_Parallel_2",44.0],PARAMETER["Latitude_Of_Origin",46.5],UNIT["Meter",1.0]]"#,
    )
    .unwrap();
    let out = read_path(&shp, &ReadOptions::default()).unwrap();
    assert_eq!(out.report.source_crs, Some(Crs::Lambert93));
    assert_eq!(out.report.accepted, 1);
    let p = &out.perimeters[0];
    assert_eq!(
        (p.code.as_str(), p.name.as_str()),
        ("QP059999", "Quartier d'essai")
    );
    assert_eq!(p.geometry.0.len(), 1);
    assert_eq!(p.geometry.0[0].interiors().len(), 1);
    let index = PerimeterIndex::build(out.perimeters);
    assert_eq!(index.locate(3.0573, 50.6292).containing.len(), 0); // in the hole
    assert_eq!(
        index.locate(3.0573 + 0.0008, 50.6292).containing.as_slice(),
        &[0]
    ); // ~57 m east
    std::fs::remove_dir_all(&dir).unwrap();
}
