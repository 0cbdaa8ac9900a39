//! Organisations (project carriers), their members and their standing documents.
//!
//! Anyone signed in may create an organisation (becoming its administrator and signatory).
//! Its members read and upload; its administrators add members. Pilots, instructors and
//! readers who may see one of its submitted applications may read it and its documents.

use super::super::json::{check_csrf, ApiVisitor, Json, Path, Query};
use super::super::{created, problem, PREFIX};
use super::{forbidden, signed_in, JsonBody, CSRF_DOC};
use crate::error::{ApiResult, Error, Problem};
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use quartiers_domain::funding::call::{document_label, DOCUMENT_KINDS};
use quartiers_domain::{Principal, Rna, Siret, ValidationErrors};
use quartiers_store::funding::organisations::{
    Member, NewOrganisation, Organisation, OrganisationDocument,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The largest standing document accepted (10 MB).
pub const DOCUMENT_LIMIT: usize = 10 * 1024 * 1024;

/// A new organisation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisationRequest {
    /// Name.
    pub name: String,
    /// SIRET (14 digits, Luhn-checked; spaces allowed).
    pub siret: String,
    /// RNA number (`W` + 9 digits), for associations that have one.
    #[serde(default)]
    pub rna: Option<String>,
    /// Postal address.
    #[serde(default)]
    pub address: String,
    /// Legal representative (name, role).
    #[serde(default)]
    pub legal_representative: String,
    /// Contact email, where notifications go.
    pub email: String,
}

/// An organisation with its members.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    /// The organisation.
    pub organisation: Organisation,
    /// Its members.
    pub members: Vec<Member>,
    /// Whether one of its reports is overdue (its new applications are flagged).
    pub overdue_report: bool,
}

/// Adding an existing account to an organisation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    /// Email of an existing account.
    pub email: String,
    /// Administrator of the organisation's account (adds members).
    #[serde(default)]
    pub is_admin: bool,
    /// May sign on behalf of the organisation.
    #[serde(default)]
    pub is_signatory: bool,
}

/// What describes an uploaded document (the file itself is the request body).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DocumentParams {
    /// Kind: `statuts`, `rib`, `comptes`, `dirigeants` or `rapport_activite`.
    pub kind: Option<String>,
    /// File name, as shown to the instructors (`statuts-2024.pdf`).
    pub file_name: Option<String>,
}

/// Checks the fields of a new organisation.
fn parse_organisation(r: &NewOrganisationRequest) -> ApiResult<NewOrganisation> {
    let mut e = ValidationErrors::new();
    let name = r.name.trim();
    if name.is_empty() {
        e.add("name", "Indiquez le nom de la structure.");
    } else if name.chars().count() > 300 {
        e.add("name", "Le nom dépasse 300 caractères.");
    }
    let siret = e.check("siret", Siret::parse(&r.siret));
    let rna = match r.rna.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(s) => e.check("rna", Rna::parse(s)),
        None => None,
    };
    let email = r.email.trim();
    if !email.contains('@') || email.contains(char::is_whitespace) || email.len() > 254 {
        e.add(
            "email",
            "Indiquez une adresse électronique valide (exemple : contact@association.fr).",
        );
    }
    for (field, value) in [
        ("address", &r.address),
        ("legal_representative", &r.legal_representative),
    ] {
        if value.chars().count() > 500 {
            e.add(field, "Ce champ dépasse 500 caractères.");
        }
    }
    e.into_result()?;
    Ok(NewOrganisation {
        name: name.to_string(),
        siret: siret.expect("checked"),
        rna,
        address: r.address.trim().to_string(),
        legal_representative: r.legal_representative.trim().to_string(),
        email: email.to_string(),
    })
}

/// Whether `p` may read the organisation: a member, an administrator, or someone who may
/// read one of its submitted applications (pilots, solicited instructors, readers).
pub(super) async fn may_read(state: &AppState, p: &Principal, org_id: i64) -> ApiResult<bool> {
    if p.is_admin || p.member_of(org_id) {
        return Ok(true);
    }
    if p.roles.is_empty() {
        return Ok(false);
    }
    let rows = state.store.applications_of_organisations(&[org_id]).await?;
    for r in rows.iter().filter(|r| r.status != "brouillon") {
        let scope = state.store.application_scope(r.id).await?;
        if p.can_view_application(&scope) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Members and platform administrators only (the organisation's own side).
fn require_member(p: &Principal, org_id: i64) -> ApiResult<()> {
    if p.is_admin || p.member_of(org_id) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

/// Creates an organisation; the caller becomes its administrator and signatory.
#[utoipa::path(
    post,
    path = "/api/v1/organisations",
    operation_id = "createOrganisation",
    tag = "funding",
    request_body = NewOrganisationRequest,
    params(("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC)),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = Organisation, headers(("Location" = String, description = "The organisation's URL"))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An organisation already has this SIRET", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (SIRET, RNA, email...)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn create(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    body: JsonBody,
) -> ApiResult<Response> {
    let p = signed_in(&visitor)?;
    check_csrf(&visitor, &headers)?;
    let input: NewOrganisationRequest = body.parse()?;
    let org = parse_organisation(&input)?;
    let id = state.store.create_organisation(&org, p.user_id).await?;
    let stored = state.store.organisation(id).await?;
    tracing::info!(organisation = id, "organisation created");
    Ok(created(format!("{PREFIX}/organisations/{id}"), stored))
}

/// The organisations the caller belongs to.
#[utoipa::path(
    get,
    path = "/api/v1/organisations",
    operation_id = "listMyOrganisations",
    tag = "funding",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller's organisations", body = [Organisation]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn list(
    State(state): State<AppState>,
    visitor: ApiVisitor,
) -> ApiResult<Json<Vec<Organisation>>> {
    let p = signed_in(&visitor)?;
    Ok(Json(state.store.organisations_of(p.user_id).await?))
}

/// An organisation with its members.
#[utoipa::path(
    get,
    path = "/api/v1/organisations/{id}",
    operation_id = "getOrganisation",
    tag = "funding",
    params(("id" = i64, Path, description = "Organisation id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The organisation", body = OrganisationView),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a member nor someone who may read one of its applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn show(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<OrganisationView>> {
    let p = signed_in(&visitor)?;
    if !may_read(&state, p, id).await? {
        return Err(forbidden());
    }
    Ok(Json(OrganisationView {
        organisation: state.store.organisation(id).await?,
        members: state.store.members(id).await?,
        overdue_report: state.store.has_overdue_report(id).await?,
    }))
}

/// Adds an existing account to the organisation (its administrators).
#[utoipa::path(
    post,
    path = "/api/v1/organisations/{id}/members",
    operation_id = "addOrganisationMember",
    tag = "funding",
    request_body = NewMember,
    params(
        ("id" = i64, Path, description = "Organisation id"),
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Added (or updated); the members", body = [Member]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an administrator of the organisation, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No account has this email", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn add_member(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    body: JsonBody,
) -> ApiResult<Response> {
    let p = signed_in(&visitor)?;
    if !(p.is_admin || state.store.is_organisation_admin(id, p.user_id).await?) {
        return Err(forbidden());
    }
    check_csrf(&visitor, &headers)?;
    let input: NewMember = body.parse()?;
    let email = input.email.trim();
    if state.store.user_by_email(email).await?.is_none() {
        return Err(super::super::field_error(
            "email",
            &format!("Aucun compte n'existe pour « {email} » : créez-le d'abord."),
        ));
    }
    state.store.organisation(id).await?;
    state
        .store
        .add_member(id, email, input.is_admin, input.is_signatory)
        .await?;
    Ok(created(
        format!("{PREFIX}/organisations/{id}"),
        state.store.members(id).await?,
    ))
}

/// The organisation's standing documents, current ones first, then replaced ones.
#[utoipa::path(
    get,
    path = "/api/v1/organisations/{id}/documents",
    operation_id = "listOrganisationDocuments",
    tag = "funding",
    params(("id" = i64, Path, description = "Organisation id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The documents (metadata)", body = [OrganisationDocument]),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a member nor someone who may read one of its applications", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn documents(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path(id): Path<i64>,
) -> ApiResult<Json<Vec<OrganisationDocument>>> {
    let p = signed_in(&visitor)?;
    if !may_read(&state, p, id).await? {
        return Err(forbidden());
    }
    state.store.organisation(id).await?;
    Ok(Json(state.store.documents(id).await?))
}

/// How a file type is recognised from its first bytes.
struct FileType {
    mime: &'static str,
    what: &'static str,
    magic: &'static [&'static [u8]],
    hint: &'static str,
}

/// The types accepted for standing documents.
const FILE_TYPES: &[FileType] = &[
    FileType {
        mime: "application/pdf",
        what: "un PDF",
        magic: &[b"%PDF-"],
        hint: "un PDF commence par « %PDF- »",
    },
    FileType {
        mime: "image/png",
        what: "une image PNG",
        magic: &[b"\x89PNG\r\n\x1a\n"],
        hint: "une image PNG commence par la signature PNG",
    },
    FileType {
        mime: "image/jpeg",
        what: "une image JPEG",
        magic: &[b"\xff\xd8\xff"],
        hint: "une image JPEG commence par la signature JPEG",
    },
    FileType {
        mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        what: "un document Word",
        magic: &[b"PK\x03\x04"],
        hint: "un document Office est une archive zip",
    },
    FileType {
        mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        what: "un classeur Excel",
        magic: &[b"PK\x03\x04"],
        hint: "un document Office est une archive zip",
    },
    FileType {
        mime: "application/vnd.oasis.opendocument.text",
        what: "un document OpenDocument",
        magic: &[b"PK\x03\x04"],
        hint: "un document OpenDocument est une archive zip",
    },
    FileType {
        mime: "application/vnd.oasis.opendocument.spreadsheet",
        what: "un classeur OpenDocument",
        magic: &[b"PK\x03\x04"],
        hint: "un document OpenDocument est une archive zip",
    },
];

/// Checks the declared type and the file name before the body is read.
fn check_metadata(
    params: &DocumentParams,
    headers: &HeaderMap,
) -> ApiResult<(String, String, &'static FileType)> {
    let mut e = ValidationErrors::new();
    let kind = params.kind.as_deref().map(str::trim).unwrap_or("");
    if kind.is_empty() {
        e.add(
            "kind",
            format!(
                "Indiquez la nature de la pièce (paramètre kind) : {}.",
                kinds_list()
            ),
        );
    } else if !DOCUMENT_KINDS.iter().any(|(k, _)| *k == kind) {
        e.add(
            "kind",
            format!(
                "Pièce inconnue « {kind} » ; valeurs possibles : {}.",
                kinds_list()
            ),
        );
    }
    let file_name = params.file_name.as_deref().map(str::trim).unwrap_or("");
    if file_name.is_empty() {
        e.add(
            "file_name",
            "Indiquez le nom du fichier (paramètre file_name).",
        );
    } else if file_name.chars().count() > 200
        || file_name.contains(['/', '\\'])
        || file_name.chars().any(char::is_control)
    {
        e.add(
            "file_name",
            "Le nom du fichier ne doit contenir ni barre oblique ni caractère de contrôle, et compter au plus 200 caractères.",
        );
    }
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let file_type = FILE_TYPES.iter().find(|t| t.mime == declared);
    if file_type.is_none() {
        let accepted: Vec<&str> = FILE_TYPES.iter().map(|t| t.mime).collect();
        e.add(
            "Content-Type",
            format!(
                "{} ; les types acceptés sont : {}.",
                if declared.is_empty() {
                    "Indiquez le type du fichier dans l'en-tête Content-Type".to_string()
                } else {
                    format!("Le type « {declared} » n'est pas accepté pour une pièce")
                },
                accepted.join(", ")
            ),
        );
    }
    e.into_result()?;
    Ok((
        kind.to_string(),
        file_name.to_string(),
        file_type.expect("checked"),
    ))
}

fn kinds_list() -> String {
    DOCUMENT_KINDS
        .iter()
        .map(|(k, l)| format!("{k} ({l})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads the body up to `limit` bytes; `None` when it is larger (the rest is read and
/// thrown away, so that the client receives the refusal instead of a reset connection).
async fn read_limited(body: Body, limit: usize) -> ApiResult<Option<Vec<u8>>> {
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut over = false;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Error::BadRequest(format!("L'envoi du fichier a été interrompu : {e}."))
        })?;
        if over {
            continue;
        }
        if buf.len() + chunk.len() > limit {
            over = true;
            buf = Vec::new();
            continue;
        }
        buf.extend_from_slice(&chunk);
    }
    Ok((!over).then_some(buf))
}

/// Uploads a standing document: the file is the raw request body, its type the
/// `Content-Type` header (PDF, PNG, JPEG, Word, Excel, OpenDocument), checked against the
/// content; at most 10 MB. The previous document of the same kind is marked replaced.
#[utoipa::path(
    post,
    path = "/api/v1/organisations/{id}/documents",
    operation_id = "uploadOrganisationDocument",
    tag = "funding",
    request_body(content = Vec<u8>, description = "The file, raw", content_type = "application/pdf"),
    params(
        ("id" = i64, Path, description = "Organisation id"),
        DocumentParams,
        ("X-CSRF-Token" = Option<String>, Header, description = CSRF_DOC),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Stored", body = OrganisationDocument),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not a member of the organisation, or wrong CSRF token", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over 10 MB: nothing was kept", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown kind, missing file name, type not accepted or content not matching the type", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor, headers, body))]
pub async fn upload(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    headers: HeaderMap,
    Path(id): Path<i64>,
    Query(params): Query<DocumentParams>,
    body: Body,
) -> ApiResult<Response> {
    let p = signed_in(&visitor)?;
    require_member(p, id)?;
    check_csrf(&visitor, &headers)?;
    let checked = check_metadata(&params, &headers);
    let Some(content) = read_limited(body, DOCUMENT_LIMIT).await? else {
        let name = params.file_name.as_deref().map(str::trim).unwrap_or("");
        let what = if name.is_empty() {
            "Le fichier".to_string()
        } else {
            format!("Le fichier « {name} »")
        };
        return Ok(problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            "Fichier trop volumineux",
            &format!("{what} dépasse la taille maximale d'une pièce (10 Mo) : il a été refusé et rien n'en a été conservé. Réduisez-le (numérisation en noir et blanc, compression du PDF) puis recommencez."),
        ));
    };
    let (kind, file_name, file_type) = checked?;
    if content.is_empty() {
        return Err(super::super::field_error(
            "content",
            "Le fichier est vide : joignez le fichier dans le corps de la requête.",
        ));
    }
    if !file_type.magic.iter().any(|m| content.starts_with(m)) {
        return Err(super::super::field_error(
            "content",
            &format!(
                "Le contenu du fichier « {file_name} » ne correspond pas à son type ({}) : ce n'est pas {} ({}). Vérifiez le fichier envoyé et son type.",
                file_type.mime, file_type.what, file_type.hint
            ),
        ));
    }
    state.store.organisation(id).await?;
    let doc_id = state
        .store
        .add_document(id, &kind, &file_name, file_type.mime, &content, p.user_id)
        .await?;
    let doc = state
        .store
        .documents(id)
        .await?
        .into_iter()
        .find(|d| d.id == doc_id)
        .ok_or(Error::NotFound)?;
    tracing::info!(organisation = id, kind = %kind, "document uploaded ({})", document_label(&kind));
    Ok(created(
        format!("{PREFIX}/organisations/{id}/documents/{doc_id}"),
        doc,
    ))
}

/// A file name safe for a `Content-Disposition` header (ASCII, no quotes).
fn disposition_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ' ') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.trim().is_empty() {
        "document".into()
    } else {
        cleaned
    }
}

/// The content of a standing document, with its type.
#[utoipa::path(
    get,
    path = "/api/v1/organisations/{id}/documents/{doc_id}",
    operation_id = "getOrganisationDocument",
    tag = "funding",
    params(
        ("id" = i64, Path, description = "Organisation id"),
        ("doc_id" = i64, Path, description = "Document id"),
    ),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The file, with its stored type", content_type = "application/octet-stream", body = Vec<u8>,
         headers(("Content-Disposition" = String, description = "attachment; filename=\"…\""))),
        (status = 401, description = "Not signed in", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Neither a member nor someone who may read one of its applications", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such document in this organisation", body = Problem, content_type = "application/problem+json"),
    )
)]
#[tracing::instrument(skip(state, visitor))]
pub async fn document(
    State(state): State<AppState>,
    visitor: ApiVisitor,
    Path((id, doc_id)): Path<(i64, i64)>,
) -> ApiResult<Response> {
    let p = signed_in(&visitor)?;
    if !may_read(&state, p, id).await? {
        return Err(forbidden());
    }
    let (org, doc, content) = state.store.document_content(doc_id).await?;
    if org != id {
        return Err(Error::NotFound.into());
    }
    let content_type = HeaderValue::from_str(&doc.content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    let disposition = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}\"",
        disposition_name(&doc.file_name)
    ))
    .map_err(|e| Error::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        content,
    )
        .into_response())
}
