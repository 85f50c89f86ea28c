//! A server that speaks only TLS 1.0, as far as a modern client can tell.
//!
//! What a real TLS 1.0-only server (e.g. OpenSSL 1.0.0 or an old appliance) does with a
//! ClientHello offering TLS 1.2/1.3: version negotiation per RFC 2246/5246 Appendix E.1 —
//! it answers with a ServerHello carrying its own highest version, 3.1 (TLS 1.0), and a
//! TLS 1.0 cipher suite. A client whose minimum is TLS 1.2 then aborts with a fatal
//! `protocol_version` alert (rustls: `PeerIncompatible::ServerDoesNotSupportTls12Or13`;
//! OpenSSL: "unsupported protocol"). That is what this module mimics: it reads the
//! ClientHello (recording SNI), sends ServerHello {3.1, TLS_RSA_WITH_AES_128_CBC_SHA, plus
//! an empty `renegotiation_info` when the client signals RFC 5746 support, as every patched
//! server since 2010 does — without it OpenSSL aborts earlier, on "unsafe legacy
//! renegotiation"} and ServerHelloDone, then reads the client's alert and closes. A client that really speaks
//! TLS 1.0 would fail next (no Certificate message): simnet cannot complete a TLS 1.0
//! handshake, and no crawler here can either. A ClientHello below TLS 1.0 gets a
//! `protocol_version` alert, as from a real server.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::timeout;

/// TLS record content types and handshake types used here (RFC 5246 §6.2.1, §7.4).
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
/// Largest ClientHello accepted (bytes, reassembled across records).
const MAX_CLIENT_HELLO: usize = 64 * 1024;
/// Largest record payload (RFC 5246 §6.2.1: 2^14, plus slack for expansion).
const MAX_RECORD: usize = 16384 + 2048;
/// `protocol_version` alert (RFC 5246 §7.2).
const ALERT_PROTOCOL_VERSION: u8 = 70;
/// TLS_RSA_WITH_AES_128_CBC_SHA, the suite every TLS 1.0 server has.
const SUITE: [u8; 2] = [0x00, 0x2f];

/// What happened on the legacy handshake.
#[derive(Debug, Default)]
pub(crate) struct LegacyOutcome {
    /// SNI from the ClientHello, if it parsed.
    pub(crate) sni: Option<String>,
    /// The client's highest offered legacy version (`client_version`), e.g. 0x0303.
    pub(crate) client_version: Option<u16>,
    /// The alert description the client sent back, if any.
    pub(crate) client_alert: Option<u8>,
    /// Why the exchange stopped early, if it did.
    pub(crate) error: Option<LegacyError>,
}

/// Why the legacy exchange stopped before the client answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegacyError {
    /// The peer did not send a TLS handshake record.
    NotTls,
    /// The ClientHello was malformed or too large.
    BadClientHello,
    /// The client offered only versions below TLS 1.0.
    ClientTooOld,
    /// Timeout or I/O error.
    Io,
}

/// Plays the TLS 1.0-only server on `io`; `wait` bounds each read.
pub(crate) async fn serve<S>(io: &mut S, wait: Duration, random_seed: &[u8]) -> LegacyOutcome
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut outcome = LegacyOutcome::default();
    let hello = match read_client_hello(io, wait).await {
        Ok(hello) => hello,
        Err(e) => {
            outcome.error = Some(e);
            return outcome;
        }
    };
    let parsed = parse_client_hello(&hello);
    let Some(parsed) = parsed else {
        outcome.error = Some(LegacyError::BadClientHello);
        return outcome;
    };
    outcome.sni = parsed.sni;
    outcome.client_version = Some(parsed.version);
    if parsed.version < 0x0301 {
        let alert = [CONTENT_ALERT, 3, 0, 0, 2, 2, ALERT_PROTOCOL_VERSION];
        let _ = timeout(wait, io.write_all(&alert)).await;
        outcome.error = Some(LegacyError::ClientTooOld);
        return outcome;
    }
    let flight = server_flight(random_seed, parsed.secure_renegotiation);
    if !matches!(timeout(wait, io.write_all(&flight)).await, Ok(Ok(()))) {
        outcome.error = Some(LegacyError::Io);
        return outcome;
    }
    let _ = timeout(wait, io.flush()).await;
    // The client's answer: normally a fatal protocol_version alert.
    let mut header = [0u8; 5];
    if let Ok(Ok(_)) = timeout(wait, io.read_exact(&mut header)).await
        && header[0] == CONTENT_ALERT
    {
        let mut body = [0u8; 2];
        if let Ok(Ok(_)) = timeout(wait, io.read_exact(&mut body)).await {
            outcome.client_alert = Some(body[1]);
        }
    }
    outcome
}

/// ServerHello (TLS 1.0) + ServerHelloDone in one record.
fn server_flight(random_seed: &[u8], secure_renegotiation: bool) -> Vec<u8> {
    let random = crate::pki::sha256(random_seed);
    let mut hello = vec![0x03, 0x01];
    hello.extend_from_slice(&random);
    hello.push(0); // empty session id
    hello.extend_from_slice(&SUITE);
    hello.push(0); // null compression
    if secure_renegotiation {
        // extensions length 5; renegotiation_info (0xff01), length 1, empty (RFC 5746 §3.6).
        hello.extend_from_slice(&[0x00, 0x05, 0xff, 0x01, 0x00, 0x01, 0x00]);
    }
    let mut handshake = vec![2];
    push_u24(&mut handshake, hello.len());
    handshake.extend_from_slice(&hello);
    handshake.extend_from_slice(&[14, 0, 0, 0]); // ServerHelloDone
    let mut record = vec![CONTENT_HANDSHAKE, 0x03, 0x01];
    // Lengths here are a few dozen bytes, far below u16::MAX.
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

fn push_u24(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
}

/// Reads handshake records until one whole ClientHello message is buffered.
async fn read_client_hello<S>(io: &mut S, wait: Duration) -> Result<Vec<u8>, LegacyError>
where
    S: AsyncRead + Unpin,
{
    let mut handshake = Vec::new();
    loop {
        let mut header = [0u8; 5];
        match timeout(wait, io.read_exact(&mut header)).await {
            Ok(Ok(_)) => {}
            _ => return Err(LegacyError::Io),
        }
        if header[0] != CONTENT_HANDSHAKE || header[1] != 3 {
            return Err(LegacyError::NotTls);
        }
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if len == 0 || len > MAX_RECORD || handshake.len() + len > MAX_CLIENT_HELLO {
            return Err(LegacyError::BadClientHello);
        }
        let start = handshake.len();
        handshake.resize(start + len, 0);
        match timeout(wait, io.read_exact(&mut handshake[start..])).await {
            Ok(Ok(_)) => {}
            _ => return Err(LegacyError::Io),
        }
        if handshake.len() >= 4 {
            if handshake[0] != HANDSHAKE_CLIENT_HELLO {
                return Err(LegacyError::BadClientHello);
            }
            let body = (usize::from(handshake[1]) << 16)
                | (usize::from(handshake[2]) << 8)
                | usize::from(handshake[3]);
            if 4 + body > MAX_CLIENT_HELLO {
                return Err(LegacyError::BadClientHello);
            }
            if handshake.len() >= 4 + body {
                handshake.truncate(4 + body);
                return Ok(handshake);
            }
        }
    }
}

struct ClientHello {
    version: u16,
    sni: Option<String>,
    /// The client sent TLS_EMPTY_RENEGOTIATION_INFO_SCSV or `renegotiation_info`.
    secure_renegotiation: bool,
}

/// A bounds-checked cursor; every read returns `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }
    fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
    }
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }
}

/// Parses a ClientHello handshake message (RFC 5246 §7.4.1.2, RFC 6066 §3).
fn parse_client_hello(msg: &[u8]) -> Option<ClientHello> {
    let mut r = Reader(msg.get(4..)?);
    let version = r.u16()?;
    r.take(32)?; // random
    r.vec8()?; // session id
    let suites = r.vec16()?;
    let mut secure_renegotiation = suites.chunks_exact(2).any(|s| s == [0x00, 0xff]);
    r.vec8()?; // compression methods
    let mut sni = None;
    if let Some(extensions) = r.vec16() {
        let mut ext = Reader(extensions);
        while let (Some(kind), Some(data)) = (ext.u16(), ext.vec16()) {
            match kind {
                0 => sni = parse_server_name(data),
                0xff01 => secure_renegotiation = true,
                _ => {}
            }
        }
    }
    Some(ClientHello {
        version,
        sni,
        secure_renegotiation,
    })
}

fn parse_server_name(data: &[u8]) -> Option<String> {
    let mut list = Reader(Reader(data).vec16()?);
    while let Some(kind) = list.u8() {
        let name = list.vec16()?;
        if kind == 0 {
            return std::str::from_utf8(name).ok().map(str::to_ascii_lowercase);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn rustls_client_fails_as_against_a_tls10_server() {
        let (mut client_io, mut server_io) = tokio::io::duplex(65536);
        let server =
            tokio::spawn(
                async move { serve(&mut server_io, Duration::from_secs(5), b"seed").await },
            );
        let config = rustls::ClientConfig::builder_with_provider(crate::pki::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from("mx.old.test").unwrap();
        let err = connector
            .connect(name, &mut client_io)
            .await
            .expect_err("TLS 1.0 must be refused");
        let inner = err.into_inner().unwrap();
        let tls = inner.downcast_ref::<rustls::Error>().unwrap();
        assert_eq!(
            *tls,
            rustls::Error::PeerIncompatible(
                rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13
            )
        );
        drop(client_io);
        let outcome = server.await.unwrap();
        assert_eq!(outcome.sni.as_deref(), Some("mx.old.test"));
        assert_eq!(outcome.client_version, Some(0x0303));
        assert_eq!(outcome.client_alert, Some(ALERT_PROTOCOL_VERSION));
        assert_eq!(outcome.error, None);
    }

    #[tokio::test]
    async fn plaintext_is_not_tls() {
        let (mut client_io, mut server_io) = tokio::io::duplex(1024);
        client_io.write_all(b"EHLO there\r\n").await.unwrap();
        let outcome = serve(&mut server_io, Duration::from_secs(1), b"x").await;
        assert_eq!(outcome.error, Some(LegacyError::NotTls));
    }

    #[test]
    fn truncated_hellos_do_not_parse() {
        let flight = server_flight(b"x", true);
        assert_eq!(&flight[..3], &[CONTENT_HANDSHAKE, 3, 1]);
        for len in 0..40 {
            let mut msg = vec![1, 0, 0, 0, 3, 3];
            msg.resize(len, 0);
            assert!(parse_client_hello(&msg).is_none(), "len {len}");
        }
    }
}
