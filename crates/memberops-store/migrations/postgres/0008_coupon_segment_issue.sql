-- Coupons: the expiry sweep finds issued coupons whose window has closed by this index;
-- issuing to a segment records each member it has handled under the client's key, so a
-- retried or resumed run skips them (and the summary is counted from these rows).
CREATE INDEX coupons_due ON coupons (workspace_id, status, valid_to);

CREATE TABLE coupon_issue_members (
    workspace_id TEXT NOT NULL,
    issue_key    TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    -- `issued`, `limit_reached` or `out_of_stock`.
    outcome      TEXT NOT NULL,
    coupons      BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, issue_key, member_id)
);
