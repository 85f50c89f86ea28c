//! `mxcensus lint`: check an MTA-STS policy body, MTA-STS TXT records or TLS-RPT records
//! before publishing them. Pure judgement by `mxcensus-proto`; this module only reads the
//! input, renders findings (text or JSON) and picks the exit status.

use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use mxcensus_proto::finding::{FailureClass, Finding, Severity};
use serde_json::{Map, Value, json};

use crate::Outcome;

/// Largest policy input read. Senders stop at 64 KiB (RFC 8461 §3.3); a bit more is read
/// so that an oversized body is reported as such rather than cut silently.
const MAX_INPUT: u64 = 1024 * 1024;
/// Policies above this size are refused by senders (RFC 8461 §3.3 suggests 64 KiB).
const SENDER_BODY_LIMIT: usize = 64 * 1024;

/// Arguments of `mxcensus lint`.
#[derive(Args, Debug)]
pub struct LintArgs {
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    what: LintWhat,
}

#[derive(Subcommand, Debug)]
enum LintWhat {
    /// An mta-sts.txt policy body (RFC 8461 §3.2), from FILE or `-` for standard input.
    Policy {
        /// The policy file, or `-` for standard input.
        file: PathBuf,
    },
    /// The TXT records found at `_mta-sts.<domain>` (RFC 8461 §3.1), one argument each.
    #[command(name = "sts-txt")]
    StsTxt {
        /// One argument per TXT record (its character-strings already joined).
        #[arg(required = true, value_name = "RECORD")]
        records: Vec<std::ffi::OsString>,
    },
    /// The TXT records found at `_smtp._tls.<domain>` (RFC 8460 §3), one argument each.
    Tlsrpt {
        /// One argument per TXT record (its character-strings already joined).
        #[arg(required = true, value_name = "RECORD")]
        records: Vec<std::ffi::OsString>,
    },
}

/// One finding, ready for output.
struct LintFinding {
    code: &'static str,
    severity: Severity,
    message: String,
    reference: &'static str,
    fix: &'static str,
}

impl<C: FailureClass> From<&Finding<C>> for LintFinding {
    fn from(f: &Finding<C>) -> Self {
        LintFinding {
            code: f.class.code(),
            severity: f.class.severity(),
            message: f.detail.clone(),
            reference: f.class.reference(),
            fix: f.class.fix(),
        }
    }
}

/// The judgement of one input, in a shape shared by every lint subject.
struct LintReport {
    /// What was checked, for the text heading.
    subject: &'static str,
    valid: bool,
    findings: Vec<LintFinding>,
    /// Subject-specific JSON members (`policy`, `id`, `rua`).
    extra: Map<String, Value>,
    /// Subject-specific summary lines for text output.
    summary: Vec<String>,
}

impl LintReport {
    fn new<C: FailureClass>(subject: &'static str, valid: bool, findings: &[Finding<C>]) -> Self {
        let mut findings: Vec<LintFinding> = findings.iter().map(LintFinding::from).collect();
        // Errors first, then warnings, then information; stable within a severity.
        findings.sort_by_key(|f| f.severity);
        LintReport {
            subject,
            valid,
            findings,
            extra: Map::new(),
            summary: Vec::new(),
        }
    }

    fn to_json(&self) -> Value {
        let mut obj = Map::new();
        obj.insert("valid".into(), Value::Bool(self.valid));
        let findings = self
            .findings
            .iter()
            .map(|f| {
                json!({
                    "code": f.code,
                    "severity": f.severity.as_str(),
                    "message": f.message,
                    "reference": f.reference,
                    "fix": f.fix,
                })
            })
            .collect();
        obj.insert("findings".into(), Value::Array(findings));
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        Value::Object(obj)
    }

    fn to_text(&self) -> String {
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        let (errors, warnings, infos) = (
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info),
        );
        let verdict = if self.valid { "valid" } else { "INVALID" };
        let mut out = format!(
            "{}: {verdict} ({errors} {}, {warnings} {}, {infos} info)\n",
            self.subject,
            plural(errors, "error", "errors"),
            plural(warnings, "warning", "warnings"),
        );
        for line in &self.summary {
            out.push_str(&format!("  {line}\n"));
        }
        for f in &self.findings {
            out.push_str(&format!(
                "\n  {:<7} {}: {}\n          see {}\n          fix: {}\n",
                f.severity.as_str(),
                f.code,
                f.message,
                f.reference,
                f.fix
            ));
        }
        out
    }
}

fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 { one } else { many }
}

/// Runs `mxcensus lint`.
pub fn run(args: LintArgs) -> anyhow::Result<Outcome> {
    let report = match &args.what {
        LintWhat::Policy { file } => lint_policy(&read_input(file)?),
        LintWhat::StsTxt { records } => lint_sts_txt(&records_as_bytes(records)),
        LintWhat::Tlsrpt { records } => lint_tlsrpt(&records_as_bytes(records)),
    };
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report.to_json())?;
        writeln!(stdout)?;
    } else {
        stdout.write_all(report.to_text().as_bytes())?;
    }
    stdout.flush()?;
    Ok(if report.valid {
        Outcome::Ok
    } else {
        Outcome::Invalid
    })
}

/// Reads a policy body from a file or standard input, refusing inputs that cannot be a
/// policy at all (huge or binary) with an error that says why.
fn read_input(path: &PathBuf) -> anyhow::Result<Vec<u8>> {
    let mut buf = Vec::new();
    let shown = path.display();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .context("cannot read standard input")?;
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open {shown}"))?;
        file.take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .with_context(|| format!("cannot read {shown}"))?;
    }
    check_input(&buf, &shown.to_string())?;
    Ok(buf)
}

/// Refuses inputs that are not text at all, or far over any sender's size limit.
fn check_input(buf: &[u8], name: &str) -> anyhow::Result<()> {
    if buf.len() as u64 > MAX_INPUT {
        bail!(
            "{name} is over {} KiB; an MTA-STS policy must stay under {} KiB \
             (RFC 8461 §3.3), so this is not a policy file",
            MAX_INPUT / 1024,
            SENDER_BODY_LIMIT / 1024
        );
    }
    if let Some(pos) = buf.iter().position(|&b| b == 0) {
        bail!("{name} looks binary (NUL byte at offset {pos}); expected a text mta-sts.txt body");
    }
    Ok(())
}

fn records_as_bytes(records: &[std::ffi::OsString]) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    records.iter().map(|r| r.as_bytes().to_vec()).collect()
}

fn lint_policy(body: &[u8]) -> LintReport {
    use mxcensus_proto::policy::parse_policy;
    let eval = parse_policy(body);
    let mut valid = eval.valid;
    let mut report = LintReport::new("MTA-STS policy", eval.valid, &eval.findings);
    if body.len() > SENDER_BODY_LIMIT {
        // Not a body rule but a fetch rule: senders stop reading at 64 KiB.
        valid = false;
        report.findings.insert(
            0,
            LintFinding {
                code: "body_too_large",
                severity: Severity::Error,
                message: format!(
                    "the body is {} bytes; senders stop at {} bytes",
                    body.len(),
                    SENDER_BODY_LIMIT
                ),
                reference: "RFC 8461 §3.3",
                fix: "Serve only the policy fields; a policy is a few hundred bytes.",
            },
        );
    }
    report.valid = valid;
    if let Some(policy) = &eval.policy {
        let mx: Vec<String> = policy.mx.iter().map(ToString::to_string).collect();
        report.extra.insert(
            "policy".into(),
            json!({
                "mode": policy.mode.as_str(),
                "max_age": policy.max_age,
                "mx": mx,
            }),
        );
        report.summary.push(format!("mode:    {}", policy.mode));
        report.summary.push(format!(
            "max_age: {} s ({})",
            policy.max_age,
            human_duration(policy.max_age)
        ));
        if !mx.is_empty() {
            report.summary.push(format!("mx:      {}", mx.join(", ")));
        }
    }
    report
}

fn lint_sts_txt(records: &[Vec<u8>]) -> LintReport {
    use mxcensus_proto::sts_txt::evaluate_sts_records;
    use mxcensus_proto::verdict::StsTxt;
    let eval = evaluate_sts_records(records);
    let valid = eval.verdict == StsTxt::Valid;
    let mut report = LintReport::new("MTA-STS TXT record", valid, &eval.findings);
    report.summary.push(format!(
        "verdict: {} ({} record(s) given)",
        eval.verdict,
        records.len()
    ));
    if let Some(record) = &eval.record {
        report
            .extra
            .insert("id".into(), Value::String(record.id.clone()));
        report.summary.push(format!("id:      {}", record.id));
    }
    report
}

fn lint_tlsrpt(records: &[Vec<u8>]) -> LintReport {
    use mxcensus_proto::tlsrpt::evaluate_tlsrpt_records;
    use mxcensus_proto::verdict::TlsRpt;
    let eval = evaluate_tlsrpt_records(records);
    let valid = eval.verdict == TlsRpt::Valid;
    let mut report = LintReport::new("TLS-RPT record", valid, &eval.findings);
    report.summary.push(format!(
        "verdict: {} ({} record(s) given)",
        eval.verdict,
        records.len()
    ));
    if let Some(record) = &eval.record {
        let rua: Vec<&str> = record.rua.iter().map(|u| u.uri.as_str()).collect();
        report.extra.insert("rua".into(), json!(rua));
        report.summary.push(format!("rua:     {}", rua.join(", ")));
    }
    report
}

/// `604800` -> `7 days`: max_age is easier to judge in days.
fn human_duration(secs: u64) -> String {
    const DAY: u64 = 86_400;
    if secs >= DAY {
        let days = secs as f64 / DAY as f64;
        if secs.is_multiple_of(DAY) {
            format!("{} days", secs / DAY)
        } else {
            format!("{days:.1} days")
        }
    } else if secs >= 3600 {
        format!("{:.1} hours", secs as f64 / 3600.0)
    } else {
        format!("{secs} seconds")
    }
}
