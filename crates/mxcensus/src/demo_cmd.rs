//! `mxcensus demo`: the whole job in one command on an embedded default. Starts a
//! simulated Internet in-process (`mxcensus_simnet::world`), crawls it with `--simnet`
//! settings, writes the adoption report of the snapshot (`mxcensus report`), prints where
//! both are, a few headline figures and the agreement with the world's ground truth, then
//! stops the world.
//!
//! The world's deliberately slow servers are scaled down (a slow policy host answers
//! after 4 s, a slow greeting after 0.3 s) and the crawl's time-outs with them (policy
//! 2 s, greeting and replies 3 s), so a time-out stays a time-out and the demo takes
//! seconds rather than minutes. The late retry of transiently failed domains waits 5 s
//! rather than 30: the world plants lame zones, whose domains are always parked once.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use mxcensus_analysis::report::{Report, ReportOptions, Written};
use mxcensus_crawl::CrawlConfig;
use mxcensus_crawl::simnet::{
    SimnetFile, TruthComparison, canaries_from_truth, compare_with_truth, parquet_files,
};
use mxcensus_simnet::world::{Ports, ResolverMode, World, WorldConfig};

/// Flags of `mxcensus demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Number of simulated domains.
    #[arg(long, default_value_t = 2000)]
    pub domains: u32,
    /// Seed of the world (same seed and size, same world).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Directory of the world (inputs, truth, certificates, logs, simnet.json).
    #[arg(long, default_value = "mxcensus-demo/world")]
    pub dir: PathBuf,
    /// Output directory of the snapshot.
    #[arg(long, default_value = "mxcensus-demo/snapshots")]
    pub out: PathBuf,
    /// Domains in flight at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Directory of the report (report.html, report.md, report.json).
    #[arg(long, default_value = "mxcensus-demo/report")]
    pub report_dir: PathBuf,
}

/// How the demo ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DemoOutcome {
    /// The crawl agrees with the ground truth on every compared column.
    Agrees,
    /// Some domains disagree (listed on stdout).
    Disagrees,
}

/// What the demo did, for callers and tests.
#[derive(Clone, Debug)]
pub struct DemoReport {
    /// `OUT/snapshot=<id>/shard=0`.
    pub shard_dir: PathBuf,
    /// The crawl's summary.
    pub summary: mxcensus_crawl::CrawlSummary,
    /// Agreement with the ground truth.
    pub comparison: TruthComparison,
    /// The world's resolver validated (Unbound found).
    pub resolver_validates: bool,
    /// The report's files.
    pub report: Written,
    /// The report's summary lines.
    pub report_summary: Vec<String>,
}

/// The crawl settings for a demo world (see the module doc for the time-outs).
fn demo_config(
    sim: &SimnetFile,
    snapshot: String,
    concurrency: usize,
) -> anyhow::Result<CrawlConfig> {
    let mut c = CrawlConfig::new("probe.mxcensus.test", snapshot);
    c.git_revision = option_env!("MXCENSUS_GIT_REVISION").map(str::to_owned);
    sim.apply(&mut c)?;
    if (sim.canary_secure.is_none() || sim.canary_bogus.is_none())
        && let Ok(Some((s, b))) = canaries_from_truth(&sim.truth)
    {
        c.canary_secure = s;
        c.canary_bogus = b;
    }
    c.dns.timeout = Duration::from_secs(5);
    c.dns.backoff = Duration::from_millis(50);
    c.smtp.connect_timeout = Duration::from_secs(2);
    c.smtp.greeting_timeout = Duration::from_secs(3);
    c.smtp.command_timeout = Duration::from_secs(3);
    c.smtp.tls_timeout = Duration::from_secs(3);
    c.policy.timeout = Duration::from_secs(2);
    c.policy.connect_timeout = Duration::from_secs(2);
    c.smtp_retry_pause = Duration::from_millis(100);
    c.late_retry_delay = Duration::from_secs(5);
    c.concurrency = concurrency;
    // Loopback: no politeness limits beyond one connection per address.
    c.dns_qps = 0;
    c.connects_per_sec = 0;
    c.per_network = 64;
    c.input_label = sim.domains.display().to_string();
    c.extra_manifest = serde_json::json!({ "demo": true, "trust_anchor": sim.trust_anchor });
    c.validate()?;
    Ok(c)
}

/// Starts the world, crawls it, compares with the truth, stops the world.
pub async fn demo(args: &DemoArgs) -> anyhow::Result<DemoReport> {
    let mut wc = WorldConfig::new(args.domains, args.seed, args.dir.clone());
    // Any free ports: a demo must not collide with a running `simnet up`.
    wc.ports = Ports::ephemeral();
    wc.resolver = ResolverMode::Auto;
    wc.profile.mta_sts.slow_fetch_ms = 4_000;
    wc.profile.smtp.slow_greeting_ms = 300;
    let world = World::start(wc)
        .await
        .context("starting the simulated Internet")?;
    let resolver_validates = world.info().resolver_validates;
    let sim = SimnetFile::read(&args.dir.join("simnet.json"))?;
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let config = demo_config(&sim, format!("demo-{unix}"), args.concurrency)?;
    let input = std::fs::File::open(&sim.domains)
        .with_context(|| format!("opening {}", sim.domains.display()))?;
    let summary = mxcensus_crawl::run(config, Box::new(input), &args.out).await?;
    let comparison = compare_with_truth(
        &sim.truth,
        &parquet_files(&summary.shard_dir.join("domains")),
    )
    .context("comparing with the ground truth")?;
    world.stop();
    let snapshot_dir = summary
        .shard_dir
        .parent()
        .unwrap_or(&summary.shard_dir)
        .to_owned();
    let built = Report::from_path(&snapshot_dir, &ReportOptions::default())
        .with_context(|| format!("reporting on {}", snapshot_dir.display()))?;
    let report = built.write(&args.report_dir)?;
    Ok(DemoReport {
        shard_dir: summary.shard_dir.clone(),
        summary,
        comparison,
        resolver_validates,
        report,
        report_summary: built.summary(),
    })
}

/// The report as text.
pub fn render(r: &DemoReport, args: &DemoArgs) -> String {
    let s = &r.summary;
    let p = &s.progress;
    let rate = |n: u64| {
        if p.elapsed_secs > 0.0 {
            n as f64 / p.elapsed_secs
        } else {
            0.0
        }
    };
    let mut out = format!(
        "simulated Internet: {} domains, seed {}, in {} (resolver validates: {})\n\
         snapshot: {}\n  manifest: {}\n\
         crawl {}: {} domains in {:.1}s ({:.0}/s), {} DNS queries ({:.0}/s), {} SMTP probes, {} policy fetches\n",
        args.domains,
        args.seed,
        args.dir.display(),
        r.resolver_validates,
        r.shard_dir.display(),
        r.shard_dir.join("manifest.json").display(),
        s.status,
        p.domains_done,
        p.elapsed_secs,
        rate(p.domains_done),
        p.dns_queries,
        rate(p.dns_queries),
        p.smtp_probes,
        p.policy_fetches,
    );
    for column in [
        "mx_status",
        "sts_txt",
        "sts_mode",
        "starttls",
        "tlsrpt",
        "dnssec",
        "dane",
    ] {
        if let Some(values) = s.counts.get(column) {
            let parts: Vec<String> = values.iter().map(|(v, n)| format!("{v}={n}")).collect();
            out.push_str(&format!("  {column}: {}\n", parts.join(" ")));
        }
    }
    let c = &r.comparison;
    out.push_str(&format!(
        "ground truth: {} domains compared, {} missing, {} unexpected, {} columns disagree\n",
        c.compared,
        c.missing,
        c.unexpected,
        c.disagreements.len()
    ));
    for (column, n) in &c.disagreements {
        out.push_str(&format!(
            "  {column}: {n} domains, e.g. {}\n",
            c.examples
                .get(column)
                .map(|v| v.join("; "))
                .unwrap_or_default()
        ));
    }
    out.push_str(&format!(
        "report: {} (also {}, {})\n",
        r.report.html.display(),
        r.report.markdown.display(),
        r.report.json.display()
    ));
    for line in &r.report_summary {
        out.push_str(&format!("  {line}\n"));
    }
    out.push_str(&format!(
        "query it: duckdb -c \"SELECT sts_txt, count(*) FROM read_parquet('{}/*/*/domains/*.parquet', hive_partitioning=true) GROUP BY 1\"\n",
        args.out.display()
    ));
    out
}

/// Runs `mxcensus demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<DemoOutcome> {
    if args.domains == 0 {
        anyhow::bail!("--domains must be at least 1");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(demo(&args))?;
    let mut stdout = std::io::stdout().lock();
    write!(stdout, "{}", render(&report, &args))?;
    Ok(if report.comparison.agrees() {
        DemoOutcome::Agrees
    } else {
        DemoOutcome::Disagrees
    })
}
