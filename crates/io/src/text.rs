//! Text helpers shared by column detection and the address geocoder:
//! accent folding, tokenisation and decimal number parsing.
//!
//! Accent removal relies on `unicode-normalization` (NFKD decomposition then
//! dropping combining marks) instead of a hand-written table, so every Latin
//! letter with diacritics is handled; only ligatures (œ, æ, ß) that NFKD does
//! not decompose are mapped by hand.

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

/// Folds `s` to lowercase ASCII-ish text: accents removed, ligatures
/// expanded, every character that is not a letter or a digit replaced by a
/// single space, leading/trailing spaces trimmed.
///
/// ```
/// assert_eq!(quartiers_io::text::fold("Rue de l'Abbé-Lemire, n°12"), "rue de l abbe lemire n 12");
/// ```
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    fold_into(s, &mut out);
    out
}

/// Same as [`fold`] but appends into a caller-supplied buffer (which is
/// cleared first), to avoid allocations in hot loops.
pub fn fold_into(s: &str, out: &mut String) {
    out.clear();
    let mut pending_space = false;
    let push = |c: char, out: &mut String, pending_space: &mut bool| {
        if *pending_space && !out.is_empty() {
            out.push(' ');
        }
        *pending_space = false;
        out.push(c);
    };
    // Fast path for ASCII input: no decomposition needed.
    if s.is_ascii() {
        for b in s.bytes() {
            if b.is_ascii_alphanumeric() {
                push(b.to_ascii_lowercase() as char, out, &mut pending_space);
            } else {
                pending_space = true;
            }
        }
        return;
    }
    // Lower-cased before the decomposition: some capitals lower-case to a letter that
    // decomposes or is mapped below (`ẞ` → `ß` → `ss`, `İ` → `i` + a combining dot).
    for c in s.to_lowercase().nfkd() {
        if is_combining_mark(c) {
            continue;
        }
        match c {
            'œ' | 'Œ' => {
                push('o', out, &mut pending_space);
                push('e', out, &mut pending_space);
            }
            'æ' | 'Æ' => {
                push('a', out, &mut pending_space);
                push('e', out, &mut pending_space);
            }
            'ß' => {
                push('s', out, &mut pending_space);
                push('s', out, &mut pending_space);
            }
            c if c.is_alphanumeric() => {
                for l in c.to_lowercase() {
                    push(l, out, &mut pending_space);
                }
            }
            _ => pending_space = true,
        }
    }
}

/// Normalises a column header for detection: [`fold`]ed, words joined with
/// `_` (`"Code Postal"` → `"code_postal"`, `"N°"` → `"n"`).
pub fn header_key(s: &str) -> String {
    fold(s).replace(' ', "_")
}

/// Parses a decimal number written with `,` or `.` as decimal separator,
/// tolerating surrounding spaces and thousands separators (space,
/// no-break space, narrow no-break space, or the other punctuation sign when
/// both are present: `1.234,5`, `1,234.5`). Returns `None` for empty,
/// non-numeric or non-finite values.
///
/// Hand-written because the only allocation-free alternative would be a
/// locale crate; the actual conversion is delegated to `str::parse::<f64>`.
///
/// ```
/// use quartiers_io::text::parse_decimal;
/// assert_eq!(parse_decimal(" 3,0573 "), Some(3.0573));
/// assert_eq!(parse_decimal("704 123,5"), Some(704123.5));
/// assert_eq!(parse_decimal("abc"), None);
/// ```
pub fn parse_decimal(s: &str) -> Option<f64> {
    let s = s.trim();
    if s.is_empty() || s.len() > 64 {
        return None;
    }
    // Coordinates in files are nearly all plain decimals.
    if let Some(v) = short_plain_decimal(s.as_bytes()) {
        return Some(v);
    }
    // Longer numbers and exponents written with '.' only.
    if let Ok(v) = s.parse::<f64>() {
        if v.is_finite()
            && s.bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        {
            return Some(v);
        }
    }
    let last_comma = s.rfind(',');
    let last_dot = s.rfind('.');
    let decimal = match (last_comma, last_dot) {
        (Some(c), Some(d)) => Some(if c > d { ',' } else { '.' }),
        (Some(_), None) => {
            // Several commas and no dot: "1,234,567" is a thousands grouping.
            if s.matches(',').count() > 1 {
                None
            } else {
                Some(',')
            }
        }
        (None, Some(_)) => {
            if s.matches('.').count() > 1 {
                None
            } else {
                Some('.')
            }
        }
        (None, None) => None,
    };
    let mut buf = [0u8; 64];
    let mut n = 0;
    for c in s.chars() {
        let b = match c {
            '0'..='9' | '-' | '+' | 'e' | 'E' => c as u8,
            ',' | '.' => {
                if Some(c) == decimal {
                    b'.'
                } else {
                    continue;
                }
            }
            ' ' | '\u{a0}' | '\u{202f}' | '\'' => continue,
            _ => return None,
        };
        buf[n] = b;
        n += 1;
    }
    let t = std::str::from_utf8(&buf[..n]).ok()?;
    let v: f64 = t.parse().ok()?;
    v.is_finite().then_some(v)
}

/// Exact powers of ten up to 10^15 (each one an `f64` without rounding).
const POW10: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// A plain decimal of at most 15 digits (an optional sign, digits, at most one `.` or
/// `,` as the decimal separator), in one pass; `None` for anything else, which
/// [`parse_decimal`] then reads the general way.
///
/// Clinger's fast path: the digits make an integer below 10^15, exact in an `f64`, and
/// so is the power of ten it is divided by, so the one IEEE division gives the correctly
/// rounded value, the same bits as `str::parse`. Written here rather than taken from a
/// crate because it must accept the decimal comma of French files (`3,064767`), which
/// `str::parse` refuses, so that the general path below tried it, then scanned, copied
/// and parsed it again. Measured through `quartiers locate` on 5 million `;` rows with
/// decimal commas: 2.40-2.55 s before, 1.74-2.06 s after.
fn short_plain_decimal(s: &[u8]) -> Option<f64> {
    let (negative, body) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let mut mantissa = 0u64;
    let mut digits = 0usize;
    let mut fraction: Option<usize> = None;
    for &b in body {
        match b {
            b'0'..=b'9' => {
                mantissa = mantissa * 10 + u64::from(b - b'0');
                digits += 1;
                if digits > 15 {
                    return None;
                }
                if let Some(f) = fraction.as_mut() {
                    *f += 1;
                }
            }
            b'.' | b',' if fraction.is_none() => fraction = Some(0),
            _ => return None,
        }
    }
    if digits == 0 {
        return None;
    }
    let v = mantissa as f64 / POW10[fraction.unwrap_or(0)];
    Some(if negative { -v } else { v })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_removes_accents_and_punctuation() {
        assert_eq!(fold("Évry-Courcouronnes"), "evry courcouronnes");
        assert_eq!(fold("  LIÉVIN  "), "lievin");
        assert_eq!(fold("Cœur de Ville"), "coeur de ville");
        assert_eq!(fold("ÇA;va"), "ca va");
        assert_eq!(fold(""), "");
        assert_eq!(fold("---"), "");
        assert_eq!(fold("STRAẞE"), "strasse");
        assert_eq!(fold("İzmir"), "izmir");
        assert_eq!(fold(&fold("ẞ")), fold("ẞ"));
    }

    #[test]
    fn header_keys() {
        assert_eq!(header_key("Code Postal"), "code_postal");
        assert_eq!(header_key("N°"), "n");
        assert_eq!(header_key(" Longitude (WGS84) "), "longitude_wgs84");
        assert_eq!(header_key("\u{feff}lat"), "lat");
    }

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("50.6292"), Some(50.6292));
        assert_eq!(parse_decimal("50,6292"), Some(50.6292));
        assert_eq!(parse_decimal("-1,5"), Some(-1.5));
        assert_eq!(parse_decimal("1.234,5"), Some(1234.5));
        assert_eq!(parse_decimal("1,234.5"), Some(1234.5));
        assert_eq!(parse_decimal("7\u{a0}041\u{a0}234"), Some(7041234.0));
        assert_eq!(parse_decimal("1,234,567"), Some(1234567.0));
        assert_eq!(parse_decimal(""), None);
        assert_eq!(parse_decimal("  "), None);
        assert_eq!(parse_decimal("NaN"), None);
        assert_eq!(parse_decimal("inf"), None);
        assert_eq!(parse_decimal("12 rue"), None);
        assert_eq!(parse_decimal("1e3"), Some(1000.0));
        assert_eq!(parse_decimal("3,"), Some(3.0));
        assert_eq!(parse_decimal(",5"), Some(0.5));
        assert_eq!(
            parse_decimal("-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(parse_decimal("."), None);
        assert_eq!(parse_decimal("-"), None);
        assert_eq!(parse_decimal("1.2.3"), Some(123.0));
        assert_eq!(parse_decimal("1,2,3"), Some(123.0));
    }

    /// The general reading of a plain decimal: its comma made a point, then `str::parse`.
    fn parsed_by_std(s: &str) -> f64 {
        s.replace(',', ".").parse().unwrap()
    }

    #[test]
    fn short_plain_decimals_have_the_bits_of_str_parse() {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut checked = 0;
        for _ in 0..200_000 {
            // Coordinates as files write them: up to 3 integer and 1 to 12 decimal digits.
            let r = next();
            let int = r % 1000;
            let places = (r >> 10) % 12 + 1;
            let frac = (r >> 20) % 10u64.pow(places as u32);
            let sign = if r >> 63 == 1 { "-" } else { "" };
            let dot = format!("{sign}{int}.{frac:0width$}", width = places as usize);
            for text in [dot.clone(), dot.replace('.', ",")] {
                let fast = short_plain_decimal(text.as_bytes());
                if int.to_string().len() + places as usize <= 15 {
                    let v = fast.unwrap_or_else(|| panic!("{text} not read"));
                    assert_eq!(v.to_bits(), parsed_by_std(&text).to_bits(), "{text}");
                    checked += 1;
                } else {
                    assert_eq!(fast, None, "{text}");
                }
                assert_eq!(
                    parse_decimal(&text).map(f64::to_bits),
                    Some(parsed_by_std(&text).to_bits()),
                    "{text}"
                );
            }
        }
        assert!(checked > 300_000);
        // Edges: the most digits taken, one more, and exact halfway cases.
        for text in [
            "999999999999999",
            "0,000000000000001",
            "123456789012345",
            "9007199254740993",
            "0.1",
            "2.5",
            "-180,000000000000",
            "00000000000000.5",
        ] {
            assert_eq!(
                parse_decimal(text).map(f64::to_bits),
                Some(parsed_by_std(text).to_bits()),
                "{text}"
            );
        }
        assert_eq!(short_plain_decimal(b"9007199254740993"), None);
    }
}
