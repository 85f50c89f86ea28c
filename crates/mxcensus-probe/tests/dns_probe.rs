//! The DNS probe against real resolvers:
//! - Unbound alone, serving `local-data` (no DNSSEC): rcodes, MX/null MX, TXT strings,
//!   CNAME, TLSA, truncation to TCP, REFUSED, dropped queries;
//! - Unbound validating in front of simnet's authoritative engine: secure, insecure,
//!   bogus, SERVFAIL, NXDOMAIN/NODATA, CNAME chains, canaries, RFC 7672 candidates;
//! - an in-process fake resolver: ID/question matching, truncation without TCP.
//!
//! Skips (with a message) when `unbound` is not installed.
#![allow(clippy::unwrap_used, clippy::print_stdout)]
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{CNAME, MX, NS, SOA, TXT, tlsa};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use mxcensus_probe::dns::{
    CandidateDecision, DnsClient, DnsConfig, DnssecStatus, LookupStatus, MxOutcome, RecordValue,
    TlsaOutcome, Transport, check_validator,
};
use mxcensus_simnet::dns::{
    Behavior, DnsServer, Engine, RrSet, ServerConfig, Signing, SigningFault, StaticSource, Zone,
    ZoneKey, ds_for,
};

const SEED: u64 = 7;
const LOCAL_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 21);
const RESOLVER_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 22);
const AUTH_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 23);
const FAKE_IP: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 24);

fn n(s: &str) -> Name {
    Name::from_str(s).unwrap()
}

fn unbound_binary() -> Option<PathBuf> {
    [
        "/usr/sbin/unbound",
        "/usr/local/sbin/unbound",
        "/usr/bin/unbound",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let dir = std::env::temp_dir().join(format!(
            "mxcensus-probe-{tag}-{}-{nanos}",
            std::process::id()
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

/// A running Unbound, killed on drop.
struct Unbound {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
}

impl Drop for Unbound {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port(ip: Ipv4Addr) -> u16 {
    std::net::UdpSocket::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Unbound with `server_extra` lines after the common server options and `tail`
/// after the server block, and waits until `ready_name` answers.
async fn start_unbound(
    ip: Ipv4Addr,
    bin: &Path,
    dir: TempDir,
    server_extra: &str,
    tail: &str,
    ready: &str,
) -> Unbound {
    let port = free_port(ip);
    let conf = format!(
        r#"server:
    interface: {ip}
    port: {port}
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "{dir}"
    pidfile: "{dir}/unbound.pid"
    use-syslog: no
    verbosity: {verbosity}
    num-threads: 1
{server_extra}
remote-control:
    control-enable: no
{tail}"#,
        dir = dir.0.display(),
        verbosity = std::env::var("DNS_PROBE_VERBOSITY").unwrap_or_else(|_| "1".into())
    );
    let conf_path = dir.0.join("unbound.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let log = std::fs::File::create(dir.0.join("unbound.log")).unwrap();
    let child = Command::new(bin)
        .arg("-d")
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    let unbound = Unbound {
        child,
        addr: SocketAddr::from((ip, port)),
        dir,
    };
    let client = DnsClient::new(quick_config(unbound.addr)).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if client
            .query(&n(ready), RecordType::SOA, false)
            .await
            .status
            .is_answer()
        {
            return unbound;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(unbound.dir.0.join("unbound.log")).unwrap_or_default();
    panic!("unbound did not come up:\n{log}");
}

fn quick_config(resolver: SocketAddr) -> DnsConfig {
    DnsConfig {
        resolvers: vec![resolver],
        timeout: Duration::from_millis(500),
        attempts: 1,
        backoff: Duration::from_millis(10),
        ..DnsConfig::default()
    }
}

fn mx_list(outcome: &MxOutcome) -> Vec<(u16, String)> {
    match outcome {
        MxOutcome::Exchanges(list) | MxOutcome::NullMxWithOthers(list) => list
            .iter()
            .map(|mx| (mx.preference, mx.exchange.to_ascii()))
            .collect(),
        _ => vec![],
    }
}

// ---------------------------------------------------------------------------------------
// Unbound alone with local data.

fn local_data() -> String {
    let big: Vec<String> = (0..30)
        .map(|i| format!("\"{i:02}-{}\"", "y".repeat(60)))
        .collect();
    let lines = [
        r#"local-zone: "local.test." static"#.to_string(),
        r#"local-data: "local.test. 300 IN SOA ns.local.test. h.local.test. 1 3600 600 86400 300""#.into(),
        r#"local-data: "mx.local.test. 300 IN MX 20 mx2.local.test.""#.into(),
        r#"local-data: "mx.local.test. 300 IN MX 10 mx1.local.test.""#.into(),
        r#"local-data: "mx1.local.test. 300 IN A 127.1.0.1""#.into(),
        r#"local-data: "mx1.local.test. 300 IN A 127.1.0.2""#.into(),
        r#"local-data: "mx1.local.test. 300 IN AAAA ::1""#.into(),
        r#"local-data: "nullmx.local.test. 300 IN MX 0 .""#.into(),
        r#"local-data: "mixed.local.test. 300 IN MX 0 .""#.into(),
        r#"local-data: "mixed.local.test. 300 IN MX 10 mx1.local.test.""#.into(),
        r#"local-data: 'txt.local.test. 300 IN TXT "v=STSv1; " "id=2024"'"#.into(),
        r#"local-data: "alias.local.test. 300 IN CNAME mx1.local.test.""#.into(),
        r#"local-data: "_25._tcp.mx1.local.test. 300 IN TLSA 3 1 1 abababababababababababababababababababababababababababababababab""#.into(),
        format!(r#"local-data: 'big.local.test. 300 IN TXT {}'"#, big.join(" ")),
        r#"local-zone: "refused.test." refuse"#.into(),
        r#"local-zone: "dropped.test." deny"#.into(),
    ];
    let mut out = String::from("    module-config: \"iterator\"\n");
    for line in lines {
        out.push_str("    ");
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unbound_local_data() {
    let Some(bin) = unbound_binary() else {
        println!("skipping: unbound is not installed");
        return;
    };
    let unbound = start_unbound(
        LOCAL_IP,
        &bin,
        TempDir::new("local"),
        &local_data(),
        "",
        "local.test.",
    )
    .await;
    let client = DnsClient::new(quick_config(unbound.addr)).await.unwrap();

    // MX sorted by preference; no DNSSEC proof -> Unknown.
    let mx = client.mx(&n("mx.local.test")).await;
    assert_eq!(
        mx_list(&mx.outcome),
        vec![
            (10, "mx1.local.test.".into()),
            (20, "mx2.local.test.".into())
        ]
    );
    assert_eq!(mx.lookup.status(), LookupStatus::NoError);
    assert_eq!(mx.lookup.dnssec, DnssecStatus::Unknown);
    assert_eq!(mx.lookup.attempts(), 1);
    assert_eq!(mx.hosts(), vec![n("mx1.local.test."), n("mx2.local.test.")]);

    // Null MX (RFC 7505) alone and mixed with others.
    assert_eq!(
        client.mx(&n("nullmx.local.test.")).await.outcome,
        MxOutcome::NullMx
    );
    let mixed = client.mx(&n("mixed.local.test.")).await;
    assert!(
        matches!(mixed.outcome, MxOutcome::NullMxWithOthers(ref l) if l.len() == 2),
        "{mixed:?}"
    );
    // NODATA -> implicit MX, NXDOMAIN.
    let nomx = client.mx(&n("mx1.local.test.")).await;
    assert_eq!(nomx.outcome, MxOutcome::NoMx);
    assert_eq!(nomx.hosts(), vec![n("mx1.local.test.")]);
    let nx = client.mx(&n("nope.local.test.")).await;
    assert_eq!(nx.outcome, MxOutcome::NxDomain);
    assert_eq!(nx.lookup.result.soa_owner, Some(n("local.test.")));

    // TXT keeps the character-strings apart.
    let txt = client.txt(&n("txt.local.test.")).await;
    assert_eq!(
        txt.records,
        vec![vec![b"v=STSv1; ".to_vec(), b"id=2024".to_vec()]]
    );
    assert_eq!(txt.joined(), vec![b"v=STSv1; id=2024".to_vec()]);

    // Addresses, each type with its own status.
    let addrs = client.addresses(&n("mx1.local.test.")).await;
    let mut v4 = addrs.ipv4();
    v4.sort();
    assert_eq!(
        v4,
        vec![Ipv4Addr::new(127, 1, 0, 1), Ipv4Addr::new(127, 1, 0, 2)]
    );
    assert_eq!(addrs.ipv6(), vec![std::net::Ipv6Addr::LOCALHOST]);
    let addrs = client.addresses(&n("mx2.local.test.")).await;
    assert_eq!(addrs.a.status(), LookupStatus::NxDomain);
    assert!(addrs.all().is_empty());

    // CNAME chain.
    let alias = client.lookup(&n("alias.local.test."), RecordType::A).await;
    assert_eq!(alias.cname_chain().len(), 1, "{alias:?}");
    assert_eq!(alias.cname_chain()[0].owner, n("alias.local.test."));
    assert_eq!(alias.cname_chain()[0].target, n("mx1.local.test."));
    assert_eq!(alias.final_name(), &n("mx1.local.test."));
    // Unbound does not chase a local-data CNAME target: the chain alone is NODATA at its
    // end (for a full resolver, "the target has no such type").
    assert_eq!(alias.status(), LookupStatus::NoData, "{alias:?}");
    assert!(alias.answers().is_empty());
    let cname = client
        .lookup(&n("alias.local.test."), RecordType::CNAME)
        .await;
    assert_eq!(
        cname.answers()[0].value,
        RecordValue::Cname(n("mx1.local.test."))
    );

    // TLSA at _25._tcp.<host>.
    let t = client.tlsa(25, &n("mx1.local.test.")).await;
    assert_eq!(t.lookup.name, n("_25._tcp.mx1.local.test."));
    assert_eq!(t.records.len(), 1);
    assert_eq!(
        (
            t.records[0].usage,
            t.records[0].selector,
            t.records[0].matching_type
        ),
        (3, 1, 1)
    );
    assert_eq!(t.records[0].data, vec![0xab; 32]);
    let none = client.tlsa(25, &n("mx2.local.test.")).await;
    assert_eq!(none.lookup.status(), LookupStatus::NxDomain);

    // Truncation: over 1232 octets, so UDP gets TC=1 and the client retries over TCP.
    let big = client.txt(&n("big.local.test.")).await;
    assert_eq!(
        big.lookup.status(),
        LookupStatus::NoError,
        "{:?}",
        big.lookup
    );
    assert_eq!(big.records.first().map(Vec::len), Some(30));
    let ex = &big.lookup.result.exchanges;
    assert_eq!(ex.len(), 2, "{ex:?}");
    assert!(ex[0].truncated && ex[0].transport == Transport::Udp);
    assert!(!ex[1].truncated && ex[1].transport == Transport::Tcp);

    // REFUSED is final, not retried.
    let client3 = DnsClient::new(DnsConfig {
        attempts: 3,
        ..quick_config(unbound.addr)
    })
    .await
    .unwrap();
    let refused = client3.lookup(&n("x.refused.test."), RecordType::A).await;
    assert_eq!(refused.status(), LookupStatus::Refused);
    assert_eq!(refused.attempts(), 1);
    assert_eq!(refused.dnssec, DnssecStatus::Error);

    // Dropped queries time out on every try, with backoff in between.
    let dropped = client3.lookup(&n("x.dropped.test."), RecordType::A).await;
    assert_eq!(dropped.status(), LookupStatus::Timeout);
    assert_eq!(dropped.attempts(), 3);
    assert!(
        dropped.elapsed >= Duration::from_millis(1500 + 30),
        "{:?}",
        dropped.elapsed
    );
    assert_eq!(dropped.dnssec, DnssecStatus::Error);

    // Not a validator: canaries fail, so statuses stay Unknown.
    let check = check_validator(&client, &n("mx1.local.test."), &n("nope.local.test.")).await;
    assert!(!check.validates && !check.secure_ad && !check.bogus_servfail);
    assert!(!client.validator_ok());
    assert_eq!(check.secure.dnssec, DnssecStatus::Unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_is_unreachable() {
    let port = free_port(FAKE_IP);
    let client = DnsClient::new(DnsConfig {
        attempts: 2,
        ..quick_config(SocketAddr::from((FAKE_IP, port)))
    })
    .await
    .unwrap();
    let l = client.lookup(&n("example."), RecordType::A).await;
    assert_eq!(l.status(), LookupStatus::Unreachable, "{l:?}");
    assert_eq!(l.attempts(), 2);
    assert!(l.elapsed < Duration::from_millis(500), "{:?}", l.elapsed);
}

// ---------------------------------------------------------------------------------------
// An in-process fake resolver: decoys before the real answer, truncation without TCP.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoys_are_ignored_and_tc_without_tcp_fails() {
    let socket = tokio::net::UdpSocket::bind((FAKE_IP, 0)).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut buf = vec![0u8; 4096];
        loop {
            let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
                continue;
            };
            let query = Message::from_vec(&buf[..len]).unwrap();
            let q = query.queries[0].clone();
            let mut reply = Message::response(query.metadata.id, query.metadata.op_code);
            reply.metadata.message_type = MessageType::Response;
            reply.add_query(q.clone());
            if q.name() == &n("trunc.example.") {
                reply.metadata.truncation = true;
                socket
                    .send_to(&reply.to_vec().unwrap(), peer)
                    .await
                    .unwrap();
                continue;
            }
            // Decoy 1: wrong ID. Decoy 2: wrong question. Then the real answer.
            let mut wrong_id = reply.clone();
            wrong_id.metadata.id = query.metadata.id.wrapping_add(1);
            wrong_id.add_answer(Record::from_rdata(
                q.name().clone(),
                60,
                RData::A(Ipv4Addr::new(6, 6, 6, 6).into()),
            ));
            socket
                .send_to(&wrong_id.to_vec().unwrap(), peer)
                .await
                .unwrap();
            let mut wrong_q = Message::response(query.metadata.id, query.metadata.op_code);
            wrong_q.add_query(hickory_proto::op::Query::query(
                n("evil.example."),
                RecordType::A,
            ));
            wrong_q.add_answer(Record::from_rdata(
                n("evil.example."),
                60,
                RData::A(Ipv4Addr::new(6, 6, 6, 7).into()),
            ));
            socket
                .send_to(&wrong_q.to_vec().unwrap(), peer)
                .await
                .unwrap();
            reply.metadata.authentic_data = true;
            reply.metadata.response_code = ResponseCode::NoError;
            reply.add_answer(Record::from_rdata(
                q.name().clone(),
                60,
                RData::A(Ipv4Addr::new(192, 0, 2, 1).into()),
            ));
            socket
                .send_to(&reply.to_vec().unwrap(), peer)
                .await
                .unwrap();
        }
    });
    let client = DnsClient::new(quick_config(addr)).await.unwrap();
    let lookups = futures_join(&client, 50).await;
    for l in lookups {
        assert_eq!(l.status(), LookupStatus::NoError);
        assert_eq!(
            l.answers()[0].value,
            RecordValue::A(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert!(l.authentic_data());
        // AD from loopback, but no canary proved validation.
        assert_eq!(l.dnssec, DnssecStatus::Unknown);
    }
    client.set_validator_ok(true);
    let l = client.lookup(&n("q.example."), RecordType::A).await;
    assert_eq!(l.dnssec, DnssecStatus::Secure);
    // TC=1 but no TCP listener: the try fails as unreachable, evidence keeps both.
    let t = client.lookup(&n("trunc.example."), RecordType::A).await;
    assert_eq!(t.status(), LookupStatus::Unreachable, "{t:?}");
    assert_eq!(t.result.exchanges.len(), 2);
    assert!(t.result.exchanges[0].truncated);
    assert_eq!(t.result.exchanges[1].transport, Transport::Tcp);
    server.abort();
}

async fn futures_join(client: &DnsClient, count: usize) -> Vec<mxcensus_probe::dns::DnsLookup> {
    let mut tasks = Vec::new();
    for i in 0..count {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            client
                .lookup(&n(&format!("n{i}.example.")), RecordType::A)
                .await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

// ---------------------------------------------------------------------------------------
// Validating Unbound in front of simnet's signed tree.

fn signed(apex: &str, fault: SigningFault) -> Signing {
    Signing::Signed {
        key: key(apex),
        fault,
    }
}

fn key(apex: &str) -> ZoneKey {
    ZoneKey::derive(SEED, &n(apex))
}

fn apex_records(src: &mut StaticSource, apex: &str) {
    let ns = if apex == "." {
        n("ns.test.")
    } else {
        n(&format!("ns.{apex}"))
    };
    let soa = SOA::new(ns.clone(), n("hostmaster.test."), 1, 3600, 600, 86400, 300);
    src.add(&n(apex), RrSet::single(3600, RData::SOA(soa)))
        .unwrap();
    src.add(&n(apex), RrSet::single(3600, RData::NS(NS(ns))))
        .unwrap();
}

fn a(ip: [u8; 4]) -> RData {
    RData::A(Ipv4Addr::from(ip).into())
}

fn cname(target: &str) -> RrSet {
    RrSet::single(300, RData::CNAME(CNAME(n(target))))
}

fn tlsa_311() -> RrSet {
    RrSet::single(
        300,
        RData::TLSA(tlsa::TLSA::new(
            tlsa::CertUsage::DaneEe,
            tlsa::Selector::Spki,
            tlsa::Matching::Sha256,
            vec![0xcd; 32],
        )),
    )
}

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
    let children: Vec<(&str, Signing, bool, Behavior)> = vec![
        (
            "secure.test.",
            signed("secure.test.", SigningFault::None),
            true,
            Behavior::Normal,
        ),
        ("unsigned.test.", Signing::Unsigned, false, Behavior::Normal),
        (
            "badsig.test.",
            signed("badsig.test.", SigningFault::BadSignature),
            true,
            Behavior::Normal,
        ),
        (
            "island.test.",
            signed("island.test.", SigningFault::None),
            false,
            Behavior::Normal,
        ),
        (
            "expired.test.",
            signed("expired.test.", SigningFault::ExpiredSignature),
            true,
            Behavior::Normal,
        ),
        (
            "broken.test.",
            signed("broken.test.", SigningFault::None),
            true,
            Behavior::ServFail,
        ),
    ];
    for (apex, signing, ds, behavior) in children {
        src.add_zone(Zone::new(n(apex), signing).with_behavior(behavior));
        apex_records(&mut src, apex);
        let ds = if ds {
            vec![ds_for(&n(apex), &key(apex))]
        } else {
            vec![]
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
        src.add(&n(&format!("_25._tcp.mx.{apex}")), tlsa_311())
            .unwrap();
        src.add(&n(&format!("alias.{apex}")), cname(&format!("www.{apex}")))
            .unwrap();
    }
    // Null MX in a signed zone.
    src.add(
        &n("nomail.secure.test."),
        RrSet::single(300, RData::MX(MX::new(0, Name::root()))),
    )
    .unwrap();
    // Chains across zones (RFC 7672 §2.2.2 cases).
    src.add(
        &n("toinsecure.secure.test."),
        cname("mxhost.unsigned.test."),
    )
    .unwrap();
    src.add(
        &n("mxhost.unsigned.test."),
        RrSet::single(300, a([127, 1, 0, 2])),
    )
    .unwrap();
    src.add(&n("_25._tcp.toinsecure.secure.test."), tlsa_311())
        .unwrap();
    src.add(&n("tosecure.unsigned.test."), cname("mxhost.secure.test."))
        .unwrap();
    src.add(
        &n("mxhost.secure.test."),
        RrSet::single(300, a([127, 1, 0, 3])),
    )
    .unwrap();
    src.add(&n("_25._tcp.mxhost.secure.test."), tlsa_311())
        .unwrap();
    src.add(&n("hop1.secure.test."), cname("hop2.secure.test."))
        .unwrap();
    src.add(&n("hop2.secure.test."), cname("mxhost.secure.test."))
        .unwrap();
    src.add(&n("_25._tcp.hop1.secure.test."), tlsa_311())
        .unwrap();
    // No TLSA at the expanded name, a TLSA at the original one.
    src.add(&n("orig.secure.test."), cname("www.secure.test."))
        .unwrap();
    src.add(&n("_25._tcp.orig.secure.test."), tlsa_311())
        .unwrap();
    // A TXT RRset too big for 1232 octets: TC from Unbound to the stub.
    let big: Vec<String> = (0..30)
        .map(|i| format!("{i:02}-{}", "z".repeat(60)))
        .collect();
    src.add(
        &n("big.secure.test."),
        RrSet::single(300, RData::TXT(TXT::new(big))),
    )
    .unwrap();
    // Exact NSEC chain in the TLD: proves the insecure delegation (no DS) to unsigned.test.
    src.use_exact_chain(&n("test."));
    src
}

fn root_ds_line() -> String {
    let ds = ds_for(&Name::root(), &key("."));
    let hex: String = ds.digest().iter().map(|b| format!("{b:02X}")).collect();
    format!(". 3600 IN DS {} 15 2 {hex}\n", ds.key_tag())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validating_unbound_over_simnet() {
    let Some(bin) = unbound_binary() else {
        println!("skipping: unbound is not installed");
        return;
    };
    let engine = Arc::new(Engine::new(Arc::new(world())));
    let server = DnsServer::start(
        SocketAddr::from((AUTH_IP, 0)),
        engine,
        ServerConfig::default(),
    )
    .await
    .unwrap();
    let auth = server.local_addr();
    let dir = TempDir::new("validating");
    std::fs::write(dir.0.join("root.ds"), root_ds_line()).unwrap();
    let extra = format!(
        r#"    do-not-query-localhost: no
    module-config: "validator iterator"
    trust-anchor-file: "{}/root.ds"
    local-zone: "test." nodefault
    ede: yes
    val-log-level: 2
    infra-cache-max-rtt: 3000"#,
        dir.0.display()
    );
    // A stub for the TLD as well as the root: Unbound sends DS queries to the parent
    // zone's servers, found through its NS names, which have no addresses (and would be
    // asked on port 53); with a stub the parent's servers are the engine.
    let tail = [".", "test."]
        .iter()
        .map(|zone| {
            format!(
                "stub-zone:\n    name: \"{zone}\"\n    stub-addr: {}@{}\n    stub-prime: no\n",
                auth.ip(),
                auth.port()
            )
        })
        .collect::<String>();
    let unbound = start_unbound(RESOLVER_IP, &bin, dir, &extra, &tail, ".").await;
    let client = DnsClient::new(DnsConfig {
        resolvers: vec![unbound.addr],
        timeout: Duration::from_secs(3),
        attempts: 2,
        backoff: Duration::from_millis(20),
        ..DnsConfig::default()
    })
    .await
    .unwrap();

    if let Ok(secs) = std::env::var("DNS_PROBE_PAUSE") {
        eprintln!("PAUSE unbound {} auth {auth}", unbound.addr);
        tokio::time::sleep(Duration::from_secs(secs.parse().unwrap())).await;
    }
    // Before the canaries: Unknown even with AD.
    let early = client.lookup(&n("www.secure.test."), RecordType::A).await;
    assert!(early.authentic_data(), "{early:?}");
    assert_eq!(early.dnssec, DnssecStatus::Unknown);

    let check = check_validator(&client, &n("www.secure.test."), &n("www.badsig.test.")).await;
    assert!(check.validates, "{check:#?}");
    assert!(
        check.secure_ad && check.bogus_servfail && check.bogus_data_with_cd && check.path_trusted
    );
    assert_eq!(check.secure.dnssec, DnssecStatus::Secure);
    assert_eq!(check.bogus.dnssec, DnssecStatus::Bogus);
    assert!(client.validator_ok());

    // Secure data, secure denials.
    for (name, rtype, status) in [
        ("www.secure.test.", RecordType::A, LookupStatus::NoError),
        ("secure.test.", RecordType::MX, LookupStatus::NoError),
        (
            "_25._tcp.mx.secure.test.",
            RecordType::TLSA,
            LookupStatus::NoError,
        ),
        ("nope.secure.test.", RecordType::A, LookupStatus::NxDomain),
        ("www.secure.test.", RecordType::AAAA, LookupStatus::NoData),
    ] {
        let l = client.lookup(&n(name), rtype).await;
        assert_eq!(l.status(), status, "{name} {rtype}: {l:?}");
        assert_eq!(l.dnssec, DnssecStatus::Secure, "{name} {rtype}: {l:?}");
        assert!(l.cd_requery.is_none());
    }
    // Insecure data and denials.
    for (name, status) in [
        ("www.unsigned.test.", LookupStatus::NoError),
        ("nope.unsigned.test.", LookupStatus::NxDomain),
        ("www.island.test.", LookupStatus::NoError),
        ("nope.island.test.", LookupStatus::NxDomain),
    ] {
        let l = client.lookup(&n(name), RecordType::A).await;
        let log = std::fs::read_to_string(unbound.dir.0.join("unbound.log")).unwrap_or_default();
        assert_eq!(
            (l.status(), l.dnssec),
            (status, DnssecStatus::Insecure),
            "{name}: {l:?}\n{log}"
        );
    }
    // Bogus: SERVFAIL, data with CD, EDE from Unbound.
    let bogus = client.lookup(&n("mx.badsig.test."), RecordType::A).await;
    assert_eq!(bogus.status(), LookupStatus::ServFail);
    assert_eq!(bogus.dnssec, DnssecStatus::Bogus, "{bogus:?}");
    let cd = bogus.cd_requery.as_ref().unwrap();
    assert_eq!(cd.status, LookupStatus::NoError);
    assert_eq!(
        cd.answers[0].value,
        RecordValue::A(Ipv4Addr::new(127, 1, 0, 1))
    );
    assert_eq!(bogus.attempts(), 3, "two SERVFAIL tries, one CD try");
    println!("bogus EDE: {:?}", bogus.result.extended_errors);
    assert!(
        bogus
            .result
            .extended_errors
            .iter()
            .any(|e| e.indicates_bogus()),
        "{bogus:?}"
    );
    let expired = client.lookup(&n("www.expired.test."), RecordType::A).await;
    assert_eq!(expired.dnssec, DnssecStatus::Bogus, "{expired:?}");
    println!("expired EDE: {:?}", expired.result.extended_errors);
    // A server that answers SERVFAIL: SERVFAIL with CD too -> error.
    let broken = client.lookup(&n("www.broken.test."), RecordType::A).await;
    assert_eq!(broken.status(), LookupStatus::ServFail);
    assert_eq!(
        broken.cd_requery.as_ref().map(|c| c.status),
        Some(LookupStatus::ServFail)
    );
    assert_eq!(broken.dnssec, DnssecStatus::Error);

    // MX helpers with status.
    let mx = client.mx(&n("secure.test.")).await;
    assert_eq!(mx_list(&mx.outcome), vec![(10, "mx.secure.test.".into())]);
    assert_eq!(mx.lookup.dnssec, DnssecStatus::Secure);
    let null = client.mx(&n("nomail.secure.test.")).await;
    assert_eq!(
        (null.outcome.clone(), null.lookup.dnssec),
        (MxOutcome::NullMx, DnssecStatus::Secure)
    );
    let bad_mx = client.mx(&n("badsig.test.")).await;
    assert_eq!(
        (bad_mx.outcome, bad_mx.lookup.dnssec),
        (MxOutcome::Failed, DnssecStatus::Bogus)
    );

    // Truncation between Unbound and the stub.
    let big = client.txt(&n("big.secure.test.")).await;
    assert_eq!(big.lookup.dnssec, DnssecStatus::Secure, "{:?}", big.lookup);
    assert_eq!(big.records.first().map(Vec::len), Some(30));
    assert_eq!(
        big.lookup.result.exchanges.last().map(|e| e.transport),
        Some(Transport::Tcp)
    );

    // CNAME chains: AD covers the whole chain.
    let hop = client.lookup(&n("hop1.secure.test."), RecordType::A).await;
    let chain: Vec<_> = hop
        .cname_chain()
        .iter()
        .map(|l| (l.owner.to_ascii(), l.target.to_ascii()))
        .collect();
    assert_eq!(
        chain,
        vec![
            ("hop1.secure.test.".into(), "hop2.secure.test.".into()),
            ("hop2.secure.test.".into(), "mxhost.secure.test.".into())
        ]
    );
    assert_eq!(hop.dnssec, DnssecStatus::Secure);
    let mixed = client
        .lookup(&n("toinsecure.secure.test."), RecordType::A)
        .await;
    assert_eq!(
        (mixed.status(), mixed.dnssec),
        (LookupStatus::NoError, DnssecStatus::Insecure)
    );

    // RFC 7672 §2.2.2 candidates and §2.2.3 discovery.
    let plain = client.dane_candidates(&n("mx.secure.test.")).await;
    assert_eq!(plain.decision, CandidateDecision::Candidates);
    assert_eq!(plain.candidates, vec![n("mx.secure.test.")]);
    let found = client.tlsa_discovery(25, &plain).await;
    assert!(
        matches!(found.outcome, TlsaOutcome::Secure { ref base, ref records } if *base == n("mx.secure.test.") && records.len() == 1),
        "{found:?}"
    );

    let chained = client.dane_candidates(&n("hop1.secure.test.")).await;
    assert_eq!(
        chained.candidates,
        vec![n("mxhost.secure.test."), n("hop1.secure.test.")]
    );
    let found = client.tlsa_discovery(25, &chained).await;
    assert!(
        matches!(found.outcome, TlsaOutcome::Secure { ref base, .. } if *base == n("mxhost.secure.test."))
    );
    assert_eq!(found.lookups.len(), 1);

    let orig = client.dane_candidates(&n("orig.secure.test.")).await;
    let found = client.tlsa_discovery(25, &orig).await;
    assert!(
        matches!(found.outcome, TlsaOutcome::Secure { ref base, .. } if *base == n("orig.secure.test.")),
        "{found:?}"
    );
    assert_eq!(
        found.lookups.len(),
        2,
        "expanded name securely denied, then the original"
    );
    assert_eq!(found.lookups[0].lookup.status(), LookupStatus::NxDomain);

    // Secure first CNAME, insecure final addresses: the original name only.
    let to_insecure = client.dane_candidates(&n("toinsecure.secure.test.")).await;
    assert_eq!(
        to_insecure.decision,
        CandidateDecision::Candidates,
        "{to_insecure:?}"
    );
    assert_eq!(to_insecure.candidates, vec![n("toinsecure.secure.test.")]);
    assert_eq!(
        to_insecure.first_cname.as_ref().map(|l| l.dnssec),
        Some(DnssecStatus::Secure)
    );
    // Insecure first CNAME into a signed zone: the final addresses are insecure as well
    // (AD covers the chain), so DANE is off.
    let to_secure = client.dane_candidates(&n("tosecure.unsigned.test.")).await;
    assert_eq!(
        to_secure.decision,
        CandidateDecision::InsecureCname,
        "{to_secure:?}"
    );
    // Insecure host: not applicable, the TLSA lookup is kept as evidence.
    let insecure = client.dane_candidates(&n("mx.unsigned.test.")).await;
    assert_eq!(insecure.decision, CandidateDecision::InsecureAddresses);
    let found = client.tlsa_discovery(25, &insecure).await;
    assert_eq!(found.outcome, TlsaOutcome::NotApplicable);
    assert_eq!(found.lookups[0].records.len(), 1);
    assert_eq!(found.lookups[0].lookup.dnssec, DnssecStatus::Insecure);
    // Bogus host addresses: the host is unusable for DANE senders.
    let bogus_host = client.dane_candidates(&n("mx.badsig.test.")).await;
    assert_eq!(bogus_host.decision, CandidateDecision::LookupFailed);
    let found = client.tlsa_discovery(25, &bogus_host).await;
    assert!(matches!(
        found.outcome,
        TlsaOutcome::Failed {
            dnssec: DnssecStatus::Bogus,
            ..
        }
    ));

    drop(unbound);
    drop(server);
}
