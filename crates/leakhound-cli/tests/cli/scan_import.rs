//! `scan --import`: open ports found by another tool are probed without a discovery pass.

use super::servers::{endpoint, scan_json, server};

#[test]
fn imported_endpoints_are_probed_in_every_format_and_exclusions_hold() {
    let (Some(ch), Some(redis), Some(redis_auth)) = (
        server("LH_CH_OPEN"),
        server("LH_REDIS_OPEN"),
        server("LH_REDIS_AUTH"),
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The layouts nmap -oX, masscan -oL and naabu -json write (the parsers' own tests hold
    // the full fixtures); each file names the same three servers.
    let nmap = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<nmaprun scanner="nmap" args="nmap -sT -oX - x" version="7.93">
<host><status state="up"/><address addr="{ch}" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="8123"><state state="open" reason="syn-ack"/></port>
<port protocol="tcp" portid="8124"><state state="closed" reason="conn-refused"/></port></ports></host>
<host><status state="up"/><address addr="{redis}" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="6379"><state state="open" reason="syn-ack"/></port></ports></host>
<host><status state="up"/><address addr="{redis_auth}" addrtype="ipv4"/>
<ports><port protocol="tcp" portid="6379"><state state="open" reason="syn-ack"/></port></ports></host>
</nmaprun>
"#
    );
    let masscan = format!(
        "#masscan\nopen tcp 8123 {ch} 1700000000\nopen tcp 6379 {redis} 1700000000\nopen tcp 6379 {redis_auth} 1700000000\n# end\n"
    );
    let naabu = format!(
        "{{\"ip\":\"{ch}\",\"port\":8123,\"protocol\":\"tcp\"}}\n{{\"ip\":\"{redis}\",\"port\":6379,\"protocol\":\"tcp\"}}\n{{\"ip\":\"{redis_auth}\",\"port\":6379,\"protocol\":\"tcp\"}}\n"
    );
    for (name, text) in [
        ("nmap.xml", nmap),
        ("masscan.txt", masscan),
        ("naabu.jsonl", naabu),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let doc = scan_json(&[
            "--import",
            path.to_str().unwrap(),
            "--exclude",
            &redis_auth,
            "--no-store",
        ]);
        let eps = doc["endpoints"].as_array().unwrap();
        assert_eq!(eps.len(), 2, "{name}: {doc:#}");
        assert_eq!(
            endpoint(&doc, &ch, 8123)["service"],
            "clickhouse-http",
            "{name}"
        );
        assert_eq!(endpoint(&doc, &ch, 8123)["access"], "open", "{name}");
        assert_eq!(endpoint(&doc, &redis, 6379)["service"], "redis", "{name}");
        // The excluded server is never touched, whatever the import says.
        assert!(eps.iter().all(|e| e["ip"] != redis_auth.as_str()), "{name}");
    }
}

#[test]
fn an_imported_port_that_is_not_open_is_reported_unresponsive_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt");
    // Nothing listens on 127.0.42.23:1 (the tests' closed address).
    std::fs::write(&path, "# host:port list\n127.0.42.23:1\n").unwrap();
    let doc = scan_json(&["--import", path.to_str().unwrap(), "--no-store"]);
    let e = endpoint(&doc, "127.0.42.23", 1);
    assert_eq!(e["service"], "unknown");
    assert_eq!(e["access"], "unresponsive");
}

#[test]
fn a_bad_import_is_an_error_not_an_empty_scan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.xml");
    std::fs::write(&path, "").unwrap();
    let out = super::leakhound()
        .args(["scan", "--import", path.to_str().unwrap(), "--no-store"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
