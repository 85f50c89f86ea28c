//! What a validating Unbound needs to resolve the engine's tree: the `stub-zone` stanzas
//! and the root trust anchor. Verified against Unbound 1.17 (tests/dns_unbound.rs).
//!
//! Why more than one `stub-zone` "." (findings with Unbound 1.17):
//! - Unbound asks DS at the parent's servers. When a DS answer is a NODATA whose SOA and
//!   NSEC come from a zone below the delegation point it used (the engine answers
//!   `unsigned.test. DS` from `test.`, but Unbound's point is "."), it decides the answer
//!   came from too low and looks up the parent's NS addresses to ask them directly, on
//!   port 53: that fails on any other port, and every insecure delegation turns SERVFAIL.
//!   A stub zone for each zone that delegates children (the root and each TLD) makes the
//!   parent the delegation point, so the NODATA is accepted (insecure, as it should).
//! - Unbound keeps server health per (address, delegation point). A zone that times out
//!   or refuses would mark the one engine address down for its whole delegation point,
//!   failing every other zone under it for minutes (seen: after one `Timeout` zone under
//!   a shared `test.` stub, every `test.` name SERVFAILed). A stub zone per faulty zone
//!   isolates it: that zone SERVFAILs, the rest of the tree keeps resolving.
//! - A zone with `SigningFault::MissingSignature` also wants its own stub: Unbound checks
//!   for a zone cut below unsigned data with a DS query answered from that zone, which
//!   under the parent's stub is "too low" again (SERVFAIL with EDE 23 instead of the
//!   precise EDE 10 "RRSIGs Missing"). Still bogus without it, just less precise.
//!
//! Server options that matter besides the usual (`do-not-query-localhost: no`,
//! `local-zone: "<tld>." nodefault` for special-use TLDs such as `test.`,
//! `module-config: "validator iterator"`, `ede: yes`):
//! - `discard-timeout: 0`: Unbound (1.17.1 as patched by Debian) drops a reply that took
//!   longer than 1900 ms, expecting the client to have retried; a time-out zone takes
//!   about 5 s to fail, so without this a one-shot client never sees its SERVFAIL.
//! - `infra-cache-max-rtt: 3000`: bounds how long a time-out zone takes to fail (~5 s).
//!
//! (A single `forward-zone` "." to the engine also validates the whole tree, since
//! Unbound then sends RD=1 and skips the DS re-routing above; faulty zones still need
//! their own `forward-zone` to isolate them. The stub form keeps iterative semantics.)
use std::fmt::Write as _;
use std::net::SocketAddr;

use hickory_proto::rr::Name;

use super::zone::{ZoneKey, ds_for};

/// `stub-zone` stanzas sending the root, every zone in `parents` (zones that delegate
/// children: the TLDs) and every zone in `isolated` (zones planted to time out, refuse,
/// fail, or with missing signatures) to the engine at `auth`.
pub fn unbound_stub_zones<'a>(
    auth: SocketAddr,
    parents: impl IntoIterator<Item = &'a Name>,
    isolated: impl IntoIterator<Item = &'a Name>,
) -> String {
    let mut out = String::new();
    let root = Name::root();
    let zones = std::iter::once(root).chain(parents.into_iter().chain(isolated).cloned());
    for zone in zones {
        let mut name = zone.to_ascii();
        if !name.ends_with('.') {
            name.push('.');
        }
        let _ = write!(
            out,
            "stub-zone:\n    name: \"{name}\"\n    stub-addr: {}@{}\n    stub-prime: no\n",
            auth.ip(),
            auth.port()
        );
    }
    out
}

/// The root's DS (SHA-256) in zone-file form, for Unbound's `trust-anchor-file`.
pub fn root_trust_anchor(root_key: &ZoneKey) -> String {
    let ds = ds_for(&Name::root(), root_key);
    let mut hex = String::with_capacity(64);
    for byte in ds.digest() {
        let _ = write!(hex, "{byte:02X}");
    }
    format!(". 3600 IN DS {} 15 2 {hex}\n", ds.key_tag())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn stanzas_and_anchor() {
        let auth: SocketAddr = "127.0.53.2@5300".replace('@', ":").parse().unwrap();
        let tld = Name::from_str("test.").unwrap();
        let slow = Name::from_str("timeout.test").unwrap();
        let conf = unbound_stub_zones(auth, [&tld], [&slow]);
        assert_eq!(conf.matches("stub-zone:").count(), 3);
        assert!(conf.contains("name: \".\"\n    stub-addr: 127.0.53.2@5300"));
        assert!(conf.contains("name: \"timeout.test.\""));
        let key = ZoneKey::derive(1, &Name::root());
        let anchor = root_trust_anchor(&key);
        assert!(anchor.starts_with(&format!(". 3600 IN DS {} 15 2 ", key.key_tag())));
        assert_eq!(anchor.trim_end().rsplit(' ').next().unwrap().len(), 64);
    }
}
