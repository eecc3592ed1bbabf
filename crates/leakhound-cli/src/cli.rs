//! Command-line definitions (clap derive); one struct per subcommand.

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "leakhound",
    version,
    about = "Find exposed databases and AI services, prove what leaks, and say how to close it"
)]
pub struct Args {
    /// Diagnostics on stderr as text or as one JSON object per line.
    #[arg(long, value_enum, global = true, default_value = "text")]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Find secrets, chat transcripts, PII and operational metadata in files or stdin.
    Classify(ClassifyArgs),
    /// List or check the detection rules.
    Rules(RulesArgs),
    /// Find exposed services in an address range, prove access read-only, sample and classify.
    Scan(Box<ScanArgs>),
    /// List past scans in the store.
    Scans(ScansArgs),
    /// Render a stored scan as a report.
    Report(ReportArgs),
    /// What is new, resolved or changed between two stored scans.
    Diff(DiffArgs),
    /// Write a baseline that accepts every finding of a stored scan.
    Baseline(BaselineArgs),
}

#[derive(ClapArgs, Debug)]
pub struct BaselineArgs {
    /// The store (default: $XDG_DATA_HOME/leakhound/leakhound.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Scan id, or `latest`.
    #[arg(long, default_value = "latest")]
    pub scan: String,
    /// The baseline file to write (mode 0600).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(ClapArgs, Debug)]
pub struct DiffArgs {
    /// The store (default: $XDG_DATA_HOME/leakhound/leakhound.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// The earlier scan (default: the one before --to).
    #[arg(long)]
    pub from: Option<i64>,
    /// The later scan (default: the latest).
    #[arg(long)]
    pub to: Option<i64>,
    /// Exit 1 when a new finding is at least this severe.
    #[arg(long = "fail-on", value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Output format (human or json).
    #[arg(long, value_enum, default_value = "human")]
    pub format: Format,
}

#[derive(ClapArgs, Debug)]
pub struct ScansArgs {
    /// The store (default: $XDG_DATA_HOME/leakhound/leakhound.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormatArg {
    Human,
    Json,
    Jsonl,
    Markdown,
    Sarif,
    Html,
}

#[derive(ClapArgs, Debug)]
pub struct ReportArgs {
    /// The store (default: $XDG_DATA_HOME/leakhound/leakhound.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Scan id, or `latest`.
    #[arg(long, default_value = "latest")]
    pub scan: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ReportFormatArg,
    /// Write the report here (created with mode 0600) instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(ClapArgs, Debug)]
pub struct ScanArgs {
    /// Targets: IPs, CIDRs, ranges (10.0.0.1-10.0.0.50 or 10.0.0.1-50), host names, host:port.
    pub targets: Vec<String>,
    /// Read targets from a file (`-` for stdin), one per line.
    #[arg(short = 'l', long = "list", value_name = "FILE")]
    pub list: Vec<std::path::PathBuf>,
    /// Open ports found by another tool (`-` for stdin): nmap -oX, masscan -oJ/-oL/-oD,
    /// naabu -json, or `host:port` lines. Discovery is skipped for them.
    #[arg(long = "import", value_name = "FILE")]
    pub import: Vec<std::path::PathBuf>,
    /// Format of `--import` files (default: detected from the content).
    #[arg(long = "import-format", default_value = "auto", value_name = "FORMAT")]
    pub import_format: String,
    /// Addresses, CIDRs or ranges never to touch (repeatable, comma separated).
    #[arg(long, value_delimiter = ',')]
    pub exclude: Vec<String>,
    /// A file of exclusions, one per line.
    #[arg(long = "exclude-file", value_name = "FILE")]
    pub exclude_file: Vec<std::path::PathBuf>,
    /// Ports: `8123,9000,6000-6100`, and the preset `db`.
    #[arg(short = 'p', long, default_value = "db")]
    pub ports: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ReportFormatArg,
    /// Write the report here instead of stdout.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
    /// Rows sampled per table.
    #[arg(long, default_value_t = 100)]
    pub sample_rows: usize,
    /// Bytes sampled per table.
    #[arg(long, default_value_t = 1 << 20)]
    pub sample_bytes: usize,
    /// Bytes read from one endpoint in total.
    #[arg(long, default_value_t = 16 << 20)]
    pub endpoint_bytes: usize,
    /// Endpoints of one host probed at once.
    #[arg(long, default_value_t = 2)]
    pub per_host_concurrency: usize,
    /// Connect attempts in flight (default: sized from the open-files limit).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Connect timeout in milliseconds.
    #[arg(long, default_value_t = 1500)]
    pub connect_timeout: u64,
    /// Retries for unanswered connects (default 1); in SYN mode, extra passes over the
    /// whole space (default 0).
    #[arg(long)]
    pub retries: Option<u32>,
    /// Discover with raw SYN probes (IPv4, needs CAP_NET_RAW; requires --interface).
    #[arg(long, requires = "interface")]
    pub syn: bool,
    /// The interface SYN probes leave by (SO_BINDTODEVICE).
    #[arg(long, value_name = "IFACE")]
    pub interface: Option<String>,
    /// Wall-clock budget per endpoint, in seconds.
    #[arg(long, default_value_t = 60)]
    pub endpoint_budget: u64,
    /// Exit 1 when a finding of at least this severity is found.
    #[arg(long = "fail-on", value_name = "SEVERITY")]
    pub fail_on: Option<String>,
    /// Extra classifier rule files.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// PostgreSQL user names tried without a password (comma separated).
    #[arg(long = "pg-users", value_delimiter = ',', default_value = "postgres")]
    pub pg_users: Vec<String>,
    /// Also try a short documented list of default passwords (opt-in; never by default).
    #[arg(long)]
    pub default_creds: bool,
    /// The store scans are recorded in (default: $XDG_DATA_HOME/leakhound/leakhound.db).
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Do not record this scan in the store.
    #[arg(long)]
    pub no_store: bool,
    /// Seed of the random (address × port) order (default: random). Same seed, same order.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Scan only part K of N of the space (`--shard 2/4`); the N shards together cover it
    /// exactly once.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Connection attempts per second across the scan (default: as fast as concurrency allows).
    #[arg(long)]
    pub rate: Option<f64>,
    /// Connection attempts per second to any one host.
    #[arg(long)]
    pub per_host_rate: Option<f64>,
    /// A host with more open ports than this is flagged as accepting every port (SYN
    /// proxy, tarpit, honeypot) and its further ports are not probed; 0 turns this off.
    #[arg(long, default_value_t = 100)]
    pub port_threshold: usize,
    /// Timeout of each read in milliseconds; a whole message must arrive within three.
    #[arg(long, default_value_t = 5000)]
    pub read_timeout: u64,
    /// No progress bar (it is only ever shown on a terminal).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Continue the interrupted scan with the same arguments (a plain rerun does too).
    #[arg(long)]
    pub resume: bool,
    /// Findings accepted by id (written by `leakhound baseline`): left out of the output
    /// and of `--fail-on`, still stored.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Only find open ports (prints `ip:port` per line); probe nothing.
    #[arg(long)]
    pub discovery_only: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClassifyFormat {
    Human,
    Json,
    Jsonl,
    Sarif,
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
    Jsonl,
}

#[derive(ClapArgs, Debug)]
pub struct ClassifyArgs {
    /// Files or directories (walked recursively); `-` reads stdin. Defaults to stdin.
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "human")]
    pub format: ClassifyFormat,
    /// Exit 1 when a match of this category (secret, chat, pii, ops) or at least this
    /// severity (info, low, medium, high, critical) is found. Repeatable.
    #[arg(long = "fail-on", value_name = "CATEGORY|SEVERITY")]
    pub fail_on: Vec<String>,
    /// Print full matched values. Off by default: output holds redacted evidence only.
    #[arg(long)]
    pub reveal: bool,
    /// Extra rule files (YAML, same schema as the built-in rules).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Worker threads (default: available cores).
    #[arg(long, short = 'j')]
    pub threads: Option<usize>,
    /// Do not decode JSON strings and base64 values before scanning.
    #[arg(long)]
    pub no_decode: bool,
    /// Only report these categories (comma separated).
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
}

#[derive(ClapArgs, Debug)]
pub struct RulesArgs {
    #[command(subcommand)]
    pub action: RulesAction,
}

#[derive(Subcommand, Debug)]
pub enum RulesAction {
    /// List rules.
    List {
        /// Extra rule files.
        #[arg(long = "rules", value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Check every rule against its examples and negative examples.
    Check {
        /// Extra rule files.
        #[arg(long = "rules", value_name = "FILE")]
        rules: Vec<PathBuf>,
    },
}

impl From<ReportFormatArg> for leakhound_report::ReportFormat {
    fn from(f: ReportFormatArg) -> Self {
        use leakhound_report::ReportFormat as R;
        match f {
            ReportFormatArg::Human => R::Human,
            ReportFormatArg::Json => R::Json,
            ReportFormatArg::Jsonl => R::Jsonl,
            ReportFormatArg::Markdown => R::Markdown,
            ReportFormatArg::Sarif => R::Sarif,
            ReportFormatArg::Html => R::Html,
        }
    }
}
