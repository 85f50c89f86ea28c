//! Outcome classes of one lookup and the DNSSEC status read from a validating stub's view
//! (SPEC §G; RFC 4035 §3.2.3, §4.3, §5.5; RFC 6840 §5.7–5.8; RFC 7672 §2.1.1).
use hickory_proto::op::ResponseCode;

/// How a lookup ended: the response code class, or why no usable response came.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LookupStatus {
    /// NOERROR with at least one record of the asked type (after CNAMEs).
    NoError,
    /// NOERROR without a record of the asked type: the name exists, the type does not.
    NoData,
    /// NXDOMAIN: the name (or the end of its CNAME chain) does not exist.
    NxDomain,
    /// SERVFAIL on every attempt.
    ServFail,
    /// REFUSED.
    Refused,
    /// FORMERR: the resolver could not read the query.
    FormErr,
    /// Any other RCODE (NOTIMP, YXDOMAIN, BADVERS, ...), by number.
    OtherRcode(u16),
    /// No response within the time-out on every attempt.
    Timeout,
    /// Responses came but could not be decoded (or TC was set on the TCP answer too).
    Malformed,
    /// The resolver's port is closed (ICMP port unreachable, TCP reset on connect).
    Unreachable,
    /// Another socket error.
    NetworkError,
    /// The query name cannot be formed (e.g. `_25._tcp.` + host exceeds 255 octets).
    InvalidName,
}

impl LookupStatus {
    /// Class of a decoded response.
    pub fn from_response(rcode: ResponseCode, has_answer: bool) -> LookupStatus {
        match rcode {
            ResponseCode::NoError if has_answer => LookupStatus::NoError,
            ResponseCode::NoError => LookupStatus::NoData,
            ResponseCode::NXDomain => LookupStatus::NxDomain,
            ResponseCode::ServFail => LookupStatus::ServFail,
            ResponseCode::Refused => LookupStatus::Refused,
            ResponseCode::FormErr => LookupStatus::FormErr,
            other => LookupStatus::OtherRcode(u16::from(other)),
        }
    }

    /// Stable snake_case code for datasets.
    pub fn code(self) -> &'static str {
        match self {
            LookupStatus::NoError => "noerror",
            LookupStatus::NoData => "nodata",
            LookupStatus::NxDomain => "nxdomain",
            LookupStatus::ServFail => "servfail",
            LookupStatus::Refused => "refused",
            LookupStatus::FormErr => "formerr",
            LookupStatus::OtherRcode(_) => "other_rcode",
            LookupStatus::Timeout => "timeout",
            LookupStatus::Malformed => "malformed",
            LookupStatus::Unreachable => "unreachable",
            LookupStatus::NetworkError => "network_error",
            LookupStatus::InvalidName => "invalid_name",
        }
    }

    /// An answer in the RFC 7672 §2.1.1 sense: data, or an authoritative denial.
    pub fn is_answer(self) -> bool {
        matches!(
            self,
            LookupStatus::NoError | LookupStatus::NoData | LookupStatus::NxDomain
        )
    }

    /// Worth asking again: time-outs, SERVFAIL and socket errors may be transient.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            LookupStatus::ServFail
                | LookupStatus::Timeout
                | LookupStatus::Unreachable
                | LookupStatus::NetworkError
                | LookupStatus::Malformed
        )
    }
}

/// DNSSEC status of one lookup's answer (RFC 4035 §4.3 states as SPEC §G reads them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DnssecStatus {
    /// AD=1 from a proven validator: data or denial authenticated (RFC 4035 §3.2.3).
    Secure,
    /// An answer without AD from a proven validator: no chain of trust to it.
    Insecure,
    /// SERVFAIL that the CD=1 re-query answers, or EDE 6–12: validation failed
    /// (RFC 4035 §5.5; RFC 8914).
    Bogus,
    /// No answer at all (SERVFAIL also with CD=1, time-out, REFUSED, ...): a lookup failure
    /// (RFC 7672 §2.1.1 treats indeterminate like bogus).
    Error,
    /// An answer came, but the resolver was not proven to validate (canaries failed or
    /// were not run): AD=0 says nothing (SPEC §G step 6).
    Unknown,
}

impl DnssecStatus {
    /// Stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            DnssecStatus::Secure => "secure",
            DnssecStatus::Insecure => "insecure",
            DnssecStatus::Bogus => "bogus",
            DnssecStatus::Error => "error",
            DnssecStatus::Unknown => "unknown",
        }
    }

    /// Reads the status from the final outcome, the AD bit, Extended DNS Errors, the
    /// CD=1 re-query (only made after SERVFAIL), and whether the resolver was proven to
    /// validate.
    pub fn derive(
        status: LookupStatus,
        authentic_data: bool,
        ede_says_bogus: bool,
        cd_requery: Option<LookupStatus>,
        validator_ok: bool,
    ) -> DnssecStatus {
        if status.is_answer() {
            return match (validator_ok, authentic_data) {
                (false, _) => DnssecStatus::Unknown,
                (true, true) => DnssecStatus::Secure,
                (true, false) => DnssecStatus::Insecure,
            };
        }
        if status != LookupStatus::ServFail {
            return DnssecStatus::Error;
        }
        // SERVFAIL: bogus if the data is there once validation is off (RFC 4035 §5.5), or
        // the validator says so in an EDE; a non-validating resolver proves neither.
        let data_with_cd = cd_requery.is_some_and(LookupStatus::is_answer);
        if (data_with_cd || ede_says_bogus) && validator_ok {
            DnssecStatus::Bogus
        } else if data_with_cd || ede_says_bogus {
            DnssecStatus::Unknown
        } else {
            DnssecStatus::Error
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_classes() {
        use LookupStatus as S;
        assert_eq!(S::from_response(ResponseCode::NoError, true), S::NoError);
        assert_eq!(S::from_response(ResponseCode::NoError, false), S::NoData);
        assert_eq!(S::from_response(ResponseCode::NXDomain, false), S::NxDomain);
        assert_eq!(S::from_response(ResponseCode::ServFail, false), S::ServFail);
        assert_eq!(S::from_response(ResponseCode::Refused, false), S::Refused);
        assert_eq!(S::from_response(ResponseCode::FormErr, false), S::FormErr);
        assert_eq!(
            S::from_response(ResponseCode::NotImp, false),
            S::OtherRcode(4)
        );
        assert_eq!(
            S::from_response(ResponseCode::BADVERS, false),
            S::OtherRcode(16)
        );
        assert!(S::NxDomain.is_answer() && !S::ServFail.is_answer());
        assert!(S::Timeout.is_retryable() && !S::NxDomain.is_retryable());
        assert!(!S::Refused.is_retryable());
    }

    #[test]
    fn codes_are_stable() {
        use LookupStatus as S;
        let all = [
            S::NoError,
            S::NoData,
            S::NxDomain,
            S::ServFail,
            S::Refused,
            S::FormErr,
            S::OtherRcode(4),
            S::Timeout,
            S::Malformed,
            S::Unreachable,
            S::NetworkError,
            S::InvalidName,
        ];
        let codes: Vec<_> = all.iter().map(|s| s.code()).collect();
        assert_eq!(
            codes,
            [
                "noerror",
                "nodata",
                "nxdomain",
                "servfail",
                "refused",
                "formerr",
                "other_rcode",
                "timeout",
                "malformed",
                "unreachable",
                "network_error",
                "invalid_name"
            ]
        );
        let d = [
            DnssecStatus::Secure,
            DnssecStatus::Insecure,
            DnssecStatus::Bogus,
            DnssecStatus::Error,
            DnssecStatus::Unknown,
        ];
        let codes: Vec<_> = d.iter().map(|s| s.code()).collect();
        assert_eq!(codes, ["secure", "insecure", "bogus", "error", "unknown"]);
    }

    #[test]
    fn answers_are_secure_or_insecure_by_ad() {
        use DnssecStatus as D;
        use LookupStatus as S;
        for s in [S::NoError, S::NoData, S::NxDomain] {
            assert_eq!(D::derive(s, true, false, None, true), D::Secure);
            assert_eq!(D::derive(s, false, false, None, true), D::Insecure);
            // Not proven to validate: AD=0 means nothing, AD=1 is not trusted either.
            assert_eq!(D::derive(s, false, false, None, false), D::Unknown);
            assert_eq!(D::derive(s, true, false, None, false), D::Unknown);
        }
    }

    #[test]
    fn servfail_is_bogus_only_with_evidence() {
        use DnssecStatus as D;
        use LookupStatus as S;
        // Data with CD=1 (also a denial) -> bogus.
        assert_eq!(
            D::derive(S::ServFail, false, false, Some(S::NoError), true),
            D::Bogus
        );
        assert_eq!(
            D::derive(S::ServFail, false, false, Some(S::NxDomain), true),
            D::Bogus
        );
        assert_eq!(
            D::derive(S::ServFail, false, false, Some(S::NoData), true),
            D::Bogus
        );
        // SERVFAIL again with CD=1, or no answer -> error.
        assert_eq!(
            D::derive(S::ServFail, false, false, Some(S::ServFail), true),
            D::Error
        );
        assert_eq!(
            D::derive(S::ServFail, false, false, Some(S::Timeout), true),
            D::Error
        );
        assert_eq!(D::derive(S::ServFail, false, false, None, true), D::Error);
        // EDE 6-12 alone suffices (internet.nl).
        assert_eq!(
            D::derive(S::ServFail, false, true, Some(S::ServFail), true),
            D::Bogus
        );
        // Unproven validator: cannot call it bogus.
        assert_eq!(
            D::derive(S::ServFail, false, false, Some(S::NoError), false),
            D::Unknown
        );
        assert_eq!(
            D::derive(S::ServFail, false, false, Some(S::ServFail), false),
            D::Error
        );
    }

    #[test]
    fn failures_are_errors() {
        use DnssecStatus as D;
        use LookupStatus as S;
        for s in [
            S::Timeout,
            S::Refused,
            S::FormErr,
            S::OtherRcode(4),
            S::Malformed,
            S::Unreachable,
            S::NetworkError,
            S::InvalidName,
        ] {
            assert_eq!(D::derive(s, false, false, None, true), D::Error, "{s:?}");
            assert_eq!(
                D::derive(s, true, true, Some(S::NoError), false),
                D::Error,
                "{s:?}"
            );
        }
    }
}
