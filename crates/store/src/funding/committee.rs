//! Programming committees: a session with its date, members and agenda; decisions line by
//! line or in bulk, all or nothing, checked against each financer's envelope.

use super::applications::{audit, lines_in, read_line, FundingLine};
use super::transitions::{apply_event, current};
use crate::contracts::Author;
use crate::{get_i64, get_str, now_text, Store, StoreError, StoreResult};
use quartiers_domain::funding::money_rules::{check_envelope, overrun_message, EnvelopeCheck};
use quartiers_domain::funding::{Decision, Event, Status};
use quartiers_domain::ValidationErrors;

/// A committee session.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Committee {
    /// Id.
    pub id: i64,
    /// Call.
    pub call_id: i64,
    /// Date (AAAA-MM-JJ).
    pub held_on: String,
    /// Title.
    pub title: String,
    /// Members (one per line).
    pub members: String,
}

/// A decision on one financer line.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub struct LineDecision {
    /// Application.
    pub application_id: i64,
    /// Financer code.
    pub funder: String,
    /// Decision.
    pub decision: Decision,
    /// Amount granted (cents), for `accorde`.
    pub amount_cents: i64,
}

/// Where a financer's envelope stands on a call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct EnvelopeUse {
    /// Financer.
    pub funder: String,
    /// Component.
    pub component: String,
    /// Envelope (cents).
    pub envelope: i64,
    /// Granted so far (cents).
    pub granted: i64,
    /// Left (cents, negative when overrun).
    pub remaining: i64,
}

/// A decision taken by a committee, for its minutes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct CommitteeDecision {
    /// Application.
    pub application_id: i64,
    /// Its reference.
    pub reference: String,
    /// Title of the action.
    pub title: String,
    /// Organisation.
    pub organisation: String,
    /// Component.
    pub component: String,
    /// Financer code.
    pub funder: String,
    /// Requested (cents).
    pub requested: i64,
    /// Proposed by the instructor (cents).
    pub proposed: Option<i64>,
    /// Decision code (`accorde`, `refuse`, `ajourne`).
    pub decision: String,
    /// Granted (cents).
    pub decided: i64,
    /// Reason of a confirmed envelope overrun.
    pub override_reason: Option<String>,
}

/// An application ready for the committee (its opinions all given), with its lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgendaItem {
    /// Application id.
    pub id: i64,
    /// Reference.
    pub reference: String,
    /// Title.
    pub title: String,
    /// Organisation's name.
    pub organisation: String,
    /// Component (contrat de ville, pacte…).
    pub component: String,
    /// Its financer lines.
    pub lines: Vec<FundingLine>,
}

impl Store {
    /// The agenda of a call's committee: its applications whose opinions are all given, in
    /// reference order, each with its lines (two queries, whatever the agenda's length).
    pub async fn committee_agenda(&self, call_id: i64) -> StoreResult<Vec<AgendaItem>> {
        let ready = Status::AvisRendus.code();
        let mut items: Vec<AgendaItem> = sqlx::query(
            "SELECT a.id, a.reference, a.title, a.component, o.name AS organisation \
             FROM applications a JOIN organisations o ON o.id = a.organisation_id \
             WHERE a.call_id = $1 AND a.status = $2 ORDER BY a.reference",
        )
        .bind(call_id)
        .bind(ready)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(AgendaItem {
                id: get_i64(r, "id")?,
                reference: get_str(r, "reference")?,
                title: get_str(r, "title")?,
                organisation: get_str(r, "organisation")?,
                component: get_str(r, "component")?,
                lines: Vec::new(),
            })
        })
        .collect::<StoreResult<_>>()?;
        let lines = sqlx::query(
            "SELECT l.* FROM funding_lines l JOIN applications a ON a.id = l.application_id \
             WHERE a.call_id = $1 AND a.status = $2 ORDER BY l.id",
        )
        .bind(call_id)
        .bind(ready)
        .fetch_all(&self.pool)
        .await?;
        let position: std::collections::HashMap<i64, usize> =
            items.iter().enumerate().map(|(i, it)| (it.id, i)).collect();
        for r in &lines {
            let line = read_line(r)?;
            // A line of an application that moved between the two reads is left out with it.
            if let Some(&i) = position.get(&line.application_id) {
                items[i].lines.push(line);
            }
        }
        items.retain(|it| !it.lines.is_empty());
        Ok(items)
    }

    /// Creates a committee session.
    pub async fn create_committee(
        &self,
        call_id: i64,
        held_on: &str,
        title: &str,
        members: &str,
    ) -> StoreResult<i64> {
        let mut e = ValidationErrors::new();
        e.check("held_on", quartiers_domain::contract::parse_date(held_on));
        if title.trim().is_empty() {
            e.add("title", "Donnez un intitulé à la séance.");
        }
        e.into_result()?;
        Ok(sqlx::query_scalar::<_, i64>("INSERT INTO committees (call_id, held_on, title, members, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id")
            .bind(call_id)
            .bind(held_on.trim())
            .bind(title.trim())
            .bind(members.trim())
            .bind(now_text())
            .fetch_one(&self.pool)
            .await?)
    }

    /// One committee.
    pub async fn committee(&self, id: i64) -> StoreResult<Committee> {
        let r = sqlx::query("SELECT * FROM committees WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok(Committee {
            id,
            call_id: get_i64(&r, "call_id")?,
            held_on: get_str(&r, "held_on")?,
            title: get_str(&r, "title")?,
            members: get_str(&r, "members")?,
        })
    }

    /// The committees of a call.
    pub async fn committees(&self, call_id: i64) -> StoreResult<Vec<Committee>> {
        sqlx::query("SELECT * FROM committees WHERE call_id = $1 ORDER BY held_on, id")
            .bind(call_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Committee {
                    id: get_i64(r, "id")?,
                    call_id,
                    held_on: get_str(r, "held_on")?,
                    title: get_str(r, "title")?,
                    members: get_str(r, "members")?,
                })
            })
            .collect()
    }

    /// The decisions a committee took, by financer then reference (its minutes).
    pub async fn committee_decisions(
        &self,
        committee_id: i64,
    ) -> StoreResult<Vec<CommitteeDecision>> {
        use sqlx::Row;
        sqlx::query(
            "SELECT a.id, a.reference, a.title, o.name AS organisation, l.component, l.funder_code, l.requested, l.proposed, l.decision, l.decided, l.override_reason
             FROM funding_lines l JOIN applications a ON a.id = l.application_id JOIN organisations o ON o.id = a.organisation_id
             WHERE l.committee_id = $1 ORDER BY l.funder_code, a.reference",
        )
        .bind(committee_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(CommitteeDecision {
                application_id: get_i64(r, "id")?,
                reference: get_str(r, "reference")?,
                title: get_str(r, "title")?,
                organisation: get_str(r, "organisation")?,
                component: get_str(r, "component")?,
                funder: get_str(r, "funder_code")?,
                requested: get_i64(r, "requested")?,
                proposed: r.try_get::<Option<i64>, _>("proposed")?,
                decision: get_str(r, "decision")?,
                decided: get_i64(r, "decided")?,
                override_reason: crate::get_opt_str(r, "override_reason")?,
            })
        })
        .collect()
    }

    /// The use of each envelope of a call.
    pub async fn envelope_use(&self, call_id: i64) -> StoreResult<Vec<EnvelopeUse>> {
        let mut conn = self.pool.acquire().await?;
        envelope_use_in(&mut conn, call_id).await
    }

    /// Records the committee's decisions, all or none. A grant over its financer's envelope
    /// is refused unless `override_reason` is given by a pilot (the caller checks the role).
    pub async fn decide(
        &self,
        committee_id: i64,
        decisions: &[LineDecision],
        override_reason: Option<&str>,
        actor: &Author,
    ) -> StoreResult<Vec<(i64, Status)>> {
        let committee = self.committee(committee_id).await?;
        let override_reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
        let mut tx = self.pool.begin().await?;
        let mut errors = ValidationErrors::new();
        let mut touched: Vec<i64> = Vec::new();
        for (i, d) in decisions.iter().enumerate() {
            let field = format!("decisions[{i}]");
            let cur = current(&mut tx, d.application_id).await?;
            if cur.call_id != committee.call_id {
                errors.add(
                    &field,
                    format!(
                        "Le dossier {} n'appartient pas à l'appel à projets de cette séance.",
                        cur.reference
                    ),
                );
                continue;
            }
            if cur.status != Status::AvisRendus {
                errors.add(&field, format!("Le dossier {} est « {} » : seuls les dossiers aux avis rendus passent en comité.", cur.reference, cur.status.label()));
                continue;
            }
            let lines = lines_in(&mut tx, d.application_id).await?;
            let Some(line) = lines.iter().find(|l| l.funder == d.funder) else {
                errors.add(
                    &field,
                    format!(
                        "Le dossier {} ne sollicite pas « {} ».",
                        cur.reference, d.funder
                    ),
                );
                continue;
            };
            let amount = if d.decision == Decision::Accorde {
                d.amount_cents
            } else {
                0
            };
            if !(0..=quartiers_domain::money::MAX_CENTS).contains(&amount) {
                errors.add(&field, "Le montant accordé est invalide.");
                continue;
            }
            if d.decision == Decision::Accorde && amount == 0 {
                errors.add(
                    &field,
                    format!(
                        "Indiquez le montant accordé au dossier {} par « {} ».",
                        cur.reference, d.funder
                    ),
                );
                continue;
            }
            // The pilot's reason is kept on the lines that go over their envelope only.
            let mut overrun_reason = None;
            if d.decision == Decision::Accorde {
                let component = cur.body.component.clone();
                let env: Option<i64> = sqlx::query_scalar("SELECT amount FROM envelopes WHERE call_id = $1 AND funder_code = $2 AND component = $3")
                    .bind(committee.call_id).bind(&d.funder).bind(&component).fetch_optional(&mut *tx).await?;
                let granted: i64 = sqlx::query_scalar("SELECT CAST(COALESCE(SUM(l.decided), 0) AS BIGINT) FROM funding_lines l JOIN applications a ON a.id = l.application_id WHERE a.call_id = $1 AND l.funder_code = $2 AND l.component = $3 AND l.decision = 'accorde' AND l.id <> $4")
                    .bind(committee.call_id).bind(&d.funder).bind(&component).bind(line.id).fetch_one(&mut *tx).await?;
                let name: String = sqlx::query_scalar(
                    "SELECT name FROM funders WHERE contract_id = $1 AND code = $2",
                )
                .bind(cur.contract_id)
                .bind(&d.funder)
                .fetch_optional(&mut *tx)
                .await?
                .unwrap_or_else(|| d.funder.clone());
                if let EnvelopeCheck::Exceeds { by } =
                    check_envelope(env.unwrap_or(0), granted, amount)
                {
                    if override_reason.is_none() {
                        errors.add(
                            &field,
                            format!(
                                "Dossier {} : {}",
                                cur.reference,
                                overrun_message(&name, &component, by)
                            ),
                        );
                        continue;
                    }
                    overrun_reason = override_reason;
                }
            }
            sqlx::query("UPDATE funding_lines SET decision = $1, decided = $2, committee_id = $3, override_reason = $4 WHERE id = $5")
                .bind(d.decision.code())
                .bind(amount)
                .bind(committee_id)
                .bind(overrun_reason)
                .bind(line.id)
                .execute(&mut *tx)
                .await?;
            let note = format!(
                "{} — {}{}",
                d.decision.label(),
                super::euros(amount),
                overrun_reason
                    .map(|r| format!(" — dépassement d'enveloppe confirmé : {r}"))
                    .unwrap_or_default()
            );
            audit(
                &mut tx,
                d.application_id,
                &format!("decision:{}", d.funder),
                Some(cur.status),
                cur.status,
                actor,
                Some(&note),
            )
            .await?;
            if !touched.contains(&d.application_id) {
                touched.push(d.application_id);
            }
        }
        if !errors.is_empty() {
            tx.rollback().await?;
            return Err(errors.into());
        }
        let mut moved = Vec::new();
        for app in touched {
            let lines = lines_in(&mut tx, app).await?;
            if lines.iter().all(|l| l.decision.is_some()) {
                moved.push((
                    app,
                    apply_event(
                        &mut tx,
                        app,
                        Event::Decider,
                        actor,
                        Some(&format!("Comité du {}", committee.held_on)),
                    )
                    .await?,
                ));
            }
        }
        tx.commit().await?;
        Ok(moved)
    }
}

pub(crate) async fn envelope_use_in(
    conn: &mut sqlx::AnyConnection,
    call_id: i64,
) -> StoreResult<Vec<EnvelopeUse>> {
    sqlx::query(
        "SELECT e.funder_code, e.component, e.amount,
                CAST(COALESCE((SELECT SUM(l.decided) FROM funding_lines l JOIN applications a ON a.id = l.application_id
                          WHERE a.call_id = e.call_id AND l.funder_code = e.funder_code AND l.component = e.component AND l.decision = 'accorde'), 0) AS BIGINT) AS granted
         FROM envelopes e WHERE e.call_id = $1 ORDER BY e.funder_code, e.component",
    )
    .bind(call_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| {
        let envelope = get_i64(r, "amount")?;
        let granted = get_i64(r, "granted")?;
        Ok(EnvelopeUse { funder: get_str(r, "funder_code")?, component: get_str(r, "component")?, envelope, granted, remaining: envelope - granted })
    })
    .collect()
}
