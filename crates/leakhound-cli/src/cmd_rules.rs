//! `leakhound rules list|check`.

use crate::cli::{Format, RulesAction, RulesArgs};
use crate::output::classifier;
use leakhound_classify::Options;
use std::io::Write;
use std::process::ExitCode;

pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match args.action {
        RulesAction::List { rules, format } => {
            let c = classifier(&rules, Options::default())?;
            match format {
                Format::Human => {
                    for r in c.rules() {
                        writeln!(
                            out,
                            "{:<44} {:<7} {:<9} {}",
                            r.spec.id,
                            r.spec.category.as_str(),
                            r.severity.as_str(),
                            r.spec.name
                        )?;
                    }
                    writeln!(
                        out,
                        "{} rules, {} prefilter keywords",
                        c.rules().len(),
                        c.keyword_count()
                    )?;
                }
                Format::Json | Format::Jsonl => {
                    let items: Vec<_> = c
                        .rules()
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "id": r.spec.id,
                                "name": r.spec.name,
                                "category": r.spec.category,
                                "type": &*r.kind,
                                "severity": r.severity,
                                "confidence": r.spec.confidence,
                                "keywords": r.spec.keywords,
                                "validators": r.spec.validators.iter().map(|v| v.name()).collect::<Vec<_>>(),
                                "references": r.spec.references,
                            })
                        })
                        .collect();
                    if format == Format::Json {
                        serde_json::to_writer_pretty(&mut out, &items)?;
                        writeln!(out)?;
                    } else {
                        for i in items {
                            serde_json::to_writer(&mut out, &i)?;
                            writeln!(out)?;
                        }
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesAction::Check { rules } => {
            let c = classifier(&rules, Options::default())?;
            let failures = c.check_rules();
            for f in &failures {
                writeln!(out, "FAIL {}: {}", f.rule, f.problem)?;
            }
            let n = c.rules().len();
            writeln!(
                out,
                "{} rules checked, {} passed, {} failed",
                n,
                n - failures
                    .iter()
                    .map(|f| f.rule.as_str())
                    .collect::<std::collections::HashSet<_>>()
                    .len(),
                failures.len()
            )?;
            Ok(if failures.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}
