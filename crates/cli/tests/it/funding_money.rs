//! The money side of the funding cycle through its pages, on both engines: agreements
//! (conventionner, payments, amendments, follow-up, the printable document), the
//! dashboards with their XLSX and SCDL exports, the published programme, and the national
//! load generator with its benchmark through the command line.

use crate::both_engines;
use crate::funding_fixtures::{
    application, budget, give_opinions, grant, mel_staff, new_organisation, open_call,
    organisation, register_funder, save_call, user,
};
use crate::helpers::{Client, TestApp};
use quartiers_domain::funding::{ApplicationBody, Status};
use quartiers_domain::{Rna, Role};
use quartiers_store::contracts::Author;
use quartiers_store::funding::agreements::AgreementTerms;
use quartiers_store::funding::dashboards::DashboardFilter;
use quartiers_store::funding::organisations::NewOrganisation;

const ORG_SIRET: &str = "73282932000074";
const ORG_RNA: &str = "W595012345";

/// Cents as the pages show them.
fn shown(cents: i64) -> String {
    quartiers_web::funding::euros(cents)
}

/// A balanced two-year application asking the State and the MEL.
fn body() -> ApplicationBody {
    let year = |y: i32| budget(y, &[("etat", 20_000), ("mel", 10_000)], 5_000);
    application(
        "Ateliers numériques de l'Alma",
        vec![year(2026), year(2027)],
    )
}

/// The people of the scenarios and a decided application.
struct World {
    contract_id: i64,
    call_id: i64,
    app_id: i64,
    pilot: Author,
}

/// MEL contract, its financers (with SIRET), a 2026 call with envelopes, the accounts of each
/// role, and an application brought to « décidé » (État 30 000 €, MEL 20 000 €).
async fn decided(app: &TestApp) -> World {
    let mel = app.contract("mel-2024").await;
    let (pilot, state, _) = mel_staff(app, mel.id).await;
    user(
        app,
        "instructeur@mel.fr",
        Some(Role::Financeur),
        Some("mel"),
        mel.id,
    )
    .await;
    let carrier = user(app, "presidente@alma.fr", None, None, mel.id).await;
    let stranger = user(app, "tresorier@autre.fr", None, None, mel.id).await;
    for (code, name, siret) in [
        ("etat", "Préfecture du Nord", Some("11000201100044")),
        (
            "mel",
            "Métropole Européenne de Lille",
            Some("20004167200011"),
        ),
        ("roubaix", "Ville de Roubaix", None),
    ] {
        register_funder(
            app,
            mel.id,
            code,
            name,
            Some(format!("pv@{code}.fr")),
            siret,
        )
        .await;
    }
    let today = quartiers_store::today();
    let call_id = save_call(
        app,
        mel.id,
        &open_call(2026, 10, 20),
        &[("etat", 100_000), ("mel", 80_000)],
    )
    .await;
    let org = organisation(
        app,
        &NewOrganisation {
            rna: Some(Rna::parse(ORG_RNA).unwrap()),
            ..new_organisation("Association Alma Numérique", ORG_SIRET, "contact@alma.fr")
        },
        &carrier,
    )
    .await;
    organisation(
        app,
        &new_organisation("Autre association", "11000201100044", "contact@alma.fr"),
        &stranger,
    )
    .await;
    let app_id = app
        .store
        .create_application(call_id, org, &body(), None, &carrier)
        .await
        .unwrap();
    assert_eq!(
        give_opinions(
            app,
            app_id,
            &carrier,
            &state,
            &[("etat", 30_000, &state), ("mel", 20_000, &pilot)],
        )
        .await,
        Status::AvisRendus
    );
    let (_, decided) = grant(
        app,
        call_id,
        &today.to_string(),
        "Préfet délégué",
        &[(app_id, "etat", 3_000_000), (app_id, "mel", 2_000_000)],
        &pilot,
    )
    .await;
    assert_eq!(decided, vec![(app_id, Status::Decide)]);
    World {
        contract_id: mel.id,
        call_id,
        app_id,
        pilot,
    }
}

async fn status(app: &TestApp, id: i64) -> Status {
    app.store.application(id).await.unwrap().status
}

async fn post_with_csrf(c: &Client, path: &str, fields: &[(&str, &str)]) -> crate::helpers::Page {
    let csrf = crate::helpers::session_csrf(c).await;
    let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    c.post_form(path, &all).await
}

async fn agreements_through_the_pages(app: TestApp) {
    let app = app.with_demo().await;
    let w = decided(&app).await;
    let id = w.app_id;
    let pilot = app.signed_in("pilote@mel.fr").await;
    let state = app.signed_in("instructrice@etat.fr").await;
    let mel_instructor = app.signed_in("instructeur@mel.fr").await;
    let roubaix = app.signed_in("instructeur@roubaix.fr").await;
    let carrier = app.signed_in("presidente@alma.fr").await;
    let stranger = app.signed_in("tresorier@autre.fr").await;
    let anonymous = app.client();
    let conv = format!("/dossiers/{id}/conventionner");

    // The money section of the application page: the conventionner form for pilots only.
    let page = pilot.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(page.text.contains("Conventions et paiements"));
    assert!(page
        .text
        .contains(&format!("action=\"/dossiers/{id}/conventionner\"")));
    let page = state.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Conventions et paiements"));
    assert!(!page
        .text
        .contains(&format!("action=\"/dossiers/{id}/conventionner\"")));

    // Only pilots conventionne.
    assert_eq!(anonymous.get(&conv).await.status, 401);
    assert_eq!(state.get(&conv).await.status, 403);
    assert_eq!(carrier.get(&conv).await.status, 403);
    assert_eq!(
        post_with_csrf(
            &state,
            &conv,
            &[("advance_percent", "50"), ("report_due_on", "2028-06-30")]
        )
        .await
        .status,
        403
    );
    assert_eq!(
        pilot.get("/dossiers/999999/conventionner").await.status,
        404
    );

    // Bad input: French messages next to the fields, what was typed kept.
    let r = pilot
        .submit(
            &conv,
            None,
            &[
                ("advance_percent", "150"),
                ("obligations", "Logo des financeurs"),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert!(
        r.text
            .contains("L'avance est un pourcentage entier entre 0 et 100"),
        "{}",
        r.text
    );
    assert!(r.text.contains("Logo des financeurs"));
    let r = pilot
        .submit(&conv, None, &[("report_due_on", "2028-13-45")])
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("n'est pas une date valide"), "{}", r.text);
    let r = pilot
        .post_form(
            &conv,
            &[
                ("csrf", "faux"),
                ("advance_percent", "50"),
                ("report_due_on", "2028-06-30"),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "CSRF");
    assert_eq!(status(&app, id).await, Status::Decide);

    // The pilot conventionne: one multi-year agreement per financer, split by year as asked.
    let r = pilot
        .submit(
            &conv,
            None,
            &[
                ("advance_percent", "50"),
                ("report_due_on", "2028-06-30"),
                ("obligations", "Logo des financeurs sur les supports."),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert!(r
        .location
        .as_deref()
        .unwrap_or("")
        .starts_with(&format!("/dossiers/{id}")));
    assert_eq!(status(&app, id).await, Status::Conventionne);
    let agreements = app.store.agreements(id).await.unwrap();
    assert_eq!(agreements.len(), 2);
    let etat = agreements
        .iter()
        .find(|a| a.funder == "etat")
        .unwrap()
        .clone();
    let mel = agreements
        .iter()
        .find(|a| a.funder == "mel")
        .unwrap()
        .clone();
    assert_eq!(etat.kind, "pluriannuelle");
    assert_eq!(etat.years, vec![(2026, 1_500_000), (2027, 1_500_000)]);
    assert_eq!(mel.years, vec![(2026, 1_000_000), (2027, 1_000_000)]);
    // Twice is refused, the typed terms kept.
    let r = pilot
        .post_form(
            &conv,
            &[
                ("csrf", &crate::helpers::session_csrf(&pilot).await),
                ("advance_percent", "30"),
                ("report_due_on", "2028-06-30"),
            ],
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    assert!(
        r.text.contains("conventionné") || r.text.contains("existent déjà"),
        "{}",
        r.text
    );
    assert_eq!(app.store.agreements(id).await.unwrap().len(), 2);

    // Payments: the pilot pays the State's advance.
    let pay_etat = format!("/conventions/{}/paiements", etat.id);
    let pay_mel = format!("/conventions/{}/paiements", mel.id);
    let form = pilot.get(&pay_etat).await;
    assert_eq!(form.status, 200);
    assert!(
        form.text.contains("15000"),
        "the advance is proposed: {}",
        form.text
    );
    let r = pilot
        .submit(
            &pay_etat,
            None,
            &[
                ("kind", "avance"),
                ("amount", "15 000"),
                ("paid_on", "2026-05-02"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(status(&app, id).await, Status::Paye);
    // Over-payment, nonsense and a missing date are refused in French.
    let r = pilot
        .submit(
            &pay_etat,
            None,
            &[
                ("kind", "solde"),
                ("amount", "15 000,01"),
                ("paid_on", "2027-03-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("dépasse le reste à payer"), "{}", r.text);
    assert!(r.text.contains("15 000,01"), "typed amount kept");
    let r = pilot
        .submit(&pay_etat, None, &[("amount", "beaucoup")])
        .await;
    assert_eq!(r.status, 422);
    assert!(
        r.text.contains("n'est pas un montant en euros"),
        "{}",
        r.text
    );
    let r = pilot.submit(&pay_etat, None, &[("amount", "-5")]).await;
    assert_eq!(r.status, 422);
    let r = pilot.submit(&pay_etat, None, &[("paid_on", "")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Indiquez la date du versement"));
    let r = pilot.submit(&pay_etat, None, &[("kind", "cadeau")]).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("avance, acompte ou solde"), "{}", r.text);
    // The State pays its balance on its own agreement, but not on the MEL's.
    let r = state
        .submit(
            &pay_etat,
            None,
            &[
                ("kind", "solde"),
                ("amount", "15000"),
                ("paid_on", "2027-03-01"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(state.get(&pay_mel).await.status, 403);
    let r = post_with_csrf(
        &state,
        &pay_mel,
        &[
            ("kind", "avance"),
            ("amount", "100"),
            ("paid_on", "2026-05-02"),
        ],
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(mel_instructor.get(&pay_mel).await.status, 200);
    assert_eq!(carrier.get(&pay_etat).await.status, 403);
    assert_eq!(stranger.get(&pay_etat).await.status, 403);
    assert_eq!(
        stranger
            .get(&format!("/conventions/{}/avenants", etat.id))
            .await
            .status,
        403
    );
    assert_eq!(anonymous.get(&pay_etat).await.status, 401);
    assert_eq!(pilot.get("/conventions/999999/paiements").await.status, 404);
    let etat_now = app.store.agreement(etat.id).await.unwrap();
    assert_eq!(etat_now.paid, 3_000_000);
    assert_eq!(app.store.payments(etat.id).await.unwrap().len(), 2);

    // On the application page, each visitor gets the payment forms it may use.
    let page = state.get(&format!("/dossiers/{id}")).await;
    assert!(
        page.text
            .contains(&format!("action=\"/conventions/{}/paiements\"", etat.id))
            == (etat_now.paid < etat_now.amount)
    );
    assert!(!page
        .text
        .contains(&format!("action=\"/conventions/{}/paiements\"", mel.id)));
    assert!(page
        .text
        .contains(&format!("href=\"/conventions/{}\"", etat.id)));
    let page = pilot.get(&format!("/dossiers/{id}")).await;
    assert!(page
        .text
        .contains(&format!("action=\"/conventions/{}/paiements\"", mel.id)));
    assert!(page
        .text
        .contains(&format!("action=\"/conventions/{}/avenants\"", mel.id)));
    assert!(page
        .text
        .contains(&format!("action=\"/dossiers/{id}/suivi\"")));
    let page = carrier.get(&format!("/dossiers/{id}")).await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains(&shown(1_500_000)),
        "the carrier sees its agreements"
    );
    assert!(
        !page.text.contains("/paiements\"") && !page.text.contains("/avenants\""),
        "but no money form"
    );

    // Amendments: pilots only.
    let av = format!("/conventions/{}/avenants", mel.id);
    assert_eq!(state.get(&av).await.status, 403);
    assert_eq!(
        post_with_csrf(
            &mel_instructor,
            &av,
            &[("year", "2027"), ("amount", "12000"), ("reason", "x")]
        )
        .await
        .status,
        403
    );
    let r = pilot
        .submit(
            &av,
            None,
            &[("year", "2027"), ("amount", "12000"), ("reason", "")],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Indiquez l'objet de l'avenant"));
    let r = pilot
        .submit(
            &av,
            None,
            &[
                ("year", "2031"),
                ("amount", "12000"),
                ("reason", "Hors période"),
            ],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("Choisissez une année couverte"));
    let r = pilot
        .submit(
            &av,
            None,
            &[
                ("year", "2027"),
                ("amount", "12000"),
                ("reason", "Deuxième groupe d'ateliers"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text);
    let mel_now = app.store.agreement(mel.id).await.unwrap();
    assert_eq!(mel_now.years, vec![(2026, 1_000_000), (2027, 1_200_000)]);
    assert_eq!(mel_now.amount, 2_200_000);
    assert_eq!(mel_now.amendments.len(), 1);

    // The printable agreement: parties, amounts, schedule, signatures — for who may read the file.
    let doc_path = format!("/conventions/{}", etat.id);
    let doc = carrier.get(&doc_path).await;
    assert_eq!(doc.status, 200, "{}", doc.text);
    for expected in [
        "Préfecture du Nord",
        "11000201100044",
        "Association Alma Numérique",
        ORG_SIRET,
        ORG_RNA,
        "Mme Claire Martin, présidente",
        "Ateliers numériques de l'Alma",
        "pluriannuelle",
        "Signature",
        "@media print",
        "Logo des financeurs sur les supports.",
    ] {
        assert!(
            doc.text.contains(expected),
            "{expected} missing from the agreement"
        );
    }
    assert!(
        doc.text.contains(&shown(3_000_000)) && doc.text.contains(&shown(1_500_000)),
        "amounts per year"
    );
    assert!(doc.text.contains("30 juin 2028"), "report due date");
    assert_eq!(pilot.get(&doc_path).await.status, 200);
    assert_eq!(state.get(&doc_path).await.status, 200);
    assert_eq!(
        stranger.get(&doc_path).await.status,
        403,
        "another organisation's agreement"
    );
    assert_eq!(
        roubaix.get(&doc_path).await.status,
        403,
        "a financer not solicited"
    );
    assert_eq!(anonymous.get(&doc_path).await.status, 401);
    assert_eq!(pilot.get("/conventions/999999").await.status, 404);

    // Follow-up: pilots only, through the workflow's guards.
    let follow = format!("/dossiers/{id}/suivi");
    let version = app.store.application(id).await.unwrap().version.to_string();
    assert_eq!(
        post_with_csrf(
            &state,
            &follow,
            &[("event", "attendre_bilan"), ("version", &version)]
        )
        .await
        .status,
        403
    );
    assert_eq!(
        post_with_csrf(
            &carrier,
            &follow,
            &[("event", "attendre_bilan"), ("version", &version)]
        )
        .await
        .status,
        403
    );
    let r = anonymous
        .post_form(
            &follow,
            &[("event", "attendre_bilan"), ("version", &version)],
        )
        .await;
    assert_eq!(r.status, 401);
    assert_eq!(
        post_with_csrf(
            &stranger,
            &follow,
            &[("event", "clore"), ("version", &version)]
        )
        .await
        .status,
        403,
        "another organisation's application"
    );
    let r = post_with_csrf(
        &pilot,
        &follow,
        &[("event", "decider"), ("version", &version)],
    )
    .await;
    assert_eq!(r.status, 422);
    let r = post_with_csrf(
        &pilot,
        &follow,
        &[("event", "attendre_bilan"), ("version", &version)],
    )
    .await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(status(&app, id).await, Status::BilanAttendu);
    // A double click does nothing more; closing before the report is refused in French.
    let r = post_with_csrf(
        &pilot,
        &follow,
        &[("event", "attendre_bilan"), ("version", &version)],
    )
    .await;
    assert_eq!(r.status, 303);
    let version = app.store.application(id).await.unwrap().version.to_string();
    let r = post_with_csrf(
        &pilot,
        &follow,
        &[("event", "clore"), ("version", &version)],
    )
    .await;
    assert_eq!(r.status, 409);
    assert!(r.text.contains("Impossible de clore"), "{}", r.text);
    assert_eq!(status(&app, id).await, Status::BilanAttendu);
    let _ = w;
}
both_engines!(
    agreements_payments_and_document,
    agreements_through_the_pages
);

/// Reads one sheet of a workbook into text rows (through calamine).
fn sheet(bytes: &[u8], name: &str) -> Vec<Vec<String>> {
    let t = quartiers_io::table::XlsxTable::open(std::io::Cursor::new(bytes.to_vec()), Some(name))
        .expect("sheet opens");
    let mut rows = vec![t.headers()];
    for (_, r) in t.rows() {
        rows.push(
            r.iter()
                .map(|c| {
                    let mut s = String::new();
                    quartiers_io::table::cell_to_string(c, &mut s);
                    s
                })
                .collect(),
        );
    }
    rows
}

async fn bytes(c: &Client, path: &str) -> (u16, String, Vec<u8>) {
    let r = c
        .http
        .get(format!("{}{path}", c.base))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

async fn dashboards_exports_and_programme(app: TestApp) {
    let app = app.with_demo().await;
    let w = decided(&app).await;
    let store = &app.store;
    let terms = AgreementTerms {
        advance_percent: 80,
        report_due_on: "2028-06-30".into(),
        obligations: String::new(),
    };
    store
        .conventionner(w.app_id, &terms, &w.pilot)
        .await
        .unwrap();
    let etat = store
        .agreements(w.app_id)
        .await
        .unwrap()
        .into_iter()
        .find(|a| a.funder == "etat")
        .unwrap();
    store
        .record_payment(etat.id, "avance", 2_400_000, "2026-05-02", &w.pilot)
        .await
        .unwrap();
    let pilot = app.signed_in("pilote@mel.fr").await;
    let state = app.signed_in("instructrice@etat.fr").await;
    let roubaix = app.signed_in("instructeur@roubaix.fr").await;
    let carrier = app.signed_in("presidente@alma.fr").await;
    let anonymous = app.client();
    let dash = "/contrats/mel-2024/financements";

    // The pilot's dashboard: totals equal what was decided and paid.
    let grand = store
        .grand_total(w.contract_id, &DashboardFilter::default())
        .await
        .unwrap();
    assert_eq!(
        (grand.decided, grand.agreed, grand.paid, grand.actions),
        (5_000_000, 5_000_000, 2_400_000, 1)
    );
    let r = pilot.get(dash).await;
    assert_eq!(r.status, 200, "{}", r.text);
    for expected in [
        "Total général",
        "Préfecture du Nord",
        "Métropole Européenne de Lille",
        "Consommation des enveloppes",
        "Bilans en retard",
        "Programme 2026",
    ] {
        assert!(r.text.contains(expected), "{expected} missing");
    }
    assert!(
        r.text.contains(&shown(5_000_000))
            && r.text.contains(&shown(2_400_000))
            && r.text.contains(&shown(3_000_000)),
        "decided, paid, per financer"
    );
    let r = pilot.get(&format!("{dash}?par=cadre")).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text
            .contains("Lutter contre les inégalités dès l'enfance"),
        "node titles"
    );
    let r = pilot.get(&format!("{dash}?par=qpv&annee=2026")).await;
    assert!(r.text.contains("Pont de Bois-Hôtel de ville"), "QPV names");
    let r = pilot.get(&format!("{dash}?par=commune")).await;
    assert_eq!(r.status, 200);
    let r = pilot.get(&format!("{dash}?par=statut")).await;
    assert!(r.text.contains("Payé"));
    let r = pilot.get(&format!("{dash}?annee=2019")).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains("Total général") && !r.text.contains(&shown(5_000_000)),
        "nothing in 2019"
    );
    // Bad input: 422 with a French message.
    let r = pilot.get(&format!("{dash}?par=couleur")).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("n'est pas un regroupement"), "{}", r.text);
    let r = pilot.get(&format!("{dash}?annee=deux-mille")).await;
    assert_eq!(r.status, 422);
    assert!(r.text.contains("n'est pas une année"));
    assert_eq!(
        pilot.get("/contrats/inconnu/financements").await.status,
        404
    );

    // A financer sees its own lines only, and is refused another financer's dashboard.
    let r = state.get(dash).await;
    assert_eq!(r.status, 200);
    assert!(
        r.text.contains(&shown(3_000_000)) && !r.text.contains(&shown(5_000_000)),
        "the State's 30 000 € only"
    );
    assert_eq!(
        state
            .get(&format!("{dash}?financeur=etat&par=annee"))
            .await
            .status,
        200
    );
    assert_eq!(
        state.get(&format!("{dash}?financeur=mel")).await.status,
        403
    );
    assert_eq!(roubaix.get(dash).await.status, 200);
    assert_eq!(
        roubaix.get(&format!("{dash}?financeur=etat")).await.status,
        403
    );
    assert_eq!(carrier.get(dash).await.status, 403);
    assert_eq!(anonymous.get(dash).await.status, 401);

    // The XLSX export opens and carries the same totals.
    let (st, ct, xlsx) = bytes(&pilot, "/contrats/mel-2024/financements.xlsx").await;
    assert_eq!(st, 200);
    assert!(ct.contains("spreadsheetml"), "{ct}");
    let by_funder = sheet(&xlsx, "Par financeur");
    assert_eq!(
        by_funder[0][..4],
        ["Financeur", "Libellé", "Actions", "Demandé"].map(String::from)
    );
    let etat_row = by_funder.iter().find(|r| r[0] == "etat").expect("etat row");
    assert_eq!(etat_row[1], "Préfecture du Nord");
    assert_eq!(
        etat_row[5].parse::<f64>().unwrap(),
        30_000.0,
        "{etat_row:?}"
    );
    assert_eq!(etat_row[7].parse::<f64>().unwrap(), 24_000.0, "paid");
    let total = by_funder.last().unwrap();
    assert_eq!(total[0], "Total général");
    assert_eq!(total[5].parse::<f64>().unwrap(), 50_000.0);
    let lines = sheet(&xlsx, "Lignes de financement");
    assert_eq!(lines.len(), 3, "header and two lines: {lines:?}");
    assert!(lines.iter().any(|r| r.contains(&ORG_SIRET.to_string())));
    let envelopes = sheet(&xlsx, "Enveloppes");
    assert!(
        envelopes.iter().any(
            |r| r.get(2).map(String::as_str) == Some("Préfecture du Nord")
                && r[5].parse::<f64>().ok() == Some(30_000.0)
        ),
        "{envelopes:?}"
    );
    let summary = sheet(&xlsx, "Synthèse");
    assert_eq!(summary[1][4].parse::<f64>().unwrap(), 50_000.0);
    let (st, _, own) = bytes(&state, "/contrats/mel-2024/financements.xlsx?annee=2026").await;
    assert_eq!(st, 200);
    assert_eq!(
        sheet(&own, "Synthèse")[1][4].parse::<f64>().unwrap(),
        30_000.0
    );
    assert_eq!(
        bytes(&state, "/contrats/mel-2024/financements.xlsx?financeur=mel")
            .await
            .0,
        403
    );
    assert_eq!(
        bytes(&carrier, "/contrats/mel-2024/financements.xlsx")
            .await
            .0,
        403
    );
    assert_eq!(
        bytes(&anonymous, "/contrats/mel-2024/financements.xlsx")
            .await
            .0,
        401
    );

    // The SCDL open data: the schema's header and one row per granted line.
    let csv = "/contrats/mel-2024/subventions.csv";
    let (st, ct, data) = bytes(&pilot, csv).await;
    assert_eq!(st, 200);
    assert!(ct.starts_with("text/csv"));
    let text = String::from_utf8(data).unwrap();
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows[0], quartiers_io::scdl::SCDL_COLUMNS.join(","));
    assert_eq!(rows.len(), 3, "{text}");
    let etat_row = rows
        .iter()
        .find(|r| r.starts_with("Préfecture du Nord,11000201100044,"))
        .expect("State row");
    assert!(etat_row.contains(",Association Alma Numérique,73282932000074,W595012345,Ateliers numériques de l'Alma,30000.00,aide en numéraire,échelonné,"), "{etat_row}");
    assert!(rows.iter().any(
        |r| r.starts_with("Métropole Européenne de Lille,20004167200011,")
            && r.contains(",20000.00,")
    ));
    // Before publication the public gets nothing; the State gets its own line.
    assert_eq!(bytes(&anonymous, csv).await.0, 404);
    assert_eq!(bytes(&carrier, csv).await.0, 404);
    let (st, _, own) = bytes(&state, csv).await;
    assert_eq!(st, 200);
    assert_eq!(String::from_utf8(own).unwrap().lines().count(), 2);
    assert_eq!(bytes(&pilot, &format!("{csv}?annee=vingt")).await.0, 422);

    // The programme: 404 before publication, shown after.
    let prog = "/contrats/mel-2024/programme/2026";
    assert_eq!(anonymous.get(prog).await.status, 404);
    assert_eq!(state.get(prog).await.status, 404);
    let preview = pilot.get(prog).await;
    assert_eq!(preview.status, 200);
    assert!(preview.text.contains("Aperçu") && preview.text.contains("Publier le programme"));
    let publish = format!("/appels/{}/publication", w.call_id);
    assert_eq!(
        post_with_csrf(&state, &publish, &[("publier", "1")])
            .await
            .status,
        403
    );
    assert_eq!(
        anonymous
            .post_form(&publish, &[("publier", "1")])
            .await
            .status,
        401
    );
    assert_eq!(
        post_with_csrf(&pilot, &publish, &[("publier", "peut-être")])
            .await
            .status,
        422
    );
    assert_eq!(
        pilot.get("/contrats/mel-2024/programme/2019").await.status,
        404
    );
    let r = pilot.submit(prog, None, &[]).await;
    assert_eq!(r.status, 303, "{}", r.text);
    assert_eq!(r.location.as_deref(), Some(prog));
    let public = anonymous.get(prog).await;
    assert_eq!(public.status, 200);
    assert!(
        public.text.contains("Ateliers numériques de l'Alma")
            && public.text.contains("Association Alma Numérique")
    );
    assert!(public.text.contains(&shown(5_000_000)), "programme total");
    assert!(
        !public.text.contains("12 rue de l'Alma"),
        "no address on the public programme"
    );
    let (st, _, open) = bytes(&anonymous, csv).await;
    assert_eq!(st, 200);
    assert_eq!(String::from_utf8(open).unwrap().lines().count(), 3);
    assert_eq!(
        bytes(&anonymous, &format!("{csv}?annee=2025")).await.0,
        404,
        "2025 is not published"
    );
    // Withdrawn: hidden again.
    let r = pilot.submit(prog, None, &[]).await;
    assert_eq!(r.status, 303);
    assert_eq!(anonymous.get(prog).await.status, 404);
}
both_engines!(dashboards_and_exports, dashboards_exports_and_programme);

fn run_cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quartiers"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run quartiers");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn national_load_then_bench(app: TestApp) {
    let url = app.database_url.clone();
    let (ok, out, err) = run_cli(&[
        "generate",
        "national-load",
        "--database",
        &url,
        "--contracts",
        "3",
        "--years",
        "2",
        "--applications-per-year",
        "60",
        "--seed",
        "7",
    ]);
    assert!(ok, "{out}\n{err}");
    for expected in [
        "rows_contracts: 3 rows",
        "rows_calls: 6 rows",
        "rows_applications: 120 rows",
        "rows_funding_lines: 360 rows",
    ] {
        assert!(out.contains(expected), "{expected} missing:\n{out}");
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("rows_per_second: ") && l.ends_with(" rows/s")),
        "{out}"
    );
    assert!(err.contains("3/3 contrats"), "progress: {err}");
    // Statuses are realistic and consistent with the money.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM funding_lines l JOIN applications a ON a.id = l.application_id WHERE l.status <> a.status").fetch_one(app.store.pool()).await.unwrap();
    assert_eq!(n, 0);
    let over: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM funding_lines WHERE paid > agreed OR agreed > decided",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(over, 0);
    let closed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM applications WHERE status = 'clos'")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert!(closed > 0);
    // The generated data goes through the ordinary pages.
    let c = app.store.contract("cv-001").await.unwrap();
    let g = app
        .store
        .grand_total(c.id, &DashboardFilter::default())
        .await
        .unwrap();
    let counted: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM applications WHERE contract_id = $1 AND status <> 'retire'",
    )
    .bind(c.id)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert!(
        counted > 30,
        "20 applications a year in each contract, few withdrawn: {counted}"
    );
    assert_eq!(g.actions, counted);
    let x = quartiers_web::funding::export::funding_xlsx(
        &app.store,
        c.id,
        &DashboardFilter {
            year: Some(i64::from(quartiers_store::today().year())),
            funder: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(&x[..2], b"PK");
    // A second run is refused: the database is not empty.
    let (ok, _, err) = run_cli(&[
        "generate",
        "national-load",
        "--database",
        &url,
        "--contracts",
        "3",
        "--years",
        "2",
        "--applications-per-year",
        "60",
    ]);
    assert!(!ok);
    assert!(err.contains("la base n'est pas vide"), "{err}");
    // The benchmark prints `name: value unit` lines.
    let (ok, out, err) = run_cli(&["bench", "funding", "--database", &url, "--iterations", "3"]);
    assert!(ok, "{out}\n{err}");
    for name in [
        "dashboard_median",
        "dashboard_p95",
        "dashboard_page_median",
        "worklist_median",
        "worklist_p95",
        "xlsx_export_median",
        "xlsx_export_p95",
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert!(line.ends_with(" ms"), "{line}");
        let value: f64 = line[name.len() + 2..line.len() - 3].parse().unwrap();
        assert!(value >= 0.0);
    }
    assert!(out.contains("rows_applications: 120 rows"), "{out}");
    for l in out.lines() {
        let (name, rest) = l
            .split_once(": ")
            .unwrap_or_else(|| panic!("not `name: value unit`: {l}"));
        assert!(!name.is_empty() && !name.contains(' '), "{l}");
        let (value, unit) = rest
            .split_once(' ')
            .unwrap_or_else(|| panic!("no unit: {l}"));
        assert!(value.parse::<f64>().is_ok() && !unit.is_empty(), "{l}");
    }
}
both_engines!(generate_and_bench_cli, national_load_then_bench);

async fn report_reminders(app: TestApp) {
    let app = app.with_demo().await;
    let w = decided(&app).await;
    let today = quartiers_store::today();
    let due = today + time::Duration::days(10);
    app.store
        .conventionner(
            w.app_id,
            &AgreementTerms {
                advance_percent: 50,
                report_due_on: due.to_string(),
                obligations: "Logos des financeurs".into(),
            },
            &w.pilot,
        )
        .await
        .unwrap();
    let reference = app.store.application(w.app_id).await.unwrap().reference;
    let before = app.store.outbox(100).await.unwrap().len();

    // Due in 10 days: the command line queues the first reminder, once.
    let (ok, out, err) = run_cli(&["reminders", "--database", &app.database_url]);
    assert!(ok, "{err}");
    assert!(
        out.contains("1 à rendre sous 30 jours, 0 en retard"),
        "{out}"
    );
    let (ok, out, _) = run_cli(&["reminders", "--database", &app.database_url]);
    assert!(
        ok && out.contains("0 à rendre sous 30 jours, 0 en retard"),
        "{out}"
    );
    let mails = app.store.outbox(100).await.unwrap();
    assert_eq!(mails.len(), before + 1);
    assert_eq!(mails[0].mail.to, "contact@alma.fr");
    assert_eq!(
        mails[0].mail.subject,
        format!(
            "Bilan à rendre avant le {} — dossier {reference}",
            quartiers_domain::french::french_date(&due.to_string())
        )
    );

    // Twenty days later the report is overdue: a second reminder, once.
    let later = today + time::Duration::days(20);
    let sent = app.store.send_report_reminders(later).await.unwrap();
    assert_eq!((sent.echeance, sent.retard), (0, 1));
    let sent = app.store.send_report_reminders(later).await.unwrap();
    assert_eq!((sent.echeance, sent.retard), (0, 0));
    let mails = app.store.outbox(100).await.unwrap();
    assert_eq!(mails.len(), before + 2);
    assert_eq!(
        mails[0].mail.subject,
        format!("Bilan en retard — dossier {reference}")
    );

    // Once the report is filed, no reminder is due any more.
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM report_reminders")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(n, 2);
    sqlx::query("UPDATE applications SET status = 'bilan_depose' WHERE id = $1")
        .bind(w.app_id)
        .execute(app.store.pool())
        .await
        .unwrap();
    let much_later = today + time::Duration::days(400);
    assert_eq!(
        app.store.send_report_reminders(much_later).await.unwrap(),
        Default::default()
    );
}
both_engines!(report_reminders_are_sent_once, report_reminders);
