//! From probe results to the plain facts of `mxcensus_proto::classify`, and to rows.
//!
//! Every conversion lives here so that the live crawl and `--resume` (which rebuilds the
//! per-address facts from committed `smtp` rows) read the evidence the same way.

use std::net::IpAddr;

use mxcensus_dataset::tables::SmtpRow;
use mxcensus_probe::dns::{
    AddressLookup, CandidateDecision, DnsLookup, DnssecStatus, LookupStatus, TlsaDiscovery,
    TlsaOutcome,
};
use mxcensus_probe::policy_fetch::FetchClass;
use mxcensus_probe::smtp::{Direction, Phase, SmtpClass, SmtpResult};
use mxcensus_probe::tcp::ConnectError;
use mxcensus_probe::tls::{self, CertCheck, CertStatus};
use mxcensus_proto::cert::CertClass;
use mxcensus_proto::classify::{IpFacts, Lookup, LookupFailure, TlsaFacts};
use mxcensus_proto::failure_classes;
use mxcensus_proto::finding::FailureClass;
use mxcensus_proto::tlsa::{DaneOutcome, DaneVerification, TlsaRecord};

failure_classes! {
    /// Failure classes the crawler itself decides (before or around the probes).
    pub enum CrawlClass {
        /// The address is on the exclusion list: it was never contacted.
        ExcludedAddress = "excluded_address", Info, "DESIGN.md principle 4 (politeness)",
            "Nothing to fix: the operator asked not to be contacted.";
        /// `mta-sts.<domain>` does not exist (NXDOMAIN for A and AAAA).
        PolicyHostNxdomain = "policy_host_nxdomain", Error, "RFC 8461 §3.2; SPEC §B",
            "Publish A/AAAA records for mta-sts.<domain>.";
        /// `mta-sts.<domain>` exists without any address.
        PolicyHostNoAddress = "policy_host_no_address", Error, "RFC 8461 §3.2; SPEC §B",
            "Publish A/AAAA records for mta-sts.<domain>.";
        /// The address lookup of `mta-sts.<domain>` failed (SERVFAIL, time-out, bogus).
        PolicyHostDnsError = "policy_host_dns_error", Error, "RFC 8461 §3.3; SPEC §B",
            "Fix the DNS (and DNSSEC) of the policy host's zone.";
    }
}

/// The classifier's view of one lookup.
pub fn lookup_of(l: &DnsLookup) -> Lookup {
    if l.dnssec == DnssecStatus::Bogus {
        return Lookup::Bogus;
    }
    let secure = l.dnssec == DnssecStatus::Secure;
    match l.status() {
        LookupStatus::NoError => Lookup::Answer { secure },
        LookupStatus::NoData => Lookup::NoData { secure },
        LookupStatus::NxDomain => Lookup::NxDomain { secure },
        LookupStatus::ServFail => Lookup::Failed(LookupFailure::ServFail),
        LookupStatus::Timeout => Lookup::Failed(LookupFailure::Timeout),
        LookupStatus::Refused => Lookup::Failed(LookupFailure::Refused),
        _ => Lookup::Failed(LookupFailure::Other),
    }
}

/// A and AAAA together: bogus if either is; an answer if either has addresses (secure
/// only when both are); else a failure if either failed; else the denial.
pub fn address_lookup_of(a: &AddressLookup) -> Lookup {
    let (la, l6) = (lookup_of(&a.a), lookup_of(&a.aaaa));
    if la == Lookup::Bogus || l6 == Lookup::Bogus {
        return Lookup::Bogus;
    }
    let secure = a.dnssec() == DnssecStatus::Secure;
    if !a.all().is_empty() {
        return Lookup::Answer { secure };
    }
    if let Lookup::Failed(f) = la {
        return Lookup::Failed(f);
    }
    if let Lookup::Failed(f) = l6 {
        return Lookup::Failed(f);
    }
    match (la, l6) {
        (Lookup::NxDomain { .. }, _) => Lookup::NxDomain { secure },
        _ => Lookup::NoData { secure },
    }
}

/// The deciding TLSA lookup of a discovery and the classifier's facts for it.
pub fn tlsa_facts_of(d: &TlsaDiscovery) -> (TlsaFacts, Option<usize>) {
    let index = match &d.outcome {
        TlsaOutcome::NotSecure { base, .. } => d.lookups.iter().position(|l| &l.base == base),
        _ => d.lookups.len().checked_sub(1),
    };
    match index.and_then(|i| d.lookups.get(i).map(|l| (i, l))) {
        Some((i, l)) => (
            TlsaFacts::Queried {
                lookup: lookup_of(&l.lookup),
                records: l.records.clone(),
            },
            Some(i),
        ),
        None => (TlsaFacts::NotQueried, None),
    }
}

/// The TLSA records a probe must verify against: the secure non-empty RRset with at least
/// one usable record, and the reference names (base domain first, then the host).
pub fn dane_target(d: &TlsaDiscovery, host: &str) -> Option<(Vec<TlsaRecord>, Vec<String>)> {
    match &d.outcome {
        TlsaOutcome::Secure { base, records }
            if records.iter().any(|r| r.usability().is_usable()) =>
        {
            let base = name_text(base);
            let mut names = vec![base.clone()];
            if base != host {
                names.push(host.to_owned());
            }
            Some((records.clone(), names))
        }
        _ => None,
    }
}

/// `a.example.` -> `a.example`, lowercase.
pub fn name_text(n: &hickory_proto::rr::Name) -> String {
    let s = n.to_ascii().to_ascii_lowercase();
    s.strip_suffix('.').map(str::to_owned).unwrap_or(s)
}

/// Stable code of a candidate decision.
pub fn decision_code(d: CandidateDecision) -> &'static str {
    match d {
        CandidateDecision::Candidates => "candidates",
        CandidateDecision::InsecureAddresses => "insecure_addresses",
        CandidateDecision::InsecureCname => "insecure_cname",
        CandidateDecision::LookupFailed => "lookup_failed",
        CandidateDecision::ValidatorUnknown => "validator_unknown",
    }
}

/// Stable code of a TLSA outcome.
pub fn tlsa_outcome_code(o: &TlsaOutcome) -> &'static str {
    match o {
        TlsaOutcome::Secure { .. } => "secure",
        TlsaOutcome::NotSecure { .. } => "not_secure",
        TlsaOutcome::NoRecords => "no_records",
        TlsaOutcome::Failed { .. } => "failed",
        TlsaOutcome::NotApplicable => "not_applicable",
    }
}

fn connect_code(e: ConnectError) -> &'static str {
    match e {
        ConnectError::Refused => "refused",
        ConnectError::Timeout => "timeout",
        ConnectError::Unreachable => "unreachable",
        ConnectError::Reset => "reset",
        ConnectError::AddrNotAvailable => "addr_not_available",
        _ => "other",
    }
}

fn phase_code(p: Phase) -> &'static str {
    match p {
        Phase::Connect => "connect",
        Phase::Greeting => "greeting",
        Phase::Ehlo => "ehlo",
        Phase::Helo => "helo",
        Phase::Starttls => "starttls",
        Phase::TlsHandshake => "tls_handshake",
        Phase::EhloAfterTls => "ehlo_after_tls",
        Phase::Quit => "quit",
    }
}

/// Certificate failure codes of a check, with the parent class of every subcase SPEC §B
/// names: a self-signed leaf is also `cert_untrusted`; a CN-only or partial-wildcard-only
/// match is also `cert_name_mismatch`. Studies can then count either level.
pub fn cert_failure_codes(c: &CertCheck) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = c.failures.iter().map(|f| f.code()).collect();
    for f in &c.failures {
        let parent = match f {
            CertClass::SelfSigned => Some(CertClass::Untrusted),
            CertClass::CnOnly | CertClass::PartialWildcardOnly => Some(CertClass::NameMismatch),
            _ => None,
        };
        out.extend(parent.map(|p| p.code()));
    }
    out.sort_unstable();
    out.dedup();
    out
}

/// Trusted path and dates, name aside.
fn pkix_valid(c: &CertCheck) -> bool {
    c.trust.is_ok()
        && !c
            .failures
            .iter()
            .any(|f| matches!(f, CertClass::Expired | CertClass::NotYetValid))
        && !matches!(
            c.status,
            CertStatus::NoCertificate | CertStatus::Unparseable
        )
}

fn name_valid(c: &CertCheck) -> bool {
    c.name.as_ref().is_some_and(|n| n.outcome.class().is_none())
}

fn ms(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Stable code of a DANE verification outcome.
pub fn dane_outcome_code(v: &DaneVerification) -> &'static str {
    match v.outcome {
        DaneOutcome::Authenticated => "authenticated",
        DaneOutcome::NoUsableRecords => "no_usable_records",
        DaneOutcome::Failed(c) => c.code(),
    }
}

/// The `smtp` row of a probe (with its DANE verification, if the host had usable TLSA).
pub fn smtp_row(
    r: &SmtpResult,
    attempts: u64,
    dane_applicable: bool,
    dane: Option<&DaneVerification>,
) -> SmtpRow {
    let tls = r.tls.as_ref();
    let text = |lines: &[String]| lines.join("\n");
    SmtpRow {
        mx_host: r.mx_name.clone(),
        ip: r.addr.ip().to_string(),
        port: i64::from(r.addr.port()),
        probed_at: r.started_unix,
        attempts,
        excluded: false,
        connect: match r.connect.outcome {
            Ok(()) => "ok",
            Err(e) => connect_code(e),
        }
        .to_owned(),
        connect_ms: Some(ms(r.connect.elapsed)),
        greeting_code: r.greeting.as_ref().map(|g| i64::from(g.code)),
        greeting_text: r.greeting.as_ref().map(|g| text(&g.lines)),
        greeting_delay_ms: r.greeting_delay().map(ms),
        ehlo_code: r.ehlo.as_ref().map(|g| i64::from(g.code)),
        ehlo_lines: r.ehlo.as_ref().map(|g| g.lines.clone()).unwrap_or_default(),
        helo_code: r.helo.as_ref().map(|g| i64::from(g.code)),
        starttls_offered: r.starttls_offered,
        starttls_code: r.starttls_reply.as_ref().map(|g| i64::from(g.code)),
        starttls_text: r.starttls_reply.as_ref().map(|g| text(&g.lines)),
        tls_completed: tls.is_some_and(|t| t.completed()),
        tls_version: tls.and_then(|t| t.version).map(|v| format!("{v:?}")),
        tls_cipher: tls.and_then(|t| t.cipher_suite).map(|c| format!("{c:?}")),
        tls_sni: tls.and_then(|t| t.sni.clone()),
        tls_error: tls.and_then(|t| t.outcome.as_ref().err().map(|e| format!("{e:?}"))),
        chain_sha256: tls
            .map(|t| t.chain_sha256.iter().map(|h| tls::hex(h)).collect())
            .unwrap_or_default(),
        chain_der: tls.map(|t| t.chain.clone()).unwrap_or_default(),
        ocsp_stapled: tls.is_some_and(|t| t.ocsp_stapled()),
        cert_status: r.cert.as_ref().map(|c| c.status.code().to_owned()),
        pkix_valid: r.cert.as_ref().is_some_and(pkix_valid),
        name_valid: r.cert.as_ref().is_some_and(name_valid),
        cert_failures: r
            .cert
            .as_ref()
            .map(|c| {
                cert_failure_codes(c)
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        ehlo_after_tls_code: r.ehlo_after_tls.as_ref().map(|g| i64::from(g.code)),
        ehlo_after_tls_lines: r
            .ehlo_after_tls
            .as_ref()
            .map(|g| g.lines.clone())
            .unwrap_or_default(),
        starttls_after_tls: r.starttls_after_tls,
        quit_code: r.quit_reply.as_ref().map(|g| i64::from(g.code)),
        dane_applicable,
        dane_outcome: dane.map(|v| dane_outcome_code(v).to_owned()),
        dane_matched: dane
            .and_then(|v| v.matched.as_ref())
            .map(|m| format!("{m:?}")),
        dane_findings: dane
            .map(|v| v.findings.iter().map(|f| f.code().to_owned()).collect())
            .unwrap_or_default(),
        failure: r.failure.map(|f| f.code().to_owned()),
        failure_phase: r.failure_phase.map(|p| phase_code(p).to_owned()),
        error_detail: r.error.as_ref().map(|e| format!("{e:?}")),
        transcript: r
            .transcript
            .lines
            .iter()
            .map(|l| {
                format!(
                    "+{}ms {}{} {}",
                    l.at.as_millis(),
                    match l.direction {
                        Direction::Sent => "C:",
                        Direction::Received => "S:",
                    },
                    if l.tls { " [tls]" } else { "" },
                    l.line
                )
            })
            .collect(),
        transcript_truncated: r.transcript.truncated,
        ehlo_ms: ms(r.timings.ehlo),
        starttls_ms: ms(r.timings.starttls),
        tls_ms: ms(r.timings.tls),
        total_ms: ms(r.timings.total),
    }
}

/// The row of an excluded address: nothing was sent.
pub fn excluded_smtp_row(mx_host: &str, ip: IpAddr, port: u16, now: i64) -> SmtpRow {
    SmtpRow {
        mx_host: mx_host.to_owned(),
        ip: ip.to_string(),
        port: i64::from(port),
        probed_at: now,
        excluded: true,
        connect: "not_attempted".to_owned(),
        ..SmtpRow::default()
    }
}

fn static_code(code: &str) -> Option<&'static str> {
    SmtpClass::from_code(code)
        .map(FailureClass::code)
        .or_else(|| CertClass::from_code(code).map(FailureClass::code))
        .or_else(|| CrawlClass::from_code(code).map(FailureClass::code))
        .or_else(|| FetchClass::from_code(code).map(FailureClass::code))
}

/// What the crawl keeps of one probe: the classifier's facts and the DANE failure class
/// (RFC 7672 verification of the served chain), reported only for domains where the host
/// is DANE-usable.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProbeFacts {
    /// For the classifier.
    pub ip: IpFacts,
    /// The `dane_*` class of a failed verification.
    pub dane_failure: Option<&'static str>,
}

/// [`ProbeFacts`] of an `smtp` row (live or recovered by `--resume`).
pub fn probe_facts_of(row: &SmtpRow) -> ProbeFacts {
    let ip = ip_facts_of(row);
    ProbeFacts {
        dane_failure: ip.dane_failure,
        ip,
    }
}

/// The classifier's facts of one probed address, read from its `smtp` row. Used for live
/// probes and for rows recovered by `--resume`, so both read the evidence alike.
pub fn ip_facts_of(row: &SmtpRow) -> IpFacts {
    if row.excluded {
        return IpFacts {
            failures: vec![CrawlClass::ExcludedAddress.code()],
            ..IpFacts::default()
        };
    }
    let mut failures: Vec<&'static str> = Vec::new();
    if let Some(f) = row.failure.as_deref().and_then(static_code) {
        failures.push(f);
    }
    if row.tls_completed {
        failures.extend(row.cert_failures.iter().filter_map(|c| static_code(c)));
    }
    let dane_match = match row.dane_outcome.as_deref() {
        None | Some("no_usable_records") => None,
        Some("authenticated") => Some(true),
        Some(_) => Some(false),
    };
    // The verifier's class, so that the classifier reports the DANE-TA subcase alone
    // rather than a blanket `tlsa_mismatch` (SPEC §F: the record may match the chain).
    let dane_failure = row
        .dane_outcome
        .as_deref()
        .and_then(mxcensus_proto::tlsa::DaneClass::from_code)
        .map(FailureClass::code);
    IpFacts {
        reached: row.greeting_code == Some(220),
        starttls: row.tls_completed,
        pkix_valid: row.tls_completed && row.pkix_valid,
        name_valid: row.tls_completed && row.name_valid,
        dane_match,
        dane_failure,
        failures,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mxcensus_proto::finding::check_class_table;

    #[test]
    fn crawl_classes_are_well_formed() {
        check_class_table::<CrawlClass>().unwrap();
    }

    #[test]
    fn ip_facts_from_rows() {
        let ok = SmtpRow {
            greeting_code: Some(220),
            tls_completed: true,
            pkix_valid: true,
            name_valid: true,
            dane_outcome: Some("authenticated".into()),
            ..SmtpRow::default()
        };
        let f = ip_facts_of(&ok);
        assert!(f.reached && f.starttls && f.pkix_valid && f.name_valid);
        assert_eq!(f.dane_match, Some(true));
        assert!(f.failures.is_empty());

        let no_tls = SmtpRow {
            greeting_code: Some(220),
            failure: Some("no_starttls".into()),
            cert_failures: vec!["cert_expired".into()],
            ..SmtpRow::default()
        };
        let f = ip_facts_of(&no_tls);
        assert!(f.reached && !f.starttls);
        assert_eq!(f.failures, ["no_starttls"]);

        let refused = SmtpRow {
            failure: Some("connect_refused".into()),
            ..SmtpRow::default()
        };
        assert!(!ip_facts_of(&refused).reached);

        let ex = excluded_smtp_row("mx.a.org", "192.0.2.1".parse().unwrap(), 25, 0);
        assert_eq!(ip_facts_of(&ex).failures, ["excluded_address"]);

        let code = mxcensus_proto::tlsa::DaneClass::ALL[0].code();
        let mismatch = SmtpRow {
            dane_outcome: Some(code.into()),
            ..ok.clone()
        };
        assert_eq!(ip_facts_of(&mismatch).dane_match, Some(false));
        assert_eq!(ip_facts_of(&mismatch).dane_failure, Some(code));
        assert_eq!(ip_facts_of(&ok).dane_failure, None);
        assert_eq!(probe_facts_of(&mismatch).dane_failure, Some(code));
        assert_eq!(probe_facts_of(&ok).dane_failure, None);
    }
}
