//! Following the money: amounts requested, proposed, decided, agreed and paid, grouped by
//! one dimension, the detailed table behind the exports, and the decided subsidies published
//! as open data.

use crate::{get_i64, get_opt_str, get_str, Store, StoreResult};

/// What the totals are grouped by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// Programme year.
    Annee,
    /// Contract component.
    Composante,
    /// Financer.
    Financeur,
    /// Organisation.
    Structure,
    /// Framework node (an application serving two nodes counts in both).
    Cadre,
    /// QPV (an application in two QPV counts in both).
    Qpv,
    /// Commune (through the application's QPV).
    Commune,
    /// Status.
    Statut,
}

impl Dimension {
    /// Every dimension.
    pub const ALL: [Dimension; 8] = [
        Dimension::Annee,
        Dimension::Composante,
        Dimension::Financeur,
        Dimension::Structure,
        Dimension::Cadre,
        Dimension::Qpv,
        Dimension::Commune,
        Dimension::Statut,
    ];
    /// URL code.
    pub fn code(self) -> &'static str {
        match self {
            Dimension::Annee => "annee",
            Dimension::Composante => "composante",
            Dimension::Financeur => "financeur",
            Dimension::Structure => "structure",
            Dimension::Cadre => "cadre",
            Dimension::Qpv => "qpv",
            Dimension::Commune => "commune",
            Dimension::Statut => "statut",
        }
    }
    /// French label.
    pub fn label(self) -> &'static str {
        match self {
            Dimension::Annee => "Année",
            Dimension::Composante => "Composante",
            Dimension::Financeur => "Financeur",
            Dimension::Structure => "Structure",
            Dimension::Cadre => "Cadre stratégique",
            Dimension::Qpv => "Quartier prioritaire",
            Dimension::Commune => "Commune",
            Dimension::Statut => "Statut",
        }
    }
    /// Parses a URL code.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.code() == s)
    }
    fn sql(self) -> (&'static str, &'static str) {
        match self {
            Dimension::Annee => ("CAST(l.year AS TEXT)", ""),
            Dimension::Composante => ("l.component", ""),
            Dimension::Financeur => ("l.funder_code", ""),
            Dimension::Structure => (
                "o.name",
                "JOIN applications a ON a.id = l.application_id JOIN organisations o ON o.id = a.organisation_id",
            ),
            Dimension::Statut => ("l.status", ""),
            Dimension::Cadre => ("n.node_key", "JOIN application_nodes n ON n.application_id = l.application_id"),
            // Lines are read alone (their status, year and component mirror the application's),
            // joined only to what the dimension needs. One row per (application, QPV) — resp.
            // (application, commune) — is picked through the primary key of the application's
            // own places, so that only the contract's applications are read (a DISTINCT
            // sub-select would read every application of the platform).
            Dimension::Qpv => (
                "p.qpv_code",
                "JOIN application_places p ON p.application_id = l.application_id AND p.insee = (SELECT MIN(p2.insee) FROM application_places p2 WHERE p2.application_id = p.application_id AND p2.qpv_code = p.qpv_code)",
            ),
            Dimension::Commune => (
                "p.insee",
                "JOIN application_places p ON p.application_id = l.application_id AND p.qpv_code = (SELECT MIN(p2.qpv_code) FROM application_places p2 WHERE p2.application_id = p.application_id AND p2.insee = p.insee)",
            ),
        }
    }
}

/// Filters of the dashboards.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub struct DashboardFilter {
    /// Only this year.
    pub year: Option<i64>,
    /// Only this financer.
    pub funder: Option<String>,
}

/// Totals of one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Totals {
    /// Group key (year, code, name...).
    pub key: String,
    /// Number of actions (applications).
    pub actions: i64,
    /// Requested (cents).
    pub requested: i64,
    /// Proposed by instructors (cents).
    pub proposed: i64,
    /// Granted (cents).
    pub decided: i64,
    /// Under agreement (cents).
    pub agreed: i64,
    /// Paid (cents).
    pub paid: i64,
}

/// One financer line with everything the exports show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct LineRow {
    /// Application reference.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Organisation.
    pub organisation: String,
    /// Its SIRET.
    pub siret: String,
    /// Its RNA number.
    pub rna: Option<String>,
    /// Year.
    pub year: i64,
    /// Component.
    pub component: String,
    /// Financer code.
    pub funder: String,
    /// Financer name.
    pub funder_name: String,
    /// Financer SIRET.
    pub funder_siret: Option<String>,
    /// Status.
    pub status: String,
    /// Requested (cents).
    pub requested: i64,
    /// Proposed (cents).
    pub proposed: Option<i64>,
    /// Opinion.
    pub opinion: Option<String>,
    /// Decision.
    pub decision: Option<String>,
    /// Granted (cents).
    pub decided: i64,
    /// Under agreement (cents).
    pub agreed: i64,
    /// Paid (cents).
    pub paid: i64,
    /// Date of the committee that decided.
    pub decided_on: Option<String>,
    /// Agreement reference.
    pub agreement: Option<String>,
    /// Date the agreement was generated.
    pub agreement_on: Option<String>,
    /// Advance share of the agreement.
    pub advance_percent: Option<i64>,
    /// Total forecast charges of the action (cents), for the subsidy's share.
    pub body: String,
}

const FILTER: &str = "l.contract_id = $1 AND ($2 = 0 OR l.year = $2) AND ($3 = '' OR l.funder_code = $3) AND l.status NOT IN ('brouillon', 'retire')";

impl Store {
    /// Totals grouped by `dim` for a contract.
    pub async fn totals(
        &self,
        contract_id: i64,
        dim: Dimension,
        f: &DashboardFilter,
    ) -> StoreResult<Vec<Totals>> {
        let (key, join) = dim.sql();
        let sql = format!(
            "SELECT {key} AS k, COUNT(DISTINCT l.application_id) AS actions,
                    CAST(SUM(l.requested) AS BIGINT) AS requested, CAST(SUM(COALESCE(l.proposed, 0)) AS BIGINT) AS proposed,
                    CAST(SUM(l.decided) AS BIGINT) AS decided, CAST(SUM(l.agreed) AS BIGINT) AS agreed, CAST(SUM(l.paid) AS BIGINT) AS paid
             FROM funding_lines l {join}
             WHERE {FILTER} GROUP BY {key} ORDER BY {key}"
        );
        sqlx::query(&sql)
            .bind(contract_id)
            .bind(f.year.unwrap_or(0))
            .bind(f.funder.clone().unwrap_or_default())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Totals {
                    key: get_opt_str(r, "k")?.unwrap_or_default(),
                    actions: get_i64(r, "actions")?,
                    requested: get_i64(r, "requested")?,
                    proposed: get_i64(r, "proposed")?,
                    decided: get_i64(r, "decided")?,
                    agreed: get_i64(r, "agreed")?,
                    paid: get_i64(r, "paid")?,
                })
            })
            .collect()
    }

    /// The grand total for a contract.
    pub async fn grand_total(&self, contract_id: i64, f: &DashboardFilter) -> StoreResult<Totals> {
        let sql = format!(
            "SELECT COUNT(DISTINCT l.application_id) AS actions,
                    CAST(COALESCE(SUM(l.requested), 0) AS BIGINT) AS requested, CAST(COALESCE(SUM(COALESCE(l.proposed, 0)), 0) AS BIGINT) AS proposed,
                    CAST(COALESCE(SUM(l.decided), 0) AS BIGINT) AS decided, CAST(COALESCE(SUM(l.agreed), 0) AS BIGINT) AS agreed, CAST(COALESCE(SUM(l.paid), 0) AS BIGINT) AS paid
             FROM funding_lines l WHERE {FILTER}"
        );
        let r = sqlx::query(&sql)
            .bind(contract_id)
            .bind(f.year.unwrap_or(0))
            .bind(f.funder.clone().unwrap_or_default())
            .fetch_one(&self.pool)
            .await?;
        Ok(Totals {
            key: "Total".into(),
            actions: get_i64(&r, "actions")?,
            requested: get_i64(&r, "requested")?,
            proposed: get_i64(&r, "proposed")?,
            decided: get_i64(&r, "decided")?,
            agreed: get_i64(&r, "agreed")?,
            paid: get_i64(&r, "paid")?,
        })
    }

    /// Every financer line of a contract (filtered), for the XLSX export and open data.
    pub async fn line_rows(
        &self,
        contract_id: i64,
        f: &DashboardFilter,
        granted_only: bool,
    ) -> StoreResult<Vec<LineRow>> {
        let sql = format!(
            "SELECT a.reference, a.title, o.name AS organisation, o.siret, o.rna, l.year, l.component, l.funder_code,
                    COALESCE(fu.name, l.funder_code) AS funder_name, fu.siret AS funder_siret, l.status, l.requested, l.proposed,
                    l.opinion, l.decision, l.decided, l.agreed, l.paid, c.held_on AS decided_on, g.reference AS agreement,
                    g.created_at AS agreement_on, g.advance_percent, a.body
             FROM funding_lines l JOIN applications a ON a.id = l.application_id JOIN organisations o ON o.id = a.organisation_id
             LEFT JOIN funders fu ON fu.contract_id = l.contract_id AND fu.code = l.funder_code
             LEFT JOIN committees c ON c.id = l.committee_id
             LEFT JOIN agreements g ON g.line_id = l.id
             WHERE {FILTER} {} ORDER BY a.reference, l.funder_code",
            if granted_only { "AND l.decision = 'accorde'" } else { "" }
        );
        sqlx::query(&sql)
            .bind(contract_id)
            .bind(f.year.unwrap_or(0))
            .bind(f.funder.clone().unwrap_or_default())
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                use sqlx::Row;
                Ok(LineRow {
                    reference: get_str(r, "reference")?,
                    title: get_str(r, "title")?,
                    organisation: get_str(r, "organisation")?,
                    siret: get_str(r, "siret")?,
                    rna: get_opt_str(r, "rna")?,
                    year: get_i64(r, "year")?,
                    component: get_str(r, "component")?,
                    funder: get_str(r, "funder_code")?,
                    funder_name: get_str(r, "funder_name")?,
                    funder_siret: get_opt_str(r, "funder_siret")?,
                    status: get_str(r, "status")?,
                    requested: get_i64(r, "requested")?,
                    proposed: r.try_get::<Option<i64>, _>("proposed")?,
                    opinion: get_opt_str(r, "opinion")?,
                    decision: get_opt_str(r, "decision")?,
                    decided: get_i64(r, "decided")?,
                    agreed: get_i64(r, "agreed")?,
                    paid: get_i64(r, "paid")?,
                    decided_on: get_opt_str(r, "decided_on")?,
                    agreement: get_opt_str(r, "agreement")?,
                    agreement_on: get_opt_str(r, "agreement_on")?,
                    advance_percent: r.try_get::<Option<i64>, _>("advance_percent")?,
                    body: get_str(r, "body")?,
                })
            })
            .collect()
    }
}
