//! The mail outbox (platform administrators): every notification queued by the platform,
//! newest first, with its delivery status. Without an SMTP server this is where mails are
//! read, so nothing is lost.

use crate::auth::Visitor;
use crate::error::Result;
use crate::layout::{self, Frame};
use crate::AppState;
use axum::extract::State;
use axum::response::Html;
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
            p.fr-text--xs.fr-mb-0 { "nouvel essai automatique" }
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
    let pending = mails.iter().filter(|m| m.sent_at.is_none()).count();
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

#[cfg(test)]
mod tests {
    use super::when;

    #[test]
    fn dates_in_french() {
        assert_eq!(when("2025-05-12T14:03:09Z"), "12 mai 2025 à 14:03 UTC");
        assert_eq!(when("2025-05-01"), "1er mai 2025");
    }
}
