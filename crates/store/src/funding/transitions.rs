//! Moving an application through its workflow: every transition computes its guards inside
//! the transaction, writes the audit row, keeps the financer lines' status in step and queues
//! its notifications in the same transaction.

use super::applications::{audit, contract_document, insert_message, lines_in, FundingLine};
use crate::contracts::Author;
use crate::outbox::{enqueue, Mail};
use crate::{get_i64, get_opt_str, get_str, now_text, today, Store, StoreError, StoreResult};
use quartiers_domain::funding::call::{closed_reason, document_label, CallSettings};
use quartiers_domain::funding::workflow::{transition, Guards, LinesSummary};
use quartiers_domain::funding::{
    ApplicationBody, Decision, Event, Opinion, Status, SubmissionContext,
};
use quartiers_domain::Cents;
use sqlx::AnyConnection;

/// What a transition request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FireOutcome {
    /// The application moved to this status.
    Moved(Status),
    /// The same event had just been applied from the same version (a double click): nothing more was done.
    AlreadyDone(Status),
}

/// The workflow's guards that depend on the financer lines alone (opinions, decisions,
/// money left to pay); the others (message, completeness, call dates) stay at their default.
pub fn line_guards(lines: &[FundingLine]) -> Guards {
    Guards {
        lines: summarize(lines),
        left_to_pay: lines.iter().map(|l| l.agreed - l.paid).sum(),
        ..Default::default()
    }
}

fn summarize(lines: &[FundingLine]) -> LinesSummary {
    LinesSummary {
        lines: lines.len(),
        with_opinion: lines.iter().filter(|l| l.opinion.is_some()).count(),
        decided: lines.iter().filter(|l| l.decision.is_some()).count(),
        granted: lines
            .iter()
            .filter(|l| l.decision == Some(Decision::Accorde))
            .count(),
        postponed: lines
            .iter()
            .filter(|l| l.decision == Some(Decision::Ajourne))
            .count(),
    }
}

/// The current state of an application inside a transaction.
pub(crate) struct Current {
    pub status: Status,
    pub version: i64,
    pub body: ApplicationBody,
    pub contract_id: i64,
    pub call_id: i64,
    pub organisation_id: i64,
    pub reference: String,
}

pub(crate) async fn current(conn: &mut AnyConnection, id: i64) -> StoreResult<Current> {
    let r = sqlx::query("SELECT status, version, body, contract_id, call_id, organisation_id, reference FROM applications WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Current {
        status: Status::parse(&get_str(&r, "status")?).map_err(StoreError::Conflict)?,
        version: get_i64(&r, "version")?,
        body: serde_json::from_str(&get_str(&r, "body")?)
            .map_err(|e| StoreError::Conflict(e.to_string()))?,
        contract_id: get_i64(&r, "contract_id")?,
        call_id: get_i64(&r, "call_id")?,
        organisation_id: get_i64(&r, "organisation_id")?,
        reference: get_str(&r, "reference")?,
    })
}

async fn call_settings(
    conn: &mut AnyConnection,
    call_id: i64,
) -> StoreResult<(CallSettings, String, String)> {
    let r = sqlx::query("SELECT settings, opens_on, closes_on FROM calls WHERE id = $1")
        .bind(call_id)
        .fetch_one(&mut *conn)
        .await?;
    Ok((
        serde_json::from_str(&get_str(&r, "settings")?)
            .map_err(|e| StoreError::Conflict(e.to_string()))?,
        get_str(&r, "opens_on")?,
        get_str(&r, "closes_on")?,
    ))
}

pub(crate) async fn submission_context(
    conn: &mut AnyConnection,
    cur: &Current,
) -> StoreResult<SubmissionContext> {
    let doc = contract_document(conn, cur.contract_id).await?;
    let mut node_keys = Vec::new();
    fn walk(nodes: &[quartiers_domain::FrameworkNode], out: &mut Vec<String>) {
        for n in nodes {
            out.push(n.key.clone());
            walk(&n.children, out);
        }
    }
    walk(&doc.contract.framework, &mut node_keys);
    let funder_codes: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT funder_code FROM envelopes WHERE call_id = $1")
            .bind(cur.call_id)
            .fetch_all(&mut *conn)
            .await?;
    let (settings, _, _) = call_settings(conn, cur.call_id).await?;
    let current_docs: Vec<String> = sqlx::query_scalar("SELECT kind FROM organisation_documents WHERE organisation_id = $1 AND replaced_at IS NULL")
        .bind(cur.organisation_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(SubmissionContext {
        node_keys,
        funder_codes,
        components: doc
            .contract
            .components
            .iter()
            .map(|c| c.name.clone())
            .collect(),
        missing_documents: settings
            .required_documents
            .iter()
            .filter(|k| !current_docs.contains(k))
            .map(|k| document_label(k).to_string())
            .collect(),
    })
}

/// Creates the financer lines from the budget at submission, or brings them in step after a
/// complement (lines that already carry an opinion keep it; a financer no longer solicited
/// loses its line only if it had not given its opinion).
async fn sync_lines(conn: &mut AnyConnection, id: i64, cur: &Current) -> StoreResult<()> {
    let existing = lines_in(conn, id).await?;
    let wanted = cur.body.requested_by_funder();
    for (funder, amount) in &wanted {
        match existing.iter().find(|l| &l.funder == funder) {
            Some(l) => {
                sqlx::query("UPDATE funding_lines SET requested = $1 WHERE id = $2")
                    .bind(amount)
                    .bind(l.id)
                    .execute(&mut *conn)
                    .await?;
            }
            None => {
                sqlx::query("INSERT INTO funding_lines (application_id, contract_id, year, component, funder_code, status, requested, decided, agreed, paid)
                             SELECT id, contract_id, year, component, $1, status, $2, 0, 0, 0 FROM applications WHERE id = $3")
                    .bind(funder)
                    .bind(amount)
                    .bind(id)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    }
    for l in existing
        .iter()
        .filter(|l| !wanted.iter().any(|(f, _)| *f == l.funder))
    {
        if l.opinion.is_none() {
            sqlx::query("DELETE FROM funding_lines WHERE id = $1")
                .bind(l.id)
                .execute(&mut *conn)
                .await?;
        }
    }
    sqlx::query("UPDATE funding_lines SET component = (SELECT component FROM applications WHERE id = $1) WHERE application_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The recipients of an application's notifications: the organisation, and its financers.
async fn recipients(
    conn: &mut AnyConnection,
    cur: &Current,
    funders_too: bool,
) -> StoreResult<Vec<String>> {
    let mut out: Vec<String> = sqlx::query_scalar("SELECT email FROM organisations WHERE id = $1")
        .bind(cur.organisation_id)
        .fetch_all(&mut *conn)
        .await?;
    if funders_too {
        let rows = sqlx::query("SELECT f.email FROM funders f JOIN funding_lines l ON l.funder_code = f.code AND l.contract_id = f.contract_id WHERE l.application_id = (SELECT id FROM applications WHERE reference = $1)")
            .bind(&cur.reference)
            .fetch_all(&mut *conn)
            .await?;
        for r in rows {
            if let Some(e) = get_opt_str(&r, "email")? {
                out.push(e);
            }
        }
    }
    out.retain(|e| !e.trim().is_empty());
    out.sort();
    out.dedup();
    Ok(out)
}

fn mails(to: &[String], subject: String, body: String) -> Vec<Mail> {
    to.iter()
        .map(|t| Mail {
            to: t.clone(),
            subject: subject.clone(),
            body: body.clone(),
        })
        .collect()
}

/// The notification an event sends, if any: (subject, body, whether financers get it too).
fn notification(
    event: Event,
    cur: &Current,
    comment: Option<&str>,
) -> Option<(String, String, bool)> {
    let title = &cur.body.title;
    let r = &cur.reference;
    let comment = comment.unwrap_or("");
    match event {
        Event::Deposer => Some((format!("Accusé de réception du dossier {r}"), format!("Le dossier {r} « {title} » a été déposé le {}. Il sera instruit par chacun des financeurs sollicités.", quartiers_domain::french::french_date(&today().to_string())), true)),
        Event::DemanderComplement => Some((format!("Demande de complément sur le dossier {r}"), format!("Un instructeur demande un complément sur le dossier {r} « {title} » :\n\n{comment}\n\nRépondez depuis la page du dossier."), false)),
        Event::Completer => Some((format!("Complément transmis sur le dossier {r}"), format!("Le porteur a transmis un complément sur le dossier {r} « {title} » :\n\n{comment}"), true)),
        Event::Decider => Some((format!("Décision sur le dossier {r}"), format!("Le comité de programmation a rendu sa décision sur le dossier {r} « {title} ». Le détail par financeur est sur la page du dossier."), false)),
        Event::Conventionner => Some((format!("Convention prête pour le dossier {r}"), format!("La ou les conventions du dossier {r} « {title} » sont prêtes : consultez-les et imprimez-les depuis la page du dossier."), false)),
        Event::AttendreBilan => Some((format!("Bilan attendu pour le dossier {r}"), format!("Le bilan de l'action {r} « {title} » est attendu : remplissez-le depuis la page du dossier."), false)),
        Event::RenvoyerBilan => Some((format!("Bilan à corriger pour le dossier {r}"), format!("Le bilan du dossier {r} « {title} » est à corriger :\n\n{comment}"), false)),
        _ => None,
    }
}

/// Applies `event` inside the caller's transaction; returns the new status.
pub(crate) async fn apply_event(
    conn: &mut AnyConnection,
    id: i64,
    event: Event,
    actor: &Author,
    comment: Option<&str>,
) -> StoreResult<Status> {
    let cur = current(conn, id).await?;
    let mut guards = line_guards(&lines_in(conn, id).await?);
    guards.has_message = comment.is_some_and(|c| !c.trim().is_empty());
    if matches!(event, Event::Deposer | Event::Completer) {
        let ctx = submission_context(conn, &cur).await?;
        guards.missing = cur
            .body
            .missing(&ctx)
            .0
            .into_iter()
            .map(|e| e.message)
            .collect();
        if event == Event::Deposer {
            let (_, opens, closes) = call_settings(conn, cur.call_id).await?;
            let parse =
                |s: &str| quartiers_domain::contract::parse_date(s).map_err(StoreError::Conflict);
            guards.call_closed = closed_reason(parse(&opens)?, parse(&closes)?, today());
        }
    }
    let to = transition(cur.status, event, &guards)?;
    let now = now_text();
    sqlx::query(
        "UPDATE applications SET status = $1, version = version + 1, updated_at = $2 WHERE id = $3",
    )
    .bind(to.code())
    .bind(&now)
    .bind(id)
    .execute(&mut *conn)
    .await?;
    if event == Event::Deposer {
        sqlx::query("UPDATE applications SET submitted_at = $1 WHERE id = $2")
            .bind(&now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    if matches!(event, Event::Deposer | Event::Completer) {
        sync_lines(conn, id, &cur).await?;
    }
    if event == Event::Reprogrammer {
        sqlx::query("UPDATE funding_lines SET decision = NULL, decided = 0, committee_id = NULL WHERE application_id = $1 AND decision = 'ajourne'")
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    sqlx::query("UPDATE funding_lines SET status = $1 WHERE application_id = $2")
        .bind(to.code())
        .bind(id)
        .execute(&mut *conn)
        .await?;
    audit(conn, id, event.code(), Some(cur.status), to, actor, comment).await?;
    let conversational = matches!(
        event,
        Event::DemanderComplement | Event::Completer | Event::RenvoyerBilan | Event::Retirer
    );
    if let Some(c) = comment.filter(|c| conversational && !c.trim().is_empty()) {
        insert_message(conn, id, actor, c).await?;
    }
    if let Some((subject, body, funders_too)) = notification(event, &cur, comment) {
        let to_list = recipients(conn, &cur, funders_too).await?;
        enqueue(conn, &mails(&to_list, subject, body)).await?;
    }
    Ok(to)
}

impl Store {
    /// Fires `event` on an application, as seen at `expected_version` (the version of the page
    /// the user acted from). A repeated request for an event just applied from that same
    /// version (double click) is answered [`FireOutcome::AlreadyDone`] without a second effect.
    pub async fn fire(
        &self,
        id: i64,
        event: Event,
        actor: &Author,
        comment: Option<&str>,
        expected_version: Option<i64>,
    ) -> StoreResult<FireOutcome> {
        let mut tx = self.pool.begin().await?;
        let cur = current(&mut tx, id).await?;
        if let Some(v) = expected_version {
            if v != cur.version {
                let last: Option<String> = sqlx::query_scalar("SELECT event FROM application_events WHERE application_id = $1 ORDER BY id DESC LIMIT 1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
                if v + 1 == cur.version && last.as_deref() == Some(event.code()) {
                    return Ok(FireOutcome::AlreadyDone(cur.status));
                }
                return Err(StoreError::Conflict("Le dossier a changé depuis que vous l'avez ouvert : rechargez la page avant de recommencer.".into()));
            }
        }
        let to = apply_event(&mut tx, id, event, actor, comment).await?;
        tx.commit().await?;
        Ok(FireOutcome::Moved(to))
    }

    /// Records a financer's opinion and proposed amount on its own line. When it is the last
    /// opinion awaited, the application moves to « avis rendus » in the same transaction.
    pub async fn give_opinion(
        &self,
        application_id: i64,
        funder: &str,
        opinion: Opinion,
        proposed: Cents,
        comment: Option<&str>,
        actor: &Author,
    ) -> StoreResult<Status> {
        let mut tx = self.pool.begin().await?;
        let cur = current(&mut tx, application_id).await?;
        if !cur.status.open_for_opinions() {
            return Err(StoreError::Conflict(format!(
                "Les avis ne se donnent que sur un dossier en instruction ; ce dossier est « {} ».",
                cur.status.label()
            )));
        }
        let done = sqlx::query("UPDATE funding_lines SET opinion = $1, proposed = $2, opinion_comment = $3, opinion_by = $4 WHERE application_id = $5 AND funder_code = $6")
            .bind(opinion.code())
            .bind(proposed.get())
            .bind(comment)
            .bind(actor.user_id)
            .bind(application_id)
            .bind(funder)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "Le financeur « {funder} » n'est pas sollicité par ce dossier."
            )));
        }
        let note = format!(
            "{} — montant proposé {}{}",
            opinion.label(),
            proposed,
            comment.map(|c| format!(" — {c}")).unwrap_or_default()
        );
        audit(
            &mut tx,
            application_id,
            &format!("avis:{funder}"),
            Some(cur.status),
            cur.status,
            actor,
            Some(&note),
        )
        .await?;
        sqlx::query("UPDATE applications SET version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(now_text())
            .bind(application_id)
            .execute(&mut *tx)
            .await?;
        let lines = lines_in(&mut tx, application_id).await?;
        let mut status = cur.status;
        if cur.status == Status::EnInstruction && lines.iter().all(|l| l.opinion.is_some()) {
            status = apply_event(&mut tx, application_id, Event::RendreAvis, actor, None).await?;
        }
        tx.commit().await?;
        Ok(status)
    }
}
