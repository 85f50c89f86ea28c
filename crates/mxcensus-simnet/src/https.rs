//! One HTTPS listener that plays every MTA-STS policy host (`mta-sts.<domain>`).
//!
//! The certificate is chosen from the SNI (and the dialled address) through
//! [`PolicyDirectory`], which WORLD implements; the host's [`HttpsBehavior`] plants one of
//! SPEC.md §B's fetch failure classes. HTTP/1.1 only, one request per connection
//! (`Connection: close`); the request line and headers are parsed properly and every
//! request is logged ([`HttpsRequest`]) in memory and, if configured, as JSON lines.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::{sleep, timeout};
use tokio_rustls::LazyConfigAcceptor;

use crate::pki::{CertSpec, Pki};
use crate::smtp::record_log::RecordLog;
use crate::smtp::{bind_listener, dialled_v4, unix_ms};

/// The one path that serves a policy (RFC 8461 §3.2).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";
/// The media type RFC 8461 §3.2 asks for.
pub const TEXT_PLAIN: &str = "text/plain";
/// Longest request head (request line + headers) accepted, in octets.
pub const MAX_REQUEST_HEAD: usize = 16 * 1024;
/// Largest body an [`HttpsBehavior::Oversize`] host sends (keeps a typo bounded).
pub const MAX_OVERSIZE: usize = 16 * 1024 * 1024;
/// Size [`HttpsBehavior::oversize`] uses: just over RFC 8461 §3.3's 64 KB suggestion.
pub const DEFAULT_OVERSIZE: usize = 64 * 1024 + 1;

/// How a policy host answers; each variant plants one fetch failure class of SPEC.md §B.
///
/// The media type is not a behaviour: it is [`PolicyHost::content_type`] (`None` omits the
/// header: `content_type_missing`; `text/html`: `content_type_not_text_plain`;
/// `text/plain; charset=utf-8`: valid).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpsBehavior {
    /// `200` with the body and the configured media type.
    Ok,
    /// `301 Moved Permanently` with `Location` (`http_redirect`; must not be followed).
    Redirect {
        /// The `Location` header value.
        location: String,
    },
    /// `404 Not Found` for the policy path too (`http_404`).
    NotFound,
    /// Another status, e.g. 500 (`http_status_other`).
    Status {
        /// The status code sent.
        code: u16,
    },
    /// `200` with the body padded with blank lines to `size` octets (`body_too_large`).
    Oversize {
        /// Total body size, capped at [`MAX_OVERSIZE`].
        size: usize,
    },
    /// `200` with the body, but only after `delay` (`fetch_timeout` if long enough).
    Slow {
        /// Wait between reading the request and sending the headers.
        delay: Duration,
    },
    /// The TCP connection is reset right after the TLS handshake completes.
    ResetAfterHandshake,
    /// The TLS handshake fails: the server has no certificate for the name and answers the
    /// ClientHello with a fatal `unrecognized_name` alert (`tls_handshake_failed`). Same as
    /// the directory returning `None`.
    HandshakeFailure,
}

impl HttpsBehavior {
    /// An oversize body of [`DEFAULT_OVERSIZE`] octets.
    pub fn oversize() -> Self {
        Self::Oversize {
            size: DEFAULT_OVERSIZE,
        }
    }
}

/// A policy host as served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyHost {
    /// The certificate served.
    pub cert: CertSpec,
    /// How it answers.
    pub behavior: HttpsBehavior,
    /// The policy body (served as is, for GET of [`POLICY_PATH`]).
    pub body: Vec<u8>,
    /// The `Content-Type` header value; `None` omits the header.
    pub content_type: Option<String>,
}

/// Maps a TLS ClientHello's SNI and the dialled address to the policy host. WORLD
/// implements it.
pub trait PolicyDirectory: Send + Sync + 'static {
    /// The host for `sni` (lower-case, as sent; `None` if the client sent none) reached at
    /// `local`; `None` makes the TLS handshake fail with an alert.
    fn host(&self, sni: Option<&str>, local: Ipv4Addr) -> Option<PolicyHost>;
}

impl<F> PolicyDirectory for F
where
    F: Fn(Option<&str>, Ipv4Addr) -> Option<PolicyHost> + Send + Sync + 'static,
{
    fn host(&self, sni: Option<&str>, local: Ipv4Addr) -> Option<PolicyHost> {
        self(sni, local)
    }
}

/// Listener settings.
#[derive(Clone, Debug)]
pub struct HttpsConfig {
    /// Address to bind; `0.0.0.0:<port>` so every 127.x address reaches it.
    pub bind: SocketAddr,
    /// File the request log is appended to (JSON lines), if any.
    pub log_file: Option<PathBuf>,
    /// Most connections open at once; beyond it connections are closed at once.
    pub max_connections: usize,
    /// Longest wait for the handshake, the request head, or a write.
    pub idle_timeout: Duration,
    /// Most request records kept in memory (newest kept; the file gets all).
    pub max_requests_in_memory: usize,
}

impl HttpsConfig {
    /// Defaults for a listener on `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            log_file: None,
            max_connections: 8192,
            idle_timeout: Duration::from_secs(60),
            max_requests_in_memory: 100_000,
        }
    }
}

/// How a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HttpsEnd {
    /// A response was sent.
    Served,
    /// No host for the SNI/address, or [`HttpsBehavior::HandshakeFailure`]: fatal
    /// `unrecognized_name` alert sent.
    NoCertificate,
    /// The TLS handshake failed on the client's side or timed out.
    HandshakeFailed,
    /// Reset after the handshake ([`HttpsBehavior::ResetAfterHandshake`]).
    Reset,
    /// The client closed or timed out before sending a whole request head.
    NoRequest,
    /// The connection limit was reached; closed without TLS.
    TooManyConnections,
    /// A read or write failed mid-response.
    IoError,
}

/// One connection/request as the server saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpsRequest {
    /// Sequence number (per server).
    pub id: u64,
    /// The address the client dialled.
    pub local: SocketAddr,
    /// The client's address.
    pub peer: SocketAddr,
    /// Accept time, Unix milliseconds.
    pub started_ms: u64,
    /// Close time, Unix milliseconds.
    pub ended_ms: u64,
    /// SNI from the ClientHello.
    pub sni: Option<String>,
    /// Negotiated TLS version (e.g. `TLSv1_3`).
    pub tls_version: Option<String>,
    /// Request method.
    pub method: Option<String>,
    /// Request target as sent (capped at 1 KiB).
    pub target: Option<String>,
    /// `Host` header value.
    pub host_header: Option<String>,
    /// Status sent, if a response was sent.
    pub status: Option<u16>,
    /// Body octets sent.
    pub body_bytes: usize,
    /// How it ended.
    pub end: HttpsEnd,
}

/// A copy of the server's log.
#[derive(Clone, Debug, Default)]
pub struct HttpsLogSnapshot {
    /// Finished connections still held in memory, oldest first.
    pub requests: Vec<HttpsRequest>,
    /// Connections finished since start.
    pub total_requests: u64,
    /// Records dropped from memory to respect the bound.
    pub evicted_requests: u64,
    /// Records that could not be written to the log file.
    pub file_errors: u64,
}

/// A running HTTPS listener. Dropping it stops accepting.
pub struct HttpsServer {
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    accept_task: JoinHandle<()>,
}

impl std::fmt::Debug for HttpsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsServer")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

struct Shared {
    config: HttpsConfig,
    directory: Arc<dyn PolicyDirectory>,
    pki: Arc<Pki>,
    log: RecordLog<HttpsRequest>,
    open: AtomicUsize,
    next_id: AtomicU64,
}

/// A TLS record holding a fatal `unrecognized_name` alert (RFC 5246 §7.2, RFC 6066 §3).
const UNRECOGNIZED_NAME_ALERT: [u8; 7] = [21, 3, 3, 0, 2, 2, 112];

impl HttpsServer {
    /// Binds the listener and starts accepting.
    pub async fn start(
        config: HttpsConfig,
        directory: Arc<dyn PolicyDirectory>,
        pki: Arc<Pki>,
    ) -> io::Result<Self> {
        let listener = bind_listener(config.bind)?;
        let local_addr = listener.local_addr()?;
        let log = RecordLog::new(config.max_requests_in_memory, config.log_file.as_deref())?;
        let shared = Arc::new(Shared {
            config,
            directory,
            pki,
            log,
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

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A copy of the request log.
    pub fn log(&self) -> HttpsLogSnapshot {
        let snap = self.shared.log.snapshot();
        HttpsLogSnapshot {
            requests: snap.records,
            total_requests: snap.total,
            evicted_requests: snap.evicted,
            file_errors: snap.file_errors,
        }
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                tokio::spawn(handle_connection(tcp, peer, shared.clone()));
            }
            Err(error) => {
                tracing::warn!(%error, "https accept failed");
                sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

struct OpenGuard(Arc<Shared>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handle_connection(tcp: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let Ok(local) = tcp.local_addr() else {
        return;
    };
    let over_limit = shared.open.fetch_add(1, Ordering::SeqCst) >= shared.config.max_connections;
    let _guard = OpenGuard(shared.clone());
    let mut record = HttpsRequest {
        id: shared.next_id.fetch_add(1, Ordering::SeqCst),
        local,
        peer,
        started_ms: unix_ms(),
        ended_ms: 0,
        sni: None,
        tls_version: None,
        method: None,
        target: None,
        host_header: None,
        status: None,
        body_bytes: 0,
        end: HttpsEnd::IoError,
    };
    record.end = if over_limit {
        HttpsEnd::TooManyConnections
    } else {
        serve(tcp, &shared, &mut record).await
    };
    record.ended_ms = unix_ms();
    shared.log.push(record);
}

async fn serve(tcp: TcpStream, shared: &Shared, record: &mut HttpsRequest) -> HttpsEnd {
    let idle = shared.config.idle_timeout;
    let acceptor = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp);
    let start = match timeout(idle, acceptor).await {
        Ok(Ok(start)) => start,
        _ => return HttpsEnd::HandshakeFailed,
    };
    let sni = start
        .client_hello()
        .server_name()
        .map(str::to_ascii_lowercase);
    record.sni = sni.clone();
    let host =
        dialled_v4(record.local).and_then(|local| shared.directory.host(sni.as_deref(), local));
    let issued = host
        .as_ref()
        .filter(|h| h.behavior != HttpsBehavior::HandshakeFailure)
        .and_then(|h| shared.pki.leaf(&h.cert).ok());
    let (Some(host), Some(issued)) = (host, issued) else {
        // What nginx's `ssl_reject_handshake` does: a fatal unrecognized_name alert
        // (RFC 6066 §3) in place of a ServerHello.
        let mut tcp = start.io;
        let _ = timeout(idle, tcp.write_all(&UNRECOGNIZED_NAME_ALERT)).await;
        let _ = timeout(idle, tcp.shutdown()).await;
        return HttpsEnd::NoCertificate;
    };
    let mut tls = match timeout(idle, start.into_stream(issued.server_config.clone())).await {
        Ok(Ok(tls)) => tls,
        _ => return HttpsEnd::HandshakeFailed,
    };
    record.tls_version = tls.get_ref().1.protocol_version().map(|v| format!("{v:?}"));
    if host.behavior == HttpsBehavior::ResetAfterHandshake {
        let _ = tls.get_ref().0.set_zero_linger();
        drop(tls);
        return HttpsEnd::Reset;
    }
    let head = match timeout(idle, read_head(&mut tls)).await {
        Ok(Ok(Some(head))) => head,
        _ => return HttpsEnd::NoRequest,
    };
    let response = match parse_request(&head) {
        Ok(request) => {
            record.method = Some(request.method.clone());
            record.target = Some(request.target.chars().take(1024).collect());
            record.host_header = request.host.clone();
            respond(&request, &host)
        }
        Err(status) => Response::simple(status),
    };
    if let HttpsBehavior::Slow { delay } = host.behavior
        && response.status == 200
    {
        sleep(delay).await;
    }
    record.status = Some(response.status);
    let head_only = record.method.as_deref() == Some("HEAD");
    match timeout(idle, write_response(&mut tls, &response, head_only)).await {
        Ok(Ok(sent)) => record.body_bytes = sent,
        _ => return HttpsEnd::IoError,
    }
    let _ = timeout(idle, tls.shutdown()).await;
    HttpsEnd::Served
}

/// Reads up to the blank line ending the request head; `None` if the peer closed first.
async fn read_head<S: AsyncRead + Unpin>(io: &mut S) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        let n = io.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(end) = find_head_end(&head) {
            head.truncate(end);
            return Ok(Some(head));
        }
        if head.len() > MAX_REQUEST_HEAD {
            // Parsed as far as it goes; the parser answers 431/400.
            return Ok(Some(head));
        }
    }
}

fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: String,
    target: String,
    path: String,
    host: Option<String>,
}

/// Parses an HTTP/1.x request head (RFC 9112 §3); `Err(status)` for a malformed one.
fn parse_request(head: &[u8]) -> Result<Request, u16> {
    let end = find_head_end(head).ok_or(if head.len() > MAX_REQUEST_HEAD {
        431u16
    } else {
        400
    })?;
    let text = std::str::from_utf8(&head[..end]).map_err(|_| 400u16)?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().ok_or(400u16)?;
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(400);
    };
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(400);
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(505);
    }
    let mut host = None;
    for line in lines.take_while(|l| !l.is_empty()) {
        let (name, value) = line.split_once(':').ok_or(400u16)?;
        if name.is_empty() || name.ends_with(' ') || name.ends_with('\t') {
            return Err(400); // RFC 9112 §5.1: no whitespace before the colon.
        }
        if name.eq_ignore_ascii_case("host") {
            if host.is_some() {
                return Err(400); // RFC 9112 §3.2: more than one Host is an error.
            }
            host = Some(value.trim().to_string());
        }
    }
    if version == "HTTP/1.1" && host.is_none() {
        return Err(400); // RFC 9112 §3.2
    }
    // Origin form, or absolute form `https://host/path` (RFC 9112 §3.2.1, §3.2.2).
    let path = match target.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => target,
    };
    let path = path.split('?').next().unwrap_or_default().to_string();
    Ok(Request {
        method: method.to_string(),
        target: target.to_string(),
        path,
        host,
    })
}

struct Response {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    /// Padding appended after `body` (sent in pieces, never allocated whole).
    padding: usize,
}

impl Response {
    fn simple(status: u16) -> Self {
        Self {
            status,
            headers: vec![("Content-Type", TEXT_PLAIN.to_string())],
            body: format!("{status} {}\n", reason(status)).into_bytes(),
            padding: 0,
        }
    }
}

fn respond(request: &Request, host: &PolicyHost) -> Response {
    if request.method != "GET" && request.method != "HEAD" {
        let mut response = Response::simple(405);
        response.headers.push(("Allow", "GET, HEAD".to_string()));
        return response;
    }
    if request.path != POLICY_PATH {
        return Response::simple(404);
    }
    let ok = |padding| Response {
        status: 200,
        headers: host
            .content_type
            .iter()
            .map(|ct| ("Content-Type", ct.clone()))
            .collect(),
        body: host.body.clone(),
        padding,
    };
    match &host.behavior {
        HttpsBehavior::Ok | HttpsBehavior::Slow { .. } => ok(0),
        HttpsBehavior::Oversize { size } => {
            ok(size.min(&MAX_OVERSIZE).saturating_sub(host.body.len()))
        }
        HttpsBehavior::Redirect { location } => {
            let mut response = Response::simple(301);
            response.headers = vec![
                ("Content-Type", "text/html".to_string()),
                ("Location", location.clone()),
            ];
            response.body = format!("<a href=\"{location}\">Moved Permanently</a>\n").into_bytes();
            response
        }
        HttpsBehavior::NotFound => Response::simple(404),
        HttpsBehavior::Status { code } => Response::simple(*code),
        // Handled before any request is read.
        HttpsBehavior::ResetAfterHandshake | HttpsBehavior::HandshakeFailure => {
            Response::simple(500)
        }
    }
}

/// Writes the response; returns the body octets sent.
async fn write_response<S: AsyncWrite + Unpin>(
    io: &mut S,
    response: &Response,
    head_only: bool,
) -> io::Result<usize> {
    let length = response.body.len() + response.padding;
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {length}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    ));
    io.write_all(head.as_bytes()).await?;
    if head_only {
        io.flush().await?;
        return Ok(0);
    }
    io.write_all(&response.body).await?;
    // Blank lines: harmless to a lenient parser, so only the size is wrong.
    let piece = [b'\n'; 8192];
    let mut left = response.padding;
    while left > 0 {
        let n = left.min(piece.len());
        io.write_all(&piece[..n]).await?;
        left -= n;
    }
    io.flush().await?;
    Ok(length)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        301 => "Moved Permanently",
        302 => "Found",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(behavior: HttpsBehavior) -> PolicyHost {
        PolicyHost {
            cert: CertSpec::valid("mta-sts.example.test"),
            behavior,
            body: b"version: STSv1\r\n".to_vec(),
            content_type: Some(TEXT_PLAIN.to_string()),
        }
    }

    fn get(path: &str) -> Request {
        let head = format!("GET {path} HTTP/1.1\r\nHost: mta-sts.example.test\r\n\r\n");
        parse_request(head.as_bytes()).unwrap()
    }

    #[test]
    fn parses_request_line_and_host() {
        let request = get("/.well-known/mta-sts.txt?x=1");
        assert_eq!(request.method, "GET");
        assert_eq!(request.path, POLICY_PATH);
        assert_eq!(request.host.as_deref(), Some("mta-sts.example.test"));
        let absolute = get("https://mta-sts.example.test/.well-known/mta-sts.txt");
        assert_eq!(absolute.path, POLICY_PATH);
        let head = b"GET / HTTP/1.0\r\n\r\n";
        assert_eq!(parse_request(head).unwrap().host, None);
    }

    #[test]
    fn malformed_requests_get_their_status() {
        for (head, status) in [
            (&b"GET / HTTP/1.1\r\n\r\n"[..], 400), // no Host
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            (b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: a\r\n", 400),
            (b"G3T / HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ] {
            assert_eq!(parse_request(head), Err(status), "{head:?}");
        }
    }

    #[test]
    fn behaviours_map_to_responses() {
        let policy = get(POLICY_PATH);
        assert_eq!(respond(&get("/"), &host(HttpsBehavior::Ok)).status, 404);
        let ok = respond(&policy, &host(HttpsBehavior::Ok));
        assert_eq!((ok.status, ok.padding), (200, 0));
        assert_eq!(ok.headers, vec![("Content-Type", TEXT_PLAIN.to_string())]);
        let redirect = HttpsBehavior::Redirect {
            location: "https://elsewhere.test/".to_string(),
        };
        let moved = respond(&policy, &host(redirect));
        assert_eq!(moved.status, 301);
        assert!(
            moved
                .headers
                .contains(&("Location", "https://elsewhere.test/".to_string()))
        );
        assert_eq!(respond(&policy, &host(HttpsBehavior::NotFound)).status, 404);
        let status = HttpsBehavior::Status { code: 500 };
        assert_eq!(respond(&policy, &host(status)).status, 500);
        let big = respond(&policy, &host(HttpsBehavior::oversize()));
        assert_eq!(big.body.len() + big.padding, DEFAULT_OVERSIZE);
        let huge = respond(&policy, &host(HttpsBehavior::Oversize { size: usize::MAX }));
        assert_eq!(huge.body.len() + huge.padding, MAX_OVERSIZE);
        let mut bare = host(HttpsBehavior::Ok);
        bare.content_type = None;
        assert!(respond(&policy, &bare).headers.is_empty());
        let post = parse_request(b"POST /.well-known/mta-sts.txt HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(respond(&post.unwrap(), &bare).status, 405);
    }

    async fn live_server() -> (HttpsServer, Arc<Pki>) {
        let directory = |sni: Option<&str>, addr: Ipv4Addr| {
            if sni != Some("mta-sts.example.test") {
                return None;
            }
            let behavior = match addr.octets() {
                [127, 32, 0, 1] => HttpsBehavior::Ok,
                [127, 32, 0, 2] => HttpsBehavior::Slow {
                    delay: Duration::from_millis(300),
                },
                [127, 32, 0, 3] => HttpsBehavior::ResetAfterHandshake,
                [127, 32, 0, 4] => HttpsBehavior::HandshakeFailure,
                _ => return None,
            };
            Some(host(behavior))
        };
        let pki = Arc::new(Pki::new(9).unwrap());
        let mut config = HttpsConfig::new("0.0.0.0:0".parse().unwrap());
        config.idle_timeout = Duration::from_secs(5);
        let server = HttpsServer::start(config, Arc::new(directory), pki.clone())
            .await
            .unwrap();
        (server, pki)
    }

    /// Fetches the policy with rustls; the response as text, or the error.
    async fn fetch(server: &HttpsServer, pki: &Pki, octet: u8, sni: &str) -> io::Result<String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(pki.root().der.clone()).unwrap();
        let config = rustls::ClientConfig::builder_with_provider(crate::pki::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let addr = SocketAddr::from(([127, 32, 0, octet], server.local_addr().port()));
        let tcp = TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from(sni.to_string()).unwrap();
        let mut tls = connector.connect(name, tcp).await?;
        let request = format!("GET {POLICY_PATH} HTTP/1.1\r\nHost: {sni}\r\n\r\n");
        tls.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        tls.read_to_string(&mut response).await?;
        Ok(response)
    }

    #[tokio::test]
    async fn serves_over_tls_and_fails_as_planted() {
        let (server, pki) = live_server().await;
        let ok = fetch(&server, &pki, 1, "mta-sts.example.test")
            .await
            .unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.ends_with("\r\n\r\nversion: STSv1\r\n"), "{ok}");

        let started = std::time::Instant::now();
        let slow = fetch(&server, &pki, 2, "mta-sts.example.test")
            .await
            .unwrap();
        assert!(slow.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(started.elapsed() >= Duration::from_millis(300));

        // A reset after the handshake: the TLS 1.3 client may see it on write or read.
        assert!(
            fetch(&server, &pki, 3, "mta-sts.example.test")
                .await
                .is_err()
        );

        for (octet, sni) in [(4, "mta-sts.example.test"), (1, "mta-sts.other.test")] {
            let err = fetch(&server, &pki, octet, sni).await.unwrap_err();
            let tls = err
                .get_ref()
                .and_then(|e| e.downcast_ref::<rustls::Error>());
            assert_eq!(
                tls,
                Some(&rustls::Error::AlertReceived(
                    rustls::AlertDescription::UnrecognisedName
                )),
                "{err}"
            );
        }
        let mut ends = Vec::new();
        for _ in 0..100 {
            ends = server
                .log()
                .requests
                .iter()
                .map(|r| (r.local.ip(), r.end))
                .collect();
            if ends.len() == 5 {
                break;
            }
            sleep(Duration::from_millis(20)).await;
        }
        let end_at = |octet: u8| {
            ends.iter()
                .filter(|(ip, _)| *ip == std::net::IpAddr::from([127, 32, 0, octet]))
                .map(|(_, end)| *end)
                .collect::<Vec<_>>()
        };
        assert_eq!(end_at(1), vec![HttpsEnd::Served, HttpsEnd::NoCertificate]);
        assert_eq!(end_at(2), vec![HttpsEnd::Served]);
        assert_eq!(end_at(3), vec![HttpsEnd::Reset]);
        assert_eq!(end_at(4), vec![HttpsEnd::NoCertificate]);
    }

    #[tokio::test]
    async fn writes_a_complete_response() {
        let policy = get(POLICY_PATH);
        let response = respond(&policy, &host(HttpsBehavior::Oversize { size: 70_000 }));
        let mut out = Vec::new();
        let sent = write_response(&mut out, &response, false).await.unwrap();
        assert_eq!(sent, 70_000);
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(
            head.contains("Content-Length: 70000\r\nCache-Control: no-store\r\nConnection: close")
        );
        assert_eq!(body.len(), 70_000);
        assert!(body.starts_with("version: STSv1\r\n"));
    }
}
