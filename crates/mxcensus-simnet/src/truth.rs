//! Ground truth: DESIGN.md's headline columns for every domain, derived from the
//! [`DomainConfig`] by simnet's own plain rules (never by `mxcensus-proto`'s classifier).
//!
//! A host *passes STARTTLS* ([`starttls_ok`]) when it can be reached (an A record where the
//! servers listen, not the AAAA-only `::1`), greets with 220 (a slow 220 and a multi-line
//! `220-` greeting still count; a tarpit that never greets and a reset right after accept
//! do not), answers EHLO with STARTTLS among its extensions (a host that rejects EHLO
//! leaves only HELO, which has no extensions: RFC 5321 §4.1.4, SPEC §I step 4), answers
//! STARTTLS with 220 (not 454, not 501: RFC 3207 §4), and completes a handshake with a
//! TLS ≥ 1.2 client (a TLS 1.0-only host does not). A host with a working A record and an
//! AAAA `::1` where nothing listens passes on the reachable address: an address that
//! cannot be reached is not an MTA-STS failure (RFC 8461 Appendix B), though the refused
//! connection is still reported (`connect_refused`). Its *certificate is valid*
//! ([`cert_ok`]) when it is the simnet intermediate's, inside its validity window (not
//! expired, not yet valid: RFC 5280 §4.1.2.5), with a subjectAltName DNS-ID for the host
//! name: a name only in the subject CN (`cert_cn_only`) and a partial-label wildcard
//! (`cert_partial_wildcard_only`) fail (RFC 8461 §3.3, §4.2; RFC 6125 §6.4.3, §6.4.4;
//! SPEC §D). A partial-label wildcard is planted only where the certificate name keeps at
//! least two labels after the wildcard label, none of them a public suffix alone: the host
//! lies strictly below its domain (`mx1.example.com` gets `m*.example.com`,
//! `mta-sts.example.com` gets `m*.example.com`), never on an implicit MX, where it would
//! read `a*.com`: a wildcard over a public suffix is meaningless (RFC 6125 §7.2, RFC 9525
//! §6.3), a client rejects it as a plain name mismatch, and so the population plants no
//! certificate fault there instead
//! ([`partial_wildcard_plantable`](crate::population::partial_wildcard_plantable)).
//! Certificate classes are reported only for hosts that complete TLS (a
//! crawler sees no certificate otherwise). "The zone fails" means the
//! domain zone's name server is lame, times out or SERVFAILs, or the zone is bogus: then
//! every lookup inside it fails ([`lookup_fails`]), with one exception that follows the
//! engine: a `missing_rrsig` zone leaves only its data RRsets unsigned (SOA and NSEC keep
//! their signatures), so a name that does not exist there is a validated denial, while
//! every RRset that exists is bogus.
//!
//! The rules, column by column (SPEC section in brackets):
//!
//! - `mx_status` \[D, RFC 5321 §5.1, RFC 7505\]: `error` when the zone fails; `null_mx` for
//!   `MX 0 .`; `implicit` when there is no MX RRset; else `ok`.
//! - `sts_txt` \[A\]: `error` when the lookup fails or `_mta-sts` is a CNAME into the SERVFAIL
//!   zone; `absent` without STSv1 records (also when other TXT records sit there: the
//!   population's deliberate `v=spf1 -all`, which adds `no_sts_record`, SPEC §A's class
//!   for "TXT present, none STSv1"); `multiple` for two STSv1 records (RFC 8461 §3.1); `invalid` for a
//!   record meant as STSv1 that breaks the §3.1 ABNF: a bad or over-long `id`
//!   (`1*32(ALPHA / DIGIT)`), no `id`, the `v=STSv1 ;` prefix variant, the version in the
//!   wrong case (`%s"v=STSv1"`, RFC 7405) or not first, an extension value with a space,
//!   no `;` after the version, a non-ASCII character (SPEC §A: such near misses are
//!   `invalid`, not `absent`; simnet plants the non-ASCII character in an extension
//!   value, so `non_ascii` comes with `bad_extension`: `sts-ext-value` admits only
//!   %x21-3A / %x3C / %x3E-7E); else `valid`. A second `id` is a warning (`duplicate_id`,
//!   not listed in `error_classes`): the first counts (SPEC §A crawler rule, after §3.2).
//! - `sts_policy` \[B, C\]: `not_attempted` unless `sts_txt` is `valid`; `fetch_failed` for
//!   every fetch fault: DNS (`policy_host_nxdomain`; `policy_host_no_address` for a name
//!   with no A/AAAA; `policy_host_dns_error` for SERVFAIL), connect, TLS
//!   (`tls_handshake_failed`, `connection_reset` right after the handshake), certificate
//!   (expired, not yet valid, untrusted, wrong name, CN-only, partial wildcard: §3.3 asks
//!   for Web PKI names as DNS-IDs, whole-label wildcards only), HTTP status (404, other:
//!   §3.3 only 200 yields a policy), content type (not `text/plain`, or missing: §3.2
//!   senders SHOULD require it and the crawler does), size, time, a body that is not UTF-8
//!   (§3.2); `invalid` for every body fault that breaks the §3.2 ABNF: HTML, empty body,
//!   a byte-order mark before `version` (a strict reader sees the key `\u{FEFF}version`),
//!   no or a bad `version`, no or a bad `mode` (case-sensitive values), no or a bad
//!   `max_age` (`1*10DIGIT`; above 31557600 included: §3.2 sets that maximum), no `mx`
//!   under an active mode, a malformed `mx` pattern (trailing dot, leading dot,
//!   partial-label wildcard, port: `["*."] Domain` of RFC 5321 §4.1.2); else `valid`. A
//!   repeated field with the same value (`duplicate_field`: the first counts, §3.2) and a
//!   blank line between fields (`strict_abnf_violation`: valid when read leniently, SPEC
//!   §C crawler rule) are warnings: the policy stays valid and they are not listed.
//! - `sts_mode` \[C\]: the body's mode when `sts_policy` is `valid`, else null.
//! - `sts_mx_valid` \[D\]: null unless the policy is valid with mode `testing`/`enforce`;
//!   else count the MX hosts that match a pattern (exact, or `*.` covering exactly one
//!   left label), pass STARTTLS and have a valid certificate: `all`, `some` or `none`.
//! - `starttls` \[I\]: `error` when the zone fails; null for null MX; else how many MX hosts
//!   pass STARTTLS: `all`, `some`, `none` (certificates do not matter here).
//! - `tlsrpt` \[E\]: `error` when the lookup fails; `absent` without a record; `multiple` for
//!   two TLSRPTv1 records; `invalid` (RFC 8460 §3) for a record without `rua`, the version
//!   in the wrong case (`v=tlsrptv1`, a near miss read as invalid like §A's), a `rua`
//!   entry that is not a URI (no scheme), only URIs of schemes other than `mailto:` and
//!   `https:` (`tlsrpt_unsupported_scheme`: valid syntax, no usable destination), a comma
//!   inside a URI not percent-encoded (the piece after it is no URI), or an empty `rua=`;
//!   else `valid`.
//! - `dnssec` \[G\] (of the MX RRset, i.e. the domain zone): `error` for a failing name
//!   server, `bogus` for a bogus zone, `secure` for a signed zone with DS (all TLDs and the
//!   root are signed), `insecure` for unsigned zones and islands. Never `unknown`: the
//!   world's resolver (Unbound) validates.
//! - `dane` \[F\]: `error` when the zone fails; null for null MX; `none` when the MX RRset is
//!   not secure, whatever TLSA exists. Else per host: TLSA in an insecure zone is
//!   `tlsa_insecure`; a secure RRset is *usable* when it has a DANE-EE(3) or DANE-TA(2)
//!   record with known selector and matching type (RFC 7672 §3.1, RFC 6698 §4.1): only
//!   `1 1 1` records give `only_pkix_usages` (RFC 7672 §3.1.3) and only `3 1 3` records
//!   the warning `tlsa_unusable_params`, and such a host counts neither way (TLS is
//!   required, authentication is not: RFC 7672 §2.2). A host without TLSA counts neither
//!   way either (so a domain with TLSA on some MX hosts only is `partial`, which RFC 8461
//!   §2 allows). A usable host that is not *reached* (connection refused, reset after
//!   accept, tarpit, 421/554 greeting) counts neither way; a reached usable host is
//!   *valid* when it passes STARTTLS and (DANE-EE, `3 1 1`) serves the key the record
//!   names, with no name or expiry checks (RFC 7672 §3.1.1, §3.2.1), or (DANE-TA, `2 0 1`
//!   of the root) sends the root in its chain (RFC 7671 §5.2.2), a chain from the
//!   intermediate valid now (RFC 7671 §5.2), and a leaf naming the MX host (RFC 7672
//!   §3.2.2, §3.2.3: DNS-IDs if present, else the CN); else *broken*
//!   (`tlsa_but_no_starttls`, `tlsa_mismatch`, `dane_ta_missing_anchor_in_chain`,
//!   `dane_ta_chain_invalid`, `dane_ta_name_mismatch`). Any broken host: `broken`; every
//!   host valid: `all`; some valid: `partial`; else `none`. TLSA behind an insecure MX
//!   RRset gives `tlsa_behind_insecure_mx` only (RFC 7672 §2.2.1: DANE processing stops
//!   there).
//! - `error_classes`: exactly the failure classes (SPEC vocabulary) that follow from the
//!   planted faults and features, so that a crawler's list equals this one as a set.
//!   Warnings that leave a record or policy valid are not listed; `no_sts_record` is
//!   (SPEC §A lists it among the TXT failure classes), though `sts_txt` stays `absent`.
//!   `mx_dns_error`, `mx_bogus`, `tlsrpt_bogus` and `mx_not_covered` are names SPEC lacks.
//!   **Subcases carry their parent** (SPEC §B), for MX and policy-host certificates
//!   alike: a self-signed leaf is `cert_self_signed` and `cert_untrusted` (DESIGN.md
//!   lists self-signed as its own verification outcome; SPEC §B makes it a case of
//!   untrusted); a name only in the CN or only under a partial-label wildcard is
//!   `cert_cn_only` / `cert_partial_wildcard_only` and `cert_name_mismatch` (no DNS-ID
//!   matches: RFC 6125 §6.4). A DANE-TA failure has one class, the one that explains it
//!   (`dane_ta_missing_anchor_in_chain`, `dane_ta_chain_invalid`,
//!   `dane_ta_name_mismatch`), never `tlsa_mismatch` beside it: with the anchor served,
//!   the record matches the chain; without it, the missing anchor is the diagnosis.
//!   SMTP failures are one class per host and address (SPEC §I): `greeting_timeout` for a
//!   tarpit, `connection_reset` for a reset after accept (a name SPEC lacks; the probe's),
//!   `ehlo_rejected`, `starttls_other` for a 501 to STARTTLS, `connect_refused` for the
//!   `::1` address whether or not the host has a working A record beside it.
//! - `planted`: `category.class` of every planted fault (profile names), plus features
//!   (`dane.dane_ta`, `dane.partial_dane`) and the `bad_mx_pattern` subtype
//!   (`body.bad_mx_pattern.<subtype>`), for selecting samples; `provider`, `mx_hosts` are
//!   for joins and reports.
//! - `changes`: the [`crate::epoch::EpochChange`] codes the population's epoch applied to
//!   the domain's epoch-0 configuration (empty at epoch 0); the columns above describe
//!   the world as changed.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Builder, ListBuilder, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::pki::CertKind;
use crate::population::{
    DomainConfig, MailKind, MxHost, PolicyMode, Population, Reach, StsTxt, TlsaKind, ZoneDnssec,
};
use crate::profile::{
    BodyFault, DnssecFault, FaultClass, FetchFault, NameserverFault, SmtpFault, TlsrptFault,
    TxtFault,
};

/// One row of the truth table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TruthRow {
    /// The domain.
    pub domain: String,
    /// Its rank.
    pub rank: u32,
    /// `mx_status`.
    pub mx_status: &'static str,
    /// `sts_txt`.
    pub sts_txt: &'static str,
    /// `sts_policy`.
    pub sts_policy: &'static str,
    /// `sts_mode`.
    pub sts_mode: Option<&'static str>,
    /// `sts_mx_valid`.
    pub sts_mx_valid: Option<&'static str>,
    /// `starttls`.
    pub starttls: Option<&'static str>,
    /// `tlsrpt`.
    pub tlsrpt: &'static str,
    /// `dnssec`.
    pub dnssec: &'static str,
    /// `dane`.
    pub dane: Option<&'static str>,
    /// Failure classes a crawler must report (sorted, unique).
    pub error_classes: Vec<&'static str>,
    /// Planted faults, `category.class` (sorted, unique).
    pub planted: Vec<String>,
    /// The mail provider's zone, if any.
    pub provider: Option<String>,
    /// The MX host names in preference order.
    pub mx_hosts: Vec<String>,
    /// The changes the population's epoch applied to this domain's epoch-0 configuration
    /// ([`crate::epoch::EpochChange`] codes; empty at epoch 0 and from [`truth_row`],
    /// filled by [`write_parquet`]).
    pub changes: Vec<&'static str>,
}

/// Whether the domain zone's lookups fail (lame, timeout, SERVFAIL, bogus).
pub fn zone_fails(d: &DomainConfig) -> bool {
    ns_fails(d) || matches!(d.dnssec, ZoneDnssec::Bogus(_))
}

/// Whether a lookup in the domain zone fails, for a name/type that `exists` or not.
pub fn lookup_fails(d: &DomainConfig, exists: bool) -> bool {
    match d.dnssec {
        _ if ns_fails(d) => true,
        ZoneDnssec::Bogus(DnssecFault::MissingRrsig) => exists,
        ZoneDnssec::Bogus(_) => true,
        _ => false,
    }
}

fn ns_fails(d: &DomainConfig) -> bool {
    matches!(
        d.nameserver,
        Some(NameserverFault::Lame | NameserverFault::Timeout | NameserverFault::Servfail)
    )
}

/// Whether an MX host passes STARTTLS (reachable, 220, STARTTLS offered and accepted, TLS
/// ≥ 1.2 handshake).
pub fn starttls_ok(h: &MxHost) -> bool {
    reached(h)
        && !matches!(
            h.fault,
            Some(
                SmtpFault::NoStarttls
                    | SmtpFault::Starttls454
                    | SmtpFault::TlsLegacyOnly
                    | SmtpFault::EhloRejected
                    | SmtpFault::Starttls501
            )
        )
}

/// Whether an SMTP session with the host gets past a 220 greeting on some address (a slow
/// or multi-line 220 counts; a second, refused address does not matter).
pub fn reached(h: &MxHost) -> bool {
    h.reach.v4().is_some()
        && !matches!(
            h.fault,
            Some(
                SmtpFault::Greeting421
                    | SmtpFault::Greeting554
                    | SmtpFault::ConnectRefused
                    | SmtpFault::Tarpit
                    | SmtpFault::ResetAfterAccept
            )
        )
}

/// Whether an MX host's certificate is Web-PKI valid for its name (trusted issuer, inside
/// its validity window, a subjectAltName DNS-ID for the name).
pub fn cert_ok(h: &MxHost) -> bool {
    h.cert_kind() == CertKind::Valid
}

/// The Web PKI failure class of a certificate kind, if any.
fn cert_class(kind: CertKind) -> Option<&'static str> {
    Some(match kind {
        CertKind::Valid => return None,
        CertKind::Expired => "cert_expired",
        CertKind::NotYetValid => "cert_not_yet_valid",
        CertKind::SelfSigned => "cert_self_signed",
        CertKind::WrongName => "cert_name_mismatch",
        CertKind::CnOnly => "cert_cn_only",
        CertKind::PartialWildcard => "cert_partial_wildcard_only",
        CertKind::UntrustedIssuer => "cert_untrusted",
    })
}

/// The parent of a certificate subcase (SPEC §B): a self-signed leaf is a case of
/// `cert_untrusted` (no trusted root vouches for it), a name only in the CN or only under
/// a partial-label wildcard a case of `cert_name_mismatch` (no DNS-ID matches, RFC 6125
/// §6.4). Both are listed, for MX and policy-host certificates alike.
fn cert_parent(class: &str) -> Option<&'static str> {
    match class {
        "cert_self_signed" => Some("cert_untrusted"),
        "cert_cn_only" | "cert_partial_wildcard_only" => Some("cert_name_mismatch"),
        _ => None,
    }
}

/// Pushes a class and its parent, if it has one ([`cert_parent`]).
fn push_with_parent(classes: &mut Vec<&'static str>, class: &'static str) {
    classes.push(class);
    classes.extend(cert_parent(class));
}

/// RFC 8461 §4.1 matching: exact, or `*.rest` matching one extra left-most label.
pub fn pattern_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(rest) => host
            .split_once('.')
            .is_some_and(|(first, tail)| !first.is_empty() && tail == rest),
        None => pattern == host,
    }
}

/// The SMTP failure classes a host shows: the session failure per address, and the
/// certificate's when TLS completes.
fn smtp_classes(h: &MxHost, classes: &mut Vec<&'static str>) {
    if matches!(h.reach, Reach::RefusedV6 | Reach::DualStack(_)) {
        classes.push("connect_refused");
    }
    if h.reach.v4().is_none() {
        return;
    }
    let session = match h.fault {
        Some(SmtpFault::NoStarttls) => Some("no_starttls"),
        Some(SmtpFault::Starttls454) => Some("starttls_454"),
        Some(SmtpFault::Starttls501) => Some("starttls_other"),
        Some(SmtpFault::Greeting421) => Some("greeting_421"),
        Some(SmtpFault::Greeting554) => Some("greeting_554"),
        Some(SmtpFault::TlsLegacyOnly) => Some("tls_legacy_only"),
        Some(SmtpFault::Tarpit) => Some("greeting_timeout"),
        Some(SmtpFault::EhloRejected) => Some("ehlo_rejected"),
        Some(SmtpFault::ResetAfterAccept) => Some("connection_reset"),
        Some(SmtpFault::ConnectRefused) => Some("connect_refused"),
        _ => None,
    };
    classes.extend(session);
    if starttls_ok(h)
        && let Some(class) = cert_class(h.cert_kind())
    {
        push_with_parent(classes, class);
    }
}

fn count(hosts: usize, passing: usize) -> &'static str {
    if hosts > 0 && passing == hosts {
        "all"
    } else if passing > 0 {
        "some"
    } else {
        "none"
    }
}

fn fetch_class(f: FetchFault) -> &'static str {
    match f {
        FetchFault::PolicyHostNxdomain => "policy_host_nxdomain",
        FetchFault::ConnectRefused => "connect_refused",
        FetchFault::CertExpired => "cert_expired",
        FetchFault::CertNameMismatch => "cert_name_mismatch",
        FetchFault::CertUntrusted => "cert_untrusted",
        FetchFault::HttpRedirect => "http_redirect",
        FetchFault::Http404 => "http_404",
        FetchFault::ContentTypeNotTextPlain => "content_type_not_text_plain",
        FetchFault::BodyTooLarge => "body_too_large",
        FetchFault::FetchTimeout => "fetch_timeout",
        FetchFault::PolicyHostNoAddress => "policy_host_no_address",
        FetchFault::PolicyHostDnsError => "policy_host_dns_error",
        FetchFault::CertNotYetValid => "cert_not_yet_valid",
        FetchFault::CertCnOnly => "cert_cn_only",
        FetchFault::CertPartialWildcardOnly => "cert_partial_wildcard_only",
        FetchFault::TlsHandshakeFailed => "tls_handshake_failed",
        FetchFault::ConnectionReset => "connection_reset",
        FetchFault::HttpStatusOther => "http_status_other",
        FetchFault::ContentTypeMissing => "content_type_missing",
        FetchFault::BodyNotUtf8 => "body_not_utf8",
    }
}

fn body_class(f: BodyFault) -> &'static str {
    match f {
        BodyFault::BadMode => "bad_mode",
        BodyFault::MissingMx => "missing_mx",
        BodyFault::MaxAgeOverLimit => "max_age_over_limit",
        BodyFault::HtmlBody => "html_body",
        BodyFault::EmptyBody => "empty_body",
        BodyFault::BomPresent => "bom_present",
        BodyFault::MissingVersion => "missing_version",
        BodyFault::BadVersion => "bad_version",
        BodyFault::MissingMode => "missing_mode",
        BodyFault::BadMaxAge => "bad_max_age",
        BodyFault::BadMxPattern => "bad_mx_pattern",
        BodyFault::DuplicateField => "duplicate_field",
        BodyFault::StrictAbnfViolation => "strict_abnf_violation",
    }
}

fn txt_class(f: TxtFault) -> &'static str {
    match f {
        TxtFault::MultipleStsRecords => "multiple_sts_records",
        TxtFault::BadIdChars => "bad_id_chars",
        TxtFault::StsPrefixVariant => "sts_prefix_variant",
        TxtFault::TxtDnsError => "txt_dns_error",
        TxtFault::BadVersion => "bad_version",
        TxtFault::VersionNotFirst => "version_not_first",
        TxtFault::MissingId => "missing_id",
        TxtFault::IdTooLong => "id_too_long",
        TxtFault::BadExtension => "bad_extension",
        TxtFault::BadDelimiter => "bad_delimiter",
        TxtFault::NonAscii => "non_ascii",
        TxtFault::DuplicateId => "duplicate_id",
    }
}

fn tlsrpt_class(f: TlsrptFault) -> &'static str {
    match f {
        TlsrptFault::TlsrptMultiple => "tlsrpt_multiple",
        TlsrptFault::TlsrptMissingRua => "tlsrpt_missing_rua",
        TlsrptFault::TlsrptBadVersion => "tlsrpt_bad_version",
        TlsrptFault::TlsrptBadUri => "tlsrpt_bad_uri",
        TlsrptFault::TlsrptUnsupportedScheme => "tlsrpt_unsupported_scheme",
        TlsrptFault::TlsrptUnencodedComma => "tlsrpt_unencoded_comma",
        TlsrptFault::TlsrptEmptyRua => "tlsrpt_empty_rua",
    }
}

/// The DANE outcome of one host with TLSA in a secure zone.
enum DaneHost {
    /// Not usable or not reached: counts neither way.
    Neither,
    /// Valid.
    Valid,
    /// Broken, with the class.
    Broken(&'static str),
}

fn dane_host(h: &MxHost, classes: &mut Vec<&'static str>) -> DaneHost {
    let Some(generation) = h.tlsa_generation else {
        return DaneHost::Neither;
    };
    match h.tlsa_kind {
        TlsaKind::PkixEe => {
            classes.push("only_pkix_usages");
            return DaneHost::Neither;
        }
        // A failure class of SPEC §F, but neither valid nor broken: TLS is required,
        // authentication is not (RFC 7672 §2.2).
        TlsaKind::UnassignedMatching => {
            classes.push("tlsa_unusable_params");
            return DaneHost::Neither;
        }
        TlsaKind::DaneEe | TlsaKind::DaneTa => {}
    }
    if !reached(h) {
        // Not reached at all: neither valid nor a DANE failure (as for MTA-STS,
        // RFC 8461 Appendix B), but it keeps the domain from `all`.
        return DaneHost::Neither;
    }
    if !starttls_ok(h) {
        return DaneHost::Broken("tlsa_but_no_starttls");
    }
    match h.tlsa_kind {
        TlsaKind::DaneTa => {
            if !h.sends_dane_ta_anchor() {
                return DaneHost::Broken("dane_ta_missing_anchor_in_chain");
            }
            match h.cert_kind() {
                // The CN counts when there is no DNS-ID (RFC 7672 §3.2.3).
                CertKind::Valid | CertKind::CnOnly => DaneHost::Valid,
                // The root is not above these leaves: no record matches the chain.
                CertKind::SelfSigned | CertKind::UntrustedIssuer => {
                    DaneHost::Broken("tlsa_mismatch")
                }
                CertKind::Expired | CertKind::NotYetValid => {
                    DaneHost::Broken("dane_ta_chain_invalid")
                }
                CertKind::WrongName | CertKind::PartialWildcard => {
                    DaneHost::Broken("dane_ta_name_mismatch")
                }
            }
        }
        _ if h.cert_generation != generation => DaneHost::Broken("tlsa_mismatch"),
        _ => DaneHost::Valid,
    }
}

/// Derives the truth row of one domain.
pub fn truth_row(pop: &Population, d: &DomainConfig) -> TruthRow {
    let mut classes: Vec<&'static str> = Vec::new();
    let fails = zone_fails(d);
    let bogus = matches!(d.dnssec, ZoneDnssec::Bogus(_));

    let mx_status = if fails {
        classes.push(if ns_fails(d) {
            "mx_dns_error"
        } else {
            "mx_bogus"
        });
        "error"
    } else {
        match d.mail {
            MailKind::NullMx => "null_mx",
            MailKind::Implicit => "implicit",
            MailKind::SelfHosted | MailKind::Provider(_) => "ok",
        }
    };

    let txt_exists = d.sts.is_some() || d.other_txt.is_some();
    let sts_txt = if lookup_fails(d, txt_exists) {
        classes.push(if ns_fails(d) {
            "txt_dns_error"
        } else {
            "txt_bogus"
        });
        "error"
    } else {
        match &d.sts {
            // Other TXT records there (simnet's `v=spf1 -all`): absence, with the class
            // SPEC §A names for "TXT present, none STSv1".
            None if d.other_txt.is_some() => {
                classes.push("no_sts_record");
                "absent"
            }
            None => "absent",
            Some(sts) => match (&sts.txt, sts.txt_fault) {
                (StsTxt::DnsError, _) | (_, Some(TxtFault::TxtDnsError)) => {
                    classes.push("txt_dns_error");
                    "error"
                }
                (_, Some(TxtFault::MultipleStsRecords)) => {
                    classes.push("multiple_sts_records");
                    "multiple"
                }
                (StsTxt::Records(_), None) => "valid",
                (StsTxt::Records(_), Some(f)) if f.is_warning() => "valid",
                (StsTxt::Records(_), Some(f)) => {
                    classes.push(txt_class(f));
                    if f == TxtFault::NonAscii {
                        // Simnet puts the character in an extension value
                        // (`owner=M\u{fc}ller`), which `sts-ext-value = 1*(%x21-3A /
                        // %x3C / %x3E-7E)` excludes: the field breaks the §3.1 ABNF too.
                        classes.push("bad_extension");
                    }
                    "invalid"
                }
            },
        }
    };

    let (sts_policy, sts_mode) = match (&d.sts, sts_txt) {
        (Some(sts), "valid") => {
            if let Some(f) = sts.fetch_fault {
                push_with_parent(&mut classes, fetch_class(f));
                ("fetch_failed", None)
            } else if let Some(f) = sts.body_fault.filter(|f| !f.is_warning()) {
                classes.push(body_class(f));
                ("invalid", None)
            } else {
                ("valid", Some(sts.mode))
            }
        }
        _ => ("not_attempted", None),
    };

    let sts_mx_valid = match (&d.sts, sts_mode) {
        (Some(sts), Some(mode)) if mode != PolicyMode::None && !fails => {
            let mut passing = 0;
            for h in &d.mx {
                let covered = sts.patterns.iter().any(|p| pattern_matches(p, &h.name));
                if !covered {
                    classes.push("mx_not_covered");
                }
                if covered && starttls_ok(h) && cert_ok(h) {
                    passing += 1;
                }
            }
            if mode == PolicyMode::Enforce && passing == 0 {
                classes.push("sts_enforce_without_any_valid_mx");
            }
            Some(count(d.mx.len(), passing))
        }
        _ => None,
    };

    let starttls = if fails {
        Some("error")
    } else if d.mail == MailKind::NullMx {
        None
    } else {
        let mut passing = 0;
        for h in &d.mx {
            if starttls_ok(h) {
                passing += 1;
            }
            smtp_classes(h, &mut classes);
        }
        Some(count(d.mx.len(), passing))
    };

    let tlsrpt = if lookup_fails(d, d.tlsrpt.is_some()) {
        classes.push(if ns_fails(d) {
            "tlsrpt_dns_error"
        } else {
            "tlsrpt_bogus"
        });
        "error"
    } else {
        match &d.tlsrpt {
            None => "absent",
            Some(t) => match t.fault {
                None => "valid",
                Some(TlsrptFault::TlsrptMultiple) => {
                    classes.push("tlsrpt_multiple");
                    "multiple"
                }
                Some(f) => {
                    classes.push(tlsrpt_class(f));
                    "invalid"
                }
            },
        }
    };

    let dnssec = if ns_fails(d) {
        "error"
    } else if bogus {
        "bogus"
    } else {
        match d.dnssec {
            ZoneDnssec::Secure => "secure",
            _ => "insecure",
        }
    };

    let dane = if fails {
        Some("error")
    } else if d.mail == MailKind::NullMx {
        None
    } else if dnssec != "secure" {
        // RFC 7672 §2.2.1: DANE stops at an insecure MX RRset, whatever the TLSA's own
        // status, so only the MX's insecurity is reported.
        if d.mx.iter().any(|h| h.tlsa_generation.is_some()) {
            classes.push("tlsa_behind_insecure_mx");
        }
        Some("none")
    } else {
        let (mut valid, mut broken) = (0, 0);
        for h in &d.mx {
            if h.tlsa_generation.is_none() {
                continue;
            }
            if h.zone_dnssec != ZoneDnssec::Secure {
                classes.push("tlsa_insecure");
                continue;
            }
            match dane_host(h, &mut classes) {
                DaneHost::Neither => {}
                DaneHost::Valid => valid += 1,
                DaneHost::Broken(class) => {
                    broken += 1;
                    classes.push(class);
                }
            }
        }
        Some(if broken > 0 {
            "broken"
        } else if valid > 0 && valid == d.mx.len() {
            "all"
        } else if valid > 0 {
            "partial"
        } else {
            "none"
        })
    };

    classes.sort_unstable();
    classes.dedup();
    TruthRow {
        domain: d.name.clone(),
        rank: d.rank,
        mx_status,
        sts_txt,
        sts_policy,
        sts_mode: sts_mode.map(PolicyMode::as_str),
        sts_mx_valid,
        starttls,
        tlsrpt,
        dnssec,
        dane,
        error_classes: classes,
        planted: planted(pop, d),
        provider: match d.mail {
            MailKind::Provider(p) => pop.provider(p).map(|pr| pr.zone.clone()),
            _ => None,
        },
        mx_hosts: d.mx.iter().map(|h| h.name.clone()).collect(),
        changes: Vec::new(),
    }
}

/// `category.class` of every planted fault and notable feature of `d`.
pub fn planted(pop: &Population, d: &DomainConfig) -> Vec<String> {
    fn tag<C: FaultClass>(out: &mut Vec<String>, c: C) {
        let cat = C::CATEGORY.strip_prefix("faults.").unwrap_or(C::CATEGORY);
        out.push(format!("{cat}.{}", c.code()));
    }
    let mut out = Vec::new();
    if let Some(f) = d.nameserver {
        tag(&mut out, f);
    }
    match d.dnssec {
        ZoneDnssec::Bogus(f) => tag(&mut out, f),
        ZoneDnssec::Island => out.push("dnssec.island".to_owned()),
        _ => {}
    }
    match d.mail {
        MailKind::NullMx => out.push("mx.null_mx".to_owned()),
        MailKind::Implicit => out.push("mx.implicit_mx".to_owned()),
        MailKind::Provider(p) if pop.provider(p).is_some_and(|pr| !pr.large) => {
            out.push("mx.small_provider".to_owned());
        }
        _ => {}
    }
    for h in &d.mx {
        if let Some(f) = h.fault {
            tag(&mut out, f);
        }
        if let Some(f) = h.dane_fault {
            tag(&mut out, f);
        }
        if h.tlsa_generation.is_some() && h.tlsa_kind == TlsaKind::DaneTa {
            out.push("dane.dane_ta".to_owned());
        }
        if h.tlsa_generation.is_some() && !h.zone_dnssec.is_signed() {
            out.push("dnssec.tlsa_in_unsigned_zone".to_owned());
        }
    }
    if d.mail == MailKind::SelfHosted
        && d.mx.iter().any(|h| h.tlsa_generation.is_some())
        && d.mx.iter().any(|h| h.tlsa_generation.is_none())
    {
        out.push("dane.partial_dane".to_owned());
    }
    if let Some(sts) = &d.sts {
        if let Some(f) = sts.txt_fault {
            tag(&mut out, f);
        }
        if let Some(f) = sts.fetch_fault {
            tag(&mut out, f);
        }
        if let Some(f) = sts.body_fault {
            tag(&mut out, f);
        }
        if let Some(k) = sts.bad_mx {
            out.push(format!("body.bad_mx_pattern.{}", k.code()));
        }
        if let Some(f) = sts.coverage_fault {
            tag(&mut out, f);
        }
    }
    if d.other_txt.is_some() {
        out.push("txt.no_sts_record".to_owned());
    }
    if let Some(f) = d.tlsrpt.as_ref().and_then(|t| t.fault) {
        tag(&mut out, f);
    }
    out.sort();
    out.dedup();
    out
}

/// The Arrow schema of the truth table.
pub fn schema() -> SchemaRef {
    let list = |name: &str| {
        Field::new(
            name,
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        )
    };
    Arc::new(Schema::new(vec![
        Field::new("domain", DataType::Utf8, false),
        Field::new("rank", DataType::Int64, true),
        Field::new("mx_status", DataType::Utf8, false),
        Field::new("sts_txt", DataType::Utf8, false),
        Field::new("sts_policy", DataType::Utf8, false),
        Field::new("sts_mode", DataType::Utf8, true),
        Field::new("sts_mx_valid", DataType::Utf8, true),
        Field::new("starttls", DataType::Utf8, true),
        Field::new("tlsrpt", DataType::Utf8, false),
        Field::new("dnssec", DataType::Utf8, false),
        Field::new("dane", DataType::Utf8, true),
        list("error_classes"),
        list("planted"),
        Field::new("provider", DataType::Utf8, true),
        list("mx_hosts"),
        list("changes"),
    ]))
}

/// Why the truth table could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TruthError {
    /// File system error.
    #[error("truth file: {0}")]
    Io(#[from] std::io::Error),
    /// Parquet encoding error.
    #[error("truth parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Arrow error.
    #[error("truth arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// Rows per batch and row group: bounds memory whatever the population size.
pub const ROWS_PER_GROUP: u32 = 65_536;

/// Counts of every headline value and planted tag over the whole table.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TruthSummary {
    /// Rows written.
    pub rows: u64,
    /// Per column, per value (`null` for nulls): number of rows.
    pub columns: BTreeMap<&'static str, BTreeMap<&'static str, u64>>,
    /// Per planted tag: number of rows carrying it.
    pub planted: BTreeMap<String, u64>,
    /// Per epoch change: number of rows carrying it (empty at epoch 0).
    pub changes: BTreeMap<&'static str, u64>,
}

impl TruthSummary {
    /// Adds one row.
    pub fn add(&mut self, r: &TruthRow) {
        self.rows += 1;
        let values = [
            ("mx_status", Some(r.mx_status)),
            ("sts_txt", Some(r.sts_txt)),
            ("sts_policy", Some(r.sts_policy)),
            ("sts_mode", r.sts_mode),
            ("sts_mx_valid", r.sts_mx_valid),
            ("starttls", r.starttls),
            ("tlsrpt", Some(r.tlsrpt)),
            ("dnssec", Some(r.dnssec)),
            ("dane", r.dane),
        ];
        for (column, value) in values {
            *self
                .columns
                .entry(column)
                .or_default()
                .entry(value.unwrap_or("null"))
                .or_default() += 1;
        }
        for tag in &r.planted {
            *self.planted.entry(tag.clone()).or_default() += 1;
        }
        for change in &r.changes {
            *self.changes.entry(change).or_default() += 1;
        }
    }
}

/// Writes the truth table of the whole population to `path` (written to a temporary
/// name, then renamed, so a partial file is never mistaken for a finished one), one row
/// group per [`ROWS_PER_GROUP`] rows, and returns the value counts.
pub fn write_parquet(pop: &Population, path: &Path) -> Result<TruthSummary, TruthError> {
    let tmp = path.with_extension("parquet.partial");
    let file = File::create(&tmp)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_max_row_group_row_count(Some(ROWS_PER_GROUP as usize))
        .build();
    let schema = schema();
    let mut writer = ArrowWriter::try_new(file, schema.clone(), Some(props))?;
    let mut summary = TruthSummary::default();
    let mut start = 0u32;
    while start < pop.len() {
        let end = start.saturating_add(ROWS_PER_GROUP).min(pop.len());
        let rows: Vec<TruthRow> = (start..end)
            .map(|i| {
                let (d, changes) = pop.domain_and_changes(i);
                let mut row = truth_row(pop, &d);
                row.changes = changes.iter().map(|c| c.code()).collect();
                row
            })
            .collect();
        for r in &rows {
            summary.add(r);
        }
        writer.write(&batch(&schema, &rows)?)?;
        start = end;
    }
    writer.close()?;
    std::fs::rename(&tmp, path)?;
    Ok(summary)
}

fn batch(schema: &SchemaRef, rows: &[TruthRow]) -> Result<RecordBatch, TruthError> {
    fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
        let mut b = StringBuilder::new();
        for v in values {
            b.append_option(v);
        }
        Arc::new(b.finish())
    }
    fn lists<'a, I: IntoIterator<Item = &'a str>>(values: impl Iterator<Item = I>) -> ArrayRef {
        let mut b = ListBuilder::new(StringBuilder::new()).with_field(Arc::new(Field::new(
            "item",
            DataType::Utf8,
            true,
        )));
        for v in values {
            for s in v {
                b.values().append_value(s);
            }
            b.append(true);
        }
        Arc::new(b.finish())
    }
    let mut rank = Int64Builder::new();
    for r in rows {
        rank.append_value(i64::from(r.rank));
    }
    let columns: Vec<ArrayRef> = vec![
        strings(rows.iter().map(|r| Some(r.domain.as_str()))),
        Arc::new(rank.finish()),
        strings(rows.iter().map(|r| Some(r.mx_status))),
        strings(rows.iter().map(|r| Some(r.sts_txt))),
        strings(rows.iter().map(|r| Some(r.sts_policy))),
        strings(rows.iter().map(|r| r.sts_mode)),
        strings(rows.iter().map(|r| r.sts_mx_valid)),
        strings(rows.iter().map(|r| r.starttls)),
        strings(rows.iter().map(|r| Some(r.tlsrpt))),
        strings(rows.iter().map(|r| Some(r.dnssec))),
        strings(rows.iter().map(|r| r.dane)),
        lists(rows.iter().map(|r| r.error_classes.iter().copied())),
        lists(rows.iter().map(|r| r.planted.iter().map(String::as_str))),
        strings(rows.iter().map(|r| r.provider.as_deref())),
        lists(rows.iter().map(|r| r.mx_hosts.iter().map(String::as_str))),
        lists(rows.iter().map(|r| r.changes.iter().copied())),
    ];
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::population::{HostZone, PolicyHosting, Sts, Tlsrpt};
    use crate::profile::{CoverageFault, DaneFault, Profile};
    use std::net::Ipv4Addr;

    fn pop() -> Population {
        Population::new(1, 100, Profile::default()).unwrap()
    }

    fn host(name: &str, fault: Option<SmtpFault>) -> MxHost {
        MxHost {
            name: name.to_owned(),
            preference: 10,
            reach: if fault == Some(SmtpFault::ConnectRefused) {
                Reach::RefusedV6
            } else {
                Reach::V4(Ipv4Addr::new(127, 16, 0, 1))
            },
            zone: HostZone::Domain,
            zone_dnssec: ZoneDnssec::Unsigned,
            fault,
            cert_generation: 1,
            tlsa_generation: None,
            tlsa_kind: TlsaKind::DaneEe,
            dane_fault: None,
        }
    }

    fn base() -> DomainConfig {
        DomainConfig {
            index: 0,
            rank: 1,
            name: "a.com".to_owned(),
            suffix: "com".to_owned(),
            dnssec: ZoneDnssec::Unsigned,
            nameserver: None,
            mail: MailKind::SelfHosted,
            mx: vec![host("mx1.a.com", None), host("mx2.a.com", None)],
            sts: None,
            other_txt: None,
            tlsrpt: None,
        }
    }

    fn with_sts(mut d: DomainConfig, mode: PolicyMode) -> DomainConfig {
        d.sts = Some(Sts {
            mode,
            id: "1".to_owned(),
            txt: StsTxt::Records(vec!["v=STSv1; id=1;".to_owned()]),
            txt_fault: None,
            hosting: PolicyHosting::SelfHosted,
            fetch_fault: None,
            body_fault: None,
            coverage_fault: None,
            bad_mx: None,
            patterns: vec!["*.a.com".to_owned()],
            max_age: 86400,
            body: String::new(),
        });
        d
    }

    #[test]
    fn plain_domain() {
        let r = truth_row(&pop(), &base());
        assert_eq!(
            (
                r.mx_status,
                r.sts_txt,
                r.sts_policy,
                r.starttls,
                r.tlsrpt,
                r.dnssec,
                r.dane
            ),
            (
                "ok",
                "absent",
                "not_attempted",
                Some("all"),
                "absent",
                "insecure",
                Some("none")
            )
        );
        assert_eq!((r.sts_mode, r.sts_mx_valid), (None, None));
        assert!(r.error_classes.is_empty());
    }

    #[test]
    fn foreign_txt_at_mta_sts_is_no_sts_record() {
        let mut d = base();
        d.other_txt = Some("v=spf1 -all".to_owned());
        let r = truth_row(&pop(), &d);
        assert_eq!((r.sts_txt, r.sts_policy), ("absent", "not_attempted"));
        assert_eq!(r.error_classes, ["no_sts_record"]);
        // A lookup that fails sees no records at all: the DNS error, not the class.
        d.nameserver = Some(NameserverFault::Servfail);
        let r = truth_row(&pop(), &d);
        assert_eq!(r.sts_txt, "error");
        assert!(!r.error_classes.contains(&"no_sts_record"));
    }

    #[test]
    fn certificate_subcases_carry_their_parent() {
        let mut d = with_sts(base(), PolicyMode::Testing);
        let cases = [
            (
                FetchFault::CertCnOnly,
                vec!["cert_cn_only", "cert_name_mismatch"],
            ),
            (
                FetchFault::CertPartialWildcardOnly,
                vec!["cert_name_mismatch", "cert_partial_wildcard_only"],
            ),
            (FetchFault::CertNameMismatch, vec!["cert_name_mismatch"]),
            (FetchFault::CertUntrusted, vec!["cert_untrusted"]),
        ];
        for (f, want) in cases {
            d.sts.as_mut().unwrap().fetch_fault = Some(f);
            assert_eq!(truth_row(&pop(), &d).error_classes, want, "{f:?}");
        }
        let mut d = base();
        d.mx[0] = host("mx1.a.com", Some(SmtpFault::CertSelfSigned));
        assert_eq!(
            truth_row(&pop(), &d).error_classes,
            ["cert_self_signed", "cert_untrusted"]
        );
        d.mx[0] = host("mx1.a.com", Some(SmtpFault::CertNameMismatch));
        assert_eq!(truth_row(&pop(), &d).error_classes, ["cert_name_mismatch"]);
    }

    #[test]
    fn bogus_zone_is_error_everywhere_but_dnssec() {
        let mut d = with_sts(base(), PolicyMode::Enforce);
        d.dnssec = ZoneDnssec::Bogus(DnssecFault::DsMismatch);
        let r = truth_row(&pop(), &d);
        assert_eq!(
            (
                r.mx_status,
                r.sts_txt,
                r.sts_policy,
                r.starttls,
                r.tlsrpt,
                r.dnssec,
                r.dane
            ),
            (
                "error",
                "error",
                "not_attempted",
                Some("error"),
                "error",
                "bogus",
                Some("error")
            )
        );
        assert!(r.error_classes.contains(&"mx_bogus"));
        assert!(r.planted.contains(&"dnssec.ds_mismatch".to_owned()));
    }

    #[test]
    fn missing_rrsig_zone_still_proves_denial() {
        let mut d = base();
        d.dnssec = ZoneDnssec::Bogus(DnssecFault::MissingRrsig);
        let r = truth_row(&pop(), &d);
        assert_eq!(
            (r.mx_status, r.sts_txt, r.tlsrpt, r.dnssec),
            ("error", "absent", "absent", "bogus")
        );
        let mut d = with_sts(d, PolicyMode::Testing);
        d.tlsrpt = Some(Tlsrpt {
            fault: None,
            records: vec![],
        });
        let r = truth_row(&pop(), &d);
        assert_eq!((r.sts_txt, r.tlsrpt), ("error", "error"));
        assert!(r.error_classes.contains(&"txt_bogus"));
    }

    #[test]
    fn lame_server_is_dnssec_error() {
        let mut d = base();
        d.dnssec = ZoneDnssec::Secure;
        d.nameserver = Some(NameserverFault::Lame);
        let r = truth_row(&pop(), &d);
        assert_eq!((r.mx_status, r.dnssec), ("error", "error"));
        d.nameserver = Some(NameserverFault::TruncateUdp);
        let r = truth_row(&pop(), &d);
        assert_eq!((r.mx_status, r.dnssec), ("ok", "secure"));
    }

    #[test]
    fn null_mx_has_null_starttls_and_dane() {
        let mut d = base();
        d.mail = MailKind::NullMx;
        d.mx.clear();
        let r = truth_row(&pop(), &d);
        assert_eq!((r.mx_status, r.starttls, r.dane), ("null_mx", None, None));
    }

    #[test]
    fn unreachable_and_legacy_hosts_do_not_pass_starttls() {
        let mut d = base();
        d.mx[1] = host("mx2.a.com", Some(SmtpFault::ConnectRefused));
        let r = truth_row(&pop(), &d);
        assert_eq!(r.starttls, Some("some"));
        assert!(r.error_classes.contains(&"connect_refused"));
        d.mx[0] = host("mx1.a.com", Some(SmtpFault::TlsLegacyOnly));
        let r = truth_row(&pop(), &d);
        assert_eq!(r.starttls, Some("none"));
        assert!(r.error_classes.contains(&"tls_legacy_only"));
        d.mx = vec![host("mx1.a.com", Some(SmtpFault::GreetingSlow))];
        let r = truth_row(&pop(), &d);
        assert_eq!(r.starttls, Some("all"));
        assert!(r.error_classes.is_empty());
    }

    #[test]
    fn sts_mx_valid_needs_pattern_starttls_and_cert() {
        let mut d = with_sts(base(), PolicyMode::Enforce);
        let r = truth_row(&pop(), &d);
        assert_eq!(
            (r.sts_policy, r.sts_mode, r.sts_mx_valid),
            ("valid", Some("enforce"), Some("all"))
        );
        d.mx[1] = host("mx2.a.com", Some(SmtpFault::CertSelfSigned));
        let r = truth_row(&pop(), &d);
        assert_eq!((r.starttls, r.sts_mx_valid), (Some("all"), Some("some")));
        assert_eq!(r.error_classes, ["cert_self_signed", "cert_untrusted"]);
        if let Some(sts) = d.sts.as_mut() {
            sts.patterns = vec!["mail.a.com".to_owned()];
            sts.coverage_fault = Some(CoverageFault::MxNotCoveredAll);
        }
        let r = truth_row(&pop(), &d);
        assert_eq!(r.sts_mx_valid, Some("none"));
        assert!(r.error_classes.contains(&"mx_not_covered"));
        assert!(
            r.error_classes
                .contains(&"sts_enforce_without_any_valid_mx")
        );
        let r = truth_row(&pop(), &with_sts(base(), PolicyMode::None));
        assert_eq!((r.sts_mode, r.sts_mx_valid), (Some("none"), None));
    }

    #[test]
    fn txt_fetch_and_body_faults() {
        let mut d = with_sts(base(), PolicyMode::Testing);
        let sts = d.sts.as_mut().unwrap();
        sts.txt_fault = Some(TxtFault::MultipleStsRecords);
        let r = truth_row(&pop(), &d);
        assert_eq!((r.sts_txt, r.sts_policy), ("multiple", "not_attempted"));
        let sts = d.sts.as_mut().unwrap();
        sts.txt_fault = Some(TxtFault::StsPrefixVariant);
        assert_eq!(truth_row(&pop(), &d).sts_txt, "invalid");
        let sts = d.sts.as_mut().unwrap();
        sts.txt_fault = Some(TxtFault::TxtDnsError);
        sts.txt = StsTxt::DnsError;
        assert_eq!(truth_row(&pop(), &d).sts_txt, "error");
        let sts = d.sts.as_mut().unwrap();
        sts.txt_fault = None;
        sts.txt = StsTxt::Records(vec![]);
        sts.fetch_fault = Some(FetchFault::Http404);
        let r = truth_row(&pop(), &d);
        assert_eq!(
            (r.sts_txt, r.sts_policy, r.sts_mode),
            ("valid", "fetch_failed", None)
        );
        assert_eq!(r.error_classes, vec!["http_404"]);
        let sts = d.sts.as_mut().unwrap();
        sts.fetch_fault = None;
        sts.body_fault = Some(BodyFault::MaxAgeOverLimit);
        let r = truth_row(&pop(), &d);
        assert_eq!((r.sts_policy, r.sts_mx_valid), ("invalid", None));
    }

    #[test]
    fn dane_rules() {
        let mut d = base();
        d.dnssec = ZoneDnssec::Secure;
        for h in &mut d.mx {
            h.zone_dnssec = ZoneDnssec::Secure;
            h.tlsa_generation = Some(1);
        }
        let r = truth_row(&pop(), &d);
        assert_eq!((r.dnssec, r.dane), ("secure", Some("all")));
        // DANE-EE ignores the self-signed certificate.
        d.mx[1].fault = Some(SmtpFault::CertSelfSigned);
        assert_eq!(truth_row(&pop(), &d).dane, Some("all"));
        d.mx[0].cert_generation = 2;
        let r = truth_row(&pop(), &d);
        assert_eq!(r.dane, Some("broken"));
        assert!(r.error_classes.contains(&"tlsa_mismatch"));
        d.mx[0].cert_generation = 1;
        d.mx[1].tlsa_generation = None;
        assert_eq!(truth_row(&pop(), &d).dane, Some("partial"));
        // Insecure MX RRset: none, whatever TLSA exists.
        d.dnssec = ZoneDnssec::Island;
        let r = truth_row(&pop(), &d);
        assert_eq!((r.dnssec, r.dane), ("insecure", Some("none")));
        assert!(r.error_classes.contains(&"tlsa_behind_insecure_mx"));
        let mut u = base();
        u.mx[0].tlsa_generation = Some(1);
        let r = truth_row(&pop(), &u);
        assert_eq!(r.dane, Some("none"));
        assert_eq!(r.error_classes, vec!["tlsa_behind_insecure_mx"]);
        // Secure MX, TLSA in an unsigned provider zone: not usable.
        let mut p = base();
        p.dnssec = ZoneDnssec::Secure;
        p.mx[0].tlsa_generation = Some(1);
        let r = truth_row(&pop(), &p);
        assert_eq!(r.dane, Some("none"));
        assert!(r.error_classes.contains(&"tlsa_insecure"));
        // Unreached hosts count neither way; reached hosts without TLS are broken.
        let mut q = base();
        q.dnssec = ZoneDnssec::Secure;
        for h in &mut q.mx {
            h.zone_dnssec = ZoneDnssec::Secure;
            h.tlsa_generation = Some(1);
        }
        q.mx[1].fault = Some(SmtpFault::Greeting554);
        assert_eq!(truth_row(&pop(), &q).dane, Some("partial"));
        q.mx[1].fault = Some(SmtpFault::TlsLegacyOnly);
        let r = truth_row(&pop(), &q);
        assert_eq!(r.dane, Some("broken"));
        assert!(r.error_classes.contains(&"tlsa_but_no_starttls"));
    }

    #[test]
    fn new_smtp_faults() {
        let mut d = with_sts(base(), PolicyMode::Enforce);
        let cases: [(SmtpFault, &str, &str, &str); 10] = [
            (SmtpFault::Tarpit, "greeting_timeout", "some", "some"),
            (
                SmtpFault::ResetAfterAccept,
                "connection_reset",
                "some",
                "some",
            ),
            (SmtpFault::EhloRejected, "ehlo_rejected", "some", "some"),
            (SmtpFault::Starttls501, "starttls_other", "some", "some"),
            (
                SmtpFault::CertCnOnly,
                "cert_cn_only cert_name_mismatch",
                "all",
                "some",
            ),
            (
                SmtpFault::CertPartialWildcardOnly,
                "cert_name_mismatch cert_partial_wildcard_only",
                "all",
                "some",
            ),
            (
                SmtpFault::CertNotYetValid,
                "cert_not_yet_valid",
                "all",
                "some",
            ),
            // RFC 8461 Appendix B: the refused `::1` is reported, the host still passes.
            (
                SmtpFault::SecondAddressRefused,
                "connect_refused",
                "all",
                "all",
            ),
            (SmtpFault::MultilineGreeting, "", "all", "all"),
            (SmtpFault::GreetingSlow, "", "all", "all"),
        ];
        for (fault, class, starttls, sts) in cases {
            d.mx[1] = host("mx2.a.com", Some(fault));
            if fault == SmtpFault::SecondAddressRefused {
                d.mx[1].reach = Reach::DualStack(Ipv4Addr::new(127, 64, 0, 1));
            }
            let r = truth_row(&pop(), &d);
            assert_eq!(
                (r.starttls, r.sts_mx_valid),
                (Some(starttls), Some(sts)),
                "{fault:?}"
            );
            let want: Vec<&str> = class.split_whitespace().collect();
            assert_eq!(r.error_classes, want, "{fault:?}");
        }
    }

    #[test]
    fn warnings_keep_records_and_policies_valid() {
        let mut d = with_sts(base(), PolicyMode::Testing);
        d.sts.as_mut().unwrap().txt_fault = Some(TxtFault::DuplicateId);
        let r = truth_row(&pop(), &d);
        assert_eq!((r.sts_txt, r.sts_policy), ("valid", "valid"));
        assert!(r.error_classes.is_empty());
        assert!(r.planted.contains(&"txt.duplicate_id".to_owned()));
        for f in [BodyFault::DuplicateField, BodyFault::StrictAbnfViolation] {
            d.sts.as_mut().unwrap().body_fault = Some(f);
            let r = truth_row(&pop(), &d);
            assert_eq!(
                (r.sts_policy, r.sts_mode),
                ("valid", Some("testing")),
                "{f:?}"
            );
            assert_eq!(r.sts_mx_valid, Some("all"));
            assert!(r.error_classes.is_empty(), "{f:?}");
        }
    }

    #[test]
    fn every_error_class_of_txt_fetch_body_and_tlsrpt() {
        let d0 = with_sts(base(), PolicyMode::Enforce);
        for &f in TxtFault::ALL {
            let mut d = d0.clone();
            d.sts.as_mut().unwrap().txt_fault = Some(f);
            let r = truth_row(&pop(), &d);
            match f {
                TxtFault::DuplicateId => assert_eq!(r.sts_txt, "valid"),
                TxtFault::TxtDnsError => assert_eq!(r.sts_txt, "error"),
                TxtFault::MultipleStsRecords => assert_eq!(r.sts_txt, "multiple"),
                // The character sits in an extension value: both classes.
                TxtFault::NonAscii => {
                    assert_eq!(r.sts_txt, "invalid");
                    assert_eq!(r.error_classes, ["bad_extension", "non_ascii"]);
                }
                _ => {
                    assert_eq!(r.sts_txt, "invalid", "{f:?}");
                    assert_eq!(r.error_classes, vec![f.code()]);
                }
            }
        }
        for &f in FetchFault::ALL {
            let mut d = d0.clone();
            d.sts.as_mut().unwrap().fetch_fault = Some(f);
            let r = truth_row(&pop(), &d);
            assert_eq!((r.sts_policy, r.sts_mode), ("fetch_failed", None), "{f:?}");
            let mut want = vec![fetch_class(f)];
            want.extend(cert_parent(fetch_class(f)));
            want.sort_unstable();
            assert_eq!(r.error_classes, want);
        }
        for &f in BodyFault::ALL.iter().filter(|f| !f.is_warning()) {
            let mut d = d0.clone();
            d.sts.as_mut().unwrap().body_fault = Some(f);
            let r = truth_row(&pop(), &d);
            assert_eq!((r.sts_policy, r.sts_mx_valid), ("invalid", None), "{f:?}");
            assert_eq!(r.error_classes, vec![body_class(f)]);
        }
        for &f in TlsrptFault::ALL {
            let mut d = base();
            d.tlsrpt = Some(Tlsrpt {
                fault: Some(f),
                records: vec![],
            });
            let r = truth_row(&pop(), &d);
            let want = if f == TlsrptFault::TlsrptMultiple {
                "multiple"
            } else {
                "invalid"
            };
            assert_eq!(r.tlsrpt, want, "{f:?}");
            assert_eq!(r.error_classes, vec![tlsrpt_class(f)]);
        }
    }

    #[test]
    fn dane_ta_unusable_and_partial() {
        let mut d = base();
        d.dnssec = ZoneDnssec::Secure;
        for h in &mut d.mx {
            h.zone_dnssec = ZoneDnssec::Secure;
            h.tlsa_generation = Some(1);
            h.tlsa_kind = TlsaKind::DaneTa;
        }
        let r = truth_row(&pop(), &d);
        assert_eq!(r.dane, Some("all"));
        assert!(r.planted.contains(&"dane.dane_ta".to_owned()));
        // A DANE-TA anchor survives a leaf key roll.
        d.mx[0].cert_generation = 2;
        assert_eq!(truth_row(&pop(), &d).dane, Some("all"));
        d.mx[0].dane_fault = Some(DaneFault::DaneTaMissingAnchorInChain);
        let r = truth_row(&pop(), &d);
        assert_eq!(r.dane, Some("broken"));
        assert_eq!(r.error_classes, vec!["dane_ta_missing_anchor_in_chain"]);
        d.mx[0].dane_fault = Some(DaneFault::DaneTaNameMismatch);
        let r = truth_row(&pop(), &d);
        assert_eq!(r.dane, Some("broken"));
        // The wrong name fails Web PKI too.
        assert_eq!(
            r.error_classes,
            vec!["cert_name_mismatch", "dane_ta_name_mismatch"]
        );
        d.mx[0].dane_fault = None;
        d.mx[1].fault = Some(SmtpFault::CertExpired);
        assert!(
            truth_row(&pop(), &d)
                .error_classes
                .contains(&"dane_ta_chain_invalid")
        );
        d.mx[1].fault = Some(SmtpFault::CertCnOnly);
        assert_eq!(truth_row(&pop(), &d).dane, Some("all"));
        // Unusable RRsets count neither way.
        for h in &mut d.mx {
            h.fault = None;
            h.tlsa_kind = TlsaKind::PkixEe;
        }
        let r = truth_row(&pop(), &d);
        assert_eq!(
            (r.dane, r.error_classes.clone()),
            (Some("none"), vec!["only_pkix_usages"])
        );
        for h in &mut d.mx {
            h.tlsa_kind = TlsaKind::UnassignedMatching;
        }
        let r = truth_row(&pop(), &d);
        assert_eq!(
            (r.dane, r.error_classes.clone()),
            (Some("none"), vec!["tlsa_unusable_params"])
        );
        // TLSA on the first host only: partial DANE.
        d.mx[0].tlsa_kind = TlsaKind::DaneEe;
        d.mx[0].cert_generation = 1;
        d.mx[1].tlsa_generation = None;
        let r = truth_row(&pop(), &d);
        assert_eq!(r.dane, Some("partial"));
        assert!(r.planted.contains(&"dane.partial_dane".to_owned()));
    }

    #[test]
    fn tlsrpt_rules() {
        let mut d = base();
        d.tlsrpt = Some(Tlsrpt {
            fault: Some(TlsrptFault::TlsrptMissingRua),
            records: vec![],
        });
        assert_eq!(truth_row(&pop(), &d).tlsrpt, "invalid");
        d.tlsrpt = Some(Tlsrpt {
            fault: None,
            records: vec![],
        });
        assert_eq!(truth_row(&pop(), &d).tlsrpt, "valid");
    }

    #[test]
    fn every_fault_class_is_planted_somewhere() {
        use crate::profile::{
            BodyFault, CoverageFault, DaneFault, DnssecFault, FetchFault, NameserverFault,
            SmtpFault, TlsrptFault, TxtFault,
        };
        let p = Population::new(5, 60_000, Profile::default()).unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0..p.len() {
            seen.extend(planted(&p, &p.domain(i)));
        }
        fn codes<C: FaultClass>() -> Vec<String> {
            let cat = C::CATEGORY.trim_start_matches("faults.");
            C::ALL
                .iter()
                .map(|c| format!("{cat}.{}", c.code()))
                .collect()
        }
        let mut want = Vec::new();
        want.extend(codes::<TxtFault>());
        want.extend(codes::<FetchFault>());
        want.extend(codes::<BodyFault>());
        want.extend(codes::<CoverageFault>());
        want.extend(codes::<SmtpFault>());
        want.extend(codes::<DaneFault>());
        want.extend(codes::<DnssecFault>());
        want.extend(codes::<NameserverFault>());
        want.extend(codes::<TlsrptFault>());
        want.extend(
            [
                "mx.null_mx",
                "mx.implicit_mx",
                "dnssec.island",
                "txt.no_sts_record",
                "dane.dane_ta",
                "dane.partial_dane",
                "dnssec.tlsa_in_unsigned_zone",
                "body.bad_mx_pattern.trailing_dot",
                "body.bad_mx_pattern.leading_dot",
                "body.bad_mx_pattern.partial_wildcard",
                "body.bad_mx_pattern.port",
            ]
            .map(str::to_owned),
        );
        let missing: Vec<&String> = want.iter().filter(|c| !seen.contains(*c)).collect();
        assert!(missing.is_empty(), "never planted: {missing:?}");
    }

    #[test]
    fn patterns_match_one_label() {
        assert!(pattern_matches("*.a.com", "mx1.a.com"));
        assert!(!pattern_matches("*.a.com", "a.com"));
        assert!(!pattern_matches("*.a.com", "x.mx1.a.com"));
        assert!(pattern_matches("MX1.a.com", "mx1.A.com"));
    }

    #[test]
    fn population_rows_cover_every_value_and_parquet_round_trips() {
        let p = Population::new(3, 30_000, Profile::default()).unwrap();
        let mut seen = std::collections::HashSet::new();
        for i in 0..p.len() {
            let r = truth_row(&p, &p.domain(i));
            seen.insert(("mx_status", r.mx_status));
            seen.insert(("sts_txt", r.sts_txt));
            seen.insert(("sts_policy", r.sts_policy));
            seen.insert(("dnssec", r.dnssec));
            seen.insert(("dane", r.dane.unwrap_or("null")));
            seen.insert(("starttls", r.starttls.unwrap_or("null")));
        }
        for v in ["ok", "implicit", "null_mx", "error"] {
            assert!(seen.contains(&("mx_status", v)), "{v}");
        }
        for v in ["valid", "absent", "invalid", "multiple", "error"] {
            assert!(seen.contains(&("sts_txt", v)), "{v}");
        }
        for v in ["valid", "invalid", "fetch_failed", "not_attempted"] {
            assert!(seen.contains(&("sts_policy", v)), "{v}");
        }
        for v in ["secure", "insecure", "bogus", "error"] {
            assert!(seen.contains(&("dnssec", v)), "{v}");
        }
        for v in ["all", "partial", "none", "broken", "error", "null"] {
            assert!(seen.contains(&("dane", v)), "{v}");
        }
        assert!(!seen.contains(&("dnssec", "unknown")));

        let dir = std::env::temp_dir().join(format!("simnet-truth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = Population::new(3, 1000, Profile::default()).unwrap();
        let path = dir.join("truth.parquet");
        let summary = write_parquet(&small, &path).unwrap();
        assert_eq!(summary.rows, 1000);
        assert_eq!(summary.columns["dnssec"].values().sum::<u64>(), 1000);
        let file = File::open(&path).unwrap();
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap();
        let mut rows = 0;
        for b in reader {
            let b = b.unwrap();
            assert_eq!(b.schema().field(0).name(), "domain");
            rows += b.num_rows();
        }
        assert_eq!(rows, 1000);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
