//! Shared output helpers: loading user rules and the JSON shape of a classify match.

use anyhow::Context;
use leakhound_classify::files::FileMatch;
use leakhound_classify::{Classifier, Options, RuleSpec};
use serde::Serialize;
use std::path::PathBuf;

/// Builds the classifier from the built-in rules plus the user's rule files.
pub fn classifier(rule_files: &[PathBuf], opts: Options) -> anyhow::Result<Classifier> {
    let mut extra: Vec<RuleSpec> = Vec::new();
    for f in rule_files {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading rules from {}", f.display()))?;
        extra.extend(
            leakhound_classify::rules::parse_rule_file(&f.to_string_lossy(), &text)
                .with_context(|| format!("parsing {}", f.display()))?,
        );
    }
    Classifier::new(extra, opts).context("compiling rules")
}

/// One match as written by `--format json|jsonl`.
#[derive(Serialize)]
pub struct JsonMatch<'a> {
    pub path: &'a str,
    pub line: u64,
    pub column: u64,
    pub offset: u64,
    pub rule: &'a str,
    pub category: &'static str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub confidence: &'static str,
    pub severity: &'static str,
    pub fingerprint: &'a str,
    pub evidence: &'a str,
    pub length: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decoded: Option<leakhound_classify::Decoding>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a str>,
}

impl<'a> From<&'a FileMatch> for JsonMatch<'a> {
    fn from(f: &'a FileMatch) -> Self {
        JsonMatch {
            path: &f.path,
            line: f.line,
            column: f.column,
            offset: f.offset,
            rule: &f.m.rule,
            category: f.m.category.as_str(),
            kind: &f.m.kind,
            confidence: f.m.confidence.as_str(),
            severity: f.m.severity.as_str(),
            fingerprint: &f.m.fingerprint,
            evidence: &f.m.evidence,
            length: f.m.length,
            decoded: f.m.decoded,
            value: f.m.value.as_deref(),
        }
    }
}
