//! Throughput of the DNS probe against a resolver, to compare with `dnsperf` on the same
//! names (DESIGN "Targets": the crawler's DNS stage within 90% of dnsperf). Driven by
//! `scripts/dns-bench.sh`.
//!
//! - `dns_bench serve ADDR NAMES_FILE COUNT`: serves a signed `bench.test.` zone with COUNT
//!   names from simnet's engine on ADDR (port 0: any), writes the names in dnsperf's
//!   format to NAMES_FILE and the root DS to NAMES_FILE.ds, prints `auth IP PORT`, and runs
//!   until killed.
//! - `dns_bench run RESOLVER NAMES_FILE SECONDS CONCURRENCY`: looks the names up (in a
//!   loop) through RESOLVER with CONCURRENCY lookups in flight for SECONDS, prints
//!   queries/s and the status counts.
#![allow(clippy::print_stdout)]
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{Name, RData, RecordType};
use mxcensus_probe::dns::{DnsClient, DnsConfig};
use mxcensus_simnet::dns::{
    DnsServer, Engine, RrSet, ServerConfig, Signing, SigningFault, StaticSource, Zone, ZoneKey,
    ds_for,
};

type BoxError = Box<dyn std::error::Error>;

const SEED: u64 = 99;

fn name(s: &str) -> Result<Name, BoxError> {
    Ok(Name::from_str(s)?)
}

fn key(apex: &str) -> Result<ZoneKey, BoxError> {
    Ok(ZoneKey::derive(SEED, &name(apex)?))
}

fn world(count: usize) -> Result<StaticSource, BoxError> {
    let mut src = StaticSource::new();
    for apex in [".", "test.", "bench.test."] {
        src.add_zone(Zone::new(
            name(apex)?,
            Signing::Signed {
                key: key(apex)?,
                fault: SigningFault::None,
            },
        ));
        let ns = name(&format!("ns.{}", apex.trim_start_matches('.')))?;
        let soa = SOA::new(ns.clone(), name("h.test.")?, 1, 3600, 600, 86400, 300);
        src.add(&name(apex)?, RrSet::single(3600, RData::SOA(soa)))?;
        src.add(&name(apex)?, RrSet::single(3600, RData::NS(NS(ns))))?;
        if apex != "." {
            src.delegate(
                &name(apex)?,
                3600,
                vec![name(&format!("ns.{apex}"))?],
                vec![ds_for(&name(apex)?, &key(apex)?)],
            )?;
        }
    }
    for i in 0..count {
        let ip = Ipv4Addr::new(127, 10, (i >> 8) as u8, i as u8);
        src.add(
            &name(&format!("h{i}.bench.test."))?,
            RrSet::single(86400, RData::A(ip.into())),
        )?;
    }
    Ok(src)
}

async fn serve(addr: SocketAddr, names_file: &str, count: usize) -> Result<(), BoxError> {
    let names: String = (0..count)
        .map(|i| format!("h{i}.bench.test. A\n"))
        .collect();
    std::fs::write(names_file, names)?;
    let ds = ds_for(&Name::root(), &key(".")?);
    let hex: String = ds.digest().iter().map(|b| format!("{b:02X}")).collect();
    std::fs::write(
        format!("{names_file}.ds"),
        format!(". 3600 IN DS {} 15 2 {hex}\n", ds.key_tag()),
    )?;
    let engine = Arc::new(Engine::new(Arc::new(world(count)?)));
    let server = DnsServer::start(addr, engine, ServerConfig::default()).await?;
    let bound = server.local_addr();
    println!("auth {} {}", bound.ip(), bound.port());
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

async fn run(
    resolver: SocketAddr,
    names_file: &str,
    seconds: u64,
    concurrency: usize,
) -> Result<(), BoxError> {
    let names: Vec<Name> = std::fs::read_to_string(names_file)?
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(name)
        .collect::<Result<_, _>>()?;
    if names.is_empty() {
        return Err("no names".into());
    }
    let client = DnsClient::new(DnsConfig {
        resolvers: vec![resolver],
        max_in_flight: concurrency.max(1),
        timeout: Duration::from_secs(2),
        attempts: 1,
        udp_sockets_per_resolver: std::env::var("BENCH_SOCKETS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(DnsConfig::default().udp_sockets_per_resolver),
        ..DnsConfig::default()
    })
    .await?;
    let names = Arc::new(names);
    let next = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (client, names, next, stop, done) = (
            client.clone(),
            names.clone(),
            next.clone(),
            stop.clone(),
            done.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                let i = next.fetch_add(1, Ordering::Relaxed) % names.len();
                let Some(n) = names.get(i) else { break };
                let lookup = client.lookup(n, RecordType::A).await;
                *counts.entry(lookup.status().code()).or_default() += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            counts
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    // The rate counts what completed within the window; stragglers are only tallied.
    let completed = done.load(Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let mut total: BTreeMap<&'static str, u64> = BTreeMap::new();
    for w in workers {
        for (k, v) in w.await? {
            *total.entry(k).or_default() += v;
        }
    }
    println!(
        "mxcensus-probe: {:.0} queries/s ({completed} lookups in {elapsed:.2} s, concurrency {concurrency}) {total:?}",
        completed as f64 / elapsed
    );
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str).ok_or("missing argument");
    let threads = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    match arg(1)? {
        "serve" => rt.block_on(serve(arg(2)?.parse()?, arg(3)?, arg(4)?.parse()?)),
        "run" => rt.block_on(run(
            arg(2)?.parse()?,
            arg(3)?,
            arg(4)?.parse()?,
            arg(5)?.parse()?,
        )),
        _ => Err(
            "usage: dns_bench serve ADDR NAMES COUNT | run RESOLVER NAMES SECONDS CONCURRENCY"
                .into(),
        ),
    }
}
