use super::{jsonl, leakhound, OPENAI_KEY};
use base64::Engine as _;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn jsonl_has_the_documented_fields_and_no_full_secret() {
    let input = format!("first line\n\nOPENAI_API_KEY={OPENAI_KEY}\n");
    let out = leakhound()
        .args(["classify", "--format", "jsonl"])
        .write_stdin(input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "a match exits 1");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(OPENAI_KEY), "full secret in output: {text}");
    let m = jsonl(&out.stdout);
    assert_eq!(m.len(), 1, "{text}");
    let m = &m[0];
    assert_eq!(m["path"], "-");
    assert_eq!(m["line"], 3);
    assert_eq!(m["column"], 16);
    assert_eq!(m["rule"], "lh.openai.project-key");
    assert_eq!(m["category"], "secret");
    assert_eq!(m["type"], "openai.project-key");
    let fp = m["fingerprint"].as_str().unwrap();
    assert_eq!(fp.len(), 64);
    assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        m["evidence"],
        format!("sk-pro…l6Zx ({} chars)", OPENAI_KEY.len())
    );
    assert!(m.get("value").is_none());
}

#[test]
fn reveal_prints_the_full_value() {
    let out = leakhound()
        .args(["classify", "--format", "jsonl", "--reveal"])
        .write_stdin(format!("k={OPENAI_KEY}\n"))
        .output()
        .unwrap();
    let m = jsonl(&out.stdout);
    assert_eq!(m[0]["value"], OPENAI_KEY);
}

#[test]
fn exit_codes_follow_fail_on() {
    let input = format!("k={OPENAI_KEY}\n");
    // Default: any match fails.
    leakhound()
        .args(["classify"])
        .write_stdin(input.clone())
        .assert()
        .code(1);
    // A category that is absent passes; one that is present fails.
    leakhound()
        .args(["classify", "--fail-on", "pii"])
        .write_stdin(input.clone())
        .assert()
        .code(0);
    leakhound()
        .args(["classify", "--fail-on", "secret"])
        .write_stdin(input.clone())
        .assert()
        .code(1);
    // Severity thresholds: the key is `high`.
    leakhound()
        .args(["classify", "--fail-on", "critical"])
        .write_stdin(input.clone())
        .assert()
        .code(0);
    leakhound()
        .args(["classify", "--fail-on", "medium"])
        .write_stdin(input.clone())
        .assert()
        .code(1);
    leakhound()
        .args(["classify", "--fail-on", "bogus"])
        .write_stdin(input)
        .assert()
        .code(2);
    leakhound()
        .args(["classify"])
        .write_stdin("nothing to see\n")
        .assert()
        .code(0);
}

#[test]
fn empty_stdin_is_not_an_error() {
    let out = leakhound()
        .args(["classify", "-", "--format", "json"])
        .write_stdin("")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stats"]["matches"], 0);
    assert_eq!(doc["stats"]["errors"], 0);
}

#[test]
fn directories_are_walked_and_bad_entries_counted() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("a/b")).unwrap();
    std::fs::write(
        root.join("a/b/deep.env"),
        format!("X=1\nKEY={OPENAI_KEY}\n"),
    )
    .unwrap();
    std::fs::write(root.join("a/plain.txt"), "nothing\n").unwrap();
    // A symlink loop and a dangling link: both are errors, neither stops the walk.
    std::os::unix::fs::symlink(root.join("a"), root.join("a/b/loop")).unwrap();
    std::os::unix::fs::symlink(root.join("missing"), root.join("a/dangling")).unwrap();
    let out = leakhound()
        .args(["classify", "--format", "json"])
        .arg(root)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "errors exit 2 even with matches"
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stats"]["errors"], 2, "{doc:#}");
    assert_eq!(doc["stats"]["files"], 2);
    let matches = doc["matches"].as_array().unwrap();
    assert_eq!(matches.len(), 1);
    assert!(matches[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("a/b/deep.env"));
    assert_eq!(matches[0]["line"], 2);
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(errors.contains("symlink loop"), "{errors}");
}

#[test]
fn binary_files_are_scanned_as_printable_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = vec![0u8, 1, 2, 3, 0xff, 0xfe];
    data.extend_from_slice(OPENAI_KEY.as_bytes());
    data.extend_from_slice(&[0, 0, 7, 8]);
    std::fs::write(dir.path().join("blob.bin"), &data).unwrap();
    let out = leakhound()
        .args(["classify", "--format", "json"])
        .arg(dir.path())
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["stats"]["binary_files"], 1);
    assert_eq!(doc["matches"][0]["rule"], "lh.openai.project-key");
    assert_eq!(doc["matches"][0]["offset"], 6);
}

#[test]
fn invalid_utf8_is_scanned() {
    let mut data = b"\xc3\x28 \xa0\xa1 key=".to_vec();
    data.extend_from_slice(OPENAI_KEY.as_bytes());
    data.extend_from_slice(b" \xf0\x28\x8c\x28\n");
    let out = leakhound()
        .args(["classify", "--format", "jsonl"])
        .write_stdin(data)
        .output()
        .unwrap();
    assert_eq!(jsonl(&out.stdout).len(), 1);
}

#[test]
fn human_output_groups_by_category() {
    let input = format!("k={OPENAI_KEY}\nmail jane.doe@acme-corp.com\nhost db1.prod.internal\n");
    let out = leakhound()
        .args(["classify"])
        .write_stdin(input)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for header in ["SECRET (1 matches)", "PII (1 matches)", "OPS (1 matches)"] {
        assert!(text.contains(header), "missing {header}: {text}");
    }
    assert!(text.contains("j***@acme-corp.com"));
    assert!(!text.contains("jane.doe@"));
}

#[test]
fn secrets_inside_escaped_json_and_base64_are_found() {
    let inner = format!("{{\\\"cfg\\\":{{\\\"openai\\\":\\\"{OPENAI_KEY}\\\"}}}}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(format!("token: {OPENAI_KEY}"));
    let input = format!("{{\"payload\":\"{inner}\"}}\n{{\"blob\":\"{b64}\"}}\n");
    let out = leakhound()
        .args(["classify", "--format", "jsonl"])
        .write_stdin(input)
        .output()
        .unwrap();
    let m = jsonl(&out.stdout);
    let lines: Vec<_> = m
        .iter()
        .filter(|x| x["rule"] == "lh.openai.project-key")
        .map(|x| (x["line"].as_u64().unwrap(), x["decoded"].clone()))
        .collect();
    assert_eq!(lines.len(), 2, "{m:#?}");
    assert_eq!(lines[0].0, 1, "raw match inside the escaped JSON");
    assert_eq!(lines[1], (2, serde_json::json!("base64")));
}

#[test]
fn a_chat_transcript_is_reported_once_per_value() {
    let row = r#"{"ts":"2025-01-29","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"帮我写一封邮件"},{"role":"assistant","content":"好的"}],"prompt":"x y z","completion":"a b c"}"#;
    let input = format!("{row}\n{row}\n");
    let out = leakhound()
        .args(["classify", "--format", "jsonl", "--category", "chat"])
        .write_stdin(input)
        .output()
        .unwrap();
    let m = jsonl(&out.stdout);
    assert_eq!(m.len(), 2, "one per row: {m:#?}");
    assert_eq!(m[0]["type"], "chat.messages-json");
    assert_eq!(m[1]["line"], 2);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let mut input = String::new();
    for _ in 0..5000 {
        input.push_str(&format!("k={OPENAI_KEY}\n"));
    }
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("leakhound"))
        .args(["classify", "--format", "jsonl", "-j", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        let _ = stdin.write_all(input.as_bytes());
    });
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("lh.openai.project-key"));
    // Dropping the reader closes the pipe while leakhound is still writing.
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(
        out.status.code() == Some(0) || out.status.code() == Some(1),
        "status {:?}, stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn log_format_json_writes_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.txt");
    let out = leakhound()
        .args(["classify", "--log-format", "json"])
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().next().expect("a diagnostic");
    let v: serde_json::Value = serde_json::from_str(line).expect("JSON diagnostic");
    assert_eq!(v["level"], "error");
    assert!(v["message"].as_str().unwrap().contains("missing.txt"));
    assert!(v["ts"].as_f64().unwrap() > 1.6e9);
}

#[test]
fn classify_sarif_has_artifact_locations_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.env"),
        format!("A=1\nOPENAI_API_KEY={OPENAI_KEY}\n"),
    )
    .unwrap();
    let out = leakhound()
        .args(["classify", "--format", "sarif"])
        .arg(dir.path())
        .output()
        .unwrap();
    let sarif: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    super::assert_valid_sarif(&sarif);
    let r = &sarif["runs"][0]["results"][0];
    assert_eq!(r["ruleId"], "lh.openai.project-key");
    let loc = &r["locations"][0]["physicalLocation"];
    assert!(loc["artifactLocation"]["uri"]
        .as_str()
        .unwrap()
        .ends_with("app.env"));
    assert_eq!(loc["region"]["startLine"], 2);
    assert_eq!(loc["region"]["startColumn"], 16);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(OPENAI_KEY));
}
