//! The findings store: SQLite (bundled) with STRICT tables, `user_version` migrations and
//! WAL; scans, the endpoints each saw, findings with content ids, and observations linking
//! findings to the scans that saw them.
//!
//! Everything written here is already redacted: findings carry evidence and fingerprints,
//! never values. The file is created with mode 0600.
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use leakhound_scan::{EndpointResult, Finding, ScanReport, Stats};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};

/// The schema migrations, in order; `user_version` counts how many have run.
const MIGRATIONS: &[&str] = &[include_str!("schema.sql"), include_str!("migrate_2.sql")];

/// A store error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file could not be created.
    #[error("store {path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A stored JSON document did not parse.
    #[error("store: corrupt record: {0}")]
    Json(#[from] serde_json::Error),
    /// The database is newer than this binary.
    #[error("store schema version {0} is newer than this leakhound ({1})")]
    TooNew(i64, usize),
}

/// One past scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanRow {
    /// Scan id.
    pub id: i64,
    /// Start time (UTC, RFC 3339).
    pub started: String,
    /// End time, when it finished.
    pub finished: Option<String>,
    /// The command line that ran it.
    pub arguments: String,
    /// `running`, `finished` or `failed`.
    pub status: String,
    /// Endpoints recorded.
    pub endpoints: i64,
    /// Findings observed.
    pub findings: i64,
}

/// The default location: `$XDG_DATA_HOME/leakhound/leakhound.db`, else
/// `~/.local/share/leakhound/leakhound.db`.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("leakhound").join("leakhound.db")
}

fn now() -> String {
    // Seconds since the epoch rendered as RFC 3339 UTC without a date library.
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Whether a process with this id exists (signal 0 probes without signalling).
fn process_alive(pid: i64) -> bool {
    #[cfg(unix)]
    {
        extern "C" {
            fn kill(pid: i32, sig: i32) -> i32;
        }
        // SAFETY: kill with signal 0 only checks for the process; it sends nothing.
        pid > 0 && pid as u32 != std::process::id() && unsafe { kill(pid as i32, 0) } == 0
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        false
    }
}

/// An open store.
pub struct Store {
    conn: Connection,
}

impl Store {
    /// Opens (creating with mode 0600 if needed) and migrates the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let io = |source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        {
            // Create the file ourselves so that it is private from the first byte; SQLite
            // gives its -wal and -shm files the database file's permissions.
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true).append(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            opts.open(path).map_err(io)?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // With WAL, NORMAL survives a crash of the process (what resume needs); only a power
        // loss can lose the last commits.
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let mut store = Store { conn };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version as usize > MIGRATIONS.len() {
            return Err(StoreError::TooNew(version, MIGRATIONS.len()));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Records the start of a scan and returns its id.
    pub fn begin_scan(&mut self, arguments: &str) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO scans (started, arguments, status, pid) VALUES (?1, ?2, 'running', ?3)",
            params![now(), arguments, std::process::id()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    /// The newest scan with these arguments that never finished and whose process is gone
    /// (killed or crashed): a rerun continues it instead of starting over.
    pub fn resumable(&self, arguments: &str) -> Result<Option<i64>, StoreError> {
        let row: Option<(i64, Option<i64>)> = self
            .conn
            .query_row(
                "SELECT id, pid FROM scans WHERE arguments = ?1 AND status = 'running'
                 ORDER BY id DESC LIMIT 1",
                [arguments],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(id, pid)| (!pid.is_some_and(process_alive)).then_some(id)))
    }

    /// Takes over a scan found by [`Store::resumable`].
    pub fn resume_scan(&mut self, scan: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE scans SET pid = ?1 WHERE id = ?2",
            params![std::process::id(), scan],
        )?;
        Ok(())
    }

    /// Endpoints a scan already recorded (`ip:port`).
    pub fn done_endpoints(&self, scan: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT ip, port FROM endpoints WHERE scan_id = ?1")?;
        let rows = stmt.query_map([scan], |r| {
            let ip: String = r.get(0)?;
            let port: i64 = r.get(1)?;
            Ok(match ip.parse::<std::net::IpAddr>() {
                Ok(addr) => std::net::SocketAddr::new(addr, port as u16).to_string(),
                Err(_) => format!("{ip}:{port}"),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records one probed endpoint and its findings in one transaction.
    pub fn record(
        &mut self,
        scan: i64,
        endpoint: &EndpointResult,
        findings: &[Finding],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO endpoints (scan_id, ip, port, host, service, access, version, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                scan,
                endpoint.ip.to_string(),
                endpoint.port,
                endpoint.host,
                endpoint.service.as_str(),
                endpoint.access.as_str(),
                endpoint.version,
                serde_json::to_string(endpoint)?,
            ],
        )?;
        {
            let mut upsert = tx.prepare_cached(
                "INSERT INTO findings (id, rule, category, title, endpoint, location, remediation, first_scan, last_scan)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
                 ON CONFLICT(id) DO UPDATE SET last_scan = excluded.last_scan, title = excluded.title,
                     remediation = excluded.remediation",
            )?;
            let mut observe = tx.prepare_cached(
                "INSERT OR REPLACE INTO observations (finding_id, scan_id, severity, count, distinct_values, evidence)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for f in findings {
                upsert.execute(params![
                    f.id,
                    f.rule,
                    f.category,
                    f.title,
                    f.endpoint,
                    serde_json::to_string(&f.location)?,
                    f.remediation,
                    scan,
                ])?;
                observe.execute(params![
                    f.id,
                    scan,
                    f.severity.as_str(),
                    f.count as i64,
                    f.distinct as i64,
                    serde_json::to_string(&f.evidence)?,
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Marks a scan finished (or failed).
    pub fn finish_scan(&mut self, scan: i64, status: &str) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE scans SET finished = ?1, status = ?2 WHERE id = ?3",
            params![now(), status, scan],
        )?;
        Ok(())
    }

    /// Past scans, newest first.
    pub fn scans(&self) -> Result<Vec<ScanRow>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT s.id, s.started, s.finished, s.arguments, s.status,
                    (SELECT count(*) FROM endpoints e WHERE e.scan_id = s.id),
                    (SELECT count(*) FROM observations o WHERE o.scan_id = s.id)
             FROM scans s ORDER BY s.id DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(ScanRow {
                id: r.get(0)?,
                started: r.get(1)?,
                finished: r.get(2)?,
                arguments: r.get(3)?,
                status: r.get(4)?,
                endpoints: r.get(5)?,
                findings: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest scan's id.
    pub fn latest_scan(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT max(id) FROM scans", [], |r| r.get(0))
            .optional()?
            .flatten())
    }

    /// Everything one scan saw, rebuilt from the store.
    pub fn report(&self, scan: i64) -> Result<ScanReport, StoreError> {
        let mut stmt = self
            .conn
            .prepare("SELECT detail FROM endpoints WHERE scan_id = ?1 ORDER BY ip, port")?;
        let endpoints = stmt
            .query_map([scan], |r| r.get::<_, String>(0))?
            .map(|d| Ok(serde_json::from_str::<EndpointResult>(&d?)?))
            .collect::<Result<Vec<_>, StoreError>>()?;
        let mut stmt = self.conn.prepare(
            "SELECT f.id, f.rule, f.category, o.severity, f.title, f.endpoint, f.location, o.count,
                    o.distinct_values, o.evidence, f.remediation
             FROM observations o JOIN findings f ON f.id = o.finding_id
             WHERE o.scan_id = ?1",
        )?;
        let rows = stmt.query_map([scan], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, String>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, String>(9)?,
                r.get::<_, String>(10)?,
            ))
        })?;
        let mut findings = Vec::new();
        for row in rows {
            let (
                id,
                rule,
                category,
                severity,
                title,
                endpoint,
                location,
                count,
                distinct,
                evidence,
                remediation,
            ) = row?;
            findings.push(Finding {
                id,
                rule,
                category,
                severity: severity.parse().map_err(|e: String| {
                    StoreError::Json(serde_json::Error::io(std::io::Error::other(e)))
                })?,
                title,
                endpoint,
                location: serde_json::from_str(&location)?,
                count: count as u64,
                distinct: distinct as u64,
                evidence: serde_json::from_str(&evidence)?,
                remediation,
            });
        }
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(a.endpoint.cmp(&b.endpoint))
                .then(a.id.cmp(&b.id))
        });
        let stats = Stats {
            probed: endpoints.len() as u64,
            open_ports: endpoints.len() as u64,
            ..Stats::default()
        };
        Ok(ScanReport {
            endpoints,
            findings,
            stats,
            errors: Vec::new(),
        })
    }
}

/// What changed between two scans.
#[derive(Debug, Clone, Default)]
pub struct Diff {
    /// Seen in the later scan only.
    pub new: Vec<Finding>,
    /// Seen in the earlier scan, not in the later one, on an endpoint the later scan did
    /// probe (an endpoint that was not scanned again is not evidence of a fix).
    pub resolved: Vec<Finding>,
    /// Seen in both, with a different count, number of distinct values or severity:
    /// (earlier, later).
    pub changed: Vec<(Finding, Finding)>,
}

impl Store {
    /// The scan before `scan`, if any.
    pub fn previous_scan(&self, scan: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT max(id) FROM scans WHERE id < ?1", [scan], |r| {
                r.get(0)
            })
            .optional()?
            .flatten())
    }

    /// New, resolved and changed findings from scan `from` to scan `to`.
    pub fn diff(&self, from: i64, to: i64) -> Result<Diff, StoreError> {
        let before = self.report(from)?;
        let after = self.report(to)?;
        let rescanned: std::collections::HashSet<String> = after
            .endpoints
            .iter()
            .map(|e| std::net::SocketAddr::new(e.ip, e.port).to_string())
            .collect();
        let old: std::collections::HashMap<&str, &Finding> =
            before.findings.iter().map(|f| (f.id.as_str(), f)).collect();
        let new_ids: std::collections::HashSet<&str> =
            after.findings.iter().map(|f| f.id.as_str()).collect();
        let mut diff = Diff::default();
        for f in &after.findings {
            match old.get(f.id.as_str()) {
                None => diff.new.push(f.clone()),
                Some(o)
                    if (o.count, o.distinct, o.severity) != (f.count, f.distinct, f.severity) =>
                {
                    diff.changed.push(((*o).clone(), f.clone()))
                }
                Some(_) => {}
            }
        }
        for f in &before.findings {
            if !new_ids.contains(f.id.as_str()) && rescanned.contains(&f.endpoint) {
                diff.resolved.push(f.clone());
            }
        }
        Ok(diff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = now();
        assert_eq!(t.len(), 20);
        assert!(t.ends_with('Z'));
        assert!(t.starts_with("20"));
    }

    #[test]
    fn migrations_run_once_and_the_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/leakhound.db");
        {
            let mut s = Store::open(&path).unwrap();
            let id = s.begin_scan("scan 127.0.42.1").unwrap();
            s.finish_scan(id, "finished").unwrap();
        }
        let s = Store::open(&path).unwrap();
        assert_eq!(s.scans().unwrap().len(), 1);
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
