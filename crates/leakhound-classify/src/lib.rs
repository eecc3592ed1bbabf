//! The content classifier: finds secrets, LLM chat transcripts, personal data and
//! operational metadata in bytes, and returns them redacted and fingerprinted.
//!
//! [`Classifier::scan`] takes free text (a file chunk, a log); [`Classifier::scan_value`]
//! takes one value with the name of the field it came from (a column, a JSON key),
//! which the scanner uses for sampled database cells.
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

mod context;
mod decode;
mod engine;
pub mod files;
pub mod redact;
pub mod rules;
pub mod stream;
pub mod validate;

use engine::{Engine, RawHit};
pub use leakhound_model::{Category, Confidence, Severity};
pub use rules::{Example, Rule, RuleError, RuleSpec};
use std::ops::Range;
use std::sync::Arc;

/// How a match was reached when it was not in the raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decoding {
    /// Inside a JSON string (escapes decoded, or a nested JSON document).
    Json,
    /// Inside a base64 string.
    Base64,
}

/// One finding in scanned bytes.
#[derive(Debug, Clone)]
pub struct Match {
    /// Rule id, e.g. `lh.openai.project-key`.
    pub rule: Arc<str>,
    /// Category of the rule.
    pub category: Category,
    /// Type reported with the match, e.g. `openai.project-key` or `chat.messages-json`.
    pub kind: Arc<str>,
    /// Byte span of the value in the scanned input. For decoded matches this is the
    /// span of the enclosing encoded string (or record when it cannot be located).
    pub span: Range<usize>,
    /// Redacted form of the value.
    pub evidence: String,
    /// Hex SHA-256 of the value.
    pub fingerprint: String,
    /// Length of the value in bytes.
    pub length: usize,
    /// Confidence after context.
    pub confidence: Confidence,
    /// Severity of the rule.
    pub severity: Severity,
    /// Set when the match was found after decoding.
    pub decoded: Option<Decoding>,
    /// The full value; only present when the classifier was built with `reveal`.
    pub value: Option<String>,
    /// The rule reports one match per record (see `RuleSpec::record`).
    record: bool,
    /// The span grew by merging; evidence and fingerprint are stale until `finish`.
    extended: bool,
}

/// Classifier settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Keep full values in matches (the user's explicit `--reveal`).
    pub reveal: bool,
    /// Decode JSON records and base64 strings and scan inside them.
    pub decode: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            reveal: false,
            decode: true,
        }
    }
}

/// The compiled rule set plus the detectors around it.
#[derive(Debug)]
pub struct Classifier {
    engine: Engine,
    opts: Options,
}

/// How deep nested JSON strings are followed; base64 is followed once.
const MAX_DEPTH: u8 = 3;

impl Classifier {
    /// The built-in rules plus `extra` (user rules, e.g. from `--rules FILE`).
    pub fn new(extra: Vec<RuleSpec>, opts: Options) -> Result<Classifier, RuleError> {
        let mut specs = rules::builtin_specs()?;
        let builtin = specs.len();
        specs.extend(extra);
        let compiled = rules::compile_all(specs)?;
        // A user's rule fails at load time, not in the middle of a scan.
        for r in &compiled[builtin..] {
            r.compile_now()?;
        }
        Ok(Classifier {
            engine: Engine::new(compiled)?,
            opts,
        })
    }

    /// The built-in rules with default options.
    pub fn builtin() -> Result<Classifier, RuleError> {
        Classifier::new(Vec::new(), Options::default())
    }

    /// The compiled rules, in file order.
    pub fn rules(&self) -> &[Rule] {
        &self.engine.rules
    }

    /// Number of distinct prefilter keywords (for `rules list`).
    pub fn keyword_count(&self) -> usize {
        self.engine.keyword_count()
    }

    /// Per-rule cost of the keyed rules on `hay`:
    /// (rule id, windows, window bytes, nanoseconds). A tuning aid for rule authors.
    #[doc(hidden)]
    pub fn profile_rules(&self, hay: &[u8]) -> Vec<(String, u64, u64, u128)> {
        self.engine
            .profile(hay)
            .into_iter()
            .map(|(r, w, b, t)| (self.engine.rules[r as usize].spec.id.clone(), w, b, t))
            .collect()
    }

    /// Nanoseconds in the keyword automaton and in the always-on set, and keyword hits.
    #[doc(hidden)]
    pub fn profile_stages(&self, hay: &[u8]) -> (u128, u128, usize, u128) {
        self.engine.stage_times(hay)
    }

    /// The options it was built with.
    pub fn options(&self) -> Options {
        self.opts
    }

    /// Scans free text. Lines are records: a chat transcript on one line is one match.
    pub fn scan(&self, hay: &[u8]) -> Vec<Match> {
        let mut out = Vec::new();
        self.scan_at(hay, 0, true, &mut out);
        finish(hay, &mut out, true);
        out
    }

    /// Scans one value (a cell, a key's value) with the name of its field as context.
    /// The whole value is one record.
    pub fn scan_value(&self, value: &[u8], field: Option<&str>) -> Vec<Match> {
        let mut out = Vec::new();
        self.scan_at(value, 0, false, &mut out);
        if let Some(field) = field {
            self.scan_field(value, field, 0..value.len(), None, &mut out);
            context::adjust(field, &mut out);
        } else if self.opts.decode {
            // A bare value may itself be base64 of something sensitive.
            if let Some(decoded) = decode::base64_text(value) {
                self.scan_nested(
                    &decoded,
                    0..value.len(),
                    Decoding::Base64,
                    MAX_DEPTH,
                    &mut out,
                );
            }
        }
        finish(value, &mut out, false);
        out
    }

    fn scan_at(&self, hay: &[u8], depth: u8, lines: bool, out: &mut Vec<Match>) {
        let mut hits = Vec::new();
        self.engine.scan(hay, &mut hits);
        for h in hits {
            if let Some(m) = self.accept(hay, &h) {
                out.push(m);
            }
        }
        if self.opts.decode && depth < MAX_DEPTH {
            let records: Vec<Range<usize>> = if lines {
                decode::json_lines(hay).collect()
            } else if decode::looks_like_json(hay) {
                std::iter::once(0..hay.len()).collect()
            } else {
                Vec::new()
            };
            self.decode_records(hay, records, depth, out);
        }
    }

    /// Walks JSON records: every string leaf gets the field rules of its key, a rescan when
    /// decoding changed it, and one base64 attempt. Matches map onto the leaf's raw span.
    fn decode_records(
        &self,
        hay: &[u8],
        records: Vec<Range<usize>>,
        depth: u8,
        out: &mut Vec<Match>,
    ) {
        // JSON keys repeat on every row; match each name against the field rules once.
        let mut field_cache: std::collections::HashMap<String, Vec<u32>> =
            std::collections::HashMap::new();
        for rec in records {
            let record = &hay[rec.clone()];
            let unicode_escapes = memchr::memmem::find(record, b"\\u").is_some();
            decode::walk_json(record, &mut |key, text| {
                let mut found = Vec::new();
                if let Some(key) = key {
                    if !field_cache.contains_key(key) {
                        let rules = self.engine.field_rules_for(key).collect();
                        field_cache.insert(key.to_string(), rules);
                    }
                    let rules = &field_cache[key];
                    if !rules.is_empty() {
                        self.scan_field_rules(text, rules, 0..text.len(), None, &mut found);
                    }
                }
                if decode::looks_like_json(text) && !unicode_escapes {
                    // A JSON document inside a string: its characters were already scanned
                    // raw (the rules accept escaped quotes), so only its structure is new.
                    // Walk it, so its keys give context and its own escaped leaves are
                    // rescanned, instead of scanning all of it again.
                    if depth + 1 < MAX_DEPTH {
                        self.decode_records(
                            text,
                            std::iter::once(0..text.len()).collect(),
                            depth + 1,
                            &mut found,
                        );
                    }
                } else if decode::worth_rescanning(text, unicode_escapes) {
                    self.scan_at(text, depth + 1, false, &mut found);
                }
                for m in &mut found {
                    m.decoded.get_or_insert(Decoding::Json);
                }
                if depth < MAX_DEPTH {
                    if let Some(decoded) = decode::base64_text(text) {
                        let start = found.len();
                        self.scan_at(&decoded, MAX_DEPTH, false, &mut found);
                        for m in &mut found[start..] {
                            m.decoded = Some(Decoding::Base64);
                        }
                    }
                }
                if found.is_empty() {
                    return;
                }
                let span = decode::raw_span(record, text)
                    .map(|s| rec.start + s.start..rec.start + s.end)
                    .unwrap_or(rec.clone());
                for mut m in found {
                    m.span = span.clone();
                    out.push(m);
                }
            });
        }
    }

    /// Scans decoded bytes and maps every match onto `span` of the outer input.
    fn scan_nested(
        &self,
        inner: &[u8],
        span: Range<usize>,
        how: Decoding,
        depth: u8,
        out: &mut Vec<Match>,
    ) {
        let mut nested = Vec::new();
        self.scan_at(inner, depth, false, &mut nested);
        for mut m in nested {
            m.span = span.clone();
            m.decoded = Some(m.decoded.unwrap_or(how));
            out.push(m);
        }
    }

    fn scan_field(
        &self,
        value: &[u8],
        field: &str,
        span: Range<usize>,
        how: Option<Decoding>,
        out: &mut Vec<Match>,
    ) {
        let rules: Vec<u32> = self.engine.field_rules_for(field).collect();
        self.scan_field_rules(value, &rules, span, how, out);
    }

    fn scan_field_rules(
        &self,
        value: &[u8],
        rules: &[u32],
        span: Range<usize>,
        how: Option<Decoding>,
        out: &mut Vec<Match>,
    ) {
        let mut hits = Vec::new();
        for &r in rules {
            self.engine.run_rule(r, value, 0..value.len(), &mut hits);
        }
        for h in hits {
            if let Some(mut m) = self.accept(value, &h) {
                if how.is_some() || span != (0..value.len()) {
                    m.span = span.clone();
                    m.decoded = how;
                }
                out.push(m);
            }
        }
    }

    /// Validation, placeholder and entropy checks; then redaction.
    fn accept(&self, hay: &[u8], hit: &RawHit) -> Option<Match> {
        let rule = &self.engine.rules[hit.rule as usize];
        let value = &hay[hit.value.clone()];
        let spec = &rule.spec;
        if !spec.allow_placeholders
            && spec.category == Category::Secret
            && validate::looks_like_placeholder(value)
        {
            return None;
        }
        if let Some(min) = spec.min_entropy {
            if validate::shannon_entropy(value) < min {
                return None;
            }
        }
        if !spec.validators.iter().all(|v| v.check(value)) {
            return None;
        }
        Some(Match {
            rule: rule.id.clone(),
            category: spec.category,
            kind: rule.kind.clone(),
            span: hit.value.clone(),
            evidence: redact::evidence(spec.category, &rule.kind, value),
            fingerprint: redact::fingerprint(value),
            length: value.len(),
            confidence: spec.confidence,
            severity: rule.severity,
            decoded: None,
            value: self
                .opts
                .reveal
                .then(|| String::from_utf8_lossy(value).into_owned()),
            record: spec.record,
            extended: false,
        })
    }
}

/// Merges record-level chat matches, drops duplicates, and orders by position.
fn finish(hay: &[u8], out: &mut Vec<Match>, lines: bool) {
    out.sort_by(|a, b| {
        a.span
            .start
            .cmp(&b.span.start)
            .then(b.span.end.cmp(&a.span.end))
    });
    // The same value found raw and again after decoding is one finding.
    let mut seen = std::collections::HashSet::new();
    out.retain(|m| seen.insert((m.rule.clone(), m.fingerprint.clone(), m.span.start)));
    // A decoded match that a raw match of the same rule already covers is the same finding
    // seen through an encoding (a PEM key with `\n` escapes raw, with newlines decoded).
    let raw: std::collections::HashMap<Arc<str>, Vec<Range<usize>>> = out
        .iter()
        .filter(|m| m.decoded.is_none())
        .fold(Default::default(), |mut acc, m| {
            acc.entry(m.rule.clone()).or_default().push(m.span.clone());
            acc
        });
    let dup: Vec<bool> = out
        .iter()
        .map(|m| {
            m.decoded.is_some()
                && raw
                    .get(&m.rule)
                    .is_some_and(|spans| spans.iter().any(|s| overlaps(s, &m.span)))
        })
        .collect();
    let mut i = 0;
    out.retain(|_| {
        i += 1;
        !dup[i - 1]
    });

    // Two matches share a record when no newline separates them (in line mode).
    let same_record = |a: &Match, b: &Match| {
        !lines
            || hay
                .get(a.span.start.min(b.span.start)..a.span.start.max(b.span.start))
                .is_some_and(|between| memchr::memchr(b'\n', between).is_none())
    };

    // Record rules: one match per record, or per run of records separated only by
    // whitespace (a stack trace, a `User:`/`Assistant:` transcript). All chat rules
    // merge with each other, so a transcript is reported once whatever its shapes.
    let mut merged: Vec<Match> = Vec::with_capacity(out.len());
    for m in out.drain(..) {
        if m.record {
            let joins = |p: &Match| {
                p.record
                    && (p.rule == m.rule
                        || (p.category == Category::Chat && m.category == Category::Chat))
            };
            if let Some(prev) = merged.iter_mut().rev().take(16).find(|p| joins(p)) {
                let same_record = same_record(prev, &m);
                let gap = hay.get(prev.span.end..m.span.start).unwrap_or_default();
                let gap_blank = m.span.start <= prev.span.end
                    || (gap.len() <= 4096 && gap.iter().all(u8::is_ascii_whitespace));
                // A stack trace interleaves frames with source lines; a chat row on the next
                // line is a different value, so only non-chat records bridge short gaps.
                let gap_short = m.category != Category::Chat
                    && gap.len() <= 512
                    && memchr::memchr_iter(b'\n', gap).count() <= 3;
                if same_record || gap_blank || gap_short {
                    if m.confidence > prev.confidence {
                        prev.rule = m.rule.clone();
                        prev.kind = m.kind.clone();
                        prev.confidence = m.confidence;
                        prev.severity = m.severity;
                    }
                    if m.decoded.is_none() && prev.decoded.is_none() {
                        prev.span.end = prev.span.end.max(m.span.end);
                        prev.extended = true;
                    }
                    continue;
                }
            }
        }
        merged.push(m);
    }
    // Evidence and fingerprint of a merged record cover all of it; computed once here.
    for m in merged.iter_mut().filter(|m| m.extended) {
        let whole = &hay[m.span.clone()];
        m.length = whole.len();
        m.fingerprint = redact::fingerprint(whole);
        m.evidence = redact::evidence(m.category, &m.kind, whole);
        if m.value.is_some() {
            m.value = Some(String::from_utf8_lossy(whole).into_owned());
        }
        m.extended = false;
    }

    // Overlapping values in one category: keep the most specific reading.
    let mut kept: Vec<Match> = Vec::with_capacity(merged.len());
    'next: for m in merged {
        if !m.record {
            // Sorted by start, so an overlapping reading is among the last few kept.
            for k in kept.iter_mut().rev().take(8) {
                if k.category == m.category && k.decoded == m.decoded && overlaps(&k.span, &m.span)
                {
                    if better(&m, k) {
                        *k = m;
                    }
                    continue 'next;
                }
            }
        }
        kept.push(m);
    }
    *out = kept;
}

fn overlaps(a: &Range<usize>, b: &Range<usize>) -> bool {
    a.start < b.end && b.start < a.end
}

fn better(a: &Match, b: &Match) -> bool {
    (a.confidence, a.length) > (b.confidence, b.length)
}

/// A rule that failed `rules check`.
#[derive(Debug, Clone)]
pub struct CheckFailure {
    /// Rule id.
    pub rule: String,
    /// What went wrong.
    pub problem: String,
}

impl Classifier {
    /// Whether `rule` fires on an example, before overlap resolution: a rule is checked on
    /// its own, even where a more specific rule would win the same text.
    fn example_matches(&self, ex: &Example, rule: &str) -> bool {
        let (field, text) = ex.parts();
        let text = text.as_bytes();
        let mut found = Vec::new();
        self.scan_at(text, 0, field.is_none(), &mut found);
        if let Some(field) = field {
            self.scan_field(text, field, 0..text.len(), None, &mut found);
        }
        found.iter().any(|m| &*m.rule == rule)
    }

    /// Runs every rule's examples (must match) and negative examples (must not), and
    /// checks the conventions: at least one example, and a keyword for every secret rule.
    pub fn check_rules(&self) -> Vec<CheckFailure> {
        let mut out = Vec::new();
        for r in self.rules() {
            let spec = &r.spec;
            let mut fail = |problem: String| {
                out.push(CheckFailure {
                    rule: spec.id.clone(),
                    problem,
                })
            };
            if let Err(e) = r.compile_now() {
                fail(e.to_string());
                continue;
            }
            if spec.examples.is_empty() {
                fail("no examples".into());
            }
            if spec.category == Category::Secret && spec.keywords.is_empty() && spec.field.is_none()
            {
                fail("secret rule without keywords".into());
            }
            for k in &spec.keywords {
                // Short keywords fire everywhere and turn the prefilter into a full scan.
                if spec.category == Category::Secret && k.len() < 3 {
                    fail(format!("keyword `{k}` is shorter than 3 bytes"));
                }
            }
            for ex in &spec.examples {
                if !self.example_matches(ex, &spec.id) {
                    fail(format!("example not matched: {:?}", ex.parts().1));
                }
            }
            for ex in &spec.negative_examples {
                if self.example_matches(ex, &spec.id) {
                    fail(format!("negative example matched: {:?}", ex.parts().1));
                }
            }
        }
        out
    }
}
