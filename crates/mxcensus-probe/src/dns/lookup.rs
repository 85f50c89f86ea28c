//! Lookups with their evidence and DNSSEC status, the typed helpers the crawler uses
//! (MX, TXT, addresses, TLSA, RFC 7672 §2.2 TLSA base domains) and the validator canaries.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hickory_proto::rr::{Name, RecordType};
use mxcensus_proto::tlsa::TlsaRecord;

use super::client::{DnsClient, Exchange, QueryResult};
use super::status::{DnssecStatus, LookupStatus};
use super::wire::{AnswerRecord, CnameLink, ExtendedError, RecordValue};

/// What one query (with its retries) brought back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryEvidence {
    /// Final class.
    pub status: LookupStatus,
    /// Raw RCODE of the final response, if one was decoded.
    pub rcode: Option<u16>,
    /// AD on the final response.
    pub authentic_data: bool,
    /// Records of the asked type at the end of the CNAME chain.
    pub answers: Vec<AnswerRecord>,
    /// CNAME chain from the query name (owner -> target, in order).
    pub cname_chain: Vec<CnameLink>,
    /// The chain looped or was too long.
    pub cname_loop: bool,
    /// Extended DNS Errors (RFC 8914).
    pub extended_errors: Vec<ExtendedError>,
    /// Owner of the SOA in the authority section (zone of a negative answer).
    pub soa_owner: Option<Name>,
    /// Tries made.
    pub attempts: u32,
    /// Every exchange (UDP and TCP) in order.
    pub exchanges: Vec<Exchange>,
    /// Time spent, backoff included.
    pub elapsed: Duration,
}

impl From<QueryResult> for QueryEvidence {
    fn from(result: QueryResult) -> Self {
        let (rcode, authentic_data, answers, cname_chain, cname_loop, extended_errors, soa_owner) =
            match result.response {
                Some(r) => (
                    Some(u16::from(r.rcode)),
                    r.authentic_data,
                    r.answers,
                    r.cname_chain,
                    r.cname_loop,
                    r.extended_errors,
                    r.soa_owner,
                ),
                None => (None, false, Vec::new(), Vec::new(), false, Vec::new(), None),
            };
        QueryEvidence {
            status: result.status,
            rcode,
            authentic_data,
            answers,
            cname_chain,
            cname_loop,
            extended_errors,
            soa_owner,
            attempts: result.attempts,
            exchanges: result.exchanges,
            elapsed: result.elapsed,
        }
    }
}

impl QueryEvidence {
    fn invalid_name() -> QueryEvidence {
        QueryEvidence {
            status: LookupStatus::InvalidName,
            rcode: None,
            authentic_data: false,
            answers: Vec::new(),
            cname_chain: Vec::new(),
            cname_loop: false,
            extended_errors: Vec::new(),
            soa_owner: None,
            attempts: 0,
            exchanges: Vec::new(),
            elapsed: Duration::ZERO,
        }
    }
}

/// One lookup: the query (CD=0), the CD=1 re-query after SERVFAIL, and the DNSSEC status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsLookup {
    /// Query name (absolute).
    pub name: Name,
    /// Query type.
    pub rtype: RecordType,
    /// The query as normally asked (CD=0).
    pub result: QueryEvidence,
    /// After SERVFAIL only: the same question with CD=1 (RFC 4035 §5.5, SPEC §G step 4).
    pub cd_requery: Option<QueryEvidence>,
    /// Derived DNSSEC status.
    pub dnssec: DnssecStatus,
    /// Whole lookup time.
    pub elapsed: Duration,
}

impl DnsLookup {
    /// Final outcome class.
    pub fn status(&self) -> LookupStatus {
        self.result.status
    }

    /// AD on the answer.
    pub fn authentic_data(&self) -> bool {
        self.result.authentic_data
    }

    /// Records of the asked type.
    pub fn answers(&self) -> &[AnswerRecord] {
        &self.result.answers
    }

    /// CNAME chain from the query name.
    pub fn cname_chain(&self) -> &[CnameLink] {
        &self.result.cname_chain
    }

    /// Tries made, re-query included.
    pub fn attempts(&self) -> u32 {
        self.result.attempts + self.cd_requery.as_ref().map_or(0, |c| c.attempts)
    }

    /// The name the answers belong to: the end of the CNAME chain, else the query name.
    pub fn final_name(&self) -> &Name {
        self.result
            .cname_chain
            .last()
            .map_or(&self.name, |link| &link.target)
    }

    /// DNSSEC status as derived for a resolver that is (or is not) proven to validate.
    fn derive_dnssec(&self, validator_ok: bool) -> DnssecStatus {
        DnssecStatus::derive(
            self.result.status,
            self.result.authentic_data,
            self.result
                .extended_errors
                .iter()
                .any(ExtendedError::indicates_bogus),
            self.cd_requery.as_ref().map(|c| c.status),
            validator_ok,
        )
    }

    fn invalid(name: Name, rtype: RecordType) -> DnsLookup {
        DnsLookup {
            name,
            rtype,
            result: QueryEvidence::invalid_name(),
            cd_requery: None,
            dnssec: DnssecStatus::Error,
            elapsed: Duration::ZERO,
        }
    }
}

/// One MX record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxExchange {
    /// Preference (lower first).
    pub preference: u16,
    /// Exchange host.
    pub exchange: Name,
}

/// What the MX RRset says about delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MxOutcome {
    /// MX records, sorted by preference (stable: equal preferences keep answer order).
    Exchanges(Vec<MxExchange>),
    /// Exactly one record `0 .`: the domain accepts no mail (RFC 7505 §3).
    NullMx,
    /// A `0 .` record among others, which RFC 7505 §3 forbids; all records, sorted.
    NullMxWithOthers(Vec<MxExchange>),
    /// NODATA: no MX, so the domain itself is the implicit MX (RFC 5321 §5.1).
    NoMx,
    /// The domain does not exist.
    NxDomain,
    /// No answer (see the lookup's status).
    Failed,
}

/// MX lookup with its evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MxLookup {
    /// The lookup.
    pub lookup: DnsLookup,
    /// What it means.
    pub outcome: MxOutcome,
}

impl MxLookup {
    /// Hosts to deliver to, in preference order: the exchanges, or the domain itself for
    /// an implicit MX; none for a null MX, a missing domain or a failure.
    pub fn hosts(&self) -> Vec<Name> {
        match &self.outcome {
            MxOutcome::Exchanges(list) => list.iter().map(|mx| mx.exchange.clone()).collect(),
            MxOutcome::NoMx => vec![self.lookup.name.clone()],
            _ => Vec::new(),
        }
    }
}

/// TXT lookup: each record's character-strings as bytes, in order (join them to read a
/// record, RFC 7208 §3.3, RFC 8461 §3.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxtLookup {
    /// The lookup.
    pub lookup: DnsLookup,
    /// One entry per TXT record.
    pub records: Vec<Vec<Vec<u8>>>,
}

impl TxtLookup {
    /// Each record's strings concatenated.
    pub fn joined(&self) -> Vec<Vec<u8>> {
        self.records.iter().map(|r| r.concat()).collect()
    }
}

/// A and AAAA of one host, each with its own status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressLookup {
    /// The host asked for.
    pub host: Name,
    /// The A lookup.
    pub a: DnsLookup,
    /// The AAAA lookup.
    pub aaaa: DnsLookup,
}

impl AddressLookup {
    /// IPv4 addresses.
    pub fn ipv4(&self) -> Vec<Ipv4Addr> {
        self.a
            .answers()
            .iter()
            .filter_map(|r| match r.value {
                RecordValue::A(ip) => Some(ip),
                _ => None,
            })
            .collect()
    }

    /// IPv6 addresses.
    pub fn ipv6(&self) -> Vec<Ipv6Addr> {
        self.aaaa
            .answers()
            .iter()
            .filter_map(|r| match r.value {
                RecordValue::Aaaa(ip) => Some(ip),
                _ => None,
            })
            .collect()
    }

    /// All addresses, IPv6 first (RFC 6724 default preference).
    pub fn all(&self) -> Vec<IpAddr> {
        let mut all: Vec<IpAddr> = self.ipv6().into_iter().map(IpAddr::V6).collect();
        all.extend(self.ipv4().into_iter().map(IpAddr::V4));
        all
    }

    /// The CNAME chain (from whichever lookup answered with one).
    pub fn cname_chain(&self) -> &[CnameLink] {
        if self.a.cname_chain().is_empty() {
            self.aaaa.cname_chain()
        } else {
            self.a.cname_chain()
        }
    }

    /// The weaker of the two statuses: bogus, then error, unknown, insecure, secure. A
    /// secure denial of one type counts as secure.
    pub fn dnssec(&self) -> DnssecStatus {
        weakest(self.a.dnssec, self.aaaa.dnssec)
    }
}

fn weakest(a: DnssecStatus, b: DnssecStatus) -> DnssecStatus {
    fn rank(s: DnssecStatus) -> u8 {
        match s {
            DnssecStatus::Bogus => 0,
            DnssecStatus::Error => 1,
            DnssecStatus::Unknown => 2,
            DnssecStatus::Insecure => 3,
            DnssecStatus::Secure => 4,
        }
    }
    if rank(a) <= rank(b) { a } else { b }
}

/// TLSA lookup at `_<port>._tcp.<host>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaLookup {
    /// The TLSA base domain asked for.
    pub base: Name,
    /// The lookup (its name is the owner `_<port>._tcp.<base>`).
    pub lookup: DnsLookup,
    /// The records, fields as published.
    pub records: Vec<TlsaRecord>,
}

/// `_<port>._tcp.<host>` (RFC 6698 §3), or `None` when that exceeds 255 octets.
pub fn tlsa_owner(port: u16, host: &Name) -> Option<Name> {
    let mut host = host.clone();
    host.set_fqdn(true);
    host.prepend_label("_tcp")
        .and_then(|n| n.prepend_label(format!("_{port}")))
        .ok()
}

/// Why DANE does not apply to a host, from its address records (RFC 7672 §2.2.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CandidateDecision {
    /// TLSA base domains to try, in order.
    Candidates,
    /// Not a CNAME and the address RRsets are insecure: no DANE.
    InsecureAddresses,
    /// A CNAME whose first link is insecure, final addresses insecure: no DANE.
    InsecureCname,
    /// Address (or CNAME) lookup bogus or failed: a DANE sender skips or defers the host
    /// (RFC 7672 §2.1.2).
    LookupFailed,
    /// The resolver is not proven to validate: no DNSSEC-based decision possible.
    ValidatorUnknown,
}

/// RFC 7672 §2.2.2: which names may be TLSA base domains for an MX host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DaneCandidates {
    /// The MX host (or the domain, for an implicit MX).
    pub host: Name,
    /// Its A/AAAA lookups.
    pub addresses: AddressLookup,
    /// With a CNAME and insecure final addresses: the CNAME query at the host, telling
    /// whether the first link is secure (RFC 7672 §2.1.3).
    pub first_cname: Option<DnsLookup>,
    /// The decision.
    pub decision: CandidateDecision,
    /// TLSA base domains in order (empty unless `decision` is `Candidates`). Intermediate
    /// names of a chain are never candidates (§2.2.3).
    pub candidates: Vec<Name>,
}

/// The outcome of TLSA discovery over the candidates (RFC 7672 §2.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsaOutcome {
    /// The first secure non-empty TLSA RRset: it fixes the TLSA base domain.
    Secure {
        /// TLSA base domain.
        base: Name,
        /// The records.
        records: Vec<TlsaRecord>,
    },
    /// No secure RRset, but records exist (insecure, or validator unknown).
    NotSecure {
        /// Where they were found (the first such candidate).
        base: Name,
        /// The records.
        records: Vec<TlsaRecord>,
        /// Their status.
        dnssec: DnssecStatus,
    },
    /// No TLSA records at any candidate.
    NoRecords,
    /// A TLSA lookup was bogus or failed: the host MUST be treated as unreachable by DANE
    /// senders (RFC 7672 §2.1.2).
    Failed {
        /// The TLSA base domain whose lookup failed.
        base: Name,
        /// Bogus or error.
        dnssec: DnssecStatus,
    },
    /// DANE does not apply: see the candidates' decision. The TLSA lookup at the host
    /// itself is still in `lookups`, as evidence of records published anyway.
    NotApplicable,
}

/// TLSA lookups over the candidates and their outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsaDiscovery {
    /// Lookups made, in order.
    pub lookups: Vec<TlsaLookup>,
    /// What they mean.
    pub outcome: TlsaOutcome,
}

/// The canary check (SPEC §G step 6).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidatorCheck {
    /// The resolver validates: AD on the secure canary, SERVFAIL on the bogus one with its
    /// data present under CD=1, over a trusted path.
    pub validates: bool,
    /// AD=1 on the secure canary's answer.
    pub secure_ad: bool,
    /// SERVFAIL on the bogus canary.
    pub bogus_servfail: bool,
    /// The bogus canary answered with CD=1 (it is bogus, not broken).
    pub bogus_data_with_cd: bool,
    /// The resolvers are on loopback (or trusted by configuration).
    pub path_trusted: bool,
    /// Evidence: the secure canary's lookup.
    pub secure: DnsLookup,
    /// Evidence: the bogus canary's lookup.
    pub bogus: DnsLookup,
}

/// Runs the canaries (type A) and records the verdict in the client, so later lookups get
/// a DNSSEC status other than `Unknown` only if the resolver validates.
pub async fn check_validator(
    client: &DnsClient,
    secure_name: &Name,
    bogus_name: &Name,
) -> ValidatorCheck {
    let (mut secure, mut bogus) = tokio::join!(
        client.lookup(secure_name, RecordType::A),
        client.lookup(bogus_name, RecordType::A)
    );
    let secure_ad = secure.status().is_answer() && secure.authentic_data();
    let bogus_servfail = bogus.status() == LookupStatus::ServFail;
    let bogus_data_with_cd = bogus
        .cd_requery
        .as_ref()
        .is_some_and(|c| c.status.is_answer());
    let path_trusted = client.config().ad_path_trusted();
    let validates = secure_ad && bogus_servfail && bogus_data_with_cd && path_trusted;
    client.set_validator_ok(validates);
    secure.dnssec = secure.derive_dnssec(validates);
    bogus.dnssec = bogus.derive_dnssec(validates);
    ValidatorCheck {
        validates,
        secure_ad,
        bogus_servfail,
        bogus_data_with_cd,
        path_trusted,
        secure,
        bogus,
    }
}

impl DnsClient {
    /// Looks up `name`/`rtype`; after SERVFAIL asks again with CD=1; derives the DNSSEC
    /// status.
    pub async fn lookup(&self, name: &Name, rtype: RecordType) -> DnsLookup {
        let mut name = name.clone();
        name.set_fqdn(true);
        let result = QueryEvidence::from(self.query(&name, rtype, false).await);
        let cd_requery = if result.status == LookupStatus::ServFail {
            Some(QueryEvidence::from(self.query(&name, rtype, true).await))
        } else {
            None
        };
        let mut lookup = DnsLookup {
            name,
            rtype,
            result,
            cd_requery,
            dnssec: DnssecStatus::Unknown,
            elapsed: Duration::ZERO,
        };
        lookup.dnssec =
            lookup.derive_dnssec(self.validator_ok() && self.config().ad_path_trusted());
        // The two queries' times (no clock read of its own: this is the hot path).
        lookup.elapsed = lookup.result.elapsed
            + lookup
                .cd_requery
                .as_ref()
                .map_or(Duration::ZERO, |c| c.elapsed);
        lookup
    }

    /// MX of `domain`, with null MX (RFC 7505) and implicit MX (RFC 5321 §5.1) told apart.
    pub async fn mx(&self, domain: &Name) -> MxLookup {
        let lookup = self.lookup(domain, RecordType::MX).await;
        let mut list: Vec<MxExchange> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.value {
                RecordValue::Mx {
                    preference,
                    exchange,
                } => Some(MxExchange {
                    preference: *preference,
                    exchange: exchange.clone(),
                }),
                _ => None,
            })
            .collect();
        list.sort_by_key(|mx| mx.preference);
        let is_null = |mx: &MxExchange| mx.preference == 0 && mx.exchange.is_root();
        let outcome = match lookup.status() {
            LookupStatus::NoError if list.len() == 1 && list.iter().all(is_null) => {
                MxOutcome::NullMx
            }
            LookupStatus::NoError if list.iter().any(is_null) => MxOutcome::NullMxWithOthers(list),
            LookupStatus::NoError => MxOutcome::Exchanges(list),
            LookupStatus::NoData => MxOutcome::NoMx,
            LookupStatus::NxDomain => MxOutcome::NxDomain,
            _ => MxOutcome::Failed,
        };
        MxLookup { lookup, outcome }
    }

    /// TXT records at `name`.
    pub async fn txt(&self, name: &Name) -> TxtLookup {
        let lookup = self.lookup(name, RecordType::TXT).await;
        let records = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.value {
                RecordValue::Txt(strings) => Some(strings.clone()),
                _ => None,
            })
            .collect();
        TxtLookup { lookup, records }
    }

    /// A and AAAA of `host`, asked concurrently.
    pub async fn addresses(&self, host: &Name) -> AddressLookup {
        let (a, aaaa) = tokio::join!(
            self.lookup(host, RecordType::A),
            self.lookup(host, RecordType::AAAA)
        );
        let mut host = host.clone();
        host.set_fqdn(true);
        AddressLookup { host, a, aaaa }
    }

    /// TLSA at `_<port>._tcp.<host>`.
    pub async fn tlsa(&self, port: u16, host: &Name) -> TlsaLookup {
        let mut base = host.clone();
        base.set_fqdn(true);
        let lookup = match tlsa_owner(port, &base) {
            Some(owner) => self.lookup(&owner, RecordType::TLSA).await,
            None => DnsLookup::invalid(base.clone(), RecordType::TLSA),
        };
        let records = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.value {
                RecordValue::Tlsa(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        TlsaLookup {
            base,
            lookup,
            records,
        }
    }

    /// RFC 7672 §2.2.2: resolves `host`'s addresses and decides the TLSA base candidates.
    pub async fn dane_candidates(&self, host: &Name) -> DaneCandidates {
        let addresses = self.addresses(host).await;
        let host = addresses.host.clone();
        let chain_end = addresses.cname_chain().last().map(|l| l.target.clone());
        let mut first_cname = None;
        let (decision, candidates) = match (addresses.dnssec(), chain_end) {
            (DnssecStatus::Bogus | DnssecStatus::Error, _) => {
                (CandidateDecision::LookupFailed, vec![])
            }
            (DnssecStatus::Unknown, _) => (CandidateDecision::ValidatorUnknown, vec![]),
            (DnssecStatus::Secure, None) => (CandidateDecision::Candidates, vec![host.clone()]),
            (DnssecStatus::Insecure, None) => (CandidateDecision::InsecureAddresses, vec![]),
            // AD covers the whole chain: expanded name first, then the original.
            (DnssecStatus::Secure, Some(end)) => {
                (CandidateDecision::Candidates, vec![end, host.clone()])
            }
            (DnssecStatus::Insecure, Some(_)) => {
                let cname = self.lookup(&host, RecordType::CNAME).await;
                let decision = match cname.dnssec {
                    DnssecStatus::Secure => (CandidateDecision::Candidates, vec![host.clone()]),
                    DnssecStatus::Insecure => (CandidateDecision::InsecureCname, vec![]),
                    DnssecStatus::Unknown => (CandidateDecision::ValidatorUnknown, vec![]),
                    DnssecStatus::Bogus | DnssecStatus::Error => {
                        (CandidateDecision::LookupFailed, vec![])
                    }
                };
                first_cname = Some(cname);
                decision
            }
        };
        DaneCandidates {
            host,
            addresses,
            first_cname,
            decision,
            candidates,
        }
    }

    /// RFC 7672 §2.2.3: TLSA at each candidate in turn until the first secure RRset;
    /// insecure or securely denied answers move on; a bogus or failed lookup stops.
    /// Without candidates, the host's own TLSA is looked up as evidence only.
    pub async fn tlsa_discovery(&self, port: u16, candidates: &DaneCandidates) -> TlsaDiscovery {
        if candidates.decision != CandidateDecision::Candidates {
            let lookup = self.tlsa(port, &candidates.host).await;
            let outcome = match candidates.decision {
                CandidateDecision::LookupFailed => TlsaOutcome::Failed {
                    base: candidates.host.clone(),
                    dnssec: candidates.addresses.dnssec(),
                },
                _ => TlsaOutcome::NotApplicable,
            };
            return TlsaDiscovery {
                lookups: vec![lookup],
                outcome,
            };
        }
        let mut lookups: Vec<TlsaLookup> = Vec::new();
        let mut not_secure: Option<(Name, Vec<TlsaRecord>, DnssecStatus)> = None;
        for base in &candidates.candidates {
            let lookup = self.tlsa(port, base).await;
            let dnssec = lookup.lookup.dnssec;
            let records = lookup.records.clone();
            lookups.push(lookup);
            match dnssec {
                DnssecStatus::Secure if !records.is_empty() => {
                    return TlsaDiscovery {
                        lookups,
                        outcome: TlsaOutcome::Secure {
                            base: base.clone(),
                            records,
                        },
                    };
                }
                DnssecStatus::Secure => {}
                DnssecStatus::Insecure | DnssecStatus::Unknown => {
                    if !records.is_empty() && not_secure.is_none() {
                        not_secure = Some((base.clone(), records, dnssec));
                    }
                }
                DnssecStatus::Bogus | DnssecStatus::Error => {
                    return TlsaDiscovery {
                        lookups,
                        outcome: TlsaOutcome::Failed {
                            base: base.clone(),
                            dnssec,
                        },
                    };
                }
            }
        }
        let outcome = match not_secure {
            Some((base, records, dnssec)) => TlsaOutcome::NotSecure {
                base,
                records,
                dnssec,
            },
            None => TlsaOutcome::NoRecords,
        };
        TlsaDiscovery { lookups, outcome }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    #[test]
    fn tlsa_owner_prepends_port_and_proto() {
        assert_eq!(
            tlsa_owner(25, &n("mx.example.com")),
            Some(n("_25._tcp.mx.example.com."))
        );
        assert_eq!(
            tlsa_owner(2525, &n("mx.example.")),
            Some(n("_2525._tcp.mx.example."))
        );
        let long = format!("{}.", vec!["a".repeat(62); 4].join("."));
        assert_eq!(tlsa_owner(25, &n(&long)), None);
    }

    #[test]
    fn weakest_status_wins() {
        use DnssecStatus as D;
        assert_eq!(weakest(D::Secure, D::Insecure), D::Insecure);
        assert_eq!(weakest(D::Error, D::Bogus), D::Bogus);
        assert_eq!(weakest(D::Secure, D::Secure), D::Secure);
        assert_eq!(weakest(D::Unknown, D::Insecure), D::Unknown);
        assert_eq!(weakest(D::Secure, D::Error), D::Error);
    }
}
