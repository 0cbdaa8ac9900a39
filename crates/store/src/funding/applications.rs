//! Applications (dossiers): drafts saved and resumed with optimistic concurrency, renewal
//! from last year's, their financer lines, audit trail and messages, and the lists each
//! kind of user works from.

use crate::contracts::Author;
use crate::{get_i64, get_opt_str, get_str, now_text, Store, StoreError, StoreResult};
use quartiers_domain::funding::access::ApplicationScope;
use quartiers_domain::funding::{ApplicationBody, Decision, Opinion, Status};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

/// A stored application.
#[derive(Debug, Clone, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct StoredApplication {
    /// Id.
    pub id: i64,
    /// Call.
    pub call_id: i64,
    /// Contract of the call.
    pub contract_id: i64,
    /// Programme year.
    pub year: i64,
    /// Applying organisation.
    pub organisation_id: i64,
    /// Its name.
    pub organisation_name: String,
    /// Reference (`MEL-2026-0042`).
    pub reference: String,
    /// Status.
    pub status: Status,
    /// Content.
    pub body: ApplicationBody,
    /// Version (optimistic concurrency).
    pub version: i64,
    /// The application it renews.
    pub renewed_from: Option<i64>,
    /// When it was submitted.
    pub submitted_at: Option<String>,
    /// Last change.
    pub updated_at: String,
}

/// One financer's line of an application.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct FundingLine {
    /// Id.
    pub id: i64,
    /// Application.
    pub application_id: i64,
    /// Financer code.
    pub funder: String,
    /// Amount requested over all years (cents).
    pub requested: i64,
    /// Amount proposed by the instructor (cents).
    pub proposed: Option<i64>,
    /// Opinion.
    pub opinion: Option<Opinion>,
    /// Opinion's comment.
    pub opinion_comment: Option<String>,
    /// Decision.
    pub decision: Option<Decision>,
    /// Amount granted (cents).
    pub decided: i64,
    /// Reason given when a pilot confirmed a decision over the envelope.
    pub override_reason: Option<String>,
    /// Amount under agreement (cents).
    pub agreed: i64,
    /// Amount paid (cents).
    pub paid: i64,
}

/// One row of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// Event code (or `avis:<financeur>`, `decision:<financeur>`...).
    pub event: String,
    /// Status before.
    pub from_status: Option<String>,
    /// Status after.
    pub to_status: String,
    /// Who.
    pub actor: String,
    /// Comment.
    pub comment: Option<String>,
    /// When.
    pub at: String,
}

/// A message attached to an application.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Message {
    /// Who.
    pub author: String,
    /// Text.
    pub body: String,
    /// When.
    pub at: String,
}

/// A row of a list of applications.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ApplicationRow {
    /// Id.
    pub id: i64,
    /// Reference.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Organisation.
    pub organisation: String,
    /// Status code.
    pub status: String,
    /// Year.
    pub year: i64,
    /// Total requested from every financer (cents) — or from the worklist's financer.
    pub requested: i64,
    /// Proposed by the worklist's financer (worklists only).
    pub proposed: Option<i64>,
    /// The worklist financer's opinion (worklists only).
    pub opinion: Option<String>,
}

pub(crate) const APP_COLUMNS: &str = "a.id, a.call_id, a.contract_id, a.year, a.organisation_id, o.name AS organisation_name, a.reference, a.status, a.body, a.version, a.renewed_from, a.submitted_at, a.updated_at";

pub(crate) fn read_application(r: &AnyRow) -> StoreResult<StoredApplication> {
    let body: ApplicationBody = serde_json::from_str(&get_str(r, "body")?)
        .map_err(|e| StoreError::Conflict(format!("dossier illisible : {e}")))?;
    Ok(StoredApplication {
        id: get_i64(r, "id")?,
        call_id: get_i64(r, "call_id")?,
        contract_id: get_i64(r, "contract_id")?,
        year: get_i64(r, "year")?,
        organisation_id: get_i64(r, "organisation_id")?,
        organisation_name: get_str(r, "organisation_name")?,
        reference: get_str(r, "reference")?,
        status: Status::parse(&get_str(r, "status")?).map_err(StoreError::Conflict)?,
        body,
        version: get_i64(r, "version")?,
        renewed_from: r.try_get::<Option<i64>, _>("renewed_from")?,
        submitted_at: get_opt_str(r, "submitted_at")?,
        updated_at: get_str(r, "updated_at")?,
    })
}
use sqlx::Row;

pub(crate) fn read_line(r: &AnyRow) -> StoreResult<FundingLine> {
    Ok(FundingLine {
        id: get_i64(r, "id")?,
        application_id: get_i64(r, "application_id")?,
        funder: get_str(r, "funder_code")?,
        requested: get_i64(r, "requested")?,
        proposed: r.try_get::<Option<i64>, _>("proposed")?,
        opinion: get_opt_str(r, "opinion")?
            .map(|o| Opinion::parse(&o))
            .transpose()
            .map_err(StoreError::Conflict)?,
        opinion_comment: get_opt_str(r, "opinion_comment")?,
        decision: get_opt_str(r, "decision")?
            .map(|d| Decision::parse(&d))
            .transpose()
            .map_err(StoreError::Conflict)?,
        decided: get_i64(r, "decided")?,
        override_reason: get_opt_str(r, "override_reason")?,
        agreed: get_i64(r, "agreed")?,
        paid: get_i64(r, "paid")?,
    })
}

pub(crate) async fn lines_in(
    conn: &mut AnyConnection,
    application_id: i64,
) -> StoreResult<Vec<FundingLine>> {
    sqlx::query("SELECT * FROM funding_lines WHERE application_id = $1 ORDER BY id")
        .bind(application_id)
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(read_line)
        .collect()
}

/// Writes an audit row inside the caller's transaction.
pub(crate) async fn audit(
    conn: &mut AnyConnection,
    application_id: i64,
    event: &str,
    from: Option<Status>,
    to: Status,
    actor: &Author,
    comment: Option<&str>,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO application_events (application_id, event, from_status, to_status, actor_id, actor_label, comment, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(application_id)
        .bind(event)
        .bind(from.map(|s| s.code()))
        .bind(to.code())
        .bind(actor.user_id)
        .bind(&actor.label)
        .bind(comment)
        .bind(now_text())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Keeps the QPV / commune and framework-node projections of an application in step.
async fn write_projections(
    conn: &mut AnyConnection,
    id: i64,
    body: &ApplicationBody,
    qpv_communes: &[(String, Vec<String>)],
) -> StoreResult<()> {
    sqlx::query("DELETE FROM application_nodes WHERE application_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM application_places WHERE application_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let mut keys = body.framework_keys.clone();
    keys.sort();
    keys.dedup();
    for k in keys {
        sqlx::query("INSERT INTO application_nodes (application_id, node_key) VALUES ($1, $2)")
            .bind(id)
            .bind(k)
            .execute(&mut *conn)
            .await?;
    }
    let mut places: Vec<(String, String)> = Vec::new();
    for q in &body.qpv_codes {
        let communes = qpv_communes
            .iter()
            .find(|(c, _)| c == q.as_str())
            .map(|(_, c)| c.clone())
            .unwrap_or_default();
        if communes.is_empty() {
            places.push((q.to_string(), String::new()));
        }
        for c in communes {
            places.push((q.to_string(), c));
        }
    }
    places.sort();
    places.dedup();
    for (q, c) in places {
        sqlx::query(
            "INSERT INTO application_places (application_id, qpv_code, insee) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(q)
        .bind(c)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The QPV of a contract with their communes, from the contract document.
pub(crate) async fn contract_qpv_communes(
    conn: &mut AnyConnection,
    contract_id: i64,
) -> StoreResult<Vec<(String, Vec<String>)>> {
    let doc = contract_document(conn, contract_id).await?;
    Ok(doc
        .contract
        .qpvs
        .iter()
        .filter_map(|q| {
            Some((
                q.code.as_ref()?.to_string(),
                q.communes.iter().map(|c| c.to_string()).collect(),
            ))
        })
        .collect())
}

pub(crate) async fn contract_document(
    conn: &mut AnyConnection,
    contract_id: i64,
) -> StoreResult<quartiers_domain::ContractDocument> {
    let text: String = sqlx::query_scalar("SELECT document FROM contracts WHERE id = $1")
        .bind(contract_id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    quartiers_domain::ContractDocument::from_json(&text).map_err(StoreError::Invalid)
}

impl Store {
    /// Starts an application (draft) for an organisation in a call; `renewed_from` copies
    /// last year's content one year on.
    pub async fn create_application(
        &self,
        call_id: i64,
        organisation_id: i64,
        body: &ApplicationBody,
        renewed_from: Option<i64>,
        author: &Author,
    ) -> StoreResult<i64> {
        body.validate()?;
        let call = self.call(call_id).await?;
        let mut tx = self.pool.begin().await?;
        let slug: String = sqlx::query_scalar("SELECT slug FROM contracts WHERE id = $1")
            .bind(call.contract_id)
            .fetch_one(&mut *tx)
            .await?;
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE call_id = $1")
            .bind(call_id)
            .fetch_one(&mut *tx)
            .await?;
        let now = now_text();
        let json = serde_json::to_string(body).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let mut n = count + 1;
        // The reference counts the call's applications; a concurrent creation taking the same
        // number makes the unique index refuse it, and the next number is tried.
        let id = loop {
            let prefix = slug.split('-').next().unwrap_or(&slug).to_uppercase();
            let reference = format!("{prefix}-{}-{n:04}", call.settings.year);
            let inserted = sqlx::query_scalar::<_, i64>(
                "INSERT INTO applications (call_id, contract_id, year, organisation_id, reference, title, component, status, body, version, renewed_from, created_by, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1, $10, $11, $12, $12) RETURNING id",
            )
            .bind(call_id)
            .bind(call.contract_id)
            .bind(i64::from(call.settings.year))
            .bind(organisation_id)
            .bind(&reference)
            .bind(&body.title)
            .bind(&body.component)
            .bind(Status::Brouillon.code())
            .bind(&json)
            .bind(renewed_from)
            .bind(author.user_id)
            .bind(&now)
            .fetch_one(&mut *tx)
            .await;
            match inserted {
                Ok(id) => break id,
                Err(e) if StoreError::is_unique_violation(&e) && n < count + 1000 => {
                    // On PostgreSQL a failed statement aborts the transaction: start again.
                    tx.rollback().await?;
                    tx = self.pool.begin().await?;
                    n += 1;
                }
                Err(e) => return Err(e.into()),
            }
        };
        let places = contract_qpv_communes(&mut tx, call.contract_id).await?;
        write_projections(&mut tx, id, body, &places).await?;
        audit(
            &mut tx,
            id,
            "creer",
            None,
            Status::Brouillon,
            author,
            renewed_from
                .map(|r| format!("Renouvellement du dossier n° {r}"))
                .as_deref(),
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Saves the content of an application the applicant may still edit, at `expected_version`.
    pub async fn save_application(
        &self,
        id: i64,
        body: &ApplicationBody,
        expected_version: i64,
        author: &Author,
    ) -> StoreResult<i64> {
        body.validate()?;
        let json = serde_json::to_string(body).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let row =
            sqlx::query("SELECT status, version, contract_id FROM applications WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound)?;
        let status = Status::parse(&get_str(&row, "status")?).map_err(StoreError::Conflict)?;
        if !status.editable_by_applicant() {
            return Err(StoreError::Conflict(format!(
                "Un dossier « {} » ne peut plus être modifié.",
                status.label()
            )));
        }
        let done = sqlx::query("UPDATE applications SET body = $1, title = $2, component = $3, version = version + 1, updated_at = $4 WHERE id = $5 AND version = $6")
            .bind(&json)
            .bind(&body.title)
            .bind(&body.component)
            .bind(now_text())
            .bind(id)
            .bind(expected_version)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict("Ce dossier a été modifié par quelqu'un d'autre depuis que vous l'avez ouvert : votre saisie n'a pas été enregistrée, elle est conservée ci-dessous. Rechargez le dossier pour voir l'autre version.".into()));
        }
        let places = contract_qpv_communes(&mut tx, get_i64(&row, "contract_id")?).await?;
        write_projections(&mut tx, id, body, &places).await?;
        let _ = author;
        tx.commit().await?;
        Ok(expected_version + 1)
    }

    /// One application.
    pub async fn application(&self, id: i64) -> StoreResult<StoredApplication> {
        let r = sqlx::query(&format!("SELECT {APP_COLUMNS} FROM applications a JOIN organisations o ON o.id = a.organisation_id WHERE a.id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        read_application(&r)
    }

    /// What access checks need about an application (without reading its content).
    pub async fn application_scope(&self, id: i64) -> StoreResult<ApplicationScope> {
        let r = sqlx::query(
            "SELECT contract_id, organisation_id, body FROM applications WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut funders: Vec<String> =
            sqlx::query_scalar("SELECT funder_code FROM funding_lines WHERE application_id = $1")
                .bind(id)
                .fetch_all(&self.pool)
                .await?;
        if funders.is_empty() {
            // A draft has no lines yet: its budget names the financers it will solicit.
            let body: ApplicationBody =
                serde_json::from_str(&get_str(&r, "body")?).unwrap_or_default();
            funders = body
                .requested_by_funder()
                .into_iter()
                .map(|(f, _)| f)
                .collect();
        }
        Ok(ApplicationScope {
            contract_id: get_i64(&r, "contract_id")?,
            organisation_id: get_i64(&r, "organisation_id")?,
            funders,
        })
    }

    /// The financer lines of an application.
    pub async fn funding_lines(&self, application_id: i64) -> StoreResult<Vec<FundingLine>> {
        let mut conn = self.pool.acquire().await?;
        lines_in(&mut conn, application_id).await
    }

    /// The audit trail, oldest first.
    pub async fn application_events(&self, application_id: i64) -> StoreResult<Vec<AuditEntry>> {
        sqlx::query("SELECT * FROM application_events WHERE application_id = $1 ORDER BY id")
            .bind(application_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    event: get_str(r, "event")?,
                    from_status: get_opt_str(r, "from_status")?,
                    to_status: get_str(r, "to_status")?,
                    actor: get_str(r, "actor_label")?,
                    comment: get_opt_str(r, "comment")?,
                    at: get_str(r, "at")?,
                })
            })
            .collect()
    }

    /// The messages, oldest first.
    pub async fn application_messages(&self, application_id: i64) -> StoreResult<Vec<Message>> {
        sqlx::query("SELECT * FROM application_messages WHERE application_id = $1 ORDER BY id")
            .bind(application_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Message {
                    author: get_str(r, "author_label")?,
                    body: get_str(r, "body")?,
                    at: get_str(r, "at")?,
                })
            })
            .collect()
    }

    /// The applications of the organisations a user belongs to, newest first.
    pub async fn applications_of_organisations(
        &self,
        organisation_ids: &[i64],
    ) -> StoreResult<Vec<ApplicationRow>> {
        let mut out = Vec::new();
        for org in organisation_ids {
            let rows = sqlx::query(
                "SELECT a.id, a.reference, a.title, o.name AS organisation, a.status, a.year,
                        (SELECT CAST(COALESCE(SUM(l.requested), 0) AS BIGINT) FROM funding_lines l WHERE l.application_id = a.id) AS requested
                 FROM applications a JOIN organisations o ON o.id = a.organisation_id WHERE a.organisation_id = $1 ORDER BY a.id DESC",
            )
            .bind(org)
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                out.push(read_row(r, false)?);
            }
        }
        Ok(out)
    }

    /// The applications of a call, for its pilots and readers.
    pub async fn applications_of_call(&self, call_id: i64) -> StoreResult<Vec<ApplicationRow>> {
        sqlx::query(
            "SELECT a.id, a.reference, a.title, o.name AS organisation, a.status, a.year,
                    (SELECT CAST(COALESCE(SUM(l.requested), 0) AS BIGINT) FROM funding_lines l WHERE l.application_id = a.id) AS requested
             FROM applications a JOIN organisations o ON o.id = a.organisation_id WHERE a.call_id = $1 AND a.status <> 'brouillon' ORDER BY a.reference",
        )
        .bind(call_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| read_row(r, false))
        .collect()
    }

    /// A financer's worklist on a contract: the applications soliciting it in the given statuses.
    pub async fn worklist(
        &self,
        contract_id: i64,
        funder: &str,
        statuses: &[Status],
    ) -> StoreResult<Vec<ApplicationRow>> {
        let mut out = Vec::new();
        for s in statuses {
            let rows = sqlx::query(
                "SELECT a.id, a.reference, a.title, o.name AS organisation, l.status, a.year, l.requested, l.proposed, l.opinion
                 FROM funding_lines l JOIN applications a ON a.id = l.application_id JOIN organisations o ON o.id = a.organisation_id
                 WHERE l.contract_id = $1 AND l.funder_code = $2 AND l.status = $3 ORDER BY a.reference",
            )
            .bind(contract_id)
            .bind(funder)
            .bind(s.code())
            .fetch_all(&self.pool)
            .await?;
            for r in &rows {
                out.push(read_row(r, true)?);
            }
        }
        Ok(out)
    }

    /// The organisation's latest application in a call, to renew from it next year.
    pub async fn latest_application_of(
        &self,
        organisation_id: i64,
        contract_id: i64,
    ) -> StoreResult<Option<StoredApplication>> {
        let r = sqlx::query(&format!("SELECT {APP_COLUMNS} FROM applications a JOIN organisations o ON o.id = a.organisation_id WHERE a.organisation_id = $1 AND a.contract_id = $2 AND a.status <> 'retire' ORDER BY a.year DESC, a.id DESC LIMIT 1"))
            .bind(organisation_id)
            .bind(contract_id)
            .fetch_optional(&self.pool)
            .await?;
        r.as_ref().map(read_application).transpose()
    }

    /// Adds a message to an application (outside any transition).
    pub async fn add_message(
        &self,
        application_id: i64,
        author: &Author,
        body: &str,
    ) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_message(&mut conn, application_id, author, body).await
    }
}

pub(crate) async fn insert_message(
    conn: &mut AnyConnection,
    application_id: i64,
    author: &Author,
    body: &str,
) -> StoreResult<()> {
    sqlx::query("INSERT INTO application_messages (application_id, author_id, author_label, body, at) VALUES ($1, $2, $3, $4, $5)")
        .bind(application_id)
        .bind(author.user_id)
        .bind(&author.label)
        .bind(body)
        .bind(now_text())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

fn read_row(r: &AnyRow, worklist: bool) -> StoreResult<ApplicationRow> {
    Ok(ApplicationRow {
        id: get_i64(r, "id")?,
        reference: get_str(r, "reference")?,
        title: get_str(r, "title")?,
        organisation: get_str(r, "organisation")?,
        status: get_str(r, "status")?,
        year: get_i64(r, "year")?,
        requested: get_i64(r, "requested")?,
        proposed: if worklist {
            r.try_get::<Option<i64>, _>("proposed")?
        } else {
            None
        },
        opinion: if worklist {
            get_opt_str(r, "opinion")?
        } else {
            None
        },
    })
}
