//! # The DNS probe: lookups through a validating resolver, with their DNSSEC status
//!
//! [`DnsClient`] is a stub client for one or more recursive resolvers given by address
//! (in practice a local validating Unbound, DESIGN "DNS and DNSSEC"). It keeps no cache:
//! every lookup reaches the resolver, which caches. Each query sets RD, AD (RFC 6840
//! §5.7) and an EDNS0 OPT with DO=1 (RFC 4035 §3.2.1); a truncated UDP answer is asked
//! again over TCP; time-outs and SERVFAIL are retried with backoff.
//!
//! [`DnsClient::lookup`] returns a [`DnsLookup`]: the outcome class ([`LookupStatus`]:
//! NOERROR with data, NODATA, NXDOMAIN, SERVFAIL, REFUSED, FORMERR, time-out, ...), AD,
//! typed answers, the CNAME chain, Extended DNS Errors (RFC 8914), every exchange, and
//! after SERVFAIL a CD=1 re-query that tells bogus data from a failure (RFC 4035 §5.5,
//! SPEC §G step 4). Its [`DnssecStatus`] is `Unknown` until [`check_validator`] proved,
//! with a signed and a deliberately broken canary, that the resolver validates (SPEC §G
//! step 6): without that, AD=0 could mean "not validated" rather than "insecure".
//!
//! Typed helpers for the crawler: [`DnsClient::mx`] (null MX, RFC 7505; implicit MX,
//! RFC 5321 §5.1), [`DnsClient::txt`], [`DnsClient::addresses`], [`DnsClient::tlsa`], and
//! the RFC 7672 §2.2.2–2.2.3 TLSA base-domain logic ([`DnsClient::dane_candidates`],
//! [`DnsClient::tlsa_discovery`]).
//!
//! Why not hickory-resolver's own client: its UDP stream binds a new socket for every
//! query, retries and times out inside (so attempts cannot be reported), and leaves TC
//! fallback to the resolver layer, which sends neither DO nor AD unless it validates
//! itself. Encoding and decoding use hickory-proto.
//!
//! This module must not decide headline verdicts (proto does, from this evidence), nor
//! schedule or rate-limit (the crawler does). AD is trusted only from loopback resolvers
//! unless [`DnsConfig::trust_remote_ad`] is set (RFC 4035 §4.9.3, RFC 7672 §2.1.1).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use mxcensus_probe::dns::{DnsClient, DnsConfig, check_validator};
//! use hickory_proto::rr::Name;
//! let config = DnsConfig {
//!     resolvers: vec!["127.0.0.1:53".parse()?],
//!     ..DnsConfig::default()
//! };
//! let client = DnsClient::new(config).await?;
//! let canaries = check_validator(
//!     &client,
//!     &Name::from_ascii("internetsociety.org.")?,
//!     &Name::from_ascii("dnssec-failed.org.")?,
//! )
//! .await;
//! let mx = client.mx(&Name::from_ascii("example.org.")?).await;
//! println!("{} {:?} {:?}", canaries.validates, mx.outcome, mx.lookup.dnssec);
//! # Ok(()) }
//! ```
use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

pub mod client;
pub mod lookup;
pub mod status;
pub mod wire;

pub use client::{DnsClient, DnsClientError, Exchange, QueryResult, Transport};
pub use lookup::{
    AddressLookup, CandidateDecision, DaneCandidates, DnsLookup, MxExchange, MxLookup, MxOutcome,
    QueryEvidence, TlsaDiscovery, TlsaLookup, TlsaOutcome, TxtLookup, ValidatorCheck,
    check_validator, tlsa_owner,
};
pub use status::{DnssecStatus, LookupStatus};
pub use wire::{AnswerRecord, CnameLink, ExtendedError, RecordValue};

/// Configuration of the DNS probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsConfig {
    /// Recursive resolvers (ip:port), used in turn; retries go to the next one.
    pub resolvers: Vec<SocketAddr>,
    /// Wait for one answer (per try, and for the TCP fallback).
    pub timeout: Duration,
    /// Tries per query before its failure is recorded (time-out, SERVFAIL, socket error).
    pub attempts: u32,
    /// Pause before the first retry; doubled for each further one (capped at 10 s).
    pub backoff: Duration,
    /// Queries in flight at once over all resolvers.
    pub max_in_flight: usize,
    /// UDP payload size advertised in EDNS0 (RFC 6891 §6.2.5; 1232 avoids fragmentation,
    /// DNS Flag Day 2020).
    pub edns_payload: u16,
    /// UDP sockets per resolver. Each socket's receive buffer (208 KiB by default on
    /// Linux) holds about 150 small answers, so keep `max_in_flight / sockets` near 128 or
    /// answers are dropped under bursts and show up as time-outs.
    pub udp_sockets_per_resolver: usize,
    /// Trust AD from resolvers outside loopback (RFC 4035 §4.9.3 wants a secure path).
    pub trust_remote_ad: bool,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            resolvers: vec![SocketAddr::from(([127, 0, 0, 1], 53))],
            timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Duration::from_millis(250),
            max_in_flight: 1024,
            edns_payload: 1232,
            udp_sockets_per_resolver: 8,
            trust_remote_ad: false,
        }
    }
}

/// Most queries in flight per UDP socket: keeps random IDs quick to find among 65,536.
pub const MAX_IN_FLIGHT_PER_SOCKET: usize = 16_384;

/// Why a [`DnsConfig`] is rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DnsConfigError {
    /// No resolver given.
    #[error("no resolver given")]
    NoResolvers,
    /// A resolver address with port 0 or an unspecified IP.
    #[error("resolver {0} is not a usable address")]
    UnusableResolver(SocketAddr),
    /// The same resolver twice.
    #[error("resolver {0} is listed twice")]
    DuplicateResolver(SocketAddr),
    /// Time-out zero or over a minute.
    #[error("timeout {0:?} is outside 1 ms..=60 s")]
    Timeout(Duration),
    /// Attempts zero or over ten.
    #[error("attempts {0} is outside 1..=10")]
    Attempts(u32),
    /// Backoff over a minute.
    #[error("backoff {0:?} is over 60 s")]
    Backoff(Duration),
    /// Zero, or more than the sockets can hold.
    #[error("max_in_flight {got} is outside 1..={max}")]
    MaxInFlight {
        /// Asked for.
        got: usize,
        /// Allowed with the configured sockets.
        max: usize,
    },
    /// EDNS payload under 512 or over 65,535 is meaningless (RFC 6891 §6.2.5).
    #[error("edns_payload {0} is under 512")]
    EdnsPayload(u16),
    /// Sockets per resolver zero or over 64.
    #[error("udp_sockets_per_resolver {0} is outside 1..=64")]
    Sockets(usize),
}

impl DnsConfig {
    /// Checks the configuration without side effects.
    pub fn validate(&self) -> Result<(), DnsConfigError> {
        if self.resolvers.is_empty() {
            return Err(DnsConfigError::NoResolvers);
        }
        let mut seen = HashSet::new();
        for &resolver in &self.resolvers {
            if resolver.port() == 0 || resolver.ip().is_unspecified() {
                return Err(DnsConfigError::UnusableResolver(resolver));
            }
            if !seen.insert(resolver) {
                return Err(DnsConfigError::DuplicateResolver(resolver));
            }
        }
        if self.timeout < Duration::from_millis(1) || self.timeout > Duration::from_secs(60) {
            return Err(DnsConfigError::Timeout(self.timeout));
        }
        if !(1..=10).contains(&self.attempts) {
            return Err(DnsConfigError::Attempts(self.attempts));
        }
        if self.backoff > Duration::from_secs(60) {
            return Err(DnsConfigError::Backoff(self.backoff));
        }
        if !(1..=64).contains(&self.udp_sockets_per_resolver) {
            return Err(DnsConfigError::Sockets(self.udp_sockets_per_resolver));
        }
        // Round-robin over one resolver's sockets bounds what each one holds.
        let max = self.udp_sockets_per_resolver * MAX_IN_FLIGHT_PER_SOCKET;
        if self.max_in_flight == 0 || self.max_in_flight > max {
            return Err(DnsConfigError::MaxInFlight {
                got: self.max_in_flight,
                max,
            });
        }
        if self.edns_payload < 512 {
            return Err(DnsConfigError::EdnsPayload(self.edns_payload));
        }
        Ok(())
    }

    /// Whether AD from these resolvers can be believed: all on loopback, or trusted by
    /// configuration.
    pub fn ad_path_trusted(&self) -> bool {
        self.trust_remote_ad || self.resolvers.iter().all(|r| r.ip().is_loopback())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        assert_eq!(DnsConfig::default().validate(), Ok(()));
        assert!(DnsConfig::default().ad_path_trusted());
    }

    #[test]
    fn invalid_configs_are_rejected() {
        let base = DnsConfig::default();
        let r: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let cases: Vec<(DnsConfig, DnsConfigError)> = vec![
            (
                DnsConfig {
                    resolvers: vec![],
                    ..base.clone()
                },
                DnsConfigError::NoResolvers,
            ),
            (
                DnsConfig {
                    resolvers: vec!["127.0.0.1:0".parse().unwrap()],
                    ..base.clone()
                },
                DnsConfigError::UnusableResolver("127.0.0.1:0".parse().unwrap()),
            ),
            (
                DnsConfig {
                    resolvers: vec!["0.0.0.0:53".parse().unwrap()],
                    ..base.clone()
                },
                DnsConfigError::UnusableResolver("0.0.0.0:53".parse().unwrap()),
            ),
            (
                DnsConfig {
                    resolvers: vec![r, r],
                    ..base.clone()
                },
                DnsConfigError::DuplicateResolver(r),
            ),
            (
                DnsConfig {
                    timeout: Duration::ZERO,
                    ..base.clone()
                },
                DnsConfigError::Timeout(Duration::ZERO),
            ),
            (
                DnsConfig {
                    timeout: Duration::from_secs(61),
                    ..base.clone()
                },
                DnsConfigError::Timeout(Duration::from_secs(61)),
            ),
            (
                DnsConfig {
                    attempts: 0,
                    ..base.clone()
                },
                DnsConfigError::Attempts(0),
            ),
            (
                DnsConfig {
                    attempts: 11,
                    ..base.clone()
                },
                DnsConfigError::Attempts(11),
            ),
            (
                DnsConfig {
                    backoff: Duration::from_secs(61),
                    ..base.clone()
                },
                DnsConfigError::Backoff(Duration::from_secs(61)),
            ),
            (
                DnsConfig {
                    udp_sockets_per_resolver: 0,
                    ..base.clone()
                },
                DnsConfigError::Sockets(0),
            ),
            (
                DnsConfig {
                    max_in_flight: 0,
                    ..base.clone()
                },
                DnsConfigError::MaxInFlight {
                    got: 0,
                    max: 8 * MAX_IN_FLIGHT_PER_SOCKET,
                },
            ),
            (
                DnsConfig {
                    udp_sockets_per_resolver: 1,
                    max_in_flight: MAX_IN_FLIGHT_PER_SOCKET + 1,
                    ..base.clone()
                },
                DnsConfigError::MaxInFlight {
                    got: MAX_IN_FLIGHT_PER_SOCKET + 1,
                    max: MAX_IN_FLIGHT_PER_SOCKET,
                },
            ),
            (
                DnsConfig {
                    edns_payload: 511,
                    ..base.clone()
                },
                DnsConfigError::EdnsPayload(511),
            ),
        ];
        for (config, expected) in cases {
            assert_eq!(config.validate(), Err(expected));
        }
    }

    #[test]
    fn remote_ad_needs_explicit_trust() {
        let remote = DnsConfig {
            resolvers: vec!["192.0.2.1:53".parse().unwrap()],
            ..DnsConfig::default()
        };
        assert!(!remote.ad_path_trusted());
        assert!(
            DnsConfig {
                trust_remote_ad: true,
                ..remote
            }
            .ad_path_trusted()
        );
    }
}
