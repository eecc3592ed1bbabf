//! `leakhound scan`: builds the engine's config from flags, runs it, renders the results.

use crate::cli::ScanArgs;
use crate::output::classifier;
use anyhow::{bail, Context};
use leakhound_classify::Options;
use leakhound_model::Severity;
use leakhound_report as render;
use leakhound_scan::{EndpointResult, Event, Finding, ScanConfig, ScanReport, Stats};
use leakhound_targets::import::{parse_import, ImportFormat};
use leakhound_targets::{parse_list, Excludes, PortSet, SystemResolver, TargetSpec};
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

/// A diagnostic on stderr that does not tear the progress bar.
fn say(bar: &Option<indicatif::ProgressBar>, level: &str, msg: String) {
    match bar {
        Some(b) => b.println(crate::log::line(level, &msg)),
        None => crate::log::emit(level, &msg),
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
    let format: ImportFormat = args.import_format.parse()?;
    let mut imported = Vec::new();
    let mut import_notes = Vec::new();
    for f in &args.import {
        // One byte past the importer's limit is enough for it to refuse the input: a huge
        // file is never read whole.
        let limit = leakhound_targets::import::MAX_IMPORT_BYTES as u64 + 1;
        let mut bytes = Vec::new();
        if f.as_os_str() == "-" {
            io::stdin().take(limit).read_to_end(&mut bytes)?;
        } else {
            std::fs::File::open(f)
                .and_then(|file| file.take(limit).read_to_end(&mut bytes))
                .with_context(|| format!("reading {}", f.display()))?;
        }
        let got = parse_import(&bytes, format, &SystemResolver)
            .with_context(|| format!("importing {}", f.display()))?;
        import_notes.extend(
            got.errors
                .iter()
                .map(|e| format!("{} ({}): {e}", f.display(), got.format)),
        );
        imported.extend(got.endpoints);
    }
    if targets.is_empty() && args.import.is_empty() {
        bail!("no targets: give addresses, CIDRs or host names, -l FILE, or --import FILE");
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
        retries: args.retries.unwrap_or(1),
        endpoint_budget: Duration::from_secs(args.endpoint_budget),
        ..ScanConfig::default()
    };
    cfg.discovery_only = args.discovery_only;
    cfg.imported = imported;
    cfg.import_notes = import_notes;
    cfg.seed = args.seed.unwrap_or_else(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ u64::from(std::process::id()).rotate_left(32)
    });
    if args.rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
        bail!("--rate must be a positive number of attempts per second");
    }
    cfg.rate = args.rate;
    if args.per_host_rate.is_some_and(|r| r.is_nan() || r <= 0.0) {
        bail!("--per-host-rate must be a positive number of attempts per second");
    }
    cfg.per_host_rate = args.per_host_rate;
    cfg.port_threshold = args.port_threshold;
    if args.syn {
        cfg.syn = Some(leakhound_scan::syn::SynOptions {
            interface: args.interface.clone().unwrap_or_default(),
            rate: args.rate,
            retries: args.retries.unwrap_or(0),
            wait: Duration::from_millis(args.connect_timeout),
        });
    }
    if args.read_timeout == 0 {
        bail!("--read-timeout must be at least 1 ms");
    }
    cfg.probe.limits.io = Duration::from_millis(args.read_timeout);
    cfg.probe.limits.message = cfg.probe.limits.io * 3;
    if let Some(shard) = &args.shard {
        cfg.shard = shard.parse()?;
    }
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
    let mut cfg = config(&args)?;
    let accepted = args
        .baseline
        .as_deref()
        .map(crate::baseline::Baseline::load)
        .transpose()?
        .unwrap_or_default();
    // Discovery alone needs no classifier; building it is most of a small run's time.
    let classifier = if args.discovery_only {
        None
    } else {
        Some(Arc::new(classifier(&args.rules, Options::default())?))
    };
    // The store is the single writer: events are recorded as endpoints finish.
    let mut store = if args.no_store || args.discovery_only {
        None
    } else {
        let path = args
            .db
            .clone()
            .unwrap_or_else(leakhound_store::default_path);
        let mut store = leakhound_store::Store::open(&path)
            .with_context(|| format!("opening the store {}", path.display()))?;
        // A scan is known by its arguments; `--resume` itself is not one of them.
        let argv: Vec<String> = std::env::args()
            .skip(1)
            .filter(|a| a != "--resume")
            .collect();
        let arguments = argv.join(" ");
        let id = match store.resumable(&arguments)? {
            Some(id) => {
                store.resume_scan(id)?;
                cfg.skip = store.done_endpoints(id)?.into_iter().collect();
                crate::log::emit(
                    "info",
                    &format!(
                        "resuming scan {id}: {} endpoints already done",
                        cfg.skip.len()
                    ),
                );
                id
            }
            None => {
                if args.resume {
                    crate::log::emit(
                        "info",
                        "no interrupted scan with these arguments; starting anew",
                    );
                }
                store.begin_scan(&arguments)?
            }
        };
        Some((store, id))
    };
    let mut store_errors = 0u64;
    let cfg_skip_empty = cfg.skip.is_empty();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Event>(256);
    let mut endpoints: Vec<EndpointResult> = Vec::new();
    let mut findings: Vec<Finding> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let mut open_ports: Vec<std::net::SocketAddr> = Vec::new();
    // A progress bar on a terminal only, and never with --quiet.
    let bar = (!args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let total = leakhound_targets::estimate_endpoints(&cfg.targets, &cfg.ports)
            / u128::from(cfg.shard.count);
        let bar = indicatif::ProgressBar::new(u64::try_from(total).unwrap_or(u64::MAX));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} endpoints ({per_sec}, eta {eta}) {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar
    });
    let progress = cfg.progress.clone();
    let mut shown_findings = 0usize;
    let stats: Stats = rt.block_on(async {
        let engine = tokio::spawn(leakhound_scan::run(cfg, classifier, tx));
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = tick.tick() => {
                    if let Some(bar) = &bar {
                        use std::sync::atomic::Ordering::Relaxed;
                        bar.set_position(progress.attempted.load(Relaxed));
                        bar.set_message(format!(
                            "{} open, {} probed, {} findings",
                            progress.open.load(Relaxed),
                            progress.probed.load(Relaxed),
                            shown_findings
                        ));
                    }
                    continue;
                }
            };
            let Some(ev) = ev else {
                break;
            };
            match ev {
                Event::Endpoint(ep, f) => {
                    shown_findings += f.len();
                    if let Some((store, id)) = store.as_mut() {
                        if let Err(e) = store.record(*id, &ep, &f) {
                            say(&bar, "error", e.to_string());
                            store_errors += 1;
                        }
                    }
                    endpoints.push(*ep);
                    findings.extend(f);
                }
                Event::TargetError(e) => {
                    say(&bar, "error", e.to_string());
                    errors.push(e);
                }
                Event::Warning(w) => say(&bar, "warning", w),
                Event::PortOpen(ep) => open_ports.push(ep.socket()),
            }
        }
        engine.await.unwrap_or_default()
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    endpoints.sort_by_key(|e| (e.ip, e.port));
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.endpoint.cmp(&b.endpoint))
            .then(a.id.cmp(&b.id))
    });

    let baselined = crate::baseline::apply(&mut findings, &accepted);
    if baselined > 0 {
        crate::log::emit(
            "info",
            &format!("{baselined} findings accepted by the baseline are not shown"),
        );
    }
    if let Some((store, id)) = store.as_mut() {
        store.finish_scan(
            *id,
            if store_errors == 0 {
                "finished"
            } else {
                "failed"
            },
        )?;
    }
    if store_errors > 0 {
        errors.push(format!("{store_errors} endpoints could not be stored"));
    }
    // With a store, the report is read back from it: a resumed scan shows the endpoints
    // finished before the interruption too, each exactly once.
    let (endpoints, findings) = match store.as_ref() {
        Some((store, id)) if !cfg_skip_empty => {
            let mut stored = store.report(*id)?;
            crate::baseline::apply(&mut stored.findings, &accepted);
            (stored.endpoints, stored.findings)
        }
        _ => (endpoints, findings),
    };
    let failed = fail_on.is_some_and(|t| findings.iter().any(|f| f.severity >= t));
    let report = ScanReport {
        endpoints,
        findings,
        stats,
        errors: errors.clone(),
    };
    let mut out = render::open_output(args.output.as_deref())?;
    if args.discovery_only {
        open_ports.sort();
        for p in &open_ports {
            writeln!(out, "{p}")?;
        }
        out.flush()?;
        return Ok(ExitCode::from(if errors.is_empty() { 0 } else { 2 }));
    }
    render::render(&mut out, &report, args.format.into())?;
    out.flush()?;
    Ok(ExitCode::from(if !errors.is_empty() {
        2
    } else if failed {
        1
    } else {
        0
    }))
}
