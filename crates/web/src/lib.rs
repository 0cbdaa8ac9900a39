//! Quartiers web platform: the French pages (server-rendered, DSFR), the JSON API under
//! `/api/v1` with its OpenAPI document, and the session and CSRF machinery they share.

// Amounts in cents are written euros_cents: `100_00` is 100 €.
#![allow(clippy::inconsistent_digit_grouping)]

pub mod accounts;
pub mod api;
pub mod assets;
pub mod auth;
pub mod changes;
pub mod error;
pub mod funding;
pub mod geo;
pub mod layout;
pub mod mail;
pub mod pages;
pub mod reminders;
pub mod upload;

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
    /// Largest file accepted by an upload (the batch locate page, the perimeter import
    /// page, `POST /api/v1/locate/batch`), in bytes. Uploads are streamed to disk and
    /// refused with a French message (HTTP 413) as soon as they exceed it; nothing of a
    /// refused upload is kept. Default [`DEFAULT_MAX_UPLOAD_BYTES`] (1 Gio).
    pub max_upload_bytes: u64,
    /// Folder of the temporary files of uploads and batch results (deleted after each
    /// request). `None`: the system's temporary folder.
    pub upload_dir: Option<std::path::PathBuf>,
    /// How notifications leave the platform (SMTP, or kept in the outbox).
    pub mail: mail::MailSettings,
}

/// A size in bytes in French units (binary multiples, as file managers show them):
/// `1 Go`, `1,5 Go`, `512 Mo`, `64 Ko`, `100 octets`.
pub fn size_fr(bytes: u64) -> String {
    const K: u64 = 1024;
    let (unit, name) = if bytes >= K * K * K {
        (K * K * K, "Go")
    } else if bytes >= K * K {
        (K * K, "Mo")
    } else if bytes >= K {
        (K, "Ko")
    } else {
        return format!("{bytes} octets");
    };
    let v = bytes as f64 / unit as f64;
    let text = if bytes.is_multiple_of(unit) {
        format!("{}", bytes / unit)
    } else {
        format!("{v:.1}").replace('.', ",")
    };
    format!("{text} {name}")
}

/// Default upload limit: 1 Gio (a 2 Go file is refused with a clear message; the
/// command line `quartiers locate` has no limit).
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 1 << 30;

impl Config {
    /// The upload limit as shown in messages (`1 Go`, `512 Mo`, `64 Ko`).
    pub fn max_upload_fr(&self) -> String {
        size_fr(self.max_upload_bytes)
    }

    /// A new temporary file for an upload or a result, in [`Config::upload_dir`].
    pub fn temp_file(&self) -> std::io::Result<tempfile::NamedTempFile> {
        match &self.upload_dir {
            Some(d) => tempfile::NamedTempFile::new_in(d),
            None => tempfile::NamedTempFile::new(),
        }
    }

    /// A new temporary folder (several files of one upload), in [`Config::upload_dir`].
    pub fn temp_dir(&self) -> std::io::Result<tempfile::TempDir> {
        match &self.upload_dir {
            Some(d) => tempfile::tempdir_in(d),
            None => tempfile::tempdir(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            institution_name: "Quartiers".into(),
            state_service: false,
            secure_cookies: false,
            tile_url: None,
            boundary_tolerance_m: geo::DEFAULT_TOLERANCE_M,
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            upload_dir: None,
            mail: mail::MailSettings::default(),
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

impl AppState {
    /// The state of a platform over `store`; the geography index is built at the first
    /// request, or beforehand with [`geo::GeoService::build_now`].
    pub fn new(store: Store, config: Config) -> AppState {
        AppState {
            geo: Arc::new(geo::GeoService::new(
                store.clone(),
                config.boundary_tolerance_m,
            )),
            store,
            config: Arc::new(config),
        }
    }
}

/// The whole application: pages, API, assets, with tracing and a body-size limit. The
/// geography index is built at the first request that needs it: `serve` uses
/// [`app_ready`] instead.
pub fn app(store: Store, config: Config) -> Router {
    router(AppState::new(store, config))
}

/// The application with the geography index already built (and its build time logged), so
/// that the first request is answered at full speed: what `serve` runs before listening.
pub async fn app_ready(store: Store, config: Config) -> quartiers_store::StoreResult<Router> {
    let state = AppState::new(store, config);
    state.geo.build_now().await?;
    Ok(router(state))
}

/// The routes over a prepared state.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(pages::routes())
        .nest("/api/v1", api::routes())
        .merge(assets::routes())
        .fallback(pages::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(8 * 1024 * 1024))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
