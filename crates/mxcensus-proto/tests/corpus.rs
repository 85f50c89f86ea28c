//! Runs the policy parser over the real-world corpus of committed MTA-STS policy files
//! (`../shared/corpus/mta-sts-policies/*.txt`, see its README). Override the folder with
//! `MXCENSUS_CORPUS_DIR`. Run with `--nocapture` to see the tally of findings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mxcensus_proto::finding::Severity;
use mxcensus_proto::policy::{PolicyClass, parse_policy};

fn corpus_dir() -> PathBuf {
    match std::env::var_os("MXCENSUS_CORPUS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/mta-sts-policies"),
    }
}

#[test]
fn corpus_policies_parse_without_panic() {
    let dir = corpus_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        println!("skipped: corpus not found at {}", dir.display());
        return;
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .txt files in {}", dir.display());

    let mut tally: BTreeMap<&'static str, usize> = BTreeMap::new();
    let (mut valid, mut strict) = (0usize, 0usize);
    let mut invalid_files = Vec::new();
    let mut warnings = Vec::new();
    for path in &files {
        let body = std::fs::read(path).unwrap();
        let eval = parse_policy(&body);
        // Validity is exactly "no error-severity finding", and strict implies valid.
        let has_error = eval
            .findings
            .iter()
            .any(|f| f.severity() == Severity::Error);
        assert_eq!(
            eval.valid,
            !has_error,
            "{}: {:?}",
            path.display(),
            eval.findings
        );
        assert!(!eval.strict_ok || eval.valid, "{}", path.display());
        // A valid policy has read values, and re-renders to the same values.
        if eval.valid {
            let policy = eval.policy.as_ref().unwrap();
            let again = parse_policy(policy.to_text().as_bytes());
            assert_eq!(again.policy.as_ref(), Some(policy), "{}", path.display());
            valid += 1;
        } else {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let errors: Vec<String> = eval
                .findings
                .iter()
                .filter(|f| f.severity() == Severity::Error)
                .map(|f| format!("{}: {}", f.code(), f.detail))
                .collect();
            invalid_files.push(format!("{name}: {}", errors.join("; ")));
        }
        if eval.strict_ok {
            strict += 1;
        }
        for f in eval
            .findings
            .iter()
            .filter(|f| f.severity() == Severity::Warning)
        {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            warnings.push(format!("{name}: {}: {}", f.code(), f.detail));
        }
        let mut seen = std::collections::BTreeSet::new();
        for f in &eval.findings {
            if seen.insert(f.code()) {
                *tally.entry(f.code()).or_default() += 1;
            }
        }
    }

    println!("corpus: {} files at {}", files.len(), dir.display());
    println!(
        "valid: {valid}, invalid: {}, strictly valid: {strict}",
        files.len() - valid
    );
    println!("files per finding code:");
    for (code, n) in &tally {
        println!("  {code:<24} {n}");
    }
    println!("invalid files (error codes):");
    for line in &invalid_files {
        println!("  {line}");
    }
    println!("warnings:");
    for line in &warnings {
        println!("  {line}");
    }

    assert!(valid > 0, "no valid policy in the corpus");
    assert!(!tally.is_empty(), "no findings at all");
    // The corpus holds both well-formed policies and broken ones; the parser must tell
    // them apart rather than accept or reject everything.
    assert!(valid < files.len(), "every corpus file was judged valid");
    for class in [PolicyClass::BadMode, PolicyClass::MaxAgeShort] {
        use mxcensus_proto::finding::FailureClass;
        assert!(
            tally.contains_key(class.code()),
            "the corpus has {} cases but none was found",
            class.code()
        );
    }
}
