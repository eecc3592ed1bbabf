//! RESP2 replies from a Redis (or anything pretending to be one): `redis::frame_len`, the
//! allocation-free measure `Conn::read_message` splits frames with, and `redis::parse`.
//! Properties: both agree on every input (same length, or both incomplete, or both
//! errors); a complete frame fits in the buffer; a prefix of a complete frame is
//! incomplete, never an error (a reply split across TCP reads must not be refused).
#![no_main]

use leakhound_probes::redis::{frame_len, parse, Caps};
use libfuzzer_sys::fuzz_target;

fn check(data: &[u8], caps: &Caps) {
    let len = frame_len(data, caps);
    let parsed = parse(data, caps);
    match (&len, &parsed) {
        (Ok(Some(n)), Ok(Some((_, m)))) => {
            assert!(*n <= data.len(), "frame of {n} bytes in {}", data.len());
            assert!(*n > 0, "empty frame");
            assert_eq!(n, m, "frame_len and parse measure differently");
            for cut in [n - 1, n / 2] {
                assert!(
                    matches!(frame_len(&data[..cut], caps), Ok(None)),
                    "prefix {cut} of a {n}-byte frame is not incomplete"
                );
            }
        }
        (Ok(None), Ok(None)) | (Err(_), Err(_)) => {}
        _ => panic!("frame_len {len:?} but parse {parsed:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    check(data, &Caps::default());
    // Tight caps reach the cap checks with small inputs.
    check(
        data,
        &Caps {
            max_bulk: 64,
            max_elements: 8,
            max_total: 32,
            max_depth: 3,
            max_line: 64,
        },
    );
});
