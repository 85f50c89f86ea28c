#!/usr/bin/env python3
"""Compare two mxcensus snapshots row for row, apart from timing and timestamps.

    scripts/compare_snapshots.py EXPECTED ACTUAL [--show N]

EXPECTED and ACTUAL are crawl --out directories (OUT/snapshot=<id>/shard=<i>/...) or
shard directories. Every table is compared whole, as a sorted multiset of rows (row order,
segment boundaries and the shard/segment an `smtp` row lands in depend on concurrency),
with the run-dependent columns below left out or normalised. The manifests are compared
field by field with the same rule.

Run-dependent, and why (everything else must be equal):

  domains.dns_ms, domains.total_ms      wall time of the domain's DNS stage / whole crawl
  domains.crawled_at                    when the domain's crawl started (Unix seconds)
  domains.mx_attempts                   queries sent for the MX lookup: a try that takes
                                        longer than the DNS time-out (a lost datagram, a
                                        busy machine) is retried, and the retry's answer is
                                        the one recorded; the answer itself (rcode, records,
                                        AD, DNSSEC status) is compared. Seen: 9 of 3,000
                                        domains with 2 instead of 1 on a loaded machine.
  mx: none                              (no timing columns)
  smtp.probed_at                        probe start (Unix seconds)
  smtp.connect_ms, greeting_delay_ms,   round trips and durations measured on this run
    ehlo_ms, starttls_ms, tls_ms,
    total_ms
  smtp.transcript                       compared with each line's `+<ms>ms ` prefix
                                        (time since connect) removed; the lines and their
                                        order are compared
  policies.fetched_at                   fetch start (Unix seconds)
  policies.connect_ms, tls_ms,          durations measured on this run
    response_ms, body_ms, total_ms
  manifest started_at, finished_at      when the run began and ended
  manifest tool.version,                which build made it: provenance, not output
    tool.git_revision

KNOWN_DIFFERENCES below lists columns that vary between runs without being timing (real
non-determinism found in the crawler or simnet); it is empty when none is known.

Exit status: 0 when equal, 1 when they differ (the first differing rows are printed for
each table), 2 on usage errors (missing modules, no snapshot).
"""

import argparse
import glob
import json
import os
import sys

TABLES = ["domains", "mx", "smtp", "policies", "input_errors"]

# Timing, timestamp and retry-count columns: left out of the comparison.
TIMING = {
    "domains": ["dns_ms", "total_ms", "crawled_at", "mx_attempts"],
    "mx": [],
    "smtp": [
        "probed_at",
        "connect_ms",
        "greeting_delay_ms",
        "ehlo_ms",
        "starttls_ms",
        "tls_ms",
        "total_ms",
    ],
    "policies": [
        "fetched_at",
        "connect_ms",
        "tls_ms",
        "response_ms",
        "body_ms",
        "total_ms",
    ],
    "input_errors": [],
}

# Columns compared after a normalisation: table -> column -> SQL expression over the row.
NORMALISED = {
    "smtp": {
        # `+12ms S: 220 ...` -> `S: 220 ...`
        "transcript": "list_transform(transcript, LAMBDA regexp_replace(l, '^\\+[0-9]+ms ', ''))",
    },
}

# Records of one RRset, compared as sets: the order of an RRset is not significant
# (RFC 2181 §5) and Unbound rotates it (`rrset-roundrobin: yes` by default), so the same
# TXT RRset comes back in either order on two runs (seen on sts_txt_records and
# tlsrpt_records; the other RRset columns are listed for the same reason).
RRSET_COLUMNS = {
    "domains": ["sts_txt_records", "tlsrpt_records"],
    "mx": ["addresses", "tlsa_records"],
    "policies": ["host_addresses"],
}
for _t, _cols in RRSET_COLUMNS.items():
    for _c in _cols:
        NORMALISED.setdefault(_t, {})[_c] = f'list_sort("{_c}")'

# Non-timing columns found to vary between runs: real non-determinism in the crawler or
# simnet, each a bug to report, not a design choice. (table, column) -> (SQL expression
# compared instead, why). The row still has to match on every other column.
KNOWN_DIFFERENCES = {
    # simnet's reset_after_accept host resets right after accepting: whether the crawler
    # sees the RST while connecting or while waiting for the greeting is a race, so
    # `connect` is `ok` or `reset`, with failure_phase/error_detail following. The failure
    # class (`connection_reset`) is the same either way.
    ("smtp", "connect"): (
        "CASE WHEN failure = 'connection_reset' THEN NULL ELSE connect END",
        "reset_after_accept: RST seen during connect or before the greeting (race)",
    ),
    ("smtp", "failure_phase"): (
        "CASE WHEN failure = 'connection_reset' THEN NULL ELSE failure_phase END",
        "reset_after_accept: as smtp.connect",
    ),
    ("smtp", "error_detail"): (
        "CASE WHEN failure = 'connection_reset' THEN NULL ELSE error_detail END",
        "reset_after_accept: as smtp.connect",
    ),
    # A policy body over the 64 KiB cap: the prefix kept is whatever had been read when the
    # fetch stopped (57,232 vs 57,344 bytes on two runs: TLS record/read boundaries), not
    # the first 64 KiB. The failure (body_too_large) and body_complete are stable.
    ("policies", "body"): (
        "CASE WHEN failure = 'body_too_large' THEN NULL ELSE body END",
        "body_too_large: kept prefix length depends on read boundaries",
    ),
}

MANIFEST_IGNORED = [
    ("started_at",),
    ("finished_at",),
    ("tool", "version"),
    ("tool", "git_revision"),
]


def shard_dirs(root):
    """Shard directories under ROOT (an --out dir, a snapshot dir or a shard dir)."""
    if os.path.isfile(os.path.join(root, "manifest.json")):
        return [root]
    found = sorted(glob.glob(os.path.join(root, "snapshot=*", "shard=*")))
    found += sorted(glob.glob(os.path.join(root, "shard=*")))
    return [d for d in found if os.path.isdir(d)]


def files(shards, table):
    out = []
    for s in shards:
        out += sorted(glob.glob(os.path.join(s, table, "*.parquet")))
    return out


def select_list(con, table, paths):
    """Column expressions compared for TABLE, in file order."""
    desc = con.execute(
        f"SELECT * FROM read_parquet({paths!r}, union_by_name = true) LIMIT 0"
    ).description
    columns = [d[0] for d in desc]
    skip = set(TIMING.get(table, []))
    norm = dict(NORMALISED.get(table, {}))
    for (t, c), (expr, _why) in KNOWN_DIFFERENCES.items():
        if t == table:
            norm[c] = expr
    cols = []
    for c in columns:
        if c in skip:
            continue
        expr = norm.get(c, f'"{c}"')
        cols.append(f'{expr} AS "{c}"')
    return columns, cols


def short(v, limit=160):
    """repr(v), cut to LIMIT characters (bodies and chains are long)."""
    r = repr(v)
    return r if len(r) <= limit else f"{r[:limit]}... ({len(r)} chars)"


def compare_table(con, table, a_files, b_files, show):
    """Returns a list of problem lines (empty when equal)."""
    if not a_files and not b_files:
        return []
    if not a_files or not b_files:
        n_a = len(a_files)
        n_b = len(b_files)
        # An empty table has no files; a table with rows always has some.
        side = "expected" if not a_files else "actual"
        other = b_files if not a_files else a_files
        rows = con.execute(f"SELECT count(*) FROM read_parquet({other!r})").fetchone()[0]
        return [f"{table}: no files in {side} ({n_a} vs {n_b} files), {rows} rows on the other side"]
    a_cols, a_sel = select_list(con, table, a_files)
    b_cols, b_sel = select_list(con, table, b_files)
    if a_cols != b_cols:
        return [f"{table}: columns differ:\n  expected {a_cols}\n  actual   {b_cols}"]
    sel = ", ".join(a_sel)
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW a AS SELECT {sel} FROM read_parquet({a_files!r}, union_by_name = true)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW b AS SELECT {sel} FROM read_parquet({b_files!r}, union_by_name = true)"
    )
    n_a = con.execute("SELECT count(*) FROM a").fetchone()[0]
    n_b = con.execute("SELECT count(*) FROM b").fetchone()[0]
    n_only_a = con.execute("SELECT count(*) FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b)").fetchone()[0]
    n_only_b = con.execute("SELECT count(*) FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a)").fetchone()[0]
    if n_only_a == 0 and n_only_b == 0 and n_a == n_b:
        return []
    problems = [
        f"{table}: {n_a} rows expected, {n_b} actual; {n_only_a} only in expected, {n_only_b} only in actual"
    ]
    cols = [d[0] for d in con.execute("SELECT * FROM a LIMIT 0").description]
    a_rows = con.execute(
        f"SELECT * FROM (SELECT * FROM a EXCEPT ALL SELECT * FROM b) ORDER BY 1 LIMIT {int(show)}"
    ).fetchall()
    b_rows = con.execute(
        f"SELECT * FROM (SELECT * FROM b EXCEPT ALL SELECT * FROM a) ORDER BY 1 LIMIT {int(show)}"
    ).fetchall()
    key = cols[0]
    # Pair rows by their first column (domain, mx_host, ...) and name the differing columns.
    b_by_key = {}
    for r in b_rows:
        b_by_key.setdefault(r[0], r)
    for r in a_rows:
        other = b_by_key.get(r[0])
        if other is None:
            problems.append(f"  only in expected: {short(dict(zip(cols, r)), 600)}")
            continue
        diffs = {c: (x, y) for c, x, y in zip(cols, r, other) if x != y}
        problems.append(f"  {key}={r[0]!r} differs: " + "; ".join(
            f"{c}: expected {short(x)}, actual {short(y)}" for c, (x, y) in diffs.items()
        ))
    a_keys = {r[0] for r in a_rows}
    for r in b_rows:
        if r[0] not in a_keys:
            problems.append(f"  only in actual: {short(dict(zip(cols, r)), 600)}")
    return problems


def strip(manifest):
    m = json.loads(json.dumps(manifest))
    for path in MANIFEST_IGNORED:
        node = m
        for k in path[:-1]:
            node = node.get(k, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(path[-1], None)
    return m


def diff_json(a, b, path=""):
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: only in actual: {b[k]!r}")
            elif k not in b:
                out.append(f"{path}.{k}: only in expected: {a[k]!r}")
            else:
                out += diff_json(a[k], b[k], f"{path}.{k}")
        return out
    if a != b:
        return [f"{path}: expected {a!r}, actual {b!r}"]
    return []


def compare_manifests(a_shards, b_shards):
    def load(shards):
        out = {}
        for s in shards:
            with open(os.path.join(s, "manifest.json"), encoding="utf-8") as f:
                m = json.load(f)
            out[(m.get("snapshot"), m.get("shard_index"))] = strip(m)
        return out

    a = load(a_shards)
    b = load(b_shards)
    if set(a) != set(b):
        return [f"manifest: shards differ: expected {sorted(a)}, actual {sorted(b)}"]
    problems = []
    for k in sorted(a):
        problems += [f"manifest {k}: {d}" for d in diff_json(a[k], b[k])]
    return problems


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("expected")
    p.add_argument("actual")
    p.add_argument("--show", type=int, default=5, help="differing rows shown per table")
    args = p.parse_args()
    try:
        import duckdb
    except ImportError:
        print("compare_snapshots: the duckdb module is needed (pip install duckdb)", file=sys.stderr)
        return 2
    a_shards = shard_dirs(args.expected)
    b_shards = shard_dirs(args.actual)
    if not a_shards or not b_shards:
        print(f"compare_snapshots: no snapshot under {args.expected if not a_shards else args.actual}",
              file=sys.stderr)
        return 2
    con = duckdb.connect()
    # Lambda syntax: `lambda l: ...` since DuckDB 1.3 (the arrow form is deprecated).
    version = tuple(int(x) for x in duckdb.__version__.split(".")[:2] if x.isdigit())
    lam = "lambda l:" if version >= (1, 3) else "l ->"
    for cols in NORMALISED.values():
        for c, expr in cols.items():
            cols[c] = expr.replace("LAMBDA", lam)
    problems = compare_manifests(a_shards, b_shards)
    summary = []
    for t in TABLES:
        a_files = files(a_shards, t)
        b_files = files(b_shards, t)
        table_problems = compare_table(con, t, a_files, b_files, args.show)
        problems += table_problems
        n = con.execute(f"SELECT count(*) FROM read_parquet({a_files!r})").fetchone()[0] if a_files else 0
        ignored = TIMING.get(t, [])
        normalised = sorted(NORMALISED.get(t, {}))
        summary.append(f"{t}: {n} rows, {'equal' if not table_problems else 'DIFFERENT'}"
                       + (f"; ignored: {', '.join(ignored)}" if ignored else "")
                       + (f"; normalised: {', '.join(normalised)}" if normalised else ""))
    for line in summary:
        print(line)
    for (t, c), (_expr, why) in KNOWN_DIFFERENCES.items():
        print(f"known difference: {t}.{c}: {why}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("snapshots equal apart from timing")
    return 0


if __name__ == "__main__":
    sys.exit(main())
