//! `leakhound scan`: builds the engine's config from flags, runs it, renders the results.

use crate::cli::{Format, ScanArgs};
use crate::output::classifier;
use anyhow::{bail, Context};
use leakhound_classify::Options;
use leakhound_model::Severity;
use leakhound_scan::{EndpointResult, Event, Finding, ScanConfig, ScanReport, Stats};
use leakhound_targets::{parse_list, Excludes, PortSet, TargetSpec};
use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

fn read_source(path: &std::path::Path) -> anyhow::Result<String> {
    if path.as_os_str() == "-" {
        let mut s = String::new();
        io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
    }
}

fn config(args: &ScanArgs) -> anyhow::Result<ScanConfig> {
    let mut targets: Vec<TargetSpec> = Vec::new();
    for t in &args.targets {
        for spec in parse_list(t) {
            targets.push(spec?);
        }
    }
    for f in &args.list {
        for spec in parse_list(&read_source(f)?) {
            targets.push(spec?);
        }
    }
    if targets.is_empty() {
        bail!("no targets: give addresses, CIDRs or host names, or -l FILE");
    }
    let mut excludes = Excludes::default();
    for e in &args.exclude {
        excludes.add(e)?;
    }
    for f in &args.exclude_file {
        for line in read_source(f)?.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            if !line.is_empty() {
                excludes.add(line)?;
            }
        }
    }
    let ports: PortSet = args.ports.parse()?;
    let mut cfg = ScanConfig {
        targets,
        ports,
        excludes,
        concurrency: args.concurrency,
        per_host_concurrency: args.per_host_concurrency,
        connect_timeout: Duration::from_millis(args.connect_timeout),
        retries: args.retries,
        endpoint_budget: Duration::from_secs(args.endpoint_budget),
        ..ScanConfig::default()
    };
    cfg.discovery_only = args.discovery_only;
    cfg.probe.pg_users = args.pg_users.clone();
    cfg.probe.default_creds = args.default_creds;
    cfg.probe.sample_rows = args.sample_rows;
    cfg.probe.sample_bytes = args.sample_bytes;
    cfg.probe.endpoint_bytes = args.endpoint_bytes;
    Ok(cfg)
}

pub fn run(args: ScanArgs) -> anyhow::Result<ExitCode> {
    let fail_on: Option<Severity> = args
        .fail_on
        .as_deref()
        .map(|s| s.parse::<Severity>().map_err(anyhow::Error::msg))
        .transpose()?;
    let cfg = config(&args)?;
    // Discovery alone needs no classifier; building it is most of a small run's time.
    let classifier = if args.discovery_only {
        None
    } else {
        Some(Arc::new(classifier(&args.rules, Options::default())?))
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(256);
    let mut endpoints: Vec<EndpointResult> = Vec::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut open_ports: Vec<std::net::SocketAddr> = Vec::new();
    let stats: Stats = rt.block_on(async {
        let engine = tokio::spawn(leakhound_scan::run(cfg, classifier, tx));
        while let Some(ev) = rx.recv().await {
            match ev {
                Event::Endpoint(ep, f) => {
                    endpoints.push(*ep);
                    findings.extend(f);
                }
                Event::TargetError(e) => {
                    eprintln!("leakhound: {e}");
                    errors.push(e);
                }
                Event::Warning(w) => eprintln!("leakhound: warning: {w}"),
                Event::PortOpen(ep) => open_ports.push(ep.socket()),
            }
        }
        engine.await.unwrap_or_default()
    });
    endpoints.sort_by_key(|e| (e.ip, e.port));
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.endpoint.cmp(&b.endpoint))
            .then(a.id.cmp(&b.id))
    });

    let failed = fail_on.is_some_and(|t| findings.iter().any(|f| f.severity >= t));
    let mut out: Box<dyn Write> = match &args.output {
        Some(p) => Box::new(io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    };
    if args.discovery_only {
        open_ports.sort();
        for p in &open_ports {
            writeln!(out, "{p}")?;
        }
        out.flush()?;
        return Ok(ExitCode::from(if errors.is_empty() { 0 } else { 2 }));
    }
    match args.format {
        Format::Json => {
            let doc = ScanReport {
                endpoints,
                findings,
                stats,
                errors: errors.clone(),
            };
            serde_json::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Jsonl => {
            for e in &endpoints {
                let mut v = serde_json::to_value(e)?;
                v["type"] = "endpoint".into();
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            }
            for f in &findings {
                let mut v = serde_json::to_value(f)?;
                v["type"] = "finding".into();
                serde_json::to_writer(&mut out, &v)?;
                writeln!(out)?;
            }
        }
        Format::Human => render_human(&mut out, &endpoints, &findings, &stats)?,
    }
    out.flush()?;
    Ok(ExitCode::from(if !errors.is_empty() {
        2
    } else if failed {
        1
    } else {
        0
    }))
}

fn render_human(
    out: &mut dyn Write,
    endpoints: &[EndpointResult],
    findings: &[Finding],
    stats: &Stats,
) -> io::Result<()> {
    writeln!(out, "ENDPOINTS")?;
    for e in endpoints {
        writeln!(
            out,
            "  {:<22} {:<18} {:<14} {:<10} {}",
            format!("{}:{}", e.ip, e.port),
            e.service.as_str(),
            e.access.as_str(),
            e.version.as_deref().unwrap_or("-"),
            e.host.as_deref().unwrap_or("")
        )?;
        for t in e.tables.iter().filter(|t| !t.categories.is_empty()) {
            let cats: Vec<&str> = t.categories.iter().map(|c| c.as_str()).collect();
            writeln!(
                out,
                "      {}.{}: {} rows, {} bytes, sampled {} rows: {}",
                t.database,
                t.table,
                t.rows.map_or("?".into(), |r| r.to_string()),
                t.bytes.map_or("?".into(), |r| r.to_string()),
                t.sampled_rows,
                cats.join(", ")
            )?;
        }
    }
    writeln!(out)?;
    writeln!(out, "FINDINGS")?;
    for sev in [
        Severity::Critical,
        Severity::High,
        Severity::Medium,
        Severity::Low,
        Severity::Info,
    ] {
        let list: Vec<&Finding> = findings.iter().filter(|f| f.severity == sev).collect();
        if list.is_empty() {
            continue;
        }
        writeln!(out, "  {} ({})", sev.as_str().to_uppercase(), list.len())?;
        for f in list {
            let loc = f.location.display();
            writeln!(
                out,
                "    {}  {}{}  [{}] {}",
                f.endpoint,
                f.rule,
                if loc.is_empty() {
                    String::new()
                } else {
                    format!(" @ {loc}")
                },
                f.category,
                f.title
            )?;
            if f.category != "access" {
                writeln!(
                    out,
                    "        {} matches, {} distinct; e.g. {}",
                    f.count,
                    f.distinct,
                    f.evidence.join(" | ")
                )?;
            } else if let Some(e) = f.evidence.first() {
                writeln!(out, "        {e}")?;
            }
            writeln!(out, "        fix: {}", f.remediation)?;
        }
    }
    writeln!(
        out,
        "\n{} endpoints attempted, {} open, {} probed; {} findings",
        stats.attempted,
        stats.open_ports,
        stats.probed,
        findings.len()
    )
}
