//! `quartiers generate national-load`: an empty database filled with a national-scale
//! funding load in large batched transactions written straight in SQL.

use super::batch::{flush, opt_i, opt_t, t, Pending, V};
use super::NationalLoadArgs;
use anyhow::{bail, Context};
use quartiers_domain::funding::{
    ApplicationBody, BudgetLine, CallSettings, ProposedIndicator, Status, YearBudget,
};
use quartiers_domain::{Cents, ContractDocument, QpvCode};
use quartiers_store::contracts::Author;
use quartiers_store::{Backend, Store};
use std::collections::BTreeMap;
use std::time::Instant;

// ---- A small deterministic generator (no dependency, reproducible by seed) ----

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // SplitMix64.
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
    /// Picks an index by weights.
    fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(u64::from(total)) as u32;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// A SIRET whose Luhn key is right, from a 13-digit prefix.
fn siret(prefix13: u64) -> String {
    let digits: Vec<u32> = format!("{:013}", prefix13 % 10_000_000_000_000)
        .bytes()
        .map(|b| u32::from(b - b'0'))
        .collect();
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                *d
            }
        })
        .sum();
    let key = (10 - sum % 10) % 10;
    format!("{:013}{key}", prefix13 % 10_000_000_000_000)
}

// ---- The load ----

const COMPONENTS: [&str; 2] = ["Contrat de ville", "Pacte local des solidarités"];
const ENJEUX: [&str; 3] = [
    "Réussite éducative et jeunesse",
    "Emploi et insertion",
    "Cadre de vie et tranquillité",
];
const AMBITIONS: [[&str; 3]; 3] = [
    [
        "Accompagner les jeunes vers l'autonomie",
        "Soutenir la parentalité",
        "Favoriser les activités sportives et culturelles",
    ],
    [
        "Lever les freins à la mobilité",
        "Accompagner les demandeurs d'emploi",
        "Promouvoir la création d'activité",
    ],
    [
        "Améliorer le cadre de vie",
        "Renforcer la tranquillité publique",
        "Favoriser la participation des habitants",
    ],
];
const ACTIONS: [&str; 12] = [
    "Ateliers d'inclusion numérique",
    "Accompagnement à la scolarité",
    "Chantier éducatif d'été",
    "Permanence d'accès aux droits",
    "Club de sport au pied des immeubles",
    "Atelier de remobilisation vers l'emploi",
    "Auto-école sociale",
    "Jardins partagés",
    "Festival de quartier",
    "Médiation sociale de proximité",
    "Lieu d'accueil enfants-parents",
    "Coup de pouce à la création d'entreprise",
];

/// What a generated contract needs to know to generate its applications.
struct ContractPlan {
    id: i64,
    slug: String,
    name: String,
    communes: Vec<(String, String)>,
    /// (QPV code, commune index).
    qpvs: Vec<(String, usize)>,
    ambitions: Vec<String>,
    /// Financer codes: etat, epci, ville-1..3, caf.
    funders: Vec<(String, String)>,
    organisations: Vec<i64>,
    advance_percent: i64,
}

fn contract_document(i: u32, years: (i32, i32)) -> anyhow::Result<ContractDocument> {
    let dept = i % 95 + 1;
    let batch = i / 95;
    let n = i + 1;
    let communes: Vec<String> = (0..3)
        .map(|k| {
            format!(
                r#"{{"insee":"{:02}{:03}","name":"Commune {n:03}-{}"}}"#,
                dept,
                batch * 3 + k + 101,
                k + 1
            )
        })
        .collect();
    let qpvs: Vec<String> = (0..4)
        .map(|q| format!(r#"{{"code":"QN{:03}{:02}M","name":"Quartier {n:03}-{}","communes":["{:02}{:03}"]}}"#, dept, batch * 4 + q, q + 1, dept, batch * 3 + q % 3 + 101))
        .collect();
    let framework: Vec<String> = (0..3)
        .map(|e| {
            let children: Vec<String> = (0..3)
                .map(|a| {
                    format!(
                        r#"{{"key":"e{}-a{}","title":"{}"}}"#,
                        e + 1,
                        a + 1,
                        AMBITIONS[e][a]
                    )
                })
                .collect();
            format!(
                r#"{{"key":"e{}","title":"{}","children":[{}]}}"#,
                e + 1,
                ENJEUX[e],
                children.join(",")
            )
        })
        .collect();
    let period = format!(r#"{{"start_year":{},"end_year":{}}}"#, years.0, years.1);
    let components: Vec<String> = COMPONENTS
        .iter()
        .map(|c| format!(r#"{{"name":"{c}","period":{period}}}"#))
        .collect();
    let json = format!(
        r#"{{"format":"quartiers-contrat","version":1,"contract":{{"slug":"cv-{n:03}","name":"Contrat de ville de l'agglomération {n:03}",
        "territory":{{"pilot_name":"Agglomération {n:03}","communes":[{}]}},"period":{period},
        "levels":[{{"singular":"enjeu","plural":"enjeux"}},{{"singular":"ambition","plural":"ambitions"}}],
        "components":[{}],"framework":[{}],"qpvs":[{}]}}}}"#,
        communes.join(","),
        components.join(","),
        framework.join(","),
        qpvs.join(",")
    );
    ContractDocument::from_json(&json).map_err(|e| anyhow::anyhow!("contrat généré invalide : {e}"))
}

/// Where a generated application ends up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Depose,
    EnInstruction,
    ComplementDemande,
    AvisRendus,
    Decide,
    Conventionne,
    Paye,
    BilanAttendu,
    BilanDepose,
    Clos,
    /// Every line refused, then closed.
    Refused,
    Retire,
}

impl Fate {
    fn status(self) -> Status {
        match self {
            Fate::Depose => Status::Depose,
            Fate::EnInstruction => Status::EnInstruction,
            Fate::ComplementDemande => Status::ComplementDemande,
            Fate::AvisRendus => Status::AvisRendus,
            Fate::Decide => Status::Decide,
            Fate::Conventionne => Status::Conventionne,
            Fate::Paye => Status::Paye,
            Fate::BilanAttendu => Status::BilanAttendu,
            Fate::BilanDepose => Status::BilanDepose,
            Fate::Clos | Fate::Refused => Status::Clos,
            Fate::Retire => Status::Retire,
        }
    }
    /// Rank along the workflow (for « at least »).
    fn rank(self) -> u8 {
        match self {
            Fate::Depose | Fate::Retire => 0,
            Fate::EnInstruction => 1,
            Fate::ComplementDemande => 1,
            Fate::AvisRendus => 2,
            Fate::Decide | Fate::Refused => 3,
            Fate::Conventionne => 4,
            Fate::Paye => 5,
            Fate::BilanAttendu => 6,
            Fate::BilanDepose => 7,
            Fate::Clos => 8,
        }
    }
}

fn fate(rng: &mut Rng, age: i32) -> Fate {
    use Fate::*;
    match age {
        0 => {
            let f = [
                Depose,
                EnInstruction,
                ComplementDemande,
                AvisRendus,
                Decide,
                Conventionne,
                Paye,
                BilanAttendu,
                Refused,
                Retire,
            ];
            f[rng.weighted(&[4, 8, 3, 6, 5, 14, 35, 14, 7, 4])]
        }
        1 => {
            let f = [Paye, BilanAttendu, BilanDepose, Clos, Refused, Retire];
            f[rng.weighted(&[4, 12, 14, 59, 7, 4])]
        }
        _ => {
            let f = [BilanAttendu, Clos, Refused, Retire];
            f[rng.weighted(&[2, 87, 7, 4])]
        }
    }
}

fn cents(v: i64) -> anyhow::Result<Cents> {
    Cents::new(v).map_err(anyhow::Error::msg)
}

fn eur(v: i64) -> String {
    Cents::new(v.max(0))
        .map(|c| c.to_string())
        .unwrap_or_default()
}

fn stamp(date: &str, rng: &mut Rng) -> String {
    format!("{date}T{:02}:{:02}:00Z", rng.range(8, 18), rng.range(0, 59))
}

fn day(year: i32, month: u32, rng: &mut Rng) -> String {
    format!("{year}-{month:02}-{:02}", rng.range(1, 28))
}

struct Ids {
    organisation: i64,
    call: i64,
    committee: i64,
    application: i64,
    line: i64,
    agreement: i64,
}

async fn next_id(store: &Store, table: &str) -> anyhow::Result<i64> {
    let max: Option<i64> = sqlx::query_scalar(&format!("SELECT MAX(id) FROM {table}"))
        .fetch_one(store.pool())
        .await?;
    Ok(max.unwrap_or(0) + 1)
}

/// Refuses a database that already holds funding data or contracts.
async fn check_empty(store: &Store) -> anyhow::Result<()> {
    let mut found = Vec::new();
    for (table, label) in [
        ("contracts", "contrat(s)"),
        ("organisations", "structure(s)"),
        ("applications", "dossier(s)"),
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.pool())
            .await?;
        if n > 0 {
            found.push(format!("{n} {label}"));
        }
    }
    if !found.is_empty() {
        bail!(
            "la base n'est pas vide ({}) : `generate national-load` ne remplit qu'une base vide, pour ne rien mélanger à des données réelles. Indiquez une base neuve avec --database.",
            found.join(", ")
        );
    }
    Ok(())
}

/// Fills an empty database with the national load.
pub async fn national_load(store: &Store, args: &NationalLoadArgs) -> anyhow::Result<()> {
    check_empty(store).await?;
    let started = Instant::now();
    let this_year = quartiers_store::today().year();
    let first_year = this_year - args.years as i32 + 1;
    let mut rng = Rng(args.seed);
    let mut ids = Ids {
        organisation: next_id(store, "organisations").await?,
        call: next_id(store, "calls").await?,
        committee: next_id(store, "committees").await?,
        application: next_id(store, "applications").await?,
        line: next_id(store, "funding_lines").await?,
        agreement: next_id(store, "agreements").await?,
    };
    eprintln!(
        "Génération : {} contrats, {} années ({first_year}–{this_year}), {} dossiers par an, graine {}.",
        args.contracts, args.years, args.applications_per_year, args.seed
    );
    // Contracts go through the ordinary import (validation, projections, first amendment).
    let author = Author {
        user_id: None,
        label: "generate national-load".into(),
    };
    let mut plans = Vec::new();
    for i in 0..args.contracts {
        let doc = contract_document(i, (first_year, this_year + 4))?;
        let id = quartiers_web::changes::import_as(store, &doc, author.clone())
            .await
            .with_context(|| format!("import du contrat {}", doc.contract.slug))?;
        let c = &doc.contract;
        let ambitions = c
            .framework
            .iter()
            .flat_map(|e| e.children.iter().map(|a| a.key.clone()))
            .collect();
        let communes: Vec<(String, String)> = c
            .territory
            .communes
            .iter()
            .map(|x| (x.insee.to_string(), x.name.clone()))
            .collect();
        let qpvs = c
            .qpvs
            .iter()
            .map(|q| {
                let code = q.code.as_ref().map(QpvCode::to_string).unwrap_or_default();
                let commune = communes
                    .iter()
                    .position(|(insee, _)| {
                        q.communes.first().is_some_and(|x| x.to_string() == *insee)
                    })
                    .unwrap_or(0);
                (code, commune)
            })
            .collect();
        let mut funders = vec![
            (
                "etat".to_string(),
                format!(
                    "État — préfecture (programme 147), agglomération {:03}",
                    i + 1
                ),
            ),
            ("epci".to_string(), c.territory.pilot_name.clone()),
        ];
        for (k, (_, name)) in communes.iter().enumerate() {
            funders.push((format!("ville-{}", k + 1), format!("Ville de {name}")));
        }
        funders.push((
            "caf".to_string(),
            format!(
                "Caisse d'allocations familiales, agglomération {:03}",
                i + 1
            ),
        ));
        plans.push(ContractPlan {
            id,
            slug: c.slug.clone(),
            name: c.name.clone(),
            communes,
            qpvs,
            ambitions,
            funders,
            organisations: Vec::new(),
            advance_percent: [50, 60, 80][rng.below(3) as usize],
        });
    }
    eprintln!(
        "  {} contrats importés en {:.1} s.",
        plans.len(),
        started.elapsed().as_secs_f64()
    );

    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    counts.insert("contracts", plans.len() as u64);
    let mut pending = Pending::new();
    let mut written: u64 = 0;
    let load_started = Instant::now();
    let per_year = u64::from(args.applications_per_year);
    let n_contracts = plans.len() as u64;
    let chunk = 10usize;
    let total_contracts = plans.len();
    for (ci, plan) in plans.iter_mut().enumerate() {
        generate_contract(
            &mut rng,
            &mut ids,
            &mut pending,
            plan,
            ci as u64,
            n_contracts,
            per_year,
            first_year,
            this_year,
        )?;
        if (ci + 1) % chunk == 0 || ci + 1 == total_contracts {
            written += flush(store, &mut pending, &mut counts).await?;
            let secs = load_started.elapsed().as_secs_f64();
            eprintln!(
                "  {}/{} contrats — {} lignes écrites — {:.0} lignes/s",
                ci + 1,
                n_contracts,
                written,
                written as f64 / secs.max(1e-9)
            );
        }
    }
    if pending.count() > 0 {
        written += flush(store, &mut pending, &mut counts).await?;
    }
    if store.backend() == Backend::Postgres {
        // Ids were given explicitly: move the identity sequences past them.
        for table in [
            "organisations",
            "calls",
            "committees",
            "applications",
            "funding_lines",
            "agreements",
        ] {
            sqlx::query(&format!("SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT COALESCE(MAX(id), 1) FROM {table}))")).execute(store.pool()).await?;
        }
    }
    // Planner statistics, as a database in service has them (PostgreSQL's autovacuum also
    // sets the visibility map that index-only scans rely on).
    let analyse = Instant::now();
    let maintenance = match store.backend() {
        Backend::Sqlite => "ANALYZE",
        Backend::Postgres => "VACUUM ANALYZE",
    };
    sqlx::raw_sql(maintenance).execute(store.pool()).await?;
    let load_secs = load_started.elapsed().as_secs_f64();
    println!(
        "Base remplie en {:.1} s (statistiques du planificateur : {:.1} s).",
        started.elapsed().as_secs_f64(),
        analyse.elapsed().as_secs_f64()
    );
    println!("rows_written: {written} rows");
    println!(
        "rows_per_second: {:.0} rows/s",
        written as f64 / load_secs.max(1e-9)
    );
    for (table, n) in &counts {
        println!("rows_{table}: {n} rows");
    }
    Ok(())
}

/// One financer line as generated.
struct Line {
    id: i64,
    funder: String,
    requested: i64,
    proposed: Option<i64>,
    opinion: Option<&'static str>,
    decision: Option<&'static str>,
    decided: i64,
}

#[allow(clippy::too_many_arguments)]
fn generate_contract(
    rng: &mut Rng,
    ids: &mut Ids,
    out: &mut Pending,
    plan: &mut ContractPlan,
    index: u64,
    n_contracts: u64,
    per_year: u64,
    first_year: i32,
    this_year: i32,
) -> anyhow::Result<()> {
    let now = quartiers_store::now_text();
    let per_contract = per_year / n_contracts + u64::from(index < per_year % n_contracts);
    // Financers.
    for (k, (code, name)) in plan.funders.iter().enumerate() {
        out.push(
            "funders",
            vec![
                V::I(plan.id),
                t(code.clone()),
                t(name.clone()),
                t(format!("{code}@{}.example.fr", plan.slug)),
                t(siret(200_000_000_0000 + index * 10 + k as u64)),
            ],
        );
    }
    // Organisations: about one per two applications a year, at least 5.
    let n_orgs = (per_contract / 2).clamp(5, 400);
    for k in 0..n_orgs {
        let id = ids.organisation;
        ids.organisation += 1;
        plan.organisations.push(id);
        let commune = &plan.communes[(k % plan.communes.len() as u64) as usize];
        out.push(
            "organisations",
            vec![
                V::I(id),
                t(format!("Association {} de {}", k + 1, commune.1)),
                t(siret(7_000_000_000_000 + id as u64)),
                if rng.chance(0.85) {
                    t(format!("W{:09}", 100_000_000 + id))
                } else {
                    V::NullT
                },
                t(format!(
                    "{} rue des Associations, {} {}",
                    k + 1,
                    commune.0,
                    commune.1
                )),
                t(format!("Présidence de l'association {}", k + 1)),
                t(format!("contact-{id}@associations.example.org")),
                t(now.clone()),
            ],
        );
    }
    let slug_upper = plan.slug.to_uppercase();
    for year in first_year..=this_year {
        let age = this_year - year;
        let call_id = ids.call;
        ids.call += 1;
        let settings = CallSettings {
            year,
            title: format!("Appel à projets {year} — {}", plan.name),
            opens_on: format!("{}-10-01", year - 1),
            closes_on: format!("{}-12-15", year - 1),
            framing_note: "Priorités : réussite éducative, emploi, cadre de vie.".into(),
            calendar: format!("Comité de programmation en mars {year}."),
            required_documents: vec!["statuts".into(), "rib".into()],
            priority_nodes: vec![],
        };
        let committee_id = ids.committee;
        ids.committee += 1;
        let held_on = format!("{year}-03-15");
        let published = format!("{year}-04-01T10:00:00Z");
        out.push(
            "calls",
            vec![
                V::I(call_id),
                V::I(plan.id),
                V::I(i64::from(year)),
                t(settings.title.clone()),
                t(settings.opens_on.clone()),
                t(settings.closes_on.clone()),
                t(serde_json::to_string(&settings)?),
                t(published),
                V::I(1),
                t(format!("{}-09-01T09:00:00Z", year - 1)),
            ],
        );
        out.push(
            "committees",
            vec![
                V::I(committee_id),
                V::I(call_id),
                t(held_on.clone()),
                t(format!("Comité de programmation {year}")),
                t("Préfecture\nAgglomération\nCommunes\nCAF"),
                t(format!("{held_on}T09:00:00Z")),
            ],
        );
        // Granted per (financer, component), for the envelopes.
        let mut granted: BTreeMap<(String, &'static str), i64> = BTreeMap::new();
        for n in 0..per_contract {
            let app_id = ids.application;
            ids.application += 1;
            let reference = format!("{slug_upper}-{year}-{:04}", n + 1);
            let fate = fate(rng, age);
            let component = if rng.chance(0.8) {
                COMPONENTS[0]
            } else {
                COMPONENTS[1]
            };
            let org = plan.organisations[rng.below(plan.organisations.len() as u64) as usize];
            let title = format!(
                "{} ({})",
                ACTIONS[rng.below(ACTIONS.len() as u64) as usize],
                n + 1
            );
            let qpv_a = rng.below(plan.qpvs.len() as u64) as usize;
            let mut qpv_idx = vec![qpv_a];
            if rng.chance(0.3) {
                let b =
                    (qpv_a + 1 + rng.below(plan.qpvs.len() as u64 - 1) as usize) % plan.qpvs.len();
                qpv_idx.push(b);
            }
            let amb_a = rng.below(plan.ambitions.len() as u64) as usize;
            let mut nodes = vec![plan.ambitions[amb_a].clone()];
            if rng.chance(0.4) {
                let b = (amb_a + 1 + rng.below(plan.ambitions.len() as u64 - 1) as usize)
                    % plan.ambitions.len();
                nodes.push(plan.ambitions[b].clone());
            }
            // Three financers: the State, the intercommunality, and the commune of the first QPV (or the CAF).
            let third = if rng.chance(0.7) {
                format!("ville-{}", plan.qpvs[qpv_a].1 + 1)
            } else {
                "caf".to_string()
            };
            let codes = ["etat".to_string(), "epci".to_string(), third];
            let hundreds = |rng: &mut Rng, lo: i64, hi: i64| rng.range(lo, hi) * 100_00;
            let requested = [
                hundreds(rng, 20, 250),
                hundreds(rng, 15, 200),
                hundreds(rng, 5, 100),
            ];
            let own_funds = hundreds(rng, 5, 150);
            let total: i64 = requested.iter().sum::<i64>() + own_funds;
            let staff = total * 6 / 10;
            let body = ApplicationBody {
                title: title.clone(),
                description: "Action de proximité menée avec les habitants du quartier.".into(),
                objectives:
                    "Toucher les habitants les plus éloignés des dispositifs de droit commun."
                        .into(),
                start_on: format!("{year}-01-15"),
                end_on: format!("{year}-12-31"),
                places: plan.communes[plan.qpvs[qpv_a].1].1.clone(),
                component: component.to_string(),
                framework_keys: nodes.clone(),
                qpv_codes: qpv_idx
                    .iter()
                    .filter_map(|q| QpvCode::parse(&plan.qpvs[*q].0).ok())
                    .collect(),
                perimeters: vec![],
                public_description: "Habitants des quartiers prioritaires".into(),
                expected_beneficiaries: Some(rng.range(20, 400) as u32),
                qpv_share_percent: Some(rng.range(50, 100) as u8),
                indicators: vec![ProposedIndicator {
                    name: "Personnes accompagnées".into(),
                    target: rng.range(20, 300) as f64,
                    unit: "personnes".into(),
                }],
                budget: vec![YearBudget {
                    year,
                    charges: vec![
                        BudgetLine {
                            account: 64,
                            label: "Salaires et charges".into(),
                            amount_cents: cents(staff)?,
                            funder: None,
                        },
                        BudgetLine {
                            account: 60,
                            label: "Achats".into(),
                            amount_cents: cents(total - staff)?,
                            funder: None,
                        },
                    ],
                    income: codes
                        .iter()
                        .zip(requested)
                        .map(|(c, a)| {
                            Ok(BudgetLine {
                                account: 74,
                                label: format!("Subvention {c}"),
                                amount_cents: cents(a)?,
                                funder: Some(c.clone()),
                            })
                        })
                        .chain(std::iter::once(Ok(BudgetLine {
                            account: 75,
                            label: "Fonds propres".into(),
                            amount_cents: cents(own_funds)?,
                            funder: None,
                        })))
                        .collect::<anyhow::Result<Vec<_>>>()?,
                }],
            };
            // Lines: opinions from instruction on, decisions from the committee on.
            let rank = fate.rank();
            let opinions = match fate {
                Fate::EnInstruction => rng.below(3) as usize,
                Fate::Retire | Fate::Depose | Fate::ComplementDemande => 0,
                _ => 3,
            };
            let mut lines: Vec<Line> = codes
                .iter()
                .zip(requested)
                .enumerate()
                .map(|(k, (code, req))| {
                    let id = ids.line;
                    ids.line += 1;
                    let (proposed, opinion) = if k < opinions {
                        let r = rng.below(10);
                        let op = if fate == Fate::Refused || r == 0 {
                            "defavorable"
                        } else if r < 3 {
                            "reserve"
                        } else {
                            "favorable"
                        };
                        let p = if op == "defavorable" {
                            0
                        } else {
                            req * rng.range(60, 100) / 100 / 100_00 * 100_00
                        };
                        (Some(p), Some(op))
                    } else {
                        (None, None)
                    };
                    Line {
                        id,
                        funder: code.clone(),
                        requested: req,
                        proposed,
                        opinion,
                        decision: None,
                        decided: 0,
                    }
                })
                .collect();
            if rank >= 3 {
                for l in &mut lines {
                    let grant = fate != Fate::Refused
                        && l.opinion != Some("defavorable")
                        && l.proposed.unwrap_or(0) > 0;
                    l.decision = Some(if grant { "accorde" } else { "refuse" });
                    l.decided = if grant { l.proposed.unwrap_or(0) } else { 0 };
                }
                if rank >= 4 && lines.iter().all(|l| l.decision != Some("accorde")) {
                    let l = &mut lines[0];
                    l.decision = Some("accorde");
                    l.decided = (l.requested / 2 / 100_00).max(1) * 100_00;
                    l.proposed = Some(l.decided);
                    l.opinion = Some("reserve");
                }
            }
            for l in &lines {
                if l.decision == Some("accorde") {
                    *granted.entry((l.funder.clone(), component)).or_default() += l.decided;
                }
            }
            // The audit trail, consistent with the status reached.
            let mut events: Vec<(String, Option<Status>, Status, String, Option<String>)> =
                Vec::new();
            let mut ev =
                |e: &str, from: Option<Status>, to: Status, at: String, comment: Option<String>| {
                    events.push((e.to_string(), from, to, at, comment))
                };
            let created = stamp(&day(year - 1, 11, rng), rng);
            let submitted = stamp(&format!("{}-12-{:02}", year - 1, rng.range(1, 14)), rng);
            ev("creer", None, Status::Brouillon, created.clone(), None);
            ev(
                "deposer",
                Some(Status::Brouillon),
                Status::Depose,
                submitted.clone(),
                None,
            );
            let mut status = Status::Depose;
            let reached_instruction = rank >= 1 || (fate == Fate::Retire && rng.chance(0.5));
            if reached_instruction {
                ev(
                    "instruire",
                    Some(status),
                    Status::EnInstruction,
                    stamp(&day(year, 1, rng), rng),
                    None,
                );
                status = Status::EnInstruction;
                if fate == Fate::ComplementDemande || (rank >= 2 && rng.chance(0.15)) {
                    ev(
                        "demander_complement",
                        Some(status),
                        Status::ComplementDemande,
                        stamp(&day(year, 1, rng), rng),
                        Some("Merci de préciser le budget de l'action.".into()),
                    );
                    status = Status::ComplementDemande;
                    if fate != Fate::ComplementDemande {
                        ev(
                            "completer",
                            Some(status),
                            Status::EnInstruction,
                            stamp(&day(year, 2, rng), rng),
                            Some("Budget précisé.".into()),
                        );
                        status = Status::EnInstruction;
                    }
                }
            }
            for l in lines.iter().filter(|l| l.opinion.is_some()) {
                let note = format!(
                    "{} — montant proposé {}",
                    l.opinion.unwrap_or_default(),
                    eur(l.proposed.unwrap_or(0))
                );
                ev(
                    &format!("avis:{}", l.funder),
                    Some(status),
                    status,
                    stamp(&day(year, 2, rng), rng),
                    Some(note),
                );
            }
            if rank >= 2 {
                ev(
                    "rendre_avis",
                    Some(status),
                    Status::AvisRendus,
                    stamp(&day(year, 2, rng), rng),
                    None,
                );
                status = Status::AvisRendus;
            }
            if rank >= 3 {
                let at = format!("{held_on}T15:00:00Z");
                for l in &lines {
                    ev(
                        &format!("decision:{}", l.funder),
                        Some(status),
                        status,
                        at.clone(),
                        Some(format!(
                            "{} — {}",
                            l.decision.unwrap_or_default(),
                            eur(l.decided)
                        )),
                    );
                }
                ev(
                    "decider",
                    Some(status),
                    Status::Decide,
                    at,
                    Some(format!("Comité du {held_on}")),
                );
                status = Status::Decide;
            }
            if fate == Fate::Refused {
                ev(
                    "clore",
                    Some(status),
                    Status::Clos,
                    stamp(&day(year, 4, rng), rng),
                    None,
                );
                status = Status::Clos;
            }
            if fate == Fate::Retire {
                ev(
                    "retirer",
                    Some(status),
                    Status::Retire,
                    stamp(&day(year, 1, rng), rng),
                    Some("L'action ne pourra pas avoir lieu cette année.".into()),
                );
                status = Status::Retire;
            }
            // Agreements and payments.
            let mut agreements = Vec::new();
            if rank >= 4 && fate != Fate::Refused {
                let at = stamp(&day(year, 4, rng), rng);
                for l in lines.iter().filter(|l| l.decision == Some("accorde")) {
                    let id = ids.agreement;
                    ids.agreement += 1;
                    agreements.push((id, l.funder.clone(), l.decided));
                    out.push(
                        "agreements",
                        vec![
                            V::I(id),
                            V::I(l.id),
                            V::I(app_id),
                            V::I(plan.id),
                            t(l.funder.clone()),
                            t(format!("CONV-{reference}-{}", l.funder.to_uppercase())),
                            t("annuelle"),
                            V::I(l.decided),
                            t(format!("[[{year},{}]]", l.decided)),
                            V::I(plan.advance_percent),
                            t(format!("{}-03-31", year + 1)),
                            t("Mentionner le soutien des financeurs ; transmettre le bilan."),
                            t("[]"),
                            t(at.clone()),
                        ],
                    );
                }
                ev(
                    "conventionner",
                    Some(status),
                    Status::Conventionne,
                    at,
                    None,
                );
                status = Status::Conventionne;
            }
            let mut paid: BTreeMap<String, i64> = BTreeMap::new();
            if rank >= 5 {
                for (id, funder, amount) in &agreements {
                    let advance = amount * plan.advance_percent / 100;
                    let on = day(year, 5, rng);
                    out.push(
                        "payments",
                        vec![
                            V::I(*id),
                            t("avance"),
                            V::I(advance),
                            t(on.clone()),
                            t(stamp(&on, rng)),
                        ],
                    );
                    *paid.entry(funder.clone()).or_default() += advance;
                    let to = if status == Status::Conventionne {
                        Status::Paye
                    } else {
                        status
                    };
                    ev(
                        "payer",
                        Some(status),
                        to,
                        stamp(&on, rng),
                        Some(format!("avance de {} ({funder}) le {on}", eur(advance))),
                    );
                    status = to;
                }
            }
            if rank >= 6 {
                ev(
                    "attendre_bilan",
                    Some(status),
                    Status::BilanAttendu,
                    stamp(&day(year, 12, rng), rng),
                    None,
                );
                status = Status::BilanAttendu;
            }
            if rank >= 7 {
                ev(
                    "deposer_bilan",
                    Some(status),
                    Status::BilanDepose,
                    stamp(&day(year + 1, 2, rng), rng),
                    None,
                );
                status = Status::BilanDepose;
            }
            if rank >= 8 {
                for (id, funder, amount) in &agreements {
                    let balance = amount - paid.get(funder).copied().unwrap_or(0);
                    if balance > 0 {
                        let on = day(year + 1, 3, rng);
                        out.push(
                            "payments",
                            vec![
                                V::I(*id),
                                t("solde"),
                                V::I(balance),
                                t(on.clone()),
                                t(stamp(&on, rng)),
                            ],
                        );
                        *paid.entry(funder.clone()).or_default() += balance;
                        ev(
                            "payer",
                            Some(status),
                            status,
                            stamp(&on, rng),
                            Some(format!("solde de {} ({funder}) le {on}", eur(balance))),
                        );
                    }
                }
                ev(
                    "clore",
                    Some(status),
                    Status::Clos,
                    stamp(&day(year + 1, 4, rng), rng),
                    None,
                );
                status = Status::Clos;
            }
            debug_assert_eq!(status, fate.status(), "{fate:?}");
            let updated = events
                .last()
                .map(|e| e.3.clone())
                .unwrap_or_else(|| created.clone());
            out.push(
                "applications",
                vec![
                    V::I(app_id),
                    V::I(call_id),
                    V::I(plan.id),
                    V::I(i64::from(year)),
                    V::I(org),
                    t(reference.clone()),
                    t(title),
                    t(component),
                    t(status.code()),
                    t(serde_json::to_string(&body)?),
                    V::I(events.len() as i64),
                    t(submitted),
                    t(created),
                    t(updated),
                ],
            );
            let mut sorted_nodes = nodes;
            sorted_nodes.sort();
            sorted_nodes.dedup();
            for k in sorted_nodes {
                out.push("application_nodes", vec![V::I(app_id), t(k)]);
            }
            let mut places: Vec<(String, String)> = qpv_idx
                .iter()
                .map(|q| {
                    (
                        plan.qpvs[*q].0.clone(),
                        plan.communes[plan.qpvs[*q].1].0.clone(),
                    )
                })
                .collect();
            places.sort();
            places.dedup();
            for (q, insee) in places {
                out.push("application_places", vec![V::I(app_id), t(q), t(insee)]);
            }
            for l in &lines {
                let agreed = if agreements.iter().any(|(_, f, _)| *f == l.funder) {
                    l.decided
                } else {
                    0
                };
                out.push(
                    "funding_lines",
                    vec![
                        V::I(l.id),
                        V::I(app_id),
                        V::I(plan.id),
                        V::I(i64::from(year)),
                        t(component),
                        t(l.funder.clone()),
                        t(status.code()),
                        V::I(l.requested),
                        opt_i(l.proposed),
                        opt_t(l.opinion.map(str::to_string)),
                        opt_t(l.decision.map(str::to_string)),
                        V::I(l.decided),
                        if l.decision.is_some() {
                            V::I(committee_id)
                        } else {
                            V::NullI
                        },
                        V::I(agreed),
                        V::I(paid.get(&l.funder).copied().unwrap_or(0)),
                    ],
                );
            }
            for (event, from, to, at, comment) in events {
                let actor = match event.as_str() {
                    "creer" | "deposer" | "completer" | "deposer_bilan" | "retirer" => {
                        format!("contact-{org}@associations.example.org")
                    }
                    e if e.starts_with("avis:") => {
                        format!("instruction-{}@{}.example.fr", &e[5..], plan.slug)
                    }
                    "instruire" | "demander_complement" | "rendre_avis" => {
                        format!("instruction-etat@{}.example.fr", plan.slug)
                    }
                    _ => format!("pilotage@{}.example.fr", plan.slug),
                };
                out.push(
                    "application_events",
                    vec![
                        V::I(app_id),
                        t(event),
                        opt_t(from.map(|s| s.code().to_string())),
                        t(to.code()),
                        t(actor),
                        opt_t(comment),
                        t(at),
                    ],
                );
            }
        }
        // Envelopes: what was granted plus about a tenth, for every financer and component.
        for (code, _) in &plan.funders {
            for component in COMPONENTS {
                let g = granted
                    .get(&(code.clone(), component))
                    .copied()
                    .unwrap_or(0);
                let amount = ((g * 11 / 10) / 1_000_00 + 1) * 1_000_00;
                out.push(
                    "envelopes",
                    vec![V::I(call_id), t(code.clone()), t(component), V::I(amount)],
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_sirets_pass_the_luhn_check() {
        for p in [
            0u64,
            1,
            200_000_000_0000,
            7_000_000_000_123,
            9_999_999_999_999,
        ] {
            let s = siret(p);
            assert!(quartiers_domain::Siret::parse(&s).is_ok(), "{s}");
        }
    }

    #[test]
    fn generated_contracts_are_valid_documents() {
        for i in [0, 94, 95, 449] {
            let doc = contract_document(i, (2017, 2030)).unwrap();
            doc.validate().unwrap();
            assert_eq!(doc.contract.qpvs.len(), 4);
        }
    }
}
