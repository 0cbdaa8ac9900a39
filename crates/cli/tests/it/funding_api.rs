//! The funding cycle through the JSON API (`/api/v1`): a whole cycle of the MEL contract
//! driven by the API only; every funding route tried by roles allowed and refused (anonymous
//! callers always 401, another organisation's id in the URL 403); bad input answered with
//! French problem documents naming the field, with nothing written; and the OpenAPI document
//! listing every funding route.

use crate::both_engines;
use crate::funding_fixtures::{grant, register_funders};
use crate::helpers::{Page, TestApp, PASSWORD};
use quartiers_domain::funding::{ApplicationBody, CallSettings, Envelope, Event, Opinion};
use quartiers_domain::{Cents, Role};
use quartiers_store::contracts::Author;
use quartiers_store::funding::agreements::AgreementTerms;
use quartiers_web::auth::{hash_password, Password};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const MEL: &str = "mel-2024";
/// Valid SIRET numbers (Luhn) for the organisations of the tests.
const SIRET_A: &str = "73282932000074";
const SIRET_B: &str = "44321299010007";
const SIRET_C: &str = "44321299010015";
const SIRET_D: &str = "44321299010023";

/// An account that is added to an organisation by the tests.
const VOLUNTEER: &str = "benevole@jeunes-alma.fr";

/// A small valid PDF and PNG (their first bytes are what the upload checks).
const PDF: &[u8] =
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
const PNG: &[u8] =
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A request body.
#[derive(Debug, Clone)]
enum Body {
    Empty,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

/// An API caller: anonymous, or with a bearer token.
struct Api {
    http: reqwest::Client,
    base: String,
    authorization: Option<String>,
}

async fn read(r: reqwest::Response) -> Page {
    let status = r.status().as_u16();
    let header = |name: &str| {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let location = header("location");
    let content_type = header("content-type").unwrap_or_default();
    Page {
        status,
        text: r.text().await.unwrap(),
        location,
        content_type,
    }
}

impl Api {
    fn anonymous(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: format!("{}/api/v1", app.address),
            authorization: None,
        }
    }

    /// Signs in through `POST /api/v1/session`.
    async fn sign_in(app: &TestApp, email: &str) -> Self {
        let anonymous = Self::anonymous(app);
        let r = anonymous
            .send(
                Method::POST,
                "/session",
                Some(json!({ "email": email, "password": PASSWORD })),
            )
            .await;
        assert_eq!(r.status, 200, "API sign-in of {email}: {}", r.text);
        let token = body(&r)["token"].as_str().expect("token").to_string();
        Self {
            authorization: Some(format!("Bearer {token}")),
            ..anonymous
        }
    }

    /// A session opened directly in the store (no password hashing: faster).
    async fn session_of(app: &TestApp, user_id: i64) -> Self {
        let s = app
            .store
            .create_session(user_id, time::Duration::hours(2))
            .await
            .unwrap();
        Self {
            authorization: Some(format!("Bearer {}", s.token)),
            ..Self::anonymous(app)
        }
    }

    async fn call(&self, method: Method, path: &str, b: &Body) -> Page {
        let mut rb = self.http.request(method, format!("{}{path}", self.base));
        if let Some(a) = &self.authorization {
            rb = rb.header("authorization", a);
        }
        rb = match b {
            Body::Empty => rb,
            Body::Json(v) => rb.json(v),
            Body::Raw(ct, bytes) => rb.header("content-type", *ct).body(bytes.clone()),
        };
        read(rb.send().await.unwrap()).await
    }

    async fn send(&self, method: Method, path: &str, json: Option<Value>) -> Page {
        let b = json.map_or(Body::Empty, Body::Json);
        self.call(method, path, &b).await
    }

    /// Sends and checks the status; returns the JSON body (`null` when empty).
    async fn expect(&self, method: Method, path: &str, json: Option<Value>, status: u16) -> Value {
        let m = method.clone();
        let r = self.send(method, path, json).await;
        assert_eq!(r.status, status, "{m} {path}: {}", r.text);
        if r.text.is_empty() {
            Value::Null
        } else {
            body(&r)
        }
    }

    async fn get(&self, path: &str) -> Value {
        self.expect(Method::GET, path, None, 200).await
    }

    async fn post(&self, path: &str, json: Value, status: u16) -> Value {
        self.expect(Method::POST, path, Some(json), status).await
    }

    async fn put(&self, path: &str, json: Value, status: u16) -> Value {
        self.expect(Method::PUT, path, Some(json), status).await
    }

    async fn upload(
        &self,
        org: i64,
        kind: &str,
        file: &str,
        ct: &'static str,
        bytes: &[u8],
    ) -> Page {
        self.call(
            Method::POST,
            &format!("/organisations/{org}/documents?kind={kind}&file_name={file}"),
            &Body::Raw(ct, bytes.to_vec()),
        )
        .await
    }
}

/// The JSON body of a response.
fn body(r: &Page) -> Value {
    serde_json::from_str(&r.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", r.text))
}

/// Checks that `r` is a problem document with `status`, and returns it.
fn problem(r: &Page, status: u16) -> Value {
    assert_eq!(r.status, status, "{}", r.text);
    assert_eq!(r.content_type, "application/problem+json", "{}", r.text);
    let p = body(r);
    assert_eq!(p["status"], status, "{p}");
    p
}

/// The message a problem gives for `field`.
fn field<'a>(p: &'a Value, field: &str) -> &'a str {
    p["errors"]
        .as_array()
        .and_then(|e| e.iter().find(|e| e["field"] == field))
        .and_then(|e| e["message"].as_str())
        .unwrap_or_else(|| panic!("no error on « {field} » in {p}"))
}

/// Every message a problem gives for `field`, joined.
fn fields(p: &Value, field: &str) -> String {
    p["errors"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter(|e| e["field"] == field)
                .filter_map(|e| e["message"].as_str())
                .collect::<Vec<_>>()
                .join(" | ")
        })
        .unwrap_or_default()
}

fn detail(p: &Value) -> &str {
    p["detail"].as_str().unwrap_or("")
}

/// A date `offset` days from today (AAAA-MM-JJ).
fn day(offset: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(offset)).to_string()
}

/// A complete application body: one budget per year, asking each financer `asks` euros a
/// year, balanced (charges = income), with 1 000 € of own income.
fn application_body(title: &str, years: &[i32], asks: &[(&str, i64)]) -> Value {
    let asked: i64 = asks.iter().map(|(_, a)| a).sum();
    let budget: Vec<Value> = years
        .iter()
        .map(|y| {
            let mut income: Vec<Value> = asks
                .iter()
                .map(|(f, a)| {
                    json!({ "account": 74, "label": format!("Subvention {f}"), "amount_cents": a * 100, "funder": f })
                })
                .collect();
            income.push(json!({ "account": 75, "label": "Cotisations", "amount_cents": 100_000 }));
            json!({
                "year": y,
                "charges": [
                    { "account": 64, "label": "Salaires des animateurs", "amount_cents": asked * 100 + 50_000 },
                    { "account": 60, "label": "Fournitures", "amount_cents": 50_000 },
                ],
                "income": income,
            })
        })
        .collect();
    json!({
        "title": title,
        "description": "Ateliers hebdomadaires d'accompagnement vers l'autonomie.",
        "objectives": "Accompagner 120 jeunes du quartier vers une formation ou un emploi.",
        "start_on": format!("{}-01-15", years[0]),
        "end_on": format!("{}-12-15", years[years.len() - 1]),
        "places": "Roubaix, quartier de l'Alma",
        "component": "Contrat de ville",
        "framework_keys": ["e1-a1"],
        "qpv_codes": ["QN05965M"],
        "public_description": "Jeunes de 16 à 25 ans sans emploi ni formation.",
        "expected_beneficiaries": 120,
        "qpv_share_percent": 80,
        "indicators": [{ "name": "Jeunes accompagnés", "target": 120.0, "unit": "personnes" }],
        "budget": budget,
    })
}

/// Call settings of `year`, open from `opens` to `closes` days from today.
fn call_settings(year: i32, opens: i64, closes: i64) -> Value {
    json!({
        "year": year,
        "title": format!("Appel à projets {year} du contrat de ville"),
        "opens_on": day(opens),
        "closes_on": day(closes),
        "framing_note": "Priorité à l'emploi des jeunes.",
        "calendar": "Comité de programmation en mars.",
        "required_documents": ["statuts", "rib"],
    })
}

fn envelopes(etat: i64, mel: i64, roubaix: i64) -> Value {
    json!([
        { "funder": "etat", "component": "Contrat de ville", "amount_cents": etat * 100 },
        { "funder": "mel", "component": "Contrat de ville", "amount_cents": mel * 100 },
        { "funder": "roubaix", "component": "Contrat de ville", "amount_cents": roubaix * 100 },
    ])
}

fn new_organisation(name: &str, siret: &str, email: &str) -> Value {
    json!({
        "name": name,
        "siret": siret,
        "rna": "W595012345",
        "address": "12 rue de l'Alma, 59100 Roubaix",
        "legal_representative": "Camille Martin, présidente",
        "email": email,
    })
}

/// The people of the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Who {
    Anonymous,
    Pilot,
    Etat,
    Mel,
    Roubaix,
    Reader,
    AssoA,
    AssoB,
    Stranger,
}

impl Who {
    const PEOPLE: [Who; 8] = [
        Who::Pilot,
        Who::Etat,
        Who::Mel,
        Who::Roubaix,
        Who::Reader,
        Who::AssoA,
        Who::AssoB,
        Who::Stranger,
    ];
    fn email(self) -> &'static str {
        match self {
            Who::Anonymous => "",
            Who::Pilot => "pilote@mel.fr",
            Who::Etat => "instructeur@prefecture.gouv.fr",
            Who::Mel => "instructeur@mel.fr",
            Who::Roubaix => "instructeur@ville-roubaix.fr",
            Who::Reader => "elu@mel.fr",
            Who::AssoA => "contact@jeunes-alma.fr",
            Who::AssoB => "contact@quartiers-solidaires.fr",
            Who::Stranger => "curieux@exemple.fr",
        }
    }
    /// Role and institution on the MEL contract.
    fn role(self) -> Option<(Role, Option<&'static str>)> {
        match self {
            Who::Pilot => Some((Role::Pilote, Some("mel"))),
            Who::Etat => Some((Role::Financeur, Some("etat"))),
            Who::Mel => Some((Role::Financeur, Some("mel"))),
            Who::Roubaix => Some((Role::Financeur, Some("roubaix"))),
            Who::Reader => Some((Role::Lecteur, None)),
            _ => None,
        }
    }
}

/// Creates the accounts of [`Who::PEOPLE`] with their roles on the MEL contract; returns
/// their ids, in the same order.
async fn people(app: &TestApp) -> Vec<(Who, i64)> {
    let hash = hash_password(&Password(PASSWORD.into())).unwrap();
    let contract = app.contract(MEL).await;
    let mut out = Vec::new();
    for who in Who::PEOPLE {
        let id = app
            .store
            .create_user(who.email(), None, &hash, false)
            .await
            .unwrap();
        if let Some((role, institution)) = who.role() {
            app.store
                .grant_role(id, contract.id, role, institution)
                .await
                .unwrap();
        }
        out.push((who, id));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. A whole cycle of the MEL contract, through the API only
// ---------------------------------------------------------------------------------------------

async fn full_cycle_through_the_api(app: TestApp) {
    let app = app.with_demo().await;
    people(&app).await;
    let pilot = Api::sign_in(&app, Who::Pilot.email()).await;
    let etat = Api::sign_in(&app, Who::Etat.email()).await;
    let mel = Api::sign_in(&app, Who::Mel.email()).await;
    let roubaix = Api::sign_in(&app, Who::Roubaix.email()).await;
    let asso = Api::sign_in(&app, Who::AssoA.email()).await;
    let other = Api::sign_in(&app, Who::AssoB.email()).await;

    // The pilot sets the financers and the call with its envelopes.
    for (code, name) in [
        ("etat", "État — programme 147"),
        ("mel", "Métropole européenne de Lille"),
        ("roubaix", "Ville de Roubaix"),
    ] {
        let f = pilot
            .put(
                &format!("/contracts/{MEL}/funders/{code}"),
                json!({ "name": name, "email": format!("subventions@{code}.fr") }),
                200,
            )
            .await;
        assert_eq!(f["code"], code);
    }
    assert_eq!(
        pilot
            .get(&format!("/contracts/{MEL}/funders"))
            .await
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let call = pilot
        .post(
            &format!("/contracts/{MEL}/calls"),
            json!({ "settings": call_settings(2027, -10, 30), "envelopes": envelopes(100_000, 80_000, 20_000) }),
            201,
        )
        .await;
    let call_id = call["id"].as_i64().unwrap();
    let seen = asso.get(&format!("/calls/{call_id}")).await;
    assert_eq!(seen["call"]["settings"]["year"], 2027);
    assert_eq!(seen["envelopes"].as_array().unwrap().len(), 3);
    assert!(seen["closed_reason"].is_null(), "{seen}");

    // The association creates its organisation and uploads its statutes and bank details.
    let org = asso
        .post(
            "/organisations",
            new_organisation("Jeunes de l'Alma", SIRET_A, "contact@jeunes-alma.fr"),
            201,
        )
        .await;
    let org_id = org["id"].as_i64().unwrap();
    assert_eq!(org["siret"], SIRET_A);
    let mine = asso.get("/organisations").await;
    assert_eq!(mine.as_array().unwrap().len(), 1, "{mine}");
    let view = asso.get(&format!("/organisations/{org_id}")).await;
    assert_eq!(view["members"][0]["email"], Who::AssoA.email());
    assert_eq!(view["members"][0]["is_admin"], true);
    assert_eq!(view["members"][0]["is_signatory"], true);
    let r = asso
        .upload(org_id, "statuts", "statuts.pdf", "application/pdf", PDF)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let statutes = body(&r);
    assert_eq!(statutes["kind"], "statuts");
    assert_eq!(
        r.location.as_deref(),
        Some(
            format!(
                "/api/v1/organisations/{org_id}/documents/{}",
                statutes["id"]
            )
            .as_str()
        )
    );
    let r = asso
        .upload(org_id, "rib", "rib.png", "image/png", PNG)
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let docs = asso
        .get(&format!("/organisations/{org_id}/documents"))
        .await;
    assert_eq!(docs.as_array().unwrap().len(), 2, "{docs}");
    let r = asso
        .call(
            Method::GET,
            &format!("/organisations/{org_id}/documents/{}", statutes["id"]),
            &Body::Empty,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.content_type, "application/pdf");
    assert_eq!(r.text.as_bytes(), PDF);

    // It starts an application, saves the whole content (2 years, 3 financers), checks
    // what is missing, and submits; a double click does nothing more.
    let created = asso
        .post(
            &format!("/calls/{call_id}/applications"),
            json!({ "organisation_id": org_id, "body": { "title": "Cap Avenir" } }),
            201,
        )
        .await;
    let app_id = created["id"].as_i64().unwrap();
    assert_eq!(created["status"], "brouillon");
    assert_eq!(created["version"], 1);
    let missing = asso.get(&format!("/applications/{app_id}/missing")).await;
    assert_eq!(missing["complete"], false);
    assert!(
        missing["missing"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == "body.budget"),
        "{missing}"
    );
    let content = application_body(
        "Cap Avenir",
        &[2027, 2028],
        &[("etat", 20_000), ("mel", 15_000), ("roubaix", 5_000)],
    );
    let saved = asso
        .put(
            &format!("/applications/{app_id}"),
            json!({ "version": 1, "body": content }),
            200,
        )
        .await;
    assert_eq!(saved["version"], 2);
    let missing = asso.get(&format!("/applications/{app_id}/missing")).await;
    assert_eq!(missing["complete"], true, "{missing}");
    assert_eq!(missing["missing"], json!([]));
    let submitted = asso
        .post(
            &format!("/applications/{app_id}/events/deposer"),
            json!({ "version": 2 }),
            200,
        )
        .await;
    assert_eq!(submitted["status"], "depose");
    assert_eq!(submitted["already_done"], false);
    let again = asso
        .post(
            &format!("/applications/{app_id}/events/deposer"),
            json!({ "version": 2 }),
            200,
        )
        .await;
    assert_eq!(again["already_done"], true, "double click: {again}");
    let events = asso.get(&format!("/applications/{app_id}/events")).await;
    assert_eq!(
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["event"] == "deposer")
            .count(),
        1,
        "one submission: {events}"
    );
    let view = asso.get(&format!("/applications/{app_id}")).await;
    assert_eq!(view["application"]["status"], "depose");
    let lines = view["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{view}");
    let requested = |code: &str| {
        lines.iter().find(|l| l["funder"] == code).unwrap()["requested"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(requested("etat"), 4_000_000, "two years of 20 000 €");
    assert_eq!(requested("mel"), 3_000_000);
    assert_eq!(requested("roubaix"), 1_000_000);
    let r = other
        .send(Method::GET, &format!("/applications/{app_id}"), None)
        .await;
    problem(&r, 403);

    // Each financer instructs its own line, and is refused on another's.
    let worklist = etat.get(&format!("/contracts/{MEL}/worklist")).await;
    assert!(
        worklist
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == app_id),
        "{worklist}"
    );
    let version = view["application"]["version"].as_i64().unwrap();
    let instructed = etat
        .post(
            &format!("/applications/{app_id}/events/instruire"),
            json!({ "version": version }),
            200,
        )
        .await;
    assert_eq!(instructed["status"], "en_instruction");
    let r = etat
        .send(
            Method::POST,
            &format!("/applications/{app_id}/opinions/mel"),
            Some(json!({ "opinion": "favorable", "proposed_cents": 3_000_000 })),
        )
        .await;
    problem(&r, 403);
    for (who, code, proposed) in [
        (&etat, "etat", 3_600_000),
        (&mel, "mel", 3_000_000),
        (&roubaix, "roubaix", 1_000_000),
    ] {
        let o = who
            .post(
                &format!("/applications/{app_id}/opinions/{code}"),
                json!({ "opinion": "favorable", "proposed_cents": proposed, "comment": "Action utile." }),
                200,
            )
            .await;
        let expected = if code == "roubaix" {
            "avis_rendus"
        } else {
            "en_instruction"
        };
        assert_eq!(o["status"], expected, "after the opinion of {code}");
    }

    // The committee decides in bulk.
    let committee = pilot
        .post(
            &format!("/calls/{call_id}/committees"),
            json!({ "held_on": day(1), "title": "Comité de programmation", "members": "Préfecture\nMEL\nVille de Roubaix" }),
            201,
        )
        .await;
    let committee_id = committee["id"].as_i64().unwrap();
    let agenda = pilot.get(&format!("/committees/{committee_id}")).await;
    assert_eq!(agenda["agenda"].as_array().unwrap().len(), 1, "{agenda}");
    assert_eq!(agenda["agenda"][0]["application"]["id"], app_id);
    let decided = pilot
        .post(
            &format!("/committees/{committee_id}/decisions"),
            json!({ "decisions": [
                { "application_id": app_id, "funder": "etat", "decision": "accorde", "amount_cents": 3_600_000 },
                { "application_id": app_id, "funder": "mel", "decision": "accorde", "amount_cents": 3_000_000 },
                { "application_id": app_id, "funder": "roubaix", "decision": "accorde", "amount_cents": 1_000_000 },
            ]}),
            200,
        )
        .await;
    assert_eq!(decided["decided"], 3);
    assert_eq!(
        decided["moved"],
        json!([{ "application_id": app_id, "status": "decide" }])
    );
    let envelope_use = etat.get(&format!("/calls/{call_id}/envelopes")).await;
    let etat_use = envelope_use
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["funder"] == "etat")
        .unwrap();
    assert_eq!(etat_use["granted"], 3_600_000);
    assert_eq!(etat_use["remaining"], 10_000_000 - 3_600_000);

    // Agreements: one per financer, multi-year.
    let agreements = pilot
        .post(
            &format!("/applications/{app_id}/agreements"),
            json!({ "advance_percent": 60, "report_due_on": day(400), "obligations": "Logos des financeurs sur les supports." }),
            201,
        )
        .await;
    let agreements = agreements.as_array().unwrap().clone();
    assert_eq!(agreements.len(), 3);
    for a in &agreements {
        assert_eq!(a["agreement"]["kind"], "pluriannuelle", "{a}");
        assert_eq!(a["agreement"]["years"].as_array().unwrap().len(), 2, "{a}");
    }
    let agreement_of = |code: &str| {
        agreements
            .iter()
            .find(|a| a["agreement"]["funder"] == code)
            .unwrap()
            .clone()
    };
    assert_eq!(agreement_of("etat")["advance_cents"], 2_160_000);
    assert_eq!(agreement_of("etat")["balance_cents"], 1_440_000);

    // Advances: each paying financer its own; the MEL instructor may not pay the State's.
    let etat_agreement = agreement_of("etat")["agreement"]["id"].as_i64().unwrap();
    let r = mel
        .send(
            Method::POST,
            &format!("/agreements/{etat_agreement}/payments"),
            Some(json!({ "kind": "avance", "amount_cents": 2_160_000, "paid_on": day(0) })),
        )
        .await;
    problem(&r, 403);
    for (who, code) in [(&etat, "etat"), (&mel, "mel"), (&pilot, "roubaix")] {
        let a = agreement_of(code);
        let id = a["agreement"]["id"].as_i64().unwrap();
        let p = who
            .post(
                &format!("/agreements/{id}/payments"),
                json!({ "kind": "avance", "amount_cents": a["advance_cents"], "paid_on": day(0) }),
                201,
            )
            .await;
        assert_eq!(p["kind"], "avance");
    }
    let view = asso.get(&format!("/applications/{app_id}")).await;
    assert_eq!(view["application"]["status"], "paye");
    let version = view["application"]["version"].as_i64().unwrap();
    pilot
        .post(
            &format!("/applications/{app_id}/events/attendre_bilan"),
            json!({ "version": version }),
            200,
        )
        .await;

    // The report is filed.
    let report = asso.get(&format!("/applications/{app_id}/report")).await;
    assert_eq!(report["version"], 0);
    assert_eq!(report["status"], "bilan_attendu");
    let filed = asso
        .put(
            &format!("/applications/{app_id}/report"),
            json!({
                "version": 0,
                "file": true,
                "body": {
                    "actual": content["budget"],
                    "qualitative": "110 jeunes accompagnés, dont 64 entrés en formation.",
                    "indicators": [{ "name": "Jeunes accompagnés", "target": 120.0, "achieved": 110.0 }],
                },
            }),
            200,
        )
        .await;
    assert_eq!(filed["filed"], true);
    assert_eq!(filed["status"], "bilan_depose");
    let report = etat.get(&format!("/applications/{app_id}/report")).await;
    assert!(report["filed_at"].is_string(), "{report}");

    // Balances, then the file is closed.
    for (who, code) in [(&etat, "etat"), (&mel, "mel"), (&roubaix, "roubaix")] {
        let a = agreement_of(code);
        let id = a["agreement"]["id"].as_i64().unwrap();
        who.post(
            &format!("/agreements/{id}/payments"),
            json!({ "kind": "solde", "amount_cents": a["balance_cents"], "paid_on": day(0) }),
            201,
        )
        .await;
        let paid = who.get(&format!("/agreements/{id}/payments")).await;
        assert_eq!(paid["left_to_pay"], 0, "{paid}");
        assert_eq!(paid["payments"].as_array().unwrap().len(), 2);
    }
    let version = asso.get(&format!("/applications/{app_id}")).await["application"]["version"]
        .as_i64()
        .unwrap();
    let closed = pilot
        .post(
            &format!("/applications/{app_id}/events/clore"),
            json!({ "version": version }),
            200,
        )
        .await;
    assert_eq!(closed["status"], "clos");

    // The totals by financer equal what was decided and paid.
    let totals = pilot
        .get(&format!(
            "/contracts/{MEL}/funding/totals?by=financeur&year=2027"
        ))
        .await;
    let rows = totals["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "{totals}");
    for (code, amount) in [
        ("etat", 3_600_000),
        ("mel", 3_000_000),
        ("roubaix", 1_000_000),
    ] {
        let row = rows.iter().find(|r| r["key"] == code).unwrap();
        assert_eq!(row["decided"], amount, "{row}");
        assert_eq!(row["agreed"], amount, "{row}");
        assert_eq!(row["paid"], amount, "{row}");
        assert_eq!(row["actions"], 1);
    }
    assert_eq!(totals["total"]["decided"], 7_600_000);
    assert_eq!(totals["total"]["paid"], 7_600_000);
    let own = etat.get(&format!("/contracts/{MEL}/funding/totals")).await;
    assert_eq!(own["funder"], "etat");
    assert_eq!(own["rows"].as_array().unwrap().len(), 1, "{own}");
    assert_eq!(own["rows"][0]["paid"], 3_600_000);
    let r = etat
        .send(
            Method::GET,
            &format!("/contracts/{MEL}/funding/totals?funder=mel"),
            None,
        )
        .await;
    problem(&r, 403);

    // The audit trail has every step.
    let events = pilot.get(&format!("/applications/{app_id}/events")).await;
    let codes: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for expected in [
        "creer",
        "deposer",
        "instruire",
        "avis:etat",
        "avis:mel",
        "avis:roubaix",
        "rendre_avis",
        "decision:etat",
        "decider",
        "conventionner",
        "payer",
        "attendre_bilan",
        "deposer_bilan",
        "clore",
    ] {
        assert!(
            codes.contains(&expected),
            "{expected} missing from {codes:?}"
        );
    }
}
both_engines!(funding_api_cycle, full_cycle_through_the_api);

// ---------------------------------------------------------------------------------------------
// 2. Every route: roles allowed and refused
// ---------------------------------------------------------------------------------------------

/// Applications at each stage of the workflow, set up through the store.
struct World {
    ids: Vec<(Who, i64)>,
    call: i64,
    org_a: i64,
    org_b: i64,
    doc_a: i64,
    draft: i64,
    submitted: i64,
    instructing: i64,
    opinions_given: i64,
    decided: i64,
    agreed: i64,
    agreement_etat: i64,
    agreement_mel: i64,
    committee: i64,
}

impl World {
    fn id(&self, who: Who) -> i64 {
        self.ids.iter().find(|(w, _)| *w == who).unwrap().1
    }
    fn author(&self, who: Who) -> Author {
        Author {
            user_id: Some(self.id(who)),
            label: who.email().into(),
        }
    }
}

/// The MEL contract with its financers, an open call for 2027, two organisations, and
/// applications of the first one at every stage (each soliciting the State and the MEL).
async fn world(app: &TestApp) -> World {
    let ids = people(app).await;
    let store = &app.store;
    store
        .create_user(VOLUNTEER, None, "pas de mot de passe", false)
        .await
        .unwrap();
    let contract = app.contract(MEL).await;
    register_funders(
        app,
        contract.id,
        &[
            ("etat", "État"),
            ("mel", "Métropole européenne de Lille"),
            ("roubaix", "Ville de Roubaix"),
        ],
        None,
    )
    .await;
    let settings: CallSettings = serde_json::from_value(call_settings(2027, -10, 30)).unwrap();
    let envs: Vec<Envelope> = serde_json::from_value(envelopes(100_000, 100_000, 20_000)).unwrap();
    let call = store
        .save_call(contract.id, None, &settings, &envs, (2024, 2030))
        .await
        .unwrap();
    let find = |who: Who| ids.iter().find(|(w, _)| *w == who).unwrap().1;
    let org_a = store
        .create_organisation(
            &crate::funding_fixtures::new_organisation("Jeunes de l'Alma", SIRET_A, "a@exemple.fr"),
            find(Who::AssoA),
        )
        .await
        .unwrap();
    let org_b = store
        .create_organisation(
            &crate::funding_fixtures::new_organisation(
                "Quartiers solidaires",
                SIRET_B,
                "b@exemple.fr",
            ),
            find(Who::AssoB),
        )
        .await
        .unwrap();
    let doc_a = store
        .add_document(
            org_a,
            "statuts",
            "statuts.pdf",
            "application/pdf",
            PDF,
            find(Who::AssoA),
        )
        .await
        .unwrap();
    store
        .add_document(org_a, "rib", "rib.png", "image/png", PNG, find(Who::AssoA))
        .await
        .unwrap();
    let mut w = World {
        ids,
        call,
        org_a,
        org_b,
        doc_a,
        draft: 0,
        submitted: 0,
        instructing: 0,
        opinions_given: 0,
        decided: 0,
        agreed: 0,
        agreement_etat: 0,
        agreement_mel: 0,
        committee: 0,
    };
    let applicant = w.author(Who::AssoA);
    let pilot = w.author(Who::Pilot);
    let new_application = |title: &str| -> ApplicationBody {
        serde_json::from_value(application_body(
            title,
            &[2027],
            &[("etat", 5_000), ("mel", 5_000)],
        ))
        .unwrap()
    };
    let mut stage = Vec::new();
    for (i, title) in [
        "Brouillon",
        "Déposé",
        "En instruction",
        "Avis rendus",
        "Décidé",
        "Conventionné",
    ]
    .iter()
    .enumerate()
    {
        let id = store
            .create_application(call, org_a, &new_application(title), None, &applicant)
            .await
            .unwrap();
        if i >= 1 {
            store
                .fire(id, Event::Deposer, &applicant, None, None)
                .await
                .unwrap();
        }
        if i >= 2 {
            store
                .fire(id, Event::Instruire, &pilot, None, None)
                .await
                .unwrap();
        }
        if i >= 3 {
            for f in ["etat", "mel"] {
                store
                    .give_opinion(
                        id,
                        f,
                        Opinion::Favorable,
                        Cents::new(500_000).unwrap(),
                        None,
                        &pilot,
                    )
                    .await
                    .unwrap();
            }
        }
        stage.push(id);
    }
    w.committee = grant(
        app,
        call,
        &day(1),
        "",
        &[
            (stage[4], "etat", 500_000),
            (stage[4], "mel", 500_000),
            (stage[5], "etat", 500_000),
            (stage[5], "mel", 500_000),
        ],
        &pilot,
    )
    .await
    .0;
    store
        .conventionner(
            stage[5],
            &AgreementTerms {
                advance_percent: 50,
                report_due_on: day(300),
                obligations: String::new(),
            },
            &pilot,
        )
        .await
        .unwrap();
    let agreements = store.agreements(stage[5]).await.unwrap();
    w.agreement_etat = agreements.iter().find(|a| a.funder == "etat").unwrap().id;
    w.agreement_mel = agreements.iter().find(|a| a.funder == "mel").unwrap().id;
    w.draft = stage[0];
    w.submitted = stage[1];
    w.instructing = stage[2];
    w.opinions_given = stage[3];
    w.decided = stage[4];
    w.agreed = stage[5];
    w
}

/// One route tried by several people.
struct Case {
    /// The documented path (`/api/v1/applications/{id}`).
    template: &'static str,
    method: Method,
    path: String,
    body: Body,
    /// Who may, with the expected status (run after the refusals).
    allowed: Vec<(Who, u16)>,
    /// Who may not, with the expected status (nothing changes).
    refused: Vec<(Who, u16)>,
}

fn case(template: &'static str, method: Method, path: String, body: Body) -> Case {
    Case {
        template,
        method,
        path,
        body,
        allowed: vec![],
        refused: vec![],
    }
}

impl Case {
    fn ok(mut self, who: &[Who], status: u16) -> Self {
        self.allowed.extend(who.iter().map(|w| (*w, status)));
        self
    }
    fn no(mut self, who: &[Who]) -> Self {
        self.refused.extend(who.iter().map(|w| (*w, 403)));
        self
    }
}

fn cases(w: &World) -> Vec<Case> {
    use Method as M;
    use Who::*;
    let j = Body::Json;
    let complete = application_body(
        "Brouillon complété",
        &[2027],
        &[("etat", 5_000), ("mel", 5_000)],
    );
    vec![
        case("/api/v1/organisations", M::POST, "/organisations".into(), j(new_organisation("Nouvelle structure", SIRET_C, "n@exemple.fr")))
            .ok(&[Stranger], 201),
        case("/api/v1/organisations", M::GET, "/organisations".into(), Body::Empty).ok(&[AssoA, Stranger], 200),
        case("/api/v1/organisations/{id}", M::GET, format!("/organisations/{}", w.org_a), Body::Empty)
            .ok(&[AssoA, Pilot, Etat, Reader], 200)
            .no(&[AssoB, Roubaix, Stranger]),
        case("/api/v1/organisations/{id}/members", M::POST, format!("/organisations/{}/members", w.org_a), j(json!({ "email": VOLUNTEER })))
            .ok(&[AssoA], 201)
            .no(&[AssoB, Pilot, Etat]),
        case("/api/v1/organisations/{id}/documents", M::GET, format!("/organisations/{}/documents", w.org_a), Body::Empty)
            .ok(&[AssoA, Etat], 200)
            .no(&[AssoB, Roubaix]),
        case("/api/v1/organisations/{id}/documents", M::POST, format!("/organisations/{}/documents?kind=comptes&file_name=comptes.pdf", w.org_a), Body::Raw("application/pdf", PDF.to_vec()))
            .ok(&[AssoA], 201)
            .no(&[AssoB, Etat, Pilot]),
        case("/api/v1/organisations/{id}/documents/{doc_id}", M::GET, format!("/organisations/{}/documents/{}", w.org_a, w.doc_a), Body::Empty)
            .ok(&[AssoA, Mel], 200)
            .no(&[AssoB, Roubaix]),
        case("/api/v1/organisations/{id}/applications", M::GET, format!("/organisations/{}/applications", w.org_a), Body::Empty)
            .ok(&[AssoA], 200)
            .no(&[AssoB, Pilot]),
        case("/api/v1/contracts/{slug}/funders", M::GET, format!("/contracts/{MEL}/funders"), Body::Empty).ok(&[Stranger, AssoA], 200),
        case("/api/v1/contracts/{slug}/funders/{code}", M::GET, format!("/contracts/{MEL}/funders/etat"), Body::Empty).ok(&[AssoA], 200),
        case("/api/v1/contracts/{slug}/funders/{code}", M::PUT, format!("/contracts/{MEL}/funders/caf"), j(json!({ "name": "CAF du Nord" })))
            .ok(&[Pilot], 200)
            .no(&[Etat, AssoA, Reader]),
        case("/api/v1/contracts/{slug}/calls", M::GET, format!("/contracts/{MEL}/calls"), Body::Empty).ok(&[AssoA], 200),
        case("/api/v1/contracts/{slug}/calls", M::POST, format!("/contracts/{MEL}/calls"), j(json!({ "settings": call_settings(2029, 0, 60), "envelopes": [] })))
            .ok(&[Pilot], 201)
            .no(&[Etat, AssoA]),
        case("/api/v1/calls/{id}", M::GET, format!("/calls/{}", w.call), Body::Empty).ok(&[AssoA, Etat], 200),
        case("/api/v1/calls/{id}", M::PUT, format!("/calls/{}", w.call), j(json!({ "version": 1, "settings": call_settings(2027, -10, 30), "envelopes": envelopes(100_000, 100_000, 20_000) })))
            .ok(&[Pilot], 200)
            .no(&[Etat, AssoA]),
        case("/api/v1/calls/{id}/envelopes", M::GET, format!("/calls/{}/envelopes", w.call), Body::Empty)
            .ok(&[Pilot, Etat, Reader], 200)
            .no(&[AssoA, Stranger]),
        case("/api/v1/calls/{id}/publication", M::POST, format!("/calls/{}/publication", w.call), j(json!({ "published": true })))
            .ok(&[Pilot], 200)
            .no(&[Etat, AssoA]),
        case("/api/v1/calls/{id}/applications", M::GET, format!("/calls/{}/applications", w.call), Body::Empty)
            .ok(&[Pilot, Reader], 200)
            .no(&[Etat, AssoA]),
        case("/api/v1/calls/{id}/applications", M::POST, format!("/calls/{}/applications", w.call), j(json!({ "organisation_id": w.org_a })))
            .ok(&[AssoA], 201)
            .no(&[AssoB, Pilot, Etat]),
        case("/api/v1/applications/{id}", M::GET, format!("/applications/{}", w.submitted), Body::Empty)
            .ok(&[AssoA, Etat, Mel, Pilot, Reader], 200)
            .no(&[AssoB, Roubaix, Stranger]),
        case("/api/v1/applications/{id}", M::PUT, format!("/applications/{}", w.draft), j(json!({ "version": 1, "body": complete })))
            .ok(&[AssoA], 200)
            .no(&[AssoB, Pilot, Etat]),
        case("/api/v1/applications/{id}/missing", M::GET, format!("/applications/{}/missing", w.draft), Body::Empty)
            .ok(&[AssoA], 200)
            .no(&[AssoB, Stranger]),
        case("/api/v1/applications/{id}/events", M::GET, format!("/applications/{}/events", w.submitted), Body::Empty)
            .ok(&[AssoA, Mel], 200)
            .no(&[AssoB, Roubaix]),
        case("/api/v1/applications/{id}/messages", M::GET, format!("/applications/{}/messages", w.submitted), Body::Empty)
            .ok(&[AssoA, Etat], 200)
            .no(&[AssoB]),
        case("/api/v1/applications/{id}/messages", M::POST, format!("/applications/{}/messages", w.submitted), j(json!({ "body": "Pouvez-vous préciser le calendrier ?" })))
            .ok(&[Etat], 201)
            .no(&[Reader, AssoB, Roubaix]),
        case("/api/v1/applications/{id}/events/{event}", M::POST, format!("/applications/{}/events/instruire", w.submitted), j(json!({})))
            .ok(&[Etat], 200)
            .no(&[AssoA, AssoB, Roubaix, Reader]),
        case("/api/v1/applications/{id}/opinions/{funder}", M::POST, format!("/applications/{}/opinions/etat", w.instructing), j(json!({ "opinion": "reserve", "proposed_cents": 400_000 })))
            .ok(&[Etat], 200)
            .no(&[Mel, Pilot, AssoA]),
        case("/api/v1/contracts/{slug}/worklist", M::GET, format!("/contracts/{MEL}/worklist?funder=etat"), Body::Empty)
            .ok(&[Etat, Pilot], 200)
            .no(&[Mel, AssoA, Reader]),
        case("/api/v1/calls/{id}/committees", M::GET, format!("/calls/{}/committees", w.call), Body::Empty)
            .ok(&[Pilot], 200)
            .no(&[Etat, AssoA]),
        case("/api/v1/calls/{id}/committees", M::POST, format!("/calls/{}/committees", w.call), j(json!({ "held_on": day(20), "title": "Second comité" })))
            .ok(&[Pilot], 201)
            .no(&[Etat, AssoA]),
        case("/api/v1/committees/{id}", M::GET, format!("/committees/{}", w.committee), Body::Empty)
            .ok(&[Pilot], 200)
            .no(&[Etat, AssoA, Reader]),
        case("/api/v1/committees/{id}/decisions", M::POST, format!("/committees/{}/decisions", w.committee), j(json!({ "decisions": [
                { "application_id": w.opinions_given, "funder": "etat", "decision": "accorde", "amount_cents": 400_000 },
                { "application_id": w.opinions_given, "funder": "mel", "decision": "refuse" },
            ] })))
            .ok(&[Pilot], 200)
            .no(&[Etat, Mel, AssoA]),
        case("/api/v1/applications/{id}/agreements", M::POST, format!("/applications/{}/agreements", w.decided), j(json!({ "advance_percent": 50, "report_due_on": day(300) })))
            .ok(&[Pilot], 201)
            .no(&[Etat, AssoA]),
        case("/api/v1/applications/{id}/agreements", M::GET, format!("/applications/{}/agreements", w.agreed), Body::Empty)
            .ok(&[AssoA, Etat, Pilot], 200)
            .no(&[AssoB, Roubaix]),
        case("/api/v1/agreements/{id}", M::GET, format!("/agreements/{}", w.agreement_etat), Body::Empty)
            .ok(&[AssoA, Mel], 200)
            .no(&[AssoB, Roubaix]),
        case("/api/v1/agreements/{id}/payments", M::GET, format!("/agreements/{}/payments", w.agreement_etat), Body::Empty)
            .ok(&[Etat, AssoA], 200)
            .no(&[AssoB]),
        case("/api/v1/agreements/{id}/payments", M::POST, format!("/agreements/{}/payments", w.agreement_etat), j(json!({ "kind": "avance", "amount_cents": 250_000, "paid_on": day(0) })))
            .ok(&[Etat], 201)
            .no(&[Mel, AssoA, Reader]),
        case("/api/v1/agreements/{id}/amendments", M::POST, format!("/agreements/{}/amendments", w.agreement_mel), j(json!({ "year": 2027, "amount_cents": 450_000, "reason": "Avenant n° 1 : action réduite" })))
            .ok(&[Pilot], 201)
            .no(&[Mel, AssoA]),
        case("/api/v1/applications/{id}/report", M::GET, format!("/applications/{}/report", w.agreed), Body::Empty)
            .ok(&[AssoA, Etat], 200)
            .no(&[AssoB]),
        case("/api/v1/applications/{id}/report", M::PUT, format!("/applications/{}/report", w.agreed), j(json!({ "version": 0, "body": { "qualitative": "En cours." } })))
            .ok(&[AssoA], 200)
            .no(&[Etat, Pilot, AssoB]),
        case("/api/v1/contracts/{slug}/funding/totals", M::GET, format!("/contracts/{MEL}/funding/totals?by=statut"), Body::Empty)
            .ok(&[Pilot, Etat], 200)
            .no(&[AssoA, Reader]),
        case("/api/v1/contracts/{slug}/funding/totals", M::GET, format!("/contracts/{MEL}/funding/totals?funder=mel"), Body::Empty)
            .ok(&[Mel, Pilot], 200)
            .no(&[Etat]),
        case("/api/v1/contracts/{slug}/funding/overdue-reports", M::GET, format!("/contracts/{MEL}/funding/overdue-reports"), Body::Empty)
            .ok(&[Pilot], 200)
            .no(&[Etat, AssoA]),
    ]
}

async fn every_route_by_role(app: TestApp) {
    let app = app.with_demo().await;
    let w = world(&app).await;
    let mut callers = vec![(Who::Anonymous, Api::anonymous(&app))];
    for (who, id) in &w.ids {
        callers.push((*who, Api::session_of(&app, *id).await));
    }
    let caller = |who: Who| &callers.iter().find(|(w, _)| *w == who).unwrap().1;
    let all = cases(&w);
    for c in &all {
        let label = format!("{} {}", c.method, c.path);
        let r = caller(Who::Anonymous)
            .call(c.method.clone(), &c.path, &c.body)
            .await;
        let p = problem(&r, 401);
        assert_eq!(p["type"], "/api/v1/problems/unauthorized", "{label}: {p}");
        for (who, status) in &c.refused {
            let r = caller(*who).call(c.method.clone(), &c.path, &c.body).await;
            assert_eq!(
                r.status, *status,
                "{label} as {who:?} should be refused: {}",
                r.text
            );
            let p = problem(&r, *status);
            assert!(detail(&p).contains("droits"), "{label} as {who:?}: {p}");
        }
        for (who, status) in &c.allowed {
            let r = caller(*who).call(c.method.clone(), &c.path, &c.body).await;
            assert_eq!(
                r.status, *status,
                "{label} as {who:?} should be allowed: {}",
                r.text
            );
        }
    }

    // The refusals changed nothing; the allowed calls did what they say.
    let decided = caller(Who::Pilot)
        .get(&format!("/applications/{}", w.opinions_given))
        .await;
    assert_eq!(decided["application"]["status"], "decide", "{decided}");
    let lines = decided["lines"].as_array().unwrap();
    assert!(lines.iter().all(|l| l["decision"].is_string()), "{decided}");
    let instructing = caller(Who::Etat)
        .get(&format!("/applications/{}", w.instructing))
        .await;
    let etat_line = instructing["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["funder"] == "etat")
        .unwrap()
        .clone();
    assert_eq!(etat_line["opinion"], "reserve");
    let mel_line = instructing["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["funder"] == "mel")
        .unwrap()
        .clone();
    assert!(
        mel_line["opinion"].is_null(),
        "the MEL's line was not touched: {instructing}"
    );
    let paid = caller(Who::Etat)
        .get(&format!("/agreements/{}/payments", w.agreement_etat))
        .await;
    assert_eq!(
        paid["payments"].as_array().unwrap().len(),
        1,
        "one payment: {paid}"
    );
    let messages = caller(Who::AssoA)
        .get(&format!("/applications/{}/messages", w.submitted))
        .await;
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages}");
    let members = caller(Who::AssoA)
        .get(&format!("/organisations/{}", w.org_a))
        .await;
    assert_eq!(members["members"].as_array().unwrap().len(), 2, "{members}");
    let mel_agreement = caller(Who::Mel)
        .get(&format!("/agreements/{}", w.agreement_mel))
        .await;
    assert_eq!(
        mel_agreement["agreement"]["amount"], 450_000,
        "{mel_agreement}"
    );
    assert_eq!(
        mel_agreement["agreement"]["amendments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Another organisation's id, in a body or a URL, is refused.
    let r = caller(Who::AssoB)
        .send(
            Method::GET,
            &format!("/organisations/{}/applications", w.org_a),
            None,
        )
        .await;
    problem(&r, 403);
    let r = caller(Who::AssoA)
        .send(
            Method::GET,
            &format!("/organisations/{}/documents", w.org_b),
            None,
        )
        .await;
    problem(&r, 403);

    // Every funding route of the OpenAPI document is in the table, and the other way round.
    let doc = caller(Who::Anonymous).get("/openapi.json").await;
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .filter(|(_, op)| {
                    op["tags"]
                        .as_array()
                        .is_some_and(|t| t.contains(&json!("funding")))
                })
                .map(|(m, _)| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let tried: BTreeSet<(String, String)> = all
        .iter()
        .map(|c| (c.method.to_string(), c.template.to_string()))
        .collect();
    assert_eq!(
        documented, tried,
        "documented funding routes and routes tried differ"
    );
}
both_engines!(funding_api_roles, every_route_by_role);

// ---------------------------------------------------------------------------------------------
// 3. Bad input
// ---------------------------------------------------------------------------------------------

async fn bad_input_is_refused_in_french(app: TestApp) {
    let app = app.with_demo().await;
    let w = world(&app).await;
    let pilot = Api::session_of(&app, w.id(Who::Pilot)).await;
    let etat = Api::session_of(&app, w.id(Who::Etat)).await;
    let asso = Api::session_of(&app, w.id(Who::AssoA)).await;
    let other = Api::session_of(&app, w.id(Who::AssoB)).await;

    // Malformed JSON, wrong content type, unknown field, bad SIRET.
    let r = asso
        .call(
            Method::POST,
            "/organisations",
            &Body::Raw("application/json", b"{\"name\": ".to_vec()),
        )
        .await;
    let p = problem(&r, 422);
    assert!(detail(&p).contains("n'est pas du JSON valide"), "{p}");
    let r = asso
        .call(
            Method::POST,
            "/organisations",
            &Body::Raw("text/plain", b"{}".to_vec()),
        )
        .await;
    assert!(detail(&problem(&r, 422)).contains("Content-Type: application/json"));
    let r = asso
        .send(
            Method::POST,
            "/organisations",
            Some(json!({ "name": "X", "siret": SIRET_D, "email": "x@y.fr", "couleur": "bleu" })),
        )
        .await;
    assert!(field(&problem(&r, 422), "couleur").contains("Champ inconnu"));
    let r = asso
        .send(
            Method::POST,
            "/organisations",
            Some(new_organisation("X", "12345678901234", "x@y.fr")),
        )
        .await;
    let p = problem(&r, 422);
    field(&p, "siret");
    let r = asso
        .send(
            Method::POST,
            "/organisations",
            Some(new_organisation("Doublon", SIRET_A, "x@y.fr")),
        )
        .await;
    assert!(detail(&problem(&r, 409)).contains("existe déjà"));

    // A draft: end before start, negative amount — refused, nothing saved.
    let draft = format!("/applications/{}", w.draft);
    let faults: [(&str, serde_json::Value, &str, &str); 3] = [
        ("/end_on", json!("2026-12-31"), "body.end_on", "antérieure"),
        (
            "/budget/0/charges/0/amount_cents",
            json!(-5000),
            "body.budget[0].charges[0].amount_cents",
            "négatif",
        ),
        (
            "/budget/0/income/0/account",
            json!(64),
            "body.budget[0].income[0].account",
            "compte de charges",
        ),
    ];
    for (pointer, bad, name, message) in faults {
        let mut content =
            application_body("Brouillon", &[2027], &[("etat", 5_000), ("mel", 5_000)]);
        *content.pointer_mut(pointer).unwrap() = bad;
        let r = asso
            .send(
                Method::PUT,
                &draft,
                Some(json!({ "version": 1, "body": content })),
            )
            .await;
        let p = problem(&r, 422);
        assert!(field(&p, name).contains(message), "{name}: {p}");
    }
    assert_eq!(
        asso.get(&draft).await["application"]["version"],
        1,
        "nothing saved"
    );

    // Unbalanced budget at submission: 422 naming the year and the gap.
    let mut content = application_body("Brouillon", &[2027], &[("etat", 5_000), ("mel", 5_000)]);
    content["budget"][0]["charges"][1]["amount_cents"] = json!(80_000);
    asso.put(&draft, json!({ "version": 1, "body": content }), 200)
        .await;
    let missing = asso.get(&format!("{draft}/missing")).await;
    assert_eq!(missing["complete"], false);
    let p = problem(
        &asso
            .send(
                Method::POST,
                &format!("{draft}/events/deposer"),
                Some(json!({ "version": 2 })),
            )
            .await,
        422,
    );
    let budget = fields(&p, "body.budget");
    assert!(budget.contains("Le budget 2027 n'est pas équilibré"), "{p}");
    assert!(
        budget.contains("300"),
        "the gap of 300 € is given: {budget}"
    );
    assert_eq!(asso.get(&draft).await["application"]["status"], "brouillon");

    // Two people saving the same version: the second is refused, the first kept.
    let mut first = application_body(
        "Version de Camille",
        &[2027],
        &[("etat", 5_000), ("mel", 5_000)],
    );
    first["description"] = json!("Première version.");
    asso.put(&draft, json!({ "version": 2, "body": first }), 200)
        .await;
    let second = application_body(
        "Version de Dominique",
        &[2027],
        &[("etat", 5_000), ("mel", 5_000)],
    );
    let p = problem(
        &asso
            .send(
                Method::PUT,
                &draft,
                Some(json!({ "version": 2, "body": second })),
            )
            .await,
        409,
    );
    assert!(detail(&p).contains("modifié par quelqu'un d'autre"), "{p}");
    assert_eq!(
        asso.get(&draft).await["application"]["body"]["title"],
        "Version de Camille"
    );

    // Unknown event code; a transition the state machine forbids; a stale version; a
    // request for more information without its message; an event that has its own route.
    let p = problem(
        &asso
            .send(
                Method::POST,
                &format!("{draft}/events/valider"),
                Some(json!({})),
            )
            .await,
        422,
    );
    assert!(
        field(&p, "event").contains("Action inconnue « valider »"),
        "{p}"
    );
    let p = problem(
        &pilot
            .send(
                Method::POST,
                &format!("{draft}/events/clore"),
                Some(json!({})),
            )
            .await,
        409,
    );
    assert_eq!(detail(&p), "Impossible de clore un dossier « brouillon ».");
    let submitted = format!("/applications/{}", w.submitted);
    let p = problem(
        &asso
            .send(
                Method::POST,
                &format!("{submitted}/events/deposer"),
                Some(json!({})),
            )
            .await,
        409,
    );
    assert!(
        detail(&p).contains("Impossible de déposer un dossier « déposé »"),
        "{p}"
    );
    let p = problem(
        &etat
            .send(
                Method::POST,
                &format!("{submitted}/events/instruire"),
                Some(json!({ "version": 1 })),
            )
            .await,
        409,
    );
    assert!(detail(&p).contains("a changé depuis"), "{p}");
    let instructing = format!("/applications/{}", w.instructing);
    let p = problem(
        &etat
            .send(
                Method::POST,
                &format!("{instructing}/events/demander_complement"),
                Some(json!({ "comment": "  " })),
            )
            .await,
        422,
    );
    assert!(
        field(&p, "comment").contains("Écrivez ce qui est demandé"),
        "{p}"
    );
    let p = problem(
        &pilot
            .send(
                Method::POST,
                &format!("/applications/{}/events/conventionner", w.decided),
                Some(json!({})),
            )
            .await,
        422,
    );
    assert!(field(&p, "event").contains("/agreements"), "{p}");
    let p = problem(
        &etat
            .send(
                Method::POST,
                &format!("{instructing}/opinions/etat"),
                Some(json!({ "opinion": "favorable", "proposed_cents": -1 })),
            )
            .await,
        422,
    );
    assert!(field(&p, "proposed_cents").contains("négatif"), "{p}");
    let p = problem(
        &etat
            .send(
                Method::POST,
                &format!("{instructing}/opinions/etat"),
                Some(json!({ "opinion": "bof", "proposed_cents": 1 })),
            )
            .await,
        422,
    );
    field(&p, "opinion");

    // Submission after the closing date.
    let late = pilot
        .post(
            &format!("/contracts/{MEL}/calls"),
            json!({ "settings": call_settings(2030, -60, -1), "envelopes": envelopes(1_000, 1_000, 1_000) }),
            201,
        )
        .await["id"]
        .as_i64()
        .unwrap();
    let created = asso
        .post(
            &format!("/calls/{late}/applications"),
            json!({ "organisation_id": w.org_a, "body": application_body("Trop tard", &[2030], &[("etat", 500)]) }),
            201,
        )
        .await;
    let p = problem(
        &asso
            .send(
                Method::POST,
                &format!("/applications/{}/events/deposer", created["id"]),
                Some(json!({ "version": 1 })),
            )
            .await,
        409,
    );
    assert!(detail(&p).contains("clos depuis le"), "{p}");
    let p = problem(
        &asso
            .send(
                Method::POST,
                &format!("/calls/{late}/applications"),
                Some(json!({ "organisation_id": w.org_a, "body": { "qpv_share_percent": 120 } })),
            )
            .await,
        422,
    );
    field(&p, "body.qpv_share_percent");

    // Calls: closing before opening, unknown financer in an envelope, negative envelope.
    let mut settings = call_settings(2028, 10, 0);
    settings["closes_on"] = json!(day(-5));
    let p = problem(&pilot.send(Method::POST, &format!("/contracts/{MEL}/calls"), Some(json!({ "settings": settings, "envelopes": [{ "funder": "region", "component": "Contrat de ville", "amount_cents": 100 }] }))).await, 422);
    assert!(
        field(&p, "settings.closes_on").contains("antérieure"),
        "{p}"
    );
    let p = problem(&pilot.send(Method::POST, &format!("/contracts/{MEL}/calls"), Some(json!({ "settings": call_settings(2028, 0, 10), "envelopes": [{ "funder": "region", "component": "Contrat de ville", "amount_cents": 100 }] }))).await, 422);
    assert!(field(&p, "envelopes[0].funder").contains("region"), "{p}");
    let p = problem(&pilot.send(Method::POST, &format!("/contracts/{MEL}/calls"), Some(json!({ "settings": call_settings(2028, 0, 10), "envelopes": [{ "funder": "etat", "component": "Contrat de ville", "amount_cents": -100 }] }))).await, 422);
    assert!(
        field(&p, "envelopes[0].amount_cents").contains("négatif"),
        "{p}"
    );
    let p = problem(&pilot.send(Method::PUT, &format!("/calls/{}", w.call), Some(json!({ "version": 7, "settings": call_settings(2027, -10, 30), "envelopes": envelopes(100_000, 100_000, 20_000) }))).await, 409);
    assert!(detail(&p).contains("modifié par quelqu'un d'autre"), "{p}");

    // A decision above the envelope: all refused, the line named; then confirmed by a pilot
    // with a reason.
    let committee = format!("/committees/{}/decisions", w.committee);
    let over = json!([
        { "application_id": w.opinions_given, "funder": "mel", "decision": "accorde", "amount_cents": 400_000 },
        { "application_id": w.opinions_given, "funder": "etat", "decision": "accorde", "amount_cents": 20_000_000 },
    ]);
    let p = problem(
        &pilot
            .send(Method::POST, &committee, Some(json!({ "decisions": over })))
            .await,
        422,
    );
    assert!(
        field(&p, "decisions[1]").contains("dépasse l'enveloppe de État"),
        "{p}"
    );
    assert!(
        p["errors"].as_array().unwrap().len() == 1,
        "only the line over: {p}"
    );
    let lines = pilot
        .get(&format!("/applications/{}", w.opinions_given))
        .await["lines"]
        .clone();
    assert!(
        lines
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["decision"].is_null()),
        "nothing recorded: {lines}"
    );
    let p = problem(&pilot.send(Method::POST, &committee, Some(json!({ "decisions": [
        { "application_id": w.opinions_given, "funder": "etat", "decision": "accorde", "amount_cents": -5 },
        { "application_id": 999_999, "funder": "etat", "decision": "refuse" },
    ] }))).await, 422);
    assert!(
        field(&p, "decisions[0].amount_cents").contains("négatif"),
        "{p}"
    );
    assert!(
        field(&p, "decisions[1].application_id").contains("n'existe pas"),
        "{p}"
    );
    let done = pilot
        .post(&committee, json!({ "decisions": over, "override_reason": "Priorité du comité : emploi des jeunes" }), 200)
        .await;
    assert_eq!(done["moved"][0]["status"], "decide", "{done}");
    let etat_use = done["envelopes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["funder"] == "etat")
        .unwrap()
        .clone();
    assert!(
        etat_use["remaining"].as_i64().unwrap() < 0,
        "overrun shown: {etat_use}"
    );

    // Payments: negative, over what is left, unknown kind.
    let pay = format!("/agreements/{}/payments", w.agreement_etat);
    let p = problem(
        &etat
            .send(
                Method::POST,
                &pay,
                Some(json!({ "kind": "avance", "amount_cents": -100, "paid_on": day(0) })),
            )
            .await,
        422,
    );
    assert!(field(&p, "amount_cents").contains("négatif"), "{p}");
    let p = problem(
        &etat
            .send(
                Method::POST,
                &pay,
                Some(json!({ "kind": "avance", "amount_cents": 600_000, "paid_on": day(0) })),
            )
            .await,
        422,
    );
    assert!(field(&p, "amount_cents").contains("reste à payer"), "{p}");
    let p = problem(
        &etat
            .send(
                Method::POST,
                &pay,
                Some(json!({ "kind": "cadeau", "amount_cents": 100, "paid_on": day(0) })),
            )
            .await,
        422,
    );
    field(&p, "kind");
    let p = problem(
        &pilot
            .send(
                Method::POST,
                &format!("/agreements/{}/amendments", w.agreement_mel),
                Some(json!({ "year": 2031, "amount_cents": 1, "reason": "x" })),
            )
            .await,
        422,
    );
    assert!(field(&p, "year").contains("2031"), "{p}");

    // Reports: filing an incomplete one names what is missing.
    let report = format!("/applications/{}/report", w.agreed);
    let p = problem(
        &asso
            .send(
                Method::PUT,
                &report,
                Some(json!({ "version": 0, "file": true, "body": { "qualitative": "" } })),
            )
            .await,
        422,
    );
    field(&p, "body.qualitative");
    assert!(fields(&p, "body.actual").contains("2027"), "{p}");

    // Uploads: over 10 MB, content not matching its type, type not accepted, unknown kind.
    let before = asso
        .get(&format!("/organisations/{}/documents", w.org_a))
        .await;
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(10 * 1024 * 1024 + 1, b'0');
    let r = asso
        .upload(w.org_a, "comptes", "comptes.pdf", "application/pdf", &big)
        .await;
    let p = problem(&r, 413);
    assert!(detail(&p).contains("dépasse la taille maximale"), "{p}");
    let r = asso
        .upload(w.org_a, "statuts", "statuts.pdf", "application/pdf", PNG)
        .await;
    let p = problem(&r, 422);
    assert!(
        field(&p, "content").contains("ne correspond pas à son type"),
        "{p}"
    );
    let r = asso
        .upload(w.org_a, "rib", "rib.jpg", "image/jpeg", PDF)
        .await;
    assert!(field(&problem(&r, 422), "content").contains("JPEG"));
    let r = asso
        .upload(w.org_a, "statuts", "statuts.txt", "text/plain", b"statuts")
        .await;
    assert!(field(&problem(&r, 422), "Content-Type").contains("application/pdf"));
    let r = asso
        .upload(w.org_a, "photo", "photo.png", "image/png", PNG)
        .await;
    assert!(field(&problem(&r, 422), "kind").contains("Pièce inconnue"));
    let r = asso
        .call(
            Method::POST,
            &format!("/organisations/{}/documents", w.org_a),
            &Body::Raw("application/pdf", PDF.to_vec()),
        )
        .await;
    let p = problem(&r, 422);
    field(&p, "kind");
    field(&p, "file_name");
    let after = asso
        .get(&format!("/organisations/{}/documents", w.org_a))
        .await;
    assert_eq!(before, after, "nothing stored");
    // A document of another organisation, reached through one's own.
    let r = other
        .send(
            Method::GET,
            &format!("/organisations/{}/documents/{}", w.org_b, w.doc_a),
            None,
        )
        .await;
    problem(&r, 404);

    // Writes with the pages' session cookie need the session's CSRF token in a header.
    let browser = app.signed_in(Who::AssoB.email()).await;
    let by_cookie = new_organisation("Par le navigateur", SIRET_D, "c@exemple.fr");
    let r = browser
        .api(Method::POST, "/organisations", Some(by_cookie.clone()), &[])
        .await;
    assert_eq!(problem(&r, 403)["type"], "/api/v1/problems/csrf");
    let r = browser
        .api(
            Method::POST,
            &format!("/applications/{}/messages", w.submitted),
            Some(json!({ "body": "Bonjour" })),
            &[],
        )
        .await;
    problem(&r, 403);
    let token = crate::helpers::session_csrf(&browser).await;
    let r = browser
        .api(
            Method::POST,
            "/organisations",
            Some(by_cookie),
            &[("x-csrf-token", &token)],
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);

    // Dashboards and lists: unknown grouping, bad year, unknown status.
    let p = problem(
        &pilot
            .send(
                Method::GET,
                &format!("/contracts/{MEL}/funding/totals?by=couleur"),
                None,
            )
            .await,
        422,
    );
    assert!(field(&p, "by").contains("financeur"), "{p}");
    let p = problem(
        &pilot
            .send(
                Method::GET,
                &format!("/contracts/{MEL}/funding/totals?year=deux"),
                None,
            )
            .await,
        422,
    );
    field(&p, "year");
    let p = problem(
        &etat
            .send(
                Method::GET,
                &format!("/contracts/{MEL}/worklist?status=fini"),
                None,
            )
            .await,
        422,
    );
    field(&p, "status");
    problem(
        &pilot.send(Method::GET, "/applications/999999", None).await,
        404,
    );
    problem(
        &pilot
            .send(Method::GET, "/contracts/inconnu/funding/totals", None)
            .await,
        404,
    );
}
both_engines!(funding_api_bad_input, bad_input_is_refused_in_french);

// ---------------------------------------------------------------------------------------------
// 4. The OpenAPI document
// ---------------------------------------------------------------------------------------------

async fn openapi_lists_the_funding_routes(app: TestApp) {
    let doc = Api::anonymous(&app).get("/openapi.json").await;
    let paths = doc["paths"].as_object().unwrap();
    for (path, methods) in [
        ("/api/v1/organisations", &["get", "post"][..]),
        ("/api/v1/organisations/{id}/documents", &["get", "post"]),
        ("/api/v1/calls/{id}", &["get", "put"]),
        ("/api/v1/applications/{id}", &["get", "put"]),
        ("/api/v1/applications/{id}/events/{event}", &["post"]),
        ("/api/v1/applications/{id}/opinions/{funder}", &["post"]),
        ("/api/v1/committees/{id}/decisions", &["post"]),
        ("/api/v1/agreements/{id}/payments", &["get", "post"]),
        ("/api/v1/applications/{id}/report", &["get", "put"]),
        ("/api/v1/contracts/{slug}/funding/totals", &["get"]),
    ] {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is not documented"));
        for m in methods {
            assert!(item[*m]["operationId"].is_string(), "{m} {path}");
            assert_eq!(item[*m]["tags"], json!(["funding"]), "{m} {path}");
        }
    }
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "funding"),
        "the funding tag is described"
    );
    for schema in [
        "ApplicationBody",
        "ApplicationView",
        "DecisionsRequest",
        "Problem",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema}"
        );
    }
    // Every reference resolves.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r.clone()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in all {
        assert!(
            doc.pointer(r.trim_start_matches('#')).is_some(),
            "dangling reference {r}"
        );
    }
}
both_engines!(funding_api_openapi, openapi_lists_the_funding_routes);
