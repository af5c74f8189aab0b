-- Member-intelligence rules per workspace (RFM scoring, lifecycle stage thresholds, value
-- classes, churn factor) as JSON. Every saved version is kept; the highest one is in force,
-- and a workspace without a row runs on the seed defaults.
CREATE TABLE intel_settings (
    workspace_id TEXT NOT NULL,
    version      BIGINT NOT NULL,
    settings     TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL,
    PRIMARY KEY (workspace_id, version)
);
