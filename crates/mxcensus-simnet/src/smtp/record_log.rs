//! A bounded in-memory log of records that is also appended, one JSON object a line, to a
//! file, so a test running the crawler as another process can read what the servers saw.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;

/// What [`RecordLog::snapshot`] returns.
pub(crate) struct Snapshot<T> {
    pub(crate) records: Vec<T>,
    pub(crate) total: u64,
    pub(crate) evicted: u64,
    pub(crate) file_errors: u64,
}

pub(crate) struct RecordLog<T> {
    inner: Mutex<Inner<T>>,
}

struct Inner<T> {
    records: VecDeque<T>,
    capacity: usize,
    total: u64,
    evicted: u64,
    file: Option<BufWriter<File>>,
    file_errors: u64,
}

impl<T: Serialize + Clone> RecordLog<T> {
    /// Keeps the newest `capacity` records in memory; appends every record to `path` if given.
    pub(crate) fn new(capacity: usize, path: Option<&Path>) -> io::Result<Self> {
        let file = match path {
            Some(path) => Some(BufWriter::new(
                OpenOptions::new().create(true).append(true).open(path)?,
            )),
            None => None,
        };
        Ok(Self {
            inner: Mutex::new(Inner {
                records: VecDeque::new(),
                capacity,
                total: 0,
                evicted: 0,
                file,
                file_errors: 0,
            }),
        })
    }

    pub(crate) fn push(&self, record: T) {
        let mut inner = self.lock();
        if let Some(file) = inner.file.as_mut() {
            // Flushed per record so a reader in another process sees complete lines.
            let written = serde_json::to_writer(&mut *file, &record)
                .map_err(io::Error::from)
                .and_then(|()| file.write_all(b"\n"))
                .and_then(|()| file.flush());
            if written.is_err() {
                inner.file_errors += 1;
            }
        }
        inner.total += 1;
        if inner.capacity == 0 {
            inner.evicted += 1;
            return;
        }
        if inner.records.len() >= inner.capacity {
            inner.records.pop_front();
            inner.evicted += 1;
        }
        inner.records.push_back(record);
    }

    pub(crate) fn snapshot(&self) -> Snapshot<T> {
        let inner = self.lock();
        Snapshot {
            records: inner.records.iter().cloned().collect(),
            total: inner.total,
            evicted: inner.evicted,
            file_errors: inner.file_errors,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner<T>> {
        // Each update is a few plain field writes; a poisoned lock leaves nothing half-done
        // that matters for a log.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_newest_and_writes_every_line() {
        let dir = std::env::temp_dir().join(format!("simnet-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("log.jsonl");
        let _ = std::fs::remove_file(&path);
        let log = RecordLog::new(2, Some(&path)).unwrap();
        for i in 0..3u32 {
            log.push(i);
        }
        let snap = log.snapshot();
        assert_eq!(snap.records, vec![1, 2]);
        assert_eq!((snap.total, snap.evicted, snap.file_errors), (3, 1, 0));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "0\n1\n2\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
