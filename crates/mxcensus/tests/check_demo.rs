//! `mxcensus check` and `mxcensus demo` against a simulated Internet (skipped without
//! Unbound).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../src/crawl_cmd.rs"]
#[allow(dead_code)]
mod crawl_cmd;

#[path = "../src/check_cmd.rs"]
#[allow(dead_code)]
mod check_cmd;

#[path = "../src/demo_cmd.rs"]
#[allow(dead_code)]
mod demo_cmd;

use check_cmd::{CheckArgs, CheckOutcome, Status};
use clap::Parser;
use mxcensus_proto::finding::Severity;
use mxcensus_simnet::truth::{TruthRow, truth_row};
use mxcensus_simnet::world::{Ports, World, WorldConfig};

#[derive(Parser, Debug)]
struct CheckCli {
    #[command(flatten)]
    args: CheckArgs,
}

#[derive(Parser, Debug)]
struct DemoCli {
    #[command(flatten)]
    args: demo_cmd::DemoArgs,
}

fn have_unbound() -> bool {
    if mxcensus_simnet::unbound::find_unbound().is_none() {
        eprintln!("SKIPPED: unbound is not installed; these tests need a validating resolver");
        return false;
    }
    true
}

fn check_args(simnet: &std::path::Path, domain: &str, json: bool) -> CheckArgs {
    let mut v = vec![
        "check",
        domain,
        "--simnet",
        simnet.to_str().unwrap(),
        "--connect-timeout",
        "2",
        "--greeting-timeout",
        "3",
        "--command-timeout",
        "3",
        "--policy-timeout",
        "2",
    ];
    if json {
        v.push("--json");
    }
    CheckCli::try_parse_from(v).unwrap().args
}

#[test]
fn check_flags_parse_and_bad_names_are_refused() {
    let a = CheckCli::try_parse_from([
        "check",
        "example.org",
        "--resolver",
        "127.0.0.1:5353",
        "--json",
    ])
    .unwrap()
    .args;
    assert!(a.json);
    assert_eq!(a.world.resolver[0].port(), 5353);
    assert!(CheckCli::try_parse_from(["check"]).is_err());
    // No EHLO name outside simnet: a usage error before any network access.
    assert!(check_cmd::run(a).is_err());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut c = mxcensus_crawl::CrawlConfig::new("probe.example.org", "check");
    c.dns.resolvers = vec!["127.0.0.1:9".parse().unwrap()];
    let err = rt
        .block_on(mxcensus_crawl::check_domain(c, "not a domain!"))
        .unwrap_err();
    assert!(
        matches!(err, mxcensus_crawl::CrawlError::BadDomain(_)),
        "{err}"
    );
}

#[test]
fn check_reports_planted_classes_with_fixes() {
    if !have_unbound() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("world");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut wc = WorldConfig::new(300, 11, dir.clone());
    wc.ports = Ports::ephemeral();
    wc.profile.mta_sts.slow_fetch_ms = 4000;
    wc.profile.smtp.slow_greeting_ms = 300;
    let world = rt.block_on(World::start(wc)).unwrap();
    let pop = world.population();
    let rows: Vec<TruthRow> = (0..pop.len())
        .map(|i| truth_row(pop, &pop.domain(i)))
        .collect();
    let simnet = dir.join("simnet.json");

    // A clean domain passes, and says so in both forms.
    let good = rows
        .iter()
        .find(|r| {
            r.error_classes.is_empty()
                && r.mx_status == "ok"
                && r.starttls == Some("all")
                && r.sts_txt == "valid"
                && r.sts_mode == Some("enforce")
        })
        .expect("a clean MTA-STS domain");
    let checked = rt
        .block_on(mxcensus_crawl::check_domain(
            crawl_cmd::world_config(
                &check_args(&simnet, &good.domain, false).world,
                "check".into(),
            )
            .unwrap()
            .0,
            &good.domain,
        ))
        .unwrap();
    let report = check_cmd::report(&checked);
    let text = check_cmd::render_text(&report);
    eprintln!("{text}");
    assert!(report.pass, "{text}");
    assert!(
        text.contains("[PASS] mx") && text.contains("[PASS] policy"),
        "{text}"
    );
    for topic in ["mx", "dnssec", "sts_txt", "policy", "tlsrpt"] {
        assert!(report.sections.iter().any(|s| s.topic == topic), "{topic}");
    }
    assert!(report.sections.iter().any(|s| s.topic.starts_with("host ")));
    assert_eq!(
        check_cmd::run(check_args(&simnet, &good.domain, true)).unwrap(),
        CheckOutcome::Pass
    );

    // Domains with planted classes fail, and each planted class is shown with its fix.
    let mut seen = std::collections::BTreeSet::new();
    let mut tried = 0;
    let mut failed = 0u32;
    for r in rows.iter().filter(|r| !r.error_classes.is_empty()) {
        let key = r.error_classes[0];
        if !seen.insert(key) || tried >= 8 {
            continue;
        }
        tried += 1;
        let args = check_args(&simnet, &r.domain, true);
        let config = crawl_cmd::world_config(&args.world, "check".into())
            .unwrap()
            .0;
        let checked = rt
            .block_on(mxcensus_crawl::check_domain(config, &r.domain))
            .unwrap();
        let report = check_cmd::report(&checked);
        let json = serde_json::to_value(&report).unwrap();
        let text = check_cmd::render_text(&report);
        eprintln!("planted {:?}\n{text}", r.planted);
        // Error-severity classes fail the check; warnings alone do not.
        let errors = r.error_classes.iter().any(|c| {
            mxcensus_crawl::check::class_info(c).is_none_or(|i| i.severity == Severity::Error)
        });
        assert_eq!(report.pass, !errors, "{}: {text}", r.domain);
        failed += u32::from(errors);
        assert_eq!(json["pass"], !errors);
        assert_eq!(json["domain"], r.domain.as_str());
        assert!(json["sections"][0]["verdict"]["mx_status"].is_string());
        assert_eq!(
            report.sections.iter().any(|s| s.status == Status::Fail),
            errors
        );
        for class in &r.error_classes {
            let p = report
                .sections
                .iter()
                .flat_map(|s| &s.problems)
                .find(|p| p.code == *class)
                .unwrap_or_else(|| panic!("{}: {class} not reported\n{text}", r.domain));
            if mxcensus_crawl::check::class_info(class).is_some() {
                assert!(p.fix.is_some_and(|f| text.contains(f)), "{class}");
            }
        }
    }
    assert!(tried >= 3, "only {tried} planted classes in the world");
    assert!(failed >= 2, "only {failed} failing domains tried");
    drop(world);
}

#[test]
fn demo_crawls_a_small_world_and_agrees_with_truth() {
    if !have_unbound() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("world");
    let out = tmp.path().join("out");
    // The README's default on demand: MXCENSUS_DEMO_N=2000.
    let n = std::env::var("MXCENSUS_DEMO_N").unwrap_or_else(|_| "120".to_owned());
    let args = DemoCli::try_parse_from([
        "demo",
        "--domains",
        n.as_str(),
        "--seed",
        "5",
        "--dir",
        dir.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--report-dir",
        tmp.path().join("report").to_str().unwrap(),
    ])
    .unwrap()
    .args;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = rt.block_on(demo_cmd::demo(&args)).unwrap();
    let text = demo_cmd::render(&report, &args);
    eprintln!("{text}");
    assert!(report.shard_dir.join("manifest.json").is_file());
    assert!(text.contains(report.shard_dir.to_str().unwrap()));
    assert_eq!(report.summary.status, "complete");
    let n: u64 = n.parse().unwrap();
    assert_eq!(report.comparison.compared, n);
    assert!(report.summary.progress.dns_queries >= 3 * n);
    assert!(report.comparison.agrees(), "{text}");
    // The report of the snapshot is written and named.
    assert!(report.report.html.is_file() && report.report.json.is_file());
    assert!(text.contains(report.report.html.to_str().unwrap()));
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report.report.json).unwrap()).unwrap();
    assert_eq!(json["totals"]["domains"], n);
}
