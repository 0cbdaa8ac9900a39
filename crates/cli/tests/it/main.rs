//! The integration test binary: every scenario goes through HTTP (a real listener) against a
//! real database, on SQLite always and on PostgreSQL when `QUARTIERS_TEST_POSTGRES_URL` is set.

// Amounts in cents are written euros_cents: `100_00` is 100 €.
#![allow(clippy::inconsistent_digit_grouping)]

mod helpers;

mod accounts;
mod amendments;
mod api;
mod beneficiaries;
mod browser;
mod cli;
mod csrf_and_sessions;
mod demo_contracts;
mod forms_bad_input;
mod funding_api;
mod funding_applicant;
mod funding_browser;
mod funding_cycle;
mod funding_fixtures;
mod funding_instruction;
mod funding_money;
mod geography;
mod mail;
mod roles;
