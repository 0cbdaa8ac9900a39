//! The one path every change to a contract takes, from the pages and from the API:
//! authorization first, then the domain operation, then the store's transactional save with
//! its amendment.

use crate::auth::Visitor;
use crate::error::Error;
use crate::AppState;
use quartiers_domain::permissions::Action;
use quartiers_domain::{parse_date, ContractDocument, ValidationErrors};
use quartiers_store::contracts::{AmendmentInput, StoredContract};
use time::Date;

/// Metadata of a change, as submitted with every edit form or API call.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct ChangeMeta {
    /// The contract version the editor saw (optimistic concurrency).
    pub version: i64,
    /// Effective date (AAAA-MM-JJ); today when absent.
    #[serde(default)]
    pub effective_on: Option<String>,
    /// Reason or avenant reference.
    #[serde(default)]
    pub reason: Option<String>,
}

impl ChangeMeta {
    /// Parses the effective date (today when blank), with a field error otherwise.
    pub fn effective_date(&self) -> Result<Date, ValidationErrors> {
        match self
            .effective_on
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            None => Ok(quartiers_store::today()),
            Some(s) => {
                let d = parse_date(s).map_err(|m| ValidationErrors::single("effective_on", m))?;
                if d > quartiers_store::today() {
                    return Err(ValidationErrors::single(
                        "effective_on",
                        "La date d'effet ne peut pas être dans le futur.",
                    ));
                }
                Ok(d)
            }
        }
    }
}

/// Loads a contract for editing, checking that the visitor may edit it.
pub async fn load_for_edit(
    state: &AppState,
    visitor: &Visitor,
    slug: &str,
) -> Result<StoredContract, Error> {
    if visitor.principal().is_none() {
        return Err(Error::Unauthorized);
    }
    let stored = state.store.contract(slug).await?;
    visitor.require(Action::EditContract(stored.id))?;
    Ok(stored)
}

/// Applies `op` to the contract and saves the result with an amendment. Returns the new version.
pub async fn apply(
    state: &AppState,
    visitor: &Visitor,
    stored: &StoredContract,
    meta: &ChangeMeta,
    summary: String,
    op: impl FnOnce(&ContractDocument) -> Result<ContractDocument, ValidationErrors>,
) -> Result<i64, Error> {
    visitor.require(Action::EditContract(stored.id))?;
    let effective_on = meta.effective_date()?;
    let reason = meta
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ValidationErrors::single(
            "reason",
            "Le motif ne doit pas dépasser 500 caractères.",
        )
        .into());
    }
    let new_doc = op(&stored.document)?;
    let amendment = AmendmentInput {
        effective_on,
        author: visitor.author(),
        summary,
        reason,
    };
    Ok(state
        .store
        .save_contract(stored.id, meta.version, &new_doc, &amendment)
        .await?)
}

/// Imports a new contract document (platform administrators).
pub async fn import(
    state: &AppState,
    visitor: &Visitor,
    doc: &ContractDocument,
) -> Result<i64, Error> {
    visitor.require(Action::CreateContract)?;
    Ok(import_as(&state.store, doc, visitor.author()).await?)
}

/// The import itself, shared by the pages, the API, the CLI and the demonstration data:
/// the first amendment takes effect on the signature date when known, today otherwise.
pub async fn import_as(
    store: &quartiers_store::Store,
    doc: &ContractDocument,
    author: quartiers_store::contracts::Author,
) -> Result<i64, quartiers_store::StoreError> {
    doc.validate()?;
    let effective_on = doc
        .contract
        .signed_on
        .unwrap_or_else(quartiers_store::today);
    let amendment = AmendmentInput {
        effective_on,
        author,
        summary: "Création du contrat (import)".into(),
        reason: None,
    };
    store.create_contract(doc, &amendment).await
}

/// The demonstration contracts shipped with the platform (see `data/contracts/README.md`).
pub const DEMO_CONTRACTS: [(&str, &str); 3] = [
    (
        "mel-2024.json",
        include_str!("../../../data/contracts/mel-2024.json"),
    ),
    (
        "call-2024.json",
        include_str!("../../../data/contracts/call-2024.json"),
    ),
    (
        "valenciennes-2015.json",
        include_str!("../../../data/contracts/valenciennes-2015.json"),
    ),
];

/// Loads the demonstration contracts when the platform holds no contract (idempotent).
/// Returns the slugs loaded.
pub async fn load_demo(store: &quartiers_store::Store) -> anyhow::Result<Vec<String>> {
    if store.has_contracts().await? {
        return Ok(vec![]);
    }
    let mut loaded = Vec::new();
    for (name, text) in DEMO_CONTRACTS {
        let doc = ContractDocument::from_json(text).map_err(|e| anyhow::anyhow!("{name} : {e}"))?;
        let author = quartiers_store::contracts::Author {
            user_id: None,
            label: "données de démonstration".into(),
        };
        match import_as(store, &doc, author).await {
            Ok(_) => loaded.push(doc.contract.slug.clone()),
            // Another app server loaded it at the same moment.
            Err(quartiers_store::StoreError::Conflict(_)) => {}
            Err(e) => return Err(anyhow::anyhow!("{name} : {e}")),
        }
    }
    Ok(loaded)
}

/// How an amendment's author is shown: account emails are personal data, shown to signed-in
/// users only; anonymous visitors see the role of the author instead.
pub fn shown_author(label: &str, visitor: &Visitor) -> String {
    if visitor.principal().is_none() && label.contains('@') {
        "un membre de l'équipe du contrat".into()
    } else {
        label.to_string()
    }
}
