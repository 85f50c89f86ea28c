//! TLSA records and DANE verification of a served chain (RFC 6698, RFC 7671, RFC 7672).
//!
//! Data flow: the probe brings back the TLSA RRset (as [`TlsaRecord`]s, from presentation
//! text or RDATA) and the DER chain the server sent. [`assess_tlsa_set`] sorts the records
//! into usable, unusable and malformed ones, applies digest agility (RFC 7671 §9) and checks
//! the rollover scheme; [`verify_chain`] then matches what is left against the chain and
//! keeps the evidence: every comparison (record, chain position, result), every DANE-TA
//! path attempt, and the findings.
//!
//! Rules implemented, with the reading chosen where the texts leave room:
//! - Usable for SMTP: usage 2 (DANE-TA) or 3 (DANE-EE), selector 0/1, matching type 0/1/2
//!   with a 32-octet (type 1) or 64-octet (type 2) digest. PKIX usages 0/1 are unusable
//!   (RFC 7672 §3.1.3), unknown and private-use (255) values too (RFC 6698 §4.1).
//! - Digest agility after discarding unusable/malformed records: per (usage, selector),
//!   Full(0) plus only the strongest digest present (SHA2-512 over SHA2-256).
//! - DANE-EE(3): the leaf only; no name check, no date check (RFC 7672 §3.1.1, §3.2.1).
//! - DANE-TA(2): matched against the issuers in the served chain, positions 1 and up. A
//!   `2 x x` record matching the leaf itself does not authenticate it: a trust anchor is an
//!   issuer (RFC 6698 §2.1.1), and OpenSSL, whose DANE code Postfix and Exim use, tries
//!   TA records only at depth >= 1; this is reported as `dane_ta_matches_leaf`.
//! - Digest TA records need the anchor in the served chain (RFC 7671 §5.2.2, RFC 7672
//!   §3.1.2). `2 0 0` must work even when the anchor is only in DNS (RFC 7671 §5.2.2), and
//!   `2 1 0` is RECOMMENDED to be checked as "a served certificate signed by this key"
//!   (RFC 7671 §5.2.3): both are implemented, and reported with the warning
//!   `dane_ta_anchor_only_in_dns` because RFC 7672 §3.1.2 still requires servers to send it.
//! - DANE-TA path: each certificate from the leaf up to the anchor is signed by the next
//!   one, with chained names; every certificate in the path is within its validity period
//!   at `now`, the anchor certificate included as OpenSSL does (a `2 1 0` key from DNS has
//!   no dates); issuers must be CAs (basicConstraints cA, keyCertSign when keyUsage is present,
//!   pathLenConstraint), and the anchor's own constraints apply only with selector Cert(0)
//!   (RFC 7671 §5.2.1). Name constraints are not evaluated.
//! - DANE-TA names (RFC 7672 §3.2.3): subjectAltName DNS-IDs if any, else the subject CN;
//!   a wildcard only as the whole first label, covering one label.
//!
//! ```
//! use mxcensus_proto::tlsa::{TlsaRecord, TlsaUsage};
//! let r = TlsaRecord::from_presentation("3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef").unwrap();
//! assert_eq!(r.usage(), TlsaUsage::DaneEe);
//! assert!(r.usability().is_usable());
//! ```

use std::collections::BTreeMap;
use std::fmt;

use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::cert::{
    CertParseError, CertSummary, Validity, dns_id_matches, hex, parse_x509, sha256,
    validity_between,
};
use crate::failure_classes;
use crate::finding::Finding;

failure_classes! {
    /// DANE failure classes for SMTP (RFC 6698, RFC 7671, RFC 7672; SPEC §F).
    pub enum DaneClass {
        /// No usable record matches the served chain.
        TlsaMismatch = "tlsa_mismatch", Error, "RFC 7672 §3.1; RFC 6698 §2.1",
            "Publish a TLSA record for the key now served; add the next key's record before each change.";
        /// The TLSA RRset is not DNSSEC-secure (unsigned zone or missing DS).
        TlsaInsecure = "tlsa_insecure", Error, "RFC 7672 §2.2.3; RFC 6698 §4.1",
            "Sign the zone holding the TLSA records and publish its DS in the parent zone.";
        /// The TLSA answer fails DNSSEC validation.
        TlsaBogus = "tlsa_bogus", Error, "RFC 7672 §2.1.2",
            "Fix the signatures or DS of the TLSA zone; DANE senders defer mail until then.";
        /// The TLSA lookup failed (SERVFAIL, timeout, malformed answer).
        TlsaLookupError = "tlsa_lookup_error", Error, "RFC 7672 §2.1.2, §2.2.2",
            "Make the authoritative servers answer TLSA queries (NODATA rather than errors).";
        /// A record has a PKIX usage, an unknown or private-use value: not usable for SMTP.
        TlsaUnusableParams = "tlsa_unusable_params", Warning,
            "RFC 7672 §3.1.3; RFC 7671 §4.1; RFC 6698 §4.1",
            "Publish only usages 2/3, selectors 0/1 and matching types 0/1/2.";
        /// Every record uses PKIX-TA(0) or PKIX-EE(1), which SMTP does not use.
        OnlyPkixUsages = "only_pkix_usages", Error, "RFC 7672 §3.1.3",
            "Republish the data as 3 1 1 (DANE-EE) or 2 0 1 (DANE-TA) records.";
        /// A digest record has the wrong length (or a full record has no data).
        TlsaMalformed = "tlsa_malformed", Error, "RFC 7671 §9; RFC 6698 §2.1.3",
            "Publish a 32-octet SHA-256 (type 1) or a 64-octet SHA-512 (type 2) digest.";
        /// A DANE-TA digest record may name an issuer the server does not send.
        DaneTaMissingAnchorInChain = "dane_ta_missing_anchor_in_chain", Error,
            "RFC 7671 §5.2.2; RFC 7672 §3.1.2",
            "Send the trust-anchor certificate in the chain, even a self-signed root.";
        /// A `2 0 0` / `2 1 0` record authenticated a chain that lacks the anchor.
        DaneTaAnchorOnlyInDns = "dane_ta_anchor_only_in_dns", Warning,
            "RFC 7672 §3.1.2; RFC 7671 §5.2.2, §5.2.3",
            "Send the trust-anchor certificate in the chain; not all clients use the DNS copy.";
        /// A DANE-TA record matches the leaf, which is not an issuer.
        DaneTaMatchesLeaf = "dane_ta_matches_leaf", Warning, "RFC 6698 §2.1.1; RFC 7671 §5.2",
            "Publish the leaf's data as a 3 x x record, or the issuing CA's as 2 x x.";
        /// A DANE-TA anchor matched but the path to it does not verify (signature, names,
        /// dates or CA constraints).
        DaneTaChainInvalid = "dane_ta_chain_invalid", Error, "RFC 7671 §5.2; RFC 5280 §6.1",
            "Serve a currently valid chain in which each certificate is issued by the next.";
        /// A DANE-TA path verifies but the leaf names none of the reference identifiers.
        DaneTaNameMismatch = "dane_ta_name_mismatch", Error, "RFC 7672 §3.2.2, §3.2.3",
            "Issue the leaf with a subjectAltName DNS name for the MX host (TLSA base domain).";
        /// TLSA records are published but the server does not offer STARTTLS.
        TlsaButNoStarttls = "tlsa_but_no_starttls", Error, "RFC 7672 §2.2",
            "Offer STARTTLS on port 25, or withdraw the TLSA records.";
        /// TLSA records exist under an MX RRset that is not DNSSEC-secure.
        TlsaBehindInsecureMx = "tlsa_behind_insecure_mx", Warning, "RFC 7672 §2.2.1",
            "Sign the mail domain's zone so its MX RRset validates.";
        /// No second DANE-EE key or DANE-TA issuer published for a key rollover.
        NoRolloverScheme = "no_rollover_scheme", Warning, "RFC 7671 §8.1; RFC 7672 §4",
            "Publish a 3 x x record for the next key too, or a 2 x x record for the issuer.";
        /// Full(0) matching data is published instead of a digest.
        TlsaFullNotRecommended = "tlsa_full_not_recommended", Info,
            "RFC 7671 §5.2.1, §10.1.2",
            "Publish a SHA-256 digest (matching type 1) instead of the full data.";
        /// The server sent no certificate.
        ChainEmpty = "dane_chain_empty", Error, "RFC 8446 §4.4.2; RFC 7672 §3",
            "Configure the server with a certificate chain.";
        /// A certificate in the served chain is not parseable DER X.509.
        ChainCertUnparseable = "dane_chain_cert_unparseable", Warning, "RFC 5280 §4.1",
            "Serve DER-encoded X.509 certificates only.";
    }
}

/// Certificate usage field (RFC 6698 §2.1.1, names from RFC 7218).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsaUsage {
    /// 0: PKIX-TA.
    PkixTa,
    /// 1: PKIX-EE.
    PkixEe,
    /// 2: DANE-TA.
    DaneTa,
    /// 3: DANE-EE.
    DaneEe,
    /// 255: private use.
    PrivateUse,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for TlsaUsage {
    fn from(v: u8) -> Self {
        match v {
            0 => TlsaUsage::PkixTa,
            1 => TlsaUsage::PkixEe,
            2 => TlsaUsage::DaneTa,
            3 => TlsaUsage::DaneEe,
            255 => TlsaUsage::PrivateUse,
            n => TlsaUsage::Unknown(n),
        }
    }
}

impl From<TlsaUsage> for u8 {
    fn from(v: TlsaUsage) -> u8 {
        match v {
            TlsaUsage::PkixTa => 0,
            TlsaUsage::PkixEe => 1,
            TlsaUsage::DaneTa => 2,
            TlsaUsage::DaneEe => 3,
            TlsaUsage::PrivateUse => 255,
            TlsaUsage::Unknown(n) => n,
        }
    }
}

/// Selector field (RFC 6698 §2.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsaSelector {
    /// 0: the full certificate DER.
    Cert,
    /// 1: the SubjectPublicKeyInfo DER.
    Spki,
    /// 255: private use.
    PrivateUse,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for TlsaSelector {
    fn from(v: u8) -> Self {
        match v {
            0 => TlsaSelector::Cert,
            1 => TlsaSelector::Spki,
            255 => TlsaSelector::PrivateUse,
            n => TlsaSelector::Unknown(n),
        }
    }
}

impl From<TlsaSelector> for u8 {
    fn from(v: TlsaSelector) -> u8 {
        match v {
            TlsaSelector::Cert => 0,
            TlsaSelector::Spki => 1,
            TlsaSelector::PrivateUse => 255,
            TlsaSelector::Unknown(n) => n,
        }
    }
}

/// Matching type field (RFC 6698 §2.1.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsaMatchingType {
    /// 0: exact bytes.
    Full,
    /// 1: SHA2-256.
    Sha256,
    /// 2: SHA2-512.
    Sha512,
    /// 255: private use.
    PrivateUse,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for TlsaMatchingType {
    fn from(v: u8) -> Self {
        match v {
            0 => TlsaMatchingType::Full,
            1 => TlsaMatchingType::Sha256,
            2 => TlsaMatchingType::Sha512,
            255 => TlsaMatchingType::PrivateUse,
            n => TlsaMatchingType::Unknown(n),
        }
    }
}

impl From<TlsaMatchingType> for u8 {
    fn from(v: TlsaMatchingType) -> u8 {
        match v {
            TlsaMatchingType::Full => 0,
            TlsaMatchingType::Sha256 => 1,
            TlsaMatchingType::Sha512 => 2,
            TlsaMatchingType::PrivateUse => 255,
            TlsaMatchingType::Unknown(n) => n,
        }
    }
}

/// One TLSA record (RFC 6698 §2.1), fields kept as published, unknown values included.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TlsaRecord {
    /// Certificate usage.
    pub usage: u8,
    /// Selector.
    pub selector: u8,
    /// Matching type.
    pub matching_type: u8,
    /// Certificate association data.
    pub data: Vec<u8>,
}

/// Why TLSA text or RDATA could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TlsaParseError {
    /// Nothing but whitespace.
    #[error("empty TLSA record")]
    Empty,
    /// One of the three numeric fields is missing.
    #[error("missing {field} field")]
    MissingField {
        /// `usage`, `selector` or `matching type`.
        field: &'static str,
    },
    /// A numeric field is not a decimal number from 0 to 255.
    #[error("{field} {text:?} is not a number from 0 to 255")]
    BadNumber {
        /// Which field.
        field: &'static str,
        /// The text found.
        text: String,
    },
    /// No certificate association data.
    #[error("missing certificate association data")]
    MissingData,
    /// A character that is not a hex digit in the data.
    #[error("invalid hex digit at data position {position}")]
    InvalidHex {
        /// Index of the offending character within the hex text.
        position: usize,
    },
    /// An odd number of hex digits.
    #[error("odd number of hex digits ({digits})")]
    OddHexLength {
        /// How many digits.
        digits: usize,
    },
    /// RDATA shorter than the three one-octet fields.
    #[error("RDATA is {len} octets, under 3")]
    RdataTooShort {
        /// RDATA length.
        len: usize,
    },
    /// RFC 3597 `\# len hex` form whose length does not match its data.
    #[error("generic RDATA declares {declared} octets but carries {actual}")]
    GenericLengthMismatch {
        /// The declared length.
        declared: usize,
        /// The octets present.
        actual: usize,
    },
}

fn parse_hex(text: &str) -> Result<Vec<u8>, TlsaParseError> {
    let digits: Vec<u8> = text.bytes().collect();
    if !digits.len().is_multiple_of(2) {
        return Err(TlsaParseError::OddHexLength {
            digits: digits.len(),
        });
    }
    let val = |i: usize| -> Result<u8, TlsaParseError> {
        let c = digits.get(i).copied().unwrap_or(b'?');
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or(TlsaParseError::InvalidHex { position: i })
    };
    (0..digits.len() / 2)
        .map(|i| Ok(val(2 * i)? << 4 | val(2 * i + 1)?))
        .collect()
}

fn parse_field(text: Option<&str>, field: &'static str) -> Result<u8, TlsaParseError> {
    let text = text.ok_or(TlsaParseError::MissingField { field })?;
    if text.is_empty() || text.len() > 3 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TlsaParseError::BadNumber {
            field,
            text: text.to_owned(),
        });
    }
    text.parse::<u8>().map_err(|_| TlsaParseError::BadNumber {
        field,
        text: text.to_owned(),
    })
}

impl TlsaRecord {
    /// Parses presentation format (RFC 6698 §2.2): `usage selector matching-type hex`,
    /// whitespace allowed inside the hex. Also accepts the RFC 3597 generic form
    /// `\# length hex`.
    pub fn from_presentation(text: &str) -> Result<TlsaRecord, TlsaParseError> {
        let mut tokens = text.split_ascii_whitespace();
        let first = tokens.next().ok_or(TlsaParseError::Empty)?;
        if first == "\\#" {
            let declared = tokens.next().ok_or(TlsaParseError::MissingData)?;
            let declared: usize = declared
                .parse()
                .ok()
                .filter(|_| declared.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| TlsaParseError::BadNumber {
                    field: "rdata length",
                    text: declared.to_owned(),
                })?;
            let rdata = parse_hex(&tokens.collect::<String>())?;
            if rdata.len() != declared {
                return Err(TlsaParseError::GenericLengthMismatch {
                    declared,
                    actual: rdata.len(),
                });
            }
            return TlsaRecord::from_rdata(&rdata);
        }
        let usage = parse_field(Some(first), "usage")?;
        let selector = parse_field(tokens.next(), "selector")?;
        let matching_type = parse_field(tokens.next(), "matching type")?;
        let hex_text: String = tokens.collect();
        if hex_text.is_empty() {
            return Err(TlsaParseError::MissingData);
        }
        Ok(TlsaRecord {
            usage,
            selector,
            matching_type,
            data: parse_hex(&hex_text)?,
        })
    }

    /// Parses wire-format RDATA (RFC 6698 §2.1): three octets, then the data.
    pub fn from_rdata(rdata: &[u8]) -> Result<TlsaRecord, TlsaParseError> {
        match rdata {
            [usage, selector, matching_type, data @ ..] => Ok(TlsaRecord {
                usage: *usage,
                selector: *selector,
                matching_type: *matching_type,
                data: data.to_vec(),
            }),
            _ => Err(TlsaParseError::RdataTooShort { len: rdata.len() }),
        }
    }

    /// The certificate usage, typed.
    pub fn usage(&self) -> TlsaUsage {
        self.usage.into()
    }

    /// The selector, typed.
    pub fn selector(&self) -> TlsaSelector {
        self.selector.into()
    }

    /// The matching type, typed.
    pub fn matching_type(&self) -> TlsaMatchingType {
        self.matching_type.into()
    }

    /// Whether an SMTP client can use this record (RFC 7672 §3.1, RFC 7671 §4.1, §9).
    pub fn usability(&self) -> Usability {
        match self.usage() {
            TlsaUsage::DaneTa | TlsaUsage::DaneEe => {}
            u @ (TlsaUsage::PkixTa | TlsaUsage::PkixEe) => {
                return Usability::Unusable(UnusableReason::PkixUsage(u));
            }
            _ => return Usability::Unusable(UnusableReason::UnknownUsage(self.usage)),
        }
        if !matches!(self.selector(), TlsaSelector::Cert | TlsaSelector::Spki) {
            return Usability::Unusable(UnusableReason::UnknownSelector(self.selector));
        }
        let expected = match self.matching_type() {
            TlsaMatchingType::Full if self.data.is_empty() => {
                return Usability::Malformed(MalformedReason::EmptyData);
            }
            TlsaMatchingType::Full => return Usability::Usable,
            TlsaMatchingType::Sha256 => 32,
            TlsaMatchingType::Sha512 => 64,
            _ => {
                return Usability::Unusable(UnusableReason::UnknownMatchingType(
                    self.matching_type,
                ));
            }
        };
        if self.data.len() == expected {
            Usability::Usable
        } else {
            Usability::Malformed(MalformedReason::DigestLength {
                matching_type: self.matching_type,
                expected,
                actual: self.data.len(),
            })
        }
    }

    /// Whether the record's data equals what `selector`/`matching type` make of `bytes`
    /// (the certificate DER for Cert(0), the SPKI DER for Spki(1)).
    fn matches_bytes(&self, bytes: &[u8]) -> bool {
        match self.matching_type() {
            TlsaMatchingType::Full => self.data == bytes,
            TlsaMatchingType::Sha256 => self.data == sha256(bytes),
            TlsaMatchingType::Sha512 => {
                self.data == ring::digest::digest(&ring::digest::SHA512, bytes).as_ref()
            }
            _ => false,
        }
    }
}

impl fmt::Display for TlsaRecord {
    /// Presentation format; a record without data can only be written in the RFC 3597
    /// generic form (`\\# 3 030101`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.data.is_empty() {
            return write!(
                f,
                "\\# 3 {:02x}{:02x}{:02x}",
                self.usage, self.selector, self.matching_type
            );
        }
        write!(
            f,
            "{} {} {} {}",
            self.usage,
            self.selector,
            self.matching_type,
            hex(&self.data)
        )
    }
}

/// Whether a record can take part in verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Usability {
    /// Usage 2/3, selector 0/1, matching type 0/1/2 with the right length.
    Usable,
    /// Parameters an SMTP client does not use.
    Unusable(UnusableReason),
    /// Known parameters, impossible data.
    Malformed(MalformedReason),
}

impl Usability {
    /// True for [`Usability::Usable`].
    pub fn is_usable(self) -> bool {
        self == Usability::Usable
    }
}

/// Why a record is unusable for SMTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnusableReason {
    /// PKIX-TA(0) or PKIX-EE(1) (RFC 7672 §3.1.3).
    PkixUsage(TlsaUsage),
    /// A usage other than 0–3 (255 included).
    UnknownUsage(u8),
    /// A selector other than 0/1.
    UnknownSelector(u8),
    /// A matching type other than 0/1/2.
    UnknownMatchingType(u8),
}

/// Why a record with known parameters is malformed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MalformedReason {
    /// A digest whose length does not fit its algorithm (RFC 7671 §9).
    DigestLength {
        /// The matching type.
        matching_type: u8,
        /// Octets the algorithm produces.
        expected: usize,
        /// Octets published.
        actual: usize,
    },
    /// Full(0) with no data.
    EmptyData,
}

/// What became of one record before matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// Usable and kept after digest agility: compared with the chain.
    Considered,
    /// Not usable for SMTP.
    Unusable(UnusableReason),
    /// Malformed.
    Malformed(MalformedReason),
    /// Usable, but a stronger digest exists for its (usage, selector) (RFC 7671 §9).
    SupersededDigest {
        /// The matching type that is used instead.
        by: u8,
    },
}

/// The RRset-level judgement, independent of any chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaSetAssessment {
    /// One status per input record, same order.
    pub status: Vec<RecordStatus>,
    /// At least one record is usable (RFC 7672 §2.2: authentication is required).
    pub any_usable: bool,
    /// ≥2 DANE-EE records, or DANE-EE plus DANE-TA (SPEC §F, internet.nl's rule).
    pub rollover_ready: bool,
    /// Findings about the records themselves.
    pub findings: Vec<Finding<DaneClass>>,
}

impl TlsaSetAssessment {
    /// Indices of the records that are compared with the chain.
    pub fn considered(&self) -> impl Iterator<Item = usize> + '_ {
        self.status
            .iter()
            .enumerate()
            .filter(|(_, s)| **s == RecordStatus::Considered)
            .map(|(i, _)| i)
    }
}

/// Sorts an RRset into usable, unusable and malformed records, applies digest agility
/// (RFC 7671 §9) and judges the rollover scheme.
pub fn assess_tlsa_set(records: &[TlsaRecord]) -> TlsaSetAssessment {
    let mut findings = Vec::new();
    let mut status: Vec<RecordStatus> = records
        .iter()
        .enumerate()
        .map(|(i, r)| match r.usability() {
            Usability::Usable => RecordStatus::Considered,
            Usability::Unusable(why) => {
                findings.push(Finding::new(
                    DaneClass::TlsaUnusableParams,
                    format!("record {i} ({}): {why:?}", short(r)),
                ));
                RecordStatus::Unusable(why)
            }
            Usability::Malformed(why) => {
                findings.push(Finding::new(
                    DaneClass::TlsaMalformed,
                    format!("record {i} ({}): {why:?}", short(r)),
                ));
                RecordStatus::Malformed(why)
            }
        })
        .collect();

    // Digest agility: strongest digest per (usage, selector) among usable records.
    let mut strongest: BTreeMap<(u8, u8), u8> = BTreeMap::new();
    for (r, s) in records.iter().zip(&status) {
        if *s == RecordStatus::Considered && r.matching_type != 0 {
            let e = strongest.entry((r.usage, r.selector)).or_insert(0);
            *e = (*e).max(r.matching_type);
        }
    }
    for (r, s) in records.iter().zip(status.iter_mut()) {
        if *s == RecordStatus::Considered && r.matching_type != 0 {
            let best = strongest.get(&(r.usage, r.selector)).copied().unwrap_or(0);
            if r.matching_type < best {
                *s = RecordStatus::SupersededDigest { by: best };
            }
        }
    }

    let usable: Vec<&TlsaRecord> = records
        .iter()
        .zip(&status)
        .filter(|(_, s)| {
            matches!(
                s,
                RecordStatus::Considered | RecordStatus::SupersededDigest { .. }
            )
        })
        .map(|(r, _)| r)
        .collect();
    let any_usable = !usable.is_empty();
    if !records.is_empty()
        && records
            .iter()
            .all(|r| matches!(r.usage(), TlsaUsage::PkixTa | TlsaUsage::PkixEe))
    {
        findings.push(Finding::new(
            DaneClass::OnlyPkixUsages,
            format!("all {} records use PKIX-TA(0)/PKIX-EE(1)", records.len()),
        ));
    }
    // Rollover counts the records a client really compares: after agility (RFC 7671 §9).
    let considered = || {
        records
            .iter()
            .zip(&status)
            .filter(|(_, s)| **s == RecordStatus::Considered)
            .map(|(r, _)| r)
    };
    let ee_distinct = considered()
        .filter(|r| r.usage() == TlsaUsage::DaneEe)
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    let has_ta = considered().any(|r| r.usage() == TlsaUsage::DaneTa);
    let rollover_ready = ee_distinct >= 2 || (ee_distinct >= 1 && has_ta);
    if any_usable && !rollover_ready {
        findings.push(Finding::new(
            DaneClass::NoRolloverScheme,
            format!(
                "{ee_distinct} DANE-EE record(s), {} DANE-TA record(s)",
                usable
                    .iter()
                    .filter(|r| r.usage() == TlsaUsage::DaneTa)
                    .count()
            ),
        ));
    }
    if usable.iter().any(|r| r.matching_type == 0) {
        findings.push(Finding::new(
            DaneClass::TlsaFullNotRecommended,
            "a usable record carries full data (matching type 0)",
        ));
    }
    TlsaSetAssessment {
        status,
        any_usable,
        rollover_ready,
        findings,
    }
}

fn short(r: &TlsaRecord) -> String {
    let h = hex(&r.data);
    let cut = h.get(..16).unwrap_or(&h);
    format!("{} {} {} {cut}", r.usage, r.selector, r.matching_type)
}

/// What one comparison of a record with one served certificate found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ComparisonResult {
    /// The data matches this certificate (or its key).
    Matched,
    /// The data does not match.
    NotMatched,
    /// A DANE-TA record matches the leaf, which cannot be its own trust anchor: ignored.
    MatchedLeafIgnored,
    /// The certificate could not be parsed, so its SPKI is unknown.
    CertUnparseable,
    /// A `2 0 0` / `2 1 0` anchor taken from DNS signed this certificate.
    IssuedByDnsAnchor,
}

/// One comparison: which record, which chain position, what came of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Comparison {
    /// Index of the record in the input RRset.
    pub record: usize,
    /// Position in the served chain (0 = leaf).
    pub position: usize,
    /// The result.
    pub result: ComparisonResult,
}

/// Why a DANE-TA path from the leaf to an anchor does not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChainError {
    /// A certificate in the path does not parse.
    Unparseable {
        /// Chain position.
        position: usize,
        /// The parse error.
        error: CertParseError,
    },
    /// A certificate's issuer DN is not its successor's subject DN.
    IssuerNameMismatch {
        /// Position of the issued certificate.
        position: usize,
    },
    /// A signature does not verify with the issuer's key (or uses an algorithm that
    /// cannot be checked).
    BadSignature {
        /// Position of the issued certificate.
        position: usize,
    },
    /// A certificate in the path is expired at `now`.
    Expired {
        /// Chain position; `None` for the anchor taken from DNS.
        position: Option<usize>,
        /// Its notAfter.
        not_after: i64,
    },
    /// A certificate in the path is not yet valid at `now`.
    NotYetValid {
        /// Chain position; `None` for the anchor taken from DNS.
        position: Option<usize>,
        /// Its notBefore.
        not_before: i64,
    },
    /// An issuer is not a CA (no basicConstraints cA, or keyUsage without keyCertSign).
    NotACa {
        /// Chain position; `None` for the anchor taken from DNS.
        position: Option<usize>,
    },
    /// An issuer's pathLenConstraint is exceeded.
    PathLenExceeded {
        /// Chain position; `None` for the anchor taken from DNS.
        position: Option<usize>,
    },
}

/// Where a DANE-TA trust anchor came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnchorSource {
    /// A served certificate at this position matched the record.
    Served {
        /// Chain position of the anchor.
        position: usize,
    },
    /// The record's own full data (`2 0 0` / `2 1 0`) signed the certificate at `top`.
    Dns {
        /// Highest chain position in the path (signed by the anchor).
        top: usize,
    },
}

/// Which identifiers the DANE-TA name check used (RFC 7672 §3.2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NameSource {
    /// subjectAltName DNS-IDs.
    SanDns,
    /// The subject CN (only when there is no DNS-ID).
    CommonName,
}

/// The DANE-TA leaf name check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneNameCheck {
    /// Identifiers consulted.
    pub source: NameSource,
    /// The (presented, reference) pair that matched, if any.
    pub matched: Option<(String, String)>,
}

/// One DANE-TA anchor candidate and what its path check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaAttempt {
    /// Index of the record.
    pub record: usize,
    /// Where the anchor is.
    pub anchor: AnchorSource,
    /// The path check.
    pub path: Result<(), ChainError>,
    /// The name check, when the path verified.
    pub names: Option<DaneNameCheck>,
}

impl TaAttempt {
    fn succeeded(&self) -> bool {
        self.path.is_ok() && self.names.as_ref().is_some_and(|n| n.matched.is_some())
    }
}

/// Which record authenticated the server, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneMatch {
    /// Index of the record.
    pub record: usize,
    /// Its usage.
    pub usage: TlsaUsage,
    /// The matched certificate's position (DANE-EE: 0; DANE-TA: the anchor, or the top of
    /// the path for an anchor from DNS).
    pub position: usize,
    /// For DANE-TA: where the anchor came from.
    pub anchor: Option<AnchorSource>,
}

/// The verdict of [`verify_chain`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DaneOutcome {
    /// A usable record authenticated the server.
    Authenticated,
    /// No usable record: TLS is mandatory, authentication is not (RFC 7672 §2.2).
    NoUsableRecords,
    /// Usable records exist and none authenticated the server; the class says why.
    Failed(DaneClass),
}

/// Everything [`verify_chain`] found, kept as evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneVerification {
    /// The RRset-level judgement.
    pub assessment: TlsaSetAssessment,
    /// The verdict.
    pub outcome: DaneOutcome,
    /// The record that authenticated the server, if one did.
    pub matched: Option<DaneMatch>,
    /// Every record-versus-certificate comparison made.
    pub comparisons: Vec<Comparison>,
    /// Every DANE-TA anchor candidate and its path/name checks.
    pub ta_attempts: Vec<TaAttempt>,
    /// Findings: the RRset's, the chain's and the verdict's.
    pub findings: Vec<Finding<DaneClass>>,
}

struct ChainCert<'a> {
    der: &'a [u8],
    x509: Result<X509Certificate<'a>, CertParseError>,
}

/// The anchor of a DANE-TA path as the checker sees it.
enum Anchor<'a> {
    /// A served certificate; `constraints` = apply its CA constraints (selector Cert(0)).
    Served { position: usize, constraints: bool },
    /// A `2 0 0` certificate from DNS.
    DnsCert(&'a X509Certificate<'a>),
    /// A `2 1 0` key from DNS.
    DnsKey,
}

/// Verifies a served chain (DER, leaf first, as sent) against a TLSA RRset under the
/// rules of RFC 7672 §3 / RFC 7671 §5 (see the module docs), at `now` (Unix seconds).
/// `reference_names` are the DANE-TA reference identifiers of RFC 7672 §3.2.2 (the TLSA
/// base domain first); DANE-EE ignores them. Never panics, whatever the input.
pub fn verify_chain(
    records: &[TlsaRecord],
    chain: &[Vec<u8>],
    reference_names: &[&str],
    now: i64,
) -> DaneVerification {
    let assessment = assess_tlsa_set(records);
    let mut findings = assessment.findings.clone();
    let certs: Vec<ChainCert<'_>> = chain
        .iter()
        .map(|der| ChainCert {
            der,
            x509: parse_x509(der),
        })
        .collect();
    for (i, c) in certs.iter().enumerate() {
        if let Err(e) = &c.x509 {
            findings.push(Finding::new(
                DaneClass::ChainCertUnparseable,
                format!("chain position {i}: {e}"),
            ));
        }
    }
    let mut out = DaneVerification {
        assessment,
        outcome: DaneOutcome::NoUsableRecords,
        matched: None,
        comparisons: Vec::new(),
        ta_attempts: Vec::new(),
        findings: Vec::new(),
    };
    let considered: Vec<usize> = out.assessment.considered().collect();
    if considered.is_empty() {
        out.findings = findings;
        return out;
    }
    let Some(leaf) = certs.first() else {
        findings.push(Finding::new(DaneClass::ChainEmpty, "no certificate served"));
        out.outcome = DaneOutcome::Failed(DaneClass::ChainEmpty);
        out.findings = findings;
        return out;
    };

    // DANE-EE(3): the leaf only, no names, no dates (RFC 7672 §3.1.1, §3.2.1).
    let mut ee_present = false;
    for &i in &considered {
        let Some(r) = records.get(i) else { continue };
        if r.usage() != TlsaUsage::DaneEe {
            continue;
        }
        ee_present = true;
        let result = compare(r, leaf);
        out.comparisons.push(Comparison {
            record: i,
            position: 0,
            result,
        });
        if result == ComparisonResult::Matched && out.matched.is_none() {
            out.matched = Some(DaneMatch {
                record: i,
                usage: TlsaUsage::DaneEe,
                position: 0,
                anchor: None,
            });
        }
    }

    // DANE-TA(2): issuers in the served chain, or a full anchor from DNS.
    let mut ta_digest_unmatched = false;
    let mut leaf_matched_by_ta = false;
    for &i in &considered {
        let Some(r) = records.get(i) else { continue };
        if r.usage() != TlsaUsage::DaneTa {
            continue;
        }
        let mut matched_served = false;
        for (pos, c) in certs.iter().enumerate() {
            let mut result = compare(r, c);
            if result == ComparisonResult::Matched && pos == 0 {
                result = ComparisonResult::MatchedLeafIgnored;
                leaf_matched_by_ta = true;
            }
            out.comparisons.push(Comparison {
                record: i,
                position: pos,
                result,
            });
            if result == ComparisonResult::Matched {
                matched_served = true;
                let anchor = Anchor::Served {
                    position: pos,
                    constraints: r.selector() == TlsaSelector::Cert,
                };
                let path = verify_path(&certs, pos, &anchor, now);
                out.ta_attempts.push(attempt(
                    i,
                    AnchorSource::Served { position: pos },
                    path,
                    &certs,
                    reference_names,
                ));
            }
        }
        if matched_served {
            continue;
        }
        if r.matching_type() != TlsaMatchingType::Full {
            ta_digest_unmatched = true;
            continue;
        }
        // RFC 7671 §5.2.2 (2 0 0) and §5.2.3 (2 1 0): the anchor is in the record itself.
        dns_anchor_attempts(r, i, &certs, reference_names, now, &mut out);
    }
    if leaf_matched_by_ta {
        findings.push(Finding::new(
            DaneClass::DaneTaMatchesLeaf,
            "a 2 x x record matches the leaf certificate, which is not a trust anchor",
        ));
    }

    let ta_ok = out.ta_attempts.iter().find(|a| a.succeeded());
    if out.matched.is_none()
        && let Some(a) = ta_ok
    {
        let position = match a.anchor {
            AnchorSource::Served { position } => position,
            AnchorSource::Dns { top } => top,
        };
        if let AnchorSource::Dns { .. } = a.anchor {
            findings.push(Finding::new(
                DaneClass::DaneTaAnchorOnlyInDns,
                format!(
                    "record {} authenticated the chain with the anchor from DNS",
                    a.record
                ),
            ));
        }
        out.matched = Some(DaneMatch {
            record: a.record,
            usage: TlsaUsage::DaneTa,
            position,
            anchor: Some(a.anchor),
        });
    }
    if out.matched.is_some() {
        out.outcome = DaneOutcome::Authenticated;
        out.findings = findings;
        return out;
    }

    let class = if out.ta_attempts.iter().any(|a| a.path.is_ok()) {
        DaneClass::DaneTaNameMismatch
    } else if !out.ta_attempts.is_empty() {
        DaneClass::DaneTaChainInvalid
    } else if ta_digest_unmatched && !top_is_self_issued(&certs) {
        // The chain stops below a root: the unmatched digest may name the missing issuer.
        DaneClass::DaneTaMissingAnchorInChain
    } else {
        DaneClass::TlsaMismatch
    };
    let detail = match class {
        DaneClass::DaneTaNameMismatch => {
            format!("the DANE-TA path verifies but the leaf names none of {reference_names:?}")
        }
        DaneClass::DaneTaChainInvalid => {
            let errs: Vec<String> = out
                .ta_attempts
                .iter()
                .filter_map(|a| a.path.as_ref().err().map(|e| format!("{e:?}")))
                .collect();
            format!("DANE-TA anchor matched; path fails: {}", errs.join("; "))
        }
        DaneClass::DaneTaMissingAnchorInChain => {
            "no served certificate matches the DANE-TA digest and the chain ends below a root"
                .to_owned()
        }
        _ => format!(
            "none of {} usable record(s) matches the chain",
            considered.len()
        ),
    };
    findings.push(Finding::new(class, detail));
    if class != DaneClass::TlsaMismatch
        && ee_present
        && !out
            .comparisons
            .iter()
            .any(|c| c.position == 0 && c.result == ComparisonResult::Matched)
    {
        findings.push(Finding::new(
            DaneClass::TlsaMismatch,
            "no DANE-EE record matches the leaf",
        ));
    }
    out.outcome = DaneOutcome::Failed(class);
    out.findings = findings;
    out
}

fn attempt(
    record: usize,
    anchor: AnchorSource,
    path: Result<(), ChainError>,
    certs: &[ChainCert<'_>],
    reference_names: &[&str],
) -> TaAttempt {
    let names = match (&path, certs.first().map(|c| &c.x509)) {
        (Ok(()), Some(Ok(leaf))) => Some(dane_name_check(leaf, reference_names)),
        _ => None,
    };
    TaAttempt {
        record,
        anchor,
        path,
        names,
    }
}

/// `2 0 0` / `2 1 0` with no served copy of the anchor: find the lowest served certificate
/// the DNS anchor signed, and check the path below it.
fn dns_anchor_attempts(
    r: &TlsaRecord,
    index: usize,
    certs: &[ChainCert<'_>],
    reference_names: &[&str],
    now: i64,
    out: &mut DaneVerification,
) {
    let dns_cert = match r.selector() {
        TlsaSelector::Cert => match parse_x509(&r.data) {
            Ok(c) => Some(c),
            Err(_) => return,
        },
        _ => None,
    };
    let dns_spki = match (&dns_cert, r.selector()) {
        (Some(c), _) => Some(c.public_key().clone()),
        (None, TlsaSelector::Spki) => match SubjectPublicKeyInfo::from_der(&r.data) {
            Ok(([], spki)) => Some(spki),
            _ => None,
        },
        _ => None,
    };
    let Some(spki) = dns_spki else { return };
    for (pos, c) in certs.iter().enumerate() {
        let Ok(x) = &c.x509 else { continue };
        if let Some(anchor) = &dns_cert
            && x.issuer().as_raw() != anchor.subject().as_raw()
        {
            continue;
        }
        if x.verify_signature(Some(&spki)).is_err() {
            continue;
        }
        out.comparisons.push(Comparison {
            record: index,
            position: pos,
            result: ComparisonResult::IssuedByDnsAnchor,
        });
        let anchor = match &dns_cert {
            Some(a) => Anchor::DnsCert(a),
            None => Anchor::DnsKey,
        };
        let path = verify_path(certs, pos, &anchor, now);
        out.ta_attempts.push(attempt(
            index,
            AnchorSource::Dns { top: pos },
            path,
            certs,
            reference_names,
        ));
        return;
    }
}

fn compare(r: &TlsaRecord, c: &ChainCert<'_>) -> ComparisonResult {
    let bytes = match r.selector() {
        TlsaSelector::Cert => c.der,
        _ => match &c.x509 {
            Ok(x) => x.public_key().raw,
            Err(_) => return ComparisonResult::CertUnparseable,
        },
    };
    if r.matches_bytes(bytes) {
        ComparisonResult::Matched
    } else {
        ComparisonResult::NotMatched
    }
}

fn top_is_self_issued(certs: &[ChainCert<'_>]) -> bool {
    match certs.last().map(|c| &c.x509) {
        Some(Ok(x)) => x.subject().as_raw() == x.issuer().as_raw(),
        _ => false,
    }
}

fn check_dates(
    x: &X509Certificate<'_>,
    position: Option<usize>,
    now: i64,
) -> Result<(), ChainError> {
    let not_before = x.validity().not_before.timestamp();
    let not_after = x.validity().not_after.timestamp();
    match validity_between(not_before, not_after, now) {
        Validity::Valid => Ok(()),
        Validity::Expired => Err(ChainError::Expired {
            position,
            not_after,
        }),
        Validity::NotYetValid => Err(ChainError::NotYetValid {
            position,
            not_before,
        }),
    }
}

/// CA constraints of an issuer: `below` = non-self-issued intermediates between it and the
/// leaf (RFC 5280 §4.2.1.9, §6.1.4).
fn check_issuer(
    x: &X509Certificate<'_>,
    position: Option<usize>,
    below: usize,
) -> Result<(), ChainError> {
    let bc = x.basic_constraints().ok().flatten();
    let v1 = x.version().0 == 0 && x.extensions().is_empty();
    match bc {
        Some(bc) if bc.value.ca => {
            if let Some(max) = bc.value.path_len_constraint
                && usize::try_from(max).is_ok_and(|m| below > m)
            {
                return Err(ChainError::PathLenExceeded { position });
            }
        }
        // Version 1 certificates predate extensions; OpenSSL accepts them as CAs.
        None if v1 => {}
        _ => return Err(ChainError::NotACa { position }),
    }
    match x.key_usage() {
        Ok(Some(ku)) if !ku.value.key_cert_sign() => Err(ChainError::NotACa { position }),
        Ok(_) => Ok(()),
        Err(_) => Err(ChainError::NotACa { position }),
    }
}

/// Checks the path leaf (0) .. `top`: signatures and name chaining below the anchor,
/// dates of every certificate, CA constraints of every issuer.
fn verify_path(
    certs: &[ChainCert<'_>],
    top: usize,
    anchor: &Anchor<'_>,
    now: i64,
) -> Result<(), ChainError> {
    let mut path = Vec::with_capacity(top + 1);
    for (position, c) in certs.iter().enumerate().take(top + 1) {
        match &c.x509 {
            Ok(x) => path.push(x),
            Err(error) => {
                return Err(ChainError::Unparseable {
                    position,
                    error: error.clone(),
                });
            }
        }
    }
    let mut below = 0usize;
    for (position, x) in path.iter().enumerate() {
        check_dates(x, Some(position), now)?;
        if position >= 1 {
            let is_served_anchor =
                matches!(anchor, Anchor::Served { position: p, .. } if *p == position);
            let constrained = match anchor {
                Anchor::Served { constraints, .. } => !is_served_anchor || *constraints,
                _ => true,
            };
            if constrained {
                check_issuer(x, Some(position), below)?;
            }
            if x.subject().as_raw() != x.issuer().as_raw() {
                below += 1;
            }
        }
        // Below `top` each certificate is issued by its successor; `top` itself is the
        // served anchor (not checked) or was found signed by the DNS anchor.
        if position < top {
            let Some(issuer) = path.get(position + 1) else {
                break;
            };
            if x.issuer().as_raw() != issuer.subject().as_raw() {
                return Err(ChainError::IssuerNameMismatch { position });
            }
            if x.verify_signature(Some(issuer.public_key())).is_err() {
                return Err(ChainError::BadSignature { position });
            }
        }
    }
    if let Anchor::DnsCert(a) = anchor {
        check_dates(a, None, now)?;
        check_issuer(a, None, below)?;
    }
    Ok(())
}

/// RFC 7672 §3.2.3: DNS-IDs if any are present, else the CN; wildcards one label only.
fn dane_name_check(leaf: &X509Certificate<'_>, reference_names: &[&str]) -> DaneNameCheck {
    let summary = CertSummary::from_x509(leaf, leaf.as_raw()).ok();
    let (source, ids) = match summary {
        Some(s) if !s.san_dns.is_empty() => (NameSource::SanDns, s.san_dns),
        Some(s) => (NameSource::CommonName, s.subject_cns),
        None => (NameSource::SanDns, Vec::new()),
    };
    let matched = reference_names.iter().find_map(|r| {
        ids.iter()
            .find(|p| dns_id_matches(p, r))
            .map(|p| (p.clone(), (*r).to_owned()))
    });
    DaneNameCheck { source, matched }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::tests::self_signed;
    use crate::finding::{FailureClass, check_class_table};
    use proptest::prelude::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, PKCS_ECDSA_P256_SHA256,
        PKCS_ED25519, PublicKeyData,
    };

    const NOW: i64 = 1_750_000_000; // 2025-06-15

    fn sha512(b: &[u8]) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA512, b)
            .as_ref()
            .to_vec()
    }

    fn rec(usage: u8, selector: u8, mt: u8, data: impl Into<Vec<u8>>) -> TlsaRecord {
        TlsaRecord {
            usage,
            selector,
            matching_type: mt,
            data: data.into(),
        }
    }

    fn spki_of(der: &[u8]) -> Vec<u8> {
        parse_x509(der).unwrap().public_key().raw.to_vec()
    }

    fn classes(v: &DaneVerification) -> Vec<DaneClass> {
        v.findings.iter().map(|f| f.class).collect()
    }

    /// CA -> intermediate -> leaf, with the given leaf names and leaf dates.
    struct Pki {
        ca: Vec<u8>,
        ca_key: KeyPair,
        inter: Vec<u8>,
        leaf: Vec<u8>,
    }

    fn ca_params(cn: &str) -> CertificateParams {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p
    }

    fn pki(leaf_names: &[&str], leaf_dates: Option<(i32, i32)>) -> Pki {
        let ca_key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let ca_p = ca_params("Test Root CA");
        let ca = ca_p.self_signed(&ca_key).unwrap().der().to_vec();
        let ca_issuer = Issuer::new(ca_p, &ca_key);
        let inter_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let inter_p = ca_params("Test Intermediate CA");
        let inter = inter_p
            .signed_by(&inter_key, &ca_issuer)
            .unwrap()
            .der()
            .to_vec();
        let inter_issuer = Issuer::new(inter_p, &inter_key);
        let leaf_key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).unwrap();
        let mut leaf_p =
            CertificateParams::new(leaf_names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
                .unwrap();
        leaf_p.distinguished_name = rcgen::DistinguishedName::new();
        leaf_p.distinguished_name.push(DnType::CommonName, "leaf");
        if let Some((from, to)) = leaf_dates {
            leaf_p.not_before = rcgen::date_time_ymd(from, 1, 1);
            leaf_p.not_after = rcgen::date_time_ymd(to, 1, 1);
        }
        let leaf = leaf_p
            .signed_by(&leaf_key, &inter_issuer)
            .unwrap()
            .der()
            .to_vec();
        Pki {
            ca,
            ca_key,
            inter,
            leaf,
        }
    }

    fn expired_self_signed(name: &str) -> Vec<u8> {
        let key = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let mut p = CertificateParams::new(vec![name.to_owned()]).unwrap();
        p.not_before = rcgen::date_time_ymd(2001, 1, 1);
        p.not_after = rcgen::date_time_ymd(2002, 1, 1);
        p.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn class_table_is_well_formed() {
        check_class_table::<DaneClass>().unwrap();
        assert_eq!(
            DaneClass::DaneTaMissingAnchorInChain.code(),
            "dane_ta_missing_anchor_in_chain"
        );
    }

    #[test]
    fn presentation_round_trip_and_errors() {
        let text = "3 1 1 0123456789ABCDEF 0123456789abcdef0123456789abcdef0123456789abcdef";
        let r = TlsaRecord::from_presentation(text).unwrap();
        assert_eq!(
            (r.usage, r.selector, r.matching_type, r.data.len()),
            (3, 1, 1, 32)
        );
        assert_eq!(TlsaRecord::from_presentation(&r.to_string()), Ok(r.clone()));
        assert_eq!(r.selector(), TlsaSelector::Spki);
        assert_eq!(r.matching_type(), TlsaMatchingType::Sha256);
        let generic = TlsaRecord::from_presentation("\\# 5 030101abcd").unwrap();
        assert_eq!(generic, rec(3, 1, 1, vec![0xab, 0xcd]));
        assert_eq!(
            TlsaRecord::from_presentation("  "),
            Err(TlsaParseError::Empty)
        );
        assert_eq!(
            TlsaRecord::from_presentation("3 1"),
            Err(TlsaParseError::MissingField {
                field: "matching type"
            })
        );
        assert!(matches!(
            TlsaRecord::from_presentation("256 1 1 ab"),
            Err(TlsaParseError::BadNumber { .. })
        ));
        assert!(matches!(
            TlsaRecord::from_presentation("-1 1 1 ab"),
            Err(TlsaParseError::BadNumber { .. })
        ));
        assert_eq!(
            TlsaRecord::from_presentation("3 1 1"),
            Err(TlsaParseError::MissingData)
        );
        assert_eq!(
            TlsaRecord::from_presentation("3 1 1 abc"),
            Err(TlsaParseError::OddHexLength { digits: 3 })
        );
        assert_eq!(
            TlsaRecord::from_presentation("3 1 1 zz"),
            Err(TlsaParseError::InvalidHex { position: 0 })
        );
        assert!(matches!(
            TlsaRecord::from_presentation("\\# 9 0301"),
            Err(TlsaParseError::GenericLengthMismatch {
                declared: 9,
                actual: 2
            })
        ));
        assert_eq!(
            TlsaRecord::from_rdata(&[3, 1]),
            Err(TlsaParseError::RdataTooShort { len: 2 })
        );
        let unknown = rec(7, 9, 200, vec![1]);
        assert_eq!(unknown.usage(), TlsaUsage::Unknown(7));
        assert_eq!(u8::from(unknown.usage()), 7);
        assert_eq!(u8::from(TlsaSelector::from(9)), 9);
        assert_eq!(u8::from(TlsaMatchingType::from(200)), 200);
        assert_eq!(TlsaUsage::from(255), TlsaUsage::PrivateUse);
    }

    #[test]
    fn usability_rules() {
        assert!(rec(3, 1, 1, [0; 32]).usability().is_usable());
        assert!(rec(2, 0, 2, [0; 64]).usability().is_usable());
        assert!(rec(3, 0, 0, [1]).usability().is_usable());
        assert_eq!(
            rec(3, 1, 1, [0; 31]).usability(),
            Usability::Malformed(MalformedReason::DigestLength {
                matching_type: 1,
                expected: 32,
                actual: 31
            })
        );
        assert_eq!(
            rec(3, 1, 2, [0; 32]).usability(),
            Usability::Malformed(MalformedReason::DigestLength {
                matching_type: 2,
                expected: 64,
                actual: 32
            })
        );
        assert_eq!(
            rec(3, 0, 0, []).usability(),
            Usability::Malformed(MalformedReason::EmptyData)
        );
        assert_eq!(
            rec(1, 1, 1, [0; 32]).usability(),
            Usability::Unusable(UnusableReason::PkixUsage(TlsaUsage::PkixEe))
        );
        assert_eq!(
            rec(255, 1, 1, [0; 32]).usability(),
            Usability::Unusable(UnusableReason::UnknownUsage(255))
        );
        assert_eq!(
            rec(3, 2, 1, [0; 32]).usability(),
            Usability::Unusable(UnusableReason::UnknownSelector(2))
        );
        assert_eq!(
            rec(3, 1, 3, [0; 32]).usability(),
            Usability::Unusable(UnusableReason::UnknownMatchingType(3))
        );
    }

    #[test]
    fn set_assessment_findings() {
        let a = assess_tlsa_set(&[rec(0, 0, 1, [0; 32]), rec(1, 1, 1, [0; 32])]);
        assert!(!a.any_usable);
        let c: Vec<_> = a.findings.iter().map(|f| f.class).collect();
        assert!(c.contains(&DaneClass::OnlyPkixUsages));
        assert_eq!(
            c.iter()
                .filter(|c| **c == DaneClass::TlsaUnusableParams)
                .count(),
            2
        );
        assert!(!c.contains(&DaneClass::NoRolloverScheme));

        let a = assess_tlsa_set(&[rec(3, 1, 1, [1; 32])]);
        assert!(!a.rollover_ready);
        assert!(
            a.findings
                .iter()
                .any(|f| f.class == DaneClass::NoRolloverScheme)
        );
        assert!(assess_tlsa_set(&[rec(3, 1, 1, [1; 32]), rec(3, 1, 1, [2; 32])]).rollover_ready);
        assert!(assess_tlsa_set(&[rec(3, 1, 1, [1; 32]), rec(2, 0, 1, [2; 32])]).rollover_ready);
        // Same key under two digests is one key.
        assert!(!assess_tlsa_set(&[rec(3, 1, 1, [1; 32]), rec(3, 1, 2, [1; 64])]).rollover_ready);
        assert!(!assess_tlsa_set(&[rec(2, 0, 1, [1; 32]), rec(2, 0, 1, [2; 32])]).rollover_ready);
        let a = assess_tlsa_set(&[rec(3, 0, 0, [1; 40]), rec(3, 1, 1, [1; 32])]);
        assert!(
            a.findings
                .iter()
                .any(|f| f.class == DaneClass::TlsaFullNotRecommended)
        );

        let a = assess_tlsa_set(&[
            rec(3, 1, 1, [1; 32]),
            rec(3, 1, 2, [1; 64]),
            rec(3, 0, 1, [1; 32]),
            rec(3, 1, 0, [1; 9]),
        ]);
        assert_eq!(
            a.status,
            [
                RecordStatus::SupersededDigest { by: 2 },
                RecordStatus::Considered,
                RecordStatus::Considered,
                RecordStatus::Considered
            ]
        );
    }

    #[test]
    fn dane_ee_ignores_expiry_and_names() {
        let leaf = expired_self_signed("other.example.net");
        let spki = spki_of(&leaf);
        for r in [
            rec(3, 1, 1, sha256(&spki)),
            rec(3, 0, 1, sha256(&leaf)),
            rec(3, 1, 2, sha512(&spki)),
            rec(3, 0, 0, leaf.clone()),
            rec(3, 1, 0, spki.clone()),
            rec(3, 0, 2, sha512(&leaf)),
        ] {
            let v = verify_chain(
                std::slice::from_ref(&r),
                std::slice::from_ref(&leaf),
                &["mx.example.com"],
                NOW,
            );
            assert_eq!(v.outcome, DaneOutcome::Authenticated, "{r}");
            let m = v.matched.unwrap();
            assert_eq!((m.record, m.position, m.usage), (0, 0, TlsaUsage::DaneEe));
            assert_eq!(
                v.comparisons,
                [Comparison {
                    record: 0,
                    position: 0,
                    result: ComparisonResult::Matched
                }]
            );
        }
    }

    #[test]
    fn digest_agility_uses_only_the_strongest() {
        let (leaf, _) = self_signed(&["mx.example.com"], "mx");
        let spki = spki_of(&leaf);
        let records = [rec(3, 1, 1, sha256(&spki)), rec(3, 1, 2, [0xee; 64])];
        let v = verify_chain(
            &records,
            std::slice::from_ref(&leaf),
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Failed(DaneClass::TlsaMismatch));
        assert_eq!(
            v.assessment.status[0],
            RecordStatus::SupersededDigest { by: 2 }
        );
        assert!(v.comparisons.iter().all(|c| c.record == 1));
        assert!(classes(&v).contains(&DaneClass::TlsaMismatch));
        // A Full(0) record survives agility next to digests.
        let records = [rec(3, 1, 2, [0xee; 64]), rec(3, 1, 0, spki.clone())];
        let v = verify_chain(&records, &[leaf], &[], NOW);
        assert_eq!(v.outcome, DaneOutcome::Authenticated);
        assert_eq!(v.matched.unwrap().record, 1);
    }

    #[test]
    fn short_digest_is_unusable() {
        let (leaf, _) = self_signed(&["mx.example.com"], "mx");
        let mut d = sha256(&spki_of(&leaf)).to_vec();
        d.pop();
        let v = verify_chain(&[rec(3, 1, 1, d)], &[leaf], &["mx.example.com"], NOW);
        assert_eq!(v.outcome, DaneOutcome::NoUsableRecords);
        assert!(classes(&v).contains(&DaneClass::TlsaMalformed));
        assert!(v.comparisons.is_empty());
    }

    #[test]
    fn pkix_usages_are_unusable() {
        let (leaf, _) = self_signed(&["mx.example.com"], "mx");
        let r = rec(1, 1, 1, sha256(&spki_of(&leaf)));
        let v = verify_chain(&[r], &[leaf], &["mx.example.com"], NOW);
        assert_eq!(v.outcome, DaneOutcome::NoUsableRecords);
        assert!(classes(&v).contains(&DaneClass::OnlyPkixUsages));
        assert!(classes(&v).contains(&DaneClass::TlsaUnusableParams));
    }

    #[test]
    fn rolled_key_is_a_mismatch() {
        let (old, _) = self_signed(&["mx.example.com"], "mx");
        let (new, _) = self_signed(&["mx.example.com"], "mx");
        let v = verify_chain(
            &[rec(3, 1, 1, sha256(&spki_of(&old)))],
            &[new],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Failed(DaneClass::TlsaMismatch));
        assert_eq!(v.comparisons[0].result, ComparisonResult::NotMatched);
        assert!(classes(&v).contains(&DaneClass::NoRolloverScheme));
    }

    #[test]
    fn dane_ta_with_anchor_in_chain() {
        let p = pki(&["mx.example.com"], None);
        let chain = vec![p.leaf.clone(), p.inter.clone(), p.ca.clone()];
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &chain,
            &["MX.example.com."],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Authenticated, "{:?}", v.ta_attempts);
        let m = v.matched.unwrap();
        assert_eq!(
            (m.position, m.anchor),
            (2, Some(AnchorSource::Served { position: 2 }))
        );
        let names = v.ta_attempts[0].names.clone().unwrap();
        assert_eq!(names.source, NameSource::SanDns);
        assert_eq!(names.matched.unwrap().0, "mx.example.com");
        assert_eq!(v.comparisons.len(), 3);
        // 2 1 1 / 2 0 2 on the root and 2 x x on the intermediate work too.
        for r in [
            rec(2, 1, 1, sha256(&spki_of(&p.ca))),
            rec(2, 0, 2, sha512(&p.ca)),
            rec(2, 0, 1, sha256(&p.inter)),
            rec(2, 1, 1, sha256(&spki_of(&p.inter))),
        ] {
            let v = verify_chain(std::slice::from_ref(&r), &chain, &["mx.example.com"], NOW);
            assert_eq!(v.outcome, DaneOutcome::Authenticated, "{r}");
        }
        // Intermediate as anchor with the root not served at all.
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.inter))],
            &chain[..2],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Authenticated);
        assert_eq!(v.matched.unwrap().position, 1);
    }

    #[test]
    fn dane_ta_anchor_missing_from_chain() {
        let p = pki(&["mx.example.com"], None);
        let chain = vec![p.leaf.clone(), p.inter.clone()];
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &chain,
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(
            v.outcome,
            DaneOutcome::Failed(DaneClass::DaneTaMissingAnchorInChain)
        );
        assert!(classes(&v).contains(&DaneClass::DaneTaMissingAnchorInChain));
        // With the chain complete to a (different) root, the same record is a plain mismatch.
        let other = pki(&["mx.example.com"], None);
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &[other.leaf, other.inter, other.ca],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Failed(DaneClass::TlsaMismatch));
    }

    #[test]
    fn dane_ta_full_anchor_from_dns() {
        let p = pki(&["mx.example.com"], None);
        let chain = vec![p.leaf.clone(), p.inter.clone()];
        // 2 0 0: the client MUST cope with the anchor only in DNS (RFC 7671 §5.2.2).
        let v = verify_chain(
            &[rec(2, 0, 0, p.ca.clone())],
            &chain,
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Authenticated, "{:?}", v.ta_attempts);
        assert_eq!(
            v.matched.as_ref().unwrap().anchor,
            Some(AnchorSource::Dns { top: 1 })
        );
        assert!(classes(&v).contains(&DaneClass::DaneTaAnchorOnlyInDns));
        assert!(
            v.comparisons
                .iter()
                .any(|c| c.result == ComparisonResult::IssuedByDnsAnchor && c.position == 1)
        );
        // 2 1 0: top of chain signed by this key (RFC 7671 §5.2.3).
        let ca_spki = p.ca_key.subject_public_key_info();
        let v = verify_chain(&[rec(2, 1, 0, ca_spki)], &chain, &["mx.example.com"], NOW);
        assert_eq!(v.outcome, DaneOutcome::Authenticated);
        // A key that signed nothing here is a mismatch, not a missing anchor.
        let stranger = KeyPair::generate_for(&PKCS_ED25519).unwrap();
        let v = verify_chain(
            &[rec(2, 1, 0, stranger.subject_public_key_info())],
            &chain,
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Failed(DaneClass::TlsaMismatch));
    }

    #[test]
    fn dane_ta_name_mismatch() {
        let p = pki(&["other.example.net"], None);
        let chain = vec![p.leaf, p.inter, p.ca.clone()];
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &chain,
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(
            v.outcome,
            DaneOutcome::Failed(DaneClass::DaneTaNameMismatch)
        );
        assert_eq!(v.ta_attempts[0].path, Ok(()));
        // Any of the reference identifiers will do (RFC 7672 §3.2.2).
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &chain,
            &["mx.example.com", "other.example.net"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Authenticated);
    }

    #[test]
    fn dane_ta_wildcard_and_cn_fallback() {
        let p = pki(&["*.example.com"], None);
        let chain = vec![p.leaf, p.inter, p.ca.clone()];
        let r = [rec(2, 0, 1, sha256(&p.ca))];
        assert_eq!(
            verify_chain(&r, &chain, &["mx.example.com"], NOW).outcome,
            DaneOutcome::Authenticated
        );
        assert_eq!(
            verify_chain(&r, &chain, &["a.mx.example.com"], NOW).outcome,
            DaneOutcome::Failed(DaneClass::DaneTaNameMismatch)
        );
        // No DNS-ID at all: the CN ("leaf") is the identifier.
        let p = pki(&[], None);
        let chain = vec![p.leaf, p.inter, p.ca.clone()];
        let v = verify_chain(&[rec(2, 0, 1, sha256(&p.ca))], &chain, &["leaf"], NOW);
        assert_eq!(v.outcome, DaneOutcome::Authenticated);
        assert_eq!(
            v.ta_attempts[0].names.as_ref().unwrap().source,
            NameSource::CommonName
        );
    }

    #[test]
    fn dane_ta_expired_leaf_fails() {
        let p = pki(&["mx.example.com"], Some((2001, 2002)));
        let chain = vec![p.leaf, p.inter, p.ca.clone()];
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &chain,
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(
            v.outcome,
            DaneOutcome::Failed(DaneClass::DaneTaChainInvalid)
        );
        assert!(matches!(
            v.ta_attempts[0].path,
            Err(ChainError::Expired {
                position: Some(0),
                ..
            })
        ));
        let p = pki(&["mx.example.com"], Some((2090, 2091)));
        let chain = vec![p.leaf, p.inter, p.ca.clone()];
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &chain,
            &["mx.example.com"],
            NOW,
        );
        assert!(matches!(
            v.ta_attempts[0].path,
            Err(ChainError::NotYetValid {
                position: Some(0),
                ..
            })
        ));
    }

    #[test]
    fn dane_ta_broken_signatures_and_order() {
        let p = pki(&["mx.example.com"], None);
        let q = pki(&["mx.example.com"], None);
        // Leaf from another PKI under this chain's intermediate: names chain, signature fails.
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &[q.leaf.clone(), p.inter.clone(), p.ca.clone()],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(
            v.outcome,
            DaneOutcome::Failed(DaneClass::DaneTaChainInvalid)
        );
        assert_eq!(
            v.ta_attempts[0].path,
            Err(ChainError::BadSignature { position: 0 })
        );
        // The intermediate under a look-alike root: position 1's signature fails.
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&q.ca))],
            &[p.leaf.clone(), p.inter.clone(), q.ca.clone()],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(
            v.ta_attempts[0].path,
            Err(ChainError::BadSignature { position: 1 })
        );
        // Out of order: the root before the intermediate.
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&p.ca))],
            &[p.leaf.clone(), p.ca.clone(), p.inter.clone()],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(
            v.ta_attempts[0].path,
            Err(ChainError::IssuerNameMismatch { position: 0 })
        );
        // A non-CA issuer: the leaf "signs" a second certificate.
        let (ss, _) = self_signed(&["mx.example.com"], "mx");
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&ss))],
            &[p.leaf.clone(), ss.clone()],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(
            v.outcome,
            DaneOutcome::Failed(DaneClass::DaneTaChainInvalid)
        );
    }

    #[test]
    fn dane_ta_on_leaf_is_ignored() {
        let (leaf, _) = self_signed(&["mx.example.com"], "mx");
        let v = verify_chain(
            &[rec(2, 0, 1, sha256(&leaf))],
            &[leaf],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Failed(DaneClass::TlsaMismatch));
        assert_eq!(
            v.comparisons[0].result,
            ComparisonResult::MatchedLeafIgnored
        );
        assert!(classes(&v).contains(&DaneClass::DaneTaMatchesLeaf));
    }

    #[test]
    fn garbage_chains_yield_findings() {
        let (leaf, _) = self_signed(&["mx.example.com"], "mx");
        let r = [rec(3, 1, 1, sha256(&spki_of(&leaf))), rec(2, 1, 1, [7; 32])];
        let v = verify_chain(
            &r,
            &[b"junk".to_vec(), leaf.clone()],
            &["mx.example.com"],
            NOW,
        );
        assert_eq!(v.outcome, DaneOutcome::Failed(DaneClass::TlsaMismatch));
        assert!(classes(&v).contains(&DaneClass::ChainCertUnparseable));
        assert_eq!(v.comparisons[0].result, ComparisonResult::CertUnparseable);
        assert!(classes(&v).contains(&DaneClass::TlsaMismatch));
        let v = verify_chain(&r, &[], &["mx.example.com"], NOW);
        assert_eq!(v.outcome, DaneOutcome::Failed(DaneClass::ChainEmpty));
        // Garbage after a good leaf does not stop DANE-EE.
        let v = verify_chain(&r, &[leaf, vec![0x30, 0x03, 1, 2, 3]], &[], NOW);
        assert_eq!(v.outcome, DaneOutcome::Authenticated);
        assert!(classes(&v).contains(&DaneClass::ChainCertUnparseable));
    }

    #[test]
    fn dns_side_classes_exist() {
        for code in [
            "tlsa_insecure",
            "tlsa_bogus",
            "tlsa_lookup_error",
            "tlsa_but_no_starttls",
            "tlsa_behind_insecure_mx",
        ] {
            assert!(DaneClass::from_code(code).is_some(), "{code}");
        }
    }

    fn arb_record() -> impl Strategy<Value = TlsaRecord> {
        (
            0u8..5,
            0u8..3,
            0u8..4,
            prop::collection::vec(any::<u8>(), 0..80),
        )
            .prop_map(|(u, s, m, d)| rec(u, s, m, d))
    }

    proptest! {
        #[test]
        fn from_presentation_never_panics(s in "\\PC{0,80}") {
            let _ = TlsaRecord::from_presentation(&s);
        }

        #[test]
        fn presentation_round_trips(r in arb_record()) {
            prop_assert_eq!(TlsaRecord::from_presentation(&r.to_string()), Ok(r));
        }

        #[test]
        fn from_rdata_never_panics(b in prop::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(r) = TlsaRecord::from_rdata(&b) {
                let _ = r.usability();
            }
        }

        #[test]
        fn verify_chain_never_panics(
            records in prop::collection::vec(arb_record(), 0..5),
            chain in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..4),
            now in any::<i64>(),
        ) {
            let _ = verify_chain(&records, &chain, &["mx.example.com"], now);
        }

        #[test]
        fn verify_chain_survives_mutated_chains(
            edits in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 0..6),
            usage in 2u8..4, selector in 0u8..2,
        ) {
            let p = pki(&["mx.example.com"], None);
            let mut chain = vec![p.leaf, p.inter, p.ca.clone()];
            for (c, i, b) in edits {
                let cert = &mut chain[c.index(3)];
                let at = i.index(cert.len());
                cert[at] = b;
            }
            let data = if selector == 0 { sha256(&p.ca).to_vec() } else { sha256(&spki_of(&p.ca)).to_vec() };
            let r = rec(usage, selector, 1, data);
            let _ = verify_chain(&[r, rec(2, 0, 0, p.ca)], &chain, &["mx.example.com"], NOW);
        }
    }
}
