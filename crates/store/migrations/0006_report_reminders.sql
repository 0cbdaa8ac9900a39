-- Reminders of end-of-action reports: one row per application, kind (`echeance`: due within
-- 30 days; `retard`: overdue) and due date, written in the same transaction as the mail it
-- queues. The primary key makes sending idempotent, whichever server runs the reminders and
-- however often; a due date moved by an amendment gets reminders of its own.
CREATE TABLE report_reminders (
    application_id BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    due_on TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (application_id, kind, due_on)
);
