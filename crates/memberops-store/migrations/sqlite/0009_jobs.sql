-- Background jobs (expiry, tier review, lifecycle recompute, birthday gifts…): a queue that
-- several workers drain safely. A job is unique per (workspace, key), so enqueueing is
-- idempotent; a claim takes a lease (`lease_id`, `due_at` = lease end) that the worker
-- extends while it runs; a job whose lease ran out is claimed again. `due_at` is when a
-- queued job may run, or when a running job's lease ends: one index serves both.
CREATE TABLE jobs (
    workspace_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL DEFAULT '{}',
    -- queued | running | done | failed
    status       TEXT NOT NULL,
    due_at       BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    lease_id     TEXT,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    PRIMARY KEY (workspace_id, key)
);
CREATE INDEX jobs_due ON jobs (status, due_at);
