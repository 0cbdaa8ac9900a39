//! Which columns hold the location of a row: detected from the header, or named by
//! the user, and described in French.

use super::header_names::{classify_address, classify_lat, classify_lon, classify_xy};
use super::TableError;
use crate::text::header_key;

/// How the location columns are chosen. Anything but `Auto` overrides
/// detection. Column names are matched exactly first, then ignoring case,
/// accents and punctuation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnSpec {
    /// Detect from the header.
    #[default]
    Auto,
    /// WGS84 longitude and latitude columns.
    LonLat {
        /// Longitude column name.
        lon: String,
        /// Latitude column name.
        lat: String,
    },
    /// Lambert-93 (EPSG:2154) x and y columns.
    Lambert93 {
        /// Easting column name.
        x: String,
        /// Northing column name.
        y: String,
    },
    /// Address columns, concatenated in this order with spaces.
    Address(Vec<String>),
}

/// Which columns hold a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointColumns {
    /// WGS84 degrees.
    LonLat {
        /// Longitude column index.
        lon: usize,
        /// Latitude column index.
        lat: usize,
    },
    /// Lambert-93 metres.
    Lambert93 {
        /// x column index.
        x: usize,
        /// y column index.
        y: usize,
    },
    /// Columns merely named `x`/`y`: a row whose values fit in degree ranges
    /// (|x| ≤ 180, |y| ≤ 90) is read as WGS84, otherwise as Lambert-93.
    XyAuto {
        /// x column index.
        x: usize,
        /// y column index.
        y: usize,
    },
}

/// Role of an address column; the composed address follows this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddressPart {
    /// Full address line (`adresse`).
    Full,
    /// House number (`numero`).
    Numero,
    /// Repetition index (`rep`: bis, ter...).
    Rep,
    /// Street type (`type_voie`).
    TypeVoie,
    /// Street name (`voie`, `nom_voie`, `rue`).
    Voie,
    /// Postcode (`code_postal`, `cp`).
    CodePostal,
    /// Commune name (`commune`, `ville`).
    Commune,
}

impl AddressPart {
    fn label(self) -> &'static str {
        match self {
            AddressPart::Full => "adresse",
            AddressPart::Numero => "numéro",
            AddressPart::Rep => "indice de répétition",
            AddressPart::TypeVoie => "type de voie",
            AddressPart::Voie => "voie",
            AddressPart::CodePostal => "code postal",
            AddressPart::Commune => "commune",
        }
    }
}

/// Columns of the national geocoding service's CSV output
/// (`latitude`, `longitude`, `result_score`, `result_label`, `result_status`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeocoderColumns {
    /// `result_score`.
    pub score: usize,
    /// `result_label`.
    pub label: Option<usize>,
    /// `result_status` (`ok`, `not-found`, `skipped`...).
    pub status: Option<usize>,
}

/// Result of [`detect_columns`]: where to read the location of each row.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    /// The file's header, as read.
    pub headers: Vec<String>,
    /// Point columns, if any.
    pub point: Option<PointColumns>,
    /// Present when the file is the national geocoder's output.
    pub geocoder: Option<GeocoderColumns>,
    /// Address columns in composition order (used when there is no point,
    /// or when a row's point cells are both empty).
    pub address: Vec<(AddressPart, usize)>,
    /// `true` when the mapping comes from a [`ColumnSpec`] rather than detection.
    pub explicit: bool,
}

fn find_column(headers: &[String], name: &str) -> Result<usize, TableError> {
    if let Some(i) = headers.iter().position(|h| h.trim() == name.trim()) {
        return Ok(i);
    }
    let key = header_key(name);
    headers
        .iter()
        .position(|h| header_key(h) == key)
        .ok_or_else(|| TableError::ColumnNotFound {
            name: name.to_string(),
            available: headers.join(", "),
        })
}

/// Finds the location columns of a header, or applies an explicit spec.
///
/// Priority: explicit spec; national geocoder output (`latitude`,
/// `longitude`, `result_score`); lon/lat; x/y; address columns only.
/// Address columns are kept alongside a point as a fallback for rows whose
/// coordinates are empty.
pub fn detect_columns(headers: &[String], spec: &ColumnSpec) -> Result<ColumnMapping, TableError> {
    let mut mapping = ColumnMapping {
        headers: headers.to_vec(),
        point: None,
        geocoder: None,
        address: Vec::new(),
        explicit: !matches!(spec, ColumnSpec::Auto),
    };
    match spec {
        ColumnSpec::LonLat { lon, lat } => {
            mapping.point = Some(PointColumns::LonLat {
                lon: find_column(headers, lon)?,
                lat: find_column(headers, lat)?,
            });
            return Ok(mapping);
        }
        ColumnSpec::Lambert93 { x, y } => {
            mapping.point = Some(PointColumns::Lambert93 {
                x: find_column(headers, x)?,
                y: find_column(headers, y)?,
            });
            return Ok(mapping);
        }
        ColumnSpec::Address(cols) => {
            for c in cols {
                mapping
                    .address
                    .push((AddressPart::Full, find_column(headers, c)?));
            }
            if mapping.address.is_empty() {
                return Err(TableError::NoLocationColumns(
                    "aucune colonne d'adresse indiquée".to_string(),
                ));
            }
            return Ok(mapping);
        }
        ColumnSpec::Auto => {}
    }
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let first = |f: &dyn Fn(&str) -> bool| keys.iter().position(|k| f(k));
    let lon = first(&classify_lon);
    let lat = first(&classify_lat);
    if let (Some(lon), Some(lat)) = (lon, lat) {
        mapping.point = Some(PointColumns::LonLat { lon, lat });
        if let Some(score) = first(&|k| k == "result_score") {
            mapping.geocoder = Some(GeocoderColumns {
                score,
                label: first(&|k| k == "result_label"),
                status: first(&|k| k == "result_status"),
            });
        }
    } else {
        let x = keys
            .iter()
            .enumerate()
            .find_map(|(i, k)| classify_xy(k, 'x').map(|l| (i, l)));
        let y = keys
            .iter()
            .enumerate()
            .find_map(|(i, k)| classify_xy(k, 'y').map(|l| (i, l)));
        if let (Some((x, lx)), Some((y, ly))) = (x, y) {
            mapping.point = Some(if lx || ly {
                PointColumns::Lambert93 { x, y }
            } else {
                PointColumns::XyAuto { x, y }
            });
        }
    }
    if mapping.geocoder.is_none() {
        let mut seen = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if let Some(part) = classify_address(k) {
                if !seen.contains(&part) {
                    seen.push(part);
                    mapping.address.push((part, i));
                }
            }
        }
        mapping.address.sort_by_key(|(p, _)| *p);
        let usable = mapping
            .address
            .iter()
            .any(|(p, _)| matches!(p, AddressPart::Full | AddressPart::Voie));
        if !usable {
            mapping.address.clear();
        }
    }
    if mapping.point.is_none() && mapping.address.is_empty() {
        return Err(TableError::NoLocationColumns(format!(
            "Aucune colonne de localisation reconnue. Colonnes du fichier : {}. \
             Attendu : longitude et latitude (lon, lat, longitude, latitude...), \
             x et y en Lambert-93, ou une adresse (adresse, ou numero + voie + code_postal + commune). \
             Vous pouvez aussi désigner les colonnes à utiliser.",
            if headers.is_empty() { "(aucune)".to_string() } else { headers.iter().map(|h| format!("« {h} »")).collect::<Vec<_>>().join(", ") }
        )));
    }
    Ok(mapping)
}

impl ColumnMapping {
    /// French description of the columns used, for the summary and the UI.
    pub fn describe(&self) -> String {
        let h = |i: usize| {
            format!(
                "« {} »",
                self.headers.get(i).map(String::as_str).unwrap_or("?")
            )
        };
        let mut parts = Vec::new();
        match self.point {
            Some(PointColumns::LonLat { lon, lat }) => {
                if let Some(g) = self.geocoder {
                    parts.push(format!(
                        "fichier déjà géocodé par le service national : longitude {}, latitude {}, score {}",
                        h(lon),
                        h(lat),
                        h(g.score)
                    ));
                } else {
                    parts.push(format!("longitude {}, latitude {} (WGS84)", h(lon), h(lat)));
                }
            }
            Some(PointColumns::Lambert93 { x, y }) => {
                parts.push(format!("x {}, y {} (Lambert-93)", h(x), h(y)))
            }
            Some(PointColumns::XyAuto { x, y }) => parts.push(format!(
                "x {}, y {} (Lambert-93, ou WGS84 si les valeurs sont en degrés)",
                h(x),
                h(y)
            )),
            None => {}
        }
        if !self.address.is_empty() {
            let cols = self
                .address
                .iter()
                .map(|(p, i)| {
                    if self.explicit {
                        h(*i)
                    } else {
                        format!("{} {}", p.label(), h(*i))
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ");
            if self.point.is_some() {
                parts.push(format!("adresse {cols} si les coordonnées sont vides"));
            } else {
                parts.push(format!("adresse : {cols}"));
            }
        }
        format!("Colonnes utilisées : {}", parts.join(" ; "))
    }
}
