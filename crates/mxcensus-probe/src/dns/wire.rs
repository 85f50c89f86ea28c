//! The bytes on the wire: stub queries built by hand (one question, EDNS0 OPT with DO=1,
//! RD=1, AD=1, CD on request) and responses read with hickory-proto into typed evidence.
//!
//! Building the query by hand keeps the hot path free of allocations beyond one buffer and
//! lets the receive loop match a response to its query by comparing question bytes, before
//! any full parse (RFC 5452 §9.1: ID, source and question must match).
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::op::{Header, MessageType, Metadata, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, DecodeError, Restrict};
use mxcensus_proto::tlsa::TlsaRecord;

/// Size of the fixed DNS header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// EDNS option code of Extended DNS Errors (RFC 8914 §2).
pub const EDE_OPTION_CODE: u16 = 15;
/// CNAME links followed inside one response before giving up (loops, absurd chains).
pub const MAX_CNAME_LINKS: usize = 16;

const FLAG_QR: u16 = 0x8000;
const FLAG_RD: u16 = 0x0100;
const FLAG_AD: u16 = 0x0020;
const FLAG_CD: u16 = 0x0010;
const EDNS_DO: u16 = 0x8000;

/// Flags of one outgoing query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryFlags {
    /// Checking Disabled (RFC 4035 §3.2.2): ask for data even if it fails validation.
    pub checking_disabled: bool,
    /// Advertised UDP payload size in the OPT record (RFC 6891 §6.2.3).
    pub edns_payload: u16,
}

/// The question section of a query as sent (name in wire form, lower-cased), used to match
/// responses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WireQuestion {
    bytes: Vec<u8>,
}

impl WireQuestion {
    /// Encodes `name`/`rtype`/IN. The name is taken as absolute.
    pub fn new(name: &Name, rtype: RecordType) -> WireQuestion {
        let mut bytes = Vec::with_capacity(name.len() + 6);
        for label in name.iter() {
            // hickory's Name guarantees labels of 1..=63 octets and a total under 256.
            bytes.push(label.len() as u8);
            bytes.extend(label.iter().map(u8::to_ascii_lowercase));
        }
        bytes.push(0);
        bytes.extend_from_slice(&u16::from(rtype).to_be_bytes());
        bytes.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        WireQuestion { bytes }
    }

    /// The encoded question.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether `response` has QR=1, exactly this one question (ASCII case-insensitive).
    pub fn matches_response(&self, response: &[u8]) -> bool {
        let Some(header) = response.first_chunk::<HEADER_LEN>() else {
            return false;
        };
        let flags = u16::from_be_bytes([header[2], header[3]]);
        let qdcount = u16::from_be_bytes([header[4], header[5]]);
        if flags & FLAG_QR == 0 || qdcount != 1 {
            return false;
        }
        let Some(question) = response.get(HEADER_LEN..HEADER_LEN + self.bytes.len()) else {
            return false;
        };
        question.eq_ignore_ascii_case(&self.bytes)
    }
}

/// Builds a query message: RD=1, AD=1 (RFC 6840 §5.7), CD as asked, one question, and an
/// OPT record with DO=1 (RFC 4035 §3.2.1, RFC 6891).
pub fn encode_query(id: u16, question: &WireQuestion, flags: QueryFlags) -> Vec<u8> {
    let mut msg = Vec::with_capacity(HEADER_LEN + question.bytes.len() + 11);
    let mut bits = FLAG_RD | FLAG_AD;
    if flags.checking_disabled {
        bits |= FLAG_CD;
    }
    msg.extend_from_slice(&id.to_be_bytes());
    msg.extend_from_slice(&bits.to_be_bytes());
    msg.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 1]); // QD=1 AN=0 NS=0 AR=1
    msg.extend_from_slice(&question.bytes);
    // OPT: root owner, TYPE 41, CLASS = payload, TTL = ext-rcode 0, version 0, DO, RDLEN 0.
    msg.push(0);
    msg.extend_from_slice(&41u16.to_be_bytes());
    msg.extend_from_slice(&flags.edns_payload.max(512).to_be_bytes());
    msg.extend_from_slice(&[0, 0]);
    msg.extend_from_slice(&EDNS_DO.to_be_bytes());
    msg.extend_from_slice(&[0, 0]);
    msg
}

/// The message ID of a datagram, if it is long enough to have one.
pub fn message_id(bytes: &[u8]) -> Option<u16> {
    bytes.first_chunk::<2>().map(|id| u16::from_be_bytes(*id))
}

/// One Extended DNS Error (RFC 8914 §2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendedError {
    /// INFO-CODE.
    pub code: u16,
    /// EXTRA-TEXT (UTF-8 by the RFC; decoded lossily).
    pub text: String,
}

impl ExtendedError {
    /// Codes 6–12 (DNSSEC Bogus, Signature Expired, Signature Not Yet Valid, DNSKEY
    /// Missing, RRSIGs Missing, No Zone Key Bit Set, NSEC Missing) say the data failed
    /// validation, as internet.nl reads them.
    pub fn indicates_bogus(&self) -> bool {
        (6..=12).contains(&self.code)
    }
}

/// Typed RDATA of the record types the crawler reads; anything else is kept raw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordValue {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Alias target.
    Cname(Name),
    /// Mail exchange (RFC 1035 §3.3.9).
    Mx {
        /// PREFERENCE: lower is preferred.
        preference: u16,
        /// EXCHANGE host (the root name for a null MX, RFC 7505).
        exchange: Name,
    },
    /// The character-strings of one TXT record, in order, as bytes (RFC 1035 §3.3.14).
    Txt(Vec<Vec<u8>>),
    /// A TLSA record, fields as published (RFC 6698 §2.1).
    Tlsa(TlsaRecord),
    /// Another record type, by number.
    Other(u16),
}

/// One answer record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnswerRecord {
    /// Owner name.
    pub owner: Name,
    /// TTL in seconds.
    pub ttl: u32,
    /// The data.
    pub value: RecordValue,
}

/// One link of a CNAME chain, in the order followed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CnameLink {
    /// The alias.
    pub owner: Name,
    /// What it points to.
    pub target: Name,
}

/// Why a response could not be used.
#[derive(Clone, Debug, thiserror::Error)]
pub enum ResponseError {
    /// Fewer than 12 octets.
    #[error("response shorter than a DNS header ({len} octets)")]
    TooShort {
        /// Octets received.
        len: usize,
    },
    /// QR=0: a query, not a response.
    #[error("message is not a response")]
    NotResponse,
    /// The message ID differs from the query's.
    #[error("response ID {got} does not match query ID {expected}")]
    IdMismatch {
        /// Sent.
        expected: u16,
        /// Received.
        got: u16,
    },
    /// The question section is not the one asked.
    #[error("response question does not match the query")]
    QuestionMismatch,
    /// A name uses a label type other than a normal label or a pointer (RFC 6891 §5).
    #[error("unsupported label type 0x{0:02x}")]
    LabelType(u8),
    /// A record or the header could not be decoded (short data, bad RDATA, ...).
    #[error("undecodable response: {0}")]
    Decode(#[from] DecodeError),
}

/// A response read into what the probe records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParsedResponse {
    /// RCODE, with the EDNS extended bits merged (RFC 6891 §6.1.3).
    pub rcode: ResponseCode,
    /// Authentic Data (RFC 4035 §3.2.3).
    pub authentic_data: bool,
    /// Checking Disabled echoed by the server.
    pub checking_disabled: bool,
    /// TC: the answer did not fit.
    pub truncated: bool,
    /// RA: the server offers recursion.
    pub recursion_available: bool,
    /// Records of the asked type at the end of the CNAME chain (RRSIGs dropped).
    pub answers: Vec<AnswerRecord>,
    /// CNAME chain from the query name, in order.
    pub cname_chain: Vec<CnameLink>,
    /// The chain loops or exceeds [`MAX_CNAME_LINKS`].
    pub cname_loop: bool,
    /// Answer-section records neither on the chain nor of the asked type at its end
    /// (RRSIGs excluded).
    pub unrelated_answers: usize,
    /// Extended DNS Errors.
    pub extended_errors: Vec<ExtendedError>,
    /// An SOA in the authority section (the negative-answer proof's zone).
    pub soa_owner: Option<Name>,
}

/// Reads a response to the query `id` for `name`/`rtype`. Never panics on any input.
///
/// Only what the probe records is decoded: answer records of the asked type and CNAMEs
/// (with hickory-proto's RDATA decoders), the SOA owner in the authority section, and the
/// OPT record; RRSIGs and everything else are skipped by length.
pub fn parse_response(
    bytes: &[u8],
    id: u16,
    question: &WireQuestion,
    name: &Name,
    rtype: RecordType,
) -> Result<ParsedResponse, ResponseError> {
    if bytes.len() < HEADER_LEN {
        return Err(ResponseError::TooShort { len: bytes.len() });
    }
    let got = message_id(bytes).unwrap_or_default();
    if got != id {
        return Err(ResponseError::IdMismatch { expected: id, got });
    }
    if bytes.get(2).is_some_and(|b| b & 0x80 == 0) {
        return Err(ResponseError::NotResponse);
    }
    if !question.matches_response(bytes) {
        return Err(ResponseError::QuestionMismatch);
    }
    let mut decoder = BinDecoder::new(bytes);
    let Header {
        mut metadata,
        counts,
    } = Header::read(&mut decoder)?;
    if metadata.message_type != MessageType::Response {
        return Err(ResponseError::NotResponse);
    }
    for _ in 0..counts.queries {
        skip_name(&mut decoder)?;
        decoder.read_slice(4)?;
    }
    let mut records: Vec<(Name, RecordType, u32, Option<RData>)> = Vec::new();
    for _ in 0..counts.answers {
        let owner = Name::read(&mut decoder)?;
        let (record_type, ttl, rdlength) = read_record_fields(&mut decoder)?;
        if record_type == rtype || record_type == RecordType::CNAME {
            let rdata = RData::read(&mut decoder, record_type, Restrict::new(rdlength))?;
            records.push((owner, record_type, ttl, Some(rdata)));
        } else {
            decoder.read_slice(usize::from(rdlength))?;
            records.push((owner, record_type, ttl, None));
        }
    }
    let mut soa_owner = None;
    for _ in 0..counts.authorities {
        let start = decoder.index();
        skip_name(&mut decoder)?;
        let (record_type, _, rdlength) = read_record_fields(&mut decoder)?;
        decoder.read_slice(usize::from(rdlength))?;
        if record_type == RecordType::SOA && soa_owner.is_none() {
            let mut at_owner = BinDecoder::new(bytes);
            at_owner.read_slice(start)?;
            soa_owner = Some(Name::read(&mut at_owner)?);
        }
    }
    let mut extended_errors = Vec::new();
    for _ in 0..counts.additionals {
        skip_name(&mut decoder)?;
        let record_type = decoder.read_u16()?.unverified();
        let _payload = decoder.read_u16()?.unverified();
        let ttl = decoder.read_u32()?.unverified();
        let rdlength = decoder.read_u16()?.unverified();
        let rdata = decoder.read_slice(usize::from(rdlength))?.unverified();
        if record_type == u16::from(RecordType::OPT) {
            // TTL of OPT: extended RCODE (high 8 bits), version, DO and Z (RFC 6891 §6.1.3).
            metadata.merge_response_code((ttl >> 24) as u8);
            extended_errors.extend(read_ede_options(rdata));
        }
    }
    Ok(assemble(
        &metadata,
        records,
        extended_errors,
        soa_owner,
        name,
        rtype,
    ))
}

/// TYPE, TTL and RDLENGTH of a record whose owner was just read (CLASS is not checked: a
/// stub asks IN only and matched the question).
fn read_record_fields(decoder: &mut BinDecoder<'_>) -> Result<(RecordType, u32, u16), DecodeError> {
    let record_type = RecordType::from(decoder.read_u16()?.unverified());
    let _class = decoder.read_u16()?.unverified();
    let ttl = decoder.read_u32()?.unverified();
    let rdlength = decoder.read_u16()?.unverified();
    Ok((record_type, ttl, rdlength))
}

/// Skips a wire-format name: labels up to the root label or a compression pointer.
fn skip_name(decoder: &mut BinDecoder<'_>) -> Result<(), ResponseError> {
    loop {
        let len = decoder.read_u8()?.unverified();
        match len & 0xC0 {
            0x00 if len == 0 => return Ok(()),
            0x00 => {
                decoder.read_slice(usize::from(len))?;
            }
            0xC0 => {
                decoder.read_u8()?;
                return Ok(());
            }
            _ => return Err(ResponseError::LabelType(len)),
        }
    }
}

/// EDE options (code 15) in OPT RDATA; a malformed option list ends the scan.
fn read_ede_options(mut rdata: &[u8]) -> Vec<ExtendedError> {
    let mut found = Vec::new();
    while let Some((head, rest)) = rdata.split_first_chunk::<4>() {
        let code = u16::from_be_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let Some(data) = rest.get(..len) else {
            break;
        };
        if code == EDE_OPTION_CODE {
            found.extend(read_ede(data));
        }
        rdata = rest.get(len..).unwrap_or_default();
    }
    found
}

fn assemble(
    meta: &Metadata,
    records: Vec<(Name, RecordType, u32, Option<RData>)>,
    extended_errors: Vec<ExtendedError>,
    soa_owner: Option<Name>,
    name: &Name,
    rtype: RecordType,
) -> ParsedResponse {
    let (cname_chain, end, cname_loop) = if rtype == RecordType::CNAME {
        // Asking for the CNAME itself (RFC 7672 §2.1.3): the record is the answer.
        (Vec::new(), name.clone(), false)
    } else {
        follow_cnames(&records, name)
    };
    let mut answers = Vec::new();
    let mut unrelated = 0;
    for (owner, record_type, ttl, rdata) in records {
        if record_type == RecordType::RRSIG {
            continue;
        }
        match rdata {
            Some(rdata) if record_type == rtype && owner == end => answers.push(AnswerRecord {
                owner,
                ttl,
                value: record_value(rdata),
            }),
            _ if record_type == RecordType::CNAME
                && cname_chain.iter().any(|l| l.owner == owner) => {}
            _ => unrelated += 1,
        }
    }
    ParsedResponse {
        rcode: meta.response_code,
        authentic_data: meta.authentic_data,
        checking_disabled: meta.checking_disabled,
        truncated: meta.truncation,
        recursion_available: meta.recursion_available,
        answers,
        cname_chain,
        cname_loop,
        unrelated_answers: unrelated,
        extended_errors,
        soa_owner,
    }
}

/// Follows CNAMEs from `name` through the answer section: the chain, its end, and whether
/// it was cut short by a loop or the length limit.
fn follow_cnames(
    records: &[(Name, RecordType, u32, Option<RData>)],
    name: &Name,
) -> (Vec<CnameLink>, Name, bool) {
    let mut chain: Vec<CnameLink> = Vec::new();
    let mut current = name.clone();
    loop {
        let next = records.iter().find_map(|(owner, _, _, rdata)| match rdata {
            Some(RData::CNAME(target)) if *owner == current => Some(target.0.clone()),
            _ => None,
        });
        let Some(target) = next else {
            return (chain, current, false);
        };
        let looped = target == *name || chain.iter().any(|l| l.owner == target);
        chain.push(CnameLink {
            owner: current,
            target: target.clone(),
        });
        if looped || chain.len() >= MAX_CNAME_LINKS {
            return (chain, target, true);
        }
        current = target;
    }
}

fn read_ede(data: &[u8]) -> Option<ExtendedError> {
    let (code, text) = data.split_first_chunk::<2>()?;
    Some(ExtendedError {
        code: u16::from_be_bytes(*code),
        text: String::from_utf8_lossy(text).into_owned(),
    })
}

fn record_value(rdata: RData) -> RecordValue {
    match rdata {
        RData::A(a) => RecordValue::A(a.0),
        RData::AAAA(aaaa) => RecordValue::Aaaa(aaaa.0),
        RData::CNAME(target) => RecordValue::Cname(target.0),
        RData::MX(mx) => RecordValue::Mx {
            preference: mx.preference,
            exchange: mx.exchange,
        },
        RData::TXT(txt) => RecordValue::Txt(txt.txt_data.iter().map(|s| s.to_vec()).collect()),
        RData::TLSA(tlsa) => RecordValue::Tlsa(TlsaRecord {
            usage: tlsa.cert_usage.into(),
            selector: tlsa.selector.into(),
            matching_type: tlsa.matching.into(),
            data: tlsa.cert_data,
        }),
        other => RecordValue::Other(u16::from(other.record_type())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message, Query};
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::opt::EdnsCode;
    use hickory_proto::rr::rdata::opt::EdnsOption;
    use hickory_proto::rr::rdata::{CNAME, MX, SOA, TXT};
    use proptest::prelude::*;
    use std::str::FromStr;

    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap()
    }

    fn response(id: u16, name: &str, rtype: RecordType) -> Message {
        let mut m = Message::response(id, hickory_proto::op::OpCode::Query);
        m.add_query(Query::query(n(name), rtype));
        m
    }

    #[test]
    fn query_has_rd_ad_do_and_optional_cd() {
        let q = WireQuestion::new(&n("Example.COM."), RecordType::MX);
        let bytes = encode_query(
            0x1234,
            &q,
            QueryFlags {
                checking_disabled: true,
                edns_payload: 1232,
            },
        );
        let msg = Message::from_vec(&bytes).unwrap();
        assert_eq!(msg.metadata.id, 0x1234);
        assert!(msg.metadata.recursion_desired);
        assert!(msg.metadata.authentic_data);
        assert!(msg.metadata.checking_disabled);
        assert_eq!(msg.queries[0].name(), &n("example.com."));
        assert_eq!(msg.queries[0].query_type(), RecordType::MX);
        let edns = msg.edns.unwrap();
        assert!(edns.flags().dnssec_ok);
        assert_eq!(edns.max_payload(), 1232);
        let plain = encode_query(
            1,
            &q,
            QueryFlags {
                checking_disabled: false,
                edns_payload: 100,
            },
        );
        let msg = Message::from_vec(&plain).unwrap();
        assert!(!msg.metadata.checking_disabled);
        assert_eq!(msg.edns.unwrap().max_payload(), 512);
    }

    #[test]
    fn follows_cname_chain_and_keeps_final_answers() {
        let mut m = response(7, "a.example.", RecordType::A);
        m.metadata.authentic_data = true;
        m.add_answer(Record::from_rdata(
            n("a.example."),
            60,
            RData::CNAME(CNAME(n("b.example."))),
        ));
        m.add_answer(Record::from_rdata(
            n("b.example."),
            60,
            RData::CNAME(CNAME(n("c.example."))),
        ));
        m.add_answer(Record::from_rdata(
            n("c.example."),
            60,
            RData::A(Ipv4Addr::new(192, 0, 2, 1).into()),
        ));
        m.add_answer(Record::from_rdata(
            n("x.example."),
            60,
            RData::A(Ipv4Addr::new(192, 0, 2, 9).into()),
        ));
        let bytes = m.to_vec().unwrap();
        let q = WireQuestion::new(&n("A.example."), RecordType::A);
        let r = parse_response(&bytes, 7, &q, &n("a.example."), RecordType::A).unwrap();
        assert!(r.authentic_data);
        assert_eq!(r.cname_chain.len(), 2);
        assert_eq!(r.cname_chain[0].owner, n("a.example."));
        assert_eq!(r.cname_chain[1].target, n("c.example."));
        assert_eq!(r.answers.len(), 1);
        assert_eq!(
            r.answers[0].value,
            RecordValue::A(Ipv4Addr::new(192, 0, 2, 1))
        );
        assert_eq!(r.unrelated_answers, 1);
        assert!(!r.cname_loop);
    }

    #[test]
    fn cname_loop_is_cut() {
        let mut m = response(1, "a.example.", RecordType::A);
        m.add_answer(Record::from_rdata(
            n("a.example."),
            60,
            RData::CNAME(CNAME(n("b.example."))),
        ));
        m.add_answer(Record::from_rdata(
            n("b.example."),
            60,
            RData::CNAME(CNAME(n("a.example."))),
        ));
        let bytes = m.to_vec().unwrap();
        let q = WireQuestion::new(&n("a.example."), RecordType::A);
        let r = parse_response(&bytes, 1, &q, &n("a.example."), RecordType::A).unwrap();
        assert!(r.cname_loop);
        assert_eq!(r.cname_chain.len(), 2);
        assert!(r.answers.is_empty());
    }

    #[test]
    fn cname_query_answers_with_the_cname_itself() {
        let mut m = response(1, "a.example.", RecordType::CNAME);
        m.add_answer(Record::from_rdata(
            n("a.example."),
            60,
            RData::CNAME(CNAME(n("b.example."))),
        ));
        let bytes = m.to_vec().unwrap();
        let q = WireQuestion::new(&n("a.example."), RecordType::CNAME);
        let r = parse_response(&bytes, 1, &q, &n("a.example."), RecordType::CNAME).unwrap();
        assert!(r.cname_chain.is_empty());
        assert_eq!(r.answers[0].value, RecordValue::Cname(n("b.example.")));
    }

    #[test]
    fn reads_mx_txt_soa_and_ede() {
        let mut m = response(2, "example.", RecordType::MX);
        m.metadata.response_code = ResponseCode::ServFail;
        m.add_answer(Record::from_rdata(
            n("example."),
            60,
            RData::MX(MX::new(0, Name::root())),
        ));
        m.add_authority(Record::from_rdata(
            n("example."),
            60,
            RData::SOA(SOA::new(n("ns.example."), n("h.example."), 1, 2, 3, 4, 5)),
        ));
        let mut edns = Edns::new();
        let mut ede = vec![0, 7];
        ede.extend_from_slice(b"expired");
        edns.options_mut()
            .options
            .push((EdnsCode::Unknown(15), EdnsOption::Unknown(15, ede)));
        m.set_edns(edns);
        let bytes = m.to_vec().unwrap();
        let q = WireQuestion::new(&n("example."), RecordType::MX);
        let r = parse_response(&bytes, 2, &q, &n("example."), RecordType::MX).unwrap();
        assert_eq!(r.rcode, ResponseCode::ServFail);
        assert_eq!(
            r.answers[0].value,
            RecordValue::Mx {
                preference: 0,
                exchange: Name::root()
            }
        );
        assert_eq!(r.soa_owner, Some(n("example.")));
        assert_eq!(
            r.extended_errors,
            vec![ExtendedError {
                code: 7,
                text: "expired".into()
            }]
        );
        assert!(r.extended_errors[0].indicates_bogus());

        let mut t = response(3, "example.", RecordType::TXT);
        t.add_answer(Record::from_rdata(
            n("example."),
            60,
            RData::TXT(TXT::from_bytes(vec![b"v=STSv1; ", b"id=1\xff"])),
        ));
        let bytes = t.to_vec().unwrap();
        let q = WireQuestion::new(&n("example."), RecordType::TXT);
        let r = parse_response(&bytes, 3, &q, &n("example."), RecordType::TXT).unwrap();
        assert_eq!(
            r.answers[0].value,
            RecordValue::Txt(vec![b"v=STSv1; ".to_vec(), b"id=1\xff".to_vec()])
        );
    }

    #[test]
    fn rejects_mismatches() {
        let m = response(5, "example.", RecordType::A);
        let bytes = m.to_vec().unwrap();
        let q = WireQuestion::new(&n("example."), RecordType::A);
        let other = WireQuestion::new(&n("example."), RecordType::AAAA);
        let name = n("example.");
        assert!(matches!(
            parse_response(&bytes, 6, &q, &name, RecordType::A),
            Err(ResponseError::IdMismatch { .. })
        ));
        assert!(matches!(
            parse_response(&bytes, 5, &other, &name, RecordType::AAAA),
            Err(ResponseError::QuestionMismatch)
        ));
        assert!(matches!(
            parse_response(&bytes[..5], 5, &q, &name, RecordType::A),
            Err(ResponseError::TooShort { len: 5 })
        ));
        let query = encode_query(
            5,
            &q,
            QueryFlags {
                checking_disabled: false,
                edns_payload: 1232,
            },
        );
        assert!(matches!(
            parse_response(&query, 5, &q, &name, RecordType::A),
            Err(ResponseError::NotResponse)
        ));
        // A record cut short after a matching question: decode error, not a panic.
        let mut m = response(5, "example.", RecordType::A);
        m.add_answer(Record::from_rdata(
            n("example."),
            60,
            RData::A(Ipv4Addr::LOCALHOST.into()),
        ));
        let bytes = m.to_vec().unwrap();
        let cut = &bytes[..bytes.len() - 1];
        assert!(matches!(
            parse_response(cut, 5, &q, &name, RecordType::A),
            Err(ResponseError::Decode(_))
        ));
    }

    #[test]
    fn skips_rrsigs_and_reads_compressed_soa_owner() {
        use hickory_proto::dnssec::Algorithm;
        use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG, SigInput};
        let mut m = response(8, "www.example.", RecordType::A);
        m.metadata.authentic_data = true;
        m.add_answer(Record::from_rdata(
            n("www.example."),
            60,
            RData::A(Ipv4Addr::LOCALHOST.into()),
        ));
        let input = SigInput {
            type_covered: RecordType::A,
            algorithm: Algorithm::ED25519,
            num_labels: 2,
            original_ttl: 60,
            sig_expiration: 2_000_000_000.into(),
            sig_inception: 1_000_000_000.into(),
            key_tag: 12345,
            signer_name: n("example."),
        };
        m.add_answer(Record::from_rdata(
            n("www.example."),
            60,
            RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, vec![7; 64]))),
        ));
        m.add_authority(Record::from_rdata(
            n("Example."),
            60,
            RData::SOA(SOA::new(n("ns.example."), n("h.example."), 1, 2, 3, 4, 5)),
        ));
        let bytes = m.to_vec().unwrap();
        let name = n("www.example.");
        let q = WireQuestion::new(&name, RecordType::A);
        let r = parse_response(&bytes, 8, &q, &name, RecordType::A).unwrap();
        assert_eq!(r.answers.len(), 1);
        assert_eq!(r.unrelated_answers, 0);
        assert_eq!(r.soa_owner, Some(n("example.")));
        assert!(r.authentic_data);
    }

    #[test]
    fn extended_label_types_are_rejected() {
        let name = n("example.");
        let q = WireQuestion::new(&name, RecordType::A);
        let mut bytes = response(4, "example.", RecordType::A).to_vec().unwrap();
        bytes[9] = 1; // NSCOUNT = 1: skipped names are checked here
        bytes.extend_from_slice(&[0x41, 0, 0]); // label type 0x40 (RFC 6891 §5: obsolete)
        assert!(matches!(
            parse_response(&bytes, 4, &q, &name, RecordType::A),
            Err(ResponseError::LabelType(0x41))
        ));
    }

    #[test]
    fn ede_scan_stops_on_short_options() {
        let mut rdata = vec![0, 15, 0, 3, 0, 9, b'x'];
        rdata.extend_from_slice(&[0, 15, 0, 9, 0]);
        assert_eq!(
            read_ede_options(&rdata),
            vec![ExtendedError {
                code: 9,
                text: "x".into()
            }]
        );
        assert!(read_ede_options(&[0, 15, 0, 1, 0]).is_empty());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let name = n("example.");
            let q = WireQuestion::new(&name, RecordType::A);
            let id = message_id(&bytes).unwrap_or(0);
            let _ = parse_response(&bytes, id, &q, &name, RecordType::A);
        }

        #[test]
        fn parsing_mutated_responses_never_panics(
            flips in proptest::collection::vec((0usize..200, any::<u8>()), 1..8),
            cut in 0usize..200,
        ) {
            let mut m = response(9, "a.example.", RecordType::A);
            m.add_answer(Record::from_rdata(n("a.example."), 60, RData::CNAME(CNAME(n("b.example.")))));
            m.add_answer(Record::from_rdata(n("b.example."), 60, RData::A(Ipv4Addr::LOCALHOST.into())));
            let mut bytes = m.to_vec().unwrap();
            for (pos, value) in flips {
                if let Some(b) = bytes.get_mut(pos) {
                    *b = value;
                }
            }
            bytes.truncate(cut.max(HEADER_LEN));
            let name = n("a.example.");
            let q = WireQuestion::new(&name, RecordType::A);
            let _ = parse_response(&bytes, 9, &q, &name, RecordType::A);
        }
    }
}
