//! Fuzzes the MTA-STS TXT evaluator (RFC 8461 §3.1): arbitrary bytes, split into records
//! and character-strings, must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxcensus_proto::sts_txt::{evaluate_sts_rrset, parse_sts_record};
use mxcensus_proto::verdict::StsTxt;

fuzz_target!(|data: &[u8]| {
    let _ = parse_sts_record(data);
    // '\n' separates records and '\0' character-strings, so one input covers joining
    // and selection too.
    let rrset: Vec<Vec<Vec<u8>>> = data
        .split(|&b| b == b'\n')
        .map(|record| record.split(|&b| b == 0).map(<[u8]>::to_vec).collect())
        .collect();
    let eval = evaluate_sts_rrset(&rrset);
    assert_eq!(eval.record.is_some(), eval.verdict == StsTxt::Valid);
});
