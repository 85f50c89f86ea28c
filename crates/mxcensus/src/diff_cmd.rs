//! `mxcensus diff` (owned by the diff helper; placeholder until it lands).

/// Arguments of `mxcensus diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {}

/// Runs `mxcensus diff`.
pub fn run(_args: DiffArgs) -> anyhow::Result<()> {
    anyhow::bail!("diff: not built yet")
}
