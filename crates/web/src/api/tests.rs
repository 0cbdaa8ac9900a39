//! Tests of the API module: the OpenAPI document, the extractors' problem documents, the
//! summaries, and a smoke run of the routes over a temporary SQLite store.

use super::json::{Json, Query};
use super::*;
use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{Method, Request};
use serde_json::{json, Value};
use tower::ServiceExt;

#[test]
fn openapi_document_lists_the_main_paths() {
    let doc: Value = serde_json::from_str(openapi_text()).expect("valid JSON");
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");
    for p in [
        "/api/v1/session",
        "/api/v1/contracts",
        "/api/v1/contracts/{slug}",
        "/api/v1/contracts/{slug}/export",
        "/api/v1/contracts/{slug}/as-of/{date}",
        "/api/v1/contracts/{slug}/amendments",
        "/api/v1/contracts/{slug}/changes",
        "/api/v1/contracts/{slug}/framework",
        "/api/v1/contracts/{slug}/framework/{key}",
        "/api/v1/contracts/{slug}/framework/{key}/move",
        "/api/v1/contracts/{slug}/{collection}",
        "/api/v1/contracts/{slug}/{collection}/{index}",
        "/api/v1/contracts/{slug}/{collection}/{index}/move",
        "/api/v1/openapi.json",
    ] {
        assert!(paths.contains_key(p), "missing path {p}");
    }
    let contract = &paths["/api/v1/contracts/{slug}"];
    for m in ["get", "put", "delete"] {
        assert!(contract[m].is_object(), "{m} /contracts/{{slug}}");
    }
    // Every parameter is declared once, and every path parameter is declared.
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let params: Vec<(String, String)> = op["parameters"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|p| (p["in"].to_string(), p["name"].to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let mut unique = params.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(params.len(), unique.len(), "{method} {path}: {params:?}");
            let in_path = params.iter().filter(|(i, _)| i == "\"path\"").count();
            assert_eq!(
                in_path,
                path.matches('{').count(),
                "{method} {path}: {params:?}"
            );
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path}"
            );
        }
    }
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().expect("operationId"))
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique");
    let changes = &paths["/api/v1/contracts/{slug}/changes"]["get"]["parameters"];
    assert!(
        changes
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "query")
            .all(|p| p["required"] == true),
        "{changes}"
    );
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for s in [
        "ContractDocument",
        "FrameworkNode",
        "Problem",
        "Change",
        "Component",
        "Section",
        "ItemRequest",
        "NewNode",
    ] {
        assert!(schemas.contains_key(s), "missing schema {s}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

async fn problem_of(e: crate::error::ApiError) -> (u16, String, Value) {
    let r = e.into_response();
    let status = r.status().as_u16();
    let ct = r.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    let body = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        ct,
        serde_json::from_slice(&body).expect("problem is JSON"),
    )
}

fn json_request(body: &str) -> Request<Body> {
    Request::builder()
        .method(Method::POST)
        .uri("/x")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Sample {
    version: i64,
    #[serde(default)]
    direction: Option<Direction>,
}

#[tokio::test]
async fn malformed_json_is_a_french_problem() {
    let err = Json::<Sample>::from_request(json_request("{\"version\": "), &())
        .await
        .unwrap_err();
    let (status, ct, p) = problem_of(err).await;
    assert_eq!(status, 422);
    assert_eq!(ct, "application/problem+json");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("n'est pas du JSON valide"),
        "{p}"
    );
    assert_eq!(p["type"], "/api/v1/problems/bad-request");
}

#[tokio::test]
async fn missing_and_unknown_fields_name_the_field() {
    let err = Json::<Sample>::from_request(json_request("{}"), &())
        .await
        .unwrap_err();
    let (status, _, p) = problem_of(err).await;
    assert_eq!(status, 422);
    assert_eq!(p["errors"][0]["field"], "version");
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Ce champ est obligatoire"),
        "{p}"
    );

    let err = Json::<Sample>::from_request(json_request(r#"{"version":1,"versoin":2}"#), &())
        .await
        .unwrap_err();
    let (_, _, p) = problem_of(err).await;
    assert_eq!(p["errors"][0]["field"], "versoin", "{p}");

    let err = Json::<Sample>::from_request(json_request(r#"{"version":"deux"}"#), &())
        .await
        .unwrap_err();
    let (_, _, p) = problem_of(err).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("un texte") && detail.contains("un nombre entier"),
        "{detail}"
    );

    let err =
        Json::<Sample>::from_request(json_request(r#"{"version":1,"direction":"left"}"#), &())
            .await
            .unwrap_err();
    let (_, _, p) = problem_of(err).await;
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("« left »") && detail.contains("up, down"),
        "{detail}"
    );
}

#[tokio::test]
async fn wrong_content_type_is_a_problem() {
    let req = Request::builder()
        .method(Method::POST)
        .uri("/x")
        .body(Body::from("{}"))
        .unwrap();
    let err = Json::<Sample>::from_request(req, &()).await.unwrap_err();
    let (status, ct, p) = problem_of(err).await;
    assert_eq!((status, ct.as_str()), (422, "application/problem+json"));
    assert!(p["detail"].as_str().unwrap().contains("Content-Type"));
}

#[tokio::test]
async fn deletion_version_is_required_and_numeric() {
    let (mut parts, _) = Request::builder()
        .uri("/x?reason=test")
        .body(())
        .unwrap()
        .into_parts();
    let Query(params) = Query::<ChangeParams>::from_request_parts(&mut parts, &())
        .await
        .unwrap();
    let (_, _, p) = problem_of(params.meta().unwrap_err()).await;
    assert_eq!(p["errors"][0]["field"], "version");
    let (mut parts, _) = Request::builder()
        .uri("/x?version=abc")
        .body(())
        .unwrap()
        .into_parts();
    let Query(params) = Query::<ChangeParams>::from_request_parts(&mut parts, &())
        .await
        .unwrap();
    assert!(params.meta().is_err());
    let (mut parts, _) = Request::builder()
        .uri("/x?version=3")
        .body(())
        .unwrap()
        .into_parts();
    let Query(params) = Query::<ChangeParams>::from_request_parts(&mut parts, &())
        .await
        .unwrap();
    assert_eq!(params.meta().unwrap().version, 3);
}

#[test]
fn summaries_agree_with_the_level_names() {
    assert_eq!(
        node_summary("ambition", "Mobilité", "modifié"),
        "Ambition « Mobilité » modifiée"
    );
    assert_eq!(
        node_summary("enjeu", "Emploi", "ajouté"),
        "Enjeu « Emploi » ajouté"
    );
    assert_eq!(
        node_summary("orientation stratégique", "Santé", "supprimé"),
        "Orientation stratégique « Santé » supprimée"
    );
    assert_eq!(
        node_summary("zorglub", "X", "ajouté"),
        "Zorglub « X » ajouté(e)"
    );
    assert_eq!(
        item_summary(
            quartiers_domain::edit::Collection::Components,
            "Pacte",
            "ajouté"
        ),
        "Composante « Pacte » ajoutée"
    );
    assert_eq!(
        item_summary(
            quartiers_domain::edit::Collection::Signatories,
            "État",
            "supprimé"
        ),
        "Signataire « État » supprimé"
    );
}

/// A store in a temporary SQLite file, removed on drop.
struct TempStore {
    store: quartiers_store::Store,
    path: std::path::PathBuf,
}

impl Drop for TempStore {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.path.display()));
        }
    }
}

async fn temp_store() -> TempStore {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let path = std::env::temp_dir().join(format!(
        "quartiers-api-test-{}-{nanos}.db",
        std::process::id()
    ));
    let store = quartiers_store::Store::open(path.to_str().unwrap())
        .await
        .expect("store");
    TempStore { store, path }
}

async fn call(
    app: &Router,
    method: Method,
    uri: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let req = match body {
        Some(b) => req
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(b.to_string())),
        None => req.body(Body::empty()),
    }
    .unwrap();
    let r = app.clone().oneshot(req).await.unwrap();
    let status = r.status().as_u16();
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.to_str().unwrap_or("").contains("json"));
    let bytes = axum::body::to_bytes(r.into_body(), usize::MAX)
        .await
        .unwrap();
    let v = if bytes.is_empty() {
        Value::Null
    } else {
        assert!(
            is_json,
            "{uri}: not JSON: {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, v)
}

fn sample_document() -> Value {
    json!({"format":"quartiers-contrat","version":1,"contract":{"slug":"essai","name":"Contrat d'essai",
        "territory":{"pilot_name":"Agglo"},"period":{"start_year":2024,"end_year":2030},
        "levels":[{"singular":"enjeu","plural":"enjeux"},{"singular":"ambition","plural":"ambitions"}],
        "framework":[{"key":"e1","title":"Emploi","children":[{"key":"e1-a1","title":"Mobilité"}]},{"key":"e2","title":"Santé"}]}})
}

#[tokio::test]
async fn smoke_run_of_the_routes() {
    let tmp = temp_store().await;
    let hash =
        crate::auth::hash_password(&crate::auth::Password("une phrase de passe longue".into()))
            .unwrap();
    tmp.store
        .create_user("admin@exemple.fr", None, &hash, true)
        .await
        .unwrap();
    let state = AppState {
        store: tmp.store.clone(),
        config: std::sync::Arc::new(crate::Config::default()),
        geo: crate::geo::GeoService::shared(&tmp.store),
    };
    let app: Router = Router::new().nest(PREFIX, routes()).with_state(state);

    let (s, p) = call(
        &app,
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!({"email":"admin@exemple.fr","password":"mauvais"})),
    )
    .await;
    assert_eq!(
        (s, p["detail"].as_str()),
        (401, Some("Adresse ou mot de passe incorrect."))
    );
    let (s, session) = call(
        &app,
        Method::POST,
        "/api/v1/session",
        None,
        Some(json!({"email":"admin@exemple.fr","password":"une phrase de passe longue"})),
    )
    .await;
    assert_eq!(s, 200, "{session}");
    let token = session["token"].as_str().unwrap().to_string();
    let t = Some(token.as_str());

    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/contracts",
        None,
        Some(sample_document()),
    )
    .await;
    assert_eq!(s, 401);
    let (s, created) = call(
        &app,
        Method::POST,
        "/api/v1/contracts",
        t,
        Some(sample_document()),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["slug"], "essai");
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/contracts",
        t,
        Some(sample_document()),
    )
    .await;
    assert_eq!(s, 409);

    let (s, list) = call(&app, Method::GET, "/api/v1/contracts", None, None).await;
    assert_eq!((s, list[0]["pilot_name"].as_str()), (200, Some("Agglo")));
    let (_, c) = call(&app, Method::GET, "/api/v1/contracts/essai", None, None).await;
    let v1 = c["version"].as_i64().unwrap();

    let (s, n) = call(
        &app,
        Method::GET,
        "/api/v1/contracts/essai/framework/e1-a1",
        None,
        None,
    )
    .await;
    assert_eq!(
        (
            s,
            n["depth"].as_i64(),
            n["level"].as_str(),
            n["parent"].as_str()
        ),
        (200, Some(1), Some("ambition"), Some("e1"))
    );
    let (s, added) = call(
        &app,
        Method::POST,
        "/api/v1/contracts/essai/framework",
        t,
        Some(json!({"version": v1, "parent": "e1", "title": "Insertion", "partners": ["État"]})),
    )
    .await;
    assert_eq!(s, 201, "{added}");
    assert_eq!(added["key"], "e1-1");
    let v2 = added["version"].as_i64().unwrap();
    let (s, p) = call(
        &app,
        Method::PUT,
        "/api/v1/contracts/essai/framework/e1-1",
        t,
        Some(json!({"version": v1, "title": "X"})),
    )
    .await;
    assert_eq!(s, 409, "{p}");
    let (s, p) = call(
        &app,
        Method::PUT,
        "/api/v1/contracts/essai/framework/e1-1",
        t,
        Some(json!({"version": v2, "title": ""})),
    )
    .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("title")),
        "{p}"
    );
    let (s, r) = call(
        &app,
        Method::POST,
        "/api/v1/contracts/essai/framework/e2/move",
        t,
        Some(json!({"version": v2, "direction": "up"})),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    let v3 = r["version"].as_i64().unwrap();
    let (s, _) = call(
        &app,
        Method::POST,
        "/api/v1/contracts/essai/framework/e2/move",
        t,
        Some(json!({"version": v3, "direction": "up"})),
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/contracts/essai/framework/zz",
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);

    let (s, r) = call(
        &app,
        Method::POST,
        "/api/v1/contracts/essai/components",
        t,
        Some(json!({"version": v3, "item": {"name": "Pacte", "period": {"start_year": 2024, "end_year": 2027}}})),
    )
    .await;
    assert_eq!((s, r["index"].as_u64()), (201, Some(0)), "{r}");
    let v4 = r["version"].as_i64().unwrap();
    let (s, p) = call(
        &app,
        Method::PUT,
        "/api/v1/contracts/essai/components/0",
        t,
        Some(json!({"version": v4, "item": {"name": "Pacte", "period": {"start_year": 2027, "end_year": 2024}}})),
    )
    .await;
    assert_eq!(
        (s, p["errors"][0]["field"].as_str()),
        (422, Some("period")),
        "{p}"
    );
    let (s, p) = call(
        &app,
        Method::PUT,
        "/api/v1/contracts/essai/components/0",
        t,
        Some(json!({"version": v4, "item": {"nom": "Pacte"}})),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    let (s, items) = call(
        &app,
        Method::GET,
        "/api/v1/contracts/essai/components",
        None,
        None,
    )
    .await;
    assert_eq!((s, items[0]["name"].as_str()), (200, Some("Pacte")));
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/contracts/essai/inconnus",
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &app,
        Method::DELETE,
        "/api/v1/contracts/essai/components/0",
        t,
        None,
    )
    .await;
    assert_eq!(s, 422, "version is required");
    let (s, r) = call(
        &app,
        Method::DELETE,
        &format!("/api/v1/contracts/essai/components/0?version={v4}"),
        t,
        None,
    )
    .await;
    assert_eq!(s, 200, "{r}");

    let (s, history) = call(
        &app,
        Method::GET,
        "/api/v1/contracts/essai/amendments",
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let summaries: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "Composante « Pacte » supprimée",
            "Composante « Pacte » ajoutée",
            "Enjeu « Santé » déplacé vers le haut",
            "Ambition « Insertion » ajoutée",
            "Création du contrat (import)"
        ]
    );
    let today = quartiers_store::today().to_string();
    let (s, changes) = call(
        &app,
        Method::GET,
        &format!("/api/v1/contracts/essai/changes?from=2000-01-01&to={today}"),
        None,
        None,
    )
    .await;
    assert_eq!(s, 200);
    assert!(
        changes
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["element"] == "framework/e1-1"),
        "{changes}"
    );
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/contracts/essai/changes?from=2024-01-02&to=2024-01-01",
        None,
        None,
    )
    .await;
    assert_eq!(s, 422);
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/contracts/essai/as-of/2000-01-01",
        None,
        None,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = call(
        &app,
        Method::GET,
        "/api/v1/contracts/essai/as-of/hier",
        None,
        None,
    )
    .await;
    assert_eq!(s, 422);
    let (s, doc) = call(
        &app,
        Method::GET,
        &format!("/api/v1/contracts/essai/as-of/{today}"),
        None,
        None,
    )
    .await;
    assert_eq!(
        (s, doc["contract"]["framework"][0]["key"].as_str()),
        (200, Some("e2"))
    );

    let r = app
        .clone()
        .oneshot(
            Request::builder()
                .uri("/api/v1/contracts/essai/export")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.headers()[header::CONTENT_DISPOSITION],
        "attachment; filename=\"essai.json\""
    );

    let (s, _) = call(&app, Method::PATCH, "/api/v1/contracts/essai", t, None).await;
    assert_eq!(s, 405);
    let (s, p) = call(&app, Method::GET, "/api/v1/nulle-part", None, None).await;
    assert_eq!(
        (s, p["type"].as_str()),
        (404, Some("/api/v1/problems/not-found"))
    );
    let (s, _) = call(&app, Method::GET, "/api/v1/openapi.json", None, None).await;
    assert_eq!(s, 200);

    let (s, _) = call(&app, Method::DELETE, "/api/v1/contracts/essai", t, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&app, Method::DELETE, "/api/v1/session", t, None).await;
    assert_eq!(s, 204);
    let (s, _) = call(&app, Method::DELETE, "/api/v1/session", t, None).await;
    assert_eq!(s, 401, "an ended session's token is refused");
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_header() {
    let tmp = temp_store().await;
    let hash =
        crate::auth::hash_password(&crate::auth::Password("une phrase de passe longue".into()))
            .unwrap();
    let uid = tmp
        .store
        .create_user("admin@exemple.fr", None, &hash, true)
        .await
        .unwrap();
    let session = tmp
        .store
        .create_session(uid, crate::auth::SESSION_TTL)
        .await
        .unwrap();
    let state = AppState {
        store: tmp.store.clone(),
        config: std::sync::Arc::new(crate::Config::default()),
        geo: crate::geo::GeoService::shared(&tmp.store),
    };
    let app: Router = Router::new().nest(PREFIX, routes()).with_state(state);
    let post = |csrf: Option<&str>| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/contracts")
            .header(
                header::COOKIE,
                format!("{}={}", crate::auth::SESSION_COOKIE, session.token),
            )
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(c) = csrf {
            b = b.header("X-CSRF-Token", c);
        }
        b.body(Body::from(sample_document().to_string())).unwrap()
    };
    let r = app.clone().oneshot(post(None)).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let r = app.clone().oneshot(post(Some("faux"))).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .clone()
        .oneshot(post(Some(&session.csrf)))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn mounted_in_the_whole_app() {
    let tmp = temp_store().await;
    let app = crate::app(tmp.store.clone(), crate::Config::default());
    let (s, list) = call(&app, Method::GET, "/api/v1/contracts", None, None).await;
    assert_eq!((s, list), (200, json!([])));
    let (s, p) = call(&app, Method::GET, "/api/v1/nulle-part", None, None).await;
    assert_eq!((s, p["status"].as_u64()), (404, Some(404)));
    let (s, p) = call(
        &app,
        Method::POST,
        "/api/v1/contracts",
        Some("jeton-inconnu"),
        Some(sample_document()),
    )
    .await;
    assert_eq!(
        (s, p["type"].as_str()),
        (401, Some("/api/v1/problems/unauthorized"))
    );
}
