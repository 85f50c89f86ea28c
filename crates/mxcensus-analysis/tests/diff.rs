//! `diff` on two crawled simnet snapshots with a known set of changes: the same world
//! (seed, size, profile) at epoch 0 and epoch 1. The expected changes are derived from the
//! two ground-truth tables alone (headline columns and the `changes` column), and the
//! diff of the crawls must equal them exactly, kind by kind. Skipped without Unbound.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use arrow::array::{Array, AsArray};
use mxcensus_analysis::diff::{ChangeKind, diff_paths};
use mxcensus_analysis::snapshot::Snapshot;
use mxcensus_crawl::CrawlConfig;
use mxcensus_crawl::simnet::{SimnetFile, canaries_from_truth, compare_with_truth};
use mxcensus_simnet::epoch::{EpochChange, dense_profile};
use mxcensus_simnet::world::{Ports, World, WorldConfig};

const DOMAINS: u32 = 1500;
const SEED: u64 = 7;

/// Starts the world at `epoch`, crawls it into `out` (snapshot `id`), stops it; returns
/// the truth table's path.
fn crawl_epoch(rt: &tokio::runtime::Runtime, root: &Path, epoch: u32, id: &str) -> PathBuf {
    let dir = root.join(format!("world{epoch}"));
    let out = root.join(format!("out{epoch}"));
    let mut wc = WorldConfig::new(DOMAINS, SEED, dir.clone());
    wc.ports = Ports::ephemeral();
    wc.epoch = epoch;
    wc.profile = dense_profile();
    wc.profile.mta_sts.slow_fetch_ms = 10_000;
    wc.profile.smtp.slow_greeting_ms = 200;
    let world = rt.block_on(World::start(wc)).unwrap();
    let sim = SimnetFile::read(&dir.join("simnet.json")).unwrap();
    let mut c = CrawlConfig::new("probe.mxcensus.test", id);
    sim.apply(&mut c).unwrap();
    if let Some((s, b)) = canaries_from_truth(&sim.truth).unwrap() {
        c.canary_secure = s;
        c.canary_bogus = b;
    }
    c.smtp.connect_timeout = Duration::from_secs(2);
    c.smtp.greeting_timeout = Duration::from_secs(3);
    c.smtp.command_timeout = Duration::from_secs(3);
    c.smtp.tls_timeout = Duration::from_secs(3);
    c.policy.timeout = Duration::from_secs(5);
    c.policy.connect_timeout = Duration::from_secs(3);
    c.dns.timeout = Duration::from_secs(5);
    c.dns.attempts = 4;
    // A shared 2-core machine: a modest load keeps every answer in time.
    c.concurrency = 32;
    c.smtp_retry_pause = Duration::from_millis(100);
    // Lame zones are parked for the late retry once; a short pause keeps the test quick.
    c.late_retry_delay = Duration::from_secs(2);
    c.dns_qps = 0;
    c.connects_per_sec = 0;
    c.per_network = 64;
    c.commit_domains = 200;
    let input = std::fs::File::open(&sim.domains).unwrap();
    let s = rt
        .block_on(mxcensus_crawl::run(c, Box::new(input), &out))
        .unwrap();
    assert_eq!(s.status, "complete");
    drop(world);
    // The crawl must agree with the truth, or the diff cannot be checked against it.
    let snap = Snapshot::open(&out).unwrap();
    let cmp = compare_with_truth(&sim.truth, &snap.files("domains").unwrap()).unwrap();
    for col in [
        "sts_txt",
        "sts_policy",
        "sts_mode",
        "tlsrpt",
        "dnssec",
        "dane",
    ] {
        assert!(
            !cmp.disagreements.contains_key(col),
            "epoch {epoch}: crawl disagrees with truth on {col}: {cmp:?}"
        );
    }
    assert_eq!((cmp.missing, cmp.unexpected), (0, 0));
    sim.truth.clone()
}

/// One truth row: the headline columns the diff reads, and the epoch's changes.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Truth {
    sts_txt: String,
    sts_policy: String,
    sts_mode: Option<String>,
    tlsrpt: String,
    dnssec: String,
    dane: Option<String>,
    changes: Vec<String>,
}

fn read_truth(path: &Path) -> BTreeMap<String, Truth> {
    let mut out = BTreeMap::new();
    let cols = [
        "domain",
        "sts_txt",
        "sts_policy",
        "sts_mode",
        "tlsrpt",
        "dnssec",
        "dane",
        "changes",
    ];
    mxcensus_dataset::read::for_each_batch(&[path.to_owned()], &cols, |b| {
        let s = |name: &str| b.column_by_name(name).unwrap().as_string::<i32>().clone();
        let (domain, txt, policy, mode, tlsrpt, dnssec, dane) = (
            s("domain"),
            s("sts_txt"),
            s("sts_policy"),
            s("sts_mode"),
            s("tlsrpt"),
            s("dnssec"),
            s("dane"),
        );
        let changes = b
            .column_by_name("changes")
            .unwrap()
            .as_list::<i32>()
            .clone();
        let opt =
            |a: &arrow::array::StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_owned());
        for i in 0..b.num_rows() {
            let list = changes.value(i);
            let list = list.as_string::<i32>();
            out.insert(
                domain.value(i).to_owned(),
                Truth {
                    sts_txt: txt.value(i).to_owned(),
                    sts_policy: policy.value(i).to_owned(),
                    sts_mode: opt(&mode, i),
                    tlsrpt: tlsrpt.value(i).to_owned(),
                    dnssec: dnssec.value(i).to_owned(),
                    dane: opt(&dane, i),
                    changes: (0..list.len()).map(|j| list.value(j).to_owned()).collect(),
                },
            );
        }
        Ok(())
    })
    .unwrap();
    out
}

type Sets = BTreeMap<ChangeKind, BTreeSet<String>>;

/// The expected diff from the headline columns of the two truth tables (written apart
/// from the library's rules, from DESIGN.md's column meanings); policy body changes, which
/// no headline shows, from the `changes` column of `planted`.
fn expected_from_headlines(
    old: &BTreeMap<String, Truth>,
    new: &BTreeMap<String, Truth>,
    planted: &BTreeMap<String, Truth>,
) -> Sets {
    let mut sets = Sets::new();
    let mut add = |k: ChangeKind, d: &str| {
        sets.entry(k).or_default().insert(d.to_owned());
    };
    let has_sts = |t: &Truth| {
        t.sts_txt == "valid"
            && t.sts_policy == "valid"
            && matches!(t.sts_mode.as_deref(), Some("testing" | "enforce"))
    };
    let dane = |t: &Truth| match t.dane.as_deref() {
        None | Some("none") => "absent",
        Some("all" | "partial") => "working",
        Some("broken") => "broken",
        Some(_) => "unknown",
    };
    for (d, a) in old {
        let b = &new[d];
        if a.sts_txt == "error" || b.sts_txt == "error" {
            if (&a.sts_txt, &a.sts_policy, &a.sts_mode) != (&b.sts_txt, &b.sts_policy, &b.sts_mode)
            {
                add(ChangeKind::StsUndetermined, d);
            }
        } else {
            match (has_sts(a), has_sts(b)) {
                (false, true) => add(ChangeKind::StsAdopted, d),
                (true, false) => add(ChangeKind::StsDropped, d),
                (true, true) if a.sts_mode != b.sts_mode => add(ChangeKind::StsModeChanged, d),
                _ => {}
            }
        }
        match (dane(a), dane(b)) {
            (x, y) if x == y => {}
            ("unknown", _) | (_, "unknown") => add(ChangeKind::DaneUndetermined, d),
            ("absent", _) => add(ChangeKind::DaneAdopted, d),
            (_, "absent") => add(ChangeKind::DaneDropped, d),
            ("working", "broken") => add(ChangeKind::DaneBroke, d),
            _ => add(ChangeKind::DaneFixed, d),
        }
        match (a.dnssec.as_str(), b.dnssec.as_str()) {
            (x, y) if x == y => {}
            ("insecure", "secure") => add(ChangeKind::DnssecAdopted, d),
            ("secure", "insecure") => add(ChangeKind::DnssecDropped, d),
            _ => add(ChangeKind::DnssecUndetermined, d),
        }
        match (a.tlsrpt.as_str(), b.tlsrpt.as_str()) {
            (x, y) if x == y => {}
            ("error", _) | (_, "error") => add(ChangeKind::TlsrptUndetermined, d),
            (_, "valid") => add(ChangeKind::TlsrptAdopted, d),
            ("valid", _) => add(ChangeKind::TlsrptDropped, d),
            _ => {}
        }
        // Policy bodies are not in the headline: the planted changes say.
        for c in &planted[d].changes {
            match c.as_str() {
                "policy_changed_same_id" | "policy_bytes_changed_same_id" => {
                    add(ChangeKind::PolicyChangedSameId, d)
                }
                "policy_changed_new_id" | "sts_mode_changed" => {
                    add(ChangeKind::PolicyChangedNewId, d)
                }
                _ => {}
            }
        }
    }
    sets
}

/// The expected diff from the planted changes alone.
fn expected_from_changes(new: &BTreeMap<String, Truth>) -> Sets {
    let mut sets = Sets::new();
    for (d, t) in new {
        for c in &t.changes {
            let kinds: &[ChangeKind] = match EpochChange::from_code(c).unwrap() {
                EpochChange::StsAdopted => &[ChangeKind::StsAdopted],
                EpochChange::StsDropped => &[ChangeKind::StsDropped],
                EpochChange::StsModeChanged => {
                    &[ChangeKind::StsModeChanged, ChangeKind::PolicyChangedNewId]
                }
                EpochChange::PolicyChangedSameId | EpochChange::PolicyBytesChangedSameId => {
                    &[ChangeKind::PolicyChangedSameId]
                }
                EpochChange::PolicyChangedNewId => &[ChangeKind::PolicyChangedNewId],
                EpochChange::DnssecSigned => &[ChangeKind::DnssecAdopted],
                EpochChange::DnssecUnsigned => &[ChangeKind::DnssecDropped],
                EpochChange::DaneAdded => &[ChangeKind::DaneAdopted],
                EpochChange::DaneRemoved => &[ChangeKind::DaneDropped],
                EpochChange::DaneBroken => &[ChangeKind::DaneBroke],
                EpochChange::DaneFixed => &[ChangeKind::DaneFixed],
                EpochChange::TlsrptAdded => &[ChangeKind::TlsrptAdopted],
                EpochChange::TlsrptRemoved => &[ChangeKind::TlsrptDropped],
            };
            for k in kinds {
                sets.entry(*k).or_default().insert(d.clone());
            }
        }
    }
    sets
}

fn assert_same_sets(what: &str, want: &Sets, got: &Sets) {
    let mut problems = Vec::new();
    for k in ChangeKind::ALL {
        let (w, g) = (
            want.get(&k).cloned().unwrap_or_default(),
            got.get(&k).cloned().unwrap_or_default(),
        );
        let missing: Vec<_> = w.difference(&g).take(5).collect();
        let extra: Vec<_> = g.difference(&w).take(5).collect();
        if !missing.is_empty() || !extra.is_empty() {
            problems.push(format!(
                "{k}: expected {} got {}; missing {missing:?}; unexpected {extra:?}",
                w.len(),
                g.len()
            ));
        }
    }
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
}

#[test]
fn diff_of_two_epochs_finds_exactly_the_planted_changes() {
    if mxcensus_simnet::unbound::find_unbound().is_none() {
        eprintln!("SKIPPED: unbound is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let truth0 = crawl_epoch(&rt, tmp.path(), 0, "epoch0");
    let truth1 = crawl_epoch(&rt, tmp.path(), 1, "epoch1");
    let old = read_truth(&truth0);
    let new = read_truth(&truth1);
    assert_eq!(old.len(), DOMAINS as usize);
    assert_eq!(
        old.keys().collect::<Vec<_>>(),
        new.keys().collect::<Vec<_>>()
    );
    assert!(
        old.values().all(|t| t.changes.is_empty()),
        "epoch 0 has no changes"
    );

    // Every kind of change is planted a few times at this size.
    let mut planted: BTreeMap<&str, usize> = BTreeMap::new();
    for t in new.values() {
        for c in &t.changes {
            *planted.entry(c.as_str()).or_default() += 1;
        }
    }
    for c in EpochChange::ALL {
        assert!(
            planted.get(c.code()).copied().unwrap_or(0) >= 2,
            "{c} planted too rarely: {planted:?}"
        );
    }
    // Unchanged domains have the same truth; the headlines move as the changes say.
    for (d, a) in &old {
        let b = &new[d];
        if b.changes.is_empty() {
            assert_eq!(a, b, "{d} changed without a planted change");
        }
    }
    let want = expected_from_headlines(&old, &new, &new);
    assert_same_sets(
        "truth headlines vs planted changes",
        &want,
        &expected_from_changes(&new),
    );

    let diff = diff_paths(&tmp.path().join("out0"), &tmp.path().join("out1")).unwrap();
    eprintln!(
        "{}",
        serde_json::to_string_pretty(&diff.summary(2)).unwrap()
    );
    assert!(diff.same_input, "{:?}", diff.warnings);
    assert!(diff.warnings.is_empty(), "{:?}", diff.warnings);
    assert_eq!(diff.common_domains, u64::from(DOMAINS));
    assert_eq!((diff.only_in_old, diff.only_in_new), (0, 0));
    let mut got = Sets::new();
    for c in &diff.changes {
        assert!(
            got.entry(c.change).or_default().insert(c.domain.clone()),
            "{} listed twice for {}",
            c.domain,
            c.change
        );
    }
    assert_same_sets("diff of the crawls vs truth", &want, &got);
    for (k, n) in &diff.counts {
        assert_eq!(*n as usize, want.get(k).map_or(0, BTreeSet::len), "{k}");
    }
    // Policy rows say whether the parsed policy changed.
    for c in &diff.changes {
        let planted = &new[&c.domain].changes;
        match c.change {
            ChangeKind::PolicyChangedSameId => {
                let want = if planted.iter().any(|p| p == "policy_bytes_changed_same_id") {
                    "bytes_only"
                } else {
                    "max_age"
                };
                assert_eq!(c.detail.as_deref(), Some(want), "{c:?}");
            }
            ChangeKind::PolicyChangedNewId => {
                let want = if planted.iter().any(|p| p == "sts_mode_changed") {
                    "mode"
                } else {
                    "max_age"
                };
                assert_eq!(c.detail.as_deref(), Some(want), "{c:?}");
            }
            _ => assert!(c.detail.is_none()),
        }
    }

    // Backwards, every change is undone: adopted becomes dropped, broke becomes fixed.
    let back = diff_paths(&tmp.path().join("out1"), &tmp.path().join("out0")).unwrap();
    let mut got_back = Sets::new();
    for c in &back.changes {
        got_back
            .entry(c.change)
            .or_default()
            .insert(c.domain.clone());
    }
    let want_back = expected_from_headlines(&new, &old, &new);
    assert_same_sets("diff NEW -> OLD vs truth", &want_back, &got_back);
    assert_eq!(
        want_back.get(&ChangeKind::StsDropped),
        want.get(&ChangeKind::StsAdopted)
    );
    assert_eq!(
        want_back.get(&ChangeKind::DaneFixed),
        want.get(&ChangeKind::DaneBroke)
    );

    // The written outputs hold the same rows.
    let out = tmp.path().join("diff");
    let [json, parquet] = diff.write(&out, 3).unwrap();
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(json).unwrap()).unwrap();
    assert_eq!(
        summary["counts"]["policy_changed_same_id"],
        want[&ChangeKind::PolicyChangedSameId].len()
    );
    assert!(summary["examples"]["dane_broke"].as_array().unwrap().len() <= 3);
    let rows = mxcensus_dataset::read::count_rows(&[parquet]).unwrap();
    assert_eq!(rows as usize, diff.changes.len());

    // Not the same input: OLD without its first segment. Said loudly; the rest compared.
    let partial = tmp.path().join("partial");
    copy_dir(&tmp.path().join("out0"), &partial);
    let snap = Snapshot::open(&partial).unwrap();
    let shard = &snap.shards[0];
    let first = &shard.segments[0];
    std::fs::remove_file(
        shard
            .dir
            .join("_segments")
            .join(format!("{:06}.json", first.seq)),
    )
    .unwrap();
    let dropped = first.rows["domains"];
    let d2 = diff_paths(&partial, &tmp.path().join("out1")).unwrap();
    assert!(!d2.same_input);
    assert_eq!(d2.only_in_new, dropped);
    assert_eq!(d2.only_in_old, 0);
    assert_eq!(d2.common_domains, u64::from(DOMAINS) - dropped);
    assert!(
        d2.warnings.iter().any(|w| w.contains("NOT THE SAME INPUT")),
        "{:?}",
        d2.warnings
    );
    assert!(d2.changes.len() <= diff.changes.len());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}
