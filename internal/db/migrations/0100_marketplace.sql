-- Marketplace: service areas, offerings with tiers and price books,
-- standards and conformance answers, maturity assessments, orders through
-- quotes and interagency agreements to subscriptions, usage, chargeback
-- statements and go-it-alone baselines. Money is integer cents; times are
-- fixed-width UTC text (db.TimeLayout); IDs are opaque except service
-- areas, which are stable public keys.

CREATE TABLE market_service_areas (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    summary         TEXT NOT NULL,
    csf_functions   TEXT NOT NULL, -- comma-separated NIST CSF functions
    office_operated BOOLEAN NOT NULL DEFAULT FALSE,
    sort_order      BIGINT NOT NULL
);

INSERT INTO market_service_areas (id, name, summary, csf_functions, office_operated, sort_order) VALUES
('protective-dns', 'Protective DNS', 'A resolver that blocks lookups of malicious domains from threat-intelligence feeds and logs every query for investigation.', 'protect,detect', TRUE, 1),
('vulnerability-management', 'Vulnerability disclosure and management', 'A public channel for researchers to report vulnerabilities, with triage, remediation tracking, scanner findings and KEV deadlines.', 'identify,respond', TRUE, 2),
('soc', 'SOC as a service', 'Standard log collection, a common event schema, standard detections, alert triage and case handling.', 'detect,respond', TRUE, 3),
('network-defense', 'Network defense', 'Perimeter and internal network protection: firewalls, segmentation and traffic analysis.', 'protect,detect', FALSE, 4),
('incident-management', 'Incident management', 'Incident response, forensics and recovery support.', 'respond,recover', FALSE, 5),
('threat-intelligence', 'Threat intelligence', 'Curated threat reports and machine-readable indicator feeds.', 'identify,detect', FALSE, 6),
('intrusion-detection', 'Intrusion detection and prevention', 'Network and host sensors that detect and block intrusions.', 'detect,protect', FALSE, 7),
('supply-chain-risk', 'Supply-chain risk', 'Assessment and monitoring of suppliers and the software they ship.', 'identify', FALSE, 8),
('asset-management', 'Asset management', 'Discovery and inventory of hardware, software and cloud assets.', 'identify', FALSE, 9),
('identity-access', 'Identity and access', 'Identity providers, phishing-resistant authentication and access governance.', 'protect', FALSE, 10),
('data-protection', 'Data protection', 'Backup, encryption and data-loss prevention.', 'protect,recover', FALSE, 11),
('mobile-security', 'Mobile security', 'Mobile device management and mobile threat defense.', 'protect,detect', FALSE, 12);

CREATE TABLE market_offerings (
    id                TEXT PRIMARY KEY,
    provider_org_id   TEXT NOT NULL REFERENCES orgs (id),
    service_area_id   TEXT NOT NULL REFERENCES market_service_areas (id),
    name              TEXT NOT NULL,
    summary           TEXT NOT NULL DEFAULT '',
    description       TEXT NOT NULL DEFAULT '',
    provider_type     TEXT NOT NULL CHECK (provider_type IN ('office', 'federal_ssp', 'commercial')),
    contract_vehicle  TEXT NOT NULL DEFAULT '',
    prerequisites     TEXT NOT NULL DEFAULT '', -- comma-separated capability keys
    onboarding_days   BIGINT NOT NULL DEFAULT 14,
    status            TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'in_review', 'listed', 'paused', 'retired')),
    pricing_model     TEXT NOT NULL DEFAULT 'flat' CHECK (pricing_model IN ('flat', 'per_unit', 'tiered')),
    price_from_cents  BIGINT NOT NULL DEFAULT 0, -- lowest monthly price of a listed tier, for sorting
    agencies_using    BIGINT NOT NULL DEFAULT 0, -- agencies with an active subscription, kept with them
    search_text       TEXT NOT NULL DEFAULT '',  -- lowercased words for free-text search
    status_changed_at TEXT NOT NULL,
    listed_at         TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX market_offerings_status ON market_offerings (status, name);
CREATE INDEX market_offerings_provider ON market_offerings (provider_org_id, status);
CREATE INDEX market_offerings_area ON market_offerings (service_area_id, status);

CREATE TABLE market_offering_tiers (
    offering_id      TEXT NOT NULL REFERENCES market_offerings (id),
    tier             TEXT NOT NULL CHECK (tier IN ('foundational', 'intermediate', 'advanced')),
    description      TEXT NOT NULL DEFAULT '',
    availability_bp  BIGINT NOT NULL DEFAULT 0, -- availability target in basis points: 9990 is 99.90%
    response_minutes BIGINT NOT NULL DEFAULT 0, -- time to respond to a critical issue
    support_hours    TEXT NOT NULL DEFAULT '',
    listed           BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (offering_id, tier)
);
CREATE INDEX market_offering_tiers_listed ON market_offering_tiers (tier, listed, offering_id);

CREATE TABLE market_prices (
    offering_id      TEXT NOT NULL REFERENCES market_offerings (id),
    tier             TEXT NOT NULL,
    seq              BIGINT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('recurring', 'one_time', 'usage')),
    unit             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    quantity         BIGINT NOT NULL DEFAULT 1,
    from_units       BIGINT NOT NULL DEFAULT 0,
    unit_price_cents BIGINT NOT NULL,
    PRIMARY KEY (offering_id, tier, seq)
);

CREATE TABLE market_offering_history (
    id          TEXT PRIMARY KEY,
    offering_id TEXT NOT NULL REFERENCES market_offerings (id),
    seq         BIGINT NOT NULL, -- order within the offering
    from_status TEXT NOT NULL DEFAULT '',
    to_status   TEXT NOT NULL,
    note        TEXT NOT NULL DEFAULT '',
    actor_label TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL
);
CREATE INDEX market_offering_history_offering ON market_offering_history (offering_id, seq);

CREATE TABLE market_onboarding_steps (
    offering_id TEXT NOT NULL REFERENCES market_offerings (id),
    seq         BIGINT NOT NULL,
    title       TEXT NOT NULL,
    detail      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (offering_id, seq)
);

CREATE TABLE market_standards (
    id              TEXT PRIMARY KEY,
    service_area_id TEXT NOT NULL REFERENCES market_service_areas (id),
    version         BIGINT NOT NULL,
    title           TEXT NOT NULL,
    summary         TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('draft', 'published', 'superseded')),
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    published_at    TEXT,
    published_by    TEXT NOT NULL DEFAULT '',
    superseded_at   TEXT,
    UNIQUE (service_area_id, version)
);
CREATE INDEX market_standards_status ON market_standards (status, service_area_id);

CREATE TABLE market_requirements (
    id          TEXT PRIMARY KEY,
    standard_id TEXT NOT NULL REFERENCES market_standards (id),
    code        TEXT NOT NULL,
    text        TEXT NOT NULL,
    mandatory   BOOLEAN NOT NULL DEFAULT TRUE,
    tiers       TEXT NOT NULL, -- comma-separated tiers the requirement applies to
    seq         BIGINT NOT NULL,
    UNIQUE (standard_id, code)
);

CREATE TABLE market_answers (
    offering_id    TEXT NOT NULL REFERENCES market_offerings (id),
    requirement_id TEXT NOT NULL REFERENCES market_requirements (id),
    status         TEXT NOT NULL CHECK (status IN ('met', 'partial', 'not_met', 'not_applicable')),
    evidence       TEXT NOT NULL DEFAULT '',
    review_status  TEXT NOT NULL DEFAULT 'pending' CHECK (review_status IN ('pending', 'accepted', 'rejected')),
    review_note    TEXT NOT NULL DEFAULT '',
    reviewed_by    TEXT NOT NULL DEFAULT '',
    reviewed_at    TEXT,
    answered_by    TEXT NOT NULL DEFAULT '',
    answered_at    TEXT NOT NULL,
    PRIMARY KEY (offering_id, requirement_id)
);
CREATE INDEX market_answers_review ON market_answers (review_status, answered_at);

CREATE TABLE market_assessments (
    id                    TEXT PRIMARY KEY,
    agency_org_id         TEXT NOT NULL REFERENCES orgs (id),
    service_area_id       TEXT NOT NULL REFERENCES market_service_areas (id),
    questionnaire_version BIGINT NOT NULL,
    answers               TEXT NOT NULL, -- JSON object: question ID -> answer value
    score                 BIGINT NOT NULL,
    max_score             BIGINT NOT NULL,
    tier                  TEXT NOT NULL,
    reasons               TEXT NOT NULL, -- JSON array of sentences
    capabilities          TEXT NOT NULL DEFAULT '',
    taken_by              TEXT NOT NULL DEFAULT '',
    taken_by_label        TEXT NOT NULL DEFAULT '',
    taken_at              TEXT NOT NULL
);
CREATE INDEX market_assessments_agency ON market_assessments (agency_org_id, service_area_id, taken_at);
CREATE INDEX market_assessments_area ON market_assessments (service_area_id, taken_at);

CREATE TABLE market_orders (
    id                 TEXT PRIMARY KEY,
    agency_org_id      TEXT NOT NULL REFERENCES orgs (id),
    provider_org_id    TEXT NOT NULL REFERENCES orgs (id),
    offering_id        TEXT NOT NULL REFERENCES market_offerings (id),
    service_area_id    TEXT NOT NULL REFERENCES market_service_areas (id),
    tier               TEXT NOT NULL,
    quantity           BIGINT NOT NULL DEFAULT 1,
    needs              TEXT NOT NULL DEFAULT '',
    state              TEXT NOT NULL,
    state_since        TEXT NOT NULL,
    due_at             TEXT,
    note               TEXT NOT NULL DEFAULT '', -- the last reason given (decline, return, cancellation)
    provision_error    TEXT NOT NULL DEFAULT '',
    requested_by       TEXT NOT NULL DEFAULT '',
    requested_by_label TEXT NOT NULL DEFAULT '',
    requested_at       TEXT NOT NULL,
    activated_at       TEXT,
    closed_at          TEXT,
    updated_at         TEXT NOT NULL
);
CREATE INDEX market_orders_agency ON market_orders (agency_org_id, requested_at);
CREATE INDEX market_orders_provider ON market_orders (provider_org_id, requested_at);
CREATE INDEX market_orders_state ON market_orders (state, due_at);
CREATE INDEX market_orders_offering ON market_orders (offering_id, state);
CREATE INDEX market_orders_requested ON market_orders (requested_at);

CREATE TABLE market_order_events (
    id            TEXT PRIMARY KEY,
    order_id      TEXT NOT NULL REFERENCES market_orders (id),
    seq           BIGINT NOT NULL, -- order within the order
    action        TEXT NOT NULL,
    from_state    TEXT NOT NULL DEFAULT '',
    to_state      TEXT NOT NULL,
    party         TEXT NOT NULL,
    actor_user_id TEXT NOT NULL DEFAULT '',
    actor_label   TEXT NOT NULL DEFAULT '',
    note          TEXT NOT NULL DEFAULT '',
    at            TEXT NOT NULL,
    due_at        TEXT,            -- when the step that ended here was due
    on_time       BOOLEAN          -- whether it ended by then (NULL for untimed steps)
);
CREATE INDEX market_order_events_order ON market_order_events (order_id, seq);
CREATE INDEX market_order_events_at ON market_order_events (at, from_state);

CREATE TABLE market_quotes (
    id             TEXT PRIMARY KEY,
    order_id       TEXT NOT NULL REFERENCES market_orders (id),
    version        BIGINT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('sent', 'accepted', 'returned')),
    notes          TEXT NOT NULL DEFAULT '',
    valid_until    TEXT,
    monthly_cents  BIGINT NOT NULL,
    one_time_cents BIGINT NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL,
    UNIQUE (order_id, version)
);

CREATE TABLE market_quote_lines (
    quote_id         TEXT NOT NULL REFERENCES market_quotes (id),
    seq              BIGINT NOT NULL,
    kind             TEXT NOT NULL,
    unit             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    quantity         BIGINT NOT NULL DEFAULT 1,
    from_units       BIGINT NOT NULL DEFAULT 0,
    unit_price_cents BIGINT NOT NULL,
    PRIMARY KEY (quote_id, seq)
);

-- The interagency agreement of an order: general terms and conditions
-- (the data of Treasury form 7600A) and the order (7600B).
CREATE TABLE market_agreements (
    id                     TEXT PRIMARY KEY,
    order_id               TEXT NOT NULL UNIQUE REFERENCES market_orders (id),
    status                 TEXT NOT NULL CHECK (status IN ('draft', 'signing', 'signed')),
    gtc_number             TEXT NOT NULL DEFAULT '',
    order_number           TEXT NOT NULL DEFAULT '',
    requesting_name        TEXT NOT NULL DEFAULT '',
    requesting_agency_code TEXT NOT NULL DEFAULT '',
    requesting_alc         TEXT NOT NULL DEFAULT '',
    requesting_tracking    TEXT NOT NULL DEFAULT '',
    servicing_name         TEXT NOT NULL DEFAULT '',
    servicing_agency_code  TEXT NOT NULL DEFAULT '',
    servicing_alc          TEXT NOT NULL DEFAULT '',
    servicing_tracking     TEXT NOT NULL DEFAULT '',
    contract_vehicle       TEXT NOT NULL DEFAULT '',
    period_start           TEXT NOT NULL DEFAULT '',
    period_end             TEXT NOT NULL DEFAULT '',
    recurring              BOOLEAN NOT NULL DEFAULT TRUE,
    authority              TEXT NOT NULL DEFAULT '',
    authority_citation     TEXT NOT NULL DEFAULT '',
    advance                BOOLEAN NOT NULL DEFAULT FALSE,
    termination_days       BIGINT NOT NULL DEFAULT 30,
    requirements           TEXT NOT NULL DEFAULT '',
    tas                    TEXT NOT NULL DEFAULT '',
    object_class           TEXT NOT NULL DEFAULT '',
    obligated_cents        BIGINT NOT NULL DEFAULT 0,
    funds_expire           TEXT NOT NULL DEFAULT '',
    agency_signer          TEXT NOT NULL DEFAULT '',
    agency_signer_title    TEXT NOT NULL DEFAULT '',
    agency_signed_at       TEXT,
    provider_signer        TEXT NOT NULL DEFAULT '',
    provider_signer_title  TEXT NOT NULL DEFAULT '',
    provider_signed_at     TEXT,
    sent_at                TEXT,
    created_at             TEXT NOT NULL,
    updated_at             TEXT NOT NULL
);

CREATE TABLE market_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);

CREATE TABLE market_order_tasks (
    id       TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES market_orders (id),
    seq      BIGINT NOT NULL,
    title    TEXT NOT NULL,
    detail   TEXT NOT NULL DEFAULT '',
    done_at  TEXT,
    done_by  TEXT NOT NULL DEFAULT '',
    note     TEXT NOT NULL DEFAULT '',
    UNIQUE (order_id, seq)
);

CREATE TABLE market_subscriptions (
    id                TEXT PRIMARY KEY,
    order_id          TEXT NOT NULL UNIQUE REFERENCES market_orders (id),
    agency_org_id     TEXT NOT NULL REFERENCES orgs (id),
    provider_org_id   TEXT NOT NULL REFERENCES orgs (id),
    offering_id       TEXT NOT NULL REFERENCES market_offerings (id),
    service_area_id   TEXT NOT NULL REFERENCES market_service_areas (id),
    tier              TEXT NOT NULL,
    quantity          BIGINT NOT NULL DEFAULT 1,
    status            TEXT NOT NULL CHECK (status IN ('active', 'cancelled')),
    started_at        TEXT NOT NULL,
    ended_at          TEXT,
    end_reason        TEXT NOT NULL DEFAULT '',
    delivery_stage_at TEXT, -- last quarterly delivery stage sent to the lifecycle hook
    updated_at        TEXT NOT NULL
);
CREATE INDEX market_subscriptions_agency ON market_subscriptions (agency_org_id, status);
CREATE INDEX market_subscriptions_provider ON market_subscriptions (provider_org_id, status);
CREATE INDEX market_subscriptions_offering ON market_subscriptions (offering_id, status, agency_org_id);
CREATE INDEX market_subscriptions_status ON market_subscriptions (status, started_at);

-- A subscription's current rates: the accepted quote's lines, changed by
-- approved modifications.
CREATE TABLE market_rates (
    subscription_id  TEXT NOT NULL REFERENCES market_subscriptions (id),
    seq              BIGINT NOT NULL,
    kind             TEXT NOT NULL,
    unit             TEXT NOT NULL,
    description      TEXT NOT NULL DEFAULT '',
    quantity         BIGINT NOT NULL DEFAULT 1,
    from_units       BIGINT NOT NULL DEFAULT 0,
    unit_price_cents BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, seq)
);

CREATE TABLE market_modifications (
    id                 TEXT PRIMARY KEY,
    subscription_id    TEXT NOT NULL REFERENCES market_subscriptions (id),
    number             BIGINT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('proposed', 'approved', 'rejected', 'withdrawn')),
    proposer_party     TEXT NOT NULL CHECK (proposer_party IN ('agency', 'provider')),
    proposed_by        TEXT NOT NULL DEFAULT '',
    proposer_tracking  TEXT NOT NULL DEFAULT '',
    new_tier           TEXT NOT NULL,
    new_quantity       BIGINT NOT NULL,
    new_lines          TEXT NOT NULL, -- JSON array of price lines
    note               TEXT NOT NULL DEFAULT '',
    decided_by         TEXT NOT NULL DEFAULT '',
    approver_tracking  TEXT NOT NULL DEFAULT '',
    decision_note      TEXT NOT NULL DEFAULT '',
    proposed_at        TEXT NOT NULL,
    due_at             TEXT NOT NULL,
    decided_at         TEXT,
    UNIQUE (subscription_id, number)
);
CREATE INDEX market_modifications_status ON market_modifications (status, due_at);

CREATE TABLE market_exceptions (
    id                 TEXT PRIMARY KEY,
    agency_org_id      TEXT NOT NULL REFERENCES orgs (id),
    service_area_id    TEXT NOT NULL REFERENCES market_service_areas (id),
    vendor             TEXT NOT NULL,
    description        TEXT NOT NULL,
    justification      TEXT NOT NULL,
    annual_cost_cents  BIGINT NOT NULL DEFAULT 0,
    status             TEXT NOT NULL CHECK (status IN ('submitted', 'approved', 'declined', 'withdrawn')),
    decision_reason    TEXT NOT NULL DEFAULT '',
    requested_by       TEXT NOT NULL DEFAULT '',
    requested_by_label TEXT NOT NULL DEFAULT '',
    decided_by         TEXT NOT NULL DEFAULT '',
    created_at         TEXT NOT NULL,
    due_at             TEXT NOT NULL,
    decided_at         TEXT
);
CREATE INDEX market_exceptions_agency ON market_exceptions (agency_org_id, created_at);
CREATE INDEX market_exceptions_status ON market_exceptions (status, due_at);

CREATE TABLE market_usage (
    id              TEXT PRIMARY KEY,
    subscription_id TEXT NOT NULL REFERENCES market_subscriptions (id),
    metric          TEXT NOT NULL,
    quantity        BIGINT NOT NULL,
    occurred_at     TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    recorded_at     TEXT NOT NULL,
    recorded_by     TEXT NOT NULL DEFAULT '',
    UNIQUE (subscription_id, idempotency_key)
);
CREATE INDEX market_usage_period ON market_usage (subscription_id, metric, occurred_at);

CREATE TABLE market_statements (
    id            TEXT PRIMARY KEY,
    agency_org_id TEXT NOT NULL REFERENCES orgs (id),
    period        TEXT NOT NULL, -- YYYY-MM
    total_cents   BIGINT NOT NULL,
    issued_at     TEXT NOT NULL,
    issued_by     TEXT NOT NULL DEFAULT '',
    UNIQUE (agency_org_id, period)
);
CREATE INDEX market_statements_period ON market_statements (period);

-- One subscription's part of a statement, with the days it was active in
-- the month: the cost-avoidance report weighs the baseline by them.
CREATE TABLE market_statement_subs (
    statement_id    TEXT NOT NULL REFERENCES market_statements (id),
    subscription_id TEXT NOT NULL REFERENCES market_subscriptions (id),
    offering_id     TEXT NOT NULL,
    offering_name   TEXT NOT NULL,
    provider_name   TEXT NOT NULL,
    service_area_id TEXT NOT NULL,
    tier            TEXT NOT NULL,
    active_days     BIGINT NOT NULL,
    month_days      BIGINT NOT NULL,
    amount_cents    BIGINT NOT NULL,
    PRIMARY KEY (statement_id, subscription_id)
);
CREATE INDEX market_statement_subs_sub ON market_statement_subs (subscription_id);

CREATE TABLE market_statement_lines (
    statement_id     TEXT NOT NULL REFERENCES market_statements (id),
    seq              BIGINT NOT NULL,
    subscription_id  TEXT NOT NULL,
    kind             TEXT NOT NULL,
    description      TEXT NOT NULL,
    quantity         BIGINT NOT NULL,
    unit             TEXT NOT NULL,
    unit_price_cents BIGINT NOT NULL,
    amount_cents     BIGINT NOT NULL,
    PRIMARY KEY (statement_id, seq)
);

-- What an agency would pay to buy a service on its own, per month, for
-- the cost-avoidance report. The office sets it.
CREATE TABLE market_baselines (
    service_area_id TEXT NOT NULL REFERENCES market_service_areas (id),
    tier            TEXT NOT NULL,
    monthly_cents   BIGINT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    updated_at      TEXT NOT NULL,
    updated_by      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (service_area_id, tier)
);
