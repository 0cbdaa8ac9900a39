//! Priority geography on the server side: the in-memory snapshot of the registry (the
//! [`PerimeterIndex`] and the BAN geocoder) rebuilt when the registry version stored in the
//! database changes, the answers to "is this point / address / file in a QPV?", and the
//! imports shared by the pages, the API and the command line.

pub mod beneficiaries;
pub mod import;
mod rows;

pub use rows::SnapshotRows;

use quartiers_domain::french::french_decimal;
use quartiers_geo::{Crs, IndexOptions, Location, Perimeter, PerimeterIndex, PerimeterKind};
use quartiers_io::ban::{AddressIndex, BanRecord, GeocodeResult, Precision, CHECK_SCORE};
use quartiers_io::output::Status;
use quartiers_store::geography::{ContractGeoLink, PerimeterWithGeometry};
use quartiers_store::{Store, StoreResult};
use serde::Serialize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

/// Default distance to a boundary under which an answer is `à vérifier`, in metres: the
/// shipped contours are rounded to about 11 m.
pub const DEFAULT_TOLERANCE_M: f64 = 15.0;

/// How often an app server asks the database whether the registry changed.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);

/// The note shown wherever the shipped contours are used.
pub const PRECISION_NOTE: &str = "Les contours livrés avec Quartiers (QPV 2024, ANCT, licence ouverte 2.0) sont arrondis à 4 décimales, soit environ 11 m : une réponse à moins de 15 m d'une limite est marquée « à vérifier ». Pour la précision complète, importez le fichier officiel de l'ANCT (data.gouv.fr, « Quartiers prioritaires de la politique de la ville ») avec « quartiers qpv import FICHIER ».";

/// What the snapshot knows of one perimeter (parallel to the index's perimeters).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Registry row id.
    pub row_id: i64,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: PerimeterKind,
    /// Generation (empty when not applicable).
    pub generation: String,
    /// INSEE codes of its communes.
    pub communes: Vec<String>,
    /// EPCI SIREN.
    pub epci_siren: Option<String>,
    /// Contract it is attached to explicitly.
    pub contract_slug: Option<String>,
    /// A QPV of the current (newest) generation.
    pub current_qpv: bool,
}

impl Entry {
    /// Label of the kind, with the generation for QPV (`QPV 2015`).
    pub fn kind_label(&self) -> String {
        match self.kind {
            PerimeterKind::Qpv if !self.generation.is_empty() => {
                format!("QPV {}", self.generation)
            }
            k => k.label_fr().to_string(),
        }
    }
}

/// An immutable view of the registry: index, entries, geocoder.
pub struct Snapshot {
    /// Registry version it was built from.
    pub version: i64,
    /// The point locator; perimeter ids index [`Snapshot::entries`].
    pub index: PerimeterIndex,
    /// Metadata of each perimeter of the index.
    pub entries: Vec<Entry>,
    /// The offline geocoder.
    pub addresses: AddressIndex,
    /// The newest QPV generation loaded.
    pub current_generation: Option<String>,
    /// Contract links, refreshed by the service when contracts change.
    pub links: RwLock<Arc<Vec<ContractGeoLink>>>,
    /// Fingerprint of the contracts the links were read from.
    pub contracts_fingerprint: RwLock<String>,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("version", &self.version)
            .field("perimeters", &self.entries.len())
            .field("addresses", &self.addresses.len())
            .finish()
    }
}

/// Parses a stored GeoJSON geometry into a multipolygon.
pub fn parse_geometry(text: &str) -> Option<geo::MultiPolygon<f64>> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let ring = |r: &serde_json::Value| -> Option<geo::LineString<f64>> {
        Some(geo::LineString::from(
            r.as_array()?
                .iter()
                .filter_map(|p| {
                    let a = p.as_array()?;
                    Some((a.first()?.as_f64()?, a.get(1)?.as_f64()?))
                })
                .collect::<Vec<_>>(),
        ))
    };
    let poly = |p: &serde_json::Value| -> Option<geo::Polygon<f64>> {
        let rings = p.as_array()?;
        let ext = ring(rings.first()?)?;
        let holes = rings[1..].iter().filter_map(ring).collect();
        Some(geo::Polygon::new(ext, holes))
    };
    let coords = v.get("coordinates")?;
    match v.get("type")?.as_str()? {
        "Polygon" => Some(geo::MultiPolygon(vec![poly(coords)?])),
        "MultiPolygon" => Some(geo::MultiPolygon(
            coords.as_array()?.iter().filter_map(poly).collect(),
        )),
        _ => None,
    }
}

fn ban_record(a: &quartiers_store::geography::BanAddress) -> BanRecord {
    BanRecord {
        id: a.ban_id.clone(),
        id_fantoir: String::new(),
        numero: a.numero.max(0) as u32,
        rep: a.rep.clone(),
        nom_voie: a.nom_voie.clone(),
        code_postal: a.code_postal.clone(),
        code_insee: a.code_insee.clone(),
        nom_commune: a.nom_commune.clone(),
        code_insee_ancienne_commune: String::new(),
        nom_ancienne_commune: String::new(),
        x: None,
        y: None,
        lon: a.lon,
        lat: a.lat,
        type_position: String::new(),
        alias: a.alias.clone(),
        nom_ld: a.nom_ld.clone(),
        libelle_acheminement: a.libelle_acheminement.clone(),
        nom_afnor: a.nom_afnor.clone(),
        source_position: String::new(),
        source_nom_voie: String::new(),
        certification_commune: false,
        cad_parcelles: String::new(),
    }
}

/// A perimeter's contract, if any: the explicit attachment, or for QPV the contract that
/// lists it, whose pilot EPCI holds it, or (commune-level contracts) one of its communes.
pub fn contract_of<'a>(links: &'a [ContractGeoLink], e: &Entry) -> Option<&'a ContractGeoLink> {
    if let Some(slug) = &e.contract_slug {
        return links.iter().find(|l| &l.slug == slug);
    }
    if e.kind != PerimeterKind::Qpv {
        return None;
    }
    links
        .iter()
        .find(|l| l.qpv_codes.iter().any(|c| c == &e.code))
        .or_else(|| {
            links
                .iter()
                .find(|l| l.covers(&e.code, e.epci_siren.as_deref(), &e.communes))
        })
}

/// Answer about one point.
#[derive(Debug, Clone, PartialEq)]
pub struct PointAnswer {
    /// The raw location.
    pub location: Location,
    /// Status.
    pub status: Status,
    /// French message (reason of `à vérifier`, of `non localisé`).
    pub message: String,
}

/// Detects latitude and longitude given in the wrong order for France (metropolitan or
/// overseas), returning the French message.
pub fn swapped_message(lon: f64, lat: f64) -> Option<String> {
    let in_metro = |x: f64, y: f64| (-5.6..=10.0).contains(&x) && (41.2..=51.2).contains(&y);
    if !in_metro(lon, lat) && in_metro(lat, lon) {
        Some(format!(
            "latitude et longitude semblent inversées (longitude {}, latitude {}) : en France métropolitaine la longitude est comprise entre -5,6 et 10 et la latitude entre 41 et 51",
            french_decimal(lon, None),
            french_decimal(lat, None)
        ))
    } else {
        None
    }
}

/// Checks a WGS84 point typed by a user; French message when unusable.
pub fn check_wgs84(lon: f64, lat: f64) -> Result<(), String> {
    if !lon.is_finite() || !lat.is_finite() {
        return Err("coordonnées non numériques".into());
    }
    if !(-180.0..=180.0).contains(&lon) || !(-90.0..=90.0).contains(&lat) {
        return Err(format!(
            "coordonnées hors limites (longitude {}, latitude {}) : la longitude doit être comprise entre -180 et 180, la latitude entre -90 et 90",
            french_decimal(lon, None),
            french_decimal(lat, None)
        ));
    }
    if let Some(m) = swapped_message(lon, lat) {
        return Err(m);
    }
    Ok(())
}

/// Turns Lambert-93 metres into WGS84 degrees; French message when unusable.
pub fn lambert93_to_wgs84(x: f64, y: f64) -> Result<(f64, f64), String> {
    if !x.is_finite() || !y.is_finite() {
        return Err("coordonnées non numériques".into());
    }
    let in_range = |x: f64, y: f64| {
        (0.0..=1_500_000.0).contains(&x) && (5_900_000.0..=7_300_000.0).contains(&y)
    };
    if !in_range(x, y) {
        if in_range(y, x) {
            return Err(format!("X et Y semblent inversés (X {x}, Y {y}) : en Lambert-93 X est compris entre 0 et 1 500 000 m, Y entre 5 900 000 et 7 300 000 m"));
        }
        return Err(format!("coordonnées Lambert-93 hors limites (X {x}, Y {y}) : X doit être compris entre 0 et 1 500 000 m, Y entre 5 900 000 et 7 300 000 m"));
    }
    let t = Crs::Lambert93.to_wgs84().map_err(|e| e.to_string())?;
    t.transform(x, y).map_err(|e| e.to_string())
}

impl Snapshot {
    /// A snapshot of an index built outside any database (the benchmark, tests): every
    /// perimeter of `generation`, its QPVs the current ones, no address, no contract
    /// link.
    pub fn of_index(index: PerimeterIndex, generation: &str) -> Snapshot {
        Snapshot {
            version: 0,
            entries: index
                .perimeters()
                .iter()
                .enumerate()
                .map(|(i, p)| Entry {
                    row_id: i as i64,
                    code: p.code.clone(),
                    name: p.name.clone(),
                    kind: p.kind,
                    generation: generation.to_string(),
                    communes: p.insee_communes.clone(),
                    epci_siren: None,
                    contract_slug: None,
                    current_qpv: p.kind == PerimeterKind::Qpv,
                })
                .collect(),
            index,
            addresses: Default::default(),
            current_generation: Some(generation.to_string()),
            links: Default::default(),
            contracts_fingerprint: Default::default(),
        }
    }

    /// Builds a snapshot from rows read in the database (CPU-heavy: call from a blocking
    /// thread).
    pub fn build(
        version: i64,
        rows: Vec<PerimeterWithGeometry>,
        addresses: Vec<quartiers_store::geography::BanAddress>,
        links: Vec<ContractGeoLink>,
        tolerance_m: f64,
    ) -> Snapshot {
        let current_generation = rows
            .iter()
            .filter(|r| r.row.kind == "qpv")
            .map(|r| r.row.generation.clone())
            .max();
        let mut perimeters = Vec::with_capacity(rows.len());
        let mut entries = Vec::with_capacity(rows.len());
        for r in rows {
            let Some(geometry) = parse_geometry(&r.geometry) else {
                tracing::warn!(code = %r.row.code, "stored geometry unreadable, skipped");
                continue;
            };
            let kind = PerimeterKind::parse(&r.row.kind).unwrap_or(PerimeterKind::Other);
            let current_qpv = kind == PerimeterKind::Qpv
                && Some(&r.row.generation) == current_generation.as_ref();
            // Only the current generation counts as QPV for status and nearest QPV.
            let index_kind = if kind == PerimeterKind::Qpv && !current_qpv {
                PerimeterKind::Other
            } else {
                kind
            };
            perimeters.push(Perimeter {
                code: r.row.code.clone(),
                name: r.row.name.clone(),
                kind: index_kind,
                insee_communes: r.row.communes.clone(),
                generation: Some(r.row.generation.clone()).filter(|g| !g.is_empty()),
                geometry,
                properties: serde_json::Map::new(),
            });
            entries.push(Entry {
                row_id: r.row.id,
                code: r.row.code,
                name: r.row.name,
                kind,
                generation: r.row.generation,
                communes: r.row.communes,
                epci_siren: r.row.epci_siren,
                contract_slug: r.row.contract_slug,
                current_qpv,
            });
        }
        let index = PerimeterIndex::build_with(
            perimeters,
            IndexOptions {
                boundary_tolerance_m: tolerance_m,
                ..IndexOptions::default()
            },
        );
        let records: Vec<BanRecord> = addresses.iter().map(ban_record).collect();
        let addresses = AddressIndex::from_records(records.iter());
        Snapshot {
            version,
            index,
            entries,
            addresses,
            current_generation,
            links: RwLock::new(Arc::new(links)),
            contracts_fingerprint: RwLock::new(String::new()),
        }
    }

    /// The contract links.
    pub fn links(&self) -> Arc<Vec<ContractGeoLink>> {
        self.links.read().unwrap().clone()
    }

    /// Loads a snapshot straight from the database (command line).
    pub async fn load(store: &Store, tolerance_m: f64) -> StoreResult<Snapshot> {
        let version = store.geo_registry_version().await?;
        let rows = store.perimeters_with_geometry().await?;
        let addresses = store.ban_addresses().await?;
        let fingerprint = store.contracts_fingerprint().await?;
        let links = store.contract_geo_links().await?;
        let snap = tokio::task::spawn_blocking(move || {
            Snapshot::build(version, rows, addresses, links, tolerance_m)
        })
        .await
        .expect("snapshot build");
        *snap.contracts_fingerprint.write().unwrap() = fingerprint;
        Ok(snap)
    }

    /// Locates a WGS84 point (already checked).
    pub fn locate_point(&self, lon: f64, lat: f64) -> PointAnswer {
        self.answer_for(lon, lat, self.index.locate(lon, lat))
    }

    /// The answer for a WGS84 point whose location the index has given.
    fn answer_for(&self, lon: f64, lat: f64, location: Location) -> PointAnswer {
        let in_qpv = location
            .containing
            .iter()
            .any(|&id| self.entries[id as usize].current_qpv);
        let tolerance = format!(
            "{} m",
            french_decimal(self.index.options().boundary_tolerance_m, None)
        );
        let (status, message) = if in_qpv {
            // The index's flag may come from another layer (older QPV, attention
            // perimeters), which must not make the answer « à vérifier ». Outside,
            // `nearest_qpv` (current QPV only) says whether a QPV boundary is near.
            if location.near_boundary && self.index.near_qpv_boundary(lon, lat) {
                (
                    Status::ToCheck,
                    format!("dans un QPV, mais à moins de {tolerance} d'une limite"),
                )
            } else {
                (Status::InQpv, String::new())
            }
        } else if location.near_boundary
            && location
                .nearest_qpv
                .is_some_and(|(_, d)| d <= self.index.options().boundary_tolerance_m)
        {
            (
                Status::ToCheck,
                format!("hors QPV, mais à moins de {tolerance} d'une limite de QPV"),
            )
        } else if location.containing.is_empty() {
            match swapped_message(lon, lat) {
                Some(m) => (Status::NotLocated, m),
                None => (Status::OutsideQpv, String::new()),
            }
        } else {
            (Status::OutsideQpv, String::new())
        };
        PointAnswer {
            location,
            status,
            message,
        }
    }

    /// The current QPV containing a located point, if any.
    pub fn qpv_of(&self, loc: &Location) -> Option<&Entry> {
        loc.containing
            .iter()
            .map(|&id| &self.entries[id as usize])
            .find(|e| e.current_qpv)
    }

    /// The other perimeters containing a point (other kinds, older generations).
    pub fn others_of<'a>(&'a self, loc: &'a Location) -> impl Iterator<Item = &'a Entry> + 'a {
        let first_qpv = self.qpv_of(loc).map(|e| e.row_id);
        loc.containing
            .iter()
            .map(|&id| &self.entries[id as usize])
            .filter(move |e| Some(e.row_id) != first_qpv)
    }

    /// The full answer for one point, for the pages and the API.
    pub fn answer(&self, lon: f64, lat: f64, geocoding: Option<&GeocodeResult>) -> LocateAnswer {
        let links = self.links();
        let a = self.locate_point(lon, lat);
        let mut status = a.status;
        let mut message = a.message.clone();
        if let Some(doubt) =
            geocoding.and_then(|g| geocoding_doubt(status, g.precision == Precision::Voie, g.score))
        {
            status = Status::ToCheck;
            message = join_msg(&doubt, &message);
        }
        let pref = |e: &Entry| PerimeterRef {
            code: e.code.clone(),
            name: e.name.clone(),
            kind: e.kind.as_str().to_string(),
            kind_label: e.kind_label(),
            generation: Some(e.generation.clone()).filter(|g| !g.is_empty()),
            contract: contract_of(&links, e).map(|l| ContractRef {
                slug: l.slug.clone(),
                name: l.name.clone(),
            }),
        };
        LocateAnswer {
            status: status_code(status).into(),
            status_label: status.label().into(),
            lon: Some(lon),
            lat: Some(lat),
            qpv: a
                .location
                .containing
                .iter()
                .map(|&id| &self.entries[id as usize])
                .filter(|e| e.current_qpv)
                .map(pref)
                .collect(),
            perimeters: a
                .location
                .containing
                .iter()
                .map(|&id| &self.entries[id as usize])
                .filter(|e| !e.current_qpv)
                .map(pref)
                .collect(),
            nearest_qpv: a.location.nearest_qpv.map(|(id, d)| {
                let e = &self.entries[id as usize];
                NearestQpv {
                    code: e.code.clone(),
                    name: e.name.clone(),
                    distance_m: (d * 10.0).round() / 10.0,
                }
            }),
            near_boundary: a.location.near_boundary,
            geocoding: geocoding.map(|g| GeocodingInfo {
                label: g.label.clone(),
                score: (g.score * 100.0).round() / 100.0,
                precision: g.precision.as_str().to_string(),
            }),
            message: Some(message).filter(|m| !m.is_empty()),
        }
    }

    /// An answer for an input that could not be placed.
    pub fn not_located(message: String, geocoding: Option<&GeocodeResult>) -> LocateAnswer {
        LocateAnswer {
            status: status_code(Status::NotLocated).into(),
            status_label: Status::NotLocated.label().into(),
            lon: None,
            lat: None,
            qpv: vec![],
            perimeters: vec![],
            nearest_qpv: None,
            near_boundary: false,
            geocoding: geocoding.map(|g| GeocodingInfo {
                label: g.label.clone(),
                score: g.score,
                precision: g.precision.as_str().to_string(),
            }),
            message: Some(message),
        }
    }

    /// Geocodes an address and answers for it.
    pub fn answer_address(&self, text: &str) -> LocateAnswer {
        if text.trim().is_empty() {
            return Self::not_located("adresse vide".into(), None);
        }
        if self.addresses.is_empty() {
            return Self::not_located("Aucune adresse de la Base Adresse Nationale n'est chargée sur cette plateforme : saisissez des coordonnées, ou importez un extrait de la BAN (quartiers ban import).".into(), None);
        }
        let geocoding = self.addresses.geocode(text);
        let note = geocoding.message();
        match geocoding.result() {
            None => Self::not_located(
                format!("« {} » : {}.", text.trim(), note.unwrap_or_default()),
                None,
            ),
            Some(g) => {
                let mut a = self.answer(g.lon, g.lat, Some(g));
                // Ambiguous: equally good matches elsewhere, never a certain answer.
                if let Some(note) = note.filter(|_| a.status != status_code(Status::NotLocated)) {
                    a.status = status_code(Status::ToCheck).into();
                    a.status_label = Status::ToCheck.label().into();
                    a.message = Some(join_msg(&note, a.message.as_deref().unwrap_or_default()));
                }
                a
            }
        }
    }

    /// Index of a code among the entries (current generation first).
    pub fn entry_by_code(&self, code: &str) -> Option<(usize, &Entry)> {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.code == code)
            .max_by_key(|(_, e)| (e.current_qpv, e.generation.clone()))
    }
}

/// Why a located answer is only « à vérifier » because of its geocoding: the street's
/// position (no house number), or a score under [`CHECK_SCORE`], the same threshold for the
/// offline geocoder and for files geocoded by the national service. `None` when the
/// geocoding is sure, or the point is not located anyway.
pub(super) fn geocoding_doubt(status: Status, street_only: bool, score: f64) -> Option<String> {
    if status == Status::NotLocated {
        None
    } else if street_only {
        Some("position de la voie : le numéro est absent ou introuvable, or une voie peut être en partie dans un QPV".into())
    } else if score < CHECK_SCORE {
        Some(format!(
            "score de géocodage faible ({}) : position à vérifier",
            french_decimal(score, Some(2))
        ))
    } else {
        None
    }
}

pub(super) fn join_msg(a: &str, b: &str) -> String {
    if b.is_empty() {
        a.to_string()
    } else {
        format!("{a} ; {b}")
    }
}

/// Machine code of a status.
pub fn status_code(s: Status) -> &'static str {
    match s {
        Status::InQpv => "in_qpv",
        Status::OutsideQpv => "outside_qpv",
        Status::ToCheck => "to_check",
        Status::NotLocated => "not_located",
    }
}

/// A contract, by slug and name.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContractRef {
    /// Slug (`/contrats/{slug}`).
    pub slug: String,
    /// Name.
    pub name: String,
}

/// A perimeter in an answer.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct PerimeterRef {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Kind: `qpv`, `attention_perimeter`, `renewal_site`, `watch_neighbourhood`, `other`.
    pub kind: String,
    /// French label of the kind.
    pub kind_label: String,
    /// Generation, for QPV.
    pub generation: Option<String>,
    /// Contract.
    pub contract: Option<ContractRef>,
}

/// The nearest QPV.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct NearestQpv {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Distance in metres (0 inside).
    pub distance_m: f64,
}

/// How an address was geocoded.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct GeocodingInfo {
    /// Address found.
    pub label: String,
    /// Score (0–1).
    pub score: f64,
    /// `numero` (house number) or `voie` (street position).
    pub precision: String,
}

/// Answer of "is this place in a QPV?".
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LocateAnswer {
    /// `in_qpv`, `outside_qpv`, `to_check` or `not_located`.
    pub status: String,
    /// `dans un QPV`, `hors QPV`, `à vérifier` or `non localisé`.
    pub status_label: String,
    /// WGS84 longitude used.
    pub lon: Option<f64>,
    /// WGS84 latitude used.
    pub lat: Option<f64>,
    /// QPV of the current generation containing the point (boundary included).
    pub qpv: Vec<PerimeterRef>,
    /// Other perimeters containing the point (other kinds, older QPV generations).
    pub perimeters: Vec<PerimeterRef>,
    /// Nearest QPV within 500 m.
    pub nearest_qpv: Option<NearestQpv>,
    /// Within the tolerance of a boundary.
    pub near_boundary: bool,
    /// Geocoding of an address.
    pub geocoding: Option<GeocodingInfo>,
    /// French explanation.
    pub message: Option<String>,
}

/// The shared, self-refreshing snapshot of an app server.
pub struct GeoService {
    store: Store,
    tolerance_m: f64,
    current: RwLock<Option<Arc<Snapshot>>>,
    last_check: Mutex<Option<Instant>>,
    rebuild: tokio::sync::Mutex<()>,
    builds: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for GeoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeoService")
            .field("tolerance_m", &self.tolerance_m)
            .finish()
    }
}

impl GeoService {
    /// A service over `store`; the snapshot is built by [`GeoService::build_now`] or at
    /// the first request.
    pub fn new(store: Store, tolerance_m: f64) -> Self {
        GeoService {
            store,
            tolerance_m,
            current: RwLock::new(None),
            last_check: Mutex::new(None),
            rebuild: tokio::sync::Mutex::new(()),
            builds: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// A shared service with the default tolerance.
    pub fn shared(store: &Store) -> Arc<GeoService> {
        Arc::new(GeoService::new(store.clone(), DEFAULT_TOLERANCE_M))
    }

    /// Forgets when the registry was last checked, so that the next request checks it.
    pub fn invalidate(&self) {
        *self.last_check.lock().unwrap() = None;
    }

    /// The current snapshot, rebuilt when the registry version changed (checked at most
    /// every [`CHECK_EVERY`]).
    pub async fn snapshot(&self) -> StoreResult<Arc<Snapshot>> {
        let fresh = |s: &Self| {
            s.last_check
                .lock()
                .unwrap()
                .is_some_and(|t| t.elapsed() < CHECK_EVERY)
        };
        if fresh(self) {
            if let Some(s) = self.current.read().unwrap().clone() {
                return Ok(s);
            }
        }
        let _guard = self.rebuild.lock().await;
        if fresh(self) {
            if let Some(s) = self.current.read().unwrap().clone() {
                return Ok(s);
            }
        }
        let version = self.store.geo_registry_version().await?;
        let existing = self.current.read().unwrap().clone();
        let existing_version = existing.as_ref().map(|s| s.version);
        if let Some(s) = existing.filter(|s| s.version == version) {
            let fingerprint = self.store.contracts_fingerprint().await?;
            if *s.contracts_fingerprint.read().unwrap() != fingerprint {
                let links = self.store.contract_geo_links().await?;
                *s.links.write().unwrap() = Arc::new(links);
                *s.contracts_fingerprint.write().unwrap() = fingerprint;
            }
            *self.last_check.lock().unwrap() = Some(Instant::now());
            return Ok(s);
        }
        let why = if existing_version.is_some() {
            "registry changed"
        } else {
            "first request"
        };
        self.rebuild_locked(why).await
    }

    /// Builds the snapshot now (at start-up, before listening), logging the build time;
    /// later registry changes are still picked up by [`GeoService::snapshot`].
    pub async fn build_now(&self) -> StoreResult<Arc<Snapshot>> {
        let _guard = self.rebuild.lock().await;
        self.rebuild_locked("start-up").await
    }

    /// The snapshot built so far, without checking the registry (`None` before the first
    /// build).
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.read().unwrap().clone()
    }

    /// How many snapshots this service has built.
    pub fn builds(&self) -> u64 {
        self.builds.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn rebuild_locked(&self, why: &str) -> StoreResult<Arc<Snapshot>> {
        let t = Instant::now();
        let snap = Arc::new(Snapshot::load(&self.store, self.tolerance_m).await?);
        tracing::info!(
            reason = why,
            version = snap.version,
            perimeters = snap.entries.len(),
            addresses = snap.addresses.len(),
            build_ms = t.elapsed().as_millis() as u64,
            "geography index built in {:.2} s",
            t.elapsed().as_secs_f64()
        );
        *self.current.write().unwrap() = Some(snap.clone());
        *self.last_check.lock().unwrap() = Some(Instant::now());
        self.builds
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(snap)
    }
}
