//! The French pages: public reading of contracts, sign-in, and the pilots' edit forms.

mod accounts;
mod contract;
mod edit;
mod forms;
mod funding;
pub mod geo;
mod home;
mod outbox;
mod session;

use crate::auth::Visitor;
use crate::error::Error;
use crate::AppState;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

/// The page routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home::home))
        .route("/connexion", get(session::login_form).post(session::login))
        .route("/admin/comptes", get(accounts::list).post(accounts::create))
        .route("/admin/courriels", get(outbox::list))
        .route("/admin/courriels/reessayer", post(outbox::retry_now))
        .route("/deconnexion", post(session::logout))
        .route(
            "/contrats/nouveau",
            get(edit::import_form).post(edit::import),
        )
        .merge(geo_routes())
        .merge(funding::routes())
        .route("/contrats/{slug}", get(contract::show))
        .route("/contrats/{slug}/export.json", get(contract::export))
        .route("/contrats/{slug}/avenants", get(contract::amendments))
        .route(
            "/contrats/{slug}/modifier",
            get(edit::info_form).post(edit::info_save),
        )
        .route(
            "/contrats/{slug}/supprimer",
            get(edit::contract_delete_form).post(edit::contract_delete),
        )
        .route(
            "/contrats/{slug}/cadre/nouveau",
            get(edit::node_new_form).post(edit::node_create),
        )
        .route("/contrats/{slug}/cadre/{key}", get(contract::node))
        .route(
            "/contrats/{slug}/cadre/{key}/modifier",
            get(edit::node_edit_form).post(edit::node_save),
        )
        .route(
            "/contrats/{slug}/cadre/{key}/deplacer",
            post(edit::node_move),
        )
        .route(
            "/contrats/{slug}/cadre/{key}/supprimer",
            get(edit::node_delete_form).post(edit::node_delete),
        )
        .route(
            "/contrats/{slug}/volet-local/{insee}",
            get(contract::local_volet),
        )
        .route(
            "/contrats/{slug}/{collection}/nouveau",
            get(edit::item_new_form).post(edit::item_create),
        )
        .route(
            "/contrats/{slug}/{collection}/{index}/modifier",
            get(edit::item_edit_form).post(edit::item_save),
        )
        .route(
            "/contrats/{slug}/{collection}/{index}/deplacer",
            post(edit::item_move),
        )
        .route(
            "/contrats/{slug}/{collection}/{index}/supprimer",
            get(edit::item_delete_form).post(edit::item_delete),
        )
}

fn geo_routes() -> Router<AppState> {
    use axum::extract::DefaultBodyLimit;
    Router::new()
        .route("/quartiers-prioritaires", get(geo::list))
        .route(
            "/quartiers-prioritaires/registre.geojson",
            get(geo::download_geojson),
        )
        .route(
            "/quartiers-prioritaires/registre.csv",
            get(geo::download_csv),
        )
        .route(
            "/quartiers-prioritaires/suis-je-dans-un-qpv",
            get(geo::am_i_in_a_qpv),
        )
        .route(
            "/quartiers-prioritaires/localiser-un-fichier",
            get(geo::batch_form_page)
                .post(geo::batch_submit)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/quartiers-prioritaires/perimetres/importer",
            get(geo::perimeter_import_form)
                .post(geo::perimeter_import)
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/quartiers-prioritaires/{code}", get(geo::show))
        .route("/contrats/{slug}/carte", get(geo::contract_map))
}

/// The 404 page for unknown routes.
pub async fn not_found(_visitor: Visitor) -> impl IntoResponse {
    Error::NotFound
}
