//! Shared set-up of the simnet crawl tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::Array;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use mxcensus_crawl::CrawlConfig;
use mxcensus_crawl::simnet::{SimnetFile, canaries_from_truth};
use mxcensus_simnet::world::{Ports, ResolverMode, RunningWorld, World, WorldConfig};

pub const HEADLINE: [&str; 11] = [
    "mx_status",
    "sts_txt",
    "sts_policy",
    "sts_mode",
    "sts_mx_valid",
    "starttls",
    "tlsrpt",
    "dnssec",
    "dane",
    "error_classes",
    "rank",
];

/// None (with a message) when Unbound is missing.
pub async fn start_world(n: u32, seed: u64, dir: &Path) -> Option<RunningWorld> {
    if mxcensus_simnet::unbound::find_unbound().is_none() {
        eprintln!(
            "SKIPPED: unbound is not installed; the simnet crawl tests need a validating resolver"
        );
        return None;
    }
    let mut wc = WorldConfig::new(n, seed, dir.to_owned());
    wc.ports = Ports::ephemeral();
    wc.resolver = ResolverMode::Auto;
    wc.profile.mta_sts.slow_fetch_ms = 4_000;
    wc.profile.smtp.slow_greeting_ms = 300;
    // Enough bogus zones for a canary and for the bogus classes.
    wc.profile.faults.dnssec.share = 0.25;
    Some(World::start(wc).await.expect("world starts"))
}

/// A crawl configuration for the world in `dir`.
pub fn config_for(dir: &Path) -> CrawlConfig {
    let sim = SimnetFile::read(&dir.join("simnet.json")).expect("simnet.json");
    let mut c = CrawlConfig::new("probe.mxcensus.test", "test");
    sim.apply(&mut c).expect("apply");
    let picked = canaries_from_truth(&sim.truth).expect("truth");
    eprintln!("canaries from truth: {picked:?}");
    if let Some((s, b)) = picked {
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
    // Worlds plant lame zones (SERVFAIL, not bogus): their late retries should not hold
    // every test run for the default 30 s.
    c.late_retry_delay = Duration::from_secs(2);
    c.concurrency = 64;
    c.dns_qps = 0;
    c.connects_per_sec = 0;
    c.per_network = 64;
    c.commit_domains = 50;
    c
}

pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Rows keyed by `key`, every column rendered as text (`null` for nulls).
pub fn read_rows(files: &[PathBuf], key: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let opts = FormatOptions::default();
    mxcensus_dataset::read::for_each_batch(files, &[], |b| {
        let schema = b.schema();
        let fmts: Vec<_> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("fmt"))
            .collect();
        for i in 0..b.num_rows() {
            let mut row = BTreeMap::new();
            for (j, f) in schema.fields().iter().enumerate() {
                let v = if b.column(j).is_null(i) {
                    "null".to_owned()
                } else {
                    fmts[j].value(i).to_string()
                };
                row.insert(f.name().clone(), v);
            }
            out.insert(row[key].clone(), row);
        }
        Ok(())
    })
    .expect("read");
    out
}

/// `[a, b]` -> {"a","b"}.
pub fn list(s: &str) -> std::collections::BTreeSet<String> {
    s.trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .filter(|x| !x.is_empty() && *x != "null")
        .map(str::to_owned)
        .collect()
}
