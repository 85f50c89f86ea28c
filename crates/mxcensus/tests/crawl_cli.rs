//! `mxcensus crawl` flags and a run against a simulated Internet (skipped without Unbound).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../src/crawl_cmd.rs"]
#[allow(dead_code)]
mod crawl_cmd;

use clap::Parser;
use crawl_cmd::{CrawlArgs, CrawlOutcome, build_config};

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    args: CrawlArgs,
}

fn parse(args: &[&str]) -> CrawlArgs {
    let mut v = vec!["crawl"];
    v.extend_from_slice(args);
    Cli::try_parse_from(v).expect("flags parse").args
}

#[test]
fn flags_build_a_valid_config() {
    let a = parse(&[
        "list.csv",
        "--ehlo-name",
        "probe.example.org",
        "--shard",
        "2/8",
        "--resolver",
        "127.0.0.1:5353",
        "--smtp-port",
        "2525",
        "--snapshot",
        "s1",
    ]);
    let (c, input) = build_config(&a).unwrap();
    assert_eq!(input.to_str(), Some("list.csv"));
    assert_eq!((c.shard.index, c.shard.count), (2, 8));
    assert_eq!(c.smtp.port, 2525);
    assert_eq!(c.dns.resolvers[0].port(), 5353);
    assert_eq!(c.snapshot, "s1");
    // No EHLO name outside simnet: refused.
    assert!(build_config(&parse(&["list.csv"])).is_err());
    assert!(Cli::try_parse_from(["crawl", "x", "--shard", "3/3"]).is_err());
    assert!(Cli::try_parse_from(["crawl", "x", "--dns-timeout", "0"]).is_err());
    let bad = parse(&[
        "x",
        "--ehlo-name",
        "probe.example.org",
        "--snapshot",
        "../up",
    ]);
    assert!(build_config(&bad).is_err());
}

#[test]
fn crawl_a_simnet_world_from_the_command_line() {
    if mxcensus_simnet::unbound::find_unbound().is_none() {
        eprintln!("SKIPPED: unbound is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("world");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut wc = mxcensus_simnet::world::WorldConfig::new(60, 3, dir.clone());
    wc.ports = mxcensus_simnet::world::Ports::ephemeral();
    wc.profile.mta_sts.slow_fetch_ms = 3000;
    wc.profile.smtp.slow_greeting_ms = 200;
    let world = rt
        .block_on(mxcensus_simnet::world::World::start(wc))
        .unwrap();
    let simnet = dir.join("simnet.json");
    let out = tmp.path().join("out");
    let args = parse(&[
        "--simnet",
        simnet.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--snapshot",
        "cli",
        "-q",
        "--dns-timeout",
        "2",
        "--connect-timeout",
        "2",
        "--greeting-timeout",
        "3",
        "--command-timeout",
        "3",
        "--policy-timeout",
        "2",
        "--dns-qps",
        "0",
        "--connects-per-sec",
        "0",
    ]);
    assert_eq!(crawl_cmd::run(args).unwrap(), CrawlOutcome::Complete);
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("snapshot=cli/shard=0/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["status"], "complete");
    assert_eq!(manifest["input"]["domains"], 60);
    assert!(
        manifest["input"]["sha256"]
            .as_str()
            .is_some_and(|s| s.len() == 64)
    );
    drop(world);
}
