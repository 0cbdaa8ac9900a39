//! The funding cycle's pages: the applicants' side (organisations, applications, reports),
//! instruction (calls, worklists, the application page, opinions, transitions, committees)
//! and money (agreements, payments, dashboards, exports, the published programme).

mod applicant;
mod instruction;
mod money;

use crate::AppState;
use axum::Router;

/// The funding routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(applicant::routes())
        .merge(instruction::routes())
        .merge(money::routes())
}
