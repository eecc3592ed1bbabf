//! PostgreSQL (5432) over the frontend/backend protocol v3, written by hand: identification,
//! access state (trust, password, pg_hba refusal), enumeration and sampling with the simple
//! query protocol inside READ ONLY transactions, and superuser / server-file risks reported
//! from catalog reads only.
//!
//! Layers: [`wire`] parses and builds messages on raw bytes and never does I/O; `Session`
//! owns one connection and is the only place a statement is sent, so the read-only
//! allowlist ([`check_statement`]) is enforced there; the probe drives sessions.
//!
//! TLS is not spoken yet: when the server answers `S` to the SSLRequest, the probe opens a
//! new connection and starts up in plain text (servers with `hostssl`-only rules then
//! refuse it, which is reported as restricted).

use crate::net::{Conn, NetError};
use crate::{Check, Probe, ProbeConfig, ProbeFuture, ProbeReport, Sample, SampleSink, TableInfo};
use leakhound_model::{Access, Service, Severity};
use leakhound_targets::Endpoint;

/// The probe.
pub struct Postgres;

/// What to tell the owner of an exposed PostgreSQL.
pub const REMEDIATION: &str = "Never use `trust` in pg_hba.conf for network (host) connections; \
require scram-sha-256 passwords (password_encryption = scram-sha-256); set listen_addresses to \
internal interfaces only; close port 5432 at the firewall.";

const SUPERUSER_REMEDIATION: &str = "Never let a superuser log in without a password: require \
scram-sha-256 for every host line in pg_hba.conf, connect applications as a non-superuser role \
with only the grants they need, and close port 5432 to untrusted networks.";

const SERVER_FILES_REMEDIATION: &str = "Revoke pg_read_server_files, pg_write_server_files and \
pg_execute_server_program from roles that can log in over the network; require scram-sha-256 \
passwords in pg_hba.conf; close port 5432 to untrusted networks.";

/// Sent as `application_name`, so server logs show which sessions were leakhound's.
pub const APPLICATION_NAME: &str = "leakhound";

/// Users tried first (then `cfg.pg_users`), each with `database` = the user name, as a
/// client without a configured database would.
const DEFAULT_USER: &str = "postgres";
const MAX_USERS: usize = 16;
const MAX_DATABASES: usize = 64;
const MAX_TABLES_LISTED: usize = 2000;
const MAX_COLUMNS_LISTED: usize = 20_000;
/// Columns sampled per table.
const MAX_SAMPLE_COLUMNS: usize = 16;
/// Messages accepted between StartupMessage and ReadyForQuery (parameters, notices).
const MAX_STARTUP_MESSAGES: usize = 256;

/// Session settings sent before anything else, and the transaction every read runs in.
const SET_STATEMENT_TIMEOUT: &str = "SET statement_timeout = '5s'";
const SET_IDLE_TIMEOUT: &str = "SET idle_in_transaction_session_timeout = '30s'";
const BEGIN_READ_ONLY: &str = "BEGIN TRANSACTION READ ONLY";

/// The documented default credentials tried when `cfg.default_creds` is set (opt-in),
/// and only then; one connection each, closed as soon as the server answers.
pub const DEFAULT_CREDENTIALS: &[(&str, &str)] = &[
    ("postgres", "postgres"),
    ("postgres", "password"),
    ("postgres", "admin"),
];

pub(crate) mod auth;

/// Raw protocol v3: frame splitting with hard caps, message decoding, message building.
/// Everything here works on byte slices, so it is tested without a server.
pub mod wire {
    use crate::net::NetError;

    /// Protocol 3.0 in a StartupMessage.
    pub const PROTOCOL_3_0: i32 = 196_608;
    /// The SSLRequest code.
    pub const SSL_REQUEST_CODE: i32 = 80_877_103;
    /// Columns in one row never exceed PostgreSQL's own limit (1664 result columns).
    const MAX_FIELDS: i16 = 1664;

    /// Every backend message type of protocol v3. Anything else in the type position means
    /// the peer is not speaking v3 (or the stream is out of sync).
    const BACKEND_TYPES: &[u8] = b"RKZTDCIENASvGHWdcnts123V";

    fn malformed(what: impl Into<String>) -> NetError {
        NetError::Malformed(what.into())
    }

    /// The answer to an SSLRequest: exactly one byte, `S` or `N`. More bytes in the same
    /// read is a violation (the server must wait for the client's next move).
    pub fn ssl_reply(buf: &[u8]) -> Result<Option<usize>, NetError> {
        match buf {
            [] => Ok(None),
            [b'S' | b'N'] => Ok(Some(1)),
            [b'S' | b'N', ..] => Err(malformed("bytes after the SSLRequest answer")),
            [b, ..] => Err(malformed(format!("SSLRequest answered with 0x{b:02x}"))),
        }
    }

    /// Splits one backend message (type byte + int32 length that counts itself) off the
    /// front of `buf`: `Ok(None)` while incomplete, `Ok(Some(total))` when whole, and an
    /// error for an unknown type, a length under 4 (negative included) or a message over
    /// `cap` bytes, which is rejected before anything is allocated for it.
    pub fn frame_len(buf: &[u8], cap: usize) -> Result<Option<usize>, NetError> {
        let Some(&ty) = buf.first() else {
            return Ok(None);
        };
        if !BACKEND_TYPES.contains(&ty) {
            return Err(malformed(format!(
                "unknown backend message type 0x{ty:02x}"
            )));
        }
        let Some(len) = buf.get(1..5) else {
            return Ok(None);
        };
        let len = i32::from_be_bytes(len.try_into().expect("4 bytes"));
        if len < 4 {
            return Err(malformed(format!("message length {len}")));
        }
        let total = len as usize + 1;
        if total > cap {
            return Err(NetError::TooLarge(cap));
        }
        Ok((buf.len() >= total).then_some(total))
    }

    /// An authentication request (`R`).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Auth {
        /// AuthenticationOk (0).
        Ok,
        /// AuthenticationCleartextPassword (3).
        Cleartext,
        /// AuthenticationMD5Password (5) with its salt.
        Md5([u8; 4]),
        /// AuthenticationSASL (10) with the mechanisms offered.
        Sasl(Vec<String>),
        /// AuthenticationSASLContinue (11).
        SaslContinue(Vec<u8>),
        /// AuthenticationSASLFinal (12).
        SaslFinal(Vec<u8>),
        /// Kerberos, GSSAPI, SSPI and other methods, by code.
        Other(i32),
    }

    impl Auth {
        /// How the server wants the client to prove itself, for notes and check details.
        pub fn method(&self) -> String {
            match self {
                Auth::Ok => "none (trust)".into(),
                Auth::Cleartext => "cleartext password".into(),
                Auth::Md5(_) => "MD5 password".into(),
                Auth::Sasl(m) => format!("SASL ({})", m.join(", ")),
                Auth::SaslContinue(_) | Auth::SaslFinal(_) => "SASL".into(),
                Auth::Other(2) => "Kerberos V5".into(),
                Auth::Other(7) => "GSSAPI".into(),
                Auth::Other(9) => "SSPI".into(),
                Auth::Other(c) => format!("authentication method {c}"),
            }
        }
    }

    /// The fields of an ErrorResponse or NoticeResponse that matter here.
    #[derive(Debug, Clone, Default, PartialEq, Eq)]
    pub struct Fields {
        /// `S`/`V`: ERROR, FATAL, PANIC, NOTICE...
        pub severity: String,
        /// `C`: SQLSTATE.
        pub code: String,
        /// `M`: the primary message.
        pub message: String,
    }

    impl std::fmt::Display for Fields {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{} {}: {}", self.severity, self.code, self.message)
        }
    }

    /// A decoded backend message.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Message {
        /// `R`.
        Auth(Auth),
        /// `S`: a run-time parameter such as server_version.
        ParameterStatus(String, String),
        /// `K`: cancellation key (unused).
        BackendKeyData,
        /// `Z` with the transaction status: `I` idle, `T` in a transaction, `E` failed one.
        ReadyForQuery(u8),
        /// `T`: result column names.
        RowDescription(Vec<String>),
        /// `D`: one row, text format, `None` for NULL.
        DataRow(Vec<Option<Vec<u8>>>),
        /// `C`: the command tag.
        CommandComplete(String),
        /// `I`.
        EmptyQuery,
        /// `E`.
        Error(Fields),
        /// `N`.
        Notice(Fields),
        /// `A`: LISTEN/NOTIFY traffic (ignored).
        Notification,
        /// `v`: the server supports an older minor version (ignored).
        NegotiateProtocolVersion,
        /// A valid type the simple query protocol never needs here (COPY, extended query).
        Unexpected(u8),
    }

    /// A bounds-checked reader over one message body.
    struct Body<'a> {
        b: &'a [u8],
        pos: usize,
    }

    impl<'a> Body<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], NetError> {
            let end = self
                .pos
                .checked_add(n)
                .filter(|&e| e <= self.b.len())
                .ok_or_else(|| malformed("field runs past the end of the message"))?;
            let s = &self.b[self.pos..end];
            self.pos = end;
            Ok(s)
        }
        fn u8(&mut self) -> Result<u8, NetError> {
            Ok(self.take(1)?[0])
        }
        fn i16(&mut self) -> Result<i16, NetError> {
            Ok(i16::from_be_bytes(self.take(2)?.try_into().expect("2")))
        }
        fn i32(&mut self) -> Result<i32, NetError> {
            Ok(i32::from_be_bytes(self.take(4)?.try_into().expect("4")))
        }
        fn cstr(&mut self) -> Result<String, NetError> {
            let rest = &self.b[self.pos..];
            let n = rest
                .iter()
                .position(|&c| c == 0)
                .ok_or_else(|| malformed("unterminated string"))?;
            let s = String::from_utf8_lossy(&rest[..n]).into_owned();
            self.pos += n + 1;
            Ok(s)
        }
        fn rest(&mut self) -> &'a [u8] {
            let s = &self.b[self.pos..];
            self.pos = self.b.len();
            s
        }
        fn end(&self) -> Result<(), NetError> {
            if self.pos == self.b.len() {
                Ok(())
            } else {
                Err(malformed("trailing bytes in message"))
            }
        }
    }

    fn fields(body: &mut Body<'_>) -> Result<Fields, NetError> {
        let mut f = Fields::default();
        loop {
            let code = body.u8()?;
            if code == 0 {
                break;
            }
            let v = body.cstr()?;
            match code {
                b'V' => f.severity = v,
                b'S' if f.severity.is_empty() => f.severity = v,
                b'C' => f.code = v,
                b'M' => f.message = v,
                _ => {}
            }
        }
        body.end()?;
        // Every v3 server sends a SQLSTATE: five digits or upper-case letters.
        if f.code.len() != 5
            || !f
                .code
                .bytes()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        {
            return Err(malformed(format!("error without a valid SQLSTATE: {f}")));
        }
        Ok(f)
    }

    /// Decodes one whole frame as split by [`frame_len`].
    pub fn decode(frame: &[u8]) -> Result<Message, NetError> {
        if frame.len() < 5 {
            return Err(malformed("short frame"));
        }
        let ty = frame[0];
        let mut body = Body {
            b: &frame[5..],
            pos: 0,
        };
        let msg = match ty {
            b'R' => {
                let auth = match body.i32()? {
                    0 => Auth::Ok,
                    3 => Auth::Cleartext,
                    5 => Auth::Md5(body.take(4)?.try_into().expect("4")),
                    10 => {
                        let mut mechs = Vec::new();
                        loop {
                            let m = body.cstr()?;
                            if m.is_empty() {
                                break;
                            }
                            if mechs.len() >= 16 {
                                return Err(malformed("too many SASL mechanisms"));
                            }
                            mechs.push(m);
                        }
                        if mechs.is_empty() {
                            return Err(malformed("SASL without mechanisms"));
                        }
                        Auth::Sasl(mechs)
                    }
                    11 => Auth::SaslContinue(body.rest().to_vec()),
                    12 => Auth::SaslFinal(body.rest().to_vec()),
                    c @ (2 | 7 | 9) => Auth::Other(c),
                    8 => {
                        body.rest();
                        Auth::Other(8)
                    }
                    c => return Err(malformed(format!("unknown authentication code {c}"))),
                };
                Message::Auth(auth)
            }
            b'S' => Message::ParameterStatus(body.cstr()?, body.cstr()?),
            b'K' => {
                body.take(8)?;
                Message::BackendKeyData
            }
            b'Z' => {
                let s = body.u8()?;
                if !matches!(s, b'I' | b'T' | b'E') {
                    return Err(malformed(format!("transaction status 0x{s:02x}")));
                }
                Message::ReadyForQuery(s)
            }
            b'T' => {
                let n = body.i16()?;
                if !(0..=MAX_FIELDS).contains(&n) {
                    return Err(malformed(format!("{n} result columns")));
                }
                let mut names = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    names.push(body.cstr()?);
                    // table oid, attnum, type oid, typlen, typmod, format
                    body.take(18)?;
                }
                Message::RowDescription(names)
            }
            b'D' => {
                let n = body.i16()?;
                if !(0..=MAX_FIELDS).contains(&n) {
                    return Err(malformed(format!("{n} row fields")));
                }
                let mut values = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    let len = body.i32()?;
                    values.push(match len {
                        -1 => None,
                        l if l < 0 => return Err(malformed(format!("field length {l}"))),
                        l => Some(body.take(l as usize)?.to_vec()),
                    });
                }
                Message::DataRow(values)
            }
            b'C' => Message::CommandComplete(body.cstr()?),
            b'I' => Message::EmptyQuery,
            b'E' => Message::Error(fields(&mut body)?),
            b'N' => Message::Notice(fields(&mut body)?),
            b'A' => {
                body.rest();
                Message::Notification
            }
            b'v' => {
                body.rest();
                Message::NegotiateProtocolVersion
            }
            other => {
                body.rest();
                Message::Unexpected(other)
            }
        };
        body.end()?;
        Ok(msg)
    }

    /// SSLRequest.
    pub fn ssl_request() -> [u8; 8] {
        let mut m = [0u8; 8];
        m[..4].copy_from_slice(&8i32.to_be_bytes());
        m[4..].copy_from_slice(&SSL_REQUEST_CODE.to_be_bytes());
        m
    }

    /// StartupMessage for protocol 3.0 with these parameters. `None` when a parameter holds
    /// a NUL byte (it would end the string early and change what is sent).
    pub fn startup(params: &[(&str, &str)]) -> Option<Vec<u8>> {
        let mut m = vec![0u8; 4];
        m.extend_from_slice(&PROTOCOL_3_0.to_be_bytes());
        for (k, v) in params {
            if k.contains('\0') || v.contains('\0') {
                return None;
            }
            m.extend_from_slice(k.as_bytes());
            m.push(0);
            m.extend_from_slice(v.as_bytes());
            m.push(0);
        }
        m.push(0);
        let len = i32::try_from(m.len()).ok()?;
        m[..4].copy_from_slice(&len.to_be_bytes());
        Some(m)
    }

    /// A tagged frontend message: type byte, int32 length, body.
    pub fn frontend(ty: u8, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::with_capacity(body.len() + 5);
        m.push(ty);
        m.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
        m.extend_from_slice(body);
        m
    }

    /// Query (simple query protocol). `None` when the text holds a NUL byte.
    pub fn query(sql: &str) -> Option<Vec<u8>> {
        if sql.contains('\0') {
            return None;
        }
        let mut body = sql.as_bytes().to_vec();
        body.push(0);
        Some(frontend(b'Q', &body))
    }

    /// Terminate.
    pub fn terminate() -> Vec<u8> {
        frontend(b'X', &[])
    }
}

use wire::{Auth, Fields, Message};

/// What an allowlisted statement is, which decides when the session lets it through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Statement {
    /// `SELECT ...` or `SHOW ...`: only inside our READ ONLY transaction.
    Read,
    /// `SET statement_timeout` / `SET idle_in_transaction_session_timeout`: only outside one.
    Set,
    /// Exactly `BEGIN TRANSACTION READ ONLY`.
    BeginReadOnly,
    /// `COMMIT`.
    Commit,
    /// `ROLLBACK`.
    Rollback,
}

/// Words refused outside quoted identifiers and literals, whatever the statement starts
/// with: anything that writes, locks, takes a transaction id, touches files or other
/// servers, or runs SQL given as a string. Our own statements never use them, so a hit
/// means a bug or a hostile name that escaped quoting.
const DENIED_WORDS: &[&str] = &[
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "COPY",
    "GRANT",
    "REVOKE",
    "INTO",
    "LOCK",
    "SHARE",
    "VACUUM",
    "ANALYZE",
    "CLUSTER",
    "REINDEX",
    "REFRESH",
    "CALL",
    "DO",
    "EXECUTE",
    "PREPARE",
    "DEALLOCATE",
    "LISTEN",
    "NOTIFY",
    "UNLISTEN",
    "LOAD",
    "DISCARD",
    "RESET",
    "COMMENT",
    "IMPORT",
    "SECURITY",
    "REASSIGN",
    "CHECKPOINT",
    "NEXTVAL",
    "SETVAL",
    "SET_CONFIG",
    "PG_SLEEP",
    "PG_NOTIFY",
    "PG_TERMINATE_BACKEND",
    "PG_CANCEL_BACKEND",
    "PG_RELOAD_CONF",
    "PG_ROTATE_LOGFILE",
    "PG_STAT_FILE",
    "TXID_CURRENT",
    "PG_CURRENT_XACT_ID",
];

/// Word prefixes refused the same way (large objects, dblink, file and directory reads,
/// advisory locks, replication and WAL control, SQL-in-a-string to XML).
const DENIED_PREFIXES: &[&str] = &[
    "LO_",
    "DBLINK",
    "PG_READ_",
    "PG_LS_",
    "PG_ADVISORY",
    "PG_TRY_ADVISORY",
    "PG_SWITCH_",
    "PG_CREATE_",
    "PG_DROP_",
    "PG_REPLICATION_",
    "PG_LOGICAL_",
    "PG_PROMOTE",
    "QUERY_TO_",
    "CURSOR_TO_",
];

/// Upper-cased words outside quotes. Refuses what could hide a second statement or change
/// how quotes are read: `;`, `$` (dollar quoting), backslashes in literals, comments,
/// prefixed literals (`E'..'`, `U&".."`), unterminated quotes, non-ASCII outside quotes.
fn unquoted_words(sql: &str) -> Result<Vec<String>, String> {
    let b = sql.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\'' | b'"' => {
                if i > 0 && (b[i - 1].is_ascii_alphanumeric() || matches!(b[i - 1], b'_' | b'&')) {
                    return Err("prefixed quote".into());
                }
                let mut j = i + 1;
                loop {
                    match b.get(j) {
                        None => return Err("unterminated quote".into()),
                        Some(&q) if q == c => {
                            if b.get(j + 1) == Some(&c) {
                                j += 2;
                                continue;
                            }
                            break;
                        }
                        // With standard_conforming_strings off a backslash escapes a quote.
                        Some(b'\\') if c == b'\'' => return Err("backslash in a literal".into()),
                        Some(_) => j += 1,
                    }
                }
                i = j + 1;
            }
            b';' => return Err("more than one statement".into()),
            b'$' => return Err("dollar quoting or parameters".into()),
            b'\\' => return Err("backslash".into()),
            b'-' if b.get(i + 1) == Some(&b'-') => return Err("comment".into()),
            b'/' if b.get(i + 1) == Some(&b'*') => return Err("comment".into()),
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                    i += 1;
                }
                words.push(sql[start..i].to_ascii_uppercase());
            }
            c if !c.is_ascii() => return Err("non-ASCII outside quotes".into()),
            _ => i += 1,
        }
    }
    Ok(words)
}

/// `'5s'`, `'30s'`, `'500ms'`, `'1min'` or bare digits.
fn timeout_value(v: &str) -> bool {
    let inner = match v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        Some(i) => i,
        None => v,
    };
    let digits = inner.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && digits <= 7 && matches!(&inner[digits..], "" | "ms" | "s" | "min")
}

/// The read-only allowlist: what kind of statement `sql` is, or why it is refused.
/// Statements must start with SELECT or SHOW, or be exactly one of the transaction and
/// timeout statements the probe sends; nothing may follow them, and no denied word may
/// appear outside quotes.
pub fn check_statement(sql: &str) -> Result<Statement, String> {
    if sql.contains('\0') || sql.contains('\n') || sql.contains('\r') {
        return Err("control characters".into());
    }
    let words = unquoted_words(sql)?;
    if let Some(w) = words.iter().find(|w| {
        DENIED_WORDS.contains(&w.as_str()) || DENIED_PREFIXES.iter().any(|p| w.starts_with(p))
    }) {
        return Err(format!("denied word {w}"));
    }
    match sql {
        BEGIN_READ_ONLY => return Ok(Statement::BeginReadOnly),
        "COMMIT" => return Ok(Statement::Commit),
        "ROLLBACK" => return Ok(Statement::Rollback),
        _ => {}
    }
    for prefix in [
        "SET statement_timeout = ",
        "SET idle_in_transaction_session_timeout = ",
    ] {
        if let Some(v) = sql.strip_prefix(prefix) {
            return if timeout_value(v) {
                Ok(Statement::Set)
            } else {
                Err(format!("timeout value {v}"))
            };
        }
    }
    let first = sql.split_whitespace().next().unwrap_or_default();
    if first.eq_ignore_ascii_case("SELECT") || first.eq_ignore_ascii_case("SHOW") {
        Ok(Statement::Read)
    } else {
        Err(format!("statement starts with {first:?}"))
    }
}

/// A quoted identifier: names come from the server and may hold anything.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Bytes left to read from this endpoint, over all its connections.
struct Budget {
    spent: usize,
    cap: usize,
}

impl Budget {
    fn left(&self) -> usize {
        self.cap.saturating_sub(self.spent)
    }
}

#[derive(Debug)]
enum PgError {
    Net(NetError),
    /// The server answered the statement with an ErrorResponse (the session is usable).
    Server(Fields),
    /// The bytes were valid v3 but not what the protocol allows at this point.
    Protocol(String),
    /// The allowlist or the session state refused the statement; nothing was sent.
    Refused(String),
    Budget,
}

impl From<NetError> for PgError {
    fn from(e: NetError) -> Self {
        PgError::Net(e)
    }
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PgError::Net(e) => write!(f, "{e}"),
            PgError::Server(e) => write!(f, "{e}"),
            PgError::Protocol(e) => write!(f, "protocol violation: {e}"),
            PgError::Refused(e) => write!(f, "refused by the read-only allowlist: {e}"),
            PgError::Budget => f.write_str("endpoint byte budget reached"),
        }
    }
}

/// Reads and decodes one backend message, counting it against the budget.
async fn read_msg(conn: &mut Conn, cap: usize, budget: &mut Budget) -> Result<Message, NetError> {
    let frame = conn.read_message(|b| wire::frame_len(b, cap)).await?;
    budget.spent += frame.len();
    wire::decode(&frame)
}

/// A result set, capped while it is read.
#[derive(Debug, Default)]
struct Rows {
    rows: Vec<Vec<Option<Vec<u8>>>>,
    /// Value bytes kept.
    bytes: usize,
    /// Rows or bytes were dropped by the caps.
    truncated: bool,
}

impl Rows {
    fn text(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                r.iter()
                    .map(|v| {
                        v.as_deref()
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect()
    }
}

/// One authenticated connection. The only code that sends statements.
struct Session {
    conn: Conn,
    /// Status from the last ReadyForQuery.
    status: u8,
    /// Our BEGIN TRANSACTION READ ONLY is in force (and has not failed).
    read_only: bool,
    /// The connection cannot be trusted to be in sync any more.
    broken: bool,
    server_version: Option<String>,
}

/// How a StartupMessage was answered.
enum Startup {
    Ready(Session),
    /// The server asked for a password (or other credentials); the connection waits for it.
    Auth(Auth, Conn),
    /// ErrorResponse, before or after authentication.
    Refused(Fields),
}

impl Session {
    /// Sends one statement through the allowlist and reads its whole answer, keeping at
    /// most `max_rows` rows and `max_bytes` value bytes.
    async fn query(
        &mut self,
        sql: &str,
        max_rows: usize,
        max_bytes: usize,
        budget: &mut Budget,
    ) -> Result<Rows, PgError> {
        let kind = check_statement(sql).map_err(|why| {
            debug_assert!(false, "statement outside the allowlist ({why}): {sql}");
            PgError::Refused(format!("{why}: {sql}"))
        })?;
        // The allowlist says what may be sent; the session state says when. Reads only
        // ever run inside our READ ONLY transaction, so even a read that could write fails.
        let ok = match kind {
            Statement::Read => self.read_only && self.status == b'T',
            Statement::Set | Statement::BeginReadOnly => self.status == b'I',
            Statement::Commit => self.status == b'T',
            Statement::Rollback => true,
        };
        if !ok || self.broken {
            return Err(PgError::Refused(format!(
                "{kind:?} in transaction state {}",
                self.status as char
            )));
        }
        if budget.left() == 0 {
            return Err(PgError::Budget);
        }
        let msg = wire::query(sql).ok_or_else(|| PgError::Refused("NUL byte".into()))?;
        self.broken = true; // until ReadyForQuery proves the stream is in sync again
        self.conn.write_all(&msg).await?;
        let cap = self.conn.limits().max_response;
        let mut out = Rows::default();
        let mut error = None;
        loop {
            match read_msg(&mut self.conn, cap, budget).await? {
                Message::RowDescription(_)
                | Message::CommandComplete(_)
                | Message::EmptyQuery
                | Message::Notice(_)
                | Message::Notification
                | Message::ParameterStatus(..) => {}
                Message::DataRow(values) => {
                    let size: usize = values.iter().flatten().map(Vec::len).sum();
                    if out.rows.len() < max_rows && out.bytes + size <= max_bytes {
                        out.bytes += size;
                        out.rows.push(values);
                    } else {
                        out.truncated = true;
                    }
                }
                Message::Error(f) => error = Some(f),
                Message::ReadyForQuery(status) => {
                    self.status = status;
                    self.broken = false;
                    break;
                }
                other => {
                    return Err(PgError::Protocol(format!(
                        "unexpected {other:?} in a simple query"
                    )))
                }
            }
        }
        match (kind, self.status, error) {
            (_, _, Some(f)) => {
                if self.status != b'T' {
                    self.read_only = false;
                }
                Err(PgError::Server(f))
            }
            (Statement::BeginReadOnly, b'T', None) => {
                self.read_only = true;
                Ok(out)
            }
            (_, b'T', None) => Ok(out),
            (_, _, None) => {
                self.read_only = false;
                Ok(out)
            }
        }
    }

    /// Timeouts, then the READ ONLY transaction every read runs in.
    async fn prepare(
        &mut self,
        budget: &mut Budget,
        notes: &mut Vec<String>,
    ) -> Result<(), PgError> {
        for set in [SET_STATEMENT_TIMEOUT, SET_IDLE_TIMEOUT] {
            // Older servers lack idle_in_transaction_session_timeout: not fatal.
            match self.query(set, 0, 0, budget).await {
                Ok(_) => {}
                Err(PgError::Server(f)) => notes.push(format!("`{set}` failed: {f}")),
                Err(e) => return Err(e),
            }
        }
        self.query(BEGIN_READ_ONLY, 0, 0, budget).await?;
        if self.read_only {
            Ok(())
        } else {
            Err(PgError::Protocol("BEGIN did not open a transaction".into()))
        }
    }

    /// After a failed statement: leave the aborted transaction and open a new READ ONLY one.
    async fn recover(&mut self, budget: &mut Budget) -> Result<(), PgError> {
        if self.broken {
            return Err(PgError::Protocol("connection out of sync".into()));
        }
        if self.status != b'T' || !self.read_only {
            if self.status != b'I' {
                self.query("ROLLBACK", 0, 0, budget).await?;
            }
            self.query(BEGIN_READ_ONLY, 0, 0, budget).await?;
        }
        Ok(())
    }

    async fn rows(
        &mut self,
        sql: &str,
        max_rows: usize,
        budget: &mut Budget,
        notes: &mut Vec<String>,
    ) -> Vec<Vec<String>> {
        match self.query(sql, max_rows, 4 << 20, budget).await {
            Ok(r) => {
                if r.truncated {
                    notes.push(format!("`{sql}` was cut at {max_rows} rows"));
                }
                r.text()
            }
            Err(e) => {
                notes.push(format!("`{sql}` failed: {e}"));
                let _ = self.recover(budget).await;
                Vec::new()
            }
        }
    }

    /// Ends the transaction and says goodbye, so the server logs a clean disconnect.
    async fn close(mut self, budget: &mut Budget) {
        if !self.broken && self.status != b'I' {
            let _ = self.query("ROLLBACK", 0, 0, budget).await;
        }
        let _ = self.conn.write_all(&wire::terminate()).await;
    }
}

/// Sends a StartupMessage on `conn` and reads until the server is ready, asks for
/// credentials, or refuses. The first message must be valid v3 or this is not PostgreSQL.
async fn startup(
    mut conn: Conn,
    user: &str,
    database: &str,
    budget: &mut Budget,
) -> Result<Startup, PgError> {
    conn.set_read_cap(budget.left() + conn.limits().max_header);
    let msg = wire::startup(&[
        ("user", user),
        ("database", database),
        ("application_name", APPLICATION_NAME),
        ("client_encoding", "UTF8"),
    ])
    .ok_or_else(|| PgError::Refused("NUL byte in a startup parameter".into()))?;
    conn.write_all(&msg).await?;
    let cap = conn.limits().max_header;
    let mut authenticated = false;
    let mut server_version = None;
    for _ in 0..MAX_STARTUP_MESSAGES {
        match read_msg(&mut conn, cap, budget).await? {
            Message::Auth(Auth::Ok) if !authenticated => authenticated = true,
            Message::Auth(
                a @ (Auth::Cleartext | Auth::Md5(_) | Auth::Sasl(_) | Auth::Other(_)),
            ) if !authenticated => return Ok(Startup::Auth(a, conn)),
            Message::NegotiateProtocolVersion if !authenticated => {}
            Message::Error(f) => return Ok(Startup::Refused(f)),
            Message::Notice(_) => {}
            Message::ParameterStatus(k, v) if authenticated => {
                if k == "server_version" {
                    server_version = Some(v);
                }
            }
            Message::BackendKeyData if authenticated => {}
            Message::ReadyForQuery(status) if authenticated => {
                return Ok(Startup::Ready(Session {
                    conn,
                    status,
                    read_only: false,
                    broken: false,
                    server_version,
                }))
            }
            other => {
                return Err(PgError::Protocol(format!(
                    "unexpected {other:?} during startup"
                )))
            }
        }
    }
    Err(PgError::Protocol("too many messages during startup".into()))
}

/// How one user fared.
enum UserOutcome {
    Open(Session, String),
    Auth(Auth),
    Refused(Fields),
    Failed(String),
}

/// Column priority for sampling: text-like types only, names that suggest secrets, chat
/// or personal data first. `data_type` and `udt_name` are information_schema's.
fn column_rank(name: &str, data_type: &str, udt_name: &str) -> Option<u32> {
    let texty = matches!(
        data_type,
        "text" | "character varying" | "character" | "json" | "jsonb" | "xml"
    ) || matches!(
        udt_name,
        "citext" | "_text" | "_varchar" | "_bpchar" | "_json" | "_jsonb"
    );
    if !texty {
        return None;
    }
    let n = name.to_ascii_lowercase();
    const HOT: &[&str] = &[
        "log", "chat", "message", "prompt", "content", "key", "token", "secret", "pass", "user",
        "email", "mail", "auth", "cred", "body", "request", "response", "payload", "text",
        "history", "card", "phone", "note",
    ];
    Some(if HOT.iter().any(|h| n.contains(h)) {
        0
    } else {
        1
    })
}

const HOT_TABLES: &[&str] = &[
    "log", "chat", "message", "prompt", "user", "session", "request", "event", "customer",
];

fn relkind_name(k: &str) -> &'static str {
    match k {
        "r" => "table",
        "p" => "partitioned table",
        "m" => "materialized view",
        "v" => "view",
        "f" => "foreign table",
        _ => "relation",
    }
}

/// Only local heap data is sampled: views may run functions, foreign tables make the server
/// connect elsewhere, and a partitioned table's rows are sampled through its partitions.
fn sampleable(relkind: &str) -> bool {
    matches!(relkind, "r" | "m")
}

impl Postgres {
    async fn run(
        &self,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        sink: SampleSink<'_>,
    ) -> Option<ProbeReport> {
        let mut budget = Budget {
            spent: 0,
            cap: cfg.endpoint_bytes,
        };
        let mut notes = Vec::new();
        // Identification: the SSLRequest answer must be exactly `S` or `N`...
        let mut conn = Conn::connect(ep.socket(), cfg.limits).await.ok()?;
        conn.write_all(&wire::ssl_request()).await.ok()?;
        let answer = conn.read_message(wire::ssl_reply).await.ok()?;
        let first = if answer == b"S" {
            // We do not speak TLS yet; start over in plain text on a new connection.
            notes.push(
                "server offers TLS (answered S to SSLRequest); TLS is not implemented, so \
                 leakhound reconnected without it"
                    .into(),
            );
            drop(conn);
            match Conn::connect(ep.socket(), cfg.limits).await {
                Ok(c) => c,
                Err(e) => {
                    notes.push(format!("reconnecting without TLS failed: {e}"));
                    return None;
                }
            }
        } else {
            conn
        };

        let mut users: Vec<&str> = vec![DEFAULT_USER];
        for u in &cfg.pg_users {
            if !u.is_empty() && !users.contains(&u.as_str()) {
                users.push(u);
            }
        }
        users.truncate(MAX_USERS);

        // ...and the answer to the first StartupMessage must be valid v3.
        let mut first = Some(first);
        let mut outcomes: Vec<(String, UserOutcome)> = Vec::new();
        let mut open: Option<(String, String, Session)> = None;
        for user in users {
            let outcome = self
                .try_user(ep, cfg, user, &mut first, &mut budget, &mut notes)
                .await;
            let outcome = match outcome {
                Some(o) => o,
                // The very first exchange failed: not PostgreSQL.
                None => return None,
            };
            if let UserOutcome::Open(session, db) = outcome {
                open = Some((user.to_string(), db, session));
                break;
            }
            outcomes.push((user.to_string(), outcome));
        }

        let mut report = match open {
            Some((user, db, session)) => {
                let mut rep = ProbeReport::new(Service::Postgres, Access::Open);
                rep.version = session.server_version.clone();
                self.open(
                    session,
                    &user,
                    &db,
                    ep,
                    cfg,
                    &mut budget,
                    &mut rep,
                    sink,
                    &mut notes,
                )
                .await;
                rep
            }
            None => {
                let mut rep = self.closed(&outcomes, &mut notes);
                if rep.access == Access::AuthRequired && cfg.default_creds {
                    self.default_credentials(ep, cfg, &mut budget, &mut rep, &mut notes)
                        .await;
                }
                rep
            }
        };
        report.notes.splice(0..0, notes);
        Some(report)
    }

    /// Starts up as `user`, trying `database` = user, then `postgres`, then `template1`
    /// when the database does not exist. `None` only when the first exchange with the
    /// endpoint was not PostgreSQL.
    async fn try_user(
        &self,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        user: &str,
        first: &mut Option<Conn>,
        budget: &mut Budget,
        notes: &mut Vec<String>,
    ) -> Option<UserOutcome> {
        let mut dbs = vec![user];
        for d in ["postgres", "template1"] {
            if !dbs.contains(&d) {
                dbs.push(d);
            }
        }
        for db in dbs {
            let identifying = first.is_some();
            let conn = match first.take() {
                Some(c) => c,
                None => match Conn::connect(ep.socket(), cfg.limits).await {
                    Ok(c) => c,
                    Err(e) => return Some(UserOutcome::Failed(format!("connect: {e}"))),
                },
            };
            match startup(conn, user, db, budget).await {
                Err(_) if identifying => return None,
                Err(e) => return Some(UserOutcome::Failed(format!("startup as {user}: {e}"))),
                Ok(Startup::Auth(a, _)) => return Some(UserOutcome::Auth(a)),
                Ok(Startup::Refused(f)) if f.code == "3D000" => {
                    notes.push(format!("user {user}: database {db} does not exist"));
                    continue;
                }
                Ok(Startup::Refused(f)) => return Some(UserOutcome::Refused(f)),
                Ok(Startup::Ready(mut s)) => {
                    // Open only once a read really succeeded.
                    if let Err(e) = s.prepare(budget, notes).await {
                        return Some(UserOutcome::Failed(format!(
                            "user {user} logged in without a password but preparing the session failed: {e}"
                        )));
                    }
                    return match s.query("SELECT version()", 1, 4096, budget).await {
                        Ok(r) if !r.rows.is_empty() => {
                            if s.server_version.is_none() {
                                s.server_version = r.text()[0].first().cloned();
                            }
                            Some(UserOutcome::Open(s, db.to_string()))
                        }
                        Ok(_) => Some(UserOutcome::Failed(format!(
                            "user {user} logged in without a password but SELECT version() returned no row"
                        ))),
                        Err(e) => Some(UserOutcome::Failed(format!(
                            "user {user} logged in without a password but SELECT version() failed: {e}"
                        ))),
                    };
                }
            }
        }
        Some(UserOutcome::Failed(format!(
            "user {user}: no database to connect to"
        )))
    }

    /// The report when no user got in without a password.
    fn closed(&self, outcomes: &[(String, UserOutcome)], notes: &mut Vec<String>) -> ProbeReport {
        let auth: Vec<(&str, &Auth)> = outcomes
            .iter()
            .filter_map(|(u, o)| match o {
                UserOutcome::Auth(a) => Some((u.as_str(), a)),
                _ => None,
            })
            .collect();
        let password_failed: Vec<&str> = outcomes
            .iter()
            .filter_map(|(u, o)| match o {
                UserOutcome::Refused(f) if f.code == "28P01" => Some(u.as_str()),
                _ => None,
            })
            .collect();
        let refused: Vec<(&str, &Fields)> = outcomes
            .iter()
            .filter_map(|(u, o)| match o {
                UserOutcome::Refused(f) if f.code == "28000" => Some((u.as_str(), f)),
                _ => None,
            })
            .collect();
        for (u, o) in outcomes {
            match o {
                UserOutcome::Failed(why) => notes.push(why.clone()),
                UserOutcome::Refused(f) if f.code != "28000" && f.code != "28P01" => {
                    notes.push(format!("user {u}: {f}"))
                }
                _ => {}
            }
        }
        if !auth.is_empty() || !password_failed.is_empty() {
            let mut rep = ProbeReport::new(Service::Postgres, Access::AuthRequired);
            let mut seen: Vec<String> = auth
                .iter()
                .map(|(u, a)| {
                    let plain = if matches!(a, Auth::Cleartext) {
                        " (sent in clear text without TLS)"
                    } else {
                        ""
                    };
                    format!("user {u}: {}{plain}", a.method())
                })
                .collect();
            seen.extend(
                password_failed
                    .iter()
                    .map(|u| format!("user {u}: password authentication failed (28P01)")),
            );
            rep.checks.push(Check::new(
                "postgres.auth-required",
                Severity::Info,
                "PostgreSQL is reachable but requires a password",
                format!("the server asked for credentials: {}", seen.join("; ")),
                REMEDIATION,
            ));
            return rep;
        }
        if !refused.is_empty() {
            let mut rep = ProbeReport::new(Service::Postgres, Access::Restricted);
            let detail = refused
                .iter()
                .map(|(u, f)| format!("user {u}: {} ({})", shorten(&f.message, 200), f.code))
                .collect::<Vec<_>>()
                .join("; ");
            rep.checks.push(Check::new(
                "postgres.restricted",
                Severity::Info,
                "PostgreSQL refuses this client (pg_hba.conf)",
                detail,
                REMEDIATION,
            ));
            return rep;
        }
        ProbeReport::new(Service::Postgres, Access::Unknown)
    }

    /// Everything done once a user got in without a password: risks, inventory, samples.
    #[allow(clippy::too_many_arguments)]
    async fn open(
        &self,
        mut home: Session,
        user: &str,
        home_db: &str,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        budget: &mut Budget,
        report: &mut ProbeReport,
        sink: SampleSink<'_>,
        notes: &mut Vec<String>,
    ) {
        report.checks.push(Check::new(
            "postgres.unauthenticated",
            Severity::High,
            "PostgreSQL accepts logins without a password (trust)",
            format!(
                "user {user} was answered AuthenticationOk without credentials and SELECT version() \
                 succeeded (version {})",
                report.version.as_deref().unwrap_or("?")
            ),
            REMEDIATION,
        ));

        // Escalation risks, from the catalogs only; nothing risky is executed.
        let superuser = home
            .rows(
                "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
                1,
                budget,
                notes,
            )
            .await;
        let is_super = superuser
            .first()
            .and_then(|r| r.first())
            .map(String::as_str)
            == Some("t");
        if is_super {
            report.checks.push(Check::new(
                "postgres.superuser",
                Severity::Critical,
                "Superuser without password: server file read and command execution possible",
                format!(
                    "user {user} logs in without a password and has rolsuper = true: server file \
                     read and command execution possible (COPY ... PROGRAM), not attempted"
                ),
                SUPERUSER_REMEDIATION,
            ));
        }
        let roles: Vec<String> = home
            .rows(
                "SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.rolname IN \
                 ('pg_read_server_files', 'pg_write_server_files', 'pg_execute_server_program') \
                 AND pg_has_role(current_user, r.oid, 'MEMBER') ORDER BY 1",
                8,
                budget,
                notes,
            )
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect();
        // A superuser is a member of every role; the superuser check already says it all.
        if !roles.is_empty() && !is_super {
            report.checks.push(Check::new(
                "postgres.server-files",
                Severity::Critical,
                "Passwordless user can read server files or run programs",
                format!(
                    "user {user} is a member of {}: pg_read_file / COPY FROM file{} possible, \
                     not attempted",
                    roles.join(", "),
                    if roles.iter().any(|r| r == "pg_execute_server_program") {
                        " and COPY ... PROGRAM"
                    } else {
                        ""
                    }
                ),
                SERVER_FILES_REMEDIATION,
            ));
        }

        report.databases = home
            .rows(
                "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate \
                 ORDER BY datname",
                MAX_DATABASES,
                budget,
                notes,
            )
            .await
            .into_iter()
            .filter_map(|r| r.into_iter().next())
            .collect();

        let mut home = Some(home);
        let mut tables_left = cfg.max_tables;
        for db in report.databases.clone() {
            if budget.left() == 0 {
                notes.push("endpoint byte budget reached; remaining databases not read".into());
                break;
            }
            let session = if db == home_db {
                home.take()
            } else {
                self.connect_db(ep, cfg, user, &db, budget, notes).await
            };
            let Some(mut s) = session else { continue };
            self.enumerate_db(
                &mut s,
                &db,
                cfg,
                budget,
                report,
                sink,
                &mut tables_left,
                notes,
            )
            .await;
            s.close(budget).await;
        }
        if let Some(h) = home {
            h.close(budget).await;
        }
    }

    /// A new session on `db` as `user`, prepared for reading.
    async fn connect_db(
        &self,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        user: &str,
        db: &str,
        budget: &mut Budget,
        notes: &mut Vec<String>,
    ) -> Option<Session> {
        let conn = match Conn::connect(ep.socket(), cfg.limits).await {
            Ok(c) => c,
            Err(e) => {
                notes.push(format!("database {db}: connect failed: {e}"));
                return None;
            }
        };
        match startup(conn, user, db, budget).await {
            Ok(Startup::Ready(mut s)) => match s.prepare(budget, notes).await {
                Ok(()) => Some(s),
                Err(e) => {
                    notes.push(format!("database {db}: {e}"));
                    None
                }
            },
            Ok(Startup::Auth(a, _)) => {
                notes.push(format!(
                    "database {db}: server asks {user} for {}",
                    a.method()
                ));
                None
            }
            Ok(Startup::Refused(f)) => {
                notes.push(format!("database {db}: {f}"));
                None
            }
            Err(e) => {
                notes.push(format!("database {db}: {e}"));
                None
            }
        }
    }

    /// Lists tables and columns of one database, then samples text-like columns.
    #[allow(clippy::too_many_arguments)]
    async fn enumerate_db(
        &self,
        s: &mut Session,
        db: &str,
        cfg: &ProbeConfig,
        budget: &mut Budget,
        report: &mut ProbeReport,
        sink: SampleSink<'_>,
        tables_left: &mut usize,
        notes: &mut Vec<String>,
    ) {
        // reltuples is the planner's estimate (-1: never analyzed); sizes include indexes and TOAST.
        let tables = s
            .rows(
                "SELECT n.nspname, c.relname, c.relkind, c.reltuples::bigint, \
                 pg_total_relation_size(c.oid), has_table_privilege(c.oid, 'SELECT') \
                 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE c.relkind IN ('r', 'p', 'm', 'v', 'f') AND n.nspname <> 'information_schema' \
                 AND left(n.nspname, 3) <> 'pg_' ORDER BY n.nspname, c.relname LIMIT 2000",
                MAX_TABLES_LISTED,
                budget,
                notes,
            )
            .await;
        let columns = s
            .rows(
                "SELECT table_schema, table_name, column_name, data_type, udt_name \
                 FROM information_schema.columns WHERE table_schema <> 'information_schema' \
                 AND left(table_schema, 3) <> 'pg_' \
                 ORDER BY table_schema, table_name, ordinal_position LIMIT 20000",
                MAX_COLUMNS_LISTED,
                budget,
                notes,
            )
            .await;
        let first = report.tables.len();
        let mut kinds = Vec::new();
        for t in tables.iter().filter(|t| t.len() == 6) {
            let cols: Vec<(String, String, String)> = columns
                .iter()
                .filter(|c| c.len() == 5 && c[0] == t[0] && c[1] == t[1])
                .map(|c| (c[2].clone(), c[3].clone(), c[4].clone()))
                .collect();
            report.tables.push(TableInfo {
                database: db.to_string(),
                name: format!("{}.{}", t[0], t[1]),
                engine: relkind_name(&t[2]).to_string(),
                rows: t[3].parse::<i64>().ok().and_then(|r| u64::try_from(r).ok()),
                bytes: t[4].parse().ok(),
                columns: cols.iter().map(|c| (c.0.clone(), c.1.clone())).collect(),
                ..Default::default()
            });
            kinds.push((
                t[0].clone(),
                t[1].clone(),
                sampleable(&t[2]) && t[5] == "t",
                cols,
            ));
        }

        let mut order: Vec<usize> = (0..kinds.len()).filter(|&i| kinds[i].2).collect();
        order.sort_by_key(|&i| {
            let n = kinds[i].1.to_ascii_lowercase();
            (!HOT_TABLES.iter().any(|h| n.contains(h)), i)
        });
        for i in order {
            if *tables_left == 0 {
                notes.push(format!(
                    "table cap reached; later tables of {db} not sampled"
                ));
                break;
            }
            let (schema, table, _, cols) = &kinds[i];
            let mut picked: Vec<(u32, &str)> = cols
                .iter()
                .filter_map(|(n, dt, udt)| column_rank(n, dt, udt).map(|r| (r, n.as_str())))
                .collect();
            picked.sort_by_key(|c| c.0);
            picked.truncate(MAX_SAMPLE_COLUMNS);
            if picked.is_empty() {
                continue;
            }
            *tables_left -= 1;
            let names: Vec<&str> = picked.iter().map(|c| c.1).collect();
            // Each value is cut on the server, so one huge value cannot blow the byte cap.
            let per_value =
                (cfg.sample_bytes / (cfg.sample_rows.max(1) * names.len())).clamp(256, 64 << 10);
            let sql = format!(
                "SELECT {} FROM {}.{} LIMIT {}",
                names
                    .iter()
                    .map(|n| format!("left({}::text, {per_value})", quote_ident(n)))
                    .collect::<Vec<_>>()
                    .join(", "),
                quote_ident(schema),
                quote_ident(table),
                cfg.sample_rows
            );
            let full = format!("{schema}.{table}");
            match s
                .query(&sql, cfg.sample_rows, cfg.sample_bytes, budget)
                .await
            {
                Ok(r) => {
                    if let Some(t) = report.tables[first..].iter_mut().find(|t| t.name == full) {
                        t.sampled_rows = r.rows.len() as u64;
                        t.sampled_bytes = r.bytes as u64;
                    }
                    if r.truncated {
                        notes.push(format!("sampling {db}.{full} was cut at the byte cap"));
                    }
                    for row in r.rows {
                        for (value, name) in row.into_iter().zip(&names) {
                            let Some(value) = value.filter(|v| !v.is_empty()) else {
                                continue;
                            };
                            sink(Sample::cell(db, &full, name, value));
                        }
                    }
                }
                Err(PgError::Budget) => {
                    notes.push("endpoint byte budget reached; remaining tables not sampled".into());
                    break;
                }
                Err(e) => {
                    notes.push(format!("sampling {db}.{full} failed: {e}"));
                    if s.recover(budget).await.is_err() {
                        break;
                    }
                }
            }
        }
    }
}

/// Logs in as `user` with `password` and leaves at once: `Ok(true)` when the server
/// accepted it (for SCRAM, only once the server also proved it knows the password),
/// `Ok(false)` for a wrong password (28P01). No statement is ever sent.
async fn login(
    ep: &Endpoint,
    cfg: &ProbeConfig,
    user: &str,
    password: &str,
    budget: &mut Budget,
) -> Result<bool, String> {
    let conn = Conn::connect(ep.socket(), cfg.limits)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let (request, mut conn) = match startup(conn, user, user, budget).await {
        Ok(Startup::Auth(a, c)) => (a, c),
        Ok(Startup::Ready(s)) => {
            s.close(budget).await;
            return Err("the server did not ask for a password".into());
        }
        Ok(Startup::Refused(f)) => return Err(f.to_string()),
        Err(e) => return Err(e.to_string()),
    };
    let mut scram = None;
    let first = match &request {
        Auth::Cleartext => format!("{password}\0").into_bytes(),
        Auth::Md5(salt) => format!("{}\0", auth::md5_password(user, password, *salt)).into_bytes(),
        Auth::Sasl(mechs) if mechs.iter().any(|m| m == "SCRAM-SHA-256") => {
            let s = auth::Scram::new(password, &auth::client_nonce());
            let cf = s.client_first();
            let mut body = b"SCRAM-SHA-256\0".to_vec();
            body.extend_from_slice(&(cf.len() as i32).to_be_bytes());
            body.extend_from_slice(cf.as_bytes());
            scram = Some(s);
            body
        }
        other => return Err(format!("{} is not supported", other.method())),
    };
    if password.contains('\0') {
        return Err("NUL in password".into());
    }
    let send = |body: &[u8]| wire::frontend(b'p', body);
    conn.write_all(&send(&first))
        .await
        .map_err(|e| e.to_string())?;
    let cap = conn.limits().max_header;
    let mut verified = false;
    for _ in 0..MAX_STARTUP_MESSAGES {
        match read_msg(&mut conn, cap, budget)
            .await
            .map_err(|e| e.to_string())?
        {
            Message::Auth(Auth::SaslContinue(d)) => {
                let s = scram.as_mut().ok_or("SASLContinue without SASL")?;
                let f = s.client_final(&d)?;
                conn.write_all(&send(f.as_bytes()))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Message::Auth(Auth::SaslFinal(d)) => {
                let s = scram.as_ref().ok_or("SASLFinal without SASL")?;
                if !s.verify_server_final(&d) {
                    return Err("the server's SCRAM signature did not verify".into());
                }
                verified = true;
            }
            Message::Auth(Auth::Ok) => {
                if scram.is_some() && !verified {
                    return Err("AuthenticationOk without a verified SCRAM exchange".into());
                }
                let _ = conn.write_all(&wire::terminate()).await;
                return Ok(true);
            }
            Message::Error(f) if f.code == "28P01" => return Ok(false),
            Message::Error(f) => return Err(f.to_string()),
            Message::Notice(_) => {}
            other => return Err(format!("unexpected {other:?} during authentication")),
        }
    }
    Err("too many messages during authentication".into())
}

/// `ab***` (5 chars): enough to act on, not the whole password.
fn mask(password: &str) -> String {
    let head: String = password.chars().take(2).collect();
    format!("{head}*** ({} chars)", password.chars().count())
}

impl Postgres {
    /// The opt-in default-credentials check: logs in with each documented default and
    /// reports the first that works. Nothing is read with it.
    async fn default_credentials(
        &self,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        budget: &mut Budget,
        report: &mut ProbeReport,
        notes: &mut Vec<String>,
    ) {
        for (user, password) in DEFAULT_CREDENTIALS {
            match login(ep, cfg, user, password, budget).await {
                Ok(true) => {
                    report.checks.push(Check::new(
                        "postgres.default-credentials",
                        Severity::Critical,
                        "PostgreSQL accepts a documented default password",
                        format!(
                            "user {user} logged in with the default password {}; nothing was \
                             read with it",
                            mask(password)
                        ),
                        REMEDIATION,
                    ));
                    return;
                }
                Ok(false) => {}
                Err(e) => {
                    notes.push(format!("default credentials: {e}"));
                    return;
                }
            }
        }
        notes.push(format!(
            "default credentials: none of {} documented defaults was accepted",
            DEFAULT_CREDENTIALS.len()
        ));
    }
}

fn shorten(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

impl Probe for Postgres {
    fn service(&self) -> Service {
        Service::Postgres
    }

    fn port_hints(&self) -> &'static [u16] {
        &[5432]
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
    use super::wire::{decode, frame_len, frontend, query, ssl_reply, ssl_request, terminate};
    use super::*;

    fn msg(ty: u8, body: &[u8]) -> Vec<u8> {
        frontend(ty, body)
    }

    #[test]
    fn frames_split_at_their_declared_length() {
        let m = msg(b'Z', b"I");
        assert_eq!(frame_len(&m, 1024).unwrap(), Some(6));
        let mut two = m.clone();
        two.extend_from_slice(&msg(b'C', b"SELECT 1\0"));
        assert_eq!(frame_len(&two, 1024).unwrap(), Some(6));
    }

    #[test]
    fn truncated_frames_are_incomplete_not_invalid() {
        let m = msg(b'D', &[0, 1, 0, 0, 0, 3, b'a', b'b', b'c']);
        for cut in 0..m.len() {
            assert_eq!(frame_len(&m[..cut], 1024).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(frame_len(&m, 1024).unwrap(), Some(m.len()));
    }

    #[test]
    fn huge_and_negative_lengths_are_rejected_before_allocating() {
        // 2 GB - 1 declared: rejected from the header alone.
        let huge = [b'D', 0x7f, 0xff, 0xff, 0xff];
        assert!(matches!(
            frame_len(&huge, 4 << 20),
            Err(NetError::TooLarge(_))
        ));
        let negative = [b'D', 0x80, 0, 0, 0];
        assert!(matches!(
            frame_len(&negative, 4 << 20),
            Err(NetError::Malformed(_))
        ));
        for len in [0u8, 1, 2, 3] {
            let short = [b'Z', 0, 0, 0, len];
            assert!(matches!(
                frame_len(&short, 1024),
                Err(NetError::Malformed(_))
            ));
        }
        // Exactly at the cap is fine, one over is not.
        let at = [b'D', 0, 0, 0, 99];
        assert_eq!(frame_len(&at, 100).unwrap(), None);
        let over = [b'D', 0, 0, 0, 100];
        assert!(frame_len(&over, 100).is_err());
    }

    #[test]
    fn unknown_types_are_invalid_from_the_first_byte() {
        // Not a backend type: invalid before the length is even there.
        for b in [&b"x"[..], b"\x00\x00\x00\x08", b"+PONG\r\n", b"-ERR"] {
            assert!(
                matches!(frame_len(b, 1024), Err(NetError::Malformed(_))),
                "{b:?}"
            );
        }
        // Valid types (H = CopyOutResponse, S = ParameterStatus) whose "length" is ASCII
        // text: they declare gigabytes and are rejected by the cap.
        assert_eq!(frame_len(b"H", 1024).unwrap(), None);
        for b in [&b"HTTP/1.1 400"[..], b"SSH-2.0-OpenSSH"] {
            assert!(
                matches!(frame_len(b, 1024), Err(NetError::TooLarge(_))),
                "{b:?}"
            );
        }
    }

    #[test]
    fn ssl_answers_are_exactly_one_byte() {
        assert_eq!(ssl_reply(b"").unwrap(), None);
        assert_eq!(ssl_reply(b"S").unwrap(), Some(1));
        assert_eq!(ssl_reply(b"N").unwrap(), Some(1));
        assert!(ssl_reply(b"NE").is_err());
        assert!(ssl_reply(b"E\0\0\0\x10").is_err());
        assert!(ssl_reply(b"HTTP/1.0 400 Bad Request\r\n").is_err());
    }

    #[test]
    fn authentication_requests() {
        let ok = msg(b'R', &0i32.to_be_bytes());
        assert_eq!(decode(&ok).unwrap(), Message::Auth(Auth::Ok));
        let md5 = msg(b'R', &[0, 0, 0, 5, 1, 2, 3, 4]);
        assert_eq!(
            decode(&md5).unwrap(),
            Message::Auth(Auth::Md5([1, 2, 3, 4]))
        );
        let sasl = msg(b'R', b"\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0");
        assert_eq!(
            decode(&sasl).unwrap(),
            Message::Auth(Auth::Sasl(vec![
                "SCRAM-SHA-256-PLUS".into(),
                "SCRAM-SHA-256".into()
            ]))
        );
        assert_eq!(
            decode(&msg(b'R', &3i32.to_be_bytes())).unwrap(),
            Message::Auth(Auth::Cleartext)
        );
        // MD5 without its salt, SASL without the final empty string, trailing bytes, codes
        // that do not exist.
        assert!(decode(&msg(b'R', &[0, 0, 0, 5, 1])).is_err());
        assert!(decode(&msg(b'R', b"\0\0\0\x0aSCRAM-SHA-256\0")).is_err());
        assert!(decode(&msg(b'R', b"\0\0\0\x0a\0")).is_err());
        assert!(decode(&msg(b'R', &[0, 0, 0, 0, 9])).is_err());
        assert!(decode(&msg(b'R', &77i32.to_be_bytes())).is_err());
        assert!(decode(&msg(b'R', &[0, 0])).is_err());
    }

    #[test]
    fn error_responses_need_a_sqlstate() {
        let e = msg(
            b'E',
            b"SFATAL\0VFATAL\0C28000\0Mno pg_hba.conf entry for host \"10.0.0.1\"\0\0",
        );
        let Message::Error(f) = decode(&e).unwrap() else {
            panic!()
        };
        assert_eq!(f.code, "28000");
        assert_eq!(f.severity, "FATAL");
        assert!(f.message.starts_with("no pg_hba.conf entry"));
        // No terminator, no SQLSTATE, a bad SQLSTATE, bytes after the terminator.
        assert!(decode(&msg(b'E', b"SFATAL\0C28000\0")).is_err());
        assert!(decode(&msg(b'E', b"SFATAL\0Mhi\0\0")).is_err());
        assert!(decode(&msg(b'E', b"C28;00\0\0")).is_err());
        assert!(decode(&msg(b'E', b"C28000\0\0x")).is_err());
        assert!(decode(&msg(b'E', b"C28000")).is_err());
    }

    #[test]
    fn data_rows_with_nulls_and_bad_lengths() {
        let row = msg(
            b'D',
            &[
                0, 3, 0, 0, 0, 2, b'h', b'i', 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
            ],
        );
        assert_eq!(
            decode(&row).unwrap(),
            Message::DataRow(vec![Some(b"hi".to_vec()), None, Some(vec![])])
        );
        // A field claiming more than the frame holds, a length of -2, a negative count,
        // fewer fields than declared, more bytes than declared.
        assert!(decode(&msg(b'D', &[0, 1, 0x7f, 0xff, 0xff, 0xff, b'a'])).is_err());
        assert!(decode(&msg(b'D', &[0, 1, 0xff, 0xff, 0xff, 0xfe])).is_err());
        assert!(decode(&msg(b'D', &[0xff, 0xff])).is_err());
        assert!(decode(&msg(b'D', &[0, 2, 0, 0, 0, 1, b'a'])).is_err());
        assert!(decode(&msg(b'D', &[0, 1, 0, 0, 0, 1, b'a', b'b'])).is_err());
        assert!(decode(&msg(b'D', &[0x7f, 0xff])).is_err());
    }

    #[test]
    fn other_messages() {
        assert_eq!(
            decode(&msg(b'S', b"server_version\x0015.8 (Debian)\0")).unwrap(),
            Message::ParameterStatus("server_version".into(), "15.8 (Debian)".into())
        );
        assert!(decode(&msg(b'S', b"server_version\0")).is_err());
        assert_eq!(
            decode(&msg(b'Z', b"T")).unwrap(),
            Message::ReadyForQuery(b'T')
        );
        assert!(decode(&msg(b'Z', b"Q")).is_err());
        assert!(decode(&msg(b'Z', b"")).is_err());
        let mut t = vec![0, 1];
        t.extend_from_slice(b"version\0");
        t.extend_from_slice(&[0; 18]);
        assert_eq!(
            decode(&msg(b'T', &t)).unwrap(),
            Message::RowDescription(vec!["version".into()])
        );
        assert!(decode(&msg(b'T', &t[..t.len() - 1])).is_err());
        assert_eq!(
            decode(&msg(b'G', &[0, 0, 0])).unwrap(),
            Message::Unexpected(b'G')
        );
        assert!(decode(&msg(b'K', &[0; 7])).is_err());
        assert!(decode(b"Z\0\0").is_err());
    }

    #[test]
    fn frontend_messages() {
        assert_eq!(ssl_request(), [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        let s = wire::startup(&[("user", "postgres"), ("database", "app")]).unwrap();
        assert_eq!(&s[..4], &(s.len() as i32).to_be_bytes());
        assert_eq!(&s[4..8], &[0, 3, 0, 0]);
        assert_eq!(&s[8..], b"user\0postgres\0database\0app\0\0");
        assert!(wire::startup(&[("user", "a\0b")]).is_none());
        assert_eq!(query("SELECT 1").unwrap(), b"Q\0\0\0\x0dSELECT 1\0");
        assert!(query("SELECT 1\0; DROP TABLE t").is_none());
        assert_eq!(terminate(), b"X\0\0\0\x04");
    }

    #[test]
    fn allowlist_accepts_what_the_probe_sends() {
        for sql in [
            SET_STATEMENT_TIMEOUT,
            SET_IDLE_TIMEOUT,
            BEGIN_READ_ONLY,
            "COMMIT",
            "ROLLBACK",
            "SELECT version()",
            "SHOW server_version",
            "SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user",
            "SELECT r.rolname FROM pg_catalog.pg_roles r WHERE r.rolname IN ('pg_read_server_files', \
             'pg_write_server_files', 'pg_execute_server_program') AND pg_has_role(current_user, r.oid, 'MEMBER')",
            "SELECT left(\"a\"::text, 100) FROM \"public\".\"t\" LIMIT 5",
        ] {
            assert!(check_statement(sql).is_ok(), "{sql}: {:?}", check_statement(sql));
        }
    }

    #[test]
    fn allowlist_refuses_writes_and_tricks() {
        for sql in [
            "INSERT INTO t VALUES (1)",
            "UPDATE t SET a = 1",
            "DELETE FROM t",
            "CREATE TABLE t (a int)",
            "DROP TABLE t",
            "ALTER ROLE postgres PASSWORD 'x'",
            "COPY t TO PROGRAM 'id'",
            "TRUNCATE t",
            "BEGIN",
            "BEGIN TRANSACTION READ WRITE",
            "SET default_transaction_read_only = off",
            "SET statement_timeout = 0; DROP TABLE t",
            "SET statement_timeout = '5s' ",
            "SET statement_timeout = 'forever'",
            "SELECT 1; DROP TABLE t",
            "SELECT * INTO copy_of_t FROM t",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t FOR SHARE",
            "SELECT nextval('s')",
            "SELECT pg_read_file('/etc/passwd')",
            "SELECT lo_import('/etc/passwd')",
            "SELECT dblink('host=evil', 'select 1')",
            "SELECT query_to_xml('delete from t', true, true, '')",
            "SELECT pg_sleep(100)",
            "SELECT $$x$$",
            "SELECT E'\\x27'",
            "SELECT 'it\\'s'",
            "SELECT 1 -- comment",
            "SELECT /* c */ 1",
            "SELECT 'unterminated",
            "SELECT 1\nDROP TABLE t",
            "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
            "EXPLAIN ANALYZE DELETE FROM t",
            "VACUUM",
            "\"SELECT\" 1",
            "",
        ] {
            assert!(check_statement(sql).is_err(), "{sql} was allowed");
        }
    }

    #[test]
    fn hostile_names_stay_inside_quotes() {
        let name = "notes; DROP TABLE chat_log; --";
        let sql = format!(
            "SELECT left({}::text, 10) FROM {}.{} LIMIT 1",
            quote_ident("we\"ird"),
            quote_ident("public"),
            quote_ident(name)
        );
        assert_eq!(
            sql,
            "SELECT left(\"we\"\"ird\"::text, 10) FROM \"public\".\"notes; DROP TABLE chat_log; --\" LIMIT 1"
        );
        assert_eq!(check_statement(&sql), Ok(Statement::Read));
        // A name that tries to close the quote early is doubled, not obeyed.
        let evil = quote_ident("x\"; DROP TABLE t; --");
        assert_eq!(
            check_statement(&format!("SELECT 1 FROM {evil}")),
            Ok(Statement::Read)
        );
    }

    #[test]
    fn text_like_columns_first() {
        assert_eq!(column_rank("api_token", "text", "text"), Some(0));
        assert_eq!(
            column_rank("title", "character varying", "varchar"),
            Some(1)
        );
        assert_eq!(column_rank("notes", "jsonb", "jsonb"), Some(0));
        assert_eq!(column_rank("tags", "ARRAY", "_text"), Some(1));
        assert_eq!(column_rank("email", "USER-DEFINED", "citext"), Some(0));
        assert_eq!(column_rank("avatar", "bytea", "bytea"), None);
        assert_eq!(column_rank("id", "integer", "int4"), None);
        assert!(sampleable("r") && sampleable("m"));
        assert!(!sampleable("v") && !sampleable("f") && !sampleable("p"));
    }

    // ---- scripted fake servers: identification and access states without PostgreSQL ----

    fn auth_ok() -> Vec<u8> {
        msg(b'R', &0i32.to_be_bytes())
    }
    fn ready(status: u8) -> Vec<u8> {
        msg(b'Z', &[status])
    }
    fn error(code: &str, text: &str) -> Vec<u8> {
        msg(
            b'E',
            format!("SFATAL\0VFATAL\0C{code}\0M{text}\0\0").as_bytes(),
        )
    }
    fn done(tag: &str, status: u8) -> Vec<u8> {
        let mut m = msg(b'C', format!("{tag}\0").as_bytes());
        m.extend(ready(status));
        m
    }
    /// One text column, one row per value, then CommandComplete and ReadyForQuery(T).
    fn result(values: &[&str]) -> Vec<u8> {
        let mut t = vec![0, 1];
        t.extend_from_slice(b"c\0");
        t.extend_from_slice(&[0; 18]);
        let mut m = msg(b'T', &t);
        for v in values {
            let mut d = vec![0, 1];
            d.extend_from_slice(&(v.len() as i32).to_be_bytes());
            d.extend_from_slice(v.as_bytes());
            m.extend(msg(b'D', &d));
        }
        m.extend(done("SELECT", b'T'));
        m
    }
    fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    /// A server that, on its k-th connection, answers the j-th client write with
    /// `script[k][j]`, then closes. Bound to the probe's own test address.
    async fn probe_fake(script: Vec<Vec<Vec<u8>>>, io_ms: u64) -> Option<ProbeReport> {
        let l = tokio::net::TcpListener::bind("127.0.42.8:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            for replies in script {
                let Ok((mut c, _)) = l.accept().await else {
                    return;
                };
                let mut b = vec![0u8; 64 << 10];
                for r in replies {
                    if matches!(c.read(&mut b).await, Ok(0) | Err(_)) {
                        break;
                    }
                    if r == b"HANG" {
                        tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                    }
                    if c.write_all(&r).await.is_err() {
                        break;
                    }
                }
                let _ = c.shutdown().await;
            }
        });
        let ep = Endpoint {
            host: None,
            ip: addr.ip(),
            port: addr.port(),
        };
        let mut cfg = ProbeConfig::default();
        cfg.limits.io = std::time::Duration::from_millis(io_ms);
        cfg.limits.connect = std::time::Duration::from_secs(2);
        let mut sink = |_s: Sample| {};
        tokio::time::timeout(
            std::time::Duration::from_secs(20),
            Postgres.probe(&ep, &cfg, &mut sink),
        )
        .await
        .expect("probe must end by itself")
    }

    #[tokio::test]
    async fn not_postgres() {
        for script in [
            vec![vec![b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()]],
            vec![vec![b"E".to_vec()]],
            vec![vec![b"NN".to_vec()]],
            // N, then something that is not v3.
            vec![vec![
                b"N".to_vec(),
                b"EFATAL:  unsupported frontend protocol\n\0".to_vec(),
            ]],
            vec![vec![b"N".to_vec(), b"HTTP/1.1 200 OK\r\n\r\n".to_vec()]],
            // N, then a valid type declaring 2 GB.
            vec![vec![b"N".to_vec(), vec![b'R', 0x7f, 0xff, 0xff, 0xff]]],
            // N, then silence (no reply chunk: the fake closes after reading).
            vec![vec![b"N".to_vec()]],
            vec![vec![]],
            // A tarpit: N, then nothing until long after the read timeout.
            vec![vec![b"N".to_vec(), b"HANG".to_vec()]],
            vec![vec![b"HANG".to_vec()]],
        ] {
            let shown = format!("{script:?}");
            let t = std::time::Instant::now();
            assert!(probe_fake(script, 500).await.is_none(), "{shown}");
            assert!(t.elapsed() < std::time::Duration::from_secs(3), "{shown}");
        }
    }

    #[tokio::test]
    async fn access_states_from_the_startup_answer() {
        let sasl = msg(b'R', b"\0\0\0\x0aSCRAM-SHA-256\0\0");
        let r = probe_fake(vec![vec![b"N".to_vec(), sasl]], 2000)
            .await
            .unwrap();
        assert_eq!(
            (r.service, r.access),
            (Service::Postgres, Access::AuthRequired)
        );
        assert_eq!(r.checks[0].id, "postgres.auth-required");
        assert!(r.checks[0].detail.contains("SCRAM-SHA-256"));

        let md5 = msg(b'R', &[0, 0, 0, 5, 9, 9, 9, 9]);
        let r = probe_fake(vec![vec![b"N".to_vec(), md5]], 2000)
            .await
            .unwrap();
        assert_eq!(r.access, Access::AuthRequired);

        let e = error(
            "28P01",
            "password authentication failed for user \"postgres\"",
        );
        let r = probe_fake(vec![vec![b"N".to_vec(), e]], 2000)
            .await
            .unwrap();
        assert_eq!(r.access, Access::AuthRequired);

        let e = error("28000", "no pg_hba.conf entry for host \"127.0.42.8\"");
        let r = probe_fake(vec![vec![b"N".to_vec(), e]], 2000)
            .await
            .unwrap();
        assert_eq!(r.access, Access::Restricted);
        assert_eq!(r.checks[0].id, "postgres.restricted");

        // S: no TLS here, so a second connection starts up in plain text.
        let e = error(
            "28000",
            "no pg_hba.conf entry for host \"127.0.42.8\", no encryption",
        );
        let r = probe_fake(vec![vec![b"S".to_vec()], vec![e]], 2000)
            .await
            .unwrap();
        assert_eq!(r.access, Access::Restricted);
        assert!(r.notes[0].contains("TLS"), "{:?}", r.notes);

        // AuthenticationOk alone is not Open: the first statement is answered with a row
        // declaring a gigabyte, and the probe gives up without claiming anything.
        let hello = cat(&[auth_ok(), ready(b'I')]);
        let huge = vec![b'D', 0x40, 0, 0, 0];
        let r = probe_fake(vec![vec![b"N".to_vec(), hello, huge]], 2000)
            .await
            .unwrap();
        assert_eq!((r.service, r.access), (Service::Postgres, Access::Unknown));
        assert!(r.checks.is_empty());
    }

    #[tokio::test]
    async fn open_only_after_a_read_and_risks_from_catalogs() {
        let hello = cat(&[
            auth_ok(),
            msg(b'S', b"server_version\x0016.2\0"),
            msg(b'K', &[0; 8]),
            ready(b'I'),
        ]);
        let conn = vec![
            b"N".to_vec(),
            hello,
            done("SET", b'I'),
            done("SET", b'I'),
            done("BEGIN", b'T'),
            result(&["PostgreSQL 16.2"]),
            result(&["f"]),
            result(&["pg_execute_server_program", "pg_read_server_files"]),
            result(&[]),
            done("ROLLBACK", b'I'),
        ];
        let r = probe_fake(vec![conn], 2000).await.unwrap();
        assert_eq!((r.service, r.access), (Service::Postgres, Access::Open));
        assert_eq!(r.version.as_deref(), Some("16.2"));
        let ids: Vec<&str> = r.checks.iter().map(|c| c.id).collect();
        assert_eq!(ids, ["postgres.unauthenticated", "postgres.server-files"]);
        assert!(r.checks[1].detail.contains("COPY ... PROGRAM"));
        assert!(r.checks[1].detail.contains("not attempted"));
    }

    /// Against the SCRAM cluster of scripts/servers/postgres.sh, when it runs: a real
    /// SCRAM-SHA-256 exchange, the server's signature verified, and the opt-in default
    /// list refused.
    #[tokio::test]
    #[allow(clippy::print_stderr)] // a skipped test says so
    async fn scram_login_against_a_real_server() {
        let Some(addr) = std::env::var("LH_PG_SCRAM").ok().filter(|v| !v.is_empty()) else {
            assert_ne!(
                std::env::var("LH_REQUIRE_SERVERS").as_deref(),
                Ok("1"),
                "LH_PG_SCRAM is not set"
            );
            eprintln!("SKIPPED: LH_PG_SCRAM not set");
            return;
        };
        let ep = Endpoint {
            host: None,
            ip: addr.parse().unwrap(),
            port: 5432,
        };
        let mut cfg = ProbeConfig::default();
        let mut budget = Budget {
            spent: 0,
            cap: 1 << 20,
        };
        // The synthetic password postgres.sh sets; the tests never give it to the scanner.
        assert_eq!(
            login(&ep, &cfg, "postgres", "lh-pg-Sc7mVx2q", &mut budget).await,
            Ok(true)
        );
        assert_eq!(
            login(&ep, &cfg, "postgres", "postgres", &mut budget).await,
            Ok(false)
        );
        cfg.default_creds = true;
        let mut sink = |_s: Sample| {};
        let r = Postgres.probe(&ep, &cfg, &mut sink).await.unwrap();
        assert_eq!(r.access, Access::AuthRequired);
        assert!(
            r.notes.iter().any(|n| n.contains("none of 3")),
            "{:?}",
            r.notes
        );
        assert!(r
            .checks
            .iter()
            .all(|c| c.id != "postgres.default-credentials"));
    }
}
