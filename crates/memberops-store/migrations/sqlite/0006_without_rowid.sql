-- Member-keyed tables without a rowid: their text primary key is the table's own B-tree,
-- so a look-up or upsert by member (or order) touches one tree instead of an index and
-- the table. These rows are small and written for nearly every event.

CREATE TABLE member_stats_new (
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
) WITHOUT ROWID;
INSERT INTO member_stats_new SELECT * FROM member_stats;
DROP TABLE member_stats;
ALTER TABLE member_stats_new RENAME TO member_stats;

CREATE TABLE orders_new (
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
) WITHOUT ROWID;
INSERT INTO orders_new SELECT * FROM orders;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX orders_member ON orders (member_id, local_date, paid_at, amount_minor, refunded_minor);

CREATE TABLE member_segments_new (
    member_id      TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL,
    stage          TEXT NOT NULL,
    stage_since    TEXT NOT NULL,
    previous_stage TEXT,
    r_score        BIGINT,
    f_score        BIGINT,
    m_score        BIGINT,
    rfm_class      TEXT,
    value_class    TEXT,
    scored_on      TEXT
) WITHOUT ROWID;
INSERT INTO member_segments_new SELECT * FROM member_segments;
DROP TABLE member_segments;
ALTER TABLE member_segments_new RENAME TO member_segments;
CREATE INDEX member_segments_ws ON member_segments (workspace_id, stage);

CREATE TABLE loyalty_members_new (
    member_id      TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL,
    time_zone      TEXT NOT NULL,
    tier           TEXT NOT NULL,
    tier_since     BIGINT NOT NULL,
    growth_total   BIGINT NOT NULL,
    points_balance BIGINT NOT NULL,
    points_debt    BIGINT NOT NULL,
    sv_principal   BIGINT NOT NULL,
    sv_bonus       BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
) WITHOUT ROWID;
INSERT INTO loyalty_members_new SELECT * FROM loyalty_members;
DROP TABLE loyalty_members;
ALTER TABLE loyalty_members_new RENAME TO loyalty_members;

CREATE TABLE points_lots_new (
    member_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    earned_at    BIGINT NOT NULL,
    available_at BIGINT NOT NULL,
    expires_at   BIGINT,
    original     BIGINT NOT NULL,
    remaining    BIGINT NOT NULL,
    order_id     TEXT,
    PRIMARY KEY (member_id, id)
) WITHOUT ROWID;
INSERT INTO points_lots_new SELECT * FROM points_lots;
DROP TABLE points_lots;
ALTER TABLE points_lots_new RENAME TO points_lots;

CREATE TABLE loyalty_orders_new (
    workspace_id    TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    paid_minor      BIGINT NOT NULL,
    points_earned   BIGINT NOT NULL,
    growth_earned   BIGINT NOT NULL,
    points_reversed BIGINT NOT NULL,
    growth_reversed BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, order_id)
) WITHOUT ROWID;
INSERT INTO loyalty_orders_new SELECT * FROM loyalty_orders;
DROP TABLE loyalty_orders;
ALTER TABLE loyalty_orders_new RENAME TO loyalty_orders;

CREATE TABLE loyalty_usage_new (
    member_id TEXT NOT NULL,
    rule_id   TEXT NOT NULL,
    period    TEXT NOT NULL,
    growth    BIGINT NOT NULL,
    points    BIGINT NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (member_id, rule_id, period)
) WITHOUT ROWID;
INSERT INTO loyalty_usage_new SELECT * FROM loyalty_usage;
DROP TABLE loyalty_usage;
ALTER TABLE loyalty_usage_new RENAME TO loyalty_usage;
