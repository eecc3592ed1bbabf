//! ClickHouse HTTP response bodies: TabSeparated rows (`clickhouse_http::parse_tsv`, with
//! and without the truncation flag) and the text checks run on bodies
//! (`exception_code`, `looks_like_version`).
//! Properties: no more rows than non-empty lines; unescaping never grows a field; a
//! truncated body loses at most its last row.
#![no_main]

use leakhound_probes::clickhouse_http::parse_tsv;
use leakhound_probes::fuzzing::{ch_exception_code, ch_looks_like_version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let full = parse_tsv(data, false);
    let cut = parse_tsv(data, true);
    let lines = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(full.len(), lines);
    assert!(cut.len() == full.len() || cut.len() + 1 == full.len());
    assert_eq!(full[..cut.len()], cut[..]);
    let raw: usize = data.len();
    let decoded: usize = full.iter().flatten().map(Vec::len).sum();
    assert!(decoded <= raw);
    let text = String::from_utf8_lossy(data);
    let _ = ch_exception_code(&text);
    let _ = ch_looks_like_version(&text);
});
