-- Portable schema: `{{pk}}` becomes the engine's auto-increment primary key.
-- Dates are ISO text (AAAA-MM-JJ), timestamps fixed-width UTC text, money integer cents.

CREATE TABLE contracts (
    id {{pk}},
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    pilot_name TEXT NOT NULL,
    start_year BIGINT NOT NULL,
    end_year BIGINT NOT NULL,
    document TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Projection of each contract's framework tree, so that later records (applications,
-- indicators) can point at a node by id; kept in step in the same transaction.
CREATE TABLE framework_nodes (
    id {{pk}},
    contract_id BIGINT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
    node_key TEXT NOT NULL,
    parent_key TEXT,
    depth BIGINT NOT NULL,
    position BIGINT NOT NULL,
    title TEXT NOT NULL,
    removed_at TEXT,
    UNIQUE (contract_id, node_key)
);

CREATE TABLE contract_communes (
    contract_id BIGINT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
    insee TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (contract_id, insee)
);
CREATE INDEX contract_communes_insee ON contract_communes (insee);

CREATE TABLE users (
    id {{pk}},
    email TEXT NOT NULL UNIQUE,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    is_admin BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);

CREATE TABLE user_roles (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    contract_id BIGINT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    institution TEXT,
    PRIMARY KEY (user_id, contract_id)
);

CREATE TABLE amendments (
    id {{pk}},
    contract_id BIGINT NOT NULL REFERENCES contracts(id) ON DELETE CASCADE,
    effective_on TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    author_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    author_label TEXT NOT NULL,
    summary TEXT NOT NULL,
    reason TEXT,
    changes TEXT NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE INDEX amendments_contract_date ON amendments (contract_id, effective_on, id);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);

CREATE TABLE login_failures (
    id {{pk}},
    attempt_key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (attempt_key, at);
