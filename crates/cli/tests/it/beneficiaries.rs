//! Beneficiaries counted by QPV from an address file (end-of-action reports): the addresses
//! of the BAN fixture (`crates/io/tests/fixtures/`), geocoded and located against the QPV
//! 2024 contours shipped in `data/qpv/`; the expected counts come from the fixture's
//! expected results.

use crate::both_engines;
use crate::helpers::TestApp;
use quartiers_domain::funding::report::BeneficiaryCounts;
use quartiers_geo::ReadOptions;
use quartiers_web::geo::beneficiaries::count_beneficiaries;
use quartiers_web::geo::{GeoService, DEFAULT_TOLERANCE_M};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Loads the QPV of Nord and Pas-de-Calais from the shipped national file, and the BAN
/// fixture.
pub(crate) async fn load_geography(app: &TestApp) {
    let mut out = quartiers_geo::read::read_geojson_bytes(
        quartiers_web::geo::import::NATIONAL_QPV_2024,
        &ReadOptions::default(),
    )
    .unwrap();
    out.perimeters
        .retain(|p| p.code.starts_with("QN059") || p.code.starts_with("QN062"));
    quartiers_web::geo::import::store_read_output(&app.store, out, "test", None, None)
        .await
        .unwrap();
    let r = quartiers_web::geo::import::import_ban_paths(
        &app.store,
        &[repo().join("crates/io/tests/fixtures/ban_fixture.csv")],
    )
    .await
    .unwrap();
    assert!(r.stored >= 50);
}

/// The fixture's queries with their expected QPV (empty: none) and precision.
pub(crate) fn fixture() -> Vec<(String, String, String)> {
    std::fs::read_to_string(repo().join("crates/io/tests/fixtures/ban_fixture_expected.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(';').collect();
            (f[0].to_string(), f[3].to_string(), f[4].to_string())
        })
        .collect()
}

/// What the fixture says the counts are: a street-level match is « à vérifier », a
/// house-number match is in its expected QPV or outside; `extra_not_located` rows are not
/// found.
pub(crate) fn expected(
    queries: &[(String, String, String)],
    extra_not_located: u64,
) -> BeneficiaryCounts {
    let mut per_qpv: BTreeMap<String, u64> = BTreeMap::new();
    let mut to_check = 0;
    for (_, qpv, precision) in queries {
        if precision == "voie" {
            to_check += 1;
        } else if !qpv.is_empty() {
            *per_qpv.entry(qpv.clone()).or_default() += 1;
        }
    }
    BeneficiaryCounts {
        total: queries.len() as u64 + extra_not_located,
        located: queries.len() as u64,
        in_qpv: per_qpv.values().sum(),
        to_check,
        per_qpv: per_qpv.into_iter().collect(),
    }
}

async fn counts_from_addresses(app: TestApp) {
    load_geography(&app).await;
    let geo = GeoService::new(app.store.clone(), DEFAULT_TOLERANCE_M);
    let queries = fixture();
    assert_eq!(queries.len(), 44);

    // CSV: every fixture address, two unknown addresses and a row without address.
    let mut csv = String::from("beneficiaire;adresse\r\n");
    for (i, (q, _, _)) in queries.iter().enumerate() {
        csv.push_str(&format!("Personne {i};\"{q}\"\r\n"));
    }
    csv.push_str(
        "Personne x;\"zzqx wvkj 99999 Nullepart\"\r\nPersonne y;\"qqqq\"\r\nPersonne z;\r\n",
    );
    let counts = count_beneficiaries(&geo, "beneficiaires.csv", csv.as_bytes())
        .await
        .unwrap();
    let want = expected(&queries, 3);
    assert_eq!(counts, want);
    // The same numbers, written out.
    assert_eq!(
        (counts.total, counts.located, counts.in_qpv, counts.to_check),
        (47, 44, 16, 16)
    );
    assert_eq!(
        counts.per_qpv,
        [
            ("QN05930M", 1),
            ("QN05931M", 2),
            ("QN05969M", 1),
            ("QN05971M", 3),
            ("QN05973M", 1),
            ("QN05981M", 2),
            ("QN05985M", 2),
            ("QN06226M", 2),
            ("QN06228M", 2),
        ]
        .iter()
        .map(|(c, n)| (c.to_string(), *n as u64))
        .collect::<Vec<_>>()
    );

    // XLSX: the house-number addresses only, the sheet read like the batch page does.
    let numbered: Vec<_> = queries
        .iter()
        .filter(|(_, _, p)| p == "numero")
        .cloned()
        .collect();
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "Nom").unwrap();
    ws.write_string(0, 1, "Adresse").unwrap();
    for (i, (q, _, _)) in numbered.iter().enumerate() {
        ws.write_string(i as u32 + 1, 0, format!("Personne {i}"))
            .unwrap();
        ws.write_string(i as u32 + 1, 1, q).unwrap();
    }
    let xlsx = wb.save_to_buffer().unwrap();
    let counts = count_beneficiaries(&geo, "liste.xlsx", &xlsx)
        .await
        .unwrap();
    assert_eq!(counts, expected(&numbered, 0));
    assert_eq!((counts.total, counts.in_qpv, counts.to_check), (28, 16, 0));

    // Files that cannot be read: a French message, nothing counted.
    let e = count_beneficiaries(&geo, "vide.csv", b"")
        .await
        .unwrap_err();
    assert_eq!(e, "Le fichier des bénéficiaires est vide.");
    let e = count_beneficiaries(&geo, "liste.xlsx", b"PK\x03\x04 pas un classeur")
        .await
        .unwrap_err();
    assert!(
        e.starts_with("Le fichier des bénéficiaires n'a pas pu être lu : "),
        "{e}"
    );
    let e = count_beneficiaries(&geo, "liste.csv", b"nom;telephone\r\nA;0102030405\r\n")
        .await
        .unwrap_err();
    assert!(
        e.starts_with("Le fichier des bénéficiaires n'a pas pu être lu : "),
        "{e}"
    );
}
both_engines!(beneficiaries_are_counted_by_qpv, counts_from_addresses);
