//! Reminders of end-of-action reports: a mail to the organisation when a report falls due
//! within [`DUE_SOON_DAYS`] days, and another once it is overdue. Each is sent once per
//! application and due date (recorded in `report_reminders` in the same transaction as the
//! queued mail), so the job can run every hour on every server.

use super::agreements::AWAITING_REPORT;
use crate::outbox::{enqueue, Mail};
use crate::{get_i64, get_str, now_text, Store, StoreResult};
use quartiers_domain::french::french_date;
use time::Date;

/// A report due within this many days gets its first reminder.
pub const DUE_SOON_DAYS: i64 = 30;

/// Which reminder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReminderKind {
    /// The report is due within [`DUE_SOON_DAYS`] days.
    Echeance,
    /// The report is overdue.
    Retard,
}

impl ReminderKind {
    /// Stored code.
    pub fn code(self) -> &'static str {
        match self {
            ReminderKind::Echeance => "echeance",
            ReminderKind::Retard => "retard",
        }
    }

    /// The reminder a report due on `due_on` calls for on `today`, if any.
    pub fn for_dates(due_on: Date, today: Date) -> Option<ReminderKind> {
        if due_on < today {
            Some(ReminderKind::Retard)
        } else if (due_on - today).whole_days() <= DUE_SOON_DAYS {
            Some(ReminderKind::Echeance)
        } else {
            None
        }
    }
}

/// What a reminder round queued.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemindersSent {
    /// Reports due soon.
    pub echeance: usize,
    /// Reports overdue.
    pub retard: usize,
}

fn mail(kind: ReminderKind, to: &str, reference: &str, title: &str, due_on: &str) -> Mail {
    let due = french_date(due_on);
    let (subject, body) = match kind {
        ReminderKind::Echeance => (
            format!("Bilan à rendre avant le {due} — dossier {reference}"),
            format!(
                "Le bilan de l'action {reference} « {title} » est à rendre au plus tard le {due}.\n\nRemplissez-le depuis la page du dossier (bilan financier, bilan qualitatif, indicateurs atteints et, si vous le souhaitez, le fichier des adresses des bénéficiaires, dont seuls les comptes sont gardés)."
            ),
        ),
        ReminderKind::Retard => (
            format!("Bilan en retard — dossier {reference}"),
            format!(
                "Le bilan de l'action {reference} « {title} » devait être rendu le {due} et ne l'a pas été.\n\nTant qu'il manque, les nouvelles demandes de votre structure sont signalées aux financeurs. Déposez-le depuis la page du dossier."
            ),
        ),
    };
    Mail {
        to: to.to_string(),
        subject,
        body,
    }
}

impl Store {
    /// Queues the reminders that `today` calls for and that were not sent yet: one per
    /// application (its earliest report due date among its agreements) and kind.
    pub async fn send_report_reminders(&self, today: Date) -> StoreResult<RemindersSent> {
        let horizon = today + time::Duration::days(DUE_SOON_DAYS);
        let rows = sqlx::query(&format!(
            "SELECT a.id, a.reference, a.title, o.email, MIN(g.report_due_on) AS due_on
             FROM agreements g JOIN applications a ON a.id = g.application_id
             JOIN organisations o ON o.id = a.organisation_id
             WHERE a.status IN ({AWAITING_REPORT})
             GROUP BY a.id, a.reference, a.title, o.email
             HAVING MIN(g.report_due_on) <= $1 ORDER BY a.id"
        ))
        .bind(horizon.to_string())
        .fetch_all(&self.pool)
        .await?;
        // Reminders already sent, read once: the hourly round then opens a transaction only
        // for a reminder due now (the primary key still settles a race between servers).
        let done: std::collections::HashSet<(i64, String, String)> = sqlx::query(&format!(
            "SELECT r.application_id, r.kind, r.due_on FROM report_reminders r
             JOIN applications a ON a.id = r.application_id WHERE a.status IN ({AWAITING_REPORT})"
        ))
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok((
                get_i64(r, "application_id")?,
                get_str(r, "kind")?,
                get_str(r, "due_on")?,
            ))
        })
        .collect::<StoreResult<_>>()?;
        let mut sent = RemindersSent::default();
        for r in rows {
            let id = get_i64(&r, "id")?;
            let due_on = get_str(&r, "due_on")?;
            let Ok(due) = quartiers_domain::contract::parse_date(&due_on) else {
                tracing::warn!(application = id, due_on, "unreadable report due date");
                continue;
            };
            let Some(kind) = ReminderKind::for_dates(due, today) else {
                continue;
            };
            if done.contains(&(id, kind.code().to_string(), due_on.clone())) {
                continue;
            }
            let mut tx = self.pool.begin().await?;
            let inserted = sqlx::query(
                "INSERT INTO report_reminders (application_id, kind, due_on, sent_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(kind.code())
            .bind(&due_on)
            .bind(now_text())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                continue; // already reminded (the transaction is dropped: nothing written)
            }
            let m = mail(
                kind,
                &get_str(&r, "email")?,
                &get_str(&r, "reference")?,
                &get_str(&r, "title")?,
                &due_on,
            );
            enqueue(&mut tx, &[m]).await?;
            tx.commit().await?;
            match kind {
                ReminderKind::Echeance => sent.echeance += 1,
                ReminderKind::Retard => sent.retard += 1,
            }
        }
        Ok(sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn which_reminder() {
        let today = date!(2027 - 03 - 01);
        assert_eq!(
            ReminderKind::for_dates(date!(2027 - 02 - 28), today),
            Some(ReminderKind::Retard)
        );
        assert_eq!(
            ReminderKind::for_dates(today, today),
            Some(ReminderKind::Echeance),
            "due today is not late yet"
        );
        assert_eq!(
            ReminderKind::for_dates(date!(2027 - 03 - 31), today),
            Some(ReminderKind::Echeance)
        );
        assert_eq!(ReminderKind::for_dates(date!(2027 - 04 - 01), today), None);
    }

    #[test]
    fn mails_name_the_action_and_the_date() {
        let m = mail(
            ReminderKind::Retard,
            "asso@alma.fr",
            "MEL-2026-0001",
            "Ateliers",
            "2027-06-30",
        );
        assert_eq!(m.subject, "Bilan en retard — dossier MEL-2026-0001");
        assert!(m.body.contains("30 juin 2027"), "{}", m.body);
        assert!(m.body.contains("« Ateliers »"));
    }
}
