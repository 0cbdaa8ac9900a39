//! Account administration through the pages and the API: administrators only, checked input.

use crate::both_engines;
use crate::helpers::{session_csrf, TestApp, PASSWORD};
use quartiers_domain::Role;
use reqwest::Method;
use serde_json::json;

async fn accounts_by_role_and_bad_input(app: TestApp) {
    let app = app.with_demo().await;
    app.user("admin@quartiers.fr", None, true).await;
    for (email, role) in [
        ("pilote@mel.fr", Role::Pilote),
        ("financeur@mel.fr", Role::Financeur),
        ("porteur@mel.fr", Role::Porteur),
        ("lecteur@mel.fr", Role::Lecteur),
    ] {
        app.user(email, Some((role, "mel-2024")), false).await;
    }
    let form = |email: &str, role: &str, contract: &str, password: &str, csrf: &str| {
        vec![
            ("email".to_string(), email.to_string()),
            ("password".to_string(), password.to_string()),
            ("role".to_string(), role.to_string()),
            ("contract".to_string(), contract.to_string()),
            ("institution".to_string(), "Ville de Roubaix".to_string()),
            ("csrf".to_string(), csrf.to_string()),
        ]
    };
    let anon = app.client();
    assert_eq!(anon.get("/admin/comptes").await.status, 401);
    let r = anon
        .http
        .post(format!("{}/admin/comptes", anon.base))
        .form(&form("x@y.fr", "lecteur", "mel-2024", PASSWORD, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    for who in [
        "pilote@mel.fr",
        "financeur@mel.fr",
        "porteur@mel.fr",
        "lecteur@mel.fr",
    ] {
        let c = app.signed_in(who).await;
        assert_eq!(c.get("/admin/comptes").await.status, 403, "{who}");
        let csrf = session_csrf(&c).await;
        let r = c
            .http
            .post(format!("{}/admin/comptes", c.base))
            .form(&form("x@y.fr", "lecteur", "mel-2024", PASSWORD, &csrf))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 403, "{who}");
        let token = api_token(&app, who).await;
        let r = c
            .api(
                Method::GET,
                "/users",
                None,
                &[("Authorization", &format!("Bearer {token}"))],
            )
            .await;
        assert_eq!(r.status, 403, "{who} API");
    }
    assert!(app.store.user_by_email("x@y.fr").await.unwrap().is_none());

    let admin = app.signed_in("admin@quartiers.fr").await;
    let page = admin.get("/admin/comptes").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("pilote@mel.fr")
            && page
                .text
                .contains("Pilote — Contrat de ville et des solidarités")
    );
    let csrf = session_csrf(&admin).await;
    let post = |fields: Vec<(String, String)>| {
        let http = admin.http.clone();
        let url = format!("{}/admin/comptes", admin.base);
        async move {
            let r = http.post(url).form(&fields).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    for (fields, message) in [
        (
            form("pas-une-adresse", "lecteur", "mel-2024", PASSWORD, &csrf),
            "n'est pas une adresse électronique valide",
        ),
        (
            form("n@mel.fr", "lecteur", "mel-2024", "court", &csrf),
            "12 caractères",
        ),
        (
            form("n@mel.fr", "pilote", "", PASSWORD, &csrf),
            "s'exerce sur un contrat",
        ),
        (
            form("n@mel.fr", "chef", "mel-2024", PASSWORD, &csrf),
            "Rôle inconnu",
        ),
        (
            form("n@mel.fr", "lecteur", "inconnu", PASSWORD, &csrf),
            "Aucun contrat",
        ),
        (
            form("pilote@mel.fr", "lecteur", "mel-2024", PASSWORD, &csrf),
            "existe déjà",
        ),
    ] {
        let (status, text) = post(fields).await;
        assert_eq!(status, 422, "{message}");
        assert!(
            text.contains(&maud::html! { (message) }.into_string()),
            "{message}"
        );
    }
    let (status, _) = post(form("n@mel.fr", "lecteur", "mel-2024", PASSWORD, "faux")).await;
    assert_eq!(status, 403, "CSRF");
    let (status, _) = post(form(
        "nouveau@roubaix.fr",
        "porteur",
        "mel-2024",
        PASSWORD,
        &csrf,
    ))
    .await;
    assert_eq!(status, 303);
    let user = app
        .store
        .user_by_email("nouveau@roubaix.fr")
        .await
        .unwrap()
        .unwrap();
    let roles = app.store.roles_of(user.id).await.unwrap();
    assert_eq!(
        (roles[0].role, roles[0].institution.as_deref()),
        (Role::Porteur, Some("Ville de Roubaix"))
    );
    app.signed_in("nouveau@roubaix.fr").await;

    // The API, with a bearer token.
    let token = api_token(&app, "admin@quartiers.fr").await;
    let auth = format!("Bearer {token}");
    let r = admin.api(Method::POST, "/users", Some(json!({"email": "api@mel.fr", "password": PASSWORD, "role": "financeur", "contract": "mel-2024", "institution": "CAF du Nord"})), &[("Authorization", &auth)]).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = admin
        .api(
            Method::POST,
            "/users",
            Some(json!({"email": "api2@mel.fr", "password": "court", "role": "financeur"})),
            &[("Authorization", &auth)],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.content_type.starts_with("application/problem+json"));
    let problem: serde_json::Value = serde_json::from_str(&r.text).unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["password", "contract"]);
    let list = admin
        .api(Method::GET, "/users", None, &[("Authorization", &auth)])
        .await;
    let users: serde_json::Value = serde_json::from_str(&list.text).unwrap();
    let api_user = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "api@mel.fr")
        .unwrap();
    assert_eq!(api_user["roles"][0]["role"], "financeur");
    assert!(
        !list.text.contains("argon2"),
        "hashes never leave the server"
    );
}
both_engines!(accounts, accounts_by_role_and_bad_input);

async fn api_token(app: &TestApp, email: &str) -> String {
    let r = app
        .client()
        .api(
            Method::POST,
            "/session",
            Some(json!({"email": email, "password": PASSWORD})),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    serde_json::from_str::<serde_json::Value>(&r.text).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}
