//! Every change is an amendment: the framework as of a past date, and what changed between two dates.

use crate::both_engines;
use crate::helpers::TestApp;
use quartiers_domain::Role;

fn esc(s: &str) -> String {
    maud::html! { (s) }.into_string()
}

async fn framework_as_of_a_past_date(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let pilot = app.signed_in("pilote@mel.fr").await;
    let old = "améliorer la situation de l'habitat (qualité des logements, performance énergétique, mixité)";
    let new = "améliorer la situation de l'habitat (qualité, performance énergétique, mixité, accessibilité)";
    assert_eq!(
        app.contract("mel-2024")
            .await
            .document
            .find_node("e4-a2")
            .unwrap()
            .0
            .title,
        old
    );

    let r = pilot
        .submit(
            "/contrats/mel-2024/cadre/e4-a2/modifier",
            None,
            &[
                ("title", new),
                ("effective_on", "2025-06-01"),
                ("reason", "Avenant n° 1, comité de pilotage"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        r.location.as_deref(),
        Some("/contrats/mel-2024/cadre/e4-a2")
    );

    let c = app.client();
    let now = c.get("/contrats/mel-2024").await;
    assert!(now.text.contains(&esc(new)) && !now.text.contains(&esc(old)));
    let before = c.get("/contrats/mel-2024?date=2024-12-31").await;
    assert_eq!(before.status, 200);
    assert!(before.text.contains(&esc(old)) && !before.text.contains(&esc(new)));
    assert!(before.text.contains("31 décembre 2024"));
    let too_early = c.get("/contrats/mel-2024?date=2020-01-01").await;
    assert_eq!(too_early.status, 422);
    assert!(too_early.text.contains("n'existait pas encore"));

    let history = c.get("/contrats/mel-2024/avenants").await;
    assert!(
        history
            .text
            .contains(&esc(&format!("Modification — ambition « {new} »"))),
        "{}",
        history.text
    );
    assert!(history.text.contains("Avenant n° 1, comité de pilotage"));
    assert!(
        !history.text.contains("pilote@mel.fr"),
        "authors' emails are not public"
    );
    assert!(history.text.contains("un membre de l'équipe du contrat"));
    assert!(
        pilot
            .get("/contrats/mel-2024/avenants")
            .await
            .text
            .contains("pilote@mel.fr"),
        "signed-in users see who changed what"
    );
    assert!(history.text.contains("Création du contrat (import)"));

    let between = c
        .get("/contrats/mel-2024/avenants?du=2025-01-01&au=2025-12-31")
        .await;
    assert!(between.text.contains("1 avenant(s)"));
    assert!(
        between.text.contains("framework/e4-a2")
            && between.text.contains(&esc(old))
            && between.text.contains(&esc(new))
    );
    let none = c
        .get("/contrats/mel-2024/avenants?du=2024-06-01&au=2024-12-31")
        .await;
    assert!(none.text.contains("Aucune différence"));
    let reversed = c
        .get("/contrats/mel-2024/avenants?du=2025-12-31&au=2025-01-01")
        .await;
    assert!(reversed
        .text
        .contains("La date de fin précède la date de début."));

    // An amendment cannot be backdated before the previous one.
    let r = pilot
        .submit(
            "/contrats/mel-2024/cadre/e4-a2/modifier",
            None,
            &[("title", "autre"), ("effective_on", "2025-01-01")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r
        .text
        .contains("ne peut pas précéder celle du dernier avenant"));
    assert_eq!(
        app.contract("mel-2024")
            .await
            .document
            .find_node("e4-a2")
            .unwrap()
            .0
            .title,
        new
    );
}
both_engines!(as_of_date, framework_as_of_a_past_date);

async fn every_element_can_be_created_edited_reordered_deleted(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let p = app.signed_in("pilote@mel.fr").await;

    // A new ambition under enjeu 6, then moved up, then deleted after confirmation.
    let r = p
        .submit(
            "/contrats/mel-2024/cadre/nouveau?parent=e6",
            None,
            &[
                (
                    "title",
                    "développer les outils pour la coordination de l'accès aux droits",
                ),
                ("partners", "État\nMEL"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let doc = app.contract("mel-2024").await.document;
    let added = doc.contract.framework[5].children.last().unwrap();
    assert_eq!((added.key.as_str(), added.partners.len()), ("e6-1", 2));
    let mel_id = app.contract("mel-2024").await.id;
    let node_keys = |app: &TestApp| {
        let store = app.store.clone();
        async move {
            store
                .framework_node_ids(mel_id)
                .await
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        }
    };
    let keys = node_keys(&app).await;
    assert!(
        keys.contains(&"e6-1".to_string()),
        "the node projection follows the framework"
    );
    assert_eq!(keys.len(), 6 + 34 + 1);
    let form = p.get("/contrats/mel-2024").await;
    let csrf = crate::helpers::csrf_of(&form.text);
    let version = app.contract("mel-2024").await.version.to_string();
    let r = p
        .post_form(
            "/contrats/mel-2024/cadre/e6-1/deplacer",
            &[("csrf", &csrf), ("version", &version), ("direction", "up")],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.contract("mel-2024").await.document.contract.framework[5].children[3].key,
        "e6-1"
    );
    let confirm = p.get("/contrats/mel-2024/cadre/e6-1/supprimer").await;
    assert!(confirm.text.contains("Confirmer la suppression"));
    let r = p
        .submit("/contrats/mel-2024/cadre/e6-1/supprimer", None, &[])
        .await;
    assert_eq!(r.status, 303);
    assert!(app
        .contract("mel-2024")
        .await
        .document
        .find_node("e6-1")
        .is_none());
    assert!(
        !node_keys(&app).await.contains(&"e6-1".to_string()),
        "a removed node leaves the projection"
    );

    // A new enjeu at the top level.
    let r = p
        .submit(
            "/contrats/mel-2024/cadre/nouveau",
            None,
            &[
                ("title", "Un septième enjeu"),
                ("scope", "À l'échelle de la MEL d'ici 2030"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.contract("mel-2024")
            .await
            .document
            .contract
            .framework
            .len(),
        7
    );

    // Each list: add an item, edit it, move it, delete it.
    let cases: &[(&str, &[(&str, &str)], &str)] = &[
        (
            "composantes",
            &[
                ("name", "Programme de réussite éducative"),
                ("period.start_year", "2024"),
                ("period.end_year", "2026"),
                ("annual_budget_cents", "150 000"),
            ],
            "Programme de réussite éducative",
        ),
        (
            "signataires",
            &[("institution", "CAF du Nord"), ("represented_by", "")],
            "CAF du Nord",
        ),
        (
            "chiffres-cles",
            &[
                ("label", "Conventions pluriannuelles"),
                ("value", "40"),
                ("year", "2025"),
            ],
            "Conventions pluriannuelles",
        ),
        (
            "axes-transversaux",
            &[
                ("key", "axe-jeunesse"),
                ("title", "Jeunesse"),
                ("nodes", "e1\ne2"),
            ],
            "Jeunesse",
        ),
        (
            "actions-phares",
            &[
                ("title", "Médiation santé"),
                ("carrier", "Association test"),
                ("node", "e3"),
            ],
            "Médiation santé",
        ),
        (
            "quartiers",
            &[
                ("code", "QN06226M"),
                ("name", "Secteur Ouest bis"),
                ("communes", "59350"),
            ],
            "Secteur Ouest bis",
        ),
        (
            "sites-renouvellement",
            &[("name", "Concorde"), ("communes", "59350")],
            "Concorde",
        ),
        (
            "volets-locaux",
            &[
                ("commune", "59512"),
                ("title", "Volet local de Roubaix"),
                ("body", "Stratégie communale."),
                ("adopted_on", "2024-07-01"),
            ],
            "Volet local de Roubaix",
        ),
        (
            "sections",
            &[
                ("kind", "governance"),
                ("title", "Comité de pilotage"),
                ("items", "piloter\nsuivre"),
            ],
            "Comité de pilotage",
        ),
    ];
    for (coll, fields, label) in cases {
        let r = p
            .submit(&format!("/contrats/mel-2024/{coll}/nouveau"), None, fields)
            .await;
        assert_eq!(r.status, 303, "{coll}: {}", r.text);
        let page = p.get("/contrats/mel-2024").await;
        assert!(page.text.contains(&esc(label)), "{coll} item not shown");
        let c = quartiers_domain::edit::Collection::parse(coll).unwrap();
        let n = quartiers_domain::edit::items(&app.contract("mel-2024").await.document, c).len();
        let r = p
            .submit(
                &format!("/contrats/mel-2024/{coll}/{n}/modifier"),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 303, "{coll} edit unchanged: {}", r.text);
        if n > 1 {
            let csrf = crate::helpers::csrf_of(&page.text);
            let version = app.contract("mel-2024").await.version.to_string();
            let r = p
                .post_form(
                    &format!("/contrats/mel-2024/{coll}/{n}/deplacer"),
                    &[("csrf", &csrf), ("version", &version), ("direction", "up")],
                )
                .await;
            assert_eq!(r.status, 303, "{coll} move");
            let items = quartiers_domain::edit::items(&app.contract("mel-2024").await.document, c);
            assert_eq!(
                c.item_label(&items[n - 2]),
                c.item_label(&fields_item(c, fields)),
                "{coll} moved up"
            );
        }
        let idx = quartiers_domain::edit::items(&app.contract("mel-2024").await.document, c)
            .iter()
            .position(|i| c.item_label(i) == c.item_label(&fields_item(c, fields)))
            .unwrap()
            + 1;
        let r = p
            .submit(
                &format!("/contrats/mel-2024/{coll}/{idx}/supprimer"),
                None,
                &[],
            )
            .await;
        assert_eq!(r.status, 303, "{coll} delete");
        assert_eq!(
            quartiers_domain::edit::items(&app.contract("mel-2024").await.document, c).len(),
            n - 1,
            "{coll} deleted"
        );
    }
    let volet = p.get("/contrats/mel-2024/volet-local/59512").await;
    assert_eq!(volet.status, 404, "the volet was deleted");

    // General information.
    let r = p
        .submit(
            "/contrats/mel-2024/modifier",
            None,
            &[("summary", "Présentation revue.")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        app.contract("mel-2024")
            .await
            .document
            .contract
            .summary
            .as_deref(),
        Some("Présentation revue.")
    );
    let amendments = app
        .store
        .amendments(app.contract("mel-2024").await.id)
        .await
        .unwrap();
    assert!(amendments.len() > 30, "every change is an amendment");
}
both_engines!(
    edit_everything,
    every_element_can_be_created_edited_reordered_deleted
);

fn fields_item(
    c: quartiers_domain::edit::Collection,
    fields: &[(&str, &str)],
) -> serde_json::Value {
    let form = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    quartiers_domain::edit::from_form(c.fields(), &form, None).unwrap()
}

async fn a_local_volet_has_its_page(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    let p = app.signed_in("pilote@mel.fr").await;
    let r = p
        .submit(
            "/contrats/mel-2024/volets-locaux/nouveau",
            None,
            &[
                ("commune", "59512"),
                ("title", "Volet local de Roubaix"),
                ("body", "Premier paragraphe.\n\nSecond paragraphe."),
                ("adopted_on", "2024-07-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = app
        .client()
        .get("/contrats/mel-2024/volet-local/59512")
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("Volet local de Roubaix")
            && page.text.contains("1er juillet 2024")
            && page.text.contains("<p>Second paragraphe.</p>")
    );
}
both_engines!(local_volet_page, a_local_volet_has_its_page);
