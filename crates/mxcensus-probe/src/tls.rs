//! TLS for the probes: record, don't abort.
//!
//! [`handshake`] runs a rustls client handshake whose certificate verifier accepts any
//! chain (it still checks the handshake signatures with the ring provider's algorithms, so
//! the peer must hold the key of the certificate it sent) and records everything: SNI sent,
//! negotiated version and cipher suite, ALPN, the full DER chain, a stapled OCSP response,
//! the handshake time, and, on failure, the precise rustls error plus what the server's
//! first TLS record said (an alert, or a ServerHello with an old version).
//!
//! [`WebPki::check`] then judges the recorded chain for the name that matters with
//! rustls' real `WebPkiServerVerifier` (webpki-roots plus extra CA files), and separately
//! with `mxcensus_proto::cert` for the name (RFC 8461 rules: DNS-IDs only, whole-label
//! wildcards) and the leaf's dates, because webpki reports only its first failure.
//!
//! rustls speaks TLS 1.2 and 1.3 only. A server that only speaks an older version is
//! recorded as [`HandshakeError::is_legacy_only`] from what it sent back: a ServerHello
//! below TLS 1.2 (rustls: `PeerIncompatible::ServerDoesNotSupportTls12Or13`) or a fatal
//! `protocol_version` alert (`AlertReceived(ProtocolVersion)`). SPEC §I asks to offer
//! TLS 1.0–1.1 too; no crate here can, and RFC 8461 §7.2 requires TLS ≥ 1.2 anyway.

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mxcensus_proto::cert::{
    CertClass, CertParseError, CertSummary, NameCheck, NameOutcome, Validity, check_host_name,
    validity_at,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    AlertDescription, CertificateError, CipherSuite, ClientConfig, DigitallySignedStruct,
    PeerIncompatible, ProtocolVersion, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsConnector;

/// How many bytes of the server's first flight are kept to explain a failed handshake.
const TAP_CAPTURE: usize = 4096;

/// The ring provider every probe uses (SPEC: ring is the only crypto provider).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of `data`, through the ring provider rustls already carries.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    if let Some(suite) = rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256.tls13() {
        let digest = suite.common.hash_provider.hash(data);
        let bytes = digest.as_ref();
        if bytes.len() == out.len() {
            out.copy_from_slice(bytes);
        }
    }
    out
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The current time as Unix seconds (the probe time every certificate is judged at).
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

// ---------------------------------------------------------------------------------------
// Trust store and the Web PKI check

/// Why the trust store could not be built from the configured CA files.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    /// The file could not be read.
    #[error("cannot read CA file {path}: {kind:?}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error kind.
        kind: io::ErrorKind,
    },
    /// The file is not PEM or a PEM block is malformed.
    #[error("CA file {path} is not valid PEM")]
    Pem {
        /// The file.
        path: PathBuf,
    },
    /// The file holds no certificate.
    #[error("CA file {path} holds no certificate")]
    NoCertificates {
        /// The file.
        path: PathBuf,
    },
    /// A certificate could not be used as a trust anchor.
    #[error("certificate {index} of {path} is not a usable trust anchor")]
    BadAnchor {
        /// The file.
        path: PathBuf,
        /// Position of the certificate in the file.
        index: usize,
    },
    /// rustls refused to build the verifier (no roots at all).
    #[error("cannot build the Web PKI verifier")]
    Verifier,
}

/// Why rustls' `WebPkiServerVerifier` rejected a chain (its first failure only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PkixError {
    /// No path to a trusted root.
    UnknownIssuer,
    /// A certificate of the path has expired.
    Expired,
    /// A certificate of the path is not valid yet.
    NotValidYet,
    /// The leaf is not valid for the reference name.
    NotValidForName,
    /// A signature in the path does not verify.
    BadSignature,
    /// A signature algorithm in the path is not supported.
    UnsupportedSignatureAlgorithm,
    /// The leaf's extended key usage does not allow TLS server authentication.
    InvalidPurpose,
    /// The leaf is a CA certificate (basicConstraints cA) used as an end entity, as
    /// `openssl req -x509` makes by default (webpki's `CaUsedAsEndEntity`).
    CaUsedAsEndEntity,
    /// A certificate of the path is not well-formed DER.
    BadEncoding,
    /// A critical extension was not understood.
    UnhandledCriticalExtension,
    /// The certificate is revoked.
    Revoked,
    /// The reference name is not a DNS name rustls accepts.
    InvalidReferenceName,
    /// No certificate was presented.
    NoCertificate,
    /// Another rustls verification error.
    Other,
}

impl PkixError {
    fn from_rustls(error: &rustls::Error) -> Self {
        let rustls::Error::InvalidCertificate(e) = error else {
            return PkixError::Other;
        };
        #[allow(deprecated)]
        match e {
            CertificateError::UnknownIssuer => PkixError::UnknownIssuer,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                PkixError::Expired
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                PkixError::NotValidYet
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                PkixError::NotValidForName
            }
            CertificateError::BadSignature => PkixError::BadSignature,
            CertificateError::UnsupportedSignatureAlgorithm
            | CertificateError::UnsupportedSignatureAlgorithmContext { .. }
            | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                PkixError::UnsupportedSignatureAlgorithm
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                PkixError::InvalidPurpose
            }
            CertificateError::BadEncoding => PkixError::BadEncoding,
            CertificateError::UnhandledCriticalExtension => PkixError::UnhandledCriticalExtension,
            CertificateError::Revoked => PkixError::Revoked,
            _ => PkixError::Other,
        }
    }
}

/// The one-word verdict of a certificate check (the headline of [`CertCheck`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertStatus {
    /// Trusted, within its dates, and a DNS-ID matches the name.
    Valid,
    /// No path to a trusted root, and the leaf is not self-signed.
    UnknownIssuer,
    /// Unknown issuer, and the leaf is self-issued with a verifying self-signature.
    SelfSigned,
    /// Another path failure (bad signature, wrong key usage, ...).
    PathInvalid(PkixError),
    /// The leaf (or a CA of its path) has expired.
    Expired,
    /// The leaf (or a CA of its path) is not valid yet.
    NotYetValid,
    /// No DNS-ID matches; the outcome says whether only the CN or a partial wildcard would.
    NameMismatch(NameOutcome),
    /// The leaf does not parse as X.509.
    Unparseable,
    /// No certificate was presented.
    NoCertificate,
}

impl CertStatus {
    /// The snake_case name used in reports.
    pub fn code(self) -> &'static str {
        match self {
            CertStatus::Valid => "valid",
            CertStatus::UnknownIssuer => "unknown_issuer",
            CertStatus::SelfSigned => "self_signed",
            CertStatus::PathInvalid(_) => "path_invalid",
            CertStatus::Expired => "expired",
            CertStatus::NotYetValid => "not_yet_valid",
            CertStatus::NameMismatch(NameOutcome::CnOnly) => "cn_only",
            CertStatus::NameMismatch(NameOutcome::PartialWildcardOnly) => "partial_wildcard_only",
            CertStatus::NameMismatch(_) => "name_mismatch",
            CertStatus::Unparseable => "unparseable",
            CertStatus::NoCertificate => "no_certificate",
        }
    }
}

/// A served chain judged for one name at one time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertCheck {
    /// The reference name checked (MX host name, `mta-sts.<domain>`, ...).
    pub reference: String,
    /// The time the chain was judged at, Unix seconds.
    pub at: i64,
    /// The leaf's summary, or why it does not parse (`None` without any certificate).
    pub leaf: Option<Result<CertSummary, CertParseError>>,
    /// rustls' `WebPkiServerVerifier` verdict at `at` for `reference` (first failure only).
    pub webpki: Result<(), PkixError>,
    /// Whether the chain leads to a trusted root, judged at a time inside the leaf's
    /// validity and without the name, so that an expired or misnamed certificate still
    /// tells whether its issuer is trusted.
    pub trust: Result<(), PkixError>,
    /// The leaf's dates at `at` (`mxcensus_proto::cert::validity_at`).
    pub validity: Option<Validity>,
    /// The host-name check (`mxcensus_proto::cert::check_host_name`: DNS-IDs only).
    pub name: Option<NameCheck>,
    /// Every failure found, in the order trust, dates, name.
    pub failures: Vec<CertClass>,
    /// The headline verdict.
    pub status: CertStatus,
}

impl CertCheck {
    /// True when nothing failed: the certificate is valid for the name under Web PKI.
    pub fn is_valid(&self) -> bool {
        self.status == CertStatus::Valid
    }
}

/// The Web PKI trust store (webpki-roots plus extra CAs) and the verifier built on it.
#[derive(Clone, Debug)]
pub struct WebPki {
    verifier: Arc<WebPkiServerVerifier>,
    extra_anchors: usize,
}

impl WebPki {
    /// webpki-roots plus every certificate in the PEM files `extra_ca`.
    pub fn new(extra_ca: &[PathBuf]) -> Result<Self, TrustError> {
        let mut extra = Vec::new();
        for path in extra_ca {
            extra.extend(
                read_pem_certs(path)?
                    .into_iter()
                    .map(|der| (path.clone(), der)),
            );
        }
        Self::build(true, extra)
    }

    /// Only the given CA certificates (DER), without webpki-roots: for closed test worlds.
    pub fn with_roots_only(roots: &[Vec<u8>]) -> Result<Self, TrustError> {
        let extra = roots
            .iter()
            .map(|der| (PathBuf::new(), CertificateDer::from(der.clone())))
            .collect();
        Self::build(false, extra)
    }

    fn build(
        public_roots: bool,
        extra: Vec<(PathBuf, CertificateDer<'static>)>,
    ) -> Result<Self, TrustError> {
        let mut roots = RootCertStore::empty();
        if public_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        let extra_anchors = extra.len();
        for (index, (path, der)) in extra.into_iter().enumerate() {
            roots
                .add(der)
                .map_err(|_| TrustError::BadAnchor { path, index })?;
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .map_err(|_| TrustError::Verifier)?;
        Ok(Self {
            verifier,
            extra_anchors,
        })
    }

    /// How many extra trust anchors were added to webpki-roots.
    pub fn extra_anchors(&self) -> usize {
        self.extra_anchors
    }

    fn verify(&self, chain: &[Vec<u8>], name: &ServerName<'_>, at: i64) -> Result<(), PkixError> {
        let Some((leaf, rest)) = chain.split_first() else {
            return Err(PkixError::NoCertificate);
        };
        let leaf = CertificateDer::from(leaf.as_slice());
        let rest: Vec<CertificateDer<'_>> = rest
            .iter()
            .map(|c| CertificateDer::from(c.as_slice()))
            .collect();
        let secs = u64::try_from(at).unwrap_or(0);
        let now = UnixTime::since_unix_epoch(Duration::from_secs(secs));
        self.verifier
            .verify_server_cert(&leaf, &rest, name, &[], now)
            .map(|_| ())
            .map_err(|e| PkixError::from_rustls(&e))
    }

    /// Judges `chain` (DER, leaf first, as served) for `reference` at `at` (Unix seconds).
    pub fn check(&self, chain: &[Vec<u8>], reference: &str, at: i64) -> CertCheck {
        let reference_name = reference.strip_suffix('.').unwrap_or(reference);
        let server_name = ServerName::try_from(reference_name.to_ascii_lowercase()).ok();
        let leaf = chain.first().map(|der| CertSummary::from_der(der));
        let webpki = match &server_name {
            Some(name) => self.verify(chain, name, at),
            None if chain.is_empty() => Err(PkixError::NoCertificate),
            None => Err(PkixError::InvalidReferenceName),
        };
        // The path alone: a name that can never match (an IP) makes a name failure the
        // only possible outcome once the path verified.
        let nameless = ServerName::IpAddress(IpAddr::V4(Ipv4Addr::UNSPECIFIED).into());
        let mut trust = self.verify(chain, &nameless, at);
        if matches!(trust, Err(PkixError::Expired | PkixError::NotValidYet))
            && let Some(Ok(summary)) = &leaf
        {
            // Judge the path at a time the leaf was valid, so its issuer still counts.
            let inside = at.clamp(summary.not_before, summary.not_after);
            trust = self.verify(chain, &nameless, inside);
        }
        if trust == Err(PkixError::NotValidForName) {
            trust = Ok(());
        }
        // rustls passes webpki's CaUsedAsEndEntity through as an opaque `Other`; the leaf's
        // own basicConstraints says which it is.
        let leaf_is_ca = matches!(&leaf, Some(Ok(s)) if s.basic_constraints_ca == Some(true));
        let refine = |r: Result<(), PkixError>| match r {
            Err(PkixError::Other) if leaf_is_ca => Err(PkixError::CaUsedAsEndEntity),
            other => other,
        };
        let trust = refine(trust);
        let webpki = refine(webpki);
        let validity = match &leaf {
            Some(Ok(summary)) => Some(validity_at(summary, at)),
            _ => None,
        };
        let name = match &leaf {
            Some(Ok(summary)) => Some(check_host_name(summary, reference)),
            _ => None,
        };
        let self_signed = matches!(&leaf, Some(Ok(s)) if s.is_self_signed);

        let mut failures = Vec::new();
        let mut push = |c: CertClass| {
            if !failures.contains(&c) {
                failures.push(c);
            }
        };
        let status_trust = match (&leaf, trust) {
            (None, _) => Some(CertStatus::NoCertificate),
            (Some(Err(_)), _) => {
                push(CertClass::Unparseable);
                Some(CertStatus::Unparseable)
            }
            (Some(Ok(_)), Ok(())) => None,
            // Self-signed: no root vouches for it, whatever webpki tripped over first
            // (unknown issuer, or a CA certificate used as the end entity).
            (Some(Ok(_)), Err(e))
                if self_signed && !matches!(e, PkixError::Expired | PkixError::NotValidYet) =>
            {
                push(CertClass::SelfSigned);
                Some(CertStatus::SelfSigned)
            }
            (Some(Ok(_)), Err(PkixError::UnknownIssuer)) => {
                push(CertClass::Untrusted);
                Some(CertStatus::UnknownIssuer)
            }
            // A CA of the path is out of its dates even while the leaf is valid.
            (Some(Ok(_)), Err(PkixError::Expired)) => {
                push(CertClass::Expired);
                Some(CertStatus::Expired)
            }
            (Some(Ok(_)), Err(PkixError::NotValidYet)) => {
                push(CertClass::NotYetValid);
                Some(CertStatus::NotYetValid)
            }
            (Some(Ok(_)), Err(other)) => {
                push(CertClass::Untrusted);
                Some(CertStatus::PathInvalid(other))
            }
        };
        let status_dates = match validity {
            Some(Validity::Expired) => {
                push(CertClass::Expired);
                Some(CertStatus::Expired)
            }
            Some(Validity::NotYetValid) => {
                push(CertClass::NotYetValid);
                Some(CertStatus::NotYetValid)
            }
            _ => None,
        };
        let status_name = match &name {
            Some(check) => check.outcome.class().map(|class| {
                push(class);
                CertStatus::NameMismatch(check.outcome)
            }),
            None => None,
        };
        let status = status_trust
            .or(status_dates)
            .or(status_name)
            .unwrap_or(CertStatus::Valid);
        CertCheck {
            reference: reference.to_owned(),
            at,
            leaf,
            webpki,
            trust,
            validity,
            name,
            failures,
            status,
        }
    }
}

/// Reads every certificate of a PEM file.
fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TrustError> {
    let data = std::fs::read(path).map_err(|e| TrustError::Read {
        path: path.to_owned(),
        kind: e.kind(),
    })?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TrustError::Pem {
            path: path.to_owned(),
        })?;
    if certs.is_empty() {
        return Err(TrustError::NoCertificates {
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

// ---------------------------------------------------------------------------------------
// The recording handshake

/// What the permissive verifier saw during the handshake.
#[derive(Debug, Default)]
struct Seen {
    chain: Vec<Vec<u8>>,
    ocsp: Vec<u8>,
}

/// Accepts any chain, records it, and still checks the handshake signatures.
#[derive(Debug)]
struct RecordingVerifier {
    algorithms: WebPkiSupportedAlgorithms,
    seen: Mutex<Seen>,
}

impl RecordingVerifier {
    fn seen(&self) -> MutexGuard<'_, Seen> {
        // Only plain assignments happen under the lock: a poisoned one is still consistent.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ServerCertVerifier for RecordingVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut seen = self.seen();
        seen.chain = std::iter::once(end_entity)
            .chain(intermediates)
            .map(|c| c.as_ref().to_vec())
            .collect();
        seen.ocsp = ocsp_response.to_vec();
        // Judged after the handshake (WebPki::check): record, don't abort.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A stream that keeps a copy of the first bytes the server sends, to explain a failed
/// handshake from the wire (an alert, or a ServerHello with an old version).
#[derive(Debug)]
pub struct Tap<S> {
    inner: S,
    captured: Arc<Mutex<Vec<u8>>>,
}

impl<S> Tap<S> {
    fn new(inner: S) -> (Self, Arc<Mutex<Vec<u8>>>) {
        let captured = Arc::new(Mutex::new(Vec::new()));
        (
            Self {
                inner,
                captured: captured.clone(),
            },
            captured,
        )
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tap<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &poll {
            let fresh = buf.filled().get(before..).unwrap_or_default();
            let mut captured = this.captured.lock().unwrap_or_else(PoisonError::into_inner);
            let room = TAP_CAPTURE.saturating_sub(captured.len());
            captured.extend_from_slice(fresh.get(..room.min(fresh.len())).unwrap_or_default());
        }
        poll
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tap<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// What the server's first TLS record was, read from the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServerFirstRecord {
    /// The server sent nothing.
    Nothing,
    /// Fewer bytes than a record header and the first handshake fields.
    Truncated,
    /// The bytes do not start with a TLS record header (e.g. plaintext SMTP, SSLv2).
    NotTls {
        /// The first byte.
        first_byte: u8,
    },
    /// An alert record.
    Alert {
        /// Alert level (1 warning, 2 fatal).
        level: u8,
        /// Alert description (70 = protocol_version, 40 = handshake_failure, ...).
        description: u8,
    },
    /// A ServerHello.
    ServerHello {
        /// The record layer version.
        record_version: u16,
        /// `legacy_version` of the ServerHello (0x0301 = TLS 1.0, 0x0303 = TLS 1.2 or a
        /// TLS 1.3 hello with `supported_versions`).
        legacy_version: u16,
    },
    /// Another handshake message or content type.
    Other {
        /// Record content type.
        content_type: u8,
        /// First handshake message type, for handshake records.
        handshake_type: Option<u8>,
    },
}

impl ServerFirstRecord {
    /// Parses the first record of `bytes` (what the server sent first).
    pub fn parse(bytes: &[u8]) -> Self {
        let Some(&content_type) = bytes.first() else {
            return ServerFirstRecord::Nothing;
        };
        if !(20..=24).contains(&content_type) || bytes.get(1).is_some_and(|&v| v != 3) {
            return ServerFirstRecord::NotTls {
                first_byte: content_type,
            };
        }
        let byte = |i: usize| bytes.get(i).copied();
        let u16_at = |i: usize| Some(u16::from_be_bytes([byte(i)?, byte(i + 1)?]));
        let Some(record_version) = u16_at(1) else {
            return ServerFirstRecord::Truncated;
        };
        match content_type {
            21 => match (byte(5), byte(6)) {
                (Some(level), Some(description)) => ServerFirstRecord::Alert { level, description },
                _ => ServerFirstRecord::Truncated,
            },
            22 => match (byte(5), u16_at(9)) {
                (Some(2), Some(legacy_version)) => ServerFirstRecord::ServerHello {
                    record_version,
                    legacy_version,
                },
                (Some(2), None) | (None, _) => ServerFirstRecord::Truncated,
                (Some(t), _) => ServerFirstRecord::Other {
                    content_type,
                    handshake_type: Some(t),
                },
            },
            _ => ServerFirstRecord::Other {
                content_type,
                handshake_type: None,
            },
        }
    }

    /// The server chose a version below TLS 1.2, or refused ours with `protocol_version`.
    pub fn says_legacy(self) -> bool {
        match self {
            ServerFirstRecord::ServerHello { legacy_version, .. } => legacy_version < 0x0303,
            ServerFirstRecord::Alert { description, .. } => description == 70,
            _ => false,
        }
    }
}

/// Why a handshake did not complete.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// No complete handshake within the time limit.
    Timeout,
    /// The peer closed the connection during the handshake.
    Closed,
    /// The peer reset the connection during the handshake.
    Reset,
    /// Another socket error.
    Io(io::ErrorKind),
    /// rustls failed: an alert from the server, an incompatible or misbehaving peer, an
    /// invalid message, a bad handshake signature, ...
    Tls(rustls::Error),
}

impl HandshakeError {
    fn from_io(error: io::Error) -> Self {
        if let Some(tls) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return HandshakeError::Tls(tls.clone());
        }
        match error.kind() {
            io::ErrorKind::UnexpectedEof => HandshakeError::Closed,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => HandshakeError::Reset,
            io::ErrorKind::TimedOut => HandshakeError::Timeout,
            kind => HandshakeError::Io(kind),
        }
    }

    /// The server only speaks TLS versions below 1.2: its ServerHello chose an older
    /// version (`PeerIncompatible::ServerDoesNotSupportTls12Or13`), or it refused ours with
    /// a `protocol_version` alert. Not a generic handshake failure, not "no TLS".
    pub fn is_legacy_only(&self) -> bool {
        matches!(
            self,
            HandshakeError::Tls(rustls::Error::PeerIncompatible(
                PeerIncompatible::ServerDoesNotSupportTls12Or13
            )) | HandshakeError::Tls(rustls::Error::AlertReceived(
                AlertDescription::ProtocolVersion
            ))
        )
    }

    /// The fatal alert the server sent, if that is how it failed.
    pub fn alert_received(&self) -> Option<AlertDescription> {
        match self {
            HandshakeError::Tls(rustls::Error::AlertReceived(alert)) => Some(*alert),
            _ => None,
        }
    }
}

/// Everything recorded about one TLS handshake.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsRecord {
    /// The SNI sent (`None` when the name is not a DNS name: no SNI is sent then).
    pub sni: Option<String>,
    /// ALPN protocols offered.
    pub alpn_offered: Vec<Vec<u8>>,
    /// `Ok` when the handshake completed; the chain is recorded either way.
    pub outcome: Result<(), HandshakeError>,
    /// Negotiated version (TLS 1.2 or 1.3).
    pub version: Option<ProtocolVersion>,
    /// Negotiated cipher suite.
    pub cipher_suite: Option<CipherSuite>,
    /// ALPN protocol the server selected.
    pub alpn: Option<Vec<u8>>,
    /// The served chain, DER, leaf first, as sent (also when the handshake failed later).
    pub chain: Vec<Vec<u8>>,
    /// SHA-256 of each certificate of `chain`.
    pub chain_sha256: Vec<[u8; 32]>,
    /// The stapled OCSP response, if any (not validated).
    pub ocsp_response: Vec<u8>,
    /// From the TLS start to the end of the handshake (or its failure).
    pub handshake_time: Duration,
    /// What the server's first TLS record was, from the wire.
    pub server_first_record: ServerFirstRecord,
}

impl TlsRecord {
    /// The handshake completed.
    pub fn completed(&self) -> bool {
        self.outcome.is_ok()
    }

    /// A stapled OCSP response was received.
    pub fn ocsp_stapled(&self) -> bool {
        !self.ocsp_response.is_empty()
    }

    /// The handshake failed because the server only speaks TLS < 1.2, judged from the rustls
    /// error and, as a cross-check, from the server's first record on the wire.
    pub fn legacy_only(&self) -> bool {
        match &self.outcome {
            Ok(()) => false,
            Err(e) => e.is_legacy_only() || self.server_first_record.says_legacy(),
        }
    }
}

/// A completed or failed handshake: the record and, if it completed, the TLS stream.
pub struct Handshake<S> {
    /// The evidence.
    pub record: TlsRecord,
    /// The TLS stream, when the handshake completed.
    pub stream: Option<tokio_rustls::client::TlsStream<Tap<S>>>,
}

impl<S> std::fmt::Debug for Handshake<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handshake")
            .field("record", &self.record)
            .field("stream", &self.stream.is_some())
            .finish()
    }
}

/// Runs a recording TLS 1.2/1.3 client handshake over `io` with SNI `server_name`, within
/// `limit`. Never fails on the certificate: judge `record.chain` with [`WebPki::check`].
pub async fn handshake<S>(io: S, server_name: &str, alpn: &[&[u8]], limit: Duration) -> Handshake<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let started = Instant::now();
    let provider = provider();
    let verifier = Arc::new(RecordingVerifier {
        algorithms: provider.signature_verification_algorithms,
        seen: Mutex::new(Seen::default()),
    });
    let sni_name = server_name
        .strip_suffix('.')
        .unwrap_or(server_name)
        .to_ascii_lowercase();
    let (name, sni) = match ServerName::try_from(sni_name.clone()) {
        Ok(name @ ServerName::DnsName(_)) => (name, Some(sni_name)),
        // An IP literal or an invalid name: rustls sends no SNI for these.
        Ok(name) => (name, None),
        Err(_) => (
            ServerName::IpAddress(IpAddr::V4(Ipv4Addr::UNSPECIFIED).into()),
            None,
        ),
    };
    let alpn_offered: Vec<Vec<u8>> = alpn.iter().map(|p| p.to_vec()).collect();
    let mut record = TlsRecord {
        sni,
        alpn_offered: alpn_offered.clone(),
        outcome: Ok(()),
        version: None,
        cipher_suite: None,
        alpn: None,
        chain: Vec::new(),
        chain_sha256: Vec::new(),
        ocsp_response: Vec::new(),
        handshake_time: Duration::ZERO,
        server_first_record: ServerFirstRecord::Nothing,
    };
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12]);
    let mut config = match config {
        Ok(builder) => builder
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth(),
        Err(e) => {
            record.outcome = Err(HandshakeError::Tls(e));
            return Handshake {
                record,
                stream: None,
            };
        }
    };
    // Every probe must see a full handshake with certificates.
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = alpn_offered;
    let connector = TlsConnector::from(Arc::new(config));
    let (tap, captured) = Tap::new(io);
    let result = tokio::time::timeout(limit, connector.connect(name, tap).into_fallible()).await;
    record.handshake_time = started.elapsed();
    let stream = match result {
        Err(_) => {
            record.outcome = Err(HandshakeError::Timeout);
            None
        }
        Ok(Err((error, _io))) => {
            record.outcome = Err(HandshakeError::from_io(error));
            None
        }
        Ok(Ok(stream)) => {
            let conn = stream.get_ref().1;
            record.version = conn.protocol_version();
            record.cipher_suite = conn.negotiated_cipher_suite().map(|s| s.suite());
            record.alpn = conn.alpn_protocol().map(<[u8]>::to_vec);
            if let Some(peer) = conn.peer_certificates() {
                record.chain = peer.iter().map(|c| c.as_ref().to_vec()).collect();
            }
            Some(stream)
        }
    };
    {
        let seen = verifier.seen();
        if record.chain.is_empty() {
            record.chain = seen.chain.clone();
        }
        record.ocsp_response = seen.ocsp.clone();
    }
    record.chain_sha256 = record.chain.iter().map(|c| sha256(c)).collect();
    let captured = captured.lock().unwrap_or_else(PoisonError::into_inner);
    record.server_first_record = ServerFirstRecord::parse(&captured);
    Handshake { record, stream }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mxcensus_simnet::pki::{CertKind, CertSpec, ChainShape, Pki};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const NAME: &str = "mx.example.test";

    fn trust(pki: &Pki) -> WebPki {
        WebPki::with_roots_only(&[pki.root().der.to_vec()]).unwrap()
    }

    fn chain_of(pki: &Pki, spec: &CertSpec) -> Vec<Vec<u8>> {
        pki.leaf(spec)
            .unwrap()
            .chain
            .iter()
            .map(|c| c.to_vec())
            .collect()
    }

    #[test]
    fn each_certificate_kind_is_classified() {
        let pki = Pki::new(11).unwrap();
        let webpki = trust(&pki);
        let now = unix_now();
        let check = |kind, shape| {
            let spec = CertSpec::of_kind(NAME, kind).with_chain(shape);
            webpki.check(&chain_of(&pki, &spec), NAME, now)
        };
        let valid = check(CertKind::Valid, ChainShape::LeafAndIssuer);
        assert_eq!(valid.status, CertStatus::Valid);
        assert!(valid.is_valid() && valid.failures.is_empty());
        assert_eq!(valid.webpki, Ok(()));
        assert_eq!(
            check(CertKind::Valid, ChainShape::WithRoot).status,
            CertStatus::Valid
        );

        let expired = check(CertKind::Expired, ChainShape::LeafAndIssuer);
        assert_eq!(expired.status, CertStatus::Expired);
        assert_eq!(expired.webpki, Err(PkixError::Expired));
        // Judged inside its dates, the path is trusted: only the dates fail.
        assert_eq!(expired.trust, Ok(()));
        assert_eq!(expired.failures, vec![CertClass::Expired]);

        let future = check(CertKind::NotYetValid, ChainShape::LeafAndIssuer);
        assert_eq!(future.status, CertStatus::NotYetValid);
        assert_eq!(future.failures, vec![CertClass::NotYetValid]);

        let self_signed = check(CertKind::SelfSigned, ChainShape::LeafAndIssuer);
        assert_eq!(self_signed.status, CertStatus::SelfSigned);
        assert_eq!(self_signed.trust, Err(PkixError::UnknownIssuer));
        assert_eq!(self_signed.failures, vec![CertClass::SelfSigned]);

        let untrusted = check(CertKind::UntrustedIssuer, ChainShape::LeafAndIssuer);
        assert_eq!(untrusted.status, CertStatus::UnknownIssuer);
        assert_eq!(untrusted.failures, vec![CertClass::Untrusted]);
        let incomplete = check(CertKind::Valid, ChainShape::LeafOnly);
        assert_eq!(incomplete.status, CertStatus::UnknownIssuer);

        let wrong = check(CertKind::WrongName, ChainShape::LeafAndIssuer);
        assert_eq!(
            wrong.status,
            CertStatus::NameMismatch(NameOutcome::Mismatch)
        );
        assert_eq!(wrong.webpki, Err(PkixError::NotValidForName));
        assert_eq!(wrong.trust, Ok(()));
        assert_eq!(wrong.failures, vec![CertClass::NameMismatch]);

        let cn_only = check(CertKind::CnOnly, ChainShape::LeafAndIssuer);
        assert_eq!(
            cn_only.status,
            CertStatus::NameMismatch(NameOutcome::CnOnly)
        );
        assert_eq!(cn_only.status.code(), "cn_only");
        assert_eq!(cn_only.failures, vec![CertClass::CnOnly]);

        let partial = check(CertKind::PartialWildcard, ChainShape::LeafAndIssuer);
        assert_eq!(
            partial.status,
            CertStatus::NameMismatch(NameOutcome::PartialWildcardOnly)
        );
    }

    #[test]
    fn both_date_and_name_failures_are_reported() {
        // webpki stops at the first failure (expiry); the check reports the name too.
        let pki = Pki::new(12).unwrap();
        let spec = CertSpec::of_kind(NAME, CertKind::Expired);
        let check = trust(&pki).check(&chain_of(&pki, &spec), "other.example.test", unix_now());
        assert_eq!(check.webpki, Err(PkixError::Expired));
        assert_eq!(
            check.failures,
            vec![CertClass::Expired, CertClass::NameMismatch]
        );
        assert_eq!(check.status, CertStatus::Expired);
        // An expired self-signed certificate: untrusted and expired, both known.
        let spec = CertSpec::of_kind(NAME, CertKind::SelfSigned);
        let leaf = chain_of(&pki, &spec);
        let summary = CertSummary::from_der(&leaf[0]).unwrap();
        let later = trust(&pki).check(&leaf, NAME, summary.not_after + 10);
        assert_eq!(
            later.failures,
            vec![CertClass::SelfSigned, CertClass::Expired]
        );
    }

    #[test]
    fn self_signed_ca_certificate_as_leaf() {
        // What `openssl req -x509` makes: self-signed with basicConstraints cA=TRUE.
        let pki = Pki::new(17).unwrap();
        let leaf = vec![pki.untrusted().der.to_vec()];
        let check = trust(&pki).check(&leaf, NAME, unix_now());
        assert_eq!(check.webpki, Err(PkixError::CaUsedAsEndEntity));
        assert_eq!(check.status, CertStatus::SelfSigned);
        assert_eq!(
            check.failures,
            vec![CertClass::SelfSigned, CertClass::NameMismatch]
        );
    }

    #[test]
    fn empty_and_garbage_chains() {
        let pki = Pki::new(13).unwrap();
        let webpki = trust(&pki);
        let none = webpki.check(&[], NAME, unix_now());
        assert_eq!(none.status, CertStatus::NoCertificate);
        assert_eq!(none.webpki, Err(PkixError::NoCertificate));
        let garbage = webpki.check(&[b"not a certificate".to_vec()], NAME, unix_now());
        assert_eq!(garbage.status, CertStatus::Unparseable);
        assert_eq!(garbage.failures, vec![CertClass::Unparseable]);
    }

    #[test]
    fn public_roots_do_not_trust_the_simnet_ca() {
        let pki = Pki::new(14).unwrap();
        let public = WebPki::new(&[]).unwrap();
        let chain = chain_of(&pki, &CertSpec::valid(NAME));
        assert_eq!(
            public.check(&chain, NAME, unix_now()).status,
            CertStatus::UnknownIssuer
        );
    }

    #[test]
    fn extra_ca_files_are_loaded() {
        let pki = Pki::new(15).unwrap();
        let dir = std::env::temp_dir().join(format!("probe-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, pki.ca_pem()).unwrap();
        let webpki = WebPki::new(std::slice::from_ref(&ca)).unwrap();
        assert_eq!(webpki.extra_anchors(), 1);
        let chain = chain_of(&pki, &CertSpec::valid(NAME));
        assert!(webpki.check(&chain, NAME, unix_now()).is_valid());

        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "nothing here\n").unwrap();
        assert!(matches!(
            WebPki::new(&[empty]),
            Err(TrustError::NoCertificates { .. })
        ));
        assert!(matches!(
            WebPki::new(&[dir.join("missing.pem")]),
            Err(TrustError::Read { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn first_record_parsing() {
        assert_eq!(ServerFirstRecord::parse(&[]), ServerFirstRecord::Nothing);
        assert_eq!(
            ServerFirstRecord::parse(b"220 ready\r\n"),
            ServerFirstRecord::NotTls { first_byte: b'2' }
        );
        let alert = ServerFirstRecord::parse(&[21, 3, 1, 0, 2, 2, 70]);
        assert_eq!(
            alert,
            ServerFirstRecord::Alert {
                level: 2,
                description: 70
            }
        );
        assert!(alert.says_legacy());
        let hello10 = [22, 3, 1, 0, 42, 2, 0, 0, 38, 3, 1, 0];
        let parsed = ServerFirstRecord::parse(&hello10);
        assert_eq!(
            parsed,
            ServerFirstRecord::ServerHello {
                record_version: 0x0301,
                legacy_version: 0x0301
            }
        );
        assert!(parsed.says_legacy());
        let hello12 = [22, 3, 3, 0, 42, 2, 0, 0, 38, 3, 3];
        assert!(!ServerFirstRecord::parse(&hello12).says_legacy());
        assert_eq!(
            ServerFirstRecord::parse(&[22, 3, 3, 0]),
            ServerFirstRecord::Truncated
        );
        assert_eq!(
            ServerFirstRecord::parse(&[22, 3, 3, 0, 4, 11, 0]),
            ServerFirstRecord::Other {
                content_type: 22,
                handshake_type: Some(11)
            }
        );
    }

    proptest::proptest! {
        #[test]
        fn first_record_parser_never_panics(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let _ = ServerFirstRecord::parse(&bytes).says_legacy();
        }
    }

    #[test]
    fn legacy_errors_are_told_apart() {
        let legacy = HandshakeError::Tls(rustls::Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13,
        ));
        assert!(legacy.is_legacy_only());
        let alert = HandshakeError::Tls(rustls::Error::AlertReceived(
            AlertDescription::ProtocolVersion,
        ));
        assert!(alert.is_legacy_only());
        assert_eq!(
            alert.alert_received(),
            Some(AlertDescription::ProtocolVersion)
        );
        let other = HandshakeError::Tls(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure,
        ));
        assert!(!other.is_legacy_only());
        assert!(!HandshakeError::Closed.is_legacy_only());
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "tls handshake eof");
        assert_eq!(HandshakeError::from_io(eof), HandshakeError::Closed);
        let wrapped = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::UnrecognisedName),
        );
        assert_eq!(
            HandshakeError::from_io(wrapped).alert_received(),
            Some(AlertDescription::UnrecognisedName)
        );
    }

    #[test]
    fn sha256_is_sha256() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    /// A TLS server on a socket pair, serving `spec`; returns the client's handshake.
    async fn handshake_against(spec: CertSpec) -> (Handshake<tokio::io::DuplexStream>, Pki) {
        let pki = Pki::new(16).unwrap();
        let issued = pki.leaf(&spec).unwrap();
        let (client, server) = tokio::io::duplex(64 * 1024);
        let acceptor = tokio_rustls::TlsAcceptor::from(issued.server_config.clone());
        let server_task = tokio::spawn(async move {
            if let Ok(mut tls) = acceptor.accept(server).await {
                let mut buf = [0u8; 5];
                if tls.read_exact(&mut buf).await.is_ok() {
                    let _ = tls.write_all(b"world").await;
                }
            }
        });
        let mut hs = handshake(client, NAME, &[], Duration::from_secs(10)).await;
        if let Some(stream) = hs.stream.as_mut() {
            stream.write_all(b"hello").await.unwrap();
            let mut buf = [0u8; 5];
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"world");
        }
        server_task.await.unwrap();
        (hs, pki)
    }

    #[tokio::test]
    async fn handshake_records_chain_of_an_invalid_certificate() {
        let spec = CertSpec::of_kind(NAME, CertKind::Expired);
        let (hs, pki) = handshake_against(spec.clone()).await;
        let record = &hs.record;
        assert!(record.completed(), "{record:?}");
        assert_eq!(record.sni.as_deref(), Some(NAME));
        assert_eq!(record.version, Some(ProtocolVersion::TLSv1_3));
        assert!(record.cipher_suite.is_some());
        assert_eq!(record.chain, chain_of(&pki, &spec));
        assert_eq!(record.chain_sha256[0], sha256(&record.chain[0]));
        assert!(!record.ocsp_stapled());
        assert!(!record.legacy_only());
        assert!(matches!(
            record.server_first_record,
            ServerFirstRecord::ServerHello {
                legacy_version: 0x0303,
                ..
            }
        ));
        let check = trust(&pki).check(&record.chain, NAME, unix_now());
        assert_eq!(check.status, CertStatus::Expired);
    }

    #[tokio::test]
    async fn handshake_against_silence_times_out() {
        let (client, _server) = tokio::io::duplex(1024);
        let hs = handshake(client, NAME, &[], Duration::from_millis(200)).await;
        assert_eq!(hs.record.outcome, Err(HandshakeError::Timeout));
        assert_eq!(hs.record.server_first_record, ServerFirstRecord::Nothing);
        assert!(hs.stream.is_none());
    }

    #[tokio::test]
    async fn handshake_against_a_legacy_hello() {
        // A TLS 1.0 ServerHello (as simnet's legacy server and old OpenSSL send).
        let (client, mut server) = tokio::io::duplex(64 * 1024);
        let server_task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let _ = server.read(&mut buf).await;
            let mut hello = vec![0x03, 0x01];
            hello.extend_from_slice(&[7u8; 32]);
            hello.extend_from_slice(&[0, 0x00, 0x2f, 0]);
            let mut hs = vec![2, 0, 0, u8::try_from(hello.len()).unwrap()];
            hs.extend_from_slice(&hello);
            let mut record = vec![22, 3, 1, 0, u8::try_from(hs.len()).unwrap()];
            record.extend_from_slice(&hs);
            server.write_all(&record).await.unwrap();
            let _ = server.read(&mut buf).await;
        });
        let hs = handshake(client, NAME, &[], Duration::from_secs(5)).await;
        assert!(hs.record.legacy_only(), "{:?}", hs.record);
        assert_eq!(
            hs.record.outcome,
            Err(HandshakeError::Tls(rustls::Error::PeerIncompatible(
                PeerIncompatible::ServerDoesNotSupportTls12Or13
            )))
        );
        server_task.await.unwrap();
    }

    #[tokio::test]
    async fn non_dns_names_send_no_sni() {
        let (client, _server) = tokio::io::duplex(1024);
        let hs = handshake(client, "192.0.2.1", &[], Duration::from_millis(50)).await;
        assert_eq!(hs.record.sni, None);
        let (client, _server) = tokio::io::duplex(1024);
        let hs = handshake(client, "MX.Example.TEST.", &[], Duration::from_millis(50)).await;
        assert_eq!(hs.record.sni.as_deref(), Some(NAME));
    }
}
