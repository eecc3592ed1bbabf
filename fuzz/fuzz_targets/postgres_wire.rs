//! PostgreSQL backend messages: the SSLRequest answer (`wire::ssl_reply`), frame
//! splitting (`wire::frame_len`, as `Conn::read_message` uses it), message decoding
//! (`wire::decode`), and the SCRAM-SHA-256 client's handling of the server-first and
//! server-final messages carried by AuthenticationSASLContinue / SASLFinal, plus the
//! base64 decoder it uses.
#![no_main]

use leakhound_probes::fuzzing::{pg_b64_decode, pg_scram_exchange};
use leakhound_probes::postgres::wire::{self, Auth, Message};
use libfuzzer_sys::fuzz_target;

/// The probe's header cap (`Limits::default().max_header`).
const CAP: usize = 64 << 10;
/// Client nonce of the SCRAM exchange; the seeds' server nonces extend it.
const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";

/// PBKDF2 cost grows with `i=`; above this the input is skipped so the fuzzer keeps its
/// speed (the refusal of counts over `MAX_SCRAM_ITERATIONS` has unit tests).
fn cheap(server_first: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(server_first) else {
        return true;
    };
    s.split(',').all(|p| match p.strip_prefix("i=") {
        Some(v) => v.parse::<u64>().map_or(true, |n| n <= 64),
        None => true,
    })
}

fuzz_target!(|data: &[u8]| {
    let _ = wire::ssl_reply(data);
    let _ = wire::decode(data);

    // A stream of messages, split the way the probe splits them.
    let mut server_first: Option<Vec<u8>> = None;
    let mut server_final: Option<Vec<u8>> = None;
    for cap in [CAP, 64] {
        let mut rest = data;
        while let Ok(Some(n)) = wire::frame_len(rest, cap) {
            assert!(n >= 5 && n <= rest.len() && n <= cap, "frame of {n} bytes");
            assert!(
                matches!(wire::frame_len(&rest[..n - 1], cap), Ok(None)),
                "prefix of a whole frame is not incomplete"
            );
            match wire::decode(&rest[..n]) {
                Ok(Message::Auth(Auth::SaslContinue(d))) => server_first = Some(d),
                Ok(Message::Auth(Auth::SaslFinal(d))) => server_final = Some(d),
                Ok(m) => {
                    let _ = format!("{m:?}");
                }
                Err(_) => {}
            }
            rest = &rest[n..];
        }
    }
    if let Some(sf) = server_first {
        if cheap(&sf) {
            let (first, verified) =
                pg_scram_exchange("pencil", NONCE, &sf, server_final.as_deref().unwrap_or(b""));
            if let Ok(msg) = first {
                assert!(msg.starts_with("c=biws,r=") && msg.contains(",p="));
            } else {
                assert!(!verified, "server-final verified without a client-final");
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(v) = pg_b64_decode(s) {
            assert!(v.len() <= s.len() / 4 * 3);
        }
    }
});
