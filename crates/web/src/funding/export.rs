//! Exports of the money side: the XLSX workbook of a contract's dashboard (detailed financer
//! lines, totals by every dimension, envelope use of its calls) and the granted subsidies as
//! open data in the SCDL « subventions » schema. The names behind dashboard keys (framework
//! nodes, QPV, communes, financers, statuses) are resolved here for the pages too.

use crate::error::{Error, Result};
use quartiers_domain::funding::{ApplicationBody, Status};
use quartiers_io::scdl::{write_scdl_csv, ScdlNature, ScdlPaymentTerms, ScdlSubsidy};
use quartiers_io::xlsx_table::{write_xlsx, Cell, Sheet};
use quartiers_store::funding::calls::Funder;
use quartiers_store::funding::dashboards::{DashboardFilter, Dimension, LineRow, Totals};
use quartiers_store::Store;
use std::collections::HashMap;

/// The names behind the keys of a contract's dashboard.
#[derive(Debug, Clone, Default)]
pub struct Labels {
    nodes: HashMap<String, String>,
    qpvs: HashMap<String, String>,
    communes: HashMap<String, String>,
    funders: HashMap<String, String>,
}

impl Labels {
    /// Reads the contract document and the financers of a contract.
    pub async fn load(store: &Store, contract_id: i64) -> Result<Labels> {
        let slug = store
            .list_contracts()
            .await?
            .into_iter()
            .find(|c| c.id == contract_id)
            .map(|c| c.slug)
            .ok_or(Error::NotFound)?;
        let doc = store.contract(&slug).await?.document;
        Ok(Labels::new(&doc, &store.funders(contract_id).await?))
    }

    /// The names of a contract document's nodes, QPV and communes, and of its financers.
    pub fn new(doc: &quartiers_domain::ContractDocument, funders: &[Funder]) -> Labels {
        let mut labels = Labels::default();
        fn walk(nodes: &[quartiers_domain::FrameworkNode], out: &mut HashMap<String, String>) {
            for n in nodes {
                out.insert(n.key.clone(), n.title.clone());
                walk(&n.children, out);
            }
        }
        walk(&doc.contract.framework, &mut labels.nodes);
        for q in &doc.contract.qpvs {
            if let (Some(code), Some(name)) = (&q.code, &q.name) {
                labels.qpvs.insert(code.to_string(), name.clone());
            }
        }
        for c in &doc.contract.territory.communes {
            labels.communes.insert(c.insee.to_string(), c.name.clone());
        }
        for f in funders {
            labels.funders.insert(f.code.clone(), f.name.clone());
        }
        labels
    }

    /// Whether keys of `dim` are codes with a name beside them.
    pub fn named(dim: Dimension) -> bool {
        matches!(
            dim,
            Dimension::Financeur
                | Dimension::Cadre
                | Dimension::Qpv
                | Dimension::Commune
                | Dimension::Statut
        )
    }

    /// The name of a financer (its code when unknown).
    pub fn funder(&self, code: &str) -> String {
        self.funders
            .get(code)
            .cloned()
            .unwrap_or_else(|| code.to_string())
    }

    /// The French name behind `key` for the dimension (the key itself when it has none).
    pub fn of(&self, dim: Dimension, key: &str) -> String {
        let found = match dim {
            Dimension::Financeur => self.funders.get(key).cloned(),
            Dimension::Cadre => self.nodes.get(key).cloned(),
            Dimension::Qpv => self.qpvs.get(key).cloned(),
            Dimension::Commune if key.is_empty() => Some("Commune non renseignée".into()),
            Dimension::Commune => self.communes.get(key).cloned(),
            Dimension::Statut => Status::parse(key)
                .ok()
                .map(|s| crate::layout::capitalize(s.label())),
            _ => None,
        };
        found.unwrap_or_else(|| key.to_string())
    }
}

/// The sheet name of the totals by a dimension.
fn totals_sheet_name(dim: Dimension) -> String {
    format!("Par {}", dim.label().to_lowercase())
}

fn amounts(t: &Totals) -> Vec<Cell> {
    vec![
        Cell::Int(t.actions),
        Cell::Euros(t.requested),
        Cell::Euros(t.proposed),
        Cell::Euros(t.decided),
        Cell::Euros(t.agreed),
        Cell::Euros(t.paid),
    ]
}

const AMOUNT_HEADERS: [&str; 6] = [
    "Actions",
    "Demandé",
    "Proposé",
    "Accordé",
    "Conventionné",
    "Payé",
];

fn opt_text(s: &Option<String>) -> Cell {
    match s {
        Some(s) if !s.is_empty() => Cell::Text(s.clone()),
        _ => Cell::Empty,
    }
}

fn line_cells(r: &LineRow, labels: &Labels) -> Vec<Cell> {
    let status = Status::parse(&r.status)
        .map(|s| s.label().to_string())
        .unwrap_or_else(|_| r.status.clone());
    vec![
        Cell::Text(r.reference.clone()),
        Cell::Text(r.title.clone()),
        Cell::Text(r.organisation.clone()),
        Cell::Text(r.siret.clone()),
        opt_text(&r.rna),
        Cell::Int(r.year),
        Cell::Text(r.component.clone()),
        Cell::Text(r.funder.clone()),
        Cell::Text(labels.funder(&r.funder)),
        Cell::Text(status),
        Cell::Euros(r.requested),
        r.proposed.map(Cell::Euros).unwrap_or(Cell::Empty),
        opt_text(&r.opinion),
        opt_text(&r.decision),
        Cell::Euros(r.decided),
        Cell::Euros(r.agreed),
        Cell::Euros(r.paid),
        r.decided_on.clone().map(Cell::Date).unwrap_or(Cell::Empty),
        opt_text(&r.agreement),
    ]
}

/// The XLSX workbook of a contract's money, for the filter: the detailed financer lines,
/// the totals by each dimension (with the grand total), and the use of the envelopes of
/// the contract's calls (of the filtered year and financer).
pub async fn funding_xlsx(
    store: &Store,
    contract_id: i64,
    filter: &DashboardFilter,
) -> Result<Vec<u8>> {
    let labels = Labels::load(store, contract_id).await?;
    let mut sheets = Vec::new();
    let grand = store.grand_total(contract_id, filter).await?;
    let mut summary_headers = vec!["Périmètre".to_string()];
    summary_headers.extend(AMOUNT_HEADERS.iter().map(|h| h.to_string()));
    let scope = format!(
        "{} — {}",
        filter
            .year
            .map(|y| format!("Année {y}"))
            .unwrap_or_else(|| "Toutes les années".into()),
        filter
            .funder
            .as_deref()
            .map(|f| labels.funder(f))
            .unwrap_or_else(|| "tous les financeurs".into())
    );
    let mut row = vec![Cell::Text(scope)];
    row.extend(amounts(&grand));
    sheets.push(Sheet {
        name: "Synthèse".into(),
        headers: summary_headers,
        rows: vec![row],
    });

    let lines = store.line_rows(contract_id, filter, false).await?;
    sheets.push(Sheet {
        name: "Lignes de financement".into(),
        headers: [
            "Dossier",
            "Action",
            "Structure",
            "SIRET",
            "RNA",
            "Année",
            "Composante",
            "Code financeur",
            "Financeur",
            "Statut",
            "Demandé",
            "Proposé",
            "Avis",
            "Décision",
            "Accordé",
            "Conventionné",
            "Payé",
            "Date du comité",
            "Convention",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows: lines.iter().map(|r| line_cells(r, &labels)).collect(),
    });

    for dim in Dimension::ALL {
        let totals = store.totals(contract_id, dim, filter).await?;
        let mut headers = vec![dim.label().to_string()];
        if Labels::named(dim) {
            headers.push("Libellé".into());
        }
        headers.extend(AMOUNT_HEADERS.iter().map(|h| h.to_string()));
        let mut rows: Vec<Vec<Cell>> = totals
            .iter()
            .map(|t| {
                let mut row = vec![Cell::Text(t.key.clone())];
                if Labels::named(dim) {
                    row.push(Cell::Text(labels.of(dim, &t.key)));
                }
                row.extend(amounts(t));
                row
            })
            .collect();
        let mut total = vec![Cell::Text("Total général".into())];
        if Labels::named(dim) {
            total.push(Cell::Empty);
        }
        total.extend(amounts(&grand));
        rows.push(total);
        sheets.push(Sheet {
            name: totals_sheet_name(dim),
            headers,
            rows,
        });
    }

    let mut env_rows = Vec::new();
    for call in store.calls(contract_id).await? {
        if filter
            .year
            .is_some_and(|y| y != i64::from(call.settings.year))
        {
            continue;
        }
        for u in store.envelope_use(call.id).await? {
            if filter.funder.as_deref().is_some_and(|f| f != u.funder) {
                continue;
            }
            env_rows.push(vec![
                Cell::Int(i64::from(call.settings.year)),
                Cell::Text(call.settings.title.clone()),
                Cell::Text(labels.funder(&u.funder)),
                Cell::Text(u.component.clone()),
                Cell::Euros(u.envelope),
                Cell::Euros(u.granted),
                Cell::Euros(u.remaining),
                if u.envelope > 0 {
                    Cell::Percent(u.granted as f64 / u.envelope as f64)
                } else {
                    Cell::Empty
                },
            ]);
        }
    }
    sheets.push(Sheet {
        name: "Enveloppes".into(),
        headers: [
            "Année",
            "Appel à projets",
            "Financeur",
            "Composante",
            "Enveloppe",
            "Accordé",
            "Reste",
            "Consommation",
        ]
        .iter()
        .map(|h| h.to_string())
        .collect(),
        rows: env_rows,
    });
    write_xlsx(&sheets).map_err(|m| Error::Internal(anyhow::anyhow!(m)))
}

/// The date part of a stored timestamp.
fn day(s: &str) -> String {
    s.get(..10).unwrap_or(s).to_string()
}

/// One granted financer line as an SCDL « subventions » row: the granting body is the
/// financer (name, SIRET), the beneficiary the organisation (name, SIRET, RNA), the object
/// the action's title, the amount the grant; the agreement's date (else the committee's),
/// its reference (else the application's), payment in instalments when the agreement has an
/// advance, over the period from the agreement to the end of the action.
pub fn scdl_row(r: &LineRow, labels: &Labels) -> ScdlSubsidy {
    let body: ApplicationBody = serde_json::from_str(&r.body).unwrap_or_default();
    let date = r
        .agreement_on
        .as_deref()
        .or(r.decided_on.as_deref())
        .map(day)
        .unwrap_or_default();
    let end = day(body.end_on.trim());
    let period = if end.len() == 10 && end > date {
        ScdlSubsidy::payment_period(&date, &end)
    } else {
        date.clone()
    };
    let terms = match r.advance_percent {
        Some(p) if p > 0 && p < 100 => ScdlPaymentTerms::Echelonne,
        _ => ScdlPaymentTerms::Unique,
    };
    ScdlSubsidy {
        nom_attribuant: labels.funder(&r.funder),
        id_attribuant: r.funder_siret.clone().unwrap_or_default(),
        date_convention: date,
        reference_decision: Some(r.agreement.clone().unwrap_or_else(|| r.reference.clone())),
        nom_beneficiaire: r.organisation.clone(),
        id_beneficiaire: Some(r.siret.clone()).filter(|s| !s.is_empty()),
        rna_beneficiaire: r.rna.clone().filter(|s| !s.is_empty()),
        objet: if r.title.trim().is_empty() {
            body.title.clone()
        } else {
            r.title.clone()
        },
        montant: r.decided,
        nature: ScdlNature::Numeraire,
        conditions_versement: terms,
        dates_periode_versement: period,
        id_rae: None,
        notification_ue: false,
        // One beneficiary per subsidy: it receives the whole amount.
        pourcentage_subvention: 1.0,
        dispositif_aide: None,
    }
}

/// The granted lines of the filter as SCDL rows, with the French reasons of the rows left
/// out because the schema would refuse them (a financer without SIRET...).
pub async fn scdl_subsidies(
    store: &Store,
    contract_id: i64,
    filter: &DashboardFilter,
) -> Result<(Vec<ScdlSubsidy>, Vec<String>)> {
    let labels = Labels::load(store, contract_id).await?;
    let mut rows = Vec::new();
    let mut left_out = Vec::new();
    for r in store.line_rows(contract_id, filter, true).await? {
        let s = scdl_row(&r, &labels);
        let problems = s.problems();
        if problems.is_empty() {
            rows.push(s);
        } else {
            left_out.push(format!(
                "{} ({}) : {}",
                r.reference,
                labels.funder(&r.funder),
                problems.join(" ; ")
            ));
        }
    }
    Ok((rows, left_out))
}

/// Writes SCDL rows as the CSV file.
pub fn scdl_bytes(rows: &[ScdlSubsidy]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    write_scdl_csv(rows, &mut out).map_err(|e| Error::Internal(e.into()))?;
    Ok(out)
}

/// The granted subsidies of the filter as an SCDL « subventions » 2.1.1 CSV file (valid rows
/// only; see [`scdl_subsidies`]).
pub async fn scdl_csv(
    store: &Store,
    contract_id: i64,
    filter: &DashboardFilter,
) -> Result<Vec<u8>> {
    let (rows, _) = scdl_subsidies(store, contract_id, filter).await?;
    scdl_bytes(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> LineRow {
        LineRow {
            reference: "MEL-2026-0001".into(),
            title: "Ateliers".into(),
            organisation: "Association".into(),
            siret: "73282932000074".into(),
            rna: Some("W595012345".into()),
            year: 2026,
            component: "Contrat de ville".into(),
            funder: "etat".into(),
            funder_name: "État".into(),
            funder_siret: Some("13000000000000".into()),
            status: "conventionne".into(),
            requested: 100_00,
            proposed: Some(100_00),
            opinion: Some("favorable".into()),
            decision: Some("accorde".into()),
            decided: 90_00,
            agreed: 90_00,
            paid: 0,
            decided_on: Some("2026-03-01".into()),
            agreement: Some("CONV-MEL-2026-0001-ETAT".into()),
            agreement_on: Some("2026-03-10T09:00:00Z".into()),
            advance_percent: Some(80),
            body: r#"{"title":"Ateliers","end_on":"2026-12-31"}"#.into(),
        }
    }

    #[test]
    fn scdl_row_maps_the_parties_dates_and_terms() {
        let mut labels = Labels::default();
        labels
            .funders
            .insert("etat".into(), "Préfecture du Nord".into());
        let s = scdl_row(&row(), &labels);
        assert_eq!(s.nom_attribuant, "Préfecture du Nord");
        assert_eq!(s.date_convention, "2026-03-10");
        assert_eq!(s.dates_periode_versement, "2026-03-10/2026-12-31");
        assert_eq!(s.conditions_versement, ScdlPaymentTerms::Echelonne);
        assert_eq!(s.montant, 90_00);
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        let mut r = row();
        r.agreement_on = None;
        r.agreement = None;
        r.advance_percent = None;
        let s = scdl_row(&r, &labels);
        assert_eq!(s.date_convention, "2026-03-01");
        assert_eq!(s.reference_decision.as_deref(), Some("MEL-2026-0001"));
        assert_eq!(s.conditions_versement, ScdlPaymentTerms::Unique);
    }

    #[test]
    fn labels_name_statuses_and_fall_back_to_keys() {
        let l = Labels::default();
        assert_eq!(l.of(Dimension::Statut, "decide"), "Décidé");
        assert_eq!(l.of(Dimension::Cadre, "e9"), "e9");
        assert_eq!(l.of(Dimension::Commune, ""), "Commune non renseignée");
    }
}
