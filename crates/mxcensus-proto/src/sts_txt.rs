//! The MTA-STS TXT record at `_mta-sts.<policy-domain>` (RFC 8461 §3.1).
//!
//! ```text
//! sts-text-record = sts-version 1*(sts-field-delim sts-field) [sts-field-delim]
//! sts-field       = sts-id / sts-extension
//! sts-field-delim = *WSP ";" *WSP
//! sts-version     = %s"v=STSv1"
//! sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//! sts-extension   = sts-ext-name "=" sts-ext-value
//! ```
//!
//! [`evaluate_sts_rrset`] applies the whole §3.1 procedure to the TXT RRset: join each
//! record's character-strings without spaces, keep the records that begin with the literal
//! `v=STSv1;`, require exactly one, and parse it. [`parse_sts_record`] judges one record.
//!
//! # Selection, and records that almost begin with `v=STSv1;`
//!
//! §3.1: "records that do not begin with `v=STSv1;` are discarded". Only that literal
//! prefix (case-sensitive, RFC 7405 `%s`) selects a record. Records that fail the test
//! but were plainly meant as MTA-STS are still discarded for selection, yet reported,
//! and when no record passes the test they make the verdict [`StsTxt::Invalid`] instead of
//! [`StsTxt::Absent`] (a publisher who tried and failed is not one who never tried):
//!
//! | record begins with          | class                | why |
//! |-----------------------------|----------------------|-----|
//! | `v=STSv1 ;` (WSP before `;`) | `sts_prefix_variant` | the ABNF's `*WSP ";"` allows it, the literal-prefix test does not |
//! | `v=STSv1` then no `;`        | `bad_delimiter`      | no delimiter after the version (`v=STSv1`, `v=STSv1 id=1`) |
//! | `V=STSv1`, `v=stsv1`, `v = STSv1`, leading space or quote, `v=STSv2` | `bad_version` | `%s"v=STSv1"` is case-sensitive and has no spaces |
//! | a later field `v=STSv1`      | `version_not_first`  | the version must come first |
//!
//! Anything else (SPF, verification tokens) is a foreign record: ignored, and reported as
//! `no_sts_record` only when no record is STS-like.
//!
//! SPEC §A says mox treats `v=STSv1 ;` as an invalid STS record; mox's parser in fact
//! accepts it (its `xdelim` allows `*WSP ";"`) and so would use its policy. We follow the
//! §3.1 selection text: a sender that applies the literal-prefix test never uses it.
//!
//! A repeated `id` is not addressed by §3.1; §3.2 keeps the first of repeated fields, so
//! the first is kept and `duplicate_id` flagged (SPEC §A crawler rule). Unknown extensions
//! are ignored once their syntax is checked (§3.1 ABNF, §3.2 last paragraph).

use crate::failure_classes;
use crate::finding::{Finding, Severity};
use crate::txtfields::{
    self, VersionPrefix, VersionTag, ascii_string, classify_version_prefix, describe_byte, label,
    show, split_fields, split_name_value,
};
use crate::verdict::StsTxt;

failure_classes! {
    /// Failure classes of the MTA-STS TXT record (SPEC §A).
    ///
    /// The DNS-outcome classes (`txt_*`) and `sts_record_at_apex` are produced by the
    /// crawler from its lookups; the parser judges record content and emits the others.
    pub enum StsTxtClass {
        /// `_mta-sts.<domain>` does not exist: the domain has no MTA-STS.
        TxtNxdomain = "txt_nxdomain", Info, "RFC 8461 §3.1",
            "Publish a TXT record \"v=STSv1; id=...;\" at _mta-sts.<domain> to enable MTA-STS.";
        /// `_mta-sts.<domain>` exists but has no TXT records.
        TxtNodata = "txt_nodata", Info, "RFC 8461 §3.1",
            "Publish a TXT record \"v=STSv1; id=...;\" at _mta-sts.<domain> to enable MTA-STS.";
        /// The TXT lookup failed (SERVFAIL, timeout, REFUSED): nothing can be said.
        TxtDnsError = "txt_dns_error", Error, "RFC 8461 §3.1",
            "Make the authoritative servers answer TXT queries for _mta-sts.<domain>.";
        /// The TXT answer failed DNSSEC validation.
        TxtBogus = "txt_bogus", Error, "RFC 4035 §5.5",
            "Repair the DNSSEC chain (DS, DNSKEY, RRSIG) of the zone holding _mta-sts.<domain>.";
        /// TXT records exist, but none is an MTA-STS record (for example a wildcard SPF).
        NoStsRecord = "no_sts_record", Info, "RFC 8461 §3.1",
            "If MTA-STS is intended, add a record beginning with \"v=STSv1;\".";
        /// More than one record begins with `v=STSv1;`: senders use no policy.
        MultipleStsRecords = "multiple_sts_records", Error, "RFC 8461 §3.1",
            "Keep exactly one \"v=STSv1;\" TXT record at _mta-sts.<domain>.";
        /// `v=STSv1 ;`: allowed by the ABNF but not the literal prefix `v=STSv1;` that
        /// selects records, so senders discard it.
        StsPrefixVariant = "sts_prefix_variant", Error, "RFC 8461 §3.1",
            "Begin the record with exactly \"v=STSv1;\" (no space before the ';').";
        /// The record does not begin with the case-sensitive `v=STSv1`.
        BadVersion = "bad_version", Error, "RFC 8461 §3.1",
            "Begin the record with exactly \"v=STSv1;\": lowercase v, uppercase STS, no spaces or quotes.";
        /// `v=STSv1` is present, but not as the first field.
        VersionNotFirst = "version_not_first", Error, "RFC 8461 §3.1",
            "Move \"v=STSv1;\" to the very start of the record.";
        /// No `id` field.
        MissingId = "missing_id", Error, "RFC 8461 §3.1",
            "Add \"id=<1-32 letters or digits>\" and change it whenever the policy changes.";
        /// The `id` value is empty or has characters other than letters and digits.
        BadIdChars = "bad_id_chars", Error, "RFC 8461 §3.1",
            "Use only letters and digits in id, for example id=20240101T000000.";
        /// The `id` value is over 32 characters.
        IdTooLong = "id_too_long", Error, "RFC 8461 §3.1",
            "Shorten id to at most 32 letters or digits.";
        /// A field that is neither `id` nor a well-formed extension.
        BadExtension = "bad_extension", Error, "RFC 8461 §3.1",
            "Write other fields as name=value: name of letters, digits, '_', '-', '.' (max 32); value without spaces, '=' or ';'.";
        /// Empty fields, missing `;`, or whitespace after the last field.
        BadDelimiter = "bad_delimiter", Error, "RFC 8461 §3.1",
            "Separate fields with ';' (spaces around it allowed); no empty fields, no trailing spaces without ';'.";
        /// A byte outside US-ASCII.
        NonAscii = "non_ascii", Error, "RFC 8461 §3.1",
            "Use US-ASCII only in the record.";
        /// More than one `id` field: the first is used.
        DuplicateId = "duplicate_id", Warning, "RFC 8461 §3.2",
            "Keep a single id field.";
        /// A `v=STSv1` record at the domain itself, where senders never look.
        StsRecordAtApex = "sts_record_at_apex", Info, "RFC 8461 §3.1",
            "Move the \"v=STSv1;\" record to _mta-sts.<domain>.";
    }
}

/// The version tag of MTA-STS TXT records.
pub const STS_VERSION: VersionTag = VersionTag {
    literal: "v=STSv1",
    stem: "STS",
};

/// A syntactically valid MTA-STS TXT record.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct StsRecord {
    /// The policy instance identifier: 1 to 32 letters and digits, compared for
    /// equality only (no ordering, §3.1).
    pub id: String,
    /// Extension fields in record order, as `(name, value)`; senders ignore them.
    pub extensions: Vec<(String, String)>,
}

/// The outcome of parsing one record with [`parse_sts_record`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsRecordParse {
    /// The record, when it has no finding of severity [`Severity::Error`].
    pub record: Option<StsRecord>,
    /// Everything found, in record order.
    pub findings: Vec<Finding<StsTxtClass>>,
}

/// The outcome of the §3.1 procedure on a whole TXT RRset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsTxtEvaluation {
    /// `Valid`, `Absent`, `Invalid` or `Multiple`; never `Error`, which the crawler sets
    /// from the DNS outcome.
    pub verdict: StsTxt,
    /// The selected record, when the verdict is `Valid`.
    pub record: Option<StsRecord>,
    /// Everything found. With several TXT records, each detail names its record.
    pub findings: Vec<Finding<StsTxtClass>>,
}

/// Parses one (joined) TXT record as the MTA-STS record.
///
/// A record that does not begin with `v=STSv1;` is judged as a failed attempt at one
/// (see the module docs for which class each near miss gets); the evaluator uses
/// [`classify_version_prefix`] first to tell foreign records apart.
///
/// ```
/// use mxcensus_proto::sts_txt::parse_sts_record;
/// let parsed = parse_sts_record(b"v=STSv1; id=20160831085700Z;");
/// assert_eq!(parsed.record.unwrap().id, "20160831085700Z");
/// assert!(parsed.findings.is_empty());
/// ```
pub fn parse_sts_record(record: &[u8]) -> StsRecordParse {
    let mut findings = Vec::new();
    let push = |findings: &mut Vec<_>, class, detail: String| {
        findings.push(Finding::new(class, detail));
    };
    if let Some((offset, byte)) = txtfields::first_non_ascii(record) {
        push(
            &mut findings,
            StsTxtClass::NonAscii,
            format!("byte 0x{byte:02x} at offset {offset} is not US-ASCII"),
        );
    }
    let literal_len = STS_VERSION.literal.len();
    let after_version = match classify_version_prefix(record, &STS_VERSION) {
        VersionPrefix::Exact => record.get(literal_len..).unwrap_or_default(),
        VersionPrefix::WspBeforeDelimiter => {
            push(
                &mut findings,
                StsTxtClass::StsPrefixVariant,
                "begins with whitespace between \"v=STSv1\" and ';', not with the literal \"v=STSv1;\"; senders discard such records".to_owned(),
            );
            record.get(literal_len..).unwrap_or_default()
        }
        VersionPrefix::MissingDelimiter => {
            push(
                &mut findings,
                StsTxtClass::BadDelimiter,
                format!("\"v=STSv1\" is not followed by ';' in {}", show(record)),
            );
            return StsRecordParse {
                record: None,
                findings,
            };
        }
        VersionPrefix::Variant | VersionPrefix::Foreign => {
            push(
                &mut findings,
                StsTxtClass::BadVersion,
                format!(
                    "does not begin with the case-sensitive \"v=STSv1;\": {}",
                    show(record)
                ),
            );
            return StsRecordParse {
                record: None,
                findings,
            };
        }
        VersionPrefix::NotFirst => {
            push(
                &mut findings,
                StsTxtClass::VersionNotFirst,
                format!("\"v=STSv1\" is not the first field: {}", show(record)),
            );
            return StsRecordParse {
                record: None,
                findings,
            };
        }
    };

    let fields = split_fields(after_version);
    for problem in &fields.problems {
        push(
            &mut findings,
            StsTxtClass::BadDelimiter,
            problem.to_string(),
        );
    }

    let mut id: Option<&[u8]> = None;
    let mut id_fields = 0usize;
    let mut id_case_variant: Option<&[u8]> = None;
    let mut extensions = Vec::new();
    for field in &fields.fields {
        match split_name_value(field) {
            // `%s"id="`: only the lowercase name is the id field.
            Some((b"id", value)) => {
                id_fields += 1;
                if id_fields > 1 {
                    push(
                        &mut findings,
                        StsTxtClass::DuplicateId,
                        format!(
                            "id field {id_fields} ({}) ignored; the first is used",
                            show(field)
                        ),
                    );
                    continue;
                }
                if check_id(value, &mut findings) {
                    id = Some(value);
                }
            }
            _ => match txtfields::parse_extension(field) {
                Ok((name, value)) => {
                    if name.eq_ignore_ascii_case(b"id") {
                        id_case_variant = Some(name);
                    }
                    extensions.push((ascii_string(name), ascii_string(value)));
                }
                Err(e) => push(
                    &mut findings,
                    StsTxtClass::BadExtension,
                    format!("field {}: {e}", show(field)),
                ),
            },
        }
    }
    if id_fields == 0 {
        let detail = match id_case_variant {
            Some(name) => format!(
                "no \"id=\" field; field names are case-sensitive and {} is an extension",
                show(name)
            ),
            None => "no \"id=\" field".to_owned(),
        };
        push(&mut findings, StsTxtClass::MissingId, detail);
    }

    let has_error = findings.iter().any(|f| f.severity() == Severity::Error);
    let record = match id {
        Some(id) if !has_error => Some(StsRecord {
            id: ascii_string(id),
            extensions,
        }),
        _ => None,
    };
    StsRecordParse { record, findings }
}

/// Checks an `id` value (`1*32(ALPHA / DIGIT)`); records a finding and returns `false`
/// when it is not one.
fn check_id(value: &[u8], findings: &mut Vec<Finding<StsTxtClass>>) -> bool {
    if value.is_empty() {
        findings.push(Finding::new(StsTxtClass::BadIdChars, "id is empty"));
        return false;
    }
    if let Some(&byte) = value.iter().find(|b| !b.is_ascii_alphanumeric()) {
        findings.push(Finding::new(
            StsTxtClass::BadIdChars,
            format!(
                "id {} has {}; only letters and digits are allowed",
                show(value),
                describe_byte(byte)
            ),
        ));
        return false;
    }
    if value.len() > 32 {
        findings.push(Finding::new(
            StsTxtClass::IdTooLong,
            format!(
                "id {} is {} characters long, over 32",
                show(value),
                value.len()
            ),
        ));
        return false;
    }
    true
}

/// Applies RFC 8461 §3.1 to a TXT RRset given as DNS delivers it: one entry per record,
/// each a list of character-strings.
///
/// An empty RRset gives `Absent` with no finding: the crawler knows whether that was
/// NXDOMAIN or NODATA and adds `txt_nxdomain` / `txt_nodata` itself.
///
/// ```
/// use mxcensus_proto::sts_txt::evaluate_sts_rrset;
/// use mxcensus_proto::verdict::StsTxt;
/// let rrset = vec![
///     vec![b"v=spf1 -all".to_vec()],
///     vec![b"v=STSv1; id=2016".to_vec(), b"0831085700Z;".to_vec()],
/// ];
/// let eval = evaluate_sts_rrset(&rrset);
/// assert_eq!(eval.verdict, StsTxt::Valid);
/// assert_eq!(eval.record.unwrap().id, "20160831085700Z");
/// ```
pub fn evaluate_sts_rrset<R, S>(rrset: &[R]) -> StsTxtEvaluation
where
    R: AsRef<[S]>,
    S: AsRef<[u8]>,
{
    let joined: Vec<Vec<u8>> = rrset
        .iter()
        .map(|strings| txtfields::join_character_strings(strings.as_ref()))
        .collect();
    evaluate_sts_records(&joined)
}

/// Like [`evaluate_sts_rrset`], for records whose character-strings are already joined
/// (one entry per TXT record).
pub fn evaluate_sts_records<T: AsRef<[u8]>>(records: &[T]) -> StsTxtEvaluation {
    let total = records.len();
    let mut selected = Vec::new();
    let mut near_misses = 0usize;
    let mut findings = Vec::new();
    for (index, record) in records.iter().enumerate() {
        let record = record.as_ref();
        match classify_version_prefix(record, &STS_VERSION) {
            VersionPrefix::Exact => selected.push(index),
            VersionPrefix::Foreign => {}
            _ => {
                near_misses += 1;
                let parsed = parse_sts_record(record);
                findings.extend(label(parsed.findings, index, total));
            }
        }
    }

    let (verdict, record) = match selected.as_slice() {
        [] if near_misses > 0 => (StsTxt::Invalid, None),
        [] => {
            if total > 0 {
                let sample = records
                    .first()
                    .map(|r| show(r.as_ref()))
                    .unwrap_or_default();
                findings.push(Finding::new(
                    StsTxtClass::NoStsRecord,
                    format!(
                        "{total} TXT record(s), none beginning with \"v=STSv1;\" (first: {sample})"
                    ),
                ));
            }
            (StsTxt::Absent, None)
        }
        [only] => {
            let parsed = records
                .get(*only)
                .map(|r| parse_sts_record(r.as_ref()))
                .unwrap_or(StsRecordParse {
                    record: None,
                    findings: Vec::new(),
                });
            findings.extend(label(parsed.findings, *only, total));
            match parsed.record {
                Some(record) => (StsTxt::Valid, Some(record)),
                None => (StsTxt::Invalid, None),
            }
        }
        many => {
            findings.push(Finding::new(
                StsTxtClass::MultipleStsRecords,
                format!(
                    "{} TXT records begin with \"v=STSv1;\"; senders use no policy",
                    many.len()
                ),
            ));
            // Each record's own problems still help the publisher pick the one to keep.
            for &index in many {
                if let Some(record) = records.get(index) {
                    let parsed = parse_sts_record(record.as_ref());
                    findings.extend(label(parsed.findings, index, total));
                }
            }
            (StsTxt::Multiple, None)
        }
    };
    StsTxtEvaluation {
        verdict,
        record,
        findings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::FailureClass;
    use crate::finding::check_class_table;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn codes(findings: &[Finding<StsTxtClass>]) -> Vec<&'static str> {
        findings.iter().map(|f| f.code()).collect()
    }

    fn eval_one(record: &str) -> StsTxtEvaluation {
        evaluate_sts_records(&[record.as_bytes()])
    }

    #[track_caller]
    fn assert_class(record: &str, verdict: StsTxt, class: StsTxtClass) {
        let eval = eval_one(record);
        assert_eq!(eval.verdict, verdict, "{record:?}: {:?}", eval.findings);
        assert!(
            eval.findings.iter().any(|f| f.class == class),
            "{record:?}: want {class}, got {:?}",
            codes(&eval.findings)
        );
    }

    #[test]
    fn class_table_is_well_formed() {
        check_class_table::<StsTxtClass>().unwrap();
        assert_eq!(StsTxtClass::ALL.len(), 17);
    }

    #[test]
    fn rfc_example() {
        let eval = eval_one("v=STSv1; id=20160831085700Z;");
        assert_eq!(eval.verdict, StsTxt::Valid);
        assert!(eval.findings.is_empty());
        let record = eval.record.unwrap();
        assert_eq!(record.id, "20160831085700Z");
        assert!(record.extensions.is_empty());
    }

    #[test]
    fn valid_forms() {
        for record in [
            "v=STSv1;id=1",
            "v=STSv1; id=1",
            "v=STSv1;\tid=1\t;",
            "v=STSv1; id=1 ; ",
            "v=STSv1; ext=a;id=1",
            &format!("v=STSv1; id={}", "a".repeat(32)),
        ] {
            let eval = eval_one(record);
            assert_eq!(
                eval.verdict,
                StsTxt::Valid,
                "{record:?}: {:?}",
                eval.findings
            );
            assert!(eval.findings.is_empty(), "{record:?}");
        }
    }

    #[test]
    fn extensions_are_kept_and_checked() {
        let eval = eval_one("v=STSv1; id=abc; foo.bar_1-x=a:b<c>~; n=1");
        let record = eval.record.unwrap();
        assert_eq!(
            record.extensions,
            [
                ("foo.bar_1-x".to_owned(), "a:b<c>~".to_owned()),
                ("n".to_owned(), "1".to_owned())
            ]
        );
        assert_class(
            "v=STSv1; id=abc; ext=a=b",
            StsTxt::Invalid,
            StsTxtClass::BadExtension,
        );
        assert_class(
            "v=STSv1; id=abc; ext=",
            StsTxt::Invalid,
            StsTxtClass::BadExtension,
        );
        assert_class(
            "v=STSv1; id=abc; _x=1",
            StsTxt::Invalid,
            StsTxtClass::BadExtension,
        );
        assert_class(
            "v=STSv1; id=abc; flag",
            StsTxt::Invalid,
            StsTxtClass::BadExtension,
        );
        assert_class(
            "v=STSv1; id=abc; e=a b",
            StsTxt::Invalid,
            StsTxtClass::BadExtension,
        );
        let long_name = format!("v=STSv1; id=abc; {}=1", "n".repeat(33));
        assert_class(&long_name, StsTxt::Invalid, StsTxtClass::BadExtension);
    }

    #[test]
    fn id_rules() {
        assert_class(
            "v=STSv1; id=2024-01-01",
            StsTxt::Invalid,
            StsTxtClass::BadIdChars,
        );
        assert_class("v=STSv1; id=", StsTxt::Invalid, StsTxtClass::BadIdChars);
        assert_class("v=STSv1; id=a b", StsTxt::Invalid, StsTxtClass::BadIdChars);
        let long = format!("v=STSv1; id={}", "a".repeat(33));
        assert_class(&long, StsTxt::Invalid, StsTxtClass::IdTooLong);
        assert_class("v=STSv1;", StsTxt::Invalid, StsTxtClass::MissingId);
        assert_class("v=STSv1; ext=1", StsTxt::Invalid, StsTxtClass::MissingId);
        let eval = eval_one("v=STSv1; ID=123");
        assert_eq!(codes(&eval.findings), ["missing_id"]);
        assert!(eval.findings[0].detail.contains("case-sensitive"));
    }

    #[test]
    fn duplicate_id_keeps_first() {
        let eval = eval_one("v=STSv1; id=first; id=second");
        assert_eq!(eval.verdict, StsTxt::Valid);
        assert_eq!(codes(&eval.findings), ["duplicate_id"]);
        assert_eq!(eval.findings[0].severity(), Severity::Warning);
        assert_eq!(eval.record.unwrap().id, "first");
    }

    #[test]
    fn delimiters() {
        assert_class("v=STSv1;; id=1", StsTxt::Invalid, StsTxtClass::BadDelimiter);
        assert_class(
            "v=STSv1; id=1;;",
            StsTxt::Invalid,
            StsTxtClass::BadDelimiter,
        );
        assert_class("v=STSv1; id=1 ", StsTxt::Invalid, StsTxtClass::BadDelimiter);
        assert_class("v=STSv1", StsTxt::Invalid, StsTxtClass::BadDelimiter);
        assert_class("v=STSv1 id=1", StsTxt::Invalid, StsTxtClass::BadDelimiter);
        assert_class("v=STSv1, id=1", StsTxt::Invalid, StsTxtClass::BadDelimiter);
    }

    #[test]
    fn version_near_misses_are_invalid_not_absent() {
        for record in [
            "V=STSv1; id=1",
            "v=stsv1; id=1",
            "v = STSv1; id=1",
            " v=STSv1; id=1",
        ] {
            assert_class(record, StsTxt::Invalid, StsTxtClass::BadVersion);
        }
        assert_class(
            "\"v=STSv1; id=1\"",
            StsTxt::Invalid,
            StsTxtClass::BadVersion,
        );
        assert_class("v=STSv2; id=1", StsTxt::Invalid, StsTxtClass::BadVersion);
        assert_class(
            "id=1; v=STSv1",
            StsTxt::Invalid,
            StsTxtClass::VersionNotFirst,
        );
    }

    #[test]
    fn prefix_variant() {
        let eval = eval_one("v=STSv1 ; id=1");
        assert_eq!(eval.verdict, StsTxt::Invalid);
        assert_eq!(codes(&eval.findings), ["sts_prefix_variant"]);
        // Its other problems are reported too.
        let eval = eval_one("v=STSv1\t;");
        assert_eq!(codes(&eval.findings), ["sts_prefix_variant", "missing_id"]);
        // Discarded by selection: a strict record beside it still wins.
        let eval = evaluate_sts_records(&["v=STSv1 ; id=1", "v=STSv1; id=2"]);
        assert_eq!(eval.verdict, StsTxt::Valid);
        assert_eq!(eval.record.unwrap().id, "2");
        assert_eq!(codes(&eval.findings), ["sts_prefix_variant"]);
        assert!(eval.findings[0].detail.starts_with("TXT record 1 of 2: "));
    }

    #[test]
    fn non_ascii_is_a_finding() {
        // The encoding class, plus the ABNF class of the field that holds the byte:
        // `sts-ext-value` is %x21-3A / %x3C / %x3E-7E, `sts-id` ALPHA / DIGIT (§3.1).
        let eval = evaluate_sts_records(&["v=STSv1; id=1; x=caf\u{e9}".as_bytes()]);
        assert_eq!(eval.verdict, StsTxt::Invalid);
        assert_eq!(codes(&eval.findings), ["non_ascii", "bad_extension"]);
        let eval = evaluate_sts_records(&[&b"v=STSv1; id=\xff\xfe"[..]]);
        assert_eq!(eval.verdict, StsTxt::Invalid);
        assert_eq!(codes(&eval.findings), ["non_ascii", "bad_id_chars"]);
        // Foreign records are not ours to judge.
        let eval = evaluate_sts_records(&[&b"\xff\xfe"[..], b"v=STSv1; id=1"]);
        assert_eq!(eval.verdict, StsTxt::Valid);
        assert!(eval.findings.is_empty());
    }

    #[test]
    fn selection() {
        let none: [&str; 0] = [];
        let eval = evaluate_sts_records(&none);
        assert_eq!((eval.verdict, eval.findings.len()), (StsTxt::Absent, 0));

        let eval = evaluate_sts_records(&["v=spf1 -all", "google-site-verification=x"]);
        assert_eq!(eval.verdict, StsTxt::Absent);
        assert_eq!(codes(&eval.findings), ["no_sts_record"]);

        let eval = evaluate_sts_records(&["v=STSv1; id=1", "v=STSv1; id=2"]);
        assert_eq!(eval.verdict, StsTxt::Multiple);
        assert!(eval.record.is_none());
        assert_eq!(codes(&eval.findings), ["multiple_sts_records"]);

        let eval = evaluate_sts_records(&["v=STSv1; id=1", "v=STSv1; id=a-b"]);
        assert_eq!(eval.verdict, StsTxt::Multiple);
        assert_eq!(
            codes(&eval.findings),
            ["multiple_sts_records", "bad_id_chars"]
        );

        // Foreign records beside the STS record are fine (unlike checkdmarc's reading).
        let eval = evaluate_sts_records(&["v=spf1 -all", "v=STSv1; id=1"]);
        assert_eq!(eval.verdict, StsTxt::Valid);
        assert!(eval.findings.is_empty());
    }

    #[test]
    fn multi_string_join() {
        let rrset = vec![vec![
            b"v=STSv1;".to_vec(),
            b" id=2016".to_vec(),
            b"0831".to_vec(),
            b"085700Z;".to_vec(),
        ]];
        let eval = evaluate_sts_rrset(&rrset);
        assert_eq!(eval.record.unwrap().id, "20160831085700Z");
        // Joining adds no space: the split "v=STSv1" / "; id=1" stays exact.
        let rrset = vec![vec![b"v=STSv1".to_vec(), b"; id=1".to_vec()]];
        assert_eq!(evaluate_sts_rrset(&rrset).verdict, StsTxt::Valid);
        // Character-strings are not separate records: the second string's "v=STSv1"
        // is an extension of the first's record, and its id a duplicate.
        let rrset = vec![vec![b"v=STSv1; id=1;".to_vec(), b"v=STSv1; id=2".to_vec()]];
        let eval = evaluate_sts_rrset(&rrset);
        assert_eq!(eval.verdict, StsTxt::Valid);
        assert_eq!(codes(&eval.findings), ["duplicate_id"]);
        assert_eq!(eval.record.unwrap().id, "1");
    }

    #[test]
    fn crawler_only_classes_exist() {
        for code in [
            "txt_nxdomain",
            "txt_nodata",
            "txt_dns_error",
            "txt_bogus",
            "sts_record_at_apex",
        ] {
            assert!(StsTxtClass::from_code(code).is_some(), "{code}");
        }
        assert_eq!(StsTxtClass::TxtDnsError.severity(), Severity::Error);
        assert_eq!(StsTxtClass::NoStsRecord.severity(), Severity::Info);
    }

    fn wsp() -> impl Strategy<Value = String> {
        "[ \t]{0,2}"
    }

    prop_compose! {
        fn extension()(name in "[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", value in "[!-:<>-~]{1,16}")
            -> (String, String) { (name, value) }
    }

    prop_compose! {
        /// A valid record, its id and extensions.
        fn valid_record()(
            id in "[A-Za-z0-9]{1,32}",
            exts in prop::collection::vec(
                extension().prop_filter("not the id field", |(n, _)| n != "id"), 0..4),
            id_pos in 0usize..5,
            spaces in prop::collection::vec(wsp(), 12),
            trailing in any::<bool>(),
        ) -> (String, String, Vec<(String, String)>) {
            let mut fields: Vec<String> = exts.iter().map(|(n, v)| format!("{n}={v}")).collect();
            fields.insert(id_pos.min(fields.len()), format!("id={id}"));
            let mut text = String::from("v=STSv1;");
            let mut ws = spaces.iter().cycle();
            for (i, field) in fields.iter().enumerate() {
                if i > 0 {
                    text.push_str(ws.next().unwrap());
                    text.push(';');
                }
                text.push_str(ws.next().unwrap());
                text.push_str(field);
            }
            if trailing {
                text.push_str(ws.next().unwrap());
                text.push(';');
                text.push_str(ws.next().unwrap());
            }
            (text, id, exts)
        }
    }

    proptest! {
        #[test]
        fn never_panics(rrset in prop::collection::vec(
            prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..4), 0..4)) {
            let eval = evaluate_sts_rrset(&rrset);
            prop_assert_eq!(eval.record.is_some(), eval.verdict == StsTxt::Valid);
        }

        #[test]
        fn never_panics_near_the_grammar(
            parts in prop::collection::vec(
                prop::sample::select(vec!["v=STSv1", ";", " ", "\t", "id=", "1", "a", "=", "-", "\u{e9}", "V", "x=y"]),
                0..12),
        ) {
            let record = parts.concat();
            let eval = evaluate_sts_records(&[record.as_bytes()]);
            prop_assert_eq!(eval.record.is_some(), eval.verdict == StsTxt::Valid);
        }

        #[test]
        fn valid_records_round_trip(
            (text, id, exts) in valid_record(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..3),
            foreign in prop::option::of("v=spf1 [a-z:. -]{0,20}"),
        ) {
            // Split into character-strings at random points.
            let bytes = text.as_bytes();
            let mut points: BTreeSet<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
            points.insert(0);
            points.insert(bytes.len());
            let points: Vec<usize> = points.into_iter().collect();
            let strings: Vec<Vec<u8>> = points.windows(2).map(|w| bytes[w[0]..w[1]].to_vec()).collect();
            let mut rrset = vec![strings];
            if let Some(foreign) = foreign {
                rrset.insert(0, vec![foreign.into_bytes()]);
            }
            let eval = evaluate_sts_rrset(&rrset);
            prop_assert_eq!(eval.verdict, StsTxt::Valid, "{:?} {:?}", text, eval.findings);
            prop_assert!(eval.findings.is_empty());
            let record = eval.record.unwrap();
            prop_assert_eq!(record.id, id);
            prop_assert_eq!(record.extensions, exts);
        }
    }
}
