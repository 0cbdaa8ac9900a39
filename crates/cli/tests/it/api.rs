//! The JSON API under `/api/v1`, through HTTP: roles and CSRF on every write, French problem
//! documents for bad input (with nothing written), the amendment history, the export → import
//! round trip and the OpenAPI document.

use crate::both_engines;
use crate::helpers::{session_csrf, Client, Page, TestApp, PASSWORD};
use quartiers_domain::Role;
use reqwest::Method;
use serde_json::{json, Value};

const MEL: &str = "mel-2024";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The JSON body of a response.
fn body(r: &Page) -> Value {
    serde_json::from_str(&r.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text))
}

/// Checks that `r` is an `application/problem+json` document with `status`, and returns it.
fn problem(r: &Page, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
    let p = body(r);
    assert_eq!(p["status"], status, "{p}");
    assert!(p["title"].as_str().is_some_and(|t| !t.is_empty()), "{p}");
    p
}

/// The kind of a problem (`/api/v1/problems/KIND`).
fn kind(p: &Value) -> &str {
    p["type"]
        .as_str()
        .and_then(|t| t.strip_prefix("/api/v1/problems/"))
        .unwrap_or_else(|| panic!("no problem type in {p}"))
}

/// The French message a problem gives for `field`, if any.
fn field_message_if_any<'a>(p: &'a Value, field: &str) -> Option<&'a str> {
    p["errors"]
        .as_array()
        .and_then(|errors| errors.iter().find(|e| e["field"] == field))
        .and_then(|e| e["message"].as_str())
}

/// The French message a problem gives for `field`.
fn field_message<'a>(p: &'a Value, field: &str) -> &'a str {
    field_message_if_any(p, field)
        .unwrap_or_else(|| panic!("no error on the field « {field} » in {p}"))
}

/// The detail of a problem.
fn detail(p: &Value) -> &str {
    p["detail"]
        .as_str()
        .unwrap_or_else(|| panic!("no detail in {p}"))
}

/// Signs in through the API and returns the bearer token.
async fn api_token(app: &TestApp, email: &str) -> String {
    let r = app
        .client()
        .api(
            Method::POST,
            "/session",
            Some(json!({ "email": email, "password": PASSWORD })),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "API sign-in of {email}: {}", r.text);
    let session = body(&r);
    assert_eq!(session["expires_in"], 12 * 3600, "{session}");
    assert!(session["csrf"].as_str().is_some_and(|c| !c.is_empty()));
    session["token"].as_str().expect("token").to_string()
}

/// An API client: anonymous, or with a bearer token.
struct Caller {
    client: Client,
    authorization: Option<String>,
}

impl Caller {
    fn anonymous(app: &TestApp) -> Self {
        Self {
            client: app.client(),
            authorization: None,
        }
    }

    fn with_token(app: &TestApp, token: &str) -> Self {
        Self {
            client: app.client(),
            authorization: Some(format!("Bearer {token}")),
        }
    }

    async fn bearer(app: &TestApp, email: &str) -> Self {
        Self::with_token(app, &api_token(app, email).await)
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Page {
        let headers: Vec<(&str, &str)> = self
            .authorization
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        self.client.api(method, path, body, &headers).await
    }

    async fn send_raw(&self, method: Method, path: &str, content_type: &str, text: &str) -> Page {
        let headers: Vec<(&str, &str)> = self
            .authorization
            .iter()
            .map(|a| ("authorization", a.as_str()))
            .collect();
        self.client
            .api_raw(method, path, content_type, text, &headers)
            .await
    }

    async fn write(&self, w: &Write) -> Page {
        self.send(w.method.clone(), &w.path, w.body.clone()).await
    }

    /// GET `path`, expecting 200 and JSON.
    async fn get(&self, path: &str) -> Value {
        let r = self.send(Method::GET, path, None).await;
        assert_eq!(r.status, 200, "GET {path}: {}", r.text);
        body(&r)
    }
}

/// One write of the API.
#[derive(Debug, Clone)]
struct Write {
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Write {
    fn new(method: Method, path: impl Into<String>, body: Option<Value>) -> Self {
        Self {
            method,
            path: path.into(),
            body,
        }
    }

    /// 201 for additions, 200 for other successful changes.
    fn success_status(&self) -> u16 {
        if self.method == Method::POST && !self.path.ends_with("/move") {
            201
        } else {
            200
        }
    }
}

impl std::fmt::Display for Write {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

/// The document of a contract as the API gives it (a JSON value).
async fn document(app: &TestApp, slug: &str) -> Value {
    serde_json::from_str(&app.contract(slug).await.document.to_json()).unwrap()
}

/// The framework node `key` of a document value, searched through the whole tree.
fn node<'a>(doc: &'a Value, key: &str) -> Option<&'a Value> {
    fn go<'a>(nodes: &'a Value, key: &str) -> Option<&'a Value> {
        nodes.as_array()?.iter().find_map(|n| {
            if n["key"] == key {
                Some(n)
            } else {
                go(&n["children"], key)
            }
        })
    }
    go(&doc["contract"]["framework"], key)
}

/// A component of the contract (an item of `components`).
fn component(name: &str, start_year: i32, end_year: i32) -> Value {
    json!({ "name": name, "period": { "start_year": start_year, "end_year": end_year } })
}

/// `item` with one more field.
fn with(mut item: Value, field: &str, value: Value) -> Value {
    item[field] = value;
    item
}

/// Every write a pilot of mel-2024 may make, built on the contract's current version.
async fn contract_edits(app: &TestApp) -> Vec<Write> {
    let stored = app.contract(MEL).await;
    let v = stored.version;
    let mut doc = document(app, MEL).await;
    doc["contract"]["summary"] = json!(format!("Présentation revue (version {v})"));
    let last_node = stored.document.contract.framework[5]
        .children
        .last()
        .expect("enjeu 6 has ambitions")
        .key
        .clone();
    let last_component = stored.document.contract.components.len() - 1;
    let c = format!("/contracts/{MEL}");
    vec![
        Write::new(
            Method::PUT,
            &c,
            Some(json!({ "version": v, "document": doc, "reason": "Relecture" })),
        ),
        Write::new(
            Method::POST,
            format!("{c}/framework"),
            Some(
                json!({ "version": v, "parent": "e1", "title": "Nouvelle ambition", "partners": ["État"] }),
            ),
        ),
        Write::new(
            Method::PUT,
            format!("{c}/framework/e1-a1"),
            Some(json!({ "version": v, "title": format!("Ambition modifiée (version {v})") })),
        ),
        Write::new(
            Method::POST,
            format!("{c}/framework/e1-a1/move"),
            Some(json!({ "version": v, "direction": "down" })),
        ),
        Write::new(
            Method::DELETE,
            format!("{c}/framework/{last_node}?version={v}"),
            None,
        ),
        Write::new(
            Method::POST,
            format!("{c}/key_figures"),
            Some(
                json!({ "version": v, "item": { "label": "Actions financées", "value": "612", "year": 2024 } }),
            ),
        ),
        Write::new(
            Method::PUT,
            format!("{c}/key_figures/0"),
            Some(
                json!({ "version": v, "item": { "label": "QPV", "value": format!("26 (version {v})") } }),
            ),
        ),
        Write::new(
            Method::POST,
            format!("{c}/key_figures/0/move"),
            Some(json!({ "version": v, "direction": "down" })),
        ),
        Write::new(
            Method::DELETE,
            format!("{c}/key_figures/0?version={v}"),
            None,
        ),
        Write::new(
            Method::POST,
            format!("{c}/components"),
            Some(
                json!({ "version": v, "item": component("Programme de réussite éducative", 2024, 2027) }),
            ),
        ),
        Write::new(
            Method::PUT,
            format!("{c}/components/{last_component}"),
            Some(json!({
                "version": v,
                "item": with(
                    component("Programme de réussite éducative (révisé)", 2024, 2028),
                    "annual_budget_cents",
                    json!(150_000_000),
                ),
            })),
        ),
        Write::new(
            Method::POST,
            format!("{c}/components/0/move"),
            Some(json!({ "version": v, "direction": "down" })),
        ),
        Write::new(
            Method::DELETE,
            format!("{c}/components/{last_component}?version={v}"),
            None,
        ),
    ]
}

/// The import of a copy of mel-2024 under `slug`.
async fn import_copy(app: &TestApp, slug: &str) -> Write {
    let mut doc = document(app, MEL).await;
    doc["contract"]["slug"] = json!(slug);
    Write::new(Method::POST, "/contracts", Some(doc))
}

/// The accounts of the role scenarios.
async fn people(app: &TestApp) {
    app.user("admin@quartiers.fr", None, true).await;
    app.user("pilote@mel.fr", Some((Role::Pilote, MEL)), false)
        .await;
    app.user("pilote@call.fr", Some((Role::Pilote, "call-2024")), false)
        .await;
    app.user("financeur@mel.fr", Some((Role::Financeur, MEL)), false)
        .await;
    app.user("porteur@mel.fr", Some((Role::Porteur, MEL)), false)
        .await;
    app.user("lecteur@mel.fr", Some((Role::Lecteur, MEL)), false)
        .await;
}

/// Sends `w` and checks it is refused with `status` (a problem of `kind`), leaving mel-2024 untouched.
async fn refused(app: &TestApp, who: &Caller, w: &Write, status: u16, problem_kind: &str) -> Value {
    let before = app.contract(MEL).await;
    let p = problem(&who.write(w).await, status);
    assert_eq!(kind(&p), problem_kind, "{w}: {p}");
    let after = app.contract(MEL).await;
    assert_eq!(after.version, before.version, "{w} changed the version");
    assert!(
        after.document == before.document,
        "{w} changed the document"
    );
    p
}

/// Sends `w`, expecting success, and checks it recorded exactly one amendment on mel-2024.
async fn accepted(app: &TestApp, who: &Caller, w: &Write) -> Value {
    let before = app.contract(MEL).await.version;
    let r = who.write(w).await;
    assert_eq!(r.status, w.success_status(), "{w}: {}", r.text);
    let answer = body(&r);
    let after = app.contract(MEL).await.version;
    assert_eq!(after, before + 1, "{w} is one amendment");
    assert_eq!(answer["version"], after, "{w} returns the new version");
    answer
}

// ---------------------------------------------------------------------------------------------
// 1. Roles on every write
// ---------------------------------------------------------------------------------------------

async fn api_writes_by_role(app: TestApp) {
    let app = app.with_demo().await;
    people(&app).await;
    let edits = contract_edits(&app).await.len();
    let delete_valenciennes = Write::new(Method::DELETE, "/contracts/valenciennes-2015", None);
    let reader = Caller::anonymous(&app);

    // Anonymous, or with a token that is no session: 401 everywhere.
    for who in [
        Caller::anonymous(&app),
        Caller::with_token(&app, "jeton-inconnu"),
    ] {
        for i in 0..edits {
            let w = contract_edits(&app).await.swap_remove(i);
            let p = refused(&app, &who, &w, 401, "unauthorized").await;
            assert_eq!(detail(&p), "Connectez-vous pour effectuer cette action.");
        }
        refused(
            &app,
            &who,
            &import_copy(&app, "mel-2024-copie").await,
            401,
            "unauthorized",
        )
        .await;
        refused(&app, &who, &delete_valenciennes, 401, "unauthorized").await;
    }

    // Members of the contract who are not its pilot, and the pilot of another contract: 403.
    for email in [
        "lecteur@mel.fr",
        "financeur@mel.fr",
        "porteur@mel.fr",
        "pilote@call.fr",
    ] {
        let who = Caller::bearer(&app, email).await;
        for i in 0..edits {
            let w = contract_edits(&app).await.swap_remove(i);
            let p = refused(&app, &who, &w, 403, "forbidden").await;
            assert_eq!(
                detail(&p),
                "Votre compte n'a pas les droits nécessaires pour cette action.",
                "{email} {w}"
            );
        }
        refused(
            &app,
            &who,
            &import_copy(&app, "mel-2024-copie").await,
            403,
            "forbidden",
        )
        .await;
        refused(&app, &who, &delete_valenciennes, 403, "forbidden").await;
    }
    let p = problem(
        &reader
            .send(Method::GET, "/contracts/mel-2024-copie", None)
            .await,
        404,
    );
    assert_eq!(kind(&p), "not-found");
    assert_eq!(
        reader.get("/contracts/valenciennes-2015").await["document"]["contract"]["slug"],
        "valenciennes-2015"
    );

    // The contract's pilot and the administrators edit the contract.
    let start = app.contract(MEL).await.version;
    for email in ["pilote@mel.fr", "admin@quartiers.fr"] {
        let who = Caller::bearer(&app, email).await;
        for i in 0..edits {
            let w = contract_edits(&app).await.swap_remove(i);
            let answer = accepted(&app, &who, &w).await;
            if w.path.ends_with("/framework") {
                assert!(
                    answer["key"].as_str().is_some_and(|k| k.starts_with("e1-")),
                    "{answer}"
                );
            }
        }
        let history = reader.get("/contracts/mel-2024/amendments").await;
        assert_eq!(
            history[0]["author_label"], "un membre de l'équipe du contrat",
            "emails are not public"
        );
        let signed_in = Caller::bearer(&app, "lecteur@mel.fr").await;
        let history = signed_in.get("/contracts/mel-2024/amendments").await;
        assert_eq!(history[0]["author_label"], email, "{}", history[0]);
    }
    assert_eq!(
        app.contract(MEL).await.version,
        start + 2 * edits as i64,
        "every accepted write is one amendment"
    );
    let doc = reader.get("/contracts/mel-2024").await["document"].clone();
    for key in ["e1-1", "e1-2"] {
        let added = node(&doc, key).unwrap_or_else(|| panic!("{key} added"));
        assert_eq!(added["title"], "Nouvelle ambition");
        assert_eq!(added["partners"], json!(["État"]));
    }
    // The administrator's rename is the third write of the second round.
    assert_eq!(
        node(&doc, "e1-a1").unwrap()["title"],
        format!("Ambition modifiée (version {})", start + edits as i64 + 2)
    );
    let e6: Vec<&str> = node(&doc, "e6").unwrap()["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        e6,
        ["e6-a1", "e6-a2"],
        "the last ambition of enjeu 6 removed twice"
    );
    let components = reader.get("/contracts/mel-2024/components").await;
    let names: Vec<&str> = components
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["Contrat de ville", "Pacte local des solidarités"],
        "each added component was revised then removed, the first two swapped twice"
    );
    let figures = reader.get("/contracts/mel-2024/key_figures").await;
    let labels: Vec<&str> = figures
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["label"].as_str().unwrap())
        .collect();
    assert_eq!(labels.len(), 19, "two added, two removed");
    assert_eq!(
        labels.iter().filter(|l| **l == "Actions financées").count(),
        2
    );

    // Only administrators import and delete whole contracts, even the pilot's own.
    let pilot = Caller::bearer(&app, "pilote@mel.fr").await;
    refused(
        &app,
        &pilot,
        &import_copy(&app, "mel-2024-copie").await,
        403,
        "forbidden",
    )
    .await;
    refused(
        &app,
        &pilot,
        &Write::new(Method::DELETE, "/contracts/mel-2024", None),
        403,
        "forbidden",
    )
    .await;
    refused(&app, &pilot, &delete_valenciennes, 403, "forbidden").await;

    let admin = Caller::bearer(&app, "admin@quartiers.fr").await;
    let r = admin
        .write(&import_copy(&app, "mel-2024-copie").await)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(
        r.location.as_deref(),
        Some("/api/v1/contracts/mel-2024-copie")
    );
    let created = body(&r);
    assert_eq!(created["slug"], "mel-2024-copie");
    assert_eq!(
        created["id"],
        app.contract("mel-2024-copie").await.id,
        "{created}"
    );
    let r = admin.write(&delete_valenciennes).await;
    assert_eq!((r.status, r.text.as_str()), (204, ""));
    problem(
        &reader
            .send(Method::GET, "/contracts/valenciennes-2015", None)
            .await,
        404,
    );
    let list = reader.get("/contracts").await;
    let mut slugs: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    slugs.sort_unstable();
    assert_eq!(slugs, ["call-2024", "mel-2024", "mel-2024-copie"]);
}
both_engines!(api_roles, api_writes_by_role);

// ---------------------------------------------------------------------------------------------
// 2. CSRF
// ---------------------------------------------------------------------------------------------

async fn cookie_sessions_need_the_csrf_header(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, MEL)), false)
        .await;
    let browser = app.signed_in("pilote@mel.fr").await;
    let csrf = session_csrf(&browser).await;
    assert!(!csrf.is_empty(), "the pages give the session's CSRF token");
    let other_session_csrf = body(
        &app.client()
            .api(
                Method::POST,
                "/session",
                Some(json!({ "email": "pilote@mel.fr", "password": PASSWORD })),
                &[],
            )
            .await,
    )["csrf"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(other_session_csrf, csrf);
    let path = "/contracts/mel-2024/framework/e1-a1";
    let rename = |version: i64, title: &str| Some(json!({ "version": version, "title": title }));
    let title = |doc: &Value| node(doc, "e1-a1").unwrap()["title"].clone();

    let before = app.contract(MEL).await.version;
    for header in [
        None,
        Some(""),
        Some("faux"),
        Some(other_session_csrf.as_str()),
    ] {
        let headers: Vec<(&str, &str)> = header.map(|h| ("X-CSRF-Token", h)).into_iter().collect();
        let r = browser
            .api(Method::PUT, path, rename(before, "Piratée"), &headers)
            .await;
        let p = problem(&r, 403);
        assert_eq!(kind(&p), "csrf", "header {header:?}");
        assert!(detail(&p).contains("ne provient pas de ce site"), "{p}");
        let r = browser
            .api(
                Method::DELETE,
                &format!("/contracts/mel-2024/key_figures/0?version={before}"),
                None,
                &headers,
            )
            .await;
        assert_eq!(kind(&problem(&r, 403)), "csrf");
    }
    assert_eq!(app.contract(MEL).await.version, before, "nothing written");
    assert_ne!(title(&document(&app, MEL).await), "Piratée");

    // With the session's token, the cookie session writes.
    let r = browser
        .api(
            Method::PUT,
            path,
            rename(before, "Par le navigateur"),
            &[("X-CSRF-Token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(body(&r)["version"], before + 1);
    assert_eq!(title(&document(&app, MEL).await), "Par le navigateur");
    let figures = document(&app, MEL).await["contract"]["key_figures"]
        .as_array()
        .unwrap()
        .len();
    let r = browser
        .api(
            Method::DELETE,
            &format!("/contracts/mel-2024/key_figures/0?version={}", before + 1),
            None,
            &[("X-CSRF-Token", &csrf)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        document(&app, MEL).await["contract"]["key_figures"]
            .as_array()
            .unwrap()
            .len(),
        figures - 1
    );

    // A bearer client needs no header.
    let bearer = Caller::bearer(&app, "pilote@mel.fr").await;
    let r = bearer
        .send(
            Method::PUT,
            path,
            rename(before + 2, "Par un client de l'API"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(title(&document(&app, MEL).await), "Par un client de l'API");

    // Signing out with the cookie needs the token too; afterwards the cookie is worthless.
    assert_eq!(
        kind(&problem(
            &browser.api(Method::DELETE, "/session", None, &[]).await,
            403
        )),
        "csrf"
    );
    let r = browser
        .api(Method::DELETE, "/session", None, &[("X-CSRF-Token", &csrf)])
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = browser
        .api(
            Method::PUT,
            path,
            rename(before + 3, "Après déconnexion"),
            &[("X-CSRF-Token", &csrf)],
        )
        .await;
    assert_eq!(kind(&problem(&r, 401)), "unauthorized");
}
both_engines!(api_csrf, cookie_sessions_need_the_csrf_header);

// ---------------------------------------------------------------------------------------------
// 3. Bad input
// ---------------------------------------------------------------------------------------------

async fn malformed_requests_are_french_problems(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, MEL)), false)
        .await;
    let pilot = Caller::bearer(&app, "pilote@mel.fr").await;
    let v = app.contract(MEL).await.version;
    let node_path = "/contracts/mel-2024/framework/e1-a1";

    // Malformed JSON: where it breaks.
    let before = app.contract(MEL).await;
    let text = format!("{{\n  \"version\": {v},\n  \"title\": \"x\",,\n}}");
    let p = problem(
        &pilot
            .send_raw(Method::PUT, node_path, "application/json", &text)
            .await,
        422,
    );
    assert_eq!(kind(&p), "bad-request");
    assert_eq!(
        detail(&p),
        "Le corps de la requête n'est pas du JSON valide (ligne 3, colonne 16)."
    );
    let p = problem(
        &pilot
            .send_raw(Method::PUT, node_path, "application/json", "{\"version\": ")
            .await,
        422,
    );
    assert!(
        detail(&p).contains("n'est pas du JSON valide (ligne 1, colonne"),
        "{p}"
    );
    let p = problem(
        &pilot
            .send_raw(
                Method::PUT,
                node_path,
                "text/plain",
                &format!("{{\"version\": {v}, \"title\": \"x\"}}"),
            )
            .await,
        422,
    );
    assert!(detail(&p).contains("Content-Type: application/json"), "{p}");
    assert!(app.contract(MEL).await.document == before.document);
    assert_eq!(app.contract(MEL).await.version, v);

    // A missing field, an unknown field.
    let w = Write::new(Method::PUT, node_path, Some(json!({ "title": "x" })));
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert!(
        field_message(&p, "version").starts_with("Ce champ est obligatoire"),
        "{p}"
    );
    let w = Write::new(
        Method::PUT,
        node_path,
        Some(json!({ "version": v, "title": "x", "titre": "y" })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    let m = field_message(&p, "titre");
    assert!(m.starts_with("Champ inconnu « titre »"), "{m}");
    assert!(
        m.contains("valeurs possibles : version, effective_on, reason, title"),
        "{m}"
    );
    let w = Write::new(
        Method::POST,
        "/contracts/mel-2024/key_figures",
        Some(json!({ "version": v, "item": { "label": "QPV", "value": "26", "valeur": "26" } })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert!(
        field_message(&p, "valeur").starts_with("Champ inconnu « valeur »"),
        "{p}"
    );

    // Rules of the contract: an empty title, a period that ends before it starts.
    let w = Write::new(
        Method::PUT,
        node_path,
        Some(json!({ "version": v, "title": "   " })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(field_message(&p, "title"), "Ce champ est obligatoire.");
    let w = Write::new(
        Method::POST,
        "/contracts/mel-2024/framework",
        Some(json!({ "version": v, "parent": "e2", "title": "" })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(field_message(&p, "title"), "Ce champ est obligatoire.");
    let w = Write::new(
        Method::POST,
        "/contracts/mel-2024/components",
        Some(json!({ "version": v, "item": component("Pacte", 2027, 2024) })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(
        field_message(&p, "period"),
        "La période se termine (2024) avant de commencer (2027)."
    );
    let w = Write::new(
        Method::PUT,
        "/contracts/mel-2024/components/0",
        Some(json!({ "version": v, "item": component("", 2024, 2030) })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(field_message(&p, "name"), "Ce champ est obligatoire.");
    let w = Write::new(
        Method::POST,
        "/contracts/mel-2024/framework",
        Some(json!({ "version": v, "parent": "zz", "title": "Orpheline" })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(
        field_message(&p, "parent"),
        "Aucun élément du cadre n'a la clé « zz »."
    );
    let w = Write::new(
        Method::POST,
        "/contracts/mel-2024/framework/e1/move",
        Some(json!({ "version": v, "direction": "up" })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(
        field_message(&p, "direction"),
        "L'élément est déjà en tête de liste."
    );

    // The slug of a contract cannot change through PUT.
    let mut doc = document(&app, MEL).await;
    doc["contract"]["slug"] = json!("autre-slug");
    let w = Write::new(
        Method::PUT,
        "/contracts/mel-2024",
        Some(json!({ "version": v, "document": doc })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(
        field_message(&p, "slug"),
        "L'identifiant d'un contrat ne peut pas être modifié."
    );

    // Change metadata: effective dates, the version of deletions.
    let tomorrow = quartiers_store::today().next_day().unwrap().to_string();
    let w = Write::new(
        Method::PUT,
        node_path,
        Some(json!({ "version": v, "title": "Demain", "effective_on": tomorrow })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(
        field_message(&p, "effective_on"),
        "La date d'effet ne peut pas être dans le futur."
    );
    let w = Write::new(
        Method::PUT,
        node_path,
        Some(json!({ "version": v, "title": "Avant la signature", "effective_on": "2024-01-01" })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert!(
        field_message(&p, "effective_on")
            .contains("ne peut pas précéder celle du dernier avenant (2024-05-07)"),
        "{p}"
    );
    let w = Write::new(Method::DELETE, "/contracts/mel-2024/key_figures/0", None);
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert!(field_message(&p, "version").contains("obligatoire"), "{p}");
    let w = Write::new(
        Method::DELETE,
        "/contracts/mel-2024/key_figures/0?version=douze",
        None,
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert_eq!(
        field_message(&p, "version"),
        "« douze » n'est pas un numéro de version."
    );

    // A stale version: 409, nothing written.
    let w = Write::new(
        Method::PUT,
        node_path,
        Some(json!({ "version": v - 1, "title": "Trop tard" })),
    );
    let p = refused(&app, &pilot, &w, 409, "conflict").await;
    assert!(detail(&p).contains("modifié par quelqu'un d'autre"), "{p}");
    let w = Write::new(
        Method::DELETE,
        format!("/contracts/mel-2024/key_figures/0?version={}", v + 1),
        None,
    );
    refused(&app, &pilot, &w, 409, "conflict").await;

    // Unknown contract, collection, key or index: 404.
    for w in [
        Write::new(Method::GET, "/contracts/nulle-part", None),
        Write::new(Method::GET, "/contracts/mel-2024/inconnus", None),
        Write::new(Method::GET, "/contracts/mel-2024/framework/zz", None),
        Write::new(Method::GET, "/contracts/mel-2024/key_figures/999", None),
        Write::new(Method::GET, "/contracts/mel-2024/key_figures/premier", None),
        Write::new(
            Method::POST,
            "/contracts/mel-2024/inconnus",
            Some(json!({ "version": v, "item": { "label": "x" } })),
        ),
        Write::new(
            Method::PUT,
            "/contracts/mel-2024/framework/zz",
            Some(json!({ "version": v, "title": "x" })),
        ),
        Write::new(
            Method::PUT,
            "/contracts/mel-2024/key_figures/999",
            Some(json!({ "version": v, "item": { "label": "QPV", "value": "26" } })),
        ),
        Write::new(
            Method::DELETE,
            format!("/contracts/mel-2024/key_figures/-1?version={v}"),
            None,
        ),
        Write::new(
            Method::POST,
            "/contracts/mel-2024/framework/zz/move",
            Some(json!({ "version": v, "direction": "up" })),
        ),
        Write::new(
            Method::PUT,
            "/contracts/nulle-part/framework/e1",
            Some(json!({ "version": v, "title": "x" })),
        ),
    ] {
        let p = refused(&app, &pilot, &w, 404, "not-found").await;
        assert_eq!(
            detail(&p),
            "La page ou la ressource demandée n'existe pas ou plus.",
            "{w}"
        );
    }

    // Bad dates in the history.
    for date in ["2024-13-45", "hier", "2024-02-30"] {
        let p = problem(
            &pilot
                .send(
                    Method::GET,
                    &format!("/contracts/mel-2024/as-of/{date}"),
                    None,
                )
                .await,
            422,
        );
        assert!(!field_message(&p, "date").is_empty(), "{date}: {p}");
    }
    let p = problem(
        &pilot
            .send(
                Method::GET,
                "/contracts/mel-2024/changes?from=2025-02-30&to=2025-12-31",
                None,
            )
            .await,
        422,
    );
    assert!(!field_message(&p, "from").is_empty(), "{p}");
    let p = problem(
        &pilot
            .send(
                Method::GET,
                "/contracts/mel-2024/changes?from=2025-01-01",
                None,
            )
            .await,
        422,
    );
    assert_eq!(
        field_message(&p, "to"),
        "Ce paramètre est obligatoire (date au format AAAA-MM-JJ)."
    );
    let p = problem(
        &pilot
            .send(
                Method::GET,
                "/contracts/mel-2024/changes?from=2025-12-31&to=2025-01-01",
                None,
            )
            .await,
        422,
    );
    assert_eq!(
        field_message(&p, "to"),
        "La date de fin doit être postérieure ou égale à la date de début."
    );
    let p = problem(
        &pilot
            .send(Method::GET, "/contracts/mel-2024/as-of/2024-05-06", None)
            .await,
        404,
    );
    assert_eq!(kind(&p), "not-found", "before the contract existed");
    assert_eq!(app.contract(MEL).await.version, v, "nothing was written");
}
both_engines!(
    api_malformed_requests,
    malformed_requests_are_french_problems
);

/// Values that the document types refuse (a wrong type, a negative amount, an INSEE code, a
/// SIREN) are named by their field, like the rules checked after parsing.
async fn bad_values_name_their_field(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, MEL)), false)
        .await;
    let pilot = Caller::bearer(&app, "pilote@mel.fr").await;
    let v = app.contract(MEL).await.version;

    let w = Write::new(
        Method::PUT,
        "/contracts/mel-2024/framework/e1-a1",
        Some(json!({ "version": "trois", "title": "x" })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    let m = field_message(&p, "version");
    assert!(
        m.contains("un texte") && m.contains("un nombre entier"),
        "{m}"
    );
    let w = Write::new(
        Method::POST,
        "/contracts/mel-2024/key_figures",
        Some(json!({ "version": v, "item": { "label": "QPV", "value": 26 } })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert!(field_message(&p, "value").contains("un texte"), "{p}");

    let w = Write::new(
        Method::POST,
        "/contracts/mel-2024/components",
        Some(json!({
            "version": v,
            "item": with(component("Pacte", 2024, 2027), "annual_budget_cents", json!(-500)),
        })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert!(
        field_message(&p, "annual_budget_cents").contains("Le montant ne peut pas être négatif."),
        "{p}"
    );

    let w = Write::new(
        Method::POST,
        "/contracts/mel-2024/local_volets",
        Some(json!({ "version": v, "item": { "commune": "5935", "title": "Volet lillois" } })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    assert!(
        field_message(&p, "commune").contains("« 5935 » n'est pas un code INSEE de commune"),
        "{p}"
    );

    let mut doc = document(&app, MEL).await;
    doc["contract"]["territory"]["pilot_siren"] = json!("200093202");
    let w = Write::new(
        Method::PUT,
        "/contracts/mel-2024",
        Some(json!({ "version": v, "document": doc })),
    );
    let p = refused(&app, &pilot, &w, 422, "validation").await;
    // The path in the request body; `contract.…` (as `validate` names fields) is accepted too.
    let siren = [
        "document.contract.territory.pilot_siren",
        "contract.territory.pilot_siren",
    ]
    .into_iter()
    .find_map(|f| field_message_if_any(&p, f))
    .unwrap_or_else(|| panic!("no error on the SIREN field in {p}"));
    assert!(siren.contains("Le SIREN « 200093202 » est invalide"), "{p}");
}
both_engines!(api_bad_values, bad_values_name_their_field);

// ---------------------------------------------------------------------------------------------
// 4. History
// ---------------------------------------------------------------------------------------------

async fn history_through_the_api(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, MEL)), false)
        .await;
    let pilot = Caller::bearer(&app, "pilote@mel.fr").await;
    let reader = Caller::anonymous(&app);
    let old = "améliorer la situation de l'habitat (qualité des logements, performance énergétique, mixité)";
    let new = "améliorer la situation de l'habitat (qualité, performance énergétique, mixité, accessibilité)";

    let current = reader.get("/contracts/mel-2024/framework/e4-a2").await;
    assert_eq!(
        (
            current["depth"].as_u64(),
            current["level"].as_str(),
            current["parent"].as_str()
        ),
        (Some(1), Some("ambition"), Some("e4"))
    );
    assert_eq!(current["node"]["title"], old);
    let n = &current["node"];
    let r = pilot
        .send(
            Method::PUT,
            "/contracts/mel-2024/framework/e4-a2",
            Some(json!({
                "version": current["version"],
                "title": new,
                "description": n["description"],
                "scope": n["scope"],
                "partners": n["partners"].as_array().cloned().unwrap_or_default(),
                "effective_on": "2025-03-01",
                "reason": "Avenant n° 1, comité de pilotage",
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);

    let title_on = |doc: &Value| node(doc, "e4-a2").unwrap()["title"].clone();
    assert_eq!(
        title_on(&reader.get("/contracts/mel-2024/as-of/2024-12-31").await),
        old
    );
    assert_eq!(
        title_on(&reader.get("/contracts/mel-2024/as-of/2025-02-28").await),
        old
    );
    assert_eq!(
        title_on(&reader.get("/contracts/mel-2024/as-of/2025-03-01").await),
        new
    );
    let today = quartiers_store::today().to_string();
    assert_eq!(
        title_on(
            &reader
                .get(&format!("/contracts/mel-2024/as-of/{today}"))
                .await
        ),
        new
    );

    let amendments = reader.get("/contracts/mel-2024/amendments").await;
    let list = amendments.as_array().unwrap();
    assert_eq!(list.len(), 2, "{amendments}");
    let a = &list[0];
    assert_eq!(a["summary"], format!("Ambition « {new} » modifiée"));
    assert_eq!(
        a["author_label"], "un membre de l'équipe du contrat",
        "emails are not public"
    );
    let pilot_view = Caller::bearer(&app, "pilote@mel.fr")
        .await
        .get("/contracts/mel-2024/amendments")
        .await;
    assert_eq!(pilot_view[0]["author_label"], "pilote@mel.fr");
    assert_eq!(a["effective_on"], "2025-03-01");
    assert_eq!(a["reason"], "Avenant n° 1, comité de pilotage");
    assert_eq!(
        a["changes"],
        json!([{ "element": "framework/e4-a2", "field": "title", "before": old, "after": new }])
    );
    assert_eq!(list[1]["summary"], "Création du contrat (import)");
    assert_eq!(list[1]["effective_on"], "2024-05-07");
    let in_2025 = reader
        .get("/contracts/mel-2024/amendments?from=2025-03-01&to=2025-12-31")
        .await;
    assert_eq!(in_2025.as_array().unwrap().len(), 1, "{in_2025}");
    assert_eq!(in_2025[0]["id"], a["id"]);
    let in_2024 = reader
        .get("/contracts/mel-2024/amendments?from=2024-01-01&to=2024-12-31")
        .await;
    assert_eq!(in_2024.as_array().unwrap().len(), 1, "{in_2024}");
    assert_eq!(in_2024[0]["summary"], "Création du contrat (import)");

    let changes = reader
        .get("/contracts/mel-2024/changes?from=2025-01-01&to=2025-12-31")
        .await;
    assert_eq!(
        changes,
        json!([{ "element": "framework/e4-a2", "field": "title", "before": old, "after": new }])
    );
    let none = reader
        .get("/contracts/mel-2024/changes?from=2024-06-01&to=2024-12-31")
        .await;
    assert_eq!(none, json!([]));
}
both_engines!(api_history, history_through_the_api);

// ---------------------------------------------------------------------------------------------
// 5. Export → import
// ---------------------------------------------------------------------------------------------

async fn export_then_import_round_trip(app: TestApp) {
    let app = app.with_demo().await;
    app.user("admin@quartiers.fr", None, true).await;
    let admin = Caller::bearer(&app, "admin@quartiers.fr").await;
    let reader = Caller::anonymous(&app);

    // Export a contract the API has already changed, so the copy carries an edit.
    let v = app.contract(MEL).await.version;
    let r = admin
        .send(
            Method::POST,
            "/contracts/mel-2024/key_figures",
            Some(json!({
                "version": v,
                "item": {
                    "label": "Actions financées en 2024",
                    "value": "612",
                    "year": 2024,
                    "source": "Bilan annuel",
                },
            })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    let r = reader
        .send(Method::GET, "/contracts/mel-2024/export", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(
        r.content_type.starts_with("application/json"),
        "{}",
        r.content_type
    );
    let original = body(&r);
    assert_eq!(original["format"], "quartiers-contrat");
    assert_eq!(original["contract"]["slug"], MEL);
    assert_eq!(
        original["contract"]["key_figures"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["label"],
        "Actions financées en 2024"
    );

    let mut copy = original.clone();
    copy["contract"]["slug"] = json!("mel-2024-copie");
    let r = admin
        .send(Method::POST, "/contracts", Some(copy.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert_eq!(body(&r)["slug"], "mel-2024-copie");
    let p = problem(
        &admin.send(Method::POST, "/contracts", Some(copy)).await,
        409,
    );
    assert_eq!(kind(&p), "conflict");

    let mut exported = reader.get("/contracts/mel-2024-copie/export").await;
    assert_eq!(exported["contract"]["slug"], "mel-2024-copie");
    exported["contract"]["slug"] = json!(MEL);
    assert_eq!(
        exported, original,
        "the copy is the original but for its slug"
    );

    let history = reader.get("/contracts/mel-2024-copie/amendments").await;
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
    assert_eq!(history[0]["summary"], "Création du contrat (import)");
    assert_eq!(
        history[0]["effective_on"], "2024-05-07",
        "effective on the signature date"
    );
    assert_eq!(
        history[0]["author_label"],
        "un membre de l'équipe du contrat"
    );
    let admin_view = Caller::bearer(&app, "admin@quartiers.fr")
        .await
        .get("/contracts/mel-2024-copie/amendments")
        .await;
    assert_eq!(admin_view[0]["author_label"], "admin@quartiers.fr");
}
both_engines!(api_round_trip, export_then_import_round_trip);

// ---------------------------------------------------------------------------------------------
// 6. OpenAPI
// ---------------------------------------------------------------------------------------------

/// The paths this file exercises, with their methods.
const EXERCISED: &[(&str, &[&str])] = &[
    ("/api/v1/session", &["post", "delete"]),
    ("/api/v1/contracts", &["get", "post"]),
    ("/api/v1/contracts/{slug}", &["get", "put", "delete"]),
    ("/api/v1/contracts/{slug}/export", &["get"]),
    ("/api/v1/contracts/{slug}/as-of/{date}", &["get"]),
    ("/api/v1/contracts/{slug}/amendments", &["get"]),
    ("/api/v1/contracts/{slug}/changes", &["get"]),
    ("/api/v1/contracts/{slug}/framework", &["get", "post"]),
    (
        "/api/v1/contracts/{slug}/framework/{key}",
        &["get", "put", "delete"],
    ),
    ("/api/v1/contracts/{slug}/framework/{key}/move", &["post"]),
    ("/api/v1/contracts/{slug}/{collection}", &["get", "post"]),
    (
        "/api/v1/contracts/{slug}/{collection}/{index}",
        &["get", "put", "delete"],
    ),
    (
        "/api/v1/contracts/{slug}/{collection}/{index}/move",
        &["post"],
    ),
    ("/api/v1/openapi.json", &["get"]),
];

/// Every `$ref` of a JSON document.
fn references(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => m
            .iter()
            .flat_map(|(k, v)| match (k.as_str(), v) {
                ("$ref", Value::String(r)) => vec![r.clone()],
                _ => references(v),
            })
            .collect(),
        Value::Array(a) => a.iter().flat_map(references).collect(),
        _ => vec![],
    }
}

/// The target of a local reference (`#/components/schemas/Problem`).
fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    doc.pointer(reference.strip_prefix('#')?)
}

async fn openapi_document_describes_the_api(app: TestApp) {
    let app = app.with_demo().await;
    let reader = Caller::anonymous(&app);
    let r = reader.send(Method::GET, "/openapi.json", None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/json");
    let doc = body(&r);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Quartiers API");
    let paths = doc["paths"].as_object().expect("paths");
    for (path, methods) in EXERCISED {
        let item = paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for m in *methods {
            assert!(
                item[*m]["operationId"].is_string(),
                "{m} {path} is not documented"
            );
        }
    }
    let refs = references(&doc);
    assert!(!refs.is_empty());
    for r in &refs {
        assert!(resolve(&doc, r).is_some(), "dangling reference {r}");
    }
    let collection = paths["/api/v1/contracts/{slug}/{collection}"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "collection")
        .expect("the collection parameter")["schema"]
        .clone();
    let collection = match collection["$ref"].as_str() {
        Some(r) => resolve(&doc, r).cloned().unwrap_or_default(),
        None => collection,
    };
    assert!(
        collection["enum"]
            .as_array()
            .is_some_and(|names| names.contains(&json!("key_figures"))
                && names.contains(&json!("local_volets"))),
        "the collection names are listed: {collection}"
    );

    // The documented operations are served: none answers 404 or 405 (anonymous calls only).
    for (path, methods) in EXERCISED {
        let concrete = path
            .trim_start_matches("/api/v1")
            .replace("{slug}", MEL)
            .replace("{key}", "e1")
            .replace("{collection}", "key_figures")
            .replace("{index}", "0")
            .replace("{date}", "2025-01-01");
        for method in *methods {
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = reader.send(m, &concrete, Some(json!({}))).await;
            assert!(
                ![404, 405].contains(&r.status),
                "{method} {concrete}: {} {}",
                r.status,
                r.text
            );
        }
    }
    assert_eq!(
        reader.get("/contracts").await.as_array().unwrap().len(),
        3,
        "anonymous calls changed nothing"
    );
}
both_engines!(api_openapi, openapi_document_describes_the_api);
