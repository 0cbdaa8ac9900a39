//! Bad input on every form: a 422 page with the typed values kept and a French message
//! beside the field, and nothing written.

use crate::both_engines;
use crate::helpers::{form_values, TestApp};
use quartiers_domain::Role;

/// (form page, fields to type, expected French message)
fn bad_inputs() -> Vec<(
    &'static str,
    Vec<(&'static str, &'static str)>,
    &'static str,
)> {
    vec![
        (
            "/contrats/mel-2024/modifier",
            vec![("name", "  ")],
            "Ce champ est obligatoire.",
        ),
        (
            "/contrats/mel-2024/modifier",
            vec![("territory.pilot_siren", "200093202")],
            "clé de contrôle",
        ),
        (
            "/contrats/mel-2024/modifier",
            vec![("period.start_year", "2031")],
            "avant de commencer",
        ),
        (
            "/contrats/mel-2024/modifier",
            vec![("period.end_year", "deux mille trente")],
            "n'est pas une année",
        ),
        (
            "/contrats/mel-2024/modifier",
            vec![("signed_on", "07/05/2024")],
            "n'est pas une date valide",
        ),
        (
            "/contrats/mel-2024/modifier",
            vec![("levels", "enjeu")],
            "singulier / pluriel",
        ),
        (
            "/contrats/mel-2024/modifier",
            vec![("territory.communes", "5935 Lille")],
            "code INSEE",
        ),
        (
            "/contrats/mel-2024/modifier",
            vec![("territory.communes", "59350 Lille\n59350 Lille")],
            "figure deux fois",
        ),
        (
            "/contrats/mel-2024/cadre/e1-a1/modifier",
            vec![("title", "")],
            "Ce champ est obligatoire.",
        ),
        (
            "/contrats/mel-2024/cadre/e1-a1/modifier",
            vec![("title", &*"x".repeat(301).leak())],
            "300 caractères",
        ),
        (
            "/contrats/mel-2024/cadre/nouveau?parent=e2",
            vec![("title", " ")],
            "Ce champ est obligatoire.",
        ),
        (
            "/contrats/mel-2024/composantes/nouveau",
            vec![
                ("name", "Pacte"),
                ("period.start_year", "2027"),
                ("period.end_year", "2024"),
            ],
            "avant de commencer",
        ),
        (
            "/contrats/mel-2024/composantes/nouveau",
            vec![
                ("name", "Pacte"),
                ("period.start_year", "2024"),
                ("period.end_year", "2027"),
                ("annual_budget_cents", "-2 000 000"),
            ],
            "négatif",
        ),
        (
            "/contrats/mel-2024/composantes/1/modifier",
            vec![("annual_budget_cents", "vingt millions")],
            "n'est pas un montant",
        ),
        (
            "/contrats/mel-2024/signataires/nouveau",
            vec![("institution", "")],
            "Ce champ est obligatoire.",
        ),
        (
            "/contrats/mel-2024/chiffres-cles/nouveau",
            vec![("label", "Actions"), ("value", "")],
            "Ce champ est obligatoire.",
        ),
        (
            "/contrats/mel-2024/chiffres-cles/nouveau",
            vec![("label", "Actions"), ("value", "600"), ("year", "1789")],
            "entre 1990 et 2100",
        ),
        (
            "/contrats/mel-2024/axes-transversaux/nouveau",
            vec![("key", "axe 1 !")],
            "lettres, chiffres",
        ),
        (
            "/contrats/mel-2024/actions-phares/nouveau",
            vec![("title", "")],
            "Ce champ est obligatoire.",
        ),
        (
            "/contrats/mel-2024/quartiers/nouveau",
            vec![("code", "QX123")],
            "n'est pas un code QPV",
        ),
        (
            "/contrats/mel-2024/quartiers/nouveau",
            vec![("code", "QN05971M")],
            "figure deux fois",
        ),
        (
            "/contrats/mel-2024/quartiers/nouveau",
            vec![("name", "Sans code"), ("communes", "59350\nABCDE")],
            "code INSEE",
        ),
        (
            "/contrats/mel-2024/sites-renouvellement/nouveau",
            vec![("name", "Site"), ("communes", "1234")],
            "code INSEE",
        ),
        (
            "/contrats/mel-2024/volets-locaux/nouveau",
            vec![("commune", "Roubaix"), ("title", "Volet")],
            "code INSEE",
        ),
        (
            "/contrats/mel-2024/volets-locaux/nouveau",
            vec![
                ("commune", "59512"),
                ("title", "Volet"),
                ("adopted_on", "2024-13-45"),
            ],
            "n'est pas une date valide",
        ),
        (
            "/contrats/mel-2024/sections/nouveau",
            vec![("kind", "inconnu"), ("title", "X")],
            "Type de section inconnu",
        ),
        (
            "/contrats/mel-2024/sections/nouveau",
            vec![
                ("kind", "governance"),
                ("title", "X"),
                ("effective_on", "hier"),
            ],
            "n'est pas une date valide",
        ),
        (
            "/contrats/mel-2024/sections/nouveau",
            vec![
                ("kind", "governance"),
                ("title", "X"),
                ("effective_on", "2999-01-01"),
            ],
            "dans le futur",
        ),
    ]
}

async fn every_form_reports_bad_input(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let p = app.signed_in("pilote@mel.fr").await;
    let before = app.contract("mel-2024").await;
    for (form, fields, message) in bad_inputs() {
        let r = p.submit(form, None, &fields).await;
        assert_eq!(r.status, 422, "{form} {fields:?}: {}", r.text);
        let escaped = maud::html! { (message) }.into_string();
        assert!(
            r.text.contains(&escaped),
            "{form} {fields:?}: message « {message} » missing"
        );
        assert!(
            r.text.contains("fr-error-text") || r.text.contains("fr-alert--error"),
            "{form}: error shown on the form"
        );
        // What the user typed is kept.
        let kept = form_values(&r.text);
        for (k, v) in &fields {
            if *k != "effective_on" && *k != "kind" && !v.contains('\n') {
                assert_eq!(
                    kept.get(*k).map(String::as_str),
                    Some(*v),
                    "{form}: {k} kept"
                );
            }
        }
    }
    let after = app.contract("mel-2024").await;
    assert_eq!(after.version, before.version, "nothing was written");
    assert_eq!(after.document, before.document);
}
both_engines!(bad_input, every_form_reports_bad_input);

async fn concurrent_edits_are_refused_not_lost(app: TestApp) {
    let app = app.with_demo().await;
    app.user("a@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    app.user("b@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let a = app.signed_in("a@mel.fr").await;
    let b = app.signed_in("b@mel.fr").await;
    let form_a = form_values(&a.get("/contrats/mel-2024/cadre/e2-a1/modifier").await.text);
    let form_b = form_values(&b.get("/contrats/mel-2024/cadre/e2-a1/modifier").await.text);
    let post = |c: &crate::helpers::Client,
                mut f: std::collections::HashMap<String, String>,
                title: &str| {
        f.insert("title".into(), title.into());
        let pairs: Vec<(String, String)> = f.into_iter().collect();
        let url = format!("{}/contrats/mel-2024/cadre/e2-a1/modifier", c.base);
        let http = c.http.clone();
        async move { http.post(url).form(&pairs).send().await.unwrap() }
    };
    assert_eq!(post(&a, form_a, "version de A").await.status(), 303);
    let second = post(&b, form_b, "version de B").await;
    assert_eq!(second.status(), 409);
    let text = second.text().await.unwrap();
    assert!(text.contains("modifié par quelqu'un d'autre"));
    assert!(
        text.contains("version de B"),
        "B's text is kept on the form"
    );
    assert_eq!(
        app.contract("mel-2024")
            .await
            .document
            .find_node("e2-a1")
            .unwrap()
            .0
            .title,
        "version de A"
    );
}
both_engines!(
    optimistic_concurrency,
    concurrent_edits_are_refused_not_lost
);

async fn malformed_import_files_are_rejected_whole(app: TestApp) {
    let app = app.with_demo().await;
    app.user("admin@quartiers.fr", None, true).await;
    let admin = app.signed_in("admin@quartiers.fr").await;
    let csrf = crate::helpers::session_csrf(&admin).await;
    let upload = |content: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .part(
                "fichier",
                reqwest::multipart::Part::bytes(content).file_name("contrat.json"),
            );
        let http = admin.http.clone();
        let url = format!("{}/contrats/nouveau", admin.base);
        async move {
            let r = http.post(url).multipart(form).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let (status, text) = upload(b"{\n  \"format\": \"quartiers-contrat\",\n  \"version\": 1,\n  \"contract\": {\n    \"slug\": \n}".to_vec()).await;
    assert_eq!(status, 422);
    assert!(text.contains("ligne 6"), "{text}");
    let mut bad = quartiers_web::changes::DEMO_CONTRACTS[0]
        .1
        .replace("\"slug\": \"mel-2024\"", "\"slug\": \"mel-bis\"");
    bad = bad.replacen(
        "\"title\": \"Œuvrer pour le vivre ensemble\"",
        "\"title\": \"\"",
        1,
    );
    let (status, text) = upload(bad.into_bytes()).await;
    assert_eq!(status, 422);
    assert!(text.contains("contract.framework[3].title"), "{text}");
    let (status, text) = upload(vec![0xff, 0xfe, 0x00, 0x01]).await;
    assert_eq!(status, 422);
    assert!(text.contains("UTF-8"));
    let (status, text) = upload(
        quartiers_web::changes::DEMO_CONTRACTS[0]
            .1
            .as_bytes()
            .to_vec(),
    )
    .await;
    assert_eq!(status, 409);
    assert!(text.contains("déjà l'identifiant"));
    assert_eq!(
        app.store.list_contracts().await.unwrap().len(),
        3,
        "nothing imported"
    );
    let ok = quartiers_web::changes::DEMO_CONTRACTS[0]
        .1
        .replace("\"slug\": \"mel-2024\"", "\"slug\": \"mel-copie\"");
    let (status, _) = upload(ok.into_bytes()).await;
    assert_eq!(status, 303);
    assert_eq!(
        app.contract("mel-copie")
            .await
            .document
            .contract
            .framework
            .len(),
        6
    );
}
both_engines!(import_bad_files, malformed_import_files_are_rejected_whole);
