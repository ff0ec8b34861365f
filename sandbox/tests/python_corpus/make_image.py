#!/usr/bin/env python3
"""Write the deterministic test images the PVR snippet corpus runs against.

    python make_image.py [--out DIR]

Writes into DIR (default: this file's directory):

* ``test_image.jpg`` -- 640x480 RGB JPEG, quality 90 (the primary image).
* ``test_image2.png`` -- 483x321 RGB PNG (the secondary image). Its width is odd on
  purpose: PyVision's "find the difference" snippet splits the image in two halves
  and fails with a broadcasting ValueError on odd widths, as it did originally.

Only Pillow drawing primitives are used, with fixed coordinates and no randomness,
so the pixels are the same on every run with a given Pillow/libjpeg build.
The picture has structure the corpus snippets look for: a vertical colour
gradient, a light/dark "road" band, an orange and a blue disc (PyVision's
Ebbinghaus / touching-circles snippets threshold on these colours), a red and a
green bar chart, thin black grid lines, a yellow sign with black text, and a
magenta square.
"""
import argparse
import os

from PIL import Image, ImageDraw


def draw_scene(width, height):
    img = Image.new("RGB", (width, height))
    px = ImageDraw.Draw(img)
    # vertical gradient background (sky blue -> sand)
    for y in range(height):
        t = y / max(1, height - 1)
        r = int(120 + 110 * t)
        g = int(170 + 40 * t)
        b = int(230 - 120 * t)
        px.line([(0, y), (width - 1, y)], fill=(r, g, b))
    s = width / 640.0
    # dark road band with a dashed white centre line
    px.rectangle([0, int(330 * s), width - 1, int(390 * s)], fill=(70, 70, 75))
    for x in range(0, width, int(40 * s) or 1):
        px.rectangle([x, int(357 * s), x + int(20 * s), int(362 * s)], fill=(245, 245, 245))
    # thin black grid lines in the upper-left quadrant
    for i in range(6):
        x = int((20 + 30 * i) * s)
        y = int((20 + 30 * i) * s)
        px.line([(x, int(20 * s)), (x, int(170 * s))], fill=(0, 0, 0), width=1)
        px.line([(int(20 * s), y), (int(170 * s), y)], fill=(0, 0, 0), width=1)
    # orange disc (left, small) and blue disc (right, large)
    px.ellipse([int(210 * s), int(60 * s), int(270 * s), int(120 * s)], fill=(230, 81, 22))
    px.ellipse([int(420 * s), int(40 * s), int(560 * s), int(180 * s)], fill=(53, 118, 246))
    px.ellipse([int(470 * s), int(90 * s), int(510 * s), int(130 * s)], fill=(230, 81, 22))
    # bar chart (red and green bars on white panel)
    px.rectangle([int(40 * s), int(200 * s), int(300 * s), int(320 * s)], fill=(255, 255, 255), outline=(0, 0, 0))
    heights = [40, 90, 60, 100, 75]
    for i, hgt in enumerate(heights):
        x0 = int((55 + 48 * i) * s)
        colour = (200, 30, 30) if i % 2 == 0 else (30, 160, 60)
        px.rectangle([x0, int((315 - hgt) * s), x0 + int(30 * s), int(315 * s)], fill=colour)
    # yellow sign with text
    px.rectangle([int(360 * s), int(220 * s), int(600 * s), int(300 * s)], fill=(250, 220, 40), outline=(0, 0, 0), width=3)
    px.text((int(375 * s), int(235 * s)), "N MICHIGAN AV 100 E", fill=(0, 0, 0))
    px.text((int(375 * s), int(265 * s)), "206 441 5000", fill=(0, 0, 0))
    # magenta square near the bottom
    px.rectangle([int(520 * s), int(400 * s), int(600 * s), int(470 * s)], fill=(250, 50, 250))
    # a diagonal line
    px.line([(int(20 * s), height - 10), (int(330 * s), int(410 * s))], fill=(20, 20, 20), width=3)
    return img


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    primary = draw_scene(640, 480)
    primary.save(os.path.join(args.out, "test_image.jpg"), "JPEG", quality=90)
    secondary = draw_scene(483, 321)
    secondary.save(os.path.join(args.out, "test_image2.png"), "PNG")
    print(os.path.join(args.out, "test_image.jpg"))
    print(os.path.join(args.out, "test_image2.png"))


if __name__ == "__main__":
    main()
