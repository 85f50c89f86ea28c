//! Fuzzes MX pattern parsing and matching: no panic, canonical text round-trips, and a
//! pattern matches the hosts it names (and not its own base under a wildcard).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxcensus_proto::mx_pattern::MxPattern;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Split one input into a pattern and a host, so matching sees arbitrary pairs too.
    let (pattern, host) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = MxPattern::parse(host);
    if let Ok(p) = MxPattern::parse(pattern) {
        let _ = p.matches(host);
        assert_eq!(MxPattern::parse(&p.to_string()).as_ref(), Ok(&p));
        if p.is_wildcard() {
            assert!(p.matches(&format!("x.{}", p.domain())));
            assert!(!p.matches(p.domain()));
        } else {
            assert!(p.matches(&format!("{}.", p.domain().to_ascii_uppercase())));
        }
    }
});
