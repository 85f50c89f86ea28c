//! Politeness: the exclusion list, per-address connection gates and global rate limits
//! (DESIGN.md principle 4).
//!
//! - [`Exclusions`] is checked before any packet is sent: an excluded input domain gets no
//!   DNS query at all, an excluded address no connection.
//! - [`ConnectionGates`] allow at most N simultaneous connections to one address (1 by
//!   default) and M to one /24 (IPv4) or /48 (IPv6). Entries exist only while a
//!   connection is in flight, so memory follows concurrency, not the number of addresses.
//! - [`RateLimits`] are global token buckets (governor) for DNS queries and new
//!   connections per second.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;
use mxcensus_proto::dnsname::normalize_host;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A line of an exclusion file that is neither an address, a network nor a domain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("exclusion file line {line}: {text:?} is not an IP address, a CIDR network or a domain")]
pub struct ExclusionParseError {
    /// 1-based line number.
    pub line: usize,
    /// The offending entry.
    pub text: String,
}

/// Domains (with their subdomains), addresses and networks never to be contacted.
#[derive(Clone, Debug, Default)]
pub struct Exclusions {
    domains: std::collections::HashSet<String>,
    nets: Vec<IpNet>,
}

impl Exclusions {
    /// Parses one entry per line: an IP address, a CIDR network, or a domain (which also
    /// excludes its subdomains). `#` starts a comment; blank lines are ignored.
    pub fn parse(text: &str) -> Result<Exclusions, ExclusionParseError> {
        let mut ex = Exclusions::default();
        for (i, raw) in text.lines().enumerate() {
            let entry = raw.split('#').next().unwrap_or("").trim();
            if entry.is_empty() {
                continue;
            }
            if let Ok(ip) = entry.parse::<IpAddr>() {
                ex.nets.push(IpNet::from(ip));
            } else if let Ok(net) = entry.parse::<IpNet>() {
                ex.nets.push(net.trunc());
            } else if let Ok(domain) = normalize_host(entry) {
                ex.domains.insert(domain);
            } else {
                return Err(ExclusionParseError {
                    line: i + 1,
                    text: entry.to_owned(),
                });
            }
        }
        Ok(ex)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.domains.len() + self.nets.len()
    }

    /// True when nothing is excluded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `domain` (normalised) or one of its parents is excluded.
    pub fn excludes_domain(&self, domain: &str) -> bool {
        if self.domains.is_empty() {
            return false;
        }
        let mut rest = domain;
        loop {
            if self.domains.contains(rest) {
                return true;
            }
            match rest.split_once('.') {
                Some((_, parent)) => rest = parent,
                None => return false,
            }
        }
    }

    /// Whether `ip` falls in an excluded address or network.
    pub fn excludes_ip(&self, ip: IpAddr) -> bool {
        self.nets.iter().any(|n| n.contains(&ip))
    }
}

/// The key of the network an address belongs to for the per-network cap.
fn network_of(ip: IpAddr) -> IpNet {
    let prefix = if ip.is_ipv4() { 24 } else { 48 };
    // The prefix lengths are valid for their families, so this cannot fail.
    IpNet::new(ip, prefix).map_or(IpNet::from(ip), |n| n.trunc())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum GateKey {
    Addr(IpAddr),
    Net(IpNet),
}

/// Caps simultaneous connections per address and per network.
#[derive(Debug)]
pub struct ConnectionGates {
    per_addr: usize,
    per_net: usize,
    gates: Mutex<HashMap<GateKey, Arc<Semaphore>>>,
}

/// Held while a connection is open; releases its slots when dropped.
#[derive(Debug)]
pub struct GatePermit {
    gates: Arc<ConnectionGates>,
    held: Vec<(GateKey, OwnedSemaphorePermit)>,
}

impl Drop for GatePermit {
    fn drop(&mut self) {
        let held = std::mem::take(&mut self.held);
        let Ok(mut map) = self.gates.gates.lock() else {
            return;
        };
        for (key, permit) in held {
            drop(permit);
            // Forget idle gates so memory follows concurrency, not history.
            let idle = map.get(&key).is_some_and(|s| {
                Arc::strong_count(s) == 1 && s.available_permits() == self.gates.max_of(key)
            });
            if idle {
                map.remove(&key);
            }
        }
    }
}

impl ConnectionGates {
    /// At most `per_addr` connections to one address and `per_net` to one /24 or /48.
    pub fn new(per_addr: usize, per_net: usize) -> Arc<ConnectionGates> {
        Arc::new(ConnectionGates {
            per_addr: per_addr.max(1),
            per_net: per_net.max(1),
            gates: Mutex::new(HashMap::new()),
        })
    }

    fn max_of(&self, key: GateKey) -> usize {
        match key {
            GateKey::Addr(_) => self.per_addr,
            GateKey::Net(_) => self.per_net,
        }
    }

    fn gate(&self, key: GateKey) -> Arc<Semaphore> {
        let mut map = match self.gates.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        Arc::clone(
            map.entry(key)
                .or_insert_with(|| Arc::new(Semaphore::new(self.max_of(key)))),
        )
    }

    /// Waits for a slot for `ip` (network first, then address, always in that order so
    /// two waiters cannot deadlock).
    pub async fn acquire(self: &Arc<Self>, ip: IpAddr) -> GatePermit {
        let mut held = Vec::with_capacity(2);
        for key in [GateKey::Net(network_of(ip)), GateKey::Addr(ip)] {
            let sem = self.gate(key);
            // The semaphores are never closed, so acquisition cannot fail; if it ever did,
            // proceeding without the slot is safer than a panic in a crawl.
            if let Ok(p) = sem.acquire_owned().await {
                held.push((key, p));
            }
        }
        GatePermit {
            gates: Arc::clone(self),
            held,
        }
    }

    /// Gates currently tracked (for tests and memory checks).
    pub fn tracked(&self) -> usize {
        self.gates.lock().map_or(0, |m| m.len())
    }
}

/// Global rates, each optional (`None` = unlimited).
#[derive(Debug, Default)]
pub struct RateLimits {
    dns: Option<DefaultDirectRateLimiter>,
    connects: Option<DefaultDirectRateLimiter>,
}

impl RateLimits {
    /// DNS queries per second and new TCP connections per second (0 = unlimited).
    pub fn new(dns_per_sec: u32, connects_per_sec: u32) -> RateLimits {
        let limiter =
            |n: u32| NonZeroU32::new(n).map(|n| RateLimiter::direct(Quota::per_second(n)));
        RateLimits {
            dns: limiter(dns_per_sec),
            connects: limiter(connects_per_sec),
        }
    }

    /// Waits until one DNS query may be sent.
    pub async fn dns(&self) {
        if let Some(l) = &self.dns {
            l.until_ready().await;
        }
    }

    /// Waits until one new connection may be opened.
    pub async fn connect(&self) {
        if let Some(l) = &self.connects {
            l.until_ready().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn exclusions_cover_domains_subdomains_addresses_and_networks() {
        let ex = Exclusions::parse(
            "# opt-outs\nExample.ORG.\n192.0.2.7\n198.51.100.0/24 # a provider\n2001:db8::/32\n\n",
        )
        .expect("parse");
        assert_eq!(ex.len(), 4);
        assert!(ex.excludes_domain("example.org"));
        assert!(ex.excludes_domain("mail.example.org"));
        assert!(!ex.excludes_domain("example.org.uk"));
        assert!(!ex.excludes_domain("notexample.org"));
        assert!(ex.excludes_ip("192.0.2.7".parse().expect("ip")));
        assert!(!ex.excludes_ip("192.0.2.8".parse().expect("ip")));
        assert!(ex.excludes_ip("198.51.100.200".parse().expect("ip")));
        assert!(ex.excludes_ip("2001:db8::25".parse().expect("ip")));
        let err = Exclusions::parse("ok.org\nnot a thing\n").expect_err("bad line");
        assert_eq!(err.line, 2);
    }

    #[tokio::test]
    async fn one_connection_per_address_and_gates_are_forgotten() {
        let gates = ConnectionGates::new(1, 4);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for i in 0..20u8 {
            let gates = Arc::clone(&gates);
            let in_flight = Arc::clone(&in_flight);
            let max_seen = Arc::clone(&max_seen);
            // Ten tasks on one address, ten spread over one /24.
            let ip: IpAddr = if i % 2 == 0 {
                "127.1.0.1".parse().expect("ip")
            } else {
                format!("127.2.0.{i}").parse().expect("ip")
            };
            tasks.push(tokio::spawn(async move {
                let _permit = gates.acquire(ip).await;
                if ip == "127.1.0.1".parse::<IpAddr>().expect("ip") {
                    let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    max_seen.fetch_max(now, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    in_flight.fetch_sub(1, Ordering::SeqCst);
                } else {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }));
        }
        for t in tasks {
            t.await.expect("task");
        }
        assert_eq!(max_seen.load(Ordering::SeqCst), 1);
        assert_eq!(gates.tracked(), 0, "idle gates must be dropped");
    }

    #[tokio::test]
    async fn rate_limits_pass_and_unlimited_is_free() {
        let unlimited = RateLimits::new(0, 0);
        for _ in 0..1000 {
            unlimited.dns().await;
            unlimited.connect().await;
        }
        let limited = RateLimits::new(1000, 1000);
        for _ in 0..10 {
            limited.dns().await;
        }
    }
}
