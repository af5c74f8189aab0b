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
);
CREATE INDEX order_items_value ON order_items (workspace_id, kind, value);

-- The orders already stored, by the same rule as `memberops_segments::products`.
WITH o AS (
    SELECT workspace_id, member_id, order_id, properties::jsonb AS p
    FROM events WHERE order_id IS NOT NULL
), l AS (
    SELECT workspace_id, member_id, order_id, p AS line FROM o
    UNION ALL
    SELECT o.workspace_id, o.member_id, o.order_id, x.line FROM o,
        LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(o.p -> 'products') = 'array'
            THEN o.p -> 'products' ELSE '[]'::jsonb END) AS x(line)
    UNION ALL
    SELECT o.workspace_id, o.member_id, o.order_id, x.line FROM o,
        LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(o.p -> 'lines') = 'array'
            THEN o.p -> 'lines' ELSE '[]'::jsonb END) AS x(line)
)
INSERT INTO order_items (member_id, kind, value, order_id, workspace_id)
SELECT l.member_id, k.kind, l.line ->> k.kind, l.order_id, l.workspace_id
FROM l, (VALUES ('sku'), ('category')) AS k(kind)
WHERE jsonb_typeof(l.line) = 'object' AND jsonb_typeof(l.line -> k.kind) = 'string'
    AND l.line ->> k.kind <> ''
ON CONFLICT DO NOTHING;
-- `categories`: a string or an array of them.
INSERT INTO order_items (member_id, kind, value, order_id, workspace_id)
SELECT e.member_id, 'category', x.c #>> '{}', e.order_id, e.workspace_id
FROM events e, LATERAL jsonb_array_elements(
    CASE jsonb_typeof(e.properties::jsonb -> 'categories')
        WHEN 'array' THEN e.properties::jsonb -> 'categories'
        WHEN 'string' THEN jsonb_build_array(e.properties::jsonb -> 'categories')
        ELSE '[]'::jsonb END) AS x(c)
WHERE e.order_id IS NOT NULL AND jsonb_typeof(x.c) = 'string' AND x.c #>> '{}' <> ''
ON CONFLICT DO NOTHING;

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
