//! `leakhound scan` against real ClickHouse 18.16 servers (open, password, restricted,
//! non-standard ports) and a fake `Ok.` HTTP server.

use super::servers::{clickhouse_seed, endpoint, findings, scan_json, server};

const OPENAI_KEY: &str = super::OPENAI_KEY;

#[test]
fn services_and_access_states() {
    let (Some(open), Some(pw), Some(restricted), Some(odd), Some(fake)) = (
        server("LH_CH_OPEN"),
        server("LH_CH_PASSWORD"),
        server("LH_CH_RESTRICTED"),
        server("LH_CH_ODD"),
        server("LH_FAKE_OK"),
    ) else {
        return;
    };
    let targets = format!("{open},{pw},{restricted},{odd},{fake}");
    let doc = scan_json(&[&targets, "-p", "8123,18123,9000,19000,18443,19440"]);
    let state = |ip: &str, port| {
        let e = endpoint(&doc, ip, port);
        (
            e["service"].as_str().unwrap().to_string(),
            e["access"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        state(&open, 8123),
        ("clickhouse-http".into(), "open".into())
    );
    assert_eq!(
        state(&pw, 8123),
        ("clickhouse-http".into(), "auth_required".into())
    );
    assert_eq!(
        state(&restricted, 8123),
        ("clickhouse-http".into(), "restricted".into())
    );
    // Identification never relies on the port number.
    assert_eq!(
        state(&odd, 18123),
        ("clickhouse-http".into(), "open".into())
    );
    // `Ok.` on `/` is not enough to be ClickHouse.
    assert_eq!(state(&fake, 8123).0, "http");
    assert_eq!(endpoint(&doc, &open, 8123)["version"], "18.16.1");
    // The native port is the same exposure: Hello plus one confirming read.
    assert_eq!(
        state(&open, 9000),
        ("clickhouse-native".into(), "open".into())
    );
    assert_eq!(
        state(&odd, 19000),
        ("clickhouse-native".into(), "open".into())
    );
    assert_eq!(
        state(&pw, 9000),
        ("clickhouse-native".into(), "auth_required".into())
    );
    assert_eq!(
        state(&restricted, 9000),
        ("clickhouse-native".into(), "restricted".into())
    );
    assert_eq!(endpoint(&doc, &open, 9000)["version"], "18.16.1");
    assert_eq!(
        findings(&doc, &open, 9000, "clickhouse.native-unauthenticated").len(),
        1
    );
    assert_eq!(
        findings(&doc, &open, 8123, "clickhouse.unauthenticated")[0]["severity"],
        "high"
    );
    assert_eq!(
        findings(&doc, &pw, 8123, "clickhouse.auth-required")[0]["severity"],
        "info"
    );
    assert!(findings(&doc, &fake, 8123, "clickhouse.unauthenticated").is_empty());
    // Escalation risks are reported, not executed.
    let file = findings(&doc, &open, 8123, "clickhouse.file-read");
    assert_eq!(file.len(), 1);
    assert_eq!(file[0]["severity"], "critical");
    assert_eq!(file[0]["title"], "Server files readable via file()");
}

#[test]
fn planted_content_is_found_where_it_was_planted() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    let doc = scan_json(&[&open, "-p", "8123"]);
    let at = |rule: &str, table: &str, column: &str| {
        findings(&doc, &open, 8123, rule)
            .into_iter()
            .find(|f| {
                f["location"]["database"] == "app"
                    && f["location"]["table"] == table
                    && f["location"]["column"] == column
            })
            .unwrap_or_else(|| panic!("{rule} not found at app.{table}.{column}: {doc:#}"))
            .clone()
    };
    let key = at("lh.openai.project-key", "log_stream", "api_key");
    assert_eq!(key["severity"], "critical");
    assert_eq!(key["category"], "secret");
    assert_eq!(key["count"], 1);
    assert!(key["remediation"].as_str().unwrap().contains("listen_host"));
    at("lh.chat.messages-json", "log_stream", "message");
    at("lh.chat.role-text", "log_stream", "message");
    at("lh.pii.email", "users", "email");
    at("lh.pii.payment-card", "log_stream", "meta");
    at("lh.ops.internal-url", "log_stream", "message");
    let ep = endpoint(&doc, &open, 8123);
    let log_stream = ep["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "log_stream")
        .unwrap();
    assert_eq!(log_stream["rows"], 3);
    for cat in ["secret", "chat", "pii", "ops"] {
        assert!(
            log_stream["categories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == cat),
            "{cat}"
        );
    }
}

#[test]
fn no_full_secret_in_any_output_format() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    for format in ["human", "json", "jsonl"] {
        let out = super::leakhound()
            .args(["scan", &open, "-p", "8123", "--format", format])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("lh.openai.project-key")
                || format == "human" && text.contains("openai.project-key")
        );
        for planted in [
            OPENAI_KEY,
            "4111 1111 1111 1111",
            "jane.roe@mailbox.org",
            "Qm9vdGJhbGxDb2FjaGVz",
        ] {
            assert!(!text.contains(planted), "{format} output holds {planted}");
        }
        assert!(!String::from_utf8_lossy(&out.stderr).contains(OPENAI_KEY));
    }
}

#[test]
fn the_server_log_shows_only_bounded_reads() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    scan_json(&[&open, "-p", "8123", "--sample-rows", "2"]);
    // Native-only: enumeration over the native protocol (client name `leakhound`).
    scan_json(&[&open, "-p", "9000", "--sample-rows", "2"]);
    clickhouse_seed(&open, 8123, "SYSTEM FLUSH LOGS");
    let log = clickhouse_seed(
        &open,
        8123,
        "SELECT type, written_rows, read_rows, result_rows, replaceAll(query, '\\n', ' ') FROM system.query_log \
         WHERE http_user_agent LIKE 'leakhound/%' OR client_name = 'leakhound' FORMAT TabSeparated",
    );
    assert!(
        log.contains("SETTINGS max_result_rows"),
        "native queries carry their limits"
    );
    let mut n = 0;
    for line in log.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let query = f[4].trim_start().to_ascii_uppercase();
        assert!(
            ["SELECT ", "SHOW ", "DESCRIBE "]
                .iter()
                .any(|v| query.starts_with(v)),
            "non-read statement in query_log: {line}"
        );
        assert_eq!(f[1], "0", "written_rows must be 0: {line}");
        let result_rows: u64 = f[3].parse().unwrap();
        assert!(result_rows <= 100_000, "result over the cap: {line}");
        if query.contains("FROM `APP`") {
            assert!(result_rows <= 100, "sample over --sample-rows cap: {line}");
        }
        n += 1;
    }
    assert!(n > 5, "expected leakhound's queries in the log, got {n}");
}

#[test]
fn exclusions_lists_and_host_names() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    // An excluded address is never touched, even inside a listed range.
    let doc = scan_json(&[&format!("{open}/31"), "-p", "8123", "--exclude", &open]);
    assert!(doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["ip"] != open.as_str()));
    // Targets from a file (with a comment) and host:port.
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("targets.txt");
    std::fs::write(&list, format!("# the open server\n{open}:8123\n")).unwrap();
    let doc = scan_json(&["-l", list.to_str().unwrap()]);
    assert_eq!(endpoint(&doc, &open, 8123)["access"], "open");
    // A host name keeps its name on the endpoint (localhost resolves from /etc/hosts).
    let out = super::leakhound()
        .args(["scan", "localhost:1", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A malformed target is a usage error.
    super::leakhound()
        .args(["scan", "127.0.42.0/40"])
        .assert()
        .code(2);
}

#[test]
fn native_port_enumerates_only_when_http_is_not_open() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    // Only the native port: enumeration and sampling go over the native protocol.
    let doc = scan_json(&[&open, "-p", "9000"]);
    let ep = endpoint(&doc, &open, 9000);
    assert!(ep["tables"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["table"] == "log_stream"));
    let key = findings(&doc, &open, 9000, "lh.openai.project-key");
    assert_eq!(key.len(), 1, "{doc:#}");
    assert_eq!(key[0]["location"]["column"], "api_key");
    assert_eq!(findings(&doc, &open, 9000, "clickhouse.file-read").len(), 1);
    // Both ports: HTTP enumerates, the native endpoint reports access only.
    let doc = scan_json(&[&open, "-p", "8123,9000"]);
    let native = endpoint(&doc, &open, 9000);
    assert!(native["tables"].as_array().unwrap().is_empty());
    assert!(findings(&doc, &open, 9000, "lh.openai.project-key").is_empty());
    assert_eq!(
        findings(&doc, &open, 8123, "lh.openai.project-key").len(),
        1
    );
}

#[test]
fn shards_split_discovery_exactly() {
    if server("LH_CH_OPEN").is_none() {
        return;
    }
    let found = |extra: &[&str]| {
        let out = super::leakhound()
            .args([
                "scan",
                "127.0.42.0/28",
                "-p",
                "8123,9000,6379,5432",
                "--discovery-only",
                "--seed",
                "11",
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let whole = found(&[]);
    assert!(whole.len() >= 10, "{whole:?}");
    let mut parts: Vec<String> = Vec::new();
    for k in 1..=3 {
        parts.extend(found(&["--shard", &format!("{k}/3")]));
    }
    parts.sort();
    let mut expected = whole.clone();
    expected.sort();
    assert_eq!(
        parts, expected,
        "the shards are disjoint and cover the space"
    );
    super::leakhound()
        .args(["scan", "127.0.42.0/28", "--shard", "4/3"])
        .assert()
        .code(2);
}
