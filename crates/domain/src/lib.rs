//! Quartiers domain model.
//!
//! Everything here is pure: validated identifiers (parse, don't validate), the contract
//! document (the import/export format and the unit of amendment snapshots), roles and
//! permissions. This crate knows neither HTTP nor SQL; pages, API and CLI all call it.

// Amounts in cents are written euros_cents: `100_00` is 100 €.
#![allow(clippy::inconsistent_digit_grouping)]

pub mod contract;
pub mod diff;
pub mod edit;
pub mod french;
pub mod funding;
pub mod ids;
pub mod money;
pub mod permissions;
pub mod validation;

pub use contract::*;
pub use ids::{InseeCode, QpvCode, Rna, Siren, Siret};
pub use money::Cents;
pub use permissions::{Action, Principal, Role};
pub use validation::{FieldError, ValidationErrors};
