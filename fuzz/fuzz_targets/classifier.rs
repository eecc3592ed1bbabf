//! The classifier with the built-in rules on arbitrary bytes (sampled values are
//! whatever a server returned): `Classifier::scan` (free text, lines as records) and
//! `Classifier::scan_value` (one value, with and without a field name as context).
//! Input: `field NUL value`, or just a value. Properties: every match span lies inside
//! the scanned bytes; evidence is never the full value of a long match.
#![no_main]

use leakhound_classify::Classifier;
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

const MAX_INPUT: usize = 64 << 10;

fn classifier() -> &'static Classifier {
    static C: OnceLock<Classifier> = OnceLock::new();
    C.get_or_init(|| Classifier::builtin().expect("built-in rules compile"))
}

fn check(hay: &[u8], matches: &[leakhound_classify::Match]) {
    for m in matches {
        assert!(
            m.span.start <= m.span.end && m.span.end <= hay.len(),
            "span {:?} outside {} bytes ({})",
            m.span,
            hay.len(),
            m.rule
        );
        assert_eq!(m.fingerprint.len(), 64);
        assert!(m.value.is_none(), "value kept without reveal");
    }
}

fuzz_target!(|data: &[u8]| {
    let data = &data[..data.len().min(MAX_INPUT)];
    let c = classifier();
    check(data, &c.scan(data));
    check(data, &c.scan_value(data, None));
    if let Some(nul) = data.iter().position(|&b| b == 0) {
        if nul <= 64 {
            let field = String::from_utf8_lossy(&data[..nul]);
            let value = &data[nul + 1..];
            check(value, &c.scan_value(value, Some(&field)));
        }
    }
});
