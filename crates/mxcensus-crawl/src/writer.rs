//! The writer: a dedicated thread that owns the [`ShardWriter`], buffers rows into
//! batches, marks each domain as a unit, commits segments on a timer and a domain count,
//! and keeps `manifest.json` current (status `running`, then `complete` or
//! `interrupted`).
//!
//! Rows arrive by message; a domain's rows arrive in one message, so a committed segment
//! never holds half a domain. An `smtp` row is sent when its probe finishes, before any
//! domain that uses it can finish, so a committed domain always has its `smtp` rows
//! committed too (the channel is FIFO).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mxcensus_dataset::DatasetError;
use mxcensus_dataset::manifest::{InputInfo, MANIFEST_FILE, Manifest, RunStatus};
use mxcensus_dataset::segment::ShardWriter;
use mxcensus_dataset::tables::{
    DomainRow, InputErrorRow, MxRow, PolicyRow, Row, SmtpRow, rows_batch,
};

/// Every row of one domain.
#[derive(Clone, Debug, Default)]
pub struct DomainOutput {
    /// The `domains` row.
    pub domain: DomainRow,
    /// Its `mx` rows.
    pub mx: Vec<MxRow>,
    /// Its `policies` rows.
    pub policies: Vec<PolicyRow>,
}

/// A message to the writer.
#[derive(Debug)]
pub enum WriterMsg {
    /// A finished domain (one unit).
    Domain(Box<DomainOutput>),
    /// A finished SMTP probe.
    Smtp(Box<SmtpRow>),
    /// A rejected input line (one unit).
    InputError(InputErrorRow),
    /// The end: commit, write the final manifest, stop.
    Finish {
        /// How the run ended.
        status: RunStatus,
        /// The input's final counts.
        input: InputInfo,
    },
}

/// What the writer did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Rows written per table in this run.
    pub rows: BTreeMap<String, u64>,
    /// Segments committed in this run.
    pub segments: u64,
    /// Headline counts, previous runs included.
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The headline columns counted in the manifest.
pub const COUNTED: [&str; 9] = [
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

/// Adds one domain's headline values to `counts`.
pub fn count_domain(
    counts: &mut BTreeMap<String, BTreeMap<String, u64>>,
    values: [Option<&str>; 9],
    error_classes: &[String],
) {
    for (column, v) in COUNTED.iter().zip(values) {
        *counts
            .entry((*column).to_owned())
            .or_default()
            .entry(v.unwrap_or("null").to_owned())
            .or_default() += 1;
    }
    for c in error_classes {
        *counts
            .entry("error_classes".to_owned())
            .or_default()
            .entry(c.clone())
            .or_default() += 1;
    }
}

fn headline(r: &DomainRow) -> [Option<&str>; 9] {
    [
        Some(r.mx_status.as_str()),
        Some(r.sts_txt.as_str()),
        Some(r.sts_policy.as_str()),
        r.sts_mode.as_deref(),
        r.sts_mx_valid.as_deref(),
        r.starttls.as_deref(),
        Some(r.tlsrpt.as_str()),
        Some(r.dnssec.as_str()),
        r.dane.as_deref(),
    ]
}

/// Writer tuning.
#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Commit at least this often.
    pub commit_every: Duration,
    /// Commit after this many units.
    pub commit_units: usize,
    /// Rows buffered per table before a write.
    pub batch_rows: usize,
}

struct Buffers {
    domains: Vec<DomainRow>,
    mx: Vec<MxRow>,
    smtp: Vec<SmtpRow>,
    policies: Vec<PolicyRow>,
    input_errors: Vec<InputErrorRow>,
}

struct Writer {
    shard: ShardWriter,
    manifest: Manifest,
    manifest_path: PathBuf,
    cfg: WriterConfig,
    buf: Buffers,
    stats: WriterStats,
    last_commit: Instant,
    units_since_commit: usize,
}

fn write_rows<R: Row>(
    shard: &mut ShardWriter,
    table: &str,
    rows: &mut Vec<R>,
    stats: &mut WriterStats,
) -> Result<(), DatasetError> {
    if rows.is_empty() {
        return Ok(());
    }
    let batch = rows_batch(rows)?;
    shard.write(table, &batch)?;
    *stats.rows.entry(table.to_owned()).or_default() += rows.len() as u64;
    rows.clear();
    Ok(())
}

impl Writer {
    fn flush(&mut self, all: bool) -> Result<(), DatasetError> {
        let n = self.cfg.batch_rows;
        let s = &mut self.shard;
        let st = &mut self.stats;
        if all || self.buf.domains.len() >= n {
            write_rows(s, "domains", &mut self.buf.domains, st)?;
        }
        if all || self.buf.mx.len() >= n {
            write_rows(s, "mx", &mut self.buf.mx, st)?;
        }
        // SMTP rows carry certificate chains: smaller batches keep memory bounded.
        if all || self.buf.smtp.len() >= n.div_ceil(8) {
            write_rows(s, "smtp", &mut self.buf.smtp, st)?;
        }
        if all || self.buf.policies.len() >= n.div_ceil(8) {
            write_rows(s, "policies", &mut self.buf.policies, st)?;
        }
        if all || self.buf.input_errors.len() >= n {
            write_rows(s, "input_errors", &mut self.buf.input_errors, st)?;
        }
        Ok(())
    }

    fn commit(&mut self) -> Result<(), DatasetError> {
        self.flush(true)?;
        if self.shard.commit()?.is_some() {
            self.stats.segments += 1;
        }
        self.last_commit = Instant::now();
        self.units_since_commit = 0;
        self.manifest.counts = self.stats.counts.clone();
        self.manifest.write_atomic(&self.manifest_path)
    }

    fn end_unit(&mut self) -> Result<(), DatasetError> {
        self.flush(false)?;
        self.shard.end_unit()?;
        self.units_since_commit += 1;
        if self.units_since_commit >= self.cfg.commit_units
            || self.last_commit.elapsed() >= self.cfg.commit_every
        {
            self.commit()?;
        }
        Ok(())
    }

    fn run(mut self, rx: Receiver<WriterMsg>) -> Result<WriterStats, DatasetError> {
        loop {
            // Wake up now and then so that a quiet crawl still commits on time.
            let msg = match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(m) => m,
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if self.units_since_commit > 0
                        && self.last_commit.elapsed() >= self.cfg.commit_every
                    {
                        self.commit()?;
                    }
                    continue;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    // The engine went away without a Finish: keep what is complete.
                    self.commit()?;
                    self.manifest.status = RunStatus::Interrupted;
                    self.manifest.finished_at = Some(rfc3339(SystemTime::now()));
                    self.manifest.write_atomic(&self.manifest_path)?;
                    return Ok(self.stats);
                }
            };
            match msg {
                WriterMsg::Domain(out) => {
                    let out = *out;
                    count_domain(
                        &mut self.stats.counts,
                        headline(&out.domain),
                        &out.domain.error_classes,
                    );
                    self.buf.domains.push(out.domain);
                    self.buf.mx.extend(out.mx);
                    self.buf.policies.extend(out.policies);
                    self.end_unit()?;
                }
                WriterMsg::Smtp(row) => self.buf.smtp.push(*row),
                WriterMsg::InputError(row) => {
                    self.buf.input_errors.push(row);
                    self.end_unit()?;
                }
                WriterMsg::Finish { status, input } => {
                    self.commit()?;
                    self.manifest.status = status;
                    self.manifest.input = input;
                    self.manifest.finished_at = Some(rfc3339(SystemTime::now()));
                    self.manifest.write_atomic(&self.manifest_path)?;
                    return Ok(self.stats);
                }
            }
        }
    }
}

/// The running writer thread.
pub struct WriterHandle {
    /// Send rows here.
    pub tx: SyncSender<WriterMsg>,
    join: JoinHandle<Result<WriterStats, DatasetError>>,
}

impl WriterHandle {
    /// Starts the thread. `counts` seeds the headline counts (from a resumed run); the
    /// manifest is written at once with status `running`.
    pub fn start(
        shard: ShardWriter,
        mut manifest: Manifest,
        counts: BTreeMap<String, BTreeMap<String, u64>>,
        cfg: WriterConfig,
        queue: usize,
    ) -> Result<WriterHandle, DatasetError> {
        let manifest_path = shard.shard_dir().join(MANIFEST_FILE);
        manifest.status = RunStatus::Running;
        manifest.counts = counts.clone();
        manifest.write_atomic(&manifest_path)?;
        let (tx, rx) = sync_channel(queue.max(1));
        let writer = Writer {
            shard,
            manifest,
            manifest_path,
            cfg,
            buf: Buffers {
                domains: Vec::new(),
                mx: Vec::new(),
                smtp: Vec::new(),
                policies: Vec::new(),
                input_errors: Vec::new(),
            },
            stats: WriterStats {
                counts,
                ..WriterStats::default()
            },
            last_commit: Instant::now(),
            units_since_commit: 0,
        };
        let join = std::thread::Builder::new()
            .name("mxcensus-writer".to_owned())
            .spawn(move || writer.run(rx))
            .map_err(|source| DatasetError::Io {
                path: PathBuf::from("<writer thread>"),
                source,
            })?;
        Ok(WriterHandle { tx, join })
    }

    /// Waits for the thread to finish (after a `Finish` message or once every sender is
    /// dropped).
    pub fn join(self) -> Result<WriterStats, DatasetError> {
        drop(self.tx);
        self.join
            .join()
            .unwrap_or(Err(DatasetError::Internal("writer thread panicked")))
    }
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// RFC 3339 UTC, seconds precision.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Today's UTC date, `YYYY-MM-DD`: the default snapshot id.
pub fn utc_date() -> String {
    let (y, m, d) = civil_from_days(unix_now().div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        let t = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn counts_accumulate() {
        let mut c = BTreeMap::new();
        let v = [
            Some("ok"),
            Some("valid"),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ];
        count_domain(&mut c, v, &["x".to_owned()]);
        count_domain(&mut c, v, &[]);
        assert_eq!(c["mx_status"]["ok"], 2);
        assert_eq!(c["sts_mode"]["null"], 2);
        assert_eq!(c["error_classes"]["x"], 1);
    }
}
