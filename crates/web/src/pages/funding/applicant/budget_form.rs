//! The budget tables of the application form (forecast) and of the report (actual), typed
//! year by year like the national forms: charges on accounts 60–68 and 86, income on 70–75
//! and 87, account-74 rows naming the financer solicited. Without JavaScript: each table
//! shows its rows plus blank ones, and « Ajouter des lignes » re-renders with more.

use super::widgets::{field_error, input_class, select_class};
use super::Fields;
use crate::funding::euros;
use maud::{html, Markup};
use quartiers_domain::funding::budget::{Side, ACCOUNTS, SUBSIDY_ACCOUNT};
use quartiers_domain::funding::{BudgetLine, YearBudget};
use quartiers_domain::{Cents, ValidationErrors};

/// Blank rows added to each table (on opening and per « Ajouter des lignes »).
pub const BLANK_ROWS: usize = 3;
/// Most years a budget covers.
pub const MAX_YEARS: usize = 4;

/// One row as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowInput {
    /// Account number (select).
    pub account: String,
    /// Label.
    pub label: String,
    /// Amount in euros, as typed.
    pub amount: String,
    /// Financer code (account 74).
    pub funder: String,
}

impl RowInput {
    fn is_blank(&self) -> bool {
        self.label.trim().is_empty() && self.amount.trim().is_empty() && self.funder.is_empty()
    }
}

/// One year as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct YearInput {
    /// Charges rows.
    pub charges: Vec<RowInput>,
    /// Income rows.
    pub income: Vec<RowInput>,
}

/// A whole budget as typed: the first year and the rows of each year.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BudgetInput {
    /// Form-name prefix (`b` for the forecast, `r` for the actual).
    pub prefix: &'static str,
    /// First year, as typed.
    pub first_year: String,
    /// Years, consecutive from the first.
    pub years: Vec<YearInput>,
}

/// Where each line of the parsed budget came from: per year, the form row of each charge
/// and of each income line.
#[derive(Debug, Clone, Default)]
pub struct RowMap(pub Vec<(Vec<usize>, Vec<usize>)>);

/// An amount as typed back into a form: `1500` or `1500,50`.
pub fn amount_text(cents: i64) -> String {
    if cents % 100 == 0 {
        (cents / 100).to_string()
    } else {
        format!("{},{:02}", cents / 100, cents % 100)
    }
}

fn row_of(l: &BudgetLine) -> RowInput {
    RowInput {
        account: l.account.to_string(),
        label: l.label.clone(),
        amount: amount_text(l.amount_cents.get()),
        funder: l.funder.clone().unwrap_or_default(),
    }
}

fn blank() -> RowInput {
    RowInput::default()
}

impl BudgetInput {
    /// The stored years, with blank rows to type more; `default_year` when there is none.
    pub fn from_years(prefix: &'static str, years: &[YearBudget], default_year: i32) -> Self {
        let mut out = BudgetInput {
            prefix,
            first_year: years.first().map_or(default_year, |y| y.year).to_string(),
            years: years
                .iter()
                .map(|y| YearInput {
                    charges: y.charges.iter().map(row_of).collect(),
                    income: y.income.iter().map(row_of).collect(),
                })
                .collect(),
        };
        if out.years.is_empty() {
            out.years.push(YearInput::default());
        }
        out.add_rows();
        out
    }

    /// Adds blank rows to every table.
    pub fn add_rows(&mut self) {
        for y in &mut self.years {
            y.charges
                .extend(std::iter::repeat_with(blank).take(BLANK_ROWS));
            y.income
                .extend(std::iter::repeat_with(blank).take(BLANK_ROWS));
        }
    }

    /// Adds a year (with blank rows), up to [`MAX_YEARS`]; `false` when already there.
    pub fn add_year(&mut self) -> bool {
        if self.years.len() >= MAX_YEARS {
            return false;
        }
        self.years.push(YearInput {
            charges: std::iter::repeat_with(blank).take(BLANK_ROWS).collect(),
            income: std::iter::repeat_with(blank).take(BLANK_ROWS).collect(),
        });
        true
    }

    /// Removes the last year (a budget keeps at least one).
    pub fn remove_year(&mut self) {
        if self.years.len() > 1 {
            self.years.pop();
        }
    }

    /// Reads the tables of a submitted form.
    pub fn read(prefix: &'static str, form: &Fields) -> Self {
        let p = prefix;
        let count = |name: String| -> usize {
            form.get(&name)
                .trim()
                .parse::<usize>()
                .unwrap_or(0)
                .min(500)
        };
        let n_years = count(format!("{p}_years")).clamp(1, MAX_YEARS);
        let row = |y: usize, side: &str, i: usize| RowInput {
            account: form
                .get(&format!("{p}_{y}_{side}_{i}_account"))
                .trim()
                .to_string(),
            label: form.get(&format!("{p}_{y}_{side}_{i}_label")).to_string(),
            amount: form.get(&format!("{p}_{y}_{side}_{i}_amount")).to_string(),
            funder: form
                .get(&format!("{p}_{y}_{side}_{i}_funder"))
                .trim()
                .to_string(),
        };
        BudgetInput {
            prefix,
            first_year: form.get(&format!("{p}_first_year")).trim().to_string(),
            years: (0..n_years)
                .map(|y| YearInput {
                    charges: (0..count(format!("{p}_{y}_c_rows")))
                        .map(|i| row(y, "c", i))
                        .collect(),
                    income: (0..count(format!("{p}_{y}_p_rows")))
                        .map(|i| row(y, "p", i))
                        .collect(),
                })
                .collect(),
        }
    }

    /// The first year, when typed as a plausible year.
    fn first_year(&self) -> Option<i32> {
        self.first_year
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (2000..=2100).contains(y))
    }

    /// The budget the typed rows describe: blank rows are skipped; rows that cannot be read
    /// are left out with an error under their form name. `fallback_year` is used when the
    /// first year is not a plausible year (with an error).
    pub fn parse(
        &self,
        fallback_year: i32,
        errors: &mut ValidationErrors,
    ) -> (Vec<YearBudget>, RowMap) {
        let p = self.prefix;
        let first = match self.first_year() {
            Some(y) => y,
            None => {
                errors.add(
                    format!("{p}_first_year"),
                    format!(
                        "« {} » n'est pas une année (exemple : {fallback_year}).",
                        self.first_year.trim()
                    ),
                );
                fallback_year
            }
        };
        let mut years = Vec::new();
        let mut map = RowMap::default();
        for (y, input) in self.years.iter().enumerate() {
            let mut budget = YearBudget {
                year: first + y as i32,
                ..Default::default()
            };
            let mut rows = (Vec::new(), Vec::new());
            for (side, lines, code) in [
                (Side::Charge, &input.charges, "c"),
                (Side::Income, &input.income, "p"),
            ] {
                for (i, row) in lines.iter().enumerate() {
                    if row.is_blank() {
                        continue;
                    }
                    let name = |f: &str| format!("{p}_{y}_{code}_{i}_{f}");
                    let account = row
                        .account
                        .parse::<u16>()
                        .ok()
                        .filter(|a| ACCOUNTS.iter().any(|(n, s, _)| n == a && *s == side));
                    let Some(account) = account else {
                        errors.add(name("account"), "Choisissez le compte dans la liste.");
                        continue;
                    };
                    let amount = match Cents::parse_euros(&row.amount) {
                        Ok(a) => a,
                        Err(m) => {
                            errors.add(name("amount"), m);
                            continue;
                        }
                    };
                    let line = BudgetLine {
                        account,
                        label: row.label.trim().chars().take(300).collect(),
                        amount_cents: amount,
                        funder: (!row.funder.is_empty()).then(|| row.funder.clone()),
                    };
                    if side == Side::Charge {
                        budget.charges.push(line);
                        rows.0.push(i);
                    } else {
                        budget.income.push(line);
                        rows.1.push(i);
                    }
                }
            }
            years.push(budget);
            map.0.push(rows);
        }
        (years, map)
    }
}

/// The form name of a budget error of the domain (`budget[0].income[2].funder`), through
/// the row map; `None` when it names the budget as a whole.
pub fn form_field(prefix: &str, domain_field: &str, root: &str, map: &RowMap) -> Option<String> {
    let rest = domain_field.strip_prefix(root)?.strip_prefix('[')?;
    let (y, rest) = rest.split_once(']')?;
    let y: usize = y.parse().ok()?;
    if rest == ".year" {
        return Some(format!("{prefix}_first_year"));
    }
    let rest = rest.strip_prefix('.')?;
    let (side, rest) = rest.split_once('[')?;
    let (i, rest) = rest.split_once(']')?;
    let i: usize = i.parse().ok()?;
    let field = rest.strip_prefix('.').unwrap_or("amount");
    let (code, rows) = match side {
        "charges" => ("c", &map.0.get(y)?.0),
        "income" => ("p", &map.0.get(y)?.1),
        _ => return None,
    };
    Some(format!("{prefix}_{y}_{code}_{}_{field}", rows.get(i)?))
}

/// The (year, side, line index) a domain budget error names, to leave that line out.
pub fn line_of(domain_field: &str, root: &str) -> Option<(usize, bool, usize)> {
    let rest = domain_field.strip_prefix(root)?.strip_prefix('[')?;
    let (y, rest) = rest.split_once(']')?;
    let rest = rest.strip_prefix('.')?;
    let (side, rest) = rest.split_once('[')?;
    let (i, _) = rest.split_once(']')?;
    Some((y.parse().ok()?, side == "charges", i.parse().ok()?))
}

/// Removes the lines named by `lines` (year, is charge, index) from `years`.
pub fn remove_lines(years: &mut [YearBudget], mut lines: Vec<(usize, bool, usize)>) {
    lines.sort_unstable();
    lines.dedup();
    for (y, charge, i) in lines.into_iter().rev() {
        if let Some(year) = years.get_mut(y) {
            let v = if charge {
                &mut year.charges
            } else {
                &mut year.income
            };
            if i < v.len() {
                v.remove(i);
            }
        }
    }
}

/// The totals of each year: charges, income, and whether balanced.
pub fn totals(years: &[YearBudget], caption: &str) -> Markup {
    html! {
        @if !years.is_empty() {
            div.fr-table.fr-table--sm { table {
                caption { (caption) }
                thead { tr { th scope="col" { "Année" } th scope="col" { "Charges" } th scope="col" { "Produits" } th scope="col" { "Écart" } } }
                tbody { @for y in years {
                    @let gap = y.total_charges() - y.total_income();
                    tr {
                        td { (y.year) }
                        td { (euros(y.total_charges())) }
                        td { (euros(y.total_income())) }
                        td { @if gap == 0 { "équilibré" } @else if gap > 0 { "charges supérieures de " (euros(gap)) } @else { "produits supérieurs de " (euros(-gap)) } }
                    }
                } }
            } }
        }
    }
}

/// The tables of a budget with their hidden row counts. `funders`: (code, name) offered on
/// account-74 rows.
pub fn tables(
    input: &BudgetInput,
    errors: &ValidationErrors,
    funders: &[(String, String)],
    legend: &str,
) -> Markup {
    let p = input.prefix;
    let first = input.first_year().unwrap_or(0);
    let first_err = field_error(errors, &format!("{p}_first_year"));
    html! {
        input type="hidden" name=(format!("{p}_years")) value=(input.years.len());
        div class=(if first_err.is_some() { "fr-input-group fr-input-group--error" } else { "fr-input-group" }) {
            label.fr-label for=(format!("f-{p}_first_year")) { "Première année du budget" span.fr-hint-text { "Les années suivantes s'enchaînent (budget pluriannuel : 4 ans au plus)." } }
            input class=(input_class(first_err.as_deref())) id=(format!("f-{p}_first_year")) type="number" min="2000" max="2100" name=(format!("{p}_first_year")) value=(input.first_year);
            @if let Some(e) = &first_err { p.fr-error-text { (e) } }
        }
        @for (y, year) in input.years.iter().enumerate() {
            h4 { (legend) " " @if first > 0 { (first + y as i32) } @else { "année " (y + 1) } }
            input type="hidden" name=(format!("{p}_{y}_c_rows")) value=(year.charges.len());
            input type="hidden" name=(format!("{p}_{y}_p_rows")) value=(year.income.len());
            (side_table(p, y, "c", "Charges", &year.charges, Side::Charge, errors, funders))
            (side_table(p, y, "p", "Produits", &year.income, Side::Income, errors, funders))
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn side_table(
    p: &str,
    y: usize,
    code: &str,
    caption: &str,
    rows: &[RowInput],
    side: Side,
    errors: &ValidationErrors,
    funders: &[(String, String)],
) -> Markup {
    let income = side == Side::Income;
    html! {
        div.fr-table.fr-table--sm.fr-mb-2w { table {
            caption { (caption) }
            thead { tr {
                th scope="col" { "Compte" }
                th scope="col" { "Intitulé" }
                th scope="col" { "Montant (€)" }
                @if income { th scope="col" { "Financeur sollicité (compte 74)" } }
            } }
            tbody { @for (i, row) in rows.iter().enumerate() {
                @let name = |f: &str| format!("{p}_{y}_{code}_{i}_{f}");
                @let account_err = field_error(errors, &name("account"));
                @let amount_err = field_error(errors, &name("amount"));
                @let funder_err = field_error(errors, &name("funder"));
                @let label_err = field_error(errors, &name("label"));
                tr {
                    td {
                        select class=(select_class(account_err.as_deref())) name=(name("account")) aria-label=(format!("{caption} ligne {} : compte", i + 1)) {
                            @for (n, _, label) in ACCOUNTS.iter().filter(|(_, s, _)| *s == side) {
                                option value=(n) selected[row.account == n.to_string()] { (n) " — " (label) }
                            }
                        }
                        @if let Some(e) = &account_err { p.fr-error-text { (e) } }
                    }
                    td {
                        input class=(input_class(label_err.as_deref())) type="text" name=(name("label")) value=(row.label) aria-label=(format!("{caption} ligne {} : intitulé", i + 1));
                        @if let Some(e) = &label_err { p.fr-error-text { (e) } }
                    }
                    td {
                        input class=(input_class(amount_err.as_deref())) type="text" inputmode="decimal" name=(name("amount")) value=(row.amount) aria-label=(format!("{caption} ligne {} : montant en euros", i + 1));
                        @if let Some(e) = &amount_err { p.fr-error-text { (e) } }
                    }
                    @if income {
                        td {
                            select class=(select_class(funder_err.as_deref())) name=(name("funder")) aria-label=(format!("{caption} ligne {} : financeur", i + 1)) {
                                option value="" { "— sans objet —" }
                                @for (fcode, fname) in funders { option value=(fcode) selected[row.funder == *fcode] { (fname) } }
                                @if !row.funder.is_empty() && !funders.iter().any(|(c, _)| *c == row.funder) {
                                    option value=(row.funder) selected { (row.funder) " (ne participe pas à l'appel)" }
                                }
                            }
                            @if let Some(e) = &funder_err { p.fr-error-text { (e) } }
                        }
                    }
                }
            } }
        } }
        @if income { p.fr-hint-text { "Une ligne au compte " (SUBSIDY_ACCOUNT) " par financeur sollicité, en le choisissant dans la dernière colonne." } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn rows_are_read_blank_ones_skipped_and_errors_named_by_row() {
        let f = form(&[
            ("b_years", "1"),
            ("b_first_year", "2026"),
            ("b_0_c_rows", "3"),
            ("b_0_p_rows", "2"),
            ("b_0_c_0_account", "64"),
            ("b_0_c_0_label", "Salaires"),
            ("b_0_c_0_amount", "20 000"),
            ("b_0_c_1_account", "60"),
            ("b_0_c_2_account", "61"),
            ("b_0_c_2_amount", "-5"),
            ("b_0_p_0_account", "74"),
            ("b_0_p_0_amount", "12000,5"),
            ("b_0_p_0_funder", "etat"),
            ("b_0_p_1_account", "64"),
            ("b_0_p_1_amount", "3"),
        ]);
        let input = BudgetInput::read("b", &f);
        let mut e = ValidationErrors::new();
        let (years, map) = input.parse(2025, &mut e);
        assert_eq!(years.len(), 1);
        assert_eq!(years[0].year, 2026);
        assert_eq!(years[0].charges.len(), 1);
        assert_eq!(years[0].income[0].amount_cents.get(), 1_200_050);
        assert_eq!(years[0].income[0].funder.as_deref(), Some("etat"));
        assert!(e.for_field("b_0_c_2_amount").unwrap().contains("négatif"));
        assert!(
            e.for_field("b_0_p_1_account").is_some(),
            "a charge account on the income side"
        );
        assert_eq!(
            form_field("b", "budget[0].income[0].funder", "budget", &map).as_deref(),
            Some("b_0_p_0_funder")
        );
        assert_eq!(
            line_of("budget[0].charges[3].account", "budget"),
            Some((0, true, 3))
        );
        assert_eq!(amount_text(1_200_050), "12000,50");
    }

    #[test]
    fn years_are_added_up_to_four() {
        let mut b = BudgetInput::from_years("b", &[], 2026);
        assert_eq!(b.years.len(), 1);
        assert_eq!(b.years[0].charges.len(), BLANK_ROWS);
        assert!(b.add_year() && b.add_year() && b.add_year());
        assert!(!b.add_year());
        b.remove_year();
        assert_eq!(b.years.len(), 3);
    }
}
