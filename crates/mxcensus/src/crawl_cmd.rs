//! `mxcensus crawl`: domains in, a documented Parquet snapshot out.
//!
//! Wiring only: flags -> [`mxcensus_crawl::CrawlConfig`], a tokio runtime, Ctrl-C to stop
//! reading input (in-flight domains finish, the manifest says `interrupted`, `--resume`
//! finishes the job), progress on stderr (an `indicatif` bar on a terminal: domains
//! done of the input's lines, rate, errors, ETA; plain lines every 10 s otherwise) and a
//! summary at the end.

use std::io::{IsTerminal, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use mxcensus_crawl::input::{InputFormat, Shard};
use mxcensus_crawl::politeness::Exclusions;
use mxcensus_crawl::simnet::{SimnetFile, canaries_from_truth};
use mxcensus_crawl::{CrawlConfig, CrawlSummary, Progress};

/// Input format flag.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// Decide from the first line (`digits,` means Tranco).
    Auto,
    /// `rank,domain` per line.
    Tranco,
    /// One domain per line.
    Plain,
}

fn seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(v.is_finite() && v > 0.0 && v <= 600.0) {
        return Err(format!("{s} is outside (0, 600] seconds"));
    }
    Ok(Duration::from_secs_f64(v))
}

fn shard(s: &str) -> Result<Shard, String> {
    Shard::parse(s).ok_or_else(|| format!("{s:?} is not i/N with 0 <= i < N"))
}

/// Flags that say which world to measure and how patiently (shared by `crawl` and
/// `check`).
#[derive(clap::Args, Debug, Clone)]
pub struct WorldArgs {
    /// Validating resolver ip:port (repeat for more; default 127.0.0.1:53).
    #[arg(long)]
    pub resolver: Vec<SocketAddr>,
    /// Extra CA certificates (PEM) trusted besides webpki-roots (repeatable).
    #[arg(long)]
    pub extra_ca: Vec<PathBuf>,
    /// The DNSSEC trust anchor the resolver is configured with (recorded in the manifest;
    /// validation itself is the resolver's, read from its AD bit).
    #[arg(long)]
    pub trust_anchor: Option<PathBuf>,
    /// SMTP port to dial (25 on the Internet).
    #[arg(long)]
    pub smtp_port: Option<u16>,
    /// HTTPS port of policy hosts (443 on the Internet).
    #[arg(long)]
    pub https_port: Option<u16>,
    /// Port in TLSA owner names (`_<port>._tcp.<mx>`).
    #[arg(long, default_value_t = 25)]
    pub tlsa_port: u16,
    /// A running simulated Internet (DIR/simnet.json): sets resolver, extra CA, trust
    /// anchor, ports, canaries (and the crawl's input); explicit flags still win.
    #[arg(long)]
    pub simnet: Option<PathBuf>,
    /// EHLO name: an FQDN with forward-confirmed reverse DNS (required outside simnet).
    #[arg(long)]
    pub ehlo_name: Option<String>,
    /// Secure canary (must answer with AD).
    #[arg(long)]
    pub canary_secure: Option<String>,
    /// Bogus canary (must SERVFAIL, and answer with CD).
    #[arg(long)]
    pub canary_bogus: Option<String>,
    /// DNS time-out per try, seconds.
    #[arg(long, value_parser = seconds, default_value = "5")]
    pub dns_timeout: Duration,
    /// DNS tries per query (time-outs and SERVFAIL are retried with backoff).
    #[arg(long, default_value_t = 3)]
    pub dns_attempts: u32,
    /// SMTP connect time-out, seconds.
    #[arg(long, value_parser = seconds, default_value = "10")]
    pub connect_timeout: Duration,
    /// Longest wait for the SMTP greeting, seconds.
    #[arg(long, value_parser = seconds, default_value = "60")]
    pub greeting_timeout: Duration,
    /// Longest wait for each SMTP reply, seconds.
    #[arg(long, value_parser = seconds, default_value = "30")]
    pub command_timeout: Duration,
    /// Longest policy fetch, seconds (RFC 8461 §3.3 suggests 60).
    #[arg(long, value_parser = seconds, default_value = "60")]
    pub policy_timeout: Duration,
}

/// Flags of `mxcensus crawl`.
#[derive(clap::Args, Debug)]
pub struct CrawlArgs {
    /// Input list: Tranco-style CSV (`rank,domain`), one domain per line, or `-` for
    /// standard input. With --simnet, defaults to the world's list.
    pub input: Option<PathBuf>,
    /// Input format.
    #[arg(long, value_enum, default_value_t = FormatArg::Auto)]
    pub format: FormatArg,
    /// Output directory (the snapshot goes to OUT/snapshot=<id>/shard=<i>/).
    #[arg(long, default_value = "snapshots")]
    pub out: PathBuf,
    /// Snapshot identifier (default: today's UTC date, YYYY-MM-DD).
    #[arg(long)]
    pub snapshot: Option<String>,
    /// Crawl only shard i of N (stable hash of the domain).
    #[arg(long, value_parser = shard, default_value = "0/1")]
    pub shard: Shard,
    /// Finish an interrupted run: keep committed rows, skip their domains and probes.
    #[arg(long)]
    pub resume: bool,
    /// Domains in their DNS stage (MX and TXT lookups) at once; up to four times as many
    /// may be in flight, waiting on SMTP or HTTPS.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// SMTP probes in flight at once.
    #[arg(long, default_value_t = 64)]
    pub smtp_concurrency: usize,
    /// DNS lookups per second (0: unlimited).
    #[arg(long, default_value_t = 1000)]
    pub dns_qps: u32,
    /// New SMTP/HTTPS connections per second (0: unlimited).
    #[arg(long, default_value_t = 100)]
    pub connects_per_sec: u32,
    /// Simultaneous connections to one address.
    #[arg(long, default_value_t = 1)]
    pub per_address: usize,
    /// Simultaneous connections to one /24 (IPv4) or /48 (IPv6).
    #[arg(long, default_value_t = 8)]
    pub per_network: usize,
    /// Exclusion file: domains (with subdomains), addresses, CIDR networks; never
    /// contacted.
    #[arg(long)]
    pub exclude: Option<PathBuf>,
    /// The world: resolver, CAs, ports, canaries, time-outs.
    #[command(flatten)]
    pub world: WorldArgs,
    /// Re-crawl a domain whose own DNS lookups (MX, TXT, policy host) failed transiently
    /// (time-out, SERVFAIL not proven bogus, network error) once, this many seconds later, before writing it (0:
    /// write the error at once). The run waits for the parked domains before it ends.
    #[arg(long, default_value_t = 30)]
    pub late_retry_delay: u64,
    /// At most this many domains wait for their late retry at once; beyond it a domain
    /// is written with its error.
    #[arg(long, default_value_t = 10_000)]
    pub late_retry_cap: usize,
    /// Stop after this many domains (the run is then `interrupted`; --resume goes on).
    #[arg(long)]
    pub stop_after: Option<u64>,
    /// Also write the run's summary (counters, rows, headline counts) as JSON here.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How the crawl ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrawlOutcome {
    /// Every input domain has a row.
    Complete,
    /// Stopped early; `--resume` finishes it.
    Interrupted,
}

/// The configuration every probe shares, from the world flags (and simnet.json): EHLO
/// name, resolver, CAs, ports, canaries and time-outs. Returns the simnet file when one
/// was given.
pub fn world_config(
    w: &WorldArgs,
    snapshot: String,
) -> anyhow::Result<(CrawlConfig, Option<SimnetFile>)> {
    let sim = match &w.simnet {
        Some(p) => Some(SimnetFile::read(p).with_context(|| format!("reading {}", p.display()))?),
        None => None,
    };
    let ehlo = match (&w.ehlo_name, &sim) {
        (Some(e), _) => e.clone(),
        (None, Some(_)) => "probe.mxcensus.test".to_owned(),
        (None, None) => anyhow::bail!(
            "--ehlo-name is required: an FQDN of this vantage point with forward-confirmed reverse DNS"
        ),
    };
    let mut c = CrawlConfig::new(ehlo, snapshot);
    let mut extra = serde_json::Map::new();
    if let Some(sim) = &sim {
        sim.apply(&mut c)?;
        // Until simnet.json names canaries, take them from the ground truth.
        if (sim.canary_secure.is_none() || sim.canary_bogus.is_none())
            && let Ok(Some((s, b))) = canaries_from_truth(&sim.truth)
        {
            c.canary_secure = s;
            c.canary_bogus = b;
        }
        extra.insert(
            "simnet".into(),
            w.simnet.as_ref().map(|p| p.display().to_string()).into(),
        );
        extra.insert(
            "trust_anchor".into(),
            sim.trust_anchor.display().to_string().into(),
        );
    }
    if !w.resolver.is_empty() {
        c.dns.resolvers = w.resolver.clone();
    }
    if !w.extra_ca.is_empty() {
        mxcensus_crawl::config::set_extra_ca(&mut c, w.extra_ca.clone());
    }
    if let Some(t) = &w.trust_anchor {
        extra.insert("trust_anchor".into(), t.display().to_string().into());
    }
    if let Some(p) = w.smtp_port {
        c.smtp.port = p;
    }
    if let Some(p) = w.https_port {
        c.policy.port = p;
    }
    if let Some(s) = &w.canary_secure {
        c.canary_secure = s.clone();
    }
    if let Some(s) = &w.canary_bogus {
        c.canary_bogus = s.clone();
    }
    c.tlsa_port = w.tlsa_port;
    c.dns.timeout = w.dns_timeout;
    c.dns.attempts = w.dns_attempts;
    c.smtp.connect_timeout = w.connect_timeout;
    c.smtp.greeting_timeout = w.greeting_timeout;
    c.smtp.command_timeout = w.command_timeout;
    c.smtp.tls_timeout = w.command_timeout;
    c.policy.timeout = w.policy_timeout;
    c.policy.connect_timeout = w.connect_timeout.min(w.policy_timeout);
    c.git_revision = option_env!("MXCENSUS_GIT_REVISION").map(str::to_owned);
    c.extra_manifest = serde_json::Value::Object(extra);
    Ok((c, sim))
}

/// Builds the configuration from the flags (and simnet.json). Returns it with the input
/// path (`-` for standard input).
pub fn build_config(args: &CrawlArgs) -> anyhow::Result<(CrawlConfig, PathBuf)> {
    let snapshot = args
        .snapshot
        .clone()
        .unwrap_or_else(mxcensus_crawl::writer::utc_date);
    let (mut c, sim) = world_config(&args.world, snapshot)?;
    c.format = match args.format {
        FormatArg::Auto => InputFormat::Auto,
        FormatArg::Tranco => InputFormat::Tranco,
        FormatArg::Plain => InputFormat::Plain,
    };
    c.shard = args.shard;
    c.resume = args.resume;
    c.concurrency = args.concurrency;
    c.smtp_concurrency = args.smtp_concurrency;
    c.dns_qps = args.dns_qps;
    c.connects_per_sec = args.connects_per_sec;
    c.per_address = args.per_address;
    c.per_network = args.per_network;
    c.stop_after = args.stop_after;
    c.late_retry_delay = Duration::from_secs(args.late_retry_delay);
    c.late_retry_cap = args.late_retry_cap;
    if let Some(path) = &args.exclude {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading exclusion file {}", path.display()))?;
        c.exclusions = Exclusions::parse(&text)?;
    }
    let input = match (&args.input, &sim) {
        (Some(p), _) => p.clone(),
        (None, Some(sim)) => sim.domains.clone(),
        (None, None) => anyhow::bail!("no input: give a file, or - for standard input"),
    };
    c.input_label = input.display().to_string();
    c.validate()?;
    Ok((c, input))
}

fn per_sec(n: u64, p: &Progress) -> f64 {
    if p.elapsed_secs > 0.0 {
        n as f64 / p.elapsed_secs
    } else {
        0.0
    }
}

/// Input lines handled so far (crawled, resumed or rejected): the bar's position.
fn handled(p: &Progress) -> u64 {
    p.domains_done + p.domains_resumed + p.input_errors
}

/// Seconds left at the mean rate so far, when the total is known.
fn eta_secs(p: &Progress, total: Option<u64>) -> Option<f64> {
    let total = total?;
    let rate = per_sec(p.domains_done + p.input_errors, p);
    (rate > 0.0).then(|| total.saturating_sub(handled(p)) as f64 / rate)
}

fn progress_line(p: &Progress, total: Option<u64>) -> String {
    let of = total.map_or_else(String::new, |t| format!("/{t}"));
    let eta = eta_secs(p, total).map_or_else(String::new, |e| format!("  ETA {e:.0}s"));
    format!(
        "{:>7.0}s  domains {}{of} (+{} resumed)  {:.1}/s{eta}  errors {} (input {})  in flight {} (+{} parked)  dns {:.0} q/s  smtp probes {} (cache hits {})  policies {}",
        p.elapsed_secs,
        p.domains_done,
        p.domains_resumed,
        per_sec(p.domains_done, p),
        p.domain_errors,
        p.input_errors,
        p.in_flight,
        p.domains_parked.saturating_sub(p.domains_retried),
        per_sec(p.dns_queries, p),
        p.smtp_probes,
        p.smtp_cache_hits,
        p.policy_fetches,
    )
}

/// The terminal bar: its message carries what the template's fields do not.
fn progress_bar(total: Option<u64>) -> indicatif::ProgressBar {
    let (bar, template) = match total {
        Some(t) => (
            indicatif::ProgressBar::new(t),
            "{elapsed_precise} [{wide_bar}] {pos}/{len} lines  ETA {eta}\n{msg}",
        ),
        None => (
            indicatif::ProgressBar::new_spinner(),
            "{elapsed_precise} {spinner} {pos} lines\n{msg}",
        ),
    };
    bar.set_draw_target(indicatif::ProgressDrawTarget::stderr_with_hz(4));
    if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

fn bar_message(p: &Progress) -> String {
    format!(
        "{:.1} domains/s  domains {} (+{} resumed)  errors {} (input {})  in flight {} (+{} parked)  dns {:.0} q/s  smtp probes {} (cache hits {})  policies {}",
        per_sec(p.domains_done, p),
        p.domains_done,
        p.domains_resumed,
        p.domain_errors,
        p.input_errors,
        p.in_flight,
        p.domains_parked.saturating_sub(p.domains_retried),
        per_sec(p.dns_queries, p),
        p.smtp_probes,
        p.smtp_cache_hits,
        p.policy_fetches,
    )
}

/// Lines of a regular input file (the bar's length); `None` for standard input.
fn count_lines(path: &std::path::Path) -> Option<u64> {
    if path.as_os_str() == "-" {
        return None;
    }
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 1 << 16];
    let (mut lines, mut last) = (0u64, b'\n');
    loop {
        let n = f.read(&mut buf).ok()?;
        let Some(chunk) = buf.get(..n).filter(|c| !c.is_empty()) else {
            break;
        };
        lines += chunk.iter().filter(|b| **b == b'\n').count() as u64;
        last = chunk.last().copied().unwrap_or(b'\n');
    }
    Some(lines + u64::from(last != b'\n'))
}

fn summary_text(s: &CrawlSummary) -> String {
    let p = &s.progress;
    let mut out = format!(
        "crawl {}: {} domains crawled ({:.1}/s), {} resumed, {} with error classes, {} input errors, {} parked for a late retry ({} retried), {} DNS queries ({:.0}/s), {} SMTP probes, {} policy fetches in {:.1}s\n  output: {}\n  resolver validates: {}\n",
        s.status,
        p.domains_done,
        per_sec(p.domains_done, p),
        p.domains_resumed,
        p.domain_errors,
        p.input_errors,
        p.domains_parked,
        p.domains_retried,
        p.dns_queries,
        per_sec(p.dns_queries, p),
        p.smtp_probes,
        p.policy_fetches,
        p.elapsed_secs,
        s.shard_dir.display(),
        s.validator_ok
    );
    for (table, n) in &s.rows {
        out.push_str(&format!("  rows {table}: {n}\n"));
    }
    for (column, values) in &s.counts {
        if column == "error_classes" {
            continue;
        }
        let parts: Vec<String> = values.iter().map(|(v, n)| format!("{v}={n}")).collect();
        out.push_str(&format!("  {column}: {}\n", parts.join(" ")));
    }
    out
}

/// Runs `mxcensus crawl`.
pub fn run(args: CrawlArgs) -> anyhow::Result<CrawlOutcome> {
    let (mut config, input_path) = build_config(&args)?;
    let input: Box<dyn Read + Send> = if input_path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(&input_path)
                .with_context(|| format!("opening {}", input_path.display()))?,
        )
    };
    let tty = std::io::stderr().is_terminal();
    let total = if args.quiet {
        None
    } else {
        count_lines(&input_path)
    };
    let bar = (tty && !args.quiet).then(|| progress_bar(total));
    if !args.quiet {
        let last = Arc::new(std::sync::Mutex::new(std::time::Instant::now()));
        let bar = bar.clone();
        config.progress = Some(Arc::new(move |p: &Progress| {
            if let Some(bar) = &bar {
                bar.set_message(bar_message(p));
                bar.set_position(handled(p));
            } else if let Ok(mut l) = last.lock() {
                // Plain periodic lines for logs: every 10 s.
                if l.elapsed() >= Duration::from_secs(10) {
                    *l = std::time::Instant::now();
                    let _ = writeln!(std::io::stderr().lock(), "{}", progress_line(p, total));
                }
            }
        }));
    }
    let stop = Arc::clone(&config.stop);
    let out = args.out.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let summary = runtime.block_on(async move {
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
            }
        });
        mxcensus_crawl::run(config, input, &out).await
    });
    if let Some(bar) = &bar {
        bar.finish();
    }
    let summary = summary?;
    let mut err = std::io::stderr().lock();
    let _ = write!(err, "{}", summary_text(&summary));
    if let Some(path) = &args.summary_json {
        let text = serde_json::to_string_pretty(&summary).context("encoding the summary")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if !summary.validator_ok {
        let _ = writeln!(
            err,
            "  warning: the resolver failed the DNSSEC canaries (see manifest.json): dnssec is `unknown`, dane is `error`"
        );
    }
    Ok(if summary.status == "complete" {
        CrawlOutcome::Complete
    } else {
        CrawlOutcome::Interrupted
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress() -> Progress {
        Progress {
            domains_done: 300,
            domains_resumed: 100,
            input_errors: 20,
            domain_errors: 7,
            dns_queries: 1500,
            elapsed_secs: 10.0,
            ..Progress::default()
        }
    }

    #[test]
    fn counts_lines_with_and_without_a_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.csv");
        std::fs::write(&a, "1,a.org\n2,b.org\n").unwrap();
        assert_eq!(count_lines(&a), Some(2));
        std::fs::write(&a, "1,a.org\n2,b.org").unwrap();
        assert_eq!(count_lines(&a), Some(2));
        std::fs::write(&a, "").unwrap();
        assert_eq!(count_lines(&a), Some(0));
        assert_eq!(count_lines(std::path::Path::new("-")), None);
        assert_eq!(count_lines(&dir.path().join("missing")), None);
    }

    #[test]
    fn eta_uses_this_run_rate_and_the_lines_left() {
        let p = progress();
        assert_eq!(handled(&p), 420);
        // 320 lines in 10 s; 1000 - 420 left.
        let eta = eta_secs(&p, Some(1000)).unwrap();
        assert!((eta - 580.0 / 32.0).abs() < 1e-9, "{eta}");
        assert_eq!(eta_secs(&p, None), None);
        assert_eq!(eta_secs(&Progress::default(), Some(10)), None);
    }

    #[test]
    fn plain_line_shows_done_rate_errors_and_eta() {
        let line = progress_line(&progress(), Some(1000));
        for part in [
            "domains 300/1000",
            "30.0/s",
            "ETA 18s",
            "errors 7 (input 20)",
            "dns 150 q/s",
        ] {
            assert!(line.contains(part), "{part:?} missing from {line:?}");
        }
        assert!(!progress_line(&progress(), None).contains("ETA"));
    }
}
