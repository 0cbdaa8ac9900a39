//! Batch processing: reads a CSV or XLSX table, asks the caller's
//! [`RowLocator`] (a closure, or a locator that answers batches of rows)
//! where each row is, and writes the same table (same row order,
//! exactly one output row per input row, same format) with the columns
//! [`ADDED_COLUMNS`] appended, plus a [`Summary`].
//!
//! ```
//! use std::borrow::Cow;
//! use quartiers_io::output::{process_csv, ProcessOptions, RowResult, Status};
//! use quartiers_io::table::RowInput;
//!
//! let input = "id;lon;lat\n1;3,0573;50,6292\n2;;\n";
//! let mut out = Vec::new();
//! let summary = process_csv(
//!     input.as_bytes(),
//!     &mut out,
//!     &ProcessOptions::default(),
//!     |row: &RowInput<'_>| match row {
//!         RowInput::Wgs84 { lon, .. } if *lon > 3.0 => RowResult::in_qpv("QN05971M", "Secteur Ouest"),
//!         _ => RowResult::new(Status::OutsideQpv),
//!     },
//!     |_rows| {},
//! )
//! .unwrap();
//! assert_eq!(summary.rows, 2);
//! assert_eq!(summary.in_qpv, 1);
//! assert_eq!(summary.not_located, 1);
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.contains("1;3,0573;50,6292;QN05971M;Secteur Ouest;;dans un QPV;"));
//! ```

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;

use rayon::prelude::*;

use crate::table::{
    cell_to_string, detect_columns, read_sample, sniff_csv, ColumnMapping, ColumnSpec, CsvDialect,
    CsvRecords, Record, RecordChunk, RecordProblem, RowInput, RowScratch, TableError, TableFormat,
    TextEncoding, XlsxTable,
};

/// Names of the columns appended to the input, in order.
pub const ADDED_COLUMNS: [&str; 7] = [
    "qpv_code",
    "qpv_nom",
    "autres_perimetres",
    "statut",
    "distance_qpv_m",
    "score_geocodage",
    "message",
];

/// Outcome of one row, written in the `statut` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// `dans un QPV`.
    InQpv,
    /// `hors QPV`.
    OutsideQpv,
    /// `à vérifier` (near a boundary, low geocoding score, street-level match...).
    ToCheck,
    /// `non localisé` (unreadable row, address not found...).
    NotLocated,
}

impl Status {
    /// French label written in the output.
    pub fn label(self) -> &'static str {
        match self {
            Status::InQpv => "dans un QPV",
            Status::OutsideQpv => "hors QPV",
            Status::ToCheck => "à vérifier",
            Status::NotLocated => "non localisé",
        }
    }
}

/// What the caller's [`RowLocator`] returns for one row. Text fields are
/// `Cow` so that QPV codes and names can be borrowed from the caller's
/// reference data (lifetime `'r`) without allocating per row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowResult<'r> {
    /// Outcome.
    pub status: Status,
    /// Code of the QPV containing the point (`QN05971M`), or empty.
    pub qpv_code: Cow<'r, str>,
    /// Name of that QPV, or empty.
    pub qpv_nom: Cow<'r, str>,
    /// Other perimeters containing the point (free text, e.g. `QN05970M (2015)`).
    pub autres_perimetres: Cow<'r, str>,
    /// Distance in metres to the nearest QPV boundary, if computed.
    pub distance_qpv_m: Option<f64>,
    /// Geocoding score in [0, 1] when the row was an address.
    pub score_geocodage: Option<f64>,
    /// Free French message (geocoded label, reason for `à vérifier`...).
    pub message: Cow<'r, str>,
}

impl<'r> RowResult<'r> {
    /// A result with only a status.
    pub fn new(status: Status) -> Self {
        RowResult {
            status,
            qpv_code: Cow::Borrowed(""),
            qpv_nom: Cow::Borrowed(""),
            autres_perimetres: Cow::Borrowed(""),
            distance_qpv_m: None,
            score_geocodage: None,
            message: Cow::Borrowed(""),
        }
    }

    /// `dans un QPV` with its code and name.
    pub fn in_qpv(code: impl Into<Cow<'r, str>>, nom: impl Into<Cow<'r, str>>) -> Self {
        RowResult {
            qpv_code: code.into(),
            qpv_nom: nom.into(),
            ..RowResult::new(Status::InQpv)
        }
    }

    /// `non localisé` with a message.
    pub fn not_located(message: impl Into<Cow<'r, str>>) -> Self {
        RowResult {
            message: message.into(),
            ..RowResult::new(Status::NotLocated)
        }
    }
}

/// Options of [`process_table`] and friends. `Default` detects everything.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProcessOptions {
    /// Location columns; `Auto` detects them.
    pub columns: ColumnSpec,
    /// XLSX: sheet to read (default: the first one).
    pub sheet: Option<String>,
    /// Force the input format (default: from the file's first bytes).
    pub format: Option<TableFormat>,
    /// CSV: force the separator (default: detected).
    pub separator: Option<u8>,
    /// CSV: force the encoding (default: detected).
    pub encoding: Option<TextEncoding>,
    /// CSV output: start with a UTF-8 byte order mark so that Excel reads
    /// accents correctly (default `true`).
    pub csv_bom: bool,
    /// CSV output: write added decimals with a comma. Default: `true` when
    /// the separator is `;` (French Excel convention), `false` otherwise.
    pub decimal_comma: Option<bool>,
    /// Call `progress` every this many rows (default 10 000).
    pub progress_every: u64,
    /// Keep at most this many per-line errors in the summary (default 1 000);
    /// the others are only counted.
    pub max_errors: usize,
}

impl Default for ProcessOptions {
    fn default() -> Self {
        ProcessOptions {
            columns: ColumnSpec::Auto,
            sheet: None,
            format: None,
            separator: None,
            encoding: None,
            csv_bom: true,
            decimal_comma: None,
            progress_every: 10_000,
            max_errors: 1_000,
        }
    }
}

/// Counts of a processed table.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Data rows read (= rows written).
    pub rows: u64,
    /// Rows with a position (in, outside, or to check).
    pub located: u64,
    /// `dans un QPV`.
    pub in_qpv: u64,
    /// `hors QPV`.
    pub outside_qpv: u64,
    /// `à vérifier`.
    pub to_check: u64,
    /// `non localisé`.
    pub not_located: u64,
    /// Rows `dans un QPV` per QPV code.
    pub per_qpv: BTreeMap<String, u64>,
    /// QPV names seen, per code (for rendering).
    pub qpv_names: BTreeMap<String, String>,
    /// Per-line problems: (line number, French message).
    pub errors: Vec<(u64, String)>,
    /// Problems not kept in `errors` because of `max_errors`.
    pub errors_omitted: u64,
    /// French notes about the file (encoding, sheets, columns used...).
    pub notes: Vec<String>,
    /// XLSX: the sheet read and how many the workbook has.
    pub sheet: Option<SheetInfo>,
}

/// The sheet of an XLSX workbook that was processed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SheetInfo {
    /// Its name.
    pub name: String,
    /// Number of sheets in the workbook.
    pub count: usize,
}

fn fr_int(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    let head = s.len() % 3;
    for (i, c) in s.chars().enumerate() {
        if i > 0 && i % 3 == head % 3 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

impl Summary {
    fn record(&mut self, r: &RowResult<'_>) {
        match r.status {
            Status::InQpv => {
                self.in_qpv += 1;
                self.located += 1;
                if !r.qpv_code.is_empty() {
                    if let Some(c) = self.per_qpv.get_mut(r.qpv_code.as_ref()) {
                        *c += 1;
                    } else {
                        self.per_qpv.insert(r.qpv_code.to_string(), 1);
                        self.qpv_names
                            .insert(r.qpv_code.to_string(), r.qpv_nom.to_string());
                    }
                }
            }
            Status::OutsideQpv => {
                self.outside_qpv += 1;
                self.located += 1;
            }
            Status::ToCheck => {
                self.to_check += 1;
                self.located += 1;
            }
            Status::NotLocated => self.not_located += 1,
        }
    }

    fn error(&mut self, line: u64, message: String, max: usize) {
        if self.errors.len() < max {
            self.errors.push((line, message));
        } else {
            self.errors_omitted += 1;
        }
    }

    /// French plain-text report.
    pub fn to_french_text(&self) -> String {
        let mut s = String::new();
        let plural = |n: u64, one: &str, many: &str| {
            if n > 1 {
                many.to_string()
            } else {
                one.to_string()
            }
        };
        s.push_str(&format!(
            "{} {} traitée{}\n",
            fr_int(self.rows),
            plural(self.rows, "ligne", "lignes"),
            if self.rows > 1 { "s" } else { "" }
        ));
        s.push_str(&format!("  dans un QPV : {}\n", fr_int(self.in_qpv)));
        s.push_str(&format!("  hors QPV : {}\n", fr_int(self.outside_qpv)));
        s.push_str(&format!("  à vérifier : {}\n", fr_int(self.to_check)));
        s.push_str(&format!(
            "  non localisées : {}\n",
            fr_int(self.not_located)
        ));
        if !self.per_qpv.is_empty() {
            s.push_str("Répartition par QPV :\n");
            for (code, n) in &self.per_qpv {
                let name = self.qpv_names.get(code).map(String::as_str).unwrap_or("");
                if name.is_empty() {
                    s.push_str(&format!("  {code} : {}\n", fr_int(*n)));
                } else {
                    s.push_str(&format!("  {code} {name} : {}\n", fr_int(*n)));
                }
            }
        }
        let total_errors = self.errors.len() as u64 + self.errors_omitted;
        if total_errors > 0 {
            s.push_str(&format!(
                "{} {} :\n",
                fr_int(total_errors),
                plural(total_errors, "ligne en erreur", "lignes en erreur")
            ));
            for (line, msg) in &self.errors {
                s.push_str(&format!("  ligne {line} : {msg}\n"));
            }
            if self.errors_omitted > 0 {
                s.push_str(&format!("  … et {} autres\n", fr_int(self.errors_omitted)));
            }
        }
        for n in &self.notes {
            s.push_str(n);
            s.push('\n');
        }
        s
    }
}

/// Output column names, suffixed (`_2`, `_3`...) when the input already has
/// a column of that name (e.g. a file processed twice).
fn added_names(headers: &[String]) -> Vec<String> {
    ADDED_COLUMNS
        .iter()
        .map(|&n| {
            let taken = |c: &str| headers.iter().any(|h| h.trim().eq_ignore_ascii_case(c));
            if !taken(n) {
                return n.to_string();
            }
            (2..)
                .map(|i| format!("{n}_{i}"))
                .find(|c| !taken(c))
                .unwrap_or_else(|| n.to_string())
        })
        .collect()
}

// ---------------------------------------------------------------------------
// CSV
// ---------------------------------------------------------------------------

/// Writes one CSV field, quoting it when it contains the separator, a quote
/// or a line break.
#[inline]
fn write_field<W: Write>(w: &mut W, v: &[u8], sep: u8) -> io::Result<()> {
    let needs = v
        .iter()
        .any(|&b| b == sep || b == b'"' || b == b'\n' || b == b'\r');
    if !needs {
        return w.write_all(v);
    }
    w.write_all(b"\"")?;
    let mut start = 0;
    for (i, &b) in v.iter().enumerate() {
        if b == b'"' {
            w.write_all(&v[start..=i])?;
            w.write_all(b"\"")?;
            start = i + 1;
        }
    }
    w.write_all(&v[start..])?;
    w.write_all(b"\"")
}

/// Formats `v` rounded to `decimals` (0 or 2) without going through
/// `format!` (hot path; avoids an allocation per number).
#[inline]
fn write_decimal<W: Write>(w: &mut W, v: f64, decimals: u32, comma: bool) -> io::Result<()> {
    if !v.is_finite() {
        return Ok(());
    }
    let scale = 10u64.pow(decimals) as f64;
    let scaled = (v.abs() * scale).round();
    if scaled > 1e17 {
        return write!(w, "{v}");
    }
    let scaled = scaled as u64;
    let mut buf = [0u8; 24];
    let mut i = buf.len();
    let int = scaled / 10u64.pow(decimals);
    let mut frac = scaled % 10u64.pow(decimals);
    for _ in 0..decimals {
        i -= 1;
        buf[i] = b'0' + (frac % 10) as u8;
        frac /= 10;
    }
    if decimals > 0 {
        i -= 1;
        buf[i] = if comma { b',' } else { b'.' };
    }
    let mut n = int;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if v < 0.0 && scaled != 0 {
        i -= 1;
        buf[i] = b'-';
    }
    w.write_all(&buf[i..])
}

fn write_added<W: Write>(
    w: &mut W,
    r: &RowResult<'_>,
    message: &str,
    sep: u8,
    comma: bool,
) -> io::Result<()> {
    w.write_all(&[sep])?;
    write_field(w, r.qpv_code.as_bytes(), sep)?;
    w.write_all(&[sep])?;
    write_field(w, r.qpv_nom.as_bytes(), sep)?;
    w.write_all(&[sep])?;
    write_field(w, r.autres_perimetres.as_bytes(), sep)?;
    w.write_all(&[sep])?;
    w.write_all(r.status.label().as_bytes())?;
    w.write_all(&[sep])?;
    if let Some(d) = r.distance_qpv_m {
        write_decimal(w, d, 0, comma)?;
    }
    w.write_all(&[sep])?;
    if let Some(s) = r.score_geocodage {
        write_decimal(w, s, 2, comma)?;
    }
    w.write_all(&[sep])?;
    write_field(w, message.as_bytes(), sep)?;
    w.write_all(b"\r\n")
}

/// Problem of a record's shape, as a French message, or `None`.
fn shape_problem(
    problem: Option<RecordProblem>,
    len: usize,
    expected: usize,
    extra_nonempty: bool,
) -> Option<String> {
    if problem == Some(RecordProblem::UnclosedQuote) {
        return Some(
            "guillemet non fermé : la ligne a été lue sans tenir compte des guillemets".to_string(),
        );
    }
    if len < expected || (len > expected && extra_nonempty) {
        return Some(format!("{len} colonnes au lieu de {expected}"));
    }
    None
}

/// Rows per chunk of [`process_csv`] and [`process_xlsx`]: enough to keep every core
/// busy, small enough to keep the chunk's copies (a few MB) in the caches.
const ROW_CHUNK: usize = 16_384;

/// Rows of a CSV or XLSX chunk given together to [`RowLocator::locate_all`] (one task
/// per batch, on all cores).
pub const LOCATE_BATCH: usize = 4_096;

/// Where rows are: what [`process_csv`], [`process_xlsx`], [`process_table`] and
/// [`process_path`] ask for each readable row (`RowInput::Invalid` rows are written as
/// `non localisé` without asking). Any `Fn(&RowInput) -> RowResult` closure is one.
pub trait RowLocator<'r>: Sync {
    /// The result of one row.
    fn locate(&self, row: &RowInput<'_>) -> RowResult<'r>;

    /// The results of several rows, in their order (exactly one per row). By default
    /// [`RowLocator::locate`] row by row; a locator that answers many points at once
    /// faster than one by one (a spatial index in batch mode) overrides it. CSV and XLSX
    /// files are located through it, by batches of [`LOCATE_BATCH`] rows.
    fn locate_all(&self, rows: &[RowInput<'_>]) -> Vec<RowResult<'r>> {
        rows.iter().map(|r| self.locate(r)).collect()
    }
}

impl<'r, F> RowLocator<'r> for F
where
    F: Fn(&RowInput<'_>) -> RowResult<'r> + Sync,
{
    fn locate(&self, row: &RowInput<'_>) -> RowResult<'r> {
        self(row)
    }
}

/// What is written for one row: its result and, for a row that could not be read, its
/// French error (also its message).
type Outcome<'r> = (RowResult<'r>, Option<String>);

/// The outcome of a CSV record whose shape does not match the header (missing fields,
/// non-empty extra fields, unbalanced quotes...), if it does not.
fn csv_shape_outcome<'r>(rec: &Record<'_>, expected: usize) -> Option<Outcome<'r>> {
    let len = rec.len();
    let extra_nonempty =
        len > expected && (expected..len).any(|i| !rec.get(i).unwrap_or("").trim().is_empty());
    let mut msg = shape_problem(rec.problem, len, expected, extra_nonempty)?;
    if extra_nonempty {
        let extra: Vec<String> = (expected..len)
            .map(|i| format!("« {} »", rec.get(i).unwrap_or("")))
            .collect();
        msg.push_str(&format!(" (colonnes en trop : {})", extra.join(" ; ")));
    }
    Some((RowResult::new(Status::NotLocated), Some(msg)))
}

/// Outcomes of the `n` rows of `chunk`, in order, into `out`, for CSV and XLSX alike:
/// each batch of [`LOCATE_BATCH`] rows is interpreted and located by one task (all
/// cores), its readable rows together through [`RowLocator::locate_all`]. `interpret`
/// gives row `j`'s input, read from `chunk` into the row's own scratch buffer, or its
/// outcome (boxed: rare) when the row cannot be read; a [`RowInput::Invalid`] row gets
/// a `non localisé` result with the French reason, also kept for the summary's error
/// list. `scratches` holds one buffer per row (reused from chunk to chunk), so that the
/// inputs of a whole batch are alive at once.
fn chunk_outcomes<'r, D, S, I>(
    chunk: &D,
    n: usize,
    locator: &impl RowLocator<'r>,
    scratches: &mut Vec<S>,
    out: &mut Vec<Outcome<'r>>,
    interpret: I,
) where
    D: Sync + ?Sized,
    S: Default + Send,
    I: for<'s> Fn(&'s D, usize, &'s mut S) -> Result<RowInput<'s>, Box<Outcome<'r>>> + Sync,
{
    if scratches.len() < n {
        scratches.resize_with(n, S::default);
    }
    out.clear();
    out.resize_with(n, || (RowResult::new(Status::NotLocated), None));
    out.par_chunks_mut(LOCATE_BATCH)
        .zip(scratches[..n].par_chunks_mut(LOCATE_BATCH))
        .enumerate()
        .for_each(|(b, (outs, scratches))| {
            let base = b * LOCATE_BATCH;
            let mut inputs = Vec::with_capacity(outs.len());
            let mut at = Vec::with_capacity(outs.len());
            for (j, (o, scratch)) in outs.iter_mut().zip(scratches.iter_mut()).enumerate() {
                match interpret(chunk, base + j, scratch) {
                    Ok(RowInput::Invalid(m)) => {
                        *o = (RowResult::not_located(m.to_string()), Some(m.to_string()))
                    }
                    Ok(row) => {
                        inputs.push(row);
                        at.push(j);
                    }
                    Err(outcome) => *o = *outcome,
                }
            }
            let results = locator.locate_all(&inputs);
            // A locator that loses or adds rows would shift every later row: a bug in
            // that locator, not bad input.
            assert_eq!(
                results.len(),
                inputs.len(),
                "RowLocator::locate_all: one result per row"
            );
            for (j, r) in at.into_iter().zip(results) {
                outs[j] = (r, None);
            }
        });
}

/// A chunk of records read by [`read_chunks`], and the read error that ended the input
/// after them, if any.
type ReadChunk = (RecordChunk, Option<io::Error>);

/// A chunk of records and the outcomes of its rows, from the locating stage of
/// [`process_csv`] to its writing stage.
type Located<'r> = (RecordChunk, Vec<Outcome<'r>>);

/// The reading side of [`process_csv`], on a thread of its own: fills the chunks that
/// come back on `empty` with up to [`ROW_CHUNK`] records each and sends them on `full`,
/// the first one in a chunk of its own. Stops after the last records (a short chunk, or
/// one that carries the read error that stopped the input), or as soon as the other side
/// hangs up (it returned early, on a write error).
fn read_chunks<R: io::BufRead>(
    records: &mut CsvRecords<R>,
    full: mpsc::SyncSender<ReadChunk>,
    empty: mpsc::Receiver<RecordChunk>,
) {
    let mut chunk = RecordChunk::default();
    loop {
        chunk.clear();
        let mut error = None;
        while chunk.len() < ROW_CHUNK {
            match records.next_record() {
                None => break,
                Some(Ok(rec)) => chunk.push(&rec),
                Some(Err(e)) => {
                    // The rows read before it are still written.
                    error = Some(e);
                    break;
                }
            }
        }
        let last = chunk.len() < ROW_CHUNK || error.is_some();
        if full.send((chunk, error)).is_err() || last {
            return;
        }
        chunk = match empty.recv() {
            Ok(c) => c,
            Err(_) => return,
        };
    }
}

/// The writing stage of [`process_csv`]: writes the located rows in their order (the
/// input's columns, then the added ones) and keeps the summary.
struct CsvRowWriter<W: Write, P> {
    w: BufWriter<W>,
    summary: Summary,
    progress: P,
    /// Rows between two progress reports.
    every: u64,
    /// Columns of the header.
    expected: usize,
    sep: u8,
    /// Decimal comma in the added numbers.
    comma: bool,
    max_errors: usize,
}

impl<W: Write, P: FnMut(u64)> CsvRowWriter<W, P> {
    /// Writes the rows of `chunk` with their `outcomes` (drained, so that the vector is
    /// reused).
    fn write_chunk(
        &mut self,
        chunk: &RecordChunk,
        outcomes: &mut Vec<Outcome<'_>>,
    ) -> Result<(), TableError> {
        let (sep, w) = (self.sep, &mut self.w);
        for (k, (result, error)) in outcomes.drain(..).enumerate() {
            let rec = chunk.get(k);
            self.summary.rows += 1;
            // Input columns, unchanged when the row is whole.
            let raw = if rec.problem.is_none() && rec.len() == self.expected {
                rec.raw_utf8()
            } else {
                None
            };
            if let Some(raw) = raw {
                w.write_all(raw)?;
            } else {
                for i in 0..self.expected {
                    if i > 0 {
                        w.write_all(&[sep])?;
                    }
                    write_field(w, rec.get(i).unwrap_or("").as_bytes(), sep)?;
                }
            }
            self.summary.record(&result);
            let msg: &str = match &error {
                Some(m) => {
                    self.summary.error(rec.line, m.clone(), self.max_errors);
                    m
                }
                None => &result.message,
            };
            write_added(w, &result, msg, sep, self.comma)?;
            if self.summary.rows.is_multiple_of(self.every) {
                (self.progress)(self.summary.rows);
            }
        }
        Ok(())
    }

    /// Flushes the output and reports the final progress.
    fn finish(mut self) -> Result<Summary, TableError> {
        self.w.flush()?;
        (self.progress)(self.summary.rows);
        Ok(self.summary)
    }
}

/// Processes a CSV stream: see the [module documentation](self). The input
/// is streamed (16,384 records at a time, each chunk read on a thread of its own
/// while the one before is located on all cores and written) and the output
/// buffered.
/// `locate` is asked for every readable row, by batches of [`LOCATE_BATCH`]
/// rows ([`RowLocator::locate_all`]; `RowInput::Invalid` rows are written as
/// `non localisé` without asking); `progress` receives the
/// number of rows done every [`ProcessOptions::progress_every`] rows and at
/// the end.
pub fn process_csv<'r, R, W, F, P>(
    mut input: R,
    output: W,
    opts: &ProcessOptions,
    locate: F,
    progress: P,
) -> Result<Summary, TableError>
where
    R: Read + Send,
    W: Write + Send,
    F: RowLocator<'r>,
    P: FnMut(u64) + Send,
{
    let sample = read_sample(&mut input, 1 << 16)?;
    let mut dialect: CsvDialect = sniff_csv(&sample)?;
    if let Some(sep) = opts.separator {
        dialect.separator = sep;
    }
    if let Some(enc) = opts.encoding {
        dialect.encoding = enc;
    }
    let sep = dialect.separator;
    let comma = opts.decimal_comma.unwrap_or(sep == b';');
    let reader = BufReader::with_capacity(1 << 18, io::Cursor::new(sample).chain(input));
    let mut records = CsvRecords::new(reader, dialect);
    let mut summary = Summary::default();
    let headers: Vec<String> = match records.next_record() {
        None => return Err(TableError::Empty),
        Some(rec) => rec?.iter().map(|s| s.trim().to_string()).collect(),
    };
    let expected = headers.len();
    records.set_expected_fields(expected);
    let mapping: ColumnMapping = detect_columns(&headers, &opts.columns)?;
    summary.notes.push(mapping.describe());
    summary.notes.push(format!(
        "Fichier CSV, séparateur {}, encodage {}{}.",
        crate::table::separator_label(sep),
        dialect.encoding.label(),
        if dialect.encoding == TextEncoding::Windows1252 {
            " (converti en UTF-8 dans le résultat)"
        } else {
            ""
        }
    ));

    let mut w = BufWriter::with_capacity(1 << 18, output);
    if opts.csv_bom {
        w.write_all(b"\xEF\xBB\xBF")?;
    }
    for (i, h) in headers.iter().enumerate() {
        if i > 0 {
            w.write_all(&[sep])?;
        }
        write_field(&mut w, h.as_bytes(), sep)?;
    }
    for n in added_names(&headers) {
        w.write_all(&[sep])?;
        write_field(&mut w, n.as_bytes(), sep)?;
    }
    w.write_all(b"\r\n")?;

    // Rows go by chunks, in three stages that overlap: a thread reads the next chunk
    // while the rows of this one are interpreted and located on all cores, and another
    // thread writes the one before in order. Measured on 10 M rows of lon/lat on
    // 2 cores, reading and writing each took about a quarter of the time when done
    // between the locating of two chunks.
    let every = opts.progress_every.max(1);
    let mut scratches: Vec<RowScratch> = Vec::new();
    let (summary, read_error) = std::thread::scope(|scope| {
        let (full_tx, full_rx) = mpsc::sync_channel::<ReadChunk>(1);
        let (empty_tx, empty_rx) = mpsc::channel::<RecordChunk>();
        let (located_tx, located_rx) = mpsc::sync_channel::<Located<'r>>(1);
        let (spare_tx, spare_rx) = mpsc::channel::<Vec<Outcome<'r>>>();
        let records = &mut records;
        scope.spawn(move || read_chunks(records, full_tx, empty_rx));
        // Chunks in turn: read, located, written. A failed send means the reader has
        // stopped (its last chunk is sent) and needs no more.
        for _ in 0..2 {
            let _ = empty_tx.send(RecordChunk::default());
        }
        let mut rows = CsvRowWriter {
            w,
            summary,
            progress,
            every,
            expected,
            sep,
            comma,
            max_errors: opts.max_errors,
        };
        let writer = scope.spawn(move || -> Result<Summary, TableError> {
            for (chunk, mut outcomes) in located_rx {
                rows.write_chunk(&chunk, &mut outcomes)?;
                let _ = empty_tx.send(chunk);
                let _ = spare_tx.send(outcomes);
            }
            rows.finish()
        });
        let mut read_error = None;
        for (chunk, error) in full_rx.iter() {
            let mut outcomes = spare_rx.try_recv().unwrap_or_default();
            chunk_outcomes(
                &chunk,
                chunk.len(),
                &locate,
                &mut scratches,
                &mut outcomes,
                |chunk, k, scratch: &mut RowScratch| {
                    let rec = chunk.get(k);
                    match csv_shape_outcome(&rec, expected) {
                        Some(outcome) => Err(Box::new(outcome)),
                        None => Ok(mapping.interpret(&rec, scratch)),
                    }
                },
            );
            // The writer stops only on a write error, which its result gives below.
            if located_tx.send((chunk, outcomes)).is_err() || error.is_some() {
                read_error = error;
                break;
            }
        }
        drop(located_tx);
        let summary = writer
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (summary, read_error)
    });
    let summary = summary?;
    match read_error {
        // The rows read before it are written.
        Some(e) => Err(e.into()),
        None => Ok(summary),
    }
}

// ---------------------------------------------------------------------------
// XLSX
// ---------------------------------------------------------------------------

fn xlsx_err(e: rust_xlsxwriter::XlsxError) -> TableError {
    TableError::XlsxWrite(e.to_string())
}

/// Processes an XLSX workbook: reads the chosen (or first) sheet and writes
/// a workbook with one sheet of the same name, cells keeping their type,
/// followed by the added columns. A note lists the sheets not processed.
pub fn process_xlsx<'r, R, W, F, P>(
    input: R,
    output: W,
    opts: &ProcessOptions,
    locate: F,
    mut progress: P,
) -> Result<Summary, TableError>
where
    R: Read + Seek,
    W: Write + Seek + Send,
    F: RowLocator<'r>,
    P: FnMut(u64),
{
    use calamine::Data;
    use rust_xlsxwriter::{Format, Workbook};

    let table = XlsxTable::open(input, opts.sheet.as_deref())?;
    let headers = table.headers();
    let mapping = detect_columns(&headers, &opts.columns)?;
    let mut summary = Summary {
        sheet: Some(SheetInfo {
            name: table.sheet.clone(),
            count: table.sheets.len(),
        }),
        ..Summary::default()
    };
    summary.notes.push(mapping.describe());
    if let Some(n) = table.note() {
        summary.notes.push(n);
    }

    let mut wb = Workbook::new();
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let datetime = Format::new().set_num_format("dd/mm/yyyy hh:mm");
    let ws = wb.add_worksheet_with_constant_memory();
    let mut sheet_name: String = table
        .sheet
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if sheet_name.trim().is_empty() {
        sheet_name = "Résultat".to_string();
    }
    ws.set_name(&sheet_name).map_err(xlsx_err)?;

    let width = table.width().max(headers.len());
    let col0 = table.first_column() as u16;
    for (i, h) in headers.iter().enumerate() {
        if !h.is_empty() {
            ws.write_string_with_format(0, col0 + i as u16, h, &bold)
                .map_err(xlsx_err)?;
        }
    }
    let added_col = col0 + width as u16;
    for (j, n) in added_names(&headers).iter().enumerate() {
        ws.write_string_with_format(0, added_col + j as u16, n, &bold)
            .map_err(xlsx_err)?;
    }

    // As for CSV: the rows of a chunk are interpreted and located on all cores, then
    // written in order on this thread.
    let rows: Vec<(u64, &[Data])> = table.rows().collect();
    let mut outcomes: Vec<Outcome<'r>> = Vec::new();
    // Per row: the interpretation buffer, and the row's cells as text.
    let mut scratches: Vec<(RowScratch, Vec<String>)> = Vec::new();
    let mut error_text = String::new();
    let every = opts.progress_every.max(1);
    let mut out_row: u32 = 0;
    for chunk in rows.chunks(ROW_CHUNK) {
        chunk_outcomes(
            chunk,
            chunk.len(),
            &locate,
            &mut scratches,
            &mut outcomes,
            |chunk, k, (scratch, cells): &mut (RowScratch, Vec<String>)| {
                let row = chunk[k].1;
                cells.resize(row.len(), String::new());
                for (cell, c) in cells.iter_mut().zip(row) {
                    cell_to_string(c, cell);
                }
                let fields: &[String] = cells;
                Ok(mapping.interpret(&fields, scratch))
            },
        );
        for (&(line, row), (result, error)) in chunk.iter().zip(outcomes.drain(..)) {
            out_row += 1;
            summary.rows += 1;
            for (i, c) in row.iter().enumerate() {
                let col = col0 + i as u16;
                match c {
                    Data::Empty => {}
                    Data::String(s) => {
                        ws.write_string(out_row, col, s).map_err(xlsx_err)?;
                    }
                    Data::Float(f) => {
                        ws.write_number(out_row, col, *f).map_err(xlsx_err)?;
                    }
                    Data::Int(n) => {
                        ws.write_number(out_row, col, *n as f64).map_err(xlsx_err)?;
                    }
                    Data::Bool(b) => {
                        ws.write_boolean(out_row, col, *b).map_err(xlsx_err)?;
                    }
                    Data::DateTime(d) => {
                        let v = d.as_f64();
                        let f = if v.fract() == 0.0 { &date } else { &datetime };
                        ws.write_number_with_format(out_row, col, v, f)
                            .map_err(xlsx_err)?;
                    }
                    Data::DateTimeIso(s) | Data::DurationIso(s) => {
                        ws.write_string(out_row, col, s).map_err(xlsx_err)?;
                    }
                    Data::Error(_) => {
                        cell_to_string(c, &mut error_text);
                        ws.write_string(out_row, col, &error_text)
                            .map_err(xlsx_err)?;
                    }
                }
            }
            if let Some(m) = error {
                summary.error(line, m, opts.max_errors);
            }
            summary.record(&result);
            let c = added_col;
            let strings = [
                (0u16, result.qpv_code.as_ref()),
                (1, result.qpv_nom.as_ref()),
                (2, result.autres_perimetres.as_ref()),
                (3, result.status.label()),
                (6, result.message.as_ref()),
            ];
            for (j, s) in strings {
                if !s.is_empty() {
                    ws.write_string(out_row, c + j, s).map_err(xlsx_err)?;
                }
            }
            if let Some(d) = result.distance_qpv_m.filter(|d| d.is_finite()) {
                ws.write_number(out_row, c + 4, d.round())
                    .map_err(xlsx_err)?;
            }
            if let Some(s) = result.score_geocodage.filter(|s| s.is_finite()) {
                ws.write_number(out_row, c + 5, (s * 100.0).round() / 100.0)
                    .map_err(xlsx_err)?;
            }
            if summary.rows.is_multiple_of(every) {
                progress(summary.rows);
            }
        }
    }
    wb.save_to_writer(output).map_err(xlsx_err)?;
    progress(summary.rows);
    Ok(summary)
}

// ---------------------------------------------------------------------------
// Dispatch
// ---------------------------------------------------------------------------

/// Processes a table whose format is taken from [`ProcessOptions::format`]
/// or detected from its first bytes (`PK` → XLSX, otherwise CSV). The output
/// has the input's format.
pub fn process_table<'r, R, W, F, P>(
    mut input: R,
    output: W,
    opts: &ProcessOptions,
    locate: F,
    progress: P,
) -> Result<Summary, TableError>
where
    R: Read + Seek + Send,
    W: Write + Seek + Send,
    F: RowLocator<'r>,
    P: FnMut(u64) + Send,
{
    let format = match opts.format {
        Some(f) => f,
        None => {
            let mut head = [0u8; 4];
            let mut n = 0;
            while n < 4 {
                let k = input.read(&mut head[n..])?;
                if k == 0 {
                    break;
                }
                n += k;
            }
            input.seek(SeekFrom::Start(0))?;
            TableFormat::detect(&head[..n], None)
        }
    };
    match format {
        TableFormat::Csv => process_csv(input, output, opts, locate, progress),
        TableFormat::Xlsx => process_xlsx(input, output, opts, locate, progress),
    }
}

/// What the UI shows before processing: format, dialect, sheets, header,
/// detected columns and the first rows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TablePreview {
    /// Detected or forced format.
    pub format: TableFormat,
    /// CSV: separator.
    pub separator: Option<char>,
    /// CSV: encoding.
    pub encoding: Option<TextEncoding>,
    /// XLSX: all sheet names.
    pub sheets: Vec<String>,
    /// XLSX: the sheet read.
    pub sheet: Option<String>,
    /// Header cells.
    pub headers: Vec<String>,
    /// French description of the columns that will be used
    /// ([`ColumnMapping::describe`]), when detection succeeded.
    pub columns: Option<String>,
    /// French reason why no location column was found, otherwise.
    pub column_error: Option<String>,
    /// French notes (other sheets...).
    pub notes: Vec<String>,
    /// First data rows, as text.
    pub rows: Vec<Vec<String>>,
}

/// Reads the beginning of a table without processing it, for a preview
/// screen where the user can check or choose the location columns. Only
/// fatal problems (not a table, unreadable workbook) are errors; a failed
/// column detection is reported in [`TablePreview::column_error`].
pub fn inspect_table<R: Read + Seek>(
    mut input: R,
    opts: &ProcessOptions,
    max_rows: usize,
) -> Result<TablePreview, TableError> {
    let format = match opts.format {
        Some(f) => f,
        None => {
            let head = read_sample(&mut input, 4)?;
            input.seek(SeekFrom::Start(0))?;
            TableFormat::detect(&head, None)
        }
    };
    let mut preview = TablePreview {
        format,
        separator: None,
        encoding: None,
        sheets: Vec::new(),
        sheet: None,
        headers: Vec::new(),
        columns: None,
        column_error: None,
        notes: Vec::new(),
        rows: Vec::new(),
    };
    match format {
        TableFormat::Csv => {
            let sample = read_sample(&mut input, 1 << 16)?;
            let mut dialect = sniff_csv(&sample)?;
            if let Some(sep) = opts.separator {
                dialect.separator = sep;
            }
            if let Some(enc) = opts.encoding {
                dialect.encoding = enc;
            }
            preview.separator = Some(dialect.separator as char);
            preview.encoding = Some(dialect.encoding);
            let reader = BufReader::new(io::Cursor::new(sample).chain(input));
            let mut records = CsvRecords::new(reader, dialect);
            match records.next_record() {
                None => return Err(TableError::Empty),
                Some(rec) => preview.headers = rec?.iter().map(|s| s.trim().to_string()).collect(),
            }
            records.set_expected_fields(preview.headers.len());
            while preview.rows.len() < max_rows {
                match records.next_record() {
                    Some(rec) => preview.rows.push(rec?.iter().map(str::to_string).collect()),
                    None => break,
                }
            }
        }
        TableFormat::Xlsx => {
            let table = XlsxTable::open(input, opts.sheet.as_deref())?;
            preview.headers = table.headers();
            preview.sheets = table.sheets.clone();
            preview.sheet = Some(table.sheet.clone());
            preview.notes.extend(table.note());
            for (_, row) in table.rows().take(max_rows) {
                preview.rows.push(
                    row.iter()
                        .map(|c| {
                            let mut s = String::new();
                            cell_to_string(c, &mut s);
                            s
                        })
                        .collect(),
                );
            }
        }
    }
    match detect_columns(&preview.headers, &opts.columns) {
        Ok(m) => preview.columns = Some(m.describe()),
        Err(e) => preview.column_error = Some(e.to_string()),
    }
    Ok(preview)
}

/// Convenience wrapper over [`process_table`] for files on disk.
pub fn process_path<'r, F, P>(
    input: &Path,
    output: &Path,
    opts: &ProcessOptions,
    locate: F,
    progress: P,
) -> Result<Summary, TableError>
where
    F: RowLocator<'r>,
    P: FnMut(u64) + Send,
{
    let inp = std::fs::File::open(input)?;
    let out = std::fs::File::create(output)?;
    let mut opts = opts.clone();
    if opts.format.is_none() {
        let name = input.file_name().and_then(|s| s.to_str()).unwrap_or("");
        if name.to_ascii_lowercase().ends_with(".xlsx") {
            opts.format = Some(TableFormat::Xlsx);
        }
    }
    process_table(inp, out, &opts, locate, progress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn locate_simple(row: &RowInput<'_>) -> RowResult<'static> {
        match row {
            RowInput::Wgs84 { lon, .. } if *lon > 3.0 => RowResult {
                distance_qpv_m: Some(120.4),
                ..RowResult::in_qpv("QN05971M", "Secteur Ouest")
            },
            RowInput::Wgs84 { .. } | RowInput::Lambert93 { .. } => RowResult {
                distance_qpv_m: Some(1530.0),
                ..RowResult::new(Status::OutsideQpv)
            },
            RowInput::Address(a) if a.contains("Lille") => RowResult {
                score_geocodage: Some(0.876),
                message: Cow::Owned(format!("géocodé : {a}")),
                ..RowResult::new(Status::ToCheck)
            },
            _ => RowResult::not_located("adresse introuvable"),
        }
    }

    fn run_csv(input: &[u8], opts: &ProcessOptions) -> (Summary, String) {
        let mut out = Vec::new();
        let s = process_csv(input, &mut out, opts, locate_simple, |_| {}).unwrap();
        (s, String::from_utf8(out).unwrap())
    }

    fn no_bom() -> ProcessOptions {
        ProcessOptions {
            csv_bom: false,
            ..Default::default()
        }
    }

    #[test]
    fn chunks_keep_row_order_and_errors_in_line_order() {
        // Three chunks and a bit, with ragged rows and unreadable coordinates spread
        // over them: one output row per input row, in order, and the errors by line.
        let n = 2 * ROW_CHUNK + ROW_CHUNK / 2 + 7;
        let mut input = String::from("id;lon;lat\n");
        let mut bad_lines = Vec::new();
        for i in 0..n {
            match i % 997 {
                5 => {
                    input.push_str(&format!("{i};3,1\n"));
                    bad_lines.push(i as u64 + 2);
                }
                9 => {
                    input.push_str(&format!("{i};abc;50,6\n"));
                    bad_lines.push(i as u64 + 2);
                }
                _ => input.push_str(&format!(
                    "{i};{};50,6\n",
                    if i % 2 == 0 { "3,1" } else { "2,9" }
                )),
            }
        }
        let mut out = Vec::new();
        let opts = ProcessOptions {
            max_errors: usize::MAX,
            ..ProcessOptions::default()
        };
        let summary =
            process_csv(input.as_bytes(), &mut out, &opts, locate_simple, |_| {}).unwrap();
        assert_eq!(summary.rows, n as u64);
        let text = String::from_utf8(out).unwrap();
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(rows.len(), n);
        for (i, row) in rows.iter().enumerate() {
            assert!(row.starts_with(&format!("{i};")), "row {i}: {row}");
            let in_qpv = row.contains("QN05971M");
            let expected = i % 2 == 0 && i % 997 != 5 && i % 997 != 9;
            assert_eq!(in_qpv, expected, "row {i}: {row}");
        }
        let lines: Vec<u64> = summary.errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, bad_lines);
        assert_eq!(summary.not_located, bad_lines.len() as u64);
    }

    /// `n` rows `i;lon;lat` (`;`, decimal comma), every even row in the test QPV of
    /// [`locate_simple`], after the header.
    fn numbered_rows(n: usize) -> String {
        let mut input = String::from("id;lon;lat\n");
        for i in 0..n {
            let lon = if i % 2 == 0 { "3,1" } else { "2,9" };
            input.push_str(&format!("{i};{lon};50,6\n"));
        }
        input
    }

    /// Checks that `text` holds the header and rows `0..n` of [`numbered_rows`], in
    /// order, each with its answer.
    fn assert_numbered_output(text: &str, n: usize) {
        let rows: Vec<&str> = text.lines().skip(1).collect();
        assert_eq!(rows.len(), n);
        for (i, row) in rows.iter().enumerate() {
            assert!(row.starts_with(&format!("{i};")), "row {i}: {row}");
            assert_eq!(row.contains("QN05971M"), i % 2 == 0, "row {i}: {row}");
        }
    }

    #[test]
    fn a_whole_number_of_chunks_is_read_to_its_end() {
        // The reader's last full chunk is followed by an empty one: nothing is lost,
        // nothing written twice.
        for n in [ROW_CHUNK, 2 * ROW_CHUNK] {
            let mut out = Vec::new();
            let input = numbered_rows(n);
            let mut last_progress = 0;
            let summary = process_csv(input.as_bytes(), &mut out, &no_bom(), locate_simple, |k| {
                last_progress = k
            })
            .unwrap();
            assert_eq!(summary.rows, n as u64);
            assert_eq!(last_progress, n as u64);
            assert_numbered_output(&String::from_utf8(out).unwrap(), n);
        }
    }

    /// An input that breaks off with an I/O error after `limit` bytes (a dropped
    /// connection, a damaged disk).
    struct BreaksOff {
        data: Cursor<Vec<u8>>,
        limit: u64,
    }

    impl Read for BreaksOff {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let left = self.limit.saturating_sub(self.data.position());
            if left == 0 {
                return Err(io::Error::other("connexion interrompue"));
            }
            let k = buf.len().min(left as usize);
            self.data.read(&mut buf[..k])
        }
    }

    #[test]
    fn an_input_breaking_off_in_its_second_chunk_keeps_every_row_read_before() {
        let n = 3 * ROW_CHUNK;
        let input = numbered_rows(n);
        // Cut after the header and ROW_CHUNK + ROW_CHUNK / 2 rows, past the sample read
        // to detect the dialect.
        let kept = ROW_CHUNK + ROW_CHUNK / 2;
        let limit = input
            .lines()
            .take(kept + 1)
            .map(|l| l.len() + 1)
            .sum::<usize>();
        assert!(limit > 1 << 16);
        let reader = BreaksOff {
            data: Cursor::new(input.into_bytes()),
            limit: limit as u64,
        };
        let mut out = Vec::new();
        let e = process_csv(reader, &mut out, &no_bom(), locate_simple, |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "erreur de lecture ou d'écriture : connexion interrompue",
            "the French message names the cause"
        );
        assert_numbered_output(&String::from_utf8(out).unwrap(), kept);
    }

    /// An output that fails once `room` bytes are written (a full disk), counting the
    /// writes it was asked for after that.
    struct FillsUp<'a> {
        written: usize,
        room: usize,
        refused: &'a std::sync::atomic::AtomicUsize,
    }

    impl Write for FillsUp<'_> {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.written + buf.len() > self.room {
                self.refused
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                return Err(io::Error::new(io::ErrorKind::StorageFull, "disque plein"));
            }
            self.written += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_output_stops_every_stage_at_once() {
        // The output fails in the first chunk of a long input: the call returns the
        // write error (no stage waits for another forever), the locating stops within
        // the chunks already in flight, and no write is attempted after the failure.
        let n = 40 * ROW_CHUNK;
        let input = numbered_rows(n);
        let refused = std::sync::atomic::AtomicUsize::new(0);
        let located = std::sync::atomic::AtomicUsize::new(0);
        let out = FillsUp {
            written: 0,
            room: 100_000,
            refused: &refused,
        };
        let counting = |row: &RowInput<'_>| {
            located.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            locate_simple(row)
        };
        let e = process_csv(input.as_bytes(), out, &no_bom(), counting, |_| {}).unwrap_err();
        assert_eq!(
            e.to_string(),
            "erreur de lecture ou d'écriture : disque plein",
            "the French message names the cause"
        );
        // The failed write, and the one flush that `BufWriter` tries when it is dropped.
        assert_eq!(refused.load(std::sync::atomic::Ordering::Relaxed), 2);
        // At most the chunk being written, the one sent to the writer and the one being
        // located when the writer stopped.
        assert!(located.load(std::sync::atomic::Ordering::Relaxed) <= 3 * ROW_CHUNK);
    }

    /// A locator whose batches answer from the row's own longitude (the row number over
    /// 10,000 was put there), and whose `locate` must not be called for files: it records the sizes
    /// of the batches it was given.
    struct BatchOnly<'a> {
        batches: &'a std::sync::Mutex<Vec<usize>>,
    }

    impl RowLocator<'static> for BatchOnly<'_> {
        fn locate(&self, _row: &RowInput<'_>) -> RowResult<'static> {
            panic!("file rows go through locate_all")
        }
        fn locate_all(&self, rows: &[RowInput<'_>]) -> Vec<RowResult<'static>> {
            self.batches.lock().unwrap().push(rows.len());
            rows.iter()
                .map(|r| match r {
                    RowInput::Wgs84 { lon, .. } => {
                        let mut res = RowResult::new(Status::OutsideQpv);
                        res.message = Cow::Owned(format!("n{lon:.4}"));
                        res
                    }
                    _ => RowResult::not_located("pas un point"),
                })
                .collect()
        }
    }

    #[test]
    fn csv_rows_are_located_by_batches_in_order() {
        // Two chunks and a bit, with bad rows in between: every readable row gets the
        // answer computed for it in its batch, the bad rows their own errors.
        let n = 2 * ROW_CHUNK + 3 * LOCATE_BATCH / 2 + 11;
        let mut input = String::from("id,lon,lat\n");
        let mut bad = 0;
        for i in 0..n {
            if i % 1_000 == 3 {
                input.push_str(&format!("{i},abc,50.6\n"));
                bad += 1;
            } else {
                input.push_str(&format!("{i},{:.4},50.6\n", i as f64 / 1e4));
            }
        }
        let batches = std::sync::Mutex::new(Vec::new());
        let locator = BatchOnly { batches: &batches };
        let mut out = Vec::new();
        let opts = ProcessOptions {
            max_errors: usize::MAX,
            ..ProcessOptions::default()
        };
        let summary = process_csv(input.as_bytes(), &mut out, &opts, locator, |_| {}).unwrap();
        assert_eq!(summary.rows, n as u64);
        assert_eq!(summary.not_located, bad);
        let text = String::from_utf8(out).unwrap();
        for (i, row) in text.lines().skip(1).enumerate() {
            assert!(row.starts_with(&format!("{i},")), "row {i}: {row}");
            if i % 1_000 == 3 {
                assert!(row.contains("non localisé"), "row {i}: {row}");
            } else {
                assert!(
                    row.ends_with(&format!(",n{:.4}", i as f64 / 1e4)),
                    "row {i}: {row}"
                );
            }
        }
        let batches = batches.into_inner().unwrap();
        assert_eq!(batches.iter().sum::<usize>() as u64, n as u64 - bad);
        assert!(batches.iter().all(|&b| b <= LOCATE_BATCH));
        assert!(batches.iter().any(|&b| b > LOCATE_BATCH / 2));
    }

    #[test]
    fn csv_adds_columns_in_order() {
        let (s, out) = run_csv(b"id;lon;lat\n1;3,0573;50,6292\n2;2,5;50\n3;;\n", &no_bom());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "id;lon;lat;qpv_code;qpv_nom;autres_perimetres;statut;distance_qpv_m;score_geocodage;message");
        assert_eq!(
            lines[1],
            "1;3,0573;50,6292;QN05971M;Secteur Ouest;;dans un QPV;120;;"
        );
        assert_eq!(lines[2], "2;2,5;50;;;;hors QPV;1530;;");
        assert_eq!(lines[3], "3;;;;;;non localisé;;;coordonnées vides");
        assert_eq!(lines.len(), 4);
        assert_eq!(
            (s.rows, s.located, s.in_qpv, s.outside_qpv, s.not_located),
            (3, 2, 1, 1, 1)
        );
        assert_eq!(s.per_qpv.get("QN05971M"), Some(&1));
        assert_eq!(s.errors, vec![(4, "coordonnées vides".to_string())]);
    }

    #[test]
    fn csv_comma_separator_and_decimal_point() {
        let (_, out) = run_csv(b"adresse,ville\n\"12 rue X, bat B\",Lille\n", &no_bom());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[1],
            "\"12 rue X, bat B\",Lille,,,,à vérifier,,0.88,\"géocodé : 12 rue X, bat B Lille\""
        );
    }

    #[test]
    fn csv_bom_written_by_default() {
        let (_, out) = run_csv(b"lon;lat\n3.1;50\n", &ProcessOptions::default());
        assert!(out.starts_with('\u{feff}'));
    }

    #[test]
    fn csv_ragged_and_unclosed_quote_reported_per_line() {
        let input = b"id;lon;lat;nom;a;b;c\n1;3,1;50;x;;;\n2;3,1;50;x;y\n3;3,1;50;x;;;;;\n4;3,1;50;x;;;;9\n5;3,1;50;\"x;;;\n6;3,1;50;x;;;\n";
        let (s, out) = run_csv(input, &no_bom());
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 7, "{out}");
        assert_eq!(s.rows, 6);
        assert_eq!(s.in_qpv, 3, "{s:?}");
        let rendered = s.to_french_text();
        assert!(
            rendered.contains("ligne 3 : 5 colonnes au lieu de 7"),
            "{rendered}"
        );
        assert!(
            rendered.contains("ligne 5 : 8 colonnes au lieu de 7 (colonnes en trop : « 9 »)"),
            "{rendered}"
        );
        assert!(
            rendered.contains("ligne 6 : guillemet non fermé"),
            "{rendered}"
        );
        // Short row padded so that the added columns stay aligned.
        assert_eq!(
            lines[2],
            "2;3,1;50;x;y;;;;;;non localisé;;;5 colonnes au lieu de 7"
        );
        // Trailing empty extra fields are tolerated (Excel exports).
        assert!(
            lines[3].starts_with("3;3,1;50;x;;;;QN05971M"),
            "{}",
            lines[3]
        );
        // The broken quote is re-quoted properly in the output.
        assert!(
            lines[5].starts_with("5;3,1;50;\"\"\"x\";;;;"),
            "{}",
            lines[5]
        );
        assert!(lines[6].starts_with("6;3,1;50;x;;;;QN05971M"));
    }

    #[test]
    fn csv_windows_1252_converted_to_utf8() {
        let (s, out) = run_csv(
            b"adresse;ville\n3 rue de l'\xC9glise;Li\xE9vin\n",
            &no_bom(),
        );
        assert!(out.contains("3 rue de l'Église;Liévin;"), "{out}");
        assert!(s.notes.iter().any(|n| n.contains("Windows-1252")));
    }

    #[test]
    fn csv_errors_are_french_and_stop_whole_file_only_when_fatal() {
        let mut out = Vec::new();
        let e = process_csv(
            &b"PK\x03\x04abc"[..],
            &mut out,
            &no_bom(),
            locate_simple,
            |_| {},
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Ce fichier n'est pas un fichier CSV"));
        let e = process_csv(
            &b"nom;age\nx;3\n"[..],
            &mut out,
            &no_bom(),
            locate_simple,
            |_| {},
        )
        .unwrap_err();
        assert!(e
            .to_string()
            .starts_with("Aucune colonne de localisation reconnue"));
    }

    #[test]
    fn csv_header_collision_renamed() {
        let (_, out) = run_csv(b"lon;lat;statut\n3.1;50;x\n", &no_bom());
        assert!(out
            .lines()
            .next()
            .unwrap()
            .contains(";statut;qpv_code;qpv_nom;autres_perimetres;statut_2;"));
    }

    #[test]
    fn progress_is_reported() {
        let mut data = b"lon;lat\n".to_vec();
        for _ in 0..25 {
            data.extend_from_slice(b"3.1;50\n");
        }
        let mut calls = Vec::new();
        let opts = ProcessOptions {
            progress_every: 10,
            ..no_bom()
        };
        process_csv(&data[..], Vec::new(), &opts, locate_simple, |n| {
            calls.push(n)
        })
        .unwrap();
        assert_eq!(calls, vec![10, 20, 25]);
    }

    #[test]
    fn preview_of_csv_and_xlsx() {
        let p = inspect_table(
            Cursor::new(b"nom;age\nx;3\ny;4\nz;5\n".to_vec()),
            &ProcessOptions::default(),
            2,
        )
        .unwrap();
        assert_eq!(p.format, TableFormat::Csv);
        assert_eq!(p.separator, Some(';'));
        assert_eq!(p.headers, vec!["nom", "age"]);
        assert_eq!(p.rows.len(), 2);
        assert!(p.columns.is_none());
        assert!(p
            .column_error
            .unwrap()
            .starts_with("Aucune colonne de localisation"));
        let x = make_xlsx(&[
            ("A", vec![vec!["lon", "lat"], vec!["3.1", "50.6"]]),
            ("B", vec![]),
        ]);
        let p = inspect_table(Cursor::new(x), &ProcessOptions::default(), 10).unwrap();
        assert_eq!(p.format, TableFormat::Xlsx);
        assert_eq!(p.sheets, vec!["A", "B"]);
        assert_eq!(p.rows, vec![vec!["3.1".to_string(), "50.6".to_string()]]);
        assert_eq!(
            p.columns.as_deref(),
            Some("Colonnes utilisées : longitude « lon », latitude « lat » (WGS84)")
        );
    }

    #[test]
    fn decimal_writer() {
        let mut v = Vec::new();
        write_decimal(&mut v, 0.876, 2, true).unwrap();
        v.push(b' ');
        write_decimal(&mut v, 1530.4, 0, false).unwrap();
        v.push(b' ');
        write_decimal(&mut v, -2.5, 2, false).unwrap();
        v.push(b' ');
        write_decimal(&mut v, 1.0, 2, false).unwrap();
        assert_eq!(String::from_utf8(v).unwrap(), "0,88 1530 -2.50 1.00");
    }

    #[test]
    fn summary_text() {
        let mut s = Summary {
            rows: 12345,
            in_qpv: 2,
            ..Default::default()
        };
        s.per_qpv.insert("QN05971M".into(), 2);
        s.qpv_names
            .insert("QN05971M".into(), "Secteur Ouest".into());
        s.errors.push((12, "5 colonnes au lieu de 7".into()));
        let t = s.to_french_text();
        assert!(t.starts_with("12 345 lignes traitées\n"), "{t}");
        assert_eq!(
            (fr_int(1), fr_int(1234), fr_int(123456), fr_int(1234567)),
            (
                "1".into(),
                "1 234".into(),
                "123 456".into(),
                "1 234 567".into()
            )
        );
        assert!(t.contains("  QN05971M Secteur Ouest : 2\n"));
        assert!(t.contains("1 ligne en erreur :\n  ligne 12 : 5 colonnes au lieu de 7\n"));
    }

    fn make_xlsx(sheets: &[(&str, Vec<Vec<&str>>)]) -> Vec<u8> {
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

    fn read_xlsx(bytes: Vec<u8>) -> (Vec<String>, Vec<Vec<String>>) {
        let t = XlsxTable::open(Cursor::new(bytes), None).unwrap();
        let rows = t
            .rows()
            .map(|(_, r)| {
                r.iter()
                    .map(|c| {
                        let mut s = String::new();
                        cell_to_string(c, &mut s);
                        s
                    })
                    .collect()
            })
            .collect();
        (t.sheets.clone(), rows)
    }

    #[test]
    fn xlsx_round_trip_with_several_sheets() {
        let input = make_xlsx(&[
            (
                "Adresses",
                vec![
                    vec!["id", "lon", "lat", "nom"],
                    vec!["1", "3.0573", "50.6292", "École"],
                    vec!["2", "2.5", "50", ""],
                    vec!["3", "", "", "vide"],
                ],
            ),
            ("Notes", vec![vec!["rien"]]),
            ("Brouillon", vec![vec!["x"]]),
        ]);
        let mut out = Cursor::new(Vec::new());
        let s = process_table(
            Cursor::new(input.clone()),
            &mut out,
            &ProcessOptions::default(),
            locate_simple,
            |_| {},
        )
        .unwrap();
        assert_eq!(
            (s.rows, s.in_qpv, s.outside_qpv, s.not_located),
            (3, 1, 1, 1)
        );
        let note = s.notes.iter().find(|n| n.contains("feuilles")).unwrap();
        assert_eq!(
            note,
            "Le classeur contient 3 feuilles ; seule la feuille « Adresses » (la première) a été traitée. Autres feuilles : « Notes », « Brouillon »."
        );
        let (sheets, rows) = read_xlsx(out.into_inner());
        assert_eq!(sheets, vec!["Adresses"]);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0][..4], ["1", "3.0573", "50.6292", "École"]);
        assert_eq!(
            rows[0][4..11],
            [
                "QN05971M",
                "Secteur Ouest",
                "",
                "dans un QPV",
                "120",
                "",
                ""
            ]
        );
        assert_eq!(rows[1][7], "hors QPV");
        assert_eq!(rows[2][7], "non localisé");
        assert_eq!(rows[2][10], "coordonnées vides");

        // Chosen sheet.
        let opts = ProcessOptions {
            sheet: Some("Brouillon".into()),
            ..Default::default()
        };
        let mut out = Cursor::new(Vec::new());
        let e = process_table(
            Cursor::new(input.clone()),
            &mut out,
            &opts,
            locate_simple,
            |_| {},
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("Aucune colonne de localisation"),
            "{e}"
        );
        let opts = ProcessOptions {
            sheet: Some("Inconnue".into()),
            ..Default::default()
        };
        let e =
            process_table(Cursor::new(input), &mut out, &opts, locate_simple, |_| {}).unwrap_err();
        assert_eq!(e.to_string(), "la feuille « Inconnue » n'existe pas (feuilles du classeur : « Adresses », « Notes », « Brouillon »)");
    }

    #[test]
    fn xlsx_chunks_keep_row_order_and_errors_in_line_order() {
        let n = ROW_CHUNK + ROW_CHUNK / 4;
        let ids: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let mut sheet = vec![vec!["id", "lon", "lat"]];
        for (i, id) in ids.iter().enumerate() {
            let lon = match i % 997 {
                9 => "abc",
                _ if i % 2 == 0 => "3.1",
                _ => "2.9",
            };
            sheet.push(vec![id.as_str(), lon, "50.6"]);
        }
        let input = make_xlsx(&[("Lignes", sheet)]);
        let mut out = Cursor::new(Vec::new());
        let opts = ProcessOptions {
            max_errors: usize::MAX,
            ..ProcessOptions::default()
        };
        let s = process_table(Cursor::new(input), &mut out, &opts, locate_simple, |_| {}).unwrap();
        assert_eq!(s.rows, n as u64);
        let (_, rows) = read_xlsx(out.into_inner());
        assert_eq!(rows.len(), n);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row[0], i.to_string());
            let want = match i % 997 {
                9 => "non localisé",
                _ if i % 2 == 0 => "dans un QPV",
                _ => "hors QPV",
            };
            assert_eq!(row[6], want, "row {i}");
        }
        let lines: Vec<u64> = s.errors.iter().map(|e| e.0).collect();
        let want: Vec<u64> = (0..n as u64)
            .filter(|i| i % 997 == 9)
            .map(|i| i + 2)
            .collect();
        assert_eq!(lines, want);
    }

    #[test]
    fn xlsx_rows_are_located_by_batches_in_order() {
        // As for CSV: over a chunk and a bit, every readable row of the sheet gets the
        // answer its batch computed for it, the unreadable rows their own errors.
        let n = ROW_CHUNK + LOCATE_BATCH + 7;
        let cells: Vec<(String, String)> = (0..n)
            .map(|i| {
                let lon = if i % 1_000 == 3 {
                    "abc".to_string()
                } else {
                    format!("{:.4}", i as f64 / 1e4)
                };
                (i.to_string(), lon)
            })
            .collect();
        let mut sheet = vec![vec!["id", "lon", "lat"]];
        sheet.extend(
            cells
                .iter()
                .map(|(id, lon)| vec![id.as_str(), lon.as_str(), "50.6"]),
        );
        let batches = std::sync::Mutex::new(Vec::new());
        let locator = BatchOnly { batches: &batches };
        let mut out = Cursor::new(Vec::new());
        let opts = ProcessOptions {
            max_errors: usize::MAX,
            ..ProcessOptions::default()
        };
        let input = Cursor::new(make_xlsx(&[("Lignes", sheet)]));
        let s = process_table(input, &mut out, &opts, locator, |_| {}).unwrap();
        assert_eq!(s.rows, n as u64);
        let (_, rows) = read_xlsx(out.into_inner());
        assert_eq!(rows.len(), n);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row[0], i.to_string());
            if i % 1_000 == 3 {
                assert_eq!(row[6], "non localisé", "row {i}");
            } else {
                assert_eq!(row[9], format!("n{:.4}", i as f64 / 1e4), "row {i}");
            }
        }
        let batches = batches.into_inner().unwrap();
        let bad = (0..n).filter(|i| i % 1_000 == 3).count();
        assert_eq!(batches.iter().sum::<usize>(), n - bad);
        assert!(batches.iter().all(|&b| b <= LOCATE_BATCH));
    }

    #[test]
    fn xlsx_single_sheet_has_no_note_and_address_columns_work() {
        let input = make_xlsx(&[(
            "Feuil1",
            vec![
                vec!["Adresse", "Ville"],
                vec!["12 rue X", "Lille"],
                vec!["", ""],
                vec!["3 rue Y", "Arras"],
            ],
        )]);
        let mut out = Cursor::new(Vec::new());
        let s = process_table(
            Cursor::new(input),
            &mut out,
            &ProcessOptions::default(),
            locate_simple,
            |_| {},
        )
        .unwrap();
        assert_eq!(s.rows, 2);
        assert_eq!(s.to_check, 1);
        assert!(!s.notes.iter().any(|n| n.contains("feuilles")));
        let (_, rows) = read_xlsx(out.into_inner());
        assert_eq!(rows[0][5], "à vérifier");
        assert_eq!(rows[0][7], "0.88");
        assert_eq!(rows[1][8], "adresse introuvable");
    }
}
