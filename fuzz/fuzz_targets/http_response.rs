//! HTTP/1.x responses from untrusted servers: the status line and headers
//! (`http::parse_head`) and chunked bodies (`http::decode_chunks`).
//! Properties: a parsed head fits in the buffer and under the header cap; decoding a
//! chunked body never produces more than the cap, and gives the same bytes whether the
//! body arrives at once or in small reads (TCP segmentation must not change the result).
#![no_main]

use leakhound_probes::fuzzing::{http_decode_chunks, http_parse_head};
use leakhound_probes::net::NetError;
use libfuzzer_sys::fuzz_target;

/// `Limits::default().max_header`, and the generic HTTP probe's body cap.
const MAX_HEADER: usize = 64 << 10;
const BODY_CAP: usize = 4096;

/// Decodes `body` delivered `step` bytes at a time, the way `http::get` drives
/// `decode_chunks` through `Conn::read_message`: `Some(Ok)` with the data when the last
/// chunk was seen, `Some(Err)` on an error, `None` when the input ran out first.
fn incremental(body: &[u8], step: usize) -> Option<Result<Vec<u8>, bool>> {
    let mut out = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0;
    loop {
        match http_decode_chunks(&buf, &mut out, BODY_CAP) {
            Ok((_, true)) => return Some(Ok(out)),
            Ok((used, false)) => {
                assert!(used <= buf.len());
                buf.drain(..used);
            }
            Err(e) => return Some(Err(matches!(e, NetError::TooLarge(_)))),
        }
        assert!(out.len() <= BODY_CAP);
        if fed == body.len() {
            return None;
        }
        let take = step.min(body.len() - fed);
        buf.extend_from_slice(&body[fed..fed + take]);
        fed += take;
    }
}

fuzz_target!(|data: &[u8]| {
    for max_header in [MAX_HEADER, 64] {
        if let Ok(Some((n, status, headers))) = http_parse_head(data, max_header) {
            assert!(n <= data.len() && n <= max_header + 4, "head of {n} bytes");
            assert!((100..600).contains(&status));
            assert!(headers.len() <= 100);
        }
    }
    // The body: after the head when there is one, else the whole input.
    let body = match http_parse_head(data, MAX_HEADER) {
        Ok(Some((n, ..))) => &data[n..],
        _ => data,
    };
    let whole = incremental(body, body.len().max(1));
    // Read sizes from 1 to 16 bytes, chosen by the input so every size gets exercised.
    let step = data.len() % 16 + 1;
    let pieces = incremental(body, step);
    // Only outcomes without an error are compared: where an error is raised may depend
    // on how much is buffered (the cap check), but decoded data must not.
    if let (Some(Ok(a)), Some(Ok(b))) = (&whole, &pieces) {
        assert_eq!(
            a, b,
            "chunked body decodes differently in {step}-byte reads"
        );
    }
    if let Some(Ok(_)) = whole {
        assert!(
            matches!(pieces, Some(Ok(_)) | Some(Err(true))),
            "whole body decodes, {step}-byte reads give {pieces:?}"
        );
    }
});
