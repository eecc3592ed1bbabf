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
            Ok(Ok(stream)) => {
                if !really_open(&stream) {
                    return PortState::Closed;
                }
                drop(stream);
                // Two of the scan's own sockets can connect to each other (TCP simultaneous
                // open: A on port x dials y while B on port y dials x), which looks like two
                // open ports in the ephemeral range of the scanner's own address. It never
                // happens twice to one port, and a listener answers every time: ask again.
                if ephemeral().contains(&addr.port()) {
                    return match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                        Ok(Ok(again)) if really_open(&again) => PortState::Open,
                        _ => PortState::Closed,
                    };
                }
                return PortState::Open;
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                return PortState::Closed
            }
            Ok(Err(_)) | Err(_) => continue,
        }
    }
    PortState::Filtered
}

/// A connected socket whose peer is not itself: a local port that is also the ephemeral
/// source port connects the socket to itself, and nothing listens there.
fn really_open(stream: &TcpStream) -> bool {
    stream.local_addr().ok() != stream.peer_addr().ok()
}

/// The kernel's ephemeral port range (Linux's default when it cannot be read).
fn ephemeral() -> std::ops::RangeInclusive<u16> {
    static RANGE: std::sync::OnceLock<std::ops::RangeInclusive<u16>> = std::sync::OnceLock::new();
    RANGE
        .get_or_init(|| {
            let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
                .unwrap_or_default();
            let mut it = text
                .split_whitespace()
                .filter_map(|p| p.parse::<u16>().ok());
            match (it.next(), it.next()) {
                (Some(a), Some(b)) if a <= b => a..=b,
                _ => 32768..=60999,
            }
        })
        .clone()
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
