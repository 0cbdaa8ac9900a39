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
///
/// The result is written to a temporary file beside `output` and renamed over it only
/// once the whole input has been processed: a run that fails (unreadable input, unknown
/// column, full disk) leaves no empty file and keeps an earlier result. An `output` that
/// is the input itself is refused before anything is written.
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
    if let (Ok(a), Ok(b)) = (std::fs::canonicalize(input), std::fs::canonicalize(output)) {
        if a == b {
            return Err(TableError::OutputIsInput(output.display().to_string()));
        }
    }
    let output_error = |e: std::io::Error| TableError::Output {
        path: output.display().to_string(),
        reason: french_io_reason(&e),
    };
    let dir = match output.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".quartiers-").suffix(".part");
    // A temporary file is private (0600); the result is an ordinary file, readable as one
    // written directly would be.
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut out = builder.tempfile_in(dir).map_err(output_error)?;
    let mut opts = opts.clone();
    if opts.format.is_none() {
        let name = input.file_name().and_then(|s| s.to_str()).unwrap_or("");
        if name.to_ascii_lowercase().ends_with(".xlsx") {
            opts.format = Some(TableFormat::Xlsx);
        }
    }
    let summary = process_table(inp, out.as_file_mut(), &opts, locate, progress)?;
    out.persist(output).map_err(|e| output_error(e.error))?;
    Ok(summary)
}

/// The French reason of an I/O error on the output file.
fn french_io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "le dossier n'existe pas".into(),
        std::io::ErrorKind::PermissionDenied => "permission refusée".into(),
        std::io::ErrorKind::StorageFull => "disque plein".into(),
        std::io::ErrorKind::IsADirectory => "c'est un dossier".into(),
        _ => format!("erreur du système ({e})"),
    }
}
