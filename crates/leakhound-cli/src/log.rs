//! Diagnostics on stderr: `leakhound: …` lines for people, or one JSON object per line
//! (`--log-format json`) for log pipelines on long scheduled runs.

use std::sync::OnceLock;

static JSON: OnceLock<bool> = OnceLock::new();

/// Chooses the format once, from `--log-format`.
pub fn init(json: bool) {
    let _ = JSON.set(json);
}

/// Formats one diagnostic line (without the newline).
pub fn line(level: &str, msg: &str) -> String {
    if *JSON.get().unwrap_or(&false) {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        serde_json::json!({"ts": secs, "level": level, "target": "leakhound", "message": msg})
            .to_string()
    } else if level == "info" {
        format!("leakhound: {msg}")
    } else {
        format!("leakhound: {level}: {msg}")
    }
}

/// Writes one diagnostic to stderr.
pub fn emit(level: &str, msg: &str) {
    eprintln!("{}", line(level, msg));
}
