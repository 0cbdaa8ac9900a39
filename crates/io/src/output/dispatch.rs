//! The entry points that pick the format: a stream, or a file on disk.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use super::{process_csv, process_xlsx, ProcessOptions, RowLocator, Summary};
use crate::table::{TableError, TableFormat};

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
