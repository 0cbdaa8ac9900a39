//! The whole funding cycle of the MEL contract through the domain and store functions that
//! pages, API and CLI share, on both engines: an association applies to the State, the MEL
//! and a commune over two years; each financer instructs its line; the committee decides
//! (an over-envelope decision is refused, then confirmed with a reason); a multi-year
//! agreement is generated; advance and balance are paid; the report is filed with its
//! beneficiaries counted from an address file by the geography engine (only the counts are
//! kept); the audit trail, the outbox, the dashboards and the SCDL open-data export tell the
//! same story.

use crate::beneficiaries::{
    expected as expected_counts, fixture as beneficiary_fixture, load_geography,
};
use crate::both_engines;
use crate::funding_fixtures::{
    application, budget, eur, file_statutes, line, mel_staff, new_organisation, open_call,
    organisation, register_funder, register_funders, save_call, user,
};
use crate::helpers::TestApp;
use quartiers_domain::funding::report::AchievedIndicator;
use quartiers_domain::funding::{
    ApplicationBody, CallSettings, Decision, Event, Opinion, ReportBody, Status, YearBudget,
};
use quartiers_domain::Rna;
use quartiers_store::funding::agreements::AgreementTerms;
use quartiers_store::funding::committee::LineDecision;
use quartiers_store::funding::dashboards::{DashboardFilter, Dimension};
use quartiers_store::funding::organisations::NewOrganisation;
use quartiers_store::funding::FireOutcome;
use quartiers_store::StoreError;
use quartiers_web::geo::beneficiaries::count_beneficiaries;
use quartiers_web::geo::{GeoService, DEFAULT_TOLERANCE_M};

fn year(y: i32) -> YearBudget {
    budget(
        y,
        &[("etat", 20_000), ("mel", 15_000), ("roubaix", 5_000)],
        5_000,
    )
}

/// A complete two-year application.
pub fn body() -> ApplicationBody {
    ApplicationBody {
        framework_keys: vec!["e1".into(), "e1-a1".into()],
        ..application("Coup de pouce numérique", vec![year(2026), year(2027)])
    }
}

async fn cycle(app: TestApp) {
    let app = app.with_demo().await;
    let store = &app.store;
    let mel = app.contract("mel-2024").await;
    let (pilot, state, roubaix) = mel_staff(&app, mel.id).await;
    let carrier = user(&app, "presidente@asso.fr", None, None, mel.id).await;

    // With their SIRET: the open-data export names each financer by it.
    for (code, name, siret) in [
        ("etat", "État (programme 147)", "11000201100044"),
        ("mel", "Métropole Européenne de Lille", "20004167200011"),
        ("roubaix", "Ville de Roubaix", "21590512700019"),
    ] {
        register_funder(
            &app,
            mel.id,
            code,
            name,
            Some(format!("politique-ville@{code}.fr")),
            Some(siret),
        )
        .await;
    }
    let today = quartiers_store::today();
    let settings = CallSettings {
        required_documents: vec!["statuts".into()],
        ..open_call(2026, 10, 20)
    };
    let call = save_call(
        &app,
        mel.id,
        &settings,
        &[("etat", 100_000), ("mel", 50_000), ("roubaix", 8_000)],
    )
    .await;
    let org = organisation(
        &app,
        &NewOrganisation {
            rna: Some(Rna::parse("W595012345").unwrap()),
            ..new_organisation(
                "Association Alma Numérique",
                "73282932000074",
                "contact@asso.fr",
            )
        },
        &carrier,
    )
    .await;

    // A draft is saved and resumed; submission names what is missing.
    let mut draft = body();
    draft.budget[1].charges.push(line(61, 1_000, None));
    let app_id = store
        .create_application(call, org, &draft, None, &carrier)
        .await
        .unwrap();
    let err = store
        .fire(app_id, Event::Deposer, &carrier, None, None)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("n'est pas équilibré") && text.contains("Statuts"),
        "{text}"
    );
    assert_eq!(
        store.application(app_id).await.unwrap().status,
        Status::Brouillon
    );

    // Two people save the same version: the second is refused, nothing overwritten.
    let v = store.application(app_id).await.unwrap().version;
    let v2 = store
        .save_application(app_id, &body(), v, &carrier)
        .await
        .unwrap();
    let mut other = body();
    other.title = "Titre d'une autre personne".into();
    assert!(matches!(
        store.save_application(app_id, &other, v, &carrier).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store.application(app_id).await.unwrap().body.title,
        "Coup de pouce numérique"
    );

    file_statutes(&app, org, carrier.user_id.unwrap()).await;
    assert_eq!(
        store
            .fire(app_id, Event::Deposer, &carrier, None, Some(v2))
            .await
            .unwrap(),
        FireOutcome::Moved(Status::Depose)
    );
    // A double click on « déposer » is one submission.
    assert_eq!(
        store
            .fire(app_id, Event::Deposer, &carrier, None, Some(v2))
            .await
            .unwrap(),
        FireOutcome::AlreadyDone(Status::Depose)
    );
    let events = store.application_events(app_id).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.event == "deposer").count(), 1);
    let lines = store.funding_lines(app_id).await.unwrap();
    assert_eq!(
        lines
            .iter()
            .map(|l| (l.funder.as_str(), l.requested))
            .collect::<Vec<_>>(),
        vec![
            ("etat", 4_000_000),
            ("mel", 3_000_000),
            ("roubaix", 1_000_000)
        ]
    );
    let mails = store.outbox(50).await.unwrap();
    assert!(
        mails
            .iter()
            .any(|m| m.mail.to == "contact@asso.fr"
                && m.mail.subject.starts_with("Accusé de réception")),
        "{mails:?}"
    );

    // Instruction, a request for more information and its answer.
    store
        .fire(app_id, Event::Instruire, &state, None, None)
        .await
        .unwrap();
    assert!(
        store
            .fire(app_id, Event::DemanderComplement, &state, None, None)
            .await
            .is_err(),
        "a request needs its text"
    );
    store
        .fire(
            app_id,
            Event::DemanderComplement,
            &state,
            Some("Précisez le nombre d'ateliers."),
            None,
        )
        .await
        .unwrap();
    store
        .fire(
            app_id,
            Event::Completer,
            &carrier,
            Some("Deux ateliers par semaine."),
            None,
        )
        .await
        .unwrap();
    assert_eq!(store.application_messages(app_id).await.unwrap().len(), 2);

    // Each financer gives its opinion; the last one moves the file to « avis rendus ».
    assert_eq!(
        store
            .give_opinion(
                app_id,
                "etat",
                Opinion::Favorable,
                eur(40_000),
                None,
                &state
            )
            .await
            .unwrap(),
        Status::EnInstruction
    );
    assert_eq!(
        store
            .give_opinion(
                app_id,
                "mel",
                Opinion::Reserve,
                eur(25_000),
                Some("Montant réduit"),
                &pilot
            )
            .await
            .unwrap(),
        Status::EnInstruction
    );
    assert_eq!(
        store
            .give_opinion(
                app_id,
                "roubaix",
                Opinion::Favorable,
                eur(10_000),
                None,
                &roubaix
            )
            .await
            .unwrap(),
        Status::AvisRendus
    );

    // Committee: Roubaix's 10 000 € exceed its 8 000 € envelope — refused whole, then confirmed.
    let committee = store
        .create_committee(
            call,
            &today.to_string(),
            "Comité de programmation",
            "Préfet délégué\nVice-président",
        )
        .await
        .unwrap();
    let decisions = vec![
        LineDecision {
            application_id: app_id,
            funder: "etat".into(),
            decision: Decision::Accorde,
            amount_cents: 4_000_000,
        },
        LineDecision {
            application_id: app_id,
            funder: "mel".into(),
            decision: Decision::Accorde,
            amount_cents: 2_500_000,
        },
        LineDecision {
            application_id: app_id,
            funder: "roubaix".into(),
            decision: Decision::Accorde,
            amount_cents: 1_000_000,
        },
    ];
    let refused = store
        .decide(committee, &decisions, None, &pilot)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("Certaines") || matches!(refused, StoreError::Invalid(_)),
        "{refused}"
    );
    assert!(
        store
            .funding_lines(app_id)
            .await
            .unwrap()
            .iter()
            .all(|l| l.decision.is_none()),
        "all or nothing"
    );
    let moved = store
        .decide(committee, &decisions, Some("Priorité municipale"), &pilot)
        .await
        .unwrap();
    assert_eq!(moved, vec![(app_id, Status::Decide)]);
    // The reason stays on the line that went over its envelope only.
    let minutes = store.committee_decisions(committee).await.unwrap();
    let reasons: Vec<(&str, Option<&str>)> = minutes
        .iter()
        .map(|d| (d.funder.as_str(), d.override_reason.as_deref()))
        .collect();
    assert!(
        reasons.contains(&("roubaix", Some("Priorité municipale"))),
        "{reasons:?}"
    );
    assert!(reasons.contains(&("etat", None)), "{reasons:?}");
    assert!(reasons.contains(&("mel", None)), "{reasons:?}");
    let usage = store.envelope_use(call).await.unwrap();
    assert_eq!(
        usage
            .iter()
            .find(|u| u.funder == "roubaix")
            .unwrap()
            .remaining,
        -200_000
    );

    // A two-year agreement per granted line, split by year as asked.
    let ids = store
        .conventionner(
            app_id,
            &AgreementTerms {
                advance_percent: 50,
                report_due_on: "2028-06-30".into(),
                obligations: "Logo des financeurs".into(),
            },
            &pilot,
        )
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    let agreements = store.agreements(app_id).await.unwrap();
    let etat = agreements.iter().find(|a| a.funder == "etat").unwrap();
    assert_eq!(etat.kind, "pluriannuelle");
    assert_eq!(etat.years, vec![(2026, 2_000_000), (2027, 2_000_000)]);

    // Advance and balance on every agreement; an over-payment is refused.
    for a in &agreements {
        let (advance, balance) = quartiers_store::Store::agreement_schedule(a);
        store
            .record_payment(a.id, "avance", advance, "2026-02-01", &pilot)
            .await
            .unwrap();
        assert!(store
            .record_payment(a.id, "solde", balance + 1, "2027-12-20", &pilot)
            .await
            .is_err());
        store
            .record_payment(a.id, "solde", balance, "2027-12-20", &pilot)
            .await
            .unwrap();
    }
    assert_eq!(
        store.application(app_id).await.unwrap().status,
        Status::Paye
    );

    // The report: a gap over 15 % must be explained; then filed and the file closed.
    let mut report = ReportBody {
        actual: body().budget,
        qualitative: "230 personnes accompagnées".into(),
        indicators: vec![AchievedIndicator {
            name: "Personnes accompagnées".into(),
            target: 240.0,
            achieved: 230.0,
        }],
        ..Default::default()
    };
    // The beneficiaries' addresses, located with the geography engine: only counts are kept.
    load_geography(&app).await;
    let geo = GeoService::new(app.store.clone(), DEFAULT_TOLERANCE_M);
    let queries: Vec<_> = beneficiary_fixture()
        .into_iter()
        .filter(|(_, _, precision)| precision == "numero")
        .collect();
    let mut csv = String::from("nom;adresse\n");
    for (i, (q, _, _)) in queries.iter().enumerate() {
        csv.push_str(&format!("Personne {i};\"{q}\"\n"));
    }
    let counts = count_beneficiaries(&geo, "beneficiaires.csv", csv.as_bytes())
        .await
        .unwrap();
    assert_eq!(counts, expected_counts(&queries, 0));
    assert!(counts.in_qpv > 0 && counts.in_qpv < counts.total);
    report.beneficiaries = Some(counts.clone());
    report.actual[1].charges[1].amount_cents = eur(9_000);
    report.actual[1].income[3].amount_cents = eur(9_000);
    let v = store
        .save_report(app_id, &report, 0, false, &carrier)
        .await
        .unwrap();
    let err = store
        .save_report(app_id, &report, v, true, &carrier)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Certaines") || matches!(err, StoreError::Invalid(_)));
    report.gap_explanations = vec![
        quartiers_domain::funding::report::GapExplanation {
            year: 2027,
            account: 60,
            text: "Achat de tablettes".into(),
        },
        quartiers_domain::funding::report::GapExplanation {
            year: 2027,
            account: 75,
            text: "Cotisations".into(),
        },
    ];
    store
        .save_report(app_id, &report, v, true, &carrier)
        .await
        .unwrap();
    store
        .fire(app_id, Event::Clore, &pilot, None, None)
        .await
        .unwrap();
    assert_eq!(
        store.application(app_id).await.unwrap().status,
        Status::Clos
    );
    assert!(store
        .fire(app_id, Event::Retirer, &carrier, None, None)
        .await
        .unwrap_err()
        .to_string()
        .contains("Impossible de retirer"));

    let filed = store.report(app_id).await.unwrap().unwrap();
    assert_eq!(filed.body.beneficiaries, Some(counts));
    let kept = serde_json::to_string(&filed.body).unwrap();
    assert!(
        !kept.contains(&queries[0].0),
        "no address is kept with the report"
    );

    // The money as the dashboards see it.
    let by_funder = store
        .totals(mel.id, Dimension::Financeur, &DashboardFilter::default())
        .await
        .unwrap();
    let sum = |f: &str| by_funder.iter().find(|t| t.key == f).cloned().unwrap();
    assert_eq!(
        (sum("etat").requested, sum("etat").decided, sum("etat").paid),
        (4_000_000, 4_000_000, 4_000_000)
    );
    assert_eq!(sum("mel").proposed, 2_500_000);
    let total = store
        .grand_total(mel.id, &DashboardFilter::default())
        .await
        .unwrap();
    assert_eq!(
        (total.actions, total.decided, total.agreed, total.paid),
        (1, 7_500_000, 7_500_000, 7_500_000)
    );
    for dim in Dimension::ALL {
        assert!(
            !store
                .totals(
                    mel.id,
                    dim,
                    &DashboardFilter {
                        year: Some(2026),
                        funder: None
                    }
                )
                .await
                .unwrap()
                .is_empty(),
            "{dim:?}"
        );
    }
    let by_commune = store
        .totals(mel.id, Dimension::Commune, &DashboardFilter::default())
        .await
        .unwrap();
    assert_eq!(by_commune[0].key, "59009");
    let granted = store
        .line_rows(mel.id, &DashboardFilter::default(), true)
        .await
        .unwrap();
    assert_eq!(granted.len(), 3);
    assert!(granted
        .iter()
        .all(|r| r.agreement.is_some() && r.decided_on.is_some()));
    let audit: Vec<String> = store
        .application_events(app_id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    // The decided subsidies as open data (SCDL « subventions »): one row per granted line.
    let (rows, left_out) =
        quartiers_web::funding::export::scdl_subsidies(store, mel.id, &DashboardFilter::default())
            .await
            .unwrap();
    assert!(left_out.is_empty(), "{left_out:?}");
    let mut csv = Vec::new();
    quartiers_io::scdl::write_scdl_csv(&rows, &mut csv).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(&csv[..]);
    let headers = reader.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    let mut by_grantor: Vec<(String, String)> = records
        .iter()
        .map(|r| {
            (
                r[col("idAttribuant")].to_string(),
                r[col("montant")].to_string(),
            )
        })
        .collect();
    by_grantor.sort();
    assert_eq!(
        by_grantor,
        vec![
            ("11000201100044".to_string(), "40000.00".to_string()),
            ("20004167200011".to_string(), "25000.00".to_string()),
            ("21590512700019".to_string(), "10000.00".to_string()),
        ]
    );
    assert!(records
        .iter()
        .all(|r| &r[col("idBeneficiaire")] == "73282932000074"));
    for e in [
        "creer",
        "deposer",
        "instruire",
        "demander_complement",
        "completer",
        "avis:etat",
        "rendre_avis",
        "decision:roubaix",
        "decider",
        "conventionner",
        "payer",
        "deposer_bilan",
        "clore",
    ] {
        assert!(audit.iter().any(|a| a == e), "{e} missing from {audit:?}");
    }
}

both_engines!(full_cycle_of_the_mel_contract, cycle);

async fn closed_call(app: TestApp) {
    let app = app.with_demo().await;
    let store = &app.store;
    let mel = app.contract("mel-2024").await;
    let carrier = user(&app, "asso@exemple.fr", None, None, mel.id).await;
    register_funders(
        &app,
        mel.id,
        &[("etat", "État"), ("mel", "MEL"), ("roubaix", "Roubaix")],
        None,
    )
    .await;
    let settings = CallSettings {
        year: 2025,
        title: "Appel à projets 2025".into(),
        opens_on: "2024-09-01".into(),
        closes_on: "2024-10-31".into(),
        ..Default::default()
    };
    let call = save_call(
        &app,
        mel.id,
        &settings,
        &[
            ("etat", 1_000_000),
            ("mel", 1_000_000),
            ("roubaix", 1_000_000),
        ],
    )
    .await;
    let org = organisation(
        &app,
        &NewOrganisation {
            ..new_organisation("Asso", "73282932000074", "asso@exemple.fr")
        },
        &carrier,
    )
    .await;
    let id = store
        .create_application(call, org, &body(), None, &carrier)
        .await
        .unwrap();
    let err = store
        .fire(id, Event::Deposer, &carrier, None, None)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("clos depuis le 31 octobre 2024"),
        "{err}"
    );
    // Withdrawal is allowed before decision, and the reference numbering goes on.
    store
        .fire(id, Event::Retirer, &carrier, Some("Projet abandonné"), None)
        .await
        .unwrap();
    let second = store
        .create_application(call, org, &body().renewed(), Some(id), &carrier)
        .await
        .unwrap();
    let a = store.application(second).await.unwrap();
    assert_eq!(a.reference, "MEL-2025-0002");
    assert_eq!(a.renewed_from, Some(id));
    assert_eq!(a.body.budget[0].year, 2027);
}

both_engines!(submission_after_closing_is_refused, closed_call);
