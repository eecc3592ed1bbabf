//! Reports of a scan (read from the store or handed over by a live scan): human, JSON,
//! JSONL, Markdown, SARIF 2.1.0 and self-contained HTML; report files are created private
//! (mode 0600).
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

pub mod html;

use leakhound_model::Severity;
use leakhound_scan::{EndpointResult, Finding, ScanReport, Stats};
use std::io::{self, Write};
use std::path::Path;

/// Output formats of a scan report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    /// Endpoints, then findings by severity, for a terminal.
    Human,
    /// One JSON document (`docs/scan-report.schema.json`).
    Json,
    /// One JSON object per endpoint and finding, with `type`.
    Jsonl,
    /// For tickets and pull-request comments.
    Markdown,
    /// SARIF 2.1.0 for GitHub code scanning.
    Sarif,
    /// One self-contained page.
    Html,
}

/// Stdout, or a file created with mode 0600 (reports hold redacted evidence, but still
/// describe exposures).
pub fn open_output(path: Option<&Path>) -> io::Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => {
            let mut opts = std::fs::OpenOptions::new();
            opts.create(true).write(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            Box::new(io::BufWriter::new(opts.open(p)?))
        }
        None => Box::new(io::BufWriter::new(io::stdout().lock())),
    })
}

/// Writes `report` in `format`.
pub fn render(out: &mut dyn Write, report: &ScanReport, format: ReportFormat) -> io::Result<()> {
    match format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut *out, report)?;
            writeln!(out)?;
        }
        ReportFormat::Jsonl => {
            for e in &report.endpoints {
                let mut v = serde_json::to_value(e)?;
                v["type"] = "endpoint".into();
                serde_json::to_writer(&mut *out, &v)?;
                writeln!(out)?;
            }
            for f in &report.findings {
                let mut v = serde_json::to_value(f)?;
                v["type"] = "finding".into();
                serde_json::to_writer(&mut *out, &v)?;
                writeln!(out)?;
            }
        }
        ReportFormat::Human => {
            render_human(out, &report.endpoints, &report.findings, &report.stats)?
        }
        ReportFormat::Markdown => render_markdown(out, report)?,
        ReportFormat::Html => out.write_all(html::render(report).as_bytes())?,
        ReportFormat::Sarif => {
            serde_json::to_writer_pretty(&mut *out, &sarif(report))?;
            writeln!(out)?;
        }
    }
    out.flush()
}

const SEVERITIES: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// Markdown for tickets and pull-request comments: a summary, endpoints, findings by severity.
fn render_markdown(out: &mut dyn Write, report: &ScanReport) -> io::Result<()> {
    let open = report
        .endpoints
        .iter()
        .filter(|e| e.access == leakhound_model::Access::Open)
        .count();
    writeln!(out, "# leakhound report\n")?;
    writeln!(
        out,
        "{} endpoints, {} open without authentication, {} findings.\n",
        report.endpoints.len(),
        open,
        report.findings.len()
    )?;
    writeln!(out, "## Endpoints\n")?;
    writeln!(out, "| endpoint | service | access | version |")?;
    writeln!(out, "| --- | --- | --- | --- |")?;
    for e in &report.endpoints {
        writeln!(
            out,
            "| `{}:{}` | {} | {} | {} |",
            e.ip,
            e.port,
            e.service,
            e.access,
            e.version.as_deref().unwrap_or("")
        )?;
    }
    writeln!(out, "\n## Findings\n")?;
    for sev in SEVERITIES {
        let list: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.severity == sev)
            .collect();
        if list.is_empty() {
            continue;
        }
        writeln!(out, "### {} ({})\n", sev.as_str(), list.len())?;
        for f in list {
            let loc = f.location.display();
            writeln!(
                out,
                "- **{}** `{}`{} on `{}` ({}, {} matches, {} distinct)",
                md_escape(&f.title),
                f.rule,
                if loc.is_empty() {
                    String::new()
                } else {
                    format!(" at `{}`", md_escape(&loc))
                },
                f.endpoint,
                f.category,
                f.count,
                f.distinct
            )?;
            for e in &f.evidence {
                writeln!(out, "  - evidence: `{}`", e.replace('`', "'"))?;
            }
            writeln!(out, "  - fix: {}", md_escape(&f.remediation))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The SARIF level of a severity.
pub fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (it orders and filters security results by it).
pub fn sarif_security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "0.0",
    }
}

/// One classifier match in a file, as SARIF needs it.
pub struct FileResult<'a> {
    /// Rule id.
    pub rule: &'a str,
    /// Match type (e.g. `openai.project-key`).
    pub kind: &'a str,
    /// Category name.
    pub category: &'a str,
    /// Severity.
    pub severity: Severity,
    /// Path as walked (`-` for stdin).
    pub path: &'a str,
    /// 1-based line.
    pub line: u64,
    /// 1-based byte column.
    pub column: u64,
    /// SHA-256 of the value.
    pub fingerprint: &'a str,
    /// Redacted evidence.
    pub evidence: &'a str,
}

/// SARIF 2.1.0 for `leakhound classify`: results carry an artifact location (path, line,
/// column) and the value's fingerprint as the partial fingerprint.
pub fn sarif_for_files(results: &[FileResult<'_>]) -> serde_json::Value {
    use serde_json::json;
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut rules = Vec::new();
    for r in results {
        if rule_ids.contains(&r.rule) {
            continue;
        }
        rule_ids.push(r.rule);
        rules.push(json!({
            "id": r.rule,
            "name": r.rule.replace(['.', '-'], "_"),
            "shortDescription": {"text": r.kind},
            "help": {"text": format!("{} found in a file ({}). If it is a credential, rotate it and remove it from the file and its history.", r.kind, r.category)},
            "defaultConfiguration": {"level": sarif_level(r.severity)},
            "properties": {"tags": ["security", r.category], "security-severity": sarif_security_severity(r.severity)},
        }));
    }
    let out: Vec<serde_json::Value> = results
        .iter()
        .map(|r| {
            json!({
                "ruleId": r.rule,
                "ruleIndex": rule_ids.iter().position(|x| *x == r.rule).unwrap_or(0),
                "level": sarif_level(r.severity),
                "message": {"text": format!("{} ({}): {}", r.kind, r.category, r.evidence)},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": r.path.trim_start_matches("./")},
                        "region": {"startLine": r.line.max(1), "startColumn": r.column.max(1)},
                    },
                }],
                "partialFingerprints": {"leakhoundValueSha256/v1": r.fingerprint},
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "leakhound", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": out,
        }],
    })
}

/// SARIF 2.1.0 for GitHub code scanning: one rule per leakhound rule (help text carries the
/// remediation), one result per finding with a logical location
/// `host:port/database/table/column` and the stable id as a partial fingerprint.
pub fn sarif(report: &ScanReport) -> serde_json::Value {
    use serde_json::json;
    let level = sarif_level;
    let security_severity = sarif_security_severity;
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut rules = Vec::new();
    for f in &report.findings {
        if rule_ids.contains(&f.rule.as_str()) {
            continue;
        }
        rule_ids.push(&f.rule);
        let kind = f.title.split(" in ").next().unwrap_or(&f.title);
        rules.push(json!({
            "id": f.rule,
            "name": f.rule.replace(['.', '-'], "_"),
            "shortDescription": {"text": kind},
            "fullDescription": {"text": format!("{} ({} finding)", kind, f.category)},
            "help": {
                "text": f.remediation,
                "markdown": format!("**How to fix:** {}", md_escape(&f.remediation)),
            },
            "defaultConfiguration": {"level": level(f.severity)},
            "properties": {
                "tags": ["security", f.category.as_str()],
                "security-severity": security_severity(f.severity),
            },
        }));
    }
    let results: Vec<serde_json::Value> = report
        .findings
        .iter()
        .map(|f| {
            let mut path = f.endpoint.clone();
            for part in [
                &f.location.database,
                &f.location.table,
                &f.location.column,
                &f.location.key,
            ]
            .into_iter()
            .flatten()
            {
                path.push('/');
                path.push_str(part);
            }
            let evidence = if f.evidence.is_empty() {
                String::new()
            } else {
                format!(" Evidence (redacted): {}.", f.evidence.join("; "))
            };
            json!({
                "ruleId": f.rule,
                "ruleIndex": rule_ids.iter().position(|r| *r == f.rule).unwrap_or(0),
                "level": level(f.severity),
                "message": {"text": format!(
                    "{} on {}: {} matches, {} distinct.{}",
                    f.title, f.endpoint, f.count, f.distinct, evidence
                )},
                // GitHub code scanning shows results that have a physical location; a
                // service has no file, so the endpoint path stands in as a relative URI,
                // and the logical location says what it really is.
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": format!("endpoints/{}", path.replace(':', "_"))},
                        "region": {"startLine": 1},
                    },
                    "logicalLocations": [{
                        "fullyQualifiedName": path,
                        "kind": "resource",
                    }],
                }],
                "partialFingerprints": {"leakhoundFindingId/v1": f.id},
                "properties": {
                    "severity": f.severity.as_str(),
                    "category": f.category,
                    "count": f.count,
                    "distinct": f.distinct,
                },
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "leakhound",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": results,
        }],
    })
}

fn md_escape(s: &str) -> String {
    s.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The terminal summary: endpoints (with tables that leaked), then findings by severity.
pub fn render_human(
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
