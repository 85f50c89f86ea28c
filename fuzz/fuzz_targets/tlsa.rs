//! Fuzzes TLSA parsing and DANE verification: no panic on any text, RDATA or chain, and
//! every parsed record re-renders to text that parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mxcensus_proto::tlsa::{TlsaRecord, assess_tlsa_set, verify_chain};

fuzz_target!(|data: &[u8]| {
    // As presentation text.
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(r) = TlsaRecord::from_presentation(text)
    {
        assert_eq!(
            TlsaRecord::from_presentation(&r.to_string()).as_ref(),
            Ok(&r)
        );
        let _ = r.usability();
    }
    // As wire RDATA.
    let _ = TlsaRecord::from_rdata(data);

    // As an RRset and a chain: segments split at 0xff 0xff; segments starting with 0x00
    // are RDATA records, the others chain certificates (DER), in order.
    let mut records = Vec::new();
    let mut chain = Vec::new();
    for segment in data.split(|&b| b == 0xff).filter(|s| !s.is_empty()) {
        match segment.split_first() {
            Some((0, rdata)) => {
                if let Ok(r) = TlsaRecord::from_rdata(rdata) {
                    records.push(r);
                }
            }
            _ => chain.push(segment.to_vec()),
        }
    }
    let _ = assess_tlsa_set(&records);
    let v = verify_chain(&records, &chain, &["mx.example.com"], 1_750_000_000);
    assert_eq!(v.assessment.status.len(), records.len());
});
