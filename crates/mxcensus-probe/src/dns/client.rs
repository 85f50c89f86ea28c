//! The stub client: multiplexed UDP sockets per resolver, TCP on truncation, retries.
//!
//! Each resolver gets a few connected UDP sockets (the kernel then drops datagrams from any
//! other source, RFC 5452 §9.1's address check). One receive task per socket hands each
//! datagram to the query waiting on its ID, and only if the question section is the one
//! asked; anything else is dropped, so a stray or spoofed datagram cannot end a query.
//! IDs are drawn from a keyed SipHash of a counter (a PRF with a per-process random key),
//! source ports are the kernel's ephemeral choice.
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use super::status::LookupStatus;
use super::wire::{
    ParsedResponse, QueryFlags, WireQuestion, encode_query, message_id, parse_response,
};
use super::{DnsConfig, DnsConfigError};

/// Largest DNS message (TCP length prefix, RFC 1035 §4.2.2): every read is capped by it.
const MAX_MESSAGE: usize = 65_535;
/// Random IDs tried before giving up on a free one (each socket stays far below 65,536
/// queries in flight, see [`DnsConfig::validate`]).
const ID_DRAWS: usize = 64;
/// Cap on one backoff pause.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Transport of one exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP datagram.
    Udp,
    /// TCP connection (after TC=1 over UDP, RFC 7766 §5).
    Tcp,
}

/// One query sent and what came of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// The resolver asked.
    pub resolver: SocketAddr,
    /// UDP or TCP.
    pub transport: Transport,
    /// Whether CD was set on the query.
    pub checking_disabled: bool,
    /// Time from sending to the answer (or giving up).
    pub elapsed: Duration,
    /// How this exchange ended.
    pub status: LookupStatus,
    /// The raw RCODE, when a response was decoded.
    pub rcode: Option<u16>,
    /// AD on the response.
    pub authentic_data: bool,
    /// TC on the response.
    pub truncated: bool,
}

/// The result of [`DnsClient::query`]: the last exchange's response and every exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResult {
    /// Final class, after retries.
    pub status: LookupStatus,
    /// The final decoded response, if any.
    pub response: Option<ParsedResponse>,
    /// Tries made (one per retry round; a TCP fallback is part of its try).
    pub attempts: u32,
    /// Every exchange in order.
    pub exchanges: Vec<Exchange>,
    /// Time from the first send to the result, backoff pauses included.
    pub elapsed: Duration,
}

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DnsClientError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] DnsConfigError),
    /// A UDP socket could not be bound or connected.
    #[error("cannot open a UDP socket to {resolver}: {source}")]
    Socket {
        /// The resolver.
        resolver: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// What a receive task hands to a waiting query.
enum Delivery {
    Datagram(Vec<u8>),
    Unreachable,
}

struct Waiter {
    seq: u64,
    question: WireQuestion,
    tx: oneshot::Sender<Delivery>,
}

struct UdpChannel {
    socket: UdpSocket,
    pending: Mutex<HashMap<u16, Waiter>>,
}

impl UdpChannel {
    fn pending(&self) -> MutexGuard<'_, HashMap<u16, Waiter>> {
        // A poisoned map is still a consistent map: entries are inserted/removed whole.
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes a query's waiter when the query ends for any reason (time-out, cancellation),
/// unless a receive task already took it.
struct Registration<'a> {
    channel: &'a UdpChannel,
    id: u16,
    seq: u64,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let mut pending = self.channel.pending();
        if pending.get(&self.id).is_some_and(|w| w.seq == self.seq) {
            pending.remove(&self.id);
        }
    }
}

struct Upstream {
    addr: SocketAddr,
    channels: Vec<Arc<UdpChannel>>,
    next: AtomicUsize,
}

struct Inner {
    config: DnsConfig,
    upstreams: Vec<Upstream>,
    next_upstream: AtomicUsize,
    in_flight: Semaphore,
    validator_ok: AtomicBool,
    id_key: RandomState,
    counter: AtomicU64,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// A DNS stub client for a validating resolver: no cache, every lookup reaches the
/// resolver. Cheap to clone (shared sockets).
#[derive(Clone)]
pub struct DnsClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for DnsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsClient")
            .field("resolvers", &self.inner.config.resolvers)
            .field("validator_ok", &self.validator_ok())
            .finish()
    }
}

impl DnsClient {
    /// Validates `config`, opens the sockets and starts their receive tasks on the current
    /// tokio runtime.
    pub async fn new(config: DnsConfig) -> Result<DnsClient, DnsClientError> {
        config.validate()?;
        let mut upstreams = Vec::with_capacity(config.resolvers.len());
        let mut tasks = Vec::new();
        for &resolver in &config.resolvers {
            let mut channels = Vec::with_capacity(config.udp_sockets_per_resolver);
            for _ in 0..config.udp_sockets_per_resolver {
                let socket = open_udp(resolver)
                    .await
                    .map_err(|source| DnsClientError::Socket { resolver, source })?;
                let channel = Arc::new(UdpChannel {
                    socket,
                    pending: Mutex::new(HashMap::new()),
                });
                tasks.push(tokio::spawn(receive_loop(channel.clone())));
                channels.push(channel);
            }
            upstreams.push(Upstream {
                addr: resolver,
                channels,
                next: AtomicUsize::new(0),
            });
        }
        Ok(DnsClient {
            inner: Arc::new(Inner {
                in_flight: Semaphore::new(config.max_in_flight),
                config,
                upstreams,
                next_upstream: AtomicUsize::new(0),
                validator_ok: AtomicBool::new(false),
                id_key: RandomState::new(),
                counter: AtomicU64::new(0),
                tasks,
            }),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &DnsConfig {
        &self.inner.config
    }

    /// Whether the resolvers were proven to validate (set by
    /// [`check_validator`](super::check_validator) or [`DnsClient::set_validator_ok`]).
    /// Until then every DNSSEC status is `Unknown`.
    pub fn validator_ok(&self) -> bool {
        self.inner.validator_ok.load(Ordering::Relaxed)
    }

    /// Records whether the resolvers validate (the canaries' verdict).
    pub fn set_validator_ok(&self, ok: bool) {
        self.inner.validator_ok.store(ok, Ordering::Relaxed);
    }

    /// Sends one question with retries: time-outs, SERVFAIL, socket errors and undecodable
    /// answers are asked again (next resolver, backoff doubling from `config.backoff`) up
    /// to `config.attempts` tries; a truncated UDP answer is asked again over TCP within
    /// the same try.
    pub async fn query(
        &self,
        name: &Name,
        rtype: RecordType,
        checking_disabled: bool,
    ) -> QueryResult {
        let start = Instant::now();
        let mut name = name.clone();
        name.set_fqdn(true);
        let question = WireQuestion::new(&name, rtype);
        let flags = QueryFlags {
            checking_disabled,
            edns_payload: self.inner.config.edns_payload,
        };
        let config = &self.inner.config;
        let first = self.inner.next_upstream.fetch_add(1, Ordering::Relaxed);
        let mut exchanges = Vec::new();
        let mut status = LookupStatus::Timeout;
        let mut response = None;
        let mut attempts = 0;
        let mut pause = config.backoff;
        while attempts < config.attempts {
            if attempts > 0 {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
            let Some(upstream) = self
                .inner
                .upstreams
                .get(first.wrapping_add(attempts as usize) % self.inner.upstreams.len())
            else {
                break;
            };
            attempts += 1;
            (status, response) = self
                .try_once(upstream, &name, rtype, &question, flags, &mut exchanges)
                .await;
            if !status.is_retryable() {
                break;
            }
        }
        QueryResult {
            status,
            response,
            attempts,
            exchanges,
            elapsed: start.elapsed(),
        }
    }

    async fn try_once(
        &self,
        upstream: &Upstream,
        name: &Name,
        rtype: RecordType,
        question: &WireQuestion,
        flags: QueryFlags,
        exchanges: &mut Vec<Exchange>,
    ) -> (LookupStatus, Option<ParsedResponse>) {
        let Ok(_permit) = self.inner.in_flight.acquire().await else {
            return (LookupStatus::NetworkError, None);
        };
        let timeout = self.inner.config.timeout;
        let start = Instant::now();
        let record =
            |transport, status, parsed: Option<&ParsedResponse>, start: Instant| Exchange {
                resolver: upstream.addr,
                transport,
                checking_disabled: flags.checking_disabled,
                elapsed: start.elapsed(),
                status,
                rcode: parsed.map(|p| u16::from(p.rcode)),
                authentic_data: parsed.is_some_and(|p| p.authentic_data),
                truncated: parsed.is_some_and(|p| p.truncated),
            };
        let (id, udp) = self.exchange_udp(upstream, question, flags, timeout).await;
        let bytes = match udp {
            Ok(bytes) => bytes,
            Err(status) => {
                exchanges.push(record(Transport::Udp, status, None, start));
                return (status, None);
            }
        };
        let parsed = match parse_response(&bytes, id, question, name, rtype) {
            Ok(parsed) => parsed,
            Err(_) => {
                exchanges.push(record(Transport::Udp, LookupStatus::Malformed, None, start));
                return (LookupStatus::Malformed, None);
            }
        };
        let status = LookupStatus::from_response(parsed.rcode, !parsed.answers.is_empty());
        exchanges.push(record(Transport::Udp, status, Some(&parsed), start));
        if !parsed.truncated {
            return (status, Some(parsed));
        }
        // TC=1: the whole answer over TCP (RFC 1035 §4.2.1, RFC 7766 §5).
        let start = Instant::now();
        let id = self.random_id();
        let outcome =
            exchange_tcp(upstream.addr, &encode_query(id, question, flags), timeout).await;
        let result = outcome.and_then(|bytes| {
            parse_response(&bytes, id, question, name, rtype).map_err(|_| LookupStatus::Malformed)
        });
        match result {
            // TC on a TCP answer makes no sense: the data is incomplete, do not use it.
            Ok(parsed) if parsed.truncated => {
                exchanges.push(record(
                    Transport::Tcp,
                    LookupStatus::Malformed,
                    Some(&parsed),
                    start,
                ));
                (LookupStatus::Malformed, None)
            }
            Ok(parsed) => {
                let status = LookupStatus::from_response(parsed.rcode, !parsed.answers.is_empty());
                exchanges.push(record(Transport::Tcp, status, Some(&parsed), start));
                (status, Some(parsed))
            }
            Err(status) => {
                exchanges.push(record(Transport::Tcp, status, None, start));
                (status, None)
            }
        }
    }

    /// One UDP exchange: the ID used and the matching datagram, or why none came.
    async fn exchange_udp(
        &self,
        upstream: &Upstream,
        question: &WireQuestion,
        flags: QueryFlags,
        timeout: Duration,
    ) -> (u16, Result<Vec<u8>, LookupStatus>) {
        let index = upstream.next.fetch_add(1, Ordering::Relaxed) % upstream.channels.len().max(1);
        let Some(channel) = upstream.channels.get(index) else {
            return (0, Err(LookupStatus::NetworkError));
        };
        let (tx, rx) = oneshot::channel();
        let seq = self.inner.counter.fetch_add(1, Ordering::Relaxed);
        let mut id = None;
        {
            let mut pending = channel.pending();
            for _ in 0..ID_DRAWS {
                let candidate = self.random_id();
                if let std::collections::hash_map::Entry::Vacant(slot) = pending.entry(candidate) {
                    slot.insert(Waiter {
                        seq,
                        question: question.clone(),
                        tx,
                    });
                    id = Some(candidate);
                    break;
                }
            }
        }
        let Some(id) = id else {
            return (0, Err(LookupStatus::NetworkError));
        };
        let _registration = Registration { channel, id, seq };
        let query = encode_query(id, question, flags);
        if let Err(e) = channel.socket.send(&query).await {
            return (id, Err(io_status(&e)));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Delivery::Datagram(bytes))) => (id, Ok(bytes)),
            Ok(Ok(Delivery::Unreachable)) => (id, Err(LookupStatus::Unreachable)),
            Ok(Err(_)) => (id, Err(LookupStatus::NetworkError)),
            Err(_) => (id, Err(LookupStatus::Timeout)),
        }
    }

    fn random_id(&self) -> u16 {
        let mut hasher = self.inner.id_key.build_hasher();
        hasher.write_u64(self.inner.counter.fetch_add(1, Ordering::Relaxed));
        // Truncation keeps 16 bits of a keyed PRF output.
        hasher.finish() as u16
    }
}

async fn open_udp(resolver: SocketAddr) -> io::Result<UdpSocket> {
    let local: SocketAddr = if resolver.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(resolver).await?;
    Ok(socket)
}

fn io_status(e: &io::Error) -> LookupStatus {
    match e.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset => {
            LookupStatus::Unreachable
        }
        io::ErrorKind::TimedOut => LookupStatus::Timeout,
        _ => LookupStatus::NetworkError,
    }
}

async fn receive_loop(channel: Arc<UdpChannel>) {
    let mut buf = vec![0u8; MAX_MESSAGE];
    loop {
        let first = channel.socket.recv(&mut buf).await;
        if !handle_received(&channel, &buf, first).await {
            continue;
        }
        // Drain whatever else is queued before yielding to the runtime: behind a thousand
        // woken lookups this task may wait a while for its next turn, and answers left in
        // the socket buffer meanwhile would overflow it and be dropped.
        loop {
            let next = channel.socket.try_recv(&mut buf);
            if matches!(&next, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
                break;
            }
            if !handle_received(&channel, &buf, next).await {
                break;
            }
        }
    }
}

/// Hands one received datagram to its waiter; `false` after a socket error.
async fn handle_received(channel: &UdpChannel, buf: &[u8], received: io::Result<usize>) -> bool {
    match received {
        Ok(len) => {
            let Some(datagram) = buf.get(..len) else {
                return true;
            };
            let Some(id) = message_id(datagram) else {
                return true;
            };
            let waiter = {
                let mut pending = channel.pending();
                match pending.get(&id) {
                    Some(w) if w.question.matches_response(datagram) => pending.remove(&id),
                    _ => None,
                }
            };
            if let Some(waiter) = waiter {
                let _ = waiter.tx.send(Delivery::Datagram(datagram.to_vec()));
            }
            true
        }
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            // ICMP port unreachable from the (connected) resolver: nothing listens there,
            // so no query waiting on this socket will get an answer.
            let waiters: Vec<Waiter> = channel.pending().drain().map(|(_, w)| w).collect();
            for waiter in waiters {
                let _ = waiter.tx.send(Delivery::Unreachable);
            }
            false
        }
        Err(_) => {
            // Unknown socket trouble: do not spin on it.
            tokio::time::sleep(Duration::from_millis(1)).await;
            false
        }
    }
}

/// One query over a fresh TCP connection, the whole exchange bounded by `timeout`.
async fn exchange_tcp(
    resolver: SocketAddr,
    query: &[u8],
    timeout: Duration,
) -> Result<Vec<u8>, LookupStatus> {
    let exchange = async {
        let mut stream = TcpStream::connect(resolver)
            .await
            .map_err(|e| io_status(&e))?;
        let _ = stream.set_nodelay(true);
        let len = u16::try_from(query.len()).map_err(|_| LookupStatus::NetworkError)?;
        let mut framed = Vec::with_capacity(query.len() + 2);
        framed.extend_from_slice(&len.to_be_bytes());
        framed.extend_from_slice(query);
        stream.write_all(&framed).await.map_err(|e| io_status(&e))?;
        let mut len = [0u8; 2];
        stream
            .read_exact(&mut len)
            .await
            .map_err(|e| tcp_read_status(&e))?;
        let len = usize::from(u16::from_be_bytes(len));
        let mut body = vec![0u8; len.min(MAX_MESSAGE)];
        stream
            .read_exact(&mut body)
            .await
            .map_err(|e| tcp_read_status(&e))?;
        Ok(body)
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .unwrap_or(Err(LookupStatus::Timeout))
}

fn tcp_read_status(e: &io::Error) -> LookupStatus {
    match e.kind() {
        // Closed mid-message: what arrived is not a message.
        io::ErrorKind::UnexpectedEof => LookupStatus::Malformed,
        _ => io_status(e),
    }
}
