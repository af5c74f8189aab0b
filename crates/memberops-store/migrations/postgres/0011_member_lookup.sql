-- Every event batch resolves its members by external id and needs only the internal id,
-- zone and registration time: a covering index allows an index-only scan.
CREATE INDEX members_lookup ON members (workspace_id, external_id) INCLUDE (id, time_zone, registered_at);
