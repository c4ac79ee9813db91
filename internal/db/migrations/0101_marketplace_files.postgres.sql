-- Offering documents and conformance evidence, stored in the database so a
-- backup of the database is a backup of everything (see 0101 for SQLite).
CREATE TABLE market_files (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES orgs (id),
    offering_id    TEXT NOT NULL REFERENCES market_offerings (id),
    requirement_id TEXT NOT NULL DEFAULT '',
    purpose        TEXT NOT NULL CHECK (purpose IN ('document', 'evidence')),
    name           TEXT NOT NULL,
    content_type   TEXT NOT NULL,
    size_bytes     BIGINT NOT NULL,
    sha256         TEXT NOT NULL,
    data           BYTEA NOT NULL,
    created_by     TEXT NOT NULL DEFAULT '',
    created_at     TEXT NOT NULL
);
CREATE INDEX market_files_offering ON market_files (offering_id, purpose);
