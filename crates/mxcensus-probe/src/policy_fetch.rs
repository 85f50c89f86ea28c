//! The MTA-STS policy fetch (RFC 8461 §3.2, §3.3; SPEC §B).
//!
//! `GET https://mta-sts.<domain>/.well-known/mta-sts.txt` over one connection to one of the
//! addresses the crawler resolved (tried in order until one connects; every attempt is
//! recorded): the recording TLS handshake of [`crate::tls`] with SNI `mta-sts.<domain>`
//! (RFC 8461 §7.1), the Web PKI check of the served chain for that name (RFC 8461 §3.3:
//! trusted, unexpired, DNS-ID match), then HTTP/1.1 with hyper's connection API (so the
//! peer chain stays visible). Only 200 yields a policy; a 3xx is never followed (its
//! `Location` is recorded); no caching, no cookies. The media type must be `text/plain`,
//! parameters ignored (§3.2). The body is capped (64 KiB, §3.3) and the whole fetch runs
//! under one deadline (60 s, §3.3). A 200 body is parsed with
//! `mxcensus_proto::policy::parse_policy` and the evaluation kept.
//!
//! Certificate failures do not stop the fetch: the response and the policy are recorded
//! as evidence, and the certificate class leads [`PolicyFetchResult::failures`].
//! Revocation is not checked (optional under §3.3), so `cert_revoked` is never produced.

use std::error::Error as StdError;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::{self, HeaderMap};
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::TokioIo;
use mxcensus_proto::dnsname::{DomainNameError, normalize_host};
use mxcensus_proto::failure_classes;
use mxcensus_proto::policy::{PolicyEvaluation, parse_policy};

use crate::tcp::{self, ConnectAttempt, ConnectError};
use crate::tls::{self, CertCheck, CertStatus, HandshakeError, TlsRecord, TrustError, WebPki};

/// The policy path (RFC 8461 §3.2).
pub const POLICY_PATH: &str = "/.well-known/mta-sts.txt";

failure_classes! {
    /// Why a policy fetch did not yield a usable policy body (SPEC §B; TLS-RPT
    /// `sts-policy-fetch-error` / `sts-webpki-invalid`, RFC 8460 §4.3.2.2).
    pub enum FetchClass {
        /// The policy domain is not a valid host name.
        InvalidDomain = "policy_host_invalid_name", Error, "RFC 8461 §3.2; RFC 5321 §4.1.2",
            "Use a valid LDH (A-label) domain name.";
        /// No address was given for `mta-sts.<domain>`.
        NoAddress = "policy_host_no_address", Error, "RFC 8461 §3.2",
            "Publish A/AAAA records for mta-sts.<domain>.";
        /// The TCP connection was refused.
        ConnectRefused = "connect_refused", Error, "RFC 8461 §3.3",
            "Serve HTTPS on port 443 of the policy host.";
        /// No TCP connection within the timeout.
        ConnectTimeout = "connect_timeout", Error, "RFC 8461 §3.3",
            "Open port 443 of the policy host to the Internet.";
        /// No route to the address.
        NetUnreachable = "net_unreachable", Error, "RFC 8461 §3.3",
            "Publish only routed addresses for the policy host.";
        /// Another socket error while connecting.
        ConnectError = "connect_error", Error, "RFC 8461 §3.3",
            "Check that the published address is a reachable unicast address.";
        /// The server reset the connection after the TCP handshake.
        ConnectionReset = "connection_reset", Error, "RFC 8461 §3.3",
            "Check the web server and any middlebox that resets HTTPS connections.";
        /// The TLS handshake failed.
        TlsHandshakeFailed = "tls_handshake_failed", Error, "RFC 8461 §3.3, §7.1",
            "Serve TLS 1.2+ with a certificate for mta-sts.<domain> (SNI).";
        /// The server only speaks TLS below 1.2.
        TlsLegacyOnly = "tls_legacy_only", Error, "RFC 8461 §7.2",
            "Enable TLS 1.2 and 1.3 on the policy host.";
        /// The chain does not lead to a trusted root (unknown issuer, self-signed,
        /// incomplete chain, invalid path).
        CertUntrusted = "cert_untrusted", Error, "RFC 8461 §3.3",
            "Serve a certificate from a public CA with its full chain.";
        /// The certificate has expired.
        CertExpired = "cert_expired", Error, "RFC 8461 §3.3",
            "Renew the certificate of the policy host.";
        /// The certificate is not valid yet.
        CertNotYetValid = "cert_not_yet_valid", Error, "RFC 8461 §3.3",
            "Serve a certificate that is valid now.";
        /// No DNS-ID matches `mta-sts.<domain>` (subcases cn_only, partial wildcard in the
        /// certificate check).
        CertNameMismatch = "cert_name_mismatch", Error, "RFC 8461 §3.3; RFC 6125 §6.4",
            "Add mta-sts.<domain> as a subjectAltName DNS name.";
        /// A 3xx response (never followed; `Location` recorded).
        HttpRedirect = "http_redirect", Error, "RFC 8461 §3.3",
            "Serve the policy directly at the well-known path; redirects are not followed.";
        /// 404 Not Found.
        Http404 = "http_404", Error, "RFC 8461 §3.2",
            "Publish the policy at /.well-known/mta-sts.txt.";
        /// Another non-200 status.
        HttpStatusOther = "http_status_other", Error, "RFC 8461 §3.3",
            "Answer the policy request with 200.";
        /// The HTTP exchange failed (malformed response, connection closed mid-response).
        HttpProtocolError = "http_protocol_error", Error, "RFC 9112",
            "Serve a well-formed HTTP/1.1 response.";
        /// The media type is not `text/plain`.
        ContentTypeNotTextPlain = "content_type_not_text_plain", Error, "RFC 8461 §3.2",
            "Serve the policy as Content-Type: text/plain.";
        /// No Content-Type header.
        ContentTypeMissing = "content_type_missing", Error, "RFC 8461 §3.2",
            "Serve the policy as Content-Type: text/plain.";
        /// The body exceeds the cap (64 KiB).
        BodyTooLarge = "body_too_large", Error, "RFC 8461 §3.3",
            "Keep the policy well below 64 KB.";
        /// The fetch did not finish within the deadline (60 s).
        FetchTimeout = "fetch_timeout", Error, "RFC 8461 §3.3",
            "Serve the policy promptly (some senders wait only a few seconds).";
        /// The body is not UTF-8.
        BodyNotUtf8 = "body_not_utf8", Error, "RFC 8461 §3.2",
            "Serve the policy as US-ASCII or UTF-8.";
    }
}

/// Fetch settings (SPEC §B crawler rules as defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyFetchConfig {
    /// HTTPS port (443; other ports for test worlds).
    pub port: u16,
    /// One deadline for the whole fetch: connect, TLS, request, body (60 s).
    pub timeout: Duration,
    /// Longest wait for one TCP connect (10 s; the deadline still applies).
    pub connect_timeout: Duration,
    /// Largest body read (64 KiB); more is `body_too_large`.
    pub body_cap: usize,
    /// Largest response head hyper buffers (64 KiB; at least 8 KiB).
    pub max_head: usize,
    /// `User-Agent` header, if any.
    pub user_agent: Option<String>,
    /// Extra CA certificate files (PEM) trusted besides webpki-roots (`--extra-ca`).
    pub extra_ca: Vec<PathBuf>,
}

impl Default for PolicyFetchConfig {
    fn default() -> Self {
        Self {
            port: 443,
            timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(10),
            body_cap: 64 * 1024,
            max_head: 64 * 1024,
            user_agent: Some(concat!("mxcensus/", env!("CARGO_PKG_VERSION")).to_owned()),
            extra_ca: Vec::new(),
        }
    }
}

impl PolicyFetchConfig {
    /// Rejects unusable settings.
    pub fn validate(&self) -> Result<(), PolicyFetchConfigError> {
        if self.port == 0 {
            return Err(PolicyFetchConfigError::Port);
        }
        for (what, value) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if value.is_zero() || value > Duration::from_secs(600) {
                return Err(PolicyFetchConfigError::Timeout { what, value });
            }
        }
        if !(1..=16 * 1024 * 1024).contains(&self.body_cap) {
            return Err(PolicyFetchConfigError::BodyCap(self.body_cap));
        }
        if !(8192..=1024 * 1024).contains(&self.max_head) {
            return Err(PolicyFetchConfigError::MaxHead(self.max_head));
        }
        if let Some(ua) = &self.user_agent
            && (ua.is_empty() || !ua.bytes().all(|b| (0x20..0x7f).contains(&b)))
        {
            return Err(PolicyFetchConfigError::UserAgent);
        }
        Ok(())
    }
}

/// Why a fetch configuration was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFetchConfigError {
    /// Port 0.
    #[error("port 0 is not usable")]
    Port,
    /// A timeout of zero or over ten minutes.
    #[error("{what} of {value:?} is outside (0, 600 s]")]
    Timeout {
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: Duration,
    },
    /// A body cap of 0 or over 16 MiB.
    #[error("body_cap {0} is outside 1..=16 MiB")]
    BodyCap(usize),
    /// A head cap outside 8 KiB..=1 MiB.
    #[error("max_head {0} is outside 8 KiB..=1 MiB")]
    MaxHead(usize),
    /// A User-Agent that is empty or not printable ASCII.
    #[error("user_agent must be printable ASCII")]
    UserAgent,
    /// An extra CA file could not be loaded.
    #[error(transparent)]
    Trust(#[from] TrustError),
}

/// Where the fetch was when it stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FetchPhase {
    /// Before any connection.
    #[default]
    Start,
    /// TCP connect.
    Connect,
    /// TLS handshake.
    Tls,
    /// HTTP request sent, waiting for the response head.
    Response,
    /// Reading the body.
    Body,
    /// Finished.
    Done,
}

/// What went wrong in the HTTP exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HttpErrorKind {
    /// The response could not be parsed (or its head exceeded the cap).
    Parse,
    /// The connection closed before a complete response.
    Incomplete,
    /// The connection was reset.
    Reset,
    /// TLS failed inside the connection (an alert, a bad record).
    Tls,
    /// Another hyper or socket error.
    Other,
}

/// The facts of a failure.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum FetchError {
    /// The domain is not a valid host name.
    InvalidDomain(DomainNameError),
    /// No address given.
    NoAddress,
    /// No connection to any address (the last attempt's error).
    Connect(ConnectError),
    /// The TLS handshake failed.
    Handshake(HandshakeError),
    /// The HTTP exchange failed.
    Http {
        /// The kind of failure.
        kind: HttpErrorKind,
        /// The socket error kind underneath, if any.
        io: Option<io::ErrorKind>,
    },
    /// The deadline passed.
    Timeout {
        /// Where the fetch was.
        phase: FetchPhase,
    },
}

/// The response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// HTTP version of the response.
    pub version: Version,
    /// `Location` (lossy UTF-8), recorded for redirects.
    pub location: Option<String>,
    /// `Content-Type` as sent (lossy UTF-8).
    pub content_type: Option<String>,
    /// Headers of interest (content-type, content-length, location, cache-control,
    /// content-encoding, transfer-encoding, server), lowercase names, lossy values.
    pub headers: Vec<(String, String)>,
}

/// Phase durations (zero when a phase did not run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FetchTimings {
    /// TCP connect (the successful attempt).
    pub connect: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// Request sent to response head received.
    pub response: Duration,
    /// Body read.
    pub body: Duration,
}

/// Everything one policy fetch found.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyFetchResult {
    /// The policy domain as given.
    pub domain: String,
    /// `mta-sts.<domain>` (normalised; the SNI and the certificate name).
    pub host: String,
    /// The port dialled.
    pub port: u16,
    /// Fetch start, Unix seconds (the certificate is judged at this time).
    pub started_unix: i64,
    /// Every connect attempt, in order.
    pub attempts: Vec<ConnectAttempt>,
    /// The address the fetch used.
    pub addr: Option<SocketAddr>,
    /// The TLS handshake record.
    pub tls: Option<TlsRecord>,
    /// The Web PKI check of the served chain for `host`.
    pub cert: Option<CertCheck>,
    /// The response head.
    pub response: Option<HttpResponse>,
    /// The body of a 200 response, at most `body_cap` bytes.
    pub body: Vec<u8>,
    /// The whole body was read (not capped, not cut by the deadline).
    pub body_complete: bool,
    /// SHA-256 of the complete body.
    pub body_sha256: Option<[u8; 32]>,
    /// `parse_policy` of a complete 200 body.
    pub policy: Option<PolicyEvaluation>,
    /// The last phase reached.
    pub phase: FetchPhase,
    /// Phase durations.
    pub timings: FetchTimings,
    /// Time from start to end.
    pub elapsed: Duration,
    /// Every failure found, the one that decides first (connection, TLS, certificate,
    /// status, media type, body).
    pub failures: Vec<FetchClass>,
    /// The facts of the first connection/TLS/HTTP/timeout failure.
    pub error: Option<FetchError>,
}

impl PolicyFetchResult {
    /// The deciding failure, `None` when the policy body was fetched by RFC 8461's rules.
    pub fn failure(&self) -> Option<FetchClass> {
        self.failures.first().copied()
    }

    /// The fetch succeeded: a 200 `text/plain` body within the cap from a host with a
    /// valid certificate (the policy itself may still be invalid: see `policy`).
    pub fn fetched(&self) -> bool {
        self.failures.is_empty() && self.body_complete
    }

    fn push(&mut self, class: FetchClass) {
        if !self.failures.contains(&class) {
            self.failures.push(class);
        }
    }

    fn fail(&mut self, class: FetchClass, error: FetchError) {
        self.push(class);
        if self.error.is_none() {
            self.error = Some(error);
        }
    }
}

/// The policy fetcher: a validated configuration and its trust store.
#[derive(Clone, Debug)]
pub struct PolicyFetcher {
    config: PolicyFetchConfig,
    webpki: WebPki,
}

impl PolicyFetcher {
    /// Validates `config` and loads its extra CA files next to webpki-roots.
    pub fn new(config: PolicyFetchConfig) -> Result<Self, PolicyFetchConfigError> {
        config.validate()?;
        let webpki = WebPki::new(&config.extra_ca)?;
        Ok(Self { config, webpki })
    }

    /// A fetcher with an explicit trust store (e.g. only a test world's CA).
    pub fn with_trust(
        config: PolicyFetchConfig,
        webpki: WebPki,
    ) -> Result<Self, PolicyFetchConfigError> {
        config.validate()?;
        Ok(Self { config, webpki })
    }

    /// The configuration.
    pub fn config(&self) -> &PolicyFetchConfig {
        &self.config
    }

    /// Fetches the policy of `domain` from the first of `addrs` (the resolved addresses
    /// of `mta-sts.<domain>`) that accepts a connection. Never panics; always returns the
    /// evidence gathered.
    pub async fn fetch(&self, domain: &str, addrs: &[IpAddr]) -> PolicyFetchResult {
        let start = Instant::now();
        let mut result = PolicyFetchResult {
            domain: domain.to_owned(),
            host: String::new(),
            port: self.config.port,
            started_unix: tls::unix_now(),
            attempts: Vec::new(),
            addr: None,
            tls: None,
            cert: None,
            response: None,
            body: Vec::new(),
            body_complete: false,
            body_sha256: None,
            policy: None,
            phase: FetchPhase::Start,
            timings: FetchTimings::default(),
            elapsed: Duration::ZERO,
            failures: Vec::new(),
            error: None,
        };
        let deadline = tokio::time::Instant::now() + self.config.timeout;
        let run = tokio::time::timeout_at(deadline, self.run(&mut result, addrs));
        if run.await.is_err() {
            let phase = result.phase;
            // The deadline comes after whatever else was already found (e.g. the
            // certificate), but it is why there is no policy.
            result.fail(FetchClass::FetchTimeout, FetchError::Timeout { phase });
        }
        result.elapsed = start.elapsed();
        result
    }

    async fn run(&self, r: &mut PolicyFetchResult, addrs: &[IpAddr]) {
        let domain = match normalize_host(&r.domain) {
            Ok(d) => d,
            Err(e) => {
                r.host = format!("mta-sts.{}", r.domain);
                return r.fail(FetchClass::InvalidDomain, FetchError::InvalidDomain(e));
            }
        };
        r.host = format!("mta-sts.{domain}");
        if addrs.is_empty() {
            return r.fail(FetchClass::NoAddress, FetchError::NoAddress);
        }

        r.phase = FetchPhase::Connect;
        let mut stream = None;
        for &ip in addrs {
            let addr = SocketAddr::new(ip, self.config.port);
            let (s, attempt) = tcp::connect(addr, self.config.connect_timeout).await;
            r.timings.connect = attempt.elapsed;
            r.attempts.push(attempt);
            if let Some(s) = s {
                r.addr = Some(addr);
                stream = Some(s);
                break;
            }
        }
        let Some(stream) = stream else {
            let error = r
                .attempts
                .last()
                .and_then(|a| a.outcome.err())
                .unwrap_or(ConnectError::Timeout);
            let class = match error {
                ConnectError::Refused => FetchClass::ConnectRefused,
                ConnectError::Timeout => FetchClass::ConnectTimeout,
                ConnectError::Unreachable => FetchClass::NetUnreachable,
                ConnectError::Reset => FetchClass::ConnectionReset,
                _ => FetchClass::ConnectError,
            };
            return r.fail(class, FetchError::Connect(error));
        };

        r.phase = FetchPhase::Tls;
        let hs = tls::handshake(stream, &r.host, &[b"http/1.1"], self.config.timeout).await;
        r.timings.tls = hs.record.handshake_time;
        if !hs.record.chain.is_empty() {
            r.cert = Some(self.webpki.check(&hs.record.chain, &r.host, r.started_unix));
        }
        let legacy = hs.record.legacy_only();
        let outcome = hs.record.outcome.clone();
        r.tls = Some(hs.record);
        let Some(stream) = hs.stream else {
            let class = if legacy {
                FetchClass::TlsLegacyOnly
            } else {
                FetchClass::TlsHandshakeFailed
            };
            let error = outcome.err().unwrap_or(HandshakeError::Closed);
            return r.fail(class, FetchError::Handshake(error));
        };
        // No chain at all (cannot happen with certificate-based TLS) counts as untrusted.
        let status = r
            .cert
            .as_ref()
            .map_or(CertStatus::NoCertificate, |c| c.status);
        if let Some(class) = cert_class(status) {
            r.push(class);
        }

        r.phase = FetchPhase::Response;
        let mut builder = hyper::client::conn::http1::Builder::new();
        builder.max_buf_size(self.config.max_head);
        let (mut sender, conn) = match builder.handshake(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(e) => return r.fail_http(&e),
        };
        let host_header = if self.config.port == 443 {
            r.host.clone()
        } else {
            format!("{}:{}", r.host, self.config.port)
        };
        let mut request = Request::get(POLICY_PATH).header(header::HOST, host_header);
        if let Some(ua) = &self.config.user_agent {
            request = request.header(header::USER_AGENT, ua.as_str());
        }
        let Ok(request) = request.body(Empty::<Bytes>::new()) else {
            // Only a User-Agent rejected by `http` gets here; validate() prevents it.
            let error = FetchError::Http {
                kind: HttpErrorKind::Other,
                io: None,
            };
            return r.fail(FetchClass::HttpProtocolError, error);
        };

        // Drive the connection next to the exchange; stop polling it once it has ended.
        let mut conn = std::pin::pin!(conn);
        let mut conn_ended = false;
        let cap = self.config.body_cap;
        let exchange = exchange(&mut sender, request, r, cap);
        let mut exchange = std::pin::pin!(exchange);
        loop {
            tokio::select! {
                () = &mut exchange => break,
                _ = &mut conn, if !conn_ended => conn_ended = true,
            }
        }
    }
}

impl PolicyFetchResult {
    fn fail_http(&mut self, error: &hyper::Error) {
        let io = io_kind_in(error);
        let tls = tls_error_in(error);
        let kind = if tls {
            HttpErrorKind::Tls
        } else if matches!(
            io,
            Some(
                io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
            )
        ) {
            HttpErrorKind::Reset
        } else if error.is_parse() || error.is_parse_status() {
            HttpErrorKind::Parse
        } else if error.is_incomplete_message() || error.is_closed() || error.is_canceled() {
            HttpErrorKind::Incomplete
        } else {
            HttpErrorKind::Other
        };
        // A peer that drops the connection before any response head is one failure,
        // whether the kernel delivered its RST or a bare EOF first (a timing race).
        let dropped_before_head = kind == HttpErrorKind::Incomplete && self.response.is_none();
        let class = if kind == HttpErrorKind::Reset || dropped_before_head {
            FetchClass::ConnectionReset
        } else {
            FetchClass::HttpProtocolError
        };
        self.fail(class, FetchError::Http { kind, io });
    }
}

/// Sends the request, records the head, reads a 200 body under the cap, and judges it.
async fn exchange(
    sender: &mut hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    request: Request<Empty<Bytes>>,
    r: &mut PolicyFetchResult,
    cap: usize,
) {
    let started = Instant::now();
    let response = sender.send_request(request).await;
    r.timings.response = started.elapsed();
    let response = match response {
        Ok(response) => response,
        Err(e) => return r.fail_http(&e),
    };
    let status = response.status();
    let head = HttpResponse {
        status: status.as_u16(),
        version: response.version(),
        location: header_text(response.headers(), header::LOCATION),
        content_type: header_text(response.headers(), header::CONTENT_TYPE),
        headers: headers_of_interest(response.headers()),
    };
    let content_type = head.content_type.clone();
    r.response = Some(head);
    if status != StatusCode::OK {
        // RFC 8461 §3.3: only 200 yields a policy; 3xx MUST NOT be followed.
        let class = if status.is_redirection() {
            FetchClass::HttpRedirect
        } else if status == StatusCode::NOT_FOUND {
            FetchClass::Http404
        } else {
            FetchClass::HttpStatusOther
        };
        r.phase = FetchPhase::Done;
        return r.push(class);
    }
    match content_type.as_deref().map(media_type_is_text_plain) {
        None => r.push(FetchClass::ContentTypeMissing),
        Some(false) => r.push(FetchClass::ContentTypeNotTextPlain),
        Some(true) => {}
    }

    r.phase = FetchPhase::Body;
    let started = Instant::now();
    // The cap is applied by hand rather than with `Limited`, which drops the frame that
    // crosses it: the stored prefix is then exactly the first `cap` bytes whatever the
    // framing, so two crawls of the same server store the same bytes.
    let mut body = response.into_body();
    let complete = loop {
        match body.frame().await {
            None => break true,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    let room = cap.saturating_sub(r.body.len());
                    if data.len() > room {
                        r.body.extend_from_slice(&data.slice(..room));
                        r.push(FetchClass::BodyTooLarge);
                        break false;
                    }
                    r.body.extend_from_slice(&data);
                }
            }
            Some(Err(e)) => {
                r.fail_http(&e);
                break false;
            }
        }
    };
    r.timings.body = started.elapsed();
    r.phase = FetchPhase::Done;
    r.body_complete = complete;
    if complete {
        if std::str::from_utf8(&r.body).is_err() {
            r.push(FetchClass::BodyNotUtf8);
        }
        r.body_sha256 = Some(tls::sha256(&r.body));
        r.policy = Some(parse_policy(&r.body));
    }
}

/// The fetch class of a certificate verdict, `None` when valid.
pub fn cert_class(status: CertStatus) -> Option<FetchClass> {
    match status {
        CertStatus::Valid => None,
        CertStatus::Expired => Some(FetchClass::CertExpired),
        CertStatus::NotYetValid => Some(FetchClass::CertNotYetValid),
        CertStatus::NameMismatch(_) => Some(FetchClass::CertNameMismatch),
        _ => Some(FetchClass::CertUntrusted),
    }
}

/// `text/plain`, ignoring parameters and case (RFC 8461 §3.2; RFC 9110 §8.3.1).
pub fn media_type_is_text_plain(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/plain"))
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

fn headers_of_interest(headers: &HeaderMap) -> Vec<(String, String)> {
    const NAMES: [header::HeaderName; 7] = [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::LOCATION,
        header::CACHE_CONTROL,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
        header::SERVER,
    ];
    NAMES
        .iter()
        .flat_map(|name| {
            headers.get_all(name).iter().map(move |v| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
        })
        .collect()
}

/// The first socket error kind in an error's source chain.
fn io_kind_in(error: &(dyn StdError + 'static)) -> Option<io::ErrorKind> {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = cause {
        if let Some(io) = e.downcast_ref::<io::Error>() {
            return Some(io.kind());
        }
        cause = e.source();
    }
    None
}

/// A rustls error in an error's source chain.
fn tls_error_in(error: &(dyn StdError + 'static)) -> bool {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(error);
    while let Some(e) = cause {
        if e.downcast_ref::<rustls::Error>().is_some() {
            return true;
        }
        cause = e.source();
    }
    false
}

#[cfg(test)]
mod tests;
