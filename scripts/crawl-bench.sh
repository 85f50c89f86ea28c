#!/usr/bin/env bash
# Crawl benchmark (issue 4): crawl N simulated domains and print domains/s, DNS queries/s
# next to what dnsperf reaches through the same Unbound on the same names (the ratio is
# the figure to push toward 1), SMTP probes/s, peak RSS and bytes of Parquet per domain.
# Targets: DNS ratio >= 0.9; peak RSS under 300 MiB, and the same for 100k and 1M.
#
# Usage: scripts/crawl-bench.sh [N ...]        (default: 100000 1000000)
# Env:   MXCENSUS_BIN  binary (default: build and use target/release/mxcensus)
#        SEED (1) CONCURRENCY (1024) SMTP_CONCURRENCY (256)
#        DNSPERF_CLIENTS (8) DNSPERF_Q (1024: queries outstanding, the crawl's DNS window)
#        RESOLVER_PORT SMTP_PORT HTTPS_PORT AUTH_PORT (22053 22025 22443 25302)
#        KEEP=1 keeps the work directory
#
# How: for each N, `simnet up` (release) runs in the background with the default profile
# scaled down in time (slow policy host 4 s, slow greeting 0.3 s; the crawl's time-outs
# with it), the crawl runs under /usr/bin/time -v (peak RSS), and its summary
# (--summary-json) gives the DNS queries it sent (every try and CD re-query), SMTP probes
# and elapsed time. Then the world is restarted (same seed: same names, cold Unbound
# cache again, as the crawl had) and dnsperf asks the crawl's own questions once: MX,
# _mta-sts TXT and _smtp._tls TXT of every domain, A/AAAA and _25._tcp TLSA of every
# distinct MX host, A/AAAA of every policy host (taken from the snapshot). The DNS ratio
# is the crawl's DNS queries/s over dnsperf's queries/s. The crawl's rate includes its
# SMTP and HTTPS work, so the ratio measures how well the crawl keeps the resolver busy.
set -euo pipefail

SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(100000 1000000)
SEED=${SEED:-1}
CONCURRENCY=${CONCURRENCY:-1024}
SMTP_CONCURRENCY=${SMTP_CONCURRENCY:-256}
DNSPERF_CLIENTS=${DNSPERF_CLIENTS:-8}
DNSPERF_Q=${DNSPERF_Q:-1024}
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

printf '%-9s %9s %10s %11s %8s %11s %12s %11s %10s\n' \
    domains domains/s dns_q/s dnsperf_q/s ratio smtp_prb/s peak_rss_MiB parquet_B/d crawl_s
for N in "${SIZES[@]}"; do
    WORK=$(mktemp -d /tmp/crawl-bench.XXXXXX)
    sed -e 's/^slow_fetch_ms = .*/slow_fetch_ms = 4000/' \
        -e 's/^slow_greeting_ms = .*/slow_greeting_ms = 300/' \
        "$ROOT/crates/mxcensus-simnet/src/default_profile.toml" >"$WORK/profile.toml"

    start_world "$N" "$WORK/world"
    CRAWL=("$MXCENSUS_BIN" crawl --simnet "$WORK/world/simnet.json" --out "$WORK/out"
        --snapshot bench -q --summary-json "$WORK/summary.json"
        --concurrency "$CONCURRENCY" --smtp-concurrency "$SMTP_CONCURRENCY"
        --dns-qps 0 --connects-per-sec 0 --per-network 64
        --connect-timeout 2 --greeting-timeout 3 --command-timeout 3 --policy-timeout 2)
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
    echo "# dnsperf -D -s 127.0.53.1 -p $RESOLVER_PORT -d names.txt ($(wc -l <"$WORK/names.txt") names) -n 1 -c $DNSPERF_CLIENTS -q $DNSPERF_Q -t 10" >&2
    dnsperf -D -s 127.0.53.1 -p "$RESOLVER_PORT" -d "$WORK/names.txt" -n 1 \
        -c "$DNSPERF_CLIENTS" -q "$DNSPERF_Q" -t 10 >"$WORK/dnsperf.txt" 2>&1 || true
    stop_world

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
print("%-9d %9.0f %10.0f %11.0f %8.2f %11.0f %12.1f %11.0f %10.1f" % (
    n, p["domains_done"] / secs, dns_qps, perf_qps, dns_qps / perf_qps if perf_qps else float("nan"),
    p["smtp_probes"] / secs, rss_kib / 1024, parquet / max(p["domains_done"], 1), secs))
lost = re.search(r"Queries lost:\s+(\d+)", perf)
print("#   dns queries %d, smtp probes %d (cache hits %d), policy fetches %d, dnsperf lost %s, work %s" % (
    p["dns_queries"], p["smtp_probes"], p["smtp_cache_hits"], p["policy_fetches"],
    lost.group(1) if lost else "?", work), file=sys.stderr)
PY
    [[ -n "${KEEP:-}" ]] || rm -rf "$WORK"
done
