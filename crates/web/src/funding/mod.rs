//! What the funding pages and the funding API share: loading an application, a call or a
//! contract together with the access decision, so that every handler starts with the same
//! authorization check, and the French labels of money.

pub mod export;

use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::AppState;
use quartiers_domain::funding::access::ApplicationScope;
use quartiers_domain::Principal;
use quartiers_store::contracts::StoredContract;
use quartiers_store::funding::applications::StoredApplication;
use quartiers_store::funding::calls::Call;

/// The signed-in principal, or 401.
pub fn signed_in(visitor: &Visitor) -> Result<&Principal> {
    visitor.principal().ok_or(Error::Unauthorized)
}

/// An application the visitor may read, with its access scope: 401 when anonymous, 403 when
/// the visitor has no access (another organisation's file, a financer not solicited...).
pub async fn readable_application(
    state: &AppState,
    visitor: &Visitor,
    id: i64,
) -> Result<(StoredApplication, ApplicationScope)> {
    let principal = signed_in(visitor)?;
    let scope = state.store.application_scope(id).await?;
    if !principal.can_view_application(&scope) {
        return Err(Error::Forbidden);
    }
    Ok((state.store.application(id).await?, scope))
}

/// A contract by slug, with its id, for steering: 401 anonymous, 403 unless pilot or admin.
pub async fn steered_contract(
    state: &AppState,
    visitor: &Visitor,
    slug: &str,
) -> Result<StoredContract> {
    let principal = signed_in(visitor)?;
    let contract = state.store.contract(slug).await?;
    if !principal.steers(contract.id) {
        return Err(Error::Forbidden);
    }
    Ok(contract)
}

/// A call with its contract, for steering (pilots of the contract, administrators).
pub async fn steered_call(
    state: &AppState,
    visitor: &Visitor,
    call_id: i64,
) -> Result<(Call, String)> {
    let principal = signed_in(visitor)?;
    let call = state.store.call(call_id).await?;
    if !principal.steers(call.contract_id) {
        return Err(Error::Forbidden);
    }
    let slug = contract_slug(state, call.contract_id).await?;
    Ok((call, slug))
}

/// The slug of a contract id.
pub async fn contract_slug(state: &AppState, contract_id: i64) -> Result<String> {
    state
        .store
        .list_contracts()
        .await?
        .into_iter()
        .find(|c| c.id == contract_id)
        .map(|c| c.slug)
        .ok_or(Error::NotFound)
}

/// Cents shown in French (`20 000 €`).
pub fn euros(cents: i64) -> String {
    if cents < 0 {
        return format!("−{}", euros(-cents));
    }
    quartiers_domain::Cents::new(cents)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| cents.to_string())
}
