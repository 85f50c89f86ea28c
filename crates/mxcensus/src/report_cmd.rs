//! `mxcensus report` (owned by the report helper; placeholder until it lands).

/// Arguments of `mxcensus report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {}

/// Runs `mxcensus report`.
pub fn run(_args: ReportArgs) -> anyhow::Result<()> {
    anyhow::bail!("report: not built yet")
}
