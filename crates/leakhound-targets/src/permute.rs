//! A random permutation of the (address × port) space, as zmap and masscan walk it: load
//! spreads across networks, `--seed` makes the order repeatable, and `--shard K/N` splits
//! the space into disjoint parts whose union is all of it. State is a few integers, so a
//! /8 costs no memory; exclusions are applied to each index, inside the permutation.

use crate::{from_u128, Endpoint, Excludes, IpRange, PortSet, TargetError, TargetSpec};
use std::sync::Arc;

/// A bijection on `[0, n)`: a balanced Feistel network on the smallest even power of two
/// ≥ n, with cycle-walking back into range.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u128,
    half_bits: u32,
    keys: [u64; 4],
}

fn mix(mut x: u64) -> u64 {
    // splitmix64 finaliser: cheap and well mixed.
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Permutation {
    /// A permutation of `[0, n)` chosen by `seed`.
    pub fn new(n: u128, seed: u64) -> Self {
        let bits = (128 - n.max(2).saturating_sub(1).leading_zeros()).max(2);
        let half_bits = bits.div_ceil(2);
        let mut s = seed;
        let mut keys = [0u64; 4];
        for k in &mut keys {
            s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            *k = mix(s);
        }
        Permutation { n, half_bits, keys }
    }

    fn feistel(&self, x: u128) -> u128 {
        let mask = (1u128 << self.half_bits) - 1;
        let (mut l, mut r) = (x >> self.half_bits, x & mask);
        for k in self.keys {
            let f = u128::from(mix((r as u64) ^ k ^ ((r >> 64) as u64).rotate_left(17))) & mask;
            (l, r) = (r, l ^ f);
        }
        (l << self.half_bits) | r
    }

    /// The image of `i` (`i < n`).
    pub fn apply(&self, i: u128) -> u128 {
        let mut x = self.feistel(i);
        // The network permutes [0, 4^half_bits); walking the cycle lands back in [0, n)
        // after fewer than four steps on average.
        while x >= self.n {
            x = self.feistel(x);
        }
        x
    }

    /// Size of the domain.
    pub fn len(&self) -> u128 {
        self.n
    }

    /// True for an empty domain.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// Which part of the space this process scans: shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 0-based index.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = TargetError;

    /// `K/N`, 1-based as on the command line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TargetError::Syntax(format!("shard {s}: expected K/N with 1 <= K <= N"));
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (k, n): (u64, u64) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if n == 0 || k == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard {
            index: k - 1,
            count: n,
        })
    }
}

/// One block of the space: a range of addresses with its ports.
#[derive(Debug, Clone)]
struct Block {
    range: IpRange,
    ports: Arc<[u16]>,
    host: Option<Arc<str>>,
    /// Endpoints in this block (addresses × ports).
    size: u128,
}

/// Endpoints of `specs` × `ports` in a seeded random order, restricted to one shard, with
/// exclusions applied. Host names are resolved first (they are few); ranges stay lazy.
pub fn permuted<R: crate::Resolver>(
    specs: &[TargetSpec],
    ports: &PortSet,
    excludes: &Excludes,
    resolver: &R,
    seed: u64,
    shard: Shard,
) -> (
    Vec<TargetError>,
    impl Iterator<Item = Endpoint> + Send + 'static,
) {
    let all_ports: Arc<[u16]> = ports.iter().collect::<Vec<_>>().into();
    let mut errors = Vec::new();
    let mut blocks: Vec<Block> = Vec::new();
    for spec in specs {
        let port_list: Arc<[u16]> = match spec.port {
            Some(p) => vec![p].into(),
            None => all_ports.clone(),
        };
        let (ranges, host) = match &spec.kind {
            crate::SpecKind::Range(r) => (vec![*r], None),
            crate::SpecKind::Host(h) => match resolver.resolve(h) {
                Ok(ips) => (
                    ips.into_iter().map(IpRange::single).collect(),
                    Some(Arc::<str>::from(h.as_str())),
                ),
                Err(message) => {
                    errors.push(TargetError::Resolve {
                        host: h.clone(),
                        message,
                    });
                    continue;
                }
            },
        };
        for range in ranges {
            let size = range.len().saturating_mul(port_list.len() as u128);
            if size > 0 {
                blocks.push(Block {
                    range,
                    ports: port_list.clone(),
                    host: host.clone(),
                    size,
                });
            }
        }
    }
    // Cumulative block starts, for mapping an index to its block by binary search.
    let mut starts = Vec::with_capacity(blocks.len());
    let mut total: u128 = 0;
    for b in &blocks {
        starts.push(total);
        total = total.saturating_add(b.size);
    }
    let perm = Permutation::new(total, seed);
    let excludes = excludes.clone();
    let mut position = u128::from(shard.index);
    let step = u128::from(shard.count);
    let iter = std::iter::from_fn(move || loop {
        if position >= total {
            return None;
        }
        let idx = perm.apply(position);
        position += step;
        let b = starts.partition_point(|&s| s <= idx) - 1;
        let block = &blocks[b];
        let offset = idx - starts[b];
        let nports = block.ports.len() as u128;
        let addr = from_u128(block.range.start + offset / nports, block.range.v6);
        if excludes.contains(addr) {
            continue;
        }
        return Some(Endpoint {
            ip: addr,
            port: block.ports[(offset % nports) as usize],
            host: block.host.clone(),
        });
    });
    (errors, iter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    struct NoDns;
    impl crate::Resolver for NoDns {
        fn resolve(&self, _: &str) -> Result<Vec<std::net::IpAddr>, String> {
            Err("no resolver in tests".into())
        }
    }

    fn all(spec: &str, ports: &str, ex: &[&str], seed: u64, shard: Shard) -> Vec<String> {
        let specs: Vec<TargetSpec> = crate::parse_list(spec).map(Result::unwrap).collect();
        let ports: PortSet = ports.parse().unwrap();
        let mut excludes = Excludes::default();
        for e in ex {
            excludes.add(e).unwrap();
        }
        let (_, it) = permuted(&specs, &ports, &excludes, &NoDns, seed, shard);
        it.map(|e| e.socket().to_string()).collect()
    }

    const WHOLE: Shard = Shard { index: 0, count: 1 };

    #[test]
    fn every_index_is_visited_exactly_once() {
        for n in [1u128, 2, 3, 5, 17, 255, 256, 1000, 4097] {
            let p = Permutation::new(n, 7);
            let seen: HashSet<u128> = (0..n).map(|i| p.apply(i)).collect();
            assert_eq!(seen.len() as u128, n, "n = {n}");
            assert!(seen.iter().all(|&x| x < n));
        }
    }

    #[test]
    fn the_order_is_random_but_repeatable() {
        let a = all("127.0.42.0/24", "8123,9000", &[], 1, WHOLE);
        let b = all("127.0.42.0/24", "8123,9000", &[], 1, WHOLE);
        let c = all("127.0.42.0/24", "8123,9000", &[], 2, WHOLE);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.len(), 512);
        let mut sorted = a.clone();
        sorted.sort();
        assert_ne!(a, sorted, "not in address order");
        let mut c2 = c;
        c2.sort();
        assert_eq!(sorted, c2, "same endpoints, other order");
        // The same set as the plain, ordered expansion.
        let specs: Vec<TargetSpec> = vec!["127.0.42.0/24".parse().unwrap()];
        let ports: PortSet = "8123,9000".parse().unwrap();
        let mut plain: Vec<String> = crate::expand(specs, &ports, &Excludes::default(), &NoDns)
            .map(|e| e.unwrap().socket().to_string())
            .collect();
        plain.sort();
        assert_eq!(sorted, plain);
    }

    #[test]
    fn shards_are_disjoint_and_cover_the_space() {
        let whole: HashSet<String> =
            all("127.0.42.0/25,127.0.43.1:5432", "6379,5432", &[], 9, WHOLE)
                .into_iter()
                .collect();
        let mut union = HashSet::new();
        let mut count = 0;
        for k in 1..=3 {
            let shard: Shard = format!("{k}/3").parse().unwrap();
            for e in all("127.0.42.0/25,127.0.43.1:5432", "6379,5432", &[], 9, shard) {
                count += 1;
                union.insert(e);
            }
        }
        assert_eq!(count, whole.len(), "no endpoint in two shards");
        assert_eq!(union, whole);
    }

    #[test]
    fn exclusions_hold_inside_the_permutation() {
        let got = all("127.0.42.0/28", "1", &["127.0.42.0-127.0.42.7"], 3, WHOLE);
        assert_eq!(got.len(), 8);
        assert!(got
            .iter()
            .all(|e| !e.starts_with("127.0.42.0:") && !e.starts_with("127.0.42.7:")));
    }

    #[test]
    fn a_slash_8_costs_no_memory_and_is_counted_exactly() {
        let specs: Vec<TargetSpec> = vec!["127.0.0.0/8".parse().unwrap()];
        let ports: PortSet = "5432".parse().unwrap();
        let (_, mut it) = permuted(&specs, &ports, &Excludes::default(), &NoDns, 5, WHOLE);
        // Only the first few: the iterator holds no list of addresses.
        let first: Vec<_> = it.by_ref().take(3).collect();
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|e| e.port == 5432));
    }

    #[test]
    fn shard_syntax() {
        assert_eq!(
            "2/4".parse::<Shard>().unwrap(),
            Shard { index: 1, count: 4 }
        );
        assert!("0/4".parse::<Shard>().is_err());
        assert!("5/4".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }
}
