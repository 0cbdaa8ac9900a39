//! How to read a CSV file, guessed from its first bytes: binary content rejected
//! with a French message, encoding, separator and line terminator.

use std::io::{self, Read};

use super::TableError;

/// Text encoding of a CSV input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum TextEncoding {
    /// UTF-8 without byte order mark.
    Utf8,
    /// UTF-8 starting with the byte order mark `EF BB BF` (Excel's "CSV UTF-8").
    Utf8Bom,
    /// Windows-1252 (Excel's default "CSV (séparateur : point-virgule)" in France).
    Windows1252,
}

impl TextEncoding {
    /// French name for messages.
    pub fn label(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "UTF-8",
            TextEncoding::Utf8Bom => "UTF-8 (avec BOM)",
            TextEncoding::Windows1252 => "Windows-1252",
        }
    }
}

/// Result of [`sniff_csv`]: how to read a CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CsvDialect {
    /// Field separator: `b','`, `b';'` or `b'\t'` (or `b'|'`).
    pub separator: u8,
    /// Detected encoding.
    pub encoding: TextEncoding,
    /// Physical line terminator: `b'\n'` (also covers CRLF) or `b'\r'` (old Mac files).
    pub line_terminator: u8,
}

/// French name of a separator, for messages (« point-virgule », ...).
pub fn separator_label(sep: u8) -> &'static str {
    match sep {
        b',' => "virgule",
        b';' => "point-virgule",
        b'\t' => "tabulation",
        b'|' => "barre verticale",
        _ => "autre",
    }
}

const SAMPLE_LINES: usize = 50;

/// Checks that `sample` (the first bytes of a file) looks like text, and
/// returns a French explanation otherwise.
pub fn check_text(sample: &[u8]) -> Result<(), TableError> {
    let kind = if sample.starts_with(b"PK\x03\x04") {
        Some("un classeur Excel (.xlsx) ou une archive ZIP renommé(e) en .csv : déposez-le avec l'extension .xlsx ou enregistrez-le au format CSV")
    } else if sample.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        Some("un classeur Excel 97-2003 (.xls), format non pris en charge : enregistrez-le au format .xlsx ou CSV")
    } else if sample.starts_with(b"%PDF") {
        Some("un document PDF")
    } else if sample.starts_with(&[0x1F, 0x8B]) {
        Some("un fichier compressé (gzip) : décompressez-le avant de le déposer")
    } else if sample.starts_with(&[0xFF, 0xFE]) || sample.starts_with(&[0xFE, 0xFF]) {
        Some("un texte encodé en UTF-16, non pris en charge : enregistrez-le en « CSV UTF-8 »")
    } else if sample.starts_with(b"\x89PNG") || sample.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("une image")
    } else {
        None
    };
    if let Some(kind) = kind {
        return Err(TableError::NotText(format!(
            "Ce fichier n'est pas un fichier CSV : il s'agit d'{kind}."
        )));
    }
    let controls = sample
        .iter()
        .filter(|&&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0C | 0x1A))
        .count();
    if sample.contains(&0) || controls * 100 > sample.len().max(1) {
        return Err(TableError::NotText(
            "Ce fichier n'est pas un fichier CSV : il contient des données binaires. \
             Enregistrez votre tableau au format CSV (séparateur point-virgule ou virgule) ou XLSX."
                .to_string(),
        ));
    }
    Ok(())
}

/// Guesses separator, encoding and line terminator from the first bytes of
/// a CSV file (64 KiB is plenty). Rejects binary content.
pub fn sniff_csv(sample: &[u8]) -> Result<CsvDialect, TableError> {
    check_text(sample)?;
    let (body, bom) = match sample.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, true),
        None => (sample, false),
    };
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(TableError::Empty);
    }
    let encoding = if bom {
        TextEncoding::Utf8Bom
    } else {
        match std::str::from_utf8(body) {
            Ok(_) => TextEncoding::Utf8,
            // A multi-byte character cut by the end of the sample is fine.
            Err(e) if e.error_len().is_none() => TextEncoding::Utf8,
            Err(_) => TextEncoding::Windows1252,
        }
    };
    let line_terminator = if !body.contains(&b'\n') && body.contains(&b'\r') {
        b'\r'
    } else {
        b'\n'
    };
    let separator = guess_separator(body, line_terminator);
    Ok(CsvDialect {
        separator,
        encoding,
        line_terminator,
    })
}

/// Counts, per candidate separator, occurrences outside double quotes in the
/// first lines; picks the candidate whose count is the same non-zero number
/// on most lines (ties: larger count, then `;` before `,` before tab).
fn guess_separator(body: &[u8], term: u8) -> u8 {
    const CANDIDATES: [u8; 4] = [b';', b',', b'\t', b'|'];
    let mut counts: Vec<[usize; 4]> = Vec::new();
    let mut cur = [0usize; 4];
    let mut in_quotes = false;
    let mut line_has_content = false;
    for &b in body {
        if b == b'"' {
            in_quotes = !in_quotes;
            line_has_content = true;
        } else if b == term && !in_quotes {
            if line_has_content {
                counts.push(cur);
            }
            cur = [0; 4];
            line_has_content = false;
            if counts.len() >= SAMPLE_LINES {
                break;
            }
        } else if !in_quotes {
            if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                cur[i] += 1;
            }
            if !b.is_ascii_whitespace() {
                line_has_content = true;
            }
        }
    }
    if line_has_content && counts.len() < SAMPLE_LINES {
        counts.push(cur);
    }
    let Some(header) = counts.first() else {
        return b';';
    };
    let mut best: Option<(usize, usize, usize)> = None; // (consistent lines, header count, idx)
    for i in 0..CANDIDATES.len() {
        let h = header[i];
        if h == 0 {
            continue;
        }
        let consistent = counts.iter().filter(|c| c[i] == h).count();
        let key = (consistent, h, i);
        let better = match best {
            None => true,
            Some((bc, bh, _)) => consistent > bc || (consistent == bc && h > bh),
        };
        if better {
            best = Some(key);
        }
    }
    match best {
        Some((_, _, i)) => CANDIDATES[i],
        // Single-column file: pick a separator absent from the header so the
        // whole line stays one field.
        None => CANDIDATES
            .iter()
            .zip(header.iter())
            .find(|(_, &count)| count == 0)
            .map_or(b';', |(&c, _)| c),
    }
}

/// Reads the first 64 KiB of `input` (or less at end of file), so that the
/// caller can sniff it and then chain it back in front of the rest.
pub fn read_sample<R: Read>(input: &mut R, max: usize) -> io::Result<Vec<u8>> {
    let mut sample = Vec::with_capacity(max.min(1 << 16));
    input.by_ref().take(max as u64).read_to_end(&mut sample)?;
    Ok(sample)
}
