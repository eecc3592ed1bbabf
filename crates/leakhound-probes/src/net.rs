//! Bounded network I/O: every connect, read and write has a deadline, and every read a byte cap.
//!
//! Probes never touch a raw socket; they go through [`Conn`], so a tarpit, a slow
//! drip or an endless stream ends at the deadline or the cap, never later.

use leakhound_model::Service;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};

/// A byte stream: plain TCP or TLS over it.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Accepts any certificate. A scanner reports what a server exposes; refusing to talk to
/// a self-signed or expired certificate would hide exactly the neglected servers it
/// exists to find. Signatures are still checked, so the handshake itself is sound.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .expect("ring supports the default protocol versions")
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// What every connection to the endpoint being probed saw, whichever probe made it. When no
/// probe recognises an endpoint, this is what tells a tarpit from a slow drip, a reset from
/// a protocol-shaped frame that breaks its own rules.
#[derive(Debug, Default, Clone)]
pub struct ContactLog {
    /// Connections made.
    pub connections: u32,
    /// Bytes received on all of them.
    pub bytes: u64,
    /// The first bytes the endpoint ever sent (at most 32).
    pub first: Vec<u8>,
    /// Reads (or TLS handshakes) that timed out before the connection sent a byte.
    pub silent: u32,
    /// Reads that timed out after the connection had sent something (a stall or a drip).
    pub stalls: u32,
    /// Connections reset or closed after sending part of a message.
    pub cut: u32,
    /// The probe now talking (set by the scan engine).
    pub probe: Option<leakhound_model::Service>,
    /// Messages a probe's parser rejected or found over its cap, with the probe and the
    /// parser's words (the first few only).
    pub rejected: Vec<(leakhound_model::Service, String)>,
}

tokio::task_local! {
    static CONTACT: Arc<std::sync::Mutex<ContactLog>>;
}

/// Runs `fut` with a fresh contact log that every [`Conn`] it opens writes to, and returns
/// the log's handle alongside (readable even when `fut` is cancelled by a budget).
pub fn with_contact_log<F: std::future::Future>(
    fut: F,
) -> (
    Arc<std::sync::Mutex<ContactLog>>,
    impl std::future::Future<Output = F::Output>,
) {
    let log: Arc<std::sync::Mutex<ContactLog>> = Arc::default();
    (log.clone(), CONTACT.scope(log, fut))
}

/// Tells the contact log which probe makes the connections that follow.
pub fn set_contact_probe(service: leakhound_model::Service) {
    note(|c| c.probe = Some(service));
}

/// Records that the current probe found a frame it could not accept (for what the
/// framing layer cannot see: a valid frame holding an impossible value).
pub fn note_rejection(why: impl Into<String>) {
    let why = why.into();
    note(|c| c.reject(why));
}

/// A copy of the current task's contact log (empty outside [`with_contact_log`]).
pub fn current_contact_log() -> ContactLog {
    CONTACT
        .try_with(|c| c.lock().map(|l| l.clone()).unwrap_or_default())
        .unwrap_or_default()
}

fn note(f: impl FnOnce(&mut ContactLog)) {
    let _ = CONTACT.try_with(|c| {
        if let Ok(mut c) = c.lock() {
            f(&mut c)
        }
    });
}

impl ContactLog {
    fn reject(&mut self, why: String) {
        if let Some(p) = self.probe {
            if self.rejected.len() < 8 {
                self.rejected.push((p, why));
            }
        }
    }

    /// The honest state of an endpoint no probe recognised, and why.
    pub fn verdict(&self, limits: &Limits) -> (crate::Access, String) {
        use crate::Access;
        if self.connections == 0 {
            // Only an endpoint imported from another tool's results gets here unconnected.
            return (
                Access::Unresponsive,
                "no connection could be made (refused or unreachable)".into(),
            );
        }
        if self.bytes == 0 {
            if self.silent > 0 {
                return (
                    Access::Unresponsive,
                    format!(
                        "accepted {} connection(s) but sent nothing within {:?}",
                        self.connections, limits.io
                    ),
                );
            }
            return (
                Access::Unknown,
                format!(
                    "accepted {} connection(s) and closed them without sending a byte",
                    self.connections
                ),
            );
        }
        if self.stalls > 0 {
            return (
                Access::Unresponsive,
                format!(
                    "started answering ({} bytes in all) and then stalled: a slow drip or a hung service (each message must arrive within {:?})",
                    self.bytes, limits.message
                ),
            );
        }
        // Malformed only when the parser that rejected the bytes belongs to the protocol
        // they look like: every other probe rejects them too, and proves nothing.
        if let Some((proto, family)) = protocol_like(&self.first) {
            if let Some((_, why)) = self.rejected.iter().find(|(s, _)| family.contains(s)) {
                return (
                    Access::Malformed,
                    format!(
                        "answered like {proto} but broke its framing: {why} (first bytes {})",
                        escape(&self.first)
                    ),
                );
            }
        }
        if self.cut > 0 {
            return (
                Access::Unknown,
                format!(
                    "reset or closed the connection in the middle of a response ({} bytes received; first bytes {})",
                    self.bytes,
                    escape(&self.first)
                ),
            );
        }
        (
            Access::Unknown,
            format!(
                "answered, but no probe recognised the service (first bytes {})",
                escape(&self.first)
            ),
        )
    }
}

/// The protocol a reply's first bytes claim to be, judged only by signatures a text banner
/// cannot produce by accident, so an unknown text service is never called malformed.
fn protocol_like(b: &[u8]) -> Option<(&'static str, &'static [Service])> {
    match b {
        [b'H', b'T', b'T', b'P', b'/', ..] => {
            Some(("HTTP", &[Service::ClickhouseHttp, Service::Http]))
        }
        [b'$' | b'*' | b'%' | b'~', c, ..] if c.is_ascii_digit() || *c == b'-' => {
            Some(("Redis RESP", &[Service::Redis]))
        }
        // PostgreSQL answers a startup with `R` (authentication) or `E` (error) and an
        // int32 length whose high byte is 0 for any sane message: a text reply (`ERROR`,
        // `RFB 003.008`) has printable bytes there.
        [b'R' | b'E', hi, ..] if !hi.is_ascii_graphic() && !hi.is_ascii_whitespace() => {
            Some(("PostgreSQL", &[Service::Postgres]))
        }
        // ClickHouse native: packet type 0 (Hello) or 2 (Exception), then a varint.
        [0 | 2, ..] => Some(("ClickHouse native", &[Service::ClickhouseNative])),
        _ => None,
    }
}

/// Bytes as printable ASCII with escapes, for notes.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::from("`");
    for &c in b {
        match c {
            b' '..=b'~' if c != b'`' => s.push(c as char),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('`');
    s
}

/// Time and size limits for one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// TCP connect.
    pub connect: Duration,
    /// Any single read or write.
    pub io: Duration,
    /// One whole message (a response head, a protocol frame, a body): a slow drip that
    /// keeps each read under `io` still ends here.
    pub message: Duration,
    /// Largest single response (HTTP body, protocol message) accepted.
    pub max_response: usize,
    /// Largest header block (HTTP headers, a protocol message header).
    pub max_header: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            connect: Duration::from_secs(3),
            io: Duration::from_secs(5),
            message: Duration::from_secs(15),
            max_response: 4 << 20,
            max_header: 64 << 10,
        }
    }
}

/// Why a bounded operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The deadline passed.
    #[error("timed out")]
    Timeout,
    /// The peer sent more than the cap allows.
    #[error("response larger than {0} bytes")]
    TooLarge(usize),
    /// The peer closed before a complete message.
    #[error("connection closed early")]
    Closed,
    /// The bytes violate the protocol.
    #[error("malformed: {0}")]
    Malformed(String),
    /// Any other socket error.
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// A connection whose every operation is bounded.
pub struct Conn {
    stream: Box<dyn Stream>,
    limits: Limits,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
    /// Bytes read in total on this connection.
    read_total: usize,
    /// Hard cap on bytes read over the connection's life.
    read_cap: usize,
}

impl Conn {
    /// Connects within `limits.connect`.
    pub async fn connect(addr: SocketAddr, limits: Limits) -> Result<Conn, NetError> {
        Self::connect_with(addr, limits, None).await
    }

    /// Connects, and with `tls` set performs a TLS handshake (any certificate accepted;
    /// the name is sent as SNI when it is a host name) within `limits.connect + limits.io`.
    pub async fn connect_with(
        addr: SocketAddr,
        limits: Limits,
        tls: Option<&str>,
    ) -> Result<Conn, NetError> {
        let deadline = Instant::now() + limits.connect;
        let tcp = timeout_at(deadline, TcpStream::connect(addr))
            .await
            .map_err(|_| NetError::Timeout)??;
        note(|c| c.connections += 1);
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Stream> = match tls {
            None => Box::new(tcp),
            Some(name) => {
                let server_name = rustls::pki_types::ServerName::try_from(name.to_string())
                    .unwrap_or_else(|_| rustls::pki_types::ServerName::from(addr.ip()));
                let connector = tokio_rustls::TlsConnector::from(tls_config());
                let deadline = Instant::now() + limits.connect + limits.io;
                let tls = timeout_at(deadline, connector.connect(server_name, tcp))
                    .await
                    .map_err(|_| {
                        // A handshake that never completes is a stall before any payload.
                        note(|c| c.silent += 1);
                        NetError::Timeout
                    })?
                    .map_err(|e| NetError::Malformed(format!("TLS handshake: {e}")))?;
                Box::new(tls)
            }
        };
        Ok(Conn {
            stream,
            limits,
            buf: Vec::new(),
            read_total: 0,
            read_cap: limits.max_response + limits.max_header,
        })
    }

    /// Bytes read on this connection so far.
    pub fn bytes_read(&self) -> usize {
        self.read_total
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Raises or lowers the lifetime read cap (e.g. for a probe that reads several messages).
    pub fn set_read_cap(&mut self, cap: usize) {
        self.read_cap = cap;
    }

    /// Writes all of `data` within the io timeout.
    pub async fn write_all(&mut self, data: &[u8]) -> Result<(), NetError> {
        let deadline = Instant::now() + self.limits.io;
        timeout_at(deadline, self.stream.write_all(data))
            .await
            .map_err(|_| NetError::Timeout)??;
        Ok(())
    }

    /// Reads more bytes into the buffer before `deadline` (and within the io timeout);
    /// `Ok(0)` at end of stream.
    async fn fill(&mut self, deadline: Instant) -> Result<usize, NetError> {
        if self.read_total >= self.read_cap {
            return Err(NetError::TooLarge(self.read_cap));
        }
        let want = (self.read_cap - self.read_total).min(64 << 10);
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let deadline = deadline.min(Instant::now() + self.limits.io);
        let r = timeout_at(deadline, self.stream.read(&mut self.buf[old..])).await;
        let n = match r {
            Err(_) => {
                self.buf.truncate(old);
                let spoke = self.read_total > 0;
                note(|c| if spoke { c.stalls += 1 } else { c.silent += 1 });
                return Err(NetError::Timeout);
            }
            Ok(Err(e)) => {
                self.buf.truncate(old);
                // A close before any byte needs no count: no bytes and no silence says it.
                if self.read_total > 0 {
                    note(|c| c.cut += 1);
                }
                return Err(e.into());
            }
            Ok(Ok(n)) => n,
        };
        if n > 0 {
            let fresh = &self.buf[old..old + n];
            note(|c| {
                c.bytes += n as u64;
                if c.first.is_empty() {
                    c.first = fresh[..n.min(32)].to_vec();
                }
            });
        }
        self.buf.truncate(old + n);
        self.read_total += n;
        Ok(n)
    }

    /// Returns buffered bytes, reading until `parse` says a whole message is there.
    /// `parse` returns `Ok(Some(len))` for a complete message of `len` bytes, `Ok(None)` when
    /// more bytes are needed, or an error for malformed input. The message is removed from
    /// the buffer and returned.
    pub async fn read_message<F>(&mut self, mut parse: F) -> Result<Vec<u8>, NetError>
    where
        F: FnMut(&[u8]) -> Result<Option<usize>, NetError>,
    {
        let deadline = Instant::now() + self.limits.message;
        loop {
            match parse(&self.buf) {
                Ok(Some(n)) => {
                    let rest = self.buf.split_off(n);
                    return Ok(std::mem::replace(&mut self.buf, rest));
                }
                Ok(None) => {}
                Err(e) => {
                    let why = e.to_string();
                    note(|c| c.reject(why));
                    return Err(e);
                }
            }
            let got = match self.fill(deadline).await {
                Err(NetError::TooLarge(cap)) => {
                    // A message that outgrows the connection's cap: for a message reader
                    // that is the peer's doing (a cut body read elsewhere is not).
                    note(|c| c.reject(format!("message over the {cap}-byte cap")));
                    return Err(NetError::TooLarge(cap));
                }
                r => r?,
            };
            if got == 0 {
                if !self.buf.is_empty() {
                    note(|c| c.cut += 1);
                }
                return Err(NetError::Closed);
            }
        }
    }

    /// Reads until end of stream or the cap, returning everything read; `truncated` is set
    /// when the cap stopped it.
    pub async fn read_to_end_capped(&mut self, cap: usize) -> Result<(Vec<u8>, bool), NetError> {
        let old_cap = self.read_cap;
        self.read_cap = self.read_total.saturating_sub(self.buf.len()) + cap;
        let mut truncated = false;
        let deadline = Instant::now() + self.limits.message;
        loop {
            if self.buf.len() >= cap {
                truncated = true;
                self.buf.truncate(cap);
                break;
            }
            match self.fill(deadline).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(NetError::TooLarge(_)) => {
                    truncated = true;
                    break;
                }
                Err(e) => {
                    self.read_cap = old_cap;
                    return Err(e);
                }
            }
        }
        self.read_cap = old_cap;
        Ok((std::mem::take(&mut self.buf), truncated))
    }

    /// Waits up to `wait` for the peer to speak first, returning what it sent (possibly
    /// nothing). Used to spot banners and endpoints that talk before being asked.
    pub async fn peek_banner(&mut self, wait: Duration) -> Result<Vec<u8>, NetError> {
        // The outer wait cancels the read before its own timeout would count as silence.
        let deadline = Instant::now() + wait;
        match timeout_at(deadline, self.fill(deadline + self.limits.io)).await {
            Err(_) => Ok(Vec::new()),
            Ok(Ok(_)) => Ok(self.buf.clone()),
            Ok(Err(e)) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Access;

    fn log(first: &[u8]) -> ContactLog {
        ContactLog {
            connections: 3,
            bytes: first.len() as u64,
            first: first.to_vec(),
            ..ContactLog::default()
        }
    }

    fn verdict(l: &ContactLog) -> Access {
        l.verdict(&Limits::default()).0
    }

    #[test]
    fn silence_stalls_and_cuts_are_told_apart() {
        let mut silent = log(b"");
        silent.silent = 1;
        assert_eq!(verdict(&silent), Access::Unresponsive);
        assert_eq!(verdict(&log(b"")), Access::Unknown);
        let mut drip = log(b"HTTP/1.1 2");
        drip.stalls = 1;
        assert_eq!(verdict(&drip), Access::Unresponsive);
        let mut cut = log(b"HTTP/1.1 200 OK\r\n");
        cut.cut = 1;
        assert_eq!(verdict(&cut), Access::Unknown);
        let never = ContactLog::default();
        assert_eq!(verdict(&never), Access::Unresponsive);
    }

    #[test]
    fn malformed_needs_the_matching_protocol_to_reject() {
        let mut l = log(b"$999999999999\r\n");
        // Rejected by the HTTP probe only: every probe rejects foreign bytes.
        l.rejected
            .push((Service::ClickhouseHttp, "not HTTP".into()));
        assert_eq!(verdict(&l), Access::Unknown);
        l.rejected.push((Service::Redis, "bulk too large".into()));
        let (a, why) = l.verdict(&Limits::default());
        assert_eq!(a, Access::Malformed);
        assert!(
            why.contains("Redis RESP") && why.contains("bulk too large"),
            "{why}"
        );
        // A text service whose reply starts with R or E is not PostgreSQL-like.
        let mut text = log(b"ERROR\r\n");
        text.rejected.push((Service::Postgres, "length".into()));
        assert_eq!(verdict(&text), Access::Unknown);
        let mut pg = log(&[b'R', 0x7f, 0xff, 0xff, 0xff]);
        pg.rejected.push((Service::Postgres, "length".into()));
        assert_eq!(verdict(&pg), Access::Malformed);
    }

    #[test]
    fn escaping_keeps_notes_printable() {
        assert_eq!(escape(b"a`\r\n\x00"), "`a\\x60\\r\\n\\x00`");
    }

    #[tokio::test]
    async fn connections_write_to_the_log_of_their_task_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let _ = s.write_all(b"+PONG\r\n").await;
        });
        let (handle, fut) = with_contact_log(async move {
            set_contact_probe(Service::Redis);
            let mut c = Conn::connect(addr, Limits::default()).await.unwrap();
            c.read_message(|b| Err(NetError::Malformed(format!("{} bytes", b.len()))))
                .await
                .unwrap_err();
            // Nothing was read yet when the parser first ran (an empty buffer).
        });
        fut.await;
        let l = handle.lock().unwrap().clone();
        assert_eq!(l.connections, 1);
        assert_eq!(
            l.rejected,
            vec![(Service::Redis, "malformed: 0 bytes".to_string())]
        );
        // Outside any log: nothing recorded, nothing panics.
        assert_eq!(current_contact_log().connections, 0);
    }
}
