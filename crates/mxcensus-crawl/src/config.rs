//! The crawl configuration: every knob of a run, validated before anything is sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use mxcensus_probe::dns::{DnsConfig, DnsConfigError};
use mxcensus_probe::policy_fetch::{PolicyFetchConfig, PolicyFetchConfigError};
use mxcensus_probe::smtp::{SmtpConfig, SmtpConfigError};
use serde::Serialize;

use crate::input::{InputFormat, Shard};
use crate::politeness::Exclusions;

/// A progress report, handed to [`CrawlConfig::progress`] about once a second.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Progress {
    /// Domains finished in this run.
    pub domains_done: u64,
    /// Domains skipped because a previous run committed them.
    pub domains_resumed: u64,
    /// Input lines rejected (and excluded domains) in this run.
    pub input_errors: u64,
    /// Domains finished in this run whose verdict has at least one error class.
    pub domain_errors: u64,
    /// Domains in flight.
    pub in_flight: u64,
    /// SMTP probes made (addresses contacted) in this run.
    pub smtp_probes: u64,
    /// Probes answered from the (host, ip) cache.
    pub smtp_cache_hits: u64,
    /// Policy fetches made.
    pub policy_fetches: u64,
    /// DNS queries sent to the resolver (every try, CD re-queries included).
    pub dns_queries: u64,
    /// Seconds from the first domain's start to the latest DNS answer (or time-out): the
    /// window in which the DNS stage ran. The SMTP and HTTPS work of the last domains
    /// may go on after it.
    pub dns_active_secs: f64,
    /// Domains whose DNS stage failed transiently and were parked for the late retry.
    pub domains_parked: u64,
    /// Parked domains re-crawled (and written) by the late retry.
    pub domains_retried: u64,
    /// Input lines read so far.
    pub lines_read: u64,
    /// Seconds since the start.
    pub elapsed_secs: f64,
}

/// A progress callback.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Everything a crawl needs besides its input and output directory.
#[derive(Clone)]
pub struct CrawlConfig {
    /// DNS probe settings (resolvers, time-outs, retries with backoff).
    pub dns: DnsConfig,
    /// SMTP probe settings (port, EHLO name, time-outs, extra CAs).
    pub smtp: SmtpConfig,
    /// Policy fetch settings (port, time-out, extra CAs).
    pub policy: PolicyFetchConfig,
    /// Port of the TLSA owner names (`_<port>._tcp.<host>`): 25, whatever port is dialled.
    pub tlsa_port: u16,
    /// Input format.
    pub format: InputFormat,
    /// Shard of the input this run owns.
    pub shard: Shard,
    /// Snapshot identifier (the `snapshot=` partition value).
    pub snapshot: String,
    /// Reopen the shard directory and finish it.
    pub resume: bool,
    /// Domains in their DNS stage (MX and TXT lookups) at once; up to four times as many
    /// may be in flight, waiting on SMTP or HTTPS.
    pub concurrency: usize,
    /// SMTP probes in flight at once.
    pub smtp_concurrency: usize,
    /// DNS lookups per second (0: unlimited).
    pub dns_qps: u32,
    /// New connections per second, SMTP and HTTPS (0: unlimited).
    pub connects_per_sec: u32,
    /// Simultaneous connections per address.
    pub per_address: usize,
    /// Simultaneous connections per /24 (IPv4) or /48 (IPv6).
    pub per_network: usize,
    /// Domains, addresses and networks never contacted.
    pub exclusions: Exclusions,
    /// A DNSSEC-signed name that a validating resolver answers with AD.
    pub canary_secure: String,
    /// A deliberately broken name that a validating resolver answers with SERVFAIL.
    pub canary_bogus: String,
    /// Pause before the one retry of a probe that timed out (connect or greeting).
    pub smtp_retry_pause: Duration,
    /// A domain whose own lookups (MX, `_mta-sts` and `_smtp._tls` TXT, the policy host's
    /// addresses) ended in a transient failure (time-out, SERVFAIL that the CD=1 re-query
    /// does not settle as bogus, network error) is parked and re-crawled once
    /// this long after, when the burst that caused it is likely over; zero disables.
    pub late_retry_delay: Duration,
    /// At most this many domains parked at once; beyond it a domain is written with its
    /// error (keeps memory flat).
    pub late_retry_cap: usize,
    /// Commit a segment at least this often.
    pub commit_every: Duration,
    /// Commit a segment after this many domains.
    pub commit_domains: usize,
    /// Rows buffered per table before a row group is written.
    pub batch_rows: usize,
    /// Stop reading input after this many domains (tests, partial runs); the manifest
    /// then says `interrupted`.
    pub stop_after: Option<u64>,
    /// Set to stop reading input (e.g. on Ctrl-C); in-flight domains finish.
    pub stop: Arc<AtomicBool>,
    /// What the input is (a path or `-`), for the manifest.
    pub input_label: String,
    /// Progress callback.
    pub progress: Option<ProgressFn>,
    /// Git revision of the build, when known.
    pub git_revision: Option<String>,
    /// Extra settings to record in the manifest (e.g. the simnet file used).
    pub extra_manifest: serde_json::Value,
}

impl std::fmt::Debug for CrawlConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CrawlConfig")
            .field("dns", &self.dns)
            .field("smtp", &self.smtp)
            .field("policy", &self.policy)
            .field("snapshot", &self.snapshot)
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

/// Why a configuration was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CrawlConfigError {
    /// The DNS settings.
    #[error("dns: {0}")]
    Dns(#[from] DnsConfigError),
    /// The SMTP settings.
    #[error("smtp: {0}")]
    Smtp(#[from] SmtpConfigError),
    /// The policy fetch settings.
    #[error("policy fetch: {0}")]
    Policy(#[from] PolicyFetchConfigError),
    /// A count that must be positive is zero (or absurd).
    #[error("{what} must be between 1 and {max}, got {got}")]
    Range {
        /// Which setting.
        what: &'static str,
        /// Its value.
        got: u64,
        /// The largest accepted.
        max: u64,
    },
    /// The snapshot id is not a safe directory name.
    #[error("snapshot id {0:?} must be 1-64 characters of [A-Za-z0-9._-], not starting with '.'")]
    Snapshot(String),
    /// A canary is not a domain name.
    #[error("canary {0:?} is not a domain name")]
    Canary(String),
}

impl CrawlConfig {
    /// Defaults for the Internet: resolver 127.0.0.1:53, ports 25/443, 256 domains and
    /// 64 probes in flight, 1 connection per address, 8 per /24, 1000 DNS lookups and 100
    /// connections per second, canaries `internetsociety.org` / `dnssec-failed.org`.
    pub fn new(ehlo_name: impl Into<String>, snapshot: impl Into<String>) -> CrawlConfig {
        CrawlConfig {
            dns: DnsConfig::default(),
            smtp: SmtpConfig::new(ehlo_name),
            policy: PolicyFetchConfig::default(),
            tlsa_port: 25,
            format: InputFormat::Auto,
            shard: Shard::ALL,
            snapshot: snapshot.into(),
            resume: false,
            concurrency: 256,
            smtp_concurrency: 64,
            dns_qps: 1000,
            connects_per_sec: 100,
            per_address: 1,
            per_network: 8,
            exclusions: Exclusions::default(),
            canary_secure: "internetsociety.org".to_owned(),
            canary_bogus: "dnssec-failed.org".to_owned(),
            smtp_retry_pause: Duration::from_secs(5),
            late_retry_delay: Duration::from_secs(30),
            late_retry_cap: 10_000,
            commit_every: Duration::from_secs(60),
            commit_domains: 10_000,
            batch_rows: 4096,
            stop_after: None,
            stop: Arc::new(AtomicBool::new(false)),
            input_label: "-".to_owned(),
            progress: None,
            git_revision: None,
            extra_manifest: serde_json::Value::Null,
        }
    }

    /// Checks every setting without side effects.
    pub fn validate(&self) -> Result<(), CrawlConfigError> {
        self.dns.validate()?;
        self.smtp.validate()?;
        self.policy.validate()?;
        let ranges: [(&'static str, u64, u64); 6] = [
            ("concurrency", self.concurrency as u64, 1_000_000),
            ("smtp_concurrency", self.smtp_concurrency as u64, 100_000),
            ("per_address", self.per_address as u64, 1024),
            ("per_network", self.per_network as u64, 65_536),
            ("commit_domains", self.commit_domains as u64, 10_000_000),
            ("batch_rows", self.batch_rows as u64, 1_000_000),
        ];
        for (what, got, max) in ranges {
            if got == 0 || got > max {
                return Err(CrawlConfigError::Range { what, got, max });
            }
        }
        if self.tlsa_port == 0 {
            return Err(CrawlConfigError::Range {
                what: "tlsa_port",
                got: 0,
                max: 65535,
            });
        }
        let s = &self.snapshot;
        let safe = !s.is_empty()
            && s.len() <= 64
            && !s.starts_with('.')
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !safe {
            return Err(CrawlConfigError::Snapshot(s.clone()));
        }
        for c in [&self.canary_secure, &self.canary_bogus] {
            if mxcensus_proto::dnsname::normalize_host(c).is_err() {
                return Err(CrawlConfigError::Canary(c.clone()));
            }
        }
        Ok(())
    }

    /// The settings as recorded in the manifest.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "resolvers": self.dns.resolvers.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
            "dns_timeout_ms": self.dns.timeout.as_millis() as u64,
            "dns_attempts": self.dns.attempts,
            "dns_backoff_ms": self.dns.backoff.as_millis() as u64,
            "smtp_port": self.smtp.port,
            "ehlo_name": self.smtp.ehlo_name,
            "smtp_connect_timeout_ms": self.smtp.connect_timeout.as_millis() as u64,
            "smtp_greeting_timeout_ms": self.smtp.greeting_timeout.as_millis() as u64,
            "smtp_command_timeout_ms": self.smtp.command_timeout.as_millis() as u64,
            "smtp_tls_timeout_ms": self.smtp.tls_timeout.as_millis() as u64,
            "smtp_retry_pause_ms": self.smtp_retry_pause.as_millis() as u64,
            "late_retry_delay_ms": self.late_retry_delay.as_millis() as u64,
            "late_retry_cap": self.late_retry_cap,
            "https_port": self.policy.port,
            "policy_timeout_ms": self.policy.timeout.as_millis() as u64,
            "policy_body_cap": self.policy.body_cap,
            "extra_ca": self.smtp.extra_ca.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "tlsa_port": self.tlsa_port,
            "format": format!("{:?}", self.format).to_ascii_lowercase(),
            "shard": format!("{}/{}", self.shard.index, self.shard.count),
            "concurrency": self.concurrency,
            "smtp_concurrency": self.smtp_concurrency,
            "dns_qps": self.dns_qps,
            "connects_per_sec": self.connects_per_sec,
            "per_address": self.per_address,
            "per_network": self.per_network,
            "exclusions": self.exclusions.len(),
            "canary_secure": self.canary_secure,
            "canary_bogus": self.canary_bogus,
            "stop_after": self.stop_after,
            "extra": self.extra_manifest,
        })
    }
}

/// Extra CA files for both TLS probes.
pub fn set_extra_ca(config: &mut CrawlConfig, files: Vec<PathBuf>) {
    config.smtp.extra_ca = files.clone();
    config.policy.extra_ca = files;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_bad_values_do_not() {
        let c = CrawlConfig::new("probe.example.org", "2026-01-01");
        c.validate().unwrap();
        let mut bad = c.clone();
        bad.concurrency = 0;
        assert!(matches!(
            bad.validate(),
            Err(CrawlConfigError::Range {
                what: "concurrency",
                ..
            })
        ));
        let mut bad = c.clone();
        bad.snapshot = "../x".into();
        assert!(matches!(bad.validate(), Err(CrawlConfigError::Snapshot(_))));
        let mut bad = c.clone();
        bad.canary_bogus = "not a name".into();
        assert!(matches!(bad.validate(), Err(CrawlConfigError::Canary(_))));
        let mut bad = c;
        bad.smtp.ehlo_name = "localhost".into();
        assert!(matches!(bad.validate(), Err(CrawlConfigError::Smtp(_))));
    }
}
