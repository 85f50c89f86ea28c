//! One SMTP listener that plays every MX host of the simulated world.
//!
//! The listener binds `0.0.0.0:<port>` (IPv4 only, so `::1` stays a genuine "connection
//! refused"). Each accepted socket's destination address (`getsockname`) names the host it
//! plays, looked up through [`SmtpDirectory`], which WORLD implements. The host's
//! [`SmtpBehavior`] plants one of SPEC.md §I's failure classes; its [`CertSpec`] decides
//! the certificate served after STARTTLS.
//!
//! Every connection is logged ([`SmtpSession`]): addresses, times, SNI, every command
//! line (capped), and the commands a polite prober must never send (MAIL, RCPT, DATA,
//! BDAT, VRFY, EXPN) as violations; per local address, the most simultaneous
//! connections seen. The log lives in memory ([`SmtpServer::log`]) and, if configured, is
//! appended as JSON lines to a file that another process can read.
//!
//! Bounds: lines are capped at [`MAX_LINE`] octets (RFC 5321 §4.5.3.1.4 allows 512), the
//! number of open connections and of commands per session is capped, and every read and
//! write has the idle timeout.

pub(crate) mod legacy_tls;
pub(crate) mod record_log;

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout};
use tokio_rustls::LazyConfigAcceptor;

pub use legacy_tls::LegacyError;

use crate::pki::{CertSpec, Pki};
use record_log::RecordLog;

/// Longest command line read, CRLF included: RFC 5321's 512 octets plus slack for
/// extensions (§4.5.3.1.4 allows servers to accept longer lines). Longer lines get `500`.
pub const MAX_LINE: usize = 1024;
/// Longest command line kept in the log (octets).
pub const MAX_LOGGED_LINE: usize = 512;

/// Commands a prober must never send (SPEC.md §I step 8).
const VIOLATION_VERBS: [&str; 6] = ["MAIL", "RCPT", "DATA", "BDAT", "VRFY", "EXPN"];

/// How an MX host behaves; each variant plants one SMTP failure class of SPEC.md §I.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpBehavior {
    /// `220` greeting, STARTTLS advertised in EHLO, `220` to STARTTLS, then TLS.
    Normal,
    /// EHLO does not list STARTTLS; the command answers `502` (`no_starttls`).
    NoStarttls,
    /// STARTTLS advertised but answered `454 4.7.0` (`starttls_454`).
    Starttls454,
    /// STARTTLS advertised but answered with `code` (e.g. 501; `starttls_other`).
    /// Meant for 4xx/5xx codes.
    StarttlsRejected {
        /// The reply code sent.
        code: u16,
    },
    /// `554` greeting; then `503` to every command until QUIT, `221` to QUIT
    /// (RFC 5321 §3.1; `greeting_554`).
    Greeting554,
    /// `421` greeting, then the connection is closed (RFC 5321 §4.2.3; `greeting_421`).
    Greeting421,
    /// Normal host whose `220` greeting comes after `delay`; input during the delay is
    /// recorded as early talk (as Postfix postscreen's pregreet test would).
    SlowGreeting {
        /// How long before the greeting.
        delay: Duration,
    },
    /// Accepts and never greets; holds the connection for the configured tarpit time
    /// (`greeting_timeout`).
    Tarpit,
    /// Normal host whose greeting spans several `220-` lines.
    MultilineGreeting,
    /// EHLO answered `502`, HELO accepted; no extensions, so no STARTTLS
    /// (`ehlo_rejected`).
    EhloRejected,
    /// STARTTLS advertised and answered `220`, but the TLS layer only speaks TLS 1.0: the
    /// ServerHello says 3.1, which TLS 1.2+ clients refuse (`tls_legacy_only`).
    Tls10Only,
    /// The connection is reset (RST) right after accept.
    ResetAfterAccept,
}

impl SmtpBehavior {
    fn advertises_starttls(&self) -> bool {
        !matches!(
            self,
            Self::NoStarttls | Self::EhloRejected | Self::Greeting554 | Self::Greeting421
        )
    }
}

/// The MX host an address plays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpHost {
    /// Host name used in the greeting and EHLO reply (normally the MX name).
    pub name: String,
    /// How the host behaves.
    pub behavior: SmtpBehavior,
    /// The certificate served after STARTTLS.
    pub cert: CertSpec,
}

/// Maps the address a client dialled to the MX host it reaches. WORLD implements it.
pub trait SmtpDirectory: Send + Sync + 'static {
    /// The host at `local`, or `None` if no MX lives there (the connection is closed
    /// without a greeting).
    fn host(&self, local: Ipv4Addr) -> Option<SmtpHost>;
}

impl<F> SmtpDirectory for F
where
    F: Fn(Ipv4Addr) -> Option<SmtpHost> + Send + Sync + 'static,
{
    fn host(&self, local: Ipv4Addr) -> Option<SmtpHost> {
        self(local)
    }
}

/// Listener settings.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// Address to bind; `0.0.0.0:<port>` so every 127.x address reaches it.
    pub bind: SocketAddr,
    /// File the session log is appended to (JSON lines), if any.
    pub log_file: Option<PathBuf>,
    /// Most connections open at once; beyond it clients get `421` and a close.
    pub max_connections: usize,
    /// Longest wait for a client's next line or for a write to drain.
    pub idle_timeout: Duration,
    /// How long a [`SmtpBehavior::Tarpit`] host holds a connection.
    pub tarpit_hold: Duration,
    /// Most commands answered per session before `421` and a close.
    pub max_commands: usize,
    /// Most command lines kept per session record.
    pub max_logged_commands: usize,
    /// Most session records kept in memory (newest kept; the file gets all).
    pub max_sessions_in_memory: usize,
}

impl SmtpConfig {
    /// Defaults for a listener on `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            log_file: None,
            max_connections: 8192,
            idle_timeout: Duration::from_secs(60),
            tarpit_hold: Duration::from_secs(300),
            max_commands: 100,
            max_logged_commands: 64,
            max_sessions_in_memory: 100_000,
        }
    }
}

/// How a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionEnd {
    /// The client sent QUIT and got `221`.
    Quit,
    /// The client closed the connection.
    PeerClosed,
    /// No line from the client within the idle timeout.
    IdleTimeout,
    /// A tarpit host held the connection for its full time.
    TarpitExpired,
    /// The server closed after a `421` (greeting, too many commands).
    ClosedByServer,
    /// The server reset the connection ([`SmtpBehavior::ResetAfterAccept`]).
    Reset,
    /// The connection limit was reached; the client got `421`.
    TooManyConnections,
    /// No host is configured at the dialled address; closed without a greeting.
    UnknownHost,
    /// The TLS handshake failed.
    TlsFailed,
    /// The TLS 1.0-only exchange ran (it always ends the connection).
    LegacyTls,
    /// A read or write failed.
    IoError,
}

/// One connection as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpSession {
    /// Sequence number (per server).
    pub id: u64,
    /// The address the client dialled.
    pub local: SocketAddr,
    /// The client's address.
    pub peer: SocketAddr,
    /// Name of the host played, if one lives at `local`.
    pub host: Option<String>,
    /// Its behaviour.
    pub behavior: Option<SmtpBehavior>,
    /// Accept time, Unix milliseconds.
    pub started_ms: u64,
    /// Close time, Unix milliseconds.
    pub ended_ms: u64,
    /// Connections open to `local` when this one was accepted, this one included.
    pub concurrent: usize,
    /// The client sent data before the (delayed) greeting.
    pub early_talker: bool,
    /// SNI from the TLS ClientHello, if one was received.
    pub sni: Option<String>,
    /// Negotiated TLS version (e.g. `TLSv1_3`) if the handshake completed.
    pub tls_version: Option<String>,
    /// Alert the client sent to the TLS 1.0-only server (70 = protocol_version).
    pub legacy_client_alert: Option<u8>,
    /// Why the TLS 1.0-only exchange stopped early, if it did.
    pub legacy_error: Option<LegacyError>,
    /// The client sent bytes after its STARTTLS line, before the handshake (discarded,
    /// RFC 3207 §4.2; a command-injection risk on a real server).
    pub pipelined_after_starttls: bool,
    /// Command lines as received (lossy UTF-8, each capped at [`MAX_LOGGED_LINE`]).
    pub commands: Vec<String>,
    /// How many of `commands` were received before TLS started (`None`: no TLS).
    pub commands_before_tls: Option<usize>,
    /// More commands arrived than were kept.
    pub commands_truncated: bool,
    /// Verbs of forbidden commands (MAIL, RCPT, DATA, BDAT, VRFY, EXPN), in order.
    pub violations: Vec<String>,
    /// How the session ended.
    pub end: SessionEnd,
}

/// A copy of the server's log.
#[derive(Clone, Debug, Default)]
pub struct SmtpLogSnapshot {
    /// Finished sessions still held in memory, oldest first.
    pub sessions: Vec<SmtpSession>,
    /// Sessions finished since start (including ones no longer in memory).
    pub total_sessions: u64,
    /// Sessions dropped from memory to respect the bound.
    pub evicted_sessions: u64,
    /// Records that could not be written to the log file.
    pub file_errors: u64,
    /// Per dialled address, the most simultaneous connections seen. The server keeps one
    /// small entry per address ever dialled (never evicted, so the maximum is exact): a few
    /// tens of MiB at a million addresses.
    pub max_concurrent: HashMap<Ipv4Addr, usize>,
}

impl SmtpLogSnapshot {
    /// Every violation as `(session, verb)`.
    pub fn violations(&self) -> impl Iterator<Item = (&SmtpSession, &str)> {
        self.sessions
            .iter()
            .flat_map(|s| s.violations.iter().map(move |v| (s, v.as_str())))
    }

    /// Most simultaneous connections seen to `addr` (0 if never contacted).
    pub fn max_concurrent_to(&self, addr: Ipv4Addr) -> usize {
        self.max_concurrent.get(&addr).copied().unwrap_or(0)
    }
}

/// A running SMTP listener. Dropping it stops accepting; open sessions run to their end.
pub struct SmtpServer {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: SmtpConfig,
    directory: Arc<dyn SmtpDirectory>,
    pki: Arc<Pki>,
    log: RecordLog<SmtpSession>,
    counts: Mutex<HashMap<Ipv4Addr, AddrCount>>,
    open: AtomicUsize,
    next_id: AtomicU64,
}

#[derive(Clone, Copy, Default)]
struct AddrCount {
    current: usize,
    max: usize,
}

impl Shared {
    fn counts(&self) -> MutexGuard<'_, HashMap<Ipv4Addr, AddrCount>> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Decrements the open-connection counters when a session ends, however it ends.
struct OpenGuard {
    shared: Arc<Shared>,
    local: Option<Ipv4Addr>,
}

impl OpenGuard {
    /// Counts the new connection; returns the guard and the number now open to `local`.
    fn enter(shared: &Arc<Shared>, local: Option<Ipv4Addr>) -> (Self, usize) {
        shared.open.fetch_add(1, Ordering::SeqCst);
        let mut concurrent = 0;
        if let Some(addr) = local {
            let mut counts = shared.counts();
            let entry = counts.entry(addr).or_default();
            entry.current += 1;
            entry.max = entry.max.max(entry.current);
            concurrent = entry.current;
        }
        let guard = Self {
            shared: shared.clone(),
            local,
        };
        (guard, concurrent)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.shared.open.fetch_sub(1, Ordering::SeqCst);
        if let Some(addr) = self.local
            && let Some(entry) = self.shared.counts().get_mut(&addr)
        {
            entry.current = entry.current.saturating_sub(1);
        }
    }
}

impl SmtpServer {
    /// Binds the listener and starts accepting.
    pub async fn start(
        config: SmtpConfig,
        directory: Arc<dyn SmtpDirectory>,
        pki: Arc<Pki>,
    ) -> io::Result<Self> {
        let listener = bind_listener(config.bind)?;
        let local_addr = listener.local_addr()?;
        let log = RecordLog::new(config.max_sessions_in_memory, config.log_file.as_deref())?;
        let shared = Arc::new(Shared {
            config,
            directory,
            pki,
            log,
            counts: Mutex::new(HashMap::new()),
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
        });
        let accept_task = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(Self {
            local_addr,
            shared,
            accept_task,
        })
    }

    /// The bound address (the port is what clients dial on every 127.x address).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Connections open right now.
    pub fn open_connections(&self) -> usize {
        self.shared.open.load(Ordering::SeqCst)
    }

    /// A copy of the log: finished sessions and per-address concurrency maxima.
    pub fn log(&self) -> SmtpLogSnapshot {
        let snap = self.shared.log.snapshot();
        let max_concurrent = self
            .shared
            .counts()
            .iter()
            .map(|(addr, count)| (*addr, count.max))
            .collect();
        SmtpLogSnapshot {
            sessions: snap.records,
            total_sessions: snap.total,
            evicted_sessions: snap.evicted,
            file_errors: snap.file_errors,
            max_concurrent,
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// Binds an IPv4 (or IPv6) listener with SO_REUSEADDR so a restart can rebind at once.
pub(crate) fn bind_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// The IPv4 address a socket was dialled at.
pub(crate) fn dialled_v4(local: SocketAddr) -> Option<Ipv4Addr> {
    match local.ip() {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped(),
    }
}

pub(crate) fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                tokio::spawn(handle_connection(tcp, peer, shared.clone()));
            }
            Err(error) => {
                // EMFILE and friends: back off instead of spinning.
                tracing::warn!(%error, "smtp accept failed");
                sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

async fn handle_connection(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let started_ms = unix_ms();
    let Ok(local) = tcp.local_addr() else {
        return;
    };
    let local_v4 = dialled_v4(local);
    let over_limit = shared.open.load(Ordering::SeqCst) >= shared.config.max_connections;
    let (_guard, concurrent) = OpenGuard::enter(&shared, local_v4);
    let host = local_v4.and_then(|addr| shared.directory.host(addr));
    let mut session = Session {
        shared: shared.clone(),
        greeted: false,
        commands_seen: 0,
        record: SmtpSession {
            id: shared.next_id.fetch_add(1, Ordering::SeqCst),
            local,
            peer,
            host: host.as_ref().map(|h| h.name.clone()),
            behavior: host.as_ref().map(|h| h.behavior.clone()),
            started_ms,
            ended_ms: 0,
            concurrent,
            early_talker: false,
            sni: None,
            tls_version: None,
            legacy_client_alert: None,
            legacy_error: None,
            pipelined_after_starttls: false,
            commands: Vec::new(),
            commands_before_tls: None,
            commands_truncated: false,
            violations: Vec::new(),
            end: SessionEnd::IoError,
        },
    };
    let end = match host {
        _ if over_limit => {
            let mut tcp = tcp;
            let reply = "421 4.7.0 Too many connections, try again later\r\n";
            let _ = timeout(Duration::from_secs(5), tcp.write_all(reply.as_bytes())).await;
            SessionEnd::TooManyConnections
        }
        None => SessionEnd::UnknownHost,
        Some(host) => session.run(tcp, host).await,
    };
    session.record.end = end;
    session.record.ended_ms = unix_ms();
    shared.log.push(session.record);
}

/// A line read from the client.
enum Line {
    Text(Vec<u8>),
    /// Longer than [`MAX_LINE`]; the first octets are kept for the log.
    TooLong(Vec<u8>),
    Eof,
}

/// Reads one line (LF-terminated; CR stripped), never buffering more than `max` octets.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> io::Result<Line> {
    let mut line = Vec::new();
    let mut overflow = false;
    loop {
        let buf = r.fill_buf().await?;
        if buf.is_empty() {
            return Ok(Line::Eof);
        }
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1),
            None => (buf, buf.len()),
        };
        let room = max.saturating_sub(line.len());
        if chunk.len() > room {
            overflow = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let found = done > chunk.len();
        r.consume(done);
        if found {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(if overflow {
                Line::TooLong(line)
            } else {
                Line::Text(line)
            });
        }
    }
}

/// What the command loop asks the connection to do next.
enum Next {
    End(SessionEnd),
    StartTls,
    LegacyTls,
}

struct Session {
    shared: Arc<Shared>,
    greeted: bool,
    commands_seen: usize,
    record: SmtpSession,
}

impl Session {
    async fn run(&mut self, tcp: TcpStream, host: SmtpHost) -> SessionEnd {
        let idle = self.shared.config.idle_timeout;
        match &host.behavior {
            SmtpBehavior::ResetAfterAccept => {
                // SO_LINGER 0: close() sends RST instead of FIN.
                let _ = tcp.set_zero_linger();
                drop(tcp);
                return SessionEnd::Reset;
            }
            SmtpBehavior::Tarpit => return self.tarpit(tcp).await,
            _ => {}
        }
        let mut io = BufReader::new(tcp);
        if let SmtpBehavior::SlowGreeting { delay } = host.behavior {
            let deadline = Instant::now() + delay;
            if let Ok(read) = tokio::time::timeout_at(deadline, io.fill_buf()).await {
                match read {
                    Ok([]) => return SessionEnd::PeerClosed,
                    Ok(_) => self.record.early_talker = true,
                    Err(_) => return SessionEnd::IoError,
                }
                tokio::time::sleep_until(deadline).await;
            }
        }
        let greeting = match host.behavior {
            SmtpBehavior::Greeting554 => {
                format!("554 5.3.2 {} No SMTP service here\r\n", host.name)
            }
            SmtpBehavior::Greeting421 => format!(
                "421 4.3.2 {} Service not available, closing transmission channel\r\n",
                host.name
            ),
            SmtpBehavior::MultilineGreeting => format!(
                "220-{0} ESMTP simnet\r\n220-This greeting spans several lines\r\n220 {0} ready\r\n",
                host.name
            ),
            _ => format!("220 {} ESMTP simnet\r\n", host.name),
        };
        if write_reply(&mut io, &greeting, idle).await.is_err() {
            return SessionEnd::IoError;
        }
        if host.behavior == SmtpBehavior::Greeting421 {
            let _ = timeout(idle, io.get_mut().shutdown()).await;
            return SessionEnd::ClosedByServer;
        }
        let next = self.converse(&mut io, &host, false).await;
        let legacy = match next {
            Next::End(end) => return end,
            Next::StartTls => false,
            Next::LegacyTls => true,
        };
        self.record.commands_before_tls = Some(self.record.commands.len());
        // RFC 3207 §4.2: bytes pipelined after STARTTLS are discarded, not executed.
        self.record.pipelined_after_starttls = !io.buffer().is_empty();
        let mut tcp = io.into_inner();
        if legacy {
            let outcome = legacy_tls::serve(&mut tcp, idle, host.name.as_bytes()).await;
            self.record.sni = outcome.sni;
            self.record.legacy_client_alert = outcome.client_alert;
            self.record.legacy_error = outcome.error;
            return SessionEnd::LegacyTls;
        }
        let Ok(issued) = self.shared.pki.leaf(&host.cert) else {
            // Unreachable in practice: STARTTLS already checked the certificate issues.
            return SessionEnd::TlsFailed;
        };
        let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
        let start = match timeout(idle, acceptor).await {
            Ok(Ok(start)) => start,
            _ => return SessionEnd::TlsFailed,
        };
        self.record.sni = start.client_hello().server_name().map(str::to_owned);
        let tls = match timeout(idle, start.into_stream(issued.server_config.clone())).await {
            Ok(Ok(tls)) => tls,
            _ => return SessionEnd::TlsFailed,
        };
        self.record.tls_version = tls.get_ref().1.protocol_version().map(|v| format!("{v:?}"));
        // RFC 3207 §4.2: the server forgets the earlier EHLO.
        self.greeted = false;
        let mut io = BufReader::new(tls);
        match self.converse(&mut io, &host, true).await {
            Next::End(end) => end,
            // converse never asks for TLS again once TLS is active.
            Next::StartTls | Next::LegacyTls => SessionEnd::IoError,
        }
    }

    /// Holds the connection without greeting; logs what the client sends meanwhile.
    async fn tarpit(&mut self, tcp: TcpStream) -> SessionEnd {
        let deadline = Instant::now() + self.shared.config.tarpit_hold;
        let mut io = BufReader::new(tcp);
        loop {
            match tokio::time::timeout_at(deadline, read_line(&mut io, MAX_LINE)).await {
                Err(_) => return SessionEnd::TarpitExpired,
                Ok(Ok(Line::Eof)) => return SessionEnd::PeerClosed,
                Ok(Ok(Line::Text(line) | Line::TooLong(line))) => {
                    self.record.early_talker = true;
                    self.log_command(&line);
                }
                Ok(Err(_)) => return SessionEnd::IoError,
            }
        }
    }

    fn log_command(&mut self, line: &[u8]) {
        let kept = &line[..line.len().min(MAX_LOGGED_LINE)];
        if self.record.commands.len() < self.shared.config.max_logged_commands {
            self.record
                .commands
                .push(String::from_utf8_lossy(kept).into_owned());
        } else {
            self.record.commands_truncated = true;
        }
    }

    /// The command loop; returns when the session ends or TLS must start.
    async fn converse<S>(&mut self, io: &mut BufReader<S>, host: &SmtpHost, tls: bool) -> Next
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let idle = self.shared.config.idle_timeout;
        loop {
            let line = match timeout(idle, read_line(io, MAX_LINE)).await {
                Err(_) => return Next::End(SessionEnd::IdleTimeout),
                Ok(Err(_)) => return Next::End(SessionEnd::IoError),
                Ok(Ok(Line::Eof)) => return Next::End(SessionEnd::PeerClosed),
                Ok(Ok(Line::TooLong(line))) => {
                    self.log_command(&line);
                    Err(line)
                }
                Ok(Ok(Line::Text(line))) => {
                    self.log_command(&line);
                    Ok(line)
                }
            };
            self.commands_seen += 1;
            let (reply, next) = match line {
                _ if self.commands_seen > self.shared.config.max_commands => (
                    "421 4.7.0 Too many commands, closing connection\r\n".to_string(),
                    Some(Next::End(SessionEnd::ClosedByServer)),
                ),
                // RFC 5321 §4.5.3.1.4: "500 Line too long."
                Err(_) => ("500 5.5.2 Line too long\r\n".to_string(), None),
                Ok(line) => self.command(&line, host, tls),
            };
            if write_reply(io, &reply, idle).await.is_err() {
                return Next::End(SessionEnd::IoError);
            }
            if let Some(next) = next {
                return next;
            }
        }
    }

    /// The reply to one command line, and what follows it.
    fn command(&mut self, line: &[u8], host: &SmtpHost, tls: bool) -> (String, Option<Next>) {
        let text = String::from_utf8_lossy(line);
        let (verb, arg) = match text.split_once(' ') {
            Some((verb, arg)) => (verb, arg.trim()),
            None => (text.as_ref(), ""),
        };
        let verb = verb.to_ascii_uppercase();
        if VIOLATION_VERBS.contains(&verb.as_str()) {
            self.record.violations.push(verb.clone());
        }
        if verb == "QUIT" {
            return (
                "221 2.0.0 Bye\r\n".to_string(),
                Some(Next::End(SessionEnd::Quit)),
            );
        }
        let behavior = &host.behavior;
        if *behavior == SmtpBehavior::Greeting554 {
            // RFC 5321 §3.1: after a 554 greeting, 503 to everything but QUIT.
            return (
                "503 5.5.1 Error: bad sequence of commands\r\n".to_string(),
                None,
            );
        }
        let reply = match verb.as_str() {
            "EHLO" if *behavior == SmtpBehavior::EhloRejected => {
                "502 5.5.2 Error: command not recognized\r\n".to_string()
            }
            "EHLO" | "HELO" if arg.is_empty() => format!("501 5.5.4 Syntax: {verb} hostname\r\n"),
            "EHLO" => {
                self.greeted = true;
                let starttls = !tls && behavior.advertises_starttls();
                let mut reply = format!("250-{} greets {arg}\r\n250-PIPELINING\r\n", host.name);
                reply.push_str("250-SIZE 10240000\r\n");
                if starttls {
                    reply.push_str("250-STARTTLS\r\n");
                }
                reply.push_str("250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n");
                reply
            }
            "HELO" => {
                self.greeted = true;
                format!("250 {}\r\n", host.name)
            }
            "STARTTLS" => return self.starttls(arg, host, tls),
            "NOOP" | "RSET" => "250 2.0.0 OK\r\n".to_string(),
            "HELP" => "214 2.0.0 simnet: see RFC 5321\r\n".to_string(),
            "MAIL" | "RCPT" => "550 5.7.1 simnet accepts no mail\r\n".to_string(),
            "DATA" | "BDAT" => "554 5.5.1 Error: no valid recipients\r\n".to_string(),
            "VRFY" | "EXPN" => "502 5.5.1 Error: command disabled\r\n".to_string(),
            _ => "500 5.5.2 Error: command not recognized\r\n".to_string(),
        };
        (reply, None)
    }

    fn starttls(&mut self, arg: &str, host: &SmtpHost, tls: bool) -> (String, Option<Next>) {
        let reply = |s: &str| (format!("{s}\r\n"), None);
        if tls {
            return reply("503 5.5.1 Error: TLS already active");
        }
        if !host.behavior.advertises_starttls() {
            return reply("502 5.5.1 Error: command not implemented");
        }
        if !arg.is_empty() {
            // RFC 3207 §4: "501 Syntax error (no parameters allowed)".
            return reply("501 5.5.4 Syntax error (no parameters allowed)");
        }
        if !self.greeted {
            return reply("503 5.5.1 Error: send HELO/EHLO first");
        }
        match host.behavior {
            SmtpBehavior::Starttls454 => {
                reply("454 4.7.0 TLS not available due to temporary reason")
            }
            SmtpBehavior::StarttlsRejected { code } => {
                let class = if (400..500).contains(&code) { 4 } else { 5 };
                if code == 501 {
                    reply("501 5.5.4 Syntax error")
                } else {
                    (format!("{code} {class}.7.0 STARTTLS refused\r\n"), None)
                }
            }
            SmtpBehavior::Tls10Only => (
                "220 2.0.0 Ready to start TLS\r\n".to_string(),
                Some(Next::LegacyTls),
            ),
            _ if self.shared.pki.leaf(&host.cert).is_err() => {
                reply("454 4.7.0 TLS not available: no certificate")
            }
            _ => (
                "220 2.0.0 Ready to start TLS\r\n".to_string(),
                Some(Next::StartTls),
            ),
        }
    }
}

async fn write_reply<S: AsyncWrite + Unpin>(
    io: &mut S,
    reply: &str,
    idle: Duration,
) -> io::Result<()> {
    match timeout(idle, async {
        io.write_all(reply.as_bytes()).await?;
        io.flush().await
    })
    .await
    {
        Ok(result) => result,
        Err(_) => Err(io::ErrorKind::TimedOut.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::CertKind;
    use tokio::io::AsyncReadExt;

    const NAME: &str = "mx.example.test";

    fn behavior_at(octet: u8) -> Option<SmtpBehavior> {
        Some(match octet {
            1 => SmtpBehavior::Normal,
            2 => SmtpBehavior::NoStarttls,
            3 => SmtpBehavior::Starttls454,
            4 => SmtpBehavior::StarttlsRejected { code: 501 },
            5 => SmtpBehavior::Greeting554,
            6 => SmtpBehavior::Greeting421,
            7 => SmtpBehavior::SlowGreeting {
                delay: Duration::from_millis(300),
            },
            8 => SmtpBehavior::Tarpit,
            9 => SmtpBehavior::MultilineGreeting,
            10 => SmtpBehavior::EhloRejected,
            11 => SmtpBehavior::Tls10Only,
            12 => SmtpBehavior::ResetAfterAccept,
            13 => SmtpBehavior::StarttlsRejected { code: 554 },
            _ => return None,
        })
    }

    async fn server() -> SmtpServer {
        let directory = |addr: Ipv4Addr| {
            let [127, 1, 0, octet] = addr.octets() else {
                return None;
            };
            Some(SmtpHost {
                name: NAME.to_string(),
                behavior: behavior_at(octet)?,
                cert: CertSpec::of_kind(NAME, CertKind::Valid),
            })
        };
        let mut config = SmtpConfig::new("0.0.0.0:0".parse().unwrap());
        config.idle_timeout = Duration::from_secs(5);
        config.tarpit_hold = Duration::from_millis(300);
        let pki = Arc::new(Pki::new(1).unwrap());
        SmtpServer::start(config, Arc::new(directory), pki)
            .await
            .unwrap()
    }

    struct Client<S = TcpStream>(BufReader<S>);

    impl Client {
        async fn connect(server: &SmtpServer, octet: u8) -> Self {
            let addr = SocketAddr::from(([127, 1, 0, octet], server.local_addr().port()));
            Self(BufReader::new(TcpStream::connect(addr).await.unwrap()))
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> Client<S> {
        /// One whole (possibly multi-line) reply; empty at EOF.
        async fn reply(&mut self) -> Vec<String> {
            let mut lines = Vec::new();
            loop {
                let mut line = String::new();
                if self.0.read_line(&mut line).await.unwrap() == 0 {
                    return lines;
                }
                let last = line.as_bytes().get(3) == Some(&b' ');
                lines.push(line.trim_end().to_string());
                if last {
                    return lines;
                }
            }
        }

        async fn cmd(&mut self, line: &str) -> Vec<String> {
            self.0
                .write_all(format!("{line}\r\n").as_bytes())
                .await
                .unwrap();
            self.reply().await
        }

        async fn code(&mut self, line: &str) -> String {
            self.cmd(line).await[0][..3].to_string()
        }
    }

    async fn session_for(server: &SmtpServer, octet: u8) -> SmtpSession {
        for _ in 0..100 {
            let found = server
                .log()
                .sessions
                .into_iter()
                .find(|s| s.local.ip() == IpAddr::V4(Ipv4Addr::new(127, 1, 0, octet)));
            if let Some(session) = found {
                return session;
            }
            sleep(Duration::from_millis(20)).await;
        }
        panic!("no session logged for 127.1.0.{octet}");
    }

    #[tokio::test]
    async fn read_line_strips_crlf_and_caps_length() {
        let input = format!("EHLO a\r\nNOOP\n{}\r\nQUIT", "x".repeat(2000));
        let mut r = BufReader::with_capacity(64, input.as_bytes());
        assert!(
            matches!(read_line(&mut r, MAX_LINE).await.unwrap(), Line::Text(l) if l == b"EHLO a")
        );
        assert!(
            matches!(read_line(&mut r, MAX_LINE).await.unwrap(), Line::Text(l) if l == b"NOOP")
        );
        assert!(
            matches!(read_line(&mut r, MAX_LINE).await.unwrap(), Line::TooLong(l) if l.len() == MAX_LINE)
        );
        // An unterminated last line is not a command.
        assert!(matches!(
            read_line(&mut r, MAX_LINE).await.unwrap(),
            Line::Eof
        ));
    }

    #[tokio::test]
    async fn normal_host_speaks_smtp_grammar() {
        let server = server().await;
        let mut c = Client::connect(&server, 1).await;
        assert_eq!(c.reply().await, vec![format!("220 {NAME} ESMTP simnet")]);
        assert_eq!(c.code("HELP").await, "214");
        assert_eq!(c.code("FROB").await, "500");
        assert_eq!(c.code("").await, "500");
        assert_eq!(c.code(&"x".repeat(3000)).await, "500");
        assert_eq!(c.code("STARTTLS").await, "503"); // before EHLO
        let ehlo = c.cmd("ehlo client.test").await;
        assert!(ehlo[..ehlo.len() - 1].iter().all(|l| l.starts_with("250-")));
        assert!(ehlo.last().unwrap().starts_with("250 "));
        assert!(ehlo.contains(&"250-STARTTLS".to_string()));
        assert_eq!(c.code("EHLO").await, "501");
        assert_eq!(c.code("StartTLS now").await, "501");
        assert_eq!(c.code("MAIL FROM:<a@b.test>").await, "550");
        assert_eq!(c.code("vrfy postmaster").await, "502");
        assert_eq!(c.code("NOOP").await, "250");
        assert_eq!(c.code("QUIT").await, "221");
        let s = session_for(&server, 1).await;
        assert_eq!(s.end, SessionEnd::Quit);
        assert_eq!(s.violations, vec!["MAIL", "VRFY"]);
        assert_eq!(s.commands.len(), 12);
        assert_eq!(s.commands[3].len(), MAX_LOGGED_LINE);
        assert_eq!(s.host.as_deref(), Some(NAME));
        assert_eq!(s.concurrent, 1);
    }

    #[tokio::test]
    async fn starttls_then_ehlo_again_without_starttls() {
        let server = server().await;
        let mut c = Client::connect(&server, 1).await;
        c.reply().await;
        c.cmd("EHLO client.test").await;
        assert_eq!(c.code("STARTTLS").await, "220");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(server.shared.pki.root().der.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(crate::pki::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let name = rustls::pki_types::ServerName::try_from(NAME).unwrap();
        let tls = connector.connect(name, c.0.into_inner()).await.unwrap();
        let mut c = Client(BufReader::new(tls));
        let ehlo = c.cmd("EHLO client.test").await;
        assert_eq!(ehlo[0], format!("250-{NAME} greets client.test"));
        assert!(!ehlo.iter().any(|l| l.contains("STARTTLS")));
        assert_eq!(c.code("STARTTLS").await, "503");
        assert_eq!(c.code("RCPT TO:<a@b.test>").await, "550");
        assert_eq!(c.code("QUIT").await, "221");
        let s = session_for(&server, 1).await;
        assert_eq!(s.sni.as_deref(), Some(NAME));
        assert_eq!(s.tls_version.as_deref(), Some("TLSv1_3"));
        assert_eq!(s.commands_before_tls, Some(2));
        assert_eq!(s.violations, vec!["RCPT"]);
        assert!(!s.pipelined_after_starttls);
    }

    #[tokio::test]
    async fn starttls_refusals() {
        let server = server().await;
        let mut c = Client::connect(&server, 2).await;
        c.reply().await;
        assert!(
            !c.cmd("EHLO c.test")
                .await
                .iter()
                .any(|l| l.contains("STARTTLS"))
        );
        assert_eq!(c.code("STARTTLS").await, "502");
        for (octet, code) in [(3, "454"), (4, "501"), (13, "554")] {
            let mut c = Client::connect(&server, octet).await;
            c.reply().await;
            assert!(
                c.cmd("EHLO c.test")
                    .await
                    .contains(&"250-STARTTLS".to_string())
            );
            assert_eq!(c.code("STARTTLS").await, code, "127.1.0.{octet}");
            assert_eq!(c.code("QUIT").await, "221");
        }
    }

    #[tokio::test]
    async fn greeting_failures() {
        let server = server().await;
        let mut c = Client::connect(&server, 5).await;
        assert!(c.reply().await[0].starts_with("554 "));
        assert_eq!(c.code("EHLO c.test").await, "503");
        assert_eq!(c.code("MAIL FROM:<>").await, "503");
        assert_eq!(c.code("QUIT").await, "221");
        assert_eq!(session_for(&server, 5).await.violations, vec!["MAIL"]);

        let mut c = Client::connect(&server, 6).await;
        assert!(c.reply().await[0].starts_with("421 "));
        assert!(c.reply().await.is_empty());
        assert_eq!(
            session_for(&server, 6).await.end,
            SessionEnd::ClosedByServer
        );

        let mut c = Client::connect(&server, 9).await;
        let greeting = c.reply().await;
        assert_eq!(greeting.len(), 3);
        assert!(greeting[0].starts_with("220-") && greeting[2].starts_with("220 "));

        let mut c = Client::connect(&server, 10).await;
        c.reply().await;
        assert_eq!(c.code("EHLO c.test").await, "502");
        assert_eq!(c.cmd("HELO c.test").await, vec![format!("250 {NAME}")]);
        assert_eq!(c.code("STARTTLS").await, "502");
    }

    #[tokio::test]
    async fn slow_tarpit_and_reset() {
        let server = server().await;
        let started = Instant::now();
        let mut c = Client::connect(&server, 7).await;
        c.0.write_all(b"EHLO early.test\r\n").await.unwrap();
        assert!(c.reply().await[0].starts_with("220 "));
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert!(c.reply().await[0].starts_with("250-"));
        drop(c);
        assert!(session_for(&server, 7).await.early_talker);

        let mut c = Client::connect(&server, 8).await;
        assert!(c.reply().await.is_empty()); // held, then closed, never greeted
        assert_eq!(session_for(&server, 8).await.end, SessionEnd::TarpitExpired);

        let mut c = Client::connect(&server, 12).await;
        let mut buf = [0u8; 16];
        let err = c.0.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);

        let mut c = Client::connect(&server, 99).await;
        assert!(c.reply().await.is_empty());
        assert_eq!(session_for(&server, 99).await.end, SessionEnd::UnknownHost);
    }

    #[tokio::test]
    async fn pipelined_bytes_after_starttls_are_discarded_and_flagged() {
        let server = server().await;
        let mut c = Client::connect(&server, 1).await;
        c.reply().await;
        c.cmd("EHLO c.test").await;
        assert_eq!(
            c.code("STARTTLS\r\nMAIL FROM:<injected@c.test>").await,
            "220"
        );
        drop(c); // the "TLS handshake" is plaintext garbage, then EOF
        let s = session_for(&server, 1).await;
        assert!(s.pipelined_after_starttls);
        assert_eq!(s.end, SessionEnd::TlsFailed);
        assert!(s.violations.is_empty(), "discarded bytes are not commands");
    }

    #[tokio::test]
    async fn limits_close_with_421() {
        let directory = |_: Ipv4Addr| {
            Some(SmtpHost {
                name: NAME.to_string(),
                behavior: SmtpBehavior::Normal,
                cert: CertSpec::valid(NAME),
            })
        };
        let mut config = SmtpConfig::new("0.0.0.0:0".parse().unwrap());
        config.max_connections = 1;
        config.max_commands = 2;
        config.max_logged_commands = 1;
        let pki = Arc::new(Pki::new(1).unwrap());
        let server = SmtpServer::start(config, Arc::new(directory), pki)
            .await
            .unwrap();
        let mut first = Client::connect(&server, 20).await;
        first.reply().await;
        let mut second = Client::connect(&server, 21).await;
        assert!(second.reply().await[0].starts_with("421 "));
        assert_eq!(
            session_for(&server, 21).await.end,
            SessionEnd::TooManyConnections
        );
        assert_eq!(first.code("NOOP").await, "250");
        assert_eq!(first.code("NOOP").await, "250");
        assert_eq!(first.code("NOOP").await, "421");
        let s = session_for(&server, 20).await;
        assert_eq!(s.end, SessionEnd::ClosedByServer);
        assert_eq!(s.commands, vec!["NOOP"]);
        assert!(s.commands_truncated);
    }

    #[tokio::test]
    async fn concurrency_per_address_is_counted() {
        let server = server().await;
        let mut a = Client::connect(&server, 1).await;
        let mut b = Client::connect(&server, 1).await;
        a.reply().await;
        b.reply().await;
        let mut other = Client::connect(&server, 2).await;
        other.reply().await;
        assert_eq!(server.open_connections(), 3);
        let log = server.log();
        assert_eq!(log.max_concurrent_to(Ipv4Addr::new(127, 1, 0, 1)), 2);
        assert_eq!(log.max_concurrent_to(Ipv4Addr::new(127, 1, 0, 2)), 1);
        assert_eq!(log.max_concurrent_to(Ipv4Addr::new(127, 1, 0, 3)), 0);
    }
}
