//! `mxcensus diff OLD NEW`: adoption gained and lost between two snapshots of the same
//! input (the logic and its definitions live in `mxcensus_analysis::diff`).
//!
//! Prints a summary (counts per change kind, a few examples each) and any warning (inputs
//! that differ, domains in one snapshot only, incomplete runs) to stderr in capitals.
//! `--json` prints the summary as JSON instead; `--out DIR` writes `DIR/diff.json` (the
//! summary) and `DIR/changes.parquet` (one row per domain and change: `domain`, `change`,
//! `old`, `new`, `detail`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use mxcensus_analysis::diff::{ChangeKind, SnapshotDiff, diff_paths};

/// Arguments of `mxcensus diff`.
#[derive(clap::Args, Debug)]
pub struct DiffArgs {
    /// The older snapshot (`OUT`, `OUT/snapshot=<id>` or one shard directory).
    pub old: PathBuf,
    /// The newer snapshot.
    pub new: PathBuf,
    /// Write diff.json (summary) and changes.parquet (every change) into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Examples shown per change kind.
    #[arg(long, default_value_t = 5)]
    pub examples: usize,
}

/// Runs `mxcensus diff`.
pub fn run(args: DiffArgs) -> anyhow::Result<()> {
    let diff = diff_paths(&args.old, &args.new).context("diff")?;
    let mut err = std::io::stderr().lock();
    for w in &diff.warnings {
        writeln!(err, "mxcensus diff: WARNING: {w}")?;
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &diff.summary(args.examples))?;
        writeln!(out)?;
    } else {
        print_summary(&mut out, &diff, args.examples)?;
    }
    if let Some(dir) = &args.out {
        let [json, parquet] = diff
            .write(dir, args.examples)
            .with_context(|| format!("writing {}", dir.display()))?;
        writeln!(err, "wrote {} and {}", json.display(), parquet.display())?;
    }
    Ok(())
}

fn print_summary(out: &mut impl Write, d: &SnapshotDiff, examples: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "OLD {} (snapshot {}, {} domains)\nNEW {} (snapshot {}, {} domains)",
        d.old.path, d.old.id, d.old.domains, d.new.path, d.new.id, d.new.domains
    )?;
    if d.same_input {
        writeln!(
            out,
            "same input ({}), {} domains compared",
            d.old.input_sha256.join(","),
            d.common_domains
        )?;
    } else {
        writeln!(
            out,
            "NOT THE SAME INPUT: {} domains compared, {} only in OLD, {} only in NEW",
            d.common_domains, d.only_in_old, d.only_in_new
        )?;
        if !d.only_in_old_examples.is_empty() {
            writeln!(out, "  only in OLD: {}", d.only_in_old_examples.join(", "))?;
        }
        if !d.only_in_new_examples.is_empty() {
            writeln!(out, "  only in NEW: {}", d.only_in_new_examples.join(", "))?;
        }
    }
    writeln!(out)?;
    writeln!(out, "{:<24} {:>8}  examples", "change", "domains")?;
    for kind in ChangeKind::ALL {
        let n = d.counts.get(&kind).copied().unwrap_or(0);
        let shown: Vec<String> = d
            .changes
            .iter()
            .filter(|c| c.change == kind)
            .take(examples)
            .map(|c| match &c.detail {
                Some(detail) => format!("{} ({detail})", c.domain),
                None => format!("{} ({} -> {})", c.domain, c.old, c.new),
            })
            .collect();
        writeln!(out, "{:<24} {:>8}  {}", kind.code(), n, shown.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use mxcensus_analysis::diff::DomainChange;

    fn change(domain: &str, kind: ChangeKind, detail: Option<&str>) -> DomainChange {
        DomainChange {
            domain: domain.to_owned(),
            change: kind,
            old: "absent".to_owned(),
            new: "enforce".to_owned(),
            detail: detail.map(str::to_owned),
        }
    }

    #[test]
    fn summary_lists_every_kind_with_examples_and_says_when_inputs_differ() {
        let mut counts: std::collections::BTreeMap<ChangeKind, u64> =
            ChangeKind::ALL.iter().map(|&k| (k, 0)).collect();
        counts.insert(ChangeKind::StsAdopted, 2);
        counts.insert(ChangeKind::PolicyChangedSameId, 1);
        let d = SnapshotDiff {
            changes: vec![
                change("a.com", ChangeKind::StsAdopted, None),
                change("b.com", ChangeKind::StsAdopted, None),
                change("c.com", ChangeKind::PolicyChangedSameId, Some("max_age")),
            ],
            counts,
            only_in_new: 1,
            only_in_new_examples: vec!["z.com".to_owned()],
            ..SnapshotDiff::default()
        };
        let mut out = Vec::new();
        print_summary(&mut out, &d, 1).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("NOT THE SAME INPUT"), "{text}");
        assert!(text.contains("only in NEW: z.com"), "{text}");
        let line = |code: &str| {
            text.lines()
                .find(|l| l.starts_with(&format!("{code} ")))
                .unwrap_or_default()
                .to_owned()
        };
        // One example only, as asked.
        assert!(
            line("sts_adopted").contains("a.com (absent -> enforce)"),
            "{text}"
        );
        assert!(!line("sts_adopted").contains("b.com"), "{text}");
        assert!(
            line("policy_changed_same_id").contains("c.com (max_age)"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| l.contains("_")).count(),
            17,
            "{text}"
        );
    }
}
