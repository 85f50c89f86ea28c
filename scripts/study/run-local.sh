#!/usr/bin/env bash
# Run a whole study on one machine: crawl every shard of an input list (in parallel, each
# resumed after a crash or kill until complete), then write the report, and the diff
# against a previous snapshot when one is given. The same shard/resume contract as the
# Slurm and Kubernetes templates beside this script, without a scheduler.
#
#   scripts/study/run-local.sh INPUT OUT SNAPSHOT_ID SHARDS [PREVIOUS_SNAPSHOT_DIR] [-- CRAWL FLAGS...]
#
#   INPUT      Tranco-style CSV or plain list (see datasets/README.md)
#   OUT        output directory; the snapshot lands in OUT/snapshot=SNAPSHOT_ID/shard=<i>/
#   SHARDS     number of shards, crawled PARALLEL at a time (env, default 1: the politeness
#              limits are per process, so parallel shards multiply the load on resolvers
#              and mail servers: raise with care)
#   PREVIOUS   a snapshot=<id> directory of an earlier crawl of the same input: diffed
#   after `--`, flags passed to every `mxcensus crawl` (--resolver, --exclude, rates...)
#
# Environment: MXCENSUS_BIN (default: mxcensus on PATH), PARALLEL (default 1),
# ATTEMPTS (crawl attempts per shard before giving up, default 5).
# Exit status: 0 when every shard completed and the report was written, 1 otherwise.
set -euo pipefail

usage() {
  sed -n '2,20p' "$0" >&2
  exit 2
}
[ "$#" -ge 4 ] || usage
input="$1" out="$2" snapshot="$3" shards="$4"
shift 4
previous=""
if [ "$#" -gt 0 ] && [ "$1" != "--" ]; then
  previous="$1"
  shift
fi
[ "$#" -gt 0 ] && [ "$1" = "--" ] && shift
crawl_flags=("$@")
bin="${MXCENSUS_BIN:-mxcensus}"
parallel="${PARALLEL:-1}"
attempts="${ATTEMPTS:-5}"
case "$shards" in '' | *[!0-9]* | 0) echo "run-local: SHARDS must be a positive integer" >&2; exit 2 ;; esac
mkdir -p "$out/logs"

# One shard: crawl, and on any failure (crash, kill, interruption) resume until complete.
crawl_shard() {
  local i="$1" n=1 rc
  while :; do
    local resume=()
    # Existing output (an earlier run of this study, killed or crashed): resume it.
    if [ -d "$out/snapshot=$snapshot/shard=$i" ]; then
      resume=(--resume)
      echo "run-local: shard $i/$shards: resuming its committed rows (attempt $n)" >&2
    fi
    set +e
    "$bin" crawl "$input" --out "$out" --snapshot "$snapshot" --shard "$i/$shards" \
      "${resume[@]}" "${crawl_flags[@]}" >>"$out/logs/shard-$i.log" 2>&1
    rc=$?
    set -e
    if [ "$rc" -eq 0 ]; then
      echo "run-local: shard $i/$shards complete (attempt $n)" >&2
      return 0
    fi
    if [ "$rc" -eq 2 ] && ! [ -d "$out/snapshot=$snapshot/shard=$i" ]; then
      echo "run-local: shard $i/$shards: usage or set-up error (see $out/logs/shard-$i.log)" >&2
      return 1
    fi
    if [ "$n" -ge "$attempts" ]; then
      echo "run-local: shard $i/$shards failed $n times (exit $rc; see $out/logs/shard-$i.log)" >&2
      return 1
    fi
    echo "run-local: shard $i/$shards exited $rc" >&2
    n=$((n + 1))
    sleep 2
  done
}

failed=0
pids=()
for ((i = 0; i < shards; i++)); do
  crawl_shard "$i" &
  pids+=("$!")
  if [ "${#pids[@]}" -ge "$parallel" ]; then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do
  wait "$pid" || failed=1
done
if [ "$failed" -ne 0 ]; then
  echo "run-local: some shards did not complete; rerun the same command to resume them" >&2
  exit 1
fi

snap_dir="$out/snapshot=$snapshot"
"$bin" report "$snap_dir" --out "$out/report-$snapshot"
if [ -n "$previous" ]; then
  "$bin" diff "$previous" "$snap_dir" --out "$out/diff-$snapshot"
fi
echo "run-local: snapshot $snap_dir, report $out/report-$snapshot" >&2
