//! Imports into the registry, shared by the pages, the API and the command line: perimeter
//! files (through the quartiers-geo readers), the national QPV 2024 contours shipped with
//! Quartiers, the 2015 ↔ 2024 correspondence, and Base Adresse Nationale extracts.

use quartiers_geo::index::metric_scale;
use quartiers_geo::read::{read_geojson_bytes, to_geojson};
use quartiers_geo::{
    ImportReport, Perimeter, PerimeterIndex, PerimeterKind, ReadOptions, ReadOutput,
};
use quartiers_io::ban::{BanError, BanReader};
use quartiers_store::geography::{
    BanAddress, Correspondence, NewPerimeter, PerimeterRow, WriteCounts,
};
use quartiers_store::{Store, StoreResult};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// The national QPV 2024 contours shipped with Quartiers (ANCT, Licence Ouverte 2.0,
/// coordinates rounded to 4 decimals: see `data/qpv/README.md`).
pub const NATIONAL_QPV_2024: &[u8] =
    include_bytes!("../../../../data/qpv/qpv2024_france_wgs84.geojson.gz");

/// Source name recorded for the shipped file.
pub const NATIONAL_QPV_2024_NAME: &str = "qpv2024_france_wgs84.geojson.gz (livré avec Quartiers)";

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct ImportOutcome {
    /// The reader's report (accepted, repaired, rejected features).
    pub report: ImportReport,
    /// Rows written.
    pub counts: WriteCounts,
    /// Lines of the 2015 ↔ 2024 correspondence, when it was recomputed.
    pub correspondence: Option<usize>,
}

impl ImportOutcome {
    /// French lines: the summary, then one line per repaired or rejected feature and per
    /// warning.
    pub fn lines_fr(&self) -> Vec<String> {
        let mut out = vec![self.report.summary_fr()];
        out.push(format!(
            "{} périmètre(s) ajouté(s), {} remplacé(s).",
            self.counts.inserted, self.counts.replaced
        ));
        for t in &self.counts.refused {
            let kind = match PerimeterKind::parse(&t.kind) {
                Some(k) => k.label_fr(),
                None => t.kind.as_str(),
            };
            let contract = match &t.contract_slug {
                Some(c) => format!("contrat « {c} »"),
                None => "sans contrat".to_string(),
            };
            out.push(format!(
                "Périmètre « {} » refusé : ce code est déjà utilisé ({kind}, {contract}) ; donnez-lui un autre code.",
                t.code
            ));
        }
        out.extend(report_lines(&self.report));
        if let Some(n) = self.correspondence {
            out.push(format!(
                "Correspondance 2015 ↔ 2024 recalculée : {n} lien(s) par recouvrement."
            ));
        }
        out
    }
}

/// One French line per rejected or repaired feature and per warning.
pub fn report_lines(r: &ImportReport) -> Vec<String> {
    let mut out = Vec::new();
    for x in &r.rejected {
        out.push(format!("Entité n° {} rejetée : {}", x.feature, x.message));
    }
    for x in &r.repaired {
        out.push(format!(
            "Entité n° {} ({}) acceptée après réparation : {}",
            x.feature, x.code, x.action
        ));
    }
    for w in &r.warnings {
        out.push(format!("Remarque : {w}"));
    }
    out
}

fn prop_str(p: &Perimeter, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| match p.properties.get(*k) {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// The registry row of a perimeter read from a file.
pub fn to_new_perimeter(
    p: &Perimeter,
    criteria: Option<&str>,
    contract: Option<&str>,
) -> NewPerimeter {
    let one = to_geojson(std::slice::from_ref(p));
    let geometry = one["features"][0]["geometry"].to_string();
    let area = p.area_m2();
    NewPerimeter {
        code: p.code.clone(),
        name: p.name.clone(),
        kind: p.kind.as_str().to_string(),
        generation: p.generation.clone().unwrap_or_default(),
        communes: p.insee_communes.clone(),
        epci_siren: prop_str(p, &["siren_epci", "SIREN_EPCI", "epci", "EPCI"]),
        epci_name: prop_str(p, &["lib_epci", "LIB_EPCI", "nom_epci"]),
        criteria: criteria
            .map(str::to_string)
            .filter(|c| !c.trim().is_empty()),
        contract_slug: contract
            .map(str::to_string)
            .filter(|c| !c.trim().is_empty()),
        area_m2: if area.is_finite() {
            area.round() as i64
        } else {
            0
        },
        bbox: p.bbox().unwrap_or((0.0, 0.0, 0.0, 0.0)),
        geometry,
        properties: serde_json::Value::Object(p.properties.clone()).to_string(),
    }
}

/// Writes what a reader produced; recomputes the correspondence when QPV were imported.
pub async fn store_read_output(
    store: &Store,
    out: ReadOutput,
    source: &str,
    criteria: Option<&str>,
    contract: Option<&str>,
) -> StoreResult<ImportOutcome> {
    let rows: Vec<NewPerimeter> = out
        .perimeters
        .iter()
        .map(|p| to_new_perimeter(p, criteria, contract))
        .collect();
    let counts = if rows.is_empty() {
        WriteCounts::default()
    } else {
        store.upsert_perimeters(&rows, source).await?
    };
    let correspondence = if out.perimeters.iter().any(|p| p.kind == PerimeterKind::Qpv) {
        update_correspondence(store).await?
    } else {
        None
    };
    Ok(ImportOutcome {
        report: out.report,
        counts,
        correspondence,
    })
}

/// The prefix of the codes given to perimeters whose file has none: their name in capitals,
/// without accents, words joined by dashes (« Périmètre d'attention Fives » →
/// `PERIMETRE-D-ATTENTION-FIVES`), at most 40 characters; the kind's name when no name
/// is given.
pub fn code_prefix(name: &str, kind: PerimeterKind) -> String {
    let from = if name.trim().is_empty() {
        kind.label_fr()
    } else {
        name
    };
    let mut code = quartiers_io::text::fold(from)
        .to_uppercase()
        .replace(' ', "-");
    code.truncate(40);
    code.trim_end_matches('-').to_string()
}

/// Imports the shipped national QPV 2024 contours.
pub async fn import_national(store: &Store) -> anyhow::Result<ImportOutcome> {
    let out = tokio::task::spawn_blocking(|| {
        read_geojson_bytes(
            NATIONAL_QPV_2024,
            &ReadOptions {
                generation: Some("2024".into()),
                ..ReadOptions::default()
            },
        )
    })
    .await??;
    Ok(store_read_output(store, out, NATIONAL_QPV_2024_NAME, None, None).await?)
}

/// Imports the shipped national contours when the registry holds no QPV of the 2024
/// generation, the one in force (a fresh platform, or one where only the 2015 layer was
/// imported, which would otherwise answer with 2015 QPV alone).
pub async fn ensure_national(store: &Store) -> anyhow::Result<Option<ImportOutcome>> {
    let generations = store.generations().await?;
    if generations
        .iter()
        .any(|g| g.generation == "2024" && g.count > 0)
    {
        return Ok(None);
    }
    Ok(Some(import_national(store).await?))
}

/// A stored perimeter's code, name and geometry, as the geometry engine takes them (for
/// measures and overlaps: its kind and attributes do not matter there).
fn shape_of(row: &PerimeterRow, geometry: geo::MultiPolygon<f64>) -> Perimeter {
    Perimeter {
        code: row.code.clone(),
        name: row.name.clone(),
        kind: PerimeterKind::Qpv,
        insee_communes: vec![],
        generation: None,
        geometry,
        properties: Default::default(),
    }
}

/// Half the area of the WGS84 ellipsoid, m². No perimeter is that large: a stored area above
/// it was measured by an import before [`Perimeter::area_m2`] oriented the rings, on a file
/// wound clockwise (the shipped national contours are), as the Earth minus the perimeter.
pub const HALF_EARTH_M2: i64 = 255_032_810_862_044;

/// Measures again the perimeters whose stored area is over [`HALF_EARTH_M2`] (registries
/// imported before the fix) and, when QPVs were among them, the 2015 ↔ 2024 correspondence,
/// whose shares depend on the areas. Returns the number of areas mended; a registry without
/// such rows costs one query.
pub async fn mend_complement_areas(store: &Store) -> anyhow::Result<usize> {
    let rows = store.perimeters_with_area_above(HALF_EARTH_M2).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let qpv = rows.iter().any(|r| r.row.kind == "qpv");
    let areas: Vec<(i64, i64)> = rows
        .iter()
        .map(|r| {
            let area = super::parse_geometry(&r.geometry)
                .map(|geometry| quartiers_geo::perimeter::geodesic_area_m2(&geometry))
                .filter(|a| a.is_finite())
                .map_or(0, |a| a.round() as i64);
            (r.row.id, area)
        })
        .collect();
    store.set_perimeter_areas(&areas).await?;
    if qpv {
        update_correspondence(store).await?;
    }
    Ok(areas.len())
}

/// Recomputes the 2015 ↔ 2024 correspondence by overlap when both generations are
/// loaded: each 2015 QPV's bounding box is sampled on a regular grid (about 10,000
/// points, 2 to 25 m apart), and the share of its samples inside each 2024 QPV gives the overlap.
/// Returns the number of links, `None` when one generation is missing.
pub async fn update_correspondence(store: &Store) -> StoreResult<Option<usize>> {
    let rows = store.perimeters_with_geometry().await?;
    let mut p15 = Vec::new();
    let mut p24 = Vec::new();
    let mut area24: HashMap<String, f64> = HashMap::new();
    for r in rows.into_iter().filter(|r| r.row.kind == "qpv") {
        let Some(g) = super::parse_geometry(&r.geometry) else {
            continue;
        };
        let p = shape_of(&r.row, g);
        match r.row.generation.as_str() {
            "2015" => p15.push(p),
            "2024" => {
                area24.insert(r.row.code.clone(), r.row.area_m2 as f64);
                p24.push(p)
            }
            _ => {}
        }
    }
    if p15.is_empty() || p24.is_empty() {
        return Ok(None);
    }
    let lines = tokio::task::spawn_blocking(move || overlap(p15, p24, &area24))
        .await
        .expect("overlap computation");
    store.replace_correspondence(&lines).await?;
    Ok(Some(lines.len()))
}

fn overlap(
    p15: Vec<Perimeter>,
    p24: Vec<Perimeter>,
    area24: &HashMap<String, f64>,
) -> Vec<Correspondence> {
    let bboxes: Vec<_> = p15.iter().map(|p| p.bbox()).collect();
    let codes15: Vec<String> = p15.iter().map(|p| p.code.clone()).collect();
    let i15 = PerimeterIndex::build(p15);
    let i24 = PerimeterIndex::build(p24);
    let mut lines = Vec::new();
    for (id, bbox) in bboxes.into_iter().enumerate() {
        let Some((x0, y0, x1, y1)) = bbox else {
            continue;
        };
        let (kx, ky) = metric_scale((y0 + y1) / 2.0);
        let (w, h) = ((x1 - x0) * kx, (y1 - y0) * ky);
        let step_m = (w * h / 10_000.0).sqrt().clamp(2.0, 25.0);
        let (dx, dy) = (step_m / kx, step_m / ky);
        let mut inside = 0u64;
        let mut both: HashMap<u32, u64> = HashMap::new();
        let mut y = y0 + dy / 2.0;
        while y < y1 {
            let mut x = x0 + dx / 2.0;
            while x < x1 {
                if i15.containing(x, y).contains(&(id as u32)) {
                    inside += 1;
                    for q in i24.containing(x, y) {
                        *both.entry(q).or_default() += 1;
                    }
                }
                x += dx;
            }
            y += dy;
        }
        if inside == 0 {
            continue;
        }
        let cell = step_m * step_m;
        for (q, n) in both {
            let code24 = i24.perimeter(q).code.clone();
            let s15 = n as f64 / inside as f64;
            let s24 = area24
                .get(&code24)
                .filter(|a| **a > 0.0)
                .map(|a| (n as f64 * cell / a).min(1.0))
                .unwrap_or(0.0);
            if s15 >= 0.01 || s24 >= 0.01 {
                lines.push(Correspondence {
                    code_2015: codes15[id].clone(),
                    code_2024: code24,
                    share_of_2015: (s15 * 1000.0).round() / 1000.0,
                    share_of_2024: (s24 * 1000.0).round() / 1000.0,
                });
            }
        }
    }
    lines
}

/// What a BAN import did.
#[derive(Debug, Clone, Default)]
pub struct BanImport {
    /// Addresses stored.
    pub stored: usize,
    /// Unusable rows, with their French message (file: line: message).
    pub errors: Vec<String>,
}

/// Reads BAN CSV files (official format, `;`-separated, gzipped or not) and stores their
/// addresses; unusable rows are reported and skipped.
pub async fn import_ban_paths(
    store: &Store,
    paths: &[std::path::PathBuf],
) -> anyhow::Result<BanImport> {
    let mut result = BanImport::default();
    for path in paths {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let p = path.clone();
        let (addresses, errors) = tokio::task::spawn_blocking(move || read_ban(&p))
            .await?
            .map_err(|e| anyhow::anyhow!("{name} : {e}"))?;
        result
            .errors
            .extend(errors.into_iter().map(|e| format!("{name} : {e}")));
        for chunk in addresses.chunks(5_000) {
            result.stored += store.upsert_ban_addresses(chunk).await?;
        }
    }
    Ok(result)
}

/// Reads BAN rows from any reader.
pub fn read_ban_from<R: Read>(reader: R) -> Result<(Vec<BanAddress>, Vec<String>), BanError> {
    collect_ban(BanReader::new(reader)?)
}

fn read_ban(path: &Path) -> Result<(Vec<BanAddress>, Vec<String>), BanError> {
    collect_ban(BanReader::open(path)?)
}

fn collect_ban<R: Read>(reader: BanReader<R>) -> Result<(Vec<BanAddress>, Vec<String>), BanError> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for r in reader {
        match r {
            Ok(r) => out.push(BanAddress {
                ban_id: r.id,
                numero: i64::from(r.numero),
                rep: r.rep,
                nom_voie: r.nom_voie,
                code_postal: r.code_postal,
                code_insee: r.code_insee,
                nom_commune: r.nom_commune,
                lon: r.lon,
                lat: r.lat,
                alias: r.alias,
                nom_ld: r.nom_ld,
                libelle_acheminement: r.libelle_acheminement,
                nom_afnor: r.nom_afnor,
            }),
            Err(e @ BanError::BadRow { .. }) => errors.push(e.to_string()),
            Err(BanError::Csv(e)) => {
                let line = e.position().map(|p| p.line());
                let at = line.map(|l| format!("ligne {l} : ")).unwrap_or_default();
                match e.kind() {
                    // The stream itself broke (a truncated or damaged gzip archive): nothing
                    // more can be read; the addresses before are kept.
                    csv::ErrorKind::Io(_) => {
                        errors.push(format!(
                            "{at}lecture interrompue : fichier tronqué ou archive gzip \
                             endommagée ; les adresses lues avant sont importées"
                        ));
                        break;
                    }
                    csv::ErrorKind::Utf8 { .. } => {
                        errors.push(format!("{at}texte qui n'est pas de l'UTF-8"))
                    }
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => errors.push(format!("{at}{len} colonnes au lieu de {expected_len}")),
                    _ => errors.push(format!("{at}ligne illisible")),
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok((out, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gives `data`, then fails as a truncated gzip archive does.
    struct BreaksOff<'a> {
        data: &'a [u8],
    }

    impl Read for BreaksOff<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.data.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "incomplete deflate stream",
                ));
            }
            let n = buf.len().min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    #[test]
    fn a_ban_file_that_breaks_off_keeps_what_was_read_and_says_so_in_french() {
        let fixture = include_str!("../../../io/tests/fixtures/ban_fixture.csv");
        let head: String = fixture.lines().take(4).map(|l| format!("{l}\n")).collect();
        let (addresses, errors) = read_ban_from(BreaksOff {
            data: head.as_bytes(),
        })
        .unwrap();
        assert_eq!(addresses.len(), 3);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].ends_with(
                "lecture interrompue : fichier tronqué ou archive gzip endommagée ; les \
                 adresses lues avant sont importées"
            ),
            "{errors:?}"
        );
        assert!(!errors[0].contains("deflate"), "{errors:?}");
    }
}
