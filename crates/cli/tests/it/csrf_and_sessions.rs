//! CSRF protection, sessions, sign-out and login rate limiting.

use crate::both_engines;
use crate::helpers::{csrf_of, session_csrf, TestApp, PASSWORD};
use quartiers_domain::Role;

async fn forms_without_the_right_token_are_refused(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let p = app.signed_in("pilote@mel.fr").await;
    let version = app.contract("mel-2024").await.version.to_string();
    for csrf in ["", "0000", "forged-token-from-another-site"] {
        let r = p
            .post_form(
                "/contrats/mel-2024/cadre/e1-a1/modifier",
                &[("title", "piraté"), ("csrf", csrf), ("version", &version)],
            )
            .await;
        assert_eq!(r.status, 403, "csrf {csrf:?}");
        assert!(r.text.contains("Jeton de sécurité invalide"));
    }
    let r = p.post_form("/deconnexion", &[("csrf", "bad")]).await;
    assert_eq!(r.status, 403);
    assert_ne!(
        app.contract("mel-2024")
            .await
            .document
            .find_node("e1-a1")
            .unwrap()
            .0
            .title,
        "piraté"
    );

    // Another user's token does not work either.
    app.user("pilote2@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let other = app.signed_in("pilote2@mel.fr").await;
    let other_token = session_csrf(&other).await;
    let r = p
        .post_form(
            "/contrats/mel-2024/cadre/e1-a1/modifier",
            &[
                ("title", "piraté"),
                ("csrf", &other_token),
                ("version", &version),
            ],
        )
        .await;
    assert_eq!(r.status, 403);

    // The login form has its own token.
    let anon = app.client();
    let r = anon
        .post_form(
            "/connexion",
            &[
                ("email", "pilote@mel.fr"),
                ("password", PASSWORD),
                ("csrf", "x"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
}
both_engines!(csrf, forms_without_the_right_token_are_refused);

async fn sign_in_and_out(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let c = app.client();
    let login = c.get("/connexion").await;
    let token = csrf_of(&login.text);
    let wrong = c
        .post_form(
            "/connexion",
            &[
                ("email", "pilote@mel.fr"),
                ("password", "mauvais mot de passe"),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong
        .text
        .contains("Adresse électronique ou mot de passe incorrect."));
    let ok = c
        .post_form(
            "/connexion",
            &[
                ("email", "Pilote@MEL.fr"),
                ("password", PASSWORD),
                ("csrf", &token),
                ("next", "//ailleurs.example"),
            ],
        )
        .await;
    assert_eq!(ok.status, 303);
    assert_eq!(ok.location.as_deref(), Some("/"), "no open redirect");
    let home = c.get("/").await;
    assert!(home.text.contains("pilote@mel.fr") && home.text.contains("Se déconnecter"));
    let csrf = session_csrf(&c).await;
    let out = c.post_form("/deconnexion", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert!(c.get("/").await.text.contains("Se connecter"));
    assert_eq!(c.get("/contrats/mel-2024/modifier").await.status, 401);
}
both_engines!(sessions, sign_in_and_out);

async fn session_cookie_is_protected(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let c = app.client();
    let login = c.get("/connexion").await;
    let token = csrf_of(&login.text);
    let r = c
        .http
        .post(format!("{}/connexion", c.base))
        .form(&[
            ("email", "pilote@mel.fr"),
            ("password", crate::helpers::PASSWORD),
            ("csrf", &token),
        ])
        .send()
        .await
        .unwrap();
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("quartiers_session="))
        .expect("session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
}
both_engines!(session_cookie, session_cookie_is_protected);

async fn repeated_failures_are_rate_limited(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let c = app.client();
    let token = csrf_of(&c.get("/connexion").await.text);
    for _ in 0..5 {
        let r = c
            .post_form(
                "/connexion",
                &[
                    ("email", "pilote@mel.fr"),
                    ("password", "devine"),
                    ("csrf", &token),
                ],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = c
        .post_form(
            "/connexion",
            &[
                ("email", "pilote@mel.fr"),
                ("password", PASSWORD),
                ("csrf", &token),
            ],
        )
        .await;
    assert_eq!(
        r.status, 429,
        "even the right password waits once the limit is reached"
    );
    assert!(r.text.contains("Trop de tentatives"));
}
both_engines!(rate_limit, repeated_failures_are_rate_limited);
