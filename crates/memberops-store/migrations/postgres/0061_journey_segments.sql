-- Segment entry/exit triggers: the members of a journey's segment as the daily job last saw
-- them. A row with an empty member_id marks that the first look (the baseline, which
-- enters nobody) was taken.
CREATE TABLE journey_segment_members (
    workspace_id TEXT NOT NULL,
    journey_id   TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    PRIMARY KEY (journey_id, member_id)
);
