-- Every event batch resolves its members by external id and needs only the internal id,
-- zone and registration time: a covering index answers that from one B-tree, without a
-- second descent into the wide members table per event.
CREATE INDEX members_lookup ON members (workspace_id, external_id, id, time_zone, registered_at);
