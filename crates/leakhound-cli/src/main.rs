//! The `leakhound` binary: argument parsing and rendering; the work happens in the library crates.

mod baseline;
mod cli;
mod cmd_classify;
mod cmd_report;
mod cmd_rules;
mod cmd_scan;
mod log;
mod output;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    match try_main() {
        Ok(code) => code,
        // `leakhound classify . | head` closing the pipe is not a failure, as in ripgrep.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            log::emit("error", &format!("{err:#}"));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn try_main() -> anyhow::Result<ExitCode> {
    let args = cli::Args::parse();
    log::init(args.log_format == cli::LogFormat::Json);
    match args.command {
        cli::Command::Classify(a) => cmd_classify::run(a),
        cli::Command::Rules(a) => cmd_rules::run(a),
        cli::Command::Scan(a) => cmd_scan::run(*a),
        cli::Command::Scans(a) => cmd_report::scans(a),
        cli::Command::Report(a) => cmd_report::report(a),
        cli::Command::Diff(a) => cmd_report::diff(a),
        cli::Command::Baseline(a) => cmd_report::baseline(a),
    }
}
