-- Integer member keys and day numbers for the analytics aggregates (docs/analytics.md):
-- the reports read them as numbers, aggregated per member in SQL, instead of text ids and
-- YYYY-MM-DD dates row by row.
--
-- analytics_members: each member's key, given by the `analytics` consumer (or a rebuild)
-- the first time it meets the member, from a sequence.
CREATE TABLE analytics_members (
    member_key   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    member_id    TEXT NOT NULL UNIQUE,
    workspace_id TEXT NOT NULL
);
INSERT INTO analytics_members (member_id, workspace_id)
SELECT id, workspace_id FROM members ORDER BY created_at, id;

-- `day` is now the local date (workspace's zone) as days since 1970-01-01. The primary key
-- leads with the member, so each member's days are read together.
ALTER TABLE analytics_active_days RENAME TO analytics_active_days_0040;
ALTER TABLE analytics_order_days RENAME TO analytics_order_days_0040;
DROP INDEX analytics_active_days_day;
DROP INDEX analytics_order_days_day;
ALTER TABLE analytics_active_days_0040 DROP CONSTRAINT analytics_active_days_pkey;
ALTER TABLE analytics_order_days_0040 DROP CONSTRAINT analytics_order_days_pkey;

CREATE TABLE analytics_active_days (
    member_key   BIGINT NOT NULL,
    day          INTEGER NOT NULL,
    workspace_id TEXT NOT NULL,
    events       BIGINT NOT NULL,
    PRIMARY KEY (member_key, day)
);

CREATE TABLE analytics_order_days (
    member_key     BIGINT NOT NULL,
    day            INTEGER NOT NULL,
    workspace_id   TEXT NOT NULL,
    orders         BIGINT NOT NULL,
    paid_minor     BIGINT NOT NULL,
    refunded_minor BIGINT NOT NULL,
    PRIMARY KEY (member_key, day)
);

INSERT INTO analytics_active_days (member_key, day, workspace_id, events)
SELECT k.member_key, a.day::date - DATE '1970-01-01', a.workspace_id, a.events
FROM analytics_active_days_0040 a JOIN analytics_members k ON k.member_id = a.member_id;
INSERT INTO analytics_order_days (member_key, day, workspace_id, orders, paid_minor, refunded_minor)
SELECT k.member_key, a.day::date - DATE '1970-01-01', a.workspace_id, a.orders,
       a.paid_minor, a.refunded_minor
FROM analytics_order_days_0040 a JOIN analytics_members k ON k.member_id = a.member_id;
DROP TABLE analytics_active_days_0040;
DROP TABLE analytics_order_days_0040;
