//! The findings store: scans recorded as they run, listed, and re-rendered as reports;
//! private files; no full secret in the database.

use super::servers::{clickhouse_seed, scan_json, server};
use std::os::unix::fs::PermissionsExt;

#[test]
fn scans_are_stored_listed_and_reported() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store/leakhound.db");
    let db_arg = db.to_str().unwrap();
    let live = scan_json(&[&open, "-p", "8123", "--db", db_arg]);
    scan_json(&[&open, "-p", "8123", "--db", db_arg]);

    let out = super::leakhound()
        .args(["scans", "--db", db_arg])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{listing}");
    assert_eq!(
        listing.lines().filter(|l| l.contains("finished")).count(),
        2,
        "{listing}"
    );

    // The stored report of the first scan has the live scan's findings, ids included.
    let out = super::leakhound()
        .args(["report", "--db", db_arg, "--scan", "1", "--format", "json"])
        .output()
        .unwrap();
    let stored: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ids = |d: &serde_json::Value| {
        let mut v: Vec<String> = d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ids(&stored), ids(&live));
    assert_eq!(stored["endpoints"][0]["service"], "clickhouse-http");

    // Markdown from `latest`, written to a private file.
    let md = dir.path().join("report.md");
    super::leakhound()
        .args(["report", "--db", db_arg, "--format", "markdown", "-o"])
        .arg(&md)
        .assert()
        .success();
    let text = std::fs::read_to_string(&md).unwrap();
    assert!(text.starts_with("# leakhound report"));
    assert!(text.contains("`lh.openai.project-key`"));
    assert_eq!(
        std::fs::metadata(&md).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn the_store_never_holds_a_planted_secret() {
    let (Some(open), Some(redis)) = (server("LH_CH_OPEN"), server("LH_REDIS_OPEN")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leakhound.db");
    scan_json(&[
        &format!("{open},{redis}"),
        "-p",
        "8123,6379",
        "--db",
        db.to_str().unwrap(),
    ]);
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    assert!(bytes.len() > 4096, "the store was written");
    for planted in [
        super::OPENAI_KEY,
        "Qm9vdGJhbGxDb2FjaGVz",
        "jane.roe@mailbox.org",
        "4111 1111 1111 1111",
        "4111111111111111",
    ] {
        assert!(
            memchr_find(&bytes, planted.as_bytes()).is_none(),
            "the store holds {planted}"
        );
    }
}

fn memchr_find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn diff_reports_new_and_resolved_exposures() {
    let Some(odd) = server("LH_CH_ODD") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leakhound.db");
    let db_arg = db.to_str().unwrap();
    let scan = || scan_json(&[&odd, "-p", "18123", "--db", db_arg]);
    let diff = |fail_on: &str| {
        super::leakhound()
            .args([
                "diff",
                "--db",
                db_arg,
                "--format",
                "json",
                "--fail-on",
                fail_on,
            ])
            .output()
            .unwrap()
    };
    clickhouse_seed(&odd, 18123, "CREATE DATABASE IF NOT EXISTS difftest");
    clickhouse_seed(&odd, 18123, "DROP TABLE IF EXISTS difftest.contacts");
    clickhouse_seed(
        &odd,
        18123,
        "CREATE TABLE difftest.contacts (email String) ENGINE = TinyLog",
    );
    scan();
    clickhouse_seed(
        &odd,
        18123,
        "INSERT INTO difftest.contacts VALUES ('new.person@corp-mail.net')",
    );
    scan();
    let out = diff("high");
    assert_eq!(
        out.status.code(),
        Some(1),
        "a new critical finding fails the gate"
    );
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let is_contact =
        |f: &serde_json::Value| f["rule"] == "lh.pii.email" && f["location"]["table"] == "contacts";
    assert!(d["new"].as_array().unwrap().iter().any(is_contact), "{d:#}");
    assert!(d["resolved"].as_array().unwrap().is_empty());
    clickhouse_seed(&odd, 18123, "DROP TABLE difftest.contacts");
    scan();
    let out = diff("high");
    assert_eq!(out.status.code(), Some(0), "nothing new");
    let d: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        d["resolved"].as_array().unwrap().iter().any(is_contact),
        "{d:#}"
    );
}

#[test]
fn a_baseline_accepts_known_findings_for_ci_gating() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leakhound.db");
    let db_arg = db.to_str().unwrap();
    let first = scan_json(&[&open, "-p", "8123", "--db", db_arg]);
    let total = first["findings"].as_array().unwrap().len();
    assert!(total > 3);
    let baseline = dir.path().join("baseline.json");
    super::leakhound()
        .args(["baseline", "--db", db_arg, "-o"])
        .arg(&baseline)
        .assert()
        .success();
    assert_eq!(
        std::fs::metadata(&baseline).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A gated scan against the baseline.
    let gated = |fail_on: &str| {
        super::leakhound()
            .args([
                "scan", &open, "-p", "8123", "--db", db_arg, "--format", "json",
            ])
            .args(["--fail-on", fail_on, "--baseline"])
            .arg(&baseline)
            .output()
            .unwrap()
    };
    // Everything accepted: nothing shown, the gate passes.
    let out = gated("info");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(doc["findings"].as_array().unwrap().is_empty());
    // Drop the secret from the baseline: it is new again and fails the gate.
    let mut b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
    b["findings"]
        .as_array_mut()
        .unwrap()
        .retain(|f| f["rule"] != "lh.openai.project-key");
    std::fs::write(&baseline, b.to_string()).unwrap();
    let out = gated("critical");
    assert_eq!(out.status.code(), Some(1));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let shown: Vec<&str> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(shown, vec!["lh.openai.project-key"]);
}

/// Finding ids of a scan document, sorted; panics on duplicates.
fn finding_ids(doc: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    let n = v.len();
    v.dedup();
    assert_eq!(n, v.len(), "duplicate findings");
    v
}

#[test]
fn a_killed_scan_resumes_without_probing_finished_endpoints() {
    let (Some(open), Some(redis)) = (server("LH_CH_OPEN"), server("LH_REDIS_OPEN")) else {
        return;
    };
    // A FAKE tarpit keeps the scan busy for one read timeout, long enough to kill it.
    let port = super::scan_hostile::fake_tarpit("127.0.42.22", std::time::Duration::from_secs(60));
    let targets = format!("{open}:8123,{redis}:6379,127.0.42.22:{port}");
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leakhound.db");
    let db_arg = db.to_str().unwrap();
    let args = ["scan", &targets, "--db", db_arg, "--format", "json"];

    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("leakhound"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (bounded) until the two real endpoints are stored, then SIGKILL mid-scan.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let out = super::leakhound()
            .args(["scans", "--db", db_arg])
            .output()
            .unwrap();
        let listing = String::from_utf8_lossy(&out.stdout).to_string();
        let done = listing
            .lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        if done >= 2 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "scan never stored its endpoints: {listing}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    // A rerun with the same arguments picks it up.
    let out = super::leakhound().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("resuming scan 1: 2 endpoints already done"),
        "{stderr}"
    );
    let resumed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        resumed["stats"]["skipped"], 2,
        "finished endpoints were not probed again"
    );
    assert_eq!(resumed["endpoints"].as_array().unwrap().len(), 3);

    // The same findings as an uninterrupted run, no duplicates.
    let other = dir.path().join("uninterrupted.db");
    let whole = scan_json(&[&targets, "--db", other.to_str().unwrap()]);
    assert_eq!(finding_ids(&resumed), finding_ids(&whole));
    let out = super::leakhound()
        .args(["scans", "--db", db_arg])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listing.lines().count(), 2, "one scan, resumed: {listing}");
    assert!(listing.contains("finished"), "{listing}");
}

/// Scans ClickHouse on `open` (HTTP and native) into a fresh store and renders the stored
/// scan as `format` into a file; the directory lives as long as the returned guard.
fn scan_and_report(open: &str, format: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("leakhound.db");
    let db_arg = db.to_str().unwrap();
    scan_json(&[open, "-p", "8123,9000", "--db", db_arg]);
    let out = dir.path().join(format!("report.{format}"));
    super::leakhound()
        .args(["report", "--db", db_arg, "--format", format, "-o"])
        .arg(&out)
        .assert()
        .success();
    (dir, out)
}

#[test]
fn sarif_validates_against_the_official_schema() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    let (_dir, sarif_path) = scan_and_report(&open, "sarif");
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&sarif_path).unwrap()).unwrap();
    super::assert_valid_sarif(&sarif);

    let run = &sarif["runs"][0];
    let results = run["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        assert!(r["ruleId"].is_string());
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert_eq!(
            r["partialFingerprints"]["leakhoundFindingId/v1"]
                .as_str()
                .unwrap()
                .len(),
            32
        );
        assert!(
            r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]
                .as_str()
                .unwrap()
                .starts_with(&open)
        );
    }
    let key = results
        .iter()
        .find(|r| r["ruleId"] == "lh.openai.project-key")
        .unwrap();
    assert_eq!(
        key["locations"][0]["logicalLocations"][0]["fullyQualifiedName"],
        format!("{open}:8123/app/log_stream/api_key")
    );
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(rules
        .iter()
        .all(|r| r["help"]["text"].as_str().is_some_and(|t| !t.is_empty())));
    assert!(!std::fs::read_to_string(&sarif_path)
        .unwrap()
        .contains(super::OPENAI_KEY));
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let Some(open) = server("LH_CH_OPEN") else {
        return;
    };
    let Some(chromium) = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        assert!(
            std::env::var("LH_REQUIRE_SERVERS").is_err(),
            "chromium is missing: scripts/test.sh installs Debian's chromium package"
        );
        return;
    };
    let (dir, html) = scan_and_report(&open, "html");
    let text = std::fs::read_to_string(&html).unwrap();
    // Self-contained: nothing to fetch, and no full secret.
    for external in ["src=", "href=", "@import", "url("] {
        assert!(!text.contains(external), "the report references {external}");
    }
    assert!(!text.contains(super::OPENAI_KEY));
    assert_eq!(
        std::fs::metadata(&html).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let profile = dir.path().join("chromium-profile");
    let browser = |extra: &[&str]| {
        std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1200,1600",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .unwrap()
    };
    // The DOM as the browser built it: key elements are there.
    let out = browser(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout);
    for id in [
        "id=\"card-endpoints\"",
        "id=\"card-open\"",
        "id=\"card-critical\"",
        "id=\"chart-severity\"",
        "id=\"chart-category\"",
        "id=\"endpoints\"",
        "id=\"sev-critical\"",
        "lh.openai.project-key",
        "sk-pro…l6Zx",
    ] {
        assert!(dom.contains(id), "{id} missing from the rendered DOM");
    }
    // A screenshot among the test's outputs, for a human to look at.
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let out = browser(&[&format!("--screenshot={}", shots.display())]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(std::fs::metadata(&shots).unwrap().len() > 10_000);
}
