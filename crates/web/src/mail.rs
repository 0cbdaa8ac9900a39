//! Delivery of the mail outbox. Notifications are queued in the `outbox` table in the same
//! transaction as what they announce ([`quartiers_store::outbox`]); when an SMTP server is
//! configured, [`spawn_deliverer`] sends the pending ones every few seconds and marks each
//! sent, or records the error and keeps it pending (retried later, never lost). Without an
//! SMTP server, mails stay in the outbox, where administrators read them on
//! `/admin/courriels`.
//!
//! Several app servers may share the database: each round *claims* its mails first
//! ([`Store::claim_mails`]), so a mail leaves once even when every server runs a deliverer,
//! and the retry delay of a failing mail is stored with it, so it holds for every server.

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use quartiers_store::outbox::{Mail, OutboxMail};
use quartiers_store::{Store, StoreResult};
use std::time::Duration;

/// How often the deliverer looks for pending mails.
pub const DELIVERY_INTERVAL: Duration = Duration::from_secs(5);
/// Longest wait before a mail that keeps failing is tried again.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(3600);
/// How long one SMTP exchange may take.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Pending mails claimed per round.
const BATCH: i64 = 100;
/// How long a claimed mail is reserved for the server that claimed it (a round sends at
/// most `BATCH` mails, each within [`SMTP_TIMEOUT`] in practice).
pub const CLAIM_LEASE: Duration = Duration::from_secs(600);

/// The default sender.
pub const DEFAULT_FROM: &str = "Quartiers <ne-pas-repondre@localhost>";

/// How mails leave the platform.
#[derive(Clone, PartialEq, Eq)]
pub struct MailSettings {
    /// SMTP server URL: `smtp://host:25` (no encryption), `smtp://host:587?tls=required`
    /// (STARTTLS), `smtps://user:password@host:465` (TLS); user and password
    /// percent-encoded. `None`: mails stay in the outbox (page `/admin/courriels`).
    pub smtp_url: Option<String>,
    /// Sender (`From:`), `Nom <adresse@domaine>` or `adresse@domaine`.
    pub from: String,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            smtp_url: None,
            from: DEFAULT_FROM.into(),
        }
    }
}

/// The URL with its password replaced by `***` (for logs and `Debug`).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            format!("{scheme}://{user}{hidden}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the SMTP password: never print it.
        f.debug_struct("MailSettings")
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("from", &self.from)
            .finish()
    }
}

impl MailSettings {
    /// Checks the sender and the SMTP URL; French message when unusable.
    pub fn check(&self) -> Result<(), String> {
        if let Some(url) = &self.smtp_url {
            Mailer::new(url, &self.from)?;
        } else {
            sender(&self.from)?;
        }
        Ok(())
    }
}

fn sender(from: &str) -> Result<Mailbox, String> {
    from.trim().parse::<Mailbox>().map_err(|e| {
        format!("adresse d'expéditeur « {from} » invalide ({e}) : attendu « Nom <adresse@domaine> » ou « adresse@domaine »")
    })
}

/// An SMTP connection setting and a sender.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from).finish()
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    /// Mails sent and marked sent.
    pub sent: usize,
    /// Mails that failed (error recorded, still pending, tried again later).
    pub failed: usize,
}

/// The wait before trying again a mail that failed `attempts` times: the delivery interval,
/// doubled at each failure, at most [`MAX_RETRY_DELAY`].
pub fn retry_delay(attempts: i64) -> Duration {
    let doublings = attempts.clamp(1, 12) as u32;
    DELIVERY_INTERVAL
        .saturating_mul(1u32 << doublings)
        .min(MAX_RETRY_DELAY)
}

/// A name for this deliverer in the outbox's claims (host and process).
fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "quartiers".into());
    format!("{host}:{}", std::process::id())
}

impl Mailer {
    /// A mailer for an SMTP URL (see [`MailSettings::smtp_url`]) and a sender; French
    /// message when either is unusable.
    pub fn new(smtp_url: &str, from: &str) -> Result<Mailer, String> {
        let from = sender(from)?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url.trim())
            .map_err(|e| {
                format!(
                    "adresse du serveur SMTP « {} » inutilisable ({e}) : attendu smtp://hôte:port, smtp://hôte:587?tls=required ou smtps://utilisateur:mot-de-passe@hôte:465",
                    redact_url(smtp_url)
                )
            })?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Mailer { transport, from })
    }

    /// Sends one mail (plain UTF-8 text); French message on failure.
    pub async fn send(&self, mail: &Mail) -> Result<(), String> {
        let to = mail
            .to
            .trim()
            .parse::<Mailbox>()
            .map_err(|e| format!("adresse du destinataire « {} » invalide : {e}", mail.to))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| format!("courriel impossible à composer : {e}"))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| format!("envoi refusé ou impossible : {e}"))
    }

    /// Claims the mails whose time has come and sends them, oldest first, marking each sent
    /// or recording its error (it then stays pending, tried again after [`retry_delay`]).
    pub async fn deliver_pending(&self, store: &Store, worker: &str) -> StoreResult<Round> {
        let mut round = Round::default();
        let claimed: Vec<OutboxMail> = store.claim_mails(worker, BATCH, CLAIM_LEASE).await?;
        for m in claimed {
            match self.send(&m.mail).await {
                Ok(()) => {
                    store.mark_mail_sent(m.id).await?;
                    round.sent += 1;
                }
                Err(e) => {
                    tracing::warn!(mail = m.id, error = %e, "mail not delivered, kept pending");
                    store
                        .mark_mail_failed(m.id, &e, retry_delay(m.attempts + 1))
                        .await?;
                    round.failed += 1;
                }
            }
        }
        Ok(round)
    }
}

/// Starts the background delivery of the outbox when an SMTP URL is set: a first round
/// at once, then one every [`DELIVERY_INTERVAL`]. Returns `None` (mails stay in the outbox)
/// when no SMTP URL is set or the settings are unusable (logged).
pub fn spawn_deliverer(
    store: Store,
    settings: MailSettings,
) -> Option<tokio::task::JoinHandle<()>> {
    let url = settings
        .smtp_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())?;
    let mailer = match Mailer::new(url, &settings.from) {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "mail delivery not started: mails stay in the outbox");
            return None;
        }
    };
    tracing::info!(smtp = %redact_url(url), "mail delivery started");
    Some(tokio::spawn(async move {
        let worker = worker_name();
        loop {
            match mailer.deliver_pending(&store, &worker).await {
                Ok(r) if r.sent + r.failed > 0 => {
                    tracing::info!(sent = r.sent, failed = r.failed, "mail delivery round")
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "mail delivery round failed"),
            }
            tokio::time::sleep(DELIVERY_INTERVAL).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        let s = MailSettings {
            smtp_url: Some("smtps://alice:s3cr%40t@smtp.example.fr:465/quartiers?tls=x".into()),
            from: DEFAULT_FROM.into(),
        };
        let d = format!("{s:?}");
        assert!(!d.contains("s3cr"), "{d}");
        assert!(
            d.contains("smtps://alice:***@smtp.example.fr:465/quartiers?tls=x"),
            "{d}"
        );
        assert_eq!(redact_url("smtp://relay:25"), "smtp://relay:25");
        assert_eq!(redact_url("smtp://bob@relay:25"), "smtp://bob@relay:25");
        assert_eq!(redact_url("pas une url"), "pas une url");
        let cfg = crate::Config {
            mail: s,
            ..Default::default()
        };
        assert!(!format!("{cfg:?}").contains("s3cr"));
    }

    #[test]
    fn settings_are_checked_in_french() {
        assert!(MailSettings::default().check().is_ok());
        let bad_from = MailSettings {
            smtp_url: None,
            from: "pas une adresse".into(),
        };
        assert!(bad_from.check().unwrap_err().contains("expéditeur"));
        let bad_url = MailSettings {
            smtp_url: Some("ftp://user:motdepasse@relay".into()),
            from: DEFAULT_FROM.into(),
        };
        let e = bad_url.check().unwrap_err();
        assert!(
            e.contains("serveur SMTP") && !e.contains("motdepasse"),
            "{e}"
        );
        let ok = MailSettings {
            smtp_url: Some("smtp://127.0.0.1:2525".into()),
            from: "Contrat de ville <contrat@mel.fr>".into(),
        };
        assert!(ok.check().is_ok());
    }

    #[test]
    fn failing_mails_wait_longer_and_longer() {
        assert_eq!(retry_delay(1), DELIVERY_INTERVAL * 2);
        assert_eq!(retry_delay(2), DELIVERY_INTERVAL * 4);
        assert!(retry_delay(3) > retry_delay(2));
        assert_eq!(retry_delay(40), MAX_RETRY_DELAY);
        assert_eq!(retry_delay(0), retry_delay(1), "never retried at once");
    }
}
