//! The population profile: the proportions of the simulated Internet.
//!
//! A profile is a TOML document (see `default_profile.toml`, embedded as
//! [`Profile::default`]) with a share for every feature (MTA-STS adoption by rank, modes,
//! TLS-RPT, signed zones, DANE, providers) and, per fault category, the share of eligible
//! domains that get a fault plus a weight for every failure class simnet can plant.
//! Unknown keys are rejected, so a typo cannot silently leave a default in place.
//! [`Profile::validate`] checks every share is in `[0, 1]` and every weight is finite and
//! `>= 0`; loading always validates.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The built-in profile text.
pub const DEFAULT_PROFILE_TOML: &str = include_str!("default_profile.toml");

/// Why a profile was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// The file could not be read.
    #[error("cannot read profile {path}: {source}")]
    Io {
        /// The file named.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The text is not TOML, or does not have the profile's shape.
    #[error("profile does not parse: {0}")]
    Parse(#[from] toml::de::Error),
    /// A share (probability) outside `[0, 1]` or not a number.
    #[error("{field} = {value}: a share must be in [0, 1]")]
    ShareOutOfRange {
        /// Dotted path of the key.
        field: String,
        /// The value found.
        value: f64,
    },
    /// A weight below zero or not finite.
    #[error("{field} = {value}: a weight must be finite and >= 0")]
    BadWeight {
        /// Dotted path of the key.
        field: String,
        /// The value found.
        value: f64,
    },
    /// A fault category with a share above zero but every weight zero.
    #[error("{category}: share > 0 but every weight is 0")]
    AllWeightsZero {
        /// The category, e.g. `faults.txt`.
        category: &'static str,
    },
    /// Shares that must leave room for the rest add up to more than one.
    #[error("{fields} add up to {sum}, more than 1")]
    SharesExceedOne {
        /// The keys summed.
        fields: &'static str,
        /// Their sum.
        sum: f64,
    },
    /// A count outside what the address plan can hold.
    #[error("{field} = {value}: must be in {min}..={max}")]
    CountOutOfRange {
        /// Dotted path of the key.
        field: &'static str,
        /// The value found.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// A list whose length must match another key.
    #[error("{field} has {got} entries, expected {expected}")]
    WrongLength {
        /// Dotted path of the key.
        field: &'static str,
        /// Entries found.
        got: usize,
        /// Entries required.
        expected: usize,
    },
    /// A public suffix that is not lowercase LDH labels.
    #[error("names.tld_weights: {0:?} is not a lowercase public suffix (LDH labels)")]
    BadTld(String),
    /// No public suffix with a positive weight.
    #[error("names.tld_weights: no suffix with a positive weight")]
    NoTld,
}

/// Failure classes of one fault category, with their weight table.
pub trait FaultClass: Copy + Eq + std::fmt::Debug + 'static {
    /// The serde table of weights, one field per class.
    type Weights: std::fmt::Debug + Clone + PartialEq;
    /// Every class, in table order.
    const ALL: &'static [Self];
    /// The category's dotted name in the profile, e.g. `faults.txt`.
    const CATEGORY: &'static str;
    /// The class's key in the weights table (its simnet code).
    fn code(self) -> &'static str;
    /// The weight of `self` in `weights`.
    fn weight(self, weights: &Self::Weights) -> f64;
}

macro_rules! fault_category {
    (
        $(#[$meta:meta])*
        $class:ident, $weights:ident, $category:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $field:ident ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $class {
            $( $(#[$vmeta])* $variant ),+
        }

        #[doc = concat!("Relative weights of the `", $category, "` classes.")]
        #[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct $weights {
            $(
                #[doc = concat!("Weight of `", stringify!($field), "`.")]
                pub $field: f64,
            )+
        }

        impl FaultClass for $class {
            type Weights = $weights;
            const ALL: &'static [Self] = &[$($class::$variant),+];
            const CATEGORY: &'static str = $category;
            fn code(self) -> &'static str {
                match self { $($class::$variant => stringify!($field)),+ }
            }
            fn weight(self, weights: &$weights) -> f64 {
                match self { $($class::$variant => weights.$field),+ }
            }
        }
    };
}

fault_category! {
    /// Faults of the `_mta-sts` TXT record (SPEC §A).
    TxtFault, TxtWeights, "faults.txt" {
        /// Two valid STSv1 records: no policy (RFC 8461 §3.1).
        MultipleStsRecords = multiple_sts_records,
        /// `id` with characters outside ALPHA / DIGIT.
        BadIdChars = bad_id_chars,
        /// `v=STSv1 ;`: ABNF-valid but without the literal prefix.
        StsPrefixVariant = sts_prefix_variant,
        /// The TXT lookup fails (SERVFAIL from a broken delegated zone).
        TxtDnsError = txt_dns_error,
        /// `v=stsv1;`: the version tag in the wrong case (`%s"v=STSv1"`).
        BadVersion = bad_version,
        /// `id=...; v=STSv1;`: the version is not the first field.
        VersionNotFirst = version_not_first,
        /// `v=STSv1;` with no `id` field.
        MissingId = missing_id,
        /// An `id` of 40 hex digits (the limit is 32).
        IdTooLong = id_too_long,
        /// An extension whose value holds a space.
        BadExtension = bad_extension,
        /// `v=STSv1 id=...`: no `;` after the version.
        BadDelimiter = bad_delimiter,
        /// A UTF-8 (non-ASCII) character in an extension value.
        NonAscii = non_ascii,
        /// Two `id` fields (a warning: the first counts, the record stays valid).
        DuplicateId = duplicate_id,
    }
}

fault_category! {
    /// Faults of the policy fetch (SPEC §B).
    FetchFault, FetchWeights, "faults.fetch" {
        /// No `mta-sts.<domain>` name.
        PolicyHostNxdomain = policy_host_nxdomain,
        /// The policy host has only AAAA `::1`, where nothing listens.
        ConnectRefused = connect_refused,
        /// Policy host certificate expired.
        CertExpired = cert_expired,
        /// Policy host certificate for another name.
        CertNameMismatch = cert_name_mismatch,
        /// Policy host certificate from a CA senders do not trust.
        CertUntrusted = cert_untrusted,
        /// 301 to another URL (must not be followed).
        HttpRedirect = http_redirect,
        /// 404 Not Found.
        Http404 = http_404,
        /// 200 with `text/html`.
        ContentTypeNotTextPlain = content_type_not_text_plain,
        /// Body above 64 KiB.
        BodyTooLarge = body_too_large,
        /// The host answers slower than the crawler's budget.
        FetchTimeout = fetch_timeout,
        /// `mta-sts.<domain>` exists (an `_acme-challenge` TXT below it) but has no address.
        PolicyHostNoAddress = policy_host_no_address,
        /// `mta-sts.<domain>` is a CNAME into a zone whose server answers SERVFAIL.
        PolicyHostDnsError = policy_host_dns_error,
        /// Policy host certificate valid only from 2098.
        CertNotYetValid = cert_not_yet_valid,
        /// Policy host certificate naming the host only in the subject CN.
        CertCnOnly = cert_cn_only,
        /// Policy host certificate whose only DNS-ID is a partial-label wildcard.
        CertPartialWildcardOnly = cert_partial_wildcard_only,
        /// The TLS handshake fails (fatal alert to the ClientHello).
        TlsHandshakeFailed = tls_handshake_failed,
        /// The connection is reset right after the TLS handshake.
        ConnectionReset = connection_reset,
        /// 500 Internal Server Error.
        HttpStatusOther = http_status_other,
        /// 200 without a Content-Type header.
        ContentTypeMissing = content_type_missing,
        /// 200 `text/plain` with a Latin-1 (not UTF-8) byte in the body.
        BodyNotUtf8 = body_not_utf8,
    }
}

fault_category! {
    /// Faults of the policy body (SPEC §C).
    BodyFault, BodyWeights, "faults.body" {
        /// `mode: Enforce` (case-sensitive values).
        BadMode = bad_mode,
        /// `mode: enforce` without any `mx:` line.
        MissingMx = missing_mx,
        /// `max_age` above 31557600.
        MaxAgeOverLimit = max_age_over_limit,
        /// An HTML page served as `text/plain`.
        HtmlBody = html_body,
        /// An empty body.
        EmptyBody = empty_body,
        /// A UTF-8 byte-order mark before `version`.
        BomPresent = bom_present,
        /// No `version` line.
        MissingVersion = missing_version,
        /// `version: STSV1` (case-sensitive value).
        BadVersion = bad_version,
        /// No `mode` line.
        MissingMode = missing_mode,
        /// `max_age: 604800s` (not 1-10 digits).
        BadMaxAge = bad_max_age,
        /// A malformed `mx` pattern (subtype in [`crate::population::BadMxKind`]).
        BadMxPattern = bad_mx_pattern,
        /// The `mode` line twice with the same value (a warning: the policy stays valid).
        DuplicateField = duplicate_field,
        /// A blank line between fields (a warning: valid when read leniently).
        StrictAbnfViolation = strict_abnf_violation,
    }
}

fault_category! {
    /// Policies whose `mx` patterns miss real MX hosts (SPEC §D).
    CoverageFault, CoverageWeights, "faults.coverage" {
        /// At least one MX is covered, not all.
        MxNotCoveredSome = mx_not_covered_some,
        /// No MX is covered.
        MxNotCoveredAll = mx_not_covered_all,
    }
}

fault_category! {
    /// Faults of an SMTP MX host (SPEC §I, §D certificate check).
    SmtpFault, SmtpWeights, "faults.smtp" {
        /// EHLO reply without STARTTLS.
        NoStarttls = no_starttls,
        /// STARTTLS answered `454`.
        Starttls454 = starttls_454,
        /// Certificate expired.
        CertExpired = cert_expired,
        /// Self-signed certificate.
        CertSelfSigned = cert_self_signed,
        /// Certificate for another name.
        CertNameMismatch = cert_name_mismatch,
        /// `421` greeting.
        Greeting421 = greeting_421,
        /// `554` greeting.
        Greeting554 = greeting_554,
        /// The 220 greeting comes late (but within a crawler's budget).
        GreetingSlow = greeting_slow,
        /// TLS 1.0 only: no handshake with a TLS >= 1.2 client.
        TlsLegacyOnly = tls_legacy_only,
        /// The host has only AAAA `::1`, where nothing listens.
        ConnectRefused = connect_refused,
        /// A working A record plus AAAA `::1`, where nothing listens (RFC 8461 Appendix B:
        /// not an MTA-STS failure; the host passes on its reachable address).
        SecondAddressRefused = second_address_refused,
        /// Certificate valid only from 2098.
        CertNotYetValid = cert_not_yet_valid,
        /// Certificate naming the host only in the subject CN.
        CertCnOnly = cert_cn_only,
        /// Certificate whose only DNS-ID is a partial-label wildcard.
        CertPartialWildcardOnly = cert_partial_wildcard_only,
        /// Accepts and never greets (`greeting_timeout`).
        Tarpit = tarpit,
        /// EHLO answered 502, HELO accepted: no extensions, so no STARTTLS.
        EhloRejected = ehlo_rejected,
        /// A `220-` multi-line greeting (benign).
        MultilineGreeting = multiline_greeting,
        /// STARTTLS advertised but answered `501` (`starttls_other`).
        Starttls501 = starttls_501,
        /// The connection is reset right after accept (`connection_reset`).
        ResetAfterAccept = reset_after_accept,
    }
}

fault_category! {
    /// Faults of DANE TLSA publication (SPEC §F).
    DaneFault, DaneWeights, "faults.dane" {
        /// The host serves a new key while DNS still publishes the old `3 1 1`.
        TlsaMismatchAfterRoll = tlsa_mismatch_after_roll,
        /// Only PKIX usages: `1 1 1` instead of `3 1 1` (RFC 7672 §3.1.3).
        OnlyPkixUsages = only_pkix_usages,
        /// Only records with an unassigned matching type (`3 1 3`): none is usable (a
        /// warning; TLS is still required, authentication is not).
        TlsaUnusableParams = tlsa_unusable_params,
        /// `2 0 1` for the root, but the server sends leaf and intermediate only.
        DaneTaMissingAnchorInChain = dane_ta_missing_anchor_in_chain,
        /// `2 0 1` for the root, served chain complete, leaf for another name.
        DaneTaNameMismatch = dane_ta_name_mismatch,
    }
}

fault_category! {
    /// Bogus DNSSEC of a signed domain zone (SPEC §G).
    DnssecFault, DnssecWeights, "faults.dnssec" {
        /// RRSIGs over other data.
        BadRrsig = bad_rrsig,
        /// RRSIGs past their expiration.
        ExpiredRrsig = expired_rrsig,
        /// DS in the parent does not match the zone's key.
        DsMismatch = ds_mismatch,
        /// RRsets served without RRSIG.
        MissingRrsig = missing_rrsig,
    }
}

fault_category! {
    /// Faulty name servers of a domain zone (SPEC §G, DESIGN "faulty name servers").
    NameserverFault, NameserverWeights, "faults.nameserver" {
        /// REFUSED / not authoritative.
        Lame = lame,
        /// Queries dropped.
        Timeout = timeout,
        /// SERVFAIL to every query.
        Servfail = servfail,
        /// TC=1 over UDP, full answers over TCP (not a failure: forces TCP).
        TruncateUdp = truncate_udp,
    }
}

fault_category! {
    /// Faults of the TLS-RPT record (SPEC §E).
    TlsrptFault, TlsrptWeights, "faults.tlsrpt" {
        /// Two TLSRPTv1 records.
        TlsrptMultiple = tlsrpt_multiple,
        /// A TLSRPTv1 record without `rua`.
        TlsrptMissingRua = tlsrpt_missing_rua,
        /// `v=tlsrptv1;`: the version tag in the wrong case.
        TlsrptBadVersion = tlsrpt_bad_version,
        /// `rua=` with an address but no `mailto:` scheme.
        TlsrptBadUri = tlsrpt_bad_uri,
        /// `rua=http://...`: valid syntax, no usable destination.
        TlsrptUnsupportedScheme = tlsrpt_unsupported_scheme,
        /// `rua=mailto:a@x,b@x`: a comma inside a URI not percent-encoded.
        TlsrptUnencodedComma = tlsrpt_unencoded_comma,
        /// `rua=` with nothing after it.
        TlsrptEmptyRua = tlsrpt_empty_rua,
    }
}

impl TxtFault {
    /// Whether the class is a warning: the record stays valid (SPEC §A: the first `id`
    /// counts).
    pub fn is_warning(self) -> bool {
        self == TxtFault::DuplicateId
    }
}

impl BodyFault {
    /// Whether the class is a warning: the policy stays valid (RFC 8461 §3.2 keeps the
    /// first of repeated fields; a lenient reading skips blank lines).
    pub fn is_warning(self) -> bool {
        matches!(
            self,
            BodyFault::DuplicateField | BodyFault::StrictAbnfViolation
        )
    }
}

/// One fault category: the share of eligible domains (or hosts) that get a fault, and the
/// weights that pick which.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[serde(bound(
    serialize = "C::Weights: Serialize",
    deserialize = "C::Weights: Deserialize<'de>"
))]
pub struct FaultCategory<C: FaultClass> {
    /// Share of eligible items with a fault of this category.
    pub share: f64,
    /// Relative weight of each class.
    pub weights: C::Weights,
}

impl<C: FaultClass> FaultCategory<C> {
    /// The fault for draws `u_share`, `u_class` (uniform in `[0, 1)`): `None` when
    /// `u_share >= share` or every weight is zero.
    pub fn pick(&self, u_share: f64, u_class: f64) -> Option<C> {
        if u_share >= self.share {
            return None;
        }
        let total: f64 = C::ALL.iter().map(|c| c.weight(&self.weights)).sum();
        if total <= 0.0 {
            return None;
        }
        let mut target = u_class * total;
        let mut last = None;
        for &c in C::ALL {
            let w = c.weight(&self.weights);
            if w <= 0.0 {
                continue;
            }
            last = Some(c);
            if target < w {
                return Some(c);
            }
            target -= w;
        }
        last
    }

    fn validate(&self) -> Result<(), ProfileError> {
        check_share(&format!("{}.share", C::CATEGORY), self.share)?;
        let mut total = 0.0;
        for &c in C::ALL {
            let w = c.weight(&self.weights);
            check_weight(&format!("{}.weights.{}", C::CATEGORY, c.code()), w)?;
            total += w;
        }
        if self.share > 0.0 && total <= 0.0 {
            return Err(ProfileError::AllWeightsZero {
                category: C::CATEGORY,
            });
        }
        Ok(())
    }
}

/// `[names]`: how domain names are spread over public suffixes.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NamesProfile {
    /// Relative weight of each public suffix (`com`, `co.uk`, ...).
    pub tld_weights: BTreeMap<String, f64>,
}

/// `[mx]`: how domains receive mail.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MxProfile {
    /// Domains publishing `MX 0 .` (RFC 7505).
    pub null_mx_share: f64,
    /// Domains without MX (implicit MX, RFC 5321 §5.1).
    pub implicit_mx_share: f64,
    /// Of domains with MX hosts: hosted at a large provider.
    pub large_provider_share: f64,
    /// Of domains with MX hosts: hosted at a small provider.
    pub small_provider_share: f64,
    /// Number of large providers.
    pub large_providers: u32,
    /// Number of small providers.
    pub small_providers: u32,
    /// Relative size of each large provider (one entry each).
    pub large_provider_weights: Vec<f64>,
    /// Relative frequency of 1, 2, 3 self-hosted MX hosts.
    pub self_hosted_mx_weights: [f64; 3],
}

/// `[providers]`: properties of the mail providers.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProvidersProfile {
    /// Large providers with a signed zone.
    pub large_signed_share: f64,
    /// Small providers with a signed zone.
    pub small_signed_share: f64,
    /// Of providers with a signed zone: those publishing TLSA for their MX.
    pub dane_of_signed_share: f64,
    /// Small providers with an SMTP fault on every MX host.
    pub small_fault_share: f64,
    /// Of provider customers with MTA-STS: policy hosted by the provider.
    pub hosted_policy_share: f64,
}

/// `[mta_sts]`: MTA-STS adoption.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MtaStsProfile {
    /// Adoption at rank 1.
    pub top_share: f64,
    /// Adoption far down the list.
    pub floor_share: f64,
    /// Rank at which adoption is half-way between top and floor.
    pub half_rank: f64,
    /// Relative frequency of each mode.
    pub mode_weights: ModeWeights,
    /// Domains without MTA-STS with other TXT records at `_mta-sts`.
    pub other_txt_share: f64,
    /// Delay of a slow policy host in milliseconds.
    pub slow_fetch_ms: u64,
}

/// Relative frequency of each policy mode.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ModeWeights {
    /// `mode: enforce`.
    pub enforce: f64,
    /// `mode: testing`.
    pub testing: f64,
    /// `mode: none`.
    pub none: f64,
}

/// `[tlsrpt]`: TLS-RPT adoption.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsrptProfile {
    /// Of domains with MTA-STS.
    pub with_sts_share: f64,
    /// Of domains without MTA-STS.
    pub without_sts_share: f64,
}

/// `[dnssec]`: signed zones and DANE.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DnssecProfile {
    /// Signed domain zones.
    pub signed_share: f64,
    /// Of signed zones: without DS in the parent (island).
    pub island_share: f64,
    /// Of secure self-hosted domains: TLSA for their MX hosts.
    pub dane_of_signed_share: f64,
    /// Of unsigned self-hosted domains: TLSA anyway.
    pub tlsa_in_unsigned_share: f64,
    /// Of secure self-hosted domains with TLSA: `2 0 1` for the CA (DANE-TA) instead of
    /// `3 1 1` (only where every host serves a plain valid certificate).
    pub dane_ta_share: f64,
    /// Of secure self-hosted domains with TLSA and two or more MX hosts: only the first
    /// host publishes TLSA (partial DANE, allowed by RFC 8461 §2).
    pub partial_dane_share: f64,
}

/// `[smtp]`: timing of SMTP behaviours.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpProfile {
    /// Delay of a slow 220 greeting in milliseconds.
    pub slow_greeting_ms: u64,
}

/// `[faults.*]`: every fault category.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultsProfile {
    /// `_mta-sts` TXT faults.
    pub txt: FaultCategory<TxtFault>,
    /// Policy fetch faults.
    pub fetch: FaultCategory<FetchFault>,
    /// Policy body faults.
    pub body: FaultCategory<BodyFault>,
    /// MX pattern coverage gaps.
    pub coverage: FaultCategory<CoverageFault>,
    /// SMTP host faults.
    pub smtp: FaultCategory<SmtpFault>,
    /// DANE faults.
    pub dane: FaultCategory<DaneFault>,
    /// Bogus DNSSEC.
    pub dnssec: FaultCategory<DnssecFault>,
    /// Faulty name servers.
    pub nameserver: FaultCategory<NameserverFault>,
    /// TLS-RPT faults.
    pub tlsrpt: FaultCategory<TlsrptFault>,
}

/// The whole profile.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Public suffix mix.
    pub names: NamesProfile,
    /// Mail routing.
    pub mx: MxProfile,
    /// Mail providers.
    pub providers: ProvidersProfile,
    /// MTA-STS adoption.
    pub mta_sts: MtaStsProfile,
    /// TLS-RPT adoption.
    pub tlsrpt: TlsrptProfile,
    /// DNSSEC and DANE.
    pub dnssec: DnssecProfile,
    /// SMTP timings.
    pub smtp: SmtpProfile,
    /// Fault categories.
    pub faults: FaultsProfile,
}

/// Most providers the address plan holds (127.1.0.0/16, eight addresses each).
pub const MAX_PROVIDERS: u64 = 8192;

fn check_share(field: &str, value: f64) -> Result<(), ProfileError> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(ProfileError::ShareOutOfRange {
            field: field.to_owned(),
            value,
        })
    }
}

fn check_weight(field: &str, value: f64) -> Result<(), ProfileError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ProfileError::BadWeight {
            field: field.to_owned(),
            value,
        })
    }
}

fn is_suffix(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

impl Default for Profile {
    /// The built-in profile (`default_profile.toml`).
    fn default() -> Self {
        // The embedded text is checked by a unit test; a broken build-in profile is a bug
        // in this crate, not bad input.
        #[allow(clippy::expect_used)]
        Profile::from_toml(DEFAULT_PROFILE_TOML).expect("built-in profile is valid")
    }
}

impl Profile {
    /// Parses and validates a profile.
    pub fn from_toml(text: &str) -> Result<Profile, ProfileError> {
        let profile: Profile = toml::from_str(text)?;
        profile.validate()?;
        Ok(profile)
    }

    /// Reads, parses and validates a profile file.
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Io {
            path: path.to_owned(),
            source,
        })?;
        Profile::from_toml(&text)
    }

    /// A SHA-256 hex digest of the profile's canonical JSON form: equal for equal profiles
    /// whatever their TOML layout.
    pub fn fingerprint(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        let digest = ring::digest::digest(&ring::digest::SHA256, &json);
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Checks every share, weight and count.
    pub fn validate(&self) -> Result<(), ProfileError> {
        let mut any_tld = false;
        for (tld, &w) in &self.names.tld_weights {
            if !is_suffix(tld) {
                return Err(ProfileError::BadTld(tld.clone()));
            }
            check_weight(&format!("names.tld_weights.{tld}"), w)?;
            any_tld |= w > 0.0;
        }
        if !any_tld {
            return Err(ProfileError::NoTld);
        }

        let mx = &self.mx;
        check_share("mx.null_mx_share", mx.null_mx_share)?;
        check_share("mx.implicit_mx_share", mx.implicit_mx_share)?;
        check_share("mx.large_provider_share", mx.large_provider_share)?;
        check_share("mx.small_provider_share", mx.small_provider_share)?;
        let sum = mx.null_mx_share + mx.implicit_mx_share;
        if sum > 1.0 {
            return Err(ProfileError::SharesExceedOne {
                fields: "mx.null_mx_share + mx.implicit_mx_share",
                sum,
            });
        }
        let sum = mx.large_provider_share + mx.small_provider_share;
        if sum > 1.0 {
            return Err(ProfileError::SharesExceedOne {
                fields: "mx.large_provider_share + mx.small_provider_share",
                sum,
            });
        }
        let providers = u64::from(mx.large_providers) + u64::from(mx.small_providers);
        if mx.large_providers == 0 || providers > MAX_PROVIDERS {
            return Err(ProfileError::CountOutOfRange {
                field: "mx.large_providers",
                value: u64::from(mx.large_providers),
                min: 1,
                max: MAX_PROVIDERS - u64::from(mx.small_providers).min(MAX_PROVIDERS - 1),
            });
        }
        if mx.small_providers == 0 {
            return Err(ProfileError::CountOutOfRange {
                field: "mx.small_providers",
                value: 0,
                min: 1,
                max: MAX_PROVIDERS - 1,
            });
        }
        if mx.large_provider_weights.len() != mx.large_providers as usize {
            return Err(ProfileError::WrongLength {
                field: "mx.large_provider_weights",
                got: mx.large_provider_weights.len(),
                expected: mx.large_providers as usize,
            });
        }
        for (i, &w) in mx.large_provider_weights.iter().enumerate() {
            check_weight(&format!("mx.large_provider_weights[{i}]"), w)?;
        }
        for (i, &w) in mx.self_hosted_mx_weights.iter().enumerate() {
            check_weight(&format!("mx.self_hosted_mx_weights[{i}]"), w)?;
        }

        let p = &self.providers;
        check_share("providers.large_signed_share", p.large_signed_share)?;
        check_share("providers.small_signed_share", p.small_signed_share)?;
        check_share("providers.dane_of_signed_share", p.dane_of_signed_share)?;
        check_share("providers.small_fault_share", p.small_fault_share)?;
        check_share("providers.hosted_policy_share", p.hosted_policy_share)?;

        let s = &self.mta_sts;
        check_share("mta_sts.top_share", s.top_share)?;
        check_share("mta_sts.floor_share", s.floor_share)?;
        check_share("mta_sts.other_txt_share", s.other_txt_share)?;
        if !(s.half_rank.is_finite() && s.half_rank > 0.0) {
            return Err(ProfileError::BadWeight {
                field: "mta_sts.half_rank".to_owned(),
                value: s.half_rank,
            });
        }
        check_weight("mta_sts.mode_weights.enforce", s.mode_weights.enforce)?;
        check_weight("mta_sts.mode_weights.testing", s.mode_weights.testing)?;
        check_weight("mta_sts.mode_weights.none", s.mode_weights.none)?;

        check_share("tlsrpt.with_sts_share", self.tlsrpt.with_sts_share)?;
        check_share("tlsrpt.without_sts_share", self.tlsrpt.without_sts_share)?;

        let d = &self.dnssec;
        check_share("dnssec.signed_share", d.signed_share)?;
        check_share("dnssec.island_share", d.island_share)?;
        check_share("dnssec.dane_of_signed_share", d.dane_of_signed_share)?;
        check_share("dnssec.tlsa_in_unsigned_share", d.tlsa_in_unsigned_share)?;
        check_share("dnssec.dane_ta_share", d.dane_ta_share)?;
        check_share("dnssec.partial_dane_share", d.partial_dane_share)?;

        let f = &self.faults;
        f.txt.validate()?;
        f.fetch.validate()?;
        f.body.validate()?;
        f.coverage.validate()?;
        f.smtp.validate()?;
        f.dane.validate()?;
        f.dnssec.validate()?;
        f.nameserver.validate()?;
        f.tlsrpt.validate()?;
        Ok(())
    }

    /// MTA-STS adoption at `rank` (1-based).
    pub fn sts_share_at(&self, rank: u32) -> f64 {
        let s = &self.mta_sts;
        s.floor_share + (s.top_share - s.floor_share) / (1.0 + f64::from(rank) / s.half_rank)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profile_loads() {
        let p = Profile::from_toml(DEFAULT_PROFILE_TOML).unwrap();
        assert_eq!(p, Profile::default());
        assert!(p.sts_share_at(1) > 0.1);
        assert!(p.sts_share_at(1_000_000) < 0.03);
        assert_eq!(p.fingerprint().len(), 64);
    }

    #[test]
    fn every_fault_class_has_a_positive_default_weight() {
        fn check<C: FaultClass>(cat: &FaultCategory<C>) {
            assert!(cat.share > 0.0, "{}", C::CATEGORY);
            for &c in C::ALL {
                assert!(c.weight(&cat.weights) > 0.0, "{} {}", C::CATEGORY, c.code());
            }
        }
        let f = Profile::default().faults;
        check(&f.txt);
        check(&f.fetch);
        check(&f.body);
        check(&f.coverage);
        check(&f.smtp);
        check(&f.dane);
        check(&f.dnssec);
        check(&f.nameserver);
        check(&f.tlsrpt);
    }

    fn with(edit: impl Fn(&str) -> String) -> Result<Profile, ProfileError> {
        Profile::from_toml(&edit(DEFAULT_PROFILE_TOML))
    }

    #[test]
    fn share_out_of_range_is_rejected() {
        let err = with(|t| t.replace("signed_share = 0.07", "signed_share = 1.5")).unwrap_err();
        assert!(
            matches!(err, ProfileError::ShareOutOfRange { ref field, .. } if field == "dnssec.signed_share"),
            "{err}"
        );
    }

    #[test]
    fn negative_weight_is_rejected() {
        let err = with(|t| t.replace("http_404 = 3", "http_404 = -1")).unwrap_err();
        assert!(
            matches!(err, ProfileError::BadWeight { ref field, .. } if field == "faults.fetch.weights.http_404"),
            "{err}"
        );
    }

    #[test]
    fn all_zero_weights_with_share_is_rejected() {
        let mut p = Profile::default();
        p.faults.dane.weights = DaneWeights {
            tlsa_mismatch_after_roll: 0.0,
            only_pkix_usages: 0.0,
            tlsa_unusable_params: 0.0,
            dane_ta_missing_anchor_in_chain: 0.0,
            dane_ta_name_mismatch: 0.0,
        };
        let err = p.validate().unwrap_err();
        assert!(matches!(
            err,
            ProfileError::AllWeightsZero {
                category: "faults.dane"
            }
        ));
    }

    #[test]
    fn unknown_key_and_missing_class_are_rejected() {
        let err = with(|t| t.replace("http_404 = 3", "http_404 = 3, http_500 = 1")).unwrap_err();
        assert!(matches!(err, ProfileError::Parse(_)));
        let err = with(|t| t.replace("http_404 = 3, ", "")).unwrap_err();
        assert!(matches!(err, ProfileError::Parse(_)));
    }

    #[test]
    fn bad_tld_and_provider_counts_are_rejected() {
        let err = with(|t| t.replace("com = 48", "Com = 48")).unwrap_err();
        assert!(matches!(err, ProfileError::BadTld(_)));
        let err = with(|t| t.replace("large_providers = 6", "large_providers = 5")).unwrap_err();
        assert!(matches!(err, ProfileError::WrongLength { .. }));
        let err = with(|t| t.replace("small_provider_share = 0.25", "small_provider_share = 0.5"))
            .unwrap_err();
        assert!(matches!(err, ProfileError::SharesExceedOne { .. }));
    }

    #[test]
    fn pick_follows_share_and_weights() {
        let cat = &Profile::default().faults.body;
        assert_eq!(cat.pick(cat.share, 0.0), None);
        assert_eq!(cat.pick(0.0, 0.0), Some(BodyFault::BadMode));
        let total: f64 = BodyFault::ALL.iter().map(|c| c.weight(&cat.weights)).sum();
        // bad_mode 2, missing_mx 2, then max_age_over_limit 1.
        assert_eq!(cat.pick(0.0, 4.5 / total), Some(BodyFault::MaxAgeOverLimit));
        assert_eq!(cat.pick(0.0, 0.999_999), BodyFault::ALL.last().copied());
    }
}
