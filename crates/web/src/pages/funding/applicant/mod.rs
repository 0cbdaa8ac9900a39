//! Funding pages, applicants' side: the public sign-up of project carriers, organisation
//! pages (members, standing documents), the applicant's dashboard, starting and editing an
//! application (CERFA 12156) and filling the end-of-action report (CERFA 15059).
//!
//! Every handler starts with its authorization check, then the CSRF check; invalid input
//! re-renders the form with what was typed and French messages next to the fields.

mod application_form;
mod budget_form;
mod dashboard;
mod files;
mod new_application;
mod organisation;
mod report_form;
mod signup;
mod widgets;

use crate::auth::Visitor;
use crate::error::{Error, Result};
use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Uri};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use quartiers_domain::Principal;

/// Largest standing document or beneficiaries file accepted (10 Mo).
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Body limit of the upload routes: the file plus the other fields; anything beyond the
/// file limit is read and thrown away so that the browser receives the French refusal.
const UPLOAD_BODY_LIMIT: usize = 64 * 1024 * 1024;

/// Routes of this side.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/inscription",
            get(signup::signup_form).post(signup::signup),
        )
        .route(
            "/structures/nouvelle",
            get(signup::new_organisation_form).post(signup::create_organisation),
        )
        .route("/structures/{id}", get(organisation::show))
        .route(
            "/structures/{id}/membres",
            axum::routing::post(organisation::add_member),
        )
        .route(
            "/structures/{id}/documents",
            axum::routing::post(organisation::upload_document)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
        .route(
            "/structures/{id}/documents/{doc_id}",
            get(organisation::download_document),
        )
        .route("/mes-dossiers", get(dashboard::show))
        .route(
            "/appels/{call_id}/dossiers/nouveau",
            get(new_application::form).post(new_application::create),
        )
        .route(
            "/dossiers/{id}/modifier",
            get(application_form::form).post(application_form::save),
        )
        .route(
            "/dossiers/{id}/bilan",
            get(report_form::form)
                .post(report_form::save)
                .layer(DefaultBodyLimit::max(UPLOAD_BODY_LIMIT)),
        )
}

/// The signed-in principal of a page (GET): anonymous visitors are sent to the sign-in
/// page, which brings them back here.
fn page_principal<'a>(visitor: &'a Visitor, uri: &Uri) -> Result<&'a Principal, Redirect> {
    visitor.principal().ok_or_else(|| {
        let here = uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/mes-dossiers");
        let next: String = here
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        Redirect::to(&format!("/connexion?suivant={next}"))
    })
}

/// Member of the organisation (or platform administrator): 403 otherwise.
fn require_member(principal: &Principal, organisation_id: i64) -> Result<()> {
    if principal.is_admin || principal.member_of(organisation_id) {
        Ok(())
    } else {
        Err(Error::Forbidden)
    }
}

/// The client's address: the first `X-Forwarded-For` hop behind a load balancer, or the
/// socket's (as the sign-in page counts it).
fn client_address(
    headers: &HeaderMap,
    connect: Option<axum::extract::ConnectInfo<std::net::SocketAddr>>,
) -> String {
    headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(|s| s.trim().to_string())
        .or_else(|| connect.map(|c| c.0.ip().to_string()))
        .unwrap_or_else(|| "inconnue".into())
}

/// The first value of each name of a submitted form, and every value of the names that
/// repeat (checkboxes).
#[derive(Debug, Default, Clone)]
struct Fields(Vec<(String, String)>);

impl Fields {
    fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}
