//! Protocol probes: one module per protocol behind the [`Probe`] trait. Each probe
//! identifies its service, establishes the access state, and when the service is open
//! enumerates and samples it with read-only operations from its own allowlist.
//!
//! Probes never classify and never print: they hand sampled values to a sink, and the
//! scan engine decides what they mean.
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod clickhouse_http;
pub mod clickhouse_native;
pub mod http;
pub mod net;
pub mod postgres;
pub mod redis;

use leakhound_model::{Access, Location, Service, Severity};
use leakhound_targets::Endpoint;
use std::future::Future;
use std::pin::Pin;

pub use net::Limits;

/// Sampling and politeness settings shared by all probes.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Network limits.
    pub limits: Limits,
    /// Rows sampled per table (or keys per Redis db).
    pub sample_rows: usize,
    /// Bytes sampled per table.
    pub sample_bytes: usize,
    /// Bytes read from one endpoint in total, enumeration included.
    pub endpoint_bytes: usize,
    /// Tables sampled per endpoint.
    pub max_tables: usize,
    /// Sent as the HTTP User-Agent.
    pub user_agent: String,
    /// PostgreSQL user names tried without a password.
    pub pg_users: Vec<String>,
    /// Try the short documented list of default credentials (opt-in).
    pub default_creds: bool,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            limits: Limits::default(),
            sample_rows: 100,
            sample_bytes: 1 << 20,
            endpoint_bytes: 16 << 20,
            max_tables: 200,
            user_agent: format!("leakhound/{}", env!("CARGO_PKG_VERSION")),
            pg_users: vec!["postgres".into()],
            default_creds: false,
        }
    }
}

/// One sampled value.
#[derive(Debug, Clone)]
pub struct Sample {
    /// Where it was read.
    pub location: Location,
    /// The field (column, key) name, used as classifier context.
    pub field: String,
    /// The value, at most the per-table cap.
    pub value: Vec<u8>,
}

impl Sample {
    /// A value read from `database.table.column`; the column name is the classifier context.
    pub fn cell(database: &str, table: &str, column: &str, value: Vec<u8>) -> Sample {
        Sample {
            location: Location {
                database: Some(database.to_string()),
                table: Some(table.to_string()),
                column: Some(column.to_string()),
                key: None,
            },
            field: column.to_string(),
            value,
        }
    }
}

/// A check about access or risk, reported as a finding on the endpoint.
#[derive(Debug, Clone)]
pub struct Check {
    /// Rule id, e.g. `clickhouse.unauthenticated`.
    pub id: &'static str,
    /// Severity.
    pub severity: Severity,
    /// One-line title.
    pub title: String,
    /// What was observed (no secret values).
    pub detail: String,
    /// How to close it.
    pub remediation: &'static str,
}

impl Check {
    /// A check with its observation (never a secret value) and its fix.
    pub fn new(
        id: &'static str,
        severity: Severity,
        title: impl Into<String>,
        detail: String,
        remediation: &'static str,
    ) -> Check {
        Check {
            id,
            severity,
            title: title.into(),
            detail,
            remediation,
        }
    }
}

/// What enumeration saw of one table (or Redis db).
#[derive(Debug, Clone, Default)]
pub struct TableInfo {
    /// Database.
    pub database: String,
    /// Table.
    pub name: String,
    /// Engine or kind.
    pub engine: String,
    /// Rows, if the server reports them.
    pub rows: Option<u64>,
    /// Bytes on disk, if the server reports them.
    pub bytes: Option<u64>,
    /// Columns and types.
    pub columns: Vec<(String, String)>,
    /// Rows actually sampled.
    pub sampled_rows: u64,
    /// Bytes actually sampled.
    pub sampled_bytes: u64,
}

/// The result of probing one endpoint with the protocol that recognised it.
#[derive(Debug, Clone)]
pub struct ProbeReport {
    /// Which service answered.
    pub service: Service,
    /// Access state.
    pub access: Access,
    /// Server version, when known.
    pub version: Option<String>,
    /// Access and risk checks.
    pub checks: Vec<Check>,
    /// Enumerated inventory.
    pub tables: Vec<TableInfo>,
    /// Databases seen.
    pub databases: Vec<String>,
    /// Soft problems met on the way (a query that failed, a cap that cut sampling).
    pub notes: Vec<String>,
    /// The service was spoken to over TLS.
    pub tls: bool,
}

impl ProbeReport {
    /// A report with only service and access set.
    pub fn new(service: Service, access: Access) -> Self {
        ProbeReport {
            service,
            access,
            version: None,
            checks: Vec::new(),
            tables: Vec::new(),
            databases: Vec::new(),
            notes: Vec::new(),
            tls: false,
        }
    }
}

/// Where sampled values go.
pub type SampleSink<'a> = &'a mut (dyn FnMut(Sample) + Send);

/// A boxed probe future.
pub type ProbeFuture<'a> = Pin<Box<dyn Future<Output = Option<ProbeReport>> + Send + 'a>>;

/// A protocol probe.
pub trait Probe: Send + Sync {
    /// The service it recognises.
    fn service(&self) -> Service;
    /// Ports where this protocol is tried first. Identification never relies on them.
    fn port_hints(&self) -> &'static [u16];
    /// Identifies and probes `ep`; `None` when the endpoint does not speak this protocol.
    fn probe<'a>(
        &'a self,
        ep: &'a Endpoint,
        cfg: &'a ProbeConfig,
        sink: SampleSink<'a>,
    ) -> ProbeFuture<'a>;
}

/// Every probe, in the order tried when no port hint applies. HTTP goes first: an HTTP
/// server answers a GET at once, while a binary handshake sent to it waits out the read
/// timeout (an HTTP server keeps reading for a request line that never comes). The
/// generic HTTP probe follows the HTTP-based probes and claims any other HTTP server.
pub fn all() -> Vec<Box<dyn Probe>> {
    vec![
        Box::new(clickhouse_http::ClickhouseHttp { tls: false }),
        Box::new(http::GenericHttp { tls: false }),
        Box::new(clickhouse_native::ClickhouseNative { tls: false }),
        Box::new(redis::Redis),
        Box::new(postgres::Postgres),
        // TLS variants last: a ClientHello sent to a plain server that waits for a line
        // (HTTP) costs a read timeout, and plain probes have already claimed those.
        Box::new(clickhouse_http::ClickhouseHttp { tls: true }),
        Box::new(clickhouse_native::ClickhouseNative { tls: true }),
        Box::new(http::GenericHttp { tls: true }),
        // (other protocol probes are registered here)
    ]
}

/// Thin wrappers that let the fuzz targets in `fuzz/` reach parsers that are private to
/// their probe. Not part of the API: nothing but the fuzzers calls them.
#[doc(hidden)]
pub mod fuzzing {
    use crate::net::NetError;

    /// `http::parse_head`: (head length, status, headers), `Ok(None)` while incomplete.
    #[allow(clippy::type_complexity)]
    pub fn http_parse_head(
        buf: &[u8],
        max_header: usize,
    ) -> Result<Option<(usize, u16, Vec<(String, String)>)>, NetError> {
        crate::http::parse_head(buf, max_header)
    }

    /// `http::decode_chunks`: (bytes consumed, last chunk seen), data appended to `out`.
    pub fn http_decode_chunks(
        buf: &[u8],
        out: &mut Vec<u8>,
        cap: usize,
    ) -> Result<(usize, bool), NetError> {
        crate::http::decode_chunks(buf, out, cap)
    }

    /// `clickhouse_native::parse_query_packet`: (packet length, rows of a data block;
    /// `None` for any other packet).
    #[allow(clippy::type_complexity)]
    pub fn ch_parse_query_packet(
        buf: &[u8],
        revision: u64,
    ) -> Result<Option<(usize, Option<Vec<Vec<Vec<u8>>>>)>, NetError> {
        use crate::clickhouse_native::QueryPacket;
        Ok(
            crate::clickhouse_native::parse_query_packet(buf, revision)?.map(|(n, p)| {
                let rows = match p {
                    QueryPacket::Data(rows) => Some(rows),
                    _ => None,
                };
                (n, rows)
            }),
        )
    }

    /// `clickhouse_http::exception_code` on a response body.
    pub fn ch_exception_code(body: &str) -> Option<u32> {
        crate::clickhouse_http::exception_code(body)
    }

    /// `clickhouse_http::looks_like_version` on a response body.
    pub fn ch_looks_like_version(body: &str) -> bool {
        crate::clickhouse_http::looks_like_version(body)
    }

    /// The SCRAM client's answer to a server-first-message (AuthenticationSASLContinue),
    /// then its check of the server-final-message (AuthenticationSASLFinal).
    pub fn pg_scram_exchange(
        password: &str,
        nonce: &str,
        server_first: &[u8],
        server_final: &[u8],
    ) -> (Result<String, String>, bool) {
        let mut s = crate::postgres::auth::Scram::new(password, nonce);
        let first = s.client_final(server_first);
        (first, s.verify_server_final(server_final))
    }

    /// The base64 decoder SCRAM uses on server data.
    pub fn pg_b64_decode(s: &str) -> Option<Vec<u8>> {
        crate::postgres::auth::b64_decode(s)
    }
}
