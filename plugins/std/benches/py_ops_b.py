#!/usr/bin/env python3
"""Python counterparts of the Rust operators sobel, laplacian, jpeg_ghost,
median_traces, local_correlation, ela and jpeg_quality, written the usual way
(NumPy / SciPy / OpenCV, Pillow for JPEG re-encoding as Forensically-style tools do).

Each function takes an HxWx3 uint8 RGB array (and the JPEG file bytes where the
operator needs them) and returns the operator's heat-map as a float32 array, so the
benchmark can time like against like. Requires numpy, opencv-python-headless, scipy
and pillow.
"""
import io

import cv2
import numpy as np
from PIL import Image, JpegImagePlugin

BLOCK = 16
GHOST_QUALITIES = (50, 55, 60, 65, 70, 75, 80, 85, 90, 95)
_BT601 = np.array([0.299, 0.587, 0.114], dtype=np.float32)

IJG_LUMA = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
    14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], dtype=np.int64)
IJG_CHROMA = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
    47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32, dtype=np.int64)


# ---------------------------------------------------------------- helpers
def _luma(rgb):
    return rgb.astype(np.float32) @ _BT601


def _block_means(m, block=BLOCK):
    bh, bw = m.shape[0] // block, m.shape[1] // block
    return m[: bh * block, : bw * block].reshape(bh, block, bw, block).mean(axis=(1, 3))


def _robust_sigma(dev, floor):
    """trutheye's robust_sigma: 1.4826 MAD, or (MAD 0) the modified z-score's 1.253314 MeanAD."""
    sigma = 1.4826 * np.median(dev)
    if not sigma > floor:
        sigma = max(1.253314 * float(np.mean(dev, dtype=np.float64)), floor)
    return sigma


def _robust_z(v):
    med = np.median(v)
    sigma = _robust_sigma(np.abs(v - med), 1e-6 * max(abs(med), 1.0))
    return ((v - med) / sigma).astype(np.float32)


def _subsampling(jpeg_bytes):
    """Pillow's `subsampling` argument matching the source file (0=4:4:4, 1=4:2:2, 2=4:2:0)."""
    if jpeg_bytes is None:
        return 2
    s = JpegImagePlugin.get_sampling(Image.open(io.BytesIO(jpeg_bytes)))
    return 2 if s == -1 else s


def _recompress(rgb, quality, subsampling):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality, subsampling=subsampling)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("RGB"))


# ---------------------------------------------------------------- operators
def sobel(rgb):
    y = _luma(rgb)
    gx = cv2.Sobel(y, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(y, cv2.CV_32F, 0, 1, ksize=3)
    mag = cv2.magnitude(gx, gy)
    return _robust_z(np.log1p(_block_means(mag)))


def laplacian(rgb, ksize=1):
    lap = np.abs(cv2.Laplacian(_luma(rgb), cv2.CV_32F, ksize=ksize))
    return np.abs(_robust_z(np.log1p(_block_means(lap))))


def jpeg_ghost(rgb, jpeg_bytes=None, qualities=GHOST_QUALITIES, eps=1.0, sigma_floor=0.1):
    ss = _subsampling(jpeg_bytes)
    if jpeg_bytes is not None:  # search below the file's own quality, as the Rust side does
        below = [q for q in qualities if q < _ijg_quality(jpeg_bytes)]
        if len(below) >= 2:
            qualities = below
    src = rgb.astype(np.float32)
    curves = []
    for q in qualities:
        d = ((src - _recompress(rgb, q, ss)) ** 2).mean(axis=2)
        bm = _block_means(d)
        curves.append(np.log((bm + eps) / (np.median(bm) + eps)))
    curves = np.stack(curves)
    dip = np.median(curves, axis=0) - curves.min(axis=0)
    med = np.median(dip)
    sigma = max(_robust_sigma(np.abs(dip - med), 1e-6 * max(abs(med), 1.0)), sigma_floor)
    return ((dip - med) / sigma).astype(np.float32)


def median_traces(rgb):
    y = np.rint(_luma(rgb)).astype(np.uint8)
    med = cv2.medianBlur(y, 3)  # OpenCV replicates the border; the Rust side mirrors it
    yf = y.astype(np.float32)
    mfr = np.abs(med.astype(np.float32) - yf)
    dx = np.abs(np.diff(yf, axis=1))
    dy = np.abs(np.diff(yf, axis=0))
    act = np.zeros_like(yf)
    cnt = np.zeros_like(yf)
    act[:, :-1] += dx
    cnt[:, :-1] += 1
    act[:-1, :] += dy
    cnt[:-1, :] += 1
    activity = _block_means(act) / np.maximum(_block_means(cnt), 1e-9)
    sig = -np.log((_block_means(mfr) + 0.5) / (activity + 0.5))
    return _robust_z(sig)


def local_correlation(rgb):
    r = cv2.Laplacian(_luma(rgb), cv2.CV_32F, ksize=1).astype(np.float64)
    bh, bw = r.shape[0] // BLOCK, r.shape[1] // BLOCK
    t = r[: bh * BLOCK, : bw * BLOCK].reshape(bh, BLOCK, bw, BLOCK)

    def corr(a, b):
        a = a - a.mean(axis=(1, 3), keepdims=True)
        b = b - b.mean(axis=(1, 3), keepdims=True)
        num = (a * b).mean(axis=(1, 3))
        den = np.sqrt((a * a).mean(axis=(1, 3)) * (b * b).mean(axis=(1, 3)))
        out = np.zeros_like(num)
        ok = den >= 1e-6
        out[ok] = np.clip(num[ok] / den[ok], -1, 1)
        return out

    c = 0.5 * (corr(t[:, :, :, :-1], t[:, :, :, 1:]) + corr(t[:, :-1, :, :], t[:, 1:, :, :]))
    return _robust_z(c.astype(np.float32))


def ela(rgb, jpeg_bytes=None, quality=90, scale=15):
    re = _recompress(rgb, quality, _subsampling(jpeg_bytes))
    diff = np.abs(rgb.astype(np.int16) - re.astype(np.int16))
    _visual = np.clip(diff * scale, 0, 255).astype(np.uint8)  # what Forensically shows
    err = diff.mean(axis=2, dtype=np.float32)
    return np.abs(_robust_z(_block_means(err)))


_QS = np.arange(1, 101)
_SCALE = np.where(_QS < 50, 5000 // _QS, 200 - 2 * _QS)[:, None]


def _estimate(table, base):
    """Closest IJG quality (ties -> higher quality, like the Rust side) and mean |diff|."""
    cand = np.clip((base[None, :] * _SCALE + 50) // 100, 1, 255)
    mad = np.abs(cand - np.asarray(table, dtype=np.int64)[None, :]).mean(axis=1)
    i = len(_QS) - 1 - np.argmin(mad[::-1])
    return int(_QS[i]), float(mad[i])


def _ijg_quality(jpeg_bytes):
    return _estimate(Image.open(io.BytesIO(jpeg_bytes)).quantization[0], IJG_LUMA)[0]


def jpeg_quality(jpeg_bytes):
    im = Image.open(io.BytesIO(jpeg_bytes))
    if im.format != "JPEG":
        raise ValueError("jpeg_quality needs a JPEG file")
    tables = im.quantization  # Pillow returns them in natural (row-major) order
    luma = np.array(tables[0], dtype=np.int64)
    _quality = _estimate(luma, IJG_LUMA)
    if 1 in tables:
        _chroma_quality = _estimate(tables[1], IJG_CHROMA)
    return luma.reshape(8, 8).astype(np.float32)


if __name__ == "__main__":
    import time

    rng = np.random.default_rng(0)
    h, w = 768, 1024
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 40 * np.sin(xx / 5.0) + 30 * np.cos(yy / 7.0)
    rgb = np.clip(base[..., None] + rng.uniform(-25, 25, (h, w, 3)), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    jb = buf.getvalue()
    rgb = np.asarray(Image.open(io.BytesIO(jb)).convert("RGB"))
    for name, fn in [("sobel", lambda: sobel(rgb)), ("laplacian", lambda: laplacian(rgb)),
                     ("jpeg_ghost", lambda: jpeg_ghost(rgb, jb)), ("median_traces", lambda: median_traces(rgb)),
                     ("local_correlation", lambda: local_correlation(rgb)), ("ela", lambda: ela(rgb, jb)),
                     ("jpeg_quality", lambda: jpeg_quality(jb))]:
        t = time.perf_counter()
        out = fn()
        print(f"{name:18s} {1e3 * (time.perf_counter() - t):8.1f} ms  heatmap {out.shape} max {out.max():.2f}")
