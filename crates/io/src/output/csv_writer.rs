//! The writing stage of the CSV pipeline: fields, numbers and added columns of each
//! row, in order, with the summary kept on the way.

use std::io::{self, BufWriter, Write};

use super::locate::Outcome;
use super::{RowResult, Summary};
use crate::table::{RecordChunk, TableError};

/// Writes one CSV field, quoting it when it contains the separator, a quote
/// or a line break.
#[inline]
pub(super) fn write_field<W: Write>(w: &mut W, v: &[u8], sep: u8) -> io::Result<()> {
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

/// The writing stage of [`process_csv`](super::process_csv): writes the located rows in
/// their order (the input's columns, then the added ones) and keeps the summary.
pub(super) struct CsvRowWriter<W: Write, P> {
    pub(super) w: BufWriter<W>,
    pub(super) summary: Summary,
    pub(super) progress: P,
    /// Rows between two progress reports.
    pub(super) every: u64,
    /// Columns of the header.
    pub(super) expected: usize,
    pub(super) sep: u8,
    /// Decimal comma in the added numbers.
    pub(super) comma: bool,
    pub(super) max_errors: usize,
}

impl<W: Write, P: FnMut(u64)> CsvRowWriter<W, P> {
    /// Writes the rows of `chunk` with their `outcomes` (drained, so that the vector is
    /// reused).
    pub(super) fn write_chunk(
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
                None => {
                    self.summary
                        .located_error(rec.line, &result, self.max_errors);
                    &result.message
                }
            };
            write_added(w, &result, msg, sep, self.comma)?;
            if self.summary.rows.is_multiple_of(self.every) {
                (self.progress)(self.summary.rows);
            }
        }
        Ok(())
    }

    /// Flushes the output and reports the final progress.
    pub(super) fn finish(mut self) -> Result<Summary, TableError> {
        self.w.flush()?;
        (self.progress)(self.summary.rows);
        Ok(self.summary)
    }
}
#[cfg(test)]
mod tests {
    use super::*;

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
}
