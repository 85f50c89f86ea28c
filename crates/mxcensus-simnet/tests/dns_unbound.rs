//! The authoritative engine behind a real validating Unbound, queried with dig.
//!
//! Skips (with a message) when `unbound` or `dig` is not installed.
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::rr::rdata::{MX, NS, SOA, TXT, tlsa};
use hickory_proto::rr::{Name, RData};
use mxcensus_simnet::dns::{
    Behavior, DnsServer, Engine, RrSet, ServerConfig, Signing, SigningFault, StaticSource, Zone,
    ZoneKey, ds_for, root_trust_anchor, unbound_stub_zones, wrong_ds_for,
};

const SEED: u64 = 42;
const AUTH_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 2);
const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 1);

fn n(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn tools_missing() -> bool {
    for tool in ["unbound", "dig"] {
        let found = Command::new("sh")
            .args([
                "-c",
                &format!("command -v {tool} || test -x /usr/sbin/{tool}"),
            ])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            println!("skipping: {tool} is not installed");
            return true;
        }
    }
    false
}

fn signed(apex: &str, fault: SigningFault) -> Signing {
    Signing::Signed {
        key: ZoneKey::derive(SEED, &n(apex)),
        fault,
    }
}

fn key(apex: &str) -> ZoneKey {
    ZoneKey::derive(SEED, &n(apex))
}

/// Adds SOA and NS at the apex.
fn apex_records(src: &mut StaticSource, apex: &str) {
    let apex_name = n(apex);
    let ns = n(&format!("ns.{}", apex.trim_start_matches('.')).replace("..", "."));
    let soa = SOA::new(ns.clone(), n("hostmaster.test."), 1, 3600, 600, 86400, 300);
    src.add(&apex_name, RrSet::single(3600, RData::SOA(soa)))
        .unwrap();
    src.add(&apex_name, RrSet::single(3600, RData::NS(NS(ns))))
        .unwrap();
}

fn a(ip: [u8; 4]) -> RData {
    RData::A(Ipv4Addr::from(ip).into())
}

/// Kinds of second-level zones under `test.`: (label, signing, DS in parent?, behaviour).
fn world() -> StaticSource {
    let mut src = StaticSource::new();
    src.add_zone(Zone::new(n("."), signed(".", SigningFault::None)));
    apex_records(&mut src, ".");
    src.add_zone(Zone::new(n("test."), signed("test.", SigningFault::None)));
    apex_records(&mut src, "test.");
    src.delegate(
        &n("test."),
        3600,
        vec![n("ns.test.")],
        vec![ds_for(&n("test."), &key("test."))],
    )
    .unwrap();

    // (zone, signing, DS published, behaviour)
    let children: Vec<(&str, Signing, Option<bool>, Behavior)> = vec![
        (
            "secure.test.",
            signed("secure.test.", SigningFault::None),
            Some(true),
            Behavior::Normal,
        ),
        (
            "chain.test.",
            signed("chain.test.", SigningFault::None),
            Some(true),
            Behavior::Normal,
        ),
        ("unsigned.test.", Signing::Unsigned, None, Behavior::Normal),
        (
            "island.test.",
            signed("island.test.", SigningFault::None),
            None,
            Behavior::Normal,
        ),
        (
            "badsig.test.",
            signed("badsig.test.", SigningFault::BadSignature),
            Some(true),
            Behavior::Normal,
        ),
        (
            "expired.test.",
            signed("expired.test.", SigningFault::ExpiredSignature),
            Some(true),
            Behavior::Normal,
        ),
        (
            "nosig.test.",
            signed("nosig.test.", SigningFault::MissingSignature),
            Some(true),
            Behavior::Normal,
        ),
        (
            "dsmismatch.test.",
            signed("dsmismatch.test.", SigningFault::None),
            Some(false),
            Behavior::Normal,
        ),
        (
            "timeout.test.",
            signed("timeout.test.", SigningFault::None),
            Some(true),
            Behavior::Timeout,
        ),
        (
            "trunc.test.",
            signed("trunc.test.", SigningFault::None),
            Some(true),
            Behavior::TruncateUdp,
        ),
        (
            "lame.test.",
            signed("lame.test.", SigningFault::None),
            Some(true),
            Behavior::Refused,
        ),
        (
            "broken.test.",
            signed("broken.test.", SigningFault::None),
            Some(true),
            Behavior::ServFail,
        ),
    ];
    for (apex, signing, ds, behavior) in children {
        src.add_zone(Zone::new(n(apex), signing).with_behavior(behavior));
        apex_records(&mut src, apex);
        let ds = match ds {
            Some(true) => vec![ds_for(&n(apex), &key(apex))],
            Some(false) => vec![wrong_ds_for(&n(apex), &key(apex))],
            None => vec![],
        };
        src.delegate(&n(apex), 3600, vec![n(&format!("ns.{apex}"))], ds)
            .unwrap();
        src.add(
            &n(&format!("www.{apex}")),
            RrSet::single(300, a([127, 0, 0, 10])),
        )
        .unwrap();
        src.add(
            &n(apex),
            RrSet::single(300, RData::MX(MX::new(10, n(&format!("mx.{apex}"))))),
        )
        .unwrap();
        src.add(
            &n(&format!("mx.{apex}")),
            RrSet::single(300, a([127, 1, 0, 1])),
        )
        .unwrap();
        src.add(
            &n(apex),
            RrSet::single(300, RData::TXT(TXT::new(vec!["v=spf1 -all".into()]))),
        )
        .unwrap();
        src.add(
            &n(&format!("_25._tcp.mx.{apex}")),
            RrSet::single(
                300,
                RData::TLSA(tlsa::TLSA::new(
                    tlsa::CertUsage::DaneEe,
                    tlsa::Selector::Spki,
                    tlsa::Matching::Sha256,
                    vec![0xab; 32],
                )),
            ),
        )
        .unwrap();
        src.add(
            &n(&format!("alias.{apex}")),
            RrSet::single(
                300,
                RData::CNAME(hickory_proto::rr::rdata::CNAME(n(&format!("www.{apex}")))),
            ),
        )
        .unwrap();
        // An empty non-terminal: b.<apex> exists only through a.b.<apex>.
        src.add(
            &n(&format!("a.b.{apex}")),
            RrSet::single(300, a([127, 0, 0, 11])),
        )
        .unwrap();
    }
    // A big RRset: the answer does not fit 512 octets.
    let big: Vec<String> = (0..12)
        .map(|i| format!("{i:02}-{}", "x".repeat(60)))
        .collect();
    src.add(
        &n("big.trunc.test."),
        RrSet::single(300, RData::TXT(TXT::new(big))),
    )
    .unwrap();
    // The root proves denial with an exact chain, `test.` (like a big TLD) with white lies.
    src.use_exact_chain(&n("."));
    src.use_exact_chain(&n("chain.test."));
    src
}

fn free_udp_port(ip: Ipv4Addr) -> u16 {
    UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running Unbound, killed on drop.
struct Unbound {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mxcensus-dns-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unbound_conf(dir: &Path, port: u16, auth: SocketAddr) -> String {
    format!(
        r#"server:
    interface: {RESOLVER_IP}
    port: {port}
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    do-not-query-localhost: no
    module-config: "validator iterator"
    trust-anchor-file: "{dir}/root.ds"
    local-zone: "test." nodefault
    ede: yes
    val-log-level: 2
    # A zone planted to time out: give up after a few seconds, and send the SERVFAIL
    # even when it comes later than discard-timeout (1900 ms by default, after which
    # Unbound drops replies expecting the client to have retried).
    infra-cache-max-rtt: 3000
    discard-timeout: 0
    # The 4 MB defaults evict a signed 10k-name world before a second pass.
    msg-cache-size: 64m
    rrset-cache-size: 128m
    key-cache-size: 32m
remote-control:
    control-enable: no
{stubs}"#,
        dir = dir.display(),
        stubs = unbound_stub_zones(
            auth,
            [&n("test.")],
            [
                &n("timeout.test."),
                &n("nosig.test."),
                &n("lame.test."),
                &n("broken.test.")
            ]
        ),
    )
}

fn root_ds_line() -> String {
    root_trust_anchor(&key("."))
}

fn start_unbound(auth: SocketAddr) -> Unbound {
    let dir = TempDir::new("unbound");
    let port = free_udp_port(RESOLVER_IP);
    std::fs::write(dir.0.join("root.ds"), root_ds_line()).unwrap();
    let conf = dir.0.join("unbound.conf");
    std::fs::write(&conf, unbound_conf(&dir.0, port, auth)).unwrap();
    let log = std::fs::File::create(dir.0.join("unbound.log")).unwrap();
    let bin = if Path::new("/usr/sbin/unbound").exists() {
        "/usr/sbin/unbound"
    } else {
        "unbound"
    };
    let child = Command::new(bin)
        .arg("-d")
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let unbound = Unbound {
        child,
        port,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if dig(port, ".", "SOA", &[]).status == "NOERROR" {
            return unbound;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let log = std::fs::read_to_string(unbound._dir.0.join("unbound.log")).unwrap_or_default();
    panic!("unbound did not come up:\n{log}");
}

#[derive(Debug)]
struct DigResult {
    status: String,
    ede: Option<u16>,
    flags: Vec<String>,
    answers: Vec<String>,
    raw: String,
}

impl DigResult {
    fn ad(&self) -> bool {
        self.flags.iter().any(|f| f == "ad")
    }
    fn has_answer_type(&self, rtype: &str) -> bool {
        self.answers
            .iter()
            .any(|l| l.split_whitespace().nth(3) == Some(rtype))
    }
}

fn dig(port: u16, name: &str, rtype: &str, extra: &[&str]) -> DigResult {
    let out = Command::new("dig")
        .arg(format!("@{RESOLVER_IP}"))
        .args(["-p", &port.to_string(), "+dnssec", "+time=8", "+tries=1"])
        .args(extra)
        .args([name, rtype])
        .output()
        .unwrap();
    parse_dig(&String::from_utf8_lossy(&out.stdout))
}

fn dig_auth(addr: SocketAddr, name: &str, rtype: &str, extra: &[&str]) -> DigResult {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args([
            "-p",
            &addr.port().to_string(),
            "+dnssec",
            "+norec",
            "+time=3",
            "+tries=1",
        ])
        .args(extra)
        .args([name, rtype])
        .output()
        .unwrap();
    parse_dig(&String::from_utf8_lossy(&out.stdout))
}

fn parse_dig(raw: &str) -> DigResult {
    let mut status = String::from("NONE");
    let mut ede = None;
    let mut flags = Vec::new();
    let mut answers = Vec::new();
    let mut in_answer = false;
    for line in raw.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            status = rest.split(',').next().unwrap_or("").to_string();
        }
        if let Some(rest) = line.strip_prefix("; EDE: ") {
            ede = rest.split_whitespace().next().and_then(|c| c.parse().ok());
        }
        if let Some(rest) = line.strip_prefix(";; flags: ") {
            flags = rest
                .split(';')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .map(str::to_string)
                .collect();
        }
        if line.starts_with(";; ANSWER SECTION") {
            in_answer = true;
            continue;
        }
        if in_answer {
            if line.trim().is_empty() || line.starts_with(";;") {
                in_answer = false;
            } else {
                answers.push(line.to_string());
            }
        }
    }
    DigResult {
        status,
        ede,
        flags,
        answers,
        raw: raw.to_string(),
    }
}

struct Bed {
    _rt: tokio::runtime::Runtime,
    _server: DnsServer,
    auth: SocketAddr,
    unbound: Unbound,
}

fn bed() -> Bed {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let engine = Arc::new(Engine::new(Arc::new(world())));
    let server = rt
        .block_on(DnsServer::start(
            SocketAddr::from((AUTH_IP, 0)),
            engine,
            ServerConfig::default(),
        ))
        .unwrap();
    let auth = server.local_addr();
    let unbound = start_unbound(auth);
    Bed {
        _rt: rt,
        _server: server,
        auth,
        unbound,
    }
}

#[test]
fn unbound_validates_the_tree() {
    if tools_missing() {
        return;
    }
    let bed = bed();
    let port = bed.unbound.port;

    // Secure data: AD on every type.
    for (name, rtype) in [
        ("www.secure.test.", "A"),
        ("secure.test.", "MX"),
        ("secure.test.", "TXT"),
        ("_25._tcp.mx.secure.test.", "TLSA"),
        ("secure.test.", "DNSKEY"),
        ("www.chain.test.", "A"),
        ("a.b.secure.test.", "A"),
    ] {
        let r = dig(port, name, rtype, &[]);
        assert_eq!(r.status, "NOERROR", "{name} {rtype}: {}", r.raw);
        assert!(r.ad(), "{name} {rtype} lacks AD: {}", r.raw);
        assert!(r.has_answer_type(rtype), "{name} {rtype}: {}", r.raw);
        assert!(r.has_answer_type("RRSIG"), "{name} {rtype}: {}", r.raw);
    }

    // CNAME followed server-side, whole chain secure.
    let r = dig(port, "alias.secure.test.", "A", &[]);
    assert!(
        r.ad() && r.has_answer_type("CNAME") && r.has_answer_type("A"),
        "{}",
        r.raw
    );

    // Secure denial: NXDOMAIN and NODATA validate (white lies and exact chains), also an
    // empty non-terminal and names missing from the root and the TLD.
    for (name, rtype, status) in [
        ("nope.secure.test.", "A", "NXDOMAIN"),
        ("deep.nope.secure.test.", "A", "NXDOMAIN"),
        ("www.secure.test.", "AAAA", "NOERROR"),
        ("b.secure.test.", "A", "NOERROR"),
        ("secure.test.", "TLSA", "NOERROR"),
        ("nope.chain.test.", "A", "NXDOMAIN"),
        ("zzz.chain.test.", "A", "NXDOMAIN"),
        ("www.chain.test.", "TXT", "NOERROR"),
        ("b.chain.test.", "A", "NOERROR"),
        ("nope.test.", "A", "NXDOMAIN"),
        ("test.", "A", "NOERROR"),
        ("nope.", "A", "NXDOMAIN"),
    ] {
        let r = dig(port, name, rtype, &[]);
        assert_eq!(r.status, status, "{name} {rtype}: {}", r.raw);
        assert!(r.ad(), "{name} {rtype} lacks AD: {}", r.raw);
        assert!(
            r.answers
                .iter()
                .all(|l| !l.contains(&format!("\t{rtype}\t"))),
            "{}",
            r.raw
        );
    }

    // Insecure: an unsigned zone and an island (signed, no DS) answer without AD,
    // including their denials.
    for (name, rtype, status) in [
        ("www.unsigned.test.", "A", "NOERROR"),
        ("_25._tcp.mx.unsigned.test.", "TLSA", "NOERROR"),
        ("nope.unsigned.test.", "A", "NXDOMAIN"),
        ("www.island.test.", "A", "NOERROR"),
        ("nope.island.test.", "A", "NXDOMAIN"),
    ] {
        let r = dig(port, name, rtype, &[]);
        assert_eq!(r.status, status, "{name} {rtype}: {}", r.raw);
        assert!(!r.ad(), "{name} {rtype} has AD: {}", r.raw);
    }
    let r = dig(port, "www.unsigned.test.", "A", &[]);
    assert!(r.has_answer_type("A"), "{}", r.raw);

    // Bogus kinds: SERVFAIL, yet the data is there with +cd.
    // Each with its RFC 8914 code: DNSSEC Bogus, Signature Expired, RRSIGs Missing,
    // DNSKEY Missing (no key matches the DS).
    for (zone, ede) in [
        ("badsig", 6),
        ("expired", 7),
        ("nosig", 10),
        ("dsmismatch", 9),
    ] {
        let name = format!("www.{zone}.test.");
        let r = dig(port, &name, "A", &[]);
        assert_eq!(r.status, "SERVFAIL", "{name}: {}", r.raw);
        assert_eq!(r.ede, Some(ede), "{name}: {}", r.raw);
        let r = dig(port, &name, "A", &["+cd"]);
        assert_eq!(r.status, "NOERROR", "{name} +cd: {}", r.raw);
        assert!(r.has_answer_type("A") && !r.ad(), "{name} +cd: {}", r.raw);
    }

    // Truncation: UDP gets TC from the server, Unbound retries over TCP and validates.
    let r = dig_auth(bed.auth, "www.trunc.test.", "A", &["+notcp", "+ignore"]);
    assert!(r.flags.iter().any(|f| f == "tc"), "{}", r.raw);
    let r = dig(port, "www.trunc.test.", "A", &[]);
    assert!(
        r.status == "NOERROR" && r.ad() && r.has_answer_type("A"),
        "{}",
        r.raw
    );
    let r = dig(port, "big.trunc.test.", "TXT", &[]);
    assert!(
        r.status == "NOERROR" && r.ad() && r.has_answer_type("TXT"),
        "{}",
        r.raw
    );

    // Lame (REFUSED) and SERVFAIL name servers: SERVFAIL, the rest of the tree unharmed.
    for zone in ["lame", "broken"] {
        let r = dig(port, &format!("www.{zone}.test."), "A", &[]);
        assert_eq!(r.status, "SERVFAIL", "{zone}: {}", r.raw);
    }
    let r = dig(port, "www.secure.test.", "A", &[]);
    assert!(r.status == "NOERROR" && r.ad(), "{}", r.raw);

    // Time-out zone last: it slows the resolver down.
    let r = dig(port, "www.timeout.test.", "A", &["+time=30"]);
    assert_eq!(r.status, "SERVFAIL", "{}", r.raw);
    // The rest of the tree still resolves afterwards.
    let r = dig(port, "mx.secure.test.", "A", &[]);
    assert!(r.status == "NOERROR" && r.ad(), "{}", r.raw);
}

#[test]
fn authoritative_answers_directly() {
    if tools_missing() {
        return;
    }
    let bed = bed();
    // AA on answers, RRSIG only with DO.
    let r = dig_auth(bed.auth, "www.secure.test.", "A", &[]);
    assert!(
        r.flags.iter().any(|f| f == "aa") && r.has_answer_type("RRSIG"),
        "{}",
        r.raw
    );
    let r = dig_auth(bed.auth, "www.secure.test.", "A", &["+nodnssec"]);
    assert!(
        r.has_answer_type("A") && !r.has_answer_type("RRSIG"),
        "{}",
        r.raw
    );
    // DS is answered by the parent (signed by test.), DNSKEY by the child.
    let signer = |r: &DigResult, covered: &str| {
        r.answers
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.get(3) == Some(&"RRSIG") && f.get(4) == Some(&covered))
            .and_then(|f| f.get(11).map(|s| s.to_string()))
    };
    let r = dig_auth(bed.auth, "secure.test.", "DS", &[]);
    assert!(r.has_answer_type("DS"), "{}", r.raw);
    assert_eq!(signer(&r, "DS").as_deref(), Some("test."), "{}", r.raw);
    let r = dig_auth(bed.auth, "secure.test.", "DNSKEY", &[]);
    assert_eq!(
        signer(&r, "DNSKEY").as_deref(),
        Some("secure.test."),
        "{}",
        r.raw
    );
    // The root zone contains every IN name, so "outside every zone" is another class.
    let r = dig_auth(bed.auth, "www.secure.test.", "A", &["-c", "CH"]);
    assert_eq!(r.status, "REFUSED", "{}", r.raw);
    // TCP: several queries on one connection, answered in order.
    tcp_several_queries(bed.auth);
}

fn tcp_several_queries(auth: SocketAddr) {
    use hickory_proto::op::{Message, Query};
    use hickory_proto::rr::RecordType;
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(auth).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let names = ["www.secure.test.", "mx.secure.test.", "nope.secure.test."];
    for (id, name) in names.iter().enumerate() {
        let mut m = Message::query();
        m.metadata.id = id as u16;
        m.add_query(Query::query(n(name), RecordType::A));
        let bytes = m.to_vec().unwrap();
        stream
            .write_all(&(bytes.len() as u16).to_be_bytes())
            .unwrap();
        stream.write_all(&bytes).unwrap();
    }
    for (id, name) in names.iter().enumerate() {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).unwrap();
        let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut buf).unwrap();
        let m = Message::from_vec(&buf).unwrap();
        assert_eq!(m.metadata.id, id as u16);
        assert_eq!(m.queries[0].name, n(name));
        assert!(m.metadata.authoritative);
    }
}

/// Manual use: `cargo test --test dns_unbound -- --ignored --nocapture serve_for_manual`
/// keeps the engine and Unbound up for a while and prints where they are.
#[test]
#[ignore]
fn serve_for_manual_checks() {
    if tools_missing() {
        return;
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = Arc::new(Engine::new(Arc::new(world())));
    let server = rt
        .block_on(DnsServer::start(
            SocketAddr::from((AUTH_IP, 0)),
            engine,
            ServerConfig::default(),
        ))
        .unwrap();
    let auth = server.local_addr();
    let dir = TempDir::new("manual");
    std::fs::write(dir.0.join("root.ds"), root_ds_line()).unwrap();
    let port = free_udp_port(RESOLVER_IP);
    std::fs::write(dir.0.join("unbound.conf"), unbound_conf(&dir.0, port, auth)).unwrap();
    println!(
        "auth {auth}; unbound -d -c {}/unbound.conf (port {port})",
        dir.0.display()
    );
    let secs = std::env::var("SERVE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    std::thread::sleep(Duration::from_secs(secs));
}

/// Benchmark (not run by default): 2,000 signed zones under `test.` with 5 names each
/// (10,000 names), Unbound in front, one uncached pass of dnsperf over every name.
/// `cargo test --release --test dns_unbound -- --ignored --nocapture dnsperf_bench`
#[test]
#[ignore]
fn dnsperf_bench() {
    if tools_missing() {
        return;
    }
    const ZONES: usize = 2_000;
    let mut src = StaticSource::new();
    src.add_zone(Zone::new(n("."), signed(".", SigningFault::None)));
    apex_records(&mut src, ".");
    src.add_zone(Zone::new(n("test."), signed("test.", SigningFault::None)));
    apex_records(&mut src, "test.");
    src.delegate(
        &n("test."),
        3600,
        vec![n("ns.test.")],
        vec![ds_for(&n("test."), &key("test."))],
    )
    .unwrap();
    let mut queries = String::new();
    for i in 0..ZONES {
        let apex = format!("d{i}.test.");
        // Every fourth zone unsigned, the rest signed.
        let signing = if i % 4 == 0 {
            Signing::Unsigned
        } else {
            signed(&apex, SigningFault::None)
        };
        let ds = if i % 4 == 0 {
            vec![]
        } else {
            vec![ds_for(&n(&apex), &key(&apex))]
        };
        src.add_zone(Zone::new(n(&apex), signing));
        apex_records(&mut src, &apex);
        src.delegate(&n(&apex), 3600, vec![n(&format!("ns.{apex}"))], ds)
            .unwrap();
        let mx = format!("mx.{apex}");
        src.add(
            &n(&apex),
            RrSet::single(300, RData::MX(MX::new(10, n(&mx)))),
        )
        .unwrap();
        src.add(&n(&mx), RrSet::single(300, a([127, 1, 0, 1])))
            .unwrap();
        src.add(
            &n(&format!("_mta-sts.{apex}")),
            RrSet::single(300, RData::TXT(TXT::new(vec!["v=STSv1; id=1".into()]))),
        )
        .unwrap();
        src.add(
            &n(&format!("mta-sts.{apex}")),
            RrSet::single(300, a([127, 32, 0, 1])),
        )
        .unwrap();
        src.add(
            &n(&format!("_25._tcp.{mx}")),
            RrSet::single(
                300,
                RData::TLSA(tlsa::TLSA::new(
                    tlsa::CertUsage::DaneEe,
                    tlsa::Selector::Spki,
                    tlsa::Matching::Sha256,
                    vec![0xcd; 32],
                )),
            ),
        )
        .unwrap();
        queries.push_str(&format!(
            "{apex} MX\n{mx} A\n_mta-sts.{apex} TXT\nmta-sts.{apex} A\n_25._tcp.{mx} TLSA\nnx.{apex} A\n"
        ));
    }
    src.use_exact_chain(&n("test."));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let engine = Arc::new(Engine::new(Arc::new(src)));
    let server = rt
        .block_on(DnsServer::start(
            SocketAddr::from((AUTH_IP, 0)),
            engine,
            ServerConfig::default(),
        ))
        .unwrap();
    let unbound = start_unbound(server.local_addr());
    let file = unbound._dir.0.join("queries.txt");
    std::fs::write(&file, queries).unwrap();
    let args = [
        "-s".to_string(),
        RESOLVER_IP.to_string(),
        "-p".into(),
        unbound.port.to_string(),
        "-d".into(),
        file.display().to_string(),
        "-n".into(),
        "1".into(),
        "-c".into(),
        "20".into(),
        "-q".into(),
        "100".into(),
        "-t".into(),
        "10".into(),
        "-D".into(),
    ];
    println!("dnsperf {}", args.join(" "));
    match Command::new("dnsperf").args(&args).output() {
        Ok(out) => println!("{}", String::from_utf8_lossy(&out.stdout)),
        Err(e) => println!("dnsperf not run: {e}"),
    }
    // The engine alone (DO=1, no cache in front): every query signs or hits the
    // signature cache.
    let mut direct = args.to_vec();
    direct[1] = AUTH_IP.to_string();
    direct[3] = server.local_addr().port().to_string();
    direct[7] = "3".into();
    println!("engine: dnsperf {}", direct.join(" "));
    if let Ok(out) = Command::new("dnsperf").args(&direct).output() {
        println!("{}", String::from_utf8_lossy(&out.stdout));
    }
    // A second pass is served from Unbound's cache.
    let mut cached = args.to_vec();
    cached[7] = "3".into();
    println!("cached: dnsperf {}", cached.join(" "));
    if let Ok(out) = Command::new("dnsperf").args(&cached).output() {
        println!("{}", String::from_utf8_lossy(&out.stdout));
    }
}
