//! `leakhound scan` against real PostgreSQL 15 clusters: one with `trust` for every network
//! connection (seeded with planted content), one with scram-sha-256 and TLS on. The trust
//! cluster logs every statement, which proves from the server's side that leakhound's
//! sessions only ran allowlisted reads inside READ ONLY transactions.

use super::servers::{endpoint, findings, scan_json, server};
use std::collections::BTreeMap;

const OPENAI_KEY: &str = super::OPENAI_KEY;

#[test]
fn services_and_access_states() {
    let (Some(trust), Some(scram)) = (server("LH_PG_TRUST"), server("LH_PG_SCRAM")) else {
        return;
    };
    let doc = scan_json(&[&format!("{trust},{scram}"), "-p", "5432"]);
    let t = endpoint(&doc, &trust, 5432);
    assert_eq!(
        (t["service"].as_str(), t["access"].as_str()),
        (Some("postgres"), Some("open"))
    );
    assert!(t["version"].as_str().unwrap().starts_with("15."), "{t:#}");
    for db in ["analytics", "app", "postgres"] {
        assert!(
            t["databases"].as_array().unwrap().iter().any(|d| d == db),
            "{db}: {t:#}"
        );
    }
    let s = endpoint(&doc, &scram, 5432);
    assert_eq!(
        (s["service"].as_str(), s["access"].as_str()),
        (Some("postgres"), Some("auth_required"))
    );
    // The SCRAM cluster has ssl=on: it answers S, and leakhound says it went on without TLS.
    assert!(
        s["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("TLS")),
        "{s:#}"
    );
    assert!(s["tables"].as_array().unwrap().is_empty());

    let open = findings(&doc, &trust, 5432, "postgres.unauthenticated");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["severity"], "high");
    assert!(open[0]["remediation"]
        .as_str()
        .unwrap()
        .contains("pg_hba.conf"));
    let auth = findings(&doc, &scram, 5432, "postgres.auth-required");
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0]["severity"], "info");
    assert!(auth[0]["evidence"][0]
        .as_str()
        .unwrap()
        .contains("SCRAM-SHA-256"));
    assert!(findings(&doc, &scram, 5432, "postgres.unauthenticated").is_empty());
    assert!(findings(&doc, &scram, 5432, "postgres.superuser").is_empty());

    // The superuser risk is reported from pg_roles, never exercised.
    let su = findings(&doc, &trust, 5432, "postgres.superuser");
    assert_eq!(su.len(), 1);
    assert_eq!(su[0]["severity"], "critical");
    let evidence = su[0]["evidence"][0].as_str().unwrap();
    assert!(evidence.contains("COPY ... PROGRAM"), "{evidence}");
    assert!(evidence.contains("not attempted"), "{evidence}");
}

#[test]
fn planted_content_is_found_where_it_was_planted() {
    let Some(trust) = server("LH_PG_TRUST") else {
        return;
    };
    let doc = scan_json(&[&trust, "-p", "5432"]);
    let at = |rule: &str, db: &str, table: &str, column: &str| {
        findings(&doc, &trust, 5432, rule)
            .into_iter()
            .find(|f| {
                f["location"]["database"] == db
                    && f["location"]["table"] == table
                    && f["location"]["column"] == column
            })
            .unwrap_or_else(|| panic!("{rule} not found at {db}/{table}/{column}: {doc:#}"))
            .clone()
    };
    let key = at(
        "lh.openai.project-key",
        "app",
        "public.chat_log",
        "api_token",
    );
    assert_eq!(key["severity"], "critical");
    assert_eq!(key["category"], "secret");
    assert_eq!(key["count"], 1);
    assert!(key["remediation"].as_str().unwrap().contains("pg_hba.conf"));
    at("lh.pii.email", "app", "public.chat_log", "user_email");
    at("lh.pii.payment-card", "app", "public.chat_log", "prompt");
    at("lh.chat.field-text", "app", "public.chat_log", "prompt");
    at("lh.chat.role-text", "app", "public.chat_log", "response");
    at(
        "lh.chat.messages-json",
        "app",
        "public.chat_log",
        "response",
    );
    at("lh.pii.payment-card", "app", "crm.customers", "card_number");
    at("lh.pii.email", "app", "crm.customers", "email");
    // A second database, reached on its own connection.
    at(
        "lh.ops.internal-url",
        "analytics",
        "public.events",
        "payload",
    );

    let ep = endpoint(&doc, &trust, 5432);
    let table = |db: &str, name: &str| {
        ep["tables"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["database"] == db && t["table"] == name)
            .unwrap_or_else(|| panic!("no table {db}/{name}: {ep:#}"))
            .clone()
    };
    let chat = table("app", "public.chat_log");
    assert_eq!(chat["engine"], "table");
    assert_eq!(chat["rows"], 3, "reltuples after ANALYZE");
    assert_eq!(chat["sampled_rows"], 3);
    assert!(chat["bytes"].as_u64().unwrap() > 0);
    for cat in ["secret", "chat", "pii"] {
        assert!(
            chat["categories"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == cat),
            "{cat}: {chat:#}"
        );
    }
    // Views are listed, never sampled; a hostile table name is sampled as a name.
    let view = table("app", "public.recent_chats");
    assert_eq!(
        (view["engine"].as_str(), view["sampled_rows"].as_u64()),
        (Some("view"), Some(0))
    );
    assert_eq!(
        table("app", "public.notes; DROP TABLE chat_log; --")["sampled_rows"],
        1
    );
}

#[test]
fn no_full_secret_in_any_output_format() {
    let Some(trust) = server("LH_PG_TRUST") else {
        return;
    };
    for format in ["human", "json", "jsonl"] {
        let out = super::leakhound()
            .args(["scan", &trust, "-p", "5432", "--format", format])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("openai.project-key"), "{format}: {text}");
        for planted in [
            OPENAI_KEY,
            "4111 1111 1111 1111",
            "jane.roe@mailbox.org",
            "wang.lei@qq.com",
            "Can you draft an email to my landlord about the broken heater?",
        ] {
            assert!(!text.contains(planted), "{format} output holds {planted}");
        }
        assert!(!String::from_utf8_lossy(&out.stderr).contains(OPENAI_KEY));
    }
}

/// Words that must never appear outside quotes in a leakhound statement.
const WRITE_WORDS: &[&str] = &[
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "COPY",
    "GRANT",
    "REVOKE",
    "INTO",
    "LOCK",
    "SHARE",
    "VACUUM",
    "ANALYZE",
    "CLUSTER",
    "REINDEX",
    "REFRESH",
    "CALL",
    "DO",
    "EXECUTE",
    "PREPARE",
    "LISTEN",
    "NOTIFY",
    "LOAD",
    "DISCARD",
    "RESET",
    "COMMENT",
    "IMPORT",
    "SECURITY",
    "NEXTVAL",
    "SETVAL",
    "SET_CONFIG",
    "LO_IMPORT",
    "LO_EXPORT",
    "PG_READ_FILE",
    "PG_READ_BINARY_FILE",
    "PG_LS_DIR",
    "DBLINK",
    "PG_SLEEP",
];

/// The statement with quoted identifiers and literals blanked, so a hostile table name
/// (`"notes; DROP TABLE chat_log; --"`) is not mistaken for SQL, nor SQL hidden in one.
fn unquoted(sql: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => {
                if chars.peek() == Some(&q) {
                    chars.next();
                } else {
                    quote = None;
                    out.push(c);
                }
            }
            Some(_) => {}
            None => {
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    assert!(quote.is_none(), "unterminated quote in {sql}");
    out
}

#[derive(Debug, PartialEq)]
enum Kind {
    Read,
    Set,
    Begin,
    End,
}

/// The allowlist, written independently of the probe's: SELECT/SHOW, or exactly the
/// transaction and timeout statements; one statement, no comments, no write words.
fn kind(sql: &str) -> Kind {
    let bare = unquoted(sql);
    for bad in [";", "--", "/*", "$", "\\"] {
        assert!(!bare.contains(bad), "`{bad}` outside quotes in: {sql}");
    }
    for w in bare.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        assert!(
            !WRITE_WORDS.contains(&w.to_ascii_uppercase().as_str()),
            "write word {w} in: {sql}"
        );
    }
    match sql {
        "BEGIN TRANSACTION READ ONLY" => return Kind::Begin,
        "COMMIT" | "ROLLBACK" => return Kind::End,
        "SET statement_timeout = '5s'" | "SET idle_in_transaction_session_timeout = '30s'" => {
            return Kind::Set
        }
        _ => {}
    }
    let first = sql
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_ascii_uppercase();
    assert!(
        first == "SELECT" || first == "SHOW",
        "not allowlisted: {sql}"
    );
    Kind::Read
}

#[test]
fn the_server_log_proves_read_only_sessions() {
    let (Some(trust), Some(log_path)) = (server("LH_PG_TRUST"), server("LH_PG_TRUST_LOG")) else {
        return;
    };
    scan_json(&[&trust, "-p", "5432", "--sample-rows", "2"]);
    let log = std::fs::read_to_string(&log_path).unwrap();
    // log_line_prefix = '%m [%p] app=%a user=%u db=%d '
    let lines: Vec<&str> = log.lines().collect();
    let mut sessions: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        if !line.contains(" app=leakhound ") {
            continue;
        }
        let pid = line
            .split('[')
            .nth(1)
            .and_then(|r| r.split(']').next())
            .unwrap()
            .to_string();
        assert!(
            !line.contains(" ERROR: "),
            "leakhound caused a server error: {line}"
        );
        if let Some((_, sql)) = line.split_once(" LOG:  statement: ") {
            // Statements are one line: a tab-indented continuation would be hidden from us.
            if let Some(next) = lines.get(i + 1) {
                assert!(
                    !next.starts_with('\t'),
                    "multi-line statement: {line}\n{next}"
                );
            }
            sessions.entry(pid).or_default().push(sql.to_string());
        }
    }
    assert!(
        sessions.len() >= 3,
        "expected leakhound sessions in {log_path}: {sessions:#?}"
    );
    let mut samples = 0;
    for (pid, statements) in &sessions {
        let mut read_only = false;
        for sql in statements {
            match kind(sql) {
                Kind::Set => assert!(!read_only, "[{pid}] SET inside the transaction: {sql}"),
                Kind::Begin => {
                    assert!(!read_only, "[{pid}] nested BEGIN");
                    read_only = true;
                }
                Kind::End => read_only = false,
                Kind::Read => {
                    assert!(
                        read_only,
                        "[{pid}] read outside a READ ONLY transaction: {sql}"
                    );
                    if sql.contains(" FROM \"") {
                        samples += 1;
                        assert!(
                            sql.ends_with(" LIMIT 2") || sql.ends_with(" LIMIT 100"),
                            "{sql}"
                        );
                    }
                }
            }
        }
        assert!(!read_only, "[{pid}] transaction left open: {statements:#?}");
    }
    assert!(
        sessions
            .values()
            .flatten()
            .any(|s| s.contains("FROM \"public\".\"chat_log\" LIMIT 2")),
        "the sample of chat_log with --sample-rows 2 is not in the log"
    );
    assert!(samples >= 4, "expected sampling statements, saw {samples}");
}

#[test]
fn the_log_checker_is_not_vacuous() {
    assert_eq!(
        kind("SELECT left(\"a\"::text, 9) FROM \"x; DROP TABLE t\".\"t\" LIMIT 2"),
        Kind::Read
    );
    for bad in [
        "DROP TABLE t",
        "SELECT 1; DROP TABLE t",
        "SELECT * INTO t2 FROM t",
        "SELECT \"a\" FROM t; UPDATE t SET a = 1",
        "COPY t TO PROGRAM 'id'",
        "SET default_transaction_read_only = off",
        "BEGIN",
        "SELECT 'unterminated",
    ] {
        assert!(
            std::panic::catch_unwind(|| kind(bad)).is_err(),
            "{bad} passed the checker"
        );
    }
}
