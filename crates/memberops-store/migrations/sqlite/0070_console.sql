-- The web console (issue 29): operator accounts (argon2id password hashes, a role, a
-- language, failed sign-ins and a lock), and their server-side sessions, found by the
-- SHA-256 of the cookie's token (the token itself is never stored).
CREATE TABLE operators (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    email           TEXT NOT NULL,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL,
    locale          TEXT,
    failed_logins   BIGINT NOT NULL DEFAULT 0,
    locked_until    BIGINT,
    created_at      BIGINT NOT NULL,
    disabled_at     BIGINT
);
CREATE UNIQUE INDEX operators_email ON operators (email);

CREATE TABLE operator_sessions (
    token_hash   TEXT PRIMARY KEY,
    operator_id  TEXT NOT NULL,
    csrf_token   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX operator_sessions_operator ON operator_sessions (operator_id);
CREATE INDEX operator_sessions_expires ON operator_sessions (expires_at);
