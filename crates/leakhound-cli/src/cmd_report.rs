//! `leakhound scans` and `leakhound report`: read the store, never the live scan.

use crate::cli::{BaselineArgs, DiffArgs, Format, ReportArgs, ScansArgs};
use anyhow::{bail, Context};
use leakhound_report::{self as render, ReportFormat};
use leakhound_store::Store;
use std::io::Write;
use std::process::ExitCode;

fn open(db: Option<&std::path::Path>) -> anyhow::Result<Store> {
    let path = db.map_or_else(leakhound_store::default_path, |p| p.to_path_buf());
    if !path.exists() {
        bail!(
            "no store at {} (run a scan first, or pass --db)",
            path.display()
        );
    }
    Store::open(&path).with_context(|| format!("opening the store {}", path.display()))
}

pub fn scans(args: ScansArgs) -> anyhow::Result<ExitCode> {
    let store = open(args.db.as_deref())?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:>5}  {:<20}  {:<9}  {:>9}  {:>8}  arguments",
        "id", "started", "status", "endpoints", "findings"
    )?;
    for s in store.scans()? {
        writeln!(
            out,
            "{:>5}  {:<20}  {:<9}  {:>9}  {:>8}  {}",
            s.id, s.started, s.status, s.endpoints, s.findings, s.arguments
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

fn scan_id(store: &Store, scan: &str) -> anyhow::Result<i64> {
    if scan == "latest" {
        store.latest_scan()?.context("the store holds no scan")
    } else {
        scan.parse::<i64>()
            .with_context(|| format!("--scan: `{scan}` is neither an id nor `latest`"))
    }
}

pub fn baseline(args: BaselineArgs) -> anyhow::Result<ExitCode> {
    let store = open(args.db.as_deref())?;
    let report = store.report(scan_id(&store, &args.scan)?)?;
    let baseline = crate::baseline::Baseline::from_findings(&report.findings);
    let mut out = render::open_output(Some(&args.output))?;
    serde_json::to_writer_pretty(&mut out, &baseline)?;
    writeln!(out)?;
    out.flush()?;
    crate::log::emit(
        "info",
        &format!(
            "{} findings accepted in {}",
            baseline.findings.len(),
            args.output.display()
        ),
    );
    Ok(ExitCode::SUCCESS)
}

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = open(args.db.as_deref())?;
    let id = scan_id(&store, &args.scan)?;
    let report = store.report(id)?;
    let format = ReportFormat::from(args.format);
    let mut out = render::open_output(args.output.as_deref())?;
    render::render(&mut out, &report, format)?;
    Ok(ExitCode::SUCCESS)
}

pub fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let fail_on: Option<leakhound_model::Severity> = args
        .fail_on
        .as_deref()
        .map(|s| s.parse().map_err(anyhow::Error::msg))
        .transpose()?;
    let store = open(args.db.as_deref())?;
    let to = match args.to {
        Some(t) => t,
        None => store.latest_scan()?.context("the store holds no scan")?,
    };
    let from = match args.from {
        Some(f) => f,
        None => store
            .previous_scan(to)?
            .with_context(|| format!("no scan before {to} to compare with"))?,
    };
    let d = store.diff(from, to)?;
    let mut out = std::io::stdout().lock();
    if args.format == Format::Json || args.format == Format::Jsonl {
        let doc = serde_json::json!({
            "from": from,
            "to": to,
            "new": d.new,
            "resolved": d.resolved,
            "changed": d.changed.iter().map(|(a, b)| serde_json::json!({"before": a, "after": b})).collect::<Vec<_>>(),
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "scan {from} -> scan {to}: {} new, {} resolved, {} changed",
            d.new.len(),
            d.resolved.len(),
            d.changed.len()
        )?;
        for (label, list) in [("NEW", &d.new), ("RESOLVED", &d.resolved)] {
            for f in list {
                writeln!(
                    out,
                    "  {label:<9} [{}] {}  {} @ {}",
                    f.severity,
                    f.endpoint,
                    f.rule,
                    f.location.display()
                )?;
            }
        }
        for (a, b) in &d.changed {
            writeln!(
                out,
                "  CHANGED   [{}] {}  {} @ {}: {} -> {} matches, {} -> {} distinct",
                b.severity,
                b.endpoint,
                b.rule,
                b.location.display(),
                a.count,
                b.count,
                a.distinct,
                b.distinct
            )?;
        }
    }
    let failed = fail_on.is_some_and(|t| d.new.iter().any(|f| f.severity >= t));
    Ok(ExitCode::from(u8::from(failed)))
}
