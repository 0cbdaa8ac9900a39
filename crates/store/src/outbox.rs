//! The mail outbox. Notifications are written in the same transaction as the change they
//! announce, so none is lost; a deliverer sends them when SMTP is configured, and
//! administrators read them on the outbox page when it is not.
//!
//! Several app servers may deliver from one database: a deliverer first *claims* a batch
//! ([`Store::claim_mails`]: one `UPDATE … RETURNING` that re-checks each row, so a mail is
//! claimed by one server only), then sends it. A claim lasts a lease; a server that dies
//! mid-round leaves its mails to be claimed again when the lease ends.

use crate::{get_i64, get_opt_str, get_str, now_text, timestamp_text, Store, StoreResult};
use sqlx::AnyConnection;
use time::OffsetDateTime;

/// A mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Recipient address.
    pub to: String,
    /// Subject (French).
    pub subject: String,
    /// Plain-text body (French).
    pub body: String,
}

/// A stored mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// Id.
    pub id: i64,
    /// The mail.
    pub mail: Mail,
    /// When it was queued.
    pub created_at: String,
    /// When it was sent, if it was.
    pub sent_at: Option<String>,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// Failed delivery attempts so far.
    pub attempts: i64,
    /// Not tried again before this time (after a failure, or while claimed).
    pub next_attempt_at: Option<String>,
}

/// Queues mails inside the caller's transaction.
pub async fn enqueue(conn: &mut AnyConnection, mails: &[Mail]) -> StoreResult<()> {
    let now = now_text();
    for m in mails {
        sqlx::query(
            "INSERT INTO outbox (recipient, subject, body, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&m.to)
        .bind(&m.subject)
        .bind(&m.body)
        .bind(&now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn read(r: &sqlx::any::AnyRow) -> StoreResult<OutboxMail> {
    Ok(OutboxMail {
        id: get_i64(r, "id")?,
        mail: Mail {
            to: get_str(r, "recipient")?,
            subject: get_str(r, "subject")?,
            body: get_str(r, "body")?,
        },
        created_at: get_str(r, "created_at")?,
        sent_at: get_opt_str(r, "sent_at")?,
        last_error: get_opt_str(r, "last_error")?,
        attempts: get_i64(r, "attempts")?,
        next_attempt_at: get_opt_str(r, "next_attempt_at")?,
    })
}

fn later(delay: std::time::Duration) -> String {
    let delay = time::Duration::try_from(delay).unwrap_or(time::Duration::DAY);
    timestamp_text(OffsetDateTime::now_utc() + delay)
}

impl Store {
    /// Queues mails in a transaction of their own.
    pub async fn enqueue_mails(&self, mails: &[Mail]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        enqueue(&mut tx, mails).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The newest mails, sent or not (for the outbox page).
    pub async fn outbox(&self, limit: i64) -> StoreResult<Vec<OutboxMail>> {
        sqlx::query("SELECT * FROM outbox ORDER BY id DESC LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(read)
            .collect()
    }

    /// How many mails are not sent yet (all of them, not only the newest shown).
    pub async fn count_pending_mails(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Mails not sent yet, oldest first.
    pub async fn pending_mails(&self, limit: i64) -> StoreResult<Vec<OutboxMail>> {
        sqlx::query("SELECT * FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1")
            .bind(limit)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(read)
            .collect()
    }

    /// Claims up to `limit` pending mails whose time has come, oldest first, for `worker`
    /// during `lease`: no other deliverer gets them until they are sent, failed, or the
    /// lease ends. The outer condition is evaluated again on each row as it is updated, so
    /// two servers claiming at once never get the same mail.
    pub async fn claim_mails(
        &self,
        worker: &str,
        limit: i64,
        lease: std::time::Duration,
    ) -> StoreResult<Vec<OutboxMail>> {
        let now = now_text();
        let mut mails = sqlx::query(
            "UPDATE outbox SET claimed_by = $1, next_attempt_at = $2 \
             WHERE sent_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $3) \
             AND id IN (SELECT id FROM outbox WHERE sent_at IS NULL \
                 AND (next_attempt_at IS NULL OR next_attempt_at <= $3) ORDER BY id LIMIT $4) \
             RETURNING *",
        )
        .bind(worker)
        .bind(later(lease))
        .bind(&now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(read)
        .collect::<StoreResult<Vec<_>>>()?;
        mails.sort_by_key(|m| m.id);
        Ok(mails)
    }

    /// Records that a mail was sent.
    pub async fn mark_mail_sent(&self, id: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET sent_at = $1, last_error = NULL, next_attempt_at = NULL, claimed_by = NULL WHERE id = $2",
        )
        .bind(now_text())
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a delivery failure: the mail stays pending, not tried again (by any server)
    /// before `retry_after` has passed.
    pub async fn mark_mail_failed(
        &self,
        id: i64,
        error: &str,
        retry_after: std::time::Duration,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE outbox SET last_error = $1, attempts = attempts + 1, next_attempt_at = $2, claimed_by = NULL WHERE id = $3",
        )
        .bind(error)
        .bind(later(retry_after))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Makes every pending mail due now (after the SMTP settings were fixed, say).
    pub async fn retry_mails_now(&self) -> StoreResult<u64> {
        Ok(sqlx::query(
            "UPDATE outbox SET next_attempt_at = NULL, claimed_by = NULL WHERE sent_at IS NULL",
        )
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}
