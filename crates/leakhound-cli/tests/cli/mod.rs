mod classify;
mod rules;
mod scan_clickhouse;
mod scan_hostile;
mod scan_import;
mod scan_postgres;
mod scan_redis;
mod scan_store;
mod scan_syn;
mod servers;

use assert_cmd::Command;

pub fn leakhound() -> Command {
    let mut c = Command::cargo_bin("leakhound").unwrap();
    // Scans record into the default store; keep the tests' out of the user's home.
    c.env(
        "XDG_DATA_HOME",
        std::env::temp_dir().join("leakhound-tests"),
    );
    c
}

/// A synthetic OpenAI project key (random, not a credential).
pub const OPENAI_KEY: &str =
    "sk-proj-Ab3dEf6hIj9kLmN0pQr2StUvWxYz12T3BlbkFJq8Rt5Yu1Io3Pa7Sd9Fg2Hj4Kl6Zx";

pub fn jsonl(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad jsonl line {l:?}: {e}")))
        .collect()
}

/// Fails unless `sarif` validates against the official SARIF 2.1.0 schema (OASIS, as
/// published by SchemaStore), kept in the test data.
pub fn assert_valid_sarif(sarif: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../data/sarif-schema-2.1.0.json")).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(sarif)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
