//! CSV processing in three stages that overlap: a thread reads chunks of records,
//! the rows of each are located on all cores, another thread writes them in order.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::sync::mpsc;

use super::added_columns::added_names;
use super::csv_writer::{write_field, CsvRowWriter};
use super::locate::{chunk_outcomes, Outcome, ROW_CHUNK};
use super::{ProcessOptions, RowLocator, RowResult, Status, Summary};
use crate::table::{
    detect_columns, read_sample, sniff_csv, ColumnMapping, CsvDialect, CsvRecords, Record,
    RecordChunk, RecordProblem, RowScratch, TableError, TextEncoding,
};

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

/// Processes a CSV stream: see the [module documentation](super). The input
/// is streamed (16,384 records at a time, each chunk read on a thread of its own
/// while the one before is located on all cores and written) and the output
/// buffered.
/// `locate` is asked for every readable row, by batches of
/// [`LOCATE_BATCH`](super::LOCATE_BATCH) rows ([`RowLocator::locate_all`]; `RowInput::Invalid` rows are written as
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
