//! The adoption report of a snapshot: MTA-STS against DANE/DNSSEC.
//!
//! [`Report::build`] computes every figure from the snapshot's committed Parquet rows in
//! one streaming pass (bounded memory: one segment's MX rows and maps keyed by TLD, mail
//! provider and failure class). Three renderings share one document model, so the
//! Markdown and the HTML show the same numbers as `report.json`:
//!
//! - `report.json`: the [`Report`] itself (field names are a contract, see the crate
//!   README);
//! - `report.md`: tables, definitions beside the numbers;
//! - `report.html`: self-contained HTML5 (inline CSS and inline SVG charts, no script,
//!   no external URL), readable offline.

mod columns;
mod doc;
mod figures;
mod html;
mod markdown;
mod svg;
mod vocab;

use std::path::{Path, PathBuf};

pub use figures::{
    Axis, Conflict, Dnssec, FailureClassCount, FailureClasses, FunnelStep, Group, Groups, Headline,
    ManifestSummary, Matrix, MaxAge, MaxAgeBucket, Provenance, Provider, Providers, Quantiles,
    RANK_BANDS, REPORT_FORMAT, ReadyToFlip, Report, ShardProvenance, TlsRpt, TlsRptAmong, Totals,
    Warning, provider, rank_band, registrable, share, tld,
};

use crate::snapshot::{Snapshot, SnapshotError};

/// How many groups the report lists before summing the rest into `other`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReportOptions {
    /// TLDs listed in `by_tld.top`.
    pub top_tlds: usize,
    /// Providers listed in `by_provider.top`.
    pub top_providers: usize,
    /// Failure classes listed in `failure_classes.top`.
    pub top_failure_classes: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            top_tlds: 20,
            top_providers: 20,
            top_failure_classes: 25,
        }
    }
}

/// Why a report could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The snapshot could not be opened.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A Parquet file could not be read or has an unexpected schema.
    #[error(transparent)]
    Dataset(#[from] mxcensus_dataset::DatasetError),
    /// The snapshot has no committed `domains` row.
    #[error("{0}: the snapshot has no committed domain rows (nothing to report)")]
    Empty(PathBuf),
    /// An output file could not be written.
    #[error("{path}: {source}")]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The report could not be serialized.
    #[error("report.json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The files [`Report::write`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Written {
    /// `report.json`.
    pub json: PathBuf,
    /// `report.md`.
    pub markdown: PathBuf,
    /// `report.html`.
    pub html: PathBuf,
}

impl Report {
    /// Opens the snapshot at `path` (see [`Snapshot::open`]) and builds its report.
    pub fn from_path(path: &Path, options: &ReportOptions) -> Result<Report, ReportError> {
        let snapshot = Snapshot::open(path)?;
        Report::build(&snapshot, options)
    }

    /// `report.json`: the report as pretty JSON.
    pub fn to_json(&self) -> Result<String, ReportError> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// `report.md`.
    pub fn to_markdown(&self) -> String {
        markdown::render(&doc::document(self))
    }

    /// `report.html`: one self-contained HTML5 file.
    pub fn to_html(&self) -> String {
        html::render(&doc::document(self), &self.provenance.snapshot)
    }

    /// Writes `report.json`, `report.md` and `report.html` into `dir` (created if
    /// missing), each through a temporary file and a rename.
    pub fn write(&self, dir: &Path) -> Result<Written, ReportError> {
        std::fs::create_dir_all(dir).map_err(|source| ReportError::Write {
            path: dir.to_owned(),
            source,
        })?;
        let written = Written {
            json: dir.join("report.json"),
            markdown: dir.join("report.md"),
            html: dir.join("report.html"),
        };
        let mut json = self.to_json()?;
        json.push('\n');
        write_atomic(&written.json, &json)?;
        write_atomic(&written.markdown, &self.to_markdown())?;
        write_atomic(&written.html, &self.to_html())?;
        Ok(written)
    }

    /// Five lines for a terminal: the run, MTA-STS, DANE/DNSSEC, the matrix's
    /// conflicts, TLS-RPT and readiness.
    pub fn summary(&self) -> Vec<String> {
        let h = &self.headline;
        let d = h.domains;
        let c = |key: &str| {
            self.conflicts
                .iter()
                .find(|c| c.key == key)
                .map_or(0, |c| c.domains)
        };
        vec![
            format!(
                "snapshot {}: {} domains, {} MX rows, status {}, {} shard(s){}",
                self.provenance.snapshot,
                d,
                self.totals.mx_rows,
                self.provenance.status,
                self.provenance.shards_found,
                if self.warnings.is_empty() {
                    String::new()
                } else {
                    format!(", {} warning(s)", self.warnings.len())
                }
            ),
            format!(
                "MTA-STS: TXT valid {} ({}), policy valid {}, enforce {} ({} with every MX valid), testing {}",
                h.sts_txt_valid,
                pct(share(h.sts_txt_valid, d)),
                h.sts_policy_valid,
                h.sts_enforce,
                h.sts_enforce_all_valid,
                h.sts_testing
            ),
            format!(
                "DNSSEC/DANE: signed {} ({}), DANE-valid {} ({} of signed domains with MX), DANE broken {}",
                self.dnssec.signed,
                pct(self.dnssec.signed_share),
                h.dane_valid,
                pct(self.dnssec.dane_share_of_signed),
                h.dane_broken
            ),
            format!(
                "conflicts (domains): dane_ok_sts_fail {}, dane_fail_sts_ok {}, both_fail {}, sts_enforce_without_any_valid_mx {}",
                c("dane_ok_sts_fail"),
                c("dane_fail_sts_ok"),
                c("both_fail"),
                c("sts_enforce_without_any_valid_mx")
            ),
            format!(
                "TLS-RPT valid {} ({}); ready to flip (testing, every MX valid) {} of {}; median max_age {}",
                self.tlsrpt.valid,
                pct(self.tlsrpt.share),
                self.ready_to_flip.ready,
                self.ready_to_flip.testing,
                self.max_age
                    .all
                    .median_days
                    .map_or_else(|| "-".to_owned(), |d| format!("{d:.1} days"))
            ),
        ]
    }
}

fn write_atomic(path: &Path, text: &str) -> Result<(), ReportError> {
    let err = |source| ReportError::Write {
        path: path.to_owned(),
        source,
    };
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// A share as a percentage with one decimal (`12.3%`), `-` when undefined.
pub(crate) fn pct(share: Option<f64>) -> String {
    match share {
        Some(s) => format!("{:.1}%", s * 100.0),
        None => "-".to_owned(),
    }
}
