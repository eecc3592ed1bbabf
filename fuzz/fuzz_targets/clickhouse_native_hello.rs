//! ClickHouse native protocol replies: the answer to our Hello
//! (`clickhouse_native::parse_hello_reply`: server Hello or Exception) and the packets
//! after a query (`parse_query_packet`: Data, Progress, ProfileInfo, EndOfStream,
//! Exception), split one after another as `Conn::read_message` does.
//! Properties: a parsed packet fits in the buffer; its prefix is incomplete, not an error.
#![no_main]

use leakhound_probes::clickhouse_native::parse_hello_reply;
use leakhound_probes::fuzzing::ch_parse_query_packet;
use libfuzzer_sys::fuzz_target;

/// The revision the probe announces, and one from before the optional Hello fields.
const REVISIONS: [u64; 2] = [54406, 54000];

fuzz_target!(|data: &[u8]| {
    let mut rest = data;
    match parse_hello_reply(data) {
        Ok(Some((n, reply))) => {
            assert!(n > 0 && n <= data.len(), "hello reply of {n} bytes");
            assert!(
                matches!(parse_hello_reply(&data[..n - 1]), Ok(None)),
                "prefix of a whole reply is not incomplete"
            );
            let _ = format!("{reply:?}");
            rest = &data[n..];
        }
        Ok(None) | Err(_) => {}
    }
    for rev in REVISIONS {
        let mut at = rest;
        while let Ok(Some((n, rows))) = ch_parse_query_packet(at, rev) {
            assert!(n > 0 && n <= at.len(), "packet of {n} bytes");
            assert!(
                matches!(ch_parse_query_packet(&at[..n - 1], rev), Ok(None)),
                "prefix of a whole packet is not incomplete"
            );
            if let Some(rows) = rows {
                let cells: usize = rows
                    .iter()
                    .map(|r| r.iter().map(Vec::len).sum::<usize>())
                    .sum();
                assert!(cells <= n);
            }
            at = &at[n..];
        }
    }
});
