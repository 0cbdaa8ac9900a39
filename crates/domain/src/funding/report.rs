//! The end-of-action report (bilan), after the national form (CERFA 15059): actual charges
//! and income against the forecast (with an explanation of each gap over the threshold),
//! the qualitative report, the achieved value of each indicator, and the beneficiaries'
//! counts computed from their addresses (the addresses themselves are never kept).

use super::budget::{self, YearBudget};
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};

/// A gap between forecast and actual above this share (percent) must be explained.
pub const GAP_THRESHOLD_PERCENT: i64 = 15;

/// The achieved value of a proposed indicator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AchievedIndicator {
    /// The indicator's name (as proposed).
    pub name: String,
    /// Target from the application.
    pub target: f64,
    /// Value achieved.
    pub achieved: f64,
}

/// How many beneficiaries live in QPV, computed from an uploaded address list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BeneficiaryCounts {
    /// Rows of the file.
    pub total: u64,
    /// Rows located (geocoded).
    pub located: u64,
    /// Rows « dans un QPV » (boundary cases are counted in `to_check` instead).
    pub in_qpv: u64,
    /// Rows near a boundary, to check.
    pub to_check: u64,
    /// Count per QPV code.
    pub per_qpv: Vec<(String, u64)>,
}

/// An explanation of the gap on one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GapExplanation {
    /// Year.
    pub year: i32,
    /// Account number.
    pub account: u16,
    /// Why.
    pub text: String,
}

/// The content of a report.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportBody {
    /// Actual budget, per year, same layout as the forecast.
    #[serde(default)]
    pub actual: Vec<YearBudget>,
    /// What was done, for whom, what changed.
    #[serde(default)]
    pub qualitative: String,
    /// Indicators achieved.
    #[serde(default)]
    pub indicators: Vec<AchievedIndicator>,
    /// Explanations of the gaps over the threshold.
    #[serde(default)]
    pub gap_explanations: Vec<GapExplanation>,
    /// Beneficiaries counted from an address list, if one was uploaded.
    #[serde(default)]
    pub beneficiaries: Option<BeneficiaryCounts>,
}

/// A gap between forecast and actual on one account and year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// Year.
    pub year: i32,
    /// Account.
    pub account: u16,
    /// Forecast (cents).
    pub forecast: i64,
    /// Actual (cents).
    pub actual: i64,
}

fn per_account(y: &YearBudget) -> Vec<(u16, i64)> {
    let mut out: Vec<(u16, i64)> = Vec::new();
    for l in y.charges.iter().chain(&y.income) {
        match out.iter_mut().find(|(a, _)| *a == l.account) {
            Some((_, t)) => *t += l.amount_cents.get(),
            None => out.push((l.account, l.amount_cents.get())),
        }
    }
    out
}

/// The accounts whose actual differs from the forecast by more than the threshold.
pub fn gaps(forecast: &[YearBudget], actual: &[YearBudget]) -> Vec<Gap> {
    let mut out = Vec::new();
    for a in actual {
        let f = forecast.iter().find(|f| f.year == a.year);
        let fc = f.map(per_account).unwrap_or_default();
        let ac = per_account(a);
        let mut accounts: Vec<u16> = fc.iter().chain(&ac).map(|(k, _)| *k).collect();
        accounts.sort_unstable();
        accounts.dedup();
        for acc in accounts {
            let fv = fc.iter().find(|(k, _)| *k == acc).map_or(0, |(_, v)| *v);
            let av = ac.iter().find(|(k, _)| *k == acc).map_or(0, |(_, v)| *v);
            if (av - fv).abs() * 100 > fv * GAP_THRESHOLD_PERCENT {
                out.push(Gap {
                    year: a.year,
                    account: acc,
                    forecast: fv,
                    actual: av,
                });
            }
        }
    }
    out
}

impl ReportBody {
    /// Checks a report for filing against the application's forecast: every year of the
    /// forecast reported, balanced, every indicator reported, each large gap explained.
    pub fn check_for_filing(
        &self,
        forecast: &[YearBudget],
        indicators: &[String],
    ) -> ValidationErrors {
        let mut e = ValidationErrors::new();
        budget::check_years(&self.actual, &mut e);
        if self.qualitative.trim().is_empty() {
            e.add("qualitative", "Il manque le bilan qualitatif de l'action.");
        }
        for f in forecast {
            if !self.actual.iter().any(|a| a.year == f.year) {
                e.add(
                    "actual",
                    format!("Il manque le compte rendu financier de {}.", f.year),
                );
            }
        }
        for (year, gap) in budget::unbalanced_years(&self.actual) {
            e.add(
                "actual",
                format!(
                    "Le compte rendu financier {year} n'est pas équilibré (écart de {} centimes).",
                    gap
                ),
            );
        }
        for name in indicators {
            if !self.indicators.iter().any(|i| &i.name == name) {
                e.add(
                    "indicators",
                    format!("Indiquez la valeur atteinte de l'indicateur « {name} »."),
                );
            }
        }
        for i in &self.indicators {
            if !i.achieved.is_finite() || i.achieved < 0.0 {
                e.add(
                    "indicators",
                    format!(
                        "La valeur atteinte de « {} » est un nombre positif.",
                        i.name
                    ),
                );
            }
        }
        for g in gaps(forecast, &self.actual) {
            let explained = self
                .gap_explanations
                .iter()
                .any(|x| x.year == g.year && x.account == g.account && !x.text.trim().is_empty());
            if !explained {
                e.add(
                    format!("gap_explanations.{}.{}", g.year, g.account),
                    format!(
                        "L'écart sur le compte {} en {} dépasse {} % (prévu {:.2} €, réalisé {:.2} €) : expliquez-le.",
                        g.account,
                        g.year,
                        GAP_THRESHOLD_PERCENT,
                        g.forecast as f64 / 100.0,
                        g.actual as f64 / 100.0
                    ),
                );
            }
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::funding::application::tests::{complete, line};

    fn actual_like_forecast() -> ReportBody {
        ReportBody {
            actual: complete().budget,
            qualitative: "118 personnes accompagnées".into(),
            indicators: vec![AchievedIndicator {
                name: "Personnes accompagnées".into(),
                target: 120.0,
                achieved: 118.0,
            }],
            ..Default::default()
        }
    }

    #[test]
    fn faithful_report_is_accepted() {
        let names = vec!["Personnes accompagnées".to_string()];
        let e = actual_like_forecast().check_for_filing(&complete().budget, &names);
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn large_gap_needs_an_explanation() {
        let mut r = actual_like_forecast();
        r.actual[0].charges = vec![line(64, 20_000, None), line(61, 10_000, None)];
        let names = vec!["Personnes accompagnées".to_string()];
        let e = r.check_for_filing(&complete().budget, &names);
        assert!(e.for_field("gap_explanations.2025.64").is_some(), "{e:?}");
        assert!(e.for_field("gap_explanations.2025.61").is_some(), "{e:?}");
        r.gap_explanations = vec![
            GapExplanation {
                year: 2025,
                account: 64,
                text: "Poste vacant trois mois".into(),
            },
            GapExplanation {
                year: 2025,
                account: 61,
                text: "Location de salle".into(),
            },
        ];
        assert!(r.check_for_filing(&complete().budget, &names).is_empty());
    }

    #[test]
    fn missing_pieces_are_named() {
        let e = ReportBody::default()
            .check_for_filing(&complete().budget, &["Personnes accompagnées".into()]);
        assert!(e.for_field("qualitative").is_some());
        assert!(e.for_field("actual").unwrap().contains("2025"));
        assert!(e.for_field("indicators").is_some());
    }
}
