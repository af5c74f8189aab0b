-- Campaigns (broadcasts), their messages, unsubscribes, the member-center inbox and
-- staff call tasks (回访).

CREATE TABLE campaigns (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    name            TEXT NOT NULL,
    -- broadcast
    kind            TEXT NOT NULL,
    -- draft | running | paused | cancelled
    status          TEXT NOT NULL,
    -- The campaign as created (audience, message, schedule, goal), JSON.
    spec            TEXT NOT NULL,
    segment_id      TEXT NOT NULL,
    channel         TEXT NOT NULL,
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    launched_at     BIGINT,
    UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX campaigns_ws ON campaigns (workspace_id, id);

-- One row per (campaign or journey step, member, occurrence), written when the campaign
-- is planned and before any provider is called: the unique key is what makes a message go
-- out at most once across restarts and workers. The dispatcher claims due rows with a
-- lease (status `sending`, `due_at` = lease end), as the webhook outbox does.
CREATE TABLE campaign_messages (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL,
    campaign_id   TEXT NOT NULL,
    step          TEXT NOT NULL,
    member_id     TEXT NOT NULL,
    occurrence    TEXT NOT NULL,
    channel       TEXT NOT NULL,
    transactional INTEGER NOT NULL,
    -- pending | sending | sent | delivered | failed | held | cancelled
    status        TEXT NOT NULL,
    -- held: why (no_consent, frequency_cap, unsubscribed, no_address).
    held_reason   TEXT,
    -- Set when a delivery rule moved the send (quiet_hours).
    deferred      TEXT,
    due_at        BIGINT NOT NULL,
    lease_id      TEXT,
    attempts      INTEGER NOT NULL,
    last_error    TEXT,
    -- The unsubscribe link's token.
    token         TEXT NOT NULL,
    sent_at       BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (workspace_id, campaign_id, step, member_id, occurrence),
    UNIQUE (token)
);
CREATE INDEX campaign_messages_due ON campaign_messages (due_at)
    WHERE status IN ('pending', 'sending');
CREATE INDEX campaign_messages_member ON campaign_messages (workspace_id, member_id, sent_at);

-- Withdrawals through unsubscribe links, per channel.
CREATE TABLE campaign_unsubscribes (
    workspace_id TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    channel      TEXT NOT NULL,
    message_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, member_id, channel)
);

-- The member center's inbox: a message of the `inapp` channel, by its message id.
CREATE TABLE inbox_messages (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    title        TEXT NOT NULL,
    body         TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    read_at      BIGINT
);
CREATE INDEX inbox_messages_member ON inbox_messages (workspace_id, member_id, id);

-- Staff call tasks (回访): assigned to a staff member or a pool, due in a window.
CREATE TABLE staff_tasks (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL,
    member_id       TEXT NOT NULL,
    assignee        TEXT,
    pool            TEXT,
    title           TEXT NOT NULL,
    note            TEXT NOT NULL,
    due_from        BIGINT NOT NULL,
    due_to          BIGINT NOT NULL,
    -- The member's local date of `due_from`, and that day's bounds in the member's zone
    -- (`due=today`: the day holding now).
    due_date        TEXT NOT NULL,
    day_start       BIGINT NOT NULL,
    day_end         BIGINT NOT NULL,
    -- open | done
    status          TEXT NOT NULL,
    outcome         TEXT,
    notes           TEXT,
    callback_at     BIGINT,
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    done_at         BIGINT,
    UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX staff_tasks_ws ON staff_tasks (workspace_id, id);
