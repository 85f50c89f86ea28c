//! # mxcensus-dataset: the Parquet datasets
//!
//! Owns how snapshots are laid out and written: Hive-partitioned directories
//! (`OUT/snapshot=<id>/shard=<i>/<table>/part-NNNNNN.parquet`), zstd-compressed Parquet
//! written in row groups as the crawl goes, crash-safe segments that `--resume` can trust
//! ([`segment`]), reading committed rows back ([`read`]), and the snapshot manifest
//! ([`manifest`]).
//!
//! It must not probe, classify or schedule: it receives Arrow record batches and stores
//! them. Memory is bounded by the open row groups, never by the size of the snapshot.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod manifest;
pub mod read;
pub mod segment;
pub mod tables;

use std::path::PathBuf;

/// Everything that can go wrong while writing or reading a dataset.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DatasetError {
    /// A file-system operation failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Parquet encoding or decoding failed.
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Arrow rejected a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A segment marker or manifest is not valid JSON of the expected shape.
    #[error("{path}: not a valid marker or manifest: {source}")]
    BadMarker {
        /// The file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A committed segment names a part file that is gone: the shard was tampered with.
    #[error("{path} is listed as committed but missing")]
    MissingPart {
        /// The missing file.
        path: PathBuf,
    },
    /// A batch was written to a table the shard does not declare.
    #[error("unknown table {0:?}")]
    UnknownTable(String),
    /// A batch's schema differs from its table's schema.
    #[error("batch schema does not match table {table:?}")]
    SchemaMismatch {
        /// The table.
        table: String,
    },
    /// A column asked for is missing or has another type.
    #[error("column {column:?} missing or not of type {expected}")]
    BadColumn {
        /// The column.
        column: String,
        /// The type expected.
        expected: &'static str,
    },
    /// Invalid writer configuration.
    #[error("invalid configuration: {0}")]
    Config(&'static str),
    /// An internal invariant failed; a bug, reported instead of a panic.
    #[error("internal error: {0}")]
    Internal(&'static str),
}
