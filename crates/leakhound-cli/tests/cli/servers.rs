//! Access to the real test servers started by `scripts/servers/start-all.sh`.
//!
//! `scripts/test.sh` exports their addresses and `LH_REQUIRE_SERVERS=1`; then a missing
//! server fails the test. A plain `cargo test` without them skips these tests loudly.

/// The address in `var`, or `None` (test skipped) when servers were not started.
pub fn server(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            if std::env::var("LH_REQUIRE_SERVERS").is_ok_and(|v| v == "1") {
                panic!("{var} is not set but LH_REQUIRE_SERVERS=1: scripts/servers/start-all.sh failed?");
            }
            eprintln!("SKIPPED: {var} not set; run scripts/test.sh to start the test servers");
            None
        }
    }
}

/// Runs `leakhound scan ARGS --format json` and returns the parsed document.
pub fn scan_json(args: &[&str]) -> serde_json::Value {
    let out = super::leakhound()
        .arg("scan")
        .args(args)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "scan failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The endpoint object for `ip:port`.
pub fn endpoint<'a>(doc: &'a serde_json::Value, ip: &str, port: u16) -> &'a serde_json::Value {
    doc["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["ip"] == ip && e["port"] == port)
        .unwrap_or_else(|| panic!("no endpoint {ip}:{port} in {doc:#}"))
}

/// The rule of every finding, in report order.
pub fn rule_ids(doc: &serde_json::Value) -> Vec<&str> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect()
}

/// Findings on `ip:port` with this rule.
pub fn findings<'a>(
    doc: &'a serde_json::Value,
    ip: &str,
    port: u16,
    rule: &str,
) -> Vec<&'a serde_json::Value> {
    let ep = format!("{ip}:{port}");
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["endpoint"] == ep.as_str() && f["rule"] == rule)
        .collect()
}

/// Runs `sql` on a test ClickHouse as the `seed` user (which leakhound is never given):
/// tests use it to plant data and to read `system.query_log`.
pub fn clickhouse_seed(addr: &str, port: u16, sql: &str) -> String {
    let url = format!("http://{addr}:{port}/?user=seed&password=lh-seed-9cQx");
    let out = std::process::Command::new("curl")
        .args(["-fsS", &url, "--data-binary", sql])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
