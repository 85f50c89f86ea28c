//! The simnet SMTP and HTTPS servers checked with clients nobody here wrote: OpenSSL's
//! `s_client -starttls smtp` and curl, against a small hand-built directory. Only 127.x
//! addresses are used. Tests needing a missing tool print a message and pass.

// Helpers outside #[test] functions panic on purpose: a failure is a failed test.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use mxcensus_simnet::https::{
    HttpsBehavior, HttpsConfig, HttpsEnd, HttpsServer, POLICY_PATH, PolicyHost, TEXT_PLAIN,
};
use mxcensus_simnet::pki::{CertKind, CertSpec, ChainShape, Pki, hex};
use mxcensus_simnet::smtp::{
    SessionEnd, SmtpBehavior, SmtpConfig, SmtpHost, SmtpServer, SmtpSession,
};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;

const MX: &str = "mx.example.test";
const POLICY_HOST: &str = "mta-sts.example.test";
const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.test\r\nmax_age: 86400\r\n";

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("simnet-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn have(tool: &str) -> bool {
    let arg = if tool == "openssl" {
        "version"
    } else {
        "--version"
    };
    let found = Command::new(tool)
        .arg(arg)
        .output()
        .await
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: `{tool}` is not installed");
    }
    found
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The SMTP side of the hand-built world: 127.1.0.<octet>.
fn mx_host(addr: Ipv4Addr) -> Option<SmtpHost> {
    let [127, 1, 0, octet] = addr.octets() else {
        return None;
    };
    let (behavior, kind, chain) = match octet {
        5 => (
            SmtpBehavior::Normal,
            CertKind::Valid,
            ChainShape::LeafAndIssuer,
        ),
        6 => (
            SmtpBehavior::Normal,
            CertKind::Expired,
            ChainShape::LeafAndIssuer,
        ),
        7 => (
            SmtpBehavior::Normal,
            CertKind::SelfSigned,
            ChainShape::LeafAndIssuer,
        ),
        8 => (
            SmtpBehavior::Normal,
            CertKind::WrongName,
            ChainShape::LeafAndIssuer,
        ),
        9 => (
            SmtpBehavior::NoStarttls,
            CertKind::Valid,
            ChainShape::LeafAndIssuer,
        ),
        10 => (
            SmtpBehavior::Normal,
            CertKind::UntrustedIssuer,
            ChainShape::LeafAndIssuer,
        ),
        11 => (SmtpBehavior::Normal, CertKind::Valid, ChainShape::LeafOnly),
        12 => (
            SmtpBehavior::Normal,
            CertKind::NotYetValid,
            ChainShape::LeafAndIssuer,
        ),
        13 => (
            SmtpBehavior::Tls10Only,
            CertKind::Valid,
            ChainShape::LeafAndIssuer,
        ),
        14 => (SmtpBehavior::Normal, CertKind::Valid, ChainShape::WithRoot),
        15 => (
            SmtpBehavior::Normal,
            CertKind::Valid,
            ChainShape::LeafAndIssuer,
        ),
        _ => return None,
    };
    // 127.1.0.15 rolled its key: it serves generation 2.
    let generation = if octet == 15 { 2 } else { 1 };
    Some(SmtpHost {
        name: MX.to_string(),
        behavior,
        cert: CertSpec::of_kind(MX, kind)
            .with_chain(chain)
            .with_generation(generation),
    })
}

/// The HTTPS side: mta-sts.example.test at 127.32.0.<octet>.
fn policy_host(sni: Option<&str>, addr: Ipv4Addr) -> Option<PolicyHost> {
    if sni != Some(POLICY_HOST) {
        return None;
    }
    let [127, 32, 0, octet] = addr.octets() else {
        return None;
    };
    let mut host = PolicyHost {
        cert: CertSpec::valid(POLICY_HOST),
        behavior: HttpsBehavior::Ok,
        body: POLICY.as_bytes().to_vec(),
        content_type: Some("text/plain; charset=utf-8".to_string()),
    };
    match octet {
        9 => {}
        10 => {
            host.behavior = HttpsBehavior::Redirect {
                location: "https://elsewhere.example.test/policy.txt".to_string(),
            }
        }
        11 => host.behavior = HttpsBehavior::Status { code: 500 },
        12 => host.content_type = Some("text/html".to_string()),
        13 => host.content_type = None,
        14 => host.behavior = HttpsBehavior::oversize(),
        15 => host.cert.kind = CertKind::Expired,
        16 => host.cert.kind = CertKind::WrongName,
        17 => host.cert.kind = CertKind::SelfSigned,
        18 => host.behavior = HttpsBehavior::ResetAfterHandshake,
        19 => host.behavior = HttpsBehavior::HandshakeFailure,
        20 => host.content_type = Some(TEXT_PLAIN.to_string()),
        21 => host.behavior = HttpsBehavior::NotFound,
        22 => host.cert.kind = CertKind::CnOnly,
        _ => return None,
    }
    Some(host)
}

async fn smtp_server(pki: &Arc<Pki>, log_file: Option<PathBuf>) -> SmtpServer {
    let mut config = SmtpConfig::new("0.0.0.0:0".parse().unwrap());
    config.idle_timeout = Duration::from_secs(10);
    config.log_file = log_file;
    SmtpServer::start(config, Arc::new(mx_host), pki.clone())
        .await
        .unwrap()
}

async fn https_server(pki: &Arc<Pki>) -> HttpsServer {
    let mut config = HttpsConfig::new("0.0.0.0:0".parse().unwrap());
    config.idle_timeout = Duration::from_secs(10);
    HttpsServer::start(config, Arc::new(policy_host), pki.clone())
        .await
        .unwrap()
}

async fn s_client(port: u16, octet: u8, ca: &Path, extra: &[&str]) -> String {
    let output = Command::new("openssl")
        .args(["s_client", "-starttls", "smtp", "-connect"])
        .arg(format!("127.1.0.{octet}:{port}"))
        .args(["-servername", MX, "-verify_hostname", MX, "-CAfile"])
        .arg(ca)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("openssl s_client hung")
        .unwrap();
    text(&output)
}

#[tokio::test]
async fn openssl_s_client_sees_each_certificate_kind() {
    if !have("openssl").await {
        return;
    }
    let scratch = Scratch::new("openssl");
    let pki = Arc::new(Pki::new(42).unwrap());
    let ca = scratch.path("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let server = smtp_server(&pki, None).await;
    let port = server.local_addr().port();

    for (octet, expected) in [
        (5, "Verify return code: 0 (ok)"),
        (14, "Verify return code: 0 (ok)"),
        (6, "Verify return code: 10 (certificate has expired)"),
        (12, "Verify return code: 9 (certificate is not yet valid)"),
        (7, "Verify return code: 18 (self-signed certificate)"),
        (8, "Verify return code: 62 (hostname mismatch)"),
        (
            10,
            "Verify return code: 19 (self-signed certificate in certificate chain)",
        ),
        (
            11,
            "Verify return code: 21 (unable to verify the first certificate)",
        ),
    ] {
        let out = s_client(port, octet, &ca, &[]).await;
        assert!(
            out.contains(expected),
            "127.1.0.{octet}: want {expected:?}\n{out}"
        );
    }

    // No STARTTLS in EHLO: s_client notices, tries anyway, and the handshake fails.
    let out = s_client(port, 9, &ca, &[]).await;
    assert!(out.contains("Didn't find STARTTLS"), "{out}");
    assert!(out.contains("no peer certificate available"), "{out}");

    // TLS 1.0-only. A client whose minimum is TLS 1.2 refuses the 3.1 ServerHello, as it
    // would a real legacy server's.
    let out = s_client(port, 13, &ca, &["-no_tls1", "-no_tls1_1"]).await;
    assert!(out.contains("unsupported protocol"), "{out}");
    // This machine's OpenSSL allows TLS 1.0 by default: it accepts the ServerHello, so it
    // reports a TLS 1.0 session, then fails (simnet cannot complete TLS 1.0).
    let out = s_client(port, 13, &ca, &[]).await;
    assert!(out.contains("Protocol  : TLSv1\n"), "{out}");
    assert!(out.contains("Cipher is (NONE)"), "{out}");

    // DANE (RFC 7671) as OpenSSL computes it, from the hashes WORLD publishes as TLSA.
    let ee = pki.leaf(&CertSpec::valid(MX)).unwrap();
    let tlsa_311 = format!("3 1 1 {}", hex(&ee.spki_sha256));
    let tlsa_201 = format!("2 0 1 {}", hex(&pki.intermediate().cert_sha256()));
    for (octet, rrdata, expected) in [
        (5, &tlsa_311, "matched EE certificate at depth 0"),
        // DANE-EE ignores the PKIX failure of a self-signed leaf with the same key.
        (7, &tlsa_311, "matched EE certificate at depth 0"),
        (5, &tlsa_201, "matched TA certificate at depth 1"),
    ] {
        let args = [
            "-dane_tlsa_domain",
            MX,
            "-dane_tlsa_rrdata",
            rrdata.as_str(),
        ];
        let out = s_client(port, octet, &ca, &args).await;
        assert!(out.contains(expected), "127.1.0.{octet} {rrdata}\n{out}");
        assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    }
    // A rolled key no longer matches the published generation-1 record.
    let args = [
        "-dane_tlsa_domain",
        MX,
        "-dane_tlsa_rrdata",
        tlsa_311.as_str(),
    ];
    let out = s_client(port, 15, &ca, &args).await;
    assert!(
        out.contains("Verify return code: 65 (no matching DANE TLSA records)"),
        "{out}"
    );

    let log = server.log();
    let valid = log
        .sessions
        .iter()
        .find(|s| s.local.ip() == Ipv4Addr::new(127, 1, 0, 5))
        .unwrap();
    assert_eq!(valid.sni.as_deref(), Some(MX));
    assert!(valid.commands[0].to_ascii_uppercase().starts_with("EHLO "));
    assert_eq!(valid.commands[1].to_ascii_uppercase(), "STARTTLS");
    assert!(valid.tls_version.is_some());
    let legacy: Vec<_> = log
        .sessions
        .iter()
        .filter(|s| s.local.ip() == Ipv4Addr::new(127, 1, 0, 13))
        .collect();
    assert!(legacy.iter().all(|s| s.end == SessionEnd::LegacyTls));
    assert!(legacy.iter().all(|s| s.sni.as_deref() == Some(MX)));
    // protocol_version (70) from the TLS 1.2+ client; unexpected_message (10) from the one
    // that accepted TLS 1.0 and then got ServerHelloDone without a Certificate.
    let alerts: Vec<_> = legacy.iter().map(|s| s.legacy_client_alert).collect();
    assert_eq!(alerts, vec![Some(70), Some(10)]);
    assert!(log.violations().next().is_none());
}

struct Curl {
    exit: Option<i32>,
    status: String,
    content_type: String,
    redirect: String,
    body: Vec<u8>,
    stderr: String,
}

async fn curl(port: u16, octet: u8, path: &str, ca: &Path, scratch: &Scratch) -> Curl {
    let body_file = scratch.path(&format!("body-{octet}"));
    let _ = std::fs::remove_file(&body_file);
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(ca)
        .arg("--resolve")
        .arg(format!("{POLICY_HOST}:{port}:127.32.0.{octet}"))
        .arg("-o")
        .arg(&body_file)
        .args(["-w", "%{http_code}\n%{content_type}\n%{redirect_url}\n"])
        .arg(format!("https://{POLICY_HOST}:{port}{path}"))
        .kill_on_drop(true)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let mut lines = stdout.lines().map(str::to_string);
    Curl {
        exit: output.status.code(),
        status: lines.next().unwrap_or_default(),
        content_type: lines.next().unwrap_or_default(),
        redirect: lines.next().unwrap_or_default(),
        body: std::fs::read(&body_file).unwrap_or_default(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn curl_fetches_policies_and_sees_each_failure() {
    if !have("curl").await {
        return;
    }
    let scratch = Scratch::new("curl");
    let pki = Arc::new(Pki::new(42).unwrap());
    let ca = scratch.path("ca.pem");
    std::fs::write(&ca, pki.ca_pem()).unwrap();
    let server = https_server(&pki).await;
    let port = server.local_addr().port();

    let ok = curl(port, 9, POLICY_PATH, &ca, &scratch).await;
    assert_eq!(ok.exit, Some(0), "{}", ok.stderr);
    assert_eq!(ok.status, "200");
    assert_eq!(ok.content_type, "text/plain; charset=utf-8");
    assert_eq!(ok.body, POLICY.as_bytes());

    let plain = curl(port, 20, POLICY_PATH, &ca, &scratch).await;
    assert_eq!(
        (plain.status.as_str(), plain.content_type.as_str()),
        ("200", "text/plain")
    );

    let other_path = curl(port, 9, "/index.html", &ca, &scratch).await;
    assert_eq!(other_path.status, "404");

    let redirect = curl(port, 10, POLICY_PATH, &ca, &scratch).await;
    assert_eq!(redirect.status, "301");
    assert_eq!(
        redirect.redirect,
        "https://elsewhere.example.test/policy.txt"
    );

    assert_eq!(
        curl(port, 11, POLICY_PATH, &ca, &scratch).await.status,
        "500"
    );
    assert_eq!(
        curl(port, 21, POLICY_PATH, &ca, &scratch).await.status,
        "404"
    );

    let html = curl(port, 12, POLICY_PATH, &ca, &scratch).await;
    assert_eq!(
        (html.status.as_str(), html.content_type.as_str()),
        ("200", "text/html")
    );

    let bare = curl(port, 13, POLICY_PATH, &ca, &scratch).await;
    assert_eq!(
        (bare.status.as_str(), bare.content_type.as_str()),
        ("200", "")
    );
    assert_eq!(bare.body, POLICY.as_bytes());

    let big = curl(port, 14, POLICY_PATH, &ca, &scratch).await;
    assert_eq!(big.status, "200");
    assert!(big.body.len() > 64 * 1024);
    assert!(big.body.starts_with(POLICY.as_bytes()));

    // Certificate failures: CURLE_PEER_FAILED_VERIFICATION (60).
    for (octet, reason) in [
        (15, "certificate has expired"),
        (16, "no alternative certificate subject name matches"),
        (17, "self-signed certificate"),
    ] {
        let failed = curl(port, octet, POLICY_PATH, &ca, &scratch).await;
        assert_eq!(failed.exit, Some(60), "127.32.0.{octet}: {}", failed.stderr);
        assert!(
            failed.stderr.contains(reason),
            "127.32.0.{octet}: {}",
            failed.stderr
        );
    }

    // CN-only: RFC 8461 §3.3 (and rustls) accept DNS-IDs only, but curl 7.88 with OpenSSL
    // falls back to the CN when there is no subjectAltName (RFC 6125 §6.4.4 allowed that).
    // Either way the certificate was served and the handshake ran.
    let cn_only = curl(port, 22, POLICY_PATH, &ca, &scratch).await;
    match cn_only.exit {
        Some(0) => assert_eq!(cn_only.status, "200"),
        Some(60) => assert!(
            cn_only.stderr.contains("subject name"),
            "{}",
            cn_only.stderr
        ),
        other => panic!("CN-only: curl exit {other:?}: {}", cn_only.stderr),
    }

    // Reset after the handshake: no HTTP response (CURLE_RECV_ERROR 56 or
    // CURLE_SSL_CONNECT_ERROR 35 depending on when curl notices).
    let reset = curl(port, 18, POLICY_PATH, &ca, &scratch).await;
    assert!(
        matches!(reset.exit, Some(35 | 55 | 56)),
        "{:?} {}",
        reset.exit,
        reset.stderr
    );
    assert_eq!(reset.status, "000");

    // Handshake failure: unrecognized_name alert (CURLE_SSL_CONNECT_ERROR 35).
    for octet in [19, 99] {
        let failed = curl(port, octet, POLICY_PATH, &ca, &scratch).await;
        assert_eq!(failed.exit, Some(35), "127.32.0.{octet}: {}", failed.stderr);
        assert!(
            failed.stderr.contains("unrecognized name"),
            "{}",
            failed.stderr
        );
    }

    let log = server.log();
    let served = log
        .requests
        .iter()
        .find(|r| r.local.ip() == Ipv4Addr::new(127, 32, 0, 9) && r.status == Some(200))
        .unwrap();
    assert_eq!(served.sni.as_deref(), Some(POLICY_HOST));
    assert_eq!(served.method.as_deref(), Some("GET"));
    assert_eq!(served.target.as_deref(), Some(POLICY_PATH));
    assert_eq!(served.host_header, Some(format!("{POLICY_HOST}:{port}")));
    assert_eq!(served.end, HttpsEnd::Served);
    let ends = |octet: u8| -> Vec<HttpsEnd> {
        log.requests
            .iter()
            .filter(|r| r.local.ip() == Ipv4Addr::new(127, 32, 0, octet))
            .map(|r| r.end)
            .collect()
    };
    assert_eq!(ends(18), vec![HttpsEnd::Reset]);
    assert_eq!(ends(19), vec![HttpsEnd::NoCertificate]);
    assert_eq!(ends(99), vec![HttpsEnd::NoCertificate]);
}

/// One line of reply from a raw client (enough for single-line replies).
async fn reply_code(io: &mut BufReader<TcpStream>) -> String {
    loop {
        let mut line = String::new();
        assert!(io.read_line(&mut line).await.unwrap() > 0, "server closed");
        if line.as_bytes().get(3) == Some(&b' ') {
            return line[..3].to_string();
        }
    }
}

async fn raw_connect(port: u16) -> BufReader<TcpStream> {
    let addr = SocketAddr::from(([127, 1, 0, 5], port));
    let mut io = BufReader::new(TcpStream::connect(addr).await.unwrap());
    assert_eq!(reply_code(&mut io).await, "220");
    io
}

#[tokio::test]
async fn command_log_records_violations_and_concurrency() {
    let scratch = Scratch::new("smtplog");
    let pki = Arc::new(Pki::new(42).unwrap());
    let log_file = scratch.path("smtp.jsonl");
    let server = smtp_server(&pki, Some(log_file.clone())).await;
    let port = server.local_addr().port();

    // Two connections open at once to 127.1.0.5; the second one misbehaves.
    let mut polite = raw_connect(port).await;
    let mut rude = raw_connect(port).await;
    rude.write_all(b"EHLO rude.test\r\n").await.unwrap();
    assert_eq!(reply_code(&mut rude).await, "250");
    rude.write_all(b"mail from:<probe@rude.test>\r\n")
        .await
        .unwrap();
    assert_eq!(reply_code(&mut rude).await, "550");
    rude.write_all(b"QUIT\r\n").await.unwrap();
    assert_eq!(reply_code(&mut rude).await, "221");
    polite
        .write_all(b"EHLO polite.test\r\nQUIT\r\n")
        .await
        .unwrap();
    assert_eq!(reply_code(&mut polite).await, "250");
    assert_eq!(reply_code(&mut polite).await, "221");
    drop((polite, rude));

    let mut sessions = Vec::new();
    for _ in 0..100 {
        sessions = server.log().sessions;
        if sessions.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sessions.len(), 2);
    let log = server.log();
    assert_eq!(log.max_concurrent_to(Ipv4Addr::new(127, 1, 0, 5)), 2);
    let violations: Vec<_> = log
        .violations()
        .map(|(s, v)| (s.peer, v.to_string()))
        .collect();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].1, "MAIL");
    let rude_session = sessions.iter().find(|s| !s.violations.is_empty()).unwrap();
    assert_eq!(rude_session.commands[1], "mail from:<probe@rude.test>");
    assert_eq!(rude_session.end, SessionEnd::Quit);

    // The same records, as another process would read them.
    let file = std::fs::read_to_string(&log_file).unwrap();
    let from_file: Vec<SmtpSession> = file
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_file, sessions);
    assert_eq!(from_file.iter().map(|s| s.concurrent).max(), Some(2));
}
