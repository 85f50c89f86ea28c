//! Reading committed rows back: the `domain` set for `--resume`, columns for tests.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::DatasetError;

fn open(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>, DatasetError> {
    let file = File::open(path).map_err(|source| DatasetError::Io {
        path: path.to_owned(),
        source,
    })?;
    Ok(ParquetRecordBatchReaderBuilder::try_new(file)?)
}

/// Calls `f` with every batch of `files`, projected to `columns` (all when empty).
pub fn for_each_batch(
    files: &[PathBuf],
    columns: &[&str],
    mut f: impl FnMut(&RecordBatch) -> Result<(), DatasetError>,
) -> Result<(), DatasetError> {
    for path in files {
        let builder = open(path)?;
        let builder = if columns.is_empty() {
            builder
        } else {
            let schema = builder.parquet_schema();
            let mut indices = Vec::with_capacity(columns.len());
            for c in columns {
                let idx = builder
                    .schema()
                    .index_of(c)
                    .map_err(|_| DatasetError::BadColumn {
                        column: (*c).to_owned(),
                        expected: "present",
                    })?;
                indices.push(idx);
            }
            let mask = ProjectionMask::roots(schema, indices);
            builder.with_projection(mask)
        };
        for batch in builder.with_batch_size(8192).build()? {
            f(&batch?)?;
        }
    }
    Ok(())
}

/// Reads a non-null UTF-8 column (`domain`, say) from `files`, calling `f` per value.
pub fn for_each_string(
    files: &[PathBuf],
    column: &str,
    mut f: impl FnMut(&str),
) -> Result<(), DatasetError> {
    for_each_batch(files, &[column], |batch| {
        let col = batch
            .column_by_name(column)
            .ok_or_else(|| DatasetError::BadColumn {
                column: column.to_owned(),
                expected: "Utf8",
            })?;
        if col.data_type() != &DataType::Utf8 {
            return Err(DatasetError::BadColumn {
                column: column.to_owned(),
                expected: "Utf8",
            });
        }
        let strings = col.as_string::<i32>();
        for i in 0..strings.len() {
            if strings.is_valid(i) {
                f(strings.value(i));
            }
        }
        Ok(())
    })
}

/// Counts rows of `files` from their footers, without reading data.
pub fn count_rows(files: &[PathBuf]) -> Result<u64, DatasetError> {
    let mut n = 0u64;
    for path in files {
        let builder = open(path)?;
        n += builder.metadata().file_metadata().num_rows().max(0) as u64;
    }
    Ok(n)
}
