//! The population: N synthetic mail domains, each a pure function of `(seed, index,
//! profile)`.
//!
//! Nothing per domain is stored: [`Population::domain`] recomputes a [`DomainConfig`] from
//! keyed hashes (SplitMix64 of `(seed, index, field)`), so memory does not grow with N and
//! any domain can be rebuilt in microseconds by the DNS, SMTP and HTTPS servers.
//! An epoch `E > 0` ([`Population::with_epoch`]) applies a few documented changes on top
//! of that epoch-0 configuration ([`crate::epoch`]); [`Population::base_domain`] is
//! always epoch 0.
//!
//! **Names.** Domain `i` (rank `i + 1`) is named from `p = feistel(seed, i)`, a keyed
//! bijection of `[0, 2^20)`: `p` falls in one public suffix's slice of that space (slices
//! proportional to `names.tld_weights`), and its offset `j` inside the slice spells
//! `<first word><second word>[number].<suffix>` (128 × 128 word pairs, then a number).
//! [`Population::index_of`] parses a name back and inverts the bijection, so the name →
//! index map costs no memory at any N. Generated names never contain `-`; provider and
//! infrastructure zones always do, so the two never collide.
//!
//! **Providers.** `large_providers` big ones (fixed names, Zipf-like shares, valid
//! certificates, some signed with DANE) and `small_providers` small ones; each has MX
//! hosts `mx<k>.<zone>` at 127.1.0.0 + 8·p + k, a shared policy host at 127.2.0.0 + p,
//! and may sign its zone and publish TLSA.
//!
//! **Address plan** (IPv4 loopback; see also `world.rs`):
//!
//! | range | who |
//! | --- | --- |
//! | 127.0.53.1 | Unbound (validating resolver) |
//! | 127.0.53.2 | authoritative DNS engine |
//! | 127.1.0.0/16 | provider MX hosts, 8 per provider |
//! | 127.2.0.0/16 | provider shared policy hosts |
//! | 127.16.0.0/12 | first self-hosted MX (`mx1.<domain>`, or the domain for implicit MX), by index |
//! | 127.32.0.0/12 | policy hosts `mta-sts.<domain>`, by index |
//! | 127.64.0.0/12 | second self-hosted MX, by index |
//! | 127.80.0.0/12 | third self-hosted MX, by index |
//! | `::1` (AAAA) | nothing listens there: hosts planted as "connection refused" (AAAA only), or as a second, unreachable address beside a working A record |

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::profile::{
    BodyFault, CoverageFault, DaneFault, DnssecFault, FaultCategory, FaultClass, FetchFault,
    NameserverFault, Profile, SmtpFault, TlsrptFault, TxtFault,
};

/// Size of the name space, and the largest population.
pub const MAX_DOMAINS: u32 = 1 << 20;

/// The zone every name server name lives in (its A records point at the engine).
pub const NS_ZONE: &str = "simnet-dns.net";
/// A zone whose name server answers SERVFAIL: targets of `txt_dns_error` CNAMEs.
pub const OUTAGE_ZONE: &str = "dns-outage.net";

/// Suffixes always served, whatever the profile (provider and infrastructure zones).
const INFRA_SUFFIXES: [&str; 2] = ["com", "net"];

const FIRST_WORDS: [&str; 128] = [
    "amber", "apex", "arctic", "autumn", "azure", "bay", "bear", "bell", "birch", "black", "blue",
    "bold", "brave", "bright", "brook", "calm", "cedar", "clear", "cliff", "cloud", "coast",
    "cobalt", "copper", "coral", "cosmic", "crimson", "crystal", "dawn", "deep", "delta", "desert",
    "dusk", "eagle", "east", "echo", "ember", "emerald", "fair", "falcon", "fern", "field",
    "first", "flint", "forest", "fox", "free", "fresh", "frost", "gold", "grand", "granite",
    "green", "grey", "happy", "harbor", "hazel", "high", "hill", "honey", "iron", "ivory", "jade",
    "jolly", "keen", "lake", "lark", "lemon", "light", "lime", "little", "lucky", "lunar", "maple",
    "marble", "meadow", "metro", "mint", "misty", "moon", "noble", "north", "oak", "ocean",
    "olive", "onyx", "orange", "pacific", "pearl", "pine", "pink", "polar", "prime", "proud",
    "purple", "quick", "quiet", "rapid", "raven", "red", "river", "robin", "rocky", "royal",
    "ruby", "rustic", "sage", "sandy", "scarlet", "shadow", "silver", "simple", "sky", "smart",
    "snow", "solar", "south", "spring", "star", "steel", "stone", "sunny", "swift", "tidal",
    "true", "urban", "velvet", "west", "wild",
];

const SECOND_WORDS: [&str; 128] = [
    "acre",
    "anchor",
    "arrow",
    "atlas",
    "badger",
    "bakery",
    "barn",
    "beacon",
    "bistro",
    "bloom",
    "board",
    "books",
    "bridge",
    "brush",
    "builders",
    "cabin",
    "cafe",
    "camp",
    "canyon",
    "capital",
    "castle",
    "center",
    "chapel",
    "circle",
    "clinic",
    "club",
    "code",
    "college",
    "comet",
    "corner",
    "cottage",
    "craft",
    "crane",
    "creek",
    "crown",
    "data",
    "design",
    "dock",
    "dragon",
    "engine",
    "estate",
    "factory",
    "farm",
    "ferry",
    "films",
    "finance",
    "fitness",
    "flower",
    "forge",
    "fountain",
    "foundry",
    "fund",
    "games",
    "garden",
    "gate",
    "gear",
    "glass",
    "group",
    "guild",
    "haven",
    "health",
    "house",
    "hub",
    "inn",
    "insight",
    "jewel",
    "journal",
    "kitchen",
    "labs",
    "lane",
    "law",
    "ledger",
    "lodge",
    "logic",
    "loop",
    "market",
    "media",
    "mill",
    "motors",
    "museum",
    "music",
    "nest",
    "network",
    "office",
    "orchard",
    "outlet",
    "palace",
    "panda",
    "paper",
    "park",
    "partners",
    "path",
    "pixel",
    "planet",
    "point",
    "port",
    "press",
    "pulse",
    "quarry",
    "radio",
    "ranch",
    "realty",
    "records",
    "retail",
    "ridge",
    "road",
    "school",
    "shop",
    "signal",
    "society",
    "software",
    "solutions",
    "spark",
    "studio",
    "supply",
    "systems",
    "temple",
    "tower",
    "trade",
    "travel",
    "tree",
    "union",
    "valley",
    "ventures",
    "village",
    "works",
    "yard",
    "zone",
];

const PAIRS: u32 = (FIRST_WORDS.len() * SECOND_WORDS.len()) as u32;

const LARGE_PROVIDER_ZONES: [&str; 8] = [
    "post-haven.com",
    "mail-orbit.net",
    "inbox-forge.com",
    "relay-atlas.net",
    "mx-harbor.com",
    "send-grove.net",
    "mail-summit.com",
    "letter-works.net",
];

// Hash fields: one constant per independent draw.
mod field {
    pub const NS: u64 = 1;
    pub const SIGNED: u64 = 3;
    pub const ISLAND: u64 = 4;
    pub const BOGUS: u64 = 5;
    pub const MAIL: u64 = 7;
    pub const HOSTING: u64 = 8;
    pub const PROVIDER: u64 = 9;
    pub const MX_COUNT: u64 = 10;
    pub const STS: u64 = 11;
    pub const MODE: u64 = 12;
    pub const POLICY_HOSTING: u64 = 13;
    pub const TXT_FAULT: u64 = 14;
    pub const FETCH_FAULT: u64 = 16;
    pub const BODY_FAULT: u64 = 18;
    pub const COVERAGE_FAULT: u64 = 20;
    pub const PATTERN_STYLE: u64 = 22;
    pub const MAX_AGE: u64 = 23;
    pub const POLICY_ID: u64 = 24;
    pub const TLSRPT: u64 = 25;
    pub const TLSRPT_FAULT: u64 = 26;
    pub const OTHER_TXT: u64 = 28;
    pub const DANE: u64 = 29;
    pub const DANE_FAULT: u64 = 30;
    pub const TLSA_UNSIGNED: u64 = 32;
    pub const DANE_TA: u64 = 33;
    pub const PARTIAL_DANE: u64 = 34;
    pub const BAD_MX: u64 = 35;
    pub const LONG_ID: u64 = 36;
    pub const PROVIDER_SIGNED: u64 = 40;
    pub const PROVIDER_DANE: u64 = 41;
    pub const PROVIDER_FAULT: u64 = 42;
    pub const PROVIDER_MX: u64 = 44;
    /// Per-host draws: `HOST + 16 * k` and `HOST + 16 * k + 1`.
    pub const HOST: u64 = 256;
    /// Feistel rounds: `FEISTEL + round`.
    pub const FEISTEL: u64 = 1024;
}

/// Providers are hashed in their own key space, apart from domain indexes.
const PROVIDER_KEY: u64 = 1 << 40;

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The keyed hash of `(seed, item, field)`: independent 64-bit draws per field.
pub fn draw(seed: u64, item: u64, field: u64) -> u64 {
    splitmix(splitmix(splitmix(seed) ^ item) ^ field.wrapping_mul(0xd6e8_feb8_6659_fd93))
}

/// A draw mapped to `[0, 1)`.
pub fn unit(seed: u64, item: u64, field: u64) -> f64 {
    (draw(seed, item, field) >> 11) as f64 / (1u64 << 53) as f64
}

fn pick_weighted(weights: &[f64], u: f64) -> usize {
    let total: f64 = weights.iter().filter(|w| **w > 0.0).sum();
    if total <= 0.0 {
        return 0;
    }
    let mut target = u * total;
    let mut last = 0;
    for (i, &w) in weights.iter().enumerate() {
        if w <= 0.0 {
            continue;
        }
        last = i;
        if target < w {
            return i;
        }
        target -= w;
    }
    last
}

/// DNSSEC state of a zone as planted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ZoneDnssec {
    /// No DNSKEY; the parent proves there is no DS.
    Unsigned,
    /// Signed, but no DS in the parent: validates insecure.
    Island,
    /// Signed with a matching DS: secure.
    Secure,
    /// Signed and broken in the planted way: bogus.
    Bogus(DnssecFault),
}

impl ZoneDnssec {
    /// Whether the zone carries DNSKEY and RRSIGs.
    pub fn is_signed(self) -> bool {
        !matches!(self, ZoneDnssec::Unsigned)
    }
}

/// How a domain receives mail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailKind {
    /// `MX 0 .` (RFC 7505).
    NullMx,
    /// No MX RRset; the domain's own address is the mail host (RFC 5321 §5.1).
    Implicit,
    /// MX hosts in the domain's own zone (`mx1.<domain>`, ...).
    SelfHosted,
    /// MX hosts of provider `p`.
    Provider(u16),
}

/// Where an MX host (or policy host) can be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reach {
    /// An A record with this address, where the servers listen.
    V4(Ipv4Addr),
    /// Only AAAA `::1`, where nothing listens: connection refused.
    RefusedV6,
    /// An A record with this address, where the servers listen, and AAAA `::1`, where
    /// nothing listens: one address works, the other refuses.
    DualStack(Ipv4Addr),
}

impl Reach {
    /// The IPv4 address where the servers listen, if the host has one.
    pub fn v4(self) -> Option<Ipv4Addr> {
        match self {
            Reach::V4(a) | Reach::DualStack(a) => Some(a),
            Reach::RefusedV6 => None,
        }
    }
}

/// What the TLSA RRset at `_25._tcp.<host>` holds, when one is published.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TlsaKind {
    /// `3 1 1`: SHA-256 of the SPKI of the published generation (DANE-EE).
    #[default]
    DaneEe,
    /// `2 0 1`: SHA-256 of the simnet root certificate (DANE-TA); the host sends the root
    /// in its chain unless planted with `dane_ta_missing_anchor_in_chain`.
    DaneTa,
    /// `1 1 1` of the same SPKI: PKIX-EE, not usable for SMTP (RFC 7672 §3.1.3).
    PkixEe,
    /// `3 1 3`: an unassigned matching type, not usable (RFC 6698 §4.1).
    UnassignedMatching,
}

/// The malformed `mx` pattern planted with `bad_mx_pattern` (RFC 8461 §3.2: `["*."]
/// Domain`, LDH labels as in RFC 5321 §4.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BadMxKind {
    /// `mx1.example.com.`: a trailing dot.
    TrailingDot,
    /// `.example.com`: an empty first label.
    LeadingDot,
    /// `mx*.example.com`: a partial-label wildcard.
    PartialWildcard,
    /// `mx1.example.com:25`: a port.
    Port,
}

impl BadMxKind {
    /// Every subtype.
    pub const ALL: [BadMxKind; 4] = [
        BadMxKind::TrailingDot,
        BadMxKind::LeadingDot,
        BadMxKind::PartialWildcard,
        BadMxKind::Port,
    ];

    /// The subtype's name.
    pub fn code(self) -> &'static str {
        match self {
            BadMxKind::TrailingDot => "trailing_dot",
            BadMxKind::LeadingDot => "leading_dot",
            BadMxKind::PartialWildcard => "partial_wildcard",
            BadMxKind::Port => "port",
        }
    }

    /// `pattern` spoiled in this way.
    pub fn apply(self, pattern: &str) -> String {
        let rest = pattern.split_once('.').map_or("", |(_, rest)| rest);
        match self {
            BadMxKind::TrailingDot => format!("{pattern}."),
            BadMxKind::LeadingDot => format!(".{rest}"),
            BadMxKind::PartialWildcard => format!("mx*.{rest}"),
            BadMxKind::Port => format!("{pattern}:25"),
        }
    }
}

/// The zone an MX host's name lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HostZone {
    /// The domain's own zone.
    Domain,
    /// Provider `p`'s zone.
    Provider(u16),
}

/// One MX host of a domain, with everything that decides how it behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxHost {
    /// The MX target (lower case, no trailing dot).
    pub name: String,
    /// MX preference.
    pub preference: u16,
    /// Its address.
    pub reach: Reach,
    /// The zone holding its address and TLSA records.
    pub zone: HostZone,
    /// DNSSEC state of that zone.
    pub zone_dnssec: ZoneDnssec,
    /// The planted SMTP fault, if any.
    pub fault: Option<SmtpFault>,
    /// Generation of the certificate key it serves (1, or 2 after a roll).
    pub cert_generation: u32,
    /// Generation whose TLSA is published at `_25._tcp.<name>`, if any.
    pub tlsa_generation: Option<u32>,
    /// What that TLSA RRset holds (meaningful when `tlsa_generation` is set).
    pub tlsa_kind: TlsaKind,
    /// The planted DANE fault of this host, if any.
    pub dane_fault: Option<DaneFault>,
}

impl MxHost {
    /// The certificate kind it serves.
    pub fn cert_kind(&self) -> crate::pki::CertKind {
        use crate::pki::CertKind;
        match self.fault {
            Some(SmtpFault::CertExpired) => CertKind::Expired,
            Some(SmtpFault::CertSelfSigned) => CertKind::SelfSigned,
            Some(SmtpFault::CertNameMismatch) => CertKind::WrongName,
            Some(SmtpFault::CertNotYetValid) => CertKind::NotYetValid,
            Some(SmtpFault::CertCnOnly) => CertKind::CnOnly,
            Some(SmtpFault::CertPartialWildcardOnly) => CertKind::PartialWildcard,
            _ if self.dane_fault == Some(DaneFault::DaneTaNameMismatch) => CertKind::WrongName,
            _ => CertKind::Valid,
        }
    }

    /// Whether the host publishes DANE-TA and sends the anchor (the root) in its chain.
    pub fn sends_dane_ta_anchor(&self) -> bool {
        self.tlsa_generation.is_some()
            && self.tlsa_kind == TlsaKind::DaneTa
            && self.dane_fault != Some(DaneFault::DaneTaMissingAnchorInChain)
    }

    /// The certificate it serves.
    pub fn cert_spec(&self) -> crate::pki::CertSpec {
        let spec = crate::pki::CertSpec::of_kind(self.name.clone(), self.cert_kind())
            .with_generation(self.cert_generation);
        if self.sends_dane_ta_anchor() {
            spec.with_chain(crate::pki::ChainShape::WithRoot)
        } else {
            spec
        }
    }

    /// The certificate whose SPKI the published TLSA names (`None` without TLSA).
    pub fn tlsa_cert_spec(&self) -> Option<crate::pki::CertSpec> {
        self.tlsa_generation
            .map(|g| crate::pki::CertSpec::valid(self.name.clone()).with_generation(g))
    }
}

/// The policy mode a domain intends to publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyMode {
    /// `enforce`.
    Enforce,
    /// `testing`.
    Testing,
    /// `none`.
    None,
}

impl PolicyMode {
    /// The policy-file value.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Enforce => "enforce",
            PolicyMode::Testing => "testing",
            PolicyMode::None => "none",
        }
    }
}

/// What the `_mta-sts` name holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StsTxt {
    /// These TXT records (one string each).
    Records(Vec<String>),
    /// A CNAME into [`OUTAGE_ZONE`], whose server answers SERVFAIL.
    DnsError,
}

/// Who serves `mta-sts.<domain>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyHosting {
    /// The domain's own host at 127.32.0.0/12 (or as the fetch fault says).
    SelfHosted,
    /// `mta-sts.<domain>` is a CNAME to provider `p`'s shared policy host.
    Provider(u16),
}

/// How the policy host answers `GET /.well-known/mta-sts.txt`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HttpBehavior {
    /// 200, `text/plain`, the body.
    Ok,
    /// Another status code (500).
    Status(u16),
    /// 200 without a Content-Type header.
    NoContentType,
    /// The TLS handshake fails with a fatal alert.
    HandshakeFailure,
    /// The connection is reset right after the TLS handshake.
    ResetAfterHandshake,
    /// 301 to this location.
    Redirect(String),
    /// 404.
    NotFound,
    /// 200 with this content type.
    ContentType(&'static str),
    /// Waits this many milliseconds before answering.
    Slow(u64),
}

/// A domain's MTA-STS deployment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sts {
    /// The intended mode.
    pub mode: PolicyMode,
    /// The policy id in the TXT record.
    pub id: String,
    /// The `_mta-sts` records.
    pub txt: StsTxt,
    /// Planted TXT fault.
    pub txt_fault: Option<TxtFault>,
    /// Who hosts the policy.
    pub hosting: PolicyHosting,
    /// Planted fetch fault.
    pub fetch_fault: Option<FetchFault>,
    /// Planted body fault.
    pub body_fault: Option<BodyFault>,
    /// Planted coverage gap (as realised: `some` needs at least two MX hosts).
    pub coverage_fault: Option<CoverageFault>,
    /// The subtype of a planted `bad_mx_pattern` (applied to the first pattern).
    pub bad_mx: Option<BadMxKind>,
    /// The `mx` patterns of the body.
    pub patterns: Vec<String>,
    /// The `max_age` of the body.
    pub max_age: u64,
    /// The body served.
    pub body: String,
}

impl Sts {
    /// How the policy host resolves (`None`: no address at all).
    pub fn policy_reach(&self, index: u32) -> Option<Reach> {
        match self.fetch_fault {
            Some(
                FetchFault::PolicyHostNxdomain
                | FetchFault::PolicyHostNoAddress
                | FetchFault::PolicyHostDnsError,
            ) => None,
            Some(FetchFault::ConnectRefused) => Some(Reach::RefusedV6),
            _ => Some(Reach::V4(match self.hosting {
                PolicyHosting::SelfHosted => policy_addr(index),
                PolicyHosting::Provider(p) => provider_policy_addr(p),
            })),
        }
    }

    /// The certificate kind of the policy host.
    pub fn policy_cert_kind(&self) -> crate::pki::CertKind {
        use crate::pki::CertKind;
        match self.fetch_fault {
            Some(FetchFault::CertExpired) => CertKind::Expired,
            Some(FetchFault::CertNameMismatch) => CertKind::WrongName,
            Some(FetchFault::CertUntrusted) => CertKind::UntrustedIssuer,
            Some(FetchFault::CertNotYetValid) => CertKind::NotYetValid,
            Some(FetchFault::CertCnOnly) => CertKind::CnOnly,
            Some(FetchFault::CertPartialWildcardOnly) => CertKind::PartialWildcard,
            _ => CertKind::Valid,
        }
    }

    /// The body bytes served: [`Sts::body`], plus a Latin-1 line for `body_not_utf8`.
    pub fn served_body(&self) -> Vec<u8> {
        let mut body = self.body.clone().into_bytes();
        if self.fetch_fault == Some(FetchFault::BodyNotUtf8) {
            // "Müller" written in ISO-8859-1: 0xFC is never valid UTF-8.
            body.extend_from_slice(b"x-owner: M\xfcller GmbH\r\n");
        }
        body
    }

    /// The HTTP behaviour of the policy host.
    pub fn http(&self, domain: &str, slow_ms: u64) -> HttpBehavior {
        match self.fetch_fault {
            Some(FetchFault::HttpRedirect) => {
                HttpBehavior::Redirect(format!("https://www.{domain}/.well-known/mta-sts.txt"))
            }
            Some(FetchFault::Http404) => HttpBehavior::NotFound,
            Some(FetchFault::ContentTypeNotTextPlain) => HttpBehavior::ContentType("text/html"),
            Some(FetchFault::FetchTimeout) => HttpBehavior::Slow(slow_ms),
            Some(FetchFault::HttpStatusOther) => HttpBehavior::Status(500),
            Some(FetchFault::ContentTypeMissing) => HttpBehavior::NoContentType,
            Some(FetchFault::TlsHandshakeFailed) => HttpBehavior::HandshakeFailure,
            Some(FetchFault::ConnectionReset) => HttpBehavior::ResetAfterHandshake,
            _ => HttpBehavior::Ok,
        }
    }
}

/// A domain's TLS-RPT record(s) at `_smtp._tls`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tlsrpt {
    /// Planted fault.
    pub fault: Option<TlsrptFault>,
    /// The TXT records.
    pub records: Vec<String>,
}

/// Everything about one domain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainConfig {
    /// Index in the population (rank − 1).
    pub index: u32,
    /// Input rank.
    pub rank: u32,
    /// The domain name (lower case, no trailing dot).
    pub name: String,
    /// Its public suffix (`com`, `co.uk`, ...).
    pub suffix: String,
    /// DNSSEC state of the domain's zone.
    pub dnssec: ZoneDnssec,
    /// Planted name server fault of the domain's zone.
    pub nameserver: Option<NameserverFault>,
    /// How it receives mail.
    pub mail: MailKind,
    /// Its MX hosts in preference order (empty for null MX; the domain itself for
    /// implicit MX).
    pub mx: Vec<MxHost>,
    /// Its MTA-STS deployment.
    pub sts: Option<Sts>,
    /// Other (non-STS) TXT records at `_mta-sts` when it has no MTA-STS.
    pub other_txt: Option<String>,
    /// Its TLS-RPT deployment.
    pub tlsrpt: Option<Tlsrpt>,
}

/// A mail provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provider {
    /// Provider number (large ones first).
    pub id: u16,
    /// Whether it is one of the large providers.
    pub large: bool,
    /// Its zone (`post-haven.com`).
    pub zone: String,
    /// Its MX hosts (certificates, TLSA, faults shared by all its customers).
    pub mx: Vec<MxHost>,
    /// DNSSEC state of its zone.
    pub dnssec: ZoneDnssec,
}

impl Provider {
    /// `mta-sts.<zone>`: the shared policy host customers CNAME to.
    pub fn policy_host(&self) -> String {
        format!("mta-sts.{}", self.zone)
    }
}

/// One public suffix's slice of the name space.
#[derive(Clone, Debug)]
struct SuffixRange {
    suffix: String,
    start: u32,
    len: u32,
}

/// The address of provider `p`'s `k`-th MX host.
pub fn provider_mx_addr(p: u16, k: u8) -> Ipv4Addr {
    Ipv4Addr::from(0x7f01_0000u32 + u32::from(p) * 8 + u32::from(k & 7))
}

/// The address of provider `p`'s shared policy host.
pub fn provider_policy_addr(p: u16) -> Ipv4Addr {
    Ipv4Addr::from(0x7f02_0000u32 + u32::from(p))
}

const SELF_MX_BASES: [u32; 3] = [0x7f10_0000, 0x7f40_0000, 0x7f50_0000];
const POLICY_BASE: u32 = 0x7f20_0000;

/// The address of the `k`-th (0-based, k < 3) self-hosted MX of domain `index`.
pub fn self_mx_addr(index: u32, k: usize) -> Ipv4Addr {
    let base = SELF_MX_BASES.get(k).copied().unwrap_or(SELF_MX_BASES[0]);
    Ipv4Addr::from(base + (index & (MAX_DOMAINS - 1)))
}

/// The address of domain `index`'s own policy host.
pub fn policy_addr(index: u32) -> Ipv4Addr {
    Ipv4Addr::from(POLICY_BASE + (index & (MAX_DOMAINS - 1)))
}

/// Whether a partial-label wildcard certificate (`m*.<rest>` for host `mx1.<rest>`) may
/// be planted on `host`, an MX or policy host of `domain`: only when `host` lies strictly
/// below `domain`, so that `<rest>` is the registrable domain or a name below it and keeps
/// at least two labels. For an implicit MX (`host == domain`) `<rest>` would be the public
/// suffix itself (`a*.com`, `a*.co.uk`): RFC 6125 §7.2 and RFC 9525 §6.3 make a wildcard
/// over a public suffix meaningless, clients refuse it outright, and what they would see is
/// a plain name mismatch, not a partial wildcard. So no such certificate is planted there.
pub fn partial_wildcard_plantable(host: &str, domain: &str) -> bool {
    host.strip_suffix(domain)
        .and_then(|head| head.strip_suffix('.'))
        .is_some_and(|label| !label.is_empty())
        && domain.contains('.')
}

/// Who an address belongs to in the address plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddrOwner {
    /// Provider `p`'s MX host `k`.
    ProviderMx(u16, u8),
    /// Provider `p`'s shared policy host.
    ProviderPolicy(u16),
    /// Domain `index`'s `k`-th self-hosted MX (or its implicit MX for k = 0).
    SelfMx(u32, u8),
    /// Domain `index`'s policy host.
    Policy(u32),
}

/// Reads the address plan backwards (no check that the owner exists).
pub fn addr_owner(addr: Ipv4Addr) -> Option<AddrOwner> {
    let a = u32::from(addr);
    let off = a & (MAX_DOMAINS - 1);
    match a >> 16 {
        0x7f01 => {
            let rel = a - 0x7f01_0000;
            Some(AddrOwner::ProviderMx((rel / 8) as u16, (rel % 8) as u8))
        }
        0x7f02 => Some(AddrOwner::ProviderPolicy((a - 0x7f02_0000) as u16)),
        _ => match a & !(MAX_DOMAINS - 1) {
            0x7f10_0000 => Some(AddrOwner::SelfMx(off, 0)),
            0x7f20_0000 => Some(AddrOwner::Policy(off)),
            0x7f40_0000 => Some(AddrOwner::SelfMx(off, 1)),
            0x7f50_0000 => Some(AddrOwner::SelfMx(off, 2)),
            _ => None,
        },
    }
}

/// The population: seed, size, profile, providers and the name codec.
#[derive(Clone, Debug)]
pub struct Population {
    seed: u64,
    n: u32,
    /// The epoch: 0 is the base world; see [`crate::epoch`].
    epoch: u32,
    profile: Arc<Profile>,
    suffixes: Vec<SuffixRange>,
    providers: Vec<Provider>,
    first_words: HashMap<&'static str, u32>,
    second_words: HashMap<&'static str, u32>,
}

/// Why a population cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PopulationError {
    /// More domains than the name space and address plan hold.
    #[error("{0} domains requested; at most {MAX_DOMAINS}")]
    TooMany(u64),
}

impl Population {
    /// The population of `n` domains under `seed` and `profile` (already validated).
    pub fn new(seed: u64, n: u32, profile: Profile) -> Result<Self, PopulationError> {
        if n > MAX_DOMAINS {
            return Err(PopulationError::TooMany(u64::from(n)));
        }
        let suffixes = suffix_ranges(&profile);
        let mut pop = Population {
            seed,
            n,
            epoch: 0,
            profile: Arc::new(profile),
            suffixes,
            providers: Vec::new(),
            first_words: FIRST_WORDS
                .iter()
                .enumerate()
                .map(|(i, w)| (*w, i as u32))
                .collect(),
            second_words: SECOND_WORDS
                .iter()
                .enumerate()
                .map(|(i, w)| (*w, i as u32))
                .collect(),
        };
        pop.providers = pop.build_providers();
        Ok(pop)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The same population at `epoch` (0: the base world; see [`crate::epoch`]).
    pub fn with_epoch(mut self, epoch: u32) -> Self {
        self.epoch = epoch;
        self
    }

    /// The epoch.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Domain `index`'s configuration at this population's epoch, with the changes the
    /// epoch applied to its epoch-0 configuration (none at epoch 0).
    pub fn domain_and_changes(&self, index: u32) -> (DomainConfig, Vec<crate::epoch::EpochChange>) {
        let base = self.base_domain(index);
        if self.epoch == 0 {
            return (base, Vec::new());
        }
        crate::epoch::apply(self, base)
    }

    /// Domain `index`'s whole configuration at this population's epoch (any index below
    /// [`MAX_DOMAINS`]; the world only serves those below [`Self::len`]).
    pub fn domain(&self, index: u32) -> DomainConfig {
        self.domain_and_changes(index).0
    }

    /// Number of domains.
    pub fn len(&self) -> u32 {
        self.n
    }

    /// Whether the population is empty.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Every provider (large ones first).
    pub fn providers(&self) -> &[Provider] {
        &self.providers
    }

    /// Provider `p`.
    pub fn provider(&self, p: u16) -> Option<&Provider> {
        self.providers.get(usize::from(p))
    }

    /// The provider whose zone is `zone`.
    pub fn provider_by_zone(&self, zone: &str) -> Option<&Provider> {
        let id = if let Some(i) = LARGE_PROVIDER_ZONES.iter().position(|z| *z == zone) {
            i
        } else if let Some(rest) = zone.strip_prefix("mailhost-") {
            let num = rest.strip_suffix(".net")?;
            if num.starts_with('0') && num.len() > 1 {
                return None;
            }
            num.parse::<usize>().ok()?
        } else if let Some(rest) = zone.strip_prefix("large-mail-") {
            let num = rest.strip_suffix(".com")?;
            if num.starts_with('0') && num.len() > 1 {
                return None;
            }
            num.parse::<usize>().ok()?
        } else {
            return None;
        };
        self.providers.get(id).filter(|p| p.zone == zone)
    }

    /// Every public suffix served (the profile's, their parents, and `com`/`net`),
    /// sorted and deduplicated.
    pub fn served_suffixes(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let names = self
            .suffixes
            .iter()
            .map(|r| r.suffix.as_str())
            .chain(INFRA_SUFFIXES);
        for s in names {
            let mut cur = s;
            loop {
                out.push(cur.to_owned());
                match cur.split_once('.') {
                    Some((_, parent)) => cur = parent,
                    None => break,
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The name of domain `index` (any index below [`MAX_DOMAINS`]).
    pub fn name(&self, index: u32) -> String {
        let p = feistel(self.seed, index & (MAX_DOMAINS - 1));
        // Ranges cover [0, MAX_DOMAINS) exactly, so a range is always found.
        let range = self
            .suffixes
            .iter()
            .find(|r| p >= r.start && p - r.start < r.len)
            .unwrap_or(&self.suffixes[0]);
        let j = p - range.start;
        let pair = j % PAIRS;
        let number = j / PAIRS;
        let first = FIRST_WORDS[(pair / SECOND_WORDS.len() as u32) as usize];
        let second = SECOND_WORDS[(pair % SECOND_WORDS.len() as u32) as usize];
        if number == 0 {
            format!("{first}{second}.{}", range.suffix)
        } else {
            format!("{first}{second}{number}.{}", range.suffix)
        }
    }

    /// The index of the domain named `name` (lower case, trailing dot allowed), if it is in
    /// the population.
    pub fn index_of(&self, name: &str) -> Option<u32> {
        let name = name.strip_suffix('.').unwrap_or(name);
        let (label, suffix) = name.split_once('.')?;
        let range = self.suffixes.iter().find(|r| r.suffix == suffix)?;
        let letters_end = label
            .bytes()
            .position(|b| b.is_ascii_digit())
            .unwrap_or(label.len());
        let (letters, digits) = label.split_at(letters_end);
        let number = if digits.is_empty() {
            0
        } else {
            if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            digits.parse::<u32>().ok().filter(|&k| k > 0)?
        };
        let pair = (1..letters.len()).find_map(|cut| {
            let (a, b) = letters.split_at(cut);
            let a = self.first_words.get(a)?;
            let b = self.second_words.get(b)?;
            Some(a * SECOND_WORDS.len() as u32 + b)
        })?;
        let j = u64::from(number) * u64::from(PAIRS) + u64::from(pair);
        if j >= u64::from(range.len) {
            return None;
        }
        let p = range.start + j as u32;
        let index = feistel_inverse(self.seed, p);
        (index < self.n).then_some(index)
    }

    fn u(&self, index: u32, field: u64) -> f64 {
        unit(self.seed, u64::from(index), field)
    }

    fn pick<C: FaultClass>(&self, cat: &FaultCategory<C>, item: u64, field: u64) -> Option<C> {
        cat.pick(
            unit(self.seed, item, field),
            unit(self.seed, item, field + 1),
        )
    }

    fn build_providers(&self) -> Vec<Provider> {
        let mx = &self.profile.mx;
        let pp = &self.profile.providers;
        let total = mx.large_providers + mx.small_providers;
        (0..total)
            .map(|id| {
                let id = id as u16;
                let large = u32::from(id) < mx.large_providers;
                let key = PROVIDER_KEY | u64::from(id);
                let zone = if large {
                    LARGE_PROVIDER_ZONES
                        .get(usize::from(id))
                        .map(|z| (*z).to_owned())
                        .unwrap_or_else(|| format!("large-mail-{id}.com"))
                } else {
                    format!("mailhost-{id}.net")
                };
                let signed_share = if large {
                    pp.large_signed_share
                } else {
                    pp.small_signed_share
                };
                let signed = unit(self.seed, key, field::PROVIDER_SIGNED) < signed_share;
                let dnssec = if signed {
                    ZoneDnssec::Secure
                } else {
                    ZoneDnssec::Unsigned
                };
                let dane =
                    signed && unit(self.seed, key, field::PROVIDER_DANE) < pp.dane_of_signed_share;
                let fault = if !large
                    && unit(self.seed, key, field::PROVIDER_FAULT) < pp.small_fault_share
                {
                    let f = &self.profile.faults.smtp;
                    // The provider fault fires by `small_fault_share`; the class by weights.
                    f.pick(0.0, unit(self.seed, key, field::PROVIDER_FAULT + 1))
                        .filter(|_| f.share > 0.0)
                } else {
                    None
                };
                let hosts = if large {
                    2 + (draw(self.seed, key, field::PROVIDER_MX) % 3) as u8
                } else {
                    1 + (draw(self.seed, key, field::PROVIDER_MX) % 2) as u8
                };
                let mx = (0..hosts)
                    .map(|k| {
                        let reach = match fault {
                            Some(SmtpFault::ConnectRefused) => Reach::RefusedV6,
                            Some(SmtpFault::SecondAddressRefused) => {
                                Reach::DualStack(provider_mx_addr(id, k))
                            }
                            _ => Reach::V4(provider_mx_addr(id, k)),
                        };
                        MxHost {
                            name: format!("mx{}.{zone}", k + 1),
                            preference: 10 * (u16::from(k) + 1),
                            reach,
                            zone: HostZone::Provider(id),
                            zone_dnssec: dnssec,
                            fault,
                            cert_generation: 1,
                            tlsa_generation: dane.then_some(1),
                            tlsa_kind: TlsaKind::DaneEe,
                            dane_fault: None,
                        }
                    })
                    .collect();
                Provider {
                    id,
                    large,
                    zone,
                    mx,
                    dnssec,
                }
            })
            .collect()
    }

    /// The planted name server fault of domain `index`'s zone (cheap: one draw).
    pub fn nameserver_fault(&self, index: u32) -> Option<NameserverFault> {
        self.pick(&self.profile.faults.nameserver, u64::from(index), field::NS)
    }

    /// Names of the zones whose name server fails (lame, timeout, SERVFAIL), including
    /// [`OUTAGE_ZONE`]: a resolver should give each its own delegation point, so that the
    /// failure is not charged to the one server behind every zone.
    pub fn failing_zones(&self) -> Vec<String> {
        let mut out = vec![OUTAGE_ZONE.to_owned()];
        for i in 0..self.n {
            if matches!(
                self.nameserver_fault(i),
                Some(NameserverFault::Lame | NameserverFault::Timeout | NameserverFault::Servfail)
            ) {
                out.push(self.name(i));
            }
        }
        out
    }

    /// Domain `index`'s configuration at epoch 0, whatever this population's epoch.
    pub fn base_domain(&self, index: u32) -> DomainConfig {
        let profile = &*self.profile;
        let item = u64::from(index);
        let name = self.name(index);
        let suffix = name
            .split_once('.')
            .map(|(_, s)| s.to_owned())
            .unwrap_or_default();
        let rank = index + 1;

        let nameserver = self.nameserver_fault(index);
        let dnssec = if self.u(index, field::SIGNED) < profile.dnssec.signed_share {
            if self.u(index, field::ISLAND) < profile.dnssec.island_share {
                ZoneDnssec::Island
            } else {
                match self.pick(&profile.faults.dnssec, item, field::BOGUS) {
                    Some(f) => ZoneDnssec::Bogus(f),
                    None => ZoneDnssec::Secure,
                }
            }
        } else {
            ZoneDnssec::Unsigned
        };

        let mx_p = &profile.mx;
        let u_mail = self.u(index, field::MAIL);
        let mail = if u_mail < mx_p.null_mx_share {
            MailKind::NullMx
        } else if u_mail < mx_p.null_mx_share + mx_p.implicit_mx_share {
            MailKind::Implicit
        } else {
            let u_host = self.u(index, field::HOSTING);
            let u_prov = self.u(index, field::PROVIDER);
            if u_host < mx_p.large_provider_share {
                MailKind::Provider(pick_weighted(&mx_p.large_provider_weights, u_prov) as u16)
            } else if u_host < mx_p.large_provider_share + mx_p.small_provider_share {
                let small = (u_prov * f64::from(mx_p.small_providers)) as u32;
                let small = small.min(mx_p.small_providers.saturating_sub(1));
                MailKind::Provider((mx_p.large_providers + small) as u16)
            } else {
                MailKind::SelfHosted
            }
        };

        // A `missing_rrsig` zone still proves denial securely (the engine signs SOA and
        // NSEC), so an implicit-MX domain there would validate its NODATA MX answer but
        // not its address: keep that muddle out and plant `bad_rrsig` instead.
        let dnssec = match (dnssec, mail) {
            (ZoneDnssec::Bogus(DnssecFault::MissingRrsig), MailKind::Implicit) => {
                ZoneDnssec::Bogus(DnssecFault::BadRrsig)
            }
            _ => dnssec,
        };
        let mx = self.mx_hosts(index, &name, mail, dnssec);

        let sts =
            if mail != MailKind::NullMx && self.u(index, field::STS) < profile.sts_share_at(rank) {
                Some(self.sts(index, &name, mail, &mx))
            } else {
                None
            };
        let other_txt = (sts.is_none()
            && self.u(index, field::OTHER_TXT) < profile.mta_sts.other_txt_share)
            .then(|| "v=spf1 -all".to_owned());

        let tlsrpt_share = if sts.is_some() {
            profile.tlsrpt.with_sts_share
        } else {
            profile.tlsrpt.without_sts_share
        };
        let tlsrpt = (mail != MailKind::NullMx && self.u(index, field::TLSRPT) < tlsrpt_share)
            .then(|| {
                let fault = self.pick(&profile.faults.tlsrpt, item, field::TLSRPT_FAULT);
                let rua = match mail {
                    MailKind::Provider(p) => self
                        .provider(p)
                        .map(|pr| format!("mailto:tls-reports@{}", pr.zone))
                        .unwrap_or_else(|| format!("mailto:tlsrpt@{name}")),
                    _ => format!("mailto:tlsrpt@{name}"),
                };
                let records = match fault {
                    None => vec![format!("v=TLSRPTv1; rua={rua}")],
                    Some(TlsrptFault::TlsrptMultiple) => vec![
                        format!("v=TLSRPTv1; rua={rua}"),
                        format!("v=TLSRPTv1; rua=mailto:postmaster@{name}"),
                    ],
                    Some(TlsrptFault::TlsrptMissingRua) => {
                        vec![format!("v=TLSRPTv1; ruf={rua}")]
                    }
                    Some(TlsrptFault::TlsrptBadVersion) => vec![format!("v=tlsrptv1; rua={rua}")],
                    Some(TlsrptFault::TlsrptBadUri) => {
                        let address = rua.trim_start_matches("mailto:");
                        vec![format!("v=TLSRPTv1; rua={address}")]
                    }
                    Some(TlsrptFault::TlsrptUnsupportedScheme) => {
                        vec![format!("v=TLSRPTv1; rua=http://tlsrpt.{name}/report")]
                    }
                    Some(TlsrptFault::TlsrptUnencodedComma) => {
                        vec![format!("v=TLSRPTv1; rua={rua},postmaster@{name}")]
                    }
                    Some(TlsrptFault::TlsrptEmptyRua) => vec!["v=TLSRPTv1; rua=".to_owned()],
                };
                Tlsrpt { fault, records }
            });

        DomainConfig {
            index,
            rank,
            name,
            suffix,
            dnssec,
            nameserver,
            mail,
            mx,
            sts,
            other_txt,
            tlsrpt,
        }
    }

    fn mx_hosts(&self, index: u32, name: &str, mail: MailKind, dnssec: ZoneDnssec) -> Vec<MxHost> {
        let profile = &*self.profile;
        let item = u64::from(index);
        let own_host = |k: usize, host: String| {
            let f = field::HOST + 16 * k as u64;
            let fault = match self.pick(&profile.faults.smtp, item, f) {
                // `a*.com` for an implicit MX is no partial wildcard but a wildcard over a
                // public suffix: plant nothing rather than a class no client can see.
                Some(SmtpFault::CertPartialWildcardOnly)
                    if !partial_wildcard_plantable(&host, name) =>
                {
                    None
                }
                other => other,
            };
            let reach = match fault {
                Some(SmtpFault::ConnectRefused) => Reach::RefusedV6,
                Some(SmtpFault::SecondAddressRefused) => Reach::DualStack(self_mx_addr(index, k)),
                _ => Reach::V4(self_mx_addr(index, k)),
            };
            MxHost {
                name: host,
                preference: 10 * (k as u16 + 1),
                reach,
                zone: HostZone::Domain,
                zone_dnssec: dnssec,
                fault,
                cert_generation: 1,
                tlsa_generation: None,
                tlsa_kind: TlsaKind::DaneEe,
                dane_fault: None,
            }
        };
        let mut hosts = match mail {
            MailKind::NullMx => return Vec::new(),
            MailKind::Provider(p) => {
                return self.provider(p).map(|pr| pr.mx.clone()).unwrap_or_default();
            }
            MailKind::Implicit => vec![own_host(0, name.to_owned())],
            MailKind::SelfHosted => {
                let count = 1 + pick_weighted(
                    &profile.mx.self_hosted_mx_weights,
                    self.u(index, field::MX_COUNT),
                );
                (0..count)
                    .map(|k| own_host(k, format!("mx{}.{name}", k + 1)))
                    .collect::<Vec<_>>()
            }
        };
        // DANE for hosts in the domain's own zone.
        let tlsa = match dnssec {
            ZoneDnssec::Secure | ZoneDnssec::Bogus(_) => {
                self.u(index, field::DANE) < profile.dnssec.dane_of_signed_share
            }
            ZoneDnssec::Unsigned | ZoneDnssec::Island => {
                self.u(index, field::TLSA_UNSIGNED) < profile.dnssec.tlsa_in_unsigned_share
            }
        };
        if tlsa {
            let secure = dnssec == ZoneDnssec::Secure;
            let fault = if secure {
                self.pick(&profile.faults.dane, item, field::DANE_FAULT)
            } else {
                None
            };
            // DANE-TA only where every host serves a plain valid certificate, so that a
            // DANE-TA verdict never hinges on readings of CN-only or partial wildcards.
            let plain = hosts
                .iter()
                .all(|h| h.cert_kind() == crate::pki::CertKind::Valid);
            let ta =
                secure && plain && self.u(index, field::DANE_TA) < profile.dnssec.dane_ta_share;
            let (kind, fault) = match fault {
                Some(DaneFault::DaneTaMissingAnchorInChain | DaneFault::DaneTaNameMismatch)
                    if !plain =>
                {
                    (TlsaKind::DaneEe, None)
                }
                Some(
                    f @ (DaneFault::DaneTaMissingAnchorInChain | DaneFault::DaneTaNameMismatch),
                ) => (TlsaKind::DaneTa, Some(f)),
                Some(f @ DaneFault::TlsaMismatchAfterRoll) => (TlsaKind::DaneEe, Some(f)),
                Some(f @ DaneFault::OnlyPkixUsages) => (TlsaKind::PkixEe, Some(f)),
                Some(f @ DaneFault::TlsaUnusableParams) => (TlsaKind::UnassignedMatching, Some(f)),
                None if ta => (TlsaKind::DaneTa, None),
                None => (TlsaKind::DaneEe, None),
            };
            let partial = secure
                && hosts.len() >= 2
                && self.u(index, field::PARTIAL_DANE) < profile.dnssec.partial_dane_share;
            for (k, h) in hosts.iter_mut().enumerate() {
                if partial && k > 0 {
                    continue;
                }
                h.tlsa_generation = Some(1);
                h.tlsa_kind = kind;
                // Unusable records are the whole RRset's fault; a roll or a DANE-TA fault
                // hits the first host only: the others still match.
                match fault {
                    Some(DaneFault::OnlyPkixUsages | DaneFault::TlsaUnusableParams) => {
                        h.dane_fault = fault;
                    }
                    Some(f) if k == 0 => {
                        h.dane_fault = Some(f);
                        if f == DaneFault::TlsaMismatchAfterRoll {
                            h.cert_generation = 2;
                        }
                    }
                    _ => {}
                }
            }
        }
        hosts
    }

    fn sts(&self, index: u32, name: &str, mail: MailKind, mx: &[MxHost]) -> Sts {
        let profile = &*self.profile;
        let item = u64::from(index);
        let m = &profile.mta_sts.mode_weights;
        let mut mode =
            match pick_weighted(&[m.enforce, m.testing, m.none], self.u(index, field::MODE)) {
                0 => PolicyMode::Enforce,
                1 => PolicyMode::Testing,
                _ => PolicyMode::None,
            };
        let id = {
            let h = draw(self.seed, item, field::POLICY_ID);
            let day = 1 + h % 28;
            let month = 1 + (h >> 8) % 12;
            let year = 2019 + (h >> 16) % 7;
            let hour = (h >> 24) % 24;
            format!("{year}{month:02}{day:02}T{hour:02}0000")
        };
        let txt_fault = self.pick(&profile.faults.txt, item, field::TXT_FAULT);
        let txt = match txt_fault {
            None => StsTxt::Records(vec![format!("v=STSv1; id={id};")]),
            Some(TxtFault::MultipleStsRecords) => StsTxt::Records(vec![
                format!("v=STSv1; id={id};"),
                format!("v=STSv1; id={id}b;"),
            ]),
            Some(TxtFault::BadIdChars) => {
                StsTxt::Records(vec![format!("v=STSv1; id={}-{};", &id[..4], &id[4..8])])
            }
            Some(TxtFault::StsPrefixVariant) => {
                StsTxt::Records(vec![format!("v=STSv1 ; id={id};")])
            }
            Some(TxtFault::TxtDnsError) => StsTxt::DnsError,
            Some(TxtFault::BadVersion) => StsTxt::Records(vec![format!("v=stsv1; id={id};")]),
            Some(TxtFault::VersionNotFirst) => StsTxt::Records(vec![format!("id={id}; v=STSv1;")]),
            Some(TxtFault::MissingId) => StsTxt::Records(vec!["v=STSv1;".to_owned()]),
            Some(TxtFault::IdTooLong) => {
                // A SHA-1 in hex: 40 characters, over the 32 allowed.
                let h = draw(self.seed, item, field::LONG_ID);
                let g = draw(self.seed, item, field::LONG_ID + 1);
                let long = format!("{h:016x}{g:016x}{:08x}", h ^ g.rotate_left(17));
                StsTxt::Records(vec![format!("v=STSv1; id={};", &long[..40])])
            }
            Some(TxtFault::BadExtension) => {
                StsTxt::Records(vec![format!("v=STSv1; id={id}; comment=see policy;")])
            }
            Some(TxtFault::BadDelimiter) => StsTxt::Records(vec![format!("v=STSv1 id={id}")]),
            Some(TxtFault::NonAscii) => {
                StsTxt::Records(vec![format!("v=STSv1; id={id}; owner=M\u{fc}ller;")])
            }
            Some(TxtFault::DuplicateId) => {
                StsTxt::Records(vec![format!("v=STSv1; id={id}; id=20180101T000000;")])
            }
        };
        // A warning leaves the record valid: the policy is fetched as usual.
        let txt_valid = txt_fault.is_none_or(TxtFault::is_warning);
        let fetch_fault = if txt_valid {
            self.pick(&profile.faults.fetch, item, field::FETCH_FAULT)
        } else {
            None
        };
        let hosting = match mail {
            MailKind::Provider(p)
                if fetch_fault.is_none()
                    && self.u(index, field::POLICY_HOSTING)
                        < profile.providers.hosted_policy_share =>
            {
                PolicyHosting::Provider(p)
            }
            _ => PolicyHosting::SelfHosted,
        };
        let body_fault = if txt_valid && fetch_fault.is_none() {
            self.pick(&profile.faults.body, item, field::BODY_FAULT)
        } else {
            None
        };
        let bad_mx = (body_fault == Some(BodyFault::BadMxPattern)).then(|| {
            let k = draw(self.seed, item, field::BAD_MX) % BadMxKind::ALL.len() as u64;
            BadMxKind::ALL[k as usize]
        });
        let body_valid = body_fault.is_none_or(BodyFault::is_warning);
        if body_fault == Some(BodyFault::MissingMx) && mode == PolicyMode::None {
            // `mx` may be absent under `none`: the fault needs an active mode.
            mode = PolicyMode::Testing;
        }

        let wildcard = self.u(index, field::PATTERN_STYLE) < 0.4;
        let mut patterns: Vec<String> = match mail {
            MailKind::Implicit => vec![name.to_owned()],
            MailKind::Provider(p) if wildcard => self
                .provider(p)
                .map(|pr| vec![format!("*.{}", pr.zone)])
                .unwrap_or_default(),
            MailKind::SelfHosted if wildcard => vec![format!("*.{name}")],
            _ => mx.iter().map(|h| h.name.clone()).collect(),
        };
        let coverage_fault = if body_valid && mode != PolicyMode::None {
            match self.pick(&profile.faults.coverage, item, field::COVERAGE_FAULT) {
                Some(CoverageFault::MxNotCoveredSome) if mx.len() >= 2 => {
                    patterns = mx
                        .iter()
                        .take(mx.len() - 1)
                        .map(|h| h.name.clone())
                        .collect();
                    Some(CoverageFault::MxNotCoveredSome)
                }
                Some(_) => {
                    patterns = vec![format!("mail.{name}")];
                    Some(CoverageFault::MxNotCoveredAll)
                }
                None => None,
            }
        } else {
            None
        };
        const MAX_AGES: [u64; 5] = [86_400, 604_800, 1_209_600, 2_592_000, 31_557_600];
        let max_age = if body_fault == Some(BodyFault::MaxAgeOverLimit) {
            63_115_200
        } else {
            MAX_AGES[(draw(self.seed, item, field::MAX_AGE) % MAX_AGES.len() as u64) as usize]
        };
        let body = policy_body(mode, &patterns, max_age, body_fault, bad_mx, fetch_fault);
        Sts {
            mode,
            id,
            txt,
            txt_fault,
            hosting,
            fetch_fault,
            body_fault,
            coverage_fault,
            bad_mx,
            patterns,
            max_age,
            body,
        }
    }

    /// Writes the input list: `rank,domain` lines (Tranco style, no header).
    pub fn write_input_csv(&self, out: impl std::io::Write) -> std::io::Result<()> {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(out);
        for i in 0..self.n {
            writeln!(out, "{},{}", i + 1, self.name(i))?;
        }
        out.flush()
    }
}

/// The policy body for these fields and planted faults.
pub(crate) fn policy_body(
    mode: PolicyMode,
    patterns: &[String],
    max_age: u64,
    body_fault: Option<BodyFault>,
    bad_mx: Option<BadMxKind>,
    fetch_fault: Option<FetchFault>,
) -> String {
    use std::fmt::Write;
    match body_fault {
        Some(BodyFault::HtmlBody) => {
            return "<!DOCTYPE html>\n<html><head><title>Welcome</title></head>\
                    <body><h1>It works!</h1></body></html>\n"
                .to_owned();
        }
        Some(BodyFault::EmptyBody) => return String::new(),
        _ => {}
    }
    let mut body = String::new();
    if body_fault == Some(BodyFault::BomPresent) {
        body.push('\u{feff}');
    }
    match body_fault {
        Some(BodyFault::MissingVersion) => {}
        Some(BodyFault::BadVersion) => body.push_str("version: STSV1\r\n"),
        _ => body.push_str("version: STSv1\r\n"),
    }
    let mode_text = if body_fault == Some(BodyFault::BadMode) {
        match mode {
            PolicyMode::Enforce => "Enforce",
            PolicyMode::Testing => "Testing",
            PolicyMode::None => "None",
        }
    } else {
        mode.as_str()
    };
    if body_fault != Some(BodyFault::MissingMode) {
        let _ = write!(body, "mode: {mode_text}\r\n");
    }
    if body_fault == Some(BodyFault::DuplicateField) {
        // The same value twice: every reading (first wins, last wins) agrees.
        let _ = write!(body, "mode: {mode_text}\r\n");
    }
    if body_fault == Some(BodyFault::StrictAbnfViolation) {
        body.push_str("\r\n");
    }
    if body_fault != Some(BodyFault::MissingMx) {
        for (i, p) in patterns.iter().enumerate() {
            match bad_mx {
                Some(kind) if i == 0 => {
                    let _ = write!(body, "mx: {}\r\n", kind.apply(p));
                }
                _ => {
                    let _ = write!(body, "mx: {p}\r\n");
                }
            }
        }
    }
    if body_fault == Some(BodyFault::BadMaxAge) {
        let _ = write!(body, "max_age: {max_age}s\r\n");
    } else {
        let _ = write!(body, "max_age: {max_age}\r\n");
    }
    if fetch_fault == Some(FetchFault::BodyTooLarge) {
        // Unknown fields are ignored (§3.2): the policy would be valid if read whole.
        let mut line = 0;
        while body.len() <= 70 * 1024 {
            let _ = write!(body, "x-padding-{line}: {}\r\n", "a".repeat(100));
            line += 1;
        }
    }
    body
}

fn suffix_ranges(profile: &Profile) -> Vec<SuffixRange> {
    let entries: Vec<(&String, f64)> = profile
        .names
        .tld_weights
        .iter()
        .filter(|(_, w)| **w > 0.0)
        .map(|(s, w)| (s, *w))
        .collect();
    let total: f64 = entries.iter().map(|(_, w)| w).sum();
    let mut out = Vec::with_capacity(entries.len());
    let mut start = 0u32;
    for (i, (suffix, w)) in entries.iter().enumerate() {
        let len = if i + 1 == entries.len() {
            MAX_DOMAINS - start
        } else {
            ((w / total) * f64::from(MAX_DOMAINS)) as u32
        };
        let len = len.min(MAX_DOMAINS - start);
        out.push(SuffixRange {
            suffix: (*suffix).clone(),
            start,
            len,
        });
        start += len;
    }
    out
}

const HALF_BITS: u32 = 10;
const HALF_MASK: u32 = (1 << HALF_BITS) - 1;

fn round_fn(seed: u64, round: u64, half: u32) -> u32 {
    (draw(seed, u64::from(half), field::FEISTEL + round) as u32) & HALF_MASK
}

/// A keyed bijection of `[0, 2^20)` (4-round Feistel network).
fn feistel(seed: u64, x: u32) -> u32 {
    let (mut l, mut r) = ((x >> HALF_BITS) & HALF_MASK, x & HALF_MASK);
    for round in 0..4 {
        let next = l ^ round_fn(seed, round, r);
        l = r;
        r = next;
    }
    (l << HALF_BITS) | r
}

fn feistel_inverse(seed: u64, y: u32) -> u32 {
    let (mut l, mut r) = ((y >> HALF_BITS) & HALF_MASK, y & HALF_MASK);
    for round in (0..4).rev() {
        let prev_l = r ^ round_fn(seed, round, l);
        r = l;
        l = prev_l;
    }
    (l << HALF_BITS) | r
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn pop(n: u32) -> Population {
        Population::new(42, n, Profile::default()).unwrap()
    }

    #[test]
    fn word_pairs_spell_unique_names() {
        let mut seen = HashSet::new();
        for a in FIRST_WORDS {
            assert!(a.bytes().all(|b| b.is_ascii_lowercase()));
            for b in SECOND_WORDS {
                assert!(seen.insert(format!("{a}{b}")), "{a}{b} is ambiguous");
            }
        }
    }

    #[test]
    fn feistel_is_a_bijection() {
        for x in (0..MAX_DOMAINS).step_by(97) {
            assert_eq!(feistel_inverse(7, feistel(7, x)), x);
        }
        let images: HashSet<u32> = (0..4096).map(|x| feistel(7, x)).collect();
        assert_eq!(images.len(), 4096);
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        let p = pop(20_000);
        let mut seen = HashSet::new();
        for i in 0..p.len() {
            let name = p.name(i);
            assert_eq!(p.index_of(&name), Some(i), "{name}");
            assert!(!name.contains('-'));
            assert!(seen.insert(name));
        }
        assert_eq!(p.index_of("post-haven.com"), None);
        assert_eq!(p.index_of("example.invalid"), None);
        assert_eq!(p.index_of("bluefox01.com"), None);
        // A real name beyond n is not in the population.
        let small = pop(10);
        assert_eq!(small.index_of(&p.name(15_000)), None);
    }

    proptest::proptest! {
        #[test]
        fn any_index_round_trips(seed in proptest::prelude::any::<u64>(), i in 0u32..MAX_DOMAINS) {
            let p = Population::new(seed, MAX_DOMAINS, Profile::default()).unwrap();
            proptest::prop_assert_eq!(p.index_of(&p.name(i)), Some(i));
        }

        #[test]
        fn index_of_never_panics(s in "\\PC{0,40}") {
            let p = pop(1000);
            if let Some(i) = p.index_of(&s) {
                proptest::prop_assert_eq!(p.name(i), s.trim_end_matches('.'));
            }
        }
    }

    #[test]
    fn domain_is_a_pure_function() {
        let a = pop(1000);
        let b = pop(1000);
        for i in [0, 1, 17, 999] {
            assert_eq!(a.domain(i), b.domain(i));
        }
        let c = Population::new(43, 1000, Profile::default()).unwrap();
        assert_ne!(a.name(0), c.name(0));
    }

    #[test]
    fn addresses_map_back_to_owners() {
        assert_eq!(
            addr_owner(self_mx_addr(12345, 0)),
            Some(AddrOwner::SelfMx(12345, 0))
        );
        assert_eq!(
            addr_owner(self_mx_addr(MAX_DOMAINS - 1, 2)),
            Some(AddrOwner::SelfMx(MAX_DOMAINS - 1, 2))
        );
        assert_eq!(addr_owner(policy_addr(7)), Some(AddrOwner::Policy(7)));
        assert_eq!(
            addr_owner(provider_mx_addr(300, 3)),
            Some(AddrOwner::ProviderMx(300, 3))
        );
        assert_eq!(
            addr_owner(provider_policy_addr(5)),
            Some(AddrOwner::ProviderPolicy(5))
        );
        assert_eq!(addr_owner(Ipv4Addr::new(127, 0, 0, 1)), None);
    }

    #[test]
    fn providers_are_named_and_found() {
        let p = pop(10);
        for pr in p.providers() {
            assert_eq!(p.provider_by_zone(&pr.zone).map(|x| x.id), Some(pr.id));
            assert!(pr.zone.contains('-'));
            assert!(!pr.mx.is_empty());
        }
        assert!(p.provider_by_zone("mailhost-007.net").is_none());
    }

    #[test]
    fn proportions_follow_the_profile() {
        let p = pop(40_000);
        let mut sts = 0;
        let mut signed = 0;
        let mut provider = 0;
        let mut sts_top = 0;
        for i in 0..p.len() {
            let d = p.domain(i);
            if d.sts.is_some() {
                sts += 1;
                if i < 2000 {
                    sts_top += 1;
                }
            }
            if d.dnssec.is_signed() {
                signed += 1;
            }
            if matches!(d.mail, MailKind::Provider(_)) {
                provider += 1;
            }
        }
        let n = f64::from(p.len());
        // Ranks 1..40k: adoption falls from 15% to about 6%.
        assert!((0.06..0.12).contains(&(f64::from(sts) / n)), "sts {sts}");
        assert!(f64::from(sts_top) / 2000.0 > 0.08, "top {sts_top}");
        assert!(
            (0.05..0.09).contains(&(f64::from(signed) / n)),
            "signed {signed}"
        );
        assert!(
            (0.7..0.85).contains(&(f64::from(provider) / n)),
            "provider {provider}"
        );
    }

    #[test]
    fn policy_bodies_carry_the_planted_faults() {
        let pats = vec!["mx1.a.com".to_owned()];
        let ok = policy_body(PolicyMode::Enforce, &pats, 86400, None, None, None);
        assert_eq!(
            ok,
            "version: STSv1\r\nmode: enforce\r\nmx: mx1.a.com\r\nmax_age: 86400\r\n"
        );
        let bad = policy_body(
            PolicyMode::Enforce,
            &pats,
            86400,
            Some(BodyFault::BadMode),
            None,
            None,
        );
        assert!(bad.contains("mode: Enforce\r\n"));
        let no_mx = policy_body(
            PolicyMode::Testing,
            &pats,
            86400,
            Some(BodyFault::MissingMx),
            None,
            None,
        );
        assert!(!no_mx.contains("mx:"));
        let big = policy_body(
            PolicyMode::Testing,
            &pats,
            86400,
            None,
            None,
            Some(FetchFault::BodyTooLarge),
        );
        assert!(big.len() > 64 * 1024);
        let html = policy_body(
            PolicyMode::Testing,
            &pats,
            86400,
            Some(BodyFault::HtmlBody),
            None,
            None,
        );
        assert!(html.starts_with("<!DOCTYPE html>"));
    }

    #[test]
    fn new_body_faults_break_or_keep_the_abnf() {
        let pats = vec!["mx1.a.com".to_owned(), "mx2.a.com".to_owned()];
        let body = |f: BodyFault, bad: Option<BadMxKind>| {
            policy_body(PolicyMode::Enforce, &pats, 86400, Some(f), bad, None)
        };
        assert_eq!(body(BodyFault::EmptyBody, None), "");
        assert!(body(BodyFault::BomPresent, None).starts_with("\u{feff}version: STSv1\r\n"));
        assert!(!body(BodyFault::MissingVersion, None).contains("version:"));
        assert!(body(BodyFault::BadVersion, None).starts_with("version: STSV1\r\n"));
        assert!(!body(BodyFault::MissingMode, None).contains("mode:"));
        assert!(body(BodyFault::BadMaxAge, None).ends_with("max_age: 86400s\r\n"));
        assert_eq!(
            body(BodyFault::DuplicateField, None)
                .matches("mode: enforce\r\n")
                .count(),
            2
        );
        assert!(body(BodyFault::StrictAbnfViolation, None).contains("\r\n\r\nmx: "));
        let bad = |k| body(BodyFault::BadMxPattern, Some(k));
        assert!(bad(BadMxKind::TrailingDot).contains("mx: mx1.a.com.\r\nmx: mx2.a.com\r\n"));
        assert!(bad(BadMxKind::LeadingDot).contains("mx: .a.com\r\n"));
        assert!(bad(BadMxKind::PartialWildcard).contains("mx: mx*.a.com\r\n"));
        assert!(bad(BadMxKind::Port).contains("mx: mx1.a.com:25\r\n"));
        assert_eq!(BadMxKind::LeadingDot.apply("*.a.com"), ".a.com");
    }

    #[test]
    fn planted_records_say_what_they_plant() {
        let p = pop(60_000);
        let mut seen = HashSet::new();
        for i in 0..p.len() {
            let d = p.domain(i);
            let Some(sts) = &d.sts else { continue };
            if let (Some(f), StsTxt::Records(r)) = (sts.txt_fault, &sts.txt) {
                let r = &r[0];
                let ok = match f {
                    TxtFault::BadVersion => r.starts_with("v=stsv1;"),
                    TxtFault::VersionNotFirst => r.starts_with("id=") && r.contains("v=STSv1;"),
                    TxtFault::MissingId => !r.contains("id="),
                    TxtFault::IdTooLong => r.len() == "v=STSv1; id=;".len() + 40,
                    TxtFault::BadDelimiter => !r.contains(';'),
                    TxtFault::NonAscii => !r.is_ascii(),
                    TxtFault::DuplicateId => r.matches("id=").count() == 2,
                    _ => true,
                };
                assert!(ok, "{f:?}: {r}");
                seen.insert(f);
            }
            if sts.fetch_fault == Some(FetchFault::BodyNotUtf8) {
                assert!(String::from_utf8(sts.served_body()).is_err());
                seen.insert(TxtFault::DuplicateId);
            } else {
                assert_eq!(sts.served_body(), sts.body.as_bytes());
            }
            if sts.txt_fault.is_some_and(|f| !f.is_warning()) {
                assert_eq!((sts.fetch_fault, sts.body_fault), (None, None));
            }
        }
        assert!(seen.len() > 8, "{seen:?}");
        // Unusable or DANE-TA TLSA sits only on secure zones; TA hosts send the root.
        for i in 0..p.len() {
            for h in p.domain(i).mx {
                if h.tlsa_generation.is_some() && h.tlsa_kind == TlsaKind::DaneTa {
                    assert_eq!(h.zone_dnssec, ZoneDnssec::Secure);
                    assert_eq!(
                        h.cert_spec().chain == crate::pki::ChainShape::WithRoot,
                        h.dane_fault != Some(DaneFault::DaneTaMissingAnchorInChain)
                    );
                }
                if h.fault == Some(SmtpFault::SecondAddressRefused) {
                    assert!(matches!(h.reach, Reach::DualStack(_)));
                }
            }
        }
    }

    #[test]
    fn partial_wildcards_are_planted_only_below_a_registrable_domain() {
        assert!(partial_wildcard_plantable("mx1.example.com", "example.com"));
        assert!(partial_wildcard_plantable(
            "mta-sts.example.co.uk",
            "example.co.uk"
        ));
        assert!(!partial_wildcard_plantable("example.com", "example.com"));
        assert!(!partial_wildcard_plantable("xexample.com", "example.com"));
        assert!(!partial_wildcard_plantable(".example.com", "example.com"));
        // The certificate name `x*.<rest>` must keep a name that is no public suffix.
        let check = |p: &Population| {
            let suffixes: HashSet<String> = p.served_suffixes().into_iter().collect();
            let keeps_domain = |host: &str| {
                let (_, rest) = host.split_once('.').unwrap();
                rest.contains('.') && !suffixes.contains(rest)
            };
            let (mut mx, mut policy, mut implicit) = (0, 0, 0);
            for i in 0..p.len() {
                let d = p.domain(i);
                for h in &d.mx {
                    if h.cert_kind() == crate::pki::CertKind::PartialWildcard {
                        assert!(keeps_domain(&h.name), "{} for {}", h.name, d.name);
                        mx += 1;
                    }
                }
                if d.mail == MailKind::Implicit {
                    implicit += 1;
                }
                if let Some(sts) = &d.sts
                    && sts.policy_cert_kind() == crate::pki::CertKind::PartialWildcard
                {
                    assert!(keeps_domain(&format!("mta-sts.{}", d.name)), "{}", d.name);
                    policy += 1;
                }
            }
            [mx, policy, implicit]
        };
        // Seed 11 with 10,000 domains once planted `a*.com` on `amberloop1.com`.
        let small = check(&Population::new(11, 10_000, Profile::default()).unwrap());
        let large = check(&pop(60_000));
        assert!(small[0] > 0 && small[2] > 0, "{small:?}");
        assert!(large.iter().all(|&c| c > 0), "{large:?}");
    }

    #[test]
    fn input_csv_lists_every_rank() {
        let p = pop(5);
        let mut out = Vec::new();
        p.write_input_csv(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5);
        assert_eq!(lines[0], format!("1,{}", p.name(0)));
    }
}
