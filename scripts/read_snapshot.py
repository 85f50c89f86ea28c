#!/usr/bin/env python3
"""Read an mxcensus snapshot directory with pyarrow and with DuckDB, as it is on disk.

    scripts/read_snapshot.py OUT [--json]

OUT is the crawl's --out directory (OUT/snapshot=<id>/shard=<i>/<table>/*.parquet).
Both readers use Hive partitioning, so `snapshot` and `shard` come back as columns.
Prints the rows per table and the value counts of the headline columns, and checks:

  * pyarrow.dataset and DuckDB read the same number of rows per table, the same
    (snapshot, shard) partitions and the same headline value counts;
  * and, as warnings (resumed runs may legitimately differ): those counts equal the
    `counts` of the manifests (sum over shards), and every `complete` manifest has as
    many domains + input_errors rows as input lines it accepted and rejected.

Exit status: 0 when the two readers agree, 1 on any mismatch between them, 2 on usage
errors (missing modules, no snapshot).
"""

import argparse
import collections
import glob
import json
import os
import sys

TABLES = ["domains", "mx", "smtp", "policies", "input_errors"]
HEADLINE = [
    "mx_status",
    "sts_txt",
    "sts_policy",
    "sts_mode",
    "sts_mx_valid",
    "starttls",
    "tlsrpt",
    "dnssec",
    "dane",
]


def table_files(out, table):
    return sorted(glob.glob(os.path.join(out, "*", "*", table, "*.parquet")))


def key(v):
    return "null" if v is None else str(v)


def read_pyarrow(out):
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    rows, parts, counts = {}, set(), {}
    for table in TABLES:
        files = table_files(out, table)
        if not files:
            rows[table] = 0
            continue
        dset = ds.dataset(
            files,
            format="parquet",
            partitioning=ds.partitioning(flavor="hive"),
            partition_base_dir=out,
        )
        rows[table] = dset.count_rows()
        if table == "domains":
            t = dset.to_table(columns=["snapshot", "shard"] + HEADLINE)
            for s, h in zip(t.column("snapshot").to_pylist(), t.column("shard").to_pylist()):
                parts.add((key(s), key(h)))
            for col in HEADLINE:
                vc = pc.value_counts(t.column(col)).to_pylist()
                counts[col] = {key(x["values"]): x["counts"] for x in vc}
    return rows, parts, counts


def read_duckdb(out):
    import duckdb

    con = duckdb.connect()
    rows, parts, counts = {}, set(), {}
    for table in TABLES:
        if not table_files(out, table):
            rows[table] = 0
            continue
        src = "read_parquet('%s', hive_partitioning = true)" % os.path.join(
            out, "*", "*", table, "*.parquet"
        ).replace("'", "''")
        rows[table] = con.execute("SELECT count(*) FROM " + src).fetchone()[0]
        if table == "domains":
            # Hive values may be typed (a date-like snapshot id becomes DATE): compare text.
            for s, h in con.execute(
                "SELECT DISTINCT CAST(snapshot AS VARCHAR), CAST(shard AS VARCHAR) FROM " + src
            ).fetchall():
                parts.add((key(s), key(h)))
            for col in HEADLINE:
                got = con.execute(
                    'SELECT "%s", count(*) FROM %s GROUP BY 1' % (col, src)
                ).fetchall()
                counts[col] = {key(v): n for v, n in got}
    return rows, parts, counts


def read_manifests(out):
    manifests = []
    for path in sorted(glob.glob(os.path.join(out, "*", "*", "manifest.json"))):
        with open(path, encoding="utf-8") as f:
            manifests.append((path, json.load(f)))
    return manifests


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="the crawl's --out directory")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args()
    try:
        import duckdb  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as e:
        print("read_snapshot: %s (pip install duckdb pyarrow)" % e, file=sys.stderr)
        return 2
    out = os.path.abspath(args.out)
    if not table_files(out, "domains"):
        print("read_snapshot: no %s/*/*/domains/*.parquet" % out, file=sys.stderr)
        return 2

    try:
        pa_rows, pa_parts, pa_counts = read_pyarrow(out)
    except Exception as e:  # any reader failure is a failed check, with its reason
        print("MISMATCH: pyarrow cannot read %s: %s" % (out, e), file=sys.stderr)
        return 1
    try:
        dd_rows, dd_parts, dd_counts = read_duckdb(out)
    except Exception as e:
        print("MISMATCH: duckdb cannot read %s: %s" % (out, e), file=sys.stderr)
        return 1
    problems = []
    if pa_rows != dd_rows:
        problems.append("rows per table differ: pyarrow %s duckdb %s" % (pa_rows, dd_rows))
    if pa_parts != dd_parts:
        problems.append("partitions differ: pyarrow %s duckdb %s" % (pa_parts, dd_parts))
    for col in HEADLINE:
        if pa_counts.get(col) != dd_counts.get(col):
            problems.append(
                "%s counts differ: pyarrow %s duckdb %s" % (col, pa_counts.get(col), dd_counts.get(col))
            )

    warnings = []
    manifests = read_manifests(out)
    summed = collections.defaultdict(collections.Counter)
    for path, m in manifests:
        for col, values in (m.get("counts") or {}).items():
            summed[col].update(values)
        if m.get("status") == "complete":
            inp = m.get("input") or {}
            shard_dir = os.path.dirname(path)
            want = inp.get("domains", 0) + inp.get("input_errors", 0)
            if want == 0:
                continue
            import duckdb

            con = duckdb.connect()
            got = 0
            for table in ("domains", "input_errors"):
                pattern = os.path.join(shard_dir, table, "*.parquet")
                if glob.glob(pattern):
                    got += con.execute(
                        "SELECT count(*) FROM read_parquet('%s')" % pattern.replace("'", "''")
                    ).fetchone()[0]
            # Excluded domains are accepted input lines with an input_errors row.
            if got != want:
                warnings.append(
                    "%s: manifest says %d domains + input errors, tables hold %d" % (path, want, got)
                )
    if manifests:
        for col in HEADLINE:
            if dict(summed.get(col, {})) != pa_counts.get(col, {}):
                warnings.append(
                    "%s: manifest counts %s, tables %s" % (col, dict(summed.get(col, {})), pa_counts.get(col))
                )

    if args.json:
        json.dump(
            {
                "rows": pa_rows,
                "partitions": sorted(pa_parts),
                "counts": pa_counts,
                "manifests": len(manifests),
                "problems": problems,
                "warnings": warnings,
            },
            sys.stdout,
            indent=2,
            sort_keys=True,
        )
        print()
    else:
        print("snapshot directory: %s (%d shard manifests)" % (out, len(manifests)))
        print("partitions: %s" % ", ".join("snapshot=%s/shard=%s" % p for p in sorted(pa_parts)))
        for table in TABLES:
            print("rows %-13s pyarrow %-9d duckdb %d" % (table, pa_rows[table], dd_rows[table]))
        for col in HEADLINE:
            values = " ".join("%s=%d" % kv for kv in sorted(pa_counts.get(col, {}).items()))
            print("  %-13s %s" % (col, values))
        for w in warnings:
            print("warning: " + w)
        for p in problems:
            print("MISMATCH: " + p)
        print("pyarrow and duckdb agree" if not problems else "%d mismatches" % len(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
