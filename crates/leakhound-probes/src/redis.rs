//! Redis (RESP2 over TCP, 6379): a bounded RESP2 frame parser, identification, access
//! state, key sampling, and dangerous-command risks, using only commands from a
//! read-only allowlist.
//!
//! Layout: [`parse`] / [`frame_len`] work on raw bytes and never touch the network;
//! `Session::send` is the one place that writes a command, and it refuses anything not
//! in [`ALLOWED_COMMANDS`]. Commands are always encoded as RESP arrays of bulk strings,
//! so a key name can never smuggle a second command.
//!
//! Findings aggregate per key *pattern*: [`Location::key`] holds the key name with
//! digit runs replaced by `*` and id-like segments (UUIDs, hex ids, long tokens, e-mail
//! addresses) replaced by `*` whole, e.g. `session:8f3a9c2e11` and `user:1001` become
//! `session:*` and `user:*`. A million session keys then make one finding with a count,
//! and a key name that itself holds a token or address is never printed.

use crate::net::{Conn, NetError};
use crate::{Check, Probe, ProbeConfig, ProbeFuture, ProbeReport, Sample, SampleSink, TableInfo};
use leakhound_model::{Access, Location, Service, Severity};
use leakhound_targets::Endpoint;
use std::collections::BTreeMap;

/// The probe.
pub struct Redis;

/// Every command this probe may send: a bare verb, or `VERB SUBCOMMAND` when only that
/// subcommand is allowed. All are read-only; `SELECT` only changes the connection's
/// current db. Anything else is refused before it leaves.
pub const ALLOWED_COMMANDS: &[&str] = &[
    "PING",
    "INFO",
    "ACL WHOAMI",
    "ACL GETUSER",
    "COMMAND INFO",
    "SELECT",
    "SCAN",
    "TYPE",
    "STRLEN",
    "GETRANGE",
    "HSCAN",
    "SSCAN",
    "ZRANGE",
    "LRANGE",
    "XRANGE",
];

/// What to tell the owner of an exposed Redis.
pub const REMEDIATION: &str = "Set `requirepass` or ACL users with strong passwords (and \
`user default off`); keep `protected-mode yes`; bind to an internal interface only; disable \
or rename CONFIG, MODULE, REPLICAOF/SLAVEOF, DEBUG and EVAL (`rename-command`, or ACL \
`-@dangerous -@scripting`); close port 6379 at the firewall.";

const DANGEROUS_REMEDIATION: &str = "Require authentication (requirepass / ACL users), and take \
the dangerous commands away from network clients: `rename-command CONFIG \"\"` (likewise MODULE, \
REPLICAOF, SLAVEOF, DEBUG, EVAL) or ACL `-@dangerous -@scripting`; keep `enable-module-command` \
and `enable-debug-command` at `no`; keep `protected-mode yes`, bind to an internal interface \
and close port 6379 at the firewall.";

/// Largest bulk length RESP allows at all (Redis `proto-max-bulk-len` default, 512 MB).
/// A longer declaration is not Redis; a shorter one above our cap is just too large.
const PROTO_MAX_BULK: i64 = 512 << 20;

/// SCAN calls per db; with `COUNT 100` this visits at most ~3,200 hash buckets.
const MAX_SCAN_CALLS: usize = 32;
/// Elements read from one hash, set, sorted set, list or stream.
const ITEMS_PER_KEY: usize = 64;
/// Longest key name accepted in a SCAN reply.
const MAX_KEY_LEN: usize = 4096;
/// Key names held while choosing which to sample.
const MAX_POOL: usize = 4096;
/// Fresh connections after a reply was refused or the connection dropped.
const MAX_RECONNECTS: usize = 4;

// ------------------------------------------------------------------ RESP2 parsing

/// One RESP2 value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `+OK`.
    Simple(Vec<u8>),
    /// `-ERR ...`.
    Error(Vec<u8>),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`.
    Bulk(Vec<u8>),
    /// `$-1` or `*-1`.
    Nil,
    /// `*2\r\n...`.
    Array(Vec<Value>),
}

impl Value {
    /// The bytes of a simple or bulk string.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            Value::Simple(b) | Value::Bulk(b) => Some(b),
            _ => None,
        }
    }

    /// The string of a simple or bulk string (lossy).
    pub fn text(&self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// Hard caps applied while parsing one reply.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Largest declared bulk string length.
    pub max_bulk: usize,
    /// Largest declared element count of one array.
    pub max_elements: usize,
    /// Largest element count summed over the whole frame.
    pub max_total: usize,
    /// Deepest array nesting.
    pub max_depth: usize,
    /// Longest header/simple/error/integer line.
    pub max_line: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            max_bulk: 1 << 20,
            max_elements: 4096,
            max_total: 65_536,
            max_depth: 8,
            max_line: 64 << 10,
        }
    }
}

fn malformed(why: impl Into<String>) -> NetError {
    NetError::Malformed(why.into())
}

struct Parser<'a> {
    buf: &'a [u8],
    caps: Caps,
    /// Build values (false: only validate and measure).
    build: bool,
    total: usize,
}

impl Parser<'_> {
    /// The CRLF-terminated line at `pos`: its content and the position after the CRLF.
    fn line(&self, pos: usize) -> Result<Option<(&[u8], usize)>, NetError> {
        let window = &self.buf[pos..self.buf.len().min(pos + self.caps.max_line + 2)];
        match memchr::memchr(b'\n', window) {
            Some(i) => {
                if i == 0 || window[i - 1] != b'\r' {
                    return Err(malformed("line not terminated by CRLF"));
                }
                let line = &window[..i - 1];
                if memchr::memchr(b'\r', line).is_some() {
                    return Err(malformed("bare CR in line"));
                }
                Ok(Some((line, pos + i + 1)))
            }
            None => {
                // A CR must be followed by LF: reject early instead of waiting.
                if let Some(j) = memchr::memchr(b'\r', window) {
                    if j + 1 < window.len() {
                        return Err(malformed("bare CR in line"));
                    }
                }
                if window.len() > self.caps.max_line + 1 {
                    return Err(malformed("line longer than the cap"));
                }
                Ok(None)
            }
        }
    }

    fn value(&mut self, pos: usize, depth: usize) -> Result<Option<(Value, usize)>, NetError> {
        let Some(&kind) = self.buf.get(pos) else {
            return Ok(None);
        };
        if !matches!(kind, b'+' | b'-' | b':' | b'$' | b'*') {
            return Err(malformed(format!("unexpected type byte 0x{kind:02x}")));
        }
        let Some((line, next)) = self.line(pos + 1)? else {
            return Ok(None);
        };
        let own = |b: &[u8], build: bool| if build { b.to_vec() } else { Vec::new() };
        match kind {
            b'+' => Ok(Some((Value::Simple(own(line, self.build)), next))),
            b'-' => Ok(Some((Value::Error(own(line, self.build)), next))),
            b':' => Ok(Some((Value::Integer(parse_int(line)?), next))),
            b'$' => {
                let n = parse_int(line)?;
                if n == -1 {
                    return Ok(Some((Value::Nil, next)));
                }
                if !(0..=PROTO_MAX_BULK).contains(&n) {
                    return Err(malformed(format!("bulk length {n}")));
                }
                let n = n as usize;
                if n > self.caps.max_bulk {
                    return Err(NetError::TooLarge(self.caps.max_bulk));
                }
                let end = next + n + 2;
                if self.buf.len() < end {
                    return Ok(None);
                }
                if &self.buf[end - 2..end] != b"\r\n" {
                    return Err(malformed("bulk string not followed by CRLF"));
                }
                Ok(Some((
                    Value::Bulk(own(&self.buf[next..end - 2], self.build)),
                    end,
                )))
            }
            _ => {
                let n = parse_int(line)?;
                if n == -1 {
                    return Ok(Some((Value::Nil, next)));
                }
                if !(0..=i64::from(u32::MAX)).contains(&n) {
                    return Err(malformed(format!("array length {n}")));
                }
                let n = n as usize;
                if n > self.caps.max_elements {
                    return Err(NetError::TooLarge(self.caps.max_elements));
                }
                if depth + 1 > self.caps.max_depth {
                    return Err(malformed("arrays nested too deep"));
                }
                self.total += n;
                if self.total > self.caps.max_total {
                    return Err(NetError::TooLarge(self.caps.max_total));
                }
                let mut items = Vec::with_capacity(if self.build { n.min(1024) } else { 0 });
                let mut at = next;
                for _ in 0..n {
                    let Some((v, after)) = self.value(at, depth + 1)? else {
                        return Ok(None);
                    };
                    if self.build {
                        items.push(v);
                    }
                    at = after;
                }
                Ok(Some((Value::Array(items), at)))
            }
        }
    }
}

/// A RESP integer: optional `-`, 1 to 19 digits, no `+`, no spaces, no overflow.
fn parse_int(line: &[u8]) -> Result<i64, NetError> {
    let (neg, digits) = match line.strip_prefix(b"-") {
        Some(d) => (true, d),
        None => (false, line),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(malformed("bad integer"));
    }
    let mut v: i64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(d - b'0')))
            .ok_or_else(|| malformed("integer overflow"))?;
    }
    Ok(if neg { -v } else { v })
}

/// Length of the complete RESP2 frame at the start of `buf`: `Ok(None)` when more bytes
/// are needed, an error when the bytes are not RESP2 or break a cap. Allocates nothing.
pub fn frame_len(buf: &[u8], caps: &Caps) -> Result<Option<usize>, NetError> {
    let mut p = Parser {
        buf,
        caps: *caps,
        build: false,
        total: 0,
    };
    Ok(p.value(0, 0)?.map(|(_, n)| n))
}

/// The RESP2 value at the start of `buf` and its length, with the same outcomes as
/// [`frame_len`].
pub fn parse(buf: &[u8], caps: &Caps) -> Result<Option<(Value, usize)>, NetError> {
    let mut p = Parser {
        buf,
        caps: *caps,
        build: true,
        total: 0,
    };
    p.value(0, 0)
}

/// A command as a RESP array of bulk strings.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Whether `args` is a command from [`ALLOWED_COMMANDS`].
pub fn allowed(args: &[&[u8]]) -> bool {
    let Some(verb) = args.first() else {
        return false;
    };
    let verb = String::from_utf8_lossy(verb).to_ascii_uppercase();
    let sub = args
        .get(1)
        .map(|s| String::from_utf8_lossy(s).to_ascii_uppercase());
    ALLOWED_COMMANDS.iter().any(|a| match a.split_once(' ') {
        Some((v, s)) => v == verb && sub.as_deref() == Some(s),
        None => *a == verb,
    })
}

// ------------------------------------------------------------------ interpretation

/// What a `PING` reply says about the endpoint; `None`: not Redis.
fn ping_access(reply: &Value) -> Option<(Access, String)> {
    match reply {
        Value::Simple(s) if s == b"PONG" => Some((Access::Open, "PONG".into())),
        Value::Error(e) => {
            let text = String::from_utf8_lossy(e).into_owned();
            let code = text.split(' ').next().unwrap_or_default();
            // Redis error codes are one upper-case word; a generic `-ERR` is only
            // accepted with a message Redis itself would send.
            let access = match code {
                "NOAUTH" | "WRONGPASS" => Access::AuthRequired,
                // Redis < 2.8 with requirepass.
                "ERR" if text.contains("operation not permitted") => Access::AuthRequired,
                "DENIED" | "NOPERM" => Access::Restricted,
                "LOADING" | "BUSY" | "MASTERDOWN" | "MISCONF" | "CLUSTERDOWN" => Access::Unknown,
                "ERR"
                    if text.contains("max number of clients")
                        || text.contains("unknown command") =>
                {
                    Access::Unknown
                }
                _ => return None,
            };
            Some((access, text))
        }
        _ => None,
    }
}

/// What `INFO` says.
#[derive(Debug, Default, PartialEq, Eq)]
struct Info {
    version: Option<String>,
    role: Option<String>,
    /// `(db index, keys)` from the keyspace section.
    keyspace: Vec<(u32, u64)>,
}

fn parse_info(text: &str) -> Info {
    let mut info = Info::default();
    for line in text.lines() {
        let Some((k, v)) = line.trim_end().split_once(':') else {
            continue;
        };
        match k {
            "redis_version" => info.version = Some(v.to_string()),
            "role" => info.role = Some(v.to_string()),
            _ => {
                if let Some(n) = k.strip_prefix("db").and_then(|n| n.parse::<u32>().ok()) {
                    let keys = v
                        .split(',')
                        .find_map(|kv| kv.strip_prefix("keys="))
                        .and_then(|n| n.parse().ok());
                    if let Some(keys) = keys {
                        info.keyspace.push((n, keys));
                    }
                }
            }
        }
    }
    info.keyspace.sort();
    info
}

/// One dangerous command: display name, command, subcommand and the ACL categories it
/// belongs to (Redis 7 command table).
struct Dangerous {
    name: &'static str,
    cmd: &'static str,
    sub: Option<&'static str>,
    categories: &'static [&'static str],
    /// Redis >= 7 refuses it unless `enable-*-command` was changed from its default.
    gated_in_7: bool,
}

const DANGEROUS: &[Dangerous] = &[
    Dangerous {
        name: "CONFIG SET",
        cmd: "config",
        sub: Some("set"),
        categories: &["admin", "slow", "dangerous"],
        gated_in_7: false,
    },
    Dangerous {
        name: "MODULE LOAD",
        cmd: "module",
        sub: Some("load"),
        categories: &["admin", "slow", "dangerous"],
        gated_in_7: true,
    },
    Dangerous {
        name: "REPLICAOF",
        cmd: "replicaof",
        sub: None,
        categories: &["admin", "slow", "dangerous"],
        gated_in_7: false,
    },
    Dangerous {
        name: "SLAVEOF",
        cmd: "slaveof",
        sub: None,
        categories: &["admin", "slow", "dangerous"],
        gated_in_7: false,
    },
    Dangerous {
        name: "DEBUG",
        cmd: "debug",
        sub: None,
        categories: &["admin", "slow", "dangerous"],
        gated_in_7: true,
    },
    Dangerous {
        name: "EVAL",
        cmd: "eval",
        sub: None,
        categories: &["slow", "scripting"],
        gated_in_7: false,
    },
];

/// Whether an ACL rule string (`ACL GETUSER` `commands`, e.g. `+@all -config|set`) lets
/// the user run `d`. Rules apply left to right, starting from nothing allowed.
fn acl_allows(rules: &str, d: &Dangerous) -> bool {
    let full = d.sub.map(|s| format!("{}|{s}", d.cmd));
    let mut ok = false;
    for tok in rules.split_whitespace() {
        let tok = tok.to_ascii_lowercase();
        match tok.as_str() {
            "+@all" | "allcommands" => ok = true,
            "-@all" | "nocommands" => ok = false,
            _ => {
                let (grant, what) = match tok.split_at(1) {
                    ("+", w) => (true, w),
                    ("-", w) => (false, w),
                    _ => continue,
                };
                let hit = match what.strip_prefix('@') {
                    Some(cat) => d.categories.contains(&cat),
                    None => what == d.cmd || full.as_deref() == Some(what),
                };
                if hit {
                    ok = grant;
                }
            }
        }
    }
    ok
}

/// The `commands` rule string and flags of an `ACL GETUSER` reply (a flat name/value array).
fn acl_rules(reply: &Value) -> Option<(String, Vec<String>)> {
    let Value::Array(items) = reply else {
        return None;
    };
    let mut commands = None;
    let mut flags = Vec::new();
    for pair in items.chunks(2) {
        let [k, v] = pair else { continue };
        match k.text().as_deref() {
            Some("commands") => commands = v.text(),
            Some("flags") => {
                if let Value::Array(f) = v {
                    flags = f.iter().filter_map(Value::text).collect();
                }
            }
            _ => {}
        }
    }
    // Redis 6.0 says `allcommands` among the flags as well.
    let mut rules = commands.unwrap_or_default();
    if flags.iter().any(|f| f == "allcommands") {
        rules = format!("+@all {rules}");
    }
    Some((rules, flags))
}

fn major_version(v: &str) -> Option<u32> {
    v.split('.').next()?.parse().ok()
}

/// A key name as shown in findings: digit runs and id-like segments become `*`, control
/// bytes `?`, at most 128 characters.
pub fn key_pattern(key: &[u8]) -> String {
    let text: String = String::from_utf8_lossy(key)
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    const SEPS: &[char] = &[':', '/', '|', '{', '}', '#', ',', ' ', '=', ';', '[', ']'];
    let mut out = String::new();
    let mut seg = String::new();
    let flush = |seg: &mut String, out: &mut String| {
        if id_like(seg) {
            out.push('*');
        } else {
            let mut in_digits = false;
            for c in seg.chars() {
                if c.is_ascii_digit() {
                    if !in_digits {
                        out.push('*');
                    }
                    in_digits = true;
                } else {
                    out.push(c);
                    in_digits = false;
                }
            }
        }
        seg.clear();
    };
    for c in text.chars() {
        if SEPS.contains(&c) {
            flush(&mut seg, &mut out);
            out.push(c);
        } else {
            seg.push(c);
        }
    }
    flush(&mut seg, &mut out);
    if out.chars().count() > 128 {
        out = out.chars().take(127).collect::<String>() + "…";
    }
    out
}

/// An id, token or address rather than a name: UUIDs, hex ids of 8+ characters with a
/// digit, anything with `@`, 16+ token characters with a digit, or 32+ token characters.
fn id_like(seg: &str) -> bool {
    let token = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '+');
    let has_digit = seg.chars().any(|c| c.is_ascii_digit());
    let hex = seg.len() >= 8 && has_digit && seg.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    seg.contains('@')
        || hex
        || (seg.chars().all(token) && (seg.len() >= 32 || seg.len() >= 16 && has_digit))
}

/// Key names that suggest content worth reading first.
const HOT_KEYS: &[&str] = &[
    "chat",
    "message",
    "prompt",
    "conversation",
    "history",
    "completion",
    "llm",
    "session",
    "token",
    "secret",
    "key",
    "pass",
    "cred",
    "auth",
    "user",
    "email",
    "config",
];

// ------------------------------------------------------------------ connection

enum CmdError {
    /// Not in the allowlist; nothing was sent.
    Refused(String),
    /// The endpoint byte budget is spent.
    Budget,
    Net(NetError),
    /// The server answered with an error reply.
    Server(String),
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CmdError::Refused(v) => write!(f, "refused non-allowlisted command {v}"),
            CmdError::Budget => f.write_str("endpoint byte budget reached"),
            CmdError::Net(e) => write!(f, "{e}"),
            CmdError::Server(e) => write!(f, "server error: {e}"),
        }
    }
}

struct Session<'a> {
    ep: &'a Endpoint,
    cfg: &'a ProbeConfig,
    conn: Option<Conn>,
    /// Bytes read on the current connection (its read cap is set from this).
    conn_read: usize,
    /// Bytes read from the endpoint in total.
    spent: usize,
    /// The db the current connection has selected.
    db: u32,
    reconnects: usize,
}

impl<'a> Session<'a> {
    async fn connect(ep: &'a Endpoint, cfg: &'a ProbeConfig) -> Result<Session<'a>, NetError> {
        let conn = Conn::connect(ep.socket(), cfg.limits).await?;
        Ok(Session {
            ep,
            cfg,
            conn: Some(conn),
            conn_read: 0,
            spent: 0,
            db: 0,
            reconnects: 0,
        })
    }

    /// The one place that sends a command: refuses anything not in [`ALLOWED_COMMANDS`],
    /// caps the reply at `cap` bytes of payload, and drops the connection on any
    /// network or framing error (its stream position is then unknown).
    async fn send(&mut self, args: &[&[u8]], cap: usize) -> Result<Value, CmdError> {
        if !allowed(args) {
            let verb = args
                .iter()
                .take(2)
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            return Err(CmdError::Refused(verb));
        }
        if self.spent >= self.cfg.endpoint_bytes {
            return Err(CmdError::Budget);
        }
        let Some(conn) = self.conn.as_mut() else {
            return Err(CmdError::Net(NetError::Closed));
        };
        let cap = cap.min(self.cfg.endpoint_bytes - self.spent).max(1024);
        // Framing overhead: headers of up to `max_total` elements.
        let caps = Caps {
            max_bulk: cap,
            ..Caps::default()
        };
        conn.set_read_cap(self.conn_read + cap + 64 * 1024);
        let result = async {
            conn.write_all(&encode(args)).await?;
            conn.read_message(|b| frame_len(b, &caps)).await
        }
        .await;
        let frame = match result {
            Ok(f) => f,
            Err(e) => {
                self.conn = None;
                return Err(CmdError::Net(e));
            }
        };
        self.conn_read += frame.len();
        self.spent += frame.len();
        match parse(&frame, &caps) {
            Ok(Some((Value::Error(e), _))) => {
                Err(CmdError::Server(String::from_utf8_lossy(&e).into_owned()))
            }
            Ok(Some((v, _))) => Ok(v),
            // frame_len accepted exactly these bytes, so parse cannot disagree.
            Ok(None) => Err(CmdError::Net(malformed("incomplete frame"))),
            Err(e) => Err(CmdError::Net(e)),
        }
    }

    /// Sends `args`, first reconnecting (and re-selecting the db) if an earlier reply
    /// broke the connection.
    async fn cmd(&mut self, args: &[&[u8]], cap: usize) -> Result<Value, CmdError> {
        if self.conn.is_none() {
            if self.reconnects >= MAX_RECONNECTS {
                return Err(CmdError::Net(NetError::Closed));
            }
            self.reconnects += 1;
            let conn = Conn::connect(self.ep.socket(), self.cfg.limits)
                .await
                .map_err(CmdError::Net)?;
            self.conn = Some(conn);
            self.conn_read = 0;
            if self.db != 0 {
                let db = self.db.to_string();
                if let Err(e) = self.send(&[b"SELECT", db.as_bytes()], 1024).await {
                    self.conn = None;
                    return Err(e);
                }
            }
        }
        self.send(args, cap).await
    }

    /// The connection is gone and may not be replaced.
    fn dead(&self) -> bool {
        self.conn.is_none() && self.reconnects >= MAX_RECONNECTS
    }

    async fn select(&mut self, db: u32) -> Result<(), CmdError> {
        if self.db == db && self.conn.is_some() {
            return Ok(());
        }
        let n = db.to_string();
        self.cmd(&[b"SELECT", n.as_bytes()], 1024).await?;
        self.db = db;
        Ok(())
    }
}

fn bulk_list(v: &Value) -> Vec<Vec<u8>> {
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.bytes().map(<[u8]>::to_vec))
            .collect(),
        _ => Vec::new(),
    }
}

/// A `*SCAN` reply: `[cursor, [items...]]`.
fn scan_reply(v: &Value) -> Option<(Vec<u8>, &[Value])> {
    let Value::Array(parts) = v else { return None };
    match parts.as_slice() {
        [cursor, Value::Array(items)] => Some((cursor.bytes()?.to_vec(), items)),
        _ => None,
    }
}

impl Redis {
    async fn run(
        &self,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        sink: SampleSink<'_>,
    ) -> Option<ProbeReport> {
        let mut s = Session::connect(ep, cfg).await.ok()?;
        // Identification: the PING reply must be valid RESP and one Redis would send.
        let (access, said) = match s.send(&[b"PING"], 1024).await {
            Ok(v) => ping_access(&v)?,
            Err(CmdError::Server(e)) => ping_access(&Value::Error(e.into_bytes()))?,
            Err(_) => return None,
        };
        let mut report = ProbeReport::new(Service::Redis, access);
        match access {
            Access::Open => {
                // PONG alone proves no read; INFO does.
                match s.send(&[b"INFO"], 256 << 10).await {
                    Ok(v) => match v.text() {
                        Some(t) if t.contains("redis_version:") => {
                            let info = parse_info(&t);
                            self.open(&mut s, &mut report, info, sink).await;
                        }
                        _ => {
                            report.access = Access::Unknown;
                            report.notes.push("INFO did not answer like Redis".into());
                        }
                    },
                    // INFO renamed away: a SCAN that answers is the read that proves it.
                    Err(CmdError::Server(e)) if e.contains("unknown command") => {
                        match s.send(&[b"SCAN", b"0", b"COUNT", b"1"], 64 << 10).await {
                            Ok(v) if scan_reply(&v).is_some() => {
                                report.notes.push(format!("INFO refused: {e}"));
                                self.open(&mut s, &mut report, Info::default(), sink).await;
                            }
                            _ => {
                                report.access = Access::Unknown;
                                report.notes.push(format!("INFO refused: {e}"));
                            }
                        }
                    }
                    Err(CmdError::Server(e)) => {
                        report.access = match ping_access(&Value::Error(e.clone().into_bytes())) {
                            Some((a, _)) if a != Access::Open => a,
                            _ => Access::Unknown,
                        };
                        report.notes.push(format!("INFO refused: {e}"));
                    }
                    Err(e) => {
                        report.access = Access::Unknown;
                        report.notes.push(format!("INFO failed: {e}"));
                    }
                }
            }
            _ => report.notes.push(format!("PING answered: {said}")),
        }
        match report.access {
            Access::AuthRequired => report.checks.push(Check::new(
                "redis.auth-required",
                Severity::Info,
                "Redis is reachable but requires authentication",
                format!("PING answered `{said}`"),
                REMEDIATION,
            )),
            Access::Restricted => report.checks.push(Check::new(
                "redis.restricted",
                Severity::Info,
                "Redis refuses unauthenticated commands from this address",
                format!("the server answered `{said}`"),
                REMEDIATION,
            )),
            _ => {}
        }
        Some(report)
    }

    async fn open(
        &self,
        s: &mut Session<'_>,
        report: &mut ProbeReport,
        info: Info,
        sink: SampleSink<'_>,
    ) {
        report.version = info.version.clone();
        let keys: u64 = info.keyspace.iter().map(|k| k.1).sum();
        report.checks.push(Check::new(
            "redis.unauthenticated",
            Severity::High,
            "Redis answers commands without authentication",
            format!(
                "PING and {} succeeded without AUTH (Redis {}, role {}, {} keys in {} dbs)",
                if info.version.is_some() {
                    "INFO"
                } else {
                    "SCAN"
                },
                info.version.as_deref().unwrap_or("?"),
                info.role.as_deref().unwrap_or("?"),
                keys,
                info.keyspace.len()
            ),
            REMEDIATION,
        ));
        report.databases = info.keyspace.iter().map(|k| format!("db{}", k.0)).collect();
        self.dangerous(s, report, info.version.as_deref()).await;
        // Without a keyspace section, db0 is the one db every Redis has.
        let dbs: Vec<(u32, Option<u64>)> = if info.keyspace.is_empty() {
            vec![(0, None)]
        } else {
            info.keyspace.iter().map(|&(d, k)| (d, Some(k))).collect()
        };
        for (db, keys) in dbs.into_iter().take(s.cfg.max_tables) {
            if s.dead() {
                report
                    .notes
                    .push("connection lost too often; remaining dbs not sampled".into());
                break;
            }
            if s.spent >= s.cfg.endpoint_bytes {
                report
                    .notes
                    .push("endpoint byte budget reached; remaining dbs not sampled".into());
                break;
            }
            let mut t = TableInfo {
                database: format!("db{db}"),
                name: "*".into(),
                engine: "redis-db".into(),
                rows: keys,
                ..Default::default()
            };
            self.sample_db(s, db, &mut t, &mut report.notes, sink).await;
            report.tables.push(t);
        }
    }

    /// Reports CONFIG SET / MODULE LOAD / REPLICAOF / ... as reachable from read-only
    /// evidence: the command table (`COMMAND INFO`) and the user's ACL rules.
    async fn dangerous(
        &self,
        s: &mut Session<'_>,
        report: &mut ProbeReport,
        version: Option<&str>,
    ) {
        let major = version.and_then(major_version);
        // Which commands exist (a renamed or disabled command is nil here).
        let mut args: Vec<&[u8]> = vec![b"COMMAND", b"INFO"];
        args.extend(DANGEROUS.iter().map(|d| d.cmd.as_bytes()));
        let present: Vec<bool> = match s.cmd(&args, 256 << 10).await {
            Ok(Value::Array(items)) if items.len() == DANGEROUS.len() => {
                items.iter().map(|i| matches!(i, Value::Array(_))).collect()
            }
            Ok(_) => {
                report
                    .notes
                    .push("COMMAND INFO answered unexpectedly; command table unknown".into());
                return;
            }
            Err(e) => {
                report.notes.push(format!(
                    "COMMAND INFO failed ({e}); dangerous commands not assessed"
                ));
                return;
            }
        };
        // Which of them this (unauthenticated) connection's user may run.
        let acl: Option<(String, String)> = match s.cmd(&[b"ACL", b"WHOAMI"], 4096).await {
            Ok(v) => {
                let user = v.text().unwrap_or_else(|| "default".into());
                match s
                    .cmd(&[b"ACL", b"GETUSER", user.as_bytes()], 64 << 10)
                    .await
                {
                    Ok(v) => match acl_rules(&v) {
                        Some((rules, flags)) if !flags.iter().any(|f| f == "off") => {
                            Some((user, rules))
                        }
                        _ => {
                            report
                                .notes
                                .push("ACL GETUSER answered unexpectedly".into());
                            return;
                        }
                    },
                    // GETUSER is @admin @dangerous: refusing it means the user's rights
                    // are cut down, so claim nothing.
                    Err(e) => {
                        report.notes.push(format!(
                            "ACL GETUSER {user} refused ({e}); dangerous commands not assessed"
                        ));
                        return;
                    }
                }
            }
            // Redis < 6 has no ACLs: every connection may run every command.
            Err(CmdError::Server(e)) if e.contains("unknown command") => None,
            Err(e) => {
                report.notes.push(format!(
                    "ACL WHOAMI failed ({e}); dangerous commands not assessed"
                ));
                return;
            }
        };
        let mut reachable = Vec::new();
        let mut gated = Vec::new();
        for (d, &exists) in DANGEROUS.iter().zip(&present) {
            let permitted = acl.as_ref().is_none_or(|(_, rules)| acl_allows(rules, d));
            if !exists || !permitted {
                continue;
            }
            if d.gated_in_7 && major.is_none_or(|m| m >= 7) {
                gated.push(d.name);
            } else {
                reachable.push(d.name);
            }
        }
        if reachable.is_empty() {
            return;
        }
        let who = match &acl {
            Some((user, rules)) => format!("ACL user `{user}` has commands `{rules}`"),
            None => "the server has no ACLs (Redis < 6)".into(),
        };
        let mut detail = format!(
            "{who}; COMMAND INFO lists {}; reachable without auth: {}. Not executed: judged from \
             COMMAND INFO and ACL GETUSER only",
            DANGEROUS
                .iter()
                .zip(&present)
                .filter(|(_, &p)| p)
                .map(|(d, _)| d.cmd)
                .collect::<Vec<_>>()
                .join(", "),
            reachable.join(", ")
        );
        if !gated.is_empty() {
            detail.push_str(&format!(
                "; {} also permitted but refused by default since Redis 7 \
                 (enable-module-command / enable-debug-command)",
                gated.join(", ")
            ));
        }
        report.checks.push(Check::new(
            "redis.dangerous-commands",
            Severity::Critical,
            format!(
                "{} reachable without auth: remote code execution risk",
                reachable.join(" / ")
            ),
            detail,
            DANGEROUS_REMEDIATION,
        ));
    }

    /// Samples up to `sample_rows` keys of one db, spread over key patterns, within
    /// `sample_bytes`.
    async fn sample_db(
        &self,
        s: &mut Session<'_>,
        db: u32,
        t: &mut TableInfo,
        notes: &mut Vec<String>,
        sink: SampleSink<'_>,
    ) {
        if let Err(e) = s.select(db).await {
            notes.push(format!("SELECT {db} failed: {e}"));
            return;
        }
        // Keep scanning after `sample_rows` names, grouping them by pattern, so that one
        // huge pattern (session:*) does not crowd out the rest; no pattern needs more
        // than `sample_rows` names.
        let want = s.cfg.sample_rows;
        if want == 0 {
            return;
        }
        let mut groups: BTreeMap<(bool, String), Vec<Vec<u8>>> = BTreeMap::new();
        let mut pooled = 0usize;
        let mut cursor = b"0".to_vec();
        for _ in 0..MAX_SCAN_CALLS {
            let r = s.cmd(&[b"SCAN", &cursor, b"COUNT", b"100"], 1 << 20).await;
            let v = match r {
                Ok(v) => v,
                Err(e) => {
                    notes.push(format!("SCAN in db{db} failed: {e}"));
                    break;
                }
            };
            let Some((next, items)) = scan_reply(&v) else {
                notes.push(format!("SCAN in db{db} answered unexpectedly"));
                break;
            };
            for k in items.iter().filter_map(Value::bytes) {
                if k.len() > MAX_KEY_LEN || pooled >= MAX_POOL {
                    continue;
                }
                let p = key_pattern(k);
                let lower = p.to_ascii_lowercase();
                let cold = !HOT_KEYS.iter().any(|h| lower.contains(h));
                let g = groups.entry((cold, p)).or_default();
                // SCAN may return a key twice.
                if g.len() < want && !g.iter().any(|x| x == k) {
                    g.push(k.to_vec());
                    pooled += 1;
                }
            }
            cursor = next;
            if cursor == b"0" || pooled >= MAX_POOL {
                break;
            }
        }
        // Round-robin over patterns, hot patterns first.
        let mut picked: Vec<(String, Vec<u8>)> = Vec::new();
        let mut round = 0;
        while picked.len() < want {
            let before = picked.len();
            for ((_, p), keys) in &groups {
                if picked.len() >= want {
                    break;
                }
                if let Some(k) = keys.get(round) {
                    picked.push((p.clone(), k.clone()));
                }
            }
            if picked.len() == before {
                break;
            }
            round += 1;
        }

        let mut budget = s.cfg.sample_bytes;
        let per_key = (s.cfg.sample_bytes / 8).max(4096);
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        for (pattern, key) in picked {
            if budget == 0 {
                notes.push(format!("db{db}: per-db byte budget reached"));
                break;
            }
            if s.spent >= s.cfg.endpoint_bytes {
                notes.push("endpoint byte budget reached".into());
                break;
            }
            let kind = match s.cmd(&[b"TYPE", &key], 1024).await {
                Ok(v) => v.text().unwrap_or_default(),
                Err(e) => {
                    notes.push(format!("TYPE of a {pattern} key failed: {e}"));
                    if s.dead() {
                        break;
                    }
                    continue;
                }
            };
            let cap = budget.min(per_key);
            let location = Location {
                database: Some(format!("db{db}")),
                table: None,
                column: None,
                key: Some(pattern.clone()),
            };
            let key_name = String::from_utf8_lossy(&key).into_owned();
            let values = match self.read_key(s, &key, &kind, cap, &key_name).await {
                Ok(v) => v,
                Err(e) => {
                    notes.push(format!(
                        "reading {kind} key {pattern} in db{db} failed: {e}"
                    ));
                    continue;
                }
            };
            types.entry(pattern).or_insert(kind);
            t.sampled_rows += 1;
            for (field, mut value) in values {
                value.truncate(budget);
                let n = value.len();
                budget -= n;
                t.sampled_bytes += n as u64;
                if value.is_empty() {
                    continue;
                }
                sink(Sample {
                    location: location.clone(),
                    field,
                    value,
                });
            }
        }
        t.columns = types.into_iter().collect();
    }

    /// Reads at most `cap` bytes of one key as `(field, value)` pairs: the key name is the
    /// field, except for hash fields and stream entry fields, which are their own.
    async fn read_key(
        &self,
        s: &mut Session<'_>,
        key: &[u8],
        kind: &str,
        cap: usize,
        key_name: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, CmdError> {
        let n = ITEMS_PER_KEY.to_string();
        let last = (ITEMS_PER_KEY - 1).to_string();
        let as_key = |items: Vec<Vec<u8>>| {
            items
                .into_iter()
                .map(|v| (key_name.to_string(), v))
                .collect::<Vec<_>>()
        };
        match kind {
            "string" => {
                let len = match s.cmd(&[b"STRLEN", key], 1024).await? {
                    Value::Integer(n) => usize::try_from(n).unwrap_or(0),
                    _ => 0,
                };
                let take = len.min(cap);
                if take == 0 {
                    return Ok(Vec::new());
                }
                let end = (take - 1).to_string();
                let v = s
                    .cmd(&[b"GETRANGE", key, b"0", end.as_bytes()], cap)
                    .await?;
                Ok(as_key(v.bytes().map(<[u8]>::to_vec).into_iter().collect()))
            }
            "hash" => {
                let v = s
                    .cmd(&[b"HSCAN", key, b"0", b"COUNT", n.as_bytes()], cap)
                    .await?;
                let Some((_, items)) = scan_reply(&v) else {
                    return Ok(Vec::new());
                };
                Ok(items
                    .chunks(2)
                    .take(ITEMS_PER_KEY)
                    .filter_map(|p| match p {
                        [f, v] => Some((f.text()?, v.bytes()?.to_vec())),
                        _ => None,
                    })
                    .collect())
            }
            "set" => {
                let v = s
                    .cmd(&[b"SSCAN", key, b"0", b"COUNT", n.as_bytes()], cap)
                    .await?;
                let Some((_, items)) = scan_reply(&v) else {
                    return Ok(Vec::new());
                };
                Ok(as_key(
                    items
                        .iter()
                        .take(ITEMS_PER_KEY)
                        .filter_map(|i| i.bytes().map(<[u8]>::to_vec))
                        .collect(),
                ))
            }
            "zset" => {
                let v = s.cmd(&[b"ZRANGE", key, b"0", last.as_bytes()], cap).await?;
                Ok(as_key(bulk_list(&v)))
            }
            "list" => {
                let v = s.cmd(&[b"LRANGE", key, b"0", last.as_bytes()], cap).await?;
                Ok(as_key(bulk_list(&v)))
            }
            "stream" => {
                let v = s
                    .cmd(&[b"XRANGE", key, b"-", b"+", b"COUNT", n.as_bytes()], cap)
                    .await?;
                let Value::Array(entries) = v else {
                    return Ok(Vec::new());
                };
                let mut out = Vec::new();
                for e in &entries {
                    if let Value::Array(parts) = e {
                        if let [_, Value::Array(fields)] = parts.as_slice() {
                            for p in fields.chunks(2) {
                                if let [f, v] = p {
                                    if let (Some(f), Some(v)) = (f.text(), v.bytes()) {
                                        out.push((f, v.to_vec()));
                                    }
                                }
                            }
                        }
                    }
                }
                Ok(out)
            }
            // Module types (ReJSON-RL, ...) need their own commands: not sampled.
            _ => Ok(Vec::new()),
        }
    }
}

impl Probe for Redis {
    fn service(&self) -> Service {
        Service::Redis
    }

    fn port_hints(&self) -> &'static [u16] {
        &[6379]
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

    fn caps() -> Caps {
        Caps::default()
    }

    fn p(b: &[u8]) -> Result<Option<(Value, usize)>, NetError> {
        parse(b, &caps())
    }

    fn bulk(s: &str) -> Value {
        Value::Bulk(s.as_bytes().to_vec())
    }

    #[test]
    fn scalar_types() {
        assert_eq!(
            p(b"+PONG\r\n").unwrap(),
            Some((Value::Simple(b"PONG".to_vec()), 7))
        );
        assert_eq!(
            p(b"-NOAUTH Authentication required.\r\n").unwrap(),
            Some((
                Value::Error(b"NOAUTH Authentication required.".to_vec()),
                34
            ))
        );
        assert_eq!(p(b":-42\r\n").unwrap(), Some((Value::Integer(-42), 6)));
        assert_eq!(p(b"$3\r\nfoo\r\n").unwrap(), Some((bulk("foo"), 9)));
        assert_eq!(p(b"$0\r\n\r\n").unwrap(), Some((bulk(""), 6)));
        assert_eq!(p(b"$-1\r\n").unwrap(), Some((Value::Nil, 5)));
        assert_eq!(p(b"*-1\r\n").unwrap(), Some((Value::Nil, 5)));
        // Binary-safe bulk payloads may hold CR and LF.
        assert_eq!(p(b"$4\r\na\r\nb\r\n").unwrap(), Some((bulk("a\r\nb"), 10)));
    }

    #[test]
    fn arrays_nest_and_report_their_length() {
        let b = b"*2\r\n$1\r\n0\r\n*3\r\n$1\r\na\r\n:1\r\n$-1\r\n+extra";
        let (v, n) = p(b).unwrap().unwrap();
        assert_eq!(n, b.len() - b"+extra".len());
        assert_eq!(
            v,
            Value::Array(vec![
                bulk("0"),
                Value::Array(vec![bulk("a"), Value::Integer(1), Value::Nil])
            ])
        );
        assert_eq!(frame_len(b, &caps()).unwrap(), Some(n));
        assert_eq!(p(b"*0\r\n").unwrap(), Some((Value::Array(vec![]), 4)));
    }

    #[test]
    fn every_truncation_is_incomplete_not_invalid() {
        let whole: &[u8] = b"*3\r\n$5\r\nhello\r\n*1\r\n:7\r\n+OK\r\n";
        assert!(p(whole).unwrap().is_some());
        for cut in 0..whole.len() {
            assert!(
                p(&whole[..cut]).unwrap().is_none(),
                "prefix of {cut} bytes should be incomplete"
            );
            assert!(frame_len(&whole[..cut], &caps()).unwrap().is_none());
        }
    }

    #[test]
    fn huge_declared_lengths_are_rejected_before_any_data() {
        // 10 GB bulk: beyond what RESP allows at all.
        assert!(matches!(
            p(b"$10737418240\r\n"),
            Err(NetError::Malformed(_))
        ));
        // 100 MB: legal RESP, but over our cap.
        assert!(matches!(p(b"$104857600\r\n"), Err(NetError::TooLarge(_))));
        assert!(matches!(p(b"*100000000\r\n"), Err(NetError::TooLarge(_))));
        assert!(matches!(
            p(b"*99999999999\r\n"),
            Err(NetError::Malformed(_))
        ));
        // Overflowing integers.
        assert!(matches!(
            p(b"$99999999999999999999\r\n"),
            Err(NetError::Malformed(_))
        ));
        assert!(matches!(
            p(b":9223372036854775808\r\n"),
            Err(NetError::Malformed(_))
        ));
        assert_eq!(
            p(b":-9223372036854775807\r\n").unwrap().unwrap().0,
            Value::Integer(-9223372036854775807)
        );
        // Many small arrays adding up beyond the total cap.
        let mut many = b"*4000\r\n".to_vec();
        for _ in 0..4000 {
            many.extend_from_slice(b"*20\r\n");
            many.extend_from_slice(&b":1\r\n".repeat(20));
        }
        assert!(matches!(p(&many), Err(NetError::TooLarge(_))));
    }

    #[test]
    fn negative_lengths_other_than_nil_are_invalid() {
        for b in [&b"$-2\r\n"[..], b"*-2\r\n", b"$-0x\r\n", b"*-\r\n"] {
            assert!(matches!(p(b), Err(NetError::Malformed(_))), "{b:?}");
        }
    }

    #[test]
    fn wrong_types_and_framing_are_invalid() {
        for b in [
            &b"HTTP/1.1 400 Bad Request\r\n"[..],
            b"SSH-2.0-OpenSSH_9.2\r\n",
            b"%1\r\n", // RESP3 map: never asked for
            b"_\r\n",
            b"\x00\x00",
            b":12a\r\n",
            b": 1\r\n",
            b":+1\r\n",
            b":\r\n",
            b"$3\r\nfooXY", // bulk not followed by CRLF
            b"+PONG\n",     // LF without CR
            b"+PO\rNG\r\n", // bare CR
            b"$+3\r\nfoo\r\n",
            b"*1\r\n?\r\n",
        ] {
            assert!(
                matches!(p(b), Err(NetError::Malformed(_))),
                "{:?} should be invalid",
                String::from_utf8_lossy(b)
            );
        }
    }

    #[test]
    fn endless_lines_and_deep_nesting_are_invalid() {
        let mut line = b"+".to_vec();
        line.extend(std::iter::repeat_n(b'a', 70_000));
        assert!(matches!(p(&line), Err(NetError::Malformed(_))));
        // Under the cap and unterminated: still waiting.
        assert!(p(&line[..1000]).unwrap().is_none());
        let deep = b"*1\r\n".repeat(9);
        assert!(matches!(p(&deep), Err(NetError::Malformed(_))));
        let ok = [b"*1\r\n".repeat(7), b":1\r\n".to_vec()].concat();
        assert!(p(&ok).unwrap().is_some());
    }

    #[test]
    fn bulk_cap_is_configurable() {
        let small = Caps {
            max_bulk: 4,
            ..Caps::default()
        };
        assert!(parse(b"$4\r\nabcd\r\n", &small).unwrap().is_some());
        assert!(matches!(
            parse(b"$5\r\n", &small),
            Err(NetError::TooLarge(4))
        ));
    }

    #[test]
    fn commands_are_resp_arrays_and_only_allowlisted_ones_pass() {
        assert_eq!(
            encode(&[b"GETRANGE", b"k\r\nFLUSHALL", b"0", b"9"]),
            b"*4\r\n$8\r\nGETRANGE\r\n$11\r\nk\r\nFLUSHALL\r\n$1\r\n0\r\n$1\r\n9\r\n"
        );
        for ok in [
            &[&b"PING"[..]][..],
            &[b"info"],
            &[b"ACL", b"whoami"],
            &[b"acl", b"GETUSER", b"default"],
            &[b"COMMAND", b"INFO", b"config"],
            &[b"SCAN", b"0", b"COUNT", b"100"],
            &[b"XRANGE", b"s", b"-", b"+", b"COUNT", b"5"],
        ] {
            assert!(allowed(ok), "{ok:?}");
        }
        for bad in [
            &[&b"SET"[..], b"k", b"v"][..],
            &[b"DEL", b"k"],
            &[b"FLUSHALL"],
            &[b"FLUSHDB"],
            &[b"CONFIG", b"SET", b"dir", b"/tmp"],
            &[b"CONFIG", b"GET", b"*"],
            &[b"MODULE", b"LOAD", b"/tmp/x.so"],
            &[b"REPLICAOF", b"1.2.3.4", b"6379"],
            &[b"SLAVEOF", b"1.2.3.4", b"6379"],
            &[b"EVAL", b"return 1", b"0"],
            &[b"DEBUG", b"SLEEP", b"0"],
            &[b"ACL", b"SETUSER", b"x"],
            &[b"ACL"],
            &[b"COMMAND"],
            &[b"KEYS", b"*"],
            &[b"GETDEL", b"k"],
            &[b"PING PONG"],
            &[],
        ] {
            assert!(!allowed(bad), "{bad:?}");
        }
    }

    #[test]
    fn ping_replies_map_to_access_states() {
        let err = |s: &str| ping_access(&Value::Error(s.as_bytes().to_vec())).map(|a| a.0);
        assert_eq!(
            ping_access(&Value::Simple(b"PONG".to_vec())).map(|a| a.0),
            Some(Access::Open)
        );
        assert_eq!(
            err("NOAUTH Authentication required."),
            Some(Access::AuthRequired)
        );
        assert_eq!(
            err("ERR operation not permitted"),
            Some(Access::AuthRequired)
        );
        assert_eq!(
            err("DENIED Redis is running in protected mode because protected mode is enabled"),
            Some(Access::Restricted)
        );
        assert_eq!(
            err("NOPERM this user has no permissions to run the 'ping' command"),
            Some(Access::Restricted)
        );
        assert_eq!(
            err("ERR max number of clients reached"),
            Some(Access::Unknown)
        );
        assert_eq!(
            err("LOADING Redis is loading the dataset in memory"),
            Some(Access::Unknown)
        );
        // Valid RESP, but not what Redis answers to PING.
        assert_eq!(err("ERR whatever"), None);
        assert_eq!(err("oops"), None);
        assert_eq!(ping_access(&Value::Simple(b"OK".to_vec())), None);
        assert_eq!(ping_access(&bulk("PONG")), None);
        assert_eq!(ping_access(&Value::Integer(1)), None);
    }

    #[test]
    fn info_fields_and_keyspace() {
        let info = parse_info(
            "# Server\r\nredis_version:7.0.15\r\nredis_mode:standalone\r\n\r\n# Replication\r\n\
             role:master\r\n\r\n# Keyspace\r\ndb0:keys=312,expires=0,avg_ttl=0\r\n\
             db2:keys=1,expires=1,avg_ttl=10\r\ndbx:keys=1\r\n",
        );
        assert_eq!(info.version.as_deref(), Some("7.0.15"));
        assert_eq!(info.role.as_deref(), Some("master"));
        assert_eq!(info.keyspace, vec![(0, 312), (2, 1)]);
    }

    #[test]
    fn acl_rules_decide_reachability() {
        let by = |n: &str| DANGEROUS.iter().find(|d| d.name == n).unwrap();
        assert!(acl_allows("+@all", by("CONFIG SET")));
        assert!(!acl_allows("+@all -config", by("CONFIG SET")));
        assert!(!acl_allows("+@all -config|set", by("CONFIG SET")));
        assert!(acl_allows("+@all -config|get", by("CONFIG SET")));
        assert!(!acl_allows("+@all -@dangerous", by("REPLICAOF")));
        assert!(acl_allows("+@all -@dangerous", by("EVAL")));
        assert!(!acl_allows("+@all -@scripting", by("EVAL")));
        assert!(!acl_allows("-@all +get", by("CONFIG SET")));
        assert!(acl_allows("-@all +@admin", by("SLAVEOF")));
        assert!(!acl_allows("", by("DEBUG")));

        // Redis 7 `ACL GETUSER default`.
        let reply = Value::Array(vec![
            bulk("flags"),
            Value::Array(vec![bulk("on"), bulk("nopass")]),
            bulk("passwords"),
            Value::Array(vec![]),
            bulk("commands"),
            bulk("+@all"),
            bulk("keys"),
            bulk("~*"),
        ]);
        let (rules, flags) = acl_rules(&reply).unwrap();
        assert_eq!(rules, "+@all");
        assert_eq!(flags, vec!["on", "nopass"]);
        // Redis 6.0 puts `allcommands` among the flags.
        let reply = Value::Array(vec![
            bulk("flags"),
            Value::Array(vec![bulk("on"), bulk("allcommands")]),
            bulk("commands"),
            bulk("-debug"),
        ]);
        assert_eq!(acl_rules(&reply).unwrap().0, "+@all -debug");
        assert!(acl_rules(&Value::Integer(1)).is_none());
    }

    #[test]
    fn key_patterns_aggregate_and_hide_ids() {
        assert_eq!(key_pattern(b"user:1001"), "user:*");
        assert_eq!(key_pattern(b"session:8f3a9c2e11"), "session:*");
        assert_eq!(key_pattern(b"chat:history:42"), "chat:history:*");
        assert_eq!(key_pattern(b"user1001:profile"), "user*:profile");
        assert_eq!(key_pattern(b"log:2024-05-01"), "log:*");
        assert_eq!(
            key_pattern(b"tok:550e8400-e29b-41d4-a716-446655440000"),
            "tok:*"
        );
        assert_eq!(key_pattern(b"owner:jane.roe@mailbox.org"), "owner:*");
        assert_eq!(
            key_pattern(b"apikey:sk-proj-Ab3dEf6hIj9kLmN0pQr2StUvWxYz12T3Blbk"),
            "apikey:*"
        );
        assert_eq!(key_pattern(b"config"), "config");
        assert_eq!(key_pattern(b"a\nb\x00"), "a?b?");
        assert!(key_pattern(&[b'x'; 5000]).chars().count() <= 128);
    }

    #[test]
    fn scan_replies() {
        let v = Value::Array(vec![bulk("17"), Value::Array(vec![bulk("a"), bulk("b")])]);
        let (cursor, items) = scan_reply(&v).unwrap();
        assert_eq!(cursor, b"17");
        assert_eq!(items.len(), 2);
        assert!(scan_reply(&Value::Array(vec![bulk("0")])).is_none());
        assert!(scan_reply(&bulk("0")).is_none());
    }

    /// A fake server that answers PING with `reply`, to exercise identification.
    async fn probe_fake(reply: &'static [u8]) -> Option<ProbeReport> {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            if let Ok((mut c, _)) = l.accept().await {
                let mut b = [0u8; 64];
                let _ = c.read(&mut b).await;
                let _ = c.write_all(reply).await;
                let _ = c.shutdown().await;
            }
        });
        let ep = Endpoint {
            host: None,
            ip: addr.ip(),
            port: addr.port(),
        };
        let mut cfg = ProbeConfig::default();
        cfg.limits.io = std::time::Duration::from_secs(2);
        let mut sink = |_s: Sample| {};
        Redis.probe(&ep, &cfg, &mut sink).await
    }

    #[tokio::test]
    async fn identification_is_strict() {
        let r = probe_fake(b"-NOAUTH Authentication required.\r\n")
            .await
            .unwrap();
        assert_eq!(
            (r.service, r.access),
            (Service::Redis, Access::AuthRequired)
        );
        assert_eq!(r.checks[0].id, "redis.auth-required");
        let r = probe_fake(b"-DENIED Redis is running in protected mode\r\n")
            .await
            .unwrap();
        assert_eq!(r.access, Access::Restricted);
        // Not Redis: other protocols, RESP that is not a PING reply, a huge bulk.
        for reply in [
            &b"HTTP/1.1 400 Bad Request\r\n\r\n"[..],
            b"+OK POP3 server ready\r\n",
            b"$10737418240\r\n",
            b"",
        ] {
            assert!(probe_fake(reply).await.is_none(), "{reply:?}");
        }
        // PONG but INFO never answers: Redis, but not proven open.
        let r = probe_fake(b"+PONG\r\n").await.unwrap();
        assert_eq!((r.service, r.access), (Service::Redis, Access::Unknown));
        assert!(r.checks.is_empty());
    }

    type Handler = fn(&[String]) -> Vec<u8>;

    /// A scripted Redis: answers each command with `handler`, over as many connections as
    /// the probe opens; returns its address and every command it received.
    async fn scripted(
        handler: Handler,
    ) -> (
        std::net::SocketAddr,
        std::sync::Arc<std::sync::Mutex<Vec<Vec<String>>>>,
    ) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let log2 = log.clone();
        tokio::spawn(async move {
            while let Ok((mut c, _)) = l.accept().await {
                let log = log2.clone();
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        while let Ok(Some((Value::Array(args), n))) = parse(&buf, &Caps::default())
                        {
                            buf.drain(..n);
                            let args: Vec<String> = args.iter().filter_map(Value::text).collect();
                            log.lock().unwrap().push(args.clone());
                            if c.write_all(&handler(&args)).await.is_err() {
                                return;
                            }
                        }
                        match c.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                });
            }
        });
        (addr, log)
    }

    fn fake_open(args: &[String]) -> Vec<u8> {
        let bulk = |s: &str| format!("${}\r\n{s}\r\n", s.len());
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        match a.as_slice() {
            ["PING"] => b"+PONG\r\n".to_vec(),
            ["INFO"] => bulk("# Server\r\nredis_version:7.2.4\r\n# Replication\r\nrole:master\r\n# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\n").into_bytes(),
            ["COMMAND", "INFO", ..] => format!("*{}\r\n{}", a.len() - 2, "*-1\r\n".repeat(a.len() - 2)).into_bytes(),
            ["ACL", ..] => b"-ERR unknown command 'ACL'\r\n".to_vec(),
            ["SCAN", ..] => format!("*2\r\n{}*3\r\n{}{}{}", bulk("0"), bulk("a:list"), bulk("b:big"), bulk("c:hash")).into_bytes(),
            ["TYPE", "a:list"] => b"+list\r\n".to_vec(),
            ["TYPE", "b:big"] => b"+string\r\n".to_vec(),
            ["TYPE", "c:hash"] => b"+hash\r\n".to_vec(),
            // A list element far over any cap: only its header is ever read.
            ["LRANGE", ..] => b"*1\r\n$400000000\r\nxxxxxxxx".to_vec(),
            ["STRLEN", _] => b":10737418240\r\n".to_vec(),
            ["GETRANGE", _, "0", end] => {
                let n: usize = end.parse::<usize>().unwrap() + 1;
                bulk(&"x".repeat(n)).into_bytes()
            }
            ["HSCAN", ..] => format!("*2\r\n{}*2\r\n{}{}", bulk("0"), bulk("email"), bulk("jane.roe@mailbox.org")).into_bytes(),
            _ => b"-ERR unexpected\r\n".to_vec(),
        }
    }

    #[tokio::test]
    async fn sampling_is_bounded_and_survives_oversized_replies() {
        let (addr, log) = scripted(fake_open).await;
        let ep = Endpoint {
            host: None,
            ip: addr.ip(),
            port: addr.port(),
        };
        let cfg = ProbeConfig {
            sample_bytes: 64 << 10,
            ..ProbeConfig::default()
        };
        let mut samples = Vec::new();
        let mut sink = |s: Sample| samples.push(s);
        let r = Redis.probe(&ep, &cfg, &mut sink).await.unwrap();
        assert_eq!((r.service, r.access), (Service::Redis, Access::Open));
        assert_eq!(r.version.as_deref(), Some("7.2.4"));
        assert!(r.checks.iter().all(|c| c.id != "redis.dangerous-commands"));
        // The 10 GB string was read up to the per-key cap only.
        let big = samples.iter().find(|s| s.field == "b:big").unwrap();
        assert_eq!(big.value.len(), cfg.sample_bytes / 8);
        let email = samples.iter().find(|s| s.field == "email").unwrap();
        assert_eq!(email.value, b"jane.roe@mailbox.org");
        assert_eq!(email.location.key.as_deref(), Some("c:hash"));
        assert_eq!(email.location.database.as_deref(), Some("db0"));
        // The oversized list cost a note and a reconnect, not the scan.
        assert!(
            r.notes.iter().any(|n| n.contains("a:list")),
            "{:?}",
            r.notes
        );
        let log = log.lock().unwrap();
        for cmd in log.iter() {
            let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
            assert!(allowed(&args), "{cmd:?}");
        }
        assert!(log.iter().any(|c| c[0] == "GETRANGE" && c[3] == "8191"));
    }

    fn fake_huge_info(args: &[String]) -> Vec<u8> {
        match args[0].as_str() {
            "PING" => b"+PONG\r\n".to_vec(),
            _ => b"$10737418240\r\n".to_vec(),
        }
    }

    #[tokio::test]
    async fn a_huge_declared_reply_is_refused_not_allocated() {
        let (addr, _) = scripted(fake_huge_info).await;
        let ep = Endpoint {
            host: None,
            ip: addr.ip(),
            port: addr.port(),
        };
        let mut sink = |_s: Sample| {};
        let r = Redis
            .probe(&ep, &ProbeConfig::default(), &mut sink)
            .await
            .unwrap();
        assert_eq!((r.service, r.access), (Service::Redis, Access::Unknown));
        assert!(r.notes[0].contains("INFO failed"), "{:?}", r.notes);
    }

    #[tokio::test]
    async fn refusal_happens_before_anything_is_sent() {
        let (addr, log) = scripted(fake_open).await;
        let ep = Endpoint {
            host: None,
            ip: addr.ip(),
            port: addr.port(),
        };
        let cfg = ProbeConfig::default();
        let mut s = Session::connect(&ep, &cfg).await.unwrap();
        for bad in [
            &[&b"CONFIG"[..], b"SET", b"dir", b"/tmp"][..],
            &[b"FLUSHALL"],
            &[b"SET", b"k", b"v"],
        ] {
            assert!(matches!(s.cmd(bad, 1024).await, Err(CmdError::Refused(_))));
        }
        assert!(s.cmd(&[b"PING"], 1024).await.is_ok());
        assert_eq!(*log.lock().unwrap(), vec![vec!["PING".to_string()]]);
    }
}
