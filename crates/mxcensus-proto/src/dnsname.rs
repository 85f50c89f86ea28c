//! Host-name syntax and normalisation shared by every parser and matcher.
//!
//! Names are compared as lowercase A-labels without the trailing root dot
//! (RFC 6125 §6.4.1, RFC 8461 §4.1). Host names follow the LDH rule of RFC 5321 §4.1.2
//! (`Domain = sub-domain *("." sub-domain)`, `Let-dig [Ldh-str]`).

/// Why a name is not a usable host name.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainNameError {
    /// Nothing left after trimming.
    #[error("empty name")]
    Empty,
    /// More than 253 octets in presentation form (RFC 1035 §2.3.4).
    #[error("name is {len} octets long, over 253")]
    TooLong {
        /// Octets in the name.
        len: usize,
    },
    /// Two dots in a row, or a leading dot.
    #[error("empty label")]
    EmptyLabel,
    /// A label longer than 63 octets.
    #[error("label {label:?} is over 63 octets")]
    LabelTooLong {
        /// The label.
        label: String,
    },
    /// A character outside letters, digits and hyphen.
    #[error("label {label:?} has a character outside letters, digits and '-'")]
    InvalidChar {
        /// The label.
        label: String,
    },
    /// A label starting or ending with a hyphen.
    #[error("label {label:?} starts or ends with '-'")]
    HyphenAtEdge {
        /// The label.
        label: String,
    },
    /// An `xn--` label that is not valid Punycode.
    #[error("label {label:?} is not a valid A-label")]
    BadALabel {
        /// The label.
        label: String,
    },
    /// A U-label that IDNA (UTS #46) cannot convert.
    #[error("name cannot be converted to an A-label")]
    Idna,
    /// Looks like an IPv4 address, not a host name.
    #[error("an IP address literal, not a host name")]
    IpLiteral,
}

/// Checks one LDH label (already lowercase or not; case is irrelevant to syntax).
pub fn check_ldh_label(label: &str) -> Result<(), DomainNameError> {
    if label.is_empty() {
        return Err(DomainNameError::EmptyLabel);
    }
    if label.len() > 63 {
        return Err(DomainNameError::LabelTooLong {
            label: label.to_owned(),
        });
    }
    if !label
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(DomainNameError::InvalidChar {
            label: label.to_owned(),
        });
    }
    if label.starts_with('-') || label.ends_with('-') {
        return Err(DomainNameError::HyphenAtEdge {
            label: label.to_owned(),
        });
    }
    if label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--") {
        let decoded = idna::punycode::decode_to_string(&label[4..].to_ascii_lowercase());
        if decoded.is_none_or(|u| u.is_empty()) {
            return Err(DomainNameError::BadALabel {
                label: label.to_owned(),
            });
        }
    }
    Ok(())
}

/// Checks that `name` (no trailing dot) is an LDH host name made of A-labels.
pub fn check_a_label_name(name: &str) -> Result<(), DomainNameError> {
    if name.is_empty() {
        return Err(DomainNameError::Empty);
    }
    if name.len() > 253 {
        return Err(DomainNameError::TooLong { len: name.len() });
    }
    if name
        .split('.')
        .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(DomainNameError::IpLiteral);
    }
    name.split('.').try_for_each(check_ldh_label)
}

/// Normalises a host name for comparison: trims ASCII whitespace, strips one trailing
/// root dot, converts U-labels to A-labels (UTS #46) and lowercases; then checks LDH syntax.
pub fn normalize_host(name: &str) -> Result<String, DomainNameError> {
    let trimmed = name.trim_matches(|c: char| c.is_ascii_whitespace());
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(DomainNameError::Empty);
    }
    let ascii = if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii_strict(trimmed).map_err(|_| DomainNameError::Idna)?
    };
    check_a_label_name(&ascii)?;
    Ok(ascii)
}

/// Compares two host names as RFC 6125 §6.4.1 does: ASCII case-insensitively, ignoring one
/// trailing root dot on either side. No IDNA conversion: callers pass A-labels.
pub fn names_equal(a: &str, b: &str) -> bool {
    let a = a.strip_suffix('.').unwrap_or(a);
    let b = b.strip_suffix('.').unwrap_or(b);
    a.eq_ignore_ascii_case(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_dot_and_idn() {
        assert_eq!(
            normalize_host("Mail.Example.COM.").as_deref(),
            Ok("mail.example.com")
        );
        assert_eq!(
            normalize_host("bücher.example").as_deref(),
            Ok("xn--bcher-kva.example")
        );
        assert_eq!(
            normalize_host(" example.org\t").as_deref(),
            Ok("example.org")
        );
    }

    #[test]
    fn rejects_bad_syntax() {
        assert_eq!(normalize_host(""), Err(DomainNameError::Empty));
        assert_eq!(normalize_host("."), Err(DomainNameError::Empty));
        assert_eq!(normalize_host("a..b"), Err(DomainNameError::EmptyLabel));
        assert!(matches!(
            normalize_host("-a.b"),
            Err(DomainNameError::HyphenAtEdge { .. })
        ));
        assert!(matches!(
            normalize_host("a_b.c"),
            Err(DomainNameError::InvalidChar { .. })
        ));
        assert_eq!(normalize_host("192.0.2.1"), Err(DomainNameError::IpLiteral));
        assert!(matches!(
            normalize_host(&"a".repeat(64)),
            Err(DomainNameError::LabelTooLong { .. })
        ));
        let long = vec!["abcdefghi"; 26].join(".");
        assert!(matches!(
            normalize_host(&long),
            Err(DomainNameError::TooLong { .. })
        ));
        assert!(matches!(
            check_a_label_name("xn--99999999999999999.example"),
            Err(DomainNameError::BadALabel { .. })
        ));
    }

    #[test]
    fn equality_ignores_case_and_root_dot() {
        assert!(names_equal("MX.example.com.", "mx.EXAMPLE.com"));
        assert!(!names_equal("mx.example.com", "mx.example.co"));
    }
}
