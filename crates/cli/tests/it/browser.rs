//! End to end in a real headless Chromium: a pilot signs in, edits an ambition of the MEL
//! contract, and sees the change and its amendment entry. Also the browser helpers shared by
//! the other end-to-end tests.

use crate::helpers::{Engine, TestApp};
use chromiumoxide::browser::{Browser, BrowserConfig};
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use futures::StreamExt;
use quartiers_domain::Role;

fn chromium_path() -> Option<std::path::PathBuf> {
    let candidates = [
        std::env::var("CHROMIUM").unwrap_or_default(),
        "/usr/bin/chromium".into(),
        "/usr/bin/chromium-browser".into(),
    ];
    candidates
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
}

/// A headless Chromium with a fresh profile, started with the flags this workplace needs.
pub struct Headless {
    pub browser: Browser,
    events: tokio::task::JoinHandle<()>,
    _profile: tempfile::TempDir,
}

impl Headless {
    /// Starts Chromium; `None` (with a notice) when it is not installed, unless
    /// `QUARTIERS_E2E` demands it.
    pub async fn launch() -> Option<Self> {
        let Some(chromium) = chromium_path() else {
            assert!(
                std::env::var("QUARTIERS_E2E").is_err(),
                "QUARTIERS_E2E is set but Chromium is missing"
            );
            eprintln!(
                "Chromium absent : test de bout en bout non joué (installez le paquet chromium)"
            );
            return None;
        };
        let profile = tempfile::tempdir().unwrap();
        let config = BrowserConfig::builder()
            .chrome_executable(chromium)
            .user_data_dir(profile.path())
            .no_sandbox()
            .args([
                "--headless",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .build()
            .unwrap();
        let (browser, mut handler) = Browser::launch(config).await.expect("launch chromium");
        let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Some(Self {
            browser,
            events,
            _profile: profile,
        })
    }

    /// Closes the browser.
    pub async fn close(mut self) {
        self.browser.close().await.unwrap();
        let _ = self.browser.wait().await;
        self.events.abort();
    }
}

/// A headless Chromium and the platform on SQLite with the demonstration contracts; `None`
/// when Chromium is absent (see [`Headless::launch`]).
pub async fn browser_and_demo() -> Option<(Headless, TestApp)> {
    let headless = Headless::launch().await?;
    let app = TestApp::spawn(Engine::Sqlite)
        .await
        .unwrap()
        .with_demo()
        .await;
    Some((headless, app))
}

/// Waits until the page's HTML satisfies `ok` (navigation events can be missed when a form
/// posts and redirects).
pub async fn wait_for(page: &chromiumoxide::Page, what: &str, ok: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        if let Ok(html) = page.content().await {
            if ok(&html) {
                return html;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{what}: {}", page.content().await.unwrap_or_default());
}

/// Signs `email` in (with the test password) through the sign-in form, on `page`.
pub async fn sign_in(page: &chromiumoxide::Page, address: &str, email: &str) {
    page.goto(format!("{address}/connexion")).await.unwrap();
    wait_for(page, "sign-in form", |h| h.contains("id=\"password\"")).await;
    page.find_element("#email")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(email)
        .await
        .unwrap();
    page.find_element("#password")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str(crate::helpers::PASSWORD)
        .await
        .unwrap();
    page.find_element("main button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(page, "signed in", |h| h.contains("Se déconnecter")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pilot_edits_an_ambition_in_a_real_browser() {
    let Some((headless, app)) = browser_and_demo().await else {
        return;
    };
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;

    let browser = &headless.browser;
    let page = browser.new_page("about:blank").await.unwrap();
    sign_in(&page, &app.address, "pilote@mel.fr").await;

    page.goto(format!(
        "{}/contrats/mel-2024/cadre/e4-a3/modifier",
        app.address
    ))
    .await
    .unwrap();
    wait_for(&page, "edit form", |h| h.contains("f-title")).await;
    let new_title = "améliorer la propreté et la tranquillité des quartiers prioritaires";
    page.evaluate("document.querySelector('#f-title').value = ''")
        .await
        .unwrap();
    page.find_element("#f-title")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // Typed as a keyboard would insert it (accented letters have no key code of their own).
    page.execute(InsertTextParams::new(new_title))
        .await
        .unwrap();
    page.find_element("#reason")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("Avenant de test")
        .await
        .unwrap();
    page.find_element("main form button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&page, "node page with the new title", |h| {
        h.contains(new_title) && !h.contains("f-title")
    })
    .await;
    let url = page.url().await.unwrap().unwrap_or_default();
    assert!(url.ends_with("/contrats/mel-2024/cadre/e4-a3"), "{url}");

    page.goto(format!("{}/contrats/mel-2024/avenants", app.address))
        .await
        .unwrap();
    let history = wait_for(&page, "history", |h| h.contains("Historique des avenants")).await;
    assert!(
        history.contains(&format!("Modification — ambition « {new_title} »")),
        "the amendment is listed"
    );
    assert!(history.contains("Avenant de test"));

    headless.close().await;
    assert_eq!(
        app.store
            .contract("mel-2024")
            .await
            .unwrap()
            .document
            .find_node("e4-a3")
            .unwrap()
            .0
            .title,
        new_title
    );
}
