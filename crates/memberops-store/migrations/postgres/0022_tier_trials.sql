-- Temporary tiers (体验会员): a tier held for some days, then back to the earned one. The
-- earned tier and since when it was held are kept here while the member holds the trial's.
CREATE TABLE tier_trials (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    tier         TEXT NOT NULL,
    earned_tier  TEXT NOT NULL,
    earned_since BIGINT NOT NULL,
    starts_at    BIGINT NOT NULL,
    ends_at      BIGINT NOT NULL,
    reason       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    -- active, then returned (back to the earned tier), earned (reached it meanwhile) or
    -- superseded (a higher tier earned meanwhile).
    status       TEXT NOT NULL,
    ended_at     BIGINT,
    ended_tier   TEXT
);
CREATE INDEX tier_trials_member ON tier_trials (workspace_id, member_id, starts_at);
CREATE INDEX tier_trials_due ON tier_trials (workspace_id, status, ends_at);
