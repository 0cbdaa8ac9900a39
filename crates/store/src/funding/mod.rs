//! Storage of the funding cycle: organisations, financers and calls, applications with their
//! financer lines and audited transitions, committees, agreements, payments, reports and the
//! dashboards that follow the money. Every write is one transaction; every transition writes
//! its audit row and its notifications (outbox) in the same transaction.

pub mod agreements;
pub mod applications;
pub mod calls;
pub mod committee;
pub mod dashboards;
pub mod organisations;
pub mod reminders;
pub mod reports;
pub mod submission;
mod transitions;

pub use transitions::{line_guards, FireOutcome};

use crate::StoreError;
use quartiers_domain::funding::workflow::TransitionError;

impl From<TransitionError> for StoreError {
    fn from(e: TransitionError) -> Self {
        StoreError::Conflict(e.to_string())
    }
}

/// Money as stored: cents in a BIGINT.
pub(crate) fn euros(cents: i64) -> String {
    quartiers_domain::Cents::new(cents.max(0))
        .map(|c| c.to_string())
        .unwrap_or_default()
}
