-- Customer experience: OMB Circular A-11 Section 280 surveys sent at the
-- lifecycle stages of a service (or by the office), one invitation per
-- person with a one-time link, at most one response per invitation;
-- feedback items with their history; and "you said, we did" entries that
-- link feedback to the change it led to.

CREATE TABLE cx_surveys (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES orgs (id),
    stage           TEXT NOT NULL CHECK (stage IN ('needs', 'procurement', 'execution', 'delivery')),
    service_area    TEXT NOT NULL,
    service_name    TEXT NOT NULL,
    offering_id     TEXT NOT NULL DEFAULT '',
    offering_name   TEXT NOT NULL DEFAULT '',
    provider_id     TEXT REFERENCES orgs (id),
    order_id        TEXT NOT NULL DEFAULT '',
    subscription_id TEXT NOT NULL DEFAULT '',
    trust_question  TEXT NOT NULL,
    classic         BOOLEAN NOT NULL DEFAULT FALSE,
    source          TEXT NOT NULL CHECK (source IN ('lifecycle', 'office')),
    -- Lifecycle surveys carry a key so a repeated hook call sends nothing
    -- twice; surveys the office sends by hand have none.
    dedupe_key      TEXT UNIQUE,
    quarter         TEXT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL,
    closes_at       TEXT NOT NULL
);
CREATE INDEX cx_surveys_org ON cx_surveys (org_id, created_at);
CREATE INDEX cx_surveys_created ON cx_surveys (created_at);
CREATE INDEX cx_surveys_quarter ON cx_surveys (quarter);

-- Running totals per quarter, stage, service, provider and offering (the
-- cells reports add up), kept in the same transaction as each survey and
-- response, so a report reads a few rows instead of every invitation and
-- response. provider_id and offering_id are '' for none. Counters follow
-- a11.Tally.
CREATE TABLE cx_tallies (
    quarter                      TEXT NOT NULL,
    stage                        TEXT NOT NULL,
    service_area                 TEXT NOT NULL,
    provider_id                  TEXT NOT NULL DEFAULT '',
    offering_id                  TEXT NOT NULL DEFAULT '',
    service_name                 TEXT NOT NULL DEFAULT '',
    offering_name                TEXT NOT NULL DEFAULT '',
    offered                      BIGINT NOT NULL DEFAULT 0,
    responses                    BIGINT NOT NULL DEFAULT 0,
    trust_up                     BIGINT NOT NULL DEFAULT 0,
    trust_down                   BIGINT NOT NULL DEFAULT 0,
    went_well_n                  BIGINT NOT NULL DEFAULT 0,
    not_well_n                   BIGINT NOT NULL DEFAULT 0,
    went_well_effectiveness      BIGINT NOT NULL DEFAULT 0,
    went_well_ease               BIGINT NOT NULL DEFAULT 0,
    went_well_efficiency         BIGINT NOT NULL DEFAULT 0,
    went_well_transparency       BIGINT NOT NULL DEFAULT 0,
    went_well_humanity           BIGINT NOT NULL DEFAULT 0,
    went_well_employee           BIGINT NOT NULL DEFAULT 0,
    went_well_other              BIGINT NOT NULL DEFAULT 0,
    not_well_effectiveness       BIGINT NOT NULL DEFAULT 0,
    not_well_ease                BIGINT NOT NULL DEFAULT 0,
    not_well_efficiency          BIGINT NOT NULL DEFAULT 0,
    not_well_transparency        BIGINT NOT NULL DEFAULT 0,
    not_well_humanity            BIGINT NOT NULL DEFAULT 0,
    not_well_employee            BIGINT NOT NULL DEFAULT 0,
    not_well_other               BIGINT NOT NULL DEFAULT 0,
    classic_satisfaction_n       BIGINT NOT NULL DEFAULT 0,
    classic_satisfaction_sum     BIGINT NOT NULL DEFAULT 0,
    classic_satisfaction_agree   BIGINT NOT NULL DEFAULT 0,
    classic_confidence_n         BIGINT NOT NULL DEFAULT 0,
    classic_confidence_sum       BIGINT NOT NULL DEFAULT 0,
    classic_confidence_agree     BIGINT NOT NULL DEFAULT 0,
    classic_effectiveness_n      BIGINT NOT NULL DEFAULT 0,
    classic_effectiveness_sum    BIGINT NOT NULL DEFAULT 0,
    classic_effectiveness_agree  BIGINT NOT NULL DEFAULT 0,
    classic_ease_n               BIGINT NOT NULL DEFAULT 0,
    classic_ease_sum             BIGINT NOT NULL DEFAULT 0,
    classic_ease_agree           BIGINT NOT NULL DEFAULT 0,
    classic_efficiency_n         BIGINT NOT NULL DEFAULT 0,
    classic_efficiency_sum       BIGINT NOT NULL DEFAULT 0,
    classic_efficiency_agree     BIGINT NOT NULL DEFAULT 0,
    classic_equity_n             BIGINT NOT NULL DEFAULT 0,
    classic_equity_sum           BIGINT NOT NULL DEFAULT 0,
    classic_equity_agree         BIGINT NOT NULL DEFAULT 0,
    classic_employee_n           BIGINT NOT NULL DEFAULT 0,
    classic_employee_sum         BIGINT NOT NULL DEFAULT 0,
    classic_employee_agree       BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (quarter, stage, service_area, provider_id, offering_id)
);

CREATE TABLE cx_invitations (
    id           TEXT PRIMARY KEY,
    survey_id    TEXT NOT NULL REFERENCES cx_surveys (id),
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    token_hash   TEXT NOT NULL UNIQUE,
    quarter      TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    responded_at TEXT,
    UNIQUE (survey_id, user_id)
);
CREATE INDEX cx_invitations_user ON cx_invitations (user_id, created_at);
CREATE INDEX cx_invitations_quarter ON cx_invitations (quarter);

CREATE TABLE cx_responses (
    id            TEXT PRIMARY KEY,
    invitation_id TEXT NOT NULL UNIQUE REFERENCES cx_invitations (id),
    survey_id     TEXT NOT NULL REFERENCES cx_surveys (id),
    org_id        TEXT NOT NULL REFERENCES orgs (id),
    channel       TEXT NOT NULL CHECK (channel IN ('web', 'email', 'api')),
    -- 1 thumbs up, 0 thumbs down, NULL not answered.
    trust         SMALLINT CHECK (trust IN (0, 1)),
    -- One bit per driver in column order; 0 means not answered.
    went_well     SMALLINT NOT NULL DEFAULT 0,
    not_well      SMALLINT NOT NULL DEFAULT 0,
    comment       TEXT NOT NULL DEFAULT '',
    -- Seven digits, one per classic item: 1 to 5, 0 not answered.
    classic       TEXT NOT NULL DEFAULT '0000000',
    quarter       TEXT NOT NULL,
    submitted_at  TEXT NOT NULL
);
CREATE INDEX cx_responses_quarter ON cx_responses (quarter);
CREATE INDEX cx_responses_survey ON cx_responses (survey_id);

CREATE TABLE cx_feedback (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    -- The person who submitted it; '' when an API token did.
    submitted_by TEXT NOT NULL DEFAULT '',
    submitter    TEXT NOT NULL DEFAULT '',
    kind         TEXT NOT NULL CHECK (kind IN ('idea', 'problem', 'praise')),
    title        TEXT NOT NULL,
    body         TEXT NOT NULL DEFAULT '',
    service_area TEXT NOT NULL DEFAULT '',
    state        TEXT NOT NULL CHECK (state IN ('received', 'under_review', 'planned', 'done', 'wont_do')),
    reason       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    closed_at    TEXT
);
CREATE INDEX cx_feedback_org ON cx_feedback (org_id, created_at);
CREATE INDEX cx_feedback_state ON cx_feedback (state, created_at);

CREATE TABLE cx_feedback_events (
    id          TEXT PRIMARY KEY,
    feedback_id TEXT NOT NULL REFERENCES cx_feedback (id),
    from_state  TEXT NOT NULL DEFAULT '',
    to_state    TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    actor       TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL
);
CREATE INDEX cx_feedback_events_item ON cx_feedback_events (feedback_id, at);

CREATE TABLE cx_changes (
    id               TEXT PRIMARY KEY,
    title            TEXT NOT NULL,
    summary          TEXT NOT NULL,
    -- The change made, as a typed reference to a record another part of
    -- qsmo owns (an offering, a standard version, a service).
    ref_kind         TEXT NOT NULL DEFAULT '' CHECK (ref_kind IN ('', 'offering', 'standard_version', 'service', 'other')),
    ref_id           TEXT NOT NULL DEFAULT '',
    ref_label        TEXT NOT NULL DEFAULT '',
    ref_url          TEXT NOT NULL DEFAULT '',
    metric           TEXT NOT NULL DEFAULT '',
    before_value     DOUBLE PRECISION,
    after_value      DOUBLE PRECISION,
    unit             TEXT NOT NULL DEFAULT '',
    higher_is_better BOOLEAN NOT NULL DEFAULT FALSE,
    service_area     TEXT NOT NULL DEFAULT '',
    -- everyone: every organization sees it; linked: only the organizations
    -- whose feedback it answers.
    audience         TEXT NOT NULL CHECK (audience IN ('everyone', 'linked')),
    created_by       TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX cx_changes_created ON cx_changes (created_at);

CREATE TABLE cx_change_feedback (
    change_id   TEXT NOT NULL REFERENCES cx_changes (id),
    feedback_id TEXT NOT NULL REFERENCES cx_feedback (id),
    org_id      TEXT NOT NULL REFERENCES orgs (id),
    PRIMARY KEY (change_id, feedback_id)
);
CREATE INDEX cx_change_feedback_org ON cx_change_feedback (org_id);
CREATE INDEX cx_change_feedback_item ON cx_change_feedback (feedback_id);
