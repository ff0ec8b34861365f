#!/usr/bin/env python3
"""Regenerates the re-encoding fixtures: a small photo-like source and the
JPEGs Pillow saves from it. `tests/pillow_jpeg_encode.rs` encodes the same
source with trutheye-imaging and checks the decoded pixels are Pillow's.

    python3 imaging/tests/jpeg_encode/make_fixtures.py   # needs Pillow and NumPy

Written with Pillow 13.0.0 (libjpeg-turbo 6.2 ABI). The source is made here
(no external image): smooth gradients, a sharp-edged disc and seeded noise, so
every DCT band and the chroma downsampling are exercised; 61x45 is odd on both
sides so partial MCUs are covered.
"""
import os

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 61, 45
VARIANTS = [  # (name, quality, subsampling as Pillow names it, mode)
    ("q90_420", 90, "4:2:0", "RGB"),
    ("q75_422", 75, "4:2:2", "RGB"),
    ("q95_444", 95, "4:4:4", "RGB"),
    ("q50_420", 50, "4:2:0", "RGB"),
    ("q90_gray", 90, None, "L"),
]

rng = np.random.default_rng(20261204)
y, x = np.mgrid[0:H, 0:W].astype(np.float64)
r = 128 + 100 * np.sin(x / 9.0) * np.cos(y / 13.0)
g = 40 + 3.5 * x + 1.2 * y
b = 200 - 2.5 * y + 20 * ((x - 30) ** 2 + (y - 22) ** 2 < 150)
src = np.stack([r, g, b], axis=-1) + rng.normal(0, 6, (H, W, 3))
src = np.clip(np.round(src), 0, 255).astype(np.uint8)
Image.fromarray(src, "RGB").save(os.path.join(HERE, "source.png"))
for name, q, sub, mode in VARIANTS:
    im = Image.fromarray(src, "RGB")
    if mode == "L":
        # Pillow's grey is ITU-R 601 luma; the encoder under test takes the red
        # channel of a grey RGB image, so save the grey of a grey source.
        im = Image.fromarray(src[:, :, 0], "L")
        im.save(os.path.join(HERE, "source_gray.png"))
    kwargs = {"quality": q}
    if sub:
        kwargs["subsampling"] = sub
    im.save(os.path.join(HERE, f"{name}.jpg"), "JPEG", **kwargs)
print("wrote", HERE)
