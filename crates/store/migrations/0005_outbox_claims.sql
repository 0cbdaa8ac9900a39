-- Several app servers may share one database: each mail is claimed by one deliverer for a
-- while (`claimed_by`, `next_attempt_at`) before it is sent, so that no two servers send it;
-- after a failure `next_attempt_at` holds the time of the next try (a growing delay kept
-- with the mail, `attempts`), whichever server makes it.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_attempt_at TEXT;
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
