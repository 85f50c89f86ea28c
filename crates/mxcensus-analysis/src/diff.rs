//! `mxcensus diff OLD NEW`: what changed between two snapshots of the same input.
//!
//! Domains are matched by `domain`. Domains present in one snapshot only mean the inputs
//! differ: they are counted (with examples) and reported loudly, and the common domains
//! are still compared. The manifests' input SHA-256 are compared too.
//!
//! **Per common domain**, from the headline columns of `domains` (datasets/CARD.md):
//!
//! - **MTA-STS.** A domain *has MTA-STS* when `sts_txt = valid`, `sts_policy = valid` and
//!   `sts_mode` is `testing` or `enforce`: what a sender on first contact applies (the
//!   snapshot caches no policy, so a policy that cannot be fetched is not in effect).
//!   Its state is rendered as the mode, or as why it has none: `absent`, `txt_invalid`,
//!   `txt_multiple`, `policy_invalid`, `fetch_failed`, `none` (mode `none`), `not_attempted`.
//!   `sts_adopted`: has none → has; `sts_dropped`: has → has none; `sts_mode_changed`:
//!   `testing` ⇄ `enforce`; `sts_undetermined`: the state changed and one side is `error`
//!   (TXT lookup failed) or a value this version does not know.
//! - **DANE** (`dane`): *absent* = `none` or null (null MX), *working* = `all` or
//!   `partial`, *broken* = `broken`, *unknown* = `error`. `dane_adopted`: absent → working
//!   or broken (TLSA published behind a secure MX RRset; the row's `new` says which);
//!   `dane_dropped`: working or broken → absent; `dane_broke`: working → broken;
//!   `dane_fixed`: broken → working; `dane_undetermined`: a change with an unknown side.
//!   `all` ⇄ `partial` is not listed.
//! - **DNSSEC** (`dnssec` of the MX RRset): `dnssec_adopted`: `insecure` → `secure`;
//!   `dnssec_dropped`: `secure` → `insecure`; any other change (to or from `bogus`,
//!   `error`, `unknown`) is `dnssec_undetermined`: a bogus or failed answer says nothing
//!   about whether the zone is still signed.
//! - **TLS-RPT** (`tlsrpt`): has = `valid`; `tlsrpt_adopted`, `tlsrpt_dropped` between
//!   `valid` and `absent`/`invalid`/`multiple`; `tlsrpt_undetermined` with `error`.
//! - **Policies** (`policies`, one row per fetch): when both snapshots fetched a complete
//!   body (`body_sha256` set) and the hashes differ: `policy_changed_same_id` when
//!   `txt_id` is the same (SPEC §B, RFC 8461 §3.1: senders that cached the policy never
//!   fetch the new one), `policy_changed_new_id` otherwise (done right; informational).
//!   The row's `detail` says which parsed fields differ (`mode`, `max_age`, `mx`),
//!   `validity` when one body is not a valid policy, or `bytes_only` when the parsed
//!   policies are equal.
//!
//! **Memory.** OLD is read once into a map `domain → compact state` (a few bytes of
//! enums per domain, plus the policy of domains that have one); NEW is streamed segment by
//! segment, joining `domains` and `policies` of the same segment (a domain's rows are
//! written in one segment). Change rows are kept; everything else is counted.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use mxcensus_dataset::DatasetError;
use mxcensus_dataset::manifest::RunStatus;
use mxcensus_dataset::read::for_each_batch;
use serde::Serialize;

use crate::snapshot::{Snapshot, SnapshotError};

/// A kind of change between two snapshots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// MTA-STS in effect in NEW, not in OLD.
    StsAdopted,
    /// MTA-STS in effect in OLD, not in NEW.
    StsDropped,
    /// `testing` ⇄ `enforce`.
    StsModeChanged,
    /// The MTA-STS state changed but one side could not be measured.
    StsUndetermined,
    /// DANE published (working or broken) where there was none.
    DaneAdopted,
    /// DANE gone.
    DaneDropped,
    /// Working DANE became broken.
    DaneBroke,
    /// Broken DANE became working.
    DaneFixed,
    /// The DANE state changed but one side could not be measured.
    DaneUndetermined,
    /// MX RRset `insecure` → `secure`.
    DnssecAdopted,
    /// MX RRset `secure` → `insecure`.
    DnssecDropped,
    /// DNSSEC status changed to or from `bogus`, `error` or `unknown`.
    DnssecUndetermined,
    /// A valid TLS-RPT record appeared.
    TlsrptAdopted,
    /// The valid TLS-RPT record is gone.
    TlsrptDropped,
    /// The TLS-RPT state changed but one side could not be measured.
    TlsrptUndetermined,
    /// Policy body changed, TXT id unchanged (SPEC §B).
    PolicyChangedSameId,
    /// Policy body changed with a new TXT id.
    PolicyChangedNewId,
}

impl ChangeKind {
    /// Every kind, in report order.
    pub const ALL: [ChangeKind; 17] = [
        ChangeKind::StsAdopted,
        ChangeKind::StsDropped,
        ChangeKind::StsModeChanged,
        ChangeKind::StsUndetermined,
        ChangeKind::DaneAdopted,
        ChangeKind::DaneDropped,
        ChangeKind::DaneBroke,
        ChangeKind::DaneFixed,
        ChangeKind::DaneUndetermined,
        ChangeKind::DnssecAdopted,
        ChangeKind::DnssecDropped,
        ChangeKind::DnssecUndetermined,
        ChangeKind::TlsrptAdopted,
        ChangeKind::TlsrptDropped,
        ChangeKind::TlsrptUndetermined,
        ChangeKind::PolicyChangedSameId,
        ChangeKind::PolicyChangedNewId,
    ];

    /// The stable snake_case code.
    pub fn code(self) -> &'static str {
        match self {
            ChangeKind::StsAdopted => "sts_adopted",
            ChangeKind::StsDropped => "sts_dropped",
            ChangeKind::StsModeChanged => "sts_mode_changed",
            ChangeKind::StsUndetermined => "sts_undetermined",
            ChangeKind::DaneAdopted => "dane_adopted",
            ChangeKind::DaneDropped => "dane_dropped",
            ChangeKind::DaneBroke => "dane_broke",
            ChangeKind::DaneFixed => "dane_fixed",
            ChangeKind::DaneUndetermined => "dane_undetermined",
            ChangeKind::DnssecAdopted => "dnssec_adopted",
            ChangeKind::DnssecDropped => "dnssec_dropped",
            ChangeKind::DnssecUndetermined => "dnssec_undetermined",
            ChangeKind::TlsrptAdopted => "tlsrpt_adopted",
            ChangeKind::TlsrptDropped => "tlsrpt_dropped",
            ChangeKind::TlsrptUndetermined => "tlsrpt_undetermined",
            ChangeKind::PolicyChangedSameId => "policy_changed_same_id",
            ChangeKind::PolicyChangedNewId => "policy_changed_new_id",
        }
    }

    /// The kind with this code.
    pub fn from_code(code: &str) -> Option<ChangeKind> {
        ChangeKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

impl std::fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A domain's MTA-STS state, from `sts_txt`, `sts_policy` and `sts_mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StsState {
    /// No STSv1 record.
    Absent,
    /// The TXT record is invalid.
    TxtInvalid,
    /// Several STSv1 records.
    TxtMultiple,
    /// Valid TXT, policy not attempted (should not happen; kept apart).
    NotAttempted,
    /// The policy body is invalid.
    PolicyInvalid,
    /// The policy could not be fetched.
    FetchFailed,
    /// Valid policy in mode `none`.
    ModeNone,
    /// Valid policy in mode `testing`.
    Testing,
    /// Valid policy in mode `enforce`.
    Enforce,
    /// The TXT lookup failed.
    Error,
    /// A combination this version does not know.
    Other,
}

impl StsState {
    /// Reads the three columns.
    pub fn from_columns(sts_txt: &str, sts_policy: &str, sts_mode: Option<&str>) -> StsState {
        match (sts_txt, sts_policy, sts_mode) {
            ("absent", _, _) => StsState::Absent,
            ("invalid", _, _) => StsState::TxtInvalid,
            ("multiple", _, _) => StsState::TxtMultiple,
            ("error", _, _) => StsState::Error,
            ("valid", "invalid", _) => StsState::PolicyInvalid,
            ("valid", "fetch_failed", _) => StsState::FetchFailed,
            ("valid", "not_attempted", _) => StsState::NotAttempted,
            ("valid", "valid", Some("testing")) => StsState::Testing,
            ("valid", "valid", Some("enforce")) => StsState::Enforce,
            ("valid", "valid", Some("none")) => StsState::ModeNone,
            _ => StsState::Other,
        }
    }

    /// How the state is shown in change rows.
    pub fn as_str(self) -> &'static str {
        match self {
            StsState::Absent => "absent",
            StsState::TxtInvalid => "txt_invalid",
            StsState::TxtMultiple => "txt_multiple",
            StsState::NotAttempted => "not_attempted",
            StsState::PolicyInvalid => "policy_invalid",
            StsState::FetchFailed => "fetch_failed",
            StsState::ModeNone => "none",
            StsState::Testing => "testing",
            StsState::Enforce => "enforce",
            StsState::Error => "error",
            StsState::Other => "other",
        }
    }

    /// MTA-STS is in effect for a sender on first contact.
    pub fn in_effect(self) -> bool {
        matches!(self, StsState::Testing | StsState::Enforce)
    }

    fn unknown(self) -> bool {
        matches!(self, StsState::Error | StsState::Other)
    }
}

/// A headline value read into a small closed set (`Other` for values this version does
/// not know, which count as unknown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `valid`.
    Valid,
    /// `absent`.
    Absent,
    /// `invalid`.
    Invalid,
    /// `multiple`.
    Multiple,
    /// `secure`.
    Secure,
    /// `insecure`.
    Insecure,
    /// `bogus`.
    Bogus,
    /// `unknown`.
    Unknown,
    /// `all`.
    All,
    /// `partial`.
    Partial,
    /// `none`.
    None,
    /// `broken`.
    Broken,
    /// `error`.
    Error,
    /// Null (e.g. `dane` of a null MX).
    Null,
    /// Anything else.
    Other,
}

impl Value {
    /// Reads a column value (`None` is null).
    pub fn parse(s: Option<&str>) -> Value {
        match s {
            None => Value::Null,
            Some("valid") => Value::Valid,
            Some("absent") => Value::Absent,
            Some("invalid") => Value::Invalid,
            Some("multiple") => Value::Multiple,
            Some("secure") => Value::Secure,
            Some("insecure") => Value::Insecure,
            Some("bogus") => Value::Bogus,
            Some("unknown") => Value::Unknown,
            Some("all") => Value::All,
            Some("partial") => Value::Partial,
            Some("none") => Value::None,
            Some("broken") => Value::Broken,
            Some("error") => Value::Error,
            Some(_) => Value::Other,
        }
    }

    /// The column value (`null` for null).
    pub fn as_str(self) -> &'static str {
        match self {
            Value::Valid => "valid",
            Value::Absent => "absent",
            Value::Invalid => "invalid",
            Value::Multiple => "multiple",
            Value::Secure => "secure",
            Value::Insecure => "insecure",
            Value::Bogus => "bogus",
            Value::Unknown => "unknown",
            Value::All => "all",
            Value::Partial => "partial",
            Value::None => "none",
            Value::Broken => "broken",
            Value::Error => "error",
            Value::Null => "null",
            Value::Other => "other",
        }
    }
}

/// The policy a snapshot fetched for a domain (from `policies`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicySeen {
    /// `txt_id`: the id of the TXT record that led to the fetch.
    pub txt_id: Option<String>,
    /// `body_sha256` of the complete body.
    pub body_sha256: String,
    /// The parsed policy, when valid: (mode, max_age, mx patterns).
    pub parsed: Option<(String, i64, Vec<String>)>,
}

impl PolicySeen {
    fn describe(&self) -> String {
        let sha = self.body_sha256.get(..12).unwrap_or(&self.body_sha256);
        let id = self.txt_id.as_deref().unwrap_or("-");
        match &self.parsed {
            Some((mode, max_age, mx)) => format!(
                "id={id} sha256={sha} mode={mode} max_age={max_age} mx={}",
                mx.join("|")
            ),
            None => format!("id={id} sha256={sha} (not a valid policy)"),
        }
    }
}

/// One domain's state in one snapshot: what the diff compares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DomainState {
    /// MTA-STS.
    pub sts: StsState,
    /// `tlsrpt`.
    pub tlsrpt: Value,
    /// `dnssec`.
    pub dnssec: Value,
    /// `dane`.
    pub dane: Value,
    /// The fetched policy, when the body was read completely (boxed: most domains have
    /// none, and OLD's map holds one state per domain).
    pub policy: Option<Box<PolicySeen>>,
}

/// One change of one domain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DomainChange {
    /// The domain.
    pub domain: String,
    /// What changed.
    pub change: ChangeKind,
    /// The value in OLD.
    pub old: String,
    /// The value in NEW.
    pub new: String,
    /// For policy changes: which parsed fields differ (`mode,max_age,mx`), `validity`,
    /// or `bytes_only`.
    pub detail: Option<String>,
}

fn row(domain: &str, change: ChangeKind, old: &str, new: &str) -> DomainChange {
    DomainChange {
        domain: domain.to_owned(),
        change,
        old: old.to_owned(),
        new: new.to_owned(),
        detail: None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DaneClass {
    Absent,
    Working,
    Broken,
    Unknown,
}

fn dane_class(v: Value) -> DaneClass {
    match v {
        Value::None | Value::Null => DaneClass::Absent,
        Value::All | Value::Partial => DaneClass::Working,
        Value::Broken => DaneClass::Broken,
        _ => DaneClass::Unknown,
    }
}

/// Which parsed fields of two policies differ.
fn policy_detail(old: &PolicySeen, new: &PolicySeen) -> String {
    match (&old.parsed, &new.parsed) {
        (Some(a), Some(b)) => {
            let mut fields = Vec::new();
            if a.0 != b.0 {
                fields.push("mode");
            }
            if a.1 != b.1 {
                fields.push("max_age");
            }
            if a.2 != b.2 {
                fields.push("mx");
            }
            if fields.is_empty() {
                "bytes_only".to_owned()
            } else {
                fields.join(",")
            }
        }
        (None, None) => "bytes_only".to_owned(),
        _ => "validity".to_owned(),
    }
}

/// The changes of one domain between `old` and `new` (pure; rows in [`ChangeKind`] order).
pub fn compare(domain: &str, old: &DomainState, new: &DomainState) -> Vec<DomainChange> {
    let mut out = Vec::new();

    // MTA-STS.
    let (a, b) = (old.sts, new.sts);
    if a != b {
        let kind = if a.unknown() || b.unknown() {
            Some(ChangeKind::StsUndetermined)
        } else {
            match (a.in_effect(), b.in_effect()) {
                (false, true) => Some(ChangeKind::StsAdopted),
                (true, false) => Some(ChangeKind::StsDropped),
                (true, true) => Some(ChangeKind::StsModeChanged),
                (false, false) => None,
            }
        };
        if let Some(kind) = kind {
            out.push(row(domain, kind, a.as_str(), b.as_str()));
        }
    }

    // DANE.
    if old.dane != new.dane {
        let kind = match (dane_class(old.dane), dane_class(new.dane)) {
            (DaneClass::Unknown, _) | (_, DaneClass::Unknown) => Some(ChangeKind::DaneUndetermined),
            (DaneClass::Absent, DaneClass::Working | DaneClass::Broken) => {
                Some(ChangeKind::DaneAdopted)
            }
            (DaneClass::Working | DaneClass::Broken, DaneClass::Absent) => {
                Some(ChangeKind::DaneDropped)
            }
            (DaneClass::Working, DaneClass::Broken) => Some(ChangeKind::DaneBroke),
            (DaneClass::Broken, DaneClass::Working) => Some(ChangeKind::DaneFixed),
            _ => None,
        };
        if let Some(kind) = kind {
            out.push(row(domain, kind, old.dane.as_str(), new.dane.as_str()));
        }
    }

    // DNSSEC.
    if old.dnssec != new.dnssec {
        let kind = match (old.dnssec, new.dnssec) {
            (Value::Insecure, Value::Secure) => ChangeKind::DnssecAdopted,
            (Value::Secure, Value::Insecure) => ChangeKind::DnssecDropped,
            _ => ChangeKind::DnssecUndetermined,
        };
        out.push(row(domain, kind, old.dnssec.as_str(), new.dnssec.as_str()));
    }

    // TLS-RPT.
    if old.tlsrpt != new.tlsrpt {
        let unknown = |v: Value| {
            !matches!(
                v,
                Value::Valid | Value::Absent | Value::Invalid | Value::Multiple
            )
        };
        let kind = if unknown(old.tlsrpt) || unknown(new.tlsrpt) {
            Some(ChangeKind::TlsrptUndetermined)
        } else {
            match (old.tlsrpt == Value::Valid, new.tlsrpt == Value::Valid) {
                (false, true) => Some(ChangeKind::TlsrptAdopted),
                (true, false) => Some(ChangeKind::TlsrptDropped),
                _ => None,
            }
        };
        if let Some(kind) = kind {
            out.push(row(domain, kind, old.tlsrpt.as_str(), new.tlsrpt.as_str()));
        }
    }

    // Policy bodies.
    if let (Some(p), Some(q)) = (&old.policy, &new.policy)
        && p.body_sha256 != q.body_sha256
    {
        let kind = if p.txt_id.is_some() && p.txt_id == q.txt_id {
            ChangeKind::PolicyChangedSameId
        } else {
            ChangeKind::PolicyChangedNewId
        };
        let mut r = row(domain, kind, &p.describe(), &q.describe());
        r.detail = Some(policy_detail(p, q));
        out.push(r);
    }
    out
}

/// Why a diff could not be made or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DiffError {
    /// A snapshot could not be opened.
    #[error("{which} snapshot: {error}")]
    Snapshot {
        /// `OLD` or `NEW`.
        which: &'static str,
        /// Why.
        error: SnapshotError,
    },
    /// A snapshot has no committed `domains` rows.
    #[error("{which} snapshot {path}: no committed domains rows")]
    Empty {
        /// `OLD` or `NEW`.
        which: &'static str,
        /// Its directory.
        path: PathBuf,
    },
    /// A Parquet file could not be read, or a column is missing or of another type.
    #[error("{which} snapshot: {error}")]
    Read {
        /// `OLD` or `NEW`.
        which: &'static str,
        /// Why.
        error: DatasetError,
    },
    /// Writing the output failed.
    #[error("{path}: {error}")]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// Encoding `changes.parquet` failed.
    #[error("changes.parquet: {error}")]
    Parquet {
        /// Why.
        error: parquet::errors::ParquetError,
    },
    /// Building the Arrow batch failed.
    #[error("changes.parquet: {error}")]
    Arrow {
        /// Why.
        error: arrow::error::ArrowError,
    },
}

// Not `#[from]`: the message already carries the cause, so it is no `source` (an error
// chain would print it twice).
impl From<parquet::errors::ParquetError> for DiffError {
    fn from(error: parquet::errors::ParquetError) -> Self {
        DiffError::Parquet { error }
    }
}

impl From<arrow::error::ArrowError> for DiffError {
    fn from(error: arrow::error::ArrowError) -> Self {
        DiffError::Arrow { error }
    }
}

/// One side of the diff, as found on disk.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SideInfo {
    /// The directory opened.
    pub path: String,
    /// The `snapshot=<id>` value.
    pub id: String,
    /// Shards found.
    pub shards: usize,
    /// Domains rows read.
    pub domains: u64,
    /// Distinct input SHA-256 of the manifests (one for a snapshot of one input).
    pub input_sha256: Vec<String>,
    /// Every manifest says `complete`.
    pub complete: bool,
    /// Every manifest says the resolver validated (canaries passed).
    pub validating: bool,
}

/// The diff of two snapshots.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SnapshotDiff {
    /// OLD.
    pub old: SideInfo,
    /// NEW.
    pub new: SideInfo,
    /// Same input file (SHA-256) and the same domain set.
    pub same_input: bool,
    /// Everything that makes the comparison less than clean, in words.
    pub warnings: Vec<String>,
    /// Domains in both snapshots (the ones compared).
    pub common_domains: u64,
    /// Domains only in OLD.
    pub only_in_old: u64,
    /// Domains only in NEW.
    pub only_in_new: u64,
    /// A few domains only in OLD (sorted).
    pub only_in_old_examples: Vec<String>,
    /// A few domains only in NEW (sorted).
    pub only_in_new_examples: Vec<String>,
    /// Domains per change kind (every kind listed, zeros included).
    pub counts: BTreeMap<ChangeKind, u64>,
    /// Every change, sorted by kind, then domain.
    pub changes: Vec<DomainChange>,
}

/// [`SnapshotDiff`] without the rows: counts and a few examples per kind (`diff.json`).
#[derive(Clone, Debug, Serialize)]
pub struct DiffSummary {
    /// OLD.
    pub old: SideInfo,
    /// NEW.
    pub new: SideInfo,
    /// Same input file and the same domain set.
    pub same_input: bool,
    /// Warnings.
    pub warnings: Vec<String>,
    /// Domains compared.
    pub common_domains: u64,
    /// Domains only in OLD.
    pub only_in_old: u64,
    /// Domains only in NEW.
    pub only_in_new: u64,
    /// A few domains only in OLD.
    pub only_in_old_examples: Vec<String>,
    /// A few domains only in NEW.
    pub only_in_new_examples: Vec<String>,
    /// Domains per change kind.
    pub counts: BTreeMap<ChangeKind, u64>,
    /// The first rows of each kind that occurred.
    pub examples: BTreeMap<ChangeKind, Vec<DomainChange>>,
}

/// How many domains only in one snapshot are named.
const ONLY_EXAMPLES: usize = 10;

impl SnapshotDiff {
    /// The domains with a change of `kind`.
    pub fn domains(&self, kind: ChangeKind) -> impl Iterator<Item = &str> {
        self.changes
            .iter()
            .filter(move |c| c.change == kind)
            .map(|c| c.domain.as_str())
    }

    /// Counts and up to `examples` rows per kind.
    pub fn summary(&self, examples: usize) -> DiffSummary {
        let mut ex: BTreeMap<ChangeKind, Vec<DomainChange>> = BTreeMap::new();
        for c in &self.changes {
            let v = ex.entry(c.change).or_default();
            if v.len() < examples {
                v.push(c.clone());
            }
        }
        DiffSummary {
            old: self.old.clone(),
            new: self.new.clone(),
            same_input: self.same_input,
            warnings: self.warnings.clone(),
            common_domains: self.common_domains,
            only_in_old: self.only_in_old,
            only_in_new: self.only_in_new,
            only_in_old_examples: self.only_in_old_examples.clone(),
            only_in_new_examples: self.only_in_new_examples.clone(),
            counts: self.counts.clone(),
            examples: ex,
        }
    }

    /// Writes `diff.json` (the [`DiffSummary`] with `examples` rows per kind) and
    /// `changes.parquet` (every row: `domain`, `change`, `old`, `new`, `detail`) into
    /// `dir`, creating it. Returns the two paths.
    pub fn write(&self, dir: &Path, examples: usize) -> Result<[PathBuf; 2], DiffError> {
        let werr = |path: &Path| {
            let path = path.to_owned();
            move |error| DiffError::Write { path, error }
        };
        std::fs::create_dir_all(dir).map_err(werr(dir))?;
        let json_path = dir.join("diff.json");
        let text = serde_json::to_string_pretty(&self.summary(examples))
            .map_err(|e| std::io::Error::other(e.to_string()))
            .map_err(werr(&json_path))?;
        std::fs::write(&json_path, text + "\n").map_err(werr(&json_path))?;

        let pq_path = dir.join("changes.parquet");
        let schema = Arc::new(Schema::new(vec![
            Field::new("domain", DataType::Utf8, false),
            Field::new("change", DataType::Utf8, false),
            Field::new("old", DataType::Utf8, false),
            Field::new("new", DataType::Utf8, false),
            Field::new("detail", DataType::Utf8, true),
        ]));
        let tmp = pq_path.with_extension("parquet.partial");
        let file = File::create(&tmp).map_err(werr(&tmp))?;
        let props = parquet::file::properties::WriterProperties::builder()
            .set_compression(parquet::basic::Compression::ZSTD(
                parquet::basic::ZstdLevel::default(),
            ))
            .build();
        let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props))?;
        for chunk in self.changes.chunks(65_536) {
            let mut cols: [StringBuilder; 5] = Default::default();
            for c in chunk {
                cols[0].append_value(&c.domain);
                cols[1].append_value(c.change.code());
                cols[2].append_value(&c.old);
                cols[3].append_value(&c.new);
                cols[4].append_option(c.detail.as_deref());
            }
            let arrays = cols
                .iter_mut()
                .map(|b| Arc::new(b.finish()) as arrow::array::ArrayRef)
                .collect();
            writer.write(&RecordBatch::try_new(schema.clone(), arrays)?)?;
        }
        writer.close()?;
        std::fs::rename(&tmp, &pq_path).map_err(werr(&pq_path))?;
        Ok([json_path, pq_path])
    }
}

/// OLD's state of one domain, and whether NEW had it.
struct OldEntry {
    state: DomainState,
    seen: bool,
}

const DOMAIN_COLUMNS: [&str; 7] = [
    "domain",
    "sts_txt",
    "sts_policy",
    "sts_mode",
    "tlsrpt",
    "dnssec",
    "dane",
];
const POLICY_COLUMNS: [&str; 6] = ["domain", "txt_id", "body_sha256", "mode", "max_age", "mx"];

fn bad_column(table: &str, column: &str, expected: &'static str) -> DatasetError {
    DatasetError::BadColumn {
        column: format!("{table}.{column}"),
        expected,
    }
}

fn strings<'a>(
    b: &'a RecordBatch,
    table: &str,
    column: &str,
) -> Result<&'a arrow::array::StringArray, DatasetError> {
    b.column_by_name(column)
        .and_then(|a| a.as_string_opt::<i32>())
        .ok_or_else(|| bad_column(table, column, "Utf8"))
}

fn opt(a: &arrow::array::StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// Calls `f(domain, state)` for every `domains` row of `files` (policy left empty).
fn read_domains(
    files: &[PathBuf],
    which: &'static str,
    mut f: impl FnMut(&str, DomainState),
) -> Result<(), DiffError> {
    for_each_batch(files, &DOMAIN_COLUMNS, |b| {
        let cols = DOMAIN_COLUMNS
            .iter()
            .map(|c| strings(b, "domains", c))
            .collect::<Result<Vec<_>, _>>()?;
        let [domain, txt, policy, mode, tlsrpt, dnssec, dane] = cols.as_slice() else {
            return Err(bad_column("domains", "*", "the diff's columns"));
        };
        for i in 0..b.num_rows() {
            let Some(name) = opt(domain, i) else {
                continue;
            };
            let state = DomainState {
                sts: StsState::from_columns(
                    opt(txt, i).unwrap_or(""),
                    opt(policy, i).unwrap_or(""),
                    opt(mode, i),
                ),
                tlsrpt: Value::parse(opt(tlsrpt, i)),
                dnssec: Value::parse(opt(dnssec, i)),
                dane: Value::parse(opt(dane, i)),
                policy: None,
            };
            f(name, state);
        }
        Ok(())
    })
    .map_err(|error| DiffError::Read { which, error })
}

/// Calls `f(domain, policy)` for every `policies` row of `files` with a complete body.
fn read_policies(
    files: &[PathBuf],
    which: &'static str,
    mut f: impl FnMut(&str, PolicySeen),
) -> Result<(), DiffError> {
    for_each_batch(files, &POLICY_COLUMNS, |b| {
        let domain = strings(b, "policies", "domain")?;
        let txt_id = strings(b, "policies", "txt_id")?;
        let sha = strings(b, "policies", "body_sha256")?;
        let mode = strings(b, "policies", "mode")?;
        let max_age = b
            .column_by_name("max_age")
            .and_then(|a| a.as_primitive_opt::<Int64Type>())
            .ok_or_else(|| bad_column("policies", "max_age", "Int64"))?;
        let mx = b
            .column_by_name("mx")
            .and_then(|a| a.as_list_opt::<i32>())
            .ok_or_else(|| bad_column("policies", "mx", "List<Utf8>"))?;
        for i in 0..b.num_rows() {
            let (Some(d), Some(sha)) = (opt(domain, i), opt(sha, i)) else {
                continue;
            };
            let parsed = match opt(mode, i) {
                Some(m) if max_age.is_valid(i) => {
                    let list = mx.value(i);
                    let patterns = list
                        .as_string_opt::<i32>()
                        .map(|s| {
                            (0..s.len())
                                .filter_map(|j| opt(s, j).map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    Some((m.to_owned(), max_age.value(i), patterns))
                }
                _ => None,
            };
            f(
                d,
                PolicySeen {
                    txt_id: opt(txt_id, i).map(str::to_owned),
                    body_sha256: sha.to_owned(),
                    parsed,
                },
            );
        }
        Ok(())
    })
    .map_err(|error| DiffError::Read { which, error })
}

fn side_info(path: &Path, snap: &Snapshot) -> SideInfo {
    let mut sha: Vec<String> = snap
        .manifests()
        .filter_map(|m| m.input.sha256.clone())
        .collect();
    sha.sort();
    sha.dedup();
    let manifests: Vec<_> = snap.manifests().collect();
    SideInfo {
        path: path.display().to_string(),
        id: snap.id.clone(),
        shards: snap.shards.len(),
        domains: 0,
        input_sha256: sha,
        complete: manifests.len() == snap.shards.len()
            && manifests.iter().all(|m| m.status == RunStatus::Complete),
        validating: manifests.len() == snap.shards.len()
            && manifests.iter().all(|m| m.resolver.validating),
    }
}

/// The (domains, policies) part files of each committed segment of `snap`.
fn segments(snap: &Snapshot) -> Result<Vec<(PathBuf, Option<PathBuf>)>, SnapshotError> {
    let mut out = Vec::new();
    for shard in &snap.shards {
        for m in &shard.segments {
            let part = |table: &str| {
                let path = shard
                    .dir
                    .join(table)
                    .join(format!("part-{:06}.parquet", m.seq));
                match m.rows.get(table) {
                    Some(&n) if n > 0 => {
                        if path.exists() {
                            Ok(Some(path))
                        } else {
                            Err(SnapshotError::MissingPart(path))
                        }
                    }
                    _ => Ok(None),
                }
            };
            if let Some(domains) = part("domains")? {
                out.push((domains, part("policies")?));
            }
        }
    }
    Ok(out)
}

/// Opens both snapshots and diffs them (see the module documentation).
pub fn diff_paths(old: &Path, new: &Path) -> Result<SnapshotDiff, DiffError> {
    let o = Snapshot::open(old).map_err(|error| DiffError::Snapshot {
        which: "OLD",
        error,
    })?;
    let n = Snapshot::open(new).map_err(|error| DiffError::Snapshot {
        which: "NEW",
        error,
    })?;
    diff(old, &o, new, &n)
}

/// Diffs two opened snapshots (`old_path`/`new_path` are for the report only).
pub fn diff(
    old_path: &Path,
    old: &Snapshot,
    new_path: &Path,
    new: &Snapshot,
) -> Result<SnapshotDiff, DiffError> {
    let mut out = SnapshotDiff {
        old: side_info(old_path, old),
        new: side_info(new_path, new),
        ..SnapshotDiff::default()
    };

    // OLD into memory.
    let old_files = old.files("domains").map_err(|error| DiffError::Snapshot {
        which: "OLD",
        error,
    })?;
    if old_files.is_empty() {
        return Err(DiffError::Empty {
            which: "OLD",
            path: old.dir.clone(),
        });
    }
    let mut map: HashMap<Box<str>, OldEntry> = HashMap::new();
    read_domains(&old_files, "OLD", |domain, state| {
        out.old.domains += 1;
        map.entry(domain.into())
            .or_insert(OldEntry { state, seen: false });
    })?;
    let old_policies = old.files("policies").map_err(|error| DiffError::Snapshot {
        which: "OLD",
        error,
    })?;
    read_policies(&old_policies, "OLD", |domain, p| {
        if let Some(e) = map.get_mut(domain)
            && e.state.policy.is_none()
        {
            e.state.policy = Some(Box::new(p));
        }
    })?;

    // NEW, segment by segment.
    let parts = segments(new).map_err(|error| DiffError::Snapshot {
        which: "NEW",
        error,
    })?;
    if parts.is_empty() {
        return Err(DiffError::Empty {
            which: "NEW",
            path: new.dir.clone(),
        });
    }
    let mut only_new: Vec<String> = Vec::new();
    for (domains, policies) in parts {
        let mut seg_policies: HashMap<String, PolicySeen> = HashMap::new();
        if let Some(p) = policies {
            read_policies(&[p], "NEW", |domain, p| {
                seg_policies.entry(domain.to_owned()).or_insert(p);
            })?;
        }
        read_domains(&[domains], "NEW", |domain, mut state| {
            out.new.domains += 1;
            state.policy = seg_policies.remove(domain).map(Box::new);
            match map.get_mut(domain) {
                Some(e) if !e.seen => {
                    e.seen = true;
                    out.common_domains += 1;
                    out.changes.extend(compare(domain, &e.state, &state));
                }
                Some(_) => {}
                None => {
                    out.only_in_new += 1;
                    keep_smallest(&mut only_new, domain);
                }
            }
        })?;
    }
    let mut only_old: Vec<String> = Vec::new();
    for (domain, e) in &map {
        if !e.seen {
            out.only_in_old += 1;
            keep_smallest(&mut only_old, domain);
        }
    }
    out.only_in_old_examples = only_old;
    out.only_in_new_examples = only_new;

    out.changes
        .sort_by(|a, b| (a.change, &a.domain).cmp(&(b.change, &b.domain)));
    out.counts = ChangeKind::ALL.iter().map(|&k| (k, 0)).collect();
    for c in &out.changes {
        *out.counts.entry(c.change).or_default() += 1;
    }

    let same_file =
        !out.old.input_sha256.is_empty() && out.old.input_sha256 == out.new.input_sha256;
    out.same_input = same_file && out.only_in_old == 0 && out.only_in_new == 0;
    if !same_file {
        out.warnings.push(format!(
            "the input files differ (OLD sha256 {}, NEW sha256 {}): these may not be snapshots of the same input",
            list_or_unknown(&out.old.input_sha256),
            list_or_unknown(&out.new.input_sha256)
        ));
    }
    if out.only_in_old > 0 || out.only_in_new > 0 {
        out.warnings.push(format!(
            "NOT THE SAME INPUT: {} domains only in OLD, {} only in NEW; only the {} common domains are compared",
            out.only_in_old, out.only_in_new, out.common_domains
        ));
    }
    for (which, side) in [("OLD", &out.old), ("NEW", &out.new)] {
        if !side.complete {
            out.warnings.push(format!(
                "{which} snapshot is not complete (a manifest is missing or not `complete`): domains not yet crawled count as missing"
            ));
        }
        if !side.validating {
            out.warnings.push(format!(
                "{which} snapshot's resolver was not proven to validate DNSSEC: DNSSEC and DANE changes there are undetermined"
            ));
        }
    }
    Ok(out)
}

fn list_or_unknown(v: &[String]) -> String {
    if v.is_empty() {
        "unknown".to_owned()
    } else {
        v.join(",")
    }
}

/// Keeps the [`ONLY_EXAMPLES`] smallest names (deterministic examples, bounded memory).
fn keep_smallest(v: &mut Vec<String>, domain: &str) {
    if v.len() < ONLY_EXAMPLES {
        v.push(domain.to_owned());
        v.sort();
    } else if v.last().is_some_and(|last| domain < last.as_str()) {
        v.pop();
        v.push(domain.to_owned());
        v.sort();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn state(
        sts: (&str, &str, Option<&str>),
        tlsrpt: &str,
        dnssec: &str,
        dane: Option<&str>,
    ) -> DomainState {
        DomainState {
            sts: StsState::from_columns(sts.0, sts.1, sts.2),
            tlsrpt: Value::parse(Some(tlsrpt)),
            dnssec: Value::parse(Some(dnssec)),
            dane: Value::parse(dane),
            policy: None,
        }
    }

    fn base() -> DomainState {
        state(
            ("absent", "not_attempted", None),
            "absent",
            "insecure",
            Some("none"),
        )
    }

    fn kinds(a: &DomainState, b: &DomainState) -> Vec<ChangeKind> {
        compare("a.com", a, b)
            .into_iter()
            .map(|c| c.change)
            .collect()
    }

    fn with_sts(mut s: DomainState, txt: &str, policy: &str, mode: Option<&str>) -> DomainState {
        s.sts = StsState::from_columns(txt, policy, mode);
        s
    }

    #[test]
    fn identical_states_have_no_changes() {
        let a = base();
        assert!(compare("a.com", &a, &a.clone()).is_empty());
    }

    #[test]
    fn sts_transitions() {
        let none = base();
        let testing = with_sts(base(), "valid", "valid", Some("testing"));
        let enforce = with_sts(base(), "valid", "valid", Some("enforce"));
        let mode_none = with_sts(base(), "valid", "valid", Some("none"));
        let fetch_failed = with_sts(base(), "valid", "fetch_failed", None);
        let invalid = with_sts(base(), "invalid", "not_attempted", None);
        let error = with_sts(base(), "error", "not_attempted", None);
        assert_eq!(kinds(&none, &enforce), [ChangeKind::StsAdopted]);
        assert_eq!(kinds(&mode_none, &testing), [ChangeKind::StsAdopted]);
        assert_eq!(kinds(&fetch_failed, &testing), [ChangeKind::StsAdopted]);
        assert_eq!(kinds(&enforce, &none), [ChangeKind::StsDropped]);
        assert_eq!(kinds(&enforce, &mode_none), [ChangeKind::StsDropped]);
        assert_eq!(kinds(&testing, &invalid), [ChangeKind::StsDropped]);
        assert_eq!(kinds(&testing, &enforce), [ChangeKind::StsModeChanged]);
        assert_eq!(kinds(&enforce, &testing), [ChangeKind::StsModeChanged]);
        assert_eq!(kinds(&enforce, &error), [ChangeKind::StsUndetermined]);
        assert_eq!(kinds(&error, &none), [ChangeKind::StsUndetermined]);
        // Neither side in effect: not an adoption change.
        assert!(kinds(&none, &invalid).is_empty());
        assert!(kinds(&fetch_failed, &mode_none).is_empty());
        let r = &compare("a.com", &none, &enforce)[0];
        assert_eq!((r.old.as_str(), r.new.as_str()), ("absent", "enforce"));
    }

    #[test]
    fn dane_transitions() {
        let d = |v: Option<&str>| state(("absent", "not_attempted", None), "absent", "secure", v);
        assert_eq!(
            kinds(&d(Some("none")), &d(Some("all"))),
            [ChangeKind::DaneAdopted]
        );
        assert_eq!(
            kinds(&d(None), &d(Some("broken"))),
            [ChangeKind::DaneAdopted]
        );
        assert_eq!(
            kinds(&d(Some("partial")), &d(Some("none"))),
            [ChangeKind::DaneDropped]
        );
        assert_eq!(
            kinds(&d(Some("broken")), &d(Some("none"))),
            [ChangeKind::DaneDropped]
        );
        assert_eq!(
            kinds(&d(Some("all")), &d(Some("broken"))),
            [ChangeKind::DaneBroke]
        );
        assert_eq!(
            kinds(&d(Some("broken")), &d(Some("partial"))),
            [ChangeKind::DaneFixed]
        );
        assert_eq!(
            kinds(&d(Some("all")), &d(Some("error"))),
            [ChangeKind::DaneUndetermined]
        );
        assert!(kinds(&d(Some("all")), &d(Some("partial"))).is_empty());
        assert!(kinds(&d(Some("none")), &d(None)).is_empty());
    }

    #[test]
    fn dnssec_and_tlsrpt_transitions() {
        let s = |dnssec: &str, tlsrpt: &str| {
            state(
                ("absent", "not_attempted", None),
                tlsrpt,
                dnssec,
                Some("none"),
            )
        };
        assert_eq!(
            kinds(&s("insecure", "absent"), &s("secure", "absent")),
            [ChangeKind::DnssecAdopted]
        );
        assert_eq!(
            kinds(&s("secure", "absent"), &s("insecure", "absent")),
            [ChangeKind::DnssecDropped]
        );
        for (a, b) in [
            ("secure", "bogus"),
            ("bogus", "insecure"),
            ("insecure", "error"),
            ("unknown", "secure"),
        ] {
            assert_eq!(
                kinds(&s(a, "absent"), &s(b, "absent")),
                [ChangeKind::DnssecUndetermined],
                "{a} {b}"
            );
        }
        assert_eq!(
            kinds(&s("secure", "absent"), &s("secure", "valid")),
            [ChangeKind::TlsrptAdopted]
        );
        assert_eq!(
            kinds(&s("secure", "invalid"), &s("secure", "valid")),
            [ChangeKind::TlsrptAdopted]
        );
        assert_eq!(
            kinds(&s("secure", "valid"), &s("secure", "multiple")),
            [ChangeKind::TlsrptDropped]
        );
        assert_eq!(
            kinds(&s("secure", "valid"), &s("secure", "error")),
            [ChangeKind::TlsrptUndetermined]
        );
        assert!(kinds(&s("secure", "absent"), &s("secure", "invalid")).is_empty());
        // Several changes at once, in kind order.
        assert_eq!(
            kinds(&s("insecure", "valid"), &s("secure", "absent")),
            [ChangeKind::DnssecAdopted, ChangeKind::TlsrptDropped]
        );
    }

    fn policy(
        id: Option<&str>,
        sha: &str,
        parsed: Option<(&str, i64, &[&str])>,
    ) -> Option<Box<PolicySeen>> {
        Some(Box::new(PolicySeen {
            txt_id: id.map(str::to_owned),
            body_sha256: sha.to_owned(),
            parsed: parsed.map(|(m, a, mx)| {
                (
                    m.to_owned(),
                    a,
                    mx.iter().map(|s| (*s).to_owned()).collect(),
                )
            }),
        }))
    }

    #[test]
    fn policy_changes_with_and_without_a_new_id() {
        let on = with_sts(base(), "valid", "valid", Some("enforce"));
        let mut a = on.clone();
        let mut b = on.clone();
        a.policy = policy(Some("1"), "aaaa", Some(("enforce", 86400, &["mx.a.com"])));
        // Same bytes: nothing, whatever the id.
        b.policy = policy(Some("2"), "aaaa", Some(("enforce", 86400, &["mx.a.com"])));
        assert!(compare("a.com", &a, &b).is_empty());
        // Other bytes, same id: the SPEC §B mistake.
        b.policy = policy(Some("1"), "bbbb", Some(("enforce", 604800, &["mx.a.com"])));
        let r = compare("a.com", &a, &b);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].change, ChangeKind::PolicyChangedSameId);
        assert_eq!(r[0].detail.as_deref(), Some("max_age"));
        assert!(r[0].old.contains("max_age=86400") && r[0].new.contains("max_age=604800"));
        b.policy = policy(Some("1"), "bbbb", Some(("enforce", 86400, &["mx.a.com"])));
        assert_eq!(
            compare("a.com", &a, &b)[0].detail.as_deref(),
            Some("bytes_only")
        );
        b.policy = policy(Some("1"), "bbbb", Some(("testing", 86400, &["*.a.com"])));
        assert_eq!(
            compare("a.com", &a, &b)[0].detail.as_deref(),
            Some("mode,mx")
        );
        b.policy = policy(Some("1"), "bbbb", None);
        assert_eq!(
            compare("a.com", &a, &b)[0].detail.as_deref(),
            Some("validity")
        );
        // Other bytes, new id: done right.
        b.policy = policy(Some("2"), "bbbb", Some(("enforce", 604800, &["mx.a.com"])));
        assert_eq!(kinds(&a, &b), [ChangeKind::PolicyChangedNewId]);
        // No id on either side cannot be "the same id".
        a.policy = policy(None, "aaaa", None);
        b.policy = policy(None, "bbbb", None);
        assert_eq!(kinds(&a, &b), [ChangeKind::PolicyChangedNewId]);
        // A policy on one side only is not a body change.
        b.policy = None;
        assert!(compare("a.com", &a, &b).is_empty());
    }

    #[test]
    fn codes_round_trip_and_serialize_as_codes() {
        for k in ChangeKind::ALL {
            assert_eq!(ChangeKind::from_code(k.code()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.code());
        }
        let mut counts = BTreeMap::new();
        counts.insert(ChangeKind::StsAdopted, 3u64);
        assert_eq!(
            serde_json::to_string(&counts).unwrap(),
            r#"{"sts_adopted":3}"#
        );
    }

    #[test]
    fn examples_keep_the_smallest_names() {
        let mut v = Vec::new();
        for i in (0..40).rev() {
            keep_smallest(&mut v, &format!("d{i:02}.com"));
        }
        assert_eq!(v.len(), ONLY_EXAMPLES);
        assert_eq!(v[0], "d00.com");
        assert_eq!(v[9], "d09.com");
    }

    #[test]
    fn a_snapshot_without_the_headline_columns_is_a_clear_error() {
        use mxcensus_dataset::segment::SegmentMarker;
        let tmp = tempfile::tempdir().unwrap();
        let shard = tmp.path().join("snapshot=x/shard=0");
        std::fs::create_dir_all(shard.join("_segments")).unwrap();
        std::fs::create_dir_all(shard.join("domains")).unwrap();
        let marker = SegmentMarker {
            seq: 1,
            units: 1,
            rows: [("domains".to_owned(), 1)].into_iter().collect(),
        };
        std::fs::write(
            shard.join("_segments/000001.json"),
            serde_json::to_vec(&marker).unwrap(),
        )
        .unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new(
            "domain",
            DataType::Utf8,
            false,
        )]));
        let file = File::create(shard.join("domains/part-000001.parquet")).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None).unwrap();
        let col = Arc::new(arrow::array::StringArray::from(vec!["a.com"]));
        w.write(&RecordBatch::try_new(schema, vec![col]).unwrap())
            .unwrap();
        w.close().unwrap();
        let err = diff_paths(tmp.path(), tmp.path()).unwrap_err();
        assert!(matches!(err, DiffError::Read { which: "OLD", .. }), "{err}");
        assert!(err.to_string().contains("sts_txt"), "{err}");
    }

    #[test]
    fn a_directory_that_is_no_snapshot_is_a_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let err = diff_paths(tmp.path(), tmp.path()).unwrap_err();
        assert!(matches!(err, DiffError::Snapshot { which: "OLD", .. }));
        assert!(err.to_string().contains("not a snapshot"), "{err}");
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn sts() -> impl Strategy<Value = (&'static str, &'static str, Option<&'static str>)> {
            prop_oneof![
                Just(("absent", "not_attempted", None)),
                Just(("invalid", "not_attempted", None)),
                Just(("multiple", "not_attempted", None)),
                Just(("error", "not_attempted", None)),
                Just(("valid", "fetch_failed", None)),
                Just(("valid", "invalid", None)),
                Just(("valid", "valid", Some("none"))),
                Just(("valid", "valid", Some("testing"))),
                Just(("valid", "valid", Some("enforce"))),
                Just(("valid", "valid", Some("bogus-mode"))),
            ]
        }

        fn value(values: &'static [Option<&'static str>]) -> impl Strategy<Value = Value> {
            proptest::sample::select(values).prop_map(Value::parse)
        }

        fn policy() -> impl Strategy<Value = Option<Box<PolicySeen>>> {
            proptest::option::of(
                (
                    proptest::option::of(prop_oneof![Just("a"), Just("b")]),
                    prop_oneof![Just("h1"), Just("h2"), Just("h3")],
                    proptest::option::of((
                        prop_oneof![Just("testing"), Just("enforce")],
                        prop_oneof![Just(86_400i64), Just(604_800)],
                        prop_oneof![Just("mx.example"), Just("*.example")],
                    )),
                )
                    .prop_map(|(id, sha, parsed)| {
                        Box::new(PolicySeen {
                            txt_id: id.map(str::to_owned),
                            body_sha256: sha.to_owned(),
                            parsed: parsed.map(|(m, a, mx)| (m.to_owned(), a, vec![mx.to_owned()])),
                        })
                    }),
            )
        }

        fn domain_state() -> impl Strategy<Value = DomainState> {
            const TLSRPT: &[Option<&str>] = &[
                Some("valid"),
                Some("absent"),
                Some("invalid"),
                Some("multiple"),
                Some("error"),
            ];
            const DNSSEC: &[Option<&str>] = &[
                Some("secure"),
                Some("insecure"),
                Some("bogus"),
                Some("error"),
                Some("unknown"),
            ];
            const DANE: &[Option<&str>] = &[
                Some("all"),
                Some("partial"),
                Some("none"),
                Some("broken"),
                Some("error"),
                None,
            ];
            (sts(), value(TLSRPT), value(DNSSEC), value(DANE), policy()).prop_map(
                |(sts, tlsrpt, dnssec, dane, policy)| DomainState {
                    sts: StsState::from_columns(sts.0, sts.1, sts.2),
                    tlsrpt,
                    dnssec,
                    dane,
                    policy,
                },
            )
        }

        /// The change `compare(b, a)` must report for a change `compare(a, b)` reported.
        fn mirror(kind: ChangeKind) -> ChangeKind {
            use ChangeKind as K;
            match kind {
                K::StsAdopted => K::StsDropped,
                K::StsDropped => K::StsAdopted,
                K::DaneAdopted => K::DaneDropped,
                K::DaneDropped => K::DaneAdopted,
                K::DaneBroke => K::DaneFixed,
                K::DaneFixed => K::DaneBroke,
                K::DnssecAdopted => K::DnssecDropped,
                K::DnssecDropped => K::DnssecAdopted,
                K::TlsrptAdopted => K::TlsrptDropped,
                K::TlsrptDropped => K::TlsrptAdopted,
                other => other,
            }
        }

        proptest! {
            #[test]
            fn a_state_compared_with_itself_has_no_change(a in domain_state()) {
                prop_assert!(compare("d.example", &a, &a).is_empty());
            }

            #[test]
            fn swapping_old_and_new_mirrors_every_change(a in domain_state(), b in domain_state()) {
                let forward = compare("d.example", &a, &b);
                let backward = compare("d.example", &b, &a);
                prop_assert_eq!(forward.len(), backward.len());
                for (f, r) in forward.iter().zip(&backward) {
                    prop_assert_eq!(mirror(f.change), r.change);
                    prop_assert_eq!(&f.old, &r.new);
                    prop_assert_eq!(&f.new, &r.old);
                }
                // One row per kind at most.
                let mut kinds: Vec<_> = forward.iter().map(|c| c.change).collect();
                kinds.dedup();
                prop_assert_eq!(kinds.len(), forward.len());
            }
        }
    }
}
