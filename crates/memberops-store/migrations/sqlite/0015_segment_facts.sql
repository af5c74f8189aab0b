-- Segment conditions on what members bought, and saved segments that can be edited.
--
-- order_items: the SKUs and categories each paid order carries (its `lines` or Segment
-- `products` array, top-level `sku` / `category`, or the `categories` loyalty rules read),
-- one row per distinct value, written
-- with the order. Whether the order still counts (not fully refunded) and when it was
-- paid are read from the order row, so a refund needs no change here.
CREATE TABLE order_items (
    member_id    TEXT NOT NULL,
    kind         TEXT NOT NULL,
    value        TEXT NOT NULL,
    order_id     TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    PRIMARY KEY (member_id, kind, value, order_id)
) WITHOUT ROWID;
CREATE INDEX order_items_value ON order_items (workspace_id, kind, value);

-- The orders already stored, by the same rule as `memberops_segments::products`. A line
-- that is not an object reads as NULL (CASE), so json_type never sees plain text.
INSERT OR IGNORE INTO order_items (member_id, kind, value, order_id, workspace_id)
SELECT l.member_id, k.kind, json_extract(l.line, '$.' || k.kind), l.order_id, l.workspace_id
FROM (
    SELECT workspace_id, member_id, order_id, properties AS line
    FROM events WHERE order_id IS NOT NULL
    UNION ALL
    SELECT e.workspace_id, e.member_id, e.order_id, CASE WHEN j.type = 'object' THEN j.value END
    FROM events e, json_each(e.properties, '$.products') j
    WHERE e.order_id IS NOT NULL AND json_type(e.properties, '$.products') = 'array'
    UNION ALL
    SELECT e.workspace_id, e.member_id, e.order_id, CASE WHEN j.type = 'object' THEN j.value END
    FROM events e, json_each(e.properties, '$.lines') j
    WHERE e.order_id IS NOT NULL AND json_type(e.properties, '$.lines') = 'array'
) l, (SELECT 'sku' AS kind UNION ALL SELECT 'category') k
WHERE json_type(l.line, '$.' || k.kind) = 'text' AND json_extract(l.line, '$.' || k.kind) <> '';
-- `categories`: a string (json_each yields it once) or an array of them.
INSERT OR IGNORE INTO order_items (member_id, kind, value, order_id, workspace_id)
SELECT e.member_id, 'category', j.value, e.order_id, e.workspace_id
FROM events e, json_each(e.properties, '$.categories') j
WHERE e.order_id IS NOT NULL AND json_type(e.properties, '$.categories') IN ('array', 'text')
    AND j.type = 'text' AND j.value <> '';

-- Every saved form of a segment: PATCH writes the next version, the first is its creation.
ALTER TABLE segments ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE TABLE segment_versions (
    segment_id   TEXT NOT NULL,
    version      BIGINT NOT NULL,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    condition    TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (segment_id, version)
);
INSERT INTO segment_versions (segment_id, version, workspace_id, name, condition, at)
SELECT id, 1, workspace_id, name, condition, updated_at FROM segments;
