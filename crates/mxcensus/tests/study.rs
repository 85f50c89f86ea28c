//! The local study runner (scripts/study/run-local.sh) against a small simulated Internet:
//! every shard crawled, a shard killed mid-crawl resumed by the runner, the report written
//! over all shards, and the diff against a previous snapshot. Skipped without Unbound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Command;

use mxcensus_simnet::world::{Ports, World, WorldConfig};

fn runner() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/study/run-local.sh")
}

fn run_study(out: &Path, snapshot: &str, previous: Option<&Path>, simnet: &Path) -> String {
    let mut cmd = Command::new("bash");
    cmd.arg(runner())
        .arg(simnet.parent().unwrap().join("domains.csv"))
        .arg(out)
        .arg(snapshot)
        .arg("3");
    if let Some(p) = previous {
        cmd.arg(p);
    }
    cmd.arg("--")
        .arg("--simnet")
        .arg(simnet)
        .args([
            "--dns-qps",
            "0",
            "--connects-per-sec",
            "0",
            "--per-network",
            "64",
        ])
        .args(["--policy-timeout", "3", "--greeting-timeout", "4"])
        .env("MXCENSUS_BIN", env!("CARGO_BIN_EXE_mxcensus"))
        .env("PARALLEL", "2");
    let o = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "run-local.sh failed:\n{stderr}");
    stderr
}

#[test]
fn local_study_crawls_every_shard_then_reports_and_diffs() {
    if mxcensus_simnet::unbound::find_unbound().is_none() {
        eprintln!("SKIPPED: unbound is not installed");
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
    let mut wc = WorldConfig::new(300, 5, dir.clone());
    wc.ports = Ports::ephemeral();
    wc.profile.mta_sts.slow_fetch_ms = 6000;
    wc.profile.smtp.slow_greeting_ms = 200;
    let world = rt.block_on(World::start(wc)).unwrap();
    let simnet = dir.join("simnet.json");

    let first = run_study(&out, "one", None, &simnet);
    assert_eq!(first.matches("complete (attempt 1)").count(), 3, "{first}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report-one/report.json")).unwrap())
            .unwrap();
    assert_eq!(
        report["totals"]["domains"], 300,
        "every shard is in the report"
    );

    // A shard that died mid-crawl (committed rows and a `running` manifest, as a kill -9
    // leaves it) is resumed by the runner on the next attempt, without duplicates.
    let out2 = tmp.path().join("out2");
    let killed = Command::new(env!("CARGO_BIN_EXE_mxcensus"))
        .arg("crawl")
        .arg(dir.join("domains.csv"))
        .arg("--out")
        .arg(&out2)
        .args(["--snapshot", "two", "--shard", "1/3", "--stop-after", "40"])
        .arg("--simnet")
        .arg(&simnet)
        .args(["--dns-qps", "0", "--connects-per-sec", "0"])
        .output()
        .unwrap();
    assert!(
        !killed.status.success(),
        "--stop-after leaves the shard unfinished"
    );
    let second = run_study(&out2, "two", Some(&out.join("snapshot=one")), &simnet);
    assert!(
        second.contains("shard 1/3: resuming its committed rows"),
        "{second}"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out2.join("report-two/report.json")).unwrap())
            .unwrap();
    assert_eq!(report["totals"]["domains"], 300);
    // Same world, same input: the diff finds no change in any domain.
    let diff: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out2.join("diff-two/diff.json")).unwrap()).unwrap();
    assert_eq!(diff["common_domains"], 300, "{diff:#}");
    assert_eq!(diff["only_in_old"], 0);
    assert_eq!(diff["only_in_new"], 0);
    let adoption_changes: u64 = diff["counts"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !k.ends_with("_undetermined"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    assert_eq!(adoption_changes, 0, "same world twice: {diff:#}");
    drop(world);
}
