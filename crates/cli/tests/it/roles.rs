//! Every write route, for every role: allowed for the contract's pilots and platform
//! administrators, refused for everyone else (including a pilot of another contract).

use crate::both_engines;
use crate::helpers::{session_csrf, Client, TestApp};
use quartiers_domain::Role;

/// The write routes of the pages, with valid fields (csrf and version are added).
fn write_routes(last_key: &str) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    [
        (
            "/contrats/mel-2024/modifier",
            vec![
                ("name", "Contrat de ville et des solidarités"),
                ("territory.pilot_name", "Métropole Européenne de Lille"),
                ("period.start_year", "2024"),
                ("period.end_year", "2030"),
                ("levels", "enjeu / enjeux\nambition / ambitions"),
            ],
        ),
        (
            "/contrats/mel-2024/cadre/nouveau?parent=e1",
            vec![("title", "Nouvelle ambition")],
        ),
        (
            "/contrats/mel-2024/cadre/e1-a1/modifier",
            vec![("title", "Ambition modifiée")],
        ),
        (
            "/contrats/mel-2024/cadre/e1-a1/deplacer",
            vec![("direction", "down")],
        ),
        (
            "/contrats/mel-2024/chiffres-cles/nouveau",
            vec![("label", "Actions financées"), ("value", "612")],
        ),
        (
            "/contrats/mel-2024/chiffres-cles/1/modifier",
            vec![("label", "QPV"), ("value", "26")],
        ),
        (
            "/contrats/mel-2024/chiffres-cles/1/deplacer",
            vec![("direction", "down")],
        ),
        ("/contrats/mel-2024/chiffres-cles/1/supprimer", vec![]),
    ]
    .into_iter()
    .map(|(p, f)| (p.to_string(), f))
    .chain(std::iter::once((
        format!("/contrats/mel-2024/cadre/{last_key}/supprimer"),
        vec![],
    )))
    .collect()
}

async fn routes(app: &TestApp) -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let doc = app.contract("mel-2024").await.document;
    write_routes(&doc.contract.framework[5].children.last().unwrap().key)
}

async fn post_as(
    app: &TestApp,
    c: &Client,
    signed_in: bool,
    path: &str,
    fields: &[(&str, &str)],
) -> u16 {
    let csrf = if signed_in {
        session_csrf(c).await
    } else {
        String::new()
    };
    let version = app.contract("mel-2024").await.version.to_string();
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("csrf", &csrf));
    all.push(("version", &version));
    c.post_form(path, &all).await.status
}

async fn page_writes_by_role(app: TestApp) {
    let app = app.with_demo().await;
    app.user("admin@quartiers.fr", None, true).await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    app.user("pilote@call.fr", Some((Role::Pilote, "call-2024")), false)
        .await;
    app.user(
        "financeur@mel.fr",
        Some((Role::Financeur, "mel-2024")),
        false,
    )
    .await;
    app.user("porteur@mel.fr", Some((Role::Porteur, "mel-2024")), false)
        .await;
    app.user("lecteur@mel.fr", Some((Role::Lecteur, "mel-2024")), false)
        .await;

    let anonymous = app.client();
    for (path, fields) in routes(&app).await {
        assert_eq!(
            post_as(&app, &anonymous, false, &path, &fields).await,
            401,
            "anonymous POST {path}"
        );
        let form_path = path.replace("/deplacer", "/modifier");
        if !path.ends_with("/deplacer") {
            assert_eq!(
                anonymous.get(&form_path).await.status,
                401,
                "anonymous GET {form_path}"
            );
        }
    }
    for who in [
        "financeur@mel.fr",
        "porteur@mel.fr",
        "lecteur@mel.fr",
        "pilote@call.fr",
    ] {
        let c = app.signed_in(who).await;
        for (path, fields) in routes(&app).await {
            let before = app.contract("mel-2024").await.version;
            assert_eq!(
                post_as(&app, &c, true, &path, &fields).await,
                403,
                "{who} POST {path}"
            );
            assert_eq!(
                app.contract("mel-2024").await.version,
                before,
                "{who} changed nothing"
            );
            if !path.ends_with("/deplacer") {
                assert_eq!(c.get(&path).await.status, 403, "{who} GET {path}");
            }
        }
        let page = c.get("/contrats/mel-2024").await;
        assert!(
            !page.text.contains("/cadre/e1/modifier"),
            "{who} sees no edit controls"
        );
        assert_eq!(
            c.get("/contrats/nouveau").await.status,
            403,
            "{who} import form"
        );
        assert_eq!(
            post_as(&app, &c, true, "/contrats/mel-2024/supprimer", &[]).await,
            403,
            "{who} delete contract"
        );
    }
    for who in ["pilote@mel.fr", "admin@quartiers.fr"] {
        let c = app.signed_in(who).await;
        let page = c.get("/contrats/mel-2024").await;
        assert!(
            page.text.contains("/cadre/e1/modifier"),
            "{who} sees edit controls"
        );
        for (path, fields) in routes(&app).await {
            let before = app.contract("mel-2024").await.version;
            assert_eq!(
                post_as(&app, &c, true, &path, &fields).await,
                303,
                "{who} POST {path}"
            );
            assert_eq!(
                app.contract("mel-2024").await.version,
                before + 1,
                "{who} {path} is one amendment"
            );
        }
    }
    // Only administrators import and delete whole contracts.
    let pilot = app.signed_in("pilote@mel.fr").await;
    assert_eq!(pilot.get("/contrats/nouveau").await.status, 403);
    assert_eq!(
        post_as(&app, &pilot, true, "/contrats/mel-2024/supprimer", &[]).await,
        403
    );
    let admin = app.signed_in("admin@quartiers.fr").await;
    assert_eq!(admin.get("/contrats/nouveau").await.status, 200);
    assert_eq!(
        post_as(
            &app,
            &admin,
            true,
            "/contrats/valenciennes-2015/supprimer",
            &[]
        )
        .await,
        303
    );
    assert_eq!(admin.get("/contrats/valenciennes-2015").await.status, 404);
}
both_engines!(pages_by_role, page_writes_by_role);
