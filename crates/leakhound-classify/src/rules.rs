//! Rule files: the YAML schema, the embedded built-in set, and compilation into regexes.
//!
//! Rules are data so that adding a detector is a reviewed YAML change with its
//! own positive and negative examples, checked by `leakhound rules check`.

use crate::validate::Validator;
use leakhound_model::{Category, Confidence, Severity};
use regex_automata::{meta, util::syntax};
use regex_syntax::hir::{Hir, HirKind};
use serde::Deserialize;
use std::sync::Arc;

/// The built-in rule files, embedded at build time.
pub const BUILTIN_RULE_FILES: &[(&str, &str)] = &[
    ("ai.yaml", include_str!("../rules/ai.yaml")),
    ("cloud.yaml", include_str!("../rules/cloud.yaml")),
    ("code.yaml", include_str!("../rules/code.yaml")),
    ("saas.yaml", include_str!("../rules/saas.yaml")),
    ("generic.yaml", include_str!("../rules/generic.yaml")),
    ("chat.yaml", include_str!("../rules/chat.yaml")),
    ("pii.yaml", include_str!("../rules/pii.yaml")),
    ("ops.yaml", include_str!("../rules/ops.yaml")),
];

/// One file of rules.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// The rules it defines.
    pub rules: Vec<RuleSpec>,
}

/// An example in a rule file: plain text, or a value with the field name it was found under.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Example {
    /// Text scanned as-is.
    Text(String),
    /// A value scanned with a field (column, key) name as context.
    Field {
        /// The field name.
        field: String,
        /// The value.
        value: String,
    },
}

impl Example {
    /// The field name and the text.
    pub fn parts(&self) -> (Option<&str>, &str) {
        match self {
            Example::Text(t) => (None, t),
            Example::Field { field, value } => (Some(field), value),
        }
    }
}

/// A rule as written in YAML.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// Namespaced id, e.g. `lh.openai.project-key`.
    pub id: String,
    /// Human name.
    pub name: String,
    /// secret, chat, pii or ops.
    pub category: Category,
    /// The type reported with a match; defaults to the id without its `lh.` prefix.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// What it finds and why it matters.
    #[serde(default)]
    pub description: String,
    /// Regex (regex-automata syntax, ASCII classes). A group named `secret`, else group 1,
    /// else the whole match, is the value that is validated, fingerprinted and redacted.
    pub pattern: String,
    /// Case-insensitive literals; the regex runs only near one of them. Empty means the
    /// rule is in the always-on multi-pattern set (keep those few: they scan every byte).
    #[serde(default)]
    pub keywords: Vec<String>,
    /// Bytes searched on each side of a keyword hit (default 256).
    #[serde(default)]
    pub window: Option<usize>,
    /// Bytes searched before a keyword hit, when it differs from `window` (a keyword that
    /// starts the match needs few bytes before it and many after).
    #[serde(default)]
    pub window_before: Option<usize>,
    /// Bytes searched after a keyword hit, when it differs from `window`.
    #[serde(default)]
    pub window_after: Option<usize>,
    /// Checks the value must pass.
    #[serde(default)]
    pub validators: Vec<Validator>,
    /// Minimum Shannon entropy (bits per byte) of the value.
    #[serde(default)]
    pub min_entropy: Option<f64>,
    /// Confidence of a match before context adjusts it.
    #[serde(default = "default_confidence")]
    pub confidence: Confidence,
    /// Severity of a match; defaults by category.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// Regex over the field name: the rule then runs only on values found under a matching
    /// field (a column, a JSON key), anchored to the whole value.
    #[serde(default)]
    pub field: Option<String>,
    /// Report one match per record (line, cell), spanning all hits; consecutive records
    /// separated only by whitespace merge too. Chat rules merge with each other.
    #[serde(default)]
    pub record: bool,
    /// Skip the placeholder filter (for rules whose values are not random tokens).
    #[serde(default)]
    pub allow_placeholders: bool,
    /// Texts this rule must match.
    #[serde(default)]
    pub examples: Vec<Example>,
    /// Texts this rule must not match.
    #[serde(default)]
    pub negative_examples: Vec<Example>,
    /// Where the format is documented.
    #[serde(default)]
    pub references: Vec<String>,
}

fn default_confidence() -> Confidence {
    Confidence::Medium
}

/// A compiled rule.
#[derive(Debug)]
pub struct Rule {
    /// The YAML it came from.
    pub spec: RuleSpec,
    /// Shared id, cloned into every match.
    pub id: Arc<str>,
    /// Shared type, cloned into every match.
    pub kind: Arc<str>,
    /// Severity after defaults.
    pub severity: Severity,
    /// Compiled on first use: most rules never see their keyword in a given input, and
    /// compiling three hundred regexes up front costs more than scanning a small file.
    compiled: std::sync::OnceLock<Compiled>,
    pub(crate) field: Option<meta::Regex>,
}

#[derive(Debug)]
pub(crate) struct Compiled {
    pub regex: meta::Regex,
    /// The capture group holding the value: `secret`, else 1, else none (whole match).
    pub secret_group: Option<usize>,
    /// The value is the whole match, so a plain search (no capture engine) is enough.
    pub whole_match: bool,
}

fn compile_with_group(id: &str, pattern: &str) -> Result<Compiled, RuleError> {
    let regex = compile_regex(id, pattern)?;
    let names: Vec<Option<&str>> = regex.group_info().pattern_names(0.into()).collect();
    let secret_group = names
        .iter()
        .position(|n| *n == Some("secret"))
        .or(if names.len() > 1 { Some(1) } else { None });
    // `(?P<secret>...)` around the entire pattern: captures would only repeat the match.
    let whole_match = secret_group.is_none()
        || regex_automata::util::syntax::parse_with(pattern, &syntax_config())
            .map(|hir| match hir.kind() {
                regex_syntax::hir::HirKind::Capture(c) => c.name.as_deref() == Some("secret"),
                _ => false,
            })
            .unwrap_or(false);
    Ok(Compiled {
        regex,
        secret_group,
        whole_match,
    })
}

/// A rule that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    /// YAML did not parse or had unknown fields.
    #[error("{source_name}: {message}")]
    Parse {
        /// File name.
        source_name: String,
        /// Parser message.
        message: String,
    },
    /// The pattern did not compile.
    #[error("rule {id}: bad pattern: {message}")]
    Pattern {
        /// Rule id.
        id: String,
        /// Compiler message.
        message: String,
    },
    /// Two rules share an id.
    #[error("rule {0}: duplicate id")]
    Duplicate(String),
    /// A required field is missing or malformed.
    #[error("rule {id}: {message}")]
    Invalid {
        /// Rule id.
        id: String,
        /// What is wrong.
        message: String,
    },
}

/// Parses one YAML rule file.
pub fn parse_rule_file(source_name: &str, text: &str) -> Result<Vec<RuleSpec>, RuleError> {
    serde_norway::from_str::<RuleFile>(text)
        .map(|f| f.rules)
        .map_err(|e| RuleError::Parse {
            source_name: source_name.to_string(),
            message: e.to_string(),
        })
}

/// The built-in rules, parsed (not compiled).
pub fn builtin_specs() -> Result<Vec<RuleSpec>, RuleError> {
    let mut out = Vec::new();
    for (name, text) in BUILTIN_RULE_FILES {
        out.extend(parse_rule_file(name, text)?);
    }
    Ok(out)
}

pub(crate) fn syntax_config() -> syntax::Config {
    // ASCII semantics keep every rule inside the lazy DFA (Unicode word boundaries
    // force a slow fallback on non-ASCII input); literal CJK text in a pattern still
    // matches its UTF-8 bytes.
    syntax::Config::new().unicode(false).utf8(false)
}

/// Lazy-DFA cache per rule. The default (2 MiB) makes the larger rules rebuild states
/// over and over; measured with `examples/rule_profile.rs` on the benchmark corpus.
const LAZY_DFA_CACHE: usize = 8 << 20;

/// Counted repeats above this become open-ended. A `{20,2000}` compiles to two thousand
/// NFA states and a lazy DFA that keeps rebuilding itself; the keyword window already
/// bounds every search, so the upper count adds cost and no safety.
const MAX_COUNTED_REPEAT: u32 = 64;

fn relax(hir: Hir) -> Hir {
    match hir.into_kind() {
        HirKind::Repetition(mut rep) => {
            if rep.max.is_some_and(|m| m > MAX_COUNTED_REPEAT) {
                rep.max = None;
            }
            rep.sub = Box::new(relax(*rep.sub));
            Hir::repetition(rep)
        }
        HirKind::Capture(mut cap) => {
            cap.sub = Box::new(relax(*cap.sub));
            Hir::capture(cap)
        }
        HirKind::Concat(subs) => Hir::concat(subs.into_iter().map(relax).collect()),
        HirKind::Alternation(subs) => Hir::alternation(subs.into_iter().map(relax).collect()),
        HirKind::Empty => Hir::empty(),
        HirKind::Literal(l) => Hir::literal(l.0),
        HirKind::Class(c) => Hir::class(c),
        HirKind::Look(l) => Hir::look(l),
    }
}

/// Parses with the engine's syntax and relaxes large counted repeats.
pub(crate) fn parse_relaxed(id: &str, pattern: &str) -> Result<Hir, RuleError> {
    regex_automata::util::syntax::parse_with(pattern, &syntax_config())
        .map(relax)
        .map_err(|e| RuleError::Pattern {
            id: id.to_string(),
            message: e.to_string(),
        })
}

pub(crate) fn meta_config() -> meta::Config {
    meta::Config::new()
        .utf8_empty(false)
        .hybrid_cache_capacity(LAZY_DFA_CACHE)
}

pub(crate) fn compile_regex(id: &str, pattern: &str) -> Result<meta::Regex, RuleError> {
    let hir = parse_relaxed(id, pattern)?;
    meta::Regex::builder()
        .configure(meta_config())
        .build_from_hir(&hir)
        .map_err(|e| RuleError::Pattern {
            id: id.to_string(),
            message: e.to_string(),
        })
}

fn default_severity(category: Category, confidence: Confidence) -> Severity {
    match (category, confidence) {
        (Category::Secret, Confidence::Low) => Severity::Medium,
        (Category::Secret, _) => Severity::High,
        (Category::Chat, _) => Severity::High,
        (Category::Pii, _) => Severity::Medium,
        (Category::Ops, _) => Severity::Low,
    }
}

impl Rule {
    /// Compiles a spec.
    pub fn compile(spec: RuleSpec) -> Result<Rule, RuleError> {
        if !spec.id.contains('.') {
            return Err(RuleError::Invalid {
                id: spec.id.clone(),
                message: "id must be namespaced, e.g. `lh.vendor.kind`".into(),
            });
        }
        // Syntax errors surface now; the automata are built on first use.
        regex_automata::util::syntax::parse_with(&spec.pattern, &syntax_config()).map_err(|e| {
            RuleError::Pattern {
                id: spec.id.clone(),
                message: e.to_string(),
            }
        })?;
        let field = spec
            .field
            .as_deref()
            .map(|f| compile_regex(&spec.id, f))
            .transpose()?;
        let kind = spec
            .kind
            .clone()
            .unwrap_or_else(|| spec.id.strip_prefix("lh.").unwrap_or(&spec.id).to_string());
        let severity = spec
            .severity
            .unwrap_or_else(|| default_severity(spec.category, spec.confidence));
        if spec.keywords.iter().any(|k| k.is_empty()) {
            return Err(RuleError::Invalid {
                id: spec.id.clone(),
                message: "empty keyword".into(),
            });
        }
        Ok(Rule {
            id: spec.id.as_str().into(),
            kind: kind.into(),
            severity,
            compiled: std::sync::OnceLock::new(),
            field,
            spec,
        })
    }

    /// The compiled pattern. Patterns were syntax-checked at load, and every built-in rule
    /// is compiled by `rules check` in the test suite, so a failure here is a bug.
    pub(crate) fn compiled(&self) -> &Compiled {
        self.compiled.get_or_init(|| {
            compile_with_group(&self.spec.id, &self.spec.pattern).unwrap_or_else(|e| {
                panic!(
                    "rule {} passed its syntax check but failed to compile: {e}",
                    self.spec.id
                )
            })
        })
    }

    /// Compiles now (user rules, whose failures should be reported at load time).
    pub fn compile_now(&self) -> Result<(), RuleError> {
        if self.compiled.get().is_none() {
            let c = compile_with_group(&self.spec.id, &self.spec.pattern)?;
            let _ = self.compiled.set(c);
        }
        Ok(())
    }

    /// Bytes searched before and after a keyword hit.
    pub(crate) fn window(&self) -> (usize, usize) {
        let w = self.spec.window.unwrap_or(256);
        (
            self.spec.window_before.unwrap_or(w),
            self.spec.window_after.unwrap_or(w),
        )
    }
}

/// Compiles specs, rejecting duplicate ids.
pub fn compile_all(specs: Vec<RuleSpec>) -> Result<Vec<Rule>, RuleError> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(specs.len());
    for spec in specs {
        if !seen.insert(spec.id.clone()) {
            return Err(RuleError::Duplicate(spec.id));
        }
        out.push(Rule::compile(spec)?);
    }
    Ok(out)
}
