//! Crash-safety of segmented writing: whatever the crash point, a reopened shard holds
//! exactly the units of committed segments, once each.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use mxcensus_dataset::read::{count_rows, for_each_string};
use mxcensus_dataset::segment::{ShardWriter, ShardWriterConfig, TableSpec};
use mxcensus_dataset::{DatasetError, manifest};
use proptest::prelude::*;

fn domains_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("domain", DataType::Utf8, false),
        Field::new("rank", DataType::Int64, true),
    ]))
}

fn mx_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("domain", DataType::Utf8, false),
        Field::new("mx", DataType::Utf8, false),
    ]))
}

fn config(dir: &std::path::Path, units_per_segment: usize) -> ShardWriterConfig {
    let mut cfg = ShardWriterConfig::new(
        dir,
        vec![
            TableSpec {
                name: "domains",
                schema: domains_schema(),
            },
            TableSpec {
                name: "mx",
                schema: mx_schema(),
            },
        ],
    );
    cfg.units_per_segment = units_per_segment;
    cfg.row_group_rows = 3;
    cfg
}

/// Writes one domain's rows: one `domains` row and `mx_count` `mx` rows.
fn write_unit(w: &mut ShardWriter, domain: &str, mx_count: usize) -> Result<(), DatasetError> {
    let d = RecordBatch::try_new(
        domains_schema(),
        vec![
            Arc::new(StringArray::from(vec![domain])),
            Arc::new(Int64Array::from(vec![Some(1)])),
        ],
    )?;
    w.write("domains", &d)?;
    if mx_count > 0 {
        let names: Vec<String> = (0..mx_count).map(|i| format!("mx{i}.{domain}")).collect();
        let m = RecordBatch::try_new(
            mx_schema(),
            vec![
                Arc::new(StringArray::from(vec![domain; mx_count])),
                Arc::new(StringArray::from(names)),
            ],
        )?;
        w.write("mx", &m)?;
    }
    w.end_unit()?;
    Ok(())
}

fn committed_domains(dir: &std::path::Path) -> (Vec<String>, u64) {
    let (w, rec) = ShardWriter::open(config(dir, 1000)).expect("reopen");
    drop(w);
    let mut domains = Vec::new();
    for_each_string(&rec.table_files(dir, "domains"), "domain", |d| {
        domains.push(d.to_owned())
    })
    .expect("read domains");
    let mx_rows = count_rows(&rec.table_files(dir, "mx")).expect("count mx");
    (domains, mx_rows)
}

#[test]
fn kill_loses_only_the_open_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut w, rec) = ShardWriter::open(config(dir.path(), 2)).expect("open");
    assert!(rec.committed.is_empty());
    for (i, d) in ["a.com", "b.com", "c.com"].iter().enumerate() {
        write_unit(&mut w, d, i).expect("write");
    }
    // Simulated kill: the writer is dropped without commit; c.com sits in .tmp files.
    drop(w);
    let tmp_count = std::fs::read_dir(dir.path().join("domains"))
        .expect("ls")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        })
        .count();
    assert_eq!(tmp_count, 1);

    let (w, rec) = ShardWriter::open(config(dir.path(), 2)).expect("reopen");
    assert_eq!(rec.committed.len(), 1);
    assert_eq!(rec.committed[0].units, 2);
    assert!(!rec.discarded.is_empty(), "the .tmp files must be removed");
    drop(w);
    let (domains, mx_rows) = committed_domains(dir.path());
    assert_eq!(domains, ["a.com", "b.com"]);
    assert_eq!(mx_rows, 1);
}

#[test]
fn renamed_part_without_marker_is_discarded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut w, _) = ShardWriter::open(config(dir.path(), 1)).expect("open");
    write_unit(&mut w, "a.com", 1).expect("write");
    drop(w);
    // A crash after the rename but before the marker leaves a final-named part alone.
    std::fs::copy(
        dir.path().join("domains/part-000001.parquet"),
        dir.path().join("domains/part-000002.parquet"),
    )
    .expect("copy");
    let (domains, _) = committed_domains(dir.path());
    assert_eq!(domains, ["a.com"]);
    assert!(!dir.path().join("domains/part-000002.parquet").exists());
}

#[test]
fn resume_continues_numbering_and_manifest_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut w, _) = ShardWriter::open(config(dir.path(), 1)).expect("open");
    write_unit(&mut w, "a.com", 0).expect("write");
    let markers = w.finish().expect("finish");
    assert_eq!(markers.len(), 1);
    let (mut w, rec) = ShardWriter::open(config(dir.path(), 1)).expect("reopen");
    assert_eq!(rec.committed.len(), 1);
    write_unit(&mut w, "b.com", 2).expect("write");
    let markers = w.finish().expect("finish");
    assert_eq!(markers.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2]);
    assert!(dir.path().join("mx/part-000002.parquet").exists());
    assert!(
        !dir.path().join("mx/part-000001.parquet").exists(),
        "no empty files"
    );

    let m = manifest::Manifest {
        schema_version: manifest::SCHEMA_VERSION,
        tool: manifest::ToolInfo {
            name: "mxcensus".into(),
            version: "0.1.0".into(),
            git_revision: None,
        },
        snapshot: "2026-11-29".into(),
        shard_index: 0,
        shard_count: 1,
        started_at: "2026-11-29T00:00:00Z".into(),
        finished_at: None,
        status: manifest::RunStatus::Running,
        resumed: 1,
        config: serde_json::json!({"concurrency": 10}),
        input: manifest::InputInfo::default(),
        resolver: manifest::ResolverInfo::default(),
        counts: Default::default(),
    };
    let path = dir.path().join(manifest::MANIFEST_FILE);
    m.write_atomic(&path).expect("write manifest");
    assert_eq!(manifest::Manifest::read(&path).expect("read manifest"), m);
}

#[test]
fn wrong_table_or_schema_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut w, _) = ShardWriter::open(config(dir.path(), 1)).expect("open");
    let batch = RecordBatch::try_new(
        mx_schema(),
        vec![
            Arc::new(StringArray::from(vec!["a"])),
            Arc::new(StringArray::from(vec!["b"])),
        ],
    )
    .expect("batch");
    assert!(matches!(
        w.write("domains", &batch),
        Err(DatasetError::SchemaMismatch { .. })
    ));
    assert!(matches!(
        w.write("nope", &batch),
        Err(DatasetError::UnknownTable(_))
    ));
}

#[derive(Clone, Debug)]
enum Op {
    Unit(usize),
    Commit,
    Crash,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0usize..3).prop_map(Op::Unit),
        1 => Just(Op::Commit),
        1 => Just(Op::Crash),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn committed_units_survive_any_crash(ops in proptest::collection::vec(op(), 1..30), per in 1usize..5) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut w, _) = ShardWriter::open(config(dir.path(), per)).expect("open");
        let mut pending: Vec<String> = Vec::new();
        let mut durable: BTreeSet<String> = BTreeSet::new();
        let mut expected_mx = 0u64;
        let mut pending_mx = 0u64;
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Unit(k) => {
                    let d = format!("d{i}.com");
                    let before = w.committed().len();
                    write_unit(&mut w, &d, *k).expect("write");
                    pending.push(d);
                    pending_mx += *k as u64;
                    // end_unit commits when the segment is full.
                    if w.committed().len() > before {
                        durable.extend(pending.drain(..));
                        expected_mx += pending_mx;
                        pending_mx = 0;
                    }
                }
                Op::Commit => {
                    if w.commit().expect("commit").is_some() {
                        durable.extend(pending.drain(..));
                        expected_mx += pending_mx;
                        pending_mx = 0;
                    }
                }
                Op::Crash => {
                    drop(w);
                    pending.clear();
                    pending_mx = 0;
                    w = ShardWriter::open(config(dir.path(), per)).expect("reopen").0;
                }
            }
        }
        drop(w);
        let (domains, mx_rows) = committed_domains(dir.path());
        let set: BTreeSet<String> = domains.iter().cloned().collect();
        prop_assert_eq!(set.len(), domains.len(), "duplicated rows");
        prop_assert_eq!(set, durable);
        prop_assert_eq!(mx_rows, expected_mx);
    }
}
