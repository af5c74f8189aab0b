-- Member intelligence: stored lifecycle stage, RFM scores and value class per member,
-- stage transitions, tags, saved segments and their size history.
CREATE TABLE member_segments (
    member_id      TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL,
    stage          TEXT NOT NULL,
    stage_since    TEXT NOT NULL,
    previous_stage TEXT,
    r_score        BIGINT,
    f_score        BIGINT,
    m_score        BIGINT,
    rfm_class      TEXT,
    value_class    TEXT,
    scored_on      TEXT
);
CREATE INDEX member_segments_ws ON member_segments (workspace_id, stage);

-- Every stage change, also recorded as a `lifecycle.changed` event (same id).
CREATE TABLE lifecycle_transitions (
    workspace_id TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    from_stage   TEXT,
    to_stage     TEXT NOT NULL,
    on_date      TEXT NOT NULL,
    at           BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, event_id)
);
CREATE INDEX lifecycle_transitions_date ON lifecycle_transitions (workspace_id, on_date);

-- Tags beside the profile's own list: `manual` (bulk operations) and `rule` (kept by a rule).
CREATE TABLE member_tags (
    workspace_id TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    tag          TEXT NOT NULL,
    source       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (member_id, tag, source)
);
CREATE INDEX member_tags_tag ON member_tags (workspace_id, tag);

CREATE TABLE tag_rules (
    workspace_id TEXT NOT NULL,
    tag          TEXT NOT NULL,
    condition    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    refreshed_at BIGINT,
    PRIMARY KEY (workspace_id, tag)
);

CREATE TABLE segments (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    name         TEXT NOT NULL,
    condition    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX segments_ws ON segments (workspace_id, id);

CREATE TABLE segment_sizes (
    segment_id TEXT NOT NULL,
    on_date    TEXT NOT NULL,
    size       BIGINT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (segment_id, on_date)
);

-- Bumped by bulk changes (recompute, tag operations) so servers know to rebuild their index.
CREATE TABLE segment_state (
    workspace_id TEXT PRIMARY KEY,
    version      BIGINT NOT NULL
);

-- Lets a server's index catch up on profile edits cheaply.
CREATE INDEX members_updated ON members (workspace_id, updated_at);
CREATE INDEX events_ws_seq ON events (workspace_id, seq);
