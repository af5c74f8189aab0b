-- Loyalty (会员成长体系): program versions, member state, growth and points ledgers, points
-- lots, stored value, check-ins, referrals, idempotency keys and an audit of operator actions.
-- Ledgers are append-only; the cached balances in loyalty_members are derived from them.

-- Every saved program is a new version; the highest one is in force.
CREATE TABLE loyalty_programs (
    workspace_id TEXT NOT NULL,
    version      BIGINT NOT NULL,
    program      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, version)
);

-- Who did what: program changes, manual adjustments, jobs.
CREATE TABLE loyalty_audit (
    seq          INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    member_id    TEXT,
    detail       TEXT NOT NULL
);

CREATE TABLE loyalty_members (
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
);

CREATE TABLE growth_ledger (
    seq          INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    at           BIGINT NOT NULL,
    growth       BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    rule_id      TEXT,
    order_id     TEXT
);
CREATE INDEX growth_ledger_member ON growth_ledger (member_id, at);

-- Lots: one per earning; `remaining` is a cache of the lot's ledger lines.
CREATE TABLE points_lots (
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
);

CREATE TABLE points_ledger (
    seq          INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    at           BIGINT NOT NULL,
    points       BIGINT NOT NULL,
    lot_id       TEXT,
    lot_delta    BIGINT NOT NULL,
    debt_delta   BIGINT NOT NULL,
    event_id     TEXT NOT NULL,
    rule_id      TEXT,
    order_id     TEXT,
    reason       TEXT,
    actor        TEXT
);
CREATE INDEX points_ledger_member ON points_ledger (member_id, seq);

-- Caps: what a member earned from a rule per local day (`d:2026-05-01`), month (`m:2026-05`)
-- and ever (`all`). Only rules with caps keep usage.
CREATE TABLE loyalty_usage (
    member_id TEXT NOT NULL,
    rule_id   TEXT NOT NULL,
    period    TEXT NOT NULL,
    growth    BIGINT NOT NULL,
    points    BIGINT NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (member_id, rule_id, period)
);

-- What each paid order earned and what refunds took back.
CREATE TABLE loyalty_orders (
    workspace_id    TEXT NOT NULL,
    order_id        TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    paid_minor      BIGINT NOT NULL,
    points_earned   BIGINT NOT NULL,
    growth_earned   BIGINT NOT NULL,
    points_reversed BIGINT NOT NULL,
    growth_reversed BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, order_id)
);

CREATE TABLE stored_value_ledger (
    seq             INTEGER PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    kind            TEXT NOT NULL,
    at              BIGINT NOT NULL,
    principal_delta BIGINT NOT NULL,
    bonus_delta     BIGINT NOT NULL,
    reference       TEXT NOT NULL
);
CREATE INDEX stored_value_ledger_member ON stored_value_ledger (member_id, seq);

CREATE TABLE checkins (
    member_id    TEXT NOT NULL,
    local_date   TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    at           BIGINT NOT NULL,
    event_id     TEXT NOT NULL,
    streak       BIGINT NOT NULL,
    PRIMARY KEY (member_id, local_date)
);

CREATE TABLE invite_codes (
    workspace_id TEXT NOT NULL,
    code         TEXT NOT NULL,
    member_id    TEXT NOT NULL UNIQUE,
    PRIMARY KEY (workspace_id, code)
);

-- One referrer per invitee. status: pending → rewarded | lapsed.
CREATE TABLE referrals (
    invitee_id    TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    referrer_id   TEXT NOT NULL,
    bound_at      BIGINT NOT NULL,
    status        TEXT NOT NULL,
    qualified_at  BIGINT,
    referrer_paid BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX referrals_referrer ON referrals (referrer_id, qualified_at);

-- Client idempotency keys of spends, adjustments and stored-value operations: the saved
-- answer is returned on a replay.
CREATE TABLE loyalty_requests (
    workspace_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    op           TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    response     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);
