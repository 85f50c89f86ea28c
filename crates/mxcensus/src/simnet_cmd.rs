//! `mxcensus simnet up`: run the simulated Internet in the foreground.
//!
//! Wiring only: the world lives in `mxcensus-simnet` (`World::start`). This module parses
//! the flags, builds a tokio runtime, starts the world, and waits for Ctrl-C or SIGTERM,
//! then stops it (Unbound is killed, listeners closed).

use std::path::PathBuf;

use anyhow::Context;
use mxcensus_simnet::profile::Profile;
use mxcensus_simnet::world::{Ports, ResolverMode, World, WorldConfig};

/// The simulated Internet (DNS with DNSSEC, SMTP, HTTPS policy hosts, ground truth).
#[derive(clap::Args, Debug)]
pub struct SimnetArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: SimnetCommand,
}

/// `simnet` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum SimnetCommand {
    /// Start a world and serve it until interrupted; DIR/simnet.json appears when ready.
    Up(UpArgs),
}

/// Flags of `simnet up`.
#[derive(clap::Args, Debug)]
pub struct UpArgs {
    /// Number of domains (at most 1048576).
    #[arg(long)]
    pub domains: u32,
    /// Seed: the same seed, size and profile give the same world.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory for the inputs, truth, certificates, logs and simnet.json.
    #[arg(long)]
    pub dir: PathBuf,
    /// Epoch: 0 is the base world; E > 0 is the same world with a few documented changes
    /// (MTA-STS, DNSSEC, DANE, TLS-RPT adopted or dropped, policies changed), listed per
    /// domain in the truth's `changes` column. Diff two epochs with `mxcensus diff`.
    #[arg(long, default_value_t = 0)]
    pub epoch: u32,
    /// Population profile (TOML); the built-in profile when absent.
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Port of the validating resolver on 127.0.53.1 (default 53 as root, else 10053).
    #[arg(long)]
    pub resolver_port: Option<u16>,
    /// SMTP port on every MX address (default 25 as root, else 10025).
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// HTTPS port on every policy host address (default 443 as root, else 10443).
    #[arg(long)]
    pub https_port: Option<u16>,
    /// Port of the authoritative engine on 127.0.53.2 (default 5300).
    #[arg(long)]
    pub auth_port: Option<u16>,
    /// Unbound binary to run (default: /usr/sbin/unbound or `unbound` on PATH).
    #[arg(long, conflicts_with = "no_unbound")]
    pub unbound: Option<PathBuf>,
    /// Do not run Unbound: the resolver is the (non-validating) authoritative engine.
    #[arg(long)]
    pub no_unbound: bool,
    /// Seconds to wait for every service to answer.
    #[arg(long, default_value_t = 120)]
    pub ready_timeout: u64,
}

/// Runs a `simnet` subcommand.
pub fn run(args: SimnetArgs) -> anyhow::Result<()> {
    match args.command {
        SimnetCommand::Up(up) => run_up(up),
    }
}

fn run_up(args: UpArgs) -> anyhow::Result<()> {
    let profile = match &args.profile {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    let defaults = Ports::default_for_user();
    let ports = Ports {
        resolver: args.resolver_port.unwrap_or(defaults.resolver),
        smtp: args.smtp_port.unwrap_or(defaults.smtp),
        https: args.https_port.unwrap_or(defaults.https),
        auth: args.auth_port.unwrap_or(defaults.auth),
    };
    let resolver = if args.no_unbound {
        ResolverMode::Off
    } else if let Some(bin) = args.unbound {
        ResolverMode::Binary(bin)
    } else {
        ResolverMode::Auto
    };
    let config = WorldConfig {
        n: args.domains,
        seed: args.seed,
        profile,
        epoch: args.epoch,
        dir: args.dir,
        ports,
        resolver,
        ready_timeout: std::time::Duration::from_secs(args.ready_timeout),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("building the tokio runtime")?;
    runtime.block_on(async move {
        let world = World::start(config)
            .await
            .context("starting the simulated Internet")?;
        wait_for_shutdown().await?;
        eprintln!("simnet: stopping");
        world.stop();
        Ok(())
    })
}

async fn wait_for_shutdown() -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
