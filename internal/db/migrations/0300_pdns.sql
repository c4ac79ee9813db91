-- Protective DNS: each agency's policy (egress networks, DoH token,
-- categories, allow and deny lists, block mode, answer checks), the office's
-- threat feeds, global blocks and block page address, the resolver nodes
-- and what they report about the feeds, the change counter the nodes poll,
-- and the suspected-client alerts already sent.

-- One row per agency that has the service; no row means the resolver
-- refuses the agency's queries.
CREATE TABLE dns_policies (
    org_id           TEXT PRIMARY KEY REFERENCES orgs (id),
    categories       TEXT NOT NULL DEFAULT '',
    block_mode       TEXT NOT NULL DEFAULT 'nxdomain' CHECK (block_mode IN ('nxdomain', 'refused', 'nodata', 'sinkhole')),
    cname_inspection BOOLEAN NOT NULL DEFAULT TRUE,
    -- Kept in clear: the agency must be able to copy its DoH URL at any
    -- time. It routes queries to the agency's policy; it grants no access
    -- to the portal or to data.
    doh_token        TEXT NOT NULL UNIQUE,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- Networks of a policy: the agency's egress networks (which source
-- addresses are the agency's) and the networks whose appearance in an
-- answer blocks it.
CREATE TABLE dns_networks (
    org_id TEXT NOT NULL REFERENCES dns_policies (org_id) ON DELETE CASCADE,
    kind   TEXT NOT NULL CHECK (kind IN ('egress', 'blocked_answer')),
    cidr   TEXT NOT NULL,
    PRIMARY KEY (org_id, kind, cidr)
);
-- Overlapping egress networks are refused by the service; equal ones also
-- by the database.
CREATE UNIQUE INDEX dns_networks_egress ON dns_networks (cidr) WHERE kind = 'egress';

-- An agency's own allow and deny lists.
CREATE TABLE dns_names (
    org_id TEXT NOT NULL REFERENCES dns_policies (org_id) ON DELETE CASCADE,
    list   TEXT NOT NULL CHECK (list IN ('allow', 'deny')),
    name   TEXT NOT NULL,
    PRIMARY KEY (org_id, list, name)
);

-- Threat feeds managed by the office.
CREATE TABLE dns_feeds (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    source           TEXT NOT NULL,
    format           TEXT NOT NULL,
    category         TEXT NOT NULL,
    interval_seconds BIGINT NOT NULL,
    enabled          BOOLEAN NOT NULL DEFAULT TRUE,
    -- Raised by "refresh now"; every node refreshes the feed when it sees
    -- a higher value.
    refresh_seq      BIGINT NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

-- Names the office blocks for every agency.
CREATE TABLE dns_global_blocks (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    reason     TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL
);

-- One row: the policy version every change raises (resolver nodes poll it
-- and rebuild when it moves), the office's block page addresses, and the
-- agency that owns loopback clients in demo mode.
CREATE TABLE dns_state (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     BIGINT NOT NULL,
    sinkhole_v4 TEXT NOT NULL DEFAULT '',
    sinkhole_v6 TEXT NOT NULL DEFAULT '',
    demo_org_id TEXT NOT NULL DEFAULT ''
);
INSERT INTO dns_state (id, version) VALUES (1, 1);

-- Resolver nodes (every qsmo serve with DNS on, every qsmo dns), as they
-- last reported themselves.
CREATE TABLE dns_nodes (
    id             TEXT PRIMARY KEY,
    hostname       TEXT NOT NULL,
    dns_addr       TEXT NOT NULL DEFAULT '',
    dot_addr       TEXT NOT NULL DEFAULT '',
    doh_url        TEXT NOT NULL DEFAULT '',
    version        TEXT NOT NULL DEFAULT '',
    policy_version BIGINT NOT NULL DEFAULT 0,
    list_names     BIGINT NOT NULL DEFAULT 0,
    started_at     TEXT NOT NULL,
    seen_at        TEXT NOT NULL
);

-- Each node's view of each feed.
CREATE TABLE dns_feed_status (
    feed_id      TEXT NOT NULL REFERENCES dns_feeds (id) ON DELETE CASCADE,
    node_id      TEXT NOT NULL REFERENCES dns_nodes (id) ON DELETE CASCADE,
    state        TEXT NOT NULL,
    entries      BIGINT NOT NULL DEFAULT 0,
    format       TEXT NOT NULL DEFAULT '',
    reason       TEXT NOT NULL DEFAULT '',
    failures     BIGINT NOT NULL DEFAULT 0,
    duration_ms  BIGINT NOT NULL DEFAULT 0,
    last_attempt TEXT,
    last_success TEXT,
    last_change  TEXT,
    updated_at   TEXT NOT NULL,
    PRIMARY KEY (feed_id, node_id)
);

-- Suspected infected clients already reported to their agency, one per
-- client and counting window, so that several nodes or a restart never
-- notify twice.
CREATE TABLE dns_suspect_alerts (
    org_id       TEXT NOT NULL REFERENCES orgs (id),
    client       TEXT NOT NULL,
    window_start TEXT NOT NULL,
    hits         BIGINT NOT NULL,
    qname        TEXT NOT NULL DEFAULT '',
    category     TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    PRIMARY KEY (org_id, client, window_start)
);
