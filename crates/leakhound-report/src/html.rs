//! The HTML report: one self-contained file (inline CSS and SVG, no script, nothing
//! fetched) that a server owner can open offline. Large reports group findings by rule so
//! the page stays usable.

use leakhound_model::{Access, Severity};
use leakhound_scan::{Finding, ScanReport};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Beyond this many findings, each severity groups its findings by rule and shows only
/// the first few of each group.
const GROUP_ABOVE: usize = 500;
/// Findings shown per rule in grouped mode.
const PER_GROUP: usize = 25;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const SEVERITIES: [(Severity, &str); 5] = [
    (Severity::Critical, "#b00020"),
    (Severity::High, "#e65100"),
    (Severity::Medium, "#f9a825"),
    (Severity::Low, "#1565c0"),
    (Severity::Info, "#607d8b"),
];

/// A horizontal bar chart as inline SVG.
fn bars(id: &str, title: &str, rows: &[(String, usize, &str)]) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let height = 28 * rows.len() + 30;
    let mut s = format!(
        "<svg id=\"{id}\" class=\"chart\" role=\"img\" aria-label=\"{}\" width=\"420\" height=\"{height}\" viewBox=\"0 0 420 {height}\"><text x=\"0\" y=\"16\" class=\"ct\">{}</text>",
        esc(title),
        esc(title)
    );
    for (i, (label, n, color)) in rows.iter().enumerate() {
        let y = 26 + i * 28;
        let w = 260 * n / max;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"100\" y=\"{y}\" width=\"{w}\" height=\"20\" fill=\"{color}\"/><text x=\"{}\" y=\"{}\">{n}</text>",
            y + 15,
            esc(label),
            106 + w,
            y + 15
        );
    }
    s.push_str("</svg>");
    s
}

fn finding_html(f: &Finding) -> String {
    let loc = f.location.display();
    let mut s = format!(
        "<article class=\"finding sev-{}\"><h4>{}</h4><p><code>{}</code> on <code>{}</code>{} &middot; {} &middot; {} matches, {} distinct</p>",
        f.severity.as_str(),
        esc(&f.title),
        esc(&f.rule),
        esc(&f.endpoint),
        if loc.is_empty() {
            String::new()
        } else {
            format!(" at <code>{}</code>", esc(&loc))
        },
        esc(&f.category),
        f.count,
        f.distinct
    );
    if !f.evidence.is_empty() {
        s.push_str("<ul class=\"evidence\">");
        for e in &f.evidence {
            let _ = write!(s, "<li><code>{}</code></li>", esc(e));
        }
        s.push_str("</ul>");
    }
    let _ = write!(
        s,
        "<p class=\"fix\"><strong>Fix:</strong> {}</p></article>",
        esc(&f.remediation)
    );
    s
}

/// The whole page.
pub fn render(report: &ScanReport) -> String {
    let open = report
        .endpoints
        .iter()
        .filter(|e| e.access == Access::Open)
        .count();
    let critical = report
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Critical)
        .count();
    let by_sev: Vec<(String, usize, &str)> = SEVERITIES
        .iter()
        .map(|(s, c)| {
            (
                s.as_str().to_string(),
                report.findings.iter().filter(|f| f.severity == *s).count(),
                *c,
            )
        })
        .collect();
    let mut by_cat: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &report.findings {
        *by_cat.entry(f.category.as_str()).or_default() += 1;
    }
    let by_cat: Vec<(String, usize, &str)> = by_cat
        .into_iter()
        .map(|(c, n)| (c.to_string(), n, "#37474f"))
        .collect();

    let mut h = String::with_capacity(64 * 1024);
    h.push_str("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>leakhound report</title><style>");
    h.push_str(
        "body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#212121;max-width:1100px}\
         h1{margin:0 0 4px}.cards{display:flex;gap:16px;margin:16px 0}\
         .card{flex:1;border:1px solid #ddd;border-radius:8px;padding:12px 16px}\
         .card .n{display:block;font-size:32px;font-weight:700}#card-critical .n{color:#b00020}\
         .charts{display:flex;gap:24px;flex-wrap:wrap}.chart text{font-size:12px}.ct{font-weight:700}\
         table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #eee;padding:4px 8px;text-align:left}\
         .finding{border-left:4px solid #999;padding:4px 12px;margin:8px 0;background:#fafafa}\
         .sev-critical{border-color:#b00020}.sev-high{border-color:#e65100}.sev-medium{border-color:#f9a825}\
         .sev-low{border-color:#1565c0}.finding h4{margin:4px 0}.fix{color:#1b5e20}code{font-size:12px}\
         summary{cursor:pointer;font-weight:700;margin:8px 0}",
    );
    h.push_str("</style></head><body>");
    let _ = write!(
        h,
        "<header><h1>leakhound report</h1><p>Exposed services, what they leak, and how to close them. Evidence is redacted.</p></header>\
         <section class=\"cards\" id=\"summary\">\
         <div class=\"card\" id=\"card-endpoints\"><span class=\"n\">{}</span>endpoints scanned</div>\
         <div class=\"card\" id=\"card-open\"><span class=\"n\">{open}</span>open without authentication</div>\
         <div class=\"card\" id=\"card-critical\"><span class=\"n\">{critical}</span>critical findings</div></section>",
        report.endpoints.len()
    );
    let _ = write!(
        h,
        "<section class=\"charts\" id=\"charts\">{}{}</section>",
        bars("chart-severity", "Findings by severity", &by_sev),
        bars("chart-category", "Findings by category", &by_cat)
    );
    h.push_str("<section id=\"endpoints\"><h2>Endpoints</h2><table><thead><tr><th>endpoint</th><th>service</th><th>access</th><th>version</th><th>tables with findings</th></tr></thead><tbody>");
    for e in &report.endpoints {
        let tables: Vec<String> = e
            .tables
            .iter()
            .filter(|t| !t.categories.is_empty())
            .map(|t| format!("{}.{}", t.database, t.table))
            .collect();
        let _ = write!(
            h,
            "<tr><td><code>{}:{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            e.ip,
            e.port,
            e.service,
            e.access,
            esc(e.version.as_deref().unwrap_or("")),
            esc(&tables.join(", "))
        );
    }
    h.push_str("</tbody></table></section><section id=\"findings\"><h2>Findings</h2>");
    let grouped = report.findings.len() > GROUP_ABOVE;
    if grouped {
        let _ = write!(
            h,
            "<p id=\"grouped-note\">{} findings: grouped by rule, the first {PER_GROUP} of each shown. The JSON, JSONL and SARIF reports hold all of them.</p>",
            report.findings.len()
        );
    }
    for (sev, _) in SEVERITIES {
        let list: Vec<&Finding> = report
            .findings
            .iter()
            .filter(|f| f.severity == sev)
            .collect();
        if list.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<details class=\"severity\" id=\"sev-{}\" {}><summary>{} ({})</summary>",
            sev.as_str(),
            if sev >= Severity::High { "open" } else { "" },
            sev.as_str(),
            list.len()
        );
        if grouped {
            let mut by_rule: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
            for f in list {
                by_rule.entry(&f.rule).or_default().push(f);
            }
            for (rule, fs) in by_rule {
                let _ = write!(
                    h,
                    "<details class=\"rule\"><summary>{} ({})</summary>",
                    esc(rule),
                    fs.len()
                );
                for f in fs.iter().take(PER_GROUP) {
                    h.push_str(&finding_html(f));
                }
                h.push_str("</details>");
            }
        } else {
            for f in list {
                h.push_str(&finding_html(f));
            }
        }
        h.push_str("</details>");
    }
    h.push_str("</section></body></html>\n");
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use leakhound_model::Location;

    fn finding(i: usize) -> Finding {
        Finding {
            id: format!("{i:032}"),
            rule: format!("lh.rule-{}", i % 7),
            category: "secret".into(),
            severity: if i.is_multiple_of(2) {
                Severity::Critical
            } else {
                Severity::Low
            },
            title: format!("finding <{i}>"),
            endpoint: "127.0.0.1:8123".into(),
            location: Location::default(),
            count: 1,
            distinct: 1,
            evidence: vec!["sk-pro…abcd (50 chars)".into()],
            remediation: "close it".into(),
        }
    }

    fn report(n: usize) -> ScanReport {
        ScanReport {
            endpoints: Vec::new(),
            findings: (0..n).map(finding).collect(),
            stats: Default::default(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn small_reports_list_every_finding_escaped() {
        let html = render(&report(10));
        assert_eq!(html.matches("<article").count(), 10);
        assert!(html.contains("finding &lt;3&gt;"));
        assert!(!html.contains("grouped-note"));
    }

    #[test]
    fn large_reports_group_by_rule_and_stay_small() {
        let html = render(&report(100_000));
        assert!(html.contains("id=\"grouped-note\""));
        // 2 severities x 7 rules x at most 25 shown.
        assert!(html.matches("<article").count() <= 2 * 7 * PER_GROUP);
        assert!(html.len() < 2 << 20, "{} bytes", html.len());
    }
}
