-- Daily per-member aggregates the analytics reports read (docs/analytics.md), kept by the
-- `analytics` consumer of the event log and rebuilt whole by `memberops analytics rebuild`.
-- `day` is the local date (YYYY-MM-DD) in the workspace's zone.
--
-- analytics_active_days: a member's own events that day (system events are not activity).
CREATE TABLE analytics_active_days (
    member_id    TEXT NOT NULL,
    day          TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    events       BIGINT NOT NULL,
    PRIMARY KEY (member_id, day)
);
CREATE INDEX analytics_active_days_day ON analytics_active_days (workspace_id, day);

-- analytics_order_days: the orders a member paid that day: how many count as orders (not
-- fully refunded), and the amounts paid and refunded of all of them. Rewritten for a member
-- whenever one of their orders is paid or refunded.
CREATE TABLE analytics_order_days (
    member_id      TEXT NOT NULL,
    day            TEXT NOT NULL,
    workspace_id   TEXT NOT NULL,
    orders         BIGINT NOT NULL,
    paid_minor     BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL,
    PRIMARY KEY (member_id, day)
);
CREATE INDEX analytics_order_days_day ON analytics_order_days (workspace_id, day);
