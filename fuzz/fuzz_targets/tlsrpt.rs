//! Fuzzes the TLS-RPT record evaluator (RFC 8460 §3): arbitrary bytes, split into
//! records and character-strings, must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxcensus_proto::tlsrpt::{evaluate_tlsrpt_rrset, parse_rua_uri, parse_tlsrpt_record};
use mxcensus_proto::verdict::TlsRpt;

fuzz_target!(|data: &[u8]| {
    let _ = parse_tlsrpt_record(data);
    let _ = parse_rua_uri(data);
    // '\n' separates records and '\0' character-strings.
    let rrset: Vec<Vec<Vec<u8>>> = data
        .split(|&b| b == b'\n')
        .map(|record| record.split(|&b| b == 0).map(<[u8]>::to_vec).collect())
        .collect();
    let eval = evaluate_tlsrpt_rrset(&rrset);
    if eval.verdict == TlsRpt::Valid {
        assert!(eval.record.is_some());
    }
});
