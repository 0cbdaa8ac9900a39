//! End-of-action reports: saved as drafts, filed when complete.

use super::transitions::{apply_event, current};
use crate::contracts::Author;
use crate::{get_i64, get_opt_str, get_str, now_text, Store, StoreError, StoreResult};
use quartiers_domain::funding::{Event, ReportBody, Status};

/// A stored report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct StoredReport {
    /// Content.
    pub body: ReportBody,
    /// Version (optimistic concurrency).
    pub version: i64,
    /// When it was filed.
    pub filed_at: Option<String>,
}

impl Store {
    /// The report of an application, if started.
    pub async fn report(&self, application_id: i64) -> StoreResult<Option<StoredReport>> {
        let r = sqlx::query("SELECT * FROM reports WHERE application_id = $1")
            .bind(application_id)
            .fetch_optional(&self.pool)
            .await?;
        r.map(|r| {
            Ok(StoredReport {
                body: serde_json::from_str(&get_str(&r, "body")?)
                    .map_err(|e| StoreError::Conflict(e.to_string()))?,
                version: get_i64(&r, "version")?,
                filed_at: get_opt_str(&r, "filed_at")?,
            })
        })
        .transpose()
    }

    /// Saves the report (draft) at `expected_version` (0 for a new one); with `file`, checks
    /// it against the forecast and files it, moving the application to « bilan déposé ».
    pub async fn save_report(
        &self,
        application_id: i64,
        body: &ReportBody,
        expected_version: i64,
        file: bool,
        actor: &Author,
    ) -> StoreResult<i64> {
        let mut tx = self.pool.begin().await?;
        let cur = current(&mut tx, application_id).await?;
        if !matches!(
            cur.status,
            Status::Conventionne | Status::Paye | Status::BilanAttendu
        ) {
            return Err(StoreError::Conflict(format!(
                "Le bilan ne peut pas être rempli sur un dossier « {} ».",
                cur.status.label()
            )));
        }
        if file {
            let names: Vec<String> = cur.body.indicators.iter().map(|i| i.name.clone()).collect();
            let errors = body.check_for_filing(&cur.body.budget, &names);
            if !errors.is_empty() {
                return Err(errors.into());
            }
        } else {
            let mut e = quartiers_domain::ValidationErrors::new();
            quartiers_domain::funding::budget::check_years(&body.actual, &mut e);
            e.into_result()?;
        }
        let json = serde_json::to_string(body).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let now = now_text();
        let version = if expected_version == 0 {
            sqlx::query("INSERT INTO reports (application_id, body, version, updated_at) VALUES ($1, $2, 1, $3)")
                .bind(application_id)
                .bind(&json)
                .bind(&now)
                .execute(&mut *tx)
                .await
                .map_err(|e| if StoreError::is_unique_violation(&e) { StoreError::Conflict("Le bilan a été commencé par quelqu'un d'autre entre-temps : rechargez la page, votre saisie est conservée ci-dessous.".into()) } else { e.into() })?;
            1
        } else {
            let done = sqlx::query("UPDATE reports SET body = $1, version = version + 1, updated_at = $2 WHERE application_id = $3 AND version = $4")
                .bind(&json)
                .bind(&now)
                .bind(application_id)
                .bind(expected_version)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict("Le bilan a été modifié par quelqu'un d'autre entre-temps : rechargez la page, votre saisie est conservée ci-dessous.".into()));
            }
            expected_version + 1
        };
        if file {
            sqlx::query("UPDATE reports SET filed_at = $1 WHERE application_id = $2")
                .bind(&now)
                .bind(application_id)
                .execute(&mut *tx)
                .await?;
            apply_event(&mut tx, application_id, Event::DeposerBilan, actor, None).await?;
        }
        tx.commit().await?;
        Ok(version)
    }
}
