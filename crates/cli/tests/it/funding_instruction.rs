//! The instruction side of the funding cycle through its pages: financers and calls set up by
//! the pilots, financers' worklists, the application page with opinions on one's own line and
//! workflow actions (double click, forbidden transitions, requests for more information),
//! messages, and the programming committee deciding in bulk against the envelopes, with its
//! minutes. Each route is tried by a role allowed and a role refused.

use crate::both_engines;
use crate::funding_fixtures::{
    application, author, budget, give_opinions, labelled, member, new_organisation, open_call,
    save_call, user,
};
use crate::helpers::{session_csrf, Client, TestApp, PASSWORD};
use quartiers_domain::funding::{ApplicationBody, CallSettings, Decision, Opinion, Status};
use quartiers_domain::{Rna, Role};
use quartiers_store::contracts::Author;
use quartiers_store::funding::committee::LineDecision;
use quartiers_store::funding::organisations::NewOrganisation;

const MEL: &str = "mel-2024";
const PILOT: &str = "pilote@mel.fr";
const STATE: &str = "instructeur@etat.gouv.fr";
const REGION: &str = "instructeur@region.fr";
const ROUBAIX: &str = "instructeur@roubaix.fr";
const APPLICANT: &str = "porteur@asso.fr";
const OTHER: &str = "porteur@autre-asso.fr";

/// Creates an account with `role` on the MEL contract acting for `institution`.
async fn user_for(app: &TestApp, email: &str, role: Role, institution: Option<&str>) -> i64 {
    let c = app.contract(MEL).await;
    let account = user(app, email, Some(role), institution, c.id).await;
    account.user_id.unwrap()
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// A complete application asking each (financer, euros).
fn body(title: &str, asks: &[(&str, i64)]) -> ApplicationBody {
    ApplicationBody {
        framework_keys: vec!["e1".into(), "e1-a1".into()],
        ..application(title, vec![budget(2026, asks, 5_000)])
    }
}

/// The MEL with its financers, the pilot, the instructors and two applicants with their
/// organisations; returns (call id, applicant's organisation).
struct Fixture {
    call_id: i64,
    org: i64,
    applicant_id: i64,
}

async fn fixture(app: &TestApp, envelope_etat: i64) -> Fixture {
    let c = app.contract(MEL).await;
    crate::funding_fixtures::register_funders(
        app,
        c.id,
        &[
            ("etat", "État — Préfecture du Nord"),
            ("mel", "Métropole Européenne de Lille"),
            ("roubaix", "Ville de Roubaix"),
            ("region", "Région Hauts-de-France"),
        ],
        Some("subventions@{code}.fr"),
    )
    .await;
    let settings = CallSettings {
        framing_note: "Priorité à l'emploi des jeunes.".into(),
        calendar: "Comité de programmation en mars.".into(),
        ..open_call(2026, 30, 60)
    };
    let call_id = save_call(
        app,
        c.id,
        &settings,
        &[
            ("etat", envelope_etat),
            ("mel", 100_000),
            ("roubaix", 50_000),
            ("region", 50_000),
        ],
    )
    .await;
    user_for(app, PILOT, Role::Pilote, Some("mel")).await;
    user_for(app, STATE, Role::Financeur, Some("etat")).await;
    user_for(app, REGION, Role::Financeur, Some("region")).await;
    user_for(app, ROUBAIX, Role::Financeur, Some("roubaix")).await;
    let alma = NewOrganisation {
        rna: Some(Rna::parse("W595012345").unwrap()),
        ..new_organisation(
            "Association Alma Numérique",
            "73282932000074",
            "contact@alma.fr",
        )
    };
    let (applicant_id, org) = member(app, APPLICANT, &alma).await;
    let other = new_organisation("Autre association", "44306184100047", "contact@autre.fr");
    member(app, OTHER, &other).await;
    Fixture {
        call_id,
        org,
        applicant_id,
    }
}

/// An application of the applicant's organisation moved to « avis rendus » through the store.
async fn ready_for_committee(
    app: &TestApp,
    f: &Fixture,
    title: &str,
    asks: &[(&str, i64)],
    proposed: &[(&str, i64)],
) -> i64 {
    let a = author(f.applicant_id, APPLICANT);
    let id = app
        .store
        .create_application(f.call_id, f.org, &body(title, asks), None, &a)
        .await
        .unwrap();
    let financers: Vec<Author> = proposed.iter().map(|(f, _)| labelled(f)).collect();
    let opinions: Vec<(&str, i64, &Author)> = proposed
        .iter()
        .zip(&financers)
        .map(|((funder, euros), by)| (*funder, *euros, by))
        .collect();
    give_opinions(app, id, &a, &labelled("pilote"), &opinions).await;
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::AvisRendus
    );
    id
}

/// The version carried by the page's forms.
fn page_version(html: &str) -> String {
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("input[name=version]").unwrap();
    doc.select(&sel)
        .next()
        .and_then(|e| e.value().attr("value"))
        .expect("a version field")
        .to_string()
}

async fn post(c: &Client, path: &str, fields: &[(&str, &str)]) -> crate::helpers::Page {
    let csrf = session_csrf(c).await;
    let mut all: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    all.extend_from_slice(fields);
    c.post_form(path, &all).await
}

/// Posts `fields` (repeated names allowed) with the session's CSRF token: (status, body).
async fn post_pairs(c: &Client, path: &str, mut fields: Vec<(String, String)>) -> (u16, String) {
    let csrf = session_csrf(c).await;
    fields.push(("csrf".into(), csrf));
    let r = c
        .http
        .post(format!("{}{path}", c.base))
        .form(&fields)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Fires `event` from the application page as `c` sees it.
async fn fire(c: &Client, id: i64, event: &str, comment: &str) -> crate::helpers::Page {
    let page = c.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let version = page_version(&page.text);
    post(
        c,
        &format!("/dossiers/{id}/evenements/{event}"),
        &[("version", &version), ("comment", comment)],
    )
    .await
}

async fn financers_and_calls(app: TestApp) {
    let app = app.with_demo().await;
    let c = app.contract(MEL).await;
    user_for(&app, PILOT, Role::Pilote, Some("mel")).await;
    user_for(&app, STATE, Role::Financeur, Some("etat")).await;
    app.user("admin@quartiers.fr", None, true).await;
    app.user(APPLICANT, None, false).await;

    // Financers: pilots only.
    assert_eq!(
        app.client()
            .get("/contrats/mel-2024/financeurs")
            .await
            .status,
        401
    );
    let state = app.signed_in(STATE).await;
    assert_eq!(state.get("/contrats/mel-2024/financeurs").await.status, 403);
    let r = post(
        &state,
        "/contrats/mel-2024/financeurs",
        &[("code", "etat"), ("name", "État")],
    )
    .await;
    assert_eq!(r.status, 403);
    let pilot = app.signed_in(PILOT).await;
    assert_eq!(pilot.get("/contrats/mel-2024/financeurs").await.status, 200);
    let r = post(
        &pilot,
        "/contrats/mel-2024/financeurs",
        &[("code", "État!"), ("name", "État"), ("siret", "123")],
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("n'est pas un code de financeur"),
        "{}",
        r.text
    );
    assert!(r.text.contains("value=\"État\""), "typed name kept");
    let r = post(
        &pilot,
        "/contrats/mel-2024/financeurs",
        &[
            ("code", "etat"),
            ("name", "État"),
            ("siret", "73282932000075"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "bad SIRET: {}", r.text);
    let r = post(
        &pilot,
        "/contrats/mel-2024/financeurs",
        &[
            ("code", "etat"),
            ("name", "État"),
            ("email", "pas-un-courriel"),
        ],
    )
    .await;
    assert_eq!(r.status, 422, "bad email");
    for (code, name, siret) in [
        ("etat", "État", "73282932000074"),
        ("mel", "Métropole Européenne de Lille", ""),
        ("roubaix", "Ville de Roubaix", ""),
    ] {
        let r = post(
            &pilot,
            "/contrats/mel-2024/financeurs",
            &[
                ("code", code),
                ("name", name),
                ("email", &format!("aap@{code}.fr")),
                ("siret", siret),
            ],
        )
        .await;
        assert_eq!(r.status, 303, "{code}: {}", r.text);
    }
    let r = post(
        &pilot,
        "/contrats/mel-2024/financeurs",
        &[("code", "etat"), ("name", "Doublon")],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("existe déjà"));
    assert_eq!(
        pilot
            .get("/contrats/mel-2024/financeurs/etat/modifier")
            .await
            .status,
        200
    );
    assert_eq!(
        pilot
            .get("/contrats/mel-2024/financeurs/inconnu/modifier")
            .await
            .status,
        404
    );
    assert_eq!(
        state
            .get("/contrats/mel-2024/financeurs/etat/modifier")
            .await
            .status,
        403
    );
    let r = post(
        &state,
        "/contrats/mel-2024/financeurs/etat/modifier",
        &[("name", "Renommé par un financeur")],
    )
    .await;
    assert_eq!(r.status, 403);
    // A pilot of another contract steers nothing here.
    app.user("pilote@call.fr", Some((Role::Pilote, "call-2024")), false)
        .await;
    let other_pilot = app.signed_in("pilote@call.fr").await;
    assert_eq!(
        other_pilot
            .get("/contrats/mel-2024/financeurs")
            .await
            .status,
        403
    );
    let r = post(
        &pilot,
        "/contrats/mel-2024/financeurs/etat/modifier",
        &[
            ("name", "État — Préfecture du Nord"),
            ("email", "pref@nord.gouv.fr"),
            ("siret", "73282932000074"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let funders = app.store.funders(c.id).await.unwrap();
    assert_eq!(funders.len(), 3);
    assert_eq!(funders[0].name, "État — Préfecture du Nord");
    assert_eq!(funders[0].email.as_deref(), Some("pref@nord.gouv.fr"));

    // Financer instructors are created with the financer's code (or name) as institution.
    let admin = app.signed_in("admin@quartiers.fr").await;
    let account = |email: &str, institution: &str| {
        vec![
            ("email".to_string(), email.to_string()),
            ("password".to_string(), PASSWORD.to_string()),
            ("role".to_string(), "financeur".to_string()),
            ("contract".to_string(), MEL.to_string()),
            ("institution".to_string(), institution.to_string()),
        ]
    };
    let csrf = session_csrf(&admin).await;
    let mut fields = account("instructrice@roubaix.fr", "Ville de Roubaix");
    fields.push(("csrf".into(), csrf.clone()));
    let r = admin
        .http
        .post(format!("{}/admin/comptes", admin.base))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let id = app
        .store
        .user_by_email("instructrice@roubaix.fr")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        app.store.roles_of(id).await.unwrap()[0]
            .institution
            .as_deref(),
        Some("roubaix")
    );
    let mut fields = account("x@caf.fr", "caf");
    fields.push(("csrf".into(), csrf.clone()));
    let r = admin
        .http
        .post(format!("{}/admin/comptes", admin.base))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 422);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("n'est pas un financeur du contrat"));
    // The same from the command line.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quartiers"))
        .args([
            "user",
            "add",
            "--email",
            "cli@etat.fr",
            "--role",
            "financeur",
            "--contract",
            MEL,
            "--institution",
            "etat",
        ])
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(b"une phrase de passe longue\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cli_user = app
        .store
        .user_by_email("cli@etat.fr")
        .await
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        app.store.roles_of(cli_user).await.unwrap()[0]
            .institution
            .as_deref(),
        Some("etat")
    );

    // Calls: pilots create them.
    assert_eq!(state.get("/contrats/mel-2024/appels").await.status, 403);
    assert_eq!(
        state.get("/contrats/mel-2024/appels/nouveau").await.status,
        403
    );
    assert_eq!(pilot.get("/contrats/mel-2024/appels").await.status, 200);
    let form = pilot.get("/contrats/mel-2024/appels/nouveau").await;
    assert_eq!(form.status, 200);
    let rows = |html: &str| html.matches("name=\"env_funder\"").count();
    let blank = rows(&form.text);
    let opens = (today() - time::Duration::days(10)).to_string();
    let closes = (today() + time::Duration::days(50)).to_string();
    let call_fields = |closes_on: &str, amount: &str| -> Vec<(String, String)> {
        vec![
            ("year", "2026"),
            ("title", "Appel à projets 2026"),
            ("opens_on", opens.as_str()),
            ("closes_on", closes_on),
            ("framing_note", "Priorité à l'emploi des jeunes des QPV."),
            ("calendar", "Comité de programmation le 15 mars."),
            ("required_documents", "statuts"),
            ("required_documents", "rib"),
            ("priority_nodes", "e2"),
            ("env_funder", "etat"),
            ("env_component", "Contrat de ville"),
            ("env_amount", amount),
            ("env_funder", "mel"),
            ("env_component", "Contrat de ville"),
            ("env_amount", "50 000"),
            ("env_funder", ""),
            ("env_component", "Contrat de ville"),
            ("env_amount", ""),
        ]
        .into_iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
    };
    let new_call = "/contrats/mel-2024/appels/nouveau";
    // Closing before opening: refused, typed values kept.
    let (status, text) = post_pairs(&pilot, new_call, call_fields("2020-01-01", "100 000")).await;
    assert_eq!(status, 422);
    assert!(text.contains("antérieure à la date d'ouverture"), "{text}");
    assert!(text.contains("Priorité à l'emploi des jeunes des QPV."));
    // An amount that is not one.
    let (status, text) = post_pairs(&pilot, new_call, call_fields(&closes, "beaucoup")).await;
    assert_eq!(status, 422);
    assert!(text.contains("n'est pas un montant en euros"), "{text}");
    // « Ajouter des lignes » re-renders with more rows, nothing saved.
    let mut more = call_fields(&closes, "100 000");
    more.push(("action".into(), "lignes".into()));
    let (status, text) = post_pairs(&pilot, new_call, more).await;
    assert_eq!(status, 200);
    assert_eq!(
        rows(&text),
        2 + 1 + 3,
        "typed rows, the blank one, three more"
    );
    assert!(rows(&text) > blank);
    assert!(app.store.calls(c.id).await.unwrap().is_empty());
    // Saved.
    let (status, _) = post_pairs(&pilot, new_call, call_fields(&closes, "100 000")).await;
    assert_eq!(status, 303);
    let calls = app.store.calls(c.id).await.unwrap();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.settings.required_documents, vec!["statuts", "rib"]);
    let envelopes = app.store.envelopes(call.id).await.unwrap();
    assert_eq!(envelopes.len(), 2);
    assert_eq!(
        envelopes
            .iter()
            .find(|e| e.funder == "etat")
            .unwrap()
            .amount_cents
            .get(),
        10_000_000
    );
    // Financers and other contracts' pilots may not create or change calls.
    let (status, _) = post_pairs(&state, new_call, call_fields(&closes, "1")).await;
    assert_eq!(status, 403);
    let (status, _) = post_pairs(&other_pilot, new_call, call_fields(&closes, "1")).await;
    assert_eq!(status, 403);
    let (status, _) = post_pairs(
        &state,
        &format!("/appels/{}/modifier", call.id),
        call_fields(&closes, "1"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        other_pilot
            .get(&format!("/appels/{}/modifier", call.id))
            .await
            .status,
        403
    );
    assert_eq!(
        app.store.calls(c.id).await.unwrap()[0].version,
        call.version
    );
    // The same year twice is refused.
    let (status, text) = post_pairs(&pilot, new_call, call_fields(&closes, "100 000")).await;
    assert_eq!(status, 422);
    assert!(text.contains("existe déjà"), "{text}");

    // Editing at a stale version: 409, typed text kept.
    let edit = format!("/appels/{}/modifier", call.id);
    assert_eq!(state.get(&edit).await.status, 403);
    let page = pilot.get(&edit).await;
    assert_eq!(page.status, 200);
    let version = page_version(&page.text);
    let mut fields = call_fields(&closes, "120 000");
    fields.push(("version".into(), version.clone()));
    let (status, _) = post_pairs(&pilot, &edit, fields.clone()).await;
    assert_eq!(status, 303);
    let mut stale = fields;
    stale.retain(|(k, _)| k != "title");
    stale.push(("title".into(), "Titre concurrent".into()));
    let (status, text) = post_pairs(&pilot, &edit, stale).await;
    assert_eq!(status, 409);
    assert!(text.contains("modifié par quelqu'un d'autre"), "{text}");
    assert!(text.contains("Titre concurrent"));
    assert_eq!(
        app.store
            .envelopes(call.id)
            .await
            .unwrap()
            .iter()
            .find(|e| e.funder == "etat")
            .unwrap()
            .amount_cents
            .get(),
        12_000_000
    );

    // The call page: every signed-in user reads it; its pilots see the envelopes' use.
    let show = format!("/appels/{}", call.id);
    assert_eq!(app.client().get(&show).await.status, 401);
    let applicant = app.signed_in(APPLICANT).await;
    let page = applicant.get(&show).await;
    assert_eq!(page.status, 200);
    assert!(page
        .text
        .contains("Priorité à l'emploi des jeunes des QPV."));
    assert!(page.text.contains("Relevé d'identité bancaire"));
    assert!(
        page.text
            .contains("Amplifier la politique d'accès à l'emploi"),
        "priority node title"
    );
    assert!(!page.text.contains("Consommation des enveloppes"));
    let page = pilot.get(&show).await;
    assert!(page.text.contains("Consommation des enveloppes"));
    assert!(page.text.contains("Dossiers déposés"));
    assert_eq!(pilot.get("/appels/999999").await.status, 404);
}

both_engines!(pilots_set_up_financers_and_calls, financers_and_calls);

async fn instruction(app: TestApp) {
    let app = app.with_demo().await;
    let f = fixture(&app, 100_000).await;
    let a = author(f.applicant_id, APPLICANT);
    let id = app
        .store
        .create_application(
            f.call_id,
            f.org,
            &body(
                "Coup de pouce numérique",
                &[("etat", 20_000), ("mel", 10_000)],
            ),
            None,
            &a,
        )
        .await
        .unwrap();
    let draft = app
        .store
        .create_application(f.call_id, f.org, &ApplicationBody::default(), None, &a)
        .await
        .unwrap();
    let reference = app.store.application(id).await.unwrap().reference;
    let path = format!("/dossiers/{id}");

    // Who may read it.
    assert_eq!(app.client().get(&path).await.status, 401);
    let other = app.signed_in(OTHER).await;
    assert_eq!(other.get(&path).await.status, 403, "another organisation");
    let region = app.signed_in(REGION).await;
    assert_eq!(
        region.get(&path).await.status,
        403,
        "financer not solicited"
    );
    let roubaix = app.signed_in(ROUBAIX).await;
    assert_eq!(roubaix.get(&path).await.status, 403);
    let applicant = app.signed_in(APPLICANT).await;
    let page = applicant.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&reference));
    assert!(page.text.contains("/structures/"));
    assert!(
        page.text
            .contains("Lutter contre les inégalités dès l'enfance"),
        "node title"
    );
    assert!(page.text.contains("Personnes accompagnées"));
    assert!(page.text.contains("Total des charges"));
    assert!(page
        .text
        .contains(&format!("/dossiers/{id}/evenements/deposer")));
    assert!(
        !page.text.contains("evenements/instruire"),
        "not the applicant's to fire"
    );

    // Submitting an incomplete draft names every missing piece.
    let r = fire(&applicant, draft, "deposer", "").await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("Il manque le titre de l'action"),
        "{}",
        r.text
    );
    assert!(r.text.contains("Il manque le budget prévisionnel"));

    // A double click on « déposer »: one submission.
    let page = applicant.get(&path).await;
    let version = page_version(&page.text);
    let deposer = format!("/dossiers/{id}/evenements/deposer");
    let r1 = post(&applicant, &deposer, &[("version", &version)]).await;
    let r2 = post(&applicant, &deposer, &[("version", &version)]).await;
    assert_eq!((r1.status, r2.status), (303, 303));
    assert!(r1.location.unwrap().ends_with("note=evenement"));
    assert!(r2.location.as_deref().unwrap().ends_with("note=deja"));
    let page = applicant.get(r2.location.as_deref().unwrap()).await;
    assert!(page.text.contains("n'a été faite qu'une fois"));
    let events = app.store.application_events(id).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.event == "deposer").count(), 1);
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::Depose
    );

    // Worklists: the State's instructor sees it; the Région may not open the State's.
    let state = app.signed_in(STATE).await;
    let list = state.get("/contrats/mel-2024/instruction").await;
    assert_eq!(list.status, 200);
    assert!(list.text.contains(&reference), "{}", list.text);
    assert!(list.text.contains("Déposé (1)"));
    let list = region.get("/contrats/mel-2024/instruction").await;
    assert_eq!(list.status, 200);
    assert!(!list.text.contains(&reference));
    assert_eq!(
        region
            .get("/contrats/mel-2024/instruction?financeur=etat")
            .await
            .status,
        403
    );
    assert_eq!(
        applicant.get("/contrats/mel-2024/instruction").await.status,
        403
    );
    let pilot = app.signed_in(PILOT).await;
    assert!(pilot
        .get("/contrats/mel-2024/instruction?financeur=etat")
        .await
        .text
        .contains(&reference));
    assert_eq!(
        pilot
            .get("/contrats/mel-2024/instruction?financeur=inconnu")
            .await
            .status,
        404
    );

    // The State's instructor starts the instruction and asks for more: a comment is required.
    let r = fire(&state, id, "instruire", "").await;
    assert_eq!(r.status, 303, "{}", r.text);
    let r = fire(&state, id, "demander_complement", "   ").await;
    assert_eq!(r.status, 422);
    assert!(r
        .text
        .contains("Écrivez ce qui est demandé au porteur de projet."));
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::EnInstruction
    );
    let r = fire(
        &state,
        id,
        "demander_complement",
        "Précisez le nombre d'ateliers par semaine.",
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::ComplementDemande
    );
    assert_eq!(fire(&applicant, id, "instruire", "").await.status, 403);
    let page = applicant.get(&path).await;
    assert!(
        page.text
            .contains("Précisez le nombre d'ateliers par semaine."),
        "the request is a message"
    );
    let r = fire(&applicant, id, "completer", "Deux ateliers par semaine.").await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::EnInstruction
    );

    // A transition the workflow forbids: French message, nothing lost.
    let r = fire(&applicant, id, "completer", "Encore un complément.").await;
    assert_eq!(r.status, 409);
    assert!(
        r.text
            .contains("Impossible de transmettre le complément un dossier « en instruction »."),
        "{}",
        r.text
    );
    assert!(r.text.contains("Encore un complément."), "comment kept");
    // A stale page: 409 too.
    let r = post(
        &applicant,
        &format!("/dossiers/{id}/evenements/retirer"),
        &[("version", "1")],
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(r.text.contains("rechargez la page"));
    // Events of other pages and unknown ones are not here.
    assert_eq!(fire(&pilot, id, "decider", "").await.status, 404);
    assert_eq!(fire(&pilot, id, "envoler", "").await.status, 404);

    // Opinions: on one's own line only.
    let page = state.get(&path).await;
    assert!(page.text.contains(&format!("/dossiers/{id}/avis/etat")));
    assert!(
        !page.text.contains(&format!("/dossiers/{id}/avis/mel")),
        "the MEL's line is read-only for the State"
    );
    let r = post(
        &state,
        &format!("/dossiers/{id}/avis/etat"),
        &[
            ("opinion", "favorable"),
            ("proposed", "beaucoup"),
            ("comment", "Action solide"),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("n'est pas un montant en euros"));
    assert!(r.text.contains("Action solide"), "comment kept");
    let r = post(
        &state,
        &format!("/dossiers/{id}/avis/etat"),
        &[("opinion", ""), ("proposed", "18 000")],
    )
    .await;
    assert_eq!(r.status, 422);
    let r = post(
        &state,
        &format!("/dossiers/{id}/avis/mel"),
        &[("opinion", "favorable"), ("proposed", "10 000")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &applicant,
        &format!("/dossiers/{id}/avis/etat"),
        &[("opinion", "favorable"), ("proposed", "10 000")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &region,
        &format!("/dossiers/{id}/avis/region"),
        &[("opinion", "favorable"), ("proposed", "10 000")],
    )
    .await;
    assert_eq!(r.status, 403, "not solicited: cannot even read it");
    let r = post(
        &state,
        &format!("/dossiers/{id}/avis/etat"),
        &[
            ("opinion", "reserve"),
            ("proposed", "18 000"),
            ("comment", "Réduire le volet matériel"),
        ],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let lines = app.store.funding_lines(id).await.unwrap();
    let etat = lines.iter().find(|l| l.funder == "etat").unwrap();
    assert_eq!(
        (etat.opinion, etat.proposed),
        (Some(Opinion::Reserve), Some(1_800_000))
    );
    // The pilot sees « rendre les avis » disabled, with why, while an opinion is missing.
    let page = pilot.get(&path).await;
    let doc = scraper::Html::parse_document(&page.text);
    let sel = scraper::Selector::parse(&format!(
        r#"form[action="/dossiers/{id}/evenements/rendre_avis"] button[disabled]"#
    ))
    .unwrap();
    assert_eq!(doc.select(&sel).count(), 1, "{}", page.text);
    assert!(
        page.text
            .contains("Tous les financeurs n&#39;ont pas rendu leur avis (1 sur 2).")
            || page
                .text
                .contains("Tous les financeurs n'ont pas rendu leur avis (1 sur 2)."),
        "{}",
        page.text
    );
    // The pilot acts for the MEL: its opinion is the last one.
    let r = post(
        &pilot,
        &format!("/dossiers/{id}/avis/mel"),
        &[("opinion", "favorable"), ("proposed", "10 000")],
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::AvisRendus
    );
    let page = state.get(&path).await;
    assert!(
        page.text.contains("favorable avec réserves")
            && page.text.contains("Réduire le volet matériel")
    );
    assert!(page.text.contains("18\u{202f}000\u{a0}€"));

    // Messages: whoever reads the file may write.
    let r = post(
        &applicant,
        &format!("/dossiers/{id}/messages"),
        &[("body", "  ")],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Écrivez le message"));
    let r = post(
        &other,
        &format!("/dossiers/{id}/messages"),
        &[("body", "Intrus")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &applicant,
        &format!("/dossiers/{id}/messages"),
        &[("body", "Merci pour votre avis.")],
    )
    .await;
    assert_eq!(r.status, 303);
    let page = state.get(&path).await;
    assert!(page.text.contains("Merci pour votre avis."));
    // The audit trail.
    assert!(
        page.text.contains("mettre en instruction") && page.text.contains("demander un complément")
    );
    assert!(page.text.contains("avis de État — Préfecture du Nord"));
    assert!(page.text.contains("déposé → en instruction"));
    // CSRF is checked.
    let r = applicant
        .post_form(
            &format!("/dossiers/{id}/messages"),
            &[("body", "sans jeton")],
        )
        .await;
    assert_eq!(r.status, 403);
}

both_engines!(financers_instruct_their_own_lines, instruction);

async fn committee(app: TestApp) {
    let app = app.with_demo().await;
    // The State's envelope: 30 000 €; two applications ask it 20 000 € each.
    let f = fixture(&app, 30_000).await;
    let a1 = ready_for_committee(
        &app,
        &f,
        "Ateliers numériques",
        &[("etat", 20_000), ("mel", 10_000)],
        &[("etat", 20_000), ("mel", 10_000)],
    )
    .await;
    let a2 = ready_for_committee(
        &app,
        &f,
        "Jardins partagés",
        &[("etat", 20_000), ("roubaix", 5_000)],
        &[("etat", 20_000), ("roubaix", 5_000)],
    )
    .await;
    let r1 = app.store.application(a1).await.unwrap().reference;
    let r2 = app.store.application(a2).await.unwrap().reference;

    // Sessions: pilots create them; financers read them.
    let list = format!("/appels/{}/comites", f.call_id);
    let pilot = app.signed_in(PILOT).await;
    let state = app.signed_in(STATE).await;
    let applicant = app.signed_in(APPLICANT).await;
    assert_eq!(applicant.get(&list).await.status, 403);
    assert_eq!(state.get(&list).await.status, 200);
    let r = post(
        &state,
        &list,
        &[("held_on", "2026-03-15"), ("title", "Comité")],
    )
    .await;
    assert_eq!(r.status, 403);
    let r = post(
        &pilot,
        &list,
        &[
            ("held_on", "15/03/2026"),
            ("title", ""),
            ("members", "Mme la Préfète"),
        ],
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("AAAA-MM-JJ") && r.text.contains("Donnez un intitulé"));
    assert!(r.text.contains("Mme la Préfète"), "typed members kept");
    let r = post(
        &pilot,
        &list,
        &[
            ("held_on", "2026-03-15"),
            ("title", "Comité de programmation de mars"),
            ("members", "Mme la Préfète\nM. le Président de la MEL"),
        ],
    )
    .await;
    assert_eq!(r.status, 303);
    let session = r.location.unwrap();
    let committee_id: i64 = session.trim_start_matches("/comites/").parse().unwrap();
    let decisions = format!("/comites/{committee_id}/decisions");

    // The agenda, with the running total against the envelopes.
    assert_eq!(applicant.get(&session).await.status, 403);
    app.user("pilote@call.fr", Some((Role::Pilote, "call-2024")), false)
        .await;
    let other_pilot = app.signed_in("pilote@call.fr").await;
    assert_eq!(
        other_pilot.get(&session).await.status,
        403,
        "another contract"
    );
    assert_eq!(other_pilot.get(&list).await.status, 403);
    assert_eq!(
        other_pilot
            .get(&format!("/comites/{committee_id}/proces-verbal"))
            .await
            .status,
        403
    );
    assert_eq!(app.client().get(&session).await.status, 401);
    let page = pilot.get(&session).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&r1) && page.text.contains(&r2));
    assert!(page.text.contains(&format!("name=\"decision-{a1}-etat\"")));
    assert!(
        page.text.contains("dépassement de 10\u{202f}000\u{a0}€"),
        "the pre-filled form overruns the State's envelope"
    );
    let roubaix = app.signed_in(ROUBAIX).await;
    let page = roubaix.get(&session).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(&r2) && !page.text.contains(&r1),
        "a financer's agenda: its applications only"
    );
    assert!(
        !page.text.contains(&format!("name=\"decision-{a2}-etat\"")),
        "other financers' lines are read-only"
    );

    let bulk = |etat2: &'static str| -> Vec<(String, String)> {
        [
            (format!("decision-{a1}-etat"), "accorde"),
            (format!("amount-{a1}-etat"), "20 000"),
            (format!("decision-{a1}-mel"), "accorde"),
            (format!("amount-{a1}-mel"), "10 000"),
            (format!("decision-{a2}-etat"), "accorde"),
            (format!("amount-{a2}-etat"), etat2),
            (format!("decision-{a2}-roubaix"), "refuse"),
            (format!("amount-{a2}-roubaix"), ""),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.to_string()))
        .collect()
    };
    // A bad amount: refused, nothing recorded.
    let (status, text) = post_pairs(&pilot, &decisions, bulk("vingt mille")).await;
    assert_eq!(status, 422);
    assert!(text.contains("n'est pas un montant en euros"));
    // Over the envelope: refused as a whole, with the French warning and the override field.
    let (status, text) = post_pairs(&pilot, &decisions, bulk("20 000")).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("dépasse l'enveloppe de État — Préfecture du Nord (Contrat de ville) de 10\u{202f}000\u{a0}€"), "{text}");
    assert!(text.contains("name=\"override_reason\""));
    assert!(
        app.store
            .funding_lines(a1)
            .await
            .unwrap()
            .iter()
            .all(|l| l.decision.is_none()),
        "all or nothing"
    );
    // A financer may not confirm an overrun, nor decide another financer's line.
    let state_fields = |reason: &str| -> Vec<(String, String)> {
        vec![
            (format!("decision-{a1}-etat"), "accorde".into()),
            (format!("amount-{a1}-etat"), "20 000".into()),
            (format!("decision-{a2}-etat"), "accorde".into()),
            (format!("amount-{a2}-etat"), "20 000".into()),
            ("override_reason".into(), reason.into()),
        ]
    };
    let (status, text) = post_pairs(&state, &decisions, state_fields("")).await;
    assert_eq!(status, 422);
    assert!(
        text.contains("seul un pilote du contrat peut confirmer"),
        "{text}"
    );
    assert!(!text.contains("name=\"override_reason\""));
    let (status, text) = post_pairs(&state, &decisions, state_fields("Priorité de l'État")).await;
    assert_eq!(status, 403);
    assert!(text.contains("Seul un pilote du contrat peut confirmer un dépassement"));
    let (status, _) = post_pairs(
        &state,
        &decisions,
        vec![
            (format!("decision-{a1}-mel"), "accorde".into()),
            (format!("amount-{a1}-mel"), "10 000".into()),
        ],
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post_pairs(&applicant, &decisions, bulk("10 000")).await;
    assert_eq!(status, 403);
    assert!(app
        .store
        .funding_lines(a2)
        .await
        .unwrap()
        .iter()
        .all(|l| l.decision.is_none()));
    // Nothing chosen.
    let (status, text) = post_pairs(
        &pilot,
        &decisions,
        vec![(format!("decision-{a1}-etat"), String::new())],
    )
    .await;
    assert_eq!(status, 422);
    assert!(text.contains("Choisissez au moins une décision"));
    // The pilot confirms with a reason.
    let mut confirmed = bulk("20 000");
    confirmed.push((
        "override_reason".into(),
        "Redéploiement de crédits annoncé par la préfecture".into(),
    ));
    let (status, text) = post_pairs(&pilot, &decisions, confirmed).await;
    assert_eq!(status, 303, "{text}");
    for id in [a1, a2] {
        assert_eq!(
            app.store.application(id).await.unwrap().status,
            Status::Decide
        );
    }
    let uses = app.store.envelope_use(f.call_id).await.unwrap();
    assert_eq!(
        uses.iter().find(|u| u.funder == "etat").unwrap().remaining,
        -1_000_000
    );

    // The minutes.
    let minutes = format!("/comites/{committee_id}/proces-verbal");
    assert_eq!(applicant.get(&minutes).await.status, 403);
    let page = state.get(&minutes).await;
    assert_eq!(page.status, 200);
    assert!(page
        .text
        .contains("Procès-verbal du comité de programmation"));
    assert!(page.text.contains(&r1) && page.text.contains(&r2));
    assert!(page.text.contains("refusé") && page.text.contains("accordé"));
    assert!(page
        .text
        .contains("Redéploiement de crédits annoncé par la préfecture"));
    assert!(page.text.contains("Mme la Préfète"));
    assert!(
        page.text.contains("50\u{202f}000\u{a0}€"),
        "total granted by the session"
    );
    let csv = pilot.get(&format!("{minutes}?format=csv")).await;
    assert_eq!(csv.status, 200);
    assert!(csv.content_type.starts_with("text/csv"));
    assert!(csv.text.contains("reference;action;structure"));
    assert!(csv.text.contains(&format!("{r1};Ateliers numériques;Association Alma Numérique;Contrat de ville;État — Préfecture du Nord;20000;20000;accordé;20000;")));
    assert!(csv.text.contains(&format!("{r2};Jardins partagés;Association Alma Numérique;Contrat de ville;Ville de Roubaix;5000;5000;refusé;0;")));
    assert_eq!(
        pilot.get(&format!("{minutes}?format=pdf")).await.status,
        422
    );
    // The application page shows the decisions and the override.
    let page = pilot.get(&format!("/dossiers/{a2}")).await;
    assert!(page.text.contains("Dépassement d'enveloppe confirmé"));
    // Decided applications leave the agenda.
    let page = pilot.get(&session).await;
    assert!(page.text.contains("Aucun dossier n'attend de décision"));
}

both_engines!(committee_decides_in_bulk_against_envelopes, committee);

/// Lines of `apps` that carry a decision, and the decision audit rows written for them, read
/// in one statement (one snapshot: a commit landing between two reads would look partial).
async fn decided_and_audited(app: &TestApp, apps: &[i64]) -> (usize, usize) {
    let ids = apps
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let (decided, audited): (i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT COUNT(*) FROM funding_lines WHERE application_id IN ({ids}) AND decision IS NOT NULL), \
                (SELECT COUNT(*) FROM application_events WHERE application_id IN ({ids}) AND event LIKE 'decision:%')"
    ))
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    (decided as usize, audited as usize)
}

async fn interrupted_committee(app: TestApp) {
    let app = app.with_demo().await;
    let f = fixture(&app, 1_000_000).await;
    let mut apps = Vec::new();
    for i in 0..6 {
        apps.push(
            ready_for_committee(
                &app,
                &f,
                &format!("Action {i}"),
                &[("etat", 10_000), ("mel", 5_000)],
                &[("etat", 10_000), ("mel", 5_000)],
            )
            .await,
        );
    }
    let committee = app
        .store
        .create_committee(
            f.call_id,
            &today().to_string(),
            "Comité de programmation",
            "Préfet délégué",
        )
        .await
        .unwrap();
    let decisions: Vec<LineDecision> = apps
        .iter()
        .flat_map(|id| {
            [("etat", 1_000_000), ("mel", 500_000)].map(|(funder, cents)| LineDecision {
                application_id: *id,
                funder: funder.into(),
                decision: Decision::Accorde,
                amount_cents: cents,
            })
        })
        .collect();
    let total = decisions.len();
    let pilot = labelled("pilote");

    // On PostgreSQL, the bulk decision is stopped for certain in its middle: another session
    // holds the last application's lines, the decision waits on them after writing the
    // others, and its connection is then killed, as when the process dies.
    if app.database_url.starts_with("postgres") {
        use sqlx::Connection;
        let mut holder = sqlx::PgConnection::connect(&app.database_url)
            .await
            .unwrap();
        sqlx::query("BEGIN").execute(&mut holder).await.unwrap();
        sqlx::query("SELECT id FROM funding_lines WHERE application_id = $1 FOR UPDATE")
            .bind(apps[5])
            .fetch_all(&mut holder)
            .await
            .unwrap();
        let store = app.store.clone();
        let batch = decisions.clone();
        let p = pilot.clone();
        let task = tokio::spawn(async move { store.decide(committee, &batch, None, &p).await });
        // Watched from a connection of its own: inside the holder's transaction,
        // pg_stat_activity would keep showing its first snapshot.
        let mut watcher = sqlx::PgConnection::connect(&app.database_url)
            .await
            .unwrap();
        let mut waiting: Option<i32> = None;
        for _ in 0..400 {
            waiting = sqlx::query_scalar(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE funding_lines%'",
            )
            .fetch_optional(&mut watcher)
            .await
            .unwrap();
            if waiting.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let pid = waiting.expect("the bulk decision waits on the held lines");
        let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .fetch_one(&mut holder)
            .await
            .unwrap();
        assert!(killed);
        assert!(task.await.unwrap().is_err(), "the killed decision fails");
        sqlx::query("ROLLBACK").execute(&mut holder).await.unwrap();
        assert_eq!(
            decided_and_audited(&app, &apps).await,
            (0, 0),
            "none of the lines written before the kill stays"
        );
    }

    // On both engines: the decision abandoned at many points of its run (the task dropped,
    // its transaction never committed) leaves all or none of it.
    let mut delay = std::time::Duration::ZERO;
    let mut interrupted = 0;
    loop {
        let store = app.store.clone();
        let batch = decisions.clone();
        let p = pilot.clone();
        let task = tokio::spawn(async move { store.decide(committee, &batch, None, &p).await });
        // Tokio's timers count whole milliseconds: wait finer than that by yielding.
        let until = std::time::Instant::now() + delay;
        while std::time::Instant::now() < until {
            tokio::task::yield_now().await;
        }
        task.abort();
        let finished = matches!(task.await, Ok(Ok(_)));
        let (decided, audited) = decided_and_audited(&app, &apps).await;
        if decided == 0 {
            assert_eq!(audited, 0);
            assert!(!finished);
            interrupted += 1;
            delay += std::time::Duration::from_micros(100);
            assert!(interrupted < 2_000, "the decision never completes");
            continue;
        }
        assert_eq!((decided, audited), (total, total), "all or none");
        break;
    }
    // (How many runs were stopped depends on the machine's speed; PostgreSQL's branch above
    // is the one that stops the decision in its middle for certain.)
    for id in &apps {
        assert_eq!(
            app.store.application(*id).await.unwrap().status,
            Status::Decide
        );
    }
}
both_engines!(
    a_bulk_decision_stopped_midway_leaves_all_or_none,
    interrupted_committee
);
