//! End-to-end tests of `mxcensus lint`: the built binary, real files, exit codes, JSON.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn mxcensus() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mxcensus"))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    mxcensus().args(args).output().expect("run mxcensus")
}

fn run_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = mxcensus()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mxcensus");
    // The binary may refuse an oversized input before reading all of it.
    let _ = child.stdin.take().expect("stdin").write_all(input);
    child.wait_with_output().expect("wait")
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings array")
        .iter()
        .map(|f| f["code"].as_str().expect("code").to_owned())
        .collect()
}

fn example(name: &str) -> String {
    workspace_root()
        .join("examples")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn valid_policy_exits_zero_with_parsed_policy() {
    let out = run(&["lint", "--json", "policy", &example("mta-sts.txt")]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = json_of(&out);
    assert_eq!(v["valid"], Value::Bool(true));
    assert_eq!(v["policy"]["mode"], "enforce");
    assert_eq!(v["policy"]["max_age"], 604800);
    assert_eq!(
        v["policy"]["mx"],
        serde_json::json!(["mail.example.com", "*.mail.example.net"])
    );
    for f in v["findings"].as_array().expect("findings") {
        assert_ne!(f["severity"], "error", "unexpected error finding {f}");
        for key in ["code", "message", "severity"] {
            assert!(f[key].is_string(), "finding lacks {key}: {f}");
        }
    }
}

#[test]
fn broken_policy_exits_one_and_names_each_problem() {
    let out = run(&["lint", "--json", "policy", &example("mta-sts-broken.txt")]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert_eq!(v["valid"], Value::Bool(false));
    let codes = codes(&v);
    for want in ["bad_mode", "bad_mx_pattern", "max_age_over_limit"] {
        assert!(
            codes.iter().any(|c| c == want),
            "{want} missing from {codes:?}"
        );
    }
}

#[test]
fn text_output_gives_reference_and_fix() {
    let out = run(&["lint", "policy", &example("mta-sts-broken.txt")]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("INVALID"), "{text}");
    assert!(text.contains("bad_mode"), "{text}");
    assert!(text.contains("RFC 8461"), "{text}");
    assert!(text.contains("fix:"), "{text}");
}

#[test]
fn policy_from_stdin() {
    let body = b"version: STSv1\nmode: testing\nmx: mx.example.org\nmax_age: 86400\n";
    let out = run_stdin(&["lint", "--json", "policy", "-"], body);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json_of(&out)["policy"]["mode"], "testing");
}

#[test]
fn unreadable_binary_and_huge_inputs_are_clear_errors() {
    let out = run(&["lint", "policy", "/nonexistent/mta-sts.txt"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open /nonexistent/mta-sts.txt"),
        "{err}"
    );

    let out = run_stdin(&["lint", "policy", "-"], b"version: STSv1\0\x01\x02\xff");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("binary"));

    let huge = "mx: mail.example.com\n".repeat(10 * 1024 * 1024 / 21 + 1);
    let out = run_stdin(&["lint", "policy", "-"], huge.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 KiB"));

    // A directory cannot be read as a file.
    let out = run(&["lint", "policy", "/"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn non_utf8_policy_is_judged_not_crashed() {
    let out = run_stdin(
        &["lint", "--json", "policy", "-"],
        b"version: STSv1\nmode: enforce\nmx: m\xe9l.example.com\nmax_age: 86400\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(json_of(&out)["valid"], Value::Bool(false));
}

#[test]
fn sts_txt_valid_gives_id() {
    let out = run(&["lint", "--json", "sts-txt", "v=STSv1; id=20160831085700Z;"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json_of(&out);
    assert_eq!(v["valid"], Value::Bool(true));
    assert_eq!(v["id"], "20160831085700Z");
}

#[test]
fn sts_txt_two_records_mean_no_policy() {
    let out = run(&[
        "lint",
        "--json",
        "sts-txt",
        "v=STSv1; id=1;",
        "v=STSv1; id=2;",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v = json_of(&out);
    assert!(codes(&v).iter().any(|c| c == "multiple_sts_records"));
}

#[test]
fn sts_txt_foreign_records_are_ignored() {
    let out = run(&[
        "lint",
        "--json",
        "sts-txt",
        "v=spf1 -all",
        "v=STSv1; id=abc123",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(json_of(&out)["id"], "abc123");
}

#[test]
fn sts_txt_bad_id_is_invalid() {
    let out = run(&["lint", "--json", "sts-txt", "v=STSv1; id=2024-01-01;"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(codes(&json_of(&out)).iter().any(|c| c == "bad_id_chars"));
}

#[test]
fn tlsrpt_valid_and_invalid() {
    let out = run(&[
        "lint",
        "--json",
        "tlsrpt",
        "v=TLSRPTv1; rua=mailto:tlsrpt@example.com,https://reports.example.com/tlsrpt",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let v = json_of(&out);
    assert_eq!(v["rua"].as_array().map(Vec::len), Some(2));

    let out = run(&["lint", "--json", "tlsrpt", "v=TLSRPTv1;"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        codes(&json_of(&out))
            .iter()
            .any(|c| c == "tlsrpt_missing_rua")
    );
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(run(&["lint", "sts-txt"]).status.code(), Some(2));
    assert_eq!(run(&["lint", "frobnicate"]).status.code(), Some(2));
    assert_eq!(run(&["lint"]).status.code(), Some(2));
}

/// Lints every real-world policy in `../shared/corpus/mta-sts-policies/` (when present) and
/// prints the tally of findings by code; see `crates/mxcensus-proto/tests/corpus.rs` for
/// the library-level run.
#[test]
fn corpus_policies_never_crash_the_linter() {
    let dir = std::env::var_os("MXCENSUS_CORPUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared/corpus/mta-sts-policies"));
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: corpus not found at {}", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "corpus folder {} has no .txt files",
        dir.display()
    );

    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    let (mut valid, mut invalid) = (0, 0);
    for file in &files {
        let out = run(&["lint", "--json", "policy", &file.to_string_lossy()]);
        let v = json_of(&out);
        match out.status.code() {
            Some(0) => valid += 1,
            Some(1) => invalid += 1,
            other => panic!("{}: exit {other:?}", file.display()),
        }
        assert_eq!(v["valid"], Value::Bool(out.status.code() == Some(0)));
        for code in codes(&v) {
            *tally.entry(code).or_default() += 1;
        }
    }
    println!(
        "corpus: {} files, {valid} valid, {invalid} invalid",
        files.len()
    );
    for (code, n) in &tally {
        println!("  {code:<28} {n}");
    }
    assert!(valid > 0, "no corpus policy was judged valid");
    assert!(invalid > 0, "no corpus policy was judged invalid");
}
