//! Fuzzes the MTA-STS policy body parser: no panic on any bytes, and every valid policy
//! re-renders to text that parses back to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxcensus_proto::finding::Severity;
use mxcensus_proto::policy::parse_policy;

fuzz_target!(|data: &[u8]| {
    let eval = parse_policy(data);
    let has_error = eval
        .findings
        .iter()
        .any(|f| f.severity() == Severity::Error);
    assert_eq!(eval.valid, !has_error);
    assert!(!eval.strict_ok || eval.valid);
    if let (true, Some(policy)) = (eval.valid, &eval.policy) {
        let again = parse_policy(policy.to_text().as_bytes());
        assert!(again.valid);
        assert_eq!(again.policy.as_ref(), Some(policy));
    }
});
