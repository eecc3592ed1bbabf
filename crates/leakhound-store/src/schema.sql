-- leakhound store, schema version 1. Tables are STRICT; ids of findings come from their
-- content (rule, endpoint, location), so the same exposure seen by two scans is one row.
CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    started TEXT NOT NULL,
    finished TEXT,
    arguments TEXT NOT NULL,
    status TEXT NOT NULL
) STRICT;

CREATE TABLE endpoints (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    ip TEXT NOT NULL,
    port INTEGER NOT NULL,
    host TEXT,
    service TEXT NOT NULL,
    access TEXT NOT NULL,
    version TEXT,
    -- The full endpoint result as JSON (tables, notes): redacted by construction.
    detail TEXT NOT NULL,
    PRIMARY KEY (scan_id, ip, port)
) STRICT;

CREATE TABLE findings (
    id TEXT PRIMARY KEY,
    rule TEXT NOT NULL,
    category TEXT NOT NULL,
    title TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    location TEXT NOT NULL,
    remediation TEXT NOT NULL,
    first_scan INTEGER NOT NULL REFERENCES scans(id),
    last_scan INTEGER NOT NULL REFERENCES scans(id)
) STRICT;

-- One row per finding per scan that saw it: history gives first seen, last seen, resolved.
CREATE TABLE observations (
    finding_id TEXT NOT NULL REFERENCES findings(id),
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    severity TEXT NOT NULL,
    count INTEGER NOT NULL,
    distinct_values INTEGER NOT NULL,
    -- Redacted examples as a JSON array.
    evidence TEXT NOT NULL,
    PRIMARY KEY (finding_id, scan_id)
) STRICT;

CREATE INDEX observations_by_scan ON observations(scan_id);
