#!/usr/bin/env python3
"""Regenerates docs/img/copy-move-dev-001.jpg from the operator's own output:

    python3 docs/img/make_copy_move_figure.py --trutheye target/debug/trutheye \
        --data ../shared/bench/dev [--id dev-001]

Left: the image, ground-truth mask outlined in green, the region copy_move
names as the copy in red and its source in blue (both blue when the copy is not
clear). Right: the `duplicated` heat-map over the dimmed image.
Needs NumPy, Pillow and OpenCV (the bench venv has them).
"""
import argparse
import json
import os
import subprocess
import tempfile

import cv2
import numpy as np
from PIL import Image


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trutheye", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--id", default="dev-001")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "copy-move-dev-001.jpg"))
    args = ap.parse_args()
    row = next(json.loads(l) for l in open(os.path.join(args.data, "manifest.jsonl")) if json.loads(l)["id"] == args.id)
    image = os.path.join(args.data, row["image"])
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([args.trutheye, "op", "copy_move", image, "--json", "-o", os.path.join(tmp, "cm.png"), "--maps", "heatmap"],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout)
        heat = np.array(Image.open(os.path.join(tmp, "cm.png")).convert("L"))
    stats = result.get("stats") or result["output"]["stats"]
    regions = result.get("regions") or result["output"]["regions"]
    rgb = np.array(Image.open(image).convert("RGB"))
    h, w, _ = rgb.shape
    left = rgb.copy()
    if row.get("mask"):
        mask = (np.array(Image.open(os.path.join(args.data, row["mask"]))) >= 128).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(left, contours, -1, (0, 255, 0), 3)
    for k, r in enumerate(regions):
        x1, y1, x2, y2 = r["bbox"]
        colour = (255, 0, 0) if k == 0 and stats.get("copy_region") else (0, 128, 255)
        cv2.rectangle(left, (x1, y1), (x2 - 1, y2 - 1), colour, 3)
    heat = cv2.resize(heat, (w, h), interpolation=cv2.INTER_NEAREST)
    right = (rgb * 0.35).astype(np.uint8)
    right[heat >= 128] = (0.5 * right[heat >= 128] + 0.5 * np.array([255, 60, 60])).astype(np.uint8)
    figure = np.hstack([left, np.full((h, 8, 3), 255, np.uint8), right])
    scale = 1200 / figure.shape[1]
    Image.fromarray(figure).resize((1200, int(figure.shape[0] * scale)), Image.LANCZOS).save(args.out, quality=88)
    print(f"wrote {args.out}: {stats['cluster_matches']} of {stats['matches']} matches, anomaly_z {stats['anomaly_z']:.1f}, "
          f"residual ratio {stats['residual_ratio']}, copy {stats['copy_region']}")


if __name__ == "__main__":
    main()
