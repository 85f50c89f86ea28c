"""Shared helpers of the mxcensus notebooks: open a snapshot with DuckDB, fetch the
report.json of `mxcensus report` for the same snapshot, and compare figures with it.

The snapshot is `$MXCENSUS_SNAPSHOT` when set, else the repository's datasets/sample/.
It may be a crawl --out directory holding one snapshot id, a `snapshot=<id>` directory or
one `shard=<i>` directory.
"""

import glob
import json
import math
import os
import subprocess
import tempfile
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
TABLES = ["domains", "mx", "smtp", "policies", "input_errors"]

# Rank bands of the report (disjoint, inclusive): key, first rank, last rank.
RANK_BANDS = [
    ("top_1k", 1, 1_000),
    ("top_10k", 1_001, 10_000),
    ("top_100k", 10_001, 100_000),
    ("top_1m", 100_001, 1_000_000),
    ("rest", 1_000_001, 2**63 - 1),
]

# Columns a table needs when it has no file at all (an empty table writes none).
EMPTY_SCHEMAS = {
    "policies": "domain VARCHAR, status VARCHAR, mode VARCHAR, max_age BIGINT, failure VARCHAR",
    "input_errors": "input_line UBIGINT, raw VARCHAR, reason VARCHAR, message VARCHAR",
    "smtp": "mx_host VARCHAR, ip VARCHAR, failure VARCHAR",
}


def snapshot_path():
    """The snapshot the notebooks read."""
    return Path(os.environ.get("MXCENSUS_SNAPSHOT", REPO / "datasets" / "sample")).resolve()


def shard_dirs(path):
    """Shard directories of the snapshot at PATH (one snapshot id only)."""
    path = Path(path)
    if (path / "manifest.json").is_file() or (path / "_segments").is_dir():
        return [path]
    shards = sorted(p for p in path.glob("shard=*") if p.is_dir())
    if shards:
        return shards
    shards = sorted(p for p in path.glob("snapshot=*/shard=*") if p.is_dir())
    ids = sorted({p.parent.name for p in shards})
    if len(ids) > 1:
        raise ValueError(
            f"{path} holds several snapshots ({', '.join(ids)}): point MXCENSUS_SNAPSHOT at one"
        )
    if not shards:
        raise FileNotFoundError(f"no snapshot under {path}")
    return shards


def files(shards, table):
    out = []
    for s in shards:
        out += sorted(glob.glob(str(s / table / "*.parquet")))
    return out


def connect(path=None):
    """A DuckDB connection with one view per table of the snapshot, and its manifests."""
    path = Path(path) if path else snapshot_path()
    shards = shard_dirs(path)
    con = duckdb.connect()
    for t in TABLES:
        fs = files(shards, t)
        if fs:
            con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet({fs!r}, union_by_name = true)")
        elif t in EMPTY_SCHEMAS:
            con.execute(f"CREATE TABLE {t} ({EMPTY_SCHEMAS[t]})")
        else:
            raise FileNotFoundError(f"{path}: no {t} files")
    manifests = []
    for s in shards:
        m = s / "manifest.json"
        if m.is_file():
            manifests.append(json.loads(m.read_text(encoding="utf-8")))
    return con, manifests


def df(con, sql):
    """Runs SQL, returns a pandas DataFrame."""
    return con.execute(sql).df()


def scalar(con, sql):
    return con.execute(sql).fetchone()[0]


def rank_band_sql(column="rank"):
    """SQL CASE giving the report's rank band of COLUMN (`unranked` for null)."""
    parts = " ".join(f"WHEN {column} BETWEEN {lo} AND {hi} THEN '{k}'" for k, lo, hi in RANK_BANDS)
    return f"CASE {parts} ELSE 'unranked' END"


def find_binary():
    """The mxcensus binary: $MXCENSUS_BIN, else the newest of target/{release,debug}."""
    if os.environ.get("MXCENSUS_BIN"):
        return Path(os.environ["MXCENSUS_BIN"])
    found = [REPO / "target" / d / "mxcensus" for d in ("release", "debug")]
    found = [p for p in found if p.is_file()]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def report_json(path=None):
    """report.json of `mxcensus report` for the snapshot: $MXCENSUS_REPORT_JSON when set,
    else made now with the binary. None when it cannot be had, unless
    $MXCENSUS_REQUIRE_REPORT=1 (the test sets it), which makes that an error."""
    required = os.environ.get("MXCENSUS_REQUIRE_REPORT") == "1"
    if os.environ.get("MXCENSUS_REPORT_JSON"):
        return json.loads(Path(os.environ["MXCENSUS_REPORT_JSON"]).read_text(encoding="utf-8"))
    path = Path(path) if path else snapshot_path()
    binary = find_binary()
    why = "no mxcensus binary (set MXCENSUS_BIN or cargo build -p mxcensus)"
    if binary is not None:
        with tempfile.TemporaryDirectory() as out:
            run = subprocess.run(
                [str(binary), "report", str(path), "--out", out],
                capture_output=True,
                text=True,
                check=False,
            )
            report = Path(out) / "report.json"
            if run.returncode == 0 and report.is_file():
                return json.loads(report.read_text(encoding="utf-8"))
            why = f"{binary} report failed ({run.returncode}): {run.stderr.strip()[:300]}"
    if required:
        raise RuntimeError(f"report.json needed for the cross-check: {why}")
    print(f"cross-check skipped: {why}")
    return None


class Checker:
    """Collects differences between the notebook's figures and report.json."""

    def __init__(self):
        self.compared = 0
        self.mismatches = []

    def eq(self, what, mine, theirs):
        self.compared += 1
        if isinstance(mine, float) or isinstance(theirs, float):
            same = (mine is None and theirs is None) or (
                mine is not None
                and theirs is not None
                and math.isclose(float(mine), float(theirs), rel_tol=1e-9, abs_tol=1e-12)
            )
        else:
            same = mine == theirs
        if not same:
            self.mismatches.append(f"{what}: notebook {mine!r}, report.json {theirs!r}")

    def done(self):
        if self.mismatches:
            raise AssertionError(
                f"{len(self.mismatches)} of {self.compared} figures differ from report.json:\n"
                + "\n".join(self.mismatches)
            )
        print(f"{self.compared} figures agree with report.json")


def headline_of(group):
    """The headline counts of a report.json group (flattened or nested)."""
    return group.get("headline", group)


def chart_dir():
    """Where the notebooks save their charts: $MXCENSUS_NOTEBOOK_OUT or a temp dir."""
    d = Path(os.environ.get("MXCENSUS_NOTEBOOK_OUT", Path(tempfile.gettempdir()) / "mxcensus-notebooks"))
    d.mkdir(parents=True, exist_ok=True)
    return d
