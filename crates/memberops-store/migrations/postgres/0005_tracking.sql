-- Segment-compatible tracking: which member each anonymous id belongs to, claims that
-- conflicted, and messages that were rejected or only partly usable.

-- One row per anonymous id. `member_id` is the anonymous profile (state `anonymous`) or,
-- after an identify / alias linked it, the identified member (state `merged`).
CREATE TABLE member_identities (
    workspace_id        TEXT NOT NULL,
    anonymous_id        TEXT NOT NULL,
    member_id           TEXT NOT NULL,
    member_external_id  TEXT NOT NULL,
    state               TEXT NOT NULL,
    -- The anonymous profile whose history was merged (its row is gone after the merge).
    merged_from         TEXT,
    first_seen_at       BIGINT NOT NULL,
    merged_at           BIGINT,
    -- The identify or alias message that linked it.
    message_id          TEXT,
    PRIMARY KEY (workspace_id, anonymous_id)
);
CREATE INDEX member_identities_member ON member_identities (workspace_id, member_id);

-- An anonymous id that a second member claimed after it was merged into a first one.
CREATE TABLE identity_conflicts (
    workspace_id     TEXT NOT NULL,
    anonymous_id     TEXT NOT NULL,
    member_id        TEXT NOT NULL,
    owner_member_id  TEXT NOT NULL,
    message_id       TEXT NOT NULL,
    at               BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, anonymous_id, member_id)
);
CREATE INDEX identity_conflicts_owner ON identity_conflicts (workspace_id, owner_member_id);

-- Messages rejected (severity `rejected`: nothing stored) or stored with some values kept
-- raw (severity `warning`), with the message as received.
CREATE TABLE tracking_issues (
    workspace_id  TEXT NOT NULL,
    id            TEXT NOT NULL,
    message_id    TEXT,
    severity      TEXT NOT NULL,
    code          TEXT NOT NULL,
    detail        TEXT NOT NULL,
    payload       TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, id)
);
CREATE INDEX tracking_issues_received ON tracking_issues (workspace_id, received_at);
