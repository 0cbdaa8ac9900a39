//! One row read through a [`ColumnMapping`]: the point or address it gives, or the
//! French reason it cannot be read.

use super::{ColumnMapping, PointColumns, Record};
use crate::text::parse_decimal;

/// Per-row scratch buffers reused by [`ColumnMapping::interpret`], so that
/// interpreting a row does not allocate.
#[derive(Debug, Default)]
pub struct RowScratch {
    address: String,
    message: String,
}

/// What the caller's locate function receives for one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowInput<'a> {
    /// A WGS84 point (degrees).
    Wgs84 {
        /// Longitude.
        lon: f64,
        /// Latitude.
        lat: f64,
        /// Present when the row comes from the national geocoder's output.
        geocoded: Option<Geocoded<'a>>,
    },
    /// A Lambert-93 point (metres); the caller transforms it.
    Lambert93 {
        /// Easting.
        x: f64,
        /// Northing.
        y: f64,
    },
    /// Free address text, to be geocoded by the caller.
    Address(&'a str),
    /// The row could not be read; French explanation (without line number).
    Invalid(&'a str),
}

/// Geocoding information carried by the national geocoder's CSV output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geocoded<'a> {
    /// `result_score` in [0, 1], if readable.
    pub score: Option<f64>,
    /// `result_label` (may be empty).
    pub label: &'a str,
}

/// Access to the decoded cells of a row, whatever the file format.
pub trait Fields<'a> {
    /// Cell `i` as text, `None` past the end of the row.
    fn field(&self, i: usize) -> Option<&'a str>;
}

impl<'a> Fields<'a> for Record<'a> {
    fn field(&self, i: usize) -> Option<&'a str> {
        self.get(i)
    }
}

impl<'a> Fields<'a> for &'a [String] {
    fn field(&self, i: usize) -> Option<&'a str> {
        self.get(i).map(String::as_str)
    }
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl ColumnMapping {
    /// Interprets one row. `scratch` buffers are reused between rows; the
    /// returned [`RowInput`] may borrow them.
    pub fn interpret<'a, F: Fields<'a>>(
        &self,
        row: &F,
        scratch: &'a mut RowScratch,
    ) -> RowInput<'a> {
        let RowScratch { address, message } = scratch;
        let cell = |i: usize| row.field(i).unwrap_or("").trim();
        if let Some(point) = self.point {
            let (a, b) = match point {
                PointColumns::LonLat { lon, lat } => (cell(lon), cell(lat)),
                PointColumns::Lambert93 { x, y } | PointColumns::XyAuto { x, y } => {
                    (cell(x), cell(y))
                }
            };
            if a.is_empty() && b.is_empty() {
                if let Some(g) = self.geocoder {
                    message.clear();
                    let status = g.status.map(cell).unwrap_or("");
                    if status.is_empty() {
                        message
                            .push_str("adresse non trouvée par le géocodeur (coordonnées vides)");
                    } else {
                        message.push_str("adresse non trouvée par le géocodeur (statut « ");
                        message.push_str(status);
                        message.push_str(" »)");
                    }
                    return RowInput::Invalid(message);
                }
                if self.address.is_empty() {
                    return RowInput::Invalid("coordonnées vides");
                }
                // Fall through to the address columns.
            } else {
                let (va, vb) = (parse_decimal(a), parse_decimal(b));
                let (Some(va), Some(vb)) = (va, vb) else {
                    message.clear();
                    message.push_str("coordonnées illisibles : « ");
                    message.push_str(a);
                    message.push_str(" » ; « ");
                    message.push_str(b);
                    message.push_str(" »");
                    return RowInput::Invalid(message);
                };
                let as_wgs84 = match point {
                    PointColumns::LonLat { .. } => true,
                    PointColumns::Lambert93 { .. } => false,
                    PointColumns::XyAuto { .. } => va.abs() <= 180.0 && vb.abs() <= 90.0,
                };
                if as_wgs84 {
                    if !(-180.0..=180.0).contains(&va) || !(-90.0..=90.0).contains(&vb) {
                        message.clear();
                        message.push_str("coordonnées hors limites (longitude ");
                        message.push_str(&fmt_num(va));
                        message.push_str(", latitude ");
                        message.push_str(&fmt_num(vb));
                        message.push(')');
                        return RowInput::Invalid(message);
                    }
                    let geocoded = self.geocoder.map(|g| Geocoded {
                        score: parse_decimal(cell(g.score)),
                        label: g.label.map(cell).unwrap_or(""),
                    });
                    return RowInput::Wgs84 {
                        lon: va,
                        lat: vb,
                        geocoded,
                    };
                }
                if !(0.0..=1_500_000.0).contains(&va) || !(5_900_000.0..=7_300_000.0).contains(&vb)
                {
                    message.clear();
                    message.push_str(
                        "coordonnées hors de la France métropolitaine en Lambert-93 (x = ",
                    );
                    message.push_str(&fmt_num(va));
                    message.push_str(", y = ");
                    message.push_str(&fmt_num(vb));
                    message.push(')');
                    return RowInput::Invalid(message);
                }
                return RowInput::Lambert93 { x: va, y: vb };
            }
        }
        address.clear();
        for &(_, i) in &self.address {
            let v = cell(i);
            if !v.is_empty() {
                if !address.is_empty() {
                    address.push(' ');
                }
                address.push_str(v);
            }
        }
        if address.is_empty() {
            return RowInput::Invalid("adresse vide");
        }
        RowInput::Address(address)
    }
}
