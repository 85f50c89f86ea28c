//! Table definitions: one typed row struct per table, its Arrow schema, and the
//! documentation of every column (the dataset card is generated from [`ColumnDoc`]s and a
//! test keeps schema and documentation in step).
//!
//! The headline columns of `domains` are a contract (DESIGN.md): same names and values in
//! simnet's ground truth, so agreement is a join on `domain`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    UInt64Builder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::DatasetError;

/// Documentation of one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnDoc {
    /// Column name.
    pub name: &'static str,
    /// Type as shown in the card (`string`, `int64`, `list<string>`, ...).
    pub kind: &'static str,
    /// Whether the column can be null.
    pub nullable: bool,
    /// What it holds, its values, and where they come from.
    pub doc: &'static str,
}

const fn col(
    name: &'static str,
    kind: &'static str,
    nullable: bool,
    doc: &'static str,
) -> ColumnDoc {
    ColumnDoc {
        name,
        kind,
        nullable,
        doc,
    }
}

fn field(c: &ColumnDoc) -> Field {
    let dt = match c.kind {
        "string" => DataType::Utf8,
        "int64" => DataType::Int64,
        "uint64" => DataType::UInt64,
        "bool" => DataType::Boolean,
        "binary" => DataType::Binary,
        "list<string>" => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        "list<binary>" => DataType::List(Arc::new(Field::new("item", DataType::Binary, true))),
        // Only the kinds above are used in the tables; a new one must be added here.
        _ => DataType::Null,
    };
    Field::new(c.name, dt, c.nullable)
}

/// Builds the Arrow schema of a documented table.
pub fn schema_of(columns: &[ColumnDoc]) -> SchemaRef {
    Arc::new(Schema::new(columns.iter().map(field).collect::<Vec<_>>()))
}

/// The verdict columns of `domains` with one value each (`error_classes` aside): counted
/// in the manifest, tabulated by the report, compared with simnet's ground truth.
pub const HEADLINE_COLUMNS: [&str; 9] = [
    "mx_status",
    "sts_txt",
    "sts_policy",
    "sts_mode",
    "sts_mx_valid",
    "starttls",
    "tlsrpt",
    "dnssec",
    "dane",
];

/// Columns of the `domains` table, in order.
pub const DOMAINS_COLUMNS: &[ColumnDoc] = &[
    col(
        "domain",
        "string",
        false,
        "The input domain: lowercase A-labels, no trailing dot.",
    ),
    col(
        "rank",
        "int64",
        true,
        "Rank from the input list; null when the input had none.",
    ),
    col(
        "input_line",
        "uint64",
        false,
        "1-based line of the input the domain came from.",
    ),
    col(
        "mx_status",
        "string",
        false,
        "`ok` (MX hosts found), `implicit` (no MX RRset: the domain itself is the MX, RFC 5321 §5.1), `null_mx` (`MX 0 .`, RFC 7505), `error` (the MX RRset could not be had: SERVFAIL, timeout, bogus).",
    ),
    col(
        "sts_txt",
        "string",
        false,
        "MTA-STS TXT at `_mta-sts` (RFC 8461 §3.1): `valid`, `absent` (NXDOMAIN, NODATA or no STSv1 record), `invalid`, `multiple` (two or more STSv1 records: no policy), `error` (lookup failed or bogus).",
    ),
    col(
        "sts_policy",
        "string",
        false,
        "The HTTPS policy (RFC 8461 §3.2-3.3): `valid`, `invalid` (fetched, body not a valid policy), `fetch_failed`, `not_attempted` (no valid TXT record).",
    ),
    col(
        "sts_mode",
        "string",
        true,
        "`enforce`, `testing`, `none`; null when no valid policy.",
    ),
    col(
        "sts_mx_valid",
        "string",
        true,
        "MX hosts passing pattern + STARTTLS + certificate under the policy (SPEC §D): `all`, `some`, `none`; null when no valid policy or mode `none`.",
    ),
    col(
        "starttls",
        "string",
        true,
        "MX hosts that offer STARTTLS and complete a TLS 1.2+ handshake on every reached address: `all`, `some`, `none`, `error` (MX set unknown); null for `null_mx`.",
    ),
    col(
        "tlsrpt",
        "string",
        false,
        "TLS-RPT at `_smtp._tls` (RFC 8460 §3): `valid`, `absent`, `invalid`, `multiple`, `error`.",
    ),
    col(
        "dnssec",
        "string",
        false,
        "DNSSEC status of the MX RRset or its denial (RFC 4035 §4.3): `secure`, `insecure`, `bogus`, `error`, `unknown` (the resolver was not proven to validate; see the manifest's canaries).",
    ),
    col(
        "dane",
        "string",
        true,
        "MX hosts whose TLSA is usable and matches the served chain (SPEC §F, RFC 7672): `all`, `partial`, `none` (also whenever the MX RRset is insecure), `broken` (usable TLSA that does not match, or bogus/failed TLSA lookups), `error` (MX set unknown, or resolver not validating); null for `null_mx`.",
    ),
    col(
        "error_classes",
        "list<string>",
        false,
        "Every failure class met, sorted, from the vocabulary in the dataset card. Absence of a record is not a failure.",
    ),
    // Evidence columns (not part of the headline contract).
    col(
        "validator_ok",
        "bool",
        false,
        "The resolver passed the canaries of the run (manifest `resolver.canaries`): AD bits and DNSSEC columns mean what they say. When false, `dnssec` is `unknown` and `dane` is `error`.",
    ),
    col(
        "mx_rcode",
        "string",
        false,
        "Outcome of the MX lookup: `noerror`, `nodata`, `nxdomain`, `servfail`, `refused`, `formerr`, `other_rcode`, `timeout`, `malformed`, `unreachable`, `network_error`, `invalid_name` (after retries).",
    ),
    col(
        "mx_ad",
        "bool",
        false,
        "AD bit on the MX answer (or its denial).",
    ),
    col(
        "mx_dnssec",
        "string",
        false,
        "DNSSEC status of the MX lookup as read from the resolver: `secure`, `insecure`, `bogus` (SERVFAIL, data with CD=1), `error`, `unknown`.",
    ),
    col(
        "mx_records",
        "list<string>",
        false,
        "MX records as `<preference> <exchange>` in preference order; the null MX is `0 .`.",
    ),
    col(
        "mx_cname_chain",
        "list<string>",
        false,
        "CNAME links followed from the domain for the MX query, as `owner -> target`.",
    ),
    col(
        "mx_attempts",
        "uint64",
        false,
        "Queries sent for the MX lookup (retries and the CD=1 re-query included); for a domain \
         re-crawled by the late retry (its DNS stage first failed transiently), both passes.",
    ),
    col(
        "sts_txt_rcode",
        "string",
        false,
        "Outcome of the TXT lookup at `_mta-sts.<domain>` (values as `mx_rcode`).",
    ),
    col("sts_txt_ad", "bool", false, "AD bit on that TXT answer."),
    col(
        "sts_txt_records",
        "list<string>",
        false,
        "Every TXT record at `_mta-sts.<domain>` (character-strings concatenated, lossy UTF-8), STSv1 or not.",
    ),
    col(
        "sts_id",
        "string",
        true,
        "The `id` of the single valid STSv1 record; null otherwise.",
    ),
    col(
        "tlsrpt_rcode",
        "string",
        false,
        "Outcome of the TXT lookup at `_smtp._tls.<domain>` (values as `mx_rcode`).",
    ),
    col("tlsrpt_ad", "bool", false, "AD bit on that TXT answer."),
    col(
        "tlsrpt_records",
        "list<string>",
        false,
        "Every TXT record at `_smtp._tls.<domain>` (lossy UTF-8).",
    ),
    col(
        "tlsrpt_rua",
        "list<string>",
        false,
        "The `rua` URIs of the single valid TLSRPTv1 record.",
    ),
    col(
        "policy_host_rcode",
        "string",
        true,
        "Outcome of the A lookup of `mta-sts.<domain>` (values as `mx_rcode`); null when no policy fetch was attempted.",
    ),
    col(
        "policy_sha256",
        "string",
        true,
        "SHA-256 (hex) of the policy body fetched, when a complete body was read; joins `policies.body_sha256`.",
    ),
    col(
        "mx_hosts",
        "list<string>",
        false,
        "The mail hosts judged, in preference order (MX exchanges, or the domain itself when implicit); one `mx` row each.",
    ),
    col(
        "findings",
        "list<string>",
        false,
        "Every finding code of the TXT, policy and TLS-RPT evaluations, all severities (warnings and informational notes included), sorted and unique.",
    ),
    col(
        "dns_ms",
        "uint64",
        false,
        "Wall time of the domain's own DNS stage (MX, `_mta-sts` and `_smtp._tls` TXT, concurrently), milliseconds.",
    ),
    col(
        "total_ms",
        "uint64",
        false,
        "Wall time from the start of the domain to its row, milliseconds (shared MX probes may have been waited for or reused).",
    ),
    col(
        "crawled_at",
        "int64",
        false,
        "When the domain's crawl started, Unix seconds (UTC).",
    ),
];

/// One value of a row, typed as its column (see [`batch_of`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// `string` (null when `None`).
    Str(Option<String>),
    /// `int64`.
    I64(Option<i64>),
    /// `uint64`.
    U64(Option<u64>),
    /// `bool`.
    Bool(Option<bool>),
    /// `binary`.
    Bin(Option<Vec<u8>>),
    /// `list<string>` (never null; empty when nothing).
    Strs(Vec<String>),
    /// `list<binary>` (never null).
    Bins(Vec<Vec<u8>>),
}

impl Cell {
    /// A non-null string.
    pub fn s(v: impl Into<String>) -> Cell {
        Cell::Str(Some(v.into()))
    }

    fn kind(&self) -> &'static str {
        match self {
            Cell::Str(_) => "string",
            Cell::I64(_) => "int64",
            Cell::U64(_) => "uint64",
            Cell::Bool(_) => "bool",
            Cell::Bin(_) => "binary",
            Cell::Strs(_) => "list<string>",
            Cell::Bins(_) => "list<binary>",
        }
    }

    fn is_null(&self) -> bool {
        matches!(
            self,
            Cell::Str(None)
                | Cell::I64(None)
                | Cell::U64(None)
                | Cell::Bool(None)
                | Cell::Bin(None)
        )
    }
}

/// A typed row of a documented table.
pub trait Row {
    /// The table's columns.
    const COLUMNS: &'static [ColumnDoc];
    /// The row's values, one per column, in order.
    fn cells(&self) -> Vec<Cell>;
}

/// Builds a batch of `columns` from rows of cells. Fails (never panics) when a row has the
/// wrong number of cells, a cell of the wrong kind, or a null in a non-null column.
pub fn batch_of(columns: &[ColumnDoc], rows: &[Vec<Cell>]) -> Result<RecordBatch, DatasetError> {
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let cells = rows.iter().map(|r| r.get(i));
        for cell in rows.iter().map(|r| r.get(i)) {
            let ok = cell.is_some_and(|v| v.kind() == c.kind && (c.nullable || !v.is_null()));
            if !ok {
                return Err(DatasetError::BadColumn {
                    column: c.name.to_owned(),
                    expected: c.kind,
                });
            }
        }
        let array: ArrayRef = match c.kind {
            "string" => {
                let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
                for v in cells {
                    if let Some(Cell::Str(v)) = v {
                        b.append_option(v.as_deref());
                    }
                }
                Arc::new(b.finish())
            }
            "int64" => {
                let mut b = Int64Builder::with_capacity(rows.len());
                for v in cells {
                    if let Some(Cell::I64(v)) = v {
                        b.append_option(*v);
                    }
                }
                Arc::new(b.finish())
            }
            "uint64" => {
                let mut b = UInt64Builder::with_capacity(rows.len());
                for v in cells {
                    if let Some(Cell::U64(v)) = v {
                        b.append_option(*v);
                    }
                }
                Arc::new(b.finish())
            }
            "bool" => {
                let mut b = BooleanBuilder::with_capacity(rows.len());
                for v in cells {
                    if let Some(Cell::Bool(v)) = v {
                        b.append_option(*v);
                    }
                }
                Arc::new(b.finish())
            }
            "binary" => {
                let mut b = BinaryBuilder::new();
                for v in cells {
                    if let Some(Cell::Bin(v)) = v {
                        b.append_option(v.as_deref());
                    }
                }
                Arc::new(b.finish())
            }
            "list<string>" => {
                let mut b = ListBuilder::new(StringBuilder::new());
                for v in cells {
                    if let Some(Cell::Strs(v)) = v {
                        list_of_strings(&mut b, v);
                    }
                }
                Arc::new(b.finish())
            }
            "list<binary>" => {
                let mut b = ListBuilder::new(BinaryBuilder::new());
                for v in cells {
                    if let Some(Cell::Bins(v)) = v {
                        for x in v {
                            b.values().append_value(x);
                        }
                        b.append(true);
                    }
                }
                Arc::new(b.finish())
            }
            _ => {
                return Err(DatasetError::BadColumn {
                    column: c.name.to_owned(),
                    expected: "a known kind",
                });
            }
        };
        arrays.push(array);
    }
    finish(schema_of(columns), arrays)
}

/// Builds a batch from typed rows.
pub fn rows_batch<R: Row>(rows: &[R]) -> Result<RecordBatch, DatasetError> {
    let cells: Vec<Vec<Cell>> = rows.iter().map(Row::cells).collect();
    batch_of(R::COLUMNS, &cells)
}

/// One row of `domains`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DomainRow {
    /// `domain`.
    pub domain: String,
    /// `rank`.
    pub rank: Option<i64>,
    /// `input_line`.
    pub input_line: u64,
    /// `mx_status`.
    pub mx_status: String,
    /// `sts_txt`.
    pub sts_txt: String,
    /// `sts_policy`.
    pub sts_policy: String,
    /// `sts_mode`.
    pub sts_mode: Option<String>,
    /// `sts_mx_valid`.
    pub sts_mx_valid: Option<String>,
    /// `starttls`.
    pub starttls: Option<String>,
    /// `tlsrpt`.
    pub tlsrpt: String,
    /// `dnssec`.
    pub dnssec: String,
    /// `dane`.
    pub dane: Option<String>,
    /// `error_classes`.
    pub error_classes: Vec<String>,
    /// Evidence columns (`validator_ok` ... `crawled_at`).
    pub evidence: DomainEvidence,
}

/// The evidence columns of `domains` (documented in [`DOMAINS_COLUMNS`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DomainEvidence {
    /// `validator_ok`.
    pub validator_ok: bool,
    /// `mx_rcode`.
    pub mx_rcode: String,
    /// `mx_ad`.
    pub mx_ad: bool,
    /// `mx_dnssec`.
    pub mx_dnssec: String,
    /// `mx_records`.
    pub mx_records: Vec<String>,
    /// `mx_cname_chain`.
    pub mx_cname_chain: Vec<String>,
    /// `mx_attempts`.
    pub mx_attempts: u64,
    /// `sts_txt_rcode`.
    pub sts_txt_rcode: String,
    /// `sts_txt_ad`.
    pub sts_txt_ad: bool,
    /// `sts_txt_records`.
    pub sts_txt_records: Vec<String>,
    /// `sts_id`.
    pub sts_id: Option<String>,
    /// `tlsrpt_rcode`.
    pub tlsrpt_rcode: String,
    /// `tlsrpt_ad`.
    pub tlsrpt_ad: bool,
    /// `tlsrpt_records`.
    pub tlsrpt_records: Vec<String>,
    /// `tlsrpt_rua`.
    pub tlsrpt_rua: Vec<String>,
    /// `policy_host_rcode`.
    pub policy_host_rcode: Option<String>,
    /// `policy_sha256`.
    pub policy_sha256: Option<String>,
    /// `mx_hosts`.
    pub mx_hosts: Vec<String>,
    /// `findings`.
    pub findings: Vec<String>,
    /// `dns_ms`.
    pub dns_ms: u64,
    /// `total_ms`.
    pub total_ms: u64,
    /// `crawled_at`.
    pub crawled_at: i64,
}

impl Row for DomainRow {
    const COLUMNS: &'static [ColumnDoc] = DOMAINS_COLUMNS;

    fn cells(&self) -> Vec<Cell> {
        let e = &self.evidence;
        vec![
            Cell::s(&self.domain),
            Cell::I64(self.rank),
            Cell::U64(Some(self.input_line)),
            Cell::s(&self.mx_status),
            Cell::s(&self.sts_txt),
            Cell::s(&self.sts_policy),
            Cell::Str(self.sts_mode.clone()),
            Cell::Str(self.sts_mx_valid.clone()),
            Cell::Str(self.starttls.clone()),
            Cell::s(&self.tlsrpt),
            Cell::s(&self.dnssec),
            Cell::Str(self.dane.clone()),
            Cell::Strs(self.error_classes.clone()),
            Cell::Bool(Some(e.validator_ok)),
            Cell::s(&e.mx_rcode),
            Cell::Bool(Some(e.mx_ad)),
            Cell::s(&e.mx_dnssec),
            Cell::Strs(e.mx_records.clone()),
            Cell::Strs(e.mx_cname_chain.clone()),
            Cell::U64(Some(e.mx_attempts)),
            Cell::s(&e.sts_txt_rcode),
            Cell::Bool(Some(e.sts_txt_ad)),
            Cell::Strs(e.sts_txt_records.clone()),
            Cell::Str(e.sts_id.clone()),
            Cell::s(&e.tlsrpt_rcode),
            Cell::Bool(Some(e.tlsrpt_ad)),
            Cell::Strs(e.tlsrpt_records.clone()),
            Cell::Strs(e.tlsrpt_rua.clone()),
            Cell::Str(e.policy_host_rcode.clone()),
            Cell::Str(e.policy_sha256.clone()),
            Cell::Strs(e.mx_hosts.clone()),
            Cell::Strs(e.findings.clone()),
            Cell::U64(Some(e.dns_ms)),
            Cell::U64(Some(e.total_ms)),
            Cell::I64(Some(e.crawled_at)),
        ]
    }
}

fn list_of_strings<'a>(
    b: &mut ListBuilder<StringBuilder>,
    values: impl IntoIterator<Item = &'a String>,
) {
    for v in values {
        b.values().append_value(v);
    }
    b.append(true);
}

fn finish(schema: SchemaRef, columns: Vec<ArrayRef>) -> Result<RecordBatch, DatasetError> {
    Ok(RecordBatch::try_new(schema, columns)?)
}

/// Builds a `domains` batch.
pub fn domains_batch(rows: &[DomainRow]) -> Result<RecordBatch, DatasetError> {
    rows_batch(rows)
}

/// Columns of the `input_errors` table.
pub const INPUT_ERRORS_COLUMNS: &[ColumnDoc] = &[
    col(
        "input_line",
        "uint64",
        false,
        "1-based line number in the input.",
    ),
    col(
        "raw",
        "string",
        false,
        "The line as read (lossy UTF-8, at most 1024 bytes).",
    ),
    col(
        "reason",
        "string",
        false,
        "Why it was rejected: `not_utf8`, `line_too_long`, `bad_rank`, `missing_domain`, `extra_fields`, `not_a_domain` (URL or address), `single_label`, `bad_name` (host-name syntax), `duplicate` (of an earlier line), `excluded` (on the exclusion list: never contacted).",
    ),
    col(
        "message",
        "string",
        false,
        "A sentence for people: the reason with details (e.g. the line of the first occurrence).",
    ),
];

/// One row of `input_errors`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct InputErrorRow {
    /// `input_line`.
    pub input_line: u64,
    /// `raw`.
    pub raw: String,
    /// `reason`.
    pub reason: String,
    /// `message`.
    pub message: String,
}

/// Builds an `input_errors` batch.
pub fn input_errors_batch(rows: &[InputErrorRow]) -> Result<RecordBatch, DatasetError> {
    let mut line = UInt64Builder::with_capacity(rows.len());
    let mut raw = StringBuilder::new();
    let mut reason = StringBuilder::new();
    let mut message = StringBuilder::new();
    for r in rows {
        line.append_value(r.input_line);
        raw.append_value(&r.raw);
        reason.append_value(&r.reason);
        message.append_value(&r.message);
    }
    finish(
        schema_of(INPUT_ERRORS_COLUMNS),
        vec![
            Arc::new(line.finish()),
            Arc::new(raw.finish()),
            Arc::new(reason.finish()),
            Arc::new(message.finish()),
        ],
    )
}

/// Columns of the `mx` table: one row per domain × mail host.
pub const MX_COLUMNS: &[ColumnDoc] = &[
    col(
        "domain",
        "string",
        false,
        "The input domain (joins `domains.domain`).",
    ),
    col(
        "position",
        "uint64",
        false,
        "0-based position of the host in the domain's preference order.",
    ),
    col(
        "preference",
        "int64",
        true,
        "MX preference; null for the implicit MX (the domain itself, RFC 5321 §5.1).",
    ),
    col(
        "exchange",
        "string",
        false,
        "The MX host name as published (never a CNAME target, RFC 8461 §4.1), lowercase, no trailing dot.",
    ),
    col(
        "covered_by",
        "string",
        true,
        "The policy `mx` pattern that covers the host (RFC 8461 §4.1); null without a valid policy or when none covers it.",
    ),
    col(
        "addresses",
        "list<string>",
        false,
        "The host's addresses (AAAA first, then A) as resolved; these are the `smtp.ip` values.",
    ),
    col(
        "address_rcode",
        "string",
        false,
        "Outcome of the A lookup (values as `domains.mx_rcode`).",
    ),
    col(
        "address_aaaa_rcode",
        "string",
        false,
        "Outcome of the AAAA lookup.",
    ),
    col(
        "address_ad",
        "bool",
        false,
        "AD set on both address answers.",
    ),
    col(
        "address_dnssec",
        "string",
        false,
        "The weaker DNSSEC status of the A and AAAA lookups: `secure`, `insecure`, `bogus`, `error`, `unknown`.",
    ),
    col(
        "address_cname_chain",
        "list<string>",
        false,
        "CNAME links followed from the host for its addresses, `owner -> target`.",
    ),
    col(
        "dane_candidates",
        "string",
        false,
        "RFC 7672 §2.2.2 decision on TLSA base domains: `candidates`, `insecure_addresses`, `insecure_cname`, `lookup_failed`, `validator_unknown`.",
    ),
    col(
        "tlsa_base",
        "string",
        true,
        "TLSA base domain of the deciding TLSA lookup (the host, or a CNAME target).",
    ),
    col(
        "tlsa_outcome",
        "string",
        false,
        "TLSA discovery outcome (RFC 7672 §2.2.3): `secure` (secure non-empty RRset), `not_secure` (records without AD), `no_records`, `failed` (bogus or failed lookup), `not_applicable` (addresses not secure: the host's own TLSA asked as evidence only).",
    ),
    col(
        "tlsa_rcode",
        "string",
        true,
        "Outcome of the deciding TLSA lookup at `_<port>._tcp.<base>`.",
    ),
    col("tlsa_ad", "bool", true, "AD on that TLSA answer."),
    col(
        "tlsa_dnssec",
        "string",
        true,
        "DNSSEC status of that TLSA lookup.",
    ),
    col(
        "tlsa_records",
        "list<string>",
        false,
        "TLSA records found, presentation format (`usage selector mtype data`).",
    ),
    col(
        "reached",
        "bool",
        false,
        "An SMTP session got past a 220 greeting on at least one address.",
    ),
    col(
        "starttls_ok",
        "bool",
        false,
        "Every reached address offered STARTTLS and completed a TLS handshake.",
    ),
    col(
        "cert_ok",
        "bool",
        false,
        "Every reached address presented a certificate valid under Web PKI for the host name (RFC 8461 §4.2).",
    ),
    col(
        "sts_valid",
        "bool",
        false,
        "Passes the policy: covered by a pattern, STARTTLS, certificate (SPEC §D).",
    ),
    col(
        "dane_usable",
        "bool",
        false,
        "MX RRset secure, addresses secure, secure TLSA with a usable record (SPEC §F, RFC 7672 §2.2).",
    ),
    col(
        "dane_valid",
        "bool",
        false,
        "DANE-usable and every reached address's chain matched the TLSA records.",
    ),
    col(
        "dane_broken",
        "bool",
        false,
        "Bogus or failed TLSA lookup behind a secure MX RRset, or usable TLSA without STARTTLS or without a match: DANE senders defer.",
    ),
    col(
        "ip_failures",
        "list<string>",
        false,
        "Failure classes of the host's addresses (SMTP, TLS, certificate, `excluded_address`), sorted and unique.",
    ),
];

/// One row of `mx`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct MxRow {
    /// `domain`.
    pub domain: String,
    /// `position`.
    pub position: u64,
    /// `preference`.
    pub preference: Option<i64>,
    /// `exchange`.
    pub exchange: String,
    /// `covered_by`.
    pub covered_by: Option<String>,
    /// `addresses`.
    pub addresses: Vec<String>,
    /// `address_rcode`.
    pub address_rcode: String,
    /// `address_aaaa_rcode`.
    pub address_aaaa_rcode: String,
    /// `address_ad`.
    pub address_ad: bool,
    /// `address_dnssec`.
    pub address_dnssec: String,
    /// `address_cname_chain`.
    pub address_cname_chain: Vec<String>,
    /// `dane_candidates`.
    pub dane_candidates: String,
    /// `tlsa_base`.
    pub tlsa_base: Option<String>,
    /// `tlsa_outcome`.
    pub tlsa_outcome: String,
    /// `tlsa_rcode`.
    pub tlsa_rcode: Option<String>,
    /// `tlsa_ad`.
    pub tlsa_ad: Option<bool>,
    /// `tlsa_dnssec`.
    pub tlsa_dnssec: Option<String>,
    /// `tlsa_records`.
    pub tlsa_records: Vec<String>,
    /// `reached`.
    pub reached: bool,
    /// `starttls_ok`.
    pub starttls_ok: bool,
    /// `cert_ok`.
    pub cert_ok: bool,
    /// `sts_valid`.
    pub sts_valid: bool,
    /// `dane_usable`.
    pub dane_usable: bool,
    /// `dane_valid`.
    pub dane_valid: bool,
    /// `dane_broken`.
    pub dane_broken: bool,
    /// `ip_failures`.
    pub ip_failures: Vec<String>,
}

impl Row for MxRow {
    const COLUMNS: &'static [ColumnDoc] = MX_COLUMNS;

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::s(&self.domain),
            Cell::U64(Some(self.position)),
            Cell::I64(self.preference),
            Cell::s(&self.exchange),
            Cell::Str(self.covered_by.clone()),
            Cell::Strs(self.addresses.clone()),
            Cell::s(&self.address_rcode),
            Cell::s(&self.address_aaaa_rcode),
            Cell::Bool(Some(self.address_ad)),
            Cell::s(&self.address_dnssec),
            Cell::Strs(self.address_cname_chain.clone()),
            Cell::s(&self.dane_candidates),
            Cell::Str(self.tlsa_base.clone()),
            Cell::s(&self.tlsa_outcome),
            Cell::Str(self.tlsa_rcode.clone()),
            Cell::Bool(self.tlsa_ad),
            Cell::Str(self.tlsa_dnssec.clone()),
            Cell::Strs(self.tlsa_records.clone()),
            Cell::Bool(Some(self.reached)),
            Cell::Bool(Some(self.starttls_ok)),
            Cell::Bool(Some(self.cert_ok)),
            Cell::Bool(Some(self.sts_valid)),
            Cell::Bool(Some(self.dane_usable)),
            Cell::Bool(Some(self.dane_valid)),
            Cell::Bool(Some(self.dane_broken)),
            Cell::Strs(self.ip_failures.clone()),
        ]
    }
}

/// Columns of the `smtp` table: one row per probed (MX host, IP), shared by every domain
/// that uses the host.
pub const SMTP_COLUMNS: &[ColumnDoc] = &[
    col(
        "mx_host",
        "string",
        false,
        "The MX host name probed (joins `mx.exchange`); the certificate reference name.",
    ),
    col(
        "ip",
        "string",
        false,
        "The address dialled (joins an element of `mx.addresses`).",
    ),
    col(
        "port",
        "int64",
        false,
        "The TCP port dialled (25 on the Internet).",
    ),
    col(
        "probed_at",
        "int64",
        false,
        "Probe start, Unix seconds; certificates were judged at this time.",
    ),
    col(
        "attempts",
        "uint64",
        false,
        "Probe attempts made (a connect or greeting time-out is retried once after a pause, SPEC §I).",
    ),
    col(
        "excluded",
        "bool",
        false,
        "The address is on the exclusion list: nothing was sent, every other column is empty.",
    ),
    col(
        "connect",
        "string",
        false,
        "TCP connect outcome: `ok`, `refused`, `timeout`, `unreachable`, `reset`, `addr_not_available`, `other`, or `not_attempted` (excluded).",
    ),
    col(
        "connect_ms",
        "uint64",
        true,
        "Time to connect (the round trip on success), milliseconds.",
    ),
    col(
        "greeting_code",
        "int64",
        true,
        "Reply code of the greeting (220, 421, 554, ...).",
    ),
    col(
        "greeting_text",
        "string",
        true,
        "Greeting text, lines joined with `\\n`.",
    ),
    col(
        "greeting_delay_ms",
        "uint64",
        true,
        "From connected to the end of the greeting, milliseconds.",
    ),
    col("ehlo_code", "int64", true, "Reply code to EHLO before TLS."),
    col(
        "ehlo_lines",
        "list<string>",
        false,
        "EHLO reply lines before TLS (server name, then keywords).",
    ),
    col(
        "helo_code",
        "int64",
        true,
        "Reply code to HELO when EHLO was refused.",
    ),
    col(
        "starttls_offered",
        "bool",
        false,
        "EHLO advertised STARTTLS (RFC 3207 §4).",
    ),
    col(
        "starttls_code",
        "int64",
        true,
        "Reply code to STARTTLS (220, 454, 501, ...).",
    ),
    col("starttls_text", "string", true, "Reply text to STARTTLS."),
    col(
        "tls_completed",
        "bool",
        false,
        "The TLS handshake completed.",
    ),
    col(
        "tls_version",
        "string",
        true,
        "Negotiated TLS version (`TLSv1_2`, `TLSv1_3`, ...).",
    ),
    col(
        "tls_cipher",
        "string",
        true,
        "Negotiated cipher suite (IANA name).",
    ),
    col(
        "tls_sni",
        "string",
        true,
        "SNI sent (the MX name, or the TLSA base domain behind a CNAME, RFC 7672 §8.1).",
    ),
    col(
        "tls_error",
        "string",
        true,
        "Why the handshake failed (debug form of the typed error).",
    ),
    col(
        "chain_sha256",
        "list<string>",
        false,
        "SHA-256 (hex) of each served certificate, leaf first.",
    ),
    col(
        "chain_der",
        "list<binary>",
        false,
        "The served chain, DER, leaf first.",
    ),
    col(
        "ocsp_stapled",
        "bool",
        false,
        "An OCSP response was stapled.",
    ),
    col(
        "cert_status",
        "string",
        true,
        "Web PKI verdict for the MX name: `valid`, `unknown_issuer`, `self_signed`, `path_invalid`, `expired`, `not_yet_valid`, `name_mismatch`, `cn_only`, `partial_wildcard_only`, `unparseable`, `no_certificate`.",
    ),
    col(
        "pkix_valid",
        "bool",
        false,
        "The chain leads to a trusted root and is within its dates (name not considered).",
    ),
    col(
        "name_valid",
        "bool",
        false,
        "A DNS-ID of the leaf matches the MX name (RFC 8461 §4.2, RFC 6125 DNS-IDs only).",
    ),
    col(
        "cert_failures",
        "list<string>",
        false,
        "Certificate failure classes (`cert_*`).",
    ),
    col(
        "ehlo_after_tls_code",
        "int64",
        true,
        "Reply code to EHLO inside TLS.",
    ),
    col(
        "ehlo_after_tls_lines",
        "list<string>",
        false,
        "EHLO reply lines inside TLS.",
    ),
    col(
        "starttls_after_tls",
        "bool",
        false,
        "STARTTLS advertised again inside TLS (RFC 3207 §4.2 forbids it).",
    ),
    col(
        "quit_code",
        "int64",
        true,
        "Reply code to QUIT (221 expected).",
    ),
    col(
        "dane_applicable",
        "bool",
        false,
        "The host had a secure TLSA RRset at probe time, so the chain was verified against it.",
    ),
    col(
        "dane_outcome",
        "string",
        true,
        "DANE verification of the served chain (RFC 7672 §3): `authenticated`, `no_usable_records`, or the failure class (`dane_*`); null when not applicable or no handshake.",
    ),
    col(
        "dane_matched",
        "string",
        true,
        "The TLSA record that authenticated the server, presentation format.",
    ),
    col(
        "dane_findings",
        "list<string>",
        false,
        "DANE finding codes (all severities).",
    ),
    col(
        "failure",
        "string",
        true,
        "Why the probe stopped short of EHLO over TLS (SPEC §I vocabulary: `connect_refused`, `connect_timeout`, `greeting_timeout`, `greeting_554`, `greeting_421`, `ehlo_rejected`, `no_starttls`, `starttls_454`, `starttls_other`, `tls_handshake_failed`, `tls_legacy_only`, ...); null when it got there. A certificate failure is not a probe failure.",
    ),
    col(
        "failure_phase",
        "string",
        true,
        "Phase of the failure: `connect`, `greeting`, `ehlo`, `helo`, `starttls`, `tls_handshake`, `ehlo_after_tls`, `quit`.",
    ),
    col(
        "error_detail",
        "string",
        true,
        "The typed error behind the failure (debug form), for people.",
    ),
    col(
        "transcript",
        "list<string>",
        false,
        "The session, one line each: `+<ms>ms C:`/`S:` (client/server), `[tls]` inside TLS, then the line (capped).",
    ),
    col(
        "transcript_truncated",
        "bool",
        false,
        "Transcript lines were dropped after the cap.",
    ),
    col(
        "ehlo_ms",
        "uint64",
        false,
        "EHLO (and HELO) round trip, milliseconds (0 when not run).",
    ),
    col(
        "starttls_ms",
        "uint64",
        false,
        "STARTTLS round trip, milliseconds.",
    ),
    col("tls_ms", "uint64", false, "TLS handshake, milliseconds."),
    col(
        "total_ms",
        "uint64",
        false,
        "The whole probe (last attempt), milliseconds.",
    ),
];

/// One row of `smtp`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SmtpRow {
    /// `mx_host`.
    pub mx_host: String,
    /// `ip`.
    pub ip: String,
    /// `port`.
    pub port: i64,
    /// `probed_at`.
    pub probed_at: i64,
    /// `attempts`.
    pub attempts: u64,
    /// `excluded`.
    pub excluded: bool,
    /// `connect`.
    pub connect: String,
    /// `connect_ms`.
    pub connect_ms: Option<u64>,
    /// `greeting_code`.
    pub greeting_code: Option<i64>,
    /// `greeting_text`.
    pub greeting_text: Option<String>,
    /// `greeting_delay_ms`.
    pub greeting_delay_ms: Option<u64>,
    /// `ehlo_code`.
    pub ehlo_code: Option<i64>,
    /// `ehlo_lines`.
    pub ehlo_lines: Vec<String>,
    /// `helo_code`.
    pub helo_code: Option<i64>,
    /// `starttls_offered`.
    pub starttls_offered: bool,
    /// `starttls_code`.
    pub starttls_code: Option<i64>,
    /// `starttls_text`.
    pub starttls_text: Option<String>,
    /// `tls_completed`.
    pub tls_completed: bool,
    /// `tls_version`.
    pub tls_version: Option<String>,
    /// `tls_cipher`.
    pub tls_cipher: Option<String>,
    /// `tls_sni`.
    pub tls_sni: Option<String>,
    /// `tls_error`.
    pub tls_error: Option<String>,
    /// `chain_sha256`.
    pub chain_sha256: Vec<String>,
    /// `chain_der`.
    pub chain_der: Vec<Vec<u8>>,
    /// `ocsp_stapled`.
    pub ocsp_stapled: bool,
    /// `cert_status`.
    pub cert_status: Option<String>,
    /// `pkix_valid`.
    pub pkix_valid: bool,
    /// `name_valid`.
    pub name_valid: bool,
    /// `cert_failures`.
    pub cert_failures: Vec<String>,
    /// `ehlo_after_tls_code`.
    pub ehlo_after_tls_code: Option<i64>,
    /// `ehlo_after_tls_lines`.
    pub ehlo_after_tls_lines: Vec<String>,
    /// `starttls_after_tls`.
    pub starttls_after_tls: bool,
    /// `quit_code`.
    pub quit_code: Option<i64>,
    /// `dane_applicable`.
    pub dane_applicable: bool,
    /// `dane_outcome`.
    pub dane_outcome: Option<String>,
    /// `dane_matched`.
    pub dane_matched: Option<String>,
    /// `dane_findings`.
    pub dane_findings: Vec<String>,
    /// `failure`.
    pub failure: Option<String>,
    /// `failure_phase`.
    pub failure_phase: Option<String>,
    /// `error_detail`.
    pub error_detail: Option<String>,
    /// `transcript`.
    pub transcript: Vec<String>,
    /// `transcript_truncated`.
    pub transcript_truncated: bool,
    /// `ehlo_ms`.
    pub ehlo_ms: u64,
    /// `starttls_ms`.
    pub starttls_ms: u64,
    /// `tls_ms`.
    pub tls_ms: u64,
    /// `total_ms`.
    pub total_ms: u64,
}

impl Row for SmtpRow {
    const COLUMNS: &'static [ColumnDoc] = SMTP_COLUMNS;

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::s(&self.mx_host),
            Cell::s(&self.ip),
            Cell::I64(Some(self.port)),
            Cell::I64(Some(self.probed_at)),
            Cell::U64(Some(self.attempts)),
            Cell::Bool(Some(self.excluded)),
            Cell::s(&self.connect),
            Cell::U64(self.connect_ms),
            Cell::I64(self.greeting_code),
            Cell::Str(self.greeting_text.clone()),
            Cell::U64(self.greeting_delay_ms),
            Cell::I64(self.ehlo_code),
            Cell::Strs(self.ehlo_lines.clone()),
            Cell::I64(self.helo_code),
            Cell::Bool(Some(self.starttls_offered)),
            Cell::I64(self.starttls_code),
            Cell::Str(self.starttls_text.clone()),
            Cell::Bool(Some(self.tls_completed)),
            Cell::Str(self.tls_version.clone()),
            Cell::Str(self.tls_cipher.clone()),
            Cell::Str(self.tls_sni.clone()),
            Cell::Str(self.tls_error.clone()),
            Cell::Strs(self.chain_sha256.clone()),
            Cell::Bins(self.chain_der.clone()),
            Cell::Bool(Some(self.ocsp_stapled)),
            Cell::Str(self.cert_status.clone()),
            Cell::Bool(Some(self.pkix_valid)),
            Cell::Bool(Some(self.name_valid)),
            Cell::Strs(self.cert_failures.clone()),
            Cell::I64(self.ehlo_after_tls_code),
            Cell::Strs(self.ehlo_after_tls_lines.clone()),
            Cell::Bool(Some(self.starttls_after_tls)),
            Cell::I64(self.quit_code),
            Cell::Bool(Some(self.dane_applicable)),
            Cell::Str(self.dane_outcome.clone()),
            Cell::Str(self.dane_matched.clone()),
            Cell::Strs(self.dane_findings.clone()),
            Cell::Str(self.failure.clone()),
            Cell::Str(self.failure_phase.clone()),
            Cell::Str(self.error_detail.clone()),
            Cell::Strs(self.transcript.clone()),
            Cell::Bool(Some(self.transcript_truncated)),
            Cell::U64(Some(self.ehlo_ms)),
            Cell::U64(Some(self.starttls_ms)),
            Cell::U64(Some(self.tls_ms)),
            Cell::U64(Some(self.total_ms)),
        ]
    }
}

/// Columns of the `policies` table: one row per attempted policy fetch.
pub const POLICIES_COLUMNS: &[ColumnDoc] = &[
    col(
        "domain",
        "string",
        false,
        "The policy domain (joins `domains.domain`).",
    ),
    col(
        "host",
        "string",
        false,
        "`mta-sts.<domain>`: the SNI and certificate reference name (RFC 8461 §3.2, §7.1).",
    ),
    col(
        "host_rcode",
        "string",
        false,
        "Outcome of the A lookup of the host (values as `domains.mx_rcode`).",
    ),
    col(
        "host_addresses",
        "list<string>",
        false,
        "Addresses resolved for the host (AAAA first, then A).",
    ),
    col(
        "address",
        "string",
        true,
        "The address the fetch used (the first that accepted a connection).",
    ),
    col(
        "port",
        "int64",
        false,
        "The HTTPS port (443 on the Internet).",
    ),
    col(
        "fetched_at",
        "int64",
        false,
        "Fetch start, Unix seconds; the certificate was judged at this time.",
    ),
    col(
        "txt_id",
        "string",
        true,
        "The `id` of the TXT record that led to the fetch (with `body_sha256`, flags a policy changed without a new id).",
    ),
    col(
        "status",
        "string",
        false,
        "`valid` (policy fetched and valid), `invalid` (fetched, body invalid), `fetch_failed` (see `failure`).",
    ),
    col(
        "failure",
        "string",
        true,
        "The deciding fetch failure class (SPEC §B: `policy_host_nxdomain`, `policy_host_no_address`, `policy_host_dns_error`, `connect_*`, `tls_*`, `cert_*`, `http_*`, `content_type_*`, `body_*`, `fetch_timeout`, `excluded_address`); null when the body was fetched.",
    ),
    col(
        "failures",
        "list<string>",
        false,
        "Every fetch failure found, the deciding one first.",
    ),
    col("http_status", "int64", true, "HTTP status code."),
    col("content_type", "string", true, "`Content-Type` as sent."),
    col(
        "location",
        "string",
        true,
        "`Location` of a redirect (never followed, RFC 8461 §3.3).",
    ),
    col(
        "body",
        "binary",
        true,
        "The body of a 200 response, at most 64 KiB (RFC 8461 §3.3).",
    ),
    col(
        "body_complete",
        "bool",
        false,
        "The whole body was read (not capped, not cut by the deadline).",
    ),
    col(
        "body_sha256",
        "string",
        true,
        "SHA-256 (hex) of the complete body.",
    ),
    col("mode", "string", true, "Parsed `mode` of a valid policy."),
    col(
        "max_age",
        "int64",
        true,
        "Parsed `max_age` of a valid policy, seconds.",
    ),
    col(
        "mx",
        "list<string>",
        false,
        "Parsed `mx` patterns of a valid policy, in order.",
    ),
    col(
        "findings",
        "list<string>",
        false,
        "Policy body finding codes (all severities).",
    ),
    col("tls_version", "string", true, "Negotiated TLS version."),
    col("tls_cipher", "string", true, "Negotiated cipher suite."),
    col(
        "chain_sha256",
        "list<string>",
        false,
        "SHA-256 (hex) of each served certificate, leaf first.",
    ),
    col(
        "cert_status",
        "string",
        true,
        "Web PKI verdict for the host (values as `smtp.cert_status`).",
    ),
    col(
        "cert_failures",
        "list<string>",
        false,
        "Certificate failure classes.",
    ),
    col("connect_ms", "uint64", false, "TCP connect, milliseconds."),
    col("tls_ms", "uint64", false, "TLS handshake, milliseconds."),
    col(
        "response_ms",
        "uint64",
        false,
        "Request to response head, milliseconds.",
    ),
    col("body_ms", "uint64", false, "Body read, milliseconds."),
    col(
        "total_ms",
        "uint64",
        false,
        "Whole fetch, milliseconds (compare with stricter senders' budgets, e.g. 4 s).",
    ),
];

/// One row of `policies`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PolicyRow {
    /// `domain`.
    pub domain: String,
    /// `host`.
    pub host: String,
    /// `host_rcode`.
    pub host_rcode: String,
    /// `host_addresses`.
    pub host_addresses: Vec<String>,
    /// `address`.
    pub address: Option<String>,
    /// `port`.
    pub port: i64,
    /// `fetched_at`.
    pub fetched_at: i64,
    /// `txt_id`.
    pub txt_id: Option<String>,
    /// `status`.
    pub status: String,
    /// `failure`.
    pub failure: Option<String>,
    /// `failures`.
    pub failures: Vec<String>,
    /// `http_status`.
    pub http_status: Option<i64>,
    /// `content_type`.
    pub content_type: Option<String>,
    /// `location`.
    pub location: Option<String>,
    /// `body`.
    pub body: Option<Vec<u8>>,
    /// `body_complete`.
    pub body_complete: bool,
    /// `body_sha256`.
    pub body_sha256: Option<String>,
    /// `mode`.
    pub mode: Option<String>,
    /// `max_age`.
    pub max_age: Option<i64>,
    /// `mx`.
    pub mx: Vec<String>,
    /// `findings`.
    pub findings: Vec<String>,
    /// `tls_version`.
    pub tls_version: Option<String>,
    /// `tls_cipher`.
    pub tls_cipher: Option<String>,
    /// `chain_sha256`.
    pub chain_sha256: Vec<String>,
    /// `cert_status`.
    pub cert_status: Option<String>,
    /// `cert_failures`.
    pub cert_failures: Vec<String>,
    /// `connect_ms`.
    pub connect_ms: u64,
    /// `tls_ms`.
    pub tls_ms: u64,
    /// `response_ms`.
    pub response_ms: u64,
    /// `body_ms`.
    pub body_ms: u64,
    /// `total_ms`.
    pub total_ms: u64,
}

impl Row for PolicyRow {
    const COLUMNS: &'static [ColumnDoc] = POLICIES_COLUMNS;

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::s(&self.domain),
            Cell::s(&self.host),
            Cell::s(&self.host_rcode),
            Cell::Strs(self.host_addresses.clone()),
            Cell::Str(self.address.clone()),
            Cell::I64(Some(self.port)),
            Cell::I64(Some(self.fetched_at)),
            Cell::Str(self.txt_id.clone()),
            Cell::s(&self.status),
            Cell::Str(self.failure.clone()),
            Cell::Strs(self.failures.clone()),
            Cell::I64(self.http_status),
            Cell::Str(self.content_type.clone()),
            Cell::Str(self.location.clone()),
            Cell::Bin(self.body.clone()),
            Cell::Bool(Some(self.body_complete)),
            Cell::Str(self.body_sha256.clone()),
            Cell::Str(self.mode.clone()),
            Cell::I64(self.max_age),
            Cell::Strs(self.mx.clone()),
            Cell::Strs(self.findings.clone()),
            Cell::Str(self.tls_version.clone()),
            Cell::Str(self.tls_cipher.clone()),
            Cell::Strs(self.chain_sha256.clone()),
            Cell::Str(self.cert_status.clone()),
            Cell::Strs(self.cert_failures.clone()),
            Cell::U64(Some(self.connect_ms)),
            Cell::U64(Some(self.tls_ms)),
            Cell::U64(Some(self.response_ms)),
            Cell::U64(Some(self.body_ms)),
            Cell::U64(Some(self.total_ms)),
        ]
    }
}

impl Row for InputErrorRow {
    const COLUMNS: &'static [ColumnDoc] = INPUT_ERRORS_COLUMNS;

    fn cells(&self) -> Vec<Cell> {
        vec![
            Cell::U64(Some(self.input_line)),
            Cell::s(&self.raw),
            Cell::s(&self.reason),
            Cell::s(&self.message),
        ]
    }
}

/// Every table of a shard, with a one-line description for the dataset card.
pub const TABLES: &[(&str, &str, &[ColumnDoc])] = &[
    (
        "domains",
        "One row per input domain of the shard: the headline verdicts (a contract shared with simnet's ground truth), then evidence.",
        DOMAINS_COLUMNS,
    ),
    (
        "mx",
        "One row per domain × mail host (MX exchanges by preference, or the domain itself for an implicit MX; none for a null MX or a failed MX lookup).",
        MX_COLUMNS,
    ),
    (
        "smtp",
        "One row per probed (MX host, IP): probed once per snapshot and shared by every domain that uses the host (join `mx` on `exchange = mx_host` and `ip` in `addresses`).",
        SMTP_COLUMNS,
    ),
    (
        "policies",
        "One row per attempted MTA-STS policy fetch (domains whose `_mta-sts` TXT record is valid).",
        POLICIES_COLUMNS,
    ),
    (
        "input_errors",
        "One row per rejected input line (and per excluded domain).",
        INPUT_ERRORS_COLUMNS,
    ),
];

/// The [`crate::segment::TableSpec`]s of a crawl shard.
pub fn table_specs() -> Vec<crate::segment::TableSpec> {
    TABLES
        .iter()
        .map(|(name, _, cols)| crate::segment::TableSpec {
            name,
            schema: schema_of(cols),
        })
        .collect()
}

/// Renders a table's columns as a Markdown table for the dataset card.
pub fn card_section(table: &str, about: &str, columns: &[ColumnDoc]) -> String {
    let mut out = format!(
        "### `{table}`\n\n{about}\n\n| column | type | null | meaning |\n| --- | --- | --- | --- |\n"
    );
    for c in columns {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            c.name,
            c.kind,
            if c.nullable { "yes" } else { "no" },
            c.doc.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemas_follow_their_documentation() {
        for (_, _, cols) in TABLES {
            let schema = schema_of(cols);
            for (f, c) in schema.fields().iter().zip(cols.iter()) {
                assert_eq!(f.name(), c.name);
                assert_ne!(
                    f.data_type(),
                    &DataType::Null,
                    "{} has an unknown kind",
                    c.name
                );
                assert!(!c.doc.is_empty());
            }
        }
    }

    #[test]
    fn every_row_type_fills_its_columns() {
        fn check<R: Row + Default>() {
            let b = rows_batch(&[R::default(), R::default()]).expect("batch");
            assert_eq!(b.num_rows(), 2);
            assert_eq!(b.schema(), schema_of(R::COLUMNS));
        }
        check::<DomainRow>();
        check::<MxRow>();
        check::<SmtpRow>();
        check::<PolicyRow>();
        check::<InputErrorRow>();
        // A wrong kind or a null in a non-null column is an error, not a panic.
        let bad = batch_of(INPUT_ERRORS_COLUMNS, &[vec![Cell::Str(None); 4]]);
        assert!(bad.is_err());
        let short = batch_of(INPUT_ERRORS_COLUMNS, &[vec![Cell::U64(Some(1))]]);
        assert!(short.is_err());
    }

    #[test]
    fn headline_columns_are_the_contract() {
        let names: Vec<&str> = DOMAINS_COLUMNS.iter().map(|c| c.name).collect();
        for want in [
            "domain",
            "rank",
            "mx_status",
            "sts_txt",
            "sts_policy",
            "sts_mode",
            "sts_mx_valid",
            "starttls",
            "tlsrpt",
            "dnssec",
            "dane",
            "error_classes",
        ] {
            assert!(names.contains(&want), "{want} missing");
        }
    }

    #[test]
    fn batches_build_with_nulls_and_lists() {
        let rows = vec![
            DomainRow {
                domain: "a.org".into(),
                rank: Some(1),
                input_line: 1,
                mx_status: "ok".into(),
                sts_txt: "valid".into(),
                sts_policy: "valid".into(),
                sts_mode: Some("enforce".into()),
                sts_mx_valid: Some("all".into()),
                starttls: Some("all".into()),
                tlsrpt: "valid".into(),
                dnssec: "insecure".into(),
                dane: Some("none".into()),
                error_classes: vec![],
                evidence: DomainEvidence::default(),
            },
            DomainRow {
                domain: "b.org".into(),
                mx_status: "null_mx".into(),
                error_classes: vec!["txt_dns_error".into()],
                ..Default::default()
            },
        ];
        let b = domains_batch(&rows).expect("batch");
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.schema(), schema_of(DOMAINS_COLUMNS));
        let e = input_errors_batch(&[InputErrorRow {
            input_line: 3,
            raw: "x".into(),
            reason: "single_label".into(),
            message: "single-label".into(),
        }])
        .expect("batch");
        assert_eq!(e.num_rows(), 1);
        assert!(
            card_section("domains", "One row per domain.", DOMAINS_COLUMNS)
                .contains("`sts_mx_valid`")
        );
    }
}
