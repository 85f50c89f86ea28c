//! The SMTP probe against simnet's SMTP server (real sockets on 127.x), one behaviour per
//! address, plus the reply parser and scripted servers for what simnet does not plant.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use mxcensus_proto::cert::NameOutcome;
use mxcensus_proto::finding::{FailureClass, check_class_table};
use mxcensus_proto::tlsa::DaneOutcome;
use mxcensus_simnet::pki::{CertKind, CertSpec, ChainShape, Pki};
use mxcensus_simnet::smtp::{
    SessionEnd, SmtpBehavior, SmtpConfig as ServerConfig, SmtpHost, SmtpServer, SmtpSession,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::tls::{CertStatus, ServerFirstRecord};

const MX: &str = "mx.example.test";
const EHLO_NAME: &str = "probe.mxcensus.test";
const SEED: u64 = 4242;

fn mx_host(addr: Ipv4Addr) -> Option<SmtpHost> {
    let [127, 77, 0, octet] = addr.octets() else {
        return None;
    };
    let valid = CertSpec::valid(MX);
    let (behavior, cert) = match octet {
        1 => (SmtpBehavior::Normal, valid),
        2 => (SmtpBehavior::NoStarttls, valid),
        3 => (SmtpBehavior::Starttls454, valid),
        4 => (SmtpBehavior::StarttlsRejected { code: 501 }, valid),
        5 => (SmtpBehavior::Greeting554, valid),
        6 => (SmtpBehavior::Greeting421, valid),
        7 => (
            SmtpBehavior::SlowGreeting {
                delay: Duration::from_millis(400),
            },
            valid,
        ),
        8 => (SmtpBehavior::Tarpit, valid),
        9 => (SmtpBehavior::MultilineGreeting, valid),
        10 => (SmtpBehavior::EhloRejected, valid),
        11 => (SmtpBehavior::Tls10Only, valid),
        12 => (SmtpBehavior::ResetAfterAccept, valid),
        13 => (
            SmtpBehavior::Normal,
            CertSpec::of_kind(MX, CertKind::Expired),
        ),
        14 => (
            SmtpBehavior::Normal,
            CertSpec::of_kind(MX, CertKind::SelfSigned),
        ),
        15 => (
            SmtpBehavior::Normal,
            CertSpec::of_kind(MX, CertKind::WrongName),
        ),
        16 => (
            SmtpBehavior::Normal,
            CertSpec::of_kind(MX, CertKind::UntrustedIssuer),
        ),
        17 => (
            SmtpBehavior::Normal,
            CertSpec::of_kind(MX, CertKind::CnOnly),
        ),
        // The key was rolled: DNS still publishes TLSA for generation 1.
        18 => (SmtpBehavior::Normal, valid.with_generation(2)),
        19 => (
            SmtpBehavior::Normal,
            CertSpec::of_kind(MX, CertKind::NotYetValid),
        ),
        20 => (SmtpBehavior::Normal, valid.with_chain(ChainShape::WithRoot)),
        21 => (SmtpBehavior::StarttlsRejected { code: 554 }, valid),
        _ => return None,
    };
    Some(SmtpHost {
        name: MX.to_owned(),
        behavior,
        cert,
    })
}

struct World {
    server: SmtpServer,
    pki: Arc<Pki>,
    probe: SmtpProbe,
}

impl World {
    async fn start() -> Self {
        let pki = Arc::new(Pki::new(SEED).unwrap());
        let mut config = ServerConfig::new("0.0.0.0:0".parse().unwrap());
        config.idle_timeout = Duration::from_secs(10);
        config.tarpit_hold = Duration::from_secs(3);
        let server = SmtpServer::start(config, Arc::new(mx_host), pki.clone())
            .await
            .unwrap();
        let probe = probe_for(&pki, server.local_addr().port(), Duration::from_secs(3));
        Self { server, pki, probe }
    }

    async fn probe(&self, octet: u8) -> SmtpResult {
        self.probe
            .probe(IpAddr::V4(Ipv4Addr::new(127, 77, 0, octet)), MX)
            .await
    }

    /// The server's record of the one session with 127.77.0.<octet>.
    async fn session(&self, octet: u8) -> SmtpSession {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 77, 0, octet));
        for _ in 0..200 {
            if let Some(s) = self
                .server
                .log()
                .sessions
                .into_iter()
                .find(|s| s.local.ip() == ip)
            {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no session logged for {ip}");
    }
}

fn probe_for(pki: &Pki, port: u16, greeting_timeout: Duration) -> SmtpProbe {
    let mut config = SmtpConfig::new(EHLO_NAME);
    config.port = port;
    config.connect_timeout = Duration::from_secs(3);
    config.greeting_timeout = greeting_timeout;
    config.command_timeout = Duration::from_secs(5);
    config.tls_timeout = Duration::from_secs(5);
    let trust = WebPki::with_roots_only(&[pki.root().der.to_vec()]).unwrap();
    SmtpProbe::with_trust(config, trust).unwrap()
}

/// The probe sent only EHLO/HELO/STARTTLS/QUIT, never a mail transaction command.
fn assert_polite(result: &SmtpResult, session: &SmtpSession) {
    assert!(session.violations.is_empty(), "{session:?}");
    for line in result
        .transcript
        .sent()
        .chain(session.commands.iter().map(String::as_str))
    {
        let verb = line.split(' ').next().unwrap().to_ascii_uppercase();
        assert!(
            ["EHLO", "HELO", "STARTTLS", "QUIT"].contains(&verb.as_str()),
            "sent {line:?}"
        );
    }
    assert!(!session.early_talker, "spoke before the greeting");
    assert!(!session.pipelined_after_starttls);
}

#[test]
fn class_table_is_well_formed() {
    check_class_table::<SmtpClass>().unwrap();
    for code in [
        "connect_refused",
        "connect_timeout",
        "greeting_timeout",
        "greeting_554",
        "greeting_421",
        "ehlo_rejected",
        "no_starttls",
        "starttls_454",
        "starttls_other",
        "tls_handshake_failed",
        "tls_legacy_only",
        "protocol_error",
    ] {
        assert!(SmtpClass::from_code(code).is_some(), "{code}");
    }
}

#[test]
fn config_validation() {
    let ok = SmtpConfig::new(EHLO_NAME);
    assert_eq!(ok.validate(), Ok(()));
    assert_eq!(ok.port, 25);
    assert!(ok.greeting_timeout >= Duration::from_secs(30));
    for name in [
        "",
        "localhost",
        "probe.example.",
        "bad name.test",
        "[300.1.1.1]",
    ] {
        assert!(
            matches!(
                SmtpConfig::new(name).validate(),
                Err(SmtpConfigError::EhloName(_))
            ),
            "{name}"
        );
    }
    for name in ["[192.0.2.1]", "[IPv6:2001:db8::1]", "Probe.Example.COM"] {
        assert_eq!(SmtpConfig::new(name).validate(), Ok(()), "{name}");
    }
    let mut bad = SmtpConfig::new(EHLO_NAME);
    bad.command_timeout = Duration::ZERO;
    assert!(matches!(
        bad.validate(),
        Err(SmtpConfigError::Timeout { .. })
    ));
    let mut bad = SmtpConfig::new(EHLO_NAME);
    bad.max_line = 100;
    assert_eq!(bad.validate(), Err(SmtpConfigError::MaxLine(100)));
    let mut bad = SmtpConfig::new(EHLO_NAME);
    bad.port = 0;
    assert_eq!(bad.validate(), Err(SmtpConfigError::Port));
    let mut bad = SmtpConfig::new(EHLO_NAME);
    bad.extra_ca = vec!["/nonexistent/ca.pem".into()];
    assert!(matches!(
        SmtpProbe::new(bad),
        Err(SmtpConfigError::Trust(TrustError::Read { .. }))
    ));
}

#[test]
fn reply_lines_parse() {
    assert_eq!(
        Reply::parse_line(b"250-mx.example.test hi"),
        Some((250, false, "mx.example.test hi".to_owned()))
    );
    assert_eq!(
        Reply::parse_line(b"250 OK"),
        Some((250, true, "OK".to_owned()))
    );
    assert_eq!(Reply::parse_line(b"221"), Some((221, true, String::new())));
    for bad in [&b"25"[..], b"2500 x", b"abc def", b"650 x", b"250_x", b""] {
        assert_eq!(Reply::parse_line(bad), None, "{bad:?}");
    }
}

#[test]
fn ehlo_keywords_are_case_insensitive_first_tokens() {
    let reply = Reply {
        code: 250,
        lines: vec![
            "mx.example.test greets you".into(),
            "PIPELINING".into(),
            "size 1000".into(),
            "starttls".into(),
            "AUTH PLAIN LOGIN".into(),
        ],
    };
    let ehlo = Ehlo::parse(&reply);
    assert_eq!(ehlo.domain, "mx.example.test");
    assert!(ehlo.starttls());
    assert_eq!(ehlo.keyword("SIZE").unwrap().params, "1000");
    assert_eq!(ehlo.keyword("auth").unwrap().params, "PLAIN LOGIN");
    // STARTTLS only as the first token of a keyword line, never in the greeting line.
    let reply = Reply {
        code: 250,
        lines: vec![
            "STARTTLS.example.test".into(),
            "X-STARTTLS".into(),
            "8BITMIME".into(),
        ],
    };
    assert!(!Ehlo::parse(&reply).starttls());
    let single = Reply {
        code: 250,
        lines: vec!["mx.example.test".into()],
    };
    assert!(Ehlo::parse(&single).keywords.is_empty());
}

#[tokio::test]
async fn valid_starttls_and_certificate() {
    let world = World::start().await;
    let r = world.probe(1).await;
    assert_eq!(r.failure, None, "{r:#?}");
    assert_eq!(r.connect.outcome, Ok(()));
    assert_eq!(r.greeting.as_ref().unwrap().code, 220);
    assert!(r.starttls_offered);
    assert_eq!(r.starttls_reply.as_ref().unwrap().code, 220);
    let tls = r.tls.as_ref().unwrap();
    assert!(tls.completed());
    assert_eq!(tls.sni.as_deref(), Some(MX));
    assert_eq!(tls.version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(tls.chain.len(), 2);
    let issued = world.pki.leaf(&CertSpec::valid(MX)).unwrap();
    assert_eq!(tls.chain[0], issued.leaf_der().to_vec());
    assert_eq!(tls.chain_sha256[0], issued.cert_sha256);
    let cert = r.cert.as_ref().unwrap();
    assert_eq!(cert.status, CertStatus::Valid);
    let after = r.ehlo_after_tls.as_ref().unwrap();
    assert_eq!(after.code, 250);
    assert!(!r.starttls_after_tls);
    assert!(r.quit_sent);
    assert_eq!(r.quit_reply.as_ref().unwrap().code, 221);
    // The transcript: greeting first, then EHLO, STARTTLS, (TLS) EHLO, QUIT.
    let sent: Vec<&str> = r.transcript.sent().collect();
    assert_eq!(
        sent,
        vec![
            format!("EHLO {EHLO_NAME}").as_str(),
            "STARTTLS",
            format!("EHLO {EHLO_NAME}").as_str(),
            "QUIT"
        ]
    );
    assert_eq!(r.transcript.lines[0].direction, Direction::Received);
    assert!(r.transcript.lines.iter().any(|l| l.tls));
    assert!(r.timings.total >= r.timings.tls);

    let s = world.session(1).await;
    assert_polite(&r, &s);
    assert_eq!(s.end, SessionEnd::Quit);
    assert_eq!(s.commands_before_tls, Some(2));
    assert_eq!(s.sni.as_deref(), Some(MX));

    // Another SNI (a CNAME-expanded TLSA base domain): sent as given; the certificate is
    // still judged for the MX name.
    let base = "mx.provider.test";
    let r = world
        .probe
        .probe_with_sni(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 20)), MX, base)
        .await;
    assert_eq!(r.tls.as_ref().unwrap().sni.as_deref(), Some(base));
    assert_eq!(r.cert.as_ref().unwrap().status, CertStatus::Valid);
    assert_eq!(world.session(20).await.sni.as_deref(), Some(base));
    assert_eq!(s.sni.as_deref(), Some(MX));
    assert_eq!(s.tls_version.as_deref(), Some("TLSv1_3"));
}

#[tokio::test]
async fn no_starttls_and_refusals() {
    let world = World::start().await;
    let r = world.probe(2).await;
    assert_eq!(r.failure, Some(SmtpClass::NoStarttls));
    assert_eq!(r.failure_phase, Some(Phase::Ehlo));
    assert!(!r.starttls_offered && r.tls.is_none() && r.cert.is_none());
    assert!(
        r.ehlo_parsed
            .as_ref()
            .unwrap()
            .keyword("PIPELINING")
            .is_some()
    );
    let s = world.session(2).await;
    assert_polite(&r, &s);
    assert_eq!(
        s.commands,
        vec![format!("EHLO {EHLO_NAME}"), "QUIT".to_owned()]
    );
    assert_eq!(s.end, SessionEnd::Quit);

    for (octet, class, code) in [
        (3, SmtpClass::Starttls454, 454),
        (4, SmtpClass::StarttlsOther, 501),
        (21, SmtpClass::StarttlsOther, 554),
    ] {
        let r = world.probe(octet).await;
        assert_eq!(r.failure, Some(class), "127.77.0.{octet}");
        assert_eq!(r.starttls_reply.as_ref().unwrap().code, code);
        assert!(r.starttls_offered && r.tls.is_none());
        assert_eq!(r.quit_reply.as_ref().unwrap().code, 221);
        let s = world.session(octet).await;
        assert_polite(&r, &s);
        assert_eq!(s.end, SessionEnd::Quit, "127.77.0.{octet}");
    }

    let r = world.probe(10).await;
    assert_eq!(r.failure, Some(SmtpClass::EhloRejected));
    assert_eq!(r.ehlo.as_ref().unwrap().code, 502);
    assert_eq!(r.helo.as_ref().unwrap().code, 250);
    assert!(!r.starttls_offered);
    let s = world.session(10).await;
    assert_polite(&r, &s);
    assert_eq!(
        s.commands,
        vec![
            format!("EHLO {EHLO_NAME}"),
            format!("HELO {EHLO_NAME}"),
            "QUIT".to_owned()
        ]
    );
}

#[tokio::test]
async fn greeting_failures() {
    let world = World::start().await;
    let r = world.probe(5).await;
    assert_eq!(r.failure, Some(SmtpClass::Greeting554));
    assert_eq!(r.greeting.as_ref().unwrap().code, 554);
    assert!(r.ehlo.is_none());
    assert!(r.quit_sent);
    assert_eq!(r.quit_reply.as_ref().unwrap().code, 221);
    let s = world.session(5).await;
    assert_polite(&r, &s);
    // Nothing but QUIT after a 554 greeting (RFC 5321 §3.1).
    assert_eq!(s.commands, vec!["QUIT".to_owned()]);
    assert_eq!(s.end, SessionEnd::Quit);

    let r = world.probe(6).await;
    assert_eq!(r.failure, Some(SmtpClass::Greeting421));
    assert_eq!(r.greeting.as_ref().unwrap().code, 421);
    assert!(r.ehlo.is_none());
    let s = world.session(6).await;
    assert_polite(&r, &s);
    assert_eq!(s.end, SessionEnd::ClosedByServer);

    let r = world.probe(9).await;
    assert_eq!(r.failure, None);
    assert_eq!(r.greeting.as_ref().unwrap().lines.len(), 3);
    assert_polite(&r, &world.session(9).await);

    // Nobody home at the address: closed without a greeting.
    let r = world.probe(99).await;
    assert_eq!(r.failure, Some(SmtpClass::ConnectionClosed));
    assert_eq!(r.failure_phase, Some(Phase::Greeting));

    let r = world.probe(12).await;
    assert_eq!(r.failure, Some(SmtpClass::ConnectionReset), "{r:#?}");
    assert_eq!(r.failure_phase, Some(Phase::Greeting));
}

#[tokio::test]
async fn slow_greeting_is_waited_for_and_tarpit_times_out() {
    let world = World::start().await;
    let r = world.probe(7).await;
    assert_eq!(r.failure, None, "{r:#?}");
    let delay = r.greeting_delay().unwrap();
    assert!(delay >= Duration::from_millis(400), "{delay:?}");
    let s = world.session(7).await;
    assert_polite(&r, &s);
    assert!(!s.early_talker);

    let short = probe_for(
        &world.pki,
        world.server.local_addr().port(),
        Duration::from_millis(500),
    );
    let started = Instant::now();
    let r = short
        .probe(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 8)), MX)
        .await;
    assert_eq!(r.failure, Some(SmtpClass::GreetingTimeout));
    assert_eq!(r.failure_phase, Some(Phase::Greeting));
    assert!(r.greeting.is_none());
    assert!(started.elapsed() < Duration::from_secs(2));
    // Nothing was sent to a server that never greeted.
    assert_eq!(r.transcript.sent().count(), 0);
    let s = world.session(8).await;
    assert!(s.commands.is_empty() && !s.early_talker);
}

#[tokio::test]
async fn tls_10_only_is_legacy_not_a_generic_failure() {
    let world = World::start().await;
    let r = world.probe(11).await;
    assert_eq!(r.failure, Some(SmtpClass::TlsLegacyOnly), "{r:#?}");
    assert_eq!(r.failure_phase, Some(Phase::TlsHandshake));
    let tls = r.tls.as_ref().unwrap();
    assert!(tls.legacy_only());
    assert_eq!(
        tls.outcome,
        Err(HandshakeError::Tls(rustls::Error::PeerIncompatible(
            rustls::PeerIncompatible::ServerDoesNotSupportTls12Or13
        )))
    );
    assert!(matches!(
        tls.server_first_record,
        ServerFirstRecord::ServerHello {
            legacy_version: 0x0301,
            ..
        }
    ));
    assert!(r.cert.is_none() && tls.chain.is_empty());
    let s = world.session(11).await;
    assert_polite(&r, &s);
    assert_eq!(s.end, SessionEnd::LegacyTls);
    assert_eq!(s.legacy_client_alert, Some(70));
    assert_eq!(s.sni.as_deref(), Some(MX));
}

#[tokio::test]
async fn certificate_failures_are_not_probe_failures() {
    let world = World::start().await;
    for (octet, status) in [
        (13, CertStatus::Expired),
        (14, CertStatus::SelfSigned),
        (15, CertStatus::NameMismatch(NameOutcome::Mismatch)),
        (16, CertStatus::UnknownIssuer),
        (17, CertStatus::NameMismatch(NameOutcome::CnOnly)),
        (19, CertStatus::NotYetValid),
        (20, CertStatus::Valid),
    ] {
        let r = world.probe(octet).await;
        assert_eq!(r.failure, None, "127.77.0.{octet}: {r:#?}");
        let tls = r.tls.as_ref().unwrap();
        assert!(tls.completed());
        assert!(!tls.chain.is_empty());
        assert_eq!(r.cert.as_ref().unwrap().status, status, "127.77.0.{octet}");
        assert_eq!(r.ehlo_after_tls.as_ref().unwrap().code, 250);
        let s = world.session(octet).await;
        assert_polite(&r, &s);
        assert_eq!(s.end, SessionEnd::Quit);
    }
}

#[tokio::test]
async fn dane_matches_the_served_key_and_catches_a_roll() {
    let world = World::start().await;
    let gen1 = world.pki.leaf(&CertSpec::valid(MX)).unwrap();
    let ee = TlsaRecord {
        usage: 3,
        selector: 1,
        matching_type: 1,
        data: gen1.spki_sha256.to_vec(),
    };
    let ta = TlsaRecord {
        usage: 2,
        selector: 0,
        matching_type: 1,
        data: world.pki.intermediate().cert_sha256().to_vec(),
    };

    let current = world.probe(1).await;
    let dane = current
        .verify_dane(std::slice::from_ref(&ee), &[MX])
        .unwrap();
    assert_eq!(dane.outcome, DaneOutcome::Authenticated);
    let dane = current
        .verify_dane(std::slice::from_ref(&ta), &[MX])
        .unwrap();
    assert_eq!(dane.outcome, DaneOutcome::Authenticated);
    // The expired certificate has the same key: DANE-EE ignores dates (RFC 7672 §3.1.1).
    let expired = world.probe(13).await;
    let dane = expired
        .verify_dane(std::slice::from_ref(&ee), &[MX])
        .unwrap();
    assert_eq!(dane.outcome, DaneOutcome::Authenticated);

    let rolled = world.probe(18).await;
    assert_eq!(rolled.failure, None);
    assert_eq!(rolled.cert.as_ref().unwrap().status, CertStatus::Valid);
    let dane = rolled
        .verify_dane(std::slice::from_ref(&ee), &[MX])
        .unwrap();
    assert!(matches!(dane.outcome, DaneOutcome::Failed(_)), "{dane:?}");
    // DANE-TA survives the roll: the new leaf has the same issuer.
    let dane = rolled.verify_dane(&[ee, ta.clone()], &[MX]).unwrap();
    assert_eq!(dane.outcome, DaneOutcome::Authenticated);

    // No handshake, nothing to verify.
    let none = world.probe(2).await;
    assert!(none.verify_dane(&[ta], &[MX]).is_none());
}

#[tokio::test]
async fn refused_at_ipv6_loopback() {
    // simnet listens on IPv4 only, so nothing listens on [::1] at its port.
    let world = World::start().await;
    let r = world.probe.probe(IpAddr::V6(Ipv6Addr::LOCALHOST), MX).await;
    assert_eq!(r.failure, Some(SmtpClass::ConnectRefused));
    assert_eq!(r.failure_phase, Some(Phase::Connect));
    assert_eq!(r.error, Some(SmtpError::Connect(ConnectError::Refused)));
    assert!(r.greeting.is_none() && r.transcript.lines.is_empty());
}

#[tokio::test]
async fn extra_ca_file_from_config() {
    let world = World::start().await;
    let dir = std::env::temp_dir().join(format!("probe-smtp-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, world.pki.ca_pem()).unwrap();
    let mut config = SmtpConfig::new(EHLO_NAME);
    config.port = world.server.local_addr().port();
    config.extra_ca = vec![ca];
    let probe = SmtpProbe::new(config).unwrap();
    let r = probe
        .probe(IpAddr::V4(Ipv4Addr::new(127, 77, 0, 1)), MX)
        .await;
    assert_eq!(r.cert.unwrap().status, CertStatus::Valid);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A one-connection scripted server: sends `script` chunks, each after reading a line
/// (the first chunk right away); returns what the client sent.
async fn scripted(script: Vec<&[u8]>) -> (u16, tokio::task::JoinHandle<Vec<u8>>) {
    let script: Vec<Vec<u8>> = script.into_iter().map(<[u8]>::to_vec).collect();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut received = Vec::new();
        for (i, chunk) in script.into_iter().enumerate() {
            if i > 0 {
                let mut buf = [0u8; 512];
                let n = tcp.read(&mut buf).await.unwrap_or(0);
                received.extend_from_slice(&buf[..n]);
                if n == 0 {
                    break;
                }
            }
            if tcp.write_all(&chunk).await.is_err() {
                break;
            }
        }
        let mut rest = [0u8; 512];
        if let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(2), tcp.read(&mut rest)).await {
            received.extend_from_slice(&rest[..n]);
        }
        received
    });
    (port, task)
}

fn local_probe(port: u16) -> SmtpProbe {
    let mut config = SmtpConfig::new(EHLO_NAME);
    config.port = port;
    config.greeting_timeout = Duration::from_secs(2);
    config.command_timeout = Duration::from_secs(2);
    SmtpProbe::with_trust(config, WebPki::new(&[]).unwrap()).unwrap()
}

#[tokio::test]
async fn plaintext_injection_after_starttls_is_refused() {
    let (port, server) = scripted(vec![
        b"220 mx.example.test ESMTP\r\n",
        b"250-mx.example.test\r\n250 STARTTLS\r\n",
        b"220 go ahead\r\n250 injected\r\n",
    ])
    .await;
    let r = local_probe(port)
        .probe(IpAddr::V4(Ipv4Addr::LOCALHOST), MX)
        .await;
    assert_eq!(
        r.failure,
        Some(SmtpClass::StarttlsPlaintextInjection),
        "{r:#?}"
    );
    assert_eq!(
        r.error,
        Some(SmtpError::DataAfterStarttlsReply { bytes: 14 })
    );
    assert!(r.tls.is_none());
    let sent = server.await.unwrap();
    // No ClientHello followed.
    assert!(
        sent.ends_with(b"STARTTLS\r\n"),
        "{:?}",
        String::from_utf8_lossy(&sent)
    );
}

#[tokio::test]
async fn garbage_and_mixed_codes_are_protocol_errors() {
    let (port, _server) = scripted(vec![b"HTTP/1.1 400 Bad Request\r\n"]).await;
    let r = local_probe(port)
        .probe(IpAddr::V4(Ipv4Addr::LOCALHOST), MX)
        .await;
    assert_eq!(r.failure, Some(SmtpClass::ProtocolError));
    assert!(matches!(
        r.error,
        Some(SmtpError::Reply {
            phase: Phase::Greeting,
            error: ReplyError::Malformed
        })
    ));

    let (port, _server) = scripted(vec![b"220-mx.example.test\r\n250 mixed\r\n"]).await;
    let r = local_probe(port)
        .probe(IpAddr::V4(Ipv4Addr::LOCALHOST), MX)
        .await;
    assert_eq!(r.failure, Some(SmtpClass::ProtocolError));

    let long = format!("220 {}\r\n", "x".repeat(5000));
    let (port, _server) = scripted(vec![long.as_bytes()]).await;
    let r = local_probe(port)
        .probe(IpAddr::V4(Ipv4Addr::LOCALHOST), MX)
        .await;
    assert!(matches!(
        r.error,
        Some(SmtpError::Reply {
            error: ReplyError::LineTooLong,
            ..
        })
    ));

    // A greeting that is neither 2xx, 4xx nor 5xx.
    let (port, _server) = scripted(vec![b"354 what\r\n", b"221 bye\r\n"]).await;
    let r = local_probe(port)
        .probe(IpAddr::V4(Ipv4Addr::LOCALHOST), MX)
        .await;
    assert_eq!(r.failure, Some(SmtpClass::ProtocolError));
    assert!(r.quit_sent);
}

#[tokio::test]
async fn ehlo_reply_timeout() {
    // EHLO never answered.
    let (port, _server) = scripted(vec![b"220 mx ESMTP\r\n", b""]).await;
    let mut config = SmtpConfig::new(EHLO_NAME);
    config.port = port;
    config.command_timeout = Duration::from_millis(300);
    let probe = SmtpProbe::with_trust(config, WebPki::new(&[]).unwrap()).unwrap();
    let r = probe.probe(IpAddr::V4(Ipv4Addr::LOCALHOST), MX).await;
    assert_eq!(r.failure, Some(SmtpClass::ReplyTimeout), "{r:#?}");
    assert_eq!(r.failure_phase, Some(Phase::Ehlo));
    // QUIT still goes out on a connection that is merely slow.
    assert!(r.quit_sent);
}

#[tokio::test]
async fn starttls_advertised_again_inside_tls_is_recorded() {
    let pki = Pki::new(SEED).unwrap();
    let issued = pki.leaf(&CertSpec::valid(MX)).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(issued.server_config.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut io = tokio::io::BufReader::new(tcp);
        let mut line = String::new();
        io.get_mut().write_all(b"220 mx ESMTP\r\n").await.unwrap();
        io.read_line(&mut line).await.unwrap();
        io.get_mut()
            .write_all(b"250-mx\r\n250 STARTTLS\r\n")
            .await
            .unwrap();
        io.read_line(&mut line).await.unwrap();
        io.get_mut().write_all(b"220 go\r\n").await.unwrap();
        let tls = acceptor.accept(io.into_inner()).await.unwrap();
        let mut io = tokio::io::BufReader::new(tls);
        let mut lines = Vec::new();
        for reply in [&b"250-mx\r\n250 STARTTLS\r\n"[..], b"221 bye\r\n"] {
            let mut line = String::new();
            io.read_line(&mut line).await.unwrap();
            lines.push(line);
            io.get_mut().write_all(reply).await.unwrap();
        }
        lines
    });
    let mut config = SmtpConfig::new(EHLO_NAME);
    config.port = port;
    let trust = WebPki::with_roots_only(&[pki.root().der.to_vec()]).unwrap();
    let probe = SmtpProbe::with_trust(config, trust).unwrap();
    let r = probe.probe(IpAddr::V4(Ipv4Addr::LOCALHOST), MX).await;
    assert_eq!(r.failure, None, "{r:#?}");
    assert!(r.starttls_after_tls);
    assert_eq!(r.cert.unwrap().status, CertStatus::Valid);
    let lines = server.await.unwrap();
    assert_eq!(
        lines,
        vec![format!("EHLO {EHLO_NAME}\r\n"), "QUIT\r\n".to_owned()]
    );
}

mod properties {
    use proptest::prelude::*;

    use super::super::{Ehlo, Reply, read_line};

    proptest! {
        #[test]
        fn reply_line_parser_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
            if let Some((code, _, _)) = Reply::parse_line(&bytes) {
                prop_assert!((200..600).contains(&code));
            }
        }

        #[test]
        fn ehlo_parser_never_panics(lines in prop::collection::vec("\\PC{0,40}", 0..8)) {
            let ehlo = Ehlo::parse(&Reply { code: 250, lines: lines.clone() });
            prop_assert!(ehlo.keywords.len() < lines.len().max(1));
        }

        #[test]
        fn read_line_respects_its_cap(
            bytes in prop::collection::vec(any::<u8>(), 0..3000),
            cap in 1usize..700,
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let lines = runtime.block_on(async {
                let mut reader = tokio::io::BufReader::with_capacity(64, &bytes[..]);
                let mut lines = Vec::new();
                while let Ok(line) = read_line(&mut reader, cap).await {
                    lines.push(line);
                }
                lines
            });
            prop_assert!(lines.iter().all(|l| l.len() <= cap));
            prop_assert!(lines.len() <= bytes.iter().filter(|&&b| b == b'\n').count());
        }
    }
}
