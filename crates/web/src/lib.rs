//! Quartiers web platform: the French pages (server-rendered, DSFR), the JSON API under
//! `/api/v1` with its OpenAPI document, and the session and CSRF machinery they share.

pub mod accounts;
pub mod api;
pub mod assets;
pub mod auth;
pub mod changes;
pub mod error;
pub mod geo;
pub mod layout;
pub mod pages;

use axum::Router;
use quartiers_store::Store;
use std::sync::Arc;

/// Settings of a running platform.
#[derive(Debug, Clone)]
pub struct Config {
    /// Name shown in the header (the institution operating the platform).
    pub institution_name: String,
    /// Show the Marianne block "République française": only for State services.
    pub state_service: bool,
    /// Mark cookies `Secure` (on behind HTTPS; off for plain-HTTP local use and tests).
    pub secure_cookies: bool,
    /// Map tile URL template (`https://…/{z}/{x}/{y}.png`); `None`: maps are drawn on a
    /// blank background, without any tile server.
    pub tile_url: Option<String>,
    /// Distance to a perimeter boundary under which an answer is `à vérifier`, in metres.
    pub boundary_tolerance_m: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            institution_name: "Quartiers".into(),
            state_service: false,
            secure_cookies: false,
            tile_url: None,
            boundary_tolerance_m: geo::DEFAULT_TOLERANCE_M,
        }
    }
}

/// Shared state of the handlers.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Storage.
    pub store: Store,
    /// Settings.
    pub config: Arc<Config>,
    /// Priority geography: the in-memory index of the perimeter registry.
    pub geo: Arc<geo::GeoService>,
}

/// The whole application: pages, API, assets, with tracing and a body-size limit.
pub fn app(store: Store, config: Config) -> Router {
    let state = AppState {
        geo: Arc::new(geo::GeoService::new(
            store.clone(),
            config.boundary_tolerance_m,
        )),
        store,
        config: Arc::new(config),
    };
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .merge(assets::routes())
        .fallback(pages::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
