//! `mxcensus check DOMAIN`: the crawl's probes for one domain, printed for a person (a
//! section per topic with the verdict, the evidence, and each problem's fix and RFC
//! reference) or as JSON.
//!
//! The probing is [`mxcensus_crawl::check_domain`], the crawl's own per-domain path; this
//! module only groups its rows into sections and renders them. A section fails when one
//! of its problems has severity `error` (or an unknown code), or when its verdict is an
//! error state; features not published (no MTA-STS, no TLS-RPT, an unsigned zone) are
//! reported as `info` with advice and do not fail the check.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write;

use anyhow::Context;
use mxcensus_crawl::DomainCheck;
use mxcensus_crawl::check::{Area, Canary, class_info, class_info_in, record_area};
use mxcensus_proto::finding::Severity;
use serde::Serialize;

use crate::crawl_cmd::{WorldArgs, world_config};

/// Flags of `mxcensus check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The mail domain to check (Unicode or A-labels).
    pub domain: String,
    /// Print JSON for machines instead of text for people.
    #[arg(long)]
    pub json: bool,
    /// The world: resolver, CAs, ports, canaries, time-outs.
    #[command(flatten)]
    pub world: WorldArgs,
}

/// How the check ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Every section passed (info and warnings allowed).
    Pass,
    /// At least one section failed.
    Fail,
}

/// A section's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Published and correct.
    Pass,
    /// Not published, or not applicable: advice only.
    Info,
    /// Valid but fragile.
    Warn,
    /// Broken: senders cannot rely on it.
    Fail,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Info => "INFO",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One problem with its fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The stable failure code.
    pub code: String,
    /// `error`, `warning` or `info` (`error` for codes no table knows).
    pub severity: Severity,
    /// The RFC section it comes from.
    pub reference: Option<&'static str>,
    /// What to do about it.
    pub fix: Option<&'static str>,
}

/// One topic of the report.
#[derive(Clone, Debug, Serialize)]
pub struct Section {
    /// `mx`, `dnssec`, `sts_txt`, `policy`, `host <name>`, `tlsrpt`, `other`.
    pub topic: String,
    /// The section's result.
    pub status: Status,
    /// Headline values (a JSON object, in this order).
    #[serde(serialize_with = "ordered_map")]
    pub verdict: Vec<(String, String)>,
    /// What was observed (a JSON object, in this order).
    #[serde(serialize_with = "ordered_map")]
    pub evidence: Vec<(String, String)>,
    /// Advice that is not a failure class (e.g. "publish a TLS-RPT record").
    pub advice: Option<String>,
    /// Problems found, each with its fix.
    pub problems: Vec<Problem>,
}

fn ordered_map<S: serde::Serializer>(v: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(v.iter().map(|(k, v)| (k, v)))
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// The normalised domain.
    pub domain: String,
    /// Every section passed.
    pub pass: bool,
    /// The resolver passed the DNSSEC canaries.
    pub validator_ok: bool,
    /// The canaries asked first.
    pub canaries: Vec<Canary>,
    /// The sections, in reading order.
    pub sections: Vec<Section>,
}

fn problem(code: &str, area: Area) -> Problem {
    match class_info_in(code, area).or_else(|| class_info(code)) {
        Some(i) => Problem {
            code: code.to_owned(),
            severity: i.severity,
            reference: Some(i.reference),
            fix: Some(i.fix),
        },
        None => Problem {
            code: code.to_owned(),
            severity: Severity::Error,
            reference: None,
            fix: None,
        },
    }
}

fn problems<'a>(codes: impl IntoIterator<Item = &'a String>, area: Area) -> Vec<Problem> {
    let set: BTreeSet<&str> = codes.into_iter().map(String::as_str).collect();
    let mut v: Vec<Problem> = set.into_iter().map(|c| problem(c, area)).collect();
    v.sort_by(|a, b| (a.severity, &a.code).cmp(&(b.severity, &b.code)));
    v
}

/// The worse of the verdict's status and the problems' severities.
fn status_of(base: Status, problems: &[Problem]) -> Status {
    let worst = problems.iter().map(|p| match p.severity {
        Severity::Error => Status::Fail,
        Severity::Warning => Status::Warn,
        Severity::Info => Status::Pass,
    });
    worst.fold(base, Status::max)
}

fn kv(k: &str, v: impl ToString) -> (String, String) {
    (k.to_owned(), v.to_string())
}

fn opt(v: &Option<impl ToString>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_owned(), ToString::to_string)
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "-".to_owned()
    } else {
        v.join(" | ")
    }
}

/// The domain-level codes (verdict classes, record findings) of one area.
fn in_area(codes: &[String], area: Area) -> Vec<&String> {
    codes
        .iter()
        .filter(|c| record_area(c) == Some(area))
        .collect()
}

/// Groups a check's rows into sections.
pub fn report(c: &DomainCheck) -> Report {
    let d = &c.output.domain;
    let e = &d.evidence;
    // Every domain-level code: the verdict's classes and the records' findings.
    let mut codes: Vec<String> = d.error_classes.clone();
    codes.extend(e.findings.iter().cloned());
    let mut sections = Vec::new();

    let mx_base = match d.mx_status.as_str() {
        "ok" => Status::Pass,
        "null_mx" => Status::Info,
        "implicit" => Status::Warn,
        _ => Status::Fail,
    };
    let mx_problems = problems(in_area(&codes, Area::Mx), Area::Mx);
    sections.push(Section {
        topic: "mx".to_owned(),
        status: status_of(mx_base, &mx_problems),
        verdict: vec![kv("mx_status", &d.mx_status)],
        evidence: vec![
            kv("rcode", &e.mx_rcode),
            kv("ad", e.mx_ad),
            kv("records", list(&e.mx_records)),
            kv("cname_chain", list(&e.mx_cname_chain)),
            kv("attempts", e.mx_attempts),
        ],
        advice: match d.mx_status.as_str() {
            "implicit" => Some(
                "No MX record: senders fall back to the domain's A/AAAA (RFC 5321 §5.1). Publish MX records."
                    .to_owned(),
            ),
            "null_mx" => Some("Null MX (RFC 7505): this domain accepts no mail.".to_owned()),
            _ => None,
        },
        problems: mx_problems,
    });

    let (dnssec_base, dnssec_advice) = match d.dnssec.as_str() {
        "secure" => (Status::Pass, None),
        "insecure" => (
            Status::Info,
            Some("The zone is not signed: sign it and publish DS at the parent so DANE can apply (RFC 7672 §2.2).".to_owned()),
        ),
        "unknown" => (
            Status::Fail,
            Some("The resolver failed the DNSSEC canaries: use a validating resolver (--resolver) to judge DNSSEC and DANE.".to_owned()),
        ),
        _ => (
            Status::Fail,
            Some("Validation failed or the lookups erred: repair the DNSSEC chain (DS, DNSKEY, RRSIG validity).".to_owned()),
        ),
    };
    sections.push(Section {
        topic: "dnssec".to_owned(),
        status: dnssec_base,
        verdict: vec![kv("dnssec", &d.dnssec)],
        evidence: vec![
            kv("validator_ok", c.validator_ok),
            kv("mx_dnssec", &e.mx_dnssec),
            kv("canaries", {
                let v: Vec<String> = c
                    .canaries
                    .iter()
                    .map(|k| {
                        format!(
                            "{} {} ({})",
                            k.name,
                            if k.ok { "ok" } else { "FAILED" },
                            k.observed
                        )
                    })
                    .collect();
                list(&v)
            }),
        ],
        advice: dnssec_advice,
        problems: Vec::new(),
    });

    let txt_problems = problems(in_area(&codes, Area::StsTxt), Area::StsTxt);
    let txt_base = match d.sts_txt.as_str() {
        "valid" => Status::Pass,
        "absent" => Status::Info,
        _ => Status::Fail,
    };
    sections.push(Section {
        topic: "sts_txt".to_owned(),
        status: status_of(txt_base, &txt_problems),
        verdict: vec![kv("sts_txt", &d.sts_txt)],
        evidence: vec![
            kv("rcode", &e.sts_txt_rcode),
            kv("ad", e.sts_txt_ad),
            kv("records", list(&e.sts_txt_records)),
            kv("id", opt(&e.sts_id)),
        ],
        advice: (d.sts_txt == "absent").then(|| {
            "No MTA-STS: publish `_mta-sts TXT \"v=STSv1; id=...\"` and a policy at https://mta-sts.<domain>/.well-known/mta-sts.txt (RFC 8461 §3).".to_owned()
        }),
        problems: txt_problems,
    });

    let mut shown: BTreeSet<String> = BTreeSet::new();
    let mut policy_codes: Vec<String> =
        in_area(&codes, Area::Policy).into_iter().cloned().collect();
    let mut policy_evidence = vec![];
    for p in &c.output.policies {
        policy_codes.extend(p.failures.iter().cloned());
        policy_codes.extend(p.cert_failures.iter().cloned());
        policy_codes.extend(p.findings.iter().cloned());
        policy_evidence.extend([
            kv(
                "url",
                format!("https://{}:{}/.well-known/mta-sts.txt", p.host, p.port),
            ),
            kv("host_rcode", &p.host_rcode),
            kv("host_addresses", list(&p.host_addresses)),
            kv("address", opt(&p.address)),
            kv("http_status", opt(&p.http_status)),
            kv("content_type", opt(&p.content_type)),
            kv("location", opt(&p.location)),
            kv(
                "tls",
                format!("{} {}", opt(&p.tls_version), opt(&p.tls_cipher)),
            ),
            kv("cert_status", opt(&p.cert_status)),
            kv("mode", opt(&p.mode)),
            kv("max_age", opt(&p.max_age)),
            kv("mx", list(&p.mx)),
            kv(
                "body",
                p.body.as_ref().map_or_else(
                    || "-".to_owned(),
                    |b| {
                        let text = String::from_utf8_lossy(b);
                        let lines: Vec<&str> = text.lines().take(12).collect();
                        lines.join(" | ")
                    },
                ),
            ),
        ]);
    }
    let policy_problems = problems(&policy_codes, Area::Policy);
    let policy_base = match (d.sts_policy.as_str(), d.sts_mode.as_deref()) {
        ("not_attempted", _) => Status::Info,
        ("valid", Some("enforce")) => Status::Pass,
        ("valid", _) => Status::Warn,
        _ => Status::Fail,
    };
    let coverage = match d.sts_mx_valid.as_deref() {
        Some("some" | "none") if d.sts_policy == "valid" => Status::Fail,
        _ => Status::Pass,
    };
    sections.push(Section {
        topic: "policy".to_owned(),
        status: status_of(policy_base.max(coverage), &policy_problems),
        verdict: vec![
            kv("sts_policy", &d.sts_policy),
            kv("sts_mode", opt(&d.sts_mode)),
            kv("sts_mx_valid", opt(&d.sts_mx_valid)),
        ],
        evidence: policy_evidence,
        advice: match (d.sts_policy.as_str(), d.sts_mode.as_deref()) {
            ("not_attempted", _) => Some("Not fetched: no valid _mta-sts TXT record.".to_owned()),
            ("valid", Some("testing")) => Some(
                "Mode testing: senders report failures (TLS-RPT) but still deliver; switch to enforce once reports are clean."
                    .to_owned(),
            ),
            ("valid", Some("none")) => Some("Mode none: the policy is being withdrawn (RFC 8461 §8.3).".to_owned()),
            _ => None,
        },
        problems: policy_problems,
    });

    shown.extend(policy_codes.iter().cloned());
    for m in &c.output.mx {
        let mut hc: Vec<String> = m.ip_failures.clone();
        let mut evidence = vec![
            kv("preference", opt(&m.preference)),
            kv("addresses", list(&m.addresses)),
            kv(
                "address_rcode",
                format!("A {} AAAA {}", m.address_rcode, m.address_aaaa_rcode),
            ),
            kv("address_dnssec", &m.address_dnssec),
            kv("covered_by", opt(&m.covered_by)),
            kv(
                "tlsa",
                format!(
                    "{} {} {}",
                    m.tlsa_outcome,
                    opt(&m.tlsa_base),
                    opt(&m.tlsa_dnssec)
                ),
            ),
            kv("tlsa_records", list(&m.tlsa_records)),
        ];
        for s in c.smtp.iter().filter(|s| s.mx_host == m.exchange) {
            hc.extend(s.failure.iter().cloned());
            hc.extend(s.cert_failures.iter().cloned());
            hc.extend(s.dane_findings.iter().cloned());
            let at = format!("{}:{}", s.ip, s.port);
            evidence.extend([
                kv(&format!("{at} connect"), &s.connect),
                kv(
                    &format!("{at} greeting"),
                    format!("{} {}", opt(&s.greeting_code), opt(&s.greeting_text)),
                ),
                kv(
                    &format!("{at} starttls"),
                    format!(
                        "offered={} reply={} tls_completed={} {} {} sni={}",
                        s.starttls_offered,
                        opt(&s.starttls_code),
                        s.tls_completed,
                        opt(&s.tls_version),
                        opt(&s.tls_cipher),
                        opt(&s.tls_sni)
                    ),
                ),
                kv(
                    &format!("{at} certificate"),
                    format!(
                        "{} pkix_valid={} name_valid={} chain={}",
                        opt(&s.cert_status),
                        s.pkix_valid,
                        s.name_valid,
                        s.chain_sha256.len()
                    ),
                ),
                kv(
                    &format!("{at} dane"),
                    format!(
                        "applicable={} outcome={} matched={}",
                        s.dane_applicable,
                        opt(&s.dane_outcome),
                        opt(&s.dane_matched)
                    ),
                ),
            ]);
            if let Some(f) = &s.failure {
                evidence.push(kv(
                    &format!("{at} failure"),
                    format!(
                        "{f} in {} ({})",
                        opt(&s.failure_phase),
                        opt(&s.error_detail)
                    ),
                ));
            }
        }
        // The verdict classes about hosts (TLSA, addresses) that name no host: attach
        // them where they apply.
        if m.dane_broken || (m.dane_usable && !m.dane_valid) || !m.tlsa_records.is_empty() {
            hc.extend(
                in_area(&d.error_classes, Area::Host)
                    .into_iter()
                    .filter(|c| c.starts_with("tlsa") || c.starts_with("only_pkix"))
                    .cloned(),
            );
        }
        if m.addresses.is_empty() {
            hc.extend(
                in_area(&d.error_classes, Area::Host)
                    .into_iter()
                    .filter(|c| c.starts_with("mx_"))
                    .cloned(),
            );
        }
        shown.extend(hc.iter().cloned());
        let host_problems = problems(&hc, Area::Host);
        let base = if m.reached && m.starttls_ok {
            Status::Pass
        } else {
            Status::Fail
        };
        let dane_state = if m.dane_broken || (m.dane_usable && !m.dane_valid) {
            Status::Fail
        } else {
            Status::Pass
        };
        sections.push(Section {
            topic: format!("host {}", m.exchange),
            status: status_of(base.max(dane_state), &host_problems),
            verdict: vec![
                kv("reached", m.reached),
                kv("starttls_ok", m.starttls_ok),
                kv("cert_ok", m.cert_ok),
                kv("sts_valid", m.sts_valid),
                kv("dane_usable", m.dane_usable),
                kv("dane_valid", m.dane_valid),
            ],
            evidence,
            advice: (!m.dane_usable && d.dnssec == "secure").then(|| {
                "No usable TLSA: publish `_25._tcp.<mx> TLSA 3 1 1 <sha256 of the key>` (RFC 7672 §3.1.1)."
                    .to_owned()
            }),
            problems: host_problems,
        });
    }

    let rpt_problems = problems(in_area(&codes, Area::TlsRpt), Area::TlsRpt);
    let rpt_base = match d.tlsrpt.as_str() {
        "valid" => Status::Pass,
        "absent" => Status::Info,
        _ => Status::Fail,
    };
    sections.push(Section {
        topic: "tlsrpt".to_owned(),
        status: status_of(rpt_base, &rpt_problems),
        verdict: vec![kv("tlsrpt", &d.tlsrpt)],
        evidence: vec![
            kv("rcode", &e.tlsrpt_rcode),
            kv("ad", e.tlsrpt_ad),
            kv("records", list(&e.tlsrpt_records)),
            kv("rua", list(&e.tlsrpt_rua)),
        ],
        advice: (d.tlsrpt == "absent").then(|| {
            "No TLS-RPT: publish `_smtp._tls TXT \"v=TLSRPTv1; rua=mailto:...\"` to receive failure reports (RFC 8460 §3).".to_owned()
        }),
        problems: rpt_problems,
    });

    // Classes of the verdict that no section showed (host classes that name no host,
    // codes no table knows).
    let other: Vec<&String> = d
        .error_classes
        .iter()
        .filter(|c| {
            !shown.contains(*c)
                && !matches!(
                    record_area(c),
                    Some(Area::Mx | Area::StsTxt | Area::TlsRpt | Area::Policy)
                )
        })
        .collect();
    if !other.is_empty() {
        let p = problems(other, Area::Host);
        sections.push(Section {
            topic: "other".to_owned(),
            status: status_of(Status::Pass, &p),
            verdict: Vec::new(),
            evidence: Vec::new(),
            advice: None,
            problems: p,
        });
    }

    let pass = sections.iter().all(|s| s.status != Status::Fail);
    Report {
        domain: d.domain.clone(),
        pass,
        validator_ok: c.validator_ok,
        canaries: c.canaries.clone(),
        sections,
    }
}

/// The report as text for a person.
pub fn render_text(r: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mxcensus check {}: {}",
        r.domain,
        if r.pass { "PASS" } else { "FAIL" }
    );
    for s in &r.sections {
        let _ = writeln!(out, "\n[{}] {}", s.status.label(), s.topic);
        for (k, v) in &s.verdict {
            let _ = writeln!(out, "  {k:<14} {v}");
        }
        for (k, v) in &s.evidence {
            let _ = writeln!(out, "    {k}: {v}");
        }
        if let Some(a) = &s.advice {
            let _ = writeln!(out, "  note: {a}");
        }
        for p in &s.problems {
            let _ = writeln!(
                out,
                "  {:<7} {}  ({})",
                p.severity.as_str(),
                p.code,
                p.reference.unwrap_or("no reference")
            );
            let _ = writeln!(
                out,
                "          fix: {}",
                p.fix.unwrap_or("see the evidence above")
            );
        }
    }
    out
}

/// Runs `mxcensus check`.
pub fn run(args: CheckArgs) -> anyhow::Result<CheckOutcome> {
    let (config, _sim) = world_config(&args.world, "check".to_owned())?;
    config.validate()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let checked = runtime.block_on(mxcensus_crawl::check_domain(config, &args.domain))?;
    let r = report(&checked);
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &r).context("writing JSON")?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", render_text(&r))?;
    }
    Ok(if r.pass {
        CheckOutcome::Pass
    } else {
        CheckOutcome::Fail
    })
}
