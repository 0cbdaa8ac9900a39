//! Uploads streamed to disk under the limit of [`Config::max_upload_bytes`]: the batch
//! locate page, the perimeter import page and `POST /api/v1/locate/batch` share these rules.
//!
//! - The file is written chunk by chunk to a temporary file of [`Config::upload_dir`], never
//!   held whole in memory.
//! - As soon as it exceeds the limit, the temporary file is deleted and the rest of the body
//!   is read and thrown away, so that the client (a browser still sending) receives the
//!   refusal, an HTTP 413 with a French message, instead of a reset connection.
//! - A client that announces a larger body and waits for `100 Continue` (curl does for large
//!   files) is refused before it sends anything.

use crate::Config;
use axum::http::{header, HeaderMap};
use futures_util::{Stream, StreamExt};
use std::io::Write;

/// What went wrong while receiving an upload.
#[derive(Debug)]
pub enum UploadError {
    /// Over [`Config::max_upload_bytes`]; nothing was kept.
    TooLarge,
    /// The body was cut or malformed (French message).
    Interrupted(String),
    /// The temporary file could not be written.
    Io(std::io::Error),
}

/// The French refusal of a file over the limit. `cli_hint`: the command that does the same
/// without limit (`quartiers locate`), if any.
pub fn too_large_message(
    config: &Config,
    file_name: Option<&str>,
    cli_hint: Option<&str>,
) -> String {
    let what = match file_name.map(str::trim).filter(|n| !n.is_empty()) {
        Some(n) => format!("Le fichier « {n} »"),
        None => "Le fichier".to_string(),
    };
    let mut m = format!(
        "{what} dépasse la taille maximale acceptée par la plateforme ({}) : il a été refusé et rien n'en a été conservé. Découpez-le en plusieurs fichiers",
        config.max_upload_fr()
    );
    match cli_hint {
        Some(c) => m.push_str(&format!(
            ", ou utilisez la ligne de commande « {c} », qui n'a pas de limite de taille."
        )),
        None => m.push('.'),
    }
    m
}

/// Whether the request announces (`Content-Length`) more than `limit` bytes plus `slack`
/// (room for the other fields of a form) while waiting for `100 Continue` before sending
/// its body: then it can be refused at once, without reading anything.
pub fn refuse_before_body(headers: &HeaderMap, limit: u64, slack: u64) -> bool {
    let expects_continue = headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"));
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    expects_continue && announced.is_some_and(|n| n > limit.saturating_add(slack))
}

/// Streams `chunks` to a new temporary file of `config`, refusing more than
/// [`Config::max_upload_bytes`] (the partial file is deleted and the rest of the stream is
/// drained and discarded).
pub async fn stream_to_temp<S, B, E>(
    config: &Config,
    chunks: S,
) -> Result<tempfile::NamedTempFile, UploadError>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    E: std::fmt::Display,
{
    let mut chunks = std::pin::pin!(chunks);
    let mut tmp = config.temp_file().map_err(UploadError::Io)?;
    let mut total = 0u64;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| {
            UploadError::Interrupted(format!("Envoi interrompu ou mal formé : {e}"))
        })?;
        let chunk = chunk.as_ref();
        total += chunk.len() as u64;
        if total > config.max_upload_bytes {
            drop(tmp); // deletes what was written
            while let Some(Ok(_)) = chunks.next().await {}
            return Err(UploadError::TooLarge);
        }
        tmp.write_all(chunk).map_err(UploadError::Io)?;
    }
    tmp.flush().map_err(UploadError::Io)?;
    Ok(tmp)
}

/// Streams one multipart field (a file) to a temporary file; see [`stream_to_temp`].
pub async fn field_to_temp(
    config: &Config,
    field: axum::extract::multipart::Field<'_>,
) -> Result<tempfile::NamedTempFile, UploadError> {
    stream_to_temp(config, field).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(limit: u64, dir: &std::path::Path) -> Config {
        Config {
            max_upload_bytes: limit,
            upload_dir: Some(dir.to_path_buf()),
            ..Config::default()
        }
    }

    fn chunks(sizes: &[usize]) -> impl Stream<Item = Result<Vec<u8>, std::convert::Infallible>> {
        futures_util::stream::iter(sizes.iter().map(|&n| Ok(vec![b'a'; n])).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn under_the_limit_is_kept_over_it_nothing_is() {
        let dir = tempfile::tempdir().unwrap();
        let c = config(1000, dir.path());
        let t = stream_to_temp(&c, chunks(&[400, 600])).await.unwrap();
        assert_eq!(t.as_file().metadata().unwrap().len(), 1000);
        drop(t);
        assert!(matches!(
            stream_to_temp(&c, chunks(&[400, 600, 1])).await,
            Err(UploadError::TooLarge)
        ));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn messages_and_early_refusal() {
        let c = Config {
            max_upload_bytes: 1 << 30,
            ..Config::default()
        };
        assert_eq!(
            too_large_message(&c, Some("gros.csv"), Some("quartiers locate")),
            "Le fichier « gros.csv » dépasse la taille maximale acceptée par la plateforme (1 Go) : il a été refusé et rien n'en a été conservé. Découpez-le en plusieurs fichiers, ou utilisez la ligne de commande « quartiers locate », qui n'a pas de limite de taille."
        );
        assert_eq!(crate::size_fr(64 * 1024), "64 Ko");
        assert_eq!(crate::size_fr(3 << 29), "1,5 Go");
        assert_eq!(crate::size_fr(10), "10 octets");
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, "2000000000".parse().unwrap());
        assert!(
            !refuse_before_body(&h, 1 << 30, 0),
            "no Expect: read and drain"
        );
        h.insert(header::EXPECT, "100-continue".parse().unwrap());
        assert!(!refuse_before_body(&h, 3 << 30, 0));
        assert!(refuse_before_body(&h, 1 << 30, 0));
    }
}
