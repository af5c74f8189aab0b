-- Predicted member value (docs/predicted-value.md): per member, the BG/NBD and Gamma-Gamma
-- predictions of the last fit, replaced whole by each refresh (the daily job, or on
-- demand), and the fitted parameters of each fit. Members without an order by the fit's
-- as-of date have no row. Money in minor units of the workspace currency.
CREATE TABLE member_predictions (
    member_id            TEXT PRIMARY KEY,
    workspace_id         TEXT NOT NULL,
    as_of                TEXT NOT NULL,
    p_alive              REAL NOT NULL,
    expected_orders_90d  REAL NOT NULL,
    expected_aov_minor   BIGINT NOT NULL,
    clv_12m_minor        BIGINT NOT NULL,
    fitted_at            BIGINT NOT NULL
);
CREATE INDEX member_predictions_workspace ON member_predictions (workspace_id, member_id);

CREATE TABLE clv_fits (
    workspace_id  TEXT NOT NULL,
    as_of         TEXT NOT NULL,
    members       BIGINT NOT NULL,
    repeat_members BIGINT NOT NULL,
    r             REAL NOT NULL,
    alpha         REAL NOT NULL,
    a             REAL NOT NULL,
    b             REAL NOT NULL,
    p             REAL NOT NULL,
    q             REAL NOT NULL,
    v_minor       REAL NOT NULL,
    fitted_at     BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, as_of)
);
