//! `leakhound classify`: walks paths or stdin, renders matches, and sets the exit code.

use crate::cli::{ClassifyArgs, ClassifyFormat as Format};
use crate::output::{classifier, JsonMatch};
use anyhow::bail;
use leakhound_classify::files::{scan_sources, Event, FileMatch, Source};
use leakhound_classify::{Category, Options, Severity};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::process::ExitCode;

/// What `--fail-on` compares a match against.
enum Gate {
    Category(Category),
    Severity(Severity),
}

fn parse_gates(specs: &[String]) -> anyhow::Result<Vec<Gate>> {
    specs
        .iter()
        .flat_map(|s| s.split(','))
        .map(|s| {
            if let Ok(c) = s.parse::<Category>() {
                Ok(Gate::Category(c))
            } else if let Ok(sev) = s.parse::<Severity>() {
                Ok(Gate::Severity(sev))
            } else {
                bail!("--fail-on: `{s}` is neither a category nor a severity")
            }
        })
        .collect()
}

pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let gates = parse_gates(&args.fail_on)?;
    let only: Vec<Category> = args
        .category
        .iter()
        .map(|c| c.parse::<Category>().map_err(anyhow::Error::msg))
        .collect::<Result<_, _>>()?;
    let opts = Options {
        reveal: args.reveal,
        decode: !args.no_decode,
    };
    let classifier = classifier(&args.rules, opts)?;
    let sources: Vec<Source> = if args.paths.is_empty() {
        vec![Source::Stdin]
    } else {
        args.paths
            .iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    Source::Stdin
                } else {
                    Source::Path(p.clone())
                }
            })
            .collect()
    };
    let threads = args.threads.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });

    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(64 << 10, stdout.lock());
    let mut write_err: Option<io::Error> = None;
    let mut failed = false;
    let mut kept: Vec<FileMatch> = Vec::new();
    let mut errors: Vec<(String, String)> = Vec::new();
    let stats = scan_sources(&classifier, &sources, threads, |ev| match ev {
        Event::Match(m) => {
            if !only.is_empty() && !only.contains(&m.m.category) {
                return;
            }
            failed |= gates.is_empty()
                || gates.iter().any(|g| match g {
                    Gate::Category(c) => m.m.category == *c,
                    Gate::Severity(s) => m.m.severity >= *s,
                });
            if args.format == Format::Jsonl {
                if write_err.is_none() {
                    let r = serde_json::to_writer(&mut out, &JsonMatch::from(&m))
                        .map_err(io::Error::from)
                        .and_then(|_| out.write_all(b"\n"));
                    if let Err(e) = r {
                        write_err = Some(e);
                    }
                }
            } else {
                kept.push(m);
            }
        }
        Event::Error { path, message } => {
            crate::log::emit("error", &format!("{path}: {message}"));
            errors.push((path, message));
        }
        Event::Scanned { .. } => {}
    });
    if let Some(e) = write_err {
        return Err(e.into());
    }
    match args.format {
        Format::Jsonl => {}
        Format::Json => {
            let doc = serde_json::json!({
                "matches": kept.iter().map(JsonMatch::from).collect::<Vec<_>>(),
                "errors": errors.iter().map(|(p, m)| serde_json::json!({"path": p, "message": m})).collect::<Vec<_>>(),
                "stats": {
                    "files": stats.files,
                    "bytes": stats.bytes,
                    "binary_files": stats.binary,
                    "errors": stats.errors,
                    "matches": kept.len(),
                },
            });
            serde_json::to_writer_pretty(&mut out, &doc)?;
            out.write_all(b"\n")?;
        }
        Format::Human => render_human(&mut out, &kept, &stats)?,
        Format::Sarif => {
            let results: Vec<leakhound_report::FileResult> = kept
                .iter()
                .map(|m| leakhound_report::FileResult {
                    rule: &m.m.rule,
                    kind: &m.m.kind,
                    category: m.m.category.as_str(),
                    severity: m.m.severity,
                    path: &m.path,
                    line: m.line,
                    column: m.column,
                    fingerprint: &m.m.fingerprint,
                    evidence: &m.m.evidence,
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &leakhound_report::sarif_for_files(&results))?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    let code = if stats.errors > 0 {
        2
    } else if failed {
        1
    } else {
        0
    };
    Ok(ExitCode::from(code))
}

fn render_human(
    out: &mut impl Write,
    matches: &[FileMatch],
    stats: &leakhound_classify::files::Stats,
) -> io::Result<()> {
    let mut by_cat: BTreeMap<Category, Vec<&FileMatch>> = BTreeMap::new();
    for m in matches {
        by_cat.entry(m.m.category).or_default().push(m);
    }
    for (cat, list) in &by_cat {
        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for m in list {
            *by_kind.entry(&m.m.kind).or_default() += 1;
        }
        writeln!(
            out,
            "{} ({} matches)",
            cat.as_str().to_uppercase(),
            list.len()
        )?;
        for (kind, n) in &by_kind {
            writeln!(out, "  {n:>6}  {kind}")?;
        }
        for m in list {
            writeln!(
                out,
                "    {}:{}:{}  {}  [{}]  {}{}",
                m.path,
                m.line,
                m.column,
                m.m.rule,
                m.m.confidence,
                m.m.evidence,
                m.m.value
                    .as_deref()
                    .map(|v| format!("  value={v}"))
                    .unwrap_or_default()
            )?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "{} matches in {} files ({} bytes, {} binary), {} errors",
        matches.len(),
        stats.files,
        stats.bytes,
        stats.binary,
        stats.errors
    )
}
