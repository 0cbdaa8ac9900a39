//! Recovery of damaged GeoJSON: non-standard `NaN`/`Infinity` tokens read as `null`, and a
//! tolerant scan of a truncated or malformed FeatureCollection that processes every
//! complete feature and rejects the others with their line.

use super::feature::Ctx;
use super::geojson::{geojson_feature, json_error_fr, json_problem_fr};
use super::{ReadError, ReadOptions, ReadOutput};
use crate::crs::Crs;
use serde_json::Value;

/// Replaces the bare tokens `NaN`, `Infinity`, `+Infinity` and `-Infinity` (outside
/// strings) by `null`; `None` when there are none.
pub(super) fn non_finite_to_null(text: &[u8]) -> Option<Vec<u8>> {
    const TOKENS: [&[u8]; 4] = [b"NaN", b"Infinity", b"-Infinity", b"+Infinity"];
    let mut out: Option<Vec<u8>> = None;
    let mut in_string = false;
    let mut i = 0;
    let mut copied = 0;
    while i < text.len() {
        let c = text[i];
        if in_string {
            match c {
                b'\\' => i += 1,
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        if c == b'"' {
            in_string = true;
            i += 1;
            continue;
        }
        let boundary_before = i == 0
            || matches!(
                text[i - 1],
                b'[' | b',' | b':' | b' ' | b'\t' | b'\n' | b'\r'
            );
        if boundary_before && matches!(c, b'N' | b'I' | b'-' | b'+') {
            if let Some(t) = TOKENS.iter().find(|t| text[i..].starts_with(t)) {
                let end = i + t.len();
                let boundary_after = text.get(end).is_none_or(|&b| {
                    matches!(b, b']' | b',' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
                });
                if boundary_after {
                    let o = out.get_or_insert_with(|| Vec::with_capacity(text.len() + 16));
                    o.extend_from_slice(&text[copied..i]);
                    o.extend_from_slice(b"null");
                    copied = end;
                    i = end;
                    continue;
                }
            }
        }
        i += 1;
    }
    let mut o = out?;
    o.extend_from_slice(&text[copied..]);
    Some(o)
}

/// What a tolerant scan of a damaged FeatureCollection finds: the complete top-level
/// members, and the byte ranges of the elements of its `features` array.
#[derive(Debug, Default)]
struct Scan {
    /// Complete top-level members other than `features`: (key, value range).
    members: Vec<(String, std::ops::Range<usize>)>,
    /// Complete elements of `features`.
    features: Vec<std::ops::Range<usize>>,
    /// Start of an element cut by the end of the file.
    cut_feature: Option<usize>,
    /// Whether the `features` array was found.
    has_features: bool,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// End (exclusive) of the string starting at `i` (a `"`), `None` when cut.
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < b.len() {
        match b[j] {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
    None
}

/// End (exclusive) of the value starting at `i`, following only strings and nesting (the
/// content is checked later by the parser); `None` when the file ends first.
fn value_end(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => string_end(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            while j < b.len() {
                match b[j] {
                    b'"' => {
                        j = string_end(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            None
        }
        _ => {
            let mut j = i;
            while j < b.len() && !matches!(b[j], b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r')
            {
                j += 1;
            }
            // A stray `]` or `}` is taken as a one-byte (malformed) value, so that the scan
            // always moves on.
            let j = j.max(i + 1);
            // A scalar running into the end of the file may have been cut.
            (j < b.len()).then_some(j)
        }
    }
}

fn scan_feature_collection(b: &[u8]) -> Scan {
    let mut scan = Scan::default();
    let mut i = skip_ws(b, 0);
    if b.get(i) != Some(&b'{') {
        return scan;
    }
    i += 1;
    loop {
        i = skip_ws(b, i);
        match b.get(i) {
            None | Some(b'}') => return scan,
            Some(b',') => {
                i += 1;
                continue;
            }
            Some(b'"') => {}
            Some(_) => return scan,
        }
        let Some(key_end) = string_end(b, i) else {
            return scan;
        };
        let key: String = serde_json::from_slice(&b[i..key_end]).unwrap_or_default();
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return scan;
        }
        i = skip_ws(b, i + 1);
        if key == "features" && b.get(i) == Some(&b'[') {
            scan.has_features = true;
            i += 1;
            loop {
                i = skip_ws(b, i);
                match b.get(i) {
                    None => return scan,
                    Some(b']') => {
                        i += 1;
                        break;
                    }
                    Some(b',') => {
                        i += 1;
                        continue;
                    }
                    Some(_) => {}
                }
                match value_end(b, i) {
                    Some(end) => {
                        scan.features.push(i..end);
                        i = end;
                    }
                    None => {
                        scan.cut_feature = Some(i);
                        return scan;
                    }
                }
            }
        } else {
            match value_end(b, i) {
                Some(end) => {
                    scan.members.push((key, i..end));
                    i = end;
                }
                None => return scan,
            }
        }
    }
}

/// Line (1-based) of byte offset `at`.
fn line_of(b: &[u8], at: usize) -> usize {
    1 + b[..at.min(b.len())].iter().filter(|&&c| c == b'\n').count()
}

/// Reads what can be read of a FeatureCollection that does not parse as a whole; `None`
/// when not a single feature can be delimited.
pub(super) fn salvage_feature_collection(
    text: &[u8],
    opts: &ReadOptions,
    err: &serde_json::Error,
    mut warnings: Vec<String>,
) -> Result<Option<ReadOutput>, ReadError> {
    let scan = scan_feature_collection(text);
    if !scan.has_features || (scan.features.is_empty() && scan.cut_feature.is_none()) {
        return Ok(None);
    }
    let member = |name: &str| -> Option<Value> {
        scan.members
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, r)| serde_json::from_slice(&text[r.clone()]).ok())
    };
    if let Some(t) = member("type") {
        let t = t.as_str().unwrap_or("");
        if t != "FeatureCollection" {
            return Err(ReadError::GeoJson(format!(
                "type « {t} » inattendu : une FeatureCollection est attendue"
            )));
        }
    }
    let crs_member = member("crs");
    let crs = match opts.crs {
        Some(c) if crs_member.is_none() => c,
        _ => Crs::from_geojson_crs(crs_member.as_ref())?,
    };
    let complete = scan.features.len();
    warnings.insert(
        0,
        format!(
            "{} : {} entité(s) complète(s) ont pu être délimitées et ont été traitées{}",
            json_error_fr(err),
            complete,
            if scan.cut_feature.is_some() {
                " ; la suivante, coupée par la fin du fichier, est rejetée"
            } else {
                ""
            }
        ),
    );
    let mut ctx = Ctx::new(opts, crs)?;
    ctx.out.report.warnings = warnings;
    for (i, r) in scan.features.iter().enumerate() {
        let n = i + 1;
        match serde_json::from_slice::<Value>(&text[r.clone()]) {
            Ok(v) => geojson_feature(&mut ctx, n, v),
            Err(e) => {
                let line = line_of(text, r.start) + e.line() - 1;
                ctx.reject(
                    n,
                    format!(
                        "entité illisible, JSON mal formé à la ligne {line} : {}",
                        json_problem_fr(&e)
                    ),
                );
            }
        }
    }
    if let Some(start) = scan.cut_feature {
        ctx.reject(
            complete + 1,
            format!(
                "entité coupée par la fin du fichier (elle commence à la ligne {} ; le fichier s'arrête à la ligne {}) : fichier tronqué",
                line_of(text, start),
                line_of(text, text.len())
            ),
        );
    }
    Ok(Some(ctx.out))
}
