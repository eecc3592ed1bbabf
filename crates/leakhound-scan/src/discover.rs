//! TCP connect discovery: bounded concurrency sized from RLIMIT_NOFILE, timeouts, retries.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// What a connect attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortState {
    /// The handshake completed.
    Open,
    /// Refused (RST).
    Closed,
    /// No answer within the timeout, after the retries.
    Filtered,
}

/// Tries to connect, retrying only attempts that got no answer.
pub async fn connect_scan(addr: SocketAddr, timeout: Duration, retries: u32) -> PortState {
    for _ in 0..=retries {
        match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            // Scanning a local port that is also the ephemeral source port can connect the
            // socket to itself (TCP simultaneous open): nothing listens there.
            Ok(Ok(stream)) if stream.local_addr().ok() == stream.peer_addr().ok() => {
                return PortState::Closed
            }
            Ok(Ok(_stream)) => return PortState::Open,
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return PortState::Closed
            }
            Ok(Err(_)) | Err(_) => continue,
        }
    }
    PortState::Filtered
}

/// Raises the soft open-files limit to the hard limit and returns the number of sockets
/// the scan may hold at once, with a warning when that is low.
pub fn fd_budget(requested: Option<usize>) -> (usize, Option<String>) {
    // SAFETY: getrlimit/setrlimit write to a local struct; no other invariants.
    let (soft, hard) = unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            (1024u64, 1024u64)
        } else {
            if r.rlim_cur < r.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: r.rlim_max,
                    rlim_max: r.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    r.rlim_cur = r.rlim_max;
                }
            }
            (r.rlim_cur, r.rlim_max)
        }
    };
    // Keep headroom for the store, logs and probe connections.
    let budget = soft.saturating_sub(128).clamp(16, 5000) as usize;
    let warning = (soft < 1024).then(|| {
        format!(
            "open-files limit is {soft} (hard {hard}); discovery concurrency reduced to {budget}"
        )
    });
    (requested.map_or(budget, |r| r.min(budget)), warning)
}
