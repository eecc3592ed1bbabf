use super::leakhound;

#[test]
fn rules_check_passes_for_builtin_rules() {
    let out = leakhound().args(["rules", "check"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(" 0 failed"), "{text}");
}

#[test]
fn rules_list_has_at_least_120_secret_rules() {
    let out = leakhound()
        .args(["rules", "list", "--format", "jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let rules = super::jsonl(&out.stdout);
    let secrets = rules.iter().filter(|r| r["category"] == "secret").count();
    assert!(secrets >= 120, "only {secrets} secret rules");
    for cat in ["chat", "pii", "ops"] {
        assert!(rules.iter().any(|r| r["category"] == cat), "no {cat} rules");
    }
}

#[test]
fn user_rules_are_added_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("mine.yaml");
    std::fs::write(
        &f,
        r#"rules:
  - id: acme.internal-token
    name: ACME internal token
    category: secret
    pattern: '(?P<secret>acme_tok_[a-z0-9]{24})'
    keywords: [acme_tok_]
    examples: ['ACME=acme_tok_q8w7e6r5t4y3u2i1o9p8a7s6']
    negative_examples: ['ACME=acme_tok_short']
"#,
    )
    .unwrap();
    leakhound()
        .args(["rules", "check", "--rules"])
        .arg(&f)
        .assert()
        .success();
    let out = leakhound()
        .args(["classify", "--format", "jsonl", "--rules"])
        .arg(&f)
        .write_stdin("x acme_tok_q8w7e6r5t4y3u2i1o9p8a7s6 y\n")
        .output()
        .unwrap();
    let m = super::jsonl(&out.stdout);
    assert_eq!(m.len(), 1);
    assert_eq!(m[0]["rule"], "acme.internal-token");
}

#[test]
fn a_failing_user_rule_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.yaml");
    std::fs::write(
        &f,
        r#"rules:
  - id: acme.bad
    name: never matches its example
    category: secret
    pattern: 'zzz_[0-9]{40}'
    keywords: [zzz_]
    examples: ['nothing here']
"#,
    )
    .unwrap();
    let out = leakhound()
        .args(["rules", "check", "--rules"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAIL acme.bad"));
}

#[test]
fn unknown_rule_fields_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("typo.yaml");
    std::fs::write(
        &f,
        "rules:\n  - id: a.b\n    name: x\n    category: secret\n    pattern: x\n    keyword: [abc]\n",
    )
    .unwrap();
    leakhound()
        .args(["rules", "list", "--rules"])
        .arg(&f)
        .assert()
        .code(2);
}
