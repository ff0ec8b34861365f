#!/usr/bin/env bash
# Submits a sharded evaluation: an array of N shard tasks, then a merge job that
# starts when all of them have succeeded.
# Usage: submit.sh N OUT_DIR [trutheye eval flags: --data ... --policy ... ...]
# The merged run lands in OUT_DIR/merged.
set -euo pipefail
count="${1:?usage: submit.sh N OUT_DIR [eval flags]}"
out="${2:?usage: submit.sh N OUT_DIR [eval flags]}"
shift 2
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
home="${TRUTHEYE_HOME:-$(cd "$here/../../.." && pwd)}"
exports="ALL,TRUTHEYE_HOME=$home,TRUTHEYE_OUT=$out"
array_job=$(sbatch --parsable --array="0-$((count - 1))" --export="$exports" "$here/eval.sbatch" "$@")
array_job="${array_job%%;*}"
merge_job=$(sbatch --parsable --dependency="afterok:$array_job" --export="$exports" "$here/merge.sbatch" "$count")
echo "submitted shards: job $array_job (array 0-$((count - 1))); merge: job $merge_job -> $out/merged"
