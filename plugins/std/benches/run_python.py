#!/usr/bin/env python3
"""Times the Python counterparts of the std plugin's operators.

    python3 run_python.py --images a.jpg b.jpg [--ops sobel ela ...] [--json]

Imports ``py_ops_a``, ``py_ops_b`` and ``py_ops_c`` from this file's directory (any may be
missing; its operators are then reported as n/a), decodes each image once with
Pillow into an HxWx3 uint8 array (decoding is not timed, as on the Rust side),
and for every operator does one warm-up call, then repeats until it has at least
3 runs and at least 1 s of runs (at most 10), and reports the median in ms.

Functions take ``rgb`` (the array) and, where their signature names it,
``jpeg_bytes`` (the file's bytes). With ``--json`` the output is one JSON object:

    {"results": {op: {image: median_ms or null}},
     "errors":  {op: {image: message}},
     "env":     {python, numpy, opencv, scipy, pywt, pillow, threadpoolctl, ...}}

Progress goes to stderr.
"""
import argparse
import importlib
import inspect
import json
import os
import platform
import statistics
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))

# Operator name -> module that defines its Python counterpart.
OPERATORS = {
    "fft_residual": "py_ops_a",
    "dwt_subbands": "py_ops_a",
    "resampling": "py_ops_a",
    "dct_highpass": "py_ops_a",
    "srm": "py_ops_a",
    "bayar": "py_ops_a",
    "prnu": "py_ops_a",
    "sobel": "py_ops_b",
    "laplacian": "py_ops_b",
    "jpeg_ghost": "py_ops_b",
    "median_traces": "py_ops_b",
    "local_correlation": "py_ops_b",
    "ela": "py_ops_b",
    "jpeg_quality": "py_ops_b",
    "copy_move": "py_ops_c",
}

MIN_RUNS = 3
MAX_RUNS = 10
MIN_TOTAL_S = 1.0


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def module_version(name, attr="__version__"):
    try:
        mod = importlib.import_module(name)
        return str(getattr(mod, attr, "unknown"))
    except Exception as e:  # noqa: BLE001 - report, never fail
        return f"missing ({type(e).__name__})"


def environment():
    env = {
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "numpy": module_version("numpy"),
        "opencv": module_version("cv2"),
        "scipy": module_version("scipy"),
        "pywt": module_version("pywt"),
        "pillow": module_version("PIL"),
        "blas_env": {
            k: os.environ[k]
            for k in sorted(os.environ)
            if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO_"))
        },
    }
    try:
        import cv2

        env["opencv_threads"] = cv2.getNumThreads()
    except Exception:  # noqa: BLE001
        pass
    try:
        from threadpoolctl import threadpool_info

        env["threadpoolctl"] = [
            {
                k: info.get(k)
                for k in ("user_api", "internal_api", "version", "num_threads",
                          "threading_layer", "architecture", "filepath")
                if k in info
            }
            for info in threadpool_info()
        ]
    except Exception as e:  # noqa: BLE001
        env["threadpoolctl"] = f"unavailable ({type(e).__name__}: {e})"
    return env


def load_functions(wanted):
    """Returns ({op: callable}, {op: reason it is unavailable})."""
    if HERE not in sys.path:
        sys.path.insert(0, HERE)
    modules, missing = {}, {}
    for mod_name in sorted(set(OPERATORS.values())):
        if not os.path.exists(os.path.join(HERE, mod_name + ".py")):
            modules[mod_name] = f"{mod_name}.py not found"
            continue
        try:
            modules[mod_name] = importlib.import_module(mod_name)
        except Exception as e:  # noqa: BLE001
            modules[mod_name] = f"import {mod_name} failed: {type(e).__name__}: {e}"
    funcs = {}
    for op in wanted:
        mod = modules.get(OPERATORS.get(op, ""), f"no Python counterpart for {op}")
        if isinstance(mod, str):
            missing[op] = mod
            continue
        fn = getattr(mod, op, None)
        if not callable(fn):
            missing[op] = f"{mod.__name__}.{op} not defined"
            continue
        funcs[op] = fn
    return funcs, missing


def call_args(fn, rgb, jpeg_bytes):
    """Builds keyword arguments from the function's signature."""
    kwargs = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        lname = name.lower()
        if lname in ("rgb", "img", "image", "arr", "array"):
            kwargs[name] = rgb
        elif "jpeg" in lname or "bytes" in lname or lname in ("encoded", "data", "raw"):
            kwargs[name] = jpeg_bytes
        elif p.default is p.empty:
            raise TypeError(f"don't know what to pass for parameter {name!r}")
    return kwargs


def time_op(fn, kwargs):
    fn(**kwargs)  # warm-up
    times = []
    total = 0.0
    while len(times) < MAX_RUNS and (len(times) < MIN_RUNS or total < MIN_TOTAL_S):
        t0 = time.perf_counter()
        fn(**kwargs)
        dt = time.perf_counter() - t0
        times.append(dt)
        total += dt
    return statistics.median(times) * 1000.0, len(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", nargs="+", required=True, help="JPEG files to time on")
    ap.add_argument("--ops", nargs="*", default=None, help="operator names (default: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()

    import numpy as np
    from PIL import Image

    wanted = [op for op in OPERATORS if not args.ops or op in args.ops]
    funcs, missing = load_functions(wanted)
    results = {op: {} for op in wanted}
    errors = {op: {} for op in wanted}
    runs = {op: {} for op in wanted}

    for path in args.images:
        with open(path, "rb") as f:
            jpeg_bytes = f.read()
        with Image.open(path) as im:
            rgb = np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))
        log(f"[python] {os.path.basename(path)}: {rgb.shape[1]}x{rgb.shape[0]}")
        for op in wanted:
            if op not in funcs:
                results[op][path] = None
                errors[op][path] = missing[op]
                continue
            try:
                kwargs = call_args(funcs[op], rgb, jpeg_bytes)
                ms, n = time_op(funcs[op], kwargs)
                results[op][path] = ms
                runs[op][path] = n
                log(f"[python]   {op:<18} {ms:10.1f} ms  ({n} runs)")
            except NotImplementedError as e:
                results[op][path] = None
                errors[op][path] = f"not implemented: {e}"
                log(f"[python]   {op:<18}        n/a  (not implemented)")
            except Exception as e:  # noqa: BLE001
                results[op][path] = None
                errors[op][path] = f"{type(e).__name__}: {e}"
                log(f"[python]   {op:<18}        n/a  ({type(e).__name__}: {e})")
                log("".join(traceback.format_exception(e)[-3:]).rstrip())

    out = {
        "results": results,
        "runs": runs,
        "errors": {op: e for op, e in errors.items() if e},
        "env": environment(),
    }
    if args.json:
        print(json.dumps(out))
    else:
        for op in wanted:
            cells = []
            for path in args.images:
                ms = results[op].get(path)
                cells.append("n/a" if ms is None else f"{ms:.1f} ms")
            print(f"{op:<18} " + "  ".join(f"{c:>12}" for c in cells))
        print(json.dumps(out["env"], indent=2))


if __name__ == "__main__":
    main()
