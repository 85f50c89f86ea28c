//! The figures of the report as plain data, and how they are computed from a snapshot.
//!
//! Everything is counted in one streaming pass per table. `domains`, `mx` and `policies`
//! rows of a domain are written in the same segment (see `mxcensus_dataset::segment`),
//! so the per-domain MX facts are joined segment by segment: memory is bounded by one
//! segment's MX rows plus maps keyed by TLD, mail provider and failure class.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use mxcensus_dataset::manifest::{Canary, RunStatus, SCHEMA_VERSION};
use mxcensus_dataset::read::for_each_batch;
use mxcensus_dataset::tables::HEADLINE_COLUMNS;
use serde::Serialize;

use super::columns::{bool_at, bools, i64_at, int64s, str_at, string_lists, strings};
use super::vocab;
use super::{ReportError, ReportOptions};
use crate::snapshot::{Snapshot, SnapshotError};

/// Version of the `report.json` shape; bumped when a field is renamed or removed.
pub const REPORT_FORMAT: u32 = 1;

/// The whole report: every figure, as numbers. Serialized as `report.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// [`REPORT_FORMAT`].
    pub report_format: u32,
    /// `mxcensus-analysis <version>`.
    pub generated_by: String,
    /// Where the rows come from (manifests and segment markers).
    pub provenance: Provenance,
    /// Reasons to read the figures with care (incomplete run, no validator, ...).
    pub warnings: Vec<Warning>,
    /// Row counts read.
    pub totals: Totals,
    /// Value counts of every headline column of `domains` (`"null"` for null).
    pub value_counts: BTreeMap<String, BTreeMap<String, u64>>,
    /// The headline figures over every domain.
    pub headline: Headline,
    /// domains -> with MX -> STARTTLS on every MX -> ... -> every MX valid under enforce.
    pub adoption_funnel: Vec<FunnelStep>,
    /// with MX -> MX RRset secure -> TLSA present -> usable -> matches -> every MX.
    pub dane_funnel: Vec<FunnelStep>,
    /// The per-domain MTA-STS x DANE matrix (SPEC §H).
    pub matrix: Matrix,
    /// The per-MX matrix: DANE state x MTA-STS state of each `mx` row.
    pub mx_matrix: Matrix,
    /// The conflict classes of SPEC §H.
    pub conflicts: Vec<Conflict>,
    /// What senders of three kinds do with each `mx` row (SPEC §H crawler model).
    pub senders: Vec<SenderModel>,
    /// DNSSEC signed share and DANE among signed domains.
    pub dnssec: Dnssec,
    /// Headline figures per rank band.
    pub by_rank: Vec<Group>,
    /// Headline figures per TLD.
    pub by_tld: Groups,
    /// Headline figures per mail provider (registrable domain of the first MX host).
    pub by_provider: Providers,
    /// The most frequent classes of `domains.error_classes`.
    pub failure_classes: FailureClasses,
    /// `max_age` of valid policies: the first-contact downgrade window.
    pub max_age: MaxAge,
    /// Domains in `testing` whose MX hosts would all pass under `enforce`.
    pub ready_to_flip: ReadyToFlip,
    /// TLS-RPT adoption, alone and with MTA-STS / DANE.
    pub tlsrpt: TlsRpt,
}

/// Provenance of the snapshot, from its manifests and segment markers.
#[derive(Clone, Debug, Serialize)]
pub struct Provenance {
    /// The `snapshot=<id>` value.
    pub snapshot: String,
    /// The directory read.
    pub dir: String,
    /// `complete` when every declared shard is present and complete; else `running`,
    /// `interrupted` (the worst shard status), or `unknown` (no manifest at all).
    pub status: String,
    /// Shards found on disk.
    pub shards_found: u32,
    /// Shards the manifests declare (`shard_count`), when any manifest was read.
    pub shards_declared: Option<u32>,
    /// Committed rows per table, from the segment markers.
    pub rows: BTreeMap<String, u64>,
    /// One entry per shard found.
    pub shards: Vec<ShardProvenance>,
}

/// One shard's provenance.
#[derive(Clone, Debug, Serialize)]
pub struct ShardProvenance {
    /// The `shard=<i>` value.
    pub index: u32,
    /// Committed segments.
    pub segments: u64,
    /// Committed `domains` rows.
    pub domains: u64,
    /// The manifest, when the shard has one.
    pub manifest: Option<ManifestSummary>,
}

/// The parts of a manifest a reader of the report needs.
#[derive(Clone, Debug, Serialize)]
pub struct ManifestSummary {
    /// Schema version of the tables.
    pub schema_version: u32,
    /// Tool name.
    pub tool: String,
    /// Tool version.
    pub version: String,
    /// Git revision of the build, when known.
    pub git_revision: Option<String>,
    /// RFC 3339 start.
    pub started_at: String,
    /// RFC 3339 end, when the run finished.
    pub finished_at: Option<String>,
    /// `running`, `complete`, `interrupted`.
    pub status: RunStatus,
    /// Times resumed.
    pub resumed: u32,
    /// Input path as given.
    pub input_path: String,
    /// SHA-256 of the input.
    pub input_sha256: Option<String>,
    /// Input lines read.
    pub input_lines: u64,
    /// Domains accepted in this shard.
    pub input_domains: u64,
    /// Lines rejected.
    pub input_errors: u64,
    /// Resolver addresses.
    pub resolver_addresses: Vec<String>,
    /// Whether the canaries proved a validating resolver.
    pub validating: bool,
    /// Every canary.
    pub canaries: Vec<Canary>,
}

/// Something the reader must know before trusting the figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Warning {
    /// A shard's run did not complete: figures cover only its committed rows.
    NotComplete {
        /// Shard index.
        shard: u32,
        /// Its manifest status.
        status: RunStatus,
    },
    /// A shard has no manifest (crawl killed before writing it).
    NoManifest {
        /// Shard index.
        shard: u32,
    },
    /// Fewer shards on disk than the manifests declare.
    MissingShards {
        /// `shard_count` of the manifests.
        declared: u32,
        /// Shards found.
        found: u32,
    },
    /// The resolver was not proven to validate: DNSSEC is `unknown`, DANE `error`.
    NotValidating {
        /// Shard index.
        shard: u32,
    },
    /// A shard was written with another table schema version.
    SchemaVersion {
        /// Shard index.
        shard: u32,
        /// Its schema version.
        version: u32,
    },
    /// `mx` rows whose domain has no `domains` row in the same segment (not counted).
    OrphanMxRows {
        /// How many.
        rows: u64,
    },
}

impl Warning {
    /// The warning as a sentence.
    pub fn message(&self) -> String {
        match self {
            Warning::NotComplete { shard, status } => format!(
                "shard {shard} is {}: the figures cover only its committed rows (finish it with `crawl --resume`)",
                run_status(*status)
            ),
            Warning::NoManifest { shard } => {
                format!("shard {shard} has no manifest: its provenance is unknown")
            }
            Warning::MissingShards { declared, found } => format!(
                "only {found} of {declared} shards are present: the figures cover part of the input"
            ),
            Warning::NotValidating { shard } => format!(
                "shard {shard}: the resolver was not proven to validate DNSSEC; its `dnssec` is `unknown` and `dane` is `error`"
            ),
            Warning::SchemaVersion { shard, version } => format!(
                "shard {shard} has schema version {version}, this report reads version {SCHEMA_VERSION}"
            ),
            Warning::OrphanMxRows { rows } => {
                format!("{rows} mx rows have no domains row in their segment and are not counted")
            }
        }
    }
}

pub(crate) fn run_status(s: RunStatus) -> &'static str {
    match s {
        RunStatus::Running => "running",
        RunStatus::Complete => "complete",
        RunStatus::Interrupted => "interrupted",
    }
}

/// Rows read.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Totals {
    /// `domains` rows.
    pub domains: u64,
    /// `mx` rows (domain x host).
    pub mx_rows: u64,
    /// `policies` rows.
    pub policies: u64,
    /// `input_errors` rows (from the segment markers).
    pub input_errors: u64,
}

/// Headline counts of a set of domains. Every share in the report is a count divided by
/// `domains` of the same set unless said otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Headline {
    /// Domains.
    pub domains: u64,
    /// `mx_status` in (`ok`, `implicit`).
    pub with_mx: u64,
    /// `starttls = all`.
    pub starttls_all: u64,
    /// `sts_txt = valid`.
    pub sts_txt_valid: u64,
    /// `sts_policy = valid`.
    pub sts_policy_valid: u64,
    /// `sts_mode = testing`.
    pub sts_testing: u64,
    /// `sts_mode = enforce`.
    pub sts_enforce: u64,
    /// `sts_mode = enforce` and `sts_mx_valid = all`.
    pub sts_enforce_all_valid: u64,
    /// `tlsrpt = valid`.
    pub tlsrpt_valid: u64,
    /// `dnssec = secure`.
    pub dnssec_secure: u64,
    /// `dane` in (`all`, `partial`).
    pub dane_valid: u64,
    /// `dane = all`.
    pub dane_all: u64,
    /// `dane = broken` or `dnssec = bogus` (the matrix's broken row).
    pub dane_broken: u64,
}

/// A set of domains and its headline counts.
#[derive(Clone, Debug, Serialize)]
pub struct Group {
    /// The group key (`top_1k`, `com`, `mailhost.net`, ...).
    pub key: String,
    /// The counts.
    #[serde(flatten)]
    pub headline: Headline,
}

/// Top groups by domain count, and the rest.
#[derive(Clone, Debug, Serialize)]
pub struct Groups {
    /// Distinct keys seen.
    pub distinct: u64,
    /// The largest groups (by domains, then key), at most the option's top N.
    pub top: Vec<Group>,
    /// Every other key, summed.
    pub other: Headline,
}

/// Mail providers: top registrable domains of the first MX host, self-hosted, the rest.
#[derive(Clone, Debug, Serialize)]
pub struct Providers {
    /// Distinct provider domains seen (self-hosted not included).
    pub distinct: u64,
    /// The largest providers.
    pub top: Vec<Group>,
    /// First MX host under the domain's own registrable domain (implicit MX included).
    pub self_hosted: Headline,
    /// Every other provider, summed.
    pub other: Headline,
    /// Domains without an MX host (null MX, failed MX lookup).
    pub no_mx_host: Headline,
}

/// One step of a funnel.
#[derive(Clone, Debug, Serialize)]
pub struct FunnelStep {
    /// Stable key.
    pub key: &'static str,
    /// Short label.
    pub label: &'static str,
    /// Exact definition from the columns.
    pub definition: &'static str,
    /// Domains meeting this step and every earlier one.
    pub count: u64,
    /// Domains meeting this step's own condition, whatever the earlier steps.
    pub alone: u64,
    /// `count` / all domains.
    pub share_of_domains: Option<f64>,
    /// `count` / the previous step's `count` (none for the first step).
    pub share_of_previous: Option<f64>,
}

/// A labelled axis value of a matrix.
#[derive(Clone, Debug, Serialize)]
pub struct Axis {
    /// Stable key.
    pub key: &'static str,
    /// Label.
    pub label: &'static str,
    /// Exact definition.
    pub definition: &'static str,
}

/// A cross-tabulation: `counts[row][column]`.
#[derive(Clone, Debug, Serialize)]
pub struct Matrix {
    /// What is counted (`domains`, `mx rows`).
    pub unit: &'static str,
    /// Row values.
    pub rows: Vec<Axis>,
    /// Column values.
    pub columns: Vec<Axis>,
    /// Counts, row-major.
    pub counts: Vec<Vec<u64>>,
    /// Sum of every cell.
    pub total: u64,
    /// Units left out of the matrix (for domains: `mx_status = null_mx`).
    pub excluded: u64,
    /// Why they were left out.
    pub excluded_definition: &'static str,
}

/// A conflict class of SPEC §H.
#[derive(Clone, Debug, Serialize)]
pub struct Conflict {
    /// `dane_ok_sts_fail`, `dane_fail_sts_ok`, `both_fail`,
    /// `sts_enforce_without_any_valid_mx`.
    pub key: &'static str,
    /// Exact definition.
    pub definition: &'static str,
    /// Domains with at least one MX row in the class.
    pub domains: u64,
    /// `mx` rows in the class.
    pub mx: u64,
}

/// Outcomes of the `mx` rows for one kind of sender.
#[derive(Clone, Debug, Serialize)]
pub struct SenderModel {
    /// `both` (DANE where it applies, else MTA-STS enforce), `sts_only`, `dane_only`.
    pub key: &'static str,
    /// Exact rule.
    pub definition: &'static str,
    /// MX rows the sender authenticates (DANE match, or MTA-STS valid under enforce).
    pub authenticated: u64,
    /// MX rows the sender must not deliver to (defers the mail).
    pub defer: u64,
    /// MX rows where no policy applies: TLS opportunistic, no authentication.
    pub opportunistic: u64,
}

/// DNSSEC and DANE among signed domains.
#[derive(Clone, Debug, Serialize)]
pub struct Dnssec {
    /// Domains.
    pub domains: u64,
    /// `dnssec = secure`.
    pub signed: u64,
    /// `signed` / domains.
    pub signed_share: Option<f64>,
    /// `dnssec = bogus`.
    pub bogus: u64,
    /// `dnssec = unknown` (resolver not validating).
    pub unknown: u64,
    /// Signed domains that receive mail: `dnssec = secure` and `mx_status` in (`ok`,
    /// `implicit`): the base of the DANE shares.
    pub signed_with_mx: u64,
    /// Of those, `dane` in (`all`, `partial`).
    pub dane_valid: u64,
    /// Of those, `dane = all`.
    pub dane_all: u64,
    /// Of those, `dane = broken`.
    pub dane_broken: u64,
    /// `dane_valid` / `signed_with_mx`.
    pub dane_share_of_signed: Option<f64>,
}

/// Failure classes of `domains.error_classes`.
#[derive(Clone, Debug, Serialize)]
pub struct FailureClasses {
    /// Domains with at least one class.
    pub domains_with_any: u64,
    /// Distinct classes seen.
    pub distinct: u64,
    /// The most frequent classes (by domains, then code).
    pub top: Vec<FailureClassCount>,
}

/// One failure class and the domains that met it.
#[derive(Clone, Debug, Serialize)]
pub struct FailureClassCount {
    /// The class code.
    pub code: String,
    /// Domains whose `error_classes` contains it.
    pub domains: u64,
    /// `domains` / all domains.
    pub share: Option<f64>,
    /// Severity from the vocabulary (`error`, `warning`, `info`), when known.
    pub severity: Option<&'static str>,
    /// Vocabulary area (`SMTP probe`, ...), when known.
    pub area: Option<&'static str>,
    /// The one-line fix, when known.
    pub fix: Option<&'static str>,
}

/// `max_age` of valid policies.
#[derive(Clone, Debug, Serialize)]
pub struct MaxAge {
    /// `policies` rows with `status = valid` and a `max_age`.
    pub policies: u64,
    /// Histogram.
    pub buckets: Vec<MaxAgeBucket>,
    /// Quantiles over every valid policy.
    pub all: Quantiles,
    /// Quantiles over valid policies in mode `enforce`.
    pub enforce: Quantiles,
}

/// One `max_age` bucket: `min_s <= max_age < max_s`.
#[derive(Clone, Debug, Serialize)]
pub struct MaxAgeBucket {
    /// Stable key.
    pub key: &'static str,
    /// Label.
    pub label: &'static str,
    /// Lower bound, seconds, inclusive.
    pub min_s: i64,
    /// Upper bound, seconds, exclusive; none for the last bucket.
    pub max_s: Option<i64>,
    /// Valid policies in the bucket.
    pub count: u64,
    /// Of those, mode `enforce`.
    pub enforce: u64,
    /// Of those, mode `testing`.
    pub testing: u64,
    /// Of those, mode `none`.
    pub none: u64,
}

/// Nearest-rank quantiles (the value at rank `ceil(q * n)` of the sorted values, as
/// DuckDB's `quantile_disc`); none when there are no values.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Quantiles {
    /// Values.
    pub count: u64,
    /// Smallest, seconds.
    pub min_s: Option<i64>,
    /// Median, seconds.
    pub median_s: Option<i64>,
    /// 90th percentile, seconds.
    pub p90_s: Option<i64>,
    /// Largest, seconds.
    pub max_s: Option<i64>,
    /// Median in days.
    pub median_days: Option<f64>,
    /// 90th percentile in days.
    pub p90_days: Option<f64>,
}

/// Testing-mode domains ready for enforce.
#[derive(Clone, Debug, Serialize)]
pub struct ReadyToFlip {
    /// `sts_mode = testing`.
    pub testing: u64,
    /// `sts_mode = testing` and `sts_mx_valid = all`.
    pub ready: u64,
    /// `ready` / `testing`.
    pub share_of_testing: Option<f64>,
    /// `sts_mode = testing` and `sts_mx_valid = some`.
    pub some_valid: u64,
    /// `sts_mode = testing` and `sts_mx_valid = none`.
    pub none_valid: u64,
}

/// TLS-RPT adoption.
#[derive(Clone, Debug, Serialize)]
pub struct TlsRpt {
    /// `tlsrpt = valid`.
    pub valid: u64,
    /// `valid` / all domains.
    pub share: Option<f64>,
    /// TLS-RPT among sets of domains.
    pub among: Vec<TlsRptAmong>,
}

/// Valid TLS-RPT within a set of domains.
#[derive(Clone, Debug, Serialize)]
pub struct TlsRptAmong {
    /// Stable key of the set.
    pub key: &'static str,
    /// Exact definition of the set.
    pub definition: &'static str,
    /// Domains in the set.
    pub base: u64,
    /// Of those, `tlsrpt = valid`.
    pub tlsrpt_valid: u64,
    /// `tlsrpt_valid` / `base`.
    pub share: Option<f64>,
}

/// `num / den`, none when `den` is zero.
pub fn share(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

// ---------------------------------------------------------------------------------------
// Definitions (shown beside the numbers in every rendering).

const ADOPTION_STEPS: [(&str, &str, &str); 7] = [
    ("domains", "Domains", "every row of `domains`"),
    (
        "with_mx",
        "With MX",
        "`mx_status` is `ok` or `implicit` (mail hosts known; null MX and failed lookups excluded)",
    ),
    (
        "starttls_all",
        "Every MX offers STARTTLS",
        "`starttls = all`: every MX host reached offered STARTTLS and completed TLS 1.2+",
    ),
    (
        "sts_txt_valid",
        "MTA-STS TXT valid",
        "`sts_txt = valid`: exactly one valid `v=STSv1` record at `_mta-sts`",
    ),
    (
        "sts_policy_valid",
        "Policy valid",
        "`sts_policy = valid`: the HTTPS policy was fetched and is valid",
    ),
    ("sts_enforce", "Mode enforce", "`sts_mode = enforce`"),
    (
        "sts_mx_all_valid",
        "Every MX valid under the policy",
        "`sts_mx_valid = all`: every MX host is covered by a pattern, offers STARTTLS and has a Web PKI certificate for its name",
    ),
];

const DANE_STEPS: [(&str, &str, &str); 6] = [
    ("with_mx", "With MX", "`mx_status` is `ok` or `implicit`"),
    (
        "mx_secure",
        "MX RRset secure",
        "`dnssec = secure`: the MX RRset (or its denial, for an implicit MX) validated",
    ),
    (
        "tlsa_present",
        "TLSA present",
        "at least one `mx` row with `tlsa_outcome = secure` (a secure, non-empty TLSA RRset)",
    ),
    (
        "tlsa_usable",
        "TLSA usable",
        "at least one `mx` row with `dane_usable` (secure addresses and a usage 2/3 record)",
    ),
    (
        "tlsa_matches",
        "TLSA matches",
        "`dane` is `all` or `partial`: at least one MX host's chain matched its usable TLSA, and no host is DANE-broken",
    ),
    (
        "dane_all",
        "Every MX matches",
        "`dane = all`: every MX host is DANE-valid",
    ),
];

const MATRIX_ROWS: [(&str, &str, &str); 5] = [
    (
        "none",
        "DANE none",
        "`dane = none` (also every domain whose MX RRset is insecure)",
    ),
    ("partial", "DANE partial", "`dane = partial`"),
    ("all", "DANE all MX", "`dane = all`"),
    (
        "broken",
        "DANE broken",
        "`dane = broken`, or `dnssec = bogus` (a bogus MX RRset; DANE senders defer)",
    ),
    (
        "unknown",
        "DANE could not tell",
        "`dane = error` with `dnssec` not `bogus`: MX set unknown, or resolver not validating",
    ),
];

const MATRIX_COLUMNS: [(&str, &str, &str); 5] = [
    ("none", "MTA-STS none", "`sts_txt = absent`"),
    (
        "invalid",
        "invalid / unfetchable / mode none",
        "`sts_txt` `invalid` or `multiple`, or `sts_policy` `invalid` or `fetch_failed`, or `sts_mode = none`",
    ),
    ("testing", "testing", "`sts_mode = testing`"),
    ("enforce", "enforce", "`sts_mode = enforce`"),
    (
        "unknown",
        "MTA-STS could not tell",
        "`sts_txt = error` (TXT lookup failed or bogus)",
    ),
];

const MX_ROWS: [(&str, &str, &str); 4] = [
    ("dane_valid", "DANE-valid", "`mx.dane_valid`"),
    (
        "dane_broken",
        "DANE-broken",
        "`mx.dane_broken` (bogus or failed TLSA lookup, or usable TLSA without STARTTLS or match)",
    ),
    (
        "dane_usable_unverified",
        "DANE-usable, not verified",
        "`mx.dane_usable`, neither valid nor broken (no address reached)",
    ),
    ("no_dane", "no DANE", "none of the above"),
];

const MX_COLUMNS: [(&str, &str, &str); 4] = [
    (
        "no_policy",
        "no valid policy",
        "the domain's `sts_policy` is not `valid`",
    ),
    (
        "not_covered",
        "not covered",
        "valid policy, `mx.covered_by` is null",
    ),
    (
        "covered_not_valid",
        "covered, fails",
        "`mx.covered_by` set, `mx.sts_valid` false (no STARTTLS or bad certificate)",
    ),
    ("sts_valid", "MTA-STS valid", "`mx.sts_valid`"),
];

const CONFLICTS: [(&str, &str); 4] = [
    (
        "dane_ok_sts_fail",
        "`sts_mode = enforce`, `mx.dane_valid` and not `mx.sts_valid`: senders using only MTA-STS defer",
    ),
    (
        "dane_fail_sts_ok",
        "`mx.dane_broken` and `mx.sts_valid`: DANE senders defer, and RFC 8461 §2 forbids MTA-STS overriding the failing DANE validation",
    ),
    (
        "both_fail",
        "`sts_mode = enforce`, `mx.dane_broken` and not `mx.sts_valid`: every validating sender defers",
    ),
    (
        "sts_enforce_without_any_valid_mx",
        "`sts_mode = enforce` and `sts_mx_valid = none` (mx count: every `mx` row of those domains)",
    ),
];

const SENDERS: [(&str, &str); 3] = [
    (
        "both",
        "DANE where it applies (`mx.dane_usable` or `mx.dane_broken`: authenticated when `mx.dane_valid`, else defer); otherwise under `sts_mode = enforce` authenticated when `mx.sts_valid`, else defer; otherwise opportunistic (mox, Halon; RFC 8461 §2)",
    ),
    (
        "sts_only",
        "under `sts_mode = enforce`: authenticated when `mx.sts_valid`, else defer; otherwise opportunistic",
    ),
    (
        "dane_only",
        "where DANE applies (`mx.dane_usable` or `mx.dane_broken`): authenticated when `mx.dane_valid`, else defer; otherwise opportunistic",
    ),
];

const MAX_AGE_BUCKETS: [(&str, &str, i64, Option<i64>); 5] = [
    ("lt_1d", "< 1 day", 0, Some(86_400)),
    ("1d_7d", "1-7 days", 86_400, Some(604_800)),
    ("7d_30d", "7-30 days", 604_800, Some(2_592_000)),
    ("30d_1y", "30-365 days", 2_592_000, Some(31_536_000)),
    ("ge_1y", ">= 365 days", 31_536_000, None),
];

const TLSRPT_AMONG: [(&str, &str); 6] = [
    ("sts_txt_absent", "`sts_txt = absent` (no MTA-STS)"),
    ("sts_txt_valid", "`sts_txt = valid`"),
    ("sts_policy_valid", "`sts_policy = valid`"),
    ("sts_testing", "`sts_mode = testing`"),
    ("sts_enforce", "`sts_mode = enforce`"),
    ("dane_valid", "`dane` is `all` or `partial`"),
];

/// The rank bands of `by_rank`, disjoint: `(key, first rank, last rank)`.
pub const RANK_BANDS: [(&str, i64, i64); 5] = [
    ("top_1k", 1, 1_000),
    ("top_10k", 1_001, 10_000),
    ("top_100k", 10_001, 100_000),
    ("top_1m", 100_001, 1_000_000),
    ("rest", 1_000_001, i64::MAX),
];

/// The `by_rank` key of a rank: its band, or `unranked` for null (or a rank below 1).
pub fn rank_band(rank: Option<i64>) -> &'static str {
    match rank {
        Some(r) => RANK_BANDS
            .iter()
            .find(|(_, lo, hi)| (*lo..=*hi).contains(&r))
            .map_or("unranked", |b| b.0),
        None => "unranked",
    }
}

/// The `by_tld` key of a domain: its last label.
pub fn tld(domain: &str) -> &str {
    domain.rsplit('.').next().unwrap_or(domain)
}

/// The registrable domain of a host (Public Suffix List), or the host itself when it
/// has none (a public suffix, or not a name).
pub fn registrable(host: &str) -> &str {
    psl::domain_str(host).unwrap_or(host)
}

/// Where a domain's mail goes, for `by_provider`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Provider<'a> {
    /// No MX host (null MX, failed lookup).
    NoMxHost,
    /// First MX host under the domain's own registrable domain.
    SelfHosted,
    /// The registrable domain of the first MX host.
    Domain(&'a str),
}

/// The provider of `domain` whose first (most preferred) MX host is `first_mx`.
pub fn provider<'a>(domain: &str, first_mx: Option<&'a str>) -> Provider<'a> {
    match first_mx {
        None => Provider::NoMxHost,
        Some(host) => {
            let p = registrable(host);
            if p == registrable(domain) {
                Provider::SelfHosted
            } else {
                Provider::Domain(p)
            }
        }
    }
}

/// `k`-th nearest-rank quantile of sorted value counts: the value at rank
/// `ceil(num/den * n)` (1-based, at least 1).
fn quantile(values: &BTreeMap<i64, u64>, n: u64, num: u64, den: u64) -> Option<i64> {
    if n == 0 || den == 0 {
        return None;
    }
    let rank = (num * n).div_ceil(den).max(1);
    let mut seen = 0u64;
    for (&v, &c) in values {
        seen += c;
        if seen >= rank {
            return Some(v);
        }
    }
    values.keys().next_back().copied()
}

fn quantiles(values: &BTreeMap<i64, u64>) -> Quantiles {
    let n: u64 = values.values().sum();
    let median = quantile(values, n, 1, 2);
    let p90 = quantile(values, n, 9, 10);
    Quantiles {
        count: n,
        min_s: values.keys().next().copied(),
        median_s: median,
        p90_s: p90,
        max_s: values.keys().next_back().copied(),
        median_days: median.map(|s| s as f64 / 86_400.0),
        p90_days: p90.map(|s| s as f64 / 86_400.0),
    }
}

// ---------------------------------------------------------------------------------------
// The pass over the rows.

/// Per-MX facts of one `mx` row, kept until the domain's row is read.
#[derive(Clone, Copy, Debug, Default)]
struct MxFacts {
    tlsa_secure: bool,
    dane_usable: bool,
    dane_valid: bool,
    dane_broken: bool,
    covered: bool,
    sts_valid: bool,
}

/// The headline columns of one domain row.
#[derive(Clone, Copy, Debug, Default)]
struct DomainRow<'a> {
    domain: &'a str,
    rank: Option<i64>,
    mx_status: Option<&'a str>,
    sts_txt: Option<&'a str>,
    sts_policy: Option<&'a str>,
    sts_mode: Option<&'a str>,
    sts_mx_valid: Option<&'a str>,
    starttls: Option<&'a str>,
    tlsrpt: Option<&'a str>,
    dnssec: Option<&'a str>,
    dane: Option<&'a str>,
}

impl DomainRow<'_> {
    fn with_mx(&self) -> bool {
        matches!(self.mx_status, Some("ok" | "implicit"))
    }
    fn dane_valid(&self) -> bool {
        matches!(self.dane, Some("all" | "partial"))
    }
    fn matrix_row(&self) -> Option<usize> {
        if self.mx_status == Some("null_mx") {
            return None;
        }
        if self.dnssec == Some("bogus") {
            return Some(3);
        }
        Some(match self.dane {
            Some("none") => 0,
            Some("partial") => 1,
            Some("all") => 2,
            Some("broken") => 3,
            _ => 4,
        })
    }
    fn matrix_column(&self) -> usize {
        match (self.sts_txt, self.sts_policy, self.sts_mode) {
            (Some("absent"), _, _) => 0,
            (Some("valid"), Some("valid"), Some("testing")) => 2,
            (Some("valid"), Some("valid"), Some("enforce")) => 3,
            (Some("invalid" | "multiple"), _, _) => 1,
            (Some("valid"), Some("invalid" | "fetch_failed"), _) => 1,
            (Some("valid"), Some("valid"), Some("none")) => 1,
            _ => 4,
        }
    }
}

impl Headline {
    fn add(&mut self, d: &DomainRow<'_>) {
        self.domains += 1;
        self.with_mx += u64::from(d.with_mx());
        self.starttls_all += u64::from(d.starttls == Some("all"));
        self.sts_txt_valid += u64::from(d.sts_txt == Some("valid"));
        self.sts_policy_valid += u64::from(d.sts_policy == Some("valid"));
        self.sts_testing += u64::from(d.sts_mode == Some("testing"));
        self.sts_enforce += u64::from(d.sts_mode == Some("enforce"));
        self.sts_enforce_all_valid +=
            u64::from(d.sts_mode == Some("enforce") && d.sts_mx_valid == Some("all"));
        self.tlsrpt_valid += u64::from(d.tlsrpt == Some("valid"));
        self.dnssec_secure += u64::from(d.dnssec == Some("secure"));
        self.dane_valid += u64::from(d.dane_valid());
        self.dane_all += u64::from(d.dane == Some("all"));
        self.dane_broken += u64::from(d.dane == Some("broken") || d.dnssec == Some("bogus"));
    }

    fn merge(&mut self, o: &Headline) {
        self.domains += o.domains;
        self.with_mx += o.with_mx;
        self.starttls_all += o.starttls_all;
        self.sts_txt_valid += o.sts_txt_valid;
        self.sts_policy_valid += o.sts_policy_valid;
        self.sts_testing += o.sts_testing;
        self.sts_enforce += o.sts_enforce;
        self.sts_enforce_all_valid += o.sts_enforce_all_valid;
        self.tlsrpt_valid += o.tlsrpt_valid;
        self.dnssec_secure += o.dnssec_secure;
        self.dane_valid += o.dane_valid;
        self.dane_all += o.dane_all;
        self.dane_broken += o.dane_broken;
    }
}

#[derive(Default)]
struct Acc {
    totals: Totals,
    value_counts: BTreeMap<String, BTreeMap<String, u64>>,
    headline: Headline,
    adoption: [(u64, u64); 7],
    dane: [(u64, u64); 6],
    matrix: [[u64; 5]; 5],
    null_mx: u64,
    mx_matrix: [[u64; 4]; 4],
    conflicts: [(u64, u64); 4],
    signed_with_mx: u64,
    signed_dane_valid: u64,
    signed_dane_all: u64,
    signed_dane_broken: u64,
    by_rank: BTreeMap<&'static str, Headline>,
    by_tld: HashMap<String, Headline>,
    by_provider: HashMap<String, Headline>,
    self_hosted: Headline,
    no_mx_host: Headline,
    classes: HashMap<String, u64>,
    with_any_class: u64,
    max_age_all: BTreeMap<i64, u64>,
    max_age_enforce: BTreeMap<i64, u64>,
    max_age_buckets: [[u64; 4]; 5],
    tlsrpt_among: [(u64, u64); 6],
    ready: [u64; 3],
    senders: [[u64; 3]; 3],
    orphan_mx: u64,
}

impl Acc {
    fn domain(&mut self, d: &DomainRow<'_>, mx: &[MxFacts], first_mx: Option<&str>) {
        self.totals.domains += 1;
        for (col, v) in HEADLINE_COLUMNS.iter().zip([
            d.mx_status,
            d.sts_txt,
            d.sts_policy,
            d.sts_mode,
            d.sts_mx_valid,
            d.starttls,
            d.tlsrpt,
            d.dnssec,
            d.dane,
        ]) {
            *self
                .value_counts
                .entry((*col).to_owned())
                .or_default()
                .entry(v.unwrap_or("null").to_owned())
                .or_default() += 1;
        }
        self.headline.add(d);

        // Adoption funnel.
        let enforce = d.sts_mode == Some("enforce");
        let steps = [
            true,
            d.with_mx(),
            d.starttls == Some("all"),
            d.sts_txt == Some("valid"),
            d.sts_policy == Some("valid"),
            enforce,
            d.sts_mx_valid == Some("all"),
        ];
        funnel(&mut self.adoption, &steps);

        // DANE funnel.
        let secure = d.dnssec == Some("secure");
        let steps = [
            d.with_mx(),
            secure,
            mx.iter().any(|m| m.tlsa_secure),
            mx.iter().any(|m| m.dane_usable),
            d.dane_valid(),
            d.dane == Some("all"),
        ];
        funnel(&mut self.dane, &steps);

        // Matrix.
        match d.matrix_row() {
            None => self.null_mx += 1,
            Some(r) => {
                if let Some(cell) = self
                    .matrix
                    .get_mut(r)
                    .and_then(|row| row.get_mut(d.matrix_column()))
                {
                    *cell += 1;
                }
            }
        }

        // Per-MX matrix and conflicts.
        let policy_valid = d.sts_policy == Some("valid");
        let mut hit = [false; 4];
        for m in mx {
            let r = if m.dane_valid {
                0
            } else if m.dane_broken {
                1
            } else if m.dane_usable {
                2
            } else {
                3
            };
            let c = if !policy_valid {
                0
            } else if !m.covered {
                1
            } else if !m.sts_valid {
                2
            } else {
                3
            };
            if let Some(cell) = self.mx_matrix.get_mut(r).and_then(|row| row.get_mut(c)) {
                *cell += 1;
            }
            // Sender models: 0 authenticated, 1 defer, 2 opportunistic.
            let dane_applies = m.dane_usable || m.dane_broken;
            let dane = if m.dane_valid { 0 } else { 1 };
            let sts = if m.sts_valid { 0 } else { 1 };
            let outcomes = [
                if dane_applies {
                    dane
                } else if enforce {
                    sts
                } else {
                    2
                },
                if enforce { sts } else { 2 },
                if dane_applies { dane } else { 2 },
            ];
            for (model, outcome) in self.senders.iter_mut().zip(outcomes) {
                if let Some(n) = model.get_mut(outcome) {
                    *n += 1;
                }
            }
            let classes = [
                enforce && m.dane_valid && !m.sts_valid,
                m.dane_broken && m.sts_valid,
                enforce && m.dane_broken && !m.sts_valid,
                enforce && d.sts_mx_valid == Some("none"),
            ];
            for (i, in_class) in classes.into_iter().enumerate() {
                if in_class && let Some(c) = self.conflicts.get_mut(i) {
                    c.1 += 1;
                    if let Some(h) = hit.get_mut(i) {
                        *h = true;
                    }
                }
            }
        }
        for (c, h) in self.conflicts.iter_mut().zip(hit) {
            c.0 += u64::from(h);
        }

        // DANE among signed domains that receive mail.
        if secure && d.with_mx() {
            self.signed_with_mx += 1;
            self.signed_dane_valid += u64::from(d.dane_valid());
            self.signed_dane_all += u64::from(d.dane == Some("all"));
            self.signed_dane_broken += u64::from(d.dane == Some("broken"));
        }

        // Groups.
        self.by_rank.entry(rank_band(d.rank)).or_default().add(d);
        match self.by_tld.get_mut(tld(d.domain)) {
            Some(h) => h.add(d),
            None => {
                let mut h = Headline::default();
                h.add(d);
                self.by_tld.insert(tld(d.domain).to_owned(), h);
            }
        }
        match provider(d.domain, first_mx) {
            Provider::NoMxHost => self.no_mx_host.add(d),
            Provider::SelfHosted => self.self_hosted.add(d),
            Provider::Domain(p) => match self.by_provider.get_mut(p) {
                Some(h) => h.add(d),
                None => {
                    let mut h = Headline::default();
                    h.add(d);
                    self.by_provider.insert(p.to_owned(), h);
                }
            },
        }

        // Ready to flip: testing, by how many MX hosts would pass under enforce.
        if d.sts_mode == Some("testing") {
            let i = match d.sts_mx_valid {
                Some("all") => Some(0),
                Some("some") => Some(1),
                Some("none") => Some(2),
                _ => None,
            };
            if let Some(n) = i.and_then(|i| self.ready.get_mut(i)) {
                *n += 1;
            }
        }

        // TLS-RPT among sets.
        let tlsrpt = d.tlsrpt == Some("valid");
        let sets = [
            d.sts_txt == Some("absent"),
            d.sts_txt == Some("valid"),
            policy_valid,
            d.sts_mode == Some("testing"),
            enforce,
            d.dane_valid(),
        ];
        for (a, in_set) in self.tlsrpt_among.iter_mut().zip(sets) {
            if in_set {
                a.0 += 1;
                a.1 += u64::from(tlsrpt);
            }
        }
    }

    fn policy(&mut self, valid: bool, mode: Option<&str>, max_age: Option<i64>) {
        self.totals.policies += 1;
        let (true, Some(age)) = (valid, max_age) else {
            return;
        };
        *self.max_age_all.entry(age).or_default() += 1;
        let mode_idx = match mode {
            Some("enforce") => 1,
            Some("testing") => 2,
            Some("none") => 3,
            _ => 0,
        };
        if mode_idx == 1 {
            *self.max_age_enforce.entry(age).or_default() += 1;
        }
        let bucket = MAX_AGE_BUCKETS
            .iter()
            .position(|(_, _, lo, hi)| age >= *lo && hi.is_none_or(|h| age < h))
            // Negative ages cannot parse as valid; count them in the first bucket.
            .unwrap_or(0);
        if let Some(b) = self.max_age_buckets.get_mut(bucket) {
            b[0] += 1;
            if mode_idx > 0
                && let Some(m) = b.get_mut(mode_idx)
            {
                *m += 1;
            }
        }
    }
}

/// Counts `alone` for each true step and `count` while every step so far holds.
fn funnel<const N: usize>(acc: &mut [(u64, u64); N], steps: &[bool; N]) {
    let mut all = true;
    for (a, &s) in acc.iter_mut().zip(steps) {
        all &= s;
        a.0 += u64::from(all);
        a.1 += u64::from(s);
    }
}

fn funnel_steps<const N: usize>(
    acc: &[(u64, u64); N],
    defs: &[(&'static str, &'static str, &'static str); N],
    domains: u64,
) -> Vec<FunnelStep> {
    let mut prev: Option<u64> = None;
    acc.iter()
        .zip(defs)
        .map(|(&(count, alone), &(key, label, definition))| {
            let step = FunnelStep {
                key,
                label,
                definition,
                count,
                alone,
                share_of_domains: share(count, domains),
                share_of_previous: prev.and_then(|p| share(count, p)),
            };
            prev = Some(count);
            step
        })
        .collect()
}

fn axes(defs: &[(&'static str, &'static str, &'static str)]) -> Vec<Axis> {
    defs.iter()
        .map(|&(key, label, definition)| Axis {
            key,
            label,
            definition,
        })
        .collect()
}

fn top_groups(map: HashMap<String, Headline>, n: usize) -> (u64, Vec<Group>, Headline) {
    let distinct = map.len() as u64;
    let mut all: Vec<Group> = map
        .into_iter()
        .map(|(key, headline)| Group { key, headline })
        .collect();
    all.sort_by(|a, b| {
        b.headline
            .domains
            .cmp(&a.headline.domains)
            .then_with(|| a.key.cmp(&b.key))
    });
    let mut other = Headline::default();
    for g in all.iter().skip(n) {
        other.merge(&g.headline);
    }
    all.truncate(n);
    (distinct, all, other)
}

const DOMAIN_COLUMNS: [&str; 13] = [
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
    "mx_hosts",
];

const MX_COLUMNS_READ: [&str; 8] = [
    "domain",
    "tlsa_outcome",
    "dane_usable",
    "dane_valid",
    "dane_broken",
    "covered_by",
    "sts_valid",
    "position",
];

impl Report {
    /// Computes every figure from the committed rows of `snapshot`.
    pub fn build(snapshot: &Snapshot, options: &ReportOptions) -> Result<Report, ReportError> {
        let domain_rows = snapshot.rows("domains");
        if domain_rows == 0 {
            return Err(ReportError::Empty(snapshot.dir.clone()));
        }
        let mut acc = Acc::default();
        for shard in &snapshot.shards {
            for seg in &shard.segments {
                let part = |table: &str| -> Result<Option<PathBuf>, ReportError> {
                    if seg.rows.get(table).is_none_or(|&n| n == 0) {
                        return Ok(None);
                    }
                    let path = shard
                        .dir
                        .join(table)
                        .join(format!("part-{:06}.parquet", seg.seq));
                    if !path.exists() {
                        return Err(SnapshotError::MissingPart(path).into());
                    }
                    Ok(Some(path))
                };
                let mut mx_by_domain: HashMap<String, Vec<MxFacts>> = HashMap::new();
                if let Some(path) = part("mx")? {
                    read_mx(&path, &mut mx_by_domain)?;
                }
                if let Some(path) = part("domains")? {
                    read_domains(&path, &mut mx_by_domain, &mut acc)?;
                }
                acc.orphan_mx += mx_by_domain.values().map(|v| v.len() as u64).sum::<u64>();
            }
        }
        let policies = snapshot.files("policies")?;
        for_each_batch(&policies, &["status", "mode", "max_age"], |b| {
            let status = strings(b, "status")?;
            let mode = strings(b, "mode")?;
            let max_age = int64s(b, "max_age")?;
            for i in 0..b.num_rows() {
                acc.policy(
                    str_at(status, i) == Some("valid"),
                    str_at(mode, i),
                    i64_at(max_age, i),
                );
            }
            Ok(())
        })
        .map_err(ReportError::Dataset)?;
        acc.totals.input_errors = snapshot.rows("input_errors");
        Ok(finish(snapshot, acc, options))
    }
}

fn read_mx(
    path: &std::path::Path,
    mx_by_domain: &mut HashMap<String, Vec<MxFacts>>,
) -> Result<(), ReportError> {
    for_each_batch(&[path.to_owned()], &MX_COLUMNS_READ, |b| {
        let domain = strings(b, "domain")?;
        let tlsa = strings(b, "tlsa_outcome")?;
        let usable = bools(b, "dane_usable")?;
        let valid = bools(b, "dane_valid")?;
        let broken = bools(b, "dane_broken")?;
        let covered = strings(b, "covered_by")?;
        let sts_valid = bools(b, "sts_valid")?;
        for i in 0..b.num_rows() {
            let Some(d) = str_at(domain, i) else { continue };
            let facts = MxFacts {
                tlsa_secure: str_at(tlsa, i) == Some("secure"),
                dane_usable: bool_at(usable, i),
                dane_valid: bool_at(valid, i),
                dane_broken: bool_at(broken, i),
                covered: str_at(covered, i).is_some(),
                sts_valid: bool_at(sts_valid, i),
            };
            match mx_by_domain.get_mut(d) {
                Some(v) => v.push(facts),
                None => {
                    mx_by_domain.insert(d.to_owned(), vec![facts]);
                }
            }
        }
        Ok(())
    })
    .map_err(ReportError::Dataset)
}

fn read_domains(
    path: &std::path::Path,
    mx_by_domain: &mut HashMap<String, Vec<MxFacts>>,
    acc: &mut Acc,
) -> Result<(), ReportError> {
    for_each_batch(&[path.to_owned()], &DOMAIN_COLUMNS, |b| {
        let domain = strings(b, "domain")?;
        let rank = int64s(b, "rank")?;
        let col = |name| strings(b, name);
        let (mx_status, sts_txt, sts_policy, sts_mode) = (
            col("mx_status")?,
            col("sts_txt")?,
            col("sts_policy")?,
            col("sts_mode")?,
        );
        let (sts_mx_valid, starttls, tlsrpt, dnssec, dane) = (
            col("sts_mx_valid")?,
            col("starttls")?,
            col("tlsrpt")?,
            col("dnssec")?,
            col("dane")?,
        );
        let classes = string_lists(b, "error_classes")?;
        let hosts = string_lists(b, "mx_hosts")?;
        for i in 0..b.num_rows() {
            let Some(name) = str_at(domain, i) else {
                continue;
            };
            let row = DomainRow {
                domain: name,
                rank: i64_at(rank, i),
                mx_status: str_at(mx_status, i),
                sts_txt: str_at(sts_txt, i),
                sts_policy: str_at(sts_policy, i),
                sts_mode: str_at(sts_mode, i),
                sts_mx_valid: str_at(sts_mx_valid, i),
                starttls: str_at(starttls, i),
                tlsrpt: str_at(tlsrpt, i),
                dnssec: str_at(dnssec, i),
                dane: str_at(dane, i),
            };
            let mx = mx_by_domain.remove(name).unwrap_or_default();
            acc.totals.mx_rows += mx.len() as u64;
            acc.domain(&row, &mx, hosts.row(i).next());
            let mut any = false;
            for c in classes.row(i) {
                any = true;
                match acc.classes.get_mut(c) {
                    Some(n) => *n += 1,
                    None => {
                        acc.classes.insert(c.to_owned(), 1);
                    }
                }
            }
            acc.with_any_class += u64::from(any);
        }
        Ok(())
    })
    .map_err(ReportError::Dataset)
}

fn provenance(snapshot: &Snapshot) -> (Provenance, Vec<Warning>) {
    let mut warnings = Vec::new();
    let mut shards = Vec::new();
    let mut declared = None;
    let mut worst: Option<RunStatus> = None;
    let mut any_missing = false;
    for s in &snapshot.shards {
        let manifest = s.manifest.as_ref().map(|m| {
            declared = Some(declared.map_or(m.shard_count, |d: u32| d.max(m.shard_count)));
            if m.status != RunStatus::Complete {
                warnings.push(Warning::NotComplete {
                    shard: s.index,
                    status: m.status,
                });
            }
            worst = Some(match (worst, m.status) {
                (Some(RunStatus::Interrupted), _) | (_, RunStatus::Interrupted) => {
                    RunStatus::Interrupted
                }
                (Some(RunStatus::Running), _) | (_, RunStatus::Running) => RunStatus::Running,
                _ => RunStatus::Complete,
            });
            if !m.resolver.validating {
                warnings.push(Warning::NotValidating { shard: s.index });
            }
            if m.schema_version != SCHEMA_VERSION {
                warnings.push(Warning::SchemaVersion {
                    shard: s.index,
                    version: m.schema_version,
                });
            }
            ManifestSummary {
                schema_version: m.schema_version,
                tool: m.tool.name.clone(),
                version: m.tool.version.clone(),
                git_revision: m.tool.git_revision.clone(),
                started_at: m.started_at.clone(),
                finished_at: m.finished_at.clone(),
                status: m.status,
                resumed: m.resumed,
                input_path: m.input.path.clone(),
                input_sha256: m.input.sha256.clone(),
                input_lines: m.input.lines,
                input_domains: m.input.domains,
                input_errors: m.input.input_errors,
                resolver_addresses: m.resolver.addresses.clone(),
                validating: m.resolver.validating,
                canaries: m.resolver.canaries.clone(),
            }
        });
        if manifest.is_none() {
            any_missing = true;
            warnings.push(Warning::NoManifest { shard: s.index });
        }
        shards.push(ShardProvenance {
            index: s.index,
            segments: s.segments.len() as u64,
            domains: s
                .segments
                .iter()
                .filter_map(|m| m.rows.get("domains"))
                .sum(),
            manifest,
        });
    }
    let found = snapshot.shards.len() as u32;
    if let Some(d) = declared
        && found < d
    {
        warnings.push(Warning::MissingShards { declared: d, found });
    }
    let status = match worst {
        None => "unknown",
        Some(RunStatus::Complete) if !any_missing && declared.is_none_or(|d| found >= d) => {
            "complete"
        }
        Some(RunStatus::Complete) => "incomplete",
        Some(s) => run_status(s),
    };
    let mut rows = BTreeMap::new();
    for t in ["domains", "mx", "smtp", "policies", "input_errors"] {
        rows.insert(t.to_owned(), snapshot.rows(t));
    }
    (
        Provenance {
            snapshot: snapshot.id.clone(),
            dir: snapshot.dir.display().to_string(),
            status: status.to_owned(),
            shards_found: found,
            shards_declared: declared,
            rows,
            shards,
        },
        warnings,
    )
}

fn finish(snapshot: &Snapshot, acc: Acc, options: &ReportOptions) -> Report {
    let (provenance, mut warnings) = provenance(snapshot);
    if acc.orphan_mx > 0 {
        warnings.push(Warning::OrphanMxRows {
            rows: acc.orphan_mx,
        });
    }
    let domains = acc.totals.domains;
    let h = &acc.headline;

    let matrix = Matrix {
        unit: "domains",
        rows: axes(&MATRIX_ROWS),
        columns: axes(&MATRIX_COLUMNS),
        counts: acc.matrix.iter().map(|r| r.to_vec()).collect(),
        total: acc.matrix.iter().flatten().sum(),
        excluded: acc.null_mx,
        excluded_definition: "`mx_status = null_mx` (the domain accepts no mail, RFC 7505)",
    };
    let mx_matrix = Matrix {
        unit: "mx rows",
        rows: axes(&MX_ROWS),
        columns: axes(&MX_COLUMNS),
        counts: acc.mx_matrix.iter().map(|r| r.to_vec()).collect(),
        total: acc.mx_matrix.iter().flatten().sum(),
        excluded: 0,
        excluded_definition: "none: every `mx` row (domain x host) is counted",
    };
    let conflicts = CONFLICTS
        .iter()
        .zip(acc.conflicts)
        .map(|(&(key, definition), (d, m))| Conflict {
            key,
            definition,
            domains: d,
            mx: m,
        })
        .collect();
    let senders = SENDERS
        .iter()
        .zip(acc.senders)
        .map(|(&(key, definition), [a, d, o])| SenderModel {
            key,
            definition,
            authenticated: a,
            defer: d,
            opportunistic: o,
        })
        .collect();
    let dnssec_count = |v: &str| {
        acc.value_counts
            .get("dnssec")
            .and_then(|m| m.get(v))
            .copied()
            .unwrap_or(0)
    };
    let dnssec = Dnssec {
        domains,
        signed: h.dnssec_secure,
        signed_share: share(h.dnssec_secure, domains),
        bogus: dnssec_count("bogus"),
        unknown: dnssec_count("unknown"),
        signed_with_mx: acc.signed_with_mx,
        dane_valid: acc.signed_dane_valid,
        dane_all: acc.signed_dane_all,
        dane_broken: acc.signed_dane_broken,
        dane_share_of_signed: share(acc.signed_dane_valid, acc.signed_with_mx),
    };
    let mut by_rank = Vec::new();
    for key in RANK_BANDS.iter().map(|b| b.0).chain(["unranked"]) {
        by_rank.push(Group {
            key: key.to_owned(),
            headline: acc.by_rank.get(key).cloned().unwrap_or_default(),
        });
    }
    let (distinct, top, other) = top_groups(acc.by_tld, options.top_tlds);
    let by_tld = Groups {
        distinct,
        top,
        other,
    };
    let (distinct, top, other) = top_groups(acc.by_provider, options.top_providers);
    let by_provider = Providers {
        distinct,
        top,
        self_hosted: acc.self_hosted,
        other,
        no_mx_host: acc.no_mx_host,
    };

    let mut classes: Vec<(String, u64)> = acc.classes.into_iter().collect();
    let distinct_classes = classes.len() as u64;
    classes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    classes.truncate(options.top_failure_classes);
    let failure_classes = FailureClasses {
        domains_with_any: acc.with_any_class,
        distinct: distinct_classes,
        top: classes
            .into_iter()
            .map(|(code, n)| {
                let v = vocab::lookup(&code);
                FailureClassCount {
                    share: share(n, domains),
                    domains: n,
                    severity: v.map(|v| v.severity),
                    area: v.map(|v| v.area),
                    fix: v.map(|v| v.fix),
                    code,
                }
            })
            .collect(),
    };

    let max_age = MaxAge {
        policies: acc.max_age_all.values().sum(),
        buckets: MAX_AGE_BUCKETS
            .iter()
            .zip(acc.max_age_buckets)
            .map(|(&(key, label, min_s, max_s), c)| MaxAgeBucket {
                key,
                label,
                min_s,
                max_s,
                count: c[0],
                enforce: c[1],
                testing: c[2],
                none: c[3],
            })
            .collect(),
        all: quantiles(&acc.max_age_all),
        enforce: quantiles(&acc.max_age_enforce),
    };
    let ready_to_flip = ReadyToFlip {
        testing: h.sts_testing,
        ready: acc.ready[0],
        share_of_testing: share(acc.ready[0], h.sts_testing),
        some_valid: acc.ready[1],
        none_valid: acc.ready[2],
    };
    let tlsrpt = TlsRpt {
        valid: h.tlsrpt_valid,
        share: share(h.tlsrpt_valid, domains),
        among: TLSRPT_AMONG
            .iter()
            .zip(acc.tlsrpt_among)
            .map(|(&(key, definition), (base, valid))| TlsRptAmong {
                key,
                definition,
                base,
                tlsrpt_valid: valid,
                share: share(valid, base),
            })
            .collect(),
    };

    Report {
        report_format: REPORT_FORMAT,
        generated_by: concat!("mxcensus-analysis ", env!("CARGO_PKG_VERSION")).to_owned(),
        provenance,
        warnings,
        adoption_funnel: funnel_steps(&acc.adoption, &ADOPTION_STEPS, domains),
        dane_funnel: funnel_steps(&acc.dane, &DANE_STEPS, domains),
        headline: acc.headline,
        totals: acc.totals,
        value_counts: acc.value_counts,
        matrix,
        mx_matrix,
        conflicts,
        senders,
        dnssec,
        by_rank,
        by_tld,
        by_provider,
        failure_classes,
        max_age,
        ready_to_flip,
        tlsrpt,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rank_bands_are_disjoint_and_cover_every_rank() {
        assert_eq!(rank_band(Some(1)), "top_1k");
        assert_eq!(rank_band(Some(1_000)), "top_1k");
        assert_eq!(rank_band(Some(1_001)), "top_10k");
        assert_eq!(rank_band(Some(10_000)), "top_10k");
        assert_eq!(rank_band(Some(100_000)), "top_100k");
        assert_eq!(rank_band(Some(100_001)), "top_1m");
        assert_eq!(rank_band(Some(1_000_000)), "top_1m");
        assert_eq!(rank_band(Some(1_000_001)), "rest");
        assert_eq!(rank_band(Some(i64::MAX)), "rest");
        assert_eq!(rank_band(Some(0)), "unranked");
        assert_eq!(rank_band(Some(-5)), "unranked");
        assert_eq!(rank_band(None), "unranked");
    }

    #[test]
    fn tld_and_provider_grouping() {
        assert_eq!(tld("example.co.uk"), "uk");
        assert_eq!(tld("localhost"), "localhost");
        assert_eq!(registrable("mx1.mail.example.co.uk"), "example.co.uk");
        assert_eq!(registrable("co.uk"), "co.uk");
        assert_eq!(
            provider("shop.example", Some("mx.google.com")),
            Provider::Domain("google.com")
        );
        assert_eq!(
            provider("example.com", Some("mail.example.com")),
            Provider::SelfHosted
        );
        assert_eq!(
            provider("a.example.com", Some("mx.example.com")),
            Provider::SelfHosted
        );
        assert_eq!(provider("example.com", None), Provider::NoMxHost);
    }

    #[test]
    fn shares_and_quantiles() {
        assert_eq!(share(1, 4), Some(0.25));
        assert_eq!(share(0, 0), None);
        let mut v = BTreeMap::new();
        for x in [1, 2, 3, 4] {
            *v.entry(x).or_default() += 1;
        }
        let q = quantiles(&v);
        // Nearest rank: ceil(0.5 * 4) = 2 -> 2; ceil(0.9 * 4) = 4 -> 4.
        assert_eq!((q.median_s, q.p90_s), (Some(2), Some(4)));
        assert_eq!((q.min_s, q.max_s, q.count), (Some(1), Some(4), 4));
        v.insert(86_400 * 10, 6);
        let q = quantiles(&v);
        assert_eq!(q.median_s, Some(864_000));
        assert_eq!(q.median_days, Some(10.0));
        let empty = quantiles(&BTreeMap::new());
        assert_eq!((empty.median_s, empty.count), (None, 0));
    }

    fn row<'a>(sts: (&'a str, &'a str, Option<&'a str>), dane: Option<&'a str>) -> DomainRow<'a> {
        DomainRow {
            domain: "example.com",
            mx_status: Some("ok"),
            sts_txt: Some(sts.0),
            sts_policy: Some(sts.1),
            sts_mode: sts.2,
            dnssec: Some("secure"),
            dane,
            ..DomainRow::default()
        }
    }

    #[test]
    fn matrix_cells() {
        let r = row(("absent", "not_attempted", None), Some("none"));
        assert_eq!((r.matrix_row(), r.matrix_column()), (Some(0), 0));
        let r = row(("valid", "valid", Some("enforce")), Some("all"));
        assert_eq!((r.matrix_row(), r.matrix_column()), (Some(2), 3));
        let r = row(("valid", "valid", Some("none")), Some("partial"));
        assert_eq!((r.matrix_row(), r.matrix_column()), (Some(1), 1));
        let r = row(("valid", "fetch_failed", None), Some("broken"));
        assert_eq!((r.matrix_row(), r.matrix_column()), (Some(3), 1));
        let r = row(("multiple", "not_attempted", None), Some("none"));
        assert_eq!(r.matrix_column(), 1);
        let r = row(("error", "not_attempted", None), Some("error"));
        assert_eq!((r.matrix_row(), r.matrix_column()), (Some(4), 4));
        let mut r = row(("valid", "valid", Some("testing")), Some("error"));
        r.dnssec = Some("bogus");
        assert_eq!((r.matrix_row(), r.matrix_column()), (Some(3), 2));
        r.mx_status = Some("null_mx");
        r.dnssec = Some("secure");
        r.dane = None;
        assert_eq!(r.matrix_row(), None);
    }

    #[test]
    fn funnel_counts_nested_and_alone() {
        let mut acc = [(0, 0); 3];
        funnel(&mut acc, &[true, false, true]);
        funnel(&mut acc, &[true, true, true]);
        assert_eq!(acc, [(2, 2), (1, 1), (1, 2)]);
        let steps = funnel_steps(
            &acc,
            &[("a", "A", "a"), ("b", "B", "b"), ("c", "C", "c")],
            4,
        );
        assert_eq!(steps[0].share_of_domains, Some(0.5));
        assert_eq!(steps[0].share_of_previous, None);
        assert_eq!(steps[1].share_of_previous, Some(0.5));
        assert_eq!(steps[2].share_of_previous, Some(1.0));
    }

    #[test]
    fn headline_and_conflicts_from_mx_facts() {
        let mut acc = Acc::default();
        let mut d = row(("valid", "valid", Some("enforce")), Some("broken"));
        d.sts_mx_valid = Some("some");
        let ok = MxFacts {
            dane_usable: true,
            dane_valid: true,
            tlsa_secure: true,
            covered: true,
            ..MxFacts::default()
        };
        let broken = MxFacts {
            dane_usable: true,
            dane_broken: true,
            tlsa_secure: true,
            covered: true,
            sts_valid: true,
            ..MxFacts::default()
        };
        acc.domain(&d, &[ok, broken], Some("mx.example.com"));
        assert_eq!(
            acc.conflicts,
            [(1, 1), (1, 1), (0, 0), (0, 0)],
            "dane_ok_sts_fail and dane_fail_sts_ok once each"
        );
        // Both-sender: DANE decides each host; STS-only: enforce decides; DANE-only too.
        assert_eq!(acc.senders, [[1, 1, 0], [1, 1, 0], [1, 1, 0]]);
        assert_eq!(acc.mx_matrix[0][2], 1);
        assert_eq!(acc.mx_matrix[1][3], 1);
        assert_eq!(acc.matrix[3][3], 1);
        assert_eq!(acc.headline.dane_broken, 1);
        assert_eq!(acc.self_hosted.domains, 1);
        assert_eq!(acc.dane.map(|s| s.0), [1, 1, 1, 1, 0, 0]);
    }

    #[test]
    fn max_age_buckets_and_modes() {
        let mut acc = Acc::default();
        acc.policy(true, Some("enforce"), Some(86_399));
        acc.policy(true, Some("testing"), Some(86_400));
        acc.policy(true, Some("enforce"), Some(31_557_600));
        acc.policy(false, None, None);
        acc.policy(true, Some("none"), None);
        assert_eq!(acc.totals.policies, 5);
        assert_eq!(acc.max_age_buckets[0], [1, 1, 0, 0]);
        assert_eq!(acc.max_age_buckets[1], [1, 0, 1, 0]);
        assert_eq!(acc.max_age_buckets[4], [1, 1, 0, 0]);
        assert_eq!(acc.max_age_enforce.values().sum::<u64>(), 2);
    }

    fn tiny_report() -> Report {
        let mut acc = Acc::default();
        let mut a = row(("valid", "valid", Some("testing")), Some("all"));
        a.domain = "a.example";
        a.rank = Some(5);
        a.sts_mx_valid = Some("all");
        a.tlsrpt = Some("valid");
        let mx = MxFacts {
            tlsa_secure: true,
            dane_usable: true,
            dane_valid: true,
            covered: true,
            sts_valid: true,
            ..MxFacts::default()
        };
        acc.domain(&a, &[mx], Some("mx.provider.net"));
        let mut b = row(("absent", "not_attempted", None), Some("none"));
        b.domain = "b<x>.test";
        b.dnssec = Some("insecure");
        acc.domain(&b, &[MxFacts::default()], Some("mx.b<x>.test"));
        acc.classes.insert("no_starttls".to_owned(), 1);
        acc.with_any_class = 1;
        acc.policy(true, Some("testing"), Some(604_800));
        let snapshot = Snapshot {
            dir: PathBuf::from("/nonexistent"),
            id: "tiny".to_owned(),
            shards: Vec::new(),
        };
        finish(&snapshot, acc, &ReportOptions::default())
    }

    #[test]
    fn renderers_on_a_hand_built_report() {
        let r = tiny_report();
        assert_eq!(r.headline.domains, 2);
        assert_eq!(r.ready_to_flip.ready, 1);
        assert_eq!(r.matrix.counts[2][2], 1);
        assert_eq!(r.matrix.counts[0][0], 1);
        assert_eq!(r.by_rank[0].headline.domains, 1);
        assert_eq!(r.by_rank[5].key, "unranked");
        assert_eq!(r.by_provider.top[0].key, "provider.net");
        assert_eq!(r.failure_classes.top[0].severity, Some("error"));
        assert_eq!(r.max_age.all.median_days, Some(7.0));
        assert_eq!(r.provenance.status, "unknown");

        let md = r.to_markdown();
        assert!(md.starts_with("# mxcensus report: snapshot tiny"));
        assert!(md.contains("> **Warning:** This snapshot is `unknown`"));
        assert!(md.contains("| Mode enforce | 0 | 0.0% |"));
        assert!(md.contains("| DANE all MX | 0 (0.0%) | 0 (0.0%) | 1 (50.0%) |"));
        assert!(md.contains("| 7-30 days | 1 | 100.0% | 0 | 1 | 0 |"));
        assert!(md.contains("b&lt;x&gt;.test") || md.contains("| test |"));

        let html = r.to_html();
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=") && !html.contains("href="));
        assert!(!html.contains("b<x>"), "names are escaped");
        assert!(html.contains("<th scope=\"row\">DANE all MX</th>"));

        let json: serde_json::Value = serde_json::from_str(&r.to_json().unwrap()).unwrap();
        assert_eq!(json["matrix"]["counts"][2][2], 1);
        assert_eq!(json["adoption_funnel"][4]["key"], "sts_policy_valid");
        assert_eq!(json["by_provider"]["self_hosted"]["domains"], 1);
        assert_eq!(r.summary().len(), 5);
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn pick(
            values: &'static [Option<&'static str>],
        ) -> impl Strategy<Value = Option<&'static str>> {
            proptest::sample::select(values)
        }

        fn mx_facts() -> impl Strategy<Value = MxFacts> {
            any::<[bool; 6]>().prop_map(|b| MxFacts {
                tlsa_secure: b[0],
                dane_usable: b[1],
                dane_valid: b[2],
                dane_broken: b[3],
                covered: b[4],
                sts_valid: b[5],
            })
        }

        /// Any combination of column values, consistent or not: the counts must stay
        /// coherent whatever a snapshot holds.
        fn domain_row() -> impl Strategy<Value = (DomainRow<'static>, Vec<MxFacts>)> {
            (
                (
                    pick(&[
                        Some("ok"),
                        Some("implicit"),
                        Some("null_mx"),
                        Some("error"),
                        None,
                    ]),
                    pick(&[
                        Some("valid"),
                        Some("absent"),
                        Some("invalid"),
                        Some("multiple"),
                        Some("error"),
                    ]),
                    pick(&[
                        Some("valid"),
                        Some("invalid"),
                        Some("fetch_failed"),
                        Some("not_attempted"),
                    ]),
                    pick(&[Some("enforce"), Some("testing"), Some("none"), None]),
                    pick(&[Some("all"), Some("some"), Some("none"), None]),
                    pick(&[Some("all"), Some("some"), Some("none"), Some("error"), None]),
                ),
                (
                    pick(&[
                        Some("valid"),
                        Some("absent"),
                        Some("invalid"),
                        Some("error"),
                    ]),
                    pick(&[
                        Some("secure"),
                        Some("insecure"),
                        Some("bogus"),
                        Some("error"),
                        Some("unknown"),
                    ]),
                    pick(&[
                        Some("all"),
                        Some("partial"),
                        Some("none"),
                        Some("broken"),
                        Some("error"),
                        None,
                    ]),
                    proptest::option::of(1i64..3_000_000),
                ),
                proptest::collection::vec(mx_facts(), 0..4),
            )
                .prop_map(
                    |(
                        (mx_status, sts_txt, sts_policy, sts_mode, sts_mx_valid, starttls),
                        (tlsrpt, dnssec, dane, rank),
                        mx,
                    )| {
                        (
                            DomainRow {
                                domain: "example.co.uk",
                                rank,
                                mx_status,
                                sts_txt,
                                sts_policy,
                                sts_mode,
                                sts_mx_valid,
                                starttls,
                                tlsrpt,
                                dnssec,
                                dane,
                            },
                            mx,
                        )
                    },
                )
        }

        proptest! {
            #[test]
            fn every_domain_and_mx_row_is_counted_once_and_funnels_nest(
                rows in proptest::collection::vec(domain_row(), 0..40)
            ) {
                let mut acc = Acc::default();
                let mut mx_rows = 0u64;
                for (d, mx) in &rows {
                    acc.domain(d, mx, Some("mx1.provider.example"));
                    mx_rows += mx.len() as u64;
                }
                let n = rows.len() as u64;
                prop_assert_eq!(acc.totals.domains, n);
                // Each domain is in exactly one matrix cell, or left out as null MX.
                let cells: u64 = acc.matrix.iter().flatten().sum();
                prop_assert_eq!(cells + acc.null_mx, n);
                // Each mx row is in exactly one cell of the per-MX matrix.
                prop_assert_eq!(acc.mx_matrix.iter().flatten().sum::<u64>(), mx_rows);
                // Nested funnel counts never grow, and never exceed the step alone.
                for funnel in [&acc.adoption[..], &acc.dane[..]] {
                    for w in funnel.windows(2) {
                        prop_assert!(w[1].0 <= w[0].0, "{:?}", funnel);
                    }
                    for (nested, alone) in funnel {
                        prop_assert!(nested <= alone && *alone <= n);
                    }
                }
                // Every value of every headline column is counted once per domain.
                for col in HEADLINE_COLUMNS {
                    let total: u64 = acc.value_counts.get(col).map_or(0, |m| m.values().sum());
                    prop_assert_eq!(total, n, "{}", col);
                }
                let by_rank: u64 = acc.by_rank.values().map(|h| h.domains).sum();
                prop_assert_eq!(by_rank, n);
            }
        }
    }
}
