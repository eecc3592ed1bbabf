//! `leakhound scans` and `leakhound report`: read the store, never the live scan.

use crate::cli::{ReportArgs, ReportFormatArg, ScansArgs};
use crate::render::{self, ReportFormat};
use anyhow::{bail, Context};
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

pub fn report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = open(args.db.as_deref())?;
    let id = if args.scan == "latest" {
        store.latest_scan()?.context("the store holds no scan")?
    } else {
        args.scan
            .parse::<i64>()
            .with_context(|| format!("--scan: `{}` is neither an id nor `latest`", args.scan))?
    };
    let report = store.report(id)?;
    let format = match args.format {
        ReportFormatArg::Human => ReportFormat::Human,
        ReportFormatArg::Json => ReportFormat::Json,
        ReportFormatArg::Jsonl => ReportFormat::Jsonl,
        ReportFormatArg::Markdown => ReportFormat::Markdown,
    };
    let mut out = render::open_output(args.output.as_deref())?;
    render::render(&mut out, &report, format)?;
    Ok(ExitCode::SUCCESS)
}
