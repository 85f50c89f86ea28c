//! Starting the whole simulated Internet: inputs, servers, resolver, `simnet.json`.
//!
//! [`World::start`] writes into `DIR`:
//! - `domains.csv`: the input list, `rank,domain` (Tranco style, no header);
//! - `truth.parquet`: the ground truth ([`crate::truth`]);
//! - `ca.pem`: the simnet root CA (what clients trust); `root.ds`: the DNSSEC trust anchor;
//! - `smtp.jsonl`, `https.jsonl`: the servers' session logs;
//! - `unbound.conf`, `unbound.log` when Unbound runs;
//! - `simnet.json` last, once every server has answered a probe.
//!
//! Then the servers run until the [`RunningWorld`] is dropped (Unbound is killed then).
//!
//! Address plan (IPv4 loopback, see `population.rs` for the host ranges): Unbound on
//! 127.0.53.1:`resolver`, the authoritative engine on 127.0.53.2:`auth` (UDP and TCP),
//! SMTP on 0.0.0.0:`smtp` and HTTPS on 0.0.0.0:`https` (IPv4 only: `::1` stays a genuine
//! "connection refused"), each listener playing every host by the dialled address.
//!
//! Canaries: every world serves [`CANARY_SECURE`] and [`CANARY_BOGUS`] (see
//! [`crate::zones`]), independent of the population, and names them in `simnet.json`
//! (`canary_secure`, `canary_bogus`). With Unbound, start-up waits until the secure one
//! gives NOERROR with AD and the bogus one SERVFAIL, so the file never announces a
//! resolver that does not validate.
//!
//! Without Unbound the resolver field points at the authoritative engine: answers are
//! right but nothing validates, so there is no AD bit and no SERVFAIL for bogus data;
//! `simnet.json` says so (`resolver_validates: false`).

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::dns::{DnsServer, Engine, ServerConfig};
use crate::https::{HttpsConfig, HttpsServer};
use crate::pki::Pki;
use crate::population::{Population, provider_mx_addr};
use crate::profile::Profile;
use crate::smtp::{SmtpConfig, SmtpServer};
use crate::truth::TruthSummary;
use crate::unbound::{Unbound, find_unbound};
use crate::zones::{AUTH_ADDR, CANARY_BOGUS, CANARY_SECURE, WorldZones};

/// Where Unbound listens.
pub const RESOLVER_ADDR: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 1);

/// Ports of the world's services (0: any free port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Ports {
    /// Unbound's port on 127.0.53.1.
    pub resolver: u16,
    /// The SMTP listener's port.
    pub smtp: u16,
    /// The HTTPS listener's port.
    pub https: u16,
    /// The authoritative engine's port on 127.0.53.2.
    pub auth: u16,
}

impl Ports {
    /// 53/25/443 when running as root (effective uid 0), else 10053/10025/10443; the
    /// authoritative engine on 5300 either way.
    pub fn default_for_user() -> Ports {
        if effective_uid() == Some(0) {
            Ports {
                resolver: 53,
                smtp: 25,
                https: 443,
                auth: 5300,
            }
        } else {
            Ports {
                resolver: 10053,
                smtp: 10025,
                https: 10443,
                auth: 5300,
            }
        }
    }

    /// Any free ports (tests).
    pub fn ephemeral() -> Ports {
        Ports {
            resolver: 0,
            smtp: 0,
            https: 0,
            auth: 0,
        }
    }
}

/// The effective uid from `/proc/self/status` (`Uid: real effective saved fs`).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// Whether to run Unbound.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResolverMode {
    /// Run it when found (`/usr/sbin/unbound`, ..., `PATH`); otherwise go on without.
    Auto,
    /// Run this binary; fail if it does not come up.
    Binary(PathBuf),
    /// Never run it: the resolver is the authoritative engine.
    Off,
}

/// Everything [`World::start`] needs.
#[derive(Clone, Debug)]
pub struct WorldConfig {
    /// Number of domains.
    pub n: u32,
    /// The seed.
    pub seed: u64,
    /// The profile.
    pub profile: Profile,
    /// The epoch (0: the base world; E > 0: a few documented changes on top of it, see
    /// [`crate::epoch`]).
    pub epoch: u32,
    /// Output and state directory.
    pub dir: PathBuf,
    /// Ports.
    pub ports: Ports,
    /// Unbound or not.
    pub resolver: ResolverMode,
    /// Longest wait for everything to answer.
    pub ready_timeout: Duration,
}

impl WorldConfig {
    /// Defaults: the user's default ports, Unbound when installed, 60 s to come up.
    pub fn new(n: u32, seed: u64, dir: PathBuf) -> WorldConfig {
        WorldConfig {
            n,
            seed,
            profile: Profile::default(),
            epoch: 0,
            dir,
            ports: Ports::default_for_user(),
            resolver: ResolverMode::Auto,
            ready_timeout: Duration::from_secs(60),
        }
    }
}

/// What a running world publishes in `DIR/simnet.json`.
#[derive(Clone, Debug, Serialize)]
pub struct SimnetInfo {
    /// `ip:port` of the resolver clients should use.
    pub resolver: String,
    /// Whether that resolver validates DNSSEC (Unbound with the trust anchor).
    pub resolver_validates: bool,
    /// How DNSSEC is handled, in words.
    pub dnssec: String,
    /// PEM file of the CA that issued every trusted certificate.
    pub ca_cert: PathBuf,
    /// The root DS trust anchor file.
    pub trust_anchor: PathBuf,
    /// SMTP port (every MX address).
    pub smtp_port: u16,
    /// HTTPS port (every policy host address).
    pub https_port: u16,
    /// Input list (`rank,domain`).
    pub domains: PathBuf,
    /// Ground truth Parquet.
    pub truth: PathBuf,
    /// A name (ask for type A) in a signed zone with a matching DS: a validating resolver
    /// answers NOERROR with AD. Present in every world, outside the population.
    pub canary_secure: String,
    /// A name (ask for type A) in a signed zone whose parent's DS matches no key: a
    /// validating resolver answers SERVFAIL, and the data with CD. Outside the population.
    pub canary_bogus: String,
    /// The authoritative engine (`ip:port`).
    pub auth_dns: String,
    /// SMTP session log (JSON lines).
    pub smtp_log: PathBuf,
    /// HTTPS request log (JSON lines).
    pub https_log: PathBuf,
    /// Unbound's log, when it runs.
    pub unbound_log: Option<PathBuf>,
    /// Unbound's pid, when it runs.
    pub unbound_pid: Option<u32>,
    /// The seed.
    pub seed: u64,
    /// Number of domains.
    pub n: u32,
    /// The epoch (0: the base world; see [`crate::epoch`]); the truth's `changes` column
    /// and `truth_counts.changes` list what it changed.
    pub epoch: u32,
    /// SHA-256 of the profile's canonical form.
    pub profile_sha256: String,
    /// This process.
    pub pid: u32,
    /// Seconds from start to ready.
    pub startup_seconds: f64,
    /// Unix time when ready.
    pub ready_unix: u64,
    /// How many rows of the truth table carry each headline value and planted tag.
    pub truth_counts: TruthSummary,
}

/// Why the world could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorldError {
    /// A file or socket operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// The population could not be built.
    #[error(transparent)]
    Population(#[from] crate::population::PopulationError),
    /// The profile is invalid.
    #[error(transparent)]
    Profile(#[from] crate::profile::ProfileError),
    /// The PKI could not be built.
    #[error(transparent)]
    Pki(#[from] crate::pki::PkiError),
    /// The truth table could not be written.
    #[error(transparent)]
    Truth(#[from] crate::truth::TruthError),
    /// Unbound exited during start-up.
    #[error("unbound exited ({status}); log tail:\n{log}")]
    UnboundExited {
        /// Its exit status.
        status: String,
        /// The end of its log.
        log: String,
    },
    /// A canary did not give the answer a validating resolver gives.
    #[error("canary {name} through unbound: {got}, expected {expected}")]
    Canary {
        /// The canary name.
        name: &'static str,
        /// What the resolver said.
        got: String,
        /// What it should have said.
        expected: &'static str,
    },
    /// A service did not answer in time.
    #[error("{service} did not answer within {seconds} s")]
    NotReady {
        /// Which service.
        service: &'static str,
        /// The wait.
        seconds: u64,
    },
    /// A background task failed.
    #[error("background task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> WorldError {
    let what = what.into();
    move |source| WorldError::Io { what, source }
}

/// The running world; dropping it stops every server and kills Unbound.
pub struct RunningWorld {
    info: SimnetInfo,
    zones: Arc<WorldZones>,
    // Field order is drop order: the resolver goes first.
    unbound: Option<Unbound>,
    _dns: DnsServer,
    smtp: SmtpServer,
    https: HttpsServer,
}

impl std::fmt::Debug for RunningWorld {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningWorld")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

impl RunningWorld {
    /// What `simnet.json` says.
    pub fn info(&self) -> &SimnetInfo {
        &self.info
    }

    /// The world's zones and population.
    pub fn zones(&self) -> &Arc<WorldZones> {
        &self.zones
    }

    /// The population.
    pub fn population(&self) -> &Population {
        self.zones.population()
    }

    /// The SMTP server (its log proves what clients sent).
    pub fn smtp(&self) -> &SmtpServer {
        &self.smtp
    }

    /// The HTTPS server.
    pub fn https(&self) -> &HttpsServer {
        &self.https
    }

    /// Whether Unbound is still running (always false without it).
    pub fn unbound_running(&mut self) -> bool {
        self.unbound.as_mut().is_some_and(|u| u.exited().is_none())
    }

    /// Stops everything (same as dropping).
    pub fn stop(mut self) {
        if let Some(mut u) = self.unbound.take() {
            u.stop();
        }
    }
}

/// Entry point.
#[derive(Debug)]
pub struct World;

impl World {
    /// Writes the inputs, starts the DNS engine, SMTP, HTTPS and (when configured and
    /// found) Unbound, waits until each answers, writes `DIR/simnet.json` and prints
    /// `simnet ready: ...` on stderr. Needs a tokio runtime (multi-threaded).
    pub async fn start(config: WorldConfig) -> Result<RunningWorld, WorldError> {
        let started = Instant::now();
        config.profile.validate()?;
        let dir = config.dir.clone();
        std::fs::create_dir_all(&dir).map_err(io(format!("create {}", dir.display())))?;
        let dir = std::fs::canonicalize(&dir).map_err(io(format!("resolve {}", dir.display())))?;
        // A stale simnet.json would announce a world that is not up yet.
        let json_path = dir.join("simnet.json");
        match std::fs::remove_file(&json_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(io("remove old simnet.json")(e));
            }
            _ => {}
        }
        let profile_sha256 = config.profile.fingerprint();
        let pop = Arc::new(
            Population::new(config.seed, config.n, config.profile)?.with_epoch(config.epoch),
        );
        let pki = Arc::new(Pki::new(config.seed)?);
        let zones = Arc::new(WorldZones::new(pop.clone(), pki.clone()));

        // Inputs that take a while at 1M are written while the servers come up.
        let domains_path = dir.join("domains.csv");
        let truth_path = dir.join("truth.parquet");
        let writer = {
            let pop = pop.clone();
            let domains_path = domains_path.clone();
            let truth_path = truth_path.clone();
            tokio::task::spawn_blocking(move || -> Result<TruthSummary, WorldError> {
                let file = std::fs::File::create(&domains_path)
                    .map_err(io(format!("create {}", domains_path.display())))?;
                pop.write_input_csv(file)
                    .map_err(io(format!("write {}", domains_path.display())))?;
                Ok(crate::truth::write_parquet(&pop, &truth_path)?)
            })
        };

        let ca_path = dir.join("ca.pem");
        std::fs::write(&ca_path, pki.ca_pem()).map_err(io("write ca.pem"))?;
        let anchor_path = dir.join("root.ds");
        std::fs::write(&anchor_path, zones.root_ds_line()).map_err(io("write root.ds"))?;

        let engine = Arc::new(Engine::new(zones.clone()));
        let dns = DnsServer::start(
            SocketAddr::V4(SocketAddrV4::new(AUTH_ADDR, config.ports.auth)),
            engine,
            ServerConfig::default(),
        )
        .await
        .map_err(io(format!("bind DNS on {AUTH_ADDR}:{}", config.ports.auth)))?;
        let auth = dns.local_addr();

        let smtp_log = dir.join("smtp.jsonl");
        let mut smtp_config = SmtpConfig::new(SocketAddr::from(([0, 0, 0, 0], config.ports.smtp)));
        smtp_config.log_file = Some(smtp_log.clone());
        let smtp = SmtpServer::start(smtp_config, zones.clone(), pki.clone())
            .await
            .map_err(io(format!("bind SMTP on port {}", config.ports.smtp)))?;
        let smtp_port = smtp.local_addr().port();

        let https_log = dir.join("https.jsonl");
        let mut https_config =
            HttpsConfig::new(SocketAddr::from(([0, 0, 0, 0], config.ports.https)));
        https_config.log_file = Some(https_log.clone());
        let https = HttpsServer::start(https_config, zones.clone(), pki.clone())
            .await
            .map_err(io(format!("bind HTTPS on port {}", config.ports.https)))?;
        let https_port = https.local_addr().port();

        let binary = match &config.resolver {
            ResolverMode::Off => None,
            ResolverMode::Auto => find_unbound(),
            ResolverMode::Binary(p) => Some(p.clone()),
        };
        let mut unbound = match binary {
            Some(bin) => {
                let port = match config.ports.resolver {
                    0 => free_udp_port(RESOLVER_ADDR)?,
                    p => p,
                };
                let listen = SocketAddr::V4(SocketAddrV4::new(RESOLVER_ADDR, port));
                let mut stubs = pop.served_suffixes();
                stubs.extend(pop.failing_zones());
                Some(
                    Unbound::spawn(&bin, &dir, listen, auth, &stubs)
                        .map_err(io(format!("start {}", bin.display())))?,
                )
            }
            None => None,
        };

        let deadline = Instant::now() + config.ready_timeout;
        let seconds = config.ready_timeout.as_secs();
        wait_until("authoritative DNS", deadline, seconds, || {
            dns_probe(auth).is_ok_and(|r| r.rcode == 0)
        })
        .await?;
        wait_tcp(
            "SMTP",
            provider_mx_addr(0, 0),
            smtp_port,
            deadline,
            seconds,
            true,
        )
        .await?;
        wait_tcp(
            "HTTPS",
            Ipv4Addr::new(127, 2, 0, 0),
            https_port,
            deadline,
            seconds,
            false,
        )
        .await?;
        if let Some(u) = unbound.as_mut() {
            let listen = u.listen();
            loop {
                if let Some(status) = u.exited() {
                    return Err(WorldError::UnboundExited {
                        status: status.to_string(),
                        log: u.log_tail(4000),
                    });
                }
                // The root SOA with AD proves Unbound reaches the engine and validates.
                if dns_probe(listen).is_ok_and(|r| r.rcode == 0 && r.ad) {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(WorldError::NotReady {
                        service: "unbound",
                        seconds,
                    });
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            check_canaries(listen)?;
        }
        let truth_counts = writer.await??;

        let (resolver, validates, dnssec) = match &unbound {
            Some(u) => (
                u.listen().to_string(),
                true,
                "validating: Unbound with the simnet root trust anchor (AD for secure, \
                 SERVFAIL for bogus)"
                    .to_owned(),
            ),
            None => (
                auth.to_string(),
                false,
                "not validated: Unbound is not running, so the resolver is the authoritative \
                 engine itself (no AD bit, bogus data is served as is); validate against \
                 trust_anchor yourself or install unbound"
                    .to_owned(),
            ),
        };
        let info = SimnetInfo {
            resolver,
            resolver_validates: validates,
            dnssec,
            ca_cert: ca_path,
            trust_anchor: anchor_path,
            smtp_port,
            https_port,
            domains: domains_path,
            truth: truth_path,
            canary_secure: CANARY_SECURE.to_owned(),
            canary_bogus: CANARY_BOGUS.to_owned(),
            auth_dns: auth.to_string(),
            smtp_log,
            https_log,
            unbound_log: unbound.as_ref().map(|u| u.log_path().to_owned()),
            unbound_pid: unbound.as_ref().map(Unbound::pid),
            seed: pop.seed(),
            n: pop.len(),
            epoch: pop.epoch(),
            profile_sha256,
            pid: std::process::id(),
            startup_seconds: started.elapsed().as_secs_f64(),
            ready_unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            truth_counts,
        };
        write_json(&json_path, &info)?;
        if !validates {
            eprintln!(
                "simnet: WARNING: unbound not running: DNSSEC validation is unavailable; the \
                 resolver in simnet.json ({}) is the authoritative engine (non-validating)",
                info.resolver
            );
        }
        eprintln!(
            "simnet ready: {} domains (seed {}), resolver {}{}, SMTP port {}, HTTPS port {}, \
             {} written in {:.1} s",
            info.n,
            info.seed,
            info.resolver,
            if validates {
                " (validating)"
            } else {
                " (NOT validating)"
            },
            info.smtp_port,
            info.https_port,
            json_path.display(),
            info.startup_seconds
        );
        Ok(RunningWorld {
            info,
            zones,
            unbound,
            _dns: dns,
            smtp,
            https,
        })
    }
}

fn write_json(path: &Path, info: &SimnetInfo) -> Result<(), WorldError> {
    let tmp = path.with_extension("json.partial");
    let text = serde_json::to_string_pretty(info)
        .map_err(|e| io("encode simnet.json")(std::io::Error::other(e)))?;
    std::fs::write(&tmp, text + "\n").map_err(io("write simnet.json"))?;
    std::fs::rename(&tmp, path).map_err(io("rename simnet.json"))
}

fn free_udp_port(ip: Ipv4Addr) -> Result<u16, WorldError> {
    let sock = UdpSocket::bind((ip, 0)).map_err(io(format!("find a free port on {ip}")))?;
    sock.local_addr()
        .map(|a| a.port())
        .map_err(io("read a free port"))
}

async fn wait_until(
    service: &'static str,
    deadline: Instant,
    seconds: u64,
    mut probe: impl FnMut() -> bool,
) -> Result<(), WorldError> {
    loop {
        if probe() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(WorldError::NotReady { service, seconds });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_tcp(
    service: &'static str,
    ip: Ipv4Addr,
    port: u16,
    deadline: Instant,
    seconds: u64,
    expect_greeting: bool,
) -> Result<(), WorldError> {
    use tokio::io::AsyncReadExt;
    loop {
        let attempt = async {
            let mut s = tokio::net::TcpStream::connect((ip, port)).await.ok()?;
            if expect_greeting {
                let mut buf = [0u8; 4];
                s.read_exact(&mut buf).await.ok()?;
                (&buf[..3] == b"220").then_some(())
            } else {
                Some(())
            }
        };
        if let Ok(Some(())) = tokio::time::timeout(Duration::from_secs(5), attempt).await {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(WorldError::NotReady { service, seconds });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The outcome of one probe query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeReply {
    /// RCODE.
    pub rcode: u8,
    /// The AD bit.
    pub ad: bool,
}

/// Proves the resolver at `listen` validates: the secure canary gives NOERROR with AD, the
/// bogus one SERVFAIL (each asked up to three times: the first query may time out while
/// Unbound fetches the chain of keys).
fn check_canaries(listen: SocketAddr) -> Result<(), WorldError> {
    const A: u16 = 1;
    let ask = |name: &str| {
        let mut last = Err(std::io::Error::from(std::io::ErrorKind::TimedOut));
        for _ in 0..3 {
            last = dns_query(listen, name, A, false);
            if last.is_ok() {
                break;
            }
        }
        last
    };
    let show = |r: &std::io::Result<ProbeReply>| match r {
        Ok(r) => format!("rcode {} ad {}", r.rcode, r.ad),
        Err(e) => e.to_string(),
    };
    let secure = ask(CANARY_SECURE);
    if !matches!(secure, Ok(ProbeReply { rcode: 0, ad: true })) {
        return Err(WorldError::Canary {
            name: CANARY_SECURE,
            got: show(&secure),
            expected: "NOERROR with AD",
        });
    }
    let bogus = ask(CANARY_BOGUS);
    if !matches!(bogus, Ok(ProbeReply { rcode: 2, .. })) {
        return Err(WorldError::Canary {
            name: CANARY_BOGUS,
            got: show(&bogus),
            expected: "SERVFAIL",
        });
    }
    Ok(())
}

/// Asks `server` for `. SOA` over UDP with RD, AD and DO set (1 s timeout).
pub fn dns_probe(server: SocketAddr) -> std::io::Result<ProbeReply> {
    dns_query(server, ".", 6, false)
}

/// Asks `server` for `name` (presentation form, ASCII) of type `qtype` over UDP with RD, AD
/// and DO set, and CD when `cd` (1 s timeout).
pub fn dns_query(
    server: SocketAddr,
    name: &str,
    qtype: u16,
    cd: bool,
) -> std::io::Result<ProbeReply> {
    let mut qname = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|&l| l < 64)
            .ok_or_else(|| std::io::Error::other(format!("label too long in {name:?}")))?;
        qname.push(len);
        qname.extend_from_slice(label.as_bytes());
    }
    qname.push(0);
    let bind: SocketAddr = if server.is_ipv4() {
        SocketAddr::from(([127, 0, 0, 1], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let sock = UdpSocket::bind(bind)?;
    sock.set_read_timeout(Some(Duration::from_secs(1)))?;
    let id: u16 = (std::process::id() as u16) ^ 0x5a5a;
    let mut q = Vec::with_capacity(32);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, if cd { 0x30 } else { 0x20 }]); // RD, AD (, CD)
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]); // QD=1, AR=1 (OPT)
    q.extend_from_slice(&qname);
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]); // IN
    q.extend_from_slice(&[0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0, 0, 0]); // OPT 1232, DO
    sock.send_to(&q, server)?;
    let mut buf = [0u8; 4096];
    loop {
        let (len, from) = sock.recv_from(&mut buf)?;
        if from != server || len < 12 || buf[..2] != id.to_be_bytes() {
            continue;
        }
        return Ok(ProbeReply {
            rcode: buf[3] & 0x0f,
            ad: buf[3] & 0x20 != 0,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_is_read_from_proc() {
        assert!(effective_uid().is_some());
        let ports = Ports::default_for_user();
        assert_eq!(ports.auth, 5300);
        if effective_uid() == Some(0) {
            assert_eq!((ports.resolver, ports.smtp, ports.https), (53, 25, 443));
        } else {
            assert_eq!(
                (ports.resolver, ports.smtp, ports.https),
                (10053, 10025, 10443)
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn small_world_starts_without_unbound() {
        let dir = std::env::temp_dir().join(format!("simnet-world-{}", std::process::id()));
        let mut config = WorldConfig::new(200, 5, dir.clone());
        config.ports = Ports::ephemeral();
        config.resolver = ResolverMode::Off;
        let world = World::start(config).await.unwrap();
        let info = world.info().clone();
        assert!(!info.resolver_validates);
        assert_eq!(info.resolver, info.auth_dns);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("simnet.json")).unwrap())
                .unwrap();
        for key in [
            "resolver",
            "ca_cert",
            "trust_anchor",
            "smtp_port",
            "https_port",
            "domains",
            "truth",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["canary_secure"], crate::zones::CANARY_SECURE);
        assert_eq!(json["canary_bogus"], crate::zones::CANARY_BOGUS);
        // Without a validating resolver the canaries still resolve, AD-less, as data.
        let auth: SocketAddr = info.auth_dns.parse().unwrap();
        for name in [&info.canary_secure, &info.canary_bogus] {
            let reply = dns_query(auth, name, 1, false).unwrap();
            assert_eq!(
                reply,
                ProbeReply {
                    rcode: 0,
                    ad: false
                },
                "{name}"
            );
        }
        let csv = std::fs::read_to_string(&info.domains).unwrap();
        assert_eq!(csv.lines().count(), 200);
        let reply = dns_probe(info.auth_dns.parse().unwrap()).unwrap();
        assert_eq!(reply.rcode, 0);
        world.stop();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
