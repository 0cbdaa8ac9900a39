//! Locating rows: the caller's [`RowLocator`], asked by batches of rows on all
//! cores, for CSV and XLSX alike.

use rayon::prelude::*;

use super::{RowResult, Status};
use crate::table::RowInput;

/// Rows per chunk of [`process_csv`](super::process_csv) and
/// [`process_xlsx`](super::process_xlsx): enough to keep every core busy, small enough to
/// keep the chunk's copies (a few MB) in the caches.
pub(super) const ROW_CHUNK: usize = 16_384;

/// Rows of a CSV or XLSX chunk given together to [`RowLocator::locate_all`] (one task
/// per batch, on all cores).
pub const LOCATE_BATCH: usize = 4_096;

/// Where rows are: what [`process_csv`](super::process_csv),
/// [`process_xlsx`](super::process_xlsx), [`process_table`](super::process_table) and
/// [`process_path`](super::process_path) ask for each readable row (`RowInput::Invalid`
/// rows are written as `non localisé` without asking). Any
/// `Fn(&RowInput) -> RowResult` closure is one.
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
pub(super) type Outcome<'r> = (RowResult<'r>, Option<String>);

/// Outcomes of the `n` rows of `chunk`, in order, into `out`, for CSV and XLSX alike:
/// each batch of [`LOCATE_BATCH`] rows is interpreted and located by one task (all
/// cores), its readable rows together through [`RowLocator::locate_all`]. `interpret`
/// gives row `j`'s input, read from `chunk` into the row's own scratch buffer, or its
/// outcome (boxed: rare) when the row cannot be read; a [`RowInput::Invalid`] row gets
/// a `non localisé` result with the French reason, also kept for the summary's error
/// list. `scratches` holds one buffer per row (reused from chunk to chunk), so that the
/// inputs of a whole batch are alive at once.
pub(super) fn chunk_outcomes<'r, D, S, I>(
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
