-- A leaner outbox, because the webhooks consumer writes one row per event under the
-- single writer, beside the shop's batches (bench/RESULTS.md, issue 24):
-- * no stored body: it is built from the (immutable) event row when sent;
-- * unique per (endpoint, event seq): seq rises, so inserts append instead of landing at
--   random places as client event ids did;
-- * the delivery id is the table's own key (WITHOUT ROWID), and the due index holds only
--   deliveries still to send, so delivered rows leave it.
-- The delivery log pages by event seq on the unique key.
CREATE TABLE webhook_deliveries_new (
    id               TEXT PRIMARY KEY,
    workspace_id     TEXT NOT NULL,
    endpoint_id      TEXT NOT NULL,
    event_seq        BIGINT NOT NULL,
    event_id         TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    -- pending | sending | delivered | failed
    status           TEXT NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    due_at           BIGINT NOT NULL,
    lease_id         TEXT,
    last_status_code INTEGER,
    last_error       TEXT,
    last_attempt_at  BIGINT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL,
    UNIQUE (endpoint_id, event_seq)
) WITHOUT ROWID;
INSERT INTO webhook_deliveries_new
    SELECT id, workspace_id, endpoint_id, event_seq, event_id, event_type, status, attempts,
           due_at, lease_id, last_status_code, last_error, last_attempt_at, delivered_at,
           created_at
    FROM webhook_deliveries;
DROP TABLE webhook_deliveries;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, due_at)
    WHERE status IN ('pending', 'sending');
