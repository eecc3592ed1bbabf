//! Redaction and fingerprints: the only forms in which a matched value leaves the classifier.
//!
//! Output, logs and the store hold what this module returns, never the value
//! itself; `--reveal` is the single way around it.

use leakhound_model::Category;
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the matched bytes: equal values share a fingerprint across files and scans.
pub fn fingerprint(value: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(value);
    let mut out = String::with_capacity(64);
    for b in digest {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
    out
}

fn chars(value: &[u8]) -> Vec<char> {
    String::from_utf8_lossy(value).chars().collect()
}

/// `first…last (N chars)`: at most 6 leading and 4 trailing characters, and never more
/// than a third of the value, so short passwords are not half-printed.
pub fn redact_secret(value: &[u8]) -> String {
    let c = chars(value);
    let n = c.len();
    let budget = n / 3;
    let head = budget.min(6).min(budget * 6 / 10 + 1).min(budget);
    let tail = (budget - head).min(4);
    let h: String = c[..head].iter().collect();
    let t: String = c[n - tail..].iter().collect();
    format!("{h}…{t} ({n} chars)")
}

fn mask_email(value: &[u8]) -> String {
    let s = String::from_utf8_lossy(value);
    match s.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => redact_secret(value),
    }
}

fn mask_digits(value: &[u8], keep_head: usize, keep_tail: usize) -> String {
    let c = chars(value);
    let total_alnum = c.iter().filter(|x| x.is_ascii_alphanumeric()).count();
    let mut seen = 0;
    c.iter()
        .map(|&ch| {
            if ch.is_ascii_alphanumeric() {
                seen += 1;
                if seen <= keep_head || seen > total_alnum.saturating_sub(keep_tail) {
                    ch
                } else {
                    '*'
                }
            } else {
                ch
            }
        })
        .collect()
}

/// The evidence string shown for a match, by category and type.
pub fn evidence(category: Category, kind: &str, value: &[u8]) -> String {
    match category {
        Category::Secret => redact_secret(value),
        Category::Pii => {
            if kind.contains("email") {
                mask_email(value)
            } else if kind.contains("iban") {
                mask_digits(value, 4, 4)
            } else if kind.contains("cn-resident-id") {
                mask_digits(value, 2, 2)
            } else {
                mask_digits(value, 0, 4)
            }
        }
        Category::Chat => {
            let c = chars(value);
            let head: String = c.iter().take(16).collect();
            format!(
                "{}… ({} bytes)",
                head.replace(['\n', '\r'], " "),
                value.len()
            )
        }
        Category::Ops => {
            let c = chars(value);
            if c.len() > 96 {
                let head: String = c.iter().take(96).collect();
                format!("{head}… ({} chars)", c.len())
            } else {
                c.iter().collect::<String>().replace(['\n', '\r'], " ")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_secret_shows_six_and_four() {
        let v = b"sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789wxyz";
        let e = redact_secret(v);
        assert_eq!(e, format!("sk-pro…wxyz ({} chars)", v.len()));
    }

    #[test]
    fn short_secret_reveals_at_most_a_third() {
        let e = redact_secret(b"hunter22");
        let shown = e.split(" (").next().unwrap().replace('…', "");
        assert!(shown.chars().count() <= 8 / 3, "{e}");
    }

    #[test]
    fn pii_masks() {
        assert_eq!(
            evidence(Category::Pii, "pii.email", b"jane@example.com"),
            "j***@example.com"
        );
        assert_eq!(
            evidence(Category::Pii, "pii.card", b"4111 1111 1111 1111"),
            "**** **** **** 1111"
        );
        assert_eq!(
            evidence(Category::Pii, "pii.ssn-us", b"536-22-1234"),
            "***-**-1234"
        );
    }

    #[test]
    fn fingerprint_is_sha256_hex() {
        assert_eq!(
            fingerprint(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
