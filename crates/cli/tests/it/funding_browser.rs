//! End to end in a real headless Chromium, the funding cycle as its users click through it:
//! an applicant starts an application from « Mes dossiers », saves an incomplete draft,
//! leaves, comes back to it (every saved value is in the form again), completes it and
//! submits it; then, after signing out, the State's instructor finds it in the worklist,
//! starts the instruction and gives an opinion with a proposed amount on the State's line.
//! The call, the organisation and the accounts are set up through the store, as in the
//! HTTP tests of the same pages.

use crate::browser::{browser_and_demo, sign_in, wait_for};
use crate::funding_fixtures::{
    file_statutes, member, new_organisation, open_call, register_funders, save_call, user,
};
use chromiumoxide::cdp::browser_protocol::input::InsertTextParams;
use chromiumoxide::Page;
use quartiers_domain::funding::{CallSettings, Opinion, Status};
use quartiers_domain::Role;

const APPLICANT: &str = "porteur@alma.fr";
const INSTRUCTOR: &str = "instructeur@etat.fr";

/// The element matched by `selector`, or a failure naming it.
async fn element(page: &Page, selector: &str) -> chromiumoxide::Element {
    match page.find_element(selector).await {
        Ok(e) => e,
        Err(e) => panic!("{selector}: {e}"),
    }
}

/// Clicks the element matched by `selector`, as a mouse would.
async fn click(page: &Page, selector: &str) {
    element(page, selector)
        .await
        .click()
        .await
        .unwrap_or_else(|e| panic!("click on {selector}: {e}"));
}

/// Empties a text field, then types `text` into it (inserted as a keyboard would, accented
/// letters included).
async fn fill(page: &Page, selector: &str, text: &str) {
    let field = element(page, selector).await;
    field
        .call_js_fn("function() { this.value = ''; }", false)
        .await
        .unwrap();
    field.click().await.unwrap();
    page.execute(InsertTextParams::new(text)).await.unwrap();
    assert_eq!(
        value_of(page, selector).await,
        text,
        "typed into {selector}"
    );
}

/// Picks `value` in a select (or a date field, whose picker has no keyboard text input),
/// as a change event; fails when the select has no such option.
async fn choose(page: &Page, selector: &str, value: &str) {
    let js = format!(
        "function() {{ this.value = {}; this.dispatchEvent(new Event('change', {{ bubbles: true }})); }}",
        serde_json::to_string(value).unwrap()
    );
    element(page, selector)
        .await
        .call_js_fn(js, false)
        .await
        .unwrap();
    assert_eq!(
        value_of(page, selector).await,
        value,
        "{selector} offers {value}"
    );
}

/// The current value of a form field.
async fn value_of(page: &Page, selector: &str) -> String {
    let js = format!(
        "document.querySelector({}).value",
        serde_json::to_string(selector).unwrap()
    );
    page.evaluate(js)
        .await
        .unwrap()
        .into_value::<String>()
        .unwrap_or_else(|e| panic!("value of {selector}: {e}"))
}

/// Whether a checkbox is checked.
async fn is_checked(page: &Page, selector: &str) -> bool {
    let js = format!(
        "document.querySelector({}).checked",
        serde_json::to_string(selector).unwrap()
    );
    page.evaluate(js).await.unwrap().into_value().unwrap()
}

/// The text of the first element matched by `selector`, trimmed (empty when none).
async fn text_of(page: &Page, selector: &str) -> String {
    let js = format!(
        "(document.querySelector({})?.textContent ?? '').trim()",
        serde_json::to_string(selector).unwrap()
    );
    page.evaluate(js).await.unwrap().into_value().unwrap()
}

/// The body rows (each cell's text, trimmed) of the table whose caption starts with
/// `caption`.
async fn table_rows(page: &Page, caption: &str) -> Vec<Vec<String>> {
    let js = format!(
        "(() => {{
            const t = Array.from(document.querySelectorAll('table'))
                .find(t => t.caption && t.caption.textContent.trim().startsWith({}));
            if (!t) return [];
            return Array.from(t.tBodies[0].rows)
                .map(r => Array.from(r.cells).map(c => c.textContent.trim()));
        }})()",
        serde_json::to_string(caption).unwrap()
    );
    page.evaluate(js).await.unwrap().into_value().unwrap()
}

/// The row of `rows` whose first cell is `first`.
fn row<'a>(rows: &'a [Vec<String>], first: &str) -> &'a [String] {
    rows.iter()
        .find(|r| r.first().is_some_and(|c| c == first))
        .unwrap_or_else(|| panic!("no row « {first} » in {rows:?}"))
}

/// A French amount as the pages write it (`20 000 €`, narrow no-break spaces).
fn euros(n: &str) -> String {
    format!("{}\u{a0}€", n.replace(' ', "\u{202f}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn application_submitted_and_instructed_in_a_real_browser() {
    let Some((headless, app)) = browser_and_demo().await else {
        return;
    };

    // The MEL's financers and its call for projects, open today.
    let contract = app.contract("mel-2024").await;
    register_funders(
        &app,
        contract.id,
        &[
            ("etat", "État — Préfecture du Nord"),
            ("mel", "Métropole Européenne de Lille"),
        ],
        Some("subventions@{code}.fr"),
    )
    .await;
    let year = (quartiers_store::today().year() + 1).min(2030);
    let call_title = format!("Appel à projets {year}");
    let call_id = save_call(
        &app,
        contract.id,
        &CallSettings {
            framing_note: "Priorité à l'emploi des jeunes.".into(),
            required_documents: vec!["statuts".into()],
            ..open_call(year, 10, 30)
        },
        &[("etat", 1_000_000), ("mel", 1_000_000)],
    )
    .await;
    // The applicant's organisation, with its statutes already on file.
    let (applicant_id, org) = member(
        &app,
        APPLICANT,
        &new_organisation(
            "Association Alma Numérique",
            "73282932000074",
            "contact@alma.fr",
        ),
    )
    .await;
    file_statutes(&app, org, applicant_id).await;
    // The State's instructor.
    user(
        &app,
        INSTRUCTOR,
        Some(Role::Financeur),
        Some("etat"),
        contract.id,
    )
    .await;

    let page = headless.browser.new_page("about:blank").await.unwrap();
    // Chromium's default 800 px window: narrower than the DSFR's desktop header, so this also
    // checks that « Se déconnecter » stays reachable without the DSFR's JavaScript menu.
    sign_in(&page, &app.address, APPLICANT).await;

    // « Mes dossiers »: the open call, and its button to start a request.
    page.goto(format!("{}/mes-dossiers", app.address))
        .await
        .unwrap();
    let html = wait_for(&page, "dashboard", |h| {
        h.contains("Appels à projets ouverts")
    })
    .await;
    assert!(html.contains(&call_title), "{html}");
    assert!(html.contains("Aucune demande pour l'instant."), "{html}");
    let start = format!("/appels/{call_id}/dossiers/nouveau?structure={org}");
    assert_eq!(
        text_of(&page, &format!("a[href=\"{start}\"]")).await,
        "Déposer une demande"
    );
    click(&page, &format!("a[href=\"{start}\"]")).await;
    wait_for(&page, "new application form", |h| {
        h.contains("Commencer le dossier") && h.contains("id=\"f-title\"")
    })
    .await;
    let title = "Coup de pouce numérique à l'Alma";
    fill(&page, "#f-title", title).await;
    click(&page, "main form button[type=submit]").await;
    let html = wait_for(&page, "application form", |h| {
        h.contains("Modifier le dossier") && h.contains("id=\"f-description\"")
    })
    .await;
    let url = page.url().await.unwrap().unwrap_or_default();
    let id: i64 = url
        .trim_start_matches(&format!("{}/dossiers/", app.address))
        .trim_end_matches("/modifier")
        .parse()
        .unwrap_or_else(|_| panic!("edit page URL: {url}"));
    let reference = app.store.application(id).await.unwrap().reference;
    assert_eq!(
        text_of(&page, "h1").await,
        format!("Modifier le dossier {reference}")
    );
    assert!(html.contains("Pièces manquantes pour déposer le dossier"));
    assert_eq!(value_of(&page, "#f-title").await, title);

    // A first, incomplete draft: no indicator, and a budget that does not balance yet.
    let start_on = format!("{year}-01-15");
    let end_on = format!("{year}-12-31");
    fill(
        &page,
        "#f-description",
        "Ateliers d'inclusion numérique au centre social, deux fois par semaine.",
    )
    .await;
    fill(
        &page,
        "#f-objectives",
        "Accompagner 120 habitants vers l'autonomie numérique",
    )
    .await;
    choose(&page, "#f-start_on", &start_on).await;
    choose(&page, "#f-end_on", &end_on).await;
    fill(&page, "#f-places", "Roubaix, quartier de l'Alma").await;
    choose(&page, "#f-component", "Contrat de ville").await;
    click(&page, "label[for=\"fk-e1\"]").await;
    click(&page, "label[for=\"qpv-QN05965M\"]").await;
    assert!(is_checked(&page, "#fk-e1").await && is_checked(&page, "#qpv-QN05965M").await);
    fill(
        &page,
        "#f-public_description",
        "Adultes éloignés du numérique",
    )
    .await;
    fill(&page, "#f-expected_beneficiaries", "120").await;
    fill(&page, "#f-qpv_share_percent", "80").await;
    choose(&page, "[name=b_0_c_0_account]", "64").await;
    fill(&page, "[name=b_0_c_0_label]", "Salaires des animateurs").await;
    fill(&page, "[name=b_0_c_0_amount]", "30 000").await;
    choose(&page, "[name=b_0_p_0_account]", "74").await;
    fill(&page, "[name=b_0_p_0_label]", "Subvention de l'État").await;
    fill(&page, "[name=b_0_p_0_amount]", "20000").await;
    choose(&page, "[name=b_0_p_0_funder]", "etat").await;
    click(&page, "button[name=action][value=save]").await;
    wait_for(&page, "draft saved", |h| {
        h.contains("Brouillon enregistré.")
    })
    .await;
    let missing = text_of(&page, "main .fr-alert--info").await;
    assert!(
        missing.contains("Pièces manquantes pour déposer le dossier")
            && missing.contains("Il manque au moins un indicateur avec sa cible.")
            && missing.contains(&format!("Le budget {year} n'est pas équilibré")),
        "{missing}"
    );
    assert!(!missing.contains("Il manque le titre"), "{missing}");
    assert!(
        !missing.contains("Statuts"),
        "the statutes are on file: {missing}"
    );
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::Brouillon
    );

    // Leaving: the dashboard lists the draft with the amount its budget asks.
    page.goto(format!("{}/mes-dossiers", app.address))
        .await
        .unwrap();
    wait_for(&page, "dashboard with the draft", |h| {
        h.contains(&reference)
    })
    .await;
    let rows = table_rows(&page, "Demandes de").await;
    let draft = row(&rows, &reference);
    assert_eq!(draft[1], title);
    assert_eq!(draft[3], "brouillon");
    assert_eq!(draft[4], euros("20 000"));
    assert_eq!(draft[5], "Modifier");

    // Coming back: every saved value is in the form.
    click(&page, &format!("a[href=\"/dossiers/{id}/modifier\"]")).await;
    wait_for(&page, "form resumed", |h| {
        h.contains("id=\"f-description\"") && !h.contains("Brouillon enregistré.")
    })
    .await;
    for (selector, expected) in [
        ("#f-title", title),
        (
            "#f-description",
            "Ateliers d'inclusion numérique au centre social, deux fois par semaine.",
        ),
        (
            "#f-objectives",
            "Accompagner 120 habitants vers l'autonomie numérique",
        ),
        ("#f-start_on", start_on.as_str()),
        ("#f-end_on", end_on.as_str()),
        ("#f-places", "Roubaix, quartier de l'Alma"),
        ("#f-component", "Contrat de ville"),
        ("#f-public_description", "Adultes éloignés du numérique"),
        ("#f-expected_beneficiaries", "120"),
        ("#f-qpv_share_percent", "80"),
        ("[name=b_0_c_0_account]", "64"),
        ("[name=b_0_c_0_label]", "Salaires des animateurs"),
        ("[name=b_0_c_0_amount]", "30000"),
        ("[name=b_0_p_0_account]", "74"),
        ("[name=b_0_p_0_label]", "Subvention de l'État"),
        ("[name=b_0_p_0_amount]", "20000"),
        ("[name=b_0_p_0_funder]", "etat"),
        ("[name=b_0_p_1_amount]", ""),
        ("[name=ind_0_name]", ""),
    ] {
        assert_eq!(value_of(&page, selector).await, expected, "{selector}");
    }
    assert!(is_checked(&page, "#fk-e1").await, "framework node kept");
    assert!(is_checked(&page, "#qpv-QN05965M").await, "QPV kept");
    assert!(!is_checked(&page, "#fk-e2").await);

    // Completing it: an indicator and the MEL's share of the income.
    fill(&page, "[name=ind_0_name]", "Personnes accompagnées").await;
    fill(&page, "[name=ind_0_target]", "120").await;
    fill(&page, "[name=ind_0_unit]", "personnes").await;
    choose(&page, "[name=b_0_p_1_account]", "74").await;
    fill(&page, "[name=b_0_p_1_label]", "Subvention de la MEL").await;
    fill(&page, "[name=b_0_p_1_amount]", "10000").await;
    choose(&page, "[name=b_0_p_1_funder]", "mel").await;
    click(&page, "button[name=action][value=save]").await;
    wait_for(&page, "complete draft saved", |h| {
        h.contains("Brouillon enregistré.")
            && h.contains("Le dossier est complet : vous pouvez le déposer depuis sa page.")
    })
    .await;
    assert_eq!(text_of(&page, "main .fr-alert--info").await, "");

    // Submitting it from its page.
    click(&page, &format!("main p a[href=\"/dossiers/{id}\"]")).await;
    wait_for(&page, "application page", |h| {
        h.contains(&format!("/dossiers/{id}/evenements/deposer"))
    })
    .await;
    assert_eq!(text_of(&page, "main p.fr-badge").await, "brouillon");
    click(
        &page,
        &format!("form[action=\"/dossiers/{id}/evenements/deposer\"] button[type=submit]"),
    )
    .await;
    let html = wait_for(&page, "submitted", |h| {
        h.contains("L'action est enregistrée.")
    })
    .await;
    assert_eq!(text_of(&page, "h1").await, format!("Dossier {reference}"));
    assert_eq!(text_of(&page, "main p.fr-badge").await, "déposé");
    assert!(html.contains("Déposé le"), "{html}");
    assert!(
        !html.contains("evenements/deposer"),
        "submitted once: no second « déposer »"
    );
    let lines = table_rows(&page, "Lignes de financement").await;
    let etat = row(&lines, "État — Préfecture du Nord");
    assert_eq!(
        (etat[1].as_str(), etat[2].as_str(), etat[3].as_str()),
        (euros("20 000").as_str(), "—", "en attente")
    );
    assert_eq!(
        row(&lines, "Métropole Européenne de Lille")[1],
        euros("10 000")
    );
    // The dashboard: submitted, no longer editable.
    page.goto(format!("{}/mes-dossiers", app.address))
        .await
        .unwrap();
    wait_for(&page, "dashboard after submission", |h| {
        h.contains(&reference)
    })
    .await;
    let rows = table_rows(&page, "Demandes de").await;
    let submitted = row(&rows, &reference);
    assert_eq!(submitted[3], "déposé");
    assert_eq!(submitted[4], euros("30 000"));
    assert_eq!(submitted[5], "", "no « Modifier » link any more");
    let stored = app.store.application(id).await.unwrap();
    assert_eq!(stored.status, Status::Depose);
    assert_eq!(stored.body.title, title);
    assert_eq!(stored.body.indicators.len(), 1);

    // The applicant signs out; the State's instructor signs in.
    click(&page, "form[action=\"/deconnexion\"] button[type=submit]").await;
    wait_for(&page, "signed out", |h| {
        h.contains("Se connecter") && !h.contains("Se déconnecter")
    })
    .await;
    sign_in(&page, &app.address, INSTRUCTOR).await;

    // The worklist shows it among the submitted ones.
    page.goto(format!("{}/contrats/mel-2024/instruction", app.address))
        .await
        .unwrap();
    let html = wait_for(&page, "worklist", |h| h.contains("Dossiers à instruire")).await;
    assert!(html.contains("Déposé (1)"), "{html}");
    let rows = table_rows(&page, "Dossiers « déposé »").await;
    let listed = row(&rows, &reference);
    assert_eq!(listed[1], title);
    assert_eq!(listed[2], "Association Alma Numérique");
    assert_eq!(listed[4], euros("20 000"), "the amount asked of the State");
    assert_eq!(listed[6], "à donner");

    // From the worklist to the application: the instruction starts.
    click(&page, &format!("td a[href=\"/dossiers/{id}\"]")).await;
    wait_for(&page, "application page for the instructor", |h| {
        h.contains(&format!("/dossiers/{id}/evenements/instruire"))
    })
    .await;
    assert!(
        page.find_element("#avis-etat-opinion").await.is_err(),
        "no opinion before the instruction starts"
    );
    click(
        &page,
        &format!("form[action=\"/dossiers/{id}/evenements/instruire\"] button[type=submit]"),
    )
    .await;
    let html = wait_for(&page, "instruction started", |h| {
        h.contains("L'action est enregistrée.") && h.contains("id=\"avis-etat-opinion\"")
    })
    .await;
    assert_eq!(text_of(&page, "main p.fr-badge").await, "en instruction");
    assert!(
        !html.contains("id=\"avis-mel-opinion\""),
        "the MEL's line is not the State's to judge"
    );
    // The proposed amount starts at the amount asked.
    assert_eq!(value_of(&page, "#avis-etat-proposed").await, "20000");

    // The opinion, with a reduced amount.
    choose(&page, "#avis-etat-opinion", "reserve").await;
    fill(&page, "#avis-etat-proposed", "18 000").await;
    fill(&page, "#avis-etat-comment", "Réduire le volet matériel").await;
    click(
        &page,
        &format!("form[action=\"/dossiers/{id}/avis/etat\"] button[type=submit]"),
    )
    .await;
    wait_for(&page, "opinion saved", |h| {
        h.contains("Votre avis est enregistré.")
    })
    .await;
    let lines = table_rows(&page, "Lignes de financement").await;
    let etat = row(&lines, "État — Préfecture du Nord");
    assert_eq!(etat[1], euros("20 000"));
    assert_eq!(etat[2], euros("18 000"), "proposed amount shown");
    assert!(
        etat[3].starts_with("favorable avec réserves")
            && etat[3].ends_with("Réduire le volet matériel"),
        "{:?}",
        etat[3]
    );
    let mel = row(&lines, "Métropole Européenne de Lille");
    assert_eq!((mel[2].as_str(), mel[3].as_str()), ("—", "en attente"));
    // One opinion of two: still in instruction; the form shows what was given.
    assert_eq!(text_of(&page, "main p.fr-badge").await, "en instruction");
    assert_eq!(value_of(&page, "#avis-etat-opinion").await, "reserve");
    assert_eq!(value_of(&page, "#avis-etat-proposed").await, "18000");
    let history = table_rows(&page, "Journal des actions").await;
    assert!(
        history
            .iter()
            .any(|r| r[2] == "avis de État — Préfecture du Nord"
                && r[4]
                    == format!(
                        "favorable avec réserves — montant proposé {} — Réduire le volet matériel",
                        euros("18 000")
                    )),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .any(|r| r[2] == "mettre en instruction" && r[3] == "déposé → en instruction"),
        "{history:?}"
    );

    // The worklist again: in instruction, with the State's proposal and opinion.
    page.goto(format!("{}/contrats/mel-2024/instruction", app.address))
        .await
        .unwrap();
    let html = wait_for(&page, "worklist after the opinion", |h| {
        h.contains("En instruction (1)")
    })
    .await;
    assert!(html.contains("Déposé (0)"), "{html}");
    let rows = table_rows(&page, "Dossiers « en instruction »").await;
    let listed = row(&rows, &reference);
    assert_eq!(listed[5], euros("18 000"));
    assert_eq!(listed[6], "favorable avec réserves");

    headless.close().await;
    let stored = app.store.application(id).await.unwrap();
    assert_eq!(stored.status, Status::EnInstruction);
    let lines = app.store.funding_lines(id).await.unwrap();
    let etat = lines.iter().find(|l| l.funder == "etat").unwrap();
    assert_eq!(
        (etat.opinion, etat.proposed, etat.requested),
        (Some(Opinion::Reserve), Some(1_800_000), 2_000_000)
    );
    let mel = lines.iter().find(|l| l.funder == "mel").unwrap();
    assert_eq!((mel.opinion, mel.proposed), (None, None));
}
