//! ClickHouse over HTTP (8123/8443): identification, access state, enumeration, sampling,
//! and escalation risks, using only GET queries from a read-only allowlist.
//!
//! ClickHouse runs every GET query with `readonly` set (2 on 18.x: settings may change,
//! data and schema may not), and cannot be talked out of it in the same request, so a
//! GET can never write. Every query also carries result-row, result-byte, rows-read
//! and execution-time limits with `break` overflow modes, so a huge table costs one
//! bounded read.

use crate::http::{self, encode_query, Response};
use crate::net::NetError;
use crate::{Check, Probe, ProbeConfig, ProbeFuture, ProbeReport, Sample, SampleSink, TableInfo};
use leakhound_model::{Access, Service, Severity};
use leakhound_targets::Endpoint;
use std::future::Future;
use std::pin::Pin;

/// The probe, over HTTP or HTTPS.
pub struct ClickhouseHttp {
    /// Speak HTTPS (8443).
    pub tls: bool,
}

/// Statement verbs this probe may send. Anything else is refused before it leaves.
const ALLOWED_VERBS: &[&str] = &["SELECT", "SHOW", "DESCRIBE"];

/// What to tell the owner of an exposed ClickHouse.
pub const REMEDIATION: &str = "Bind listen_host to an internal interface; set a password for the \
`default` user (or remove it) in users.xml; restrict <networks> to trusted ranges; close ports \
8123/8443/9000/9440 at the firewall.";

const FILE_REMEDIATION: &str = "Make the user read-only (profile readonly=1) or drop its access \
to table functions; keep user_files_path empty; and close the ports: file() reads files under \
user_files_path on the server.";

const WRITE_REMEDIATION: &str = "Give network-facing users a profile with readonly=1 and \
allow_ddl=0; set a password; restrict <networks>.";

/// Engines that are safe to sample: local storage only. Never Kafka/RabbitMQ (reading
/// consumes messages), never URL/S3/HDFS/MySQL/JDBC/ODBC/Distributed/Merge (reading
/// makes the server reach out elsewhere).
fn sampleable(engine: &str) -> bool {
    engine.ends_with("MergeTree")
        || matches!(
            engine,
            "Log" | "TinyLog" | "StripeLog" | "Memory" | "Buffer" | "MaterializedView"
        )
}

/// A ClickHouse exception: `Code: 194, e.displayText() = DB::Exception: ...` (18.x) or
/// `Code: 516. DB::Exception: ...` (newer).
pub(crate) fn exception_code(body: &str) -> Option<u32> {
    let rest = body.trim_start().strip_prefix("Code: ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    if !body.contains("DB::Exception") {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn looks_like_version(s: &str) -> bool {
    let s = s.trim();
    !s.is_empty()
        && s.len() < 40
        && s.split('.').count() >= 2
        && s.split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn quote_ident(s: &str) -> String {
    format!("`{}`", s.replace('\\', "\\\\").replace('`', "\\`"))
}

/// TabSeparated unescaping.
fn unescape_tsv(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\' && i + 1 < field.len() {
            out.push(match field[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                b'b' => 8,
                b'f' => 12,
                other => other,
            });
            i += 2;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

/// Rows of a TabSeparated body, each a list of unescaped fields. A trailing partial row
/// (cut by a byte cap) is dropped.
pub fn parse_tsv(body: &[u8], truncated: bool) -> Vec<Vec<Vec<u8>>> {
    let mut rows: Vec<Vec<Vec<u8>>> = body
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.split(|&b| b == b'\t').map(unescape_tsv).collect())
        .collect();
    if truncated && !body.ends_with(b"\n") {
        rows.pop();
    }
    rows
}

struct Session<'a> {
    ep: &'a Endpoint,
    cfg: &'a ProbeConfig,
    host: String,
    spent: usize,
    tls: bool,
}

enum QueryError {
    Net(NetError),
    /// The server answered with a ClickHouse exception.
    Server(u32, u16),
    /// HTTP answered, but not like ClickHouse.
    NotClickhouse(Response),
    Budget,
}

impl std::fmt::Display for QueryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryError::Net(e) => write!(f, "{e}"),
            QueryError::Server(code, status) => write!(f, "HTTP {status}, ClickHouse code {code}"),
            QueryError::NotClickhouse(r) => {
                write!(f, "HTTP {} without a ClickHouse error", r.status)
            }
            QueryError::Budget => f.write_str("endpoint byte budget reached"),
        }
    }
}

impl<'a> Session<'a> {
    fn new(ep: &'a Endpoint, cfg: &'a ProbeConfig, tls: bool) -> Self {
        let host = match ep.host.as_deref() {
            Some(h) => format!("{h}:{}", ep.port),
            None => ep.socket().to_string(),
        };
        Session {
            ep,
            cfg,
            host,
            spent: 0,
            tls,
        }
    }

    async fn get(&mut self, path: &str, cap: usize) -> Result<Response, NetError> {
        let r = http::get(
            self.ep.socket(),
            &self.host,
            path,
            &self.cfg.user_agent,
            self.cfg.limits,
            cap,
            self.tls,
        )
        .await?;
        self.spent += r.body.len();
        Ok(r)
    }

    /// Runs one allowlisted statement with bounded results; `rows`/`bytes` cap the result.
    async fn query(
        &mut self,
        sql: &str,
        rows: usize,
        bytes: usize,
    ) -> Result<Response, QueryError> {
        assert_read_only(sql);
        if self.spent >= self.cfg.endpoint_bytes {
            return Err(QueryError::Budget);
        }
        let bytes = bytes.min(self.cfg.endpoint_bytes - self.spent).max(1024);
        let path = format!(
            "/?query={}&max_result_rows={rows}&max_result_bytes={bytes}&result_overflow_mode=break\
             &max_rows_to_read={}&read_overflow_mode=break&max_execution_time={}&timeout_overflow_mode=break",
            encode_query(sql),
            (rows as u64 * 100).max(100_000),
            self.cfg.limits.io.as_secs().max(1),
        );
        // Leave room for the last row and ClickHouse's own block granularity.
        let r = self
            .get(&path, bytes + 64 * 1024)
            .await
            .map_err(QueryError::Net)?;
        if r.status == 200 {
            return Ok(r);
        }
        match exception_code(&r.text()) {
            Some(code) => Err(QueryError::Server(code, r.status)),
            None => Err(QueryError::NotClickhouse(r)),
        }
    }
}

/// A result of [`Select::select`]: rows of text cells and the bytes they cost.
pub(crate) struct Selected {
    pub rows: Vec<Vec<Vec<u8>>>,
    pub bytes: usize,
}

/// Why a select returned nothing.
pub(crate) enum SelectError {
    /// The endpoint's byte budget is spent.
    Budget,
    /// The query failed (message for the notes).
    Failed(String),
}

/// A ClickHouse connection that runs allowlisted, bounded SELECTs whose columns are all
/// text: HTTP GET (TabSeparated) or the native protocol (String columns). Enumeration and
/// sampling are written once against it.
pub(crate) trait Select: Send {
    fn select<'a>(
        &'a mut self,
        sql: &'a str,
        rows: usize,
        bytes: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Selected, SelectError>> + Send + 'a>>;
    fn cfg(&self) -> &ProbeConfig;
    /// How the readonly setting should be read: over GET, 2 means a writable user.
    fn transport(&self) -> &'static str;
}

/// Refuses anything but a read before it is sent.
pub(crate) fn assert_read_only(sql: &str) {
    let verb = sql
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_uppercase();
    assert!(
        ALLOWED_VERBS.contains(&verb.as_str()),
        "refusing non-read-only statement: {verb}"
    );
}

impl Select for Session<'_> {
    fn select<'a>(
        &'a mut self,
        sql: &'a str,
        rows: usize,
        bytes: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Selected, SelectError>> + Send + 'a>> {
        Box::pin(async move {
            match self.query(sql, rows, bytes).await {
                Ok(r) => Ok(Selected {
                    rows: parse_tsv(&r.body, r.truncated),
                    bytes: r.body.len(),
                }),
                Err(QueryError::Budget) => Err(SelectError::Budget),
                Err(e) => Err(SelectError::Failed(e.to_string())),
            }
        })
    }

    fn cfg(&self) -> &ProbeConfig {
        self.cfg
    }

    fn transport(&self) -> &'static str {
        "HTTP GET"
    }
}

/// Runs an enumeration query; a failure becomes a note and no rows.
async fn text_rows(s: &mut dyn Select, sql: &str, notes: &mut Vec<String>) -> Vec<Vec<String>> {
    match s.select(sql, 100_000, 4 << 20).await {
        Ok(r) => r
            .rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .map(|f| String::from_utf8_lossy(&f).into_owned())
                    .collect()
            })
            .collect(),
        Err(SelectError::Budget) => {
            notes.push(format!("`{sql}` skipped: endpoint byte budget reached"));
            Vec::new()
        }
        Err(SelectError::Failed(e)) => {
            notes.push(format!("`{sql}` failed: {e}"));
            Vec::new()
        }
    }
}

/// Column priority for sampling: free text first, names that suggest secrets or chat first.
fn column_rank(name: &str, ty: &str) -> Option<u32> {
    let t = ty
        .trim_start_matches("LowCardinality(")
        .trim_start_matches("Nullable(");
    let texty = t.starts_with("String")
        || t.starts_with("FixedString")
        || t.starts_with("Array(String")
        || t.starts_with("Array(Nullable(String")
        || t.starts_with("Map(String")
        || t.starts_with("JSON")
        || t.starts_with("Object(");
    if !texty {
        return None;
    }
    let n = name.to_ascii_lowercase();
    const HOT: &[&str] = &[
        "log", "chat", "message", "prompt", "content", "key", "token", "secret", "pass", "user",
        "email", "auth", "cred", "body", "request", "response", "payload", "text", "history",
    ];
    Some(if HOT.iter().any(|h| n.contains(h)) {
        0
    } else {
        1
    })
}

const HOT_TABLES: &[&str] = &[
    "log", "chat", "message", "prompt", "user", "session", "request", "event",
];

impl ClickhouseHttp {
    async fn run(
        &self,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        sink: SampleSink<'_>,
    ) -> Option<ProbeReport> {
        let mut s = Session::new(ep, cfg, self.tls);
        // `/` answers `Ok.` even with a password set, and other software answers the same:
        // it is a hint, never the proof.
        // Silence here is judged by the scan engine from the contact log (net.rs).
        let root = s.get("/", 4096).await.ok()?;
        let root_ok = root.status == 200 && root.body.trim_ascii() == b"Ok.";
        let ch_headers = root.has_header_prefix("x-clickhouse-");
        let version = s.query("SELECT version()", 1, 4096).await;
        let mut report = match version {
            Ok(r) if looks_like_version(&r.text()) => {
                let mut rep = ProbeReport::new(Service::ClickhouseHttp, Access::Open);
                rep.version = Some(r.text().trim().to_string());
                rep
            }
            Ok(_) => return None,
            Err(QueryError::Server(code, status)) => {
                let access = match code {
                    192..=194 | 516 => Access::AuthRequired,
                    195 => Access::Restricted,
                    _ => Access::Unknown,
                };
                let mut rep = ProbeReport::new(Service::ClickhouseHttp, access);
                rep.notes.push(format!(
                    "SELECT version() answered HTTP {status} with code {code}"
                ));
                rep
            }
            Err(QueryError::NotClickhouse(r)) => {
                // A 404 page naming ClickHouse's handlers, or its headers, still identify it.
                let text = r.text();
                if ch_headers
                    || r.has_header_prefix("x-clickhouse-")
                    || text.contains("There is no handle") && text.contains("clickhouse")
                {
                    ProbeReport::new(Service::ClickhouseHttp, Access::Unknown)
                } else {
                    let _ = root_ok;
                    return None;
                }
            }
            Err(QueryError::Net(_)) | Err(QueryError::Budget) => {
                if ch_headers {
                    ProbeReport::new(Service::ClickhouseHttp, Access::Unknown)
                } else {
                    return None;
                }
            }
        };
        if self.tls {
            report.tls = true;
            report
                .notes
                .push("spoken over TLS (certificate not verified)".into());
        }
        match report.access {
            Access::Open => {
                report.checks.push(Check::new(
                    "clickhouse.unauthenticated",
                    Severity::High,
                    "ClickHouse answers queries as `default` with no password",
                    format!(
                        "SELECT version() over HTTP GET succeeded without credentials (version {})",
                        report.version.as_deref().unwrap_or("?")
                    ),
                    REMEDIATION,
                ));
                enumerate(&mut s, &mut report, sink).await;
            }
            Access::AuthRequired => report.checks.push(Check::new(
                "clickhouse.auth-required",
                Severity::Info,
                "ClickHouse HTTP interface is reachable but requires a password",
                "the server answered with an authentication error".into(),
                REMEDIATION,
            )),
            Access::Restricted => report.checks.push(Check::new(
                "clickhouse.restricted",
                Severity::Info,
                "ClickHouse refuses the `default` user from this address",
                "IP_ADDRESS_NOT_ALLOWED (code 195): <networks> restricts the user".into(),
                REMEDIATION,
            )),
            _ => {}
        }
        Some(report)
    }
}

/// Enumerates an open ClickHouse (databases, tables with sizes, columns, settings, table
/// functions), reports escalation risks from that metadata, then samples.
pub(crate) async fn enumerate(s: &mut dyn Select, report: &mut ProbeReport, sink: SampleSink<'_>) {
    let mut notes = Vec::new();
    report.databases = text_rows(
        s,
        "SELECT name FROM system.databases ORDER BY name",
        &mut notes,
    )
    .await
    .into_iter()
    .filter_map(|r| r.into_iter().next())
    .collect();
    let tables = text_rows(
                s,
                "SELECT database, name, engine FROM system.tables WHERE database != 'system' ORDER BY database, name",
                &mut notes,
            )
            .await;
    let sizes = text_rows(
                s,
                "SELECT database, table, toString(sum(rows)), toString(sum(bytes_on_disk)) FROM system.parts WHERE active GROUP BY database, table",
                &mut notes,
            )
            .await;
    let columns = text_rows(
                s,
                "SELECT database, table, name, type FROM system.columns WHERE database != 'system' ORDER BY database, table",
                &mut notes,
            )
            .await;
    for t in tables.iter().filter(|t| t.len() == 3) {
        let size = sizes
            .iter()
            .find(|r| r.len() == 4 && r[0] == t[0] && r[1] == t[1]);
        report.tables.push(TableInfo {
            database: t[0].clone(),
            name: t[1].clone(),
            engine: t[2].clone(),
            rows: size.and_then(|r| r[2].parse().ok()),
            bytes: size.and_then(|r| r[3].parse().ok()),
            columns: columns
                .iter()
                .filter(|c| c.len() == 4 && c[0] == t[0] && c[1] == t[1])
                .map(|c| (c[2].clone(), c[3].clone()))
                .collect(),
            ..Default::default()
        });
    }

    // Escalation risks, judged from metadata only; nothing risky is executed.
    let settings = text_rows(
        s,
        "SELECT name, value FROM system.settings WHERE name IN ('readonly', 'allow_ddl')",
        &mut notes,
    )
    .await;
    let setting = |n: &str| {
        settings
            .iter()
            .find(|r| r.len() == 2 && r[0] == n)
            .map(|r| r[1].clone())
    };
    let readonly = setting("readonly");
    let allow_ddl = setting("allow_ddl");
    let functions: Vec<String> =
        text_rows(s, "SELECT name FROM system.table_functions", &mut notes)
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect();
    let has = |f: &str| functions.iter().any(|x| x == f);
    // readonly=1 forbids table functions; 2 (what GET imposes on a writable user) and 0 allow them.
    let table_functions_allowed = readonly.as_deref() != Some("1");
    if has("file") && table_functions_allowed {
        report.checks.push(Check::new(
                "clickhouse.file-read",
                Severity::Critical,
                "Server files readable via file()",
                format!(
                    "the file() table function exists and this user's readonly level is {} (table functions allowed); not executed",
                    readonly.as_deref().unwrap_or("?")
                ),
                FILE_REMEDIATION,
            ));
    }
    let remote: Vec<&str> = [
        "url",
        "s3",
        "remote",
        "remoteSecure",
        "mysql",
        "jdbc",
        "odbc",
        "hdfs",
    ]
    .into_iter()
    .filter(|f| has(f))
    .collect();
    if !remote.is_empty() && table_functions_allowed {
        report.checks.push(Check::new(
            "clickhouse.outbound-table-functions",
            Severity::High,
            "Server can be made to connect elsewhere via table functions",
            format!(
                "usable table functions: {}; not executed",
                remote.join(", ")
            ),
            FILE_REMEDIATION,
        ));
    }
    // GET forces readonly=2 on a writable user (0 over the native protocol); 1 means the
    // user itself is read-only.
    if readonly.as_deref() == Some("2") || readonly.as_deref() == Some("0") {
        report.checks.push(Check::new(
                "clickhouse.writable",
                Severity::High,
                "Unauthenticated user can write and, with allow_ddl, change the schema",
                format!(
                    "the user's profile is not read-only (readonly over {} = {}), allow_ddl = {}; not attempted",
                    s.transport(),
                    readonly.as_deref().unwrap_or("?"),
                    allow_ddl.as_deref().unwrap_or("?")
                ),
                WRITE_REMEDIATION,
            ));
    }

    sample(s, report, sink, &mut notes).await;
    report.notes.extend(notes);
}

/// Samples the most promising columns of the most promising tables, within the caps.
async fn sample(
    s: &mut dyn Select,
    report: &mut ProbeReport,
    sink: SampleSink<'_>,
    notes: &mut Vec<String>,
) {
    let mut order: Vec<usize> = (0..report.tables.len())
        .filter(|&i| sampleable(&report.tables[i].engine))
        .collect();
    order.sort_by_key(|&i| {
        let n = report.tables[i].name.to_ascii_lowercase();
        (!HOT_TABLES.iter().any(|h| n.contains(h)), i)
    });
    for i in order.into_iter().take(s.cfg().max_tables) {
        let t = &report.tables[i];
        let mut cols: Vec<(u32, &str)> = t
            .columns
            .iter()
            .filter_map(|(n, ty)| column_rank(n, ty).map(|r| (r, n.as_str())))
            .collect();
        cols.sort_by_key(|c| c.0);
        cols.truncate(16);
        if cols.is_empty() {
            continue;
        }
        let names: Vec<String> = cols.iter().map(|c| c.1.to_string()).collect();
        // Every column as text, NULL as empty: the same rows over HTTP and native.
        let sql = format!(
            "SELECT {} FROM {}.{} LIMIT {}",
            names
                .iter()
                .map(|n| format!("ifNull(toString({}), '')", quote_ident(n)))
                .collect::<Vec<_>>()
                .join(", "),
            quote_ident(&t.database),
            quote_ident(&t.name),
            s.cfg().sample_rows
        );
        let (db, table) = (t.database.clone(), t.name.clone());
        let (rows_cap, bytes_cap) = (s.cfg().sample_rows, s.cfg().sample_bytes);
        match s.select(&sql, rows_cap, bytes_cap).await {
            Ok(r) => {
                let t = &mut report.tables[i];
                t.sampled_rows = r.rows.len() as u64;
                t.sampled_bytes = r.bytes as u64;
                for row in r.rows {
                    for (value, name) in row.into_iter().zip(&names) {
                        if value.is_empty() {
                            continue;
                        }
                        sink(Sample::cell(&db, &table, name, value));
                    }
                }
            }
            Err(SelectError::Budget) => {
                notes.push("endpoint byte budget reached; remaining tables not sampled".into());
                break;
            }
            Err(SelectError::Failed(e)) => notes.push(format!("sampling {db}.{table} failed: {e}")),
        }
    }
}

impl Probe for ClickhouseHttp {
    fn service(&self) -> Service {
        Service::ClickhouseHttp
    }

    fn port_hints(&self) -> &'static [u16] {
        if self.tls {
            &[8443]
        } else {
            &[8123]
        }
    }

    fn probe<'a>(
        &'a self,
        ep: &'a Endpoint,
        cfg: &'a ProbeConfig,
        sink: SampleSink<'a>,
    ) -> ProbeFuture<'a> {
        Box::pin(self.run(ep, cfg, sink))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_of_old_and_new_servers() {
        assert_eq!(
            exception_code(
                "Code: 194, e.displayText() = DB::Exception: Password required for user default"
            ),
            Some(194)
        );
        assert_eq!(
            exception_code("Code: 516. DB::Exception: default: Authentication failed"),
            Some(516)
        );
        assert_eq!(exception_code("Code: 5 but no exception"), None);
        assert_eq!(exception_code("Ok."), None);
    }

    #[test]
    fn tsv_unescaping_and_truncation() {
        let rows = parse_tsv(b"a\\tb\tline1\\nline2\nc\td\ne\tpart", true);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0][0], b"a\tb");
        assert_eq!(rows[0][1], b"line1\nline2");
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("we`ird"), "`we\\`ird`");
    }

    #[test]
    fn only_local_engines_are_sampled() {
        assert!(sampleable("MergeTree"));
        assert!(sampleable("ReplacingMergeTree"));
        assert!(!sampleable("Kafka"));
        assert!(!sampleable("Distributed"));
        assert!(!sampleable("URL"));
    }

    #[test]
    fn versions() {
        assert!(looks_like_version("18.16.1\n"));
        assert!(looks_like_version("24.3.2.23"));
        assert!(!looks_like_version("Ok."));
    }
}
