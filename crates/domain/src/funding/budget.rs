//! The forecast budget of a subsidy request, laid out like the national form (CERFA 12156):
//! charges on accounts 60 to 68 and 86, income on accounts 70 to 75 and 87, with one
//! account-74 line per financer solicited. A request covers one to four years.

use crate::money::Cents;
use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};

/// Which side of the budget an account belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Charges (accounts 60–68, 86).
    Charge,
    /// Income (accounts 70–75, 87).
    Income,
}

/// The accounts of the form, with their French labels.
pub const ACCOUNTS: &[(u16, Side, &str)] = &[
    (60, Side::Charge, "Achats"),
    (61, Side::Charge, "Services extérieurs"),
    (62, Side::Charge, "Autres services extérieurs"),
    (63, Side::Charge, "Impôts et taxes"),
    (64, Side::Charge, "Charges de personnel"),
    (65, Side::Charge, "Autres charges de gestion courante"),
    (66, Side::Charge, "Charges financières"),
    (67, Side::Charge, "Charges exceptionnelles"),
    (68, Side::Charge, "Dotation aux amortissements"),
    (
        86,
        Side::Charge,
        "Emplois des contributions volontaires en nature",
    ),
    (
        70,
        Side::Income,
        "Vente de produits finis, prestations de services",
    ),
    (71, Side::Income, "Production stockée"),
    (72, Side::Income, "Production immobilisée"),
    (73, Side::Income, "Dotations et produits de tarification"),
    (74, Side::Income, "Subventions d'exploitation"),
    (75, Side::Income, "Autres produits de gestion courante"),
    (87, Side::Income, "Contributions volontaires en nature"),
];

/// The account of subsidies: each line names the financer solicited.
pub const SUBSIDY_ACCOUNT: u16 = 74;

/// The side and label of an account number, if the form has it.
pub fn account(number: u16) -> Option<(Side, &'static str)> {
    ACCOUNTS
        .iter()
        .find(|(n, _, _)| *n == number)
        .map(|(_, s, l)| (*s, *l))
}

/// One line of a year's budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetLine {
    /// Account number (60–68, 86 for charges; 70–75, 87 for income).
    pub account: u16,
    /// What the line is (free text, e.g. « Salaires animateurs »).
    #[serde(default)]
    pub label: String,
    /// Amount.
    #[schema(value_type = i64)]
    pub amount_cents: Cents,
    /// For account 74: the code of the financer solicited (`etat`, `mel`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funder: Option<String>,
}

/// The budget of one year of the action.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearBudget {
    /// Calendar year.
    pub year: i32,
    /// Charges.
    #[serde(default)]
    pub charges: Vec<BudgetLine>,
    /// Income, including one account-74 line per financer solicited.
    #[serde(default)]
    pub income: Vec<BudgetLine>,
}

impl YearBudget {
    /// Total of the charges.
    pub fn total_charges(&self) -> i64 {
        self.charges.iter().map(|l| l.amount_cents.get()).sum()
    }
    /// Total of the income.
    pub fn total_income(&self) -> i64 {
        self.income.iter().map(|l| l.amount_cents.get()).sum()
    }
    /// Amount asked from each financer this year (account-74 lines with a financer).
    pub fn requests(&self) -> Vec<(String, Cents)> {
        self.income
            .iter()
            .filter(|l| l.account == SUBSIDY_ACCOUNT)
            .filter_map(|l| l.funder.clone().map(|f| (f, l.amount_cents)))
            .collect()
    }
}

/// Checks the shape of the budget years: 1 to 4 consecutive years, known accounts on the
/// right side, one subsidy line per financer and year. Balance is checked at submission
/// ([`unbalanced_years`]), since a draft may be half typed.
pub fn check_years(years: &[YearBudget], errors: &mut ValidationErrors) {
    if years.len() > 4 {
        errors.add("budget", "Une demande pluriannuelle couvre au plus 4 ans.");
    }
    for (i, pair) in years.windows(2).enumerate() {
        if pair[1].year != pair[0].year + 1 {
            errors.add(
                format!("budget[{}].year", i + 1),
                "Les années du budget doivent se suivre (par exemple 2025, 2026, 2027).",
            );
        }
    }
    for (y, year) in years.iter().enumerate() {
        if !(2000..=2100).contains(&year.year) {
            errors.add(
                format!("budget[{y}].year"),
                format!("L'année {} n'est pas plausible.", year.year),
            );
        }
        for (side, lines, name) in [
            (Side::Charge, &year.charges, "charges"),
            (Side::Income, &year.income, "income"),
        ] {
            for (i, line) in lines.iter().enumerate() {
                let path = format!("budget[{y}].{name}[{i}]");
                match account(line.account) {
                    None => errors.add(
                        format!("{path}.account"),
                        format!("Le compte {} n'existe pas dans le budget du formulaire (charges : 60 à 68 et 86 ; produits : 70 à 75 et 87).", line.account),
                    ),
                    Some((s, _)) if s != side => errors.add(
                        format!("{path}.account"),
                        format!(
                            "Le compte {} est un compte de {}, pas de {}.",
                            line.account,
                            if s == Side::Charge { "charges" } else { "produits" },
                            if side == Side::Charge { "charges" } else { "produits" }
                        ),
                    ),
                    _ => {}
                }
                if line.account == SUBSIDY_ACCOUNT
                    && line.funder.as_deref().is_some_and(|f| f.trim().is_empty())
                {
                    errors.add(format!("{path}.funder"), "Indiquez le financeur sollicité.");
                }
                if line.account != SUBSIDY_ACCOUNT && line.funder.is_some() {
                    errors.add(
                        format!("{path}.funder"),
                        "Seules les lignes du compte 74 (subventions) désignent un financeur.",
                    );
                }
            }
        }
        let mut seen = Vec::new();
        for (i, line) in year.income.iter().enumerate() {
            if let Some(f) = &line.funder {
                if seen.contains(f) {
                    errors.add(
                        format!("budget[{y}].income[{i}].funder"),
                        format!("Le financeur « {f} » est déjà sollicité pour {} : une seule ligne par financeur.", year.year),
                    );
                }
                seen.push(f.clone());
            }
        }
    }
}

/// The years whose charges differ from their income, with the gap (charges − income).
pub fn unbalanced_years(years: &[YearBudget]) -> Vec<(i32, i64)> {
    years
        .iter()
        .map(|y| (y.year, y.total_charges() - y.total_income()))
        .filter(|(_, gap)| *gap != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(account: u16, euros: i64, funder: Option<&str>) -> BudgetLine {
        BudgetLine {
            account,
            label: String::new(),
            amount_cents: Cents::new(euros * 100).unwrap(),
            funder: funder.map(str::to_string),
        }
    }

    fn year(y: i32) -> YearBudget {
        YearBudget {
            year: y,
            charges: vec![line(64, 30_000, None), line(60, 2_000, None)],
            income: vec![
                line(74, 20_000, Some("etat")),
                line(74, 10_000, Some("mel")),
                line(75, 2_000, None),
            ],
        }
    }

    #[test]
    fn balanced_year_passes_and_requests_are_per_funder() {
        let mut e = ValidationErrors::new();
        check_years(&[year(2025), year(2026)], &mut e);
        assert!(e.is_empty(), "{e:?}");
        assert!(unbalanced_years(&[year(2025)]).is_empty());
        assert_eq!(year(2025).requests().len(), 2);
        assert_eq!(year(2025).requests()[0].1.get(), 2_000_000);
    }

    #[test]
    fn unbalanced_year_names_its_gap() {
        let mut y = year(2025);
        y.charges.push(line(61, 500, None));
        assert_eq!(unbalanced_years(&[y]), vec![(2025, 50_000)]);
    }

    #[test]
    fn wrong_side_unknown_account_duplicate_funder_and_gaps_in_years() {
        let mut y = year(2025);
        y.charges.push(line(74, 1, None));
        y.income.push(line(69, 1, None));
        y.income.push(line(74, 1, Some("etat")));
        y.income.push(line(70, 1, Some("etat")));
        let mut e = ValidationErrors::new();
        check_years(&[y, year(2027)], &mut e);
        let text = format!("{e:?}");
        assert!(
            text.contains("compte de produits, pas de charges"),
            "{text}"
        );
        assert!(text.contains("Le compte 69 n'existe pas"), "{text}");
        assert!(text.contains("une seule ligne par financeur"), "{text}");
        assert!(text.contains("Seules les lignes du compte 74"), "{text}");
        assert!(text.contains("doivent se suivre"), "{text}");
    }

    #[test]
    fn at_most_four_years() {
        let mut e = ValidationErrors::new();
        check_years(&(2025..2030).map(year).collect::<Vec<_>>(), &mut e);
        assert!(e.for_field("budget").is_some());
    }
}
