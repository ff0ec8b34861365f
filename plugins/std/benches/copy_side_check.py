#!/usr/bin/env python3
"""Does copy_move name the right side of a copy? A check on copies this script
pastes into real camera photos, with the Python twin (py_ops_c.py), whose
verification gives the same blocks as the Rust operator on shared/bench/dev.

    python3 plugins/std/benches/copy_side_check.py --data ../shared/bench/dev [--seed 5] [--json]

For each authentic image of the set, twice: a disc (radius 12-18 % of the
shorter side) is copied to a non-overlapping place, turned by U(-15, 15) degrees
and scaled by U(0.85, 1.15) about its centre with ``cv2.warpAffine``, alternately
bilinear and bicubic, pasted hard-edged, and the result is saved once as JPEG
quality U(80, 95) with Pillow (the recipe of the set's own copy-moves, with the
interpolation varied). It prints, per paste, whether the group is significant,
the residual ratio, which side has the smaller residual and whether the
operator's rule (ratio >= 1.5) names a copy, and a tally per interpolation.
"""
import argparse
import io
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import py_ops_c  # noqa: E402

COPY_RATIO = 1.3


def paste(rgb, rng, interp):
    h, w, _ = rgb.shape
    rad = int(min(h, w) * rng.uniform(0.12, 0.18))
    for _ in range(100):
        sx, sy = rng.uniform(rad + 5, w - rad - 5), rng.uniform(rad + 5, h - rad - 5)
        tx, ty = rng.uniform(rad + 5, w - rad - 5), rng.uniform(rad + 5, h - rad - 5)
        if np.hypot(sx - tx, sy - ty) > 2.3 * rad:
            break
    angle, scale = rng.uniform(-15, 15), rng.uniform(0.85, 1.15)
    m = cv2.getRotationMatrix2D((sx, sy), angle, scale)
    m[:, 2] += [tx - sx, ty - sy]
    warped = cv2.warpAffine(rgb, m, (w, h), flags=interp, borderMode=cv2.BORDER_REFLECT)
    mask = np.zeros((h, w), np.uint8)
    cv2.circle(mask, (int(tx), int(ty)), rad, 1, -1)
    forged = np.where(mask[..., None] > 0, warped, rgb)
    quality = int(rng.integers(80, 96))
    buf = io.BytesIO()
    Image.fromarray(forged).save(buf, "JPEG", quality=quality)
    return np.array(Image.open(buf).convert("RGB")), mask > 0, dict(angle=round(angle, 1), scale=round(scale, 3), quality=quality)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="dataset directory with manifest.jsonl")
    ap.add_argument("--seed", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    rows = [json.loads(line) for line in open(os.path.join(args.data, "manifest.jsonl")) if line.strip()]
    photos = [r for r in rows if r["label"] == "authentic"]
    rng = np.random.default_rng(args.seed)
    results = []
    for k, row in enumerate(photos * 2):
        interp = (cv2.INTER_LINEAR, cv2.INTER_CUBIC)[k % 2]
        rgb = np.array(Image.open(os.path.join(args.data, row["image"])).convert("RGB"))
        forged, truth, params = paste(rgb, rng, interp)
        details = {}
        py_ops_c.copy_move_stats(forged, details=details)
        res = dict(id=row["id"], interpolation="bilinear" if interp == cv2.INTER_LINEAR else "bicubic", **params)
        found = details.get("regions")
        if found is None or not (found[0].any() and found[1].any()):
            res["detected"] = False
        else:
            side_a, side_b, ra, rb = found
            block = 8
            def overlap(blocks):
                up = np.kron(blocks, np.ones((block, block), bool))
                return (up & truth[: up.shape[0], : up.shape[1]]).sum() / max(1, up.sum())
            copy_is_a = overlap(side_a) > overlap(side_b)
            smaller_is_a = ra < rb
            ratio = max(ra, rb) / max(min(ra, rb), 1e-12)
            res.update(detected=True, ratio=round(float(ratio), 3), smaller_on_copy=bool(copy_is_a == smaller_is_a),
                       named=bool(ratio >= COPY_RATIO))
        results.append(res)
        if not args.json:
            print(json.dumps(res), flush=True)
    tally = {}
    for interp in ("bilinear", "bicubic"):
        det = [r for r in results if r["interpolation"] == interp and r["detected"]]
        tally[interp] = dict(
            pasted=sum(r["interpolation"] == interp for r in results),
            detected=len(det),
            smaller_on_copy=sum(r["smaller_on_copy"] for r in det),
            named=sum(r["named"] for r in det),
            named_wrong=sum(r["named"] and not r["smaller_on_copy"] for r in det),
        )
    if args.json:
        print(json.dumps({"results": results, "tally": tally}))
    else:
        for interp, t in tally.items():
            print(f"{interp}: {t}")


if __name__ == "__main__":
    main()
