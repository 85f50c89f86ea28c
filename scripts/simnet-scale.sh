#!/usr/bin/env bash
# Scale check of the simulated Internet: start `mxcensus simnet up --domains N` (release),
# measure the time until DIR/simnet.json appears and the peak RSS (VmHWM) of the process,
# query a sample of names through the resolver with dig, and print the figures.
#
# Usage: scripts/simnet-scale.sh [N] [SAMPLE]
# Env:   MXCENSUS_BIN   binary to run (default: build and use target/release/mxcensus)
#        SIMNET_DIR     world directory (default: a temporary directory)
#        SEED           world seed (default 1)
#        RESOLVER_PORT SMTP_PORT HTTPS_PORT AUTH_PORT   ports (defaults: 21053 21025 21443 25301)
#        DNSPERF_SECONDS  length of the dnsperf runs when dnsperf is installed (default 15, 0 skips)
# Targets (SIMNET.md): ready in under 60 s, RSS under 1 GiB at 1,000,000 domains.
set -euo pipefail

N=${1:-1000000}
SAMPLE=${2:-200}
SEED=${SEED:-1}
RESOLVER_PORT=${RESOLVER_PORT:-21053}
SMTP_PORT=${SMTP_PORT:-21025}
HTTPS_PORT=${HTTPS_PORT:-21443}
AUTH_PORT=${AUTH_PORT:-25301}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [[ -z "${MXCENSUS_BIN:-}" ]]; then
    (cd "$ROOT" && cargo build --release -p mxcensus >&2)
    MXCENSUS_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/mxcensus"
fi
DIR=${SIMNET_DIR:-$(mktemp -d /tmp/simnet-scale.XXXXXX)}
mkdir -p "$DIR"
rm -f "$DIR/simnet.json"
command -v dig >/dev/null || { echo "dig is required" >&2; exit 2; }

start=$(date +%s.%N)
"$MXCENSUS_BIN" simnet up --domains "$N" --seed "$SEED" --dir "$DIR" \
    --resolver-port "$RESOLVER_PORT" --smtp-port "$SMTP_PORT" \
    --https-port "$HTTPS_PORT" --auth-port "$AUTH_PORT" 2>"$DIR/simnet.stderr" &
PID=$!
cleanup() { kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; }
trap cleanup EXIT

peak_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$PID/status" 2>/dev/null || echo 0; }

while [[ ! -s "$DIR/simnet.json" ]]; do
    if ! kill -0 "$PID" 2>/dev/null; then
        echo "simnet exited before it was ready:" >&2
        cat "$DIR/simnet.stderr" >&2
        exit 1
    fi
    sleep 0.2
done
ready=$(date +%s.%N)
ready_s=$(echo "$ready - $start" | bc)
rss_ready=$(peak_kib)

resolver=$(sed -n 's/.*"resolver": "\(.*\)".*/\1/p' "$DIR/simnet.json")
rip=${resolver%:*}
rport=${resolver##*:}

# A spread-out sample of the input list: MX, TXT at _mta-sts and A of the first MX.
total=$(wc -l <"$DIR/domains.csv")
step=$(( total / SAMPLE > 0 ? total / SAMPLE : 1 ))
awk -F, -v s="$step" 'NR % s == 1 {print $2}' "$DIR/domains.csv" | head -n "$SAMPLE" >"$DIR/sample.txt"
noerror=0; servfail=0; other=0; secure=0; queries=0
qstart=$(date +%s.%N)
while read -r d; do
    for q in "MX $d" "TXT _mta-sts.$d"; do
        out=$(dig @"$rip" -p "$rport" +dnssec +time=10 +tries=1 $q 2>/dev/null || true)
        queries=$((queries + 1))
        case "$out" in
            *"status: NOERROR"*|*"status: NXDOMAIN"*) noerror=$((noerror + 1)) ;;
            *"status: SERVFAIL"*) servfail=$((servfail + 1)) ;;
            *) other=$((other + 1)) ;;
        esac
        if grep -q "^;; flags:.* ad" <<<"$out"; then secure=$((secure + 1)); fi
    done
done <"$DIR/sample.txt"
qend=$(date +%s.%N)
q_s=$(echo "$qend - $qstart" | bc)
rss_end=$(peak_kib)

# Throughput: uncached names through Unbound, and straight at the authoritative engine.
DNSPERF_SECONDS=${DNSPERF_SECONDS:-15}
perf_unbound="skipped"; perf_auth="skipped"
if command -v dnsperf >/dev/null && [[ "$DNSPERF_SECONDS" != 0 ]]; then
    auth=$(sed -n 's/.*"auth_dns": "\(.*\)".*/\1/p' "$DIR/simnet.json")
    shuf -n 100000 --random-source=<(yes) "$DIR/domains.csv" | cut -d, -f2 \
        | awk '{print $1" MX"; print "_mta-sts."$1" TXT"}' >"$DIR/queries.txt"
    perf_unbound=$(dnsperf -s "$rip" -p "$rport" -d "$DIR/queries.txt" -l "$DNSPERF_SECONDS" -D -q 500 -t 10 2>&1 \
        | awk '/Queries per second/ {print $4" q/s"}')
    perf_auth=$(dnsperf -s "${auth%:*}" -p "${auth##*:}" -d "$DIR/queries.txt" -l "$DNSPERF_SECONDS" -D -q 500 -t 5 2>&1 \
        | awk '/Queries per second/ {print $4" q/s"}')
    rss_end=$(peak_kib)
fi

upid=$(sed -n 's/.*"unbound_pid": \([0-9]*\).*/\1/p' "$DIR/simnet.json")
rss_unbound=0
if [[ -n "$upid" ]]; then
    rss_unbound=$(awk '/^VmHWM:/ {print $2}' "/proc/$upid/status" 2>/dev/null || echo 0)
fi

echo "simnet scale: $N domains, seed $SEED, dir $DIR"
echo "  time to ready:        ${ready_s} s (target < 60 s)"
echo "  peak RSS at ready:    $((rss_ready / 1024)) MiB"
echo "  peak RSS at the end:  $((rss_end / 1024)) MiB (target < 1024 MiB; Unbound not included)"
echo "  Unbound peak RSS:     $((rss_unbound / 1024)) MiB"
echo "  dig sample:           $queries queries over ${SAMPLE} domains in ${q_s} s"
echo "                        NOERROR/NXDOMAIN $noerror, SERVFAIL $servfail, other/timeout $other, AD $secure"
echo "  dnsperf (DO bit):     via Unbound $perf_unbound; authoritative engine direct $perf_auth"
echo "  truth.parquet:        $(du -h "$DIR/truth.parquet" | cut -f1), domains.csv $(du -h "$DIR/domains.csv" | cut -f1)"
