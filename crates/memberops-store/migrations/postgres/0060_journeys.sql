-- Journeys: a trigger and a graph of steps, versioned; the members in them (enrollments,
-- also the queue of due steps and waits, claimed under leases); the steps each member went
-- through (the report's per-step counts). Their messages are rows of campaign_messages
-- (campaign_id = the journey, step = the step, occurrence = enrollment:visit).

CREATE TABLE journeys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    name          TEXT NOT NULL,
    -- draft | active | paused | archived
    status        TEXT NOT NULL,
    -- The version new entries follow.
    version       INTEGER NOT NULL,
    -- event | date | points_expiring | schedule
    trigger_kind  TEXT NOT NULL,
    -- The event type of an event trigger (what the consumer looks for).
    trigger_event TEXT,
    -- The shipped template it was created from.
    template      TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    activated_at  BIGINT
);
CREATE INDEX journeys_ws ON journeys (workspace_id, id);

CREATE TABLE journey_versions (
    workspace_id TEXT NOT NULL,
    journey_id   TEXT NOT NULL,
    version      INTEGER NOT NULL,
    -- The journey as given (trigger, entry, goal, steps, experiment), JSON.
    spec         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (journey_id, version)
);

CREATE TABLE journey_enrollments (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    journey_id   TEXT NOT NULL,
    version      INTEGER NOT NULL,
    member_id    TEXT NOT NULL,
    -- What made the member enter (the event id, the date): entering twice on it adds nothing.
    occurrence   TEXT NOT NULL,
    -- The experiment group: '' (none), a variant's name, or 'holdout'.
    grp          TEXT NOT NULL,
    -- active | done | exited | converted | holdout
    status       TEXT NOT NULL,
    -- The step to run when due (or the wait it is in).
    step         TEXT NOT NULL,
    -- 1 while in a wait at `step` (due_at: its end).
    waiting      INTEGER NOT NULL,
    -- A wait for an event: its type, and the step it resumes at when it comes.
    wait_event   TEXT,
    resume_step  TEXT,
    -- Active: when the step runs (or the wait ends); while claimed: the lease's end.
    due_at       BIGINT NOT NULL,
    lease_id     TEXT,
    attempts     INTEGER NOT NULL,
    -- Steps run so far (a message's occurrence is enrollment:visit).
    visits       INTEGER NOT NULL,
    entered_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    -- exit step, goal, end of the path, journey archived
    end_reason   TEXT,
    UNIQUE (workspace_id, journey_id, member_id, occurrence)
);
CREATE INDEX journey_enrollments_due ON journey_enrollments (due_at) WHERE status = 'active';
CREATE INDEX journey_enrollments_member ON journey_enrollments (workspace_id, member_id, journey_id);

-- Each step a member went through, and how it ended (sent, issued, waited, yes/no…).
CREATE TABLE journey_steps (
    workspace_id  TEXT NOT NULL,
    enrollment_id TEXT NOT NULL,
    visit         INTEGER NOT NULL,
    journey_id    TEXT NOT NULL,
    step          TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    at            BIGINT NOT NULL,
    PRIMARY KEY (enrollment_id, visit)
);
CREATE INDEX journey_steps_journey ON journey_steps (workspace_id, journey_id, step);
