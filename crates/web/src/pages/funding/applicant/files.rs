//! Files sent by applicants: reading a multipart form under the size limit (what is over
//! it is read and thrown away, so that the browser receives the French refusal), and
//! checking that a standing document's content matches its type.

use super::MAX_FILE_BYTES;
use crate::error::Error;
use axum::extract::Multipart;

/// A file received whole (under [`MAX_FILE_BYTES`]).
#[derive(Debug)]
pub struct Upload {
    /// Name given by the browser (without any folder).
    pub file_name: String,
    /// Type declared by the browser, if any.
    pub declared_type: Option<String>,
    /// Content.
    pub bytes: Vec<u8>,
}

/// A multipart form read: its text fields, its file (if one was chosen) and whether a
/// file was over the limit (nothing of it kept).
#[derive(Debug, Default)]
pub struct Received {
    /// Text fields, in order.
    pub fields: Vec<(String, String)>,
    /// The file of `file_field`, when one was chosen.
    pub file: Option<Upload>,
    /// Name of a file refused for its size.
    pub too_large: Option<String>,
}

/// Longest text field kept (a text over it is cut: no form field of these pages needs more).
const MAX_TEXT_FIELD: usize = 200_000;

/// Reads a multipart form whose file field is `file_field`.
pub async fn read_multipart(mut multipart: Multipart, file_field: &str) -> Result<Received, Error> {
    let mut out = Received::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                out.file = None;
                out.too_large.get_or_insert_with(String::new);
                break;
            }
            Err(e) => {
                return Err(Error::BadRequest(format!(
                    "Envoi interrompu ou mal formé : {e}"
                )))
            }
        };
        let name = field.name().unwrap_or("").to_string();
        if name == file_field {
            let file_name = field
                .file_name()
                .map(|n| n.rsplit(['/', '\\']).next().unwrap_or(n).trim().to_string())
                .unwrap_or_default();
            let declared_type = field.content_type().map(str::to_string);
            let mut field = field;
            let mut bytes = Vec::new();
            let mut over = false;
            loop {
                match field.chunk().await {
                    Ok(Some(c)) => {
                        if !over && bytes.len() + c.len() > MAX_FILE_BYTES {
                            over = true;
                            bytes = Vec::new();
                        }
                        if !over {
                            bytes.extend_from_slice(&c);
                        }
                    }
                    Ok(None) => break,
                    Err(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        over = true;
                        bytes = Vec::new();
                        break;
                    }
                    Err(e) => {
                        return Err(Error::BadRequest(format!(
                            "Envoi interrompu ou mal formé : {e}"
                        )))
                    }
                }
            }
            if over {
                out.too_large = Some(file_name);
            } else if !file_name.is_empty() || !bytes.is_empty() {
                out.file = Some(Upload {
                    file_name,
                    declared_type,
                    bytes,
                });
            }
        } else {
            let mut text = field
                .text()
                .await
                .map_err(|e| Error::BadRequest(format!("Envoi interrompu ou mal formé : {e}")))?;
            if text.len() > MAX_TEXT_FIELD {
                let mut cut = MAX_TEXT_FIELD;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
            }
            out.fields.push((name, text));
        }
    }
    Ok(out)
}

/// The French refusal of a file over the limit.
pub fn too_large_message(file_name: &str) -> String {
    let what = if file_name.is_empty() {
        "Le fichier".to_string()
    } else {
        format!("Le fichier « {file_name} »")
    };
    format!(
        "{what} dépasse la taille maximale de 10 Mo : il a été refusé et rien n'en a été conservé. Réduisez-le (par exemple en l'enregistrant en PDF compressé) et envoyez-le de nouveau."
    )
}

/// The types of standing documents accepted: extension, MIME type, label, and the check
/// of the first bytes.
const TYPES: &[(&str, &str, &str)] = &[
    ("pdf", "application/pdf", "PDF"),
    ("png", "image/png", "PNG"),
    ("jpg", "image/jpeg", "JPEG"),
    ("jpeg", "image/jpeg", "JPEG"),
    ("odt", "application/vnd.oasis.opendocument.text", "ODT"),
    (
        "ods",
        "application/vnd.oasis.opendocument.spreadsheet",
        "ODS",
    ),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "DOCX",
    ),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "XLSX",
    ),
];

fn content_matches(label: &str, bytes: &[u8]) -> bool {
    match label {
        "PDF" => bytes.starts_with(b"%PDF"),
        "PNG" => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        "JPEG" => bytes.starts_with(&[0xFF, 0xD8, 0xFF]),
        // OpenDocument and Office Open XML files are zip archives.
        _ => bytes.starts_with(b"PK\x03\x04"),
    }
}

/// Checks a standing document: a known type by its extension, a content that starts as
/// that type does, and no contradicting declared type. Returns the MIME type to store.
pub fn check_document(
    file_name: &str,
    declared: Option<&str>,
    bytes: &[u8],
) -> Result<&'static str, String> {
    let shown = if file_name.is_empty() {
        "sans nom"
    } else {
        file_name
    };
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let Some((_, mime, label)) = TYPES.iter().find(|(e, _, _)| *e == ext) else {
        return Err(format!(
            "Le fichier « {shown} » n'est pas d'un type accepté : envoyez un PDF, une image PNG ou JPEG, ou un document ODT, ODS, DOCX ou XLSX."
        ));
    };
    if bytes.is_empty() {
        return Err(format!("Le fichier « {shown} » est vide."));
    }
    let declared = declared
        .map(|d| {
            d.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let contradicts = TYPES.iter().any(|(_, m, _)| *m == declared && *m != *mime)
        || (declared == "image/jpg" && *label != "JPEG");
    if contradicts || !content_matches(label, bytes) {
        return Err(format!(
            "Le contenu du fichier « {shown} » ne correspond pas à son type ({label} attendu) : il a été refusé. Vérifiez que le fichier n'est pas endommagé ou mal nommé."
        ));
    }
    Ok(mime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_must_match_the_extension() {
        assert_eq!(
            check_document("statuts.pdf", Some("application/pdf"), b"%PDF-1.7 ...").unwrap(),
            "application/pdf"
        );
        assert!(check_document("statuts.pdf", None, b"PK\x03\x04")
            .unwrap_err()
            .contains("PDF attendu"));
        assert!(check_document("rib.png", Some("image/png"), b"%PDF").is_err());
        assert!(check_document(
            "comptes.xlsx",
            Some("application/octet-stream"),
            b"PK\x03\x04rest"
        )
        .is_ok());
        assert!(check_document("photo.JPG", Some("image/jpeg"), &[0xFF, 0xD8, 0xFF, 0xE0]).is_ok());
        assert!(
            check_document("statuts.pdf", Some("image/png"), b"%PDF-1.4").is_err(),
            "declared type contradicts"
        );
        assert!(check_document("virus.exe", None, b"MZ")
            .unwrap_err()
            .contains("type accepté"));
        assert!(check_document("vide.pdf", None, b"")
            .unwrap_err()
            .contains("vide"));
    }
}
