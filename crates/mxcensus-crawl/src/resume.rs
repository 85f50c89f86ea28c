//! `--resume`: what a shard directory already holds.
//!
//! After [`ShardWriter::open`](mxcensus_dataset::segment::ShardWriter::open) has dropped
//! uncommitted segments, the committed rows are final: their domains are skipped, their
//! rejected input lines are not reported again, their headline values seed the manifest
//! counts, and their `smtp` rows rebuild the (host, ip) cache so no address is probed
//! twice in one snapshot. Domains and probes are streamed to the caller (into the
//! on-disk dedupe maps of [`crate::spill`]), so a resume of a large shard does not hold
//! them in memory.

use std::collections::{BTreeMap, HashSet};
use std::net::IpAddr;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int64Type, UInt64Type};
use mxcensus_dataset::DatasetError;
use mxcensus_dataset::read::for_each_batch;
use mxcensus_dataset::segment::Recovery;
use mxcensus_dataset::tables::SmtpRow;

use crate::facts::{ProbeFacts, probe_facts_of};
use crate::writer::{COUNTED, count_domain};

/// The committed state of a shard.
#[derive(Clone, Debug, Default)]
pub struct ResumeState {
    /// Domains with a committed row (each handed to the `done` callback of [`load`]).
    pub done: u64,
    /// Input lines with a committed `input_errors` row.
    pub error_lines: HashSet<u64>,
    /// Committed probes (each handed to the `probe` callback of [`load`]).
    pub probes: u64,
    /// Headline counts of the committed domains.
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
}

fn bad(column: &str, expected: &'static str) -> DatasetError {
    DatasetError::BadColumn {
        column: column.to_owned(),
        expected,
    }
}

fn strings<'a>(b: &'a RecordBatch, c: &str) -> Result<&'a arrow::array::StringArray, DatasetError> {
    b.column_by_name(c)
        .and_then(|a| a.as_string_opt::<i32>())
        .ok_or_else(|| bad(c, "Utf8"))
}

fn opt_str(a: &arrow::array::StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_owned())
}

fn bools<'a>(b: &'a RecordBatch, c: &str) -> Result<&'a arrow::array::BooleanArray, DatasetError> {
    b.column_by_name(c)
        .and_then(|a| a.as_boolean_opt())
        .ok_or_else(|| bad(c, "Boolean"))
}

/// A callback of [`load`] failed.
fn sink_error(shard_dir: &Path, source: std::io::Error) -> DatasetError {
    DatasetError::Io {
        path: shard_dir.to_owned(),
        source,
    }
}

/// Reads the committed rows of a shard: each committed domain goes to `done` (name,
/// input line), each committed probe to `probe` (MX host, IP, facts); the rest is
/// returned.
pub fn load(
    shard_dir: &Path,
    recovery: &Recovery,
    done: &mut dyn FnMut(&str, u64) -> std::io::Result<()>,
    probe: &mut dyn FnMut(&str, IpAddr, &ProbeFacts) -> std::io::Result<()>,
) -> Result<ResumeState, DatasetError> {
    let mut state = ResumeState::default();

    let mut columns = vec!["domain", "input_line", "error_classes"];
    columns.extend(COUNTED);
    for_each_batch(&recovery.table_files(shard_dir, "domains"), &columns, |b| {
        let domain = strings(b, "domain")?;
        let line = b
            .column_by_name("input_line")
            .and_then(|a| a.as_primitive_opt::<UInt64Type>())
            .ok_or_else(|| bad("input_line", "UInt64"))?;
        let classes = b
            .column_by_name("error_classes")
            .and_then(|a| a.as_list_opt::<i32>())
            .ok_or_else(|| bad("error_classes", "List<Utf8>"))?;
        let heads = COUNTED
            .iter()
            .map(|c| strings(b, c))
            .collect::<Result<Vec<_>, _>>()?;
        for i in 0..b.num_rows() {
            done(domain.value(i), line.value(i)).map_err(|e| sink_error(shard_dir, e))?;
            state.done += 1;
            let mut values: [Option<&str>; 9] = [None; 9];
            for (v, a) in values.iter_mut().zip(&heads) {
                *v = a.is_valid(i).then(|| a.value(i));
            }
            let list = classes.value(i);
            let list = list
                .as_string_opt::<i32>()
                .ok_or_else(|| bad("error_classes", "List<Utf8>"))?;
            let ec: Vec<String> = (0..list.len()).map(|j| list.value(j).to_owned()).collect();
            count_domain(&mut state.counts, values, &ec);
        }
        Ok(())
    })?;

    for_each_batch(
        &recovery.table_files(shard_dir, "input_errors"),
        &["input_line"],
        |b| {
            let line = b
                .column_by_name("input_line")
                .and_then(|a| a.as_primitive_opt::<UInt64Type>())
                .ok_or_else(|| bad("input_line", "UInt64"))?;
            state
                .error_lines
                .extend((0..b.num_rows()).map(|i| line.value(i)));
            Ok(())
        },
    )?;

    let smtp_columns = [
        "mx_host",
        "ip",
        "excluded",
        "greeting_code",
        "tls_completed",
        "pkix_valid",
        "name_valid",
        "cert_failures",
        "dane_outcome",
        "failure",
    ];
    for_each_batch(
        &recovery.table_files(shard_dir, "smtp"),
        &smtp_columns,
        |b| {
            let host = strings(b, "mx_host")?;
            let ip = strings(b, "ip")?;
            let excluded = bools(b, "excluded")?;
            let greeting = b
                .column_by_name("greeting_code")
                .and_then(|a| a.as_primitive_opt::<Int64Type>())
                .ok_or_else(|| bad("greeting_code", "Int64"))?;
            let tls = bools(b, "tls_completed")?;
            let pkix = bools(b, "pkix_valid")?;
            let name = bools(b, "name_valid")?;
            let certs = b
                .column_by_name("cert_failures")
                .and_then(|a| a.as_list_opt::<i32>())
                .ok_or_else(|| bad("cert_failures", "List<Utf8>"))?;
            let dane = strings(b, "dane_outcome")?;
            let failure = strings(b, "failure")?;
            for i in 0..b.num_rows() {
                let Ok(addr) = ip.value(i).parse::<IpAddr>() else {
                    continue;
                };
                let list = certs.value(i);
                let list = list
                    .as_string_opt::<i32>()
                    .ok_or_else(|| bad("cert_failures", "List<Utf8>"))?;
                let row = SmtpRow {
                    mx_host: host.value(i).to_owned(),
                    ip: ip.value(i).to_owned(),
                    excluded: excluded.value(i),
                    greeting_code: greeting.is_valid(i).then(|| greeting.value(i)),
                    tls_completed: tls.value(i),
                    pkix_valid: pkix.value(i),
                    name_valid: name.value(i),
                    cert_failures: (0..list.len()).map(|j| list.value(j).to_owned()).collect(),
                    dane_outcome: opt_str(dane, i),
                    failure: opt_str(failure, i),
                    ..SmtpRow::default()
                };
                probe(&row.mx_host, addr, &probe_facts_of(&row))
                    .map_err(|e| sink_error(shard_dir, e))?;
                state.probes += 1;
            }
            Ok(())
        },
    )?;
    Ok(state)
}
