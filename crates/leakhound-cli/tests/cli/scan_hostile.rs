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

/// Serves every accepted connection (at most 32) with `handle` on its own thread until
/// `life` ends. Writes time out after a second, so a handler that writes forever stops as
/// soon as the scanner stops reading.
fn fake<F>(addr: &str, life: Duration, handle: F) -> u16
where
    F: Fn(std::net::TcpStream, Instant) + Send + Sync + 'static,
{
    let listener = TcpListener::bind((addr, 0)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        let end = Instant::now() + life;
        let mut served = 0;
        while Instant::now() < end && served < 32 {
            match listener.accept() {
                Ok((c, _)) => {
                    served += 1;
                    c.set_nonblocking(false).unwrap();
                    c.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
                    let h = handle.clone();
                    std::thread::spawn(move || h(c, end));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    });
    port
}

/// Reads what the client sent first (a request, a handshake), waiting at most 300 ms.
fn read_request(c: &mut std::net::TcpStream) -> Vec<u8> {
    use std::io::Read;
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = c.read(&mut buf).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// FAKE: answers anything with `prefix`, then `filler` until the client stops reading.
fn endless(addr: &str, prefix: Vec<u8>, filler: Vec<u8>) -> u16 {
    fake(addr, Duration::from_secs(60), move |mut c, end| {
        use std::io::Write;
        read_request(&mut c);
        if c.write_all(&prefix).is_err() {
            return;
        }
        while Instant::now() < end && c.write_all(&filler).is_ok() {}
    })
}

/// FAKE: answers anything with `reply` and closes.
fn reply_and_close(addr: &str, reply: &'static [u8]) -> u16 {
    fake(addr, Duration::from_secs(60), move |mut c, _| {
        use std::io::Write;
        read_request(&mut c);
        let _ = c.write_all(reply);
    })
}

/// The peak RSS of this test's finished children, in MB.
fn children_peak_rss_mb() -> u64 {
    // SAFETY: getrusage fills a local struct.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru);
        ru
    };
    ru.ru_maxrss as u64 / 1024
}

/// One scan across every kind of hostile endpoint at once (all FAKES, each labelled):
/// it must end within the endpoint budget, not panic, stay under 256 MB, and give each
/// endpoint an honest state, never a service it did not prove.
#[test]
fn hostile_servers_get_honest_states_within_budget_and_bounded_memory() {
    let life = Duration::from_secs(60);
    let mut expect: Vec<(String, &str, &str, &str)> = Vec::new(); // (ip:port, service, access, why)
    let mut add = |ip: &str, port: u16, service, access, why| {
        expect.push((format!("{ip}:{port}"), service, access, why))
    };

    add(
        "127.0.42.50",
        tarpit("127.0.42.50", life),
        "unknown",
        "unresponsive",
        "tarpit",
    );
    // FAKE slow drip: an HTTP response at one byte per second.
    let drip = fake("127.0.42.51", life, |mut c, end| {
        use std::io::Write;
        read_request(&mut c);
        for b in b"HTTP/1.1 200 OK\r\nServer: drip\r\n\r\n".iter().cycle() {
            if Instant::now() >= end || c.write_all(&[*b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    add("127.0.42.51", drip, "unknown", "unresponsive", "slow drip");
    let mut chunk = b"1000\r\n".to_vec();
    chunk.extend(std::iter::repeat_n(b'x', 4096));
    chunk.extend(b"\r\n");
    let chunked = endless(
        "127.0.42.52",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(),
        chunk,
    );
    add(
        "127.0.42.52",
        chunked,
        "http",
        "unknown",
        "endless chunked body",
    );
    let resp = endless(
        "127.0.42.53",
        b"$999999999999\r\n".to_vec(),
        vec![b'x'; 65536],
    );
    add(
        "127.0.42.53",
        resp,
        "unknown",
        "malformed",
        "RESP bulk of 10^12 bytes",
    );
    let pg = endless(
        "127.0.42.54",
        vec![b'R', 0x7f, 0xff, 0xff, 0xff],
        vec![0; 65536],
    );
    add(
        "127.0.42.54",
        pg,
        "unknown",
        "malformed",
        "PostgreSQL message of 2 GiB",
    );
    // Packet type 0 (Hello), then a varint string length of 2^40.
    let native = endless(
        "127.0.42.55",
        vec![0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20],
        vec![b'A'; 65536],
    );
    add(
        "127.0.42.55",
        native,
        "unknown",
        "malformed",
        "ClickHouse native string of 2^40 bytes",
    );
    // A gzip stream that inflates to 1 GiB: ten 100 MiB members of zeros, ~1 MB on the wire.
    let member = std::process::Command::new("sh")
        .args(["-c", "head -c 104857600 /dev/zero | gzip -9c"])
        .output()
        .unwrap()
        .stdout;
    assert!(member.len() > 1000 && member.len() < 1 << 20);
    let bomb: Vec<u8> = member.repeat(10);
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        bomb.len()
    );
    let gzip = fake("127.0.42.56", life, move |mut c, _| {
        use std::io::Write;
        read_request(&mut c);
        let _ = c.write_all(head.as_bytes());
        let _ = c.write_all(&bomb);
    });
    add("127.0.42.56", gzip, "http", "unknown", "gzip bomb");
    let mut pad = b"X-Pad: ".to_vec();
    pad.extend(vec![b'a'; 8000]);
    pad.extend(b"\r\n");
    let headers = endless("127.0.42.57", b"HTTP/1.1 200 OK\r\n".to_vec(), pad);
    add(
        "127.0.42.57",
        headers,
        "unknown",
        "malformed",
        "giant headers",
    );
    let negative = reply_and_close("127.0.42.58", b"$-5\r\n");
    add(
        "127.0.42.58",
        negative,
        "unknown",
        "malformed",
        "negative RESP length",
    );
    let wrong = reply_and_close("127.0.42.59", b"HTTP/1.1 abc OK\r\n\r\n");
    add(
        "127.0.42.59",
        wrong,
        "unknown",
        "malformed",
        "HTTP status that is not a number",
    );
    let truncated = reply_and_close("127.0.42.61", b"$10\r\nabc");
    add(
        "127.0.42.61",
        truncated,
        "unknown",
        "unknown",
        "truncated RESP frame",
    );
    // FAKE: a response cut by a TCP reset (SO_LINGER 0) after a few body bytes.
    let reset = fake("127.0.42.62", life, |mut c, _| {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        read_request(&mut c);
        let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nabc");
        std::thread::sleep(Duration::from_millis(50));
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: setsockopt on an open socket with a correctly sized struct.
        unsafe {
            libc::setsockopt(
                c.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                &linger as *const libc::linger as *const libc::c_void,
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    });
    add(
        "127.0.42.62",
        reset,
        "unknown",
        "unknown",
        "reset mid-response",
    );
    // FAKE: closes on plain bytes; after a TLS ClientHello it never answers.
    let tls = fake("127.0.42.63", life, |mut c, end| {
        if read_request(&mut c).first() == Some(&0x16) {
            while Instant::now() < end {
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    });
    add(
        "127.0.42.63",
        tls,
        "unknown",
        "unresponsive",
        "TLS stall after ClientHello",
    );

    // FAKE: a host that completes the handshake on every port and hangs up (a SYN proxy
    // with nothing behind it): 120 ports, past the default threshold of 100.
    let listeners: Vec<TcpListener> = (0..120)
        .map(|_| TcpListener::bind(("127.0.42.64", 0)).unwrap())
        .collect();
    let any_ports: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port().to_string())
        .collect();
    std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs(60);
        for l in &listeners {
            l.set_nonblocking(true).unwrap();
        }
        while Instant::now() < end {
            let mut idle = true;
            for l in &listeners {
                while let Ok((c, _)) = l.accept() {
                    idle = false;
                    drop(c);
                }
            }
            if idle {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    });

    let budget = 20;
    let started = Instant::now();
    let mut args: Vec<String> = expect.iter().map(|e| e.0.clone()).collect();
    args.push("127.0.42.64".into());
    let out = super::leakhound()
        .arg("scan")
        .args(&args)
        .args(["-p", &any_ports.join(",")])
        .args([
            "--read-timeout",
            "2000",
            "--endpoint-budget",
            &budget.to_string(),
        ])
        .args(["--no-store", "--format", "json"])
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        took < Duration::from_secs(budget + 10),
        "the scan took {took:?}, budget {budget} s per endpoint"
    );
    let rss = children_peak_rss_mb();
    assert!(rss < 256, "peak RSS {rss} MB");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let mut wrong = Vec::new();
    for (ep, service, access, why) in &expect {
        let (ip, port) = ep.rsplit_once(':').unwrap();
        let e = endpoint(&doc, ip, port.parse().unwrap());
        if e["service"] != *service || e["access"] != *access {
            wrong.push(format!(
                "{why} ({ep}): got {}/{} ({}), want {service}/{access}",
                e["service"], e["access"], e["notes"]
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Only the host-level flag is a finding; no hostile endpoint is reported as exposing
    // anything.
    let rules = super::servers::rule_ids(&doc);
    assert_eq!(rules, ["host.accepts-every-port"], "{doc:#}");

    // The accept-everything host: flagged once, 100 ports probed (none a service), the
    // rest not probed.
    let on_host: Vec<&serde_json::Value> = doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["ip"] == "127.0.42.64")
        .collect();
    assert!(on_host.iter().all(|e| e["service"] == "unknown"));
    assert_eq!(on_host.iter().filter(|e| e["port"] != 0).count(), 100);
    let host = endpoint(&doc, "127.0.42.64", 0);
    assert!(
        host["notes"][0].as_str().unwrap().contains("on 120 ports"),
        "{host:#}"
    );
    assert!(
        stderr.contains("127.0.42.64 accepted connections on 120 ports"),
        "{stderr}"
    );
}

#[test]
fn the_endpoint_budget_cuts_a_probe_short_and_says_so() {
    // The FAKE tarpit outlasts a 1 s budget (the read timeout is 5 s).
    let port = tarpit("127.0.42.65", Duration::from_secs(30));
    let started = Instant::now();
    let out = super::leakhound()
        .args([
            "scan",
            &format!("127.0.42.65:{port}"),
            "--endpoint-budget",
            "1",
        ])
        .args(["--no-store", "--format", "json"])
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(4));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let e = endpoint(&doc, "127.0.42.65", port);
    assert_eq!(e["access"], "unresponsive");
    let notes = e["notes"].to_string();
    assert!(notes.contains("budget of 1s exceeded"), "{notes}");
    assert!(notes.contains("nothing answered"), "{notes}");
}
