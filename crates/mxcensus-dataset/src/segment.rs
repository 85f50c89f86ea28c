//! Crash-safe, segmented Parquet writing for one shard of a snapshot.
//!
//! A shard directory holds one sub-directory per table and a `_segments/` directory of
//! commit markers:
//!
//! ```text
//! shard=0/
//!   domains/part-000001.parquet
//!   mx/part-000001.parquet
//!   _segments/000001.json      <- written last: segment 1 is complete
//! ```
//!
//! Rows are written to `part-NNNNNN.parquet.tmp` files. A segment is committed by closing
//! every table's file, syncing it, renaming it to its final name, and only then writing the
//! marker (itself via a temporary name and a rename). A segment without a marker is not
//! trusted: [`ShardWriter::open`] deletes its files, so a kill at any moment loses at most
//! the rows of the open segment, and never leaves half a domain behind, provided the
//! caller only rotates between units ([`ShardWriter::end_unit`]). Readers glob
//! `*/*.parquet` and so never see temporary files.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use serde::{Deserialize, Serialize};

use crate::DatasetError;

/// Directory of commit markers inside a shard directory.
pub const SEGMENTS_DIR: &str = "_segments";

/// A table of the dataset: its directory name and Arrow schema.
#[derive(Clone, Debug)]
pub struct TableSpec {
    /// Directory name, also the table name in queries (`domains`, `mx`, ...).
    pub name: &'static str,
    /// The schema every batch written to this table must have.
    pub schema: SchemaRef,
}

/// How a shard is written.
#[derive(Clone, Debug)]
pub struct ShardWriterConfig {
    /// `OUT/snapshot=<id>/shard=<i>`; created if missing.
    pub shard_dir: PathBuf,
    /// Every table the shard may hold.
    pub tables: Vec<TableSpec>,
    /// Units (domains) per segment before rotation.
    pub units_per_segment: usize,
    /// Rows per Parquet row group (bounds writer memory).
    pub row_group_rows: usize,
    /// Zstd level (1-22).
    pub zstd_level: i32,
    /// `created_by` written into every file footer (tool and version).
    pub created_by: String,
}

impl ShardWriterConfig {
    /// Defaults suitable for a crawl: 50k domains a segment, 8k-row groups, zstd 3.
    pub fn new(shard_dir: impl Into<PathBuf>, tables: Vec<TableSpec>) -> Self {
        ShardWriterConfig {
            shard_dir: shard_dir.into(),
            tables,
            units_per_segment: 50_000,
            row_group_rows: 8192,
            zstd_level: 3,
            created_by: concat!("mxcensus ", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }
}

/// The commit marker of one segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentMarker {
    /// Segment number (1-based, in file names as six digits).
    pub seq: u64,
    /// Units (domains) completed in the segment.
    pub units: u64,
    /// Rows per table; tables with no rows have no file.
    pub rows: BTreeMap<String, u64>,
}

/// What [`ShardWriter::open`] found in an existing shard directory.
#[derive(Clone, Debug, Default)]
pub struct Recovery {
    /// Committed segments, in order; their rows are final.
    pub committed: Vec<SegmentMarker>,
    /// Files of uncommitted segments that were deleted.
    pub discarded: Vec<PathBuf>,
}

impl Recovery {
    /// Final part files of `table` in committed segments, in segment order.
    pub fn table_files(&self, shard_dir: &Path, table: &str) -> Vec<PathBuf> {
        self.committed
            .iter()
            .filter(|m| m.rows.get(table).is_some_and(|&n| n > 0))
            .map(|m| part_path(shard_dir, table, m.seq))
            .collect()
    }
}

struct OpenSegment {
    seq: u64,
    units: u64,
    writers: BTreeMap<&'static str, (ArrowWriter<File>, u64)>,
}

/// Writes one shard as a sequence of committed segments.
pub struct ShardWriter {
    cfg: ShardWriterConfig,
    props: WriterProperties,
    next_seq: u64,
    open: Option<OpenSegment>,
    committed: Vec<SegmentMarker>,
}

fn part_path(shard_dir: &Path, table: &str, seq: u64) -> PathBuf {
    shard_dir.join(table).join(format!("part-{seq:06}.parquet"))
}

fn tmp_path(final_path: &Path) -> PathBuf {
    let mut s = final_path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

fn marker_path(shard_dir: &Path, seq: u64) -> PathBuf {
    shard_dir.join(SEGMENTS_DIR).join(format!("{seq:06}.json"))
}

/// Parses `part-000012.parquet` (or its `.tmp`) into 12.
fn seq_of_file(name: &str) -> Option<u64> {
    let rest = name.strip_prefix("part-")?;
    let digits = rest
        .strip_suffix(".parquet.tmp")
        .or_else(|| rest.strip_suffix(".parquet"))?;
    if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Syncs a directory so renames inside it survive a power loss.
fn sync_dir(dir: &Path) -> Result<(), DatasetError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

impl ShardWriter {
    /// Opens (or creates) a shard directory, keeps committed segments, deletes the files
    /// of any segment that was not committed, and positions the writer after the last
    /// committed segment.
    pub fn open(cfg: ShardWriterConfig) -> Result<(ShardWriter, Recovery), DatasetError> {
        if cfg.units_per_segment == 0 || cfg.row_group_rows == 0 {
            return Err(DatasetError::Config(
                "units_per_segment and row_group_rows must be positive",
            ));
        }
        let level = ZstdLevel::try_new(cfg.zstd_level)
            .map_err(|_| DatasetError::Config("zstd level must be between 1 and 22"))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_max_row_group_row_count(Some(cfg.row_group_rows))
            .set_created_by(cfg.created_by.clone())
            .build();

        let shard_dir = cfg.shard_dir.clone();
        let segments_dir = shard_dir.join(SEGMENTS_DIR);
        fs::create_dir_all(&segments_dir).map_err(io_err(&segments_dir))?;
        for t in &cfg.tables {
            let d = shard_dir.join(t.name);
            fs::create_dir_all(&d).map_err(io_err(&d))?;
        }

        let mut recovery = Recovery::default();
        for entry in fs::read_dir(&segments_dir).map_err(io_err(&segments_dir))? {
            let entry = entry.map_err(io_err(&segments_dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                fs::remove_file(&path).map_err(io_err(&path))?;
                recovery.discarded.push(path);
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            let text = fs::read_to_string(&path).map_err(io_err(&path))?;
            let marker: SegmentMarker =
                serde_json::from_str(&text).map_err(|source| DatasetError::BadMarker {
                    path: path.clone(),
                    source,
                })?;
            recovery.committed.push(marker);
        }
        recovery.committed.sort_by_key(|m| m.seq);
        let committed_seqs: std::collections::HashSet<u64> =
            recovery.committed.iter().map(|m| m.seq).collect();

        // Committed markers must find their files; anything else is debris of a segment
        // that never committed.
        for m in &recovery.committed {
            for (table, &rows) in &m.rows {
                let p = part_path(&shard_dir, table, m.seq);
                if rows > 0 && !p.exists() {
                    return Err(DatasetError::MissingPart { path: p });
                }
            }
        }
        for t in &cfg.tables {
            let d = shard_dir.join(t.name);
            for entry in fs::read_dir(&d).map_err(io_err(&d))? {
                let entry = entry.map_err(io_err(&d))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let keep = !name.ends_with(".tmp")
                    && seq_of_file(&name).is_some_and(|s| committed_seqs.contains(&s));
                if !keep && seq_of_file(&name).is_some() {
                    let p = entry.path();
                    fs::remove_file(&p).map_err(io_err(&p))?;
                    recovery.discarded.push(p);
                }
            }
        }

        let next_seq = recovery.committed.last().map_or(1, |m| m.seq + 1);
        let writer = ShardWriter {
            cfg,
            props,
            next_seq,
            open: None,
            committed: recovery.committed.clone(),
        };
        Ok((writer, recovery))
    }

    /// The shard directory.
    pub fn shard_dir(&self) -> &Path {
        &self.cfg.shard_dir
    }

    /// Markers of every segment committed so far (recovered ones included).
    pub fn committed(&self) -> &[SegmentMarker] {
        &self.committed
    }

    fn spec(&self, table: &str) -> Result<&TableSpec, DatasetError> {
        self.cfg
            .tables
            .iter()
            .find(|t| t.name == table)
            .ok_or_else(|| DatasetError::UnknownTable(table.to_owned()))
    }

    /// Appends a batch to `table` in the open segment (opening one if needed).
    pub fn write(&mut self, table: &str, batch: &RecordBatch) -> Result<(), DatasetError> {
        let spec = self.spec(table)?.clone();
        if batch.schema() != spec.schema {
            return Err(DatasetError::SchemaMismatch {
                table: spec.name.to_owned(),
            });
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.open.is_none() {
            self.open = Some(OpenSegment {
                seq: self.next_seq,
                units: 0,
                writers: BTreeMap::new(),
            });
            self.next_seq += 1;
        }
        let shard_dir = self.cfg.shard_dir.clone();
        let props = self.props.clone();
        let seg = self
            .open
            .as_mut()
            .ok_or(DatasetError::Internal("no open segment"))?;
        if !seg.writers.contains_key(spec.name) {
            let path = tmp_path(&part_path(&shard_dir, spec.name, seg.seq));
            let file = File::create(&path).map_err(io_err(&path))?;
            let w = ArrowWriter::try_new(file, Arc::clone(&spec.schema), Some(props))?;
            seg.writers.insert(spec.name, (w, 0));
        }
        let (w, rows) = seg
            .writers
            .get_mut(spec.name)
            .ok_or(DatasetError::Internal("writer vanished"))?;
        w.write(batch)?;
        *rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Marks the end of one unit (a domain with all its rows). Commits the segment when it
    /// holds `units_per_segment` units; returns the marker when it did.
    pub fn end_unit(&mut self) -> Result<Option<SegmentMarker>, DatasetError> {
        let full = match self.open.as_mut() {
            Some(seg) => {
                seg.units += 1;
                seg.units >= self.cfg.units_per_segment as u64
            }
            None => {
                // A unit with no rows at all still counts; open an empty segment.
                self.open = Some(OpenSegment {
                    seq: self.next_seq,
                    units: 1,
                    writers: BTreeMap::new(),
                });
                self.next_seq += 1;
                self.cfg.units_per_segment == 1
            }
        };
        if full { self.commit() } else { Ok(None) }
    }

    /// Commits the open segment now (e.g. on a timer or at shutdown). Returns its marker,
    /// or `None` when no segment was open.
    pub fn commit(&mut self) -> Result<Option<SegmentMarker>, DatasetError> {
        let Some(seg) = self.open.take() else {
            return Ok(None);
        };
        let shard_dir = self.cfg.shard_dir.clone();
        let mut rows = BTreeMap::new();
        let mut renamed_dirs = Vec::new();
        for (table, (writer, n)) in seg.writers {
            let file = writer.into_inner()?;
            let final_path = part_path(&shard_dir, table, seg.seq);
            let tmp = tmp_path(&final_path);
            file.sync_all().map_err(io_err(&tmp))?;
            drop(file);
            fs::rename(&tmp, &final_path).map_err(io_err(&final_path))?;
            renamed_dirs.push(shard_dir.join(table));
            rows.insert(table.to_owned(), n);
        }
        for d in &renamed_dirs {
            sync_dir(d)?;
        }
        let marker = SegmentMarker {
            seq: seg.seq,
            units: seg.units,
            rows,
        };
        let path = marker_path(&shard_dir, seg.seq);
        let tmp = tmp_path(&path);
        let text =
            serde_json::to_vec_pretty(&marker).map_err(|source| DatasetError::BadMarker {
                path: path.clone(),
                source,
            })?;
        {
            let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
            f.write_all(&text).map_err(io_err(&tmp))?;
            f.sync_all().map_err(io_err(&tmp))?;
        }
        fs::rename(&tmp, &path).map_err(io_err(&path))?;
        sync_dir(&shard_dir.join(SEGMENTS_DIR))?;
        self.committed.push(marker.clone());
        Ok(Some(marker))
    }

    /// Commits what is open and returns every committed marker.
    pub fn finish(mut self) -> Result<Vec<SegmentMarker>, DatasetError> {
        self.commit()?;
        Ok(self.committed)
    }
}
