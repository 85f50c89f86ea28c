//! Table definitions: one typed row struct per table, its Arrow schema, and the
//! documentation of every column (the dataset card is generated from [`ColumnDoc`]s and a
//! test keeps schema and documentation in step).
//!
//! The headline columns of `domains` are a contract (DESIGN.md): same names and values in
//! simnet's ground truth, so agreement is a join on `domain`.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int64Builder, ListBuilder, RecordBatch, StringBuilder, UInt64Builder,
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
        "list<string>" => DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
        // Only the kinds above are used in the tables; a new one must be added here.
        _ => DataType::Null,
    };
    Field::new(c.name, dt, c.nullable)
}

/// Builds the Arrow schema of a documented table.
pub fn schema_of(columns: &[ColumnDoc]) -> SchemaRef {
    Arc::new(Schema::new(columns.iter().map(field).collect::<Vec<_>>()))
}

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
];

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
    let n = rows.len();
    let mut domain = StringBuilder::with_capacity(n, n * 16);
    let mut rank = Int64Builder::with_capacity(n);
    let mut line = UInt64Builder::with_capacity(n);
    let mut text: Vec<StringBuilder> = (0..9)
        .map(|_| StringBuilder::with_capacity(n, n * 6))
        .collect();
    let mut classes = ListBuilder::new(StringBuilder::new());
    for r in rows {
        domain.append_value(&r.domain);
        rank.append_option(r.rank);
        line.append_value(r.input_line);
        let values: [Option<&str>; 9] = [
            Some(&r.mx_status),
            Some(&r.sts_txt),
            Some(&r.sts_policy),
            r.sts_mode.as_deref(),
            r.sts_mx_valid.as_deref(),
            r.starttls.as_deref(),
            Some(&r.tlsrpt),
            Some(&r.dnssec),
            r.dane.as_deref(),
        ];
        for (b, v) in text.iter_mut().zip(values) {
            b.append_option(v);
        }
        list_of_strings(&mut classes, &r.error_classes);
    }
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(domain.finish()),
        Arc::new(rank.finish()),
        Arc::new(line.finish()),
    ];
    columns.extend(text.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
    columns.push(Arc::new(classes.finish()));
    finish(schema_of(DOMAINS_COLUMNS), columns)
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
        for cols in [DOMAINS_COLUMNS, INPUT_ERRORS_COLUMNS] {
            let schema = schema_of(cols);
            for (f, c) in schema.fields().iter().zip(cols) {
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
