//! Online RRSIG generation (Ed25519) over the canonical form of RFC 4034 §3.1.8.1 and §6,
//! with a bounded cache keyed by the to-be-signed bytes.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG, SigInput};
use hickory_proto::dnssec::{Algorithm, TBS};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType, SerialNumber};

use super::zone::{SigningFault, ZoneKey};

/// Signature inception of every valid RRSIG: 2020-01-01T00:00:00Z.
pub const INCEPTION: u32 = 1_577_836_800;
/// Signature expiration of every valid RRSIG: 2080-01-01T00:00:00Z. RRSIG times compare
/// in serial-number arithmetic (RFC 4034 §3.1.5, RFC 1982): an expiration more than 2^31
/// seconds (68 years) after "now" reads as past, so 2099 would already be expired today.
pub const EXPIRATION: u32 = 3_471_292_800;
/// Expiration of the planted expired RRSIGs: 2021-01-01T00:00:00Z.
pub const EXPIRED: u32 = 1_609_459_200;

/// A bounded cache of signatures: sharded maps, each cleared when it fills up, so memory
/// stays bounded and the lookup O(1). Keyed by a SHA-256 prefix of (key tag, fault, TBS).
pub struct SigCache {
    shards: Vec<Mutex<Shard>>,
    per_shard: usize,
}

const SHARDS: usize = 16;

/// One shard: signature by cache key.
type Shard = HashMap<[u8; 16], Arc<[u8]>>;

impl SigCache {
    /// A cache holding at most about `capacity` signatures.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn get_or_sign(&self, key: [u8; 16], sign: impl FnOnce() -> Vec<u8>) -> Arc<[u8]> {
        let shard = &self.shards[usize::from(key[0]) % SHARDS];
        if let Ok(map) = shard.lock()
            && let Some(sig) = map.get(&key)
        {
            return sig.clone();
        }
        let sig: Arc<[u8]> = sign().into();
        if let Ok(mut map) = shard.lock() {
            if map.len() >= self.per_shard {
                map.clear();
            }
            map.insert(key, sig.clone());
        }
        sig
    }

    /// Number of cached signatures.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|m| m.len()).unwrap_or(0))
            .sum()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The RRSIG record over the RRset (`owner`, `rtype`, `ttl`, `rdatas`) signed by the zone
/// `signer` with `key`, with the planted `fault` applied. `None` when the fault omits
/// the signature or the RRset cannot be encoded.
#[allow(clippy::too_many_arguments)]
pub fn rrsig(
    cache: &SigCache,
    key: &ZoneKey,
    fault: SigningFault,
    signer: &Name,
    owner: &Name,
    rtype: RecordType,
    ttl: u32,
    rdatas: &[RData],
) -> Option<Record> {
    // Data faults leave the DNSKEY RRset valid, so the key validates and the data is what
    // turns out bogus (EDE 6 rather than a key failure). Missing signatures also leave the
    // SOA and NSEC signed: the resolver can then prove there is no zone cut below and
    // reports the data's RRSIGs as missing (EDE 10) instead of failing on the denial.
    let fault = match (fault, rtype) {
        (SigningFault::BadSignature, RecordType::DNSKEY)
        | (
            SigningFault::MissingSignature,
            RecordType::DNSKEY | RecordType::SOA | RecordType::NSEC,
        ) => SigningFault::None,
        (other, _) => other,
    };
    if fault == SigningFault::MissingSignature {
        return None;
    }
    let expiration = if fault == SigningFault::ExpiredSignature {
        EXPIRED
    } else {
        EXPIRATION
    };
    let input = SigInput {
        type_covered: rtype,
        algorithm: Algorithm::ED25519,
        num_labels: owner.num_labels(),
        original_ttl: ttl,
        sig_expiration: SerialNumber::new(expiration),
        sig_inception: SerialNumber::new(INCEPTION),
        key_tag: key.key_tag(),
        signer_name: signer.clone(),
    };
    let records: Vec<Record> = rdatas
        .iter()
        .map(|r| Record::from_rdata(owner.clone(), ttl, r.clone()))
        .collect();
    let tbs = TBS::from_input(owner, DNSClass::IN, &input, records.iter()).ok()?;
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(key.public_key());
    ctx.update(&[fault as u8]);
    ctx.update(tbs.as_ref());
    let mut cache_key = [0u8; 16];
    cache_key.copy_from_slice(&ctx.finish().as_ref()[..16]);
    let sig = cache.get_or_sign(cache_key, || {
        if fault == SigningFault::BadSignature {
            // A valid signature, but over other data than what is served.
            let mut other = tbs.as_ref().to_vec();
            other.push(0);
            key.sign(&other)
        } else {
            key.sign(tbs.as_ref())
        }
    });
    let rrsig = RRSIG::from_sig(input, sig.to_vec());
    Some(Record::from_rdata(
        owner.clone(),
        ttl,
        RData::DNSSEC(DNSSECRData::RRSIG(rrsig)),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::dnssec::{PublicKey, Verifier};
    use std::net::Ipv4Addr;
    use std::str::FromStr;

    fn setup() -> (ZoneKey, Name, Name, Vec<RData>) {
        let apex = Name::from_str("example.").unwrap();
        let owner = Name::from_str("www.example.").unwrap();
        let key = ZoneKey::derive(3, &apex);
        let data = vec![
            RData::A(Ipv4Addr::new(127, 0, 0, 2).into()),
            RData::A(Ipv4Addr::new(127, 0, 0, 1).into()),
        ];
        (key, apex, owner, data)
    }

    fn verify(key: &ZoneKey, owner: &Name, data: &[RData], rec: &Record) -> bool {
        let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = &rec.data else {
            panic!("not an RRSIG");
        };
        let records: Vec<Record> = data
            .iter()
            .map(|r| Record::from_rdata(owner.clone(), 300, r.clone()))
            .collect();
        let tbs = TBS::from_input(owner, DNSClass::IN, sig.input(), records.iter()).unwrap();
        key.dnskey()
            .public_key()
            .verify(tbs.as_ref(), sig.sig())
            .is_ok()
    }

    #[test]
    fn signatures_verify_and_are_cached() {
        let (key, apex, owner, data) = setup();
        let cache = SigCache::new(100);
        let a = rrsig(
            &cache,
            &key,
            SigningFault::None,
            &apex,
            &owner,
            RecordType::A,
            300,
            &data,
        )
        .unwrap();
        assert!(verify(&key, &owner, &data, &a));
        assert_eq!(cache.len(), 1);
        let b = rrsig(
            &cache,
            &key,
            SigningFault::None,
            &apex,
            &owner,
            RecordType::A,
            300,
            &data,
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(cache.len(), 1);
        // Record order does not matter (canonical ordering).
        let rev: Vec<RData> = data.iter().rev().cloned().collect();
        let c = rrsig(
            &cache,
            &key,
            SigningFault::None,
            &apex,
            &owner,
            RecordType::A,
            300,
            &rev,
        )
        .unwrap();
        assert_eq!(a, c);
        let _ = key.dnskey().verify(b"", b"");
    }

    #[test]
    fn faults() {
        let (key, apex, owner, data) = setup();
        let cache = SigCache::new(100);
        let sig = |f| rrsig(&cache, &key, f, &apex, &owner, RecordType::A, 300, &data);
        assert!(!verify(
            &key,
            &owner,
            &data,
            &sig(SigningFault::BadSignature).unwrap()
        ));
        assert!(sig(SigningFault::MissingSignature).is_none());
        let expired = sig(SigningFault::ExpiredSignature).unwrap();
        assert!(verify(&key, &owner, &data, &expired));
        let RData::DNSSEC(DNSSECRData::RRSIG(s)) = &expired.data else {
            panic!()
        };
        assert_eq!(s.input().sig_expiration.get(), EXPIRED);
        // The DNSKEY RRset stays signed under data faults.
        let dk = vec![RData::DNSSEC(DNSSECRData::DNSKEY(key.dnskey()))];
        let rec = rrsig(
            &cache,
            &key,
            SigningFault::MissingSignature,
            &apex,
            &apex,
            RecordType::DNSKEY,
            300,
            &dk,
        );
        assert!(rec.is_some());
    }

    #[test]
    fn cache_is_bounded() {
        let (key, apex, owner, _) = setup();
        let cache = SigCache::new(32);
        for i in 0..1000u32 {
            let data = vec![RData::A(Ipv4Addr::from(i).into())];
            rrsig(
                &cache,
                &key,
                SigningFault::None,
                &apex,
                &owner,
                RecordType::A,
                300,
                &data,
            );
        }
        assert!(cache.len() <= 32);
    }
}
