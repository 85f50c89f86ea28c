//! Query processing: one wire query in, one wire response out (or nothing, for the
//! planted time-outs). Pure and synchronous, so the servers stay thin and the whole
//! logic is testable without sockets.
use std::sync::Arc;

use hickory_proto::dnssec::rdata::{DNSSECRData, NSEC};
use hickory_proto::op::{Edns, Message, OpCode, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

use super::denial::{self, Interval};
use super::sign::{SigCache, rrsig};
use super::zone::{Delegation, Denial, NameData, RrSet, Signing, Zone, ZoneSource, fqdn_lower};

/// The transport a query arrived on (decides truncation and the planted UDP faults).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// UDP: responses are limited to the client's EDNS size (512 without EDNS).
    Udp,
    /// TCP: no size limit below 65535.
    Tcp,
}

/// TTL of the synthesised DNSKEY RRset.
const DNSKEY_TTL: u32 = 3600;
/// Longest CNAME chain followed inside one zone (loops end here too).
const MAX_CNAME_CHAIN: usize = 8;
/// The EDNS UDP payload size this server advertises (RFC 9715 / DNS flag day 2020).
const SERVER_UDP_PAYLOAD: u16 = 1232;
/// Largest UDP response sent whatever the client advertised.
const MAX_UDP_RESPONSE: usize = 4096;
/// Default number of cached signatures.
pub const DEFAULT_SIG_CACHE: usize = 1 << 18;

/// The authoritative engine: answers queries for every zone of a [`ZoneSource`].
pub struct Engine {
    source: Arc<dyn ZoneSource>,
    sigs: SigCache,
}

/// The sections and header bits of one answer being built.
struct Answer {
    rcode: ResponseCode,
    authoritative: bool,
    answers: Vec<Record>,
    authorities: Vec<Record>,
}

/// What one resolution step inside a zone ended with.
enum Step {
    Done,
    Cname(Name),
}

/// The type bitmap an NSEC owned by a name carries.
fn nsec_types(mut types: Vec<RecordType>) -> Vec<RecordType> {
    types.push(RecordType::NSEC);
    types.push(RecordType::RRSIG);
    types.sort();
    types.dedup();
    types
}

fn label_count(name: &Name) -> usize {
    name.iter().count()
}

impl Engine {
    /// An engine over `source` with the default signature cache.
    pub fn new(source: Arc<dyn ZoneSource>) -> Self {
        Self::with_cache_capacity(source, DEFAULT_SIG_CACHE)
    }

    /// An engine over `source` caching at most about `capacity` signatures.
    pub fn with_cache_capacity(source: Arc<dyn ZoneSource>, capacity: usize) -> Self {
        Self {
            source,
            sigs: SigCache::new(capacity),
        }
    }

    /// The number of signatures currently cached.
    pub fn cached_signatures(&self) -> usize {
        self.sigs.len()
    }

    /// The wire response to the wire `query`, or `None` when no response must be sent
    /// (too short to answer, a response rather than a query, or a zone planted to time
    /// out). Never panics on any input.
    pub fn answer(&self, query: &[u8], transport: Transport) -> Option<Vec<u8>> {
        let header: [u8; 12] = query.get(..12)?.try_into().ok()?;
        // QR set: a response; answering it could loop between servers.
        if header[2] & 0x80 != 0 {
            return None;
        }
        let request = match Message::from_vec(query) {
            Ok(m) => m,
            Err(_) => return Some(format_error(&header)),
        };
        let mut response = Message::response(request.metadata.id, request.metadata.op_code);
        response.metadata.recursion_desired = request.metadata.recursion_desired;
        response.metadata.checking_disabled = request.metadata.checking_disabled;
        response.queries = request.queries.clone();
        let dnssec_ok = request.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok);
        if let Some(req_edns) = &request.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(SERVER_UDP_PAYLOAD);
            edns.set_dnssec_ok(dnssec_ok);
            response.set_edns(edns);
            if req_edns.version() > 0 {
                response.metadata.response_code = ResponseCode::BADVERS;
                return finish(response, &request, transport);
            }
        }
        if request.metadata.op_code != OpCode::Query {
            response.metadata.response_code = ResponseCode::NotImp;
            return finish(response, &request, transport);
        }
        let [question] = request.queries.as_slice() else {
            response.metadata.response_code = ResponseCode::FormErr;
            return finish(response, &request, transport);
        };
        let qtype = question.query_type;
        if question.query_class != DNSClass::IN
            || matches!(qtype, RecordType::AXFR | RecordType::IXFR | RecordType::OPT)
        {
            response.metadata.response_code = ResponseCode::Refused;
            return finish(response, &request, transport);
        }
        let qname = fqdn_lower(&question.name);
        let Some(zone) = self.zone_for(&qname, qtype) else {
            response.metadata.response_code = ResponseCode::Refused;
            return finish(response, &request, transport);
        };
        match zone.behavior {
            super::Behavior::Timeout => return None,
            super::Behavior::ServFail => {
                response.metadata.response_code = ResponseCode::ServFail;
                return finish(response, &request, transport);
            }
            super::Behavior::Refused => {
                response.metadata.response_code = ResponseCode::Refused;
                return finish(response, &request, transport);
            }
            super::Behavior::TruncateUdp if transport == Transport::Udp => {
                response.metadata.authoritative = true;
                response.metadata.truncation = true;
                return finish(response, &request, transport);
            }
            super::Behavior::TruncateUdp | super::Behavior::Normal => {}
        }
        let answer = self.resolve(&zone, &qname, qtype, dnssec_ok);
        response.metadata.response_code = answer.rcode;
        response.metadata.authoritative = answer.authoritative;
        response.answers = answer.answers;
        response.authorities = answer.authorities;
        finish(response, &request, transport)
    }

    /// The zone answering `qname`: the deepest served zone, or for DS at a zone apex
    /// the parent (RFC 4035 §3.1.4.1). `None` when no served zone contains the name.
    fn zone_for(&self, qname: &Name, qtype: RecordType) -> Option<Arc<Zone>> {
        let zone = self.source.zone_for(qname)?;
        if !zone.apex.zone_of(qname) {
            return None;
        }
        if qtype == RecordType::DS
            && zone.apex == *qname
            && !qname.is_root()
            && let Some(parent) = self.source.zone_for(&qname.base_name())
            && parent.apex.zone_of(qname)
            && parent.apex != *qname
        {
            return Some(parent);
        }
        Some(zone)
    }

    fn resolve(&self, zone: &Zone, qname: &Name, qtype: RecordType, dnssec_ok: bool) -> Answer {
        let mut answer = Answer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers: Vec::new(),
            authorities: Vec::new(),
        };
        let mut name = qname.clone();
        for _ in 0..MAX_CNAME_CHAIN {
            match self.resolve_step(zone, &name, qtype, dnssec_ok, &mut answer) {
                Step::Done => break,
                Step::Cname(target) => {
                    let target = fqdn_lower(&target);
                    // Out-of-zone targets are left to the resolver, as authoritative
                    // servers do.
                    if !zone.apex.zone_of(&target) || target == name {
                        break;
                    }
                    name = target;
                }
            }
        }
        answer
    }

    /// Answers `name`/`qtype` from `zone` into `answer`.
    fn resolve_step(
        &self,
        zone: &Zone,
        name: &Name,
        qtype: RecordType,
        dnssec_ok: bool,
        answer: &mut Answer,
    ) -> Step {
        let apex_labels = label_count(&zone.apex);
        let name_labels = label_count(name);
        // Walk down from the apex: a cut above the name means a referral, a missing
        // ancestor means the name does not exist either.
        for depth in apex_labels + 1..name_labels {
            let ancestor = name.trim_to(depth);
            match self.source.lookup(zone, &ancestor) {
                NameData::Delegation(cut) => {
                    self.referral(zone, &ancestor, &cut, dnssec_ok, answer);
                    return Step::Done;
                }
                NameData::NxDomain => {
                    self.nxdomain(zone, &ancestor, dnssec_ok, answer);
                    return Step::Done;
                }
                NameData::EmptyNonTerminal | NameData::Data(_) => {}
            }
        }
        let at_apex = *name == zone.apex;
        match self.source.lookup(zone, name) {
            NameData::NxDomain if !at_apex => self.nxdomain(zone, name, dnssec_ok, answer),
            NameData::NxDomain | NameData::EmptyNonTerminal => {
                self.nodata(zone, name, Vec::new(), dnssec_ok, answer)
            }
            NameData::Delegation(cut) if at_apex => {
                // A source bug (a zone delegating its own apex): answer as empty.
                let _ = cut;
                self.nodata(zone, name, Vec::new(), dnssec_ok, answer)
            }
            NameData::Delegation(cut) => {
                if qtype != RecordType::DS {
                    self.referral(zone, name, &cut, dnssec_ok, answer);
                } else if cut.ds.is_empty() {
                    self.nodata(zone, name, cut_types(&cut), dnssec_ok, answer);
                } else {
                    let ds = ds_rdatas(&cut);
                    self.push_rrset(zone, dnssec_ok, &mut answer.answers, name, cut.ttl, &ds);
                }
            }
            NameData::Data(sets) => {
                let dnskey = self.dnskey_rdata(zone, at_apex);
                if qtype == RecordType::ANY {
                    for set in &sets {
                        self.push_rrset(
                            zone,
                            dnssec_ok,
                            &mut answer.answers,
                            name,
                            set.ttl,
                            &set.rdatas,
                        );
                    }
                    if let Some(dnskey) = dnskey {
                        self.push_rrset(
                            zone,
                            dnssec_ok,
                            &mut answer.answers,
                            name,
                            DNSKEY_TTL,
                            &dnskey,
                        );
                    }
                } else if qtype == RecordType::DNSKEY
                    && let Some(dnskey) = dnskey
                {
                    self.push_rrset(
                        zone,
                        dnssec_ok,
                        &mut answer.answers,
                        name,
                        DNSKEY_TTL,
                        &dnskey,
                    );
                } else if let Some(set) = sets.iter().find(|s| s.rtype == qtype) {
                    self.push_rrset(
                        zone,
                        dnssec_ok,
                        &mut answer.answers,
                        name,
                        set.ttl,
                        &set.rdatas,
                    );
                } else if let Some(set) = sets.iter().find(|s| s.rtype == RecordType::CNAME)
                    && let Some(RData::CNAME(target)) = set.rdatas.first()
                {
                    self.push_rrset(
                        zone,
                        dnssec_ok,
                        &mut answer.answers,
                        name,
                        set.ttl,
                        &set.rdatas,
                    );
                    return Step::Cname(target.0.clone());
                } else {
                    let mut types: Vec<RecordType> = sets.iter().map(|s| s.rtype).collect();
                    if dnskey.is_some() {
                        types.push(RecordType::DNSKEY);
                    }
                    self.nodata(zone, name, types, dnssec_ok, answer);
                }
            }
        }
        Step::Done
    }

    /// The DNSKEY RRset data of a signed zone's apex.
    fn dnskey_rdata(&self, zone: &Zone, at_apex: bool) -> Option<Vec<RData>> {
        match &zone.signing {
            Signing::Signed { key, .. } if at_apex => {
                Some(vec![RData::DNSSEC(DNSSECRData::DNSKEY(key.dnskey()))])
            }
            _ => None,
        }
    }

    /// Appends the RRset (and its RRSIG when the zone is signed and DO was set).
    fn push_rrset(
        &self,
        zone: &Zone,
        dnssec_ok: bool,
        out: &mut Vec<Record>,
        owner: &Name,
        ttl: u32,
        rdatas: &[RData],
    ) {
        let Some(rtype) = rdatas.first().map(RData::record_type) else {
            return;
        };
        out.extend(
            rdatas
                .iter()
                .map(|r| Record::from_rdata(owner.clone(), ttl, r.clone())),
        );
        if let (true, Signing::Signed { key, fault }) = (dnssec_ok, &zone.signing)
            && let Some(sig) = rrsig(
                &self.sigs, key, *fault, &zone.apex, owner, rtype, ttl, rdatas,
            )
        {
            out.push(sig);
        }
    }

    /// The zone's SOA RRset, if the source provides one.
    fn soa(&self, zone: &Zone) -> Option<RrSet> {
        match self.source.lookup(zone, &zone.apex) {
            NameData::Data(sets) => sets.into_iter().find(|s| s.rtype == RecordType::SOA),
            _ => None,
        }
    }

    /// Adds the SOA for a negative answer; returns the negative TTL (RFC 2308 §5,
    /// RFC 9077: min of the SOA TTL and MINIMUM), or `None` (SERVFAIL set) without SOA.
    fn negative_soa(&self, zone: &Zone, dnssec_ok: bool, answer: &mut Answer) -> Option<u32> {
        let Some(soa) = self.soa(zone) else {
            answer.rcode = ResponseCode::ServFail;
            answer.authoritative = false;
            return None;
        };
        let minimum = match soa.rdatas.first() {
            Some(RData::SOA(s)) => s.minimum,
            _ => soa.ttl,
        };
        let ttl = soa.ttl.min(minimum);
        self.push_rrset(
            zone,
            dnssec_ok,
            &mut answer.authorities,
            &zone.apex,
            ttl,
            &soa.rdatas,
        );
        Some(ttl)
    }

    fn signs(zone: &Zone, dnssec_ok: bool) -> bool {
        dnssec_ok && matches!(zone.signing, Signing::Signed { .. })
    }

    /// The NSEC type bitmap of an existing chain name.
    fn types_at(&self, zone: &Zone, name: &Name) -> Vec<RecordType> {
        let mut types = match self.source.lookup(zone, name) {
            NameData::Data(sets) => sets.iter().map(|s| s.rtype).collect(),
            NameData::Delegation(cut) => cut_types(&cut),
            NameData::NxDomain | NameData::EmptyNonTerminal => Vec::new(),
        };
        if *name == zone.apex && matches!(zone.signing, Signing::Signed { .. }) {
            types.push(RecordType::DNSKEY);
        }
        types
    }

    /// Adds the signed NSEC `iv` with `types` (NSEC and RRSIG added) to the authority.
    fn push_nsec(
        &self,
        zone: &Zone,
        ttl: u32,
        iv: Interval,
        types: Vec<RecordType>,
        answer: &mut Answer,
    ) {
        let already = answer
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::NSEC && r.name == iv.owner);
        if already {
            return;
        }
        let nsec = RData::DNSSEC(DNSSECRData::NSEC(NSEC::new(iv.next, nsec_types(types))));
        self.push_rrset(zone, true, &mut answer.authorities, &iv.owner, ttl, &[nsec]);
    }

    /// NOERROR with no data at the existing `name` owning `types`.
    fn nodata(
        &self,
        zone: &Zone,
        name: &Name,
        types: Vec<RecordType>,
        dnssec_ok: bool,
        answer: &mut Answer,
    ) {
        let Some(ttl) = self.negative_soa(zone, dnssec_ok, answer) else {
            return;
        };
        if !Self::signs(zone, dnssec_ok) {
            return;
        }
        match &zone.denial {
            Denial::WhiteLies => {
                let iv = denial::white_lie_at(&zone.apex, name);
                self.push_nsec(zone, ttl, iv, types, answer);
            }
            Denial::Chain(chain) => {
                let Some(iv) = denial::chain_interval(chain, name) else {
                    return;
                };
                // An empty non-terminal is proved by the NSEC whose next name lies
                // below it; an existing name owns its NSEC.
                let types = if iv.owner == *name {
                    types
                } else {
                    self.types_at(zone, &iv.owner)
                };
                self.push_nsec(zone, ttl, iv, types, answer);
            }
        }
    }

    /// NXDOMAIN for `missing` (the highest nonexistent name on the query's path): NSEC
    /// covering it and NSEC covering the wildcard at its closest encloser (its parent).
    fn nxdomain(&self, zone: &Zone, missing: &Name, dnssec_ok: bool, answer: &mut Answer) {
        answer.rcode = ResponseCode::NXDomain;
        let Some(ttl) = self.negative_soa(zone, dnssec_ok, answer) else {
            return;
        };
        if !Self::signs(zone, dnssec_ok) {
            return;
        }
        let encloser = missing.base_name();
        let Ok(wildcard) = encloser.prepend_label("*") else {
            return;
        };
        for covered in [missing, &wildcard] {
            match &zone.denial {
                Denial::WhiteLies => {
                    let iv = denial::white_lie_cover(&zone.apex, covered);
                    self.push_nsec(zone, ttl, iv, Vec::new(), answer);
                }
                Denial::Chain(chain) => {
                    if let Some(iv) = denial::chain_interval(chain, covered) {
                        let types = self.types_at(zone, &iv.owner);
                        self.push_nsec(zone, ttl, iv, types, answer);
                    }
                }
            }
        }
    }

    /// A referral to a child zone the engine does not serve: NS in authority (never
    /// signed), with the DS or the NSEC proving there is none (RFC 4035 §3.1.4).
    fn referral(
        &self,
        zone: &Zone,
        cut_name: &Name,
        cut: &Delegation,
        dnssec_ok: bool,
        answer: &mut Answer,
    ) {
        answer.authoritative = false;
        answer.authorities.extend(cut.ns.iter().map(|ns| {
            Record::from_rdata(
                cut_name.clone(),
                cut.ttl,
                RData::NS(hickory_proto::rr::rdata::NS(ns.clone())),
            )
        }));
        if !Self::signs(zone, dnssec_ok) {
            return;
        }
        if cut.ds.is_empty() {
            let iv = match &zone.denial {
                Denial::WhiteLies => denial::white_lie_at(&zone.apex, cut_name),
                Denial::Chain(chain) => match denial::chain_interval(chain, cut_name) {
                    Some(iv) => iv,
                    None => return,
                },
            };
            self.push_nsec(zone, cut.ttl, iv, cut_types(cut), answer);
        } else {
            let ds = ds_rdatas(cut);
            self.push_rrset(
                zone,
                dnssec_ok,
                &mut answer.authorities,
                cut_name,
                cut.ttl,
                &ds,
            );
        }
    }
}

/// The types a parent holds at a delegation point.
fn cut_types(cut: &Delegation) -> Vec<RecordType> {
    let mut types = vec![RecordType::NS];
    if !cut.ds.is_empty() {
        types.push(RecordType::DS);
    }
    types
}

fn ds_rdatas(cut: &Delegation) -> Vec<RData> {
    cut.ds
        .iter()
        .map(|ds| RData::DNSSEC(DNSSECRData::DS(ds.clone())))
        .collect()
}

/// Serialises `response`, truncating (TC=1, sections emptied) when it exceeds what the
/// client accepts over UDP.
fn finish(mut response: Message, request: &Message, transport: Transport) -> Option<Vec<u8>> {
    let bytes = match response.to_vec() {
        Ok(bytes) => bytes,
        Err(_) => {
            response.answers.clear();
            response.authorities.clear();
            response.additionals.clear();
            response.metadata.response_code = ResponseCode::ServFail;
            response.metadata.authoritative = false;
            response.to_vec().ok()?
        }
    };
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => request.edns.as_ref().map_or(512, |e| {
            usize::from(e.max_payload()).clamp(512, MAX_UDP_RESPONSE)
        }),
    };
    if bytes.len() <= limit {
        return Some(bytes);
    }
    response.answers.clear();
    response.authorities.clear();
    response.additionals.clear();
    response.metadata.truncation = true;
    response.to_vec().ok()
}

/// A bare FORMERR header for a query that does not parse (RFC 1035 §4.1.1): same ID
/// and opcode, QR set, no sections.
fn format_error(header: &[u8; 12]) -> Vec<u8> {
    let [id_high, id_low, flags, ..] = *header;
    let mut out = vec![
        id_high,
        id_low,
        0x80 | (flags & 0x78),
        ResponseCode::FormErr.low(),
    ];
    out.resize(12, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::denial::covers;
    use crate::dns::memory::StaticSource;
    use crate::dns::zone::{Behavior, SigningFault, ZoneKey, ds_for};
    use hickory_proto::op::Query;
    use hickory_proto::rr::rdata::{CNAME, NS, SOA, TXT};
    use proptest::prelude::*;
    use std::net::Ipv4Addr;
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn signed(apex: &str) -> Signing {
        Signing::Signed {
            key: ZoneKey::derive(1, &n(apex)),
            fault: SigningFault::None,
        }
    }

    fn apex(src: &mut StaticSource, apex: &str) {
        let soa = SOA::new(n("ns.example."), n("h.example."), 1, 1, 1, 1, 60);
        src.add(&n(apex), RrSet::single(3600, RData::SOA(soa)))
            .unwrap();
        src.add(
            &n(apex),
            RrSet::single(3600, RData::NS(NS(n("ns.example.")))),
        )
        .unwrap();
    }

    fn a() -> RData {
        RData::A(Ipv4Addr::new(127, 0, 0, 1).into())
    }

    fn engine() -> Engine {
        let mut src = StaticSource::new();
        src.add_zone(Zone::new(n("."), signed(".")));
        apex(&mut src, ".");
        src.add_zone(Zone::new(n("example."), signed("example.")));
        apex(&mut src, "example.");
        src.delegate(
            &n("example."),
            60,
            vec![n("ns.example.")],
            vec![ds_for(&n("example."), &ZoneKey::derive(1, &n("example.")))],
        )
        .unwrap();
        src.add(&n("www.example."), RrSet::single(60, a())).unwrap();
        src.add(&n("x.ent.example."), RrSet::single(60, a()))
            .unwrap();
        src.add(
            &n("alias.example."),
            RrSet::single(60, RData::CNAME(CNAME(n("www.example.")))),
        )
        .unwrap();
        let big: Vec<String> = (0..20).map(|i| format!("{i}-{}", "y".repeat(50))).collect();
        src.add(
            &n("big.example."),
            RrSet::single(60, RData::TXT(TXT::new(big))),
        )
        .unwrap();
        src.delegate(
            &n("insecure.example."),
            60,
            vec![n("ns.insecure.example.")],
            vec![],
        )
        .unwrap();
        src.delegate(
            &n("elsewhere.example."),
            60,
            vec![n("ns.elsewhere.net.")],
            vec![],
        )
        .unwrap();
        src.add_zone(Zone::new(n("insecure.example."), Signing::Unsigned));
        apex(&mut src, "insecure.example.");
        src.add_zone(Zone::new(n("chain."), signed("chain.")));
        apex(&mut src, "chain.");
        src.add(&n("m.chain."), RrSet::single(60, a())).unwrap();
        src.add(&n("x.ent.chain."), RrSet::single(60, a())).unwrap();
        src.use_exact_chain(&n("chain."));
        for (zone, behavior) in [
            ("slow.", Behavior::Timeout),
            ("broken.", Behavior::ServFail),
            ("lame.", Behavior::Refused),
            ("tc.", Behavior::TruncateUdp),
        ] {
            src.add_zone(Zone::new(n(zone), Signing::Unsigned).with_behavior(behavior));
            apex(&mut src, zone);
        }
        Engine::new(Arc::new(src))
    }

    fn query(name: &str, rtype: RecordType, dnssec: bool) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 0x1234;
        m.add_query(Query::query(n(name), rtype));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.set_dnssec_ok(dnssec);
        m.set_edns(edns);
        m.to_vec().unwrap()
    }

    fn ask(e: &Engine, name: &str, rtype: RecordType, dnssec: bool) -> Message {
        let bytes = e
            .answer(&query(name, rtype, dnssec), Transport::Udp)
            .unwrap();
        Message::from_vec(&bytes).unwrap()
    }

    fn types(records: &[Record]) -> Vec<RecordType> {
        records.iter().map(Record::record_type).collect()
    }

    fn nsecs(m: &Message) -> Vec<Interval> {
        m.authorities
            .iter()
            .filter_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::NSEC(nsec)) => Some(Interval {
                    owner: r.name.clone(),
                    next: nsec.next_domain_name().clone(),
                }),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn positive_answers_are_authoritative_and_signed_only_with_do() {
        let e = engine();
        let m = ask(&e, "WWW.example.", RecordType::A, true);
        assert!(m.metadata.authoritative);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(types(&m.answers), [RecordType::A, RecordType::RRSIG]);
        assert_eq!(m.queries[0].name, n("WWW.example."));
        let m = ask(&e, "www.example.", RecordType::A, false);
        assert_eq!(types(&m.answers), [RecordType::A]);
        let m = ask(&e, "example.", RecordType::DNSKEY, true);
        assert_eq!(types(&m.answers), [RecordType::DNSKEY, RecordType::RRSIG]);
    }

    #[test]
    fn nxdomain_white_lies_cover_name_and_wildcard() {
        let e = engine();
        let m = ask(&e, "nope.example.", RecordType::A, true);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.metadata.authoritative);
        let ivs = nsecs(&m);
        assert_eq!(ivs.len(), 2);
        assert!(ivs.iter().any(|iv| covers(iv, &n("nope.example."))));
        assert!(ivs.iter().any(|iv| covers(iv, &n("*.example."))));
        for iv in &ivs {
            assert!(!covers(iv, &n("www.example.")) && !covers(iv, &n("ent.example.")));
        }
        assert_eq!(
            types(&m.authorities)
                .iter()
                .filter(|t| **t == RecordType::RRSIG)
                .count(),
            3
        );
        // Below a missing name: the missing ancestor is what is denied.
        let m = ask(&e, "a.b.nope.example.", RecordType::A, true);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(nsecs(&m).iter().any(|iv| covers(iv, &n("nope.example."))));
        // Without DO: SOA only.
        let m = ask(&e, "nope.example.", RecordType::A, false);
        assert_eq!(types(&m.authorities), [RecordType::SOA]);
    }

    #[test]
    fn nxdomain_exact_chain() {
        let e = engine();
        let m = ask(&e, "z.chain.", RecordType::A, true);
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        let ivs = nsecs(&m);
        assert!(
            ivs.iter()
                .any(|iv| iv.owner == n("m.chain.") && iv.next == n("chain."))
        );
        assert!(ivs.iter().any(|iv| covers(iv, &n("*.chain."))));
        let m = ask(&e, "m.chain.", RecordType::TXT, true);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(
            nsecs(&m),
            [Interval {
                owner: n("m.chain."),
                next: n("chain.")
            }]
        );
        // An empty non-terminal: the NSEC before it, whose next name lies below it, with
        // the owner's own types.
        let m = ask(&e, "ent.chain.", RecordType::A, true);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(
            nsecs(&m),
            [Interval {
                owner: n("chain."),
                next: n("x.ent.chain.")
            }]
        );
        let apex_nsec = m.authorities.iter().find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(nsec)) => {
                Some(nsec.type_bit_maps().collect::<Vec<_>>())
            }
            _ => None,
        });
        assert!(apex_nsec.unwrap().contains(&RecordType::DNSKEY));
    }

    #[test]
    fn nodata_and_empty_non_terminals() {
        let e = engine();
        let m = ask(&e, "www.example.", RecordType::AAAA, true);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
        let nsec = m
            .authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::NSEC(nsec)) if r.name == n("www.example.") => {
                    Some(nsec.clone())
                }
                _ => None,
            })
            .unwrap();
        let bitmap: Vec<RecordType> = nsec.type_bit_maps().collect();
        assert!(bitmap.contains(&RecordType::A) && !bitmap.contains(&RecordType::AAAA));
        let m = ask(&e, "ent.example.", RecordType::A, true);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.answers.is_empty());
    }

    #[test]
    fn ds_comes_from_the_parent() {
        let e = engine();
        let m = ask(&e, "example.", RecordType::DS, true);
        assert_eq!(types(&m.answers), [RecordType::DS, RecordType::RRSIG]);
        let signer = m.answers.iter().find_map(|r| match &r.data {
            RData::DNSSEC(DNSSECRData::RRSIG(s)) => Some(s.input().signer_name.clone()),
            _ => None,
        });
        assert_eq!(signer, Some(Name::root()));
        // Insecure delegation: NODATA with an NSEC showing NS and no DS, from the parent.
        let m = ask(&e, "insecure.example.", RecordType::DS, true);
        assert!(m.answers.is_empty());
        assert_eq!(m.authorities[0].name, n("example."));
        let bitmap: Vec<RecordType> = m
            .authorities
            .iter()
            .find_map(|r| match &r.data {
                RData::DNSSEC(DNSSECRData::NSEC(nsec)) => Some(nsec.type_bit_maps().collect()),
                _ => None,
            })
            .unwrap();
        assert!(bitmap.contains(&RecordType::NS) && !bitmap.contains(&RecordType::DS));
        assert!(!bitmap.contains(&RecordType::SOA));
    }

    #[test]
    fn cname_followed_within_zone() {
        let e = engine();
        let m = ask(&e, "alias.example.", RecordType::A, true);
        assert_eq!(
            types(&m.answers),
            [
                RecordType::CNAME,
                RecordType::RRSIG,
                RecordType::A,
                RecordType::RRSIG
            ]
        );
        let m = ask(&e, "alias.example.", RecordType::CNAME, false);
        assert_eq!(types(&m.answers), [RecordType::CNAME]);
    }

    #[test]
    fn referral_for_a_child_not_served() {
        let e = engine();
        let m = ask(&e, "www.elsewhere.example.", RecordType::A, true);
        assert!(!m.metadata.authoritative);
        assert!(m.answers.is_empty());
        assert!(types(&m.authorities).contains(&RecordType::NS));
        assert!(types(&m.authorities).contains(&RecordType::NSEC));
    }

    #[test]
    fn truncation_over_udp_only() {
        let e = engine();
        let mut m = Message::query();
        m.add_query(Query::query(n("big.example."), RecordType::TXT));
        let q = m.to_vec().unwrap();
        let udp = Message::from_vec(&e.answer(&q, Transport::Udp).unwrap()).unwrap();
        assert!(udp.metadata.truncation && udp.answers.is_empty());
        let tcp = Message::from_vec(&e.answer(&q, Transport::Tcp).unwrap()).unwrap();
        assert!(!tcp.metadata.truncation);
        assert_eq!(types(&tcp.answers), [RecordType::TXT]);
        // With a large EDNS buffer the same answer fits UDP.
        let m = ask(&e, "big.example.", RecordType::TXT, true);
        assert!(!m.metadata.truncation);
    }

    #[test]
    fn planted_behaviours() {
        let e = engine();
        assert!(
            e.answer(&query("www.slow.", RecordType::A, false), Transport::Udp)
                .is_none()
        );
        assert!(
            e.answer(&query("www.slow.", RecordType::A, false), Transport::Tcp)
                .is_none()
        );
        assert_eq!(
            ask(&e, "broken.", RecordType::SOA, false)
                .metadata
                .response_code,
            ResponseCode::ServFail
        );
        let m = ask(&e, "lame.", RecordType::SOA, false);
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(!m.metadata.authoritative);
        let m = ask(&e, "tc.", RecordType::SOA, false);
        assert!(m.metadata.truncation && m.answers.is_empty());
        let q = query("tc.", RecordType::SOA, false);
        let tcp = Message::from_vec(&e.answer(&q, Transport::Tcp).unwrap()).unwrap();
        assert_eq!(types(&tcp.answers), [RecordType::SOA]);
    }

    #[test]
    fn errors() {
        let e = engine();
        // Too short to answer; a response is never answered.
        assert!(e.answer(&[0u8; 5], Transport::Udp).is_none());
        let mut resp = query("www.example.", RecordType::A, false);
        resp[2] |= 0x80;
        assert!(e.answer(&resp, Transport::Udp).is_none());
        // Garbage after a header: FORMERR with the same ID.
        let mut bad = query("www.example.", RecordType::A, false);
        bad.truncate(20);
        let out = e.answer(&bad, Transport::Udp).unwrap();
        assert_eq!(&out[..2], &[0x12, 0x34]);
        assert_eq!(out[3] & 0x0f, 1);
        // Class CH: REFUSED.
        let mut m = Message::query();
        let mut q = Query::query(n("www.example."), RecordType::TXT);
        q.query_class = DNSClass::CH;
        m.add_query(q);
        let out =
            Message::from_vec(&e.answer(&m.to_vec().unwrap(), Transport::Udp).unwrap()).unwrap();
        assert_eq!(out.metadata.response_code, ResponseCode::Refused);
        // Two questions: FORMERR.
        let mut m = Message::query();
        m.add_query(Query::query(n("www.example."), RecordType::A));
        m.add_query(Query::query(n("www.example."), RecordType::A));
        let out =
            Message::from_vec(&e.answer(&m.to_vec().unwrap(), Transport::Udp).unwrap()).unwrap();
        assert_eq!(out.metadata.response_code, ResponseCode::FormErr);
        // Unknown EDNS version: BADVERS.
        let mut m = Message::query();
        m.add_query(Query::query(n("www.example."), RecordType::A));
        let mut edns = Edns::new();
        edns.set_version(1);
        m.set_edns(edns);
        let out =
            Message::from_vec(&e.answer(&m.to_vec().unwrap(), Transport::Udp).unwrap()).unwrap();
        // BADVERS and BADSIG share code 16; hickory decodes it as BADSIG.
        assert_eq!(u16::from(out.metadata.response_code), 16);
        // Zone transfers: REFUSED.
        assert_eq!(
            ask(&e, "example.", RecordType::AXFR, false)
                .metadata
                .response_code,
            ResponseCode::Refused
        );
    }

    #[test]
    fn outside_every_zone_is_refused() {
        let mut src = StaticSource::new();
        src.add_zone(Zone::new(n("example."), Signing::Unsigned));
        let e = Engine::new(Arc::new(src));
        assert_eq!(
            ask(&e, "www.other.", RecordType::A, false)
                .metadata
                .response_code,
            ResponseCode::Refused
        );
    }

    #[test]
    fn zone_without_soa_is_servfail_not_panic() {
        let mut src = StaticSource::new();
        src.add_zone(Zone::new(n("example."), signed("example.")));
        let e = Engine::new(Arc::new(src));
        let m = ask(&e, "nope.example.", RecordType::A, true);
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let e = engine();
            let _ = e.answer(&bytes, Transport::Udp);
            let _ = e.answer(&bytes, Transport::Tcp);
        }

        #[test]
        fn never_panics_on_mutated_queries(
            name in "[a-z*\\-]{1,10}(\\.[a-z]{1,8}){0,3}\\.(example|chain|slow|tc)\\.",
            rtype in any::<u16>(),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        ) {
            let e = engine();
            let mut m = Message::query();
            if let Ok(qname) = Name::from_str(&name) {
                m.add_query(Query::query(qname, RecordType::from(rtype)));
            }
            let mut edns = Edns::new();
            edns.set_dnssec_ok(true);
            m.set_edns(edns);
            let mut bytes = m.to_vec().unwrap();
            let _ = e.answer(&bytes, Transport::Udp);
            for (at, value) in flips {
                let len = bytes.len();
                bytes[at % len] = value;
            }
            let _ = e.answer(&bytes, Transport::Udp);
        }
    }
}
