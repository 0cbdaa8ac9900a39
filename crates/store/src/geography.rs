//! Priority geography: the perimeter registry (QPV of every generation and the other
//! perimeters of the contracts), the 2015 ↔ 2024 QPV correspondence, the Base Adresse
//! Nationale extract of the offline geocoder, and the registry version that app servers
//! poll to know when to rebuild their in-memory index.
//!
//! Geometries are stored as GeoJSON text (WGS84 MultiPolygon) so that both engines hold
//! them without a spatial extension; the spatial work happens in memory (quartiers-geo).

use crate::{get_i64, get_opt_str, get_str, now_text, Store, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;

/// A perimeter to write in the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPerimeter {
    /// Code (`QN05971M`, or a code chosen for a user perimeter).
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind: `qpv`, `attention_perimeter`, `renewal_site`, `watch_neighbourhood`, `other`.
    pub kind: String,
    /// Generation (`2024`, `2015`…), empty when not applicable.
    pub generation: String,
    /// INSEE codes of the communes.
    pub communes: Vec<String>,
    /// SIREN of the EPCI, when known.
    pub epci_siren: Option<String>,
    /// Name of the EPCI, when known.
    pub epci_name: Option<String>,
    /// Criteria of the perimeter, in French free text.
    pub criteria: Option<String>,
    /// Contract the perimeter is attached to.
    pub contract_slug: Option<String>,
    /// Area in square metres.
    pub area_m2: i64,
    /// Bounding box (min lon, min lat, max lon, max lat).
    pub bbox: (f64, f64, f64, f64),
    /// GeoJSON geometry text (WGS84).
    pub geometry: String,
    /// Source properties, JSON object text.
    pub properties: String,
}

/// A perimeter of the registry, without its geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct PerimeterRow {
    /// Row id.
    pub id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind (machine name).
    pub kind: String,
    /// Generation, empty when not applicable.
    pub generation: String,
    /// INSEE codes of the communes.
    pub communes: Vec<String>,
    /// SIREN of the EPCI.
    pub epci_siren: Option<String>,
    /// Name of the EPCI.
    pub epci_name: Option<String>,
    /// Criteria text.
    pub criteria: Option<String>,
    /// Attached contract.
    pub contract_slug: Option<String>,
    /// Area in square metres.
    pub area_m2: i64,
    /// Bounding box.
    pub bbox: (f64, f64, f64, f64),
    /// Source file name.
    pub source: String,
    /// Import time.
    pub imported_at: String,
}

/// A perimeter with its geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct PerimeterWithGeometry {
    /// Everything but the geometry.
    pub row: PerimeterRow,
    /// GeoJSON geometry text.
    pub geometry: String,
    /// Source properties (JSON object text).
    pub properties: String,
}

/// A generation of the registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    /// `2024`, `2015`…
    pub generation: String,
    /// French label.
    pub label: String,
    /// Last file imported for it.
    pub source: String,
    /// Time of that import.
    pub imported_at: String,
    /// Number of QPV of that generation.
    pub count: i64,
}

/// One line of the 2015 ↔ 2024 correspondence.
#[derive(Debug, Clone, PartialEq)]
pub struct Correspondence {
    /// 2015 QPV code.
    pub code_2015: String,
    /// 2024 QPV code.
    pub code_2024: String,
    /// Share of the 2015 QPV's area inside the 2024 one (0–1).
    pub share_of_2015: f64,
    /// Share of the 2024 QPV's area inside the 2015 one (0–1).
    pub share_of_2024: f64,
}

/// One address of the Base Adresse Nationale extract.
#[derive(Debug, Clone, PartialEq)]
pub struct BanAddress {
    /// BAN id (`59350_1000_00001`).
    pub ban_id: String,
    /// House number (0 for a street-only record).
    pub numero: i64,
    /// Repetition index (bis, ter…).
    pub rep: String,
    /// Street name.
    pub nom_voie: String,
    /// Postcode.
    pub code_postal: String,
    /// INSEE code of the commune.
    pub code_insee: String,
    /// Commune name.
    pub nom_commune: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
    /// Alias.
    pub alias: String,
    /// Locality name.
    pub nom_ld: String,
    /// Postal routing label.
    pub libelle_acheminement: String,
    /// AFNOR street name.
    pub nom_afnor: String,
}

const ROW_COLUMNS: &str = "id, code, name, kind, generation, communes, epci_siren, epci_name, criteria, contract_slug, area_m2, min_lon, min_lat, max_lon, max_lat, source, imported_at";

fn split_communes(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect()
}

fn with_geometry_from(r: &AnyRow) -> StoreResult<PerimeterWithGeometry> {
    Ok(PerimeterWithGeometry {
        row: row_from(r)?,
        geometry: get_str(r, "geometry")?,
        properties: get_str(r, "properties")?,
    })
}

fn row_from(r: &AnyRow) -> StoreResult<PerimeterRow> {
    Ok(PerimeterRow {
        id: get_i64(r, "id")?,
        code: get_str(r, "code")?,
        name: get_str(r, "name")?,
        kind: get_str(r, "kind")?,
        generation: get_str(r, "generation")?,
        communes: split_communes(&get_str(r, "communes")?),
        epci_siren: get_opt_str(r, "epci_siren")?,
        epci_name: get_opt_str(r, "epci_name")?,
        criteria: get_opt_str(r, "criteria")?,
        contract_slug: get_opt_str(r, "contract_slug")?,
        area_m2: get_i64(r, "area_m2")?,
        bbox: (
            r.try_get::<f64, _>("min_lon")?,
            r.try_get::<f64, _>("min_lat")?,
            r.try_get::<f64, _>("max_lon")?,
            r.try_get::<f64, _>("max_lat")?,
        ),
        source: get_str(r, "source")?,
        imported_at: get_str(r, "imported_at")?,
    })
}

/// Outcome of writing a batch of perimeters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteCounts {
    /// New perimeters.
    pub inserted: usize,
    /// Perimeters that replaced one with the same kind, generation and code.
    pub replaced: usize,
    /// Perimeters not written because their code belongs to another perimeter (see
    /// [`Store::upsert_perimeters`]).
    pub refused: Vec<CodeTaken>,
}

/// A perimeter refused because its code is already another perimeter's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeTaken {
    /// The code.
    pub code: String,
    /// Kind of the perimeter that holds it.
    pub kind: String,
    /// Contract of the perimeter that holds it, if any.
    pub contract_slug: Option<String>,
}

impl Store {
    /// The registry version, incremented by every change of perimeters or addresses.
    pub async fn geo_registry_version(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT version FROM geo_registry WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn bump_geo_version(&self, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> StoreResult<()> {
        sqlx::query("UPDATE geo_registry SET version = version + 1, updated_at = $1 WHERE id = 1")
            .bind(now_text())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// Writes perimeters (replacing those with the same kind, generation and code) and,
    /// for QPV, records their generation; one transaction, registry version bumped.
    ///
    /// A code names one perimeter outside the QPV registry: a perimeter of another kind
    /// (attention perimeter, renewal site...) is refused, and listed in
    /// [`WriteCounts::refused`], when its code is held by a perimeter of another kind or of
    /// another contract (a QPV's code included). So a pilot cannot replace another
    /// contract's perimeter, nor hide a QPV behind a homonym; re-importing a perimeter of
    /// the same kind and contract replaces it.
    pub async fn upsert_perimeters(
        &self,
        perimeters: &[NewPerimeter],
        source: &str,
    ) -> StoreResult<WriteCounts> {
        let now = now_text();
        let mut counts = WriteCounts::default();
        let mut tx = self.pool.begin().await?;
        let mut generations: Vec<&str> = Vec::new();
        for p in perimeters {
            if p.kind != "qpv" {
                let holder = sqlx::query(
                    "SELECT kind, contract_slug FROM geo_perimeters WHERE code = $1 AND (kind <> $2 OR COALESCE(contract_slug, '') <> $3) LIMIT 1",
                )
                .bind(&p.code)
                .bind(&p.kind)
                .bind(p.contract_slug.as_deref().unwrap_or(""))
                .fetch_optional(&mut *tx)
                .await?;
                if let Some(h) = holder {
                    counts.refused.push(CodeTaken {
                        code: p.code.clone(),
                        kind: get_str(&h, "kind")?,
                        contract_slug: get_opt_str(&h, "contract_slug")?,
                    });
                    continue;
                }
            }
            let deleted = sqlx::query(
                "DELETE FROM geo_perimeters WHERE kind = $1 AND generation = $2 AND code = $3",
            )
            .bind(&p.kind)
            .bind(&p.generation)
            .bind(&p.code)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if deleted > 0 {
                counts.replaced += 1;
            } else {
                counts.inserted += 1;
            }
            sqlx::query(
                "INSERT INTO geo_perimeters (code, name, kind, generation, communes, epci_siren, epci_name, criteria, contract_slug, area_m2, min_lon, min_lat, max_lon, max_lat, geometry, properties, source, imported_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(&p.code)
            .bind(&p.name)
            .bind(&p.kind)
            .bind(&p.generation)
            .bind(p.communes.join(","))
            .bind(&p.epci_siren)
            .bind(&p.epci_name)
            .bind(&p.criteria)
            .bind(&p.contract_slug)
            .bind(p.area_m2)
            .bind(p.bbox.0)
            .bind(p.bbox.1)
            .bind(p.bbox.2)
            .bind(p.bbox.3)
            .bind(&p.geometry)
            .bind(&p.properties)
            .bind(source)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            if p.kind == "qpv"
                && !p.generation.is_empty()
                && !generations.contains(&p.generation.as_str())
            {
                generations.push(&p.generation);
            }
        }
        for g in generations {
            sqlx::query("DELETE FROM geo_generations WHERE generation = $1")
                .bind(g)
                .execute(&mut *tx)
                .await?;
            sqlx::query("INSERT INTO geo_generations (generation, label, source, imported_at) VALUES ($1, $2, $3, $4)")
                .bind(g)
                .bind(format!("Quartiers prioritaires, génération {g}"))
                .bind(source)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
        }
        self.bump_geo_version(&mut tx).await?;
        tx.commit().await?;
        Ok(counts)
    }

    /// Number of perimeters of a kind (all kinds when `None`).
    pub async fn count_perimeters(&self, kind: Option<&str>) -> StoreResult<i64> {
        let n = match kind {
            Some(k) => {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM geo_perimeters WHERE kind = $1")
                    .bind(k)
                    .fetch_one(&self.pool)
                    .await?
            }
            None => {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM geo_perimeters")
                    .fetch_one(&self.pool)
                    .await?
            }
        };
        Ok(n)
    }

    /// Every perimeter, without geometry, by kind, generation (newest first) and code.
    pub async fn list_perimeters(&self) -> StoreResult<Vec<PerimeterRow>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS} FROM geo_perimeters ORDER BY kind, generation DESC, code"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(row_from).collect()
    }

    /// Every perimeter with its geometry (index building, downloads).
    pub async fn perimeters_with_geometry(&self) -> StoreResult<Vec<PerimeterWithGeometry>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS}, geometry, properties FROM geo_perimeters ORDER BY id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(with_geometry_from).collect()
    }

    /// The perimeters whose stored area exceeds `area_m2`, with their geometry (to find
    /// and mend areas measured wrongly by an earlier import).
    pub async fn perimeters_with_area_above(
        &self,
        area_m2: i64,
    ) -> StoreResult<Vec<PerimeterWithGeometry>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS}, geometry, properties FROM geo_perimeters WHERE area_m2 > $1 ORDER BY id"
        ))
        .bind(area_m2)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(with_geometry_from).collect()
    }

    /// Sets the area of perimeters `(id, area_m2)`, in one transaction.
    pub async fn set_perimeter_areas(&self, areas: &[(i64, i64)]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        for (id, area) in areas {
            sqlx::query("UPDATE geo_perimeters SET area_m2 = $1 WHERE id = $2")
                .bind(*area)
                .bind(*id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The perimeters with a code (several generations or kinds may share it), newest
    /// generation first.
    pub async fn perimeters_by_code(&self, code: &str) -> StoreResult<Vec<PerimeterWithGeometry>> {
        let rows = sqlx::query(&format!(
            "SELECT {ROW_COLUMNS}, geometry, properties FROM geo_perimeters WHERE code = $1 ORDER BY generation DESC, kind"
        ))
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(with_geometry_from).collect()
    }

    /// The generations loaded, newest first, with their QPV counts.
    pub async fn generations(&self) -> StoreResult<Vec<Generation>> {
        let rows = sqlx::query(
            "SELECT g.generation, g.label, g.source, g.imported_at,
                    (SELECT COUNT(*) FROM geo_perimeters p WHERE p.kind = 'qpv' AND p.generation = g.generation) AS n
             FROM geo_generations g ORDER BY g.generation DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Generation {
                    generation: get_str(r, "generation")?,
                    label: get_str(r, "label")?,
                    source: get_str(r, "source")?,
                    imported_at: get_str(r, "imported_at")?,
                    count: get_i64(r, "n")?,
                })
            })
            .collect()
    }

    /// Replaces the whole 2015 ↔ 2024 correspondence.
    pub async fn replace_correspondence(&self, lines: &[Correspondence]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM geo_correspondence")
            .execute(&mut *tx)
            .await?;
        for l in lines {
            sqlx::query("INSERT INTO geo_correspondence (code_2015, code_2024, share_of_2015, share_of_2024) VALUES ($1, $2, $3, $4)")
                .bind(&l.code_2015)
                .bind(&l.code_2024)
                .bind(l.share_of_2015)
                .bind(l.share_of_2024)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Correspondence lines involving a code (of either generation).
    pub async fn correspondence_of(&self, code: &str) -> StoreResult<Vec<Correspondence>> {
        let rows = sqlx::query(
            "SELECT code_2015, code_2024, share_of_2015, share_of_2024 FROM geo_correspondence
             WHERE code_2015 = $1 OR code_2024 = $1 ORDER BY share_of_2015 DESC",
        )
        .bind(code)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Correspondence {
                    code_2015: get_str(r, "code_2015")?,
                    code_2024: get_str(r, "code_2024")?,
                    share_of_2015: r.try_get::<f64, _>("share_of_2015")?,
                    share_of_2024: r.try_get::<f64, _>("share_of_2024")?,
                })
            })
            .collect()
    }

    /// Number of correspondence lines.
    pub async fn count_correspondence(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM geo_correspondence")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Adds or replaces (by BAN id) addresses; one transaction, registry version bumped.
    pub async fn upsert_ban_addresses(&self, addresses: &[BanAddress]) -> StoreResult<usize> {
        let mut tx = self.pool.begin().await?;
        for a in addresses {
            sqlx::query("DELETE FROM ban_addresses WHERE ban_id = $1")
                .bind(&a.ban_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO ban_addresses (ban_id, numero, rep, nom_voie, code_postal, code_insee, nom_commune, lon, lat, alias, nom_ld, libelle_acheminement, nom_afnor)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
            )
            .bind(&a.ban_id)
            .bind(a.numero)
            .bind(&a.rep)
            .bind(&a.nom_voie)
            .bind(&a.code_postal)
            .bind(&a.code_insee)
            .bind(&a.nom_commune)
            .bind(a.lon)
            .bind(a.lat)
            .bind(&a.alias)
            .bind(&a.nom_ld)
            .bind(&a.libelle_acheminement)
            .bind(&a.nom_afnor)
            .execute(&mut *tx)
            .await?;
        }
        self.bump_geo_version(&mut tx).await?;
        tx.commit().await?;
        Ok(addresses.len())
    }

    /// Every stored address, in insertion order.
    pub async fn ban_addresses(&self) -> StoreResult<Vec<BanAddress>> {
        let rows = sqlx::query(
            "SELECT ban_id, numero, rep, nom_voie, code_postal, code_insee, nom_commune, lon, lat, alias, nom_ld, libelle_acheminement, nom_afnor FROM ban_addresses ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(BanAddress {
                    ban_id: get_str(r, "ban_id")?,
                    numero: get_i64(r, "numero")?,
                    rep: get_str(r, "rep")?,
                    nom_voie: get_str(r, "nom_voie")?,
                    code_postal: get_str(r, "code_postal")?,
                    code_insee: get_str(r, "code_insee")?,
                    nom_commune: get_str(r, "nom_commune")?,
                    lon: r.try_get::<f64, _>("lon")?,
                    lat: r.try_get::<f64, _>("lat")?,
                    alias: get_str(r, "alias")?,
                    nom_ld: get_str(r, "nom_ld")?,
                    libelle_acheminement: get_str(r, "libelle_acheminement")?,
                    nom_afnor: get_str(r, "nom_afnor")?,
                })
            })
            .collect()
    }

    /// Number of stored addresses.
    pub async fn count_ban_addresses(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM ban_addresses")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Changes whenever a contract is created, changed or deleted.
    pub async fn contracts_fingerprint(&self) -> StoreResult<String> {
        let r = sqlx::query("SELECT COUNT(*) AS n, COALESCE(MAX(updated_at), '') AS u, CAST(COALESCE(SUM(version), 0) AS BIGINT) AS v FROM contracts")
            .fetch_one(&self.pool)
            .await?;
        Ok(format!(
            "{}:{}:{}",
            get_i64(&r, "n")?,
            get_str(&r, "u")?,
            get_i64(&r, "v")?
        ))
    }

    /// Contracts with what links a QPV to them: slug, name, pilot SIREN, listed QPV
    /// codes and communes.
    pub async fn contract_geo_links(&self) -> StoreResult<Vec<ContractGeoLink>> {
        let rows = sqlx::query("SELECT id, slug, name, document FROM contracts ORDER BY name, id")
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let doc = crate::contracts::parse_document(&get_str(r, "document")?)?;
            let c = &doc.contract;
            let communes: Vec<String> = sqlx::query_scalar::<_, String>(
                "SELECT insee FROM contract_communes WHERE contract_id = $1",
            )
            .bind(get_i64(r, "id")?)
            .fetch_all(&self.pool)
            .await?;
            out.push(ContractGeoLink {
                slug: get_str(r, "slug")?,
                name: get_str(r, "name")?,
                pilot_siren: c.territory.pilot_siren.as_ref().map(|s| s.to_string()),
                qpv_codes: c
                    .qpvs
                    .iter()
                    .filter_map(|q| q.code.as_ref().map(|c| c.to_string()))
                    .collect(),
                communes,
            });
        }
        Ok(out)
    }
}

/// What ties QPV to a contract (see [`Store::contract_geo_links`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractGeoLink {
    /// Contract slug.
    pub slug: String,
    /// Contract name.
    pub name: String,
    /// SIREN of the pilot EPCI.
    pub pilot_siren: Option<String>,
    /// QPV codes listed by the contract.
    pub qpv_codes: Vec<String>,
    /// INSEE codes of the contract's communes.
    pub communes: Vec<String>,
}

impl ContractGeoLink {
    /// Whether a QPV belongs to this contract: listed by code, or in the pilot EPCI, or
    /// (for commune-level contracts) in one of its communes.
    /// A contract that lists its QPV owns exactly those.
    pub fn covers(&self, code: &str, epci_siren: Option<&str>, communes: &[String]) -> bool {
        if !self.qpv_codes.is_empty() {
            return self.qpv_codes.iter().any(|c| c == code);
        }
        // A QPV spanning several EPCI lists their SIREN comma-separated.
        if let (Some(a), Some(b)) = (self.pilot_siren.as_deref(), epci_siren) {
            if b.split(',').any(|s| s.trim() == a) {
                return true;
            }
        }
        self.pilot_siren.is_none() && communes.iter().any(|c| self.communes.contains(c))
    }
}
