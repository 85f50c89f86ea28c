//! `mxcensus`: measure how well mail domains resist STARTTLS stripping (MTA-STS, DANE,
//! DNSSEC, TLS-RPT). This binary is only wiring: argument parsing, dispatch to the library
//! crates, and exit codes. Exit status: 0 success / valid, 1 invalid input judged (lint),
//! 2 usage or runtime error, 130 interrupted (finish with `crawl --resume`).
#![forbid(unsafe_code)]

mod check_cmd;
mod crawl_cmd;
mod demo_cmd;
mod diff_cmd;
mod lint;
mod report_cmd;
mod simnet_cmd;

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Measure MTA-STS, DANE, DNSSEC, TLS-RPT and STARTTLS across mail domains.
#[derive(Parser, Debug)]
#[command(name = "mxcensus", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Crawl domains into a Parquet snapshot (DNS, DNSSEC, MTA-STS, TLS-RPT, SMTP STARTTLS,
    /// DANE).
    Crawl(Box<crawl_cmd::CrawlArgs>),
    /// Check one mail domain as a sender would (MX, DNSSEC, MTA-STS, STARTTLS, certificate,
    /// DANE, TLS-RPT), with a fix for each problem; `--json` for machines.
    Check(Box<check_cmd::CheckArgs>),
    /// Start a simulated Internet, crawl it, print where the snapshot is and how it agrees
    /// with the ground truth, then stop it.
    Demo(demo_cmd::DemoArgs),
    /// Check MTA-STS and TLS-RPT records before publishing them (no network access).
    Lint(lint::LintArgs),
    /// Write the adoption report of a snapshot: report.md, a self-contained report.html with
    /// SVG charts, and report.json with every figure (MTA-STS against DANE/DNSSEC).
    Report(report_cmd::ReportArgs),
    /// Compare two snapshots of the same input: adoption gained and lost, mode changes,
    /// policies changed without a new TXT id.
    Diff(diff_cmd::DiffArgs),
    /// Run the simulated Internet (simnet up): DNS with DNSSEC, HTTPS policy hosts and
    /// SMTP MX hosts on loopback, with ground truth.
    Simnet(simnet_cmd::SimnetArgs),
}

/// What a command asks `main` to exit with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything checked is valid / the job succeeded.
    Ok,
    /// The input was judged and found invalid.
    Invalid,
    /// The job was interrupted (signal); `--resume` finishes it.
    Interrupted,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Crawl(args) => crawl_cmd::run(*args).map(|o| match o {
            crawl_cmd::CrawlOutcome::Complete => Outcome::Ok,
            crawl_cmd::CrawlOutcome::Interrupted => Outcome::Interrupted,
        }),
        Command::Check(args) => check_cmd::run(*args).map(|o| match o {
            check_cmd::CheckOutcome::Pass => Outcome::Ok,
            check_cmd::CheckOutcome::Fail => Outcome::Invalid,
        }),
        Command::Demo(args) => demo_cmd::run(args).map(|o| match o {
            demo_cmd::DemoOutcome::Agrees => Outcome::Ok,
            demo_cmd::DemoOutcome::Disagrees => Outcome::Invalid,
        }),
        Command::Lint(args) => lint::run(args),
        Command::Report(args) => report_cmd::run(args).map(|()| Outcome::Ok),
        Command::Diff(args) => diff_cmd::run(args).map(|()| Outcome::Ok),
        Command::Simnet(args) => simnet_cmd::run(args).map(|()| Outcome::Ok),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Invalid) => ExitCode::from(1),
        // 128 + SIGINT, as shells report an interrupted job.
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(err) => {
            // A closed pipe (`| head`) is not an error worth reporting.
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(std::io::stderr(), "mxcensus: error: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
