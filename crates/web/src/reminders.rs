//! The reminders job of `serve`: every hour, end-of-action reports due within 30 days or
//! overdue get their reminder mail ([`quartiers_store::funding::reminders`]). Each reminder
//! is recorded with its mail, so several servers running the job send it once.

use quartiers_store::Store;
use std::time::Duration;

/// How often the reminders are looked for.
pub const REMINDER_INTERVAL: Duration = Duration::from_secs(3600);

/// Starts the hourly reminders (a first round at once).
pub fn spawn_reminders(store: Store) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match store.send_report_reminders(quartiers_store::today()).await {
                Ok(r) if r.echeance + r.retard > 0 => tracing::info!(
                    due_soon = r.echeance,
                    overdue = r.retard,
                    "report reminders queued"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "report reminders round failed"),
            }
            tokio::time::sleep(REMINDER_INTERVAL).await;
        }
    })
}
