//! ClickHouse native TCP protocol (9000/9440): the client Hello as `default` with an empty
//! password, the server Hello or exception, and one read (`SELECT version()`) to prove access.
//!
//! Enumeration and sampling go over HTTP (see `clickhouse_http`); this probe establishes
//! that the native port is the same exposure. Parsers work on raw bytes with caps on every
//! length, so a hostile server declaring a gigabyte string costs nothing.

use crate::clickhouse_http::{assert_read_only, enumerate, Select, SelectError, Selected};
use crate::net::{Conn, NetError};
use crate::{Check, Probe, ProbeConfig, ProbeFuture, ProbeReport, SampleSink};
use leakhound_model::{Access, Service, Severity};
use leakhound_targets::Endpoint;
use std::future::Future;
use std::pin::Pin;

/// The probe, in plain TCP or TLS.
pub struct ClickhouseNative {
    /// Speak TLS (9440).
    pub tls: bool,
}

/// Protocol revision we announce: old enough for 18.x, new enough for a timezone and
/// display name in the server Hello.
const CLIENT_REVISION: u64 = 54406;
/// Largest string accepted from the server.
const MAX_STRING: u64 = 1 << 20;

/// Server packet types.
mod packet {
    pub const HELLO: u64 = 0;
    pub const DATA: u64 = 1;
    pub const EXCEPTION: u64 = 2;
    pub const PROGRESS: u64 = 3;
    pub const END_OF_STREAM: u64 = 5;
    pub const PROFILE_INFO: u64 = 6;
    pub const TOTALS: u64 = 7;
    pub const EXTREMES: u64 = 8;
}

/// A cursor over received bytes; `None` from a read means "need more bytes".
struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

type Parsed<T> = Result<Option<T>, NetError>;

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }

    fn varint(&mut self) -> Parsed<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&byte) = self.b.get(self.pos + i) else {
                return Ok(None);
            };
            v |= ((byte & 0x7f) as u64) << (7 * i);
            if byte & 0x80 == 0 {
                self.pos += i + 1;
                return Ok(Some(v));
            }
        }
        Err(NetError::Malformed("varint longer than 10 bytes".into()))
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(s)
    }

    fn string(&mut self) -> Parsed<String> {
        let Some(len) = self.varint()? else {
            return Ok(None);
        };
        if len > MAX_STRING {
            return Err(NetError::Malformed(format!("string of {len} bytes")));
        }
        Ok(self
            .bytes(len as usize)
            .map(|s| String::from_utf8_lossy(s).into_owned()))
    }

    fn bytes_string(&mut self) -> Parsed<Vec<u8>> {
        let Some(len) = self.varint()? else {
            return Ok(None);
        };
        if len > MAX_STRING {
            return Err(NetError::Malformed(format!("string of {len} bytes")));
        }
        Ok(self.bytes(len as usize).map(<[u8]>::to_vec))
    }

    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|s| s[0])
    }

    fn i32(&mut self) -> Option<i32> {
        self.bytes(4)
            .map(|s| i32::from_le_bytes([s[0], s[1], s[2], s[3]]))
    }
}

macro_rules! need {
    ($e:expr) => {
        match $e {
            Some(v) => v,
            None => return Ok(None),
        }
    };
}

/// What the server answered to Hello.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloReply {
    /// Server Hello: name, version, revision, timezone, display name.
    Hello {
        /// Server name (`ClickHouse`).
        name: String,
        /// `major.minor.patch`.
        version: String,
        /// Protocol revision.
        revision: u64,
        /// Server timezone.
        timezone: Option<String>,
    },
    /// An exception: code and message.
    Exception {
        /// Error code.
        code: i32,
        /// Message.
        message: String,
    },
}

fn parse_exception(r: &mut Reader) -> Parsed<(i32, String)> {
    // Nested exceptions follow the first, which is all we report. A loop, not recursion:
    // the server decides how deep they go.
    let mut first = None;
    loop {
        let code = need!(r.i32());
        let _name = need!(r.string()?);
        let message = need!(r.string()?);
        let _stack = need!(r.string()?);
        let nested = need!(r.u8());
        first.get_or_insert((code, message));
        if nested == 0 {
            return Ok(first);
        }
    }
}

/// Parses the reply to Hello. `Ok(None)`: incomplete; `Err`: not ClickHouse or malformed.
pub fn parse_hello_reply(b: &[u8]) -> Parsed<(usize, HelloReply)> {
    let mut r = Reader::new(b);
    let kind = need!(r.varint()?);
    let reply = match kind {
        packet::HELLO => {
            let name = need!(r.string()?);
            let major = need!(r.varint()?);
            let minor = need!(r.varint()?);
            let revision = need!(r.varint()?);
            let common = revision.min(CLIENT_REVISION);
            let timezone = if common >= 54058 {
                Some(need!(r.string()?))
            } else {
                None
            };
            if common >= 54372 {
                let _display = need!(r.string()?);
            }
            let patch = if common >= 54401 {
                need!(r.varint()?)
            } else {
                revision
            };
            if name.is_empty() || name.len() > 64 {
                return Err(NetError::Malformed("implausible server name".into()));
            }
            HelloReply::Hello {
                name,
                version: format!("{major}.{minor}.{patch}"),
                revision,
                timezone,
            }
        }
        packet::EXCEPTION => {
            let (code, message) = need!(parse_exception(&mut r)?);
            HelloReply::Exception { code, message }
        }
        other => {
            return Err(NetError::Malformed(format!(
                "packet type {other} before Hello"
            )))
        }
    };
    Ok(Some((r.pos, reply)))
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Client Hello as `default` with an empty password.
pub fn hello_packet() -> Vec<u8> {
    let mut p = Vec::new();
    put_varint(&mut p, 0);
    put_str(&mut p, "leakhound");
    put_varint(&mut p, 1);
    put_varint(&mut p, 1);
    put_varint(&mut p, CLIENT_REVISION);
    put_str(&mut p, "");
    put_str(&mut p, "default");
    put_str(&mut p, "");
    p
}

/// The statement that confirms a read.
const QUERY: &str = "SELECT version()";

/// A Query packet for `sql` followed by the empty Data block that ends client data.
fn query_packets(sql: &str, server_revision: u64) -> Vec<u8> {
    let rev = server_revision.min(CLIENT_REVISION);
    let mut p = Vec::new();
    put_varint(&mut p, 1); // Query
    put_str(&mut p, ""); // query id
    if rev >= 54032 {
        p.push(1); // initial query
        put_str(&mut p, ""); // initial user
        put_str(&mut p, ""); // initial query id
        put_str(&mut p, "0.0.0.0:0");
        p.push(1); // TCP interface
        put_str(&mut p, ""); // os user
        put_str(&mut p, "leakhound"); // client host name
        put_str(&mut p, "leakhound");
        put_varint(&mut p, 1);
        put_varint(&mut p, 1);
        put_varint(&mut p, CLIENT_REVISION);
        if rev >= 54060 {
            put_str(&mut p, ""); // quota key
        }
        if rev >= 54401 {
            put_varint(&mut p, 0); // version patch
        }
    }
    put_str(&mut p, ""); // end of settings
    put_varint(&mut p, 2); // stage: complete
    put_varint(&mut p, 0); // no compression
    put_str(&mut p, sql);
    // Empty Data block: no external tables.
    put_varint(&mut p, 2);
    put_str(&mut p, "");
    put_varint(&mut p, 1);
    p.push(0);
    put_varint(&mut p, 2);
    p.extend_from_slice(&(-1i32).to_le_bytes());
    put_varint(&mut p, 0);
    put_varint(&mut p, 0); // columns
    put_varint(&mut p, 0); // rows
    p
}

/// One server packet after a query: a data block (rows of String cells), progress,
/// profile info, end of stream, or an exception.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum QueryPacket {
    Data(Vec<Vec<Vec<u8>>>),
    Progress,
    Profile,
    End,
    Exception(i32),
}

pub(crate) fn parse_query_packet(b: &[u8], revision: u64) -> Parsed<(usize, QueryPacket)> {
    let rev = revision.min(CLIENT_REVISION);
    let mut r = Reader::new(b);
    let kind = need!(r.varint()?);
    let pkt = match kind {
        // Totals and extremes blocks share the data layout; their rows are dropped.
        packet::DATA | packet::TOTALS | packet::EXTREMES => {
            let _table = need!(r.string()?);
            // Block info: field 1 (is_overflows u8), field 2 (bucket_num i32), 0 ends.
            loop {
                match need!(r.varint()?) {
                    0 => break,
                    1 => {
                        need!(r.u8());
                    }
                    2 => {
                        need!(r.i32());
                    }
                    f => return Err(NetError::Malformed(format!("block info field {f}"))),
                }
            }
            let cols = need!(r.varint()?);
            let rows = need!(r.varint()?);
            if cols > 1000 || rows > 1_000_000 {
                return Err(NetError::Malformed("implausible block size".into()));
            }
            // Every cell takes at least one byte (its length), so a block whose cells cannot
            // all be in the buffer is incomplete: nothing is allocated for rows a server
            // merely declares (a hostile header would otherwise cost 24 MB per parse, and
            // the parse reruns on every read until the message is whole).
            if cols > 0 && rows * cols > (r.b.len() - r.pos) as u64 {
                return Ok(None);
            }
            // Columnar on the wire; transposed into rows here. Every query leakhound
            // sends casts its columns to String, so no other type needs decoding.
            let rows = if cols == 0 { 0 } else { rows };
            let mut table: Vec<Vec<Vec<u8>>> =
                vec![Vec::with_capacity(cols as usize); rows as usize];
            for _ in 0..cols {
                let _name = need!(r.string()?);
                let ty = need!(r.string()?);
                if ty != "String" {
                    return Err(NetError::Malformed(format!("unexpected column type {ty}")));
                }
                for row in table.iter_mut() {
                    row.push(need!(r.bytes_string()?));
                }
            }
            if kind == packet::DATA {
                QueryPacket::Data(table)
            } else {
                QueryPacket::Data(Vec::new())
            }
        }
        packet::PROGRESS => {
            need!(r.varint()?); // rows
            need!(r.varint()?); // bytes
            need!(r.varint()?); // total rows
            if rev >= 54420 {
                need!(r.varint()?);
                need!(r.varint()?);
            }
            QueryPacket::Progress
        }
        packet::PROFILE_INFO => {
            need!(r.varint()?);
            need!(r.varint()?);
            need!(r.varint()?);
            need!(r.u8());
            need!(r.varint()?);
            need!(r.u8());
            QueryPacket::Profile
        }
        packet::END_OF_STREAM => QueryPacket::End,
        packet::EXCEPTION => QueryPacket::Exception(need!(parse_exception(&mut r)?).0),
        other => return Err(NetError::Malformed(format!("unexpected packet {other}"))),
    };
    Ok(Some((r.pos, pkt)))
}

const REMEDIATION: &str = crate::clickhouse_http::REMEDIATION;

impl ClickhouseNative {
    async fn run(
        &self,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        enumerate_with: Option<SampleSink<'_>>,
    ) -> Option<ProbeReport> {
        let sni = ep.host.as_deref().unwrap_or("clickhouse");
        let mut conn = Conn::connect_with(ep.socket(), cfg.limits, self.tls.then_some(sni))
            .await
            .ok()?;
        conn.set_read_cap(cfg.endpoint_bytes + (1 << 20));
        conn.write_all(&hello_packet()).await.ok()?;
        let mut reply = None;
        conn.read_message(|b| {
            Ok(parse_hello_reply(b)?.map(|(n, r)| {
                reply = Some(r);
                n
            }))
        })
        .await
        .ok()?;
        match reply? {
            HelloReply::Hello {
                name,
                version,
                revision,
                timezone,
            } => {
                if !name.to_ascii_lowercase().contains("clickhouse") {
                    return None;
                }
                // The server only says Hello after accepting the credentials; a read
                // confirms that they are enough to see data.
                let mut session = NativeSession {
                    conn,
                    revision,
                    cfg,
                };
                let read = session
                    .run_query(QUERY, 1)
                    .await
                    .ok()
                    .and_then(|rows| rows.into_iter().next())
                    .and_then(|row| row.into_iter().next())
                    .map(|v| String::from_utf8_lossy(&v).into_owned());
                let mut rep = ProbeReport::new(
                    Service::ClickhouseNative,
                    if read.is_some() {
                        Access::Open
                    } else {
                        Access::Unknown
                    },
                );
                rep.version = Some(read.clone().unwrap_or(version));
                if let Some(tz) = timezone {
                    rep.notes.push(format!("server timezone {tz}"));
                }
                if self.tls {
                    rep.tls = true;
                    rep.notes
                        .push("spoken over TLS (certificate not verified)".into());
                }
                if read.is_some() {
                    rep.checks.push(Check {
                        id: "clickhouse.native-unauthenticated",
                        severity: Severity::High,
                        title: "ClickHouse native port accepts `default` with no password".into(),
                        detail: format!(
                            "Hello as default with an empty password and `{QUERY}` succeeded"
                        ),
                        remediation: REMEDIATION,
                    });
                    if let Some(sink) = enumerate_with {
                        enumerate(&mut session, &mut rep, sink).await;
                    }
                } else {
                    rep.notes
                        .push("Hello accepted, but the confirming read failed".into());
                }
                Some(rep)
            }
            HelloReply::Exception { code, message } => {
                let access = match code {
                    192..=194 | 516 => Access::AuthRequired,
                    195 => Access::Restricted,
                    _ => Access::Unknown,
                };
                let mut rep = ProbeReport::new(Service::ClickhouseNative, access);
                rep.notes
                    .push(format!("exception {code}: {:.200}", message));
                if access == Access::AuthRequired {
                    rep.checks.push(Check {
                        id: "clickhouse.native-auth-required",
                        severity: Severity::Info,
                        title: "ClickHouse native port is reachable but requires a password".into(),
                        detail: format!("exception code {code} on Hello"),
                        remediation: REMEDIATION,
                    });
                }
                Some(rep)
            }
        }
    }
}

/// One open native connection after Hello: runs allowlisted SELECTs with text columns.
struct NativeSession<'a> {
    conn: Conn,
    revision: u64,
    cfg: &'a ProbeConfig,
}

impl NativeSession<'_> {
    async fn run_query(&mut self, sql: &str, max_rows: usize) -> Result<Vec<Vec<Vec<u8>>>, String> {
        assert_read_only(sql);
        self.conn
            .write_all(&query_packets(sql, self.revision))
            .await
            .map_err(|e| e.to_string())?;
        let mut rows = Vec::new();
        // Bounded: the connection's byte cap and the server's own limits end it sooner.
        for _ in 0..100_000 {
            let mut pkt = None;
            let revision = self.revision;
            self.conn
                .read_message(|b| {
                    Ok(parse_query_packet(b, revision)?.map(|(n, p)| {
                        pkt = Some(p);
                        n
                    }))
                })
                .await
                .map_err(|e| e.to_string())?;
            match pkt {
                Some(QueryPacket::Data(block)) => {
                    let room = max_rows.saturating_sub(rows.len());
                    rows.extend(block.into_iter().take(room));
                }
                Some(QueryPacket::Progress) | Some(QueryPacket::Profile) => {}
                Some(QueryPacket::End) => return Ok(rows),
                Some(QueryPacket::Exception(code)) => {
                    return Err(format!("ClickHouse code {code}"))
                }
                None => return Err("no packet".into()),
            }
        }
        Err("too many packets".into())
    }
}

impl Select for NativeSession<'_> {
    fn select<'a>(
        &'a mut self,
        sql: &'a str,
        rows: usize,
        bytes: usize,
    ) -> Pin<Box<dyn Future<Output = Result<Selected, SelectError>> + Send + 'a>> {
        Box::pin(async move {
            let before = self.conn.bytes_read();
            if before >= self.cfg.endpoint_bytes {
                return Err(SelectError::Budget);
            }
            let bytes = bytes.min(self.cfg.endpoint_bytes - before).max(1024);
            // The native protocol carries no forced readonly: the allowlist is the guard,
            // and the same limits as over HTTP travel in the SETTINGS clause.
            let bounded = format!(
                "{sql} SETTINGS max_result_rows = {rows}, max_result_bytes = {bytes}, \
                 result_overflow_mode = 'break', max_rows_to_read = {}, read_overflow_mode = 'break', \
                 max_execution_time = {}, timeout_overflow_mode = 'break'",
                (rows as u64 * 100).max(100_000),
                self.cfg.limits.io.as_secs().max(1),
            );
            let result = self.run_query(&bounded, rows).await;
            let spent = self.conn.bytes_read() - before;
            result
                .map(|rows| Selected { rows, bytes: spent })
                .map_err(SelectError::Failed)
        })
    }

    fn cfg(&self) -> &ProbeConfig {
        self.cfg
    }

    fn transport(&self) -> &'static str {
        "the native protocol"
    }
}

impl ClickhouseNative {
    /// Probes and, when open, enumerates and samples over the native protocol. The scan
    /// engine calls this only for hosts whose ClickHouse HTTP interface is not open
    /// (enumeration goes over HTTP when it can).
    pub async fn probe_and_enumerate(
        &self,
        ep: &Endpoint,
        cfg: &ProbeConfig,
        sink: SampleSink<'_>,
    ) -> Option<ProbeReport> {
        self.run(ep, cfg, Some(sink)).await
    }
}

impl Probe for ClickhouseNative {
    fn service(&self) -> Service {
        Service::ClickhouseNative
    }

    fn port_hints(&self) -> &'static [u16] {
        if self.tls {
            &[9440]
        } else {
            &[9000]
        }
    }

    fn probe<'a>(
        &'a self,
        ep: &'a Endpoint,
        cfg: &'a ProbeConfig,
        _sink: SampleSink<'a>,
    ) -> ProbeFuture<'a> {
        Box::pin(self.run(ep, cfg, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello_bytes() -> Vec<u8> {
        let mut b = Vec::new();
        put_varint(&mut b, 0);
        put_str(&mut b, "ClickHouse");
        put_varint(&mut b, 18);
        put_varint(&mut b, 16);
        put_varint(&mut b, 54413);
        put_str(&mut b, "UTC");
        put_str(&mut b, "vm");
        put_varint(&mut b, 1);
        b
    }

    #[test]
    fn server_hello_parses_and_every_prefix_is_incomplete() {
        let b = hello_bytes();
        let (n, r) = parse_hello_reply(&b).unwrap().unwrap();
        assert_eq!(n, b.len());
        assert!(matches!(r, HelloReply::Hello { ref version, .. } if version == "18.16.1"));
        for cut in 0..b.len() {
            assert!(
                parse_hello_reply(&b[..cut]).unwrap().is_none(),
                "prefix {cut}"
            );
        }
    }

    #[test]
    fn exceptions_parse() {
        let mut b = Vec::new();
        put_varint(&mut b, 2);
        b.extend_from_slice(&194i32.to_le_bytes());
        put_str(&mut b, "DB::Exception");
        put_str(&mut b, "Password required for user default");
        put_str(&mut b, "");
        b.push(0);
        let (_, r) = parse_hello_reply(&b).unwrap().unwrap();
        assert_eq!(
            r,
            HelloReply::Exception {
                code: 194,
                message: "Password required for user default".into()
            }
        );
    }

    #[test]
    fn huge_and_malformed_inputs_are_rejected_not_allocated() {
        // A string length of 2^62 in the server name.
        let mut b = vec![0u8];
        put_varint(&mut b, 1 << 62);
        assert!(parse_hello_reply(&b).is_err());
        // An endless varint.
        assert!(parse_hello_reply(&[0x80; 16]).is_err());
        // HTTP sent back to us is not ClickHouse.
        assert!(parse_hello_reply(b"HTTP/1.0 400 Bad Request\r\n").is_err());
    }

    /// A hostile server can nest exceptions as deep as its bytes allow (8 bytes a level).
    /// The parser runs on a tokio worker thread (2 MiB stack) over a buffer of up to the
    /// endpoint byte cap, so a recursive parse overflowed the stack and aborted the scan.
    #[test]
    fn deeply_nested_exceptions_do_not_overflow_the_stack() {
        let levels = (1 << 20) / 8;
        let mut b = vec![2u8];
        for _ in 0..levels {
            // code, empty name, message and stack trace, "nested follows".
            b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 1]);
        }
        b.extend_from_slice(&[1, 0, 0, 0, 0, 0, 0, 0]);
        let parsed = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || {
                let whole = parse_hello_reply(&b).unwrap().unwrap();
                let cut = parse_hello_reply(&b[..b.len() - 1]).unwrap();
                (whole, cut.is_none(), b.len())
            })
            .unwrap()
            .join()
            .unwrap();
        let ((n, reply), cut_incomplete, len) = parsed;
        assert_eq!(n, len);
        assert_eq!(
            reply,
            HelloReply::Exception {
                code: 1,
                message: String::new()
            }
        );
        assert!(cut_incomplete);
    }

    #[test]
    fn data_block_with_one_string() {
        let mut b = Vec::new();
        put_varint(&mut b, 1);
        put_str(&mut b, "");
        put_varint(&mut b, 1);
        b.push(0);
        put_varint(&mut b, 2);
        b.extend_from_slice(&(-1i32).to_le_bytes());
        put_varint(&mut b, 0);
        put_varint(&mut b, 1);
        put_varint(&mut b, 1);
        put_str(&mut b, "version()");
        put_str(&mut b, "String");
        put_str(&mut b, "18.16.1");
        let (n, p) = parse_query_packet(&b, 54413).unwrap().unwrap();
        assert_eq!(n, b.len());
        assert_eq!(p, QueryPacket::Data(vec![vec![b"18.16.1".to_vec()]]));
        assert!(parse_query_packet(&b[..b.len() - 1], 54413)
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_declared_million_rows_waits_for_their_bytes() {
        let mut b = Vec::new();
        put_varint(&mut b, 1);
        put_str(&mut b, "");
        put_varint(&mut b, 0);
        put_varint(&mut b, 1); // one column
        put_varint(&mut b, 1_000_000); // a million rows, and no bytes for them
        put_str(&mut b, "x");
        put_str(&mut b, "String");
        assert!(parse_query_packet(&b, 54413).unwrap().is_none());
        // Zero columns: the declared rows carry nothing and make no table.
        let mut z = Vec::new();
        put_varint(&mut z, 1);
        put_str(&mut z, "");
        put_varint(&mut z, 0);
        put_varint(&mut z, 0);
        put_varint(&mut z, 1_000_000);
        let (n, p) = parse_query_packet(&z, 54413).unwrap().unwrap();
        assert_eq!((n, p), (z.len(), QueryPacket::Data(Vec::new())));
    }
}
