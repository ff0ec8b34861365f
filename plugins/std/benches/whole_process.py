#!/usr/bin/env python3
"""Whole-process timing of every std operator against its Python twin.

    python3 whole_process.py --trutheye target/release/trutheye --image photo.jpg \
        [--ops srm ela ...] [--runs 3] [--json]

What a user waits for when they run one operator on one file: start the
process, decode the JPEG, run the operator, write its map as a PNG.

* Rust: ``trutheye op NAME IMAGE -o OUT.png --maps heatmap,mask --json`` as a
  subprocess; the JSON also gives the operator's in-process time (``ms``: the
  operator alone, the image already decoded). ``--maps`` makes it write the
  heat-map alone, the map the twin writes: by default ``-o`` also writes the
  operator's full-resolution visual (~40 ms for a 12 MP PNG), which the twins
  neither compute nor write. The operator still computes its visual, so the
  in-process time includes it.
* Python: a fresh interpreter (``sys.executable``) that imports NumPy, OpenCV,
  SciPy, PyWavelets and Pillow as the twin needs them, decodes the file with
  Pillow, calls the twin from ``py_ops_a`` / ``py_ops_b`` (the functions
  ``run_python.py`` times in-process), scales its map to 8 bits and writes it
  with ``cv2.imwrite``; it prints the twin's own in-process time.

Each side runs ``--runs`` times (after one warm-up run each); the table shows
medians and the ratios Python / Rust (above 1: Rust is faster). The machine is
shared and noisy; read the ratios, not the absolute times. ``jpeg_quality``
writes no map on either side (its Rust visual, a picture of its tables, is not
saved).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_python import OPERATORS  # noqa: E402  (the same operator list)

# The Python side of one run. Imports are inside the timed process on purpose:
# they are part of what the user waits for.
TWIN = r"""
import inspect, sys, time
sys.path.insert(0, {here!r})
import numpy as np
from PIL import Image
import cv2
import {module} as m
path, out = {path!r}, {out!r}
raw = open(path, "rb").read()
rgb = np.asarray(Image.open(path).convert("RGB"))
fn = m.{op}
params = inspect.signature(fn).parameters
kwargs = {{}}
if "rgb" in params: kwargs["rgb"] = rgb
if "jpeg_bytes" in params: kwargs["jpeg_bytes"] = raw
t = time.perf_counter()
res = fn(**kwargs)
ms = (time.perf_counter() - t) * 1000
if isinstance(res, np.ndarray) and res.ndim >= 2:
    a = res.astype(np.float32)
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    u8 = np.zeros(a.shape, np.uint8) if hi <= lo else ((a - lo) * (255.0 / (hi - lo))).clip(0, 255).astype(np.uint8)
    cv2.imwrite(out, u8)
print(ms)
"""


NO_HEATMAP = {"jpeg_quality"}


def run_rust(exe, op, image, out):
    t = time.perf_counter()
    # jpeg_quality's only map is a visual, and its twin writes none.
    save = [] if op in NO_HEATMAP else ["-o", out, "--maps", "heatmap,mask"]
    p = subprocess.run([exe, "op", op, image] + save + ["--json"], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"trutheye op {op}: {p.stderr.strip()[-300:]}")
    return wall, float(json.loads(p.stdout.strip().splitlines()[-1])["ms"])


def run_python(op, image, out):
    code = TWIN.format(here=HERE, module=OPERATORS[op], op=op, path=image, out=out)
    t = time.perf_counter()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"python {op}: {p.stderr.strip()[-300:]}")
    return wall, float(p.stdout.strip().splitlines()[-1])


def median_of(fn, runs):
    fn()  # warm-up: page cache, first-load costs
    walls, inner = zip(*(fn() for _ in range(runs)))
    return statistics.median(walls), statistics.median(inner)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trutheye", required=True, help="the trutheye binary (its plugins beside it)")
    ap.add_argument("--image", required=True, help="a JPEG (the issue's figures use 4000x3000)")
    ap.add_argument("--ops", nargs="*", default=list(OPERATORS))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    # `--version` says whether libjpeg-turbo's SIMD paths are on (a build
    # without nasm decodes and encodes JPEG at about half speed).
    version = subprocess.run([a.trutheye, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"trutheye: {' / '.join(version.splitlines())}", file=sys.stderr, flush=True)
    rows, errors = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for op in a.ops:
            try:
                rw, rin = median_of(lambda: run_rust(a.trutheye, op, a.image, os.path.join(tmp, f"{op}.rs.png")), a.runs)
                pw, pin = median_of(lambda: run_python(op, a.image, os.path.join(tmp, f"{op}.py.png")), a.runs)
            except RuntimeError as e:
                errors[op] = str(e)
                continue
            rows.append({"op": op, "rust_s": rw, "python_s": pw, "whole_ratio": pw / rw, "rust_ms": rin, "python_ms": pin, "inner_ratio": pin / max(rin, 1e-3)})
            print(f"{op}: rust {rw:.2f}s python {pw:.2f}s", file=sys.stderr, flush=True)
    summary = {
        "median_whole_ratio": statistics.median(r["whole_ratio"] for r in rows) if rows else None,
        "min_whole_ratio": min((r["whole_ratio"] for r in rows), default=None),
        "median_inner_ratio": statistics.median(r["inner_ratio"] for r in rows) if rows else None,
    }
    if a.json:
        print(json.dumps({"rows": rows, "summary": summary, "errors": errors, "trutheye": version}))
        return
    print("| operator | Rust whole (s) | Python whole (s) | ratio | Rust op (ms) | Python op (ms) | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['op']} | {r['rust_s']:.2f} | {r['python_s']:.2f} | {r['whole_ratio']:.1f}x | {r['rust_ms']:.0f} | {r['python_ms']:.0f} | {r['inner_ratio']:.1f}x |")
    print(f"\ntrutheye: {' / '.join(version.splitlines())}")
    print(f"\nmedian whole-process ratio {summary['median_whole_ratio']:.2f}x (lowest {summary['min_whole_ratio']:.2f}x); median in-process ratio {summary['median_inner_ratio']:.2f}x")
    for op, e in errors.items():
        print(f"error: {e}")


if __name__ == "__main__":
    main()
