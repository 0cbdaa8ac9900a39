//! `TestApp`: a fresh database per test (a temporary SQLite file, or a new PostgreSQL
//! database), the platform served on a real listener, and helpers to sign in and submit forms.

use quartiers_domain::Role;
use quartiers_store::Store;
use quartiers_web::auth::{hash_password, Password};
use rand::Rng;
use std::collections::HashMap;

/// The test password of every account.
pub const PASSWORD: &str = "une phrase de passe de test";

/// Which engine a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A running platform on a fresh database.
pub struct TestApp {
    pub address: String,
    pub store: Store,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
}

/// Runs a scenario on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, $body:path) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Engine::Sqlite).await.expect("sqlite app");
                $body(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                match $crate::helpers::TestApp::spawn($crate::helpers::Engine::Postgres).await {
                    Some(app) => $body(app).await,
                    None => eprintln!("PostgreSQL non configuré (QUARTIERS_TEST_POSTGRES_URL) : scénario joué sur SQLite seulement"),
                }
            }
        }
    };
}

/// The PostgreSQL server for tests, if configured. In CI it must be.
pub fn postgres_base_url() -> Option<String> {
    let url = std::env::var("QUARTIERS_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() && std::env::var("CI").is_ok() {
        panic!("CI must set QUARTIERS_TEST_POSTGRES_URL so that every scenario also runs on PostgreSQL");
    }
    url
}

impl TestApp {
    /// The configuration of [`TestApp::spawn`]: defaults, with a test institution name.
    pub fn test_config() -> quartiers_web::Config {
        quartiers_web::Config {
            institution_name: "Métropole de test".into(),
            ..Default::default()
        }
    }

    /// A fresh database on `engine` and the platform on a random port; `None` when PostgreSQL is not configured.
    pub async fn spawn(engine: Engine) -> Option<Self> {
        Self::spawn_with_config(engine, Self::test_config()).await
    }

    /// Like [`TestApp::spawn`], with the platform running on `config` (start from
    /// [`TestApp::test_config`]).
    pub async fn spawn_with_config(engine: Engine, config: quartiers_web::Config) -> Option<Self> {
        let (database_url, dir) = match engine {
            Engine::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                (
                    dir.path().join("quartiers.db").display().to_string(),
                    Some(dir),
                )
            }
            Engine::Postgres => {
                let base = postgres_base_url()?;
                let name = format!("quartiers_t_{:016x}", rand::thread_rng().gen::<u64>());
                let admin = Store::connect(&base)
                    .await
                    .expect("connect to the test PostgreSQL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(admin.pool())
                    .await
                    .expect("create test database");
                admin.close().await;
                let (prefix, _) = base
                    .rsplit_once('/')
                    .expect("database URL with a database name");
                (format!("{prefix}/{name}"), None)
            }
        };
        let store = Store::open(&database_url).await.expect("open store");
        let app = quartiers_web::app(store.clone(), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
        Some(Self {
            address,
            store,
            database_url,
            _dir: dir,
        })
    }

    /// Loads the three demonstration contracts through the public import path.
    pub async fn with_demo(self) -> Self {
        let loaded = quartiers_web::changes::load_demo(&self.store)
            .await
            .expect("demo data loads");
        assert_eq!(loaded.len(), 3);
        self
    }

    /// Creates an account with a role on a contract (or admin when `role` is `None` and `admin`).
    pub async fn user(&self, email: &str, role: Option<(Role, &str)>, admin: bool) {
        let hash = hash_password(&Password(PASSWORD.into())).unwrap();
        let id = self
            .store
            .create_user(email, None, &hash, admin)
            .await
            .unwrap();
        if let Some((role, slug)) = role {
            let c = self.store.contract(slug).await.unwrap();
            self.store.grant_role(id, c.id, role, None).await.unwrap();
        }
    }

    /// An anonymous browser-like client (cookies kept, redirects not followed).
    pub fn client(&self) -> Client {
        Client {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.address.clone(),
        }
    }

    /// A client signed in as `email`.
    pub async fn signed_in(&self, email: &str) -> Client {
        let c = self.client();
        let page = c.get("/connexion").await;
        let token = csrf_of(&page.text);
        let r = c
            .post_form(
                "/connexion",
                &[
                    ("email", email),
                    ("password", PASSWORD),
                    ("csrf", &token),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "login of {email} failed: {}", r.text);
        c
    }

    /// The current document and version of a contract.
    pub async fn contract(&self, slug: &str) -> quartiers_store::contracts::StoredContract {
        self.store.contract(slug).await.unwrap()
    }
}

/// A response read whole.
pub struct Page {
    pub status: u16,
    pub text: String,
    pub location: Option<String>,
    pub content_type: String,
}

/// A client with its cookies.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

async fn read(r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    Page {
        status,
        text: r.text().await.unwrap(),
        location,
        content_type,
    }
}

impl Client {
    pub async fn get(&self, path: &str) -> Page {
        read(
            self.http
                .get(format!("{}{path}", self.base))
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        read(
            self.http
                .post(format!("{}{path}", self.base))
                .form(fields)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    /// Opens the form page at `form_path`, keeps its hidden fields (csrf, version), overrides
    /// `fields`, and posts it to `action` (the form's own action when `None`).
    pub async fn submit(
        &self,
        form_path: &str,
        action: Option<&str>,
        fields: &[(&str, &str)],
    ) -> Page {
        let page = self.get(form_path).await;
        assert_eq!(page.status, 200, "GET {form_path}: {}", page.text);
        let mut values = form_values(&page.text);
        for (k, v) in fields {
            values.insert(k.to_string(), v.to_string());
        }
        let action = action
            .map(str::to_string)
            .unwrap_or_else(|| form_action(&page.text));
        let pairs: Vec<(String, String)> = values.into_iter().collect();
        read(
            self.http
                .post(format!("{}{action}", self.base))
                .form(&pairs)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
    pub async fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut rb = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base));
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        read(rb.send().await.unwrap()).await
    }
}

/// The CSRF token of the first form of a page.
pub fn csrf_of(html: &str) -> String {
    form_values(html).remove("csrf").unwrap_or_default()
}

/// The values of the inputs, textareas and selected options of the main form of a page
/// (the last form that has a csrf field and is not the logout form).
pub fn form_values(html: &str) -> HashMap<String, String> {
    let doc = scraper::Html::parse_document(html);
    let form_sel = scraper::Selector::parse("main form[method=post]").unwrap();
    let input_sel = scraper::Selector::parse("input[name], textarea[name], select[name]").unwrap();
    let option_sel = scraper::Selector::parse("option[selected]").unwrap();
    let mut out = HashMap::new();
    let Some(form) = doc.select(&form_sel).next_back() else {
        return out;
    };
    for el in form.select(&input_sel) {
        let name = el.value().attr("name").unwrap().to_string();
        let value = match el.value().name() {
            "textarea" => el.text().collect::<String>(),
            "select" => el
                .select(&option_sel)
                .filter_map(|o| o.value().attr("value"))
                .collect::<Vec<_>>()
                .join("\n"),
            _ => el.value().attr("value").unwrap_or("").to_string(),
        };
        out.insert(name, value);
    }
    out
}

/// The action of the main form of a page.
pub fn form_action(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let form_sel = scraper::Selector::parse("main form[method=post]").unwrap();
    doc.select(&form_sel)
        .next_back()
        .and_then(|f| f.value().attr("action"))
        .unwrap_or("")
        .to_string()
}

/// The signed-in client's CSRF token, read from the sign-out form of any page.
pub async fn session_csrf(c: &Client) -> String {
    let page = c.get("/").await;
    let doc = scraper::Html::parse_document(&page.text);
    let sel = scraper::Selector::parse("input[name=csrf]").unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .unwrap_or("")
        .to_string()
}

impl Client {
    /// Sends `body` verbatim (even when it is not valid JSON) to the API, with `content_type`.
    pub async fn api_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut rb = self
            .http
            .request(method, format!("{}/api/v1{path}", self.base))
            .header("content-type", content_type)
            .body(body.to_string());
        for (k, v) in headers {
            rb = rb.header(*k, *v);
        }
        read(rb.send().await.unwrap()).await
    }
}
