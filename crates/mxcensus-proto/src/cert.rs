//! Certificate summaries and host-name checks for MTA-STS (RFC 8461 §3.3, §4.2).
//!
//! [`CertSummary::from_der`] reduces a served certificate to the facts the dataset records
//! (names, dates, fingerprints, key type, self-issuance). [`dns_id_matches`] implements the
//! DNS-ID rules of RFC 6125 §6.4 / RFC 9525 §6.3 as RFC 8461 narrows them: exact match
//! (ASCII case-insensitive, A-labels, one trailing root dot ignored) or a wildcard that is
//! the whole left-most label and stands for exactly one label. Partial-label wildcards
//! (`mx*.example.com`) never match. [`check_host_name`] uses subjectAltName DNS-IDs only;
//! the subject CN is consulted solely to explain a failure ([`NameOutcome::CnOnly`]).
//!
//! Full Web PKI path validation is not done here (`mxcensus-probe` runs webpki); DANE path
//! checks live in [`crate::tlsa`].
//!
//! ```
//! use mxcensus_proto::cert::dns_id_matches;
//! assert!(dns_id_matches("*.example.com", "MX1.example.com."));
//! assert!(!dns_id_matches("*.example.com", "a.b.example.com"));
//! assert!(!dns_id_matches("mx*.example.com", "mx1.example.com"));
//! ```

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

use crate::dnsname::normalize_host;
use crate::failure_classes;

failure_classes! {
    /// Certificate failures of an MTA-STS MX host or policy host (RFC 8461 §3.3, §4.2).
    pub enum CertClass {
        /// The certificate's notAfter lies before the probe time.
        Expired = "cert_expired", Error, "RFC 8461 §4.2; RFC 5280 §4.1.2.5",
            "Renew the certificate and install the new one on the server.";
        /// The certificate's notBefore lies after the probe time.
        NotYetValid = "cert_not_yet_valid", Error, "RFC 8461 §4.2; RFC 5280 §4.1.2.5",
            "Check the issuing system's clock; serve a certificate that is valid now.";
        /// No subjectAltName DNS-ID matches the host, and neither would the CN.
        NameMismatch = "cert_name_mismatch", Error, "RFC 8461 §4.2; RFC 6125 §6.4",
            "Issue a certificate with a subjectAltName DNS name for the host.";
        /// Only the subject CN names the host; MTA-STS uses subjectAltName DNS-IDs only.
        CnOnly = "cert_cn_only", Error, "RFC 8461 §4.2; RFC 6125 §6.4.4",
            "Add the host name as a subjectAltName DNS name.";
        /// Only a partial-label wildcard (`mx*.example.com`) would cover the host.
        PartialWildcardOnly = "cert_partial_wildcard_only", Error,
            "RFC 8461 §3.3; RFC 9525 §6.3; SPEC §D crawler rule",
            "Use the exact host name or a whole-label wildcard (*.example.com).";
        /// The chain does not lead to a trusted root (webpki's verdict, recorded here).
        Untrusted = "cert_untrusted", Error, "RFC 8461 §4.2",
            "Serve the full chain up to a publicly trusted root.";
        /// The certificate is self-signed, so no public root vouches for it.
        SelfSigned = "cert_self_signed", Error, "RFC 8461 §4.2",
            "Replace the self-signed certificate with one from a public CA.";
        /// The served bytes are not a DER X.509 certificate.
        Unparseable = "cert_unparseable", Error, "RFC 5280 §4.1; RFC 8446 §4.4.2",
            "Serve a DER-encoded X.509 v3 certificate.";
    }
}

/// Why bytes could not be read as a certificate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CertParseError {
    /// No bytes at all.
    #[error("empty certificate")]
    Empty,
    /// The DER ended early.
    #[error("truncated certificate DER")]
    Truncated,
    /// The DER is not a valid X.509 certificate.
    #[error("malformed certificate: {reason}")]
    Malformed {
        /// x509-parser's description of the defect.
        reason: String,
    },
    /// Bytes follow the certificate's outer SEQUENCE.
    #[error("{extra} bytes after the certificate")]
    TrailingData {
        /// How many bytes follow.
        extra: usize,
    },
    /// The subjectAltName extension is duplicated or cannot be decoded.
    #[error("invalid subjectAltName extension: {reason}")]
    BadSubjectAltName {
        /// x509-parser's description of the defect.
        reason: String,
    },
}

/// Parses one DER certificate strictly (no trailing bytes).
pub(crate) fn parse_x509(der: &[u8]) -> Result<X509Certificate<'_>, CertParseError> {
    if der.is_empty() {
        return Err(CertParseError::Empty);
    }
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok((rest, _)) => Err(CertParseError::TrailingData { extra: rest.len() }),
        Err(x509_parser::nom::Err::Incomplete(_)) => Err(CertParseError::Truncated),
        Err(x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e)) => {
            Err(CertParseError::Malformed {
                reason: e.to_string(),
            })
        }
    }
}

/// The public-key algorithm of a certificate's subjectPublicKeyInfo.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// RSA with the modulus size in bits.
    Rsa {
        /// Modulus length in bits (0 if the key does not decode).
        bits: usize,
    },
    /// ECDSA on NIST P-256.
    EcP256,
    /// ECDSA on NIST P-384.
    EcP384,
    /// ECDSA on NIST P-521.
    EcP521,
    /// ECDSA on another curve.
    EcOther {
        /// The named curve's OID (dotted), or empty when absent.
        curve_oid: String,
    },
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// Ed448 (RFC 8410).
    Ed448,
    /// Any other algorithm, by OID.
    Other {
        /// The algorithm OID (dotted).
        oid: String,
    },
}

impl KeyAlgorithm {
    fn of(cert: &X509Certificate<'_>) -> Self {
        let spki = cert.public_key();
        let oid = spki.algorithm.algorithm.to_id_string();
        match oid.as_str() {
            "1.2.840.113549.1.1.1" => KeyAlgorithm::Rsa {
                bits: match spki.parsed() {
                    Ok(PublicKey::RSA(rsa)) => rsa.key_size(),
                    _ => 0,
                },
            },
            "1.2.840.10045.2.1" => {
                let curve = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .and_then(|p| p.as_oid().ok())
                    .map(|o| o.to_id_string())
                    .unwrap_or_default();
                match curve.as_str() {
                    "1.2.840.10045.3.1.7" => KeyAlgorithm::EcP256,
                    "1.3.132.0.34" => KeyAlgorithm::EcP384,
                    "1.3.132.0.35" => KeyAlgorithm::EcP521,
                    _ => KeyAlgorithm::EcOther { curve_oid: curve },
                }
            }
            "1.3.101.112" => KeyAlgorithm::Ed25519,
            "1.3.101.113" => KeyAlgorithm::Ed448,
            _ => KeyAlgorithm::Other { oid },
        }
    }

    /// A short name for reports: `rsa2048`, `ec-p256`, `ed25519`, ...
    pub fn name(&self) -> String {
        match self {
            KeyAlgorithm::Rsa { bits } => format!("rsa{bits}"),
            KeyAlgorithm::EcP256 => "ec-p256".to_owned(),
            KeyAlgorithm::EcP384 => "ec-p384".to_owned(),
            KeyAlgorithm::EcP521 => "ec-p521".to_owned(),
            KeyAlgorithm::EcOther { curve_oid } => format!("ec-{curve_oid}"),
            KeyAlgorithm::Ed25519 => "ed25519".to_owned(),
            KeyAlgorithm::Ed448 => "ed448".to_owned(),
            KeyAlgorithm::Other { oid } => oid.clone(),
        }
    }
}

/// The facts of one served certificate that the dataset records (SPEC §I).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertSummary {
    /// Subject DN in RFC 4514-like text.
    pub subject: String,
    /// Issuer DN in RFC 4514-like text.
    pub issuer: String,
    /// Serial number as lowercase hex of its DER content octets.
    pub serial_hex: String,
    /// notBefore, Unix seconds.
    pub not_before: i64,
    /// notAfter, Unix seconds.
    pub not_after: i64,
    /// subjectAltName dNSName entries as presented (case kept).
    pub san_dns: Vec<String>,
    /// Subject commonName values that decode as text.
    pub subject_cns: Vec<String>,
    /// SHA-256 of the whole certificate DER (the `x 0 1` TLSA data).
    pub sha256_der: [u8; 32],
    /// SHA-256 of the subjectPublicKeyInfo DER (the `x 1 1` TLSA data).
    pub sha256_spki: [u8; 32],
    /// The subject key's algorithm.
    pub key_algorithm: KeyAlgorithm,
    /// basicConstraints cA, or `None` without that extension.
    pub basic_constraints_ca: Option<bool>,
    /// Subject and issuer DNs are byte-identical (RFC 5280 §6.1 "self-issued").
    pub is_self_issued: bool,
    /// Self-issued and the signature verifies with the certificate's own key.
    pub is_self_signed: bool,
}

impl CertSummary {
    /// Summarises one DER certificate. Never panics, whatever the bytes.
    pub fn from_der(der: &[u8]) -> Result<CertSummary, CertParseError> {
        let cert = parse_x509(der)?;
        CertSummary::from_x509(&cert, der)
    }

    pub(crate) fn from_x509(
        cert: &X509Certificate<'_>,
        der: &[u8],
    ) -> Result<CertSummary, CertParseError> {
        let san_dns = match cert.subject_alternative_name() {
            Ok(Some(san)) => san
                .value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    x509_parser::extensions::GeneralName::DNSName(s) => Some((*s).to_owned()),
                    _ => None,
                })
                .collect(),
            Ok(None) => Vec::new(),
            Err(e) => {
                return Err(CertParseError::BadSubjectAltName {
                    reason: e.to_string(),
                });
            }
        };
        let subject_cns = cert
            .subject()
            .iter_common_name()
            .filter_map(|cn| cn.as_str().ok().map(str::to_owned))
            .collect();
        let is_self_issued = cert.subject().as_raw() == cert.issuer().as_raw();
        Ok(CertSummary {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial_hex: hex(cert.raw_serial()),
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            san_dns,
            subject_cns,
            sha256_der: sha256(der),
            sha256_spki: sha256(cert.public_key().raw),
            key_algorithm: KeyAlgorithm::of(cert),
            basic_constraints_ca: cert
                .basic_constraints()
                .ok()
                .flatten()
                .map(|bc| bc.value.ca),
            is_self_issued,
            is_self_signed: is_self_issued && cert.verify_signature(None).is_ok(),
        })
    }

    /// SHA-256 of the certificate DER as lowercase hex.
    pub fn sha256_der_hex(&self) -> String {
        hex(&self.sha256_der)
    }

    /// SHA-256 of the SPKI DER as lowercase hex: the data of a `3 1 1` record for this key.
    pub fn sha256_spki_hex(&self) -> String {
        hex(&self.sha256_spki)
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// A presented identifier as compared: lowercase ASCII, no trailing dot, no empty label.
fn presented_form(presented: &str) -> Option<String> {
    let p = presented.strip_suffix('.').unwrap_or(presented);
    // Presented DNS-IDs are IA5String A-labels (RFC 6125 §6.4.2); anything else never matches.
    if p.is_empty() || !p.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    if p.split('.').any(str::is_empty) {
        return None;
    }
    Some(p.to_ascii_lowercase())
}

/// A reference identifier as compared: A-labels, lowercase, no trailing dot, no `*`.
fn reference_form(reference: &str) -> Option<String> {
    let r = reference.strip_suffix('.').unwrap_or(reference);
    let r = if r.is_ascii() {
        r.to_ascii_lowercase()
    } else {
        // A U-label reference is converted to A-labels (RFC 6125 §6.4.2).
        normalize_host(r).ok()?
    };
    if r.is_empty() || r.contains('*') || r.split('.').any(str::is_empty) {
        return None;
    }
    if !r.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    Some(r)
}

fn matches_normalized(presented: &str, reference: &str) -> bool {
    match presented.strip_prefix("*.") {
        Some(rest) => {
            // The wildcard is the whole left-most label, stands for exactly one label, and
            // is not allowed directly above a single-label suffix (`*.com`) (RFC 9525 §6.3).
            if rest.contains('*') || !rest.contains('.') {
                return false;
            }
            match reference.split_once('.') {
                Some((first, ref_rest)) => !first.is_empty() && ref_rest == rest,
                None => false,
            }
        }
        None => !presented.contains('*') && presented == reference,
    }
}

/// Whether a presented DNS-ID (from a certificate) matches a reference host name, under
/// RFC 6125 §6.4 / RFC 9525 §6.3 as RFC 8461 §3.3 and RFC 7672 §3.2.3 restrict them:
/// exact (ASCII case-insensitive, one trailing dot ignored on either side, U-label
/// references converted to A-labels) or `*.rest` matching exactly one extra label.
/// Partial-label wildcards never match.
pub fn dns_id_matches(presented: &str, reference: &str) -> bool {
    match (presented_form(presented), reference_form(reference)) {
        (Some(p), Some(r)) => matches_normalized(&p, &r),
        _ => false,
    }
}

/// Whether `presented` is a partial-label wildcard (`mx*.example.com`, `*x.example.com`)
/// that a lenient RFC 6125 §6.4.3 client would match against `reference`. Used only to
/// explain a mismatch (`cert_partial_wildcard_only`); such names never validate here.
pub fn partial_wildcard_would_match(presented: &str, reference: &str) -> bool {
    let (Some(p), Some(r)) = (presented_form(presented), reference_form(reference)) else {
        return false;
    };
    let Some((p_first, p_rest)) = p.split_once('.') else {
        return false;
    };
    let Some((r_first, r_rest)) = r.split_once('.') else {
        return false;
    };
    if p_first == "*" || p_rest.contains('*') || p_rest != r_rest || !p_rest.contains('.') {
        return false;
    }
    let Some((prefix, suffix)) = p_first.split_once('*') else {
        return false;
    };
    !suffix.contains('*')
        && r_first.len() > prefix.len() + suffix.len()
        && r_first.starts_with(prefix)
        && r_first.ends_with(suffix)
}

/// The result of checking a certificate's names against one host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameOutcome {
    /// A subjectAltName DNS-ID matches.
    Match,
    /// Nothing matches, not even the CN or a partial wildcard.
    Mismatch,
    /// No DNS-ID matches but the subject CN would have (CN is not used: RFC 8461 §4.2).
    CnOnly,
    /// Only a partial-label wildcard DNS-ID would have matched (SPEC §D).
    PartialWildcardOnly,
}

impl NameOutcome {
    /// The failure class of this outcome, `None` for a match.
    pub fn class(self) -> Option<CertClass> {
        match self {
            NameOutcome::Match => None,
            NameOutcome::Mismatch => Some(CertClass::NameMismatch),
            NameOutcome::CnOnly => Some(CertClass::CnOnly),
            NameOutcome::PartialWildcardOnly => Some(CertClass::PartialWildcardOnly),
        }
    }
}

/// The evidence of a host-name check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameCheck {
    /// What was decided.
    pub outcome: NameOutcome,
    /// The host name checked, as given.
    pub reference: String,
    /// The presented identifier that matched (or would have, for `CnOnly` and
    /// `PartialWildcardOnly`).
    pub presented: Option<String>,
}

/// Checks `host` against the certificate's subjectAltName DNS-IDs (RFC 8461 §4.2 via
/// RFC 6125): the CN never validates; it only explains a failure.
pub fn check_host_name(summary: &CertSummary, host: &str) -> NameCheck {
    let found = |outcome, presented: Option<&String>| NameCheck {
        outcome,
        reference: host.to_owned(),
        presented: presented.cloned(),
    };
    if let Some(p) = summary.san_dns.iter().find(|p| dns_id_matches(p, host)) {
        return found(NameOutcome::Match, Some(p));
    }
    if let Some(p) = summary
        .san_dns
        .iter()
        .find(|p| partial_wildcard_would_match(p, host))
    {
        return found(NameOutcome::PartialWildcardOnly, Some(p));
    }
    if let Some(cn) = summary
        .subject_cns
        .iter()
        .find(|cn| dns_id_matches(cn, host))
    {
        return found(NameOutcome::CnOnly, Some(cn));
    }
    found(NameOutcome::Mismatch, None)
}

/// A certificate's validity period relative to a point in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Validity {
    /// notBefore <= now <= notAfter.
    Valid,
    /// now > notAfter.
    Expired,
    /// now < notBefore.
    NotYetValid,
}

impl Validity {
    /// The failure class, `None` when valid.
    pub fn class(self) -> Option<CertClass> {
        match self {
            Validity::Valid => None,
            Validity::Expired => Some(CertClass::Expired),
            Validity::NotYetValid => Some(CertClass::NotYetValid),
        }
    }
}

/// Validity at `now` (Unix seconds); both bounds are inclusive (RFC 5280 §4.1.2.5).
pub fn validity_at(summary: &CertSummary, now: i64) -> Validity {
    validity_between(summary.not_before, summary.not_after, now)
}

pub(crate) fn validity_between(not_before: i64, not_after: i64, now: i64) -> Validity {
    if now < not_before {
        Validity::NotYetValid
    } else if now > not_after {
        Validity::Expired
    } else {
        Validity::Valid
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::finding::{FailureClass, check_class_table};
    use proptest::prelude::*;
    use rcgen::{CertificateParams, DnType, KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ED25519};

    /// A self-signed certificate with the given SANs and CN.
    pub(crate) fn self_signed(sans: &[&str], cn: &str) -> (Vec<u8>, KeyPair) {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut params =
            CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        let cert = params.self_signed(&key).unwrap();
        (cert.der().to_vec(), key)
    }

    #[test]
    fn class_table_is_well_formed() {
        check_class_table::<CertClass>().unwrap();
        assert_eq!(
            CertClass::PartialWildcardOnly.code(),
            "cert_partial_wildcard_only"
        );
    }

    #[test]
    fn exact_case_and_trailing_dot() {
        assert!(dns_id_matches("mx.example.com", "mx.example.com"));
        assert!(dns_id_matches("MX.Example.COM", "mx.example.com"));
        assert!(dns_id_matches("mx.example.com.", "MX.EXAMPLE.COM"));
        assert!(dns_id_matches("mx.example.com", "mx.example.com."));
        assert!(!dns_id_matches("mx.example.com", "mx.example.co"));
        assert!(!dns_id_matches("mx.example.com", "mx1.example.com"));
        assert!(!dns_id_matches("", "example.com"));
        assert!(!dns_id_matches("example.com", ""));
        assert!(!dns_id_matches("mx..example.com", "mx..example.com"));
        assert!(!dns_id_matches("mx.example.com", "*.example.com"));
    }

    #[test]
    fn wildcard_covers_exactly_one_label() {
        assert!(dns_id_matches("*.example.com", "mx.example.com"));
        assert!(dns_id_matches("*.Example.com", "MX.example.com."));
        assert!(!dns_id_matches("*.example.com", "example.com"));
        assert!(!dns_id_matches("*.example.com", "a.b.example.com"));
        assert!(!dns_id_matches("*.com", "example.com"));
        assert!(!dns_id_matches("*", "example"));
        assert!(!dns_id_matches("a.*.example.com", "a.b.example.com"));
        assert!(!dns_id_matches("*.*.example.com", "a.b.example.com"));
    }

    #[test]
    fn partial_wildcards_never_match() {
        for p in [
            "mx*.example.com",
            "*x.example.com",
            "m*x.example.com",
            "**.example.com",
        ] {
            assert!(!dns_id_matches(p, "mx1.example.com"), "{p}");
            assert!(!dns_id_matches(p, "mxx.example.com"), "{p}");
        }
        assert!(partial_wildcard_would_match(
            "mx*.example.com",
            "mx1.example.com"
        ));
        assert!(partial_wildcard_would_match(
            "*x.example.com",
            "mxx.example.com"
        ));
        assert!(!partial_wildcard_would_match(
            "mx*.example.com",
            "a.mx1.example.com"
        ));
        assert!(!partial_wildcard_would_match(
            "*.example.com",
            "mx.example.com"
        ));
    }

    #[test]
    fn idn_a_labels() {
        assert!(dns_id_matches(
            "xn--bcher-kva.example",
            "xn--bcher-kva.example"
        ));
        assert!(dns_id_matches(
            "XN--BCHER-KVA.example",
            "xn--bcher-kva.example"
        ));
        assert!(dns_id_matches("xn--bcher-kva.example", "bücher.example"));
        assert!(dns_id_matches(
            "*.xn--bcher-kva.example",
            "mx.bücher.example"
        ));
        // A U-label is not a valid presented identifier.
        assert!(!dns_id_matches("bücher.example", "xn--bcher-kva.example"));
        assert!(!dns_id_matches("xn--bcher-kva.example", "bucher.example"));
    }

    #[test]
    fn summary_of_generated_certificate() {
        let (der, key) = self_signed(&["mx.example.com", "*.example.net"], "mx.example.com");
        let s = CertSummary::from_der(&der).unwrap();
        assert_eq!(s.san_dns, ["mx.example.com", "*.example.net"]);
        assert_eq!(s.subject_cns, ["mx.example.com"]);
        assert!(s.is_self_issued && s.is_self_signed);
        assert_eq!(s.key_algorithm, KeyAlgorithm::EcP256);
        assert_eq!(s.sha256_der, sha256(&der));
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        assert_eq!(s.sha256_spki, sha256(&spki));
        assert_eq!(s.sha256_spki_hex().len(), 64);
        assert!(s.not_before < s.not_after);
        assert!(!s.serial_hex.is_empty());
        assert_eq!(validity_at(&s, s.not_before), Validity::Valid);
        assert_eq!(validity_at(&s, s.not_after + 1), Validity::Expired);
        assert_eq!(validity_at(&s, s.not_before - 1), Validity::NotYetValid);
        assert_eq!(Validity::Expired.class(), Some(CertClass::Expired));
        assert_eq!(Validity::NotYetValid.class(), Some(CertClass::NotYetValid));
        assert_eq!(Validity::Valid.class(), None);

        let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let cert = CertificateParams::new(vec!["a.example".to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let s = CertSummary::from_der(cert.der()).unwrap();
        assert_eq!(s.key_algorithm, KeyAlgorithm::Ed25519);
        assert!(s.is_self_signed);
    }

    #[test]
    fn host_name_outcomes() {
        let (der, _) = self_signed(&["mx.example.com", "*.example.net"], "other.example.org");
        let s = CertSummary::from_der(&der).unwrap();
        let c = check_host_name(&s, "MX.example.com.");
        assert_eq!(c.outcome, NameOutcome::Match);
        assert_eq!(c.presented.as_deref(), Some("mx.example.com"));
        assert_eq!(
            check_host_name(&s, "a.example.net").outcome,
            NameOutcome::Match
        );
        assert_eq!(
            check_host_name(&s, "a.b.example.net").outcome,
            NameOutcome::Mismatch
        );
        // The CN names a host but SANs exist: the CN is still only an explanation.
        let c = check_host_name(&s, "other.example.org");
        assert_eq!(c.outcome, NameOutcome::CnOnly);
        assert_eq!(c.outcome.class(), Some(CertClass::CnOnly));
        let c = check_host_name(&s, "nothing.example.org");
        assert_eq!(c.outcome.class(), Some(CertClass::NameMismatch));
    }

    #[test]
    fn cn_only_certificate() {
        let (der, _) = self_signed(&[], "mx.example.com");
        let s = CertSummary::from_der(&der).unwrap();
        assert!(s.san_dns.is_empty());
        assert_eq!(
            check_host_name(&s, "mx.example.com").outcome,
            NameOutcome::CnOnly
        );
    }

    #[test]
    fn partial_wildcard_only_certificate() {
        let (der, _) = self_signed(&["mx*.example.com"], "mail");
        let s = CertSummary::from_der(&der).unwrap();
        let c = check_host_name(&s, "mx1.example.com");
        assert_eq!(c.outcome, NameOutcome::PartialWildcardOnly);
        assert_eq!(c.outcome.class(), Some(CertClass::PartialWildcardOnly));
    }

    #[test]
    fn garbage_is_an_error() {
        assert_eq!(CertSummary::from_der(&[]), Err(CertParseError::Empty));
        assert!(CertSummary::from_der(b"not a certificate").is_err());
        let (mut der, _) = self_signed(&["a.example"], "a");
        der.push(0);
        assert_eq!(
            CertSummary::from_der(&der),
            Err(CertParseError::TrailingData { extra: 1 })
        );
        der.truncate(der.len() - 20);
        assert!(CertSummary::from_der(&der).is_err());
    }

    /// The reference for the property test: label lists compared one by one.
    fn reference_match(p: &str, r: &str) -> bool {
        let p = p.strip_suffix('.').unwrap_or(p).to_ascii_lowercase();
        let r = r.strip_suffix('.').unwrap_or(r).to_ascii_lowercase();
        let pl: Vec<&str> = p.split('.').collect();
        let rl: Vec<&str> = r.split('.').collect();
        if pl.iter().chain(&rl).any(|l| l.is_empty()) || r.contains('*') {
            return false;
        }
        if pl.len() != rl.len() {
            return false;
        }
        if pl[0] == "*" {
            pl.len() >= 3 && pl[1..] == rl[1..] && !pl[1..].iter().any(|l| l.contains('*'))
        } else {
            !p.contains('*') && pl == rl
        }
    }

    fn name() -> impl Strategy<Value = String> {
        let label = prop::sample::select(vec![
            "a",
            "B",
            "mx",
            "Mx",
            "*",
            "m*",
            "*x",
            "xn--bcher-kva",
            "com",
            "",
        ]);
        (prop::collection::vec(label, 1..5), any::<bool>()).prop_map(|(labels, dot)| {
            let mut s = labels.join(".");
            if dot {
                s.push('.');
            }
            s
        })
    }

    proptest! {
        #[test]
        fn dns_id_matches_agrees_with_reference(p in name(), r in name()) {
            prop_assert_eq!(dns_id_matches(&p, &r), reference_match(&p, &r), "{} vs {}", p, r);
        }

        #[test]
        fn from_der_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = CertSummary::from_der(&bytes);
        }

        #[test]
        fn from_der_survives_mutated_certificates(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let (mut der, _) = self_signed(&["mx.example.com"], "mx");
            for (i, b) in edits {
                let at = i.index(der.len());
                der[at] = b;
            }
            let _ = CertSummary::from_der(&der);
            der.truncate(cut.index(der.len()));
            let _ = CertSummary::from_der(&der);
        }

        #[test]
        fn names_never_panic(p in "\\PC{0,40}", r in "\\PC{0,40}") {
            let _ = dns_id_matches(&p, &r);
            let _ = partial_wildcard_would_match(&p, &r);
        }
    }
}
