#!/usr/bin/env bash
# One shard of a sharded `trutheye eval`, as a Slurm array task or a Kubernetes
# Indexed Job pod runs it. Every argument is passed to `trutheye eval`.
#
#   shard index: SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX (Kubernetes)
#   shard count: TRUTHEYE_SHARDS, else SLURM_ARRAY_TASK_COUNT
#   output:      $TRUTHEYE_OUT/shard-I-of-N   (TRUTHEYE_OUT is required)
#   binary:      $TRUTHEYE_BIN, else `trutheye` on PATH
#
# Running it again for the same shard resumes it (a requeued Slurm task, a
# restarted pod): episodes already written are kept, the rest run.
set -euo pipefail

index="${SLURM_ARRAY_TASK_ID:-${JOB_COMPLETION_INDEX:-}}"
count="${TRUTHEYE_SHARDS:-${SLURM_ARRAY_TASK_COUNT:-}}"
if [[ -z "$index" || -z "$count" ]]; then
    echo "eval-shard.sh: no shard index/count: set SLURM_ARRAY_TASK_ID and SLURM_ARRAY_TASK_COUNT (Slurm array), or JOB_COMPLETION_INDEX and TRUTHEYE_SHARDS (Kubernetes Indexed Job)" >&2
    exit 2
fi
if [[ -n "${SLURM_ARRAY_TASK_MIN:-}" && "${SLURM_ARRAY_TASK_MIN}" != 0 ]]; then
    echo "eval-shard.sh: the array must start at 0 (sbatch --array=0-$((count - 1)))" >&2
    exit 2
fi
out="${TRUTHEYE_OUT:?eval-shard.sh: set TRUTHEYE_OUT to the directory that holds the shards}/shard-${index}-of-${count}"
mkdir -p "$out"
resume=()
if [[ -s "$out/predictions.jsonl" ]]; then
    resume=(--resume)
    echo "eval-shard.sh: resuming shard ${index}/${count} in $out" >&2
fi
exec "${TRUTHEYE_BIN:-trutheye}" eval --shard "${index}/${count}" --out "$out" "${resume[@]}" "$@"
