//! Contracts: the document (source of truth, versioned for optimistic concurrency), its
//! projections (framework nodes, communes) and the amendment written with every change, all
//! in one transaction.

use crate::{get_i64, get_str, now_text, Store, StoreError, StoreResult};
use quartiers_domain::diff::diff;
use quartiers_domain::edit::flat_nodes;
use quartiers_domain::ContractDocument;
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use time::Date;

/// A contract in the list of contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractSummary {
    /// Id.
    pub id: i64,
    /// URL slug.
    pub slug: String,
    /// Name.
    pub name: String,
    /// Pilot intercommunality.
    pub pilot_name: String,
    /// First year.
    pub start_year: i64,
    /// Last year.
    pub end_year: i64,
}

/// A stored contract with its current document.
#[derive(Debug, Clone)]
pub struct StoredContract {
    /// Id.
    pub id: i64,
    /// Version, incremented by every change (optimistic concurrency).
    pub version: i64,
    /// The current document.
    pub document: ContractDocument,
    /// Last change (UTC timestamp text).
    pub updated_at: String,
}

/// Who makes a change.
#[derive(Debug, Clone)]
pub struct Author {
    /// User id, absent for the command line.
    pub user_id: Option<i64>,
    /// How the author is shown in the history.
    pub label: String,
}

/// What the amendment written with a change says.
#[derive(Debug, Clone)]
pub struct AmendmentInput {
    /// Date from which the change applies (not before the previous amendment's).
    pub effective_on: Date,
    /// Who.
    pub author: Author,
    /// One-line French summary ("Ambition « … » modifiée").
    pub summary: String,
    /// Reason or reference of the avenant, if given.
    pub reason: Option<String>,
}

fn summary_from_row(r: &AnyRow) -> StoreResult<ContractSummary> {
    Ok(ContractSummary {
        id: get_i64(r, "id")?,
        slug: get_str(r, "slug")?,
        name: get_str(r, "name")?,
        pilot_name: get_str(r, "pilot_name")?,
        start_year: get_i64(r, "start_year")?,
        end_year: get_i64(r, "end_year")?,
    })
}

pub(crate) fn parse_document(text: &str) -> StoreResult<ContractDocument> {
    serde_json::from_str(text).map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))
}

impl Store {
    /// All contracts, by name.
    pub async fn list_contracts(&self) -> StoreResult<Vec<ContractSummary>> {
        let rows = sqlx::query("SELECT id, slug, name, pilot_name, start_year, end_year FROM contracts ORDER BY name, id").fetch_all(&self.pool).await?;
        rows.iter().map(summary_from_row).collect()
    }

    /// Whether the platform holds any contract.
    pub async fn has_contracts(&self) -> StoreResult<bool> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM contracts")
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// A contract by slug.
    pub async fn contract(&self, slug: &str) -> StoreResult<StoredContract> {
        let row =
            sqlx::query("SELECT id, version, document, updated_at FROM contracts WHERE slug = $1")
                .bind(slug)
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound)?;
        Ok(StoredContract {
            id: get_i64(&row, "id")?,
            version: get_i64(&row, "version")?,
            document: parse_document(&get_str(&row, "document")?)?,
            updated_at: get_str(&row, "updated_at")?,
        })
    }

    /// Creates a contract from a validated document; the first amendment records its creation.
    pub async fn create_contract(
        &self,
        doc: &ContractDocument,
        amendment: &AmendmentInput,
    ) -> StoreResult<i64> {
        doc.validate()?;
        let c = &doc.contract;
        let now = now_text();
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO contracts (slug, name, pilot_name, start_year, end_year, document, version, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING id",
        )
        .bind(&c.slug)
        .bind(&c.name)
        .bind(&c.territory.pilot_name)
        .bind(i64::from(c.period.start_year))
        .bind(i64::from(c.period.end_year))
        .bind(doc.to_json())
        .bind(&now)
        .fetch_one(&mut *tx)
        .await;
        let id = match inserted {
            Ok(id) => id,
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "Un contrat porte déjà l'identifiant « {} ».",
                    c.slug
                )))
            }
            Err(e) => return Err(e.into()),
        };
        sync_projections(&mut tx, id, doc).await?;
        insert_amendment(&mut tx, id, None, doc, amendment).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Saves a new version of a contract's document, refusing it if someone saved in between
    /// (`expected_version`), and records the amendment in the same transaction.
    /// Returns the new version.
    pub async fn save_contract(
        &self,
        id: i64,
        expected_version: i64,
        doc: &ContractDocument,
        amendment: &AmendmentInput,
    ) -> StoreResult<i64> {
        doc.validate()?;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT document, version FROM contracts WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        let before = parse_document(&get_str(&row, "document")?)?;
        if get_i64(&row, "version")? != expected_version {
            return Err(StoreError::Conflict(
                "Ce contrat a été modifié par quelqu'un d'autre depuis que vous avez ouvert le formulaire. Vos saisies sont conservées ci-dessous : rechargez la page pour voir la version actuelle, puis reportez-les.".into(),
            ));
        }
        if before.contract.slug != doc.contract.slug {
            return Err(quartiers_domain::ValidationErrors::single(
                "slug",
                "L'identifiant d'un contrat ne peut pas être modifié.",
            )
            .into());
        }
        let last: Option<String> =
            sqlx::query_scalar("SELECT MAX(effective_on) FROM amendments WHERE contract_id = $1")
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let effective = amendment.effective_on.to_string();
        if let Some(last) = last.filter(|l| *l > effective) {
            return Err(quartiers_domain::ValidationErrors::single(
                "effective_on",
                format!("La date d'effet ne peut pas précéder celle du dernier avenant ({last})."),
            )
            .into());
        }
        let c = &doc.contract;
        let updated = sqlx::query(
            "UPDATE contracts SET name = $1, pilot_name = $2, start_year = $3, end_year = $4, document = $5, version = version + 1, updated_at = $6
             WHERE id = $7 AND version = $8",
        )
        .bind(&c.name)
        .bind(&c.territory.pilot_name)
        .bind(i64::from(c.period.start_year))
        .bind(i64::from(c.period.end_year))
        .bind(doc.to_json())
        .bind(now_text())
        .bind(id)
        .bind(expected_version)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() != 1 {
            return Err(StoreError::Conflict(
                "Ce contrat a été modifié en même temps par quelqu'un d'autre : réessayez.".into(),
            ));
        }
        // Most edits (a key figure, a section…) leave the framework and the communes as they
        // were: rewriting their projections would be ~50 statements for nothing.
        if before.contract.framework != doc.contract.framework
            || before.contract.territory.communes != doc.contract.territory.communes
        {
            sync_projections(&mut tx, id, doc).await?;
        }
        insert_amendment(&mut tx, id, Some(&before), doc, amendment).await?;
        tx.commit().await?;
        Ok(expected_version + 1)
    }

    /// Deletes a contract with its history.
    pub async fn delete_contract(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM contracts WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        Ok(())
    }

    /// The ids of a contract's live framework nodes, by key.
    pub async fn framework_node_ids(&self, contract_id: i64) -> StoreResult<Vec<(String, i64)>> {
        let rows = sqlx::query("SELECT node_key, id FROM framework_nodes WHERE contract_id = $1 AND removed_at IS NULL ORDER BY depth, position")
            .bind(contract_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((get_str(r, "node_key")?, get_i64(r, "id")?)))
            .collect()
    }

    /// The contracts covering a commune.
    pub async fn contracts_of_commune(&self, insee: &str) -> StoreResult<Vec<ContractSummary>> {
        let rows = sqlx::query(
            "SELECT c.id, c.slug, c.name, c.pilot_name, c.start_year, c.end_year FROM contracts c
             JOIN contract_communes cc ON cc.contract_id = c.id WHERE cc.insee = $1 ORDER BY c.name",
        )
        .bind(insee)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(summary_from_row).collect()
    }
}

/// Keeps the framework-node and commune projections in step with the document.
async fn sync_projections(
    tx: &mut Transaction<'_, Any>,
    id: i64,
    doc: &ContractDocument,
) -> StoreResult<()> {
    let now = now_text();
    sqlx::query(
        "UPDATE framework_nodes SET removed_at = $1 WHERE contract_id = $2 AND removed_at IS NULL",
    )
    .bind(&now)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    let mut parents: Vec<Option<String>> = Vec::new();
    let mut positions: Vec<i64> = Vec::new();
    for (depth, node) in flat_nodes(doc) {
        parents.truncate(depth);
        positions.truncate(depth + 1);
        if positions.len() == depth {
            positions.push(0);
        }
        positions[depth] += 1;
        let parent = parents.last().cloned().flatten();
        sqlx::query(
            "INSERT INTO framework_nodes (contract_id, node_key, parent_key, depth, position, title, removed_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)
             ON CONFLICT (contract_id, node_key) DO UPDATE SET parent_key = excluded.parent_key, depth = excluded.depth, position = excluded.position, title = excluded.title, removed_at = NULL",
        )
        .bind(id)
        .bind(&node.key)
        .bind(parent)
        .bind(depth as i64)
        .bind(positions[depth])
        .bind(&node.title)
        .execute(&mut **tx)
        .await?;
        parents.push(Some(node.key.clone()));
    }
    sqlx::query("DELETE FROM contract_communes WHERE contract_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    for c in &doc.contract.territory.communes {
        sqlx::query("INSERT INTO contract_communes (contract_id, insee, name) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(c.insee.as_str())
            .bind(&c.name)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn insert_amendment(
    tx: &mut Transaction<'_, Any>,
    id: i64,
    before: Option<&ContractDocument>,
    after: &ContractDocument,
    a: &AmendmentInput,
) -> StoreResult<()> {
    let changes = diff(before, Some(after));
    sqlx::query(
        "INSERT INTO amendments (contract_id, effective_on, recorded_at, author_id, author_label, summary, reason, changes, snapshot)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(a.effective_on.to_string())
    .bind(now_text())
    .bind(a.author.user_id)
    .bind(&a.author.label)
    .bind(&a.summary)
    .bind(&a.reason)
    .bind(serde_json::to_string(&changes).expect("changes serialize"))
    .bind(after.to_json())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
