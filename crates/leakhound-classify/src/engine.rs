//! The matcher: an Aho-Corasick keyword prefilter that opens small windows for keyed rules,
//! plus one multi-pattern regex for the few rules that have no keyword.
//!
//! Most bytes of real data contain no keyword at all, so most bytes are touched
//! only by the Aho-Corasick automaton; the per-rule regexes run on windows of a
//! few hundred bytes around each keyword hit.

use crate::rules::Rule;
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex_automata::{meta, util::captures::Captures, Anchored, Input};
use std::collections::HashMap;
use std::ops::Range;

/// A regex hit before validation.
#[derive(Debug, Clone)]
pub(crate) struct RawHit {
    pub rule: u32,
    pub value: Range<usize>,
}

/// The compiled rule set.
#[derive(Debug)]
pub(crate) struct Engine {
    pub rules: Vec<Rule>,
    ac: Option<AhoCorasick>,
    kw_rules: Vec<Vec<u32>>,
    always: Vec<u32>,
    always_set: Option<meta::Regex>,
    pub field_rules: Vec<u32>,
}

/// Longest match an always-on rule may produce; bounds the anchored confirmation.
const ALWAYS_MAX_MATCH: usize = 256;

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Result<Engine, crate::rules::RuleError> {
        let mut keyword_index: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut keywords: Vec<Vec<u8>> = Vec::new();
        let mut kw_rules: Vec<Vec<u32>> = Vec::new();
        let mut always = Vec::new();
        let mut field_rules = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            let i = i as u32;
            if rule.field.is_some() {
                field_rules.push(i);
                continue;
            }
            if rule.spec.keywords.is_empty() {
                always.push(i);
                continue;
            }
            for kw in &rule.spec.keywords {
                let k = kw.as_bytes().to_ascii_lowercase();
                let idx = *keyword_index.entry(k.clone()).or_insert_with(|| {
                    keywords.push(k);
                    kw_rules.push(Vec::new());
                    keywords.len() - 1
                });
                if !kw_rules[idx].contains(&i) {
                    kw_rules[idx].push(i);
                }
            }
        }
        let ac = if keywords.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&keywords)
                    .map_err(|e| crate::rules::RuleError::Invalid {
                        id: "(keywords)".into(),
                        message: e.to_string(),
                    })?,
            )
        };
        let always_set = if always.is_empty() {
            None
        } else {
            let hirs = always
                .iter()
                .map(|&i| {
                    let r = &rules[i as usize];
                    crate::rules::parse_relaxed(&r.spec.id, &r.spec.pattern)
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(
                meta::Regex::builder()
                    .configure(crate::rules::meta_config())
                    .build_many_from_hir(&hirs)
                    .map_err(|e| crate::rules::RuleError::Pattern {
                        id: "(always-on set)".into(),
                        message: e.to_string(),
                    })?,
            )
        };
        Ok(Engine {
            rules,
            ac,
            kw_rules,
            always,
            always_set,
            field_rules,
        })
    }

    fn push_captures(&self, rule: u32, caps: &Captures, out: &mut Vec<RawHit>) {
        let Some(whole) = caps.get_match() else {
            return;
        };
        let value = self.rules[rule as usize]
            .compiled()
            .secret_group
            .and_then(|g| caps.get_group(g))
            .map(|s| s.range())
            .unwrap_or(whole.range());
        if value.is_empty() {
            return;
        }
        out.push(RawHit { rule, value });
    }

    /// Runs one rule over a range of the haystack.
    pub fn run_rule(&self, rule: u32, hay: &[u8], range: Range<usize>, out: &mut Vec<RawHit>) {
        let compiled = self.rules[rule as usize].compiled();
        let re = &compiled.regex;
        let mut input = Input::new(hay).range(range);
        if compiled.whole_match {
            // No capture engine: the DFA's match bounds are the value.
            while let Some(m) = re.search(&input) {
                if !m.is_empty() {
                    out.push(RawHit {
                        rule,
                        value: m.range(),
                    });
                }
                let next = m.end().max(m.start() + 1);
                if next > input.end() {
                    break;
                }
                input.set_start(next);
            }
            return;
        }
        let mut caps = re.create_captures();
        loop {
            re.search_captures(&input, &mut caps);
            let Some(m) = caps.get_match() else {
                break;
            };
            self.push_captures(rule, &caps, out);
            // Resume where the value ended, not the whole match: a rule that consumes a
            // trailing delimiter must still see the next token that starts right after it.
            let value_end = compiled
                .secret_group
                .and_then(|g| caps.get_group(g))
                .map_or(m.end(), |s| s.end);
            let next = value_end.max(m.start() + 1);
            if next > input.end() {
                break;
            }
            input.set_start(next);
        }
    }

    /// Nanoseconds spent in the keyword automaton alone and in the always-on set alone.
    pub fn stage_times(&self, hay: &[u8]) -> (u128, u128, usize, u128) {
        let t = std::time::Instant::now();
        let mut hits = 0;
        if let Some(ac) = &self.ac {
            hits = ac.find_overlapping_iter(hay).count();
        }
        let ac_ns = t.elapsed().as_nanos();
        let t = std::time::Instant::now();
        if let Some(set) = &self.always_set {
            let _ = set.find_iter(hay).count();
        }
        let set_ns = t.elapsed().as_nanos();
        let t = std::time::Instant::now();
        let mut out = Vec::new();
        self.scan(hay, &mut out);
        (ac_ns, set_ns, hits, t.elapsed().as_nanos())
    }

    /// Per-rule cost on `hay` with merged windows: (rule, windows, window bytes, nanoseconds).
    pub fn profile(&self, hay: &[u8]) -> Vec<(u32, u64, u64, u128)> {
        let mut stats: Vec<(u32, u64, u64, u128)> =
            (0..self.rules.len() as u32).map(|r| (r, 0, 0, 0)).collect();
        let windows = self.windows(hay);
        let mut out = Vec::new();
        for (r, range) in windows {
            let t = std::time::Instant::now();
            stats[r as usize].1 += 1;
            stats[r as usize].2 += range.len() as u64;
            self.run_rule(r, hay, range, &mut out);
            stats[r as usize].3 += t.elapsed().as_nanos();
        }
        stats
    }

    /// The windows each keyed rule must search: keyword hits widened by the rule's window,
    /// merged per rule.
    fn windows(&self, hay: &[u8]) -> Vec<(u32, Range<usize>)> {
        let Some(ac) = &self.ac else {
            return Vec::new();
        };
        // One open window per rule; keyword hits arrive in order, so merging with the open
        // window is enough to keep windows disjoint.
        let mut open: Vec<Option<Range<usize>>> = vec![None; self.rules.len()];
        let mut closed: Vec<(u32, Range<usize>)> = Vec::new();
        for m in ac.find_overlapping_iter(hay) {
            for &r in &self.kw_rules[m.pattern().as_usize()] {
                let (before, after) = self.rules[r as usize].window();
                let range = m.start().saturating_sub(before)..(m.end() + after).min(hay.len());
                match &mut open[r as usize] {
                    Some(cur) if range.start <= cur.end => {
                        cur.end = cur.end.max(range.end);
                        cur.start = cur.start.min(range.start);
                    }
                    slot => {
                        if let Some(prev) = slot.replace(range) {
                            closed.push((r, prev));
                        }
                    }
                }
            }
        }
        for (r, slot) in open.into_iter().enumerate() {
            if let Some(range) = slot {
                closed.push((r as u32, range));
            }
        }
        closed
    }

    /// All candidate hits of the non-field rules in `hay`.
    pub fn scan(&self, hay: &[u8], out: &mut Vec<RawHit>) {
        for (r, range) in self.windows(hay) {
            self.run_rule(r, hay, range, out);
        }
        if let Some(set) = &self.always_set {
            let mut input = Input::new(hay);
            let mut caps: Vec<Captures> = self
                .always
                .iter()
                .map(|&r| self.rules[r as usize].compiled().regex.create_captures())
                .collect();
            while let Some(m) = set.search(&input) {
                // The set reports only the leftmost pattern; confirm every always-on rule
                // anchored here so that, say, a card number is not hidden by a phone shape.
                let end = (m.start() + ALWAYS_MAX_MATCH).min(hay.len());
                let mut furthest = m.end();
                let anchored = Input::new(hay)
                    .range(m.start()..end)
                    .anchored(Anchored::Yes);
                for (i, &r) in self.always.iter().enumerate() {
                    let re = &self.rules[r as usize].compiled().regex;
                    // The DFA answers "does it match here" cheaply; captures only on a yes.
                    if re.search_half(&anchored).is_none() {
                        continue;
                    }
                    re.search_captures(&anchored, &mut caps[i]);
                    if let Some(am) = caps[i].get_match() {
                        furthest = furthest.max(am.end());
                        self.push_captures(r, &caps[i], out);
                    }
                }
                let next = furthest.max(m.start() + 1);
                if next >= hay.len() {
                    break;
                }
                input.set_start(next);
            }
        }
    }

    /// Field-keyed rules whose field pattern matches `field`.
    pub fn field_rules_for<'a>(&'a self, field: &'a str) -> impl Iterator<Item = u32> + 'a {
        self.field_rules.iter().copied().filter(move |&r| {
            self.rules[r as usize]
                .field
                .as_ref()
                .is_some_and(|f| f.is_match(field.as_bytes()))
        })
    }

    /// Number of distinct keywords in the prefilter.
    pub fn keyword_count(&self) -> usize {
        self.kw_rules.len()
    }
}
