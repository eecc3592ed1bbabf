//! Bounded network I/O: every connect, read and write has a deadline, and every read a byte cap.
//!
//! Probes never touch a raw socket; they go through [`Conn`], so a tarpit, a slow
//! drip or an endless stream ends at the deadline or the cap, never later.

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

/// Time and size limits for one endpoint.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// TCP connect.
    pub connect: Duration,
    /// Any single read or write.
    pub io: Duration,
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
                    .map_err(|_| NetError::Timeout)?
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

    /// Reads more bytes into the buffer; `Ok(0)` at end of stream.
    async fn fill(&mut self) -> Result<usize, NetError> {
        if self.read_total >= self.read_cap {
            return Err(NetError::TooLarge(self.read_cap));
        }
        let want = (self.read_cap - self.read_total).min(64 << 10);
        let old = self.buf.len();
        self.buf.resize(old + want, 0);
        let deadline = Instant::now() + self.limits.io;
        let r = timeout_at(deadline, self.stream.read(&mut self.buf[old..])).await;
        let n = match r {
            Err(_) => {
                self.buf.truncate(old);
                return Err(NetError::Timeout);
            }
            Ok(Err(e)) => {
                self.buf.truncate(old);
                return Err(e.into());
            }
            Ok(Ok(n)) => n,
        };
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
        loop {
            if let Some(n) = parse(&self.buf)? {
                let rest = self.buf.split_off(n);
                return Ok(std::mem::replace(&mut self.buf, rest));
            }
            if self.fill().await? == 0 {
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
        loop {
            if self.buf.len() >= cap {
                truncated = true;
                self.buf.truncate(cap);
                break;
            }
            match self.fill().await {
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
        let deadline = Instant::now() + wait;
        match timeout_at(deadline, self.fill()).await {
            Err(_) => Ok(Vec::new()),
            Ok(Ok(_)) => Ok(self.buf.clone()),
            Ok(Err(e)) => Err(e),
        }
    }
}
