#!/usr/bin/env python3
"""Recompute the figures of `mxcensus report` with DuckDB SQL and compare them with
report.json.

    scripts/report_check.py SNAPSHOT_DIR REPORT_JSON [--json]

SNAPSHOT_DIR is what `mxcensus report` was given: a crawl --out directory holding one
snapshot, a snapshot=<id> directory, or one shard=<i> directory. Only committed part
files are read (those of segments with a _segments/NNNNNN.json marker), with
read_parquet(..., hive_partitioning = true). The SQL is written from the definitions in
crates/mxcensus-analysis/README.md, not from the Rust code: domains and mx are joined on
`domain` over the whole snapshot (the Rust side joins segment by segment), quantiles use
quantile_disc, the Public Suffix List comes from Debian's publicsuffix package
(/usr/share/publicsuffix/public_suffix_list.dat).

Exit status: 0 when every figure agrees, 1 on any mismatch (each printed), 2 on usage
errors (missing duckdb, not a snapshot).
"""

import argparse
import glob
import json
import math
import os
import sys

PSL_FILE = "/usr/share/publicsuffix/public_suffix_list.dat"
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
RANK_BANDS = [
    ("top_1k", 1, 1000),
    ("top_10k", 1001, 10000),
    ("top_100k", 10001, 100000),
    ("top_1m", 100001, 1000000),
    ("rest", 1000001, 2**63 - 1),
]


def shard_dirs(path):
    path = os.path.normpath(path)
    if os.path.basename(path).startswith("shard="):
        return [path]
    shards = sorted(glob.glob(os.path.join(path, "shard=*")))
    if shards:
        return shards
    snaps = sorted(glob.glob(os.path.join(path, "snapshot=*")))
    if len(snaps) == 1:
        return shard_dirs(snaps[0])
    raise SystemExit(f"report_check: {path}: not a snapshot directory")


def committed(shards):
    """Committed part files per table, and rows per table from the markers."""
    files, rows = {}, {}
    for shard in shards:
        for marker in sorted(glob.glob(os.path.join(shard, "_segments", "*.json"))):
            with open(marker) as f:
                m = json.load(f)
            for table, n in m["rows"].items():
                rows[table] = rows.get(table, 0) + n
                if n > 0:
                    files.setdefault(table, []).append(
                        os.path.join(shard, table, "part-%06d.parquet" % m["seq"])
                    )
    return files, rows


class Psl:
    """The Public Suffix List algorithm (publicsuffix.org/list/), from the .dat file."""

    def __init__(self, path):
        self.rules, self.wild, self.exc = set(), set(), set()
        with open(path, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("//"):
                    continue
                rule = line.split()[0]
                if rule.startswith("!"):
                    self.exc.add(rule[1:])
                elif rule.startswith("*."):
                    self.wild.add(rule[2:])
                else:
                    self.rules.add(rule)

    def registrable(self, host):
        if host is None:
            return None
        labels = host.lower().split(".")
        # Longest matching rule; the default rule "*" makes the TLD a suffix.
        suffix_len = 1
        for i in range(len(labels)):
            cand = ".".join(labels[i:])
            parent = ".".join(labels[i + 1:])
            if cand in self.exc:
                suffix_len = len(labels) - i - 1
                break
            if cand in self.rules or (parent and parent in self.wild):
                suffix_len = max(suffix_len, len(labels) - i)
        if len(labels) <= suffix_len:
            return host
        return ".".join(labels[-(suffix_len + 1):])


class Checker:
    def __init__(self, report):
        self.report = report
        self.problems = []
        self.checks = 0

    def get(self, path):
        v = self.report
        for p in path:
            v = v[p]
        return v

    def eq(self, path, expected):
        self.checks += 1
        try:
            got = self.get(path)
        except (KeyError, IndexError, TypeError):
            self.problems.append(f"{'.'.join(map(str, path))}: missing in report.json (expected {expected!r})")
            return
        if isinstance(expected, float) or isinstance(got, float):
            ok = (
                got is not None
                and expected is not None
                and math.isclose(float(got), float(expected), rel_tol=1e-9, abs_tol=1e-12)
            )
        else:
            ok = got == expected
        if not ok:
            self.problems.append(
                f"{'.'.join(map(str, path))}: report.json has {got!r}, DuckDB says {expected!r}"
            )


def share(n, d):
    return None if not d else n / d


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("snapshot")
    ap.add_argument("report_json")
    ap.add_argument("--json", action="store_true", help="print a JSON summary")
    args = ap.parse_args()
    try:
        import duckdb
    except ImportError:
        print("report_check: python module duckdb is missing (pip install duckdb)", file=sys.stderr)
        return 2
    with open(args.report_json) as f:
        report = json.load(f)
    shards = shard_dirs(args.snapshot)
    files, marker_rows = committed(shards)
    if not files.get("domains"):
        print("report_check: no committed domains rows", file=sys.stderr)
        return 2
    con = duckdb.connect()
    c = Checker(report)

    def q(sql):
        return con.execute(sql).fetchall()

    def one(sql):
        return con.execute(sql).fetchone()

    def view(name, table):
        lst = files.get(table, [])
        if lst:
            con.execute(
                f"create view {name} as select * from read_parquet({lst!r}, hive_partitioning = true, union_by_name = true)"
            )
            return True
        return False

    view("d_raw", "domains")
    cols = ", ".join(f"coalesce({h}, 'null') as {h}" for h in HEADLINE)
    con.execute(f"create view d as select domain, rank, error_classes, mx_hosts, {cols} from d_raw")
    if not view("m", "mx"):
        con.execute(
            "create table m (domain varchar, tlsa_outcome varchar, dane_usable boolean, dane_valid boolean, dane_broken boolean, covered_by varchar, sts_valid boolean)"
        )
    if not view("p", "policies"):
        con.execute("create table p (domain varchar, status varchar, mode varchar, max_age bigint)")

    # Totals and value counts.
    n = one("select count(*) from d")[0]
    c.eq(["totals", "domains"], n)
    c.eq(["totals", "mx_rows"], one("select count(*) from m")[0])
    c.eq(["totals", "policies"], one("select count(*) from p")[0])
    c.eq(["totals", "input_errors"], marker_rows.get("input_errors", 0))
    for h in HEADLINE:
        vc = {v: k for v, k in q(f"select {h}, count(*) from d group by 1")}
        c.eq(["value_counts", h], vc)

    # Per-domain MX facts (whole-snapshot join on domain).
    con.execute(
        """create table x as select d.*,
            coalesce(a.tlsa_secure, false) as tlsa_secure,
            coalesce(a.usable, false) as any_usable
        from d left join (
            select domain, bool_or(tlsa_outcome = 'secure') as tlsa_secure,
                   bool_or(dane_usable) as usable
            from m group by domain) a using (domain)"""
    )

    # Headline over a filter; the same SQL serves every group.
    headline_sql = """count(*) as domains,
        count(*) filter (where mx_status in ('ok', 'implicit')) as with_mx,
        count(*) filter (where starttls = 'all') as starttls_all,
        count(*) filter (where sts_txt = 'valid') as sts_txt_valid,
        count(*) filter (where sts_policy = 'valid') as sts_policy_valid,
        count(*) filter (where sts_mode = 'testing') as sts_testing,
        count(*) filter (where sts_mode = 'enforce') as sts_enforce,
        count(*) filter (where sts_mode = 'enforce' and sts_mx_valid = 'all') as sts_enforce_all_valid,
        count(*) filter (where tlsrpt = 'valid') as tlsrpt_valid,
        count(*) filter (where dnssec = 'secure') as dnssec_secure,
        count(*) filter (where dane in ('all', 'partial')) as dane_valid,
        count(*) filter (where dane = 'all') as dane_all,
        count(*) filter (where dane = 'broken' or dnssec = 'bogus') as dane_broken"""
    fields = [
        "domains", "with_mx", "starttls_all", "sts_txt_valid", "sts_policy_valid",
        "sts_testing", "sts_enforce", "sts_enforce_all_valid", "tlsrpt_valid",
        "dnssec_secure", "dane_valid", "dane_all", "dane_broken",
    ]

    def check_headline(path, row):
        for f, v in zip(fields, row):
            c.eq(path + [f], v)

    check_headline(["headline"], one(f"select {headline_sql} from x"))

    # Funnels.
    def funnel(key, conds):
        counts, alones, acc = [], [], []
        for cond in conds:
            acc.append(f"({cond})")
            counts.append(one(f"select count(*) from x where {' and '.join(acc)}")[0])
            alones.append(one(f"select count(*) from x where {cond}")[0])
        prev = None
        for i, (cnt, alone) in enumerate(zip(counts, alones)):
            c.eq([key, i, "count"], cnt)
            c.eq([key, i, "alone"], alone)
            c.eq([key, i, "share_of_domains"], share(cnt, n))
            c.eq([key, i, "share_of_previous"], share(cnt, prev) if prev is not None else None)
            prev = cnt

    funnel(
        "adoption_funnel",
        [
            "true",
            "mx_status in ('ok', 'implicit')",
            "starttls = 'all'",
            "sts_txt = 'valid'",
            "sts_policy = 'valid'",
            "sts_mode = 'enforce'",
            "sts_mx_valid = 'all'",
        ],
    )
    funnel(
        "dane_funnel",
        [
            "mx_status in ('ok', 'implicit')",
            "dnssec = 'secure'",
            "tlsa_secure",
            "any_usable",
            "dane in ('all', 'partial')",
            "dane = 'all'",
        ],
    )

    # Domain matrix.
    row_sql = """case when dnssec = 'bogus' then 'broken'
        when dane in ('none', 'partial', 'all', 'broken') then dane else 'unknown' end"""
    col_sql = """case when sts_txt = 'absent' then 'none'
        when sts_txt in ('invalid', 'multiple') then 'invalid'
        when sts_txt = 'valid' and sts_policy in ('invalid', 'fetch_failed') then 'invalid'
        when sts_txt = 'valid' and sts_policy = 'valid' and sts_mode = 'none' then 'invalid'
        when sts_txt = 'valid' and sts_policy = 'valid' and sts_mode = 'testing' then 'testing'
        when sts_txt = 'valid' and sts_policy = 'valid' and sts_mode = 'enforce' then 'enforce'
        else 'unknown' end"""
    cells = {
        (r, k): cnt
        for r, k, cnt in q(
            f"select {row_sql}, {col_sql}, count(*) from x where mx_status <> 'null_mx' group by 1, 2"
        )
    }
    rows = ["none", "partial", "all", "broken", "unknown"]
    colk = ["none", "invalid", "testing", "enforce", "unknown"]
    c.eq(["matrix", "counts"], [[cells.get((r, k), 0) for k in colk] for r in rows])
    c.eq(["matrix", "total"], sum(cells.values()))
    c.eq(["matrix", "excluded"], one("select count(*) from x where mx_status = 'null_mx'")[0])
    for i, r in enumerate(rows):
        c.eq(["matrix", "rows", i, "key"], r)
    for i, k in enumerate(colk):
        c.eq(["matrix", "columns", i, "key"], k)

    # Per-MX matrix and conflicts: mx rows joined to their domain.
    con.execute(
        """create table mj as select m.domain, m.dane_usable, m.dane_valid, m.dane_broken,
            m.covered_by, m.sts_valid, d.sts_policy, d.sts_mode, d.sts_mx_valid
        from m join d using (domain)"""
    )
    mrow = """case when dane_valid then 'dane_valid' when dane_broken then 'dane_broken'
        when dane_usable then 'dane_usable_unverified' else 'no_dane' end"""
    mcol = """case when sts_policy <> 'valid' then 'no_policy' when covered_by is null then 'not_covered'
        when not sts_valid then 'covered_not_valid' else 'sts_valid' end"""
    cells = {(r, k): cnt for r, k, cnt in q(f"select {mrow}, {mcol}, count(*) from mj group by 1, 2")}
    rows = ["dane_valid", "dane_broken", "dane_usable_unverified", "no_dane"]
    colk = ["no_policy", "not_covered", "covered_not_valid", "sts_valid"]
    c.eq(["mx_matrix", "counts"], [[cells.get((r, k), 0) for k in colk] for r in rows])
    c.eq(["mx_matrix", "total"], one("select count(*) from mj")[0])
    conflicts = [
        ("dane_ok_sts_fail", "sts_mode = 'enforce' and dane_valid and not sts_valid"),
        ("dane_fail_sts_ok", "dane_broken and sts_valid"),
        ("both_fail", "sts_mode = 'enforce' and dane_broken and not sts_valid"),
        ("sts_enforce_without_any_valid_mx", "sts_mode = 'enforce' and sts_mx_valid = 'none'"),
    ]
    for i, (key, cond) in enumerate(conflicts):
        doms, mxs = one(f"select count(distinct domain), count(*) from mj where {cond}")
        c.eq(["conflicts", i, "key"], key)
        c.eq(["conflicts", i, "domains"], doms)
        c.eq(["conflicts", i, "mx"], mxs)

    # Sender models over mx rows.
    dane_rule = "case when dane_valid then 'authenticated' else 'defer' end"
    sts_rule = "case when sts_valid then 'authenticated' else 'defer' end"
    models = [
        ("both", f"""case when dane_usable or dane_broken then {dane_rule}
            when sts_mode = 'enforce' then {sts_rule} else 'opportunistic' end"""),
        ("sts_only", f"case when sts_mode = 'enforce' then {sts_rule} else 'opportunistic' end"),
        ("dane_only", f"case when dane_usable or dane_broken then {dane_rule} else 'opportunistic' end"),
    ]
    for i, (key, rule) in enumerate(models):
        got = {k: v for k, v in q(f"select {rule}, count(*) from mj group by 1")}
        c.eq(["senders", i, "key"], key)
        for outcome in ["authenticated", "defer", "opportunistic"]:
            c.eq(["senders", i, outcome], got.get(outcome, 0))

    # DNSSEC.
    signed, bogus, unknown = one(
        "select count(*) filter (where dnssec = 'secure'), count(*) filter (where dnssec = 'bogus'), count(*) filter (where dnssec = 'unknown') from x"
    )
    base, dv, da, db = one(
        """select count(*), count(*) filter (where dane in ('all', 'partial')),
            count(*) filter (where dane = 'all'), count(*) filter (where dane = 'broken')
        from x where dnssec = 'secure' and mx_status in ('ok', 'implicit')"""
    )
    for k, v in [
        ("domains", n), ("signed", signed), ("signed_share", share(signed, n)), ("bogus", bogus),
        ("unknown", unknown), ("signed_with_mx", base), ("dane_valid", dv), ("dane_all", da),
        ("dane_broken", db), ("dane_share_of_signed", share(dv, base)),
    ]:
        c.eq(["dnssec", k], v)

    # By rank band.
    band_sql = "case " + " ".join(
        f"when rank between {lo} and {hi} then '{k}'" for k, lo, hi in RANK_BANDS
    ) + " else 'unranked' end"
    by_band = {r[0]: r[1:] for r in q(f"select {band_sql} as band, {headline_sql} from x group by 1")}
    for i, key in enumerate([b[0] for b in RANK_BANDS] + ["unranked"]):
        c.eq(["by_rank", i, "key"], key)
        check_headline(["by_rank", i], by_band.get(key, (0,) * len(fields)))

    # Top groups + other.
    def check_groups(path, key_sql, where="true", extra=None):
        top_n = len(c.get(path + ["top"]))
        groups = q(
            f"select {key_sql} as k, {headline_sql} from x where {where} group by 1 order by domains desc, k asc"
        )
        c.eq(path + ["distinct"], len(groups))
        for i, g in enumerate(groups[:top_n]):
            c.eq(path + ["top", i, "key"], g[0])
            check_headline(path + ["top", i], g[1:])
        other = [sum(g[1 + j] for g in groups[top_n:]) for j in range(len(fields))]
        check_headline(path + ["other"], other)
        if top_n < len(groups) and top_n == 0:
            c.problems.append(f"{'.'.join(path)}: empty top list")

    check_groups(["by_tld"], "split_part(domain, '.', -1)")

    if os.path.exists(PSL_FILE):
        psl = Psl(PSL_FILE)
        con.create_function("regdom", psl.registrable, ["VARCHAR"], "VARCHAR", null_handling="special")
        con.execute(
            """create table prov as select *, case when len(mx_hosts) = 0 then '(no mx)'
                when regdom(mx_hosts[1]) = regdom(domain) then '(self)'
                else regdom(mx_hosts[1]) end as provider from x"""
        )
        con.execute("create or replace table x as select * from prov")
        check_groups(["by_provider"], "provider", "provider not in ('(no mx)', '(self)')")
        check_headline(
            ["by_provider", "self_hosted"], one(f"select {headline_sql} from x where provider = '(self)'")
        )
        check_headline(
            ["by_provider", "no_mx_host"], one(f"select {headline_sql} from x where provider = '(no mx)'")
        )
    else:
        print(f"report_check: {PSL_FILE} missing (apt-get install publicsuffix): by_provider not checked", file=sys.stderr)

    # Failure classes.
    c.eq(["failure_classes", "domains_with_any"], one("select count(*) from x where len(error_classes) > 0")[0])
    classes = q(
        "select cls, count(*) as k from (select unnest(error_classes) as cls from x) group by 1 order by k desc, cls asc"
    )
    c.eq(["failure_classes", "distinct"], len(classes))
    top_n = len(report["failure_classes"]["top"])
    for i, (code, k) in enumerate(classes[:top_n]):
        c.eq(["failure_classes", "top", i, "code"], code)
        c.eq(["failure_classes", "top", i, "domains"], k)
        c.eq(["failure_classes", "top", i, "share"], share(k, n))

    # max_age of valid policies.
    con.execute("create view pv as select * from p where status = 'valid' and max_age is not null")
    c.eq(["max_age", "policies"], one("select count(*) from pv")[0])
    buckets = [
        ("lt_1d", 0, 86400), ("1d_7d", 86400, 604800), ("7d_30d", 604800, 2592000),
        ("30d_1y", 2592000, 31536000), ("ge_1y", 31536000, None),
    ]
    for i, (key, lo, hi) in enumerate(buckets):
        cond = f"max_age >= {lo}" + (f" and max_age < {hi}" if hi else "")
        if i == 0:
            cond = f"max_age < {hi}"
        cnt, e, t, nn = one(
            f"""select count(*), count(*) filter (where mode = 'enforce'),
                count(*) filter (where mode = 'testing'), count(*) filter (where mode = 'none')
            from pv where {cond}"""
        )
        c.eq(["max_age", "buckets", i, "key"], key)
        for f, v in [("count", cnt), ("enforce", e), ("testing", t), ("none", nn)]:
            c.eq(["max_age", "buckets", i, f], v)
    for key, where in [("all", "true"), ("enforce", "mode = 'enforce'")]:
        cnt, mn, med, p90, mx = one(
            f"select count(*), min(max_age), quantile_disc(max_age, 0.5), quantile_disc(max_age, 0.9), max(max_age) from pv where {where}"
        )
        c.eq(["max_age", key, "count"], cnt)
        c.eq(["max_age", key, "min_s"], mn)
        c.eq(["max_age", key, "median_s"], med)
        c.eq(["max_age", key, "p90_s"], p90)
        c.eq(["max_age", key, "max_s"], mx)
        c.eq(["max_age", key, "median_days"], None if med is None else med / 86400)

    # Ready to flip.
    testing, ready, some, none_ = one(
        """select count(*), count(*) filter (where sts_mx_valid = 'all'),
            count(*) filter (where sts_mx_valid = 'some'), count(*) filter (where sts_mx_valid = 'none')
        from x where sts_mode = 'testing'"""
    )
    for k, v in [
        ("testing", testing), ("ready", ready), ("share_of_testing", share(ready, testing)),
        ("some_valid", some), ("none_valid", none_),
    ]:
        c.eq(["ready_to_flip", k], v)

    # TLS-RPT.
    valid = one("select count(*) from x where tlsrpt = 'valid'")[0]
    c.eq(["tlsrpt", "valid"], valid)
    c.eq(["tlsrpt", "share"], share(valid, n))
    among = [
        ("sts_txt_absent", "sts_txt = 'absent'"), ("sts_txt_valid", "sts_txt = 'valid'"),
        ("sts_policy_valid", "sts_policy = 'valid'"), ("sts_testing", "sts_mode = 'testing'"),
        ("sts_enforce", "sts_mode = 'enforce'"), ("dane_valid", "dane in ('all', 'partial')"),
    ]
    for i, (key, cond) in enumerate(among):
        b, v = one(f"select count(*), count(*) filter (where tlsrpt = 'valid') from x where {cond}")
        c.eq(["tlsrpt", "among", i, "key"], key)
        c.eq(["tlsrpt", "among", i, "base"], b)
        c.eq(["tlsrpt", "among", i, "tlsrpt_valid"], v)
        c.eq(["tlsrpt", "among", i, "share"], share(v, b))

    # Provenance: markers and manifests.
    for table in ["domains", "mx", "smtp", "policies", "input_errors"]:
        c.eq(["provenance", "rows", table], marker_rows.get(table, 0))
    c.eq(["provenance", "shards_found"], len(shards))
    statuses = []
    for i, shard in enumerate(shards):
        mpath = os.path.join(shard, "manifest.json")
        if not os.path.exists(mpath):
            c.eq(["provenance", "shards", i, "manifest"], None)
            statuses.append("missing")
            continue
        with open(mpath) as f:
            man = json.load(f)
        statuses.append(man["status"])
        base = ["provenance", "shards", i, "manifest"]
        c.eq(base + ["status"], man["status"])
        c.eq(base + ["started_at"], man["started_at"])
        c.eq(base + ["finished_at"], man["finished_at"])
        c.eq(base + ["input_sha256"], man["input"]["sha256"])
        c.eq(base + ["input_domains"], man["input"]["domains"])
        c.eq(base + ["resolver_addresses"], man["resolver"]["addresses"])
        c.eq(base + ["validating"], man["resolver"]["validating"])
        c.eq(base + ["canaries"], man["resolver"]["canaries"])
        c.eq(["provenance", "shards_declared"], man["shard_count"])
    if all(s == "complete" for s in statuses) and len(shards) >= (report["provenance"]["shards_declared"] or 0):
        c.eq(["provenance", "status"], "complete")
    else:
        c.checks += 1
        if report["provenance"]["status"] == "complete":
            c.problems.append(f"provenance.status: report says complete, manifests say {statuses}")
        if not report["warnings"]:
            c.problems.append("warnings: an incomplete snapshot must carry a warning")

    summary = {"checks": c.checks, "problems": c.problems}
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for p in c.problems:
            print("MISMATCH", p)
        print(f"{c.checks} figures checked, {len(c.problems)} mismatches")
    return 1 if c.problems else 0


if __name__ == "__main__":
    sys.exit(main())
