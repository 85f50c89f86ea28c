//! Every notebook in notebooks/ runs headless (nbclient, via notebooks/run_notebooks.py)
//! on datasets/sample without a failing cell, and its figures agree with report.json
//! (the notebooks' last cell; MXCENSUS_REQUIRE_REPORT=1 makes a missing report an error).
//! Skipped (with a message) without python3 and the packages of
//! notebooks/requirements.txt.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn python_ready() -> bool {
    let ok = Command::new("python3")
        .args([
            "-c",
            "import duckdb, pyarrow, pandas, matplotlib, nbclient, nbformat, ipykernel",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!(
            "SKIPPED: python3 with the notebook packages is needed \
             (python3 -m pip install -r notebooks/requirements.txt)"
        );
    }
    ok
}

fn run_notebooks(args: &[&Path], out: &Path) -> std::process::Output {
    let mut cmd = Command::new("python3");
    cmd.arg(root().join("notebooks/run_notebooks.py"))
        .args(args)
        .arg("--out")
        .arg(out)
        .arg("--timeout")
        .arg("300")
        .env("MXCENSUS_BIN", env!("CARGO_BIN_EXE_mxcensus"))
        .env("MXCENSUS_REQUIRE_REPORT", "1")
        .env("MXCENSUS_NOTEBOOK_OUT", out.join("charts"))
        .env_remove("MXCENSUS_SNAPSHOT")
        .env_remove("MXCENSUS_REPORT_JSON");
    cmd.output().unwrap()
}

#[test]
fn every_notebook_runs_on_the_sample() {
    if !python_ready() {
        return;
    }
    let books: Vec<PathBuf> = std::fs::read_dir(root().join("notebooks"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ipynb"))
        .collect();
    assert!(
        books.len() >= 2,
        "expected adoption.ipynb and failures.ipynb: {books:?}"
    );
    let tmp = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let run = run_notebooks(&[], tmp.path());
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!(
        "notebooks took {:.1}s\n{stdout}{stderr}",
        started.elapsed().as_secs_f64()
    );
    assert!(run.status.success(), "a notebook failed (see above)");
    for book in &books {
        let name = book.file_name().unwrap().to_string_lossy();
        assert!(
            stdout.contains(&format!("{name}: ok")),
            "{name} did not run"
        );
        // The executed copy says how many figures matched report.json.
        let executed = std::fs::read_to_string(tmp.path().join(&*name)).unwrap();
        assert!(
            executed.contains("figures agree with report.json"),
            "{name}: the report.json cross-check did not run"
        );
    }
    for chart in [
        "adoption_funnel.png",
        "dane_funnel.png",
        "matrix.png",
        "by_rank.png",
        "failure_classes.png",
        "max_age.png",
    ] {
        let p = tmp.path().join("charts").join(chart);
        let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(size > 5_000, "chart {} missing or empty", p.display());
    }
}

/// The runner fails on a failing cell and on a notebook stored with outputs.
#[test]
fn a_failing_cell_fails_the_run() {
    if !python_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let write = |name: &str, source: &str, outputs: &str, count: &str| {
        let p = tmp.path().join(name);
        let nb = format!(
            r#"{{"cells": [{{"cell_type": "code", "execution_count": {count}, "id": "c1", "metadata": {{}}, "outputs": {outputs}, "source": {source:?}}}],
 "metadata": {{"kernelspec": {{"display_name": "Python 3", "language": "python", "name": "python3"}}}},
 "nbformat": 4, "nbformat_minor": 5}}"#
        );
        std::fs::write(&p, nb).unwrap();
        p
    };
    let bad = write("bad.ipynb", "raise ValueError('cell broke')", "[]", "null");
    let run = run_notebooks(&[&bad], &tmp.path().join("out-bad"));
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("cell broke"));

    let stored = write(
        "stored.ipynb",
        "print(1)",
        r#"[{"name": "stdout", "output_type": "stream", "text": "1\n"}]"#,
        "1",
    );
    let run = run_notebooks(&[&stored], &tmp.path().join("out-stored"));
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("stored with outputs"));

    let good = write("good.ipynb", "print(1 + 1)", "[]", "null");
    let run = run_notebooks(&[&good], &tmp.path().join("out-good"));
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
