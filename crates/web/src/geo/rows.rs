//! Rows of batch files: [`Snapshot::row_result`] for one row, and [`SnapshotRows`], the
//! [`RowLocator`] that locates the points of many rows together (the index's batch
//! mode: several times faster than one point at a time on a large file).

use super::{geocoding_doubt, join_msg, lambert93_to_wgs84, swapped_message, Snapshot};
use quartiers_geo::Location;
use quartiers_io::ban::{GeocodeResult, Precision};
use quartiers_io::output::{RowLocator, RowResult, Status};
use quartiers_io::table::RowInput;
use std::borrow::Cow;

/// A row before its point is located: its result already, or its point and what the
/// result then adds.
enum RowPlan<'s> {
    Done(RowResult<'s>),
    Point { lon: f64, lat: f64, then: Then },
}

/// What a row's result adds to the answer for its point.
enum Then {
    /// Coordinates read from the file, with the national geocoder's score and label
    /// when the file is its output.
    Coordinates {
        score: Option<f64>,
        label: Option<String>,
    },
    /// An address geocoded against the loaded Base Adresse Nationale, with the
    /// message of an ambiguous match (to be checked).
    Geocoded(GeocodeResult, Option<String>),
}

impl Snapshot {
    /// The batch row answer for one input row.
    pub fn row_result(&self, row: &RowInput<'_>) -> RowResult<'_> {
        match self.plan_row(row) {
            RowPlan::Done(r) => r,
            RowPlan::Point { lon, lat, then } => {
                self.finish_row(lon, lat, self.index.locate(lon, lat), then)
            }
        }
    }

    /// This snapshot as the locator of batch files ([`quartiers_io::output::process_path`]
    /// and its siblings): the same answers as [`Snapshot::row_result`], the points of a
    /// batch of rows located together.
    pub fn rows(&self) -> SnapshotRows<'_> {
        SnapshotRows(self)
    }

    fn plan_row(&self, row: &RowInput<'_>) -> RowPlan<'_> {
        match *row {
            RowInput::Wgs84 { lon, lat, geocoded } => {
                if let Some(m) = swapped_message(lon, lat) {
                    if self.index.containing(lon, lat).is_empty() {
                        return RowPlan::Done(RowResult::not_located(m));
                    }
                }
                RowPlan::Point {
                    lon,
                    lat,
                    then: Then::Coordinates {
                        score: geocoded.and_then(|g| g.score),
                        label: geocoded.map(|g| g.label.to_string()),
                    },
                }
            }
            RowInput::Lambert93 { x, y } => match lambert93_to_wgs84(x, y) {
                Ok((lon, lat)) => RowPlan::Point {
                    lon,
                    lat,
                    then: Then::Coordinates {
                        score: None,
                        label: None,
                    },
                },
                Err(m) => RowPlan::Done(RowResult::not_located(m)),
            },
            RowInput::Address(_) if self.addresses.is_empty() => {
                RowPlan::Done(RowResult::not_located(
                    "aucune adresse de la Base Adresse Nationale n'est chargée (quartiers ban import)",
                ))
            }
            RowInput::Address(text) => {
                let geocoding = self.addresses.geocode(text);
                let note = geocoding.message();
                match geocoding.result() {
                    None => RowPlan::Done(RowResult::not_located(note.unwrap_or_default())),
                    Some(g) => RowPlan::Point {
                        lon: g.lon,
                        lat: g.lat,
                        then: Then::Geocoded(g.clone(), note),
                    },
                }
            }
            RowInput::Invalid(m) => RowPlan::Done(RowResult::not_located(m.to_string())),
        }
    }

    fn finish_row(&self, lon: f64, lat: f64, location: Location, then: Then) -> RowResult<'_> {
        let mut r = self.row_for_location(lon, lat, location);
        match then {
            Then::Coordinates { score, label } => {
                r.score_geocodage = score;
                if let Some(label) = label.filter(|l| !l.is_empty()) {
                    r.message = Cow::Owned(join_msg(&format!("géocodé : {label}"), &r.message));
                }
                // A position the national geocoding service found with a low score (a
                // street or a commune instead of the address) is not a certain answer.
                if let Some(doubt) = score.and_then(|s| geocoding_doubt(r.status, false, s)) {
                    r.status = Status::ToCheck;
                    r.message = Cow::Owned(join_msg(&r.message, &doubt));
                }
            }
            Then::Geocoded(g, ambiguous) => {
                r.score_geocodage = Some(g.score);
                let mut msg = format!("géocodé : {}", g.label);
                if let Some(note) = ambiguous.filter(|_| r.status != Status::NotLocated) {
                    msg = join_msg(&note, &msg);
                    r.status = Status::ToCheck;
                }
                let street_only = g.precision == Precision::Voie;
                if let Some(doubt) = geocoding_doubt(r.status, street_only, g.score) {
                    msg = join_msg(&msg, &doubt);
                    r.status = Status::ToCheck;
                }
                r.message = Cow::Owned(join_msg(&msg, &r.message));
            }
        }
        r
    }

    fn row_for_location(&self, lon: f64, lat: f64, location: Location) -> RowResult<'_> {
        let a = self.answer_for(lon, lat, location);
        let mut r = RowResult::new(a.status);
        r.message = Cow::Owned(a.message);
        if let Some(q) = self.qpv_of(&a.location) {
            r.qpv_code = Cow::Borrowed(q.code.as_str());
            r.qpv_nom = Cow::Borrowed(q.name.as_str());
        }
        let others: Vec<String> = self
            .others_of(&a.location)
            .map(|e| format!("{} {} ({})", e.code, e.name, e.kind_label()))
            .collect();
        if !others.is_empty() {
            r.autres_perimetres = Cow::Owned(others.join(" ; "));
        }
        r.distance_qpv_m = a.location.nearest_qpv.map(|(_, d)| d);
        r
    }
}

/// A [`Snapshot`] as the [`RowLocator`] of batch files: see [`Snapshot::rows`].
#[derive(Debug, Clone, Copy)]
pub struct SnapshotRows<'s>(&'s Snapshot);

impl<'s> RowLocator<'s> for SnapshotRows<'s> {
    fn locate(&self, row: &RowInput<'_>) -> RowResult<'s> {
        self.0.row_result(row)
    }

    fn locate_all(&self, rows: &[RowInput<'_>]) -> Vec<RowResult<'s>> {
        let plans: Vec<RowPlan<'s>> = rows.iter().map(|r| self.0.plan_row(r)).collect();
        let points: Vec<(f64, f64)> = plans
            .iter()
            .filter_map(|p| match p {
                RowPlan::Point { lon, lat, .. } => Some((*lon, *lat)),
                RowPlan::Done(_) => None,
            })
            .collect();
        let mut locations = vec![Location::default(); points.len()];
        self.0.index.locate_batch(&points, |i, l| locations[i] = l);
        let mut locations = locations.into_iter();
        plans
            .into_iter()
            .map(|p| match p {
                RowPlan::Done(r) => r,
                RowPlan::Point { lon, lat, then } => {
                    let location = locations.next().expect("one location per point");
                    self.0.finish_row(lon, lat, location, then)
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quartiers_geo::{Perimeter, PerimeterIndex, PerimeterKind};
    use quartiers_io::table::Geocoded;

    fn square(code: &str, kind: PerimeterKind, x0: f64, y0: f64, x1: f64, y1: f64) -> Perimeter {
        let ring = geo::LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]);
        Perimeter {
            code: code.into(),
            name: format!("Quartier {code}"),
            kind,
            insee_communes: vec![],
            generation: Some("2024".into()),
            geometry: geo::MultiPolygon(vec![geo::Polygon::new(ring, vec![])]),
            properties: Default::default(),
        }
    }

    fn snapshot() -> Snapshot {
        let index = PerimeterIndex::build(vec![
            square("QN05901M", PerimeterKind::Qpv, 3.05, 50.62, 3.07, 50.64),
            square(
                "PA01",
                PerimeterKind::AttentionPerimeter,
                3.06,
                50.63,
                3.09,
                50.65,
            ),
        ]);
        Snapshot::of_index(index, "2024")
    }

    #[test]
    fn messages_write_french_numbers_and_the_tolerance() {
        let snap = snapshot();
        // About 3.5 m inside and outside the western edge of the QPV (3.05).
        let inside = snap.locate_point(3.05005, 50.63);
        assert_eq!(inside.status, Status::ToCheck);
        assert_eq!(
            inside.message,
            "dans un QPV, mais à moins de 15 m d'une limite"
        );
        let outside = snap.locate_point(3.04995, 50.63);
        assert_eq!(outside.status, Status::ToCheck);
        assert_eq!(
            outside.message,
            "hors QPV, mais à moins de 15 m d'une limite de QPV"
        );
        let swapped = snap.locate_point(50.628833, 3.023793);
        assert_eq!(swapped.status, Status::NotLocated);
        assert!(
            swapped
                .message
                .contains("(longitude 50,628833, latitude 3,023793)"),
            "{}",
            swapped.message
        );
    }

    #[test]
    fn only_qpv_boundaries_make_a_point_to_check() {
        let snap = snapshot();
        // Inside the QPV, 3.5 m from the attention perimeter's western edge (3.06) and
        // hundreds of metres from every QPV edge.
        let a = snap.locate_point(3.06005, 50.635);
        assert!(a.location.near_boundary);
        assert_eq!(a.status, Status::InQpv, "{}", a.message);
        // Near the QPV's own edge, it still is.
        assert_eq!(snap.locate_point(3.05005, 50.635).status, Status::ToCheck);
    }

    #[test]
    fn a_low_score_of_the_national_geocoder_is_to_check() {
        let snap = snapshot();
        let row = |score| RowInput::Wgs84 {
            lon: 3.055,
            lat: 50.625,
            geocoded: Some(Geocoded {
                score: Some(score),
                label: "Rue X 59000 Lille",
            }),
        };
        let sure = snap.row_result(&row(0.93));
        assert_eq!(sure.status, Status::InQpv);
        let weak = snap.row_result(&row(0.35));
        assert_eq!(weak.status, Status::ToCheck);
        assert_eq!(
            weak.message,
            "géocodé : Rue X 59000 Lille ; score de géocodage faible (0,35) : position à vérifier"
        );
        assert_eq!(weak.qpv_code, "QN05901M");
    }

    #[test]
    fn batches_answer_as_row_by_row() {
        // Points inside, outside, on and near the boundaries, in the overlap, swapped,
        // in Lambert-93, an address with no BAN loaded and an unreadable row, mixed:
        // the batch gives each row the answer it gets alone, in order.
        let snap = snapshot();
        let label = "1 Rue Exemple 59000 Lille";
        let mut rows = vec![
            RowInput::Wgs84 {
                lon: 50.63,
                lat: 3.06,
                geocoded: None,
            },
            RowInput::Lambert93 {
                x: 704_000.0,
                y: 7_059_000.0,
            },
            RowInput::Address("1 rue exemple lille"),
            RowInput::Invalid("coordonnées illisibles"),
            RowInput::Wgs84 {
                lon: 3.055,
                lat: 50.625,
                geocoded: Some(Geocoded {
                    score: Some(0.93),
                    label,
                }),
            },
        ];
        for i in 0..=60 {
            for j in 0..=40 {
                rows.push(RowInput::Wgs84 {
                    lon: 3.04 + i as f64 * 0.001,
                    lat: 50.61 + j as f64 * 0.001,
                    geocoded: None,
                });
            }
        }
        let one_by_one: Vec<RowResult<'_>> = rows.iter().map(|r| snap.row_result(r)).collect();
        let batch = snap.rows().locate_all(&rows);
        assert_eq!(batch, one_by_one);
        let count = |s: Status| batch.iter().filter(|r| r.status == s).count();
        assert!(count(Status::InQpv) > 100, "{}", count(Status::InQpv));
        assert!(count(Status::ToCheck) > 50, "{}", count(Status::ToCheck));
        assert!(
            count(Status::OutsideQpv) > 100,
            "{}",
            count(Status::OutsideQpv)
        );
        assert!(batch.iter().any(|r| !r.autres_perimetres.is_empty()));
        assert_eq!(batch[0].status, Status::NotLocated);
        assert!(batch[2].message.contains("Base Adresse Nationale"));
        assert_eq!(batch[4].score_geocodage, Some(0.93));
        assert!(batch[4].message.contains(label));
    }
}
