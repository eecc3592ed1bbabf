-- Schema version 2: the process that runs a scan, so that a rerun can tell a crashed scan
-- (resume it) from one that is still running (leave it alone).
ALTER TABLE scans ADD COLUMN pid INTEGER;
