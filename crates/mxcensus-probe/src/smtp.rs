//! The SMTP STARTTLS probe (SPEC §I): one session per (MX host, IP).
//!
//! Sequence: TCP connect; read the *complete* greeting before sending anything; `EHLO`
//! (or `HELO` when EHLO is refused); `STARTTLS` if advertised; a recording TLS handshake
//! with SNI = the MX name ([`crate::tls::handshake`]: the chain is kept whatever its
//! validity); `EHLO` again over TLS; `QUIT`. The probe never sends MAIL, RCPT, DATA, BDAT,
//! VRFY or EXPN: the only commands it can send are `EHLO`, `HELO`, `STARTTLS` and `QUIT`.
//!
//! The result always carries its evidence (connect outcome and RTT, greeting, EHLO lines
//! before and after TLS, STARTTLS reply, the [`TlsRecord`], the Web PKI [`CertCheck`] for
//! the MX name, a capped timestamped transcript, timings) and at most one failure class.
//! "No STARTTLS" ([`SmtpClass::NoStarttls`]) and "certificate failed" (a completed
//! handshake whose [`CertCheck`] is not valid, with no failure class) stay apart.
//!
//! Bounds: every wait has a timeout (connect, greeting, each command, the handshake), every
//! reply line is capped at [`SmtpConfig::max_line`] octets, every reply at
//! [`SmtpConfig::max_reply_lines`] lines, and the transcript at a fixed size.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mxcensus_proto::dnsname::normalize_host;
use mxcensus_proto::failure_classes;
use mxcensus_proto::tlsa::{DaneVerification, TlsaRecord, verify_chain};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::time::timeout_at;

use crate::tcp::{self, ConnectAttempt, ConnectError};
use crate::tls::{self, CertCheck, HandshakeError, TlsRecord, TrustError, WebPki};

failure_classes! {
    /// Why an SMTP probe of one (MX, IP) did not reach a completed STARTTLS handshake
    /// followed by EHLO (SPEC §I's list, plus the network and protocol classes it implies).
    pub enum SmtpClass {
        /// The TCP connection was refused (RST).
        ConnectRefused = "connect_refused", Error, "SPEC §I; RFC 5321 §4.5.4",
            "Make the MX host accept connections on port 25 or remove it from the MX set.";
        /// No TCP connection within the connect timeout.
        ConnectTimeout = "connect_timeout", Error, "SPEC §I (crawler rule: connect 10-15 s)",
            "Open port 25 to the Internet in every firewall on the path.";
        /// No route to the address (IPv4 and IPv6 are probed separately).
        NetUnreachable = "net_unreachable", Error, "SPEC §B, §I",
            "Publish only addresses that are routed on the Internet.";
        /// Another local or remote socket error while connecting.
        ConnectError = "connect_error", Error, "SPEC §I",
            "Check that the published address is a reachable unicast address.";
        /// The server reset the connection.
        ConnectionReset = "connection_reset", Error, "RFC 5321 §3.8",
            "Check the MTA and any middlebox that resets SMTP sessions.";
        /// The server closed the connection unexpectedly.
        ConnectionClosed = "connection_closed", Error, "RFC 5321 §3.8",
            "Check the MTA logs: it closes sessions without a reply.";
        /// No complete greeting within the greeting timeout.
        GreetingTimeout = "greeting_timeout", Error,
            "RFC 5321 §4.5.3.2.1; SPEC §I (crawler rule: greeting >= 30 s)",
            "Send the 220 greeting promptly; long delays make senders give up.";
        /// The greeting refused the session (554 or another 5xx code).
        Greeting554 = "greeting_554", Error, "RFC 5321 §3.1",
            "Accept SMTP sessions from senders on the Internet (554 refuses all mail).";
        /// The greeting said the service is unavailable (421 or another 4xx code).
        Greeting421 = "greeting_421", Error, "RFC 5321 §4.2.3, §3.8",
            "Fix the cause of the temporary refusal (load, maintenance, rate limits).";
        /// No reply to EHLO, STARTTLS (or HELO) within the command timeout.
        ReplyTimeout = "reply_timeout", Error,
            "RFC 5321 §4.5.3.2; SPEC §I (crawler rule: 30 s per command)",
            "Answer commands promptly.";
        /// EHLO was refused (a HELO may have been accepted): no extensions, so no STARTTLS.
        EhloRejected = "ehlo_rejected", Error, "RFC 5321 §4.1.4; RFC 3207 §4",
            "Support EHLO (ESMTP) so that STARTTLS can be advertised.";
        /// EHLO succeeded without the STARTTLS keyword.
        NoStarttls = "no_starttls", Error, "RFC 3207 §4; RFC 8461 §4; RFC 7672 §2.2",
            "Enable STARTTLS with a certificate for the MX host name.";
        /// STARTTLS answered 454 (TLS temporarily unavailable).
        Starttls454 = "starttls_454", Error, "RFC 3207 §4",
            "Fix the TLS configuration (certificate and key files readable by the MTA).";
        /// STARTTLS answered with another code (501, 5xx, ...).
        StarttlsOther = "starttls_other", Error, "RFC 3207 §4",
            "Answer STARTTLS with 220 when it is advertised.";
        /// The server sent bytes after its 220 reply to STARTTLS and before the handshake
        /// (plaintext injection into the TLS session); the probe refused to go on.
        StarttlsPlaintextInjection = "starttls_plaintext_injection", Error,
            "RFC 3207 §5; SPEC §I (plaintext injection guard)",
            "Send nothing after the 220 reply to STARTTLS; check for an injecting middlebox.";
        /// The TLS handshake failed (alert, incompatible parameters, reset, timeout).
        TlsHandshakeFailed = "tls_handshake_failed", Error, "RFC 3207 §4.1; RFC 8446 §6",
            "Serve TLS 1.2 or 1.3 with a current cipher suite and a complete chain.";
        /// The server only speaks TLS versions below 1.2.
        TlsLegacyOnly = "tls_legacy_only", Error, "RFC 8461 §7.2; RFC 8996",
            "Enable TLS 1.2 and 1.3 on the MTA.";
        /// The handshake completed but EHLO over TLS failed.
        EhloAfterTlsFailed = "ehlo_after_tls_failed", Error, "RFC 3207 §4.2",
            "Answer EHLO inside the TLS session.";
        /// The server sent something that is not an SMTP reply, or an unexpected code.
        ProtocolError = "protocol_error", Error, "RFC 5321 §4.2",
            "Send well-formed replies (three digits, then space or hyphen, CRLF).";
    }
}

/// Where in the session something happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// TCP connect.
    Connect,
    /// Waiting for the 220 greeting.
    Greeting,
    /// EHLO before TLS.
    Ehlo,
    /// HELO after a refused EHLO.
    Helo,
    /// The STARTTLS command.
    Starttls,
    /// The TLS handshake.
    TlsHandshake,
    /// EHLO inside TLS.
    EhloAfterTls,
    /// QUIT.
    Quit,
}

/// Why reading a reply failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ReplyError {
    /// No complete reply within the time limit.
    Timeout,
    /// The peer closed the connection (possibly mid-reply).
    Closed,
    /// The peer reset the connection.
    Reset,
    /// Another socket error.
    Io(std::io::ErrorKind),
    /// TLS failed inside the session (an alert, a bad record).
    Tls(rustls::Error),
    /// A line longer than the configured maximum.
    LineTooLong,
    /// A line that is not `ddd`, `ddd text` or `ddd-text`, or codes that differ between
    /// the lines of one reply (RFC 5321 §4.2.1).
    Malformed,
    /// More lines than the configured maximum in one reply.
    TooManyLines,
}

impl ReplyError {
    fn from_io(error: std::io::Error) -> Self {
        if let Some(tls) = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return ReplyError::Tls(tls.clone());
        }
        match error.kind() {
            std::io::ErrorKind::UnexpectedEof => ReplyError::Closed,
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => ReplyError::Reset,
            std::io::ErrorKind::TimedOut => ReplyError::Timeout,
            kind => ReplyError::Io(kind),
        }
    }
}

/// What went wrong, with the facts (the failure class is the summary of this).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum SmtpError {
    /// The TCP connection could not be set up.
    Connect(ConnectError),
    /// Reading a reply (or writing a command) failed.
    Reply {
        /// Where.
        phase: Phase,
        /// What.
        error: ReplyError,
    },
    /// A reply code that does not fit the phase.
    UnexpectedCode {
        /// Where.
        phase: Phase,
        /// The code received.
        code: u16,
    },
    /// Bytes followed the 220 reply to STARTTLS before the handshake.
    DataAfterStarttlsReply {
        /// How many bytes were already buffered.
        bytes: usize,
    },
    /// The TLS handshake failed.
    Handshake(HandshakeError),
}

/// Probe settings (SPEC §I crawler rules as defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    /// TCP port (25; other ports for test worlds).
    pub port: u16,
    /// The name sent in EHLO/HELO: an FQDN with forward-confirmed reverse DNS, or an
    /// address literal (`[192.0.2.1]`, `[IPv6:2001:db8::1]`) (RFC 5321 §4.1.1.1, §4.1.4).
    pub ehlo_name: String,
    /// TCP connect timeout (10 s).
    pub connect_timeout: Duration,
    /// Longest wait for the complete greeting after connect (60 s; SPEC: at least 30 s).
    pub greeting_timeout: Duration,
    /// Longest wait for each reply to a command (30 s).
    pub command_timeout: Duration,
    /// Longest TLS handshake (30 s).
    pub tls_timeout: Duration,
    /// Longest reply line, CRLF included (RFC 5321 §4.5.3.1.5: 512; default 1024 slack).
    pub max_line: usize,
    /// Most lines in one reply (EHLO lists are the longest; default 100).
    pub max_reply_lines: usize,
    /// Most transcript lines kept (default 200).
    pub transcript_max_lines: usize,
    /// Extra CA certificate files (PEM) trusted besides webpki-roots (`--extra-ca`).
    pub extra_ca: Vec<PathBuf>,
}

impl SmtpConfig {
    /// Defaults with the given EHLO name.
    pub fn new(ehlo_name: impl Into<String>) -> Self {
        Self {
            port: 25,
            ehlo_name: ehlo_name.into(),
            connect_timeout: Duration::from_secs(10),
            greeting_timeout: Duration::from_secs(60),
            command_timeout: Duration::from_secs(30),
            tls_timeout: Duration::from_secs(30),
            max_line: 1024,
            max_reply_lines: 100,
            transcript_max_lines: 200,
            extra_ca: Vec::new(),
        }
    }

    /// Rejects unusable settings.
    pub fn validate(&self) -> Result<(), SmtpConfigError> {
        if self.port == 0 {
            return Err(SmtpConfigError::Port);
        }
        if !valid_ehlo_name(&self.ehlo_name) {
            return Err(SmtpConfigError::EhloName(self.ehlo_name.clone()));
        }
        for (what, value) in [
            ("connect_timeout", self.connect_timeout),
            ("greeting_timeout", self.greeting_timeout),
            ("command_timeout", self.command_timeout),
            ("tls_timeout", self.tls_timeout),
        ] {
            if value.is_zero() || value > Duration::from_secs(600) {
                return Err(SmtpConfigError::Timeout { what, value });
            }
        }
        // RFC 5321 §4.5.3.1.5: reply lines of 512 octets must be accepted.
        if !(512..=65536).contains(&self.max_line) {
            return Err(SmtpConfigError::MaxLine(self.max_line));
        }
        if !(1..=10_000).contains(&self.max_reply_lines) {
            return Err(SmtpConfigError::MaxReplyLines(self.max_reply_lines));
        }
        Ok(())
    }
}

/// An FQDN (at least two LDH labels) or an address literal.
fn valid_ehlo_name(name: &str) -> bool {
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return match inner.strip_prefix("IPv6:") {
            Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
            None => inner.parse::<std::net::Ipv4Addr>().is_ok(),
        };
    }
    name.is_ascii()
        && !name.ends_with('.')
        && normalize_host(name).is_ok_and(|n| n.contains('.') && n == name.to_ascii_lowercase())
}

/// Why a configuration was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpConfigError {
    /// Port 0.
    #[error("port 0 is not usable")]
    Port,
    /// The EHLO name is neither an FQDN nor an address literal.
    #[error("EHLO name {0:?} is neither an FQDN nor an address literal")]
    EhloName(String),
    /// A timeout of zero or over ten minutes.
    #[error("{what} of {value:?} is outside (0, 600 s]")]
    Timeout {
        /// Which setting.
        what: &'static str,
        /// Its value.
        value: Duration,
    },
    /// A line cap below 512 octets or absurdly large.
    #[error("max_line {0} is outside 512..=65536")]
    MaxLine(usize),
    /// A reply line cap of 0 or absurdly large.
    #[error("max_reply_lines {0} is outside 1..=10000")]
    MaxReplyLines(usize),
    /// An extra CA file could not be loaded.
    #[error(transparent)]
    Trust(#[from] TrustError),
}

/// One SMTP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line after the code and separator (lossy UTF-8).
    pub lines: Vec<String>,
}

impl Reply {
    /// Parses one reply line: `(code, is_last, text)`.
    fn parse_line(line: &[u8]) -> Option<(u16, bool, String)> {
        let digits = line.get(..3)?;
        if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(digits.first()?) {
            return None;
        }
        let code = digits
            .iter()
            .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
        let (last, text) = match line.get(3) {
            None => (true, &[][..]),
            Some(b' ') => (true, line.get(4..).unwrap_or_default()),
            Some(b'-') => (false, line.get(4..).unwrap_or_default()),
            Some(_) => return None,
        };
        Some((code, last, String::from_utf8_lossy(text).into_owned()))
    }
}

/// One EHLO keyword line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EhloKeyword {
    /// The keyword, uppercased (keywords are case-insensitive, RFC 5321 §2.4).
    pub keyword: String,
    /// Its parameters as sent (may be empty).
    pub params: String,
}

/// A parsed EHLO reply (RFC 5321 §4.1.1.1): the server's name, then one keyword a line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ehlo {
    /// The first token of the first line (the server's domain).
    pub domain: String,
    /// The keyword lines, in order.
    pub keywords: Vec<EhloKeyword>,
}

impl Ehlo {
    /// Parses a 250 EHLO reply.
    pub fn parse(reply: &Reply) -> Self {
        let mut lines = reply.lines.iter();
        let domain = lines
            .next()
            .and_then(|l| l.split_ascii_whitespace().next())
            .unwrap_or_default()
            .to_owned();
        let keywords = lines
            .filter_map(|line| {
                let line = line.trim();
                let (keyword, params) = match line.split_once([' ', '\t']) {
                    Some((k, p)) => (k, p.trim()),
                    None => (line, ""),
                };
                (!keyword.is_empty()).then(|| EhloKeyword {
                    keyword: keyword.to_ascii_uppercase(),
                    params: params.to_owned(),
                })
            })
            .collect();
        Ehlo { domain, keywords }
    }

    /// STARTTLS is advertised: a line whose first token is `STARTTLS`, any case
    /// (RFC 3207 §4 defines it without parameters; parameters are tolerated and visible in
    /// [`EhloKeyword::params`]).
    pub fn starttls(&self) -> bool {
        self.keyword("STARTTLS").is_some()
    }

    /// The line of `keyword` (uppercase), if advertised.
    pub fn keyword(&self, keyword: &str) -> Option<&EhloKeyword> {
        self.keywords
            .iter()
            .find(|k| k.keyword.eq_ignore_ascii_case(keyword))
    }
}

/// Who sent a transcript line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The probe.
    Sent,
    /// The server.
    Received,
}

/// One line of the transcript.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscriptLine {
    /// Time since the probe started.
    pub at: Duration,
    /// Who sent it.
    pub direction: Direction,
    /// Inside TLS.
    pub tls: bool,
    /// The line without CRLF (lossy UTF-8, capped at the configured line length).
    pub line: String,
}

/// The capped session transcript.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The lines, in order.
    pub lines: Vec<TranscriptLine>,
    /// Lines were dropped after the cap.
    pub truncated: bool,
}

impl Transcript {
    /// The commands the probe sent, in order (verbs and arguments).
    pub fn sent(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(|l| l.direction == Direction::Sent)
            .map(|l| l.line.as_str())
    }
}

/// How long each phase took (zero when it did not run).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    /// TCP connect.
    pub connect: Duration,
    /// From connected to the end of the greeting (the greeting delay).
    pub greeting: Duration,
    /// EHLO (and HELO) round trip.
    pub ehlo: Duration,
    /// STARTTLS round trip.
    pub starttls: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// EHLO over TLS round trip.
    pub ehlo_after_tls: Duration,
    /// QUIT round trip.
    pub quit: Duration,
    /// The whole probe.
    pub total: Duration,
}

/// Everything one probe of one (MX, IP) found.
#[derive(Clone, Debug, PartialEq)]
pub struct SmtpResult {
    /// The MX host name probed (the certificate name; also the SNI unless another was
    /// given, see [`TlsRecord::sni`]).
    pub mx_name: String,
    /// The address and port dialled.
    pub addr: SocketAddr,
    /// Probe start, Unix seconds (certificates are judged at this time).
    pub started_unix: i64,
    /// The TCP connect attempt (RTT on success).
    pub connect: ConnectAttempt,
    /// The greeting (complete, possibly multi-line).
    pub greeting: Option<Reply>,
    /// The reply to EHLO before TLS.
    pub ehlo: Option<Reply>,
    /// The parsed EHLO before TLS (250 only).
    pub ehlo_parsed: Option<Ehlo>,
    /// The reply to HELO, when EHLO was refused.
    pub helo: Option<Reply>,
    /// STARTTLS was advertised in EHLO.
    pub starttls_offered: bool,
    /// The reply to STARTTLS.
    pub starttls_reply: Option<Reply>,
    /// The TLS handshake record (chain, version, cipher, ...).
    pub tls: Option<TlsRecord>,
    /// The Web PKI check of the served chain for the MX name, at `started_unix`.
    pub cert: Option<CertCheck>,
    /// The reply to EHLO over TLS.
    pub ehlo_after_tls: Option<Reply>,
    /// STARTTLS was advertised again inside TLS (RFC 3207 §4.2 forbids it).
    pub starttls_after_tls: bool,
    /// QUIT was sent.
    pub quit_sent: bool,
    /// The reply to QUIT (221 expected, RFC 5321 §4.1.1.10).
    pub quit_reply: Option<Reply>,
    /// Every line sent and received, with timestamps (capped).
    pub transcript: Transcript,
    /// Phase durations.
    pub timings: Timings,
    /// Why the probe stopped short of EHLO over TLS; `None` when it got there (a
    /// certificate failure is not a probe failure: see `cert`).
    pub failure: Option<SmtpClass>,
    /// Where the failure happened.
    pub failure_phase: Option<Phase>,
    /// The facts of the failure.
    pub error: Option<SmtpError>,
}

impl SmtpResult {
    /// The greeting's delay after connect (the greeting phase time).
    pub fn greeting_delay(&self) -> Option<Duration> {
        self.greeting.as_ref().map(|_| self.timings.greeting)
    }

    /// DANE verification of the served chain against secure TLSA records (see
    /// [`verify_dane`]); `None` when no handshake completed (no chain to verify).
    pub fn verify_dane(
        &self,
        records: &[TlsaRecord],
        reference_names: &[&str],
    ) -> Option<DaneVerification> {
        let tls = self.tls.as_ref().filter(|t| t.completed())?;
        Some(verify_dane(
            records,
            &tls.chain,
            reference_names,
            self.started_unix,
        ))
    }
}

/// Verifies a served chain (DER, leaf first) against secure TLSA records under RFC 7672
/// (`mxcensus_proto::tlsa::verify_chain`). `reference_names` are the DANE-TA reference
/// identifiers of RFC 7672 §3.2.2, the TLSA base domain first; `now` is Unix seconds.
/// The caller must pass only TLSA records whose RRset validated as secure.
pub fn verify_dane(
    records: &[TlsaRecord],
    chain: &[Vec<u8>],
    reference_names: &[&str],
    now: i64,
) -> DaneVerification {
    verify_chain(records, chain, reference_names, now)
}

/// The SMTP prober: a validated configuration and its trust store.
#[derive(Clone, Debug)]
pub struct SmtpProbe {
    config: SmtpConfig,
    webpki: WebPki,
}

impl SmtpProbe {
    /// Validates `config` and loads its extra CA files next to webpki-roots.
    pub fn new(config: SmtpConfig) -> Result<Self, SmtpConfigError> {
        config.validate()?;
        let webpki = WebPki::new(&config.extra_ca)?;
        Ok(Self { config, webpki })
    }

    /// A prober with an explicit trust store (e.g. only a test world's CA).
    pub fn with_trust(config: SmtpConfig, webpki: WebPki) -> Result<Self, SmtpConfigError> {
        config.validate()?;
        Ok(Self { config, webpki })
    }

    /// The configuration.
    pub fn config(&self) -> &SmtpConfig {
        &self.config
    }

    /// Probes `mx_name` at `addr` (port from the configuration). Never panics and always
    /// returns the evidence gathered.
    pub async fn probe(&self, addr: IpAddr, mx_name: &str) -> SmtpResult {
        self.probe_with_sni(addr, mx_name, mx_name).await
    }

    /// As [`Self::probe`], with an SNI other than the MX name: the TLSA base domain when
    /// CNAMEs intervene (RFC 7672 §8.1, §2.2.3). The Web PKI check is still for `mx_name`
    /// (RFC 8461 §4.2).
    pub async fn probe_with_sni(&self, addr: IpAddr, mx_name: &str, sni: &str) -> SmtpResult {
        let addr = SocketAddr::new(addr, self.config.port);
        let mut session = Session::new(self, addr, mx_name, sni);
        session.run().await;
        session.result.timings.total = session.start.elapsed();
        session.result
    }
}

struct Session<'a> {
    probe: &'a SmtpProbe,
    sni: String,
    start: Instant,
    result: SmtpResult,
}

impl<'a> Session<'a> {
    fn new(probe: &'a SmtpProbe, addr: SocketAddr, mx_name: &str, sni: &str) -> Self {
        Self {
            probe,
            sni: sni.to_owned(),
            start: Instant::now(),
            result: SmtpResult {
                mx_name: mx_name.to_owned(),
                addr,
                started_unix: tls::unix_now(),
                connect: ConnectAttempt {
                    addr,
                    elapsed: Duration::ZERO,
                    outcome: Err(ConnectError::Timeout),
                },
                greeting: None,
                ehlo: None,
                ehlo_parsed: None,
                helo: None,
                starttls_offered: false,
                starttls_reply: None,
                tls: None,
                cert: None,
                ehlo_after_tls: None,
                starttls_after_tls: false,
                quit_sent: false,
                quit_reply: None,
                transcript: Transcript::default(),
                timings: Timings::default(),
                failure: None,
                failure_phase: None,
                error: None,
            },
        }
    }

    fn config(&self) -> &'a SmtpConfig {
        &self.probe.config
    }

    fn fail(&mut self, class: SmtpClass, phase: Phase, error: SmtpError) {
        // The first failure is the one that stopped the probe.
        if self.result.failure.is_none() {
            self.result.failure = Some(class);
            self.result.failure_phase = Some(phase);
            self.result.error = Some(error);
        }
    }

    fn fail_reply(&mut self, phase: Phase, error: ReplyError) {
        let class = match (&error, phase) {
            (_, Phase::EhloAfterTls) => SmtpClass::EhloAfterTlsFailed,
            (ReplyError::Timeout, Phase::Greeting) => SmtpClass::GreetingTimeout,
            (ReplyError::Timeout, _) => SmtpClass::ReplyTimeout,
            (ReplyError::Closed, _) => SmtpClass::ConnectionClosed,
            (ReplyError::Reset | ReplyError::Io(_), _) => SmtpClass::ConnectionReset,
            (
                ReplyError::Tls(_)
                | ReplyError::LineTooLong
                | ReplyError::Malformed
                | ReplyError::TooManyLines,
                _,
            ) => SmtpClass::ProtocolError,
        };
        self.fail(class, phase, SmtpError::Reply { phase, error });
    }

    fn log(&mut self, direction: Direction, tls: bool, line: &[u8]) {
        let transcript = &mut self.result.transcript;
        if transcript.lines.len() >= self.probe.config.transcript_max_lines {
            transcript.truncated = true;
            return;
        }
        let kept = line.get(..self.probe.config.max_line).unwrap_or(line);
        transcript.lines.push(TranscriptLine {
            at: self.start.elapsed(),
            direction,
            tls,
            line: String::from_utf8_lossy(kept).into_owned(),
        });
    }

    /// Sends one command line. Only the commands of this module's sequence reach here.
    async fn send<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        command: &str,
        tls: bool,
    ) -> Result<(), ReplyError> {
        self.log(Direction::Sent, tls, command.as_bytes());
        let deadline = tokio::time::Instant::now() + self.config().command_timeout;
        let line = format!("{command}\r\n");
        let write = async {
            io.get_mut().write_all(line.as_bytes()).await?;
            io.get_mut().flush().await
        };
        match timeout_at(deadline, write).await {
            Err(_) => Err(ReplyError::Timeout),
            Ok(Err(e)) => Err(ReplyError::from_io(e)),
            Ok(Ok(())) => Ok(()),
        }
    }

    /// Reads one complete reply within `limit`.
    async fn read_reply<S: AsyncBufRead + Unpin>(
        &mut self,
        io: &mut S,
        limit: Duration,
        tls: bool,
    ) -> Result<Reply, ReplyError> {
        let deadline = tokio::time::Instant::now() + limit;
        let max_line = self.config().max_line;
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            if lines.len() >= self.config().max_reply_lines {
                return Err(ReplyError::TooManyLines);
            }
            let line = match timeout_at(deadline, read_line(io, max_line)).await {
                Err(_) => return Err(ReplyError::Timeout),
                Ok(Err(e)) => return Err(e),
                Ok(Ok(line)) => line,
            };
            self.log(Direction::Received, tls, &line);
            let Some((line_code, last, text)) = Reply::parse_line(&line) else {
                return Err(ReplyError::Malformed);
            };
            if *code.get_or_insert(line_code) != line_code {
                return Err(ReplyError::Malformed);
            }
            lines.push(text);
            if last {
                return Ok(Reply {
                    code: line_code,
                    lines,
                });
            }
        }
    }

    /// Sends a command and reads its reply.
    async fn command<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        command: &str,
        tls: bool,
    ) -> Result<Reply, ReplyError> {
        self.send(io, command, tls).await?;
        let limit = self.config().command_timeout;
        self.read_reply(io, limit, tls).await
    }

    /// Sends QUIT and reads the reply, where the connection still allows it; failures
    /// here are recorded but never change the class.
    async fn quit<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut BufReader<S>, tls: bool) {
        let started = Instant::now();
        if self.send(io, "QUIT", tls).await.is_ok() {
            self.result.quit_sent = true;
            // A polite goodbye is not worth a long wait.
            let limit = self.config().command_timeout.min(Duration::from_secs(10));
            self.result.quit_reply = self.read_reply(io, limit, tls).await.ok();
        }
        self.result.timings.quit = started.elapsed();
        let _ = tokio::time::timeout(Duration::from_secs(1), io.get_mut().shutdown()).await;
    }

    /// Records a failed reply, then says QUIT where the connection still allows it: not
    /// after a closed or reset connection, and never before a greeting (early talk).
    async fn fail_reply_quit<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        phase: Phase,
        error: ReplyError,
        tls: bool,
    ) {
        let usable = matches!(
            error,
            ReplyError::Timeout
                | ReplyError::Malformed
                | ReplyError::LineTooLong
                | ReplyError::TooManyLines
        ) && !(phase == Phase::Greeting && error == ReplyError::Timeout);
        self.fail_reply(phase, error);
        if usable {
            self.quit(io, tls).await;
        }
    }

    async fn run(&mut self) {
        let config = self.config();
        let (stream, attempt) = tcp::connect(self.result.addr, config.connect_timeout).await;
        self.result.timings.connect = attempt.elapsed;
        self.result.connect = attempt;
        let stream = match (stream, self.result.connect.outcome) {
            (Some(stream), _) => stream,
            (None, outcome) => {
                let error = outcome.err().unwrap_or(ConnectError::Timeout);
                let class = match error {
                    ConnectError::Refused => SmtpClass::ConnectRefused,
                    ConnectError::Timeout => SmtpClass::ConnectTimeout,
                    ConnectError::Unreachable => SmtpClass::NetUnreachable,
                    ConnectError::Reset => SmtpClass::ConnectionReset,
                    _ => SmtpClass::ConnectError,
                };
                self.fail(class, Phase::Connect, SmtpError::Connect(error));
                return;
            }
        };
        let mut io = BufReader::new(stream);

        // The complete greeting before anything is sent (early talkers get penalised).
        let started = Instant::now();
        let greeting = self
            .read_reply(&mut io, config.greeting_timeout, false)
            .await;
        self.result.timings.greeting = started.elapsed();
        let greeting = match greeting {
            Ok(reply) => reply,
            Err(e) => {
                return self
                    .fail_reply_quit(&mut io, Phase::Greeting, e, false)
                    .await;
            }
        };
        let code = greeting.code;
        self.result.greeting = Some(greeting);
        match code {
            220 => {}
            500..=599 => {
                // RFC 5321 §3.1: the server waits for QUIT and answers 503 meanwhile.
                let error = SmtpError::UnexpectedCode {
                    phase: Phase::Greeting,
                    code,
                };
                self.fail(SmtpClass::Greeting554, Phase::Greeting, error);
                return self.quit(&mut io, false).await;
            }
            400..=499 => {
                let error = SmtpError::UnexpectedCode {
                    phase: Phase::Greeting,
                    code,
                };
                self.fail(SmtpClass::Greeting421, Phase::Greeting, error);
                return self.quit(&mut io, false).await;
            }
            _ => {
                let error = SmtpError::UnexpectedCode {
                    phase: Phase::Greeting,
                    code,
                };
                self.fail(SmtpClass::ProtocolError, Phase::Greeting, error);
                return self.quit(&mut io, false).await;
            }
        }

        let started = Instant::now();
        let ehlo_command = format!("EHLO {}", config.ehlo_name);
        let ehlo = self.command(&mut io, &ehlo_command, false).await;
        let ehlo = match ehlo {
            Ok(reply) => reply,
            Err(e) => {
                self.result.timings.ehlo = started.elapsed();
                return self.fail_reply_quit(&mut io, Phase::Ehlo, e, false).await;
            }
        };
        let code = ehlo.code;
        self.result.ehlo = Some(ehlo);
        match code {
            250 => {}
            500..=599 => {
                // RFC 5321 §4.1.4: HELO may follow, but it has no extensions: no STARTTLS.
                let helo_command = format!("HELO {}", config.ehlo_name);
                match self.command(&mut io, &helo_command, false).await {
                    Ok(reply) => self.result.helo = Some(reply),
                    Err(e) => {
                        self.result.timings.ehlo = started.elapsed();
                        return self.fail_reply_quit(&mut io, Phase::Helo, e, false).await;
                    }
                }
                self.result.timings.ehlo = started.elapsed();
                let error = SmtpError::UnexpectedCode {
                    phase: Phase::Ehlo,
                    code,
                };
                self.fail(SmtpClass::EhloRejected, Phase::Ehlo, error);
                return self.quit(&mut io, false).await;
            }
            400..=499 => {
                self.result.timings.ehlo = started.elapsed();
                let error = SmtpError::UnexpectedCode {
                    phase: Phase::Ehlo,
                    code,
                };
                self.fail(SmtpClass::EhloRejected, Phase::Ehlo, error);
                return self.quit(&mut io, false).await;
            }
            _ => {
                self.result.timings.ehlo = started.elapsed();
                let error = SmtpError::UnexpectedCode {
                    phase: Phase::Ehlo,
                    code,
                };
                self.fail(SmtpClass::ProtocolError, Phase::Ehlo, error);
                return self.quit(&mut io, false).await;
            }
        }
        self.result.timings.ehlo = started.elapsed();
        let parsed = self.result.ehlo.as_ref().map(Ehlo::parse);
        self.result.starttls_offered = parsed.as_ref().is_some_and(Ehlo::starttls);
        self.result.ehlo_parsed = parsed;
        if !self.result.starttls_offered {
            let error = SmtpError::UnexpectedCode {
                phase: Phase::Ehlo,
                code,
            };
            self.fail(SmtpClass::NoStarttls, Phase::Ehlo, error);
            return self.quit(&mut io, false).await;
        }

        let started = Instant::now();
        let reply = self.command(&mut io, "STARTTLS", false).await;
        self.result.timings.starttls = started.elapsed();
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                return self
                    .fail_reply_quit(&mut io, Phase::Starttls, e, false)
                    .await;
            }
        };
        let code = reply.code;
        self.result.starttls_reply = Some(reply);
        if code != 220 {
            let class = if code == 454 {
                SmtpClass::Starttls454
            } else {
                SmtpClass::StarttlsOther
            };
            let error = SmtpError::UnexpectedCode {
                phase: Phase::Starttls,
                code,
            };
            self.fail(class, Phase::Starttls, error);
            return self.quit(&mut io, false).await;
        }
        // Plaintext injection guard: nothing may precede the server's first TLS record.
        let buffered = io.buffer().len();
        if buffered > 0 {
            let injected = io.buffer().to_vec();
            for line in injected.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                self.log(Direction::Received, false, line);
            }
            let error = SmtpError::DataAfterStarttlsReply { bytes: buffered };
            self.fail(
                SmtpClass::StarttlsPlaintextInjection,
                Phase::Starttls,
                error,
            );
            return;
        }

        let stream = io.into_inner();
        let hs = tls::handshake(stream, &self.sni, &[], config.tls_timeout).await;
        self.result.timings.tls = hs.record.handshake_time;
        if !hs.record.chain.is_empty() {
            self.result.cert = Some(self.probe.webpki.check(
                &hs.record.chain,
                &self.result.mx_name,
                self.result.started_unix,
            ));
        }
        let legacy = hs.record.legacy_only();
        let outcome = hs.record.outcome.clone();
        self.result.tls = Some(hs.record);
        let Some(stream) = hs.stream else {
            // RFC 3207 §4.1: the plaintext session cannot resume after a failed handshake.
            let class = if legacy {
                SmtpClass::TlsLegacyOnly
            } else {
                SmtpClass::TlsHandshakeFailed
            };
            let error = outcome
                .err()
                .map_or(SmtpError::Handshake(HandshakeError::Closed), |e| {
                    SmtpError::Handshake(e)
                });
            return self.fail(class, Phase::TlsHandshake, error);
        };

        // RFC 3207 §4.2: the session is reset; EHLO again, STARTTLS must not reappear.
        let mut io = BufReader::new(stream);
        let started = Instant::now();
        let ehlo = self.command(&mut io, &ehlo_command, true).await;
        self.result.timings.ehlo_after_tls = started.elapsed();
        match ehlo {
            Ok(reply) if reply.code == 250 => {
                self.result.starttls_after_tls = Ehlo::parse(&reply).starttls();
                self.result.ehlo_after_tls = Some(reply);
            }
            Ok(reply) => {
                let error = SmtpError::UnexpectedCode {
                    phase: Phase::EhloAfterTls,
                    code: reply.code,
                };
                self.result.ehlo_after_tls = Some(reply);
                self.fail(SmtpClass::EhloAfterTlsFailed, Phase::EhloAfterTls, error);
            }
            Err(e) => {
                return self
                    .fail_reply_quit(&mut io, Phase::EhloAfterTls, e, true)
                    .await;
            }
        }
        self.quit(&mut io, true).await;
    }
}

/// Reads one line (LF-terminated, CR stripped) of at most `max` octets.
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> Result<Vec<u8>, ReplyError> {
    let mut line = Vec::new();
    loop {
        let buf = r.fill_buf().await.map_err(ReplyError::from_io)?;
        if buf.is_empty() {
            return Err(ReplyError::Closed);
        }
        let (chunk, used, found) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (buf.get(..i).unwrap_or_default(), i + 1, true),
            None => (buf, buf.len(), false),
        };
        if line.len() + chunk.len() > max {
            return Err(ReplyError::LineTooLong);
        }
        line.extend_from_slice(chunk);
        r.consume(used);
        if found {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
    }
}

#[cfg(test)]
mod tests;
