"""Regenerates the JPEG corpus and Pillow's decodes of it.

Every file here is saved by Pillow and decoded by Pillow (the reference the
Rust decoder must match bit for bit). Deterministic: a rerun gives the same
bytes with the same Pillow/libjpeg-turbo. Run from anywhere:

    target/pvr-venv/bin/python imaging/tests/jpeg_corpus/make_corpus.py

(the venv `.ci/run` / `trutheye pvr setup` makes has Pillow 13.0.0; any Pillow
with libjpeg-turbo gives the same references for these files).

Outputs, next to this script: `<name>.jpg`, `<name>.ref` (Pillow's decoded
bytes in the mode Pillow opens: L, RGB or CMYK), `<name>.rgb` (after
`.convert("RGB")`, as a SHA-256 in the manifest), for EXIF files the hash of
`ImageOps.exif_transpose(im).convert("RGB")`, and `manifest.json`.
"""
import hashlib
import io
import json
import os

import numpy as np
from PIL import Image, ImageOps, features

HERE = os.path.dirname(os.path.abspath(__file__))


def scene(w, h, seed):
    """Gradients, hard edges, a disc and noise: every DCT band gets energy."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 128 + 100 * np.sin(x / 3.0) * np.cos(y / 5.0)
    img = np.stack([r, g, b], -1)
    img[(x // 8 + y // 8) % 2 == 0] *= 0.6
    disc = (x - w * 0.6) ** 2 + (y - h * 0.4) ** 2 < (min(w, h) * 0.25) ** 2
    img[disc] = [250, 30, 40]
    img += rng.normal(0, 12, img.shape)
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def exif_with_orientation(o):
    ex = Image.Exif()
    ex[0x0112] = o
    return ex.tobytes()


def main():
    base = scene(67, 45, 1)  # odd size: partial MCUs on both axes
    big = scene(96, 72, 2)
    cases = [
        ("baseline_q90_420", base, dict(quality=90, subsampling="4:2:0")),
        ("baseline_q75_422", base, dict(quality=75, subsampling="4:2:2")),
        ("baseline_q95_444", base, dict(quality=95, subsampling="4:4:4")),
        ("baseline_q10_420", base, dict(quality=10, subsampling="4:2:0")),
        ("baseline_q100_444", base, dict(quality=100, subsampling="4:4:4")),
        ("progressive_420", big, dict(quality=85, progressive=True, subsampling="4:2:0")),
        ("progressive_444", base, dict(quality=92, progressive=True, subsampling="4:4:4")),
        ("progressive_422_optimized", big, dict(quality=80, progressive=True, optimize=True, subsampling="4:2:2")),
        ("optimized_huffman_420", big, dict(quality=88, optimize=True, subsampling="4:2:0")),
        ("gray", base.convert("L"), dict(quality=90)),
        ("gray_progressive", big.convert("L"), dict(quality=70, progressive=True)),
        ("cmyk_adobe", base.convert("CMYK"), dict(quality=90)),
        ("cmyk_progressive", big.convert("CMYK"), dict(quality=85, progressive=True)),
        ("restart_blocks_420", big, dict(quality=85, restart_marker_blocks=3)),
        ("restart_rows_444", big, dict(quality=85, restart_marker_rows=1, subsampling="4:4:4")),
        ("rgb_no_transform", base, dict(quality=90, keep_rgb=True, subsampling="4:4:4")),
        ("one_pixel", scene(1, 1, 3), dict(quality=90)),
        ("thin_17x3_420", scene(17, 3, 4), dict(quality=90, subsampling="4:2:0")),
        ("exif_orientation_6", big, dict(quality=90, exif=exif_with_orientation(6))),
        ("exif_orientation_3", base, dict(quality=90, exif=exif_with_orientation(3))),
        ("exif_orientation_5", base, dict(quality=90, exif=exif_with_orientation(5))),
        ("exif_orientation_8", base, dict(quality=90, exif=exif_with_orientation(8))),
        ("exif_orientation_2", base, dict(quality=90, exif=exif_with_orientation(2))),
        ("exif_orientation_4", base, dict(quality=90, exif=exif_with_orientation(4))),
        ("exif_orientation_7", base, dict(quality=90, exif=exif_with_orientation(7))),
    ]
    manifest = {
        "pillow": Image.__version__ if hasattr(Image, "__version__") else "",
        "libjpeg_turbo": features.version("libjpeg_turbo"),
        "cases": [],
    }
    import PIL
    manifest["pillow"] = PIL.__version__
    for name, img, opts in cases:
        buf = io.BytesIO()
        img.save(buf, "JPEG", **opts)
        data = buf.getvalue()
        with open(os.path.join(HERE, name + ".jpg"), "wb") as f:
            f.write(data)
        dec = Image.open(io.BytesIO(data))
        dec.load()
        with open(os.path.join(HERE, name + ".ref"), "wb") as f:
            f.write(dec.tobytes())
        rgb = dec.convert("RGB")
        entry = {
            "name": name,
            "save_options": {k: (v if k != "exif" else "orientation tag") for k, v in opts.items()},
            "mode": dec.mode,
            "width": dec.width,
            "height": dec.height,
            "progressive": bool(dec.info.get("progressive", 0)),
            "orientation": dec.getexif().get(0x0112),
            "sha256_rgb": hashlib.sha256(rgb.tobytes()).hexdigest(),
        }
        if entry["orientation"]:
            t = ImageOps.exif_transpose(dec).convert("RGB")
            entry["sha256_transposed_rgb"] = hashlib.sha256(t.tobytes()).hexdigest()
            entry["transposed_size"] = [t.width, t.height]
        manifest["cases"].append(entry)
    # The repo's sample photos and the model fixture photo: Pillow's RGB as a hash.
    root = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
    samples = []
    for rel in ["samples/authentic-dev-000.jpg", "samples/synthetic-dev-032.jpg", "samples/tampered-dev-033.jpg",
                "model/fixtures/qwen25vl/images/photo.jpg"]:
        im = Image.open(os.path.join(root, rel)).convert("RGB")
        samples.append({"path": rel, "width": im.width, "height": im.height,
                        "sha256_rgb": hashlib.sha256(im.tobytes()).hexdigest()})
    manifest["samples"] = samples
    with open(os.path.join(HERE, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases, {len(samples)} samples; Pillow {manifest['pillow']}, libjpeg-turbo {manifest['libjpeg_turbo']}")


if __name__ == "__main__":
    main()
