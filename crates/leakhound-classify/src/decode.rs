//! Bounded decoding: JSON records and one level of base64, so that values hidden behind
//! escapes or encodings are scanned too.
//!
//! Every step has a size cap: a hostile value cannot make the classifier parse
//! or allocate more than a few MiB per record.

use base64::Engine as _;
use std::ops::Range;

/// Largest JSON record that is parsed; longer lines are scanned raw only.
pub(crate) const MAX_JSON_RECORD: usize = 1 << 20;
/// Largest string decoded as base64.
const MAX_BASE64: usize = 64 << 10;
/// Shortest string worth trying as base64 (shorter ones are mostly ids).
const MIN_BASE64: usize = 24;

pub(crate) fn looks_like_json(b: &[u8]) -> bool {
    if b.len() > MAX_JSON_RECORD {
        return false;
    }
    let t = b.trim_ascii();
    matches!(
        (t.first(), t.last()),
        (Some(b'{'), Some(b'}')) | (Some(b'['), Some(b']'))
    )
}

/// Lines of `hay` that look like JSON documents and are small enough to parse.
pub(crate) fn json_lines(hay: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut start = 0;
    let mut ends = memchr::memchr_iter(b'\n', hay).chain(std::iter::once(hay.len()));
    std::iter::from_fn(move || loop {
        let end = ends.next()?;
        let range = start..end;
        start = end + 1;
        let line = &hay[range.clone()];
        // Only records holding escapes or long encoded runs can hide something the
        // raw scan missed; plain JSON was already seen byte for byte.
        if looks_like_json(line) && (memchr::memchr(b'\\', line).is_some() || has_base64_run(line))
        {
            return Some(range);
        }
        if start > hay.len() {
            return None;
        }
    })
}

/// A run of 24+ base64 characters with both letter cases: what an encoded value looks
/// like, and what hex ids, UUIDs and words do not.
fn has_base64_run(b: &[u8]) -> bool {
    let (mut run, mut upper, mut lower) = (0, false, false);
    for &c in b {
        if c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_') {
            run += 1;
            upper |= c.is_ascii_uppercase();
            lower |= c.is_ascii_lowercase();
            if run >= MIN_BASE64 && upper && lower {
                return true;
            }
        } else {
            (run, upper, lower) = (0, false, false);
        }
    }
    false
}

/// Where a leaf's text stands verbatim in its record, if it does (no escapes in it).
/// Called only for leaves that produced a match, so the search cost is paid rarely.
pub(crate) fn raw_span(record: &[u8], text: &[u8]) -> Option<Range<usize>> {
    memchr::memmem::find(record, text).map(|p| p..p + text.len())
}

/// Calls `f(key, text)` for every string leaf of a JSON record.
pub(crate) fn walk_json(record: &[u8], f: &mut dyn FnMut(Option<&str>, &[u8])) {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(record) else {
        return;
    };
    walk(&value, None, f);
}

fn walk(v: &serde_json::Value, key: Option<&str>, f: &mut dyn FnMut(Option<&str>, &[u8])) {
    match v {
        serde_json::Value::String(s) => f(key, s.as_bytes()),
        serde_json::Value::Array(items) => {
            for item in items {
                walk(item, key, f);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, item) in map {
                walk(item, Some(k), f);
            }
        }
        _ => {}
    }
}

/// A decoded string differs from its raw JSON form only when it held escapes; only then
/// can a rescan find something new. A `\n` escape alone does not count: the rules that
/// care about line breaks (transcripts, stack traces, PEM keys) accept the literal escape
/// in raw text, and most LLM log rows are prose with newlines. Escaped quotes (a nested
/// JSON document) and `\uXXXX` escapes (text the raw scan saw encoded) do count.
pub(crate) fn worth_rescanning(text: &[u8], record_has_unicode_escapes: bool) -> bool {
    text.len() >= 8
        && text
            .iter()
            .any(|&b| matches!(b, b'"' | b'\\') || (b >= 0x80 && record_has_unicode_escapes))
}

/// Decodes `text` as base64 when it plausibly is, returning readable text only.
pub(crate) fn base64_text(text: &[u8]) -> Option<Vec<u8>> {
    let t = text.trim_ascii();
    if t.len() < MIN_BASE64 || t.len() > MAX_BASE64 {
        return None;
    }
    let body_ok = t
        .iter()
        .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'-' | b'_' | b'='));
    if !body_ok || t.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let unpadded: Vec<u8> = t.iter().copied().filter(|&c| c != b'=').collect();
    let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&unpadded)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&unpadded))
        .ok()?;
    let readable = std::str::from_utf8(&decoded).ok()?;
    let printable = readable
        .chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\r' | '\t'))
        .count();
    (printable * 100 >= readable.chars().count() * 95).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_only_when_readable() {
        let enc = base64::engine::general_purpose::STANDARD.encode("password=Zx9kQ2mP4vL8nR1t");
        assert_eq!(
            base64_text(enc.as_bytes()).as_deref(),
            Some(&b"password=Zx9kQ2mP4vL8nR1t"[..])
        );
        assert!(base64_text(b"d41d8cd98f00b204e9800998ecf8427e").is_none());
        assert!(base64_text(b"short").is_none());
    }

    #[test]
    fn json_lines_picks_escaped_records_only() {
        let hay = b"{\"a\":\"plain\"}\n{\"a\":\"x\\\"y\"}\nnot json\n";
        let got: Vec<_> = json_lines(hay).collect();
        assert_eq!(got.len(), 1);
        assert_eq!(&hay[got[0].clone()], b"{\"a\":\"x\\\"y\"}");
    }

    #[test]
    fn walk_reports_keys_and_spans() {
        let rec = br#"{"user":{"api_key":"abc123"},"list":["x"]}"#;
        let mut seen = Vec::new();
        walk_json(rec, &mut |k, t| {
            seen.push((k.map(str::to_string), t.to_vec()));
        });
        assert!(seen.contains(&(Some("api_key".into()), b"abc123".to_vec())));
        assert_eq!(raw_span(rec, b"abc123"), Some(20..26));
    }
}
