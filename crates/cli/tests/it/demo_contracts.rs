//! The three demonstration contracts, loaded through the public import path, read as the
//! documents describe them.

use crate::both_engines;
use crate::helpers::TestApp;

async fn mel_as_the_press_kit_lists_it(app: TestApp) {
    let app = app.with_demo().await;
    let mel = app.contract("mel-2024").await.document.contract;
    let enjeux: Vec<&str> = mel.framework.iter().map(|n| n.title.as_str()).collect();
    assert_eq!(
        enjeux,
        [
            "Lutter contre les inégalités dès l'enfance, notamment par la réussite éducative et scolaire de tous les jeunes",
            "Amplifier la politique d'accès à l'emploi",
            "Promouvoir l'accès aux soins et à la prévention",
            "Œuvrer pour le vivre ensemble",
            "Construire une transition écologique solidaire",
            "Lutter contre l'isolement et la grande précarité",
        ]
    );
    let ambitions: Vec<usize> = mel.framework.iter().map(|n| n.children.len()).collect();
    assert_eq!(ambitions, [7, 7, 3, 6, 7, 4]);
    assert_eq!(
        mel.framework[3].partners,
        ["État", "MEL", "Communes", "Bailleurs", "Région"]
    );
    assert_eq!(mel.framework[1].children[1].title, "renforcer l'articulation du SPELOF (service public de l'emploi local, de l'orientation et de la formation), en lien avec la mise en place de France Travail");
    assert_eq!(
        mel.framework[4].children[0].scope.as_deref(),
        Some("À l'échelle de la MEL d'ici 2027")
    );
    assert_eq!(mel.levels[0].plural, "enjeux");
    assert_eq!(mel.components.len(), 2);
    assert_eq!(
        mel.components[0].annual_budget_cents.map(|c| c.get()),
        Some(20_000_000_00)
    );
    assert_eq!(
        (
            mel.components[1].period.start_year,
            mel.components[1].period.end_year
        ),
        (2024, 2027)
    );
    assert_eq!(
        mel.components[1].annual_budget_cents.map(|c| c.get()),
        Some(2_000_000_00)
    );
    assert_eq!(mel.qpvs.len(), 26);
    assert!(mel
        .flagship_actions
        .iter()
        .any(|f| f.title.contains("VoisinMalin") && f.node.as_deref() == Some("e4")));
    assert_eq!(
        mel.signed_on.map(|d| d.to_string()).as_deref(),
        Some("2024-05-07")
    );
    assert!(mel
        .sections
        .iter()
        .any(|s| s.body.as_deref().unwrap_or("").contains("2027")
            && s.kind == quartiers_domain::SectionKind::Evaluation));

    // The public page shows it without signing in.
    let page = app.client().get("/contrats/mel-2024").await;
    assert_eq!(page.status, 200);
    for text in [
        "Œuvrer pour le vivre ensemble",
        "Pacte local des solidarités",
        "VoisinMalin",
        "Bailleurs",
        "2024-2027",
        "20\u{202f}000\u{202f}000\u{a0}€",
    ] {
        assert!(
            page.text.contains(&maud::html! { (text) }.into_string()),
            "page lacks {text}"
        );
    }
    let node = app.client().get("/contrats/mel-2024/cadre/e4").await;
    assert_eq!(node.status, 200);
    assert!(node.text.contains("Ambitions") && node.text.contains("VoisinMalin"));
}
both_engines!(mel_contract, mel_as_the_press_kit_lists_it);

async fn call_and_valenciennes(app: TestApp) {
    let app = app.with_demo().await;
    let call = app.contract("call-2024").await.document.contract;
    assert_eq!(
        (call.levels[0].declared_count, call.levels[1].declared_count),
        (Some(3), Some(12))
    );
    assert!(
        call.framework.is_empty(),
        "the brochure does not name its orientations: nothing is invented"
    );
    assert_eq!(call.cross_cutting_axes.len(), 2);
    assert!(call.key_figures.iter().any(|k| k.value == "55 000"));
    assert!(call.key_figures.iter().any(|k| k.value == "21"));
    assert!(call.key_figures.iter().any(|k| k.value == "587"));
    let asv = call
        .sections
        .iter()
        .find(|s| s.title.contains("Atelier Santé Ville"))
        .expect("Atelier Santé Ville");
    assert_eq!(asv.items.len(), 3);
    assert!(call
        .sections
        .iter()
        .any(|s| s.title.contains("Labo de la participation")));

    let val = app.contract("valenciennes-2015").await.document.contract;
    assert_eq!(val.framework.len(), 6);
    assert_eq!(
        val.framework[1].title,
        "Promouvoir la santé et faciliter l'accès aux soins"
    );
    assert_eq!(
        val.signed_on.map(|d| d.to_string()).as_deref(),
        Some("2015-02-26")
    );
    assert_eq!(val.signatories.len(), 4);
    assert!(val
        .key_figures
        .iter()
        .any(|k| k.value == "1,7 M€" && k.year == Some(2015)));
    assert!(val.key_figures.iter().any(|k| k.value == "36 000"));
    assert!(
        val.qpvs.is_empty(),
        "the 2015 QPV are not listed by the source"
    );

    let home = app.client().get("/").await;
    for slug in ["mel-2024", "call-2024", "valenciennes-2015"] {
        assert!(home.text.contains(&format!("/contrats/{slug}")));
    }
    let page = app.client().get("/contrats/call-2024").await;
    assert!(page.text.contains("le contrat en annonce 12") && page.text.contains("non renseigné"));
}
both_engines!(other_contracts, call_and_valenciennes);

async fn demo_loading_is_idempotent(app: TestApp) {
    let app = app.with_demo().await;
    let again = quartiers_web::changes::load_demo(&app.store).await.unwrap();
    assert!(again.is_empty());
    assert_eq!(app.store.list_contracts().await.unwrap().len(), 3);
}
both_engines!(demo_idempotent, demo_loading_is_idempotent);

async fn unknown_pages_are_404(app: TestApp) {
    let app = app.with_demo().await;
    let c = app.client();
    for path in [
        "/nulle-part",
        "/contrats/inconnu",
        "/contrats/mel-2024/cadre/zz",
        "/contrats/mel-2024/volet-local/59350",
    ] {
        let p = c.get(path).await;
        assert_eq!(p.status, 404, "{path}");
        assert!(p.text.contains("Page introuvable"), "{path}");
    }
}
both_engines!(not_found_pages, unknown_pages_are_404);
