-- Stores (门店) and staff (导购): see the SQLite twin.
CREATE TABLE stores (
    workspace_id TEXT NOT NULL,
    code         TEXT NOT NULL,
    name         TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, code)
);

CREATE TABLE staff (
    workspace_id TEXT NOT NULL,
    code         TEXT NOT NULL,
    name         TEXT NOT NULL,
    store_code   TEXT,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, code)
);

CREATE TABLE member_stores (
    member_id    TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    store_code   TEXT,
    staff_code   TEXT,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX member_stores_store ON member_stores (workspace_id, store_code);
CREATE INDEX member_stores_staff ON member_stores (workspace_id, staff_code);

CREATE TABLE store_audit (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX store_audit_ws ON store_audit (workspace_id, seq);

INSERT INTO order_items (member_id, kind, value, order_id, workspace_id)
SELECT member_id, 'store', properties::jsonb ->> 'store_code', order_id, workspace_id
FROM events
WHERE order_id IS NOT NULL AND jsonb_typeof(properties::jsonb -> 'store_code') = 'string'
    AND properties::jsonb ->> 'store_code' <> ''
ON CONFLICT DO NOTHING;

CREATE INDEX referrals_referrer_bound ON referrals (referrer_id, bound_at, invitee_id);
