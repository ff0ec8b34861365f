"""Regenerates the Pillow reference fixtures for sandbox/tests/pillow_ops.rs.

Run with the Pillow the sandbox must equal (13.0.0):

    target/pvr-venv/bin/python sandbox/tests/pillow_ops/make_fixtures.py

It writes two seeded input images (gradients plus noise, so rounding
differences show up on most pixels), then runs every case's snippet with
real Pillow and saves `result` as PNG. The Rust test runs the same snippet
in the embedded interpreter and compares the pixels byte for byte, so the
snippets in manifest.json are the single source of truth for both sides.
"""

import hashlib
import json
import os

import numpy as np
import PIL
from PIL import Image, ImageEnhance, ImageFilter

HERE = os.path.dirname(os.path.abspath(__file__))


def make_input(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([x / (w - 1) * 255, y / (h - 1) * 255, (x + y) / (w + h - 2) * 180 + 40], axis=-1)
    # Noise makes neighbouring pixels differ, so every filter tap matters;
    # a few saturated pixels exercise the clipping paths.
    noisy = base + rng.normal(0, 14, size=base.shape)
    noisy[rng.random((h, w)) < 0.03] = 255
    noisy[rng.random((h, w)) < 0.03] = 0
    return Image.fromarray(np.clip(noisy, 0, 255).round().astype(np.uint8), "RGB")


INPUTS = {"a": (37, 23, 1), "b": (48, 36, 2)}

RESAMPLE = ["Image.NEAREST", "Image.BOX", "Image.BILINEAR", "Image.HAMMING", "Image.BICUBIC", "Image.LANCZOS"]


def cases():
    out = []

    def add(op, inp, snippet):
        out.append({"name": f"{op}_{len(out):03d}", "op": op, "input": inp, "code": snippet})

    # resize: every filter, down/up/one-axis, plus the default filter and L images.
    for f in RESAMPLE:
        add("resize", "a", f"result = image.resize((20, 13), {f})")
        add("resize", "a", f"result = image.resize((50, 31), {f})")
        add("resize", "b", f"result = image.resize((23, 17), {f})")
        add("resize", "b", f"result = image.resize((48, 21), resample={f})")
        add("resize", "b", f"result = image.resize((29, 36), {f})")
    add("resize", "a", "result = image.resize((19, 40))")
    add("resize", "b", "result = image.resize((90, 7))")
    add("resize", "b", "result = image.convert('L').resize((30, 22), Image.BILINEAR)")
    add("resize", "a", "result = image.convert('L').resize((45, 20))")
    add("resize", "a", "result = image.resize((37, 23), Image.LANCZOS)")

    # ImageEnhance: each kind over interpolating and extrapolating factors.
    for kind in ["Brightness", "Contrast", "Color", "Sharpness"]:
        for f in ["0.0", "0.3", "0.77", "1.0", "1.5", "2.3", "-0.4"]:
            add("enhance", "a", f"result = ImageEnhance.{kind}(image).enhance({f})")
        add("enhance", "b", f"result = ImageEnhance.{kind}(image).enhance(1.8)")
        add("enhance", "b", f"result = ImageEnhance.{kind}(image.convert('L')).enhance(0.6)")
    add("enhance", "b", "result = ImageEnhance.Contrast(image).enhance(3)")

    # rotate: generic angles, each resampling filter, expand, fillcolor, center/translate, fast paths.
    for f in ["Image.NEAREST", "Image.BILINEAR", "Image.BICUBIC"]:
        add("rotate", "a", f"result = image.rotate(30, resample={f})")
        add("rotate", "a", f"result = image.rotate(-17.5, resample={f}, expand=True)")
        add("rotate", "b", f"result = image.rotate(133, {f}, True, fillcolor=(255, 0, 0))")
    add("rotate", "b", "result = image.rotate(45)")
    add("rotate", "b", "result = image.rotate(45, expand=True, fillcolor='white')")
    add("rotate", "a", "result = image.rotate(90)")
    add("rotate", "a", "result = image.rotate(90, expand=True)")
    add("rotate", "a", "result = image.rotate(180)")
    add("rotate", "a", "result = image.rotate(-90, expand=True)")
    add("rotate", "a", "result = image.rotate(360)")
    add("rotate", "a", "result = image.rotate(0.4, Image.BILINEAR)")
    add("rotate", "b", "result = image.rotate(20, center=(10, 5), translate=(3, -2))")
    add("rotate", "b", "result = image.rotate(200, Image.BICUBIC, fillcolor=70)")
    add("rotate", "b", "result = image.convert('L').rotate(12.5, Image.BICUBIC, expand=True, fillcolor=200)")

    # convert
    add("convert", "a", "result = image.convert('L')")
    add("convert", "b", "result = image.convert('L')")
    add("convert", "b", "result = image.convert('L').convert('RGB')")
    add("convert", "a", "result = image.convert('RGB')")

    # Pillow 13 resamples vertically first when the height shrinks by more
    # than twice the width's shrink; every filter through that order.
    for f in RESAMPLE[1:]:
        add("resize", "b", f"result = image.resize((40, 10), {f})")
    return out


def main():
    manifest = {"pillow": PIL.__version__, "inputs": {}, "cases": []}
    for key, (w, h, seed) in INPUTS.items():
        name = f"input_{key}.png"
        make_input(w, h, seed).save(os.path.join(HERE, name), optimize=True)
        manifest["inputs"][key] = name
    for case in cases():
        image = Image.open(os.path.join(HERE, manifest["inputs"][case["input"]]))
        image.load()
        scope = {"Image": Image, "ImageEnhance": ImageEnhance, "ImageFilter": ImageFilter, "image": image}
        exec(case["code"], scope)
        result = scope["result"]
        file = f"{case['name']}.png"
        result.save(os.path.join(HERE, file), optimize=True)
        raw = result.tobytes()
        manifest["cases"].append(
            dict(case, file=file, mode=result.mode, size=list(result.size), sha256=hashlib.sha256(raw).hexdigest())
        )
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        # One case per line: small, and diffs stay readable.
        f.write(json.dumps({k: v for k, v in manifest.items() if k != "cases"})[:-1] + ', "cases": [\n')
        f.write(",\n".join(json.dumps(c) for c in manifest["cases"]) + "\n]}\n")


if __name__ == "__main__":
    main()
