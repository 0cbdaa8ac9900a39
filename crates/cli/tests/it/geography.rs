//! Priority geography through HTTP on real data: the QPV 2024 contours shipped in
//! `data/qpv/` (ANCT, Licence Ouverte 2.0), the BAN fixture of `crates/io/tests/fixtures/`
//! (addresses placed at real coordinates), and, when the shared data folder is present,
//! the 2015 MEL layer of the Lambert-93 GeoPackage.

use crate::both_engines;
use crate::helpers::{session_csrf, Engine, TestApp};
use quartiers_domain::Role;
use quartiers_geo::ReadOptions;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ban_fixture() -> PathBuf {
    repo().join("crates/io/tests/fixtures/ban_fixture.csv")
}

fn shared_data() -> Option<PathBuf> {
    let p = match std::env::var_os("QUARTIERS_SHARED_DATA") {
        Some(v) => PathBuf::from(v),
        None => repo().join("../shared/data"),
    };
    if p.join("qpv").is_dir() {
        Some(p)
    } else {
        eprintln!(
            "NOTICE: dossier de données partagées absent ({}) : test sauté",
            p.display()
        );
        None
    }
}

/// Loads the QPV of Nord and Pas-de-Calais from the shipped national file (a subset keeps
/// the debug-mode tests fast).
async fn load_nord(app: &TestApp) {
    let out = quartiers_geo::read::read_geojson_bytes(
        quartiers_web::geo::import::NATIONAL_QPV_2024,
        &ReadOptions::default(),
    )
    .unwrap();
    let mut out = out;
    out.perimeters
        .retain(|p| p.code.starts_with("QN059") || p.code.starts_with("QN062"));
    assert_eq!(out.perimeters.len(), 158);
    let o = quartiers_web::geo::import::store_read_output(&app.store, out, "test", None, None)
        .await
        .unwrap();
    assert_eq!(o.counts.inserted, 158);
}

async fn locate(app: &TestApp, query: &str) -> (u16, serde_json::Value) {
    let c = app.client();
    let p = c.get(&format!("/api/v1/locate?{query}")).await;
    (p.status, serde_json::from_str(&p.text).unwrap_or_default())
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------

async fn contracts_qpv_found(app: TestApp) {
    let app = app.with_demo().await;
    load_nord(&app).await;
    // Points inside QPV of the three demonstration contracts.
    for (lon, lat, code, contract) in [
        (3.023793, 50.628833, "QN05971M", "mel-2024"),
        (3.188418, 50.673753, "QN05981M", "mel-2024"),
        (2.840530, 50.436071, "QN06226M", "call-2024"),
        (2.758813, 50.425118, "QN06228M", "call-2024"),
        (3.485938, 50.362006, "QN05930M", "valenciennes-2015"),
        (3.516380, 50.341245, "QN05931M", "valenciennes-2015"),
    ] {
        let (s, a) = locate(&app, &format!("lon={lon}&lat={lat}")).await;
        assert_eq!(s, 200, "{a}");
        assert_eq!(a["qpv"][0]["code"], code, "{a}");
        assert_eq!(a["qpv"][0]["contract"]["slug"], contract, "{a}");
        assert!(
            ["in_qpv", "to_check"].contains(&a["status"].as_str().unwrap()),
            "{a}"
        );
    }
    // Lambert-93 input gives the same answer.
    let (s, a) = locate(&app, "x=701686.34&y=7059094.53").await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["qpv"][0]["code"], "QN05971M", "{a}");
    // Outside: Grand-Place of Lille.
    let (_, a) = locate(&app, "lon=3.063&lat=50.6365").await;
    assert_eq!(a["status"], "outside_qpv", "{a}");
    assert!(a["qpv"].as_array().unwrap().is_empty());

    let c = app.client();
    // QPV page: code, name, communes, contract, area, generation, map.
    let page = c.get("/quartiers-prioritaires/QN05971M").await;
    assert_eq!(page.status, 200);
    for needle in [
        "Secteur Ouest",
        "QN05971M",
        "59350",
        "/contrats/mel-2024",
        "ha",
        "2024",
        "carte-donnees",
        "leaflet.js",
        "11 m",
    ] {
        assert!(page.text.contains(needle), "{needle} missing");
    }
    assert_eq!(c.get("/quartiers-prioritaires/QN00000X").await.status, 404);
    // Contract map.
    let page = c.get("/contrats/call-2024/carte").await;
    assert_eq!(page.status, 200);
    assert!(
        page.text.contains("QN06226M") && page.text.contains("18 QPV"),
        "{}",
        page.text
    );
    // List and downloads.
    let page = c.get("/quartiers-prioritaires").await;
    assert!(page.text.contains("QN05930M") && page.text.contains("registre.csv"));
    let csv = c.get("/quartiers-prioritaires/registre.csv").await;
    assert_eq!(csv.text.lines().count(), 159);
    assert!(csv.content_type.starts_with("text/csv"));
    let gj = c.get("/quartiers-prioritaires/registre.geojson").await;
    let gj: serde_json::Value = serde_json::from_str(&gj.text).unwrap();
    assert_eq!(gj["features"].as_array().unwrap().len(), 158);
    // API.
    let list = c.get("/api/v1/qpv").await;
    let list: serde_json::Value = serde_json::from_str(&list.text).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 158);
    let lille = c.get("/api/v1/qpv?commune=59350").await;
    let lille: serde_json::Value = serde_json::from_str(&lille.text).unwrap();
    assert!(
        lille
            .as_array()
            .unwrap()
            .iter()
            .any(|q| q["code"] == "QN05971M"),
        "{lille}"
    );
    // Filters that cannot match anything are refused, not answered with an empty list.
    let bad = c.get("/api/v1/qpv?kind=foo&commune=Lille").await;
    assert_eq!(bad.status, 422, "{}", bad.text);
    let problem: serde_json::Value = serde_json::from_str(&bad.text).unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["kind", "commune"], "{problem}");
    assert!(
        bad.text.contains("type de périmètre inconnu « foo »"),
        "{}",
        bad.text
    );
    let one = c.get("/api/v1/qpv/QN06226M").await;
    let one: serde_json::Value = serde_json::from_str(&one.text).unwrap();
    assert_eq!(one["contract"]["slug"], "call-2024");
    assert_eq!(one["geometry"]["type"], "MultiPolygon");
    let openapi = c.get("/api/v1/openapi.json").await.text;
    for p in [
        "/api/v1/locate",
        "/api/v1/locate/batch",
        "/api/v1/qpv",
        "/api/v1/qpv/{code}",
    ] {
        assert!(openapi.contains(p), "{p} documented");
    }
    // The public page, by point, without JavaScript.
    let page = c
        .get("/quartiers-prioritaires/suis-je-dans-un-qpv?lon=2,840530&lat=50,436071")
        .await;
    assert!(
        page.text.contains("QN06226M") && page.text.contains("Cité 2"),
        "{}",
        page.text
    );
    // Displayed numbers take the decimal comma.
    assert!(
        page.text
            .contains("Point : longitude 2,840530, latitude 50,436071 (WGS84)"),
        "{}",
        page.text
    );
}
both_engines!(qpv_of_the_three_contracts, contracts_qpv_found);

async fn ban_addresses(app: TestApp) {
    let app = app.with_demo().await;
    load_nord(&app).await;
    let r = quartiers_web::geo::import::import_ban_paths(&app.store, &[ban_fixture()])
        .await
        .unwrap();
    assert!(r.stored >= 50, "{}", r.stored);
    let expected =
        std::fs::read_to_string(repo().join("crates/io/tests/fixtures/ban_fixture_expected.csv"))
            .unwrap();
    let mut checked = 0;
    for line in expected.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        let (query, qpv, precision) = (f[0], f[3], f[4]);
        let (s, a) = locate(&app, &format!("address={}", enc(query))).await;
        assert_eq!(s, 200);
        assert_eq!(a["geocoding"]["precision"], precision, "{query}: {a}");
        if qpv.is_empty() {
            assert!(a["qpv"].as_array().unwrap().is_empty(), "{query}: {a}");
        } else {
            assert_eq!(a["qpv"][0]["code"], qpv, "{query}: {a}");
        }
        if precision == "voie" {
            assert_eq!(a["status"], "to_check", "street positions are flagged: {a}");
        }
        checked += 1;
    }
    assert!(checked >= 40);
    let (_, a) = locate(&app, "address=xyzzy%20plugh").await;
    assert_eq!(a["status"], "not_located");
    // Addresses absent from the loaded base are not located, though a street of the base
    // shares the word `rue` and the commune, or the street exists under another postcode.
    for query in [
        "10 rue de la Paix 75002 Paris",
        "12 rue Victor Hugo Lille",
        "rue Inconnue 59000 Lille",
        "7 Allée des Tilleuls 59300 Valenciennes",
    ] {
        let (s, a) = locate(&app, &format!("address={}", enc(query))).await;
        assert_eq!(s, 200);
        assert_eq!(a["status"], "not_located", "{query}: {a}");
        assert!(a["qpv"].as_array().unwrap().is_empty(), "{query}: {a}");
        assert!(
            a["message"]
                .as_str()
                .unwrap()
                .contains("adresse introuvable dans la Base Adresse Nationale chargée"),
            "{query}: {a}"
        );
    }
    // The same address in Lens (in a QPV) and Liévin (outside), no commune given.
    let (_, a) = locate(&app, &format!("address={}", enc("1 rue Jean Jaurès"))).await;
    assert_eq!(a["status"], "to_check", "{a}");
    assert!(
        a["message"]
            .as_str()
            .unwrap()
            .contains("la même adresse existe aussi à Liévin (62800) ; précisez la commune"),
        "{a}"
    );
    // Batch files answer the same.
    let c = app.client();
    let r = c
        .http
        .post(format!("{}/api/v1/locate/batch", c.base))
        .body("id;adresse\n1;10 rue de la Paix 75002 Paris\n2;rue Inconnue 59000 Lille\n3;1 rue Jean Jaurès\n4;1 Rue Jean Jaurès 62300 Lens\n")
        .send()
        .await
        .unwrap();
    let out = r.text().await.unwrap();
    let lines: Vec<&str> = out.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 5, "{out}");
    for line in &lines[1..3] {
        assert!(
            line.contains("non localisé")
                && line.contains("adresse introuvable")
                && !line.contains("QN05971M"),
            "{out}"
        );
    }
    assert!(
        lines[3].contains("à vérifier") && lines[3].contains("Liévin (62800)"),
        "{out}"
    );
    assert!(
        lines[4].contains("dans un QPV") && lines[4].contains("QN06226M"),
        "{out}"
    );
    // The page answers an address, with the contract and a map.
    let page = app
        .client()
        .get(&format!(
            "/quartiers-prioritaires/suis-je-dans-un-qpv?adresse={}",
            enc("1 Rue des Tisserands 59000 Lille")
        ))
        .await;
    assert!(
        page.text.contains("Secteur Ouest")
            && page.text.contains("/contrats/mel-2024")
            && page.text.contains("id=\"carte\"")
    );
    // The geocoding score is written the French way (« score 1,00 »).
    let score = &page.text[page.text.find("(score ").expect("score shown") + 7..];
    assert!(
        score.as_bytes()[1] == b',' && score[2..4].bytes().all(|b| b.is_ascii_digit()),
        "{}",
        &score[..20]
    );
}
both_engines!(ban_fixture_addresses_answer_their_qpv, ban_addresses);

fn to_1252(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            'é' => 0xE9,
            'è' => 0xE8,
            'à' => 0xE0,
            c if c.is_ascii() => c as u8,
            _ => b'?',
        })
        .collect()
}

async fn batch(app: TestApp) {
    let app = app.with_demo().await;
    load_nord(&app).await;
    quartiers_web::geo::import::import_ban_paths(&app.store, &[ban_fixture()])
        .await
        .unwrap();
    let c = app.client();
    let rows = [
        ("1", "3.023793", "50.628833", "Résidence é"),
        ("2", "3.063", "50.6365", "Grand-Place à Lille"),
        ("3", "2.840530", "50.436071", "Cité 2 è"),
        ("4", "", "", "vide"),
    ];
    for sep in [",", ";", "\t"] {
        for encoding in ["utf-8", "utf-8-bom", "windows-1252"] {
            let mut text = format!("id{sep}lon{sep}lat{sep}nom\r\n");
            for (id, lon, lat, name) in rows {
                let (lon, lat) = if sep == ";" {
                    (lon.replace('.', ","), lat.replace('.', ","))
                } else {
                    (lon.to_string(), lat.to_string())
                };
                text.push_str(&format!("{id}{sep}{lon}{sep}{lat}{sep}{name}\r\n"));
            }
            let body = match encoding {
                "utf-8" => text.into_bytes(),
                "utf-8-bom" => [b"\xEF\xBB\xBF".to_vec(), text.into_bytes()].concat(),
                _ => to_1252(&text),
            };
            let r = c
                .http
                .post(format!("{}/api/v1/locate/batch", c.base))
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{sep:?} {encoding}");
            assert_eq!(r.headers()["quartiers-lignes"], "4");
            assert_eq!(
                r.headers()["quartiers-dans-qpv"]
                    .to_str()
                    .unwrap()
                    .parse::<u32>()
                    .unwrap()
                    + r.headers()["quartiers-a-verifier"]
                        .to_str()
                        .unwrap()
                        .parse::<u32>()
                        .unwrap(),
                2
            );
            let out = r.text().await.unwrap();
            let lines: Vec<&str> = out.trim_start_matches('\u{feff}').lines().collect();
            assert_eq!(lines.len(), 5, "{out}");
            assert!(
                lines[0].contains("qpv_code") && lines[0].contains("statut"),
                "{out}"
            );
            assert!(
                lines[1].starts_with("1") && lines[1].contains("QN05971M"),
                "{out}"
            );
            assert!(
                lines[1].contains("Résidence é"),
                "accents kept ({encoding}): {out}"
            );
            assert!(lines[2].contains("hors QPV"), "{out}");
            assert!(lines[3].contains("QN06226M"), "{out}");
            assert!(lines[4].contains("non localisé"), "{out}");
        }
    }
    // Address columns.
    let r = c
        .http
        .post(format!("{}/api/v1/locate/batch", c.base))
        .body("id;adresse\n1;10 Rue de la Filature 59800 Lille\n2;15 Avenue de Dutemple 59300 Valenciennes\n")
        .send()
        .await
        .unwrap();
    let out = r.text().await.unwrap();
    assert!(
        out.contains("QN05973M") && out.contains("QN05930M"),
        "{out}"
    );
    // Ragged rows: reported, one output row per input row, order kept.
    let r = c
        .http
        .post(format!("{}/api/v1/locate/batch", c.base))
        .body("id,lon,lat\n1,3.023793,50.628833\n2,3.06\n3,2.840530,50.436071\n")
        .send()
        .await
        .unwrap();
    let out = r.text().await.unwrap();
    let lines: Vec<&str> = out.trim_start_matches('\u{feff}').lines().collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines[2].starts_with("2,")
            && lines[2].contains("non localisé")
            && lines[2].contains("colonnes"),
        "{out}"
    );
    assert!(lines[3].contains("QN06226M"));
    // Binary renamed .csv: a specific French message.
    let r = c
        .http
        .post(format!(
            "{}/api/v1/locate/batch?filename=donnees.csv",
            c.base
        ))
        .body(vec![0u8, 159, 146, 150, 0, 1, 2, 3, 0, 0, 255, 254, 0, 7])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let t = r.text().await.unwrap();
    assert!(t.contains("problem") || t.contains("detail"), "{t}");
    // The page: upload, summary and download, nothing kept.
    let form = reqwest::multipart::Form::new().part(
        "fichier",
        reqwest::multipart::Part::bytes(
            b"id;lon;lat\n1;3,023793;50,628833\n2;3,063;50,6365\n".to_vec(),
        )
        .file_name("beneficiaires.csv"),
    );
    let r = c
        .http
        .post(format!(
            "{}/quartiers-prioritaires/localiser-un-fichier",
            c.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("beneficiaires_qpv.csv") && html.contains("data:text/csv;base64,"),
        "{html}"
    );
    assert!(html.contains("id=\"nb-lignes\">2<"), "{html}");
}
both_engines!(batch_files_in_every_encoding_and_separator, batch);

async fn bad_inputs(app: TestApp) {
    let app = app.with_demo().await;
    load_nord(&app).await;
    // A form posted without its file (not multipart): a French page, not axum's English.
    let page = app
        .client()
        .post_form(
            "/quartiers-prioritaires/localiser-un-fichier",
            &[("colonnes", "x")],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.text);
    assert!(
        page.text
            .contains("Envoi mal formé : ce formulaire s&#39;envoie depuis sa page")
            || page
                .text
                .contains("Envoi mal formé : ce formulaire s'envoie depuis sa page"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("boundary"), "{}", page.text);
    for (q, needle) in [
        ("lon=200&lat=50", "hors limites"),
        ("lon=50.63&lat=3.06", "inversées"),
        ("lon=abc&lat=50", "n'est pas un nombre"),
        ("lon=NaN&lat=50", "n'est pas un nombre"),
        ("x=7059094&y=701686", "inversés"),
        ("", "Donnez lon et lat"),
    ] {
        let c = app.client();
        let p = c.get(&format!("/api/v1/locate?{q}")).await;
        assert_eq!(p.status, 422, "{q}: {}", p.text);
        assert!(p.content_type.starts_with("application/problem+json"));
        assert!(p.text.contains(needle), "{q}: {}", p.text);
    }
    let page = app
        .client()
        .get("/quartiers-prioritaires/suis-je-dans-un-qpv?lon=50.63&lat=3.06")
        .await;
    assert_eq!(page.status, 422);
    assert!(page.text.contains("inversées"));
    assert!(
        page.text.contains("(longitude 50,63, latitude 3,06)"),
        "{}",
        page.text
    );

    app.user("admin@quartiers.fr", None, true).await;
    let c = app.signed_in("admin@quartiers.fr").await;
    let csrf = session_csrf(&c).await;
    let upload = |files: Vec<(&'static str, Vec<u8>)>| {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf", csrf.clone())
            .text("type", "attention_perimeter")
            .text("nom", "Périmètre de test")
            .text("criteres", "")
            .text("contrat", "");
        for (name, bytes) in files {
            form = form.part(
                "fichier",
                reqwest::multipart::Part::bytes(bytes).file_name(name),
            );
        }
        c.http
            .post(format!(
                "{}/quartiers-prioritaires/perimetres/importer",
                c.base
            ))
            .multipart(form)
            .send()
    };
    let r = upload(vec![(
        "casse.geojson",
        b"{\"type\": \"FeatureCollection\", \"features\": [".to_vec(),
    )])
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("GeoJSON invalide"));
    let r = upload(vec![
        ("zone.shp", vec![0u8; 100]),
        ("zone.dbf", vec![0u8; 10]),
    ])
    .await
    .unwrap();
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains(".prj absent"));
    // One bad feature does not stop the others; each rejection is reported with its number.
    let gj = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "PA1", "nom": "Bon"}, "geometry": {"type": "Polygon", "coordinates": [[[3.05,50.62],[3.06,50.62],[3.06,50.63],[3.05,50.63],[3.05,50.62]]]}},
        {"type": "Feature", "properties": {"code": "PA2"}, "geometry": {"type": "Point", "coordinates": [3.05, 50.62]}},
        {"type": "Feature", "properties": {"code": "PA3"}, "geometry": {"type": "Polygon", "coordinates": [[[300,50],[301,50],[301,51],[300,50]]]}},
    ]});
    let r = upload(vec![("zones.geojson", gj.to_string().into_bytes())])
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("Entité n° 2 rejetée") && html.contains("Entité n° 3 rejetée"),
        "{html}"
    );
    let (_, a) = locate(&app, "lon=3.055&lat=50.625").await;
    assert_eq!(a["perimeters"][0]["code"], "PA1", "{a}");
}
both_engines!(bad_inputs_get_specific_french_messages, bad_inputs);

async fn import_roles(app: TestApp) {
    let app = app.with_demo().await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    app.user("lecteur@mel.fr", Some((Role::Lecteur, "mel-2024")), false)
        .await;
    app.user("admin@quartiers.fr", None, true).await;
    let anon = app.client();
    let refused = anon
        .get("/quartiers-prioritaires/perimetres/importer")
        .await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .text
            .contains("<a class=\"fr-btn\" href=\"/connexion\">Se connecter</a>"),
        "the 401 page offers to sign in: {}",
        refused.text
    );
    // The import button is offered only to those who may import.
    let button = "Importer un périmètre";
    assert!(!anon
        .get("/quartiers-prioritaires")
        .await
        .text
        .contains(button));
    let lecteur = app.signed_in("lecteur@mel.fr").await;
    assert!(!lecteur
        .get("/quartiers-prioritaires")
        .await
        .text
        .contains(button));
    assert_eq!(
        lecteur
            .get("/quartiers-prioritaires/perimetres/importer")
            .await
            .status,
        403
    );
    let pilote = app.signed_in("pilote@mel.fr").await;
    assert!(pilote
        .get("/quartiers-prioritaires")
        .await
        .text
        .contains(button));
    let form = pilote
        .get("/quartiers-prioritaires/perimetres/importer")
        .await;
    assert_eq!(form.status, 200);
    assert!(form.text.contains("mel-2024") && !form.text.contains("value=\"call-2024\""));
    // A pilot's own contract is chosen, and the administrators' choices are not offered.
    assert!(
        form.text.contains("<option value=\"mel-2024\" selected>"),
        "{}",
        form.text
    );
    assert!(
        !form.text.contains("aucun (administrateurs)") && !form.text.contains("value=\"qpv\""),
        "{}",
        form.text
    );
    let admin = app.signed_in("admin@quartiers.fr").await;
    assert!(admin
        .get("/quartiers-prioritaires")
        .await
        .text
        .contains(button));
    let form = admin
        .get("/quartiers-prioritaires/perimetres/importer")
        .await;
    assert!(
        form.text
            .contains("<option value=\"\" selected>— aucun (administrateurs) —</option>")
            && form.text.contains("value=\"qpv\""),
        "{}",
        form.text
    );
    let gj = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": "MEL-ATT-1"}, "geometry": {"type": "Polygon", "coordinates": [[[3.05,50.62],[3.06,50.62],[3.06,50.63],[3.05,50.63],[3.05,50.62]]]}},
    ]});
    let fields = |contract| {
        [
            ("type", "attention_perimeter"),
            ("nom", "Périmètre d'attention Lille-Sud"),
            ("criteres", "Taux de pauvreté supérieur à 30 %"),
            ("contrat", contract),
        ]
    };
    let (status, _) = import_perimeter(&pilote, &fields("call-2024"), &gj).await;
    assert_eq!(status, 403);
    let (status, _) = import_perimeter(&pilote, &fields(""), &gj).await;
    assert_eq!(status, 403, "no contract: administrators only");
    let (status, _) = import_perimeter(&pilote, &fields("mel-2024"), &gj).await;
    assert_eq!(status, 200);
    let (_, a) = locate(&app, "lon=3.055&lat=50.625").await;
    assert_eq!(
        a["perimeters"][0]["name"], "Périmètre d'attention Lille-Sud",
        "{a}"
    );
    assert_eq!(a["perimeters"][0]["contract"]["slug"], "mel-2024", "{a}");
    let map = app.client().get("/contrats/mel-2024/carte").await;
    assert!(map.text.contains("MEL-ATT-1"));
    let list = app.client().get("/quartiers-prioritaires").await;
    assert!(list.text.contains("Taux de pauvreté supérieur à 30 %"));
}
both_engines!(perimeter_import_roles, import_roles);

/// Posts the perimeter import form (`fields`: `type`, `contrat`, `nom`...) with one
/// GeoJSON file; returns the status and the page.
async fn import_perimeter(
    client: &crate::helpers::Client,
    fields: &[(&str, &str)],
    geojson: &serde_json::Value,
) -> (u16, String) {
    let csrf = session_csrf(client).await;
    let form = fields
        .iter()
        .fold(
            reqwest::multipart::Form::new().text("csrf", csrf),
            |f, (k, v)| f.text(k.to_string(), v.to_string()),
        )
        .part(
            "fichier",
            reqwest::multipart::Part::bytes(geojson.to_string().into_bytes())
                .file_name("perimetre.geojson"),
        );
    let r = client
        .http
        .post(format!(
            "{}/quartiers-prioritaires/perimetres/importer",
            client.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap().replace("&#39;", "'"))
}

/// A square perimeter `code` of 0.01° at `(lon, lat)`.
fn square_perimeter(code: &str, lon: f64, lat: f64) -> serde_json::Value {
    let (a, b) = (lon + 0.01, lat + 0.01);
    serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"code": code, "nom": code}, "geometry": {"type": "Polygon",
         "coordinates": [[[lon, lat], [a, lat], [a, b], [lon, b], [lon, lat]]]}},
    ]})
}

/// A perimeter's code belongs to one contract: the pilot of another contract cannot replace
/// it, nor can a perimeter take a QPV's code; its own contract re-imports it.
async fn perimeter_codes(app: TestApp) {
    let app = app.with_demo().await;
    load_nord(&app).await;
    app.user("pilote@mel.fr", Some((Role::Pilote, "mel-2024")), false)
        .await;
    app.user("pilote@call.fr", Some((Role::Pilote, "call-2024")), false)
        .await;
    let mel = app.signed_in("pilote@mel.fr").await;
    let call = app.signed_in("pilote@call.fr").await;
    let lille = square_perimeter("PA-01", 3.05, 50.62);
    let (status, page) = import_perimeter(
        &mel,
        &[("type", "attention_perimeter"), ("contrat", "mel-2024")],
        &lille,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("1 périmètre(s) ajouté(s), 0 remplacé(s)."),
        "{page}"
    );
    // The other contract's pilot, same code and kind: refused, the MEL perimeter stays.
    let lens = square_perimeter("PA-01", 2.82, 50.42);
    let (status, page) = import_perimeter(
        &call,
        &[("type", "attention_perimeter"), ("contrat", "call-2024")],
        &lens,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Périmètre « PA-01 » refusé : ce code est déjà utilisé (Périmètre d'attention, contrat « mel-2024 ») ; donnez-lui un autre code."),
        "{page}"
    );
    assert!(
        page.contains("0 périmètre(s) ajouté(s), 0 remplacé(s)."),
        "{page}"
    );
    let (_, a) = locate(&app, "lon=3.055&lat=50.625").await;
    assert_eq!(a["perimeters"][0]["code"], "PA-01", "{a}");
    assert_eq!(a["perimeters"][0]["contract"]["slug"], "mel-2024", "{a}");
    let (_, a) = locate(&app, "lon=2.825&lat=50.425").await;
    assert_eq!(a["perimeters"].as_array().map(Vec::len), Some(0), "{a}");
    // Same contract, another kind: refused too (one code, one perimeter).
    let (_, page) = import_perimeter(
        &mel,
        &[("type", "renewal_site"), ("contrat", "mel-2024")],
        &lille,
    )
    .await;
    assert!(page.contains("Périmètre « PA-01 » refusé"), "{page}");
    // A QPV's code: refused.
    let homonym = square_perimeter("QN05972M", 3.05, 50.62);
    let (_, page) = import_perimeter(
        &mel,
        &[("type", "attention_perimeter"), ("contrat", "mel-2024")],
        &homonym,
    )
    .await;
    assert!(page.contains("Périmètre « QN05972M » refusé"), "{page}");
    assert!(
        page.contains("Quartier prioritaire (QPV), sans contrat"),
        "{page}"
    );
    // A file without codes: each feature gets the name given, in capitals, and its number.
    let drawn = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
         "coordinates": [[[3.07, 50.60], [3.08, 50.60], [3.08, 50.61], [3.07, 50.61], [3.07, 50.60]]]}},
    ]});
    let fields = [
        ("type", "attention_perimeter"),
        ("nom", "Périmètre d'attention Fives"),
        ("contrat", "mel-2024"),
    ];
    let (_, page) = import_perimeter(&mel, &fields, &drawn).await;
    assert!(
        page.contains("1 périmètre(s) ajouté(s), 0 remplacé(s)."),
        "{page}"
    );
    let (_, a) = locate(&app, "lon=3.075&lat=50.605").await;
    assert_eq!(
        a["perimeters"][0]["code"], "PERIMETRE-D-ATTENTION-FIVES-1",
        "{a}"
    );
    assert_eq!(
        a["perimeters"][0]["name"], "Périmètre d'attention Fives",
        "{a}"
    );
    // Its own contract re-imports it: replaced.
    let (_, page) = import_perimeter(
        &mel,
        &[("type", "attention_perimeter"), ("contrat", "mel-2024")],
        &lille,
    )
    .await;
    assert!(
        page.contains("0 périmètre(s) ajouté(s), 1 remplacé(s)."),
        "{page}"
    );
    assert_eq!(
        app.store
            .list_perimeters()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.code == "PA-01" || r.kind != "qpv")
            .count(),
        2
    );
}
both_engines!(perimeter_codes_belong_to_one_contract, perimeter_codes);

fn quartiers(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_quartiers"))
        .args(args)
        .env("DATABASE_URL", db)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run quartiers");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn cli_and_2015(app: TestApp) {
    let db = app.database_url.clone();
    let (ok, out, err) = quartiers(&db, &["ban", "import", ban_fixture().to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("adresse(s) importée(s)"), "{out}");
    // The registry takes official QPV codes of the generation given, nothing else.
    let dir = tempfile::tempdir().unwrap();
    let not_qpv = dir.path().join("communes.geojson");
    let square = serde_json::json!({"type": "Polygon",
        "coordinates": [[[3.05, 50.62], [3.06, 50.62], [3.06, 50.63], [3.05, 50.63], [3.05, 50.62]]]});
    std::fs::write(
        &not_qpv,
        serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"code": "COMMUNE_59350", "nom": "Lille"}, "geometry": square},
            {"type": "Feature", "properties": {"code_qp": "QN05971M", "lib_qp": "Secteur Ouest"}, "geometry": square},
        ]})
        .to_string(),
    )
    .unwrap();
    let (ok, out, err) = quartiers(
        &db,
        &[
            "qpv",
            "import",
            not_qpv.to_str().unwrap(),
            "--generation",
            "2015",
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("0 acceptée(s)") && out.contains("2 rejetée(s)"),
        "{out}"
    );
    assert!(
        out.contains("Entité n° 1 rejetée : « COMMUNE_59350 » n'est pas un code de QPV"),
        "{out}"
    );
    assert!(
        out.contains(
            "Entité n° 2 rejetée : le code « QN05971M » est de la génération 2024, pas 2015"
        ),
        "{out}"
    );
    let Some(shared) = shared_data() else { return };
    let gpkg = shared.join("qpv/icu_mediapart_lille_mel.gpkg");
    let (ok, out, err) = quartiers(
        &db,
        &[
            "qpv",
            "import",
            gpkg.to_str().unwrap(),
            "--layer",
            "qpvs",
            "--generation",
            "2015",
        ],
    );
    assert!(ok, "{err}");
    assert!(out.contains("26 entité(s) lue(s)"), "{out}");
    assert!(out.contains("Lambert-93"), "{out}");
    let nord = shared.join("qpv/qpv2024_59_62_wgs84.geojson");
    let (ok, out, err) = quartiers(&db, &["qpv", "import", nord.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("Correspondance 2015 ↔ 2024"), "{out}");
    // Lille Secteur Ouest (2024) is in the 2015 Secteur Ouest too.
    let (ok, out, err) = quartiers(&db, &["locate", "--point", "3.023793,50.628833"]);
    assert!(ok, "{err}");
    assert!(out.contains("qpv : QN05971M"), "{out}");
    assert!(out.contains("QPV 2015"), "{out}");
    // 90 m inside QN05971M and 5 m from a 2015 boundary: the older layer's edges do not
    // make the answer « à vérifier ».
    let (ok, out, err) = quartiers(&db, &["locate", "--point", "3.025204,50.628833"]);
    assert!(ok, "{err}");
    assert!(out.contains("statut : dans un QPV\n"), "{out}");
    assert!(out.contains("qpv : QN05971M"), "{out}");
    let (ok, out, _) = quartiers(
        &db,
        &["locate", "--point", "701686.34,7059094.53", "--crs", "2154"],
    );
    assert!(ok && out.contains("QN05971M"), "{out}");
    let (ok, out, _) = quartiers(
        &db,
        &["locate", "--address", "1 Rue des Tisserands 59000 Lille"],
    );
    assert!(ok && out.contains("QN05971M"), "{out}");
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("points.csv");
    std::fs::write(
        &input,
        "id;lon;lat\n1;3,023793;50,628833\n2;3,063;50,6365\n",
    )
    .unwrap();
    let output = dir.path().join("sortie.csv");
    let (ok, out, err) = quartiers(
        &db,
        &[
            "locate",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(
        out.contains("2 lignes traitées") && out.contains("dans un QPV : 1"),
        "{out}"
    );
    assert!(std::fs::read_to_string(&output)
        .unwrap()
        .contains("QN05971M"));
    // Address column named explicitly.
    let input = dir.path().join("adresses.csv");
    std::fs::write(&input, "id;lieu\n1;1 Rue des Tisserands 59000 Lille\n").unwrap();
    let output = dir.path().join("adresses_sortie.csv");
    let (ok, _, err) = quartiers(
        &db,
        &[
            "locate",
            input.to_str().unwrap(),
            "--address",
            "lieu",
            "-o",
            output.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert!(std::fs::read_to_string(&output)
        .unwrap()
        .contains("QN05971M"));
    // The page and the API see the CLI's imports (registry version).
    let c = app.client();
    let a = c.get("/api/v1/qpv/QN05971M").await;
    let a: serde_json::Value = serde_json::from_str(&a.text).unwrap();
    assert!(
        a["correspondence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["code_2015"] == "QP059074" || l["share_of_2015"].as_f64().unwrap() > 0.5),
        "{a}"
    );
}
both_engines!(cli_imports_and_the_2015_layer, cli_and_2015);

/// `quartiers locate` on a fresh database answers from the shipped national contours (loaded
/// once, said on stderr), not « hors QPV » from an empty registry.
async fn cli_locate_on_a_fresh_database(app: TestApp) {
    let db = app.database_url.clone();
    let (ok, out, err) = quartiers(&db, &["locate", "--point", "3.023793,50.628833"]);
    assert!(ok, "{err}");
    assert!(out.contains("statut : dans un QPV"), "{out}");
    assert!(out.contains("qpv : QN05971M"), "{out}");
    assert!(
        err.contains("Aucun QPV 2024 dans le registre : contours nationaux des QPV 2024 livrés avec Quartiers chargés (1584 QPV)."),
        "{err}"
    );
    // Loaded once: the second call finds them in the registry.
    let (ok, out, err) = quartiers(&db, &["locate", "--point", "5.3698,43.2965"]);
    assert!(ok, "{err}");
    assert!(!err.contains("Aucun QPV 2024"), "{err}");
    assert!(out.contains("statut :"), "{out}");
    assert_eq!(app.store.count_perimeters(Some("qpv")).await.unwrap(), 1584);
    // The input file is never overwritten, and a missing file or a folder is named.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("points.csv");
    let data = "id;lon;lat\n1;3,023793;50,628833\n";
    std::fs::write(&input, data).unwrap();
    let path = input.to_str().unwrap();
    let (ok, _, err) = quartiers(&db, &["locate", path, "-o", path]);
    assert!(!ok);
    assert!(
        err.contains("le fichier de résultat serait le fichier d'entrée"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&input).unwrap(), data);
    let missing = dir.path().join("absent.csv");
    let (ok, _, err) = quartiers(&db, &["locate", missing.to_str().unwrap()]);
    assert!(!ok && err.contains("Fichier introuvable : "), "{err}");
    let (ok, _, err) = quartiers(&db, &["locate", dir.path().to_str().unwrap()]);
    assert!(
        !ok && err.contains("est un dossier : donnez un fichier CSV ou XLSX."),
        "{err}"
    );
    // Options that would be silently ignored are refused, in French.
    for (args, message) in [
        (
            vec!["locate", path, "--point", "3.02,50.62"],
            "--point localise un seul point",
        ),
        (
            vec!["locate", "--lon", "a", "--lat", "b"],
            "s'appliquent à un fichier",
        ),
        (
            vec![
                "locate", path, "--lon", "lon", "--lat", "lat", "--x", "x", "--y", "y",
            ],
            "Choisissez une seule façon de localiser les lignes",
        ),
        (
            vec!["locate", "--point", "3.02,50.62", "--tolerance", "NaN"],
            "--tolerance attend",
        ),
    ] {
        let (ok, _, err) = quartiers(&db, &args);
        assert!(!ok && err.contains(message), "{args:?}: {err}");
    }
}
both_engines!(
    cli_locate_loads_the_shipped_contours_on_a_fresh_database,
    cli_locate_on_a_fresh_database
);

/// Area of a GeoJSON (multi)polygon in m², computed independently of the product: shoelace
/// formula in a local equirectangular frame (GRS80 metres per degree at the ring's latitude);
/// holes subtracted.
fn shoelace_area_m2(geometry: &serde_json::Value) -> f64 {
    let polygons: Vec<&serde_json::Value> = match geometry["type"].as_str() {
        Some("Polygon") => vec![&geometry["coordinates"]],
        _ => geometry["coordinates"].as_array().unwrap().iter().collect(),
    };
    let mut total = 0.0;
    for polygon in polygons {
        for (i, ring) in polygon.as_array().unwrap().iter().enumerate() {
            let pts: Vec<(f64, f64)> = ring
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c[0].as_f64().unwrap(), c[1].as_f64().unwrap()))
                .collect();
            let lat = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
            let (kx, ky) = quartiers_geo::index::metric_scale(lat);
            let twice: f64 = pts
                .windows(2)
                .map(|w| (w[0].0 * kx) * (w[1].1 * ky) - (w[1].0 * kx) * (w[0].1 * ky))
                .sum();
            total += if i == 0 {
                twice.abs() / 2.0
            } else {
                -twice.abs() / 2.0
            };
        }
    }
    total
}

/// Areas do not depend on the winding of the file's rings (the national file is wound
/// clockwise, which geo's unsigned geodesic area read as the rest of the Earth), and areas
/// stored by an import before the fix are mended by the next `locate` or `serve`.
async fn areas_are_the_perimeters_own(app: TestApp) {
    quartiers_web::geo::import::ensure_national(&app.store)
        .await
        .unwrap();
    let c = app.client();
    let q: serde_json::Value =
        serde_json::from_str(&c.get("/api/v1/qpv/QN05971M").await.text).unwrap();
    let area = q["area_m2"].as_i64().unwrap() as f64;
    let expected = shoelace_area_m2(&q["geometry"]);
    assert!(
        (area - expected).abs() < 0.005 * expected,
        "{area} against {expected}"
    );
    let all: serde_json::Value = serde_json::from_str(&c.get("/api/v1/qpv").await.text).unwrap();
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 1584);
    // The largest QPV, QN97661C in Guyane, measures about 42 km².
    let odd: Vec<_> = all
        .iter()
        .filter(|q| !(1..50_000_000).contains(&q["area_m2"].as_i64().unwrap()))
        .map(|q| format!("{} {}", q["code"], q["area_m2"]))
        .collect();
    assert!(odd.is_empty(), "{odd:?}");
    // A registry imported before the fix: complements of one and of two clockwise parts.
    let rows = app.store.list_perimeters().await.unwrap();
    let earth: i64 = 510_065_621_724_089;
    let id_of = |code: &str| rows.iter().find(|r| r.code == code).unwrap().id;
    let wrong = [
        (id_of("QN05971M"), earth - area as i64),
        (id_of("QN97653C"), 2 * earth - 1_000_000),
    ];
    let before = rows.iter().find(|r| r.code == "QN97653C").unwrap().area_m2;
    app.store.set_perimeter_areas(&wrong).await.unwrap();
    let (ok, _, err) = quartiers(
        &app.database_url,
        &["locate", "--point", "3.023793,50.628833"],
    );
    assert!(ok, "{err}");
    assert!(
        err.contains("Surfaces recalculées : 2 périmètre(s)"),
        "{err}"
    );
    let rows = app.store.list_perimeters().await.unwrap();
    let now = |code: &str| rows.iter().find(|r| r.code == code).unwrap().area_m2;
    assert_eq!(now("QN05971M"), area as i64);
    assert_eq!(now("QN97653C"), before);
    // Nothing left to mend.
    let (ok, _, err) = quartiers(
        &app.database_url,
        &["locate", "--point", "3.023793,50.628833"],
    );
    assert!(ok && !err.contains("Surfaces recalculées"), "{err}");
}

both_engines!(
    areas_do_not_depend_on_the_winding,
    areas_are_the_perimeters_own
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_platform_knows_every_qpv() {
    let app = TestApp::spawn(Engine::Sqlite).await.unwrap();
    let o = quartiers_web::geo::import::ensure_national(&app.store)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.counts.inserted, 1584);
    assert!(quartiers_web::geo::import::ensure_national(&app.store)
        .await
        .unwrap()
        .is_none());
    let (_, a) = locate(&app, "lon=3.023793&lat=50.628833").await;
    assert_eq!(a["qpv"][0]["code"], "QN05971M");
}

/// A registry holding only the 2015 layer still gets the 2024 contours, the generation in
/// force: otherwise points would be answered with 2015 QPV alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2015_layer_alone_does_not_replace_the_2024_contours() {
    let Some(shared) = shared_data() else { return };
    let app = TestApp::spawn(Engine::Sqlite).await.unwrap();
    let out = quartiers_geo::read_path(
        &shared.join("qpv/mel_qpv2015_wgs84.geojson"),
        &ReadOptions {
            generation: Some("2015".into()),
            ..ReadOptions::default()
        },
    )
    .unwrap();
    quartiers_web::geo::import::store_read_output(&app.store, out, "mel 2015", None, None)
        .await
        .unwrap();
    let o = quartiers_web::geo::import::ensure_national(&app.store)
        .await
        .unwrap()
        .expect("2024 contours loaded");
    assert_eq!(o.counts.inserted, 1584);
    // Lens, Cité 2: a 2024 QPV outside the MEL.
    let (_, a) = locate(&app, "lon=2.840530&lat=50.436071").await;
    assert_eq!(a["qpv"][0]["code"], "QN06226M", "{a}");
}

/// The public "Suis-je dans un QPV ?" page in a real headless Chromium: an address of the
/// BAN fixture is answered with its QPV and contract, and the Leaflet map is drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn am_i_in_a_qpv_in_a_real_browser() {
    use crate::browser::{browser_and_demo, wait_for};
    let Some((headless, app)) = browser_and_demo().await else {
        return;
    };
    load_nord(&app).await;
    quartiers_web::geo::import::import_ban_paths(&app.store, &[ban_fixture()])
        .await
        .unwrap();
    let browser = &headless.browser;
    let page = browser
        .new_page(format!(
            "{}/quartiers-prioritaires/suis-je-dans-un-qpv",
            app.address
        ))
        .await
        .unwrap();
    wait_for(&page, "form", |h| h.contains("id=\"adresse\"")).await;
    page.find_element("#adresse")
        .await
        .unwrap()
        .click()
        .await
        .unwrap()
        .type_str("15 Avenue de Dutemple 59300 Valenciennes")
        .await
        .unwrap();
    page.find_element("#form-adresse button[type=submit]")
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let html = wait_for(&page, "answer", |h| {
        h.contains("id=\"reponse\"") && h.contains("data-ready=\"1\"")
    })
    .await;
    assert!(html.contains("QN05930M"), "{html}");
    assert!(html.contains("/contrats/valenciennes-2015"), "{html}");
    assert!(
        html.contains("leaflet-interactive"),
        "the QPV contour is drawn: {html}"
    );
    // The map takes the content width (a map inside the DSFR's centred flex figure once
    // shrank to zero width), and the contour and the point are drawn with a real extent.
    let sizes: serde_json::Value = page
        .evaluate(
            "(() => {
                const size = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
                const paths = Array.from(document.querySelectorAll('#carte path.leaflet-interactive'));
                return { map: size(document.getElementById('carte')), paths: paths.map(size) };
            })()",
        )
        .await
        .unwrap()
        .into_value()
        .unwrap();
    let map = &sizes["map"];
    assert!(
        map[0].as_f64().unwrap() > 300.0 && map[1].as_f64().unwrap() > 200.0,
        "map size: {sizes}"
    );
    let paths = sizes["paths"].as_array().unwrap();
    assert!(
        paths.len() >= 2,
        "the contour and the point are drawn: {sizes}"
    );
    assert!(
        paths
            .iter()
            .all(|p| p[0].as_f64().unwrap() > 5.0 && p[1].as_f64().unwrap() > 5.0),
        "every drawn path has a non-degenerate bounding box: {sizes}"
    );
    headless.close().await;
}

/// `serve` builds the geography index before it listens, logs the build time, and the
/// first request is answered from that index (no second build).
#[test]
fn serve_builds_the_index_before_listening() {
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("quartiers.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_quartiers"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DATABASE_URL", &db)
        .env("RUST_LOG", "info,sqlx=warn")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run quartiers serve");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    // Log lines without their colour codes.
    let plain = |line: String| {
        let mut out = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(plain(line)).is_err() {
                break;
            }
        }
    });
    let mut before = Vec::new();
    let address = loop {
        let line = match rx.recv_timeout(std::time::Duration::from_secs(300)) {
            Ok(l) => l,
            Err(_) => {
                let _ = child.kill();
                panic!("serve did not start: {before:#?}");
            }
        };
        if let Some(a) = line.split("écoute sur http://").nth(1) {
            break a.trim().to_string();
        }
        before.push(line);
    };
    let built: Vec<&String> = before
        .iter()
        .filter(|l| l.contains("geography index built"))
        .collect();
    assert_eq!(built.len(), 1, "{before:#?}");
    assert!(
        built[0].contains("start-up") && built[0].contains("perimeters=1584"),
        "{}",
        built[0]
    );
    // A request right away: answered from the index built at start-up.
    let mut s = std::net::TcpStream::connect(&address).unwrap();
    write!(
        s,
        "GET /api/v1/locate?lon=3.023793&lat=50.628833 HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 200") && response.contains("QN05971M"),
        "{response}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    let after: Vec<String> = rx.try_iter().collect();
    assert!(
        !after.iter().any(|l| l.contains("geography index built")),
        "no rebuild at the first request: {after:#?}"
    );
}

/// Uploads over the platform's limit (here 64 Ko) get a specific French message, 413 on the
/// batch page, the perimeter import page and the API (problem+json), and nothing of them is
/// left in the upload folder; a client announcing 2 Go and waiting for `100 Continue` is
/// refused before sending anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_limit_are_refused_and_nothing_is_kept() {
    let uploads = tempfile::tempdir().unwrap();
    let config = quartiers_web::Config {
        max_upload_bytes: 64 * 1024,
        upload_dir: Some(uploads.path().to_path_buf()),
        ..TestApp::test_config()
    };
    let app = TestApp::spawn_with_config(Engine::Sqlite, config)
        .await
        .unwrap()
        .with_demo()
        .await;
    let left = || std::fs::read_dir(uploads.path()).unwrap().count();
    let mut big = b"id;lon;lat\n".to_vec();
    let mut n = 0;
    while big.len() <= 200 * 1024 {
        n += 1;
        big.extend_from_slice(format!("{n};3,023793;50,628833\n").as_bytes());
    }
    let small = b"id;lon;lat\n1;3,023793;50,628833\n".to_vec();
    let message = "dépasse la taille maximale acceptée par la plateforme (64 Ko) : il a été refusé et rien n'en a été conservé";
    let c = app.client();

    // API: under the limit, processed; over it, 413 problem+json.
    let r = c
        .http
        .post(format!("{}/api/v1/locate/batch", c.base))
        .body(small.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["quartiers-lignes"], "1");
    let _ = r.bytes().await.unwrap();
    assert_eq!(left(), 0, "the upload and the result are deleted");
    let r = c
        .http
        .post(format!("{}/api/v1/locate/batch?filename=gros.csv", c.base))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let p: serde_json::Value = r.json().await.unwrap();
    assert_eq!(p["type"], "/api/v1/problems/too-large", "{p}");
    assert_eq!(p["status"], 413);
    assert_eq!(p["title"], "Fichier trop volumineux");
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("Le fichier « gros.csv » ")
            && detail.contains(message)
            && detail.contains("quartiers locate"),
        "{detail}"
    );
    assert_eq!(left(), 0);

    // A 2 Go upload announced with Expect: 100-continue: refused before the body is sent.
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = app.address.trim_start_matches("http://").to_string();
        let mut s = tokio::net::TcpStream::connect(&host).await.unwrap();
        s.write_all(
            format!(
                "POST /api/v1/locate/batch HTTP/1.1\r\nHost: {host}\r\nContent-Type: text/csv\r\nContent-Length: 2147483648\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            s.read_to_end(&mut response),
        )
        .await
        .expect("answered without the body")
        .unwrap();
        let response = String::from_utf8_lossy(&response);
        assert!(response.starts_with("HTTP/1.1 413"), "{response}");
        assert!(!response.contains("100 Continue"), "{response}");
        assert!(response.contains("too-large"), "{response}");
    }

    // The batch page.
    let form = |bytes: Vec<u8>| {
        reqwest::multipart::Form::new().part(
            "fichier",
            reqwest::multipart::Part::bytes(bytes).file_name("beneficiaires.csv"),
        )
    };
    let r = c
        .http
        .post(format!(
            "{}/quartiers-prioritaires/localiser-un-fichier",
            c.base
        ))
        .multipart(form(big.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("Le fichier « beneficiaires.csv » {message}")),
        "{html}"
    );
    assert!(
        html.contains("64 Ko au plus"),
        "the limit is shown on the form"
    );
    assert_eq!(left(), 0);
    let r = c
        .http
        .post(format!(
            "{}/quartiers-prioritaires/localiser-un-fichier",
            c.base
        ))
        .multipart(form(small))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("id=\"nb-lignes\">1<"));
    assert_eq!(left(), 0);

    // The perimeter import page: a first small file then one over the limit; neither kept.
    app.user("admin@quartiers.fr", None, true).await;
    let c = app.signed_in("admin@quartiers.fr").await;
    let csrf = session_csrf(&c).await;
    let mut geojson = br#"{"type": "FeatureCollection", "features": [], "pad": ""#.to_vec();
    geojson.extend_from_slice(&[b' '; 100 * 1024]);
    geojson.extend_from_slice(b"\"}");
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("type", "attention_perimeter")
        .text("nom", "Périmètre trop gros")
        .text("criteres", "")
        .text("contrat", "")
        .part(
            "fichier",
            reqwest::multipart::Part::bytes(b"{}".to_vec()).file_name("petit.geojson"),
        )
        .part(
            "fichier",
            reqwest::multipart::Part::bytes(geojson).file_name("zones.geojson"),
        );
    let r = c
        .http
        .post(format!(
            "{}/quartiers-prioritaires/perimetres/importer",
            c.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let html = r.text().await.unwrap();
    assert!(
        html.contains(&format!("Le fichier « zones.geojson » {message}"))
            && html.contains("quartiers perimeter import"),
        "{html}"
    );
    assert!(
        html.contains("Périmètre trop gros"),
        "the form keeps its input"
    );
    assert_eq!(left(), 0);
}

fn xlsx(sheets: &[(&str, &[&[&str]])]) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    for (name, rows) in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(*name).unwrap();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                if v.is_empty() {
                    continue;
                }
                match v.parse::<f64>() {
                    Ok(n) => ws.write_number(r as u32, c as u16, n).unwrap(),
                    Err(_) => ws.write_string(r as u32, c as u16, *v).unwrap(),
                };
            }
        }
    }
    wb.save_to_buffer().unwrap()
}

/// Sheet names, header and rows of a workbook, as text.
fn read_xlsx(bytes: &[u8]) -> (Vec<String>, Vec<String>, Vec<Vec<String>>) {
    let t = quartiers_io::table::XlsxTable::open(std::io::Cursor::new(bytes.to_vec()), None)
        .expect("the result is an XLSX workbook");
    let rows = t
        .rows()
        .map(|(_, r)| {
            r.iter()
                .map(|c| {
                    let mut s = String::new();
                    quartiers_io::table::cell_to_string(c, &mut s);
                    s
                })
                .collect()
        })
        .collect();
    (t.sheets.clone(), t.headers(), rows)
}

/// An XLSX workbook through the API and the page: the result is XLSX with the added
/// columns, one row per input row in the same order; with several sheets, the first is
/// processed and the answer says which one (header, page summary), another can be chosen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xlsx_batch_keeps_rows_and_names_the_sheet() {
    let app = TestApp::spawn(Engine::Sqlite).await.unwrap();
    load_nord(&app).await;
    let rows: &[&[&str]] = &[
        &["id", "nom", "lon", "lat"],
        &["1", "Résidence é", "3.023793", "50.628833"],
        &["2", "Grand-Place", "3.063", "50.6365"],
        &["3", "Cité 2", "2.840530", "50.436071"],
        &["4", "vide", "", ""],
        &["5", "texte", "trois", "50.6"],
        &["6", "Encore Lille Sud", "3.023793", "50.628833"],
    ];
    let c = app.client();
    let post = |body: Vec<u8>, query: &str| {
        c.http
            .post(format!("{}/api/v1/locate/batch{query}", c.base))
            .body(body)
            .send()
    };
    let r = post(xlsx(&[("Bénéficiaires", rows)]), "").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(r.headers()["quartiers-lignes"], "6");
    assert_eq!(r.headers()["quartiers-feuille"], "B%C3%A9n%C3%A9ficiaires");
    assert_eq!(r.headers()["quartiers-feuilles"], "1");
    let (sheets, header, out) = read_xlsx(&r.bytes().await.unwrap());
    assert_eq!(sheets, ["Bénéficiaires"]);
    assert_eq!(
        header,
        [
            "id",
            "nom",
            "lon",
            "lat",
            "qpv_code",
            "qpv_nom",
            "autres_perimetres",
            "statut",
            "distance_qpv_m",
            "score_geocodage",
            "message"
        ]
    );
    assert_eq!(out.len(), 6, "one output row per input row: {out:?}");
    let ids: Vec<&str> = out.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6"], "same order");
    assert_eq!(out[0][1], "Résidence é");
    assert_eq!(out[0][4], "QN05971M");
    assert!(["dans un QPV", "à vérifier"].contains(&out[0][7].as_str()));
    assert_eq!(out[1][7], "hors QPV");
    assert_eq!(out[2][4], "QN06226M");
    assert_eq!(out[3][7], "non localisé");
    assert_eq!(out[4][7], "non localisé");
    assert!(out[4][10].contains("trois"), "{:?}", out[4]);
    assert_eq!(out[5][4], "QN05971M");

    // Several sheets: the first one is processed, and the answer says so.
    let notes: &[&[&str]] = &[&["remarque"], &["à relire"]];
    let book = xlsx(&[("Bénéficiaires", rows), ("Notes", notes)]);
    let r = post(book.clone(), "").await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["quartiers-feuille"], "B%C3%A9n%C3%A9ficiaires");
    assert_eq!(r.headers()["quartiers-feuilles"], "2");
    let (sheets, _, out) = read_xlsx(&r.bytes().await.unwrap());
    assert_eq!(sheets, ["Bénéficiaires"]);
    assert_eq!(out.len(), 6);
    // Another sheet named: it is read (here it has no location column: a French refusal).
    let r = post(book.clone(), "?sheet=Notes").await.unwrap();
    assert_eq!(r.status(), 422);
    let t = r.text().await.unwrap();
    assert!(t.contains("Aucune colonne de localisation"), "{t}");
    let r = post(book.clone(), "?sheet=Inconnue").await.unwrap();
    assert_eq!(r.status(), 422);
    let t = r.text().await.unwrap();
    assert!(
        t.contains("a feuille « Inconnue » n'existe pas (feuilles du classeur : « Bénéficiaires », « Notes »)"),
        "{t}"
    );
    // The page: the summary names the sheet processed and the others.
    let form = reqwest::multipart::Form::new().part(
        "fichier",
        reqwest::multipart::Part::bytes(book).file_name("suivi.xlsx"),
    );
    let r = c
        .http
        .post(format!(
            "{}/quartiers-prioritaires/localiser-un-fichier",
            c.base
        ))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("suivi_qpv.xlsx"), "{html}");
    assert!(html.contains("id=\"nb-lignes\">6<"), "{html}");
    assert!(
        html.contains("« Bénéficiaires » (sur 2 feuilles du classeur)"),
        "{html}"
    );
    assert!(
        html.contains("Le classeur contient 2 feuilles ; seule la feuille « Bénéficiaires » (la première) a été traitée. Autres feuilles : « Notes »."),
        "{html}"
    );
}
