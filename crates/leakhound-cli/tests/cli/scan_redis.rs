//! `leakhound scan` against real Redis 7 servers: one open (protected mode off) and one
//! with `requirepass`, both seeded by scripts/servers/redis.sh.
//!
//! The read-only proof does not trust leakhound's own allowlist: it watches the server
//! with `MONITOR` while leakhound scans, and because MONITOR hides admin commands
//! (CONFIG, ACL GETUSER, MODULE, REPLICAOF, DEBUG, ...), it also compares the server's
//! own per-command call counters and its write counter before and after.

use super::servers::{endpoint, findings, scan_json, server};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const OPENAI_KEY: &str = super::OPENAI_KEY;
const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJsaC1zeW50aGV0aWMtNzczMSIsImlhdCI6MTcxODAwMDAwMCwiZXhwIjoxNzE4MDAzNjAwfQ.yMhRKBLwMwA67gWgE2zJ1Yk1FkvCBYsJpNac6B_Feyk";
const PORT: u16 = 6379;

/// What leakhound may send, written out independently of the probe's own list.
const READ_ONLY: &[&str] = &[
    "ping",
    "info",
    "acl whoami",
    "acl getuser",
    "command info",
    "select",
    "scan",
    "type",
    "strlen",
    "getrange",
    "hscan",
    "sscan",
    "zrange",
    "lrange",
    "xrange",
];

/// Never acceptable, whatever an allowlist says.
const FORBIDDEN: &[&str] = &[
    "set",
    "del",
    "unlink",
    "getdel",
    "getex",
    "expire",
    "rename",
    "config",
    "flushall",
    "flushdb",
    "module",
    "replicaof",
    "slaveof",
    "eval",
    "evalsha",
    "eval_ro",
    "fcall",
    "function",
    "script",
    "debug",
    "shutdown",
    "save",
    "bgsave",
    "bgrewriteaof",
    "keys",
    "migrate",
    "restore",
    "client",
    "acl setuser",
    "acl deluser",
    "acl save",
    "acl load",
];

fn redis_cli(addr: &str, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", addr, "-p", "6379"])
        .args(args)
        .output()
        .expect("redis-cli");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `INFO section` as field → value.
fn info(addr: &str, section: &str) -> BTreeMap<String, String> {
    redis_cli(addr, &["INFO", section])
        .lines()
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Calls per command (`acl|getuser`), rejected and failed calls included.
fn command_calls(addr: &str) -> BTreeMap<String, u64> {
    info(addr, "commandstats")
        .into_iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("cmdstat_")?.to_string();
            let n: u64 = v
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .filter(|(k, _)| matches!(*k, "calls" | "rejected_calls" | "failed_calls"))
                .filter_map(|(_, v)| v.parse::<u64>().ok())
                .sum();
            Some((name, n))
        })
        .collect()
}

/// The quoted arguments of a MONITOR line:
/// `1718000000.123456 [0 127.0.0.1:5000] "GETRANGE" "k" "0" "9"`.
fn monitor_args(line: &str) -> Vec<String> {
    let Some(rest) = line.split_once("] ").map(|x| x.1) else {
        return Vec::new();
    };
    let mut args = Vec::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut arg = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next() {
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).collect();
                        arg.push(u8::from_str_radix(&hex, 16).unwrap_or(b'?') as char);
                    }
                    Some('n') => arg.push('\n'),
                    Some('r') => arg.push('\r'),
                    Some('t') => arg.push('\t'),
                    Some(o) => arg.push(o),
                    None => {}
                },
                o => arg.push(o),
            }
        }
        args.push(arg);
    }
    args
}

/// `verb` or `verb sub` (lowercase) of a command, as the lists above spell it.
fn command_name(args: &[String]) -> String {
    let verb = args[0].to_ascii_lowercase();
    match (verb.as_str(), args.get(1)) {
        ("acl" | "command" | "config" | "client" | "module" | "script" | "function", Some(s)) => {
            format!("{verb} {}", s.to_ascii_lowercase())
        }
        _ => verb,
    }
}

/// The MONITOR client, stopped on drop: TERM to `timeout` (which passes it on to
/// redis-cli), then KILL if it lingers.
struct Monitor(std::process::Child);

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn services_and_access_states() {
    let (Some(open), Some(auth)) = (server("LH_REDIS_OPEN"), server("LH_REDIS_AUTH")) else {
        return;
    };
    let doc = scan_json(&[&format!("{open},{auth}"), "-p", "6379"]);
    let state = |ip: &str| {
        let e = endpoint(&doc, ip, PORT);
        (
            e["service"].as_str().unwrap().to_string(),
            e["access"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(state(&open), ("redis".into(), "open".into()));
    assert_eq!(state(&auth), ("redis".into(), "auth_required".into()));
    let ep = endpoint(&doc, &open, PORT);
    assert!(ep["version"].as_str().unwrap().starts_with("7."), "{ep:#}");
    assert_eq!(ep["databases"], serde_json::json!(["db0", "db2"]));

    let unauth = findings(&doc, &open, PORT, "redis.unauthenticated");
    assert_eq!(unauth.len(), 1);
    assert_eq!(unauth[0]["severity"], "high");
    assert!(unauth[0]["remediation"]
        .as_str()
        .unwrap()
        .contains("requirepass"));
    let required = findings(&doc, &auth, PORT, "redis.auth-required");
    assert_eq!(required.len(), 1);
    assert_eq!(required[0]["severity"], "info");
    assert!(findings(&doc, &auth, PORT, "redis.unauthenticated").is_empty());

    // Reported from COMMAND INFO and ACL GETUSER, never executed.
    let risk = findings(&doc, &open, PORT, "redis.dangerous-commands");
    assert_eq!(risk.len(), 1, "{doc:#}");
    assert_eq!(risk[0]["severity"], "critical");
    let title = risk[0]["title"].as_str().unwrap();
    assert!(
        title.contains("CONFIG SET") && title.contains("REPLICAOF"),
        "{title}"
    );
    assert!(title.contains("remote code execution"), "{title}");
    let evidence = risk[0]["evidence"][0].as_str().unwrap();
    assert!(evidence.contains("Not executed"), "{evidence}");
    assert!(evidence.contains("+@all"), "{evidence}");
    let fix = risk[0]["remediation"].as_str().unwrap();
    for words in [
        "requirepass",
        "protected-mode yes",
        "rename-command",
        "6379",
    ] {
        assert!(fix.contains(words), "remediation lacks {words}: {fix}");
    }
    assert!(findings(&doc, &auth, PORT, "redis.dangerous-commands").is_empty());
}

#[test]
fn planted_content_is_found_where_it_was_planted() {
    let Some(open) = server("LH_REDIS_OPEN") else {
        return;
    };
    let doc = scan_json(&[&open, "-p", "6379"]);
    let at = |rule: &str, db: &str, key: &str| {
        findings(&doc, &open, PORT, rule)
            .into_iter()
            .find(|f| f["location"]["database"] == db && f["location"]["key"] == key)
            .unwrap_or_else(|| panic!("{rule} not found at {db} {key}: {doc:#}"))
            .clone()
    };
    let key = at("lh.openai.project-key", "db0", "config:openai");
    assert_eq!(key["severity"], "critical");
    assert_eq!(key["category"], "secret");
    assert_eq!(key["count"], 1);
    assert!(key["remediation"].as_str().unwrap().contains("requirepass"));
    // Strings, hashes (field names as context), lists, sets, sorted sets, streams.
    at("lh.jwt.token", "db0", "auth:session:*");
    let email = at("lh.pii.email", "db0", "user:*");
    assert_eq!(
        email["distinct"], 2,
        "both user:* hashes aggregate into one finding"
    );
    at("lh.pii.phone-e164", "db0", "user:*");
    let chat = at("lh.chat.messages-json", "db0", "chat:history:*");
    assert_eq!(chat["category"], "chat");
    at("lh.pii.payment-card", "db0", "chat:history:*");
    at("lh.pii.email", "db0", "admins:emails");
    at("lh.pii.email", "db0", "leaderboard");
    at("lh.pii.email", "db0", "payments:events");
    at("lh.pii.payment-card", "db0", "payments:events");
    // db2 is only reachable through SELECT.
    at("lh.postgres.connection-uri", "db2", "svc:internal");

    // Key names are shown as patterns: no digits, no id, no table or column.
    for f in doc["findings"].as_array().unwrap() {
        let loc = &f["location"];
        if let Some(k) = loc["key"].as_str() {
            assert!(!k.chars().any(|c| c.is_ascii_digit()), "{loc}");
            assert!(loc.get("table").is_none() && loc.get("column").is_none());
        }
    }
    // 300 session:* keys do not crowd out the rest, and sampling stays within its cap.
    let ep = endpoint(&doc, &open, PORT);
    let db0 = ep["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["database"] == "db0")
        .unwrap();
    assert_eq!(db0["rows"], 309);
    assert!(db0["sampled_rows"].as_u64().unwrap() <= 100, "{db0}");
    let small = scan_json(&[&open, "-p", "6379", "--sample-rows", "4"]);
    let db0 = endpoint(&small, &open, PORT)["tables"][0].clone();
    assert!(db0["sampled_rows"].as_u64().unwrap() <= 4, "{db0}");
}

#[test]
fn no_full_secret_in_any_output_format() {
    let Some(open) = server("LH_REDIS_OPEN") else {
        return;
    };
    for format in ["human", "json", "jsonl"] {
        let out = super::leakhound()
            .args(["scan", &open, "-p", "6379", "--format", format])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("openai.project-key"), "{format}: {text}");
        for planted in [
            OPENAI_KEY,
            JWT,
            "4111 1111 1111 1111",
            "jane.roe@mailbox.org",
            "+1 415 555 2671",
            "S3cr3tPw9x",
            "8f3a9c2e11",
        ] {
            assert!(!text.contains(planted), "{format} output holds {planted}");
        }
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains(OPENAI_KEY) && !err.contains(JWT));
    }
}

#[test]
fn requirepass_server_is_auth_required_and_yields_no_content() {
    let Some(auth) = server("LH_REDIS_AUTH") else {
        return;
    };
    let doc = scan_json(&[&auth, "-p", "6379"]);
    let ep = endpoint(&doc, &auth, PORT);
    assert_eq!(ep["service"], "redis");
    assert_eq!(ep["access"], "auth_required");
    assert!(ep["version"].is_null(), "nothing was read, not even INFO");
    assert!(ep["tables"].as_array().unwrap().is_empty());
    assert!(ep["databases"].as_array().unwrap().is_empty());
    let rules = super::servers::rule_ids(&doc);
    assert_eq!(rules, vec!["redis.auth-required"], "{doc:#}");
    // The data is there: the server just would not hand it out.
    let planted = Command::new("redis-cli")
        .args([
            "-h",
            &auth,
            "-p",
            "6379",
            "-a",
            "lh-redis-Vd83qLx",
            "--no-auth-warning",
        ])
        .args(["HGET", "user:1001", "email"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&planted.stdout).trim(),
        "jane.roe@mailbox.org"
    );
}

#[test]
fn the_server_sees_only_allowlisted_reads() {
    let Some(open) = server("LH_REDIS_OPEN") else {
        return;
    };
    let calls_before = command_calls(&open);
    let dirty_before = info(&open, "persistence")["rdb_changes_since_last_save"].clone();
    let keys_before = redis_cli(&open, &["INFO", "keyspace"]);
    let errors_before = info(&open, "errorstats");

    // MONITOR streams every non-admin command the server runs. `timeout` bounds it even
    // if this test process is killed; the guard stops it however the test ends.
    let mut child = Command::new("timeout")
        .args(["120", "redis-cli", "-h", &open, "-p", "6379", "MONITOR"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("redis-cli MONITOR");
    let stdout = child.stdout.take().unwrap();
    let monitor = Monitor(child);
    let (tx, rx) = mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(10)).as_deref(),
        Ok("OK"),
        "MONITOR did not start"
    );

    let doc = scan_json(&[&open, "-p", "6379"]);
    assert_eq!(endpoint(&doc, &open, PORT)["access"], "open");

    // Let MONITOR flush what the scan sent, stop it, and read its output to the end.
    std::thread::sleep(Duration::from_millis(500));
    drop(monitor);
    let mut lines = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => lines.push(l),
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => panic!("MONITOR output did not end"),
        }
    }

    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    // Keys read per (db, client connection): other tests may scan this server meanwhile.
    let mut keys_read: BTreeMap<String, u64> = BTreeMap::new();
    for line in &lines {
        let args = monitor_args(line);
        assert!(!args.is_empty(), "unparsed MONITOR line: {line}");
        let name = command_name(&args);
        assert!(
            !FORBIDDEN.contains(&name.as_str())
                && !FORBIDDEN.contains(&args[0].to_ascii_lowercase().as_str()),
            "forbidden command sent: {line}"
        );
        assert!(
            READ_ONLY.contains(&name.as_str()),
            "non-allowlisted command sent: {line}"
        );
        // Every read is bounded.
        match name.as_str() {
            "scan" | "hscan" | "sscan" => {
                let count = args.iter().position(|a| a.eq_ignore_ascii_case("COUNT"));
                let n: u64 = args[count.expect("COUNT on every SCAN") + 1]
                    .parse()
                    .unwrap();
                assert!(n <= 100, "{line}");
            }
            "getrange" | "lrange" | "zrange" => {
                let (start, end): (i64, i64) = (args[2].parse().unwrap(), args[3].parse().unwrap());
                assert!(
                    start == 0 && (0..1 << 20).contains(&end),
                    "unbounded range: {line}"
                );
            }
            "xrange" => assert!(
                args.iter().any(|a| a.eq_ignore_ascii_case("COUNT")),
                "{line}"
            ),
            _ => {}
        }
        if name == "type" {
            let client = line
                .split_once('[')
                .and_then(|x| x.1.split_once(']'))
                .unwrap()
                .0;
            *keys_read.entry(client.to_string()).or_default() += 1;
        }
        *seen.entry(name).or_default() += 1;
    }
    // The proof covers real sampling of every type, not an empty scan.
    for cmd in [
        "ping",
        "info",
        "scan",
        "select",
        "type",
        "strlen",
        "getrange",
        "hscan",
        "sscan",
        "zrange",
        "lrange",
        "xrange",
        "command info",
    ] {
        assert!(
            seen.contains_key(cmd),
            "{cmd} not seen in MONITOR: {seen:?}"
        );
    }
    assert!(
        keys_read.values().all(|&n| n <= 100),
        "more keys read in a db than --sample-rows allows: {keys_read:?}"
    );

    // MONITOR hides admin commands, so count every command the server ran, by name:
    // beyond leakhound's reads, only this test's own INFO and MONITOR (and COMMAND DOCS,
    // which redis-cli may ask for itself; MONITOR above would have caught leakhound
    // sending it) may have grown.
    let calls_after = command_calls(&open);
    for (cmd, n) in &calls_after {
        let grew = *n > calls_before.get(cmd).copied().unwrap_or(0);
        let name = cmd.replace('|', " ");
        assert!(
            !grew
                || READ_ONLY.contains(&name.as_str())
                || ["monitor", "command docs"].contains(&name.as_str()),
            "the server ran `{cmd}` during the scan"
        );
    }
    assert!(
        calls_after.get("acl|getuser") > calls_before.get("acl|getuser"),
        "admin reads should show in commandstats"
    );
    // No write happened, no command was refused or unknown, and no key changed.
    assert_eq!(
        info(&open, "persistence")["rdb_changes_since_last_save"],
        dirty_before,
        "the dataset changed during the scan"
    );
    assert_eq!(info(&open, "errorstats"), errors_before);
    assert_eq!(redis_cli(&open, &["INFO", "keyspace"]), keys_before);
}
