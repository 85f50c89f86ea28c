//! Typed access to the columns of a record batch, with errors instead of panics: the
//! Parquet files come from disk and may be of another schema version or damaged.

use arrow::array::{Array, AsArray, BooleanArray, Int64Array, ListArray, StringArray};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use mxcensus_dataset::DatasetError;

fn bad(column: &str, expected: &'static str) -> DatasetError {
    DatasetError::BadColumn {
        column: column.to_owned(),
        expected,
    }
}

/// A UTF-8 column.
pub(crate) fn strings<'a>(
    batch: &'a RecordBatch,
    column: &str,
) -> Result<&'a StringArray, DatasetError> {
    let col = batch
        .column_by_name(column)
        .ok_or_else(|| bad(column, "Utf8"))?;
    if col.data_type() != &DataType::Utf8 {
        return Err(bad(column, "Utf8"));
    }
    Ok(col.as_string::<i32>())
}

/// A list-of-UTF-8 column: the list array and its flattened values.
pub(crate) fn string_lists<'a>(
    batch: &'a RecordBatch,
    column: &str,
) -> Result<StringLists<'a>, DatasetError> {
    let col = batch
        .column_by_name(column)
        .ok_or_else(|| bad(column, "List<Utf8>"))?;
    let list = col
        .as_list_opt::<i32>()
        .ok_or_else(|| bad(column, "List<Utf8>"))?;
    if list.values().data_type() != &DataType::Utf8 {
        return Err(bad(column, "List<Utf8>"));
    }
    Ok(StringLists {
        list,
        values: list.values().as_string::<i32>(),
    })
}

/// A boolean column.
pub(crate) fn bools<'a>(
    batch: &'a RecordBatch,
    column: &str,
) -> Result<&'a BooleanArray, DatasetError> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_boolean_opt())
        .ok_or_else(|| bad(column, "Boolean"))
}

/// An Int64 column.
pub(crate) fn int64s<'a>(
    batch: &'a RecordBatch,
    column: &str,
) -> Result<&'a Int64Array, DatasetError> {
    batch
        .column_by_name(column)
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::Int64Type>())
        .ok_or_else(|| bad(column, "Int64"))
}

/// The value of row `i` of a string column, `None` when null.
pub(crate) fn str_at(a: &StringArray, i: usize) -> Option<&str> {
    (i < a.len() && a.is_valid(i)).then(|| a.value(i))
}

/// The value of row `i` of a boolean column; null reads as false.
pub(crate) fn bool_at(a: &BooleanArray, i: usize) -> bool {
    i < a.len() && a.is_valid(i) && a.value(i)
}

/// The value of row `i` of an Int64 column, `None` when null.
pub(crate) fn i64_at(a: &Int64Array, i: usize) -> Option<i64> {
    (i < a.len() && a.is_valid(i)).then(|| a.value(i))
}

/// A list-of-strings column, read without allocating per row.
pub(crate) struct StringLists<'a> {
    list: &'a ListArray,
    values: &'a StringArray,
}

impl<'a> StringLists<'a> {
    /// The strings of row `i` (none when the row is null or out of range).
    pub(crate) fn row(&self, i: usize) -> impl Iterator<Item = &'a str> + use<'a> {
        let offsets = self.list.value_offsets();
        let valid = i < self.list.len() && self.list.is_valid(i);
        let (start, end) = if valid {
            match (offsets.get(i), offsets.get(i + 1)) {
                (Some(&s), Some(&e)) => (s.max(0) as usize, e.max(0) as usize),
                _ => (0, 0),
            }
        } else {
            (0, 0)
        };
        let values = self.values;
        (start..end.min(values.len())).filter_map(move |j| str_at(values, j))
    }
}
