//! The simnet PKI: a private root CA, an intermediate that issues every trusted leaf, and a
//! second "untrusted" CA that is never published in `ca_cert`.
//!
//! Everything is deterministic so that a world snapshot is reproducible: Ed25519 keys are
//! derived from `(seed, purpose, names, generation)`, validity windows and serial numbers
//! are fixed functions of the inputs, and Ed25519 signatures are deterministic, so the same
//! [`CertSpec`] under the same seed always yields byte-identical DER.
//!
//! The leaf key depends only on the names and the generation, not on the [`CertKind`] or
//! the [`ChainShape`]: a TLSA `3 1 1` record computed from any kind of certificate for a
//! host matches all of them, and a "rolled" host is simply `generation + 1`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber, date_time_ymd,
};
use ring::digest::{SHA256, digest};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use rustls::sign::{CertifiedKey, SingleCertAndKey};

/// Fixed prefix of a PKCS#8 v1 document holding an Ed25519 private key; the 32-byte seed
/// follows it (RFC 8410 §7).
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// Domain separation for every value derived from the seed.
const DERIVATION_LABEL: &[u8] = b"mxcensus-simnet pki v1";

/// Default bound of the leaf cache (entries). An Ed25519 leaf costs well under a millisecond
/// to issue, so a miss is cheap; the bound only keeps memory flat at a million hosts.
pub const DEFAULT_CACHE_CAPACITY: usize = 4096;

/// Largest number of names one certificate may carry (keeps a hostile spec bounded).
const MAX_NAMES: usize = 100;

/// What is wrong (or right) with the leaf certificate a host serves.
///
/// Variants are the certificate failure classes of SPEC.md §B/§F that a server can plant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// Issued by the intermediate for [`CertSpec::names`], valid 2020-01-01..2099-12-31.
    Valid,
    /// Issued by the intermediate, valid only 2020-01-01..2021-01-01 (`cert_expired`).
    Expired,
    /// Issued by the intermediate, valid only 2098-01-01..2099-12-31 (`cert_not_yet_valid`).
    NotYetValid,
    /// Self-signed leaf for the names; the served chain is the leaf alone.
    SelfSigned,
    /// Issued by the intermediate for `wrong-name.<name>` instead of each name
    /// (`cert_name_mismatch`).
    WrongName,
    /// The name appears only in the subject CN, with no subjectAltName extension
    /// (`cert_name_mismatch`, subcase `cn_only`; RFC 6125 §6.4.4, RFC 8461 §3.3).
    CnOnly,
    /// The only DNS-ID is a partial-label wildcard such as `m*.example.test` (not allowed by
    /// RFC 8461 §3.3, which permits a wildcard only as the whole left-most label).
    PartialWildcard,
    /// Issued by the untrusted CA, which is not in [`Pki::ca_pem`] (`cert_untrusted`).
    UntrustedIssuer,
}

/// Which certificates the server sends after its leaf.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ChainShape {
    /// Leaf, then its issuer (the intermediate, or the untrusted CA): the normal case.
    #[default]
    LeafAndIssuer,
    /// Leaf alone: the intermediate is missing, so Web PKI validation fails (`cert_untrusted`).
    LeafOnly,
    /// Leaf, intermediate and root: lets DANE-TA(2) match the root as it appears in the
    /// served chain (RFC 7671 §5.2.2).
    WithRoot,
}

/// Everything that decides the certificate chain a host serves.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct CertSpec {
    /// DNS names the certificate is meant for; the first is also the subject CN.
    /// A name may be a whole-label wildcard (`*.provider.test`).
    pub names: Vec<String>,
    /// What is planted in the leaf.
    pub kind: CertKind,
    /// Which CA certificates are sent after the leaf.
    pub chain: ChainShape,
    /// Key generation; a host whose key was rolled serves `generation + 1` while DNS still
    /// publishes TLSA for `generation`.
    pub generation: u32,
}

impl CertSpec {
    /// A valid certificate for `name`, generation 1, normal chain.
    pub fn valid(name: impl Into<String>) -> Self {
        Self::of_kind(name, CertKind::Valid)
    }

    /// A certificate of `kind` for `name`, generation 1, normal chain.
    pub fn of_kind(name: impl Into<String>, kind: CertKind) -> Self {
        Self {
            names: vec![name.into()],
            kind,
            chain: ChainShape::LeafAndIssuer,
            generation: 1,
        }
    }

    /// The same spec with another chain shape.
    #[must_use]
    pub fn with_chain(mut self, chain: ChainShape) -> Self {
        self.chain = chain;
        self
    }

    /// The same spec with another key generation.
    #[must_use]
    pub fn with_generation(mut self, generation: u32) -> Self {
        self.generation = generation;
        self
    }
}

/// Why a certificate could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// The spec names no DNS name.
    #[error("certificate spec has no names")]
    NoNames,
    /// The spec names more than the supported number of DNS names.
    #[error("certificate spec has {0} names (at most {MAX_NAMES})")]
    TooManyNames(usize),
    /// rcgen refused the parameters (e.g. a name that is not IA5).
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// rustls refused the key or configuration.
    #[error("TLS configuration failed: {0}")]
    Tls(#[from] rustls::Error),
}

/// A CA certificate of the simnet PKI.
#[derive(Clone, Debug)]
pub struct CaCert {
    /// The certificate, DER.
    pub der: CertificateDer<'static>,
    /// The certificate, PEM.
    pub pem: String,
    /// Its SubjectPublicKeyInfo, DER (TLSA selector 1).
    pub spki_der: Vec<u8>,
}

impl CaCert {
    /// SHA-256 of the whole certificate (TLSA `2 0 1`).
    pub fn cert_sha256(&self) -> [u8; 32] {
        sha256(&self.der)
    }

    /// SHA-256 of the SPKI (TLSA `2 1 1`).
    pub fn spki_sha256(&self) -> [u8; 32] {
        sha256(&self.spki_der)
    }
}

/// A leaf certificate as a host serves it.
pub struct IssuedCert {
    /// The spec it was issued from.
    pub spec: CertSpec,
    /// The chain exactly as served: leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The rustls certified key (chain + signing key).
    pub certified_key: Arc<CertifiedKey>,
    /// A rustls server configuration (TLS 1.2 and 1.3, no client auth, no ALPN) that always
    /// serves this chain.
    pub server_config: Arc<ServerConfig>,
    /// The leaf's SubjectPublicKeyInfo, DER (TLSA selector 1).
    pub spki_der: Vec<u8>,
    /// SHA-256 of [`Self::spki_der`] (TLSA `3 1 1`).
    pub spki_sha256: [u8; 32],
    /// SHA-256 of the leaf certificate DER (TLSA `3 0 1`).
    pub cert_sha256: [u8; 32],
}

impl IssuedCert {
    /// The leaf certificate, DER.
    pub fn leaf_der(&self) -> &CertificateDer<'static> {
        // Invariant: `Pki::issue` always puts the leaf first, so the chain is never empty.
        &self.chain[0]
    }
}

impl fmt::Debug for IssuedCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedCert")
            .field("spec", &self.spec)
            .field("chain_len", &self.chain.len())
            .field("spki_sha256", &hex(&self.spki_sha256))
            .finish_non_exhaustive()
    }
}

/// The simnet PKI for one seed. Cheap to share behind an `Arc`.
pub struct Pki {
    seed: u64,
    root: CaCert,
    intermediate: CaCert,
    untrusted: CaCert,
    intermediate_issuer: Issuer<'static, KeyPair>,
    untrusted_issuer: Issuer<'static, KeyPair>,
    cache: Mutex<LeafCache>,
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("seed", &self.seed)
            .finish_non_exhaustive()
    }
}

impl Pki {
    /// Builds the PKI for `seed` with the default cache bound.
    pub fn new(seed: u64) -> Result<Self, PkiError> {
        Self::with_cache_capacity(seed, DEFAULT_CACHE_CAPACITY)
    }

    /// Builds the PKI for `seed`, caching at most `capacity` leaves (at least one).
    pub fn with_cache_capacity(seed: u64, capacity: usize) -> Result<Self, PkiError> {
        let (root, root_issuer) = make_ca(seed, "root-ca", "mxcensus simnet Root CA", None)?;
        let (intermediate, intermediate_issuer) = make_ca(
            seed,
            "intermediate-ca",
            "mxcensus simnet Intermediate CA",
            Some(&root_issuer),
        )?;
        let (untrusted, untrusted_issuer) =
            make_ca(seed, "untrusted-ca", "mxcensus simnet Untrusted CA", None)?;
        Ok(Self {
            seed,
            root,
            intermediate,
            untrusted,
            intermediate_issuer,
            untrusted_issuer,
            cache: Mutex::new(LeafCache::new(capacity.max(1))),
        })
    }

    /// The seed this PKI was derived from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The trusted root in PEM: what `ca_cert` in simnet.json points at.
    pub fn ca_pem(&self) -> &str {
        &self.root.pem
    }

    /// The trusted root CA.
    pub fn root(&self) -> &CaCert {
        &self.root
    }

    /// The intermediate CA that issues every trusted leaf (served after the leaf).
    pub fn intermediate(&self) -> &CaCert {
        &self.intermediate
    }

    /// The untrusted CA (not in [`Self::ca_pem`]).
    pub fn untrusted(&self) -> &CaCert {
        &self.untrusted
    }

    /// The certificate a host with `spec` serves: deterministic, cached (bounded).
    pub fn leaf(&self, spec: &CertSpec) -> Result<Arc<IssuedCert>, PkiError> {
        if let Some(hit) = self.lock_cache().get(spec) {
            return Ok(hit);
        }
        // Issue outside the lock; a racing duplicate is byte-identical, so either wins.
        let issued = Arc::new(self.issue(spec)?);
        self.lock_cache().insert(spec.clone(), issued.clone());
        Ok(issued)
    }

    /// Number of leaves currently cached.
    pub fn cached_leaves(&self) -> usize {
        self.lock_cache().map.len()
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, LeafCache> {
        // A panic while holding the lock cannot leave the map inconsistent (insert/evict are
        // single calls), so a poisoned lock is still usable.
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn issue(&self, spec: &CertSpec) -> Result<IssuedCert, PkiError> {
        let first = spec.names.first().ok_or(PkiError::NoNames)?;
        if spec.names.len() > MAX_NAMES {
            return Err(PkiError::TooManyNames(spec.names.len()));
        }
        let key_label = format!("leaf\0{}\0{}", spec.names.join(","), spec.generation);
        let pkcs8 = derive_pkcs8(self.seed, &key_label);
        let key = KeyPair::try_from(pkcs8.as_slice())?;

        let (not_before, not_after) = match spec.kind {
            CertKind::Expired => (date_time_ymd(2020, 1, 1), date_time_ymd(2021, 1, 1)),
            CertKind::NotYetValid => (date_time_ymd(2098, 1, 1), date_time_ymd(2099, 12, 31)),
            _ => (date_time_ymd(2020, 1, 1), date_time_ymd(2099, 12, 31)),
        };
        let dns_ids: Vec<String> = match spec.kind {
            CertKind::WrongName => spec
                .names
                .iter()
                .map(|n| format!("wrong-name.{}", n.trim_start_matches("*.")))
                .collect(),
            CertKind::PartialWildcard => spec.names.iter().map(|n| partial_wildcard(n)).collect(),
            _ => spec.names.clone(),
        };
        let cn = dns_ids.first().cloned().unwrap_or_else(|| first.clone());

        let mut params = CertificateParams::default();
        params.not_before = not_before;
        params.not_after = not_after;
        params.serial_number = Some(derive_serial(self.seed, spec));
        params.distinguished_name = DistinguishedName::new();
        params.distinguished_name.push(DnType::CommonName, cn);
        if spec.kind != CertKind::CnOnly {
            params.subject_alt_names = dns_ids
                .into_iter()
                .map(|n| Ok(SanType::DnsName(n.try_into()?)))
                .collect::<Result<_, rcgen::Error>>()?;
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = spec.kind != CertKind::SelfSigned;

        let (leaf, issuer_cert) = match spec.kind {
            CertKind::SelfSigned => (params.self_signed(&key)?, None),
            CertKind::UntrustedIssuer => (
                params.signed_by(&key, &self.untrusted_issuer)?,
                Some(&self.untrusted),
            ),
            _ => (
                params.signed_by(&key, &self.intermediate_issuer)?,
                Some(&self.intermediate),
            ),
        };

        let mut chain = vec![leaf.der().clone()];
        if let Some(issuer) = issuer_cert {
            match spec.chain {
                ChainShape::LeafOnly => {}
                ChainShape::LeafAndIssuer => chain.push(issuer.der.clone()),
                ChainShape::WithRoot => {
                    chain.push(issuer.der.clone());
                    // The untrusted CA is itself a root; only the trusted path has a third.
                    if spec.kind != CertKind::UntrustedIssuer {
                        chain.push(self.root.der.clone());
                    }
                }
            }
        }

        let signing_key =
            rustls::crypto::ring::sign::any_eddsa_type(&PrivatePkcs8KeyDer::from(pkcs8))?;
        let certified_key = Arc::new(CertifiedKey::new(chain.clone(), signing_key));
        let server_config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(SingleCertAndKey::from(certified_key.clone())));

        let spki_der = key.subject_public_key_info();
        Ok(IssuedCert {
            spec: spec.clone(),
            spki_sha256: sha256(&spki_der),
            cert_sha256: sha256(leaf.der()),
            chain,
            certified_key,
            server_config: Arc::new(server_config),
            spki_der,
        })
    }
}

/// The ring crypto provider every simnet TLS endpoint uses.
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// SHA-256 of `bytes` (TLSA matching type 1).
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, bytes).as_ref());
    out
}

/// Lower-case hex, as TLSA presentation format writes the association data.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `m*.example.test` for `mx.example.test`: the first label's first character then `*`.
fn partial_wildcard(name: &str) -> String {
    let name = name.trim_start_matches("*.");
    match name.split_once('.') {
        Some((label, rest)) => {
            let head: String = label.chars().take(1).collect();
            format!("{head}*.{rest}")
        }
        None => format!("{name}*"),
    }
}

fn derive_bytes(seed: u64, label: &str) -> [u8; 32] {
    let mut input = Vec::with_capacity(DERIVATION_LABEL.len() + 9 + label.len());
    input.extend_from_slice(DERIVATION_LABEL);
    input.extend_from_slice(&seed.to_be_bytes());
    input.push(0);
    input.extend_from_slice(label.as_bytes());
    sha256(&input)
}

fn derive_pkcs8(seed: u64, label: &str) -> Vec<u8> {
    let mut doc = ED25519_PKCS8_PREFIX.to_vec();
    doc.extend_from_slice(&derive_bytes(seed, &format!("key\0{label}")));
    doc
}

fn derive_serial(seed: u64, spec: &CertSpec) -> SerialNumber {
    let label = format!(
        "serial\0{}\0{:?}\0{:?}\0{}",
        spec.names.join(","),
        spec.kind,
        spec.chain,
        spec.generation
    );
    let mut bytes = derive_bytes(seed, &label);
    // Positive, no leading zero octet, 16 octets (RFC 5280 §4.1.2.2 allows up to 20).
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes[..16])
}

fn make_ca(
    seed: u64,
    purpose: &str,
    common_name: &str,
    parent: Option<&Issuer<'static, KeyPair>>,
) -> Result<(CaCert, Issuer<'static, KeyPair>), PkiError> {
    let key = KeyPair::try_from(derive_pkcs8(seed, purpose).as_slice())?;
    let mut params = CertificateParams::default();
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2099, 12, 31);
    let mut serial = derive_bytes(seed, &format!("serial\0{purpose}"));
    serial[0] = (serial[0] & 0x7f) | 0x40;
    params.serial_number = Some(SerialNumber::from_slice(&serial[..16]));
    params.distinguished_name = DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "mxcensus simnet");
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.is_ca = IsCa::Ca(if parent.is_some() {
        BasicConstraints::Constrained(0)
    } else {
        BasicConstraints::Unconstrained
    });
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.use_authority_key_identifier_extension = parent.is_some();
    let cert = match parent {
        Some(parent) => params.signed_by(&key, parent)?,
        None => params.self_signed(&key)?,
    };
    let ca = CaCert {
        der: cert.der().clone(),
        pem: cert.pem(),
        spki_der: key.subject_public_key_info(),
    };
    Ok((ca, Issuer::new(params, key)))
}

/// A FIFO-bounded map: leaves are cheap to re-issue, so eviction order barely matters.
struct LeafCache {
    map: HashMap<CertSpec, Arc<IssuedCert>>,
    order: VecDeque<CertSpec>,
    capacity: usize,
}

impl LeafCache {
    fn new(capacity: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn get(&self, spec: &CertSpec) -> Option<Arc<IssuedCert>> {
        self.map.get(spec).cloned()
    }

    fn insert(&mut self, spec: CertSpec, cert: Arc<IssuedCert>) {
        if self.map.contains_key(&spec) {
            return;
        }
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.order.push_back(spec.clone());
        self.map.insert(spec, cert);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::WebPkiServerVerifier;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{ServerName, UnixTime};
    use rustls::{CertificateError, Error, RootCertStore};

    const NAME: &str = "mx.example.test";

    fn verify(pki: &Pki, spec: &CertSpec, name: &str) -> Result<(), Error> {
        let mut roots = RootCertStore::empty();
        roots.add(pki.root().der.clone()).unwrap();
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap();
        let issued = pki.leaf(spec).unwrap();
        let (leaf, rest) = issued.chain.split_first().unwrap();
        verifier
            .verify_server_cert(
                leaf,
                rest,
                &ServerName::try_from(name.to_string()).unwrap(),
                &[],
                UnixTime::now(),
            )
            .map(|_| ())
    }

    fn cert_error(pki: &Pki, spec: &CertSpec) -> CertificateError {
        match verify(pki, spec, NAME) {
            Err(Error::InvalidCertificate(e)) => e,
            other => panic!("{spec:?}: expected a certificate error, got {other:?}"),
        }
    }

    #[test]
    fn same_inputs_give_identical_der() {
        let a = Pki::new(7).unwrap();
        let b = Pki::new(7).unwrap();
        assert_eq!(a.ca_pem(), b.ca_pem());
        assert_eq!(a.intermediate().der, b.intermediate().der);
        for kind in [CertKind::Valid, CertKind::Expired, CertKind::SelfSigned] {
            let spec = CertSpec::of_kind(NAME, kind);
            assert_eq!(a.leaf(&spec).unwrap().chain, b.leaf(&spec).unwrap().chain);
        }
        let c = Pki::new(8).unwrap();
        assert_ne!(a.ca_pem(), c.ca_pem());
        assert_ne!(
            a.leaf(&CertSpec::valid(NAME)).unwrap().spki_der,
            c.leaf(&CertSpec::valid(NAME)).unwrap().spki_der
        );
    }

    #[test]
    fn key_depends_on_names_and_generation_only() {
        let pki = Pki::new(1).unwrap();
        let valid = pki.leaf(&CertSpec::valid(NAME)).unwrap();
        let expired = pki
            .leaf(&CertSpec::of_kind(NAME, CertKind::Expired))
            .unwrap();
        let rolled = pki.leaf(&CertSpec::valid(NAME).with_generation(2)).unwrap();
        assert_eq!(valid.spki_sha256, expired.spki_sha256);
        assert_ne!(valid.spki_sha256, rolled.spki_sha256);
        assert_ne!(valid.cert_sha256, expired.cert_sha256);
        assert_eq!(valid.spki_sha256, sha256(&valid.spki_der));
        assert_eq!(valid.cert_sha256, sha256(valid.leaf_der()));
    }

    #[test]
    fn cache_is_bounded_and_reuses_entries() {
        let pki = Pki::with_cache_capacity(1, 2).unwrap();
        let first = pki.leaf(&CertSpec::valid("a.test")).unwrap();
        assert!(Arc::ptr_eq(
            &first,
            &pki.leaf(&CertSpec::valid("a.test")).unwrap()
        ));
        pki.leaf(&CertSpec::valid("b.test")).unwrap();
        pki.leaf(&CertSpec::valid("c.test")).unwrap();
        assert_eq!(pki.cached_leaves(), 2);
        let again = pki.leaf(&CertSpec::valid("a.test")).unwrap();
        assert!(!Arc::ptr_eq(&first, &again));
        assert_eq!(first.chain, again.chain);
    }

    #[test]
    fn valid_leaf_verifies_with_every_chain_shape() {
        let pki = Pki::new(3).unwrap();
        verify(&pki, &CertSpec::valid(NAME), NAME).unwrap();
        let with_root = CertSpec::valid(NAME).with_chain(ChainShape::WithRoot);
        verify(&pki, &with_root, NAME).unwrap();
        assert_eq!(pki.leaf(&with_root).unwrap().chain.len(), 3);
        assert_eq!(pki.leaf(&with_root).unwrap().chain[2], pki.root().der);
        let wildcard = CertSpec::valid("*.provider.test");
        verify(&pki, &wildcard, "mx1.provider.test").unwrap();
    }

    #[test]
    fn each_bad_kind_fails_as_expected() {
        let pki = Pki::new(3).unwrap();
        assert!(matches!(
            cert_error(&pki, &CertSpec::of_kind(NAME, CertKind::Expired)),
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ));
        assert!(matches!(
            cert_error(&pki, &CertSpec::of_kind(NAME, CertKind::NotYetValid)),
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
        ));
        for kind in [CertKind::SelfSigned, CertKind::UntrustedIssuer] {
            assert_eq!(
                cert_error(&pki, &CertSpec::of_kind(NAME, kind)),
                CertificateError::UnknownIssuer
            );
        }
        let no_intermediate = CertSpec::valid(NAME).with_chain(ChainShape::LeafOnly);
        assert_eq!(
            cert_error(&pki, &no_intermediate),
            CertificateError::UnknownIssuer
        );
        assert_eq!(pki.leaf(&no_intermediate).unwrap().chain.len(), 1);
        for kind in [
            CertKind::WrongName,
            CertKind::CnOnly,
            CertKind::PartialWildcard,
        ] {
            assert!(
                matches!(
                    cert_error(&pki, &CertSpec::of_kind(NAME, kind)),
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn planted_names_are_what_the_kind_says() {
        assert_eq!(partial_wildcard("mx.example.test"), "m*.example.test");
        assert_eq!(partial_wildcard("*.example.test"), "e*.test");
        let pki = Pki::new(3).unwrap();
        // The wrong-name certificate is valid for the name it does carry.
        verify(
            &pki,
            &CertSpec::of_kind(NAME, CertKind::WrongName),
            "wrong-name.mx.example.test",
        )
        .unwrap();
        assert!(matches!(
            pki.leaf(&CertSpec {
                names: vec![],
                kind: CertKind::Valid,
                chain: ChainShape::LeafAndIssuer,
                generation: 1
            }),
            Err(PkiError::NoNames)
        ));
    }

    #[test]
    fn ca_hashes_are_of_the_published_certs() {
        let pki = Pki::new(5).unwrap();
        assert_eq!(
            pki.intermediate().cert_sha256(),
            sha256(&pki.intermediate().der)
        );
        assert_eq!(hex(&[0x0a, 0xff]), "0aff");
        assert!(pki.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        assert_ne!(pki.root().spki_sha256(), pki.untrusted().spki_sha256());
    }
}
