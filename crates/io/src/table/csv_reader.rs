//! The streaming CSV reader: physical lines split into records (quotes spanning
//! lines, unclosed quotes recovered line by line) and decoded to UTF-8.

use std::collections::VecDeque;
use std::io::{self, BufRead};

use super::{CsvDialect, Record, RecordProblem, TextEncoding};

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
