#!/usr/bin/env bash
# A real ms-swift GRPO run through the trutheye bridge, on the CPU, no vLLM.
#
#   trainer/python/grpo_cpu_step.sh [OUT_DIR]        # default: target/grpo-cpu
#
# What it does (each step is redone from scratch on every run, except the venv):
#   1. target/swift-venv: ms-swift 4.6.0 with a CPU-usable torch (the PyTorch CPU
#      index when reachable, else PyPI) and transformers <5.20 (ms-swift 4.6.0's
#      pin); reused when its marker matches the pins below.
#   2. OUT/model: a copy of the tiny Qwen2.5-VL fixture (model/fixtures/qwen25vl/
#      tiny-deep, random weights, 734-token tokenizer) with max_position_embeddings
#      raised to 32768 (the real model has 128000): trutheye's PVR system prompt is
#      ~5.7k tokens in the fixture's tiny tokenizer, over the fixture's 4096.
#   3. OUT/data: four Pillow-made images (authentic gradients, tampered ones with
#      a pasted box) + manifest.jsonl; `trutheye data grpo` turns them into the
#      ms-swift GRPO set OUT/grpo.jsonl (system + <image> prompt, solution, bbox).
#   4. `trutheye serve` on a Unix socket in a private temporary directory.
#   5. `swift rlhf --rlhf_type grpo --use_vllm false` (ms-swift's TransformersEngine
#      generates, colocated) with --multi_turn_scheduler trutheye_scheduler and
#      --reward_funcs trutheye_forenagent trutheye_trutheye2, 2 generations of 1
#      prompt per step, MAX_STEPS steps (default 3). ms-swift's own log:
#      OUT/swift/logging.jsonl (one line per step: rewards, num_turns, loss, kl),
#      OUT/swift/completions.jsonl (each completion with its rewards), stdout and
#      stderr in OUT/swift.log.
#   6. The server's `stats` (sessions opened, turns executed, format errors) in
#      OUT/serve_stats.json, then the server is stopped (SIGTERM) and the
#      temporary directory removed, also on failure.
#
# Env: TRUTHEYE_BIN (default target/debug/trutheye; build it with
# `cargo build -p trutheye`), SWIFT_VENV (default target/swift-venv),
# PYTHON (the interpreter that creates the venv, default python3), MAX_STEPS.
# Not part of CI: it downloads ~4 GB of wheels on the first run and takes
# about two minutes on two cores afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OUT=$(mkdir -p "${1:-$ROOT/target/grpo-cpu}" && cd "${1:-$ROOT/target/grpo-cpu}" && pwd)
BIN=${TRUTHEYE_BIN:-$ROOT/target/debug/trutheye}
VENV=${SWIFT_VENV:-$ROOT/target/swift-venv}
PYTHON=${PYTHON:-python3}
MAX_STEPS=${MAX_STEPS:-3}
FIXTURE=$ROOT/model/fixtures/qwen25vl/tiny-deep
PINS=("ms-swift==4.6.0" "transformers>=5,<5.20" "torch" "torchvision" "qwen_vl_utils" "msgspec" "pillow")

die() { echo "grpo_cpu_step: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

[ -x "$BIN" ] || die "no trutheye binary at $BIN (run \`cargo build -p trutheye-cli\` or set TRUTHEYE_BIN)"
[ -f "$FIXTURE/model.safetensors" ] || die "the fixture $FIXTURE is missing"

# --- 1. the venv -------------------------------------------------------------------
marker="$VENV/.trutheye-pins"
if [ ! -x "$VENV/bin/swift" ] || [ "$(cat "$marker" 2>/dev/null)" != "${PINS[*]}" ]; then
    say "creating $VENV (${PINS[*]})"
    "$PYTHON" -m venv "$VENV" || die "could not create a venv with $PYTHON"
    "$VENV/bin/pip" install -q --upgrade pip || die "pip upgrade failed (no network?)"
    index=()
    if curl -sf --max-time 10 -o /dev/null https://download.pytorch.org/whl/cpu/torch/; then
        index=(--index-url https://download.pytorch.org/whl/cpu --extra-index-url https://pypi.org/simple)
    else
        say "download.pytorch.org unreachable: torch from PyPI (a CUDA build; it runs on the CPU here)"
    fi
    # msgspec: imported by swift.rlhf_trainers.utils but not declared by ms-swift 4.6.0.
    "$VENV/bin/pip" install -q "${index[@]}" "${PINS[@]}" || die "installing ${PINS[*]} failed"
    echo "${PINS[*]}" > "$marker"
fi
"$VENV/bin/python" - <<'EOF' >&2 || die "the venv $VENV does not import swift/torch/transformers"
import importlib.metadata as m
print("== ms-swift", m.version("ms-swift"), "| torch", m.version("torch"), "| transformers", m.version("transformers"), "| trl", m.version("trl"))
EOF

# --- 2. the model ------------------------------------------------------------------
say "assembling $OUT/model from $FIXTURE"
rm -rf "$OUT/model" && cp -r "$FIXTURE" "$OUT/model"
"$VENV/bin/python" - "$OUT/model" <<'EOF'
import json, os, sys
d = sys.argv[1]
for name, keys in (("config.json", ("max_position_embeddings",)), ("tokenizer_config.json", ("model_max_length",))):
    p = os.path.join(d, name)
    c = json.load(open(p))
    for k in keys:
        c[k] = 32768
        if isinstance(c.get("text_config"), dict):
            c["text_config"][k] = 32768
    json.dump(c, open(p, "w"), indent=2)
EOF

# --- 3. the data -------------------------------------------------------------------
say "writing $OUT/data and $OUT/grpo.jsonl"
rm -rf "$OUT/data" && mkdir -p "$OUT/data"
"$VENV/bin/python" - "$OUT/data" <<'EOF'
import json, os, sys
from PIL import Image, ImageDraw
out = sys.argv[1]
rows = []
for i in range(4):
    w, h = 224, 168
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (x * 255 // w, y * 255 // h, (x * y + 37 * i) % 256)
    label, bbox = ("authentic", None) if i % 2 == 0 else ("tampered", [60 + 5 * i, 40, 140 + 5 * i, 110])
    if bbox:
        ImageDraw.Draw(img).rectangle([bbox[0], bbox[1], bbox[2] - 1, bbox[3] - 1], fill=(200, 30, 30))
    name = f"{label}-{i:03d}.png"
    img.save(os.path.join(out, name))
    rows.append({"id": f"cpu-{i:03d}", "image": name, "label": label, "mask": None, "bbox": bbox})
with open(os.path.join(out, "manifest.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
EOF
"$BIN" data grpo --data "$OUT/data" --out "$OUT/grpo.jsonl" >&2 || die "trutheye data grpo failed"

# --- 4. the server -----------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/trutheye-grpo.XXXXXX")
SERVE_PID=
cleanup() {
    if [ -n "$SERVE_PID" ] && kill -0 "$SERVE_PID" 2>/dev/null; then
        kill -TERM "$SERVE_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$SERVE_PID" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$SERVE_PID" 2>/dev/null && kill -KILL "$SERVE_PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
SOCK=$TMP/trutheye.sock
"$BIN" serve --socket "$SOCK" --json >"$OUT/serve.jsonl" 2>"$OUT/serve.err" &
SERVE_PID=$!
for _ in $(seq 100); do
    [ -s "$OUT/serve.jsonl" ] && break
    kill -0 "$SERVE_PID" 2>/dev/null || die "trutheye serve exited: $(cat "$OUT/serve.err")"
    sleep 0.1
done
[ -s "$OUT/serve.jsonl" ] || die "trutheye serve printed no start line within 10 s: $(cat "$OUT/serve.err")"
say "trutheye serve: $(head -1 "$OUT/serve.jsonl")"

# --- 5. ms-swift GRPO --------------------------------------------------------------
rm -rf "$OUT/swift"
cmd=("$VENV/bin/swift" rlhf --rlhf_type grpo
    --model "$OUT/model" --template qwen2_5_vl --tuner_type full --torch_dtype float32
    --dataset "$OUT/grpo.jsonl"
    --use_vllm false --num_generations 2 --per_device_train_batch_size 2 --gradient_accumulation_steps 1
    --max_steps "$MAX_STEPS" --max_completion_length 32 --max_length 16384
    --multi_turn_scheduler trutheye_scheduler --max_turns 3
    --external_plugins "$ROOT/trainer/python/trutheye_swift/swift_plugin.py" "$ROOT/trainer/python/tiny_fixture_swift_plugin.py"
    --reward_funcs trutheye_forenagent trutheye_trutheye2
    --logging_steps 1 --log_completions true --save_strategy no --report_to none
    --dataloader_num_workers 0 --seed 42
    --output_dir "$OUT/swift" --add_version false)
printf '%q ' "${cmd[@]}" > "$OUT/command.txt"; echo >> "$OUT/command.txt"
say "running: $(cat "$OUT/command.txt")"
set +e
(cd "$ROOT" && CUDA_VISIBLE_DEVICES="" TRUTHEYE_SOCKET="$SOCK" TRUTHEYE_SWIFT_MODEL_DIR="$OUT/model" \
    "${cmd[@]}") >"$OUT/swift.log" 2>&1
rc=$?
set -e

# --- 6. server stats, summary ------------------------------------------------------
PYTHONPATH="$ROOT/trainer/python" "$VENV/bin/python" - "$SOCK" "$OUT/serve_stats.json" <<'EOF' || true
import json, sys
from trutheye_swift.client import TruthEyeClient
with TruthEyeClient(sys.argv[1]) as c:
    stats = c.stats()
json.dump(stats, open(sys.argv[2], "w"), indent=1)
print("== trutheye serve stats:", {k: stats[k] for k in ("sessions_opened", "format_errors", "actions", "answers", "requests", "errors")}, file=sys.stderr)
EOF
if [ "$rc" -ne 0 ]; then
    tail -25 "$OUT/swift.log" >&2
    die "swift rlhf failed (exit $rc); full log: $OUT/swift.log"
fi
"$VENV/bin/python" - "$OUT/swift/logging.jsonl" <<'EOF'
import json, sys
keys = ("global_step/max_steps", "reward", "reward_std", "rewards/TruthEyeForenAgentReward/mean",
        "rewards/TruthEyeTruthEye2Reward/mean", "num_turns", "completions/mean_length", "loss", "grad_norm", "kl")
for line in open(sys.argv[1]):
    d = json.loads(line)
    if "reward" in d:
        print(json.dumps({k: d[k] for k in keys if k in d}))
EOF
say "ms-swift log: $OUT/swift/logging.jsonl, completions: $OUT/swift/completions.jsonl, stdout/stderr: $OUT/swift.log"
