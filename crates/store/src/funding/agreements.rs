//! Agreements (conventions annuelles, CPO pluriannuelles) for the granted lines, their
//! amendments, the payments recorded against them, and the reports they make due.

use super::applications::{audit, lines_in};
use super::transitions::{apply_event, current};
use crate::contracts::Author;
use crate::{get_i64, get_str, now_text, today, Store, StoreError, StoreResult};
use quartiers_domain::funding::money_rules::{check_payment, schedule};
use quartiers_domain::funding::{Decision, Event, Status};
use quartiers_domain::ValidationErrors;

/// The terms the pilot sets when agreements are generated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub struct AgreementTerms {
    /// Share paid in advance, in percent (the balance follows the report).
    pub advance_percent: u8,
    /// When the end-of-action report is due (AAAA-MM-JJ).
    pub report_due_on: String,
    /// Obligations of the beneficiary (communication, evaluation...), free text.
    #[serde(default)]
    pub obligations: String,
}

/// An agreement.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Agreement {
    /// Id.
    pub id: i64,
    /// Application.
    pub application_id: i64,
    /// Financer.
    pub funder: String,
    /// Reference.
    pub reference: String,
    /// `annuelle` or `pluriannuelle` (CPO).
    pub kind: String,
    /// Total amount (cents).
    pub amount: i64,
    /// Amount per year (cents).
    pub years: Vec<(i32, i64)>,
    /// Advance share (percent).
    pub advance_percent: i64,
    /// Report due date.
    pub report_due_on: String,
    /// Obligations.
    pub obligations: String,
    /// Amendments (date, text).
    pub amendments: Vec<(String, String)>,
    /// Paid so far (cents).
    pub paid: i64,
}

/// A recorded payment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Payment {
    /// Id.
    pub id: i64,
    /// Agreement.
    pub agreement_id: i64,
    /// `avance`, `acompte` or `solde`.
    pub kind: String,
    /// Amount (cents).
    pub amount: i64,
    /// Payment date.
    pub paid_on: String,
}

/// Statuses in which an application's report is awaited (SQL list).
pub(crate) const AWAITING_REPORT: &str = "'conventionne', 'paye', 'bilan_attendu'";

/// An overdue report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct OverdueReport {
    /// Application.
    pub application_id: i64,
    /// Its reference.
    pub reference: String,
    /// Organisation.
    pub organisation: String,
    /// Due date.
    pub due_on: String,
}

/// Payment kinds.
pub const PAYMENT_KINDS: &[(&str, &str)] = &[
    ("avance", "Avance"),
    ("acompte", "Acompte"),
    ("solde", "Solde"),
];

fn read_agreement(r: &sqlx::any::AnyRow) -> StoreResult<Agreement> {
    let bad = |e: serde_json::Error| StoreError::Conflict(e.to_string());
    Ok(Agreement {
        id: get_i64(r, "id")?,
        application_id: get_i64(r, "application_id")?,
        funder: get_str(r, "funder_code")?,
        reference: get_str(r, "reference")?,
        kind: get_str(r, "kind")?,
        amount: get_i64(r, "amount")?,
        years: serde_json::from_str(&get_str(r, "years")?).map_err(bad)?,
        advance_percent: get_i64(r, "advance_percent")?,
        report_due_on: get_str(r, "report_due_on")?,
        obligations: get_str(r, "obligations")?,
        amendments: serde_json::from_str(&get_str(r, "amendments")?).map_err(bad)?,
        paid: get_i64(r, "paid")?,
    })
}

/// Splits a granted amount over the years in proportion to what was asked each year, so the
/// parts add up exactly to the grant (the last year takes the rounding).
pub fn split_by_year(granted: i64, asked: &[(i32, i64)]) -> Vec<(i32, i64)> {
    let total: i64 = asked.iter().map(|(_, a)| a).sum();
    if asked.is_empty() {
        return vec![];
    }
    let mut out = Vec::new();
    let mut given = 0;
    for (i, (y, a)) in asked.iter().enumerate() {
        let part = if i + 1 == asked.len() {
            granted - given
        } else if total == 0 {
            granted / asked.len() as i64
        } else {
            (i128::from(granted) * i128::from(*a) / i128::from(total)) as i64
        };
        given += part;
        out.push((*y, part));
    }
    out
}

impl Store {
    /// Generates one agreement per granted line (multi-year when the request spans years) and
    /// moves the application to « conventionné ».
    pub async fn conventionner(
        &self,
        application_id: i64,
        terms: &AgreementTerms,
        actor: &Author,
    ) -> StoreResult<Vec<i64>> {
        let mut e = ValidationErrors::new();
        if terms.advance_percent > 100 {
            e.add(
                "advance_percent",
                "L'avance est un pourcentage entre 0 et 100.",
            );
        }
        e.check(
            "report_due_on",
            quartiers_domain::contract::parse_date(&terms.report_due_on),
        );
        e.into_result()?;
        let mut tx = self.pool.begin().await?;
        let cur = current(&mut tx, application_id).await?;
        let lines = lines_in(&mut tx, application_id).await?;
        let mut ids = Vec::new();
        for l in lines
            .iter()
            .filter(|l| l.decision == Some(Decision::Accorde))
        {
            let asked: Vec<(i32, i64)> = cur
                .body
                .budget
                .iter()
                .map(|y| {
                    (
                        y.year,
                        y.requests()
                            .iter()
                            .filter(|(f, _)| *f == l.funder)
                            .map(|(_, a)| a.get())
                            .sum(),
                    )
                })
                .collect();
            let years = split_by_year(l.decided, &asked);
            let kind = if years.len() > 1 {
                "pluriannuelle"
            } else {
                "annuelle"
            };
            let id = sqlx::query_scalar::<_, i64>(
                "INSERT INTO agreements (line_id, application_id, contract_id, funder_code, reference, kind, amount, years, advance_percent, report_due_on, obligations, amendments, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, '[]', $12) RETURNING id",
            )
            .bind(l.id)
            .bind(application_id)
            .bind(cur.contract_id)
            .bind(&l.funder)
            .bind(format!("CONV-{}-{}", cur.reference, l.funder.to_uppercase()))
            .bind(kind)
            .bind(l.decided)
            .bind(serde_json::to_string(&years).map_err(|e| StoreError::Conflict(e.to_string()))?)
            .bind(i64::from(terms.advance_percent))
            .bind(terms.report_due_on.trim())
            .bind(terms.obligations.trim())
            .bind(now_text())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| if StoreError::is_unique_violation(&e) { StoreError::Conflict("Les conventions de ce dossier existent déjà.".into()) } else { e.into() })?;
            sqlx::query("UPDATE funding_lines SET agreed = decided WHERE id = $1")
                .bind(l.id)
                .execute(&mut *tx)
                .await?;
            ids.push(id);
        }
        apply_event(&mut tx, application_id, Event::Conventionner, actor, None).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// The agreements of an application.
    pub async fn agreements(&self, application_id: i64) -> StoreResult<Vec<Agreement>> {
        sqlx::query("SELECT g.*, CAST(COALESCE((SELECT SUM(p.amount) FROM payments p WHERE p.agreement_id = g.id), 0) AS BIGINT) AS paid FROM agreements g WHERE g.application_id = $1 ORDER BY g.id")
            .bind(application_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(read_agreement)
            .collect()
    }

    /// One agreement.
    pub async fn agreement(&self, id: i64) -> StoreResult<Agreement> {
        let r = sqlx::query("SELECT g.*, CAST(COALESCE((SELECT SUM(p.amount) FROM payments p WHERE p.agreement_id = g.id), 0) AS BIGINT) AS paid FROM agreements g WHERE g.id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        read_agreement(&r)
    }

    /// The default schedule of an agreement: (advance, balance) in cents.
    pub fn agreement_schedule(a: &Agreement) -> (i64, i64) {
        schedule(a.amount, a.advance_percent.clamp(0, 100) as u8)
    }

    /// Amends an agreement: a new amount for one year, with its reason. The new total may not
    /// fall below what was already paid.
    pub async fn amend_agreement(
        &self,
        id: i64,
        year: i32,
        amount: i64,
        reason: &str,
        actor: &Author,
    ) -> StoreResult<()> {
        let a = self.agreement(id).await?;
        let mut years = a.years.clone();
        let Some(slot) = years.iter_mut().find(|(y, _)| *y == year) else {
            return Err(ValidationErrors::single(
                "year",
                format!("La convention ne couvre pas {year}."),
            )
            .into());
        };
        if reason.trim().is_empty() {
            return Err(
                ValidationErrors::single("reason", "Indiquez l'objet de l'avenant.").into(),
            );
        }
        if amount < 0 {
            return Err(
                ValidationErrors::single("amount", "Le montant ne peut pas être négatif.").into(),
            );
        }
        let before = slot.1;
        slot.1 = amount;
        let total: i64 = years.iter().map(|(_, v)| v).sum();
        if total < a.paid {
            return Err(ValidationErrors::single(
                "amount",
                format!(
                    "Le nouveau total ({}) serait inférieur aux sommes déjà payées ({}).",
                    super::euros(total),
                    super::euros(a.paid)
                ),
            )
            .into());
        }
        let mut amendments = a.amendments.clone();
        amendments.push((
            today().to_string(),
            format!(
                "{year} : {} → {} — {}",
                super::euros(before),
                super::euros(amount),
                reason.trim()
            ),
        ));
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE agreements SET years = $1, amount = $2, amendments = $3 WHERE id = $4")
            .bind(serde_json::to_string(&years).map_err(|e| StoreError::Conflict(e.to_string()))?)
            .bind(total)
            .bind(
                serde_json::to_string(&amendments)
                    .map_err(|e| StoreError::Conflict(e.to_string()))?,
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE funding_lines SET agreed = $1 WHERE application_id = $2 AND funder_code = $3",
        )
        .bind(total)
        .bind(a.application_id)
        .bind(&a.funder)
        .execute(&mut *tx)
        .await?;
        let cur = current(&mut tx, a.application_id).await?;
        audit(
            &mut tx,
            a.application_id,
            &format!("avenant:{}", a.funder),
            Some(cur.status),
            cur.status,
            actor,
            amendments.last().map(|(_, t)| t.as_str()),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a payment; the application moves to « payé » at the first one.
    pub async fn record_payment(
        &self,
        agreement_id: i64,
        kind: &str,
        amount: i64,
        paid_on: &str,
        actor: &Author,
    ) -> StoreResult<i64> {
        let mut e = ValidationErrors::new();
        if !PAYMENT_KINDS.iter().any(|(k, _)| *k == kind) {
            e.add("kind", "Choisissez avance, acompte ou solde.");
        }
        e.check("paid_on", quartiers_domain::contract::parse_date(paid_on));
        e.into_result()?;
        let a = self.agreement(agreement_id).await?;
        check_payment(amount, a.amount - a.paid)
            .map_err(|m| ValidationErrors::single("amount", m))?;
        let mut tx = self.pool.begin().await?;
        let cur = current(&mut tx, a.application_id).await?;
        if !matches!(
            cur.status,
            Status::Conventionne | Status::Paye | Status::BilanAttendu | Status::BilanDepose
        ) {
            return Err(StoreError::Conflict(format!(
                "Impossible de payer un dossier « {} ».",
                cur.status.label()
            )));
        }
        let id = sqlx::query_scalar::<_, i64>("INSERT INTO payments (agreement_id, kind, amount, paid_on, recorded_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(agreement_id)
            .bind(kind)
            .bind(amount)
            .bind(paid_on.trim())
            .bind(actor.user_id)
            .bind(now_text())
            .fetch_one(&mut *tx)
            .await?;
        sqlx::query("UPDATE funding_lines SET paid = paid + $1 WHERE application_id = $2 AND funder_code = $3").bind(amount).bind(a.application_id).bind(&a.funder).execute(&mut *tx).await?;
        let note = format!(
            "{kind} de {} ({}) le {}",
            super::euros(amount),
            a.funder,
            paid_on.trim()
        );
        apply_event(&mut tx, a.application_id, Event::Payer, actor, Some(&note)).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The payments of an agreement.
    pub async fn payments(&self, agreement_id: i64) -> StoreResult<Vec<Payment>> {
        sqlx::query("SELECT * FROM payments WHERE agreement_id = $1 ORDER BY paid_on, id")
            .bind(agreement_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Payment {
                    id: get_i64(r, "id")?,
                    agreement_id,
                    kind: get_str(r, "kind")?,
                    amount: get_i64(r, "amount")?,
                    paid_on: get_str(r, "paid_on")?,
                })
            })
            .collect()
    }

    /// Reports past their due date and not filed, on a contract (or every contract).
    pub async fn overdue_reports(
        &self,
        contract_id: Option<i64>,
    ) -> StoreResult<Vec<OverdueReport>> {
        // One contract: through the index on (contract_id, report_due_on).
        let scope = if contract_id.is_some() {
            "g.contract_id = $2"
        } else {
            "$2 = 0"
        };
        sqlx::query(&format!(
            "SELECT a.id, a.reference, o.name AS organisation, MIN(g.report_due_on) AS due_on
             FROM agreements g JOIN applications a ON a.id = g.application_id JOIN organisations o ON o.id = a.organisation_id
             WHERE g.report_due_on < $1 AND a.status IN ({AWAITING_REPORT}) AND {scope}
             GROUP BY a.id, a.reference, o.name ORDER BY MIN(g.report_due_on)",
        ))
        .bind(today().to_string())
        .bind(contract_id.unwrap_or(0))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| Ok(OverdueReport { application_id: get_i64(r, "id")?, reference: get_str(r, "reference")?, organisation: get_str(r, "organisation")?, due_on: get_str(r, "due_on")? }))
        .collect()
    }

    /// Whether the organisation has an overdue report anywhere (flags its new applications).
    pub async fn has_overdue_report(&self, organisation_id: i64) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM agreements g JOIN applications a ON a.id = g.application_id
             WHERE a.organisation_id = $1 AND g.report_due_on < $2 AND a.status IN ({AWAITING_REPORT})",
        ))
        .bind(organisation_id)
        .bind(today().to_string())
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::split_by_year;

    #[test]
    fn split_adds_up_to_the_grant() {
        let s = split_by_year(100_001, &[(2025, 1), (2026, 1), (2027, 1)]);
        assert_eq!(s.iter().map(|(_, v)| v).sum::<i64>(), 100_001);
        assert_eq!(s[0], (2025, 33_333));
        assert_eq!(
            split_by_year(90, &[(2025, 0), (2026, 0)]),
            vec![(2025, 45), (2026, 45)]
        );
    }
}
