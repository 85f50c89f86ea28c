//! Resume and exclusions against a simulated Internet. Needs Unbound; skipped without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use common::*;

fn smtp_keys(shard: &std::path::Path) -> Vec<(String, String)> {
    let mut keys = Vec::new();
    mxcensus_dataset::read::for_each_batch(
        &parquet_files(&shard.join("smtp")),
        &["mx_host", "ip"],
        |b| {
            use arrow::array::AsArray;
            let h = b.column(0).as_string::<i32>();
            let ip = b.column(1).as_string::<i32>();
            for i in 0..b.num_rows() {
                keys.push((h.value(i).to_owned(), ip.value(i).to_owned()));
            }
            Ok(())
        },
    )
    .unwrap();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_then_resume_gives_every_domain_once_and_probes_once() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("world");
    let Some(world) = start_world(250, 21, &wdir).await else {
        return;
    };
    let out = tmp.path().join("out");
    let domains_file = world.info().domains.clone();

    let mut first = config_for(&wdir);
    first.stop_after = Some(90);
    first.commit_domains = 20;
    first.concurrency = 8;
    let s1 = mxcensus_crawl::run(
        first,
        Box::new(std::fs::File::open(&domains_file).unwrap()),
        &out,
    )
    .await
    .expect("first run");
    assert_eq!(s1.status, "interrupted");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s1.shard_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "interrupted");
    let probes_before = world.smtp().log().total_sessions;

    // Without --resume the shard is refused.
    let again = mxcensus_crawl::run(
        config_for(&wdir),
        Box::new(std::fs::File::open(&domains_file).unwrap()),
        &out,
    )
    .await;
    assert!(matches!(again, Err(mxcensus_crawl::CrawlError::Exists(_))));

    let mut second = config_for(&wdir);
    second.resume = true;
    let s2 = mxcensus_crawl::run(
        second,
        Box::new(std::fs::File::open(&domains_file).unwrap()),
        &out,
    )
    .await
    .expect("resume");
    assert_eq!(s2.status, "complete");
    assert!(s2.progress.domains_resumed >= 90);
    assert_eq!(s2.progress.domains_resumed + s2.progress.domains_done, 250);

    // Every domain exactly once.
    let mut seen = BTreeMap::new();
    mxcensus_dataset::read::for_each_string(
        &parquet_files(&s2.shard_dir.join("domains")),
        "domain",
        |d| {
            *seen.entry(d.to_owned()).or_insert(0) += 1;
        },
    )
    .unwrap();
    let truth = read_rows(&[world.info().truth.clone()], "domain");
    assert_eq!(seen.len(), truth.len());
    assert!(seen.values().all(|&n| n == 1), "duplicate domain rows");
    // Every (host, ip) probed once per snapshot, across both runs.
    let keys = smtp_keys(&s2.shard_dir);
    let distinct: BTreeSet<_> = keys.iter().cloned().collect();
    assert_eq!(keys.len(), distinct.len(), "an address was probed twice");
    let log = world.smtp().log();
    assert!(log.total_sessions >= probes_before);
    assert_eq!(log.violations().count(), 0);
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s2.shard_dir.join("manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["resumed"], 1);
    let total: u64 = manifest["counts"]["mx_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 250, "manifest counts cover both runs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn excluded_domains_and_addresses_are_never_contacted() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("world");
    let Some(world) = start_world(200, 5, &wdir).await else {
        return;
    };
    // A self-hosted domain (its MX hosts are its own) and one provider MX address.
    let truth = read_rows(&[world.info().truth.clone()], "domain");
    let own = truth
        .values()
        .find(|t| {
            t["provider"] == "null"
                && t["mx_status"] == "ok"
                && list(&t["mx_hosts"])
                    .iter()
                    .all(|h| h.ends_with(&t["domain"]))
        })
        .expect("a self-hosted domain")["domain"]
        .clone();
    let out = tmp.path().join("out");

    // First learn one provider address from a crawl of another world dir? No: resolve it
    // from the zones through a plain crawl of a single provider domain.
    let provider_domain = truth
        .values()
        .find(|t| t["provider"] != "null" && t["mx_status"] == "ok" && t["starttls"] == "all")
        .expect("a provider domain")["domain"]
        .clone();
    let mut probe_cfg = config_for(&wdir);
    probe_cfg.snapshot = "probe".into();
    let s = mxcensus_crawl::run(
        probe_cfg,
        Box::new(std::io::Cursor::new(format!("{provider_domain}\n"))),
        &out,
    )
    .await
    .unwrap();
    let mx = read_rows(&parquet_files(&s.shard_dir.join("mx")), "exchange");
    let addr = mx
        .values()
        .flat_map(|r| list(&r["addresses"]))
        .find(|a| a.parse::<std::net::Ipv4Addr>().is_ok())
        .expect("an IPv4 MX address");
    let sessions_before = world.smtp().log().total_sessions;

    let excl = tmp.path().join("exclude.txt");
    let mut f = std::fs::File::create(&excl).unwrap();
    writeln!(f, "# opt-outs\n{own}\n{addr}").unwrap();
    let mut cfg = config_for(&wdir);
    cfg.exclusions =
        mxcensus_crawl::politeness::Exclusions::parse(&std::fs::read_to_string(&excl).unwrap())
            .unwrap();
    let s = mxcensus_crawl::run(
        cfg,
        Box::new(std::fs::File::open(&world.info().domains).unwrap()),
        &out,
    )
    .await
    .unwrap();

    let log = world.smtp().log();
    let ip: std::net::Ipv4Addr = addr.parse().unwrap();
    let new_sessions: Vec<_> = log.sessions.iter().skip(sessions_before as usize).collect();
    assert!(!new_sessions.is_empty());
    assert!(
        new_sessions
            .iter()
            .all(|x| x.local.ip() != std::net::IpAddr::V4(ip)),
        "excluded address contacted"
    );
    assert!(
        new_sessions
            .iter()
            .all(|x| !x.host.as_deref().is_some_and(|h| h.ends_with(&own))),
        "excluded domain's own MX contacted"
    );
    let domains = read_rows(&parquet_files(&s.shard_dir.join("domains")), "domain");
    assert!(!domains.contains_key(&own));
    assert_eq!(domains.len(), truth.len() - 1);
    let errors = read_rows(&parquet_files(&s.shard_dir.join("input_errors")), "raw");
    assert_eq!(errors[&own]["reason"], "excluded");
    let smtp = read_rows(&parquet_files(&s.shard_dir.join("smtp")), "ip");
    assert_eq!(smtp[&addr]["excluded"], "true");
    assert_eq!(smtp[&addr]["connect"], "not_attempted");
}
