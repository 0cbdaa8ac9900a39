//! Set-up shared by the funding tests, done through the store: the contract's financers, calls
//! with their envelopes, accounts and organisations, application bodies, and the workflow steps
//! that bring an application to « avis rendus » and « décidé ».

use crate::helpers::TestApp;
use quartiers_domain::funding::budget::BudgetLine;
use quartiers_domain::funding::{
    ApplicationBody, CallSettings, Decision, Envelope, Event, Opinion, ProposedIndicator, Status,
    YearBudget,
};
use quartiers_domain::{Cents, QpvCode, Role, Siret};
use quartiers_store::contracts::Author;
use quartiers_store::funding::calls::Funder;
use quartiers_store::funding::committee::LineDecision;
use quartiers_store::funding::organisations::NewOrganisation;

pub fn eur(euros: i64) -> Cents {
    Cents::new(euros * 100).unwrap()
}

/// A budget line of `euros` on `account`, from `funder` when it is a subsidy.
pub fn line(account: u16, euros: i64, funder: Option<&str>) -> BudgetLine {
    BudgetLine {
        account,
        label: format!("compte {account}"),
        amount_cents: eur(euros),
        funder: funder.map(str::to_string),
    }
}

/// A balanced year: each (financer, euros) of `asks` on account 74 and, when `own` is not
/// zero, `own` euros of own income (account 75); charges of the amount asked (account 64) and
/// of `own` (account 60).
pub fn budget(year: i32, asks: &[(&str, i64)], own: i64) -> YearBudget {
    let asked = asks.iter().map(|(_, euros)| euros).sum();
    let mut charges = vec![line(64, asked, None)];
    let mut income: Vec<BudgetLine> = asks
        .iter()
        .map(|(funder, euros)| line(74, *euros, Some(funder)))
        .collect();
    if own != 0 {
        charges.push(line(60, own, None));
        income.push(line(75, own, None));
    }
    YearBudget {
        year,
        charges,
        income,
    }
}

/// A complete application named `title` over the years of `budget`: digital inclusion
/// workshops in the Alma (QPV QN05965M), from 15 January of the first year to 31 December of
/// the last, for 120 people a year.
pub fn application(title: &str, budget: Vec<YearBudget>) -> ApplicationBody {
    let first = budget.first().expect("a budget").year;
    let last = budget.last().expect("a budget").year;
    ApplicationBody {
        title: title.into(),
        description: "Ateliers d'inclusion numérique".into(),
        objectives: "Accompagner 120 habitants".into(),
        start_on: format!("{first}-01-15"),
        end_on: format!("{last}-12-31"),
        places: "Roubaix, quartier de l'Alma".into(),
        component: "Contrat de ville".into(),
        framework_keys: vec!["e1".into()],
        qpv_codes: vec![QpvCode::parse("QN05965M").unwrap()],
        perimeters: vec![],
        public_description: "Adultes éloignés du numérique".into(),
        expected_beneficiaries: Some(120),
        qpv_share_percent: Some(80),
        indicators: vec![ProposedIndicator {
            name: "Personnes accompagnées".into(),
            target: 120.0 * budget.len() as f64,
            unit: "personnes".into(),
        }],
        budget,
    }
}

/// Registers (or updates) a financer of the contract.
pub async fn register_funder(
    app: &TestApp,
    contract_id: i64,
    code: &str,
    name: &str,
    email: Option<String>,
    siret: Option<&str>,
) {
    app.store
        .upsert_funder(
            contract_id,
            &Funder {
                code: code.into(),
                name: name.into(),
                email,
                siret: siret.map(str::to_string),
            },
        )
        .await
        .unwrap();
}

/// Registers each (code, name) as a financer of the contract, without SIRET; `email`, when
/// given, is their address with `{code}` standing for each financer's code.
pub async fn register_funders(
    app: &TestApp,
    contract_id: i64,
    funders: &[(&str, &str)],
    email: Option<&str>,
) {
    for (code, name) in funders {
        let address = email.map(|e| e.replace("{code}", code));
        register_funder(app, contract_id, code, name, address, None).await;
    }
}

/// The settings of the call for projects of `year`, opened `opened` days ago and closing in
/// `closes_in` days.
pub fn open_call(year: i32, opened: i64, closes_in: i64) -> CallSettings {
    let today = quartiers_store::today();
    CallSettings {
        year,
        title: format!("Appel à projets {year}"),
        opens_on: (today - time::Duration::days(opened)).to_string(),
        closes_on: (today + time::Duration::days(closes_in)).to_string(),
        ..Default::default()
    }
}

/// Saves a call of the contract with one « Contrat de ville » envelope per (financer, euros);
/// returns its id.
pub async fn save_call(
    app: &TestApp,
    contract_id: i64,
    settings: &CallSettings,
    envelopes: &[(&str, i64)],
) -> i64 {
    let envelopes: Vec<Envelope> = envelopes
        .iter()
        .map(|(funder, euros)| Envelope {
            funder: funder.to_string(),
            component: "Contrat de ville".into(),
            amount_cents: eur(*euros),
        })
        .collect();
    app.store
        .save_call(contract_id, None, settings, &envelopes, (2024, 2030))
        .await
        .unwrap()
}

/// An account (no password needed: the tests sign in directly), with `role` on the contract
/// acting for `institution` when a role is given.
pub async fn user(
    app: &TestApp,
    email: &str,
    role: Option<Role>,
    institution: Option<&str>,
    contract_id: i64,
) -> Author {
    app.user(email, None, false).await;
    let id = app.store.user_by_email(email).await.unwrap().unwrap().id;
    if let Some(r) = role {
        app.store
            .grant_role(id, contract_id, r, institution)
            .await
            .unwrap();
    }
    author(id, email)
}

/// The author of an action by the account `user_id`.
pub fn author(user_id: i64, email: &str) -> Author {
    Author {
        user_id: Some(user_id),
        label: email.into(),
    }
}

/// An author known by a label only (no account).
pub fn labelled(label: &str) -> Author {
    Author {
        user_id: None,
        label: label.into(),
    }
}

/// An organisation of the Alma, without RNA number.
pub fn new_organisation(name: &str, siret: &str, email: &str) -> NewOrganisation {
    NewOrganisation {
        name: name.into(),
        siret: Siret::parse(siret).unwrap(),
        rna: None,
        address: "12 rue de l'Alma, 59100 Roubaix".into(),
        legal_representative: "Mme Claire Martin, présidente".into(),
        email: email.into(),
    }
}

/// Creates `org` with the account `creator` as its administrator; returns its id.
pub async fn organisation(app: &TestApp, org: &NewOrganisation, creator: &Author) -> i64 {
    app.store
        .create_organisation(org, creator.user_id.unwrap())
        .await
        .unwrap()
}

/// A new account `email`, administrator of the new organisation `org`: (user id,
/// organisation id).
pub async fn member(app: &TestApp, email: &str, org: &NewOrganisation) -> (i64, i64) {
    let account = user(app, email, None, None, 0).await;
    (
        account.user_id.unwrap(),
        organisation(app, org, &account).await,
    )
}

/// Submits application `id` (by `applicant`), starts its instruction (by `instructor`) and
/// gives a favourable opinion of each (financer, euros, by whom); returns the status after the
/// last opinion.
pub async fn give_opinions(
    app: &TestApp,
    id: i64,
    applicant: &Author,
    instructor: &Author,
    opinions: &[(&str, i64, &Author)],
) -> Status {
    app.store
        .fire(id, Event::Deposer, applicant, None, None)
        .await
        .unwrap();
    app.store
        .fire(id, Event::Instruire, instructor, None, None)
        .await
        .unwrap();
    let mut status = Status::EnInstruction;
    for (funder, euros, by) in opinions {
        status = app
            .store
            .give_opinion(id, funder, Opinion::Favorable, eur(*euros), None, by)
            .await
            .unwrap();
    }
    status
}

/// Holds the « Comité de programmation » of `call_id` on `held_on` with `members`, granting
/// each (application, financer, cents) line; returns the committee and what the decision
/// reports.
pub async fn grant(
    app: &TestApp,
    call_id: i64,
    held_on: &str,
    members: &str,
    lines: &[(i64, &str, i64)],
    pilot: &Author,
) -> (i64, Vec<(i64, Status)>) {
    let committee = app
        .store
        .create_committee(call_id, held_on, "Comité de programmation", members)
        .await
        .unwrap();
    let decisions: Vec<LineDecision> = lines
        .iter()
        .map(|(application_id, funder, cents)| LineDecision {
            application_id: *application_id,
            funder: funder.to_string(),
            decision: Decision::Accorde,
            amount_cents: *cents,
        })
        .collect();
    let decided = app
        .store
        .decide(committee, &decisions, None, pilot)
        .await
        .unwrap();
    (committee, decided)
}

/// The people who run the MEL contract in the money scenarios, with their roles: its pilot
/// (pilote@mel.fr), the State's instructor (instructrice@etat.fr) and Roubaix's
/// (instructeur@roubaix.fr).
pub async fn mel_staff(app: &TestApp, contract_id: i64) -> (Author, Author, Author) {
    let pilot = user(
        app,
        "pilote@mel.fr",
        Some(Role::Pilote),
        Some("mel"),
        contract_id,
    )
    .await;
    let state = user(
        app,
        "instructrice@etat.fr",
        Some(Role::Financeur),
        Some("etat"),
        contract_id,
    )
    .await;
    let roubaix = user(
        app,
        "instructeur@roubaix.fr",
        Some(Role::Financeur),
        Some("roubaix"),
        contract_id,
    )
    .await;
    (pilot, state, roubaix)
}

/// Files `org`'s statutes (a small PDF) on behalf of the account `user_id`; returns the
/// document's id.
pub async fn file_statutes(app: &TestApp, org: i64, user_id: i64) -> i64 {
    app.store
        .add_document(
            org,
            "statuts",
            "statuts.pdf",
            "application/pdf",
            b"%PDF-1.7",
            user_id,
        )
        .await
        .unwrap()
}
