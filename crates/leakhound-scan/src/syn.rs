//! SYN discovery (Linux, IPv4, needs CAP_NET_RAW): half-open probes sent from a raw socket
//! pinned to one interface, replies matched against a stateless cookie, as zmap and masscan do.
//!
//! No state is kept per probe: the sequence number of each SYN is a keyed hash of its
//! destination, so a SYN-ACK proves itself by acknowledging that hash plus one. Memory is
//! the set of open ports found, whatever the size of the space.

use leakhound_targets::Endpoint;
use std::collections::HashSet;
use std::hash::BuildHasher;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How a SYN scan runs.
#[derive(Debug, Clone)]
pub struct SynOptions {
    /// The only interface packets leave by (SO_BINDTODEVICE): a SYN scan never picks a route
    /// by itself.
    pub interface: String,
    /// Packets per second (None: as fast as the socket takes them).
    pub rate: Option<f64>,
    /// Extra passes over the whole space, for probes or replies that were lost.
    pub retries: u32,
    /// Longest wait for replies after the last SYN.
    pub wait: Duration,
}

/// What a SYN scan found, beside the open ports.
#[derive(Debug, Default, Clone, Copy)]
pub struct SynStats {
    /// SYNs sent (every pass).
    pub sent: u64,
    /// Endpoints skipped because SYN mode speaks IPv4 only.
    pub skipped_v6: u64,
}

/// The keyed hash a probe's sequence number carries.
#[derive(Clone)]
struct Cookie(std::collections::hash_map::RandomState);

impl Cookie {
    fn of(&self, ip: Ipv4Addr, port: u16, sport: u16) -> u32 {
        self.0.hash_one((ip, port, sport)) as u32
    }
}

/// A raw socket, closed on drop.
struct Raw(libc::c_int);

impl Drop for Raw {
    fn drop(&mut self) {
        // SAFETY: the descriptor is owned by this value and closed once.
        unsafe { libc::close(self.0) };
    }
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn setsockopt<T>(fd: libc::c_int, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a live value of the size passed.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            v as *const T as *const libc::c_void,
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })
    .map(|_| ())
}

/// A raw IPv4/TCP socket bound to `interface`.
fn raw_socket(interface: &str, hdrincl: bool) -> io::Result<Raw> {
    // SAFETY: plain socket(2) call.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_TCP) };
    let fd =
        match check(fd) {
            Ok(fd) => Raw(fd),
            Err(e) if e.raw_os_error() == Some(libc::EPERM) => return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "SYN mode needs CAP_NET_RAW (run as root, or `setcap cap_net_raw+ep` the binary)",
            )),
            Err(e) => return Err(e),
        };
    let name = std::ffi::CString::new(interface)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: the name buffer outlives the call and its length is passed.
    check(unsafe {
        libc::setsockopt(
            fd.0,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            bytes.as_ptr() as *const libc::c_void,
            bytes.len() as libc::socklen_t,
        )
    })
    .map_err(|e| io::Error::new(e.kind(), format!("interface {interface}: {e}")))?;
    if hdrincl {
        setsockopt(fd.0, libc::IPPROTO_IP, libc::IP_HDRINCL, &1i32)?;
    } else {
        // Replies arrive in bursts; a deep buffer keeps them until the reader drains it.
        let size = 64i32 << 20;
        if setsockopt(fd.0, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size).is_err() {
            setsockopt(fd.0, libc::SOL_SOCKET, libc::SO_RCVBUF, &size)?;
        }
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 50_000,
        };
        setsockopt(fd.0, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)?;
    }
    Ok(fd)
}

/// The source address the kernel would use towards `dst` on `interface` (a UDP connect
/// picks a route and sends nothing).
fn source_for(dst: Ipv4Addr, interface: &str) -> io::Result<Ipv4Addr> {
    let s = UdpSocket::bind("0.0.0.0:0")?;
    {
        use std::os::fd::AsRawFd;
        let name = std::ffi::CString::new(interface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "bad interface name"))?;
        let bytes = name.as_bytes_with_nul();
        // SAFETY: as in raw_socket.
        check(unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_BINDTODEVICE,
                bytes.as_ptr() as *const libc::c_void,
                bytes.len() as libc::socklen_t,
            )
        })?;
    }
    s.connect(SocketAddr::new(IpAddr::V4(dst), 9))?;
    match s.local_addr()?.ip() {
        IpAddr::V4(ip) => Ok(ip),
        IpAddr::V6(_) => Err(io::Error::other("no IPv4 source address")),
    }
}

fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for c in &mut chunks {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An IPv4 SYN with an MSS option; the kernel fills the IP checksum.
fn syn_packet(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, seq: u32) -> [u8; 44] {
    let mut p = [0u8; 44];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&44u16.to_be_bytes());
    p[8] = 64;
    p[9] = libc::IPPROTO_TCP as u8;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let t = &mut p[20..];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&seq.to_be_bytes());
    t[12] = 6 << 4; // 24-byte header
    t[13] = 0x02; // SYN
    t[14..16].copy_from_slice(&1024u16.to_be_bytes());
    t[20..24].copy_from_slice(&[2, 4, 0x05, 0xb4]); // MSS 1460
    let mut pseudo = [0u8; 12];
    pseudo[0..4].copy_from_slice(&src.octets());
    pseudo[4..8].copy_from_slice(&dst.octets());
    pseudo[9] = libc::IPPROTO_TCP as u8;
    pseudo[10..12].copy_from_slice(&24u16.to_be_bytes());
    let sum = checksum(&[&pseudo, &p[20..]]);
    p[36..38].copy_from_slice(&sum.to_be_bytes());
    p
}

/// A reply to one of our probes: the endpoint and whether it is open (SYN-ACK) or closed
/// (RST). `None` for anything else, including our own SYNs seen on loopback.
fn parse_reply(b: &[u8], sport: u16, cookie: &Cookie) -> Option<(Ipv4Addr, u16, bool)> {
    if b.len() < 20 || b[0] >> 4 != 4 || b[9] != libc::IPPROTO_TCP as u8 {
        return None;
    }
    let ihl = usize::from(b[0] & 0x0f) * 4;
    let t = b.get(ihl..ihl + 20)?;
    let src = Ipv4Addr::new(b[12], b[13], b[14], b[15]);
    let from_port = u16::from_be_bytes([t[0], t[1]]);
    if u16::from_be_bytes([t[2], t[3]]) != sport {
        return None;
    }
    let ack = u32::from_be_bytes([t[8], t[9], t[10], t[11]]);
    if ack != cookie.of(src, from_port, sport).wrapping_add(1) {
        return None;
    }
    let flags = t[13];
    if flags & 0x12 == 0x12 {
        Some((src, from_port, true))
    } else if flags & 0x04 != 0 {
        Some((src, from_port, false))
    } else {
        None
    }
}

/// Sends one SYN to every endpoint `endpoints()` yields (once per pass), and returns the
/// endpoints that answered SYN-ACK. `sent` counts probes as they leave (for progress).
pub fn scan<I, F>(
    endpoints: F,
    opts: &SynOptions,
    sent_counter: &AtomicU64,
) -> io::Result<(Vec<Endpoint>, SynStats)>
where
    F: Fn() -> I,
    I: Iterator<Item = Endpoint>,
{
    let tx = raw_socket(&opts.interface, true)?;
    let rx = raw_socket(&opts.interface, false)?;
    let cookie = Cookie(std::collections::hash_map::RandomState::new());
    // One source port per scan, from the ephemeral range's top, where the kernel's own
    // connections are least likely to sit.
    let sport = 61000 + (cookie.of(Ipv4Addr::UNSPECIFIED, 0, 0) % 4000) as u16;

    let stop = Arc::new(AtomicBool::new(false));
    // (first valid reply, latest valid reply): the first gives a round-trip estimate
    // (an upper bound: it includes the reader's scheduling), the latest tells when the line
    // has gone quiet.
    let replies: Arc<Mutex<(Option<Instant>, Instant)>> =
        Arc::new(Mutex::new((None, Instant::now())));
    let reader = {
        let (stop, replies, cookie) = (stop.clone(), replies.clone(), cookie.clone());
        let fd = rx.0;
        // The reader owns the open set and hands it back when it is stopped.
        std::thread::spawn(move || {
            let mut found: HashSet<(Ipv4Addr, u16)> = HashSet::new();
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                // SAFETY: buf is writable for its length.
                let n =
                    unsafe { libc::recv(fd, buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
                if n <= 0 {
                    continue;
                }
                if let Some((ip, port, open)) = parse_reply(&buf[..n as usize], sport, &cookie) {
                    let now = Instant::now();
                    let mut r = replies.lock().unwrap();
                    r.0.get_or_insert(now);
                    r.1 = now;
                    if open {
                        found.insert((ip, port));
                    }
                }
            }
            found
        })
    };

    let mut stats = SynStats::default();
    let mut hosts: std::collections::HashMap<(Ipv4Addr, u16), Option<std::sync::Arc<str>>> =
        Default::default();
    let mut src_cache: Option<(Ipv4Addr, Ipv4Addr)> = None;
    let started = Instant::now();
    let interval = opts.rate.filter(|r| *r > 0.0).map(|r| 1.0 / r);
    let mut n: u64 = 0;
    let result = (|| -> io::Result<()> {
        for _pass in 0..=opts.retries {
            for ep in endpoints() {
                let IpAddr::V4(dst) = ep.ip else {
                    stats.skipped_v6 += 1;
                    continue;
                };
                if let Some(h) = &ep.host {
                    hosts
                        .entry((dst, ep.port))
                        .or_insert_with(|| Some(h.clone()));
                }
                let src = match src_cache {
                    Some((d, s)) if d == dst => s,
                    _ => {
                        let s = source_for(dst, &opts.interface)?;
                        src_cache = Some((dst, s));
                        s
                    }
                };
                if let Some(iv) = interval {
                    let due = started + Duration::from_secs_f64(iv * n as f64);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                let pkt = syn_packet(src, dst, sport, ep.port, cookie.of(dst, ep.port, sport));
                let to = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: 0,
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(dst.octets()),
                    },
                    sin_zero: [0; 8],
                };
                let give_up = Instant::now() + Duration::from_secs(5);
                loop {
                    // SAFETY: the packet and address live across the call.
                    let r = unsafe {
                        libc::sendto(
                            tx.0,
                            pkt.as_ptr() as *const libc::c_void,
                            pkt.len(),
                            0,
                            &to as *const libc::sockaddr_in as *const libc::sockaddr,
                            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                        )
                    };
                    if r >= 0 {
                        break;
                    }
                    let e = io::Error::last_os_error();
                    // A full device queue: give it a moment rather than drop the probe.
                    if e.raw_os_error() == Some(libc::ENOBUFS) && Instant::now() < give_up {
                        std::thread::sleep(Duration::from_micros(200));
                        continue;
                    }
                    return Err(e);
                }
                n += 1;
                stats.sent += 1;
                sent_counter.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(())
    })();
    // Replies still in flight: wait until the line has been quiet for four round trips
    // (estimated from the first reply, at least 50 ms), never longer than `wait`; with no
    // reply at all, the whole `wait`.
    let sent_at = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let (first, last) = *replies.lock().unwrap();
        let waited = sent_at.elapsed();
        let quiet = first.map(|f| {
            (f.saturating_duration_since(started) * 4 + Duration::from_millis(20))
                .clamp(Duration::from_millis(50), opts.wait)
        });
        let done = match quiet {
            Some(q) => last.elapsed() >= q && waited >= q,
            None => false,
        };
        if done || waited >= opts.wait {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let open = reader.join().unwrap_or_default();
    result?;
    let mut open: Vec<(Ipv4Addr, u16)> = open.into_iter().collect();
    open.sort();
    let endpoints = open
        .into_iter()
        .map(|(ip, port)| Endpoint {
            ip: IpAddr::V4(ip),
            port,
            host: hosts.get(&(ip, port)).cloned().flatten(),
        })
        .collect();
    Ok((endpoints, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_syn_packet_has_valid_checksums_and_the_cookie() {
        let (src, dst) = (Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(127, 0, 0, 2));
        let p = syn_packet(src, dst, 61000, 8123, 0xdead_beef);
        // A correct TCP checksum sums (with the pseudo-header) to zero.
        let mut pseudo = [0u8; 12];
        pseudo[0..4].copy_from_slice(&src.octets());
        pseudo[4..8].copy_from_slice(&dst.octets());
        pseudo[9] = 6;
        pseudo[10..12].copy_from_slice(&24u16.to_be_bytes());
        assert_eq!(checksum(&[&pseudo, &p[20..]]), 0);
        assert_eq!(
            u32::from_be_bytes([p[24], p[25], p[26], p[27]]),
            0xdead_beef
        );
        assert_eq!(p[33], 0x02);
    }

    fn reply(src: Ipv4Addr, from: u16, to: u16, ack: u32, flags: u8) -> Vec<u8> {
        let mut b = vec![0u8; 40];
        b[0] = 0x45;
        b[9] = 6;
        b[12..16].copy_from_slice(&src.octets());
        b[20..22].copy_from_slice(&from.to_be_bytes());
        b[22..24].copy_from_slice(&to.to_be_bytes());
        b[28..32].copy_from_slice(&ack.to_be_bytes());
        b[33] = flags;
        b
    }

    #[test]
    fn only_replies_carrying_the_cookie_count() {
        let c = Cookie(Default::default());
        let ip = Ipv4Addr::new(10, 1, 2, 3);
        let good = c.of(ip, 443, 61001).wrapping_add(1);
        assert_eq!(
            parse_reply(&reply(ip, 443, 61001, good, 0x12), 61001, &c),
            Some((ip, 443, true))
        );
        assert_eq!(
            parse_reply(&reply(ip, 443, 61001, good, 0x14), 61001, &c),
            Some((ip, 443, false))
        );
        // Wrong cookie, wrong port, wrong destination port, our own SYN: ignored.
        assert_eq!(
            parse_reply(&reply(ip, 443, 61001, good ^ 1, 0x12), 61001, &c),
            None
        );
        assert_eq!(
            parse_reply(&reply(ip, 444, 61001, good, 0x12), 61001, &c),
            None
        );
        assert_eq!(
            parse_reply(&reply(ip, 443, 61002, good, 0x12), 61001, &c),
            None
        );
        assert_eq!(
            parse_reply(&reply(ip, 443, 61001, good, 0x02), 61001, &c),
            None
        );
        assert_eq!(parse_reply(&[0x45; 10], 61001, &c), None);
    }
}
