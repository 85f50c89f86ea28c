//! The canary zones through a real validating Unbound, in a world too small to plant any
//! DNSSEC fault: the names `simnet.json` offers as `canary_secure` / `canary_bogus` must
//! give NOERROR + AD and SERVFAIL (data with +cd) whatever the population.
//!
//! Skips (with a message) when unbound or dig is missing.
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use std::process::{Command, Stdio};
use std::time::Duration;

use mxcensus_simnet::world::{Ports, ResolverMode, World, WorldConfig};

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args([
            "-c",
            &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
        ])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `dig` through the resolver: (status, AD bit, A records of the answer).
fn dig(resolver: &str, name: &str, extra: &[&str]) -> (String, bool, Vec<String>) {
    let (ip, port) = resolver.rsplit_once(':').unwrap();
    let out = Command::new("dig")
        .args([
            &format!("@{ip}"),
            "-p",
            port,
            "+dnssec",
            "+time=10",
            "+tries=2",
        ])
        .args(extra)
        .args([name, "A"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or("TIMEOUT")
        .to_owned();
    let ad = text
        .lines()
        .find_map(|l| l.strip_prefix(";; flags:"))
        .is_some_and(|f| {
            f.split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .any(|f| f == "ad")
        });
    let answers = text
        .lines()
        .skip_while(|l| !l.starts_with(";; ANSWER SECTION"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 5 && f[3] == "A").then(|| f[4].to_owned())
        })
        .collect();
    (status, ad, answers)
}

#[test]
fn canaries_validate_in_a_tiny_world() {
    for tool in ["unbound", "dig"] {
        if !have(tool) {
            println!("skipping: {tool} is not installed");
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!("simnet-canary-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Five domains: no planted ds_mismatch to borrow a bogus name from.
    let mut config = WorldConfig::new(5, 3, dir.clone());
    config.ports = Ports::ephemeral();
    config.resolver = ResolverMode::Auto;
    config.ready_timeout = Duration::from_secs(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let world = rt.block_on(World::start(config)).unwrap();
    let info = world.info().clone();
    assert!(info.resolver_validates);

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("simnet.json")).unwrap()).unwrap();
    let secure = json["canary_secure"].as_str().unwrap().to_owned();
    let bogus = json["canary_bogus"].as_str().unwrap().to_owned();
    assert_ne!(secure, bogus);
    let domains = std::fs::read_to_string(&info.domains).unwrap();
    for line in domains.lines() {
        let name = line.split_once(',').unwrap().1;
        assert!(name != secure && name != bogus, "{name} is a canary");
    }

    let (status, ad, answers) = dig(&info.resolver, &secure, &[]);
    assert_eq!((status.as_str(), ad), ("NOERROR", true), "{secure}");
    assert_eq!(answers, vec!["127.0.53.3".to_owned()]);

    let (status, _, answers) = dig(&info.resolver, &bogus, &[]);
    assert_eq!(status, "SERVFAIL", "{bogus}");
    assert!(answers.is_empty());
    let (status, ad, answers) = dig(&info.resolver, &bogus, &["+cd"]);
    assert_eq!((status.as_str(), ad), ("NOERROR", false), "{bogus} +cd");
    assert_eq!(answers, vec!["127.0.53.4".to_owned()]);
    // Every name in the bogus zone fails, including a proof that one does not exist.
    let (status, _, _) = dig(&info.resolver, &format!("www.{bogus}"), &[]);
    assert_eq!(status, "SERVFAIL", "www.{bogus}");

    world.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
