//! Targets: parsing addresses, CIDRs, ranges, host names and `host:port`, port lists and
//! presets, exclusions, and lazy expansion into endpoints.
//!
//! Expansion never materialises a range: a /8 is a pair of integers and a counter, so
//! it costs no memory. Exclusions are merged intervals that the counter jumps over.
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod import;
pub mod permute;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::ops::RangeInclusive;
use std::str::FromStr;
use std::sync::Arc;

/// A target that could not be parsed or resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an address, network, range or host name.
    #[error("`{0}`: not an address, CIDR, range or host name")]
    Syntax(String),
    /// A range whose end is before its start or that mixes families.
    #[error("`{0}`: bad range")]
    Range(String),
    /// A port outside 1-65535 or a malformed port list.
    #[error("`{0}`: bad port")]
    Port(String),
    /// A host name that did not resolve.
    #[error("`{host}`: does not resolve: {message}")]
    Resolve {
        /// Host name.
        host: String,
        /// Resolver message.
        message: String,
    },
    /// Another tool's output that could not be imported (see [`import`]).
    #[error("import: {0}")]
    Import(String),
}

/// One line of target input, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    /// What it names.
    pub kind: SpecKind,
    /// A port given with the target (`host:port`); overrides the port list.
    pub port: Option<u16>,
}

/// The address part of a target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpecKind {
    /// An inclusive range of addresses of one family (a single address, a CIDR, a range).
    Range(IpRange),
    /// A host name, resolved lazily; every address it resolves to is scanned.
    Host(String),
}

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    start: u128,
    end: u128,
    v6: bool,
}

impl IpRange {
    fn single(ip: IpAddr) -> Self {
        let (n, v6) = to_u128(ip);
        IpRange {
            start: n,
            end: n,
            v6,
        }
    }

    /// Number of addresses.
    pub fn len(&self) -> u128 {
        self.end - self.start + 1
    }

    /// Never empty by construction; here for clippy's `len_without_is_empty`.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `ip` is inside.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (n, v6) = to_u128(ip);
        v6 == self.v6 && self.start <= n && n <= self.end
    }
}

fn to_u128(ip: IpAddr) -> (u128, bool) {
    match ip {
        IpAddr::V4(a) => (u32::from(a) as u128, false),
        IpAddr::V6(a) => (u128::from(a), true),
    }
}

fn from_u128(n: u128, v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from(n))
    } else {
        IpAddr::V4(Ipv4Addr::from(n as u32))
    }
}

fn parse_cidr(s: &str) -> Option<IpRange> {
    let (addr, bits) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    let (n, v6) = to_u128(ip);
    let width = if v6 { 128 } else { 32 };
    if bits > width {
        return None;
    }
    let host_bits = width - bits;
    let mask: u128 = if host_bits == 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Some(IpRange {
        start: n & !mask,
        end: (n & !mask) | mask,
        v6,
    })
}

fn parse_range(s: &str) -> Option<Result<IpRange, TargetError>> {
    let (a, b) = s.split_once('-')?;
    let start: IpAddr = a.trim().parse().ok()?;
    // `10.0.0.1-50` is shorthand for `10.0.0.1-10.0.0.50`.
    let end: IpAddr = match b.trim().parse::<IpAddr>() {
        Ok(e) => e,
        Err(_) => match (start, b.trim().parse::<u8>()) {
            (IpAddr::V4(s4), Ok(last)) => {
                let o = s4.octets();
                IpAddr::V4(Ipv4Addr::new(o[0], o[1], o[2], last))
            }
            _ => return None,
        },
    };
    let (x, v6a) = to_u128(start);
    let (y, v6b) = to_u128(end);
    if v6a != v6b || y < x {
        return Some(Err(TargetError::Range(s.to_string())));
    }
    Some(Ok(IpRange {
        start: x,
        end: y,
        v6: v6a,
    }))
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                && !label.starts_with('-')
        })
}

fn parse_port(s: &str, whole: &str) -> Result<u16, TargetError> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(TargetError::Port(whole.to_string())),
    }
}

impl FromStr for TargetSpec {
    type Err = TargetError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim();
        let syntax = || TargetError::Syntax(s.to_string());
        if s.is_empty() {
            return Err(syntax());
        }
        // [v6]:port and [v6]
        if let Some(rest) = s.strip_prefix('[') {
            let (addr, tail) = rest.split_once(']').ok_or_else(syntax)?;
            let ip: Ipv6Addr = addr.parse().map_err(|_| syntax())?;
            let port = match tail.strip_prefix(':') {
                Some(p) => Some(parse_port(p, s)?),
                None if tail.is_empty() => None,
                None => return Err(syntax()),
            };
            return Ok(TargetSpec {
                kind: SpecKind::Range(IpRange::single(IpAddr::V6(ip))),
                port,
            });
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(TargetSpec {
                kind: SpecKind::Range(IpRange::single(ip)),
                port: None,
            });
        }
        if s.contains('/') {
            return parse_cidr(s)
                .map(|r| TargetSpec {
                    kind: SpecKind::Range(r),
                    port: None,
                })
                .ok_or_else(syntax);
        }
        if let Some(r) = parse_range(s) {
            return r.map(|r| TargetSpec {
                kind: SpecKind::Range(r),
                port: None,
            });
        }
        // v4:port or host:port (a bare v6 was handled above)
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, Some(parse_port(p, s)?)),
            Some(_) => return Err(syntax()),
            None => (s, None),
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(TargetSpec {
                kind: SpecKind::Range(IpRange::single(ip)),
                port,
            });
        }
        if valid_host(host) {
            return Ok(TargetSpec {
                kind: SpecKind::Host(host.to_ascii_lowercase()),
                port,
            });
        }
        Err(syntax())
    }
}

/// The ports of the `db` preset: ClickHouse HTTP/HTTPS/native/native-TLS, Redis, PostgreSQL.
pub const DB_PORTS: &[u16] = &[8123, 8443, 9000, 9440, 6379, 5432];

/// A set of ports, kept as sorted, merged ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSet(Vec<RangeInclusive<u16>>);

impl PortSet {
    /// Ports in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().flat_map(|r| r.clone())
    }

    /// Number of ports.
    pub fn len(&self) -> usize {
        self.0.iter().map(|r| r.len()).sum()
    }

    /// True when no port is set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|r| r.contains(&port))
    }

    fn from_ranges(mut v: Vec<RangeInclusive<u16>>) -> Self {
        v.sort_by_key(|r| *r.start());
        let mut out: Vec<RangeInclusive<u16>> = Vec::new();
        for r in v {
            match out.last_mut() {
                Some(last) if *r.start() as u32 <= *last.end() as u32 + 1 => {
                    *last = *last.start()..=(*last.end()).max(*r.end());
                }
                _ => out.push(r),
            }
        }
        PortSet(out)
    }
}

impl FromStr for PortSet {
    type Err = TargetError;

    /// `8123,9000,6000-6100,db`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut v = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part {
                "db" => v.extend(DB_PORTS.iter().map(|&p| p..=p)),
                "-" | "all" => v.push(1..=65535),
                _ => match part.split_once('-') {
                    Some((a, b)) => {
                        let (a, b) = (parse_port(a, s)?, parse_port(b, s)?);
                        if b < a {
                            return Err(TargetError::Port(s.to_string()));
                        }
                        v.push(a..=b);
                    }
                    None => {
                        let p = parse_port(part, s)?;
                        v.push(p..=p);
                    }
                },
            }
        }
        if v.is_empty() {
            return Err(TargetError::Port(s.to_string()));
        }
        Ok(PortSet::from_ranges(v))
    }
}

/// Addresses never to touch, as merged intervals per family.
#[derive(Debug, Clone, Default)]
pub struct Excludes {
    v4: Vec<(u128, u128)>,
    v6: Vec<(u128, u128)>,
}

impl Excludes {
    /// Adds an address, CIDR or range (host names are not accepted: an exclusion must not
    /// depend on a resolver's answer).
    pub fn add(&mut self, s: &str) -> Result<(), TargetError> {
        let spec: TargetSpec = s.parse()?;
        match spec.kind {
            SpecKind::Range(r) => {
                let list = if r.v6 { &mut self.v6 } else { &mut self.v4 };
                list.push((r.start, r.end));
                list.sort_unstable();
                let mut merged: Vec<(u128, u128)> = Vec::with_capacity(list.len());
                for &(a, b) in list.iter() {
                    match merged.last_mut() {
                        Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                        _ => merged.push((a, b)),
                    }
                }
                *list = merged;
                Ok(())
            }
            SpecKind::Host(_) => Err(TargetError::Syntax(s.to_string())),
        }
    }

    /// Whether `ip` is excluded.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (n, v6) = to_u128(ip);
        self.next_allowed(n, v6) != Some(n)
    }

    /// The first address at or after `n` that is not excluded.
    fn next_allowed(&self, n: u128, v6: bool) -> Option<u128> {
        let list = if v6 { &self.v6 } else { &self.v4 };
        let i = list.partition_point(|&(_, b)| b < n);
        match list.get(i) {
            Some(&(a, b)) if a <= n => b.checked_add(1),
            _ => Some(n),
        }
    }
}

/// An address and port to scan, with the host name it came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// Address.
    pub ip: IpAddr,
    /// Port.
    pub port: u16,
    /// The host name given as the target, when there was one.
    pub host: Option<Arc<str>>,
}

impl Endpoint {
    /// As a socket address.
    pub fn socket(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }
}

/// Resolves a host name to its addresses (all of them, both families).
pub trait Resolver {
    /// The addresses of `host`.
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String>;
}

/// The system resolver (getaddrinfo).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let mut v: Vec<IpAddr> = (host, 0)
            .to_socket_addrs()
            .map_err(|e| e.to_string())?
            .map(|a| a.ip())
            .collect();
        v.sort();
        v.dedup();
        Ok(v)
    }
}

/// Lazily expands targets × ports into endpoints in address order, skipping exclusions.
/// The scan walks [`permute::permuted`] instead; this ordered form is the reference the
/// permutation is tested against. Resolution errors
/// are yielded in place so that the caller can count them and go on.
pub fn expand<'a, R: Resolver>(
    specs: impl IntoIterator<Item = TargetSpec> + 'a,
    ports: &'a PortSet,
    excludes: &'a Excludes,
    resolver: &'a R,
) -> impl Iterator<Item = Result<Endpoint, TargetError>> + 'a {
    specs.into_iter().flat_map(move |spec| {
        let (ranges, host, err): (Vec<IpRange>, Option<Arc<str>>, Option<TargetError>) =
            match &spec.kind {
                SpecKind::Range(r) => (vec![*r], None, None),
                SpecKind::Host(h) => match resolver.resolve(h) {
                    Ok(ips) => (
                        ips.into_iter().map(IpRange::single).collect(),
                        Some(h.as_str().into()),
                        None,
                    ),
                    Err(message) => (
                        Vec::new(),
                        None,
                        Some(TargetError::Resolve {
                            host: h.clone(),
                            message,
                        }),
                    ),
                },
            };
        let port = spec.port;
        let addrs = ranges.into_iter().flat_map(move |r| AddrIter {
            next: Some(r.start),
            end: r.end,
            v6: r.v6,
            excludes,
        });
        let eps = addrs.flat_map(move |ip| {
            let host = host.clone();
            let list: Box<dyn Iterator<Item = u16> + Send + 'a> = match port {
                Some(p) => Box::new(std::iter::once(p)),
                None => Box::new(ports.iter()),
            };
            list.map(move |port| {
                Ok(Endpoint {
                    ip,
                    port,
                    host: host.clone(),
                })
            })
        });
        err.map(Err).into_iter().chain(eps)
    })
}

struct AddrIter<'a> {
    next: Option<u128>,
    end: u128,
    v6: bool,
    excludes: &'a Excludes,
}

impl Iterator for AddrIter<'_> {
    type Item = IpAddr;
    fn next(&mut self) -> Option<IpAddr> {
        let n = self.excludes.next_allowed(self.next?, self.v6)?;
        if n > self.end {
            self.next = None;
            return None;
        }
        self.next = n.checked_add(1);
        Some(from_u128(n, self.v6))
    }
}

/// How many endpoints `specs` × `ports` expand to, before exclusions; a host name counts
/// as one address. For progress displays; saturates instead of overflowing.
pub fn estimate_endpoints(specs: &[TargetSpec], ports: &PortSet) -> u128 {
    specs
        .iter()
        .map(|s| {
            let addrs = match &s.kind {
                SpecKind::Range(r) => r.len(),
                SpecKind::Host(_) => 1,
            };
            let per = if s.port.is_some() {
                1
            } else {
                ports.len() as u128
            };
            addrs.saturating_mul(per)
        })
        .fold(0u128, u128::saturating_add)
}

/// Reads target lines from text: one target per line or separated by commas or spaces;
/// `#` starts a comment.
pub fn parse_list(text: &str) -> impl Iterator<Item = Result<TargetSpec, TargetError>> + '_ {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .flat_map(|l| l.split([',', ' ', '\t']))
        .filter(|t| !t.trim().is_empty())
        .map(str::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake;
    impl Resolver for Fake {
        fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
            match host {
                "db.test" => Ok(vec!["127.0.42.1".parse().unwrap(), "::1".parse().unwrap()]),
                _ => Err("no such host".into()),
            }
        }
    }

    fn eps(targets: &[&str], ports: &str, ex: &[&str]) -> Vec<Result<Endpoint, TargetError>> {
        let ports: PortSet = ports.parse().unwrap();
        let mut excludes = Excludes::default();
        for e in ex {
            excludes.add(e).unwrap();
        }
        let specs: Vec<TargetSpec> = targets.iter().map(|t| t.parse().unwrap()).collect();
        expand(specs, &ports, &excludes, &Fake).collect()
    }

    fn addrs(v: &[Result<Endpoint, TargetError>]) -> Vec<String> {
        v.iter()
            .map(|e| {
                let e = e.as_ref().unwrap();
                SocketAddr::new(e.ip, e.port).to_string()
            })
            .collect()
    }

    #[test]
    fn parses_every_target_form() {
        let p = |s: &str| s.parse::<TargetSpec>();
        assert!(matches!(p("10.0.0.1").unwrap().kind, SpecKind::Range(r) if r.len() == 1));
        assert!(matches!(p("10.0.0.0/24").unwrap().kind, SpecKind::Range(r) if r.len() == 256));
        assert!(
            matches!(p("10.0.0.1-10.0.0.50").unwrap().kind, SpecKind::Range(r) if r.len() == 50)
        );
        assert!(matches!(p("10.0.0.1-50").unwrap().kind, SpecKind::Range(r) if r.len() == 50));
        assert!(matches!(p("2001:db8::/120").unwrap().kind, SpecKind::Range(r) if r.len() == 256));
        assert_eq!(p("10.0.0.1:8123").unwrap().port, Some(8123));
        assert_eq!(p("[::1]:9000").unwrap().port, Some(9000));
        assert_eq!(
            p("DB.Example:5432").unwrap(),
            TargetSpec {
                kind: SpecKind::Host("db.example".into()),
                port: Some(5432)
            }
        );
        assert!(p("10.0.0.50-10.0.0.1").is_err());
        assert!(p("10.0.0.1:0").is_err());
        assert!(p("bad host!").is_err());
        assert!(p("10.0.0.0/33").is_err());
    }

    #[test]
    fn ports_and_presets() {
        let p: PortSet = "9000,8123,6000-6002,db".parse().unwrap();
        assert_eq!(
            p.iter().collect::<Vec<_>>(),
            vec![5432, 6000, 6001, 6002, 6379, 8123, 8443, 9000, 9440]
        );
        assert!("70000".parse::<PortSet>().is_err());
        assert!("9-1".parse::<PortSet>().is_err());
    }

    #[test]
    fn expansion_respects_ports_excludes_and_host_ports() {
        let v = eps(
            &["127.0.42.0/30", "127.0.42.9:18123"],
            "8123,9000",
            &["127.0.42.1-127.0.42.2"],
        );
        assert_eq!(
            addrs(&v),
            vec![
                "127.0.42.0:8123",
                "127.0.42.0:9000",
                "127.0.42.3:8123",
                "127.0.42.3:9000",
                "127.0.42.9:18123"
            ]
        );
    }

    #[test]
    fn host_names_scan_every_address_and_keep_the_name() {
        let v = eps(&["db.test", "nope.test"], "6379", &[]);
        assert_eq!(v.len(), 3);
        let ok: Vec<_> = v.iter().filter_map(|e| e.as_ref().ok()).collect();
        assert_eq!(ok.len(), 2);
        assert!(ok.iter().all(|e| e.host.as_deref() == Some("db.test")));
        assert!(v
            .iter()
            .any(|e| matches!(e, Err(TargetError::Resolve { .. }))));
    }

    #[test]
    fn a_slash_8_is_lazy() {
        let ports: PortSet = "5432".parse().unwrap();
        let ex = Excludes::default();
        let spec: TargetSpec = "10.0.0.0/8".parse().unwrap();
        let mut it = expand(vec![spec], &ports, &ex, &Fake);
        // Taking the last few without collecting the rest proves no Vec was built.
        let first = it.next().unwrap().unwrap();
        assert_eq!(first.ip.to_string(), "10.0.0.0");
        assert_eq!(it.count(), (1 << 24) - 1);
    }

    #[test]
    fn excluding_everything_yields_nothing() {
        assert!(eps(&["127.0.42.0/24"], "1", &["127.0.0.0/8"]).is_empty());
        let v = eps(&["255.255.255.254/31"], "1", &["255.255.255.255"]);
        assert_eq!(addrs(&v), vec!["255.255.255.254:1"]);
    }

    #[test]
    fn estimates_count_ports_and_host_ports() {
        let ports: PortSet = "8123,9000".parse().unwrap();
        let specs: Vec<TargetSpec> = ["10.0.0.0/24", "db.test", "10.0.0.1:5432"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        assert_eq!(estimate_endpoints(&specs, &ports), 256 * 2 + 2 + 1);
    }

    #[test]
    fn lists_allow_comments_and_separators() {
        let v: Vec<_> = parse_list("127.0.0.1, 127.0.0.2 # two\n\n[::1]:9000\n").collect();
        assert_eq!(v.len(), 3);
        assert!(v.iter().all(Result::is_ok));
    }
}
