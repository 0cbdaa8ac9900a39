-- The funding cycle: organisations and their standing documents, financers, calls for
-- projects with envelopes, applications with their financer lines, the audit of every
-- transition, messages, programming committees, agreements, payments, end-of-action
-- reports, and the mail outbox (written in the same transaction as what it announces).

CREATE TABLE organisations (
    id {{pk}},
    name TEXT NOT NULL,
    siret TEXT NOT NULL UNIQUE,
    rna TEXT,
    address TEXT NOT NULL,
    legal_representative TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE organisation_members (
    organisation_id BIGINT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    is_admin BIGINT NOT NULL,
    is_signatory BIGINT NOT NULL,
    PRIMARY KEY (organisation_id, user_id)
);
CREATE INDEX organisation_members_user ON organisation_members (user_id);

-- Standing documents, stored once and reused by every application until replaced.
CREATE TABLE organisation_documents (
    id {{pk}},
    organisation_id BIGINT NOT NULL REFERENCES organisations(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    content {{blob}} NOT NULL,
    valid_from TEXT NOT NULL,
    replaced_at TEXT,
    uploaded_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    uploaded_at TEXT NOT NULL
);
CREATE INDEX organisation_documents_current ON organisation_documents (organisation_id, kind, replaced_at);

CREATE TABLE funders (
    id {{pk}},
    contract_id BIGINT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    siret TEXT,
    UNIQUE (contract_id, code)
);

CREATE TABLE calls (
    id {{pk}},
    contract_id BIGINT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
    year BIGINT NOT NULL,
    title TEXT NOT NULL,
    opens_on TEXT NOT NULL,
    closes_on TEXT NOT NULL,
    settings TEXT NOT NULL,
    published_at TEXT,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (contract_id, year)
);

CREATE TABLE envelopes (
    call_id BIGINT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    funder_code TEXT NOT NULL,
    component TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (call_id, funder_code, component)
);

CREATE TABLE applications (
    id {{pk}},
    call_id BIGINT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    contract_id BIGINT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
    year BIGINT NOT NULL,
    organisation_id BIGINT NOT NULL REFERENCES organisations(id),
    reference TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    component TEXT NOT NULL,
    status TEXT NOT NULL,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    renewed_from BIGINT,
    submitted_at TEXT,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX applications_call_status ON applications (call_id, status);
CREATE INDEX applications_organisation ON applications (organisation_id);
CREATE INDEX applications_contract_year ON applications (contract_id, year);

CREATE TABLE application_nodes (
    application_id BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    node_key TEXT NOT NULL,
    PRIMARY KEY (application_id, node_key)
);

CREATE TABLE application_places (
    application_id BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    qpv_code TEXT NOT NULL,
    insee TEXT NOT NULL,
    PRIMARY KEY (application_id, qpv_code, insee)
);

-- One line per financer solicited. Amounts in cents; `status` mirrors the application's
-- so that a financer's worklist is one indexed lookup.
CREATE TABLE funding_lines (
    id {{pk}},
    application_id BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    contract_id BIGINT NOT NULL,
    year BIGINT NOT NULL,
    component TEXT NOT NULL,
    funder_code TEXT NOT NULL,
    status TEXT NOT NULL,
    requested BIGINT NOT NULL,
    proposed BIGINT,
    opinion TEXT,
    opinion_comment TEXT,
    opinion_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    decision TEXT,
    decided BIGINT NOT NULL,
    committee_id BIGINT,
    override_reason TEXT,
    agreed BIGINT NOT NULL,
    paid BIGINT NOT NULL,
    UNIQUE (application_id, funder_code)
);
CREATE INDEX funding_lines_worklist ON funding_lines (contract_id, funder_code, status);
CREATE INDEX funding_lines_year ON funding_lines (contract_id, year);

CREATE TABLE application_events (
    id {{pk}},
    application_id BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    event TEXT NOT NULL,
    from_status TEXT,
    to_status TEXT NOT NULL,
    actor_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    actor_label TEXT NOT NULL,
    comment TEXT,
    at TEXT NOT NULL
);
CREATE INDEX application_events_application ON application_events (application_id, id);

CREATE TABLE application_messages (
    id {{pk}},
    application_id BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    author_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    author_label TEXT NOT NULL,
    body TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX application_messages_application ON application_messages (application_id, id);

CREATE TABLE committees (
    id {{pk}},
    call_id BIGINT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
    held_on TEXT NOT NULL,
    title TEXT NOT NULL,
    members TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE agreements (
    id {{pk}},
    line_id BIGINT NOT NULL UNIQUE REFERENCES funding_lines(id) ON DELETE CASCADE,
    application_id BIGINT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
    contract_id BIGINT NOT NULL,
    funder_code TEXT NOT NULL,
    reference TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    years TEXT NOT NULL,
    advance_percent BIGINT NOT NULL,
    report_due_on TEXT NOT NULL,
    obligations TEXT NOT NULL,
    amendments TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX agreements_due ON agreements (report_due_on);

CREATE TABLE payments (
    id {{pk}},
    agreement_id BIGINT NOT NULL REFERENCES agreements(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    amount BIGINT NOT NULL,
    paid_on TEXT NOT NULL,
    recorded_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX payments_agreement ON payments (agreement_id);

CREATE TABLE reports (
    application_id BIGINT PRIMARY KEY REFERENCES applications(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    version BIGINT NOT NULL,
    filed_at TEXT,
    updated_at TEXT NOT NULL
);

CREATE TABLE outbox (
    id {{pk}},
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    last_error TEXT
);
CREATE INDEX outbox_pending ON outbox (sent_at, id);
