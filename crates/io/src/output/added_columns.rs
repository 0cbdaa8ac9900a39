//! What each row gets: the names of the added columns, the status and the caller's
//! [`RowResult`].

use std::borrow::Cow;

/// Names of the columns appended to the input, in order.
pub const ADDED_COLUMNS: [&str; 7] = [
    "qpv_code",
    "qpv_nom",
    "autres_perimetres",
    "statut",
    "distance_qpv_m",
    "score_geocodage",
    "message",
];

/// Outcome of one row, written in the `statut` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `dans un QPV`.
    InQpv,
    /// `hors QPV`.
    OutsideQpv,
    /// `à vérifier` (near a boundary, low geocoding score, street-level match...).
    ToCheck,
    /// `non localisé` (unreadable row, address not found...).
    NotLocated,
}

impl Status {
    /// French label written in the output.
    pub fn label(self) -> &'static str {
        match self {
            Status::InQpv => "dans un QPV",
            Status::OutsideQpv => "hors QPV",
            Status::ToCheck => "à vérifier",
            Status::NotLocated => "non localisé",
        }
    }
}

/// What the caller's [`RowLocator`](super::RowLocator) returns for one row. Text fields are
/// `Cow` so that QPV codes and names can be borrowed from the caller's
/// reference data (lifetime `'r`) without allocating per row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowResult<'r> {
    /// Outcome.
    pub status: Status,
    /// Code of the QPV containing the point (`QN05971M`), or empty.
    pub qpv_code: Cow<'r, str>,
    /// Name of that QPV, or empty.
    pub qpv_nom: Cow<'r, str>,
    /// Other perimeters containing the point (free text, e.g. `QN05970M (2015)`).
    pub autres_perimetres: Cow<'r, str>,
    /// Distance in metres to the nearest QPV boundary, if computed.
    pub distance_qpv_m: Option<f64>,
    /// Geocoding score in [0, 1] when the row was an address.
    pub score_geocodage: Option<f64>,
    /// Free French message (geocoded label, reason for `à vérifier`...).
    pub message: Cow<'r, str>,
}

impl<'r> RowResult<'r> {
    /// A result with only a status.
    pub fn new(status: Status) -> Self {
        RowResult {
            status,
            qpv_code: Cow::Borrowed(""),
            qpv_nom: Cow::Borrowed(""),
            autres_perimetres: Cow::Borrowed(""),
            distance_qpv_m: None,
            score_geocodage: None,
            message: Cow::Borrowed(""),
        }
    }

    /// `dans un QPV` with its code and name.
    pub fn in_qpv(code: impl Into<Cow<'r, str>>, nom: impl Into<Cow<'r, str>>) -> Self {
        RowResult {
            qpv_code: code.into(),
            qpv_nom: nom.into(),
            ..RowResult::new(Status::InQpv)
        }
    }

    /// `non localisé` with a message.
    pub fn not_located(message: impl Into<Cow<'r, str>>) -> Self {
        RowResult {
            message: message.into(),
            ..RowResult::new(Status::NotLocated)
        }
    }
}

/// Output column names, suffixed (`_2`, `_3`...) when the input already has
/// a column of that name (e.g. a file processed twice).
pub(super) fn added_names(headers: &[String]) -> Vec<String> {
    ADDED_COLUMNS
        .iter()
        .map(|&n| {
            let taken = |c: &str| headers.iter().any(|h| h.trim().eq_ignore_ascii_case(c));
            if !taken(n) {
                return n.to_string();
            }
            (2..)
                .map(|i| format!("{n}_{i}"))
                .find(|c| !taken(c))
                .unwrap_or_else(|| n.to_string())
        })
        .collect()
}
