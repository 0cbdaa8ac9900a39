//! The mail outbox. Notifications are written in the same transaction as the change they
//! announce, so none is lost; a deliverer sends them when SMTP is configured, and
//! administrators read them on the outbox page when it is not.

use crate::{get_i64, get_opt_str, get_str, now_text, Store, StoreResult};
use sqlx::AnyConnection;

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
    })
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

    /// Records that a mail was sent.
    pub async fn mark_mail_sent(&self, id: i64) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET sent_at = $1, last_error = NULL WHERE id = $2")
            .bind(now_text())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records a delivery failure (the mail stays pending).
    pub async fn mark_mail_failed(&self, id: i64, error: &str) -> StoreResult<()> {
        sqlx::query("UPDATE outbox SET last_error = $1 WHERE id = $2")
            .bind(error)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
