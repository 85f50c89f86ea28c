//! `--simnet DIR/simnet.json`: point every setting of a crawl at a running simulated
//! Internet (resolver, CA, trust anchor, SMTP and HTTPS ports, canaries).
//!
//! Read as plain JSON so the crawler does not depend on the simulator: only the fields
//! used here are required. Canary names come from `canary_secure` / `canary_bogus` when
//! the file offers them; otherwise the caller may pick them from the ground truth with
//! [`canaries_from_truth`].

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mxcensus_dataset::DatasetError;
use mxcensus_dataset::read::for_each_batch;
use serde::Deserialize;

use crate::config::{CrawlConfig, set_extra_ca};

/// The fields of `simnet.json` the crawler uses.
#[derive(Clone, Debug, Deserialize)]
pub struct SimnetFile {
    /// `ip:port` of the (validating) resolver.
    pub resolver: String,
    /// Whether that resolver validates.
    #[serde(default)]
    pub resolver_validates: bool,
    /// The CA that issued the world's certificates.
    pub ca_cert: PathBuf,
    /// The root trust anchor the resolver uses.
    pub trust_anchor: PathBuf,
    /// SMTP port.
    pub smtp_port: u16,
    /// HTTPS port.
    pub https_port: u16,
    /// The input list.
    pub domains: PathBuf,
    /// Ground truth Parquet.
    pub truth: PathBuf,
    /// A secure canary name, when the world offers one.
    #[serde(default)]
    pub canary_secure: Option<String>,
    /// A bogus canary name, when the world offers one.
    #[serde(default)]
    pub canary_bogus: Option<String>,
}

/// Why `simnet.json` could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimnetError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not the expected JSON.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The error.
        source: serde_json::Error,
    },
    /// The resolver is not `ip:port`.
    #[error("resolver {0:?} is not ip:port")]
    Resolver(String),
}

impl SimnetFile {
    /// Reads `simnet.json`; relative paths inside are taken relative to its directory.
    pub fn read(path: &Path) -> Result<SimnetFile, SimnetError> {
        let text = std::fs::read_to_string(path).map_err(|source| SimnetError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut f: SimnetFile =
            serde_json::from_str(&text).map_err(|source| SimnetError::Json {
                path: path.to_owned(),
                source,
            })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [
            &mut f.ca_cert,
            &mut f.trust_anchor,
            &mut f.domains,
            &mut f.truth,
        ] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        Ok(f)
    }

    /// Sets resolver, extra CA, ports and (when offered) canaries.
    pub fn apply(&self, config: &mut CrawlConfig) -> Result<(), SimnetError> {
        let resolver: SocketAddr = self
            .resolver
            .parse()
            .map_err(|_| SimnetError::Resolver(self.resolver.clone()))?;
        config.dns.resolvers = vec![resolver];
        set_extra_ca(config, vec![self.ca_cert.clone()]);
        config.smtp.port = self.smtp_port;
        config.policy.port = self.https_port;
        if let Some(c) = &self.canary_secure {
            config.canary_secure = c.clone();
        }
        if let Some(c) = &self.canary_bogus {
            config.canary_bogus = c.clone();
        }
        Ok(())
    }
}

/// Picks canaries from a ground-truth table: the first domain whose `dnssec` is `secure`,
/// and a domain whose `dnssec` is `bogus` for the whole zone (a planted `ds_mismatch`:
/// other planted faults break only some RRsets, and the canary asks for A).
pub fn canaries_from_truth(truth: &Path) -> Result<Option<(String, String)>, DatasetError> {
    use arrow::array::{Array, AsArray};
    let mut secure = None;
    let mut bogus = None;
    for_each_batch(&[truth.to_owned()], &["domain", "dnssec", "planted"], |b| {
        let (Some(d), Some(s), Some(p)) = (
            b.column_by_name("domain")
                .and_then(|a| a.as_string_opt::<i32>()),
            b.column_by_name("dnssec")
                .and_then(|a| a.as_string_opt::<i32>()),
            b.column_by_name("planted")
                .and_then(|a| a.as_list_opt::<i32>()),
        ) else {
            return Err(DatasetError::BadColumn {
                column: "domain/dnssec/planted".to_owned(),
                expected: "Utf8, Utf8, List<Utf8>",
            });
        };
        for i in 0..b.num_rows() {
            if !(d.is_valid(i) && s.is_valid(i)) {
                continue;
            }
            let planted = p.value(i);
            let whole_zone = planted
                .as_string_opt::<i32>()
                .is_some_and(|l| (0..l.len()).any(|j| l.value(j).ends_with("ds_mismatch")));
            match s.value(i) {
                "secure" if secure.is_none() => secure = Some(d.value(i).to_owned()),
                "bogus" if bogus.is_none() && whole_zone => bogus = Some(d.value(i).to_owned()),
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(secure.zip(bogus))
}

/// The headline columns a crawl shares with simnet's ground truth (same names, same
/// values), compared by [`compare_with_truth`].
pub const TRUTH_COLUMNS: [&str; 11] = [
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
];

/// How a crawl's `domains` rows agree with the ground truth, joined on `domain`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct TruthComparison {
    /// Domains present in both.
    pub compared: u64,
    /// Truth domains without a crawl row.
    pub missing: u64,
    /// Crawl rows of domains the truth does not know.
    pub unexpected: u64,
    /// Domains disagreeing, per column (only columns with disagreements). For
    /// `error_classes` a disagreement is a planted class the crawl did not report (the
    /// crawl may report more).
    pub disagreements: BTreeMap<String, u64>,
    /// Up to three examples per column: `domain: truth <t> crawl <c>`.
    pub examples: BTreeMap<String, Vec<String>>,
}

impl TruthComparison {
    /// Every truth domain has a row and every compared column agrees.
    pub fn agrees(&self) -> bool {
        self.missing == 0 && self.unexpected == 0 && self.disagreements.is_empty()
    }
}

type TextRows = BTreeMap<String, Vec<String>>;

/// Rows keyed by `domain`, the [`TRUTH_COLUMNS`] rendered as text (`null` for nulls,
/// lists as `[a, b]`).
fn text_rows(files: &[PathBuf]) -> Result<TextRows, DatasetError> {
    use arrow::array::Array;
    use arrow::util::display::{ArrayFormatter, FormatOptions};
    let mut columns = vec!["domain"];
    columns.extend(TRUTH_COLUMNS);
    let opts = FormatOptions::default();
    let mut out = BTreeMap::new();
    for_each_batch(files, &columns, |b| {
        let mut fmts = Vec::with_capacity(columns.len());
        let mut arrays = Vec::with_capacity(columns.len());
        for c in &columns {
            let a = b.column_by_name(c).ok_or_else(|| DatasetError::BadColumn {
                column: (*c).to_owned(),
                expected: "present",
            })?;
            fmts.push(ArrayFormatter::try_new(a.as_ref(), &opts)?);
            arrays.push(a);
        }
        for i in 0..b.num_rows() {
            let mut values = fmts.iter().zip(&arrays).map(|(f, a)| {
                if a.is_null(i) {
                    "null".to_owned()
                } else {
                    f.value(i).to_string()
                }
            });
            let Some(domain) = values.next() else {
                continue;
            };
            out.insert(domain, values.collect());
        }
        Ok(())
    })?;
    Ok(out)
}

fn list_items(s: &str) -> BTreeSet<&str> {
    s.trim_matches(|c| c == '[' || c == ']')
        .split(", ")
        .filter(|x| !x.is_empty() && *x != "null")
        .collect()
}

/// Compares the `domains` rows in `domain_files` with the truth table `truth`.
pub fn compare_with_truth(
    truth: &Path,
    domain_files: &[PathBuf],
) -> Result<TruthComparison, DatasetError> {
    let want = text_rows(&[truth.to_owned()])?;
    let got = text_rows(domain_files)?;
    let mut cmp = TruthComparison {
        unexpected: got.keys().filter(|d| !want.contains_key(*d)).count() as u64,
        ..TruthComparison::default()
    };
    for (domain, t) in &want {
        let Some(g) = got.get(domain) else {
            cmp.missing += 1;
            continue;
        };
        cmp.compared += 1;
        for ((col, tv), gv) in TRUTH_COLUMNS.iter().zip(t).zip(g) {
            let differs = if *col == "error_classes" {
                !list_items(tv).is_subset(&list_items(gv))
            } else {
                tv != gv
            };
            if differs {
                *cmp.disagreements.entry((*col).to_owned()).or_default() += 1;
                let ex = cmp.examples.entry((*col).to_owned()).or_default();
                if ex.len() < 3 {
                    ex.push(format!("{domain}: truth {tv} crawl {gv}"));
                }
            }
        }
    }
    Ok(cmp)
}

/// The `*.parquet` files of `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "parquet"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
