//! MX host patterns of an MTA-STS policy and how MX hosts are matched against them.
//!
//! Syntax (RFC 8461 §3.2): `sts-policy-mx-value = ["*."] Domain`, with `Domain` as in
//! RFC 5321 §4.1.2 (LDH labels, no trailing root dot); internationalised names MUST be
//! written as A-labels. Anything else (a trailing dot, `.example.com`, `mx*.example.com`,
//! a second wildcard, an IP literal, a port) is not a pattern.
//!
//! Matching (RFC 8461 §4.1 and the reference code of Appendix B): names compare
//! case-insensitively as A-labels (RFC 6125 §6.4.1) with one trailing root dot stripped from
//! the host; `*.example.com` matches exactly one extra left-most label (`mail.example.com`,
//! but neither `example.com` nor `a.b.example.com`).
//!
//! The host given to [`MxPattern::matches`] must be the *MX record name* as it appears in
//! the MX RRset, never the target of a CNAME chain that name may lead to (RFC 8461 §4.1:
//! senders match the MX host name, and a CNAME must not let an attacker who controls DNS
//! widen the set of acceptable hosts).
//!
//! ```
//! use mxcensus_proto::mx_pattern::{MxPattern, MxPatternError, policy_covers};
//! let p = MxPattern::parse("*.example.com").unwrap();
//! assert!(p.matches("MAIL.Example.COM."));
//! assert!(!p.matches("example.com"));
//! assert!(!p.matches("a.b.example.com"));
//! assert_eq!(MxPattern::parse("mail.example.com."), Err(MxPatternError::TrailingDot));
//! let pats = [MxPattern::parse("mx1.example.net").unwrap(), p];
//! assert_eq!(policy_covers(&pats, "mx2.example.com"), Some(1));
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::dnsname::{DomainNameError, check_a_label_name, normalize_host};

/// Why an `mx` value of a policy is not a valid pattern (RFC 8461 §3.2).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MxPatternError {
    /// Nothing after `mx:`.
    #[error("empty pattern")]
    Empty,
    /// `mail.example.com.`: `Domain` (RFC 5321 §4.1.2) has no trailing root dot.
    #[error("trailing dot: write the name without the final '.'")]
    TrailingDot,
    /// `.example.com`: a leading dot is not a wildcard; write `*.example.com`.
    #[error("leading dot: write '*.' for a wildcard")]
    LeadingDot,
    /// `*` or `*.`: a wildcard needs a domain under it.
    #[error("bare wildcard with no domain")]
    BareWildcard,
    /// `mx*.example.com`: only a whole left-most `*` label is a wildcard.
    #[error("partial-label wildcard in {label:?}: only a whole left-most '*' label is allowed")]
    PartialWildcard {
        /// The label holding the `*`.
        label: String,
    },
    /// `mail.*.example.com`: the wildcard is not the left-most label.
    #[error("wildcard is not the left-most label")]
    WildcardNotLeftmost,
    /// `*.*.example.com`: at most one wildcard, covering one label.
    #[error("more than one wildcard label")]
    MultipleWildcards,
    /// `192.0.2.1`, `[192.0.2.1]`, `2001:db8::1`: patterns name hosts, not addresses.
    #[error("an IP address literal, not a host name")]
    IpLiteral,
    /// `mail.example.com:25`: patterns carry no port.
    #[error("port {port:?} given: patterns carry no port")]
    Port {
        /// The text after the last `:`.
        port: String,
    },
    /// `https://mail.example.com` or `://mail.example.com`: a URL, not a host name.
    #[error("a URL, not a host name")]
    Url,
    /// A non-ASCII name: IDNs MUST be written as A-labels (RFC 8461 §3.2).
    #[error("U-label: internationalised names must be written as A-labels{}",
        a_label.as_deref().map(|a| format!(" ({a})")).unwrap_or_default())]
    ULabel {
        /// The A-label form, when the name converts under UTS #46.
        a_label: Option<String>,
    },
    /// A label or name syntax error (characters, hyphens, lengths, Punycode).
    #[error(transparent)]
    Domain(DomainNameError),
}

impl MxPatternError {
    /// A stable `snake_case` code for the subtype, for datasets.
    pub fn code(&self) -> &'static str {
        match self {
            MxPatternError::Empty => "empty",
            MxPatternError::TrailingDot => "trailing_dot",
            MxPatternError::LeadingDot => "leading_dot",
            MxPatternError::BareWildcard => "bare_wildcard",
            MxPatternError::PartialWildcard { .. } => "partial_wildcard",
            MxPatternError::WildcardNotLeftmost => "wildcard_not_leftmost",
            MxPatternError::MultipleWildcards => "multiple_wildcards",
            MxPatternError::IpLiteral => "ip_literal",
            MxPatternError::Port { .. } => "port",
            MxPatternError::Url => "url",
            MxPatternError::ULabel { .. } => "u_label",
            MxPatternError::Domain(e) => match e {
                DomainNameError::Empty => "empty",
                DomainNameError::TooLong { .. } => "name_too_long",
                DomainNameError::EmptyLabel => "empty_label",
                DomainNameError::LabelTooLong { .. } => "label_too_long",
                DomainNameError::InvalidChar { .. } => "invalid_char",
                DomainNameError::HyphenAtEdge { .. } => "hyphen_at_edge",
                DomainNameError::BadALabel { .. } => "bad_a_label",
                DomainNameError::IpLiteral => "ip_literal",
                _ => "bad_domain",
            },
        }
    }
}

/// One `mx` pattern of a policy: a lowercase A-label domain, optionally under `*.`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MxPattern {
    wildcard: bool,
    domain: String,
}

impl MxPattern {
    /// Parses one `mx` value exactly as written (the caller trims the surrounding
    /// whitespace the policy grammar allows). The stored domain is lowercased.
    pub fn parse(text: &str) -> Result<MxPattern, MxPatternError> {
        if text.is_empty() {
            return Err(MxPatternError::Empty);
        }
        if !text.is_ascii() {
            let a_label = idna::domain_to_ascii_strict(text)
                .ok()
                .filter(|a| check_a_label_name(a.strip_prefix("*.").unwrap_or(a)).is_ok());
            return Err(MxPatternError::ULabel { a_label });
        }
        if text.contains("://") {
            return Err(MxPatternError::Url);
        }
        if text.starts_with('[') || text.parse::<std::net::IpAddr>().is_ok() {
            return Err(MxPatternError::IpLiteral);
        }
        if let Some((host, port)) = text.rsplit_once(':')
            && !host.is_empty()
            && !host.contains(':')
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(MxPatternError::Port {
                port: port.to_owned(),
            });
        }
        if text == "*" || text == "*." {
            return Err(MxPatternError::BareWildcard);
        }
        if text.ends_with('.') {
            return Err(MxPatternError::TrailingDot);
        }
        if text.starts_with('.') {
            return Err(MxPatternError::LeadingDot);
        }
        let (wildcard, rest) = match text.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        for label in rest.split('.') {
            if label == "*" {
                return Err(if wildcard {
                    MxPatternError::MultipleWildcards
                } else {
                    MxPatternError::WildcardNotLeftmost
                });
            }
            if label.contains('*') {
                return Err(MxPatternError::PartialWildcard {
                    label: label.to_owned(),
                });
            }
        }
        let domain = rest.to_ascii_lowercase();
        check_a_label_name(&domain).map_err(|e| match e {
            DomainNameError::IpLiteral => MxPatternError::IpLiteral,
            DomainNameError::Empty => MxPatternError::Empty,
            other => MxPatternError::Domain(other),
        })?;
        Ok(MxPattern { wildcard, domain })
    }

    /// Whether the pattern starts with `*.`.
    pub fn is_wildcard(&self) -> bool {
        self.wildcard
    }

    /// The lowercase domain, without the `*.` of a wildcard.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// A wildcard directly over a public suffix (`*.com`, `*.co.uk`, `*.github.io`, by the
    /// Public Suffix List compiled into the `psl` crate; a single label counts as one):
    /// syntactically valid, but it accepts hosts of every registrant under that suffix.
    pub fn is_overbroad(&self) -> bool {
        self.wildcard
            && (!self.domain.contains('.')
                || psl::suffix_str(&self.domain).is_some_and(|s| s == self.domain))
    }

    /// Whether `mx_host`, an MX record name (never a CNAME target), matches the pattern
    /// (RFC 8461 §4.1, Appendix B). ASCII case-insensitive; one trailing root dot on the
    /// host is ignored; a non-ASCII host is converted to A-labels first. A wildcard covers
    /// exactly one non-empty left-most label.
    pub fn matches(&self, mx_host: &str) -> bool {
        let host: Cow<'_, str> = if mx_host.is_ascii() {
            Cow::Borrowed(mx_host.strip_suffix('.').unwrap_or(mx_host))
        } else {
            match normalize_host(mx_host) {
                Ok(h) => Cow::Owned(h),
                Err(_) => return false,
            }
        };
        if !self.wildcard {
            return host.eq_ignore_ascii_case(&self.domain);
        }
        // Appendix B: split at the first dot; the rest must equal the pattern minus "*.".
        // Unlike the RFC's sketch, an empty first label (".example.com") does not match.
        match host.split_once('.') {
            Some((first, rest)) => !first.is_empty() && rest.eq_ignore_ascii_case(&self.domain),
            None => false,
        }
    }
}

impl fmt::Display for MxPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.wildcard {
            f.write_str("*.")?;
        }
        f.write_str(&self.domain)
    }
}

impl std::str::FromStr for MxPattern {
    type Err = MxPatternError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MxPattern::parse(s)
    }
}

/// The index of the first pattern that `mx_host` (an MX record name, not a CNAME target)
/// matches, or `None` when the policy does not cover the host (RFC 8461 §4.1).
pub fn policy_covers(patterns: &[MxPattern], mx_host: &str) -> Option<usize> {
    patterns.iter().position(|p| p.matches(mx_host))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> MxPattern {
        MxPattern::parse(s).unwrap()
    }

    #[test]
    fn parses_plain_and_wildcard() {
        let m = p("Mail.Example.COM");
        assert!(!m.is_wildcard());
        assert_eq!(m.domain(), "mail.example.com");
        assert_eq!(m.to_string(), "mail.example.com");
        let w = p("*.example.net");
        assert!(w.is_wildcard());
        assert_eq!(w.domain(), "example.net");
        assert_eq!(w.to_string(), "*.example.net");
        assert_eq!(p("xn--bcher-kva.example").domain(), "xn--bcher-kva.example");
        assert!(p("*.com").is_overbroad());
        assert!(p("*.co.uk").is_overbroad());
        assert!(p("*.github.io").is_overbroad());
        assert!(p("*.unknowntld").is_overbroad());
        assert!(!p("*.example.com").is_overbroad());
        assert!(!p("*.example.co.uk").is_overbroad());
        assert!(!p("co.uk").is_overbroad());
    }

    #[test]
    fn rejects_every_subtype() {
        use MxPatternError as E;
        let cases: &[(&str, &str)] = &[
            ("", "empty"),
            ("mail.example.com.", "trailing_dot"),
            ("*.example.com.", "trailing_dot"),
            (".example.com", "leading_dot"),
            ("*", "bare_wildcard"),
            ("*.", "bare_wildcard"),
            ("mx*.example.com", "partial_wildcard"),
            ("*mx.example.com", "partial_wildcard"),
            ("*.mx*.example.com", "partial_wildcard"),
            ("mail.*.example.com", "wildcard_not_leftmost"),
            ("*.*.example.com", "multiple_wildcards"),
            ("192.0.2.1", "ip_literal"),
            ("[192.0.2.1]", "ip_literal"),
            ("2001:db8::1", "ip_literal"),
            ("mail.example.com:25", "port"),
            ("://google.com", "url"),
            ("https://mail.example.com", "url"),
            ("bücher.example", "u_label"),
            ("a_b.example.com", "invalid_char"),
            ("mail example.com", "invalid_char"),
            ("-mx.example.com", "hyphen_at_edge"),
            ("a..example.com", "empty_label"),
            ("xn--99999999999999999.example", "bad_a_label"),
        ];
        for (text, code) in cases {
            let err = MxPattern::parse(text).unwrap_err();
            assert_eq!(err.code(), *code, "{text:?} gave {err:?}");
            assert!(!err.to_string().is_empty());
        }
        let long_label = format!("{}.example.com", "a".repeat(64));
        assert_eq!(
            MxPattern::parse(&long_label).unwrap_err().code(),
            "label_too_long"
        );
        let long_name = vec!["abcdefghi"; 26].join(".");
        assert_eq!(
            MxPattern::parse(&long_name).unwrap_err().code(),
            "name_too_long"
        );
        assert_eq!(
            MxPattern::parse("bücher.example"),
            Err(E::ULabel {
                a_label: Some("xn--bcher-kva.example".into())
            })
        );
    }

    #[test]
    fn wildcard_covers_exactly_one_label() {
        let w = p("*.example.com");
        assert!(w.matches("mail.example.com"));
        assert!(w.matches("MAIL.Example.COM."));
        assert!(!w.matches("example.com"));
        assert!(!w.matches("a.b.example.com"));
        assert!(!w.matches(".example.com"));
        assert!(!w.matches("mail.example.com.."));
        assert!(!w.matches("mailexample.com"));
        assert!(!w.matches("mail.example.co"));
    }

    #[test]
    fn literal_match_ignores_case_and_root_dot() {
        let m = p("mail.example.com");
        assert!(m.matches("mail.example.com."));
        assert!(m.matches("MAIL.EXAMPLE.COM"));
        assert!(!m.matches("x.mail.example.com"));
        assert!(!m.matches("ail.example.com"));
        let idn = p("mx.xn--bcher-kva.example");
        assert!(idn.matches("MX.XN--BCHER-KVA.example."));
        assert!(idn.matches("mx.bücher.example"));
        assert!(p("*.xn--bcher-kva.example").matches("xn--mx-abc.xn--bcher-kva.example"));
    }

    #[test]
    fn covers_reports_first_matching_pattern() {
        let pats = [p("mx1.example.com"), p("*.example.net"), p("*.example.com")];
        assert_eq!(policy_covers(&pats, "mx1.example.com"), Some(0));
        assert_eq!(policy_covers(&pats, "a.example.net."), Some(1));
        assert_eq!(policy_covers(&pats, "mx2.example.com"), Some(2));
        assert_eq!(policy_covers(&pats, "example.com"), None);
        assert_eq!(policy_covers(&[], "example.com"), None);
    }

    /// Label-list reference: the host's labels equal the pattern's, plus exactly one
    /// non-empty extra label in front for a wildcard.
    fn reference(wildcard: bool, domain: &str, host: &str) -> bool {
        let h = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        let hl: Vec<&str> = h.split('.').collect();
        let pl: Vec<&str> = domain.split('.').collect();
        if wildcard {
            hl.len() == pl.len() + 1 && !hl[0].is_empty() && hl[1..] == pl[..]
        } else {
            hl == pl
        }
    }

    fn label() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("a".to_string()),
            Just("B".to_string()),
            Just("mail".to_string()),
            Just("MAIL".to_string()),
            Just("example".to_string()),
            Just("xn--bcher-kva".to_string()),
            Just("".to_string()),
            "[a-c]{1,2}",
        ]
    }

    proptest! {
        #[test]
        fn matches_agrees_with_reference(
            wildcard in any::<bool>(),
            pat_labels in prop::collection::vec(label(), 1..4),
            host_labels in prop::collection::vec(label(), 1..5),
            dot in any::<bool>(),
        ) {
            let text = format!("{}{}", if wildcard { "*." } else { "" }, pat_labels.join("."));
            let mut host = host_labels.join(".");
            if dot { host.push('.'); }
            if let Ok(pat) = MxPattern::parse(&text) {
                prop_assert_eq!(pat.matches(&host), reference(wildcard, pat.domain(), &host),
                    "pattern {} host {}", text, host);
            }
        }

        #[test]
        fn parse_never_panics_and_round_trips(s in "\\PC{0,40}") {
            if let Ok(pat) = MxPattern::parse(&s) {
                prop_assert_eq!(MxPattern::parse(&pat.to_string()), Ok(pat.clone()));
                let sample = if pat.is_wildcard() { format!("x.{}", pat.domain()) } else { pat.domain().to_owned() };
                prop_assert!(pat.matches(&sample));
            }
        }
    }
}
