//! DuckDB and pyarrow read a crawled snapshot as it is on disk: crawl a small simulated
//! Internet, then run scripts/read_snapshot.py on the output. Skipped (with a message)
//! without Unbound, python3, duckdb or pyarrow.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mxcensus_crawl::CrawlConfig;
use mxcensus_crawl::simnet::{SimnetFile, canaries_from_truth};
use mxcensus_simnet::world::{Ports, World, WorldConfig};

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb, pyarrow"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: python3 with duckdb and pyarrow is needed (pip install duckdb pyarrow)"
        );
    }
    ok
}

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/read_snapshot.py")
}

#[test]
fn duckdb_and_pyarrow_read_the_snapshot() {
    if mxcensus_simnet::unbound::find_unbound().is_none() {
        eprintln!("SKIPPED: unbound is not installed");
        return;
    }
    if !python_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("world");
    let out = tmp.path().join("out");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut wc = WorldConfig::new(150, 9, dir.clone());
    wc.ports = Ports::ephemeral();
    wc.profile.mta_sts.slow_fetch_ms = 3000;
    wc.profile.smtp.slow_greeting_ms = 200;
    let world = rt.block_on(World::start(wc)).unwrap();
    let sim = SimnetFile::read(&dir.join("simnet.json")).unwrap();
    // Two snapshots of two shards each: the readers must see four partitions.
    let mut total_domains = 0;
    for snapshot in ["2026-01-01", "second"] {
        for shard in 0..2 {
            let mut c = CrawlConfig::new("probe.mxcensus.test", snapshot);
            sim.apply(&mut c).unwrap();
            if let Some((s, b)) = canaries_from_truth(&sim.truth).unwrap() {
                c.canary_secure = s;
                c.canary_bogus = b;
            }
            c.shard = mxcensus_crawl::input::Shard::parse(&format!("{shard}/2")).unwrap();
            c.smtp.connect_timeout = Duration::from_secs(2);
            c.smtp.greeting_timeout = Duration::from_secs(3);
            c.smtp.command_timeout = Duration::from_secs(3);
            c.smtp.tls_timeout = Duration::from_secs(3);
            c.policy.timeout = Duration::from_secs(2);
            c.policy.connect_timeout = Duration::from_secs(2);
            c.smtp_retry_pause = Duration::from_millis(100);
            // Lame zones are parked for the late retry once; a short pause keeps the test quick.
            c.late_retry_delay = Duration::from_secs(2);
            c.dns_qps = 0;
            c.connects_per_sec = 0;
            c.per_network = 64;
            c.commit_domains = 20;
            let input = std::fs::File::open(&sim.domains).unwrap();
            let s = rt
                .block_on(mxcensus_crawl::run(c, Box::new(input), &out))
                .unwrap();
            assert_eq!(s.status, "complete");
            total_domains += s.progress.domains_done;
        }
    }
    assert_eq!(total_domains, 300);
    drop(world);

    let run = Command::new("python3")
        .arg(script())
        .arg(&out)
        .arg("--json")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}\n{}", String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the readers disagree");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["rows"]["domains"], 300);
    assert_eq!(v["partitions"].as_array().unwrap().len(), 4);
    assert_eq!(v["problems"].as_array().unwrap().len(), 0);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 0, "{stdout}");
    let sum: u64 = v["counts"]["sts_txt"]
        .as_object()
        .unwrap()
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    assert_eq!(sum, 300);

    // A corrupted file is a failure, not silence.
    let victim = std::fs::read_dir(out.join("snapshot=second/shard=1/domains"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "parquet"))
        .unwrap();
    std::fs::write(&victim, b"not parquet").unwrap();
    let bad = Command::new("python3")
        .arg(script())
        .arg(&out)
        .output()
        .unwrap();
    assert!(!bad.status.success());
}
