//! The amendment history: every change with its effective date, author, summary, the
//! field-level changes and a snapshot of the whole contract after it.

use crate::contracts::parse_document;
use crate::{get_i64, get_opt_str, get_str, Store, StoreResult};
use quartiers_domain::diff::Change;
use quartiers_domain::ContractDocument;
use sqlx::any::AnyRow;
use time::Date;

/// One recorded amendment.
#[derive(Debug, Clone)]
pub struct Amendment {
    /// Id.
    pub id: i64,
    /// Effective date (AAAA-MM-JJ).
    pub effective_on: String,
    /// When it was recorded (UTC).
    pub recorded_at: String,
    /// Author.
    pub author_label: String,
    /// Summary.
    pub summary: String,
    /// Reason or avenant reference.
    pub reason: Option<String>,
    /// Field-level changes.
    pub changes: Vec<Change>,
}

#[derive(serde::Deserialize)]
struct ChangeRow {
    element: String,
    field: String,
    before: Option<String>,
    after: Option<String>,
}

fn from_row(r: &AnyRow) -> StoreResult<Amendment> {
    let raw: Vec<ChangeRow> = serde_json::from_str(&get_str(r, "changes")?).unwrap_or_default();
    Ok(Amendment {
        id: get_i64(r, "id")?,
        effective_on: get_str(r, "effective_on")?,
        recorded_at: get_str(r, "recorded_at")?,
        author_label: get_str(r, "author_label")?,
        summary: get_str(r, "summary")?,
        reason: get_opt_str(r, "reason")?,
        changes: raw
            .into_iter()
            .map(|c| Change {
                element: c.element,
                field: c.field,
                before: c.before,
                after: c.after,
            })
            .collect(),
    })
}

const COLUMNS: &str = "id, effective_on, recorded_at, author_label, summary, reason, changes";

impl Store {
    /// A contract's amendments, newest first.
    pub async fn amendments(&self, contract_id: i64) -> StoreResult<Vec<Amendment>> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM amendments WHERE contract_id = $1 ORDER BY effective_on DESC, id DESC"))
            .bind(contract_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(from_row).collect()
    }

    /// The amendments effective after `from` and up to `to` (both AAAA-MM-JJ), oldest first.
    pub async fn amendments_between(
        &self,
        contract_id: i64,
        from: Date,
        to: Date,
    ) -> StoreResult<Vec<Amendment>> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM amendments WHERE contract_id = $1 AND effective_on > $2 AND effective_on <= $3 ORDER BY effective_on, id"
        ))
        .bind(contract_id)
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(from_row).collect()
    }

    /// The contract as it stood at the end of `date`, or `None` before its first amendment.
    pub async fn contract_as_of(
        &self,
        contract_id: i64,
        date: Date,
    ) -> StoreResult<Option<ContractDocument>> {
        let snapshot: Option<String> = sqlx::query_scalar(
            "SELECT snapshot FROM amendments WHERE contract_id = $1 AND effective_on <= $2 ORDER BY effective_on DESC, id DESC LIMIT 1",
        )
        .bind(contract_id)
        .bind(date.to_string())
        .fetch_optional(&self.pool)
        .await?;
        snapshot.map(|s| parse_document(&s)).transpose()
    }
}
