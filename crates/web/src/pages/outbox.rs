//! The mail outbox (platform administrators): every notification queued by the platform,
//! newest first, with its delivery status. Without an SMTP server this is where mails are
//! read, so nothing is lost.

use crate::auth::Visitor;
use crate::error::Result;
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use quartiers_domain::permissions::Action;
use quartiers_store::outbox::OutboxMail;

/// Mails shown on the page (the newest).
pub const SHOWN: i64 = 500;

/// `12 mai 2025 à 14:03 UTC` for a stored UTC timestamp.
fn when(ts: &str) -> String {
    match ts.get(11..16) {
        Some(hm) if ts.len() >= 16 => format!("{} à {hm} UTC", layout::french_date(ts)),
        _ => layout::french_date(ts),
    }
}

fn status(m: &OutboxMail) -> Markup {
    html! {
        @if let Some(sent) = &m.sent_at {
            p.fr-badge.fr-badge--success.fr-badge--sm.fr-mb-0 { "envoyé" }
            p.fr-text--xs.fr-mb-0 { "le " (when(sent)) }
        } @else if let Some(e) = &m.last_error {
            p.fr-badge.fr-badge--error.fr-badge--sm.fr-mb-0 { "erreur" }
            p.fr-text--xs.fr-mb-0.q-outbox-error { (e) }
            p.fr-text--xs.fr-mb-0 {
                (m.attempts) " essai" @if m.attempts > 1 { "s" } " en échec"
                @if let Some(next) = &m.next_attempt_at { " ; prochain essai le " (when(next)) }
            }
        } @else {
            p.fr-badge.fr-badge--info.fr-badge--sm.fr-mb-0 { "en attente" }
        }
    }
}

/// GET /admin/courriels
#[tracing::instrument(skip_all)]
pub async fn list(State(state): State<AppState>, visitor: Visitor) -> Result<Html<String>> {
    visitor.require(Action::Administer)?;
    let mails = state.store.outbox(SHOWN).await?;
    let pending = state.store.count_pending_mails().await?;
    let smtp = state.config.mail.smtp_url.is_some();
    let frame = Frame::new(&state, &visitor);
    let title = "Courriels";
    Ok(Html(
        layout::page(
            &frame,
            title,
            &[(title, String::new())],
            html! {
                h1 { "Boîte d'envoi des courriels" }
                @if smtp {
                    (layout::notice("info", "Les courriels sont envoyés par le serveur SMTP configuré, quelques secondes après leur création. Un envoi en échec reste en attente avec son erreur et est retenté automatiquement."))
                } @else {
                    (layout::notice("warning", "Aucun serveur SMTP n'est configuré (option --smtp-url de « quartiers serve ») : les courriels ne sont pas envoyés. Ils restent ici, où vous pouvez les lire et les transmettre."))
                }
                p #resume-courriels {
                    @if mails.is_empty() {
                        "Aucun courriel pour le moment."
                    } @else {
                        (mails.len()) " courriel" @if mails.len() > 1 { "s" }
                        @if mails.len() as i64 == SHOWN { " (les plus récents)" }
                        ", dont " (pending) " en attente."
                    }
                }
                // Whichever server delivers (several may share the database), a failed mail
                // waits for its next try: let the administrator bring it forward.
                @if mails.iter().any(|m| m.sent_at.is_none() && m.last_error.is_some()) {
                    form method="post" action="/admin/courriels/reessayer" {
                        input type="hidden" name="csrf" value=(visitor.csrf());
                        button.fr-btn.fr-btn--secondary.fr-icon-refresh-line.fr-btn--icon-left type="submit" {
                            "Réessayer maintenant les courriels en attente"
                        }
                    }
                }
                @if !mails.is_empty() {
                    div.fr-table { table #courriels {
                        caption { "Courriels, du plus récent au plus ancien" }
                        thead { tr {
                            th scope="col" { "Date" }
                            th scope="col" { "Destinataire" }
                            th scope="col" { "Objet et contenu" }
                            th scope="col" { "Statut" }
                        } }
                        tbody { @for m in &mails { tr id=(format!("courriel-{}", m.id)) {
                            td { time datetime=(m.created_at) { (when(&m.created_at)) } }
                            td { (m.mail.to) }
                            td {
                                p.fr-mb-1w { (m.mail.subject) }
                                details {
                                    summary { "Contenu" }
                                    pre.q-outbox-body style="white-space: pre-wrap" { (m.mail.body) }
                                }
                            }
                            td { (status(m)) }
                        } } }
                    } }
                }
            },
        )
        .into_string(),
    ))
}

/// The CSRF token of a bare button form.
#[derive(serde::Deserialize)]
pub struct ButtonForm {
    #[serde(default)]
    csrf: String,
}

/// POST /admin/courriels/reessayer: every pending mail is due now (after the SMTP settings
/// were fixed, say) instead of waiting for its next automatic try.
#[tracing::instrument(skip_all)]
pub async fn retry_now(
    State(state): State<AppState>,
    visitor: Visitor,
    Form(form): Form<ButtonForm>,
) -> Result<Response> {
    visitor.require(Action::Administer)?;
    visitor.check_csrf(&form.csrf)?;
    let n = state.store.retry_mails_now().await?;
    tracing::info!(mails = n, "pending mails made due now");
    Ok(Redirect::to("/admin/courriels").into_response())
}

#[cfg(test)]
mod tests {
    use super::when;

    #[test]
    fn dates_in_french() {
        assert_eq!(when("2025-05-12T14:03:09Z"), "12 mai 2025 à 14:03 UTC");
        assert_eq!(when("2025-05-01"), "1er mai 2025");
    }
}
