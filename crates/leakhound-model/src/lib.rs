//! Plain data types shared by every leakhound stage: categories, confidence and severity.
//!
//! This crate does no I/O so that the classifier, the probes, the store and the
//! reports can all agree on one vocabulary without depending on each other.
#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What kind of sensitive content a match is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Credentials: API keys, tokens, passwords, private keys.
    Secret,
    /// LLM chat transcripts: prompts, completions, message arrays.
    Chat,
    /// Personal data: emails, phone numbers, payment cards, national ids.
    Pii,
    /// Operational metadata: internal hosts, private IPs, paths, stack traces.
    Ops,
}

impl Category {
    /// All categories, in report order.
    pub const ALL: [Category; 4] = [
        Category::Secret,
        Category::Chat,
        Category::Pii,
        Category::Ops,
    ];

    /// The lowercase name used in rule files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Secret => "secret",
            Category::Chat => "chat",
            Category::Pii => "pii",
            Category::Ops => "ops",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "secret" | "secrets" => Ok(Category::Secret),
            "chat" => Ok(Category::Chat),
            "pii" => Ok(Category::Pii),
            "ops" => Ok(Category::Ops),
            other => Err(format!("unknown category `{other}`")),
        }
    }
}

/// How sure the classifier is that a match is real.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Shape matches but little else supports it.
    Low,
    /// Shape plus context (keyword, field name) or a weak validator.
    Medium,
    /// A distinctive prefix or a checksum validated it.
    High,
}

impl Confidence {
    /// One step more confident, saturating at `High`.
    pub fn raised(self) -> Self {
        match self {
            Confidence::Low => Confidence::Medium,
            _ => Confidence::High,
        }
    }

    /// The lowercase name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How bad a finding is, in the order CI gates compare them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing, nothing to fix.
    Info,
    /// Minor exposure.
    Low,
    /// Exposure that helps an attacker.
    Medium,
    /// Direct exposure of something valuable.
    High,
    /// Credentials, transcripts or personal data that anyone can read.
    Critical,
}

impl Severity {
    /// The lowercase name used in output and `--fail-on`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Ok(Severity::Info),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            "critical" => Ok(Severity::Critical),
            other => Err(format!("unknown severity `{other}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_round_trips_through_its_name() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), c);
        }
        assert!("nope".parse::<Category>().is_err());
    }

    #[test]
    fn severity_orders_for_fail_on() {
        assert!(Severity::Critical > Severity::High);
        assert!(Severity::Low > Severity::Info);
        assert_eq!("HIGH".parse::<Severity>().unwrap(), Severity::High);
    }

    #[test]
    fn confidence_raise_saturates() {
        assert_eq!(Confidence::Low.raised(), Confidence::Medium);
        assert_eq!(Confidence::High.raised(), Confidence::High);
    }
}

/// What answered on an endpoint.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Service {
    /// ClickHouse HTTP interface (8123, 8443).
    ClickhouseHttp,
    /// ClickHouse native TCP protocol (9000, 9440).
    ClickhouseNative,
    /// Redis (RESP).
    Redis,
    /// PostgreSQL.
    Postgres,
    /// Some other HTTP server (answers HTTP, is not a known service).
    Http,
    /// The port is open but no probe recognised what answered.
    Unknown,
}

impl Service {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Service::ClickhouseHttp => "clickhouse-http",
            Service::ClickhouseNative => "clickhouse-native",
            Service::Redis => "redis",
            Service::Postgres => "postgres",
            Service::Http => "http",
            Service::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an unauthenticated client could do on an endpoint. `Open` is only ever set after
/// an unauthenticated read really succeeded.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// An unauthenticated read succeeded.
    Open,
    /// The server asked for credentials.
    AuthRequired,
    /// The server refused this client (address not allowed, insufficient rights).
    Restricted,
    /// The service answered but its access state could not be established.
    Unknown,
    /// The port accepted a connection but nothing answered in time.
    Unresponsive,
    /// The service answered with bytes that violate its protocol.
    Malformed,
}

impl Access {
    /// The name used in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Open => "open",
            Access::AuthRequired => "auth_required",
            Access::Restricted => "restricted",
            Access::Unknown => "unknown",
            Access::Unresponsive => "unresponsive",
            Access::Malformed => "malformed",
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where inside a service a finding was made.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub struct Location {
    /// Database (ClickHouse, PostgreSQL) or Redis logical db (`db0`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Table (or PostgreSQL `schema.table`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// Redis key pattern.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Location {
    /// `database.table.column` or the key, for display.
    pub fn display(&self) -> String {
        let parts: Vec<&str> = [&self.database, &self.table, &self.column, &self.key]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .collect();
        parts.join(".")
    }
}
