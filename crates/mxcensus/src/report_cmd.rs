//! `mxcensus report`: the adoption report of a snapshot (report.json, report.md,
//! report.html), built by `mxcensus_analysis::report`.

use std::io::Write;
use std::path::PathBuf;

use mxcensus_analysis::report::{Report, ReportOptions};

/// Arguments of `mxcensus report`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Every figure is computed from the snapshot's committed Parquet rows. An \
                  incomplete (running or interrupted) snapshot is reported with a warning at \
                  the top. Exit status 2 when the path is not a snapshot, holds no domain \
                  rows, or a file cannot be read."
)]
pub struct ReportArgs {
    /// The snapshot: a `snapshot=<id>` directory, one `shard=<i>` directory, or a crawl
    /// `--out` directory holding exactly one snapshot.
    #[arg(value_name = "SNAPSHOT_DIR")]
    pub snapshot: PathBuf,
    /// Directory to write report.json, report.md and report.html into (created if
    /// missing; existing reports are replaced).
    #[arg(long, value_name = "DIR", default_value = "report")]
    pub out: PathBuf,
    /// TLDs and mail providers listed before the rest is summed as "other".
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
}

/// Runs `mxcensus report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let options = ReportOptions {
        top_tlds: args.top,
        top_providers: args.top,
        ..ReportOptions::default()
    };
    // The errors carry their path and cause in their message; `{e}` alone avoids the
    // cause being printed twice by the error chain.
    let report = Report::from_path(&args.snapshot, &options)
        .map_err(|e| anyhow::anyhow!("report of {}: {e}", args.snapshot.display()))?;
    let written = report
        .write(&args.out)
        .map_err(|e| anyhow::anyhow!("writing the report: {e}"))?;
    let mut out = std::io::stdout().lock();
    for w in &report.warnings {
        writeln!(out, "warning: {}", w.message())?;
    }
    for path in [&written.json, &written.markdown, &written.html] {
        writeln!(out, "wrote {}", path.display())?;
    }
    for line in report.summary() {
        writeln!(out, "{line}")?;
    }
    Ok(())
}
