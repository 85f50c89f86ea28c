#!/usr/bin/env bash
# Query rate of mxcensus-probe's DNS client next to dnsperf, through the same validating
# Unbound with a warm cache (DESIGN "Targets": the DNS stage within 90% of dnsperf).
#
# simnet's engine serves a signed bench.test. with COUNT names (examples/dns_bench.rs
# `serve`); Unbound validates with the simnet root's DS; one dnsperf pass warms the cache;
# then dnsperf and the probe each run for SECS seconds on the same names.
# Knobs (env): COUNT SECS CONC (probe lookups in flight) DNSPERF_Q (dnsperf outstanding)
# UB_THREADS BENCH_THREADS (probe runtime threads) BENCH_SOCKETS ROUNDS IP AUTH_IP PORT
# RUN_PREFIX (e.g. "perf record -g") NO_BUILD=1 (use the built example as is).
set -euo pipefail
COUNT=${COUNT:-10000}
SECS=${SECS:-10}
CONC=${CONC:-200}
DNSPERF_Q=${DNSPERF_Q:-200}
UB_THREADS=${UB_THREADS:-1}
IP=${IP:-127.0.53.31}
AUTH_IP=${AUTH_IP:-127.0.53.32}
PORT=${PORT:-15353}
UNBOUND=${UNBOUND:-/usr/sbin/unbound}

cd "$(dirname "$0")/.."
[ -n "${NO_BUILD:-}" ] || cargo build --quiet --release -p mxcensus-probe --example dns_bench
BIN=target/release/examples/dns_bench
DIR=$(mktemp -d /tmp/dns-bench.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT

"$BIN" serve "$AUTH_IP:0" "$DIR/names.txt" "$COUNT" > "$DIR/auth.out" &
PIDS+=($!)
for _ in $(seq 100); do grep -q '^auth ' "$DIR/auth.out" 2>/dev/null && break; sleep 0.1; done
read -r _ AIP APORT < "$DIR/auth.out"

cat > "$DIR/unbound.conf" <<CONF
server:
    interface: $IP
    port: $PORT
    do-ip6: no
    access-control: 127.0.0.0/8 allow
    username: ""
    chroot: ""
    directory: "$DIR"
    pidfile: "$DIR/unbound.pid"
    use-syslog: no
    verbosity: 0
    num-threads: $UB_THREADS
    do-not-query-localhost: no
    module-config: "validator iterator"
    trust-anchor-file: "$DIR/names.txt.ds"
    local-zone: "test." nodefault
    msg-cache-size: 64m
    rrset-cache-size: 128m
    outgoing-range: 4096
    num-queries-per-thread: 4096
    so-rcvbuf: 4m
    so-sndbuf: 4m
remote-control:
    control-enable: no
stub-zone:
    name: "."
    stub-addr: $AIP@$APORT
    stub-prime: no
stub-zone:
    name: "test."
    stub-addr: $AIP@$APORT
    stub-prime: no
CONF
"$UNBOUND" -d -c "$DIR/unbound.conf" 2> "$DIR/unbound.log" &
PIDS+=($!)
for _ in $(seq 100); do
    dig +short +time=1 +tries=1 @"$IP" -p "$PORT" h0.bench.test A >/dev/null 2>&1 && break
    sleep 0.2
done

echo "== warm-up: dnsperf -n 1 over $COUNT names"
dnsperf -s "$IP" -p "$PORT" -d "$DIR/names.txt" -n 1 -D -q 100 | grep -E 'Queries (completed|lost)'
ROUNDS=${ROUNDS:-3}
echo "== $ROUNDS alternating rounds of $SECS s each:"
echo "   dnsperf -s $IP -p $PORT -d names.txt -l $SECS -D -q $DNSPERF_Q"
echo "   dns_bench run $IP:$PORT names.txt $SECS $CONC   (BENCH_THREADS=${BENCH_THREADS:-2} BENCH_SOCKETS=${BENCH_SOCKETS:-default})"
for round in $(seq "$ROUNDS"); do
    dnsperf -s "$IP" -p "$PORT" -d "$DIR/names.txt" -l "$SECS" -D -q "$DNSPERF_Q" \
        | awk -v r="$round" '/Queries lost/ {lost = $3} /Queries per second/ {qps = $4}
            END {printf "round %s dnsperf:        %.0f queries/s (lost %s)\n", r, qps, lost}'
    ${RUN_PREFIX:-} "$BIN" run "$IP:$PORT" "$DIR/names.txt" "$SECS" "$CONC" | sed "s/^/round $round /"
done
