//! The applicants' pages of the funding cycle: public sign-up, organisation pages (members,
//! standing documents), the applicant's dashboard, starting, saving and resuming an
//! application, its renewal, and the end-of-action report; with the access refusals
//! (another organisation's ids in the URL, anonymous visitors) and bad input.

use crate::both_engines;
use crate::funding_fixtures::{
    application, author, budget, file_statutes, give_opinions, grant, labelled, new_organisation,
    open_call, register_funders, save_call,
};
use crate::helpers::{form_values, session_csrf, Client, Page, TestApp};
use quartiers_domain::funding::{ApplicationBody, CallSettings, Event, Status};
use quartiers_domain::Role;
use quartiers_store::funding::agreements::AgreementTerms;
use time::Duration;

const SIRET: &str = "73282932000074";
const SIRET_2: &str = "44244455000002";
const SIRET_3: &str = "44244455000010";

/// The MEL contract with its three financers and a call open today.
struct Fixture {
    contract_id: i64,
    call_id: i64,
    year: i32,
}

async fn fixture(app: &TestApp) -> Fixture {
    let contract = app.contract("mel-2024").await;
    register_funders(
        app,
        contract.id,
        &[
            ("etat", "État"),
            ("mel", "Métropole européenne de Lille"),
            ("roubaix", "Ville de Roubaix"),
        ],
        Some("{code}@financeurs.fr"),
    )
    .await;
    let year = (quartiers_store::today().year() + 1).min(2030);
    let call_id = save_call(
        app,
        contract.id,
        &CallSettings {
            framing_note: "Priorité à l'emploi des jeunes.".into(),
            required_documents: vec!["statuts".into()],
            ..open_call(year, 10, 30)
        },
        &[
            ("etat", 1_000_000),
            ("mel", 1_000_000),
            ("roubaix", 1_000_000),
        ],
    )
    .await;
    Fixture {
        contract_id: contract.id,
        call_id,
        year,
    }
}

/// An account that is the administrator of a new organisation: (user id, organisation id).
async fn member(app: &TestApp, email: &str, name: &str, siret: &str) -> (i64, i64) {
    crate::funding_fixtures::member(app, email, &new_organisation(name, siret, email)).await
}

/// A complete application body for `year`.
fn complete_body(year: i32) -> ApplicationBody {
    application(
        "Coup de pouce numérique",
        vec![budget(year, &[("etat", 20_000), ("mel", 10_000)], 0)],
    )
}

async fn post(c: &Client, path: &str, fields: &[(String, String)]) -> Page {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    c.post_form(path, &pairs).await
}

/// Sends a multipart form with an optional file; returns (status, body).
async fn post_multipart(
    c: &Client,
    path: &str,
    fields: &[(String, String)],
    file: Option<(&str, &str, &str, Vec<u8>)>,
) -> (u16, String, Option<String>) {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.clone(), v.clone());
    }
    if let Some((field, name, mime, bytes)) = file {
        form = form.part(
            field.to_string(),
            reqwest::multipart::Part::bytes(bytes)
                .file_name(name.to_string())
                .mime_str(mime)
                .unwrap(),
        );
    }
    let r = c
        .http
        .post(format!("{}{path}", c.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, r.text().await.unwrap(), location)
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The form's fields with `overrides` replacing (or added to) the defaults.
fn with_overrides(
    mut f: Vec<(String, String)>,
    overrides: &[(&str, &str)],
) -> Vec<(String, String)> {
    for (k, v) in overrides {
        match f.iter_mut().find(|(n, _)| n == k) {
            Some(slot) => slot.1 = v.to_string(),
            None => f.push((k.to_string(), v.to_string())),
        }
    }
    f
}

/// The sign-up form's fields, with `overrides` replacing or adding values.
fn signup_fields(
    csrf: &str,
    email: &str,
    siret: &str,
    overrides: &[(&str, &str)],
) -> Vec<(String, String)> {
    let f = owned(&[
        ("csrf", csrf),
        ("email", email),
        ("password", "une phrase de passe solide"),
        ("name", "Association Alma Numérique"),
        ("siret", siret),
        ("rna", "W595012345"),
        ("address", "2 rue de l'Alma, 59100 Roubaix"),
        ("legal_representative", "Marie Dupont, présidente"),
        ("contact_email", ""),
    ]);
    with_overrides(f, overrides)
}

async fn signup_creates_account_and_organisation(app: TestApp) {
    let app = app.with_demo().await;
    let anon = app.client();
    // Anonymous visitors are sent to the sign-in page from the applicants' pages.
    let r = anon.get("/mes-dossiers").await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.location.as_deref(),
        Some("/connexion?suivant=/mes-dossiers")
    );
    // The sign-in page offers to create an account; the menu has no « Mes dossiers » yet.
    let sign_in = anon.get("/connexion?suivant=/mes-dossiers").await;
    assert!(
        sign_in.text.contains(r#"href="/inscription""#),
        "{}",
        sign_in.text
    );
    assert!(!sign_in.text.contains(r#"href="/mes-dossiers""#));

    let page = anon.get("/inscription").await;
    assert_eq!(page.status, 200, "{}", page.text);
    let csrf = form_values(&page.text).remove("csrf").unwrap();
    assert!(!csrf.is_empty());

    // Without the form's token: refused.
    let r = post(
        &anon,
        "/inscription",
        &signup_fields("faux", "asso@alma.fr", SIRET, &[]),
    )
    .await;
    assert_eq!(r.status, 403);

    // Bad SIRET (wrong check digit), short password, bad RNA: each named, typed values kept.
    let r = post(
        &anon,
        "/inscription",
        &signup_fields(
            &csrf,
            "asso@alma.fr",
            "73282932000075",
            &[("password", "court"), ("rna", "W12")],
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("clé de contrôle ne correspond pas"),
        "{}",
        r.text
    );
    assert!(r.text.contains("au moins 12 caractères"));
    assert!(
        r.text.contains("n&#39;est pas un numéro RNA")
            || r.text.contains("n'est pas un numéro RNA")
    );
    assert!(r.text.contains("Association Alma Numérique"));
    assert!(app
        .store
        .user_by_email("asso@alma.fr")
        .await
        .unwrap()
        .is_none());

    // A good sign-up: account and organisation created, signed in, on the organisation page.
    let r = post(
        &anon,
        "/inscription",
        &signup_fields(&csrf, "Asso@Alma.fr", SIRET, &[]),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let location = r.location.unwrap();
    assert!(location.starts_with("/structures/"), "{location}");
    let user = app
        .store
        .user_by_email("asso@alma.fr")
        .await
        .unwrap()
        .unwrap();
    let orgs = app.store.organisations_of(user.id).await.unwrap();
    assert_eq!(orgs.len(), 1);
    assert_eq!(orgs[0].siret, SIRET);
    assert_eq!(orgs[0].rna.as_deref(), Some("W595012345"));
    assert_eq!(
        orgs[0].email, "asso@alma.fr",
        "contact defaults to the account"
    );
    assert_eq!(location, format!("/structures/{}", orgs[0].id));
    let members = app.store.members(orgs[0].id).await.unwrap();
    assert!(members[0].is_admin && members[0].is_signatory);
    let page = anon.get(&location).await;
    assert_eq!(page.status, 200, "signed in by the sign-up: {}", page.text);
    assert!(page.text.contains("Association Alma Numérique"));
    assert!(page.text.contains("asso@alma.fr"));
    assert!(
        page.text
            .contains(r#"<a class="fr-nav__link" href="/mes-dossiers">Mes dossiers</a>"#),
        "the menu leads a member to its applications"
    );
    assert_eq!(anon.get("/mes-dossiers").await.status, 200);
    // Signed in, the sign-up page leads to adding an organisation instead.
    assert_eq!(
        anon.get("/inscription").await.location.as_deref(),
        Some("/structures/nouvelle")
    );

    // The same SIRET again, from another person: a clear message, and no account left over.
    let other = app.client();
    let page = other.get("/inscription").await;
    let csrf2 = form_values(&page.text).remove("csrf").unwrap();
    let r = post(
        &other,
        "/inscription",
        &signup_fields(&csrf2, "collegue@alma.fr", SIRET, &[]),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("existe déjà"), "{}", r.text);
    assert!(r
        .text
        .contains("demandez à son administrateur de vous y ajouter"));
    assert!(app
        .store
        .user_by_email("collegue@alma.fr")
        .await
        .unwrap()
        .is_none());
    // An email already taken.
    let r = post(
        &other,
        "/inscription",
        &signup_fields(&csrf2, "asso@alma.fr", SIRET_2, &[]),
    )
    .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Un compte existe déjà"), "{}", r.text);

    // A signed-in user adds another organisation (one email, several organisations).
    let r = anon.get("/structures/nouvelle").await;
    assert_eq!(r.status, 200);
    let token = session_csrf(&anon).await;
    let fields = owned(&[
        ("csrf", &token),
        ("name", "Centre social du Pile"),
        ("siret", SIRET),
        ("address", "1 rue du Pile"),
        ("legal_representative", "Jean Martin"),
    ]);
    let r = post(&anon, "/structures/nouvelle", &fields).await;
    assert_eq!(r.status, 422, "duplicate SIRET");
    assert!(r.text.contains("existe déjà"));
    assert!(
        r.text.contains("Centre social du Pile"),
        "typed values kept"
    );
    let fields = owned(&[
        ("csrf", &token),
        ("name", "Centre social du Pile"),
        ("siret", SIRET_2),
        ("address", "1 rue du Pile"),
        ("legal_representative", "Jean Martin"),
    ]);
    let r = post(&anon, "/structures/nouvelle", &fields).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(app.store.organisations_of(user.id).await.unwrap().len(), 2);
    let r = app
        .client()
        .post_form("/structures/nouvelle", &[("csrf", "x")])
        .await;
    assert_eq!(r.status, 401, "anonymous");

    // Mass sign-ups from one address are slowed down.
    for _ in 0..10 {
        app.store
            .record_login_failure("signup:127.0.0.1")
            .await
            .unwrap();
    }
    let third = app.client();
    let page = third.get("/inscription").await;
    let csrf3 = form_values(&page.text).remove("csrf").unwrap();
    let r = post(
        &third,
        "/inscription",
        &signup_fields(&csrf3, "robot@spam.fr", SIRET_3, &[]),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert!(r.text.contains("réessayez dans 15 minutes"));
    assert!(app
        .store
        .user_by_email("robot@spam.fr")
        .await
        .unwrap()
        .is_none());
}
both_engines!(signup, signup_creates_account_and_organisation);

async fn upload(
    c: &Client,
    org: i64,
    kind: &str,
    name: &str,
    mime: &str,
    bytes: Vec<u8>,
) -> (u16, String) {
    let csrf = session_csrf(c).await;
    let (s, t, _) = post_multipart(
        c,
        &format!("/structures/{org}/documents"),
        &owned(&[("csrf", &csrf), ("kind", kind)]),
        Some(("fichier", name, mime, bytes)),
    )
    .await;
    (s, t)
}

async fn organisation_members_and_documents(app: TestApp) {
    let app = app.with_demo().await;
    let (_, org) = member(&app, "admin@alma.fr", "Association Alma", SIRET).await;
    let (_, other_org) = member(&app, "admin@pile.fr", "Centre social du Pile", SIRET_2).await;
    app.user("benevole@alma.fr", None, false).await;
    let c = app.signed_in("admin@alma.fr").await;
    let other = app.signed_in("admin@pile.fr").await;

    // Non-members: 403 on every organisation route; anonymous: sign in first.
    assert_eq!(c.get(&format!("/structures/{org}")).await.status, 200);
    assert_eq!(other.get(&format!("/structures/{org}")).await.status, 403);
    assert_eq!(c.get(&format!("/structures/{other_org}")).await.status, 403);
    assert_eq!(
        app.client().get(&format!("/structures/{org}")).await.status,
        303
    );
    let token = session_csrf(&other).await;
    let r = other
        .post_form(
            &format!("/structures/{org}/membres"),
            &[
                ("csrf", &token),
                ("email", "admin@pile.fr"),
                ("is_admin", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    let (s, _) = upload(
        &other,
        org,
        "statuts",
        "statuts.pdf",
        "application/pdf",
        b"%PDF-1.7 x".to_vec(),
    )
    .await;
    assert_eq!(s, 403);

    // Documents: a PDF accepted, stored once and listed.
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n".to_vec();
    let (s, t) = upload(
        &c,
        org,
        "statuts",
        "statuts.pdf",
        "application/pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(s, 303, "{t}");
    let docs = app.store.documents(org).await.unwrap();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].content_type, "application/pdf");
    let page = c.get(&format!("/structures/{org}")).await;
    assert!(page.text.contains("statuts.pdf"));
    // Replaced by a newer one: both listed, the old one marked replaced.
    let (s, _) = upload(
        &c,
        org,
        "statuts",
        "statuts-2026.pdf",
        "application/pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(s, 303);
    let docs = app.store.documents(org).await.unwrap();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs.iter().filter(|d| d.replaced_at.is_none()).count(), 1);
    let page = c.get(&format!("/structures/{org}")).await;
    assert!(page.text.contains("Pièces remplacées"));
    // Zip-based office files and images.
    let (s, t) = upload(
        &c,
        org,
        "comptes",
        "comptes.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        b"PK\x03\x04rest".to_vec(),
    )
    .await;
    assert_eq!(s, 303, "{t}");
    let (s, _) = upload(
        &c,
        org,
        "rib",
        "rib.png",
        "image/png",
        b"\x89PNG\r\n\x1a\nrest".to_vec(),
    )
    .await;
    assert_eq!(s, 303);

    // Content that does not match its type, unknown types, empty choice: refused, nothing stored.
    let (s, t) = upload(
        &c,
        org,
        "rib",
        "rib.pdf",
        "application/pdf",
        b"\x89PNG\r\n\x1a\nrest".to_vec(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        t.contains("ne correspond pas à son type (PDF attendu)"),
        "{t}"
    );
    let (s, t) = upload(
        &c,
        org,
        "dirigeants",
        "liste.docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        b"%PDF-1.4".to_vec(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(t.contains("DOCX attendu"), "{t}");
    let (s, t) = upload(
        &c,
        org,
        "statuts",
        "statuts.exe",
        "application/octet-stream",
        b"MZ".to_vec(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(t.contains("type accepté"));
    let (s, t) = upload(
        &c,
        org,
        "photo",
        "statuts.pdf",
        "application/pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(t.contains("nature de la pièce"));
    // Just under 10 Mo: accepted (the platform's general body limit does not apply here).
    let mut large = b"%PDF-1.7\n".to_vec();
    large.resize(9 * 1024 * 1024 + 512 * 1024, b'a');
    let (s, t) = upload(
        &c,
        org,
        "rapport_activite",
        "rapport.pdf",
        "application/pdf",
        large,
    )
    .await;
    assert_eq!(s, 303, "{t}");
    // Over 10 Mo: a clear refusal, nothing kept.
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b'a');
    let (s, t) = upload(&c, org, "comptes", "comptes.pdf", "application/pdf", big).await;
    assert_eq!(s, 413, "{t}");
    assert!(t.contains("dépasse la taille maximale de 10 Mo"), "{t}");
    assert_eq!(app.store.documents(org).await.unwrap().len(), 5);

    // Download: members yes (with the right type); another organisation's member no.
    let current = app
        .store
        .documents(org)
        .await
        .unwrap()
        .into_iter()
        .find(|d| d.kind == "statuts" && d.replaced_at.is_none())
        .unwrap();
    let path = format!("/structures/{org}/documents/{}", current.id);
    let r = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("statuts-2026.pdf"));
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    assert_eq!(other.get(&path).await.status, 403);
    assert_eq!(app.client().get(&path).await.status, 303);
    // Through another organisation's URL: not found there.
    assert_eq!(
        c.get(&format!("/structures/{other_org}/documents/{}", current.id))
            .await
            .status,
        403
    );
    let (s, _) = upload(
        &other,
        other_org,
        "statuts",
        "s.pdf",
        "application/pdf",
        pdf.clone(),
    )
    .await;
    assert_eq!(s, 303);
    let theirs = app.store.documents(other_org).await.unwrap()[0].id;
    assert_eq!(
        c.get(&format!("/structures/{org}/documents/{theirs}"))
            .await
            .status,
        404
    );

    // Members: the administrator adds an existing account; unknown accounts are named.
    let token = session_csrf(&c).await;
    let r = c
        .post_form(
            &format!("/structures/{org}/membres"),
            &[("csrf", &token), ("email", "inconnu@alma.fr")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("Aucun compte n&#39;existe") || r.text.contains("Aucun compte n'existe"),
        "{}",
        r.text
    );
    let r = c
        .post_form(
            &format!("/structures/{org}/membres"),
            &[("csrf", &token), ("email", "Benevole@Alma.fr")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    // admin@pile.fr joins too: one email, two organisations.
    let r = c
        .post_form(
            &format!("/structures/{org}/membres"),
            &[
                ("csrf", &token),
                ("email", "admin@pile.fr"),
                ("is_signatory", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, 303);
    let members = app.store.members(org).await.unwrap();
    assert_eq!(members.len(), 3);
    let pile = members.iter().find(|m| m.email == "admin@pile.fr").unwrap();
    assert!(pile.is_signatory && !pile.is_admin);
    assert_eq!(other.get(&format!("/structures/{org}")).await.status, 200);
    // A plain member may read but not add members.
    let volunteer = app.signed_in("benevole@alma.fr").await;
    assert_eq!(
        volunteer.get(&format!("/structures/{org}")).await.status,
        200
    );
    let token = session_csrf(&volunteer).await;
    let r = volunteer
        .post_form(
            &format!("/structures/{org}/membres"),
            &[("csrf", &token), ("email", "admin@alma.fr")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post_form(
            &format!("/structures/{org}/membres"),
            &[("csrf", "faux"), ("email", "admin@pile.fr")],
        )
        .await;
    assert_eq!(r.status, 403, "CSRF");
}
both_engines!(organisation_documents, organisation_members_and_documents);

/// The application form's fields: a draft that is complete but for its standing
/// documents, with `overrides` replacing (or adding) values.
fn application_fields(page: &str, year: i32, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let v = form_values(page);
    let y = year.to_string();
    let f = owned(&[
        ("csrf", &v["csrf"]),
        ("version", &v["version"]),
        ("action", "save"),
        ("title", "Coup de pouce numérique"),
        ("description", "Ateliers d'inclusion numérique"),
        ("objectives", "Accompagner 120 habitants"),
        ("start_on", &format!("{year}-01-15")),
        ("end_on", &format!("{year}-12-31")),
        ("places", "Roubaix, quartier de l'Alma"),
        ("component", "Contrat de ville"),
        ("framework_keys", "e1"),
        ("framework_keys", "e1-a1"),
        ("qpv_codes", "QN05965M"),
        ("perimeters", "Quartier de veille du Pile"),
        ("public_description", "Adultes éloignés du numérique"),
        ("expected_beneficiaries", "120"),
        ("qpv_share_percent", "80"),
        ("ind_rows", "2"),
        ("ind_0_name", "Personnes accompagnées"),
        ("ind_0_target", "120"),
        ("ind_0_unit", "personnes"),
        ("b_years", "1"),
        ("b_first_year", &y),
        ("b_0_c_rows", "3"),
        ("b_0_p_rows", "3"),
        ("b_0_c_0_account", "64"),
        ("b_0_c_0_label", "Salaires des animateurs"),
        ("b_0_c_0_amount", "30 000"),
        ("b_0_p_0_account", "74"),
        ("b_0_p_0_label", "État"),
        ("b_0_p_0_amount", "20000"),
        ("b_0_p_0_funder", "etat"),
        ("b_0_p_1_account", "74"),
        ("b_0_p_1_label", "MEL"),
        ("b_0_p_1_amount", "10000"),
        ("b_0_p_1_funder", "mel"),
    ]);
    with_overrides(f, overrides)
}

async fn draft_application_lifecycle(app: TestApp) {
    let app = app.with_demo().await;
    let fx = fixture(&app).await;
    let (uid, org) = member(&app, "admin@alma.fr", "Association Alma", SIRET).await;
    let (_, other_org) = member(&app, "admin@pile.fr", "Centre social du Pile", SIRET_2).await;
    app.user("instructeur@etat.fr", None, false).await;
    let instructor = app
        .store
        .user_by_email("instructeur@etat.fr")
        .await
        .unwrap()
        .unwrap()
        .id;
    app.store
        .grant_role(instructor, fx.contract_id, Role::Financeur, Some("etat"))
        .await
        .unwrap();
    let c = app.signed_in("admin@alma.fr").await;
    let other = app.signed_in("admin@pile.fr").await;

    // The dashboard lists the open call with a button for the organisation.
    let page = c.get("/mes-dossiers").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(&format!("Appel à projets {}", fx.year)),
        "{}",
        page.text
    );
    let start = format!("/appels/{}/dossiers/nouveau?structure={org}", fx.call_id);
    assert!(page.text.contains(&start.replace('&', "&amp;")) || page.text.contains(&start));
    assert!(page.text.contains("Déposer une demande"));

    // Starting a draft: only for the organisation's members.
    assert_eq!(other.get(&start).await.status, 403);
    assert_eq!(app.client().get(&start).await.status, 303);
    let page = c.get(&start).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(!page.text.contains("Renouveler"), "nothing to renew");
    let csrf = form_values(&page.text)["csrf"].clone();
    let r = other
        .post_form(
            &start,
            &[("csrf", &session_csrf(&other).await), ("title", "x")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = c
        .post_form(&start, &[("csrf", &csrf), ("title", "Coup de pouce")])
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let edit = r.location.unwrap();
    let id: i64 = edit
        .trim_start_matches("/dossiers/")
        .trim_end_matches("/modifier")
        .parse()
        .unwrap();
    let stored = app.store.application(id).await.unwrap();
    assert_eq!(stored.status, Status::Brouillon);
    assert_eq!(stored.body.title, "Coup de pouce");

    // The form: framework tree, QPV list, components and the call's financers.
    let page = c.get(&edit).await;
    assert_eq!(page.status, 200, "{}", page.text);
    for expected in [
        "name=\"framework_keys\" value=\"e1-a1\"",
        "value=\"QN05965M\"",
        "Pacte local des solidarités",
        "Ville de Roubaix",
        "b_0_c_2_amount",
        "Pièces manquantes pour déposer le dossier",
    ] {
        assert!(page.text.contains(expected), "{expected}");
    }

    // Refused to others: another organisation's member, a financer, anonymous.
    assert_eq!(other.get(&edit).await.status, 403);
    let r = post(
        &other,
        &edit,
        &application_fields(
            &page.text,
            fx.year,
            &[("csrf", &session_csrf(&other).await)],
        ),
    )
    .await;
    assert_eq!(r.status, 403);
    let financer = app.signed_in("instructeur@etat.fr").await;
    assert_eq!(financer.get(&edit).await.status, 403);
    assert_eq!(app.client().get(&edit).await.status, 303);
    let r = app.client().post_form(&edit, &[("title", "x")]).await;
    assert_eq!(r.status, 401);
    assert_eq!(c.get("/dossiers/999999/modifier").await.status, 404);

    // Save, then resume: every value is back.
    let r = post(&c, &edit, &application_fields(&page.text, fx.year, &[])).await;
    assert_eq!(r.status, 303, "{}", r.text);
    let saved = app.store.application(id).await.unwrap();
    assert_eq!(saved.body.title, "Coup de pouce numérique");
    assert_eq!(
        saved.body.framework_keys,
        vec!["e1".to_string(), "e1-a1".to_string()]
    );
    assert_eq!(
        saved.body.perimeters,
        vec!["Quartier de veille du Pile".to_string()]
    );
    assert_eq!(saved.body.budget[0].year, fx.year);
    assert_eq!(
        saved.body.budget[0].charges[0].amount_cents.get(),
        3_000_000
    );
    assert_eq!(
        saved.body.requested_by_funder(),
        vec![
            ("etat".to_string(), 2_000_000),
            ("mel".to_string(), 1_000_000)
        ]
    );
    let page = c.get(r.location.as_deref().unwrap()).await;
    assert!(page.text.contains("Brouillon enregistré"));
    assert!(page.text.contains("value=\"Coup de pouce numérique\""));
    assert!(page.text.contains("value=\"30000\""));
    assert!(
        page.text
            .contains("id=\"fk-e1-a1\" name=\"framework_keys\" value=\"e1-a1\" checked"),
        "checkbox kept"
    );
    assert!(page.text.contains("équilibré"), "totals shown");
    // Only the standing documents are missing now.
    assert!(
        page.text.contains("Il manque la pièce « Statuts »"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("Il manque le titre"));
    // The dashboard shows it with its status and amount.
    let dash = c.get("/mes-dossiers").await;
    assert!(dash.text.contains(&saved.reference));
    assert!(dash.text.contains("brouillon"));
    assert!(dash.text.contains("30\u{202f}000\u{a0}€"), "{}", dash.text);

    // « Ajouter des lignes » and « Ajouter une année » keep what was typed, save nothing.
    let r = post(
        &c,
        &edit,
        &application_fields(
            &page.text,
            fx.year,
            &[("action", "add_rows"), ("title", "Titre non enregistré")],
        ),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("name=\"b_0_c_5_amount\""));
    assert!(r.text.contains("name=\"ind_3_name\""));
    assert!(r.text.contains("Titre non enregistré"));
    let r = post(
        &c,
        &edit,
        &application_fields(&page.text, fx.year, &[("action", "add_year")]),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(r.text.contains("name=\"b_1_c_0_account\""));
    assert!(r.text.contains("value=\"20000\""));
    assert_eq!(
        app.store.application(id).await.unwrap().body.title,
        "Coup de pouce numérique"
    );

    // A second year, unbalanced: saved, and named among the missing pieces.
    let next = (fx.year + 1).to_string();
    let r = post(
        &c,
        &edit,
        &application_fields(
            &page.text,
            fx.year,
            &[
                ("b_years", "2"),
                ("b_1_c_rows", "1"),
                ("b_1_p_rows", "1"),
                ("b_1_c_0_account", "60"),
                ("b_1_c_0_amount", "5000"),
                ("b_1_p_0_account", "74"),
                ("b_1_p_0_amount", "4000"),
                ("b_1_p_0_funder", "etat"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let page = c.get(&edit).await;
    assert!(
        page.text
            .contains(&format!("Le budget {next} n&#39;est pas équilibré"))
            || page
                .text
                .contains(&format!("Le budget {next} n'est pas équilibré")),
        "{}",
        page.text
    );
    assert!(page
        .text
        .contains("charges supérieures de 1\u{202f}000\u{a0}€"));
    assert_eq!(
        app.store.application(id).await.unwrap().body.budget.len(),
        2
    );

    // End before start, negative and absurd amounts: named next to their field, typed
    // values kept, the rest saved.
    let r = post(
        &c,
        &edit,
        &application_fields(
            &page.text,
            fx.year,
            &[
                ("title", "Titre corrigé"),
                ("end_on", &format!("{}-01-01", fx.year)),
                ("b_0_c_1_account", "61"),
                ("b_0_c_1_amount", "-50"),
                ("b_0_c_2_account", "62"),
                ("b_0_c_2_amount", "99999999999999"),
                ("qpv_share_percent", "150"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text.contains("antérieure à la date de début"),
        "{}",
        r.text
    );
    assert!(r.text.contains("ne peut pas être négatif"));
    assert!(r.text.contains("10 milliards"));
    assert!(r.text.contains("entre 0 et 100"));
    assert!(r.text.contains("value=\"-50\""));
    assert!(r.text.contains("value=\"99999999999999\""));
    assert!(r.text.contains("Le reste de votre saisie a été enregistré"));
    let saved = app.store.application(id).await.unwrap();
    assert_eq!(saved.body.title, "Titre corrigé");
    assert_eq!(
        saved.body.end_on,
        format!("{}-12-31", fx.year),
        "the refused date keeps its stored value"
    );
    assert_eq!(saved.body.qpv_share_percent, Some(80));
    assert_eq!(saved.body.budget[0].charges.len(), 1);
    // The re-rendered form carries the new version: saving it again works.
    let r = post(&c, &edit, &application_fields(&r.text, fx.year, &[])).await;
    assert_eq!(r.status, 303, "{}", r.text);

    // Two people editing at once: the second save is refused, its text kept.
    let first = c.get(&edit).await;
    let second = c.get(&edit).await;
    let r = post(
        &c,
        &edit,
        &application_fields(&first.text, fx.year, &[("objectives", "Version A")]),
    )
    .await;
    assert_eq!(r.status, 303);
    let r = post(
        &c,
        &edit,
        &application_fields(
            &second.text,
            fx.year,
            &[("objectives", "Version B, tapée en même temps")],
        ),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(
        r.text.contains("modifié par quelqu&#39;un d&#39;autre")
            || r.text.contains("modifié par quelqu'un d'autre")
    );
    assert!(r.text.contains("Version B, tapée en même temps"));
    assert_eq!(
        app.store.application(id).await.unwrap().body.objectives,
        "Version A"
    );
    let r = post(
        &c,
        &edit,
        &application_fields(&first.text, fx.year, &[("version", "")]),
    )
    .await;
    assert_eq!(r.status, 422);

    // Submitted, it can no longer be edited here.
    file_statutes(&app, org, uid).await;
    let page = c.get(&edit).await;
    let r = post(
        &c,
        &edit,
        &application_fields(&page.text, fx.year, &[("b_years", "1")]),
    )
    .await;
    assert_eq!(r.status, 303);
    app.store
        .fire(
            id,
            Event::Deposer,
            &author(uid, "admin@alma.fr"),
            None,
            None,
        )
        .await
        .unwrap();
    let r = c.get(&edit).await;
    assert_eq!(r.status, 409);
    assert!(r.text.contains("ne peut plus être modifié"));
    // The financer solicited may now read the organisation's documents; another may not.
    let doc = app.store.documents(org).await.unwrap()[0].id;
    assert_eq!(
        financer
            .get(&format!("/structures/{org}/documents/{doc}"))
            .await
            .status,
        200
    );
    assert_eq!(
        financer.get(&format!("/structures/{org}")).await.status,
        403
    );
    assert_eq!(
        other
            .get(&format!("/structures/{org}/documents/{doc}"))
            .await
            .status,
        403
    );
    let _ = other_org;
}
both_engines!(draft_application, draft_application_lifecycle);

async fn renewal_prefills_from_last_year(app: TestApp) {
    let app = app.with_demo().await;
    let fx = fixture(&app).await;
    let (uid, org) = member(&app, "admin@alma.fr", "Association Alma", SIRET).await;
    let (_, other_org) = member(&app, "admin@pile.fr", "Centre social du Pile", SIRET_2).await;
    // Last year's call, closed, with the organisation's application.
    let previous_year = fx.year - 1;
    let previous_call = app
        .store
        .save_call(
            fx.contract_id,
            None,
            &CallSettings {
                year: previous_year,
                title: format!("Appel à projets {previous_year}"),
                opens_on: format!("{}-09-01", previous_year - 1),
                closes_on: format!("{}-10-31", previous_year - 1),
                ..Default::default()
            },
            &[],
            (2024, 2030),
        )
        .await
        .unwrap();
    let last = app
        .store
        .create_application(
            previous_call,
            org,
            &complete_body(previous_year),
            None,
            &author(uid, "admin@alma.fr"),
        )
        .await
        .unwrap();
    let reference = app.store.application(last).await.unwrap().reference;
    // The closed call refuses new drafts.
    let c = app.signed_in("admin@alma.fr").await;
    let closed = format!("/appels/{previous_call}/dossiers/nouveau?structure={org}");
    let page = c.get(&closed).await;
    assert!(page.text.contains("est clos depuis le"), "{}", page.text);
    let r = c
        .post_form(
            &closed,
            &[("csrf", &session_csrf(&c).await), ("title", "x")],
        )
        .await;
    assert_eq!(r.status, 409);

    let start = format!("/appels/{}/dossiers/nouveau?structure={org}", fx.call_id);
    let page = c.get(&start).await;
    assert!(
        page.text
            .contains(&format!("Renouveler le dossier {reference}")),
        "{}",
        page.text
    );
    // Another organisation cannot renew it.
    let other = app.signed_in("admin@pile.fr").await;
    let other_start = format!(
        "/appels/{}/dossiers/nouveau?structure={other_org}",
        fx.call_id
    );
    let page_other = other.get(&other_start).await;
    assert!(!page_other.text.contains("Renouveler"));
    let r = other
        .post_form(
            &other_start,
            &[
                ("csrf", &session_csrf(&other).await),
                ("renouveler", &last.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    // Renewal: the content one year on, linked to last year's.
    let csrf = session_csrf(&c).await;
    let r = c
        .post_form(
            &start,
            &[("csrf", &csrf), ("renouveler", &last.to_string())],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let id: i64 = r
        .location
        .unwrap()
        .trim_start_matches("/dossiers/")
        .trim_end_matches("/modifier")
        .parse()
        .unwrap();
    let renewed = app.store.application(id).await.unwrap();
    assert_eq!(renewed.renewed_from, Some(last));
    assert_eq!(renewed.call_id, fx.call_id);
    assert_eq!(renewed.body.title, "Coup de pouce numérique");
    assert_eq!(renewed.body.start_on, format!("{}-01-15", fx.year));
    assert_eq!(renewed.body.budget[0].year, fx.year);
    let page = c.get(&format!("/dossiers/{id}/modifier")).await;
    assert!(page.text.contains("Renouvellement du dossier"));
    assert!(page.text.contains(&format!("value=\"{}-01-15\"", fx.year)));
    assert!(page.text.contains("value=\"Personnes accompagnées\""));
    // Bad input on the start page.
    let r = c
        .get(&format!("/appels/{}/dossiers/nouveau", fx.call_id))
        .await;
    assert_eq!(r.status, 422);
    let long = "x".repeat(400);
    let r = c
        .post_form(&start, &[("csrf", &csrf), ("title", &long)])
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(r.text.contains("dépasse 300 caractères"));
    assert_eq!(
        c.get(&format!("/appels/999999/dossiers/nouveau?structure={org}"))
            .await
            .status,
        404
    );
}
both_engines!(renewal, renewal_prefills_from_last_year);

/// Takes an application through submission, instruction, committee and agreement, with a
/// report due yesterday (so it is overdue).
async fn to_agreement(app: &TestApp, fx: &Fixture, uid: i64, org: i64) -> i64 {
    let a = author(uid, "admin@alma.fr");
    file_statutes(app, org, uid).await;
    let id = app
        .store
        .create_application(fx.call_id, org, &complete_body(fx.year), None, &a)
        .await
        .unwrap();
    let pilot = labelled("pilote");
    give_opinions(
        app,
        id,
        &a,
        &pilot,
        &[("etat", 20_000, &pilot), ("mel", 10_000, &pilot)],
    )
    .await;
    grant(
        app,
        fx.call_id,
        &quartiers_store::today().to_string(),
        "État, MEL",
        &[(id, "etat", 2_000_000), (id, "mel", 1_000_000)],
        &pilot,
    )
    .await;
    app.store
        .conventionner(
            id,
            &AgreementTerms {
                advance_percent: 50,
                report_due_on: (quartiers_store::today() - Duration::days(1)).to_string(),
                obligations: String::new(),
            },
            &pilot,
        )
        .await
        .unwrap();
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::Conventionne
    );
    id
}

/// The report form's fields, from the page, with `overrides`.
fn report_fields(page: &str, overrides: &[(&str, &str)]) -> Vec<(String, String)> {
    let v = form_values(page);
    let mut f: Vec<(String, String)> = v
        .into_iter()
        .filter(|(k, _)| k != "beneficiaires")
        .collect();
    f.push(("action".into(), "save".into()));
    with_overrides(f, overrides)
}

async fn report_with_beneficiaries(app: TestApp) {
    let app = app.with_demo().await;
    let fx = fixture(&app).await;
    let (uid, org) = member(&app, "admin@alma.fr", "Association Alma", SIRET).await;
    member(&app, "admin@pile.fr", "Centre social du Pile", SIRET_2).await;
    let c = app.signed_in("admin@alma.fr").await;
    let other = app.signed_in("admin@pile.fr").await;
    let draft = app
        .store
        .create_application(
            fx.call_id,
            org,
            &complete_body(fx.year),
            None,
            &author(uid, "admin@alma.fr"),
        )
        .await
        .unwrap();
    // A draft has no report yet.
    assert_eq!(c.get(&format!("/dossiers/{draft}/bilan")).await.status, 409);
    let id = to_agreement(&app, &fx, uid, org).await;
    let path = format!("/dossiers/{id}/bilan");

    // The overdue report is flagged on the dashboard.
    let dash = c.get("/mes-dossiers").await;
    assert!(dash.text.contains("Bilan en retard"), "{}", dash.text);
    assert!(dash.text.contains(&path));

    // The actual's income rows offer the financers by name.
    let page = c.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains(r#"<option value="etat">État</option>"#)
            || page
                .text
                .contains(r#"<option value="etat" selected>État</option>"#),
        "{}",
        page.text
    );

    // Access: members only.
    assert_eq!(other.get(&path).await.status, 403);
    assert_eq!(app.client().get(&path).await.status, 303);
    let (s, _, _) = post_multipart(
        &other,
        &path,
        &owned(&[("csrf", &session_csrf(&other).await)]),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, _, _) = post_multipart(&app.client(), &path, &owned(&[("csrf", "")]), None).await;
    assert_eq!(s, 401);

    // Pre-filled from the forecast.
    let page = c.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains("name=\"r_0_c_0_amount\" value=\"30000\""),
        "{}",
        page.text
    );
    assert!(page.text.contains("Personnes accompagnées"));

    // Filing an incomplete report: every missing piece named, the typed text kept as a draft.
    let fields = report_fields(
        &page.text,
        &[
            ("action", "file"),
            ("r_0_c_0_amount", "20000"),
            ("r_0_p_0_amount", "10000"),
        ],
    );
    let (s, t, _) = post_multipart(&c, &path, &fields, None).await;
    assert_eq!(s, 422, "{t}");
    assert!(t.contains("Il manque le bilan qualitatif"), "{t}");
    assert!(t.contains("Indiquez la valeur atteinte de l"), "{t}");
    assert!(t.contains("dépasse 15 %"), "{t}");
    assert!(
        t.contains("Le bilan n&#39;a pas été déposé") || t.contains("Le bilan n'a pas été déposé")
    );
    assert!(t.contains("name=\"gap_"), "gap explanations asked");
    let stored = app.store.report(id).await.unwrap().unwrap();
    assert_eq!(
        stored.body.actual[0].charges[0].amount_cents.get(),
        2_000_000
    );
    assert!(stored.filed_at.is_none());
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::Conventionne
    );

    // Bad input: negative amount, non-numeric indicator, a beneficiaries file of the wrong type.
    let fields = report_fields(&t, &[("r_0_c_0_amount", "-3"), ("ach_0", "beaucoup")]);
    let (s, t2, _) = post_multipart(
        &c,
        &path,
        &fields,
        Some((
            "beneficiaires",
            "liste.pdf",
            "application/pdf",
            b"%PDF".to_vec(),
        )),
    )
    .await;
    assert_eq!(s, 422, "{t2}");
    assert!(t2.contains("ne peut pas être négatif"));
    assert!(
        t2.contains("n&#39;est pas un nombre positif")
            || t2.contains("n'est pas un nombre positif")
    );
    assert!(
        t2.contains("n&#39;est pas un tableau CSV ou XLSX")
            || t2.contains("n'est pas un tableau CSV ou XLSX")
    );
    assert!(t2.contains("value=\"beaucoup\""));

    // Concurrent edit: a stale version is refused with the text kept.
    let mut stale = report_fields(&t, &[("qualitative", "Texte concurrent")]);
    for (k, v) in stale.iter_mut() {
        if k == "version" {
            *v = "1".into();
        }
    }
    let current_version = app.store.report(id).await.unwrap().unwrap().version;
    assert!(current_version > 1);
    let (s, t3, _) = post_multipart(&c, &path, &stale, None).await;
    assert_eq!(s, 409, "{t3}");
    assert!(t3.contains("Texte concurrent"));

    // The complete report with the beneficiaries' addresses: filed; only counts kept.
    let page = c.get(&path).await;
    let year = fx.year.to_string();
    let gap64 = format!("gap_{year}_64");
    let gap74 = format!("gap_{year}_74");
    let fields = report_fields(
        &page.text,
        &[
            ("action", "file"),
            ("r_0_c_0_account", "64"),
            ("r_0_c_0_amount", "20000"),
            ("r_0_p_0_amount", "10000"),
            ("qualitative", "118 personnes accompagnées, dont 90 en QPV."),
            ("ach_0", "118"),
            (&gap64, "Un poste d'animateur vacant pendant quatre mois."),
            (&gap74, "Subvention de l'État réduite en conséquence."),
        ],
    );
    let csv = "nom;adresse\r\nA;\"12 rue de l'Alma 59100 Roubaix\"\r\nB;\"3 place de la Liberté 59100 Roubaix\"\r\n";
    let (s, t, location) = post_multipart(
        &c,
        &path,
        &fields,
        Some((
            "beneficiaires",
            "beneficiaires.csv",
            "text/csv",
            csv.as_bytes().to_vec(),
        )),
    )
    .await;
    assert_eq!(s, 303, "{t}");
    assert_eq!(
        location.as_deref(),
        Some(format!("{path}?depose=1").as_str())
    );
    let stored = app.store.report(id).await.unwrap().unwrap();
    assert!(stored.filed_at.is_some());
    let counts = stored.body.beneficiaries.clone().expect("counts kept");
    assert_eq!(counts.total, 2);
    let json = serde_json::to_string(&stored.body).unwrap();
    assert!(!json.contains("Alma 59100"), "no address is stored: {json}");
    assert_eq!(
        app.store.application(id).await.unwrap().status,
        Status::BilanDepose
    );
    let page = c.get(&format!("{path}?depose=1")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Bilan déposé"));
    assert!(page.text.contains("2 adresses"));
    assert!(
        !page.text.contains("Déposer le bilan"),
        "read-only once filed"
    );
    let csrf = session_csrf(&c).await;
    let (s, _, _) = post_multipart(
        &c,
        &path,
        &report_fields(&page.text, &[("csrf", &csrf), ("version", "2")]),
        None,
    )
    .await;
    assert_eq!(s, 409, "a filed report can no longer be changed here");
}
both_engines!(report, report_with_beneficiaries);
