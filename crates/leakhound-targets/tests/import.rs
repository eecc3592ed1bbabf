//! Importing other tools' output. Fixtures are in `tests/data/import/` (README there):
//! `nmap-real.xml` is a real nmap run against throwaway loopback listeners; the masscan
//! and naabu fixtures are hand-written from those tools' sources, since neither can run
//! here — masscan from `src/out-json.c`, `src/out-text.c` and `src/out-ndjson.c`
//! (github.com/robertdavidgraham/masscan) plus the older `-oJ` shapes quoted in its
//! issues #124, #314, #493 and PR #147, #288; naabu from `v2/pkg/runner/output.go` and
//! `v2/pkg/port/port.go`, `v2/pkg/protocol/protocol.go`
//! (github.com/projectdiscovery/naabu), current and before the port was flattened.
//!
//! Names are resolved only by the fake resolver below: no test sends any traffic.

use leakhound_targets::import::{
    detect_format, parse_import, ImportFormat, Imported, MAX_ERRORS, MAX_IMPORT_BYTES,
};
use leakhound_targets::{Resolver, TargetError};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

struct Fake;

impl Resolver for Fake {
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        match host {
            "db.example.test" => Ok(vec![
                "192.0.2.70".parse().unwrap(),
                "2001:db8::70".parse().unwrap(),
            ]),
            "cdn.example.test" => Ok(vec!["192.0.2.71".parse().unwrap()]),
            "empty.example.test" => Ok(vec![]),
            _ => Err("no such host".into()),
        }
    }
}

/// For formats that must never resolve anything.
struct Refuse;

impl Resolver for Refuse {
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        panic!("resolver called for {host}");
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let p: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests/data/import", name]
        .iter()
        .collect();
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `ip:port` (v6 bracketed), then ` name` when there is one.
fn listed(imp: &Imported) -> Vec<String> {
    imp.endpoints
        .iter()
        .map(|e| {
            let a = SocketAddr::new(e.ip, e.port).to_string();
            match &e.host {
                Some(h) => format!("{a} {h}"),
                None => a,
            }
        })
        .collect()
}

fn import(bytes: &[u8], format: ImportFormat) -> Imported {
    parse_import(bytes, format, &Fake).unwrap_or_else(|e| panic!("{format}: {e}"))
}

/// Reads a fixture both autodetected and with its format named; both must agree.
fn check_fixture(name: &str, format: ImportFormat, want: &[&str]) {
    let bytes = fixture(name);
    assert_eq!(detect_format(&bytes), format, "{name}: detection");
    let auto = import(&bytes, ImportFormat::Auto);
    assert_eq!(auto.format, format, "{name}");
    assert_eq!(listed(&auto), want, "{name}");
    assert!(auto.errors.is_empty(), "{name}: {:?}", auto.errors);
    let named = import(&bytes, format);
    assert_eq!(named, auto, "{name}: named format");
}

#[test]
fn nmap_real_scan_keeps_open_tcp_with_user_name_once() {
    // 18082 was closed; the second <host> repeats the address without a name.
    check_fixture(
        "nmap-real.xml",
        ImportFormat::NmapXml,
        &[
            "127.0.42.30:18080 lh-import-fixture.test",
            "127.0.42.30:18081 lh-import-fixture.test",
        ],
    );
    let imp = parse_import(&fixture("nmap-real.xml"), ImportFormat::NmapXml, &Refuse).unwrap();
    assert_eq!(imp.endpoints.len(), 2);
}

#[test]
fn nmap_ipv6_ptr_names_and_non_open_states() {
    // Not kept: PTR-only name, filtered, open|filtered, UDP open, the <hosthint> address,
    // the down host.
    check_fixture(
        "nmap-handwritten.xml",
        ImportFormat::NmapXml,
        &[
            "[2001:db8::80]:80",
            "[2001:db8::81]:8123 db.example.test",
            "[2001:db8::81]:9000 db.example.test",
        ],
    );
}

#[test]
fn a_byte_order_mark_is_ignored() {
    for (name, format) in FIXTURES {
        let plain = import(&fixture(name), format);
        let with_bom = [&b"\xEF\xBB\xBF"[..], &fixture(name)].concat();
        assert_eq!(import(&with_bom, ImportFormat::Auto), plain, "{name}");
    }
}

#[test]
fn masscan_xml_reads_as_nmap() {
    // masscan -oX imitates nmap (layout as quoted in masscan issue #612).
    let xml = br#"<?xml version="1.0"?>
<!-- masscan v1.0 scan -->
<nmaprun scanner="masscan" start="1629960654" version="1.0-BETA"  xmloutputversion="1.03">
<scaninfo type="syn" protocol="tcp" />
<host endtime="1629960654"><address addr="192.0.2.90" addrtype="ipv4"/><ports><port protocol="icmp" portid="0"><state state="open" reason="none" reason_ttl="54"/></port></ports></host>
<host endtime="1629960654"><address addr="192.0.2.90" addrtype="ipv4"/><ports><port protocol="tcp" portid="443"><state state="open" reason="syn-ack" reason_ttl="54"/></port></ports></host>
<runstats>
<finished time="1629960665" timestr="2021-08-26 06:51:05" elapsed="13" />
<hosts up="2" down="0" total="2" />
</runstats>
</nmaprun>
"#;
    let imp = import(xml, ImportFormat::Auto);
    assert_eq!(imp.format, ImportFormat::NmapXml);
    assert_eq!(listed(&imp), ["192.0.2.90:443"]);
}

#[test]
fn masscan_json_every_version() {
    check_fixture(
        "masscan-oJ-handwritten.json",
        ImportFormat::MasscanJson,
        &["192.0.2.10:8123", "192.0.2.11:6379", "[2001:db8::5]:9000"],
    );
    check_fixture(
        "masscan-oJ-trailing-comma-handwritten.json",
        ImportFormat::MasscanJson,
        &["198.51.100.7:22", "198.51.100.8:443"],
    );
    check_fixture(
        "masscan-oJ-oldest-handwritten.json",
        ImportFormat::MasscanJson,
        &["192.0.2.15:514", "192.0.2.15:22"],
    );
    // Between the oldest and the array: quoted keys, still no array, `{finished: 1}`.
    let quoted = br#"{   "ip": "192.0.2.17",   "ports": [ {"port": 80, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 110} ] },
{   "ip": "192.0.2.17",   "ports": [ {"port": 443, "proto": "tcp", "status": "open", "reason": "syn-ack", "ttl": 110} ] },
{finished: 1}
"#;
    let imp = import(quoted, ImportFormat::Auto);
    assert_eq!(imp.format, ImportFormat::MasscanJson);
    assert_eq!(listed(&imp), ["192.0.2.17:80", "192.0.2.17:443"]);
    assert!(imp.errors.is_empty(), "{:?}", imp.errors);
    // masscan killed before writing `]` (masscan issue #726), or pretty-printed by jq.
    let unclosed = b"[\n{\"ip\": \"192.0.2.18\", \"ports\": [{\"port\": 80, \"proto\": \"tcp\", \"status\": \"open\"}]}\n";
    assert_eq!(
        listed(&import(unclosed, ImportFormat::Auto)),
        ["192.0.2.18:80"]
    );
    let pretty = b"[\n  {\n    \"ip\": \"192.0.2.19\",\n    \"ports\": [\n      {\n        \"port\": 81,\n        \"proto\": \"tcp\",\n        \"status\": \"open\"\n      }\n    ]\n  }\n]\n";
    assert_eq!(
        listed(&import(pretty, ImportFormat::Auto)),
        ["192.0.2.19:81"]
    );
}

#[test]
fn masscan_list() {
    check_fixture(
        "masscan-oL-handwritten.txt",
        ImportFormat::MasscanList,
        &["192.0.2.20:8123", "192.0.2.20:9000", "[2001:db8::20]:6379"],
    );
    // Without the header, the first line decides.
    assert_eq!(
        detect_format(b"\n open tcp 80 192.0.2.1 1390380064\n"),
        ImportFormat::MasscanList
    );
}

#[test]
fn masscan_ndjson_both_shapes() {
    check_fixture(
        "masscan-oD-handwritten.ndjson",
        ImportFormat::MasscanNdjson,
        &["192.0.2.30:8123", "[2001:db8::30]:6379", "192.0.2.33:9000"],
    );
}

#[test]
fn naabu_current_and_old() {
    check_fixture(
        "naabu-handwritten.jsonl",
        ImportFormat::NaabuJsonl,
        &[
            "192.0.2.40:8123 db.example.test",
            "192.0.2.41:6379",
            "[2001:db8::40]:9000 v6.example.test",
            "192.0.2.43:443 cdn.example.test",
        ],
    );
    check_fixture(
        "naabu-old-handwritten.jsonl",
        ImportFormat::NaabuJsonl,
        &["192.0.2.50:8123 db.example.test", "192.0.2.51:5432"],
    );
    // A host equal to the address is no name; a result with only a host is resolved.
    let lines = br#"{"host":"192.0.2.44","ip":"192.0.2.44","port":80,"protocol":"tcp"}
{"host":"cdn.example.test","port":8443,"protocol":"tcp"}
"#;
    let imp = import(lines, ImportFormat::Auto);
    assert_eq!(imp.format, ImportFormat::NaabuJsonl);
    assert_eq!(
        listed(&imp),
        ["192.0.2.44:80", "192.0.2.71:8443 cdn.example.test"]
    );
}

#[test]
fn host_port_lists_resolve_through_the_given_resolver() {
    check_fixture(
        "hostport-handwritten.txt",
        ImportFormat::HostPort,
        &[
            "192.0.2.60:8123",
            "192.0.2.70:5432 db.example.test",
            "[2001:db8::70]:5432 db.example.test",
            "[2001:db8::60]:9000",
            "192.0.2.71:443 cdn.example.test",
            "192.0.2.61:6379",
        ],
    );
}

#[test]
fn problems_are_numbered_by_line_and_reading_goes_on() {
    let text = b"192.0.2.1:80\n# comment\n192.0.2.2:70000\nnope\n[2001:db8::1]\n2001:db8::1:80\nunknown.test:80\nempty.example.test:80\n192.0.2.3:0\nhost:port:1\n192.0.2.4:81 extra\n[2001:db8::2]:443\n";
    let imp = import(text, ImportFormat::HostPort);
    assert_eq!(listed(&imp), ["192.0.2.1:80", "[2001:db8::2]:443"]);
    let no_port = "no port (expected host:port, ip:port or [v6]:port)";
    assert_eq!(
        imp.errors,
        [
            "line 3: bad port 70000".to_string(),
            format!("line 4: `nope`: {no_port}"),
            format!("line 5: `[2001:db8::1]`: {no_port}"),
            format!("line 6: `2001:db8::1:80`: {no_port}"),
            "line 7: `unknown.test`: does not resolve: no such host".to_string(),
            "line 8: `empty.example.test`: resolves to no address".to_string(),
            "line 9: bad port 0".to_string(),
            format!("line 10: `host:port:1`: {no_port}"),
            "line 11: unexpected `extra` after `192.0.2.4:81`".to_string(),
        ]
    );

    let list = b"#masscan\nopen tcp 80 192.0.2.5 1\nopen tcp 99999 192.0.2.5 1\nopen tcp 81 192.0.2.300 1\nhello\n# end\n";
    let imp = import(list, ImportFormat::Auto);
    assert_eq!(imp.format, ImportFormat::MasscanList);
    assert_eq!(listed(&imp), ["192.0.2.5:80"]);
    assert_eq!(
        imp.errors,
        [
            "line 3: bad port 99999",
            "line 4: bad address `192.0.2.300`",
            "line 5: not a masscan -oL line"
        ]
    );

    let nd = b"{\"ip\":\"192.0.2.6\",\"port\":80,\"proto\":\"tcp\",\"rec_type\":\"status\",\"data\":{\"status\":\"open\"}}\n\n{\"ip\":\"192.0.2.6\",\"port\":\n{\"port\":81,\"proto\":\"tcp\",\"rec_type\":\"status\",\"data\":{\"status\":\"open\"}}\n[1]\n";
    let imp = import(nd, ImportFormat::Auto);
    assert_eq!(imp.format, ImportFormat::MasscanNdjson);
    assert_eq!(listed(&imp), ["192.0.2.6:80"]);
    assert_eq!(imp.errors.len(), 3, "{:?}", imp.errors);
    assert!(
        imp.errors[0].starts_with("line 3: bad JSON: "),
        "{:?}",
        imp.errors
    );
    assert_eq!(imp.errors[1], "line 4: no \"ip\"");
    assert_eq!(imp.errors[2], "line 5: not a JSON object");

    let json = b"[\n{\"ip\": \"192.0.2.7\", \"ports\": [{\"port\": 80, \"proto\": \"tcp\", \"status\": \"open\"}]},\n{\"ip\": \"192.0.2.7\", \"ports\": [{\"port\": -1, \"proto\": \"tcp\", \"status\": \"open\"}]},\n{\"ip\": \"192.0.2.8\", \"ports\": [{\"port\":";
    let imp = import(json, ImportFormat::Auto);
    assert_eq!(listed(&imp), ["192.0.2.7:80"]);
    assert_eq!(
        imp.errors,
        [
            "line 3: bad port -1",
            "line 4: record cut off at the end of the input"
        ]
    );

    let naabu = b"{\"ip\":\"192.0.2.9\",\"port\":80}\n{\"ip\":\"192.0.2.9\"}\n{\"port\":81}\n{\"ip\":\"192.0.2.9\",\"port\":{\"Port\":65536,\"Protocol\":0}}\n";
    let imp = import(naabu, ImportFormat::NaabuJsonl);
    assert_eq!(listed(&imp), ["192.0.2.9:80"]);
    assert_eq!(
        imp.errors,
        [
            "line 2: no \"port\"",
            "line 3: no \"ip\" or \"host\"",
            "line 4: bad port 65536"
        ]
    );
}

#[test]
fn nmap_problems_carry_the_line_and_a_cut_off_scan_keeps_its_finds() {
    let real = fixture("nmap-real.xml");
    let text = String::from_utf8(real.clone()).unwrap();
    // Cut inside the second <host>: the first host's ports are all there.
    let cut = text.find("<times srtt=\"614\"").unwrap();
    let imp = import(&real[..cut], ImportFormat::Auto);
    assert_eq!(
        listed(&imp),
        [
            "127.0.42.30:18080 lh-import-fixture.test",
            "127.0.42.30:18081 lh-import-fixture.test",
        ]
    );
    assert_eq!(
        imp.errors,
        ["line 20: input ends inside this <host> (truncated?)"]
    );

    let bad = text.replacen("portid=\"18081\"", "portid=\"x18081\"", 1);
    let imp = import(bad.as_bytes(), ImportFormat::NmapXml);
    assert_eq!(imp.errors, ["line 15: bad port x18081"]);
    assert_eq!(imp.endpoints.len(), 2, "the second host still has 18081");

    let broken = text.replacen("</ports>", "</port>", 1);
    let imp = import(broken.as_bytes(), ImportFormat::NmapXml);
    assert_eq!(imp.errors.len(), 1, "{:?}", imp.errors);
    assert!(
        imp.errors[0].starts_with("line 17: XML error: "),
        "{:?}",
        imp.errors
    );
}

#[test]
fn nothing_readable_is_an_error_but_an_empty_result_is_not() {
    let e = parse_import(b"hello world\nfoo\n", ImportFormat::Auto, &Fake).unwrap_err();
    assert_eq!(
        e.to_string(),
        "import: nothing could be read as host-port: line 1: unexpected `world` after `hello` (and 1 more problems)"
    );
    let e = parse_import(b"{\"a\":1}", ImportFormat::NmapXml, &Fake).unwrap_err();
    assert!(e.to_string().contains("not nmap XML"), "{e}");
    for blank in [&b""[..], b"  \n\t\r\n", b"\xEF\xBB\xBF\n"] {
        assert_eq!(
            parse_import(blank, ImportFormat::Auto, &Fake),
            Err(TargetError::Import("empty input".into()))
        );
    }
    // A scan that found nothing open is a valid, empty result.
    let none = String::from_utf8(fixture("nmap-real.xml"))
        .unwrap()
        .replace("state=\"open\"", "state=\"closed\"");
    let imp = import(none.as_bytes(), ImportFormat::Auto);
    assert!(imp.endpoints.is_empty() && imp.errors.is_empty());
    let imp = import(b"#masscan\n# end\n", ImportFormat::Auto);
    assert_eq!(
        (imp.format, imp.endpoints.len()),
        (ImportFormat::MasscanList, 0)
    );
    let imp = import(b"[\n]\n", ImportFormat::Auto);
    assert_eq!(
        (imp.format, imp.endpoints.len()),
        (ImportFormat::MasscanJson, 0)
    );
}

#[test]
fn oversized_input_is_refused_unread() {
    // calloc'd: the pages are never touched, so this costs no real memory.
    let big = vec![0u8; MAX_IMPORT_BYTES + 1];
    let e = parse_import(&big, ImportFormat::Auto, &Refuse).unwrap_err();
    assert!(e.to_string().contains("more than the"), "{e}");
}

#[test]
fn the_problem_list_is_bounded() {
    let text = "x\n".repeat(MAX_ERRORS + 10) + "192.0.2.1:80\n";
    let imp = import(text.as_bytes(), ImportFormat::HostPort);
    assert_eq!(imp.endpoints.len(), 1);
    assert_eq!(imp.errors.len(), MAX_ERRORS + 1);
    assert_eq!(imp.errors[MAX_ERRORS], "10 more problems not listed");
}

#[test]
fn detection_of_each_format() {
    let cases: [(&[u8], ImportFormat); 9] = [
        (b"<?xml version=\"1.0\"?><nmaprun/>", ImportFormat::NmapXml),
        (b"\xEF\xBB\xBF  <nmaprun>", ImportFormat::NmapXml),
        (b"\n[\n{\"ip\": \"192.0.2.1\"}\n]", ImportFormat::MasscanJson),
        (b"{finished: 1}\n", ImportFormat::MasscanJson),
        (b"#masscan\n", ImportFormat::MasscanList),
        (
            b"{\"ip\":\"192.0.2.1\",\"timestamp\":\"1\",\"port\":80,\"proto\":\"tcp\",\"rec_type\":\"status\"}",
            ImportFormat::MasscanNdjson,
        ),
        (
            b"{\"host\":\"a.test\",\"ip\":\"192.0.2.1\",\"port\":80}",
            ImportFormat::NaabuJsonl,
        ),
        (b"# list\n\na.test:80\n", ImportFormat::HostPort),
        (b"open sesame\n", ImportFormat::HostPort),
    ];
    for (bytes, want) in cases {
        assert_eq!(
            detect_format(bytes),
            want,
            "{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

const FIXTURES: [(&str, ImportFormat); 10] = [
    ("nmap-real.xml", ImportFormat::NmapXml),
    ("nmap-handwritten.xml", ImportFormat::NmapXml),
    ("masscan-oJ-handwritten.json", ImportFormat::MasscanJson),
    (
        "masscan-oJ-trailing-comma-handwritten.json",
        ImportFormat::MasscanJson,
    ),
    (
        "masscan-oJ-oldest-handwritten.json",
        ImportFormat::MasscanJson,
    ),
    ("masscan-oL-handwritten.txt", ImportFormat::MasscanList),
    ("masscan-oD-handwritten.ndjson", ImportFormat::MasscanNdjson),
    ("naabu-handwritten.jsonl", ImportFormat::NaabuJsonl),
    ("naabu-old-handwritten.jsonl", ImportFormat::NaabuJsonl),
    ("hostport-handwritten.txt", ImportFormat::HostPort),
];

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng(0x1ea4_40d5_eed5);
    // Random bytes, and random bytes drawn from the formats' own punctuation, which get
    // further into the parsers than noise does.
    let alphabet = b"<>/=\"'{}[]:,.# \n\r\t\\-0123456789abcdefopentcp&;!?xml";
    for round in 0..3000 {
        let len = rng.below(300);
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if round % 2 == 0 {
                    rng.next() as u8
                } else {
                    alphabet[rng.below(alphabet.len())]
                }
            })
            .collect();
        for format in ImportFormat::ALL {
            let _ = parse_import(&bytes, format, &Fake);
        }
    }
}

#[test]
fn cut_or_damaged_fixtures_never_panic_and_cuts_invent_nothing() {
    let mut rng = Rng(0x5eed_cafe);
    for (name, format) in FIXTURES {
        let whole = fixture(name);
        let full = import(&whole, format).endpoints;
        for cut in 0..whole.len() {
            let part = &whole[..cut];
            let auto = parse_import(part, ImportFormat::Auto, &Fake);
            let named = parse_import(part, format, &Fake);
            // In XML and JSON a cut record is incomplete, so a prefix can only yield
            // endpoints of the whole; a cut text line may read as another address.
            if matches!(format, ImportFormat::MasscanList | ImportFormat::HostPort) {
                continue;
            }
            for got in [auto, named].into_iter().flatten() {
                for e in &got.endpoints {
                    assert!(full.contains(e), "{name} cut at {cut}: invented {e:?}");
                }
            }
        }
        for _ in 0..300 {
            let mut damaged = whole.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(damaged.len());
                damaged[i] = rng.next() as u8;
            }
            let other = ImportFormat::ALL[rng.below(ImportFormat::ALL.len())];
            let _ = parse_import(&damaged, format, &Fake);
            let _ = parse_import(&damaged, other, &Fake);
        }
    }
}

#[test]
fn deep_nesting_is_not_a_stack_overflow() {
    let deep_json = "[".repeat(100_000) + &"{".repeat(100_000);
    let deep_xml = "<nmaprun>".to_string() + &"<a>".repeat(100_000);
    for bytes in [deep_json.as_bytes(), deep_xml.as_bytes()] {
        for format in ImportFormat::ALL {
            let _ = parse_import(bytes, format, &Fake);
        }
    }
    let line = "{\"ip\":".to_string() + &"[".repeat(10_000) + "\n";
    for format in [ImportFormat::MasscanNdjson, ImportFormat::NaabuJsonl] {
        let _ = parse_import(line.as_bytes(), format, &Fake);
    }
}
