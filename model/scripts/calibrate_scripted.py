#!/usr/bin/env python3
"""Reproduces the hand-set weights of configs/scripted.toml.

Rule (deliberately simple, so it cannot overfit much): for each chosen feature,
centre it at its median and scale it by its inter-quartile range, both computed on
the EVEN-numbered images of a benchmark manifest (shared/bench/dev by default);
weight = +-1/IQR with the sign of the class direction, bias = -sum(w * median).
The ODD-numbered images are held out; the script prints accuracy on both halves.

Usage: python3 model/scripts/calibrate_scripted.py [MANIFEST] [--trutheye target/release/trutheye]
Needs only the standard library and a built trutheye.
"""
import argparse, json, os, subprocess, sys
from concurrent.futures import ThreadPoolExecutor

# (class, feature, direction): direction +1 means larger values point to the class.
CHOICE = [
    ("synthetic", "fft_residual.spectral_peak_z", +1),   # periodic peaks of x4 upsampling
    ("synthetic", "jpeg_ghost.top_block_ghost_strength", +1),
    ("tampered", "resampling.anomaly_z", +1),            # a pasted, resampled region
    ("tampered", "srm.residual_std", +1),
    ("tampered", "jpeg_ghost.anomaly_z", +1),
]
OPS = sorted({f.split(".")[0] for _, f, _ in CHOICE})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifest", nargs="?", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../shared/bench/dev/manifest.jsonl"))
    ap.add_argument("--trutheye", default="target/release/trutheye")
    a = ap.parse_args()
    manifest, exe = a.manifest, a.trutheye
    root = os.path.dirname(os.path.abspath(manifest))
    rows = [json.loads(l) for l in open(manifest) if l.strip()]

    def run(job):
        r, op = job
        p = subprocess.run([exe, "op", op, os.path.join(root, r["image"]), "--json"], capture_output=True, text=True)
        return r["id"], op, json.loads(p.stdout)["stats"] if p.returncode == 0 else {}

    feats = {}
    with ThreadPoolExecutor(2) as ex:
        for i, op, st in ex.map(run, [(r, op) for r in rows for op in OPS]):
            for k, v in st.items():
                if isinstance(v, (int, float)):
                    feats.setdefault(i, {})[f"{op}.{k}"] = float(v)
    even = [r for r in rows if int(r["id"].split("-")[-1]) % 2 == 0]
    odd = [r for r in rows if int(r["id"].split("-")[-1]) % 2 == 1]

    def q(vals, p):
        v = sorted(vals)
        return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]

    cfg = {"synthetic": {"bias": 0.0, "weights": {}}, "tampered": {"bias": 0.0, "weights": {}}}
    for cls, f, d in CHOICE:
        vals = [feats[r["id"]][f] for r in even if f in feats.get(r["id"], {})]
        med, iqr = q(vals, 0.5), max(q(vals, 0.75) - q(vals, 0.25), 1e-6)
        w = d / iqr
        cfg[cls]["weights"][f] = round(w, 4)
        cfg[cls]["bias"] = round(cfg[cls]["bias"] - w * med, 4)

    def predict(i):
        s = {c: cfg[c]["bias"] + sum(w * max(-10, min(10, feats[i].get(f, 0.0))) for f, w in cfg[c]["weights"].items()) for c in cfg}
        best = max([("authentic", 0.0), ("synthetic", s["synthetic"]), ("tampered", s["tampered"])], key=lambda t: t[1])
        return best[0]

    for name, part in [("even (used to set weights)", even), ("odd (held out)", odd), ("all", rows)]:
        acc = sum(predict(r["id"]) == r["label"] for r in part) / len(part)
        print(f"accuracy on {name}: {acc:.3f} (n={len(part)})")
    print("\n# paste into configs/scripted.toml")
    for cls in ("synthetic", "tampered"):
        ws = ", ".join(f'"{k}" = {v}' for k, v in cfg[cls]["weights"].items())
        print(f"[scorer.{cls}]\nbias = {cfg[cls]['bias']}\nweights = {{ {ws} }}\n")


if __name__ == "__main__":
    main()
