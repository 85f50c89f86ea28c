//! The late retry against a simulated Internet: a UDP proxy in front of Unbound drops
//! every query for one domain's names for a few seconds after the first one, so that
//! domain's DNS stage times out. With the late retry the domain is parked and re-crawled
//! after the burst (its row then equals the ground truth); without it the row records the
//! error; a run stopped while the domain is parked writes no row, and `--resume` crawls
//! it again. The same holds for the policy host's address lookup alone. Needs Unbound;
//! skipped without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use hickory_proto::op::Message;
use tokio::net::UdpSocket;

/// Drops every query whose name is `target` or under it, for `window` after the first
/// such query; forwards everything else (and everything after the window) to `upstream`.
async fn dropping_proxy(upstream: SocketAddr, target: String, window: Duration) -> SocketAddr {
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = sock.local_addr().unwrap();
    let first_hit: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let suffix = format!(".{target}.");
    let exact = format!("{target}.");
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_535];
        loop {
            let Ok((n, client)) = sock.recv_from(&mut buf).await else {
                return;
            };
            let query = buf[..n].to_vec();
            let name = Message::from_vec(&query)
                .ok()
                .and_then(|m| m.queries.first().map(|q| q.name().to_ascii()))
                .unwrap_or_default()
                .to_ascii_lowercase();
            if name == exact || name.ends_with(&suffix) {
                let mut first = first_hit.lock().unwrap();
                let t0 = *first.get_or_insert_with(Instant::now);
                if t0.elapsed() < window {
                    continue;
                }
            }
            let sock = Arc::clone(&sock);
            tokio::spawn(async move {
                let up = UdpSocket::bind("127.0.0.1:0").await.unwrap();
                up.send_to(&query, upstream).await.unwrap();
                let mut rbuf = vec![0u8; 65_535];
                if let Ok(Ok(m)) =
                    tokio::time::timeout(Duration::from_secs(10), up.recv(&mut rbuf)).await
                {
                    let _ = sock.send_to(&rbuf[..m], client).await;
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_retry_recovers_a_domain_whose_lookups_timed_out() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("world");
    let Some(world) = start_world(40, 5, &wdir).await else {
        return;
    };
    let domains_file = world.info().domains.clone();
    let n_domains = std::fs::read_to_string(&domains_file)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .count() as u64;
    let truth = read_rows(&[world.info().truth.clone()], "domain");
    let base = config_for(&wdir);
    let upstream = base.dns.resolvers[0];
    // A domain with mail hosts, not a canary; a bogus one if there is (the case seen at
    // scale), else any.
    let usable = |t: &std::collections::BTreeMap<String, String>| {
        let d = &t["domain"];
        t["mx_status"] == "ok" && *d != base.canary_bogus && *d != base.canary_secure
    };
    let target = truth
        .values()
        .find(|t| usable(t) && t["dnssec"] == "bogus")
        .or_else(|| truth.values().find(|t| usable(t)))
        .map(|t| t["domain"].clone())
        .expect("a domain with mail hosts");
    eprintln!("target {target}");
    let want = &truth[&target];

    // Three tries of one second each fall in the five-second window; a retry eight
    // seconds after the parking does not.
    let config = |proxy: SocketAddr, delay: u64| {
        let mut c = config_for(&wdir);
        c.dns.resolvers = vec![proxy];
        c.dns.timeout = Duration::from_secs(1);
        c.dns.attempts = 3;
        c.late_retry_delay = Duration::from_secs(delay);
        c.concurrency = 8;
        c
    };
    let window = Duration::from_secs(5);
    let crawl = |c: mxcensus_crawl::CrawlConfig, out: std::path::PathBuf| {
        let input = std::fs::File::open(&domains_file).unwrap();
        async move { mxcensus_crawl::run(c, Box::new(input), &out).await }
    };

    // 1. Late retry off: the time-outs are recorded (the test can fail).
    let proxy = dropping_proxy(upstream, target.clone(), window).await;
    let s = crawl(config(proxy, 0), tmp.path().join("off"))
        .await
        .unwrap();
    assert!(s.validator_ok);
    assert_eq!(s.progress.domains_parked, 0);
    let got = read_rows(&parquet_files(&s.shard_dir.join("domains")), "domain");
    let row = &got[&target];
    assert!(
        list(&row["error_classes"]).contains("mx_dns_error"),
        "without the late retry the time-out is the result: {row:?}"
    );
    assert_ne!(row["mx_status"], want["mx_status"]);

    // 2. Late retry on, run stopped (as by Ctrl-C) once every other domain is done and
    // the target is parked: no row for it, and the run does not wait for the retry.
    let proxy = dropping_proxy(upstream, target.clone(), window).await;
    let mut c = config(proxy, 60);
    let stop = Arc::clone(&c.stop);
    c.progress = Some(Arc::new(move |p: &mxcensus_crawl::config::Progress| {
        if p.domains_parked == 1 && p.domains_done == n_domains - 1 {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }));
    let out = tmp.path().join("on");
    let started = Instant::now();
    let s = crawl(c, out.clone()).await.unwrap();
    assert_eq!(s.status, "interrupted");
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "a stopped run does not wait"
    );
    assert_eq!(s.progress.domains_parked, 1);
    assert_eq!(s.progress.domains_retried, 0);
    let got = read_rows(&parquet_files(&s.shard_dir.join("domains")), "domain");
    assert!(!got.contains_key(&target), "a parked domain has no row");
    assert_eq!(got.len() as u64, n_domains - 1);

    // 3. --resume crawls it again; the burst recurs, the late retry recovers it.
    let proxy = dropping_proxy(upstream, target.clone(), window).await;
    let mut c = config(proxy, 8);
    c.resume = true;
    let s = crawl(c, out).await.unwrap();
    assert_eq!(s.status, "complete");
    assert_eq!(s.progress.domains_resumed, n_domains - 1);
    assert_eq!(s.progress.domains_parked, 1);
    assert_eq!(s.progress.domains_retried, 1);
    assert_eq!(s.progress.domains_done, 1);
    let got = read_rows(&parquet_files(&s.shard_dir.join("domains")), "domain");
    assert_eq!(got.len() as u64, n_domains, "every domain once");
    let row = &got[&target];
    for col in HEADLINE {
        if col == "error_classes" {
            assert_eq!(list(&row[col]), list(&want[col]), "{col}");
        } else {
            assert_eq!(row[col], want[col], "{col}");
        }
    }
    // The evidence shows both passes: three dropped tries, then the answer.
    let attempts: u64 = row["mx_attempts"].parse().unwrap();
    assert!(attempts >= 4, "mx_attempts {attempts}");
}

/// The policy host's address lookup (`mta-sts.<domain>`) is the domain's own as well: a
/// transient failure there would turn a valid policy into `fetch_failed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_retry_recovers_a_policy_host_lookup_that_timed_out() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("world");
    let Some(world) = start_world(150, 5, &wdir).await else {
        return;
    };
    let domains_file = world.info().domains.clone();
    let truth = read_rows(&[world.info().truth.clone()], "domain");
    let base = config_for(&wdir);
    let upstream = base.dns.resolvers[0];
    let target = truth
        .values()
        .find(|t| t["sts_policy"] == "valid" && t["mx_status"] == "ok")
        .map(|t| t["domain"].clone())
        .expect("a domain with a valid policy in a 150-domain world");
    let policy_host = format!("mta-sts.{target}");
    eprintln!("target {policy_host}");
    let want = &truth[&target];
    let crawl = |delay: u64, proxy: SocketAddr, out: std::path::PathBuf| {
        let mut c = config_for(&wdir);
        c.dns.resolvers = vec![proxy];
        c.dns.timeout = Duration::from_secs(1);
        c.dns.attempts = 3;
        c.late_retry_delay = Duration::from_secs(delay);
        let input = std::fs::File::open(&domains_file).unwrap();
        async move { mxcensus_crawl::run(c, Box::new(input), &out).await }
    };
    let window = Duration::from_secs(5);

    let proxy = dropping_proxy(upstream, policy_host.clone(), window).await;
    let s = crawl(0, proxy, tmp.path().join("off")).await.unwrap();
    let got = read_rows(&parquet_files(&s.shard_dir.join("domains")), "domain");
    assert_eq!(
        got[&target]["sts_policy"], "fetch_failed",
        "{:?}",
        got[&target]
    );
    assert!(list(&got[&target]["error_classes"]).contains("policy_host_dns_error"));

    let proxy = dropping_proxy(upstream, policy_host, window).await;
    let s = crawl(8, proxy, tmp.path().join("on")).await.unwrap();
    assert_eq!(s.status, "complete");
    assert_eq!(s.progress.domains_parked, 1);
    assert_eq!(s.progress.domains_retried, 1);
    let got = read_rows(&parquet_files(&s.shard_dir.join("domains")), "domain");
    let row = &got[&target];
    for col in HEADLINE {
        if col == "error_classes" {
            assert_eq!(list(&row[col]), list(&want[col]), "{col}");
        } else {
            assert_eq!(row[col], want[col], "{col}");
        }
    }
}
