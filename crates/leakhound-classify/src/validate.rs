//! Validators: the checks a regex cannot express (checksums, decodes, ranges, entropy, placeholders).
//!
//! Every PII type and every secret format with a checksum goes through one of
//! these, so that a match means more than "this looks like a number".

use base64::Engine as _;
use serde::Deserialize;

/// A named check that a candidate must pass to be reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validator {
    /// Luhn mod-10 over the digits (payment cards).
    Luhn,
    /// Known payment-card issuer prefix and length (Visa, Mastercard, Amex, ...).
    CardIssuer,
    /// GitHub's CRC32 checksum in the last 6 base62 characters of a token.
    GithubCrc32,
    /// Three base64url parts whose header and payload decode to JSON objects.
    Jwt,
    /// ISO 13616 IBAN: known country length and mod-97 == 1.
    Iban,
    /// US SSN valid ranges (area, group, serial).
    SsnUs,
    /// Chinese resident identity number: date and ISO 7064 check digit.
    CnResidentId,
    /// E-mail address with a plausible domain (not a file name like `logo@2x.png`).
    Email,
    /// A phone number with a plausible digit count and not an obvious date or id.
    Phone,
    /// An IPv4 address inside RFC 1918 / RFC 6598 space.
    PrivateIpv4,
    /// The secret is not all hex of a digest length and not a UUID.
    NotDigest,
    /// The body of a PEM block decodes as base64 to at least 64 bytes.
    PemBody,
    /// Decodes as standard base64 to printable ASCII containing `:` (Basic auth).
    BasicAuth,
    /// Natural-language text: at least 12 bytes, letters, and spaces or CJK characters.
    NaturalText,
    /// A letter plus a digit or one of `#%^*+=~@`: random tokens have both, words do not.
    MixedCharset,
    /// Not a value that a vendor rule owns (`ghp_…`, `pk_…`): a GitHub token whose checksum
    /// failed must not come back as a generic secret.
    NotVendorPrefixed,
}

impl Validator {
    /// Runs the check on the candidate (the secret group, or the whole match).
    pub fn check(self, s: &[u8]) -> bool {
        match self {
            Validator::Luhn => luhn(s),
            Validator::CardIssuer => card_issuer(s),
            Validator::GithubCrc32 => github_crc32(s),
            Validator::Jwt => jwt(s),
            Validator::Iban => iban(s),
            Validator::SsnUs => ssn_us(s),
            Validator::CnResidentId => cn_resident_id(s),
            Validator::Email => email(s),
            Validator::Phone => phone(s),
            Validator::PrivateIpv4 => private_ipv4(s),
            Validator::NotDigest => not_digest(s),
            Validator::PemBody => pem_body(s),
            Validator::BasicAuth => basic_auth(s),
            Validator::NaturalText => natural_text(s),
            Validator::MixedCharset => {
                s.iter().any(u8::is_ascii_alphabetic)
                    && s.iter()
                        .any(|b| b.is_ascii_digit() || b"#%^*+=~@".contains(b))
            }
            Validator::NotVendorPrefixed => {
                const OWNED: &[&[u8]] =
                    &[b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_", b"pk_", b"pk."];
                !OWNED
                    .iter()
                    .any(|p| s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p))
            }
        }
    }

    /// The kebab-case name used in rule files.
    pub fn name(self) -> &'static str {
        match self {
            Validator::Luhn => "luhn",
            Validator::CardIssuer => "card-issuer",
            Validator::GithubCrc32 => "github-crc32",
            Validator::Jwt => "jwt",
            Validator::Iban => "iban",
            Validator::SsnUs => "ssn-us",
            Validator::CnResidentId => "cn-resident-id",
            Validator::Email => "email",
            Validator::Phone => "phone",
            Validator::PrivateIpv4 => "private-ipv4",
            Validator::NotDigest => "not-digest",
            Validator::PemBody => "pem-body",
            Validator::BasicAuth => "basic-auth",
            Validator::NaturalText => "natural-text",
            Validator::MixedCharset => "mixed-charset",
            Validator::NotVendorPrefixed => "not-vendor-prefixed",
        }
    }
}

fn digits(s: &[u8]) -> Vec<u8> {
    s.iter()
        .filter(|b| b.is_ascii_digit())
        .map(|b| b - b'0')
        .collect()
}

/// Luhn mod 10 over the ASCII digits of `s` (separators ignored).
pub fn luhn(s: &[u8]) -> bool {
    let d = digits(s);
    if d.len() < 12 {
        return false;
    }
    let sum: u32 = d
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &x)| {
            let x = x as u32;
            if i % 2 == 1 {
                let y = x * 2;
                if y > 9 {
                    y - 9
                } else {
                    y
                }
            } else {
                x
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn card_issuer(s: &[u8]) -> bool {
    let d: String = digits(s).iter().map(|x| (b'0' + x) as char).collect();
    let n = d.len();
    let p2: u32 = d.get(..2).and_then(|x| x.parse().ok()).unwrap_or(0);
    let p4: u32 = d.get(..4).and_then(|x| x.parse().ok()).unwrap_or(0);
    let p6: u32 = d.get(..6).and_then(|x| x.parse().ok()).unwrap_or(0);
    // A run of one repeated digit passes Luhn for some lengths; it is never a card.
    if d.bytes().all(|b| b == d.as_bytes()[0]) {
        return false;
    }
    let visa = d.starts_with('4') && (n == 13 || n == 16 || n == 19);
    let mastercard = ((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && n == 16;
    let amex = (p2 == 34 || p2 == 37) && n == 15;
    let discover = (d.starts_with("6011")
        || d.starts_with("65")
        || (644..=649).contains(&(p4 / 10))
        || (622126..=622925).contains(&p6))
        && (16..=19).contains(&n);
    let jcb = (3528..=3589).contains(&p4) && (16..=19).contains(&n);
    let diners = ((300..=305).contains(&(p4 / 10)) || p2 == 36 || p2 == 38 || p2 == 39)
        && (14..=19).contains(&n);
    let unionpay = d.starts_with("62") && (16..=19).contains(&n);
    let maestro = [
        "5018", "5020", "5038", "5893", "6304", "6759", "6761", "6762", "6763",
    ]
    .iter()
    .any(|p| d.starts_with(p))
        && (12..=19).contains(&n);
    visa || mastercard || amex || discover || jcb || diners || unionpay || maestro
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn base62_encode_u32(mut n: u32) -> [u8; 6] {
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// GitHub tokens (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`) end in a base62 CRC32 of the random part.
pub fn github_crc32(s: &[u8]) -> bool {
    let Some(us) = s.iter().position(|&b| b == b'_') else {
        return false;
    };
    let body = &s[us + 1..];
    if body.len() != 36 {
        return false;
    }
    let (random, check) = body.split_at(30);
    base62_encode_u32(crc32fast::hash(random)) == check
}

/// Computes the 6-character checksum GitHub appends; used by tests and the corpus generator.
pub fn github_checksum(random: &[u8]) -> String {
    String::from_utf8_lossy(&base62_encode_u32(crc32fast::hash(random))).into_owned()
}

fn b64url_json_object(part: &[u8]) -> bool {
    let trimmed: Vec<u8> = part.iter().copied().filter(|&b| b != b'=').collect();
    let Ok(raw) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&trimmed) else {
        return false;
    };
    matches!(
        serde_json::from_slice::<serde_json::Value>(&raw),
        Ok(serde_json::Value::Object(_))
    )
}

/// A JWT's header and payload must both decode to JSON objects, and the header must name `alg`.
pub fn jwt(s: &[u8]) -> bool {
    let mut parts = s.split(|&b| b == b'.');
    let (Some(h), Some(p)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !b64url_json_object(h) || !b64url_json_object(p) {
        return false;
    }
    let trimmed: Vec<u8> = h.iter().copied().filter(|&b| b != b'=').collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(trimmed)
        .ok()
        .and_then(|raw| serde_json::from_slice::<serde_json::Value>(&raw).ok())
        .is_some_and(|v| v.get("alg").is_some())
}

fn iban_length(country: &[u8]) -> Option<usize> {
    const TABLE: &[(&str, usize)] = &[
        ("AD", 24),
        ("AE", 23),
        ("AL", 28),
        ("AT", 20),
        ("AZ", 28),
        ("BA", 20),
        ("BE", 16),
        ("BG", 22),
        ("BH", 22),
        ("BR", 29),
        ("BY", 28),
        ("CH", 21),
        ("CR", 22),
        ("CY", 28),
        ("CZ", 24),
        ("DE", 22),
        ("DK", 18),
        ("DO", 28),
        ("EE", 20),
        ("EG", 29),
        ("ES", 24),
        ("FI", 18),
        ("FO", 18),
        ("FR", 27),
        ("GB", 22),
        ("GE", 22),
        ("GI", 23),
        ("GL", 18),
        ("GR", 27),
        ("GT", 28),
        ("HR", 21),
        ("HU", 28),
        ("IE", 22),
        ("IL", 23),
        ("IQ", 23),
        ("IS", 26),
        ("IT", 27),
        ("JO", 30),
        ("KW", 30),
        ("KZ", 20),
        ("LB", 28),
        ("LC", 32),
        ("LI", 21),
        ("LT", 20),
        ("LU", 20),
        ("LV", 21),
        ("MC", 27),
        ("MD", 24),
        ("ME", 22),
        ("MK", 19),
        ("MR", 27),
        ("MT", 31),
        ("MU", 30),
        ("NL", 18),
        ("NO", 15),
        ("PK", 24),
        ("PL", 28),
        ("PS", 29),
        ("PT", 25),
        ("QA", 29),
        ("RO", 24),
        ("RS", 22),
        ("SA", 24),
        ("SC", 31),
        ("SE", 24),
        ("SI", 19),
        ("SK", 24),
        ("SM", 27),
        ("ST", 25),
        ("SV", 28),
        ("TL", 23),
        ("TN", 24),
        ("TR", 26),
        ("UA", 29),
        ("VA", 22),
        ("VG", 24),
        ("XK", 20),
    ];
    TABLE
        .iter()
        .find(|(c, _)| c.as_bytes() == country)
        .map(|&(_, n)| n)
}

/// IBAN: the country's fixed length and ISO 7064 mod 97-10.
pub fn iban(s: &[u8]) -> bool {
    let v: Vec<u8> = s
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .map(|b| b.to_ascii_uppercase())
        .collect();
    if v.len() < 15 || !v.iter().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    if iban_length(&v[..2]) != Some(v.len()) {
        return false;
    }
    let mut rem: u32 = 0;
    for &b in v[4..].iter().chain(&v[..4]) {
        let val = if b.is_ascii_digit() {
            (b - b'0') as u32
        } else {
            (b - b'A') as u32 + 10
        };
        rem = if val >= 10 {
            (rem * 100 + val) % 97
        } else {
            (rem * 10 + val) % 97
        };
    }
    rem == 1
}

/// US SSN: area 001-899 except 666, group 01-99, serial 0001-9999, and not the advertising block.
pub fn ssn_us(s: &[u8]) -> bool {
    let d = digits(s);
    if d.len() != 9 {
        return false;
    }
    let area = d[0] as u32 * 100 + d[1] as u32 * 10 + d[2] as u32;
    let group = d[3] as u32 * 10 + d[4] as u32;
    let serial = d[5..].iter().fold(0u32, |a, &x| a * 10 + x as u32);
    // 987-65-4320..4329 is reserved for advertising; 078-05-1120 is the famous wallet sample.
    let advertising = area == 987 && group == 65;
    let woolworth = area == 78 && group == 5 && serial == 1120;
    area != 0
        && area != 666
        && area < 900
        && group != 0
        && serial != 0
        && !advertising
        && !woolworth
        && !d.iter().all(|&x| x == d[0])
}

/// Chinese resident id (GB 11643-1999): 17 digits, a valid birth date and the ISO 7064 MOD 11-2 check.
pub fn cn_resident_id(s: &[u8]) -> bool {
    if s.len() != 18 || !s[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const C: &[u8; 11] = b"10X98765432";
    let sum: u32 = s[..17]
        .iter()
        .zip(W)
        .map(|(&b, w)| (b - b'0') as u32 * w)
        .sum();
    if C[(sum % 11) as usize] != s[17].to_ascii_uppercase() {
        return false;
    }
    let num =
        |r: std::ops::Range<usize>| s[r].iter().fold(0u32, |a, &b| a * 10 + (b - b'0') as u32);
    let (y, m, d) = (num(6..10), num(10..12), num(12..14));
    (1900..=2030).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d) && s[0] != b'0'
}

/// An e-mail address whose domain has a letters-only TLD that is not an image or code file suffix.
pub fn email(s: &[u8]) -> bool {
    let Some(at) = s.iter().rposition(|&b| b == b'@') else {
        return false;
    };
    let domain = &s[at + 1..];
    let Some(dot) = domain.iter().rposition(|&b| b == b'.') else {
        return false;
    };
    let tld = domain[dot + 1..].to_ascii_lowercase();
    if tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
        return false;
    }
    const FILE_SUFFIXES: &[&[u8]] = &[
        b"png", b"jpg", b"jpeg", b"gif", b"svg", b"webp", b"css", b"js", b"ts", b"map", b"ico",
    ];
    !FILE_SUFFIXES.contains(&tld.as_slice()) && at > 0
}

/// A phone number: 8 to 15 digits, not all one digit, and not shaped like a date.
pub fn phone(s: &[u8]) -> bool {
    let d = digits(s);
    if !(8..=15).contains(&d.len()) || d.iter().all(|&x| x == d[0]) {
        return false;
    }
    // Ascending runs such as 123456789 are test data and ids, not numbers anyone owns.
    let ascending = d.windows(2).all(|w| w[1] == (w[0] + 1) % 10);
    !ascending
}

fn parse_ipv4(s: &[u8]) -> Option<[u8; 4]> {
    let text = std::str::from_utf8(s).ok()?;
    let mut out = [0u8; 4];
    let mut parts = text.split('.');
    for slot in &mut out {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p.starts_with('0')) {
            return None;
        }
        *slot = p.parse().ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// RFC 1918 and the RFC 6598 carrier-grade NAT block.
pub fn private_ipv4(s: &[u8]) -> bool {
    match parse_ipv4(s) {
        Some([10, ..]) => true,
        Some([172, b, ..]) => (16..=31).contains(&b),
        Some([192, 168, ..]) => true,
        Some([100, b, ..]) => (64..=127).contains(&b),
        _ => false,
    }
}

/// Rejects values that are hex digests (MD5, SHA-1, SHA-256, SHA-512 lengths) or UUIDs.
pub fn not_digest(s: &[u8]) -> bool {
    let hex = s.iter().all(u8::is_ascii_hexdigit);
    if hex && matches!(s.len(), 32 | 40 | 56 | 64 | 96 | 128) {
        return false;
    }
    let uuid = s.len() == 36
        && s.iter().enumerate().all(|(i, &b)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    !uuid
}

fn pem_body(s: &[u8]) -> bool {
    // Bodies inside JSON strings carry literal `\n`; drop escapes and whitespace before decoding.
    let mut clean = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' if i + 1 < s.len() => i += 2,
            b if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=' => {
                clean.push(b);
                i += 1;
            }
            _ => i += 1,
        }
    }
    while clean.last() == Some(&b'=') {
        clean.pop();
    }
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&clean)
        .map(|raw| raw.len() >= 64)
        .unwrap_or(false)
}

fn basic_auth(s: &[u8]) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .is_some_and(|raw| {
            raw.len() >= 3
                && raw.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
                && raw
                    .iter()
                    .position(|&b| b == b':')
                    .is_some_and(|p| p > 0 && p + 1 < raw.len())
        })
}

/// Prose in any language: CJK text has no spaces, so either spaces between words or
/// a CJK character counts.
pub fn natural_text(s: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(s) else {
        return false;
    };
    let text = text.trim();
    if text.len() < 12 {
        return false;
    }
    let cjk = text
        .chars()
        .filter(|c| matches!(*c as u32, 0x3040..=0x30ff | 0x3400..=0x4dbf | 0x4e00..=0x9fff | 0xac00..=0xd7af))
        .count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    let words = text
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphabetic))
        .count();
    cjk >= 4 || (words >= 3 && letters * 2 >= text.chars().count())
}

/// Shannon entropy in bits per byte.
pub fn shannon_entropy(s: &[u8]) -> f64 {
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[b as usize] += 1;
    }
    let n = s.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum()
}

/// Words and shapes that mark documentation, templates and already-redacted values.
///
/// Checked on every secret candidate: a real key never contains them, and the
/// documentation of every provider is full of them.
pub fn looks_like_placeholder(s: &[u8]) -> bool {
    let lower = s.to_ascii_lowercase();
    const WORDS: &[&[u8]] = &[
        b"example",
        b"xxxx",
        b"your_",
        b"your-",
        b"yourkey",
        b"placeholder",
        b"changeme",
        b"change_me",
        b"change-me",
        b"redacted",
        b"dummy",
        b"sample",
        b"insert",
        b"replace",
        b"<",
        b">",
        b"${",
        b"{{",
        b"}}",
        b"***",
        b"...",
        "\u{2026}".as_bytes(),
        b"%s",
        b"0123456789",
        b"abcdefghij",
        b"1234567890",
        b"notasecret",
        b"not_a_real",
        b"fake",
    ];
    if WORDS
        .iter()
        .any(|w| memchr::memmem::find(&lower, w).is_some())
    {
        return true;
    }
    // Long runs of one character are padding or masking, not randomness.
    let mut run = 1;
    for w in s.windows(2) {
        if w[0] == w[1] {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else {
            run = 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_off_by_one() {
        assert!(luhn(b"4111 1111 1111 1111"));
        assert!(luhn(b"5555-5555-5555-4444"));
        assert!(!luhn(b"4111111111111112"));
        assert!(card_issuer(b"378282246310005"));
        assert!(!card_issuer(b"0000000000000000"));
    }

    #[test]
    fn github_checksum_round_trips() {
        let random = b"abcdefghijklmnopqrstuvwxyzABCD";
        let token = format!(
            "ghp_{}{}",
            std::str::from_utf8(random).unwrap(),
            github_checksum(random)
        );
        assert!(github_crc32(token.as_bytes()));
        let mut bad = token.into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'A' { b'B' } else { b'A' };
        assert!(!github_crc32(&bad));
    }

    #[test]
    fn jwt_requires_json_header_and_payload() {
        let good = b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
        assert!(jwt(good));
        assert!(!jwt(b"eyJub3Rqc29u.eyJhIjoxfQ.abc"));
    }

    #[test]
    fn iban_mod97() {
        assert!(iban(b"GB82 WEST 1234 5698 7654 32"));
        assert!(iban(b"DE89370400440532013000"));
        assert!(!iban(b"DE89370400440532013001"));
        assert!(!iban(b"GB82WEST1234569876543"));
    }

    #[test]
    fn ssn_ranges() {
        assert!(ssn_us(b"536-22-1234"));
        assert!(!ssn_us(b"000-12-3456"));
        assert!(!ssn_us(b"666-12-3456"));
        assert!(!ssn_us(b"912-12-3456"));
        assert!(!ssn_us(b"536-00-1234"));
        assert!(!ssn_us(b"078-05-1120"));
    }

    #[test]
    fn cn_id_checksum() {
        assert!(cn_resident_id(b"11010519491231002X"));
        assert!(!cn_resident_id(b"110105194912310021"));
        assert!(!cn_resident_id(b"110105194913310028"));
    }

    #[test]
    fn email_and_phone_shapes() {
        assert!(email(b"jane.doe@corp.example.org"));
        assert!(!email(b"logo@2x.png"));
        assert!(phone(b"+44 20 7946 0958"));
        assert!(!phone(b"1111111111"));
        assert!(!phone(b"123456789"));
    }

    #[test]
    fn private_ip_ranges() {
        assert!(private_ipv4(b"10.1.2.3"));
        assert!(private_ipv4(b"172.20.0.1"));
        assert!(!private_ipv4(b"172.32.0.1"));
        assert!(private_ipv4(b"192.168.1.10"));
        assert!(!private_ipv4(b"8.8.8.8"));
        assert!(!private_ipv4(b"10.1.2.300"));
    }

    #[test]
    fn digests_and_uuids_are_not_secrets() {
        assert!(!not_digest(b"d41d8cd98f00b204e9800998ecf8427e"));
        assert!(!not_digest(b"123e4567-e89b-12d3-a456-426614174000"));
        assert!(not_digest(b"Zx9kQ2mP4vL8nR1tY6wB"));
    }

    #[test]
    fn placeholders() {
        for p in [
            "AKIAIOSFODNN7EXAMPLE",
            "<YOUR_API_KEY>",
            "${OPENAI_API_KEY}",
            "sk-proj-****abcd",
            "sk-...",
        ] {
            assert!(looks_like_placeholder(p.as_bytes()), "{p}");
        }
        assert!(!looks_like_placeholder(b"sk-proj-Zx9kQ2mP4vL8nR1tY6wB"));
    }

    #[test]
    fn natural_text_in_any_language() {
        assert!(natural_text(b"how do I reset my password?"));
        assert!(natural_text(
            "\u{8bf7}\u{5e2e}\u{6211}\u{5199}\u{4e00}\u{5c01}\u{4fe1}".as_bytes()
        ));
        assert!(!natural_text(b"3f2a9c1d-77aa-4c1b"));
        assert!(!natural_text(b"ok"));
    }

    #[test]
    fn entropy_orders_random_above_words() {
        assert!(shannon_entropy(b"Zx9kQ2mP4vL8nR1tY6wB") > shannon_entropy(b"passwordpassword"));
    }
}
