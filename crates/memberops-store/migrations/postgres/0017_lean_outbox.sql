-- A leaner outbox (see the SQLite twin for why): no stored body, unique per (endpoint,
-- event seq), no second index on the delivery id, and a due index of deliveries still to
-- send only.
ALTER TABLE webhook_deliveries DROP COLUMN payload;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_event_id_key;
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_endpoint_id_event_seq_key
    UNIQUE (endpoint_id, event_seq);
DROP INDEX webhook_deliveries_endpoint;
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, due_at)
    WHERE status IN ('pending', 'sending');
