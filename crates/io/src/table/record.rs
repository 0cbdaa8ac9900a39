//! CSV records: one borrowed from the reader, and owned copies of consecutive ones.

/// A problem detected while splitting a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordProblem {
    /// A field opens a double quote that is never closed (within
    /// [`CsvRecords::MAX_CONTINUATION_LINES`](super::CsvRecords::MAX_CONTINUATION_LINES)
    /// lines or before the end of the file). The line was re-read without quote handling.
    UnclosedQuote,
}

/// One CSV record, borrowed from the [`CsvRecords`](super::CsvRecords) reader.
#[derive(Debug)]
pub struct Record<'a> {
    /// Physical line number (1-based) where the record starts.
    pub line: u64,
    /// Problem met while reading it, if any.
    pub problem: Option<RecordProblem>,
    pub(super) text: &'a str,
    pub(super) ends: &'a [usize],
    pub(super) raw: &'a [u8],
    pub(super) raw_is_utf8: bool,
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
