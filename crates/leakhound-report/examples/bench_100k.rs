//! Store throughput and report generation time for 100,000 findings:
//! `cargo run --release -p leakhound-report --example bench_100k` (scripts/bench/store.sh).
//! Findings are synthetic: 1,000 endpoints with 100 content findings each.

use leakhound_model::{Access, Category, Location, Service, Severity};
use leakhound_report::{render, ReportFormat};
use leakhound_scan::{EndpointResult, Finding, TableSummary};
use std::time::Instant;

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.db");
    let mut store = leakhound_store::Store::open(&path).expect("store");
    let scan = store.begin_scan("bench").expect("scan");
    let endpoints: Vec<(EndpointResult, Vec<Finding>)> = (0..1000u32)
        .map(|e| {
            let ip: std::net::IpAddr = format!("127.1.{}.{}", e / 256, e % 256).parse().unwrap();
            let endpoint = format!("{ip}:8123");
            let result = EndpointResult {
                host: None,
                ip,
                port: 8123,
                service: Service::ClickhouseHttp,
                access: Access::Open,
                version: Some("18.16.1".into()),
                tls: false,
                databases: vec!["app".into()],
                tables: vec![TableSummary {
                    database: "app".into(),
                    table: "log_stream".into(),
                    engine: "MergeTree".into(),
                    rows: Some(1_000_000),
                    bytes: Some(13_000_000),
                    sampled_rows: 100,
                    categories: vec![Category::Secret, Category::Chat],
                }],
                notes: Vec::new(),
            };
            let findings = (0..100u32)
                .map(|i| Finding {
                    id: format!("{e:016x}{i:016x}"),
                    rule: format!("lh.bench.rule-{}", i % 40),
                    category: ["secret", "chat", "pii", "ops"][i as usize % 4].into(),
                    severity: [
                        Severity::Critical,
                        Severity::High,
                        Severity::Medium,
                        Severity::Low,
                    ][i as usize % 4],
                    title: format!("bench finding {i}"),
                    endpoint: endpoint.clone(),
                    location: Location {
                        database: Some("app".into()),
                        table: Some("log_stream".into()),
                        column: Some(format!("c{i}")),
                        key: None,
                    },
                    count: u64::from(i) + 1,
                    distinct: 1,
                    evidence: vec!["sk-pro…abcd (74 chars)".into(), "j***@example.com".into()],
                    remediation: "Bind listen_host to an internal interface; set a password."
                        .into(),
                })
                .collect();
            (result, findings)
        })
        .collect();

    let t = Instant::now();
    for (e, f) in &endpoints {
        store.record(scan, e, f).expect("record");
    }
    store.finish_scan(scan, "finished").expect("finish");
    let write = t.elapsed().as_secs_f64();
    println!("| store 100,000 findings (1,000 endpoint transactions) | {write:.2} s | {:.0} findings/s |", 100_000.0 / write);

    let t = Instant::now();
    let report = store.report(scan).expect("report");
    let load = t.elapsed().as_secs_f64();
    println!(
        "| load the scan back from the store | {load:.2} s | {} findings |",
        report.findings.len()
    );

    for (name, format) in [
        ("human", ReportFormat::Human),
        ("json", ReportFormat::Json),
        ("jsonl", ReportFormat::Jsonl),
        ("markdown", ReportFormat::Markdown),
        ("sarif", ReportFormat::Sarif),
        ("html", ReportFormat::Html),
    ] {
        let out_path = dir.path().join(format!("report.{name}"));
        let t = Instant::now();
        let mut out = leakhound_report::open_output(Some(&out_path)).expect("output");
        render(&mut out, &report, format).expect("render");
        drop(out);
        let secs = t.elapsed().as_secs_f64();
        let size = std::fs::metadata(&out_path).map(|m| m.len()).unwrap_or(0);
        println!(
            "| render {name} | {secs:.2} s | {:.1} MB |",
            size as f64 / 1e6
        );
    }
}
