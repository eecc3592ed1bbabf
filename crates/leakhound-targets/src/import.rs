//! Importing other discovery tools' results — nmap XML, masscan `-oJ`/`-oL`/`-oD`, naabu
//! `-json`, plain `host:port` lists — as the open endpoints a scan can fingerprint
//! without running its own discovery.
//!
//! Every format is read tolerantly: a bad record becomes a line-numbered entry in
//! [`Imported::errors`] and reading goes on, because a scan killed half-way or an old
//! tool version with quirky output should still yield what it did find. Only TCP ports
//! reported open are kept; anything else (closed, filtered, `open|filtered`, UDP, banner
//! records) is skipped without complaint, since those are results, not mistakes.

use crate::{valid_host, Endpoint, Resolver, TargetError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::XmlVersion;
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;

/// The largest input accepted, in bytes. Bigger files are refused rather than read, as
/// the whole input is held in memory and every endpoint in a list.
pub const MAX_IMPORT_BYTES: usize = 256 * 1024 * 1024;

/// At most this many problems are listed in [`Imported::errors`]; the rest are counted
/// in one closing entry, so that a huge file of garbage cannot grow the list without end.
pub const MAX_ERRORS: usize = 1000;

/// Which tool's output the input is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ImportFormat {
    /// Decide from the content (see [`detect_format`]).
    Auto,
    /// `nmap -oX` (masscan's `-oX`, which imitates it, reads the same way).
    NmapXml,
    /// `masscan -oJ`: a JSON array of records, in every historical variant.
    MasscanJson,
    /// `masscan -oL`: `open tcp 80 10.0.0.1 1390380064` lines.
    MasscanList,
    /// `masscan -oD`: one JSON record per line.
    MasscanNdjson,
    /// `naabu -json`: one JSON result per line.
    NaabuJsonl,
    /// `host:port`, `ip:port` or `[v6]:port`, one per line.
    HostPort,
}

impl ImportFormat {
    /// Every format, `Auto` first.
    pub const ALL: [ImportFormat; 7] = [
        ImportFormat::Auto,
        ImportFormat::NmapXml,
        ImportFormat::MasscanJson,
        ImportFormat::MasscanList,
        ImportFormat::MasscanNdjson,
        ImportFormat::NaabuJsonl,
        ImportFormat::HostPort,
    ];

    /// The name [`FromStr`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            ImportFormat::Auto => "auto",
            ImportFormat::NmapXml => "nmap-xml",
            ImportFormat::MasscanJson => "masscan-json",
            ImportFormat::MasscanList => "masscan-list",
            ImportFormat::MasscanNdjson => "masscan-ndjson",
            ImportFormat::NaabuJsonl => "naabu-jsonl",
            ImportFormat::HostPort => "host-port",
        }
    }
}

impl fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ImportFormat {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let want = s.trim();
        ImportFormat::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(want))
            .ok_or_else(|| {
                let names: Vec<&str> = ImportFormat::ALL.iter().map(|f| f.name()).collect();
                TargetError::Import(format!(
                    "unknown format `{want}` (expected one of: {})",
                    names.join(", ")
                ))
            })
    }
}

/// What an import found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    /// The format read: the one asked for, or the detected one for [`ImportFormat::Auto`].
    pub format: ImportFormat,
    /// Open TCP endpoints, in input order, each address and port once (the first wins).
    pub endpoints: Vec<Endpoint>,
    /// Records that could not be read, as `line N: problem`; reading went on past them.
    pub errors: Vec<String>,
}

/// Reads another tool's output into endpoints. Host names (in `host:port` lists, or a
/// naabu result without an address) are resolved with `resolver`, once per name.
///
/// Fails when the input is empty or over [`MAX_IMPORT_BYTES`], or when it had problems
/// and yielded no endpoint at all: that is the wrong format or a broken file, not a scan
/// that found nothing. A well-formed result with no open port is `Ok` and empty.
pub fn parse_import<R: Resolver>(
    bytes: &[u8],
    format: ImportFormat,
    resolver: &R,
) -> Result<Imported, TargetError> {
    if bytes.len() > MAX_IMPORT_BYTES {
        return Err(TargetError::Import(format!(
            "input is {} bytes, more than the {} accepted",
            bytes.len(),
            MAX_IMPORT_BYTES
        )));
    }
    // Editors on Windows save with a BOM; it is no part of the first line.
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    if content(bytes).is_empty() {
        return Err(TargetError::Import("empty input".into()));
    }
    let format = match format {
        ImportFormat::Auto => detect_format(bytes),
        f => f,
    };
    let mut sink = Sink::default();
    match format {
        ImportFormat::NmapXml => parse_nmap(bytes, &mut sink),
        ImportFormat::MasscanJson => parse_masscan_json(bytes, &mut sink),
        ImportFormat::MasscanList => parse_masscan_list(bytes, &mut sink),
        ImportFormat::MasscanNdjson => parse_json_lines(bytes, &mut sink, |line, obj, sink| {
            masscan_record(line, obj, sink)
        }),
        ImportFormat::NaabuJsonl => {
            let mut names = Names::new(resolver);
            parse_json_lines(bytes, &mut sink, |line, obj, sink| {
                naabu_record(line, obj, &mut names, sink)
            })
        }
        ImportFormat::HostPort => parse_host_port(bytes, &mut sink, &mut Names::new(resolver)),
        ImportFormat::Auto => unreachable!("resolved above"),
    }
    sink.finish(format)
}

/// The format [`ImportFormat::Auto`] picks for `bytes`: XML is nmap's; a JSON array is
/// masscan `-oJ`; JSON lines are masscan `-oD` when they carry masscan's fields and
/// naabu's otherwise; `open tcp …` lines or a `#masscan` header are masscan `-oL`;
/// anything else is read as a `host:port` list.
pub fn detect_format(bytes: &[u8]) -> ImportFormat {
    let text = content(bytes);
    match text.first() {
        Some(b'<') => ImportFormat::NmapXml,
        Some(b'[') => ImportFormat::MasscanJson,
        Some(b'{') => {
            let first = trim(text.split(|&b| b == b'\n').next().unwrap_or_default());
            // masscan before 1.0.4 wrote `-oJ` records without the enclosing array, each
            // followed by a comma, and closed with `{finished: 1}`; `-oD` never has commas
            // between records.
            if first.ends_with(b",") || first.starts_with(b"{finished") {
                ImportFormat::MasscanJson
            } else if [&b"rec_type"[..], b"\"ports\"", b"\"proto\""]
                .iter()
                .any(|k| contains(first, k))
            {
                ImportFormat::MasscanNdjson
            } else {
                ImportFormat::NaabuJsonl
            }
        }
        _ => {
            for line in text.split(|&b| b == b'\n').map(trim) {
                if line.starts_with(b"#masscan") {
                    return ImportFormat::MasscanList;
                }
                if line.is_empty() || line.starts_with(b"#") {
                    continue;
                }
                let mut words = line
                    .split(u8::is_ascii_whitespace)
                    .filter(|w| !w.is_empty());
                let status = words.next().and_then(|w| std::str::from_utf8(w).ok());
                let proto = words.next().and_then(|w| std::str::from_utf8(w).ok());
                return match (status, proto) {
                    (Some(s), Some(p)) if is_masscan_status(s) && is_masscan_proto(p) => {
                        ImportFormat::MasscanList
                    }
                    _ => ImportFormat::HostPort,
                };
            }
            ImportFormat::HostPort
        }
    }
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The input without a UTF-8 byte order mark and surrounding whitespace.
fn content(bytes: &[u8]) -> &[u8] {
    trim(bytes.strip_prefix(BOM).unwrap_or(bytes))
}

fn trim(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Lines with 1-based numbers, without their `\r\n` or `\n`.
fn numbered_lines(bytes: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    bytes.split(|&b| b == b'\n').enumerate().map(|(i, l)| {
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        (i + 1, l)
    })
}

fn port_number(n: u64) -> Result<u16, String> {
    match u16::try_from(n) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("bad port {n}")),
    }
}

fn port_text(s: &str) -> Result<u16, String> {
    match s.trim().parse::<u64>() {
        Ok(n) => port_number(n),
        Err(_) => Err(format!("bad port {s}")),
    }
}

fn ip_text(s: &str) -> Result<IpAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("bad address `{}`", s.trim()))
}

fn host_name(name: &str) -> Option<Arc<str>> {
    let name = name.trim().trim_end_matches('.');
    (valid_host(name) && name.parse::<IpAddr>().is_err()).then(|| name.to_ascii_lowercase().into())
}

/// Collects endpoints (deduplicated) and problems (bounded).
#[derive(Default)]
struct Sink {
    endpoints: Vec<Endpoint>,
    seen: HashSet<(IpAddr, u16)>,
    errors: Vec<String>,
    unlisted: usize,
}

impl Sink {
    fn push(&mut self, ip: IpAddr, port: u16, host: Option<Arc<str>>) {
        if self.seen.insert((ip, port)) {
            self.endpoints.push(Endpoint { ip, port, host });
        }
    }

    fn problem(&mut self, message: String) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(message);
        } else {
            self.unlisted += 1;
        }
    }

    fn error(&mut self, line: usize, message: impl fmt::Display) {
        self.problem(format!("line {line}: {message}"));
    }

    fn finish(mut self, format: ImportFormat) -> Result<Imported, TargetError> {
        let total = self.errors.len() + self.unlisted;
        if self.endpoints.is_empty() && total > 0 {
            let more = match total - 1 {
                0 => String::new(),
                n => format!(" (and {n} more problems)"),
            };
            return Err(TargetError::Import(format!(
                "nothing could be read as {format}: {}{more}",
                self.errors[0]
            )));
        }
        if self.unlisted > 0 {
            self.errors
                .push(format!("{} more problems not listed", self.unlisted));
        }
        Ok(Imported {
            format,
            endpoints: self.endpoints,
            errors: self.errors,
        })
    }
}

/// Resolves host names through the caller's resolver, each name once: lists often repeat
/// a name for every open port.
struct Names<'r, R: Resolver> {
    resolver: &'r R,
    cache: HashMap<Arc<str>, Result<Vec<IpAddr>, String>>,
}

impl<'r, R: Resolver> Names<'r, R> {
    fn new(resolver: &'r R) -> Self {
        Names {
            resolver,
            cache: HashMap::new(),
        }
    }

    fn resolve(&mut self, name: &Arc<str>) -> Result<Vec<IpAddr>, String> {
        if let Some(r) = self.cache.get(name) {
            return r.clone();
        }
        let r = self.resolver.resolve(name);
        self.cache.insert(name.clone(), r.clone());
        r
    }

    /// Adds every address of `name` with `port`, or reports why there is none.
    fn push(&mut self, sink: &mut Sink, line: usize, name: &Arc<str>, port: u16) {
        match self.resolve(name) {
            Ok(ips) if !ips.is_empty() => {
                for ip in ips {
                    sink.push(ip, port, Some(name.clone()));
                }
            }
            Ok(_) => sink.error(line, format!("`{name}`: resolves to no address")),
            Err(message) => sink.error(line, format!("`{name}`: does not resolve: {message}")),
        }
    }
}

// ---------------------------------------------------------------------------------------
// nmap XML

/// Byte offset to line number, for offsets that mostly move forward.
struct LineCounter<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            pos: 0,
            line: 1,
        }
    }

    fn at(&mut self, pos: u64) -> usize {
        let pos = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        if pos < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        self.line += self.bytes[self.pos..pos]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.pos = pos;
        self.line
    }
}

#[derive(Default)]
struct NmapHost {
    line: usize,
    ip: Option<IpAddr>,
    name: Option<Arc<str>>,
    open: Vec<u16>,
}

struct NmapPort {
    line: usize,
    tcp: bool,
    id: Option<String>,
    open: bool,
}

fn attr(e: &BytesStart<'_>, name: &[u8]) -> Result<Option<String>, String> {
    for a in e.attributes() {
        let a = a.map_err(|e| format!("XML error: {e}"))?;
        if a.key.local_name().as_ref() == name {
            return a
                .normalized_value(XmlVersion::Implicit1_0)
                .map(|v| Some(v.into_owned()))
                .map_err(|e| format!("XML error: {e}"));
        }
    }
    Ok(None)
}

/// Streams the document: only `<host>` elements matter, and each is emitted at its end so
/// that the user-given name, which nmap writes before the ports, goes with every port.
fn parse_nmap(bytes: &[u8], sink: &mut Sink) {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut lines = LineCounter::new(bytes);
    let mut seen_root = false;
    let mut host: Option<NmapHost> = None;
    let mut port: Option<NmapPort> = None;
    let mut broken = false;
    loop {
        let at = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                let line = lines.at(reader.error_position());
                sink.error(line, format!("XML error: {e}"));
                broken = true;
                break;
            }
        };
        let (e, empty) = match &event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) => {
                match e.local_name().as_ref() {
                    b"port" => close_port(&mut host, port.take(), sink),
                    b"host" => {
                        close_port(&mut host, port.take(), sink);
                        if let Some(h) = host.take() {
                            flush_host(h, sink);
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let line = lines.at(at);
        match e.local_name().as_ref() {
            b"nmaprun" => seen_root = true,
            b"host" if !empty => {
                // A `<host>` inside an unclosed one means the first was cut short.
                if let Some(h) = host.take() {
                    flush_host(h, sink);
                }
                host = Some(NmapHost {
                    line,
                    ..NmapHost::default()
                });
            }
            // `<hosthint>` carries addresses too, but of hosts that may never be scanned:
            // only addresses inside `<host>` count.
            b"address" => {
                let Some(h) = host.as_mut() else { continue };
                let kind = attr(e, b"addrtype");
                let addr = attr(e, b"addr");
                match (kind, addr) {
                    (Ok(Some(kind)), Ok(Some(addr))) if kind == "ipv4" || kind == "ipv6" => {
                        match ip_text(&addr) {
                            Ok(ip) => {
                                h.ip.get_or_insert(ip);
                            }
                            Err(m) => sink.error(line, m),
                        }
                    }
                    (Err(m), _) | (_, Err(m)) => sink.error(line, m),
                    _ => {}
                }
            }
            // Only the name the user typed: a PTR name is whatever the address's owner
            // chose, not the virtual host the scan was aimed at.
            b"hostname" => {
                let Some(h) = host.as_mut() else { continue };
                match (attr(e, b"type"), attr(e, b"name")) {
                    (Ok(Some(kind)), Ok(Some(name))) if kind == "user" && h.name.is_none() => {
                        h.name = host_name(&name);
                    }
                    (Err(m), _) | (_, Err(m)) => sink.error(line, m),
                    _ => {}
                }
            }
            b"port" if host.is_some() => {
                close_port(&mut host, port.take(), sink);
                let tcp = matches!(attr(e, b"protocol"), Ok(Some(p)) if p == "tcp");
                let id = match attr(e, b"portid") {
                    Ok(id) => id,
                    Err(m) => {
                        sink.error(line, m);
                        None
                    }
                };
                let p = NmapPort {
                    line,
                    tcp,
                    id,
                    open: false,
                };
                if empty {
                    close_port(&mut host, Some(p), sink);
                } else {
                    port = Some(p);
                }
            }
            // Exactly `open`: `open|filtered` means no answer came, so nothing is known
            // to listen there.
            b"state" => {
                if let Some(p) = port.as_mut() {
                    match attr(e, b"state") {
                        Ok(state) => p.open = state.as_deref() == Some("open"),
                        Err(m) => sink.error(line, m),
                    }
                }
            }
            _ => {}
        }
    }
    // What was read of an unfinished host is still a finding: a scan killed mid-way, or
    // a file cut short, should not lose the ports it did record.
    close_port(&mut host, port.take(), sink);
    if let Some(h) = host.take() {
        let line = h.line;
        flush_host(h, sink);
        if !broken {
            sink.error(line, "input ends inside this <host> (truncated?)");
        }
    }
    if !seen_root {
        sink.problem("no <nmaprun> element: not nmap XML".into());
    }
}

fn close_port(host: &mut Option<NmapHost>, port: Option<NmapPort>, sink: &mut Sink) {
    let (Some(h), Some(p)) = (host.as_mut(), port) else {
        return;
    };
    if !(p.tcp && p.open) {
        return;
    }
    match p.id.as_deref().map(port_text) {
        Some(Ok(n)) => h.open.push(n),
        Some(Err(m)) => sink.error(p.line, m),
        None => sink.error(p.line, "<port> without portid"),
    }
}

fn flush_host(h: NmapHost, sink: &mut Sink) {
    match h.ip {
        Some(ip) => {
            for port in h.open {
                sink.push(ip, port, h.name.clone());
            }
        }
        None if !h.open.is_empty() => sink.error(h.line, "<host> with open ports but no address"),
        None => {}
    }
}

// ---------------------------------------------------------------------------------------
// masscan

fn is_masscan_status(s: &str) -> bool {
    matches!(s, "open" | "closed" | "arp" | "unknown" | "banner")
}

fn is_masscan_proto(s: &str) -> bool {
    matches!(s, "tcp" | "udp" | "sctp" | "icmp" | "arp" | "oproto")
}

/// `-oL`: `STATUS PROTO PORT IP TIMESTAMP`, or `banner PROTO PORT IP TIMESTAMP SERVICE …`.
fn parse_masscan_list(bytes: &[u8], sink: &mut Sink) {
    for (n, line) in numbered_lines(bytes) {
        let Ok(line) = std::str::from_utf8(line) else {
            sink.error(n, "not UTF-8");
            continue;
        };
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_ascii_whitespace().take(4).collect();
        match words[..] {
            [status, proto, port, ip] if is_masscan_status(status) => {
                if status != "open" || proto != "tcp" {
                    continue;
                }
                match (ip_text(ip), port_text(port)) {
                    (Ok(ip), Ok(port)) => sink.push(ip, port, None),
                    (Err(m), _) | (_, Err(m)) => sink.error(n, m),
                }
            }
            _ => sink.error(n, "not a masscan -oL line"),
        }
    }
}

/// `-oJ`, whatever the masscan version: since 1.0.4 an array (with a trailing comma
/// before `]` up to about 1.0.6, and sometimes no `]` when masscan is killed); before,
/// comma-terminated records without the array, `{finished: 1}` at the end and, in the
/// earliest versions, unquoted keys. So records are cut out by brace matching, not by
/// parsing the whole document.
fn parse_masscan_json(bytes: &[u8], sink: &mut Sink) {
    json_objects(bytes, |line, record| match record {
        Ok(slice) => match parse_object(slice) {
            Ok(obj) => masscan_record(line, &obj, sink),
            Err(m) => sink.error(line, m),
        },
        Err(m) => sink.error(line, m),
    });
}

/// Calls `each` with every top-level `{…}` in `bytes` and the line it starts on, skipping
/// the separators masscan puts between them. Stray text is reported once per line.
fn json_objects(bytes: &[u8], mut each: impl FnMut(usize, Result<&[u8], &'static str>)) {
    let mut i = 0;
    let mut line = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b',' | b'[' | b']' => i += 1,
            b'{' => {
                let (start, start_line) = (i, line);
                let (mut depth, mut string) = (0usize, JsonString::default());
                let mut end = None;
                while i < bytes.len() {
                    let c = bytes[i];
                    i += 1;
                    if c == b'\n' {
                        line += 1;
                    }
                    if string.inside(c) {
                        continue;
                    }
                    match c {
                        b'"' => string.open(),
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth = depth.saturating_sub(1);
                            if depth == 0 {
                                end = Some(i);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                match end {
                    Some(end) => each(start_line, Ok(&bytes[start..end])),
                    None => each(start_line, Err("record cut off at the end of the input")),
                }
            }
            _ => {
                each(line, Err("unexpected text between records"));
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
        }
    }
}

/// One JSON object, accepting the unquoted keys of the earliest masscan `-oJ`.
fn parse_object(slice: &[u8]) -> Result<Map<String, Value>, String> {
    let value = match serde_json::from_slice::<Value>(slice) {
        Ok(v) => v,
        Err(e) => match serde_json::from_slice::<Value>(&quote_bare_keys(slice)) {
            Ok(v) => v,
            Err(_) => return Err(format!("bad JSON: {e}")),
        },
    };
    match value {
        Value::Object(obj) => Ok(obj),
        _ => Err("not a JSON object".into()),
    }
}

/// `{ip: "1.2.3.4", ports: [{port: 80}]}` → `{"ip": "1.2.3.4", "ports": [{"port": 80}]}`:
/// quotes each bare word outside a string that is followed by `:`.
fn quote_bare_keys(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len() + 16);
    let (mut i, mut string) = (0, JsonString::default());
    while i < s.len() {
        let c = s[i];
        if string.inside(c) {
            out.push(c);
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < s.len() && (s[i].is_ascii_alphanumeric() || s[i] == b'_') {
                i += 1;
            }
            let word = &s[start..i];
            let next = s[i..].iter().find(|b| !b.is_ascii_whitespace());
            if next == Some(&b':') {
                out.push(b'"');
                out.extend_from_slice(word);
                out.push(b'"');
            } else {
                out.extend_from_slice(word);
            }
        } else {
            if c == b'"' {
                string.open();
            }
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Where a byte-by-byte walk over JSON text stands with respect to strings, so brackets and
/// bare words inside a string are not taken for structure.
#[derive(Default)]
struct JsonString {
    inside: bool,
    escaped: bool,
}

impl JsonString {
    /// Call at an opening quote outside a string.
    fn open(&mut self) {
        self.inside = true;
    }

    /// Whether `c` belongs to a string (its closing quote included); advances the state.
    fn inside(&mut self, c: u8) -> bool {
        if !self.inside {
            return false;
        }
        if self.escaped {
            self.escaped = false;
        } else if c == b'\\' {
            self.escaped = true;
        } else if c == b'"' {
            self.inside = false;
        }
        true
    }
}

/// One JSON record per line; a line's trailing comma is ignored, so that masscan's old
/// array-less `-oJ` read as lines still works.
fn parse_json_lines(
    bytes: &[u8],
    sink: &mut Sink,
    mut record: impl FnMut(usize, &Map<String, Value>, &mut Sink),
) {
    for (n, line) in numbered_lines(bytes) {
        let line = trim(line);
        let line = trim(line.strip_suffix(b",").unwrap_or(line));
        if line.is_empty() {
            continue;
        }
        match parse_object(line) {
            Ok(obj) => record(n, &obj, sink),
            Err(m) => sink.error(n, m),
        }
    }
}

/// A masscan record in either shape: `-oJ`'s `{ip, ports: [{port, proto, status}]}` (also
/// what `-oD` lines look like to tools that treat old `-oJ` as lines), or `-oD`'s flat
/// `{ip, port, proto, rec_type, data: {status}}`. Banner records are not port states and
/// are skipped; masscan reports the port's state in a record of its own.
fn masscan_record(line: usize, obj: &Map<String, Value>, sink: &mut Sink) {
    if obj.contains_key("finished") && !obj.contains_key("ip") {
        return;
    }
    let ip = match obj.get("ip").and_then(Value::as_str).map(ip_text) {
        Some(Ok(ip)) => ip,
        Some(Err(m)) => return sink.error(line, m),
        None => return sink.error(line, "no \"ip\""),
    };
    let mut one = |p: &Map<String, Value>, status: Option<&Value>| {
        let open = status.and_then(Value::as_str) == Some("open");
        let tcp = p.get("proto").and_then(Value::as_str) == Some("tcp");
        if open && tcp {
            match p.get("port").map(json_port) {
                Some(Ok(port)) => sink.push(ip, port, None),
                Some(Err(m)) => sink.error(line, m),
                None => sink.error(line, "no \"port\""),
            }
        }
    };
    if let Some(ports) = obj.get("ports") {
        match ports.as_array() {
            Some(ports) => {
                for p in ports.iter().filter_map(Value::as_object) {
                    one(p, p.get("status"));
                }
            }
            None => sink.error(line, "\"ports\" is not a list"),
        }
    } else if obj.contains_key("port") {
        let rec_type = obj.get("rec_type").and_then(Value::as_str);
        if rec_type.is_some_and(|t| t != "status") {
            return;
        }
        let status = obj
            .get("data")
            .and_then(|d| d.get("status"))
            .or_else(|| obj.get("status"));
        one(obj, status);
    } else {
        sink.error(line, "no \"port\" or \"ports\"");
    }
}

fn json_port(v: &Value) -> Result<u16, String> {
    match v {
        Value::Number(n) => match n.as_u64() {
            Some(n) => port_number(n),
            None => Err(format!("bad port {n}")),
        },
        Value::String(s) => port_text(s),
        other => Err(format!("bad port {other}")),
    }
}

// ---------------------------------------------------------------------------------------
// naabu

/// `naabu -json`: `{host?, ip, port: 80, protocol: "tcp", …}` since v2.2; before, the port
/// was naabu's Go struct marshalled as is, `port: {"Port": 80, "Protocol": 0, "TLS": false}`
/// with the protocol as its enum number (0 TCP, 1 UDP, 2 ARP). naabu leaves `host` out
/// when it equals `ip`.
fn naabu_record<R: Resolver>(
    line: usize,
    obj: &Map<String, Value>,
    names: &mut Names<'_, R>,
    sink: &mut Sink,
) {
    let (port, protocol) = match obj.get("port") {
        Some(Value::Object(p)) => (
            p.get("Port").or_else(|| p.get("port")),
            p.get("Protocol").or_else(|| p.get("protocol")),
        ),
        Some(p) => (Some(p), obj.get("protocol")),
        None => (None, obj.get("protocol")),
    };
    let tcp = match protocol {
        // Versions before protocols were reported scanned TCP only.
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("tcp"),
        Some(Value::Number(n)) => n.as_u64() == Some(0),
        Some(_) => false,
    };
    let port = match port.map(json_port) {
        Some(Ok(port)) => port,
        Some(Err(m)) => return sink.error(line, m),
        None => return sink.error(line, "no \"port\""),
    };
    if !tcp {
        return;
    }
    let ip = obj
        .get("ip")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    let name = obj
        .get("host")
        .and_then(Value::as_str)
        .filter(|h| Some(*h) != ip)
        .and_then(host_name);
    match (ip.map(ip_text), name) {
        (Some(Ok(ip)), name) => sink.push(ip, port, name),
        (Some(Err(m)), _) => sink.error(line, m),
        (None, Some(name)) => names.push(sink, line, &name, port),
        (None, None) => sink.error(line, "no \"ip\" or \"host\""),
    }
}

// ---------------------------------------------------------------------------------------
// host:port lists

/// `host:port`, `ip:port`, `[v6]:port` per line; `#` starts a comment. A bracketed note
/// after the endpoint (naabu's plain output adds ` [cdn-name]`) is ignored.
fn parse_host_port<R: Resolver>(bytes: &[u8], sink: &mut Sink, names: &mut Names<'_, R>) {
    for (n, line) in numbered_lines(bytes) {
        let Ok(line) = std::str::from_utf8(line) else {
            sink.error(n, "not UTF-8");
            continue;
        };
        let line = line.split('#').next().unwrap_or_default().trim();
        let mut words = line.split_whitespace();
        let Some(target) = words.next() else { continue };
        if let Some(extra) = words.find(|w| !(w.starts_with('[') || w.ends_with(']'))) {
            sink.error(n, format!("unexpected `{extra}` after `{target}`"));
            continue;
        }
        match host_port(target) {
            Ok((Target::Ip(ip), port)) => sink.push(ip, port, None),
            Ok((Target::Name(name), port)) => names.push(sink, n, &name, port),
            Err(m) => sink.error(n, m),
        }
    }
}

enum Target {
    Ip(IpAddr),
    Name(Arc<str>),
}

/// The address or host name, and the port, of one `host:port` target.
fn host_port(s: &str) -> Result<(Target, u16), String> {
    let no_port = || format!("`{s}`: no port (expected host:port, ip:port or [v6]:port)");
    if let Some(rest) = s.strip_prefix('[') {
        let (addr, tail) = rest
            .split_once(']')
            .ok_or_else(|| format!("`{s}`: missing `]`"))?;
        let ip = addr
            .parse::<std::net::Ipv6Addr>()
            .map_err(|_| format!("bad address `{addr}`"))?;
        let port = tail.strip_prefix(':').ok_or_else(no_port)?;
        return Ok((Target::Ip(IpAddr::V6(ip)), port_text(port)?));
    }
    let (host, port) = s.rsplit_once(':').ok_or_else(no_port)?;
    if host.contains(':') {
        // A bare IPv6 address: its last group cannot be told from a port.
        return Err(no_port());
    }
    let port = port_text(port)?;
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok((Target::Ip(ip), port));
    }
    match host_name(host) {
        Some(name) => Ok((Target::Name(name), port)),
        None => Err(format!("`{s}`: not an address or host name")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_keys_are_quoted_and_strings_left_alone() {
        let fixed = quote_bare_keys(br#"{ ip: "a:b", ports: [ {port: 80, ok: true} ] }"#);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"{ "ip": "a:b", "ports": [ {"port": 80, "ok": true} ] }"#
        );
        let fixed = quote_bare_keys(br#"{"s": "x\" y: 1"}"#);
        assert_eq!(fixed, br#"{"s": "x\" y: 1"}"#);
    }

    #[test]
    fn objects_are_cut_out_of_any_separator_soup() {
        let mut seen = Vec::new();
        json_objects(
            b"[\n{\"a\": \"}\"},\n{\"b\": [1, {}]}\n,\n]\nxx\n{\"c\":",
            |l, r| seen.push((l, r.map(|s| String::from_utf8_lossy(s).into_owned()))),
        );
        assert_eq!(
            seen,
            vec![
                (2, Ok(r#"{"a": "}"}"#.to_string())),
                (3, Ok(r#"{"b": [1, {}]}"#.to_string())),
                (6, Err("unexpected text between records")),
                (7, Err("record cut off at the end of the input")),
            ]
        );
    }

    #[test]
    fn format_names_round_trip() {
        for f in ImportFormat::ALL {
            assert_eq!(f.name().parse::<ImportFormat>().unwrap(), f);
        }
        assert_eq!(
            "NMAP-XML".parse::<ImportFormat>().unwrap(),
            ImportFormat::NmapXml
        );
        let e = "nmap".parse::<ImportFormat>().unwrap_err().to_string();
        assert!(e.contains("unknown format `nmap`"), "{e}");
    }

    #[test]
    fn line_counter_goes_back_and_forth() {
        let mut l = LineCounter::new(b"a\nb\nc");
        assert_eq!(l.at(4), 3);
        assert_eq!(l.at(1), 1);
        assert_eq!(l.at(2), 2);
        assert_eq!(l.at(u64::MAX), 3);
    }
}
