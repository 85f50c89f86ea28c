//! The report against independent DuckDB queries: crawl a small simulated Internet in
//! two shards, build the report, write report.json/md/html, and run
//! scripts/report_check.py, which recomputes every figure with SQL over the same Parquet
//! files. Then an interrupted and a partial snapshot (warnings, not refusals) and bad
//! inputs (errors, not panics). Skipped (with a message) without Unbound, python3 or
//! duckdb.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use mxcensus_analysis::report::{Report, ReportError, ReportOptions, Warning};
use mxcensus_analysis::snapshot::SnapshotError;
use mxcensus_crawl::CrawlConfig;
use mxcensus_crawl::simnet::{SimnetFile, canaries_from_truth};
use mxcensus_dataset::manifest::{Manifest, RunStatus};
use mxcensus_simnet::world::{Ports, World, WorldConfig};

const DOMAINS: u32 = 1_500;

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("SKIPPED: python3 with duckdb is needed (pip install duckdb)");
    }
    ok
}

fn checker() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/report_check.py")
}

/// Crawls a fresh simnet world of `DOMAINS` domains into `out/snapshot=t1`, two shards.
fn crawl(tmp: &Path) -> PathBuf {
    let dir = tmp.join("world");
    let out = tmp.join("out");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut wc = WorldConfig::new(DOMAINS, 11, dir.clone());
    wc.ports = Ports::ephemeral();
    wc.profile.mta_sts.slow_fetch_ms = 3000;
    wc.profile.smtp.slow_greeting_ms = 200;
    let world = rt.block_on(World::start(wc)).unwrap();
    let sim = SimnetFile::read(&dir.join("simnet.json")).unwrap();
    let mut done = 0;
    for shard in 0..2 {
        let mut c = CrawlConfig::new("probe.mxcensus.test", "t1");
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
        // Several segments per shard, so the per-segment join is exercised.
        c.commit_domains = 200;
        let input = std::fs::File::open(&sim.domains).unwrap();
        let s = rt
            .block_on(mxcensus_crawl::run(c, Box::new(input), &out))
            .unwrap();
        assert_eq!(s.status, "complete");
        done += s.progress.domains_done;
    }
    assert_eq!(done, u64::from(DOMAINS));
    drop(world);
    out
}

fn check_with_duckdb(snapshot: &Path, json: &Path) {
    let run = Command::new("python3")
        .arg(checker())
        .arg(snapshot)
        .arg(json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        run.status.success(),
        "report.json disagrees with DuckDB:\n{stdout}"
    );
    assert!(stdout.contains(" 0 mismatches"), "{stdout}");
}

/// `src="..."` / `href="..."` values of the page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=", "href=", "xlink:href=", "url("] {
        for (i, _) in html.match_indices(attr) {
            out.push(html[i..(i + 60).min(html.len())].to_owned());
        }
    }
    out
}

fn set_status(shard_dir: &Path, status: RunStatus) {
    let path = shard_dir.join("manifest.json");
    let mut m = Manifest::read(&path).unwrap();
    m.status = status;
    m.write_atomic(&path).unwrap();
}

#[test]
fn report_agrees_with_duckdb_and_renders_self_contained() {
    if mxcensus_simnet::unbound::find_unbound().is_none() {
        eprintln!("SKIPPED: unbound is not installed");
        return;
    }
    if !python_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let out = crawl(tmp.path());

    let report = Report::from_path(&out, &ReportOptions::default()).unwrap();
    assert_eq!(report.totals.domains, u64::from(DOMAINS));
    assert_eq!(report.provenance.status, "complete");
    assert_eq!(report.provenance.shards_found, 2);
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    // The simnet profile has MTA-STS, DNSSEC and DANE: the figures are not all zero.
    assert!(report.headline.sts_policy_valid > 0);
    assert!(report.headline.dnssec_secure > 0);
    assert!(report.max_age.policies > 0);
    assert!(!report.failure_classes.top.is_empty());
    let written = report.write(&tmp.path().join("report")).unwrap();

    // Every figure against DuckDB.
    check_with_duckdb(&out, &written.json);

    // The HTML is one self-contained page.
    let html = std::fs::read_to_string(&written.html).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<meta charset=\"utf-8\">"));
    assert!(!html.to_ascii_lowercase().contains("<script"));
    assert!(references(&html).is_empty(), "{:?}", references(&html));
    assert!(!html.contains("http://") && !html.contains("<link"));
    assert!(html.matches("<svg").count() >= 5);
    assert_eq!(html.matches("<svg").count(), html.matches("</svg>").count());

    // Markdown numbers are the report's numbers.
    let md = std::fs::read_to_string(&written.markdown).unwrap();
    for step in &report.adoption_funnel {
        let line = format!("| {} | {} |", step.label, step.count);
        assert!(md.contains(&line), "{line} missing from report.md");
    }
    let m = &report.matrix;
    assert!(md.contains(&format!("| DANE none | {} (", m.counts[0][0])));
    let t = &report.ready_to_flip;
    assert!(md.contains(&format!(
        "Of {} domains in `testing` mode, {} (",
        t.testing, t.ready
    )));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&written.json).unwrap()).unwrap();
    assert_eq!(json["headline"]["domains"], u64::from(DOMAINS));
    assert_eq!(json["report_format"], 1);

    // One shard on its own is a snapshot too.
    let snap = out.join("snapshot=t1");
    let one = Report::from_path(&snap.join("shard=1"), &ReportOptions::default()).unwrap();
    assert!(one.totals.domains < report.totals.domains);
    assert!(
        one.warnings.contains(&Warning::MissingShards {
            declared: 2,
            found: 1
        }),
        "{:?}",
        one.warnings
    );

    // An interrupted shard is reported, with a warning at the top, not refused.
    set_status(&snap.join("shard=1"), RunStatus::Interrupted);
    let r = Report::from_path(&snap, &ReportOptions::default()).unwrap();
    assert_eq!(r.provenance.status, "interrupted");
    assert!(r.warnings.contains(&Warning::NotComplete {
        shard: 1,
        status: RunStatus::Interrupted
    }));
    let w = r.write(&tmp.path().join("report2")).unwrap();
    let html = std::fs::read_to_string(&w.html).unwrap();
    let warn = html.find("class=\"warn\"").unwrap();
    assert!(warn < html.find("<h2>").unwrap(), "warning must come first");
    check_with_duckdb(&snap, &w.json);
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();
    let opts = ReportOptions::default();
    // Not a snapshot.
    assert!(matches!(
        Report::from_path(tmp.path(), &opts),
        Err(ReportError::Snapshot(SnapshotError::NotASnapshot(_)))
    ));
    assert!(matches!(
        Report::from_path(&tmp.path().join("missing"), &opts),
        Err(ReportError::Snapshot(SnapshotError::Io { .. }))
    ));
    // A shard with no committed segment: empty.
    let shard = tmp.path().join("snapshot=x/shard=0");
    std::fs::create_dir_all(&shard).unwrap();
    let err = Report::from_path(tmp.path(), &opts).unwrap_err();
    assert!(matches!(err, ReportError::Empty(_)), "{err}");
    assert!(err.to_string().contains("no committed domain rows"));
    // A committed part that is not Parquet.
    std::fs::create_dir_all(shard.join("_segments")).unwrap();
    std::fs::create_dir_all(shard.join("domains")).unwrap();
    std::fs::write(
        shard.join("_segments/000001.json"),
        r#"{"seq":1,"units":3,"rows":{"domains":3}}"#,
    )
    .unwrap();
    std::fs::write(shard.join("domains/part-000001.parquet"), b"not parquet").unwrap();
    let err = Report::from_path(tmp.path(), &opts).unwrap_err();
    assert!(matches!(err, ReportError::Dataset(_)), "{err}");
    // A committed part that is gone.
    std::fs::remove_file(shard.join("domains/part-000001.parquet")).unwrap();
    let err = Report::from_path(tmp.path(), &opts).unwrap_err();
    assert!(
        matches!(err, ReportError::Snapshot(SnapshotError::MissingPart(_))),
        "{err}"
    );
}
