//! The zone model: what the authoritative engine asks of the world it serves.
//!
//! The engine holds no zone data. A [`ZoneSource`] (the population, or a hand-built test
//! world) answers two questions on demand, so a TLD with a million delegations never has
//! to be materialised:
//!
//! 1. [`ZoneSource::zone_for`]: which zone is the deepest one served that contains a name
//!    (its apex, signing key and faults, server behaviour, and how denial is proved);
//! 2. [`ZoneSource::lookup`]: what exists at one name inside that zone ([`NameData`]).
//!
//! The engine derives everything else: DNSKEY at signed apexes, RRSIGs, NSEC denial (an
//! exact chain when the zone lists its names, RFC 4470 minimally covering "white lies"
//! otherwise), DS answers from the parent side of a cut, CNAME chasing, referrals.
//!
//! Contract for implementers:
//! - All names handed to the source are fully qualified and lower case; names returned
//!   (NS targets, CNAME targets, chain names) must be fully qualified.
//! - `lookup(zone, apex)` must return [`NameData::Data`] holding the zone's SOA and NS
//!   RRsets (the engine answers SERVFAIL for a zone without SOA). DNSKEY, RRSIG and NSEC
//!   are never returned by the source: the engine synthesises them from [`Signing`].
//! - A delegation to a child zone is [`NameData::Delegation`] at the child apex, seen by
//!   `lookup(parent, child_apex)`. The parent publishes the child's DS there (computed with
//!   [`ds_for`], or [`wrong_ds_for`] for the planted "DS mismatch"); an empty `ds` makes the
//!   child insecure (unsigned or island). Names below a cut are never asked of the parent
//!   when the child is served too; when the child is not served (`zone_for` returns the
//!   parent), the engine sends a referral.
//! - A name that owns no RRset but has descendants is [`NameData::EmptyNonTerminal`].
//! - Wildcards are not expanded: a `*` label is an ordinary label.
//! - Everything must be a pure function of the source's inputs (seed, index): the engine
//!   caches signatures by content, never by time.
use std::sync::Arc;

use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKeyBuf};
use hickory_proto::rr::{Name, RData, RecordType};
use ring::signature::{Ed25519KeyPair, KeyPair};

/// A source of zones for the authoritative engine. See the module documentation for the
/// contract.
pub trait ZoneSource: Send + Sync + 'static {
    /// The deepest zone served that contains `name` (the apex itself included), or `None`
    /// when no served zone contains it (the engine answers REFUSED).
    ///
    /// For a DS query at a zone apex the engine calls this again with the apex's parent
    /// name (RFC 4035 §3.1.4.1: DS is answered by the parent), so no DS flag is needed.
    fn zone_for(&self, name: &Name) -> Option<Arc<Zone>>;

    /// What exists at `name` (lower case, inside `zone`, at or below its apex) in `zone`.
    /// Must be cheap: the engine calls it once per label between apex and query name,
    /// again at the apex for the SOA of a negative answer, and at NSEC owners of exact
    /// chains for their type bitmaps.
    fn lookup(&self, zone: &Zone, name: &Name) -> NameData;
}

/// One zone the engine serves.
#[derive(Clone, Debug)]
pub struct Zone {
    /// The zone apex (fully qualified, lower case).
    pub apex: Name,
    /// Whether and how the zone is signed.
    pub signing: Signing,
    /// How the name server answers queries for this zone.
    pub behavior: Behavior,
    /// How nonexistence is proved in this zone when it is signed.
    pub denial: Denial,
}

impl Zone {
    /// A normally behaving zone with white-lie denial.
    pub fn new(apex: Name, signing: Signing) -> Self {
        Self {
            apex,
            signing,
            behavior: Behavior::Normal,
            denial: Denial::WhiteLies,
        }
    }

    /// Sets the server behaviour.
    pub fn with_behavior(mut self, behavior: Behavior) -> Self {
        self.behavior = behavior;
        self
    }

    /// Sets the denial mode.
    pub fn with_denial(mut self, denial: Denial) -> Self {
        self.denial = denial;
        self
    }
}

/// Whether a zone is signed, and with which planted fault.
#[derive(Clone, Debug)]
pub enum Signing {
    /// No DNSKEY, no RRSIG, no NSEC.
    Unsigned,
    /// Signed online with one Ed25519 CSK.
    Signed {
        /// The zone's key.
        key: ZoneKey,
        /// A deliberate signing fault (bogus kinds of SIMNET.md).
        fault: SigningFault,
    },
}

/// A deliberate defect in a signed zone's signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SigningFault {
    /// Correct signatures.
    None,
    /// RRSIGs over other data than served (every RRset except the DNSKEY RRset), so the
    /// key validates but the data is bogus.
    BadSignature,
    /// Every RRSIG (DNSKEY included) expired in the past.
    ExpiredSignature,
    /// No RRSIG on the data (the DNSKEY, SOA and NSEC RRsets stay signed, so the
    /// resolver can prove there is no zone cut and reports missing RRSIGs).
    MissingSignature,
}

/// How the name server behaves for queries answered from a zone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Behavior {
    /// Answers normally.
    Normal,
    /// Never answers (the query is dropped), over UDP and TCP.
    Timeout,
    /// Answers SERVFAIL.
    ServFail,
    /// Answers REFUSED (a lame server).
    Refused,
    /// Over UDP answers with TC=1 and no records; the full answer over TCP.
    TruncateUdp,
}

/// How a signed zone proves nonexistence.
#[derive(Clone, Debug)]
pub enum Denial {
    /// RFC 4470 minimally covering NSEC records computed around the query name: needs
    /// no list of names, fits zones of any size.
    WhiteLies,
    /// The exact NSEC chain over these names (canonical order, lower case, deduplicated,
    /// apex included). Every name owning an RRset or a delegation must be listed; empty
    /// non-terminals and names below cuts must not be.
    Chain(Arc<[Name]>),
}

impl Denial {
    /// Builds an exact chain from the names owning data in a zone (any order, any case;
    /// the apex must be among them).
    pub fn chain(names: impl IntoIterator<Item = Name>) -> Self {
        let mut names: Vec<Name> = names.into_iter().map(|n| fqdn_lower(&n)).collect();
        names.sort();
        names.dedup();
        Self::Chain(names.into())
    }
}

/// What exists at one name of a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameData {
    /// The name does not exist (no RRset, no descendant).
    NxDomain,
    /// The name owns nothing but has descendants.
    EmptyNonTerminal,
    /// The name owns these RRsets (one per type; at the apex SOA and NS among them).
    Data(Vec<RrSet>),
    /// The name is a zone cut: a child zone delegated from this zone.
    Delegation(Delegation),
}

/// A delegation to a child zone, as the parent publishes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delegation {
    /// TTL of the NS and DS RRsets.
    pub ttl: u32,
    /// The child's name servers.
    pub ns: Vec<Name>,
    /// The DS RRset (empty: insecure delegation, proved by NSEC when the parent is signed).
    pub ds: Vec<DS>,
}

/// One unsigned RRset at a name: every record has the same type and TTL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrSet {
    /// The type of every record of the set.
    pub rtype: RecordType,
    /// The TTL of the set.
    pub ttl: u32,
    /// The records' data (non-empty, all of type `rtype`).
    pub rdatas: Vec<RData>,
}

impl RrSet {
    /// An RRset from its data; `None` when `rdatas` is empty or mixes types.
    pub fn new(ttl: u32, rdatas: Vec<RData>) -> Option<Self> {
        let rtype = rdatas.first()?.record_type();
        if rdatas.iter().any(|r| r.record_type() != rtype) {
            return None;
        }
        Some(Self { rtype, ttl, rdatas })
    }

    /// An RRset of one record.
    pub fn single(ttl: u32, rdata: RData) -> Self {
        Self {
            rtype: rdata.record_type(),
            ttl,
            rdatas: vec![rdata],
        }
    }
}

/// A zone's signing key: an Ed25519 (algorithm 15) key pair used as a CSK (flags 257).
#[derive(Clone)]
pub struct ZoneKey {
    pair: Arc<Ed25519KeyPair>,
    dnskey_rdata: Arc<[u8]>,
    key_tag: u16,
}

impl std::fmt::Debug for ZoneKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZoneKey")
            .field("key_tag", &self.key_tag)
            .finish_non_exhaustive()
    }
}

/// DNSKEY flags of a CSK: Zone Key + Secure Entry Point.
const CSK_FLAGS: u16 = 257;

impl ZoneKey {
    /// The key whose Ed25519 private seed is `seed`.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        // ring only rejects seeds of the wrong length; the array type rules that out.
        let pair = Ed25519KeyPair::from_seed_unchecked(&seed)
            .expect("a 32-byte array is a valid Ed25519 seed");
        let public = pair.public_key().as_ref();
        let mut rdata = Vec::with_capacity(4 + public.len());
        rdata.extend_from_slice(&CSK_FLAGS.to_be_bytes());
        rdata.push(3); // protocol, RFC 4034 §2.1.2
        rdata.push(u8::from(Algorithm::ED25519));
        rdata.extend_from_slice(public);
        let key_tag = DNSKEY::calculate_key_tag_internal(&rdata);
        Self {
            pair: Arc::new(pair),
            dnskey_rdata: rdata.into(),
            key_tag,
        }
    }

    /// The deterministic key of `zone` in the world of `seed`: the Ed25519 seed is
    /// SHA-256("mxcensus-simnet zone key" | seed (big endian) | canonical wire form of
    /// the zone name), so restarts give the same keys.
    pub fn derive(seed: u64, zone: &Name) -> Self {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(b"mxcensus-simnet zone key");
        ctx.update(&seed.to_be_bytes());
        ctx.update(&canonical_wire(zone));
        let mut key_seed = [0u8; 32];
        key_seed.copy_from_slice(ctx.finish().as_ref());
        Self::from_seed(key_seed)
    }

    /// The DNSKEY record data (flags 257, protocol 3, algorithm 15).
    pub fn dnskey(&self) -> DNSKEY {
        DNSKEY::with_flags(
            CSK_FLAGS,
            PublicKeyBuf::new(self.public_key().to_vec(), Algorithm::ED25519),
        )
    }

    /// The raw 32-byte Ed25519 public key.
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The key tag (RFC 4034 Appendix B).
    pub fn key_tag(&self) -> u16 {
        self.key_tag
    }

    /// Signs `data` (Ed25519 is deterministic: same data, same signature).
    pub(crate) fn sign(&self, data: &[u8]) -> Vec<u8> {
        self.pair.sign(data).as_ref().to_vec()
    }

    /// The DNSKEY RDATA in wire form.
    pub(crate) fn dnskey_wire(&self) -> &[u8] {
        &self.dnskey_rdata
    }
}

/// The DS (SHA-256, digest type 2) a parent publishes for `child_apex` signed by `key`.
pub fn ds_for(child_apex: &Name, key: &ZoneKey) -> DS {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(&canonical_wire(child_apex));
    ctx.update(key.dnskey_wire());
    DS::new(
        key.key_tag(),
        Algorithm::ED25519,
        DigestType::SHA256,
        ctx.finish().as_ref().to_vec(),
    )
}

/// A DS for `child_apex` with the right key tag and algorithm but a digest that matches
/// no key (the planted "DS mismatch" bogus kind: validators answer SERVFAIL, EDE 9).
pub fn wrong_ds_for(child_apex: &Name, key: &ZoneKey) -> DS {
    let right = ds_for(child_apex, key);
    let digest = right.digest().iter().map(|b| b ^ 0x5a).collect();
    DS::new(
        right.key_tag(),
        Algorithm::ED25519,
        DigestType::SHA256,
        digest,
    )
}

/// The canonical (uncompressed, lower case) wire form of a name (RFC 4034 §6.2).
pub(crate) fn canonical_wire(name: &Name) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name.iter() {
        // Labels are at most 63 octets, so the length fits a byte.
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    out
}

/// `name` lower-cased and marked fully qualified.
pub(crate) fn fqdn_lower(name: &Name) -> Name {
    let mut lower = name.to_lowercase();
    lower.set_fqdn(true);
    lower
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn derived_keys_are_deterministic_and_distinct() {
        let a = Name::from_str("example.com.").unwrap();
        let b = Name::from_str("example.net.").unwrap();
        let k1 = ZoneKey::derive(7, &a);
        let k2 = ZoneKey::derive(7, &Name::from_str("EXAMPLE.com.").unwrap());
        assert_eq!(k1.public_key(), k2.public_key());
        assert_ne!(k1.public_key(), ZoneKey::derive(7, &b).public_key());
        assert_ne!(k1.public_key(), ZoneKey::derive(8, &a).public_key());
    }

    #[test]
    fn key_tag_and_ds_match_hickory() {
        let apex = Name::from_str("example.com.").unwrap();
        let key = ZoneKey::derive(1, &apex);
        let dnskey = key.dnskey();
        assert_eq!(dnskey.flags(), 257);
        assert_eq!(dnskey.calculate_key_tag().unwrap(), key.key_tag());
        let ds = ds_for(&apex, &key);
        assert!(ds.covers(&apex, &dnskey).unwrap());
        assert!(!wrong_ds_for(&apex, &key).covers(&apex, &dnskey).unwrap());
    }

    #[test]
    fn chain_is_sorted_canonically_and_deduplicated() {
        let names = [
            "b.example.",
            "A.example.",
            "example.",
            "a.example.",
            "z.a.example.",
        ];
        let Denial::Chain(chain) = Denial::chain(names.iter().map(|n| Name::from_str(n).unwrap()))
        else {
            panic!("chain expected");
        };
        let got: Vec<String> = chain.iter().map(|n| n.to_ascii()).collect();
        assert_eq!(
            got,
            ["example.", "a.example.", "z.a.example.", "b.example."]
        );
    }

    #[test]
    fn rrset_rejects_mixed_types() {
        use std::net::Ipv4Addr;
        let a = RData::A(Ipv4Addr::LOCALHOST.into());
        let ns = RData::NS(hickory_proto::rr::rdata::NS(Name::root()));
        assert!(RrSet::new(60, vec![a.clone(), ns]).is_none());
        assert!(RrSet::new(60, vec![]).is_none());
        assert_eq!(RrSet::new(60, vec![a]).unwrap().rtype, RecordType::A);
    }
}
