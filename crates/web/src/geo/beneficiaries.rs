//! Beneficiaries of an action counted by priority neighbourhood, from the list of their
//! addresses uploaded with an end-of-action report: the file goes through the same batch
//! pipeline as `/quartiers-prioritaires/localiser-un-fichier` (CSV or XLSX, columns detected,
//! addresses geocoded against the loaded Base Adresse Nationale) and only the counts are
//! kept. The located table the pipeline writes is thrown away as it is written, and no copy
//! of the file is made on disk: no address, no row outlives the call.

use super::GeoService;
use quartiers_domain::funding::report::BeneficiaryCounts;
use quartiers_io::output::{process_table, ProcessOptions, Summary};
use quartiers_io::table::TableFormat;
use std::io::{Cursor, Seek, SeekFrom, Write};

/// A writer that keeps nothing: the pipeline writes its located table here (it needs a
/// seekable output for XLSX), so no address is stored anywhere.
#[derive(Debug, Default)]
struct Discard {
    pos: u64,
    len: u64,
}

impl Write for Discard {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.pos += buf.len() as u64;
        self.len = self.len.max(self.pos);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for Discard {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "position négative")
        })?;
        Ok(self.pos)
    }
}

/// The counts of a processed table.
pub fn counts_of(summary: &Summary) -> BeneficiaryCounts {
    BeneficiaryCounts {
        total: summary.rows,
        located: summary.located,
        in_qpv: summary.in_qpv,
        to_check: summary.to_check,
        per_qpv: summary
            .per_qpv
            .iter()
            .map(|(code, n)| (code.clone(), *n))
            .collect(),
    }
}

/// Counts the beneficiaries of an address file (CSV or XLSX, as the batch locate page
/// accepts it, format from its first bytes and `file_name`): rows, rows located, rows
/// `dans un QPV`, rows `à vérifier`, and rows `dans un QPV` per QPV code (sorted by code).
/// Nothing of the file is kept. Errors are French messages for the person who uploaded it.
pub async fn count_beneficiaries(
    geo: &GeoService,
    file_name: &str,
    bytes: &[u8],
) -> Result<BeneficiaryCounts, String> {
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err("Le fichier des bénéficiaires est vide.".into());
    }
    let snap = geo.snapshot().await.map_err(|e| {
        tracing::error!(error = %e, "geography snapshot unavailable");
        "La géographie prioritaire est momentanément indisponible : réessayez dans un instant."
            .to_string()
    })?;
    let format = TableFormat::detect(&bytes[..bytes.len().min(4)], Some(file_name));
    // The pipeline is CPU-bound: it runs on a blocking thread, on a copy of the bytes that
    // is dropped when it ends.
    let owned = bytes.to_vec();
    let summary = tokio::task::spawn_blocking(move || {
        let opts = ProcessOptions {
            format: Some(format),
            ..ProcessOptions::default()
        };
        process_table(
            Cursor::new(owned),
            Discard::default(),
            &opts,
            snap.rows(),
            |_| {},
        )
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "beneficiaries count failed");
        "Le fichier des bénéficiaires n'a pas pu être traité.".to_string()
    })?
    .map_err(|e| {
        format!(
            "Le fichier des bénéficiaires n'a pas pu être lu : {}",
            e.to_string().trim_end_matches('.')
        ) + "."
    })?;
    Ok(counts_of(&summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discard_seeks_like_a_file() {
        let mut d = Discard::default();
        d.write_all(b"0123456789").unwrap();
        assert_eq!(d.seek(SeekFrom::Start(2)).unwrap(), 2);
        d.write_all(b"ab").unwrap();
        assert_eq!(d.stream_position().unwrap(), 4);
        assert_eq!(d.seek(SeekFrom::End(0)).unwrap(), 10);
        assert_eq!(d.seek(SeekFrom::End(-3)).unwrap(), 7);
        assert!(d.seek(SeekFrom::Current(-8)).is_err());
    }
}
