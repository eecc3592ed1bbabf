//! Hostile endpoints that no real server imitates. Every server here is a FAKE, written for
//! the behaviour under test, bounded in connections and lifetime.

use super::servers::endpoint;
use std::net::TcpListener;
use std::time::{Duration, Instant};

pub(crate) use self::tarpit as fake_tarpit;

/// FAKE: accepts connections and never sends a byte (a tarpit). Holds at most 32
/// connections and stops by itself after `life`.
pub(crate) fn tarpit(addr: &str, life: Duration) -> u16 {
    let listener = TcpListener::bind((addr, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let end = Instant::now() + life;
        let mut held = Vec::new();
        while Instant::now() < end {
            if held.len() < 32 {
                if let Ok((c, _)) = listener.accept() {
                    held.push(c);
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    port
}

#[test]
fn a_tarpit_is_unresponsive_not_a_database_and_costs_one_timeout() {
    let port = tarpit("127.0.42.21", Duration::from_secs(30));
    let started = Instant::now();
    let out = super::leakhound()
        .args(["scan", &format!("127.0.42.21:{port}"), "--format", "json"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = endpoint(&doc, "127.0.42.21", port);
    assert_eq!(e["access"], "unresponsive");
    assert_eq!(e["service"], "unknown");
    assert!(doc["findings"].as_array().unwrap().is_empty());
    // One read timeout (5 s), not one per probe.
    assert!(took < Duration::from_secs(12), "took {took:?}");
}

#[test]
fn no_progress_bar_without_a_terminal() {
    let out = super::leakhound()
        .args(["scan", "127.0.42.23:1", "--no-store", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
