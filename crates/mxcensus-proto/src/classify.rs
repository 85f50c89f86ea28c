//! The verdict classifier: from measured facts about one domain to the headline columns
//! of the `domains` table (DESIGN.md, "Headline columns").
//!
//! The crawler turns probe results into the plain facts below ([`DomainFacts`]); this
//! module applies SPEC.md's rules to them. It never sees a socket, so every rule is unit
//! tested here. The rules, in short:
//!
//! - `mx_status` (RFC 5321 §5.1, RFC 7505): an MX answer whose records are all `0 .` is
//!   `null_mx`; other answers `ok` (null records mixed with real ones are ignored and
//!   flagged); NODATA or NXDOMAIN is `implicit` (the domain itself is the MX); a failed or
//!   bogus lookup is `error`.
//! - `dnssec` (SPEC §G) describes the MX RRset (or its denial): `unknown` when the
//!   resolver was not proven to validate, `bogus`, `error` for failed lookups, else
//!   `secure`/`insecure` from the AD bit.
//! - `sts_txt`, `tlsrpt`: `error` when the lookup failed or was bogus, `absent` for
//!   NXDOMAIN/NODATA, else the record evaluation's verdict (RFC 8461 §3.1, RFC 8460 §3).
//! - `sts_policy`: `not_attempted` unless `sts_txt` is valid; then `fetch_failed`,
//!   `invalid` or `valid` (RFC 8461 §3.2, §3.3). `sts_mode` comes from a valid policy.
//! - Per MX host, an IP address is *reached* when an SMTP session got past the greeting;
//!   unreachable addresses are not MTA-STS failures (RFC 8461 Appendix B) but a host none
//!   of whose addresses was reached passes nothing. A host *offers STARTTLS* when every
//!   reached address offered STARTTLS and completed a TLS handshake.
//! - `sts_mx_valid` (SPEC §D), for a valid policy in mode testing or enforce: a host
//!   passes when an `mx` pattern covers its MX record name and every reached address
//!   offered STARTTLS with a certificate valid under Web PKI for that name. `all`, `some`
//!   or `none` of the hosts pass. With no MX host at all, `none`.
//! - `starttls`: `error` when the MX set could not be learned, null for `null_mx`, else
//!   how many hosts offer STARTTLS.
//! - `dane` (SPEC §F, RFC 7672 §2.2): null for `null_mx`; `error` when the MX set could
//!   not be learned or the resolver does not validate (DANE-usable cannot be told); `none`
//!   when the MX RRset is insecure. Otherwise per host: a bogus or failed TLSA lookup is
//!   *broken* (DANE senders defer, §2.1.2); a host whose address RRset is insecure, or
//!   with no secure TLSA, or no usable record, is not DANE; with usable TLSA, every reached
//!   address must offer STARTTLS and match (else *broken*: `tlsa_but_no_starttls`, or
//!   the verifier's class of the failed match, [`IpFacts::dane_failure`]: `tlsa_mismatch`
//!   when no usable record matches the chain, a DANE-TA subcase when the anchor is
//!   missing from the chain, the path is invalid or the leaf names another host, which
//!   are not also `tlsa_mismatch`). Domain: any broken host -> `broken`; every host DANE-valid
//!   -> `all`; some -> `partial`; else `none`.
//! - `error_classes`: every failure met (Error-severity findings, fetch, SMTP,
//!   certificate, DNSSEC and DANE classes), sorted and unique. Absence (no record) is not
//!   a failure and is not listed; `no_sts_record` (TXT records without an STSv1 one) is,
//!   because SPEC §A lists it among the TXT failure classes.

use std::collections::BTreeSet;

use crate::finding::{FailureClass, Severity};
use crate::mx_pattern::{MxPattern, policy_covers};
use crate::policy::PolicyEvaluation;
use crate::sts_txt::StsTxtEvaluation;
use crate::tlsa::TlsaRecord;
use crate::tlsrpt::TlsRptEvaluation;
use crate::verdict::{
    Dane, Dnssec, MxStatus, Starttls, StsMode, StsMxValid, StsPolicy, StsTxt, TlsRpt,
};

/// How a lookup that did not produce an answer failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LookupFailure {
    /// SERVFAIL, also with CD set (not bogus).
    ServFail,
    /// No answer within the retries.
    Timeout,
    /// REFUSED.
    Refused,
    /// Any other error (FORMERR, malformed reply, network).
    Other,
}

/// The outcome of one DNS lookup, reduced to what verdicts depend on. `secure` is the AD
/// bit of a validating resolver (meaningless when the resolver does not validate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Records of the asked type.
    Answer {
        /// AD set.
        secure: bool,
    },
    /// The name does not exist.
    NxDomain {
        /// AD set (authenticated denial).
        secure: bool,
    },
    /// The name exists without records of the type.
    NoData {
        /// AD set (authenticated denial).
        secure: bool,
    },
    /// SERVFAIL without CD, data with CD: the validator judged it bogus.
    Bogus,
    /// No usable answer.
    Failed(LookupFailure),
}

impl Lookup {
    fn is_error(self) -> bool {
        matches!(self, Lookup::Bogus | Lookup::Failed(_))
    }

    fn secure(self) -> bool {
        matches!(
            self,
            Lookup::Answer { secure: true }
                | Lookup::NxDomain { secure: true }
                | Lookup::NoData { secure: true }
        )
    }

    fn error_code(self, prefix: &'static str) -> Option<&'static str> {
        // One code per (record kind, failure) so studies can count them apart.
        let bogus = matches!(self, Lookup::Bogus);
        let failed = matches!(self, Lookup::Failed(_));
        match (prefix, bogus, failed) {
            ("mx", true, _) => Some("mx_bogus"),
            ("mx", _, true) => Some("mx_dns_error"),
            ("txt", true, _) => Some("txt_bogus"),
            ("txt", _, true) => Some("txt_dns_error"),
            ("tlsrpt", true, _) => Some("tlsrpt_bogus"),
            ("tlsrpt", _, true) => Some("tlsrpt_dns_error"),
            ("addr", true, _) => Some("mx_address_bogus"),
            ("addr", _, true) => Some("mx_address_dns_error"),
            ("tlsa", true, _) => Some("tlsa_bogus"),
            ("tlsa", _, true) => Some("tlsa_lookup_error"),
            _ => None,
        }
    }
}

/// One MX record as found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxRecord {
    /// Preference.
    pub preference: u16,
    /// Exchange, normalised (lowercase, no trailing dot); empty for the null MX `.`.
    pub exchange: String,
}

/// What the policy fetch gave.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicyFacts<'a> {
    /// No fetch (no valid TXT record).
    NotFetched,
    /// The fetch failed with this class (SPEC §B vocabulary).
    FetchFailed(&'static str),
    /// A 200 response whose body was evaluated.
    Fetched(&'a PolicyEvaluation),
}

/// The TLSA lookup for one host (`_25._tcp.<host>`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsaFacts {
    /// Not asked (MX RRset or address RRset not secure, RFC 7672 §2.2).
    NotQueried,
    /// Asked; records present only for [`Lookup::Answer`].
    Queried {
        /// The lookup.
        lookup: Lookup,
        /// The records.
        records: Vec<TlsaRecord>,
    },
}

/// One probed address of an MX host.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpFacts {
    /// An SMTP session got past a 220 greeting.
    pub reached: bool,
    /// STARTTLS was offered and the TLS handshake completed.
    pub starttls: bool,
    /// The chain is valid under Web PKI (trusted issuer, dates).
    pub pkix_valid: bool,
    /// The certificate is valid for the MX host name (SAN DNS-ID, RFC 8461 §4.2).
    pub name_valid: bool,
    /// DANE verification of the served chain against the host's usable TLSA (`None`
    /// when the host is not DANE-usable or no chain was served).
    pub dane_match: Option<bool>,
    /// The failure class of a failed match (`tlsa_mismatch` or a `dane_ta_*` subcase,
    /// RFC 7672 §3; `tlsa::DaneClass` codes); `None` reads as `tlsa_mismatch`.
    pub dane_failure: Option<&'static str>,
    /// Failure classes met on this address (SMTP, TLS, certificate), SPEC vocabulary.
    pub failures: Vec<&'static str>,
}

/// One MX host (or the domain itself for an implicit MX).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    /// MX record name (never a CNAME target: RFC 8461 §4.1), normalised.
    pub name: String,
    /// The address lookup (A and AAAA together: an answer if either had one).
    pub addresses: Lookup,
    /// The TLSA lookup.
    pub tlsa: TlsaFacts,
    /// Each probed address.
    pub ips: Vec<IpFacts>,
}

/// Everything measured about one domain.
#[derive(Clone, Debug, PartialEq)]
pub struct DomainFacts<'a> {
    /// Canaries proved the resolver validates (SPEC §G step 6).
    pub validator_ok: bool,
    /// The MX lookup.
    pub mx_lookup: Lookup,
    /// The MX records (empty unless an answer).
    pub mx_records: Vec<MxRecord>,
    /// The `_mta-sts` TXT lookup.
    pub sts_txt_lookup: Lookup,
    /// Its evaluation, for an answer.
    pub sts_txt: Option<&'a StsTxtEvaluation>,
    /// The policy fetch.
    pub policy: PolicyFacts<'a>,
    /// The `_smtp._tls` TXT lookup.
    pub tlsrpt_lookup: Lookup,
    /// Its evaluation, for an answer.
    pub tlsrpt: Option<&'a TlsRptEvaluation>,
    /// The mail hosts, in preference order: MX exchanges, or the domain when implicit.
    pub hosts: Vec<HostFacts>,
}

/// Per-host judgement, for the `mx` table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostVerdict {
    /// Host name.
    pub name: String,
    /// Index of the policy pattern that covers it; `None` when none or no policy.
    pub covered_by: Option<usize>,
    /// Some address was reached.
    pub reached: bool,
    /// Every reached address offered STARTTLS and completed TLS.
    pub starttls_ok: bool,
    /// Every reached address presented a certificate valid for the host (Web PKI).
    pub cert_ok: bool,
    /// Passes the policy: covered, STARTTLS, certificate (SPEC §D).
    pub sts_valid: bool,
    /// MX secure, address secure, TLSA secure with a usable record (SPEC §F).
    pub dane_usable: bool,
    /// DANE-usable and every reached address matched.
    pub dane_valid: bool,
    /// Bogus/failed TLSA, or usable TLSA that failed.
    pub dane_broken: bool,
}

/// The headline verdicts of one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainVerdict {
    /// `mx_status`.
    pub mx_status: MxStatus,
    /// `sts_txt`.
    pub sts_txt: StsTxt,
    /// `sts_policy`.
    pub sts_policy: StsPolicy,
    /// `sts_mode`.
    pub sts_mode: Option<StsMode>,
    /// `sts_mx_valid`.
    pub sts_mx_valid: Option<StsMxValid>,
    /// `starttls`.
    pub starttls: Option<Starttls>,
    /// `tlsrpt`.
    pub tlsrpt: TlsRpt,
    /// `dnssec`.
    pub dnssec: Dnssec,
    /// `dane`.
    pub dane: Option<Dane>,
    /// `error_classes`, sorted and unique.
    pub error_classes: Vec<String>,
    /// Per host.
    pub hosts: Vec<HostVerdict>,
}

fn note(code: Option<&'static str>, errors: &mut BTreeSet<String>) {
    if let Some(c) = code {
        errors.insert(c.to_owned());
    }
}

fn count3<T>(pass: usize, total: usize, all: T, some: T, none: T) -> T {
    if total > 0 && pass == total {
        all
    } else if pass > 0 {
        some
    } else {
        none
    }
}

/// Informational classes that SPEC nevertheless lists among the failure classes, so that
/// studies can count them: `no_sts_record` (SPEC §A: TXT records at `_mta-sts`, none of
/// them STSv1; the verdict stays `absent`).
const LISTED_INFO_CLASSES: &[&str] = &["no_sts_record"];

fn error_findings<C: FailureClass>(
    findings: &[crate::finding::Finding<C>],
    out: &mut BTreeSet<String>,
) {
    for f in findings {
        if f.severity() == Severity::Error || LISTED_INFO_CLASSES.contains(&f.code()) {
            out.insert(f.code().to_owned());
        }
    }
}

/// Applies the rules of the module documentation.
pub fn classify(facts: &DomainFacts<'_>) -> DomainVerdict {
    let mut errors: BTreeSet<String> = BTreeSet::new();

    // MX set.
    let real_mx = facts
        .mx_records
        .iter()
        .filter(|r| !r.exchange.is_empty())
        .count();
    let mx_status = match facts.mx_lookup {
        Lookup::Answer { .. } if real_mx == 0 && !facts.mx_records.is_empty() => MxStatus::NullMx,
        Lookup::Answer { .. } if real_mx == 0 => MxStatus::Implicit,
        Lookup::Answer { .. } => {
            if real_mx < facts.mx_records.len() {
                errors.insert("null_mx_mixed".to_owned());
            }
            MxStatus::Ok
        }
        Lookup::NxDomain { .. } | Lookup::NoData { .. } => MxStatus::Implicit,
        Lookup::Bogus | Lookup::Failed(_) => MxStatus::Error,
    };
    note(facts.mx_lookup.error_code("mx"), &mut errors);
    let mx_known = mx_status != MxStatus::Error;

    let dnssec = if !facts.validator_ok {
        Dnssec::Unknown
    } else {
        match facts.mx_lookup {
            Lookup::Bogus => Dnssec::Bogus,
            Lookup::Failed(_) => Dnssec::Error,
            l if l.secure() => Dnssec::Secure,
            _ => Dnssec::Insecure,
        }
    };

    // MTA-STS TXT.
    let sts_txt = match (facts.sts_txt_lookup, facts.sts_txt) {
        (l, _) if l.is_error() => StsTxt::Error,
        (Lookup::Answer { .. }, Some(eval)) => {
            error_findings(&eval.findings, &mut errors);
            eval.verdict
        }
        _ => StsTxt::Absent,
    };
    note(facts.sts_txt_lookup.error_code("txt"), &mut errors);

    // Policy.
    let (sts_policy, policy) = if sts_txt != StsTxt::Valid {
        (StsPolicy::NotAttempted, None)
    } else {
        match &facts.policy {
            PolicyFacts::NotFetched => (StsPolicy::NotAttempted, None),
            PolicyFacts::FetchFailed(code) => {
                errors.insert((*code).to_owned());
                (StsPolicy::FetchFailed, None)
            }
            PolicyFacts::Fetched(eval) => {
                error_findings(&eval.findings, &mut errors);
                if eval.valid {
                    (StsPolicy::Valid, eval.policy.as_ref())
                } else {
                    (StsPolicy::Invalid, None)
                }
            }
        }
    };
    let sts_mode = policy.map(|p| p.mode);
    let patterns: &[MxPattern] = policy.map_or(&[], |p| p.mx.as_slice());

    // TLS-RPT.
    let tlsrpt = match (facts.tlsrpt_lookup, facts.tlsrpt) {
        (l, _) if l.is_error() => TlsRpt::Error,
        (Lookup::Answer { .. }, Some(eval)) => {
            error_findings(&eval.findings, &mut errors);
            eval.verdict
        }
        _ => TlsRpt::Absent,
    };
    note(facts.tlsrpt_lookup.error_code("tlsrpt"), &mut errors);

    // Hosts.
    let mx_secure = facts.validator_ok && facts.mx_lookup.secure();
    let mut hosts = Vec::with_capacity(facts.hosts.len());
    if mx_status != MxStatus::NullMx && mx_known {
        for h in &facts.hosts {
            hosts.push(judge_host(
                h,
                patterns,
                mx_secure,
                facts.validator_ok,
                &mut errors,
            ));
        }
    }

    let starttls = match mx_status {
        MxStatus::Error => Some(Starttls::Error),
        MxStatus::NullMx => None,
        _ => {
            let ok = hosts.iter().filter(|h| h.starttls_ok).count();
            Some(count3(
                ok,
                hosts.len(),
                Starttls::All,
                Starttls::Some,
                Starttls::None,
            ))
        }
    };

    let sts_mx_valid = match sts_mode {
        Some(StsMode::Enforce | StsMode::Testing) => {
            let ok = hosts.iter().filter(|h| h.sts_valid).count();
            Some(count3(
                ok,
                hosts.len(),
                StsMxValid::All,
                StsMxValid::Some,
                StsMxValid::None,
            ))
        }
        _ => None,
    };
    if sts_mode == Some(StsMode::Enforce) && sts_mx_valid == Some(StsMxValid::None) {
        errors.insert("sts_enforce_without_any_valid_mx".to_owned());
    }

    let dane = match mx_status {
        MxStatus::NullMx => None,
        MxStatus::Error => Some(Dane::Error),
        _ if !facts.validator_ok => Some(Dane::Error),
        // Whatever the hosts publish, DANE does not apply behind an insecure MX RRset.
        _ if !mx_secure => Some(Dane::None),
        _ => {
            let valid = hosts.iter().filter(|h| h.dane_valid).count();
            if hosts.iter().any(|h| h.dane_broken) {
                Some(Dane::Broken)
            } else {
                Some(count3(
                    valid,
                    hosts.len(),
                    Dane::All,
                    Dane::Partial,
                    Dane::None,
                ))
            }
        }
    };

    DomainVerdict {
        mx_status,
        sts_txt,
        sts_policy,
        sts_mode,
        sts_mx_valid,
        starttls,
        tlsrpt,
        dnssec,
        dane,
        error_classes: errors.into_iter().collect(),
        hosts,
    }
}

fn judge_host(
    h: &HostFacts,
    patterns: &[MxPattern],
    mx_secure: bool,
    validator_ok: bool,
    errors: &mut BTreeSet<String>,
) -> HostVerdict {
    if let Some(code) = h.addresses.error_code("addr") {
        errors.insert(code.to_owned());
    }
    if matches!(h.addresses, Lookup::NxDomain { .. } | Lookup::NoData { .. }) {
        errors.insert("mx_no_address".to_owned());
    }
    let reached: Vec<&IpFacts> = h.ips.iter().filter(|ip| ip.reached).collect();
    for ip in &h.ips {
        for f in &ip.failures {
            errors.insert((*f).to_owned());
        }
    }
    let any_reached = !reached.is_empty();
    let starttls_ok = any_reached && reached.iter().all(|ip| ip.starttls);
    let cert_ok = starttls_ok && reached.iter().all(|ip| ip.pkix_valid && ip.name_valid);
    let covered_by = policy_covers(patterns, &h.name);
    let sts_valid = covered_by.is_some() && starttls_ok && cert_ok;
    if !patterns.is_empty() && covered_by.is_none() {
        errors.insert("mx_not_covered".to_owned());
    }

    // DANE (RFC 7672 §2.2): only behind a secure MX RRset and secure addresses.
    let mut dane_usable = false;
    let mut dane_broken = false;
    let address_secure = validator_ok && h.addresses.secure();
    if let TlsaFacts::Queried { lookup, records } = &h.tlsa {
        if let Some(code) = lookup.error_code("tlsa") {
            errors.insert(code.to_owned());
            // An error or bogus TLSA answer makes the host unusable for DANE senders
            // (§2.1.2) only where DANE applies.
            if mx_secure {
                dane_broken = true;
            }
        } else if matches!(lookup, Lookup::Answer { .. }) && !records.is_empty() {
            if !mx_secure {
                errors.insert("tlsa_behind_insecure_mx".to_owned());
            } else if !lookup.secure() || !address_secure {
                errors.insert("tlsa_insecure".to_owned());
            } else if records.iter().any(|r| r.usability().is_usable()) {
                dane_usable = true;
            } else {
                let all_pkix = records.iter().all(|r| r.usage < 2);
                errors.insert(
                    if all_pkix {
                        "only_pkix_usages"
                    } else {
                        "tlsa_unusable_params"
                    }
                    .to_owned(),
                );
            }
        }
    }
    let mut dane_valid = false;
    if dane_usable && any_reached {
        let all_tls = reached.iter().all(|ip| ip.starttls);
        let all_match = reached.iter().all(|ip| ip.dane_match == Some(true));
        if !all_tls {
            errors.insert("tlsa_but_no_starttls".to_owned());
            dane_broken = true;
        } else if !all_match {
            // One class per failed address: the verifier's diagnosis, which names why
            // the chain does not authenticate (a DANE-TA path whose anchor matches but
            // whose leaf names another host is not a record mismatch).
            for ip in reached.iter().filter(|ip| ip.dane_match != Some(true)) {
                errors.insert(ip.dane_failure.unwrap_or("tlsa_mismatch").to_owned());
            }
            dane_broken = true;
        } else {
            dane_valid = true;
        }
    }

    HostVerdict {
        name: h.name.clone(),
        covered_by,
        reached: any_reached,
        starttls_ok,
        cert_ok,
        sts_valid,
        dane_usable,
        dane_valid,
        dane_broken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_policy;
    use crate::sts_txt::evaluate_sts_records;
    use crate::tlsrpt::evaluate_tlsrpt_records;

    const SECURE: Lookup = Lookup::Answer { secure: true };
    const INSECURE: Lookup = Lookup::Answer { secure: false };
    const NODATA: Lookup = Lookup::NoData { secure: false };

    fn good_ip() -> IpFacts {
        IpFacts {
            reached: true,
            starttls: true,
            pkix_valid: true,
            name_valid: true,
            dane_match: None,
            dane_failure: None,
            failures: vec![],
        }
    }

    fn host(name: &str, ips: Vec<IpFacts>) -> HostFacts {
        HostFacts {
            name: name.to_owned(),
            addresses: INSECURE,
            tlsa: TlsaFacts::NotQueried,
            ips,
        }
    }

    fn mx(names: &[&str]) -> Vec<MxRecord> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| MxRecord {
                preference: 10 * (i as u16 + 1),
                exchange: (*n).to_owned(),
            })
            .collect()
    }

    struct World {
        txt: StsTxtEvaluation,
        policy: PolicyEvaluation,
        rpt: TlsRptEvaluation,
    }

    fn world(policy: &str) -> World {
        World {
            txt: evaluate_sts_records(&["v=STSv1; id=1;"]),
            policy: parse_policy(policy.as_bytes()),
            rpt: evaluate_tlsrpt_records(&["v=TLSRPTv1; rua=mailto:r@example.org"]),
        }
    }

    fn facts<'a>(w: &'a World, hosts: Vec<HostFacts>) -> DomainFacts<'a> {
        let names: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
        DomainFacts {
            validator_ok: true,
            mx_lookup: INSECURE,
            mx_records: mx(&names),
            sts_txt_lookup: INSECURE,
            sts_txt: Some(&w.txt),
            policy: PolicyFacts::Fetched(&w.policy),
            tlsrpt_lookup: INSECURE,
            tlsrpt: Some(&w.rpt),
            hosts,
        }
    }

    const ENFORCE: &str = "version: STSv1\nmode: enforce\nmx: *.mail.org\nmax_age: 86400\n";

    #[test]
    fn all_good_enforce_domain() {
        let w = world(ENFORCE);
        let f = facts(
            &w,
            vec![
                host("a.mail.org", vec![good_ip()]),
                host("b.mail.org", vec![good_ip()]),
            ],
        );
        let v = classify(&f);
        assert_eq!(v.mx_status, MxStatus::Ok);
        assert_eq!(v.sts_txt, StsTxt::Valid);
        assert_eq!(v.sts_policy, StsPolicy::Valid);
        assert_eq!(v.sts_mode, Some(StsMode::Enforce));
        assert_eq!(v.sts_mx_valid, Some(StsMxValid::All));
        assert_eq!(v.starttls, Some(Starttls::All));
        assert_eq!(v.tlsrpt, TlsRpt::Valid);
        assert_eq!(v.dnssec, Dnssec::Insecure);
        assert_eq!(v.dane, Some(Dane::None));
        assert!(v.error_classes.is_empty(), "{:?}", v.error_classes);
    }

    #[test]
    fn uncovered_or_bad_cert_mx_makes_some_then_none() {
        let w = world(ENFORCE);
        let mut bad = good_ip();
        bad.name_valid = false;
        bad.failures = vec!["cert_name_mismatch"];
        let f = facts(
            &w,
            vec![
                host("a.mail.org", vec![good_ip()]),
                host("mx.other.net", vec![good_ip()]),
            ],
        );
        let v = classify(&f);
        assert_eq!(v.sts_mx_valid, Some(StsMxValid::Some));
        assert!(v.error_classes.contains(&"mx_not_covered".to_owned()));
        let f = facts(&w, vec![host("a.mail.org", vec![bad])]);
        let v = classify(&f);
        assert_eq!(v.sts_mx_valid, Some(StsMxValid::None));
        assert_eq!(
            v.starttls,
            Some(Starttls::All),
            "certificate failure is not a STARTTLS failure"
        );
        assert!(
            v.error_classes
                .contains(&"sts_enforce_without_any_valid_mx".to_owned())
        );
        assert!(v.error_classes.contains(&"cert_name_mismatch".to_owned()));
    }

    #[test]
    fn unreachable_addresses_do_not_fail_a_reached_host() {
        let w = world(ENFORCE);
        let down = IpFacts {
            failures: vec!["connect_timeout"],
            ..IpFacts::default()
        };
        let v = classify(&facts(
            &w,
            vec![host("a.mail.org", vec![down.clone(), good_ip()])],
        ));
        assert_eq!(v.starttls, Some(Starttls::All));
        assert_eq!(v.sts_mx_valid, Some(StsMxValid::All));
        let v = classify(&facts(&w, vec![host("a.mail.org", vec![down])]));
        assert_eq!(v.starttls, Some(Starttls::None));
        assert_eq!(v.sts_mx_valid, Some(StsMxValid::None));
    }

    #[test]
    fn mode_none_testing_and_invalid_policies() {
        let w = world("version: STSv1\nmode: none\nmax_age: 86400\n");
        let v = classify(&facts(&w, vec![host("a.mail.org", vec![good_ip()])]));
        assert_eq!(v.sts_mode, Some(StsMode::None));
        assert_eq!(v.sts_mx_valid, None);
        let w = world("version: STSv1\nmode: testing\nmx: a.mail.org\nmax_age: 86400\n");
        let v = classify(&facts(&w, vec![host("a.mail.org", vec![good_ip()])]));
        assert_eq!(v.sts_mx_valid, Some(StsMxValid::All));
        let w = world("version: STSv1\nmode: Enforce\nmx: a.mail.org\nmax_age: 86400\n");
        let v = classify(&facts(&w, vec![host("a.mail.org", vec![good_ip()])]));
        assert_eq!(v.sts_policy, StsPolicy::Invalid);
        assert_eq!((v.sts_mode, v.sts_mx_valid), (None, None));
        assert!(v.error_classes.contains(&"bad_mode".to_owned()));
    }

    #[test]
    fn txt_absent_error_and_fetch_failure() {
        let w = world(ENFORCE);
        let mut f = facts(&w, vec![host("a.mail.org", vec![good_ip()])]);
        f.sts_txt_lookup = NODATA;
        f.sts_txt = None;
        let v = classify(&f);
        assert_eq!(
            (v.sts_txt, v.sts_policy),
            (StsTxt::Absent, StsPolicy::NotAttempted)
        );
        let other = evaluate_sts_records(&["v=spf1 -all"]);
        f.sts_txt_lookup = INSECURE;
        f.sts_txt = Some(&other);
        let v = classify(&f);
        assert_eq!(v.sts_txt, StsTxt::Absent);
        assert!(v.error_classes.contains(&"no_sts_record".to_owned()));
        f.sts_txt = None;
        f.sts_txt_lookup = Lookup::Failed(LookupFailure::Timeout);
        let v = classify(&f);
        assert_eq!(v.sts_txt, StsTxt::Error);
        assert!(v.error_classes.contains(&"txt_dns_error".to_owned()));
        let mut f = facts(&w, vec![host("a.mail.org", vec![good_ip()])]);
        f.policy = PolicyFacts::FetchFailed("http_redirect");
        let v = classify(&f);
        assert_eq!(v.sts_policy, StsPolicy::FetchFailed);
        assert_eq!(v.error_classes, ["http_redirect"]);
        let two = evaluate_sts_records(&["v=STSv1; id=1;", "v=STSv1; id=2;"]);
        let mut f = facts(&w, vec![]);
        f.sts_txt = Some(&two);
        assert_eq!(classify(&f).sts_txt, StsTxt::Multiple);
    }

    #[test]
    fn null_implicit_and_failed_mx() {
        let w = world(ENFORCE);
        let mut f = facts(&w, vec![]);
        f.mx_records = vec![MxRecord {
            preference: 0,
            exchange: String::new(),
        }];
        let v = classify(&f);
        assert_eq!(
            (v.mx_status, v.starttls, v.dane),
            (MxStatus::NullMx, None, None)
        );

        let mut f = facts(&w, vec![host("example.org", vec![good_ip()])]);
        f.mx_lookup = NODATA;
        f.mx_records.clear();
        let v = classify(&f);
        assert_eq!(v.mx_status, MxStatus::Implicit);
        assert_eq!(v.starttls, Some(Starttls::All));

        let mut f = facts(&w, vec![]);
        f.mx_lookup = Lookup::Bogus;
        f.mx_records.clear();
        let v = classify(&f);
        assert_eq!(
            (v.mx_status, v.dnssec, v.starttls, v.dane),
            (
                MxStatus::Error,
                Dnssec::Bogus,
                Some(Starttls::Error),
                Some(Dane::Error)
            )
        );
        assert!(v.error_classes.contains(&"mx_bogus".to_owned()));

        f.validator_ok = false;
        f.mx_lookup = INSECURE;
        f.mx_records = mx(&["a.mail.org"]);
        f.hosts = vec![host("a.mail.org", vec![good_ip()])];
        let v = classify(&f);
        assert_eq!((v.dnssec, v.dane), (Dnssec::Unknown, Some(Dane::Error)));
    }

    fn tlsa_host(name: &str, lookup: Lookup, record: &str, dane_match: Option<bool>) -> HostFacts {
        let mut ip = good_ip();
        ip.dane_match = dane_match;
        HostFacts {
            name: name.to_owned(),
            addresses: SECURE,
            tlsa: TlsaFacts::Queried {
                lookup,
                records: vec![TlsaRecord::from_presentation(record).expect("tlsa")],
            },
            ips: vec![ip],
        }
    }

    const T311: &str = "3 1 1 0000000000000000000000000000000000000000000000000000000000000000";

    #[test]
    fn dane_all_partial_broken_none() {
        let w = world(ENFORCE);
        let dane_facts = |hosts| {
            let mut f = facts(&w, hosts);
            f.mx_lookup = SECURE;
            f
        };
        let v = classify(&dane_facts(vec![tlsa_host(
            "a.mail.org",
            SECURE,
            T311,
            Some(true),
        )]));
        assert_eq!((v.dnssec, v.dane), (Dnssec::Secure, Some(Dane::All)));

        let v = classify(&dane_facts(vec![
            tlsa_host("a.mail.org", SECURE, T311, Some(true)),
            host("b.mail.org", vec![good_ip()]),
        ]));
        assert_eq!(v.dane, Some(Dane::Partial));

        let v = classify(&dane_facts(vec![tlsa_host(
            "a.mail.org",
            SECURE,
            T311,
            Some(false),
        )]));
        assert_eq!(v.dane, Some(Dane::Broken));
        assert!(v.error_classes.contains(&"tlsa_mismatch".to_owned()));

        // A DANE-TA subcase is the class of the failure, without `tlsa_mismatch`.
        let mut ta = tlsa_host("a.mail.org", SECURE, T311, Some(false));
        ta.ips[0].dane_failure = Some("dane_ta_name_mismatch");
        let v = classify(&dane_facts(vec![ta]));
        assert_eq!(v.dane, Some(Dane::Broken));
        assert!(
            v.error_classes
                .contains(&"dane_ta_name_mismatch".to_owned())
        );
        assert!(!v.error_classes.contains(&"tlsa_mismatch".to_owned()));

        let v = classify(&dane_facts(vec![tlsa_host(
            "a.mail.org",
            Lookup::Bogus,
            T311,
            None,
        )]));
        assert_eq!(v.dane, Some(Dane::Broken));

        // TLSA in an unsigned zone under a signed MX RRset: not DANE.
        let v = classify(&dane_facts(vec![tlsa_host(
            "a.mail.org",
            INSECURE,
            T311,
            None,
        )]));
        assert_eq!(v.dane, Some(Dane::None));
        assert!(v.error_classes.contains(&"tlsa_insecure".to_owned()));

        // Only PKIX usages: secure but unusable.
        let v = classify(&dane_facts(vec![tlsa_host(
            "a.mail.org",
            SECURE,
            "1 1 1 0000000000000000000000000000000000000000000000000000000000000000",
            None,
        )]));
        assert_eq!(v.dane, Some(Dane::None));
        assert!(v.error_classes.contains(&"only_pkix_usages".to_owned()));

        // Insecure MX RRset: none, whatever the hosts publish.
        let mut f = dane_facts(vec![tlsa_host("a.mail.org", SECURE, T311, Some(true))]);
        f.mx_lookup = INSECURE;
        let v = classify(&f);
        assert_eq!(v.dane, Some(Dane::None));
        assert!(
            v.error_classes
                .contains(&"tlsa_behind_insecure_mx".to_owned())
        );

        // Usable TLSA but the server does not offer STARTTLS.
        let mut h = tlsa_host("a.mail.org", SECURE, T311, None);
        h.ips[0].starttls = false;
        let v = classify(&dane_facts(vec![h]));
        assert_eq!(
            (v.dane, v.starttls),
            (Some(Dane::Broken), Some(Starttls::None))
        );
        assert!(v.error_classes.contains(&"tlsa_but_no_starttls".to_owned()));
    }
}
