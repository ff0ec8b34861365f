#!/usr/bin/env bash
# Joins the shards `eval-shard.sh` wrote under $TRUTHEYE_OUT into
# $TRUTHEYE_OUT/merged (metrics.json, report.md, report.html as one run would
# have written them). Refuses missing, duplicated or overlapping shards.
# Usage: eval-merge.sh N [extra `eval merge` flags, e.g. --data PATH]
set -euo pipefail
count="${1:?usage: eval-merge.sh N [--data PATH]}"
shift
root="${TRUTHEYE_OUT:?eval-merge.sh: set TRUTHEYE_OUT to the directory that holds the shards}"
dirs=()
for ((i = 0; i < count; i++)); do
    dirs+=("$root/shard-${i}-of-${count}")
done
exec "${TRUTHEYE_BIN:-trutheye}" eval merge "${dirs[@]}" --out "${TRUTHEYE_MERGED:-$root/merged}" "$@"
