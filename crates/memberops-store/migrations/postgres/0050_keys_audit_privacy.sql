-- Production readiness (issue 28): per-key rate limits and last use, the append-only audit
-- log of operator and admin writes, the history of members' consent, and the worker's
-- heartbeat read by /readyz.
ALTER TABLE api_keys ADD COLUMN rate_rps BIGINT;
ALTER TABLE api_keys ADD COLUMN rate_burst BIGINT;
ALTER TABLE api_keys ADD COLUMN last_used_at BIGINT;

CREATE TABLE audit_log (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    at           BIGINT NOT NULL,
    key_id       TEXT NOT NULL,
    key_name     TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    method       TEXT NOT NULL,
    route        TEXT NOT NULL,
    path         TEXT NOT NULL,
    status       INTEGER NOT NULL,
    member_id    TEXT,
    request_id   TEXT,
    before_state TEXT,
    after_state  TEXT
);
CREATE INDEX audit_log_ws ON audit_log (workspace_id, seq);
CREATE INDEX audit_log_member ON audit_log (workspace_id, member_id, seq);
CREATE INDEX audit_log_key ON audit_log (workspace_id, key_id, seq);

-- Append-only: the database itself refuses to change or delete an entry.
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Every change of a member's consent, whichever path wrote it (events, the API, imports).
CREATE TABLE consent_history (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    at           BIGINT NOT NULL,
    before_consent TEXT,
    after_consent  TEXT NOT NULL
);
CREATE INDEX consent_history_member ON consent_history (workspace_id, member_id, seq);

CREATE FUNCTION members_consent_history() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.consent <> '{}' THEN
            INSERT INTO consent_history (workspace_id, member_id, at, before_consent, after_consent)
            VALUES (NEW.workspace_id, NEW.id, NEW.updated_at, NULL, NEW.consent);
        END IF;
    ELSIF OLD.consent <> NEW.consent THEN
        INSERT INTO consent_history (workspace_id, member_id, at, before_consent, after_consent)
        VALUES (NEW.workspace_id, NEW.id, NEW.updated_at, OLD.consent, NEW.consent);
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER members_consent AFTER INSERT OR UPDATE ON members
FOR EACH ROW EXECUTE FUNCTION members_consent_history();

CREATE TABLE worker_heartbeats (
    name TEXT PRIMARY KEY,
    at   BIGINT NOT NULL
);
