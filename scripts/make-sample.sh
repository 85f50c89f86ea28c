#!/usr/bin/env bash
# Regenerate the sample snapshot (datasets/sample/ by default):
#
#   scripts/make-sample.sh [OUT_DIR]
#
# Starts a simulated Internet (`mxcensus simnet up`, 3,000 domains, seed 3) in a temporary
# directory on fixed ports, crawls it into OUT_DIR/snapshot=sample/shard=0/ and copies the
# input list (the world's, plus a few malformed lines for input_errors) to
# OUT_DIR/domains.csv, then stops the world. Everything that could
# make two runs differ is pinned: seed, size, ports, snapshot id, relative paths in the
# manifest, and time-outs far from every planted delay (see datasets/sample/README.md).
#
# Environment:
#   MXCENSUS_BIN   the mxcensus binary (default: build target/release/mxcensus)
#   SAMPLE_DOMAINS number of domains (default 3000; the committed sample uses 3000)
#   SAMPLE_SEED    world seed (default 3; the committed sample uses 3)
#
# Needs unbound (a validating resolver: the DNSSEC/DANE columns need it).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${1:-$root/datasets/sample}"
domains="${SAMPLE_DOMAINS:-3000}"
seed="${SAMPLE_SEED:-3}"
snapshot="sample"

# Fixed ports, away from simnet's defaults (10053/10025/10443/5300, or 53/25/443 as root)
# so a `simnet up` running beside us does not collide. The SMTP and HTTPS ports and the
# resolver address are recorded in the snapshot (smtp.port, policies.port, manifest), so
# they must be the same on every run.
resolver_port=25353
smtp_port=25025
https_port=25443
auth_port=25300

# Delays planted by the world against the crawl's time-outs: a slow greeting (1 s)
# answers well inside the greeting time-out (10 s); a slow policy host (25 s) stays far
# beyond the policy time-out (8 s); a tarpit (never greets) hits the greeting time-out.
# Normal answers on loopback take milliseconds, so a loaded machine has 8-10 s of slack.
slow_greeting_ms=1000
slow_fetch_ms=25000

if [ -n "${MXCENSUS_BIN:-}" ]; then
  bin="$MXCENSUS_BIN"
else
  echo "make-sample: cargo build --release -p mxcensus" >&2
  (cd "$root" && cargo build --release --locked -q -p mxcensus)
  bin="$root/target/release/mxcensus"
fi
bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

work="$(mktemp -d "${TMPDIR:-/tmp}/mxcensus-sample.XXXXXX")"
world="$work/world"
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ] && kill -0 "$sim_pid" 2>/dev/null; then
    kill -TERM "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The built-in profile with the two delays above.
profile="$work/profile.toml"
sed -e "s/^slow_fetch_ms = .*/slow_fetch_ms = $slow_fetch_ms/" \
  -e "s/^slow_greeting_ms = .*/slow_greeting_ms = $slow_greeting_ms/" \
  "$root/crates/mxcensus-simnet/src/default_profile.toml" >"$profile"
grep -q "^slow_fetch_ms = $slow_fetch_ms$" "$profile"
grep -q "^slow_greeting_ms = $slow_greeting_ms$" "$profile"

echo "make-sample: simnet up --domains $domains --seed $seed (world in $world)" >&2
mkdir -p "$world"
"$bin" simnet up --domains "$domains" --seed "$seed" --dir "$world" --profile "$profile" \
  --resolver-port "$resolver_port" --smtp-port "$smtp_port" --https-port "$https_port" \
  --auth-port "$auth_port" >"$work/simnet.out" 2>"$work/simnet.err" &
sim_pid=$!
for _ in $(seq 1 600); do
  [ -s "$world/simnet.json" ] && break
  if ! kill -0 "$sim_pid" 2>/dev/null; then
    echo "make-sample: simnet up exited early:" >&2
    cat "$work/simnet.err" >&2
    exit 1
  fi
  sleep 0.2
done
if [ ! -s "$world/simnet.json" ]; then
  echo "make-sample: simnet up not ready after 120 s" >&2
  cat "$work/simnet.err" >&2
  exit 1
fi
if ! grep -q '"resolver_validates": true' "$world/simnet.json"; then
  echo "make-sample: the world's resolver does not validate (is unbound installed?)" >&2
  exit 1
fi

# The input: the world's list, then a few malformed lines so that `input_errors` has
# rows too (one per reason a list can have; nothing is sent for a rejected line). The
# world's own list is kept as world-domains.csv; the crawl reads domains.csv.
mv "$world/domains.csv" "$world/world-domains.csv"
first="$(head -n 1 "$world/world-domains.csv" | cut -d, -f2)"
{
  cat "$world/world-domains.csv"
  cat <<EOF
# Lines below are malformed on purpose: each becomes a row of input_errors.
$((domains + 1)),https://www.example.com/
$((domains + 2)),postmaster@example.com
$((domains + 3)),localhost
$((domains + 4)),bad_name!.example
$((domains + 5)),$first
top,example.org
$((domains + 6)),example.net,extra
$((domains + 7)),
EOF
} >"$world/domains.csv"
rm -rf "$out/snapshot=$snapshot" "$out/domains.csv"
cp "$world/domains.csv" "$out/domains.csv"

# Relative paths (run from the world directory) keep temporary directories out of the
# manifest. Moderate concurrency: the sample is small and the machine may be busy.
echo "make-sample: crawl --snapshot $snapshot --out $out" >&2
(
  cd "$world"
  "$bin" crawl domains.csv --simnet simnet.json --extra-ca ca.pem --trust-anchor root.ds \
    --out "$out" --snapshot "$snapshot" --quiet \
    --concurrency 64 --smtp-concurrency 32 --dns-qps 0 --connects-per-sec 0 \
    --per-address 1 --per-network 64 \
    --dns-timeout 5 --dns-attempts 3 --connect-timeout 10 --greeting-timeout 10 \
    --command-timeout 10 --policy-timeout 8
)
echo "make-sample: wrote $out/snapshot=$snapshot ($(du -sh "$out/snapshot=$snapshot" | cut -f1))" >&2
