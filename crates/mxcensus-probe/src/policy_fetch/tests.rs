//! The policy fetch against simnet's HTTPS server (real sockets on 127.x), one behaviour
//! per address.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use mxcensus_proto::cert::NameOutcome;
use mxcensus_proto::finding::{FailureClass, check_class_table};
use mxcensus_simnet::https::{
    HttpsBehavior, HttpsConfig, HttpsEnd, HttpsRequest, HttpsServer, PolicyHost,
};
use mxcensus_simnet::pki::{CertKind, CertSpec, ChainShape, Pki};

use super::*;

const DOMAIN: &str = "example.test";
const HOST: &str = "mta-sts.example.test";
const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n";

fn policy_host(sni: Option<&str>, addr: Ipv4Addr) -> Option<PolicyHost> {
    if sni != Some(HOST) {
        return None;
    }
    let [127, 78, 0, octet] = addr.octets() else {
        return None;
    };
    let mut host = PolicyHost {
        cert: CertSpec::valid(HOST),
        behavior: HttpsBehavior::Ok,
        body: POLICY.as_bytes().to_vec(),
        content_type: Some("text/plain; charset=utf-8".to_owned()),
    };
    match octet {
        1 => {}
        2 => {
            host.behavior = HttpsBehavior::Redirect {
                location: "https://elsewhere.example.test/policy.txt".to_owned(),
            }
        }
        3 => host.behavior = HttpsBehavior::NotFound,
        4 => host.behavior = HttpsBehavior::Status { code: 500 },
        5 => host.content_type = Some("text/html".to_owned()),
        6 => host.content_type = None,
        7 => host.behavior = HttpsBehavior::oversize(),
        8 => {
            host.behavior = HttpsBehavior::Slow {
                delay: Duration::from_secs(3),
            }
        }
        9 => host.cert.kind = CertKind::Expired,
        10 => host.cert.kind = CertKind::WrongName,
        11 => host.cert.kind = CertKind::SelfSigned,
        12 => host.cert.kind = CertKind::UntrustedIssuer,
        13 => host.cert.kind = CertKind::CnOnly,
        14 => host.cert.kind = CertKind::NotYetValid,
        15 => host.behavior = HttpsBehavior::ResetAfterHandshake,
        16 => host.behavior = HttpsBehavior::HandshakeFailure,
        17 => host.body = b"version: STSv1\r\nmode: enforce\r\nmx: \xff.example.test\r\n".to_vec(),
        18 => {
            host.behavior = HttpsBehavior::Slow {
                delay: Duration::from_millis(300),
            }
        }
        19 => host.cert.chain = ChainShape::LeafOnly,
        20 => host.content_type = Some("Text/Plain ; format=flowed".to_owned()),
        21 => host.body = b"version: STSv1\nmode: Enforce\nmax_age: 86400\n".to_vec(),
        22 => host.cert.kind = CertKind::PartialWildcard,
        _ => return None,
    }
    Some(host)
}

struct World {
    server: HttpsServer,
    pki: Arc<Pki>,
    fetcher: PolicyFetcher,
}

impl World {
    async fn start() -> Self {
        let pki = Arc::new(Pki::new(4343).unwrap());
        let mut config = HttpsConfig::new("0.0.0.0:0".parse().unwrap());
        config.idle_timeout = Duration::from_secs(10);
        let server = HttpsServer::start(config, Arc::new(policy_host), pki.clone())
            .await
            .unwrap();
        let fetcher = fetcher_for(&pki, server.local_addr().port(), Duration::from_secs(10));
        Self {
            server,
            pki,
            fetcher,
        }
    }

    async fn fetch(&self, octet: u8) -> PolicyFetchResult {
        let addr = IpAddr::V4(Ipv4Addr::new(127, 78, 0, octet));
        self.fetcher.fetch(DOMAIN, &[addr]).await
    }

    /// The server's records for 127.78.0.<octet> (waits for at least one).
    async fn requests(&self, octet: u8) -> Vec<HttpsRequest> {
        let ip = IpAddr::V4(Ipv4Addr::new(127, 78, 0, octet));
        for _ in 0..200 {
            let found: Vec<_> = self
                .server
                .log()
                .requests
                .into_iter()
                .filter(|r| r.local.ip() == ip)
                .collect();
            if !found.is_empty() {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no request logged for {ip}");
    }
}

fn fetcher_for(pki: &Pki, port: u16, timeout: Duration) -> PolicyFetcher {
    let config = PolicyFetchConfig {
        port,
        timeout,
        connect_timeout: Duration::from_secs(3),
        ..PolicyFetchConfig::default()
    };
    let trust = WebPki::with_roots_only(&[pki.root().der.to_vec()]).unwrap();
    PolicyFetcher::with_trust(config, trust).unwrap()
}

#[test]
fn class_table_is_well_formed() {
    check_class_table::<FetchClass>().unwrap();
    for code in [
        "connect_refused",
        "connect_timeout",
        "net_unreachable",
        "tls_handshake_failed",
        "cert_untrusted",
        "cert_expired",
        "cert_not_yet_valid",
        "cert_name_mismatch",
        "http_redirect",
        "http_404",
        "http_status_other",
        "http_protocol_error",
        "content_type_not_text_plain",
        "content_type_missing",
        "body_too_large",
        "fetch_timeout",
        "body_not_utf8",
        "policy_host_no_address",
    ] {
        assert!(FetchClass::from_code(code).is_some(), "{code}");
    }
}

#[test]
fn config_defaults_and_validation() {
    let config = PolicyFetchConfig::default();
    assert_eq!(config.validate(), Ok(()));
    assert_eq!(config.port, 443);
    assert_eq!(config.timeout, Duration::from_secs(60));
    assert_eq!(config.body_cap, 65536);
    let bad = PolicyFetchConfig {
        body_cap: 0,
        ..PolicyFetchConfig::default()
    };
    assert_eq!(bad.validate(), Err(PolicyFetchConfigError::BodyCap(0)));
    let bad = PolicyFetchConfig {
        timeout: Duration::ZERO,
        ..PolicyFetchConfig::default()
    };
    assert!(matches!(
        bad.validate(),
        Err(PolicyFetchConfigError::Timeout { .. })
    ));
    let bad = PolicyFetchConfig {
        user_agent: Some("bad\nagent".to_owned()),
        ..PolicyFetchConfig::default()
    };
    assert_eq!(bad.validate(), Err(PolicyFetchConfigError::UserAgent));
    let bad = PolicyFetchConfig {
        port: 0,
        ..PolicyFetchConfig::default()
    };
    assert_eq!(bad.validate(), Err(PolicyFetchConfigError::Port));
}

#[test]
fn media_types() {
    for ok in [
        "text/plain",
        "text/plain; charset=utf-8",
        "TEXT/PLAIN",
        " text/plain ;charset=us-ascii",
    ] {
        assert!(media_type_is_text_plain(ok), "{ok}");
    }
    for bad in [
        "text/html",
        "text/plainx",
        "application/octet-stream",
        "",
        "text",
    ] {
        assert!(!media_type_is_text_plain(bad), "{bad}");
    }
}

#[tokio::test]
async fn valid_policy_is_fetched_and_parsed() {
    let world = World::start().await;
    let r = world.fetch(1).await;
    assert_eq!(r.failures, vec![], "{r:#?}");
    assert!(r.fetched());
    assert_eq!(r.host, HOST);
    assert_eq!(
        r.addr.unwrap().ip(),
        IpAddr::V4(Ipv4Addr::new(127, 78, 0, 1))
    );
    let tls = r.tls.as_ref().unwrap();
    assert_eq!(tls.sni.as_deref(), Some(HOST));
    assert_eq!(tls.alpn_offered, vec![b"http/1.1".to_vec()]);
    assert_eq!(r.cert.as_ref().unwrap().status, CertStatus::Valid);
    let response = r.response.as_ref().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert!(
        response
            .headers
            .contains(&("content-length".to_owned(), POLICY.len().to_string()))
    );
    assert_eq!(r.body, POLICY.as_bytes());
    assert!(r.body_complete);
    assert_eq!(r.body_sha256, Some(tls::sha256(POLICY.as_bytes())));
    let policy = r.policy.as_ref().unwrap();
    assert!(policy.valid, "{policy:?}");
    assert_eq!(r.phase, FetchPhase::Done);

    let req = &world.requests(1).await[0];
    assert_eq!(req.method.as_deref(), Some("GET"));
    assert_eq!(req.target.as_deref(), Some(POLICY_PATH));
    assert_eq!(req.sni.as_deref(), Some(HOST));
    let port = world.server.local_addr().port();
    assert_eq!(req.host_header, Some(format!("{HOST}:{port}")));
    assert_eq!(req.end, HttpsEnd::Served);

    // Parameters and case of the media type do not matter.
    let r = world.fetch(20).await;
    assert_eq!(r.failures, vec![]);
    // A slow but timely server is waited for, and the time is recorded.
    let r = world.fetch(18).await;
    assert_eq!(r.failures, vec![]);
    assert!(r.elapsed >= Duration::from_millis(300));
    // An invalid policy is still a successful fetch; its evaluation says why.
    let r = world.fetch(21).await;
    assert!(r.fetched());
    assert!(!r.policy.as_ref().unwrap().valid);
}

#[tokio::test]
async fn http_failures() {
    let world = World::start().await;
    let r = world.fetch(2).await;
    assert_eq!(r.failures, vec![FetchClass::HttpRedirect]);
    let response = r.response.as_ref().unwrap();
    assert_eq!(response.status, 301);
    assert_eq!(
        response.location.as_deref(),
        Some("https://elsewhere.example.test/policy.txt")
    );
    assert!(r.body.is_empty() && r.policy.is_none());
    // Not followed: one request, to the policy path only.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let all = world.server.log().requests;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].target.as_deref(), Some(POLICY_PATH));

    for (octet, class, status) in [
        (3, FetchClass::Http404, 404),
        (4, FetchClass::HttpStatusOther, 500),
    ] {
        let r = world.fetch(octet).await;
        assert_eq!(r.failures, vec![class]);
        assert_eq!(r.response.as_ref().unwrap().status, status);
        assert!(r.policy.is_none());
    }

    let r = world.fetch(5).await;
    assert_eq!(r.failures, vec![FetchClass::ContentTypeNotTextPlain]);
    // The body is still evidence.
    assert!(r.policy.as_ref().unwrap().valid);
    let r = world.fetch(6).await;
    assert_eq!(r.failures, vec![FetchClass::ContentTypeMissing]);
    assert_eq!(r.response.as_ref().unwrap().content_type, None);

    let r = world.fetch(7).await;
    assert_eq!(r.failures, vec![FetchClass::BodyTooLarge]);
    assert!(!r.body_complete);
    // Exactly the first 64 KiB are kept, whatever the framing (reproducible evidence).
    assert_eq!(r.body.len(), 64 * 1024);
    assert!(r.body.starts_with(POLICY.as_bytes()));
    assert!(r.body_sha256.is_none() && r.policy.is_none());

    let r = world.fetch(17).await;
    assert_eq!(r.failures, vec![FetchClass::BodyNotUtf8]);
    assert!(r.policy.is_some());
}

#[tokio::test]
async fn one_deadline_for_the_whole_fetch() {
    let world = World::start().await;
    let quick = fetcher_for(
        &world.pki,
        world.server.local_addr().port(),
        Duration::from_millis(700),
    );
    let started = Instant::now();
    let r = quick
        .fetch(DOMAIN, &[IpAddr::V4(Ipv4Addr::new(127, 78, 0, 8))])
        .await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(r.failures, vec![FetchClass::FetchTimeout], "{r:#?}");
    assert_eq!(
        r.error,
        Some(FetchError::Timeout {
            phase: FetchPhase::Response
        })
    );
    // TLS finished before the deadline: its evidence is kept.
    assert!(r.tls.as_ref().unwrap().completed());
    assert!(r.response.is_none());
}

#[tokio::test]
async fn certificate_failures() {
    let world = World::start().await;
    for (octet, class, status) in [
        (9, FetchClass::CertExpired, CertStatus::Expired),
        (
            10,
            FetchClass::CertNameMismatch,
            CertStatus::NameMismatch(NameOutcome::Mismatch),
        ),
        (11, FetchClass::CertUntrusted, CertStatus::SelfSigned),
        (12, FetchClass::CertUntrusted, CertStatus::UnknownIssuer),
        (
            13,
            FetchClass::CertNameMismatch,
            CertStatus::NameMismatch(NameOutcome::CnOnly),
        ),
        (14, FetchClass::CertNotYetValid, CertStatus::NotYetValid),
        (19, FetchClass::CertUntrusted, CertStatus::UnknownIssuer),
        (
            22,
            FetchClass::CertNameMismatch,
            CertStatus::NameMismatch(NameOutcome::PartialWildcardOnly),
        ),
    ] {
        let r = world.fetch(octet).await;
        assert_eq!(r.failures, vec![class], "127.78.0.{octet}: {r:#?}");
        assert_eq!(r.failure(), Some(class));
        assert!(!r.fetched());
        assert_eq!(r.cert.as_ref().unwrap().status, status, "127.78.0.{octet}");
        // Recorded, not aborted: the response and the policy are evidence too.
        assert_eq!(r.response.as_ref().unwrap().status, 200);
        assert!(r.policy.as_ref().unwrap().valid);
        assert!(!r.tls.as_ref().unwrap().chain.is_empty());
    }
}

#[tokio::test]
async fn connection_and_tls_failures() {
    let world = World::start().await;
    let r = world.fetch(15).await;
    assert_eq!(r.failures, vec![FetchClass::ConnectionReset], "{r:#?}");

    let r = world.fetch(16).await;
    assert_eq!(r.failures, vec![FetchClass::TlsHandshakeFailed]);
    let tls = r.tls.as_ref().unwrap();
    assert_eq!(
        tls.outcome,
        Err(HandshakeError::Tls(rustls::Error::AlertReceived(
            rustls::AlertDescription::UnrecognisedName
        )))
    );
    assert!(r.cert.is_none());

    // Nothing listens on [::1] at the port (simnet binds IPv4 only).
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let r = world.fetcher.fetch(DOMAIN, &[v6]).await;
    assert_eq!(r.failures, vec![FetchClass::ConnectRefused]);
    assert_eq!(r.error, Some(FetchError::Connect(ConnectError::Refused)));
    assert_eq!(r.addr, None);

    // The next address is tried after a refusal, and recorded.
    let v4 = IpAddr::V4(Ipv4Addr::new(127, 78, 0, 1));
    let r = world.fetcher.fetch(DOMAIN, &[v6, v4]).await;
    assert_eq!(r.failures, vec![]);
    assert_eq!(r.attempts.len(), 2);
    assert_eq!(r.attempts[0].outcome, Err(ConnectError::Refused));
    assert_eq!(r.addr.unwrap().ip(), v4);

    let r = world.fetcher.fetch(DOMAIN, &[]).await;
    assert_eq!(r.failures, vec![FetchClass::NoAddress]);
    let r = world.fetcher.fetch("bad domain!", &[v4]).await;
    assert_eq!(r.failures, vec![FetchClass::InvalidDomain]);
    assert!(r.attempts.is_empty());

    // Names are normalised: case and a trailing dot do not change the host.
    let r = world.fetcher.fetch("Example.TEST.", &[v4]).await;
    assert_eq!(r.host, HOST);
    assert_eq!(r.failures, vec![]);
}

/// `openssl s_server -WWW` (independent software) serving the policy from a directory;
/// killed on drop.
struct OpensslServer {
    child: tokio::process::Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Drop for OpensslServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts `openssl s_server -WWW` with a fresh self-signed certificate for HOST and the
/// given protocol options; `None` (test skipped) without an `openssl` binary.
async fn openssl_server(tag: &str, ip: Ipv4Addr, options: &[&str]) -> Option<OpensslServer> {
    use tokio::process::Command;
    let dir = std::env::temp_dir().join(format!("probe-openssl-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www/.well-known")).unwrap();
    std::fs::write(dir.join("www/.well-known/mta-sts.txt"), POLICY).unwrap();
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-keyout", "key.pem", "-out", "cert.pem"])
        .args(["-subj", &format!("/CN={HOST}")])
        .args(["-addext", &format!("subjectAltName=DNS:{HOST}")])
        .current_dir(&dir)
        .output()
        .await;
    if !made.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: `openssl` is not usable");
        return None;
    }
    let port = std::net::TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = SocketAddr::new(IpAddr::V4(ip), port);
    let child = Command::new("openssl")
        .args(["s_server", "-accept", &addr.to_string()])
        .args([
            "-cert",
            "../cert.pem",
            "-key",
            "../key.pem",
            "-WWW",
            "-quiet",
        ])
        .args(options)
        .current_dir(dir.join("www"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let server = OpensslServer { child, addr, dir };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Some(server);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("openssl s_server did not start on {addr}");
}

fn public_fetcher(port: u16) -> PolicyFetcher {
    let config = PolicyFetchConfig {
        port,
        timeout: Duration::from_secs(10),
        ..PolicyFetchConfig::default()
    };
    PolicyFetcher::new(config).unwrap()
}

#[tokio::test]
async fn openssl_s_server_policy_host() {
    let ip = Ipv4Addr::new(127, 78, 1, 1);
    let Some(server) = openssl_server("www", ip, &[]).await else {
        return;
    };
    let r = public_fetcher(server.addr.port())
        .fetch(DOMAIN, &[IpAddr::V4(ip)])
        .await;
    // A self-signed certificate: untrusted, but the policy is still recorded.
    assert_eq!(r.failures, vec![FetchClass::CertUntrusted], "{r:#?}");
    assert_eq!(r.cert.as_ref().unwrap().status, CertStatus::SelfSigned);
    let tls = r.tls.as_ref().unwrap();
    assert_eq!(tls.version, Some(rustls::ProtocolVersion::TLSv1_3));
    assert_eq!(tls.sni.as_deref(), Some(HOST));
    let response = r.response.as_ref().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.version, Version::HTTP_10);
    assert_eq!(response.content_type.as_deref(), Some("text/plain"));
    assert_eq!(r.body, POLICY.as_bytes());
    assert!(r.body_complete);
    assert!(r.policy.as_ref().unwrap().valid);
}

#[tokio::test]
async fn openssl_s_server_tls10_only_is_legacy() {
    let ip = Ipv4Addr::new(127, 78, 1, 2);
    let options = ["-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"];
    let Some(server) = openssl_server("tls1", ip, &options).await else {
        return;
    };
    let r = public_fetcher(server.addr.port())
        .fetch(DOMAIN, &[IpAddr::V4(ip)])
        .await;
    assert_eq!(r.failures, vec![FetchClass::TlsLegacyOnly], "{r:#?}");
    let tls = r.tls.as_ref().unwrap();
    assert!(tls.legacy_only());
    assert!(matches!(
        tls.server_first_record,
        crate::tls::ServerFirstRecord::ServerHello {
            legacy_version: 0x0301,
            ..
        } | crate::tls::ServerFirstRecord::Alert {
            description: 70,
            ..
        }
    ));
}

#[tokio::test]
async fn openssl_s_server_without_shared_cipher_is_not_legacy() {
    // TLS 1.2 with CBC suites only: rustls offers none, OpenSSL answers handshake_failure.
    let ip = Ipv4Addr::new(127, 78, 1, 3);
    let options = ["-tls1_2", "-cipher", "AES128-SHA"];
    let Some(server) = openssl_server("cbc", ip, &options).await else {
        return;
    };
    let r = public_fetcher(server.addr.port())
        .fetch(DOMAIN, &[IpAddr::V4(ip)])
        .await;
    assert_eq!(r.failures, vec![FetchClass::TlsHandshakeFailed], "{r:#?}");
    let tls = r.tls.as_ref().unwrap();
    assert!(!tls.legacy_only());
    assert_eq!(
        tls.outcome,
        Err(HandshakeError::Tls(rustls::Error::AlertReceived(
            rustls::AlertDescription::HandshakeFailure
        )))
    );
}
