//! Fuzzes certificate parsing and name matching: no panic on any DER, and the name check
//! agrees with the DNS-ID matcher it is built on.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxcensus_proto::cert::{
    CertSummary, NameOutcome, check_host_name, dns_id_matches, partial_wildcard_would_match,
    validity_at,
};

fuzz_target!(|data: &[u8]| {
    // The whole input as certificate DER.
    if let Ok(summary) = CertSummary::from_der(data) {
        let _ = validity_at(&summary, 1_750_000_000);
        for name in summary.san_dns.iter().chain(&summary.subject_cns) {
            let check = check_host_name(&summary, name);
            if check.outcome == NameOutcome::Match {
                assert!(summary.san_dns.iter().any(|p| dns_id_matches(p, name)));
            }
        }
    }
    // The input as a (presented, reference) pair of names.
    let text = String::from_utf8_lossy(data);
    let (presented, reference) = text.split_once('\n').unwrap_or((&text, ""));
    let exact = dns_id_matches(presented, reference);
    let partial = partial_wildcard_would_match(presented, reference);
    // A partial-label wildcard is never also a valid match.
    assert!(!(exact && partial));
    if exact && !presented.contains('*') {
        assert!(dns_id_matches(reference, presented) || reference.bytes().any(|b| b >= 0x80));
    }
});
