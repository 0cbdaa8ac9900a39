//! Every expectation of `tests/fixtures/ban_fixture_expected.csv` is met by
//! the geocoder over `tests/fixtures/ban_fixture.csv`.

use quartiers_io::ban::{AddressIndex, Precision};

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
        let r = ix
            .geocode(query)
            .unwrap_or_else(|| panic!("no result for {query}"));
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
