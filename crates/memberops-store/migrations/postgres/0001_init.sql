-- MemberOps schema, PostgreSQL flavour (same tables and columns as the SQLite one). Instants are epoch milliseconds (UTC); local calendar
-- days are YYYY-MM-DD text in the member's zone; money is integer minor units.
CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    currency    TEXT NOT NULL,
    time_zone   TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
INSERT INTO workspaces (id, name, currency, time_zone, created_at)
VALUES ('default', 'Default workspace', 'CNY', 'Asia/Shanghai', 0);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    name         TEXT NOT NULL,
    scope        TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    key_prefix   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);

CREATE TABLE members (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    phone         TEXT,
    email         TEXT,
    name          TEXT,
    gender        TEXT,
    birthday      TEXT,
    income_band   TEXT,
    region        TEXT,
    channel       TEXT,
    registered_at BIGINT,
    time_zone     TEXT NOT NULL,
    consent       TEXT NOT NULL DEFAULT '{}',
    attributes    TEXT NOT NULL DEFAULT '{}',
    tags          TEXT NOT NULL DEFAULT '[]',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, external_id)
);
CREATE INDEX members_phone ON members (workspace_id, phone);
CREATE INDEX members_email ON members (workspace_id, email);
CREATE INDEX members_ws_id ON members (workspace_id, id);

CREATE TABLE member_stats (
    member_id        TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    first_order_at   BIGINT,
    last_order_at    BIGINT,
    order_count      BIGINT NOT NULL DEFAULT 0,
    order_days       BIGINT NOT NULL DEFAULT 0,
    paid_minor       BIGINT NOT NULL DEFAULT 0,
    refunded_minor   BIGINT NOT NULL DEFAULT 0,
    last_active_at   BIGINT,
    event_count      BIGINT NOT NULL DEFAULT 0,
    last_order_date  TEXT
);

CREATE TABLE events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    type         TEXT NOT NULL,
    occurred_at  BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    properties   TEXT NOT NULL,
    UNIQUE (workspace_id, id)
);
CREATE INDEX events_member ON events (member_id, occurred_at);

CREATE TABLE orders (
    workspace_id   TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    paid_at        BIGINT NOT NULL,
    local_date     TEXT NOT NULL,
    amount_minor   BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    currency       TEXT NOT NULL,
    channel        TEXT,
    event_id       TEXT NOT NULL,
    PRIMARY KEY (workspace_id, order_id)
);
-- Covers the per-member order aggregates, so refreshing them reads no table rows.
CREATE INDEX orders_member ON orders (member_id, local_date, paid_at, amount_minor, refunded_minor);
