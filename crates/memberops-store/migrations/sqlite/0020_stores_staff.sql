-- Stores (门店) and staff (导购): workspace entities named by a code the brand chooses
-- (codes never change, so members, orders and segments refer to them by code).
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

-- A member's home store and owning staff member, beside the profile (most members of a
-- brand without stores have none).
CREATE TABLE member_stores (
    member_id    TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    store_code   TEXT,
    staff_code   TEXT,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX member_stores_store ON member_stores (workspace_id, store_code);
CREATE INDEX member_stores_staff ON member_stores (workspace_id, staff_code);

-- Who changed whose assignment (operator edits, bulk reassignment) and when.
CREATE TABLE store_audit (
    seq          INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    at           BIGINT NOT NULL,
    actor        TEXT NOT NULL,
    action       TEXT NOT NULL,
    detail       TEXT NOT NULL
);
CREATE INDEX store_audit_ws ON store_audit (workspace_id, seq);

-- An order's store is one more fact of the order in `order_items` (kind `store`), read by
-- the `purchased: {store: […]}` segment condition; index the orders already stored.
INSERT OR IGNORE INTO order_items (member_id, kind, value, order_id, workspace_id)
SELECT member_id, 'store', json_extract(properties, '$.store_code'), order_id, workspace_id
FROM events
WHERE order_id IS NOT NULL AND json_type(properties, '$.store_code') = 'text'
    AND json_extract(properties, '$.store_code') <> '';

-- Lists operators page through: a member's invitees, a member's events of some types.
CREATE INDEX referrals_referrer_bound ON referrals (referrer_id, bound_at, invitee_id);
