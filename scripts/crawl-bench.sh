#!/usr/bin/env bash
# Crawl benchmark (issue 4): crawl N simulated domains and print domains/s, DNS queries/s
# next to what dnsperf reaches through the same Unbound on the same names (the ratio is
# the figure to push toward 1), SMTP probes/s, peak RSS and bytes of Parquet per domain,
# then compare the snapshot with the world's truth.parquet (DuckDB, when installed).
# Targets: DNS ratio >= 0.9; peak RSS under 300 MiB, and the same for 100k and 1M.
#
# Usage: scripts/crawl-bench.sh [N ...]        (default: 100000 1000000)
# Env:   MXCENSUS_BIN  binary (default: build and use target/release/mxcensus)
#        SEED (1) CONCURRENCY (1024) SMTP_CONCURRENCY (256)
#        DNSPERF_CLIENTS (8) DNSPERF_Q (1024: queries outstanding, the crawl's DNS window)
#        DNS_TIMEOUT (5: the crawl's --dns-timeout and dnsperf's -t, so that both wait as
#        long for a lost answer)
#        RESOLVER_PORT SMTP_PORT HTTPS_PORT AUTH_PORT (22053 22025 22443 25302)
#        DNS_STAGE (1: also crawl once more with every address excluded; 0: skip)
#        LATE_RETRY_DELAY (0: the crawl's late retry of transiently failed domains waits
#        30 s by default, an idle pause that would stretch the DNS window of a short run
#        and that dnsperf, which never retries, does not have; set 30 to measure it)
#        KEEP=1 keeps the work directory
#
# How: for each N, `simnet up` (release) runs in the background with the default profile
# scaled down in time (slow policy host 4 s, slow greeting 0.3 s; the crawl's time-outs
# with it), the crawl runs under /usr/bin/time -v (peak RSS), and its summary
# (--summary-json) gives the DNS queries it sent (every try and CD re-query), SMTP probes
# and elapsed time. Then the world is restarted (same seed: same names, cold Unbound
# cache again, as the crawl had) and dnsperf asks the crawl's own questions once: MX,
# _mta-sts TXT and _smtp._tls TXT of every domain, A/AAAA and _25._tcp TLSA of every
# distinct MX host, A/AAAA of every policy host (taken from the snapshot), with the same
# window (1024 outstanding over 8 sockets) and the same per-try time-out as the crawl.
# dnsperf does not retry; the crawl does (3 tries), and its retries count as queries.
# Two crawl rates are printed: dns_q/s over the whole run (its SMTP/HTTPS tail included,
# after the last DNS answer), and stage_q/s over its DNS window (first domain start to
# the last DNS answer: `dns_active_secs` in the summary), which is what dnsperf's own
# run time measures. `ratio` is stage_q/s over dnsperf's queries/s; `ratio_all` uses
# the whole run. The crawl's politeness limits are lifted for the measurement:
# --dns-qps 0 --connects-per-sec 0 (no token buckets) and --per-network 64.
# On this machine the simulated SMTP and HTTPS servers share the CPU with Unbound while
# the crawl runs, but not while dnsperf does; so with DNS_STAGE=1 the crawl runs once
# more on a fresh world with every address excluded (--exclude 0.0.0.0/0 and ::/0: the
# same DNS questions, no connection), and `dns_stage_ratio` is that run's DNS
# queries/s over dnsperf's: the DNS stage alone, as the target asks.
set -euo pipefail

SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(100000 1000000)
SEED=${SEED:-1}
CONCURRENCY=${CONCURRENCY:-1024}
SMTP_CONCURRENCY=${SMTP_CONCURRENCY:-256}
DNSPERF_CLIENTS=${DNSPERF_CLIENTS:-8}
DNSPERF_Q=${DNSPERF_Q:-1024}
DNS_TIMEOUT=${DNS_TIMEOUT:-5}
LATE_RETRY_DELAY=${LATE_RETRY_DELAY:-0}
RESOLVER_PORT=${RESOLVER_PORT:-22053}
SMTP_PORT=${SMTP_PORT:-22025}
HTTPS_PORT=${HTTPS_PORT:-22443}
AUTH_PORT=${AUTH_PORT:-25302}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

for tool in dnsperf python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "crawl-bench: $tool is required" >&2; exit 2; }
done
python3 -c 'import pyarrow' 2>/dev/null || { echo "crawl-bench: pip install pyarrow" >&2; exit 2; }
if [[ -z "${MXCENSUS_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release -p mxcensus >&2)
    MXCENSUS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/mxcensus"
fi

SIM_PID=
stop_world() {
    if [[ -n "$SIM_PID" ]]; then
        kill -TERM "$SIM_PID" 2>/dev/null || true
        wait "$SIM_PID" 2>/dev/null || true
        SIM_PID=
    fi
}
trap stop_world EXIT

# start_world N DIR: runs `simnet up` in the background until DIR/simnet.json appears.
start_world() {
    local n=$1 dir=$2
    mkdir -p "$dir"
    rm -f "$dir/simnet.json"
    "$MXCENSUS_BIN" simnet up --domains "$n" --seed "$SEED" --dir "$dir" \
        --profile "$WORK/profile.toml" \
        --resolver-port "$RESOLVER_PORT" --smtp-port "$SMTP_PORT" \
        --https-port "$HTTPS_PORT" --auth-port "$AUTH_PORT" >"$dir/simnet.out" 2>&1 &
    SIM_PID=$!
    while [[ ! -s "$dir/simnet.json" ]]; do
        if ! kill -0 "$SIM_PID" 2>/dev/null; then
            echo "crawl-bench: simnet exited before it was ready:" >&2
            cat "$dir/simnet.out" >&2
            exit 1
        fi
        sleep 0.2
    done
}

DNS_STAGE=${DNS_STAGE:-1}
printf '%-9s %9s %9s %10s %11s %6s %9s %9s %10s %12s %11s %8s\n' \
    domains domains/s dns_q/s stage_q/s dnsperf_q/s ratio ratio_all dns_stage smtp_prb/s \
    peak_rss_MiB parquet_B/d crawl_s
for N in "${SIZES[@]}"; do
    WORK=$(mktemp -d /tmp/crawl-bench.XXXXXX)
    sed -e 's/^slow_fetch_ms = .*/slow_fetch_ms = 4000/' \
        -e 's/^slow_greeting_ms = .*/slow_greeting_ms = 300/' \
        "$ROOT/crates/mxcensus-simnet/src/default_profile.toml" >"$WORK/profile.toml"

    start_world "$N" "$WORK/world"
    CRAWL=("$MXCENSUS_BIN" crawl --simnet "$WORK/world/simnet.json" --out "$WORK/out"
        --summary-json "$WORK/summary.json" --snapshot bench -q
        --concurrency "$CONCURRENCY" --smtp-concurrency "$SMTP_CONCURRENCY"
        --dns-qps 0 --connects-per-sec 0 --per-network 64 --dns-timeout "$DNS_TIMEOUT"
        --connect-timeout 2 --greeting-timeout 3 --command-timeout 3 --policy-timeout 2
        --late-retry-delay "$LATE_RETRY_DELAY")
    echo "# ${CRAWL[*]}" >&2
    /usr/bin/time -v -o "$WORK/time.txt" "${CRAWL[@]}" 2>"$WORK/crawl.err" \
        || { cat "$WORK/crawl.err" >&2; exit 1; }
    stop_world

    # The crawl's own questions, from the input and the snapshot.
    python3 - "$WORK" >"$WORK/names.txt" <<'PY'
import csv, glob, sys
import pyarrow.parquet as pq
work = sys.argv[1]
out = sys.stdout
with open(work + "/world/domains.csv", newline="") as f:
    for row in csv.reader(f):
        if len(row) < 2:
            continue
        d = row[1].strip().rstrip(".")
        out.write(f"{d} MX\n_mta-sts.{d} TXT\n_smtp._tls.{d} TXT\n")
def column(table, name):
    vals = set()
    for p in glob.glob(f"{work}/out/*/*/{table}/*.parquet"):
        vals.update(v for v in pq.read_table(p, columns=[name]).column(name).to_pylist() if v)
    return vals
for h in sorted(column("mx", "exchange")):
    out.write(f"{h} A\n{h} AAAA\n_25._tcp.{h} TLSA\n")
for h in sorted(column("policies", "host")):
    out.write(f"{h} A\n{h} AAAA\n")
PY
    start_world "$N" "$WORK/world2"
    echo "# dnsperf -D -s 127.0.53.1 -p $RESOLVER_PORT -d names.txt ($(wc -l <"$WORK/names.txt") names) -n 1 -c $DNSPERF_CLIENTS -q $DNSPERF_Q -t $DNS_TIMEOUT" >&2
    dnsperf -D -s 127.0.53.1 -p "$RESOLVER_PORT" -d "$WORK/names.txt" -n 1 \
        -c "$DNSPERF_CLIENTS" -q "$DNSPERF_Q" -t "$DNS_TIMEOUT" >"$WORK/dnsperf.txt" 2>&1 || true
    stop_world

    if [[ "$DNS_STAGE" == 1 ]]; then
        printf '0.0.0.0/0\n::/0\n' >"$WORK/all-addresses.txt"
        start_world "$N" "$WORK/world3"
        DNS_ONLY=("$MXCENSUS_BIN" crawl --simnet "$WORK/world3/simnet.json"
            --out "$WORK/out-dns" --summary-json "$WORK/summary-dns.json"
            --exclude "$WORK/all-addresses.txt" "${CRAWL[@]:8}")
        echo "# ${DNS_ONLY[*]}" >&2
        "${DNS_ONLY[@]}" 2>"$WORK/crawl-dns.err" || { cat "$WORK/crawl-dns.err" >&2; exit 1; }
        stop_world
    fi

    python3 - "$WORK" "$N" <<'PY'
import glob, json, os, re, sys
work, n = sys.argv[1], int(sys.argv[2])
s = json.load(open(work + "/summary.json"))
p = s["progress"]
secs = p["elapsed_secs"] or 1e-9
time_txt = open(work + "/time.txt").read()
rss_kib = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_txt).group(1))
perf = open(work + "/dnsperf.txt").read()
m = re.search(r"Queries per second:\s+([\d.]+)", perf)
perf_qps = float(m.group(1)) if m else float("nan")
parquet = sum(os.path.getsize(f) for f in glob.glob(work + "/out/*/*/*/*.parquet"))
dns_qps = p["dns_queries"] / secs
try:
    q = json.load(open(work + "/summary-dns.json"))["progress"]
    alone_qps = q["dns_queries"] / (q["elapsed_secs"] or 1e-9)
except OSError:
    alone_qps = float("nan")
stage_qps = p["dns_queries"] / (p.get("dns_active_secs") or secs)
print("%-9d %9.0f %9.0f %10.0f %11.0f %6.2f %9.2f %9.2f %10.0f %12.1f %11.0f %8.1f" % (
    n, p["domains_done"] / secs, dns_qps, stage_qps, perf_qps,
    stage_qps / perf_qps if perf_qps else float("nan"),
    dns_qps / perf_qps if perf_qps else float("nan"),
    alone_qps / perf_qps if perf_qps else float("nan"),
    p["smtp_probes"] / secs, rss_kib / 1024, parquet / max(p["domains_done"], 1), secs))
lost = re.search(r"Queries lost:\s+(\d+)", perf)
print("#   dns queries %d, smtp probes %d (cache hits %d), policy fetches %d, dnsperf lost %s, work %s" % (
    p["dns_queries"], p["smtp_probes"], p["smtp_cache_hits"], p["policy_fetches"],
    lost.group(1) if lost else "?", work), file=sys.stderr)
PY
    # Agreement with the world's ground truth (every verdict column, and error_classes).
    if python3 -c 'import duckdb' 2>/dev/null; then
        python3 - "$WORK" <<'PY' >&2
import duckdb, sys
work = sys.argv[1]
c = duckdb.connect()
c.execute(f"create view s as select * from read_parquet('{work}/out/*/*/domains/*.parquet')")
c.execute(f"create view t as select * from read_parquet('{work}/world/truth.parquet')")
cols = ['mx_status', 'sts_txt', 'sts_policy', 'sts_mode', 'sts_mx_valid', 'starttls',
        'tlsrpt', 'dnssec', 'dane']
rows = c.execute("select (select count(*) from s), (select count(*) from t), "
                 "(select count(*) from s join t using (domain))").fetchone()
print("#   truth: snapshot rows %d, truth rows %d, joined %d" % rows)
for col in cols:
    n = c.execute(f"select count(*) from s join t using (domain) "
                  f"where s.{col} is distinct from t.{col}").fetchone()[0]
    print(f"#   truth: {col} disagrees on {n} domains")
    for r in c.execute(f"select domain, s.{col}, t.{col}, t.planted from s join t using (domain) "
                       f"where s.{col} is distinct from t.{col} limit 3").fetchall():
        print("#     ", r)
q = """with j as (select domain, list_sort(list_distinct(s.error_classes)) se,
                  list_sort(list_distinct(t.error_classes)) te, t.planted from s join t using (domain)),
d as (select *, list_filter(se, lambda x: not list_contains(te, x)) extra,
             list_filter(te, lambda x: not list_contains(se, x)) missing
      from j where se is distinct from te)
"""
print("#   truth: error_classes differ on %d domains" % c.execute(q + "select count(*) from d").fetchone()[0])
for r in c.execute(q + "select e, k, count(*) from (select unnest(extra) e, 'extra' k from d "
                   "union all select unnest(missing) e, 'missing' k from d) group by all "
                   "order by 3 desc limit 10").fetchall():
    print("#     %s %s: %d" % (r[1], r[0], r[2]))
for r in c.execute(q + "select domain, se, te, planted from d limit 5").fetchall():
    print("#     ", r)
PY
    fi
    [[ -n "${KEEP:-}" ]] || rm -rf "$WORK"
done
