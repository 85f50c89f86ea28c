//! The committed sample snapshot (datasets/sample/) is reproducible: regenerate it with
//! scripts/make-sample.sh into a temporary directory, using this build's binary, and
//! compare every table as a sorted multiset of rows with scripts/compare_snapshots.py
//! (timing and timestamp columns left out; the script lists them and why). Skipped (with
//! a message) without bash, Unbound, python3 or duckdb.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python_duckdb() -> bool {
    Command::new("python3")
        .args(["-c", "import duckdb"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn compare(expected: &Path, actual: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(root().join("scripts/compare_snapshots.py"))
        .arg(expected)
        .arg(actual)
        .output()
        .unwrap()
}

fn shard(dir: &Path) -> PathBuf {
    dir.join("snapshot=sample/shard=0")
}

#[test]
fn the_sample_snapshot_is_reproducible() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("SKIPPED: bash is not installed");
        return;
    }
    if mxcensus_simnet::unbound::find_unbound().is_none() {
        eprintln!("SKIPPED: unbound is not installed");
        return;
    }
    if !python_duckdb() {
        eprintln!(
            "SKIPPED: python3 with duckdb is needed (pip install -r notebooks/requirements.txt)"
        );
        return;
    }
    let sample = root().join("datasets/sample");
    assert!(
        shard(&sample).join("manifest.json").is_file(),
        "datasets/sample has no snapshot: run scripts/make-sample.sh"
    );
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("sample");
    let started = std::time::Instant::now();
    let run = Command::new("bash")
        .arg(root().join("scripts/make-sample.sh"))
        .arg(&out)
        .env("MXCENSUS_BIN", env!("CARGO_BIN_EXE_mxcensus"))
        .env("TMPDIR", tmp.path())
        .output()
        .unwrap();
    eprintln!(
        "make-sample.sh took {:.1}s\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(run.status.success(), "make-sample.sh failed");

    // The input list beside the snapshot (the world's list plus malformed lines), byte for byte.
    assert_eq!(
        std::fs::read(sample.join("domains.csv")).unwrap(),
        std::fs::read(out.join("domains.csv")).unwrap(),
        "domains.csv differs: the world's generator changed; regenerate the sample"
    );

    let cmp = compare(&sample, &out);
    let stdout = String::from_utf8_lossy(&cmp.stdout);
    let stderr = String::from_utf8_lossy(&cmp.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        cmp.status.success(),
        "the regenerated sample differs from datasets/sample (see above); if the crawler \
         changed on purpose, run scripts/make-sample.sh and commit datasets/sample"
    );
    assert!(stdout.contains("domains: 3000 rows, equal"), "{stdout}");
}

/// The comparison is not blind: one changed verdict, one lost row and one changed
/// timing column in a copy of the sample give a failure naming the first two only.
#[test]
fn the_comparison_catches_a_changed_row() {
    if !python_duckdb() {
        eprintln!(
            "SKIPPED: python3 with duckdb is needed (pip install -r notebooks/requirements.txt)"
        );
        return;
    }
    let sample = root().join("datasets/sample");
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("copy");
    let copy_shard = shard(&copy);
    std::fs::create_dir_all(&copy_shard).unwrap();
    for entry in walk(&shard(&sample)) {
        let rel = entry.strip_prefix(shard(&sample)).unwrap();
        let dest = copy_shard.join(rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&entry, &dest).unwrap();
    }
    // Timing only: still equal.
    rewrite(
        &copy_shard,
        "domains",
        "SELECT * REPLACE (total_ms + 1000 AS total_ms, crawled_at + 3600 AS crawled_at) FROM t",
    );
    let same = compare(&sample, &copy);
    assert!(
        same.status.success(),
        "timing columns must not count: {}",
        String::from_utf8_lossy(&same.stderr)
    );
    // A verdict changed on the first domain, and the last mx row dropped.
    rewrite(
        &copy_shard,
        "domains",
        "SELECT * REPLACE (CASE WHEN domain = (SELECT min(domain) FROM t) THEN 'bogus' ELSE dnssec END AS dnssec) FROM t",
    );
    rewrite(
        &copy_shard,
        "mx",
        "SELECT * FROM t WHERE (domain, position) <> (SELECT (max(domain), 0) FROM t)",
    );
    let diff = compare(&sample, &copy);
    let stdout = String::from_utf8_lossy(&diff.stdout);
    let stderr = String::from_utf8_lossy(&diff.stderr);
    assert_eq!(diff.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("domains: 3000 rows, DIFFERENT"), "{stdout}");
    assert!(
        stdout.contains("mx: ") && stdout.contains("DIFFERENT"),
        "{stdout}"
    );
    assert!(stderr.contains("dnssec: expected"), "{stderr}");
    assert!(
        stderr.contains("1 only in expected, 0 only in actual"),
        "{stderr}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Replaces the Parquet files of TABLE in SHARD by one file holding QUERY over them (`t`).
fn rewrite(shard: &Path, table: &str, query: &str) {
    let dir = shard.join(table);
    let script = format!(
        "import duckdb, glob, os\n\
         files = sorted(glob.glob({dir:?} + '/*.parquet'))\n\
         con = duckdb.connect()\n\
         con.execute(f\"CREATE TABLE t AS SELECT * FROM read_parquet({{files!r}})\")\n\
         for f in files: os.remove(f)\n\
         con.execute(\"COPY ({query}) TO '{out}' (FORMAT parquet)\")\n",
        dir = dir.display().to_string(),
        out = dir.join("part-000001.parquet").display(),
    );
    let run = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
