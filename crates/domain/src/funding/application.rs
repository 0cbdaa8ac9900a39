//! The content of a subsidy request (dossier), after the national form (CERFA 12156): the
//! project, the framework nodes it serves, the QPV concerned, its public, the indicators it
//! proposes and its forecast budget. A draft may be incomplete; [`ApplicationBody::missing`]
//! names every piece still needed to submit it.

use super::budget::{self, YearBudget};
use crate::contract::parse_date;
use crate::ids::QpvCode;
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};

/// An indicator the applicant proposes, with its target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposedIndicator {
    /// What is measured (« Nombre de jeunes accompagnés »).
    pub name: String,
    /// Target value.
    pub target: f64,
    /// Unit (« personnes », « % »...).
    #[serde(default)]
    pub unit: String,
}

/// The content of an application, saved as typed (draft) and checked at submission.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationBody {
    /// Title of the action.
    #[serde(default)]
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Objectives.
    #[serde(default)]
    pub objectives: String,
    /// First day of the action (AAAA-MM-JJ).
    #[serde(default)]
    pub start_on: String,
    /// Last day of the action (AAAA-MM-JJ).
    #[serde(default)]
    pub end_on: String,
    /// Where it takes place.
    #[serde(default)]
    pub places: String,
    /// Component of the contract it is funded under (« Contrat de ville », « Pacte local des solidarités »).
    #[serde(default)]
    pub component: String,
    /// Keys of the framework nodes it serves.
    #[serde(default)]
    pub framework_keys: Vec<String>,
    /// QPV concerned.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub qpv_codes: Vec<QpvCode>,
    /// Other perimeters concerned (names), free text.
    #[serde(default)]
    pub perimeters: Vec<String>,
    /// The public targeted.
    #[serde(default)]
    pub public_description: String,
    /// Expected number of beneficiaries.
    #[serde(default)]
    pub expected_beneficiaries: Option<u32>,
    /// Expected share of beneficiaries living in a QPV, in percent.
    #[serde(default)]
    pub qpv_share_percent: Option<u8>,
    /// Indicators proposed, with targets.
    #[serde(default)]
    pub indicators: Vec<ProposedIndicator>,
    /// Forecast budget, one entry per year (1 to 4).
    #[serde(default)]
    pub budget: Vec<YearBudget>,
}

/// What the submission check needs to know beyond the application itself.
#[derive(Debug, Clone, Default)]
pub struct SubmissionContext {
    /// Framework node keys of the contract.
    pub node_keys: Vec<String>,
    /// Financer codes taking part in the call.
    pub funder_codes: Vec<String>,
    /// Component names of the contract.
    pub components: Vec<String>,
    /// Kinds of standing documents the call requires and the organisation lacks (labels).
    pub missing_documents: Vec<String>,
}

impl ApplicationBody {
    /// Checks what has been typed (a draft may leave fields empty): dates, percentages,
    /// indicators, budget shape. Errors are keyed by field path.
    pub fn validate(&self) -> Result<(), ValidationErrors> {
        let mut e = ValidationErrors::new();
        if self.title.chars().count() > 300 {
            e.add("title", "Le titre dépasse 300 caractères.");
        }
        let start = (!self.start_on.trim().is_empty())
            .then(|| e.check("start_on", parse_date(&self.start_on)))
            .flatten();
        let end = (!self.end_on.trim().is_empty())
            .then(|| e.check("end_on", parse_date(&self.end_on)))
            .flatten();
        if let (Some(s), Some(en)) = (start, end) {
            if en < s {
                e.add(
                    "end_on",
                    "La date de fin est antérieure à la date de début de l'action.",
                );
            }
            if (en - s).whole_days() > 4 * 366 {
                e.add("end_on", "Une action dure au plus 4 ans.");
            }
        }
        if self.qpv_share_percent.is_some_and(|p| p > 100) {
            e.add(
                "qpv_share_percent",
                "La part des bénéficiaires en QPV est un pourcentage entre 0 et 100.",
            );
        }
        if self.expected_beneficiaries.is_some_and(|n| n > 10_000_000) {
            e.add(
                "expected_beneficiaries",
                "Plus de 10 millions de bénéficiaires : vérifiez la saisie.",
            );
        }
        for (i, ind) in self.indicators.iter().enumerate() {
            if ind.name.trim().is_empty() {
                e.add(format!("indicators[{i}].name"), "Nommez l'indicateur.");
            }
            if !ind.target.is_finite() || ind.target < 0.0 {
                e.add(
                    format!("indicators[{i}].target"),
                    "La cible est un nombre positif.",
                );
            }
        }
        budget::check_years(&self.budget, &mut e);
        e.into_result()
    }

    /// Every piece missing for submission, as (field, French message). Empty: ready to submit.
    pub fn missing(&self, ctx: &SubmissionContext) -> ValidationErrors {
        let mut e = match self.validate() {
            Ok(()) => ValidationErrors::new(),
            Err(e) => e,
        };
        for (field, value, label) in [
            ("title", &self.title, "le titre de l'action"),
            ("description", &self.description, "la description"),
            ("objectives", &self.objectives, "les objectifs"),
            ("start_on", &self.start_on, "la date de début"),
            ("end_on", &self.end_on, "la date de fin"),
            ("places", &self.places, "les lieux de réalisation"),
            (
                "public_description",
                &self.public_description,
                "le public visé",
            ),
        ] {
            if value.trim().is_empty() && e.for_field(field).is_none() {
                e.add(field, format!("Il manque {label}."));
            }
        }
        if self.component.trim().is_empty() {
            e.add("component", "Il manque la composante du contrat.");
        } else if !ctx.components.is_empty() && !ctx.components.contains(&self.component) {
            e.add(
                "component",
                format!(
                    "« {} » n'est pas une composante du contrat.",
                    self.component
                ),
            );
        }
        if self.framework_keys.is_empty() {
            e.add(
                "framework_keys",
                "Il manque au moins une orientation ou ambition du contrat servie par l'action.",
            );
        }
        for k in &self.framework_keys {
            if !ctx.node_keys.contains(k) {
                e.add(
                    "framework_keys",
                    format!("« {k} » n'est pas un élément du cadre du contrat."),
                );
            }
        }
        if self.qpv_codes.is_empty() {
            e.add(
                "qpv_codes",
                "Il manque au moins un quartier prioritaire concerné.",
            );
        }
        if self.expected_beneficiaries.is_none() {
            e.add(
                "expected_beneficiaries",
                "Il manque le nombre de bénéficiaires attendus.",
            );
        }
        if self.qpv_share_percent.is_none() {
            e.add(
                "qpv_share_percent",
                "Il manque la part des bénéficiaires habitant en QPV.",
            );
        }
        if self.indicators.is_empty() {
            e.add(
                "indicators",
                "Il manque au moins un indicateur avec sa cible.",
            );
        }
        if self.budget.is_empty() {
            e.add("budget", "Il manque le budget prévisionnel.");
        }
        for (year, gap) in budget::unbalanced_years(&self.budget) {
            e.add(
                "budget",
                format!(
                    "Le budget {year} n'est pas équilibré : les charges {} les produits de {}.",
                    if gap > 0 {
                        "dépassent"
                    } else {
                        "sont inférieures à"
                    },
                    crate::money::Cents::new(gap.abs())
                        .map(|c| c.to_string())
                        .unwrap_or_default()
                ),
            );
        }
        let requests: Vec<String> = self
            .budget
            .iter()
            .flat_map(|y| y.requests().into_iter().map(|(f, _)| f))
            .collect();
        if !self.budget.is_empty() && requests.is_empty() {
            e.add(
                "budget",
                "Le budget ne sollicite aucun financeur : ajoutez une ligne au compte 74 par financeur sollicité.",
            );
        }
        for f in &requests {
            if !ctx.funder_codes.contains(f) {
                e.add(
                    "budget",
                    format!("Le financeur « {f} » ne participe pas à cet appel à projets."),
                );
            }
        }
        for d in &ctx.missing_documents {
            e.add(
                "documents",
                format!("Il manque la pièce « {d} » dans les documents de la structure."),
            );
        }
        e
    }

    /// The financers solicited, with the total asked from each over every year, in order of first mention.
    pub fn requested_by_funder(&self) -> Vec<(String, i64)> {
        let mut out: Vec<(String, i64)> = Vec::new();
        for y in &self.budget {
            for (f, amount) in y.requests() {
                match out.iter_mut().find(|(g, _)| *g == f) {
                    Some((_, total)) => *total += amount.get(),
                    None => out.push((f, amount.get())),
                }
            }
        }
        out
    }

    /// The body of next year's application: same project, dates and budget moved one year on.
    pub fn renewed(&self) -> Self {
        let shift = |d: &str| -> String {
            parse_date(d)
                .ok()
                .and_then(|d| d.replace_year(d.year() + 1).ok())
                .map(|d| d.to_string())
                .unwrap_or_default()
        };
        let mut next = self.clone();
        next.start_on = shift(&self.start_on);
        next.end_on = shift(&self.end_on);
        for y in &mut next.budget {
            y.year += 1;
        }
        next
    }

    /// The years covered by the budget.
    pub fn years(&self) -> Vec<i32> {
        self.budget.iter().map(|y| y.year).collect()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::funding::budget::BudgetLine;
    use crate::money::Cents;

    pub fn line(account: u16, euros: i64, funder: Option<&str>) -> BudgetLine {
        BudgetLine {
            account,
            label: "ligne".into(),
            amount_cents: Cents::new(euros * 100).unwrap(),
            funder: funder.map(str::to_string),
        }
    }

    pub fn complete() -> ApplicationBody {
        ApplicationBody {
            title: "Coup de pouce numérique".into(),
            description: "Ateliers d'inclusion numérique".into(),
            objectives: "Accompagner 120 habitants".into(),
            start_on: "2025-01-15".into(),
            end_on: "2025-12-31".into(),
            places: "Roubaix, quartier de l'Alma".into(),
            component: "Contrat de ville".into(),
            framework_keys: vec!["e1".into()],
            qpv_codes: vec![QpvCode::parse("QN05901M").unwrap()],
            perimeters: vec![],
            public_description: "Adultes éloignés du numérique".into(),
            expected_beneficiaries: Some(120),
            qpv_share_percent: Some(80),
            indicators: vec![ProposedIndicator {
                name: "Personnes accompagnées".into(),
                target: 120.0,
                unit: "personnes".into(),
            }],
            budget: vec![YearBudget {
                year: 2025,
                charges: vec![line(64, 30_000, None)],
                income: vec![
                    line(74, 20_000, Some("etat")),
                    line(74, 10_000, Some("mel")),
                ],
            }],
        }
    }

    pub fn ctx() -> SubmissionContext {
        SubmissionContext {
            node_keys: vec!["e1".into(), "e1-a1".into()],
            funder_codes: vec!["etat".into(), "mel".into(), "roubaix".into()],
            components: vec!["Contrat de ville".into()],
            missing_documents: vec![],
        }
    }

    #[test]
    fn complete_application_has_nothing_missing() {
        let m = complete().missing(&ctx());
        assert!(m.is_empty(), "{m:?}");
        assert_eq!(
            complete().requested_by_funder(),
            vec![("etat".into(), 2_000_000), ("mel".into(), 1_000_000)]
        );
    }

    #[test]
    fn empty_draft_names_every_missing_piece() {
        let m = ApplicationBody::default().missing(&SubmissionContext {
            missing_documents: vec!["Statuts".into()],
            ..ctx()
        });
        for field in [
            "title",
            "description",
            "objectives",
            "start_on",
            "end_on",
            "places",
            "component",
            "framework_keys",
            "qpv_codes",
            "public_description",
            "expected_beneficiaries",
            "qpv_share_percent",
            "indicators",
            "budget",
            "documents",
        ] {
            assert!(m.for_field(field).is_some(), "{field} not reported: {m:?}");
        }
    }

    #[test]
    fn end_before_start_unbalanced_and_unknown_funder_are_refused() {
        let mut a = complete();
        a.end_on = "2024-12-31".into();
        a.budget[0].income.push(line(74, 500, Some("region")));
        let m = a.missing(&ctx());
        assert!(m.for_field("end_on").unwrap().contains("antérieure"));
        let text = format!("{m:?}");
        assert!(text.contains("n'est pas équilibré"), "{text}");
        assert!(text.contains("« region » ne participe pas"), "{text}");
        assert!(a.validate().is_err());
    }

    #[test]
    fn renewal_moves_dates_and_budget_one_year_on() {
        let next = complete().renewed();
        assert_eq!(next.start_on, "2026-01-15");
        assert_eq!(next.end_on, "2026-12-31");
        assert_eq!(next.budget[0].year, 2026);
        assert_eq!(next.title, complete().title);
    }

    #[test]
    fn draft_with_bad_percent_is_refused_even_as_draft() {
        let a = ApplicationBody {
            qpv_share_percent: Some(120),
            ..Default::default()
        };
        assert!(a
            .validate()
            .unwrap_err()
            .for_field("qpv_share_percent")
            .is_some());
    }
}
