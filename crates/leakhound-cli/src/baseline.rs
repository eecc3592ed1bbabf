//! Baselines: findings accepted by id, as in gitleaks and detect-secrets. A baselined
//! finding is still stored; it is left out of the output and of `--fail-on`.

use anyhow::Context;
use leakhound_scan::Finding;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::path::Path;

/// One accepted finding; everything but the id is there for the human reviewing the file.
#[derive(Debug, Serialize, Deserialize)]
pub struct Accepted {
    pub id: String,
    pub rule: String,
    pub endpoint: String,
    pub location: String,
}

/// The baseline file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub version: u32,
    pub findings: Vec<Accepted>,
}

impl Baseline {
    pub fn from_findings(findings: &[Finding]) -> Baseline {
        Baseline {
            version: 1,
            findings: findings
                .iter()
                .map(|f| Accepted {
                    id: f.id.clone(),
                    rule: f.rule.clone(),
                    endpoint: f.endpoint.clone(),
                    location: f.location.display(),
                })
                .collect(),
        }
    }

    pub fn load(path: &Path) -> anyhow::Result<HashSet<String>> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the baseline {}", path.display()))?;
        let b: Baseline = serde_json::from_str(&text)
            .with_context(|| format!("parsing the baseline {}", path.display()))?;
        Ok(b.findings.into_iter().map(|a| a.id).collect())
    }
}

/// Drops accepted findings; returns how many were dropped.
pub fn apply(findings: &mut Vec<Finding>, accepted: &HashSet<String>) -> usize {
    let before = findings.len();
    findings.retain(|f| !accepted.contains(&f.id));
    before - findings.len()
}
