//! End to end: crawl a simulated Internet and compare every headline column with its
//! ground truth (join on `domain`). Needs Unbound; skipped with a message without it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crawl_agrees_with_ground_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let wdir = tmp.path().join("world");
    // 20,000 domains by default (issue 4's bar, about a minute); other sizes or worlds on
    // demand: MXCENSUS_E2E_N=100000 MXCENSUS_E2E_SEED=3.
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = env("MXCENSUS_E2E_N", 20_000) as u32;
    let seed = env("MXCENSUS_E2E_SEED", 7);
    let Some(world) = start_world(n, seed, &wdir).await else {
        return;
    };
    let config = config_for(&wdir);
    let input = std::fs::File::open(&world.info().domains).unwrap();
    let out = tmp.path().join("out");
    let summary = mxcensus_crawl::run(config, Box::new(input), &out)
        .await
        .expect("crawl");
    eprintln!("{summary:#?}");
    let manifest = std::fs::read_to_string(summary.shard_dir.join("manifest.json")).unwrap();
    assert!(
        summary.validator_ok,
        "canaries must pass with Unbound: {manifest}"
    );
    assert_eq!(summary.status, "complete");

    // The SMTP servers' own log: only EHLO/HELO/STARTTLS/QUIT, never more than one
    // connection at a time to one address (the default --per-address).
    let log = world.smtp().log();
    assert!(log.total_sessions > 0);
    assert_eq!(log.violations().count(), 0, "MAIL/RCPT/DATA/VRFY sent");
    for s in &log.sessions {
        for c in &s.commands {
            let verb = c
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            assert!(
                ["EHLO", "HELO", "STARTTLS", "QUIT"].contains(&verb.as_str()),
                "unexpected command {c:?} to {}",
                s.local
            );
        }
    }
    let worst = log.max_concurrent.values().copied().max().unwrap_or(0);
    assert!(
        worst <= 1,
        "{worst} simultaneous connections to one address"
    );

    let truth = read_rows(&[world.info().truth.clone()], "domain");
    let got = read_rows(&parquet_files(&summary.shard_dir.join("domains")), "domain");
    assert_eq!(got.len(), truth.len(), "one row per input domain");

    let mut disagreements: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (domain, t) in &truth {
        let Some(g) = got.get(domain) else {
            disagreements
                .entry("missing".into())
                .or_default()
                .push(domain.clone());
            continue;
        };
        for col in HEADLINE {
            if col == "error_classes" {
                // Exactly the truth's classes, as sets (same parent/subcase convention).
                let want = list(&t[col]);
                let have = list(&g[col]);
                let missing: Vec<_> = want.difference(&have).cloned().collect();
                let extra: Vec<_> = have.difference(&want).cloned().collect();
                if !missing.is_empty() || !extra.is_empty() {
                    disagreements
                        .entry(format!("error_classes missing {missing:?} extra {extra:?}"))
                        .or_default()
                        .push(format!("{domain} planted={} got={}", t["planted"], g[col]));
                }
            } else if t[col] != g[col] {
                disagreements
                    .entry(format!("{col}: truth {} crawl {}", t[col], g[col]))
                    .or_default()
                    .push(format!(
                        "{domain} planted={} classes={}",
                        t["planted"], g["error_classes"]
                    ));
            }
        }
    }
    for (class, examples) in &disagreements {
        eprintln!(
            "{} x{}: {:?}",
            class,
            examples.len(),
            &examples[..examples.len().min(3)]
        );
    }
    assert!(
        disagreements.is_empty(),
        "{} classes of disagreement",
        disagreements.len()
    );
}
