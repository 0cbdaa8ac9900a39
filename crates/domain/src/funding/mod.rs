//! The funding cycle: calls for projects, applications and their budget, the instruction
//! workflow, the programming committee's envelopes, agreements and payments, and the
//! end-of-action reports. Pure rules; the store persists them and the web layer shows them.

pub mod access;
pub mod application;
pub mod budget;
pub mod call;
pub mod money_rules;
pub mod report;
pub mod workflow;

pub use application::{ApplicationBody, ProposedIndicator, SubmissionContext};
pub use budget::{BudgetLine, YearBudget};
pub use call::{CallSettings, Envelope};
pub use report::{BeneficiaryCounts, ReportBody};
pub use workflow::{Decision, Event, Opinion, Status};
