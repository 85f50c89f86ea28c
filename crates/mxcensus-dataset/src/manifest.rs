//! The snapshot manifest (`manifest.json` in each shard directory): everything a later
//! reader needs to know how the rows were made (DESIGN.md, principle 3).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::DatasetError;

/// Version of the table schemas; bumped whenever a headline column changes.
pub const SCHEMA_VERSION: u32 = 1;

/// File name of the manifest inside a shard directory.
pub const MANIFEST_FILE: &str = "manifest.json";

/// How the run ended (or that it is still going).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Written at start and refreshed as segments commit.
    Running,
    /// Every input domain has a row.
    Complete,
    /// Stopped early (signal, error); `--resume` can finish it.
    Interrupted,
}

/// The software that made the snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// `mxcensus`.
    pub name: String,
    /// Cargo package version.
    pub version: String,
    /// `git describe`/revision of the build, when known.
    pub git_revision: Option<String>,
}

/// The input list.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputInfo {
    /// Path as given (`-` for standard input).
    pub path: String,
    /// SHA-256 of the input bytes, hex.
    pub sha256: Option<String>,
    /// Lines read.
    pub lines: u64,
    /// Domains accepted (after normalisation and de-duplication), in this shard.
    pub domains: u64,
    /// Lines rejected (rows of `input_errors`).
    pub input_errors: u64,
}

/// One DNSSEC canary check made before the run (SPEC §G step 6).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    /// The name queried.
    pub name: String,
    /// What a validating resolver must answer (`secure`, `bogus`).
    pub expected: String,
    /// What was observed (`ad`, `no_ad`, `servfail`, `timeout`, ...).
    pub observed: String,
    /// Whether the observation matches the expectation.
    pub ok: bool,
}

/// The resolver set-up and whether DNSSEC verdicts can be trusted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolverInfo {
    /// Resolver addresses queried.
    pub addresses: Vec<String>,
    /// True when every canary passed; DNSSEC columns are `unknown` otherwise.
    pub validating: bool,
    /// The canary checks.
    pub canaries: Vec<Canary>,
}

/// One shard's manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`SCHEMA_VERSION`] at write time.
    pub schema_version: u32,
    /// The software.
    pub tool: ToolInfo,
    /// Snapshot identifier (the `snapshot=` partition value).
    pub snapshot: String,
    /// This shard's index.
    pub shard_index: u32,
    /// Number of shards in the snapshot.
    pub shard_count: u32,
    /// RFC 3339 UTC time the run (first attempt) started.
    pub started_at: String,
    /// RFC 3339 UTC time the run finished, when it did.
    pub finished_at: Option<String>,
    /// How the run stands.
    pub status: RunStatus,
    /// How many times the run was resumed.
    pub resumed: u32,
    /// The full effective configuration.
    pub config: serde_json::Value,
    /// The input.
    pub input: InputInfo,
    /// The resolver and its canaries.
    pub resolver: ResolverInfo,
    /// Per headline column, counts of each value (`{"sts_txt": {"valid": 12, ...}}`).
    pub counts: BTreeMap<String, BTreeMap<String, u64>>,
}

impl Manifest {
    /// Writes the manifest to `path` atomically (temporary file, sync, rename).
    pub fn write_atomic(&self, path: &Path) -> Result<(), DatasetError> {
        let io = |source| DatasetError::Io {
            path: path.to_owned(),
            source,
        };
        let text = serde_json::to_vec_pretty(self).map_err(|source| DatasetError::BadMarker {
            path: path.to_owned(),
            source,
        })?;
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        {
            let mut f = File::create(&tmp).map_err(io)?;
            f.write_all(&text).map_err(io)?;
            f.write_all(b"\n").map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// Reads a manifest written by [`Manifest::write_atomic`].
    pub fn read(path: &Path) -> Result<Manifest, DatasetError> {
        let text = std::fs::read_to_string(path).map_err(|source| DatasetError::Io {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| DatasetError::BadMarker {
            path: path.to_owned(),
            source,
        })
    }
}
