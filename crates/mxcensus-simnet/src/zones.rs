//! The population as the DNS engine's [`ZoneSource`], and as the SMTP and HTTPS servers'
//! directories.
//!
//! Zones served (every one signed with its deterministic key unless said otherwise):
//! - the root, delegating every served public suffix with its DS;
//! - each public suffix (`com`, `co.uk`, and parents like `uk`), delegating domains,
//!   provider zones and infrastructure zones (DS only for secure, correctly signed
//!   children; a wrong DS for the planted `ds_mismatch`);
//! - [`NS_ZONE`] (name server names, A 127.0.53.2) and [`OUTAGE_ZONE`] (unsigned,
//!   answers SERVFAIL: target of `txt_dns_error` CNAMEs);
//! - the canary zones [`CANARY_SECURE`] (signed, DS in `net`, apex A
//!   [`CANARY_SECURE_ADDR`]) and [`CANARY_BOGUS`] (signed, but `net` publishes a DS that
//!   matches no key of it, so every RRset in it is bogus; apex A [`CANARY_BOGUS_ADDR`]):
//!   present in every world whatever the population and N, for a crawler to prove before a
//!   run that its resolver validates (AD on the first, SERVFAIL on the second, data with
//!   CD). Population names are letters and digits only, provider zones carry digits or
//!   other words, so the hyphenated canary names never collide with them;
//! - each provider zone: `mx<k>` A (or AAAA `::1`), `_25._tcp.mx<k>` TLSA 3 1 1 when the
//!   provider publishes DANE, `mta-sts` A of the shared policy host;
//! - each domain zone `d`, built on demand from [`Population::domain`]: apex MX (or
//!   `MX 0 .`, or for implicit MX the apex address), `mx<k>` addresses (A, AAAA `::1`, or
//!   both), TLSA at `_25._tcp.<host>` (`3 1 1`, `2 0 1` of the root, `1 1 1` or `3 1 3` as
//!   planted), `_mta-sts` TXT (or CNAME into the outage zone), `mta-sts` A / AAAA / CNAME
//!   to the provider's policy host (or a CNAME into the outage zone for
//!   `policy_host_dns_error`, or only `_acme-challenge.mta-sts` TXT below it for
//!   `policy_host_no_address`), `_smtp._tls` TXT.
//!
//! Signing faults and name server faults come from the domain's configuration. TLSA data
//! is the SHA-256 of the SPKI of the certificate generation DNS publishes, computed by the
//! [`Pki`] (so it matches the served certificate exactly when the generations agree).

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::sync::Arc;

use hickory_proto::rr::rdata::tlsa::{CertUsage, Matching, Selector};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TLSA, TXT};
use hickory_proto::rr::{Name, RData};

use crate::dns::{
    Behavior, Delegation, NameData, RrSet, Signing, SigningFault, Zone, ZoneKey, ZoneSource,
    ds_for, wrong_ds_for,
};
use crate::https::{HttpsBehavior, PolicyDirectory, PolicyHost as HttpsPolicyHost};
use crate::pki::{CertSpec, Pki};
use crate::population::{
    AddrOwner, DomainConfig, HttpBehavior, MailKind, MxHost, NS_ZONE, OUTAGE_ZONE, PolicyHosting,
    Population, Reach, StsTxt, TlsaKind, ZoneDnssec, addr_owner,
};
use crate::profile::{DnssecFault, FetchFault, NameserverFault, SmtpFault};
use crate::smtp::{SmtpBehavior, SmtpDirectory, SmtpHost};

/// TTL of every record.
const TTL: u32 = 300;
/// The authoritative engine's address: what the name server names resolve to.
pub const AUTH_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 2);

/// The secure canary: a signed zone with a matching DS; ask for its A record.
pub const CANARY_SECURE: &str = "canary-secure.net";
/// The bogus canary: a signed zone whose parent's DS matches no key; ask for its A record.
pub const CANARY_BOGUS: &str = "canary-bogus.net";
/// The A record of [`CANARY_SECURE`] (nothing listens there).
pub const CANARY_SECURE_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 3);
/// The A record of [`CANARY_BOGUS`] (nothing listens there).
pub const CANARY_BOGUS_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 4);

/// What kind of zone an apex is.
#[derive(Clone, Debug)]
enum ZoneKind {
    Root,
    Suffix,
    NsInfra,
    Outage,
    /// A canary zone with its DNSSEC state and apex address.
    Canary(ZoneDnssec, Ipv4Addr),
    Provider(u16),
    Domain,
}

/// The world's zones and server directories, all derived from the population.
pub struct WorldZones {
    pop: Arc<Population>,
    pki: Arc<Pki>,
    /// Zones that never change (root, suffixes, infrastructure, providers), by apex text
    /// without trailing dot ("" for the root).
    fixed: HashMap<String, (ZoneKind, Arc<Zone>)>,
}

impl std::fmt::Debug for WorldZones {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorldZones")
            .field("fixed_zones", &self.fixed.len())
            .finish_non_exhaustive()
    }
}

fn name(text: &str) -> Option<Name> {
    let mut n = Name::from_str(text).ok()?;
    n.set_fqdn(true);
    Some(n)
}

fn fqdn(text: &str) -> Option<Name> {
    if text.is_empty() {
        Some(Name::root())
    } else {
        name(&format!("{text}."))
    }
}

/// Presentation text of a name: lower case, no trailing dot, "" for the root.
fn text_of(n: &Name) -> String {
    let s = n.to_lowercase().to_ascii();
    s.trim_end_matches('.').to_owned()
}

fn ns_names() -> Vec<Name> {
    ["ns1", "ns2"]
        .iter()
        .filter_map(|h| fqdn(&format!("{h}.{NS_ZONE}")))
        .collect()
}

fn signing_of(seed: u64, apex: &Name, dnssec: ZoneDnssec) -> Signing {
    let fault = match dnssec {
        ZoneDnssec::Unsigned => return Signing::Unsigned,
        ZoneDnssec::Island | ZoneDnssec::Secure => SigningFault::None,
        ZoneDnssec::Bogus(DnssecFault::BadRrsig) => SigningFault::BadSignature,
        ZoneDnssec::Bogus(DnssecFault::ExpiredRrsig) => SigningFault::ExpiredSignature,
        ZoneDnssec::Bogus(DnssecFault::MissingRrsig) => SigningFault::MissingSignature,
        ZoneDnssec::Bogus(DnssecFault::DsMismatch) => SigningFault::None,
    };
    Signing::Signed {
        key: ZoneKey::derive(seed, apex),
        fault,
    }
}

fn behavior_of(fault: Option<NameserverFault>) -> Behavior {
    match fault {
        None => Behavior::Normal,
        Some(NameserverFault::Lame) => Behavior::Refused,
        Some(NameserverFault::Timeout) => Behavior::Timeout,
        Some(NameserverFault::Servfail) => Behavior::ServFail,
        Some(NameserverFault::TruncateUdp) => Behavior::TruncateUdp,
    }
}

/// The records of one zone: `(relative name, RRsets)`, "" for the apex.
type ZoneRecords = Vec<(String, Vec<RrSet>)>;

fn push(records: &mut ZoneRecords, rel: &str, set: RrSet) {
    match records.iter_mut().find(|(r, _)| r == rel) {
        Some((_, sets)) => sets.push(set),
        None => records.push((rel.to_owned(), vec![set])),
    }
}

fn apex_sets(apex: &Name) -> Vec<RrSet> {
    let mname = fqdn(&format!("ns1.{NS_ZONE}")).unwrap_or_else(Name::root);
    let rname = fqdn(&format!("hostmaster.{NS_ZONE}")).unwrap_or_else(Name::root);
    let _ = apex;
    let soa = SOA::new(mname, rname, 2026010101, 3600, 600, 1_209_600, TTL);
    let ns = ns_names().into_iter().map(|n| RData::NS(NS(n))).collect();
    let mut sets = vec![RrSet::single(3600, RData::SOA(soa))];
    if let Some(ns) = RrSet::new(3600, ns) {
        sets.push(ns);
    }
    sets
}

fn txt_set(values: &[String]) -> Option<RrSet> {
    RrSet::new(
        TTL,
        values
            .iter()
            .map(|v| RData::TXT(TXT::new(vec![v.clone()])))
            .collect(),
    )
}

fn push_address(records: &mut ZoneRecords, rel: &str, reach: Reach) {
    let aaaa = || RrSet::single(TTL, RData::AAAA(AAAA(Ipv6Addr::LOCALHOST)));
    match reach {
        Reach::V4(a) => push(records, rel, RrSet::single(TTL, RData::A(A(a)))),
        Reach::RefusedV6 => push(records, rel, aaaa()),
        Reach::DualStack(a) => {
            push(records, rel, RrSet::single(TTL, RData::A(A(a))));
            push(records, rel, aaaa());
        }
    }
}

/// Lowercase relative name of `host` inside zone `apex` ("" for the apex itself).
fn relative<'a>(host: &'a str, apex: &str) -> Option<&'a str> {
    if host == apex {
        Some("")
    } else {
        host.strip_suffix(apex)?.strip_suffix('.')
    }
}

fn join(prefix: &str, rel: &str) -> String {
    if rel.is_empty() {
        prefix.to_owned()
    } else {
        format!("{prefix}.{rel}")
    }
}

impl WorldZones {
    /// The zones of `pop`, with certificates from `pki` (same seed).
    pub fn new(pop: Arc<Population>, pki: Arc<Pki>) -> Self {
        let seed = pop.seed();
        let mut fixed = HashMap::new();
        let secure = ZoneDnssec::Secure;
        let mut add = |text: String, kind: ZoneKind, dnssec: ZoneDnssec, behavior: Behavior| {
            if let Some(apex) = fqdn(&text) {
                let zone = Zone::new(apex.clone(), signing_of(seed, &apex, dnssec))
                    .with_behavior(behavior);
                fixed.insert(text, (kind, Arc::new(zone)));
            }
        };
        add(String::new(), ZoneKind::Root, secure, Behavior::Normal);
        for s in pop.served_suffixes() {
            add(s, ZoneKind::Suffix, secure, Behavior::Normal);
        }
        add(
            NS_ZONE.to_owned(),
            ZoneKind::NsInfra,
            secure,
            Behavior::Normal,
        );
        add(
            OUTAGE_ZONE.to_owned(),
            ZoneKind::Outage,
            ZoneDnssec::Unsigned,
            Behavior::ServFail,
        );
        let bogus = ZoneDnssec::Bogus(DnssecFault::DsMismatch);
        for (text, dnssec, addr) in [
            (CANARY_SECURE, secure, CANARY_SECURE_ADDR),
            (CANARY_BOGUS, bogus, CANARY_BOGUS_ADDR),
        ] {
            add(
                text.to_owned(),
                ZoneKind::Canary(dnssec, addr),
                dnssec,
                Behavior::Normal,
            );
        }
        for p in pop.providers() {
            add(
                p.zone.clone(),
                ZoneKind::Provider(p.id),
                p.dnssec,
                Behavior::Normal,
            );
        }
        Self { pop, pki, fixed }
    }

    /// The population.
    pub fn population(&self) -> &Population {
        &self.pop
    }

    /// The root's DS record in presentation format (the trust anchor file's line).
    pub fn root_ds_line(&self) -> String {
        let key = ZoneKey::derive(self.pop.seed(), &Name::root());
        let ds = ds_for(&Name::root(), &key);
        let hex: String = ds.digest().iter().map(|b| format!("{b:02X}")).collect();
        format!(". 3600 IN DS {} 15 2 {hex}\n", ds.key_tag())
    }

    /// The zone kind of apex text `text` (no trailing dot), with the domain config for
    /// domain zones.
    fn classify(&self, text: &str) -> Option<(ZoneKind, Option<DomainConfig>)> {
        if let Some((kind, _)) = self.fixed.get(text) {
            return Some((kind.clone(), None));
        }
        let index = self.pop.index_of(text)?;
        Some((ZoneKind::Domain, Some(self.pop.domain(index))))
    }

    fn domain_zone(&self, d: &DomainConfig) -> Option<Arc<Zone>> {
        let apex = fqdn(&d.name)?;
        let signing = signing_of(self.pop.seed(), &apex, d.dnssec);
        Some(Arc::new(
            Zone::new(apex, signing).with_behavior(behavior_of(d.nameserver)),
        ))
    }

    /// The delegation of child zone `child` (apex text) as its parent publishes it.
    fn delegation(&self, child: &str) -> Option<NameData> {
        let (kind, config) = self.classify(child)?;
        let apex = fqdn(child)?;
        let dnssec = match (&kind, &config) {
            (ZoneKind::Domain, Some(d)) => d.dnssec,
            (ZoneKind::Provider(p), _) => self.pop.provider(*p)?.dnssec,
            (ZoneKind::Outage, _) => ZoneDnssec::Unsigned,
            (ZoneKind::Canary(dnssec, _), _) => *dnssec,
            (ZoneKind::Root, _) => return None,
            _ => ZoneDnssec::Secure,
        };
        let key = || ZoneKey::derive(self.pop.seed(), &apex);
        let ds = match dnssec {
            ZoneDnssec::Unsigned | ZoneDnssec::Island => vec![],
            ZoneDnssec::Bogus(DnssecFault::DsMismatch) => vec![wrong_ds_for(&apex, &key())],
            ZoneDnssec::Secure | ZoneDnssec::Bogus(_) => vec![ds_for(&apex, &key())],
        };
        Some(NameData::Delegation(Delegation {
            ttl: 3600,
            ns: ns_names(),
            ds,
        }))
    }

    fn tlsa_set(&self, host: &MxHost) -> Option<RrSet> {
        let spec = host.tlsa_cert_spec()?;
        let tlsa = match host.tlsa_kind {
            TlsaKind::DaneTa => TLSA::new(
                CertUsage::DaneTa,
                Selector::Full,
                Matching::Sha256,
                self.pki.root().cert_sha256().to_vec(),
            ),
            kind => {
                let spki = self.pki.leaf(&spec).ok()?.spki_sha256.to_vec();
                let (usage, matching) = match kind {
                    TlsaKind::PkixEe => (CertUsage::PkixEe, Matching::Sha256),
                    TlsaKind::UnassignedMatching => (CertUsage::DaneEe, Matching::Unassigned(3)),
                    _ => (CertUsage::DaneEe, Matching::Sha256),
                };
                TLSA::new(usage, Selector::Spki, matching, spki)
            }
        };
        Some(RrSet::single(TTL, RData::TLSA(tlsa)))
    }

    fn host_records(&self, records: &mut ZoneRecords, host: &MxHost, apex: &str) {
        let Some(rel) = relative(&host.name, apex) else {
            return;
        };
        push_address(records, rel, host.reach);
        if let Some(set) = self.tlsa_set(host) {
            push(records, &join("_25._tcp", rel), set);
        }
    }

    fn domain_records(&self, d: &DomainConfig, apex: &Name) -> ZoneRecords {
        let mut records: ZoneRecords = vec![(String::new(), apex_sets(apex))];
        match d.mail {
            MailKind::NullMx => {
                push(
                    &mut records,
                    "",
                    RrSet::single(TTL, RData::MX(MX::new(0, Name::root()))),
                );
            }
            MailKind::Implicit => {
                for h in &d.mx {
                    self.host_records(&mut records, h, &d.name);
                }
            }
            MailKind::SelfHosted | MailKind::Provider(_) => {
                let mx =
                    d.mx.iter()
                        .filter_map(|h| Some(RData::MX(MX::new(h.preference, fqdn(&h.name)?))))
                        .collect();
                if let Some(set) = RrSet::new(TTL, mx) {
                    push(&mut records, "", set);
                }
                if d.mail == MailKind::SelfHosted {
                    for h in &d.mx {
                        self.host_records(&mut records, h, &d.name);
                    }
                }
            }
        }
        if let Some(sts) = &d.sts {
            match &sts.txt {
                StsTxt::Records(values) => {
                    if let Some(set) = txt_set(values) {
                        push(&mut records, "_mta-sts", set);
                    }
                }
                StsTxt::DnsError => {
                    if let Some(target) = fqdn(&format!("{}.{OUTAGE_ZONE}", d.name)) {
                        push(
                            &mut records,
                            "_mta-sts",
                            RrSet::single(TTL, RData::CNAME(CNAME(target))),
                        );
                    }
                }
            }
            match (sts.hosting, sts.policy_reach(d.index)) {
                (_, None) => match sts.fetch_fault {
                    Some(FetchFault::PolicyHostDnsError) => {
                        if let Some(target) = fqdn(&format!("mta-sts.{}.{OUTAGE_ZONE}", d.name)) {
                            push(
                                &mut records,
                                "mta-sts",
                                RrSet::single(TTL, RData::CNAME(CNAME(target))),
                            );
                        }
                    }
                    Some(FetchFault::PolicyHostNoAddress) => {
                        // A left-over ACME challenge: the name exists, without address.
                        let token = format!("simnet-acme-{}", d.index);
                        if let Some(set) = txt_set(&[token]) {
                            push(&mut records, "_acme-challenge.mta-sts", set);
                        }
                    }
                    _ => {}
                },
                (PolicyHosting::Provider(p), Some(Reach::V4(_))) => {
                    if let Some(target) =
                        self.pop.provider(p).and_then(|pr| fqdn(&pr.policy_host()))
                    {
                        push(
                            &mut records,
                            "mta-sts",
                            RrSet::single(TTL, RData::CNAME(CNAME(target))),
                        );
                    }
                }
                (_, Some(reach)) => push_address(&mut records, "mta-sts", reach),
            }
        } else if let Some(other) = &d.other_txt
            && let Some(set) = txt_set(std::slice::from_ref(other))
        {
            push(&mut records, "_mta-sts", set);
        }
        if let Some(t) = &d.tlsrpt
            && let Some(set) = txt_set(&t.records)
        {
            push(&mut records, "_smtp._tls", set);
        }
        records
    }

    fn provider_records(&self, p: u16, apex: &Name) -> ZoneRecords {
        let mut records: ZoneRecords = vec![(String::new(), apex_sets(apex))];
        if let Some(pr) = self.pop.provider(p) {
            for h in &pr.mx {
                self.host_records(&mut records, h, &pr.zone);
            }
            push(
                &mut records,
                "mta-sts",
                RrSet::single(TTL, RData::A(A(crate::population::provider_policy_addr(p)))),
            );
        }
        records
    }

    fn infra_records(&self, apex: &Name) -> ZoneRecords {
        let mut records: ZoneRecords = vec![(String::new(), apex_sets(apex))];
        for h in ["ns1", "ns2"] {
            push(&mut records, h, RrSet::single(3600, RData::A(A(AUTH_ADDR))));
        }
        records
    }

    fn lookup_in(records: &ZoneRecords, rel: &str) -> NameData {
        if let Some((_, sets)) = records.iter().find(|(r, _)| r == rel) {
            return NameData::Data(sets.clone());
        }
        let below = format!(".{rel}");
        if records.iter().any(|(r, _)| r.ends_with(&below)) {
            NameData::EmptyNonTerminal
        } else {
            NameData::NxDomain
        }
    }

    /// The SMTP host at `local`, if one listens there.
    pub fn smtp_host(&self, local: Ipv4Addr) -> Option<SmtpHost> {
        let host = match addr_owner(local)? {
            AddrOwner::ProviderMx(p, k) => self.pop.provider(p)?.mx.get(usize::from(k))?.clone(),
            AddrOwner::SelfMx(i, k) => {
                if i >= self.pop.len() {
                    return None;
                }
                let d = self.pop.domain(i);
                if !matches!(d.mail, MailKind::SelfHosted | MailKind::Implicit) {
                    return None;
                }
                d.mx.into_iter().nth(usize::from(k))?
            }
            _ => return None,
        };
        if host.reach.v4() != Some(local) {
            return None;
        }
        let behavior = match host.fault {
            Some(SmtpFault::NoStarttls) => SmtpBehavior::NoStarttls,
            Some(SmtpFault::Starttls454) => SmtpBehavior::Starttls454,
            Some(SmtpFault::Greeting421) => SmtpBehavior::Greeting421,
            Some(SmtpFault::Greeting554) => SmtpBehavior::Greeting554,
            Some(SmtpFault::GreetingSlow) => SmtpBehavior::SlowGreeting {
                delay: std::time::Duration::from_millis(self.pop.profile().smtp.slow_greeting_ms),
            },
            Some(SmtpFault::TlsLegacyOnly) => SmtpBehavior::Tls10Only,
            Some(SmtpFault::Tarpit) => SmtpBehavior::Tarpit,
            Some(SmtpFault::EhloRejected) => SmtpBehavior::EhloRejected,
            Some(SmtpFault::MultilineGreeting) => SmtpBehavior::MultilineGreeting,
            Some(SmtpFault::Starttls501) => SmtpBehavior::StarttlsRejected { code: 501 },
            Some(SmtpFault::ResetAfterAccept) => SmtpBehavior::ResetAfterAccept,
            Some(
                SmtpFault::CertExpired
                | SmtpFault::CertSelfSigned
                | SmtpFault::CertNameMismatch
                | SmtpFault::CertNotYetValid
                | SmtpFault::CertCnOnly
                | SmtpFault::CertPartialWildcardOnly
                | SmtpFault::ConnectRefused
                | SmtpFault::SecondAddressRefused,
            )
            | None => SmtpBehavior::Normal,
        };
        Some(SmtpHost {
            name: host.name.clone(),
            behavior,
            cert: host.cert_spec(),
        })
    }

    /// The policy host for `sni` reached at `local`, if any.
    pub fn policy_host(&self, sni: Option<&str>, local: Ipv4Addr) -> Option<HttpsPolicyHost> {
        let d = match addr_owner(local)? {
            AddrOwner::Policy(i) => {
                if i >= self.pop.len() {
                    return None;
                }
                let d = self.pop.domain(i);
                let sts = d.sts.as_ref()?;
                if sts.hosting != PolicyHosting::SelfHosted
                    || sts.policy_reach(i).and_then(Reach::v4) != Some(local)
                {
                    return None;
                }
                d
            }
            AddrOwner::ProviderPolicy(p) => {
                let pr = self.pop.provider(p)?;
                let customer = sni
                    .and_then(|s| s.strip_prefix("mta-sts."))
                    .and_then(|domain| self.pop.index_of(domain))
                    .map(|i| self.pop.domain(i))
                    .filter(|d| {
                        d.sts
                            .as_ref()
                            .is_some_and(|s| s.hosting == PolicyHosting::Provider(p))
                    });
                match customer {
                    Some(d) => d,
                    None => {
                        // The provider's own name: no policy of its own.
                        return Some(HttpsPolicyHost {
                            cert: CertSpec::valid(pr.policy_host()),
                            behavior: HttpsBehavior::NotFound,
                            body: Vec::new(),
                            content_type: Some("text/plain".to_owned()),
                        });
                    }
                }
            }
            _ => return None,
        };
        let sts = d.sts.as_ref()?;
        let slow = self.pop.profile().mta_sts.slow_fetch_ms;
        let mut content_type = Some("text/plain".to_owned());
        let behavior = match sts.http(&d.name, slow) {
            HttpBehavior::Ok => HttpsBehavior::Ok,
            HttpBehavior::Redirect(location) => HttpsBehavior::Redirect { location },
            HttpBehavior::NotFound => HttpsBehavior::NotFound,
            HttpBehavior::ContentType(ct) => {
                content_type = Some(ct.to_owned());
                HttpsBehavior::Ok
            }
            HttpBehavior::Slow(ms) => HttpsBehavior::Slow {
                delay: std::time::Duration::from_millis(ms),
            },
            HttpBehavior::Status(code) => HttpsBehavior::Status { code },
            HttpBehavior::NoContentType => {
                content_type = None;
                HttpsBehavior::Ok
            }
            HttpBehavior::HandshakeFailure => HttpsBehavior::HandshakeFailure,
            HttpBehavior::ResetAfterHandshake => HttpsBehavior::ResetAfterHandshake,
        };
        Some(HttpsPolicyHost {
            cert: CertSpec::of_kind(format!("mta-sts.{}", d.name), sts.policy_cert_kind()),
            behavior,
            body: sts.served_body(),
            content_type,
        })
    }
}

impl ZoneSource for WorldZones {
    fn zone_for(&self, qname: &Name) -> Option<Arc<Zone>> {
        let text = text_of(qname);
        let labels: Vec<&str> = if text.is_empty() {
            Vec::new()
        } else {
            text.split('.').collect()
        };
        // Deepest first: a domain zone beats its suffix, the suffix beats the root.
        for k in (0..=labels.len()).rev() {
            let candidate = labels[labels.len() - k..].join(".");
            if let Some((_, zone)) = self.fixed.get(&candidate) {
                return Some(zone.clone());
            }
            if k >= 2
                && let Some(index) = self.pop.index_of(&candidate)
            {
                return self.domain_zone(&self.pop.domain(index));
            }
        }
        None
    }

    fn lookup(&self, zone: &Zone, qname: &Name) -> NameData {
        let apex_text = text_of(&zone.apex);
        let text = text_of(qname);
        let rel = if apex_text.is_empty() {
            Some(text.as_str())
        } else {
            relative(&text, &apex_text)
        };
        let Some(rel) = rel else {
            return NameData::NxDomain;
        };
        let Some((kind, config)) = self.classify(&apex_text) else {
            return NameData::NxDomain;
        };
        match kind {
            ZoneKind::Root | ZoneKind::Suffix => {
                if rel.is_empty() {
                    return NameData::Data(apex_sets(&zone.apex));
                }
                // The child is the name one label below the apex on the way to `qname`.
                let child_label = rel.rsplit('.').next().unwrap_or(rel);
                let child = join(child_label, &apex_text);
                if child_label.len() == rel.len() {
                    return self.delegation(&child).unwrap_or(NameData::NxDomain);
                }
                // Below a delegation: not asked when the child is served.
                if self.classify(&child).is_some() {
                    NameData::EmptyNonTerminal
                } else {
                    NameData::NxDomain
                }
            }
            ZoneKind::NsInfra | ZoneKind::Outage => {
                Self::lookup_in(&self.infra_records(&zone.apex), rel)
            }
            ZoneKind::Provider(p) => Self::lookup_in(&self.provider_records(p, &zone.apex), rel),
            ZoneKind::Canary(_, addr) => {
                let mut records: ZoneRecords = vec![(String::new(), apex_sets(&zone.apex))];
                push(&mut records, "", RrSet::single(TTL, RData::A(A(addr))));
                Self::lookup_in(&records, rel)
            }
            ZoneKind::Domain => match config {
                Some(d) => Self::lookup_in(&self.domain_records(&d, &zone.apex), rel),
                None => NameData::NxDomain,
            },
        }
    }
}

impl SmtpDirectory for WorldZones {
    fn host(&self, local: Ipv4Addr) -> Option<SmtpHost> {
        self.smtp_host(local)
    }
}

impl PolicyDirectory for WorldZones {
    fn host(&self, sni: Option<&str>, local: Ipv4Addr) -> Option<HttpsPolicyHost> {
        self.policy_host(sni, local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use hickory_proto::rr::RecordType;

    fn world() -> WorldZones {
        let pop = Arc::new(Population::new(9, 3000, Profile::default()).unwrap());
        let pki = Arc::new(Pki::new(9).unwrap());
        WorldZones::new(pop, pki)
    }

    fn data_types(nd: &NameData) -> Vec<RecordType> {
        match nd {
            NameData::Data(sets) => sets.iter().map(|s| s.rtype).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn zones_nest_deepest_first() {
        let w = world();
        let pop = w.population();
        let d = pop.domain(5);
        let z = w
            .zone_for(&fqdn(&format!("_25._tcp.mx1.{}", d.name)).unwrap())
            .unwrap();
        assert_eq!(text_of(&z.apex), d.name);
        let z = w.zone_for(&fqdn("nonexistent-xyz.com").unwrap()).unwrap();
        assert_eq!(text_of(&z.apex), "com");
        let z = w.zone_for(&Name::root()).unwrap();
        assert!(z.apex.is_root());
        let z = w.zone_for(&fqdn("mx1.post-haven.com").unwrap()).unwrap();
        assert_eq!(text_of(&z.apex), "post-haven.com");
        assert!(w.zone_for(&fqdn("a.b.example").unwrap()).is_some());
    }

    #[test]
    fn apex_has_soa_ns_and_mail_records() {
        let w = world();
        let pop = w.population();
        for i in 0..200 {
            let d = pop.domain(i);
            if crate::truth::zone_fails(&d) {
                continue;
            }
            let apex = fqdn(&d.name).unwrap();
            let zone = w.zone_for(&apex).unwrap();
            let types = data_types(&w.lookup(&zone, &apex));
            assert!(types.contains(&RecordType::SOA) && types.contains(&RecordType::NS));
            assert_eq!(
                types.contains(&RecordType::MX),
                d.mail != MailKind::Implicit,
                "{}",
                d.name
            );
            // The parent delegates it with DS exactly when the zone is signed with DS.
            let parent = w.zone_for(&fqdn(&d.suffix).unwrap()).unwrap();
            match w.lookup(&parent, &apex) {
                NameData::Delegation(del) => assert_eq!(
                    del.ds.is_empty(),
                    matches!(d.dnssec, ZoneDnssec::Unsigned | ZoneDnssec::Island)
                ),
                other => panic!("{other:?}"),
            }
            if let Some(sts) = &d.sts {
                let n = fqdn(&format!("_mta-sts.{}", d.name)).unwrap();
                let want = if matches!(sts.txt, StsTxt::DnsError) {
                    RecordType::CNAME
                } else {
                    RecordType::TXT
                };
                assert_eq!(data_types(&w.lookup(&zone, &n)), vec![want]);
            }
        }
    }

    #[test]
    fn tlsa_matches_the_served_key_unless_rolled() {
        let w = world();
        let pop = w.population();
        let mut checked = 0;
        for i in 0..pop.len() {
            let d = pop.domain(i);
            for h in
                d.mx.iter()
                    .filter(|h| h.tlsa_generation.is_some() && h.tlsa_kind != TlsaKind::DaneTa)
            {
                let tlsa = w.tlsa_set(h).unwrap();
                let served = w.pki.leaf(&h.cert_spec()).unwrap();
                let RData::TLSA(t) = &tlsa.rdatas[0] else {
                    panic!()
                };
                assert_eq!(
                    t.cert_data == served.spki_sha256.as_slice(),
                    h.tlsa_generation == Some(h.cert_generation)
                );
                checked += 1;
            }
        }
        assert!(checked > 0);
    }

    #[test]
    fn directories_find_hosts_by_address() {
        let w = world();
        let pop = w.population();
        let mut smtp = 0;
        let mut https = 0;
        for i in 0..pop.len() {
            let d = pop.domain(i);
            if matches!(d.mail, MailKind::SelfHosted | MailKind::Implicit) {
                for h in &d.mx {
                    if let Some(a) = h.reach.v4() {
                        let host = w.smtp_host(a).unwrap();
                        assert_eq!(host.name, h.name);
                        smtp += 1;
                    }
                }
            }
            if let Some(sts) = &d.sts
                && let Some(a) = sts.policy_reach(i).and_then(Reach::v4)
            {
                let sni = format!("mta-sts.{}", d.name);
                let host = w.policy_host(Some(&sni), a).unwrap();
                assert_eq!(host.cert.names, vec![sni]);
                assert_eq!(host.body, sts.served_body());
                https += 1;
            }
        }
        assert!(smtp > 100 && https > 10, "{smtp} {https}");
        let pr = &pop.providers()[0];
        let Reach::V4(a) = pr.mx[0].reach else {
            panic!()
        };
        assert_eq!(w.smtp_host(a).unwrap().name, pr.mx[0].name);
        assert!(w.smtp_host(Ipv4Addr::new(127, 0, 0, 1)).is_none());
    }

    #[test]
    fn planted_records_and_behaviours_are_served() {
        let pop = Arc::new(Population::new(9, 60_000, Profile::default()).unwrap());
        let w = WorldZones::new(pop.clone(), Arc::new(Pki::new(9).unwrap()));
        let mut seen = std::collections::HashSet::new();
        for i in 0..pop.len() {
            let d = pop.domain(i);
            if crate::truth::zone_fails(&d) || d.mail != MailKind::SelfHosted {
                continue;
            }
            let zone = w.zone_for(&fqdn(&d.name).unwrap()).unwrap();
            for h in &d.mx {
                if h.tlsa_generation.is_some() {
                    let set = w.tlsa_set(h).unwrap();
                    let RData::TLSA(t) = &set.rdatas[0] else {
                        panic!()
                    };
                    let want = match h.tlsa_kind {
                        TlsaKind::DaneEe => (CertUsage::DaneEe, Selector::Spki, Matching::Sha256),
                        TlsaKind::DaneTa => (CertUsage::DaneTa, Selector::Full, Matching::Sha256),
                        TlsaKind::PkixEe => (CertUsage::PkixEe, Selector::Spki, Matching::Sha256),
                        TlsaKind::UnassignedMatching => {
                            (CertUsage::DaneEe, Selector::Spki, Matching::Unassigned(3))
                        }
                    };
                    assert_eq!((t.cert_usage, t.selector, t.matching), want);
                    if h.tlsa_kind == TlsaKind::DaneTa {
                        assert_eq!(t.cert_data, w.pki.root().cert_sha256().to_vec());
                    }
                    seen.insert(format!("{:?}", h.tlsa_kind));
                }
                if let Reach::DualStack(a) = h.reach {
                    let n = fqdn(&h.name).unwrap();
                    let types = data_types(&w.lookup(&zone, &n));
                    assert_eq!(types, vec![RecordType::A, RecordType::AAAA]);
                    assert_eq!(w.smtp_host(a).unwrap().behavior, SmtpBehavior::Normal);
                    seen.insert("dual".to_owned());
                }
                if h.fault == Some(SmtpFault::Tarpit) {
                    let a = h.reach.v4().unwrap();
                    assert_eq!(w.smtp_host(a).unwrap().behavior, SmtpBehavior::Tarpit);
                    seen.insert("tarpit".to_owned());
                }
            }
            let Some(sts) = &d.sts else { continue };
            let host = fqdn(&format!("mta-sts.{}", d.name)).unwrap();
            match sts.fetch_fault {
                Some(FetchFault::PolicyHostNoAddress) => {
                    assert!(matches!(w.lookup(&zone, &host), NameData::EmptyNonTerminal));
                    seen.insert("no_address".to_owned());
                }
                Some(FetchFault::PolicyHostDnsError) => {
                    assert_eq!(data_types(&w.lookup(&zone, &host)), vec![RecordType::CNAME]);
                    seen.insert("dns_error".to_owned());
                }
                Some(FetchFault::ContentTypeMissing) => {
                    let a = sts.policy_reach(i).and_then(Reach::v4).unwrap();
                    let served = w.policy_host(Some(&host.to_ascii()), a).unwrap();
                    assert_eq!(served.content_type, None);
                    seen.insert("no_content_type".to_owned());
                }
                _ => {}
            }
        }
        assert!(seen.len() >= 8, "{seen:?}");
    }

    #[test]
    fn canaries_are_served_in_every_world() {
        for n in [1, 3000] {
            let pop = Arc::new(Population::new(9, n, Profile::default()).unwrap());
            let w = WorldZones::new(pop.clone(), Arc::new(Pki::new(9).unwrap()));
            let net = w.zone_for(&fqdn("net").unwrap()).unwrap();
            for (text, addr, good_ds) in [
                (CANARY_SECURE, CANARY_SECURE_ADDR, true),
                (CANARY_BOGUS, CANARY_BOGUS_ADDR, false),
            ] {
                assert!(pop.index_of(text).is_none() && pop.provider_by_zone(text).is_none());
                assert!(pop.served_suffixes().contains(&"net".to_owned()));
                let apex = fqdn(text).unwrap();
                let zone = w.zone_for(&apex).unwrap();
                assert_eq!(text_of(&zone.apex), text);
                assert!(matches!(
                    zone.signing,
                    Signing::Signed {
                        fault: SigningFault::None,
                        ..
                    }
                ));
                let NameData::Data(sets) = w.lookup(&zone, &apex) else {
                    panic!("{text}")
                };
                let a = sets.iter().find(|s| s.rtype == RecordType::A).unwrap();
                assert_eq!(a.rdatas, vec![RData::A(A(addr))]);
                let www = fqdn(&format!("www.{text}")).unwrap();
                assert!(matches!(w.lookup(&zone, &www), NameData::NxDomain));
                let NameData::Delegation(del) = w.lookup(&net, &apex) else {
                    panic!("{text}")
                };
                let key = ZoneKey::derive(9, &apex);
                assert_eq!(del.ds.len(), 1);
                assert_eq!(del.ds[0] == ds_for(&apex, &key), good_ds, "{text}");
            }
        }
    }

    #[test]
    fn root_ds_line_is_presentation_format() {
        let line = world().root_ds_line();
        assert!(line.starts_with(". 3600 IN DS "));
        assert!(line.contains(" 15 2 "));
    }
}
