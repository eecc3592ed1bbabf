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
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Find secrets, chat transcripts, PII and operational metadata in files or stdin.
    Classify(ClassifyArgs),
    /// List or check the detection rules.
    Rules(RulesArgs),
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
    pub format: Format,
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
