//! Finding a snapshot's committed files on disk, read-only.
//!
//! A snapshot is `OUT/snapshot=<id>/shard=<i>/...` (see datasets/CARD.md). The path given
//! on the command line may be the `snapshot=<id>` directory, one `shard=<i>` directory, or
//! `OUT` itself when it holds exactly one snapshot. Only part files of committed segments
//! (those with a `_segments/NNNNNN.json` marker) are read: a crawl killed mid-segment
//! leaves files that `--resume` will discard, and a report must not count them.

use std::path::{Path, PathBuf};

use mxcensus_dataset::manifest::{MANIFEST_FILE, Manifest};
use mxcensus_dataset::segment::{SEGMENTS_DIR, SegmentMarker};

/// Why a snapshot could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A directory or file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The path holds no `shard=<i>` directory and is not one.
    #[error("{0}: not a snapshot (expected snapshot=<id>/shard=<i>/ directories)")]
    NotASnapshot(PathBuf),
    /// `OUT` holds several snapshots; the caller must name one.
    #[error("{path} holds {count} snapshots ({names}); name one snapshot=<id> directory")]
    SeveralSnapshots {
        /// The directory.
        path: PathBuf,
        /// How many `snapshot=` directories it holds.
        count: usize,
        /// Their names, comma-separated.
        names: String,
    },
    /// A segment marker is not valid JSON of the expected shape.
    #[error("{path}: bad segment marker: {source}")]
    BadMarker {
        /// The marker file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A committed segment's part file is missing.
    #[error("{0} is listed as committed but missing")]
    MissingPart(PathBuf),
    /// A manifest could not be read.
    #[error(transparent)]
    Manifest(#[from] mxcensus_dataset::DatasetError),
}

/// One shard directory of a snapshot.
#[derive(Clone, Debug)]
pub struct Shard {
    /// The `shard=<i>` value.
    pub index: u32,
    /// The directory.
    pub dir: PathBuf,
    /// Its manifest; `None` when the crawl never wrote one (killed very early).
    pub manifest: Option<Manifest>,
    /// Committed segments, in order.
    pub segments: Vec<SegmentMarker>,
}

/// A snapshot: its shards, in index order.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The `snapshot=<id>` directory (or the shard's parent when opened on one shard).
    pub dir: PathBuf,
    /// The `snapshot=<id>` value, from the directory name or the first manifest.
    pub id: String,
    /// The shards found.
    pub shards: Vec<Shard>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Sub-directories of `dir` whose names start with `prefix`, as (value, path), sorted.
fn partitions(dir: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>, SnapshotError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(value) = name.strip_prefix(prefix)
            && entry.path().is_dir()
        {
            out.push((value.to_owned(), entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn open_shard(index: u32, dir: PathBuf) -> Result<Shard, SnapshotError> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = if manifest_path.exists() {
        Some(Manifest::read(&manifest_path)?)
    } else {
        None
    };
    let mut segments = Vec::new();
    let seg_dir = dir.join(SEGMENTS_DIR);
    if seg_dir.is_dir() {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(&seg_dir).map_err(io(&seg_dir))? {
            let path = entry.map_err(io(&seg_dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let text = std::fs::read(&path).map_err(io(&path))?;
            let marker: SegmentMarker = serde_json::from_slice(&text)
                .map_err(|source| SnapshotError::BadMarker { path, source })?;
            segments.push(marker);
        }
        segments.sort_by_key(|m| m.seq);
    }
    Ok(Shard {
        index,
        dir,
        manifest,
        segments,
    })
}

impl Snapshot {
    /// Opens the snapshot at `path` (a `snapshot=<id>` directory, a `shard=<i>` directory,
    /// or an output directory holding exactly one snapshot).
    pub fn open(path: &Path) -> Result<Snapshot, SnapshotError> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if let Some(value) = name.strip_prefix("shard=") {
            let index = value
                .parse()
                .map_err(|_| SnapshotError::NotASnapshot(path.to_owned()))?;
            let shard = open_shard(index, path.to_owned())?;
            let dir = path.parent().unwrap_or(path).to_owned();
            let id = snapshot_id(&dir, std::slice::from_ref(&shard));
            return Ok(Snapshot {
                dir,
                id,
                shards: vec![shard],
            });
        }
        let shard_dirs = partitions(path, "shard=")?;
        if shard_dirs.is_empty() {
            let snapshots = partitions(path, "snapshot=")?;
            return match snapshots.as_slice() {
                [] => Err(SnapshotError::NotASnapshot(path.to_owned())),
                [(_, one)] => Snapshot::open(one),
                many => Err(SnapshotError::SeveralSnapshots {
                    path: path.to_owned(),
                    count: many.len(),
                    names: many
                        .iter()
                        .map(|(v, _)| format!("snapshot={v}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            };
        }
        let mut shards = Vec::with_capacity(shard_dirs.len());
        for (value, dir) in shard_dirs {
            let Ok(index) = value.parse() else { continue };
            shards.push(open_shard(index, dir)?);
        }
        if shards.is_empty() {
            return Err(SnapshotError::NotASnapshot(path.to_owned()));
        }
        shards.sort_by_key(|s| s.index);
        let id = snapshot_id(path, &shards);
        Ok(Snapshot {
            dir: path.to_owned(),
            id,
            shards,
        })
    }

    /// Committed part files of `table` (`domains`, `mx`, `smtp`, `policies`,
    /// `input_errors`) over every shard, in shard then segment order.
    pub fn files(&self, table: &str) -> Result<Vec<PathBuf>, SnapshotError> {
        let mut out = Vec::new();
        for shard in &self.shards {
            for m in &shard.segments {
                if m.rows.get(table).is_some_and(|&n| n > 0) {
                    let path = shard
                        .dir
                        .join(table)
                        .join(format!("part-{:06}.parquet", m.seq));
                    if !path.exists() {
                        return Err(SnapshotError::MissingPart(path));
                    }
                    out.push(path);
                }
            }
        }
        Ok(out)
    }

    /// The manifests found, in shard order.
    pub fn manifests(&self) -> impl Iterator<Item = &Manifest> {
        self.shards.iter().filter_map(|s| s.manifest.as_ref())
    }

    /// Committed rows of `table` over every shard, from the segment markers.
    pub fn rows(&self, table: &str) -> u64 {
        self.shards
            .iter()
            .flat_map(|s| &s.segments)
            .filter_map(|m| m.rows.get(table))
            .sum()
    }
}

fn snapshot_id(dir: &Path, shards: &[Shard]) -> String {
    dir.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("snapshot="))
        .map(str::to_owned)
        .or_else(|| {
            shards
                .iter()
                .find_map(|s| s.manifest.as_ref().map(|m| m.snapshot.clone()))
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn marker(dir: &Path, seq: u64, domains: u64) {
        let seg = dir.join(SEGMENTS_DIR);
        std::fs::create_dir_all(&seg).unwrap();
        let m = SegmentMarker {
            seq,
            units: domains,
            rows: [("domains".to_owned(), domains)].into_iter().collect(),
        };
        std::fs::write(
            seg.join(format!("{seq:06}.json")),
            serde_json::to_vec(&m).unwrap(),
        )
        .unwrap();
        std::fs::create_dir_all(dir.join("domains")).unwrap();
        std::fs::write(dir.join(format!("domains/part-{seq:06}.parquet")), b"x").unwrap();
    }

    #[test]
    fn opens_output_snapshot_and_shard_dirs_and_skips_uncommitted_parts() {
        let tmp = tempfile::tempdir().unwrap();
        let snap = tmp.path().join("snapshot=s1");
        let s0 = snap.join("shard=0");
        let s1 = snap.join("shard=1");
        marker(&s0, 1, 5);
        marker(&s1, 1, 3);
        marker(&s1, 2, 4);
        // A part without a marker (crawl killed mid-segment) is not counted.
        std::fs::write(s1.join("domains/part-000003.parquet"), b"x").unwrap();
        for path in [tmp.path(), snap.as_path()] {
            let s = Snapshot::open(path).unwrap();
            assert_eq!(s.id, "s1");
            assert_eq!(s.shards.len(), 2);
            assert_eq!(s.files("domains").unwrap().len(), 3);
            assert_eq!(s.rows("domains"), 12);
            assert!(s.files("smtp").unwrap().is_empty());
        }
        let one = Snapshot::open(&s1).unwrap();
        assert_eq!(one.id, "s1");
        assert_eq!(one.rows("domains"), 7);
    }

    #[test]
    fn refuses_ambiguous_and_empty_paths() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(matches!(
            Snapshot::open(tmp.path()),
            Err(SnapshotError::NotASnapshot(_))
        ));
        marker(&tmp.path().join("snapshot=a/shard=0"), 1, 1);
        marker(&tmp.path().join("snapshot=b/shard=0"), 1, 1);
        let err = Snapshot::open(tmp.path()).unwrap_err();
        assert!(matches!(
            err,
            SnapshotError::SeveralSnapshots { count: 2, .. }
        ));
        assert!(err.to_string().contains("snapshot=a, snapshot=b"));
        assert!(matches!(
            Snapshot::open(&tmp.path().join("missing")),
            Err(SnapshotError::Io { .. })
        ));
    }

    #[test]
    fn a_committed_part_that_is_gone_is_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let s0 = tmp.path().join("snapshot=x/shard=0");
        marker(&s0, 1, 2);
        std::fs::remove_file(s0.join("domains/part-000001.parquet")).unwrap();
        let s = Snapshot::open(tmp.path()).unwrap();
        assert!(matches!(
            s.files("domains"),
            Err(SnapshotError::MissingPart(_))
        ));
    }
}
