//! Every expectation of `tests/fixtures/ban_fixture_expected.csv` is met by
//! the geocoder over `tests/fixtures/ban_fixture.csv`.

use quartiers_io::ban::{AddressIndex, Geocoding, Precision};

#[test]
fn fixture_expectations() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let ix = AddressIndex::load_paths(&[format!("{dir}/ban_fixture.csv")]).unwrap();
    assert_eq!(ix.skipped, 0);
    let expected = std::fs::read_to_string(format!("{dir}/ban_fixture_expected.csv")).unwrap();
    let mut n = 0;
    for line in expected.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        let (query, lon, lat, precision) = (
            f[0],
            f[1].parse::<f64>().unwrap(),
            f[2].parse::<f64>().unwrap(),
            f[4],
        );
        let g = ix.geocode(query);
        let r = g
            .found()
            .unwrap_or_else(|| panic!("not found with certainty: {query}: {g:?}"));
        assert!(
            (r.lon - lon).abs() < 2e-6 && (r.lat - lat).abs() < 2e-6,
            "{query}: got {r:?}"
        );
        assert_eq!(r.precision.as_str(), precision, "{query}");
        if r.precision == Precision::Numero {
            assert!(r.score >= 0.9, "{query}: {r:?}");
        }
        n += 1;
    }
    assert!(n >= 40);
}

/// The fixture's numbered addresses without their postcode and commune: found
/// with certainty, except `Rue Jean Jaurès`, which exists in Lens and in Liévin.
#[test]
fn fixture_addresses_without_commune() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let ix = AddressIndex::load_paths(&[format!("{dir}/ban_fixture.csv")]).unwrap();
    let expected = std::fs::read_to_string(format!("{dir}/ban_fixture_expected.csv")).unwrap();
    let mut n = 0;
    for line in expected.lines().skip(1) {
        let f: Vec<&str> = line.split(';').collect();
        let (query, lon, lat) = (
            f[0],
            f[1].parse::<f64>().unwrap(),
            f[2].parse::<f64>().unwrap(),
        );
        let words: Vec<&str> = query.split(' ').collect();
        // Generated rows: "<number> <street> <postcode> <commune>".
        let [.., pc, _] = words[..] else { continue };
        if pc.len() != 5 || !words[0].bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let bare = words[..words.len() - 2].join(" ");
        let g = ix.geocode(&bare);
        if bare.to_lowercase().contains("jean jaur") {
            let Geocoding::Ambiguous { others, .. } = &g else {
                panic!("{bare}: {g:?}")
            };
            assert_eq!(others.len(), 1, "{bare}: {g:?}");
            assert!(g.message().unwrap().contains("précisez la commune"));
        } else {
            let r = g.found().unwrap_or_else(|| panic!("{bare}: {g:?}"));
            assert!(
                (r.lon - lon).abs() < 2e-6 && (r.lat - lat).abs() < 2e-6,
                "{bare}: {r:?}"
            );
        }
        n += 1;
    }
    assert!(n >= 16, "{n}");
}
