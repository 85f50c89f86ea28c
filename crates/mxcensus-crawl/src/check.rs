//! What a failure code means for a person: its severity, RFC reference, one-line fix and
//! the part of the set-up it belongs to, looked up in every class table (proto's record,
//! policy, certificate and DANE classes, the probes' SMTP and fetch classes, the crawl's
//! own classes and the verdict classes). `mxcensus check` prints these next to the
//! evidence.

use mxcensus_probe::policy_fetch::FetchClass;
use mxcensus_probe::smtp::SmtpClass;
use mxcensus_proto::cert::CertClass;
use mxcensus_proto::finding::{FailureClass, Severity};
use mxcensus_proto::policy::PolicyClass;
use mxcensus_proto::sts_txt::StsTxtClass;
use mxcensus_proto::tlsa::DaneClass;
use mxcensus_proto::tlsrpt::TlsRptClass;

pub use mxcensus_dataset::manifest::Canary;

use crate::card::VerdictClass;
use crate::facts::CrawlClass;

/// The part of a mail set-up a class belongs to (a section of `mxcensus check`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Area {
    /// The MX RRset.
    Mx,
    /// The `_mta-sts` TXT record.
    StsTxt,
    /// The MTA-STS policy (host, fetch, body, MX coverage).
    Policy,
    /// An MX host: addresses, STARTTLS, certificate, DANE.
    Host,
    /// The `_smtp._tls` TXT record.
    TlsRpt,
}

impl Area {
    /// The lowercase name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Area::Mx => "mx",
            Area::StsTxt => "sts_txt",
            Area::Policy => "policy",
            Area::Host => "host",
            Area::TlsRpt => "tlsrpt",
        }
    }
}

/// What a failure code means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ClassInfo {
    /// The stable code.
    pub code: &'static str,
    /// How much it matters.
    pub severity: Severity,
    /// The RFC section (or project rule) it comes from.
    pub reference: &'static str,
    /// A one-line fix for the publisher.
    pub fix: &'static str,
    /// Where it belongs.
    pub area: Area,
}

fn info_of<C: FailureClass>(code: &str, area: Area) -> Option<ClassInfo> {
    C::from_code(code).map(|c| ClassInfo {
        code: c.code(),
        severity: c.severity(),
        reference: c.reference(),
        fix: c.fix(),
        area,
    })
}

fn verdict_area(class: VerdictClass) -> Area {
    match class {
        VerdictClass::MxBogus | VerdictClass::MxDnsError | VerdictClass::NullMxMixed => Area::Mx,
        VerdictClass::TxtBogus | VerdictClass::TxtDnsError => Area::StsTxt,
        VerdictClass::TlsrptBogus | VerdictClass::TlsrptDnsError => Area::TlsRpt,
        VerdictClass::MxNotCovered | VerdictClass::StsEnforceWithoutAnyValidMx => Area::Policy,
        _ => Area::Host,
    }
}

/// Looks `code` up in every class table. The first table that knows the code wins
/// (verdict, records, policy, fetch, crawl, SMTP, DANE, certificate); a code shared by
/// several tables (`connect_refused`, `cert_expired`, ...) is better looked up with
/// [`class_info_in`], which knows where it was met.
pub fn class_info(code: &str) -> Option<ClassInfo> {
    [
        Area::Mx,
        Area::StsTxt,
        Area::TlsRpt,
        Area::Policy,
        Area::Host,
    ]
    .into_iter()
    .find_map(|area| class_info_in(code, area))
}

/// Looks `code` up in the tables of one area only: the class as met there (an SMTP
/// `connect_refused` on a host, a fetch `connect_refused` on the policy host).
pub fn class_info_in(code: &str, area: Area) -> Option<ClassInfo> {
    if let Some(v) = VerdictClass::from_code(code) {
        return (verdict_area(v) == area)
            .then(|| info_of::<VerdictClass>(code, area))
            .flatten();
    }
    match area {
        Area::Mx => None,
        Area::StsTxt => info_of::<StsTxtClass>(code, area),
        Area::TlsRpt => info_of::<TlsRptClass>(code, area),
        Area::Policy => info_of::<PolicyClass>(code, area)
            .or_else(|| info_of::<FetchClass>(code, area))
            .or_else(|| info_of::<CrawlClass>(code, area))
            .or_else(|| info_of::<CertClass>(code, area)),
        Area::Host => info_of::<SmtpClass>(code, area)
            .or_else(|| info_of::<DaneClass>(code, area))
            .or_else(|| info_of::<CertClass>(code, area)),
    }
}

/// The area of a domain-level code: a verdict class, or a finding of the TXT records or
/// the policy body. Codes of the probes (fetch, SMTP, certificate, DANE) are `None`: they
/// belong where the probe met them, which only the rows say.
pub fn record_area(code: &str) -> Option<Area> {
    if let Some(v) = VerdictClass::from_code(code) {
        return Some(verdict_area(v));
    }
    if StsTxtClass::from_code(code).is_some() {
        Some(Area::StsTxt)
    } else if TlsRptClass::from_code(code).is_some() {
        Some(Area::TlsRpt)
    } else if PolicyClass::from_code(code).is_some() {
        Some(Area::Policy)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_reachable_by_code() {
        fn all<C: FailureClass>() -> Vec<&'static str> {
            C::ALL.iter().map(|c| c.code()).collect()
        }
        let codes = [
            all::<VerdictClass>(),
            all::<StsTxtClass>(),
            all::<TlsRptClass>(),
            all::<PolicyClass>(),
            all::<FetchClass>(),
            all::<CrawlClass>(),
            all::<SmtpClass>(),
            all::<DaneClass>(),
            all::<CertClass>(),
        ];
        for code in codes.iter().flatten() {
            let info = class_info(code).unwrap_or_else(|| panic!("{code} unknown"));
            assert_eq!(info.code, *code);
            assert!(!info.fix.is_empty() && !info.reference.is_empty(), "{code}");
        }
        assert_eq!(class_info("no_such_code"), None);
    }

    #[test]
    fn areas_follow_the_set_up() {
        assert_eq!(class_info("mx_bogus").map(|i| i.area), Some(Area::Mx));
        assert_eq!(
            class_info("txt_dns_error").map(|i| i.area),
            Some(Area::StsTxt)
        );
        assert_eq!(
            class_info("tlsrpt_bogus").map(|i| i.area),
            Some(Area::TlsRpt)
        );
        assert_eq!(
            class_info("mx_not_covered").map(|i| i.area),
            Some(Area::Policy)
        );
        assert_eq!(
            class_info("tlsa_mismatch").map(|i| i.area),
            Some(Area::Host)
        );
        // A code of both probes reads as the probe that met it.
        let smtp = class_info_in("connect_refused", Area::Host).unwrap();
        let fetch = class_info_in("connect_refused", Area::Policy).unwrap();
        assert_eq!(
            smtp.fix,
            SmtpClass::from_code("connect_refused").unwrap().fix()
        );
        assert_eq!(
            fetch.fix,
            FetchClass::from_code("connect_refused").unwrap().fix()
        );
        assert_eq!(class_info_in("mx_bogus", Area::Host), None);
        assert_eq!(record_area("connect_refused"), None);
        assert_eq!(record_area("mx_not_covered"), Some(Area::Policy));
        assert_eq!(record_area(StsTxtClass::ALL[0].code()), Some(Area::StsTxt));
    }
}
