#!/usr/bin/env bash
# Slurm job array template: one array task per shard, each resumable. Submit with
#
#   sbatch --array=0-15 scripts/study/slurm-array.sh tranco.csv /shared/snapshots 2026-11-29 16
#
# (the array size must equal SHARDS). A task that is preempted, killed or requeued
# (`#SBATCH --requeue`) resumes its shard: committed rows are kept, their domains and MX
# probes skipped, nothing is duplicated. When every task is done, run
# `mxcensus report /shared/snapshots/snapshot=2026-11-29` (e.g. as a dependent job:
# sbatch --dependency=afterok:<jobid> ...).
#
# Politeness limits (--dns-qps, --connects-per-sec, --per-address, --per-network) apply per
# task: divide the study's budget by the number of tasks that run at once
# (`--array=0-15%4` runs four at a time).
#SBATCH --job-name=mxcensus
#SBATCH --cpus-per-task=2
#SBATCH --mem=1G
#SBATCH --time=24:00:00
#SBATCH --requeue
#SBATCH --output=mxcensus-%A-%a.log
set -euo pipefail
input="$1" out="$2" snapshot="$3" shards="$4"
shift 4
: "${SLURM_ARRAY_TASK_ID:?run me with sbatch --array=0-$((shards - 1))}"
i="$SLURM_ARRAY_TASK_ID"
resume=()
# Resume whenever this shard already has output (a requeued or re-submitted task).
[ -d "$out/snapshot=$snapshot/shard=$i" ] && resume=(--resume)
exec "${MXCENSUS_BIN:-mxcensus}" crawl "$input" --out "$out" --snapshot "$snapshot" \
  --shard "$i/$shards" "${resume[@]}" "$@"
