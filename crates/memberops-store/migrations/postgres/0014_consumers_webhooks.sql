-- The event log's consumers, coupon event rules as one of them, and outgoing webhooks.
--
-- A consumer reads the log after the commit, in `events.seq` order, and keeps its place
-- here: its cursor moves in the same transaction as its own writes, so a crash repeats
-- nothing and skips nothing. Writers of a workspace are serialised (one writer on SQLite,
-- an advisory lock on PostgreSQL), so within a workspace `seq` order is commit order.
CREATE TABLE consumers (
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    -- The last event handled (0: none).
    cursor_seq   BIGINT NOT NULL,
    -- When that event was received (epoch ms).
    cursor_at    BIGINT,
    handled      BIGINT NOT NULL DEFAULT 0,
    failures     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    retry_at     BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, name)
);

-- Coupon event rules: a condition on the event (the new tier of `tier.changed`, the new
-- stage of `lifecycle.changed`), an off switch, and what happened when a rule could not
-- issue. A rule sees events after the log's head at its creation (`since_seq`); rules made
-- before this migration see events from now on.
ALTER TABLE coupon_event_rules ADD COLUMN condition TEXT NOT NULL DEFAULT '{}';
ALTER TABLE coupon_event_rules ADD COLUMN since_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE coupon_event_rules ADD COLUMN disabled_at BIGINT;
ALTER TABLE coupon_event_rules ADD COLUMN issued_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE coupon_event_rules ADD COLUMN skipped_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE coupon_event_rules ADD COLUMN last_skip_code TEXT;
ALTER TABLE coupon_event_rules ADD COLUMN last_skip_at BIGINT;
UPDATE coupon_event_rules SET since_seq = COALESCE((SELECT MAX(seq) FROM events), 0);

-- At most one firing of a rule per event (and so per member and event).
CREATE TABLE coupon_rule_fires (
    workspace_id TEXT NOT NULL,
    rule_id      TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    -- `issued` or the code of why nothing was issued (`out_of_stock`, `limit_reached`…).
    outcome      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, rule_id, event_id)
);

CREATE TABLE webhook_endpoints (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    url           TEXT NOT NULL,
    description   TEXT NOT NULL DEFAULT '',
    -- JSON array of event types.
    event_types   TEXT NOT NULL,
    -- `whsec_` + base64 of 24 random bytes.
    secret        TEXT NOT NULL,
    -- Events after this sequence number are delivered (the log's head at creation).
    since_seq     BIGINT NOT NULL,
    disabled_at   BIGINT,
    -- `operator` or `failing` (every delivery failed for 24 hours).
    disabled_reason TEXT,
    -- The first failure since the last success; NULL while deliveries succeed.
    failing_since BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_ws ON webhook_endpoints (workspace_id, created_at);

-- The outbox: one row per (endpoint, event). `id` is the `webhook-id` header, the same on
-- every attempt, so receivers dedupe. `due_at` is when a pending delivery may be sent, or
-- when a claimed one's lease ends.
CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    payload          TEXT NOT NULL,
    -- pending | sending | delivered | failed
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    due_at           BIGINT NOT NULL,
    lease_id         TEXT,
    last_status_code INTEGER,
    last_error       TEXT,
    last_attempt_at  BIGINT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, status, due_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
