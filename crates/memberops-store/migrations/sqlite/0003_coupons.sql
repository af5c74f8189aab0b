-- Coupons (优惠券): templates, issued coupons, redemptions per order, gift packs,
-- share-to-claim, event rules and the rewards ledger. Money is integer minor units,
-- instants epoch milliseconds.

-- A template's rules live in `spec` (JSON, checked by memberops-coupons); the counters
-- beside it are raised with conditional UPDATEs so stock and budget cannot be overdrawn.
CREATE TABLE coupon_templates (
    workspace_id      TEXT NOT NULL,
    id                TEXT NOT NULL,
    name              TEXT NOT NULL,
    kind              TEXT NOT NULL,
    spec              TEXT NOT NULL,
    shared_code       TEXT,
    stock             BIGINT,
    issued_count      BIGINT NOT NULL DEFAULT 0,
    budget_minor      BIGINT,
    budget_used_minor BIGINT NOT NULL DEFAULT 0,
    archived_at       BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, shared_code)
);

-- One coupon instance. `member_id` is NULL for a generated code nobody claimed yet.
CREATE TABLE coupons (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    template_id  TEXT NOT NULL,
    member_id    TEXT,
    code         TEXT,
    status       TEXT NOT NULL,
    source       TEXT NOT NULL,
    valid_from   BIGINT,
    valid_to     BIGINT,
    issued_at    BIGINT NOT NULL,
    claimed_at   BIGINT,
    order_id     TEXT,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, code)
);
CREATE INDEX coupons_member ON coupons (workspace_id, member_id);
CREATE INDEX coupons_template ON coupons (workspace_id, template_id, status);
CREATE INDEX coupons_order ON coupons (workspace_id, order_id);

-- What checkout locked for an order: the saved answer makes redeem idempotent by order id.
CREATE TABLE coupon_orders (
    workspace_id TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    coupon_ids   TEXT NOT NULL,
    result       TEXT NOT NULL,
    status       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, order_id)
);

-- One row per coupon used on an order: locked → redeemed (paid), or released / restored.
CREATE TABLE coupon_redemptions (
    workspace_id   TEXT NOT NULL,
    order_id       TEXT NOT NULL,
    coupon_id      TEXT NOT NULL,
    template_id    TEXT NOT NULL,
    member_id      TEXT NOT NULL,
    discount_minor BIGINT NOT NULL,
    status         TEXT NOT NULL,
    locked_at      BIGINT NOT NULL,
    paid_at        BIGINT,
    closed_at      BIGINT,
    PRIMARY KEY (workspace_id, order_id, coupon_id)
);
CREATE INDEX coupon_redemptions_template ON coupon_redemptions (workspace_id, template_id, status);

-- 新人大礼包 and other bundles: `items` is JSON [{template_id, quantity}].
CREATE TABLE coupon_gift_packs (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    items        TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);

-- Idempotency of issuing commands: a key seen before returns its saved result.
CREATE TABLE coupon_issue_keys (
    workspace_id TEXT NOT NULL,
    key          TEXT NOT NULL,
    result       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, key)
);

-- Issue a template or a gift pack when an event of this type is accepted.
CREATE TABLE coupon_event_rules (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    template_id  TEXT,
    pack_id      TEXT,
    created_at   BIGINT NOT NULL,
    archived_at  BIGINT,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX coupon_event_rules_type ON coupon_event_rules (workspace_id, event_type);

-- 分享裂变: one link per sharer and template; one claim per friend and link.
CREATE TABLE coupon_share_links (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    template_id  TEXT NOT NULL,
    sharer_id    TEXT NOT NULL,
    claims       BIGINT NOT NULL DEFAULT 0,
    conversions  BIGINT NOT NULL DEFAULT 0,
    rewards      BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id),
    UNIQUE (workspace_id, template_id, sharer_id)
);

CREATE TABLE coupon_share_claims (
    workspace_id       TEXT NOT NULL,
    link_id            TEXT NOT NULL,
    template_id        TEXT NOT NULL,
    claimant_id        TEXT NOT NULL,
    coupon_id          TEXT NOT NULL,
    claimed_at         BIGINT NOT NULL,
    converted_order_id TEXT,
    converted_at       BIGINT,
    PRIMARY KEY (workspace_id, link_id, claimant_id)
);
CREATE INDEX coupon_share_claims_claimant ON coupon_share_claims (workspace_id, claimant_id);

-- Rewards granted (满返 points or coupons, share rewards): appended, never edited.
CREATE TABLE coupon_rewards (
    workspace_id TEXT NOT NULL,
    id           TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    template_id  TEXT NOT NULL,
    order_id     TEXT,
    kind         TEXT NOT NULL,
    points       BIGINT,
    coupon_id    TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX coupon_rewards_member ON coupon_rewards (workspace_id, member_id);
