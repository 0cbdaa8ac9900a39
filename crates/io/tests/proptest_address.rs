//! Property tests of address normalisation and of the geocoder.

use proptest::prelude::*;
use quartiers_io::ban::{
    normalize_address, normalize_tokens, parse_query, AddressIndex, MIN_SCORE,
};

fn index() -> AddressIndex {
    AddressIndex::load_paths(&[concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/ban_fixture.csv"
    )])
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, .. ProptestConfig::default() })]

    #[test]
    fn normalisation_is_idempotent_and_ascii_clean(s in "\\PC{0,60}") {
        let once = normalize_address(&s);
        prop_assert_eq!(normalize_address(&once), once.clone());
        for t in normalize_tokens(&s) {
            prop_assert!(!t.is_empty());
            prop_assert!(t.chars().all(|c| c.is_alphanumeric() && c.to_lowercase().eq([c])), "{:?}", t);
        }
    }

    #[test]
    fn french_like_addresses(
        num in proptest::option::of(1u32..2000),
        rep in prop::sample::select(vec!["", "bis", "B", "ter", "T", "a"]),
        typ in prop::sample::select(vec!["rue", "R.", "Bd", "av", "Allée", "PL", "chem.", "imp"]),
        name in "[A-Za-zéèêàç' -]{1,30}",
        cp in proptest::option::of(10000u32..99999),
        commune in "[A-Za-zéè -]{0,20}",
    ) {
        let text = format!(
            "{} {} {} {} {} {}",
            num.map(|n| n.to_string()).unwrap_or_default(), rep, typ, name,
            cp.map(|c| c.to_string()).unwrap_or_default(), commune
        );
        let q = parse_query(&text);
        if num.is_some() {
            prop_assert_eq!(q.numero, num);
        }
        if let Some(c) = cp {
            prop_assert_eq!(q.code_postal, Some(c.to_string()));
        }
    }

    #[test]
    fn geocoder_never_panics_and_scores_in_range(s in "\\PC{0,80}") {
        let ix = index();
        let g = ix.geocode(&s);
        if let Some(r) = g.candidate() {
            prop_assert!((0.0..=1.0).contains(&r.score));
            prop_assert!(r.lon.is_finite() && r.lat.is_finite());
        }
        // Whatever is located clears the bar; whatever is not says why, in French.
        match g.result() {
            Some(r) => prop_assert!(r.score >= MIN_SCORE, "{:?}", r),
            None => prop_assert!(g.message().unwrap().starts_with("adresse introuvable")),
        }
    }
}
