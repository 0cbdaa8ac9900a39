//! Financers of a contract, and its calls for projects with their envelopes.

use crate::{get_i64, get_opt_str, get_str, now_text, Store, StoreError, StoreResult};
use quartiers_domain::contract::parse_date;
use quartiers_domain::funding::{CallSettings, Envelope};
use quartiers_domain::Cents;
use sqlx::any::AnyRow;
use time::Date;

/// A financer institution of a contract (État, the intercommunality, a commune, CAF...).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Funder {
    /// Short code (`etat`, `mel`, `roubaix`), used in budgets and roles.
    pub code: String,
    /// Name.
    pub name: String,
    /// Where its notifications go.
    pub email: Option<String>,
    /// SIRET of the institution (the granting body in open data).
    #[serde(default)]
    pub siret: Option<String>,
}

/// A stored call.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Call {
    /// Id.
    pub id: i64,
    /// Contract.
    pub contract_id: i64,
    /// Settings as typed.
    pub settings: CallSettings,
    /// Opening date.
    #[schema(value_type = String)]
    pub opens_on: Date,
    /// Closing date.
    #[schema(value_type = String)]
    pub closes_on: Date,
    /// When the pilot published the decided programme.
    pub published_at: Option<String>,
    /// Version (optimistic concurrency).
    pub version: i64,
}

/// Checks a financer code: lowercase letters, digits and dashes.
pub fn check_funder_code(code: &str) -> Result<(), String> {
    if code.is_empty()
        || code.len() > 40
        || !code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!("« {code} » n'est pas un code de financeur : lettres minuscules, chiffres et tirets (exemple : etat, mel, ville-roubaix)."));
    }
    Ok(())
}

fn read_call(r: &AnyRow) -> StoreResult<Call> {
    let settings: CallSettings = serde_json::from_str(&get_str(r, "settings")?)
        .map_err(|e| StoreError::Conflict(format!("paramètres d'appel illisibles : {e}")))?;
    let date = |c: &str| -> StoreResult<Date> {
        parse_date(&get_str(r, c)?).map_err(StoreError::Conflict)
    };
    Ok(Call {
        id: get_i64(r, "id")?,
        contract_id: get_i64(r, "contract_id")?,
        opens_on: date("opens_on")?,
        closes_on: date("closes_on")?,
        settings,
        published_at: get_opt_str(r, "published_at")?,
        version: get_i64(r, "version")?,
    })
}

impl Store {
    /// Adds or updates a financer of a contract.
    pub async fn upsert_funder(&self, contract_id: i64, f: &Funder) -> StoreResult<()> {
        check_funder_code(&f.code)
            .map_err(|m| quartiers_domain::ValidationErrors::single("code", m))?;
        if let Some(s) = f.siret.as_deref().filter(|s| !s.trim().is_empty()) {
            quartiers_domain::Siret::parse(s)
                .map_err(|m| quartiers_domain::ValidationErrors::single("siret", m))?;
        }
        if f.name.trim().is_empty() {
            return Err(
                quartiers_domain::ValidationErrors::single("name", "Nommez le financeur.").into(),
            );
        }
        sqlx::query(
            "INSERT INTO funders (contract_id, code, name, email, siret) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (contract_id, code) DO UPDATE SET name = excluded.name, email = excluded.email, siret = excluded.siret",
        )
        .bind(contract_id)
        .bind(&f.code)
        .bind(f.name.trim())
        .bind(f.email.as_deref())
        .bind(f.siret.as_deref())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The financers of a contract.
    pub async fn funders(&self, contract_id: i64) -> StoreResult<Vec<Funder>> {
        sqlx::query(
            "SELECT code, name, email, siret FROM funders WHERE contract_id = $1 ORDER BY id",
        )
        .bind(contract_id)
        .fetch_all(&self.pool)
        .await?
        .iter()
        .map(|r| {
            Ok(Funder {
                code: get_str(r, "code")?,
                name: get_str(r, "name")?,
                email: get_opt_str(r, "email")?,
                siret: get_opt_str(r, "siret")?,
            })
        })
        .collect()
    }

    /// Creates or replaces (when `call_id` is given, at `expected_version`) a call and its envelopes.
    pub async fn save_call(
        &self,
        contract_id: i64,
        call_id: Option<(i64, i64)>,
        settings: &CallSettings,
        envelopes: &[Envelope],
        contract_years: (i32, i32),
    ) -> StoreResult<i64> {
        let (opens, closes) = settings.validate(contract_years)?;
        let funders: Vec<String> = self
            .funders(contract_id)
            .await?
            .into_iter()
            .map(|f| f.code)
            .collect();
        let mut errors = quartiers_domain::ValidationErrors::new();
        for (i, e) in envelopes.iter().enumerate() {
            if !funders.contains(&e.funder) {
                errors.add(
                    format!("envelopes[{i}].funder"),
                    format!("« {} » n'est pas un financeur du contrat.", e.funder),
                );
            }
        }
        errors.into_result()?;
        let json =
            serde_json::to_string(settings).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        let id = match call_id {
            None => sqlx::query_scalar::<_, i64>(
                "INSERT INTO calls (contract_id, year, title, opens_on, closes_on, settings, version, created_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7) RETURNING id",
            )
            .bind(contract_id)
            .bind(i64::from(settings.year))
            .bind(&settings.title)
            .bind(opens.to_string())
            .bind(closes.to_string())
            .bind(&json)
            .bind(now_text())
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| {
                if StoreError::is_unique_violation(&e) {
                    StoreError::Invalid(quartiers_domain::ValidationErrors::single("year", format!("Un appel à projets {} existe déjà pour ce contrat.", settings.year)))
                } else {
                    e.into()
                }
            })?,
            Some((id, version)) => {
                let done = sqlx::query("UPDATE calls SET year = $1, title = $2, opens_on = $3, closes_on = $4, settings = $5, version = version + 1 WHERE id = $6 AND version = $7")
                    .bind(i64::from(settings.year))
                    .bind(&settings.title)
                    .bind(opens.to_string())
                    .bind(closes.to_string())
                    .bind(&json)
                    .bind(id)
                    .bind(version)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() == 0 {
                    return Err(StoreError::Conflict("L'appel à projets a été modifié par quelqu'un d'autre entre-temps : rechargez la page, vos saisies sont conservées ci-dessous.".into()));
                }
                sqlx::query("DELETE FROM envelopes WHERE call_id = $1").bind(id).execute(&mut *tx).await?;
                id
            }
        };
        for e in envelopes {
            sqlx::query("INSERT INTO envelopes (call_id, funder_code, component, amount) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (call_id, funder_code, component) DO UPDATE SET amount = excluded.amount")
                .bind(id)
                .bind(&e.funder)
                .bind(&e.component)
                .bind(e.amount_cents.get())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(id)
    }

    /// One call.
    pub async fn call(&self, id: i64) -> StoreResult<Call> {
        let r = sqlx::query("SELECT * FROM calls WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        read_call(&r)
    }

    /// The calls of a contract, newest year first.
    pub async fn calls(&self, contract_id: i64) -> StoreResult<Vec<Call>> {
        sqlx::query("SELECT * FROM calls WHERE contract_id = $1 ORDER BY year DESC")
            .bind(contract_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(read_call)
            .collect()
    }

    /// Every call of every contract, with the contract slug, newest first (for applicants).
    pub async fn all_calls(&self) -> StoreResult<Vec<(String, Call)>> {
        sqlx::query("SELECT calls.*, c.slug AS contract_slug FROM calls JOIN contracts c ON c.id = calls.contract_id ORDER BY calls.closes_on DESC, calls.id")
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| Ok((get_str(r, "contract_slug")?, read_call(r)?)))
            .collect()
    }

    /// The envelopes of a call.
    pub async fn envelopes(&self, call_id: i64) -> StoreResult<Vec<Envelope>> {
        sqlx::query("SELECT funder_code, component, amount FROM envelopes WHERE call_id = $1 ORDER BY funder_code, component")
            .bind(call_id)
            .fetch_all(&self.pool)
            .await?
            .iter()
            .map(|r| {
                Ok(Envelope {
                    funder: get_str(r, "funder_code")?,
                    component: get_str(r, "component")?,
                    amount_cents: Cents::new(get_i64(r, "amount")?).map_err(StoreError::Conflict)?,
                })
            })
            .collect()
    }

    /// Publishes (or withdraws) the decided programme of a call for the public.
    pub async fn publish_call(&self, call_id: i64, publish: bool) -> StoreResult<()> {
        sqlx::query("UPDATE calls SET published_at = $1 WHERE id = $2")
            .bind(publish.then(now_text))
            .bind(call_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
