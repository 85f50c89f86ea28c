//! The crawl engine: domains in, rows out.
//!
//! ```text
//! input thread ──items──▶ dispatcher ──▶ domain tasks ──rows──▶ writer thread
//!  (seen set on disk)      ≤ concurrency in their DNS stage (MX, TXT),
//!                          ≤ 4 × concurrency in flight (SMTP, HTTPS)
//!                                  │
//!                 host store (addresses + TLSA, per MX name, once per snapshot)
//!                 probe store ((MX name, IP) -> IpFacts, probed once, behind the
//!                 connection gates and rate limits)
//! ```
//!
//! A domain leaves the DNS stage's window as soon as its MX and TXT answers are in, so
//! domains waiting on slow SMTP servers or policy hosts do not keep the resolver idle.
//! The dedupe state that grows with the input (the seen domains, the host and probe
//! stores) is kept on disk with a bounded hot set in memory ([`crate::spill`]), so peak
//! memory depends on the concurrency, not on the input size.
//!
//! Per domain: MX, `_mta-sts` TXT and `_smtp._tls` TXT concurrently; then the mail hosts
//! (MX exchanges by preference, the domain itself when implicit, none for a null MX)
//! and, when the TXT record is valid, the policy fetch, concurrently; then the verdict
//! (`mxcensus_proto::classify`) and the rows. Canaries run before the first domain and
//! decide whether DNSSEC columns can be trusted. Excluded domains are never queried;
//! excluded addresses are never connected to.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{BufReader, Read};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use hickory_proto::rr::Name;
use mxcensus_dataset::DatasetError;
use mxcensus_dataset::manifest::{
    Canary, InputInfo, MANIFEST_FILE, Manifest, ResolverInfo, RunStatus, SCHEMA_VERSION, ToolInfo,
};
use mxcensus_dataset::segment::{SEGMENTS_DIR, ShardWriter, ShardWriterConfig};
use mxcensus_dataset::tables::{
    DomainEvidence, DomainRow, InputErrorRow, MxRow, PolicyRow, SmtpRow, table_specs,
};
use mxcensus_probe::dns::{
    DnsClient, DnsClientError, DnsLookup, DnssecStatus, LookupStatus, MxOutcome, TxtLookup,
    ValidatorCheck, check_validator,
};
use mxcensus_probe::policy_fetch::{PolicyFetchConfigError, PolicyFetcher};
use mxcensus_probe::smtp::{SmtpClass, SmtpConfigError, SmtpProbe};
use mxcensus_probe::tls;
use mxcensus_proto::classify::{
    DomainFacts, HostFacts, IpFacts, Lookup, MxRecord, PolicyFacts, TlsaFacts, classify,
};
use mxcensus_proto::finding::FailureClass;
use mxcensus_proto::policy::PolicyEvaluation;
use mxcensus_proto::sts_txt::{StsTxtEvaluation, evaluate_sts_records};
use mxcensus_proto::tlsa::TlsaRecord;
use mxcensus_proto::tlsrpt::{TlsRptEvaluation, evaluate_tlsrpt_records};
use mxcensus_proto::verdict::StsTxt;
use tokio::sync::{OnceCell, Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::config::{CrawlConfig, CrawlConfigError, Progress};
use crate::facts::{
    CrawlClass, ProbeFacts, address_lookup_of, dane_target, decision_code, excluded_smtp_row,
    lookup_of, name_text, probe_facts_of, smtp_row, tlsa_facts_of, tlsa_outcome_code,
};
use crate::input::{
    InputCounts, InputDomain, InputErrorKind, InputFormat, InputItem, InputReader, Shard,
};
use crate::politeness::{ConnectionGates, RateLimits};
use crate::resume;
use crate::spill::{Dec, DiskMap, Enc, HotSet, intern, probe_key};
use crate::writer::{DomainOutput, WriterConfig, WriterHandle, WriterMsg, rfc3339, unix_now};

/// The shard's scratch directory for the dedupe state (removed when the run ends).
pub const SPILL_DIR: &str = "_spill";

/// Why a crawl could not run (per-domain problems are rows, never errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrawlError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] CrawlConfigError),
    /// Writing or reading the dataset failed.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// The DNS client could not start.
    #[error("dns client: {0}")]
    Dns(#[from] DnsClientError),
    /// The SMTP prober could not start (e.g. an unreadable CA file).
    #[error("smtp: {0}")]
    Smtp(#[from] SmtpConfigError),
    /// The policy fetcher could not start.
    #[error("policy fetch: {0}")]
    Policy(#[from] PolicyFetchConfigError),
    /// Reading the input failed.
    #[error("input: {0}")]
    Input(std::io::Error),
    /// The shard already holds committed rows and `--resume` was not given.
    #[error(
        "{0} already holds committed segments: pass --resume to finish it, or choose another --out/--snapshot"
    )]
    Exists(PathBuf),
    /// The domain given to [`check_domain`] is not a usable domain name.
    #[error("not a domain to check: {0}")]
    BadDomain(String),
    /// An internal invariant failed.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// What a run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct CrawlSummary {
    /// `OUT/snapshot=<id>/shard=<i>`.
    pub shard_dir: PathBuf,
    /// How the run ended.
    pub status: String,
    /// The resolver passed the canaries.
    pub validator_ok: bool,
    /// Counters of this run.
    pub progress: Progress,
    /// Rows written per table in this run.
    pub rows: BTreeMap<String, u64>,
    /// Headline counts over the whole shard (resumed runs included).
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// Input counts of this run.
    pub input_lines: u64,
}

#[derive(Default)]
struct Counters {
    done: AtomicU64,
    domain_errors: AtomicU64,
    input_errors: AtomicU64,
    in_flight: AtomicU64,
    smtp_probes: AtomicU64,
    smtp_cache_hits: AtomicU64,
    policy_fetches: AtomicU64,
    dns_queries: AtomicU64,
    /// Domains parked for the late retry (in total) and parked right now.
    parked: AtomicU64,
    parked_now: AtomicU64,
    retried: AtomicU64,
    /// When the latest DNS lookup finished, in ms after the first domain started.
    dns_last_ms: AtomicU64,
}

/// A host's DNS facts, shared by every domain that uses the host. Kept compact (the
/// host-level columns of its `mx` rows, not the lookups' full evidence) because the cache
/// lives as long as the snapshot.
struct HostDns {
    addresses: Vec<IpAddr>,
    lookup: Lookup,
    tlsa: TlsaFacts,
    dane: Option<(Vec<TlsaRecord>, Vec<String>)>,
    /// The host-level columns of its `mx` rows.
    columns: HostColumns,
}

/// The host-level columns of an `mx` row, with static codes instead of owned strings:
/// one of these lives per distinct MX host for the whole snapshot, so it is kept small
/// (the rows are built from it per domain).
struct HostColumns {
    address_rcode: &'static str,
    address_aaaa_rcode: &'static str,
    address_ad: bool,
    address_dnssec: &'static str,
    address_cname_chain: Vec<String>,
    dane_candidates: &'static str,
    tlsa_base: Option<String>,
    tlsa_outcome: &'static str,
    tlsa_rcode: Option<&'static str>,
    tlsa_ad: Option<bool>,
    tlsa_dnssec: Option<&'static str>,
    tlsa_records: Vec<String>,
}

impl HostDns {
    /// An `mx` row with this host's columns filled in.
    fn mx_row(&self, exchange: &str) -> MxRow {
        let c = &self.columns;
        MxRow {
            exchange: exchange.to_owned(),
            addresses: self.addresses.iter().map(ToString::to_string).collect(),
            address_rcode: c.address_rcode.to_owned(),
            address_aaaa_rcode: c.address_aaaa_rcode.to_owned(),
            address_ad: c.address_ad,
            address_dnssec: c.address_dnssec.to_owned(),
            address_cname_chain: c.address_cname_chain.clone(),
            dane_candidates: c.dane_candidates.to_owned(),
            tlsa_base: c.tlsa_base.clone(),
            tlsa_outcome: c.tlsa_outcome.to_owned(),
            tlsa_rcode: c.tlsa_rcode.map(str::to_owned),
            tlsa_ad: c.tlsa_ad,
            tlsa_dnssec: c.tlsa_dnssec.map(str::to_owned),
            tlsa_records: c.tlsa_records.clone(),
            ..MxRow::default()
        }
    }
}

impl HostDns {
    /// The spill encoding (see [`crate::spill`]).
    fn encode(&self) -> Vec<u8> {
        let mut e = Enc::default();
        e.count(self.addresses.len());
        for ip in &self.addresses {
            e.ip(*ip);
        }
        encode_lookup(&mut e, self.lookup);
        match &self.tlsa {
            TlsaFacts::NotQueried => e.u8(0),
            TlsaFacts::Queried { lookup, records } => {
                e.u8(1);
                encode_lookup(&mut e, *lookup);
                encode_tlsa(&mut e, records);
            }
        }
        match &self.dane {
            None => e.u8(0),
            Some((records, names)) => {
                e.u8(1);
                encode_tlsa(&mut e, records);
                e.strs(names);
            }
        }
        let c = &self.columns;
        e.str(c.address_rcode);
        e.str(c.address_aaaa_rcode);
        e.bool(c.address_ad);
        e.str(c.address_dnssec);
        e.strs(&c.address_cname_chain);
        e.str(c.dane_candidates);
        e.opt_str(c.tlsa_base.as_deref());
        e.str(c.tlsa_outcome);
        e.opt_str(c.tlsa_rcode);
        e.opt_bool(c.tlsa_ad);
        e.opt_str(c.tlsa_dnssec);
        e.strs(&c.tlsa_records);
        e.0
    }

    fn decode(bytes: &[u8]) -> Option<HostDns> {
        let mut d = Dec(bytes);
        let n = d.count()?;
        let mut addresses = Vec::with_capacity(n.min(64));
        for _ in 0..n {
            addresses.push(d.ip()?);
        }
        let lookup = decode_lookup(&mut d)?;
        let tlsa = match d.u8()? {
            0 => TlsaFacts::NotQueried,
            1 => TlsaFacts::Queried {
                lookup: decode_lookup(&mut d)?,
                records: decode_tlsa(&mut d)?,
            },
            _ => return None,
        };
        let dane = match d.u8()? {
            0 => None,
            1 => Some((decode_tlsa(&mut d)?, d.strs()?)),
            _ => return None,
        };
        let columns = HostColumns {
            address_rcode: intern(d.str()?),
            address_aaaa_rcode: intern(d.str()?),
            address_ad: d.bool()?,
            address_dnssec: intern(d.str()?),
            address_cname_chain: d.strs()?,
            dane_candidates: intern(d.str()?),
            tlsa_base: d.opt_str()?.map(str::to_owned),
            tlsa_outcome: intern(d.str()?),
            tlsa_rcode: d.opt_str()?.map(intern),
            tlsa_ad: d.opt_bool()?,
            tlsa_dnssec: d.opt_str()?.map(intern),
            tlsa_records: d.strs()?,
        };
        d.0.is_empty().then_some(HostDns {
            addresses,
            lookup,
            tlsa,
            dane,
            columns,
        })
    }
}

fn encode_lookup(e: &mut Enc, l: Lookup) {
    use mxcensus_proto::classify::LookupFailure as F;
    match l {
        Lookup::Answer { secure } => e.0.extend([0, u8::from(secure)]),
        Lookup::NxDomain { secure } => e.0.extend([1, u8::from(secure)]),
        Lookup::NoData { secure } => e.0.extend([2, u8::from(secure)]),
        Lookup::Bogus => e.0.extend([3, 0]),
        Lookup::Failed(f) => e.0.extend([
            4,
            match f {
                F::ServFail => 0,
                F::Timeout => 1,
                F::Refused => 2,
                F::Other => 3,
            },
        ]),
    }
}

fn decode_lookup(d: &mut Dec<'_>) -> Option<Lookup> {
    use mxcensus_proto::classify::LookupFailure as F;
    let (tag, arg) = (d.u8()?, d.u8()?);
    let secure = arg == 1;
    Some(match (tag, arg) {
        (0, 0 | 1) => Lookup::Answer { secure },
        (1, 0 | 1) => Lookup::NxDomain { secure },
        (2, 0 | 1) => Lookup::NoData { secure },
        (3, 0) => Lookup::Bogus,
        (4, 0) => Lookup::Failed(F::ServFail),
        (4, 1) => Lookup::Failed(F::Timeout),
        (4, 2) => Lookup::Failed(F::Refused),
        (4, 3) => Lookup::Failed(F::Other),
        _ => return None,
    })
}

fn encode_tlsa(e: &mut Enc, records: &[TlsaRecord]) {
    e.count(records.len());
    for r in records {
        e.0.extend([r.usage, r.selector, r.matching_type]);
        e.bytes(&r.data);
    }
}

fn decode_tlsa(d: &mut Dec<'_>) -> Option<Vec<TlsaRecord>> {
    let n = d.count()?;
    let mut out = Vec::with_capacity(n.min(64));
    for _ in 0..n {
        out.push(TlsaRecord {
            usage: d.u8()?,
            selector: d.u8()?,
            matching_type: d.u8()?,
            data: d.bytes()?.to_vec(),
        });
    }
    Some(out)
}

/// The spill encoding of a probe's facts.
fn encode_probe(f: &ProbeFacts) -> Vec<u8> {
    let mut e = Enc::default();
    let ip = &f.ip;
    e.bool(ip.reached);
    e.bool(ip.starttls);
    e.bool(ip.pkix_valid);
    e.bool(ip.name_valid);
    e.opt_bool(ip.dane_match);
    e.opt_str(ip.dane_failure);
    e.strs(&ip.failures);
    e.opt_str(f.dane_failure);
    e.0
}

fn decode_probe(bytes: &[u8]) -> Option<ProbeFacts> {
    let mut d = Dec(bytes);
    let ip = IpFacts {
        reached: d.bool()?,
        starttls: d.bool()?,
        pkix_valid: d.bool()?,
        name_valid: d.bool()?,
        dane_match: d.opt_bool()?,
        dane_failure: d.opt_str()?.map(intern),
        failures: d.strs()?.iter().map(|s| intern(s)).collect(),
    };
    let dane_failure = d.opt_str()?.map(intern);
    d.0.is_empty().then_some(ProbeFacts { ip, dane_failure })
}

/// Once-per-snapshot results by key (MX host, or MX host and IP): recently used ones
/// decoded in memory, every finished one on disk, and the cells of those being computed,
/// on which their concurrent users wait. Memory is bounded by the hot set and the work
/// in flight, whatever the input size.
struct Store<V> {
    hot: HotSet<Vec<u8>, V>,
    disk: Option<DiskMap>,
    pending: HashMap<Vec<u8>, Arc<OnceCell<V>>>,
    encode: fn(&V) -> Vec<u8>,
    decode: fn(&[u8]) -> Option<V>,
}

enum Found<V> {
    Ready(V),
    Cell(Arc<OnceCell<V>>),
}

impl<V: Clone> Store<V> {
    fn new(
        hot: usize,
        disk: Option<DiskMap>,
        encode: fn(&V) -> Vec<u8>,
        decode: fn(&[u8]) -> Option<V>,
    ) -> Self {
        Store {
            hot: HotSet::new(hot),
            disk,
            pending: HashMap::new(),
            encode,
            decode,
        }
    }

    fn find(&mut self, key: &[u8]) -> Found<V> {
        if let Some(v) = self.hot.get(key) {
            return Found::Ready(v);
        }
        if let Some(disk) = &self.disk {
            match disk.get(key).map(|b| b.map(|b| (self.decode)(&b))) {
                Ok(Some(Some(v))) => {
                    self.hot.insert(key.to_vec(), v.clone());
                    return Found::Ready(v);
                }
                Ok(Some(None)) => tracing::error!("spill: undecodable entry; computing it again"),
                Ok(None) => {}
                Err(e) => tracing::error!("spill read: {e}; computing the entry again"),
            }
        }
        Found::Cell(Arc::clone(self.pending.entry(key.to_vec()).or_default()))
    }

    /// Moves a computed entry from `pending` to disk and the hot set (once).
    fn publish(&mut self, key: &[u8], v: &V) {
        if !self.pending.contains_key(key) {
            return;
        }
        if let Some(disk) = &mut self.disk
            && let Err(e) = disk.insert(key, &(self.encode)(v))
        {
            // Kept pending (in memory): still computed once, memory no longer bounded.
            tracing::error!("spill write: {e}; keeping the entry in memory");
            return;
        }
        self.pending.remove(key);
        self.hot.insert(key.to_vec(), v.clone());
    }

    fn insert_done(&mut self, key: &[u8], v: &V) -> std::io::Result<()> {
        match &mut self.disk {
            Some(disk) => disk.insert(key, &(self.encode)(v)).map(|_| ()),
            None => {
                self.hot.insert(key.to_vec(), v.clone());
                Ok(())
            }
        }
    }
}

/// Hot entries kept per store generation (two generations): a few MiB each.
const HOT_HOSTS: usize = 8192;
const HOT_PROBES: usize = 16384;
/// Domains in flight per domain in the DNS stage: the later stages (SMTP, HTTPS) may
/// keep this many more waiting without holding up the DNS stage.
const IN_FLIGHT_FACTOR: usize = 4;

struct Shared {
    dns: DnsClient,
    smtp: SmtpProbe,
    policy: PolicyFetcher,
    limits: RateLimits,
    gates: Arc<ConnectionGates>,
    smtp_slots: Semaphore,
    cfg: CrawlConfig,
    validator_ok: bool,
    hosts: Mutex<Store<Arc<HostDns>>>,
    ips: Mutex<Store<ProbeFacts>>,
    writer: std::sync::mpsc::SyncSender<WriterMsg>,
    counters: Counters,
    /// After the canaries: the start of the DNS window.
    started: Instant,
}

impl Shared {
    fn send(&self, msg: WriterMsg) {
        // The writer only goes away after a fatal write error, which `run` reports once
        // the in-flight domains are done; stop reading input meanwhile.
        if self.writer.send(msg).is_err() && !self.cfg.stop.swap(true, Ordering::Relaxed) {
            tracing::error!("the writer has stopped; stopping the crawl");
        }
    }

    async fn dns_tokens(&self, n: usize) {
        for _ in 0..n {
            self.limits.dns().await;
        }
    }

    /// Counts the queries a lookup sent (its tries and its CD re-query).
    fn count_dns<'a>(&self, lookups: impl IntoIterator<Item = &'a DnsLookup>) {
        let n: u64 = lookups.into_iter().map(|l| u64::from(l.attempts())).sum();
        self.counters.dns_queries.fetch_add(n, Ordering::Relaxed);
        self.counters
            .dns_last_ms
            .fetch_max(ms(self.started.elapsed()), Ordering::Relaxed);
    }
}

/// The probes of a run (or a check), with the canaries' verdict.
struct Probes {
    dns: DnsClient,
    check: Option<ValidatorCheck>,
    smtp: SmtpProbe,
    policy: PolicyFetcher,
}

impl Probes {
    async fn start(config: &CrawlConfig) -> Result<Probes, CrawlError> {
        let dns = DnsClient::new(config.dns.clone()).await?;
        let check = match (fqdn(&config.canary_secure), fqdn(&config.canary_bogus)) {
            (Some(s), Some(b)) => Some(check_validator(&dns, &s, &b).await),
            _ => None,
        };
        let smtp = SmtpProbe::new(config.smtp.clone())?;
        let policy = PolicyFetcher::new(config.policy.clone())?;
        Ok(Probes {
            dns,
            check,
            smtp,
            policy,
        })
    }

    fn validator_ok(&self) -> bool {
        self.check.as_ref().is_some_and(|c| c.validates)
    }

    fn into_shared(
        self,
        cfg: CrawlConfig,
        writer: std::sync::mpsc::SyncSender<WriterMsg>,
        hosts: Store<Arc<HostDns>>,
        ips: Store<ProbeFacts>,
    ) -> Shared {
        let validator_ok = self.validator_ok();
        Shared {
            dns: self.dns,
            smtp: self.smtp,
            policy: self.policy,
            limits: RateLimits::new(cfg.dns_qps, cfg.connects_per_sec),
            gates: ConnectionGates::new(cfg.per_address, cfg.per_network),
            smtp_slots: Semaphore::new(cfg.smtp_concurrency),
            validator_ok,
            hosts: Mutex::new(hosts),
            ips: Mutex::new(ips),
            writer,
            counters: Counters::default(),
            started: Instant::now(),
            cfg,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

/// A reader that hashes what it reads (the manifest's input SHA-256).
struct HashingReader<R> {
    inner: R,
    ctx: Arc<Mutex<Option<ring::digest::Context>>>,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(ctx) = lock(&self.ctx).as_mut() {
            ctx.update(buf.get(..n).unwrap_or_default());
        }
        Ok(n)
    }
}

struct InputEnd {
    counts: InputCounts,
    sha256: Option<String>,
    error: Option<std::io::Error>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn canaries(check: &ValidatorCheck) -> Vec<Canary> {
    let observed = |l: &DnsLookup| {
        format!(
            "{} ad={} cd_requery={}",
            l.status().code(),
            l.authentic_data(),
            l.cd_requery.as_ref().map_or("none", |c| c.status.code())
        )
    };
    vec![
        Canary {
            name: name_text(&check.secure.name),
            expected: "answer with AD".to_owned(),
            observed: observed(&check.secure),
            ok: check.secure_ad,
        },
        Canary {
            name: name_text(&check.bogus.name),
            expected: "SERVFAIL, data with CD".to_owned(),
            observed: observed(&check.bogus),
            ok: check.bogus_servfail && check.bogus_data_with_cd,
        },
    ]
}

fn fqdn(s: &str) -> Option<Name> {
    let mut n = Name::from_ascii(s).ok()?;
    n.set_fqdn(true);
    Some(n)
}

/// Runs a crawl of `input` into `out_dir/snapshot=<id>/shard=<i>/`.
pub async fn run(
    config: CrawlConfig,
    input: Box<dyn Read + Send>,
    out_dir: &Path,
) -> Result<CrawlSummary, CrawlError> {
    config.validate()?;
    let start = Instant::now();
    let shard_dir = out_dir
        .join(format!("snapshot={}", config.snapshot))
        .join(format!("shard={}", config.shard.index));
    let has_segments = std::fs::read_dir(shard_dir.join(SEGMENTS_DIR))
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if has_segments && !config.resume {
        return Err(CrawlError::Exists(shard_dir));
    }

    let mut wcfg = ShardWriterConfig::new(&shard_dir, table_specs());
    // The writer commits itself, between domains; never rotate inside end_unit.
    wcfg.units_per_segment = usize::MAX;
    wcfg.row_group_rows = config.batch_rows.max(1024);
    let (shard, recovery) = ShardWriter::open(wcfg)?;
    let previous = Manifest::read(&shard_dir.join(MANIFEST_FILE)).ok();
    // The dedupe state lives on disk (see `spill`), rebuilt from the committed rows on
    // resume: the files of an earlier run are never trusted.
    let spill_dir = shard_dir.join(SPILL_DIR);
    let _ = std::fs::remove_dir_all(&spill_dir);
    let spill = |name: &str| DiskMap::create(&spill_dir, name).map_err(CrawlError::Input);
    let mut seen = spill("seen")?;
    let hosts = Store::new(HOT_HOSTS, Some(spill("hosts")?), host_encode, host_decode);
    let mut ips = Store::new(
        HOT_PROBES,
        Some(spill("probes")?),
        encode_probe,
        decode_probe,
    );
    let state = if config.resume {
        resume::load(
            &shard_dir,
            &recovery,
            &mut |domain, line| {
                seen.insert(domain.as_bytes(), &line.to_le_bytes())
                    .map(|_| ())
            },
            &mut |host, ip, facts| ips.insert_done(&probe_key(host, ip), facts),
        )?
    } else {
        resume::ResumeState::default()
    };
    let resumed_domains = state.done;

    // Probes and canaries.
    let probes = Probes::start(&config).await?;
    let validator_ok = probes.validator_ok();

    let manifest = Manifest {
        schema_version: SCHEMA_VERSION,
        tool: ToolInfo {
            name: "mxcensus".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            git_revision: config.git_revision.clone(),
        },
        snapshot: config.snapshot.clone(),
        shard_index: config.shard.index,
        shard_count: config.shard.count,
        started_at: previous
            .as_ref()
            .filter(|_| config.resume)
            .map_or_else(|| rfc3339(SystemTime::now()), |m| m.started_at.clone()),
        finished_at: None,
        status: RunStatus::Running,
        resumed: previous
            .as_ref()
            .filter(|_| config.resume)
            .map_or(0, |m| m.resumed + 1),
        config: config.to_json(),
        input: InputInfo {
            path: config.input_label.clone(),
            sha256: None,
            lines: 0,
            domains: 0,
            input_errors: 0,
        },
        resolver: ResolverInfo {
            addresses: config.dns.resolvers.iter().map(|r| r.to_string()).collect(),
            validating: validator_ok,
            canaries: probes.check.as_ref().map(canaries).unwrap_or_default(),
        },
        counts: BTreeMap::new(),
    };
    let writer = WriterHandle::start(
        shard,
        manifest,
        state.counts.clone(),
        WriterConfig {
            commit_every: config.commit_every,
            commit_units: config.commit_domains,
            batch_rows: config.batch_rows,
        },
        config.concurrency * 4 + 1024,
    )?;

    let shared = Arc::new(probes.into_shared(config.clone(), writer.tx.clone(), hosts, ips));

    // Input thread.
    let (item_tx, mut item_rx) = mpsc::channel::<InputItem>(1024);
    let lines_read = Arc::new(AtomicU64::new(0));
    let format = config.format;
    let shard_sel = config.shard;
    let lines_seen = Arc::clone(&lines_read);
    let input_thread = std::thread::Builder::new()
        .name("mxcensus-input".to_owned())
        .spawn(move || {
            let ctx = Arc::new(Mutex::new(Some(ring::digest::Context::new(
                &ring::digest::SHA256,
            ))));
            let hashing = HashingReader {
                inner: input,
                ctx: Arc::clone(&ctx),
            };
            let mut reader = InputReader::new(
                BufReader::with_capacity(1 << 16, hashing),
                format,
                shard_sel,
            )
            .with_seen_map(seen);
            let mut error = None;
            let mut complete = true;
            while let Some(item) = reader.next() {
                match item {
                    Ok(item) => {
                        if item_tx.blocking_send(item).is_err() {
                            complete = false;
                            break;
                        }
                    }
                    Err(e) => {
                        error = Some(e);
                        complete = false;
                        break;
                    }
                }
                lines_seen.store(reader.counts().lines, Ordering::Relaxed);
            }
            let counts = reader.counts().clone();
            lines_seen.store(counts.lines, Ordering::Relaxed);
            // The hash covers every byte only when the input was read to its end.
            let digest = lock(&ctx).take().map(|c| tls::hex(c.finish().as_ref()));
            InputEnd {
                counts,
                sha256: digest.filter(|_| complete),
                error,
            }
        })
        .map_err(|e| CrawlError::Input(std::io::Error::other(e)))?;

    // Dispatcher.
    let mut tasks: JoinSet<Option<Box<Parked>>> = JoinSet::new();
    // Domains waiting for their late retry, in the order they are due (one delay for all).
    let mut parked: VecDeque<Box<Parked>> = VecDeque::new();
    // `concurrency` domains in their DNS stage at once; up to IN_FLIGHT_FACTOR times as
    // many in flight, so that domains waiting for SMTP or HTTPS never starve DNS.
    let dns_stage = Arc::new(Semaphore::new(config.concurrency));
    let max_in_flight = config.concurrency.saturating_mul(IN_FLIGHT_FACTOR);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut input_open = true;
    let mut dispatched: u64 = 0;
    let mut stopped = false;
    let report = |shared: &Shared| Progress {
        domains_done: shared.counters.done.load(Ordering::Relaxed),
        domains_resumed: resumed_domains,
        input_errors: shared.counters.input_errors.load(Ordering::Relaxed),
        domain_errors: shared.counters.domain_errors.load(Ordering::Relaxed),
        in_flight: shared.counters.in_flight.load(Ordering::Relaxed),
        smtp_probes: shared.counters.smtp_probes.load(Ordering::Relaxed),
        smtp_cache_hits: shared.counters.smtp_cache_hits.load(Ordering::Relaxed),
        policy_fetches: shared.counters.policy_fetches.load(Ordering::Relaxed),
        dns_queries: shared.counters.dns_queries.load(Ordering::Relaxed),
        dns_active_secs: shared.counters.dns_last_ms.load(Ordering::Relaxed) as f64 / 1000.0,
        domains_parked: shared.counters.parked.load(Ordering::Relaxed),
        domains_retried: shared.counters.retried.load(Ordering::Relaxed),
        lines_read: lines_read.load(Ordering::Relaxed),
        elapsed_secs: start.elapsed().as_secs_f64(),
    };
    let error_lines = state.error_lines;
    loop {
        if input_open
            && (config.stop.load(Ordering::Relaxed)
                || config.stop_after.is_some_and(|n| dispatched >= n))
        {
            input_open = false;
            stopped = true;
            item_rx.close();
        }
        // The run ends only after the parked domains are retried (they count among
        // `stop_after`'s domains), unless it was stopped (Ctrl-C, a writer failure): then
        // they have no row, and `--resume` crawls them again.
        let abandon_parked = config.stop.load(Ordering::Relaxed);
        if !input_open && tasks.is_empty() && (parked.is_empty() || abandon_parked) {
            break;
        }
        let next_due = parked
            .front()
            .filter(|_| !abandon_parked)
            .map(|p| tokio::time::Instant::from_std(p.due));
        tokio::select! {
            (permit, item) = async {
                (Arc::clone(&dns_stage).acquire_owned().await.ok(), item_rx.recv().await)
            }, if input_open && tasks.len() < max_in_flight => {
                let Some(item) = item else {
                    input_open = false;
                    continue;
                };
                match item {
                    InputItem::Reject(r) => {
                        // On resume, a committed domain comes back as a duplicate of its own line.
                        let own_line = matches!(r.kind, InputErrorKind::Duplicate { first_line } if first_line == r.line);
                        if own_line || error_lines.contains(&r.line) {
                            continue;
                        }
                        shared.counters.input_errors.fetch_add(1, Ordering::Relaxed);
                        shared.send(WriterMsg::InputError(InputErrorRow {
                            input_line: r.line,
                            raw: r.raw.clone(),
                            reason: r.kind.code().to_owned(),
                            message: r.kind.to_string(),
                        }));
                    }
                    InputItem::Domain(d) => {
                        let name = fqdn(&d.domain);
                        let excluded = shared.cfg.exclusions.excludes_domain(&d.domain);
                        if excluded || name.is_none() {
                            if !error_lines.contains(&d.line) {
                                shared.counters.input_errors.fetch_add(1, Ordering::Relaxed);
                                shared.send(WriterMsg::InputError(InputErrorRow {
                                    input_line: d.line,
                                    raw: d.domain.clone(),
                                    reason: if excluded { "excluded" } else { "bad_name" }.to_owned(),
                                    message: if excluded {
                                        "on the exclusion list: never contacted".to_owned()
                                    } else {
                                        "not a DNS name".to_owned()
                                    },
                                }));
                            }
                            continue;
                        }
                        if let Some(name) = name {
                            dispatched += 1;
                            let sh = Arc::clone(&shared);
                            sh.counters.in_flight.fetch_add(1, Ordering::Relaxed);
                            tasks.spawn(domain_task(sh, d, name, permit, LateRetry::MayPark));
                        }
                    }
                }
            }
            () = async {
                if let Some(due) = next_due {
                    tokio::time::sleep_until(due).await;
                }
            }, if next_due.is_some() && tasks.len() < max_in_flight => {
                let Some(p) = parked.pop_front() else { continue };
                let permit = Arc::clone(&dns_stage).acquire_owned().await.ok();
                let Parked { domain, mx_attempts, .. } = *p;
                shared.counters.parked_now.fetch_sub(1, Ordering::Relaxed);
                if let Some(name) = fqdn(&domain.domain) {
                    let sh = Arc::clone(&shared);
                    sh.counters.in_flight.fetch_add(1, Ordering::Relaxed);
                    sh.counters.retried.fetch_add(1, Ordering::Relaxed);
                    tasks.spawn(domain_task(sh, domain, name, permit, LateRetry::Retry { mx_attempts }));
                }
            }
            Some(joined) = tasks.join_next(), if !tasks.is_empty() => {
                match joined {
                    Ok(Some(p)) => parked.push_back(p),
                    Ok(None) => {}
                    Err(e) => tracing::error!("domain task failed: {e}"),
                }
            }
            _ = tick.tick() => {
                if let Some(p) = &config.progress {
                    p(&report(&shared));
                }
            }
        }
    }
    drop(item_rx);
    let input_end = input_thread
        .join()
        .map_err(|_| CrawlError::Internal("input thread panicked"))?;
    let progress = report(&shared);
    if let Some(p) = &config.progress {
        p(&progress);
    }
    // Parked domains left unretried (a stop) have no row: the shard is not complete.
    let status = if stopped || !parked.is_empty() || input_end.error.is_some() {
        RunStatus::Interrupted
    } else {
        RunStatus::Complete
    };
    let input_info = InputInfo {
        path: config.input_label.clone(),
        sha256: input_end.sha256.clone(),
        lines: input_end.counts.lines,
        domains: input_end.counts.accepted,
        input_errors: input_end.counts.rejected,
    };
    shared.send(WriterMsg::Finish {
        status,
        input: input_info,
    });
    drop(shared);
    let stats = writer.join()?;
    let _ = std::fs::remove_dir_all(&spill_dir);
    if let Some(e) = input_end.error {
        return Err(CrawlError::Input(e));
    }
    Ok(CrawlSummary {
        shard_dir,
        status: match status {
            RunStatus::Complete => "complete",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Running => "running",
        }
        .to_owned(),
        validator_ok,
        progress,
        rows: stats.rows,
        counts: stats.counts,
        input_lines: input_end.counts.lines,
    })
}

async fn txt(sh: &Shared, name: Option<Name>) -> Option<TxtLookup> {
    let name = name?;
    sh.dns_tokens(1).await;
    Some(sh.dns.txt(&name).await)
}

fn txt_lookup(t: &Option<TxtLookup>) -> Lookup {
    t.as_ref().map_or(
        Lookup::Failed(mxcensus_proto::classify::LookupFailure::Other),
        |t| lookup_of(&t.lookup),
    )
}

fn txt_strings(t: &Option<TxtLookup>) -> Vec<String> {
    t.as_ref()
        .map(|t| {
            t.joined()
                .iter()
                .map(|r| String::from_utf8_lossy(r).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn rcode(t: &Option<TxtLookup>) -> (String, bool) {
    t.as_ref().map_or(("invalid_name".to_owned(), false), |t| {
        (
            t.lookup.status().code().to_owned(),
            t.lookup.authentic_data(),
        )
    })
}

struct PolicyOutcome {
    row: PolicyRow,
    class: Option<&'static str>,
    eval: Option<PolicyEvaluation>,
    /// The policy host's address lookup failed transiently (see [`transient`]).
    host_lookup_transient: bool,
}

async fn fetch_policy(sh: &Shared, domain: &str, txt_id: Option<String>) -> PolicyOutcome {
    let host = format!("mta-sts.{domain}");
    let mut row = PolicyRow {
        domain: domain.to_owned(),
        host: host.clone(),
        port: i64::from(sh.cfg.policy.port),
        fetched_at: unix_now(),
        txt_id,
        status: "fetch_failed".to_owned(),
        ..PolicyRow::default()
    };
    let started = Instant::now();
    let Some(name) = fqdn(&host) else {
        row.host_rcode = "invalid_name".to_owned();
        row.failure = Some(CrawlClass::PolicyHostDnsError.code().to_owned());
        row.failures = row.failure.iter().cloned().collect();
        return PolicyOutcome {
            row,
            class: Some(CrawlClass::PolicyHostDnsError.code()),
            eval: None,
            host_lookup_transient: false,
        };
    };
    sh.dns_tokens(2).await;
    let addrs = sh.dns.addresses(&name).await;
    sh.count_dns([&addrs.a, &addrs.aaaa]);
    row.host_rcode = addrs.a.status().code().to_owned();
    let ips = addrs.all();
    row.host_addresses = ips.iter().map(ToString::to_string).collect();
    let dns_failure = match address_lookup_of(&addrs) {
        Lookup::Answer { .. } => None,
        Lookup::NxDomain { .. } => Some(CrawlClass::PolicyHostNxdomain),
        Lookup::NoData { .. } => Some(CrawlClass::PolicyHostNoAddress),
        Lookup::Bogus | Lookup::Failed(_) => Some(CrawlClass::PolicyHostDnsError),
    };
    let allowed: Vec<IpAddr> = ips
        .iter()
        .copied()
        .filter(|ip| !sh.cfg.exclusions.excludes_ip(*ip))
        .collect();
    let early = dns_failure.or((allowed.is_empty()).then_some(CrawlClass::ExcludedAddress));
    if let Some(c) = early {
        row.failure = Some(c.code().to_owned());
        row.failures = vec![c.code().to_owned()];
        row.total_ms = ms(started.elapsed());
        return PolicyOutcome {
            row,
            class: Some(c.code()),
            eval: None,
            host_lookup_transient: transient(&addrs.a) || transient(&addrs.aaaa),
        };
    }
    sh.limits.connect().await;
    sh.counters.policy_fetches.fetch_add(1, Ordering::Relaxed);
    let r = sh.policy.fetch(domain, &allowed).await;
    row.fetched_at = r.started_unix;
    row.address = r.addr.map(|a| a.ip().to_string());
    row.failures = r.failures.iter().map(|f| f.code().to_owned()).collect();
    row.failure = r.failure().map(|f| f.code().to_owned());
    if let Some(resp) = &r.response {
        row.http_status = Some(i64::from(resp.status));
        row.content_type = resp.content_type.clone();
        row.location = resp.location.clone();
    }
    row.body = r.response.as_ref().map(|_| r.body.clone());
    row.body_complete = r.body_complete;
    row.body_sha256 = r.body_sha256.map(|h| tls::hex(&h));
    if let Some(eval) = &r.policy {
        row.findings = eval.findings.iter().map(|f| f.code().to_owned()).collect();
        if let Some(p) = &eval.policy {
            row.mode = Some(p.mode.as_str().to_owned());
            row.max_age = i64::try_from(p.max_age).ok();
            row.mx = p.mx.iter().map(|m| m.to_string()).collect();
        }
    }
    if let Some(t) = &r.tls {
        row.tls_version = t.version.map(|v| format!("{v:?}"));
        row.tls_cipher = t.cipher_suite.map(|c| format!("{c:?}"));
        row.chain_sha256 = t.chain_sha256.iter().map(|h| tls::hex(h)).collect();
    }
    if let Some(c) = &r.cert {
        row.cert_status = Some(c.status.code().to_owned());
        row.cert_failures = crate::facts::cert_failure_codes(c)
            .into_iter()
            .map(str::to_owned)
            .collect();
    }
    row.connect_ms = ms(r.timings.connect);
    row.tls_ms = ms(r.timings.tls);
    row.response_ms = ms(r.timings.response);
    row.body_ms = ms(r.timings.body);
    row.total_ms = ms(r.elapsed);
    let class = r
        .failure()
        .map(|f| f.code())
        .or_else(|| (!r.fetched()).then_some("http_protocol_error"));
    let eval = if class.is_none() { r.policy } else { None };
    row.status = match (&class, &eval) {
        (None, Some(e)) if e.valid => "valid",
        (None, Some(_)) => "invalid",
        _ => "fetch_failed",
    }
    .to_owned();
    PolicyOutcome {
        row,
        class,
        eval,
        host_lookup_transient: false,
    }
}

fn host_encode(h: &Arc<HostDns>) -> Vec<u8> {
    h.encode()
}

fn host_decode(b: &[u8]) -> Option<Arc<HostDns>> {
    HostDns::decode(b).map(Arc::new)
}

async fn host_dns(sh: &Shared, host: &Name) -> Arc<HostDns> {
    let key = name_text(host);
    let cell = match lock(&sh.hosts).find(key.as_bytes()) {
        Found::Ready(h) => return h,
        Found::Cell(c) => c,
    };
    let made = cell
        .get_or_init(|| async {
            sh.dns_tokens(2).await;
            let candidates = sh.dns.dane_candidates(host).await;
            sh.dns_tokens(1).await;
            let discovery = sh.dns.tlsa_discovery(sh.cfg.tlsa_port, &candidates).await;
            sh.count_dns(
                [&candidates.addresses.a, &candidates.addresses.aaaa]
                    .into_iter()
                    .chain(candidates.first_cname.as_ref())
                    .chain(discovery.lookups.iter().map(|l| &l.lookup)),
            );
            let (tlsa, tlsa_index) = tlsa_facts_of(&discovery);
            let dane = dane_target(&discovery, &key);
            let addresses = candidates.addresses.all();
            let tl = tlsa_index.and_then(|j| discovery.lookups.get(j));
            let a = &candidates.addresses;
            let columns = HostColumns {
                address_rcode: a.a.status().code(),
                address_aaaa_rcode: a.aaaa.status().code(),
                address_ad: a.a.authentic_data() && a.aaaa.authentic_data(),
                address_dnssec: a.dnssec().code(),
                address_cname_chain: a
                    .cname_chain()
                    .iter()
                    .map(|l| format!("{} -> {}", name_text(&l.owner), name_text(&l.target)))
                    .collect(),
                dane_candidates: decision_code(candidates.decision),
                tlsa_base: tl.map(|l| name_text(&l.base)),
                tlsa_outcome: tlsa_outcome_code(&discovery.outcome),
                tlsa_rcode: tl.map(|l| l.lookup.status().code()),
                tlsa_ad: tl.map(|l| l.lookup.authentic_data()),
                tlsa_dnssec: tl.map(|l| l.lookup.dnssec.code()),
                tlsa_records: tl
                    .map(|l| l.records.iter().map(ToString::to_string).collect())
                    .unwrap_or_default(),
            };
            let mut addresses = addresses;
            addresses.shrink_to_fit();
            Arc::new(HostDns {
                lookup: address_lookup_of(&candidates.addresses),
                addresses,
                tlsa,
                dane,
                columns,
            })
        })
        .await;
    lock(&sh.hosts).publish(key.as_bytes(), made);
    Arc::clone(made)
}

async fn ip_facts(sh: &Shared, host: &str, hd: &HostDns, ip: IpAddr) -> ProbeFacts {
    let key = probe_key(host, ip);
    let cell = match lock(&sh.ips).find(&key) {
        Found::Ready(f) => {
            sh.counters.smtp_cache_hits.fetch_add(1, Ordering::Relaxed);
            return f;
        }
        Found::Cell(c) => c,
    };
    if cell.initialized() {
        sh.counters.smtp_cache_hits.fetch_add(1, Ordering::Relaxed);
    }
    let facts = cell.get_or_init(|| probe_ip(sh, host, hd, ip)).await;
    lock(&sh.ips).publish(&key, facts);
    facts.clone()
}

async fn probe_ip(sh: &Shared, host: &str, hd: &HostDns, ip: IpAddr) -> ProbeFacts {
    if sh.cfg.exclusions.excludes_ip(ip) {
        let row = excluded_smtp_row(host, ip, sh.cfg.smtp.port, unix_now());
        let facts = probe_facts_of(&row);
        sh.send(WriterMsg::Smtp(Box::new(row)));
        return facts;
    }
    let _slot = sh.smtp_slots.acquire().await;
    let sni = hd
        .dane
        .as_ref()
        .and_then(|(_, names)| names.first().cloned())
        .unwrap_or_else(|| host.to_owned());
    let mut attempts = 0u64;
    let result = loop {
        attempts += 1;
        let gate = sh.gates.acquire(ip).await;
        sh.limits.connect().await;
        sh.counters.smtp_probes.fetch_add(1, Ordering::Relaxed);
        let r = sh.smtp.probe_with_sni(ip, host, &sni).await;
        drop(gate);
        let transient = matches!(
            r.failure,
            Some(SmtpClass::ConnectTimeout | SmtpClass::GreetingTimeout)
        );
        if transient && attempts < 2 {
            // SPEC §I: retry once in another time slot before recording the time-out.
            tokio::time::sleep(sh.cfg.smtp_retry_pause).await;
            continue;
        }
        break r;
    };
    let dane = hd.dane.as_ref().and_then(|(records, names)| {
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        result.verify_dane(records, &refs)
    });
    let row = smtp_row(&result, attempts, hd.dane.is_some(), dane.as_ref());
    let facts = probe_facts_of(&row);
    // Sent before the facts are published, so the row precedes every domain using it.
    sh.send(WriterMsg::Smtp(Box::new(row)));
    facts
}

/// A domain waiting for its late retry: small (no rows, no lookups), so that thousands
/// can wait without weight.
struct Parked {
    domain: InputDomain,
    /// Queries its first MX lookup sent: the retried row's `mx_attempts` counts both passes.
    mx_attempts: u32,
    due: Instant,
}

/// Whether a crawl of a domain may park it for the late retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LateRetry {
    /// `mxcensus check`: the result is written whatever it is.
    Never,
    /// The first pass of a crawl: park on a transient DNS failure if there is room.
    MayPark,
    /// The late retry: written whatever it is; `mx_attempts` of the first pass.
    Retry { mx_attempts: u32 },
}

/// What [`crawl_domain`] produced.
enum Crawled {
    Row(Box<DomainOutput>),
    /// The DNS stage failed transiently: retry later (nothing was written).
    Parked {
        mx_attempts: u32,
    },
}

/// A failure of a lookup worth asking again later: the resolver (or the path to it) was
/// overloaded, not the zone proven broken. A SERVFAIL that the CD=1 re-query shows to be
/// a validation failure is an answer (bogus), not a transient failure.
fn transient(l: &DnsLookup) -> bool {
    match l.status() {
        LookupStatus::Timeout | LookupStatus::NetworkError => true,
        LookupStatus::ServFail => l.dnssec != DnssecStatus::Bogus,
        _ => false,
    }
}

/// Crawls one domain and sends its rows, or hands it back to be parked.
async fn domain_task(
    sh: Arc<Shared>,
    d: InputDomain,
    name: Name,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    late: LateRetry,
) -> Option<Box<Parked>> {
    let crawled = crawl_domain(&sh, &d, name, permit, late).await;
    sh.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    match crawled {
        Crawled::Row(out) => {
            if !out.domain.error_classes.is_empty() {
                sh.counters.domain_errors.fetch_add(1, Ordering::Relaxed);
            }
            sh.send(WriterMsg::Domain(out));
            sh.counters.done.fetch_add(1, Ordering::Relaxed);
            None
        }
        Crawled::Parked { mx_attempts } => {
            sh.counters.parked.fetch_add(1, Ordering::Relaxed);
            Some(Box::new(Parked {
                domain: d,
                mx_attempts,
                due: Instant::now() + sh.cfg.late_retry_delay,
            }))
        }
    }
}

/// Reserves a place among the parked domains, if late retries are on and there is room.
fn reserve_park(sh: &Shared) -> bool {
    let cap = sh.cfg.late_retry_cap as u64;
    !sh.cfg.late_retry_delay.is_zero()
        && sh
            .counters
            .parked_now
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < cap).then_some(n + 1)
            })
            .is_ok()
}

struct HostResult {
    name: String,
    preference: Option<u16>,
    dns: Arc<HostDns>,
    ips: Vec<ProbeFacts>,
}

async fn crawl_domain(
    sh: &Shared,
    d: &InputDomain,
    name: Name,
    dns_stage: Option<tokio::sync::OwnedSemaphorePermit>,
    late: LateRetry,
) -> Crawled {
    let started = Instant::now();
    let crawled_at = unix_now();
    let sts_name = name.prepend_label("_mta-sts").ok();
    let rpt_name = name
        .prepend_label("_tls")
        .and_then(|n| n.prepend_label("_smtp"))
        .ok();
    sh.dns_tokens(1).await;
    // The probes' futures are boxed: inline, the largest of them set the size of every
    // domain task (about 13 KiB, times thousands in flight), whatever stage it is in.
    let (mx, sts, rpt) = tokio::join!(
        Box::pin(sh.dns.mx(&name)),
        Box::pin(txt(sh, sts_name)),
        Box::pin(txt(sh, rpt_name))
    );
    sh.count_dns(
        std::iter::once(&mx.lookup)
            .chain(sts.as_ref().map(|t| &t.lookup))
            .chain(rpt.as_ref().map(|t| &t.lookup)),
    );
    let dns_ms = ms(started.elapsed());
    drop(dns_stage);
    let own_lookups_transient = transient(&mx.lookup)
        || sts.as_ref().is_some_and(|t| transient(&t.lookup))
        || rpt.as_ref().is_some_and(|t| transient(&t.lookup));
    if late == LateRetry::MayPark && own_lookups_transient && reserve_park(sh) {
        return Crawled::Parked {
            mx_attempts: mx.lookup.attempts(),
        };
    }
    let earlier_mx_attempts = match late {
        LateRetry::Retry { mx_attempts } => mx_attempts,
        LateRetry::Never | LateRetry::MayPark => 0,
    };

    let sts_lookup = txt_lookup(&sts);
    let sts_eval: Option<StsTxtEvaluation> = match (&sts, sts_lookup) {
        (Some(t), Lookup::Answer { .. }) => Some(evaluate_sts_records(&t.joined())),
        _ => None,
    };
    let rpt_lookup = txt_lookup(&rpt);
    let rpt_eval: Option<TlsRptEvaluation> = match (&rpt, rpt_lookup) {
        (Some(t), Lookup::Answer { .. }) => Some(evaluate_tlsrpt_records(&t.joined())),
        _ => None,
    };

    // Mail hosts.
    let record = |mx: &mxcensus_probe::dns::MxExchange| MxRecord {
        preference: mx.preference,
        exchange: if mx.exchange.is_root() {
            String::new()
        } else {
            name_text(&mx.exchange)
        },
    };
    let (mx_records, host_list): (Vec<MxRecord>, Vec<(Name, Option<u16>)>) = match &mx.outcome {
        MxOutcome::Exchanges(list) | MxOutcome::NullMxWithOthers(list) => {
            let mut seen = std::collections::HashSet::new();
            let hosts = list
                .iter()
                .filter(|m| !m.exchange.is_root() && seen.insert(name_text(&m.exchange)))
                .map(|m| (m.exchange.clone(), Some(m.preference)))
                .collect();
            (list.iter().map(record).collect(), hosts)
        }
        MxOutcome::NullMx => (
            vec![MxRecord {
                preference: 0,
                exchange: String::new(),
            }],
            vec![],
        ),
        MxOutcome::NoMx | MxOutcome::NxDomain => (vec![], vec![(name.clone(), None)]),
        MxOutcome::Failed => (vec![], vec![]),
    };

    let txt_valid = sts_eval
        .as_ref()
        .is_some_and(|e| e.verdict == StsTxt::Valid);
    let sts_id = sts_eval
        .as_ref()
        .filter(|e| e.verdict == StsTxt::Valid)
        .and_then(|e| e.record.as_ref().map(|r| r.id.clone()));
    let policy_fut = async {
        if txt_valid {
            Some(Box::pin(fetch_policy(sh, &d.domain, sts_id.clone())).await)
        } else {
            None
        }
    };
    let hosts_fut = async {
        let mut out = Vec::with_capacity(host_list.len());
        for (host, preference) in &host_list {
            let hd = Box::pin(host_dns(sh, host)).await;
            let host_name = name_text(host);
            let mut ips = Vec::with_capacity(hd.addresses.len());
            for &ip in &hd.addresses {
                ips.push(Box::pin(ip_facts(sh, &host_name, &hd, ip)).await);
            }
            out.push(HostResult {
                name: host_name,
                preference: *preference,
                dns: hd,
                ips,
            });
        }
        out
    };
    let (policy, hosts) = tokio::join!(policy_fut, hosts_fut);
    // The policy host's address lookup is the domain's own too (`mta-sts.<domain>`, not
    // shared): a transient failure there would turn a valid policy into `fetch_failed`.
    // The MX hosts' probes just made are cached, so the retry does not repeat them.
    if late == LateRetry::MayPark
        && policy.as_ref().is_some_and(|p| p.host_lookup_transient)
        && reserve_park(sh)
    {
        return Crawled::Parked {
            mx_attempts: mx.lookup.attempts(),
        };
    }

    let policy_facts = match &policy {
        None => PolicyFacts::NotFetched,
        Some(p) => match (p.class, &p.eval) {
            (Some(c), _) => PolicyFacts::FetchFailed(c),
            (None, Some(e)) => PolicyFacts::Fetched(e),
            (None, None) => PolicyFacts::FetchFailed("http_protocol_error"),
        },
    };
    let facts = DomainFacts {
        validator_ok: sh.validator_ok,
        mx_lookup: lookup_of(&mx.lookup),
        mx_records: mx_records.clone(),
        sts_txt_lookup: sts_lookup,
        sts_txt: sts_eval.as_ref(),
        policy: policy_facts,
        tlsrpt_lookup: rpt_lookup,
        tlsrpt: rpt_eval.as_ref(),
        hosts: hosts
            .iter()
            .map(|h| HostFacts {
                name: h.name.clone(),
                addresses: h.dns.lookup,
                tlsa: h.dns.tlsa.clone(),
                ips: h.ips.iter().map(|p| p.ip.clone()).collect(),
            })
            .collect(),
    };
    let mut v = classify(&facts);
    // Subcases the classifier does not see: why DANE verification failed on a host that is
    // DANE-usable for this domain, and the certificate classes of a failed policy fetch.
    let mut extra: Vec<String> = Vec::new();
    for (h, hv) in hosts.iter().zip(&v.hosts) {
        if hv.dane_usable && !hv.dane_valid {
            extra.extend(
                h.ips
                    .iter()
                    .filter_map(|p| p.dane_failure)
                    .map(str::to_owned),
            );
        }
    }
    if let Some(p) = policy.as_ref().filter(|p| p.class.is_some()) {
        extra.extend(p.row.cert_failures.iter().cloned());
    }
    if !extra.is_empty() {
        v.error_classes.extend(extra);
        v.error_classes.sort_unstable();
        v.error_classes.dedup();
    }

    // Rows.
    let patterns: Vec<String> = policy
        .as_ref()
        .and_then(|p| p.eval.as_ref())
        .and_then(|e| e.policy.as_ref())
        .map(|p| p.mx.iter().map(|m| m.to_string()).collect())
        .unwrap_or_default();
    let mut mx_rows = Vec::with_capacity(hosts.len());
    for (i, h) in hosts.iter().enumerate() {
        let hv = v.hosts.get(i);
        let mut failures: Vec<String> = h
            .ips
            .iter()
            .flat_map(|f| f.ip.failures.iter().map(|s| (*s).to_owned()))
            .collect();
        failures.sort_unstable();
        failures.dedup();
        mx_rows.push(MxRow {
            domain: d.domain.clone(),
            position: i as u64,
            preference: h.preference.map(i64::from),
            exchange: h.name.clone(),
            covered_by: hv
                .and_then(|hv| hv.covered_by)
                .and_then(|j| patterns.get(j).cloned()),
            reached: hv.is_some_and(|x| x.reached),
            starttls_ok: hv.is_some_and(|x| x.starttls_ok),
            cert_ok: hv.is_some_and(|x| x.cert_ok),
            sts_valid: hv.is_some_and(|x| x.sts_valid),
            dane_usable: hv.is_some_and(|x| x.dane_usable),
            dane_valid: hv.is_some_and(|x| x.dane_valid),
            dane_broken: hv.is_some_and(|x| x.dane_broken),
            ip_failures: failures,
            ..h.dns.mx_row(&h.name)
        });
    }

    let mut findings: Vec<String> = Vec::new();
    if let Some(e) = &sts_eval {
        findings.extend(e.findings.iter().map(|f| f.code().to_owned()));
    }
    if let Some(e) = &rpt_eval {
        findings.extend(e.findings.iter().map(|f| f.code().to_owned()));
    }
    if let Some(e) = policy.as_ref().and_then(|p| p.eval.as_ref()) {
        findings.extend(e.findings.iter().map(|f| f.code().to_owned()));
    }
    findings.sort_unstable();
    findings.dedup();
    let (sts_rcode, sts_ad) = rcode(&sts);
    let (rpt_rcode, rpt_ad) = rcode(&rpt);
    let evidence = DomainEvidence {
        validator_ok: sh.validator_ok,
        mx_rcode: mx.lookup.status().code().to_owned(),
        mx_ad: mx.lookup.authentic_data(),
        mx_dnssec: mx.lookup.dnssec.code().to_owned(),
        mx_records: mx_records
            .iter()
            .map(|r| {
                let ex = if r.exchange.is_empty() {
                    "."
                } else {
                    &r.exchange
                };
                format!("{} {ex}", r.preference)
            })
            .collect(),
        mx_cname_chain: mx
            .lookup
            .cname_chain()
            .iter()
            .map(|l| format!("{} -> {}", name_text(&l.owner), name_text(&l.target)))
            .collect(),
        mx_attempts: u64::from(mx.lookup.attempts()) + u64::from(earlier_mx_attempts),
        sts_txt_rcode: sts_rcode,
        sts_txt_ad: sts_ad,
        sts_txt_records: txt_strings(&sts),
        sts_id,
        tlsrpt_rcode: rpt_rcode,
        tlsrpt_ad: rpt_ad,
        tlsrpt_records: txt_strings(&rpt),
        tlsrpt_rua: rpt_eval
            .as_ref()
            .and_then(|e| e.record.as_ref())
            .map(|r| r.rua.iter().map(|u| u.uri.clone()).collect())
            .unwrap_or_default(),
        policy_host_rcode: policy.as_ref().map(|p| p.row.host_rcode.clone()),
        policy_sha256: policy.as_ref().and_then(|p| p.row.body_sha256.clone()),
        mx_hosts: hosts.iter().map(|h| h.name.clone()).collect(),
        findings,
        dns_ms,
        total_ms: ms(started.elapsed()),
        crawled_at,
    };
    let domain = DomainRow {
        domain: d.domain.clone(),
        rank: d.rank.and_then(|r| i64::try_from(r).ok()),
        input_line: d.line,
        mx_status: v.mx_status.as_str().to_owned(),
        sts_txt: v.sts_txt.as_str().to_owned(),
        sts_policy: v.sts_policy.as_str().to_owned(),
        sts_mode: v.sts_mode.map(|m| m.as_str().to_owned()),
        sts_mx_valid: v.sts_mx_valid.map(|m| m.as_str().to_owned()),
        starttls: v.starttls.map(|m| m.as_str().to_owned()),
        tlsrpt: v.tlsrpt.as_str().to_owned(),
        dnssec: v.dnssec.as_str().to_owned(),
        dane: v.dane.map(|m| m.as_str().to_owned()),
        error_classes: v.error_classes.clone(),
        evidence,
    };
    Crawled::Row(Box::new(DomainOutput {
        domain,
        mx: mx_rows,
        policies: policy.map(|p| vec![p.row]).unwrap_or_default(),
    }))
}

/// One domain checked on its own (`mxcensus check`): the crawl's per-domain path, with
/// the rows it would have written.
#[derive(Debug)]
pub struct DomainCheck {
    /// The resolver passed the canaries (DNSSEC columns can be trusted).
    pub validator_ok: bool,
    /// The canaries asked before the domain.
    pub canaries: Vec<Canary>,
    /// The `domains`, `mx` and `policies` rows.
    pub output: DomainOutput,
    /// The `smtp` rows of the domain's MX addresses.
    pub smtp: Vec<SmtpRow>,
}

/// Checks one domain with the probes and rules of a crawl (canaries first), without
/// writing anything. Exclusions apply as in a crawl.
pub async fn check_domain(config: CrawlConfig, domain: &str) -> Result<DomainCheck, CrawlError> {
    config.validate()?;
    let mut reader = InputReader::new(domain.as_bytes(), InputFormat::Plain, Shard::ALL);
    let d = match reader.next() {
        Some(Ok(InputItem::Domain(d))) => d,
        Some(Ok(InputItem::Reject(r))) => return Err(CrawlError::BadDomain(r.kind.to_string())),
        Some(Err(e)) => return Err(CrawlError::Input(e)),
        None => return Err(CrawlError::BadDomain("empty".to_owned())),
    };
    if config.exclusions.excludes_domain(&d.domain) {
        return Err(CrawlError::BadDomain(format!(
            "{} is on the exclusion list",
            d.domain
        )));
    }
    let name = fqdn(&d.domain).ok_or_else(|| CrawlError::BadDomain(d.domain.clone()))?;
    let probes = Probes::start(&config).await?;
    let canaries = probes.check.as_ref().map(canaries).unwrap_or_default();
    // Room for every SMTP row of one domain: the sender never blocks.
    let (tx, rx) = std::sync::mpsc::sync_channel(1 << 12);
    let hosts = Store::new(1 << 16, None, host_encode, host_decode);
    let ips = Store::new(1 << 16, None, encode_probe, decode_probe);
    let shared = probes.into_shared(config, tx, hosts, ips);
    let validator_ok = shared.validator_ok;
    let output = match crawl_domain(&shared, &d, name, None, LateRetry::Never).await {
        Crawled::Row(out) => *out,
        Crawled::Parked { .. } => return Err(CrawlError::Internal("check parked a domain")),
    };
    drop(shared);
    let smtp = rx
        .try_iter()
        .filter_map(|m| match m {
            WriterMsg::Smtp(row) => Some(*row),
            _ => None,
        })
        .collect();
    Ok(DomainCheck {
        validator_ok,
        canaries,
        output,
        smtp,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(status: LookupStatus, dnssec: DnssecStatus) -> DnsLookup {
        DnsLookup {
            name: Name::from_ascii("example.").unwrap(),
            rtype: hickory_proto::rr::RecordType::MX,
            result: mxcensus_probe::dns::QueryEvidence {
                status,
                rcode: None,
                authentic_data: false,
                answers: Vec::new(),
                cname_chain: Vec::new(),
                cname_loop: false,
                extended_errors: Vec::new(),
                soa_owner: None,
                attempts: 3,
                exchanges: Vec::new(),
                elapsed: Duration::ZERO,
            },
            cd_requery: None,
            dnssec,
            elapsed: Duration::ZERO,
        }
    }

    #[test]
    fn only_overload_failures_are_parked_for_the_late_retry() {
        use DnssecStatus as D;
        use LookupStatus as S;
        assert!(transient(&lookup(S::Timeout, D::Error)));
        assert!(transient(&lookup(S::NetworkError, D::Error)));
        // SERVFAIL also with CD=1: nothing proves the zone broken yet.
        assert!(transient(&lookup(S::ServFail, D::Error)));
        // SERVFAIL with data under CD=1: validation failed, a result.
        assert!(!transient(&lookup(S::ServFail, D::Bogus)));
        for s in [
            S::NoError,
            S::NoData,
            S::NxDomain,
            S::Refused,
            S::FormErr,
            S::Malformed,
            S::InvalidName,
        ] {
            assert!(!transient(&lookup(s, D::Insecure)), "{s:?}");
        }
    }

    fn host() -> HostDns {
        let record = TlsaRecord {
            usage: 3,
            selector: 1,
            matching_type: 1,
            data: vec![0xab; 32],
        };
        HostDns {
            addresses: vec![
                "192.0.2.1".parse().unwrap(),
                "2001:db8::25".parse().unwrap(),
            ],
            lookup: Lookup::Answer { secure: true },
            tlsa: TlsaFacts::Queried {
                lookup: Lookup::Failed(mxcensus_proto::classify::LookupFailure::Timeout),
                records: vec![record.clone()],
            },
            dane: Some((vec![record], vec!["mx.example".to_owned()])),
            columns: HostColumns {
                address_rcode: "noerror",
                address_aaaa_rcode: "nxdomain",
                address_ad: true,
                address_dnssec: "secure",
                address_cname_chain: vec!["a -> b".to_owned()],
                dane_candidates: "original",
                tlsa_base: Some("mx.example".to_owned()),
                tlsa_outcome: "usable",
                tlsa_rcode: None,
                tlsa_ad: Some(false),
                tlsa_dnssec: Some("insecure"),
                tlsa_records: vec!["3 1 1 ab".to_owned()],
            },
        }
    }

    #[test]
    fn host_dns_survives_the_spill() {
        let h = host();
        let back = HostDns::decode(&h.encode()).unwrap();
        assert_eq!(back.addresses, h.addresses);
        assert_eq!(back.lookup, h.lookup);
        assert_eq!(back.tlsa, h.tlsa);
        assert_eq!(back.dane, h.dane);
        assert_eq!(back.mx_row("mx.example"), h.mx_row("mx.example"));
        let bare = HostDns {
            addresses: vec![],
            lookup: Lookup::Bogus,
            tlsa: TlsaFacts::NotQueried,
            dane: None,
            ..host()
        };
        let back = HostDns::decode(&bare.encode()).unwrap();
        assert_eq!(
            (back.lookup, back.tlsa, back.dane),
            (Lookup::Bogus, TlsaFacts::NotQueried, None)
        );
        // Truncated or padded bytes are refused, never misread.
        let bytes = h.encode();
        assert!(HostDns::decode(&bytes[..bytes.len() - 1]).is_none());
        assert!(HostDns::decode(&[bytes.as_slice(), &[0]].concat()).is_none());
    }

    #[test]
    fn probe_facts_survive_the_spill() {
        let f = ProbeFacts {
            ip: IpFacts {
                reached: true,
                starttls: true,
                pkix_valid: false,
                name_valid: true,
                dane_match: Some(false),
                dane_failure: Some("dane_ta_not_in_chain"),
                failures: vec!["cert_expired", "starttls_not_offered"],
            },
            dane_failure: Some("dane_ta_not_in_chain"),
        };
        let back = decode_probe(&encode_probe(&f)).unwrap();
        assert_eq!(back.ip, f.ip);
        assert_eq!(back.dane_failure, f.dane_failure);
        assert!(decode_probe(&[]).is_none());
    }

    #[test]
    fn store_computes_once_then_serves_from_disk_after_eviction() {
        let dir = tempfile::tempdir().unwrap();
        let disk = DiskMap::create(dir.path(), "probes").unwrap();
        let mut store = Store::new(2, Some(disk), encode_probe, decode_probe);
        let facts = |reached| ProbeFacts {
            ip: IpFacts {
                reached,
                ..IpFacts::default()
            },
            dane_failure: None,
        };
        // Two users of one key share one cell until it is published.
        let (Found::Cell(a), Found::Cell(b)) = (store.find(b"k0"), store.find(b"k0")) else {
            panic!("a new key must be computed");
        };
        assert!(Arc::ptr_eq(&a, &b));
        store.publish(b"k0", &facts(true));
        assert!(store.pending.is_empty());
        // Push k0 out of the hot set: it is still found, on disk, never computed again.
        for i in 1..10u8 {
            let key = [b'k', b'0' + i];
            assert!(matches!(store.find(&key), Found::Cell(_)));
            store.publish(&key, &facts(false));
        }
        assert!(store.hot.len() <= 4);
        match store.find(b"k0") {
            Found::Ready(f) => assert!(f.ip.reached),
            Found::Cell(_) => panic!("a published key was computed again"),
        }
        // A second publish of the same key changes nothing.
        store.publish(b"k0", &facts(false));
        match store.find(b"k0") {
            Found::Ready(f) => assert!(f.ip.reached),
            Found::Cell(_) => panic!("a published key was computed again"),
        }
    }
}
