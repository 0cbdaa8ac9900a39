//! Reading tabular input files (CSV and XLSX) for batch location.
//!
//! * [`sniff_csv`] guesses the separator (`,` `;` tab), the encoding
//!   (UTF-8 with or without BOM, otherwise Windows-1252) and rejects binary
//!   files renamed `.csv` with a French message.
//! * [`CsvRecords`] streams records one at a time (never the whole file),
//!   reports unclosed quotes per line and keeps going.
//! * [`detect_columns`] finds the location columns (lon/lat, Lambert-93 x/y,
//!   address parts, or the national geocoder's CSV output); a
//!   [`ColumnSpec`] given by the user overrides detection.
//! * [`ColumnMapping::interpret`] turns one row into a [`RowInput`].
//! * [`XlsxTable`] reads one sheet of an XLSX workbook through `calamine`.

use std::collections::VecDeque;

use std::io::{self, BufRead, Read};

use crate::text::{header_key, parse_decimal};

/// Input/output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableFormat {
    /// Delimited text.
    Csv,
    /// Office Open XML workbook.
    Xlsx,
}

impl TableFormat {
    /// Guesses the format from the first bytes of a file (`PK\x03\x04`, the
    /// ZIP signature of XLSX → XLSX); when no byte is available, from the
    /// file name's extension. Anything else is CSV (and [`sniff_csv`] will
    /// reject non-text content with a French message).
    pub fn detect(first_bytes: &[u8], file_name: Option<&str>) -> TableFormat {
        if first_bytes.starts_with(b"PK\x03\x04") {
            return TableFormat::Xlsx;
        }
        let xlsx_name = file_name.is_some_and(|n| n.to_ascii_lowercase().ends_with(".xlsx"));
        if first_bytes.is_empty() && xlsx_name {
            TableFormat::Xlsx
        } else {
            TableFormat::Csv
        }
    }
}

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

/// Errors that stop the processing of a whole file. Row-level problems are
/// not errors: they are reported per line in the summary.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// Read or write failure.
    #[error("erreur de lecture ou d'écriture : {0}")]
    Io(#[from] io::Error),
    /// The file is not text (binary file renamed `.csv`, PDF, old `.xls`...).
    #[error("{0}")]
    NotText(String),
    /// Nothing but whitespace.
    #[error("le fichier est vide")]
    Empty,
    /// The workbook could not be opened or read.
    #[error("classeur Excel illisible : {0}")]
    Xlsx(String),
    /// The chosen sheet does not exist.
    #[error("la feuille « {name} » n'existe pas (feuilles du classeur : {available})")]
    SheetNotFound {
        /// Requested sheet.
        name: String,
        /// Sheets of the workbook, comma separated.
        available: String,
    },
    /// An explicitly named column does not exist.
    #[error("colonne « {name} » introuvable (colonnes du fichier : {available})")]
    ColumnNotFound {
        /// Requested column.
        name: String,
        /// Header of the file, comma separated.
        available: String,
    },
    /// No location column could be detected.
    #[error("{0}")]
    NoLocationColumns(String),
    /// The output workbook could not be written.
    #[error("écriture du classeur Excel impossible : {0}")]
    XlsxWrite(String),
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

/// A problem detected while splitting a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordProblem {
    /// A field opens a double quote that is never closed (within
    /// [`CsvRecords::MAX_CONTINUATION_LINES`] lines or before the end of the
    /// file). The line was re-read without quote handling.
    UnclosedQuote,
}

/// One CSV record, borrowed from the [`CsvRecords`] reader.
#[derive(Debug)]
pub struct Record<'a> {
    /// Physical line number (1-based) where the record starts.
    pub line: u64,
    /// Problem met while reading it, if any.
    pub problem: Option<RecordProblem>,
    text: &'a str,
    ends: &'a [usize],
    raw: &'a [u8],
    raw_is_utf8: bool,
}

impl<'a> Record<'a> {
    /// Number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// `true` when the record has no field.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`, decoded to UTF-8, or `None` past the end.
    pub fn get(&self, i: usize) -> Option<&'a str> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        Some(&self.text[start..end])
    }

    /// Iterates over the decoded fields.
    pub fn iter(&self) -> impl Iterator<Item = &'a str> + '_ {
        (0..self.len()).map(move |i| self.get(i).unwrap_or(""))
    }

    /// Original bytes of the record without its final line terminator, when
    /// they are valid UTF-8 and can be copied unchanged into a UTF-8 output
    /// with the same separator.
    pub fn raw_utf8(&self) -> Option<&'a [u8]> {
        self.raw_is_utf8.then_some(self.raw)
    }
}

/// Owned copies of consecutive records (one text arena for all), so that a batch of rows
/// can be located in parallel while the reader goes on; buffers are reused between
/// batches.
#[derive(Debug, Default)]
pub struct RecordChunk {
    text: String,
    ends: Vec<usize>,
    raw: Vec<u8>,
    entries: Vec<ChunkEntry>,
}

#[derive(Debug, Clone, Copy)]
struct ChunkEntry {
    line: u64,
    problem: Option<RecordProblem>,
    text: (usize, usize),
    ends: (usize, usize),
    raw: (usize, usize),
    raw_is_utf8: bool,
}

impl RecordChunk {
    /// Appends a copy of `record`.
    pub fn push(&mut self, record: &Record<'_>) {
        let text = (self.text.len(), self.text.len() + record.text.len());
        self.text.push_str(record.text);
        let ends = (self.ends.len(), self.ends.len() + record.ends.len());
        self.ends.extend_from_slice(record.ends);
        let raw = (self.raw.len(), self.raw.len() + record.raw.len());
        self.raw.extend_from_slice(record.raw);
        self.entries.push(ChunkEntry {
            line: record.line,
            problem: record.problem,
            text,
            ends,
            raw,
            raw_is_utf8: record.raw_is_utf8,
        });
    }

    /// Record `i` (panics past the end).
    pub fn get(&self, i: usize) -> Record<'_> {
        let e = self.entries[i];
        Record {
            line: e.line,
            problem: e.problem,
            text: &self.text[e.text.0..e.text.1],
            ends: &self.ends[e.ends.0..e.ends.1],
            raw: &self.raw[e.raw.0..e.raw.1],
            raw_is_utf8: e.raw_is_utf8,
        }
    }

    /// Number of records held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when no record is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Forgets the records, keeping the buffers.
    pub fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
        self.raw.clear();
        self.entries.clear();
    }
}

/// Streaming CSV reader working on physical lines, built on `csv-core`'s
/// state machine (quoting, doubled quotes) so that only one record is held
/// in memory at a time, buffers are reused between records, and a quote
/// left open damages one line instead of swallowing the rest of the file
/// (which is what a plain CSV parser does).
///
/// This is a lending reader (records borrow the reader), hence
/// [`CsvRecords::next_record`] instead of `Iterator`.
pub struct CsvRecords<R> {
    src: R,
    dialect: CsvDialect,
    quoted: csv_core::Reader,
    unquoted: csv_core::Reader,
    /// Lines pushed back after an unclosed-quote recovery: (line number, bytes).
    pending: VecDeque<(u64, Vec<u8>)>,
    line_buf: Vec<u8>,
    next_line_no: u64,
    raw: Vec<u8>,
    line_starts: Vec<(usize, u64)>,
    out: Vec<u8>,
    out_len: usize,
    ends: Vec<usize>,
    ends_len: usize,
    text: String,
    text_ends: Vec<usize>,
    first_line: bool,
    eof: bool,
    expected: Option<usize>,
}

/// Runs a csv-core reader over `input`, growing the output buffers when
/// needed. Returns `true` when a record is complete, `false` when more input
/// is needed (an empty `input` means end of file, which always completes).
fn run_core(
    core: &mut csv_core::Reader,
    mut input: &[u8],
    out: &mut Vec<u8>,
    out_len: &mut usize,
    ends: &mut Vec<usize>,
    ends_len: &mut usize,
) -> bool {
    loop {
        let (res, nin, nout, nend) =
            core.read_record(input, &mut out[*out_len..], &mut ends[*ends_len..]);
        input = &input[nin..];
        *out_len += nout;
        *ends_len += nend;
        match res {
            csv_core::ReadRecordResult::InputEmpty => {
                if input.is_empty() {
                    return false;
                }
            }
            csv_core::ReadRecordResult::OutputFull => {
                let n = out.len() * 2;
                out.resize(n, 0);
            }
            csv_core::ReadRecordResult::OutputEndsFull => {
                let n = ends.len() * 2;
                ends.resize(n, 0);
            }
            csv_core::ReadRecordResult::Record | csv_core::ReadRecordResult::End => return true,
        }
    }
}

impl<R: BufRead> CsvRecords<R> {
    /// Reads the next record, or `None` at end of input. Blank lines are
    /// skipped (they are not records).
    pub fn next_record(&mut self) -> Option<io::Result<Record<'_>>> {
        match self.advance() {
            Ok(Some((line, problem, raw_is_utf8))) => {
                let raw_len = self.raw.len().saturating_sub(1);
                Some(Ok(Record {
                    line,
                    problem,
                    text: &self.text,
                    ends: &self.text_ends,
                    raw: &self.raw[..raw_len],
                    raw_is_utf8,
                }))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn advance(&mut self) -> io::Result<Option<(u64, Option<RecordProblem>, bool)>> {
        let term = self.dialect.line_terminator;
        // First non-blank line.
        let first_no = loop {
            match self.read_line()? {
                None => return Ok(None),
                Some(no) => {
                    if !self.line_buf.iter().all(|b| b.is_ascii_whitespace()) {
                        break no;
                    }
                }
            }
        };
        self.raw.clear();
        self.line_starts.clear();
        self.raw.extend_from_slice(&self.line_buf);
        self.raw.push(term);
        self.line_starts.push((0, first_no));
        self.out_len = 0;
        self.ends_len = 0;
        self.quoted.reset();
        let mut done = run_core(
            &mut self.quoted,
            &self.raw,
            &mut self.out,
            &mut self.out_len,
            &mut self.ends,
            &mut self.ends_len,
        );
        let mut closed_by_eof = false;
        while !done {
            if self.line_starts.len() > Self::MAX_CONTINUATION_LINES {
                break;
            }
            match self.read_line()? {
                Some(no) => {
                    let start = self.raw.len();
                    self.raw.extend_from_slice(&self.line_buf);
                    self.raw.push(term);
                    self.line_starts.push((start, no));
                    done = run_core(
                        &mut self.quoted,
                        &self.raw[start..],
                        &mut self.out,
                        &mut self.out_len,
                        &mut self.ends,
                        &mut self.ends_len,
                    );
                }
                None => {
                    run_core(
                        &mut self.quoted,
                        &[],
                        &mut self.out,
                        &mut self.out_len,
                        &mut self.ends,
                        &mut self.ends_len,
                    );
                    closed_by_eof = true;
                    done = true;
                }
            }
        }
        let multi = self.line_starts.len() > 1;
        let unclosed =
            !done || closed_by_eof || (multi && self.expected.is_some_and(|n| n != self.ends_len));
        let mut problem = None;
        if unclosed {
            problem = Some(RecordProblem::UnclosedQuote);
            // Push back the continuation lines, keep only the first one and
            // re-read it without quote handling.
            for i in (1..self.line_starts.len()).rev() {
                let (start, no) = self.line_starts[i];
                let end = self.line_starts.get(i + 1).map_or(self.raw.len(), |x| x.0);
                let bytes = self.raw[start..end - 1].to_vec();
                self.pending.push_front((no, bytes));
            }
            let first_end = self.line_starts.get(1).map_or(self.raw.len(), |x| x.0);
            self.raw.truncate(first_end);
            self.line_starts.truncate(1);
            self.out_len = 0;
            self.ends_len = 0;
            self.unquoted.reset();
            run_core(
                &mut self.unquoted,
                &self.raw,
                &mut self.out,
                &mut self.out_len,
                &mut self.ends,
                &mut self.ends_len,
            );
        }
        let raw_is_utf8 = self.decode() && problem.is_none();
        Ok(Some((first_no, problem, raw_is_utf8)))
    }

    /// Decodes the fields of `out` into `text`/`text_ends`. Returns `true`
    /// when the original bytes were already valid UTF-8 (no conversion).
    fn decode(&mut self) -> bool {
        let out = &self.out[..self.out_len];
        let ends = &self.ends[..self.ends_len];
        self.text.clear();
        self.text_ends.clear();
        let whole = match self.dialect.encoding {
            TextEncoding::Windows1252 => {
                if out.is_ascii() {
                    std::str::from_utf8(out).ok()
                } else {
                    None
                }
            }
            _ => std::str::from_utf8(out)
                .ok()
                .filter(|s| ends.iter().all(|&e| s.is_char_boundary(e))),
        };
        if let Some(s) = whole {
            self.text.push_str(s);
            self.text_ends.extend_from_slice(ends);
            return true;
        }
        let mut start = 0;
        for &end in ends {
            let bytes = &out[start..end];
            match (self.dialect.encoding, std::str::from_utf8(bytes)) {
                (TextEncoding::Utf8 | TextEncoding::Utf8Bom, Ok(s)) => self.text.push_str(s),
                _ => {
                    let (cow, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes);
                    self.text.push_str(&cow);
                }
            }
            self.text_ends.push(self.text.len());
            start = end;
        }
        false
    }
}

/// Reads the first 64 KiB of `input` (or less at end of file), so that the
/// caller can sniff it and then chain it back in front of the rest.
pub fn read_sample<R: Read>(input: &mut R, max: usize) -> io::Result<Vec<u8>> {
    let mut sample = Vec::with_capacity(max.min(1 << 16));
    input.by_ref().take(max as u64).read_to_end(&mut sample)?;
    Ok(sample)
}

impl<R: BufRead> CsvRecords<R> {
    /// Maximum number of physical lines a quoted field may span before the
    /// quote is considered unclosed.
    pub const MAX_CONTINUATION_LINES: usize = 50;

    /// Creates a reader. A UTF-8 byte order mark at the start is skipped.
    pub fn new(src: R, dialect: CsvDialect) -> Self {
        let term = csv_core::Terminator::Any(dialect.line_terminator);
        let quoted = csv_core::ReaderBuilder::new()
            .delimiter(dialect.separator)
            .terminator(term)
            .build();
        let unquoted = csv_core::ReaderBuilder::new()
            .delimiter(dialect.separator)
            .terminator(term)
            .quoting(false)
            .build();
        CsvRecords {
            src,
            dialect,
            quoted,
            unquoted,
            pending: VecDeque::new(),
            line_buf: Vec::with_capacity(1024),
            next_line_no: 1,
            raw: Vec::with_capacity(1024),
            line_starts: Vec::with_capacity(4),
            out: vec![0; 1024],
            out_len: 0,
            ends: vec![0; 64],
            ends_len: 0,
            text: String::with_capacity(1024),
            text_ends: Vec::with_capacity(64),
            first_line: true,
            eof: false,
            expected: None,
        }
    }

    /// The dialect used.
    pub fn dialect(&self) -> CsvDialect {
        self.dialect
    }

    /// Sets the expected number of fields (usually the header's). A record
    /// spanning several lines through a quoted field is only accepted when it
    /// has this many fields; otherwise the quote is considered unclosed.
    pub fn set_expected_fields(&mut self, n: usize) {
        self.expected = Some(n);
    }

    /// Reads the next physical line (without terminator) into `line_buf`;
    /// returns its number, or `None` at end of input.
    fn read_line(&mut self) -> io::Result<Option<u64>> {
        if let Some((no, bytes)) = self.pending.pop_front() {
            self.line_buf.clear();
            self.line_buf.extend_from_slice(&bytes);
            return Ok(Some(no));
        }
        if self.eof {
            return Ok(None);
        }
        self.line_buf.clear();
        let n = self
            .src
            .read_until(self.dialect.line_terminator, &mut self.line_buf)?;
        if n == 0 {
            self.eof = true;
            return Ok(None);
        }
        if self.line_buf.last() == Some(&self.dialect.line_terminator) {
            self.line_buf.pop();
        }
        if self.dialect.line_terminator == b'\n' && self.line_buf.last() == Some(&b'\r') {
            self.line_buf.pop();
        }
        if self.first_line {
            self.first_line = false;
            if self.line_buf.starts_with(b"\xEF\xBB\xBF") {
                self.line_buf.drain(..3);
            }
        }
        let no = self.next_line_no;
        self.next_line_no += 1;
        Ok(Some(no))
    }
}

// ---------------------------------------------------------------------------
// Column detection
// ---------------------------------------------------------------------------

/// How the location columns are chosen. Anything but `Auto` overrides
/// detection. Column names are matched exactly first, then ignoring case,
/// accents and punctuation.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnSpec {
    /// Detect from the header.
    #[default]
    Auto,
    /// WGS84 longitude and latitude columns.
    LonLat {
        /// Longitude column name.
        lon: String,
        /// Latitude column name.
        lat: String,
    },
    /// Lambert-93 (EPSG:2154) x and y columns.
    Lambert93 {
        /// Easting column name.
        x: String,
        /// Northing column name.
        y: String,
    },
    /// Address columns, concatenated in this order with spaces.
    Address(Vec<String>),
}

/// Which columns hold a point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointColumns {
    /// WGS84 degrees.
    LonLat {
        /// Longitude column index.
        lon: usize,
        /// Latitude column index.
        lat: usize,
    },
    /// Lambert-93 metres.
    Lambert93 {
        /// x column index.
        x: usize,
        /// y column index.
        y: usize,
    },
    /// Columns merely named `x`/`y`: a row whose values fit in degree ranges
    /// (|x| ≤ 180, |y| ≤ 90) is read as WGS84, otherwise as Lambert-93.
    XyAuto {
        /// x column index.
        x: usize,
        /// y column index.
        y: usize,
    },
}

/// Role of an address column; the composed address follows this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AddressPart {
    /// Full address line (`adresse`).
    Full,
    /// House number (`numero`).
    Numero,
    /// Repetition index (`rep`: bis, ter...).
    Rep,
    /// Street type (`type_voie`).
    TypeVoie,
    /// Street name (`voie`, `nom_voie`, `rue`).
    Voie,
    /// Postcode (`code_postal`, `cp`).
    CodePostal,
    /// Commune name (`commune`, `ville`).
    Commune,
}

impl AddressPart {
    fn label(self) -> &'static str {
        match self {
            AddressPart::Full => "adresse",
            AddressPart::Numero => "numéro",
            AddressPart::Rep => "indice de répétition",
            AddressPart::TypeVoie => "type de voie",
            AddressPart::Voie => "voie",
            AddressPart::CodePostal => "code postal",
            AddressPart::Commune => "commune",
        }
    }
}

/// Columns of the national geocoding service's CSV output
/// (`latitude`, `longitude`, `result_score`, `result_label`, `result_status`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeocoderColumns {
    /// `result_score`.
    pub score: usize,
    /// `result_label`.
    pub label: Option<usize>,
    /// `result_status` (`ok`, `not-found`, `skipped`...).
    pub status: Option<usize>,
}

/// Result of [`detect_columns`]: where to read the location of each row.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnMapping {
    /// The file's header, as read.
    pub headers: Vec<String>,
    /// Point columns, if any.
    pub point: Option<PointColumns>,
    /// Present when the file is the national geocoder's output.
    pub geocoder: Option<GeocoderColumns>,
    /// Address columns in composition order (used when there is no point,
    /// or when a row's point cells are both empty).
    pub address: Vec<(AddressPart, usize)>,
    /// `true` when the mapping comes from a [`ColumnSpec`] rather than detection.
    pub explicit: bool,
}

/// Per-row scratch buffers reused by [`ColumnMapping::interpret`], so that
/// interpreting a row does not allocate.
#[derive(Debug, Default)]
pub struct RowScratch {
    address: String,
    message: String,
}

/// What the caller's locate function receives for one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowInput<'a> {
    /// A WGS84 point (degrees).
    Wgs84 {
        /// Longitude.
        lon: f64,
        /// Latitude.
        lat: f64,
        /// Present when the row comes from the national geocoder's output.
        geocoded: Option<Geocoded<'a>>,
    },
    /// A Lambert-93 point (metres); the caller transforms it.
    Lambert93 {
        /// Easting.
        x: f64,
        /// Northing.
        y: f64,
    },
    /// Free address text, to be geocoded by the caller.
    Address(&'a str),
    /// The row could not be read; French explanation (without line number).
    Invalid(&'a str),
}

/// Geocoding information carried by the national geocoder's CSV output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geocoded<'a> {
    /// `result_score` in [0, 1], if readable.
    pub score: Option<f64>,
    /// `result_label` (may be empty).
    pub label: &'a str,
}

/// Access to the decoded cells of a row, whatever the file format.
pub trait Fields<'a> {
    /// Cell `i` as text, `None` past the end of the row.
    fn field(&self, i: usize) -> Option<&'a str>;
}

impl<'a> Fields<'a> for Record<'a> {
    fn field(&self, i: usize) -> Option<&'a str> {
        self.get(i)
    }
}

impl<'a> Fields<'a> for &'a [String] {
    fn field(&self, i: usize) -> Option<&'a str> {
        self.get(i).map(String::as_str)
    }
}

fn classify_lon(k: &str) -> bool {
    matches!(
        k,
        "lon"
            | "lng"
            | "long"
            | "longitude"
            | "x_wgs84"
            | "xwgs84"
            | "x_wgs_84"
            | "wgs84_x"
            | "lon_wgs84"
            | "lng_wgs84"
            | "long_wgs84"
            | "wgs84_lon"
            | "wgs84_lng"
            | "coord_lon"
            | "gps_lon"
            | "lon_gps"
            | "geo_lon"
            | "x_gps"
            | "x_4326"
            | "x_epsg4326"
    ) || k.contains("longitude")
}

fn classify_lat(k: &str) -> bool {
    matches!(
        k,
        "lat"
            | "latitude"
            | "y_wgs84"
            | "ywgs84"
            | "y_wgs_84"
            | "wgs84_y"
            | "lat_wgs84"
            | "wgs84_lat"
            | "coord_lat"
            | "gps_lat"
            | "lat_gps"
            | "geo_lat"
            | "y_gps"
            | "y_4326"
            | "y_epsg4326"
    ) || k.contains("latitude")
}

/// `Some(true)` for an explicitly Lambert-93 x, `Some(false)` for a plain `x`.
fn classify_xy(k: &str, axis: char) -> Option<bool> {
    let plain = [
        format!("{axis}"),
        format!("coord_{axis}"),
        format!("coordonnee_{axis}"),
        format!("coordonnees_{axis}"),
        format!("{axis}_coord"),
    ];
    if plain.iter().any(|p| p == k) {
        return Some(false);
    }
    let lambert = ["l93", "lambert", "lamb93", "2154", "rgf93", "93"];
    let starts = k.starts_with(&format!("{axis}_")) || k.starts_with(&format!("{axis}l93"));
    let ends = k.ends_with(&format!("_{axis}"));
    if (starts || ends) && lambert.iter().any(|l| k.contains(l)) {
        return Some(true);
    }
    None
}

fn classify_address(k: &str) -> Option<AddressPart> {
    use AddressPart::*;
    let part = match k {
        "numero"
        | "num"
        | "no"
        | "n"
        | "numero_voie"
        | "num_voie"
        | "numero_de_voie"
        | "n_voie"
        | "housenumber"
        | "house_number"
        | "number"
        | "numero_rue"
        | "num_rue"
        | "nvoie"
        | "numero_dans_la_voie" => Numero,
        "rep"
        | "indice_repetition"
        | "indice_de_repetition"
        | "suffixe"
        | "suffixe_numero"
        | "btq"
        | "indice"
        | "complement_numero"
        | "bis_ter" => Rep,
        "type_voie" | "type_de_voie" | "typevoie" | "nature_voie" => TypeVoie,
        "voie" | "nom_voie" | "nom_de_voie" | "rue" | "libelle_voie" | "lib_voie" | "street"
        | "nom_rue" | "libelle_de_voie" | "voie_nom" | "adresse_voie" | "nom_de_la_voie" => Voie,
        "code_postal" | "cp" | "codepostal" | "postcode" | "code_post" | "zip" | "zipcode"
        | "postal_code" | "cpostal" | "code_postale" => CodePostal,
        "commune"
        | "ville"
        | "nom_commune"
        | "localite"
        | "city"
        | "libelle_commune"
        | "lib_commune"
        | "municipalite"
        | "nom_de_la_commune"
        | "nom_ville"
        | "libelle_acheminement"
        | "commune_nom" => Commune,
        _ => {
            let is_full = (k.starts_with("adresse")
                || k.starts_with("address")
                || k == "adr"
                || k == "addr"
                || k == "libelle_adresse"
                || k == "lib_adresse"
                || k == "full_address")
                && ![
                    "mail",
                    "courriel",
                    "ip",
                    "web",
                    "url",
                    "complement",
                    "2",
                    "3",
                    "cp",
                    "postal",
                ]
                .iter()
                .any(|x| k.contains(x));
            if is_full {
                Full
            } else {
                return None;
            }
        }
    };
    Some(part)
}

fn find_column(headers: &[String], name: &str) -> Result<usize, TableError> {
    if let Some(i) = headers.iter().position(|h| h.trim() == name.trim()) {
        return Ok(i);
    }
    let key = header_key(name);
    headers
        .iter()
        .position(|h| header_key(h) == key)
        .ok_or_else(|| TableError::ColumnNotFound {
            name: name.to_string(),
            available: headers.join(", "),
        })
}

/// Finds the location columns of a header, or applies an explicit spec.
///
/// Priority: explicit spec; national geocoder output (`latitude`,
/// `longitude`, `result_score`); lon/lat; x/y; address columns only.
/// Address columns are kept alongside a point as a fallback for rows whose
/// coordinates are empty.
pub fn detect_columns(headers: &[String], spec: &ColumnSpec) -> Result<ColumnMapping, TableError> {
    let mut mapping = ColumnMapping {
        headers: headers.to_vec(),
        point: None,
        geocoder: None,
        address: Vec::new(),
        explicit: !matches!(spec, ColumnSpec::Auto),
    };
    match spec {
        ColumnSpec::LonLat { lon, lat } => {
            mapping.point = Some(PointColumns::LonLat {
                lon: find_column(headers, lon)?,
                lat: find_column(headers, lat)?,
            });
            return Ok(mapping);
        }
        ColumnSpec::Lambert93 { x, y } => {
            mapping.point = Some(PointColumns::Lambert93 {
                x: find_column(headers, x)?,
                y: find_column(headers, y)?,
            });
            return Ok(mapping);
        }
        ColumnSpec::Address(cols) => {
            for c in cols {
                mapping
                    .address
                    .push((AddressPart::Full, find_column(headers, c)?));
            }
            if mapping.address.is_empty() {
                return Err(TableError::NoLocationColumns(
                    "aucune colonne d'adresse indiquée".to_string(),
                ));
            }
            return Ok(mapping);
        }
        ColumnSpec::Auto => {}
    }
    let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
    let first = |f: &dyn Fn(&str) -> bool| keys.iter().position(|k| f(k));
    let lon = first(&classify_lon);
    let lat = first(&classify_lat);
    if let (Some(lon), Some(lat)) = (lon, lat) {
        mapping.point = Some(PointColumns::LonLat { lon, lat });
        if let Some(score) = first(&|k| k == "result_score") {
            mapping.geocoder = Some(GeocoderColumns {
                score,
                label: first(&|k| k == "result_label"),
                status: first(&|k| k == "result_status"),
            });
        }
    } else {
        let x = keys
            .iter()
            .enumerate()
            .find_map(|(i, k)| classify_xy(k, 'x').map(|l| (i, l)));
        let y = keys
            .iter()
            .enumerate()
            .find_map(|(i, k)| classify_xy(k, 'y').map(|l| (i, l)));
        if let (Some((x, lx)), Some((y, ly))) = (x, y) {
            mapping.point = Some(if lx || ly {
                PointColumns::Lambert93 { x, y }
            } else {
                PointColumns::XyAuto { x, y }
            });
        }
    }
    if mapping.geocoder.is_none() {
        let mut seen = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if let Some(part) = classify_address(k) {
                if !seen.contains(&part) {
                    seen.push(part);
                    mapping.address.push((part, i));
                }
            }
        }
        mapping.address.sort_by_key(|(p, _)| *p);
        let usable = mapping
            .address
            .iter()
            .any(|(p, _)| matches!(p, AddressPart::Full | AddressPart::Voie));
        if !usable {
            mapping.address.clear();
        }
    }
    if mapping.point.is_none() && mapping.address.is_empty() {
        return Err(TableError::NoLocationColumns(format!(
            "Aucune colonne de localisation reconnue. Colonnes du fichier : {}. \
             Attendu : longitude et latitude (lon, lat, longitude, latitude...), \
             x et y en Lambert-93, ou une adresse (adresse, ou numero + voie + code_postal + commune). \
             Vous pouvez aussi désigner les colonnes à utiliser.",
            if headers.is_empty() { "(aucune)".to_string() } else { headers.iter().map(|h| format!("« {h} »")).collect::<Vec<_>>().join(", ") }
        )));
    }
    Ok(mapping)
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl ColumnMapping {
    /// French description of the columns used, for the summary and the UI.
    pub fn describe(&self) -> String {
        let h = |i: usize| {
            format!(
                "« {} »",
                self.headers.get(i).map(String::as_str).unwrap_or("?")
            )
        };
        let mut parts = Vec::new();
        match self.point {
            Some(PointColumns::LonLat { lon, lat }) => {
                if let Some(g) = self.geocoder {
                    parts.push(format!(
                        "fichier déjà géocodé par le service national : longitude {}, latitude {}, score {}",
                        h(lon),
                        h(lat),
                        h(g.score)
                    ));
                } else {
                    parts.push(format!("longitude {}, latitude {} (WGS84)", h(lon), h(lat)));
                }
            }
            Some(PointColumns::Lambert93 { x, y }) => {
                parts.push(format!("x {}, y {} (Lambert-93)", h(x), h(y)))
            }
            Some(PointColumns::XyAuto { x, y }) => parts.push(format!(
                "x {}, y {} (Lambert-93, ou WGS84 si les valeurs sont en degrés)",
                h(x),
                h(y)
            )),
            None => {}
        }
        if !self.address.is_empty() {
            let cols = self
                .address
                .iter()
                .map(|(p, i)| {
                    if self.explicit {
                        h(*i)
                    } else {
                        format!("{} {}", p.label(), h(*i))
                    }
                })
                .collect::<Vec<_>>()
                .join(" + ");
            if self.point.is_some() {
                parts.push(format!("adresse {cols} si les coordonnées sont vides"));
            } else {
                parts.push(format!("adresse : {cols}"));
            }
        }
        format!("Colonnes utilisées : {}", parts.join(" ; "))
    }

    /// Interprets one row. `scratch` buffers are reused between rows; the
    /// returned [`RowInput`] may borrow them.
    pub fn interpret<'a, F: Fields<'a>>(
        &self,
        row: &F,
        scratch: &'a mut RowScratch,
    ) -> RowInput<'a> {
        let RowScratch { address, message } = scratch;
        let cell = |i: usize| row.field(i).unwrap_or("").trim();
        if let Some(point) = self.point {
            let (a, b) = match point {
                PointColumns::LonLat { lon, lat } => (cell(lon), cell(lat)),
                PointColumns::Lambert93 { x, y } | PointColumns::XyAuto { x, y } => {
                    (cell(x), cell(y))
                }
            };
            if a.is_empty() && b.is_empty() {
                if let Some(g) = self.geocoder {
                    message.clear();
                    let status = g.status.map(cell).unwrap_or("");
                    if status.is_empty() {
                        message
                            .push_str("adresse non trouvée par le géocodeur (coordonnées vides)");
                    } else {
                        message.push_str("adresse non trouvée par le géocodeur (statut « ");
                        message.push_str(status);
                        message.push_str(" »)");
                    }
                    return RowInput::Invalid(message);
                }
                if self.address.is_empty() {
                    return RowInput::Invalid("coordonnées vides");
                }
                // Fall through to the address columns.
            } else {
                let (va, vb) = (parse_decimal(a), parse_decimal(b));
                let (Some(va), Some(vb)) = (va, vb) else {
                    message.clear();
                    message.push_str("coordonnées illisibles : « ");
                    message.push_str(a);
                    message.push_str(" » ; « ");
                    message.push_str(b);
                    message.push_str(" »");
                    return RowInput::Invalid(message);
                };
                let as_wgs84 = match point {
                    PointColumns::LonLat { .. } => true,
                    PointColumns::Lambert93 { .. } => false,
                    PointColumns::XyAuto { .. } => va.abs() <= 180.0 && vb.abs() <= 90.0,
                };
                if as_wgs84 {
                    if !(-180.0..=180.0).contains(&va) || !(-90.0..=90.0).contains(&vb) {
                        message.clear();
                        message.push_str("coordonnées hors limites (longitude ");
                        message.push_str(&fmt_num(va));
                        message.push_str(", latitude ");
                        message.push_str(&fmt_num(vb));
                        message.push(')');
                        return RowInput::Invalid(message);
                    }
                    let geocoded = self.geocoder.map(|g| Geocoded {
                        score: parse_decimal(cell(g.score)),
                        label: g.label.map(cell).unwrap_or(""),
                    });
                    return RowInput::Wgs84 {
                        lon: va,
                        lat: vb,
                        geocoded,
                    };
                }
                if !(0.0..=1_500_000.0).contains(&va) || !(5_900_000.0..=7_300_000.0).contains(&vb)
                {
                    message.clear();
                    message.push_str(
                        "coordonnées hors de la France métropolitaine en Lambert-93 (x = ",
                    );
                    message.push_str(&fmt_num(va));
                    message.push_str(", y = ");
                    message.push_str(&fmt_num(vb));
                    message.push(')');
                    return RowInput::Invalid(message);
                }
                return RowInput::Lambert93 { x: va, y: vb };
            }
        }
        address.clear();
        for &(_, i) in &self.address {
            let v = cell(i);
            if !v.is_empty() {
                if !address.is_empty() {
                    address.push(' ');
                }
                address.push_str(v);
            }
        }
        if address.is_empty() {
            return RowInput::Invalid("adresse vide");
        }
        RowInput::Address(address)
    }
}

// ---------------------------------------------------------------------------
// XLSX input
// ---------------------------------------------------------------------------

/// One sheet of an XLSX workbook, loaded through `calamine` (a sheet is read
/// whole: XLSX is limited to 1,048,576 rows anyway).
pub struct XlsxTable {
    /// Name of the sheet read.
    pub sheet: String,
    /// All sheet names of the workbook, in order.
    pub sheets: Vec<String>,
    range: calamine::Range<calamine::Data>,
    header_row: Option<usize>,
}

impl std::fmt::Debug for XlsxTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XlsxTable")
            .field("sheet", &self.sheet)
            .field("sheets", &self.sheets)
            .field("size", &self.range.get_size())
            .finish()
    }
}

impl XlsxTable {
    /// Opens `sheet` (or the first sheet) of the workbook read from `reader`.
    pub fn open<R: Read + io::Seek>(reader: R, sheet: Option<&str>) -> Result<Self, TableError> {
        use calamine::Reader;
        let mut wb = calamine::Xlsx::new(reader).map_err(|e| TableError::Xlsx(e.to_string()))?;
        let sheets = wb.sheet_names();
        if sheets.is_empty() {
            return Err(TableError::Empty);
        }
        let name = match sheet {
            Some(s) => sheets
                .iter()
                .find(|n| n.as_str() == s)
                .or_else(|| sheets.iter().find(|n| n.to_lowercase() == s.to_lowercase()))
                .cloned()
                .ok_or_else(|| TableError::SheetNotFound {
                    name: s.to_string(),
                    available: sheets
                        .iter()
                        .map(|n| format!("« {n} »"))
                        .collect::<Vec<_>>()
                        .join(", "),
                })?,
            None => sheets[0].clone(),
        };
        let range = wb
            .worksheet_range(&name)
            .map_err(|e| TableError::Xlsx(e.to_string()))?;
        let header_row = range
            .rows()
            .position(|r| r.iter().any(|c| !matches!(c, calamine::Data::Empty)));
        if header_row.is_none() {
            return Err(TableError::Empty);
        }
        Ok(XlsxTable {
            sheet: name,
            sheets,
            range,
            header_row,
        })
    }

    /// French note when the workbook has other sheets that were not read.
    pub fn note(&self) -> Option<String> {
        if self.sheets.len() <= 1 {
            return None;
        }
        let others: Vec<String> = self
            .sheets
            .iter()
            .filter(|s| **s != self.sheet)
            .map(|s| format!("« {s} »"))
            .collect();
        let first = self.sheets.first().is_some_and(|s| *s == self.sheet);
        Some(format!(
            "Le classeur contient {} feuilles ; seule la feuille « {} »{} a été traitée. Autres feuilles : {}.",
            self.sheets.len(),
            self.sheet,
            if first { " (la première)" } else { "" },
            others.join(", ")
        ))
    }

    /// Header cells as text (first non-empty row).
    pub fn headers(&self) -> Vec<String> {
        let Some(h) = self.header_row else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(row) = self.range.rows().nth(h) {
            let mut s = String::new();
            for c in row {
                cell_to_string(c, &mut s);
                out.push(s.trim().to_string());
            }
        }
        while out.last().is_some_and(|s| s.is_empty()) {
            out.pop();
        }
        out
    }

    /// Data rows after the header, skipping empty rows, with their Excel
    /// row number (1-based, as shown by Excel).
    pub fn rows(&self) -> impl Iterator<Item = (u64, &[calamine::Data])> + '_ {
        let start_row = self.range.start().map_or(0, |(r, _)| r as u64);
        let h = self.header_row.unwrap_or(0);
        self.range
            .rows()
            .enumerate()
            .skip(h + 1)
            .filter(|(_, r)| r.iter().any(|c| !matches!(c, calamine::Data::Empty)))
            .map(move |(i, r)| (start_row + i as u64 + 1, r))
    }

    /// Number of columns of the sheet's used range.
    pub fn width(&self) -> usize {
        self.range.width()
    }

    /// Column offset of the used range (cells left of it are empty).
    pub fn first_column(&self) -> u32 {
        self.range.start().map_or(0, |(_, c)| c)
    }
}

/// Writes a cell as text into `out` (cleared first): integers without a
/// decimal part, other numbers in their shortest exact form.
pub fn cell_to_string(cell: &calamine::Data, out: &mut String) {
    use calamine::Data;
    use std::fmt::Write;
    out.clear();
    match cell {
        Data::Empty => {}
        Data::String(s) => out.push_str(s),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                let _ = write!(out, "{}", *f as i64);
            } else {
                let _ = write!(out, "{f}");
            }
        }
        Data::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Data::Bool(b) => out.push_str(if *b { "VRAI" } else { "FAUX" }),
        Data::DateTime(d) => {
            let _ = write!(out, "{}", d.as_f64());
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => out.push_str(s),
        Data::Error(e) => {
            let _ = write!(out, "{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(data: &[u8]) -> Vec<(u64, Option<RecordProblem>, Vec<String>)> {
        let d = sniff_csv(data).unwrap();
        let mut r = CsvRecords::new(data, d);
        let mut out = Vec::new();
        let mut first = true;
        while let Some(rec) = r.next_record() {
            let rec = rec.unwrap();
            let fields: Vec<String> = rec.iter().map(str::to_string).collect();
            let n = fields.len();
            out.push((rec.line, rec.problem, fields));
            if first {
                first = false;
                r.set_expected_fields(n);
            }
        }
        out
    }

    #[test]
    fn record_chunk_keeps_copies_of_the_records() {
        let data =
            "id;adresse;lon\n1;\"12 rue X; Lille\";3,05\n\n2;\"ouvert;3,06\n3;é;3\n".as_bytes();
        let d = sniff_csv(data).unwrap();
        let mut r = CsvRecords::new(data, d);
        let mut chunk = RecordChunk::default();
        let mut want = Vec::new();
        while let Some(rec) = r.next_record() {
            let rec = rec.unwrap();
            let fields: Vec<String> = rec.iter().map(str::to_string).collect();
            want.push((
                rec.line,
                rec.problem,
                fields,
                rec.raw_utf8().map(<[u8]>::to_vec),
            ));
            chunk.push(&rec);
        }
        assert_eq!(chunk.len(), 4);
        for (i, w) in want.iter().enumerate() {
            let rec = chunk.get(i);
            let fields: Vec<String> = rec.iter().map(str::to_string).collect();
            assert_eq!(
                (
                    rec.line,
                    rec.problem,
                    fields,
                    rec.raw_utf8().map(<[u8]>::to_vec)
                ),
                *w
            );
        }
        assert_eq!(chunk.get(2).problem, Some(RecordProblem::UnclosedQuote));
        assert_eq!(chunk.get(3).line, 5);
        chunk.clear();
        assert!(chunk.is_empty());
    }

    #[test]
    fn separator_detection() {
        assert_eq!(sniff_csv(b"a;b;c\n1;2;3\n").unwrap().separator, b';');
        assert_eq!(sniff_csv(b"a,b,c\n1,2,3\n").unwrap().separator, b',');
        assert_eq!(sniff_csv(b"a\tb\tc\n1\t2\t3\n").unwrap().separator, b'\t');
        // Decimal commas inside a ;-separated file.
        assert_eq!(
            sniff_csv(b"id;lon;lat\n1;3,05;50,62\n2;3,06;50,63\n")
                .unwrap()
                .separator,
            b';'
        );
        // Quoted commas in a ,-separated file.
        assert_eq!(
            sniff_csv(b"id,adresse\n1,\"12 rue X; Lille\"\n2,\"3 rue Y; Roubaix\"\n")
                .unwrap()
                .separator,
            b','
        );
        // Single column whose values contain commas: the separator must not split them.
        let d = sniff_csv(b"adresse\n12 rue X, Lille\n").unwrap();
        assert_ne!(d.separator, b',');
    }

    #[test]
    fn encoding_detection() {
        assert_eq!(
            sniff_csv("a;b\né;è\n".as_bytes()).unwrap().encoding,
            TextEncoding::Utf8
        );
        assert_eq!(
            sniff_csv(b"\xEF\xBB\xBFa;b\n1;2\n").unwrap().encoding,
            TextEncoding::Utf8Bom
        );
        assert_eq!(
            sniff_csv(b"a;b\n\xE9;\xE8\n").unwrap().encoding,
            TextEncoding::Windows1252
        );
        // A sample cut in the middle of a UTF-8 character is still UTF-8.
        assert_eq!(
            sniff_csv(&"a;b\né".as_bytes()[..6]).unwrap().encoding,
            TextEncoding::Utf8
        );
    }

    #[test]
    fn windows_1252_is_decoded() {
        let recs = records(b"commune;voie\nLi\xE9vin;rue de l'\xC9glise\n");
        assert_eq!(recs[1].2, vec!["Liévin", "rue de l'Église"]);
    }

    #[test]
    fn bom_is_skipped() {
        let recs = records(b"\xEF\xBB\xBFlon;lat\n1;2\n");
        assert_eq!(recs[0].2, vec!["lon", "lat"]);
    }

    #[test]
    fn binary_files_are_rejected_in_french() {
        let e = sniff_csv(b"PK\x03\x04\x14\x00\x06\x00")
            .unwrap_err()
            .to_string();
        assert!(e.contains("classeur Excel (.xlsx)"), "{e}");
        let e = sniff_csv(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")
            .unwrap_err()
            .to_string();
        assert!(e.contains("97-2003"), "{e}");
        let e = sniff_csv(b"%PDF-1.7\n").unwrap_err().to_string();
        assert!(e.contains("PDF"), "{e}");
        let e = sniff_csv(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00")
            .unwrap_err()
            .to_string();
        assert!(e.contains("données binaires"), "{e}");
        assert!(matches!(sniff_csv(b"  \n\n"), Err(TableError::Empty)));
        assert!(matches!(sniff_csv(b""), Err(TableError::Empty)));
    }

    #[test]
    fn crlf_and_blank_lines_and_quotes() {
        let recs = records(b"a;b\r\n1;\"x;y\"\r\n\r\n2;\"dit \"\"bis\"\"\"\r\n");
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].2, vec!["1", "x;y"]);
        assert_eq!(recs[2].0, 4);
        assert_eq!(recs[2].2, vec!["2", "dit \"bis\""]);
    }

    #[test]
    fn old_mac_line_endings() {
        let recs = records(b"a;b\r1;2\r3;4\r");
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[2].2, vec!["3", "4"]);
        assert_eq!(recs[2].0, 3);
    }

    #[test]
    fn multiline_quoted_field_is_one_record() {
        let recs = records(b"id;adresse;cp\n1;\"12 rue X\nBat B\";59000\n2;a;59100\n");
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[1].2, vec!["1", "12 rue X\nBat B", "59000"]);
        assert_eq!(recs[1].1, None);
        assert_eq!(recs[2].0, 4);
    }

    #[test]
    fn unclosed_quote_damages_one_line_only() {
        let recs = records(b"id;adresse;cp\n1;\"12 rue X;59000\n2;a;59100\n3;b;59200\n");
        assert_eq!(recs.len(), 4, "{recs:?}");
        assert_eq!(recs[1].1, Some(RecordProblem::UnclosedQuote));
        assert_eq!(recs[1].0, 2);
        assert_eq!(recs[1].2, vec!["1", "\"12 rue X", "59000"]);
        assert_eq!(recs[2].2, vec!["2", "a", "59100"]);
        assert_eq!(recs[3].0, 4);
        // Unclosed on the last line.
        let recs = records(b"id;v\n1;\"abc\n");
        assert_eq!(recs[1].1, Some(RecordProblem::UnclosedQuote));
        assert_eq!(recs[1].2, vec!["1", "\"abc"]);
    }

    #[test]
    fn ragged_rows_are_kept() {
        let recs = records(b"a;b;c\n1;2\n1;2;3;4\n");
        assert_eq!(recs[1].2.len(), 2);
        assert_eq!(recs[2].2.len(), 4);
    }

    fn h(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn detects_lon_lat_variants() {
        for (lon, lat) in [
            ("lon", "lat"),
            ("lng", "lat"),
            ("Longitude", "Latitude"),
            ("X_WGS84", "Y_WGS84"),
            ("long", "lat"),
        ] {
            let m = detect_columns(&h(&["id", lon, lat]), &ColumnSpec::Auto).unwrap();
            assert_eq!(
                m.point,
                Some(PointColumns::LonLat { lon: 1, lat: 2 }),
                "{lon}/{lat}"
            );
        }
    }

    #[test]
    fn detects_lambert_and_plain_xy() {
        let m = detect_columns(&h(&["x_l93", "y_l93"]), &ColumnSpec::Auto).unwrap();
        assert_eq!(m.point, Some(PointColumns::Lambert93 { x: 0, y: 1 }));
        let m = detect_columns(&h(&["X", "Y", "nom"]), &ColumnSpec::Auto).unwrap();
        assert_eq!(m.point, Some(PointColumns::XyAuto { x: 0, y: 1 }));
        let m = detect_columns(
            &h(&["id", "X Lambert 93", "Y Lambert 93"]),
            &ColumnSpec::Auto,
        )
        .unwrap();
        assert_eq!(m.point, Some(PointColumns::Lambert93 { x: 1, y: 2 }));
    }

    #[test]
    fn detects_address_parts() {
        let m = detect_columns(
            &h(&["Nom", "N°", "Voie", "Code postal", "Commune", "Email"]),
            &ColumnSpec::Auto,
        )
        .unwrap();
        assert_eq!(m.point, None);
        assert_eq!(
            m.address,
            vec![
                (AddressPart::Numero, 1),
                (AddressPart::Voie, 2),
                (AddressPart::CodePostal, 3),
                (AddressPart::Commune, 4)
            ]
        );
        let m =
            detect_columns(&h(&["adresse", "adresse_mail", "ville"]), &ColumnSpec::Auto).unwrap();
        assert_eq!(
            m.address,
            vec![(AddressPart::Full, 0), (AddressPart::Commune, 2)]
        );
    }

    #[test]
    fn detects_geocoder_output() {
        let m = detect_columns(
            &h(&[
                "adresse",
                "latitude",
                "longitude",
                "result_label",
                "result_score",
                "result_status",
            ]),
            &ColumnSpec::Auto,
        )
        .unwrap();
        assert_eq!(m.point, Some(PointColumns::LonLat { lon: 2, lat: 1 }));
        assert_eq!(
            m.geocoder,
            Some(GeocoderColumns {
                score: 4,
                label: Some(3),
                status: Some(5)
            })
        );
        assert!(m.address.is_empty());
        assert!(m.describe().contains("déjà géocodé"));
    }

    #[test]
    fn explicit_columns_override_detection() {
        let headers = h(&["lon", "lat", "gx", "gy"]);
        let m = detect_columns(
            &headers,
            &ColumnSpec::Lambert93 {
                x: "GX".into(),
                y: "gy".into(),
            },
        )
        .unwrap();
        assert_eq!(m.point, Some(PointColumns::Lambert93 { x: 2, y: 3 }));
        let e = detect_columns(
            &headers,
            &ColumnSpec::LonLat {
                lon: "nope".into(),
                lat: "lat".into(),
            },
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "colonne « nope » introuvable (colonnes du fichier : lon, lat, gx, gy)"
        );
    }

    #[test]
    fn no_location_columns_message() {
        let e = detect_columns(&h(&["nom", "age"]), &ColumnSpec::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("Aucune colonne de localisation reconnue"),
            "{e}"
        );
        assert!(e.contains("« nom »"));
    }

    #[test]
    fn interpret_rows() {
        let m = detect_columns(&h(&["lon", "lat", "adresse"]), &ColumnSpec::Auto).unwrap();
        let mut s = RowScratch::default();
        let row = h(&["3,0573", " 50.6292 ", ""]);
        let r: &[String] = &row;
        assert_eq!(
            m.interpret(&r, &mut s),
            RowInput::Wgs84 {
                lon: 3.0573,
                lat: 50.6292,
                geocoded: None
            }
        );
        let row = h(&["", "", "12 rue X Lille"]);
        let r: &[String] = &row;
        assert_eq!(m.interpret(&r, &mut s), RowInput::Address("12 rue X Lille"));
        let row = h(&["abc", "50", ""]);
        let r: &[String] = &row;
        assert_eq!(
            m.interpret(&r, &mut s),
            RowInput::Invalid("coordonnées illisibles : « abc » ; « 50 »")
        );
        let row = h(&["250", "50", ""]);
        let r: &[String] = &row;
        assert_eq!(
            m.interpret(&r, &mut s),
            RowInput::Invalid("coordonnées hors limites (longitude 250, latitude 50)")
        );
        let row = h(&["", "", ""]);
        let r: &[String] = &row;
        assert_eq!(m.interpret(&r, &mut s), RowInput::Invalid("adresse vide"));

        let m = detect_columns(&h(&["x", "y"]), &ColumnSpec::Auto).unwrap();
        let row = h(&["704123,5", "7059000"]);
        let r: &[String] = &row;
        assert_eq!(
            m.interpret(&r, &mut s),
            RowInput::Lambert93 {
                x: 704123.5,
                y: 7059000.0
            }
        );
        let row = h(&["3.06", "50.63"]);
        let r: &[String] = &row;
        assert!(matches!(m.interpret(&r, &mut s), RowInput::Wgs84 { .. }));
        let row = h(&["-500", "7059000"]);
        let r: &[String] = &row;
        assert!(
            matches!(m.interpret(&r, &mut s), RowInput::Invalid(m) if m.contains("Lambert-93"))
        );

        let m = detect_columns(&h(&["n", "voie", "cp", "ville"]), &ColumnSpec::Auto).unwrap();
        let row = h(&["12 bis", "rue Nationale", "59000", "Lille"]);
        let r: &[String] = &row;
        assert_eq!(
            m.interpret(&r, &mut s),
            RowInput::Address("12 bis rue Nationale 59000 Lille")
        );
    }

    #[test]
    fn interpret_geocoder_rows() {
        let m = detect_columns(
            &h(&[
                "latitude",
                "longitude",
                "result_label",
                "result_score",
                "result_status",
            ]),
            &ColumnSpec::Auto,
        )
        .unwrap();
        let mut s = RowScratch::default();
        let row = h(&["50.6", "3.05", "12 Rue X 59000 Lille", "0.93", "ok"]);
        let r: &[String] = &row;
        assert_eq!(
            m.interpret(&r, &mut s),
            RowInput::Wgs84 {
                lon: 3.05,
                lat: 50.6,
                geocoded: Some(Geocoded {
                    score: Some(0.93),
                    label: "12 Rue X 59000 Lille"
                })
            }
        );
        let row = h(&["", "", "", "", "not-found"]);
        let r: &[String] = &row;
        assert_eq!(
            m.interpret(&r, &mut s),
            RowInput::Invalid("adresse non trouvée par le géocodeur (statut « not-found »)")
        );
    }
}
